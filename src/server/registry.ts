/**
 * Deployed apps by name. Deploys, redeploys and removals run one at a time.
 * A deploy either completes (app loaded, data port open, row saved) or leaves
 * nothing behind. A redeploy loads the new version first, then swaps it in
 * (live-app.ts); requests in flight finish on the old version, which is then
 * closed. Once a removed or replaced version is closed, blobs nothing uses
 * any more are deleted (Store.sweepBlobs), and so is its folder of files
 * (Store.linkVersion: its functions and libraries under their client names,
 * where the loader looks for DT_NEEDED libraries). Each version reserves its
 * share of the server-wide caps (reservations.ts) until it is closed.
 *
 * RegistryHooks are the seam a cluster (src/cluster/) plugs into: how a
 * version is loaded, a commit step between load and swap (the shared
 * registry's compare-and-set), and a notice after every change. Without hooks
 * the registry is the single-machine one.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { pruneTemplates } from '../runtime/template-store.js';
import type { BlockList } from 'node:net';
import type { AppDefinition } from '../app/model.js';
import type { ServerConfig } from '../config.js';
import { AtaruError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadApp } from '../runtime/app.js';
import { ByteBudget } from '../runtime/byte-budget.js';
import type { AppHandle, LoadOptions } from '../runtime/types.js';
import { DataPort } from './data-port.js';
import { functionKey } from './functions.js';
import type { AppVersion, LiveApp } from './live-app.js';
import { LogRing } from './log-ring.js';
import { RawPort, rawInterfaces } from './raw-port.js';
import type { Metrics } from './metrics.js';
import { demandOf, ResourceLedger, type Demand } from './reservations.js';
import { resultTarget } from './result-target.js';
import { versionPath, type Store } from './store.js';

export interface DeployedApp extends LiveApp {
  readonly logs: LogRing;
  /** A TCP app's data port, or a raw app's packet path (port: the filter's conn_port). */
  dataPort: DataPort | RawPort;
  created: string;
}

/** Where a deploy or removal comes from: this server's own API, or the cluster's shared registry. */
export type ChangeOrigin = 'local' | 'cluster';

export interface DeployOptions {
  /** Overrides conn_port (restore). */
  port?: number;
  origin?: ChangeOrigin;
  /** Who asked, e.g. "http 127.0.0.1" (recorded by a cluster). */
  by?: string;
}

export interface RegistryHooks {
  /** Loads a version (default: a local pool of VMs, loadApp). */
  load?(def: AppDefinition, opts: LoadOptions, origin: ChangeOrigin): Promise<AppHandle>;
  /** After the load, before the swap; a throw undoes the deploy. */
  commit?(def: AppDefinition, blobs: Record<string, string>, opts: DeployOptions): Promise<void>;
  /** Before a removal; a throw keeps the app. */
  removing?(name: string, origin: ChangeOrigin): Promise<void>;
  /** After a version was swapped in (app) or the app removed (undefined). */
  changed?(name: string, app: DeployedApp | undefined): void;
}

export interface RegistryDeps {
  config: ServerConfig;
  store: Store;
  metrics: Metrics;
  log: Logger;
  resultAllow: BlockList;
  /** Ports of the control and HTTP listeners (an app may not take them). */
  reservedPorts: () => number[];
}

export class AppRegistry {
  private readonly apps = new Map<string, DeployedApp>();
  private queue: Promise<unknown> = Promise.resolve();
  private closing = false;
  /**
   * Blob maps of deploys under way and of loaded versions, until closed: the
   * sweep keeps these files. Callers store the blobs and call deploy() in the
   * same synchronous run, so no sweep falls between the two.
   */
  private readonly inUse = new Set<Record<string, string>>();
  private readonly ledger: ResourceLedger;
  /** Input bytes of the requests queued in every app (limits.maxQueuedBytes). */
  readonly queueBudget: ByteBudget;
  /** Set once by a cluster before any deploy (src/cluster/). */
  hooks: RegistryHooks = {};

  constructor(private readonly deps: RegistryDeps) {
    this.ledger = new ResourceLedger(deps.config.limits);
    this.queueBudget = new ByteBudget(deps.config.limits.maxQueuedBytes);
  }

