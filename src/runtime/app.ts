/**
 * A deployed app: a pool of native instances (each a VM holding the whole
 * DAG), a bounded FIFO of waiting requests, and statistics. Requests never
 * overlap on an instance; the hot path is one addon call per request.
 */
import { availableParallelism } from 'node:os';
import type { AppDefinition } from '../app/model.js';
import { AtaruError } from '../errors.js';
import { log } from '../log.js';
import { Fifo } from './fifo.js';
import { LogLimiter } from './log-limiter.js';
import { native, type NativeHandle, type NativeResult } from './native.js';
import { buildSpec, createError, type ResolvedSpec } from './spec.js';
import { StreamingStats } from './stats.js';
import { errorCodeOf, runError } from './status.js';
import type { AppHandle, AppStats, LoadOptions, RunOptions, RunResult } from './types.js';

interface Slot {
  index: number;
  handle: NativeHandle;
  /** Id of the request running on it (log lines are tagged with it). */
  requestId: number;
}

interface Waiting {
  input: Buffer;
  nodeId?: bigint;
  queuedAt: number;
  resolve: (r: RunResult) => void;
  reject: (e: unknown) => void;
}

export async function loadApp(def: AppDefinition, opts: LoadOptions): Promise<App> {
  const t0 = performance.now();
  const app = new App(def, opts, buildSpec(def, opts));
  await app.start(t0);
  return app;
}

export class App implements AppHandle {
  readonly definition: AppDefinition;
  private readonly resolved: ResolvedSpec;
  private readonly poolSize: number;
  private readonly slots: (Slot | undefined)[] = [];
  private readonly free: Slot[] = [];
  private readonly queue = new Fifo<Waiting>();
  private readonly limiter?: LogLimiter;
  private busy = 0;
  private closing = false;
  private closed?: Promise<void>;
  private drained?: () => void;
  private requestSeq = 0;

  // statistics
  private coldStartUs = 0;
  private requests = 0;
  private readonly errors: Record<string, number> = {};
  private readonly dag = new StreamingStats();
  private readonly host = new StreamingStats();
  private readonly nodes: StreamingStats[];

  constructor(def: AppDefinition, opts: LoadOptions, resolved: ResolvedSpec) {
    this.definition = def;
    this.resolved = resolved;
    this.poolSize = def.instances > 0 ? def.instances : availableParallelism();
    this.nodes = def.nodes.map(() => new StreamingStats());
    if (opts.onLog) this.limiter = new LogLimiter(opts.onLog);
  }

