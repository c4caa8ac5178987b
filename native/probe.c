/* probe.c — read-only questions to /dev/kvm for `ataru doctor`: the API
 * version and the capabilities the core relies on (instance.c, vcpu.c,
 * reset.c, cpu.c), and the CPU protections every guest gets (cpuid.c).
 * Required capabilities have no fallback in the core; the others
 * only cost speed or precision when missing. */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const struct {
  const char *name;
  int cap;
  int required;
} wanted[] = {
    {"KVM_CAP_USER_MEMORY", KVM_CAP_USER_MEMORY, 1},          /* memslots over our arena (instance.c) */
    {"KVM_CAP_EXT_CPUID", KVM_CAP_EXT_CPUID, 1},              /* KVM_GET_SUPPORTED_CPUID (cpu.c) */
    {"KVM_CAP_IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT, 1},    /* timeouts interrupt KVM_RUN (vcpu.c) */
    {"KVM_CAP_XCRS", KVM_CAP_XCRS, 0},                        /* XCR0 for SSE/AVX, on CPUs with XSAVE (cpu.c) */
    {"KVM_CAP_VCPU_EVENTS", KVM_CAP_VCPU_EVENTS, 0},          /* clearing a pending event after a fault (vcpu.c) */
    {"KVM_CAP_SET_TSS_ADDR", KVM_CAP_SET_TSS_ADDR, 0},        /* Intel without unrestricted guest */
    {"KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2", KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 0}, /* faster reset (reset.c) */
    {"KVM_CAP_GET_TSC_KHZ", KVM_CAP_GET_TSC_KHZ, 0},          /* else the TSC rate is calibrated */
    {"KVM_CAP_VM_TSC_CONTROL", KVM_CAP_VM_TSC_CONTROL, 0},    /* VM-level KVM_GET_TSC_KHZ */
    {"KVM_CAP_SYNC_REGS", KVM_CAP_SYNC_REGS, 0},              /* fewer ioctls per fault recovery */
};

int ataru_kvm_probe(struct ataru_kvm_probe *p) {
  memset(p, 0, sizeof *p);
  p->api_version = -1;
  p->api_expected = KVM_API_VERSION;
  p->vcpu_mmap_size = -1;
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    p->open_errno = errno;
    return -1;
  }
  p->api_version = ioctl(fd, KVM_GET_API_VERSION, 0);
  p->vcpu_mmap_size = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  size_t n = sizeof wanted / sizeof wanted[0];
  for (size_t i = 0; i < n && i < ATARU_PROBE_MAX_CAPS; i++) {
    struct ataru_kvm_cap *c = &p->caps[p->num_caps++];
    c->name = wanted[i].name;
    c->required = wanted[i].required;
    int v = ioctl(fd, KVM_CHECK_EXTENSION, wanted[i].cap);
    c->value = v < 0 ? -errno : v;
  }
  close(fd);
  char err[128];
  p->cpu_known = ataru_cpuid_guest(&p->cpu, err, sizeof err) != NULL;
  return 0;
}
