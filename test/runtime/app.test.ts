import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { basename, dirname } from 'node:path';
import { describe, test } from 'node:test';
import { loadApp } from '../../src/runtime/app.js';
import { knownKvmAmdLoadBug, kvmOptions } from '../helpers/kvm.js';
import {
  addN,
  appDef,
  burnResult,
  byteSum,
  fixture,
  fnv1a64,
  randomBytes,
  resolveOpts,
  sharedImage,
  u64,
  upper,
} from './helpers.js';

const M64 = (1n << 64n) - 1n;

describe('apps: DAG shapes', kvmOptions(), () => {
  test('a chain of five add1 nodes adds 5 to every byte', async () => {
    const nodes = Array.from({ length: 5 }, (_, k) => ({ elf: fixture('add1'), inp: k * 0x1000, out: (k + 1) * 0x1000 }));
    const app = await loadApp(appDef('chain', nodes, [[0, 1], [1, 2], [2, 3], [3, 4]]), resolveOpts);
    try {
      for (let i = 0; i < 20; i++) {
        const input = randomBytes(1 + i * 50, i + 1);
        const r = await app.run(input);
        assert.deepEqual(r.output, addN(input, 5));
        assert.deepEqual(r.sinkLengths, [input.length]);
        assert.equal(r.nodeNs.length, 5);
      }
    } finally {
      await app.close();
    }
  });

  // 0 add1 -> (1 fnv, 2 sum) -> 3 original3 copies both 8-byte results.
  const diamond = () =>
    appDef(
      'diamond',
      [
        { elf: fixture('add1'), out: 0x1000 },
        { elf: fixture('fnv'), inp: 0x1000, out: 0x2000 },
        { elf: fixture('sum'), inp: 0x1000, out: 0x2008 },
        { elf: fixture('original3'), inp: 0x2000, out: 0x3000 },
      ],
      [[0, 1], [0, 2], [1, 3], [2, 3]],
    );
  const diamondAnswer = (input: Buffer) => {
    const a = addN(input, 1);
    const out = Buffer.alloc(16);
    out.writeBigUInt64LE(fnv1a64(a), 0);
    out.writeBigUInt64LE(byteSum(a), 8);
    return out;
  };

  test('a diamond joins both branches', async () => {
    const app = await loadApp(diamond(), resolveOpts);
    try {
      for (let i = 0; i < 20; i++) {
        const input = randomBytes(10 + i * 31, i + 3);
        assert.deepEqual((await app.run(input)).output, diamondAnswer(input));
      }
    } finally {
      await app.close();
    }
  });

  test('a wide fan-out/fan-in: 8 branches, one node hashing all their results', async () => {
    const shm = 64 * 1024;
    const fanIn = 0x1ff8; // matches no parent's out_off: in_len runs to the end of the region
    const nodes = [
      { elf: fixture('echo'), out: 0x1000 },
      ...Array.from({ length: 8 }, (_, k) => ({ elf: fixture(k % 2 ? 'sum' : 'fnv'), inp: 0x1000, out: 0x2000 + 8 * k })),
      { elf: fixture('fnv'), inp: fanIn, out: 0x800 },
    ];
    const edges: [number, number][] = [];
    for (let k = 1; k <= 8; k++) edges.push([0, k], [k, 9]);
    const app = await loadApp(appDef('fan', nodes, edges, { shm_size: shm }), resolveOpts);
    try {
      for (let i = 0; i < 10; i++) {
        const input = randomBytes(100 + i, i + 11);
        const region = Buffer.alloc(shm - fanIn);
        for (let k = 0; k < 8; k++) region.writeBigUInt64LE(k % 2 ? byteSum(input) : fnv1a64(input), 8 + 8 * k);
        const r = await app.run(input);
        assert.equal(u64(r.output), fnv1a64(region));
        assert.equal(r.nodeNs.length, 10);
      }
    } finally {
      await app.close();
    }
  });

  test('several sinks come back concatenated in node order with their lengths', async () => {
    const def = appDef(
      'sinks',
      [
        { elf: fixture('echo'), out: 0x1000 },
        { elf: fixture('uppercase'), inp: 0x1000, out: 0x2000 },
        { elf: fixture('fnv'), inp: 0x1000, out: 0x3000 },
      ],
      [[0, 1], [0, 2]],
    );
    const app = await loadApp(def, resolveOpts);
    try {
      const input = Buffer.from('sinks in node order');
      const r = await app.run(input);
      assert.deepEqual(r.sinkLengths, [input.length, 8]);
      assert.deepEqual(r.output.subarray(0, input.length), upper(input));
      assert.equal(u64(r.output, input.length), fnv1a64(input));
    } finally {
      await app.close();
    }
  });
});

