/*
 * vcpu.c — vCPU threads, the run loop and its exits, timeouts, workers.
 *
 * Each vCPU is created and always run from its own thread (KVM_RUN from
 * another thread is slow). vCPU 0 takes requests; workers (vCPUs 1..n-1)
 * sleep on a futex and run only for requests where the host wakes them.
 *
 * Kicks: a real-time signal whose handler sets the target's
 * kvm_run->immediate_exit. The run loop clears immediate_exit and only then
 * checks its stop conditions (a clock deadline, a stop flag), so a kick
 * that lands anywhere before KVM_RUN is never lost: either the check sees
 * the condition or KVM_RUN returns EINTR at once. Kickers never spin
 * (PLATFORM.md: a spinning kicker delays kicks by ms).
 */
#define _GNU_SOURCE
#include "instance.h"
#include "cpu.h"
#include "util.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

enum step { STEP_DONE, STEP_PARK, STEP_KICKED, STEP_FAILED };

/* Covers the turnaround of a client over a local socket (the data port:
 * ~20-30 µs); at 20 µs the thread slept before most server requests and
 * each paid a futex wake-up (20-30 µs on kvm_pvm). */
#define IDLE_SPIN_NS 50000
#define SETUP_SPIN_NS 300000
#define SYNC_ALL (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)
#define YIELD_SLEEP_NS 50000

static int kick_signo(void) { return SIGRTMIN + 4; }

static void on_kick(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  struct kvm_run *run = si->si_value.sival_ptr;
  if (run) run->immediate_exit = 1;
}

static void install_handler(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_kick;
  sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: KVM_RUN must return EINTR */
  sigemptyset(&sa.sa_mask);
  sigaction(kick_signo(), &sa, NULL);
}

static void kick(struct ataru_vcpu *v) {
  union sigval val = {.sival_ptr = v->run};
  pthread_sigqueue(v->thread, kick_signo(), val);
}

static void futex_wait(uint32_t *addr, uint32_t val, const struct timespec *rel) {
  syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, rel, NULL, 0);
}

static void futex_wake(uint32_t *addr) {
  syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

static void fail_internal(struct failure *f, uint32_t node, const char *what) {
  f->status = ATARU_STATUS_INTERNAL;
  f->node = node;
  snprintf(f->message, sizeof f->message, "%s: %s", what, strerror(errno));
}

static void get_regs(struct ataru_vcpu *v, struct kvm_regs *r) {
  if (v->sync_regs)
    *r = v->run->s.regs.regs;
  else if (ioctl(v->fd, KVM_GET_REGS, r) < 0)
    memset(r, 0, sizeof *r);
}

/* Back to CPL3 at the vCPU's entry with a fresh stack, after a fault,
 * timeout or stop. Also drops any exception KVM still holds (kvm_pvm keeps
 * the details of a SHUTDOWN sticky). */
static int enter(struct ataru_vcpu *v) {
  struct ataru_instance *inst = v->inst;
  struct kvm_run *run = v->run;
  if (v->has_run) {
    /* KVM completes a pending MMIO read or port access on the next
     * KVM_RUN (writing a register, advancing RIP): run it now with
     * immediate_exit so it cannot land on the fresh state below. */
    if (v->sync_all) run->kvm_valid_regs = SYNC_ALL; /* and return the events */
    run->immediate_exit = 1;
    ioctl(v->fd, KVM_RUN, 0);
    run->immediate_exit = 0;
    if (v->sync_all) {
      /* The state below goes in with the next KVM_RUN: no ioctl each for
       * events, sregs and regs (5-7 µs apiece, PLATFORM.md). */
      run->kvm_valid_regs = KVM_SYNC_X86_REGS;
      struct kvm_vcpu_events *ev = &run->s.regs.events;
      memset(&ev->exception, 0, sizeof ev->exception);
      memset(&ev->nmi, 0, sizeof ev->nmi);
      ev->flags = 0;
      run->s.regs.sregs = v->sregs;
      if (inst->test_break_idt) run->s.regs.sregs.idt.limit = 0;
      memset(&run->s.regs.regs, 0, sizeof run->s.regs.regs);
      run->s.regs.regs.rip = v->entry;
      run->s.regs.regs.rsp = ATARU_STACK_TOP(v->index);
      run->s.regs.regs.rflags = inst->rflags;
      run->kvm_dirty_regs = SYNC_ALL;
      v->needs_enter = 0;
      return 0;
    }
  }
  struct kvm_vcpu_events ev;
  if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) == 0) {
    memset(&ev.exception, 0, sizeof ev.exception);
    memset(&ev.nmi, 0, sizeof ev.nmi);
    ev.flags = 0;
    ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev);
  }
  struct kvm_sregs sregs = v->sregs;
  if (inst->test_break_idt) sregs.idt.limit = 0;
  if (ataru_cpu_enter(v->fd, &sregs, v->entry, ATARU_STACK_TOP(v->index), inst->rflags) < 0)
    return -1;
  v->needs_enter = 0;
  return 0;
}

