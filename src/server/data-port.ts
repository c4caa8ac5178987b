/**
 * The data port of one app (conn_type tcp). Requests are exactly msg_len
 * bytes, back to back, no header. With `reply: frames` every request gets a
 * reply frame (reply-frame.ts), in request order, however the pool reorders
 * them; with `reply: none` (the original's behaviour) nothing is written
 * back except the pktcnt statistics line.
 *
 * Flow control: at most `window` requests in flight per connection; the
 * socket is paused while the window is full or while unsent replies exceed
 * `writeHighWater`, so a fast sender or a client that never reads costs a
 * bounded amount of memory.
 *
 * Slow and idle clients: a request's bytes must all arrive within
 * `requestTimeoutMs` of its first (a client trickling bytes is cut off, with
 * an error frame), and a connection with nothing in flight that neither
 * sends nor takes any of its replies for `idleTimeoutMs` is closed, so idle
 * sockets can't hold every one of the app's `maxConnections`.
 *
 * A connection keeps the msg_len of the app version it was opened on: a
 * redeploy that changes msg_len must not re-cut the byte stream of a client
 * that framed its requests by the old one. Its requests run on the current
 * version, as every connection's do.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { RunResult } from '../runtime/types.js';
import { ConnectionStats } from './connection-stats.js';
import type { LiveApp } from './live-app.js';
import { asAtaruError, errorFrame, frameHeader, okStatus } from './reply-frame.js';
import { AtaruError } from '../errors.js';
import { runRequest } from './run-request.js';
import { sendResultLine } from './result-target.js';

export interface DataPortOptions {
  window: number;
  maxConnections: number;
  /** Pause reading while this many reply bytes wait to be sent. */
  writeHighWater: number;
  /** Close a connection with nothing in flight after this long without a byte. */
  idleTimeoutMs: number;
  /** A request's last byte must arrive within this time of its first. */
  requestTimeoutMs: number;
  log: Logger;
}

const FLUSH_GRACE_MS = 5000;

/** A request's place in the reply order: filled when it completes, written when all before it are. */
interface PendingReply {
  done: boolean;
  result?: RunResult;
  error?: unknown;
}

class DataConnection {
  private partial: Buffer | null = null;
  private partialFill = 0;
  private partialSinceNs = 0n;
  /** performance.now() when the partial request began, and of the last byte received. */
  private partialSinceMs = 0;
  private lastByteMs = performance.now();
  private unsentAtLastCheck = 0;
  private readonly watchdog: NodeJS.Timeout;
  /** Complete requests received while the window was full. */
  private backlog: Buffer | null = null;
  private readonly replies: PendingReply[] = [];
  private replyHead = 0;
  private inflight = 0;
  private received = 0;
  private completed = 0;
  private paused = false;
  /** pktcnt reached or shutting down: read no more requests. */
  private stopped = false;
  private readonly stats?: ConnectionStats;
  private readonly pktcnt: number;
  private readonly frames: boolean;
  private readonly msgLen: number;
  private whenIdle?: () => void;