describe('apps: images', kvmOptions(), () => {
  test('a function binds to the shared code image (exec[0]) by symbol', async () => {
    const def = appDef('shared', [{ elf: fixture('usesshared'), out: 0x1000 }], [], {
      shared: { path: dirname(sharedImage), name: basename(sharedImage) },
    });
    const app = await loadApp(def, resolveOpts);
    const table = [2, 3, 5, 7, 11, 13, 17, 19]; // shared_table in libshared.c
    const mix = (a: bigint, b: bigint) => a * 31n + b; // shared_mix
    try {
      for (let i = 0; i < 5; i++) {
        const input = randomBytes(20 + i, i + 5);
        const r = await app.run(input);
        const s = byteSum(input);
        assert.equal(u64(r.output, 0), (s * s) & M64);
        assert.equal(u64(r.output, 8), mix(1n, 2n));
        assert.equal(u64(r.output, 16), mix(3n, 4n));
        assert.equal(u64(r.output, 24), BigInt(table.reduce((a, b) => a + b, 0)));
      }
    } finally {
      await app.close();
    }
  });

  test("a function's DT_NEEDED library is loaded from its folder and reset", async () => {
    const app = await loadApp(appDef('lib', [{ elf: fixture('useslib'), out: 0x1000 }], []), resolveOpts);
    try {
      for (let i = 0; i < 5; i++) {
        const input = randomBytes(30 + i, i + 9);
        const r = await app.run(input);
        let w = 0n;
        input.forEach((b, j) => (w += BigInt(j + 1) * BigInt(b)));
        assert.equal(u64(r.output, 0), w);
        assert.equal(u64(r.output, 8), 1n);
      }
    } finally {
      await app.close();
    }
  });

  test('an image over 2 MiB is loaded whole', async () => {
    const app = await loadApp(appDef('big', [{ elf: fixture('bigimage'), out: 0x1000 }], []), resolveOpts);
    // sum of c * (i + 1) over three 2^18-entry blocks of constant c (bigimage.c)
    const Q = 1n << 18n;
    let expected = 0n;
    [0x11111111n, 0x22222222n, 0x33333333n].forEach((c, b) => {
      const lo = BigInt(b) * Q + 1n;
      const hi = BigInt(b + 1) * Q;
      expected += (c * ((lo + hi) * (hi - lo + 1n))) / 2n;
    });
    try {
      assert.equal(u64((await app.run(Buffer.alloc(1))).output), expected & M64);
    } finally {
      await app.close();
    }
  });
});

describe('apps: parallel branches', kvmOptions(), () => {
  test('two burn branches overlap in time on 2 vCPUs', async () => {
    const def = appDef(
      'parallel',
      [
        { elf: fixture('echo'), out: 0x1000 },
        { elf: fixture('burn'), inp: 0x1000, out: 0x2000 },
        { elf: fixture('burn'), inp: 0x1000, out: 0x2004 },
        { elf: fixture('original3'), inp: 0x2000, out: 0x3000 },
      ],
      [[0, 1], [0, 2], [1, 3], [2, 3]],
      { vcpus: 2 },
    );
    const app = await loadApp(def, resolveOpts);
    const n = 8;
    const x = burnResult(n);
    try {
      let overlapped = false;
      // Warm-up requests give the core the history that makes it spread.
      for (let i = 0; i < 12 && !overlapped; i++) {
        const r = await app.run(Buffer.from([n]));
        assert.equal(r.output.readUInt32LE(0), x);
        assert.equal(r.output.readUInt32LE(4), x);
        // Sequential branches take at least the sum of both; overlapping ones less.
        if (i >= 2) overlapped = r.dagNs < r.nodeNs[1] + r.nodeNs[2];
      }
      assert.ok(overlapped, 'the two burn nodes never ran at the same time');
    } finally {
      await app.close();
    }
  });
});

