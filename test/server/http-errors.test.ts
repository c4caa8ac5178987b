/**
 * Every error reply of the HTTP API is an AtaruError body `{code, message}`
 * with the status of its code's row in httpStatusOf: a missing token is 401
 * UNAUTHENTICATED, a refused deploy 403 FORBIDDEN, an unknown route 404, a
 * schema violation 400 with a location, a body over the limit 413. None of
 * these needs KVM: each is refused before an app would load.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeDefinition } from '../../src/app/index.js';
import { httpStatusOf } from '../../src/errors.js';
import { functionKey } from '../../src/server/functions.js';
import { appDef, fixturesDir, startTestServer, type TestServer } from './helpers.js';

interface ErrorBody {
  code: string;
  message: string;
  location?: Record<string, unknown>;
}

async function errorOf(res: Response): Promise<ErrorBody> {
  const body = (await res.json()) as ErrorBody;
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0, 'the message says what is wrong');
  assert.equal(res.status, httpStatusOf(body.code as never), `status ${res.status} is the table's for ${body.code}`);
  return body;
}

/** A deploy body for one noop node whose statistics line would go to `resultIp`. */
function deployTo(resultIp: string) {
  const def = appDef('refused', ['noop'], [], { result_ip: resultIp, result_port: 9 });
  def.nodes[0]!.function = { path: 'bin', name: 'noop.elf' };
  return {
    definition: encodeDefinition(def, 'json').toString('utf8'),
    files: { [functionKey(def.nodes[0]!.function)]: readFileSync(join(fixturesDir, 'noop.elf')).toString('base64') },
  };
}

describe('HTTP API error replies', () => {
  let srv: TestServer;
  let base: string;
  const token = 'k3y';
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  before(async () => {
    srv = await startTestServer({ token, controlPort: null, functionRoots: [], limits: { maxHttpBodyBytes: 64 * 1024 } });
    base = `http://127.0.0.1:${srv.httpPort}`;
  });
  after(() => srv.stop());

  test('a missing or wrong token is 401 UNAUTHENTICATED, not FORBIDDEN', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }] as Record<string, string>[]) {
      const res = await fetch(`${base}/apps`, { headers });
      assert.equal(res.status, 401);
      const e = await errorOf(res);
      assert.equal(e.code, 'UNAUTHENTICATED');
      assert.match(e.message, /bearer token/);
    }
  });

  test('a refused deploy (result target outside --result-allow) is 403 FORBIDDEN', async () => {
    const res = await fetch(`${base}/apps`, { method: 'POST', headers: auth, body: JSON.stringify(deployTo('192.0.2.7')) });
    assert.equal(res.status, 403);
    const e = await errorOf(res);
    assert.equal(e.code, 'FORBIDDEN');
    assert.match(e.message, /192\.0\.2\.7/);
    assert.equal(e.location?.field, 'result_ip');
  });

  test('an unknown route is 404 NOT_FOUND in the same shape', async () => {
    const res = await fetch(`${base}/no/such/route`, { headers: auth });
    assert.equal(res.status, 404);
    assert.equal((await errorOf(res)).code, 'NOT_FOUND');
  });

  test('a body that breaks the schema is 400 BAD_REQUEST with its JSON path', async () => {
    const res = await fetch(`${base}/apps`, { method: 'POST', headers: auth, body: JSON.stringify({ definition: 'x', encoding: 'hex' }) });
    assert.equal(res.status, 400);
    const e = await errorOf(res);
    assert.equal(e.code, 'BAD_REQUEST');
    assert.equal(e.location?.jsonPath, '$.encoding');
  });

  test('a body over the size limit is 413 TOO_LARGE', async () => {
    const res = await fetch(`${base}/apps`, { method: 'POST', headers: auth, body: JSON.stringify({ definition: 'x'.repeat(100 * 1024) }) });
    assert.equal(res.status, 413);
    assert.equal((await errorOf(res)).code, 'TOO_LARGE');
  });

  test('malformed JSON is 400 BAD_REQUEST', async () => {
    const res = await fetch(`${base}/apps`, { method: 'POST', headers: auth, body: '{"definition": ' });
    assert.equal(res.status, 400);
    assert.equal((await errorOf(res)).code, 'BAD_REQUEST');
  });
});
