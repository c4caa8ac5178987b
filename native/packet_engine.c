/*
 * packet_engine.c — the packet path of a raw app, one thread per app:
 *
 *   receive   up to ATARU_PACKET_BATCH frames with one recvmmsg
 *   run       each frame is one request (ataru_instance_submit, the same
 *             call the data ports' requests go through), on the instance
 *             its source picks: frames of one source (IPv4 address, port)
 *             always go to the same instance, one at a time, so their order
 *             is kept; frames of different sources run on different
 *             instances at the same time
 *   transmit  the batch's non-empty outputs, in receive order, with one
 *             sendmmsg on the transmit socket; an empty output drops the
 *             frame (counted as filtered), a failed request drops it and
 *             counts its kind
 *
 * A batch is finished (transmitted and counted) before the next is read, so
 * outputs also leave in the order the frames came. No JavaScript runs per
 * packet: the caller hears only of each finished pktcnt window.
 */
#define _GNU_SOURCE
#include "ataru_packet.h"
#include "packet_sock.h"
#include "packet_stats.h"
#include "util.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

struct slot {
  struct ataru_packet_engine *e;
  uint8_t *in;                /* the frame (rx buffer)                      */
  size_t len;
  uint32_t inst;
  int ran;                    /* handed to an instance                      */
  uint32_t status;            /* ATARU_STATUS_* or ATARU_PACKET_ERR_*       */
  uint8_t *out;               /* ATARU_PACKET_FRAME_MAX bytes               */
  size_t out_len;
  uint64_t run_ns, dag_ns;
  uint64_t node_ns[ATARU_MAX_NODES];
};

struct ataru_packet_engine {
  int rx, tx, stop_fd;
  uint16_t port;
  uint32_t msg_len, rx_cap, pktcnt, num_nodes, num_instances;
  ataru_instance *inst[ATARU_PACKET_MAX_INSTANCES];
  ataru_packet_window_fn window_fn;
  void *window_ctx;
  pthread_t thread;

  /* completions (vCPU threads) -> engine thread */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  uint32_t inflight[ATARU_PACKET_MAX_INSTANCES];  /* 0 or 1 */
  uint32_t pending;

  struct slot slot[ATARU_PACKET_BATCH];
  struct sockaddr_ll from[ATARU_PACKET_BATCH];
  struct mmsghdr rmsg[ATARU_PACKET_BATCH], tmsg[ATARU_PACKET_BATCH];
  struct iovec riov[ATARU_PACKET_BATCH], tiov[ATARU_PACKET_BATCH];
  uint8_t *rx_mem, *out_mem;

  struct packet_window_acc window;   /* engine thread only */
  /* the windows a batch finished (pktcnt >= 1: at most one per frame) */
  ataru_packet_window done_windows[ATARU_PACKET_BATCH];
  pthread_mutex_t stats_lock;
  ataru_packet_counters counters;
};

/* ---- run (completion on the instance's vCPU-0 thread) ---- */

static void on_done(void *ctx, ataru_result *res) {
  struct slot *s = ctx;
  struct ataru_packet_engine *e = s->e;
  s->status = res->status;
  s->run_ns = res->run_ns;
  s->dag_ns = res->dag_ns;
  uint32_t n = res->num_nodes < e->num_nodes ? res->num_nodes : e->num_nodes;
  memcpy(s->node_ns, res->node_ns, n * sizeof(uint64_t));
  s->out_len = 0;
  if (res->status == ATARU_STATUS_OK) {
    if (res->output_len > ATARU_PACKET_FRAME_MAX) {
      s->status = ATARU_STATUS_OUTPUT_TOO_LARGE;
    } else {
      memcpy(s->out, res->output, res->output_len);  /* res->output is reset right after */
      s->out_len = res->output_len;
    }
  }
  pthread_mutex_lock(&e->lock);
  e->inflight[s->inst] = 0;
  e->pending--;
  pthread_cond_broadcast(&e->cond);
  pthread_mutex_unlock(&e->lock);
}

