/*
 * mem.h — guest memory of one VM: a guest-physical arena and the page tables
 * that map the fixed guest-virtual layout (common/ataru_abi.h) onto it.
 *
 * Rules (docs/platform-differences.md): page tables are built before the
 * guest first runs and never edited after; every PTE has Accessed/Dirty
 * preset so the guest never writes page tables (dirty logging then reports
 * only data pages).
 * Mappings use 4 KiB pages so permissions are exact (code R+X, rodata R,
 * data R+W+NX).
 */
#ifndef ATARU_MEM_H
#define ATARU_MEM_H

#include <stddef.h>
#include <stdint.h>

#define ATARU_PROT_R    1u
#define ATARU_PROT_W    2u
#define ATARU_PROT_X    4u
#define ATARU_PROT_USER 8u   /* accessible at CPL3; without it: supervisor only */

typedef struct ataru_mem ataru_mem;

/* A guest-physical arena of at most max_bytes (reserved, populated lazily). */
ataru_mem *ataru_mem_create(uint64_t max_bytes, char *err, size_t errlen);
void ataru_mem_destroy(ataru_mem *m);

/* Map [gva, gva+len) (page aligned) with prot onto fresh zeroed physical
 * pages. Returns the host address of the (contiguous) backing, or NULL with
 * err set (overlap with an existing mapping, out of arena, not aligned,
 * non-canonical). Only before the VM first runs. */
void *ataru_mem_map(ataru_mem *m, uint64_t gva, uint64_t len, unsigned prot,
                    char *err, size_t errlen);

/* Host address for guest-virtual [gva, gva+len) if the whole range is
 * mapped (any prot), else NULL. Bounds-checked: use it for everything the
 * host reads from or writes into the guest. */
void *ataru_mem_host(ataru_mem *m, uint64_t gva, uint64_t len);

/* The ATARU_PROT_* of the mapping holding gva: 0, or -1 when unmapped
 * (fault messages: "write to code", "stack overflow"). */
int ataru_mem_prot(ataru_mem *m, uint64_t gva, unsigned *prot);

/* Sets flags[p] = 1 for each guest-physical page p < npages of a writable
 * mapping (the only pages the guest can change: snapshots skip the rest). */
void ataru_mem_mark_writable(ataru_mem *m, uint8_t *flags, uint64_t npages);

/* The guest-physical arena: its host address, size in use, and the
 * guest-physical address of the top-level page table (CR3). */
/* CR3 is the same in every arena (guest-physical page 1): a spare vCPU is
 * set up before its VM's memory exists (spare.c). */
#define ATARU_MEM_CR3 0x1000ull
void *ataru_mem_arena(ataru_mem *m);
uint64_t ataru_mem_used(ataru_mem *m);
uint64_t ataru_mem_cr3(ataru_mem *m);

#endif
