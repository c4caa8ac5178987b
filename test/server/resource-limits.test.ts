/**
 * Server-wide caps with small configured limits: deploys refused (429 BUSY
 * naming the limit, the app's demand and what is left) when all apps'
 * instances, vCPU threads or guest memory would pass them, a redeploy's old
 * version counted until it closes; queued request bytes capped at enqueue;
 * a request's total output capped (OUTPUT_TOO_LARGE on the data port and
 * over HTTP); the caps in /metrics; a removed app's series gone from it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { encodeDefinition } from '../../src/app/index.js';
import { DataClient } from '../../src/client/data-client.js';
import { AtaruError } from '../../src/errors.js';
import { native } from '../../src/runtime/native.js';
import { functionKey } from '../../src/server/functions.js';
import { demandOf } from '../../src/server/reservations.js';
import { kvmOptions } from '../helpers/kvm.js';
import { appDef, fixturesDir, startTestServer, type TestServer } from './helpers.js';

const MiB = 1024 * 1024;
const limits = {
  maxInstances: 4,
  maxVcpuThreads: 6,
  maxGuestMemoryBytes: 32 * MiB,
  maxQueuedBytes: 100,
  maxOutputBytes: 100,
};

async function metricsText(srv: TestServer): Promise<string> {
  return (await fetch(`http://127.0.0.1:${srv.httpPort}/metrics`)).text();
}

function resourceMetric(text: string, name: 'ataru_resource_used' | 'ataru_resource_limit', resource: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{resource="${resource}"}`));
  assert.ok(line, `${name}{resource="${resource}"} in /metrics`);
  return Number(line.split(' ').pop());
}

async function refusal(p: Promise<unknown>): Promise<AtaruError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AtaruError, String(e));
    return e;
  }
  assert.fail('the deploy was accepted');
}

describe('server-wide resource caps', kvmOptions(), () => {
  let srv: TestServer;

  before(async () => {
    srv = await startTestServer({ limits });
  });
  after(() => srv.stop());

  test('deploys that would pass maxInstances, maxVcpuThreads or maxGuestMemoryBytes are refused, naming the limit', async () => {
    await srv.deploy(appDef('pair', ['echo'], [], { instances: 2 }));
    await srv.deploy(appDef('one', ['echo'], [], { instances: 1 }));

    const inst = await refusal(srv.deploy(appDef('two', ['echo'], [], { instances: 2 })));
    assert.equal(inst.code, 'BUSY');
    assert.match(inst.message, /app "two" needs 2 of instances but only 1 of the server's maxInstances limit of 4 are left/);

    const vcpu = await refusal(srv.deploy(appDef('wide', ['echo'], [], { instances: 1, vcpus: 4 })));
    assert.match(vcpu.message, /needs 4 of vCPU threads but only 3 of the server's maxVcpuThreads limit of 6 are left/);

    const big = appDef('big', ['echo'], [], { instances: 1, shm_size: 64 * MiB });
    const mem = await refusal(srv.deploy(big));
    assert.match(mem.message, /app "big" needs (\d+) bytes of guest memory but only (\d+) bytes of the server's maxGuestMemoryBytes limit of 33554432 bytes are left/);
    const [, need, left] = /needs (\d+) bytes.*only (\d+) bytes/.exec(mem.message)!;
    assert.ok(Number(need) > 64 * MiB && Number(left) < 32 * MiB, `${need} needed, ${left} left`);
    assert.equal(srv.registry.get('big'), undefined);

    // Over HTTP: 429 with the code and the message.
    const files = { [functionKey(big.nodes[0]!.function)]: readFileSync(`${fixturesDir}/echo.elf`).toString('base64') };
    const res = await fetch(`http://127.0.0.1:${srv.httpPort}/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ definition: encodeDefinition(big, 'json').toString('utf8'), files }),
    });
    assert.equal(res.status, 429);
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, 'BUSY');
    assert.match(body.message, /maxGuestMemoryBytes/);

    const text = await metricsText(srv);
    assert.equal(resourceMetric(text, 'ataru_resource_used', 'instances'), 3);
    assert.equal(resourceMetric(text, 'ataru_resource_limit', 'instances'), 4);
    assert.equal(resourceMetric(text, 'ataru_resource_used', 'vcpu_threads'), 3);
    assert.equal(resourceMetric(text, 'ataru_resource_limit', 'guest_memory_bytes'), 32 * MiB);
    const perEcho = demandOf(appDef('x', ['echo'], [], { instances: 1 }), readFileSync(`${fixturesDir}/echo.elf`).length).memoryBytes;
    assert.equal(resourceMetric(text, 'ataru_resource_used', 'guest_memory_bytes'), 3 * perEcho);
  });

  test("a redeploy counts the old version's reservation until the old version is closed", async () => {
    // pair (2) + one (1) = 3 of 4: a second version of pair with 2 would make 5 while both live.
    const both = await refusal(srv.deploy(appDef('pair', ['echo'], [], { instances: 2 })));
    assert.match(both.message, /app "pair" needs 2 of instances but only 1 .* are left \(2 of the used amount belong to the running version of "pair"/);
    assert.equal(srv.registry.get('pair')!.current.def.instances, 2, 'the old version still serves');

    await srv.deploy(appDef('pair', ['echo'], [], { instances: 1 })); // 3 + 1 = 4 while both live
    // Once the old version closes, its 2 instances are free again: pair 1 + one 1.
    for (let i = 0; i < 200 && resourceMetric(await metricsText(srv), 'ataru_resource_used', 'instances') !== 2; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(resourceMetric(await metricsText(srv), 'ataru_resource_used', 'instances'), 2);
    await srv.deploy(appDef('two', ['echo'], [], { instances: 2 })); // now it fits
    await srv.registry.remove('two');
    assert.equal(resourceMetric(await metricsText(srv), 'ataru_resource_used', 'instances'), 2, 'a removal frees its share');
  });

  test('requests that would pass maxQueuedBytes get BUSY naming the byte limit; the budget returns to 0', async () => {
    const handle = srv.registry.get('one')!.current.handle; // 1 instance
    const input = Buffer.alloc(40, 7);
    // Same tick: the first takes the instance, the next two wait (80 bytes queued).
    const accepted = [handle.run(input), handle.run(input), handle.run(input)];
    const refused = handle.run(input);
    const e = await refusal(refused);
    assert.equal(e.code, 'BUSY');
    assert.match(e.message, /queued requests of all apps hold 80 bytes; this 40-byte request would pass the server's maxQueuedBytes limit of 100 bytes/);
    for (const r of await Promise.all(accepted)) assert.deepEqual(r.output, input);
    assert.equal(resourceMetric(await metricsText(srv), 'ataru_resource_used', 'queued_bytes'), 0);
    assert.equal(resourceMetric(await metricsText(srv), 'ataru_resource_limit', 'queued_bytes'), 100);
  });

  test('outputs over maxOutputBytes are an OUTPUT_TOO_LARGE reply on the data port and over HTTP', async () => {
    // Two sinks echoing the input: 2 x input bytes of output.
    const app = await srv.deploy(appDef('twosinks', ['echo', 'echo'], [], { instances: 1, msg_len: 64 }));
    const S = native().constants.status;
    const c = await DataClient.connect('127.0.0.1', app.dataPort.port);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await c.request(Buffer.alloc(64, i)); // 128 > 100 bytes
        assert.equal(r.status, S.OUTPUT_TOO_LARGE);
        assert.match(r.body.toString(), /the sinks' outputs total 128 bytes \(64 \+ 64\), over this server's maxOutputBytes limit of 100 bytes/);
      }
    } finally {
      c.close();
    }
    const invoke = (n: number) =>
      fetch(`http://127.0.0.1:${srv.httpPort}/apps/twosinks/invoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new Uint8Array(n).fill(5),
      });
    const tooBig = await invoke(60);
    assert.equal(tooBig.status, 413);
    assert.equal(((await tooBig.json()) as { code: string }).code, 'OUTPUT_TOO_LARGE');
    const fits = await invoke(50); // 100 bytes: at the limit
    assert.equal(fits.status, 200);
    assert.deepEqual(Buffer.from(await fits.arrayBuffer()), Buffer.alloc(100, 5));
    assert.match(await metricsText(srv), /ataru_request_errors_total\{app="twosinks",code="OUTPUT_TOO_LARGE"\} 4/);
    await srv.registry.remove('twosinks');
  });

  test("a removed app's series leave /metrics; the others stay", async () => {
    const app = await srv.deploy(appDef('gone', ['echo'], [], { instances: 1 }));
    const c = await DataClient.connect('127.0.0.1', app.dataPort.port);
    assert.equal((await c.request(Buffer.alloc(64, 1))).status, 0);
    c.close();
    const before = await metricsText(srv);
    for (const name of ['ataru_requests_total', 'ataru_request_duration_seconds_count', 'ataru_node_duration_seconds_count', 'ataru_cold_starts_total', 'ataru_cold_start_seconds_count', 'ataru_instances']) {
      assert.match(before, new RegExp(`^${name}\\{[^}]*app="gone"`, 'm'), `${name} has a series for gone`);
    }
    await srv.registry.remove('gone');
    const afterText = await metricsText(srv);
    assert.doesNotMatch(afterText, /app="gone"/);
    assert.match(afterText, /ataru_cold_starts_total\{app="one"\}/, 'other apps keep theirs');
  });
});
