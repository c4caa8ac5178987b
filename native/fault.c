/*
 * fault.c — turning a fault or an unexpected exit into a message that names
 * the node, the cause, the address and the instruction:
 *   node 2 (sobel): page fault writing 0x0 at rip 0x40001014 [c7 04 25 00 ...]
 *
 * The same cause gives the same text whichever way the platform reports it
 * (docs/platform-differences.md): a CPL3 `out` to a foreign port is a #GP
 * through the TSS bitmap (IOPL 0), or a KVM_EXIT_IO where a platform lets
 * the port itself exit; SYSCALL is a #UD on hardware (EFER.SCE=0) and a #PF
 * at LSTAR on kvm_pvm.
 */
#define _GNU_SOURCE
#include "fault.h"
#include "cpu.h"

#include <stdio.h>
#include <string.h>

#define PF_PRESENT 1u
#define PF_WRITE   2u
#define PF_FETCH   16u

uint32_t ataru_current_node(struct ataru_instance *inst, uint32_t vcpu) {
  uint32_t k = __atomic_load_n(&inst->mb->current_node[vcpu], __ATOMIC_ACQUIRE);
  return k < inst->num_nodes ? k : ATARU_NO_NODE;
}

void ataru_node_label(struct ataru_instance *inst, uint32_t node, char *buf, size_t n) {
  if (node == ATARU_NO_NODE)
    snprintf(buf, n, "the runtime");
  else
    snprintf(buf, n, "node %u (%s)", node, inst->node_name[node]);
}

/* Up to 8 instruction bytes at rip, when mapped. */
static int code_bytes(struct ataru_instance *inst, uint64_t rip, uint8_t *b) {
  for (int n = 8; n > 0; n--) {
    const uint8_t *p = ataru_mem_host(inst->mem, rip, (uint64_t)n);
    if (p) {
      memcpy(b, p, (size_t)n);
      return n;
    }
  }
  return 0;
}

static void hexbytes(const uint8_t *b, int n, char *out, size_t size) {
  size_t o = 0;
  out[0] = 0;
  if (!n) return;
  o += (size_t)snprintf(out + o, size - o, " [");
  for (int i = 0; i < n && o < size; i++)
    o += (size_t)snprintf(out + o, size - o, i ? " %02x" : "%02x", b[i]);
  if (o < size) snprintf(out + o, size - o, "]");
}

/* The opcode after legacy and REX prefixes. */
static int skip_prefixes(const uint8_t *b, int n) {
  int i = 0;
  while (i < n && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf2 || b[i] == 0xf3 ||
                   (b[i] & 0xf0) == 0x40))
    i++;
  return i;
}

/* Port of an I/O instruction at b, or -1 if it is not one. */
static int io_port(const uint8_t *b, int n, const struct kvm_regs *regs) {
  int i = skip_prefixes(b, n);
  if (i >= n) return -1;
  switch (b[i]) {
  case 0xe4: case 0xe5: case 0xe6: case 0xe7:
    return i + 1 < n ? b[i + 1] : -1;
  case 0xec: case 0xed: case 0xee: case 0xef:
  case 0x6c: case 0x6d: case 0x6e: case 0x6f:
    return (int)(regs->rdx & 0xffff);
  }
  return -1;
}

/* 0F 01 /modrm: system instructions (Intel SDM group 7). */
static const char *group7_name(uint8_t modrm) {
  static const struct { uint8_t modrm; const char *name; } regs[] = {
      {0xc1, "vmcall"}, {0xc2, "vmlaunch"}, {0xc3, "vmresume"}, {0xc4, "vmxoff"},
      {0xc8, "monitor"}, {0xc9, "mwait"}, {0xca, "clac"}, {0xcb, "stac"},
      {0xd0, "xgetbv"}, {0xd1, "xsetbv"}, {0xd8, "vmrun"}, {0xd9, "vmmcall"},
      {0xda, "vmload"}, {0xdb, "vmsave"}, {0xdc, "stgi"}, {0xdd, "clgi"},
      {0xde, "skinit"}, {0xdf, "invlpga"}, {0xf8, "swapgs"}};
  static const char *mem[8] = {"sgdt", "sidt", "lgdt", "lidt", "smsw", NULL, "lmsw", "invlpg"};
  if ((modrm >> 6) != 3) return mem[(modrm >> 3) & 7];
  for (size_t k = 0; k < sizeof regs / sizeof regs[0]; k++)
    if (regs[k].modrm == modrm) return regs[k].name;
  return NULL;
}

