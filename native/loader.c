/*
 * loader.c — loads validated ELF images into guest memory and links them
 * (loader.h). Validation lives in elf.c; this file places images, maps their
 * segments, finds DT_NEEDED libraries and applies relocations.
 *
 * Page permissions. Segments are mapped with 4 KiB granularity (mem.c maps
 * whole pages, one physical run per call, no overlaps). The SDK links with
 * max-page-size=4096 and separate-code, so segments rarely share a page;
 * when two do (e.g. read-only data ending in the page where RELRO starts),
 * they are merged into one mapping with the union of their permissions,
 * unless that union would be writable and executable, which is rejected.
 * Pages whose writable bytes all lie in PT_GNU_RELRO are mapped read-only:
 * the host applies relocations through its own view of guest memory, so the
 * guest never needs write access there.
 *
 * COPY relocations copy the initial bytes of the definition into the
 * function; exec[0] and libraries are shared by every function of the VM,
 * so they keep their own variable (the SDK avoids COPY relocations with
 * -mno-direct-extern-access; see sdk/ataru.mk).
 */
#define _GNU_SOURCE
#include "loader.h"
#include "elf_image.h"
#include "../common/ataru_abi.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE ATARU_PAGE_SIZE
#define MAX_IMAGES 256
#define MAX_RUNS 32               /* mappings of one image */
#define FILE_LIMIT (2 * ELF_IMAGE_LIMIT)

struct run {                      /* one ataru_mem_map() of an image */
  uint64_t gva, len;
  uint8_t *host;
};

struct image {
  char *path;                     /* realpath: the identity of an image */
  char *label;                    /* for messages: "function /apps/sobel",
                                   * "library libm.so (needed by function /apps/sobel)" */
  const char *base_name;
  char *dir;                      /* folder of the path as given, with '/' (or ""):
                                   * where its DT_NEEDED libraries are looked up */
  uint8_t *file;
  struct elf_image elf;
  uint64_t base;                  /* added to every vaddr */
  struct run runs[MAX_RUNS];
  int nruns;
  int deps[MAX_IMAGES];           /* DT_NEEDED closure, breadth first */
  int ndeps;
  int linked;
};

struct ataru_loader {
  ataru_mem *mem;
  struct image *img[MAX_IMAGES];
  int nimg;
  int shared;                     /* index of exec[0], or -1 */
  int runtime_loaded;
  uint64_t next_slot;
  uint64_t bytes;
};

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

#define HX(v) ((unsigned long long)(v))

ataru_loader *ataru_loader_new(ataru_mem *mem) {
  ataru_loader *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->mem = mem;
  l->shared = -1;
  l->next_slot = ATARU_IMAGES_BASE;
  return l;
}

static void image_free(struct image *im) {
  if (!im) return;
  free(im->path);
  free(im->label);
  free(im->dir);
  elf_free_index(&im->elf);
  free(im->file);
  free(im);
}

void ataru_loader_free(ataru_loader *l) {
  if (!l) return;
  for (int i = 0; i < l->nimg; i++) image_free(l->img[i]);
  free(l);
}

uint64_t ataru_loader_image_bytes(const ataru_loader *l) { return l->bytes; }

static uint8_t *read_file(const char *path, const char *label, size_t *size, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fail(err, errlen, "%s: cannot open: %s", label, strerror(errno));
    return NULL;
  }
  struct stat st;
  uint8_t *buf = NULL;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    fail(err, errlen, "%s: not a regular file", label);
  } else if ((uint64_t)st.st_size > FILE_LIMIT) {
    fail(err, errlen, "%s: file is %lld bytes, over the limit of %llu", label, (long long)st.st_size,
         HX(FILE_LIMIT));
  } else if (!(buf = malloc(st.st_size ? (size_t)st.st_size : 1))) {
    fail(err, errlen, "%s: out of memory", label);
  } else {
    size_t got = 0;
    while (got < (size_t)st.st_size) {
      ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fail(err, errlen, "%s: read failed: %s", label, n ? strerror(errno) : "file shrank");
        free(buf);
        buf = NULL;
        break;
      }
      got += (size_t)n;
    }
    *size = got;
  }
  close(fd);
  return buf;
}

/* ---- guest memory of one image ---------------------------------------- */

/* Copies between the host and the image's guest memory at vaddr (relative
 * to the image), across its runs. 0, or -1 when a byte is not mapped. */
