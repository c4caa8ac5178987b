/**
 * The sobel app in the VM (loadApp, one instance): byte-identical to the
 * TypeScript reference on the sample pictures and on generated images; the
 * checked-in expected edge PNGs are the reference's; the JSON form is the
 * same app as the template.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import type { App } from '../../src/runtime/index.js';
import { sobelEdges } from '../../examples/sobel/reference.js';
import { kvmOptions } from '../helpers/kvm.js';
import { loadExample, readExample } from './load.js';
import { generated, samples, SAMPLES_DIR } from './sobel-inputs.js';
import { GRAY_SIDE as SIDE } from '../../src/image.js';

const dir = join(import.meta.dirname, '../../examples/sobel');

test('the expected edge PNGs are the reference edges of the samples', () => {
  const inputs = samples();
  assert.ok(Object.keys(inputs).length >= 4);
  for (const [name, gray] of Object.entries(inputs)) {
    const png = PNG.sync.read(readFileSync(join(SAMPLES_DIR, name.replace(/\.\w+$/, '.edges.png'))));
    assert.equal(png.width, SIDE);
    assert.equal(png.height, SIDE);
    const edges = Buffer.from(Array.from({ length: SIDE * SIDE }, (_, i) => png.data[i * 4]));
    assert.ok(edges.equals(sobelEdges(gray)), `${name}: expected PNG differs from the reference`);
  }
});

test('sobel.json is the same app as sobel.tmpl', () => {
  assert.deepEqual(readExample(join(dir, 'sobel.json')), readExample(join(dir, 'sobel.tmpl')));
});

describe('sobel app in the VM', kvmOptions(), () => {
  let app: App;
  before(async () => {
    execFileSync('make', ['-s', '-C', dir]);
    app = await loadExample(join(dir, 'sobel.tmpl'));
  });
  after(() => app?.close());

  test('byte-identical to the reference on samples and generated images', async () => {
    for (const [name, img] of Object.entries({ ...samples(), ...generated })) {
      const r = await app.run(img);
      assert.deepEqual(r.sinkLengths, [SIDE * SIDE], name);
      assert.ok(r.output.equals(sobelEdges(img)), `${name}: VM output differs from the reference`);
    }
  });

  test('with 2 vCPUs (gradx and grady may run at once) the output is the same', async () => {
    const two = await loadExample(join(dir, 'sobel.tmpl'), { vcpus: 2 });
    try {
      for (const [name, img] of Object.entries({ ...samples(), 'noise b': generated['noise b'] })) {
        assert.ok((await two.run(img)).output.equals(sobelEdges(img)), `${name}: differs with 2 vCPUs`);
      }
    } finally {
      await two.close();
    }
  });

  test('a short request fails in node 0 (smooth) with its error code', async () => {
    await assert.rejects(app.run(Buffer.alloc(100)), (e: { code?: string; location?: { node?: number } }) => {
      assert.equal(e.code, 'FUNCTION_ERROR');
      assert.equal(e.location?.node, 0);
      return true;
    });
  });
});
