/*
 * frame.h — the packet chain as a raw app (conn_type raw, packet-chain-raw.tmpl;
 * the stages built with -DPKT_FRAME into build/raw/).
 *
 * Request: an Ethernet frame carrying IPv4 TCP or UDP (the raw app's filter
 * passes nothing else). The first 12 bytes of the L4 payload are the
 * sender's ChaCha20 nonce, the rest is the payload.
 *
 * Between stages: a record as in packet.h (verdict, match, match_offset),
 * whose byte 1 is the frame's header length (Ethernet + IPv4 + L4 headers),
 * followed by the whole frame; its length is the stage's input length
 * minus REC_HEADER.
 *
 * Output: a passed frame goes back toward its sender — MAC addresses
 * swapped, payload (after the nonce) encrypted, nothing else changed; a
 * dropped or malformed one produces no output, so the raw app drops it.
 */
#ifndef FRAME_H
#define FRAME_H

#include "packet.h"

#define FRAME_NONCE 12
#define FRAME_MAX 1514

/* The frame's header length, and its fields as a pkt_header (nonce copied);
 * 0 when it is not an IPv4 TCP/UDP frame with a whole nonce. */
static inline uint32_t frame_parse(const uint8_t *f, uint64_t len, struct pkt_header *h) {
  if (len < 14 + 20 || len > FRAME_MAX || f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4) return 0;
  uint32_t ihl = (uint32_t)(f[14] & 0xf) * 4;
  if (ihl < 20 || len < 14 + ihl + 8) return 0;
  const uint8_t *l4 = f + 14 + ihl;
  uint32_t hl;
  if (f[14 + 9] == PROTO_UDP) hl = 14 + ihl + 8;
  else if (f[14 + 9] == PROTO_TCP && len >= 14 + ihl + 20) hl = 14 + ihl + (uint32_t)(l4[12] >> 4) * 4;
  else return 0;
  if (hl + FRAME_NONCE > len || hl > 255) return 0;
  memset(h, 0, sizeof *h);
  h->version = PKT_VERSION;
  h->proto = f[14 + 9];
  uint32_t n = (uint32_t)len - hl - FRAME_NONCE;
  h->payload_len[0] = (uint8_t)(n >> 8);
  h->payload_len[1] = (uint8_t)n;
  memcpy(h->src_ip, f + 14 + 12, 4);
  memcpy(h->dst_ip, f + 14 + 16, 4);
  memcpy(h->src_port, l4, 2);
  memcpy(h->dst_port, l4 + 2, 2);
  memcpy(h->nonce, f + hl, FRAME_NONCE);
  return hl;
}

/* A frame record's header length and payload, or 0 when inconsistent. */
static inline uint32_t frame_payload(const uint8_t *rec, uint64_t in_len, uint8_t **payload, uint32_t *n) {
  uint32_t hl = rec[1];
  if (in_len < REC_HEADER + (uint64_t)hl + FRAME_NONCE || in_len > REC_HEADER + FRAME_MAX) return 0;
  *payload = (uint8_t *)rec + REC_HEADER + hl + FRAME_NONCE;
  *n = (uint32_t)(in_len - REC_HEADER - hl - FRAME_NONCE);
  return hl;
}

#endif
