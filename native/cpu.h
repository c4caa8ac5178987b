/*
 * cpu.h — x86-64 state of a vCPU: the system area (GDT, TSS with the I/O
 * permission bitmap, IDT, fault stubs, fault stacks), long-mode entry at
 * CPL3, CPUID/XCR0/MSRs. Host-internal: the guest never reads these
 * offsets, only the CPU and the host do.
 *
 * System area (ATARU_SYS_BASE, supervisor-only):
 *   page 0  GDT | IDT (vectors 0-31) | one TSS per vCPU       RW NX
 *   page 1  fault stubs                                       R  X
 *   page 2+v  vCPU v's fault stack; its ataru_fault_record at
 *             CPU_FAULT_RECORD_OFF (the stubs find it from rsp) RW NX
 */
#ifndef ATARU_CPU_H
#define ATARU_CPU_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>
#include "mem.h"
#include "../common/ataru_abi.h"

#define CPU_GDT_OFF          0x000
#define CPU_IDT_OFF          0x200
#define CPU_TSS_OFF          0x400  /* + vcpu * CPU_TSS_STRIDE */
#define CPU_TSS_STRIDE       0x100
#define CPU_STUBS_OFF        0x1000
#define CPU_FAULT_STACK_OFF  0x2000 /* + vcpu * page */
#define CPU_FAULT_RECORD_OFF 0xf00  /* within a fault-stack page; RSP0 points here */
#define CPU_IST1_OFF         0x800  /* within a fault-stack page */
#define CPU_SYS_USED         (CPU_FAULT_STACK_OFF + ATARU_MAX_VCPUS * ATARU_PAGE_SIZE)

/* Builds the system area in guest memory (before the VM first runs). */
int ataru_cpu_build_sys(ataru_mem *mem, char *err, size_t errlen);

/* The fault record of vCPU v (host pointer into guest memory). */
volatile struct ataru_fault_record *ataru_cpu_fault_record(ataru_mem *mem, uint32_t vcpu);

/* One-time setup of a new vCPU: CPUID, XCR0, MSRs, then segment state.
 * Fills *sregs with the state to restore after a fault. */
int ataru_cpu_setup(int vcpu_fd, uint32_t vcpu, uint64_t cr3, struct kvm_sregs *sregs, char *err,
                    size_t errlen);

/* RFLAGS for guest code: IF=0, IOPL=0 (see cpu.c). */
uint64_t ataru_cpu_rflags(void);

/* Puts a vCPU at CPL3 at rip with rsp, all other registers zero. */
int ataru_cpu_enter(int vcpu_fd, const struct kvm_sregs *sregs, uint64_t rip, uint64_t rsp,
                    uint64_t rflags);

#endif
