/**
 * Builds each workload's peer artifacts into bench/peers/build/<workload>/
 * from the same C sources as Ataru's functions, with the SDK's compiler
 * flags (read from sdk/ataru.mk, their one source):
 *   peer-native  the compute baseline (c/native_main.c)
 *   peer-spawn   static binary, stdin -> stdout (c/spawn_main.c)
 *   peer.wasm    wasm32 module (c/wasm_main.c)
 *   kernel.elf   PVH kernel for qemu microvm (qemu/)
 * and runs the workload's `make` so that Ataru's ELFs exist. A target that
 * fails records its error; the others still build.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { generateDagC, functionSymbol } from './dag-c.js';
import { buildDir, commonInclude, peersDir, repoRoot, sdkInclude } from './paths.js';
import { missingTools, run, type Tool } from './toolchain.js';
import type { Workload } from './workloads.js';

export type Target = 'ataru' | 'native' | 'spawn' | 'wasm' | 'qemu';

export interface BuildResult {
  dir: string;
  inputFile: string;
  paths: Partial<Record<Target, string>>;
  errors: Partial<Record<Target, string>>;
}

const TOOLS: Record<Target, Tool[]> = {
  ataru: ['gcc', 'make'],
  native: ['gcc', 'make'],
  spawn: ['gcc', 'make'],
  wasm: ['clang', 'wasm-ld', 'make'],
  qemu: ['gcc', 'ld', 'make'],
};

let sdkFlags: string[] | undefined;

/** ATARU_CFLAGS as sdk/ataru.mk sets them. */
export function sdkCflags(): string[] {
  if (!sdkFlags) {
    mkdirSync(buildDir, { recursive: true });
    const mk = join(buildDir, 'print-flags.mk');
    writeFileSync(mk, `include ${join(repoRoot, 'sdk', 'ataru.mk')}\nprint-flags:\n\t@echo $(ATARU_CFLAGS)\n`);
    sdkFlags = run('make', ['-s', '-f', mk, 'print-flags']).trim().split(/\s+/);
  }
  return sdkFlags;
}

/** The SDK flags that mean the same on wasm32 (no -m…, no CET). */
function portableFlags(flags: readonly string[]): string[] {
  return flags.filter((f) => !f.startsWith('-m') && !f.startsWith('-fcf-protection') && !f.startsWith('-W'));
}

/** A C source and the flags it alone needs. */
interface Source {
  src: string;
  flags?: string[];
}

function fnSources(w: Workload): Source[] {
  const list: Source[] = [];
  w.functions.forEach((f, j) => {
    for (const src of f.sources) list.push({ src, flags: [`-Dentry=${functionSymbol(j)}`] });
  });
  for (const src of w.shared?.sources ?? []) list.push({ src });
  return list;
}

/* The freestanding targets (wasm32, the qemu guest) have no libc: they link
 * the SDK's own memcpy & co., as Ataru's functions do, and a silent ataru_log. */
const sdkMem = join(repoRoot, 'sdk', 'mem.c');
const peerLibc: Source = { src: join(peersDir, 'c', 'peer_libc.c') };

function includes(w: Workload): string[] {
  return [...w.includes, sdkInclude, commonInclude, join(peersDir, 'c')].map((d) => `-I${d}`);
}

/** Objects for the x86-64 targets (native and spawn share them; qemu is non-PIE). */
function compileX86(w: Workload, dir: string, kind: 'host' | 'qemu'): string[] {
  const extra = kind === 'qemu' ? ['-fno-pie', '-fno-pic', '-mno-red-zone'] : [];
  const objs: string[] = [];
  const all: Source[] = [...fnSources(w), { src: join(dir, 'dag.c') }];
  // As sdk/ataru.mk builds mem.c: gcc must not turn its loops back into calls to itself.
  if (kind === 'qemu') all.push(peerLibc, { src: sdkMem, flags: ['-fno-tree-loop-distribute-patterns'] });
  all.forEach(({ src, flags = [] }, i) => {
    const obj = join(dir, `${kind}-${i}-${basename(src, '.c')}.o`);
    run('gcc', [...sdkCflags(), ...extra, ...includes(w), ...flags, '-c', src, '-o', obj]);
    objs.push(obj);
  });
  return objs;
}

