/*
 * packet_sock.c — the sockets of a raw app. Batches go through
 * recvmmsg/sendmmsg on plain SOCK_RAW packet sockets rather than a
 * PACKET_MMAP ring: a raw app's cost per packet is a VM entry (microseconds),
 * so the system call per batch of up to ATARU_PACKET_BATCH frames is not
 * where the time goes, and a TPACKET_V3 ring would add its block-timeout
 * latency and a ring's worth of locked memory per app (docs/server.md).
 *
 * The receive socket is made with protocol 0, so it takes nothing until it
 * is bound; the filter is attached before the bind, so no unfiltered frame
 * is ever queued on it.
 */
#define _GNU_SOURCE
#include "packet_sock.h"
#include "packet_filter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

static int fail(int fd, int err, char *msg, size_t cap, const char *fmt, const char *iface) {
  if (fd >= 0) close(fd);
  char what[200];
  snprintf(what, sizeof what, fmt, iface);
  if (err == EPERM || err == EACCES)
    snprintf(msg, cap, "%s: %s (raw apps need root or CAP_NET_RAW)", what, strerror(err));
  else
    snprintf(msg, cap, "%s: %s", what, strerror(err));
  return -err;
}

static int open_bound(const char *iface, uint16_t port, int filtered, char *msg, size_t cap) {
  unsigned idx = if_nametoindex(iface);
  if (!idx) return fail(-1, errno == ENXIO ? ENODEV : errno, msg, cap, "interface \"%s\"", iface);
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(-1, errno, msg, cap, "socket(AF_PACKET) for interface \"%s\"", iface);
  if (filtered) {
    struct sock_filter prog[ATARU_PACKET_FILTER_LEN];
    struct sock_fprog fp = {.len = (unsigned short)ataru_packet_filter(prog, port), .filter = prog};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp) != 0)
      return fail(fd, errno, msg, cap, "SO_ATTACH_FILTER on \"%s\"", iface);
    int one = 1; /* best effort (Linux 4.20+); the filter drops them anyway */
    (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    /* Room for a burst while the DAG runs: past net.core.rmem_max where the
     * process may (root: FORCE), else as much as the limit allows. */
    int rcvbuf = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
      (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = (int)idx,
                            .sll_protocol = filtered ? htons(ETH_P_ALL) : 0};
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0)
    return fail(fd, errno, msg, cap, "bind(AF_PACKET) to interface \"%s\"", iface);
  return fd;
}

int ataru_packet_rx_open(const char *iface, uint16_t port, char *msg, size_t cap) {
  return open_bound(iface, port, 1, msg, cap);
}

int ataru_packet_tx_open(const char *iface, char *msg, size_t cap) {
  return open_bound(iface, 0, 0, msg, cap);
}

int ataru_packet_probe(const char *iface, char *msg, size_t cap) {
  int fd = open_bound(iface, 0, 0, msg, cap);
  if (fd < 0) return fd;
  close(fd);
  return 0;
}
