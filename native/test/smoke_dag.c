/* smoke_dag: chains, diamonds, several roots, data through offsets, node ids,
 * function errors, output bounds, clean state and keep_state, logs. */
#include "smoke.h"

static void chain(void) {
  ataru_node_spec n[3];
  memset(n, 0, sizeof n);
  for (int k = 0; k < 3; k++) {
    n[k].path = FIX("add1");
    n[k].inp_off = (uint64_t)k * 0x1000;
    n[k].out_off = (uint64_t)(k + 1) * 0x1000;
  }
  uint16_t e[] = {0, 1, 1, 2};
  ataru_instance *inst = make_app_nodes(3, n, 2, e, 1, 0, 0);
  if (!inst) return;
  ataru_result r;
  CHECK(run1(inst, "abc", 3, &r) == ATARU_STATUS_OK, "chain: %s", r.message);
  CHECK(r.output_len == 3 && memcmp(r.output, "def", 3) == 0, "chain output");
  for (int k = 0; k < 3; k++) CHECK(r.node_ret[k] == 3, "chain node_ret[%d] %lld", k, (long long)r.node_ret[k]);
  ataru_result_free(&r);
  ataru_instance_destroy(inst);
}

/* 0 -> {1, 2} -> 3, with sum at the join reading both branch outputs. */
static void diamond(void) {
  ataru_node_spec n[4];
  memset(n, 0, sizeof n);
  n[0].path = FIX("echo"); n[0].out_off = 0x1000;
  n[1].path = FIX("add1"); n[1].inp_off = 0x1000; n[1].out_off = 0x2000;
  n[2].path = FIX("add1"); n[2].inp_off = 0x1000; n[2].out_off = 0x2003;
  n[3].path = FIX("sum"); n[3].inp_off = 0x2000; n[3].out_off = 0x3000;
  uint16_t e[] = {0, 1, 0, 2, 1, 3, 2, 3};
  ataru_instance *inst = make_app_nodes(4, n, 4, e, 1, 0, 0);
  if (!inst) return;
  ataru_result r;
  /* sum's in_len: its input parent (node 1, out 0x2000) returned 3 bytes */
  CHECK(run1(inst, "\x01\x02\x03", 3, &r) == ATARU_STATUS_OK, "diamond: %s", r.message);
  uint64_t sum = 0;
  if (r.output_len == 8) memcpy(&sum, r.output, 8);
  CHECK(sum == 2 + 3 + 4, "diamond sum %llu", (unsigned long long)sum);
  ataru_result_free(&r);
  ataru_instance_destroy(inst);
}

/* Two parentless nodes: both run (the original started only node 0). */
static void two_roots(void) {
  ataru_node_spec n[2];
  memset(n, 0, sizeof n);
  n[0].path = FIX("nodeid"); n[0].out_off = 0x1000;
  n[1].path = FIX("nodeid"); n[1].out_off = 0x2000;
  ataru_instance *inst = make_app_nodes(2, n, 0, NULL, 1, 0, 0);
  if (!inst) return;
  ataru_result r;
  CHECK(run1(inst, "", 0, &r) == ATARU_STATUS_OK, "roots: %s", r.message);
  uint64_t ids[2] = {9, 9};
  if (r.output_len == 16) memcpy(ids, r.output, 16);
  CHECK(ids[0] == 0 && ids[1] == 1, "roots ids %llu %llu", (unsigned long long)ids[0], (unsigned long long)ids[1]);
  ataru_result_free(&r);
  CHECK(ataru_instance_run(inst, "", 0, 77, &r) == 0 && r.status == 0, "override run");
  if (r.output_len == 16) memcpy(ids, r.output, 16);
  CHECK(ids[0] == 77 && ids[1] == 77, "override ids %llu %llu", (unsigned long long)ids[0], (unsigned long long)ids[1]);
  ataru_result_free(&r);
  ataru_instance_destroy(inst);
}

static void errors(void) {
  const char *fns[] = {FIX("echo"), FIX("neg"), FIX("echo")};
  uint16_t e[] = {0, 1, 1, 2};
  ataru_instance *inst = make_app(3, fns, 2, e, 1, 0, 0);
  if (!inst) return;
  ataru_result r;
  CHECK(run1(inst, "x", 1, &r) == ATARU_STATUS_FUNCTION_ERROR, "neg status %u", r.status);
  CHECK(r.failed_node == 1 && strstr(r.message, "node 1 (neg.elf)") && strstr(r.message, "-7"),
        "neg message: %s", r.message);
  ataru_result_free(&r);
  ataru_instance_destroy(inst);
  const char *big[] = {OWN("toobig")};
  inst = make_app(1, big, 0, NULL, 1, 0, 0);
  if (!inst) return;
  CHECK(run1(inst, "x", 1, &r) == ATARU_STATUS_OUTPUT_TOO_LARGE, "toobig status %u", r.status);
  CHECK(strstr(r.message, "node 0 (toobig.elf)") != NULL, "toobig message: %s", r.message);
  ataru_result_free(&r);
  ataru_instance_destroy(inst);
}

