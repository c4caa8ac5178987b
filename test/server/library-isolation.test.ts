/**
 * DT_NEEDED libraries resolve only among the app's own uploaded files: each
 * loaded version gets a folder of its files under their client names, and
 * the blob store (files named by sha256) is never where the loader looks. A
 * function naming another app's blob by its hash fails to deploy; the data
 * dir is 0700 and the database 0600.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeDefinition } from '../../src/app/index.js';
import { deployBodyFromFile } from '../../src/client/api-client.js';
import { neededLibraries } from '../../src/client/elf-needed.js';
import { functionKey } from '../../src/server/functions.js';
import { versionPath } from '../../src/server/store.js';
import { tempDir } from '../helpers/tmp.js';
import { fixture, helperLibrary } from '../fixtures/functions/fixtures.js';
import { kvmOptions } from '../helpers/kvm.js';
import { appDef, controlSend, startTestServer, type TestServer } from './helpers.js';

test('versionPath keeps every client name inside the version folder, one folder per client folder', () => {
  assert.equal(versionPath('bin/f.elf'), 'bin/f.elf');
  assert.equal(versionPath('/apps/x/f.elf'), 'apps/x/f.elf');
  assert.equal(versionPath('../../blobs/f'), '%2E%2E/%2E%2E/blobs/f');
  assert.equal(versionPath('%2E%2E/f'), '%252E%252E/f', 'a literal "%2E%2E" folder is not a ".." one');
  assert.equal(versionPath('./a//b'), 'a/b');
  assert.throws(() => versionPath('./'), /not a file name/);
});

test('ataru deploy uploads the DT_NEEDED libraries found beside each function', () => {
  assert.deepEqual(neededLibraries(readFileSync(fixture('useslib'))), ['libhelper.so']);
  assert.deepEqual(neededLibraries(readFileSync(fixture('noop'))), []);
  assert.deepEqual(neededLibraries(Buffer.from('not an ELF at all, but long enough to have a header of sixty-four bytes')), []);
  const dir = tempDir('ataru-deploy-body-');
  try {
    const def = appDef('withlib', ['useslib'], []);
    def.nodes[0]!.function = { path: relative(dir, dirname(fixture('useslib'))), name: 'useslib.elf' };
    const file = join(dir, 'app.json');
    writeFileSync(file, encodeDefinition(def, 'json'));
    const key = functionKey(def.nodes[0]!.function);
    const body = deployBodyFromFile(file);
    assert.deepEqual(Object.keys(body.files).sort(), [key, posix.join(posix.dirname(key), 'libhelper.so')].sort());
    assert.deepEqual(Buffer.from(body.files[posix.join(posix.dirname(key), 'libhelper.so')]!, 'base64'), readFileSync(helperLibrary));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** What useslib.elf (and blobneeded.elf) answer: helper_weight(input), helper_calls. */
function helperAnswer(input: Buffer): Buffer {
  const out = Buffer.alloc(16);
  out.writeBigUInt64LE(input.reduce((w, b, i) => (w + BigInt((i + 1) * b)) & 0xffffffffffffffffn, 0n), 0);
  out.writeBigUInt64LE(1n, 8);
  return out;
}

