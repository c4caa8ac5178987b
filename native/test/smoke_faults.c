/* smoke_faults: every failure kind gives a clear message naming the node,
 * the instance stays usable, and the test hooks reach the exits a CPL3
 * function cannot cause. */
#include <pthread.h>
#include "smoke.h"

/* A 2-node chain: crashif (faults on input "c", else echoes) -> the
 * function under test only runs when expect is given. */
static void expect_fault(const char *fn, uint32_t status, const char *want) {
  const char *fns[] = {fn};
  ataru_instance *inst = make_app(1, fns, 0, NULL, 1, 0, 200000);
  if (!inst) return;
  for (int i = 0; i < 2; i++) { /* twice: the same message after the reset */
    ataru_result r;
    uint64_t t0 = now_ns();
    uint32_t st = run1(inst, "x", 1, &r);
    uint64_t t1 = now_ns();
    CHECK(st == status && r.failed_node == 0 && strstr(r.message, want) &&
              strstr(r.message, "node 0 ("),
          "%s: status %u node %u message '%s' (want '%s')", fn, st, r.failed_node, r.message, want);
    if (i == 0) printf("%-60s %6.0f us  %s\n", strrchr(fn, '/') + 1, (t1 - t0) / 1e3, r.message);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(inst);
}

static void usable_after_fault(void) {
  const char *fns[] = {OWN("crashif")};
  ataru_instance *inst = make_app(1, fns, 0, NULL, 1, 0, 0);
  if (!inst) return;
  for (int i = 0; i < 20; i++) {
    ataru_result r;
    int crash = i % 3 == 1;
    uint32_t st = run1(inst, crash ? "c" : "ok", crash ? 1 : 2, &r);
    if (crash)
      CHECK(st == ATARU_STATUS_FAULT && strstr(r.message, "page fault writing 0x0"), "crash %d: %s", i, r.message);
    else
      CHECK(st == ATARU_STATUS_OK && r.output_len == 2 && memcmp(r.output, "ok", 2) == 0,
            "after fault %d: status %u %s", i, st, r.message);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(inst);
}

static void timeout_then_ok(void) {
  /* node timeout on the spinning node, request deadline on another app */
  ataru_node_spec n[2];
  memset(n, 0, sizeof n);
  n[0].path = OWN("crashif");
  n[1].path = FIX("spin");
  n[1].timeout_us = 30000;
  uint16_t e[] = {0, 1};
  ataru_instance *inst = make_app_nodes(2, n, 1, e, 1, 0, 0);
  if (!inst) return;
  ataru_result r;
  uint64_t t0 = now_ns();
  CHECK(run1(inst, "ok", 2, &r) == ATARU_STATUS_TIMEOUT && r.failed_node == 1 &&
            strstr(r.message, "node 1 (spin.elf): timeout after 30 ms"),
        "node timeout: %s", r.message);
  uint64_t ms = (now_ns() - t0) / 1000000;
  /* Never before its time; how soon after is a speed, not asserted. */
  CHECK(ms >= 30, "node timeout after only %llu ms", (unsigned long long)ms);
  ataru_result_free(&r);
  ataru_instance_destroy(inst);

  const char *fns[] = {FIX("spin")};
  inst = make_app(1, fns, 0, NULL, 1, 0, 20000);
  if (!inst) return;
  for (int i = 0; i < 2; i++) {
    t0 = now_ns();
    CHECK(run1(inst, "", 0, &r) == ATARU_STATUS_TIMEOUT &&
              strstr(r.message, "node 0 (spin.elf): timeout after 20 ms"),
          "request timeout: %s", r.message);
    ms = (now_ns() - t0) / 1000000;
    CHECK(ms >= 20, "request timeout after only %llu ms", (unsigned long long)ms);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(inst);
}

static void hooks(void) {
  const char *fns[] = {FIX("nullwrite")};
  ataru_instance *inst = make_app(1, fns, 0, NULL, 1, 0, 0);
  if (!inst) return;
  CHECK(ataru_instance_test_hook(inst, ATARU_TEST_BREAK_IDT) == 0, "hook");
  ataru_result r;
  for (int i = 0; i < 2; i++) {
    CHECK(run1(inst, "", 0, &r) == ATARU_STATUS_FAULT && strstr(r.message, "triple fault"),
          "triple fault: %s", r.message);
    if (!i) printf("%-60s %s\n", "BREAK_IDT + nullwrite", r.message);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(inst);

  const char *peek[] = {DRIVER_FN("peek")};
  inst = make_app(1, peek, 0, NULL, 1, 0, 0);
  if (!inst) return;
  CHECK(ataru_instance_test_hook(inst, ATARU_TEST_MAP_MMIO) == 0, "hook");
  uint64_t addr = ATARU_STACKS_BASE + ATARU_STACK_SLOT - 64; /* vcpu info: readable */
  CHECK(run1(inst, &addr, 8, &r) == ATARU_STATUS_OK, "peek: %s", r.message);
  ataru_result_free(&r);
  addr = ATARU_TEST_MMIO_GVA;
  for (int i = 0; i < 2; i++) {
    CHECK(run1(inst, &addr, 8, &r) == ATARU_STATUS_FAULT && strstr(r.message, "(MMIO)") &&
              strstr(r.message, "node 0 (peek.elf)"),
          "mmio: %s", r.message);
    if (!i) printf("%-60s %s\n", "MAP_MMIO + peek", r.message);
    ataru_result_free(&r);
  }
  addr = 0x100000; /* the system area: supervisor-only */
  CHECK(run1(inst, &addr, 8, &r) == ATARU_STATUS_FAULT && strstr(r.message, "supervisor-only"),
        "sys read: %s", r.message);
  ataru_result_free(&r);
  ataru_instance_destroy(inst);
}

struct pending {
  pthread_mutex_t lock;
  int calls;
  uint32_t status[2];
};

static void on_done(void *ctx, ataru_result *res) {
  struct pending *p = ctx;
  pthread_mutex_lock(&p->lock);
  if (p->calls < 2) p->status[p->calls] = res->status;
  p->calls++;
  pthread_mutex_unlock(&p->lock);
}

/* Destroy with one request spinning (no timeout; on every vCPU when there
 * are 2: with no history only vCPU 0 runs, so also the one-vCPU path) and
 * one queued: both end as CLOSED and destroy returns. */
static void destroy_busy(uint32_t vcpus) {
  const char *fns[] = {FIX("spin"), FIX("spin")};
  ataru_instance *inst = make_app(vcpus, fns, 0, NULL, vcpus, 0, 0);
  if (!inst) return;
  struct pending p = {PTHREAD_MUTEX_INITIALIZER, 0, {0, 0}};
  CHECK(ataru_instance_submit(inst, "", 0, ATARU_NODE_ID_DEFAULT, on_done, &p) == ATARU_STATUS_OK, "submit 1");
  struct timespec d = {0, 20000000};
  nanosleep(&d, NULL); /* the first is running, the second waits */
  CHECK(ataru_instance_submit(inst, "", 0, ATARU_NODE_ID_DEFAULT, on_done, &p) == ATARU_STATUS_OK, "submit 2");
  CHECK(ataru_instance_submit(inst, "", 0, ATARU_NODE_ID_DEFAULT, on_done, &p) == ATARU_STATUS_BUSY, "busy");
  ataru_instance_destroy(inst);
  CHECK(p.calls == 2 && p.status[0] == ATARU_STATUS_CLOSED && p.status[1] == ATARU_STATUS_CLOSED,
        "destroy busy: %d calls, status %u %u", p.calls, p.status[0], p.status[1]);
}

int main(void) {
  expect_fault(FIX("nullread"), ATARU_STATUS_FAULT, "page fault reading 0x0 at rip 0x");
  expect_fault(FIX("nullwrite"), ATARU_STATUS_FAULT, "page fault writing 0x0 at rip 0x");
  expect_fault(FIX("wildwrite"), ATARU_STATUS_FAULT, "page fault writing 0x7fff0000");
  expect_fault(FIX("writecode"), ATARU_STATUS_FAULT, "write to code at 0x");
  expect_fault(FIX("stackoverflow"), ATARU_STATUS_FAULT, "stack overflow");
  expect_fault(FIX("hlt"), ATARU_STATUS_FAULT, "privileged instruction hlt");
  expect_fault(FIX("cli"), ATARU_STATUS_FAULT, "privileged instruction cli");
  expect_fault(FIX("wrmsr"), ATARU_STATUS_FAULT, "privileged instruction wrmsr");
  expect_fault(FIX("movcr3"), ATARU_STATUS_FAULT, "privileged instruction mov to cr3");
  expect_fault(FIX("outport"), ATARU_STATUS_FAULT, "I/O to port 0x80 is not allowed");
  expect_fault(FIX("syscall"), ATARU_STATUS_FAULT, "SYSCALL is not supported, at rip 0x");
  expect_fault(FIX("ud2"), ATARU_STATUS_FAULT, "invalid opcode");
  expect_fault(OWN("forgedone"), ATARU_STATUS_FAULT, "outside the runtime's protocol");
  expect_fault(FIX("spin"), ATARU_STATUS_TIMEOUT, "timeout after 200 ms");
  usable_after_fault();
  timeout_then_ok();
  hooks();
  destroy_busy(1);
  destroy_busy(2);
  return finish("smoke_faults");
}
