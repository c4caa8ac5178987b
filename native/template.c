/*
 * template.c — build, store, open and release templates (template.h).
 *
 * Stored form (one file per app version, written whole to a temporary name
 * and renamed):
 *
 *   header      struct file_header, at 0
 *   layout      nmap struct ataru_mem_mapping, at map_off
 *   classes     npages uint32_t (reset.h: SNAP_KEEP, 0, 1 + page), at page_off
 *   memory      guest-physical [0, bytes) at data_off (page aligned), zero
 *               pages left as holes
 *
 * The file is mapped, never read into memory: instances map its memory
 * part privately, as they map a built template's memfd. Everything read
 * back is checked before use (bounds, the DAG config against the spec): the
 * data dir is trusted like the blob store, but a damaged file must fail the
 * open, not the server.
 */
#define _GNU_SOURCE
#include "template.h"
#include "dag.h"
#include "instance.h"
#include "request.h"
#include "reset.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* An init with no app timeout still ends: it holds up a deploy. */
#define INIT_TIMEOUT_DEFAULT_NS (60ull * 1000000000ull)

#define FILE_MAGIC "ATARUTPL"
#define FILE_VERSION 1u
#define KEY_MAX 128

struct file_header {
  char magic[8];
  uint32_t version, header_size;
  char key[KEY_MAX];
  uint64_t bytes, npages, data_pages;
  uint64_t layout_next, layout_size;
  uint32_t nmap, pad;
  uint64_t map_off, page_off, data_off;
  struct ataru_runtime_symbols rt;
  uint64_t hot_bytes, mb_gpa, mb_bytes, shm_gpa, shm_size;
  uint64_t stack_top_gpa[ATARU_MAX_VCPUS];
  uint32_t num_vcpus, num_nodes, inits, pad2;
  uint64_t init_ns;
  uint64_t config_size, mailbox_size; /* the ABI the file was written with */
};

static uint64_t page_up(uint64_t x) { return (x + ATARU_PAGE_SIZE - 1) & ~(uint64_t)(ATARU_PAGE_SIZE - 1); }

/* Whether page p holds data (writable pages by their class, the others —
 * code, page tables, the config — by their bytes). */
static int page_has_data(const uint32_t *page, const uint8_t *mem, uint64_t p) {
  if (page[p] == SNAP_KEEP) return !ataru_page_is_zero(mem + p * ATARU_PAGE_SIZE);
  return page[p] != 0;
}

/* Writes the data pages of mem[0, npages) to fd at `offset`, in runs;
 * zero pages stay holes. Returns the pages written, or -1. */
static int64_t write_pages(int fd, uint64_t offset, const uint8_t *mem, const uint32_t *page, uint64_t npages) {
  int64_t written = 0;
  for (uint64_t p = 0; p < npages;) {
    if (!page_has_data(page, mem, p)) {
      p++;
      continue;
    }
    uint64_t end = p + 1;
    while (end < npages && page_has_data(page, mem, end)) end++;
    for (uint64_t off = p * ATARU_PAGE_SIZE, stop = end * ATARU_PAGE_SIZE; off < stop;) {
      ssize_t n = pwrite(fd, mem + off, stop - off, (off_t)(offset + off));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return -1;
      off += (uint64_t)n;
    }
    written += (int64_t)(end - p);
    p = end;
  }
  return written;
}

static struct ataru_template *template_new(void) {
  struct ataru_template *t = calloc(1, sizeof *t);
  if (t) {
    t->refs = 1;
    t->fd = -1;
  }
  return t;
}

/* ---- building ---- */

struct init_job {
  struct ataru_instance *inst;
  uint64_t timeout_ns;
  struct failure f;
  uint32_t count;
  int rc;
  uint64_t ns;
};

static void init_job(void *arg) {
  struct init_job *j = arg;
  uint64_t t0 = ataru_now_ns();
  j->rc = ataru_request_run_inits(j->inst, j->timeout_ns, &j->f, &j->count);
  j->ns = ataru_now_ns() - t0;
}

/* What init's run left in the mailbox and on the stacks is not state: put
 * back from the instance's own (pre-init) snapshot. */
