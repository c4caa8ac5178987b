/*
 * kvm_probe.c — a tiny, core-independent KVM program that shows how this
 * /dev/kvm treats a CPL3 guest with no OS. Used to bring up the hardware-style
 * rig (scripts/rig/) and to find where kvm_pvm and hardware KVM differ
 * (docs/platform-differences.md). Each probe prints one line `probe <name>:
 * <observation>`; the program exits 0 when the basic case (long mode at CPL3,
 * `out` to a bitmap-allowed port with IOPL=3 → KVM_EXIT_IO) works.
 *
 * Guest: identity-mapped 2 MiB with 4 KiB pages (page 0 not present), GDT with
 * 64-bit code/data at DPL0 and DPL3, a busy 64-bit TSS (type 11) whose I/O
 * bitmap allows ports 0xA0..0xA2, no IDT (every fault is a triple fault).
 * Build: gcc -O2 -static -o kvm_probe kvm_probe.c
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE   0x200000ull
#define PML4       0x1000ull
#define PDPT       0x2000ull
#define PD         0x3000ull
#define PT         0x4000ull
#define GDT        0x5000ull
#define TSS        0x6000ull   /* 104 bytes + bitmap (8 KiB) + 0xff */
#define CODE       0x10000ull
#define STACK_TOP  0x20000ull

static int kvm, vm;
static uint8_t *mem;
static int next_vcpu_id;
static struct kvm_cpuid2 *cpuid;

static void die(const char *what) { perror(what); exit(2); }

