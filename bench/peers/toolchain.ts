/**
 * The tools the peers need, found on PATH; a missing one disables only the
 * peers that need it, with a reason the report prints (never a crash).
 */
import { execFileSync, spawnSync } from 'node:child_process';

export type Tool = 'gcc' | 'ld' | 'make' | 'clang' | 'wasm-ld' | 'qemu-system-x86_64';

const HINT: Record<Tool, string> = {
  gcc: 'apt-get install gcc',
  ld: 'apt-get install binutils',
  make: 'apt-get install make',
  clang: 'apt-get install clang',
  'wasm-ld': 'apt-get install lld',
  'qemu-system-x86_64': 'apt-get install qemu-system-x86',
};

const found = new Map<Tool, boolean>();

export function hasTool(t: Tool): boolean {
  if (!found.has(t)) found.set(t, spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status === 0);
  return found.get(t)!;
}

/** undefined when all tools are there, else "X not found (apt-get install Y)". */
export function missingTools(tools: readonly Tool[]): string | undefined {
  const missing = tools.filter((t) => !hasTool(t));
  return missing.length ? missing.map((t) => `${t} not found (${HINT[t]})`).join('; ') : undefined;
}

/** Runs a build command; throws with its stderr on failure. */
export function run(cmd: string, args: readonly string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const detail = (err.stderr || err.message).trim().split('\n').slice(-6).join('\n');
    throw new Error(`${cmd} ${args.join(' ')}\n${detail}`);
  }
}
