/**
 * Deployed apps by name. Deploys, redeploys and removals run one at a time.
 * A deploy either completes (app loaded, data port open, row saved) or leaves
 * nothing behind. A redeploy loads the new version first, then swaps it in
 * (live-app.ts); requests in flight finish on the old version, which is then
 * closed. Once a removed or replaced version is closed, blobs nothing uses
 * any more are deleted (Store.sweepBlobs).
 */
import type { BlockList } from 'node:net';
import type { AppDefinition } from '../app/model.js';
import type { ServerConfig } from '../config.js';
import { AtaruError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadApp } from '../runtime/app.js';
import { DataPort } from './data-port.js';
import { functionKey } from './functions.js';
import type { AppVersion, LiveApp } from './live-app.js';
import { LogRing } from './log-ring.js';
import type { Metrics } from './metrics.js';
import { resultTarget } from './result-target.js';
import type { Store } from './store.js';

export interface DeployedApp extends LiveApp {
  readonly logs: LogRing;
  dataPort: DataPort;
  created: string;
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

  constructor(private readonly deps: RegistryDeps) {}

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

  /** Deploys or atomically replaces `def.name`; `port` overrides conn_port (restore). */
  deploy(def: AppDefinition, blobs: Record<string, string>, port?: number): Promise<DeployedApp> {
    // A copy: its identity is this deploy's entry in inUse.
    const own = { ...blobs };
    this.inUse.add(own);
    const run = this.serial(() => this.deployNow(def, own, port ?? def.conn_port));
    run.catch(() => this.release(own));
    return run;
  }

  remove(name: string): Promise<void> {
    return this.serial(async () => {
      const app = this.mustGet(name);
      this.apps.delete(name);
      this.deps.store.remove(name);
      app.logs.push({ kind: 'event', message: 'app removed' });
      app.logs.close();
      await app.dataPort.close(true);
      await app.current.handle.close();
      this.release(app.current.blobs);
      this.deps.log.info({ app: name }, 'app removed');
    });
  }

  /** Brings back every stored app on its port; a failing one is logged and skipped. */
  async restore(): Promise<void> {
    for (const row of this.deps.store.list()) {
      try {
        await this.deploy(row.definition, row.blobs, row.port);
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
    });
  }

  /** A version is closed (or its deploy failed): delete the blobs nothing uses now. */
  private release(blobs: Record<string, string>): void {
    this.inUse.delete(blobs);
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

  private checkLimits(def: AppDefinition, port: number): void {
    const { limits } = this.deps.config;
    const existing = this.apps.get(def.name);
    if (def.conn_type !== 'tcp') {
      throw new AtaruError('BAD_DEFINITION', `conn_type "${def.conn_type}" is not served (raw AF_PACKET sockets are not supported); use tcp`, { field: 'conn_type' });
    }
    if (!Number.isInteger(def.msg_len) || def.msg_len < 1 || def.msg_len > limits.maxMsgLen) {
      throw new AtaruError('BAD_DEFINITION', `msg_len ${def.msg_len} is out of range: 1..${limits.maxMsgLen} bytes`, { field: 'msg_len' });
    }
    if (def.msg_len > def.shm_size) {
      throw new AtaruError('BAD_DEFINITION', `msg_len ${def.msg_len} exceeds the shared region (${def.shm_size} bytes)`, { field: 'msg_len' });
    }
    if (def.nodes.length > limits.maxNodes) {
      throw new AtaruError('BAD_DEFINITION', `${def.nodes.length} nodes exceed this server's limit of ${limits.maxNodes}`, { field: 'num_nodes' });
    }
    if (!existing && this.apps.size >= limits.maxApps) {
      throw new AtaruError('BUSY', `this server already runs ${this.apps.size} apps (limit ${limits.maxApps}); remove one first`);
    }
    if (port !== 0) {
      const holder = this.list().find((a) => a.name !== def.name && a.dataPort.port === port);
      if (holder) throw new AtaruError('CONFLICT', `conn_port ${port} is already used by app "${holder.name}"`, { field: 'conn_port' });
      if (this.deps.reservedPorts().includes(port)) {
        throw new AtaruError('CONFLICT', `conn_port ${port} is one of this server's own ports`, { field: 'conn_port' });
      }
    }
  }

  private async deployNow(def: AppDefinition, blobs: Record<string, string>, port: number): Promise<DeployedApp> {
    const { store, metrics, log, config } = this.deps;
    this.checkLimits(def, port);
    const result = resultTarget(def, this.deps.resultAllow);
    const appLog = log.child({ app: def.name });
    const existingBefore = this.apps.get(def.name);
    // One ring per app name, kept across versions: a redeploy's log follows the old one's.
    const logs = existingBefore?.logs ?? new LogRing();
    const handle = await loadApp(def, {
      resolve: (ref) => {
        const sha = blobs[functionKey(ref)];
        if (!sha) throw new AtaruError('INTERNAL', `no stored binary for function ${functionKey(ref)}`);
        return store.blobPath(sha);
      },
      onLog: (l) => {
        appLog.info({ node: l.node, request: l.requestId }, l.message);
        logs.push({ kind: 'log', node: l.node >= 0 ? l.node : undefined, request: l.requestId, message: l.message });
      },
    });
    const version: AppVersion = { def, handle, blobs, result, metrics: metrics.forApp(def.name, def.nodes.length) };
    metrics.coldStart(def.name, handle.stats().coldStartUs);

    const existing = this.apps.get(def.name);
    const samePort = existing && (port === 0 || port === existing.dataPort.port);
    let dataPort: DataPort | undefined;
    const app: DeployedApp = existing ?? ({ name: def.name, current: version, created: new Date().toISOString(), logs } as DeployedApp);
    try {
      if (!samePort) {
        dataPort = await DataPort.open(app, config.host, port, {
          window: config.limits.maxInFlightPerConnection,
          maxConnections: config.limits.maxConnectionsPerApp,
          writeHighWater: 1024 * 1024,
          log: appLog,
        });
      }
      store.save({ name: def.name, definition: def, blobs, port: dataPort?.port ?? existing!.dataPort.port });
    } catch (e) {
      await dataPort?.close(false);
      await handle.close();
      throw e;
    }

    if (!existing) {
      app.dataPort = dataPort!;
      app.created = store.created(def.name) ?? app.created;
      this.apps.set(def.name, app);
      appLog.info({ port: app.dataPort.port, nodes: def.nodes.length, msgLen: def.msg_len }, 'app deployed');
      logs.push({ kind: 'event', message: `app deployed on data port ${app.dataPort.port}` });
      return app;
    }
    // The swap: from here every new request runs on the new version.
    const old = existing.current;
    const oldPort = existing.dataPort;
    existing.current = version;
    if (dataPort) existing.dataPort = dataPort;
    appLog.info({ port: existing.dataPort.port }, 'app replaced');
    logs.push({ kind: 'event', message: `app replaced (data port ${existing.dataPort.port}); requests in flight finish on the old version` });
    void (async () => {
      // A moved port: its connections finish their in-flight requests and end.
      if (dataPort) await oldPort.close(true);
      await old.handle.close();
      this.release(old.blobs);
    })().catch((e) => appLog.error({ err: (e as Error).message }, 'closing the replaced version failed'));
    return existing;
  }
}
