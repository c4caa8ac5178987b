/*
 * request.c — the request path, top to bottom:
 *
 *   submit   (caller's thread)  input copied into the instance, the serve
 *                               job handed to the vCPU-0 thread
 *   serve    (vCPU-0 thread)    input into the shared region, mailbox set,
 *                               workers woken, vCPU 0 run until DONE or a
 *                               failure (run.c, timeouts.c)
 *   collect                     return values, timings and sink outputs
 *                               read back from the (untrusted) mailbox
 *   complete                    done(ctx, result), the caller copies what
 *                               it keeps
 *   reset    (off the latency path) workers parked, guest memory back to
 *                               the snapshot; a reset that fails takes the
 *                               instance out of service
 *
 * One request may be queued while another runs: `input_busy` holds the
 * queued one's input until the serve job has copied it.
 */
#define _GNU_SOURCE
#include "request.h"
#include "fault.h"
#include "kick.h"
#include "run.h"
#include "spare.h"
#include "timeouts.h"
#include "util.h"
#include "workers.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* After DONE, woken workers park at once; longer means a function forged
 * the runtime's counters. */
#define PARK_WAIT_NS 50000000ull

static void serve(void *arg);

/* ---- submit (caller's thread) ---- */

int ataru_instance_submit(ataru_instance *inst, const void *input, size_t len, uint64_t node_id_override,
                          ataru_done_fn done, void *ctx) {
  if (len > inst->shm_size) return ATARU_STATUS_BAD_REQUEST;
  pthread_mutex_lock(&inst->req_lock);
  int status = ATARU_STATUS_OK;
  if (__atomic_load_n(&inst->quit, __ATOMIC_ACQUIRE)) status = ATARU_STATUS_CLOSED;
  else if (inst->out_of_service) status = ATARU_STATUS_INTERNAL;
  else if (inst->input_busy || inst->floor_active) status = ATARU_STATUS_BUSY;
  if (status != ATARU_STATUS_OK) {
    pthread_mutex_unlock(&inst->req_lock);
    return status;
  }
  memcpy(inst->input, input, len);
  inst->queued = (struct queued_request){.len = len, .node_id_override = node_id_override, .done = done,
                                         .ctx = ctx, .submit_ns = ataru_now_ns()};
  inst->input_busy = 1;
  pthread_mutex_unlock(&inst->req_lock);
  if (vthread_post(inst->thread[0], serve, inst) == 0) return ATARU_STATUS_OK;
  pthread_mutex_lock(&inst->req_lock); /* stopping: nothing will serve it */
  inst->input_busy = 0;
  pthread_cond_broadcast(&inst->req_cond);
  pthread_mutex_unlock(&inst->req_lock);
  return ATARU_STATUS_CLOSED;
}

/* ---- serve (vCPU-0 thread) ---- */

