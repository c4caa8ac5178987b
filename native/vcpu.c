/* vcpu.c — one vCPU (see vcpu.h). */
#define _GNU_SOURCE
#include "vcpu.h"
#include "cpu.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define SYNC_ALL (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)

void ataru_vcpu_init(struct ataru_vcpu *v, uint32_t index) {
  memset(v, 0, sizeof *v);
  v->index = index;
  v->fd = -1;
}

int ataru_vcpu_create(struct ataru_vcpu *v, const struct ataru_vm *vm, uint64_t cr3, ataru_error *err) {
  char msg[256];
  v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)v->index);
  if (v->fd < 0)
    return ataru_fail(err, ataru_errno_code(errno, ATARU_CREATE_INTERNAL), "KVM_CREATE_VCPU %u: %s", v->index,
                      strerror(errno));
  int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size <= 0)
    return ataru_fail(err, ATARU_CREATE_INTERNAL, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
  v->run_size = (size_t)size;
  v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
  if (v->run == MAP_FAILED) {
    v->run = NULL;
    return ataru_fail(err, ataru_errno_code(errno, ATARU_CREATE_INTERNAL), "mmap of kvm_run: %s",
                      strerror(errno));
  }
  int sync = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
  if (sync > 0 && (sync & KVM_SYNC_X86_REGS)) {
    v->sync_regs = 1;
    v->sync_all = (sync & SYNC_ALL) == SYNC_ALL;
    v->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
  }
  if (ataru_cpu_setup(v->fd, v->index, cr3, &v->sregs, msg, sizeof msg) < 0)
    return ataru_fail(err, ATARU_CREATE_INTERNAL, "%s", msg);
  v->rflags = ataru_cpu_rflags();
  v->stack_top = ATARU_STACK_TOP(v->index);
  v->needs_enter = 1; /* the entry is known once everything is loaded */
  return 0;
}

void ataru_vcpu_close(struct ataru_vcpu *v) {
  if (v->run) munmap(v->run, v->run_size);
  v->run = NULL;
  if (v->fd >= 0) close(v->fd);
  v->fd = -1;
}

int ataru_vcpu_enter(struct ataru_vcpu *v) {
  struct kvm_run *run = v->run;
  if (v->has_run) {
    /* KVM completes a pending MMIO read or port access on the next
     * KVM_RUN (writing a register, advancing RIP): run it now with
     * immediate_exit so it cannot land on the fresh state below. */
    if (v->sync_all) run->kvm_valid_regs = SYNC_ALL; /* and return the events */
    run->immediate_exit = 1;
    ioctl(v->fd, KVM_RUN, 0);
    run->immediate_exit = 0;
    if (v->sync_all) {
      /* The state below goes in with the next KVM_RUN: no ioctl each for
       * events, sregs and regs (5-7 µs apiece on kvm_pvm,
       * docs/platform-differences.md). */
      run->kvm_valid_regs = KVM_SYNC_X86_REGS;
      struct kvm_vcpu_events *ev = &run->s.regs.events;
      memset(&ev->exception, 0, sizeof ev->exception);
      memset(&ev->nmi, 0, sizeof ev->nmi);
      ev->flags = 0;
      run->s.regs.sregs = v->sregs;
      if (v->break_idt) run->s.regs.sregs.idt.limit = 0;
      memset(&run->s.regs.regs, 0, sizeof run->s.regs.regs);
      run->s.regs.regs.rip = v->entry;
      run->s.regs.regs.rsp = v->stack_top;
      run->s.regs.regs.rflags = v->rflags;
      run->kvm_dirty_regs = SYNC_ALL;
      v->needs_enter = 0;
      return 0;
    }
  }
  struct kvm_vcpu_events ev;
  if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) == 0) {
    memset(&ev.exception, 0, sizeof ev.exception);
    memset(&ev.nmi, 0, sizeof ev.nmi);
    ev.flags = 0;
    ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev);
  }
  struct kvm_sregs sregs = v->sregs;
  if (v->break_idt) sregs.idt.limit = 0;
  if (ataru_cpu_enter(v->fd, &sregs, v->entry, v->stack_top, v->rflags) < 0) return -1;
  v->needs_enter = 0;
  return 0;
}

int ataru_vcpu_run(struct ataru_vcpu *v, struct vm_exit *exit) {
  if (v->needs_enter && ataru_vcpu_enter(v) < 0) return -1;
  v->has_run = 1;
  int rc = ioctl(v->fd, KVM_RUN, 0);
  ataru_exit_decode(v->run, rc, rc < 0 ? errno : 0, v->sync_regs, v->fd, exit);
  return 0;
}

void ataru_vcpu_regs(struct ataru_vcpu *v, struct kvm_regs *r) {
  if (v->sync_regs)
    *r = v->run->s.regs.regs;
  else if (ioctl(v->fd, KVM_GET_REGS, r) < 0)
    memset(r, 0, sizeof *r);
}
