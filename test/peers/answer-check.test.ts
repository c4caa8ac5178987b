/**
 * bench:peers refuses to report a system whose answer differs, and its
 * answers are computed the same way everywhere.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import vm from 'node:vm';
import { answerOf, checkAnswer, fnv1a64, parseAnswerLine, WrongAnswerError } from '../../bench/peers/answer.js';
import { measure, type Plan, type Progress } from '../../bench/peers/measure.js';
import { workloadTable } from '../../bench/peers/report/markdown.js';
import { summarize } from '../../bench/peers/report/summary.js';
import type { Cell, PeerSystem } from '../../bench/peers/systems/types.js';
import { JS_FNV } from '../../bench/peers/js-algorithms.js';
import { workloads } from '../../bench/peers/workloads.js';
import type { BuildResult } from '../../bench/peers/build.js';
import { randomBytes } from '../helpers/random.js';

const silent: Progress = { start() {}, tick() {}, stop() {} };

/** A plan of `rounds` rounds that measures next to nothing: these tests are about answers. */
function quickPlan(rounds: number): Plan {
  return { rounds, budgetMs: 10, warmMs: 1, memoryRuns: 0, maxCalls: 10, roundsDeadline: Date.now() + 60_000 };
}

function fakeSystem(id: string, output: () => Buffer): PeerSystem {
  return {
    id,
    label: `fake ${id}`,
    note: 'test double',
    targets: [],
    unavailable: () => undefined,
    async open(): Promise<Cell> {
      return {
        answer: async () => answerOf(output()),
        latency: async () => ({ us: [1, 2, 3], elapsedMs: 0.006 }),
        throughput: async () => 1000,
        close: async () => {},
      };
    },
  };
}

test('FNV-1a 64 matches the published test vectors', () => {
  assert.equal(fnv1a64(Buffer.alloc(0)), 0xcbf29ce484222325n);
  assert.equal(fnv1a64(Buffer.from('a')), 0xaf63dc4c8601ec8cn);
  assert.equal(fnv1a64(Buffer.from('foobar')), 0x85944171f73967e8n);
});

test('checkAnswer accepts the same output and rejects a different one', () => {
  const good = Buffer.from('edges');
  checkAnswer('x', 'w', answerOf(good), Buffer.from('edges'));
  assert.throws(() => checkAnswer('x', 'w', answerOf(good), Buffer.from('edgez')), WrongAnswerError);
  assert.throws(() => checkAnswer('x', 'w', answerOf(good), Buffer.from('edges!')), WrongAnswerError);
});

test('answer lines of the C harnesses parse, garbage does not', () => {
  assert.deepEqual(parseAnswerLine('8 95da56a1685227a6'), { length: 8, digest: '95da56a1685227a6' });
  assert.equal(parseAnswerLine('error'), undefined);
});

test('a system with a wrong answer is measured for nothing and not reported', async () => {
  const [w] = workloads(['fnv']);
  const build: BuildResult = { dir: '', inputFile: '', paths: {}, errors: {} };
  const right = fakeSystem('right', () => w!.expected);
  const wrong = fakeSystem('wrong', () => Buffer.from(w!.expected.map((b) => b ^ 1)));
  const { results } = await measure([right, wrong], [{ workload: w!, build }], quickPlan(2), silent);
  const byId = Object.fromEntries(results.map((r) => [r.system.id, r]));
  assert.equal(byId.right!.status, 'ok');
  assert.equal(byId.right!.p50.length, 2);
  assert.equal(byId.wrong!.status, 'wrong answer');
  assert.equal(byId.wrong!.p50.length, 0);
  const [table] = summarize(results);
  const wrongRow = table!.rows.find((r) => r.systemId === 'wrong')!;
  assert.equal(wrongRow.p50, undefined);
  assert.match(workloadTable(table!), /fake wrong \| \*\*not reported: wrong answer\*\*/);
});

test('a system that answers wrongly mid-run loses all its figures', async () => {
  const [w] = workloads(['noop']);
  const build: BuildResult = { dir: '', inputFile: '', paths: {}, errors: {} };
  let calls = 0;
  const flaky: PeerSystem = {
    ...fakeSystem('flaky', () => w!.expected),
    async open(): Promise<Cell> {
      return {
        answer: async () => answerOf(w!.expected),
        latency: async () => {
          if (++calls === 3) throw new WrongAnswerError('flaky', 'noop', answerOf(w!.expected), answerOf(Buffer.from('x')));
          return { us: [1], elapsedMs: 0.001 };
        },
        close: async () => {},
      };
    },
  };
  const { results } = await measure([flaky], [{ workload: w!, build }], quickPlan(3), silent);
  assert.equal(results[0]!.status, 'wrong answer');
  assert.equal(summarize(results)[0]!.rows[0]!.p50, undefined);
});

test('the JavaScript FNV in a vm context gives the C answer', () => {
  const input = randomBytes(4096, 2);
  const out = new vm.Script(`${JS_FNV}(input)`).runInContext(vm.createContext({ input })) as Uint8Array;
  assert.equal(Buffer.from(out).readBigUInt64LE(), fnv1a64(input));
});
