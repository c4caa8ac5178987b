/* exit.c — decoding KVM exits (see exit.h). */
#define _GNU_SOURCE
#include "exit.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

void ataru_exit_decode(const struct kvm_run *run, int rc, int errnum, int sync_regs, int vcpu_fd,
                       struct vm_exit *out) {
  memset(out, 0, sizeof *out);
  if (rc < 0) {
    out->kind = errnum == EINTR || errnum == EAGAIN ? VM_EXIT_INTERRUPTED : VM_EXIT_RUN_FAILED;
    out->errnum = errnum;
    return;
  }
  out->reason = run->exit_reason;
  if (sync_regs) {
    out->rip_known = 1;
    out->rip = run->s.regs.regs.rip;
    out->rsp = run->s.regs.regs.rsp;
  }
  switch (run->exit_reason) {
  case KVM_EXIT_IO:
    out->kind = run->io.direction == KVM_EXIT_IO_OUT ? VM_EXIT_OUT : VM_EXIT_IN;
    out->port = run->io.port;
    return;
  case KVM_EXIT_MMIO:
    out->kind = VM_EXIT_MMIO;
    out->mmio_addr = run->mmio.phys_addr;
    out->mmio_write = run->mmio.is_write;
    return;
  case KVM_EXIT_SHUTDOWN: {
    out->kind = VM_EXIT_SHUTDOWN;
    struct kvm_vcpu_events ev;
    if (ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) == 0 && ev.exception.injected) {
      out->exception_known = 1;
      out->exception_nr = ev.exception.nr;
    }
    return;
  }
  case KVM_EXIT_FAIL_ENTRY:
    out->kind = VM_EXIT_FAIL_ENTRY;
    out->hw_reason = run->fail_entry.hardware_entry_failure_reason;
    return;
  case KVM_EXIT_INTERNAL_ERROR:
    out->kind = VM_EXIT_INTERNAL_ERROR;
    out->suberror = run->internal.suberror;
    return;
  case KVM_EXIT_HLT:
    out->kind = VM_EXIT_HLT;
    return;
  default:
    out->kind = VM_EXIT_OTHER;
    return;
  }
}