static void clean_state(void) {
  const char *fns[] = {FIX("counter")};
  ataru_instance *inst = make_app(1, fns, 0, NULL, 1, 0, 0);
  if (!inst) return;
  int bad = 0;
  uint64_t t0 = now_ns(), total_run = 0;
  for (int i = 0; i < 1000; i++) {
    ataru_result r;
    uint64_t v = 0;
    if (run1(inst, "", 0, &r) != ATARU_STATUS_OK || r.output_len != 8) bad++;
    else memcpy(&v, r.output, 8);
    if (v != 1) bad++;
    total_run += r.run_ns;
    ataru_result_free(&r);
  }
  uint64_t t1 = now_ns();
  CHECK(bad == 0, "clean state: %d bad of 1000", bad);
  printf("warm request (counter, sync run, incl. reset): %.1f us/request, run_ns mean %.1f us\n",
         (t1 - t0) / 1000.0 / 1000, total_run / 1000.0 / 1000);
  uint64_t priv, pss;
  ataru_instance_memory(inst, &priv, &pss);
  printf("instance memory: private %llu kB, pss %llu kB\n", (unsigned long long)priv / 1024,
         (unsigned long long)pss / 1024);
  CHECK(priv > 0 && pss > 0, "memory figures");
  uint64_t floor_ns = 0;
  CHECK(ataru_instance_exit_floor(inst, 200, &floor_ns) == 0, "exit floor");
  printf("exit floor: %.1f us\n", floor_ns / 1000.0);
  ataru_result r;
  uint64_t v = 0;
  CHECK(run1(inst, "", 0, &r) == ATARU_STATUS_OK, "after floor: %s", r.message);
  if (r.output_len == 8) memcpy(&v, r.output, 8);
  CHECK(v == 1, "after floor counter %llu", (unsigned long long)v);
  ataru_result_free(&r);
  ataru_instance_destroy(inst);
}

static void keep_state(void) {
  const char *fns[] = {FIX("counter")};
  ataru_instance *inst = make_app(1, fns, 0, NULL, 1, 1, 0);
  if (!inst) return;
  for (uint64_t i = 1; i <= 3; i++) {
    ataru_result r;
    uint64_t v = 0;
    CHECK(run1(inst, "", 0, &r) == ATARU_STATUS_OK, "keep_state: %s", r.message);
    if (r.output_len == 8) memcpy(&v, r.output, 8);
    CHECK(v == i, "keep_state run %llu saw %llu", (unsigned long long)i, (unsigned long long)v);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(inst);
}

/* keep_state keeps counting across requests, but a fault resets the
 * instance to its post-load state. */
static void keep_state_fault(void) {
  ataru_node_spec n[2];
  memset(n, 0, sizeof n);
  n[0].path = FIX("counter"); n[0].out_off = 0x1000;
  n[1].path = OWN("crashif"); n[1].out_off = 0x2000;
  ataru_instance *inst = make_app_nodes(2, n, 0, NULL, 1, 1, 0);
  if (!inst) return;
  const char *inputs = "ooco";
  uint64_t want[] = {1, 2, 0, 1};
  for (int i = 0; i < 4; i++) {
    ataru_result r;
    uint32_t st = run1(inst, inputs + i, 1, &r);
    uint64_t v = 0;
    if (r.output_len == 9) memcpy(&v, r.output, 8);
    if (inputs[i] == 'c')
      CHECK(st == ATARU_STATUS_FAULT && r.failed_node == 1, "keep_state fault: %s", r.message);
    else
      CHECK(st == ATARU_STATUS_OK && v == want[i], "keep_state run %d: status %u counter %llu", i, st,
            (unsigned long long)v);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(inst);
}

static void logs(void) {
  ataru_node_spec n[2];
  memset(n, 0, sizeof n);
  n[0].path = FIX("echo");
  n[1].path = FIX("logger");
  uint16_t e[] = {0, 1};
  ataru_app_spec s;
  memset(&s, 0, sizeof s);
  s.runtime_path = RUNTIME;
  s.num_nodes = 2;
  s.nodes = n;
  n[0].name = "echo";
  n[1].name = "logger";
  s.num_edges = 1;
  s.edges = e;
  s.vcpus = 1;
  s.log_fn = on_log;
  ataru_error err;
  ataru_instance *inst = ataru_instance_create(&s, &err);
  CHECK(inst, "create: %s", err.message);
  if (!inst) return;
  ataru_result r;
  CHECK(run1(inst, "abcd", 4, &r) == ATARU_STATUS_OK, "logger: %s", r.message);
  CHECK(logged_node == 1 && strcmp(logged, "logger: node 1 got 4 bytes, hex -42%") == 0,
        "log from node %u: '%s'", logged_node, logged);
  ataru_result_free(&r);
  ataru_instance_destroy(inst);
}

int main(void) {
  chain();
  diamond();
  two_roots();
  errors();
  clean_state();
  keep_state();
  keep_state_fault();
  logs();
  return finish("smoke_dag");
}
