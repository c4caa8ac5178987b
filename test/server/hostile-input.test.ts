/**
 * Hostile input that needs no VM: definitions built to make a reader
 * quadratic, function paths that name a FIFO, a device, a huge or a non-ELF
 * file, and host names that only look like loopback. Each case is one that
 * froze or fooled the server before (issue 13, items 2, 3 and 14); each is
 * refused before an app would load, so no KVM is needed.
 *
 * Nothing here measures time: a quadratic reader shows itself by never
 * finishing (the file times out), and "the event loop is not blocked" is
 * shown by /healthz being answered alongside a hostile deploy.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeDefinition, parseDefinition } from '../../src/app/index.js';
import type { AppDefinition } from '../../src/app/model.js';
import { isLoopbackHost, makeConfig } from '../../src/config.js';
import { AtaruError } from '../../src/errors.js';
import { startServer } from '../../src/server/index.js';
import { tempDir } from '../helpers/tmp.js';
import { appDef, controlSend, fixturesDir, startTestServer, type TestServer } from './helpers.js';

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

describe('function files under a root: only regular ELF files, read off the event loop', () => {
  let srv: TestServer;
  let root: string;
  let outside: string;
  let base: string;
  const maxFunctionBytes = 64 * 1024;

  before(async () => {
    root = tempDir('ataru-root-');
    outside = tempDir('ataru-outside-');
    copyFileSync(join(fixturesDir, 'noop.elf'), join(root, 'noop.elf'));
    execFileSync('mkfifo', [join(root, 'fifo.elf')]);
    mkdirSync(join(root, 'dir.elf'));
    writeFileSync(join(root, 'text.elf'), 'not an ELF file\n');
    writeFileSync(join(root, 'huge.elf'), Buffer.alloc(maxFunctionBytes + 1));
    writeFileSync(join(outside, 'secret.elf'), Buffer.alloc(100));
    srv = await startTestServer({ functionRoots: [root], limits: { maxFunctionBytes } });
    base = `http://127.0.0.1:${srv.httpPort}`;
  });
  after(async () => {
    await srv.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const defNaming = (path: string, name: string): AppDefinition => {
    const def = appDef('hostile', ['noop'], []);
    def.nodes[0]!.function = { path, name };
    return def;
  };
  const deploy = async (path: string, name: string) => (await controlSend(srv.controlPort!, encodeDefinition(defNaming(path, name), 'json'), true)).error ?? '';
  const healthz = async () => assert.equal((await fetch(`${base}/healthz`)).status, 200);

  test('a FIFO is refused at once, and the server answers /healthz alongside', async () => {
    // Before: readFileSync on the FIFO waited for a writer on the main thread, for good.
    const [error] = await Promise.all([deploy(root, 'fifo.elf'), healthz(), healthz()]);
    assert.match(error, /fifo\.elf is not a regular file/);
    await healthz();
  });

  test('a device node is refused without being read', async (t) => {
    try {
      execFileSync('mknod', [join(root, 'zero.elf'), 'c', '1', '5']);
    } catch {
      t.skip('mknod needs root');
      return;
    }
    const [error] = await Promise.all([deploy(root, 'zero.elf'), healthz()]);
    assert.match(error, /zero\.elf is not a regular file/);
  });

  test('a folder is refused as not a regular file', async () => {
    assert.match(await deploy(root, 'dir.elf'), /dir\.elf is not a regular file/);
  });

  test('a file over limits.maxFunctionBytes is refused, naming the limit', async () => {
    assert.match(await deploy(root, 'huge.elf'), /huge\.elf is \d+ bytes, over this server's limit of 65536/);
  });

  test('a non-ELF file is rejected before anything reaches the blob store', async () => {
    const blobs = join(srv.dataDir, 'blobs');
    const written: string[] = [];
    const watcher = watch(blobs, (_event, file) => written.push(String(file)));
    try {
      assert.match(await deploy(root, 'text.elf'), /text\.elf: .*(ELF|magic)/i);
      const up = await fetch(`${base}/apps`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ definition: encodeDefinition(defNaming('bin', 'x.elf'), 'json').toString(), files: { 'bin/x.elf': Buffer.from('#!/bin/sh\n').toString('base64') } }),
      });
      assert.equal(up.status, 400);
      assert.equal(((await up.json()) as { code: string }).code, 'BAD_ELF');
      await sleep(100); // let inotify report a write, if one happened
    } finally {
      watcher.close();
    }
    assert.deepEqual(written, [], 'no blob file was written or renamed');
    assert.deepEqual(readdirSync(blobs), []);
  });

  test('outside the roots, an existing and a missing file get the same answer', async () => {
    const present = await deploy(outside, 'secret.elf');
    const missing = await deploy(outside, 'missing.elf');
    assert.match(present, /secret\.elf lies outside the function roots/);
    assert.match(missing, /missing\.elf lies outside the function roots/);
    assert.equal(present.replaceAll('secret.elf', 'X'), missing.replaceAll('missing.elf', 'X'), 'nothing tells the two apart');
    assert.doesNotMatch(present, /\b100\b|bytes/, 'no size of a file outside the roots');
  });
});
