/*
 * reset.c — snapshot and dirty-page reset (see reset.h).
 *
 * Only pages the guest can write are kept, and of those only the non-zero
 * ones are copied, so an idle instance costs about its loaded images plus
 * their writable data, not its whole address space. Pages the guest cannot
 * write (code, read-only data, page tables) are never restored. After a
 * request KVM_GET_DIRTY_LOG names exactly the pages the guest wrote (4 KiB
 * granularity because mem.c presets A/D bits, so page-table pages do not show
 * up on kvm_pvm; a hardware walker may still report them, and restoring them
 * is harmless); each is copied back from the snapshot or zeroed.
 *
 * With manual dirty-log protection, a page reported dirty may stay writable
 * ("hot"): re-protecting it would cost a write fault (~2.5-4 µs on kvm_pvm,
 * docs/platform-differences.md) on its next first write, a check-and-copy costs ~0.2 µs. KVM
 * keeps the log bit of a page set until KVM_CLEAR_DIRTY_LOG, so hot pages
 * show up in every log and are restored after every request, written or not;
 * a page is re-protected only in the reset that restores it. Whether a hot
 * page was written is seen by comparing it with the snapshot; one unwritten
 * for HOT_IDLE_RESETS resets goes back to tracking. HOT_MAX_PAGES bounds the
 * per-reset work of an app that writes everything.
 */
#define _GNU_SOURCE
#include "reset.h"
#include "util.h"
#include "../common/ataru_abi.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define HOT_MAX_PAGES 256
#define HOT_IDLE_RESETS 8

int ataru_page_is_zero(const uint8_t *p) {
  const uint64_t *w = (const uint64_t *)p;
  for (size_t i = 0; i < ATARU_PAGE_SIZE / 8; i++)
    if (w[i]) return 0;
  return 1;
}

int ataru_snapshot_take(ataru_snapshot *s, uint8_t *arena, uint64_t bytes, const uint8_t *writable,
                        uint64_t zero_gpa, uint64_t zero_len, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  s->arena = arena;
  s->npages = (bytes + ATARU_PAGE_SIZE - 1) / ATARU_PAGE_SIZE;
  s->page = calloc(s->npages, sizeof *s->page);
  s->bitmap_len = ((s->npages + 63) / 64) * 8;
  s->bitmap = calloc(1, s->bitmap_len);
  s->hot = calloc(s->npages, 1);
  if (!s->page || !s->bitmap || !s->hot) goto oom;
  uint64_t nonzero = 0;
  uint64_t zfirst = zero_gpa / ATARU_PAGE_SIZE, zend = (zero_gpa + zero_len) / ATARU_PAGE_SIZE;
  for (uint64_t p = 0; p < s->npages; p++) {
    if (!writable[p]) s->page[p] = SNAP_KEEP; /* code, read-only data, page tables */
    else if (p >= zfirst && p < zend) continue; /* known zero: reading would only fault it in */
    else if (!ataru_page_is_zero(arena + p * ATARU_PAGE_SIZE)) s->page[p] = (uint32_t)++nonzero;
  }
  s->data_len = nonzero * ATARU_PAGE_SIZE;
  if (s->data_len) {
    s->data = mmap(NULL, s->data_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->data == MAP_FAILED) {
      s->data = NULL;
      goto oom;
    }
    for (uint64_t p = 0; p < s->npages; p++)
      if (s->page[p] && s->page[p] != SNAP_KEEP)
        memcpy(s->data + (uint64_t)(s->page[p] - 1) * ATARU_PAGE_SIZE,
               arena + p * ATARU_PAGE_SIZE, ATARU_PAGE_SIZE);
  }
  return 0;
oom:
  ataru_snapshot_free(s);
  ataru_seterr(err, errlen, "out of memory taking the memory snapshot");
  return -1;
}

uint32_t *ataru_snapshot_classify(const uint8_t *arena, uint64_t npages, const uint8_t *writable) {
  uint32_t *page = calloc(npages ? npages : 1, sizeof *page);
  if (!page) return NULL;
  for (uint64_t p = 0; p < npages; p++) {
    if (!writable[p]) page[p] = SNAP_KEEP;
    else if (!ataru_page_is_zero(arena + p * ATARU_PAGE_SIZE)) page[p] = (uint32_t)(p + 1);
  }
  return page;
}

