/**
 * The cluster's app registry: a JetStream KV bucket, mirrored into this
 * node's AppRegistry.
 *
 * Writing: a deploy through this node's API loads the version here first
 * (so a bad binary fails before anything is shared), then — inside the
 * registry's commit step, before the swap — uploads the binaries and writes
 * the entry with compare-and-set on the revision it read: of two concurrent
 * deploys of one name, one fails with CONFLICT and nothing of it stays.
 *
 * Reading: a watch on the bucket delivers every entry's last value, then each
 * change, in revision order. An entry newer than what this node applied is
 * loaded (binaries fetched by hash, verified, kept in the data dir), swapped
 * in, or removed. The check and the apply run inside AppRegistry.exclusive(),
 * so a local deploy and the watcher never interleave; entries this node wrote
 * itself are recognised by their revision and skipped. On start and after
 * every reconnect the watch starts over (catch-up), and apps the bucket no
 * longer holds are removed.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { AppDefinition } from '../app/model.js';
import { AtaruError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AppRegistry, DeployOptions } from '../server/registry.js';
import type { BlobSync } from './blobs.js';
import { appFromToken, appToken, names } from './names.js';
import { decodeEntry, encodeEntry, type RegistryEntry } from './registry-entry.js';

export interface SharedRegistryDeps {
  nc: NatsConnection;
  cluster: string;
  node: string;
  replicas: number;
  registry: AppRegistry;
  blobs: () => BlobSync;
  log: Logger;
}

export interface KnownApp extends RegistryEntry {
  revision: number;
}

const CATCH_UP_WARN_MS = 30_000;

export class SharedRegistry {
  private kv!: KV;
  /** name -> bucket revision of the entry the local registry holds (or removed). */
  private readonly applied = new Map<string, number>();
  /** Every app in the bucket, as last seen (ls --cluster, forwarding, retry rule). */
  readonly known = new Map<string, KnownApp>();
  private chain: Promise<void> = Promise.resolve();
  private watcher?: { stop(): void };
  private closed = false;

  constructor(private readonly deps: SharedRegistryDeps) {}

  async open(): Promise<void> {
    this.kv = await new Kvm(this.deps.nc).create(names(this.deps.cluster).bucket, { replicas: this.deps.replicas, history: 5 });
  }

  /** name -> cluster version the local registry holds. */
  private readonly localVersion = new Map<string, number>();

  /** The cluster version of the app as applied here (0: none). */
  versionOf(name: string): number {
    return this.localVersion.get(name) ?? 0;
  }

  // ---- writing (the registry's hooks) ----

  /** The commit step of a local deploy: binaries, then the entry with compare-and-set. */
  async commit(def: AppDefinition, blobs: Record<string, string>, opts: DeployOptions): Promise<void> {
    if (opts.origin === 'cluster') return;
    await this.deps.blobs().upload(blobs);
    const key = appToken(def.name);
    const cur = await this.kv.get(key);
    const prev = cur && cur.operation === 'PUT' ? decodeEntry(cur.string(), key) : undefined;
    const now = new Date().toISOString();
    const entry: RegistryEntry = {
      name: def.name,
      definition: def,
      blobs,
      version: (prev?.version ?? 0) + 1,
      created: prev?.created ?? now,
      updated: now,
      deployer: `${this.deps.node} (${opts.by ?? 'api'})`,
    };
    let revision: number;
    try {
      revision = cur ? await this.kv.update(key, encodeEntry(entry), cur.revision) : await this.kv.create(key, encodeEntry(entry));
    } catch (e) {
      const now = await this.kv.get(key).catch(() => null);
      const by = now?.operation === 'PUT' ? ` (now version ${decodeEntry(now.string(), key).version}, by ${decodeEntry(now.string(), key).deployer})` : '';
      throw new AtaruError('CONFLICT', `app "${def.name}" changed in cluster ${this.deps.cluster} while this deploy was under way${by}; nothing of this deploy was kept: deploy again (${(e as Error).message})`);
    }
    this.applied.set(def.name, revision);
    this.localVersion.set(def.name, entry.version);
    this.known.set(def.name, { ...entry, revision });
  }

  async removing(name: string, origin: 'local' | 'cluster'): Promise<void> {
    if (origin === 'cluster') return;
    await this.kv.delete(appToken(name));
    this.known.delete(name);
  }

  // ---- reading ----

  /** Starts (or restarts) the watch; resolves once every entry present now was applied. */
  async catchUp(): Promise<void> {
    this.watcher?.stop();
    const status = await this.kv.status();
    const last = status.streamInfo.state;
    const w = await this.kv.watch({ key: '>' });
    this.watcher = w;
    let caughtUp!: () => void;
    const done = new Promise<void>((r) => (caughtUp = r));
    if (last.messages === 0) caughtUp();
    void (async () => {
      for await (const e of w) {
        this.enqueue(e, e.revision >= last.last_seq ? caughtUp : undefined);
      }
    })().catch((e: Error) => this.deps.log.warn({ err: e.message }, 'cluster: registry watch ended'));
    // Apps this node holds that the bucket no longer has (removed while we were away).
    const present = new Set<string>();
    if (last.messages > 0) for await (const k of await this.kv.keys()) present.add(appFromToken(k));
    for (const a of this.deps.registry.list()) {
      if (!present.has(a.name)) this.enqueueRemoval(a.name, last.last_seq);
    }
    // Bounded: a node that cannot finish catching up still starts (and keeps applying as entries arrive).
    let slow: NodeJS.Timeout | undefined;
    const late = new Promise<void>((r) => {
      slow = setTimeout(() => {
        this.deps.log.warn('cluster: still catching up with the registry bucket; starting anyway');
        r();
      }, CATCH_UP_WARN_MS);
    });
    await Promise.race([done.then(() => this.chain), late]);
    clearTimeout(slow);
  }

  private enqueue(e: KvEntry, after?: () => void): void {
    this.chain = this.chain
      .then(() => this.apply(e))
      .catch((err: Error) => this.deps.log.error({ key: e.key, revision: e.revision, err: err.message }, 'cluster: could not apply a registry change'))
      .finally(() => after?.());
  }

  private enqueueRemoval(name: string, revision: number): void {
    this.chain = this.chain
      .then(() => this.removeIfOlder(name, revision))
      .catch((err: Error) => this.deps.log.error({ app: name, err: err.message }, 'cluster: could not remove an app'));
  }

  private async apply(e: KvEntry): Promise<void> {
    if (this.closed) return;
    const name = appFromToken(e.key);
    if (e.operation !== 'PUT') {
      this.known.delete(name);
      return this.removeIfOlder(name, e.revision);
    }
    const entry = decodeEntry(e.string(), e.key);
    this.known.set(name, { ...entry, revision: e.revision });
    if ((this.applied.get(name) ?? 0) >= e.revision) return;
    const sync = this.deps.blobs();
    // Fetched outside the exclusive section; stored and deployed inside it in one synchronous run.
    for (let tries = 0; tries < 3; tries++) {
      const fetched = await sync.fetch(sync.missing(entry.blobs), name);
      const applied = await this.deps.registry.exclusive(async () => {
        if ((this.applied.get(name) ?? 0) >= e.revision) return true;
        sync.keep(fetched);
        if (sync.missing(entry.blobs).length > 0) return false; // swept meanwhile: fetch again
        try {
          await this.deps.registry.deployInside(entry.definition, entry.blobs, { origin: 'cluster', by: entry.deployer });
        } catch (err) {
          // This node cannot serve this version at all: never keep an older one serving.
          this.deps.log.error({ app: name, version: entry.version, err: (err as Error).message }, 'cluster: cannot load this version here');
          if (this.deps.registry.get(name)) await this.deps.registry.removeInside(name, 'cluster');
        }
        this.applied.set(name, e.revision);
        this.localVersion.set(name, entry.version);
        return true;
      });
      if (applied) {
        this.deps.log.info({ app: name, version: entry.version, revision: e.revision, deployer: entry.deployer }, 'cluster: app version applied');
        return;
      }
    }
    throw new AtaruError('INTERNAL', `app "${name}": its binaries kept disappearing from the blob folder`);
  }

  private removeIfOlder(name: string, revision: number): Promise<void> {
    return this.deps.registry.exclusive(async () => {
      if ((this.applied.get(name) ?? 0) >= revision) return;
      this.applied.set(name, revision);
      this.localVersion.delete(name);
      if (this.deps.registry.get(name)) {
        await this.deps.registry.removeInside(name, 'cluster');
        this.deps.log.info({ app: name, revision }, 'cluster: app removed');
      }
    });
  }

  close(): void {
    this.closed = true;
    this.watcher?.stop();
  }
}
