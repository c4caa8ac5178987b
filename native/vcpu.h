/*
 * vcpu.h — one vCPU: creating it (KVM_CREATE_VCPU, kvm_run, CPUID, XCR0,
 * MSRs, CPL3 segments), putting it back at its entry, and one KVM_RUN.
 * Knows nothing about instances or requests; every call is made on the
 * thread that created the vCPU (KVM_RUN from another thread is slow).
 */
#ifndef ATARU_VCPU_H
#define ATARU_VCPU_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "ataru_core.h"
#include "exit.h"
#include "vm.h"

struct ataru_vcpu {
  uint32_t index;
  int fd;                    /* -1 until created */
  struct kvm_run *run;
  size_t run_size;
  int sync_regs;             /* KVM_CAP_SYNC_REGS: regs come with each exit */
  int sync_all;              /* ... and sregs and events can go in with KVM_RUN */
  struct kvm_sregs sregs;    /* the CPL3 state, restored at every entry */
  uint64_t entry;            /* where ataru_vcpu_enter puts it: rip */
  uint64_t stack_top;        /* ... rsp */
  uint64_t rflags;
  int break_idt;             /* test hook: the IDT limit becomes 0 */
  int needs_enter;           /* enter before the next KVM_RUN */
  int has_run;               /* KVM_RUN was called at least once */
};

/* A vCPU that is not created yet (fd -1): closing it is harmless. */
void ataru_vcpu_init(struct ataru_vcpu *v, uint32_t index);
/* Creates vCPU v->index in the VM; cr3 is the page-table root. */
int ataru_vcpu_create(struct ataru_vcpu *v, const struct ataru_vm *vm, uint64_t cr3, ataru_error *err);
void ataru_vcpu_close(struct ataru_vcpu *v);
/* Back to CPL3 at v->entry with a fresh stack and all other registers zero;
 * also drops any exception KVM still holds. 0, or -1 (errno). */
int ataru_vcpu_enter(struct ataru_vcpu *v);
/* One KVM_RUN (entering first when needs_enter), decoded into *exit. The
 * caller has cleared the kick (ataru_vcpu_clear_kick) and only then checked
 * its own stop conditions. -1 when the registers could not be set. */
int ataru_vcpu_run(struct ataru_vcpu *v, struct vm_exit *exit);
static inline void ataru_vcpu_clear_kick(struct ataru_vcpu *v) { v->run->immediate_exit = 0; }
/* The general-purpose registers at the last exit. */
void ataru_vcpu_regs(struct ataru_vcpu *v, struct kvm_regs *r);

#endif