/* The instance for a frame: by its IPv4 source address and port (the
 * filter passed only IPv4 UDP/TCP frames, but the lengths are checked). */
static uint32_t pick(const struct ataru_packet_engine *e, const uint8_t *f, size_t len) {
  if (e->num_instances == 1 || len < 14 + 20) return 0;
  uint32_t h = 2166136261u;
  for (int i = 14 + 12; i < 14 + 16; i++) h = (h ^ f[i]) * 16777619u;  /* source address */
  size_t ihl = (size_t)(f[14] & 0xf) * 4;
  if (len >= 14 + ihl + 2)
    for (size_t i = 14 + ihl; i < 14 + ihl + 2; i++) h = (h ^ f[i]) * 16777619u;  /* source port */
  return h % e->num_instances;
}

static void run_batch(struct ataru_packet_engine *e, unsigned n) {
  for (unsigned i = 0; i < n; i++) {
    struct slot *s = &e->slot[i];
    if (!s->ran) continue;  /* refused before the run (too long) */
    uint32_t k = pick(e, s->in, s->len);
    s->inst = k;
    pthread_mutex_lock(&e->lock);
    while (e->inflight[k]) pthread_cond_wait(&e->cond, &e->lock);
    e->inflight[k] = 1;
    e->pending++;
    pthread_mutex_unlock(&e->lock);
    int st = ataru_instance_submit(e->inst[k], s->in, s->len, ATARU_NODE_ID_DEFAULT, on_done, s);
    if (st != ATARU_STATUS_OK) {  /* CLOSED, INTERNAL (out of service): nothing ran */
      pthread_mutex_lock(&e->lock);
      e->inflight[k] = 0;
      e->pending--;
      pthread_mutex_unlock(&e->lock);
      s->status = (uint32_t)st;
      s->ran = 0;
    }
  }
  pthread_mutex_lock(&e->lock);
  while (e->pending) pthread_cond_wait(&e->cond, &e->lock);
  pthread_mutex_unlock(&e->lock);
}

/* ---- transmit and count (engine thread) ---- */

static void transmit(struct ataru_packet_engine *e, unsigned n, unsigned *sent_ok) {
  unsigned idx[ATARU_PACKET_BATCH], m = 0;
  for (unsigned i = 0; i < n; i++) {
    struct slot *s = &e->slot[i];
    sent_ok[i] = 0;
    if (s->status != ATARU_STATUS_OK || !s->out_len) continue;
    e->tiov[m] = (struct iovec){.iov_base = s->out, .iov_len = s->out_len};
    e->tmsg[m] = (struct mmsghdr){.msg_hdr = {.msg_iov = &e->tiov[m], .msg_iovlen = 1}};
    idx[m++] = i;
  }
  unsigned done = 0;
  while (done < m) {
    int r = sendmmsg(e->tx, e->tmsg + done, m - done, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
      struct pollfd p = {.fd = e->tx, .events = POLLOUT};
      if (poll(&p, 1, 100) > 0) continue;
    }
    if (r > 0) {
      for (int j = 0; j < r; j++) sent_ok[idx[done + j]] = 1;
      done += (unsigned)r;
      continue;
    }
    e->slot[idx[done]].status = ATARU_PACKET_ERR_TX;  /* this one failed: the rest still go */
    done++;
  }
}