static void restore_scratch(struct ataru_instance *b, uint64_t stack_size) {
  uint8_t *arena = ataru_mem_arena(b->mem);
  ataru_snapshot_restore(&b->snap, b->mb_gpa, b->mb_bytes);
  for (uint32_t v = 0; v < b->num_vcpus; v++) {
    uint64_t end = ATARU_STACKS_BASE + (v + 1) * ATARU_STACK_SLOT;
    ataru_snapshot_restore(&b->snap, b->stack_top_gpa[v], ATARU_PAGE_SIZE);
    uint8_t *rest = ataru_mem_host(b->mem, end - stack_size, stack_size - ATARU_PAGE_SIZE);
    if (rest) ataru_snapshot_restore(&b->snap, (uint64_t)(rest - arena), stack_size - ATARU_PAGE_SIZE);
  }
}

ataru_template *ataru_template_create(const ataru_app_spec *spec, ataru_error *err) {
  uint64_t t0 = ataru_now_ns();
  memset(err, 0, sizeof *err);
  ataru_app_spec s = *spec;
  s.tpl = NULL;
  struct ataru_instance *b = ataru_instance_create(&s, err);
  if (!b) return NULL;
  for (uint32_t v = 0; v < b->num_vcpus; v++) vthread_wait_idle(b->thread[v]); /* entered, probed */
  struct init_job j = {.inst = b};
  j.timeout_ns = spec->init_timeout_us ? spec->init_timeout_us * 1000u
                 : spec->timeout_us    ? spec->timeout_us * 1000u
                                       : INIT_TIMEOUT_DEFAULT_NS;
  if (vthread_call(b->thread[0], init_job, &j) < 0) {
    ataru_fail(err, ATARU_CREATE_INTERNAL, "the vCPU-0 thread stopped before init");
    ataru_instance_destroy(b);
    return NULL;
  }
  if (j.rc < 0) {
    ataru_fail(err, ATARU_CREATE_INIT_FAILED, "%s", j.f.message);
    err->node = j.f.node;
    ataru_instance_destroy(b);
    return NULL;
  }
  restore_scratch(b, page_up(spec->stack_size ? spec->stack_size : ATARU_STACK_DEFAULT));

  struct ataru_template *t = template_new();
  uint8_t *writable = NULL;
  if (!t) goto oom;
  t->bytes = b->slot_bytes;
  t->npages = t->bytes / ATARU_PAGE_SIZE;
  writable = calloc(t->npages ? t->npages : 1, 1);
  if (!writable) goto oom;
  uint8_t *arena = ataru_mem_arena(b->mem);
  ataru_mem_mark_writable(b->mem, writable, t->npages);
  if (!(t->page = ataru_snapshot_classify(arena, t->npages, writable))) goto oom;
  free(writable);
  writable = NULL;
  t->fd = memfd_create("ataru-template", MFD_CLOEXEC);
  if (t->fd < 0 || ftruncate(t->fd, (off_t)t->bytes) < 0) {
    ataru_fail(err, ataru_errno_code(errno, ATARU_CREATE_INTERNAL), "template memfd: %s", strerror(errno));
    goto fail;
  }
  int64_t pages = write_pages(t->fd, 0, arena, t->page, t->npages);
  if (pages < 0) {
    ataru_fail(err, ataru_errno_code(errno, ATARU_CREATE_NO_RESOURCES), "writing the template: %s", strerror(errno));
    goto fail;
  }
  t->data_pages = (uint64_t)pages;
  t->view = mmap(NULL, t->bytes, PROT_READ, MAP_SHARED, t->fd, 0);
  if (t->view == MAP_FAILED) {
    t->view = NULL;
    ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "mapping the template: %s", strerror(errno));
    goto fail;
  }
  t->rt = b->rt;
  t->hot_bytes = b->hot_bytes;
  t->mb_gpa = b->mb_gpa;
  t->mb_bytes = b->mb_bytes;
  t->shm_gpa = b->shm_gpa;
  t->shm_size = b->shm_size;
  memcpy(t->stack_top_gpa, b->stack_top_gpa, sizeof t->stack_top_gpa);
  t->num_vcpus = b->num_vcpus;
  t->num_nodes = b->num_nodes;
  t->inits = j.count;
  t->init_ns = j.ns;
  /* The layout is the builder's: its table stays, its memory becomes a
   * private (untouched) mapping of the memfd once its VM is gone. */
  t->layout = b->mem;
  b->mem = NULL;
  ataru_instance_destroy(b);
  b = NULL;
  if (ataru_mem_adopt(t->layout, t->fd, 0, t->bytes) < 0) {
    ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "remapping the template: %s", strerror(errno));
    goto fail;
  }
  t->build_ns = ataru_now_ns() - t0;
  return t;
