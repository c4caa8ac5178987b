/*
 * cpu.c — GDT, TSS, IDT and fault stubs in the system area; long-mode entry
 * at CPL3 through KVM_SET_SREGS (no boot code); CR4 protections, XCR0 and
 * MSRs. The CPUID table itself is cpuid.c's.
 * Everything follows the Intel SDM / AMD APM so that it is correct on
 * hardware KVM too, not only on kvm_pvm (docs/platform-differences.md).
 */
#define _GNU_SOURCE
#include "cpu.h"
#include "cpuid.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* GDT selectors. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x18
#define SEL_UCODE 0x20
#define SEL_TSS0  0x28  /* + 16 * vcpu: 64-bit TSS descriptors are 16 bytes */
_Static_assert((SEL_UDATA | 3) == ATARU_SEL_USER_DATA && (SEL_UCODE | 3) == ATARU_SEL_USER_CODE,
               "the ABI header names the user selectors");

/* Descriptors with the Accessed bit preset, so the CPU never writes the GDT. */
#define DESC_KCODE 0x00af9b000000ffffull /* 64-bit code, DPL0 */
#define DESC_KDATA 0x00cf93000000ffffull
#define DESC_UDATA 0x00cff3000000ffffull /* DPL3 */
#define DESC_UCODE 0x00affb000000ffffull /* 64-bit code, DPL3 */

#define TSS_IOMAP   104                    /* I/O bitmap right after the TSS */
#define TSS_LIMIT   (TSS_IOMAP + 32 + 1 - 1) /* bitmap for ports 0-255 + 0xff end byte */
#define TSS_TYPE_BUSY 11                   /* busy 64-bit TSS: VMX accepts only this */

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_UMIP (1ull << 11)
#define CR4_OSXSAVE (1ull << 18)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define MSR_LSTAR 0xc0000082u
#define MSR_IA32_TSC 0x10u

/* Exceptions that push an error code. */
static int has_error_code(int v) {
  return v == 8 || v == 10 || v == 11 || v == 12 || v == 13 || v == 14 || v == 17 ||
         v == 21 || v == 29 || v == 30;
}

/*
 * The fault stubs, CPL0. Per vector (16 bytes apart):
 *     [push $0]            6a 00     (when the CPU pushes no error code)
 *     push $vector         6a vv
 *     jmp common           e9 rel32
 * common (at STUB_COMMON): finds the record of this vCPU from rsp (the fault
 * stack page), counts, copies vector, error code and the 5-word interrupt
 * frame, then CR2, and exits through the FAULT port. It never returns: the
 * host resets the vCPU. Kept short because CPL0 code is emulated on kvm_pvm.
 */
#define STUB_COMMON 0x200
static const uint8_t stub_common[] = {
    0x48, 0x89, 0xe7,                         /* mov %rsp,%rdi                */
    0x48, 0x81, 0xe7, 0x00, 0xf0, 0xff, 0xff, /* and $-4096,%rdi              */
    0x48, 0x81, 0xc7, 0x00, 0x0f, 0x00, 0x00, /* add $CPU_FAULT_RECORD_OFF,%rdi */
    0x48, 0xff, 0x47, 0x40,                   /* incq count(%rdi)             */
    0x58, 0x48, 0x89, 0x07,                   /* pop %rax; mov %rax,vector    */
    0x58, 0x48, 0x89, 0x47, 0x08,             /* error_code                   */
    0x58, 0x48, 0x89, 0x47, 0x10,             /* rip                          */
    0x58, 0x48, 0x89, 0x47, 0x18,             /* cs                           */
    0x58, 0x48, 0x89, 0x47, 0x20,             /* rflags                       */
    0x58, 0x48, 0x89, 0x47, 0x28,             /* rsp                          */
    0x58, 0x48, 0x89, 0x47, 0x30,             /* ss                           */
    0x0f, 0x20, 0xd0,                         /* mov %cr2,%rax                */
    0x48, 0x89, 0x47, 0x38,                   /* mov %rax,cr2                 */
    0xe6, ATARU_PORT_FAULT,                   /* out %al,$FAULT               */
    0xeb, 0xfe,                               /* jmp .                        */
};
_Static_assert(CPU_FAULT_RECORD_OFF == 0xf00, "stub_common encodes the record offset");
_Static_assert(offsetof(struct ataru_fault_record, count) == 0x40 &&
                   offsetof(struct ataru_fault_record, cr2) == 0x38 &&
                   offsetof(struct ataru_fault_record, ss) == 0x30,
               "stub_common encodes the record layout");

