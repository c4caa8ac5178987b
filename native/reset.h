/*
 * reset.h — the clean state of an instance: a sparse snapshot of guest
 * memory taken after loading, and the dirty-page reset that brings guest
 * memory back to it after a request.
 */
#ifndef ATARU_RESET_H
#define ATARU_RESET_H

#include <stddef.h>
#include <stdint.h>

typedef struct ataru_snapshot {
  uint8_t *arena;       /* guest-physical memory (host address)          */
  uint64_t npages;
  uint32_t *page;       /* per guest page: 0 = zero page, SNAP_KEEP = never
                         * restored (not guest-writable), else 1 + index into data */
  uint8_t *data;        /* copies of the non-zero pages (own mapping, for smaps) */
  size_t data_len;
  uint64_t *bitmap;     /* KVM_GET_DIRTY_LOG buffer                      */
  size_t bitmap_len;
  /* The adaptive hot set (manual dirty-log protection only): per page, 0 =
   * write-protected and tracked, else 1 + the number of resets since the
   * page was last seen written while left unprotected. */
  uint8_t *hot;
  uint32_t nhot;
  int borrowed;         /* page and data belong to a template (template.c) */
} ataru_snapshot;

#define SNAP_KEEP UINT32_MAX

/* Copies the non-zero writable pages of arena[0, bytes): writable[p] is 1
 * for each page the guest can write (ataru_mem_mark_writable); pages in
 * [zero_gpa, +zero_len) are known to be zero (the shared region, never
 * written before the first run). */
int ataru_snapshot_take(ataru_snapshot *s, uint8_t *arena, uint64_t bytes, const uint8_t *writable,
                        uint64_t zero_gpa, uint64_t zero_len, char *err, size_t errlen);
void ataru_snapshot_free(ataru_snapshot *s);

/* 1 when the 4 KiB page at p holds only zero bytes. */
int ataru_page_is_zero(const uint8_t *p);

/* Classifies arena[0, npages pages) as a template does: SNAP_KEEP where
 * writable[p] is 0, 0 for a zero page, else 1 + p (the page's own index:
 * a template's data is guest-physical memory itself). calloc'd; NULL when
 * out of memory. */
uint32_t *ataru_snapshot_classify(const uint8_t *arena, uint64_t npages, const uint8_t *writable);
/* A snapshot over a template's classes and data (both borrowed, never
 * copied: resets copy straight from the template). */
int ataru_snapshot_borrow(ataru_snapshot *s, uint8_t *arena, uint64_t npages, uint32_t *page,
                          uint8_t *data, char *err, size_t errlen);

/* Restores guest-physical [gpa, gpa+len) (what the host itself wrote:
 * KVM's dirty log does not see host writes). */
void ataru_snapshot_restore(ataru_snapshot *s, uint64_t gpa, uint64_t len);

/* Fetches the dirty log of memslot `slot` (guest pages [first_page,
 * s->npages)) and restores every page the guest wrote. With manual
 * (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled on the VM), pages written in
 * recent requests are left writable (no fault on their next write) and
 * restored after every request instead; the rest are re-protected. Without
 * it, KVM re-protects every page it reports. Returns the number of pages
 * in the log (each restored or found clean), or -1. */
long ataru_snapshot_reset_dirty(ataru_snapshot *s, int vm_fd, uint32_t slot, uint64_t first_page,
                                int manual);

#endif
