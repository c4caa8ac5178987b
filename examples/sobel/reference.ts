/**
 * The sobel app's algorithm in TypeScript, written from its definition (not
 * from the C): the VM's output must be byte-identical to sobelEdges().
 *
 *   smooth:    3×3 Gaussian (1 2 1 / 2 4 2 / 1 2 1), floor((sum + 8) / 16)
 *   gradients: Sobel Gx = (-1 0 1 / -2 0 2 / -1 0 1), Gy = its transpose,
 *              on the smoothed image, as int16
 *   magnitude: min(floor(sqrt(gx² + gy²)), 255)
 * Every 3×3 window reads outside pixels as the nearest edge pixel.
 */
export const WIDTH = 128;
export const HEIGHT = 128;

type Kernel = readonly number[]; // 9 weights, row by row

const GAUSS: Kernel = [1, 2, 1, 2, 4, 2, 1, 2, 1];
const SOBEL_X: Kernel = [-1, 0, 1, -2, 0, 2, -1, 0, 1];
const SOBEL_Y: Kernel = [-1, -2, -1, 0, 0, 0, 1, 2, 1];

function convolve(img: Uint8Array, w: number, h: number, k: Kernel): Int32Array {
  const out = new Int32Array(w * h);
  const at = (x: number, y: number) =>
    img[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let i = 0; i < 9; i++) sum += k[i] * at(x + (i % 3) - 1, y + Math.floor(i / 3) - 1);
      out[y * w + x] = sum;
    }
  }
  return out;
}

export function smooth(img: Uint8Array, w = WIDTH, h = HEIGHT): Uint8Array {
  return Uint8Array.from(convolve(img, w, h, GAUSS), (s) => Math.min(255, Math.floor((s + 8) / 16)));
}

export function gradients(smoothed: Uint8Array, w = WIDTH, h = HEIGHT): { gx: Int16Array; gy: Int16Array } {
  return {
    gx: Int16Array.from(convolve(smoothed, w, h, SOBEL_X)),
    gy: Int16Array.from(convolve(smoothed, w, h, SOBEL_Y)),
  };
}

export function magnitude(gx: Int16Array, gy: Int16Array): Uint8Array {
  return Uint8Array.from(gx, (x, i) => Math.min(255, Math.floor(Math.sqrt(x * x + gy[i] * gy[i]))));
}

/** The whole app: a 128×128 gray image in, its edge image out. */
export function sobelEdges(img: Uint8Array, w = WIDTH, h = HEIGHT): Uint8Array {
  const { gx, gy } = gradients(smooth(img, w, h), w, h);
  return magnitude(gx, gy);
}
