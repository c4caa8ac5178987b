/**
 * A deployed app: a pool of native instances (each a VM holding the whole
 * DAG), a bounded FIFO of waiting requests, and statistics. Requests never
 * overlap on an instance; the hot path is one addon call per request.
 */
import { availableParallelism } from 'node:os';
import { assertValidDefinition } from '../app/index.js';
import type { AppDefinition } from '../app/model.js';
import { AtaruError } from '../errors.js';
import { log } from '../log.js';
import type { ByteBudget } from './byte-budget.js';
import { Fifo } from './fifo.js';
import { LogLimiter } from './log-limiter.js';
import { ReplaceThrottle } from './replace-throttle.js';
import { native, type NativeHandle, type NativeResult, type NativeTemplate } from './native.js';
import { buildSpec, createError, type ResolvedSpec } from './spec.js';
import { obtainTemplate } from './template-store.js';
import { StreamingStats } from './stats.js';
import { errorCodeOf, runError } from './status.js';
import type { AppHandle, AppStats, LoadOptions, RunOptions, RunResult } from './types.js';

/** One VM of the pool, at a fixed place in it (replaced in place when unusable). */
interface PooledInstance {
  /** Its place in the pool (the `instance` of a RunResult). */
  index: number;
  handle: NativeHandle;
  /** Id of the request running on it (log lines are tagged with it). */
  requestId: number;
  /** When it last became idle (performance.now()), for releasing extra instances. */
  idleSince: number;
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
  // Every app, parsed or built in code, meets the one set of definition
  // checks (src/app/validate.ts); nothing below re-checks a range.
  assertValidDefinition(def);
  const app = new App(def, opts, buildSpec(def, opts));
  await app.start(t0);
  return app;
}

