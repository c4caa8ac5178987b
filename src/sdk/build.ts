/**
 * Building functions, exec[0] images and libraries with the SDK: runs the
 * `ataru-build` target of sdk/ataru.mk (the one place with the flags), then
 * validates the result with the loader's own checks when the addon is built.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, resolve, join } from 'node:path';
import { promisify } from 'node:util';
import { AtaruError } from '../errors.js';
import { packageRoot } from '../runtime/paths.js';
import { native, type ElfKind } from '../runtime/native.js';
import { definedFunctions } from './elf-symbols.js';

export type BuildKind = 'function' | 'shared' | 'library';

export interface BuildOptions {
  sources: string[];
  output: string;
  /** function (default): static PIE; shared (exec[0]) and library: -shared. */
  kind?: BuildKind;
  includes?: string[];
  /** Shared objects to link against (exec[0], DT_NEEDED libraries). */
  link?: string[];
  /** Base for relative paths (default: process.cwd()). */
  cwd?: string;
}

export interface BuildResult {
  output: string;
  bytes: number;
  /** false when the addon is not built, so the loader could not check it. */
  validated: boolean;
}

const sdkDir = join(packageRoot, 'sdk');
const run = promisify(execFile);

/** make splits variables on whitespace: such paths cannot be passed. */
function makeSafe(path: string, what: string): string {
  if (/[\s$#\\'"`]/.test(path)) {
    throw new AtaruError('BAD_REQUEST', `${what} path "${path}" contains whitespace or a character make cannot pass`);
  }
  return path;
}

/** gcc's and ld's messages, without make's own "*** Error" lines. */
function compilerOutput(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() && !/^make(\[\d+\])?: /.test(l))
    .join('\n');
}

export async function build(opts: BuildOptions): Promise<BuildResult> {
  const cwd = opts.cwd ?? process.cwd();
  const kind = opts.kind ?? 'function';
  if (!opts.sources.length) throw new AtaruError('BAD_REQUEST', 'ataru build: no source files given');
  const sources = opts.sources.map((s) => makeSafe(resolve(cwd, s), 'source'));
  for (const s of sources) {
    if (!existsSync(s)) throw new AtaruError('BAD_REQUEST', 'source file not found', { file: s });
  }
  const output = makeSafe(resolve(cwd, opts.output), 'output');
  const includes = (opts.includes ?? []).map((d) => makeSafe(resolve(cwd, d), 'include'));
  const link = (opts.link ?? []).map((l) => makeSafe(resolve(cwd, l), 'library'));
  mkdirSync(dirname(output), { recursive: true });
  const args = [
    '-s',
    '--no-print-directory',
    '-f',
    join(sdkDir, 'ataru.mk'),
    'ataru-build',
    `ATARU_BUILD_KIND=${kind === 'function' ? 'function' : 'shared'}`,
    `ATARU_BUILD_OUT=${output}`,
    `ATARU_BUILD_SRCS=${sources.join(' ')}`,
    `ATARU_BUILD_INCLUDES=${includes.join(' ')}`,
    `ATARU_BUILD_LINK=${link.join(' ')}`,
  ];
  try {
    await run('make', args, { cwd, maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const text = compilerOutput(e.stderr ?? '') || e.message;
    throw new AtaruError('BAD_REQUEST', `build of ${output} failed:\n${text}`, { file: sources[0] });
  }
  const buf = readFileSync(output);
  if (kind === 'function' && !definedFunctions(buf).includes('entry')) {
    // The linker only warns; a function without entry() would fail at deploy.
    rmSync(output, { force: true });
    throw new AtaruError('BAD_ELF', `${output} defines no entry() function: a function needs long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap)`, { file: sources[0] });
  }
  const problem = validate(buf, kind);
  if (problem === undefined) return { output, bytes: buf.length, validated: false };
  if (problem) throw new AtaruError('BAD_ELF', problem, { file: output });
  return { output, bytes: buf.length, validated: true };
}

/** The loader's verdict: null (valid), a message, or undefined without an addon. */
function validate(buf: Buffer, kind: BuildKind): string | null | undefined {
  let addon;
  try {
    addon = native();
  } catch {
    return undefined;
  }
  return addon.validateElf(buf, kind satisfies ElfKind);
}
