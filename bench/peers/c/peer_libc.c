/*
 * peer_libc.c — what the freestanding peer targets (wasm32, the qemu guest)
 * need beside the SDK's sdk/mem.c, which bench/peers/build.ts links into
 * them. Native and spawn builds use the host libc instead.
 */
#include "ataru.h"

/* Functions may log; the peers have nowhere to send it (the measured path
 * never logs). */
int ataru_log(const char *fmt, ...) {
  (void)fmt;
  return 0;
}
