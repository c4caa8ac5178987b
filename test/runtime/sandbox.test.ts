import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sandbox } from '../../src/runtime/sandbox.js';
import { kvmOptions } from '../helpers/kvm.js';
import { byteSum, fixture, fnv1a64, randomBytes, u64, upper } from './helpers.js';

describe('Sandbox: known answers', kvmOptions(), () => {
  const sbs: Record<string, Sandbox> = {};
  before(async () => {
    for (const name of ['uppercase', 'sum', 'fnv', 'nodeid', 'inlen', 'original3']) sbs[name] = await Sandbox.load(fixture(name));
  });
  after(async () => {
    await Promise.all(Object.values(sbs).map((s) => s.close()));
  });

  test('uppercase, sum and fnv match their TypeScript counterparts', async () => {
    for (let i = 0; i < 20; i++) {
      const input = randomBytes(1 + i * 97, i + 1);
      const up = await sbs.uppercase.call(input);
      assert.equal(up.status, 'OK');
      assert.deepEqual(up.output, upper(input));
      assert.equal(u64((await sbs.sum.call(input)).output), byteSum(input));
      assert.equal(u64((await sbs.fnv.call(input)).output), fnv1a64(input));
    }
    assert.deepEqual((await sbs.uppercase.call(Buffer.from('Hello, Ataru!'))).output, Buffer.from('HELLO, ATARU!'));
  });

  test('large inputs and outputs cross the boundary intact', async () => {
    for (const n of [16 * 1024, 16 * 1024 + 1, 300_000, 1024 * 1024]) {
      const input = randomBytes(n, n);
      const r = await sbs.uppercase.call(input);
      assert.ok(r.output.equals(upper(input)), `${n} bytes`);
    }
  });

  test('an empty input reaches the function as zero bytes', async () => {
    assert.equal(u64((await sbs.sum.call(Buffer.alloc(0))).output), 0n);
    assert.equal(u64((await sbs.inlen.call(Buffer.alloc(0))).output), 0n);
  });

  test('in_len is the request length and out_cap the rest of the shared region', async () => {
    const r = await sbs.inlen.call(Buffer.alloc(1234));
    assert.equal(u64(r.output, 0), 1234n);
    assert.equal(u64(r.output, 8), BigInt(1024 * 1024)); // out_off = half of the 2 MiB region
  });

  test('node_id is the DAG index, or the override', async () => {
    assert.equal(u64((await sbs.nodeid.call(Buffer.alloc(1))).output), 0n);
    assert.equal(u64((await sbs.nodeid.call(Buffer.alloc(1), { nodeId: 0xdeadbeefcafen })).output), 0xdeadbeefcafen);
    assert.equal(u64((await sbs.nodeid.call(Buffer.alloc(1), { nodeId: (1n << 64n) - 2n })).output), (1n << 64n) - 2n);
  });

  test("the original's three-argument entry works", async () => {
    const input = randomBytes(16, 99);
    assert.deepEqual((await sbs.original3.call(input)).output, input);
  });

  test('an input over the input region is refused as BAD_REQUEST', async () => {
    await assert.rejects(sbs.sum.call(Buffer.alloc(1024 * 1024 + 1)), { code: 'BAD_REQUEST' });
  });
});

describe('Sandbox: warm calls', kvmOptions(), () => {
  test('1,000 warm calls on one sandbox are all correct and start from clean memory', async () => {
    const counter = await Sandbox.load(fixture('counter'));
    const fnv = await Sandbox.load(fixture('fnv'));
    try {
      for (let i = 0; i < 1000; i++) {
        assert.equal(u64((await counter.call(Buffer.alloc(0))).output), 1n, `call ${i}`);
        const input = randomBytes(i % 300, i + 7);
        assert.equal(u64((await fnv.call(input)).output), fnv1a64(input), `call ${i}`);
      }
      const st = counter.handle.stats();
      assert.equal(st.requests, 1000);
      assert.deepEqual(st.errors, {});
      assert.equal(st.dag.count, 1000);
      assert.ok(st.dag.min > 0 && st.dag.min <= st.dag.mean && st.dag.mean <= st.dag.max);
    } finally {
      await counter.close();
      await fnv.close();
    }
  });

  test('the function log reaches onLog with node and request id', async () => {
    const lines: { node: number; requestId: number; message: string }[] = [];
    const sb = await Sandbox.load(fixture('logger'), { onLog: (l) => lines.push(l) });
    try {
      await sb.call(Buffer.alloc(5));
      await sb.call(Buffer.alloc(7), { nodeId: 3n });
    } finally {
      await sb.close();
    }
    assert.deepEqual(
      lines.map((l) => [l.node, l.requestId, l.message]),
      [
        [0, 1, 'logger: node 0 got 5 bytes, hex -42%'],
        [0, 2, 'logger: node 3 got 7 bytes, hex -42%'],
      ],
    );
  });

  test('a flood of log lines is rate-limited and the dropped lines are counted', async () => {
    const lines: string[] = [];
    const sb = await Sandbox.load(fixture('logger'), { onLog: (l) => lines.push(l.message) });
    const calls = 400;
    try {
      for (let i = 0; i < calls; i++) await sb.call(Buffer.alloc(1));
    } finally {
      await sb.close();
    }
    const passed = lines.filter((l) => l.startsWith('logger:')).length;
    const dropped = lines
      .map((l) => /^(\d+) log lines dropped/.exec(l))
      .reduce((sum, m) => sum + (m ? Number(m[1]) : 0), 0);
    assert.ok(passed < calls, `${passed} of ${calls} lines passed the limit`);
    assert.equal(passed + dropped, calls);
  });

  test('a closed sandbox refuses calls with CLOSED', async () => {
    const sb = await Sandbox.load(fixture('noop'));
    await sb.close();
    await assert.rejects(sb.call(Buffer.alloc(0)), { code: 'CLOSED' });
  });

  test('a file that is not an ELF is refused as BAD_ELF naming the file', async () => {
    const bad = new URL(import.meta.url).pathname; // this test file
    await assert.rejects(Sandbox.load(bad), (e: { code: string; location?: { file?: string } }) => {
      assert.equal(e.code, 'BAD_ELF');
      assert.equal(e.location?.file, bad);
      return true;
    });
  });
});