static void account(struct ataru_packet_engine *e, unsigned n, const uint64_t *rx_ns, uint64_t recv_ns) {
  unsigned sent[ATARU_PACKET_BATCH];
  transmit(e, n, sent);
  ataru_packet_window *windows = e->done_windows;
  unsigned nwin = 0;
  pthread_mutex_lock(&e->stats_lock);
  ataru_packet_counters *c = &e->counters;
  c->batches++;
  c->received += n;
  e->window.recv_ns += recv_ns;
  for (unsigned i = 0; i < n; i++) {
    struct slot *s = &e->slot[i];
    if (sent[i]) c->transmitted++;
    else if (s->status == ATARU_STATUS_OK) c->filtered++;
    else {
      c->dropped++;
      c->errors[s->status < ATARU_PACKET_ERR_KINDS ? s->status : ATARU_STATUS_INTERNAL]++;
    }
    if (!s->ran) continue;
    ataru_moments_add(&c->dag_us, (double)s->dag_ns / 1000.0);
    ataru_moments_add(&c->run_us, (double)s->run_ns / 1000.0);
    if (!e->pktcnt) continue;
    ataru_window_add(&e->window, rx_ns[i], s->len, s->run_ns, s->dag_ns, s->node_ns);
    if (e->window.packets == e->pktcnt) {
      ataru_window_finish(&e->window, ataru_now_ns(), &windows[nwin++]);
      c->windows++;
      ataru_window_reset(&e->window, e->num_nodes);
    }
  }
  pthread_mutex_unlock(&e->stats_lock);
  for (unsigned w = 0; w < nwin; w++)
    if (e->window_fn) e->window_fn(e->window_ctx, &windows[w]);
}

/* ---- receive (engine thread) ---- */

static void *engine_main(void *arg) {
  struct ataru_packet_engine *e = arg;
  uint64_t rx_ns[ATARU_PACKET_BATCH];
  for (;;) {
    struct pollfd p[2] = {{.fd = e->rx, .events = POLLIN}, {.fd = e->stop_fd, .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) break;
    if (!(p[0].revents & POLLIN)) {
      if (p[0].revents & (POLLERR | POLLNVAL | POLLHUP)) break;  /* interface gone */
      continue;
    }
    for (unsigned i = 0; i < ATARU_PACKET_BATCH; i++) {
      e->riov[i] = (struct iovec){.iov_base = e->rx_mem + (size_t)i * e->rx_cap, .iov_len = e->rx_cap};
      e->rmsg[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &e->from[i], .msg_namelen = sizeof e->from[i],
                                                .msg_iov = &e->riov[i], .msg_iovlen = 1}};
    }
    uint64_t t0 = ataru_now_ns();
    int r = recvmmsg(e->rx, e->rmsg, ATARU_PACKET_BATCH, MSG_DONTWAIT, NULL);
    uint64_t t1 = ataru_now_ns();
    if (r <= 0) continue;
    unsigned n = 0;
    for (int i = 0; i < r; i++) {
      if (e->from[i].sll_pkttype == PACKET_OUTGOING) continue;  /* the filter's job; kept as a guard */
      struct slot *s = &e->slot[n];
      s->in = e->riov[i].iov_base;
      s->len = e->rmsg[i].msg_len;
      s->out_len = 0;
      s->run_ns = s->dag_ns = 0;
      memset(s->node_ns, 0, e->num_nodes * sizeof(uint64_t));
      int too_long = (e->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) || s->len > e->msg_len;
      s->ran = !too_long;
      s->status = too_long ? ATARU_PACKET_ERR_TOO_LONG : ATARU_STATUS_OK;
      rx_ns[n] = t1;
      n++;
    }
    /* slots refer to rx buffers by index i >= n: keep them where they are */
    run_batch(e, n);
    account(e, n, rx_ns, t1 - t0);
  }
  return NULL;
}

/* ---- open, counters, close ---- */

