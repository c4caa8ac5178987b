/**
 * The loader's C test programs (native/test/elf_check.c, elf_fuzz.c), built
 * with AddressSanitizer and UBSan against the real native/elf.c, loader.c
 * and mem.c. They load images into a guest-memory arena without a VM, so the
 * loader is tested whether or not the addon or /dev/kvm is there. Builds are
 * cached in the temp folder by a hash of their sources.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/runtime/paths.js';

const nativeDir = join(packageRoot, 'native');
const sources = (name: string) => [join(nativeDir, 'test', `${name}.c`), ...['elf.c', 'loader.c', 'mem.c'].map((f) => join(nativeDir, f))];
const headers = ['elf_image.h', 'loader.h', 'mem.h'].map((f) => join(nativeDir, f)).concat(join(packageRoot, 'common', 'ataru_abi.h'));
const flags = ['-std=gnu11', '-g', '-O1', '-Wall', '-Wextra', '-Werror', '-fsanitize=address,undefined', '-fno-sanitize-recover=all'];

export function harness(name: 'elf_check' | 'elf_fuzz'): string {
  const hash = createHash('sha256').update(flags.join(' '));
  for (const f of [...sources(name), ...headers]) hash.update(readFileSync(f));
  const dir = join(tmpdir(), 'ataru-elf-harness');
  const exe = join(dir, `${name}-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(exe)) return exe;
  mkdirSync(dir, { recursive: true });
  const partial = `${exe}.${process.pid}`; // concurrent test processes: build aside, rename
  execFileSync('gcc', [...flags, '-o', partial, ...sources(name)]);
  renameSync(partial, exe);
  return exe;
}

export interface CheckResult {
  status: number;
  stdout: string;
  /** The loader's message, when it rejected something. */
  error?: string;
}

/** Runs elf_check with args; sanitizer reports fail the test loudly. */
export function runCheck(exe: string, args: string[]): CheckResult {
  const r = spawnSync(exe, args, { encoding: 'utf8' });
  if (r.stderr && /Sanitizer|runtime error/.test(r.stderr)) throw new Error(`sanitizer report:\n${r.stderr}`);
  const error = /^error: (.*)$/m.exec(r.stdout)?.[1];
  return { status: r.status ?? -1, stdout: r.stdout, error };
}
