/**
 * Shared helpers of the benchmarks, and their one convention:
 *
 *   A bench module is a file bench/<area>/<name>.bench.ts (area: core,
 *   server, sobel, cluster) exporting `run(ctx: BenchContext): Promise<void>`. It
 *   measures its baseline in the same run (machines here are noisy: only
 *   ratios within one run mean anything), prints one table with
 *   printTable(), and stays within ctx.budgetMs. bench/run.ts runs each
 *   module in its own process and kills it past the budget.
 */
import { percentile } from '../src/client/load.js';

/** The one percentile definition (shared with `ataru send`). */
export { percentile };

export interface BenchContext {
  /** Wall-clock budget of this module, ms. */
  budgetMs: number;
  /** Returns true once the module used `fraction` of its budget. */
  overBudget(fraction?: number): boolean;
}

export type BenchModule = { run(ctx: BenchContext): Promise<void> };

export function makeContext(budgetMs: number): BenchContext {
  const t0 = performance.now();
  return { budgetMs, overBudget: (fraction = 1) => performance.now() - t0 > budgetMs * fraction };
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

/** Runs fn n times (or until maxMs), returning each run's wall time in ns. */
export async function timeEach(fn: () => Promise<unknown>, n: number, maxMs = Infinity): Promise<number[]> {
  const out: number[] = [];
  const stop = performance.now() + maxMs;
  for (let i = 0; i < n && performance.now() < stop; i++) {
    const t = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t));
  }
  return out;
}

export const fmtUs = (ns: number): string => (Number.isFinite(ns) ? `${(ns / 1000).toFixed(1)} µs` : '—');
export const fmtKiB = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
export const fmtRatio = (r: number): string => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '—');

/** Prints an aligned text table. */
export function printTable(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  const out = [`\n${title}`, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  process.stdout.write(out.join('\n') + '\n');
}
