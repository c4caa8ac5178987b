/**
 * Inputs for the sobel tests: the sample pictures (as 128×128 gray) and
 * generated images that probe the arithmetic and the border handling.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GRAY_SIDE as SIDE, toGray128 } from '../../src/image.js';
import { randomBytes } from '../helpers/random.js';

export const SAMPLES_DIR = join(import.meta.dirname, '../../examples/sobel/samples');

function image(f: (x: number, y: number) => number): Buffer {
  const b = Buffer.alloc(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) for (let x = 0; x < SIDE; x++) b[y * SIDE + x] = f(x, y) & 0xff;
  return b;
}

function dot(px: number, py: number, v = 255): Buffer {
  return image((x, y) => (x === px && y === py ? v : 0));
}

const last = SIDE - 1;

export const generated: Record<string, Buffer> = {
  'flat 0': image(() => 0),
  'flat 255': image(() => 255),
  'flat 77': image(() => 77),
  'gradient x': image((x) => x * 2),
  'gradient y': image((_, y) => 255 - y * 2),
  'gradient diagonal': image((x, y) => x + y),
  'checkerboard 1px': image((x, y) => ((x + y) % 2 ? 255 : 0)),
  'stripes 2px': image((x) => (x & 2 ? 255 : 0)),
  'noise a': randomBytes(SIDE * SIDE, 1),
  'noise b': randomBytes(SIDE * SIDE, 0xdeadbeef),
  'dot top-left': dot(0, 0),
  'dot top-right': dot(last, 0),
  'dot bottom-left': dot(0, last),
  'dot bottom-right': dot(last, last),
  'dot top edge': dot(64, 0),
  'dot left edge': dot(0, 77),
  'dot right edge': dot(last, 3),
  'dot bottom edge': dot(1, last),
  'dot centre': dot(64, 64),
  'dark dot on white': image((x, y) => (x === last && y === 64 ? 0 : 255)),
};

/** Sample picture name → its 128×128 gray request. */
export function samples(): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const f of readdirSync(SAMPLES_DIR)) {
    if (/\.(png|jpg)$/.test(f) && !f.includes('.edges.')) out[f] = toGray128(readFileSync(join(SAMPLES_DIR, f)));
  }
  return out;
}