oom:
  ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "out of memory building the template");
fail:
  free(writable);
  if (b) ataru_instance_destroy(b);
  ataru_template_release(t);
  return NULL;
}

/* ---- storing ---- */

int ataru_template_save(const ataru_template *t, const char *path, const char *key, ataru_error *err) {
  memset(err, 0, sizeof *err);
  if (strlen(key) >= KEY_MAX) return ataru_fail(err, ATARU_CREATE_BAD_SPEC, "template key longer than %d", KEY_MAX - 1);
  struct file_header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, FILE_MAGIC, 8);
  h.version = FILE_VERSION;
  h.header_size = sizeof h;
  snprintf(h.key, sizeof h.key, "%s", key);
  h.bytes = t->bytes;
  h.npages = t->npages;
  h.data_pages = t->data_pages;
  int nmap;
  const struct ataru_mem_mapping *maps = ataru_mem_layout(t->layout, &nmap, &h.layout_next, &h.layout_size);
  h.nmap = (uint32_t)nmap;
  h.map_off = sizeof h;
  h.page_off = h.map_off + (uint64_t)nmap * sizeof *maps;
  h.data_off = page_up(h.page_off + t->npages * sizeof *t->page);
  h.rt = t->rt;
  h.hot_bytes = t->hot_bytes;
  h.mb_gpa = t->mb_gpa;
  h.mb_bytes = t->mb_bytes;
  h.shm_gpa = t->shm_gpa;
  h.shm_size = t->shm_size;
  memcpy(h.stack_top_gpa, t->stack_top_gpa, sizeof h.stack_top_gpa);
  h.num_vcpus = t->num_vcpus;
  h.num_nodes = t->num_nodes;
  h.inits = t->inits;
  h.init_ns = t->init_ns;
  h.config_size = sizeof(struct ataru_config);
  h.mailbox_size = sizeof(struct ataru_mailbox);

  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof tmp)
    return ataru_fail(err, ATARU_CREATE_BAD_SPEC, "template path too long");
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ataru_fail(err, ataru_errno_code(errno, ATARU_CREATE_INTERNAL), "%s: %s", tmp, strerror(errno));
  int ok = pwrite(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
           pwrite(fd, maps, (size_t)nmap * sizeof *maps, (off_t)h.map_off) == (ssize_t)((size_t)nmap * sizeof *maps) &&
           pwrite(fd, t->page, t->npages * sizeof *t->page, (off_t)h.page_off) ==
               (ssize_t)(t->npages * sizeof *t->page) &&
           ftruncate(fd, (off_t)(h.data_off + t->bytes)) == 0 &&
           write_pages(fd, h.data_off, t->view, t->page, t->npages) >= 0 && fsync(fd) == 0;
  int e = errno;
  close(fd);
  if (!ok || rename(tmp, path) < 0) {
    if (ok) e = errno;
    unlink(tmp);
    return ataru_fail(err, ataru_errno_code(e, ATARU_CREATE_INTERNAL), "storing the template at %s: %s", path,
                      strerror(e));
  }
  return 0;
}

/* ---- opening ---- */

/* The stored DAG config must be the one the spec gives (the host trusts
 * its offsets when it reads outputs), and its entries must be code. */