/* What a #GP at these bytes means, when the instruction explains it. */
static int describe_gp(const uint8_t *b, int n, const struct kvm_regs *regs, char *out,
                       size_t size) {
  int port = io_port(b, n, regs);
  if (port >= 0) {
    snprintf(out, size, "I/O to port 0x%02x is not allowed", port);
    return 1;
  }
  int i = skip_prefixes(b, n);
  if (i >= n) return 0;
  const char *what = NULL;
  char buf[32];
  switch (b[i]) {
  case 0xf4: what = "hlt"; break;
  case 0xfa: what = "cli"; break;
  case 0xfb: what = "sti"; break;
  case 0xcd:
    if (i + 1 < n) {
      snprintf(out, size, "software interrupt int 0x%02x", b[i + 1]);
      return 1;
    }
    break;
  case 0x0f:
    if (i + 1 >= n) break;
    switch (b[i + 1]) {
    case 0x30: what = "wrmsr"; break;
    case 0x32: what = "rdmsr"; break;
    case 0x06: what = "clts"; break;
    case 0x08: what = "invd"; break;
    case 0x09: what = "wbinvd"; break;
    case 0x00: what = "lldt/ltr"; break;
    case 0x01:
      if (i + 2 < n) what = group7_name(b[i + 2]);
      break;
    case 0x07: what = "sysret"; break;
    case 0x33: what = "rdpmc"; break;
    case 0x35: what = "sysexit"; break;
    case 0x20: case 0x22:
      if (i + 2 < n) {
        snprintf(buf, sizeof buf, "mov %s cr%d", b[i + 1] == 0x22 ? "to" : "from",
                 (b[i + 2] >> 3) & 7);
        what = buf;
      }
      break;
    case 0x21: case 0x23: what = "mov to/from a debug register"; break;
    }
    break;
  }
  if (!what) return 0;
  snprintf(out, size, "privileged instruction %s", what);
  return 1;
}

static const char *vector_name(uint64_t v) {
  static const char *names[32] = {
      [0] = "divide error", [1] = "debug exception", [2] = "NMI", [3] = "breakpoint",
      [4] = "overflow", [5] = "bound range exceeded", [6] = "invalid opcode",
      [7] = "device not available", [8] = "double fault", [10] = "invalid TSS",
      [11] = "segment not present", [12] = "stack-segment fault",
      [13] = "general protection fault", [14] = "page fault",
      [16] = "x87 floating-point exception", [17] = "alignment check", [18] = "machine check",
      [19] = "SIMD floating-point exception", [20] = "virtualization exception",
      [21] = "control protection exception"};
  return v < 32 && names[v] ? names[v] : "CPU exception";
}

/* Stack slot of the vCPU whose guard area holds addr, or -1. */
static int in_stack_guard(struct ataru_instance *inst, uint64_t addr) {
  if (addr < ATARU_STACKS_BASE) return -1;
  uint64_t slot = (addr - ATARU_STACKS_BASE) / ATARU_STACK_SLOT;
  unsigned prot;
  if (slot >= inst->num_vcpus || ataru_mem_prot(inst->mem, addr, &prot) == 0) return -1;
  return (int)slot;
}

