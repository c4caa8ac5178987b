/*
 * host.c — runs the sobel app's four node functions natively on the host,
 * in-process, with the same shared-region map as sobel.tmpl. Used by the
 * tests (the C against the TypeScript reference, without a VM) and by
 * bench/sobel (the native baseline).
 *
 *   sobel-host [reps] < images > edges
 * reads 128×128 images from stdin until EOF, writes each one's edge image.
 * With reps > 0 it also runs every image reps more times, timing each stage,
 * and prints one JSON line of medians (ns per request) to stderr.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHM_SIZE (2u << 20)
#define PIXELS 16384u
enum { IN = 0, SMOOTH = 16384, GX = 32768, GY = 65536, EDGES = 98304 };

typedef long node_fn(const void *, void *, uint64_t, uint64_t, uint64_t);
node_fn node_smooth, node_gradx, node_grady, node_magnitude;

static const struct { node_fn *fn; uint32_t inp, out; uint64_t in_len; } nodes[4] = {
    {node_smooth, IN, SMOOTH, PIXELS},
    {node_gradx, SMOOTH, GX, PIXELS},
    {node_grady, SMOOTH, GY, PIXELS},
    {node_magnitude, GX, EDGES, 2 * PIXELS},
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int run(uint8_t *shm, uint64_t stage_ns[4]) {
  for (int k = 0; k < 4; k++) {
    uint64_t t0 = now_ns();
    long r = nodes[k].fn(shm + nodes[k].inp, shm + nodes[k].out, (uint64_t)k, nodes[k].in_len,
                         SHM_SIZE - nodes[k].out);
    stage_ns[k] = now_ns() - t0;
    if (r < 0) {
      fprintf(stderr, "node %d returned %ld\n", k, r);
      return -1;
    }
  }
  return 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_u64);
  return v[n / 2];
}

int main(int argc, char **argv) {
  long reps = argc > 1 ? atol(argv[1]) : 0;
  uint8_t *shm = calloc(1, SHM_SIZE);
  size_t cap = 16, count = 0;
  uint8_t *images = malloc(cap * PIXELS);
  while (fread(shm, 1, PIXELS, stdin) == PIXELS) {
    uint64_t ns[4];
    if (run(shm, ns)) return 1;
    fwrite(shm + EDGES, 1, PIXELS, stdout);
    if (count == cap) images = realloc(images, (cap *= 2) * PIXELS);
    memcpy(images + count++ * PIXELS, shm, PIXELS);
  }
  fflush(stdout);
  if (reps <= 0 || count == 0) return 0;

  size_t n = (size_t)reps * count;
  uint64_t *stage[4], *total = malloc(n * sizeof *total);
  for (int k = 0; k < 4; k++) stage[k] = malloc(n * sizeof **stage);
  for (size_t i = 0; i < n; i++) {
    memcpy(shm, images + (i % count) * PIXELS, PIXELS); /* as the VM: copy the request in */
    uint64_t ns[4], t0 = now_ns();
    if (run(shm, ns)) return 1;
    total[i] = now_ns() - t0;
    for (int k = 0; k < 4; k++) stage[k][i] = ns[k];
  }
  fprintf(stderr, "{\"requests\":%zu,\"totalNs\":%lu,\"stageNs\":[%lu,%lu,%lu,%lu]}\n", n,
          (unsigned long)median(total, n), (unsigned long)median(stage[0], n),
          (unsigned long)median(stage[1], n), (unsigned long)median(stage[2], n),
          (unsigned long)median(stage[3], n));
  return 0;
}
