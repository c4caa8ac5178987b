/**
 * Ataru's memory per instance, measured like the in-process peers: in a
 * fresh process, the growth of RSS when a pool of COUNT VMs is loaded and
 * each has served a request, divided by COUNT. (Kernel-side KVM memory —
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

const warm = await loadPeerApp(w, state as StateMode, 1);
for (let i = 0; i < 5; i++) await warm.run(w.input);
gc();
const before = process.memoryUsage().rss;
const pool = await loadPeerApp(w, state as StateMode, count);
await Promise.all(Array.from({ length: count }, () => pool.run(w.input)));
gc();
const after = process.memoryUsage().rss;
const reported = pool.stats().memory.map((m) => m.privateBytes);
console.log(JSON.stringify({ bytesPerInstance: (after - before) / count, reported }));
await pool.close();
await warm.close();
