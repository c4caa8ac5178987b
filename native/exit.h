/*
 * exit.h — what a KVM_RUN returned, decoded from kvm_run into a plain
 * struct. This is only KVM's side (exit reasons); what the ports mean —
 * Ataru's protocol of DONE, LOG, PARK, YIELD and FAULT — is run.c's.
 */
#ifndef ATARU_EXIT_H
#define ATARU_EXIT_H

#include <linux/kvm.h>
#include <stdint.h>

enum vm_exit_kind {
  VM_EXIT_OUT,            /* `out` to a port the TSS bitmap lets through  */
  VM_EXIT_IN,             /* `in` from such a port                         */
  VM_EXIT_INTERRUPTED,    /* KVM_RUN returned EINTR/EAGAIN: a kick         */
  VM_EXIT_RUN_FAILED,     /* KVM_RUN returned another error (errnum)       */
  VM_EXIT_MMIO,           /* an access outside every memslot               */
  VM_EXIT_SHUTDOWN,       /* triple fault                                  */
  VM_EXIT_FAIL_ENTRY,     /* the CPU refused the VM entry                  */
  VM_EXIT_INTERNAL_ERROR, /* KVM could not emulate something               */
  VM_EXIT_HLT,
  VM_EXIT_OTHER,          /* any other exit reason (reason)                */
};

struct vm_exit {
  enum vm_exit_kind kind;
  uint32_t reason;        /* KVM_EXIT_* as reported                        */
  int errnum;             /* RUN_FAILED                                    */
  uint16_t port;          /* OUT, IN                                       */
  uint64_t mmio_addr;     /* MMIO: guest-physical address                  */
  int mmio_write;
  uint64_t hw_reason;     /* FAIL_ENTRY                                    */
  uint32_t suberror;      /* INTERNAL_ERROR                                */
  int exception_known;    /* SHUTDOWN: the exception KVM last injected     */
  uint8_t exception_nr;
  int rip_known;          /* KVM_CAP_SYNC_REGS: rip, rsp came with the exit */
  uint64_t rip, rsp;
};

/* Decodes an exit: rc and errnum are KVM_RUN's; sync_regs: the registers
 * come with each exit. vcpu_fd is used only for a SHUTDOWN (to read the
 * pending exception). */
void ataru_exit_decode(const struct kvm_run *run, int rc, int errnum, int sync_regs, int vcpu_fd,
                       struct vm_exit *out);

#endif
