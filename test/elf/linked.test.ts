/**
 * Dynamically linked functions run in a VM: one bound to exec[0] and one
 * using a DT_NEEDED library from its own folder. Expected outputs are
 * computed here from what the fixture sources say they compute.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { basename, dirname, join } from 'node:path';
import { DEFAULTS, type AppDefinition } from '../../src/app/model.js';
import type { App } from '../../src/runtime/app.js';
import { buildFixtures, fixture, sharedImage } from '../fixtures/functions/fixtures.js';
import { kvmOptions } from '../helpers/kvm.js';

const ref = (file: string) => ({ path: dirname(file), name: basename(file) });
let app: App | undefined;

before(async () => {
  if (kvmOptions().skip) return;
  buildFixtures();
  const { loadApp } = await import('../../src/runtime/app.js');
  const def: AppDefinition = {
    ...DEFAULTS,
    name: 'linked',
    msg_len: 4096,
    instances: 1,
    shared: ref(sharedImage),
    nodes: [
      { id: 'usesshared', function: ref(fixture('usesshared')), inp_off: 0, out_off: 0x10000 },
      { id: 'useslib', function: ref(fixture('useslib')), inp_off: 0, out_off: 0x20000 },
    ],
    edges: [],
  };
  app = await loadApp(def, { resolve: (r) => join(r.path, r.name) });
});
after(() => app?.close());

const u64s = (buf: Buffer) => Array.from({ length: buf.length / 8 }, (_, i) => buf.readBigUInt64LE(i * 8));

test('exec[0] and a DT_NEEDED library are bound and called', kvmOptions(), async () => {
  const input = Buffer.from([1, 2, 3, 250]);
  const sum = BigInt(input.reduce((a, b) => a + b, 0));
  const mix = (a: bigint, b: bigint) => a * 31n + b; // shared/libshared.c
  const table = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n].reduce((a, b) => a + b);
  const weight = input.reduce((w, b, i) => w + BigInt((i + 1) * b), 0n); // libhelper.c
  for (let round = 0; round < 2; round++) {
    const r = await app!.run(input);
    assert.deepEqual(r.sinkLengths, [32, 16]);
    // usesshared: square(sum) via JUMP_SLOT, mix via R_X86_64_64 and GLOB_DAT pointers, the COPY'd table.
    assert.deepEqual(u64s(r.output.subarray(0, 32)), [sum * sum, mix(1n, 2n), mix(3n, 4n), table]);
    // useslib: the library's own counter is 1 after every reset (it is the library's variable).
    assert.deepEqual(u64s(r.output.subarray(32)), [weight, 1n]);
  }
});
