/**
 * `npm run bench`: runs every bench module (bench/{core,server,sobel}/
 * *.bench.ts, see bench/lib.ts) each in its own process, within a total
 * budget (ATARU_BENCH_BUDGET_S, default 170 s). With `--module FILE` it runs
 * that one module in this process (how the runner starts each child).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeContext, type BenchModule } from './lib.js';
import { kvmGate } from './kvm-gate.js';

const here = dirname(fileURLToPath(import.meta.url));
const AREAS = ['core', 'server', 'sobel', 'cluster'];

function modules(): string[] {
  return AREAS.flatMap((area) => {
    const dir = join(here, area);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.bench.ts'))
      .sort()
      .map((f) => join(dir, f));
  });
}

async function runOne(file: string, budgetMs: number): Promise<void> {
  const mod = (await import(pathToFileURL(file).href)) as BenchModule;
  await mod.run(makeContext(budgetMs));
}

function child(file: string, budgetMs: number): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--module', file, '--budget-ms', String(budgetMs)], {
      stdio: 'inherit',
    });
    // The module should finish inside its budget; this is the hard stop.
    const timer = setTimeout(() => p.kill('SIGKILL'), budgetMs * 1.25 + 5000);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(signal ? `killed (${signal}) past its budget` : code === 0 ? 'ok' : `failed (exit ${code})`);
    });
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (!args.includes("--module")) kvmGate('npm run bench');
  const m = args.indexOf('--module');
  if (m >= 0) {
    const b = args.indexOf('--budget-ms');
    await runOne(args[m + 1], b >= 0 ? Number(args[b + 1]) : 60_000);
    return;
  }
  const files = modules();
  const totalMs = Number(process.env.ATARU_BENCH_BUDGET_S ?? 170) * 1000;
  const t0 = performance.now();
  const outcomes: [string, string][] = [];
  for (let i = 0; i < files.length; i++) {
    const left = totalMs - (performance.now() - t0);
    const budget = Math.max(5000, left / (files.length - i) / 1.25 - 5000);
    process.stdout.write(`\n== ${relative(join(here, '..'), files[i])} (budget ${(budget / 1000).toFixed(0)} s)\n`);
    outcomes.push([relative(here, files[i]), await child(files[i], budget)]);
  }
  process.stdout.write(`\nbench modules: ${outcomes.map(([f, o]) => `${f}: ${o}`).join('; ') || 'none found'}\n`);
  if (outcomes.some(([, o]) => o !== 'ok')) process.exitCode = 1;
}

await main();
