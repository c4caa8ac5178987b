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
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { RunResult } from '../runtime/types.js';
import { ConnectionStats } from './connection-stats.js';
import type { LiveApp } from './live-app.js';
import { asAtaruError, errorFrame, frameHeader, okStatus } from './reply-frame.js';
import { AtaruError } from '../errors.js';
import { sendResultLine } from './result-target.js';

export interface DataPortOptions {
  window: number;
  maxConnections: number;
  /** Pause reading while this many reply bytes wait to be sent. */
  writeHighWater: number;
  log: Logger;
}

const FLUSH_GRACE_MS = 5000;

/** One reply slot, kept in request order. */
interface Slot {
  done: boolean;
  result?: RunResult;
  error?: unknown;
}

class DataConnection {
  private partial: Buffer | null = null;
  private partialFill = 0;
  private partialSinceNs = 0n;
  /** Complete requests received while the window was full. */
  private backlog: Buffer | null = null;
  private readonly slots: Slot[] = [];
  private slotHead = 0;
  private inflight = 0;
  private received = 0;
  private completed = 0;
  private paused = false;
  /** pktcnt reached or shutting down: read no more requests. */
  private stopped = false;
  private readonly stats?: ConnectionStats;
  private readonly pktcnt: number;
  private readonly frames: boolean;
  private whenIdle?: () => void;

  constructor(
    private readonly app: LiveApp,
    readonly socket: Socket,
    private readonly opts: DataPortOptions,
  ) {
    const def = app.current.def;
    this.pktcnt = def.pktcnt;
    this.frames = def.reply === 'frames';
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
    if (this.backlog) {
      // Data that arrived although paused must queue behind the backlog.
      chunk = Buffer.concat([this.backlog, chunk]);
      this.backlog = null;
    }
    const len = this.app.current.def.msg_len;
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
    const version = this.app.current;
    const slot: Slot | undefined = this.frames ? { done: false } : undefined;
    if (slot) this.slots.push(slot);
    version.handle.run(req).then(
      (r) => {
        version.metrics.ok(r, 'data');
        this.stats?.record(index, r);
        this.complete(slot, r, undefined);
      },
      (e: unknown) => {
        const err = asAtaruError(e);
        version.metrics.error(err.code, 'data');
        this.app.logs?.push({ kind: 'error', source: 'data', code: err.code, node: err.location?.node, function: err.location?.functionName, message: err.message });
        if (!slot) this.opts.log.debug({ app: this.app.name, request: index, err: asAtaruError(e).describe() }, 'request failed');
        this.complete(slot, undefined, e);
      },
    );
  }

  private complete(slot: Slot | undefined, result: RunResult | undefined, error: unknown): void {
    this.inflight--;
    this.completed++;
    if (slot) {
      slot.done = true;
      slot.result = result;
      slot.error = error;
      this.flush();
    }
    if (this.pktcnt > 0 && this.completed === this.pktcnt) this.finishWithStats();
    else if (this.stopped && this.inflight === 0) this.whenIdle?.();
    else this.maybeResume();
  }

  /** Writes every reply that is ready, in request order, in one corked batch. */
  private flush(): void {
    const s = this.socket;
    if (s.destroyed) {
      this.slots.length = this.slotHead = 0;
      return;
    }
    let corked = false;
    while (this.slotHead < this.slots.length && this.slots[this.slotHead]!.done) {
      const slot = this.slots[this.slotHead++]!;
      if (!corked) {
        s.cork();
        corked = true;
      }
      if (slot.result) {
        s.write(frameHeader(okStatus(), slot.result.output.length));
        if (slot.result.output.length) s.write(slot.result.output);
      } else s.write(errorFrame(slot.error));
    }
    if (corked) s.uncork();
    // Compact rarely: the array only grows by the window between compactions.
    if (this.slotHead === this.slots.length) this.slots.length = this.slotHead = 0;
    else if (this.slotHead > 1024) {
      this.slots.splice(0, this.slotHead);
      this.slotHead = 0;
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
    if (this.partial || (this.backlog && this.backlog.length % this.app.current.def.msg_len)) {
      this.app.current.metrics.truncated();
      this.opts.log.info(
        { app: this.app.name, bytes: this.partialFill, msgLen: this.app.current.def.msg_len },
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
