/* smoke_parallel: two ~5 ms branches run on both vCPUs at once; a no-op
 * DAG wakes no worker; a fault on either vCPU stops the request, names the
 * node, and the instance keeps working. (How much faster is bench/'s.) */
#include <unistd.h>
#include "smoke.h"

/* Two roots: burn (in[0] ms) at inp_off a, the other at inp_off b. */
static ataru_instance *two_branches(const char *f0, uint64_t in0, const char *f1, uint64_t in1,
                                    uint32_t vcpus) {
  ataru_node_spec n[2];
  memset(n, 0, sizeof n);
  n[0].path = f0; n[0].inp_off = in0; n[0].out_off = 0x1000;
  n[1].path = f1; n[1].inp_off = in1; n[1].out_off = 0x1800;
  return make_app_nodes(2, n, 0, NULL, vcpus, 0, 2000000);
}

/* Median wall time of n runs (printed, never asserted: speed is bench/'s);
 * counts the runs in which nodes 0 and 1 ran on different vCPUs at
 * overlapping times, by the runtime's own record. */
static double median_run_us(ataru_instance *inst, const void *in, size_t len, int n, uint32_t *workers,
                            int *concurrent) {
  double t[64];
  for (int i = 0; i < n; i++) {
    ataru_result r;
    uint64_t t0 = now_ns();
    CHECK(run1(inst, in, len, &r) == ATARU_STATUS_OK, "run: %s", r.message);
    t[i] = (now_ns() - t0) / 1e3;
    *workers = r.workers_used;
    uint64_t s0 = r.node_start_ns[0], e0 = s0 + r.node_ns[0], s1 = r.node_start_ns[1], e1 = s1 + r.node_ns[1];
    if (concurrent && r.node_vcpu[0] != r.node_vcpu[1] && s0 < e1 && s1 < e0) (*concurrent)++;
    if (getenv("SMOKE_VERBOSE"))
      printf("  run %.0f us dag %.0f us nodes %.0f@%.0f(v%u) %.0f@%.0f(v%u) workers %u\n", t[i], r.dag_ns / 1e3,
             r.node_ns[0] / 1e3, s0 / 1e3, r.node_vcpu[0], r.node_ns[1] / 1e3, s1 / 1e3, r.node_vcpu[1],
             r.workers_used);
    ataru_result_free(&r);
  }
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
      double x = t[j]; t[j] = t[j - 1]; t[j - 1] = x;
    }
  return t[n / 2];
}

/* Two ~5 ms branches on 2 vCPUs: the runtime wakes the worker, and the two
 * branches run on both vCPUs at once. A loaded machine may leave the
 * worker's thread unscheduled for a whole run (vCPU 0 then takes both), so
 * it must happen in at least one of 21 runs. */
static void spread(void) {
  unsigned char in[1] = {5};
  ataru_instance *one = two_branches(FIX("burn"), 0, FIX("burn"), 0, 1);
  ataru_instance *two = two_branches(FIX("burn"), 0, FIX("burn"), 0, 2);
  if (!one || !two) return;
  uint32_t w1, w2;
  int concurrent = 0, alone = 0;
  median_run_us(two, in, 1, 2, &w2, NULL); /* history first */
  double t1 = median_run_us(one, in, 1, 7, &w1, &alone);
  double t2 = median_run_us(two, in, 1, 21, &w2, &concurrent);
  printf("two 5 ms branches: 1 vCPU %.0f us, 2 vCPUs %.0f us (workers %u, concurrent in %d of 21 runs)\n", t1, t2,
         w2, concurrent);
  CHECK(w1 == 0 && alone == 0, "1 vCPU: %u workers, %d runs on two vCPUs", w1, alone);
  CHECK(w2 == 1, "2 vCPUs: %u workers", w2);
  CHECK(concurrent > 0, "2 vCPUs: the branches never ran at the same time on both vCPUs");
  ataru_instance_destroy(one);
  ataru_instance_destroy(two);

  /* A no-op DAG is not worth a wake-up: the runtime keeps it on vCPU 0. */
  const char *noop[] = {FIX("noop"), FIX("noop"), FIX("noop")};
  uint16_t e[] = {0, 1, 0, 2};
  one = make_app(3, noop, 2, e, 1, 0, 0);
  two = make_app(3, noop, 2, e, 2, 0, 0);
  if (!one || !two) return;
  median_run_us(two, "", 0, 5, &w2, NULL);
  t1 = median_run_us(one, "", 0, 31, &w1, NULL);
  t2 = median_run_us(two, "", 0, 31, &w2, NULL);
  printf("no-op diamond: 1 vCPU %.0f us, 2 vCPUs %.0f us (workers %u)\n", t1, t2, w2);
  CHECK(w2 == 0, "no-op with 2 vCPUs: %u workers woken", w2);
  ataru_instance_destroy(one);
  ataru_instance_destroy(two);
}