static void describe_pf(struct ataru_instance *inst, uint64_t err, uint64_t cr2, char *out,
                        size_t size) {
  const char *access = (err & PF_FETCH) ? "executing" : (err & PF_WRITE) ? "writing" : "reading";
  unsigned prot = 0;
  int mapped = ataru_mem_prot(inst->mem, cr2, &prot) == 0;
  if (in_stack_guard(inst, cr2) >= 0)
    snprintf(out, size, "stack overflow (page fault %s 0x%llx)", access, (unsigned long long)cr2);
  else if (mapped && (err & PF_WRITE) && (prot & ATARU_PROT_X) && (prot & ATARU_PROT_USER))
    snprintf(out, size, "write to code at 0x%llx", (unsigned long long)cr2);
  else if (mapped && (err & PF_WRITE) && (prot & ATARU_PROT_USER) && !(prot & ATARU_PROT_W))
    snprintf(out, size, "write to read-only memory at 0x%llx", (unsigned long long)cr2);
  else if (mapped && !(prot & ATARU_PROT_USER))
    snprintf(out, size, "page fault %s 0x%llx (supervisor-only memory)", access,
             (unsigned long long)cr2);
  else if (mapped && (err & PF_FETCH))
    snprintf(out, size, "page fault executing 0x%llx (not executable)", (unsigned long long)cr2);
  else
    snprintf(out, size, "page fault %s 0x%llx", access, (unsigned long long)cr2);
}

static void finish(struct ataru_instance *inst, uint32_t vcpu, uint32_t status, const char *cause,
                   uint64_t rip, int with_rip, struct failure *f) {
  char label[160], bytes[64] = "";
  uint8_t b[8];
  uint32_t node = ataru_current_node(inst, vcpu);
  ataru_node_label(inst, node, label, sizeof label);
  if (with_rip) hexbytes(b, code_bytes(inst, rip, b), bytes, sizeof bytes);
  f->status = status;
  f->node = node;
  if (with_rip)
    snprintf(f->message, sizeof f->message, "%s: %s at rip 0x%llx%s", label, cause,
             (unsigned long long)rip, bytes);
  else
    snprintf(f->message, sizeof f->message, "%s: %s", label, cause);
}

void ataru_fault_from_record(struct ataru_instance *inst, uint32_t vcpu,
                             const struct kvm_regs *regs, struct failure *f) {
  volatile struct ataru_fault_record *r = ataru_cpu_fault_record(inst->mem, vcpu);
  uint64_t vector = r->vector, err = r->error_code, rip = r->rip, cr2 = r->cr2;
  char cause[200];
  uint8_t b[8];
  int n = code_bytes(inst, rip, b);
  if (r->count > 1 || (r->cs & 3) != 3) {
    /* The stubs never fault themselves unless the system area is broken. */
    snprintf(cause, sizeof cause, "%s (vector %llu) in supervisor code", vector_name(vector),
             (unsigned long long)vector);
  } else if (vector == 14 && cr2 == ATARU_SYSCALL_TRAP && (err & PF_FETCH)) {
    /* kvm_pvm: SYSCALL jumped to LSTAR at CPL3; rcx holds the return rip. */
    finish(inst, vcpu, ATARU_STATUS_FAULT, "SYSCALL is not supported,", regs->rcx - 2, 1, f);
    return;
  } else if (vector == 14) {
    describe_pf(inst, err, cr2, cause, sizeof cause);
  } else if (vector == 13 && describe_gp(b, n, regs, cause, sizeof cause)) {
  } else if (vector == 6 && n >= 2 && b[0] == 0x0f && (b[1] == 0x05 || b[1] == 0x34)) {
    /* hardware: SYSCALL with EFER.SCE=0 (or SYSENTER) is #UD */
    finish(inst, vcpu, ATARU_STATUS_FAULT, "SYSCALL is not supported,", rip, 1, f);
    return;
  } else if (vector == 6 && describe_gp(b, n, regs, cause, sizeof cause)) {
    /* kvm_pvm reports `int n` as #UD */
  } else if ((vector == 13 && (err & 2) && (err >> 3) == 3) || vector == 3) {
    /* int3: kvm_pvm delivers #BP (a trap: rip after the int3); hardware
     * raises #GP through our DPL0 gate (rip at it). Name the int3. */
    uint8_t prev[8];
    if (vector == 3 && code_bytes(inst, rip - 1, prev) && prev[0] == 0xcc) rip--;
    snprintf(cause, sizeof cause, "breakpoint (int3)");
  } else if (vector == 13 && (err & 2)) {
    snprintf(cause, sizeof cause, "software interrupt int 0x%02llx", (unsigned long long)(err >> 3));
  } else if (vector == 13 && err) {
    snprintf(cause, sizeof cause, "general protection fault (error code 0x%llx)",
             (unsigned long long)err);
  } else {
    snprintf(cause, sizeof cause, "%s", vector_name(vector));
  }
  finish(inst, vcpu, ATARU_STATUS_FAULT, cause, rip, 1, f);
}

