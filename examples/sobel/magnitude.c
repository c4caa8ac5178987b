/* Node 3: edge magnitude min(floor(sqrt(gx² + gy²)), 255). Its input is the
 * gx plane (node 1's output); the template places the gy plane (node 2's
 * output) right after it, so both are read from `in`. */
#include "sobel.h"

long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  if (in_len < SOBEL_GRAD_BYTES) return ATARU_EINVAL;
  if (out_cap < SOBEL_PIXELS) return ATARU_ENOSPC;
  const int16_t *gx = in;
  img_magnitude(gx, gx + SOBEL_PIXELS, SOBEL_PIXELS, out);
  return SOBEL_PIXELS;
}
