/*
 * instance.c — an instance: create (VM, memory, images, DAG config,
 * snapshot, vCPU threads), requests and their results, statistics, destroy.
 * Implements ataru_core.h together with vcpu.c, cpu.c, fault.c, reset.c.
 */
#define _GNU_SOURCE
#include "ataru_core.h"
#include "cpu.h"
#include "instance.h"
#include "loader.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Guest-physical room for images, page tables and the small areas beyond the
 * shared region and the stacks; reserved, not committed. */
#define IMAGE_RESERVE (768ull << 20)
/* Workers are woken only when history says the work off the critical path
 * is well above the wake cost (70-80 µs on kvm_pvm, PLATFORM.md). */
#define SPREAD_THRESHOLD_NS 200000.0
/* After DONE, woken workers park at once; longer means a function forged
 * the runtime's counters. */
#define PARK_WAIT_NS 50000000ull
#define SLOT_HOT 0
#define SLOT_LOGGED 1
/* An idle vCPU spins this long before yielding to the host (`out YIELD`):
 * well below the work that makes spreading worthwhile, well above the
 * handoff time between vCPUs (0.05 µs). */
#define GUEST_IDLE_SPIN_NS 30000u

static uint64_t page_round(uint64_t x) { return (x + ATARU_PAGE_SIZE - 1) & ~(ATARU_PAGE_SIZE - 1); }

static int validate(const ataru_app_spec *s, char *err, size_t errlen) {
  if (!s->runtime_path) return ataru_seterr(err, errlen, "no runtime path"), -1;
  if (s->num_nodes < 1 || s->num_nodes > ATARU_MAX_NODES || !s->nodes)
    return ataru_seterr(err, errlen, "num_nodes must be 1..%d", ATARU_MAX_NODES), -1;
  if (s->vcpus < 1 || s->vcpus > ATARU_MAX_VCPUS)
    return ataru_seterr(err, errlen, "vcpus must be 1..%d", ATARU_MAX_VCPUS), -1;
  if (s->num_edges > ATARU_MAX_EDGES || (s->num_edges && !s->edges))
    return ataru_seterr(err, errlen, "at most %d edges", ATARU_MAX_EDGES), -1;
  uint64_t shm = s->shm_size ? s->shm_size : ATARU_SHM_DEFAULT;
  if (shm > ATARU_SHM_MAX)
    return ataru_seterr(err, errlen, "shm_size %llu exceeds %llu", (unsigned long long)shm,
                        (unsigned long long)ATARU_SHM_MAX), -1;
  uint64_t stack = s->stack_size ? s->stack_size : ATARU_STACK_DEFAULT;
  if (stack > ATARU_STACK_MAX || stack < 2 * ATARU_PAGE_SIZE)
    return ataru_seterr(err, errlen, "stack_size must be %llu..%llu bytes",
                        (unsigned long long)(2 * ATARU_PAGE_SIZE),
                        (unsigned long long)ATARU_STACK_MAX), -1;
  for (uint32_t e = 0; e < s->num_edges; e++) {
    uint16_t a = s->edges[2 * e], b = s->edges[2 * e + 1];
    if (a >= s->num_nodes || b >= s->num_nodes || a == b)
      return ataru_seterr(err, errlen, "edge %u: %u -> %u is not valid", e, a, b), -1;
  }
  for (uint32_t k = 0; k < s->num_nodes; k++) {
    const ataru_node_spec *n = &s->nodes[k];
    if (!n->path) return ataru_seterr(err, errlen, "node %u has no function path", k), -1;
    if (n->inp_off >= page_round(shm) || n->out_off >= page_round(shm))
      return ataru_seterr(err, errlen, "node %u: inp_off/out_off beyond the %llu-byte shared region",
                          k, (unsigned long long)page_round(shm)), -1;
  }
  return 0;
}

