/*
 * ataru.h — the SDK for Ataru functions.
 *
 * A function is a freestanding x86-64 ELF built with `ataru build` (or
 * sdk/ataru.mk). It exports
 *
 *     long entry(const void *in, void *out, uint64_t node_id,
 *                uint64_t in_len, uint64_t out_cap);
 *
 * called in user mode inside the app's VM with the System V registers of the
 * original ABI: in = rdi, out = rsi, node_id = rdx, plus in_len = rcx and
 * out_cap = r8. The original's three-argument form
 *     long entry(const void *in, void *out, uint64_t node_id);
 * is the same call and keeps working (the extra arguments are ignored).
 * Return the number of bytes written at `out` (0..out_cap), or a negative
 * error code, which fails the request and names this node.
 *
 * in_len: for a node whose inp_off matches a parent's out_off, that parent's
 * output length; for inp_off 0 without such a parent, the request length;
 * otherwise the bytes from inp_off to the end of the shared region.
 * out_cap: bytes from out_off to the end of the shared region.
 *
 * There is no OS: no system calls, no heap unless you bring one, no files.
 * Memory is reset after every request unless the app keeps state.
 *
 * Optional, once per app version: a function (or exec[0], the shared image)
 * may also export
 *
 *     long ataru_init(void *shm, uint64_t shm_size);
 *
 * It runs once, at deploy, inside the VM (exec[0]'s first, then each node's
 * in node order), before any request: build tables, parse a model, warm a
 * cache. Whatever memory it leaves behind (globals, heap, the shared region)
 * is the clean state every request starts from, on every instance; requests
 * still never see each other's writes. Return >= 0 for success; a negative
 * value, a fault or running past the app's timeout fails the deploy with an
 * error naming the node. Registers and FPU start clean as for entry.
 */
#ifndef ATARU_H
#define ATARU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Freestanding helpers (the compiler may also emit calls to these). */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Log a message through the host (one VM exit per call: for debugging, not
 * for hot loops). printf-like, bounded to ATARU_LOG_MAX bytes; supports
 * %d %i %u %x %X %p %s %c %% with l/ll/z length modifiers. Returns bytes
 * logged. The host tags each line with app, node and request ids and
 * rate-limits. */
int ataru_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* snprintf with the same formats as ataru_log. */
/* The optional init hook described above (declared so a typo in its name
 * or type is a compile error rather than a hook that never runs). */
long ataru_init(void *shm, uint64_t shm_size);

int ataru_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#if defined(__x86_64__)
/* Read the time-stamp counter (allowed at CPL3). Guarded so the same
 * function sources also compile for other targets (the wasm32 builds of
 * bench/peers). */
static inline uint64_t ataru_rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}
#endif

/* Error codes a function may return (any negative value works). */
#define ATARU_EINVAL  (-22)
#define ATARU_ENOSPC  (-28)

#ifdef __cplusplus
}
#endif
#endif
