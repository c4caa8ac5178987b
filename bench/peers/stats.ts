/**
 * Figures as the peer report gives them, on bench/lib.ts's percentile: the
 * median over runs and the p25–p75 spread across runs.
 */
import { percentile } from '../lib.js';

export { percentile };

export interface Figure {
  median: number;
  p25: number;
  p75: number;
  runs: number;
}

export function figure(runs: readonly number[]): Figure | undefined {
  const xs = runs.filter((x) => Number.isFinite(x));
  if (xs.length === 0) return undefined;
  return { median: percentile(xs, 50), p25: percentile(xs, 25), p75: percentile(xs, 75), runs: xs.length };
}
