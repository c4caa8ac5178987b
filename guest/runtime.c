/*
 * runtime.c — the in-VM DAG scheduler (CPL3, no OS).
 *
 * vCPU 0 runs runtime_main once per request: it resets the per-node state
 * from the read-only config, pushes every parentless node and runs ready
 * nodes until all are finished. Worker vCPUs (woken by the host only when
 * spreading pays) run runtime_worker: they take nodes from the same ready
 * queue until vCPU 0 declares the request done. All shared state lives in
 * the mailbox and is updated with `lock`-prefixed atomics.
 *
 * The ready queue holds each node at most once per request, so it is a
 * plain array with two counters and no wrap-around: a producer claims a
 * slot with fetch-add and then stores the node id; a consumer claims a slot
 * with compare-exchange and waits for the id to appear (ATARU_NO_NODE marks
 * a claimed-but-unwritten slot).
 */
#include "ataru_abi.h"

#define MB  ((struct ataru_mailbox *)ATARU_MAILBOX_BASE)
#define CFG ((const struct ataru_config *)ATARU_CONFIG_BASE)

/* start.S: calls entry(in, out, node_id, in_len, out_cap) with every other
 * general-purpose register zero. */
long ataru_call_clean(uint64_t entry, const void *in, void *out, uint64_t node_id, uint64_t in_len,
                      uint64_t out_cap);

/*
 * The FPU/SIMD state every function starts from: x87, SSE, AVX and AVX-512
 * (registers, k-masks) in their initial state, MXCSR 0x1f80. With every
 * component's XSTATE_BV bit 0, XRSTOR initialises them without reading
 * their save areas; only MXCSR comes from the legacy area. FXRSTOR (no
 * XSAVE) loads the whole legacy area: FCW 0x37f, MXCSR 0x1f80, the rest 0.
 * The runtime itself never touches these registers (-mgeneral-regs-only),
 * so nothing of it leaks into them either.
 */
struct xsave_area {
  uint16_t fcw, fsw;
  uint8_t ftw, pad0;
  uint16_t fop;
  uint64_t fip, fdp;
  uint32_t mxcsr, mxcsr_mask;
  uint8_t legacy_rest[512 - 32];
  uint64_t xstate_bv, xcomp_bv;
  uint8_t header_rest[48];
} __attribute__((aligned(64)));

static const struct xsave_area initial_fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};

static inline void reset_fpu(void) {
  if (CFG->xsave)
    __asm__ volatile("xrstor %0" ::"m"(initial_fpu), "a"(0xffffffffu), "d"(0xffffffffu) : "memory");
  else
    __asm__ volatile("fxrstor %0" ::"m"(initial_fpu) : "memory");
}

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }

static void push(uint32_t node) {
  uint32_t slot = __atomic_fetch_add(&MB->ready_tail, 1, __ATOMIC_SEQ_CST);
  __atomic_store_n(&MB->ready[slot], node, __ATOMIC_RELEASE);
}

