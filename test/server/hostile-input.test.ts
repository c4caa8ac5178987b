/**
 * Hostile input that needs no VM: definitions built to make a reader
 * quadratic, and host names that only look like loopback. Each case is one
 * that froze or fooled the server before (issue 13, items 2 and 14).
 *
 * Nothing here measures time: a quadratic reader shows itself by never
 * finishing (the file times out), and "the event loop is not blocked" is
 * shown by /healthz being answered alongside a hostile deploy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseDefinition } from '../../src/app/index.js';
import { isLoopbackHost, makeConfig } from '../../src/config.js';
import { AtaruError } from '../../src/errors.js';
import { startServer } from '../../src/server/index.js';
import { tempDir } from '../helpers/tmp.js';
import { controlSend, startTestServer, type TestServer } from './helpers.js';

const MiB = 1024 * 1024;

/** Definitions of about `size` bytes, each built against one reader's weak spot. */
function hostileDefinitions(size: number): Record<string, string> {
  return {
    // A value, a long run of blanks, then more text: the trailing-blank trim
    // used to retry from every blank of the run.
    'blanks inside a value': `name : a${' '.repeat(size)}b\n`,
    'alternating tabs and spaces': `name : a${' \t'.repeat(size / 2)}b\n`,
    'a line of only blanks after a key': `name${' '.repeat(size)}x\n`,
    'half a million unknown keys': 'x\n'.repeat(size / 2),
    'a dag of half a million values': `name : a\nnum_nodes : 1\ndag : ${'1,'.repeat(size / 2)}\n`,
    'a key of a megabyte': `${'k'.repeat(size)} : 1\n`,
    'JSON: a megabyte of blanks': `{${' '.repeat(size)}x`,
    'JSON: deep nesting': '['.repeat(size),
    'JSON: a hundred thousand unknown keys': JSON.stringify(Object.fromEntries(Array.from({ length: size / 10 }, (_, i) => [`k${i}`, 1]))),
  };
}

describe('hostile definitions are read in linear time', () => {
  for (const [what, text] of Object.entries(hostileDefinitions(MiB))) {
    test(`${what}: rejected with BAD_DEFINITION naming a line or path`, () => {
      assert.throws(
        () => parseDefinition(Buffer.from(text)),
        (e: AtaruError) => e instanceof AtaruError && e.code === 'BAD_DEFINITION' && e.message.length > 0 && e.message.length < 500,
      );
    });
  }

  test('a megabyte of garbage lines reports the first problems and counts the rest', () => {
    const err = (() => {
      try {
        parseDefinition(Buffer.from('x\n'.repeat(MiB / 2)));
      } catch (e) {
        return e as AtaruError;
      }
      assert.fail('the garbage was accepted');
    })();
    assert.equal(err.location?.line, 1);
    const last = err.details[err.details.length - 1]!;
    // 524,288 unknown keys plus the missing required keys: all counted, 50 listed.
    const more = Number(/\.\.\. and (\d+) more problems/.exec(last.message)?.[1]);
    assert.ok(more > MiB / 2 - 50, `the count covers every line (${last.message})`);
    assert.ok(err.details.length <= 51);
  });
});

describe('a hostile deploy does not stop the server answering', () => {
  let srv: TestServer;
  let base: string;
  before(async () => {
    srv = await startTestServer();
    base = `http://127.0.0.1:${srv.httpPort}`;
  });
  after(() => srv.stop());

  const healthy = async () => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ok');
  };

  test('HTTP: a 1 MiB hostile template and /healthz, in parallel, both complete', async () => {
    const definition = `name : a${' '.repeat(MiB)}b\n`;
    const deploy = fetch(`${base}/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ definition }) });
    const [res] = await Promise.all([deploy, healthy(), healthy(), healthy()]);
    assert.equal(res.status, 400);
    const body = (await res.json()) as { code: string; location: { line?: number } };
    assert.equal(body.code, 'BAD_DEFINITION');
    assert.equal(body.location.line, 1);
    await healthy();
  });

  test('control port: a hostile template just under the size limit and /healthz, in parallel, both complete', async () => {
    const text = `name : a${' \t'.repeat(MiB / 2 - 16)}b\n`;
    assert.ok(text.length <= MiB);
    const [reply] = await Promise.all([controlSend(srv.controlPort!, text, true), healthy(), healthy()]);
    assert.match(reply.error ?? '', /:1: name: expected one value/);
    await healthy();
  });
});

describe('loopback is decided by address, not by spelling', () => {
  test('literal addresses: 127/8, ::1 and mapped 127/8 are loopback; others are not', async () => {
    for (const h of ['127.0.0.1', '127.200.0.9', '::1', '::ffff:127.0.0.1']) assert.equal(await isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '10.0.0.1', '128.0.0.1', '::', '2001:db8::1', '::ffff:10.0.0.1']) assert.equal(await isLoopbackHost(h), false, h);
  });

  test('a name that starts with "127." is not loopback unless it resolves there', async () => {
    assert.equal(await isLoopbackHost('127.0.0.1.example.com'), false);
    assert.equal(await isLoopbackHost('127.x.example.invalid'), false);
    assert.equal(await isLoopbackHost('localhost'), true, 'localhost resolves to loopback');
  });

  test('such a host needs a token: the server refuses to start without one', async () => {
    const dataDir = tempDir('ataru-hostile-');
    for (const host of ['127.0.0.1.example.com', '127.x.example.invalid']) {
      makeConfig({ host, dataDir }); // the spelling alone decides nothing
      await assert.rejects(
        startServer({ host, dataDir, controlPort: null, httpPort: 0 }),
        (e: AtaruError) => e.code === 'FORBIDDEN' && e.message.includes(host) && /--token/.test(e.message),
      );
    }
    assert.throws(() => makeConfig({ host: '10.1.2.3', dataDir }), (e: AtaruError) => e.code === 'FORBIDDEN');
  });
});
