/*
 * guest_main.c — the qemu guest's work, at CPL3: take the request from the
 * first PVH module (QEMU's -initrd), run the workload's DAG, print
 * "ANSWER <len> <digest>" on COM1 and leave through isa-debug-exit. With
 * "hold" on the kernel command line it spins after answering instead, so the
 * harness can read the QEMU process's memory while the guest is alive.
 */
#include <stdint.h>
#include "../c/peer.h"

struct hvm_start_info {
  uint32_t magic, version, flags, nr_modules;
  uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr;
};
struct hvm_modlist_entry {
  uint64_t paddr, size, cmdline_paddr, reserved;
};

#define COM1 0x3f8
#define DEBUG_EXIT 0xf4

static void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }

static void puts_serial(const char *s) {
  while (*s) outb(COM1, (uint8_t)*s++);
}

static char *put_dec(char *p, uint64_t v) {
  char tmp[20];
  int n = 0;
  do tmp[n++] = (char)('0' + v % 10), v /= 10;
  while (v);
  while (n) *p++ = tmp[--n];
  return p;
}

static char *put_hex(char *p, uint64_t v) {
  for (int i = 60; i >= 0; i -= 4) *p++ = "0123456789abcdef"[(v >> i) & 15];
  return p;
}

static int has_hold(const char *s) {
  for (; s && *s; s++)
    if (s[0] == 'h' && s[1] == 'o' && s[2] == 'l' && s[3] == 'd') return 1;
  return 0;
}

void user_main(const struct hvm_start_info *si) {
  const uint8_t *in = 0;
  uint64_t in_len = 0;
  if (si->nr_modules > 0) {
    const struct hvm_modlist_entry *m = (const void *)(uintptr_t)si->modlist_paddr;
    in = (const uint8_t *)(uintptr_t)m->paddr;
    in_len = m->size;
  }
  uint64_t out_len = 0;
  const uint8_t *out = peer_run(in, in_len, &out_len);
  char line[64], *p = line;
  if (out) {
    p = put_dec(p, out_len);
    *p++ = ' ';
    p = put_hex(p, peer_digest(out, out_len));
  } else {
    const char *e = "error";
    while (*e) *p++ = *e++;
  }
  *p++ = '\n';
  *p = 0;
  puts_serial("ANSWER ");
  puts_serial(line);
  if (has_hold((const char *)(uintptr_t)si->cmdline_paddr))
    for (;;) __asm__ volatile("pause");
  outb(DEBUG_EXIT, 0); /* QEMU exits with status (0 << 1) | 1 */
  for (;;) __asm__ volatile("pause");
}
