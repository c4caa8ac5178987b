/**
 * Loading and linking, checked from the outside: the C harness loads the
 * fixtures into a guest-memory arena (no VM) and dumps guest bytes; the
 * expected values come from reading the ELF files here in TypeScript.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElfFile } from './elf-file.js';
import { harness, runCheck } from './harness.js';
import { buildFixtures, fixture, helperLibrary, sharedImage } from '../fixtures/functions/fixtures.js';
import { packageRoot } from '../../src/runtime/paths.js';
import { build } from '../../src/sdk/build.js';
import { abiConstant } from '../helpers/abi.js';
import { withTempDir } from '../helpers/tmp.js';

const IMAGES_BASE = abiConstant('IMAGES_BASE');
const IMAGE_ALIGN = abiConstant('IMAGE_ALIGN');
const SHARED_BASE = abiConstant('SHARED_IMAGE_BASE');
const alignUp = (v: bigint, a: bigint) => ((v + a - 1n) / a) * a;
/** Bytes a function occupies from its slot start (page-rounded end of its last segment). */
const span = (e: ElfFile) => alignUp(e.loads().reduce((m, p) => (p.vaddr + p.memsz > m ? p.vaddr + p.memsz : m), 0n), 0x1000n);
/** The slot after an image at base: its span rounded up, then one unmapped slot. */
const nextSlot = (base: bigint, e: ElfFile) => base + alignUp(span(e), IMAGE_ALIGN) + IMAGE_ALIGN;

