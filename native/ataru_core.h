/*
 * ataru_core.h — the C API of the VMM core. The node addon (addon.cc) and
 * the C test driver (test/driver.c) use only this.
 *
 * An instance is one KVM VM holding a whole app: the in-VM runtime, exec[0],
 * every function, the shared region, and one thread per vCPU. A request runs
 * the whole DAG with one VM entry on the normal path (docs/architecture.md).
 * Each vCPU is only ever run from its own thread (KVM_RUN from another thread
 * is slow), so requests are handed to the instance's vCPU-0 thread.
 *
 * Threads and signals: an instance has one thread per vCPU. They block every
 * signal except SIGRTMIN+4, which the core uses to kick a vCPU out of
 * KVM_RUN (timeouts, stops); the core installs its handler process-wide on
 * first use, so nothing else in the process may use SIGRTMIN+4.
 * Worker threads (vcpus > 1) may have their CPU affinity narrowed to keep
 * them off vCPU 0's CPU while they help.
 */
#ifndef ATARU_CORE_H
#define ATARU_CORE_H

#include <stddef.h>
#include <stdint.h>
#include "../common/ataru_abi.h"

typedef struct ataru_node_spec {
  const char *name;       /* for messages: "node 2 (sobel)"                 */
  const char *path;       /* function ELF                                   */
  uint64_t inp_off, out_off;
  uint64_t timeout_us;    /* 0: only the request deadline applies           */
} ataru_node_spec;

typedef struct ataru_template ataru_template;

typedef struct ataru_app_spec {
  const char *runtime_path;   /* guest/runtime.elf                          */
  const char *shared_path;    /* exec[0], or NULL                           */
  uint32_t num_nodes;
  const ataru_node_spec *nodes;
  uint32_t num_edges;
  const uint16_t *edges;      /* num_edges pairs: from, to                  */
  uint64_t shm_size;          /* 0: ATARU_SHM_DEFAULT                       */
  uint64_t stack_size;        /* 0: ATARU_STACK_DEFAULT                     */
  uint32_t vcpus;             /* 1..ATARU_MAX_VCPUS                         */
  uint64_t timeout_us;        /* per request, 0: none                       */
  int keep_state;             /* 1: no reset between requests (original)    */
  /* Function log output (out LOG), called on a vCPU thread. May be NULL.
   * Lines are rate-limited here, before any queue (ATARU_LOG_RATE lines/s,
   * bursts of ATARU_LOG_BURST, per instance): `dropped` counts the lines
   * dropped just before this one. msg NULL (len 0): no line, only the count
   * (at the end of a request that dropped lines). */
  void (*log_fn)(void *ctx, uint32_t node, const char *msg, size_t len, uint32_t dropped);
  void *log_ctx;
  /* Make the instance from this template (ataru_template_create or _open,
   * of the same spec): no loading, linking or init, guest memory shared
   * copy-on-write. NULL: load everything, no init hooks run. */
  ataru_template *tpl;
  uint64_t init_timeout_us;   /* the init hooks' deadline; 0: timeout_us,
                                 else 60 s                                  */
} ataru_app_spec;

/* The most a request may answer (a reply frame's length is a u32; the
 * server's own, lower limit is applied in TypeScript). */
#define ATARU_OUTPUT_MAX 0xffffffffull

#define ATARU_LOG_RATE  100
#define ATARU_LOG_BURST 200

typedef struct ataru_result {
  uint32_t status;            /* ATARU_STATUS_*                             */
  uint32_t failed_node;       /* ATARU_NO_NODE when none                    */
  char message[512];          /* when status != OK: names node and cause    */
  uint8_t *output;            /* sink outputs concatenated in node order    */
  size_t output_len;          /* (run: owned, ataru_result_free; submit: see there) */
  uint32_t num_nodes;
  int64_t node_ret[ATARU_MAX_NODES];   /* each node's return value          */
  uint64_t node_ns[ATARU_MAX_NODES];   /* each node's in-VM time (0: did not run) */
  uint64_t dag_ns;            /* in-VM time of the whole DAG                */
  uint64_t run_ns;            /* host time: submit -> result                */
  uint32_t workers_used;      /* worker vCPUs that took part                */
  uint32_t not_run;           /* 1: refused before anything ran (instance
                                 destroyed or out of service): safe to retry */
  /* The runtime's record of where and when each node ran (0 when it did
   * not): which vCPU, and its start in ns from the DAG's start. */
  uint32_t node_vcpu[ATARU_MAX_NODES];
  uint64_t node_start_ns[ATARU_MAX_NODES];
} ataru_result;

/* Why a call failed: code is an ATARU_CREATE_* (create) and message names
 * the file or field at fault; file is the image being loaded, if any. */
typedef struct ataru_error {
  uint32_t code;
  char message[512];
  char file[512];
  uint32_t node;        /* INIT_FAILED: the node whose hook failed, or
                           ATARU_NO_NODE (exec[0]'s, or none known)       */
} ataru_error;

typedef struct ataru_instance ataru_instance;
typedef void (*ataru_done_fn)(void *ctx, ataru_result *res);

/* Create the VM, load everything, snapshot. NULL on failure, with err
 * filled in (an ATARU_CREATE_* code and a message naming the file or field
 * at fault). */
