/*
 * instance.h — the state of one instance: the app it holds, its VM and
 * vCPUs, and the bookkeeping of the files that work on it (each section
 * names its owner). Only the struct lives here; every file declares its own
 * functions in its own header. Internal to the core.
 */
#ifndef ATARU_INSTANCE_H
#define ATARU_INSTANCE_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "ataru_core.h"
#include "loader.h"
#include "mem.h"
#include "reset.h"
#include "vcpu.h"
#include "vm.h"
#include "vthread.h"

/* The two memslots: the hot set (never dirty-logged, restored by hand after
 * every request) and the rest, dirty-logged (instance.c, request.c). */
#define MEMSLOT_HOT    0
#define MEMSLOT_LOGGED 1

/* A failed request: status, the node it names, and the message. */
struct failure {
  uint32_t status;
  uint32_t node;
  char message[512];
};

/* The argument of a job handed to vCPU thread `index`. */
struct vcpu_job {
  struct ataru_instance *inst;
  uint32_t index;
  int failed;                /* setup: the vCPU could not be created */
  ataru_error err;
};

/* The request waiting for vCPU 0 (its input is in ataru_instance.input). */
struct queued_request {
  size_t len;
  uint64_t node_id_override;
  ataru_done_fn done;
  void *ctx;
  uint64_t submit_ns;
};

struct ataru_instance {
  /* The app, copied from the spec (instance.c, dag.c). */
  uint32_t num_nodes;
  char **node_name;
  uint64_t node_timeout_ns[ATARU_MAX_NODES];
  uint64_t min_node_timeout_ns;  /* 0: no node has a timeout */
  uint64_t timeout_ns;           /* per request, 0: none */
  uint64_t nodes_bound_ns;       /* every node has a timeout: their sum, else 0 */
  int keep_state;
  void (*log_fn)(void *ctx, uint32_t node, const char *msg, size_t len, uint32_t dropped);
  void *log_ctx;
  pthread_mutex_t log_lock;      /* the log budget (run.c): any vCPU may log */
  double log_tokens;
  uint64_t log_last_ns;
  uint32_t log_dropped;          /* since the last line passed on */
  uint16_t topo[ATARU_MAX_NODES];  /* a topological order */
  uint32_t num_sinks;
  uint16_t sinks[ATARU_MAX_NODES];

  /* The VM (instance.c). */
  struct ataru_vm vm;
  ataru_mem *mem;
  uint64_t slot_bytes;           /* memslots cover guest-physical [0, slot_bytes) */
  uint64_t hot_bytes;            /* [0, hot_bytes): not dirty-logged (instance.c) */
  uint64_t mb_gpa, mb_bytes;     /* the mailbox (hot) */
  uint64_t stack_top_gpa[ATARU_MAX_VCPUS]; /* each stack's top page (hot) */
  struct ataru_mailbox *mb;      /* host views into guest memory */
  const struct ataru_config *cfg;
  uint8_t *shm;
  uint64_t shm_size, shm_gpa;
  struct ataru_runtime_symbols rt; /* entries and the honoured exits */
  uint32_t num_vcpus;
  struct ataru_vcpu vcpu[ATARU_MAX_VCPUS];
  vthread *thread[ATARU_MAX_VCPUS];  /* vCPU v is only run by thread[v] */
  struct vcpu_job vjob[ATARU_MAX_VCPUS];
  ataru_snapshot snap;
  struct ataru_template *tpl;    /* made from this template (a reference), or NULL */
  uint64_t create_ns;
  int created;                   /* create() finished: requests may run */

  /* Requests (request.c). */
  pthread_mutex_t req_lock;
  pthread_cond_t req_cond;       /* the input buffer or the instance is free */
  struct queued_request queued;
  int input_busy;                /* queued holds a request not yet copied to shm */
  int floor_active;              /* an exit-floor measurement holds vCPU 0 */
  uint8_t *input;                /* the queued input (capacity shm_size) */
  uint64_t input_max;            /* longest input since the last reset */
  uint32_t quit;                 /* atomic: being destroyed */
  int out_of_service;            /* a reset failed: no more requests */
  char out_of_service_why[256];
  uint8_t *outbuf;               /* concatenated sink outputs */
  struct ataru_result result;
  int spare_refilled;            /* asked for the next spare (first request) */
  int fail_next_reset;           /* test hook ATARU_TEST_FAIL_RESET */
  int measuring_floor;           /* the floor loop's DONE is honoured */

  /* Workers, vCPUs 1..n-1 (workers.c). */
  uint32_t workers_woken;        /* vCPUs 1..workers_woken take part */
  uint32_t active_workers;       /* futex: woken and not yet parked */
  uint32_t stop;                 /* atomic: stop and reset (a fault or timeout) */
  uint32_t worker_failed;        /* atomic: a worker failed, wfail holds why */
  pthread_mutex_t fail_lock;
  struct failure wfail;
  int avoided_cpu[ATARU_MAX_VCPUS]; /* the CPU a worker is kept off, or -1 */
  double mean_node_ns[ATARU_MAX_NODES]; /* history for the spread decision */
  uint64_t history;

  /* Timeouts, on the vCPU-0 thread (timeouts.c). */
  timer_t timer;
  int has_timer;
  uint64_t deadline_ns;          /* the request's, 0: none */
  uint64_t bound_ns;             /* ... by the sum of node timeouts, 0: none */
  uint64_t next_check_ns;        /* when the timer is due, 0: never */
};

#endif
