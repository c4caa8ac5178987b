/**
 * Reading hostile definitions: each shape that once made a reader quadratic
 * (a long run of blanks inside a template value, alternating tabs and
 * spaces, hundreds of thousands of garbage lines, a huge dag list, JSON with
 * a hundred thousand unknown keys), at 256 KiB, 512 KiB and 1 MiB. A linear
 * reader takes about twice as long per doubling; the ratio column shows it.
 * (The tests only check that these are rejected and that the server keeps
 * answering: test/server/hostile-input.test.ts.)
 */
import { parseDefinition } from '../../src/app/index.js';
import { median, printTable, type BenchContext } from '../lib.js';

const KiB = 1024;

const SHAPES: Record<string, (size: number) => string> = {
  'blanks inside a value': (n) => `name : a${' '.repeat(n)}b\n`,
  'tabs and spaces': (n) => `name : a${' \t'.repeat(n / 2)}b\n`,
  'garbage lines': (n) => 'x\n'.repeat(n / 2),
  'dag values': (n) => `name : a\nnum_nodes : 1\ndag : ${'1,'.repeat(n / 2)}\n`,
  'JSON unknown keys': (n) => JSON.stringify(Object.fromEntries(Array.from({ length: n / 10 }, (_, i) => [`k${i}`, 1]))),
};

function parseMs(text: Buffer, runs: number): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    try {
      parseDefinition(text);
    } catch {
      // rejected, as it must be
    }
    samples.push(performance.now() - t);
  }
  return median(samples);
}

export async function run(ctx: BenchContext): Promise<void> {
  const sizes = [256 * KiB, 512 * KiB, 1024 * KiB];
  const rows: string[][] = [];
  for (const [shape, make] of Object.entries(SHAPES)) {
    if (ctx.overBudget(0.8)) break;
    const ms = sizes.map((n) => parseMs(Buffer.from(make(n)), 5));
    rows.push([shape, ...ms.map((m) => m.toFixed(1)), (ms[2]! / ms[1]!).toFixed(2)]);
  }
  printTable('hostile definitions: median ms to reject (5 runs each)', ['shape', '256 KiB', '512 KiB', '1 MiB', '1 MiB / 512 KiB'], rows);
}