/* The DAG config (read-only to the guest) and the host's topological order. */
static int build_config(struct ataru_instance *inst, const ataru_app_spec *s,
                        struct ataru_config *cfg, char *err, size_t errlen) {
  uint32_t n = s->num_nodes, m = s->num_edges;
  cfg->magic = ATARU_CONFIG_MAGIC;
  cfg->num_nodes = n;
  cfg->num_vcpus = s->vcpus;
  cfg->shm_base = ATARU_SHM_BASE;
  cfg->shm_size = inst->shm_size;
  cfg->idle_spin_tsc = ataru_tsc_hz() / (1000000000u / GUEST_IDLE_SPIN_NS);
  /* children grouped by parent, in edge order */
  uint32_t pos = 0;
  for (uint32_t k = 0; k < n; k++) {
    struct ataru_node_config *c = &cfg->node[k];
    c->inp_off = s->nodes[k].inp_off;
    c->out_off = s->nodes[k].out_off;
    c->input_parent = ATARU_NO_NODE;
    c->child_first = pos;
    for (uint32_t e = 0; e < m; e++)
      if (s->edges[2 * e] == k) cfg->children[pos++] = s->edges[2 * e + 1];
    c->child_end = pos;
  }
  for (uint32_t e = 0; e < m; e++) {
    uint32_t from = s->edges[2 * e], to = s->edges[2 * e + 1];
    struct ataru_node_config *c = &cfg->node[to];
    c->in_count++;
    if (c->input_parent == ATARU_NO_NODE && s->nodes[from].out_off == c->inp_off)
      c->input_parent = from;
  }
  /* Kahn's algorithm: roots, order, and cycle detection in one pass. */
  uint32_t pending[ATARU_MAX_NODES], head = 0, tail = 0;
  for (uint32_t k = 0; k < n; k++) {
    pending[k] = cfg->node[k].in_count;
    if (!pending[k]) {
      cfg->roots[cfg->num_roots++] = (uint16_t)k;
      inst->topo[tail++] = (uint16_t)k;
    }
    if (cfg->node[k].child_first == cfg->node[k].child_end) inst->sinks[inst->num_sinks++] = (uint16_t)k;
  }
  while (head < tail) {
    const struct ataru_node_config *c = &cfg->node[inst->topo[head++]];
    for (uint32_t e = c->child_first; e < c->child_end; e++)
      if (--pending[cfg->children[e]] == 0) inst->topo[tail++] = cfg->children[e];
  }
  if (tail != n) return ataru_seterr(err, errlen, "the DAG has a cycle"), -1;
  return 0;
}

/*
 * The hot set is mapped first, so its guest-physical pages come first: the
 * pages every request writes (the mailbox, the top page of each stack) live
 * in a memslot without dirty logging and are copied back after every
 * request. A dirty-logged page costs a write fault (~3 µs on kvm_pvm) on its
 * first write after each reset; copying a few pages costs less.
 */
static int map_areas(struct ataru_instance *inst, const ataru_app_spec *s, char *err, size_t errlen) {
  unsigned urw = ATARU_PROT_R | ATARU_PROT_W | ATARU_PROT_USER;
  uint8_t *arena = ataru_mem_arena(inst->mem);
  inst->mb_bytes = page_round(sizeof(struct ataru_mailbox));
  inst->mb = ataru_mem_map(inst->mem, ATARU_MAILBOX_BASE, inst->mb_bytes, urw, err, errlen);
  if (!inst->mb) return -1;
  inst->mb_gpa = (uint64_t)((uint8_t *)inst->mb - arena);
  for (uint32_t v = 0; v < s->vcpus; v++) {
    uint64_t end = ATARU_STACKS_BASE + (v + 1) * ATARU_STACK_SLOT;
    uint8_t *top = ataru_mem_map(inst->mem, end - ATARU_PAGE_SIZE, ATARU_PAGE_SIZE, urw, err, errlen);
    if (!top) return -1;
    inst->stack_top_gpa[v] = (uint64_t)(top - arena);
    ((struct ataru_vcpu_info *)(top + ATARU_PAGE_SIZE - ATARU_VCPU_INFO_SIZE))->vcpu = v;
  }
  inst->hot_bytes = page_round(ataru_mem_used(inst->mem));
  if (ataru_cpu_build_sys(inst->mem, err, errlen) < 0) return -1;
  uint64_t stack = page_round(s->stack_size ? s->stack_size : ATARU_STACK_DEFAULT);
  for (uint32_t v = 0; v < s->vcpus; v++) {
    uint64_t end = ATARU_STACKS_BASE + (v + 1) * ATARU_STACK_SLOT;
    if (!ataru_mem_map(inst->mem, end - stack, stack - ATARU_PAGE_SIZE, urw, err, errlen)) return -1;
  }
  inst->shm = ataru_mem_map(inst->mem, ATARU_SHM_BASE, inst->shm_size, urw, err, errlen);
  if (!inst->shm) return -1;
  inst->shm_gpa = (uint64_t)(inst->shm - arena);
  return 0;
}