static void build_memory(void) {
  uint64_t *pml4 = (uint64_t *)(mem + PML4), *pdpt = (uint64_t *)(mem + PDPT);
  uint64_t *pd = (uint64_t *)(mem + PD), *pt = (uint64_t *)(mem + PT);
  const uint64_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40;
  pml4[0] = PDPT | P | RW | US | A;
  pdpt[0] = PD | P | RW | US | A;
  pd[0] = PT | P | RW | US | A;
  for (uint64_t i = 1; i < 512; i++) {
    int user = (i * 0x1000 >= CODE);   /* page tables, GDT, TSS: supervisor */
    pt[i] = (i * 0x1000) | P | RW | (user ? US : 0) | A | D;
  }
  uint64_t *gdt = (uint64_t *)(mem + GDT);
  gdt[0] = 0;
  gdt[1] = 0x00209a0000000000ull;  /* 0x08 code DPL0 L */
  gdt[2] = 0x0000920000000000ull;  /* 0x10 data DPL0 */
  gdt[3] = 0x0000f20000000000ull;  /* 0x18 data DPL3 */
  gdt[4] = 0x0020fa0000000000ull;  /* 0x20 code DPL3 L */
  uint64_t tss_limit = 104 + 8192;  /* last byte: the 0xff terminator */
  uint64_t base = TSS;
  gdt[5] = (tss_limit & 0xffff) | ((base & 0xffffff) << 16) | (0xbull << 40) | (1ull << 47) |
           (((tss_limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
  gdt[6] = base >> 32;
  uint8_t *tss = mem + TSS;
  memset(tss, 0, 104 + 8193);
  *(uint16_t *)(tss + 102) = 104;               /* I/O map base */
  memset(tss + 104, 0xff, 8192 + 1);            /* all ports denied ... */
  for (int p = 0xA0; p <= 0xA2; p++) tss[104 + p / 8] &= ~(1u << (p % 8));  /* ... but these */
}

static void seg(struct kvm_segment *s, uint16_t sel, int type, int dpl, int code) {
  memset(s, 0, sizeof *s);
  s->selector = sel; s->limit = 0xffffffff; s->type = type; s->present = 1;
  s->dpl = dpl; s->s = 1; s->l = code; s->db = 0; s->g = 1;
}

struct vcpu { int fd; struct kvm_run *run; };

static int tr_type = 11;
static uint64_t extra_cr4, xcr0;  /* AVX probes: CR4.OSXSAVE and XCR0 */

static struct vcpu new_vcpu(int iopl, int set_cpuid) {
  struct vcpu v;
  v.fd = ioctl(vm, KVM_CREATE_VCPU, next_vcpu_id++);
  if (v.fd < 0) die("KVM_CREATE_VCPU");
  int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  v.run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, v.fd, 0);
  if (v.run == MAP_FAILED) die("mmap run");
  if (set_cpuid && ioctl(v.fd, KVM_SET_CPUID2, cpuid) < 0) die("KVM_SET_CPUID2");
  struct kvm_sregs s;
  if (ioctl(v.fd, KVM_GET_SREGS, &s) < 0) die("KVM_GET_SREGS");
  seg(&s.cs, 0x20 | 3, 11, 3, 1);
  seg(&s.ss, 0x18 | 3, 3, 3, 0);
  s.ds = s.es = s.fs = s.gs = s.ss;
  memset(&s.tr, 0, sizeof s.tr);
  s.tr.selector = 0x28; s.tr.base = TSS; s.tr.limit = 104 + 8192; s.tr.type = tr_type; s.tr.present = 1;
  s.ldt.unusable = 1; s.ldt.type = 2; s.ldt.present = 1;
  s.gdt.base = GDT; s.gdt.limit = 7 * 8 - 1;
  s.idt.base = 0; s.idt.limit = 0;
  s.cr0 = 0x80050033;  /* PG WP NE ET MP PE */
  s.cr3 = PML4;
  s.cr4 = 0x620 | extra_cr4; /* PAE OSFXSR OSXMMEXCPT [OSXSAVE] */
  s.efer = 0xd00;      /* LME LMA NXE */
  if (xcr0) {
    struct kvm_xcrs x = {0};
    x.nr_xcrs = 1; x.xcrs[0].xcr = 0; x.xcrs[0].value = xcr0;
    if (ioctl(v.fd, KVM_SET_XCRS, &x) < 0) printf("probe set_xcrs: %s\n", strerror(errno));
  }
  if (ioctl(v.fd, KVM_SET_SREGS, &s) < 0) {
    printf("probe set_sregs%s: KVM_SET_SREGS failed: %s\n", set_cpuid ? "" : "_without_cpuid", strerror(errno));
    v.fd = -1;
    return v;
  }
  struct kvm_regs r = {0};
  r.rip = CODE; r.rsp = STACK_TOP; r.rflags = 2 | ((uint64_t)iopl << 12);
  if (ioctl(v.fd, KVM_SET_REGS, &r) < 0) die("KVM_SET_REGS");
  return v;
}

static void code(const uint8_t *bytes, size_t n) { memcpy(mem + CODE, bytes, n); }

static const char *exit_name(int r) {
  switch (r) {
  case KVM_EXIT_IO: return "IO";
  case KVM_EXIT_SHUTDOWN: return "SHUTDOWN";
  case KVM_EXIT_MMIO: return "MMIO";
  case KVM_EXIT_HLT: return "HLT";
  case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
  case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
  default: return "other";
  }
}

/* Runs once and describes the exit in buf. Returns the exit reason or -1. */
static int run_once(struct vcpu *v, char *buf, size_t len) {
  if (ioctl(v->fd, KVM_RUN, 0) < 0) { snprintf(buf, len, "KVM_RUN: %s", strerror(errno)); return -1; }
  struct kvm_regs r; struct kvm_sregs s; struct kvm_vcpu_events e;
  ioctl(v->fd, KVM_GET_REGS, &r); ioctl(v->fd, KVM_GET_SREGS, &s); ioctl(v->fd, KVM_GET_VCPU_EVENTS, &e);
  int reason = v->run->exit_reason;
  int n = snprintf(buf, len, "exit %s", exit_name(reason));
  if (reason == KVM_EXIT_IO)
    n += snprintf(buf + n, len - n, " port 0x%x", v->run->io.port);
  if (reason == KVM_EXIT_FAIL_ENTRY)
    n += snprintf(buf + n, len - n, " reason 0x%llx", (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
  n += snprintf(buf + n, len - n, " rip 0x%llx cs 0x%x cr2 0x%llx exc %s vec %u err 0x%x",
                (unsigned long long)r.rip, s.cs.selector, (unsigned long long)s.cr2,
                e.exception.injected || e.exception.pending ? "yes" : "no",
                e.exception.nr, e.exception.error_code);
  return reason;
}

int main(void) {
  kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  struct kvm_userspace_memory_region reg = { .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
                                             .userspace_addr = (uint64_t)mem };
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg) < 0) die("KVM_SET_USER_MEMORY_REGION");
  cpuid = calloc(1, sizeof *cpuid + 256 * sizeof(struct kvm_cpuid_entry2));
  cpuid->nent = 256;
  if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");
  build_memory();
  char buf[256];
  int ok = 0;

  /* 1. The basic case: IOPL=3 + bitmap, out 0xA0; then out 0xA1 (RIP semantics). */
  static const uint8_t two_outs[] = {0xe6, 0xa0, 0xe6, 0xa1, 0xeb, 0xfe};
  code(two_outs, sizeof two_outs);
  {
    struct vcpu v = new_vcpu(3, 1);
    int r1 = run_once(&v, buf, sizeof buf);
    printf("probe out_iopl3: %s\n", buf);
    int r2 = run_once(&v, buf, sizeof buf);
    printf("probe out_iopl3_next_run: %s\n", buf);
    ok = r1 == KVM_EXIT_IO && v.run->io.port == 0xa1 && r2 == KVM_EXIT_IO;
  }
  /* 2. IOPL=0, bitmap only (QEMU bug: #GP in the rig). */
  { struct vcpu v = new_vcpu(0, 1); run_once(&v, buf, sizeof buf); printf("probe out_bitmap_only: %s\n", buf); }
  /* 3. IOPL=3, a port the bitmap denies. */
  static const uint8_t out80[] = {0xe6, 0x80, 0xeb, 0xfe};
  code(out80, sizeof out80);
  { struct vcpu v = new_vcpu(3, 1); run_once(&v, buf, sizeof buf); printf("probe out_denied_port_iopl3: %s\n", buf); }
  { struct vcpu v = new_vcpu(0, 1); run_once(&v, buf, sizeof buf); printf("probe out_denied_port_iopl0: %s\n", buf); }
  /* 4. A null read with no IDT: triple fault. */
  static const uint8_t nullread[] = {0x48, 0x8b, 0x04, 0x25, 0x08, 0x00, 0x00, 0x00, 0xeb, 0xfe};
  code(nullread, sizeof nullread);
  { struct vcpu v = new_vcpu(3, 1); run_once(&v, buf, sizeof buf); printf("probe nullread_no_idt: %s\n", buf); }
  /* 5. cli / hlt at CPL3 with IOPL=3 and 0. */
  static const uint8_t cli[] = {0xfa, 0xe6, 0xa0, 0xeb, 0xfe};
  code(cli, sizeof cli);
  { struct vcpu v = new_vcpu(3, 1); run_once(&v, buf, sizeof buf); printf("probe cli_iopl3: %s\n", buf); }
  { struct vcpu v = new_vcpu(0, 1); run_once(&v, buf, sizeof buf); printf("probe cli_iopl0: %s\n", buf); }
  static const uint8_t hlt[] = {0xf4, 0xe6, 0xa0, 0xeb, 0xfe};
  code(hlt, sizeof hlt);
  { struct vcpu v = new_vcpu(3, 1); run_once(&v, buf, sizeof buf); printf("probe hlt_iopl3: %s\n", buf); }
  /* 6. syscall with EFER.SCE=0 (hardware: #UD). */
  static const uint8_t sysc[] = {0x0f, 0x05, 0xe6, 0xa0, 0xeb, 0xfe};
  code(sysc, sizeof sysc);
  { struct vcpu v = new_vcpu(3, 1); run_once(&v, buf, sizeof buf); printf("probe syscall_sce0: %s\n", buf); }
  /* 7. Long-mode sregs without KVM_SET_CPUID2 first. */
  code(two_outs, sizeof two_outs);
  { struct vcpu v = new_vcpu(3, 0); if (v.fd >= 0) { run_once(&v, buf, sizeof buf); printf("probe no_cpuid: %s\n", buf); } }
  /* 8. XCR0 before/after CPUID. */
  {
    int fd = ioctl(vm, KVM_CREATE_VCPU, next_vcpu_id++);
    struct kvm_xcrs x = {0}; x.nr_xcrs = 1; x.xcrs[0].xcr = 0; x.xcrs[0].value = 7;
    int before = ioctl(fd, KVM_SET_XCRS, &x);
    int e1 = errno;
    ioctl(fd, KVM_SET_CPUID2, cpuid);
    int after = ioctl(fd, KVM_SET_XCRS, &x);
    printf("probe xcrs: before_cpuid %s, after_cpuid %s\n", before ? strerror(e1) : "ok", after ? strerror(errno) : "ok");
  }
  /* 9. The same with TR type 9 (available 64-bit TSS) in the hidden
   * state: QEMU's TCG checks the bitmap only then. */
  tr_type = 9;
  code(two_outs, sizeof two_outs);
  { struct vcpu v = new_vcpu(0, 1); run_once(&v, buf, sizeof buf); printf("probe tr9_out_bitmap_only: %s\n", buf); }
  code(out80, sizeof out80);
  { struct vcpu v = new_vcpu(0, 1); run_once(&v, buf, sizeof buf); printf("probe tr9_out_denied_port: %s\n", buf); }
  code(cli, sizeof cli);
  { struct vcpu v = new_vcpu(0, 1); run_once(&v, buf, sizeof buf); printf("probe tr9_cli: %s\n", buf); }
  tr_type = 11;
  /* 10. AVX at CPL3 (vxorps %ymm0,%ymm0,%ymm0): without CR4.OSXSAVE/XCR0,
   * then with them. */
  static const uint8_t avx[] = {0xc5, 0xfc, 0x57, 0xc0, 0xe6, 0xa0, 0xeb, 0xfe};
  code(avx, sizeof avx);
  { struct vcpu v = new_vcpu(3, 1); run_once(&v, buf, sizeof buf); printf("probe avx_no_osxsave: %s\n", buf); }
  extra_cr4 = 1u << 18; xcr0 = 7;
  { struct vcpu v = new_vcpu(3, 1); if (v.fd >= 0) { run_once(&v, buf, sizeof buf); printf("probe avx_osxsave: %s\n", buf); } }
  extra_cr4 = 0; xcr0 = 0;
  /* 11. MMIO: a user page mapped to a guest-physical page outside the
   * memslot, read twice in the same vCPU (the second read meets KVM's cached
   * MMIO entry in the nested page table). */
  {
    uint64_t *pt = (uint64_t *)(mem + PT);
    pt[0x1ff] = 0x400000ull | 1 | 2 | 4 | 0x20 | 0x40;   /* 0x1ff000 -> gpa 0x400000 */
    static const uint8_t mmio[] = {0x48, 0x8b, 0x04, 0x25, 0x00, 0xf0, 0x1f, 0x00,  /* mov 0x1ff000,%rax */
                                   0x48, 0x8b, 0x04, 0x25, 0x00, 0xf0, 0x1f, 0x00,
                                   0xe6, 0xa0, 0xeb, 0xfe};
    code(mmio, sizeof mmio);
    struct vcpu v = new_vcpu(3, 1);
    run_once(&v, buf, sizeof buf);
    printf("probe mmio_first: %s\n", buf);
    if (v.run->exit_reason == KVM_EXIT_MMIO) {
      printf("probe mmio_first_addr: 0x%llx\n", (unsigned long long)v.run->mmio.phys_addr);
      run_once(&v, buf, sizeof buf);
      printf("probe mmio_second: %s\n", buf);
    }
    pt[0x1ff] = 0;
  }
  /* 12. Which pages does a fault delivered through a CPL0 IDT handler
   * dirty? IDT at 0x9000 (#PF gate -> stub at 0xa000: out 0xA3), RSP0 at
   * 0xc000 (stack page 0xb000); dirty logging on; a null read at CPL3. */
  {
    uint64_t *pt = (uint64_t *)(mem + PT);
    for (uint64_t pg = 0x9; pg <= 0xb; pg++) pt[pg] = (pg << 12) | 1 | 2 | 0x20 | 0x40;  /* supervisor */
    uint8_t *g = mem + 0x9000 + 14 * 16;
    memset(mem + 0x9000, 0, 4096);
    g[0] = 0x00; g[1] = 0xa0; g[2] = 0x08; g[5] = 0x8e;  /* offset 0xa000, sel 0x08, P DPL0 intr gate */
    static const uint8_t stub[] = {0xe6, 0xa3, 0xeb, 0xfe};
    memcpy(mem + 0xa000, stub, sizeof stub);
    *(uint64_t *)(mem + TSS + 4) = 0xc000;  /* RSP0 */
    code(nullread, sizeof nullread);
    reg.flags = KVM_MEM_LOG_DIRTY_PAGES;
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg) < 0) die("dirty log on");
    static uint64_t bitmap[MEM_SIZE / 4096 / 64];
    struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = bitmap};
    tr_type = 9;  /* the stub's CPL0 out works anyway; 9 only for the rig's CPL3 */
    struct vcpu v = new_vcpu(0, 1);
    struct kvm_sregs sr;
    ioctl(v.fd, KVM_GET_SREGS, &sr);
    sr.idt.base = 0x9000; sr.idt.limit = 256 * 16 - 1;
    ioctl(v.fd, KVM_SET_SREGS, &sr);
    tr_type = 11;
    ioctl(vm, KVM_GET_DIRTY_LOG, &log);  /* clear */
    run_once(&v, buf, sizeof buf);
    printf("probe idt_fault: %s\n", buf);
    memset(bitmap, 0, sizeof bitmap);
    ioctl(vm, KVM_GET_DIRTY_LOG, &log);
    int n = snprintf(buf, sizeof buf, "dirty pages:");
    for (unsigned pg = 0; pg < MEM_SIZE / 4096; pg++)
      if (bitmap[pg / 64] >> (pg % 64) & 1) n += snprintf(buf + n, sizeof buf - n, " 0x%x", pg << 12);
    printf("probe idt_fault_dirty: %s\n", buf);
  }
  /* 13. The guest's TSC against the host's: KVM_GET_MSRS(IA32_TSC) next to
   * a host rdtsc, as a signed difference in units of 1e6 ticks. */
  {
    struct vcpu v = new_vcpu(3, 1);
    struct { struct kvm_msrs h; struct kvm_msr_entry e; } m;
    memset(&m, 0, sizeof m);
    m.h.nmsrs = 1; m.e.index = 0x10;
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t host = ((uint64_t)hi << 32) | lo;
    if (ioctl(v.fd, KVM_GET_MSRS, &m) == 1)
      printf("probe tsc_offset_mticks: %lld\n", (long long)(m.e.data - host) / 1000000);
  }
  printf("probe result: %s\n", ok ? "basic out exit works" : "BASIC CASE FAILED");
  return ok ? 0 : 1;
}
