/*
 * mem.c — guest-physical arena and 4-level page tables (see mem.h).
 *
 * The arena is one anonymous MAP_NORESERVE reservation; pages the guest never
 * touches cost nothing. Physical pages are handed out by a bump pointer:
 * page-table pages and data pages alike. Each ataru_mem_map() call gets one
 * physically contiguous run, so its host backing is contiguous too.
 */
#define _GNU_SOURCE
#include "mem.h"
#include "../common/ataru_abi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PTE_P   (1ull << 0)
#define PTE_RW  (1ull << 1)
#define PTE_US  (1ull << 2)
#define PTE_A   (1ull << 5)
#define PTE_D   (1ull << 6)
#define PTE_NX  (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull
/* Upper levels are permissive; the 4 KiB leaf decides. A/D preset everywhere
 * so the guest never writes a page-table page (docs/platform-differences.md: dirty logging). */
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US | PTE_A)

#define MAX_MAPPINGS ATARU_MEM_MAX_MAPPINGS

struct ataru_mem {
  uint8_t *arena;
  uint64_t size;      /* reserved */
  uint64_t next;      /* bump pointer (guest-physical) */
  uint64_t cr3;
  /* The mapping table: own (calloc'd), or a template's, shared by its
   * instances (read-only: an instance's memory costs no table of its own). */
  struct ataru_mem_mapping *map;
  int owns_map;
  int nmap;
};

static void seterr(char *err, size_t n, const char *fmt, ...) {
  if (!err || !n) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
}

static uint64_t alloc_phys(ataru_mem *m, uint64_t len) {
  len = (len + ATARU_PAGE_SIZE - 1) & ~(ATARU_PAGE_SIZE - 1);
  if (len > m->size - m->next) return UINT64_MAX;
  uint64_t gpa = m->next;
  m->next += len;
  return gpa;
}

ataru_mem *ataru_mem_create(uint64_t max_bytes, char *err, size_t errlen) {
  ataru_mem *m = calloc(1, sizeof *m);
  if (!m) {
    seterr(err, errlen, "out of memory");
    return NULL;
  }
  m->size = (max_bytes + ATARU_PAGE_SIZE - 1) & ~(ATARU_PAGE_SIZE - 1);
  m->map = calloc(MAX_MAPPINGS, sizeof *m->map);
  m->owns_map = 1;
  m->arena = m->map ? mmap(NULL, m->size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                    : MAP_FAILED;
  if (m->arena == MAP_FAILED) {
    seterr(err, errlen, "cannot reserve %llu bytes of guest memory", (unsigned long long)m->size);
    free(m->map);
    free(m);
    return NULL;
  }
  m->next = ATARU_MEM_CR3; /* keep guest-physical page 0 unused */
  m->cr3 = alloc_phys(m, ATARU_PAGE_SIZE);
  return m;
}

void ataru_mem_destroy(ataru_mem *m) {
  if (!m) return;
  munmap(m->arena, m->size);
  if (m->owns_map) free(m->map);
  free(m);
}

/* An arena of m->size bytes: [0, bytes) a private mapping of fd, the rest
 * anonymous (room for test mappings past the template). */
static int map_arena(ataru_mem *m, int fd, uint64_t offset, uint64_t bytes, char *err, size_t errlen) {
  m->arena = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m->arena == MAP_FAILED) {
    m->arena = NULL;
    seterr(err, errlen, "cannot reserve %llu bytes of guest memory", (unsigned long long)m->size);
    return -1;
  }
  if (ataru_mem_adopt(m, fd, offset, bytes) < 0) {
    seterr(err, errlen, "cannot map the template (%llu bytes)", (unsigned long long)bytes);
    munmap(m->arena, m->size);
    m->arena = NULL;
    return -1;
  }
  return 0;
}

int ataru_mem_adopt(ataru_mem *m, int fd, uint64_t offset, uint64_t bytes) {
  if (bytes > m->size) return -1;
  void *p = mmap(m->arena, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, (off_t)offset);
  return p == MAP_FAILED ? -1 : 0;
}

