/* imageops.c — see imageops.h. */
#include "imageops.h"

/* -O2 vectorises only loops that need no scalar epilogue; the pixel loops
 * here are where an image's time goes, so let the cost model decide. */
#pragma GCC optimize("vect-cost-model=dynamic")

/* Sum of k applied around (x, y), reading outside pixels as the nearest
 * edge pixel (replicated borders). */
static inline int32_t conv_at(const uint8_t *src, int w, int h, const int8_t k[9], int x, int y) {
  int32_t sum = 0;
  for (int dy = -1; dy <= 1; dy++) {
    int yy = y + dy < 0 ? 0 : (y + dy >= h ? h - 1 : y + dy);
    const uint8_t *row = src + (long)yy * w;
    for (int dx = -1; dx <= 1; dx++) {
      int xx = x + dx < 0 ? 0 : (x + dx >= w ? w - 1 : x + dx);
      sum += k[(dy + 1) * 3 + (dx + 1)] * row[xx];
    }
  }
  return sum;
}

/* The 3×3 sums of row y into out[0..w). Interior pixels take a tight loop
 * the compiler vectorises (the weights are copied to locals: a store to a
 * uint8_t image may alias the kernel); only the edge pixels clamp. */
static inline void conv_row(const uint8_t *src, int w, int h, const int8_t k[9], int y,
                            int32_t *out) {
  if (y == 0 || y == h - 1 || w < 3) {
    for (int x = 0; x < w; x++) out[x] = conv_at(src, w, h, k, x, y);
    return;
  }
  const int32_t k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5], k6 = k[6],
                k7 = k[7], k8 = k[8];
  const uint8_t *a = src + (long)(y - 1) * w, *b = a + w, *c = b + w;
  out[0] = conv_at(src, w, h, k, 0, y);
  for (int x = 1; x < w - 1; x++) {
    out[x] = k0 * a[x - 1] + k1 * a[x] + k2 * a[x + 1] + k3 * b[x - 1] + k4 * b[x] +
             k5 * b[x + 1] + k6 * c[x - 1] + k7 * c[x] + k8 * c[x + 1];
  }
  out[w - 1] = conv_at(src, w, h, k, w - 1, y);
}

static inline uint8_t clamp_u8(int32_t v) { return v < 0 ? 0 : (v > 255 ? 255 : (uint8_t)v); }

void img_conv3x3_u8(const uint8_t *src, int w, int h, const int8_t k[9], int shift,
                    uint8_t *dst) {
  int32_t round = shift > 0 ? 1 << (shift - 1) : 0;
  int32_t sums[w];
  for (int y = 0; y < h; y++) {
    conv_row(src, w, h, k, y, sums);
    for (int x = 0; x < w; x++) dst[(long)y * w + x] = clamp_u8((sums[x] + round) >> shift);
  }
}

void img_conv3x3_i16(const uint8_t *src, int w, int h, const int8_t k[9], int16_t *dst) {
  int32_t sums[w];
  for (int y = 0; y < h; y++) {
    conv_row(src, w, h, k, y, sums);
    for (int x = 0; x < w; x++) dst[(long)y * w + x] = (int16_t)sums[x];
  }
}

/* min(floor(sqrt(s)), 255): the 8 result bits from the top, each kept if
 * its square still fits. Exact, no floating point, and straight-line code,
 * so the magnitude loop vectorises. */
#define ISQRT_STEP(bit) t = r | (bit), r = t * t <= s ? t : r
static inline uint32_t isqrt_u8(uint32_t s) {
  uint32_t r = 0, t;
  ISQRT_STEP(128); ISQRT_STEP(64); ISQRT_STEP(32); ISQRT_STEP(16);
  ISQRT_STEP(8); ISQRT_STEP(4); ISQRT_STEP(2); ISQRT_STEP(1);
  return r;
}

void img_magnitude(const int16_t *gx, const int16_t *gy, int n, uint8_t *dst) {
  for (int i = 0; i < n; i++)
    dst[i] = (uint8_t)isqrt_u8((uint32_t)(gx[i] * gx[i] + gy[i] * gy[i]));
}
