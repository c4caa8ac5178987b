/**
 * The compatibility corpus: templates written the way the original's users
 * wrote them (corpus/*.tmpl, absolute paths to the functions folder as
 * @FUNCTIONS@), and for each the answer it must give, computed here from
 * what the fixture functions do (test/fixtures/functions/*.c), not by Ataru.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFixtures, fixture, fixturesBuildDir } from '../fixtures/functions/fixtures.js';

export const corpusDir = join(dirname(fileURLToPath(import.meta.url)), 'corpus');

// What the fixture functions compute.
const add1 = (b: Buffer) => Buffer.from(b.map((c) => (c + 1) & 0xff));
const uppercase = (b: Buffer) => Buffer.from(b.map((c) => (c >= 0x61 && c <= 0x7a ? c - 32 : c)));
const u64 = (...v: bigint[]) => {
  const out = Buffer.alloc(8 * v.length);
  v.forEach((x, i) => out.writeBigUInt64LE(BigInt.asUintN(64, x), 8 * i));
  return out;
};
const byteSum = (b: Buffer) => b.reduce((s, c) => s + BigInt(c), 0n);
const sum = (b: Buffer) => u64(byteSum(b));
/** useslib.elf: sum of (i + 1) * in[i], then how often the library was called in this request. */
const weight = (b: Buffer) => b.reduce((s, c, i) => s + BigInt(i + 1) * BigInt(c), 0n);
const times = (f: (b: Buffer) => Buffer, n: number) => (b: Buffer) => Array.from({ length: n }).reduce<Buffer>((x) => f(x), b);

export interface CorpusCase {
  /** The template file in corpus/. */
  file: string;
  /** The app name the template gives. */
  app: string;
  msgLen: number;
  pktcnt: number;
  /** The reply to one request (the sink outputs in node order). */
  expect(input: Buffer): Buffer;
  /** Requests per form; the 2 MiB case sends fewer. */
  requests?: number;
}

export const corpus: CorpusCase[] = [
  { file: 'exec0-as-node.tmpl', app: 'exec0_as_node', msgLen: 64, pktcnt: 0, expect: times(add1, 2) },
  { file: 'one-file-everywhere.tmpl', app: 'one_file_everywhere', msgLen: 64, pktcnt: 0, expect: times(add1, 3) },
  { file: 'identical-copies.tmpl', app: 'identical_copies', msgLen: 64, pktcnt: 0, expect: times(add1, 3) },
  {
    file: 'shared-library.tmpl',
    app: 'shared_library',
    msgLen: 64,
    pktcnt: 0,
    // The second function reads the first one's 16 bytes; one library instance serves both (2 calls).
    expect: (b) => u64(weight(u64(weight(b), 1n)), 2n),
  },
  {
    file: 'largest-dag.tmpl',
    app: 'largest_dag',
    msgLen: 64,
    pktcnt: 0,
    // 62 sums of add1(x) as u64 LE, summed byte by byte by the fan-in node.
    expect: (b) => u64(62n * byteSum(sum(add1(b)))),
  },
  { file: 'msg-len-at-limit.tmpl', app: 'msg_len_at_limit', msgLen: 2 * 1024 * 1024, pktcnt: 0, expect: sum, requests: 2 },
  { file: 'pktcnt-one.tmpl', app: 'pktcnt_one', msgLen: 16, pktcnt: 1, expect: uppercase },
  { file: 'template-syntax.tmpl', app: 'template_syntax', msgLen: 48, pktcnt: 4, expect: (b) => Buffer.concat([add1(b), uppercase(b)]) },
  { file: 'dag-padded.tmpl', app: 'dag_padded', msgLen: 64, pktcnt: 0, expect: (b) => sum(uppercase(add1(b))) },
  { file: 'name-with-folder.tmpl', app: 'name_with_folder', msgLen: 64, pktcnt: 0, expect: (b) => add1(uppercase(b)) },
  { file: 'seed-layout-no-shared.tmpl', app: 'seed_layout_no_shared', msgLen: 16, pktcnt: 0, expect: uppercase },
  { file: 'field-order.tmpl', app: 'field_order', msgLen: 64, pktcnt: 0, expect: times(add1, 24) },
  { file: 'trailing-slash.tmpl', app: 'trailing_slash', msgLen: 64, pktcnt: 0, expect: (b) => uppercase(times(add1, 2)(b)) },
];

/**
 * The functions folder the templates point at, made in `dir`: fixtures
 * copied in, some under a second name (identical bytes), some in sub/.
 */
export function makeFunctionsFolder(dir: string): void {
  buildFixtures();
  mkdirSync(join(dir, 'sub'), { recursive: true });
  const copy = (from: string, to: string) => copyFileSync(from, join(dir, to));
  for (const f of ['add1', 'echo', 'sum', 'uppercase', 'useslib']) copy(fixture(f), `${f}.elf`);
  copy(fixture('add1'), 'plusone.elf');
  copy(fixture('add1'), 'inc.elf');
  copy(fixture('useslib'), 'useslib-copy.elf');
  copy(join(fixturesBuildDir, 'libhelper.so'), 'libhelper.so');
  copy(fixture('uppercase'), 'sub/uppercase.elf');
  copy(fixture('echo'), 'sub/echo.elf');
}

/** A corpus template with its placeholders filled. */
export function template(file: string, vars: Record<string, string>): string {
  let text = readFileSync(join(corpusDir, file), 'utf8');
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`@${k}@`, v);
  return text;
}