static int check_config(struct ataru_template *t, const ataru_app_spec *spec, ataru_error *err) {
  const struct ataru_config *c = ataru_mem_host(t->layout, ATARU_CONFIG_BASE, sizeof *c);
  unsigned prot;
  if (!c || ataru_mem_prot(t->layout, ATARU_CONFIG_BASE, &prot) < 0 || (prot & ATARU_PROT_W))
    return ataru_fail(err, ATARU_CREATE_BAD_TEMPLATE, "no read-only DAG config in the template");
  struct ataru_instance *probe = calloc(1, sizeof *probe);
  struct ataru_config *want = calloc(1, sizeof *want);
  int rc = -1;
  if (!probe || !want) {
    ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "out of memory");
    goto out;
  }
  probe->shm_size = t->shm_size;
  if (ataru_dag_build(probe, spec, want, err) < 0) goto out;
  int same = c->magic == want->magic && c->num_nodes == want->num_nodes && c->num_vcpus == want->num_vcpus &&
             c->shm_base == want->shm_base && c->shm_size == want->shm_size && c->num_roots == want->num_roots &&
             !memcmp(c->roots, want->roots, sizeof c->roots) && !memcmp(c->children, want->children, sizeof c->children);
  for (uint32_t k = 0; same && k < c->num_nodes; k++) {
    const struct ataru_node_config *a = &c->node[k], *w = &want->node[k];
    same = a->inp_off == w->inp_off && a->out_off == w->out_off && a->in_count == w->in_count &&
           a->child_first == w->child_first && a->child_end == w->child_end && a->input_parent == w->input_parent &&
           ataru_mem_prot(t->layout, a->entry, &prot) == 0 && (prot & ATARU_PROT_X) &&
           (!a->init || (ataru_mem_prot(t->layout, a->init, &prot) == 0 && (prot & ATARU_PROT_X)));
  }
  if (!same) ataru_fail(err, ATARU_CREATE_BAD_TEMPLATE, "the stored DAG config is not this app's");
  else rc = 0;
out:
  free(probe);
  free(want);
  return rc;
}

static int check_header(const struct file_header *h, const ataru_app_spec *spec, const char *key, uint64_t file_size,
                        ataru_error *err) {
  if (memcmp(h->magic, FILE_MAGIC, 8) || h->version != FILE_VERSION || h->header_size != sizeof *h ||
      h->config_size != sizeof(struct ataru_config) || h->mailbox_size != sizeof(struct ataru_mailbox))
    return ataru_fail(err, ATARU_CREATE_BAD_TEMPLATE, "not a template of this version of Ataru");
  if (strncmp(h->key, key, KEY_MAX)) return ataru_fail(err, ATARU_CREATE_BAD_TEMPLATE, "the template is of other binaries");
  uint64_t shm = page_up(spec->shm_size ? spec->shm_size : ATARU_SHM_DEFAULT);
  if (h->num_vcpus != spec->vcpus || h->num_nodes != spec->num_nodes || h->shm_size != shm)
    return ataru_fail(err, ATARU_CREATE_BAD_TEMPLATE, "the template is of another layout (vCPUs, nodes or shared region)");
  int ok = h->bytes && !(h->bytes & (ATARU_PAGE_SIZE - 1)) && h->npages == h->bytes / ATARU_PAGE_SIZE &&
           h->npages < UINT32_MAX - 1 && h->nmap <= ATARU_MEM_MAX_MAPPINGS && h->map_off == sizeof *h &&
           h->page_off == h->map_off + (uint64_t)h->nmap * sizeof(struct ataru_mem_mapping) &&
           h->data_off == page_up(h->page_off + h->npages * sizeof(uint32_t)) && file_size >= h->data_off + h->bytes &&
           h->layout_next == h->bytes && h->mb_bytes && h->mb_gpa + h->mb_bytes <= h->hot_bytes &&
           h->hot_bytes <= h->bytes && h->shm_gpa >= h->hot_bytes && h->shm_size <= h->bytes - h->shm_gpa &&
           h->num_vcpus >= 1 && h->num_vcpus <= ATARU_MAX_VCPUS;
  for (uint32_t v = 0; ok && v < h->num_vcpus; v++) ok = h->stack_top_gpa[v] + ATARU_PAGE_SIZE <= h->hot_bytes;
  return ok ? 0 : ataru_fail(err, ATARU_CREATE_BAD_TEMPLATE, "the template's header is out of bounds");
}

