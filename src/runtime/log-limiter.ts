/**
 * Per-app rate limit for function log lines: a token bucket. A function that
 * logs in a loop costs one VM exit per line and must not flood the host log;
 * lines over the budget are counted and reported as one "N lines dropped"
 * line when logging is allowed again (or when the app closes). The core
 * limits each instance the same way before anything is queued
 * (ATARU_LOG_RATE); its drops are added to these.
 */

export interface LogLine {
  app: string;
  node: number;
  requestId: number;
  message: string;
}

export class LogLimiter {
  private tokens: number;
  private last = performance.now();
  private dropped = 0;

  constructor(
    private readonly sink: (line: LogLine) => void,
    private readonly perSecond = 100,
    private readonly burst = 200,
  ) {
    this.tokens = burst;
  }

  /** One line (message undefined: none) after `droppedBefore` lines the
   * core's own limit dropped (counted with ours). */
  offer(at: Omit<LogLine, 'message'>, message: string | undefined, droppedBefore = 0): void {
    this.dropped += droppedBefore;
    if (message === undefined) return;
    const line: LogLine = { ...at, message };
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) {
      this.dropped++;
      return;
    }
    this.tokens -= 1;
    this.flush(line);
    this.emit(line);
  }

  /** Reports lines dropped so far (at close). */
  flush(at: Omit<LogLine, 'message'>): void {
    if (this.dropped === 0) return;
    const n = this.dropped;
    this.dropped = 0;
    this.emit({ app: at.app, node: at.node, requestId: at.requestId, message: `${n} log lines dropped (rate limit)` });
  }

  private emit(line: LogLine): void {
    try {
      this.sink(line);
    } catch {
      // A failing log consumer must not break the request path.
    }
  }
}
