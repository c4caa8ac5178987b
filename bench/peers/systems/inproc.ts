/**
 * The two in-process peers: Node's `vm` (a new context per request, the
 * algorithm in JavaScript) and WebAssembly (a new instance per request from
 * a compiled module, the same C compiled to wasm32). Both run synchronously
 * on the harness's thread; concurrency 2 runs two child processes.
 */
import { execFile, fork } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { answerOf } from '../answer.js';
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

/** A forked child that runs the request loop on demand (concurrency > 1). */
interface Server {
  loop(ms: number): Promise<{ calls: number; elapsedMs: number }>;
  kill(): void;
}

function startServer(args: string[]): Promise<Server> {
  const child = fork(childScript, ['serve', ...args], { cwd: repoRoot, execArgv: ['--import', 'tsx'], stdio: 'ignore' });
  let pending: ((m: { calls: number; elapsedMs: number }) => void) | undefined;
  let failed: ((e: Error) => void) | undefined;
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const e = new Error(`inproc child exited (${code})`);
      reject(e);
      failed?.(e);
    });
    child.on('message', (m: { ready?: boolean; calls: number; elapsedMs: number }) => {
      if (m.ready) {
        resolve({
          loop: (ms) =>
            new Promise((res, rej) => {
              pending = res;
              failed = rej;
              child.send({ ms });
            }),
          kill: () => child.kill('SIGKILL'),
        });
      } else {
        pending?.(m);
      }
    });
  });
}

type Kind = 'vm' | 'wasm';

function inprocCell(kind: Kind, w: Workload, b: BuildResult): Cell {
  const wasmPath = b.paths.wasm ?? '';
  const op = kind === 'wasm' ? wasmOp(wasmModule(wasmPath), w.input) : vmOp(w.js, w.input);
  const args = [kind, w.id, ...(kind === 'wasm' ? [wasmPath] : [])];
  const servers: Server[] = [];
  return {
    answer: async () => answerOf(op()),
    latency: async (n, ms) => latencyLoopSync(op, n, ms),
    async throughput(concurrency, ms) {
      if (concurrency === 1) {
        const s = latencyLoopSync(op, Number.MAX_SAFE_INTEGER, ms);
        return s.us.length / (s.elapsedMs / 1000);
      }
      while (servers.length < concurrency) servers.push(await startServer(args));
      const runs = await Promise.all(servers.slice(0, concurrency).map((s) => s.loop(ms)));
      return runs.reduce((sum, r) => sum + r.calls / (r.elapsedMs / 1000), 0);
    },
    async cold() {
      const t0 = nowNs();
      if (kind === 'wasm') wasmRequest(new WebAssembly.Module(wasmColdBytes(wasmPath)), w.input);
      else vmCold(w.js, w.input);
      return usSince(t0);
    },
    memory: () => memoryProbe(args),
    async close() {
      for (const s of servers) s.kill();
    },
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
  note: 'the same C compiled to wasm32 (clang), new WebAssembly.Instance per request from a compiled module; cold = compile + instantiate + run; c=2 is two forked Node processes; memory = RSS growth per live instance',
  targets: ['wasm'],
  unavailable: (_w, b) => b.errors.wasm,
  open: async (w, b) => inprocCell('wasm', w, b),
};