static void handle_log(struct ataru_vcpu *v) {
  struct ataru_instance *inst = v->inst;
  if (!inst->log_fn) return;
  uint32_t len = inst->mb->log_len[v->index];
  if (len > ATARU_LOG_MAX) len = ATARU_LOG_MAX;
  char msg[ATARU_LOG_MAX]; /* a stable copy: other vCPUs may write the mailbox */
  memcpy(msg, inst->mb->log[v->index], len);
  inst->log_fn(inst->log_ctx, ataru_current_node(inst, v->index), msg, len);
}

/* DONE and PARK must come from the runtime's own loops, not from a
 * function imitating them (checked when the registers come for free). */
static int from_runtime(struct ataru_vcpu *v) {
  if (!v->sync_regs) return 1;
  uint64_t rip = v->run->s.regs.regs.rip;
  return rip >= ATARU_RUNTIME_BASE && rip < ATARU_RUNTIME_BASE + ATARU_RUNTIME_MAX;
}

static int stop_requested(struct ataru_vcpu *v) {
  struct ataru_instance *inst = v->inst;
  if (v->index) return __atomic_load_n(&inst->stop, __ATOMIC_ACQUIRE) != 0;
  if (__atomic_load_n(&inst->worker_failed, __ATOMIC_ACQUIRE) ||
      __atomic_load_n(&inst->quit, __ATOMIC_ACQUIRE))
    return 1;
  return inst->next_check_ns && ataru_now_ns() >= inst->next_check_ns;
}

/* Enters the guest until a protocol exit; LOG exits are served here. */
static enum step run_step(struct ataru_vcpu *v, struct failure *f) {
  struct kvm_run *run = v->run;
  for (;;) {
    run->immediate_exit = 0;
    if (stop_requested(v)) return STEP_KICKED;
    if (v->needs_enter && enter(v) < 0) {
      fail_internal(f, ATARU_NO_NODE, "cannot set the vCPU registers");
      return STEP_FAILED;
    }
    v->has_run = 1;
    if (ioctl(v->fd, KVM_RUN, 0) < 0) {
      if (errno == EINTR || errno == EAGAIN) return STEP_KICKED;
      fail_internal(f, ataru_current_node(v->inst, v->index), "KVM_RUN failed");
      v->needs_enter = 1;
      return STEP_FAILED;
    }
    if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT) {
      uint16_t port = run->io.port;
      if (port == ATARU_PORT_LOG) {
        handle_log(v);
        continue;
      }
      if (port == ATARU_PORT_YIELD) {
        /* Let the busy vCPUs (and the rest of the machine) have the CPU;
         * the stop checks run again before re-entering. */
        struct timespec d = {0, YIELD_SLEEP_NS};
        nanosleep(&d, NULL);
        continue;
      }
      if (port == ATARU_PORT_DONE && v->index == 0 && from_runtime(v)) return STEP_DONE;
      if (port == ATARU_PORT_PARK && v->index != 0 && from_runtime(v)) return STEP_PARK;
    }
    struct kvm_regs regs;
    get_regs(v, &regs);
    if (run->exit_reason == KVM_EXIT_IO && run->io.port == ATARU_PORT_FAULT)
      ataru_fault_from_record(v->inst, v->index, &regs, f);
    else
      ataru_fault_from_exit(v->inst, v->index, run, &regs, v->fd, f);
    v->needs_enter = 1;
    return STEP_FAILED;
  }
}

