/**
 * Closed-loop load over data ports (reply: frames): `concurrency`
 * connections, each keeping up to `window` requests in flight, until `count`
 * requests are answered. Per-request latency is send -> reply.
 * Used by `ataru send` and bench/server.
 */
import { DataClient, type Reply } from './data-client.js';

export interface LoadOptions {
  host: string;
  port: number;
  input: Buffer;
  count: number;
  concurrency: number;
  /** Requests in flight per connection (1 = strict request/reply). */
  window: number;
  onReply?: (r: Reply, index: number) => void;
}

export interface LoadResult {
  count: number;
  elapsedNs: number;
  /** Sorted ascending. */
  latencyNs: Float64Array;
  /** Replies by status. */
  statuses: Map<number, number>;
}

/**
 * The p-th percentile (0..100) of samples, in any order: the sample at
 * index floor(p/100 · n) of the sorted samples; NaN when there are none.
 * The one definition behind `ataru send` and every benchmark.
 */
export function percentile(samples: ArrayLike<number>, p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const clients = await Promise.all(Array.from({ length: o.concurrency }, () => DataClient.connect(o.host, o.port)));
  const latency = new Float64Array(o.count);
  const statuses = new Map<number, number>();
  let issued = 0;
  let answered = 0;
  const t0 = process.hrtime.bigint();
  try {
    await Promise.all(
      clients.map(async (c) => {
        const lane = async () => {
          while (issued < o.count) {
            const i = issued++;
            const sent = process.hrtime.bigint();
            const r = await c.request(o.input);
            latency[answered++] = Number(process.hrtime.bigint() - sent);
            statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
            o.onReply?.(r, i);
          }
        };
        await Promise.all(Array.from({ length: o.window }, lane));
      }),
    );
  } finally {
    for (const c of clients) c.close();
  }
  const elapsedNs = Number(process.hrtime.bigint() - t0);
  return { count: answered, elapsedNs, latencyNs: latency.subarray(0, answered).sort(), statuses };
}
