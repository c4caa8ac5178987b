/**
 * Streaming summary statistics in O(1) memory: count, min, mean, max,
 * standard deviation, skewness, kurtosis and total, with the one-pass
 * central-moment updates of Welford and Terriberry (numerically stable, no
 * stored samples). Used by AppStats and by the server's pktcnt line.
 *
 * Conventions: population moments — std = sqrt(M2/n), skewness =
 * sqrt(n)·M3/M2^1.5, kurtosis = n·M4/M2² − 3 (excess; 0 for a normal
 * distribution). Fewer than two samples, or no spread: std, skewness and
 * kurtosis are 0.
 */
import type { Summary } from './types.js';

export class StreamingStats {
  private n = 0;
  private mean = 0;
  private m2 = 0;
  private m3 = 0;
  private m4 = 0;
  private lo = Infinity;
  private hi = -Infinity;
  private sum = 0;

  add(x: number): void {
    const n1 = this.n;
    const n = ++this.n;
    const delta = x - this.mean;
    const dn = delta / n;
    const dn2 = dn * dn;
    const term1 = delta * dn * n1;
    this.mean += dn;
    this.m4 += term1 * dn2 * (n * n - 3 * n + 3) + 6 * dn2 * this.m2 - 4 * dn * this.m3;
    this.m3 += term1 * dn * (n - 2) - 3 * dn * this.m2;
    this.m2 += term1;
    if (x < this.lo) this.lo = x;
    if (x > this.hi) this.hi = x;
    this.sum += x;
  }

  get count(): number {
    return this.n;
  }

  summary(): Summary {
    const n = this.n;
    if (n === 0) return { count: 0, min: 0, mean: 0, max: 0, std: 0, skewness: 0, kurtosis: 0, total: 0 };
    const spread = n > 1 && this.m2 > 0;
    return {
      count: n,
      min: this.lo,
      mean: this.mean,
      max: this.hi,
      std: spread ? Math.sqrt(this.m2 / n) : 0,
      skewness: spread ? (Math.sqrt(n) * this.m3) / Math.pow(this.m2, 1.5) : 0,
      kurtosis: spread ? (n * this.m4) / (this.m2 * this.m2) - 3 : 0,
      total: this.sum,
    };
  }
}
