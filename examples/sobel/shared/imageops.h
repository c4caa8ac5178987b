/*
 * imageops.h — image helpers of the sobel example's shared code image
 * (exec[0]). Loaded once per VM at ATARU_SHARED_IMAGE_BASE; every node
 * calls into it, so the pixel loops exist once in guest memory.
 *
 * Images are row-major, `w` pixels per row. Borders are replicated
 * (clamp-to-edge): a pixel outside the image reads its nearest edge pixel.
 */
#ifndef IMAGEOPS_H
#define IMAGEOPS_H

#include <stdint.h>

/* 3×3 convolution of an 8-bit image: dst = (sum(k * src) + round) >> shift,
 * clamped to 0..255. round = 1 << (shift - 1) for shift > 0, else 0. */
void img_conv3x3_u8(const uint8_t *src, int w, int h, const int8_t k[9], int shift,
                    uint8_t *dst);

/* 3×3 convolution of an 8-bit image into raw int16 sums (|sum| ≤ 9·127·255
 * must fit: true for the small kernels used here). */
void img_conv3x3_i16(const uint8_t *src, int w, int h, const int8_t k[9], int16_t *dst);

/* Edge magnitude of n pixels: dst = min(floor(sqrt(gx² + gy²)), 255). */
void img_magnitude(const int16_t *gx, const int16_t *gy, int n, uint8_t *dst);

#endif
