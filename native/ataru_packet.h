/*
 * ataru_packet.h — raw-packet apps (conn_type raw): frames from an
 * AF_PACKET socket, run through an app's instances, outputs transmitted,
 * all in C (no JavaScript per packet). The addon (addon_packet.cc) and the
 * C tests use only this.
 *
 *   packet_filter.c  the classic BPF program (SO_ATTACH_FILTER)
 *   packet_sock.c    the receive and transmit sockets on an interface
 *   packet_stats.c   counters and the streaming moments of the pktcnt line
 *   packet_engine.c  one thread per raw app: receive a batch, run, transmit
 */
#ifndef ATARU_PACKET_H
#define ATARU_PACKET_H

#include <stddef.h>
#include <stdint.h>
#include "ataru_core.h"

/* Frames per recvmmsg/sendmmsg batch. */
#define ATARU_PACKET_BATCH 32
/* The largest frame the engine receives or transmits (an output longer
 * than this, or than the interface's MTU, is dropped and counted). */
#define ATARU_PACKET_FRAME_MAX 65536u
/* Status kinds counted per packet: the ATARU_STATUS_* values, plus: */
#define ATARU_PACKET_ERR_TOO_LONG   10  /* frame longer than msg_len       */
#define ATARU_PACKET_ERR_TX         11  /* the kernel refused the output   */
#define ATARU_PACKET_ERR_KINDS      12

/* Streaming summary (Welford/Terriberry moments), values in µs. */
typedef struct ataru_moments {
  uint64_t n;
  double mean, m2, m3, m4, min, max, sum;
} ataru_moments;

/* Seven figures as the statistics line prints them: min, mean, max,
 * population std, skewness, excess kurtosis, total. */
typedef struct ataru_summary7 {
  double min, mean, max, std, skewness, kurtosis, total;
} ataru_summary7;

/* One pktcnt window: what the statistics line needs that only the packet
 * path knows (the rest — boot time, memory — the caller adds). */
typedef struct ataru_packet_window {
  uint64_t packets;           /* = pktcnt                                   */
  uint64_t total_ns;          /* first packet received -> last one done     */
  uint64_t last_bytes;        /* length of the last frame                   */
  uint32_t num_nodes;
  uint64_t first_run_ns;      /* the first packet's host time               */
  uint64_t first_dag_ns;
  ataru_summary7 warm_dag;    /* over the other packets, µs                 */
  uint64_t dag_ns_total;      /* every packet of the window                 */
  uint64_t recv_ns;           /* time inside recvmmsg                       */
  ataru_summary7 warm_node[ATARU_MAX_NODES];
} ataru_packet_window;

/* Running totals since the socket opened. */
typedef struct ataru_packet_counters {
  uint64_t received;          /* frames the filter passed to the app        */
  uint64_t filtered;          /* the app returned no output: dropped on purpose */
  uint64_t transmitted;       /* outputs sent                               */
  uint64_t dropped;           /* not sent for another reason (errors[])     */
  uint64_t errors[ATARU_PACKET_ERR_KINDS]; /* by kind; [0] unused          */
  uint64_t windows;           /* statistics lines produced                  */
  uint64_t batches;
  ataru_moments dag_us;       /* every packet that ran, in-VM DAG time      */
  ataru_moments run_us;       /* host time per packet (submit -> done)      */
} ataru_packet_counters;

typedef void (*ataru_packet_window_fn)(void *ctx, const ataru_packet_window *w);

typedef struct ataru_packet_config {
  const char *iface;          /* receive here                               */
  const char *out_iface;      /* transmit here; NULL or "": iface           */
  uint16_t port;              /* destination port the filter takes          */
  uint32_t msg_len;           /* longest frame taken                        */
  uint32_t pktcnt;            /* a window every pktcnt packets; 0: never    */
  uint32_t num_nodes;
  ataru_instance **instances; /* owned by the caller, alive until close     */
  uint32_t num_instances;     /* 1..ATARU_PACKET_MAX_INSTANCES              */
  ataru_packet_window_fn window_fn;  /* on the engine thread; may be NULL   */
  void *window_ctx;
} ataru_packet_config;

#define ATARU_PACKET_MAX_INSTANCES 64

typedef struct ataru_packet_engine ataru_packet_engine;

/* Opens the sockets (filter attached before the bind, so no frame is taken
 * unfiltered) and starts the engine thread. NULL on failure: err->code is an
 * errno (EPERM/EACCES: no CAP_NET_RAW; ENODEV: no such interface) and
 * err->message says what failed. */
ataru_packet_engine *ataru_packet_open(const ataru_packet_config *cfg, ataru_error *err);
/* A consistent copy of the counters (any thread). */
void ataru_packet_counters_get(ataru_packet_engine *e, ataru_packet_counters *out);
/* The summary of running moments (for counters' dag_us, run_us). */
void ataru_moments_summary(const ataru_moments *m, ataru_summary7 *out);
/* Stops the thread after the batch in progress, closes the sockets, frees.
 * The instances are not touched afterwards. */
void ataru_packet_close(ataru_packet_engine *e);

#endif
