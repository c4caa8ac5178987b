/*
 * spare.c — one VM built ahead of time, for cold starts.
 *
 * Creating a VM and setting up its first vCPU (KVM_CREATE_VM, KVM_CREATE_VCPU,
 * mmap of kvm_run, CPUID/XCR0/MSRs/SREGS, the thread) is ~500 µs of a
 * ~1 ms cold start on kvm_pvm, and none of it depends on the app (CR3 is
 * the same in every arena: ATARU_MEM_CR3). So the process keeps at most one
 * such spare: ataru_instance_create takes it, and after an instance's first
 * request (off the latency path) a new one is built in the background if
 * there is none. Built during a create or a first request it would slow
 * them: VM creation holds up the process's page faults and memslot updates.
 * So a process that never creates an instance creates no spare VM.
 *
 * The spare's thread builds it and then waits; it created vCPU 0 and
 * becomes the taking instance's vCPU-0 thread (a vCPU is run only from the
 * thread that will run it: KVM_RUN from another thread is slow). Workers
 * (vCPUs 1..n-1) are created by the instance as before.
 */
#define _GNU_SOURCE
#include "instance.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum spare_state { SPARE_BUILDING, SPARE_READY, SPARE_FAILED };

struct spare {
  pthread_t thread;
  enum spare_state state;
  int quit;                      /* process exit: free it */
  struct ataru_instance *inst;   /* set when taken */
  int kvm_fd, vm_fd, dirty_manual;
  struct ataru_vcpu v0;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct spare *spare;      /* at most one; owned by whoever clears it */

static void release(struct spare *s) {
  if (s->v0.run) munmap(s->v0.run, s->v0.run_size);
  if (s->v0.fd >= 0) close(s->v0.fd);
  if (s->vm_fd >= 0) close(s->vm_fd);
  if (s->kvm_fd >= 0) close(s->kvm_fd);
}

static void *spare_main(void *arg) {
  struct spare *s = arg;
  char err[256];
  ataru_vcpu_thread_init();
  int ok = ataru_vm_create(&s->kvm_fd, &s->vm_fd, &s->dirty_manual, err, sizeof err) == 0 &&
           ataru_vcpu_create(&s->v0, s->kvm_fd, s->vm_fd, ATARU_MEM_CR3, err, sizeof err) == 0;
  pthread_mutex_lock(&lock);
  s->state = ok ? SPARE_READY : SPARE_FAILED;
  while (ok && !s->inst && !s->quit) pthread_cond_wait(&cond, &lock);
  struct ataru_instance *inst = s->inst;
  pthread_mutex_unlock(&lock);
  if (!inst) { /* failed or process exit: whoever clears `spare` joins and frees */
    release(s);
    return NULL;
  }
  free(s); /* taken: the instance owns the fds, vCPU and this thread now */
  return ataru_vcpu0_adopt(&inst->vcpu[0]);
}

/* Takes `spare` out (lock held); the caller joins and frees it. */
static struct spare *unlink_spare(void) {
  struct spare *s = spare;
  spare = NULL;
  if (s) {
    s->quit = 1;
    pthread_cond_broadcast(&cond);
  }
  return s;
}

static void free_at_exit(void) {
  pthread_mutex_lock(&lock);
  struct spare *s = unlink_spare();
  pthread_mutex_unlock(&lock);
  if (s) {
    pthread_join(s->thread, NULL);
    free(s);
  }
}

static void register_exit(void) { atexit(free_at_exit); }

/* Lock held, no spare. */
static void start_building(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, register_exit);
  struct spare *s = calloc(1, sizeof *s);
  if (!s) return;
  s->kvm_fd = s->vm_fd = s->v0.fd = -1;
  s->v0.avoided_cpu = -1;
  if (pthread_create(&s->thread, NULL, spare_main, s) != 0) {
    free(s);
    return;
  }
  spare = s;
}

int ataru_spare_take(struct ataru_instance *inst) {
  struct spare *failed = NULL;
  int taken = 0;
  pthread_mutex_lock(&lock);
  struct spare *s = spare;
  if (s && s->state == SPARE_READY) {
    inst->kvm_fd = s->kvm_fd;
    inst->vm_fd = s->vm_fd;
    inst->dirty_manual = s->dirty_manual;
    struct ataru_vcpu *v = &inst->vcpu[0];
    *v = s->v0;
    v->inst = inst;
    v->index = 0;
    v->thread = s->thread;
    v->thread_started = 1;
    s->inst = inst;
    spare = NULL;
    pthread_cond_broadcast(&cond);
    taken = 1;
  } else if (s && s->state == SPARE_FAILED) {
    failed = unlink_spare();
  }
  pthread_mutex_unlock(&lock);
  if (failed) {
    pthread_join(failed->thread, NULL);
    free(failed);
  }
  return taken;
}

void ataru_spare_refill(void) {
  pthread_mutex_lock(&lock);
  if (!spare) start_building();
  pthread_mutex_unlock(&lock);
}
