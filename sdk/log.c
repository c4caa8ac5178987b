/*
 * log.c — ataru_log: formats into this vCPU's log slot of the mailbox and
 * leaves the VM through ATARU_PORT_LOG; the host reads the slot and resumes
 * the function (common/ataru_abi.h).
 */
#include "ataru.h"
#include "ataru_abi.h"
#include "format.h"

/* The vCPU running this code, found from the stack pointer
 * (common/ataru_abi.h: ataru_vcpu_info_at). */
static uint32_t current_vcpu(void) {
  uint64_t sp;
  __asm__("mov %%rsp, %0" : "=r"(sp));
  uint64_t vcpu = ataru_vcpu_info_at(sp)->vcpu;
  return vcpu < ATARU_MAX_VCPUS ? (uint32_t)vcpu : 0;
}

int ataru_log(const char *fmt, ...) {
  struct ataru_mailbox *mb = (struct ataru_mailbox *)ATARU_MAILBOX_BASE;
  uint32_t vcpu = current_vcpu();
  va_list ap;
  va_start(ap, fmt);
  int n = ataru_vsnprintf(mb->log[vcpu], ATARU_LOG_MAX, fmt, ap);
  va_end(ap);
  uint32_t len = (uint32_t)n < ATARU_LOG_MAX - 1 ? (uint32_t)n : ATARU_LOG_MAX - 1;
  mb->log_len[vcpu] = len;
  __asm__ volatile("outb %%al, %0" : : "i"(ATARU_PORT_LOG), "a"(0) : "memory");
  return (int)len;
}