static int image_access(struct image *im, uint64_t vaddr, void *buf, uint64_t len, int write) {
  uint64_t gva = im->base + vaddr;
  uint8_t *p = buf;
  while (len) {
    int i = 0;
    while (i < im->nruns && !(gva >= im->runs[i].gva && gva - im->runs[i].gva < im->runs[i].len)) i++;
    if (i == im->nruns) return -1;
    const struct run *r = &im->runs[i];
    uint64_t n = r->len - (gva - r->gva);
    if (n > len) n = len;
    if (write) memcpy(r->host + (gva - r->gva), p, n);
    else memcpy(p, r->host + (gva - r->gva), n);
    gva += n, p += n, len -= n;
  }
  return 0;
}

/* Protection of page [pg, pg+PAGE): the union of the segments touching it;
 * writable only if some writable byte there lies outside RELRO. */
static unsigned page_prot(const struct elf_image *e, uint64_t pg) {
  unsigned prot = 0;
  int needs_write = 0;
  for (int i = 0; i < e->nph; i++) {
    const Elf64_Phdr *p = &e->ph[i];
    if (p->p_type != PT_LOAD || !p->p_memsz) continue;
    uint64_t a = p->p_vaddr > pg ? p->p_vaddr : pg;
    uint64_t b = p->p_vaddr + p->p_memsz < pg + PAGE ? p->p_vaddr + p->p_memsz : pg + PAGE;
    if (a >= b) continue;
    prot |= ATARU_PROT_R;
    if (p->p_flags & PF_X) prot |= ATARU_PROT_X;
    if ((p->p_flags & PF_W) && !(a >= e->relro_lo && b <= e->relro_hi)) needs_write = 1;
  }
  return prot | (needs_write ? ATARU_PROT_W : 0);
}

/* Maps the image's pages in runs of equal protection, then copies the file
 * bytes of every segment (the rest is zero: mem.c hands out zeroed pages). */
static int map_image(ataru_loader *l, struct image *im, char *err, size_t errlen) {
  const struct elf_image *e = &im->elf;
  uint64_t pg = e->lo;
  while (pg < e->hi) {
    unsigned prot = page_prot(e, pg);
    if ((prot & ATARU_PROT_W) && (prot & ATARU_PROT_X))
      return fail(err, errlen, "%s: segments share the page at 0x%llx and would be writable and executable "
                  "(link with -z separate-code, as sdk/ataru.mk does)", im->label, HX(pg));
    uint64_t end = pg + PAGE;
    while (end < e->hi && page_prot(e, end) == prot) end += PAGE;
    if (prot) {
      if (im->nruns == MAX_RUNS) return fail(err, errlen, "%s: more than %d mappings", im->label, MAX_RUNS);
      char merr[200];
      uint8_t *host = ataru_mem_map(l->mem, im->base + pg, end - pg, prot | ATARU_PROT_USER, merr, sizeof merr);
      if (!host) return fail(err, errlen, "%s: %s", im->label, merr);
      im->runs[im->nruns++] = (struct run){im->base + pg, end - pg, host};
      l->bytes += end - pg;
    }
    pg = end;
  }
  for (int i = 0; i < e->nph; i++) {
    const Elf64_Phdr *p = &e->ph[i];
    if (p->p_type != PT_LOAD || !p->p_filesz) continue;
    if (image_access(im, p->p_vaddr, (void *)(e->data + p->p_offset), p->p_filesz, 1))
      return fail(err, errlen, "%s: segment %d is not mapped", im->label, i);
  }
  return 0;
}

/* ---- images: reading, placing, dependencies ---------------------------- */

static const char *kind_word(enum ataru_elf_kind kind) {
  switch (kind) {
  case ATARU_ELF_RUNTIME: return "runtime";
  case ATARU_ELF_SHARED: return "exec[0]";
  case ATARU_ELF_FUNCTION: return "function";
  default: return "library";
  }
}

/* The image loaded from `real` for the role `kind`. Images are identified by
 * role, never by file alone (docs/app-definitions.md): the same file may be
 * exec[0], a node and a library at once, each loaded for its own role. */
static int find_image(const ataru_loader *l, const char *real, enum ataru_elf_kind kind) {
  for (int i = 0; i < l->nimg; i++)
    if (l->img[i]->elf.kind == kind && strcmp(l->img[i]->path, real) == 0) return i;
  return -1;
}

/* Reads, validates, places and maps one image; returns its index. needer:
 * the image whose DT_NEEDED this is (libraries only), named in messages. */