/* Three roots: two burns (in[1] ms) and crashif (faults on in[0] == 'c')
 * at crash_node. Node 0 starts on vCPU 0 at once, node 1 on the worker. */
static void fault_on(uint32_t crash_node) {
  ataru_node_spec n[3];
  memset(n, 0, sizeof n);
  for (uint32_t k = 0; k < 3; k++) {
    n[k].path = k == crash_node ? OWN("crashif") : FIX("burn");
    n[k].inp_off = k == crash_node ? 0 : 1;
    n[k].out_off = 0x1000 + k * 0x100;
  }
  ataru_instance *inst = make_app_nodes(3, n, 0, NULL, 2, 0, 2000000);
  if (!inst) return;
  uint32_t w;
  median_run_us(inst, "o\x03", 2, 2, &w, NULL);
  CHECK(w == 1, "workers woken: %u", w);
  for (int i = 0; i < 3; i++) {
    ataru_result r;
    CHECK(run1(inst, "c\x03", 2, &r) == ATARU_STATUS_FAULT && r.failed_node == crash_node &&
              strstr(r.message, "page fault writing 0x0"),
          "fault on node %u: %s", crash_node, r.message);
    if (!i) printf("fault on node %u with %u workers: %s\n", crash_node, r.workers_used, r.message);
    ataru_result_free(&r);
    CHECK(run1(inst, "o\x03", 2, &r) == ATARU_STATUS_OK && r.output_len == 2 + 4 + 4,
          "after fault: %u %s (len %zu)", r.status, r.message, r.output_len);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(inst);
}

static void timeout_on_worker(void) {
  ataru_node_spec n[2];
  memset(n, 0, sizeof n);
  n[0].path = FIX("burn"); n[0].out_off = 0x1000;
  n[1].path = FIX("burn"); n[1].out_off = 0x1800; n[1].inp_off = 1;
  n[1].timeout_us = 60000;
  ataru_instance *inst = make_app_nodes(2, n, 0, NULL, 2, 0, 0);
  if (!inst) return;
  uint32_t w;
  median_run_us(inst, "\x03\x03", 2, 2, &w, NULL);
  ataru_result r;
  /* node 1 burns 255 "ms" on whichever vCPU took it: its 60 ms timeout fires */
  CHECK(run1(inst, "\x01\xff", 2, &r) == ATARU_STATUS_TIMEOUT && r.failed_node == 1 &&
            strstr(r.message, "timeout after 60 ms"),
        "worker timeout: %s", r.message);
  printf("timeout with %u workers: %s\n", r.workers_used, r.message);
  ataru_result_free(&r);
  CHECK(run1(inst, "\x03\x03", 2, &r) == ATARU_STATUS_OK, "after timeout: %s", r.message);
  ataru_result_free(&r);
  ataru_instance_destroy(inst);
}

/* A log from a worker vCPU: vCPU 0 takes node 0 at once, the worker (once
 * history wakes it) node 1, the logger. The SDK finds its vCPU's log slot
 * from its stack. */
static void log_on_worker(void) {
  ataru_node_spec n[3];
  memset(n, 0, sizeof n);
  n[0].path = FIX("burn"); n[0].name = "burn"; n[0].out_off = 0x1000;
  n[1].path = FIX("logger"); n[1].name = "logger"; n[1].out_off = 0x1100;
  n[2].path = FIX("burn"); n[2].name = "burn"; n[2].out_off = 0x1200;
  ataru_app_spec s;
  memset(&s, 0, sizeof s);
  s.runtime_path = RUNTIME;
  s.num_nodes = 3;
  s.nodes = n;
  s.vcpus = 2;
  s.log_fn = on_log;
  ataru_error err;
  ataru_instance *inst = ataru_instance_create(&s, &err);
  CHECK(inst, "create: %s", err.message);
  if (!inst) return;
  for (int i = 0; i < 3; i++) {
    ataru_result r;
    logged[0] = 0;
    CHECK(run1(inst, "\x02", 1, &r) == ATARU_STATUS_OK, "log run: %s", r.message);
    CHECK(logged_node == 1 && strcmp(logged, "logger: node 1 got 1 bytes, hex -42%") == 0,
          "log (workers %u) from node %u: '%s'", r.workers_used, logged_node, logged);
    if (i == 2) CHECK(r.workers_used == 1, "log run without workers");
    ataru_result_free(&r);
  }
  ataru_instance_destroy(inst);
}

int main(void) {
  spread();
  fault_on(0);
  fault_on(1);
  timeout_on_worker();
  log_on_worker();
  return finish("smoke_parallel");
}
