/**
 * Cluster nodes as separate processes: `ataru serve --nats URL` with its own
 * data dir and free ports, output captured (printed when a test fails).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { ApiClient } from '../../src/client/api-client.js';
import { cliArgs } from '../helpers/cli.js';
import { testScale } from '../helpers/scale.js';
import { tempDir } from '../helpers/tmp.js';
import { track } from './nats-server.js';

/** Starting a node (a tsx process) takes a few seconds natively, minutes in the emulated KVM machine. */
const PATIENCE_MS = testScale < 1 ? 600_000 : 60_000;

export class Node {
  readonly api: ApiClient;
  output = '';
  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    readonly url: string,
    readonly dataDir: string,
  ) {
    this.api = new ApiClient(url);
  }

  static async start(name: string, natsUrl: string, cluster: string, extra: string[] = []): Promise<Node> {
    const dataDir = tempDir(`ataru-${name}-`);
    const proc = track(
      spawn(process.execPath, cliArgs('serve', '--nats', natsUrl, '--cluster', cluster, '--node-name', name, '--control-port', '0', '--http-port', '0', '--data-dir', dataDir, ...extra), {
        env: { ...process.env, ATARU_LOG_LEVEL: process.env.ATARU_LOG_LEVEL ?? 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`node ${name} did not start within ${PATIENCE_MS / 1000} s:\n${output}`)), PATIENCE_MS);
      const onData = (c: Buffer) => {
        output += c.toString();
        const m = /HTTP API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (m && /\ncluster\s+/.test(output)) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code, sig) => {
        clearTimeout(t);
        reject(new Error(`node ${name} exited (${code ?? sig}) while starting:\n${output}`));
      });
    });
    const node = new Node(name, proc, url, dataDir);
    node.output = output;
    const more = (c: Buffer) => (node.output += c.toString());
    proc.stdout!.on('data', more);
    proc.stderr!.on('data', more);
    return node;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Sends sig and waits for the exit; resolves the exit code (null after a signal). */
  stop(sig: NodeJS.Signals = 'SIGTERM', waitMs = 60_000): Promise<number | null> {
    if (!this.alive) return Promise.resolve(this.proc.exitCode);
    return new Promise((resolve) => {
      const t = setTimeout(() => this.proc.kill('SIGKILL'), waitMs);
      this.proc.once('exit', (code) => {
        clearTimeout(t);
        resolve(code);
      });
      this.proc.kill(sig);
    });
  }

  async remove(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Polls until check() returns a value (not undefined) or timeoutMs passes. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = PATIENCE_MS): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
