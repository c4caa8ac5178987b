/**
 * A child process for the in-process peers (Node vm, WebAssembly):
 *   loop   SYSTEM WORKLOAD MS [WASM]     back-to-back requests for MS ms
 *   memory SYSTEM WORKLOAD COUNT [WASM]  RSS growth per live instance
 * prints one JSON line. Two loop children on two cores give concurrency 2;
 * memory is measured in a fresh process so the harness's own heap does not
 * blur it (run with --expose-gc).
 */
import vm from 'node:vm';
import { workloads, type WorkloadId } from '../workloads.js';
import { vmOp, wasmModule, wasmOp, wasmRequest } from './inproc-ops.js';

const [mode, system, workloadId, arg, wasmPath] = process.argv.slice(2);
const w = workloads([workloadId as WorkloadId])[0]!;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

if (mode === 'loop') {
  const op = system === 'wasm' ? wasmOp(wasmModule(wasmPath!), w.input) : vmOp(w.js, w.input);
  for (let i = 0; i < 20; i++) op(); // warm the JIT as the parent's loop is
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(Number(arg) * 1e6));
  let calls = 0;
  let t = start;
  while (t < deadline) {
    op();
    calls++;
    t = process.hrtime.bigint();
  }
  console.log(JSON.stringify({ calls, elapsedMs: Number(t - start) / 1e6 }));
} else if (mode === 'memory') {
  const count = Number(arg);
  const keep: unknown[] = [];
  const mod = system === 'wasm' ? wasmModule(wasmPath!) : undefined;
  const script = new vm.Script(`${w.js}(input)`);
  const one = () => {
    if (mod) return wasmRequest(mod, w.input).instance;
    const ctx = vm.createContext({ input: w.input });
    script.runInContext(ctx);
    return ctx;
  };
  for (let i = 0; i < 5; i++) one();
  gc();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < count; i++) keep.push(one());
  gc();
  const after = process.memoryUsage().rss;
  console.log(JSON.stringify({ bytesPerInstance: (after - before) / count, live: keep.length }));
} else {
  console.error('usage: inproc-child.ts loop|memory SYSTEM WORKLOAD MS|COUNT [WASM]');
  process.exit(2);
}
