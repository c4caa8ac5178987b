/**
 * An Ataru cluster on NATS, end to end: a nats-server started here (free
 * loopback port, store in a temp dir) and nodes as separate `ataru serve
 * --nats` processes. Deploy through one node, invoke through another's HTTP
 * API, through a front-door node's HTTP and data port, and straight through
 * NATS; concurrent deploys of one name; a redeploy and a kill -9 under load
 * (every request answered once, correctly); the retry rule (stateless once,
 * state: keep never); a node started later; NATS restarted; SIGTERM drains.
 * The tests share the servers and run in order.
 */
import assert from 'node:assert/strict';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { ClusterClient } from '../../src/cluster/client.js';
import { connectNats } from '../../src/cluster/connect.js';
import { deployBodyFromFile } from '../../src/client/api-client.js';
import { DataClient } from '../../src/client/data-client.js';
import { main } from '../../src/cli/main.js';
import { fixturesBuildDir } from '../fixtures/functions/fixtures.js';
import { kvmOptions } from '../helpers/kvm.js';
import { randomBytes } from '../helpers/random.js';
import { scaled, testScale } from '../helpers/scale.js';
import { tempDir } from '../helpers/tmp.js';
import { addN } from '../server/helpers.js';
import { NatsServer } from './nats-server.js';
import { Node, waitFor } from './nodes.js';

const CLUSTER = 'ctest';
const MSG_LEN = 64;
/** Per attempt, for requests through NATS; generous: the emulated KVM machine runs far behind real KVM. */
const TIMEOUT_MS = testScale < 1 ? 30_000 : 8000;

let nats: NatsServer;
let nc: NatsConnection;
let client: ClusterClient;
const nodes: Node[] = [];
let defDir: string;

/** A template of `adds` add1 nodes in a chain (computes input + adds), functions next to it. */
function template(name: string, adds: number, extra: string[] = []): string {
  copyFileSync(join(fixturesBuildDir, 'add1.elf'), join(defDir, 'add1.elf'));
  copyFileSync(join(fixturesBuildDir, 'spin.elf'), join(defDir, 'spin.elf'));
  const lines = [`name : ${name}`, `num_nodes : ${adds}`, `msg_len : ${MSG_LEN}`, 'instances : 2', ...extra];
  // The compressed array of a chain: in-counts, child offsets, end, children (docs/app-definitions.md).
  const ks = Array.from({ length: adds }, (_, k) => k);
  const dag = [...ks.map((k) => (k ? 1 : 0)), ...ks, adds - 1, ...ks.slice(1)];
  lines.push(`dag : ${dag.join(',')}`);
  for (let k = 0; k < adds; k++) {
    const fn = extra.includes('spin') ? 'spin.elf' : 'add1.elf';
    lines.push(`exec[${k + 1}].path : ./`, `exec[${k + 1}].name : ${fn}`, `exec[${k + 1}].inp_off : ${k * 65536}`, `exec[${k + 1}].out_off : ${(k + 1) * 65536}`);
  }
  const file = join(defDir, `${name}-${adds}.template`);
  writeFileSync(file, lines.filter((l) => l !== 'spin').join('\n') + '\n');
  return file;
}

async function deployVia(node: Node, file: string) {
  return node.api.deploy(deployBodyFromFile(file));
}

/** Runs one CLI command in-process; returns its stdout and exit code. */
async function cli(...args: string[]): Promise<{ out: Buffer; code: number; err: string }> {
  const chunks: Buffer[] = [];
  let err = '';
  const write = process.stdout.write.bind(process.stdout);
  const errWrite = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string | Uint8Array) => (chunks.push(Buffer.from(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((err += Buffer.from(c).toString()), true)) as typeof process.stderr.write;
  const prev = process.exitCode;
  process.exitCode = undefined;
  try {
    await main(['node', 'ataru', ...args]);
    return { out: Buffer.concat(chunks), code: process.exitCode ?? 0, err };
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
    process.exitCode = prev;
  }
}

/** Every node's view has `app` at `version`, served locally. */
async function converged(app: string, version: number, on: Node[]): Promise<void> {
  await waitFor(`every node on ${app} version ${version}`, async () => {
    const v = await on[0]!.api.cluster();
    const ok = on.every((n) => v.apps.find((a) => a.name === app)?.nodes.some((s) => s.node === n.name && s.version === version && s.local));
    return ok ? true : undefined;
  });
}

/**
 * `count` requests through NATS, `concurrency` at a time, each with its own
 * random input; returns per request the output and the node that answered.
 * `during(done)` is called after each reply (to redeploy or kill mid-run).
 */
async function load(app: string, count: number, concurrency: number, during?: (answered: number) => void | Promise<void>) {
  const inputs = Array.from({ length: count }, (_, i) => randomBytes(MSG_LEN, 1000 + i));
  const replies: ({ output: Buffer; node: string } | Error)[] = new Array(count);
  const answers = new Array<number>(count).fill(0);
  let next = 0;
  let answered = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        try {
          const r = await client.invoke(app, inputs[i]!, { stateless: true, timeoutMs: TIMEOUT_MS, requestId: `req-${i}` });
          replies[i] = { output: r.output, node: r.node };
        } catch (e) {
          replies[i] = e as Error;
        }
        answers[i]!++;
        answered++;
        await during?.(answered);
      }
    }),
  );
  return { inputs, replies, answers };
}