static int add_image(ataru_loader *l, const char *path, enum ataru_elf_kind kind, const struct image *needer, char *err,
                     size_t errlen) {
  char real[PATH_MAX];
  if (!realpath(path, real)) return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  if (l->nimg == MAX_IMAGES) return fail(err, errlen, "%s: more than %d images in one VM", path, MAX_IMAGES);
  struct image *im = calloc(1, sizeof *im);
  if (!im || !(im->path = strdup(real))) {
    image_free(im);
    return fail(err, errlen, "%s: out of memory", path);
  }
  const char *slash = strrchr(im->path, '/');
  im->base_name = slash ? slash + 1 : im->path;
  const char *given = strrchr(path, '/');
  im->dir = strndup(path, given ? (size_t)(given + 1 - path) : 0);
  int n = needer ? asprintf(&im->label, "%s %s (needed by %s)", kind_word(kind), im->base_name, needer->label)
                 : asprintf(&im->label, "%s %s", kind_word(kind), path);
  if (n < 0 || !im->dir) {
    if (n < 0) im->label = NULL;
    image_free(im);
    return fail(err, errlen, "%s: out of memory", path);
  }
  size_t size = 0;
  im->file = read_file(path, im->label, &size, err, errlen);
  if (!im->file || elf_parse(&im->elf, im->file, size, kind, im->label, err, errlen)) {
    image_free(im);
    return -1;
  }
  if (elf_index_exports(&im->elf)) {
    image_free(im);
    return fail(err, errlen, "%s: out of memory", path);
  }
  const struct elf_image *e = &im->elf;
  if (kind == ATARU_ELF_SHARED) {
    im->base = ATARU_SHARED_IMAGE_BASE - e->lo;
  } else if (kind != ATARU_ELF_RUNTIME) {
    /* The next 2 MiB slot; an unmapped slot after each image catches runs
     * off its end. */
    im->base = l->next_slot - e->lo;
    l->next_slot += (e->hi - e->lo + ATARU_IMAGE_ALIGN - 1) / ATARU_IMAGE_ALIGN * ATARU_IMAGE_ALIGN +
                    ATARU_IMAGE_ALIGN;
  }
  l->img[l->nimg] = im;
  if (map_image(l, im, err, errlen)) {
    image_free(im);
    return -1;
  }
  return l->nimg++;
}

/* 1 if DT_NEEDED name means exec[0] (its soname or file name). */
static int is_shared_image(const ataru_loader *l, const char *name) {
  if (l->shared < 0) return 0;
  const struct image *s = l->img[l->shared];
  const char *soname = s->elf.soname >= 0 ? elf_dynstr(&s->elf, (uint64_t)s->elf.soname) : NULL;
  return (soname && strcmp(soname, name) == 0) || strcmp(s->base_name, name) == 0;
}

/* Loads the DT_NEEDED libraries of image idx (and theirs), each from the
 * folder of the image that needs it, once per VM. */
static int load_needed(ataru_loader *l, int idx, char *err, size_t errlen) {
  struct image *im = l->img[idx];
  for (int i = 0; i < im->elf.nneeded; i++) {
    const char *name = elf_dynstr(&im->elf, im->elf.needed[i]);
    if (is_shared_image(l, name)) continue;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s%s", im->dir, name) >= (int)sizeof path)
      return fail(err, errlen, "%s: DT_NEEDED path too long", im->label);
    if (access(path, R_OK) != 0)
      return fail(err, errlen, "%s: needed library %s not found in %s", im->label, name,
                  *im->dir ? im->dir : "the current folder");
    char real[PATH_MAX];
    int dep = realpath(path, real) ? find_image(l, real, ATARU_ELF_LIBRARY) : -1;
    if (dep < 0) {
      dep = add_image(l, path, ATARU_ELF_LIBRARY, im, err, errlen);
      if (dep < 0 || load_needed(l, dep, err, errlen)) return -1;
    }
  }
  return 0;
}

/* The breadth-first DT_NEEDED closure of image idx (exec[0] and idx left out). */
static void collect_deps(ataru_loader *l, int idx) {
  struct image *im = l->img[idx];
  im->ndeps = 0;
  int queue[MAX_IMAGES], head = 0, tail = 0;
  char seen[MAX_IMAGES] = {0};
  seen[idx] = 1;
  queue[tail++] = idx;
  while (head < tail) {
    const struct image *cur = l->img[queue[head++]];
    for (int i = 0; i < cur->elf.nneeded; i++) {
      const char *name = elf_dynstr(&cur->elf, cur->elf.needed[i]);
      char path[PATH_MAX], real[PATH_MAX];
      if (is_shared_image(l, name)) continue;
      snprintf(path, sizeof path, "%s%s", cur->dir, name);
      int d = realpath(path, real) ? find_image(l, real, ATARU_ELF_LIBRARY) : -1;
      if (d < 0 || seen[d]) continue;
      seen[d] = 1;
      queue[tail++] = d;
      im->deps[im->ndeps++] = d;
    }
  }
}

