/* probe.h — what this machine's KVM offers, for `ataru doctor`. Opens
 * /dev/kvm on its own and creates no VM: safe to call with instances
 * running, and it says why /dev/kvm cannot be used (errno) when it can't. */
#ifndef ATARU_PROBE_H
#define ATARU_PROBE_H

#include "cpuid.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One capability the core looks at, and how much it depends on it. */
struct ataru_kvm_cap {
  const char *name;   /* "KVM_CAP_USER_MEMORY" */
  int required;       /* 1: the core cannot run without it; 0: a fallback exists */
  int value;          /* KVM_CHECK_EXTENSION's answer (0 = absent, <0 = the ioctl failed) */
};

#define ATARU_PROBE_MAX_CAPS 16

struct ataru_kvm_probe {
  int open_errno;     /* 0 when /dev/kvm opened read-write, else errno */
  int api_version;    /* KVM_GET_API_VERSION, -1 if not read */
  int api_expected;   /* KVM_API_VERSION of the headers the core was built with */
  int vcpu_mmap_size; /* KVM_GET_VCPU_MMAP_SIZE, -1 if not read */
  int num_caps;
  struct ataru_kvm_cap caps[ATARU_PROBE_MAX_CAPS];
  int cpu_known;      /* 1 when cpu holds what every guest vCPU gets (cpuid.c) */
  struct ataru_cpu_features cpu;
};

/* Fills *p. Returns 0 when /dev/kvm opened (whatever its capabilities), -1
 * otherwise (p->open_errno says why). */
int ataru_kvm_probe(struct ataru_kvm_probe *p);

#ifdef __cplusplus
}
#endif
#endif