  /** Server-wide use and limits of the capped resources (for /metrics). */
  resources(): { resource: string; used: number; limit: number }[] {
    const u: Demand = this.ledger.used();
    const l = this.deps.config.limits;
    return [
      { resource: 'guest_memory_bytes', used: u.memoryBytes, limit: l.maxGuestMemoryBytes },
      { resource: 'instances', used: u.instances, limit: l.maxInstances },
      { resource: 'vcpu_threads', used: u.vcpuThreads, limit: l.maxVcpuThreads },
      { resource: 'queued_bytes', used: this.queueBudget.used, limit: this.queueBudget.limit },
    ];
  }

  get(name: string): DeployedApp | undefined {
    return this.apps.get(name);
  }

  /** The app named `name`; throws NOT_FOUND when there is none. */
  mustGet(name: string): DeployedApp {
    const app = this.apps.get(name);
    if (!app) throw new AtaruError('NOT_FOUND', `no app named "${name}"`);
    return app;
  }

  list(): DeployedApp[] {
    return [...this.apps.values()];
  }

  /** Deploys or atomically replaces `def.name`. */
  deploy(def: AppDefinition, blobs: Record<string, string>, opts: DeployOptions = {}): Promise<DeployedApp> {
    return this.serial(() => this.deployInside(def, blobs, opts));
  }

  /**
   * deploy() for a caller already inside exclusive(). Callers store the blobs
   * and call this in the same synchronous run, so no sweep falls between.
   */
  deployInside(def: AppDefinition, blobs: Record<string, string>, opts: DeployOptions = {}): Promise<DeployedApp> {
    // A copy: its identity is this deploy's entry in inUse.
    const own = { ...blobs };
    this.inUse.add(own);
    const run = this.deployNow(def, own, opts.port ?? def.conn_port, opts);
    run.catch(() => this.release(own));
    return run;
  }

  remove(name: string, origin: ChangeOrigin = 'local'): Promise<void> {
    return this.serial(() => this.removeInside(name, origin));
  }

  /** remove() for a caller already inside exclusive(). */
  async removeInside(name: string, origin: ChangeOrigin = 'local'): Promise<void> {
    const app = this.mustGet(name);
    await this.hooks.removing?.(name, origin);
    this.apps.delete(name);
    this.deps.store.remove(name);
    this.deps.metrics.removeApp(name);
    this.hooks.changed?.(name, undefined);
    app.logs.push({ kind: 'event', message: 'app removed' });
    app.logs.close();
    await app.dataPort.close(true);
    await app.current.handle.close();
    this.released(app.current);
    this.pruneTemplates();
    this.deps.log.info({ app: name, origin }, 'app removed');
  }

  /** Runs fn with no deploy or removal alongside (a cluster's check-then-apply). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial(fn);
  }

  /** Brings back every stored app on its port; a failing one is logged and skipped. */
  async restore(): Promise<void> {
    for (const row of this.deps.store.list()) {
      try {
        await this.deploy(row.definition, row.blobs, { port: row.port });
      } catch (e) {
        this.deps.log.error({ app: row.name, port: row.port, err: (e as Error).message }, 'could not restore app');
      }
    }
  }

  /** Graceful stop: every data port drains, then every app closes. */
  close(): Promise<void> {
    return this.serial(async () => {
      this.closing = true;
      const apps = this.list();
      this.apps.clear();
      for (const a of apps) a.logs.close();
      await Promise.all(apps.map((a) => a.dataPort.close(true)));
      await Promise.all(apps.map((a) => a.current.handle.close()));
      for (const a of apps) this.released(a.current);
    });
  }

  /** A loaded version is closed: its folder, reservation and blobs go. */
  private released(v: AppVersion): void {
    this.ledger.release(v.reservation);
    try {
      this.deps.store.unlinkVersion(v.folder);
    } catch (e) {
      this.deps.log.warn({ err: (e as Error).message }, 'could not delete a version folder');
    }
    this.release(v.blobs);
  }

  /** Stored templates of versions no longer deployed are deleted (not at
   * shutdown: a restart maps the stored ones). */
  private pruneTemplates(): void {
    const keep = new Set<string>();
    for (const a of this.apps.values()) {
      const k = a.current.handle.templateKey?.();
      if (k) keep.add(k);
    }
    try {
      pruneTemplates(join(this.deps.config.dataDir, 'templates'), keep);
    } catch (e) {
      this.deps.log.warn({ err: (e as Error).message }, 'could not delete a stored template');
    }
  }

  /** A version is closed (or its deploy failed): delete the blobs nothing uses now. */
  private release(blobs: Record<string, string>): void {
    this.inUse.delete(blobs);
    this.sweepUnused();
  }

