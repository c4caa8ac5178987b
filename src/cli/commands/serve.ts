/**
 * `ataru serve`: the functions server. Defaults: control port 9988 (the
 * original's), HTTP API 9990, data dir ~/.ataru, all on 127.0.0.1. Flags lay
 * over an optional JSON config file (src/config.ts). SIGTERM/SIGINT stop
 * accepting, let in-flight requests finish, close the apps and exit 0.
 */
import { Command, Option } from 'commander';
import { DEFAULT_CONTROL_PORT, DEFAULT_HOST, DEFAULT_HTTP_PORT, loadConfig, type ServerConfigInput } from '../../config.js';
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
  functionRoot?: string[];
  allowRemoteDeploy?: boolean;
  resultAllow?: string[];
  token?: string;
  controlTimeout?: number;
  maxMsgLen?: number;
  maxApps?: number;
  maxConnections?: number;
  maxInFlight?: number;
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
    .option('--function-root <dir>', 'folder control-port definitions may load functions from (repeatable; default: cwd)', collect)
    .option('--allow-remote-deploy', 'accept control-port deploys from non-loopback peers')
    .option('--result-allow <cidr>', 'allowed result_ip targets (repeatable; default loopback)', collect)
    .addOption(new Option('--token <token>', 'bearer token for the HTTP API (required off loopback)').env('ATARU_TOKEN'))
    .option('--control-timeout <ms>', 'time a control client has to send its definition', int)
    .option('--max-msg-len <bytes>', 'largest msg_len an app may declare', int)
    .option('--max-apps <n>', 'most apps deployed at once', int)
    .option('--max-connections <n>', 'most data connections per app', int)
    .option('--max-in-flight <n>', 'requests in flight per data connection', int)
    .option('--json', 'print where it listens as one JSON line; errors as {code, message}')
    .action(async (f: ServeFlags) => {
      const flags: ServerConfigInput = {
        host: f.host,
        controlPort: f.control ? f.controlPort : null,
        httpPort: f.http ? f.httpPort : null,
        dataDir: f.dataDir,
        functionRoots: f.functionRoot,
        allowRemoteDeploy: f.allowRemoteDeploy,
        resultAllow: f.resultAllow,
        token: f.token,
        controlTimeoutMs: f.controlTimeout,
        limits: {
          maxMsgLen: f.maxMsgLen,
          maxApps: f.maxApps,
          maxConnectionsPerApp: f.maxConnections,
          maxInFlightPerConnection: f.maxInFlight,
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
