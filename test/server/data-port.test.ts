/**
 * Data ports with real apps: pipelined load with exact replies, a function
 * that always faults, clients that disconnect mid-request or never read, a
 * redeploy that changes msg_len under an open connection, and the per-app
 * connection limit — every other app and connection keeps being
 * served throughout.
 */
import assert from 'node:assert/strict';
import { scaledTimeout } from '../helpers/scale.js';
import { after, before, describe, test } from 'node:test';
import { native } from '../../src/runtime/native.js';
import { DataClient, FrameReader } from '../../src/client/data-client.js';
import { knownKvmAmdLoadBug, kvmOptions } from '../helpers/kvm.js';
import { randomBytes } from '../helpers/random.js';
import { addN, appDef, connectTo, readUntilClose, startTestServer, type TestServer } from './helpers.js';

async function deploy(srv: TestServer, ...args: Parameters<typeof appDef>): Promise<number> {
  return (await srv.deploy(appDef(...args))).dataPort.port;
}

async function metricValue(srv: TestServer, name: string, app: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${srv.httpPort}/metrics`);
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`app="${app}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('data port', kvmOptions(), () => {
  let srv: TestServer;
  let addPort: number;
  let echoPort: number;
  let faultPort: number;
  const S = () => native().constants.status;

  before(async () => {
    srv = await startTestServer({ limits: { maxConnectionsPerApp: 12, maxInFlightPerConnection: 16 } });
    addPort = await deploy(srv, 'add2', ['add1', 'add1'], [[0, 1]], { instances: 2 });
    echoPort = await deploy(srv, 'echo', ['echo'], [], { msg_len: 16384 });
    faultPort = await deploy(srv, 'faulty', ['nullwrite'], []);
  });
  after(() => srv.stop());

  test('8 connections × 2,000 pipelined requests: exactly one correct reply each, in order', { ...knownKvmAmdLoadBug(), timeout: scaledTimeout(60_000) }, async () => {
    const conns = 8;
    const perConn = 2000;
    const window = 16;
    const clients = await Promise.all(Array.from({ length: conns }, () => DataClient.connect('127.0.0.1', addPort)));
    let wrong = 0;
    await Promise.all(
      clients.map(async (c, ci) => {
        let next = 0;
        const lane = async () => {
          while (next < perConn) {
            const input = randomBytes(64, ci * 100_000 + next++ + 1);
            const r = await c.request(input);
            if (r.status !== S().OK || !r.body.equals(addN(input, 2))) wrong++;
          }
        };
        await Promise.all(Array.from({ length: window }, lane));
        assert.equal(c.inFlight, 0);
        c.close();
      }),
    );
    assert.equal(wrong, 0, 'every reply is the input + 2');
    assert.equal(srv.registry.get('add2')!.current.handle.stats().requests, conns * perConn, 'no request lost or doubled');
  });

  test('a function that always faults: FAULT frames naming the node; other apps unaffected', async () => {
    const bad = await DataClient.connect('127.0.0.1', faultPort);
    const good = await DataClient.connect('127.0.0.1', addPort);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? good.request(randomBytes(64, i)) : bad.request(randomBytes(64, i)))),
    );
    replies.forEach((r, i) => {
      if (i % 2) assert.equal(r.status, S().OK);
      else {
        assert.equal(r.status, S().FAULT, 'status FAULT');
        assert.match(r.body.toString('utf8'), /node 0/, 'message names the node');
      }
    });
    bad.close();
    good.close();
    assert.ok((await metricValue(srv, 'ataru_request_errors_total', 'faulty')) >= 10);
  });

  test('a client that disconnects mid-request: partial request dropped and counted', async () => {
    const before = await metricValue(srv, 'ataru_truncated_requests_total', 'add2');
    const s = await connectTo(addPort);
    const got = readUntilClose(s);
    s.write(randomBytes(64, 1)); // one whole request
    s.end(randomBytes(40, 2)); // and 40 of 64 bytes
    const frames = new FrameReader().push(await got);
    assert.equal(frames.length, 1, 'the whole request is answered, the partial one is not');
    for (let i = 0; i < 100 && (await metricValue(srv, 'ataru_truncated_requests_total', 'add2')) === before; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(await metricValue(srv, 'ataru_truncated_requests_total', 'add2'), before + 1);
    const c = await DataClient.connect('127.0.0.1', addPort);
    assert.equal((await c.request(randomBytes(64, 3))).status, S().OK, 'the app still serves');
    c.close();
  });

  test('a client that never reads is paused, others are served; its replies all arrive later, in order', { timeout: scaledTimeout(30_000) }, async () => {
    // 2,000 × 16 KiB: far more than the kernel's socket buffers and the server's write high-water mark.
    const n = 2000;
    const echoed = () => srv.registry.get('echo')!.current.handle.stats().requests;
    const start = echoed();
    const slow = await connectTo(echoPort);
    slow.pause();
    const inputs = Array.from({ length: n }, (_, i) => randomBytes(16384, i + 7));
    for (const b of inputs) slow.write(b);
    // Wait until the server stops taking this connection's requests.
    let last = -1;
    for (let i = 0; i < 100 && echoed() !== last; i++) {
      last = echoed();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(echoed() - start < n, `the server paused the connection after ${echoed() - start} of ${n} requests`);

    const other = await DataClient.connect('127.0.0.1', echoPort);
    for (let i = 0; i < 50; i++) {
      const input = randomBytes(16384, 9000 + i);
      const r = await other.request(input);
      assert.ok(r.status === S().OK && r.body.equals(input));
    }
    other.close();

    const reader = new FrameReader();
    const replies: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`only ${replies.length} of ${n} replies`)), 20_000);
      slow.on('data', (c: Buffer) => {
        for (const r of reader.push(c)) replies.push(r.body);
        if (replies.length === n) {
          clearTimeout(t);
          resolve();
        }
      });
      slow.resume();
    });
    replies.forEach((r, i) => assert.ok(r.equals(inputs[i]!), `reply ${i} in order`));
    slow.destroy();
  });

  test('a connection keeps the msg_len it started with across a redeploy that changes it', async () => {
    const port0 = await deploy(srv, 'resize', ['add1'], [], { msg_len: 64 });
    const old = await DataClient.connect('127.0.0.1', port0);
    const a = randomBytes(64, 11);
    assert.ok((await old.request(a)).body.equals(addN(a, 1)));

    assert.equal(await deploy(srv, 'resize', ['add1'], [], { msg_len: 32 }), port0, 'the port stays');
    // The open connection still frames by 64 bytes: one request, one reply.
    const b = randomBytes(64, 12);
    const r = await old.request(b);
    assert.equal(r.status, S().OK);
    assert.ok(r.body.equals(addN(b, 1)), 'one 64-byte request, not two of 32');
    // A new connection frames by the new msg_len.
    const fresh = await DataClient.connect('127.0.0.1', port0);
    const c = randomBytes(32, 13);
    const rs = await Promise.all([fresh.request(c), old.request(randomBytes(64, 14))]);
    assert.ok(rs[0].body.equals(addN(c, 1)));
    assert.equal(rs[1].body.length, 64);
    old.close();
    fresh.close();
    await srv.registry.remove('resize');
  });

  test('connections beyond the per-app limit get a BUSY frame', async () => {
    const held = await Promise.all(Array.from({ length: 12 }, () => connectTo(addPort)));
    await new Promise((r) => setTimeout(r, 50));
    const extra = await connectTo(addPort);
    const [frame] = new FrameReader().push(await readUntilClose(extra));
    assert.equal(frame?.status, S().BUSY);
    assert.match(frame!.body.toString(), /too many connections.*12/);
    for (const s of held) s.destroy();
  });
});
