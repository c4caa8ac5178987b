/**
 * npm run bench:peers — Ataru against what a user would pick instead: the
 * same three workloads (no-op, FNV-1a 64 of 4 KiB, the 4-node sobel app)
 * through Ataru, the bare KVM exit floor, native C, a process per request,
 * Node vm, WebAssembly and a QEMU microvm per request. Prints the tables and
 * writes Markdown, JSON and SVG charts to bench/results/. Never asserts
 * timings.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { buildWorkload, type Target } from './build.js';
import { describeMachine } from './machine.js';
import { measure, type Progress } from './measure.js';
import { parseOptions, USAGE } from './options.js';
import { resultsDir } from './paths.js';
import { latencyChart, throughputChart } from './report/charts.js';
import { markdownReport, workloadTable } from './report/markdown.js';
import { summarize } from './report/summary.js';
import { ALL_SYSTEMS, systemLabels } from './systems/index.js';
import { workloads } from './workloads.js';
import { kvmGate } from '../kvm-gate.js';

function progressBar(): Progress {
  const bar = new cliProgress.SingleBar(
    {
      format: 'bench:peers [{bar}] {percentage}% {value}/{total} {task}',
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    start: (total) => bar.start(total, 0, { task: '' }),
    tick: (task) => bar.increment(1, { task }),
    stop: () => bar.stop(),
  };
}

async function main(): Promise<void> {
  process.env.ATARU_LOG_LEVEL ??= 'warn'; // before the runtime is imported: keep stdout for the tables
  const opts = parseOptions(process.argv.slice(2));
  kvmGate('npm run bench:peers');
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const t0 = Date.now();
  const systems = ALL_SYSTEMS.filter((s) => !opts.systems || opts.systems.includes(s.id));
  const unknown = (opts.systems ?? []).filter((id) => !ALL_SYSTEMS.some((s) => s.id === id));
  if (unknown.length) throw new Error(`unknown system ${unknown.join(', ')}`);

  const targets = new Set<Target>(systems.flatMap((s) => s.targets));
  const ws = workloads(opts.workloads);
  process.stderr.write(`bench:peers: building ${ws.map((w) => w.id).join(', ')} for ${[...targets].join(', ')}\n`);
  const items = ws.map((workload) => ({ workload, build: buildWorkload(workload, targets) }));

  const { results, rounds } = await measure(
    systems,
    items,
    {
      rounds: opts.rounds,
      budgetMs: opts.budgetMs,
      warmMs: opts.quick ? 50 : 250,
      memoryRuns: opts.quick ? 1 : 3,
      maxCalls: 200_000,
      roundsDeadline: t0 + (opts.quick ? 40_000 : 230_000),
    },
    progressBar(),
  );

  const labels = systemLabels();
  const systemIds = ALL_SYSTEMS.map((s) => s.id);
  const tables = summarize(results, labels, systemIds);
  const machine = describeMachine();
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const outDir = opts.outDir ?? resultsDir;
  mkdirSync(outDir, { recursive: true });
  const charts = ['peers-latency.svg', 'peers-throughput.svg'];
  writeFileSync(join(outDir, charts[0]!), latencyChart(tables, systemIds));
  writeFileSync(join(outDir, charts[1]!), throughputChart(tables, systemIds));
  const meta = {
    machine,
    date,
    mode: opts.quick ? 'quick' : 'full',
    rounds,
    durationS: (Date.now() - t0) / 1000,
    notes: systems.map((s) => ({ label: labels[s.id] ?? s.label, note: s.note })),
    charts,
  };
  writeFileSync(join(outDir, 'peers.md'), markdownReport(tables, meta));
  writeFileSync(join(outDir, 'peers.json'), JSON.stringify({ ...meta, tables }, null, 2) + '\n');

  for (const t of tables) console.log(`\n## ${t.label}\n\n${workloadTable(t)}`);
  console.log(`\n${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, node ${machine.node}, ${machine.kvm}; ${date}`);
  console.log(`results: ${join(outDir, 'peers.md')} (+ peers.json, ${charts.join(', ')}); ${Math.round(meta.durationS)} s`);
}

// Exit explicitly: a system that hung (and was reported as failed) may
// still hold handles.
main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench:peers: ${(e as Error).message}`);
    process.exit(1);
  },
);
