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

/* One ataru_mem_map() call: guest-virtual [gva, gva+len) on guest-physical
 * [gpa, gpa+len). The table of these is the layout a template carries. */
struct ataru_mem_mapping {
  uint64_t gva, len, gpa;
  uint32_t prot, pad;
};
#define ATARU_MEM_MAX_MAPPINGS 2048 /* ~4 per image: room for ATARU_MAX_NODES distinct functions */

/* A guest-physical arena of at most max_bytes (reserved, populated lazily). */
ataru_mem *ataru_mem_create(uint64_t max_bytes, char *err, size_t errlen);
void ataru_mem_destroy(ataru_mem *m);

/* Copy-on-write guest memory (template.c): an arena of `size` bytes whose
 * guest-physical [0, bytes) maps fd from `offset` privately — pages the
 * guest or host never write stay shared with every other mapping of fd.
 * The layout (mapping table, bump pointer) is `layout`'s, shared until a
 * later ataru_mem_map copies it. layout must outlive the clone. */
ataru_mem *ataru_mem_clone(const ataru_mem *layout, int fd, uint64_t offset, uint64_t bytes,
                           char *err, size_t errlen);
/* Replaces m's own guest-physical [0, bytes) with a private mapping of fd
 * (same contents): frees its anonymous pages once they are in fd. */
int ataru_mem_adopt(ataru_mem *m, int fd, uint64_t offset, uint64_t bytes);
/* A layout read back from a stored template: no arena behind it beyond a
 * private mapping of fd. Validated: mappings in bounds and disjoint. */
ataru_mem *ataru_mem_from_layout(const struct ataru_mem_mapping *maps, int nmap, uint64_t next, uint64_t size,
                                 int fd, uint64_t offset, uint64_t bytes, char *err, size_t errlen);
/* The layout, for storing: the mapping table, its length, the bump
 * pointer and the arena size. */
const struct ataru_mem_mapping *ataru_mem_layout(const ataru_mem *m, int *nmap, uint64_t *next, uint64_t *size);

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
