/**
 * Operator-facing behaviour: one server per data dir (a stale lock is taken
 * over), the listener named on EADDRINUSE, unknown routes in the
 * {code, message} shape, config keys with "did you mean", the flag named on
 * a bad value.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeConfig } from '../../src/config.js';
import { startServer } from '../../src/server/index.js';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/tmp.js';

const quiet = { host: '127.0.0.1', controlPort: 0, httpPort: 0 } as const;

test('a second server on the same data dir refuses to start; a stale lock is taken over', async () => {
  await withTempDir('ataru-lock-', async (dataDir) => {
    const first = await startServer({ ...quiet, dataDir });
    try {
      await assert.rejects(startServer({ ...quiet, dataDir }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'CONFLICT');
        assert.match(e.message, new RegExp(`data dir .* is in use by another ataru server \\(pid ${process.pid}\\).*--data-dir`));
        return true;
      });
    } finally {
      await first.close();
    }
    // A crashed server's lock: its pid is gone.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(join(dataDir, 'ataru.lock'), `${dead}\n`);
    const again = await startServer({ ...quiet, dataDir });
    await again.close();
  });
});

test('EADDRINUSE names the listener and the flag; unknown routes answer {code, message}', async () => {
  await withTempDir('ataru-op-', async (dataDir) => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as AddressInfo).port;
    try {
      await assert.rejects(startServer({ ...quiet, dataDir, httpPort: port }), /HTTP API port 127\.0\.0\.1:\d+: it is in use \(EADDRINUSE\).*--http-port/);
      await assert.rejects(startServer({ ...quiet, dataDir, controlPort: port }), /control port 127\.0\.0\.1:\d+: it is in use \(EADDRINUSE\).*--control-port/);
    } finally {
      holder.close();
    }
    const s = await startServer({ ...quiet, dataDir });
    try {
      const res = await fetch(`http://127.0.0.1:${s.httpPort}/no/such/route`);
      assert.equal(res.status, 404);
      const body = (await res.json()) as { code: string; message: string };
      assert.equal(body.code, 'NOT_FOUND');
      assert.match(body.message, /GET \/no\/such\/route: no such route/);
    } finally {
      await s.close();
    }
  });
});

test('config: an unknown key gets "did you mean"; serve names the flag with a bad value', async () => {
  assert.throws(() => makeConfig({ contorlPort: 1 } as never), /unknown key "contorlPort" \(did you mean 'controlPort'\?\)/);
  assert.throws(() => makeConfig({ limits: { maxAps: 3 } } as never), /limits: unknown key "maxAps" \(did you mean 'maxApps'\?\)/);
  const r = await runCli(['serve', '--http-port', 'ninety']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /option '--http-port <port>' argument 'ninety' is invalid/);
});

test('Swagger UI at /docs (open without the token); OpenAPI with an operationId and described responses on every route', async () => {
  await withTempDir('ataru-op-', async (dataDir) => {
    const s = await startServer({ ...quiet, dataDir, token: 'op-token' });
    try {
      const base = `http://127.0.0.1:${s.httpPort}`;
      const ui = await fetch(`${base}/docs/`, { redirect: 'follow' });
      assert.equal(ui.status, 200);
      assert.match(await ui.text(), /swagger-ui/i);
      assert.equal((await fetch(`${base}/apps`)).status, 401, 'the API itself still needs the token');
      const doc = (await (await fetch(`${base}/openapi.json`, { headers: { authorization: 'Bearer op-token' } })).json()) as {
        paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, { description?: string }> }>>;
      };
      const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => ({ where: `${m.toUpperCase()} ${path}`, op })));
      assert.ok(ops.length >= 8, JSON.stringify(Object.keys(doc.paths)));
      for (const { where, op } of ops) {
        assert.ok(op.operationId, `${where} has no operationId`);
        for (const [status, r] of Object.entries(op.responses ?? {})) assert.ok(r.description && r.description !== 'Default Response', `${where} ${status} has no description`);
      }
      assert.equal(new Set(ops.map((o) => o.op.operationId)).size, ops.length, 'operationIds are unique');
    } finally {
      await s.close();
    }
  });
});