static void write_stubs(uint8_t *page) {
  for (int v = 0; v < 32; v++) {
    uint8_t *p = page + v * 16;
    if (!has_error_code(v)) {
      *p++ = 0x6a;
      *p++ = 0x00;
    }
    *p++ = 0x6a;
    *p++ = (uint8_t)v;
    int32_t rel = (int32_t)(STUB_COMMON - (p + 5 - page));
    *p++ = 0xe9;
    memcpy(p, &rel, 4);
  }
  memcpy(page + STUB_COMMON, stub_common, sizeof stub_common);
}

/* 64-bit interrupt gate, CPL0 target, DPL0 (so `int n` from CPL3 is #GP). */
static void write_gate(uint8_t *idt, int v, uint64_t target, int ist) {
  uint8_t *g = idt + v * 16;
  memset(g, 0, 16);
  g[0] = target & 0xff;
  g[1] = (target >> 8) & 0xff;
  g[2] = SEL_KCODE;
  g[4] = (uint8_t)ist;
  g[5] = 0x8e; /* present, DPL0, type 14: interrupt gate (IF cleared) */
  g[6] = (target >> 16) & 0xff;
  g[7] = (target >> 24) & 0xff;
  uint32_t hi = (uint32_t)(target >> 32);
  memcpy(g + 8, &hi, 4);
}

static void write_tss_desc(uint8_t *gdt, uint32_t vcpu, uint64_t base) {
  uint8_t *d = gdt + SEL_TSS0 + 16 * vcpu;
  memset(d, 0, 16);
  d[0] = TSS_LIMIT & 0xff;
  d[1] = (TSS_LIMIT >> 8) & 0xff;
  d[2] = base & 0xff;
  d[3] = (base >> 8) & 0xff;
  d[4] = (base >> 16) & 0xff;
  d[5] = 0x80 | TSS_TYPE_BUSY; /* present, DPL0 */
  d[6] = (TSS_LIMIT >> 16) & 0x0f;
  d[7] = (base >> 24) & 0xff;
  uint32_t hi = (uint32_t)(base >> 32);
  memcpy(d + 8, &hi, 4);
}

static void write_tss(uint8_t *tss, uint64_t stack_page) {
  memset(tss, 0, CPU_TSS_STRIDE);
  uint64_t rsp0 = stack_page + CPU_FAULT_RECORD_OFF, ist1 = stack_page + CPU_IST1_OFF;
  memcpy(tss + 4, &rsp0, 8);
  memcpy(tss + 36, &ist1, 8);
  uint16_t iomap = TSS_IOMAP;
  memcpy(tss + 102, &iomap, 2);
  /* Bit set = port denied. Ports above 255 lie beyond the TSS limit:
   * denied too. Only the user exit ports are allowed. */
  uint8_t *bitmap = tss + TSS_IOMAP;
  memset(bitmap, 0xff, 33);
  for (int port = ATARU_USER_PORT_FIRST; port <= ATARU_USER_PORT_LAST; port++)
    bitmap[port / 8] &= (uint8_t)~(1u << (port % 8));
}

int ataru_cpu_build_sys(ataru_mem *mem, char *err, size_t errlen) {
  uint8_t *tables = ataru_mem_map(mem, ATARU_SYS_BASE, ATARU_PAGE_SIZE,
                                  ATARU_PROT_R | ATARU_PROT_W, err, errlen);
  uint8_t *stubs = tables ? ataru_mem_map(mem, ATARU_SYS_BASE + CPU_STUBS_OFF, ATARU_PAGE_SIZE,
                                          ATARU_PROT_R | ATARU_PROT_X, err, errlen)
                          : NULL;
  uint8_t *stacks = stubs ? ataru_mem_map(mem, ATARU_SYS_BASE + CPU_FAULT_STACK_OFF,
                                          ATARU_MAX_VCPUS * ATARU_PAGE_SIZE,
                                          ATARU_PROT_R | ATARU_PROT_W, err, errlen)
                          : NULL;
  if (!stacks) return -1;
  _Static_assert(CPU_SYS_USED <= ATARU_SYS_SIZE, "system area overflow");
  uint64_t gdt[5] = {0, DESC_KCODE, DESC_KDATA, DESC_UDATA, DESC_UCODE};
  memcpy(tables + CPU_GDT_OFF, gdt, sizeof gdt);
  for (uint32_t v = 0; v < ATARU_MAX_VCPUS; v++) {
    uint64_t tss = ATARU_SYS_BASE + CPU_TSS_OFF + v * CPU_TSS_STRIDE;
    write_tss(tables + CPU_TSS_OFF + v * CPU_TSS_STRIDE,
              ATARU_SYS_BASE + CPU_FAULT_STACK_OFF + v * ATARU_PAGE_SIZE);
    write_tss_desc(tables + CPU_GDT_OFF, v, tss);
  }
  write_stubs(stubs);
  for (int v = 0; v < 32; v++) {
    /* #NMI, #DF, #MC on their own stack (IST1): they may hit a broken one. */
    int ist = (v == 2 || v == 8 || v == 18) ? 1 : 0;
    write_gate(tables + CPU_IDT_OFF, v, ATARU_SYS_BASE + CPU_STUBS_OFF + v * 16, ist);
  }
  return 0;
}

