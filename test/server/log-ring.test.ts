import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOG_MESSAGE_MAX, LogRing, parseSince } from '../../src/server/log-ring.js';

test('the ring keeps the newest entries only, in order, with increasing seq', () => {
  const r = new LogRing(5);
  for (let i = 0; i < 12; i++) r.push({ kind: 'log', node: i % 2, message: `m${i}` });
  assert.deepEqual(r.list().map((e) => e.message), ['m7', 'm8', 'm9', 'm10', 'm11']);
  assert.deepEqual(r.list().map((e) => e.seq), [8, 9, 10, 11, 12]);
  assert.deepEqual(r.list({ node: 1 }).map((e) => e.message), ['m7', 'm9', 'm11']);
});

test('a long message is cut and says so; followers see matching entries until close', () => {
  const r = new LogRing(4);
  r.push({ kind: 'error', message: 'x'.repeat(LOG_MESSAGE_MAX * 3) });
  const cut = r.list()[0]!.message;
  assert.ok(cut.length < LOG_MESSAGE_MAX + 100);
  assert.match(cut, /cut at 4096 characters/);
  const seen: string[] = [];
  let ended = 0;
  const stop = r.follow({ node: 2 }, (e) => seen.push(e.message), () => ended++);
  r.push({ kind: 'log', node: 1, message: 'other node' });
  r.push({ kind: 'log', node: 2, message: 'mine' });
  assert.deepEqual(seen, ['mine']);
  r.close();
  assert.equal(ended, 1);
  assert.equal(r.followerCount, 0);
  stop();
  r.push({ kind: 'log', node: 2, message: 'after close' });
  assert.deepEqual(seen, ['mine']);
});

test('since: durations back from now, ISO times and epoch ms; anything else is refused', () => {
  const now = Date.parse('2026-12-02T12:00:00Z');
  assert.equal(parseSince('90s', now), now - 90_000);
  assert.equal(parseSince('5m', now), now - 300_000);
  assert.equal(parseSince('2h', now), now - 7_200_000);
  assert.equal(parseSince('1d', now), now - 86_400_000);
  assert.equal(parseSince('2026-12-01T00:00:00Z', now), Date.parse('2026-12-01T00:00:00Z'));
  assert.equal(parseSince('1700000000000', now), 1_700_000_000_000);
  assert.equal(parseSince('yesterday-ish', now), undefined);
});
