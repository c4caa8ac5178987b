/* packet_stats.h — counters and the pktcnt window of a raw app (packet_stats.c). */
#ifndef ATARU_PACKET_STATS_H
#define ATARU_PACKET_STATS_H

#include "ataru_packet.h"

void ataru_moments_reset(ataru_moments *m);
void ataru_moments_add(ataru_moments *m, double x);

/* The window being filled (engine thread only). */
struct packet_window_acc {
  uint32_t num_nodes;
  uint64_t packets;
  uint64_t start_ns;          /* the first packet's receive time            */
  uint64_t last_bytes;
  uint64_t first_run_ns, first_dag_ns;
  uint64_t dag_ns_total;
  uint64_t recv_ns;
  ataru_moments dag;
  ataru_moments node[ATARU_MAX_NODES];
};

void ataru_window_reset(struct packet_window_acc *w, uint32_t num_nodes);
/* One packet that ran (whatever its verdict), received at rx_ns. */
void ataru_window_add(struct packet_window_acc *w, uint64_t rx_ns, uint64_t bytes, uint64_t run_ns,
                      uint64_t dag_ns, const uint64_t *node_ns);
/* The finished window, as the statistics line reads it. */
void ataru_window_finish(const struct packet_window_acc *w, uint64_t now_ns, ataru_packet_window *out);

#endif