int ataru_snapshot_borrow(ataru_snapshot *s, uint8_t *arena, uint64_t npages, uint32_t *page,
                          uint8_t *data, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  s->borrowed = 1;
  s->arena = arena;
  s->npages = npages;
  s->page = page;
  s->data = data;
  s->bitmap_len = ((npages + 63) / 64) * 8;
  s->bitmap = calloc(1, s->bitmap_len);
  s->hot = calloc(npages ? npages : 1, 1);
  if (s->bitmap && s->hot) return 0;
  ataru_snapshot_free(s);
  ataru_seterr(err, errlen, "out of memory for the reset state");
  return -1;
}

void ataru_snapshot_free(ataru_snapshot *s) {
  if (s->borrowed) {
    s->page = NULL;
    s->data = NULL;
  }
  if (s->data) munmap(s->data, s->data_len);
  free(s->page);
  free(s->bitmap);
  free(s->hot);
  memset(s, 0, sizeof *s);
}

static void restore_page(ataru_snapshot *s, uint64_t p) {
  uint8_t *dst = s->arena + p * ATARU_PAGE_SIZE;
  if (s->page[p] == SNAP_KEEP) return;
  if (s->page[p])
    memcpy(dst, s->data + (uint64_t)(s->page[p] - 1) * ATARU_PAGE_SIZE, ATARU_PAGE_SIZE);
  else
    memset(dst, 0, ATARU_PAGE_SIZE);
}

void ataru_snapshot_restore(ataru_snapshot *s, uint64_t gpa, uint64_t len) {
  if (!len) return;
  uint64_t first = gpa / ATARU_PAGE_SIZE, last = (gpa + len - 1) / ATARU_PAGE_SIZE;
  for (uint64_t p = first; p <= last && p < s->npages; p++) restore_page(s, p);
}

/* restore_page for a page that may be unchanged: returns 1 if it differed.
 * Reading is cheaper than writing, and the answer drives the hot set. */
static int restore_changed_page(ataru_snapshot *s, uint64_t p) {
  uint8_t *dst = s->arena + p * ATARU_PAGE_SIZE;
  if (s->page[p]) {
    const uint8_t *src = s->data + (uint64_t)(s->page[p] - 1) * ATARU_PAGE_SIZE;
    if (!memcmp(dst, src, ATARU_PAGE_SIZE)) return 0;
    memcpy(dst, src, ATARU_PAGE_SIZE);
  } else {
    if (ataru_page_is_zero(dst)) return 0;
    memset(dst, 0, ATARU_PAGE_SIZE);
  }
  return 1;
}

/* One logged page: restores it and returns 1 if it is to stay writable. */
static int reset_logged_page(ataru_snapshot *s, uint64_t p) {
  if (s->page[p] == SNAP_KEEP) return 0;
  if (s->hot[p]) {
    if (restore_changed_page(s, p)) s->hot[p] = 1;
    else if (++s->hot[p] > HOT_IDLE_RESETS) {
      s->hot[p] = 0;
      s->nhot--;
      return 0;
    }
    return 1;
  }
  restore_page(s, p);
  if (s->nhot >= HOT_MAX_PAGES) return 0;
  s->hot[p] = 1;
  s->nhot++;
  return 1;
}

long ataru_snapshot_reset_dirty(ataru_snapshot *s, int vm_fd, uint32_t slot, uint64_t first_page,
                                int manual) {
  struct kvm_dirty_log log;
  memset(&log, 0, sizeof log);
  log.slot = slot;
  log.dirty_bitmap = s->bitmap;
  if (ioctl(vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) return -1;
  long n = 0;
  int reprotect = 0;
  for (size_t w = 0; w < s->bitmap_len / 8; w++) {
    uint64_t bits = s->bitmap[w];
    while (bits) {
      uint64_t bit = bits & -bits;
      uint64_t p = first_page + w * 64 + (uint64_t)__builtin_ctzll(bits);
      bits &= bits - 1;
      if (p >= s->npages) continue;
      n++;
      if (!manual) restore_page(s, p);
      else if (reset_logged_page(s, p)) s->bitmap[w] &= ~bit; /* not re-protected */
      else reprotect = 1;
    }
  }
  if (reprotect) {
    /* The bitmap now holds exactly the pages to re-protect, all restored. */
    struct kvm_clear_dirty_log clear = {.slot = slot, .num_pages = (uint32_t)(s->npages - first_page),
                                        .first_page = 0, .dirty_bitmap = s->bitmap};
    if (ioctl(vm_fd, KVM_CLEAR_DIRTY_LOG, &clear) < 0) return -1;
  }
  return n;
}
