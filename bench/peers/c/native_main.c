/*
 * native_main.c — the compute baseline: the workload's C functions called
 * in-process, in a loop, timed per call.
 *
 *   peer-native INPUT MAX_CALLS MAX_MS
 * prints "ANSWER <len> <digest>", then "CALLS <n> <elapsed_ns> <mismatches>"
 * (calls whose output differed from the first call's), then the n per-call
 * times in ns, one per line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "peer.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s INPUT MAX_CALLS MAX_MS\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) return perror(argv[1]), 2;
  static uint8_t in[1 << 24];
  size_t in_len = fread(in, 1, sizeof in, f);
  fclose(f);
  long max_calls = atol(argv[2]);
  uint64_t max_ns = (uint64_t)atol(argv[3]) * 1000000u;
  uint64_t *times = calloc((size_t)max_calls + 1, sizeof *times);
  if (!times) return 2;

  uint64_t out_len;
  const uint8_t *out = peer_run(in, in_len, &out_len);
  if (!out) {
    printf("ANSWER error\n");
    return 1;
  }
  printf("ANSWER %llu %016llx\n", (unsigned long long)out_len, (unsigned long long)peer_digest(out, out_len));
  uint8_t *first = malloc(out_len + 1);
  if (!first) return 2;
  memcpy(first, out, out_len);
  uint64_t first_len = out_len;

  /* Each call is checked against the first, as the other systems check
   * every reply (outside the per-call time, inside the elapsed time). */
  long n = 0, mismatches = 0;
  uint64_t start = now_ns(), t = start;
  while (n < max_calls && t - start < max_ns) {
    uint64_t t0 = now_ns();
    out = peer_run(in, in_len, &out_len);
    t = now_ns();
    times[n++] = t - t0;
    if (!out || out_len != first_len || memcmp(out, first, out_len)) mismatches++;
  }
  printf("CALLS %ld %llu %ld\n", n, (unsigned long long)(t - start), mismatches);
  for (long i = 0; i < n; i++) printf("%llu\n", (unsigned long long)times[i]);
  return 0;
}
