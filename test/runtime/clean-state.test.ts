/**
 * Clean state means every register a function can see: general-purpose,
 * MXCSR, x87, XMM/YMM/ZMM and the AVX-512 masks (docs/architecture.md).
 * regs.elf (test/runtime/fixtures/regs_entry.S) dirties them all in one
 * request or node and reads them in the next.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { loadApp } from '../../src/runtime/app.js';
import { Sandbox } from '../../src/runtime/sandbox.js';
import { kvmOptions } from '../helpers/kvm.js';
import { appDef, regsElf, resolveOpts } from './helpers.js';

const READ = 0;
const DIRTY = 1;
const DIRTY_THEN_READ = 2;
const DIRTY_THEN_FAULT = 3;
const MARK = 0x5a5a5a5a5a5a5a5an;
const GPRS = ['rax', 'rbx', 'rbp', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

interface Seen {
  gpr: Map<string, bigint>;
  mxcsr: number;
  fcw: number;
  fsw: number;
  ftw: number;
  avx: boolean;
  avx512: boolean;
  /** Every vector and mask byte the CPU has, by register name. */
  vectors: Map<string, Buffer>;
  /** Data segment selectors, by register name. */
  selectors: Map<string, number>;
}

function decode(out: Buffer): Seen {
  assert.equal(out.length, 2248, 'the read returns its whole record');
  const gpr = new Map(GPRS.map((r, i) => [r, out.readBigUInt64LE(8 * i)]));
  const features = out.readUInt32LE(120);
  const avx = (features & 1) !== 0;
  const avx512 = (features & 2) !== 0;
  const vectors = new Map<string, Buffer>();
  for (let i = 0; i < 16; i++) vectors.set(`xmm${i}`, out.subarray(128 + 16 * i, 144 + 16 * i));
  if (avx) for (let i = 0; i < 16; i++) vectors.set(`ymm${i}[255:128]`, out.subarray(384 + 16 * i, 400 + 16 * i));
  if (avx512) {
    for (let i = 0; i < 16; i++) vectors.set(`zmm${i}[511:256]`, out.subarray(640 + 32 * i, 672 + 32 * i));
    for (let i = 0; i < 16; i++) vectors.set(`zmm${16 + i}`, out.subarray(1152 + 64 * i, 1216 + 64 * i));
    for (let i = 0; i < 8; i++) vectors.set(`k${i}`, out.subarray(2176 + 8 * i, 2184 + 8 * i));
  }
  const selectors = new Map(['ds', 'es', 'fs', 'gs'].map((r, i) => [r, out.readUInt16LE(2240 + 2 * i)]));
  return {
    gpr,
    selectors,
    mxcsr: out.readUInt32LE(80),
    fcw: out.readUInt16LE(88),
    fsw: out.readUInt16LE(92),
    ftw: out.readUInt16LE(96),
    avx,
    avx512,
    vectors,
  };
}

const pvm = existsSync('/sys/module/kvm_pvm');

/** The architectural initial state: what every function must start from. */
function assertClean(s: Seen, when: string): void {
  for (const [r, v] of s.gpr) assert.equal(v, 0n, `${when}: ${r} = 0x${v.toString(16)}`);
  assert.equal(s.mxcsr, 0x1f80, `${when}: MXCSR`);
  assert.equal(s.fcw, 0x37f, `${when}: x87 control word`);
  assert.equal(s.fsw, 0, `${when}: x87 status word`);
  assert.equal(s.ftw, 0xffff, `${when}: x87 registers all empty`);
  for (const [r, bytes] of s.vectors) assert.ok(bytes.every((b) => b === 0), `${when}: ${r} = ${bytes.toString('hex')}`);
  // The user data selector (GDT entry 3, RPL 3) that the host loads at entry.
  // kvm_pvm runs the guest's CPL3 code as host user code, and the host
  // kernel gives it null data selectors instead (docs/cpu.md): still the
  // same value for every request, so nothing of a request's reaches the next.
  const allowed = pvm ? [0, 0x1b] : [0x1b];
  for (const [r, v] of s.selectors) assert.ok(allowed.includes(v), `${when}: ${r} = 0x${v.toString(16)}`);
}

describe('clean state: registers', kvmOptions(), () => {
  test('the reader sees markers when they are there (the check is not blind)', async () => {
    const sb = await Sandbox.load(regsElf());
    try {
      const s = decode((await sb.call(Buffer.from([DIRTY_THEN_READ]))).output);
      for (const r of GPRS) assert.equal(s.gpr.get(r), MARK, r);
      assert.equal(s.mxcsr, 0xffc0);
      assert.equal(s.fcw, 0x27f);
      assert.notEqual(s.ftw, 0xffff);
      for (const [r, v] of s.selectors) assert.equal(v, 0, `${r} was nulled`);
      // k0 is left out: it reads as all ones only where kxnorw may write it.
      for (const [r, bytes] of s.vectors) if (r !== 'k0') assert.ok(bytes.subarray(0, r.startsWith('k') ? 2 : undefined).every((b) => b !== 0), `${r} was dirtied`);
    } finally {
      await sb.close();
    }
  });

  test('nothing a request leaves in any register reaches the next request', async () => {
    const sb = await Sandbox.load(regsElf());
    try {
      assertClean(decode((await sb.call(Buffer.from([READ]))).output), 'first request');
      for (let i = 0; i < 3; i++) {
        const dirty = await sb.call(Buffer.from([DIRTY]));
        assert.equal(dirty.output.length, 0);
        assertClean(decode((await sb.call(Buffer.from([READ]))).output), `after dirty request ${i + 1}`);
      }
    } finally {
      await sb.close();
    }
  });

  test('a request that faults with every register dirty leaves nothing to the next', async () => {
    const sb = await Sandbox.load(regsElf());
    try {
      await assert.rejects(sb.call(Buffer.from([DIRTY_THEN_FAULT])), (e: Error & { code?: string }) => e.code === 'FAULT');
      assertClean(decode((await sb.call(Buffer.from([READ]))).output), 'after the fault');
    } finally {
      await sb.close();
    }
  });

  test('state: keep apps too: the next node of the same request starts clean', async () => {
    // Node 0 dirties everything, node 1 reads: within one request, and with
    // memory kept across requests, registers still start clean.
    const def = appDef('regs-chain', [{ elf: regsElf(), out: 0x1000 }, { elf: regsElf(), inp: 0x2000, out: 0x4000 }], [[0, 1]], {
      state: 'keep',
      shm_size: 0x10000,
      msg_len: 0x10000,
    });
    const app = await loadApp(def, resolveOpts);
    try {
      for (let i = 0; i < 2; i++) {
        const input = Buffer.alloc(0x2001);
        input[0] = DIRTY; // node 0 dirties; node 1's input (at 0x2000) asks for a read
        input[0x2000] = READ;
        const r = await app.run(input);
        assertClean(decode(r.output), `node 1, request ${i + 1}`);
      }
    } finally {
      await app.close();
    }
  });
});
