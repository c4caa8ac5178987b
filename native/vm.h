/*
 * vm.h — one KVM VM: /dev/kvm, KVM_CREATE_VM and its VM-wide settings, and
 * its memslots. Knows nothing about what runs inside.
 */
#ifndef ATARU_VM_H
#define ATARU_VM_H

#include <stdint.h>
#include "ataru_core.h"

struct ataru_vm {
  int kvm_fd, vm_fd;
  int dirty_manual;   /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 is on (reset.c) */
};

/* Opens /dev/kvm and creates a VM. Fills err (KVM_UNAVAILABLE when the
 * device cannot be opened or speaks another API, NO_RESOURCES, INTERNAL)
 * and leaves both fds -1 on failure. */
int ataru_vm_create(struct ataru_vm *vm, ataru_error *err);
void ataru_vm_close(struct ataru_vm *vm);

/* Guest-physical [gpa, gpa+bytes) backed by host memory at `host`. */
int ataru_vm_set_memslot(const struct ataru_vm *vm, uint32_t slot, uint64_t gpa, uint64_t bytes,
                         void *host, uint32_t flags, ataru_error *err);

#endif