int ataru_vcpu_create(struct ataru_vcpu *v, int kvm_fd, int vm_fd, uint64_t cr3, char *err,
                      size_t errlen) {
  v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)v->index);
  if (v->fd < 0) {
    ataru_seterr(err, errlen, "KVM_CREATE_VCPU %u: %s", v->index, strerror(errno));
    return -1;
  }
  int size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size <= 0) {
    ataru_seterr(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
    return -1;
  }
  v->run_size = (size_t)size;
  v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
  if (v->run == MAP_FAILED) {
    v->run = NULL;
    ataru_seterr(err, errlen, "mmap of kvm_run: %s", strerror(errno));
    return -1;
  }
  int sync = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
  if (sync > 0 && (sync & KVM_SYNC_X86_REGS)) {
    v->sync_regs = 1;
    v->sync_all = (sync & SYNC_ALL) == SYNC_ALL;
    v->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
  }
  if (ataru_cpu_setup(v->fd, v->index, cr3, &v->sregs, err, errlen) < 0)
    return -1;
  v->needs_enter = 1; /* the entry is known once everything is loaded */
  return 0;
}

static int vcpu_init(struct ataru_vcpu *v, char *err, size_t errlen) {
  struct ataru_instance *inst = v->inst;
  return ataru_vcpu_create(v, inst->kvm_fd, inst->vm_fd, ataru_mem_cr3(inst->mem), err, errlen);
}

static void report_startup(struct ataru_instance *inst, int ok, const char *err) {
  pthread_mutex_lock(&inst->lock);
  if (!ok && !inst->startup_failed) {
    inst->startup_failed = 1;
    snprintf(inst->startup_err, sizeof inst->startup_err, "%s", err);
  }
  inst->threads_ready++;
  pthread_cond_broadcast(&inst->idle_cond);
  pthread_mutex_unlock(&inst->lock);
}

/* The CPUs this process may use (vCPU threads are kept apart within them). */
static cpu_set_t allowed_cpus;
static int allowed_count;

static void load_allowed_cpus(void) {
  if (sched_getaffinity(0, sizeof allowed_cpus, &allowed_cpus) == 0)
    allowed_count = CPU_COUNT(&allowed_cpus);
}

/* A thread starts while create() is still loading: it waits for the entry
 * and enters the guest (setting its registers now, not on the first
 * request). Returns 0 when quit came first. An enter() that fails leaves
 * needs_enter set: the first request tries again and reports it. */
static int wait_loaded(struct ataru_vcpu *v) {
  struct ataru_instance *inst = v->inst;
  if (allowed_count) pthread_setaffinity_np(pthread_self(), sizeof allowed_cpus, &allowed_cpus);
  pthread_mutex_lock(&inst->lock);
  while (!inst->loaded && !inst->quit) pthread_cond_wait(&inst->cond, &inst->lock);
  int go = !inst->quit;
  pthread_mutex_unlock(&inst->lock);
  if (go) enter(v);
  pthread_mutex_lock(&inst->lock);
  inst->threads_entered++;
  pthread_cond_broadcast(&inst->idle_cond);
  pthread_mutex_unlock(&inst->lock);
  return go;
}

/* Only the kick signal reaches vCPU threads (Node's signals go elsewhere). */
static void block_other_signals(void) {
  sigset_t set;
  sigfillset(&set);
  sigdelset(&set, kick_signo());
  pthread_sigmask(SIG_SETMASK, &set, NULL);
}

static int create_timer(struct ataru_instance *inst) {
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = kick_signo();
  sev.sigev_value.sival_ptr = inst->vcpu[0].run;
  sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
  if (timer_create(CLOCK_MONOTONIC, &sev, &inst->timer) < 0) return -1;
  inst->has_timer = 1;
  return 0;
}

/* Arms the timer for the next check: the request deadline or, when a node
 * has its own timeout, the earliest moment a running node can time out. */
