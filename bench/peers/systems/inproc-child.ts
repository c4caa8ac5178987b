/**
 * A child process for the in-process peers (Node vm, WebAssembly):
 *   serve                             (forked, IPC) on {kind, workload,
 *                                     wasm, ms}: back-to-back requests for
 *                                     ms, replies {calls, elapsedMs}
 *   memory KIND WORKLOAD [WASM]       prints RSS growth per live instance
 * Two serving children on two cores give concurrency 2; they are started
 * once per run and serve every workload, so Node's start-up is paid once
 * and never timed. Memory is measured in a fresh process (with
 * --expose-gc) so the harness's heap does not blur it.
 */
import vm from 'node:vm';
import { expectOutput } from '../answer.js';
import { workloads, type WorkloadId } from '../workloads.js';
import { vmOp, wasmModule, wasmOp, wasmRequest } from './inproc-ops.js';

const [mode, kind, workloadId, wasmPath] = process.argv.slice(2);
const now = () => process.hrtime.bigint();

function loop(op: () => unknown, ms: number): { calls: number; elapsedMs: number } {
  const start = now();
  const deadline = start + BigInt(Math.round(ms * 1e6));
  let calls = 0;
  let t = start;
  while (t < deadline) {
    op();
    calls++;
    t = now();
  }
  return { calls, elapsedMs: Number(t - start) / 1e6 };
}

/** The request, with every reply checked as in the parent (a wrong one
 * fails the whole measurement there). */
function makeOp(k: string, id: string, wasm?: string): () => unknown {
  const w = workloads([id as WorkloadId])[0]!;
  const raw = k === 'wasm' ? wasmOp(wasmModule(wasm!), w.input) : vmOp(w.js, w.input);
  return () => expectOutput(k, w, raw());
}

interface Job {
  kind: string;
  workload: string;
  wasm?: string;
  ms: number;
}

if (mode === 'serve') {
  const ops = new Map<string, () => unknown>();
  process.on('message', (m: Job) => {
    const key = `${m.kind}/${m.workload}`;
    let op = ops.get(key);
    if (!op) {
      op = makeOp(m.kind, m.workload, m.wasm);
      loop(op, 100); // warm the JIT, as the parent's cell was warmed
      ops.set(key, op);
    }
    try {
      process.send!(loop(op, m.ms));
    } catch (e) {
      process.send!({ error: (e as Error).message });
    }
  });
  process.send!({ ready: true });
} else if (mode === 'memory') {
  const w = workloads([workloadId as WorkloadId])[0]!;
  const keep: unknown[] = [];
  const mod = kind === 'wasm' ? wasmModule(wasmPath!) : undefined;
  const script = new vm.Script(`${w.js}(input)`);
  const one = () => {
    if (mod) return wasmRequest(mod, w.input).instance;
    const ctx = vm.createContext({ input: w.input });
    script.runInContext(ctx);
    return ctx;
  };
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  for (let i = 0; i < 3; i++) one();
  gc();
  const before = process.memoryUsage().rss;
  const end = Date.now() + 1500; // at most 200 instances or 1.5 s
  while (keep.length < 200 && (keep.length < 5 || Date.now() < end)) keep.push(one());
  gc();
  const after = process.memoryUsage().rss;
  console.log(JSON.stringify({ bytesPerInstance: (after - before) / keep.length, live: keep.length }));
} else {
  console.error('usage: inproc-child.ts serve | memory KIND WORKLOAD [WASM]');
  process.exit(2);
}
