/* util.c — error formatting, clocks, TSC calibration. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

void ataru_seterr(char *err, size_t n, const char *fmt, ...) {
  if (!err || !n) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
}

int ataru_fail(ataru_error *e, uint32_t code, const char *fmt, ...) {
  if (!e) return -1;
  e->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return -1;
}

uint32_t ataru_errno_code(int errnum, uint32_t otherwise) {
  switch (errnum) {
  case ENOMEM: case EMFILE: case ENFILE: case EAGAIN: case ENOSPC:
    return ATARU_CREATE_NO_RESOURCES;
  default:
    return otherwise;
  }
}

uint64_t ataru_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t tsc_hz;

void ataru_tsc_set_khz(uint64_t khz) {
  if (!__atomic_load_n(&tsc_hz, __ATOMIC_ACQUIRE) && khz) __atomic_store_n(&tsc_hz, khz * 1000u, __ATOMIC_RELEASE);
}

/* Fallback when KVM_GET_TSC_KHZ is unavailable. The guest reads the host
 * TSC rate (kvm_pvm: the raw host TSC, offset 0; hardware: KVM keeps the
 * host rate unless told otherwise). */
static void calibrate(void) {
  if (__atomic_load_n(&tsc_hz, __ATOMIC_ACQUIRE)) return;
  uint64_t t0 = ataru_now_ns(), c0 = ataru_rdtsc_host();
  struct timespec d = {0, 5000000};
  nanosleep(&d, NULL);
  uint64_t t1 = ataru_now_ns(), c1 = ataru_rdtsc_host();
  tsc_hz = (uint64_t)((unsigned __int128)(c1 - c0) * 1000000000u / (t1 - t0));
  if (!tsc_hz) tsc_hz = 1;
}

uint64_t ataru_tsc_hz(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, calibrate);
  return tsc_hz;
}
