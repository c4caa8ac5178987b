/*
 * ataru_abi.h — the one place where the host (native/), the in-VM runtime
 * (guest/) and function authors (sdk/) agree on things.
 *
 * Everything that both sides of the VM boundary must know lives here, once:
 * the guest virtual memory layout, the exit protocol (I/O ports), the
 * mailbox and DAG-config structures, and the status codes that the C core,
 * the TypeScript API, the HTTP API and the wire protocol all map from.
 *
 * Freestanding: only <stdint.h>. Included by C (host and guest) and read by
 * the addon, which exports the numeric constants to TypeScript.
 */
#ifndef ATARU_ABI_H
#define ATARU_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

/* ------------------------------------------------------------------ */
/* Guest virtual memory layout.                                        */
/*                                                                     */
/* Guest-virtual addresses are fixed; guest-physical memory is a       */
/* compact bump-allocated arena behind them (native/mem.c), so the     */
/* sparse layout below costs nothing for the holes. Everything runs at */
/* CPL3 except the fault stubs in the system area.                    */
/*                                                                     */
/*   0x0000_0000 .. 0x000f_ffff  unmapped: null guard                   */
/*   ATARU_SYSCALL_TRAP          (inside the null guard) MSR_LSTAR      */
/*   ATARU_SYS_BASE              supervisor-only: GDT, TSS + I/O bitmap, */
/*                               IDT, fault stubs, fault stack, record  */
/*   ATARU_MAILBOX_BASE          user RW NX: per-request host<->guest   */
/*   ATARU_CONFIG_BASE           user R NX: the app's DAG, set at load  */
/*   ATARU_RUNTIME_BASE          the in-VM runtime (guest/runtime.elf)  */
/*   ATARU_STACKS_BASE           one slot per vCPU: guard page, stack   */
/*   ATARU_SHM_BASE              the shared region (request in at 0)    */
/*   ATARU_SHARED_IMAGE_BASE     exec[0], the shared code image         */
/*   ATARU_IMAGES_BASE           functions and their DT_NEEDED libs,    */
/*                               each 2 MiB aligned, unmapped gap after */
/* ------------------------------------------------------------------ */
#define ATARU_PAGE_SIZE           0x1000ull
#define ATARU_NULL_GUARD_END      0x00100000ull
#define ATARU_SYSCALL_TRAP        0x000f0000ull  /* LSTAR: unmapped, so SYSCALL faults here */
#define ATARU_SYS_BASE            0x00100000ull
#define ATARU_SYS_SIZE            0x00020000ull
/* Selectors of the user segments in the host-built GDT (with RPL 3): the
 * runtime reloads the data selectors before every function call. */
#define ATARU_SEL_USER_DATA       0x1b
#define ATARU_SEL_USER_CODE       0x23
#define ATARU_MAILBOX_BASE        0x00200000ull
#define ATARU_MAILBOX_SIZE        0x00040000ull  /* 256 KiB (struct ataru_mailbox fits) */
#define ATARU_CONFIG_BASE         0x00300000ull
#define ATARU_CONFIG_SIZE         0x00040000ull
#define ATARU_RUNTIME_BASE        0x00400000ull  /* guest/runtime.ld links here */
#define ATARU_RUNTIME_MAX         0x00400000ull
#define ATARU_STACKS_BASE         0x00800000ull
#define ATARU_STACK_SLOT          0x00100000ull  /* per vCPU: [guard][stack], stack ends at slot end */
#define ATARU_STACK_DEFAULT       0x00040000ull  /* 256 KiB */
#define ATARU_STACK_MAX           (ATARU_STACK_SLOT - ATARU_PAGE_SIZE) /* leaves a guard page */
#define ATARU_SHM_BASE            0x01000000ull
#define ATARU_SHM_DEFAULT         0x00200000ull  /* 2 MiB, as the original */
#define ATARU_SHM_MAX             0x10000000ull  /* 256 MiB */
#define ATARU_SHARED_IMAGE_BASE   0x20000000ull  /* exec[0] is loaded here, always */
#define ATARU_IMAGES_BASE         0x40000000ull
#define ATARU_IMAGE_ALIGN         0x00200000ull

#define ATARU_MAX_VCPUS           8
#define ATARU_MAX_NODES           256
#define ATARU_MAX_EDGES           4096
#define ATARU_LOG_MAX             1024   /* bytes of one log message */

/* The top ATARU_VCPU_INFO_SIZE bytes of each vCPU's stack slot hold a
 * struct ataru_vcpu_info (host-written at load); the initial stack pointer
 * is just below it. Code running on a vCPU (the runtime, the SDK's
 * ataru_log) finds its vCPU index from its own stack pointer, without an
 * exit and without trusting a register: ataru_vcpu_info_at(rsp). */
#define ATARU_VCPU_INFO_SIZE      64
#ifndef __ASSEMBLER__
struct ataru_vcpu_info {
  uint64_t vcpu;                       /* index 0..num_vcpus-1            */
  uint64_t reserved[7];
};
#define ATARU_STACK_TOP(vcpu) \
  (ATARU_STACKS_BASE + ((uint64_t)(vcpu) + 1) * ATARU_STACK_SLOT - ATARU_VCPU_INFO_SIZE)
