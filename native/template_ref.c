/*
 * template_ref.c — a template's references (template.h). Apart from
 * template.c because instances hold references too: instance.c calls this
 * file, template.c calls instance.c, and no two native files may call each
 * other (test/native/layering.test.ts).
 */
#define _GNU_SOURCE
#include "template.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void ataru_template_ref(struct ataru_template *t) { __atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED); }
void ataru_template_retain(ataru_template *t) { ataru_template_ref(t); }

void ataru_template_release(ataru_template *t) {
  if (!t || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL)) return;
  if (t->view) munmap(t->view, t->bytes);
  ataru_mem_destroy(t->layout);
  if (t->fd >= 0) close(t->fd);
  free(t->page);
  free(t);
}
