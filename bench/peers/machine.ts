/** The machine description printed with every result. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
  kvm: string;
  qemu: string;
  compilers: string;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!.trim();
  } catch {
    return 'not found';
  }
}

function kvmModule(): string {
  if (!existsSync('/dev/kvm')) return 'no /dev/kvm';
  try {
    const mods = readdirSync('/sys/module').filter((n) => n.startsWith('kvm'));
    return mods.length ? mods.join(', ') : '/dev/kvm';
  } catch {
    return '/dev/kvm';
  }
}

export function describeMachine(): Machine {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    kvm: kvmModule(),
    qemu: firstLine('qemu-system-x86_64', ['--version']),
    compilers: `${firstLine('gcc', ['--version'])}; ${firstLine('clang', ['--version'])}`,
  };
}
