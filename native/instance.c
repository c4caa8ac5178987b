/*
 * instance.c — an instance's life: create (VM, memory, images, DAG config,
 * memslots, snapshot, vCPU threads) and destroy, plus its memory figures
 * and test hooks. Requests are request.c's.
 *
 * Creation overlaps two things: each vCPU thread creates and sets up its
 * own vCPU (a job handed to it first: ~300 µs of ioctls) while this thread
 * loads the images; then each is handed a job that puts its vCPU at its
 * entry. vCPU 0 and its thread may come ready-made from the spare VM.
 * Memory comes one of two ways: loaded from the images (memory_from_images)
 * or as a copy-on-write view of the version's template (memory_from_template).
 */
#define _GNU_SOURCE
#include "ataru_core.h"
#include "cpu.h"
#include "dag.h"
#include "instance.h"
#include "kick.h"
#include "loader.h"
#include "request.h"
#include "run.h"
#include "spare.h"
#include "template.h"
#include "timeouts.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Guest-physical room for images, page tables and the small areas beyond the
 * shared region and the stacks; reserved, not committed. */
#define IMAGE_RESERVE (768ull << 20)

static uint64_t page_round(uint64_t x) { return (x + ATARU_PAGE_SIZE - 1) & ~(ATARU_PAGE_SIZE - 1); }

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

/* Every rejection is BAD_ELF and names the image being loaded (the
 * loader's message names the file at fault, which may be a library). */
static int load_images(struct ataru_instance *inst, const ataru_app_spec *s, struct ataru_config *cfg,
                       ataru_error *err) {
  ataru_loader *l = ataru_loader_new(inst->mem);
  if (!l) return ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "out of memory");
  const char *file = s->runtime_path;
  int rc = ataru_loader_load_runtime(l, file, &inst->rt, err->message, sizeof err->message);
  if (rc == 0 && s->shared_path) {
    rc = ataru_loader_load_shared(l, file = s->shared_path, err->message, sizeof err->message);
    if (rc == 0) rc = ataru_loader_last_init(l, &cfg->shared_init, err->message, sizeof err->message);
  }
  for (uint32_t k = 0; rc == 0 && k < s->num_nodes; k++) {
    rc = ataru_loader_load_function(l, file = s->nodes[k].path, &cfg->node[k].entry, err->message,
                                    sizeof err->message);
    if (rc == 0) rc = ataru_loader_last_init(l, &cfg->node[k].init, err->message, sizeof err->message);
  }
  ataru_loader_free(l);
  if (rc < 0) {
    err->code = ATARU_CREATE_BAD_ELF;
    snprintf(err->file, sizeof err->file, "%s", file);
  }
  return rc;
}

/* Two memslots over the used arena, created once everything is loaded and
 * mapped: the hot set, and the rest, dirty-logged (reset.c). */
static int add_memslots(struct ataru_instance *inst, ataru_error *err) {
  uint8_t *arena = ataru_mem_arena(inst->mem);
  inst->slot_bytes = page_round(ataru_mem_used(inst->mem));
  if (ataru_vm_set_memslot(&inst->vm, MEMSLOT_HOT, 0, inst->hot_bytes, arena, 0, err) < 0) return -1;
  return ataru_vm_set_memslot(&inst->vm, MEMSLOT_LOGGED, inst->hot_bytes, inst->slot_bytes - inst->hot_bytes,
                              arena + inst->hot_bytes, KVM_MEM_LOG_DIRTY_PAGES, err);
}

static int take_snapshot(struct ataru_instance *inst, char *err, size_t errlen) {
  uint64_t npages = inst->slot_bytes / ATARU_PAGE_SIZE;
  uint8_t *writable = calloc(npages, 1);
  if (!writable) return ataru_seterr(err, errlen, "out of memory taking the memory snapshot"), -1;
  ataru_mem_mark_writable(inst->mem, writable, npages);
  int rc = ataru_snapshot_take(&inst->snap, ataru_mem_arena(inst->mem), inst->slot_bytes, writable,
                               inst->shm_gpa, inst->shm_size, err, errlen);
  free(writable);
  return rc;
}

