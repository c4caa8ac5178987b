/* Stage 3: encryption. A passed packet's payload is encrypted with
 * ChaCha20 (RFC 8439; block counter 1, as the RFC's AEAD construction uses
 * for the payload) under the chain's key and the packet's own nonce. A
 * dropped packet is answered with its verdict and header only. */
#include "chacha20.h"
#include "packet.h"

/* The chain's key. A demo: a real deployment would provision its own. */
static const uint8_t key[32] = "ataru-packet-chain-demo-key-2026";

long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  const struct pkt_record *src = in;
  struct pkt_record *rec = out;
  long err = rec_check(src, in_len, out_cap);
  if (err) return err;
  if (src->verdict != PKT_PASS) {
    memcpy(rec, src, REC_HEADER + PKT_HEADER);
    return REC_HEADER + PKT_HEADER;
  }
  long n = rec_len(src);
  memcpy(rec, src, n);
  chacha20_xor(key, rec->hdr.nonce, 1, rec->payload, be16(rec->hdr.payload_len));
  return n;
}
