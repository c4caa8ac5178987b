/**
 * The workloads in JavaScript, as source text for the Node `vm` peer: each
 * is a function expression (input: Uint8Array) => Uint8Array, compiled once
 * and run in a new context per request. Written from the algorithms'
 * definitions; the answer check compares them with the C.
 */
export const JS_NOOP = `(function (input) { return new Uint8Array(0); })`;

/* 64-bit FNV-1a on two 32-bit halves: h * 0x100000001b3 = h * 0x1b3 + (h << 40). */
export const JS_FNV = `(function (input) {
  const floor = Math.floor;
  let lo = 0x84222325, hi = 0xcbf29ce4;
  for (let i = 0; i < input.length; i++) {
    lo = (lo ^ input[i]) >>> 0;
    const l = lo * 0x1b3;
    hi = (hi * 0x1b3 + floor(l / 4294967296) + ((lo << 8) >>> 0)) >>> 0;
    lo = l >>> 0;
  }
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint32(0, lo, true);
  v.setUint32(4, hi, true);
  return out;
})`;

/* Smooth (Gaussian, rounded /16), Sobel gx/gy, magnitude; borders clamp.
 * Globals are read once into locals: in a vm context every global lookup
 * goes through the contextified sandbox's interceptors (~10× slower). */
export const JS_SOBEL = `(function (input) {
  const { min, max, sqrt, floor } = Math;
  const I32 = Int32Array, U8 = Uint8Array;
  const W = 128, H = 128, N = W * H;
  function conv(src, k) {
    const out = new I32(N);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = min(H - 1, max(0, y + dy)) * W;
          for (let dx = -1; dx <= 1; dx++) {
            s += k[(dy + 1) * 3 + dx + 1] * src[yy + min(W - 1, max(0, x + dx))];
          }
        }
        out[y * W + x] = s;
      }
    }
    return out;
  }
  const sm = conv(input, [1, 2, 1, 2, 4, 2, 1, 2, 1]);
  const smooth = new U8(N);
  for (let i = 0; i < N; i++) smooth[i] = min(255, (sm[i] + 8) >> 4);
  const gx = conv(smooth, [-1, 0, 1, -2, 0, 2, -1, 0, 1]);
  const gy = conv(smooth, [-1, -2, -1, 0, 0, 0, 1, 2, 1]);
  const out = new U8(N);
  for (let i = 0; i < N; i++) out[i] = min(255, floor(sqrt(gx[i] * gx[i] + gy[i] * gy[i])));
  return out;
})`;
