/*
 * fault.h — turning a fault or an unexpected exit into a failure whose
 * message names the node, the cause, the address and the instruction, and
 * the node labels every message uses.
 */
#ifndef ATARU_FAULT_H
#define ATARU_FAULT_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "exit.h"
#include "instance.h"

/* A fault the CPL0 stubs recorded (`out FAULT`). */
void ataru_fault_from_record(struct ataru_instance *inst, uint32_t vcpu, const struct kvm_regs *regs,
                             struct failure *f);
/* Any exit that is not part of the runtime's protocol. */
void ataru_fault_from_exit(struct ataru_instance *inst, uint32_t vcpu, const struct vm_exit *e,
                           const struct kvm_regs *regs, struct failure *f);
/* The node vCPU `vcpu` runs (from the mailbox), or ATARU_NO_NODE. */
uint32_t ataru_current_node(struct ataru_instance *inst, uint32_t vcpu);
/* "node 2 (sobel)", or "the runtime" for ATARU_NO_NODE. */
void ataru_node_label(struct ataru_instance *inst, uint32_t node, char *buf, size_t n);

#endif
