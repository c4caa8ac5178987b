/**
 * A QEMU microvm per request: qemu-system-x86_64 -machine microvm boots our
 * PVH kernel (qemu/), which runs the workload on the request (passed as the
 * initrd) and prints its answer on the serial port. Latency = spawn ->
 * answer line; the next request starts after the process has exited.
 * KVM is used when it works here, else TCG (marked in the label).
 */
import { spawn } from 'node:child_process';
import { answerOf, checkAnswer, parseAnswerLine, type Answer } from '../answer.js';
import type { BuildResult } from '../build.js';
import { privateBytes } from '../memory.js';
import { hasKvm } from '../../../test/helpers/kvm.js';
import { missingTools } from '../toolchain.js';
import type { Workload } from '../workloads.js';
import { latencyLoop, nowNs, throughputLoop, usSince } from './loops.js';
import type { Cell, PeerSystem } from './types.js';

export type Accel = 'kvm' | 'tcg';

function qemuArgs(accel: Accel, kernel: string, input: string, hold: boolean): string[] {
  return [
    '-machine', 'microvm,x-option-roms=off,pit=off,pic=off,rtc=off',
    '-accel', accel,
    '-m', '16M',
    '-nodefaults', '-no-user-config', '-display', 'none', '-monitor', 'none',
    '-serial', 'stdio', '-no-reboot',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=4',
    '-kernel', kernel, '-initrd', input,
    ...(hold ? ['-append', 'hold'] : []),
  ];
}

interface Boot {
  /** Resolves at the answer line. */
  answer: Promise<Answer>;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  pid: number;
  kill(): void;
}

const TIMEOUT_MS = 30_000;

function boot(accel: Accel, kernel: string, input: string, hold = false): Boot {
  const child = spawn('qemu-system-x86_64', qemuArgs(accel, kernel, input, hold), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  const answer = new Promise<Answer>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`qemu: no answer in ${TIMEOUT_MS} ms`));
    }, TIMEOUT_MS);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('latin1');
      const m = /ANSWER ([^\r\n]*)\r?\n/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const a = parseAnswerLine(m[1]!);
      if (a) resolve(a);
      else reject(new Error(`qemu guest answered "${m[1]}"`));
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', (e) => reject(e));
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`qemu exited (${code}) without an answer: ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
  answer.catch(() => {}); // observed by callers; avoid unhandled rejections
  return { answer, exited, pid: child.pid ?? -1, kill: () => child.kill('SIGKILL') };
}

let accelProbe: Promise<{ accel?: Accel; why?: string }> | undefined;

/** Which accelerator boots our kernel here: KVM if it works, else TCG. */
export function probeAccel(kernel: string, input: string): Promise<{ accel?: Accel; why?: string }> {
  accelProbe ??= (async () => {
    const tries: Accel[] = hasKvm ? ['kvm', 'tcg'] : ['tcg'];
    const failures: string[] = [];
    for (const accel of tries) {
      const b = boot(accel, kernel, input);
      try {
        await b.answer;
        await b.exited;
        return { accel };
      } catch (e) {
        b.kill();
        failures.push(`${accel}: ${(e as Error).message}`);
      }
    }
    return { why: failures.join('; ') };
  })();
  return accelProbe;
}

export const qemuState: { accel?: Accel } = {};

export const qemuSystem: PeerSystem = {
  id: 'qemu',
  label: 'QEMU microvm per request',
  note: 'qemu-system-x86_64 -machine microvm, a minimal PVH kernel (bench/peers/qemu) doing the work at CPL3, request as initrd, answer on the serial port; latency = spawn -> answer; memory = private memory of the QEMU process. A lower bound for this model: no guest OS to boot',
  targets: ['qemu'],
  async unavailable(_w, b) {
    const missing = missingTools(['qemu-system-x86_64']);
    if (missing) return missing;
    if (b.errors.qemu) return b.errors.qemu;
    const p = await probeAccel(b.paths.qemu!, b.inputFile);
    if (!p.accel) return `qemu microvm does not boot here (${p.why})`;
    qemuState.accel = p.accel;
    return undefined;
  },
  async open(w: Workload, b: BuildResult): Promise<Cell> {
    const accel = qemuState.accel!;
    const kernel = b.paths.qemu!;
    const expected = answerOf(w.expected);
    // Every reply is checked (the guest's digest against the expected one).
    const checked = async (q: Boot) => {
      const a = await q.answer;
      checkAnswer(qemuSystem.label, w.id, expected, a);
      return a;
    };
    const once = async (): Promise<Answer> => {
      const q = boot(accel, kernel, b.inputFile);
      try {
        return await checked(q);
      } finally {
        await q.exited;
      }
    };
    return {
      answer: once,
      async latency(n, ms) {
        // Latency to the answer; the loop still waits for each exit.
        const us: number[] = [];
        const s = await latencyLoop(
          async () => {
            const t0 = nowNs();
            const q = boot(accel, kernel, b.inputFile);
            try {
              await q.answer;
              us.push(usSince(t0));
              await checked(q);
            } finally {
              await q.exited;
            }
          },
          n,
          ms,
        );
        return { us, elapsedMs: s.elapsedMs };
      },
      throughput: (c, ms) => throughputLoop(once, c, ms),
      async cold() {
        const t0 = nowNs();
        const q = boot(accel, kernel, b.inputFile);
        try {
          await q.answer;
          const us = usSince(t0);
          await checked(q);
          return us;
        } finally {
          await q.exited;
        }
      },
      async memory() {
        const q = boot(accel, kernel, b.inputFile, true);
        try {
          await q.answer;
          return privateBytes(q.pid);
        } finally {
          q.kill();
          await q.exited;
        }
      },
      async close() {},
    };
  },
};