export class App implements AppHandle {
  readonly definition: AppDefinition;
  private readonly resolved: ResolvedSpec;
  /** The pool's bounds: min instances are kept, up to max while requests queue. */
  private readonly poolMin: number;
  private readonly poolMax: number;
  private readonly templateStore?: LoadOptions['templateStore'];
  private template?: NativeTemplate;
  private templateFromStore = false;
  private storedKey?: string;
  /** Instances being made to follow load (counted against poolMax). */
  private growing = 0;
  /** Pool places taken by an instance being made (grown or replaced). */
  private readonly reserved = new Set<number>();
  private grown = 0;
  private released = 0;
  private idleTimer?: NodeJS.Timeout;
  private readonly instances: (PooledInstance | undefined)[] = [];
  private readonly idle: PooledInstance[] = [];
  private readonly queue = new Fifo<Waiting>();
  private readonly limiter?: LogLimiter;
  private readonly queueBudget?: ByteBudget;
  private readonly maxOutputBytes: number;
  private busy = 0;
  private closing = false;
  private closed?: Promise<void>;
  private drained?: () => void;
  private requestSeq = 0;
  private readonly throttle = new ReplaceThrottle();
  /** Replacements waiting out their back-off; close() wakes them at once. */
  private readonly backingOff = new Set<() => void>();
  private readonly testHooks: number;

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
    [this.poolMin, this.poolMax] = App.poolBoundsOf(def);
    this.templateStore = opts.templateStore;
    this.nodes = def.nodes.map(() => new StreamingStats());
    if (opts.onLog) this.limiter = new LogLimiter(opts.onLog);
    this.queueBudget = opts.queueBudget;
    this.testHooks = opts._testHooks ?? 0;
    // The reply frame's u32 length is the hard ceiling.
    this.maxOutputBytes = Math.min(opts.maxOutputBytes ?? 0xffff_ffff, 0xffff_ffff);
  }

  /** The pool size this definition starts with (instances 0: one per host CPU). */
  static poolSizeOf(def: AppDefinition): number {
    return App.poolBoundsOf(def)[0];
  }

  /** [min, max] instances: `instances` fixes both unless min/max_instances are given (0: as `instances`). */
  static poolBoundsOf(def: AppDefinition): [number, number] {
    const base = def.instances > 0 ? def.instances : availableParallelism();
    const min = def.min_instances > 0 ? def.min_instances : def.max_instances > 0 && def.instances === 0 ? 1 : base;
    const max = def.max_instances > 0 ? def.max_instances : Math.max(min, base);
    return [min, Math.max(min, max)];
  }

  /** The template (load, link, init once), then the pool from it in
   * parallel; on any failure frees what was made. t0: when the load began. */
  async start(t0: number): Promise<void> {
    const got = await obtainTemplate(this.resolved, this.logSpec({ requestId: 0 }), this.definition.name, this.templateStore);
    this.template = got.template;
    this.templateFromStore = got.fromStore;
    this.storedKey = got.key;
    let first = true;
    const made = await Promise.allSettled(
      Array.from({ length: this.poolMin }, (_, i) =>
        this.buildInstance(i).then((inst) => {
          if (first) {
            first = false;
            this.coldStartUs = (performance.now() - t0) * 1000;
          }
          return inst;
        }),
      ),
    );
    const failed = made.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(
        made.map((r) => (r.status === 'fulfilled' ? native().destroy(r.value.handle) : undefined)),
      );
      native().releaseTemplate(this.template);
      this.template = undefined;
      throw failed.reason;
    }
    for (const r of made) if (r.status === 'fulfilled') this.addInstance(r.value);
    if (this.poolMax > this.poolMin) {
      // Checks twice per release period; never keeps the process alive.
      const every = Math.max(10, Math.floor(this.definition.idle_release_ms / 2));
      this.idleTimer = setInterval(() => this.releaseIdle(), every);
      this.idleTimer.unref();
    }
  }

  /** The spec with this app's log routing; who.requestId is read when a line arrives. */
  private logSpec(who: { requestId: number }): ResolvedSpec['spec'] {
    const spec = { ...this.resolved.spec };
    const limiter = this.limiter;
    if (limiter) {
      const app = this.definition.name;
      spec.onLog = (node, message, dropped) => limiter.offer({ app, node, requestId: who.requestId }, message, dropped);
    }
    return spec;
  }

  private async buildInstance(index: number): Promise<PooledInstance> {
    const inst = { index, requestId: 0, idleSince: performance.now() } as PooledInstance;
    const spec = this.logSpec(inst);
    spec.template = this.template;
    try {
      inst.handle = await native().createInstance(spec);
    } catch (err) {
      throw createError(err, this.resolved);
    }
    if (this.testHooks) native().testHook(inst.handle, this.testHooks);
    return inst;
  }

  private addInstance(inst: PooledInstance): void {
    this.instances[inst.index] = inst;
    inst.idleSince = performance.now();
    this.idle.push(inst);
  }

  private liveCount(): number {
    let n = 0;
    for (const s of this.instances) if (s) n++;
    return n;
  }

  /** Requests are queueing: one more instance from the template, up to
   * max_instances (made off the request path; the queue's head gets the
   * first instance to free up, new or old). */
  private grow(): void {
    if (this.closing || !this.template || this.liveCount() + this.growing >= this.poolMax) return;
    let index = 0;
    while (this.instances[index] !== undefined || this.reserved.has(index)) index++;
    this.reserved.add(index);
    this.growing++;
    this.busy++; // counts as work for close()
    this.buildInstance(index).then(
      (fresh) => {
        this.growing--;
        this.busy--;
        this.reserved.delete(index);
        if (this.closing) {
          void native().destroy(fresh.handle);
          if (this.busy === 0) this.drained?.();
          return;
        }
        this.grown++;
        this.instances[fresh.index] = fresh;
        this.busy++;
        this.release(fresh, false);
      },
      (err: unknown) => {
        this.growing--;
        this.busy--;
        this.reserved.delete(index);
        if (!this.closing) log.warn({ app: this.definition.name, err }, 'cannot add an instance under load');
        if (this.busy === 0 && this.queue.length === 0) this.drained?.();
      },
    );
  }

  /** Releases instances beyond min_instances idle for idle_release_ms. */
  private releaseIdle(): void {
    if (this.closing) return;
    const cutoff = performance.now() - this.definition.idle_release_ms;
    let live = this.liveCount();
    for (let i = 0; i < this.idle.length && live > this.poolMin; ) {
      const inst = this.idle[i];
      if (inst.idleSince > cutoff) {
        i++;
        continue;
      }
      this.idle.splice(i, 1);
      this.instances[inst.index] = undefined;
      live--;
      this.released++;
      void native().destroy(inst.handle);
    }
  }

  run(input: Buffer, opts?: RunOptions): Promise<RunResult> {
    if (this.closing) return Promise.reject(this.closedError());
    if (input.length > this.definition.shm_size) {
      return Promise.reject(
        new AtaruError('BAD_REQUEST', `request of ${input.length} bytes exceeds the ${this.definition.shm_size}-byte shared region`),
      );
    }
    const inst = this.idle.pop();
    if (inst) return this.dispatch(inst, input, opts?.nodeId, 0);
    if (this.queue.length >= this.definition.queue_limit) {
      this.count('BUSY');
      return Promise.reject(
        new AtaruError('BUSY', `app ${this.definition.name}: ${this.queue.length} requests already queued`),
      );
    }
    const budget = this.queueBudget;
    if (budget && !budget.take(input.length)) {
      this.count('BUSY');
      return Promise.reject(
        new AtaruError(
          'BUSY',
          `app ${this.definition.name}: queued requests of all apps hold ${budget.used} bytes; ` +
            `this ${input.length}-byte request would pass the server's maxQueuedBytes limit of ${budget.limit} bytes`,
        ),
      );
    }
    // A view into a larger buffer (a data-port socket chunk) would keep the
    // whole chunk alive while it waits: queue a copy, so the bytes counted
    // against maxQueuedBytes are the bytes held.
    const held = input.buffer.byteLength > input.length ? Buffer.from(input) : input;
    const queued = new Promise<RunResult>((resolve, reject) =>
      this.queue.push({ input: held, nodeId: opts?.nodeId, queuedAt: performance.now(), resolve, reject }),
    );
    if (this.queue.length > this.growing) this.grow();
    return queued;
  }

  private async dispatch(inst: PooledInstance, input: Buffer, nodeId: bigint | undefined, queueNs: number): Promise<RunResult> {
    this.busy++;
    inst.requestId = ++this.requestSeq;
    let res: NativeResult;
    try {
      res = await native().run(inst.handle, input, nodeId);
    } catch (err) {
      // The core refused the request: busy, oversized input, or (INTERNAL)
      // the instance is out of service (its memory reset after the previous
      // request failed): replace it. Refused at submit, the request never
      // ran, so it waits at the head of the queue for the replacement.
      const status = (err as { status?: number }).status;
      if (status === native().constants.status.INTERNAL && !this.closing) return this.retry(inst, input, nodeId, queueNs);
      this.release(inst, status === native().constants.status.INTERNAL);
      const code = status !== undefined ? errorCodeOf(status) : 'INTERNAL';
      this.count(code);
      throw new AtaruError(code, (err as Error).message);
    }
    const unusable = res.status === native().constants.status.INTERNAL;
    // Queued in the core behind a reset that then failed: it never ran.
    if (unusable && res.notRun && !this.closing) return this.retry(inst, input, nodeId, queueNs);
    this.release(inst, unusable);
    if (res.status === 0 && res.output.length > this.maxOutputBytes) {
      this.requests++;
      this.count('OUTPUT_TOO_LARGE');
      throw new AtaruError(
        'OUTPUT_TOO_LARGE',
        `the sinks' outputs total ${res.output.length} bytes (${res.sinkLengths.join(' + ')}), ` +
          `over this server's maxOutputBytes limit of ${this.maxOutputBytes} bytes`,
      );
    }
    this.record(res);
    if (res.status !== 0) throw runError(res, this.resolved.nodeNames);
    return {
      output: res.output,
      sinkLengths: res.sinkLengths,
      dagNs: res.dagNs,
      nodeNs: res.nodeNs,
      runNs: res.runNs,
      queueNs,
      instance: inst.index,
    };
  }

  /** The instance went out of service before this request ran: replace the
   * instance and put the request at the head of the queue for the new one. */
  private retry(inst: PooledInstance, input: Buffer, nodeId: bigint | undefined, queueNs: number): Promise<RunResult> {
    const retried = new Promise<RunResult>((resolve, reject) =>
      this.queue.unshift({ input, nodeId, queuedAt: performance.now() - queueNs / 1e6, resolve, reject }),
    );
    this.queueBudget?.hold(input.length);
    this.release(inst, true);
    return retried;
  }

  /** Hands the instance to the next waiting request, or back to the pool. */
  private release(inst: PooledInstance, unusable: boolean): void {
    this.busy--;
    if (unusable) {
      this.replace(inst);
    } else {
      const next = this.queue.shift();
      if (next) {
        this.queueBudget?.give(next.input.length);
        const queueNs = (performance.now() - next.queuedAt) * 1e6;
        this.dispatch(inst, next.input, next.nodeId, queueNs).then(next.resolve, next.reject);
        return;
      }
      inst.idleSince = performance.now();
      this.idle.push(inst);
    }
    if (this.busy === 0 && this.queue.length === 0) this.drained?.();
  }

  /** The core reported the instance unusable: destroy it, make a fresh one
   * (after a back-off when it keeps happening: replace-throttle.ts). */
  private replace(inst: PooledInstance): void {
    this.instances[inst.index] = undefined;
    this.reserved.add(inst.index);
    const { delayMs, report, unreported } = this.throttle.next();
    if (report) {
      log.warn(
        { app: this.definition.name, instance: inst.index, replaced: this.throttle.replaced, unreported, retryInMs: delayMs },
        'replacing an unusable instance',
      );
    }
    void native().destroy(inst.handle);
    if (this.closing) return;
    this.busy++; // the replacement counts as work for close()
    this.backOff(delayMs)
      .then(() => (this.closing ? Promise.reject(this.closedError()) : this.buildInstance(inst.index)))
      .then(
        (fresh) => {
          this.busy--;
          this.reserved.delete(inst.index);
          if (this.closing) {
            void native().destroy(fresh.handle);
            if (this.busy === 0) this.drained?.();
            return;
          }
          this.instances[fresh.index] = fresh;
          this.busy++;
          this.release(fresh, false);
        },
        (err: unknown) => {
          this.busy--;
          this.reserved.delete(inst.index);
          if (!this.closing) log.error({ app: this.definition.name, instance: inst.index, err }, 'cannot replace an instance');
          if (this.instances.every((s) => s === undefined)) {
            for (const w of this.queue.drain()) {
              this.queueBudget?.give(w.input.length);
              w.reject(new AtaruError('INTERNAL', 'no usable instance left'));
            }
          }
          if (this.busy === 0 && this.queue.length === 0) this.drained?.();
        },
      );
  }

  private backOff(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.backingOff.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.backingOff.add(wake);
    });
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
    const live = this.instances.filter((s): s is PooledInstance => s !== undefined);
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
      instances: {
        total: live.length,
        busy: this.busy - this.growing,
        queued: this.queue.length,
        replaced: this.throttle.replaced,
        min: this.poolMin,
        max: this.poolMax,
        grown: this.grown,
        released: this.released,
      },
      template: this.templateStats(),
    };
  }

  private templateStats(): AppStats['template'] {
    if (!this.template || this.closing) return undefined;
    const t = native().templateInfo(this.template);
    return {
      guestBytes: t.guestBytes,
      dataBytes: t.dataBytes,
      inits: t.inits,
      initUs: t.initNs / 1000,
      buildUs: t.buildNs / 1000,
      fromStore: this.templateFromStore,
    };
  }

  templateKey(): string | undefined {
    return this.storedKey;
  }

  saturated(): boolean {
    return this.idle.length === 0;
  }

  /** Benchmark floor: median ns of n bare VM exit round trips on a free instance. */
  async exitFloor(n: number): Promise<number> {
    if (this.closing) throw this.closedError();
    const inst = this.idle.pop();
    if (!inst) throw new AtaruError('BUSY', 'no free instance for the exit floor measurement');
    this.busy++;
    try {
      return await native().exitFloor(inst.handle, n);
    } finally {
      this.release(inst, false);
    }
  }

  /** Stops taking requests; queued and in-flight ones finish; frees the VMs. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closing = true;
      if (this.idleTimer) clearInterval(this.idleTimer);
      for (const wake of [...this.backingOff]) wake();
      this.closed = (async () => {
        if (this.busy > 0 || this.queue.length > 0) await new Promise<void>((r) => (this.drained = r));
        const live = this.instances.filter((s): s is PooledInstance => s !== undefined);
        this.instances.length = 0;
        this.idle.length = 0;
        await Promise.all(live.map((s) => native().destroy(s.handle)));
        if (this.template) native().releaseTemplate(this.template); // instances keep their own references
        this.template = undefined;
        this.limiter?.flush({ app: this.definition.name, node: -1, requestId: this.requestSeq });
      })();
    }
    return this.closed;
  }
}
