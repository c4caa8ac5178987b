/*
 * cpuid.c — the CPUID table of every guest vCPU: KVM's supported table with
 * what a function has no use for and could learn the host from taken out.
 *
 * A function needs the instruction-set features (leaves 1, 7, 0xd and the
 * extended feature leaves) to pick its code paths, and the cache sizes to
 * tune; those stay as the hardware reports them. Hidden:
 *   - the hypervisor leaves 0x40000000-0x4fffffff (KVM signature and its
 *     paravirtual features: there is no guest kernel to use them);
 *   - topology: APIC IDs (leaf 1 EBX[31:24]), the x2APIC/extended topology
 *     leaves 0xb and 0x1f, AMD's 0x8000001e, core counts in 0x80000008 ECX
 *     and the sharing counts of the cache leaves 4 and 0x8000001d: every
 *     vCPU looks like one core of its own;
 *   - power, thermal, performance-monitoring, SGX and processor-trace leaves
 *     (6, 0xa, 0x12, 0x14), and system-only feature bits (VMX/SVM, MONITOR,
 *     x2APIC, TSC deadline, PKU without CR4.PKE, ...);
 *   - the brand string: the guest reads ATARU_CPUID_BRAND, not the model.
 * What stays learnable is listed in docs/cpu.md.
 */
#define _GNU_SOURCE
#include "cpuid.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static struct kvm_cpuid2 *table;
static struct ataru_cpu_features features;
static int load_errno;
static const char *load_what = "open /dev/kvm";

static struct kvm_cpuid2 *supported_cpuid(void) {
  int kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm_fd < 0) {
    load_errno = errno;
    return NULL;
  }
  load_what = "KVM_GET_SUPPORTED_CPUID";
  struct kvm_cpuid2 *found = NULL;
  for (int n = 128; n <= 4096 && !found; n *= 2) {
    struct kvm_cpuid2 *c = calloc(1, sizeof *c + n * sizeof(struct kvm_cpuid_entry2));
    if (!c) {
      load_errno = ENOMEM;
      break;
    }
    c->nent = n;
    if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
      found = c;
      break;
    }
    load_errno = errno;
    free(c);
    if (load_errno != E2BIG) break;
  }
  close(kvm_fd);
  return found;
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx) {
  for (uint32_t i = 0; i < c->nent; i++)
    if (c->entries[i].function == fn && c->entries[i].index == idx) return &c->entries[i];
  return NULL;
}

static int hidden_leaf(uint32_t fn) {
  return fn == 6 || fn == 0xa || fn == 0xb || fn == 0x12 || fn == 0x14 || fn == 0x1f ||
         (fn >= 0x40000000u && fn <= 0x4fffffffu) || fn == 0x8000001eu;
}

#define BIT(n) (1u << (n))

static void filter(struct kvm_cpuid2 *c) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < c->nent; i++)
    if (!hidden_leaf(c->entries[i].function)) c->entries[kept++] = c->entries[i];
  c->nent = kept;

  for (uint32_t i = 0; i < c->nent; i++) {
    struct kvm_cpuid_entry2 *e = &c->entries[i];
    switch (e->function) {
    case 1:
      /* APIC ID 0, one logical processor, no HTT. */
      e->ebx = (e->ebx & 0x0000ffffu) | (1u << 16);
      e->edx &= ~(BIT(9) | BIT(18) | BIT(21) | BIT(22) | BIT(28) | BIT(29) | BIT(31)); /* APIC PSN DS ACPI HTT TM PBE */
      e->ecx &= ~(BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(7) | BIT(8) | BIT(15) | BIT(21) | BIT(24));
      /* DTES64 MONITOR DS-CPL VMX SMX EST TM2 PDCM x2APIC TSC-deadline */
      break;
    case 4:
      /* Deterministic cache parameters: one core, one thread per cache. */
      if (e->eax & 0x1f) e->eax &= 0x00003fffu;
      break;
    case 7:
      if (e->index == 0) e->ecx &= ~(BIT(3) | BIT(4)); /* PKU, OSPKE: CR4.PKE stays 0 */
      break;
    case 0x80000001u:
      e->ecx &= ~(BIT(2) | BIT(3) | BIT(29)); /* SVM, extended APIC space, MONITORX */
      break;
    case 0x80000008u:
      e->ecx &= ~0x0000f0ffu; /* core count and APIC ID size: one core */
      break;
    case 0x8000001du:
      if (e->eax & 0x1f) e->eax &= 0x00003fffu; /* sharing count: one */
      break;
    default:
      break;
    }
  }

  char brand[48];
  memset(brand, 0, sizeof brand);
  memcpy(brand, ATARU_CPUID_BRAND, sizeof ATARU_CPUID_BRAND - 1);
  for (uint32_t leaf = 0; leaf < 3; leaf++) {
    struct kvm_cpuid_entry2 *e = find(c, 0x80000002u + leaf, 0);
    if (!e) continue;
    memcpy(&e->eax, brand + 16 * leaf, 4);
    memcpy(&e->ebx, brand + 16 * leaf + 4, 4);
    memcpy(&e->ecx, brand + 16 * leaf + 8, 4);
    memcpy(&e->edx, brand + 16 * leaf + 12, 4);
  }
}

static void decide(struct kvm_cpuid2 *c) {
  const struct kvm_cpuid_entry2 *leaf1 = find(c, 1, 0), *leaf7 = find(c, 7, 0);
  features.xsave = leaf1 && (leaf1->ecx & BIT(26));
  if (features.xsave) {
    const struct kvm_cpuid_entry2 *leafd = find(c, 0xd, 0);
    /* x87 | SSE | AVX as supported, and the three AVX-512 states when all
     * are: kvm_pvm runs AVX-512 whatever XCR0 says, hardware #UDs without. */
    uint32_t states = leafd ? leafd->eax : 0;
    features.xcr0 = 1 | (states & 6) | ((states & 0xe0) == 0xe0 ? 0xe0 : 0);
  }
  features.smep = leaf7 && (leaf7->ebx & BIT(7));
  features.smap = leaf7 && (leaf7->ebx & BIT(20));
  features.umip = leaf7 && (leaf7->ecx & BIT(2));
}

static void load(void) {
  struct kvm_cpuid2 *c = supported_cpuid();
  if (!c) return;
  filter(c);
  decide(c);
  table = c;
}

const struct kvm_cpuid2 *ataru_cpuid_guest(struct ataru_cpu_features *out, char *err,
                                           size_t errlen) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, load);
  if (!table) {
    ataru_seterr(err, errlen, "%s: %s", load_what, strerror(load_errno));
    return NULL;
  }
  if (out) *out = features;
  return table;
}
