/**
 * The seed's own template (docs/original-system.md, "Template syntax") with relative paths: it parses to
 * the seed's app, and it deploys and runs deterministically — every node is
 * the whole edge detector, so the reply is the reference's edge image.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { encodeDefinition, parseDefinition } from '../../src/app/index.js';
import { sobelEdges } from '../../examples/sobel/reference.js';
import { kvmOptions } from '../helpers/kvm.js';
import { loadExample, readExample } from './load.js';
import { generated, samples } from './sobel-inputs.js';

const dir = join(import.meta.dirname, '../../examples/seed');
const file = join(dir, 'seed.tmpl');

test('the seed template parses to the seed app', () => {
  const def = readExample(file);
  assert.equal(def.name, 'sobel_function');
  assert.equal(def.msg_len, 16384);
  assert.equal(def.conn_port, 9981);
  assert.equal(def.pktcnt, 1000);
  assert.deepEqual(def.shared, { path: 'shared_user_code/', name: 'shared_user_code' });
  assert.deepEqual(def.edges, [
    { from: 0, to: 1 },
    { from: 0, to: 2 },
    { from: 1, to: 3 },
    { from: 2, to: 3 },
  ]);
  assert.equal(def.nodes.length, 4);
  for (const n of def.nodes) {
    assert.deepEqual(n.function, { path: 'sobel/', name: 'sobel' });
    assert.equal(n.inp_off, 0);
    assert.equal(n.out_off, 65544);
  }
});

test("the seed template survives the original's 54,008-byte wire form", () => {
  const def = readExample(file);
  const wire = encodeDefinition(def, 'binary');
  assert.equal(wire.length, 54_008);
  assert.deepEqual(parseDefinition(wire), def);
});

test('the seed app runs deterministically in the VM', kvmOptions(), async () => {
  execFileSync('make', ['-s', '-C', dir]);
  const app = await loadExample(file, { conn_port: 0 });
  try {
    const inputs = { ...samples(), 'noise a': generated['noise a'], 'dot top-left': generated['dot top-left'] };
    for (const [name, img] of Object.entries(inputs)) {
      const first = await app.run(img);
      const again = await app.run(img);
      assert.ok(first.output.equals(sobelEdges(img)), `${name}: differs from the reference`);
      assert.ok(again.output.equals(first.output), `${name}: not deterministic`);
    }
  } finally {
    await app.close();
  }
});
