/**
 * Malformed ELF files, each made from a valid fixture by one mutation, must
 * be rejected with their own message: by the loader's C code directly (the
 * ASan-built harness), by the addon's validateElf, and by Sandbox.load
 * (AtaruError BAD_ELF) when the addon and /dev/kvm are there.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtaruError } from '../../src/errors.js';
import { ElfFile, PF_R, PF_W, PF_X } from './elf-file.js';
import { harness, runCheck } from './harness.js';
import { buildFixtures, fixture, helperLibrary } from '../fixtures/functions/fixtures.js';
import { kvmOptions } from '../helpers/kvm.js';

interface Case {
  name: string;
  /** Returns the mutant (from a copy of useslib.elf). */
  mutate: (e: ElfFile) => Buffer;
  expect: string;
  /** 'load': only found when linking (needs the other images). */
  stage?: 'load';
  /** Put libhelper.so beside the mutant (default true). */
  withLibrary?: boolean;
}

const hex = (v: bigint | number) => '0x' + v.toString(16);

const cases: Case[] = [
  { name: 'truncated header', mutate: (e) => e.buf.subarray(0, 40), expect: 'file is 40 bytes, shorter than an ELF header (64 bytes)' },
  {
    name: 'truncated body',
    mutate: (e) => e.buf.subarray(0, 0x1800),
    expect: 'extends past the end of the file (6144 bytes)',
  },
  { name: 'bad magic', mutate: (e) => (e.buf.write('\x7fELG', 0, 'latin1'), e.buf), expect: 'not an ELF file (bad magic)' },
  { name: '32-bit class', mutate: (e) => ((e.buf[4] = 1), e.buf), expect: '32-bit ELF (ELFCLASS32) is not supported' },
  { name: 'big-endian', mutate: (e) => ((e.buf[5] = 2), e.buf), expect: 'big-endian ELF (ELFDATA2MSB) is not supported' },
  { name: 'wrong machine', mutate: (e) => (e.buf.writeUInt16LE(40, 18), e.buf), expect: 'machine 40 (ARM), expected x86-64 (62)' },
  { name: 'ET_EXEC function', mutate: (e) => (e.buf.writeUInt16LE(2, 16), e.buf), expect: 'ELF type 2, expected ET_DYN (3) for a function' },
  { name: 'bad phentsize', mutate: (e) => (e.buf.writeUInt16LE(32, 54), e.buf), expect: 'program header entry size 32, expected 56' },
  { name: 'too many sections', mutate: (e) => (e.buf.writeUInt16LE(70, 60), e.buf), expect: 'section count 70 exceeds 64' },
  {
    name: 'segment past file end',
    mutate: (e) => {
      const p = e.loads()[1];
      e.setPhdr(p, 'offset', BigInt(e.buf.length));
      return e.buf;
    },
    expect: 'segment 1 file range',
  },
  {
    name: 'overlapping segments',
    mutate: (e) => {
      const [, code, ...rest] = e.loads();
      e.setPhdr(rest[rest.length - 1], 'vaddr', code.vaddr + 0x10n); // the data segment onto the code
      return e.buf;
    },
    expect: 'segments 1 and 3 overlap',
  },
  {
    name: 'huge memsz',
    mutate: (e) => (e.setPhdr(e.loads()[3], 'memsz', 0x20000000n), e.buf),
    expect: 'segment 3 memsz 0x20000000 exceeds limit 0x10000000',
  },
  {
    name: 'filesz > memsz',
    mutate: (e) => {
      const p = e.loads()[2];
      e.setPhdr(p, 'filesz', p.memsz + 1n);
      return e.buf;
    },
    expect: 'segment 2 filesz',
  },
  {
    name: 'entry outside code',
    mutate: (e) => ((e.entry = e.loads()[2].vaddr), e.buf),
    expect: 'entry point 0x2000 is not inside an executable segment',
  },
  {
    name: 'writable and executable segment',
    mutate: (e) => (e.setPhdr(e.loads()[1], 'flags', PF_R | PF_W | PF_X), e.buf),
    expect: 'segment 1 is writable and executable (W^X)',
  },
  {
    name: 'unsupported relocation type',
    mutate: (e) => (e.setRela(e.relocations()[0], { type: 37 }), e.buf),
    expect: 'unsupported type 37 (R_X86_64_IRELATIVE)',
  },
  {
    name: 'relocation symbol index out of range',
    mutate: (e) => (e.setRela(e.relocations()[0], { sym: 999 }), e.buf),
    expect: 'symbol index 999 out of range',
  },
  {
    name: 'relocation into code',
    mutate: (e) => (e.setRela(e.relocations()[0], { offset: e.loads()[1].vaddr }), e.buf),
    expect: `at ${hex(0x1000)} is not inside a writable segment`,
  },
  {
    name: "DT_NEEDED with '/'",
    mutate: (e) => (e.renameDynstr('libhelper.so', '../helper.so'), e.buf),
    expect: `DT_NEEDED "../helper.so" must be a plain file name (no '/' or '..')`,
  },
  {
    name: 'unresolved symbol',
    mutate: (e) => (e.renameDynstr('helper_weight', 'helper_wxight'), e.buf),
    expect: 'useslib.elf: undefined symbol helper_wxight (not in useslib.elf or its libraries)',
    stage: 'load',
  },
  {
    name: 'missing DT_NEEDED library',
    mutate: (e) => e.buf,
    expect: 'useslib.elf: needed library libhelper.so not found in',
    stage: 'load',
    withLibrary: false,
  },
];

