/**
 * Ataru end to end: the in-process server (src/server startServer) with the
 * app deployed on a data port, and a TCP client sending msg_len-byte
 * requests and reading reply frames. Adds the network path and the server's
 * framing to the pooled Ataru row.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerOf, expectOutput } from '../answer.js';
import { repoRoot } from '../paths.js';
import type { Workload } from '../workloads.js';
import { ataruRuntime } from './ataru.js';
import { latencyLoop, throughputLoop } from './loops.js';
import type { Cell, PeerSystem } from './types.js';
import type { DataClient } from '../../../src/client/data-client.js';

export const ataruE2eSystem: PeerSystem = {
  id: 'ataru-e2e',
  label: 'Ataru end to end (data port, TCP)',
  note: 'startServer() in-process, app deployed with a pool of 2, requests over a loopback TCP connection to its data port (msg_len bytes in, reply frame out); c=2 is two connections',
  targets: ['ataru'],
  async unavailable(_w, b) {
    if (b.errors.ataru) return b.errors.ataru;
    const rt = await ataruRuntime();
    if (typeof rt === 'string') return rt;
    try {
      await import('../../../src/server/index.js');
      await import('../../../src/client/data-client.js');
      return undefined;
    } catch (e) {
      return `the Ataru server is not available: ${(e as Error).message.split('\n')[0]}`;
    }
  },
  async open(w: Workload): Promise<Cell> {
    const { startServer } = await import('../../../src/server/index.js');
    const { DataClient } = await import('../../../src/client/data-client.js');
    const { okStatus } = await import('../../../src/server/reply-frame.js');
    const dataDir = mkdtempSync(join(tmpdir(), 'ataru-peers-'));
    const server = await startServer({ controlPort: null, httpPort: null, dataDir, functionRoots: [repoRoot] });
    const clients: DataClient[] = [];
    const shutdown = async () => {
      for (const c of clients) c.socket.destroy();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    };
    try {
      const app = await server.deploy({ ...w.def, name: `peers-e2e-${w.id}`, conn_port: 0, instances: 2, reply: 'frames' });
      const connect = async () => {
        const c = await DataClient.connect('127.0.0.1', app.dataPort.port);
        clients.push(c);
        return c;
      };
      const first = await connect();
      const request = async (c: DataClient) => {
        const r = await c.request(w.input);
        if (r.status !== okStatus()) throw new Error(`data port replied status ${r.status}: ${r.body.toString('utf8')}`);
        expectOutput(ataruE2eSystem.label, w, r.body);
        return r.body;
      };
      return {
        answer: async () => answerOf(await request(first)),
        latency: (n, ms) => latencyLoop(() => request(first), n, ms),
        async throughput(concurrency, ms) {
          while (clients.length < concurrency) await connect();
          return throughputLoop((i) => request(clients[i]!), concurrency, ms); // a connection per loop
        },
        close: shutdown,
      };
    } catch (e) {
      await shutdown();
      throw e;
    }
  },
};
