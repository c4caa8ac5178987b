/**
 * `ataru serve`: the functions server. Defaults: control port 9988 (the
 * original's), HTTP API 9990, data dir ~/.ataru, all on 127.0.0.1. Flags lay
 * over an optional JSON config file (src/config.ts). SIGTERM/SIGINT stop
 * accepting, let in-flight requests finish, close the apps and exit 0.
 */
import { Command, Option } from 'commander';
import { DEFAULT_CONTROL_PORT, DEFAULT_HOST, DEFAULT_HTTP_PORT, FORWARD_MODES, loadConfig, type ServerConfigInput } from '../../config.js';
import { startServer } from '../../server/index.js';
import { collect, int } from '../args.js';


interface ServeFlags {
  json?: boolean;
  config?: string;
  host?: string;
  controlPort?: number;
  httpPort?: number;
  control: boolean;
  http: boolean;
  dataDir?: string;
  reinit?: boolean;
  functionRoot?: string[];
  allowRemoteDeploy?: boolean;
  resultAllow?: string[];
  rawInterface?: string[];
  token?: string;
  controlTimeout?: number;
  dataIdleTimeout?: number;
  dataRequestTimeout?: number;
  httpRequestTimeout?: number;
  httpIdleTimeout?: number;
  maxMsgLen?: number;
  maxApps?: number;
  maxConnections?: number;
  maxInFlight?: number;
  maxGuestMemory?: number;
  maxInstances?: number;
  maxVcpuThreads?: number;
  maxQueuedBytes?: number;
  maxOutput?: number;
  nats?: string[];
  natsCreds?: string;
  cluster?: string;
  nodeName?: string;
  forward?: (typeof FORWARD_MODES)[number];
  clusterTimeout?: number;
  clusterServe: boolean;
}

