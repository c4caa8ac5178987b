/**
 * The one config loader: defaults < JSON file < flags, validated; a listener
 * off loopback needs a token; a result allow-list entry must be an IP/CIDR.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig, makeConfig } from '../../src/config.js';
import { AtaruError } from '../../src/errors.js';
import { makeAllowList } from '../../src/server/result-target.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('ataru-cfg-');
after(() => rmSync(dir, { recursive: true, force: true }));

test('embedded defaults: 9988, 9990, loopback, ~/.ataru, cwd as the function root', () => {
  const c = makeConfig({});
  assert.equal(c.controlPort, 9988);
  assert.equal(c.httpPort, 9990);
  assert.equal(c.host, '127.0.0.1');
  assert.match(c.dataDir, /\.ataru$/);
  assert.deepEqual(c.functionRoots, [process.cwd()]);
  assert.equal(c.allowRemoteDeploy, false);
});

test('flags override the file, which overrides the defaults; limits merge field by field', () => {
  const file = join(dir, 'ataru.json');
  writeFileSync(file, JSON.stringify({ httpPort: 1234, controlPort: 4321, limits: { maxApps: 3, maxMsgLen: 100 } }));
  const c = loadConfig(file, { httpPort: 5555, controlPort: undefined, limits: { maxApps: 7 } });
  assert.equal(c.httpPort, 5555);
  assert.equal(c.controlPort, 4321);
  assert.equal(c.limits.maxApps, 7);
  assert.equal(c.limits.maxMsgLen, 100);
});

test('invalid configs say what and where', () => {
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ httpPort: 70000 }));
  assert.throws(() => loadConfig(file, {}), (e: AtaruError) => e.location?.file === file && /httpPort/.test(e.message));
  writeFileSync(file, JSON.stringify({ colour: 'blue' }));
  assert.throws(() => loadConfig(file, {}), (e: AtaruError) => /colour/.test(e.message));
  writeFileSync(file, '{ nope');
  assert.throws(() => loadConfig(file, {}), (e: AtaruError) => /not valid JSON/.test(e.message));
  assert.throws(() => makeConfig({ host: '0.0.0.0' }), (e: AtaruError) => e.code === 'FORBIDDEN' && /--token/.test(e.message));
  assert.equal(makeConfig({ host: '0.0.0.0', token: 't' }).token, 't');
});

test('result allow-list: IPs and CIDRs, v4 and v6; anything else is refused', () => {
  const list = makeAllowList(['127.0.0.0/8', '::1/128', '10.1.2.3']);
  assert.ok(list.check('127.5.6.7', 'ipv4'));
  assert.ok(list.check('10.1.2.3', 'ipv4'));
  assert.ok(!list.check('10.1.2.4', 'ipv4'));
  assert.ok(list.check('::1', 'ipv6'));
  assert.throws(() => makeAllowList(['example.com']), /not an IP/);
  assert.throws(() => makeAllowList(['10.0.0.0/33']), /prefix/);
});
