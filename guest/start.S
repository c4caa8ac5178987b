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
	.globl ataru_runtime_done_exit	/* the only DONE the host honours */
ataru_runtime_done_exit:
	outb %al, $ATARU_PORT_DONE
	jmp ataru_runtime_main_entry

	.globl ataru_runtime_worker_entry
	.type ataru_runtime_worker_entry, @function
ataru_runtime_worker_entry:		/* vCPUs 1..n-1: help, then park */
	call runtime_worker
	.globl ataru_runtime_park_exit	/* the only PARK the host honours */
ataru_runtime_park_exit:
	outb %al, $ATARU_PORT_PARK
	jmp ataru_runtime_worker_entry

/* The exit floor (benchmarks): bare DONE round trips, honoured only while
 * the host measures (mailbox.exit_floor). */
	.globl ataru_runtime_floor_loop
	.type ataru_runtime_floor_loop, @function
ataru_runtime_floor_loop:
	.globl ataru_runtime_floor_exit
ataru_runtime_floor_exit:
	outb %al, $ATARU_PORT_DONE
	jmp ataru_runtime_floor_loop

/*
 * long ataru_call_clean(entry, in, out, node_id, in_len, out_cap)
 * Calls entry(in, out, node_id, in_len, out_cap) with no register holding
 * anything of earlier code: every general-purpose register that is not an
 * argument is zero (rax too: the target is called through the stack), the
 * arithmetic flags are those of `xor`, DF is clear, DS/ES/FS/GS hold the
 * user data selector. The FPU/SIMD state was
 * reset just before (runtime.c). The callee-saved registers are saved here
 * and restored after, so a function that does not keep the ABI's promises
 * cannot corrupt the runtime through them.
 */
	.globl ataru_call_clean
	.type ataru_call_clean, @function
ataru_call_clean:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdi			/* the target; rsp is now 16-byte aligned */
	mov %rsi, %rdi
	mov %rdx, %rsi
	mov %rcx, %rdx
	mov %r8, %rcx
	mov %r9, %r8
	/* Data selectors back to the user data segment (GDT entry 3, RPL 3):
	 * a function may load null or reload them, and the next one must not
	 * see it. Legal at CPL3; in long mode it also zeroes the FS/GS base. */
	mov $ATARU_SEL_USER_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %gs
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ebp, %ebp
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	cld
	call *(%rsp)
	add $8, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

	.section .note.GNU-stack,"",@progbits
