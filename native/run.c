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

static void serve_log(struct ataru_instance *inst, uint32_t vcpu) {
  if (!inst->log_fn) return;
  uint32_t len = inst->mb->log_len[vcpu];
  if (len > ATARU_LOG_MAX) len = ATARU_LOG_MAX;
  char msg[ATARU_LOG_MAX]; /* a stable copy: other vCPUs may write the mailbox */
  memcpy(msg, inst->mb->log[vcpu], len);
  inst->log_fn(inst->log_ctx, ataru_current_node(inst, vcpu), msg, len);
}

/* DONE and PARK must come from the runtime's own loops, not from a
 * function imitating them (checked when the registers come for free). */
static int from_runtime(const struct vm_exit *e) {
  return !e->rip_known || (e->rip >= ATARU_RUNTIME_BASE && e->rip < ATARU_RUNTIME_BASE + ATARU_RUNTIME_MAX);
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
        if (vcpu == 0 && from_runtime(&e)) return STEP_DONE;
        break;
      case ATARU_PORT_PARK:
        if (vcpu != 0 && from_runtime(&e)) return STEP_PARK;
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
