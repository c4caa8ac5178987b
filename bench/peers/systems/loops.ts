/**
 * Generic measurement loops for a system whose request is an async call.
 */
import type { LatencySample } from './types.js';

export const nowNs = (): bigint => process.hrtime.bigint();
export const usSince = (t0: bigint): number => Number(nowNs() - t0) / 1000;

export async function latencyLoop(once: () => Promise<unknown>, maxCalls: number, maxMs: number): Promise<LatencySample> {
  const us: number[] = [];
  const start = nowNs();
  const deadline = start + BigInt(Math.round(maxMs * 1e6));
  let t = start;
  while (us.length < maxCalls && t < deadline) {
    await once();
    const t1 = nowNs();
    us.push(Number(t1 - t) / 1000);
    t = t1;
  }
  return { us, elapsedMs: Number(t - start) / 1e6 };
}

/** `concurrency` loops of back-to-back requests; completed requests / wall
 * time. `once` gets its loop's index (e.g. to use that loop's connection). */
export async function throughputLoop(
  once: (loop: number) => Promise<unknown>,
  concurrency: number,
  ms: number,
): Promise<number> {
  let done = 0;
  const start = nowNs();
  const deadline = start + BigInt(Math.round(ms * 1e6));
  let last = start;
  const loop = async (_: unknown, i: number) => {
    while (nowNs() < deadline) {
      await once(i);
      done++;
      last = nowNs();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const s = Number(last - start) / 1e9;
  return s > 0 ? done / s : NaN;
}

/** Synchronous variant (in-process peers, concurrency 1). */
export function latencyLoopSync(once: () => unknown, maxCalls: number, maxMs: number): LatencySample {
  const us: number[] = [];
  const start = nowNs();
  const deadline = start + BigInt(Math.round(maxMs * 1e6));
  let t = start;
  while (us.length < maxCalls && t < deadline) {
    once();
    const t1 = nowNs();
    us.push(Number(t1 - t) / 1000);
    t = t1;
  }
  return { us, elapsedMs: Number(t - start) / 1e6 };
}