  constructor(
    private readonly app: LiveApp,
    readonly socket: Socket,
    private readonly opts: DataPortOptions,
  ) {
    const def = app.current.def;
    this.pktcnt = def.pktcnt;
    this.frames = def.reply === 'frames';
    this.msgLen = def.msg_len;
    // One timer per connection for both deadlines, checking a few times per
    // the shorter one: no timer is made or cleared per request.
    const tick = Math.max(5, Math.floor(Math.min(opts.idleTimeoutMs, opts.requestTimeoutMs) / 4));
    this.watchdog = setInterval(() => this.checkDeadlines(), tick).unref();
    socket.once('close', () => clearInterval(this.watchdog));
    if (this.pktcnt > 0) this.stats = new ConnectionStats(def.nodes.length);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.consume(chunk));
    socket.on('drain', () => this.maybeResume());
    // A half-close means "no more requests": answer those in flight, then end.
    socket.on('end', () => {
      this.dropPartial();
      void this.drain();
    });
    socket.on('error', (e) => opts.log.debug({ app: app.name, err: e.message }, 'data connection error'));
  }

  private consume(chunk: Buffer): void {
    if (this.stopped) return;
    this.lastByteMs = performance.now();
    if (this.backlog) {
      // Data that arrived although paused must queue behind the backlog.
      chunk = Buffer.concat([this.backlog, chunk]);
      this.backlog = null;
    }
    const len = this.msgLen;
    let off = 0;
    if (this.partial) {
      const n = Math.min(this.partial.length - this.partialFill, chunk.length);
      chunk.copy(this.partial, this.partialFill, 0, n);
      this.partialFill += n;
      off = n;
      if (this.partialFill < this.partial.length) return;
      const req = this.partial;
      this.partial = null;
      if (this.stats) this.stats.networkNs += Number(process.hrtime.bigint() - this.partialSinceNs);
      this.submit(req);
    }
    while (chunk.length - off >= len && !this.stopped) {
      if (this.inflight >= this.opts.window) {
        this.backlog = chunk.subarray(off);
        this.pause();
        return;
      }
      this.submit(chunk.subarray(off, off + len));
      off += len;
    }
    if (off < chunk.length && !this.stopped) {
      this.partial = Buffer.allocUnsafe(len);
      this.partialFill = chunk.copy(this.partial, 0, off);
      this.partialSinceMs = this.lastByteMs;
      if (this.stats) this.partialSinceNs = process.hrtime.bigint();
    }
    if (this.full) this.pause();
  }

  /** The window is full or too many reply bytes wait: read nothing more for now. */
  private get full(): boolean {
    return this.inflight >= this.opts.window || this.socket.writableLength > this.opts.writeHighWater;
  }

  private submit(req: Buffer): void {
    const index = this.received++;
    if (this.pktcnt > 0 && this.received >= this.pktcnt) this.stopped = true;
    this.stats?.arrived(process.hrtime.bigint());
    this.inflight++;
    const reply: PendingReply | undefined = this.frames ? { done: false } : undefined;
    if (reply) this.replies.push(reply);
    runRequest(this.app, req, 'data').then(
      (r) => {
        this.stats?.record(index, r);
        this.complete(reply, r, undefined);
      },
      (e: unknown) => {
        const err = asAtaruError(e); // runRequest counted it in the metrics and the log ring
        if (!reply) this.opts.log.debug({ app: this.app.name, request: index, err: err.describe() }, 'request failed');
        this.complete(reply, undefined, e);
      },
    );
  }

  private complete(reply: PendingReply | undefined, result: RunResult | undefined, error: unknown): void {
    this.inflight--;
    this.completed++;
    if (reply) {
      reply.done = true;
      reply.result = result;
      reply.error = error;
      this.flush();
    }
    if (this.pktcnt > 0 && this.completed === this.pktcnt) this.finishWithStats();
    else if (this.stopped && this.inflight === 0) this.whenIdle?.();
    else this.maybeResume();
  }

  /**
   * The watchdog: a request whose bytes are not all in after requestTimeoutMs
   * ends the connection with an error frame; a connection with nothing in
   * flight or pending that has sent nothing for idleTimeoutMs is closed.
   */
  private checkDeadlines(): void {
    // A stopped connection (pktcnt reached, half-closed, draining) is still
    // checked: a client that never takes its last replies must not keep it.
    if (this.socket.destroyed) return;
    const now = performance.now();
    // While the server itself holds the socket paused (window full, replies
    // unsent) a partial request can't progress: that time is not the client's.
    if (this.paused) this.partialSinceMs = now;
    if (this.partial && now - this.partialSinceMs >= this.opts.requestTimeoutMs) {
      const err = new AtaruError(
        'TIMEOUT',
        `request incomplete after ${this.opts.requestTimeoutMs} ms: ${this.partialFill} of ${this.msgLen} bytes arrived (dataRequestTimeoutMs)`,
      );
      this.opts.log.info({ app: this.app.name, bytes: this.partialFill, msgLen: this.msgLen }, 'data client too slow; connection closed');
      this.cutOff(err);
      return;
    }
    // Replies leaving the buffer are progress too: a client that reads
    // slowly is not idle; one that reads nothing is, once nothing is in flight.
    const unsent = this.socket.writableLength;
    if (unsent !== this.unsentAtLastCheck) {
      this.unsentAtLastCheck = unsent;
      this.lastByteMs = now;
    }
    if (!this.partial && !this.backlog && this.inflight === 0 && now - this.lastByteMs >= this.opts.idleTimeoutMs) {
      this.opts.log.debug({ app: this.app.name }, 'idle data connection closed');
      this.cutOff(undefined);
    }
  }

  /** Ends the connection now: replies in flight are dropped, `err` (if any) is the last frame. */
  private cutOff(err: AtaruError | undefined): void {
    this.stopped = true;
    this.dropPartial();
    if (err && this.frames) {
      this.socket.end(errorFrame(err));
      // A peer that never reads or closes must not keep the socket.
      setTimeout(() => this.socket.destroy(), FLUSH_GRACE_MS).unref();
    } else this.socket.destroy();
  }

  /** Writes every reply that is ready, in request order, in one corked batch. */
  private flush(): void {
    const s = this.socket;
    if (s.destroyed) {
      this.replies.length = this.replyHead = 0;
      return;
    }
    let corked = false;
    while (this.replyHead < this.replies.length && this.replies[this.replyHead]!.done) {
      const reply = this.replies[this.replyHead++]!;
      if (!corked) {
        s.cork();
        corked = true;
      }
      writeReply(s, reply);
    }
    if (corked) s.uncork();
    // Compact rarely: the array only grows by the window between compactions.
    if (this.replyHead === this.replies.length) this.replies.length = this.replyHead = 0;
    else if (this.replyHead > 1024) {
      this.replies.splice(0, this.replyHead);
      this.replyHead = 0;
    }
  }

  private finishWithStats(): void {
    const v = this.app.current;
    const line = this.stats!.line(v, this.pktcnt);
    if (v.result) sendResultLine(v.result, line, this.opts.log);
    this.socket.end(line);
    this.whenIdle?.();
  }

  private pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private maybeResume(): void {
    if (!this.paused || this.stopped || this.full) return;
    this.paused = false;
    const backlog = this.backlog;
    this.backlog = null;
    if (backlog) this.consume(backlog);
    if (!this.paused) this.socket.resume();
  }

  /** Called when the socket closed. */
  closed(): void {
    this.stopped = true;
    this.dropPartial();
  }

  /** A request cut short by the client is dropped and counted. */
  private dropPartial(): void {
    if (this.partial || (this.backlog && this.backlog.length % this.msgLen)) {
      this.app.current.metrics.truncated();
      this.opts.log.info(
        { app: this.app.name, bytes: this.partialFill, msgLen: this.msgLen },
        'client disconnected mid-request; partial request dropped',
      );
    }
    this.partial = this.backlog = null;
  }

  /** Graceful stop: read no more, let in-flight requests reply, then end. */
  drain(): Promise<void> {
    this.stopped = true;
    this.partial = this.backlog = null;
    this.partialFill = 0;
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        this.socket.end();
        resolve();
      };
      if (this.inflight === 0) finish();
      else this.whenIdle = finish;
    });
  }
}

