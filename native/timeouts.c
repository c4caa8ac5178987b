/* timeouts.c — deadlines and node timeouts (see timeouts.h). */
#define _GNU_SOURCE
#include "timeouts.h"
#include "fault.h"
#include "kick.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int ataru_timeouts_init(struct ataru_instance *inst, pid_t tid) {
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = ataru_kick_signo();
  sev.sigev_value.sival_ptr = inst->vcpu[0].run;
  sev._sigev_un._tid = tid;
  if (timer_create(CLOCK_MONOTONIC, &sev, &inst->timer) < 0) return -1;
  inst->has_timer = 1;
  return 0;
}

void ataru_timeouts_fini(void *arg) {
  struct ataru_instance *inst = arg;
  if (inst->has_timer) timer_delete(inst->timer);
  inst->has_timer = 0;
}

/* Arms the timer for the next check: the request deadline or, when a node
 * has its own timeout, the earliest moment a running node can time out. */
static void schedule_check(struct ataru_instance *inst, uint64_t now) {
  uint64_t next = inst->deadline_ns;
  if (inst->bound_ns && (!next || inst->bound_ns < next)) next = inst->bound_ns;
  if (inst->min_node_timeout_ns) {
    uint64_t tsc = ataru_rdtsc_host();
    uint64_t node_next = now + inst->min_node_timeout_ns;
    for (uint32_t v = 0; v < inst->num_vcpus; v++) {
      uint32_t k = ataru_current_node(inst, v);
      if (k == ATARU_NO_NODE || !inst->node_timeout_ns[k]) continue;
      uint64_t start = inst->mb->node[k].tsc_start;
      uint64_t ran = tsc > start ? ataru_tsc_to_ns(tsc - start) : 0;
      uint64_t left = inst->node_timeout_ns[k] > ran ? inst->node_timeout_ns[k] - ran : 0;
      if (now + left < node_next) node_next = now + left;
    }
    if (!next || node_next < next) next = node_next;
  }
  inst->next_check_ns = next;
  if (next && inst->has_timer) {
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(next / 1000000000u);
    its.it_value.tv_nsec = (long)(next % 1000000000u);
    timer_settime(inst->timer, TIMER_ABSTIME, &its, NULL);
  }
}

void ataru_deadline_start(struct ataru_instance *inst) {
  uint64_t now = ataru_now_ns();
  inst->deadline_ns = inst->timeout_ns ? now + inst->timeout_ns : 0;
  /* With a margin, so that an honest mailbox names the node first. */
  inst->bound_ns = inst->nodes_bound_ns ? now + inst->nodes_bound_ns + inst->nodes_bound_ns / 8 + 1000000u : 0;
  schedule_check(inst, now);
}

void ataru_deadline_clear(struct ataru_instance *inst) { inst->next_check_ns = 0; }

int ataru_deadline_due(struct ataru_instance *inst, uint64_t now) {
  return inst->next_check_ns && now >= inst->next_check_ns;
}

static int fill(struct ataru_instance *inst, struct failure *f, uint32_t node, uint64_t ms, const char *what) {
  char label[160];
  ataru_node_label(inst, node, label, sizeof label);
  f->status = ATARU_STATUS_TIMEOUT;
  f->node = node;
  snprintf(f->message, sizeof f->message, "%s: timeout after %llu ms%s", label, (unsigned long long)ms, what);
  return 1;
}

int ataru_deadline_passed(struct ataru_instance *inst, struct failure *f) {
  uint64_t now = ataru_now_ns();
  if (inst->deadline_ns && now >= inst->deadline_ns) {
    uint32_t node = ATARU_NO_NODE;
    for (uint32_t v = 0; v < inst->num_vcpus && node == ATARU_NO_NODE; v++) node = ataru_current_node(inst, v);
    return fill(inst, f, node, inst->timeout_ns / 1000000u, " (request deadline)");
  }
  if (inst->min_node_timeout_ns) {
    uint64_t tsc = ataru_rdtsc_host();
    for (uint32_t v = 0; v < inst->num_vcpus; v++) {
      uint32_t k = ataru_current_node(inst, v);
      if (k == ATARU_NO_NODE || !inst->node_timeout_ns[k]) continue;
      uint64_t start = inst->mb->node[k].tsc_start;
      if (tsc <= start || ataru_tsc_to_ns(tsc - start) < inst->node_timeout_ns[k]) continue;
      return fill(inst, f, k, inst->node_timeout_ns[k] / 1000000u, "");
    }
  }
  /* The mailbox's figures did not show it (or were forged): the host's. */
  if (inst->bound_ns && now >= inst->bound_ns) {
    uint32_t node = ATARU_NO_NODE;
    for (uint32_t v = 0; v < inst->num_vcpus && node == ATARU_NO_NODE; v++) node = ataru_current_node(inst, v);
    return fill(inst, f, node, inst->nodes_bound_ns / 1000000u,
                " (the sum of its nodes' timeouts, by the host's clock)");
  }
  schedule_check(inst, now);
  return 0;
}