ataru_mem *ataru_mem_clone(const ataru_mem *layout, int fd, uint64_t offset, uint64_t bytes,
                           char *err, size_t errlen) {
  ataru_mem *m = calloc(1, sizeof *m);
  if (!m) {
    seterr(err, errlen, "out of memory");
    return NULL;
  }
  m->size = layout->size;
  m->next = layout->next;
  m->cr3 = layout->cr3;
  m->map = layout->map;
  m->nmap = layout->nmap;
  if (map_arena(m, fd, offset, bytes, err, errlen) < 0) {
    free(m);
    return NULL;
  }
  return m;
}

ataru_mem *ataru_mem_from_layout(const struct ataru_mem_mapping *maps, int nmap, uint64_t next, uint64_t size,
                                 int fd, uint64_t offset, uint64_t bytes, char *err, size_t errlen) {
  if (nmap < 0 || nmap > MAX_MAPPINGS || next > size || bytes > size || next < ATARU_MEM_CR3 + ATARU_PAGE_SIZE ||
      (size | next | bytes) & (ATARU_PAGE_SIZE - 1)) {
    seterr(err, errlen, "layout out of bounds (%d mappings, %llu of %llu bytes)", nmap, (unsigned long long)next,
           (unsigned long long)size);
    return NULL;
  }
  for (int i = 0; i < nmap; i++) {
    const struct ataru_mem_mapping *o = &maps[i];
    if ((o->gva | o->len | o->gpa) & (ATARU_PAGE_SIZE - 1) || !o->len || o->gpa > next || o->len > next - o->gpa ||
        o->gva + o->len < o->gva || o->gva + o->len > 0x0000800000000000ull) {
      seterr(err, errlen, "layout mapping %d out of bounds", i);
      return NULL;
    }
    for (int j = 0; j < i; j++)
      if (o->gva < maps[j].gva + maps[j].len && maps[j].gva < o->gva + o->len) {
        seterr(err, errlen, "layout mappings %d and %d overlap", j, i);
        return NULL;
      }
  }
  ataru_mem *m = calloc(1, sizeof *m);
  if (!m || !(m->map = calloc(MAX_MAPPINGS, sizeof *m->map))) {
    free(m);
    seterr(err, errlen, "out of memory");
    return NULL;
  }
  m->owns_map = 1;
  memcpy(m->map, maps, (size_t)nmap * sizeof *maps);
  m->nmap = nmap;
  m->next = next;
  m->size = size;
  m->cr3 = ATARU_MEM_CR3;
  if (map_arena(m, fd, offset, bytes, err, errlen) < 0) {
    free(m->map);
    free(m);
    return NULL;
  }
  return m;
}

const struct ataru_mem_mapping *ataru_mem_layout(const ataru_mem *m, int *nmap, uint64_t *next, uint64_t *size) {
  *nmap = m->nmap;
  *next = m->next;
  *size = m->size;
  return m->map;
}

/* The leaf (4 KiB) page-table entry for gva, creating
 * intermediate tables on the way. NULL when the arena is full. */
static uint64_t *walk(ataru_mem *m, uint64_t gva) {
  uint64_t table = m->cr3;
  for (int level = 3; level > 0; level--) {
    uint64_t *e = (uint64_t *)(m->arena + table) + ((gva >> (12 + 9 * level)) & 511);
    if (!(*e & PTE_P)) {
      uint64_t t = alloc_phys(m, ATARU_PAGE_SIZE);
      if (t == UINT64_MAX) return NULL;
      *e = t | PTE_TABLE;
    }
    table = *e & PTE_ADDR;
  }
  return (uint64_t *)(m->arena + table) + ((gva >> 12) & 511);
}

