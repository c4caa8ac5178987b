/*
 * vthread.c — job threads (see vthread.h).
 *
 * The hand-off is a mutex, a condition variable and two counters: jobs
 * posted and jobs run. An idle thread first polls the posted counter for a
 * while, yielding (not pausing: the posting thread may share its CPU, and
 * it must run to post), because a back-to-back request usually arrives
 * within microseconds and a futex wake-up costs 20-30 µs on kvm_pvm.
 */
#define _GNU_SOURCE
#include "vthread.h"
#include "util.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

struct vthread {
  pthread_t thread;
  pid_t tid;
  int signo;
  uint64_t spin_ns;
  pthread_mutex_t lock;
  pthread_cond_t cond;       /* a job arrived, or stop */
  pthread_cond_t done_cond;  /* a job finished, or the slot is free */
  vthread_fn fn;             /* the queued job, NULL when none */
  void *ctx;
  uint64_t posted, finished; /* jobs handed over / run */
  int stopping;
  vthread_fn last;
  void *last_ctx;
  int started;               /* tid is known */
};

static cpu_set_t allowed_cpus;
static int allowed_count;

static void load_allowed_cpus(void) {
  if (sched_getaffinity(0, sizeof allowed_cpus, &allowed_cpus) == 0) allowed_count = CPU_COUNT(&allowed_cpus);
}

static void once_cpus(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, load_allowed_cpus);
}

int vthread_cpu_count(void) {
  once_cpus();
  return allowed_count;
}

void vthread_allow_all_cpus(void) {
  once_cpus();
  if (allowed_count) pthread_setaffinity_np(pthread_self(), sizeof allowed_cpus, &allowed_cpus);
}

int vthread_avoid_cpu(vthread *t, int cpu) {
  once_cpus();
  if (cpu >= CPU_SETSIZE || (cpu >= 0 && (!CPU_ISSET(cpu, &allowed_cpus) || allowed_count < 2))) return -1;
  cpu_set_t set = allowed_cpus;
  if (cpu >= 0) CPU_CLR(cpu, &set);
  return pthread_setaffinity_np(t->thread, sizeof set, &set) == 0 ? 0 : -1;
}

static void *thread_main(void *arg) {
  vthread *t = arg;
  sigset_t set;
  sigfillset(&set);
  sigdelset(&set, t->signo);
  pthread_sigmask(SIG_SETMASK, &set, NULL);
  pthread_mutex_lock(&t->lock);
  t->tid = (pid_t)syscall(SYS_gettid);
  t->started = 1;
  pthread_cond_broadcast(&t->done_cond);
  for (;;) {
    if (!t->fn && !t->stopping && t->spin_ns) {
      pthread_mutex_unlock(&t->lock);
      uint64_t until = ataru_now_ns() + t->spin_ns;
      while (!__atomic_load_n(&t->fn, __ATOMIC_ACQUIRE) && ataru_now_ns() < until) sched_yield();
      pthread_mutex_lock(&t->lock);
    }
    while (!t->fn && !t->stopping) pthread_cond_wait(&t->cond, &t->lock);
    if (!t->fn) break; /* stopping, nothing queued */
    vthread_fn fn = t->fn;
    void *ctx = t->ctx;
    __atomic_store_n(&t->fn, NULL, __ATOMIC_RELEASE); /* the slot is free for the next job */
    pthread_cond_broadcast(&t->done_cond);
    pthread_mutex_unlock(&t->lock);
    fn(ctx);
    pthread_mutex_lock(&t->lock);
    t->finished++;
    pthread_cond_broadcast(&t->done_cond);
  }
  vthread_fn last = t->last;
  void *last_ctx = t->last_ctx;
  pthread_mutex_unlock(&t->lock);
  if (last) last(last_ctx);
  return NULL;
}

vthread *vthread_start(int signo, uint64_t spin_ns, int apart) {
  vthread *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->signo = signo;
  t->spin_ns = spin_ns;
  pthread_mutex_init(&t->lock, NULL);
  pthread_cond_init(&t->cond, NULL);
  pthread_cond_init(&t->done_cond, NULL);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  /* A new thread tends to start on its creator's CPU; its first job (vCPU
   * setup, ~300 µs of ioctls) is meant to overlap the creator's loading. A
   * 2-core machine is the case that matters: one CPU each. */
  int cpu = apart ? sched_getcpu() : -1;
  once_cpus();
  if (cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &allowed_cpus) && allowed_count >= 2) {
    cpu_set_t set = allowed_cpus;
    CPU_CLR(cpu, &set);
    pthread_attr_setaffinity_np(&attr, sizeof set, &set);
  }
  int rc = pthread_create(&t->thread, &attr, thread_main, t);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    pthread_cond_destroy(&t->done_cond);
    free(t);
    errno = rc;
    return NULL;
  }
  return t;
}

/* Lock held. Returns the job's number, or 0 when stopping. */
static uint64_t post_locked(vthread *t, vthread_fn fn, void *ctx) {
  while (t->fn && !t->stopping) pthread_cond_wait(&t->done_cond, &t->lock);
  if (t->stopping) return 0;
  t->ctx = ctx;
  __atomic_store_n(&t->fn, fn, __ATOMIC_RELEASE);
  pthread_cond_signal(&t->cond);
  return ++t->posted;
}

int vthread_post(vthread *t, vthread_fn fn, void *ctx) {
  pthread_mutex_lock(&t->lock);
  uint64_t n = post_locked(t, fn, ctx);
  pthread_mutex_unlock(&t->lock);
  return n ? 0 : -1;
}

int vthread_call(vthread *t, vthread_fn fn, void *ctx) {
  pthread_mutex_lock(&t->lock);
  uint64_t n = post_locked(t, fn, ctx);
  while (n && t->finished < n) pthread_cond_wait(&t->done_cond, &t->lock);
  pthread_mutex_unlock(&t->lock);
  return n ? 0 : -1;
}

void vthread_wait_idle(vthread *t) {
  pthread_mutex_lock(&t->lock);
  while (t->finished < t->posted) pthread_cond_wait(&t->done_cond, &t->lock);
  pthread_mutex_unlock(&t->lock);
}

void vthread_stop(vthread *t, vthread_fn last, void *ctx) {
  if (!t) return;
  pthread_mutex_lock(&t->lock);
  t->stopping = 1;
  t->last = last;
  t->last_ctx = ctx;
  pthread_cond_broadcast(&t->cond);
  pthread_cond_broadcast(&t->done_cond);
  pthread_mutex_unlock(&t->lock);
  pthread_join(t->thread, NULL);
  pthread_mutex_destroy(&t->lock);
  pthread_cond_destroy(&t->cond);
  pthread_cond_destroy(&t->done_cond);
  free(t);
}

pthread_t vthread_handle(const vthread *t) { return t->thread; }
pid_t vthread_tid(vthread *t) {
  pthread_mutex_lock(&t->lock);
  while (!t->started) pthread_cond_wait(&t->done_cond, &t->lock);
  pid_t tid = t->tid;
  pthread_mutex_unlock(&t->lock);
  return tid;
}
