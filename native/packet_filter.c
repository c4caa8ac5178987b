/*
 * packet_filter.c — the kernel-side filter of a raw app. Frames that fail it
 * never reach the socket: the kernel keeps handling them as usual, and the
 * engine's thread is not woken for them. Classic BPF (SO_ATTACH_FILTER)
 * because it needs no bpf() privilege beyond the socket's own and reads
 * the packet type through the ancillary SKF_AD_PKTTYPE load.
 */
#include "packet_filter.h"

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>

unsigned ataru_packet_filter(struct sock_filter *p, uint16_t port) {
  unsigned i = 0;
  const unsigned drop = ATARU_PACKET_FILTER_LEN - 1;
  /* Our own transmissions come back on a packet socket as PACKET_OUTGOING:
   * never take them (an output to conn_port would loop forever). */
  p[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE);
  p[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, drop - i - 1, 0); i++;
  p[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12);           /* EtherType */
  p[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, drop - i - 1); i++;
  p[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 9);       /* protocol */
  p[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 1, 0); i++;
  p[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, drop - i - 1); i++;
  p[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 14 + 6);       /* flags, fragment offset */
  p[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, drop - i - 1, 0); i++;
  p[i++] = (struct sock_filter)BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14);           /* X = IHL * 4 */
  p[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14 + 2);       /* destination port */
  p[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, drop - i - 1); i++;
  /* take the whole frame: the engine itself drops one longer than msg_len */
  p[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0x40000);
  p[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
  return i;
}