ataru_template *ataru_template_open(const ataru_app_spec *spec, const char *path, const char *key, ataru_error *err) {
  uint64_t t0 = ataru_now_ns();
  memset(err, 0, sizeof *err);
  struct ataru_template *t = template_new();
  struct ataru_mem_mapping *maps = NULL;
  if (!t) {
    ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "out of memory");
    return NULL;
  }
  struct file_header h;
  struct stat st;
  t->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (t->fd < 0 || fstat(t->fd, &st) < 0) {
    ataru_fail(err, errno == ENOENT ? ATARU_CREATE_BAD_TEMPLATE : ataru_errno_code(errno, ATARU_CREATE_INTERNAL),
               "%s: %s", path, strerror(errno));
    goto fail;
  }
  if (!S_ISREG(st.st_mode) || pread(t->fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
    ataru_fail(err, ATARU_CREATE_BAD_TEMPLATE, "%s: not a template file", path);
    goto fail;
  }
  if (check_header(&h, spec, key, (uint64_t)st.st_size, err) < 0) goto fail;
  t->bytes = h.bytes;
  t->npages = h.npages;
  t->offset = h.data_off;
  maps = calloc(h.nmap ? h.nmap : 1, sizeof *maps);
  t->page = calloc(t->npages, sizeof *t->page);
  if (!maps || !t->page) {
    ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "out of memory");
    goto fail;
  }
  if (pread(t->fd, maps, h.nmap * sizeof *maps, (off_t)h.map_off) != (ssize_t)(h.nmap * sizeof *maps) ||
      pread(t->fd, t->page, t->npages * sizeof *t->page, (off_t)h.page_off) != (ssize_t)(t->npages * sizeof *t->page)) {
    ataru_fail(err, ATARU_CREATE_BAD_TEMPLATE, "%s: truncated", path);
    goto fail;
  }
  for (uint64_t p = 0; p < t->npages; p++)
    if (t->page[p] != SNAP_KEEP && t->page[p] != 0 && t->page[p] != p + 1) {
      ataru_fail(err, ATARU_CREATE_BAD_TEMPLATE, "%s: page class %llu out of range", path, (unsigned long long)p);
      goto fail;
    }
  char msg[256];
  t->layout = ataru_mem_from_layout(maps, (int)h.nmap, h.layout_next, h.layout_size, t->fd, t->offset, t->bytes, msg,
                                    sizeof msg);
  if (!t->layout) {
    ataru_fail(err, ATARU_CREATE_BAD_TEMPLATE, "%s: %s", path, msg);
    goto fail;
  }
  t->view = mmap(NULL, t->bytes, PROT_READ, MAP_SHARED, t->fd, (off_t)t->offset);
  if (t->view == MAP_FAILED) {
    t->view = NULL;
    ataru_fail(err, ATARU_CREATE_NO_RESOURCES, "mapping %s: %s", path, strerror(errno));
    goto fail;
  }
  t->data_pages = h.data_pages;
  t->rt = h.rt;
  t->hot_bytes = h.hot_bytes;
  t->mb_gpa = h.mb_gpa;
  t->mb_bytes = h.mb_bytes;
  t->shm_gpa = h.shm_gpa;
  t->shm_size = h.shm_size;
  memcpy(t->stack_top_gpa, h.stack_top_gpa, sizeof t->stack_top_gpa);
  t->num_vcpus = h.num_vcpus;
  t->num_nodes = h.num_nodes;
  t->inits = h.inits;
  t->init_ns = h.init_ns;
  t->opened = 1;
  if (check_config(t, spec, err) < 0) goto fail;
  free(maps);
  t->build_ns = ataru_now_ns() - t0;
  return t;
fail:
  free(maps);
  ataru_template_release(t);
  return NULL;
}

void ataru_template_describe(const ataru_template *t, ataru_template_info *out) {
  memset(out, 0, sizeof *out);
  out->guest_bytes = t->bytes;
  out->data_bytes = t->data_pages * ATARU_PAGE_SIZE;
  out->inits = t->inits;
  out->init_ns = t->init_ns;
  out->build_ns = t->build_ns;
  out->opened = t->opened;
  out->instances = __atomic_load_n(&t->refs, __ATOMIC_RELAXED) - 1;
}