let check: string;
const elf = (path: string) => new ElfFile(readFileSync(path));
const hex = (v: bigint) => '0x' + v.toString(16);
const u64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b.toString('hex');
};
function dumps(stdout: string): Map<string, string> {
  return new Map([...stdout.matchAll(/^dump (0x[0-9a-f]+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
}

before(() => {
  buildFixtures();
  check = harness('elf_check');
});

test('functions get consecutive 2 MiB slots with an unmapped slot between', () => {
  const names = ['sum', 'bigimage', 'counter', 'original3'];
  const r = runCheck(check, ['-s', sharedImage, ...names.map(fixture)]);
  assert.equal(r.error, undefined);
  let base = IMAGES_BASE;
  for (const n of names) {
    const e = elf(fixture(n));
    assert.match(r.stdout, new RegExp(`^entry .*/${n}\\.elf ${hex(base + e.entry)}$`, 'm'));
    base = nextSlot(base, e);
  }
});

test('the runtime loads at its link address with both entry points', { skip: !existsSync(join(packageRoot, 'guest', 'runtime.elf')) && 'guest/runtime.elf is not built' }, () => {
  const runtime = join(packageRoot, 'guest', 'runtime.elf');
  const r = runCheck(check, ['-r', runtime]);
  assert.equal(r.error, undefined);
  const m = /^runtime (0x[0-9a-f]+) (0x[0-9a-f]+)$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.equal(m[1], hex(elf(runtime).entry)); // runtime.ld: ENTRY(ataru_runtime_main_entry)
  const lo = abiConstant('RUNTIME_BASE');
  assert.ok(BigInt(m[2]) >= lo && BigInt(m[2]) < lo + abiConstant('RUNTIME_MAX'));
});

test('a function bound to exec[0]: GLOB_DAT, JUMP_SLOT, R_X86_64_64 and COPY get the right values', () => {
  const fn = elf(fixture('usesshared'));
  const shared = elf(sharedImage);
  const defs = new Map(shared.symbols().filter((s) => s.defined).map((s) => [s.name, s]));
  const syms = fn.symbols();
  const relocs = fn.relocations();
  assert.deepEqual([...new Set(relocs.map((r) => r.type))].sort(), [1, 5, 6, 7]); // 64, COPY, GLOB_DAT, JUMP_SLOT
  const args = relocs.flatMap((r) => ['-x', `${hex(IMAGES_BASE + r.offset)}:${syms[r.sym].size || 8n}`]);
  const r = runCheck(check, [...args, '-s', sharedImage, fixture('usesshared')]);
  assert.equal(r.error, undefined);
  const got = dumps(r.stdout);
  for (const rel of relocs) {
    const def = defs.get(syms[rel.sym].name);
    assert.ok(def, syms[rel.sym].name);
    const expected =
      rel.type === 5 // COPY: the bytes of the definition in exec[0]
        ? shared.buf.subarray(shared.fileOffset(def.value), shared.fileOffset(def.value) + Number(def.size)).toString('hex')
        : u64(SHARED_BASE + def.value);
    assert.equal(got.get(hex(IMAGES_BASE + rel.offset)), expected, `relocation of ${syms[rel.sym].name}`);
  }
});

test('a DT_NEEDED library is found beside the function, placed in the next slot and bound', () => {
  const fn = elf(fixture('useslib'));
  const lib = elf(helperLibrary);
  const libBase = nextSlot(IMAGES_BASE, fn);
  const defs = new Map(lib.symbols().filter((s) => s.defined).map((s) => [s.name, s]));
  const syms = fn.symbols();
  const relocs = fn.relocations();
  const r = runCheck(check, [...relocs.flatMap((x) => ['-x', `${hex(IMAGES_BASE + x.offset)}:8`]), fixture('useslib')]);
  assert.equal(r.error, undefined);
  const got = dumps(r.stdout);
  for (const rel of relocs) {
    const def = defs.get(syms[rel.sym].name)!;
    assert.equal(got.get(hex(IMAGES_BASE + rel.offset)), u64(libBase + def.value), syms[rel.sym].name);
  }
});

test('an image over 2 MiB is loaded whole, its bss zeroed', () => {
  const e = elf(fixture('bigimage'));
  const windows: [bigint, number][] = [];
  for (const p of e.loads()) {
    const len = 64n < p.memsz ? 64n : p.memsz;
    for (const at of [p.vaddr, p.vaddr + p.filesz / 2n, p.vaddr + p.memsz - len]) windows.push([at, Number(len)]);
  }
  assert.ok(e.loads().some((p) => p.filesz > 2n << 20n), 'the fixture has a segment over 2 MiB');
  const r = runCheck(check, [...windows.flatMap(([a, n]) => ['-x', `${hex(IMAGES_BASE + a)}:${n}`]), fixture('bigimage')]);
  assert.equal(r.error, undefined);
  const got = dumps(r.stdout);
  for (const [at, n] of windows) {
    const expected = Buffer.alloc(n);
    for (const p of e.loads()) {
      for (let i = 0; i < n; i++) {
        const v = at + BigInt(i);
        if (v >= p.vaddr && v < p.vaddr + p.filesz) expected[i] = e.buf[Number(p.offset + v - p.vaddr)];
      }
    }
    assert.equal(got.get(hex(IMAGES_BASE + at)), expected.toString('hex'), `bytes at ${hex(at)}`);
  }
});

test('the same path twice is two roles: each node gets its own copy', () => {
  const once = runCheck(check, [fixture('sum')]);
  const twice = runCheck(check, [fixture('sum'), fixture('sum')]);
  const entries = [...twice.stdout.matchAll(/^entry \S+ (0x[0-9a-f]+)$/gm)].map((m) => m[1]);
  assert.equal(entries.length, 2);
  assert.notEqual(entries[0], entries[1], 'two images, two entry addresses');
  const bytes = (out: string) => Number(/^bytes (\d+)$/m.exec(out)?.[1]);
  assert.ok(bytes(twice.stdout) > bytes(once.stdout), 'the second copy takes memory of its own');
});

test('an undefined weak symbol resolves to 0', async () => {
  // ld resolves weak undefined symbols of a PIE itself; in a library they stay dynamic.
  await withTempDir('ataru-weak-', async (dir) => {
    writeFileSync(
      join(dir, 'probe.c'),
      '#include <ataru.h>\nextern long maybe(void) __attribute__((weak));\nlong probe(void) { return maybe ? maybe() : 5; }\n',
    );
    writeFileSync(
      join(dir, 'fn.c'),
      '#include <ataru.h>\nlong probe(void);\nlong entry(const void *i, void *o, uint64_t n) { (void)i, (void)o, (void)n; return probe(); }\n',
    );
    await build({ sources: ['probe.c'], output: 'libprobe.so', kind: 'library', cwd: dir });
    await build({ sources: ['fn.c'], output: 'fn.elf', link: ['libprobe.so'], cwd: dir });
    const lib = elf(join(dir, 'libprobe.so'));
    const rel = lib.relocations().find((x) => lib.symbols()[x.sym].name === 'maybe');
    assert.ok(rel, 'the library has a relocation for maybe');
    // A sentinel in the file's GOT slot: only the loader can turn it into 0.
    lib.buf.writeBigUInt64LE(0xdeadbeefn, lib.fileOffset(rel.offset));
    writeFileSync(join(dir, 'libprobe.so'), lib.buf);
    const at = nextSlot(IMAGES_BASE, elf(join(dir, 'fn.elf'))) + rel.offset;
    const r = runCheck(check, ['-x', `${hex(at)}:8`, join(dir, 'fn.elf')]);
    assert.equal(r.error, undefined);
    assert.equal(dumps(r.stdout).get(hex(at)), u64(0n));
  });
});

test('a library needed by two functions is loaded once and shared', async () => {
  await withTempDir('ataru-shared-lib-', async (dir) => {
    for (const f of ['a.elf', 'b.elf']) copyFileSync(fixture('useslib'), join(dir, f));
    copyFileSync(helperLibrary, join(dir, 'libhelper.so'));
    const fn = elf(fixture('useslib'));
    const lib = elf(helperLibrary);
    const aBase = IMAGES_BASE;
    const libBase = nextSlot(aBase, fn);
    const bBase = nextSlot(libBase, lib);
    const weight = lib.symbols().find((s) => s.name === 'helper_weight' && s.defined)!;
    const rel = fn.relocations().find((x) => fn.symbols()[x.sym].name === 'helper_weight')!;
    const r = runCheck(check, ['-x', `${hex(aBase + rel.offset)}:8`, '-x', `${hex(bBase + rel.offset)}:8`, join(dir, 'a.elf'), join(dir, 'b.elf')]);
    assert.equal(r.error, undefined);
    const got = dumps(r.stdout);
    assert.equal(got.get(hex(aBase + rel.offset)), u64(libBase + weight.value));
    assert.equal(got.get(hex(bBase + rel.offset)), u64(libBase + weight.value));
    assert.match(r.stdout, new RegExp(`^entry .*/b\\.elf ${hex(bBase + fn.entry)}$`, 'm'));
  });
});

test('libraries of libraries are found in their folder and bound', async () => {
  await withTempDir('ataru-chain-', async (dir) => {
    writeFileSync(join(dir, 'inner.c'), '#include <ataru.h>\nlong inner(long x) { return x + 1; }\n');
    writeFileSync(join(dir, 'outer.c'), '#include <ataru.h>\nlong inner(long);\nlong outer(long x) { return inner(x) * 2; }\n');
    writeFileSync(
      join(dir, 'fn.c'),
      '#include <ataru.h>\nlong outer(long);\nlong entry(const void *i, void *o, uint64_t n) { (void)i, (void)o; return outer((long)n); }\n',
    );
    await build({ sources: ['inner.c'], output: 'libinner.so', kind: 'library', cwd: dir });
    await build({ sources: ['outer.c'], output: 'libouter.so', kind: 'library', link: ['libinner.so'], cwd: dir });
    await build({ sources: ['fn.c'], output: 'fn.elf', link: ['libouter.so'], cwd: dir });
    const fn = elf(join(dir, 'fn.elf'));
    const outer = elf(join(dir, 'libouter.so'));
    const inner = elf(join(dir, 'libinner.so'));
    const outerBase = nextSlot(IMAGES_BASE, fn);
    const innerBase = nextSlot(outerBase, outer);
    const fnRel = fn.relocations().find((x) => fn.symbols()[x.sym].name === 'outer')!;
    const outerRel = outer.relocations().find((x) => outer.symbols()[x.sym].name === 'inner')!;
    const def = (e: ElfFile, n: string) => e.symbols().find((s) => s.name === n && s.defined)!.value;
    const r = runCheck(check, ['-x', `${hex(IMAGES_BASE + fnRel.offset)}:8`, '-x', `${hex(outerBase + outerRel.offset)}:8`, join(dir, 'fn.elf')]);
    assert.equal(r.error, undefined);
    const got = dumps(r.stdout);
    assert.equal(got.get(hex(IMAGES_BASE + fnRel.offset)), u64(outerBase + def(outer, 'outer')));
    assert.equal(got.get(hex(outerBase + outerRel.offset)), u64(innerBase + def(inner, 'inner')));
  });
});

test('lookup order: exec[0] comes before the function\'s own libraries', async () => {
  await withTempDir('ataru-order-', async (dir) => {
    // libdup also defines shared_square and comes first at link time, so ld
    // binds to it; the loader must still take exec[0]'s.
    writeFileSync(
      join(dir, 'dup.c'),
      '#include <ataru.h>\nlong shared_square(long a) { return -a; }\nlong dup_only(long a) { return a; }\n',
    );
    writeFileSync(
      join(dir, 'fn.c'),
      '#include <ataru.h>\nlong shared_square(long);\nlong shared_mix(long, long);\nlong dup_only(long);\n' +
        'long entry(const void *i, void *o, uint64_t n) { (void)i, (void)o; return shared_square((long)n) + shared_mix(1, 2) + dup_only(3); }\n',
    );
    await build({ sources: ['dup.c'], output: 'libdup.so', kind: 'library', cwd: dir });
    await build({ sources: ['fn.c'], output: 'fn.elf', link: ['libdup.so', sharedImage], cwd: dir });
    const fn = elf(join(dir, 'fn.elf'));
    const needed = fn.dynamic().filter((d) => d.tag === 1).map((d) => fn.dynstr(Number(d.val)));
    assert.deepEqual(needed.sort(), ['libdup.so', 'libshared.so']);
    const rel = fn.relocations().find((x) => fn.symbols()[x.sym].name === 'shared_square')!;
    const def = elf(sharedImage).symbols().find((x) => x.name === 'shared_square' && x.defined)!;
    const r = runCheck(check, ['-x', `${hex(IMAGES_BASE + rel.offset)}:8`, '-s', sharedImage, join(dir, 'fn.elf')]);
    assert.equal(r.error, undefined);
    assert.equal(dumps(r.stdout).get(hex(IMAGES_BASE + rel.offset)), u64(SHARED_BASE + def.value));
  });
});

test('a file that is exec[0] also loads as a function: images are identified by role, not by path', () => {
  const path = fixture('sum');
  const r = runCheck(check, ['-s', path, path]);
  assert.equal(r.error, undefined, 'exec[0] reused as a node must not be refused');
  assert.match(r.stdout, new RegExp(`^entry .*/sum\\.elf ${hex(IMAGES_BASE + elf(path).entry)}$`, 'm'));
});

test('linking is linear: a function with thousands of relocations against a library compares a few names per relocation', async () => {
  // N exported functions in a library, and a function that calls each one
  // through its own relocation. A scan of the symbol table per relocation
  // compares ~N²/2 names; the export index compares ~1 per lookup.
  const n = 3000;
  await withTempDir('ataru-linkscale-', async (dir) => {
    const lib = Array.from({ length: n }, (_, i) => `long f${i}(long x) { return x + ${i}; }`).join('\n');
    writeFileSync(join(dir, 'many.c'), `#include <ataru.h>\n${lib}\n`);
    const decls = Array.from({ length: n }, (_, i) => `long f${i}(long);`).join('\n');
    const table = Array.from({ length: n }, (_, i) => `f${i}`).join(', ');
    writeFileSync(
      join(dir, 'caller.c'),
      `#include <ataru.h>\n${decls}\nstatic long (*const all[])(long) = { ${table} };\n` +
        'long entry(const void *i, void *o, uint64_t k) { (void)i, (void)o; return all[k % (sizeof all / sizeof all[0])](1); }\n',
    );
    await build({ sources: ['many.c'], output: 'libmany.so', kind: 'library', cwd: dir });
    await build({ sources: ['caller.c'], output: 'caller.elf', link: ['libmany.so'], cwd: dir });
    const relocs = elf(join(dir, 'caller.elf')).relocations().length;
    assert.ok(relocs >= n, `the caller has a relocation per function (${relocs})`);
    const r = runCheck(check, [join(dir, 'caller.elf')]);
    assert.equal(r.error, undefined, r.stdout);
    const compares = Number(/^compares (\d+)$/m.exec(r.stdout)?.[1]);
    assert.ok(Number.isFinite(compares) && compares > 0, r.stdout);
    assert.ok(compares <= 4 * relocs, `${compares} name comparisons for ${relocs} relocations (a scan per relocation: ~${(n * n) / 2})`);
  });
});
