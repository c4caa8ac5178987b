import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { AtaruError } from '../../src/errors.js';
import { registerCheck, registerConvert } from '../../src/cli/commands/check.js';
import { parseDefinition } from '../../src/app/index.js';
import { cliArgs } from '../helpers/cli.js';
import { withTempDir } from '../helpers/tmp.js';
import { fixturePath, fixtureText } from './fixture-files.js';


/** Runs the verbs in-process and returns what they printed. */
async function run(...args: string[]): Promise<string> {
  const chunks: string[] = [];
  const program = new Command().exitOverride().configureOutput({ writeOut: (s) => chunks.push(s) });
  registerCheck(program);
  registerConvert(program);
  await program.parseAsync(['node', 'ataru', ...args]);
  return chunks.join('');
}

test('check prints a summary with the decoded edges', async () => {
  const out = await run('check', fixturePath('sobel.template'));
  assert.match(out, /^app sobel_function: 4 nodes, 4 edges$/m);
  assert.match(out, /^roots: 0 \(\S+\)$/m);
  assert.match(out, /^sinks: 3 \(\S+\)$/m);
  assert.match(out, /msg_len 16 KiB/);
  assert.match(out, /shm \d+(\.\d)? (KiB|MiB)/);
  assert.deepEqual(out.trimEnd().split('\n').slice(-4), ['0 -> 1', '0 -> 2', '1 -> 3', '2 -> 3']);
});

test('check --json prints the normalized JSON form', async () => {
  const out = await run('check', fixturePath('two-roots.template'), '--json');
  const doc = JSON.parse(out);
  assert.equal(doc.name, 'two_roots');
  assert.deepEqual(doc.edges, [
    { from: 'left.elf', to: 'sink.elf' },
    { from: 'right.elf', to: 'sink.elf' },
  ]);
  assert.equal(doc.state, 'keep');
});

test('convert goes template -> binary -> json -> template without loss', async () => {
  await withTempDir('ataru-convert-', async (dir) => {
    const bin = join(dir, 'app.bin');
    const json = join(dir, 'app.json');
    const tmpl = join(dir, 'app.template');
    await run('convert', fixturePath('sobel.template'), '--to', 'binary', '-o', bin);
    assert.equal(readFileSync(bin).length, 54008);
    await run('convert', bin, '--to', 'json', '-o', json);
    await run('convert', json, '--to', 'template', '-o', tmpl);
    assert.equal(readFileSync(tmpl, 'utf8'), fixtureText('sobel.template'));
    assert.deepEqual(parseDefinition(readFileSync(json)), parseDefinition(readFileSync(bin)));
  });
});

test('convert to binary refuses extensions, saying why', async () => {
  await assert.rejects(
    run('convert', fixturePath('fanout.json'), '--to', 'binary', '-o', '-'),
    (e: unknown) => e instanceof AtaruError && /vcpus: the binary form cannot hold vcpus 4/.test(e.describe()),
  );
});

test('ataru check exits non-zero and prints every problem', async () => {
  await withTempDir('ataru-check-', async (dir) => {
    const bad = join(dir, 'bad.template');
    const text = fixtureText('sobel.template').replace('msg_len ', 'msg_lne ').replace('9981', '-5');
    writeFileSync(bad, text);
    const child = promisify(execFile)(process.execPath, cliArgs('check', bad));
    const result = await child.then(
      () => assert.fail('check accepted a bad definition'),
      (e: { code: number; stderr: string; stdout: string }) => e,
    );
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trimEnd().split('\n');
    assert.deepEqual(lines, [
      `ataru: ${bad}:4: conn_port: expected a port number (0..65535), found -5`,
      `${bad}:5: unknown key 'msg_lne' (did you mean 'msg_len'?)`,
      `${bad}: msg_len: missing required key (expected a line 'msg_len : ...')`,
    ]);
  });
});