#define ataru_vcpu_info_at(rsp) \
  ((volatile struct ataru_vcpu_info *)(((uint64_t)(rsp) | (ATARU_STACK_SLOT - 1)) + 1 - ATARU_VCPU_INFO_SIZE))
#endif

/* ------------------------------------------------------------------ */
/* Exit protocol: the guest leaves the VM only through these ports.    */
/* The TSS I/O bitmap allows exactly the USER ports at CPL3; the FAULT */
/* port is used by the CPL0 fault stubs only.                          */
/*   out DONE  : vCPU 0 finished the request (result in the mailbox)   */
/*   out LOG   : log[vcpu] holds a message of log_len[vcpu] bytes;     */
/*               the host consumes it and resumes the guest            */
/*   out PARK  : a worker vCPU has nothing more to do this request     */
/*   out YIELD : a vCPU found no ready node for config.idle_spin_tsc;  */
/*               the host lets other threads run briefly and resumes   */
/*               it (spinning would take CPU from the busy vCPUs)      */
/*   out FAULT : a CPU exception; the record is in the system area     */
/* The value written (al) is ignored; the port alone says what happened.*/
/* ------------------------------------------------------------------ */
#define ATARU_PORT_DONE   0xA0
#define ATARU_PORT_LOG    0xA1
#define ATARU_PORT_PARK   0xA2
#define ATARU_PORT_YIELD  0xA3
#define ATARU_PORT_FAULT  0xA4
#define ATARU_USER_PORT_FIRST 0xA0
#define ATARU_USER_PORT_LAST  0xA3

#ifndef __ASSEMBLER__
/* ------------------------------------------------------------------ */
/* Status codes: one list for the C core, the TS API, HTTP and wire.   */
/* The data-port reply frame carries these as its u32 status.          */
/* ------------------------------------------------------------------ */
#define ATARU_STATUS_LIST(X)                                              \
  X(OK,             0, "ok")                                              \
  X(BAD_REQUEST,    1, "bad request")                                     \
  X(FUNCTION_ERROR, 2, "function returned an error code")                 \
  X(FAULT,          3, "function faulted")                                \
  X(TIMEOUT,        4, "timeout")                                         \
  X(BUSY,           5, "busy: too many queued requests")                  \
  X(NOT_FOUND,      6, "no such app")                                     \
  X(OUTPUT_TOO_LARGE, 7, "output larger than its region")                 \
  X(INTERNAL,       8, "internal error")                                  \
  X(CLOSED,         9, "app is closing")

enum ataru_status {
#define ATARU_X(name, val, text) ATARU_STATUS_##name = val,
  ATARU_STATUS_LIST(ATARU_X)
#undef ATARU_X
};

/* Why an instance could not be created (host side: ataru_instance_create;
 * TypeScript maps each to an error code, not by reading the message). */
#define ATARU_CREATE_ERROR_LIST(X)                                        \
  X(BAD_SPEC,        1, "the app spec is not valid")                      \
  X(BAD_ELF,         2, "an image (runtime, exec[0], function, library) was rejected") \
  X(KVM_UNAVAILABLE, 3, "/dev/kvm cannot be used")                        \
  X(NO_RESOURCES,    4, "out of memory, file descriptors or threads")     \
  X(INTERNAL,        5, "a KVM call failed unexpectedly")                \
  X(INIT_FAILED,     6, "an ataru_init hook failed, faulted or timed out") \
  X(BAD_TEMPLATE,    7, "a stored template is damaged or does not match")

enum ataru_create_error {
  ATARU_CREATE_OK = 0,
#define ATARU_X(name, val, text) ATARU_CREATE_##name = val,
  ATARU_CREATE_ERROR_LIST(ATARU_X)
#undef ATARU_X
};

/* Node states in the mailbox. */
#define ATARU_NODE_WAITING  0
#define ATARU_NODE_RUNNING  1
#define ATARU_NODE_DONE     2
#define ATARU_NODE_FAILED   3   /* returned a negative code */
#define ATARU_NODE_SKIPPED  4   /* not run: the request failed earlier */

#define ATARU_NO_NODE        0xffffffffu
#define ATARU_NODE_ID_DEFAULT 0xffffffffffffffffull /* mailbox.node_id_override: use the DAG index */

/* ------------------------------------------------------------------ */
/* The DAG config: written by the host at load, read-only to the guest. */
/* ------------------------------------------------------------------ */
struct ataru_node_config {
  uint64_t entry;        /* guest address of the node function's entry   */
  uint64_t inp_off;      /* offsets into the shared region               */
  uint64_t out_off;
  uint32_t in_count;     /* number of parents                            */
  uint32_t child_first;  /* children are config.children[first .. end)   */
  uint32_t child_end;
  uint32_t input_parent; /* parent whose out_off == inp_off, or NO_NODE  */
  uint32_t pad;
  uint64_t init;         /* its ataru_init export, or 0 (run once per app
                          * version, before the template is taken)        */
};

