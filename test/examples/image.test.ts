/**
 * src/image.ts: pictures to the sobel app's 128×128 gray and back — the
 * gray weights, transparency over white, the centred square crop, the
 * area-average resize, JPEG input and the errors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { AtaruError } from '../../src/errors.js';
import { grayToPng, toGray128 } from '../../src/image.js';

type Rgba = [number, number, number, number];

function png(width: number, height: number, px: (x: number, y: number) => Rgba): Buffer {
  const p = new PNG({ width, height });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) p.data.set(px(x, y), (y * width + x) * 4);
  return PNG.sync.write(p);
}

test('a 128×128 gray picture round-trips exactly', () => {
  const gray = Buffer.from(Array.from({ length: 128 * 128 }, (_, i) => (i * 7) & 0xff));
  assert.ok(toGray128(grayToPng(gray, 128, 128)).equals(gray));
});

test('colour to gray uses the BT.601 weights; transparency shows white', () => {
  const out = toGray128(png(128, 128, (x) => (x < 64 ? [255, 0, 0, 255] : [0, 0, 255, 0])));
  assert.equal(out[0], (77 * 255 + 128) >> 8); // pure red
  assert.equal(out[127], 255); // fully transparent
});

test('shrinking averages each covered area (2×2 blocks → their mean)', () => {
  const v = (x: number, y: number) => (x * 3 + y * 5) % 256;
  const big = png(256, 256, (x, y) => {
    const g = v(x, y);
    return [g, g, g, 255];
  });
  const out = toGray128(big);
  for (const [x, y] of [[0, 0], [17, 90], [127, 127], [64, 3]]) {
    const mean = (v(2 * x, 2 * y) + v(2 * x + 1, 2 * y) + v(2 * x, 2 * y + 1) + v(2 * x + 1, 2 * y + 1)) / 4;
    assert.equal(out[y * 128 + x], Math.round(mean), `pixel ${x},${y}`);
  }
});

test('a wide picture is cropped to its centred square', () => {
  // 200×128: the centred square is columns 36..163; everything else is white.
  const out = toGray128(png(200, 128, (x) => (x >= 36 && x < 164 ? [0, 0, 0, 255] : [255, 255, 255, 255])));
  assert.ok(out.every((g) => g === 0));
});

test('JPEG input decodes', () => {
  const data = Buffer.alloc(128 * 128 * 4, 200);
  const out = toGray128(jpeg.encode({ width: 128, height: 128, data }, 100).data);
  assert.ok(out.every((g) => Math.abs(g - 200) <= 2));
});

test('anything else is a BAD_REQUEST', () => {
  assert.throws(() => toGray128(Buffer.from('GIF89a...')), (e: AtaruError) => e.code === 'BAD_REQUEST');
  assert.throws(() => toGray128(Buffer.concat([png(4, 4, () => [0, 0, 0, 255]).subarray(0, 30)])), (e: AtaruError) => e.code === 'BAD_REQUEST');
  assert.throws(() => grayToPng(Buffer.alloc(10), 4, 4), (e: AtaruError) => e.code === 'BAD_REQUEST');
});
