/*
 * elf_fuzz.c — mutates a valid ELF many times and feeds each mutant to the
 * validator and the full loader (mapping + linking into a guest arena).
 * Built with -fsanitize=address,undefined by test/elf/fuzz.test.ts: any
 * out-of-bounds read or undefined behaviour aborts the run.
 *
 *   elf_fuzz <valid.elf> <iterations> <seed> <tmpfile> [kind]
 *
 * Mutations favour the bytes the loader interprets (ELF header, program
 * headers, dynamic section, relocation and symbol tables): random bytes,
 * random 64-bit fields set to edge values, truncation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../loader.h"
#include "../mem.h"

static uint64_t rng;
static uint64_t next(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

static const uint64_t edges[] = {0, 1, 0x7f, 0xff, 0x1000, 0xffff, 0x7fffffff, 0xffffffff,
                                 0x100000000ull, 0x7fffffffffffffffull, 0xffffffffffffffffull, 0x38, 0x40};

static void mutate(uint8_t *buf, size_t *len, size_t orig) {
  size_t hot = orig < 0x3000 ? orig : 0x3000; /* headers and dynamic tables live early */
  int n = 1 + (int)(next() % 4);
  for (int i = 0; i < n && *len; i++) {
    size_t at = (next() & 1) ? next() % hot : next() % *len;
    if (at >= *len) continue;
    switch (next() % 4) {
    case 0: buf[at] = (uint8_t)next(); break;
    case 1: buf[at] ^= (uint8_t)(1u << (next() % 8)); break;
    case 2: {
      uint64_t v = edges[next() % (sizeof edges / sizeof edges[0])];
      size_t w = (next() & 1) ? 8 : 4;
      if (at + w <= *len) memcpy(buf + at, &v, w);
      break;
    }
    case 3:
      if (next() % 8 == 0) *len = next() % *len;
      break;
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: elf_fuzz valid.elf iterations seed tmpfile [kind]\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) return perror(argv[1]), 2;
  static uint8_t orig[1 << 20], buf[1 << 20];
  size_t olen = fread(orig, 1, sizeof orig, f);
  fclose(f);
  long iters = atol(argv[2]);
  rng = strtoull(argv[3], NULL, 0) | 1;
  int kind = argc > 5 ? atoi(argv[5]) : 2;
  long rejected = 0, loaded = 0;
  char err[512];
  for (long it = 0; it < iters; it++) {
    size_t len = olen;
    memcpy(buf, orig, olen);
    mutate(buf, &len, olen);
    if (ataru_elf_validate(buf, len, kind, err, sizeof err) != 0) {
      rejected++;
      continue;
    }
    /* Valid as a file: load and link it for real. */
    FILE *t = fopen(argv[4], "wb");
    if (!t) return perror(argv[4]), 2;
    fwrite(buf, 1, len, t);
    fclose(t);
    ataru_mem *mem = ataru_mem_create(1ull << 30, err, sizeof err);
    if (!mem) return fprintf(stderr, "%s\n", err), 2;
    ataru_loader *l = ataru_loader_new(mem);
    uint64_t entry;
    if (kind == 2 ? ataru_loader_load_function(l, argv[4], &entry, err, sizeof err) == 0
                  : ataru_loader_load_shared(l, argv[4], err, sizeof err) == 0)
      loaded++;
    ataru_loader_free(l);
    ataru_mem_destroy(mem);
  }
  printf("iterations %ld rejected %ld loaded %ld\n", iters, rejected, loaded);
  return 0;
}
