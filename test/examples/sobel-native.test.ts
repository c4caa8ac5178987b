/**
 * The sobel app's C, run natively on the host (examples/sobel/host.c), is
 * byte-identical to the TypeScript reference: the algorithm check without a
 * VM. sobel.test.ts does the same through the VM.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { sobelEdges } from '../../examples/sobel/reference.js';
import { generated, samples } from './sobel-inputs.js';
import { GRAY_SIDE as SIDE } from '../../src/image.js';

const dir = join(import.meta.dirname, '../../examples/sobel');

test('native sobel C matches the reference on samples and generated images', () => {
  execFileSync('make', ['-s', '-C', dir, 'build/host/sobel-host']);
  const inputs = { ...samples(), ...generated };
  const names = Object.keys(inputs);
  const out = execFileSync(join(dir, 'build/host/sobel-host'), { input: Buffer.concat(Object.values(inputs)) });
  assert.equal(out.length, names.length * SIDE * SIDE);
  names.forEach((name, i) => {
    const got = out.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE);
    assert.ok(got.equals(sobelEdges(inputs[name])), `${name}: C and reference differ`);
  });
});
