/**
 * `ataru doctor`'s checks: can this machine serve apps, and build them?
 * Each check gives one pass/fail (or warn) line and, when not passing, the
 * fix. Only the checks marked `serve` decide the exit status: a machine
 * without gcc can still serve apps built elsewhere.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { kvmProbe, kvmStatus } from '../runtime/kvm.js';
import { addonPath, runtimeElfPath } from '../runtime/paths.js';

export type CheckState = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  /** Stable id, for scripts (--json). */
  id: string;
  title: string;
  state: CheckState;
  /** What was found. */
  detail: string;
  /** What to do about it (absent on pass). */
  fix?: string;
  /** A failure here means the machine cannot serve apps. */
  serve: boolean;
}

export interface DoctorOptions {
  dataDir: string;
  host: string;
  /** Ports `ataru serve` would open; null: disabled. */
  ports: { name: string; port: number | null }[];
}

function result(id: string, title: string, serve: boolean, state: CheckState, detail: string, fix?: string): CheckResult {
  return { id, title, serve, state, detail, ...(state === 'pass' ? {} : { fix }) };
}

function nodeVersion(): CheckResult {
  const major = Number(process.versions.node.split('.')[0]);
  return major >= 20
    ? result('node', 'Node.js ≥ 20', true, 'pass', `node ${process.versions.node}`)
    : result('node', 'Node.js ≥ 20', true, 'fail', `node ${process.versions.node}`, 'install Node.js 20 or later');
}

function platform(): CheckResult {
  const ok = process.platform === 'linux' && process.arch === 'x64';
  return result('platform', 'Linux x86-64', true, ok ? 'pass' : 'fail', `${process.platform} ${process.arch}`, 'Ataru runs functions in KVM on Linux x86-64 only');
}

function kvmDevice(): CheckResult {
  const s = kvmStatus();
  if (s.usable) return result('kvm-device', '/dev/kvm present and read-write', true, 'pass', s.emulated ? '/dev/kvm is usable (emulated KVM machine: timings mean nothing)' : '/dev/kvm is usable');
  return result('kvm-device', '/dev/kvm present and read-write', true, 'fail', `${s.code}`, s.message);
}

/** Both KVM checks that need the addon: the API version, then each capability. */
function kvmApi(): CheckResult[] {
  if (!existsSync(addonPath)) {
    return [result('addon', 'native core built', true, 'fail', `${addonPath} is missing`, 'build it: npm run build:native (needs gcc, g++, make, python3)')];
  }
  let p;
  try {
    p = kvmProbe();
  } catch (e) {
    return [result('addon', 'native core built', true, 'fail', (e as Error).message, 'rebuild it: npm run build:native')];
  }
  const out = [result('addon', 'native core built', true, 'pass', addonPath)];
  if (p.openErrno !== 0) return out; // kvm-device already says why
  out.push(
    p.apiVersion === p.apiExpected
      ? result('kvm-api', 'KVM API version', true, 'pass', `${p.apiVersion}`)
      : result('kvm-api', 'KVM API version', true, 'fail', `${p.apiVersion}, the core needs ${p.apiExpected}`, 'use a Linux kernel with the stable KVM API (2.6.22 or later)'),
  );
  const missing = p.caps.filter((c) => c.value <= 0);
  const required = missing.filter((c) => c.required);
  const optional = missing.filter((c) => !c.required);
  const present = p.caps.filter((c) => c.value > 0).map((c) => c.name.replace('KVM_CAP_', ''));
  if (required.length) {
    out.push(result('kvm-caps', 'KVM capabilities the core needs', true, 'fail', `missing ${required.map((c) => c.name).join(', ')}`, 'use a newer kernel (5.x or later) or a hypervisor that exposes them'));
  } else {
    out.push(result('kvm-caps', 'KVM capabilities the core needs', true, 'pass', present.join(' ')));
  }
  if (optional.length) {
    out.push(
      result(
        'kvm-optional',
        'optional KVM capabilities',
        false,
        'warn',
        `missing ${optional.map((c) => c.name).join(', ')}`,
        'none needed: the core falls back (slower reset, or a calibrated TSC rate)',
      ),
    );
  }
  if (p.cpu) {
    const on = (['smep', 'smap', 'umip'] as const).filter((k) => p.cpu![k]).map((k) => k.toUpperCase());
    const off = (['smep', 'smap', 'umip'] as const).filter((k) => !p.cpu![k]).map((k) => k.toUpperCase());
    out.push(
      off.length
        ? result('guest-cpu', 'guest CPU protections', false, 'warn', `on: ${on.join(' ') || 'none'}; not offered by this CPU: ${off.join(' ')}`, 'none needed: the fault stubs never touch user pages; see docs/cpu.md for what a function can learn')
        : result('guest-cpu', 'guest CPU protections', false, 'pass', `${on.join(' ')}; filtered CPUID ("${p.cpu.brand}")`),
    );
  }
  return out;
}

