/* workers.c — worker vCPUs (see workers.h). */
#define _GNU_SOURCE
#include "workers.h"
#include "kick.h"
#include "run.h"
#include "util.h"

#include <linux/futex.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Workers are woken only when history says the work off the critical path
 * is well above the wake cost (70-80 µs on kvm_pvm,
 * docs/platform-differences.md). */
#define SPREAD_THRESHOLD_NS 200000.0

static void futex_wait(uint32_t *addr, uint32_t val, const struct timespec *rel) {
  syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, rel, NULL, 0);
}

static void futex_wake(uint32_t *addr) { syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0); }

uint32_t ataru_workers_for_request(struct ataru_instance *inst) {
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

void ataru_workers_learn(struct ataru_instance *inst, const ataru_result *res) {
  for (uint32_t k = 0; k < inst->num_nodes; k++)
    inst->mean_node_ns[k] = inst->history ? 0.8 * inst->mean_node_ns[k] + 0.2 * (double)res->node_ns[k]
                                          : (double)res->node_ns[k];
  inst->history++;
}

/* A worker's job: run nodes until parked, stopped or failed, then be back
 * at the entry for the next request. */
static void worker_job(void *arg) {
  struct vcpu_job *job = arg;
  struct ataru_instance *inst = job->inst;
  struct ataru_vcpu *v = &inst->vcpu[job->index];
  for (;;) {
    struct failure f;
    enum step step = ataru_run_step(inst, job->index, &f);
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
      ataru_kick(vthread_handle(inst->thread[0]), inst->vcpu[0].run);
      break;
    }
  }
  if (v->needs_enter) ataru_vcpu_enter(v);
  if (__atomic_sub_fetch(&inst->active_workers, 1, __ATOMIC_ACQ_REL) == 0) futex_wake(&inst->active_workers);
}

/* A woken thread tends to be placed on its waker's CPU when no CPU is idle,
 * and the load balancer takes milliseconds to separate them: for the
 * request's duration both vCPUs would share one core. Keep workers off
 * vCPU 0's current CPU (only changed when that CPU changes). */
static void keep_apart(struct ataru_instance *inst, uint32_t n) {
  int cpu = sched_getcpu();
  if (cpu < 0) return;
  for (uint32_t v = 1; v <= n; v++)
    if (inst->avoided_cpu[v] != cpu && vthread_avoid_cpu(inst->thread[v], cpu) == 0) inst->avoided_cpu[v] = cpu;
}

void ataru_workers_wake(struct ataru_instance *inst, uint32_t n) {
  inst->workers_woken = n;
  __atomic_store_n(&inst->worker_failed, 0, __ATOMIC_RELEASE);
  if (!n) return;
  keep_apart(inst, n);
  __atomic_store_n(&inst->active_workers, n, __ATOMIC_RELEASE);
  for (uint32_t v = 1; v <= n; v++)
    if (vthread_post(inst->thread[v], worker_job, &inst->vjob[v]) < 0 &&
        __atomic_sub_fetch(&inst->active_workers, 1, __ATOMIC_ACQ_REL) == 0)
      futex_wake(&inst->active_workers);
}

void ataru_workers_stop(struct ataru_instance *inst) {
  if (!__atomic_load_n(&inst->active_workers, __ATOMIC_ACQUIRE)) return;
  __atomic_store_n(&inst->stop, 1, __ATOMIC_RELEASE);
  for (uint32_t v = 1; v <= inst->workers_woken; v++) ataru_kick(vthread_handle(inst->thread[v]), inst->vcpu[v].run);
  uint32_t active;
  while ((active = __atomic_load_n(&inst->active_workers, __ATOMIC_ACQUIRE)) != 0)
    futex_wait(&inst->active_workers, active, NULL);
  __atomic_store_n(&inst->stop, 0, __ATOMIC_RELEASE);
}

void ataru_workers_wait(struct ataru_instance *inst, uint64_t wait_ns) {
  uint64_t until = ataru_now_ns() + wait_ns;
  uint32_t active;
  while ((active = __atomic_load_n(&inst->active_workers, __ATOMIC_ACQUIRE)) != 0) {
    uint64_t now = ataru_now_ns();
    if (now >= until) {
      /* Only a function that forged the runtime's progress counters can
       * keep a worker busy after DONE: stop it. */
      ataru_workers_stop(inst);
      return;
    }
    struct timespec rel = {(time_t)((until - now) / 1000000000u), (long)((until - now) % 1000000000u)};
    futex_wait(&inst->active_workers, active, &rel);
  }
}

void ataru_workers_failure(struct ataru_instance *inst, struct failure *f) {
  pthread_mutex_lock(&inst->fail_lock);
  *f = inst->wfail;
  pthread_mutex_unlock(&inst->fail_lock);
}
