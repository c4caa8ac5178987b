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

/**
 * Incremental parser of reply frames. Chunks are kept as they come and
 * joined only once the frame they belong to is complete, so a large frame
 * arriving in many small chunks costs linear time, not a copy per chunk.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private pending = 0;

  push(chunk: Buffer): Reply[] {
    if (chunk.length) {
      this.chunks.push(chunk);
      this.pending += chunk.length;
    }
    const out: Reply[] = [];
    for (;;) {
      if (this.pending < FRAME_HEADER_BYTES) break;
      const head = this.peek(FRAME_HEADER_BYTES);
      const len = head.readUInt32BE(4);
      if (this.pending < FRAME_HEADER_BYTES + len) break;
      const frame = this.take(FRAME_HEADER_BYTES + len);
      out.push({ status: frame.readUInt32BE(0), body: frame.subarray(FRAME_HEADER_BYTES) });
    }
    return out;
  }

  /** Bytes received that are not (yet) a whole frame. */
  get pendingBytes(): number {
    return this.pending;
  }

  /** The first n buffered bytes (n <= pending), joined only if they span chunks. */
  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks, this.pending)];
    return this.chunks[0]!;
  }

  /** Removes and returns the first n buffered bytes. */
  private take(n: number): Buffer {
    const first = this.peek(n);
    this.pending -= n;
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    return first.subarray(0, n);
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
