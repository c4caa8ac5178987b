/* packet_sock.h — the AF_PACKET sockets of a raw app (packet_sock.c). */
#ifndef ATARU_PACKET_SOCK_H
#define ATARU_PACKET_SOCK_H

#include <stddef.h>
#include <stdint.h>

/* The receive socket on `iface`, filtered (packet_filter.c) for `port`;
 * returns the fd, or -errno with msg filled (naming the interface and the
 * call that failed). */
int ataru_packet_rx_open(const char *iface, uint16_t port, char *msg, size_t cap);
/* A transmit-only socket on `iface` (protocol 0: it receives nothing). */
int ataru_packet_tx_open(const char *iface, char *msg, size_t cap);

/* Opens and closes a transmit socket on iface: the privilege and interface
 * check a raw app makes before it builds any instance. 0 or -errno. */
int ataru_packet_probe(const char *iface, char *msg, size_t cap);

#endif
