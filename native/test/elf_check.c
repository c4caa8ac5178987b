/*
 * elf_check.c — loads images with the real loader into a guest memory arena
 * (no VM) and reports what happened; used by test/elf/ and by hand.
 *
 *   elf_check [-r runtime.elf] [-s exec0.so] [-v kind] [-x gva:len]... function.elf...
 *
 * Prints "entry <path> 0x<addr>" per function, "runtime 0x<main> 0x<worker>",
 * "bytes <n>", and for each -x the guest bytes in hex; on the first error
 * prints "error: <message>" and exits 1. -v kind (0..3) only validates the
 * following files with ataru_elf_validate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../elf_image.h"
#include "../loader.h"
#include "../mem.h"

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  *len = buf ? fread(buf, 1, (size_t)n, f) : 0;
  fclose(f);
  return buf;
}

int main(int argc, char **argv) {
  char err[512] = "";
  const char *runtime = NULL, *shared = NULL, *dumps[16];
  int ndumps = 0, validate = -1, i = 1;
  for (; i < argc && argv[i][0] == '-'; i += 2) {
    if (i + 1 >= argc) break;
    if (!strcmp(argv[i], "-r")) runtime = argv[i + 1];
    else if (!strcmp(argv[i], "-s")) shared = argv[i + 1];
    else if (!strcmp(argv[i], "-v")) validate = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "-x") && ndumps < 16) dumps[ndumps++] = argv[i + 1];
  }
  if (validate >= 0) {
    for (; i < argc; i++) {
      size_t len = 0;
      uint8_t *buf = slurp(argv[i], &len);
      if (!buf) return printf("error: %s: cannot read\n", argv[i]), 1;
      int rc = ataru_elf_validate(buf, len, validate, err, sizeof err);
      free(buf);
      if (rc) return printf("error: %s\n", err), 1;
      printf("valid %s\n", argv[i]);
    }
    return 0;
  }
  ataru_mem *mem = ataru_mem_create(1ull << 30, err, sizeof err);
  if (!mem) return printf("error: %s\n", err), 1;
  ataru_loader *l = ataru_loader_new(mem);
  int rc = 0;
  uint64_t a;
  struct ataru_runtime_symbols rt;
  if (runtime && ataru_loader_load_runtime(l, runtime, &rt, err, sizeof err) == 0)
    printf("runtime 0x%llx 0x%llx\n", (unsigned long long)rt.main_entry, (unsigned long long)rt.worker_entry);
  else if (runtime) rc = 1;
  if (!rc && shared && ataru_loader_load_shared(l, shared, err, sizeof err)) rc = 1;
  for (; !rc && i < argc; i++) {
    if (ataru_loader_load_function(l, argv[i], &a, err, sizeof err)) rc = 1;
    else printf("entry %s 0x%llx\n", argv[i], (unsigned long long)a);
  }
  if (rc) {
    printf("error: %s\n", err);
  } else {
    printf("bytes %llu\n", (unsigned long long)ataru_loader_image_bytes(l));
    printf("compares %llu\n", (unsigned long long)elf_name_compares);
    for (int d = 0; d < ndumps; d++) {
      unsigned long long gva = strtoull(dumps[d], NULL, 0), len = 0;
      const char *colon = strchr(dumps[d], ':');
      if (colon) len = strtoull(colon + 1, NULL, 0);
      const uint8_t *p = ataru_mem_host(mem, gva, len);
      printf("dump 0x%llx ", gva);
      for (unsigned long long k = 0; p && k < len; k++) printf("%02x", p[k]);
      printf(p ? "\n" : "unmapped\n");
    }
  }
  ataru_loader_free(l);
  ataru_mem_destroy(mem);
  return rc;
}
