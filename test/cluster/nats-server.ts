/**
 * A NATS server for one test file: Debian's `nats-server -js` on a free
 * loopback port, its JetStream store in a temp dir. stop()/start() restart
 * it on the same port and store (the "NATS restarted" test); close() stops
 * it and removes the store. Every process started here is killed when the
 * test process exits, whatever the outcome.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tempDir } from '../helpers/tmp.js';

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Registers a child process to be killed at exit at the latest. */
export function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

/** Where Debian puts it; PATH as a fallback. */
export function natsServerBinary(): string | undefined {
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    if (spawnSync(p, ['--version']).status === 0) return p;
  }
  return spawnSync('nats-server', ['--version']).status === 0 ? 'nats-server' : undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class NatsServer {
  private proc?: ChildProcess;
  private log = '';

  private constructor(
    readonly port: number,
    readonly storeDir: string,
    private readonly binary: string,
  ) {}

  static async start(): Promise<NatsServer> {
    const binary = natsServerBinary();
    if (!binary) throw new Error('nats-server is not installed (apt-get install nats-server; .ci/run installs it)');
    const s = new NatsServer(await freePort(), tempDir('ataru-nats-'), binary);
    await s.start();
    return s;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.log = '';
    const p = track(spawn(this.binary, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir], { stdio: ['ignore', 'pipe', 'pipe'] }));
    this.proc = p;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`nats-server did not start within 30 s:\n${this.log}`)), 30_000);
      const onData = (b: Buffer) => {
        this.log += b.toString();
        if (/Server is ready/.test(this.log)) {
          clearTimeout(t);
          resolve();
        }
      };
      p.stdout!.on('data', onData);
      p.stderr!.on('data', onData);
      p.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`nats-server exited (${code}):\n${this.log}`));
      });
    });
  }

  /** Stops the server (SIGTERM; SIGKILL after 10 s); the store stays. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      p.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      p.kill('SIGTERM');
    });
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
