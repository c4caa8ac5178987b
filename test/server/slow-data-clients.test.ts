/**
 * Slow and idle clients of a data port (issue 13, item 4): a connection with
 * nothing in flight that sends nothing is closed after dataIdleTimeoutMs, so
 * idle sockets can't hold every one of an app's connections; a request
 * trickled in is cut off dataRequestTimeoutMs after its first byte, with a
 * TIMEOUT frame; a request that runs longer than the idle timeout is not
 * idleness. Small configured timeouts keep this quick; nothing measures time.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { native } from '../../src/runtime/native.js';
import { FrameReader } from '../../src/client/data-client.js';
import { kvmOptions } from '../helpers/kvm.js';
import { randomBytes } from '../helpers/random.js';
import { addN, appDef, connectTo, readUntilClose, startTestServer, type TestServer } from './helpers.js';

function trickle(s: Socket, bytes: Buffer, everyMs: number): void {
  let i = 0;
  const t = setInterval(() => {
    if (i < bytes.length && s.writable) s.write(bytes.subarray(i, ++i));
  }, everyMs);
  s.once('close', () => clearInterval(t));
  s.once('error', () => clearInterval(t));
}

/** One request on an open socket; resolves with its frame. */
function ask(s: Socket, input: Buffer): Promise<{ status: number; body: Buffer }> {
  const reader = new FrameReader();
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer) => {
      const [frame] = reader.push(c);
      if (frame) {
        s.off('data', onData);
        resolve(frame);
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(input);
  });
}

describe('slow and idle data-port clients', kvmOptions(), () => {
  let srv: TestServer;
  let port: number;
  const S = () => native().constants.status;

  before(async () => {
    srv = await startTestServer({ dataIdleTimeoutMs: 300, dataRequestTimeoutMs: 400, limits: { maxConnectionsPerApp: 2 } });
    port = (await srv.deploy(appDef('idle', ['add1'], []))).dataPort.port;
  });
  after(() => srv.stop());

  test('a connection idle after its reply is closed by the server', async () => {
    const s = await connectTo(port);
    const input = randomBytes(64, 1);
    const reply = await ask(s, input);
    assert.equal(reply.status, S().OK);
    assert.ok(reply.body.equals(addN(input, 1)));
    // Nothing more is sent: the server ends the connection, with no further frame.
    const rest = await readUntilClose(s, 15_000);
    assert.equal(rest.length, 0);
  });

  test('idle connections holding every slot are closed, and a new client is served', async () => {
    const held = [await connectTo(port), await connectTo(port)];
    // Both idle: before, they held the app's two connections for good.
    await Promise.all(held.map((s) => readUntilClose(s, 15_000)));
    const s = await connectTo(port);
    const input = randomBytes(64, 2);
    const reply = await ask(s, input);
    assert.equal(reply.status, S().OK);
    assert.ok(reply.body.equals(addN(input, 1)));
    s.destroy();
  });

  test('a request trickled in a byte every 50 ms gets a TIMEOUT frame and the connection closes', async () => {
    const s = await connectTo(port);
    trickle(s, randomBytes(64, 3), 50);
    const frames = new FrameReader().push(await readUntilClose(s, 15_000));
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.status, S().TIMEOUT);
    assert.match(frames[0]!.body.toString(), /request incomplete after 400 ms: \d+ of 64 bytes arrived/);
  });

});

describe('a long request is not idleness', kvmOptions(), () => {
  let srv: TestServer;
  let burnPort: number;
  before(async () => {
    srv = await startTestServer({ dataIdleTimeoutMs: 20 });
    burnPort = (await srv.deploy(appDef('burner', ['burn'], [], { msg_len: 1, timeout_ms: 60_000 }))).dataPort.port;
  });
  after(() => srv.stop());

  test('a request that runs longer than the idle timeout is answered, and the connection closes only after', async () => {
    const s = await connectTo(burnPort);
    // burn computes 100·10^6 LCG steps (about 100 ms natively), far past the 20 ms idle timeout.
    const reply = await ask(s, Buffer.from([100]));
    assert.equal(reply.status, native().constants.status.OK, reply.body.toString());
    assert.equal(reply.body.length, 4);
    assert.equal((await readUntilClose(s, 15_000)).length, 0, 'then closed as idle');
  });
});
