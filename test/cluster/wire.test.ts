/**
 * The cluster's pieces that need no NATS server: names in keys and subjects,
 * the invocation message format (replies carry the HTTP API's status, code,
 * message and location), registry entries, and the nats/cluster config.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { DEFAULTS, type AppDefinition } from '../../src/app/model.js';
import { natsUrls } from '../../src/cli/commands/serve.js';
import { ClusterHandle } from '../../src/cluster/handle.js';
import { errorReply, H, okReply, parseReply } from '../../src/cluster/messages.js';
import type { AppHandle, RunResult } from '../../src/runtime/types.js';
import { appFromToken, appToken, names } from '../../src/cluster/names.js';
import { decodeEntry, encodeEntry, type RegistryEntry } from '../../src/cluster/registry-entry.js';
import { loadConfig, makeConfig } from '../../src/config.js';
import { AtaruError, httpStatusOf } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('ataru-wire-');
after(() => rmSync(dir, { recursive: true, force: true }));

test('app names become KV keys and subject tokens, reversibly, and never collide', () => {
  assert.equal(appToken('sobel-v2_x'), 'sobel-v2_x');
  assert.equal(appToken('a.b'), `=${Buffer.from('a.b').toString('hex')}`);
  assert.equal(names('prod').invoke('a b*>'), `prod.invoke.=${Buffer.from('a b*>').toString('hex')}`);
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }), fc.string({ minLength: 1, maxLength: 40 }), (a, b) => {
      const t = appToken(a);
      assert.match(t, /^[-_=A-Za-z0-9]+$/); // a valid KV key and subject token
      assert.equal(appFromToken(t), a);
      if (a !== b) assert.notEqual(t, appToken(b));
    }),
  );
});

test('a reply carries the HTTP status, code, message and location; an ok reply the output and timings', () => {
  const served = { requestId: 'r1', node: 'n1', version: 3 };
  const err = new AtaruError('FAULT', 'page fault writing 0x0', { node: 0, functionName: 'nullwrite.elf' });
  const e = errorReply(err, served);
  assert.equal(e.headers.get(H.status), String(httpStatusOf('FAULT')));
  assert.equal(e.headers.get(H.requestId), 'r1');
  assert.throws(
    () => parseReply(e.data, e.headers, 'test'),
    (x: AtaruError) => x.code === 'FAULT' && x.message === 'page fault writing 0x0' && x.location?.node === 0,
  );
  const ok = okReply({ output: Buffer.from('abc'), sinkLengths: [1, 2], dagNs: 1500, nodeNs: [], runNs: 0, queueNs: 0, instance: 0 }, served);
  const r = parseReply(ok.data, ok.headers, 'test');
  assert.deepEqual([r.status, r.output.toString(), r.sinkLengths, r.dagNs, r.node, r.version], [200, 'abc', [1, 2], 1500, 'n1', 3]);
  assert.throws(() => parseReply(new Uint8Array(), undefined, 'somewhere'), /somewhere: the reply has no Ataru-Status header/);
});

test('registry entries round-trip and bad ones are refused with the key named', () => {
  const def: AppDefinition = { ...DEFAULTS, name: 'app', msg_len: 8, nodes: [{ id: 'add1', function: { path: './', name: 'add1.elf' }, inp_off: 0, out_off: 65536 }], edges: [] };
  const entry: RegistryEntry = { name: 'app', definition: def, blobs: { 'add1.elf': 'a'.repeat(64) }, version: 2, created: 't0', updated: 't1', deployer: 'n1 (http 127.0.0.1)' };
  assert.deepEqual(decodeEntry(encodeEntry(entry), 'app'), entry);
  assert.throws(() => decodeEntry('{', 'k1'), /registry entry k1 is not JSON/);
  assert.throws(() => decodeEntry(encodeEntry({ ...entry, name: 'other' }), 'k2'), /registry entry k2: definition names "app", not "other"/);
  assert.throws(() => decodeEntry(encodeEntry({ ...entry, blobs: { x: 'nope' } }), 'k3'), /registry entry k3: "nope" is not a sha256/);
});

test('nats and cluster config: defaults, file < flags, errors name the field', () => {
  const c = makeConfig({});
  assert.equal(c.nats, undefined);
  assert.deepEqual(c.cluster, { name: 'ataru', forward: 'absent', timeoutMs: 10_000, serve: true });
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ nats: { servers: ['nats://a:4222'], credentials: '/x.creds', replicas: 3 }, cluster: { name: 'prod', forward: 'saturated' } }));
  const merged = loadConfig(file, { nats: { servers: ['nats://b:4222'] }, cluster: { name: undefined, timeoutMs: 500 } });
  assert.deepEqual(merged.nats, { servers: ['nats://b:4222'], credentials: '/x.creds', replicas: 3 });
  assert.deepEqual(merged.cluster, { name: 'prod', forward: 'saturated', timeoutMs: 500, serve: true });
  assert.throws(() => makeConfig({ cluster: { name: 'a.b' } }), /cluster\.name: letters, digits/);
  assert.throws(() => makeConfig({ nats: { servers: [] } }), /nats\.servers/);
  assert.deepEqual(natsUrls(['nats://a:1,nats://b:2', ' nats://c:3 ']), ['nats://a:1', 'nats://b:2', 'nats://c:3']);
  assert.equal(natsUrls(undefined), undefined);
});

test('forward modes: absent forwards only without a local pool, saturated also when it is busy, never never', async () => {
  const def: AppDefinition = { ...DEFAULTS, name: 'app', msg_len: 8, nodes: [], edges: [] };
  const result = (tag: string): RunResult => ({ output: Buffer.from(tag), sinkLengths: [tag.length], dagNs: 0, nodeNs: [], runNs: 0, queueNs: 0, instance: 0 });
  let busy = false;
  const local = { definition: def, run: async () => result('local'), saturated: () => busy, stats: () => { throw new Error('unused'); }, close: async () => {} } as AppHandle;
  const forward = async () => result('cluster');
  const ran = async (h: ClusterHandle) => (await h.run(Buffer.alloc(8))).output.toString();

  assert.equal(await ran(new ClusterHandle(def, local, forward, 'absent')), 'local');
  assert.equal(await ran(new ClusterHandle(def, undefined, forward, 'absent')), 'cluster');
  assert.equal(await ran(new ClusterHandle(def, local, forward, 'saturated')), 'local');
  busy = true;
  assert.equal(await ran(new ClusterHandle(def, local, forward, 'saturated')), 'cluster');
  assert.equal(await ran(new ClusterHandle(def, local, forward, 'absent')), 'local', 'absent keeps busy requests here (they queue)');
  assert.equal(await ran(new ClusterHandle(def, local, forward, 'never')), 'local');
  await assert.rejects(new ClusterHandle(def, undefined, forward, 'never').run(Buffer.alloc(8)), /no instances on this node and forwarding is off/);
  assert.equal(new ClusterHandle(def, undefined, forward, 'absent').stats().instances.total, 0);
});