/** The listening socket of one app and its connections. */
export class DataPort {
  private readonly server: Server;
  private readonly conns = new Set<DataConnection>();

  private constructor(
    private readonly app: LiveApp,
    private readonly opts: DataPortOptions,
  ) {
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  /** Listens on host:port (0 = any free port); rejects with CONFLICT when taken. */
  static async open(app: LiveApp, host: string, port: number, opts: DataPortOptions): Promise<DataPort> {
    const dp = new DataPort(app, opts);
    await new Promise<void>((resolve, reject) => {
      dp.server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new AtaruError(
            e.code === 'EADDRINUSE' || e.code === 'EACCES' ? 'CONFLICT' : 'INTERNAL',
            `cannot open the data port ${host}:${port} for app "${app.name}": ${e.message}`,
            { field: 'conn_port' },
          ),
        ),
      );
      dp.server.listen({ host, port, exclusive: true }, resolve);
    });
    dp.server.on('error', (e) => opts.log.error({ app: app.name, err: e.message }, 'data port error'));
    return dp;
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  get connections(): number {
    return this.conns.size;
  }

  private accept(socket: Socket): void {
    if (this.conns.size >= this.opts.maxConnections) {
      const err = new AtaruError('BUSY', `app "${this.app.name}" has too many connections (limit ${this.opts.maxConnections})`);
      socket.on('error', () => {});
      if (this.app.current.def.reply === 'frames') socket.end(errorFrame(err));
      else socket.destroy();
      return;
    }
    const conn = new DataConnection(this.app, socket, this.opts);
    this.conns.add(conn);
    socket.once('close', () => {
      conn.closed();
      this.conns.delete(conn);
    });
  }

  /**
   * Stops accepting; with drain, lets every connection finish its in-flight
   * requests and flush its replies (a client that doesn't read gets
   * FLUSH_GRACE_MS, then is cut off).
   */
  async close(drain: boolean): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (drain) await Promise.all([...this.conns].map((c) => c.drain()));
    for (const c of this.conns) {
      if (drain) c.socket.destroySoon();
      else c.socket.destroy();
    }
    const cutOff = setTimeout(() => {
      for (const c of this.conns) c.socket.destroy();
    }, FLUSH_GRACE_MS);
    await closed;
    clearTimeout(cutOff);
  }
}

/**
 * Writes one reply. The runtime caps outputs (limits.maxOutputBytes), but
 * whatever reaches here becomes a frame, never a throw: this runs in a
 * promise callback, where an exception would go unhandled and the client
 * would never get its reply.
 */
function writeReply(s: Socket, reply: PendingReply): void {
  const out = reply.result?.output;
  if (!out) {
    s.write(errorFrame(reply.error));
  } else if (out.length > 0xffff_ffff) {
    s.write(errorFrame(new AtaruError('OUTPUT_TOO_LARGE', `output of ${out.length} bytes does not fit a reply frame (at most 4294967295)`)));
  } else {
    s.write(frameHeader(okStatus(), out.length));
    if (out.length) s.write(out);
  }
}
