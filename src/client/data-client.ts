/**
 * A client for a data port with `reply: frames`: pipelined requests, replies
 * matched in order. Used by `ataru send`, the tests and the benchmarks.
 */
import { connect, type Socket } from 'node:net';
import { AtaruError } from '../errors.js';
import { FRAME_HEADER_BYTES } from '../server/reply-frame.js';

export interface Reply {
  status: number;
  body: Buffer;
}

/** Incremental parser of reply frames. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Reply[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Reply[] = [];
    let off = 0;
    while (this.buf.length - off >= FRAME_HEADER_BYTES) {
      const len = this.buf.readUInt32BE(off + 4);
      if (this.buf.length - off - FRAME_HEADER_BYTES < len) break;
      const start = off + FRAME_HEADER_BYTES;
      out.push({ status: this.buf.readUInt32BE(off), body: this.buf.subarray(start, start + len) });
      off = start + len;
    }
    this.buf = this.buf.subarray(off);
    return out;
  }

  /** Bytes received that are not (yet) a whole frame. */
  get pendingBytes(): number {
    return this.buf.length;
  }
}

export class DataClient {
  private readonly reader = new FrameReader();
  private readonly waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private head = 0;
  private failure?: Error;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const r of this.reader.push(chunk)) {
        const w = this.waiting[this.head++];
        if (!w) {
          this.fail(new AtaruError('BAD_REQUEST', 'data port sent a reply nobody asked for'));
          return;
        }
        w.resolve(r);
      }
      if (this.head === this.waiting.length) this.waiting.length = this.head = 0;
    });
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new AtaruError('CLOSED', 'data connection closed with requests unanswered')));
  }

  static connect(host: string, port: number): Promise<DataClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port }, () => {
        s.off('error', reject);
        resolve(new DataClient(s));
      });
      s.once('error', reject);
    });
  }

  /** Sends one request (exactly msg_len bytes); resolves with its reply. */
  request(input: Buffer): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(input);
    });
  }

  get inFlight(): number {
    return this.waiting.length - this.head;
  }

  close(): void {
    this.socket.end();
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (let i = this.head; i < this.waiting.length; i++) this.waiting[i]!.reject(e);
    this.waiting.length = this.head = 0;
  }
}
