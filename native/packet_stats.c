/*
 * packet_stats.c — what a raw app counts: the running totals of
 * ataru_packet_counters and the pktcnt window behind the statistics line.
 * The moments are the one-pass central-moment updates of Welford and
 * Terriberry, with the same conventions as the TCP data port's line
 * (src/runtime/stats.ts): population std, skewness sqrt(n)·M3/M2^1.5,
 * excess kurtosis n·M4/M2² − 3; with fewer than two values or no spread,
 * all three are 0.
 */
#include "packet_stats.h"

#include <math.h>
#include <string.h>

void ataru_moments_reset(ataru_moments *m) { memset(m, 0, sizeof *m); }

void ataru_moments_add(ataru_moments *m, double x) {
  double n1 = (double)m->n;
  double n = (double)++m->n;
  double delta = x - m->mean, dn = delta / n, dn2 = dn * dn, term1 = delta * dn * n1;
  m->mean += dn;
  m->m4 += term1 * dn2 * (n * n - 3 * n + 3) + 6 * dn2 * m->m2 - 4 * dn * m->m3;
  m->m3 += term1 * dn * (n - 2) - 3 * dn * m->m2;
  m->m2 += term1;
  if (m->n == 1 || x < m->min) m->min = x;
  if (m->n == 1 || x > m->max) m->max = x;
  m->sum += x;
}

void ataru_moments_summary(const ataru_moments *m, ataru_summary7 *s) {
  memset(s, 0, sizeof *s);
  if (!m->n) return;
  double n = (double)m->n;
  int spread = m->n > 1 && m->m2 > 0;
  s->min = m->min;
  s->mean = m->mean;
  s->max = m->max;
  s->std = spread ? sqrt(m->m2 / n) : 0;
  s->skewness = spread ? sqrt(n) * m->m3 / pow(m->m2, 1.5) : 0;
  s->kurtosis = spread ? n * m->m4 / (m->m2 * m->m2) - 3 : 0;
  s->total = m->sum;
}

void ataru_window_reset(struct packet_window_acc *w, uint32_t num_nodes) {
  memset(w, 0, sizeof *w);
  w->num_nodes = num_nodes > ATARU_MAX_NODES ? ATARU_MAX_NODES : num_nodes;
}

void ataru_window_add(struct packet_window_acc *w, uint64_t rx_ns, uint64_t bytes, uint64_t run_ns,
                      uint64_t dag_ns, const uint64_t *node_ns) {
  w->last_bytes = bytes;
  w->dag_ns_total += dag_ns;
  if (w->packets++ == 0) {  /* the first one is the "cold" request of the line */
    w->start_ns = rx_ns;
    w->first_run_ns = run_ns;
    w->first_dag_ns = dag_ns;
    return;
  }
  ataru_moments_add(&w->dag, (double)dag_ns / 1000.0);
  for (uint32_t k = 0; k < w->num_nodes; k++) ataru_moments_add(&w->node[k], (double)node_ns[k] / 1000.0);
}

void ataru_window_finish(const struct packet_window_acc *w, uint64_t now_ns, ataru_packet_window *out) {
  memset(out, 0, sizeof *out);
  out->packets = w->packets;
  out->total_ns = now_ns > w->start_ns ? now_ns - w->start_ns : 0;
  out->last_bytes = w->last_bytes;
  out->num_nodes = w->num_nodes;
  out->first_run_ns = w->first_run_ns;
  out->first_dag_ns = w->first_dag_ns;
  ataru_moments_summary(&w->dag, &out->warm_dag);
  out->dag_ns_total = w->dag_ns_total;
  out->recv_ns = w->recv_ns;
  for (uint32_t k = 0; k < w->num_nodes; k++) ataru_moments_summary(&w->node[k], &out->warm_node[k]);
}