describe('an Ataru cluster on NATS', { ...kvmOptions(), timeout: 1_200_000 }, () => {
  before(async () => {
    defDir = tempDir('ataru-cluster-defs-');
    nats = await NatsServer.start();
    for (const name of ['n1', 'n2', 'n3']) nodes.push(await Node.start(name, nats.url, CLUSTER, ['--cluster-timeout', String(TIMEOUT_MS)]));
    nc = await connectNats({ servers: [nats.url] }, { name: 'test client' });
    client = new ClusterClient(nc, CLUSTER);
  });

  after(async (t) => {
    await nc?.close();
    for (const n of nodes) {
      if (process.exitCode || (t as unknown as { passed?: boolean }).passed === false) process.stderr.write(`--- ${n.name} output ---\n${n.output}\n`);
      await n.remove();
    }
    await nats?.close();
    rmSync(defDir, { recursive: true, force: true });
  });

  test('deploy through node 1; invoke through node 2 over HTTP, through NATS and with ataru invoke --nats', async () => {
    const [n1, n2, n3] = nodes;
    const dep = await deployVia(n1!, template('chain', 1));
    assert.equal(dep.replaced, false);
    await converged('chain', 1, [n1!, n2!, n3!]);

    const input = randomBytes(MSG_LEN, 1);
    assert.deepEqual(await n2!.api.invoke('chain', input), addN(input, 1));
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const x = randomBytes(MSG_LEN, 10 + i);
      const r = await client.invoke('chain', x, { stateless: true, timeoutMs: TIMEOUT_MS });
      assert.deepEqual(r.output, addN(x, 1));
      assert.equal(r.version, 1);
      seen.add(r.node);
    }
    // The queue group spreads requests: 30 requests over 3 nodes reach more than one.
    assert.ok(seen.size > 1, `all 30 requests went to ${[...seen]}`);

    writeFileSync(join(defDir, 'in.bin'), input);
    const viaCli = await cli('invoke', 'chain', '--nats', nats.url, '--cluster', CLUSTER, '--file', join(defDir, 'in.bin'));
    assert.equal(viaCli.code, 0, viaCli.err);
    assert.deepEqual(viaCli.out, addN(input, 1));
    const missing = await cli('invoke', 'nosuchapp', '--nats', nats.url, '--cluster', CLUSTER, '--file', join(defDir, 'in.bin'));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no app named "nosuchapp" in cluster ctest/);

    // Errors through NATS carry the HTTP API's status and message.
    await assert.rejects(client.invoke('chain', Buffer.alloc(3 * 1024 * 1024), { stateless: true, timeoutMs: TIMEOUT_MS }), (e: Error & { code?: string }) => e.code === 'BAD_REQUEST' || /payload|exceed/i.test(e.message));

    // Observability: the table of nodes, healthz, metrics labels.
    const ls = await cli('ls', '--cluster', '--server', n3!.url, '--json');
    const view = JSON.parse(ls.out.toString()) as { nodes: { node: string }[]; apps: { name: string; version: number; deployer: string; nodes: { node: string; version: number }[] }[] };
    assert.deepEqual(view.nodes.map((n) => n.node), ['n1', 'n2', 'n3']);
    const chain = view.apps.find((a) => a.name === 'chain')!;
    assert.equal(chain.version, 1);
    assert.match(chain.deployer, /^n1 \(http /);
    assert.deepEqual(chain.nodes.map((n) => [n.node, n.version]), [['n1', 1], ['n2', 1], ['n3', 1]]);
    const health = (await (await fetch(`${n2!.url}/healthz`)).json()) as { status: string; nats: { connected: boolean; cluster: string; node: string } };
    assert.equal(health.status, 'ok');
    assert.deepEqual([health.nats.connected, health.nats.cluster, health.nats.node], [true, CLUSTER, 'n2']);
    const metrics = await (await fetch(`${n2!.url}/metrics`)).text();
    assert.match(metrics, /ataru_cluster_connected\{cluster="ctest",node="n2"\} 1/);
    assert.match(metrics, /ataru_requests_total\{app="chain",source="nats",cluster="ctest",node="n2"\} \d+/);
  });

  test('a node started later serves every app without a deploy; a front door without apps forwards HTTP and data-port requests', async () => {
    const late = await Node.start('n4', nats.url, CLUSTER, ['--cluster-timeout', String(TIMEOUT_MS)]);
    nodes.push(late);
    const app = await late.api.get('chain');
    assert.ok(app.instances.total >= 1, 'the late node runs the app itself');
    const x = randomBytes(MSG_LEN, 2);
    assert.deepEqual(await late.api.invoke('chain', x), addN(x, 1));

    const door = await Node.start('door', nats.url, CLUSTER, ['--no-cluster-serve', '--cluster-timeout', String(TIMEOUT_MS)]);
    nodes.push(door);
    const d = await door.api.get('chain');
    assert.equal(d.instances.total, 0, 'the front door runs no VM');
    assert.deepEqual(await door.api.invoke('chain', x), addN(x, 1));
    const dc = await DataClient.connect('127.0.0.1', d.port);
    try {
      for (let i = 0; i < 20; i++) {
        const y = randomBytes(MSG_LEN, 300 + i);
        const r = await dc.request(y);
        assert.equal(r.status, 0, r.body.toString());
        assert.deepEqual(r.body, addN(y, 1));
      }
    } finally {
      dc.close();
    }
    const metrics = await (await fetch(`${door.url}/metrics`)).text();
    assert.match(metrics, /ataru_cluster_forwarded_total\{app="chain",cluster="ctest",node="door"\} 2[1-9]/);
    // SIGTERM: the node drains and exits 0; the others keep serving.
    assert.equal(await door.stop('SIGTERM'), 0);
    assert.equal(await late.stop('SIGTERM'), 0);
    nodes.splice(nodes.indexOf(door), 1);
    nodes.splice(nodes.indexOf(late), 1);
    await door.remove();
    await late.remove();
  });

  test('two concurrent deploys of one name never interleave (compare-and-set)', async (t) => {
    const [n1, n2, n3] = nodes;
    const files = [template('race', 1), template('race', 2)];
    const results = await Promise.allSettled([deployVia(n1!, files[0]!), deployVia(n2!, files[1]!)]);
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    for (const r of results) if (r.status === 'rejected') assert.match((r.reason as Error).message, /changed in cluster ctest while this deploy was under way/);
    assert.ok(ok >= 1);
    t.diagnostic(`${ok} of 2 concurrent deploys written, ${2 - ok} refused with CONFLICT`);
    // Versions count the deploys that were written: one per success, no lost update.
    await converged('race', ok, [n1!, n2!, n3!]);
    const x = randomBytes(MSG_LEN, 3);
    const outs = await Promise.all([n1!, n2!, n3!].map((n) => n.api.invoke('race', x)));
    assert.ok(outs.every((o) => o.equals(outs[0]!)), 'every node runs the same version');
    await n3!.api.remove('race');
    await waitFor('race removed everywhere', async () => ((await Promise.all([n1!, n2!].map((n) => n.api.list()))).every((l) => !l.some((a) => a.name === 'race')) ? true : undefined));
  });

  test('a redeploy while requests flow: every reply from the old or the new version, none lost', async (t) => {
    const [n1, n2, n3] = nodes;
    const count = scaled(5000, 400);
    const v2 = template('chain', 2);
    let redeployed: Promise<unknown> | undefined;
    const r = await load('chain', count, 16, (answered) => {
      if (!redeployed && answered >= count / 3) redeployed = deployVia(n1!, v2);
    });
    await redeployed;
    let oldV = 0;
    let newV = 0;
    r.replies.forEach((rep, i) => {
      assert.ok(!(rep instanceof Error), `request ${i}: ${(rep as Error).message}`);
      if (rep.output.equals(addN(r.inputs[i]!, 1))) oldV++;
      else if (rep.output.equals(addN(r.inputs[i]!, 2))) newV++;
      else assert.fail(`request ${i}: neither version's answer`);
    });
    assert.equal(oldV + newV, count);
    assert.ok(oldV > 0);
    t.diagnostic(`${count} requests: ${oldV} on the old version, ${newV} on the new`);
    await converged('chain', 2, [n1!, n2!, n3!]);
    const x = randomBytes(MSG_LEN, 4);
    assert.deepEqual((await client.invoke('chain', x, { stateless: true, timeoutMs: TIMEOUT_MS })).output, addN(x, 2));
  });

  test('the retry rule: a stateless request is retried once, a state: keep one never', async () => {
    const [n1, n2, n3] = nodes;
    // spin never returns: no node replies within the caller's deadline.
    await deployVia(n1!, template('spinner', 1, ['spin', 'timeout_ms : 4000']));
    await deployVia(n1!, template('keeper', 1, ['spin', 'timeout_ms : 4000', 'state : keep']));
    await converged('spinner', 1, [n1!, n2!, n3!]);
    await converged('keeper', 1, [n1!, n2!, n3!]);
    const before = client.counters.retries;
    await assert.rejects(client.invoke('spinner', Buffer.alloc(MSG_LEN), { stateless: true, timeoutMs: 1000 }), /no node replied within 1000 ms, also on the retry/);
    assert.equal(client.counters.retries, before + 1);
    await assert.rejects(client.invoke('keeper', Buffer.alloc(MSG_LEN), { stateless: false, timeoutMs: 1000 }), /not retried because the app keeps state between requests \(state: keep\)/);
    assert.equal(client.counters.retries, before + 1);
    await Promise.all(['spinner', 'keeper'].map((a) => n1!.api.remove(a)));
  });

  test('kill -9 of one node during requests: every request answered exactly once and correctly', async (t) => {
    const victim = nodes[2]!;
    const retriesBefore = client.counters.retries;
    const count = scaled(10_000, 600);
    let killed = false;
    const r = await load('chain', count, 32, (answered) => {
      if (!killed && answered >= count / 4) {
        killed = true;
        victim.proc.kill('SIGKILL');
      }
    });
    assert.ok(killed);
    r.answers.forEach((n, i) => assert.equal(n, 1, `request ${i} answered ${n} times`));
    r.replies.forEach((rep, i) => {
      assert.ok(!(rep instanceof Error), `request ${i}: ${(rep as Error).message}`);
      assert.deepEqual(rep.output, addN(r.inputs[i]!, 2), `request ${i}`);
    });
    const servedBy = new Set(r.replies.map((rep) => (rep as { node: string }).node));
    assert.ok(servedBy.has('n1') && servedBy.has('n2'));
    t.diagnostic(`${count} requests, ${client.counters.retries - retriesBefore} retried after the kill; answered by ${[...servedBy].sort().join(', ')}`);
    nodes.splice(2, 1);
    await victim.remove();
  });

  test('NATS restarted mid-run: nodes reconnect, catch up and serve again', async () => {
    const [n1, n2] = nodes;
    await nats.stop();
    await waitFor('nodes to notice', async () => {
      const h = (await (await fetch(`${n1!.url}/healthz`)).json()) as { nats: { connected: boolean } };
      return h.nats.connected ? undefined : true;
    });
    // Cut off from NATS, a node still serves the apps it runs.
    const x = randomBytes(MSG_LEN, 5);
    assert.deepEqual(await n2!.api.invoke('chain', x), addN(x, 2));
    await nats.start();
    for (const n of [n1!, n2!]) {
      await waitFor(`${n.name} to reconnect`, async () => {
        const h = (await (await fetch(`${n.url}/healthz`)).json()) as { status: string; nats: { connected: boolean; reconnects: number } };
        return h.nats.connected && h.status === 'ok' ? true : undefined;
      });
    }
    await waitFor('requests through NATS again', async () => ((await client.invoke('chain', x, { stateless: true, timeoutMs: TIMEOUT_MS })).output.equals(addN(x, 2)) ? true : undefined));
    const r = await load('chain', scaled(1000, 100), 8);
    r.replies.forEach((rep, i) => assert.ok(!(rep instanceof Error) && rep.output.equals(addN(r.inputs[i]!, 2)), `request ${i}`));
    // The registry still works: a deploy after the restart reaches both nodes.
    await deployVia(n2!, template('after', 1));
    await converged('after', 1, [n1!, n2!]);
    assert.deepEqual(await n1!.api.invoke('after', x), addN(x, 1));
  });

  test('SIGTERM drains a node while requests flow through NATS: none lost', async () => {
    const [, n2] = nodes;
    let stopped: Promise<number | null> | undefined;
    const count = scaled(2000, 200);
    const r = await load('chain', count, 16, (answered) => {
      if (!stopped && answered >= count / 3) stopped = n2!.stop('SIGTERM');
    });
    assert.equal(await stopped, 0);
    r.replies.forEach((rep, i) => {
      assert.ok(!(rep instanceof Error), `request ${i}: ${(rep as Error).message}`);
      assert.deepEqual(rep.output, addN(r.inputs[i]!, 2));
    });
  });
});
