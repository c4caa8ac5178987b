/* Writes to address 0 when the first input byte is 'c', else echoes:
 * one app that faults on demand and then must work again. */
#include <ataru.h>

static volatile uintptr_t null_addr;

long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  if (in_len && *(const char *)in == 'c') *(volatile uint64_t *)null_addr = 1;
  uint64_t n = in_len < out_cap ? in_len : out_cap;
  memmove(out, in, n);
  return (long)n;
}