static void schedule_check(struct ataru_instance *inst, uint64_t now) {
  uint64_t next = inst->deadline_ns;
  if (inst->min_node_timeout_ns) {
    uint64_t tsc = ataru_rdtsc_host();
    uint64_t node_next = now + inst->min_node_timeout_ns;
    for (uint32_t v = 0; v < inst->num_vcpus; v++) {
      uint32_t k = ataru_current_node(inst, v);
      if (k == ATARU_NO_NODE || !inst->node_timeout_ns[k]) continue;
      uint64_t start = inst->mb->node[k].tsc_start;
      uint64_t ran = tsc > start ? ataru_tsc_to_ns(tsc - start) : 0;
      uint64_t left = inst->node_timeout_ns[k] > ran ? inst->node_timeout_ns[k] - ran : 0;
      if (now + left < node_next) node_next = now + left;
    }
    if (!next || node_next < next) next = node_next;
  }
  inst->next_check_ns = next;
  if (next && inst->has_timer) {
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(next / 1000000000u);
    its.it_value.tv_nsec = (long)(next % 1000000000u);
    timer_settime(inst->timer, TIMER_ABSTIME, &its, NULL);
  }
}

/* Fills f and returns 1 when the request or a running node is past its
 * deadline. */
static int timed_out(struct ataru_instance *inst, uint64_t now, struct failure *f) {
  char label[160];
  if (inst->deadline_ns && now >= inst->deadline_ns) {
    uint32_t node = ATARU_NO_NODE;
    for (uint32_t v = 0; v < inst->num_vcpus && node == ATARU_NO_NODE; v++)
      node = ataru_current_node(inst, v);
    ataru_node_label(inst, node, label, sizeof label);
    f->status = ATARU_STATUS_TIMEOUT;
    f->node = node;
    snprintf(f->message, sizeof f->message, "%s: timeout after %llu ms (request deadline)", label,
             (unsigned long long)(inst->timeout_ns / 1000000u));
    return 1;
  }
  if (!inst->min_node_timeout_ns) return 0;
  uint64_t tsc = ataru_rdtsc_host();
  for (uint32_t v = 0; v < inst->num_vcpus; v++) {
    uint32_t k = ataru_current_node(inst, v);
    if (k == ATARU_NO_NODE || !inst->node_timeout_ns[k]) continue;
    uint64_t start = inst->mb->node[k].tsc_start;
    if (tsc <= start || ataru_tsc_to_ns(tsc - start) < inst->node_timeout_ns[k]) continue;
    ataru_node_label(inst, k, label, sizeof label);
    f->status = ATARU_STATUS_TIMEOUT;
    f->node = k;
    snprintf(f->message, sizeof f->message, "%s: timeout after %llu ms", label,
             (unsigned long long)(inst->node_timeout_ns[k] / 1000000u));
    return 1;
  }
  return 0;
}

/* Stops the woken workers (kick + flag) and waits until all parked; each
 * puts its own vCPU back at its entry. */
static void stop_workers(struct ataru_instance *inst) {
  if (!__atomic_load_n(&inst->active_workers, __ATOMIC_ACQUIRE)) return;
  __atomic_store_n(&inst->stop, 1, __ATOMIC_RELEASE);
  for (uint32_t v = 1; v <= inst->workers_woken; v++) kick(&inst->vcpu[v]);
  uint32_t active;
  while ((active = __atomic_load_n(&inst->active_workers, __ATOMIC_ACQUIRE)) != 0)
    futex_wait(&inst->active_workers, active, NULL);
  __atomic_store_n(&inst->stop, 0, __ATOMIC_RELEASE);
}

/* A woken thread tends to be placed on its waker's CPU when no CPU is idle,
 * and the load balancer takes milliseconds to separate them: for the
 * request's duration both vCPUs would share one core. Keep workers off
 * vCPU 0's current CPU (only changed when that CPU changes). */
static void keep_workers_apart(struct ataru_instance *inst, uint32_t n) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, load_allowed_cpus);
  cpu_set_t *allowed = &allowed_cpus;
  int cpu = sched_getcpu();
  if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, allowed) || allowed_count < 2) return;
  cpu_set_t set = *allowed;
  CPU_CLR(cpu, &set);
  for (uint32_t v = 1; v <= n; v++) {
    if (inst->vcpu[v].avoided_cpu == cpu) continue;
    if (pthread_setaffinity_np(inst->vcpu[v].thread, sizeof set, &set) == 0) inst->vcpu[v].avoided_cpu = cpu;
  }
}

