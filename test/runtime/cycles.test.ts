import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { native } from '../../src/runtime/native.js';
import { Sandbox } from '../../src/runtime/sandbox.js';
import { buildSpec } from '../../src/runtime/spec.js';
import { kvmOptions } from '../helpers/kvm.js';
import { scaled } from '../helpers/scale.js';
import { appDef, fixture, resolveOpts, u64 } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const openFds = () => readdirSync('/proc/self/fd').length;

// 10,000 cycles natively; fewer in the emulated machine (ATARU_TEST_SCALE).
const CYCLES = scaled(10_000, 1_000);

describe('load/close cycles', kvmOptions(), () => {
  test(`${CYCLES} sandbox load/call/close cycles leak no fds and no memory`, async (t) => {
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
    // Two chains at once: VM creation is mostly kernel time, and there are two cores.
    const chain = async (n: number) => {
      for (let i = 0; i < n; i++) await cycle();
    };
    await Promise.all([chain(CYCLES / 2), chain(CYCLES / 2)]);
    const seconds = (performance.now() - t0) / 1000;
    gc();
    const fds1 = openFds();
    const rss1 = process.memoryUsage().rss;
    t.diagnostic(`${CYCLES} cycles in ${seconds.toFixed(1)} s; fds ${fds0} -> ${fds1}; RSS ${(rss0 / 2 ** 20).toFixed(1)} -> ${(rss1 / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(fds1 <= fds0, `fds grew from ${fds0} to ${fds1}`);
    // malloc arenas of the short-lived vCPU threads move RSS by ~15 MiB in steps;
    // a leaked result message (4 KiB) or instance per cycle would add 40+ MiB.
    assert.ok(rss1 - rss0 < 32 * 2 ** 20, `RSS grew by ${((rss1 - rss0) / 2 ** 20).toFixed(1)} MiB`);
  });
});

describe('instances never destroyed', kvmOptions(), () => {
  test('are freed when their handles are garbage-collected', async () => {
    const { spec } = buildSpec(appDef('gc', [{ elf: fixture('counter'), out: 0x1000 }], []), resolveOpts);
    gc();
    const fds0 = openFds();
    const make = async () => {
      for (let i = 0; i < 20; i++) {
        const h = await native().createInstance(spec);
        await native().run(h, Buffer.alloc(0));
      }
    };
    await make();
    assert.ok(openFds() > fds0, 'the instances hold fds while alive');
    // The handles are unreachable now; their finalizers destroy the VMs.
    for (let i = 0; i < 5 && openFds() > fds0; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(openFds(), fds0);
  });
});
