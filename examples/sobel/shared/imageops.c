/* imageops.c — see imageops.h. */
#include "imageops.h"

/* Sum of k applied around (x, y) with replicated borders. Only the border
 * rows and columns pay for the clamping. */
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

/* Interior pixels: no clamping, so the compiler can vectorise the row. */
static inline int32_t conv_inner(const uint8_t *p, int w, const int8_t k[9]) {
  return k[0] * p[-w - 1] + k[1] * p[-w] + k[2] * p[-w + 1] +
         k[3] * p[-1] + k[4] * p[0] + k[5] * p[1] +
         k[6] * p[w - 1] + k[7] * p[w] + k[8] * p[w + 1];
}

static inline uint8_t clamp_u8(int32_t v) { return v < 0 ? 0 : (v > 255 ? 255 : (uint8_t)v); }

void img_conv3x3_u8(const uint8_t *src, int w, int h, const int8_t k[9], int shift,
                    uint8_t *dst) {
  int32_t round = shift > 0 ? 1 << (shift - 1) : 0;
  for (int y = 0; y < h; y++) {
    int inner = y > 0 && y < h - 1;
    for (int x = 0; x < w; x++) {
      int32_t s = inner && x > 0 && x < w - 1 ? conv_inner(src + (long)y * w + x, w, k)
                                              : conv_at(src, w, h, k, x, y);
      dst[(long)y * w + x] = clamp_u8((s + round) >> shift);
    }
  }
}

void img_conv3x3_i16(const uint8_t *src, int w, int h, const int8_t k[9], int16_t *dst) {
  for (int y = 0; y < h; y++) {
    int inner = y > 0 && y < h - 1;
    for (int x = 0; x < w; x++) {
      int32_t s = inner && x > 0 && x < w - 1 ? conv_inner(src + (long)y * w + x, w, k)
                                              : conv_at(src, w, h, k, x, y);
      dst[(long)y * w + x] = (int16_t)s;
    }
  }
}

/* Bit-by-bit square root of x < 65536: exact, no floating point, and
 * branch-free (edge data makes the branches unpredictable). */
static uint32_t isqrt16(uint32_t x) {
  uint32_t r = 0;
  for (uint32_t bit = 1u << 14; bit; bit >>= 2) {
    uint32_t t = r + bit, take = 0u - (x >= t);
    x -= t & take;
    r = (r >> 1) + (bit & take);
  }
  return r;
}

/* Anything from 255² up saturates, so the root is only taken below it. */
void img_magnitude(const int16_t *gx, const int16_t *gy, int n, uint8_t *dst) {
  for (int i = 0; i < n; i++) {
    uint32_t s = (uint32_t)(gx[i] * gx[i] + gy[i] * gy[i]);
    dst[i] = s >= 255u * 255u ? 255 : (uint8_t)isqrt16(s);
  }
}
