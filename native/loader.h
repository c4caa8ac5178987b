/*
 * loader.h — loading ELF images into a VM's guest memory, with full
 * validation, and binding them by name (a small host-side dynamic linker).
 *
 * Kinds of image:
 *  - the runtime: ET_EXEC linked at ATARU_RUNTIME_BASE (guest/runtime.ld);
 *  - the shared code image (exec[0]): ET_DYN loaded at ATARU_SHARED_IMAGE_BASE;
 *  - functions: ET_DYN (static PIE or PIE linked against exec[0] / libs),
 *    each at the next free ATARU_IMAGE_ALIGN slot from ATARU_IMAGES_BASE;
 *  - a function's DT_NEEDED libraries, found in the function's own folder,
 *    loaded once per VM.
 * The same path is loaded once per VM even when several nodes use it.
 * Symbols are resolved in this order: the image itself, exec[0], then the
 * image's DT_NEEDED libraries (breadth first). Relocations supported:
 * R_X86_64_NONE, 64, RELATIVE, GLOB_DAT, JUMP_SLOT, COPY (and PC32/32/32S
 * range-checked where they can appear in dynamic relocations).
 * Every rejection writes a message that names the file and what is wrong.
 */
#ifndef ATARU_LOADER_H
#define ATARU_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include "mem.h"

typedef struct ataru_loader ataru_loader;

/* The kinds of image (what each may be and must contain: elf.c). */
enum ataru_elf_kind {
  ATARU_ELF_RUNTIME = 0,   /* guest/runtime.elf                     */
  ATARU_ELF_SHARED = 1,    /* exec[0], the shared code image         */
  ATARU_ELF_FUNCTION = 2,
  ATARU_ELF_LIBRARY = 3,   /* a function's DT_NEEDED library         */
};

ataru_loader *ataru_loader_new(ataru_mem *mem);
void ataru_loader_free(ataru_loader *l);

/* The runtime's addresses the host relies on (guest/start.S). */
struct ataru_runtime_symbols {
  uint64_t main_entry, worker_entry;   /* where vCPUs enter              */
  uint64_t done_exit, park_exit;       /* the `out DONE` / `out PARK` of the
                                        * top-level loops: the only places
                                        * those exits are honoured from   */
  uint64_t floor_exit;                 /* the exit-floor loop's `out DONE` */
};

/* Loads guest/runtime.elf (ET_EXEC at ATARU_RUNTIME_BASE) and finds its
 * symbols (ataru_runtime_main_entry, _worker_entry, _done_exit, _park_exit,
 * _floor_exit). Returns 0, or -1 with err. */
int ataru_loader_load_runtime(ataru_loader *l, const char *path, struct ataru_runtime_symbols *syms,
                              char *err, size_t errlen);

/* Loads exec[0] at ATARU_SHARED_IMAGE_BASE. At most once per loader. */
int ataru_loader_load_shared(ataru_loader *l, const char *path, char *err, size_t errlen);

/* Loads a function (once per path) and returns the address of its `entry`
 * symbol (or e_entry if it exports no `entry`). Must come after
 * load_shared when there is an exec[0]. */
int ataru_loader_load_function(ataru_loader *l, const char *path, uint64_t *entry,
                               char *err, size_t errlen);

/* Bytes of guest memory taken by loaded images (for statistics). */
uint64_t ataru_loader_image_bytes(const ataru_loader *l);

/* Pure validation of an ELF file in memory, without loading (used by
 * `ataru build`/deploy checks and the malformed-ELF tests). */
int ataru_elf_validate(const uint8_t *data, size_t len, enum ataru_elf_kind kind, char *err, size_t errlen);

/* Validates like ataru_elf_validate, then calls `each` with every DT_NEEDED
 * name in file order (the server collects a control-port function's
 * libraries from its folder with it). */
int ataru_elf_needed(const uint8_t *data, size_t len, enum ataru_elf_kind kind,
                     void (*each)(const char *name, void *ctx), void *ctx, char *err, size_t errlen);

#endif
