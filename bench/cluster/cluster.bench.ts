/**
 * The cost of the NATS hop: one app (one add1 node, 2 instances per node)
 * invoked through the cluster — NATS request/reply to `<cluster>.invoke.<app>`,
 * spread by the queue group — with 1, 2 and 3 nodes (separate `ataru serve
 * --nats` processes on this machine), beside the same app on node 1's data
 * port in the same run. Latency: one request at a time (p50/p99); throughput:
 * 32 requests in flight (the data port: 4 connections × window 8). On a
 * 2-core machine more nodes add no cores: the 2- and 3-node rows show the
 * spreading overhead, not scale-out.
 */
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterClient } from '../../src/cluster/client.js';
import { connectNats } from '../../src/cluster/connect.js';
import { deployBodyFromFile } from '../../src/client/api-client.js';
import { runLoad } from '../../src/client/load.js';
import { okStatus } from '../../src/server/reply-frame.js';
import { fixturesBuildDir } from '../../test/fixtures/functions/fixtures.js';
import { NatsServer } from '../../test/cluster/nats-server.js';
import { Node, waitFor } from '../../test/cluster/nodes.js';
import { tempDir } from '../../test/helpers/tmp.js';
import { fmtRatio, fmtUs, percentile, printTable, type BenchContext } from '../lib.js';

const MSG_LEN = 64;
const CLUSTER = 'bench';
const IN_FLIGHT = 32;

interface Row {
  path: string;
  nodes: string;
  inFlight: number;
  count: number;
  rate: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Closed loop through NATS for ~ms milliseconds, `inFlight` requests at a time. */
async function throughNats(client: ClusterClient, input: Buffer, inFlight: number, ms: number): Promise<Omit<Row, 'path' | 'nodes'>> {
  const lat: number[] = [];
  let errors = 0;
  const t0 = process.hrtime.bigint();
  const stop = performance.now() + ms;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < stop) {
        const t = process.hrtime.bigint();
        try {
          await client.invoke('bench-add', input, { stateless: true, timeoutMs: 10_000 });
        } catch {
          errors++;
        }
        lat.push(Number(process.hrtime.bigint() - t));
      }
    }),
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { inFlight, count: lat.length, rate: lat.length / s, p50: percentile(lat, 50), p99: percentile(lat, 99), errors };
}

/** The same closed loop on a data port, sized by the rate seen so it takes about `ms`. */
async function direct(port: number, input: Buffer, conns: number, window: number, count: number): Promise<Omit<Row, 'path' | 'nodes'>> {
  const r = await runLoad({ host: '127.0.0.1', port, input, count, concurrency: conns, window });
  return {
    inFlight: conns * window,
    count: r.count,
    rate: r.count / (r.elapsedNs / 1e9),
    p50: percentile(r.latencyNs, 50),
    p99: percentile(r.latencyNs, 99),
    errors: r.count - (r.statuses.get(okStatus()) ?? 0),
  };
}

export async function run(ctx: BenchContext): Promise<void> {
  const defDir = tempDir('ataru-bench-cluster-');
  const nats = await NatsServer.start();
  const nodes: Node[] = [];
  const nc = await connectNats({ servers: [nats.url] }, { name: 'bench client' });
  try {
    const start = async () => {
      const n = await Node.start(`b${nodes.length + 1}`, nats.url, CLUSTER, ['--no-control']);
      nodes.push(n);
      return n;
    };
    const n1 = await start();
    copyFileSync(join(fixturesBuildDir, 'add1.elf'), join(defDir, 'add1.elf'));
    const tmpl = join(defDir, 'app.template');
    writeFileSync(tmpl, ['name : bench-add', 'num_nodes : 1', `msg_len : ${MSG_LEN}`, 'instances : 2', 'dag : 0,0,0', 'exec[1].path : ./', 'exec[1].name : add1.elf', 'exec[1].inp_off : 0', 'exec[1].out_off : 65536', ''].join('\n'));
    const { port } = await n1.api.deploy(deployBodyFromFile(tmpl));
    const client = new ClusterClient(nc, CLUSTER);
    const input = Buffer.alloc(MSG_LEN, 7);
    // Phases share what is left of the budget after the node starts (~2 s each).
    const phaseMs = Math.max(500, Math.min(4000, (ctx.budgetMs - 12_000) / 10));

    // Warm up both paths.
    await direct(port, input, 1, 1, 500);
    await throughNats(client, input, 1, phaseMs / 4);

    const rows: Row[] = [];
    const rate1 = (await direct(port, input, 1, 1, 500)).rate;
    rows.push({ path: 'data port, direct', nodes: '1 (node 1)', ...(await direct(port, input, 1, 1, Math.round((rate1 * phaseMs) / 1000))) });
    const rate32 = (await direct(port, input, 4, 8, 2000)).rate;
    rows.push({ path: 'data port, direct', nodes: '1 (node 1)', ...(await direct(port, input, 4, 8, Math.round((rate32 * phaseMs) / 1000))) });
    for (let k = 1; k <= 3; k++) {
      if (k > 1) {
        if (ctx.overBudget(0.75)) break;
        const n = await start();
        await waitFor(`${n.name} serving bench-add`, async () => ((await n.api.get('bench-add')).instances.total > 0 ? true : undefined));
      }
      rows.push({ path: 'through NATS', nodes: String(k), ...(await throughNats(client, input, 1, phaseMs)) });
      rows.push({ path: 'through NATS', nodes: String(k), ...(await throughNats(client, input, IN_FLIGHT, phaseMs)) });
    }
    const base = (inFlight: number) => rows.find((r) => r.path.startsWith('data port') && r.inFlight === inFlight)!;
    printTable(
      `cluster on NATS vs direct data port, 1-node add1 app, 2 instances per node (nats-server on loopback; ratios within this run)`,
      ['path', 'nodes', 'in flight', 'requests', 'req/s', 'p50', 'p99', 'req/s vs direct', 'p50 vs direct', 'errors'],
      rows.map((r) => [
        r.path,
        r.nodes,
        String(r.inFlight),
        String(r.count),
        r.rate.toFixed(0),
        fmtUs(r.p50),
        fmtUs(r.p99),
        fmtRatio(r.rate / base(r.inFlight).rate),
        fmtRatio(r.p50 / base(r.inFlight).p50),
        r.errors ? String(r.errors) : '',
      ]),
    );
  } finally {
    await nc.close();
    for (const n of nodes) await n.remove();
    await nats.close();
    rmSync(defDir, { recursive: true, force: true });
  }
}
