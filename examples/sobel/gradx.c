/* Node 1: horizontal Sobel gradient of the smoothed image (int16 plane). */
#include "sobel.h"

static const int8_t sobel_x[9] = {-1, 0, 1, -2, 0, 2, -1, 0, 1};

long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  if (in_len < SOBEL_PIXELS) return ATARU_EINVAL;
  if (out_cap < SOBEL_GRAD_BYTES) return ATARU_ENOSPC;
  img_conv3x3_i16(in, SOBEL_W, SOBEL_H, sobel_x, out);
  return SOBEL_GRAD_BYTES;
}