ataru_instance *ataru_instance_create(const ataru_app_spec *spec, ataru_error *err);
/* Queue a request; done(ctx, res) is called on the vCPU-0 thread. The input
 * is copied before submit returns. node_id_override: ATARU_NODE_ID_DEFAULT
 * or the node_id to pass to every function. Returns an ATARU_STATUS_*: OK;
 * BUSY (one request may wait while another runs); BAD_REQUEST (len exceeds
 * the shared region); CLOSED (being destroyed); INTERNAL (out of service:
 * a memory reset failed, so its clean state is gone — replace it).
 * res and res->output are valid only until done returns (the output may
 * point into guest memory, which is reset right after): copy what you keep.
 * done must not call back into this instance. */
int ataru_instance_submit(ataru_instance *in, const void *input, size_t len,
                          uint64_t node_id_override, ataru_done_fn done, void *ctx);
/* Synchronous form of submit (the C driver and tests); waits while busy.
 * res->output is owned by res: release it with ataru_result_free. Returns
 * ATARU_STATUS_OK when res holds the result, else submit's status. */
int ataru_instance_run(ataru_instance *in, const void *input, size_t len,
                       uint64_t node_id_override, ataru_result *res);
void ataru_result_free(ataru_result *res);
/* Private and proportional-share memory of this instance, in bytes. */
void ataru_instance_memory(ataru_instance *in, uint64_t *private_bytes, uint64_t *pss_bytes);
/* The sinks (nodes without children) in node order, whose outputs a
 * result concatenates; returns how many (out holds ATARU_MAX_NODES). */
uint32_t ataru_instance_sinks(ataru_instance *in, uint16_t *out);
/* Cold start: create() wall time in ns. */
uint64_t ataru_instance_create_ns(ataru_instance *in);
/* Benchmark floor: n bare exit round trips (guest `out` -> host -> guest)
 * on this instance's vCPU-0 thread (the runtime loops on `out DONE` while
 * mailbox.exit_floor is set); stores the median ns per round trip and
 * returns 0, or -1. Waits for the request in progress; the instance is
 * reset afterwards. */
int ataru_instance_exit_floor(ataru_instance *in, uint32_t n, uint64_t *median_ns);
/* The TSC rate (Hz) that turns guest rdtsc ticks into time: from
 * KVM_GET_TSC_KHZ once a VM exists, else calibrated once (5 ms). */
uint64_t ataru_tsc_hz(void);
/* Stops the vCPU threads and frees everything (fds, memory). */
void ataru_instance_destroy(ataru_instance *in);

/* Templates (native/template.h): an app version loaded, linked and
 * initialised once; its instances share its memory copy-on-write.
 * create: loads the spec in a VM of its own, runs every ataru_init hook
 * there (exec[0]'s, then each node's; contained like a request: a failing,
 * faulting or overrunning hook gives INIT_FAILED naming it), keeps the
 * memory in a memfd and frees the VM. NULL on failure, with err.
 * save: stores it at path (written to a temporary name, then renamed), with
 * key (the caller's fingerprint of the binaries, < 128 bytes).
 * open: maps a stored template of the same spec and key (BAD_TEMPLATE when
 * it does not match or is damaged: build a new one).
 * release: drops the caller's reference; instances hold their own. */
ataru_template *ataru_template_create(const ataru_app_spec *spec, ataru_error *err);
int ataru_template_save(const ataru_template *t, const char *path, const char *key, ataru_error *err);
ataru_template *ataru_template_open(const ataru_app_spec *spec, const char *path, const char *key, ataru_error *err);
void ataru_template_retain(ataru_template *t);
void ataru_template_release(ataru_template *t);

typedef struct ataru_template_info {
  uint64_t guest_bytes;       /* guest-physical memory of an instance      */
  uint64_t data_bytes;        /* of which non-zero: what the template holds */
  uint32_t inits;             /* init hooks run when it was built          */
  uint32_t instances;         /* instances made from it, alive now         */
  uint64_t init_ns;           /* time the hooks took                       */
  uint64_t build_ns;          /* create: load + init + copy; open: mapping */
  int opened;                 /* 1: mapped from a stored file              */
} ataru_template_info;
void ataru_template_describe(const ataru_template *t, ataru_template_info *out);

/* Test hooks for what a CPL3 function cannot cause by design; call right
 * after create, before the first request.
 * ATARU_TEST_BREAK_IDT: the IDT limit becomes 0, so any fault is a triple
 *   fault (KVM_EXIT_SHUTDOWN) instead of a recorded fault.
 * ATARU_TEST_MAP_MMIO: maps the user page ATARU_TEST_MMIO_GVA to a
 *   guest-physical page outside the memslot: any access exits KVM_EXIT_MMIO.
 * ATARU_TEST_FAIL_RESET: the next memory reset fails (its dirty log cannot
 *   be read), as a KVM error would make it: the instance goes out of service.
 * Returns 0, or -1. */
#define ATARU_TEST_BREAK_IDT  1u
#define ATARU_TEST_MAP_MMIO   2u
#define ATARU_TEST_FAIL_RESET 4u
#define ATARU_TEST_MMIO_GVA  (ATARU_SYS_BASE + ATARU_SYS_SIZE - ATARU_PAGE_SIZE)
int ataru_instance_test_hook(ataru_instance *in, unsigned flags);

#endif
