/* util.h — small helpers shared by the core's C files. */
#ifndef ATARU_UTIL_H
#define ATARU_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "ataru_core.h" /* ataru_tsc_hz */

void ataru_seterr(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Fills e (code: an ATARU_CREATE_*) and returns -1. */
int ataru_fail(ataru_error *e, uint32_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* NO_RESOURCES for errno values that mean the process or machine ran out
 * (ENOMEM, EMFILE, ENFILE, EAGAIN, ENOSPC), else `otherwise`. */
uint32_t ataru_errno_code(int errnum, uint32_t otherwise);
uint64_t ataru_now_ns(void);   /* CLOCK_MONOTONIC */
void ataru_tsc_set_khz(uint64_t khz); /* from KVM_GET_TSC_KHZ: the guest's TSC rate */
static inline uint64_t ataru_rdtsc_host(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}
/* ticks of the guest's rdtsc (kvm_pvm: raw host TSC) to ns */
static inline uint64_t ataru_tsc_to_ns(uint64_t ticks) {
  return (uint64_t)((unsigned __int128)ticks * 1000000000u / ataru_tsc_hz());
}

#endif
