/**
 * The CLI's conventions, on the real binary: build's refusals and default
 * output, convert to stdout, --json on every verb (errors as {code,
 * message}), ATARU_SERVER and host:port, the ECONNREFUSED hint, check's
 * labels, sizes and --files, invoke's terminal refusals, shell completion.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeProgram } from '../../src/cli/main.js';
import { isBinary } from '../../src/cli/commands/client.js';
import { cliArgs, runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/tmp.js';
import { fixturePath } from '../app/fixture-files.js';
import { fixturesDir } from '../server/helpers.js';

const ENTRY = '#include <ataru.h>\nlong entry(const void *in, void *out, uint64_t id, uint64_t n, uint64_t cap) { (void)in; (void)out; (void)id; (void)cap; return (long)n; }\n';

test('every verb but completion takes --json', () => {
  const missing = makeProgram()
    .commands.filter((c) => c.name() !== 'completion' && !c.options.some((o) => o.long === '--json'))
    .map((c) => c.name());
  assert.deepEqual(missing, []);
});

test('build: refuses a function without entry() and --shared with --lib; -o defaults to NAME.elf', async () => {
  await withTempDir('ataru-conv-', async (dir) => {
    writeFileSync(join(dir, 'noentry.c'), '#include <ataru.h>\nlong not_entry(void) { return 0; }\n');
    const r = await runCli(['build', 'noentry.c', '-o', 'x.elf', '--json'], { cwd: dir });
    assert.equal(r.code, 1);
    const err = JSON.parse(r.stdout) as { code: string; message: string };
    assert.equal(err.code, 'BAD_ELF');
    assert.match(err.message, /defines no entry\(\) function/);
    assert.equal(existsSync(join(dir, 'x.elf')), false, 'no half-made output left behind');

    const both = await runCli(['build', 'noentry.c', '--shared', '--lib'], { cwd: dir });
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--shared and --lib exclude each other/);

    writeFileSync(join(dir, 'fn.c'), ENTRY);
    const ok = await runCli(['build', 'fn.c', '--json'], { cwd: dir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { output: string }).output, join(dir, 'fn.elf'));
    assert.equal(readFileSync(join(dir, 'fn.elf')).subarray(1, 4).toString(), 'ELF');
    const sdk = await runCli(['build', '--print-sdk']);
    assert.ok(existsSync(join(sdk.stdout.trim(), 'include', 'ataru.h')), sdk.stdout);
  });
});

test('convert writes to stdout without -o; check labels roots and sinks, shows sizes, --files finds missing binaries', async () => {
  const conv = await runCli(['convert', fixturePath('sobel.template'), '--to', 'json']);
  assert.equal(conv.code, 0, conv.stderr);
  assert.equal((JSON.parse(conv.stdout) as { name: string }).name, 'sobel_function');

  const chk = await runCli(['check', fixturePath('sobel.template')]);
  assert.match(chk.stdout, /^roots: 0 \(\S+\)$/m);
  assert.match(chk.stdout, /msg_len 16 KiB/);
  assert.match(chk.stdout, /shm 2 MiB/);

  await withTempDir('ataru-conv-', async (dir) => {
    const tmpl = join(dir, 'app.tmpl');
    writeFileSync(tmpl, ['name : files', 'num_nodes : 2', 'msg_len : 64', 'dag : 0,1,0,1,1,1', 'exec[1].path : ./', 'exec[1].name : echo.elf', 'exec[1].inp_off : 0', 'exec[1].out_off : 4096', 'exec[2].path : build/', 'exec[2].name : gone.elf', 'exec[2].inp_off : 4096', 'exec[2].out_off : 8192', ''].join('\n'));
    copyFileSync(join(fixturesDir, 'echo.elf'), join(dir, 'echo.elf'));
    const missing = await runCli(['check', tmpl, '--files']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /node 1 \(gone\.elf\): .*build\/gone\.elf: ENOENT \(not built yet\?/);
    assert.doesNotMatch(missing.stderr, /echo\.elf/);
    copyFileSync(join(fixturesDir, 'echo.elf'), join(dir, 'build-gone.elf'));
    writeFileSync(tmpl, readFileSync(tmpl, 'utf8').replace('build/', './').replace('gone.elf', 'build-gone.elf'));
    const present = await runCli(['check', tmpl, '--files']);
    assert.equal(present.code, 0, present.stderr);
    assert.match(present.stdout, /^files:\n {2}exec\[1\] .*echo\.elf \(\d+(\.\d)? KiB\)\n {2}exec\[2\] .*build-gone\.elf/m);
    assert.match(present.stdout, /^sinks: 1 \(build-gone\.elf\)$/m);
  });
});

test('client verbs: ATARU_SERVER, host:port, and "is ataru serve running?" on a refused connection', async () => {
  // A port that was free a moment ago: nothing listens there now.
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  const viaEnv = await runCli(['ls', '--json'], { env: { ATARU_SERVER: `127.0.0.1:${port}` } });
  assert.equal(viaEnv.code, 1);
  const err = JSON.parse(viaEnv.stdout) as { code: string; message: string };
  assert.equal(err.code, 'CLOSED');
  assert.match(err.message, new RegExp(`http://127\\.0\\.0\\.1:${port}.*ECONNREFUSED.*is \`ataru serve\` running\\?`));
  const viaFlag = await runCli(['rm', 'a', 'b', '--server', `localhost:${port}`]);
  assert.match(viaFlag.stderr, /http:\/\/localhost:\d+.*is `ataru serve` running\?/);
  const usage = await runCli(['stats', '--json']);
  assert.equal(usage.code, 1);
  assert.equal((JSON.parse(usage.stdout) as { code: string }).code, 'BAD_REQUEST');
});

test('output a terminal would garble counts as binary; text does not', () => {
  assert.equal(isBinary(Buffer.from('HELLO, ATARU\n\ttabs too')), false);
  assert.equal(isBinary(Buffer.from('grüße ✓')), false);
  assert.equal(isBinary(Buffer.from([0x48, 0x00, 0x49])), true);
  assert.equal(isBinary(Buffer.from([0xff, 0xfe, 0x41])), true);
  assert.equal(isBinary(Buffer.from('\x1b[2J')), true);
});

test('invoke refuses to read stdin from a terminal', { skip: spawnSync('script', ['--version']).error ? 'util-linux script(1) is not installed' : undefined }, async () => {
  // script(1) gives the command a pseudo-terminal for stdin and stdout.
  const cmd = [process.execPath, ...cliArgs('invoke', 'anything', '--server', '127.0.0.1:9')].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, ATARU_LOG_LEVEL: 'silent' } });
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, /no input: give --file FILE or pipe it in .*stdin is a terminal/);
});

test('completion: bash completes verbs and each verb\'s options; zsh has every verb', async () => {
  const b = await runCli(['completion', 'bash']);
  const script = join(tmpdir(), `ataru-completion-${process.pid}.bash`);
  writeFileSync(script, b.stdout);
  const complete = (words: string[]) =>
    execFileSync('bash', ['-c', `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _ataru; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' }).trim();
  assert.equal(complete(['ataru', 'doc']), 'doctor');
  assert.deepEqual(complete(['ataru', 'logs', '--f']).split(' ').sort(), ['--follow']);
  assert.ok(complete(['ataru', 'up', '--']).split(' ').includes('--watch'));
  const z = await runCli(['completion', 'zsh']);
  assert.match(z.stdout, /^#compdef ataru/);
  for (const verb of makeProgram().commands.map((c) => c.name())) assert.match(z.stdout, new RegExp(`'${verb}:`));
  const bad = await runCli(['completion', 'fish', '--json']);
  assert.equal(bad.code, 1);
  rmSync(script, { force: true });
});
