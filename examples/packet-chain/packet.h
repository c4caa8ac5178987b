/*
 * packet.h — the packet-chain app's formats (firewall → IDS → encrypt).
 *
 * Request: one packet of PKT_SIZE bytes (= msg_len). Header fields are
 * big-endian (network order):
 *    0  u8   version        PKT_VERSION
 *    1  u8   proto          1 ICMP, 6 TCP, 17 UDP
 *    2  u16  payload_len    0..PKT_PAYLOAD_MAX
 *    4  u32  src_ip
 *    8  u32  dst_ip
 *   12  u16  src_port
 *   14  u16  dst_port
 *   16  u8   nonce[12]      the sender's ChaCha20 nonce for this packet
 *   28  u32  reserved
 *   32  payload
 *
 * Between stages and as the reply: a record (little-endian fields)
 *    0  u8   verdict        enum pkt_verdict
 *    1  u8   reserved
 *    2  u16  match          firewall rule or IDS signature index, or 0xffff
 *    4  u32  match_offset   IDS: payload offset of the signature
 *    8  the packet: 32-byte header + payload_len bytes of payload
 * The firewall and the IDS pass the plaintext on; the encrypt stage replies
 * with the payload encrypted (PKT_PASS) or without any payload (dropped).
 */
#ifndef PACKET_H
#define PACKET_H

#include <stdint.h>
#include "ataru.h"

#define PKT_SIZE 1500
#define PKT_HEADER 32
#define PKT_PAYLOAD_MAX (PKT_SIZE - PKT_HEADER)
#define PKT_VERSION 1
#define REC_HEADER 8
#define REC_MAX (REC_HEADER + PKT_SIZE)
#define PKT_NO_MATCH 0xffff

enum pkt_proto { PROTO_ICMP = 1, PROTO_TCP = 6, PROTO_UDP = 17 };
enum pkt_verdict { PKT_PASS = 0, PKT_DROP_FIREWALL = 1, PKT_DROP_IDS = 2, PKT_MALFORMED = 3 };

struct pkt_header {
  uint8_t version, proto;
  uint8_t payload_len[2];
  uint8_t src_ip[4], dst_ip[4];
  uint8_t src_port[2], dst_port[2];
  uint8_t nonce[12];
  uint8_t reserved[4];
};

struct pkt_record {
  uint8_t verdict, reserved;
  uint16_t match;
  uint32_t match_offset;
  struct pkt_header hdr;
  uint8_t payload[PKT_PAYLOAD_MAX];
};

_Static_assert(sizeof(struct pkt_header) == PKT_HEADER, "packet header layout");
_Static_assert(sizeof(struct pkt_record) == REC_MAX, "record layout");

static inline uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static inline uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Bytes of a record carrying the packet's payload. */
static inline long rec_len(const struct pkt_record *r) {
  return REC_HEADER + PKT_HEADER + be16(r->hdr.payload_len);
}

/* What every stage after the firewall checks before it reads a record and
 * writes one: 0, or the error code to return. */
static inline long rec_check(const struct pkt_record *r, uint64_t in_len, uint64_t out_cap) {
  if (in_len < REC_HEADER + PKT_HEADER || (uint64_t)rec_len(r) > in_len) return ATARU_EINVAL;
  if (out_cap < REC_MAX) return ATARU_ENOSPC;
  return 0;
}

#endif