static int copy_spec(struct ataru_instance *inst, const ataru_app_spec *s) {
  int all_timed = 1;
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
    inst->nodes_bound_ns += inst->node_timeout_ns[k];
    if (!inst->node_timeout_ns[k]) all_timed = 0;
  }
  /* Nodes run one after another at worst, so a request whose nodes all have
   * a timeout ends by their sum, whatever the guest writes (timeouts.c). */
  if (!all_timed) inst->nodes_bound_ns = 0;
  inst->input = malloc(inst->shm_size);
  return inst->input ? 0 : -1;
}

/* The first job of a vCPU thread: create its vCPU (on the thread that
 * will run it). */
static void setup_job(void *arg) {
  struct vcpu_job *j = arg;
  struct ataru_instance *inst = j->inst;
  if (ataru_vcpu_create(&inst->vcpu[j->index], &inst->vm, ataru_mem_cr3(inst->mem), &j->err) < 0) j->failed = 1;
}

/* Asks the runtime (vCPU 0, before any function has run) whether the CPU
 * lets it use XSAVE, and tells every vCPU through the config page (read-only
 * to the guest): the FPU/SIMD reset before each function needs XRSTOR where
 * AVX registers exist. What the probe wrote (mailbox, stack top) is put back. */
static void probe_xsave(struct ataru_instance *inst) {
  struct failure f;
  inst->mb->probe = 1;
  int ok = ataru_run_step(inst, 0, &f) == STEP_DONE;
  inst->mb->probe = 0;
  ((struct ataru_config *)inst->cfg)->xsave = ok && inst->mb->osxsave == 1;
  ataru_snapshot_restore(&inst->snap, inst->mb_gpa, inst->mb_bytes);
  ataru_snapshot_restore(&inst->snap, inst->stack_top_gpa[0], ATARU_PAGE_SIZE);
}

/* Once everything is loaded: set the registers now, not on the first
 * request (vCPU 0 also runs the probe, unless the template's config has
 * its answer). A failure leaves needs_enter set: the first request tries
 * again and reports it. */
static void enter_job(void *arg) {
  struct vcpu_job *j = arg;
  vthread_allow_all_cpus(); /* the thread was started apart */
  if (ataru_vcpu_enter(&j->inst->vcpu[j->index]) == 0 && j->index == 0 && !j->inst->tpl) probe_xsave(j->inst);
}

/* Guest memory from a template instead of loading: a private mapping of
 * its memory, its areas, and a snapshot over its pages (template.h). The
 * instance writes nothing here: an idle instance shares every page. */
static int clone_template(struct ataru_instance *inst, const ataru_app_spec *s, ataru_error *err) {
  struct ataru_template *t = s->tpl;
  char msg[256];
  if (t->num_vcpus != s->vcpus || t->num_nodes != s->num_nodes || t->shm_size != inst->shm_size)
    return ataru_fail(err, ATARU_CREATE_BAD_SPEC, "the template is of another layout (vCPUs, nodes or shared region)");
  inst->mem = ataru_mem_clone(t->layout, t->fd, t->offset, t->bytes, msg, sizeof msg);
  if (!inst->mem) return ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "%s", msg);
  ataru_template_ref(t);
  inst->tpl = t;
  uint8_t *arena = ataru_mem_arena(inst->mem);
  inst->rt = t->rt;
  inst->hot_bytes = t->hot_bytes;
  inst->mb_gpa = t->mb_gpa;
  inst->mb_bytes = t->mb_bytes;
  inst->mb = (struct ataru_mailbox *)(arena + t->mb_gpa);
  memcpy(inst->stack_top_gpa, t->stack_top_gpa, sizeof inst->stack_top_gpa);
  inst->shm_gpa = t->shm_gpa;
  inst->shm = arena + t->shm_gpa;
  inst->cfg = ataru_mem_host(inst->mem, ATARU_CONFIG_BASE, sizeof *inst->cfg);
  if (!inst->cfg) return ataru_fail(err, ATARU_CREATE_BAD_TEMPLATE, "the template has no DAG config");
  return 0;
}

/* Starts a thread per vCPU that has none (vCPU 0 may come from the spare)
 * and hands it its setup job. */