void ataru_workers_wake(struct ataru_instance *inst, uint32_t n) {
  inst->workers_woken = n;
  __atomic_store_n(&inst->worker_failed, 0, __ATOMIC_RELEASE);
  if (!n) return;
  keep_workers_apart(inst, n);
  __atomic_store_n(&inst->active_workers, n, __ATOMIC_RELEASE);
  __atomic_add_fetch(&inst->worker_gen, 1, __ATOMIC_RELEASE);
  futex_wake(&inst->worker_gen);
}

void ataru_workers_wait(struct ataru_instance *inst, uint64_t wait_ns) {
  uint64_t until = ataru_now_ns() + wait_ns;
  uint32_t active;
  while ((active = __atomic_load_n(&inst->active_workers, __ATOMIC_ACQUIRE)) != 0) {
    uint64_t now = ataru_now_ns();
    if (now >= until) {
      /* Only a function that forged the runtime's progress counters can
       * keep a worker busy after DONE: stop it. */
      stop_workers(inst);
      return;
    }
    struct timespec rel = {(time_t)((until - now) / 1000000000u), (long)((until - now) % 1000000000u)};
    futex_wait(&inst->active_workers, active, &rel);
  }
}

enum run_rc ataru_vcpu0_run(struct ataru_instance *inst, struct failure *f) {
  struct ataru_vcpu *v = &inst->vcpu[0];
  uint64_t now = ataru_now_ns();
  inst->deadline_ns = inst->timeout_ns ? now + inst->timeout_ns : 0;
  schedule_check(inst, now);
  for (;;) {
    enum step step = run_step(v, f);
    if (step == STEP_DONE) {
      inst->next_check_ns = 0;
      return RUN_DONE;
    }
    if (step == STEP_KICKED) {
      now = ataru_now_ns();
      if (__atomic_load_n(&inst->worker_failed, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&inst->fail_lock);
        *f = inst->wfail;
        pthread_mutex_unlock(&inst->fail_lock);
      } else if (__atomic_load_n(&inst->quit, __ATOMIC_ACQUIRE)) {
        f->status = ATARU_STATUS_CLOSED;
        f->node = ataru_current_node(inst, 0);
        snprintf(f->message, sizeof f->message, "the instance was destroyed during the request");
      } else if (!timed_out(inst, now, f)) {
        schedule_check(inst, now);
        continue;
      }
      v->needs_enter = 1;
    }
    inst->next_check_ns = 0;
    stop_workers(inst);
    return RUN_FAILED;
  }
}

int ataru_vcpu0_exit_floor(struct ataru_instance *inst, uint32_t n, uint64_t *median_ns) {
  struct ataru_vcpu *v = &inst->vcpu[0];
  uint64_t *t = calloc(n ? n : 1, sizeof *t);
  if (!t) return -1;
  struct failure f;
  inst->next_check_ns = 0;
  inst->mb->exit_floor = 1;
  int rc = run_step(v, &f) == STEP_DONE ? 0 : -1; /* enters the runtime's floor loop */
  for (uint32_t i = 0; i < n && rc == 0; i++) {
    uint64_t t0 = ataru_now_ns();
    if (run_step(v, &f) != STEP_DONE) rc = -1;
    t[i] = ataru_now_ns() - t0;
  }
  inst->mb->exit_floor = 0;
  v->needs_enter = 1; /* leave the floor loop: back to the main entry */
  if (rc == 0 && n) {
    for (uint32_t i = 1; i < n; i++) /* insertion sort: n is small */
      for (uint32_t j = i; j > 0 && t[j - 1] > t[j]; j--) {
        uint64_t x = t[j];
        t[j] = t[j - 1];
        t[j - 1] = x;
      }
    *median_ns = t[n / 2];
  }
  free(t);
  return rc;
}

