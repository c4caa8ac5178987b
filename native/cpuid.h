/*
 * cpuid.h — what the guest is told about the CPU, and which protections the
 * host turns on for it. The table is KVM's supported CPUID, filtered once
 * per process (cpuid.c says what is hidden and why); every vCPU gets it.
 */
#ifndef ATARU_CPUID_H
#define ATARU_CPUID_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

/* What the filtered table offers, decided once per process. */
struct ataru_cpu_features {
  int xsave;      /* CPUID.1:ECX.XSAVE: XCR0 and CR4.OSXSAVE are set */
  uint64_t xcr0;  /* the XCR0 every vCPU gets when xsave */
  int smep;       /* CR4.SMEP: CPL0 never executes user pages */
  int smap;       /* CR4.SMAP: CPL0 never touches user pages */
  int umip;       /* CR4.UMIP: SGDT/SIDT/SLDT/SMSW/STR fault at CPL3 */
};

/* The filtered table (KVM_SET_CPUID2's argument) and the features; NULL
 * with the reason in err when /dev/kvm or KVM_GET_SUPPORTED_CPUID fails. */
const struct kvm_cpuid2 *ataru_cpuid_guest(struct ataru_cpu_features *features, char *err,
                                           size_t errlen);

/* The brand string the guest reads from leaves 0x80000002-4. */
#define ATARU_CPUID_BRAND "Ataru virtual CPU"

#endif
