/* trap: executes one instruction a function must not use (or AVX, which it
 * may), chosen by the first input byte, and returns rax afterwards (8 bytes)
 * if it survives.
 * The driver (native/test/driver.c) checks that each ends the same way on
 * kvm_pvm and on hardware KVM. */
#include <ataru.h>

enum { INT80, INT3, INT1, IN_A0, OUT_DONE, XSETBV, RDMSR, VMCALL, VMMCALL, CPUID, RDPMC, AVX };

long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  if (in_len < 1 || out_cap < 8) return ATARU_EINVAL;
  uint64_t rax = 0;
  switch (*(const unsigned char *)in) {
  case INT80:    __asm__ volatile("int $0x80" : "+a"(rax) :: "memory"); break;
  case INT3:     __asm__ volatile("int3" : "+a"(rax) :: "memory"); break;
  case INT1:     __asm__ volatile(".byte 0xf1" : "+a"(rax) :: "memory"); break;
  case IN_A0:    __asm__ volatile("in $0xa0, %%al" : "+a"(rax) :: "memory"); break;
  case OUT_DONE: __asm__ volatile("out %%al, $0xa0" : "+a"(rax) :: "memory"); break;
  case XSETBV:   __asm__ volatile("xor %%ecx, %%ecx; mov $3, %%eax; xor %%edx, %%edx; xsetbv"
                                  : "+a"(rax) :: "rcx", "rdx", "memory"); break;
  case RDMSR:    __asm__ volatile("mov $0xc0000080, %%ecx; rdmsr" : "+a"(rax) :: "rcx", "rdx", "memory"); break;
  case VMCALL:   __asm__ volatile("vmcall" : "+a"(rax) :: "rbx", "rcx", "rdx", "rsi", "memory"); break;
  case VMMCALL:  __asm__ volatile("vmmcall" : "+a"(rax) :: "rbx", "rcx", "rdx", "rsi", "memory"); break;
  case CPUID:    __asm__ volatile("cpuid" : "+a"(rax) :: "rbx", "rcx", "rdx", "memory"); break;
  case RDPMC:    __asm__ volatile("xor %%ecx, %%ecx; rdpmc" : "+a"(rax) :: "rcx", "rdx", "memory"); break;
  /* Not forbidden: 256-bit AVX must work (CPUID, XCR0, CR4.OSXSAVE set). */
  case AVX:      __asm__ volatile("vpcmpeqd %%ymm0, %%ymm0, %%ymm0; vextracti128 $1, %%ymm0, %%xmm0; vmovq %%xmm0, %%rax"
                                  : "+a"(rax) :: "xmm0", "memory"); break;
  default: return ATARU_EINVAL;
  }
  memcpy(out, &rax, 8);
  return 8;
}