/* vCPU 0's thread once its vCPU is set up (ok) or failed to be (err). */
static void *vcpu0_serve(struct ataru_vcpu *v, int ok, char *err, size_t errlen) {
  struct ataru_instance *inst = v->inst;
  if (ok && create_timer(inst) < 0) {
    ok = 0;
    snprintf(err, errlen, "timer_create: %s", strerror(errno));
  }
  report_startup(inst, ok, err);
  if (!ok) return NULL;
  wait_loaded(v); /* on quit, the loop below ends at once */
  pthread_mutex_lock(&inst->lock);
  for (;;) {
    if (inst->job.kind == JOB_NONE && !inst->quit) {
      /* A back-to-back request usually arrives within microseconds: poll
       * briefly (IDLE_SPIN_NS) before paying a futex wake-up. Yielding, not
       * pausing: the submitting thread may share this CPU (a woken thread
       * is placed on its waker's CPU), and it must run to submit. */
      pthread_mutex_unlock(&inst->lock);
      uint64_t until = ataru_now_ns() + IDLE_SPIN_NS;
      while (__atomic_load_n(&inst->job.kind, __ATOMIC_ACQUIRE) == JOB_NONE && ataru_now_ns() < until)
        sched_yield();
      pthread_mutex_lock(&inst->lock);
    }
    while (inst->job.kind == JOB_NONE && !inst->quit) pthread_cond_wait(&inst->cond, &inst->lock);
    if (inst->quit) {
      /* Nobody may wait forever for a request that will never run. */
      if (inst->job.kind == JOB_REQUEST) {
        ataru_result *res = &inst->result;
        memset(res, 0, sizeof *res);
        res->status = ATARU_STATUS_CLOSED;
        res->failed_node = ATARU_NO_NODE;
        snprintf(res->message, sizeof res->message, "the instance was destroyed before the request ran");
        inst->job.done(inst->job.ctx, res);
      }
      if (inst->job.kind == JOB_FLOOR) inst->job.floor->rc = -1, inst->job.floor->finished = 1;
      inst->job.kind = JOB_NONE;
      pthread_cond_broadcast(&inst->idle_cond);
      break;
    }
    struct job job = inst->job;
    if (job.kind == JOB_REQUEST) memcpy(inst->shm, inst->input, job.len);
    inst->job.kind = JOB_NONE; /* the slot is free for the next request */
    pthread_mutex_unlock(&inst->lock);
    ataru_instance_serve(inst, &job);
    pthread_mutex_lock(&inst->lock);
    if (job.floor) job.floor->finished = 1;
    pthread_cond_broadcast(&inst->idle_cond);
  }
  pthread_mutex_unlock(&inst->lock);
  /* Before the thread ends: a timer aimed at a dead thread would signal the
   * process, with a pointer to a kvm_run about to be unmapped. */
  timer_delete(inst->timer);
  inst->has_timer = 0;
  return NULL;
}

static void *vcpu0_main(void *arg) {
  struct ataru_vcpu *v = arg;
  char err[256] = "";
  block_other_signals();
  int ok = vcpu_init(v, err, sizeof err) == 0;
  return vcpu0_serve(v, ok, err, sizeof err);
}

void *ataru_vcpu0_adopt(struct ataru_vcpu *v) {
  char err[256] = "";
  return vcpu0_serve(v, 1, err, sizeof err);
}

void ataru_vcpu_thread_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install_handler);
  block_other_signals();
}

static void *worker_main(void *arg) {
  struct ataru_vcpu *v = arg;
  struct ataru_instance *inst = v->inst;
  char err[256] = "";
  block_other_signals();
  int ok = vcpu_init(v, err, sizeof err) == 0;
  report_startup(inst, ok, err);
  if (!ok || !wait_loaded(v)) return NULL;
  uint32_t seen = 0;
  for (;;) {
    uint32_t gen = __atomic_load_n(&inst->worker_gen, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&inst->quit, __ATOMIC_ACQUIRE)) break;
    if (gen == seen) {
      futex_wait(&inst->worker_gen, gen, NULL);
      continue;
    }
    seen = gen;
    if (v->index > inst->workers_woken) continue;
    for (;;) {
      struct failure f;
      enum step step = run_step(v, &f);
      if (step == STEP_PARK) break;
      if (step == STEP_KICKED) {
        if (!__atomic_load_n(&inst->stop, __ATOMIC_ACQUIRE)) continue;
        v->needs_enter = 1;
        break;
      }
      if (step == STEP_FAILED) {
        pthread_mutex_lock(&inst->fail_lock);
        if (!inst->worker_failed) {
          inst->wfail = f;
          __atomic_store_n(&inst->worker_failed, 1, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&inst->fail_lock);
        kick(&inst->vcpu[0]);
        break;
      }
    }
    if (v->needs_enter) enter(v);
    if (__atomic_sub_fetch(&inst->active_workers, 1, __ATOMIC_ACQ_REL) == 0)
      futex_wake(&inst->active_workers);
  }
  return NULL;
}

