/**
 * Shared pieces of the runtime tests: fixture paths, definitions built from
 * DEFAULTS, and independent TypeScript implementations of what the fixture
 * functions compute (expected answers are computed, never hard-coded).
 */
import { execFileSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULTS, type AppDefinition, type NodeDef } from '../../src/app/model.js';
import type { LoadOptions } from '../../src/runtime/types.js';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
const fixtures = join(repoRoot, 'test', 'fixtures', 'functions', 'build');

/** A shared fixture function (test/fixtures/functions/build/NAME.elf). */
export function fixture(name: string): string {
  return join(fixtures, `${name}.elf`);
}

export const sharedImage = join(fixtures, 'shared', 'libshared.so');

/** The runtime tests' own trap function (fails on demand), built if needed. */
export function trapElf(): string {
  execFileSync('make', ['-s', '-C', join(here, 'fixtures')], { stdio: 'inherit' });
  return join(here, 'fixtures', 'build', 'trap.elf');
}

/** The register reader/dirtier of the clean-state tests, built if needed. */
export function cpuElf(): string {
  execFileSync('make', ['-s', '-C', join(here, 'fixtures')], { stdio: 'inherit' });
  return join(here, 'fixtures', 'build', 'cpu.elf');
}

export function regsElf(): string {
  execFileSync('make', ['-s', '-C', join(here, 'fixtures')], { stdio: 'inherit' });
  return join(here, 'fixtures', 'build', 'regs.elf');
}

export interface NodeSpec {
  elf: string;
  inp?: number;
  out: number;
  timeoutMs?: number;
}

/** An AppDefinition from DEFAULTS with the given nodes and edges. */
export function appDef(
  name: string,
  nodes: NodeSpec[],
  edges: [number, number][],
  extra: Partial<AppDefinition> = {},
): AppDefinition {
  const nodeDefs: NodeDef[] = nodes.map((n, k) => ({
    id: `n${k}`,
    function: { path: dirname(n.elf), name: basename(n.elf) },
    inp_off: n.inp ?? 0,
    out_off: n.out,
    ...(n.timeoutMs !== undefined ? { timeout_ms: n.timeoutMs } : {}),
  }));
  return {
    ...DEFAULTS,
    name,
    msg_len: 4096,
    instances: 1,
    nodes: nodeDefs,
    edges: edges.map(([from, to]) => ({ from, to })),
    ...extra,
  };
}

export const resolveOpts: LoadOptions = { resolve: (ref) => join(ref.path, ref.name) };

export function u64(buf: Buffer, off = 0): bigint {
  return buf.readBigUInt64LE(off);
}

export function fnv1a64(buf: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of buf) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}

export function byteSum(buf: Uint8Array): bigint {
  let s = 0n;
  for (const b of buf) s += BigInt(b);
  return s;
}

export function upper(buf: Uint8Array): Buffer {
  return Buffer.from(buf.map((c) => (c >= 0x61 && c <= 0x7a ? c - 32 : c)));
}

export function addN(buf: Uint8Array, n: number): Buffer {
  return Buffer.from(buf.map((c) => (c + n) & 0xff));
}

/** burn.c: n * 1,000,000 steps of x = x * 1664525 + 1013904223 from 1 (u32). */
export function burnResult(n: number): number {
  let x = 1;
  for (let i = 0; i < n * 1_000_000; i++) x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
  return x;
}

export { randomBytes } from '../helpers/random.js';