void *ataru_mem_map(ataru_mem *m, uint64_t gva, uint64_t len, unsigned prot,
                    char *err, size_t errlen) {
  if ((gva | len) & (ATARU_PAGE_SIZE - 1) || len == 0) {
    seterr(err, errlen, "mapping 0x%llx+0x%llx is not page aligned",
           (unsigned long long)gva, (unsigned long long)len);
    return NULL;
  }
  if (gva + len < gva || gva + len > 0x0000800000000000ull) {
    seterr(err, errlen, "mapping 0x%llx+0x%llx is outside the user half",
           (unsigned long long)gva, (unsigned long long)len);
    return NULL;
  }
  for (int i = 0; i < m->nmap; i++) {
    const struct ataru_mem_mapping *o = &m->map[i];
    if (gva < o->gva + o->len && o->gva < gva + len) {
      seterr(err, errlen, "mapping 0x%llx+0x%llx overlaps 0x%llx+0x%llx",
             (unsigned long long)gva, (unsigned long long)len,
             (unsigned long long)o->gva, (unsigned long long)o->len);
      return NULL;
    }
  }
  if (m->nmap == MAX_MAPPINGS) {
    seterr(err, errlen, "too many mappings (%d)", MAX_MAPPINGS);
    return NULL;
  }
  if (!m->owns_map) { /* a clone's first mapping of its own (test hooks) */
    struct ataru_mem_mapping *own = calloc(MAX_MAPPINGS, sizeof *own);
    if (!own) {
      seterr(err, errlen, "out of memory");
      return NULL;
    }
    memcpy(own, m->map, (size_t)m->nmap * sizeof *own);
    m->map = own;
    m->owns_map = 1;
  }
  uint64_t gpa = alloc_phys(m, len);
  if (gpa == UINT64_MAX) {
    seterr(err, errlen, "guest memory full: %llu bytes more do not fit in %llu",
           (unsigned long long)len, (unsigned long long)m->size);
    return NULL;
  }
  uint64_t flags = PTE_P | PTE_A | PTE_D;
  if (prot & ATARU_PROT_W) flags |= PTE_RW;
  if (prot & ATARU_PROT_USER) flags |= PTE_US;
  if (!(prot & ATARU_PROT_X)) flags |= PTE_NX;
  for (uint64_t off = 0; off < len; off += ATARU_PAGE_SIZE) {
    uint64_t *pte = walk(m, gva + off);
    if (!pte) {
      seterr(err, errlen, "guest memory full while building page tables");
      return NULL;
    }
    *pte = (gpa + off) | flags;
  }
  m->map[m->nmap++] = (struct ataru_mem_mapping){gva, len, gpa, prot, 0};
  return m->arena + gpa;
}

void *ataru_mem_host(ataru_mem *m, uint64_t gva, uint64_t len) {
  for (int i = 0; i < m->nmap; i++) {
    const struct ataru_mem_mapping *o = &m->map[i];
    if (gva >= o->gva && len <= o->len && gva - o->gva <= o->len - len)
      return m->arena + o->gpa + (gva - o->gva);
  }
  return NULL;
}

void ataru_mem_mark_writable(ataru_mem *m, uint8_t *flags, uint64_t npages) {
  for (int i = 0; i < m->nmap; i++) {
    const struct ataru_mem_mapping *o = &m->map[i];
    if (!(o->prot & ATARU_PROT_W)) continue;
    for (uint64_t p = o->gpa / ATARU_PAGE_SIZE; p < (o->gpa + o->len) / ATARU_PAGE_SIZE && p < npages; p++)
      flags[p] = 1;
  }
}

int ataru_mem_prot(ataru_mem *m, uint64_t gva, unsigned *prot) {
  for (int i = 0; i < m->nmap; i++) {
    const struct ataru_mem_mapping *o = &m->map[i];
    if (gva >= o->gva && gva - o->gva < o->len) {
      *prot = o->prot;
      return 0;
    }
  }
  return -1;
}

void *ataru_mem_arena(ataru_mem *m) { return m->arena; }
uint64_t ataru_mem_used(ataru_mem *m) { return m->next; }
uint64_t ataru_mem_cr3(ataru_mem *m) { return m->cr3; }