volatile struct ataru_fault_record *ataru_cpu_fault_record(ataru_mem *mem, uint32_t vcpu) {
  return ataru_mem_host(mem,
                        ATARU_SYS_BASE + CPU_FAULT_STACK_OFF + vcpu * ATARU_PAGE_SIZE +
                            CPU_FAULT_RECORD_OFF,
                        sizeof(struct ataru_fault_record));
}

static void segment(struct kvm_segment *s, uint16_t sel, int code, int dpl) {
  memset(s, 0, sizeof *s);
  s->base = 0;
  s->limit = 0xffffffff;
  s->selector = sel;
  s->type = code ? 11 : 3; /* execute/read or read/write, accessed */
  s->present = 1;
  s->dpl = (uint8_t)dpl;
  s->s = 1;
  s->l = code ? 1 : 0;
  s->db = code ? 0 : 1;
  s->g = 1;
}

/*
 * [Fix by the rig engineer, issue 8: see docs/platform-differences.md row 4.]
 * The TSS type in the hidden TR state: busy (11), as `ltr` leaves it and as
 * VMX requires. ATARU_GUEST_TSS_TYPE=9 is for the QEMU-TCG test rig only
 * (scripts/rig/, docs/platform-differences.md): QEMU checks CPL3 port I/O
 * against the TSS bitmap only when the cached type is 9, else it raises #GP.
 * With 9 the bitmap, IOPL 0 and so cli/hlt/port semantics stay exactly those
 * of hardware (IOPL=3 would open every port and allow cli at CPL3).
 */
static uint8_t tr_type(void) {
  const char *t = getenv("ATARU_GUEST_TSS_TYPE");
  return (t && strcmp(t, "9") == 0) ? 9 : TSS_TYPE_BUSY;
}

/*
 * ATARU_GUEST_CR4_OFF=smap,smep is for the QEMU-TCG test rig only
 * (docs/platform-differences.md row 5): with CR4.SMAP set in its nested
 * guests, QEMU's emulated SVM corrupts the state of the machine's own
 * processes (segfaults and miscomputed results in processes that never
 * touched KVM). The rig turns the named protections off; everywhere else
 * they stay on where the CPU offers them.
 */
static int cr4_off(const char *what) {
  const char *v = getenv("ATARU_GUEST_CR4_OFF");
  return v && strstr(v, what) != NULL;
}

