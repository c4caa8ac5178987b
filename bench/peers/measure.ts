/**
 * The measurement schedule. Every figure is a median over rounds; within a
 * round every (system, workload) cell is visited once, in an order rotated
 * from round to round, so machine drift affects all systems alike. A cell
 * whose answer differs from the expected output is never measured.
 */
import { answerOf, checkAnswer, WrongAnswerError } from './answer.js';
import type { BuildResult } from './build.js';
import { percentile, sortedCopy } from './stats.js';
import type { Cell, PeerSystem } from './systems/types.js';
import type { Workload } from './workloads.js';

export type CellStatus = 'ok' | 'unavailable' | 'wrong answer' | 'failed';

export interface CellResult {
  system: PeerSystem;
  workload: Workload;
  status: CellStatus;
  reason?: string;
  /** One value per round. */
  p50: number[];
  p99: number[];
  thr1: number[];
  thr2: number[];
  cold: number[];
  memory: number[];
  requests: number;
}

export interface Plan {
  rounds: number;
  /** Time for the timed rounds, ms (split evenly into slices). */
  budgetMs: number;
  warmMs: number;
  memoryRuns: number;
  maxCalls: number;
}

export interface Progress {
  start(total: number): void;
  tick(task: string): void;
  stop(): void;
}

interface Live {
  res: CellResult;
  cell?: Cell;
}

function fail(l: Live, status: CellStatus, e: unknown): void {
  l.res.status = status;
  l.res.reason = (e as Error).message ?? String(e);
}

async function guarded(l: Live, f: (c: Cell) => Promise<void>): Promise<void> {
  if (l.res.status !== 'ok' || !l.cell) return;
  try {
    await f(l.cell);
  } catch (e) {
    fail(l, e instanceof WrongAnswerError ? 'wrong answer' : 'failed', e);
  }
}

export async function measure(
  systems: readonly PeerSystem[],
  items: readonly { workload: Workload; build: BuildResult }[],
  plan: Plan,
  progress: Progress,
): Promise<CellResult[]> {
  const live: Live[] = [];
  for (const { workload, build } of items) {
    for (const system of systems) {
      if (system.id === 'floor' && workload.id !== 'noop') continue; // one floor for all
      live.push({
        res: { system, workload, status: 'ok', p50: [], p99: [], thr1: [], thr2: [], cold: [], memory: [], requests: 0 },
      });
    }
  }
  const buildOf = (w: Workload) => items.find((i) => i.workload === w)!.build;
  const tasksPerRound = live.length * 3;
  progress.start(live.length * 3 + plan.rounds * tasksPerRound);

  // Open, check the answer, warm up.
  for (const l of live) {
    const { system, workload } = l.res;
    progress.tick(`${system.id}/${workload.id}: open + answer check`);
    try {
      const why = await system.unavailable(workload, buildOf(workload));
      if (why) {
        l.res.status = 'unavailable';
        l.res.reason = why;
        continue;
      }
      l.cell = await system.open(workload, buildOf(workload));
    } catch (e) {
      fail(l, 'failed', e);
      continue;
    }
    await guarded(l, async (c) => checkAnswer(system.label, workload.id, answerOf(workload.expected), await c.answer()));
  }
  for (const l of live) {
    progress.tick(`${l.res.system.id}/${l.res.workload.id}: warm-up`);
    await guarded(l, async (c) => void (await c.latency(plan.maxCalls, plan.warmMs)));
  }

  const sliceMs = plan.budgetMs / plan.rounds / Math.max(1, live.length * 2);
  for (let r = 0; r < plan.rounds; r++) {
    const order = live.map((_, i) => live[(i + r * 7) % live.length]!);
    if (r % 2) order.reverse();
    for (const l of order) {
      progress.tick(`round ${r + 1}/${plan.rounds}: ${l.res.system.id}/${l.res.workload.id} latency`);
      await guarded(l, async (c) => {
        const s = await c.latency(plan.maxCalls, sliceMs);
        const xs = sortedCopy(s.us);
        l.res.p50.push(percentile(xs, 50));
        l.res.p99.push(xs.length >= 2 ? percentile(xs, 99) : NaN);
        if (s.us.length > 1) l.res.thr1.push(s.us.length / (s.elapsedMs / 1000));
        l.res.requests += s.us.length;
      });
    }
    for (const l of order) {
      progress.tick(`round ${r + 1}/${plan.rounds}: ${l.res.system.id}/${l.res.workload.id} concurrency 2`);
      await guarded(l, async (c) => {
        if (c.throughput) l.res.thr2.push(await c.throughput(2, sliceMs));
      });
    }
    for (const l of order) {
      progress.tick(`round ${r + 1}/${plan.rounds}: ${l.res.system.id}/${l.res.workload.id} cold start`);
      await guarded(l, async (c) => {
        if (c.cold) l.res.cold.push(await c.cold());
      });
    }
  }

  // Memory, a last answer check (wrong work at the end voids the figures
  // too), and close.
  for (const l of live) {
    progress.tick(`${l.res.system.id}/${l.res.workload.id}: memory`);
    await guarded(l, async (c) => {
      for (let i = 0; c.memory && i < plan.memoryRuns; i++) l.res.memory.push(await c.memory());
      checkAnswer(l.res.system.label, l.res.workload.id, answerOf(l.res.workload.expected), await c.answer());
    });
    try {
      await l.cell?.close();
    } catch {
      // closing is best effort
    }
  }
  progress.stop();
  return live.map((l) => l.res);
}
