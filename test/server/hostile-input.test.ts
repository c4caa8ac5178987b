/**
 * Hostile input that needs no VM: definitions built to make a reader
 * quadratic, function paths that name a FIFO, a device, a huge or a non-ELF
 * file, slow and idle clients of the control port and the HTTP API, and host
 * names that only look like loopback. Each case is one that froze or fooled
 * the server before (issue 13, items 2, 3, 4 and 14); each is refused before
 * an app would load, so no KVM is needed (the data-port cases, which need an
 * app, are in slow-data-clients.test.ts).
 *
 * Nothing here measures time: a quadratic reader shows itself by never
 * finishing (the file times out), and "the event loop is not blocked" is
 * shown by /healthz being answered alongside a hostile deploy.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, watch, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeDefinition, parseDefinition } from '../../src/app/index.js';
import type { AppDefinition } from '../../src/app/model.js';
import { isLoopbackHost, makeConfig } from '../../src/config.js';
import { AtaruError } from '../../src/errors.js';
import { log } from '../../src/log.js';
import { handleControlConnection } from '../../src/server/control-port.js';
import { startServer } from '../../src/server/index.js';
import { tempDir } from '../helpers/tmp.js';
import { appDef, connectTo, controlSend, fixturesDir, readUntilClose, startTestServer, type TestServer } from './helpers.js';

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
    const definition = `name : a${' '.repeat(MiB - 16)}b\n`; // 1 MiB, the definition limit
    const deploy = fetch(`${base}/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ definition }) });
    const [res] = await Promise.all([deploy, healthy(), healthy(), healthy()]);
    assert.equal(res.status, 400);
    const body = (await res.json()) as { code: string; location: { line?: number } };
    assert.equal(body.code, 'BAD_DEFINITION');
    assert.equal(body.location.line, 1);
    await healthy();
  });

  test('HTTP: a definition over limits.maxDefinitionBytes is refused unparsed (the body limit is for the binaries)', async () => {
    const definition = 'x\n'.repeat(MiB); // 2 MiB of garbage lines
    const [res] = await Promise.all([
      fetch(`${base}/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ definition }) }),
      healthy(),
    ]);
    assert.equal(res.status, 413);
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, 'TOO_LARGE');
    assert.match(body.message, /over this server's limit of 1048576/);
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

/** A client that does not end its side when the server ends its own (it ignores the FIN). */
function connectHalfOpen(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * What a socket received until the server dropped it: a close, or the reset
 * or broken pipe a write meets once the server has destroyed its end.
 */
function receivedUntilDropped(s: Socket, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`the server still holds the socket after ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString());
    };
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? done() : reject(e)));
    s.on('close', done);
  });
}

/** Writes `byte` every `everyMs` until the socket closes: the slowest client there is. */
function trickle(s: Socket, byte: string, everyMs: number): void {
  const t = setInterval(() => {
    if (!s.destroyed && s.writable) s.write(byte);
  }, everyMs);
  s.once('close', () => clearInterval(t));
  s.once('error', () => clearInterval(t));
}

describe('slow and idle control-port clients', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ controlTimeoutMs: 400, httpPort: null });
  });
  after(() => srv.stop());

  test('a client sending a byte every 50 ms is cut off at the deadline from connect, with an error line', async () => {
    const s = await connectTo(srv.controlPort!);
    trickle(s, ' ', 50); // an idle timeout would be reset by every byte
    const reply = (await readUntilClose(s, 15_000)).toString();
    assert.match(reply, /^error: timed out after 400 ms with \d+ bytes/);
  });

  test('a client that connects and sends nothing is cut off too', async () => {
    const reply = (await readUntilClose(await connectTo(srv.controlPort!), 15_000)).toString();
    assert.match(reply, /^error: timed out after 400 ms with 0 bytes/);
  });

  test('a client that ignores the error reply and the FIN, and keeps sending, is dropped at the deadline', async () => {
    const s = await connectHalfOpen(srv.controlPort!);
    const struct = Buffer.alloc(54_009); // a NUL first: the binary form, one byte too long
    s.write(struct);
    trickle(s, 'x', 50);
    const reply = await receivedUntilDropped(s);
    assert.match(reply, /^error: byte 54008: binary definition must be exactly 54008 bytes/);
  });

  test('a refused (non-loopback) peer that ignores the FIN and keeps sending is dropped at the deadline', async () => {
    const server: Server = createServer({ allowHalfOpen: true }, (sock) => {
      Object.defineProperty(sock, 'remoteAddress', { value: '192.0.2.10' });
      handleControlConnection(sock, { config: srv.config, registry: srv.registry, store: undefined as never, log });
    });
    await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
    try {
      const s = await connectHalfOpen((server.address() as { port: number }).port);
      trickle(s, 'x', 50); // before, only its own FIN ended the socket
      const reply = await receivedUntilDropped(s);
      assert.match(reply, /^error: deploys from 192\.0\.2\.10 are refused/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test('a 1 MiB text definition in 1-byte chunks is buffered in linear time', async () => {
    // The chunks are fed straight to the handler (TCP would coalesce them):
    // a copy of everything so far per chunk would be ~5·10^11 bytes here.
    const text = Buffer.from(`name : a${' '.repeat(MiB - 16)}b\n`);
    const reply = await new Promise<string>((resolve, reject) => {
      const server: Server = createServer({ allowHalfOpen: true }, (sock) => {
        handleControlConnection(sock, { config: { ...srv.config, controlTimeoutMs: 600_000 }, registry: srv.registry, store: undefined as never, log });
        for (let i = 0; i < text.length; i++) sock.emit('data', text.subarray(i, i + 1));
        sock.emit('end');
      });
      server.listen({ host: '127.0.0.1', port: 0 }, () => {
        const c = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
        readUntilClose(c, 120_000).then((b) => {
          server.close();
          resolve(b.toString());
        }, reject);
      });
    });
    assert.match(reply, /^error: .*:1: name: expected one value, found 2/);
  });
});

describe('control-port connection cap', () => {
  test('past limits.maxControlConnections a new client is closed at once; the held ones still work', async () => {
    const srv = await startTestServer({ httpPort: null, limits: { maxControlConnections: 2 } });
    try {
      const held = await Promise.all([connectTo(srv.controlPort!), connectTo(srv.controlPort!)]);
      await sleep(50);
      const extra = await readUntilClose(await connectTo(srv.controlPort!), 15_000);
      assert.equal(extra.length, 0, 'closed without a reply');
      held[0]!.end('garbage');
      assert.match((await readUntilClose(held[0]!, 15_000)).toString(), /^error: /);
      held[1]!.destroy();
    } finally {
      await srv.stop();
    }
  });
});

describe('slow and idle HTTP clients', () => {
  let srv: TestServer;
  let port: number;
  before(async () => {
    srv = await startTestServer({ controlPort: null, httpRequestTimeoutMs: 500, httpIdleTimeoutMs: 300 });
    port = srv.httpPort!;
  });
  after(() => srv.stop());

  test('a body sent at a byte every 50 ms gets 408 at the request deadline and the connection closes', async () => {
    const s = await connectTo(port);
    s.write('POST /apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
    trickle(s, ' ', 50);
    const reply = (await readUntilClose(s, 15_000)).toString();
    assert.match(reply, /^HTTP\/1\.1 408 /);
  });

  test('headers sent at a byte every 50 ms are cut off the same way', async () => {
    const s = await connectTo(port);
    s.write('GET /healthz HTTP/1.1\r\n');
    trickle(s, 'X', 50);
    const reply = (await readUntilClose(s, 15_000)).toString();
    assert.match(reply, /^HTTP\/1\.1 408 /);
  });

  test('a connection that never sends a request is closed', async () => {
    const reply = await readUntilClose(await connectTo(port), 15_000);
    assert.ok(reply.length === 0 || /^HTTP\/1\.1 408 /.test(reply.toString()));
  });

  test('an idle keep-alive connection is closed after its request was answered', async () => {
    const s = await connectTo(port);
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const reply = (await readUntilClose(s, 15_000)).toString();
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.match(reply, /"status":"ok"/);
  });

  test('past limits.maxHttpConnections a new connection is closed at accept; the held ones are served', async () => {
    const capped = await startTestServer({ controlPort: null, limits: { maxHttpConnections: 2 } });
    try {
      const held = await Promise.all([connectTo(capped.httpPort!), connectTo(capped.httpPort!)]);
      await sleep(50);
      const extra = await readUntilClose(await connectTo(capped.httpPort!), 15_000).catch((e: Error) => e);
      assert.ok(!(extra instanceof Error) || /ECONNRESET/.test(extra.message), String(extra));
      assert.equal(extra instanceof Error ? 0 : extra.length, 0, 'closed without a reply');
      held[0]!.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.match((await readUntilClose(held[0]!, 15_000)).toString(), /^HTTP\/1\.1 200 /);
      held[1]!.destroy();
    } finally {
      await capped.stop();
    }
  });
});