/** --nats is repeatable and ATARU_NATS may hold several URLs, comma-separated. */
export function natsUrls(values: string[] | undefined): string[] | undefined {
  const urls = (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  return urls.length ? urls : undefined;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the functions server: control port (original protocol), data ports, HTTP API')
    .option('-c, --config <file>', 'JSON config file (flags override it)')
    .option('--host <addr>', `address for every listener (default ${DEFAULT_HOST})`)
    .option('--control-port <port>', `control port, 0 = any (default ${DEFAULT_CONTROL_PORT})`, int)
    .option('--no-control', 'do not open the control port')
    .option('--http-port <port>', `HTTP API port, 0 = any (default ${DEFAULT_HTTP_PORT})`, int)
    .option('--no-http', 'do not open the HTTP API')
    .option('--data-dir <dir>', 'apps and function blobs (default ~/.ataru)')
    .option('--reinit', "run each app's ataru_init again instead of using its stored template")
    .option('--function-root <dir>', 'folder control-port definitions may load functions from (repeatable; default: cwd)', collect)
    .option('--allow-remote-deploy', 'accept control-port deploys from non-loopback peers')
    .option('--result-allow <cidr>', 'allowed result_ip targets (repeatable; default loopback)', collect)
    .option('--raw-interface <iface>', 'an interface raw apps (conn_type raw) may use; the first is their default (repeatable; needs root or CAP_NET_RAW)', collect)
    .addOption(new Option('--token <token>', 'bearer token for the HTTP API (required off loopback)').env('ATARU_TOKEN'))
    .option('--control-timeout <ms>', 'time a control client has, from connecting, to send its definition', int)
    .option('--data-idle-timeout <ms>', 'close a data connection with nothing in flight after this long without traffic', int)
    .option('--data-request-timeout <ms>', "time a data-port request's bytes have to arrive, from its first", int)
    .option('--http-request-timeout <ms>', 'time an HTTP request (headers and body) has to arrive', int)
    .option('--http-idle-timeout <ms>', 'close an idle keep-alive HTTP connection after this long', int)
    .option('--max-msg-len <bytes>', 'largest msg_len an app may declare', int)
    .option('--max-apps <n>', 'most apps deployed at once', int)
    .option('--max-connections <n>', 'most data connections per app', int)
    .option('--max-in-flight <n>', 'requests in flight per data connection', int)
    .option('--max-guest-memory <bytes>', 'guest memory all instances together may reserve (shm + overhead)', int)
    .option('--max-instances <n>', 'VM instances of all apps together', int)
    .option('--max-vcpu-threads <n>', 'vCPU threads of all instances together', int)
    .option('--max-queued-bytes <bytes>', 'input bytes of all requests waiting for an instance', int)
    .option('--max-output <bytes>', 'total sink output of one request (OUTPUT_TOO_LARGE beyond)', int)
    .addOption(new Option('--nats <url>', 'join a cluster through this NATS server (repeatable; several URLs of one NATS cluster)').env('ATARU_NATS').argParser(collect))
    .option('--nats-creds <file>', 'NATS credentials file (.creds)')
    .option('--cluster <name>', 'cluster name: nodes with the same name share apps (default ataru)')
    .option('--node-name <name>', "this node's name in the cluster (default host:pid)")
    .addOption(new Option('--forward <when>', 'send invocations to the cluster when the app has no local instances (absent, default), also when they are all busy (saturated), or never').choices(FORWARD_MODES))
    .option('--cluster-timeout <ms>', 'how long a forwarded request waits for a node before it is retried or fails (default 10000)', int)
    .option('--no-cluster-serve', 'run no app on this node: forward every invocation to the cluster')
    .option('--json', 'print where it listens as one JSON line; errors as {code, message}')
    .action(async (f: ServeFlags) => {
      const servers = natsUrls(f.nats);
      const flags: ServerConfigInput = {
        host: f.host,
        controlPort: f.control ? f.controlPort : null,
        httpPort: f.http ? f.httpPort : null,
        dataDir: f.dataDir,
        reinit: f.reinit,
        functionRoots: f.functionRoot,
        allowRemoteDeploy: f.allowRemoteDeploy,
        resultAllow: f.resultAllow,
        rawInterface: f.rawInterface,
        token: f.token,
        controlTimeoutMs: f.controlTimeout,
        dataIdleTimeoutMs: f.dataIdleTimeout,
        dataRequestTimeoutMs: f.dataRequestTimeout,
        httpRequestTimeoutMs: f.httpRequestTimeout,
        httpIdleTimeoutMs: f.httpIdleTimeout,
        limits: {
          maxMsgLen: f.maxMsgLen,
          maxApps: f.maxApps,
          maxConnectionsPerApp: f.maxConnections,
          maxInFlightPerConnection: f.maxInFlight,
          maxGuestMemoryBytes: f.maxGuestMemory,
          maxInstances: f.maxInstances,
          maxVcpuThreads: f.maxVcpuThreads,
          maxQueuedBytes: f.maxQueuedBytes,
          maxOutputBytes: f.maxOutput,
        },
        nats: servers || f.natsCreds ? { servers: servers!, credentials: f.natsCreds } : undefined,
        cluster: {
          name: f.cluster,
          node: f.nodeName,
          forward: f.forward,
          timeoutMs: f.clusterTimeout,
          serve: f.clusterServe ? undefined : false,
        },
      };
      const server = await startServer(loadConfig(f.config, flags));
      const { host, dataDir } = server.config;
      const out = process.stdout;
      if (f.json) {
        out.write(`${JSON.stringify({ host, controlPort: server.controlPort ?? null, httpPort: server.httpPort ?? null, dataDir, apps: server.registry.list().map((a) => ({ name: a.name, port: a.dataPort.port })) })}\n`);
      } else {
        if (server.controlPort !== undefined) out.write(`control port  ${host}:${server.controlPort}  (binary, template or JSON definitions)\n`);
        if (server.httpPort !== undefined) out.write(`HTTP API      http://${host}:${server.httpPort}  (OpenAPI: /openapi.json)\n`);
        out.write(`data dir      ${dataDir}\n`);
        if (server.cluster) out.write(`cluster       ${server.cluster.cluster} as node ${server.cluster.node} (NATS ${server.config.nats!.servers.join(', ')})\n`);
        for (const a of server.registry.list()) out.write(`app           ${a.name} on port ${a.dataPort.port}\n`);
      }

      let stopping = false;
      const stop = (sig: string) => {
        if (stopping) {
          process.stderr.write(`ataru: ${sig} again, exiting without waiting\n`);
          process.exit(1);
        }
        stopping = true;
        process.stderr.write(`ataru: ${sig}: finishing in-flight requests\n`);
        server.close().then(
          () => process.exit(0),
          (e: Error) => {
            process.stderr.write(`ataru: shutdown failed: ${e.message}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
