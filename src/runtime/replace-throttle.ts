/**
 * How an app replaces instances the core took out of service (a failed
 * memory reset, a wedged VM): rebuilding one costs a VM, so a function or a
 * host fault that breaks every instance it touches must not turn the pool
 * into a create/destroy loop, nor the log into one warning per request.
 *
 * The first replacement in a quiet period is immediate; each further one
 * within `intervalMs` of the last waits twice as long (from `firstDelayMs`
 * up to `maxDelayMs`). One warning per app per interval, carrying how many
 * replacements went unreported since the previous one.
 */
export interface ReplaceDecision {
  /** Wait this long before building the replacement. */
  delayMs: number;
  /** Log a warning now (else the replacement is only counted). */
  report: boolean;
  /** Replacements since the last warning that were not logged. */
  unreported: number;
}

export class ReplaceThrottle {
  /** Every replacement so far (stats: instances.replaced). */
  replaced = 0;
  private streak = 0;
  private lastAt = -Infinity;
  private reportedAt = -Infinity;
  private unreported = 0;

  constructor(
    private readonly intervalMs = 10_000,
    private readonly firstDelayMs = 50,
    private readonly maxDelayMs = 5_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  next(): ReplaceDecision {
    const t = this.now();
    this.replaced++;
    this.streak = t - this.lastAt < this.intervalMs ? this.streak + 1 : 1;
    this.lastAt = t;
    const delayMs = this.streak === 1 ? 0 : Math.min(this.maxDelayMs, this.firstDelayMs * 2 ** (this.streak - 2));
    if (t - this.reportedAt >= this.intervalMs) {
      const unreported = this.unreported;
      this.unreported = 0;
      this.reportedAt = t;
      return { delayMs, report: true, unreported };
    }
    this.unreported++;
    return { delayMs, report: false, unreported: 0 };
  }
}
