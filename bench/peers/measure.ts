/**
 * The measurement schedule. Every figure is a median over rounds; within a
 * round every (system, workload) cell is visited once, in an order rotated
 * from round to round, so machine drift affects all systems alike. A cell
 * whose answer differs from the expected output is never measured.
 */
import { answerOf, checkAnswer, WrongAnswerError } from './answer.js';
import type { BuildResult } from './build.js';
import { percentile } from './stats.js';
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
  /** Every request's latency, all rounds pooled (for p99: slow systems
   * have too few requests per round for a per-round p99). */
  all: number[];
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
  /** Date.now() after which no further round starts (bounds a run on a
   * loaded machine, where slow systems overrun their slices). */
  roundsDeadline: number;
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

/** A step that takes longer than this marks its cell failed (a hung system
 * must not hang the run). */
const STEP_TIMEOUT_MS = 60_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function guarded(l: Live, f: (c: Cell) => Promise<void>): Promise<void> {
  if (l.res.status !== 'ok' || !l.cell) return;
  try {
    await withTimeout(f(l.cell), STEP_TIMEOUT_MS, `${l.res.system.id}/${l.res.workload.id}`);
  } catch (e) {
    fail(l, e instanceof WrongAnswerError ? 'wrong answer' : 'failed', e);
  }
}

export async function measure(
  systems: readonly PeerSystem[],
  items: readonly { workload: Workload; build: BuildResult }[],
  plan: Plan,
  progress: Progress,
): Promise<{ results: CellResult[]; rounds: number }> {
  const live: Live[] = [];
  for (const { workload } of items) {
    for (const system of systems) {
      if (system.id === 'floor' && workload.id !== 'noop') continue; // one floor for all
      live.push({
        res: { system, workload, status: 'ok', p50: [], all: [], thr1: [], thr2: [], cold: [], memory: [], requests: 0 },
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
      const why = await withTimeout(
        Promise.resolve(system.unavailable(workload, buildOf(workload))),
        STEP_TIMEOUT_MS,
        `${system.id}: availability check`,
      );
      if (why) {
        l.res.status = 'unavailable';
        l.res.reason = why;
        continue;
      }
      l.cell = await withTimeout(system.open(workload, buildOf(workload)), STEP_TIMEOUT_MS, `${system.id}/${workload.id}: open`);
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
  let rounds = 0;
  for (let r = 0; r < plan.rounds; r++) {
    if (Date.now() > plan.roundsDeadline) {
      for (let i = 0; i < tasksPerRound; i++) progress.tick(`round ${r + 1}/${plan.rounds}: skipped (time is up)`);
      continue;
    }
    rounds++;
    const order = live.map((_, i) => live[(i + r * 7) % live.length]!);
    if (r % 2) order.reverse();
    for (const l of order) {
      progress.tick(`round ${r + 1}/${plan.rounds}: ${l.res.system.id}/${l.res.workload.id} latency`);
      await guarded(l, async (c) => {
        const s = await c.latency(plan.maxCalls, sliceMs);
        l.res.p50.push(percentile(s.us, 50));
        if (s.mediansOnly) return;
        for (const x of s.us) l.res.all.push(x);
        if (s.us.length > 0 && s.elapsedMs > 0) l.res.thr1.push(s.us.length / (s.elapsedMs / 1000));
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

  // Memory (not timing-sensitive: probes run 3 at a time), then a last
  // answer check (wrong work at the end voids the figures too), and close.
  const queue = [...live];
  const worker = async () => {
    for (let l = queue.shift(); l; l = queue.shift()) {
      const cur = l;
      await guarded(cur, async (c) => {
        for (let i = 0; c.memory && i < plan.memoryRuns; i++) cur.res.memory.push(await c.memory());
      });
      progress.tick(`${cur.res.system.id}/${cur.res.workload.id}: memory`);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  for (const l of live) {
    await guarded(l, async (c) =>
      checkAnswer(l.res.system.label, l.res.workload.id, answerOf(l.res.workload.expected), await c.answer()),
    );
    try {
      if (l.cell) await withTimeout(l.cell.close(), 10_000, 'close');
    } catch {
      // closing is best effort; run.ts exits explicitly
    }
  }
  progress.stop();
  return { results: live.map((l) => l.res), rounds };
}
