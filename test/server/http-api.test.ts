/**
 * The HTTP API with real apps: deploy with uploaded binaries (no file-system
 * access by the server), invoke, list, inspect, remove, OpenAPI, metrics,
 * error bodies and the bearer token.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeDefinition } from '../../src/app/index.js';
import { ApiClient } from '../../src/client/api-client.js';
import { functionKey } from '../../src/server/functions.js';
import { AtaruError } from '../../src/errors.js';
import { kvmOptions } from '../helpers/kvm.js';
import { randomBytes } from '../helpers/random.js';
import { addN, appDef, fixturesDir, startTestServer, type TestServer } from './helpers.js';

/** A definition whose functions are named relative ("bin/…") and uploaded, so the server can't have read them. */
function uploadBody(name: string, fns: string[], edges: [number, number][], form: 'template' | 'json' | 'binary' = 'json', extra = {}) {
  const def = appDef(name, fns, edges, extra);
  const files: Record<string, string> = {};
  for (const n of def.nodes) {
    n.function = { path: 'bin', name: n.function.name };
    files[functionKey(n.function)] = readFileSync(join(fixturesDir, n.function.name)).toString('base64');
  }
  const bytes = encodeDefinition(def, form);
  return { definition: bytes.toString(form === 'binary' ? 'base64' : 'utf8'), encoding: form === 'binary' ? 'base64' : 'text', files } as const;
}

describe('HTTP API', kvmOptions(), () => {
  let srv: TestServer;
  let api: ApiClient;
  let base: string;

  before(async () => {
    // No function roots: only uploads can deploy.
    srv = await startTestServer({ functionRoots: [] });
    base = `http://127.0.0.1:${srv.httpPort}`;
    api = new ApiClient(base);
  });
  after(() => srv.stop());

  test('deploy with uploaded binaries, invoke, inspect, list, remove', async () => {
    const r = await api.deploy(uploadBody('chain3', ['add1', 'add1', 'add1'], [[0, 1], [1, 2]], 'template'));
    assert.equal(r.name, 'chain3');
    assert.equal(r.replaced, false);
    assert.ok(r.port > 0);

    const input = randomBytes(64, 5);
    assert.ok((await api.invoke('chain3', input)).equals(addN(input, 3)));

    const d = await api.get('chain3');
    assert.equal(d.port, r.port);
    assert.deepEqual(d.edges.map((e) => [e.from, e.to]), [[0, 1], [1, 2]]);
    assert.equal(d.definition.nodes.length, 3);
    assert.equal(d.stats.requests, 1);
    assert.ok(d.instances.total >= 1);

    assert.deepEqual((await api.list()).map((a) => a.name), ['chain3']);
    await api.remove('chain3');
    assert.deepEqual(await api.list(), []);
    await assert.rejects(api.invoke('chain3', input), (e: AtaruError) => e.code === 'NOT_FOUND');
  });

  test('binary definitions upload as base64 and keep reply: none', async () => {
    const r = await api.deploy(uploadBody('bin1', ['noop'], [], 'binary', { instances: 0 }));
    assert.equal((await api.get('bin1')).reply, 'none');
    assert.ok(r.port > 0);
    await api.remove('bin1');
  });

  test('errors: JSON {code, message, location} with the mapped status', async () => {
    const missing = uploadBody('nofiles', ['noop'], []);
    const res = await fetch(`${base}/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...missing, files: {} }) });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { code: string; message: string; location: { node: number } };
    assert.equal(body.code, 'BAD_DEFINITION');
    assert.match(body.message, /bin\/noop\.elf/);
    assert.equal(body.location.node, 0);

    const bad = await fetch(`${base}/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nope: 1 }) });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, 'BAD_REQUEST');

    await api.deploy(uploadBody('faulty', ['nullwrite'], []));
    const f = await fetch(`${base}/apps/faulty/invoke`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(8) });
    assert.equal(f.status, 422);
    const fb = (await f.json()) as { code: string; location: { node: number } };
    assert.equal(fb.code, 'FAULT');
    assert.equal(fb.location.node, 0);

    const big = await fetch(`${base}/apps/faulty/invoke`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(3 * 1024 * 1024) });
    assert.equal(big.status, 400, 'an input larger than the shared region');
    assert.equal(((await big.json()) as { code: string }).code, 'BAD_REQUEST');
    await api.remove('faulty');
  });

  test('healthz, OpenAPI document, Prometheus metrics', async () => {
    await api.deploy(uploadBody('metered', ['noop', 'noop'], [[0, 1]]));
    await api.invoke('metered', Buffer.alloc(64));
    assert.equal(((await (await fetch(`${base}/healthz`)).json()) as { status: string }).status, 'ok');
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    assert.match(doc.openapi, /^3\./);
    for (const p of ['/apps', '/apps/{name}', '/apps/{name}/invoke', '/healthz', '/metrics']) assert.ok(doc.paths[p], `OpenAPI has ${p}`);
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /ataru_requests_total\{app="metered",source="http"\} 1/);
    assert.match(text, /ataru_node_duration_seconds_count\{app="metered",node="1"\} 1/);
    assert.match(text, /ataru_instances\{app="metered",state="total"\} \d/);
    assert.match(text, /ataru_cold_starts_total\{app="metered"\} 1/);
    await api.remove('metered');
  });

  test('a bearer token, when set, is required everywhere but /healthz', async () => {
    const guarded = await startTestServer({ token: 's3cret', controlPort: null });
    try {
      const url = `http://127.0.0.1:${guarded.httpPort}`;
      assert.equal((await fetch(`${url}/apps`)).status, 401);
      assert.equal((await fetch(`${url}/apps`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      assert.deepEqual(await new ApiClient(url, 's3cret').list(), []);
    } finally {
      await guarded.stop();
    }
  });
});
