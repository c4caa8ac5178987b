/* util.h — small helpers shared by the core's C files. */
#ifndef ATARU_UTIL_H
#define ATARU_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "ataru_core.h" /* ataru_tsc_hz */

void ataru_seterr(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
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
