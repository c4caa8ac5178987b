/**
 * The dashboard's live feed with real apps (KVM): the sobel diamond's
 * figures in /ui/events move while requests are sent, and a faulting app's
 * failure shows in its errors by kind and in its logs.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiClient, deployBodyFromFile } from '../../src/client/api-client.js';
import { RECENT_NODE_RUNS } from '../../src/server/metrics.js';
import { kvmOptions } from '../helpers/kvm.js';
import { sseEvents } from '../helpers/sse.js';
import { scaled } from '../helpers/scale.js';
import { startTestServer, type TestServer } from '../server/helpers.js';
import { faultyBody } from './faulty-app.js';

interface Figures {
  name: string;
  nodes: { id: string; meanUs: number | null; runs: number; errors: number; p50Us: number | null; p99Us: number | null; hist: number[] }[];
  edges: { from: number; to: number }[];
  instances: { total: number; busy: number; free: number };
  requests: number;
  errors: Record<string, number>;
  p50Us: number | null;
  p99Us: number | null;
  rate: number;
}

/** The next `stats` event of an open /ui/events stream. */
function statsReader(res: Response) {
  const events = sseEvents(res);
  return {
    async next(): Promise<Figures[]> {
      for (;;) {
        const { value, done } = await events.next();
        if (done) throw new Error('events stream ended');
        if (value.event === 'stats' && value.data) return (value.data as { apps: Figures[] }).apps;
      }
    },
    close: async () => {
      await events.return(undefined);
    },
  };
}

describe('dashboard live figures', kvmOptions(), () => {
  let srv: TestServer;
  let api: ApiClient;
  let base: string;

  before(async () => {
    srv = await startTestServer();
    base = `http://127.0.0.1:${srv.httpPort}`;
    api = new ApiClient(base);
    await api.deploy(deployBodyFromFile(join(import.meta.dirname, '../../examples/sobel/sobel.tmpl')));
  });
  after(() => srv.stop());

  test('sobel: 4 nodes, 4 edges; requests, latency and node times move', async () => {
    const res = await fetch(`${base}/ui/events?interval_ms=250`);
    const ev = statsReader(res);
    try {
      const first = (await ev.next()).find((a) => a.name === 'sobel')!;
      assert.equal(first.nodes.length, 4);
      assert.equal(first.edges.length, 4);
      assert.ok(first.instances.total >= 1);
      const image = Buffer.alloc(16384, 7);
      const n = scaled(50, 5);
      for (let i = 0; i < n; i++) await api.invoke('sobel', image);
      let later = first;
      // Ticks are 250 ms apart; the figures come in the first tick after the requests.
      while (later.requests < first.requests + n) later = (await ev.next()).find((a) => a.name === 'sobel')!;
      assert.equal(later.requests, first.requests + n);
      assert.ok(later.p50Us !== null && later.p50Us > 0);
      assert.ok(later.p99Us! >= later.p50Us!);
      for (const [i, node] of later.nodes.entries()) {
        assert.ok(node.meanUs !== null && node.meanUs >= 0, `node ${node.id} has a mean`);
        // Per node: every run counted, and the latest ones in the histogram's buckets.
        assert.equal(node.runs, first.nodes[i]!.runs + n);
        assert.equal(node.hist.reduce((a, b) => a + b, 0), Math.min(node.runs, RECENT_NODE_RUNS));
        assert.ok(node.p50Us !== null && node.p99Us! >= node.p50Us);
        assert.equal(node.errors, 0);
      }
      assert.deepEqual(later.errors, {});
    } finally {
      await ev.close();
    }
  });

  test('an injected fault shows in the errors by kind and in the logs', async () => {
    await api.deploy(faultyBody('faulty'));
    await assert.rejects(api.invoke('faulty', Buffer.alloc(64)));
    const res = await fetch(`${base}/ui/events?interval_ms=250`);
    const ev = statsReader(res);
    try {
      const f = (await ev.next()).find((a) => a.name === 'faulty')!;
      const kinds = Object.keys(f.errors);
      assert.equal(kinds.length, 1);
      assert.equal(f.errors[kinds[0]!], 1);
      // Counted at the node that faulted too.
      assert.deepEqual(f.nodes.map((x) => [x.errors, x.runs]), [[1, 0]]);
      const logs = await (await fetch(`${base}/apps/faulty/logs`)).text();
      const errors = logs.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; code?: string }).filter((e) => e.kind === 'error');
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.code, kinds[0]);
    } finally {
      await ev.close();
    }
    await api.remove('faulty');
    const after = await statsReader(await fetch(`${base}/ui/events`));
    assert.equal((await after.next()).some((a) => a.name === 'faulty'), false);
    await after.close();
  });
});
