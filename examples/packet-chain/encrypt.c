/* Stage 3: encryption. A passed packet's payload is encrypted with
 * ChaCha20 (RFC 8439; block counter 1, as the RFC's AEAD construction uses
 * for the payload) under the chain's key and the packet's own nonce. A
 * dropped packet is answered with its verdict and header only. */
#include "chacha20.h"
#include "packet.h"

/* The chain's key. A demo: a real deployment would provision its own. */
static const uint8_t key[32] = "ataru-packet-chain-demo-key-2026";

#ifdef PKT_FRAME
#include "frame.h"

/* Raw mode (frame.h): a passed frame back toward its sender, payload
 * encrypted under the frame's nonce; anything else: no output (dropped). */
long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  const uint8_t *rec = in;
  uint8_t *f = out;
  uint8_t *payload;
  uint32_t n;
  if (in_len < REC_HEADER || rec[0] != PKT_PASS) return 0;
  uint32_t hl = frame_payload(rec, in_len, &payload, &n);
  if (!hl) return 0;
  uint64_t len = in_len - REC_HEADER;
  if (out_cap < len) return ATARU_ENOSPC;
  const uint8_t *frame = rec + REC_HEADER;
  memcpy(f, frame + 6, 6);
  memcpy(f + 6, frame, 6);
  memcpy(f + 12, frame + 12, len - 12);
  chacha20_xor(key, frame + hl, 1, f + hl + FRAME_NONCE, n);
  return (long)len;
}
#else
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
#endif
