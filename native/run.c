/* run.c — the run loop and the port protocol (see run.h). */
#define _GNU_SOURCE
#include "run.h"
#include "fault.h"
#include "timeouts.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* How long a vCPU that said YIELD stays off the CPU. */
#define YIELD_SLEEP_NS 50000

static void fail_internal(struct failure *f, uint32_t node, const char *what, int errnum) {
  f->status = ATARU_STATUS_INTERNAL;
  f->node = node;
  snprintf(f->message, sizeof f->message, "%s: %s", what, strerror(errnum));
}

/* A token bucket per instance: a function logging in a loop costs an exit
 * per line, but nothing beyond the budget is copied, allocated or queued. */
static void serve_log(struct ataru_instance *inst, uint32_t vcpu) {
  if (!inst->log_fn) return;
  pthread_mutex_lock(&inst->log_lock);
  uint64_t now = ataru_now_ns();
  double tokens = inst->log_tokens + (double)(now - inst->log_last_ns) * ATARU_LOG_RATE / 1e9;
  inst->log_tokens = tokens > ATARU_LOG_BURST ? ATARU_LOG_BURST : tokens;
  inst->log_last_ns = now;
  uint32_t dropped = 0;
  int pass = inst->log_tokens >= 1;
  if (pass) {
    inst->log_tokens -= 1;
    dropped = inst->log_dropped;
    inst->log_dropped = 0;
  } else {
    inst->log_dropped++;
  }
  pthread_mutex_unlock(&inst->log_lock);
  if (!pass) return;
  uint32_t len = inst->mb->log_len[vcpu];
  if (len > ATARU_LOG_MAX) len = ATARU_LOG_MAX;
  char msg[ATARU_LOG_MAX]; /* a stable copy: other vCPUs may write the mailbox */
  memcpy(msg, inst->mb->log[vcpu], len);
  inst->log_fn(inst->log_ctx, ataru_current_node(inst, vcpu), msg, len, dropped);
}

void ataru_run_flush_log(struct ataru_instance *inst) {
  if (!inst->log_fn) return;
  pthread_mutex_lock(&inst->log_lock);
  uint32_t dropped = inst->log_dropped;
  inst->log_dropped = 0;
  pthread_mutex_unlock(&inst->log_lock);
  if (dropped) inst->log_fn(inst->log_ctx, ATARU_NO_NODE, NULL, 0, dropped);
}

/* DONE and PARK count only from the runtime's own top-level loops, with
 * the stack those loops have (a function jumping to the `out` has its own
 * frames below). RIP is at the `out` on hardware and after it (2 bytes) on
 * kvm_pvm. Without KVM_CAP_SYNC_REGS nothing is known for free: accepted. */
static int from_exit(const struct vm_exit *e, uint64_t exit_at, uint64_t stack_top) {
  if (!e->rip_known) return 1;
  return (e->rip == exit_at || e->rip == exit_at + 2) && (!stack_top || e->rsp == stack_top);
}

static int stop_requested(struct ataru_instance *inst, uint32_t vcpu) {
  if (vcpu) return __atomic_load_n(&inst->stop, __ATOMIC_ACQUIRE) != 0;
  if (__atomic_load_n(&inst->worker_failed, __ATOMIC_ACQUIRE) || __atomic_load_n(&inst->quit, __ATOMIC_ACQUIRE))
    return 1;
  return ataru_deadline_due(inst, ataru_now_ns());
}

enum step ataru_run_step(struct ataru_instance *inst, uint32_t vcpu, struct failure *f) {
  struct ataru_vcpu *v = &inst->vcpu[vcpu];
  for (;;) {
    ataru_vcpu_clear_kick(v);
    if (stop_requested(inst, vcpu)) return STEP_KICKED;
    struct vm_exit e;
    if (ataru_vcpu_run(v, &e) < 0) {
      fail_internal(f, ATARU_NO_NODE, "cannot set the vCPU registers", errno);
      return STEP_FAILED;
    }
    if (e.kind == VM_EXIT_INTERRUPTED) return STEP_KICKED;
    if (e.kind == VM_EXIT_RUN_FAILED) {
      fail_internal(f, ataru_current_node(inst, vcpu), "KVM_RUN failed", e.errnum);
      v->needs_enter = 1;
      return STEP_FAILED;
    }
    struct kvm_regs regs;
    if (e.kind == VM_EXIT_OUT) {
      switch (e.port) {
      case ATARU_PORT_LOG:
        serve_log(inst, vcpu);
        continue;
      case ATARU_PORT_YIELD: {
        /* Let the busy vCPUs (and the rest of the machine) have the CPU;
         * the stop checks run again before re-entering. */
        struct timespec d = {0, YIELD_SLEEP_NS};
        nanosleep(&d, NULL);
        continue;
      }
      case ATARU_PORT_DONE:
        /* The floor loop runs inside runtime_main: its stack depth is the
         * compiler's, so only its RIP is checked (benchmarks only). */
        if (vcpu == 0 && (inst->measuring_floor ? from_exit(&e, inst->rt.floor_exit, 0)
                                                : from_exit(&e, inst->rt.done_exit, v->stack_top)))
          return STEP_DONE;
        break; /* from anywhere else: a fault like any foreign exit (below) */
      case ATARU_PORT_PARK:
        if (vcpu != 0 && from_exit(&e, inst->rt.park_exit, v->stack_top)) return STEP_PARK;
        break;
      case ATARU_PORT_FAULT:
        ataru_vcpu_regs(v, &regs);
        ataru_fault_from_record(inst, vcpu, &regs, f);
        v->needs_enter = 1;
        return STEP_FAILED;
      }
    }
    ataru_vcpu_regs(v, &regs);
    ataru_fault_from_exit(inst, vcpu, &e, &regs, f);
    v->needs_enter = 1;
    return STEP_FAILED;
  }
}