struct ataru_config {
  uint64_t magic;                /* ATARU_CONFIG_MAGIC                    */
  uint32_t num_nodes;
  uint32_t num_vcpus;
  uint64_t shm_base;
  uint64_t shm_size;
  uint64_t idle_spin_tsc;        /* idle spin before `out YIELD` (TSC ticks) */
  uint32_t num_roots;            /* parentless nodes, all started at once */
  uint32_t xsave;                /* 1: XSAVE is usable in the guest (probed at
                                  * create): the runtime resets the FPU/SIMD
                                  * state with XRSTOR, else with FXRSTOR   */
  uint16_t roots[ATARU_MAX_NODES];
  uint16_t children[ATARU_MAX_EDGES];
  struct ataru_node_config node[ATARU_MAX_NODES];
  uint64_t shared_init;          /* exec[0]'s ataru_init, or 0; runs first */
};
#define ATARU_CONFIG_MAGIC 0x4154415255434647ull /* "ATARUCFG" */

/* ------------------------------------------------------------------ */
/* The mailbox: written by the host before each request (inputs) and   */
/* by the guest during it (scheduling state, results, timings). The    */
/* host never trusts what it reads here: every length is bounds-checked.*/
/* ------------------------------------------------------------------ */
struct ataru_node_result {
  int64_t  ret;          /* entry's return: output bytes, or < 0 error    */
  uint64_t tsc_start;    /* rdtsc around the call                         */
  uint64_t tsc_end;
  uint32_t state;        /* ATARU_NODE_*                                  */
  uint32_t vcpu;         /* which vCPU ran it                             */
};

struct ataru_mailbox {
  /* host -> guest, per request */
  uint64_t request_id;
  uint64_t in_len;                 /* request bytes at shm offset 0       */
  uint64_t node_id_override;       /* ATARU_NODE_ID_DEFAULT or a value    */
  uint32_t workers;                /* worker vCPUs taking part (0..n-1)   */
  uint32_t exit_floor;             /* 1: the runtime only loops `out DONE`
                                    * (ataru_instance_exit_floor)          */
  /* guest scheduling state (shared by all vCPUs of the request) */
  volatile uint32_t pending[ATARU_MAX_NODES];  /* parents not yet done    */
  volatile uint32_t ready[ATARU_MAX_NODES];    /* ready queue (node ids)  */
  volatile uint32_t ready_head;                /* next slot to take       */
  volatile uint32_t ready_tail;                /* next slot to fill       */
  volatile uint32_t finished;                  /* nodes done or failed    */
  volatile uint32_t failed;                    /* 1: stop scheduling      */
  volatile uint32_t request_done;              /* set by vCPU 0 at end    */
  volatile uint32_t current_node[ATARU_MAX_VCPUS]; /* node per vCPU or NO_NODE */
  /* guest -> host */
  uint32_t status;                 /* ATARU_STATUS_OK or FUNCTION_ERROR   */
  uint32_t failed_node;            /* first failing node, or NO_NODE      */
  uint64_t tsc_start, tsc_end;     /* the whole DAG                       */
  struct ataru_node_result node[ATARU_MAX_NODES];
  uint32_t log_len[ATARU_MAX_VCPUS];
  char     log[ATARU_MAX_VCPUS][ATARU_LOG_MAX];
  /* Added fields go last: functions built by an older SDK keep their
   * offsets (their log calls write log_len/log above). */
  uint32_t probe;                  /* host -> guest, at create only: report
                                    * the CPU's OSXSAVE and `out DONE`    */
  uint32_t osxsave;                /* guest -> host, probe only           */
  /* Initialisation (host -> guest once per app version, native/template.c):
   * the runtime calls exec[0]'s ataru_init, then each node's, in node
   * order, and stops at the first that returns < 0. */
  uint32_t init;                   /* host -> guest: run the init hooks     */
  uint32_t init_stage;             /* guest -> host: ATARU_INIT_SHARED, a
                                    * node index, or ATARU_NO_NODE (done)  */
  int64_t  init_ret;               /* guest -> host: what the failing hook
                                    * returned (when init_stage names it)  */
  uint32_t init_count;             /* guest -> host: hooks called           */
};
#define ATARU_INIT_SHARED 0xfffffffeu /* mailbox.init_stage: exec[0]'s hook */

/* ------------------------------------------------------------------ */
/* The fault record: written by the CPL0 fault stubs (system area) just */
/* before `out FAULT`. Works on hardware KVM, where a triple fault      */
/* resets the vCPU and loses RIP/CR2 (docs/platform-differences.md).     */
/* ------------------------------------------------------------------ */
struct ataru_fault_record {
  uint64_t vector;
  uint64_t error_code;
  uint64_t rip, cs, rflags, rsp, ss;   /* the interrupted (user) frame   */
  uint64_t cr2;
  uint64_t count;                      /* > 1: a fault inside the stub    */
};

/* The function ABI (SysV): entry(in = rdi, out = rsi, node_id = rdx,
 * in_len = rcx, out_cap = r8) -> rax: output bytes >= 0, or < 0 error.
 * The original's three-argument form is the same call, ignoring the two
 * extra arguments. */

#endif /* !__ASSEMBLER__ */
#endif /* ATARU_ABI_H */
