/*
 * instance.h — the state of one instance (VM + vCPU threads), shared by
 * instance.c (create, requests, results), vcpu.c (threads, run loop,
 * timeouts) and fault.c (fault messages). Internal to the core.
 */
#ifndef ATARU_INSTANCE_H
#define ATARU_INSTANCE_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "ataru_core.h"
#include "mem.h"
#include "reset.h"

/* A failed request: status, the node it names, and the message. */
struct failure {
  uint32_t status;
  uint32_t node;
  char message[512];
};

struct ataru_vcpu {
  struct ataru_instance *inst;
  uint32_t index;
  int fd;
  struct kvm_run *run;
  size_t run_size;
  int sync_regs;             /* KVM_CAP_SYNC_REGS: regs come with each exit */
  int sync_all;              /* ... and sregs and events can go in with KVM_RUN */
  pthread_t thread;
  int thread_started;
  struct kvm_sregs sregs;    /* the CPL3 state, restored after a fault */
  uint64_t entry;            /* runtime main or worker entry */
  int needs_enter;           /* set registers before the next KVM_RUN */
  int has_run;               /* KVM_RUN was called at least once */
  int avoided_cpu;           /* workers: the CPU left out of its affinity, or -1 */
};

enum job_kind { JOB_NONE, JOB_REQUEST, JOB_FLOOR };

/* An exit-floor measurement, owned by the waiting caller. */
struct floor_req {
  uint32_t n;
  uint64_t median_ns;
  int rc;
  int finished;
};

struct job {
  enum job_kind kind;
  size_t len;                /* request: input bytes (in instance.input until taken) */
  uint64_t node_id_override;
  ataru_done_fn done;
  void *ctx;
  uint64_t submit_ns;
  struct floor_req *floor;
};

struct ataru_instance {
  /* the app, copied from the spec */
  uint32_t num_nodes;
  char **node_name;
  uint64_t node_timeout_ns[ATARU_MAX_NODES];
  uint64_t min_node_timeout_ns;  /* 0: no node has a timeout */
  uint64_t timeout_ns;           /* per request, 0: none */
  int keep_state;
  void (*log_fn)(void *ctx, uint32_t node, const char *msg, size_t len);
  void *log_ctx;
  uint16_t topo[ATARU_MAX_NODES];  /* a topological order */
  uint32_t num_sinks;
  uint16_t sinks[ATARU_MAX_NODES];

  /* the VM */
  int kvm_fd, vm_fd;
  int dirty_manual;             /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 is on */
  ataru_mem *mem;
  uint64_t slot_bytes;           /* memslots cover guest-physical [0, slot_bytes) */
  uint64_t hot_bytes;            /* [0, hot_bytes): not dirty-logged, see map_areas */
  uint64_t mb_gpa, mb_bytes;     /* the mailbox (hot) */
  uint64_t stack_top_gpa[ATARU_MAX_VCPUS]; /* each stack's top page (hot) */
  struct ataru_mailbox *mb;      /* host views into guest memory */
  const struct ataru_config *cfg;
  uint8_t *shm;
  uint64_t shm_size, shm_gpa;
  uint64_t main_entry, worker_entry;
  uint64_t rflags;
  uint32_t num_vcpus;
  struct ataru_vcpu vcpu[ATARU_MAX_VCPUS];
  ataru_snapshot snap;
  uint64_t create_ns;

  /* request hand-off to the vCPU-0 thread */
  pthread_mutex_t lock;
  pthread_cond_t cond;           /* a job arrived, or quit */
  pthread_cond_t idle_cond;      /* the job finished (exit floor waits on it) */
  struct job job;                /* the queued job, kind JOB_NONE when empty */
  uint8_t *input;                /* its input (capacity shm_size) */
  uint64_t input_max;            /* longest input since the last reset */
  int quit;
  /* startup handshake of the vCPU threads */
  uint32_t threads_ready;         /* vCPUs set up */
  int loaded;                     /* create() loaded everything: threads may enter */
  uint32_t threads_entered;       /* threads done with (or past) entering */
  int startup_failed;
  char startup_err[256];