static int start_vcpus(struct ataru_instance *inst, ataru_error *err) {
  for (uint32_t v = 0; v < inst->num_vcpus; v++) {
    if (inst->thread[v]) continue;
    inst->thread[v] = vthread_start(ataru_kick_signo(), v ? 0 : ATARU_VCPU0_IDLE_SPIN_NS, 1);
    if (!inst->thread[v])
      return ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "cannot start a vCPU thread: %s", strerror(errno));
    if (vthread_post(inst->thread[v], setup_job, &inst->vjob[v]) < 0)
      return ataru_fail(err, ATARU_CREATE_INTERNAL, "vCPU thread %u stopped", v);
  }
  return 0;
}

/* Waits for every setup job; the first failure goes to err. */
static int vcpus_ready(struct ataru_instance *inst, ataru_error *err) {
  int rc = 0;
  for (uint32_t v = 0; v < inst->num_vcpus; v++) {
    vthread_wait_idle(inst->thread[v]);
    if (inst->vjob[v].failed && rc == 0) {
      *err = inst->vjob[v].err;
      rc = -1;
    }
  }
  return rc;
}

/* An instance with nothing in it yet: everything destroy() looks at is
 * "none" (fds -1, no threads), so any later step may fail into destroy(). */
static struct ataru_instance *instance_alloc(void) {
  struct ataru_instance *inst = calloc(1, sizeof *inst);
  if (!inst) return NULL;
  inst->vm.kvm_fd = inst->vm.vm_fd = -1;
  for (uint32_t v = 0; v < ATARU_MAX_VCPUS; v++) {
    ataru_vcpu_init(&inst->vcpu[v], v);
    inst->vjob[v] = (struct vcpu_job){.inst = inst, .index = v};
    inst->avoided_cpu[v] = -1;
  }
  pthread_mutex_init(&inst->req_lock, NULL);
  pthread_cond_init(&inst->req_cond, NULL);
  pthread_mutex_init(&inst->fail_lock, NULL);
  pthread_mutex_init(&inst->log_lock, NULL);
  inst->log_tokens = ATARU_LOG_BURST;
  return inst;
}

/* The VM, with vCPU 0 and its thread, from the spare when there is one. */
static int take_vm(struct ataru_instance *inst, ataru_error *err) {
  struct ataru_spare_vm spare;
  if (!ataru_spare_take(&spare)) return ataru_vm_create(&inst->vm, err);
  inst->vm = spare.vm;
  inst->vcpu[0] = spare.vcpu0;
  inst->thread[0] = spare.thread;
  return 0;
}

/* Guest memory the template way: a copy-on-write view of the template's
 * memory and a snapshot that borrows its page classes. No loading, no init. */
static int memory_from_template(struct ataru_instance *inst, const ataru_app_spec *spec, ataru_error *err) {
  char msg[512];
  if (clone_template(inst, spec, err) < 0 || start_vcpus(inst, err) < 0 || add_memslots(inst, err) < 0) return -1;
  if (ataru_snapshot_borrow(&inst->snap, ataru_mem_arena(inst->mem), inst->slot_bytes / ATARU_PAGE_SIZE,
                            spec->tpl->page, spec->tpl->view, msg, sizeof msg) < 0)
    return ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "%s", msg);
  return 0;
}

/* Guest memory the loading way: fresh memory, the areas, the images and
 * the DAG config, then a snapshot of it all. The vCPU threads set their
 * vCPUs up meanwhile. */
