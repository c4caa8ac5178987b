/* Stage 1: the firewall. Checks the packet is well formed and applies the
 * rule table (first match wins, default pass); copies it into a record. */
#include "packet.h"

struct rule {
  uint8_t proto;                /* 0: any */
  uint32_t src_net, src_mask;   /* src_ip & mask == net */
  uint16_t dport_lo, dport_hi;  /* inclusive; ignored for ICMP */
  uint8_t verdict;
};

static const struct rule rules[] = {
    {0, 0xc0000200, 0xffffff00, 0, 65535, PKT_DROP_FIREWALL}, /* 192.0.2.0/24: blocked network */
    {PROTO_TCP, 0, 0, 23, 23, PKT_DROP_FIREWALL},             /* telnet */
    {PROTO_TCP, 0, 0, 80, 80, PKT_PASS},
    {PROTO_TCP, 0, 0, 443, 443, PKT_PASS},
    {PROTO_UDP, 0, 0, 53, 53, PKT_PASS},                      /* DNS */
    {PROTO_UDP, 0, 0, 0, 1023, PKT_DROP_FIREWALL},            /* other privileged UDP */
    {PROTO_ICMP, 0, 0, 0, 65535, PKT_DROP_FIREWALL},
};
#define NRULES (sizeof rules / sizeof rules[0])

static int matches(const struct rule *r, const struct pkt_header *h) {
  if (r->proto && r->proto != h->proto) return 0;
  if ((be32(h->src_ip) & r->src_mask) != r->src_net) return 0;
  if (h->proto == PROTO_ICMP) return 1;
  uint32_t port = be16(h->dst_port);
  return port >= r->dport_lo && port <= r->dport_hi;
}

struct rule_verdict {
  uint8_t verdict;
  uint16_t match;
};

/* First match wins; default pass. */
static struct rule_verdict apply_rules(const struct pkt_header *h) {
  for (unsigned i = 0; i < NRULES; i++)
    if (matches(&rules[i], h)) return (struct rule_verdict){rules[i].verdict, (uint16_t)i};
  return (struct rule_verdict){PKT_PASS, PKT_NO_MATCH};
}

#ifdef PKT_FRAME
#include "frame.h"

/* Raw mode (frame.h): the rules read the frame's own headers; the record
 * carries the frame. */
long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  uint8_t *rec = out;
  if (out_cap < REC_HEADER + FRAME_MAX) return ATARU_ENOSPC;
  struct pkt_header h;
  uint32_t hl = frame_parse(in, in_len, &h);
  memset(rec, 0, REC_HEADER);
  ((struct pkt_record *)rec)->match = PKT_NO_MATCH;
  if (!hl) {
    rec[0] = PKT_MALFORMED;
    return REC_HEADER;
  }
  struct rule_verdict v = apply_rules(&h);
  rec[0] = v.verdict;
  rec[1] = (uint8_t)hl;
  ((struct pkt_record *)rec)->match = v.match;
  memcpy(rec + REC_HEADER, in, in_len);
  return (long)(REC_HEADER + in_len);
}
#else
long entry(const void *in, void *out, uint64_t node_id, uint64_t in_len, uint64_t out_cap) {
  (void)node_id;
  const struct pkt_header *h = in;
  struct pkt_record *rec = out;
  if (out_cap < REC_MAX) return ATARU_ENOSPC;
  rec->reserved = 0;
  rec->match = PKT_NO_MATCH;
  rec->match_offset = 0;
  if (in_len < PKT_HEADER || h->version != PKT_VERSION ||
      be16(h->payload_len) > in_len - PKT_HEADER || be16(h->payload_len) > PKT_PAYLOAD_MAX) {
    rec->verdict = PKT_MALFORMED;
    memset(&rec->hdr, 0, PKT_HEADER);
    return REC_HEADER + PKT_HEADER;
  }
  struct rule_verdict v = apply_rules(h);
  rec->verdict = v.verdict;
  rec->match = v.match;
  memcpy(&rec->hdr, h, PKT_HEADER + be16(h->payload_len));
  return rec_len(rec);
}
#endif
