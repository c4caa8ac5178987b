/* Stage 2: the intrusion detector. Drops a packet the firewall passed when
 * its payload contains one of the signatures (first in table order, at its
 * first offset); copies the record on. */
#include "packet.h"

struct signature {
  const char *bytes;
  uint32_t len;
};

#define SIG(s) {s, sizeof(s) - 1}
static const struct signature signatures[] = {
    SIG("/etc/passwd"),
    SIG("\x90\x90\x90\x90\x90\x90\x90\x90"), /* x86 NOP sled */
    SIG("' OR '1'='1"),
    SIG("<script>"),
    SIG("cmd.exe"),
};
#define NSIGS (sizeof signatures / sizeof signatures[0])

static long find(const uint8_t *p, uint32_t n, const struct signature *s) {
  for (uint32_t i = 0; i + s->len <= n; i++) {
    if (p[i] == (uint8_t)s->bytes[0] && memcmp(p + i, s->bytes, s->len) == 0) return i;
  }
  return -1;
}

long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  const struct pkt_record *src = in;
  struct pkt_record *rec = out;
  long err = rec_check(src, in_len, out_cap);
  if (err) return err;
  long n = rec_len(src);
  memcpy(rec, src, n);
  if (rec->verdict != PKT_PASS) return n;
  for (unsigned i = 0; i < NSIGS; i++) {
    long at = find(rec->payload, be16(rec->hdr.payload_len), &signatures[i]);
    if (at >= 0) {
      rec->verdict = PKT_DROP_IDS;
      rec->match = (uint16_t)i;
      rec->match_offset = (uint32_t)at;
      break;
    }
  }
  return n;
}