static int load_images(struct ataru_instance *inst, const ataru_app_spec *s, struct ataru_config *cfg,
                       char *err, size_t errlen) {
  ataru_loader *l = ataru_loader_new(inst->mem);
  if (!l) return ataru_seterr(err, errlen, "out of memory"), -1;
  int rc = ataru_loader_load_runtime(l, s->runtime_path, &inst->main_entry, &inst->worker_entry,
                                     err, errlen);
  if (rc == 0 && s->shared_path) rc = ataru_loader_load_shared(l, s->shared_path, err, errlen);
  for (uint32_t k = 0; rc == 0 && k < s->num_nodes; k++)
    rc = ataru_loader_load_function(l, s->nodes[k].path, &cfg->node[k].entry, err, errlen);
  ataru_loader_free(l);
  return rc;
}

int ataru_vm_create(int *kvm_fd, int *vm_fd, int *dirty_manual, char *err, size_t errlen) {
  *kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (*kvm_fd < 0) return ataru_seterr(err, errlen, "/dev/kvm: %s", strerror(errno)), -1;
  if (ioctl(*kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
    return ataru_seterr(err, errlen, "unsupported KVM API version"), -1;
  do *vm_fd = ioctl(*kvm_fd, KVM_CREATE_VM, 0);
  while (*vm_fd < 0 && errno == EINTR);
  if (*vm_fd < 0) return ataru_seterr(err, errlen, "KVM_CREATE_VM: %s", strerror(errno)), -1;
  /* Intel without unrestricted guest wants a TSS area for real mode; we
   * never use real mode, and other platforms ignore or lack it. */
  ioctl(*vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
  /* The guest's TSC rate (its rdtsc timings and idle spin); the VM-level
   * query needs KVM_CAP_VM_TSC_CONTROL, else ataru_tsc_hz() calibrates. */
  int khz = ioctl(*vm_fd, KVM_GET_TSC_KHZ, 0);
  if (khz > 0) ataru_tsc_set_khz((uint64_t)khz);
  /* Manual dirty-log protection lets the reset leave pages that every
   * request writes unprotected (reset.c); without it, every page is
   * re-protected as before. Not INITIALLY_SET: the load's writes are not
   * to be restored. */
  struct kvm_enable_cap cap = {.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
                               .args = {KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE}};
  *dirty_manual = ioctl(*vm_fd, KVM_ENABLE_CAP, &cap) == 0;
  return 0;
}

static int set_memslot(struct ataru_instance *inst, uint32_t slot, uint64_t gpa, uint64_t bytes,
                       uint32_t flags, char *err, size_t errlen) {
  struct kvm_userspace_memory_region r = {
      .slot = slot,
      .flags = flags,
      .guest_phys_addr = gpa,
      .memory_size = bytes,
      .userspace_addr = (uint64_t)(uintptr_t)((uint8_t *)ataru_mem_arena(inst->mem) + gpa),
  };
  if (ioctl(inst->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
    return ataru_seterr(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno)), -1;
  return 0;
}

/* Two memslots over the used arena, created once everything is loaded and
 * mapped: the hot set, and the rest, dirty-logged (reset.c). */
static int add_memslots(struct ataru_instance *inst, char *err, size_t errlen) {
  inst->slot_bytes = page_round(ataru_mem_used(inst->mem));
  if (set_memslot(inst, SLOT_HOT, 0, inst->hot_bytes, 0, err, errlen) < 0) return -1;
  return set_memslot(inst, SLOT_LOGGED, inst->hot_bytes, inst->slot_bytes - inst->hot_bytes,
                     KVM_MEM_LOG_DIRTY_PAGES, err, errlen);
}

static int take_snapshot(struct ataru_instance *inst, char *err, size_t errlen) {
  uint64_t npages = inst->slot_bytes / ATARU_PAGE_SIZE;
  uint8_t *writable = calloc(npages, 1);
  if (!writable) return ataru_seterr(err, errlen, "out of memory"), -1;
  ataru_mem_mark_writable(inst->mem, writable, npages);
  int rc = ataru_snapshot_take(&inst->snap, ataru_mem_arena(inst->mem), inst->slot_bytes, writable,
                               inst->shm_gpa, inst->shm_size, err, errlen);
  free(writable);
  return rc;
}

static int copy_spec(struct ataru_instance *inst, const ataru_app_spec *s) {
  inst->num_nodes = s->num_nodes;
  inst->num_vcpus = s->vcpus;
  inst->keep_state = s->keep_state;
  inst->log_fn = s->log_fn;
  inst->log_ctx = s->log_ctx;
  inst->timeout_ns = s->timeout_us * 1000u;
  inst->shm_size = page_round(s->shm_size ? s->shm_size : ATARU_SHM_DEFAULT);
  inst->node_name = calloc(s->num_nodes, sizeof *inst->node_name);
  if (!inst->node_name) return -1;
  for (uint32_t k = 0; k < s->num_nodes; k++) {
    const char *name = s->nodes[k].name ? s->nodes[k].name : "";
    if (!(inst->node_name[k] = strdup(name))) return -1;
    inst->node_timeout_ns[k] = s->nodes[k].timeout_us * 1000u;
    if (inst->node_timeout_ns[k] &&
        (!inst->min_node_timeout_ns || inst->node_timeout_ns[k] < inst->min_node_timeout_ns))
      inst->min_node_timeout_ns = inst->node_timeout_ns[k];
  }
  inst->input = malloc(inst->shm_size);
  return inst->input ? 0 : -1;
}

ataru_instance *ataru_instance_create(const ataru_app_spec *spec, char *err, size_t errlen) {
  uint64_t t0 = ataru_now_ns();
  if (validate(spec, err, errlen) < 0) return NULL;
  struct ataru_instance *inst = calloc(1, sizeof *inst);
  struct ataru_config *cfg = calloc(1, sizeof *cfg);
  if (!inst || !cfg) {
    free(inst);
    free(cfg);
    ataru_seterr(err, errlen, "out of memory");
    return NULL;
  }
  inst->kvm_fd = inst->vm_fd = -1;
  pthread_mutex_init(&inst->lock, NULL);
  pthread_mutex_init(&inst->fail_lock, NULL);
  pthread_cond_init(&inst->cond, NULL);
  pthread_cond_init(&inst->idle_cond, NULL);
  inst->rflags = ataru_cpu_rflags();
  if (copy_spec(inst, spec) < 0) {
    ataru_seterr(err, errlen, "out of memory");
    goto fail;
  }
  if ((!ataru_spare_take(inst) &&
       ataru_vm_create(&inst->kvm_fd, &inst->vm_fd, &inst->dirty_manual, err, errlen) < 0) ||
      build_config(inst, spec, cfg, err, errlen) < 0)
    goto fail;
  uint64_t stacks = (uint64_t)spec->vcpus * ATARU_STACK_SLOT;
  inst->mem = ataru_mem_create(inst->shm_size + stacks + IMAGE_RESERVE, err, errlen);
  if (!inst->mem || ataru_vcpus_start(inst, err, errlen) < 0 || map_areas(inst, spec, err, errlen) < 0 ||
      load_images(inst, spec, cfg, err, errlen) < 0)
    goto fail;
  struct ataru_config *gcfg = ataru_mem_map(inst->mem, ATARU_CONFIG_BASE, page_round(sizeof *cfg),
                                            ATARU_PROT_R | ATARU_PROT_USER, err, errlen);
  if (!gcfg) goto fail;
  memcpy(gcfg, cfg, sizeof *cfg);
  inst->cfg = gcfg;
  struct ataru_mailbox *mb = inst->mb;
  mb->node_id_override = ATARU_NODE_ID_DEFAULT;
  mb->failed_node = ATARU_NO_NODE;
  for (uint32_t v = 0; v < ATARU_MAX_VCPUS; v++) mb->current_node[v] = ATARU_NO_NODE;
  if (add_memslots(inst, err, errlen) < 0 ||
      take_snapshot(inst, err, errlen) < 0 ||
      ataru_vcpus_go(inst, err, errlen) < 0)
    goto fail;
  free(cfg);
  inst->create_ns = ataru_now_ns() - t0;
  return inst;
fail:
  free(cfg);
  ataru_instance_destroy(inst);
  return NULL;
}

void ataru_instance_destroy(ataru_instance *inst) {
  if (!inst) return;
  ataru_vcpus_stop(inst);
  if (inst->vm_fd >= 0) close(inst->vm_fd);
  if (inst->kvm_fd >= 0) close(inst->kvm_fd);
  ataru_snapshot_free(&inst->snap);
  ataru_mem_destroy(inst->mem);
  if (inst->node_name)
    for (uint32_t k = 0; k < inst->num_nodes; k++) free(inst->node_name[k]);
  free(inst->node_name);
  free(inst->input);
  free(inst->outbuf);
  pthread_mutex_destroy(&inst->lock);
  pthread_mutex_destroy(&inst->fail_lock);
  pthread_cond_destroy(&inst->cond);
  pthread_cond_destroy(&inst->idle_cond);
  free(inst);
}

/* ---- requests (submitting thread) ---- */

int ataru_instance_submit(ataru_instance *inst, const void *input, size_t len,
                          uint64_t node_id_override, ataru_done_fn done, void *ctx) {
  if (len > inst->shm_size) return -2;
  pthread_mutex_lock(&inst->lock);
  if (inst->job.kind != JOB_NONE || inst->quit) {
    pthread_mutex_unlock(&inst->lock);
    return -1;
  }
  memcpy(inst->input, input, len);
  inst->job = (struct job){.kind = JOB_REQUEST, .len = len, .node_id_override = node_id_override,
                           .done = done, .ctx = ctx, .submit_ns = ataru_now_ns()};
  pthread_cond_signal(&inst->cond);
  pthread_mutex_unlock(&inst->lock);
  return 0;
}

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

int ataru_instance_run(ataru_instance *inst, const void *input, size_t len,
                       uint64_t node_id_override, ataru_result *res) {
  struct sync_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, res};
  int rc;
  while ((rc = ataru_instance_submit(inst, input, len, node_id_override, sync_done, &w)) == -1) {
    pthread_mutex_lock(&inst->lock); /* the slot is taken: wait for a job to finish */
    if (inst->job.kind != JOB_NONE && !inst->quit) pthread_cond_wait(&inst->idle_cond, &inst->lock);
    int quit = inst->quit;
    pthread_mutex_unlock(&inst->lock);
    if (quit) return -1;
  }
  if (rc < 0) return rc;
  pthread_mutex_lock(&w.lock);
  while (!w.finished) pthread_cond_wait(&w.cond, &w.lock);
  pthread_mutex_unlock(&w.lock);
  return 0;
}

void ataru_result_free(ataru_result *res) {
  free(res->output);
  res->output = NULL;
  res->output_len = 0;
}

/* ---- the request on the vCPU-0 thread ---- */

static void fail_result(struct ataru_instance *inst, ataru_result *res, uint32_t status,
                        uint32_t node, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void fail_result(struct ataru_instance *inst, ataru_result *res, uint32_t status,
                        uint32_t node, const char *fmt, ...) {
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
    if (r->state == ATARU_NODE_FAILED && r->ret < 0 && (failed == ATARU_NO_NODE || k == mb->failed_node))
      failed = k;
    if (r->state != ATARU_NODE_DONE && not_run == ATARU_NO_NODE) not_run = k;
  }
  res->dag_ns = mb->tsc_end >= mb->tsc_start ? ataru_tsc_to_ns(mb->tsc_end - mb->tsc_start) : 0;
  if (failed != ATARU_NO_NODE) {
    fail_result(inst, res, ATARU_STATUS_FUNCTION_ERROR, failed, "returned error %lld",
                (long long)mb->node[failed].ret);
    return;
  }
  if (not_run != ATARU_NO_NODE) {
    fail_result(inst, res, ATARU_STATUS_INTERNAL, not_run, "did not run (state %u)",
                mb->node[not_run].state);
    return;
  }
  uint64_t total = 0;
  for (uint32_t i = 0; i < inst->num_sinks; i++) {
    uint32_t k = inst->sinks[i];
    uint64_t cap = inst->shm_size - inst->cfg->node[k].out_off;
    if ((uint64_t)res->node_ret[k] > cap) {
      fail_result(inst, res, ATARU_STATUS_OUTPUT_TOO_LARGE, k,
                  "output of %lld bytes exceeds its %llu-byte region", (long long)res->node_ret[k],
                  (unsigned long long)cap);
      return;
    }
    total += (uint64_t)res->node_ret[k];
  }
  if (inst->num_sinks == 1) {
    /* valid until done() returns: memory is reset after it */
    res->output = inst->shm + inst->cfg->node[inst->sinks[0]].out_off;
    res->output_len = total;
    return;
  }
  uint8_t *buf = total ? realloc(inst->outbuf, total) : inst->outbuf;
  if (total && !buf) {
    fail_result(inst, res, ATARU_STATUS_INTERNAL, ATARU_NO_NODE, "out of memory for the output");
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

static uint32_t workers_for_request(struct ataru_instance *inst) {
  if (inst->num_vcpus < 2 || !inst->history) return 0;
  double finish[ATARU_MAX_NODES], start[ATARU_MAX_NODES] = {0}, total = 0, critical = 0;
  const struct ataru_config *cfg = inst->cfg;
  for (uint32_t i = 0; i < inst->num_nodes; i++) {
    uint32_t k = inst->topo[i];
    finish[k] = start[k] + inst->mean_node_ns[k];
    total += inst->mean_node_ns[k];
    if (finish[k] > critical) critical = finish[k];
    for (uint32_t e = cfg->node[k].child_first; e < cfg->node[k].child_end; e++)
      if (finish[k] > start[cfg->children[e]]) start[cfg->children[e]] = finish[k];
  }
  return total - critical > SPREAD_THRESHOLD_NS ? inst->num_vcpus - 1 : 0;
}

static void learn(struct ataru_instance *inst, const ataru_result *res) {
  for (uint32_t k = 0; k < inst->num_nodes; k++)
    inst->mean_node_ns[k] = inst->history ? 0.8 * inst->mean_node_ns[k] + 0.2 * (double)res->node_ns[k]
                                          : (double)res->node_ns[k];
  inst->history++;
}

/* Back to the snapshot: the dirty-logged pages the guest wrote, the hot set,
 * and what the host wrote (the input: host writes are not logged). */
static void reset_memory(struct ataru_instance *inst, uint64_t host_written) {
  ataru_snapshot_reset_dirty(&inst->snap, inst->vm_fd, SLOT_LOGGED, inst->hot_bytes / ATARU_PAGE_SIZE,
                             inst->dirty_manual);
  ataru_snapshot_restore(&inst->snap, inst->mb_gpa, inst->mb_bytes);
  for (uint32_t v = 0; v < inst->num_vcpus; v++)
    ataru_snapshot_restore(&inst->snap, inst->stack_top_gpa[v], ATARU_PAGE_SIZE);
  ataru_snapshot_restore(&inst->snap, inst->shm_gpa, host_written);
}

static void serve_request(struct ataru_instance *inst, struct job *job) {
  struct ataru_mailbox *mb = inst->mb;
  ataru_result *res = &inst->result;
  memset(res, 0, offsetof(ataru_result, node_ret));
  res->failed_node = ATARU_NO_NODE;
  res->num_nodes = inst->num_nodes;
  uint32_t workers = workers_for_request(inst);
  mb->request_id++;
  mb->in_len = job->len;
  mb->node_id_override = job->node_id_override;
  mb->workers = workers;
  mb->exit_floor = 0;
  mb->ready_head = mb->ready_tail = mb->finished = mb->failed = 0;
  mb->request_done = 0;
  mb->status = ATARU_STATUS_OK;
  mb->failed_node = ATARU_NO_NODE;
  for (uint32_t v = 0; v < ATARU_MAX_VCPUS; v++) mb->current_node[v] = ATARU_NO_NODE;
  ataru_workers_wake(inst, workers);
  struct failure f;
  enum run_rc rc = ataru_vcpu0_run(inst, &f);
  res->workers_used = workers;
  if (rc == RUN_DONE) {
    collect(inst, res);
  } else {
    res->status = f.status;
    res->failed_node = f.node;
    memcpy(res->message, f.message, sizeof res->message);
    for (uint32_t k = 0; k < inst->num_nodes; k++) res->node_ret[k] = 0;
  }
  res->run_ns = ataru_now_ns() - job->submit_ns;
  job->done(job->ctx, res);
  /* Off the latency path from here on. */
  ataru_workers_wait(inst, PARK_WAIT_NS);
  if (res->status == ATARU_STATUS_OK) learn(inst, res);
  if (job->len > inst->input_max) inst->input_max = job->len;
  if (inst->keep_state && rc == RUN_DONE) return;
  /* keep_state apps never fetched the dirty log before: this restores every
   * page written since load. Host writes (inputs) are restored by hand. */
  reset_memory(inst, inst->input_max);
  inst->input_max = 0;
}

void ataru_instance_serve(struct ataru_instance *inst, struct job *job) {
  if (job->kind == JOB_REQUEST) {
    serve_request(inst, job);
    /* The next instance's VM is built now, off the latency path (spare.c). */
    if (!inst->spare_refilled) {
      inst->spare_refilled = 1;
      ataru_spare_refill();
    }
    return;
  }
  job->floor->rc = ataru_vcpu0_exit_floor(inst, job->floor->n, &job->floor->median_ns);
  reset_memory(inst, 0);
}

/* ---- statistics and tests ---- */

int ataru_instance_exit_floor(ataru_instance *inst, uint32_t n, uint64_t *median_ns) {
  struct floor_req fr = {.n = n};
  pthread_mutex_lock(&inst->lock);
  while (inst->job.kind != JOB_NONE && !inst->quit) pthread_cond_wait(&inst->idle_cond, &inst->lock);
  if (inst->quit) {
    pthread_mutex_unlock(&inst->lock);
    return -1;
  }
  inst->job = (struct job){.kind = JOB_FLOOR, .floor = &fr};
  pthread_cond_signal(&inst->cond);
  while (!fr.finished) pthread_cond_wait(&inst->idle_cond, &inst->lock);
  pthread_mutex_unlock(&inst->lock);
  if (fr.rc == 0) *median_ns = fr.median_ns;
  return fr.rc;
}

uint64_t ataru_instance_create_ns(ataru_instance *inst) { return inst->create_ns; }

/* Bytes of [addr, addr+len) resident and mapped only here (private), from
 * /proc/self/pagemap (bit 63: present, bit 56: exclusively mapped). Not
 * smaps: its totals are per VMA, and the kernel merges our anonymous
 * mappings with adjacent ones (malloc's, another instance's arena). */
static uint64_t resident_private(int fd, uintptr_t addr, uint64_t len) {
  uint64_t entries[512], total = 0;
  uint64_t first = addr / ATARU_PAGE_SIZE, n = (len + ATARU_PAGE_SIZE - 1) / ATARU_PAGE_SIZE;
  for (uint64_t done = 0; done < n;) {
    uint64_t want = n - done < 512 ? n - done : 512;
    ssize_t got = pread(fd, entries, want * 8, (off_t)((first + done) * 8));
    if (got <= 0) break;
    for (ssize_t i = 0; i < got / 8; i++)
      if ((entries[i] >> 63 & 1) && (entries[i] >> 56 & 1)) total += ATARU_PAGE_SIZE;
    done += (uint64_t)got / 8;
  }
  return total;
}

void ataru_instance_memory(ataru_instance *inst, uint64_t *private_bytes, uint64_t *pss_bytes) {
  *private_bytes = *pss_bytes = 0;
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  uint64_t bytes = resident_private(fd, (uintptr_t)ataru_mem_arena(inst->mem), ataru_mem_used(inst->mem));
  if (inst->snap.data) bytes += resident_private(fd, (uintptr_t)inst->snap.data, inst->snap.data_len);
  close(fd);
  /* Nothing of ours is shared (no fork): the proportional share is the same. */
  *private_bytes = *pss_bytes = bytes;
}

int ataru_instance_test_hook(ataru_instance *inst, unsigned flags) {
  char err[128];
  ataru_vcpus_wait_entered(inst);
  if (flags & ATARU_TEST_MAP_MMIO) {
    /* A page past the memslot: an access cannot be backed, KVM exits MMIO.
     * Its page table exists already (the system area's). */
    if (!ataru_mem_map(inst->mem, ATARU_TEST_MMIO_GVA, ATARU_PAGE_SIZE,
                       ATARU_PROT_R | ATARU_PROT_W | ATARU_PROT_USER, err, sizeof err))
      return -1;
    /* The new PTE is part of the clean state: a reset that restores its
     * page-table page (dirty on hardware, where the walker may write it)
     * must keep it. */
    ataru_snapshot_free(&inst->snap);
    if (take_snapshot(inst, err, sizeof err) < 0) return -1;
  }
  if (flags & ATARU_TEST_BREAK_IDT) {
    inst->test_break_idt = 1;
    for (uint32_t v = 0; v < inst->num_vcpus; v++) inst->vcpu[v].needs_enter = 1;
  }
  return 0;
}