ataru_packet_engine *ataru_packet_open(const ataru_packet_config *cfg, ataru_error *err) {
  memset(err, 0, sizeof *err);
  if (!cfg->iface || !cfg->iface[0] || !cfg->num_instances || cfg->num_instances > ATARU_PACKET_MAX_INSTANCES ||
      !cfg->msg_len || !cfg->num_nodes || cfg->num_nodes > ATARU_MAX_NODES) {
    err->code = EINVAL;
    snprintf(err->message, sizeof err->message, "raw app: bad packet configuration");
    return NULL;
  }
  struct ataru_packet_engine *e = calloc(1, sizeof *e);
  if (!e) goto nomem;
  e->rx = e->tx = e->stop_fd = -1;
  e->port = cfg->port;
  e->msg_len = cfg->msg_len;
  e->rx_cap = cfg->msg_len < ATARU_PACKET_FRAME_MAX ? cfg->msg_len : ATARU_PACKET_FRAME_MAX;
  e->pktcnt = cfg->pktcnt;
  e->num_nodes = cfg->num_nodes;
  e->num_instances = cfg->num_instances;
  memcpy(e->inst, cfg->instances, cfg->num_instances * sizeof *e->inst);
  e->window_fn = cfg->window_fn;
  e->window_ctx = cfg->window_ctx;
  pthread_mutex_init(&e->lock, NULL);
  pthread_cond_init(&e->cond, NULL);
  pthread_mutex_init(&e->stats_lock, NULL);
  ataru_window_reset(&e->window, e->num_nodes);
  e->rx_mem = malloc((size_t)ATARU_PACKET_BATCH * e->rx_cap);
  e->out_mem = malloc((size_t)ATARU_PACKET_BATCH * ATARU_PACKET_FRAME_MAX);
  if (!e->rx_mem || !e->out_mem) goto nomem;
  for (unsigned i = 0; i < ATARU_PACKET_BATCH; i++) {
    e->slot[i].e = e;
    e->slot[i].out = e->out_mem + (size_t)i * ATARU_PACKET_FRAME_MAX;
  }
  const char *out = cfg->out_iface && cfg->out_iface[0] ? cfg->out_iface : cfg->iface;
  int fd = ataru_packet_tx_open(out, err->message, sizeof err->message);
  if (fd < 0) goto sockfail;
  e->tx = fd;
  fd = ataru_packet_rx_open(cfg->iface, cfg->port, err->message, sizeof err->message);
  if (fd < 0) goto sockfail;
  e->rx = fd;
  e->stop_fd = eventfd(0, EFD_CLOEXEC);
  if (e->stop_fd < 0) {
    fd = -errno;
    snprintf(err->message, sizeof err->message, "eventfd: %s", strerror(errno));
    goto sockfail;
  }
  int rc = pthread_create(&e->thread, NULL, engine_main, e);
  if (rc != 0) {
    fd = -rc;
    snprintf(err->message, sizeof err->message, "raw app: cannot start its packet thread: %s", strerror(rc));
    goto sockfail;
  }
  return e;
sockfail:
  err->code = (uint32_t)-fd;
  goto cleanup;
nomem:
  err->code = ENOMEM;
  snprintf(err->message, sizeof err->message, "raw app: out of memory for its packet buffers");
cleanup:
  if (e) {
    if (e->rx >= 0) close(e->rx);
    if (e->tx >= 0) close(e->tx);
    if (e->stop_fd >= 0) close(e->stop_fd);
    free(e->rx_mem);
    free(e->out_mem);
    free(e);
  }
  return NULL;
}

void ataru_packet_counters_get(ataru_packet_engine *e, ataru_packet_counters *out) {
  pthread_mutex_lock(&e->stats_lock);
  *out = e->counters;
  pthread_mutex_unlock(&e->stats_lock);
}

void ataru_packet_close(ataru_packet_engine *e) {
  uint64_t one = 1;
  while (write(e->stop_fd, &one, sizeof one) < 0 && errno == EINTR) {}
  pthread_join(e->thread, NULL);
  close(e->rx);
  close(e->tx);
  close(e->stop_fd);
  pthread_mutex_destroy(&e->lock);
  pthread_cond_destroy(&e->cond);
  pthread_mutex_destroy(&e->stats_lock);
  free(e->rx_mem);
  free(e->out_mem);
  free(e);
}
