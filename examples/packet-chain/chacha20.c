/* chacha20.c — RFC 8439 ChaCha20, written from the RFC's pseudocode. */
#include "chacha20.h"

static inline uint32_t rotl(uint32_t v, int n) { return v << n | v >> (32 - n); }

static inline uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define QR(a, b, c, d)                    \
  a += b, d ^= a, d = rotl(d, 16);        \
  c += d, b ^= c, b = rotl(b, 12);        \
  a += b, d ^= a, d = rotl(d, 8);         \
  c += d, b ^= c, b = rotl(b, 7)

/* One 64-byte keystream block (RFC 8439 §2.3). */
static void block(const uint32_t in[16], uint8_t out[64]) {
  uint32_t x[16];
  for (int i = 0; i < 16; i++) x[i] = in[i];
  for (int round = 0; round < 10; round++) { /* 20 rounds: column + diagonal */
    QR(x[0], x[4], x[8], x[12]);
    QR(x[1], x[5], x[9], x[13]);
    QR(x[2], x[6], x[10], x[14]);
    QR(x[3], x[7], x[11], x[15]);
    QR(x[0], x[5], x[10], x[15]);
    QR(x[1], x[6], x[11], x[12]);
    QR(x[2], x[7], x[8], x[13]);
    QR(x[3], x[4], x[9], x[14]);
  }
  for (int i = 0; i < 16; i++) {
    uint32_t v = x[i] + in[i];
    out[4 * i] = (uint8_t)v;
    out[4 * i + 1] = (uint8_t)(v >> 8);
    out[4 * i + 2] = (uint8_t)(v >> 16);
    out[4 * i + 3] = (uint8_t)(v >> 24);
  }
}

void chacha20_xor(const uint8_t key[32], const uint8_t nonce[12], uint32_t counter,
                  uint8_t *data, uint32_t n) {
  uint32_t state[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574}; /* "expand 32-byte k" */
  for (int i = 0; i < 8; i++) state[4 + i] = le32(key + 4 * i);
  state[12] = counter;
  for (int i = 0; i < 3; i++) state[13 + i] = le32(nonce + 4 * i);
  uint8_t ks[64];
  for (uint32_t off = 0; off < n; off += 64, state[12]++) {
    block(state, ks);
    for (uint32_t i = 0; i < 64 && off + i < n; i++) data[off + i] ^= ks[i];
  }
}
