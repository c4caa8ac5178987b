/* smoke_single: one echo node end to end, then warm latency and clean state. */
#include "smoke.h"

int main(void) {
  const char *fns[] = {FIX("echo")};
  ataru_instance *inst = make_app(1, fns, 0, NULL, 1, 0, 0);
  if (!inst) return finish("smoke_single");
  printf("cold create: %.0f us\n", ataru_instance_create_ns(inst) / 1e3);
  ataru_result r;
  CHECK(run1(inst, "hello", 5, &r) == ATARU_STATUS_OK, "status %u: %s", r.status, r.message);
  CHECK(r.output_len == 5 && memcmp(r.output, "hello", 5) == 0, "output len %zu", r.output_len);
  ataru_result_free(&r);
  ataru_instance_destroy(inst);
  return finish("smoke_single");
}
