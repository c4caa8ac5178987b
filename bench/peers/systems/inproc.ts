/**
 * The two in-process peers: Node's `vm` (a new context per request, the
 * algorithm in JavaScript) and WebAssembly (a new instance per request from
 * a compiled module, the same C compiled to wasm32). Both run synchronously
 * on the harness's thread; concurrency 2 runs two child processes.
 */
import { execFile, fork } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { answerOf, expectOutput } from '../answer.js';
import type { BuildResult } from '../build.js';
import { repoRoot } from '../paths.js';
import type { Workload } from '../workloads.js';
import { vmCold, vmOp, wasmColdBytes, wasmModule, wasmOp, wasmRequest } from './inproc-ops.js';
import { latencyLoopSync, nowNs, usSince } from './loops.js';
import type { Cell, PeerSystem } from './types.js';

const exec = promisify(execFile);
const childScript = fileURLToPath(new URL('./inproc-child.ts', import.meta.url));

async function memoryProbe(args: string[]): Promise<number> {
  const flags = ['--import', 'tsx', '--expose-gc', childScript];
  const { stdout } = await exec(process.execPath, [...flags, 'memory', ...args], { cwd: repoRoot, maxBuffer: 1 << 20 });
  return (JSON.parse(stdout.trim().split('\n').pop()!) as { bytesPerInstance: number }).bytesPerInstance;
}

/** A forked child that runs request loops on demand (concurrency > 1). */
interface Server {
  loop(job: { kind: Kind; workload: string; wasm?: string; ms: number }): Promise<{ calls: number; elapsedMs: number }>;
  kill(): void;
}

function startServer(): Promise<Server> {
  const child = fork(childScript, ['serve'], { cwd: repoRoot, execArgv: ['--import', 'tsx'], stdio: 'ignore' });
  let pending: { resolve: (m: { calls: number; elapsedMs: number }) => void; reject: (e: Error) => void } | undefined;
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const e = new Error(`inproc child exited (${code})`);
      reject(e);
      pending?.reject(e);
    });
    child.on('message', (m: { ready?: boolean; error?: string; calls: number; elapsedMs: number }) => {
      if (m.error) return pending?.reject(new Error(m.error));
      if (!m.ready) return pending?.resolve(m);
      resolve({
        loop: (job) =>
          new Promise((res, rej) => {
            pending = { resolve: res, reject: rej };
            child.send(job);
          }),
        kill: () => child.kill('SIGKILL'),
      });
    });
  });
}

/** Two children shared by every vm/wasm cell of the run; started when the
 * first cell opens (off the timed path), killed when the last one closes. */
const shared = { servers: undefined as Promise<Server[]> | undefined, users: 0 };

function acquireServers(): void {
  shared.users++;
  shared.servers ??= Promise.all([startServer(), startServer()]);
  shared.servers.catch(() => {});
}

async function releaseServers(): Promise<void> {
  if (--shared.users > 0 || !shared.servers) return;
  const servers = shared.servers;
  shared.servers = undefined;
  for (const s of await servers.catch(() => [])) s.kill();
}

type Kind = 'vm' | 'wasm';

function inprocCell(kind: Kind, w: Workload, b: BuildResult): Cell {
  const wasmPath = b.paths.wasm ?? '';
  const raw = kind === 'wasm' ? wasmOp(wasmModule(wasmPath), w.input) : vmOp(w.js, w.input);
  const label = kind === 'wasm' ? 'WebAssembly' : 'Node vm';
  const op = () => {
    const out = raw();
    expectOutput(label, w, out);
    return out;
  };
  const args = [kind, w.id, ...(kind === 'wasm' ? [wasmPath] : [])];
  acquireServers();
  return {
    answer: async () => answerOf(op()),
    latency: async (n, ms) => latencyLoopSync(op, n, ms),
    async throughput(concurrency, ms) {
      if (concurrency === 1) {
        const s = latencyLoopSync(op, Number.MAX_SAFE_INTEGER, ms);
        return s.us.length / (s.elapsedMs / 1000);
      }
      const servers = await shared.servers!;
      if (concurrency > servers.length) throw new Error(`at most ${servers.length} in-process loops`);
      const job = { kind, workload: w.id, wasm: wasmPath || undefined, ms };
      const runs = await Promise.all(servers.slice(0, concurrency).map((s) => s.loop(job)));
      return runs.reduce((sum, r) => sum + r.calls / (r.elapsedMs / 1000), 0);
    },
    async cold() {
      const t0 = nowNs();
      if (kind === 'wasm') wasmRequest(new WebAssembly.Module(wasmColdBytes(wasmPath)), w.input);
      else vmCold(w.js, w.input);
      return usSince(t0);
    },
    memory: () => memoryProbe(args),
    close: releaseServers,
  };
}

export const vmSystem: PeerSystem = {
  id: 'vm',
  label: 'Node vm, new context',
  note: 'the algorithm in JavaScript, vm.Script compiled once, vm.createContext per request; cold = compile + context + run; c=2 is two forked Node processes; memory = RSS growth per live context',
  targets: [],
  unavailable: () => undefined,
  open: async (w, b) => inprocCell('vm', w, b),
};

export const wasmSystem: PeerSystem = {
  id: 'wasm',
  label: 'WebAssembly, new instance',
  note: 'the same C compiled to wasm32 (clang -O2, SDK flags), new WebAssembly.Instance per request from a compiled module (its linear memory holds the same 2 MiB shared region); cold = compile + instantiate + run; c=2 is two forked Node processes; memory = RSS growth per live instance',
  targets: ['wasm'],
  unavailable: (_w, b) => b.errors.wasm,
  open: async (w, b) => inprocCell('wasm', w, b),
};
