/**
 * The core's costs through the TypeScript API, against the exit floor (one
 * bare VM exit round trip) measured in the same run.
 */
import { loadApp } from '../../src/runtime/app.js';
import { Sandbox } from '../../src/runtime/sandbox.js';
import { fmtKiB, fmtRatio, fmtUs, median, percentile, printTable, timeEach, type BenchContext } from '../lib.js';
import { diamond, eleven, fixture, resolveOpts, single } from './dags.js';

const empty = Buffer.alloc(0);

export async function run(ctx: BenchContext): Promise<void> {
  const rows: string[][] = [];
  const slice = ctx.budgetMs / 10; // per measurement

  const noop = await Sandbox.load(fixture('noop'));
  await noop.call(empty);
  const idle = noop.handle.stats().memory[0].privateBytes; // loaded, one call, idle
  const floor = await noop.handle.exitFloor(2000);
  const vsFloor = (ns: number) => fmtRatio(ns / floor);
  const check = (ok: boolean) => (ok ? 'yes' : 'NO');
  rows.push(['exit floor (bare exit round trip)', fmtUs(floor), '1.00×', 'baseline', '']);

  await timeEach(() => noop.call(empty), 200); // warm-up
  const core: number[] = [];
  const warm = await timeEach(async () => core.push((await noop.call(empty)).runNs), 5000, slice);
  rows.push(['warm call p50 (Sandbox.call, noop)', fmtUs(median(warm)), vsFloor(median(warm)), '≤ 1.5× floor', check(median(warm) <= 1.5 * floor)]);
  rows.push(['warm call p99', fmtUs(percentile(warm, 99)), vsFloor(percentile(warm, 99)), '', '']);
  // The rest of the end-to-end time is the completion's trip to the JS thread.
  rows.push(['warm call: core submit → result p50', fmtUs(median(core)), vsFloor(median(core)), '', '']);
  await noop.close();

  for (const [label, def, target] of [
    ['4-node diamond', diamond(), undefined],
    ['11-node DAG', eleven(), 1.5],
  ] as const) {
    const app = await loadApp(def, resolveOpts);
    const inVm: number[] = [];
    await timeEach(() => app.run(empty), 200);
    const e2e = await timeEach(async () => inVm.push((await app.run(empty)).dagNs), 5000, slice);
    const p50 = median(e2e);
    rows.push([`${label}: in-VM DAG p50`, fmtUs(median(inVm)), vsFloor(median(inVm)), '', '']);
    rows.push([
      `${label}: end-to-end p50 (App.run)`,
      fmtUs(p50),
      vsFloor(p50),
      target ? `≤ ${target}× floor` : '',
      target ? check(p50 <= target * floor) : '',
    ]);
    rows.push([`${label}: end-to-end p99`, fmtUs(percentile(e2e, 99)), vsFloor(percentile(e2e, 99)), '', '']);
    if (label === '11-node DAG') {
      const mem = app.stats().memory[0].privateBytes;
      rows.push(['private memory per 11-node instance', fmtKiB(mem), '', '≤ 512 KiB', check(mem <= 512 * 1024)]);
    }
    await app.close();
  }

  // Reset cost: the same dirtying function with and without the reset.
  const perCall: Record<string, number> = {};
  for (const state of ['reset', 'keep'] as const) {
    const app = await loadApp(single('counter', { state }), resolveOpts);
    await timeEach(() => app.run(empty), 100);
    perCall[state] = median(await timeEach(() => app.run(empty), 3000, slice / 2));
    await app.close();
  }
  const reset = perCall.reset - perCall.keep;
  rows.push(['reset cost (call with reset − with keep)', fmtUs(reset), vsFloor(reset), '', '']);

  // Teardown is outside the timed span and awaited, so it never overlaps the next load.
  const cold: number[] = [];
  for (let i = 0; i < 60 && !ctx.overBudget(0.75); i++) {
    const t = process.hrtime.bigint();
    const sb = await Sandbox.load(fixture('noop'));
    await sb.call(empty);
    cold.push(Number(process.hrtime.bigint() - t));
    await sb.close();
  }
  rows.push(['cold: load → first result p50 (1 function)', fmtUs(median(cold)), vsFloor(median(cold)), '≤ 1 ms', check(median(cold) <= 1e6)]);

  const cold4: number[] = [];
  const cold4Core: number[] = [];
  for (let i = 0; i < 30 && !ctx.overBudget(0.9); i++) {
    const t = process.hrtime.bigint();
    const app = await loadApp(diamond(), resolveOpts);
    await app.run(empty);
    cold4.push(Number(process.hrtime.bigint() - t));
    cold4Core.push(app.stats().instanceColdStartUs[0] * 1000);
    await app.close();
  }
  rows.push(['cold: 4-node app load → first result p50', fmtUs(median(cold4)), vsFloor(median(cold4)), '≤ 2 ms', check(median(cold4) <= 2e6)]);
  rows.push(['cold: 4-node instance create (core) p50', fmtUs(median(cold4Core)), vsFloor(median(cold4Core)), '', '']);
  rows.push(['private memory of an idle sandbox', fmtKiB(idle), '', '≤ 256 KiB', check(idle <= 256 * 1024)]);

  printTable(`core (floor measured in this run: ${fmtUs(floor)})`, ['measure', 'value', 'vs floor', 'target', 'met'], rows);
}