describe('apps: state', kvmOptions(), () => {
  test("state: reset isolates requests (counter is 1 every time)", async () => {
    const app = await loadApp(appDef('reset', [{ elf: fixture('counter'), out: 0x1000 }], []), resolveOpts);
    try {
      for (let i = 0; i < 50; i++) assert.equal(u64((await app.run(Buffer.alloc(0))).output), 1n);
    } finally {
      await app.close();
    }
  });

  test('state: keep carries memory over (1, 2, 3, ...)', async () => {
    const app = await loadApp(appDef('keep', [{ elf: fixture('counter'), out: 0x1000 }], [], { state: 'keep' }), resolveOpts);
    try {
      for (let i = 1; i <= 50; i++) assert.equal(u64((await app.run(Buffer.alloc(0))).output), BigInt(i));
    } finally {
      await app.close();
    }
  });
});

describe('apps: pool and queue', kvmOptions(), () => {
  test('10,000 requests through one app, every reply checked', knownKvmAmdLoadBug(), async () => {
    const def = appDef(
      'many',
      [
        { elf: fixture('add1'), out: 0x1000 },
        { elf: fixture('fnv'), inp: 0x1000, out: 0x2000 },
        { elf: fixture('sum'), inp: 0x1000, out: 0x2008 },
        { elf: fixture('original3'), inp: 0x2000, out: 0x3000 },
      ],
      [[0, 1], [0, 2], [1, 3], [2, 3]],
      { instances: 2 },
    );
    const app = await loadApp(def, resolveOpts);
    const total = 10_000;
    let next = 0;
    const used = new Set<number>();
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const input = randomBytes(1 + (i % 64), i + 1);
        const r = await app.run(input);
        used.add(r.instance);
        const a = addN(input, 1);
        assert.equal(u64(r.output, 0), fnv1a64(a), `request ${i}`);
        assert.equal(u64(r.output, 8), byteSum(a), `request ${i}`);
      }
    };
    try {
      await Promise.all([worker(), worker(), worker(), worker()]);
      const st = app.stats();
      assert.equal(st.requests, total);
      assert.deepEqual(st.errors, {});
      assert.equal(st.nodes.length, 4);
      assert.equal(st.nodes[3].count, total);
      assert.deepEqual([...used].sort(), [0, 1]);
      assert.equal(st.instances.total, 2);
      assert.equal(st.memory.length, 2);
      assert.ok(st.memory.every((m) => m.privateBytes > 0));
    } finally {
      await app.close();
    }
  });

  test('requests over the queue limit are refused with BUSY; close drains the queue', async () => {
    const app = await loadApp(appDef('queue', [{ elf: fixture('burn'), out: 0x1000 }], [], { queue_limit: 2 }), resolveOpts);
    const x = burnResult(3);
    const runs = Array.from({ length: 5 }, () => app.run(Buffer.from([3])));
    const closing = app.close();
    await assert.rejects(app.run(Buffer.from([3])), { code: 'CLOSED' });
    const settled = await Promise.allSettled(runs);
    await closing;
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected'],
    );
    for (const s of settled) {
      if (s.status === 'fulfilled') assert.equal(s.value.output.readUInt32LE(0), x);
      else assert.equal((s.reason as { code: string }).code, 'BUSY');
    }
    const queued = settled.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<{ queueNs: number }>).value.queueNs);
    assert.equal(queued[0], 0);
    assert.ok(queued[1] > 0 && queued[2] >= queued[1]);
  });

  test('instances: 0 sizes the pool to the machine', async () => {
    const app = await loadApp(appDef('auto', [{ elf: fixture('noop'), out: 0x1000 }], [], { instances: 0 }), resolveOpts);
    try {
      assert.equal(app.stats().instances.total, availableParallelism());
    } finally {
      await app.close();
    }
  });

  test('a pool serves concurrent requests on different instances', async () => {
    const app = await loadApp(appDef('pool', [{ elf: fixture('burn'), out: 0x1000 }], [], { instances: 3 }), resolveOpts);
    try {
      const rs = await Promise.all([1, 2, 3].map(() => app.run(Buffer.from([2]))));
      assert.deepEqual(rs.map((r) => r.instance).sort(), [0, 1, 2]);
      const st = app.stats();
      assert.equal(st.instanceColdStartUs.length, 3);
      assert.ok(st.instanceColdStartUs.every((us) => us > 0));
      assert.ok(st.coldStartUs > 0);
    } finally {
      await app.close();
    }
  });
});
