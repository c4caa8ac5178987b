/**
 * A server as a node of an Ataru cluster (`ataru serve --nats URL`): the one
 * place src/server calls into. It connects to NATS, mirrors the shared
 * registry into the node's AppRegistry through RegistryHooks, serves
 * `<cluster>.invoke.<app>` for the apps it runs, forwards requests it cannot
 * or should not run here, and answers status requests.
 *
 * Shutdown is in two steps: drain() before the listeners close (unsubscribe,
 * so NATS sends new requests to the other nodes; finish the ones here), and
 * close() after them (the connection stays up meanwhile, for requests this
 * node is still forwarding).
 */
import { hostname } from 'node:os';
import { Objm } from '@nats-io/obj';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Counter, Gauge } from 'prom-client';
import type { ServerConfig } from '../config.js';
import { AtaruError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadApp } from '../runtime/app.js';
import type { RunResult } from '../runtime/types.js';
import type { Metrics } from '../server/metrics.js';
import type { AppRegistry } from '../server/registry.js';
import type { Store } from '../server/store.js';
import { BlobSync } from './blobs.js';
import { ClusterClient } from './client.js';
import { connectNats } from './connect.js';
import { ClusterHandle, localOf } from './handle.js';
import { InvokeServer } from './invoke-server.js';
import { names } from './names.js';
import { SharedRegistry } from './shared-registry.js';
import { answerStatus, gatherStatus, type ClusterView, type NodeStatus } from './status.js';

export interface ClusterNodeDeps {
  config: ServerConfig;
  registry: AppRegistry;
  store: Store;
  metrics: Metrics;
  log: Logger;
  /** This node's HTTP API URL once it listens (for the status table). */
  httpUrl: () => string | undefined;
}

export interface ClusterHealth {
  cluster: string;
  node: string;
  connected: boolean;
  server?: string;
  /** Last connection event: connected, disconnect, reconnecting, reconnect. */
  state: string;
  reconnects: number;
}

export interface ClusterNode {
  readonly cluster: string;
  readonly node: string;
  health(): ClusterHealth;
  view(): Promise<ClusterView>;
  /** Whether the shared registry has this app. */
  knows(name: string): boolean;
  /** For an app the cluster has but this node does not hold at all. */
  invokeElsewhere(name: string, input: Buffer): Promise<RunResult>;
  drain(): Promise<void>;
  close(): Promise<void>;
}

