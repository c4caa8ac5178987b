/**
 * The two in-process peers: Node's `vm` (a new context per request, the
 * algorithm in JavaScript) and WebAssembly (a new instance per request from
 * a compiled module, the same C compiled to wasm32). Both run synchronously
 * on the harness's thread; concurrency 2 runs two child processes.
 */
import { execFile } from 'node:child_process';
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

async function child(args: string[], gc = false): Promise<Record<string, number>> {
  const flags = ['--import', 'tsx', ...(gc ? ['--expose-gc'] : []), childScript];
  const { stdout } = await exec(process.execPath, [...flags, ...args], { cwd: repoRoot, maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
}

type Kind = 'vm' | 'wasm';

function inprocCell(kind: Kind, w: Workload, b: BuildResult): Cell {
  const wasmPath = b.paths.wasm ?? '';
  const op = kind === 'wasm' ? wasmOp(wasmModule(wasmPath), w.input) : vmOp(w.js, w.input);
  const extra = kind === 'wasm' ? [wasmPath] : [];
  return {
    answer: async () => answerOf(op()),
    latency: async (n, ms) => latencyLoopSync(op, n, ms),
    async throughput(concurrency, ms) {
      if (concurrency === 1) {
        const s = latencyLoopSync(op, Number.MAX_SAFE_INTEGER, ms);
        return s.us.length / (s.elapsedMs / 1000);
      }
      const runs = await Promise.all(
        Array.from({ length: concurrency }, () => child(['loop', kind, w.id, String(Math.ceil(ms)), ...extra])),
      );
      return runs.reduce((s, r) => s + r.calls! / (r.elapsedMs! / 1000), 0);
    },
    async cold() {
      const t0 = nowNs();
      if (kind === 'wasm') wasmRequest(new WebAssembly.Module(wasmColdBytes(wasmPath)), w.input);
      else vmCold(w.js, w.input);
      return usSince(t0);
    },
    async memory() {
      return (await child(['memory', kind, w.id, '200', ...extra], true)).bytesPerInstance!;
    },
    async close() {},
  };
}

export const vmSystem: PeerSystem = {
  id: 'vm',
  label: 'Node vm, new context',
  note: 'the algorithm in JavaScript, vm.Script compiled once, vm.createContext per request; cold = compile + context + run; c=2 is two Node processes; memory = RSS growth per live context',
  targets: [],
  unavailable: () => undefined,
  open: async (w, b) => inprocCell('vm', w, b),
};

export const wasmSystem: PeerSystem = {
  id: 'wasm',
  label: 'WebAssembly, new instance',
  note: 'the same C compiled to wasm32 (clang), new WebAssembly.Instance per request from a compiled module; cold = compile + instantiate + run; c=2 is two Node processes; memory = RSS growth per live instance',
  targets: ['wasm'],
  unavailable: (_w, b) => b.errors.wasm,
  open: async (w, b) => inprocCell('wasm', w, b),
};
