/**
 * The three workloads, each an Ataru app definition plus what the peers need
 * to run the same work: the C sources of its functions (compiled for every
 * peer target from the same files Ataru's functions are built from), the
 * request, the expected output (from TypeScript, independent of the C), and
 * the algorithm in JavaScript for the Node `vm` peer.
 */
import { join } from 'node:path';
import { DEFAULTS, type AppDefinition, type Edge, type FunctionRef, type NodeDef } from '../../src/app/model.js';
import { sobelEdges, WIDTH, HEIGHT } from '../../examples/sobel/reference.js';
import { fixturesBuildDir, fixturesDir } from '../../test/fixtures/functions/fixtures.js';
import { randomBytes } from '../../test/helpers/random.js';
import { fnv1a64 } from './answer.js';
import { JS_FNV, JS_NOOP, JS_SOBEL } from './js-algorithms.js';
import { repoRoot } from './paths.js';

export type WorkloadId = 'noop' | 'fnv' | 'sobel';
export const WORKLOAD_IDS: WorkloadId[] = ['noop', 'fnv', 'sobel'];

/** One function binary of the app, and the C it is built from. */
export interface PeerFunction {
  ref: FunctionRef;
  sources: string[];
}

export interface Workload {
  id: WorkloadId;
  label: string;
  input: Buffer;
  expected: Buffer;
  /** The app as Ataru runs it (state/instances are set per system). */
  def: AppDefinition;
  /** Unique functions; node k runs functions[nodeFunction[k]]. */
  functions: PeerFunction[];
  nodeFunction: number[];
  /** exec[0]: linked into every peer build as ordinary code. */
  shared?: PeerFunction;
  includes: string[];
  /** `make` invocations that build the ELFs Ataru loads (dir, targets). */
  makes: { dir: string; targets: string[] }[];
  /** JavaScript for the vm peer: a function expression (input) => output. */
  js: string;
}

/** A 128×128 test image with edges worth finding: a gradient, a disc, a
 * bar and some noise. */
export function testImage(): Buffer {
  const noise = randomBytes(WIDTH * HEIGHT, 7);
  const img = Buffer.alloc(WIDTH * HEIGHT);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      let v = x + y;
      if ((x - 64) ** 2 + (y - 60) ** 2 < 30 ** 2) v = 220;
      if (x > 20 && x < 40 && y > 90 && y < 120) v = 10;
      img[y * WIDTH + x] = Math.min(255, v + (noise[y * WIDTH + x]! & 15));
    }
  }
  return img;
}

function appDef(name: string, msgLen: number, nodes: NodeDef[], edges: Edge[], shared?: FunctionRef): AppDefinition {
  return { ...DEFAULTS, name, msg_len: msgLen, nodes, edges, shared };
}

function node(id: string, ref: FunctionRef, inp_off: number, out_off: number): NodeDef {
  return { id, function: ref, inp_off, out_off };
}

function single(id: 'noop' | 'fnv', label: string, input: Buffer, expected: Buffer, js: string): Workload {
  const ref = { path: fixturesBuildDir, name: `${id}.elf` };
  return {
    id,
    label,
    input,
    expected,
    def: appDef(`peers-${id}`, input.length, [node(id, ref, 0, 0)], []),
    functions: [{ ref, sources: [join(fixturesDir, `${id}.c`)] }],
    nodeFunction: [0],
    includes: [],
    makes: [{ dir: fixturesDir, targets: [`build/${id}.elf`] }],
    js,
  };
}

function noop(): Workload {
  const input = randomBytes(64, 1);
  return single('noop', 'no-op (64 B in, 0 B out)', input, Buffer.alloc(0), JS_NOOP);
}

function fnv(): Workload {
  const input = randomBytes(4096, 2);
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(fnv1a64(input));
  return single('fnv', 'FNV-1a 64 of 4 KiB', input, out, JS_FNV);
}

/* The sobel app's shared-region map, as examples/sobel/host.c and its
 * template: image at 0, smoothed at 16 KiB, gx at 32 KiB, gy at 64 KiB
 * (magnitude reads both from gx's offset), edges at 96 KiB. */
const SOBEL_MAP: { name: string; inp: number; out: number }[] = [
  { name: 'smooth', inp: 0, out: 16384 },
  { name: 'gradx', inp: 16384, out: 32768 },
  { name: 'grady', inp: 16384, out: 65536 },
  { name: 'magnitude', inp: 32768, out: 98304 },
];

function sobel(): Workload {
  const dir = join(repoRoot, 'examples', 'sobel');
  const input = testImage();
  const functions = SOBEL_MAP.map((n) => ({
    ref: { path: join(dir, 'build'), name: `${n.name}.elf` },
    sources: [join(dir, `${n.name}.c`)],
  }));
  const shared = {
    ref: { path: join(dir, 'build', 'shared'), name: 'imageops.so' },
    sources: [join(dir, 'shared', 'imageops.c')],
  };
  const nodes = SOBEL_MAP.map((n, k) => node(n.name, functions[k]!.ref, n.inp, n.out));
  const edges = [
    { from: 0, to: 1 },
    { from: 0, to: 2 },
    { from: 1, to: 3 },
    { from: 2, to: 3 },
  ];
  return {
    id: 'sobel',
    label: 'sobel 4-node app, 128×128',
    input,
    expected: Buffer.from(sobelEdges(input)),
    def: appDef('peers-sobel', input.length, nodes, edges, shared.ref),
    functions,
    nodeFunction: [0, 1, 2, 3],
    shared,
    includes: [dir],
    makes: [{ dir, targets: ['all'] }],
    js: JS_SOBEL,
  };
}

export function workloads(ids: readonly WorkloadId[]): Workload[] {
  const all = { noop, fnv, sobel };
  return ids.map((id) => all[id]());
}
