/**
 * Ataru's memory per instance, measured like the in-process peers: in a
 * fresh process, the growth of RSS (less the V8 heap) when a pool of COUNT
 * VMs is loaded and each has served a request, divided by COUNT. (Kernel-side KVM memory —
 * vCPU state, shadow page tables — is in no process's RSS, for QEMU
 * neither.)
 *   ataru-memory.ts WORKLOAD STATE COUNT   prints one JSON line
 */
import type { StateMode } from '../../../src/app/model.js';
import { workloads, type WorkloadId } from '../workloads.js';
import { loadPeerApp } from './ataru.js';

process.env.ATARU_LOG_LEVEL ??= 'warn';
const [workloadId, state, countArg] = process.argv.slice(2);
const w = workloads([workloadId as WorkloadId])[0]!;
const count = Number(countArg);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** Memory outside V8's heap: the VMs live in native mappings, and the JS
 * heap's growing and shrinking would otherwise drown them. */
const native = () => {
  gc();
  const m = process.memoryUsage();
  return m.rss - m.heapTotal;
};

const warm = await loadPeerApp(w, state as StateMode, 1);
for (let i = 0; i < 5; i++) await warm.run(w.input);
// Three pools one after the other (each freed before the next): the median
// is robust against a stray allocation elsewhere in the process.
const samples: number[] = [];
let reported: number[] = [];
for (let i = 0; i < 3; i++) {
  const before = native();
  const pool = await loadPeerApp(w, state as StateMode, count);
  await Promise.all(Array.from({ length: count }, () => pool.run(w.input)));
  samples.push((native() - before) / count);
  reported = pool.stats().memory.map((m) => m.privateBytes);
  await pool.close();
}
samples.sort((a, b) => a - b);
console.log(JSON.stringify({ bytesPerInstance: samples[1], samples, reported }));
await warm.close();
