/* Checks that its .bss and .data are exactly as loaded, then dirties some
 * pages: input[0] (u32 LE) picks a .bss page and a word of .data, input[4]
 * set also writes .bss page 0. Returns 0, or -1 if any page was not clean.
 * The reset's hot set (native/reset.c) must keep every page clean however
 * pages come and go. */
#include <ataru.h>

#define PAGES 320 /* more than the hot set may hold */

static volatile uint64_t bss[PAGES][512];
static volatile uint64_t data[4][512] = {{1}, {2}, {3}, {4}};

long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)out, (void)node_id, (void)out_cap;
  if (in_len < 5) return -2;
  const uint8_t *b = in;
  uint32_t idx = b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  for (uint32_t p = 0; p < PAGES; p++)
    for (uint32_t w = 0; w < 512; w++)
      if (bss[p][w]) return -1;
  for (uint32_t p = 0; p < 4; p++)
    for (uint32_t w = 0; w < 512; w++)
      if (data[p][w] != (w ? 0 : p + 1)) return -1;
  bss[idx % PAGES][idx % 512] = idx + 1;
  data[idx % 4][idx % 512] = 0xdead;
  if (b[4]) bss[0][7] = 1;
  return 0;
}
