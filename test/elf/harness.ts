/**
 * The loader's C test programs (native/test/elf_check.c, elf_fuzz.c), built
 * once per test process with AddressSanitizer and UBSan against the real
 * native/elf.c, loader.c and mem.c. They load images into a guest-memory
 * arena without a VM, so the loader is tested whether or not the addon or
 * /dev/kvm is there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/runtime/paths.js';

const nativeDir = join(packageRoot, 'native');
let dir: string | undefined;
const built = new Map<string, string>();

export function harness(name: 'elf_check' | 'elf_fuzz'): string {
  const done = built.get(name);
  if (done) return done;
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), 'ataru-elf-'));
    process.on('exit', () => rmSync(dir!, { recursive: true, force: true }));
  }
  const exe = join(dir, name);
  execFileSync('gcc', [
    '-std=gnu11', '-g', '-O1', '-Wall', '-Wextra', '-Werror',
    '-fsanitize=address,undefined', '-fno-sanitize-recover=all',
    '-o', exe, join(nativeDir, 'test', `${name}.c`),
    join(nativeDir, 'elf.c'), join(nativeDir, 'loader.c'), join(nativeDir, 'mem.c'),
  ]);
  built.set(name, exe);
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
