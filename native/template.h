/*
 * template.h — an app version's initialised guest memory, shared
 * copy-on-write by all of its instances.
 *
 * A template is made once per app version: one instance is created the
 * ordinary way (load, link), the init hooks run in it (request.c, as a
 * request would: fault and timeout contained), and its guest-physical memory
 * is written to a memfd. Every instance of the version then maps that memfd
 * privately (mem.c ataru_mem_clone): pages neither the guest nor the host
 * writes stay shared, and a reset copies dirty pages back from the
 * template's read-only view instead of from a snapshot of its own. Adding an
 * instance costs a VM and its vCPUs, never a load, a link or an init.
 *
 * A template can be stored in a file (ataru_template_save) and mapped from
 * it again after a restart (ataru_template_open); the file layout is
 * described in template.c. Internal to the core; the public API is in
 * ataru_core.h.
 */
#ifndef ATARU_TEMPLATE_H
#define ATARU_TEMPLATE_H

#include <stdint.h>

#include "ataru_core.h"
#include "loader.h"
#include "mem.h"

struct ataru_template {
  uint32_t refs;                 /* atomic: the creator's plus one per instance */
  int fd;                        /* guest-physical memory from `offset` */
  uint64_t offset;
  uint64_t bytes;                /* guest-physical bytes (both memslots) */
  uint8_t *view;                 /* read-only shared view of fd: the clean state */
  ataru_mem *layout;             /* mappings and bump pointer; its arena maps fd privately, untouched */
  uint32_t *page;                /* per page: SNAP_KEEP, 0 (zero) or 1 + page (reset.h) */
  uint64_t npages;
  uint64_t data_pages;           /* non-zero pages stored */
  struct ataru_runtime_symbols rt;
  uint64_t hot_bytes, mb_gpa, mb_bytes, shm_gpa, shm_size;
  uint64_t stack_top_gpa[ATARU_MAX_VCPUS];
  uint32_t num_vcpus, num_nodes;
  uint32_t inits;                /* init hooks that ran */
  uint64_t init_ns, build_ns;
  int opened;                    /* mapped from a stored file, not built here */
};

void ataru_template_ref(struct ataru_template *t);

#endif
