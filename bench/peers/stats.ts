/**
 * Order statistics for the peer benchmark. Linear interpolation between
 * closest ranks, so small samples still give a usable p99.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * (p / 100);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function sortedCopy(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** A figure as reported: the median over runs and the p25–p75 spread. */
export interface Figure {
  median: number;
  p25: number;
  p75: number;
  runs: number;
}

export function figure(runs: readonly number[]): Figure | undefined {
  const xs = sortedCopy(runs.filter((x) => Number.isFinite(x)));
  if (xs.length === 0) return undefined;
  return { median: percentile(xs, 50), p25: percentile(xs, 25), p75: percentile(xs, 75), runs: xs.length };
}
