/* chacha20.h — the ChaCha20 stream cipher of RFC 8439, section 2.4. */
#ifndef CHACHA20_H
#define CHACHA20_H

#include <stdint.h>

/* XORs n bytes of `data` in place with the keystream of (key, nonce),
 * starting at block `counter`. */
void chacha20_xor(const uint8_t key[32], const uint8_t nonce[12], uint32_t counter,
                  uint8_t *data, uint32_t n);

#endif