/* ---- linking ------------------------------------------------------------ */

/* Finds name for image im: im itself, exec[0], then im's libraries. The
 * providing image (or NULL) and the symbol are returned. */
static struct image *lookup(ataru_loader *l, struct image *im, const char *name, int skip_self, Elf64_Sym *out) {
  if (!skip_self && elf_find_export(&im->elf, name, out)) return im;
  if (l->shared >= 0 && l->img[l->shared] != im && elf_find_export(&l->img[l->shared]->elf, name, out))
    return l->img[l->shared];
  for (int i = 0; i < im->ndeps; i++)
    if (elf_find_export(&l->img[im->deps[i]]->elf, name, out)) return l->img[im->deps[i]];
  return NULL;
}

static uint64_t sym_addr(const struct image *im, const Elf64_Sym *s) {
  return s->st_shndx == SHN_ABS ? s->st_value : im->base + s->st_value;
}

/* Writes a relocated value; elf.c checked that the target is inside a
 * writable segment, so a failure here is a loader bug, reported anyway. */
static int put(struct image *im, uint64_t vaddr, const void *v, uint64_t len, char *err, size_t errlen) {
  if (image_access(im, vaddr, (void *)v, len, 1) == 0) return 0;
  return fail(err, errlen, "%s: relocation target 0x%llx is not mapped", im->label, HX(vaddr));
}

static int relocate_one(ataru_loader *l, struct image *im, const Elf64_Rela *r, char *err, size_t errlen) {
  uint32_t type = ELF64_R_TYPE(r->r_info);
  uint64_t symi = ELF64_R_SYM(r->r_info);
  const struct elf_image *e = &im->elf;
  if (type == R_X86_64_NONE) return 0;
  if (type == R_X86_64_RELATIVE) {
    uint64_t v = im->base + (uint64_t)r->r_addend;
    return put(im, r->r_offset, &v, 8, err, errlen);
  }
  Elf64_Sym ref = elf_dynsym(e, symi), def;
  const char *name = elf_dynstr(e, ref.st_name);
  struct image *from = NULL;
  uint64_t s = 0;
  if (ref.st_shndx != SHN_UNDEF && type != R_X86_64_COPY) {
    from = im, def = ref; /* defined here: the image itself comes first */
  } else {
    from = lookup(l, im, name, type == R_X86_64_COPY, &def);
  }
  if (from) {
    s = sym_addr(from, &def);
  } else if (ELF64_ST_BIND(ref.st_info) != STB_WEAK || type == R_X86_64_COPY) {
    if (l->shared >= 0 && im != l->img[l->shared])
      return fail(err, errlen, "%s: undefined symbol %s (not in %s, exec[0], or its libraries)", im->label, name,
                  im->base_name);
    return fail(err, errlen, "%s: undefined symbol %s (not in %s or its libraries)", im->label, name,
                im->base_name);
  }
  uint64_t a = (uint64_t)r->r_addend, p = im->base + r->r_offset;
  switch (type) {
  case R_X86_64_64:
  case R_X86_64_GLOB_DAT:
  case R_X86_64_JUMP_SLOT: {
    uint64_t v = s + a;
    return put(im, r->r_offset, &v, 8, err, errlen);
  }
  case R_X86_64_PC32:
  case R_X86_64_32:
  case R_X86_64_32S: {
    uint64_t v = type == R_X86_64_PC32 ? s + a - p : s + a;
    int fits = type == R_X86_64_32 ? v <= UINT32_MAX : (int64_t)v >= INT32_MIN && (int64_t)v <= INT32_MAX;
    if (!fits)
      return fail(err, errlen, "%s: %s relocation at 0x%llx for %s: value 0x%llx does not fit in 32 bits",
                  im->label, elf_reloc_name(type), HX(r->r_offset), name, HX(v));
    uint32_t v32 = (uint32_t)v;
    return put(im, r->r_offset, &v32, 4, err, errlen);
  }
  case R_X86_64_COPY: {
    if (def.st_size != ref.st_size)
      return fail(err, errlen, "%s: COPY relocation for %s: %llu bytes here but %llu in %s", im->label, name,
                  HX(ref.st_size), HX(def.st_size), from->label);
    uint8_t buf[4096];
    for (uint64_t off = 0; off < def.st_size; off += sizeof buf) {
      uint64_t n = def.st_size - off < sizeof buf ? def.st_size - off : sizeof buf;
      if (image_access(from, s - from->base + off, buf, n, 0))
        return fail(err, errlen, "%s: COPY relocation for %s: the definition in %s is not mapped", im->label, name,
                    from->label);
      if (put(im, r->r_offset + off, buf, n, err, errlen)) return -1;
    }
    return 0;
  }
  }
  return fail(err, errlen, "%s: unsupported relocation type %u at 0x%llx", im->label, type, HX(r->r_offset));
}

