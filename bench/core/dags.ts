/** The no-op apps the core benchmarks run. */
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULTS, type AppDefinition } from '../../src/app/model.js';
import type { LoadOptions } from '../../src/runtime/types.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'functions', 'build');
export const fixture = (name: string): string => join(fixtures, `${name}.elf`);
export const resolveOpts: LoadOptions = { resolve: (ref) => join(ref.path, ref.name) };

function noopApp(name: string, n: number, edges: [number, number][], extra: Partial<AppDefinition> = {}): AppDefinition {
  const elf = fixture('noop');
  return {
    ...DEFAULTS,
    name,
    msg_len: 64,
    instances: 1,
    nodes: Array.from({ length: n }, (_, k) => ({
      id: `n${k}`,
      function: { path: dirname(elf), name: basename(elf) },
      inp_off: 0,
      out_off: 0x1000 * (k + 1),
    })),
    edges: edges.map(([from, to]) => ({ from, to })),
    ...extra,
  };
}

/** 0 -> (1, 2) -> 3 */
export const diamond = (extra?: Partial<AppDefinition>): AppDefinition =>
  noopApp('diamond4', 4, [[0, 1], [0, 2], [1, 3], [2, 3]], extra);

/** 11 nodes as the original's benchmark: 0 -> (1..9) -> 10 */
export const eleven = (extra?: Partial<AppDefinition>): AppDefinition => {
  const edges: [number, number][] = [];
  for (let k = 1; k <= 9; k++) edges.push([0, k], [k, 10]);
  return noopApp('noop11', 11, edges, extra);
};

/** One function as a one-node app. */
export const single = (name: string, extra?: Partial<AppDefinition>): AppDefinition => {
  const elf = fixture(name);
  return { ...noopApp(name, 1, [], extra), nodes: [{ id: name, function: { path: dirname(elf), name: basename(elf) }, inp_off: 0, out_off: 0x1000 }] };
};
