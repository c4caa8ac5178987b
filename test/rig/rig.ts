/**
 * Shared by the rig tests: builds the static C driver and probe
 * (native/test/), runs them here or in the hardware-style KVM rig
 * (scripts/rig/run.sh), and parses the driver's `ok NAME` / `FAIL NAME: why`
 * lines and its closing `N passed, N failed`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const driverPath = join(root, 'native/test/build/driver');
export const probePath = join(root, 'native/test/build/kvm_probe');
/* Relative to the repo root: the same paths inside the rig (run.sh -f). */
export const runtimeRel = 'guest/runtime.elf';
export const fixturesRel = 'test/fixtures/functions/build';
export const driverFunctionsRel = 'native/test/build/functions';
export const driverArgs = ['--runtime', runtimeRel, '--fixtures', fixturesRel, '--functions', driverFunctionsRel];

/**
 * Environment that the core reads in the rig only: QEMU-TCG checks CPL3
 * port I/O against the TSS bitmap only when the cached TR type is 9
 * (docs/platform-differences.md).
 */
export const rigCoreEnv = ['ATARU_GUEST_TSS_TYPE=9', 'ATARU_GUEST_CR4_OFF=smap,smep'];

/** Builds what the driver needs (guest runtime, fixtures, core, driver). */
export function buildDriver(): void {
  const make = (dir: string, ...targets: string[]) =>
    execFileSync('make', ['-s', '-C', join(root, dir), ...targets], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (!existsSync(join(root, runtimeRel))) make('guest');
  if (!existsSync(join(root, fixturesRel, 'uppercase.elf'))) {
    make('sdk');
    make('test/fixtures/functions');
  }
  make('native/test', 'all');
}

/** The driver's case names (driver --list). */
export function driverCases(): string[] {
  return execFileSync(driverPath, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

export interface DriverReport {
  results: Map<string, { ok: boolean; why?: string }>;
  passed: number;
  failed: number;
  summary: boolean;
  output: string;
}

export function parseDriver(output: string): DriverReport {
  const results = new Map<string, { ok: boolean; why?: string }>();
  let passed = -1;
  let failed = -1;
  for (const line of output.split('\n')) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^ok (\S+)/))) results.set(m[1], { ok: true });
    else if ((m = line.match(/^FAIL (\S+): (.*)$/))) results.set(m[1], { ok: false, why: m[2] });
    else if ((m = line.match(/^(\d+) passed, (\d+) failed$/))) {
      passed = Number(m[1]);
      failed = Number(m[2]);
    }
  }
  return { results, passed, failed, summary: passed >= 0, output };
}

export interface RunResult {
  status: number | null;
  output: string;
  ms: number;
}

/** Runs a static binary on this machine, from the repo root. */
export function runHere(bin: string, args: string[], timeoutMs: number): RunResult {
  const t0 = Date.now();
  const r = spawnSync(bin, args, { cwd: root, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, ms: Date.now() - t0 };
}

/** Runs a static binary in the rig with the runtime and fixtures inside. */
export function runInRig(bin: string, args: string[], timeoutMs: number, env: string[] = []): RunResult {
  const t0 = Date.now();
  const runArgs = ['scripts/rig/run.sh', '-f', runtimeRel, '-f', fixturesRel, '-f', driverFunctionsRel];
  for (const e of env) runArgs.push('-e', e);
  runArgs.push(bin, ...args);
  const r = spawnSync('bash', runArgs, {
    cwd: root,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, ATARU_RIG_TIMEOUT: String(Math.floor(timeoutMs / 1000) - 5) },
  });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, ms: Date.now() - t0 };
}

/** Sets up the rig (cached after the first time). Null when ready, else why not. */
export function setupRig(): string | null {
  try {
    execFileSync('bash', [join(root, 'scripts/rig/setup.sh')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10 * 60 * 1000,
    });
    return null;
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return `scripts/rig/setup.sh failed: ${err.stderr?.toString().trim().split('\n').slice(-3).join(' ') || err.message}`;
  }
}

/** `probe NAME: observation` lines of kvm_probe. */
export function parseProbe(output: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of output.split('\n')) {
    const r = line.match(/^probe (\S+): (.*)$/);
    if (r) m.set(r[1], r[2]);
  }
  return m;
}
