/*
 * boot.S — a minimal PVH kernel for the "qemu microvm per request" peer.
 *
 * QEMU enters pvh_start in 32-bit protected mode, paging off, with %ebx
 * pointing at struct hvm_start_info. We switch to long mode with static
 * page tables (identity map of the first 1 GiB, 2 MiB pages, user-accessible)
 * and drop to CPL3 at once: on kvm_pvm every CPL0 instruction is emulated
 * (~1000× slow), while CPL3 runs natively — so the kernel does as little as
 * possible at CPL0 and the work runs in user mode, as a guest OS's process
 * would. Port I/O at CPL3 (serial, isa-debug-exit) is allowed by the TSS I/O
 * bitmap and IOPL=3 (docs/platform-differences.md: kvm_pvm reads only the bitmap, QEMU's TCG
 * only IOPL). There is no IDT: any fault triple-faults and -no-reboot ends
 * QEMU, which the harness reports as a failed request.
 */
#define PAGE_P    0x001
#define PAGE_RW   0x002
#define PAGE_US   0x004
#define PAGE_A    0x020
#define PAGE_D    0x040
#define PAGE_PS   0x080
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS   0x28

/* PVH entry point note (XEN_ELFNOTE_PHYS32_ENTRY = 18). */
  .section .note.pvh, "a"
  .p2align 2
  .long 4, 4, 18
  .asciz "Xen"
  .p2align 2
  .long pvh_start

  .section .boot, "ax"
  .code32
  .globl pvh_start
pvh_start:
  mov %ebx, %esi                 /* start_info, kept for user_main */
  lgdt gdt_ptr
  mov $pml4, %eax
  mov %eax, %cr3
  mov $0x620, %eax               /* CR4: PAE | OSFXSR | OSXMMEXCPT */
  mov %eax, %cr4
  mov $0xc0000080, %ecx          /* EFER: LME | NXE */
  rdmsr
  or $0x900, %eax
  wrmsr
  mov $0x80000023, %eax          /* CR0: PG | NE | MP | PE */
  mov %eax, %cr0
  ljmp $SEL_KCODE, $long_mode

  .code64
long_mode:
  mov $SEL_KDATA, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  /* TSS descriptor base: filled here (the assembler cannot split a
   * relocated address into descriptor fields). */
  mov $tss, %rax
  mov %ax, gdt_tss + 2
  shr $16, %rax
  mov %al, gdt_tss + 4
  mov %ah, gdt_tss + 7
  shr $16, %rax
  mov %eax, gdt_tss + 8
  mov $SEL_TSS, %ax
  ltr %ax
  /* iretq to user_entry at CPL3, IOPL=3, interrupts off. */
  mov %esi, %edi
  pushq $SEL_UDATA
  pushq $user_stack_top
  pushq $0x3002
  pushq $SEL_UCODE
  pushq $user_entry
  iretq

  .text
user_entry:
  mov $SEL_UDATA, %ax
  mov %ax, %ds
  mov %ax, %es
  call user_main
1:
  jmp 1b

  .data
  .p2align 3
gdt:
  .quad 0
  .quad 0x00209a0000000000       /* 0x08 kernel code, 64-bit */
  .quad 0x0000920000000000       /* 0x10 kernel data */
  .quad 0x0020fa0000000000       /* 0x18 user code, 64-bit, DPL3 */
  .quad 0x0000f20000000000       /* 0x20 user data, DPL3 */
gdt_tss:                         /* 0x28 64-bit TSS (type 9), base set at boot */
  .word tss_end - tss - 1
  .word 0
  .byte 0, 0x89, 0, 0
  .long 0, 0
gdt_end:
gdt_ptr:
  .word gdt_end - gdt - 1
  .long gdt

  .p2align 4
tss:
  .long 0
  .quad 0, 0, 0                  /* rsp0..2: no interrupts are taken */
  .quad 0
  .quad 0, 0, 0, 0, 0, 0, 0      /* ist1..7 */
  .quad 0
  .word 0
  .word iomap - tss
iomap:                           /* one bit per port, 0 = allowed */
  .fill 0x1e, 1, 0xff
  .byte 0xef                     /* 0xf4: isa-debug-exit */
  .fill 0x7f - 0x1f, 1, 0xff
  .byte 0x00                     /* 0x3f8..0x3ff: COM1 */
  .byte 0xff                     /* the bitmap's terminating byte */
tss_end:

  .p2align 12
pml4:
  .quad pdpt + (PAGE_P | PAGE_RW | PAGE_US | PAGE_A)
  .fill 511, 8, 0
pdpt:
  .quad pd + (PAGE_P | PAGE_RW | PAGE_US | PAGE_A)
  .fill 511, 8, 0
pd:                              /* 512 × 2 MiB = the first 1 GiB */
  .set i, 0
  .rept 512
  .quad (i << 21) + (PAGE_P | PAGE_RW | PAGE_US | PAGE_A | PAGE_D | PAGE_PS)
  .set i, i + 1
  .endr

  .bss
  .p2align 12
  .skip 65536
user_stack_top:
