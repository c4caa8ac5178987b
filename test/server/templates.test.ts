/**
 * Stored templates through the server: a deploy stores its version's
 * initialised template in the data dir, a restart maps it instead of running
 * ataru_init again (and `reinit` runs it again), removing the app deletes it,
 * and the figures show in stats and /metrics.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeDefinition } from '../../src/app/index.js';
import { DataClient } from '../../src/client/data-client.js';
import { kvmOptions } from '../helpers/kvm.js';
import { tempDir } from '../helpers/tmp.js';
import { appDef, controlSend, fixturesDir, startTestServer } from './helpers.js';

const templates = (dataDir: string) => {
  const dir = join(dataDir, 'templates');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.tpl')) : [];
};

/** initcount.c's answer: how many times init ran in this memory, then the table sum. */
async function initsSeen(port: number): Promise<bigint> {
  const c = await DataClient.connect('127.0.0.1', port);
  try {
    const r = await c.request(Buffer.alloc(64, 'r')); // msg_len 64
    assert.equal(r.status, 0, r.body.toString());
    return r.body.readBigUInt64LE(0);
  } finally {
    c.close();
  }
}

test('a restart maps the stored template (init does not run again); reinit runs it; remove deletes it', kvmOptions(), async () => {
  const dataDir = tempDir();
  const def = appDef('warm', ['initcount'], [], { instances: 2 });
  const first = await startTestServer({}, dataDir);
  let port: number;
  try {
    const r = await controlSend(first.controlPort!, encodeDefinition(def, 'json'), true);
    assert.equal(r.error, undefined, r.error);
    port = r.port!;
    assert.equal(await initsSeen(port), 1n);
    const t = first.registry.get('warm')!.current.handle.stats().template;
    assert.equal(t?.fromStore, false);
    assert.equal(t?.inits, 1);
    assert.equal(templates(dataDir).length, 1, 'the template was stored');
    const metrics = await (await fetch(`http://127.0.0.1:${first.httpPort}/metrics`)).text();
    assert.match(metrics, /ataru_app_template_bytes\{app="warm",kind="data"\} [1-9]/);
  } finally {
    await first.close();
  }
  assert.equal(templates(dataDir).length, 1, 'shutdown keeps it');

  const second = await startTestServer({}, dataDir);
  try {
    const t = second.registry.get('warm')!.current.handle.stats().template;
    assert.equal(t?.fromStore, true, 'the restart mapped the stored template');
    assert.equal(await initsSeen(port), 1n, "requests see init's memory");
  } finally {
    await second.close();
  }

  const third = await startTestServer({ reinit: true }, dataDir);
  try {
    const t = third.registry.get('warm')!.current.handle.stats().template;
    assert.equal(t?.fromStore, false, 'reinit ran init again');
    assert.equal(t?.inits, 1);
    await third.registry.remove('warm');
    assert.deepEqual(templates(dataDir), [], 'removing the app deleted its template');
  } finally {
    await third.stop();
  }
});

test("a deploy whose ataru_init fails is refused with the node named; the server and other apps carry on", kvmOptions(), async () => {
  const srv = await startTestServer();
  try {
    const good = await controlSend(srv.controlPort!, encodeDefinition(appDef('good', ['add1'], []), 'json'), true);
    assert.equal(good.error, undefined, good.error);
    const bad = await controlSend(srv.controlPort!, encodeDefinition(appDef('bad', ['add1', 'initfail'], [[0, 1]]), 'json'), true);
    assert.match(bad.error ?? '', /ataru_init of node 1 \(initfail\.elf\) returned error -7/);
    assert.equal(srv.registry.get('bad'), undefined);
    const c = await DataClient.connect('127.0.0.1', good.port!);
    const input = Buffer.alloc(64, 7);
    const reply = await c.request(input);
    assert.deepEqual(reply.body, Buffer.alloc(64, 8));
    c.close();
    const res = await fetch(`http://127.0.0.1:${srv.httpPort}/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        definition: String(encodeDefinition(appDef('bad2', ['initfault'], []), 'json')),
        files: { [join(fixturesDir, 'initfault.elf')]: readFileSync(join(fixturesDir, 'initfault.elf')).toString('base64') },
      }),
    });
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(res.status, 422);
    assert.equal(body.code, 'INIT_FAILED');
    assert.match(body.message, /initfault\.elf.*page fault/);
  } finally {
    await srv.stop();
  }
});
