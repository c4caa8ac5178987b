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

/* The first signature in the payload: its index and offset, or -1. */
static int scan(const uint8_t *p, uint32_t n, uint32_t *offset) {
  for (unsigned i = 0; i < NSIGS; i++) {
    long at = find(p, n, &signatures[i]);
    if (at >= 0) {
      *offset = (uint32_t)at;
      return (int)i;
    }
  }
  return -1;
}

#ifdef PKT_FRAME
#include "frame.h"

/* Raw mode (frame.h): scans the frame's payload after the nonce. */
long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  uint8_t *rec = out;
  if (out_cap < in_len) return ATARU_ENOSPC;
  memcpy(rec, in, in_len);
  if (rec[0] != PKT_PASS) return (long)in_len;
  uint8_t *payload;
  uint32_t n, at = 0;
  if (!frame_payload(rec, in_len, &payload, &n)) {
    rec[0] = PKT_MALFORMED;
    return REC_HEADER;
  }
  int sig = scan(payload, n, &at);
  if (sig >= 0) {
    rec[0] = PKT_DROP_IDS;
    ((struct pkt_record *)rec)->match = (uint16_t)sig;
    ((struct pkt_record *)rec)->match_offset = at;
  }
  return (long)in_len;
}
#else
long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  const struct pkt_record *src = in;
  struct pkt_record *rec = out;
  long err = rec_check(src, in_len, out_cap);
  if (err) return err;
  long n = rec_len(src);
  memcpy(rec, src, n);
  if (rec->verdict != PKT_PASS) return n;
  uint32_t at = 0;
  int sig = scan(rec->payload, be16(rec->hdr.payload_len), &at);
  if (sig >= 0) {
    rec->verdict = PKT_DROP_IDS;
    rec->match = (uint16_t)sig;
    rec->match_offset = at;
  }
  return n;
}
#endif
