/**
 * Init hooks and templates (native/template.c): ataru_init runs once per
 * app version, every request and instance starts from the memory it left,
 * instances share that memory copy-on-write, a stored template survives a
 * restart, and pools follow load between min_instances and max_instances.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { AppDefinition } from '../../src/app/model.js';
import { AtaruError } from '../../src/errors.js';
import { loadApp, type App } from '../../src/runtime/app.js';
import type { LoadOptions } from '../../src/runtime/types.js';
import { kvmOptions } from '../helpers/kvm.js';
import { scaled, scaledTimeout } from '../helpers/scale.js';
import { appDef, burnResult, fixture, resolveOpts, sharedImage, u64 } from './helpers.js';

/** What initcount.c's ataru_init leaves: the table's sum and the marker. */
const WORDS = 256 * 1024;
function tableSum(): bigint {
  let sum = 0n;
  for (let i = 0; i < WORDS; i++) sum += BigInt(Math.imul(i, 2654435761) >>> 0);
  return sum;
}
const SUM = tableSum();
const MARKER = 0xa7a2n;

const tmp = mkdtempSync(join(tmpdir(), 'ataru-init-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Load options that collect the function log lines. */
function withLogs(extra: Partial<LoadOptions> = {}): { opts: LoadOptions; lines: string[] } {
  const lines: string[] = [];
  return { opts: { ...resolveOpts, ...extra, onLog: (l) => lines.push(l.message) }, lines };
}

const counting = (extra: Partial<AppDefinition> = {}, elf = fixture('initcount')) =>
  appDef('initcount', [{ elf, out: 0x1000 }], [], { msg_len: 64, ...extra });

/** One request's answer from initcount.c. */
async function ask(app: App, input = Buffer.from('r')) {
  const r = await app.run(input);
  return { inits: u64(r.output, 0), sum: u64(r.output, 8), requests: u64(r.output, 16), marker: u64(r.output, 24), instance: r.instance };
}

/** Waits for a condition (no timing is asserted: the limit only ends a hang). */
async function until(what: string, cond: () => boolean, ms = scaledTimeout(20_000)): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('init hooks and templates', kvmOptions(), () => {
  test('ataru_init runs once per version, not per instance or request; every request starts from its memory', async () => {
    const { opts, lines } = withLogs();
    const app = await loadApp(counting({ instances: 3 }), opts);
    try {
      const seen = new Set<number>();
      for (let round = 0; round < scaled(20, 4); round++) {
        const answers = await Promise.all([ask(app), ask(app), ask(app)]);
        for (const a of answers) {
          assert.equal(a.inits, 1n);
          assert.equal(a.sum, SUM);
          assert.equal(a.requests, 1n, 'a request saw an earlier request of its instance');
          assert.equal(a.marker, MARKER, "init's write to the shared region is part of the clean state");
          seen.add(a.instance);
        }
      }
      assert.ok(seen.size >= 2, `requests reached ${seen.size} instance(s)`);
      await until('the init log line', () => lines.length >= 1);
      assert.deepEqual(lines, ['init ran']);
      const t = app.stats().template;
      assert.ok(t, 'the app has a template');
      assert.equal(t.inits, 1);
      assert.equal(t.fromStore, false);
      assert.ok(t.dataBytes >= WORDS * 4, `the template holds the table (${t.dataBytes} bytes)`);
    } finally {
      await app.close();
    }
  });

  test("a request's writes reach neither the next request nor another instance", async () => {
    const app = await loadApp(counting({ instances: 2 }), resolveOpts);
    try {
      for (let i = 0; i < scaled(30, 6); i++) {
        const [w, r] = await Promise.all([ask(app, Buffer.from('w')), ask(app)]);
        for (const a of [w, r]) {
          assert.equal(a.inits, 1n);
          assert.equal(a.sum, SUM);
          assert.equal(a.requests, 1n);
          assert.equal(a.marker, MARKER);
        }
        const next = await ask(app);
        assert.equal(next.sum, SUM, 'the scribbled table was reset');
        assert.equal(next.inits, 1n);
      }
    } finally {
      await app.close();
    }
  });

  test('state: keep starts from init\'s memory and then keeps its own', async () => {
    const app = await loadApp(counting({ state: 'keep' }), resolveOpts);
    try {
      for (let i = 1; i <= 5; i++) {
        const a = await ask(app);
        assert.equal(a.inits, 1n);
        assert.equal(a.sum, SUM);
        assert.equal(a.requests, BigInt(i));
      }
    } finally {
      await app.close();
    }
  });

  test("exec[0]'s hook runs first, then each node's", async () => {
    const def = appDef('initorder', [{ elf: fixture('initorder'), out: 0x1000 }], [], {
      shared: { path: dirname(sharedImage), name: 'libinit.so' },
    });
    const app = await loadApp(def, resolveOpts);
    try {
      const r = await app.run(Buffer.from('x'));
      assert.deepEqual([u64(r.output, 0), u64(r.output, 8), u64(r.output, 16)], [1n, 0x5eedn, 0x5eedn]);
      assert.equal(app.stats().template?.inits, 2);
    } finally {
      await app.close();
    }
  });

  for (const [name, expect] of [
    ['initfail', /node 1 \(initfail\.elf\).*returned error -7/],
    ['initfault', /ataru_init: node 1 \(initfault\.elf\).*(null|0x0|page fault)/i],
    ['initspin', /ataru_init: node 1 \(initspin\.elf\).*timeout/i],
  ] as const) {
    test(`a deploy whose hook fails cleanly names the node (${name})`, async () => {
      // Node 0 is a healthy function: the failing hook is node 1's.
      const def = appDef('bad-init', [{ elf: fixture('add1'), out: 0x1000 }, { elf: fixture(name), inp: 0x1000, out: 0x2000 }], [[0, 1]], {
        timeout_ms: 300,
      });
      await assert.rejects(loadApp(def, resolveOpts), (err: unknown) => {
        assert.ok(err instanceof AtaruError);
        assert.equal(err.code, 'INIT_FAILED');
        assert.match(err.message, expect);
        assert.equal(err.location?.node, 1);
        return true;
      });
    });
  }

  test('idle instances share the template: private memory of each stays far below the table it reads', async () => {
    const n = 4;
    const app = await loadApp(counting({ instances: n }), resolveOpts);
    try {
      for (let i = 0; i < n * 3; i++) await Promise.all([ask(app), ask(app)]);
      const s = app.stats();
      const t = s.template;
      assert.ok(t);
      assert.equal(s.memory.length, n);
      for (const m of s.memory) {
        // Each instance read the whole 1 MiB table: were it loaded per
        // instance, it would be private here.
        assert.ok(m.privateBytes < t.dataBytes / 4, `an instance holds ${m.privateBytes} private bytes of ${t.dataBytes}`);
        assert.ok(m.pssBytes >= m.privateBytes);
        assert.ok(m.pssBytes < t.dataBytes, `PSS ${m.pssBytes} counts shared pages once per sharer`);
      }
    } finally {
      await app.close();
    }
  });

  test('a stored template survives a restart; a changed binary or reinit runs init again', async () => {
    const dir = join(tmp, 'templates');
    const fnDir = mkdtempSync(join(tmp, 'fn-'));
    const elf = join(fnDir, 'initcount.elf');
    copyFileSync(fixture('initcount'), elf);
    const def = counting({ instances: 2 }, elf);
    const deploy = async (reinit = false) => {
      const { opts, lines } = withLogs({ templateStore: { dir, reinit } });
      const app = await loadApp(def, opts);
      try {
        const a = await ask(app);
        assert.equal(a.inits, 1n);
        assert.equal(a.sum, SUM);
        assert.equal(a.marker, MARKER);
        const t = app.stats().template;
        assert.ok(t);
        // Log lines arrive on the event loop: give them a turn.
        await new Promise((r) => setTimeout(r, 50));
        return { fromStore: t.fromStore, initLines: lines.filter((l) => l === 'init ran').length };
      } finally {
        await app.close();
      }
    };
    assert.deepEqual(await deploy(), { fromStore: false, initLines: 1 });
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.tpl')).length, 1);
    assert.deepEqual(await deploy(), { fromStore: true, initLines: 0 }, 'the restart mapped the stored template');
    assert.deepEqual(await deploy(true), { fromStore: false, initLines: 1 }, 'reinit ran init again');
    // Same bytes plus a trailing byte: another fingerprint, another template.
    writeFileSync(elf, Buffer.concat([readFileSync(fixture('initcount')), Buffer.alloc(1)]));
    assert.deepEqual(await deploy(), { fromStore: false, initLines: 1 }, 'a changed binary ran init again');
  });

  test('a damaged stored template is not used: init runs again', async () => {
    const dir = join(tmp, 'damaged');
    const opts = { ...resolveOpts, templateStore: { dir } };
    const first = await loadApp(counting(), opts);
    await first.close();
    const [file] = readdirSync(dir).filter((f) => f.endsWith('.tpl'));
    // Overwrite the header's layout numbers with garbage.
    const fd = await open(join(dir, file), 'r+');
    await fd.write(Buffer.alloc(64, 0xff), 0, 64, 148);
    await fd.close();
    const app = await loadApp(counting(), opts);
    try {
      assert.equal(app.stats().template?.fromStore, false);
      const a = await ask(app);
      assert.equal(a.sum, SUM);
    } finally {
      await app.close();
    }
  });

  test('the pool grows under queueing up to max_instances and releases idle instances down to min_instances', async () => {
    const def = appDef('elastic', [{ elf: fixture('burn'), out: 0x1000 }], [], {
      msg_len: 1,
      min_instances: 1,
      max_instances: 3,
      idle_release_ms: 100,
      timeout_ms: 60_000,
    });
    const app = await loadApp(def, resolveOpts);
    try {
      assert.equal(app.stats().instances.total, 1);
      const burst = Array.from({ length: 9 }, () => app.run(Buffer.from([2])));
      const results = await Promise.all(burst);
      const want = Buffer.alloc(4);
      want.writeUInt32LE(burnResult(2));
      for (const r of results) assert.deepEqual(r.output, want);
      // The instances are made off the request path: they may land after the burst.
      await until('the pool grew', () => app.stats().instances.grown >= 1);
      const grown = app.stats().instances;
      assert.ok(grown.total <= 3 && grown.grown <= 2, `at most max_instances (${JSON.stringify(grown)})`);
      await until('idle instances released', () => app.stats().instances.total === 1);
      const s = app.stats().instances;
      assert.equal(s.min, 1);
      assert.equal(s.max, 3);
      assert.ok(s.released >= 1);
      // Still serves, from what is left.
      assert.equal((await app.run(Buffer.from([1]))).output.length, 4);
    } finally {
      await app.close();
    }
  });
});
