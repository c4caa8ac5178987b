import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { kvmOptions } from '../helpers/kvm.js';
import { byteSum, fixture, fnv1a64, randomBytes, repoRoot, u64, upper } from './helpers.js';

interface Outcome {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** `ataru ...args` through the TypeScript sources (no build needed). */
function ataru(args: string[], stdin?: Buffer): Promise<Outcome> {
  const script = "import('./src/cli/main.ts').then((m) => m.main(['node', 'ataru', ...process.argv.slice(1)]))";
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script, ...args], { cwd: repoRoot });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  child.stdin.end(stdin ?? Buffer.alloc(0));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err })));
}

describe('ataru run', kvmOptions(), () => {
  const dir = mkdtempSync(join(tmpdir(), 'ataru-run-'));
  const input = randomBytes(3000, 42);
  const inputFile = join(dir, 'input.bin');
  writeFileSync(inputFile, input);

  test('writes the output bytes of uppercase, sum and fnv to stdout', async () => {
    const [up, sum, fnv] = await Promise.all([
      ataru(['run', fixture('uppercase'), '--input', inputFile]),
      ataru(['run', fixture('sum'), '--input', inputFile]),
      ataru(['run', fixture('fnv'), '--input', '-'], input),
    ]);
    for (const o of [up, sum, fnv]) assert.equal(o.code, 0, o.stderr);
    assert.deepEqual(up.stdout, upper(input));
    assert.equal(u64(sum.stdout), byteSum(input));
    assert.equal(fnv.stdout.length, 8);
    assert.equal(u64(fnv.stdout), fnv1a64(input));
  });

  test('--node-id reaches the function', async () => {
    const o = await ataru(['run', fixture('nodeid'), '--node-id', '12345678901234567890']);
    assert.equal(o.code, 0, o.stderr);
    assert.equal(u64(o.stdout), 12345678901234567890n);
  });

  test('a fault goes to stderr with the node and cause, and a non-zero exit code', async () => {
    const o = await ataru(['run', fixture('nullwrite')]);
    assert.notEqual(o.code, 0);
    assert.equal(o.stdout.length, 0);
    assert.match(o.stderr, /^ataru: node 0 \(nullwrite\.elf\): .*page fault/im);
  });

  test('--timeout-ms bounds the run', async () => {
    const o = await ataru(['run', fixture('spin'), '--timeout-ms', '30']);
    assert.notEqual(o.code, 0);
    assert.match(o.stderr, /timeout after 30 ms/);
  });

  test('a missing function file is reported, not thrown', async () => {
    const o = await ataru(['run', join(dir, 'missing.elf')]);
    assert.equal(o.code, 1);
    assert.match(o.stderr, /^ataru: .*missing\.elf.*ENOENT/m);
  });
});
