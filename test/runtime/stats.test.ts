import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LogLimiter, type LogLine } from '../../src/runtime/log-limiter.js';
import { StreamingStats } from '../../src/runtime/stats.js';

/** Two-pass population moments: the definition the streaming form must match. */
function twoPass(xs: number[]) {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const m = (k: number) => xs.reduce((a, x) => a + (x - mean) ** k, 0) / n;
  const m2 = m(2);
  return {
    count: n,
    min: Math.min(...xs),
    max: Math.max(...xs),
    mean,
    total: xs.reduce((a, b) => a + b, 0),
    std: Math.sqrt(m2),
    skewness: m2 > 0 ? m(3) / m2 ** 1.5 : 0,
    kurtosis: m2 > 0 ? m(4) / (m2 * m2) - 3 : 0,
  };
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

test('streaming statistics match the two-pass definitions', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 2, maxLength: 200 }), (xs) => {
      const s = new StreamingStats();
      xs.forEach((x) => s.add(x));
      const got = s.summary();
      const want = twoPass(xs);
      for (const k of Object.keys(want) as (keyof typeof want)[]) {
        // Higher moments of near-constant data are numerically meaningless.
        if ((k === 'skewness' || k === 'kurtosis') && want.std < 1e-3 * Math.max(1, Math.abs(want.mean))) continue;
        assert.ok(close(got[k], want[k]), `${k}: ${got[k]} vs ${want[k]}`);
      }
    }),
  );
});

test('streaming statistics of no sample and of one sample', () => {
  const s = new StreamingStats();
  assert.deepEqual(s.summary(), { count: 0, min: 0, mean: 0, max: 0, std: 0, skewness: 0, kurtosis: 0, total: 0 });
  s.add(42);
  assert.deepEqual(s.summary(), { count: 1, min: 42, mean: 42, max: 42, std: 0, skewness: 0, kurtosis: 0, total: 42 });
});

test('the log limiter passes a burst, then counts dropped lines and reports them once', () => {
  const out: LogLine[] = [];
  const lim = new LogLimiter((l) => out.push(l), 10, 5);
  for (let i = 0; i < 25; i++) lim.offer({ app: 'a', node: 1, requestId: i }, `line ${i}`);
  assert.deepEqual(
    out.map((l) => l.message),
    ['line 0', 'line 1', 'line 2', 'line 3', 'line 4'],
  );
  lim.flush({ app: 'a', node: -1, requestId: 25 });
  assert.equal(out.length, 6);
  assert.equal(out[5].message, '20 log lines dropped (rate limit)');
  lim.flush({ app: 'a', node: -1, requestId: 25 });
  assert.equal(out.length, 6);
});

test("the log limiter adds the core's drops to its own count", () => {
  const out: LogLine[] = [];
  const lim = new LogLimiter((l) => out.push(l), 10, 5);
  lim.offer({ app: 'a', node: 1, requestId: 1 }, undefined, 7); // only a count
  assert.equal(out.length, 0);
  lim.flush({ app: 'a', node: -1, requestId: 1 });
  assert.equal(out[0].message, '7 log lines dropped (rate limit)');
});

test('a throwing log consumer does not break the producer', () => {
  const lim = new LogLimiter(() => {
    throw new Error('consumer failed');
  });
  assert.doesNotThrow(() => lim.offer({ app: 'a', node: 0, requestId: 1 }, 'x'));
});
