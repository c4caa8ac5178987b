/**
 * An app's recent log: its functions' `ataru_log` lines, every failed
 * request (with the node and the error) and its deploys, in a bounded ring
 * kept by the server (GET /apps/:name/logs, `ataru logs`). Bounded both in
 * entries and in each message's length, so a chatty or failing function
 * costs the server a fixed amount of memory per app. Followers get each
 * entry as it is pushed.
 */

export type LogKind = 'log' | 'error' | 'event';

export interface LogEntry {
  /** Increases by one per entry of this app, from 1 (never reused, also after a redeploy). */
  seq: number;
  /** ISO time the server recorded it. */
  time: string;
  kind: LogKind;
  /** The DAG node (its index) that logged or failed, when known. */
  node?: number;
  /** That node's function file (kind "error"). */
  function?: string;
  /** The app-local request number, when known. */
  request?: number;
  /** The error code (kind "error"). */
  code?: string;
  /** Where the request came from (kind "error"): the data port or HTTP. */
  source?: string;
  message: string;
}

export interface LogFilter {
  node?: number;
  /** Entries recorded at or after this time (ms since the epoch). */
  sinceMs?: number;
}

/** Entries kept per app. */
export const LOG_RING_ENTRIES = 1000;
/** Longest message kept (characters); longer ones are cut and marked. */
export const LOG_MESSAGE_MAX = 4096;

type Follower = { filter: LogFilter; onEntry: (e: LogEntry) => void; onEnd: () => void };

export function matches(e: LogEntry, f: LogFilter): boolean {
  if (f.node !== undefined && e.node !== f.node) return false;
  if (f.sinceMs !== undefined && Date.parse(e.time) < f.sinceMs) return false;
  return true;
}

export class LogRing {
  private readonly entries: (LogEntry | undefined)[];
  private next = 0;
  private seq = 0;
  private readonly followers = new Set<Follower>();
  private closed = false;

  constructor(readonly capacity = LOG_RING_ENTRIES) {
    this.entries = new Array<LogEntry | undefined>(capacity);
  }

  push(e: Omit<LogEntry, 'seq' | 'time'>): void {
    if (this.closed) return;
    const message = e.message.length > LOG_MESSAGE_MAX ? `${e.message.slice(0, LOG_MESSAGE_MAX)}… (cut at ${LOG_MESSAGE_MAX} characters)` : e.message;
    const entry: LogEntry = { seq: ++this.seq, time: new Date().toISOString(), ...e, message };
    this.entries[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    for (const f of this.followers) if (matches(entry, f.filter)) f.onEntry(entry);
  }

  /** What the ring holds now, oldest first. */
  list(filter: LogFilter = {}): LogEntry[] {
    const out: LogEntry[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const e = this.entries[(this.next + i) % this.capacity];
      if (e && matches(e, filter)) out.push(e);
    }
    return out;
  }

  /** Calls onEntry for each new matching entry until the returned stop() or close(). */
  follow(filter: LogFilter, onEntry: (e: LogEntry) => void, onEnd: () => void): () => void {
    if (this.closed) {
      onEnd();
      return () => {};
    }
    const f: Follower = { filter, onEntry, onEnd };
    this.followers.add(f);
    return () => this.followers.delete(f);
  }

  get followerCount(): number {
    return this.followers.size;
  }

  /** The app is gone or the server stops: every follower's stream ends. */
  close(): void {
    this.closed = true;
    for (const f of this.followers) f.onEnd();
    this.followers.clear();
  }
}

/**
 * A `since` value as a time in ms: an ISO date/time, ms since the epoch, or
 * a duration back from now ("90s", "5m", "2h", "1d"). undefined: not one.
 */
export function parseSince(s: string, now = Date.now()): number | undefined {
  const d = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(s.trim());
  if (d) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[d[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return now - Number(d[1]) * unit;
  }
  if (/^\d+$/.test(s.trim())) return Number(s);
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}
