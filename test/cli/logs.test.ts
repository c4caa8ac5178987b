/**
 * `ataru logs` (the real binary) against a server with a token: function
 * log lines and failed requests, --node, --since, -f following new entries,
 * and GET /apps/:name/logs as server-sent events.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { kvmOptions } from '../helpers/kvm.js';
import { scaledTimeout } from '../helpers/scale.js';
import { cliArgs, runCli } from '../helpers/cli.js';
import { appDef, startTestServer } from '../server/helpers.js';

test('logs: ataru_log lines and request errors, filtered, followed, remote with a token', { ...kvmOptions(), timeout: scaledTimeout(120_000) }, async () => {
  const token = 'logs-test-token';
  const srv = await startTestServer({ token });
  try {
    // node 0 logs, node 1 (its child) writes to address 0 and faults.
    await srv.deploy(appDef('logapp', ['logger', 'nullwrite'], [[0, 1]]));
    const base = `http://127.0.0.1:${srv.httpPort}`;
    const auth = { authorization: `Bearer ${token}` };
    const invoke = () => fetch(`${base}/apps/logapp/invoke`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: new Uint8Array(64) });
    assert.equal((await invoke()).status, 422);

    const server = `127.0.0.1:${srv.httpPort}`; // host:port, no scheme
    const env = { ATARU_TOKEN: token };
    const all = await runCli(['logs', 'logapp', '--server', server], { env });
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /event {2}app deployed on data port \d+/);
    assert.match(all.stdout, /log {2}node 0 request 1 {2}logger: node \d+ got 64 bytes, hex -42%/);
    assert.match(all.stdout, /error FAULT \(http\) {2}node 1 \(nullwrite\.elf\) {2}page fault writing 0x0/);

    const json = await runCli(['logs', 'logapp', '--server', server, '--node', '1', '--json'], { env });
    const entries = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; node: number; code: string });
    assert.ok(entries.length >= 1);
    assert.ok(entries.every((e) => e.node === 1));
    assert.equal(entries[0]!.code, 'FAULT');

    const future = await runCli(['logs', 'logapp', '--server', server, '--since', new Date(Date.now() + 3_600_000).toISOString()], { env });
    assert.equal(future.code, 0);
    assert.equal(future.stdout, '');
    const recent = await runCli(['logs', 'logapp', '--server', server, '--since', '1h'], { env });
    assert.match(recent.stdout, /logger: node/);

    const bad = await runCli(['logs', 'logapp', '--server', server, '--since', 'soon', '--json'], { env });
    assert.equal(bad.code, 1);
    assert.equal((JSON.parse(bad.stdout) as { code: string }).code, 'BAD_REQUEST');
    const denied = await runCli(['logs', 'logapp', '--server', server, '--json'], { env: { ATARU_TOKEN: 'wrong' } });
    assert.equal(denied.code, 1);
    assert.equal((JSON.parse(denied.stdout) as { code: string }).code, 'UNAUTHENTICATED');

    // -f: the backlog, then a request made after it started.
    const child = spawn(process.execPath, cliArgs('logs', 'logapp', '-f', '--node', '0', '--server', server), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const lines = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`follow printed: ${out}`)), scaledTimeout(30_000));
        const check = () => {
          if (out.split('\n').filter((l) => l.includes('logger: node')).length >= n) {
            clearTimeout(t);
            child.stdout.off('data', check);
            resolve();
          }
        };
        child.stdout.on('data', check);
        check();
      });
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await lines(1);
    await invoke();
    await lines(2);
    assert.doesNotMatch(out, /node 1/);
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGINT');
    await exited;

    // The same stream as server-sent events.
    const sse = await fetch(`${base}/apps/logapp/logs?node=0`, { headers: { ...auth, accept: 'text/event-stream' } });
    assert.equal(sse.headers.get('content-type'), 'text/event-stream');
    assert.match(await sse.text(), /^id: \d+\nevent: log\ndata: \{.*"logger: node/m);
  } finally {
    await srv.stop();
  }
});