export async function startClusterNode(deps: ClusterNodeDeps): Promise<ClusterNode> {
  const { config, registry, store, metrics } = deps;
  const nats = config.nats!;
  const cluster = config.cluster.name;
  const node = config.cluster.node ?? `${hostname()}:${process.pid}`;
  const log = deps.log.child({ cluster, node });
  const nc: NatsConnection = await connectNats(nats, { name: `ataru ${cluster}/${node}` });
  const health = { state: 'connected', reconnects: 0, connected: true };

  try {
    const os = await new Objm(nc).create(names(cluster).blobs, { replicas: nats.replicas });
    const blobs = new BlobSync(os, store);
    const shared = new SharedRegistry({ nc, cluster, node, replicas: nats.replicas, registry, blobs: () => blobs, log });
    await shared.open();
    const client = new ClusterClient(nc, cluster);
    const forwarded = new Map<string, number>();
    const forward = async (def: { name: string; state: string }, input: Buffer): Promise<RunResult> => {
      const t0 = process.hrtime.bigint();
      forwarded.set(def.name, (forwarded.get(def.name) ?? 0) + 1);
      const r = await client.invoke(def.name, input, { stateless: def.state !== 'keep', timeoutMs: config.cluster.timeoutMs });
      return { output: r.output, sinkLengths: r.sinkLengths, dagNs: r.dagNs, nodeNs: [], runNs: Number(process.hrtime.bigint() - t0), queueNs: 0, instance: -1 };
    };
    const invokes = new InvokeServer({ nc, cluster, node, registry, versionOf: (n) => shared.versionOf(n), log });

    registry.hooks = {
      async load(def, opts, origin) {
        let local;
        if (config.cluster.serve) {
          try {
            local = await loadApp(def, opts);
          } catch (e) {
            // A deploy through this node must fail; a version from the cluster is served by the others.
            if (origin === 'local') throw e;
            log.warn({ app: def.name, err: (e as Error).message }, 'cluster: cannot run this app here; forwarding its requests');
          }
        }
        return new ClusterHandle(def, local, forward, config.cluster.forward);
      },
      commit: (def, b, opts) => shared.commit(def, b, opts),
      removing: (name, origin) => shared.removing(name, origin),
      changed: (name, app) => invokes.sync(name, app),
    };

    const self = (): NodeStatus => ({
      node,
      http: deps.httpUrl(),
      apps: registry.list().map((a) => ({
        name: a.name,
        version: shared.versionOf(a.name),
        instances: a.current.handle.stats().instances.total,
        local: !!localOf(a.current.handle),
      })),
    });
    const statusSub: Subscription = answerStatus(nc, cluster, self);

    metrics.registry.setDefaultLabels({ cluster, node });
    const registers = [metrics.registry];
    new Gauge({ name: 'ataru_cluster_connected', help: '1 while this node is connected to NATS', registers, collect() { this.set(health.connected ? 1 : 0); } });
    new Counter({ name: 'ataru_cluster_reconnects_total', help: 'Reconnections to NATS', registers, collect() { this.reset(); this.inc(health.reconnects); } });
    new Counter({ name: 'ataru_cluster_forwarded_total', help: 'Requests this node sent to the cluster, by app', labelNames: ['app'], registers, collect() { this.reset(); for (const [app, n] of forwarded) this.inc({ app }, n); } });
    new Counter({ name: 'ataru_cluster_retries_total', help: 'Forwarded requests retried on another node (no reply in time, no responders, node closing)', registers, collect() { this.reset(); this.inc(client.counters.retries); } });
    new Counter({ name: 'ataru_cluster_forward_failures_total', help: 'Forwarded requests that got no node reply at all', registers, collect() { this.reset(); this.inc(client.counters.failures); } });

    // Catch up before startServer returns: a node started later serves every app without a deploy.
    await shared.catchUp();
    log.info({ apps: registry.list().length, servers: nats.servers }, 'cluster: joined');

    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnecting' || s.type === 'reconnect') health.state = s.type;
        if (s.type === 'disconnect') {
          health.connected = false;
          log.warn('cluster: NATS connection lost; reconnecting');
        } else if (s.type === 'reconnect') {
          health.connected = true;
          health.reconnects++;
          log.info('cluster: reconnected to NATS; catching up with the registry');
          shared.catchUp().catch((e: Error) => log.error({ err: e.message }, 'cluster: catch-up after reconnect failed'));
        }
      }
    })().catch(() => undefined);

    let drained: Promise<void> | undefined;
    return {
      cluster,
      node,
      health: () => ({ cluster, node, connected: health.connected && !nc.isClosed(), server: nc.getServer(), state: nc.isClosed() ? 'closed' : health.state, reconnects: health.reconnects }),
      async view() {
        const nodes = await gatherStatus(nc, cluster);
        const apps = [...shared.known.values()]
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((k) => ({
            name: k.name,
            version: k.version,
            deployer: k.deployer,
            created: k.created,
            updated: k.updated,
            nodes: nodes.flatMap((n) => n.apps.filter((a) => a.name === k.name).map((a) => ({ node: n.node, version: a.version, instances: a.instances, local: a.local }))),
          }));
        return { cluster, nodes, apps };
      },
      knows: (name) => shared.known.has(name),
      invokeElsewhere(name, input) {
        const k = shared.known.get(name);
        if (!k) return Promise.reject(new AtaruError('NOT_FOUND', `no app named "${name}" in cluster ${cluster}`));
        if (config.cluster.forward === 'never') return Promise.reject(new AtaruError('CLOSED', `app "${name}" does not run on this node and forwarding is off (cluster.forward: never)`));
        return forward({ name, state: k.definition.state }, input);
      },
      drain() {
        drained ??= (async () => {
          shared.close(); // a closing registry applies no more changes
          await statusSub.drain().catch(() => undefined);
          await invokes.drain();
        })();
        return drained;
      },
      async close() {
        shared.close();
        await nc.drain().catch(() => nc.close());
      },
    };
  } catch (e) {
    await nc.close();
    throw e instanceof AtaruError ? e : new AtaruError('CLOSED', `cluster ${cluster}: cannot set up the shared registry in NATS JetStream (is the server started with -js?): ${(e as Error).message}`);
  }
}
