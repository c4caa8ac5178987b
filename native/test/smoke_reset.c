/* smoke_reset: clean state across resets while the dirty-log hot set
 * (native/reset.c) takes pages in and lets them go: a different page
 * written each request, one page written by most requests and then by none
 * for a while, more pages over time than the hot set holds, and failed
 * requests in between. */
#include "smoke.h"

int main(void) {
  const char *fns[] = {OWN("pagewalk")};
  ataru_instance *inst = make_app(1, fns, 0, NULL, 1, 0, 0);
  if (!inst) return finish("smoke_reset");
  int bad = 0;
  for (uint32_t i = 0; i < 1500; i++) {
    uint32_t idx = (i * 7) % 331;
    uint8_t in[5] = {idx, idx >> 8, idx >> 16, idx >> 24, i % 5 != 0 && (i < 600 || i > 700)};
    int fail = i % 97 == 50; /* a short input: the function returns -2 */
    ataru_result r;
    uint32_t st = run1(inst, in, fail ? 1 : 5, &r);
    int ok = fail ? st == ATARU_STATUS_FUNCTION_ERROR && r.node_ret[0] == -2 : st == ATARU_STATUS_OK;
    if (!ok && bad++ < 3)
      fprintf(stderr, "request %u: status %u, ret %lld: %s\n", i, st, (long long)r.node_ret[0], r.message);
    ataru_result_free(&r);
  }
  CHECK(bad == 0, "%d requests saw unclean memory", bad);
  ataru_instance_destroy(inst);
  return finish("smoke_reset");
}