  /** Deletes the blobs no stored app and no loaded version uses. */
  sweepUnused(): void {
    if (this.closing) return; // the store closes right after the registry
    try {
      const deleted = this.deps.store.sweepBlobs([...this.inUse].flatMap((b) => Object.values(b)));
      if (deleted > 0) this.deps.log.debug({ deleted }, 'unreferenced blobs deleted');
    } catch (e) {
      // Only disk space is at stake; the next sweep retries.
      this.deps.log.warn({ err: (e as Error).message }, 'blob sweep failed');
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closing) throw new AtaruError('CLOSED', 'the server is shutting down');
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * This server's own limits (config.limits) and ports. What any definition
   * must satisfy — ranges, msg_len within shm_size, offsets, the DAG — is
   * src/app/validate.ts's alone, checked when the app loads (loadApp).
   */
  private checkLimits(def: AppDefinition, port: number): void {
    const { limits } = this.deps.config;
    const existing = this.apps.get(def.name);
    if (def.conn_type === 'raw') rawInterfaces(def, this.deps.config.rawInterface);
    if (def.msg_len > limits.maxMsgLen) {
      throw new AtaruError('BAD_DEFINITION', `msg_len ${def.msg_len} is over this server's limit of ${limits.maxMsgLen} bytes`, { field: 'msg_len' });
    }
    if (def.nodes.length > limits.maxNodes) {
      throw new AtaruError('BAD_DEFINITION', `${def.nodes.length} nodes exceed this server's limit of ${limits.maxNodes}`, { field: 'num_nodes' });
    }
    if (!existing && this.apps.size >= limits.maxApps) {
      throw new AtaruError('BUSY', `this server already runs ${this.apps.size} apps (limit ${limits.maxApps}); remove one first`);
    }
    if (port !== 0 && def.conn_type === 'raw') {
      const iface = rawInterfaces(def, this.deps.config.rawInterface).iface;
      const holder = this.list().find((a) => a.name !== def.name && a.dataPort instanceof RawPort && a.dataPort.iface === iface && a.dataPort.port === port);
      if (holder) throw new AtaruError('CONFLICT', `conn_port ${port} on ${iface} is already taken by raw app "${holder.name}"`, { field: 'conn_port' });
    } else if (port !== 0) {
      const holder = this.list().find((a) => a.name !== def.name && !(a.dataPort instanceof RawPort) && a.dataPort.port === port);
      if (holder) throw new AtaruError('CONFLICT', `conn_port ${port} is already used by app "${holder.name}"`, { field: 'conn_port' });
      if (this.deps.reservedPorts().includes(port)) {
        throw new AtaruError('CONFLICT', `conn_port ${port} is one of this server's own ports`, { field: 'conn_port' });
      }
    }
  }

  /** Bytes of a version's files: each instance maps its own copy of the images. */
  private imageBytes(blobs: Record<string, string>): number {
    let n = 0;
    for (const sha of new Set(Object.values(blobs))) n += statSync(this.deps.store.blobPath(sha)).size;
    return n;
  }

  private async deployNow(def: AppDefinition, blobs: Record<string, string>, port: number, opts: DeployOptions): Promise<DeployedApp> {
    const { store, metrics, log, config } = this.deps;
    this.checkLimits(def, port);
    const result = resultTarget(def, this.deps.resultAllow);
    const appLog = log.child({ app: def.name });
    const existingBefore = this.apps.get(def.name);
    // One ring per app name, kept across versions: a redeploy's log follows the old one's.
    const logs = existingBefore?.logs ?? new LogRing();
    const reservation = this.ledger.reserve(def.name, demandOf(def, this.imageBytes(blobs)));
    let folder: string | undefined;
    let handle: AppHandle;
    let loadOpts: LoadOptions;
    try {
      folder = store.linkVersion(blobs);
      const dir = folder;
      loadOpts = {
        resolve: (ref) => {
          const key = functionKey(ref);
          if (!blobs[key]) throw new AtaruError('INTERNAL', `no stored binary for function ${key}`);
          return join(dir, versionPath(key));
        },
        onLog: (l) => {
          appLog.info({ node: l.node, request: l.requestId }, l.message);
          logs.push({ kind: 'log', node: l.node >= 0 ? l.node : undefined, request: l.requestId, message: l.message });
        },
        queueBudget: this.queueBudget,
        maxOutputBytes: config.limits.maxOutputBytes,
        templateStore: { dir: join(config.dataDir, 'templates'), reinit: config.reinit },
      };
      handle = this.hooks.load ? await this.hooks.load(def, loadOpts, opts.origin ?? 'local') : await loadApp(def, loadOpts);
    } catch (e) {
      this.ledger.release(reservation);
      if (folder) store.unlinkVersion(folder);
      throw folder ? withoutFolder(e, folder) : e;
    }
    const version: AppVersion = {
      def,
      handle,
      blobs,
      result,
      folder,
      reservation,
      metrics: metrics.forApp(def.name, def.nodes.length),
    };
    metrics.coldStart(def.name, handle.stats().coldStartUs);

    const existing = this.apps.get(def.name);
    // A raw version replacing a raw one: the old packet path stops before the
    // new one starts (both sockets would take every frame), so frames
    // arriving in between are missed; on a failure the old one starts again.
    const oldRaw = existing?.dataPort instanceof RawPort ? existing.dataPort : undefined;
    let oldRawStopped = false;
    const samePort = existing && !oldRaw && def.conn_type !== 'raw' && (port === 0 || port === existing.dataPort.port);
    let dataPort: DataPort | RawPort | undefined;
    const app: DeployedApp = existing ?? ({ name: def.name, current: version, created: new Date().toISOString(), logs } as DeployedApp);
    try {
      if (def.conn_type === 'raw') {
        const raw = await RawPort.prepare(def, loadOpts, { ...rawInterfaces(def, config.rawInterface), result, log: appLog });
        dataPort = raw;
        if (oldRaw) {
          oldRawStopped = true;
          await oldRaw.stop();
        }
        raw.start();
      } else if (!samePort) {
        dataPort = await DataPort.open(app, config.host, port, {
          window: config.limits.maxInFlightPerConnection,
          maxConnections: config.limits.maxConnectionsPerApp,
          writeHighWater: 1024 * 1024,
          idleTimeoutMs: config.dataIdleTimeoutMs,
          requestTimeoutMs: config.dataRequestTimeoutMs,
          log: appLog,
        });
      }
      await this.hooks.commit?.(def, blobs, opts);
      store.save({ name: def.name, definition: def, blobs, port: dataPort?.port ?? existing!.dataPort.port });
    } catch (e) {
      await dataPort?.close(false);
      if (oldRawStopped) {
        try {
          oldRaw!.start();
        } catch (again) {
          appLog.error({ err: (again as Error).message }, 'the replaced raw app could not take frames again');
        }
      }
      await handle.close();
      this.ledger.release(reservation);
      store.unlinkVersion(folder);
      throw e;
    }

    if (!existing) {
      app.dataPort = dataPort!;
      app.created = store.created(def.name) ?? app.created;
      this.apps.set(def.name, app);
      this.hooks.changed?.(def.name, app);
      appLog.info({ port: app.dataPort.port, nodes: def.nodes.length, msgLen: def.msg_len }, 'app deployed');
      const where = app.dataPort instanceof RawPort ? `raw frames on ${app.dataPort.iface} to port ${app.dataPort.port}` : `data port ${app.dataPort.port}`;
      logs.push({ kind: 'event', message: `app deployed on ${where}` });
      return app;
    }
    // The swap: from here every new request runs on the new version.
    const old = existing.current;
    const oldPort = existing.dataPort;
    existing.current = version;
    if (dataPort) existing.dataPort = dataPort;
    this.hooks.changed?.(def.name, existing);
    appLog.info({ port: existing.dataPort.port }, 'app replaced');
    logs.push({ kind: 'event', message: `app replaced (data port ${existing.dataPort.port}); requests in flight finish on the old version` });
    void (async () => {
      // A moved port: its connections finish their in-flight requests and end.
      if (dataPort) await oldPort.close(true);
      await old.handle.close();
      this.released(old);
      // In turn with deploys: a deploy under way has stored its template but
      // is not listed yet.
      await this.serial(async () => this.pruneTemplates()).catch(() => undefined);
    })().catch((e) => appLog.error({ err: (e as Error).message }, 'closing the replaced version failed'));
    return existing;
  }
}

/**
 * The loader names files by the paths it was given: inside a version folder
 * that is server-internal. The client named them without it, so messages and
 * locations say `fixtures/f.elf`, not `<data>/loaded/v-x/fixtures/f.elf`.
 */
function withoutFolder(e: unknown, folder: string): unknown {
  if (!(e instanceof AtaruError)) return e;
  const strip = (t: string) => t.split(`${folder}/`).join('').split(folder).join('.');
  const loc = e.location ? { ...e.location, ...(e.location.file ? { file: strip(e.location.file) } : {}) } : undefined;
  return new AtaruError(e.code, strip(e.message), loc, e.details);
}
