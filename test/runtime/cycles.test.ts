import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Sandbox } from '../../src/runtime/sandbox.js';
import { kvmOptions } from '../helpers/kvm.js';
import { fixture, u64 } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const openFds = () => readdirSync('/proc/self/fd').length;

describe('load/close cycles', kvmOptions(), () => {
  test('10,000 sandbox load/call/close cycles leak no fds and no memory', async (t) => {
    const elf = fixture('counter');
    const cycle = async () => {
      const sb = await Sandbox.load(elf);
      try {
        assert.equal(u64((await sb.call(Buffer.alloc(0))).output), 1n);
      } finally {
        await sb.close();
      }
    };
    for (let i = 0; i < 200; i++) await cycle(); // warm-up: allocator and JIT settle
    gc();
    const fds0 = openFds();
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) await cycle();
    const seconds = (performance.now() - t0) / 1000;
    gc();
    const fds1 = openFds();
    const rss1 = process.memoryUsage().rss;
    t.diagnostic(`10,000 cycles in ${seconds.toFixed(1)} s; fds ${fds0} -> ${fds1}; RSS ${(rss0 / 2 ** 20).toFixed(1)} -> ${(rss1 / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(fds1 <= fds0, `fds grew from ${fds0} to ${fds1}`);
    // A leak of 2 KiB per cycle would show as 20 MiB.
    assert.ok(rss1 - rss0 < 20 * 2 ** 20, `RSS grew by ${((rss1 - rss0) / 2 ** 20).toFixed(1)} MiB`);
  });
});
