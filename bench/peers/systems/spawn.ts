/**
 * A process per request: child_process.spawn of the same C code built as a
 * static binary (request on stdin, output on stdout). Latency is spawn ->
 * exit with the output read; every request is a cold start.
 */
import { spawn } from 'node:child_process';
import { answerOf, expectOutput } from '../answer.js';
import type { BuildResult } from '../build.js';
import { privateBytes, waitStopped } from '../memory.js';
import type { Workload } from '../workloads.js';
import { latencyLoop, nowNs, throughputLoop, usSince } from './loops.js';
import type { Cell, PeerSystem } from './types.js';

function request(bin: string, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`${bin} exited with ${code}`)),
    );
    child.stdin.end(input);
  });
}

export const spawnSystem: PeerSystem = {
  id: 'spawn',
  label: 'process per request (spawn)',
  note: 'child_process.spawn of a static binary per request (no dynamic loader: the cheapest process), stdin -> stdout; latency = spawn -> exit; memory = private memory of the live process',
  targets: ['spawn'],
  unavailable: (_w, b) => b.errors.spawn,
  async open(w: Workload, b: BuildResult): Promise<Cell> {
    const bin = b.paths.spawn!;
    const once = async () => {
      const out = await request(bin, w.input);
      expectOutput(spawnSystem.label, w, out);
      return out;
    };
    return {
      answer: async () => answerOf(await once()),
      latency: (n, ms) => latencyLoop(once, n, ms),
      throughput: (c, ms) => throughputLoop(once, c, ms),
      async cold() {
        const t0 = nowNs();
        await once();
        return usSince(t0);
      },
      async memory() {
        const child = spawn(bin, [], { stdio: ['pipe', 'ignore', 'ignore'], env: { ...process.env, PEER_HOLD: '1' } });
        child.stdin.end(w.input);
        try {
          await waitStopped(child.pid!, 5000);
          return privateBytes(child.pid!);
        } finally {
          child.kill('SIGKILL');
        }
      },
      async close() {},
    };
  },
};
