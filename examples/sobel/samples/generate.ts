/**
 * Draws the sample pictures and their expected edge images (by the
 * TypeScript reference). Run from the repository root:
 *   npx tsx examples/sobel/samples/generate.ts
 * The expected NAME.edges.png are checked by test/examples/sobel.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { grayToPng, toGray128 } from '../../../src/image.js';
import { sobelEdges } from '../reference.js';

const here = dirname(fileURLToPath(import.meta.url));
type Rgb = [number, number, number];
type Paint = (x: number, y: number) => Rgb | undefined;

function draw(width: number, height: number, layers: Paint[]): { width: number; height: number; data: Buffer } {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let c: Rgb = [0, 0, 0];
      for (const paint of layers) c = paint(x, y) ?? c;
      data.set([...c, 255], (y * width + x) * 4);
    }
  }
  return { width, height, data };
}

function png(img: { width: number; height: number; data: Buffer }): Buffer {
  const p = new PNG({ width: img.width, height: img.height });
  p.data = img.data;
  return PNG.sync.write(p);
}

// A 5×7 block font for a text-like pattern.
const GLYPHS: Record<string, string[]> = {
  A: ['01110', '10001', '10001', '11111', '10001', '10001', '10001'],
  T: ['11111', '00100', '00100', '00100', '00100', '00100', '00100'],
  R: ['11110', '10001', '10001', '11110', '10100', '10010', '10001'],
  U: ['10001', '10001', '10001', '10001', '10001', '10001', '01110'],
};

function text(s: string, x0: number, y0: number, scale: number, color: Rgb): Paint {
  return (x, y) => {
    const cx = Math.floor((x - x0) / scale);
    const cy = Math.floor((y - y0) / scale);
    const ch = s[Math.floor(cx / 6)];
    if (cy < 0 || cy >= 7 || cx < 0 || !ch || cx % 6 === 5) return undefined;
    return GLYPHS[ch][cy][cx % 6] === '1' ? color : undefined;
  };
}

const samples: Record<string, Buffer> = {
  'shapes.png': png(
    draw(200, 160, [
      () => [40, 90, 160],
      (x, y) => ((x - 70) ** 2 + (y - 80) ** 2 < 45 ** 2 ? [240, 200, 40] : undefined),
      (x, y) => (x > 110 && x < 180 && y > 30 && y < 100 ? [200, 40, 40] : undefined),
      (x, y) => (y > 110 && y < 150 && Math.abs(x - 150) < (y - 110) ? [250, 250, 250] : undefined),
    ]),
  ),
  'gradient.png': png(
    draw(128, 128, [
      (x, y) => {
        const v = Math.round(Math.hypot(x - 64, y - 64) * 3) % 256;
        return [v, v, v];
      },
      (x) => (x >= 96 ? [x * 2 - 1, x * 2 - 1, x * 2 - 1] : undefined),
    ]),
  ),
  'text.png': png(
    draw(256, 256, [() => [255, 255, 255], text('ATARU', 20, 100, 7, [20, 20, 20])]),
  ),
  'checker.jpg': jpeg.encode(
    draw(160, 120, [
      (x, y) => ((Math.floor(x / 16) + Math.floor(y / 16)) % 2 ? [220, 220, 220] : [30, 30, 30]),
      (x, y) => (y > 80 && x % 8 < 3 ? [200, 60, 60] : undefined),
    ]),
    90,
  ).data,
};

for (const [name, bytes] of Object.entries(samples)) {
  writeFileSync(join(here, name), bytes);
  const edges = Buffer.from(sobelEdges(toGray128(bytes)));
  writeFileSync(join(here, name.replace(/\.\w+$/, '.edges.png')), grayToPng(edges, 128, 128));
}
