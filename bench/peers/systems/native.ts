/**
 * The compute baseline: the same C functions called natively in a loop by a
 * small C harness (c/native_main.c), which times each call itself. No
 * isolation, no start-up: what the work alone costs on this CPU.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAnswerLine, type Answer } from '../answer.js';
import type { BuildResult } from '../build.js';
import type { Workload } from '../workloads.js';
import type { Cell, LatencySample, PeerSystem } from './types.js';

const exec = promisify(execFile);

interface HarnessRun {
  answer?: Answer;
  answerLine: string;
  calls: number;
  elapsedNs: number;
  timesNs: number[];
}

async function harness(bin: string, input: string, maxCalls: number, maxMs: number): Promise<HarnessRun> {
  const { stdout } = await exec(bin, [input, String(maxCalls), String(Math.ceil(maxMs))], { maxBuffer: 1 << 28 });
  const lines = stdout.split('\n');
  const answerLine = (lines[0] ?? '').replace(/^ANSWER /, '');
  const [, calls, elapsed, mismatches] = (lines[1] ?? '').split(' ');
  if (Number(mismatches ?? 0) > 0) throw new Error(`native harness: ${mismatches} calls answered differently from the first`);
  return {
    answer: parseAnswerLine(answerLine),
    answerLine,
    calls: Number(calls ?? 0),
    elapsedNs: Number(elapsed ?? 0),
    timesNs: lines.slice(2, 2 + Number(calls ?? 0)).map(Number),
  };
}

export const nativeSystem: PeerSystem = {
  id: 'native',
  label: 'native C, in-process',
  note: 'the same C functions and DAG order called in a loop by a C harness (no isolation); per-call times from clock_gettime; c=2 is two harness processes',
  targets: ['native'],
  unavailable: (_w, b) => b.errors.native,
  async open(_w: Workload, b: BuildResult): Promise<Cell> {
    const bin = b.paths.native!;
    return {
      async answer() {
        const r = await harness(bin, b.inputFile, 0, 0);
        if (!r.answer) throw new Error(`native harness answered "${r.answerLine}"`);
        return r.answer;
      },
      async latency(maxCalls, maxMs): Promise<LatencySample> {
        const r = await harness(bin, b.inputFile, maxCalls, maxMs);
        return { us: r.timesNs.map((ns) => ns / 1000), elapsedMs: r.elapsedNs / 1e6 };
      },
      async throughput(concurrency, ms) {
        const runs = await Promise.all(
          Array.from({ length: concurrency }, () => harness(bin, b.inputFile, 50_000_000, ms)),
        );
        return runs.reduce((s, r) => s + (r.elapsedNs > 0 ? r.calls / (r.elapsedNs / 1e9) : 0), 0);
      },
      async close() {},
    };
  },
};
