/**
 * `ataru serve` as a real process (prints where it listens, exits 0 on
 * SIGTERM) and the client verbs against it: deploy uploads the definition
 * and its binaries, ls, inspect, invoke, send, stats, rm; errors exit 1.
 */
import assert from 'node:assert/strict';
import { scaledTimeout } from '../helpers/scale.js';
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { main, makeProgram } from '../../src/cli/main.js';
import { GRAY_SIDE, grayToPng, toGray128 } from '../../src/image.js';
import { kvmOptions } from '../helpers/kvm.js';
import { randomBytes } from '../helpers/random.js';
import { tempDir } from '../helpers/tmp.js';
import { cliArgs } from '../helpers/cli.js';
import { addN, fixturesDir } from './helpers.js';

/** Runs one CLI command in-process; returns its stdout and exit code. */
async function cli(...args: string[]): Promise<{ out: string; code: number }> {
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  const errWrite = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += Buffer.from(chunk).toString()), true)) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await main(['node', 'ataru', ...args]);
    return { out, code: process.exitCode ?? 0 };
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
    process.exitCode = before;
  }
}

test('serve + client verbs over HTTP; SIGTERM exits 0', { ...kvmOptions(), timeout: scaledTimeout(60_000) }, async () => {
  assert.ok(makeProgram().commands.some((c) => c.name() === 'serve'));
  const dataDir = tempDir();
  const defDir = tempDir('ataru-def-');
  const child = spawn(process.execPath, cliArgs('serve', '--control-port', '0', '--http-port', '0', '--data-dir', dataDir, '--function-root', fixturesDir), {
    env: { ...process.env, ATARU_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    let stdout = '';
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`serve did not start: ${stdout}`)), 20_000);
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        const m = /HTTP API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (m && /control port\s+127\.0\.0\.1:\d+/.test(stdout)) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });

    // A template next to its function, named relative to the template's folder.
    copyFileSync(join(fixturesDir, 'add1.elf'), join(defDir, 'add1.elf'));
    const tmpl = join(defDir, 'app.template');
    writeFileSync(
      tmpl,
      ['name : cliapp', 'num_nodes : 2', 'msg_len : 32', 'dag : 0,1,0,1,1,1', 'instances : 1', 'exec[1].path : ./', 'exec[1].name : add1.elf', 'exec[1].inp_off : 0', 'exec[1].out_off : 65536', 'exec[2].path : ./', 'exec[2].name : add1.elf', 'exec[2].inp_off : 65536', 'exec[2].out_off : 131072', ''].join('\n'),
    );
    const s = ['--server', url];
    const dep = await cli('deploy', tmpl, ...s, '--json');
    assert.equal(dep.code, 0, dep.out);
    const port = (JSON.parse(dep.out) as { port: number }).port;
    assert.ok(port > 0);
    rmSync(join(defDir, 'add1.elf')); // uploaded: the server doesn't need it

    const ls = JSON.parse((await cli('ls', ...s, '--json')).out) as { name: string; port: number }[];
    assert.deepEqual(ls.map((a) => [a.name, a.port]), [['cliapp', port]]);
    assert.match((await cli('inspect', 'cliapp', ...s)).out, /edges: .*\(0\)→.*\(1\)/);

    const input = randomBytes(32, 4);
    writeFileSync(join(defDir, 'in.bin'), input);
    const inv = await cli('invoke', 'cliapp', '--file', join(defDir, 'in.bin'), '--out', join(defDir, 'out.bin'), ...s);
    assert.equal(inv.code, 0);
    assert.ok(readFileSync(join(defDir, 'out.bin')).equals(addN(input, 2)));

    const sent = JSON.parse((await cli('send', 'cliapp', '--file', join(defDir, 'in.bin'), '--count', '300', '--concurrency', '3', '--window', '4', ...s, '--json')).out) as { requests: number; errors: number; p50Us: number };
    assert.equal(sent.requests, 300);
    assert.equal(sent.errors, 0);
    assert.ok(sent.p50Us > 0);

    const stats = JSON.parse((await cli('stats', 'cliapp', ...s, '--json')).out) as { requests: number; nodes: unknown[] };
    assert.equal(stats.requests, 301);
    assert.equal(stats.nodes.length, 2);

    // Pictures: a .png input becomes 128×128 gray for a 16,384-byte app; --out .png writes one.
    copyFileSync(join(fixturesDir, 'echo.elf'), join(defDir, 'echo.elf'));
    const echoTmpl = join(defDir, 'echo.template');
    writeFileSync(echoTmpl, ['name : picture', 'num_nodes : 1', 'msg_len : 16384', 'dag : 0,0,0', 'exec[1].path : .', 'exec[1].name : echo.elf', 'exec[1].inp_off : 0', 'exec[1].out_off : 65536', ''].join('\n'));
    assert.equal((await cli('deploy', echoTmpl, ...s)).code, 0);
    const gray = randomBytes(GRAY_SIDE * GRAY_SIDE, 11);
    writeFileSync(join(defDir, 'in.png'), grayToPng(gray, GRAY_SIDE, GRAY_SIDE));
    assert.equal((await cli('invoke', 'picture', '--file', join(defDir, 'in.png'), '--out', join(defDir, 'out.png'), ...s)).code, 0);
    assert.ok(toGray128(readFileSync(join(defDir, 'out.png'))).equals(toGray128(readFileSync(join(defDir, 'in.png')))));

    assert.equal((await cli('rm', 'cliapp', ...s)).code, 0);
    assert.equal((await cli('invoke', 'cliapp', '--file', join(defDir, 'in.bin'), ...s)).code, 1, 'no such app: exit 1');
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, 'SIGTERM: clean exit 0');
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(defDir, { recursive: true, force: true });
  }
});