describe('libraries of uploaded apps', kvmOptions(), () => {
  let srv: TestServer;
  let base: string;
  const libSha = createHash('sha256').update(readFileSync(helperLibrary)).digest('hex');

  /** Deploys `fn` (a fixture, uploaded as bin/<fn>.elf) plus extra uploaded files. */
  async function deploy(name: string, fn: string, extra: Record<string, Buffer>) {
    const def = appDef(name, [fn], []);
    def.nodes[0]!.function = { path: 'bin', name: `${fn}.elf` };
    const files: Record<string, string> = { [`bin/${fn}.elf`]: readFileSync(fixture(fn)).toString('base64') };
    for (const [k, v] of Object.entries(extra)) files[k] = v.toString('base64');
    const res = await fetch(`${base}/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ definition: encodeDefinition(def, 'json').toString('utf8'), files }),
    });
    return { status: res.status, body: (await res.json()) as { code?: string; message?: string; port?: number } };
  }

  async function invoke(name: string, input: Buffer) {
    const res = await fetch(`${base}/apps/${name}/invoke`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(input) });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  }

  before(async () => {
    srv = await startTestServer({ controlPort: null });
    base = `http://127.0.0.1:${srv.httpPort}`;
  });
  after(() => srv.stop());

  test("an app's own uploaded library is found beside its function", async () => {
    const r = await deploy('owner', 'useslib', { 'bin/libhelper.so': readFileSync(helperLibrary) });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.ok(readdirSync(join(srv.dataDir, 'blobs')).includes(libSha), 'the library is stored as a blob under its sha256');
    const input = Buffer.from('library isolation');
    const out = await invoke('owner', input);
    assert.equal(out.status, 200, out.body.toString());
    assert.deepEqual(out.body, helperAnswer(input));
  });

  test("a function naming another app's blob (its sha256) as DT_NEEDED is refused with BAD_ELF", async () => {
    const r = await deploy('thief', 'blobneeded', {});
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.code, 'BAD_ELF');
    assert.match(r.body.message!, new RegExp(`needed library ${libSha} not found`));
    assert.doesNotMatch(r.body.message!, new RegExp(srv.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no server path in the message');
    assert.equal((await fetch(`${base}/apps/thief`)).status, 404, 'nothing deployed');
    // The owner is untouched and still answers.
    const input = Buffer.from('still mine');
    const out = await invoke('owner', input);
    assert.equal(out.status, 200);
    assert.deepEqual(out.body, helperAnswer(input));
  });

  test('the same function with its library uploaded under the name it asks for deploys', async () => {
    // The hash is only a file name: uploaded by this app, it is this app's file.
    const r = await deploy('honest', 'blobneeded', { [`bin/${libSha}`]: readFileSync(helperLibrary) });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const input = Buffer.from('own copy');
    assert.deepEqual((await invoke('honest', input)).body, helperAnswer(input));
  });

  test('an uploaded extra file must be a valid library', async () => {
    const r = await deploy('junk', 'useslib', { 'bin/libhelper.so': Buffer.from('not an ELF') });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'BAD_ELF');
    assert.match(r.body.message!, /files\["bin\/libhelper\.so"\]/);
  });

  test('the data dir is 0700, the database 0600; removed versions leave no folder', async () => {
    assert.equal(statSync(srv.dataDir).mode & 0o777, 0o700);
    assert.equal(statSync(join(srv.dataDir, 'ataru.db')).mode & 0o777, 0o600);
    const loaded = join(srv.dataDir, 'loaded');
    assert.equal(readdirSync(loaded).length, 2, 'one folder per loaded version (owner, honest)');
    assert.equal((await fetch(`${base}/apps/honest`, { method: 'DELETE' })).status, 200);
    assert.equal(readdirSync(loaded).length, 1);
  });
});

describe('libraries of control-port apps', kvmOptions(), () => {
  // A function root holding useslib.elf with its libhelper.so beside it
  // (ok/), without it (lonely/), and with a link to one outside (linked/).
  const root = tempDir('ataru-libroot-');
  const outside = tempDir('ataru-libout-');
  let srv: TestServer;
  before(async () => {
    for (const d of ['ok', 'lonely', 'linked']) {
      mkdirSync(join(root, d));
      copyFileSync(fixture('useslib'), join(root, d, 'useslib.elf'));
    }
    copyFileSync(helperLibrary, join(root, 'ok', 'libhelper.so'));
    copyFileSync(helperLibrary, join(outside, 'libhelper.so'));
    symlinkSync(join(outside, 'libhelper.so'), join(root, 'linked', 'libhelper.so'));
    srv = await startTestServer({ functionRoots: [root] });
  });
  after(async () => {
    await srv.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const define = (name: string, folder: string) => {
    const def = appDef(name, ['useslib'], []);
    def.nodes[0]!.function = { path: join(root, folder), name: 'useslib.elf' };
    return encodeDefinition(def, 'template');
  };

  test('a function deployed through the control port brings the library beside it', async () => {
    const r = await controlSend(srv.controlPort!, define('rooted', 'ok'), true);
    assert.ok(r.port, `deployed: ${r.raw.toString()}`);
    const input = Buffer.from('from the roots');
    const res = await fetch(`http://127.0.0.1:${srv.httpPort}/apps/rooted/invoke`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(input) });
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), helperAnswer(input));
  });

  test('a missing library, or one that leads outside the roots, is named with its function; nothing is told of outside files', async () => {
    const lonely = await controlSend(srv.controlPort!, define('lonely', 'lonely'), true);
    assert.match(lonely.error ?? '', /useslib\.elf needs library libhelper\.so, which is not in its folder inside the function roots/);
    const linked = await controlSend(srv.controlPort!, define('linked', 'linked'), true);
    assert.match(linked.error ?? '', /useslib\.elf needs library libhelper\.so, which is not in its folder inside the function roots/);
    assert.doesNotMatch(linked.error ?? '', new RegExp(outside.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'the link target is not shown');
    assert.equal((await fetch(`http://127.0.0.1:${srv.httpPort}/apps/lonely`)).status, 404);
  });
});