function runtimeImage(): CheckResult {
  return existsSync(runtimeElfPath)
    ? result('runtime', 'in-VM runtime built', true, 'pass', runtimeElfPath)
    : result('runtime', 'in-VM runtime built', true, 'fail', `${runtimeElfPath} is missing`, 'build it: make -C guest (npm install does it)');
}

function tool(cmd: string, why: string): CheckResult {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    return result(cmd, `${cmd} (${why})`, false, 'fail', r.error ? (r.error as NodeJS.ErrnoException).code ?? r.error.message : `exit ${r.status}`, `install it: apt-get install ${cmd === 'gcc' ? 'gcc' : 'make'}`);
  }
  return result(cmd, `${cmd} (${why})`, false, 'pass', r.stdout.split('\n')[0] ?? '');
}

/** The data dir, or the nearest folder above it that exists, must be writable. */
function dataDir(dir: string): CheckResult {
  let probe = dir;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  if (!statSync(probe).isDirectory()) {
    return result('data-dir', 'data dir writable', true, 'fail', `${probe} is not a folder`, 'choose another with --data-dir');
  }
  try {
    accessSync(probe, constants.W_OK | constants.X_OK);
    return result('data-dir', 'data dir writable', true, 'pass', probe === dir ? dir : `${dir} (will be created in ${probe})`);
  } catch (e) {
    return result('data-dir', 'data dir writable', true, 'fail', `${probe}: ${(e as NodeJS.ErrnoException).code}`, `choose another with --data-dir, or make ${probe} writable for this user`);
  }
}

/** Binds the port and lets it go: the one honest "is it free" test. */
function portFree(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

async function ports(host: string, list: DoctorOptions['ports']): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const { name, port } of list) {
    if (port === null || port === 0) continue;
    const err = await portFree(host, port);
    const title = `${name} ${host}:${port} free`;
    if (!err) out.push(result(`port-${port}`, title, true, 'pass', 'free'));
    else if (err === 'EADDRINUSE') {
      out.push(result(`port-${port}`, title, true, 'fail', 'in use', `stop what listens there (ss -ltnp 'sport = :${port}'), or pick another port (ataru serve --${name.replace(' ', '-')} N); an ataru server already running there is fine for the client verbs`));
    } else out.push(result(`port-${port}`, title, true, 'fail', err, `check --host ${host}: it must be an address of this machine`));
  }
  return out;
}

/** CAP_NET_RAW (bit 13 of CapEff): raw AF_PACKET apps (conn_type raw) need it. */
function netRaw(): CheckResult {
  let eff = 0n;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) eff = BigInt(`0x${m[1]}`);
  } catch {
    // not Linux: the platform check fails already
  }
  const has = (eff >> 13n) & 1n;
  return has
    ? result('cap-net-raw', 'CAP_NET_RAW (raw-socket apps)', false, 'pass', 'present')
    : result('cap-net-raw', 'CAP_NET_RAW (raw-socket apps)', false, 'warn', 'absent: TCP apps are unaffected', `only for conn_type raw: run as root or setcap cap_net_raw+ep ${process.execPath}`);
}

export async function runChecks(o: DoctorOptions): Promise<CheckResult[]> {
  return [
    platform(),
    nodeVersion(),
    kvmDevice(),
    ...kvmApi(),
    runtimeImage(),
    tool('gcc', 'for ataru build'),
    tool('make', 'for ataru build'),
    dataDir(o.dataDir),
    ...(await ports(o.host, o.ports)),
    netRaw(),
  ];
}

/** The machine can serve when no serve check failed. */
export function canServe(results: CheckResult[]): boolean {
  return !results.some((r) => r.serve && r.state === 'fail');
}
