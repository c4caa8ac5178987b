/**
 * The sobel app in the VM beside the same C run natively in-process on the
 * host (examples/sobel/host.c, built now with the functions' own flags),
 * both on the sample pictures, in one run. Target: in-VM DAG time ≤ 1.2×
 * native plus one exit floor; and the end-to-end request against it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDefinition, resolveFunctionPath } from '../../src/app/index.js';
import { loadApp } from '../../src/runtime/index.js';
import { samples } from '../../test/examples/sobel-inputs.js';
import { fmtRatio, fmtUs, median, percentile, printTable, timeEach, type BenchContext } from '../lib.js';

const dir = join(import.meta.dirname, '../../examples/sobel');
const STAGES = ['smooth', 'gradx', 'grady', 'magnitude'];

interface NativeTimes {
  requests: number;
  totalNs: number;
  stageNs: number[];
}

/** The sample pictures as requests, in name order. */
function images(): Buffer[] {
  const byName = samples();
  return Object.keys(byName)
    .sort()
    .map((name) => byName[name]!);
}

/** Medians of the native harness over reps passes of every image. */
function native(input: Buffer, reps: number): NativeTimes {
  const r = spawnSync(join(dir, 'build/host/sobel-host'), [String(reps)], { input, stdio: ['pipe', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`sobel-host failed: ${r.stderr}`);
  return JSON.parse(r.stderr.toString()) as NativeTimes; // its timing line
}

export async function run(ctx: BenchContext): Promise<void> {
  execFileSync('make', ['-s', '-C', dir, 'all', 'build/host/sobel-host']);
  const imgs = images();
  const slice = ctx.budgetMs / 7;
  const nat = native(Buffer.concat(imgs), 500);

  const file = join(dir, 'sobel.tmpl');
  const base = parseDefinition(readFileSync(file), { file });
  const rows: string[][] = [];
  const check = (ok: boolean) => (ok ? 'yes' : 'NO');
  let floor = NaN;

  // vcpus 2 may run gradx and grady in parallel; state keep skips the
  // per-request memory reset (safe here: every request rewrites its regions).
  const variants = [
    { label: 'VM', vcpus: 1, state: 'reset' },
    { label: 'VM vcpus 2', vcpus: 2, state: 'reset' },
    { label: 'VM state keep', vcpus: 1, state: 'keep' },
  ] as const;
  for (const { label, vcpus, state } of variants) {
    const first = label === 'VM';
    const app = await loadApp({ ...base, instances: 1, vcpus, state }, { resolve: (ref) => resolveFunctionPath(ref, dir) });
    if (first) floor = await app.exitFloor(2000);
    let i = 0;
    const next = () => imgs[i++ % imgs.length];
    await timeEach(() => app.run(next()), 200); // warm-up
    const dag: number[] = [];
    const nodes: number[][] = STAGES.map(() => []);
    const t0 = performance.now();
    const e2e = await timeEach(
      async () => {
        const r = await app.run(next());
        dag.push(r.dagNs);
        r.nodeNs.forEach((ns, k) => nodes[k].push(ns));
      },
      20000,
      slice,
    );
    const perSec = (e2e.length / (performance.now() - t0)) * 1000;
    await app.close();

    const target = 1.2 * nat.totalNs + floor;
    if (first) {
      rows.push(['native: 4 stages in-process', fmtUs(nat.totalNs), '1.00×', `${(1e9 / nat.totalNs).toFixed(0)}/s`, '', '']);
      STAGES.forEach((s, k) => rows.push([`  native ${s}`, fmtUs(nat.stageNs[k]), '', '', '', '']));
      rows.push(['exit floor (bare exit round trip)', fmtUs(floor), fmtRatio(floor / nat.totalNs), '', '', '']);
      STAGES.forEach((s, k) =>
        rows.push([`  VM node ${s}`, fmtUs(median(nodes[k])), fmtRatio(median(nodes[k]) / nat.stageNs[k]), '', '', '']),
      );
    }
    rows.push([`${label}: in-VM DAG p50`, fmtUs(median(dag)), fmtRatio(median(dag) / nat.totalNs), '', '≤ 1.2× native + floor', check(median(dag) <= target)]);
    rows.push([`${label}: request p50 (App.run)`, fmtUs(median(e2e)), fmtRatio(median(e2e) / nat.totalNs), `${perSec.toFixed(0)}/s`, '≤ 1.2× native + floor', check(median(e2e) <= target)]);
    rows.push([`${label}: request p99`, fmtUs(percentile(e2e, 99)), fmtRatio(percentile(e2e, 99) / nat.totalNs), '', '', '']);
  }
  // Throughput of a pool: one instance per core, two requests in flight each.
  const pool = await loadApp({ ...base, instances: 2 }, { resolve: (ref) => resolveFunctionPath(ref, dir) });
  let done = 0;
  const stop = performance.now() + slice;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async (_, w) => {
      for (let i = w; performance.now() < stop; i++, done++) await pool.run(imgs[i % imgs.length]);
    }),
  );
  const poolPerSec = (done / (performance.now() - t0)) * 1000;
  await pool.close();
  const nativePerSec2 = 2e9 / nat.totalNs;
  rows.push(['VM pool of 2, 4 in flight', '', '', `${poolPerSec.toFixed(0)}/s`, `native ×2 cores: ${nativePerSec2.toFixed(0)}/s`, '']);

  printTable(
    `sobel app, 128×128 samples (${imgs.length} images; native ${nat.requests} requests)`,
    ['measure', 'p50', 'vs native', 'throughput', 'target', 'met'],
    rows,
  );
}
