/** Command-line options of bench:peers. */
import { WORKLOAD_IDS, type WorkloadId } from './workloads.js';

export interface Options {
  quick: boolean;
  systems?: string[];
  workloads: WorkloadId[];
  rounds: number;
  budgetMs: number;
  outDir?: string;
  help: boolean;
}

export const USAGE = `usage: npm run bench:peers -- [--quick] [--systems a,b] [--workloads noop,fnv,sobel]
                           [--rounds N] [--seconds S] [--out DIR]
  --quick       a short pass (under a minute): 3 rounds, ~15 s of timed work
  --systems     only these systems (ids: ataru, ataru-keep, ataru-e2e, floor,
                native, spawn, vm, wasm, qemu)
  --seconds     time for the timed rounds (default 180, quick 15)
  --out         results folder (default bench/results)`;

export function parseOptions(argv: readonly string[]): Options {
  const o: Options = { quick: false, workloads: [...WORKLOAD_IDS], rounds: 0, budgetMs: 0, help: false };
  let seconds = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--quick':
        o.quick = true;
        break;
      case '--systems':
        o.systems = value().split(',').filter(Boolean);
        break;
      case '--workloads': {
        const ws = value().split(',').filter(Boolean);
        const bad = ws.filter((w) => !WORKLOAD_IDS.includes(w as WorkloadId));
        if (bad.length) throw new Error(`unknown workload ${bad.join(', ')} (known: ${WORKLOAD_IDS.join(', ')})`);
        o.workloads = ws as WorkloadId[];
        break;
      }
      case '--rounds':
        o.rounds = Number(value());
        break;
      case '--seconds':
        seconds = Number(value());
        break;
      case '--out':
        o.outDir = value();
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  if (!o.rounds) o.rounds = o.quick ? 3 : 5;
  o.budgetMs = (seconds || (o.quick ? 15 : 180)) * 1000;
  return o;
}
