/**
 * Blob garbage collection: a blob goes once no stored app references it and
 * the version that loaded it is closed; shared blobs stay; strays left by a
 * crash are swept when the server starts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataClient } from '../../src/client/data-client.js';
import { kvmOptions } from '../helpers/kvm.js';
import { randomBytes } from '../helpers/random.js';
import { tempDir } from '../helpers/tmp.js';
import { addN, appDef, fixturesDir, startTestServer } from './helpers.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('unreferenced blobs are deleted on removal, after a replace, and at start', kvmOptions(), async () => {
  const root = tempDir('ataru-src-');
  copyFileSync(join(fixturesDir, 'burn.elf'), join(root, 'fn.elf'));
  const dataDir = tempDir();
  let srv = await startTestServer({ functionRoots: [fixturesDir, root] }, dataDir);
  const blob = (hash: string) => join(dataDir, 'blobs', hash);
  const add1 = sha(join(fixturesDir, 'add1.elf'));
  const upper = sha(join(fixturesDir, 'uppercase.elf'));
  const burn = sha(join(root, 'fn.elf'));
  try {
    // "first" and "second" share add1; uppercase is second's alone.
    await srv.deploy(appDef('first', ['add1'], []));
    await srv.deploy(appDef('second', ['add1', 'uppercase'], [[0, 1]]));
    const swap = appDef('swap', ['burn'], []);
    swap.nodes[0]!.function = { path: root, name: 'fn.elf' };
    await srv.deploy(swap);
    for (const h of [add1, upper, burn]) assert.ok(existsSync(blob(h)), `blob ${h} stored`);

    const res = await fetch(`http://127.0.0.1:${srv.httpPort}/apps/second`, { method: 'DELETE' });
    assert.ok(res.ok, `DELETE: ${res.status}`);
    assert.ok(existsSync(blob(add1)), 'the shared blob stays');
    assert.ok(!existsSync(blob(upper)), 'the blob only the removed app used is gone');

    // Redeploy with a changed binary: the old one goes once the old version is closed.
    copyFileSync(join(fixturesDir, 'add1.elf'), join(root, 'fn.elf'));
    const port = (await srv.deploy(swap)).dataPort.port;
    await waitFor(() => !existsSync(blob(burn)), 'the replaced binary is deleted');
    const c = await DataClient.connect('127.0.0.1', port);
    const input = randomBytes(64, 5);
    assert.ok((await c.request(input)).body.equals(addN(input, 1)), 'the new version answers');
    c.close();
    await srv.close();

    // Strays of a crash between the DB update and the unlink, and of an interrupted write.
    const stray = 'f'.repeat(64);
    writeFileSync(blob(stray), 'orphan');
    writeFileSync(blob(`${add1}.123.tmp`), 'partial');
    srv = await startTestServer({ functionRoots: [] }, dataDir);
    assert.ok(!existsSync(blob(stray)), 'a stray blob is swept at start');
    assert.ok(!existsSync(blob(`${add1}.123.tmp`)), 'a leftover temp file is swept at start');
    assert.ok(existsSync(blob(add1)), 'referenced blobs stay');
    assert.deepEqual(srv.registry.list().map((a) => a.name).sort(), ['first', 'swap'], 'both apps restored');
  } finally {
    await srv.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
