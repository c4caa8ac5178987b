/**
 * Parallel branches: a diamond whose two middle nodes each compute ~5 ms,
 * on 1 and on 2 vCPUs in the same run. The 2-vCPU instance only wakes its
 * worker once history says spreading pays, so both warm up first. Also the
 * no-op diamond on 1 and 2 vCPUs: spreading must not slow it down.
 */
import { basename, dirname } from 'node:path';
import { loadApp } from '../../src/runtime/app.js';
import { DEFAULTS, type AppDefinition } from '../../src/app/model.js';
import { fmtRatio, fmtUs, median, printTable, timeEach, type BenchContext } from '../lib.js';
import { diamond, fixture, resolveOpts } from './dags.js';

const BURN_MS = 5;

/** echo -> (burn, burn) -> original3: the burns read echo's copy of the input. */
function burnDiamond(vcpus: number): AppDefinition {
  const fn = (name: string) => ({ path: dirname(fixture(name)), name: basename(fixture(name)) });
  return {
    ...DEFAULTS,
    name: `burn-diamond-${vcpus}`,
    msg_len: 1,
    instances: 1,
    vcpus,
    nodes: [
      { id: 'split', function: fn('echo'), inp_off: 0, out_off: 0x1000 },
      { id: 'left', function: fn('burn'), inp_off: 0x1000, out_off: 0x2000 },
      { id: 'right', function: fn('burn'), inp_off: 0x1000, out_off: 0x2004 },
      { id: 'join', function: fn('original3'), inp_off: 0x2000, out_off: 0x3000 },
    ],
    edges: [
      { from: 0, to: 1 },
      { from: 0, to: 2 },
      { from: 1, to: 3 },
      { from: 2, to: 3 },
    ],
  };
}

export async function run(ctx: BenchContext): Promise<void> {
  const rows: string[][] = [];
  const input = Buffer.from([BURN_MS]);
  const burn: Record<number, number> = {};
  for (const vcpus of [1, 2]) {
    const app = await loadApp(burnDiamond(vcpus), resolveOpts);
    await timeEach(() => app.run(input), 5); // history for the spreading decision
    burn[vcpus] = median(await timeEach(() => app.run(input), 15, ctx.budgetMs / 4));
    await app.close();
  }
  rows.push([`two ~${BURN_MS} ms branches, 1 vCPU`, fmtUs(burn[1]), '1.00×', '']);
  rows.push([`two ~${BURN_MS} ms branches, 2 vCPUs`, fmtUs(burn[2]), fmtRatio(burn[1] / burn[2]), '≈ 2× on 2 idle cores']);

  const noop: Record<number, number> = {};
  for (const vcpus of [1, 2]) {
    const app = await loadApp(diamond({ vcpus }), resolveOpts);
    await timeEach(() => app.run(Buffer.alloc(0)), 200);
    noop[vcpus] = median(await timeEach(() => app.run(Buffer.alloc(0)), 3000, ctx.budgetMs / 8));
    await app.close();
  }
  rows.push(['no-op diamond, 1 vCPU', fmtUs(noop[1]), '1.00×', '']);
  rows.push(['no-op diamond, 2 vCPUs', fmtUs(noop[2]), fmtRatio(noop[1] / noop[2]), 'not slower (≥ ~1×)']);
  printTable('parallel branches (speed-up = 1 vCPU time / this time)', ['measure', 'p50', 'speed-up', 'target'], rows);
}
