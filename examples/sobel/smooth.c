/* Node 0: 3×3 Gaussian blur (1 2 1 / 2 4 2 / 1 2 1, sum/16 rounded) of the
 * request image, so that the gradients see less pixel noise. */
#include "sobel.h"

static const int8_t gauss[9] = {1, 2, 1, 2, 4, 2, 1, 2, 1};

long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  if (in_len < SOBEL_PIXELS) return ATARU_EINVAL;
  if (out_cap < SOBEL_PIXELS) return ATARU_ENOSPC;
  img_conv3x3_u8(in, SOBEL_W, SOBEL_H, gauss, 4, out);
  return SOBEL_PIXELS;
}
