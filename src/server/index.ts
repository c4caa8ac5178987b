/**
 * The functions server in-process: control port, one data port per app,
 * HTTP API, persistence. `ataru serve` and the tests/benchmarks all start it
 * through startServer().
 */
import type { FastifyInstance } from 'fastify';
import type { AppDefinition } from '../app/model.js';
import { checkListenHost, makeConfig, type ServerConfig, type ServerConfigInput } from '../config.js';
import { log as rootLog } from '../log.js';
import { startControlPort, type ControlPort } from './control-port.js';
import { buildHttpApi } from './http-api.js';
import { RawPort } from './raw-port.js';
import { registerRawMetrics } from './raw-metrics.js';
import { Metrics } from './metrics.js';
import { readFromRoots, storeFunctions } from './functions.js';
import { AppRegistry, type DeployedApp } from './registry.js';
import { makeAllowList } from './result-target.js';
import { Store } from './store.js';
import { kvmStatus } from '../runtime/kvm.js';
import { startClusterNode, type ClusterNode } from '../cluster/node.js';
import { AtaruError } from '../errors.js';
import { lockDataDir } from './data-dir-lock.js';
import { mkdirSync } from 'node:fs';

export interface RunningServer {
  readonly config: ServerConfig;
  /** Actual ports (useful with port 0); undefined when disabled. */
  readonly controlPort?: number;
  readonly httpPort?: number;
  readonly registry: AppRegistry;
  /** The node's side of the cluster when started with `nats` (src/cluster/). */
  readonly cluster?: ClusterNode;
  /** Deploys in-process, reading functions from the function roots (as the control port does). */
  deploy(def: AppDefinition): Promise<DeployedApp>;
  /** Stops accepting, lets in-flight requests finish, closes every app. */
  close(): Promise<void>;
}

export async function startServer(input: ServerConfigInput | ServerConfig = {}): Promise<RunningServer> {
  const config = makeConfig(input);
  await checkListenHost(config);
  const log = rootLog.child({ component: 'server' });
  mkdirSync(config.dataDir, { recursive: true });
  const unlock = lockDataDir(config.dataDir);
  let store: Store;
  try {
    store = new Store(config.dataDir);
  } catch (e) {
    unlock();
    throw e;
  }
  let control: ControlPort | undefined;
  let http: FastifyInstance | undefined;
  let cluster: ClusterNode | undefined;
  const ports = { control: undefined as number | undefined, http: undefined as number | undefined };

  const metrics: Metrics = new Metrics(
    () => registry.list().map((a) => a.current.handle.stats()),
    () => registry.resources(),
  );
  registerRawMetrics(metrics.registry, () =>
    registry.list().flatMap((a) => {
      const counters = a.dataPort instanceof RawPort ? a.dataPort.counters() : undefined;
      return counters ? [{ app: a.name, counters }] : [];
    }),
  );
  const registry: AppRegistry = new AppRegistry({
    config,
    store,
    log,
    metrics,
    resultAllow: makeAllowList(config.resultAllow),
    reservedPorts: () => [ports.control, ports.http].filter((p): p is number => p !== undefined),
  });

  try {
    // Before any deploy can arrive: a crash between a row's update and the
    // unlink of its old blobs leaves files nothing references. A cluster node
    // keeps them until it has caught up: they are its cache of the cluster's binaries.
    if (!config.nats) store.sweepBlobs();
    if (config.controlPort !== null) {
      control = await startControlPort({ config, registry, store, log }, config.controlPort);
      ports.control = control.port;
    }
    if (config.httpPort !== null) {
      http = await buildHttpApi({ config, registry, store, metrics, log, cluster: () => cluster });
      await http.listen({ host: config.host, port: config.httpPort }).catch((e: NodeJS.ErrnoException) => {
        throw new AtaruError(
          'CONFLICT',
          e.code === 'EADDRINUSE'
            ? `cannot listen on the HTTP API port ${config.host}:${config.httpPort}: it is in use (EADDRINUSE) — another ataru serve? choose one with --http-port, or --no-http`
            : `cannot listen on the HTTP API port ${config.host}:${config.httpPort}: ${e.message}`,
        );
      });
      ports.http = (http.server.address() as { port: number }).port;
    }
    if (config.nats) {
      // The shared registry is the truth: this node's rows are only its cache.
      cluster = await startClusterNode({
        config,
        registry,
        store,
        metrics,
        log,
        httpUrl: () => (ports.http !== undefined ? `http://${config.host}:${ports.http}` : undefined),
      });
      for (const row of store.list()) if (!registry.get(row.name)) store.remove(row.name);
      registry.sweepUnused();
    } else await registry.restore();
  } catch (e) {
    await control?.close();
    await http?.close();
    await registry.close();
    await cluster?.close();
    store.close();
    unlock();
    throw e;
  }
  log.info({ host: config.host, controlPort: ports.control, httpPort: ports.http, dataDir: config.dataDir, apps: registry.list().length }, 'listening');
  // Without KVM the server still answers (definitions can be checked, the API
  // listed), but no app can run: say so once, loudly, at start.
  const kvm = kvmStatus();
  if (!kvm.usable) log.warn({ kvm: kvm.code }, `KVM is not usable: ${kvm.message}`);

  let closing: Promise<void> | undefined;
  return {
    config,
    controlPort: ports.control,
    httpPort: ports.http,
    registry,
    cluster,
    deploy: async (def) => {
      const files = await readFromRoots(def, config.functionRoots, config.limits.maxFunctionBytes);
      return registry.deploy(def, storeFunctions(files, store), { by: 'in-process' });
    },
    close() {
      closing ??= (async () => {
        // A node first leaves the queue groups (NATS sends new requests elsewhere) and finishes what it took.
        await cluster?.drain();
        await Promise.all([control?.close(), http?.close(), registry.close()]);
        await cluster?.close();
        store.close();
        unlock();
        log.info('stopped');
      })();
      return closing;
    },
  };
}
