/**
 * Client verbs against a running server (the real binary): stats with
 * p50/p99 and --watch, rm of several apps at once, invoke refusing to write
 * binary output to a terminal.
 */
import assert from 'node:assert/strict';
import { scaledTimeout } from '../helpers/scale.js';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { kvmOptions } from '../helpers/kvm.js';
import { cliArgs, runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/tmp.js';
import { appDef, startTestServer } from '../server/helpers.js';

test('stats p50/p99 and --watch, rm several apps, invoke keeps binary off a terminal', { ...kvmOptions(), timeout: scaledTimeout(120_000) }, async () => {
  const srv = await startTestServer();
  try {
    for (const name of ['alpha', 'beta', 'gamma']) await srv.deploy(appDef(name, ['echo'], []));
    const server = `127.0.0.1:${srv.httpPort}`;
    const base = `http://${server}`;
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${base}/apps/alpha/invoke`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(`request ${i}`) });
      assert.equal(res.status, 200);
    }
    const st = await runCli(['stats', 'alpha', '--server', server, '--json']);
    const s = JSON.parse(st.stdout) as { requests: number; latency: { requests: number; p50Us: number; p99Us: number } };
    assert.equal(s.latency.requests, 20);
    assert.ok(s.latency.p50Us > 0 && s.latency.p50Us <= s.latency.p99Us, JSON.stringify(s.latency));
    const human = await runCli(['stats', 'alpha', '--server', server]);
    assert.match(human.stdout, /^latency p50 [\d.]+ µs, p99 [\d.]+ µs over the latest 20 requests$/m);

    // --watch: a sample now and another after the interval, until Ctrl-C.
    const w = spawn(process.execPath, cliArgs('stats', 'alpha', '--watch', '0.2', '--json', '--server', server), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    w.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => w.on('exit', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`watch printed: ${out}`)), scaledTimeout(30_000));
      w.stdout.on('data', () => {
        if (out.split('\n').filter(Boolean).length >= 2) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    w.kill('SIGINT');
    assert.equal(await exited, 0);
    for (const line of out.trim().split('\n')) assert.equal((JSON.parse(line) as { name: string }).name, 'alpha');

    // Binary output to a terminal: refused, with what to do instead.
    if (!spawnSync('script', ['--version']).error) {
      await withTempDir('ataru-verbs-', async (dir) => {
        writeFileSync(join(dir, 'in.bin'), Buffer.from([0, 1, 2, 255]));
        const cmd = [process.execPath, ...cliArgs('invoke', 'alpha', '--file', join(dir, 'in.bin'), '--server', server)].map((a) => `'${a}'`).join(' ');
        // Not spawnSync: the server answering it runs in this process.
        const term = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let text = '';
        term.stdout.on('data', (c: Buffer) => (text += c.toString()));
        const status = await new Promise<number | null>((r) => term.on('exit', (code) => r(code)));
        assert.equal(status, 1, text);
        assert.match(text, /the 4-byte output is binary and stdout is a terminal: give --out FILE/);
      });
    }

    const rm = await runCli(['rm', 'alpha', 'beta', '--server', server, '--json']);
    assert.equal(rm.code, 0, rm.stdout + rm.stderr);
    assert.deepEqual(JSON.parse(rm.stdout), { removed: ['alpha', 'beta'] });
    const partly = await runCli(['rm', 'nosuch', 'gamma', '--server', server]);
    assert.equal(partly.code, 1);
    assert.match(partly.stdout, /removed gamma/);
    assert.match(partly.stderr, /no app named "nosuch"/);
    assert.deepEqual(srv.registry.list().map((a) => a.name), []);
  } finally {
    await srv.stop();
  }
});
