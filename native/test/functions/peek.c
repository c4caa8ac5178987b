/* peek: reads the u64 at the guest address given by the first 8 input bytes
 * (LE) and returns it as 8 bytes. The driver (native/test/driver.c) points
 * it at good memory, at nothing (a fault) or at the core's MMIO test page,
 * in the same instance, to check recovery after each kind of failure. */
#include <ataru.h>

long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  if (in_len < 8 || out_cap < 8) return ATARU_EINVAL;
  uint64_t addr, v;
  memcpy(&addr, in, 8);
  v = *(volatile const uint64_t *)(uintptr_t)addr;
  memcpy(out, &v, 8);
  return 8;
}