int ataru_cpu_setup(int vcpu_fd, uint32_t vcpu, uint64_t cr3, struct kvm_sregs *sregs, char *err,
                    size_t errlen) {
  struct ataru_cpu_features f;
  const struct kvm_cpuid2 *cpuid = ataru_cpuid_guest(&f, err, errlen);
  if (!cpuid) return -1;
  /* Hardware KVM checks CR4 bits (OSXSAVE, SMEP, ...) and XCR0 against the
   * guest's CPUID, so CPUID goes first. kvm_pvm runs AVX whatever it says. */
  if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid) < 0) {
    ataru_seterr(err, errlen, "KVM_SET_CPUID2: %s", strerror(errno));
    return -1;
  }
  if (f.xsave) {
    struct kvm_xcrs xcrs;
    memset(&xcrs, 0, sizeof xcrs);
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = f.xcr0;
    if (ioctl(vcpu_fd, KVM_SET_XCRS, &xcrs) < 0) {
      ataru_seterr(err, errlen, "KVM_SET_XCRS: %s", strerror(errno));
      return -1;
    }
  }
  /* SYSCALL must not reach code: with EFER.SCE=0 hardware raises #UD, but
   * kvm_pvm jumps to LSTAR at CPL3 — an unmapped page, so it faults there. */
  struct {
    struct kvm_msrs hdr;
    struct kvm_msr_entry e[2];
  } msrs;
  memset(&msrs, 0, sizeof msrs);
  msrs.hdr.nmsrs = 2;
  msrs.e[0].index = MSR_LSTAR;
  msrs.e[0].data = ATARU_SYSCALL_TRAP;
  /* [Fix by the rig engineer, issue 8: docs/platform-differences.md row 14.]
   * IA32_TSC: the host compares its own TSC with the guest's node start
   * (node timeouts, vcpu.c). kvm_pvm runs the guest on the raw host TSC;
   * hardware KVM starts a vCPU's TSC near 0 (offset: minus the host's).
   * Writing the host's TSC makes the offset ~0 on both (KVM keeps the
   * vCPUs of a VM in sync when they are written within a second). */
  msrs.e[1].index = MSR_IA32_TSC;
  msrs.e[1].data = ataru_rdtsc_host();
  if (ioctl(vcpu_fd, KVM_SET_MSRS, &msrs) != 2) {
    ataru_seterr(err, errlen, "KVM_SET_MSRS(LSTAR, TSC): %s", strerror(errno));
    return -1;
  }
  if (ioctl(vcpu_fd, KVM_GET_SREGS, sregs) < 0) {
    ataru_seterr(err, errlen, "KVM_GET_SREGS: %s", strerror(errno));
    return -1;
  }
  segment(&sregs->cs, SEL_UCODE | 3, 1, 3);
  segment(&sregs->ss, SEL_UDATA | 3, 0, 3);
  segment(&sregs->ds, SEL_UDATA | 3, 0, 3);
  segment(&sregs->es, SEL_UDATA | 3, 0, 3);
  segment(&sregs->fs, SEL_UDATA | 3, 0, 3);
  segment(&sregs->gs, SEL_UDATA | 3, 0, 3);
  memset(&sregs->tr, 0, sizeof sregs->tr);
  sregs->tr.base = ATARU_SYS_BASE + CPU_TSS_OFF + vcpu * CPU_TSS_STRIDE;
  sregs->tr.limit = TSS_LIMIT;
  sregs->tr.selector = SEL_TSS0 + 16 * vcpu;
  sregs->tr.type = tr_type();
  sregs->tr.present = 1;
  memset(&sregs->ldt, 0, sizeof sregs->ldt);
  sregs->ldt.type = 2;
  sregs->ldt.unusable = 1;
  sregs->gdt.base = ATARU_SYS_BASE + CPU_GDT_OFF;
  sregs->gdt.limit = SEL_TSS0 + 16 * ATARU_MAX_VCPUS - 1;
  sregs->idt.base = ATARU_SYS_BASE + CPU_IDT_OFF;
  sregs->idt.limit = 32 * 16 - 1;
  sregs->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
  sregs->cr3 = cr3;
  /* SMEP/SMAP where offered: the CPL0 stubs touch only the supervisor
   * system area, so neither ever fires for them; a bug that made CPL0 run or
   * read user memory faults instead. UMIP: SGDT/SIDT/SMSW and friends #GP at
   * CPL3, so the system area's addresses stay unread. */
  sregs->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (f.xsave ? CR4_OSXSAVE : 0) |
               (f.smep && !cr4_off("smep") ? CR4_SMEP : 0) |
               (f.smap && !cr4_off("smap") ? CR4_SMAP : 0) | (f.umip ? CR4_UMIP : 0);
  sregs->efer = EFER_LME | EFER_LMA | EFER_NXE;
  if (ioctl(vcpu_fd, KVM_SET_SREGS, sregs) < 0) {
    ataru_seterr(err, errlen, "KVM_SET_SREGS: %s", strerror(errno));
    return -1;
  }
  return 0;
}

/*
 * IOPL 0: cli/sti/popf-IF and every port outside the TSS bitmap #GP at CPL3
 * on every platform (IOPL=3 would open every port and allow cli on
 * hardware). IF=0: no interrupt is ever injected.
 */
uint64_t ataru_cpu_rflags(void) { return 0x2; }

int ataru_cpu_enter(int vcpu_fd, const struct kvm_sregs *sregs, uint64_t rip, uint64_t rsp,
                    uint64_t rflags) {
  /* Mandatory after an exit taken inside a CPL0 stub: on kvm_pvm the vCPU
   * would otherwise keep running "user" code emulated. */
  if (ioctl(vcpu_fd, KVM_SET_SREGS, sregs) < 0) return -1;
  struct kvm_regs regs;
  memset(&regs, 0, sizeof regs);
  regs.rip = rip;
  regs.rsp = rsp;
  regs.rflags = rflags;
  return ioctl(vcpu_fd, KVM_SET_REGS, &regs);
}
