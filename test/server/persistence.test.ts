/**
 * Persistence and replacement: a restarted server brings every app back on
 * its port, from its stored binaries (source files changed or deleted
 * meanwhile don't matter); a redeploy under load swaps atomically; close()
 * lets in-flight requests finish.
 */
import assert from 'node:assert/strict';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeDefinition } from '../../src/app/index.js';
import { native } from '../../src/runtime/native.js';
import { DataClient } from '../../src/client/data-client.js';
import { kvmOptions } from '../helpers/kvm.js';
import { randomBytes } from '../helpers/random.js';
import { tempDir } from '../helpers/tmp.js';
import { addN, appDef, controlSend, fixturesDir, startTestServer } from './helpers.js';

test('a restarted server brings every app back on its port, from stored binaries', kvmOptions(), async () => {
  const root = tempDir('ataru-src-');
  copyFileSync(join(fixturesDir, 'add1.elf'), join(root, 'fn.elf'));
  const dataDir = tempDir();
  const first = await startTestServer({ functionRoots: [root] }, dataDir);
  const def = appDef('kept', ['add1'], []);
  def.nodes[0]!.function = { path: root, name: 'fn.elf' };
  const r = await controlSend(first.controlPort!, encodeDefinition(def, 'json'), true);
  assert.equal(r.error, undefined, r.error);
  await first.close();

  // The source changes and then disappears: the app must not notice.
  copyFileSync(join(fixturesDir, 'uppercase.elf'), join(root, 'fn.elf'));
  rmSync(root, { recursive: true });

  const second = await startTestServer({ functionRoots: [] }, dataDir);
  try {
    const app = second.registry.get('kept');
    assert.ok(app, 'app restored');
    assert.equal(app.dataPort.port, r.port, 'on the same port');
    const c = await DataClient.connect('127.0.0.1', r.port!);
    const input = randomBytes(64, 3);
    const reply = await c.request(input);
    assert.ok(reply.body.equals(addN(input, 1)), 'still the stored add1');
    c.close();
  } finally {
    await second.stop(); // removes dataDir too
  }
});

test('redeploy under load: one reply per request, old answers then new, never an error', kvmOptions(), async () => {
  const srv = await startTestServer();
  try {
    const port = (await srv.deploy(appDef('swap', ['add1'], [], { instances: 1 }))).dataPort.port;
    const clients = await Promise.all(Array.from({ length: 4 }, () => DataClient.connect('127.0.0.1', port)));
    const perConn = 400;
    const seen: number[][] = clients.map(() => []);
    let sent = 0;
    let redeployed: Promise<unknown> | undefined;
    await Promise.all(
      clients.map(async (c, ci) => {
        for (let i = 0; i < perConn; i++) {
          // Four in flight per connection: the swap lands between pipelined requests.
          const batch = Array.from({ length: 4 }, (_, j) => randomBytes(64, ci * 10_000 + i * 4 + j + 1));
          const replies = await Promise.all(batch.map((b) => c.request(b)));
          replies.forEach((r, j) => {
            assert.equal(r.status, native().constants.status.OK, r.body.toString());
            const delta = (r.body[0]! - batch[j]![0]! + 256) & 0xff;
            assert.ok(r.body.equals(addN(batch[j]!, delta)) && (delta === 1 || delta === 2), `reply is +1 or +2, got +${delta}`);
            seen[ci]!.push(delta);
          });
          if (++sent === 200) redeployed = srv.deploy(appDef('swap', ['add1', 'add1'], [[0, 1]], { instances: 1 }));
        }
      }),
    );
    await redeployed;
    for (const c of clients) c.close();
    for (const s of seen) {
      assert.equal(s.length, perConn * 4, 'one reply per request');
      const firstNew = s.indexOf(2);
      assert.ok(firstNew > 0, 'the old version answered first');
      assert.ok(s.slice(firstNew).every((d) => d === 2), 'never the old version after the new one');
    }
    const c = await DataClient.connect('127.0.0.1', port);
    const input = randomBytes(64, 99);
    assert.ok((await c.request(input)).body.equals(addN(input, 2)), 'same port, new version');
    c.close();
    assert.equal(srv.registry.list().length, 1);
  } finally {
    await srv.stop();
  }
});

test('close() lets in-flight requests finish', kvmOptions(), async () => {
  const srv = await startTestServer();
  let closed = false;
  try {
    const port = (await srv.deploy(appDef('slow', ['burn'], [], { instances: 1, timeout_ms: 5000 }))).dataPort.port;
    const c = await DataClient.connect('127.0.0.1', port);
    const input = Buffer.alloc(64);
    input[0] = 20; // ~20 ms each
    const pending = Array.from({ length: 3 }, () => c.request(input));
    await new Promise((r) => setTimeout(r, 10));
    const closing = srv.close().then(() => (closed = true));
    const replies = await Promise.all(pending);
    for (const r of replies) assert.equal(r.status, native().constants.status.OK);
    await closing;
    assert.ok(closed);
  } finally {
    if (!closed) await srv.stop();
    else rmSync(srv.dataDir, { recursive: true, force: true });
  }
});