static int memory_from_images(struct ataru_instance *inst, const ataru_app_spec *spec, struct ataru_config *cfg,
                              ataru_error *err) {
  char msg[512];
  uint64_t stacks = (uint64_t)spec->vcpus * ATARU_STACK_SLOT;
  inst->mem = ataru_mem_create(inst->shm_size + stacks + IMAGE_RESERVE, msg, sizeof msg);
  if (!inst->mem) return ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "%s", msg);
  if (start_vcpus(inst, err) < 0) return -1;
  if (map_areas(inst, spec, msg, sizeof msg) < 0) return ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "%s", msg);
  if (load_images(inst, spec, cfg, err) < 0) return -1;
  struct ataru_config *gcfg = ataru_mem_map(inst->mem, ATARU_CONFIG_BASE, page_round(sizeof *cfg),
                                            ATARU_PROT_R | ATARU_PROT_USER, msg, sizeof msg);
  if (!gcfg) return ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "%s", msg);
  memcpy(gcfg, cfg, sizeof *cfg);
  inst->cfg = gcfg;
  struct ataru_mailbox *mb = inst->mb;
  mb->node_id_override = ATARU_NODE_ID_DEFAULT;
  mb->failed_node = ATARU_NO_NODE;
  for (uint32_t v = 0; v < ATARU_MAX_VCPUS; v++) mb->current_node[v] = ATARU_NO_NODE;
  if (add_memslots(inst, err) < 0) return -1;
  if (take_snapshot(inst, msg, sizeof msg) < 0) return ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "%s", msg);
  return 0;
}

/* Once memory is ready: wait for the vCPUs' setup, arm the timeouts and
 * put every vCPU at its entry. */
static int vcpus_go(struct ataru_instance *inst, ataru_error *err) {
  if (vcpus_ready(inst, err) < 0) return -1;
  if (ataru_timeouts_init(inst, vthread_tid(inst->thread[0])) < 0)
    return ataru_fail(err, ataru_errno_code(errno, ATARU_CREATE_INTERNAL), "timer_create: %s", strerror(errno));
  for (uint32_t v = 0; v < inst->num_vcpus; v++) {
    inst->vcpu[v].entry = v ? inst->rt.worker_entry : inst->rt.main_entry;
    vthread_post(inst->thread[v], enter_job, &inst->vjob[v]);
  }
  return 0;
}

ataru_instance *ataru_instance_create(const ataru_app_spec *spec, ataru_error *err) {
  uint64_t t0 = ataru_now_ns();
  memset(err, 0, sizeof *err);
  if (ataru_dag_validate(spec, err) < 0) return NULL;
  struct ataru_instance *inst = instance_alloc();
  struct ataru_config *cfg = calloc(1, sizeof *cfg);
  if (!inst || !cfg) {
    if (inst) ataru_instance_destroy(inst);
    free(cfg);
    ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "out of memory");
    return NULL;
  }
  ataru_kick_install();
  int rc = copy_spec(inst, spec) < 0 ? ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "out of memory") : 0;
  if (rc == 0) rc = take_vm(inst, err);
  if (rc == 0) rc = ataru_dag_build(inst, spec, cfg, err);
  if (rc == 0) rc = spec->tpl ? memory_from_template(inst, spec, err) : memory_from_images(inst, spec, cfg, err);
  if (rc == 0) rc = vcpus_go(inst, err);
  free(cfg);
  if (rc < 0) {
    ataru_instance_destroy(inst);
    return NULL;
  }
  inst->created = 1;
  inst->create_ns = ataru_now_ns() - t0;
  return inst;
}

void ataru_instance_destroy(ataru_instance *inst) {
  if (!inst) return;
  ataru_request_close(inst);
  /* vCPU 0's thread first: it finishes the request in progress (and one
   * queued, as CLOSED), which parks the workers; its last act deletes the
   * timer aimed at it. */
  if (inst->thread[0]) vthread_stop(inst->thread[0], ataru_timeouts_fini, inst);
  for (uint32_t v = 1; v < ATARU_MAX_VCPUS; v++)
    if (inst->thread[v]) vthread_stop(inst->thread[v], NULL, NULL);
  for (uint32_t v = 0; v < ATARU_MAX_VCPUS; v++) ataru_vcpu_close(&inst->vcpu[v]);
  ataru_vm_close(&inst->vm);
  ataru_snapshot_free(&inst->snap);
  ataru_mem_destroy(inst->mem);
  ataru_template_release(inst->tpl); /* after the memory that maps it */
  if (inst->node_name)
    for (uint32_t k = 0; k < inst->num_nodes; k++) free(inst->node_name[k]);
  free(inst->node_name);
  free(inst->input);
  free(inst->outbuf);
  pthread_mutex_destroy(&inst->req_lock);
  pthread_cond_destroy(&inst->req_cond);
  pthread_mutex_destroy(&inst->fail_lock);
  pthread_mutex_destroy(&inst->log_lock);
  free(inst);
}