/** Newest modification time of everything a workload's peer builds read. */
function newestInput(w: Workload): number {
  const files = [
    ...w.functions.flatMap((f) => f.sources),
    ...(w.shared?.sources ?? []),
    join(repoRoot, 'sdk', 'ataru.mk'),
    sdkMem,
    ...[...w.includes, ...(w.shared?.sources ?? []).map((f) => dirname(f)), sdkInclude, join(peersDir, 'c'), join(peersDir, 'qemu')]
      .flatMap((d) => readdirSync(d).filter((f) => /\.(h|c|S|ld)$/.test(f)).map((f) => join(d, f))),
  ];
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

/** As newestInput, but a missing file means "rebuild" (and the build then
 * reports what is missing). */
function newestInputOrNow(w: Workload): number {
  try {
    return newestInput(w);
  } catch {
    return Infinity;
  }
}

/** Writes only when the content changes, so the file's age means something. */
function writeIfChanged(path: string, content: string | Buffer): void {
  if (existsSync(path) && readFileSync(path).equals(Buffer.from(content))) return;
  writeFileSync(path, content);
}

function attempt(res: BuildResult, t: Target, f: () => string, output?: string, newest = Infinity): void {
  const missing = missingTools(TOOLS[t]);
  if (missing) {
    res.errors[t] = missing;
    return;
  }
  if (output && existsSync(output) && statSync(output).mtimeMs >= newest) {
    res.paths[t] = output; // up to date
    return;
  }
  try {
    res.paths[t] = f();
  } catch (e) {
    res.errors[t] = (e as Error).message;
  }
}

export function buildWorkload(w: Workload, targets: ReadonlySet<Target>): BuildResult {
  const dir = join(buildDir, w.id);
  mkdirSync(dir, { recursive: true });
  const inputFile = join(dir, 'input.bin');
  writeIfChanged(inputFile, w.input);
  writeIfChanged(join(dir, 'dag.c'), generateDagC(w));
  const newest = Math.max(newestInputOrNow(w), statSync(join(dir, 'dag.c')).mtimeMs);
  const res: BuildResult = { dir, inputFile, paths: {}, errors: {} };
  const c = (f: string) => join(peersDir, 'c', f);

  if (targets.has('ataru')) {
    attempt(res, 'ataru', () => {
      for (const m of w.makes) run('make', ['-s', '-C', m.dir, ...m.targets]);
      return dir;
    });
  }
  let hostObjs: string[] | undefined;
  const host = () => (hostObjs ??= compileX86(w, dir, 'host'));
  if (targets.has('native')) {
    attempt(res, 'native', () => {
      const out = join(dir, 'peer-native');
      run('gcc', ['-O2', ...includes(w), '-o', out, c('native_main.c'), ...host()]);
      return out;
    }, join(dir, 'peer-native'), newest);
  }
  if (targets.has('spawn')) {
    attempt(res, 'spawn', () => {
      const out = join(dir, 'peer-spawn');
      run('gcc', ['-O2', '-static', ...includes(w), '-o', out, c('spawn_main.c'), ...host()]);
      return out;
    }, join(dir, 'peer-spawn'), newest);
  }
  if (targets.has('wasm')) {
    attempt(res, 'wasm', () => {
      const out = join(dir, 'peer.wasm');
      // One clang call per source: each function gets its own entry rename.
      const objs = [...fnSources(w), { src: join(dir, 'dag.c') }, peerLibc, { src: sdkMem }, { src: c('wasm_main.c') }].map(
        ({ src, flags = [] }: Source, i) => {
          const obj = join(dir, `wasm-${i}-${basename(src, '.c')}.o`);
          run('clang', [
            '--target=wasm32',
            ...portableFlags(sdkCflags()),
            `-DPEER_IN_MAX=${Math.max(w.input.length, 1)}`,
            ...includes(w),
            ...flags,
            '-c',
            src,
            '-o',
            obj,
          ]);
          return obj;
        },
      );
      run('clang', ['--target=wasm32', '-nostdlib', '-Wl,--no-entry', '-Wl,--strip-all', '-o', out, ...objs]);
      return out;
    }, join(dir, 'peer.wasm'), newest);
  }
  if (targets.has('qemu')) {
    attempt(res, 'qemu', () => {
      const out = join(dir, 'kernel.elf');
      const q = (f: string) => join(peersDir, 'qemu', f);
      const boot = join(dir, 'qemu-boot.o');
      const main = join(dir, 'qemu-guest_main.o');
      const flags = [...sdkCflags(), '-fno-pie', '-fno-pic', ...includes(w)];
      run('gcc', [...flags, '-c', q('boot.S'), '-o', boot]);
      run('gcc', [...flags, '-c', q('guest_main.c'), '-o', main]);
      run('ld', ['-nostdlib', '-static', '-no-pie', '-z', 'noexecstack', '--no-warn-rwx-segments', '-T', q('kernel.ld'), '-o', out, boot, main, ...compileX86(w, dir, 'qemu')]);
      return out;
    }, join(dir, 'kernel.elf'), newest);
  }
  return res;
}