void ataru_fault_from_exit(struct ataru_instance *inst, uint32_t vcpu, const struct vm_exit *e,
                           const struct kvm_regs *regs, struct failure *f) {
  char cause[200];
  uint64_t rip = regs->rip;
  int with_rip = 1;
  switch (e->kind) {
  case VM_EXIT_OUT:
  case VM_EXIT_IN: {
    /* A port the bitmap let through, used outside the protocol (or a
     * platform where the port itself exits). RIP is at the instruction on
     * hardware and after it on kvm_pvm: find the instruction. */
    for (uint64_t back = 0; back <= 2; back++) {
      uint8_t b[8];
      int n = code_bytes(inst, rip - back, b);
      if (io_port(b, n, regs) == e->port) {
        rip -= back;
        break;
      }
    }
    if (e->port >= ATARU_USER_PORT_FIRST && e->port <= ATARU_PORT_FAULT)
      snprintf(cause, sizeof cause, "exit through port 0x%02x outside the runtime's protocol", e->port);
    else
      snprintf(cause, sizeof cause, "I/O to port 0x%02x is not allowed", e->port);
    finish(inst, vcpu, ATARU_STATUS_FAULT, cause, rip, 1, f);
    return;
  }
  case VM_EXIT_MMIO:
    snprintf(cause, sizeof cause, "%s guest-physical 0x%llx outside guest memory (MMIO)",
             e->mmio_write ? "write to" : "read from", (unsigned long long)e->mmio_addr);
    break;
  case VM_EXIT_SHUTDOWN: {
    /* kvm_pvm keeps RIP; hardware KVM (kvm_amd) resets the vCPU, leaving
     * RIP at the reset vector: name it only when it is guest code. */
    unsigned prot;
    if (ataru_mem_prot(inst->mem, rip, &prot) < 0 || !(prot & ATARU_PROT_X) ||
        !(prot & ATARU_PROT_USER))
      with_rip = 0;
    if (e->exception_known)
      snprintf(cause, sizeof cause, "triple fault (CPU shutdown; last exception: %s)",
               vector_name(e->exception_nr));
    else
      snprintf(cause, sizeof cause, "triple fault (CPU shutdown)");
    break;
  }
  case VM_EXIT_FAIL_ENTRY:
    snprintf(cause, sizeof cause, "VM entry failed (hardware reason 0x%llx)", (unsigned long long)e->hw_reason);
    finish(inst, vcpu, ATARU_STATUS_INTERNAL, cause, rip, 0, f);
    return;
  case VM_EXIT_INTERNAL_ERROR:
    snprintf(cause, sizeof cause, "KVM internal error (suberror %u)", e->suberror);
    finish(inst, vcpu, ATARU_STATUS_INTERNAL, cause, rip, 1, f);
    return;
  case VM_EXIT_HLT:
    snprintf(cause, sizeof cause, "privileged instruction hlt");
    break;
  case VM_EXIT_INTERRUPTED:
  case VM_EXIT_RUN_FAILED:
  case VM_EXIT_OTHER:
    snprintf(cause, sizeof cause, "unexpected VM exit (reason %u)", e->reason);
    break;
  }
  finish(inst, vcpu, ATARU_STATUS_FAULT, cause, rip, with_rip, f);
}
