/*
 * start.S — the runtime's top-level loops. The host sets rsp to the vCPU's
 * stack top and rip to one of these entries once (and again only after a
 * fault). On the normal path the host never sets registers: the next KVM_RUN
 * simply continues after the `out`, which loops back for the next request.
 * (Where RIP points at an I/O exit differs between kvm_pvm and hardware KVM;
 * resuming after the `out` is what both do on the next KVM_RUN.)
 */
#include "ataru_abi.h"

	.text
	.globl ataru_runtime_main_entry
	.type ataru_runtime_main_entry, @function
ataru_runtime_main_entry:		/* vCPU 0: one request per iteration */
	call runtime_main
	outb %al, $ATARU_PORT_DONE
	jmp ataru_runtime_main_entry

	.globl ataru_runtime_worker_entry
	.type ataru_runtime_worker_entry, @function
ataru_runtime_worker_entry:		/* vCPUs 1..n-1: help, then park */
	call runtime_worker
	outb %al, $ATARU_PORT_PARK
	jmp ataru_runtime_worker_entry

	.section .note.GNU-stack,"",@progbits