static int link_image(ataru_loader *l, int idx, char *err, size_t errlen) {
  struct image *im = l->img[idx];
  if (im->linked) return 0;
  collect_deps(l, idx);
  for (int t = 0; t < 2; t++) {
    uint64_t n = t ? im->elf.jmprel_count : im->elf.rela_count;
    for (uint64_t i = 0; i < n; i++) {
      Elf64_Rela r = elf_rela(&im->elf, t, i);
      if (relocate_one(l, im, &r, err, errlen)) return -1;
    }
  }
  im->linked = 1;
  return 0;
}

/* Loads path for one role with the libraries not loaded yet, links what is
 * new; returns its index. Every call is a role of its own (the runtime, one
 * DAG node), so every call loads a copy of its own: two nodes naming the
 * same file, or a node naming exec[0]'s file, get separate images with
 * separate globals, as if their files were different. Libraries are loaded
 * once per VM and shared by the functions that need them. */
static int load_linked(ataru_loader *l, const char *path, enum ataru_elf_kind kind, char *err, size_t errlen) {
  int first = l->nimg;
  int idx = add_image(l, path, kind, NULL, err, errlen);
  if (idx < 0 || load_needed(l, idx, err, errlen)) return -1;
  /* Libraries first, deepest first, so COPY sources are already relocated. */
  for (int i = l->nimg - 1; i >= first; i--)
    if (link_image(l, i, err, errlen)) return -1;
  return idx;
}

static int entry_symbol(const struct image *im, const char *name, uint64_t *addr, char *err, size_t errlen) {
  Elf64_Sym s;
  if (!elf_find_symbol(&im->elf, name, &s))
    return fail(err, errlen, "%s: no symbol %s", im->label, name);
  if (!elf_in_segment(&im->elf, s.st_value, 1, PF_X))
    return fail(err, errlen, "%s: symbol %s (0x%llx) is not inside an executable segment", im->label, name,
                HX(s.st_value));
  *addr = sym_addr(im, &s);
  return 0;
}

int ataru_loader_load_runtime(ataru_loader *l, const char *path, struct ataru_runtime_symbols *syms,
                              char *err, size_t errlen) {
  if (l->runtime_loaded) return fail(err, errlen, "%s: the runtime is already loaded", path);
  int idx = load_linked(l, path, ATARU_ELF_RUNTIME, err, errlen);
  if (idx < 0) return -1;
  l->runtime_loaded = 1;
  const struct image *im = l->img[idx];
  if (entry_symbol(im, "ataru_runtime_main_entry", &syms->main_entry, err, errlen) ||
      entry_symbol(im, "ataru_runtime_worker_entry", &syms->worker_entry, err, errlen) ||
      entry_symbol(im, "ataru_runtime_done_exit", &syms->done_exit, err, errlen) ||
      entry_symbol(im, "ataru_runtime_park_exit", &syms->park_exit, err, errlen) ||
      entry_symbol(im, "ataru_runtime_floor_exit", &syms->floor_exit, err, errlen))
    return -1;
  return 0;
}

int ataru_loader_load_shared(ataru_loader *l, const char *path, char *err, size_t errlen) {
  if (l->shared >= 0) return fail(err, errlen, "%s: exec[0] is already loaded", path);
  /* exec[0] is in place before its own libraries link against it. */
  int first = l->nimg;
  if (add_image(l, path, ATARU_ELF_SHARED, NULL, err, errlen) < 0) return -1;
  l->shared = first;
  if (load_needed(l, first, err, errlen)) return -1;
  for (int i = l->nimg - 1; i >= first; i--)
    if (link_image(l, i, err, errlen)) return -1;
  return 0;
}

int ataru_loader_load_function(ataru_loader *l, const char *path, uint64_t *entry, char *err, size_t errlen) {
  int idx = load_linked(l, path, ATARU_ELF_FUNCTION, err, errlen);
  if (idx < 0) return -1;
  const struct image *im = l->img[idx];
  Elf64_Sym s;
  if (elf_find_export(&im->elf, "entry", &s)) {
    if (!elf_in_segment(&im->elf, s.st_value, 1, PF_X))
      return fail(err, errlen, "%s: symbol entry (0x%llx) is not inside an executable segment", im->label,
                  HX(s.st_value));
    *entry = sym_addr(im, &s);
  } else {
    *entry = im->base + im->elf.eh.e_entry;
  }
  return 0;
}
