/* spare.c — the spare VM (see spare.h). */
#define _GNU_SOURCE
#include "spare.h"
#include "kick.h"
#include "mem.h" /* ATARU_MEM_CR3 */

#include <pthread.h>
#include <stdlib.h>

enum spare_state { SPARE_BUILDING, SPARE_READY, SPARE_FAILED };

struct spare {
  enum spare_state state;    /* under `lock` */
  struct ataru_spare_vm vm;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct spare *spare;      /* at most one; owned by whoever clears it */

static void release(struct spare *s) {
  vthread_stop(s->vm.thread, NULL, NULL); /* waits for a build in progress */
  ataru_vcpu_close(&s->vm.vcpu0);
  ataru_vm_close(&s->vm.vm);
  free(s);
}

/* The build job, on the spare's own thread. */
static void build(void *arg) {
  struct spare *s = arg;
  ataru_error err;
  int ok = ataru_vm_create(&s->vm.vm, &err) == 0 &&
           ataru_vcpu_create(&s->vm.vcpu0, &s->vm.vm, ATARU_MEM_CR3, &err) == 0;
  pthread_mutex_lock(&lock);
  s->state = ok ? SPARE_READY : SPARE_FAILED;
  pthread_mutex_unlock(&lock);
}

static void free_at_exit(void) {
  pthread_mutex_lock(&lock);
  struct spare *s = spare;
  spare = NULL;
  pthread_mutex_unlock(&lock);
  if (s) release(s);
}

static void register_exit(void) { atexit(free_at_exit); }

int ataru_spare_take(struct ataru_spare_vm *out) {
  pthread_mutex_lock(&lock);
  struct spare *s = spare;
  if (!s || s->state == SPARE_BUILDING) {
    pthread_mutex_unlock(&lock);
    return 0;
  }
  spare = NULL;
  pthread_mutex_unlock(&lock);
  if (s->state == SPARE_FAILED) {
    release(s);
    return 0;
  }
  *out = s->vm;
  free(s);
  return 1;
}

void ataru_spare_refill(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, register_exit);
  pthread_mutex_lock(&lock);
  if (spare) {
    pthread_mutex_unlock(&lock);
    return;
  }
  struct spare *s = calloc(1, sizeof *s);
  if (!s) {
    pthread_mutex_unlock(&lock);
    return;
  }
  s->state = SPARE_BUILDING;
  s->vm.vm.kvm_fd = s->vm.vm.vm_fd = -1;
  ataru_vcpu_init(&s->vm.vcpu0, 0);
  ataru_kick_install();
  s->vm.thread = vthread_start(ataru_kick_signo(), ATARU_VCPU0_IDLE_SPIN_NS, 0);
  if (!s->vm.thread || vthread_post(s->vm.thread, build, s) < 0) {
    if (s->vm.thread) vthread_stop(s->vm.thread, NULL, NULL);
    free(s);
  } else {
    spare = s;
  }
  pthread_mutex_unlock(&lock);
}
