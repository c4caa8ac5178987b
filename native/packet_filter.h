/* packet_filter.h — the classic BPF program of a raw app (packet_filter.c). */
#ifndef ATARU_PACKET_FILTER_H
#define ATARU_PACKET_FILTER_H

#include <linux/filter.h>
#include <stdint.h>

#define ATARU_PACKET_FILTER_LEN 14

/* Fills prog (ATARU_PACKET_FILTER_LEN instructions): take a frame only if it
 * is not our own outgoing one, is IPv4 (EtherType 0x0800, no VLAN tag), is
 * UDP or TCP, is not a non-first fragment, and its destination port is
 * `port`. Returns the number of instructions. */
unsigned ataru_packet_filter(struct sock_filter *prog, uint16_t port);

#endif
