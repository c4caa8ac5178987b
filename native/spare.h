/*
 * spare.h — one VM built ahead of time, for cold starts.
 *
 * Creating a VM and setting up its first vCPU (KVM_CREATE_VM,
 * KVM_CREATE_VCPU, mmap of kvm_run, CPUID/XCR0/MSRs/SREGS, the thread) is
 * ~500 µs of a ~1 ms cold start on kvm_pvm, and none of it depends on the
 * app (CR3 is the same in every arena: ATARU_MEM_CR3). So the process keeps
 * at most one such spare: instance creation takes it, and after an
 * instance's first request (off the latency path) a new one is built in
 * the background if there is none. Built during a create or a first
 * request it would slow them: VM creation holds up the process's page
 * faults and memslot updates. A process that never creates an instance
 * creates no spare VM.
 *
 * The spare's thread built vCPU 0, so it is handed over with it and
 * becomes the taker's vCPU-0 thread (a vCPU is run only from the thread
 * that created it). It is an ordinary job thread (vthread.h): the taker
 * just hands it jobs.
 */
#ifndef ATARU_SPARE_H
#define ATARU_SPARE_H

#include "vcpu.h"
#include "vm.h"
#include "vthread.h"

struct ataru_spare_vm {
  struct ataru_vm vm;
  struct ataru_vcpu vcpu0;   /* created, index 0 */
  vthread *thread;           /* the thread that created vcpu0 */
};

/* Hands over the spare when one is ready: returns 1 and fills *out (the
 * caller owns everything in it), else 0. */
int ataru_spare_take(struct ataru_spare_vm *out);
/* Starts building a spare in the background if there is none. */
void ataru_spare_refill(void);

/* How long a vCPU-0 thread polls for its next job before it sleeps: covers
 * the turnaround of a client over a local socket (the data port: ~20-30
 * µs); at 20 µs the thread slept before most server requests and each paid
 * a futex wake-up (20-30 µs on kvm_pvm). */
#define ATARU_VCPU0_IDLE_SPIN_NS 50000

#endif