/* ---- statistics and tests ---- */

uint64_t ataru_instance_create_ns(ataru_instance *inst) { return inst->create_ns; }

uint32_t ataru_instance_sinks(ataru_instance *inst, uint16_t *out) {
  memcpy(out, inst->sinks, inst->num_sinks * sizeof *out);
  return inst->num_sinks;
}

/* Memory of [addr, addr+len) from /proc/self/pagemap (bit 63: present,
 * 61: a file page — here: the template's, shared —, 56: mapped once, bits
 * 0-54: the frame, shown to CAP_SYS_ADMIN only). Private: present pages of
 * our own (anonymous: loaded or copied on write) mapped only here. PSS adds
 * each shared template page divided by its map count (/proc/kpagecount)
 * or, without the frame, by the mappings of its template we know of. Not
 * smaps: its totals are per VMA, and the kernel merges anonymous mappings
 * with their neighbours (malloc's, another instance's arena). */
struct mem_count {
  int pagemap, kpagecount;
  uint32_t sharers;     /* fallback divisor for shared pages */
  double private_bytes, pss_bytes;
};

static void count_range(struct mem_count *c, uintptr_t addr, uint64_t len) {
  uint64_t entries[512];
  uint64_t first = addr / ATARU_PAGE_SIZE, n = (len + ATARU_PAGE_SIZE - 1) / ATARU_PAGE_SIZE;
  for (uint64_t done = 0; done < n;) {
    uint64_t want = n - done < 512 ? n - done : 512;
    ssize_t got = pread(c->pagemap, entries, want * 8, (off_t)((first + done) * 8));
    if (got <= 0) break;
    for (ssize_t i = 0; i < got / 8; i++) {
      uint64_t e = entries[i];
      if (!(e >> 63 & 1)) continue;
      if (!(e >> 61 & 1)) {
        if (e >> 56 & 1) {
          c->private_bytes += ATARU_PAGE_SIZE;
          c->pss_bytes += ATARU_PAGE_SIZE;
        }
        continue;
      }
      uint64_t pfn = e & ((1ull << 55) - 1), count = 0;
      if (pfn && c->kpagecount >= 0 && pread(c->kpagecount, &count, 8, (off_t)(pfn * 8)) != 8) count = 0;
      c->pss_bytes += (double)ATARU_PAGE_SIZE / (double)(count ? count : c->sharers);
    }
    done += (uint64_t)got / 8;
  }
}

void ataru_instance_memory(ataru_instance *inst, uint64_t *private_bytes, uint64_t *pss_bytes) {
  *private_bytes = *pss_bytes = 0;
  struct mem_count c = {.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), .kpagecount = -1, .sharers = 1};
  if (c.pagemap < 0) return;
  if (inst->tpl) {
    c.kpagecount = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
    /* the template's view and layout arena, and each instance */
    uint32_t refs = __atomic_load_n(&inst->tpl->refs, __ATOMIC_RELAXED);
    c.sharers = refs + 1;
  }
  count_range(&c, (uintptr_t)ataru_mem_arena(inst->mem), ataru_mem_used(inst->mem));
  if (inst->snap.data && !inst->snap.borrowed) count_range(&c, (uintptr_t)inst->snap.data, inst->snap.data_len);
  close(c.pagemap);
  if (c.kpagecount >= 0) close(c.kpagecount);
  *private_bytes = (uint64_t)c.private_bytes;
  *pss_bytes = (uint64_t)c.pss_bytes;
}

int ataru_instance_test_hook(ataru_instance *inst, unsigned flags) {
  char err[128];
  for (uint32_t v = 0; v < inst->num_vcpus; v++) vthread_wait_idle(inst->thread[v]); /* entered */
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
  if (flags & ATARU_TEST_BREAK_IDT)
    for (uint32_t v = 0; v < inst->num_vcpus; v++) {
      inst->vcpu[v].break_idt = 1;
      inst->vcpu[v].needs_enter = 1;
    }
  if (flags & ATARU_TEST_FAIL_RESET) inst->fail_next_reset = 1;
  return 0;
}
