/**
 * Shared pieces of the server tests: a server on random loopback ports with
 * a temporary data dir, app definitions over the fixture functions, and a
 * client for the original control protocol that works on raw bytes.
 */
import { rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { DEFAULTS, type AppDefinition } from '../../src/app/model.js';
import { defaultNodeIds } from '../../src/app/ids.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import type { ServerConfigInput } from '../../src/config.js';
import { fixturesBuildDir as fixturesDir } from '../fixtures/functions/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

export { fixturesDir };

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Closes the server and removes its data dir. */
  stop(): Promise<void>;
}

export async function startTestServer(extra: ServerConfigInput = {}, dataDir = tempDir('ataru-server-')): Promise<TestServer> {
  const s = await startServer({
    host: '127.0.0.1',
    controlPort: 0,
    httpPort: 0,
    dataDir,
    functionRoots: [fixturesDir],
    ...extra,
  });
  return Object.assign(s, {
    dataDir,
    async stop() {
      await s.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** A chain or DAG of fixture functions; node k reads its parent's output. */
export function appDef(
  name: string,
  fns: string[],
  edges: [number, number][],
  extra: Partial<AppDefinition> = {},
): AppDefinition {
  // Node k writes at (k+1) * 64 KiB; a node with a parent reads that parent's output.
  const outOff = (k: number) => (k + 1) * 0x10000;
  const refs = fns.map((fn) => ({ path: fixturesDir, name: `${fn}.elf` }));
  // Default ids: the only ones the template and binary forms can carry.
  const ids = defaultNodeIds(refs);
  return {
    ...DEFAULTS,
    name,
    msg_len: 64,
    instances: 1,
    nodes: fns.map((fn, k) => {
      const parent = edges.find(([, to]) => to === k)?.[0];
      return {
        id: ids[k]!,
        function: refs[k]!,
        inp_off: parent === undefined ? 0 : outOff(parent),
        out_off: outOff(k),
      };
    }),
    edges: edges.map(([from, to]) => ({ from, to })),
    ...extra,
  };
}

export interface ControlReply {
  raw: Buffer;
  /** The data port when the reply was the 2-byte port. */
  port?: number;
  /** The error line without "error: " and "\n". */
  error?: string;
}

/** Sends bytes to the control port; halfClose ends our side after them (text forms). */
export async function controlSend(port: number, bytes: Buffer | string, halfClose: boolean, timeoutMs = 15_000): Promise<ControlReply> {
  const s = connect({ host: '127.0.0.1', port }, () => {
    s.write(bytes);
    if (halfClose) s.end();
  });
  const raw = await readUntilClose(s, timeoutMs);
  const text = raw.toString('utf8');
  if (text.startsWith('error: ')) return { raw, error: text.slice(7).replace(/\n$/, '') };
  return { raw, port: raw.length === 2 ? raw.readUInt16BE(0) : undefined };
}

export function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything a socket receives until the peer closes (bounded by timeoutMs). */
export function readUntilClose(s: Socket, timeoutMs = 20_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`socket still open after ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** What a chain of k add1 nodes computes. */
export function addN(buf: Buffer, k: number): Buffer {
  return Buffer.from(buf.map((c) => (c + k) & 0xff));
}
