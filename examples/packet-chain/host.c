/*
 * host.c — runs the packet chain's three functions natively on the host
 * with the shared-region map of packet-chain.tmpl (tests without a VM).
 *
 *   chain-host < packets > replies
 * reads 1500-byte packets until EOF; for each writes a u32 (little-endian)
 * reply length and the reply.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SHM_SIZE (2u << 20)
#define PKT 1500u
enum { IN = 0, FW = 2048, IDS = 4096, ENC = 6144 };

typedef long node_fn(const void *, void *, uint64_t, uint64_t, uint64_t);
node_fn node_firewall, node_ids, node_encrypt;

int main(void) {
  uint8_t *shm = calloc(1, SHM_SIZE);
  while (fread(shm, 1, PKT, stdin) == PKT) {
    long n = node_firewall(shm + IN, shm + FW, 0, PKT, SHM_SIZE - FW);
    if (n >= 0) n = node_ids(shm + FW, shm + IDS, 1, (uint64_t)n, SHM_SIZE - IDS);
    if (n >= 0) n = node_encrypt(shm + IDS, shm + ENC, 2, (uint64_t)n, SHM_SIZE - ENC);
    if (n < 0) {
      fprintf(stderr, "a node returned %ld\n", n);
      return 1;
    }
    uint32_t len = (uint32_t)n;
    fwrite(&len, 4, 1, stdout);
    fwrite(shm + ENC, 1, len, stdout);
  }
  return 0;
}