/* A ready node, or ATARU_NO_NODE when none is ready right now. */
static uint32_t pop(void) {
  uint32_t head = __atomic_load_n(&MB->ready_head, __ATOMIC_ACQUIRE);
  for (;;) {
    if (head >= __atomic_load_n(&MB->ready_tail, __ATOMIC_ACQUIRE)) return ATARU_NO_NODE;
    if (__atomic_compare_exchange_n(&MB->ready_head, &head, head + 1, 0,
                                    __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
      break;
  }
  uint32_t node;
  while ((node = __atomic_load_n(&MB->ready[head], __ATOMIC_ACQUIRE)) == ATARU_NO_NODE)
    cpu_relax();
  return node;
}

/* in_len as documented in sdk/include/ataru.h. */
static uint64_t input_length(const struct ataru_node_config *c) {
  uint64_t room = CFG->shm_size - c->inp_off;
  if (c->input_parent != ATARU_NO_NODE) {
    int64_t ret = MB->node[c->input_parent].ret;
    return ret < 0 ? 0 : (uint64_t)ret < room ? (uint64_t)ret : room;
  }
  if (c->inp_off == 0) return MB->in_len < room ? MB->in_len : room;
  return room;
}

static void run_node(uint32_t k, uint32_t vcpu) {
  const struct ataru_node_config *c = &CFG->node[k];
  struct ataru_node_result *r = &MB->node[k];
  r->vcpu = vcpu;
  if (__atomic_load_n(&MB->failed, __ATOMIC_ACQUIRE)) {
    r->state = ATARU_NODE_SKIPPED;
  } else {
    uint64_t id = MB->node_id_override == ATARU_NODE_ID_DEFAULT ? k : MB->node_id_override;
    uint8_t *shm = (uint8_t *)CFG->shm_base;
    r->state = ATARU_NODE_RUNNING;
    r->tsc_start = rdtsc();
    /* Set after tsc_start: the host's node-timeout check reads both. */
    __atomic_store_n(&MB->current_node[vcpu], k, __ATOMIC_RELEASE);
    /* Clean state (docs/architecture.md): nothing a function can read in
     * its registers comes from an earlier function or request. */
    reset_fpu();
    long ret = ataru_call_clean(c->entry, shm + c->inp_off, shm + c->out_off, id, input_length(c),
                                CFG->shm_size - c->out_off);
    r->tsc_end = rdtsc();
    __atomic_store_n(&MB->current_node[vcpu], ATARU_NO_NODE, __ATOMIC_RELEASE);
    r->ret = ret;
    if (ret < 0) {
      uint32_t none = ATARU_NO_NODE;
      __atomic_compare_exchange_n(&MB->failed_node, &none, k, 0, __ATOMIC_SEQ_CST,
                                  __ATOMIC_RELAXED);
      MB->status = ATARU_STATUS_FUNCTION_ERROR;
      __atomic_store_n(&MB->failed, 1, __ATOMIC_RELEASE);
      r->state = ATARU_NODE_FAILED;
    } else {
      r->state = ATARU_NODE_DONE;
    }
  }
  /* Children of a failed or skipped node still run through the queue, as
   * SKIPPED, so every node is accounted for and `finished` reaches n. */
  for (uint32_t e = c->child_first; e < c->child_end; e++) {
    uint32_t child = CFG->children[e];
    if (__atomic_sub_fetch(&MB->pending[child], 1, __ATOMIC_SEQ_CST) == 0) push(child);
  }
  __atomic_add_fetch(&MB->finished, 1, __ATOMIC_SEQ_CST);
}

/* Called when no node is ready: spin (a node usually turns up within
 * microseconds), but after config.idle_spin_tsc hand the CPU back to the
 * host for a moment. *idle_since is 0 while not idle. */
static void idle(uint64_t *idle_since) {
  uint64_t now = rdtsc();
  if (!*idle_since) {
    *idle_since = now;
  } else if (now - *idle_since > CFG->idle_spin_tsc) {
    __asm__ volatile("outb %%al, %0" ::"i"(ATARU_PORT_YIELD) : "memory");
    *idle_since = 0;
  }
  cpu_relax();
}

/* start.S: loops on `out DONE` (the exit floor). */
__attribute__((noreturn)) void ataru_runtime_floor_loop(void);

/* What the CPU says, not what the host asked for: kvm_pvm lets the guest
 * use XSAVE and AVX whatever its CPUID and CR4 say (docs/platform-
 * differences.md), so the host asks the guest once, at create. */
static void probe(void) {
  uint32_t a = 1, b, c = 0, d;
  __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  MB->osxsave = (c >> 27) & 1;
}

/* The init hooks, once per app version (long ataru_init(void *shm,
 * uint64_t shm_size); sdk/include/ataru.h). Each runs as a node would:
 * clean registers and FPU, its start recorded so that node timeouts and
 * fault messages name it. The host reads init_stage: where it stopped. */
static void run_inits(void) {
  struct ataru_mailbox *mb = MB;
  void *shm = (void *)CFG->shm_base;
  mb->init_count = 0;
  if (CFG->shared_init) {
    mb->init_stage = ATARU_INIT_SHARED;
    reset_fpu();
    long ret = ataru_call_clean(CFG->shared_init, shm, (void *)CFG->shm_size, 0, 0, 0);
    mb->init_count++;
    if (ret < 0) {
      mb->init_ret = ret;
      return;
    }
  }
  for (uint32_t k = 0; k < CFG->num_nodes; k++) {
    uint64_t init = CFG->node[k].init;
    if (!init) continue;
    mb->init_stage = k;
    mb->node[k].tsc_start = rdtsc();
    __atomic_store_n(&mb->current_node[0], k, __ATOMIC_RELEASE);
    reset_fpu();
    long ret = ataru_call_clean(init, shm, (void *)CFG->shm_size, 0, 0, 0);
    __atomic_store_n(&mb->current_node[0], ATARU_NO_NODE, __ATOMIC_RELEASE);
    mb->node[k].tsc_start = 0;
    mb->init_count++;
    if (ret < 0) {
      mb->init_ret = ret;
      return;
    }
  }
  mb->init_stage = ATARU_NO_NODE;
}

void runtime_main(void) {
  struct ataru_mailbox *mb = MB;
  if (mb->probe) {
    probe();
    return;
  }
  if (mb->init) {
    run_inits();
    return;
  }
  if (mb->exit_floor) ataru_runtime_floor_loop();
  uint32_t n = CFG->num_nodes;
  for (uint32_t k = 0; k < n; k++) {
    mb->pending[k] = CFG->node[k].in_count;
    mb->ready[k] = ATARU_NO_NODE;
    mb->node[k].state = ATARU_NODE_WAITING;
    mb->node[k].ret = 0;
    mb->node[k].tsc_start = mb->node[k].tsc_end = 0;
  }
  mb->tsc_start = rdtsc();
  for (uint32_t i = 0; i < CFG->num_roots; i++) push(CFG->roots[i]);
  uint64_t idle_since = 0;
  while (__atomic_load_n(&mb->finished, __ATOMIC_ACQUIRE) < n) {
    uint32_t k = pop();
    if (k != ATARU_NO_NODE) {
      run_node(k, 0);
      idle_since = 0;
    } else {
      idle(&idle_since);
    }
  }
  mb->tsc_end = rdtsc();
  __atomic_store_n(&mb->request_done, 1, __ATOMIC_RELEASE);
}

void runtime_worker(void) {
  uint64_t rsp;
  __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
  uint32_t vcpu = (uint32_t)ataru_vcpu_info_at(rsp)->vcpu;
  uint64_t idle_since = 0;
  while (!__atomic_load_n(&MB->request_done, __ATOMIC_ACQUIRE)) {
    uint32_t k = pop();
    if (k != ATARU_NO_NODE) {
      run_node(k, vcpu);
      idle_since = 0;
    } else {
      idle(&idle_since);
    }
  }
}