static void set_failure(struct ataru_instance *inst, ataru_result *res, uint32_t status, uint32_t node,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void set_failure(struct ataru_instance *inst, ataru_result *res, uint32_t status, uint32_t node,
                        const char *fmt, ...) {
  char label[160], cause[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cause, sizeof cause, fmt, ap);
  va_end(ap);
  ataru_node_label(inst, node, label, sizeof label);
  res->status = status;
  res->failed_node = node;
  snprintf(res->message, sizeof res->message, "%s: %s", label, cause);
}

/* The mailbox for a new request. */
static void prepare(struct ataru_instance *inst, const struct queued_request *q, uint32_t workers) {
  struct ataru_mailbox *mb = inst->mb;
  mb->request_id++;
  mb->in_len = q->len;
  mb->node_id_override = q->node_id_override;
  mb->workers = workers;
  mb->exit_floor = 0;
  mb->ready_head = mb->ready_tail = mb->finished = mb->failed = 0;
  mb->request_done = 0;
  mb->status = ATARU_STATUS_OK;
  mb->failed_node = ATARU_NO_NODE;
  for (uint32_t v = 0; v < ATARU_MAX_VCPUS; v++) mb->current_node[v] = ATARU_NO_NODE;
}

/* Runs the DAG on vCPU 0 (and the woken workers) until DONE (1) or a
 * failure: a fault, a timeout, a worker's fault, destroy (0, f filled). */
static int run_dag(struct ataru_instance *inst, struct failure *f) {
  ataru_deadline_start(inst);
  for (;;) {
    enum step step = ataru_run_step(inst, 0, f);
    if (step == STEP_DONE) {
      ataru_deadline_clear(inst);
      return 1;
    }
    if (step == STEP_KICKED) {
      if (__atomic_load_n(&inst->worker_failed, __ATOMIC_ACQUIRE)) {
        ataru_workers_failure(inst, f);
      } else if (__atomic_load_n(&inst->quit, __ATOMIC_ACQUIRE)) {
        f->status = ATARU_STATUS_CLOSED;
        f->node = ataru_current_node(inst, 0);
        snprintf(f->message, sizeof f->message, "the instance was destroyed during the request");
      } else if (!ataru_deadline_passed(inst, f)) {
        continue;
      }
      inst->vcpu[0].needs_enter = 1;
    }
    ataru_deadline_clear(inst);
    ataru_workers_stop(inst);
    return 0;
  }
}

/* Fills timings, return values and outputs from the mailbox (untrusted: the
 * guest may have written anything there; every length is checked). */
static void collect(struct ataru_instance *inst, ataru_result *res) {
  const struct ataru_mailbox *mb = inst->mb;
  uint32_t n = inst->num_nodes, failed = ATARU_NO_NODE, not_run = ATARU_NO_NODE;
  for (uint32_t k = 0; k < n; k++) {
    const struct ataru_node_result *r = &mb->node[k];
    res->node_ret[k] = r->ret;
    int ran = r->state == ATARU_NODE_DONE || r->state == ATARU_NODE_FAILED;
    res->node_ns[k] = ran && r->tsc_end >= r->tsc_start ? ataru_tsc_to_ns(r->tsc_end - r->tsc_start) : 0;
    res->node_vcpu[k] = ran && r->vcpu < inst->num_vcpus ? r->vcpu : 0;
    res->node_start_ns[k] = ran && r->tsc_start >= mb->tsc_start ? ataru_tsc_to_ns(r->tsc_start - mb->tsc_start) : 0;
    if (r->state == ATARU_NODE_FAILED && r->ret < 0 && (failed == ATARU_NO_NODE || k == mb->failed_node))
      failed = k;
    if (r->state != ATARU_NODE_DONE && not_run == ATARU_NO_NODE) not_run = k;
  }
  res->dag_ns = mb->tsc_end >= mb->tsc_start ? ataru_tsc_to_ns(mb->tsc_end - mb->tsc_start) : 0;
  if (failed != ATARU_NO_NODE) {
    set_failure(inst, res, ATARU_STATUS_FUNCTION_ERROR, failed, "returned error %lld",
                (long long)mb->node[failed].ret);
    return;
  }
  if (not_run != ATARU_NO_NODE) {
    /* The runtime ends a request only when every node finished, so a
     * function forged its exit or its counters: a fault of the request
     * (not of the instance, which is reset and re-entered as after any). */
    set_failure(inst, res, ATARU_STATUS_FAULT, not_run,
                "did not run (state %u): the request ended early, a function forged the runtime's exit or state",
                mb->node[not_run].state);
    inst->vcpu[0].needs_enter = 1;
    return;
  }
  uint64_t total = 0;
  for (uint32_t i = 0; i < inst->num_sinks; i++) {
    uint32_t k = inst->sinks[i];
    uint64_t cap = inst->shm_size - inst->cfg->node[k].out_off;
    if ((uint64_t)res->node_ret[k] > cap) {
      set_failure(inst, res, ATARU_STATUS_OUTPUT_TOO_LARGE, k, "output of %lld bytes exceeds its %llu-byte region",
                  (long long)res->node_ret[k], (unsigned long long)cap);
      return;
    }
    total += (uint64_t)res->node_ret[k];
  }
  if (total > ATARU_OUTPUT_MAX) {
    /* A reply frame's length is a u32: more cannot be answered at all. */
    set_failure(inst, res, ATARU_STATUS_OUTPUT_TOO_LARGE, ATARU_NO_NODE,
                "the sinks' outputs total %llu bytes, over the %llu-byte limit of a reply", (unsigned long long)total,
                (unsigned long long)ATARU_OUTPUT_MAX);
    return;
  }
  if (inst->num_sinks == 1) {
    /* valid until done() returns: memory is reset after it */
    res->output = inst->shm + inst->cfg->node[inst->sinks[0]].out_off;
    res->output_len = total;
    return;
  }
  uint8_t *buf = total ? realloc(inst->outbuf, total) : inst->outbuf;
  if (total && !buf) {
    set_failure(inst, res, ATARU_STATUS_INTERNAL, ATARU_NO_NODE, "out of memory for the output");
    return;
  }
  inst->outbuf = buf;
  uint64_t off = 0;
  for (uint32_t i = 0; i < inst->num_sinks; i++) {
    uint32_t k = inst->sinks[i];
    memcpy(buf + off, inst->shm + inst->cfg->node[k].out_off, (size_t)res->node_ret[k]);
    off += (uint64_t)res->node_ret[k];
  }
  res->output = buf;
  res->output_len = total;
}

/* Back to the snapshot: the dirty-logged pages the guest wrote, the hot set,
 * and what the host wrote (the input: host writes are not logged). A
 * failure leaves guest memory unknown: the instance goes out of service. */
static void reset_memory(struct ataru_instance *inst, uint64_t host_written) {
  uint32_t slot = MEMSLOT_LOGGED;
  if (inst->fail_next_reset) { /* test hook: a memslot KVM does not know */
    inst->fail_next_reset = 0;
    slot = 0x7fff;
  }
  if (ataru_snapshot_reset_dirty(&inst->snap, inst->vm.vm_fd, slot, inst->hot_bytes / ATARU_PAGE_SIZE,
                                 inst->vm.dirty_manual) < 0) {
    int e = errno;
    pthread_mutex_lock(&inst->req_lock);
    inst->out_of_service = 1;
    snprintf(inst->out_of_service_why, sizeof inst->out_of_service_why,
             "the instance is out of service: its memory reset failed (dirty log: %s)", strerror(e));
    pthread_mutex_unlock(&inst->req_lock);
    return;
  }
  ataru_snapshot_restore(&inst->snap, inst->mb_gpa, inst->mb_bytes);
  for (uint32_t v = 0; v < inst->num_vcpus; v++)
    ataru_snapshot_restore(&inst->snap, inst->stack_top_gpa[v], ATARU_PAGE_SIZE);
  ataru_snapshot_restore(&inst->snap, inst->shm_gpa, host_written);
}

static void serve(void *arg) {
  struct ataru_instance *inst = arg;
  ataru_result *res = &inst->result;
  memset(res, 0, offsetof(ataru_result, node_ret));
  res->failed_node = ATARU_NO_NODE;
  res->num_nodes = inst->num_nodes;

  pthread_mutex_lock(&inst->req_lock);
  struct queued_request q = inst->queued;
  int closed = __atomic_load_n(&inst->quit, __ATOMIC_ACQUIRE), broken = inst->out_of_service;
  if (!closed && !broken) memcpy(inst->shm, inst->input, q.len);
  inst->input_busy = 0; /* the next request may be queued */
  pthread_cond_broadcast(&inst->req_cond);
  pthread_mutex_unlock(&inst->req_lock);
  if (closed || broken) {
    /* Nobody may wait forever for a request that will never run. */
    res->status = closed ? ATARU_STATUS_CLOSED : ATARU_STATUS_INTERNAL;
    res->not_run = 1;
    snprintf(res->message, sizeof res->message, "%s",
             closed ? "the instance was destroyed before the request ran" : inst->out_of_service_why);
    q.done(q.ctx, res);
    return;
  }

  uint32_t workers = ataru_workers_for_request(inst);
  prepare(inst, &q, workers);
  ataru_workers_wake(inst, workers);
  struct failure f;
  int ok = run_dag(inst, &f);
  res->workers_used = workers;
  if (ok) {
    collect(inst, res);
  } else {
    res->status = f.status;
    res->failed_node = f.node;
    memcpy(res->message, f.message, sizeof res->message);
    for (uint32_t k = 0; k < inst->num_nodes; k++) {
      res->node_ret[k] = 0;
      res->node_vcpu[k] = 0;
      res->node_start_ns[k] = 0;
    }
  }
  res->run_ns = ataru_now_ns() - q.submit_ns;
  q.done(q.ctx, res);

  /* Off the latency path from here on. */
  ataru_workers_wait(inst, PARK_WAIT_NS);
  ataru_run_flush_log(inst);
  if (res->status == ATARU_STATUS_OK) ataru_workers_learn(inst, res);
  if (q.len > inst->input_max) inst->input_max = q.len;
  if (!(inst->keep_state && ok)) {
    /* keep_state apps never fetched the dirty log before: this restores
     * every page written since load. Host writes (inputs) by hand. */
    reset_memory(inst, inst->input_max);
    inst->input_max = 0;
  }
  /* The next instance's VM is built now, off the latency path (spare.h). */
  if (!inst->spare_refilled) {
    inst->spare_refilled = 1;
    ataru_spare_refill();
  }
}

/* ---- init hooks (template.c) ---- */

int ataru_request_run_inits(struct ataru_instance *inst, uint64_t timeout_ns, struct failure *f, uint32_t *count) {
  struct ataru_mailbox *mb = inst->mb;
  struct queued_request q = {.node_id_override = ATARU_NODE_ID_DEFAULT};
  prepare(inst, &q, 0);
  mb->init = 1;
  mb->init_stage = ATARU_NO_NODE;
  mb->init_ret = 0;
  mb->init_count = 0;
  /* Node timeouts apply to each node's hook; the request deadline is the
   * init's own. */
  uint64_t request_timeout = inst->timeout_ns, bound = inst->nodes_bound_ns;
  inst->timeout_ns = timeout_ns;
  inst->nodes_bound_ns = 0;
  int ok = run_dag(inst, f);
  inst->timeout_ns = request_timeout;
  inst->nodes_bound_ns = bound;
  uint32_t stage = mb->init_stage; /* guest-written: checked before use */
  if (stage != ATARU_INIT_SHARED && stage != ATARU_NO_NODE && stage >= inst->num_nodes) stage = ATARU_NO_NODE - 2;
  *count = mb->init_count;
  mb->init = 0;
  ataru_run_flush_log(inst);
  char label[160];
  if (stage == ATARU_INIT_SHARED) snprintf(label, sizeof label, "exec[0] (the shared image)");
  else if (stage == ATARU_NO_NODE - 2) snprintf(label, sizeof label, "an unknown node (the mailbox was overwritten)");
  else ataru_node_label(inst, stage, label, sizeof label);
  if (!ok) {
    char cause[sizeof f->message];
    memcpy(cause, f->message, sizeof cause);
    char *deadline = strstr(cause, " (request deadline)");
    if (deadline) snprintf(deadline, sizeof cause - (size_t)(deadline - cause), " (the init deadline)");
    /* A fault message names the running node already; exec[0]'s hook runs
     * outside any node. */
    if (stage == ATARU_INIT_SHARED) snprintf(f->message, sizeof f->message, "ataru_init of exec[0]: %.480s", cause);
    else snprintf(f->message, sizeof f->message, "ataru_init: %.480s", cause);
    return -1;
  }
  if (stage != ATARU_NO_NODE) {
    f->status = ATARU_STATUS_FUNCTION_ERROR;
    f->node = stage < inst->num_nodes ? stage : ATARU_NO_NODE;
    snprintf(f->message, sizeof f->message, "ataru_init of %s returned error %lld", label,
             (long long)mb->init_ret);
    return -1;
  }
  return 0;
}

/* ---- the synchronous form ---- */

struct sync_wait {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int finished;
  ataru_result *res;
};

static void sync_done(void *ctx, ataru_result *res) {
  struct sync_wait *w = ctx;
  uint8_t *out = NULL;
  if (res->output_len && (out = malloc(res->output_len))) memcpy(out, res->output, res->output_len);
  *w->res = *res;
  w->res->output = out;
  if (!out) w->res->output_len = 0;
  pthread_mutex_lock(&w->lock);
  w->finished = 1;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

int ataru_instance_run(ataru_instance *inst, const void *input, size_t len, uint64_t node_id_override,
                       ataru_result *res) {
  struct sync_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, res};
  int status;
  while ((status = ataru_instance_submit(inst, input, len, node_id_override, sync_done, &w)) ==
         ATARU_STATUS_BUSY) {
    pthread_mutex_lock(&inst->req_lock); /* wait for the queued request to start */
    while ((inst->input_busy || inst->floor_active) && !inst->quit) pthread_cond_wait(&inst->req_cond, &inst->req_lock);
    pthread_mutex_unlock(&inst->req_lock);
  }
  if (status != ATARU_STATUS_OK) return status;
  pthread_mutex_lock(&w.lock);
  while (!w.finished) pthread_cond_wait(&w.cond, &w.lock);
  pthread_mutex_unlock(&w.lock);
  return ATARU_STATUS_OK;
}

void ataru_result_free(ataru_result *res) {
  free(res->output);
  res->output = NULL;
  res->output_len = 0;
}

/* ---- the exit floor (benchmarks) ---- */

struct floor_job {
  struct ataru_instance *inst;
  uint32_t n;
  uint64_t median_ns;
  int rc;
};

static void measure_floor(void *arg) {
  struct floor_job *j = arg;
  struct ataru_instance *inst = j->inst;
  uint64_t *t = calloc(j->n ? j->n : 1, sizeof *t);
  if (!t) return;
  struct failure f;
  ataru_deadline_clear(inst);
  inst->mb->exit_floor = 1;
  inst->measuring_floor = 1;
  int rc = ataru_run_step(inst, 0, &f) == STEP_DONE ? 0 : -1; /* enters the runtime's floor loop */
  for (uint32_t i = 0; i < j->n && rc == 0; i++) {
    uint64_t t0 = ataru_now_ns();
    if (ataru_run_step(inst, 0, &f) != STEP_DONE) rc = -1;
    t[i] = ataru_now_ns() - t0;
  }
  inst->mb->exit_floor = 0;
  inst->measuring_floor = 0;
  inst->vcpu[0].needs_enter = 1; /* leave the floor loop: back to the main entry */
  if (rc == 0 && j->n) {
    for (uint32_t i = 1; i < j->n; i++) /* insertion sort: n is small */
      for (uint32_t k = i; k > 0 && t[k - 1] > t[k]; k--) {
        uint64_t x = t[k];
        t[k] = t[k - 1];
        t[k - 1] = x;
      }
    j->median_ns = t[j->n / 2];
  }
  free(t);
  j->rc = rc;
  reset_memory(inst, 0);
}

int ataru_instance_exit_floor(ataru_instance *inst, uint32_t n, uint64_t *median_ns) {
  pthread_mutex_lock(&inst->req_lock);
  while ((inst->input_busy || inst->floor_active) && !inst->quit) pthread_cond_wait(&inst->req_cond, &inst->req_lock);
  int usable = !inst->quit && !inst->out_of_service;
  if (usable) inst->floor_active = 1;
  pthread_mutex_unlock(&inst->req_lock);
  if (!usable) return -1;
  struct floor_job j = {.inst = inst, .n = n, .rc = -1};
  int rc = vthread_call(inst->thread[0], measure_floor, &j) == 0 ? j.rc : -1;
  pthread_mutex_lock(&inst->req_lock);
  inst->floor_active = 0;
  pthread_cond_broadcast(&inst->req_cond);
  pthread_mutex_unlock(&inst->req_lock);
  if (rc == 0) *median_ns = j.median_ns;
  return rc;
}

/* ---- closing ---- */

void ataru_request_close(struct ataru_instance *inst) {
  pthread_mutex_lock(&inst->req_lock);
  __atomic_store_n(&inst->quit, 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&inst->req_cond);
  pthread_mutex_unlock(&inst->req_lock);
  /* A request still running ends as CLOSED (the run loop checks quit). */
  if (inst->created) ataru_kick(vthread_handle(inst->thread[0]), inst->vcpu[0].run);
}
