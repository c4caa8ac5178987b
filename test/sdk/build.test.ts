/**
 * `ataru build` (src/sdk/build.ts and the CLI verb): builds functions,
 * exec[0] images and libraries with sdk/ataru.mk, and reports compiler
 * errors with gcc's own message.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AtaruError } from '../../src/errors.js';
import { build } from '../../src/sdk/build.js';
import { ElfFile } from '../elf/elf-file.js';
import { harness, runCheck } from '../elf/harness.js';
import { cliArgs } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('ataru-build-');
after(() => rmSync(dir, { recursive: true, force: true }));

const ENTRY =
  '#include <ataru.h>\n' +
  'long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {\n' +
  '  (void)node_id, (void)out_cap; memcpy(out, in, in_len); return (long)in_len;\n}\n';

test('builds a function: a position-independent x86-64 ELF whose entry is `entry`', async () => {
  writeFileSync(join(dir, 'copy.c'), ENTRY);
  const r = await build({ sources: ['copy.c'], output: 'copy.elf', cwd: dir });
  assert.equal(r.output, join(dir, 'copy.elf'));
  const buf = readFileSync(r.output);
  assert.equal(r.bytes, buf.length);
  assert.equal(buf.toString('latin1', 1, 4), 'ELF');
  assert.equal(buf.readUInt16LE(16), 3); // ET_DYN
  assert.equal(buf.readUInt16LE(18), 62); // EM_X86_64
  const e = new ElfFile(buf);
  const entry = e.symbols().find((s) => s.name === 'entry');
  assert.ok(entry?.defined, 'entry is exported');
  assert.equal(e.entry, entry.value);
  // No segment is both writable and executable, and there is no interpreter.
  for (const p of e.phdrs()) {
    assert.notEqual(p.type, 3, 'PT_INTERP');
    if (p.type === 1) assert.notEqual(p.flags & 3, 3, `segment ${p.index} is W+X`);
  }
  // The loader accepts it.
  const c = runCheck(harness('elf_check'), [r.output]);
  assert.equal(c.error, undefined, c.stdout);
});

test('builds exec[0] with --shared: soname = file name, and a function linked to it', async () => {
  writeFileSync(join(dir, 'common.c'), '#include <ataru.h>\nlong triple(long x) { return 3 * x; }\n');
  writeFileSync(
    join(dir, 'user.c'),
    '#include <ataru.h>\nlong triple(long);\n' +
      'long entry(const void *i, void *o, uint64_t n) { (void)i, (void)o; return triple((long)n); }\n',
  );
  await build({ sources: ['common.c'], output: 'common.so', kind: 'shared', cwd: dir });
  await build({ sources: ['user.c'], output: 'user.elf', link: ['common.so'], cwd: dir });
  const so = new ElfFile(readFileSync(join(dir, 'common.so')));
  const soname = so.dynamic().find((d) => d.tag === 14); // DT_SONAME
  assert.equal(so.dynstr(Number(soname?.val)), 'common.so');
  const fn = new ElfFile(readFileSync(join(dir, 'user.elf')));
  const needed = fn.dynamic().filter((d) => d.tag === 1).map((d) => fn.dynstr(Number(d.val)));
  assert.deepEqual(needed, ['common.so']);
  const c = runCheck(harness('elf_check'), ['-s', join(dir, 'common.so'), join(dir, 'user.elf')]);
  assert.equal(c.error, undefined, c.stdout);
});

test('a compile error is reported with gcc’s message, file and line', async () => {
  writeFileSync(join(dir, 'broken.c'), '#include <ataru.h>\nlong entry(void) { return undefined_thing; }\n');
  await assert.rejects(build({ sources: ['broken.c'], output: 'broken.elf', cwd: dir }), (err: unknown) => {
    assert.ok(err instanceof AtaruError);
    assert.equal(err.code, 'BAD_REQUEST');
    assert.match(err.message, /broken\.c:2:\d+: error: .undefined_thing. undeclared/);
    assert.doesNotMatch(err.message, /^make/m);
    assert.equal(err.location?.file, join(dir, 'broken.c'));
    return true;
  });
  assert.ok(!existsSync(join(dir, 'broken.elf')));
});

test('a missing source file is named', async () => {
  await assert.rejects(build({ sources: ['nope.c'], output: 'nope.elf', cwd: dir }), (err: unknown) => {
    assert.ok(err instanceof AtaruError);
    assert.equal(err.describe(), `${join(dir, 'nope.c')}: source file not found`);
    return true;
  });
});

test('the CLI verb builds and prints the result', () => {
  writeFileSync(join(dir, 'cli.c'), ENTRY);
  const r = spawnSync(process.execPath, cliArgs('build', join(dir, 'cli.c'), '-o', join(dir, 'cli.elf')), { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^built ${join(dir, 'cli.elf').replace(/[.]/g, '\\.')} \\(\\d+ bytes\\)`));
  const bad = spawnSync(process.execPath, cliArgs('build', join(dir, 'missing.c'), '-o', join(dir, 'm.elf')), { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, `ataru: ${join(dir, 'missing.c')}: source file not found\n`);
});

test('the result is checked by the loader: a constructor is rejected as BAD_ELF', async (t) => {
  try {
    const { native } = await import('../../src/runtime/native.js');
    native();
  } catch {
    t.skip('the native addon is not built');
    return;
  }
  writeFileSync(join(dir, 'ok.c'), ENTRY);
  assert.equal((await build({ sources: ['ok.c'], output: 'ok.elf', cwd: dir })).validated, true);
  writeFileSync(join(dir, 'ctor.c'), `${ENTRY}volatile int ready;\n__attribute__((constructor)) static void setup(void) { ready = 1; }\n`);
  await assert.rejects(build({ sources: ['ctor.c'], output: 'ctor.elf', cwd: dir }), (err: unknown) => {
    assert.ok(err instanceof AtaruError);
    assert.equal(err.code, 'BAD_ELF');
    assert.match(err.message, /has constructors \(DT_INIT_ARRAY\), which Ataru never runs/);
    assert.equal(err.location?.file, join(dir, 'ctor.elf'));
    return true;
  });
});
