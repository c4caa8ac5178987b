/**
 * Framing, ordering and flow control of a data port, against a scripted
 * AppHandle whose requests complete in random order after random delays
 * (the real-KVM tests are in data-port.test.ts; this one drives orders the
 * real pool rarely produces).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS, type AppDefinition } from '../../src/app/model.js';
import { log } from '../../src/log.js';
import type { AppHandle, RunResult } from '../../src/runtime/types.js';
import { native } from '../../src/runtime/native.js';
import { FrameReader, type Reply } from '../../src/client/data-client.js';
import { DataPort } from '../../src/server/data-port.js';
import type { LiveApp } from '../../src/server/live-app.js';
import { randomBytes } from '../helpers/random.js';
import { connectTo } from './helpers.js';
import { hasKvm } from '../helpers/kvm.js';

/** A handle that reverses the input after a random delay and records concurrency. */
function scriptedApp(msgLen: number, seed: number) {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) % 1000) / 1000;
  const stats = { inflight: 0, maxInflight: 0, runs: 0 };
  const def: AppDefinition = { ...DEFAULTS, name: 'scripted', msg_len: msgLen, nodes: [], edges: [] };
  const handle: AppHandle = {
    definition: def,
    run(input: Buffer): Promise<RunResult> {
      stats.inflight++;
      stats.runs++;
      stats.maxInflight = Math.max(stats.maxInflight, stats.inflight);
      const out = Buffer.from(input).reverse();
      return new Promise((resolve, reject) =>
        setTimeout(() => {
          stats.inflight--;
          if (input[0] === 0xff) reject(new Error('scripted failure'));
          else resolve({ output: out, sinkLengths: [out.length], dagNs: 1, nodeNs: [], runNs: 1, queueNs: 0, instance: 0 });
        }, rand() * 3),
      );
    },
    stats: () => {
      throw new Error('not used');
    },
    close: async () => {},
  };
  const metrics = { ok() {}, error() {}, truncated() {} };
  const reservation = { app: 'scripted', instances: 0, vcpuThreads: 0, memoryBytes: 0 };
  const app: LiveApp = { name: 'scripted', current: { def, handle, metrics, blobs: {}, folder: '', reservation } };
  return { app, stats };
}

// Frame status numbers come from the addon.
const opts = hasKvm ? {} : { skip: 'needs the addon (KVM machines build it)' };

test('replies come back in request order whatever order requests complete in; the window bounds in-flight requests', opts, async () => {
  const { app, stats } = scriptedApp(32, 7);
  const window = 8;
  const dp = await DataPort.open(app, '127.0.0.1', 0, { window, maxConnections: 4, writeHighWater: 1 << 20, idleTimeoutMs: 60_000, requestTimeoutMs: 30_000, log });
  try {
    const inputs = Array.from({ length: 500 }, (_, i) => {
      const b = randomBytes(32, i + 1);
      b[0] = i % 50 === 49 ? 0xff : 0; // every 50th fails
      return b;
    });
    const s = await connectTo(dp.port);
    const reader = new FrameReader();
    const replies: Reply[] = [];
    const got = new Promise<void>((resolve) =>
      s.on('data', (chunk: Buffer) => {
        replies.push(...reader.push(chunk));
        if (replies.length === inputs.length) resolve();
      }),
    );
    // Everything in one write: the server cuts it into 500 requests itself.
    s.write(Buffer.concat(inputs));
    await got;
    const S = native().constants.status;
    replies.forEach((r, i) => {
      if (inputs[i]![0] === 0xff) {
        assert.equal(r.status, S.INTERNAL);
        assert.match(r.body.toString(), /scripted failure/);
      } else {
        assert.equal(r.status, S.OK);
        assert.ok(r.body.equals(Buffer.from(inputs[i]!).reverse()), `reply ${i} matches request ${i}`);
      }
    });
    assert.ok(stats.maxInflight <= window, `at most ${window} in flight, saw ${stats.maxInflight}`);
    assert.equal(stats.runs, 500);
    s.destroy();
  } finally {
    await dp.close(false);
  }
});