let original: Buffer;
let check: string;
const tmp = mkdtempSync(join(tmpdir(), 'ataru-malformed-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** Writes the mutant as <dir>/useslib.elf (with libhelper.so beside it). */
function materialize(c: Case): string {
  const dir = mkdtempSync(join(tmp, 'case-'));
  const file = join(dir, 'useslib.elf');
  writeFileSync(file, c.mutate(ElfFile.copy(original)));
  if (c.withLibrary !== false) copyFileSync(helperLibrary, join(dir, 'libhelper.so'));
  return file;
}

async function loadAddon() {
  try {
    const { native } = await import('../../src/runtime/native.js');
    return native();
  } catch {
    return undefined;
  }
}

before(() => {
  buildFixtures();
  original = readFileSync(fixture('useslib'));
  check = harness('elf_check');
});

describe('the unmodified fixture', () => {
  test('validates and loads with its library', () => {
    const file = materialize({ name: 'valid', mutate: (e) => e.buf, expect: '' });
    const r = runCheck(check, [file]);
    assert.equal(r.error, undefined);
    assert.match(r.stdout, /^entry .*useslib\.elf 0x[0-9a-f]+$/m);
  });
});

describe('malformed ELF files: the loader (C harness)', () => {
  for (const c of cases) {
    test(c.name, () => {
      const file = materialize(c);
      const r = runCheck(check, c.stage === 'load' ? [file] : ['-v', '2', file]);
      assert.equal(r.status, 1, r.stdout);
      assert.ok(r.error?.includes(c.expect), `expected "${c.expect}" in: ${r.error}`);
      // Loading checks the same things and names the function by its path.
      const loaded = runCheck(check, [file]).error;
      assert.ok(loaded?.startsWith(`function ${file}: `) && loaded.includes(c.expect), loaded);
    });
  }
});

describe('malformed ELF files: addon validateElf', async () => {
  const addon = await loadAddon();
  for (const c of cases.filter((c) => c.stage !== 'load')) {
    test(c.name, { skip: addon ? undefined : 'the native addon is not built' }, () => {
      const msg = addon!.validateElf(c.mutate(ElfFile.copy(original)), 'function');
      assert.ok(msg?.includes(c.expect), `expected "${c.expect}" in: ${msg}`);
    });
  }
  test('the valid fixture passes', { skip: addon ? undefined : 'the native addon is not built' }, () => {
    assert.equal(addon!.validateElf(original, 'function'), null);
  });
});

describe('malformed ELF files: Sandbox.load', async () => {
  const addon = await loadAddon();
  const opts = addon ? kvmOptions() : { skip: 'the native addon is not built' };
  for (const c of cases) {
    test(c.name, opts, async () => {
      const { Sandbox } = await import('../../src/runtime/sandbox.js');
      const file = materialize(c);
      await assert.rejects(Sandbox.load(file), (err: unknown) => {
        assert.ok(err instanceof AtaruError, String(err));
        assert.equal(err.code, 'BAD_ELF');
        assert.ok(err.message.includes(c.expect), `expected "${c.expect}" in: ${err.message}`);
        return true;
      });
    });
  }
});