/* The vCPU setup (~300 µs of KVM ioctls) is meant to overlap the loading
 * on the creating thread, but a new thread tends to start on its creator's
 * CPU: start it on another one. wait_loaded widens its affinity again.
 * (A 2-core machine is the case that matters: one CPU each.) */
static void start_apart(pthread_attr_t *attr) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, load_allowed_cpus);
  int cpu = sched_getcpu();
  if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed_cpus) || allowed_count < 2) return;
  cpu_set_t set = allowed_cpus;
  CPU_CLR(cpu, &set);
  pthread_attr_setaffinity_np(attr, sizeof set, &set);
}

int ataru_vcpus_start(struct ataru_instance *inst, char *err, size_t errlen) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install_handler);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  start_apart(&attr);
  for (uint32_t i = 0; i < inst->num_vcpus; i++) {
    struct ataru_vcpu *v = &inst->vcpu[i];
    if (v->thread_started) continue; /* vCPU 0 of a spare VM (spare.c) */
    v->inst = inst;
    v->index = i;
    v->fd = -1;
    v->avoided_cpu = -1;
    if (pthread_create(&v->thread, &attr, i ? worker_main : vcpu0_main, v) != 0) {
      ataru_seterr(err, errlen, "cannot start a vCPU thread: %s", strerror(errno));
      pthread_attr_destroy(&attr);
      return -1;
    }
    v->thread_started = 1;
  }
  pthread_attr_destroy(&attr);
  return 0;
}

int ataru_vcpus_go(struct ataru_instance *inst, char *err, size_t errlen) {
  /* The vCPU setup ends about when the loading does: poll for it a while
   * before sleeping (waking a sleeper costs ~30 µs here). */
  uint64_t until = ataru_now_ns() + SETUP_SPIN_NS;
  while (__atomic_load_n(&inst->threads_ready, __ATOMIC_ACQUIRE) < inst->num_vcpus && ataru_now_ns() < until)
    sched_yield();
  pthread_mutex_lock(&inst->lock);
  while (inst->threads_ready < inst->num_vcpus) pthread_cond_wait(&inst->idle_cond, &inst->lock);
  int failed = inst->startup_failed;
  if (failed) {
    ataru_seterr(err, errlen, "%s", inst->startup_err);
  } else {
    for (uint32_t i = 0; i < inst->num_vcpus; i++)
      inst->vcpu[i].entry = i ? inst->worker_entry : inst->main_entry;
    inst->loaded = 1;
    pthread_cond_broadcast(&inst->cond);
  }
  pthread_mutex_unlock(&inst->lock);
  return failed ? -1 : 0;
}

void ataru_vcpus_wait_entered(struct ataru_instance *inst) {
  pthread_mutex_lock(&inst->lock);
  while (inst->threads_entered < inst->num_vcpus) pthread_cond_wait(&inst->idle_cond, &inst->lock);
  pthread_mutex_unlock(&inst->lock);
}

void ataru_vcpus_stop(struct ataru_instance *inst) {
  pthread_mutex_lock(&inst->lock);
  __atomic_store_n(&inst->quit, 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&inst->cond);
  pthread_mutex_unlock(&inst->lock);
  /* A request still running ends as CLOSED (the run loop checks quit). */
  if (inst->num_vcpus && inst->vcpu[0].thread_started && inst->vcpu[0].run) kick(&inst->vcpu[0]);
  __atomic_add_fetch(&inst->worker_gen, 1, __ATOMIC_RELEASE);
  futex_wake(&inst->worker_gen);
  for (uint32_t i = 0; i < inst->num_vcpus; i++) {
    struct ataru_vcpu *v = &inst->vcpu[i];
    if (v->thread_started) pthread_join(v->thread, NULL);
    v->thread_started = 0;
    if (v->run) munmap(v->run, v->run_size);
    v->run = NULL;
    if (v->fd >= 0) close(v->fd);
    v->fd = -1;
  }
}
