/**
 * Pictures in and out of 128×128 8-bit grayscale, the sobel app's request
 * format (used by `ataru invoke --file` and examples/sobel/picture.ts).
 *
 * toGray128: PNG or JPEG → crop the centred square → gray → 128×128.
 *  - gray = (77 R + 150 G + 29 B + 128) >> 8 (BT.601 weights in 8.8 fixed
 *    point), after compositing any transparency over white;
 *  - resize = area averaging (each output pixel is the mean of the source
 *    area it covers, fractional pixels weighted by coverage), rounded to
 *    nearest. It never aliases when shrinking and is exact replication when
 *    enlarging by an integer factor.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { AtaruError } from './errors.js';

export const GRAY_SIDE = 128;

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff]);
const MAX_JPEG_MP = 64;

interface Rgba {
  width: number;
  height: number;
  data: Uint8Array; // RGBA, row-major
}

function decode(buf: Buffer): Rgba {
  try {
    if (buf.subarray(0, 8).equals(PNG_MAGIC)) return PNG.sync.read(buf);
    if (buf.subarray(0, 3).equals(JPEG_MAGIC)) {
      return jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_JPEG_MP });
    }
  } catch (err) {
    throw new AtaruError('BAD_REQUEST', `cannot decode image: ${(err as Error).message}`);
  }
  throw new AtaruError('BAD_REQUEST', 'not a PNG or JPEG image');
}

function toGray(img: Rgba): Uint8Array {
  const gray = new Uint8Array(img.width * img.height);
  const d = img.data;
  for (let i = 0, p = 0; i < gray.length; i++, p += 4) {
    const y = (77 * d[p] + 150 * d[p + 1] + 29 * d[p + 2] + 128) >> 8;
    const a = d[p + 3];
    gray[i] = Math.floor((y * a + 255 * (255 - a) + 127) / 255);
  }
  return gray;
}

/** Weights of each source index for `to` outputs covering `from` inputs. */
function areaWeights(from: number, to: number): { start: number; w: number[] }[] {
  const scale = from / to;
  const out = [];
  for (let i = 0; i < to; i++) {
    const lo = i * scale;
    const hi = lo + scale;
    const start = Math.floor(lo);
    const w: number[] = [];
    for (let j = start; j < hi && j < from; j++) w.push((Math.min(hi, j + 1) - Math.max(lo, j)) / scale);
    out.push({ start, w });
  }
  return out;
}

/** Area-average resample of a w×h plane (separable: rows, then columns). */
function resize(src: Float64Array, w: number, h: number, ow: number, oh: number): Float64Array {
  const wx = areaWeights(w, ow);
  const wy = areaWeights(h, oh);
  const rows = new Float64Array(ow * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      const { start, w: k } = wx[x];
      let s = 0;
      for (let j = 0; j < k.length; j++) s += k[j] * src[y * w + start + j];
      rows[y * ow + x] = s;
    }
  }
  const out = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const { start, w: k } = wy[y];
      let s = 0;
      for (let j = 0; j < k.length; j++) s += k[j] * rows[(start + j) * ow + x];
      out[y * ow + x] = s;
    }
  }
  return out;
}

/** A PNG or JPEG as the 16,384-byte 128×128 grayscale the sobel app reads. */
export function toGray128(buf: Buffer): Buffer {
  const img = decode(buf);
  const gray = toGray(img);
  const side = Math.min(img.width, img.height);
  const x0 = (img.width - side) >> 1;
  const y0 = (img.height - side) >> 1;
  const square = new Float64Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) square[y * side + x] = gray[(y0 + y) * img.width + x0 + x];
  }
  const small = resize(square, side, side, GRAY_SIDE, GRAY_SIDE);
  return Buffer.from(small.map((v) => Math.min(255, Math.max(0, Math.round(v)))));
}

/** An 8-bit grayscale PNG of `buf` (width × height bytes, row-major). */
export function grayToPng(buf: Buffer, width: number, height: number): Buffer {
  if (buf.length !== width * height) {
    throw new AtaruError('BAD_REQUEST', `gray image of ${width}x${height} needs ${width * height} bytes, got ${buf.length}`);
  }
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8 });
  png.data = Buffer.from(buf);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0 });
}
