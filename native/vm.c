/* vm.c — KVM_CREATE_VM and the VM-level setup (see vm.h). */
#define _GNU_SOURCE
#include "vm.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int ataru_vm_create(struct ataru_vm *vm, ataru_error *err) {
  vm->kvm_fd = vm->vm_fd = -1;
  vm->dirty_manual = 0;
  vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (vm->kvm_fd < 0)
    return ataru_fail(err, ataru_errno_code(errno, ATARU_CREATE_KVM_UNAVAILABLE), "/dev/kvm: %s",
                      strerror(errno));
  if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
    ataru_vm_close(vm);
    return ataru_fail(err, ATARU_CREATE_KVM_UNAVAILABLE, "/dev/kvm: unsupported KVM API version");
  }
  do vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
  while (vm->vm_fd < 0 && errno == EINTR);
  if (vm->vm_fd < 0) {
    int e = errno;
    ataru_vm_close(vm);
    return ataru_fail(err, ataru_errno_code(e, ATARU_CREATE_INTERNAL), "KVM_CREATE_VM: %s", strerror(e));
  }
  /* Intel without unrestricted guest wants a TSS area for real mode; we
   * never use real mode, and other platforms ignore or lack it. */
  ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
  /* The guest's TSC rate (its rdtsc timings and idle spin); the VM-level
   * query needs KVM_CAP_VM_TSC_CONTROL, else ataru_tsc_hz() calibrates. */
  int khz = ioctl(vm->vm_fd, KVM_GET_TSC_KHZ, 0);
  if (khz > 0) ataru_tsc_set_khz((uint64_t)khz);
  /* Manual dirty-log protection lets the reset leave pages that every
   * request writes unprotected (reset.c); without it, every page is
   * re-protected as before. Not INITIALLY_SET: the load's writes are not
   * to be restored. */
  struct kvm_enable_cap cap = {.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
                               .args = {KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE}};
  vm->dirty_manual = ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) == 0;
  return 0;
}

void ataru_vm_close(struct ataru_vm *vm) {
  if (vm->vm_fd >= 0) close(vm->vm_fd);
  if (vm->kvm_fd >= 0) close(vm->kvm_fd);
  vm->vm_fd = vm->kvm_fd = -1;
}

int ataru_vm_set_memslot(const struct ataru_vm *vm, uint32_t slot, uint64_t gpa, uint64_t bytes,
                         void *host, uint32_t flags, ataru_error *err) {
  struct kvm_userspace_memory_region r = {
      .slot = slot,
      .flags = flags,
      .guest_phys_addr = gpa,
      .memory_size = bytes,
      .userspace_addr = (uint64_t)(uintptr_t)host,
  };
  if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
    return ataru_fail(err, ataru_errno_code(errno, ATARU_CREATE_INTERNAL), "KVM_SET_USER_MEMORY_REGION: %s",
                      strerror(errno));
  return 0;
}
