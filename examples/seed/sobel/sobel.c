/*
 * The seed's `sobel` function: the whole edge detector of examples/sobel
 * (smooth, Sobel gradients, magnitude) in one node, calling the image
 * helpers of exec[0] (shared_user_code). The seed's template runs it as all
 * four nodes, each reading the request at offset 0 and writing the same
 * 16,384-byte edge image at 65544: a pure function of the request, so the
 * parallel nodes 1 and 2 write identical bytes and the result is
 * deterministic.
 */
#include "ataru.h"
#include "../../sobel/shared/imageops.h"

#define W 128
#define H 128
#define PIXELS (W * H)

static const int8_t gauss[9] = {1, 2, 1, 2, 4, 2, 1, 2, 1};
static const int8_t sobel_x[9] = {-1, 0, 1, -2, 0, 2, -1, 0, 1};
static const int8_t sobel_y[9] = {-1, -2, -1, 0, 0, 0, 1, 2, 1};

long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  if (in_len < PIXELS) return ATARU_EINVAL;
  if (out_cap < PIXELS) return ATARU_ENOSPC;
  /* Scratch on the stack (80 KiB of 256): not in .bss, which the nodes
   * running this same image on other vCPUs would share. */
  uint8_t smoothed[PIXELS];
  int16_t gx[PIXELS], gy[PIXELS];
  img_conv3x3_u8(in, W, H, gauss, 4, smoothed);
  img_conv3x3_i16(smoothed, W, H, sobel_x, gx);
  img_conv3x3_i16(smoothed, W, H, sobel_y, gy);
  img_magnitude(gx, gy, PIXELS, out);
  return PIXELS;
}
