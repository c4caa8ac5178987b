/**
 * `ataru up app.tmpl [--watch]`: the edit → run loop. Builds what the app's
 * folder builds (src/dev/build-folder.ts), deploys it to the server at
 * --server — started in this process when nothing answers there on a
 * loopback address — prints the data port and an invoke and a curl line,
 * and tails the app's logs. With --watch, a change in the folder rebuilds
 * and redeploys; the server swaps versions atomically (requests in flight
 * finish on the old one), and a failed build is shown without stopping.
 * Ctrl-C stops it (and the in-process server).
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve, sep } from 'node:path';
import { Option, type Command } from 'commander';
import { deployBodyFromFile, type ApiClient } from '../../client/api-client.js';
import { isLoopbackHost } from '../../config.js';
import { buildFolder, definitionOutputs } from '../../dev/build-folder.js';
import { AtaruError } from '../../errors.js';
import { startServer, type RunningServer } from '../../server/index.js';
import { errorJson } from '../output.js';
import { log as rootLog } from '../../log.js';
import { client, common, type CommonFlags } from '../server-flags.js';
import { printLogs } from './logs.js';

interface UpFlags extends CommonFlags {
  watch?: boolean;
  logs: boolean;
  dataDir?: string;
}

/** Quiet time after the last change before a rebuild starts. */
const SETTLE_MS = 300;

/** Files whose change is not a reason to rebuild: outputs, objects, editors' scratch. */
function ignored(path: string, outputs: string[]): boolean {
  const name = basename(path);
  return (
    outputs.includes(path) ||
    path.split(sep).some((p) => p === 'build' || p === 'node_modules' || (p.startsWith('.') && p.length > 1)) ||
    /\.(o|d|a|so|elf|swp|swx|tmp)$|~$|^#.*#$|^4913$/.test(name)
  );
}

export function registerUp(program: Command): void {
  common(
    program
      .command('up <definition>')
      .description("build the app's folder, deploy it (starting a local server if none runs), print how to call it, tail its logs")
      .option('-w, --watch', 'rebuild and redeploy on every change in the folder')
      .option('--no-logs', 'do not tail the logs')
      .addOption(new Option('--data-dir <dir>', 'data dir of the in-process server (default ~/.ataru)')),
  ).action(async (file: string, f: UpFlags) => {
    const tmpl = resolve(file);
    // From the start: Ctrl-C during the first build still closes the server.
    let finish: () => void = () => {};
    const stopped = new Promise<void>((done) => (finish = done));
    const onSignal = () => finish();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const unhook = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
    const say = (event: Record<string, unknown>, human: string) =>
      process.stdout.write(f.json ? `${JSON.stringify(event)}\n` : `${human}\n`);
    let api: ApiClient = client(f);
    let local: RunningServer | undefined;
    if (!(await api.alive())) {
      const url = new URL(api.baseUrl);
      if (!isLoopbackHost(url.hostname)) {
        throw new AtaruError('CLOSED', `no ataru server answers at ${api.baseUrl}, and up starts one only on this machine: start it there with ataru serve`);
      }
      // The loop prints the app's own log; the server's lines only when asked (ATARU_LOG_LEVEL).
      if (process.env.ATARU_LOG_LEVEL === undefined) rootLog.level = 'warn';
      local = await startServer({ host: url.hostname, httpPort: Number(url.port || 80), controlPort: null, dataDir: f.dataDir, token: f.token });
      api = client({ ...f, server: `http://${url.hostname}:${local.httpPort}` });
      say({ event: 'server', url: api.baseUrl, dataDir: local.config.dataDir }, `up: started a server in this process: HTTP API ${api.baseUrl}, data dir ${local.config.dataDir}`);
    }

    let shown = false;
    /** One build + deploy; false when it failed (already reported). */
    const cycle = async (why: string): Promise<boolean> => {
      try {
        const b = await buildFolder(tmpl);
        say({ event: 'built', why, steps: b.steps }, `up: built (${why})${b.steps.length ? `: ${b.steps.join('; ')}` : ''}`);
        const r = await api.deploy(deployBodyFromFile(tmpl));
        say({ event: r.replaced ? 'redeployed' : 'deployed', name: r.name, port: r.port, server: api.baseUrl }, `up: ${r.replaced ? 'redeployed' : 'deployed'} ${r.name} ${r.raw ? `as a raw app: frames for port ${r.port} on ${r.raw.iface}` : `on data port ${r.port}`}`);
        if (!shown) {
          shown = true;
          const server = api.baseUrl === 'http://127.0.0.1:9990' ? '' : ` --server ${api.baseUrl}`;
          say(
            { event: 'how', invoke: `ataru invoke ${r.name} --file input.bin${server}`, curl: `curl --data-binary @input.bin -H 'content-type: application/octet-stream' ${api.baseUrl}/apps/${r.name}/invoke` },
            `  invoke: ataru invoke ${r.name} --file input.bin${server}\n  curl:   curl --data-binary @input.bin -H 'content-type: application/octet-stream' ${api.baseUrl}/apps/${r.name}/invoke`,
          );
          if (f.logs) {
            void printLogs(api, r.name, { follow: true, since: new Date().toISOString(), json: f.json }, stopLogs.signal, '  log: ').catch((e: Error) => {
              if (!stopLogs.signal.aborted) say({ event: 'logs-ended', message: e.message }, `up: log stream ended: ${e.message}`);
            });
          }
        }
        return true;
      } catch (e) {
        const err = errorJson(e);
        say({ event: 'failed', why, ...err }, `up: ${why}: failed, still serving the last good version:\n${e instanceof AtaruError ? e.describe() : String(err.message)}`);
        return false;
      }
    };

    const stopLogs = new AbortController();
    const ok = await cycle('start');
    if (!ok && !f.watch) {
      unhook();
      stopLogs.abort();
      await local?.close();
      process.exitCode = 1;
      return;
    }

    let watcher: FSWatcher | undefined;
    if (f.watch) {
      let timer: NodeJS.Timeout | undefined;
      let running: Promise<unknown> = Promise.resolve();
      let pending = false;
      let outputs: string[] = [];
      try {
        outputs = definitionOutputs(tmpl);
      } catch {
        // an invalid definition: cycle() reported it; every file counts then
      }
      const dir = dirname(tmpl);
      watcher = watch(dir, { recursive: true }, (_ev, name) => {
        if (!name || ignored(resolve(dir, name.toString()), outputs)) return;
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (pending) return;
          pending = true;
          running = running.then(async () => {
            pending = false;
            await cycle(`${name.toString()} changed`);
            try {
              outputs = definitionOutputs(tmpl);
            } catch {
              // reported by the cycle
            }
          });
        }, SETTLE_MS);
      });
      say({ event: 'watching', dir }, `up: watching ${dir} (Ctrl-C stops)`);
    }

    await stopped;
    unhook();
    watcher?.close();
    stopLogs.abort();
    await local?.close();
    say({ event: 'stopped' }, 'up: stopped');
  });
}
