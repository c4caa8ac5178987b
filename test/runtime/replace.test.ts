/**
 * Replacing instances the core took out of service (src/runtime/app.ts,
 * replace-throttle.ts): with back-off when it keeps happening, one warning
 * per app per interval, and every request still answered once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadApp } from '../../src/runtime/app.js';
import { native } from '../../src/runtime/native.js';
import { ReplaceThrottle } from '../../src/runtime/replace-throttle.js';
import { log } from '../../src/log.js';
import { kvmOptions } from '../helpers/kvm.js';
import { appDef, resolveOpts, trapElf } from './helpers.js';

describe('replace throttle (clock driven by the test)', () => {
  test('immediate once, then doubling within an interval, capped; quiet resets it', () => {
    let now = 0;
    const t = new ReplaceThrottle(1000, 10, 80, () => now);
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      delays.push(t.next().delayMs);
      now += 1;
    }
    assert.deepEqual(delays, [0, 10, 20, 40, 80, 80]);
    now += 5000; // a quiet interval
    assert.equal(t.next().delayMs, 0);
    assert.equal(t.replaced, 7);
  });

  test('one report per interval, carrying what went unreported', () => {
    let now = 0;
    const t = new ReplaceThrottle(1000, 10, 80, () => now);
    const reports: number[] = [];
    for (let i = 0; i < 25; i++) {
      const d = t.next();
      if (d.report) reports.push(d.unreported);
      now += 100; // 10 per interval
    }
    assert.deepEqual(reports, [0, 9, 9]);
  });
});

describe('replacing unusable instances in a pool', kvmOptions(), () => {
  test('every reset failing: every request answered, instances rebuilt, one warning', async () => {
    const warnings: unknown[] = [];
    const warn = log.warn;
    log.warn = ((obj: unknown) => void warnings.push(obj)) as typeof log.warn;
    const app = await loadApp(
      appDef('replaced', [{ elf: trapElf(), out: 0x1000 }], [], { instances: 1 }),
      { ...resolveOpts, _testHooks: native().constants.testHooks.FAIL_RESET },
    );
    try {
      const n = 6;
      // Sequential and concurrent: the concurrent ones wait in the queue for
      // the replacement (behind its back-off) and are answered by it.
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await app.run(Buffer.from([0, i])));
      answers.push(...(await Promise.all(Array.from({ length: n - 3 }, (_, i) => app.run(Buffer.from([0, 3 + i]))))));
      answers.forEach((a, i) => assert.deepEqual(a.output, Buffer.from([0, i])));
      const s = app.stats();
      // Each request broke its instance; the break shows at the next submit,
      // so the last one is still in the pool, found by the next request.
      assert.equal(s.instances.replaced, n - 1);
      assert.equal(s.errors.INTERNAL ?? 0, 0, 'no request was answered with the instance failure');
      assert.equal(warnings.length, 1, 'one warning for the whole burst');
    } finally {
      log.warn = warn;
      await app.close();
    }
  });
});