  /** Creates the pool in parallel; on any failure frees what was made. t0: when the load began. */
  async start(t0: number): Promise<void> {
    let first = true;
    const made = await Promise.allSettled(
      Array.from({ length: this.poolSize }, (_, i) =>
        this.createSlot(i).then((slot) => {
          if (first) {
            first = false;
            this.coldStartUs = (performance.now() - t0) * 1000;
          }
          return slot;
        }),
      ),
    );
    const failed = made.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(
        made.map((r) => (r.status === 'fulfilled' ? native().destroy(r.value.handle) : undefined)),
      );
      throw failed.reason;
    }
    for (const r of made) if (r.status === 'fulfilled') this.addSlot(r.value);
  }

  private async createSlot(index: number): Promise<Slot> {
    const slot = { index, requestId: 0 } as Slot;
    const spec = { ...this.resolved.spec };
    const limiter = this.limiter;
    if (limiter) {
      const app = this.definition.name;
      spec.onLog = (node, message) => limiter.offer({ app, node, requestId: slot.requestId, message });
    }
    try {
      slot.handle = await native().createInstance(spec);
    } catch (err) {
      throw createError((err as Error).message, this.resolved.files);
    }
    return slot;
  }

  private addSlot(slot: Slot): void {
    this.slots[slot.index] = slot;
    this.free.push(slot);
  }

  run(input: Buffer, opts?: RunOptions): Promise<RunResult> {
    if (this.closing) return Promise.reject(this.closedError());
    if (input.length > this.definition.shm_size) {
      return Promise.reject(
        new AtaruError('BAD_REQUEST', `request of ${input.length} bytes exceeds the ${this.definition.shm_size}-byte shared region`),
      );
    }
    const slot = this.free.pop();
    if (slot) return this.dispatch(slot, input, opts?.nodeId, 0);
    if (this.queue.length >= this.definition.queue_limit) {
      this.count('BUSY');
      return Promise.reject(
        new AtaruError('BUSY', `app ${this.definition.name}: ${this.queue.length} requests already queued`),
      );
    }
    return new Promise((resolve, reject) =>
      this.queue.push({ input, nodeId: opts?.nodeId, queuedAt: performance.now(), resolve, reject }),
    );
  }

  private async dispatch(slot: Slot, input: Buffer, nodeId: bigint | undefined, queueNs: number): Promise<RunResult> {
    this.busy++;
    slot.requestId = ++this.requestSeq;
    let res: NativeResult;
    try {
      res = await native().run(slot.handle, input, nodeId);
    } catch (err) {
      // The core refused the request (busy instance, oversized input).
      this.release(slot, false);
      const status = (err as { status?: number }).status;
      const code = status !== undefined ? errorCodeOf(status) : 'INTERNAL';
      this.count(code);
      throw new AtaruError(code, (err as Error).message);
    }
    const unusable = res.status === native().constants.status.INTERNAL;
    this.release(slot, unusable);
    this.record(res);
    if (res.status !== 0) throw runError(res, this.resolved.nodeNames);
    return {
      output: res.output,
      sinkLengths: res.sinkLengths,
      dagNs: res.dagNs,
      nodeNs: res.nodeNs,
      runNs: res.runNs,
      queueNs,
      instance: slot.index,
    };
  }

  /** Hands the instance to the next waiting request, or back to the pool. */
  private release(slot: Slot, unusable: boolean): void {
    this.busy--;
    if (unusable) {
      this.replace(slot);
    } else {
      const next = this.queue.shift();
      if (next) {
        const queueNs = (performance.now() - next.queuedAt) * 1e6;
        this.dispatch(slot, next.input, next.nodeId, queueNs).then(next.resolve, next.reject);
        return;
      }
      this.free.push(slot);
    }
    if (this.busy === 0 && this.queue.length === 0) this.drained?.();
  }

  /** The core reported the instance unusable: destroy it, make a fresh one. */
  private replace(slot: Slot): void {
    this.slots[slot.index] = undefined;
    log.warn({ app: this.definition.name, instance: slot.index }, 'replacing an unusable instance');
    void native().destroy(slot.handle);
    if (this.closing) return;
    this.busy++; // the replacement counts as work for close()
    this.createSlot(slot.index).then(
      (fresh) => {
        this.busy--;
        if (this.closing) {
          void native().destroy(fresh.handle);
          if (this.busy === 0) this.drained?.();
          return;
        }
        this.slots[fresh.index] = fresh;
        this.busy++;
        this.release(fresh, false);
      },
      (err: unknown) => {
        this.busy--;
        log.error({ app: this.definition.name, instance: slot.index, err }, 'cannot replace an instance');
        if (this.slots.every((s) => s === undefined)) {
          for (const w of this.queue.drain()) w.reject(new AtaruError('INTERNAL', 'no usable instance left'));
        }
        if (this.busy === 0 && this.queue.length === 0) this.drained?.();
      },
    );
  }

  private record(res: NativeResult): void {
    this.requests++;
    if (res.status !== 0) {
      this.count(errorCodeOf(res.status));
      return;
    }
    this.dag.add(res.dagNs / 1000);
    this.host.add(res.runNs / 1000);
    const n = Math.min(res.nodeNs.length, this.nodes.length);
    for (let k = 0; k < n; k++) this.nodes[k].add(res.nodeNs[k] / 1000);
  }

  private count(code: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  private closedError(): AtaruError {
    return new AtaruError('CLOSED', `app ${this.definition.name} is closing`);
  }

  stats(): AppStats {
    const live = this.slots.filter((s): s is Slot => s !== undefined);
    return {
      name: this.definition.name,
      coldStartUs: this.coldStartUs,
      instanceColdStartUs: live.map((s) => native().coldStartNs(s.handle) / 1000),
      requests: this.requests,
      errors: { ...this.errors },
      dag: this.dag.summary(),
      run: this.host.summary(),
      nodes: this.nodes.map((s) => s.summary()),
      memory: this.closing ? [] : live.map((s) => native().memory(s.handle)),
      instances: { total: live.length, busy: this.busy, queued: this.queue.length },
    };
  }

  saturated(): boolean {
    return this.free.length === 0;
  }

  /** Benchmark floor: median ns of n bare VM exit round trips on a free instance. */
  async exitFloor(n: number): Promise<number> {
    if (this.closing) throw this.closedError();
    const slot = this.free.pop();
    if (!slot) throw new AtaruError('BUSY', 'no free instance for the exit floor measurement');
    this.busy++;
    try {
      return await native().exitFloor(slot.handle, n);
    } finally {
      this.release(slot, false);
    }
  }

  /** Stops taking requests; queued and in-flight ones finish; frees the VMs. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closing = true;
      this.closed = (async () => {
        if (this.busy > 0 || this.queue.length > 0) await new Promise<void>((r) => (this.drained = r));
        const live = this.slots.filter((s): s is Slot => s !== undefined);
        this.slots.length = 0;
        this.free.length = 0;
        await Promise.all(live.map((s) => native().destroy(s.handle)));
        this.limiter?.flush({ app: this.definition.name, node: -1, requestId: this.requestSeq });
      })();
    }
    return this.closed;
  }
}