  /* workers (vCPUs 1..n-1) */
  uint32_t worker_gen;           /* futex: bumped to wake workers */
  uint32_t workers_woken;        /* vCPUs 1..workers_woken take part */
  uint32_t active_workers;       /* futex: woken and not yet parked */
  uint32_t stop;                 /* stop and reset: a fault or timeout */
  uint32_t worker_failed;        /* a worker failed: wfail holds why */
  pthread_mutex_t fail_lock;
  struct failure wfail;
  double mean_node_ns[ATARU_MAX_NODES]; /* history for the spread decision */
  uint64_t history;

  /* timeouts (vCPU-0 thread) */
  timer_t timer;
  int has_timer;
  uint64_t deadline_ns;          /* the request's, 0: none */
  uint64_t next_check_ns;        /* when the timer is due, 0: never */

  /* results */
  uint8_t *outbuf;               /* concatenated sink outputs */
  struct ataru_result result;
  int test_break_idt;
  int spare_refilled;            /* asked for the next spare (first request) */
};

/* vcpu.c */
/* Creates vCPU v->index in vm_fd, maps its kvm_run, sets CPUID, XCR0, MSRs
 * and the CPL3 segment state (into v->sregs). On the thread that will run it. */
int ataru_vcpu_create(struct ataru_vcpu *v, int kvm_fd, int vm_fd, uint64_t cr3, char *err,
                      size_t errlen);
/* For a thread that will run a vCPU: the kick handler, signal mask. */
void ataru_vcpu_thread_init(void);
/* The rest of vCPU 0's thread, for a vCPU already created (a spare's),
 * once v->inst and the vCPU fields are filled in. */
void *ataru_vcpu0_adopt(struct ataru_vcpu *v);
/* Starts the vCPU threads as soon as the VM and the page-table root exist:
 * they create and set up their vCPUs while create() loads the images. */
int ataru_vcpus_start(struct ataru_instance *inst, char *err, size_t errlen);
/* Once everything is loaded: waits for the vCPU setup (its error, if any,
 * in err) and lets the threads enter the guest; returns without waiting
 * for that. */
int ataru_vcpus_go(struct ataru_instance *inst, char *err, size_t errlen);
/* Waits until every thread has entered (test hooks change the entry state). */
void ataru_vcpus_wait_entered(struct ataru_instance *inst);
void ataru_vcpus_stop(struct ataru_instance *inst);
/* instance.c, on the vCPU-0 thread: runs one request (input already in shm)
 * or measures the exit floor, then resets memory. */
void ataru_instance_serve(struct ataru_instance *inst, struct job *job);

/* vcpu.c, used by instance.c on the vCPU-0 thread */
enum run_rc { RUN_DONE, RUN_FAILED };
/* Runs the request on vCPU 0 (with the woken workers) until DONE or a
 * failure (fault, timeout, a worker's fault). */
enum run_rc ataru_vcpu0_run(struct ataru_instance *inst, struct failure *f);
void ataru_workers_wake(struct ataru_instance *inst, uint32_t n);
/* Waits until the woken workers parked; stops them after wait_ns. */
void ataru_workers_wait(struct ataru_instance *inst, uint64_t wait_ns);
/* Bare exit round trips on vCPU 0 (ataru_instance_exit_floor). */
int ataru_vcpu0_exit_floor(struct ataru_instance *inst, uint32_t n, uint64_t *median_ns);

/* instance.c: KVM_CREATE_VM and the VM-level setup */
int ataru_vm_create(int *kvm_fd, int *vm_fd, int *dirty_manual, char *err, size_t errlen);

/* spare.c: a VM built ahead for the next instance (cold start). Returns 1
 * when inst took it: kvm_fd, vm_fd, dirty_manual and vCPU 0 (its thread
 * started) are filled in. */
int ataru_spare_take(struct ataru_instance *inst);
/* Starts building a spare in the background if there is none. */
void ataru_spare_refill(void);

/* fault.c */
void ataru_fault_from_record(struct ataru_instance *inst, uint32_t vcpu,
                             const struct kvm_regs *regs, struct failure *f);
void ataru_fault_from_exit(struct ataru_instance *inst, uint32_t vcpu, struct kvm_run *run,
                           const struct kvm_regs *regs, int vcpu_fd, struct failure *f);
/* "node 2 (sobel)" or "the runtime" for vCPU v's current node */
uint32_t ataru_current_node(struct ataru_instance *inst, uint32_t vcpu);
void ataru_node_label(struct ataru_instance *inst, uint32_t node, char *buf, size_t n);

#endif
