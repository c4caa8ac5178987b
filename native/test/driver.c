/*
 * driver.c — conformance driver for the KVM core (native/ataru_core.h).
 *
 * The same static binary runs on this machine's /dev/kvm (kvm_pvm) and inside
 * the hardware-style rig (kvm_amd under QEMU, scripts/rig/run.sh), and checks
 * the same observable results on both: docs/platform-differences.md lists
 * what differs underneath and how the core hides it.
 *
 *   driver --runtime guest/runtime.elf --fixtures test/fixtures/functions/build
 *          [--functions native/test/build/functions]
 *          [--only name[,name...]] [--verbose]
 *   driver --list      the case names, one a line
 *
 * One line per case: `ok <name>` or `FAIL <name>: <why>`, then
 * `N passed, N failed`; exit status 1 on any failure, 2 on bad usage.
 * Known answers are computed here, never taken from the VM.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../ataru_core.h"

static const char *runtime_path, *fixtures_dir, *only;
static const char *functions_dir = "native/test/build/functions";  /* peek, trap */
static int verbose, list_only;
static int passed, failed;

/* ------------------------------------------------------------------ */
/* Reporting                                                           */
/* ------------------------------------------------------------------ */

/* A case: returns NULL on success or a message (in `why`) on failure. */
typedef const char *(*case_fn)(void);

static char why[1024];

__attribute__((format(printf, 1, 2))) static const char *failf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  return why;
}

static int selected(const char *name) {
  if (!only) return 1;
  size_t n = strlen(name);
  for (const char *p = only; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == n && !strncmp(p, name, n)) return 1;
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

static void run_case(const char *name, case_fn fn) {
  if (!selected(name)) return;
  if (list_only) {
    printf("%s\n", name);
    return;
  }
  why[0] = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const char *err = fn();
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
  if (err) {
    printf("FAIL %s: %s\n", name, err);
    failed++;
  } else {
    if (verbose) printf("ok %s (%.1f ms)\n", name, ms);
    else printf("ok %s\n", name);
    passed++;
  }
  fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* Building apps                                                       */
/* ------------------------------------------------------------------ */

static char *fixture(const char *name) {
  static char paths[32][512];
  static int next;
  char *p = paths[next++ % 32];
  snprintf(p, 512, "%s/%s.elf", fixtures_dir, name);
  return p;
}

struct log_capture {
  int count;
  uint32_t node;
  char text[ATARU_LOG_MAX + 1];
};

static void capture_log(void *ctx, uint32_t node, const char *msg, size_t len, uint32_t dropped) {
  struct log_capture *c = ctx;
  (void)dropped;
  if (!msg) return;
  c->count++;
  c->node = node;
  if (len > ATARU_LOG_MAX) len = ATARU_LOG_MAX;
  memcpy(c->text, msg, len);
  c->text[len] = 0;
}

static ataru_app_spec app1(ataru_node_spec *node, const char *fn) {
  memset(node, 0, sizeof *node);
  node->name = fn;
  node->path = fixture(fn);
  node->inp_off = 0;
  node->out_off = 0x10000;
  ataru_app_spec s = {0};
  s.runtime_path = runtime_path;
  s.num_nodes = 1;
  s.nodes = node;
  s.vcpus = 1;
  s.timeout_us = 5 * 1000 * 1000;  /* a hang must not hang the driver */
  return s;
}

static ataru_instance *create(const ataru_app_spec *s) {
  ataru_error err;
  ataru_instance *in = ataru_instance_create(s, &err);
  if (!in) failf("ataru_instance_create: %s", err.message);
  return in;
}

static int run(ataru_instance *in, const void *input, size_t len, ataru_result *res) {
  memset(res, 0, sizeof *res);
  if (ataru_instance_run(in, input, len, ATARU_NODE_ID_DEFAULT, res) != 0) {
    failf("ataru_instance_run returned an error");
    return -1;
  }
  if (verbose)
    printf("  status %u node %u ret %lld out %zu run %.1f us%s%s\n", res->status, res->failed_node,
           (long long)res->node_ret[0], res->output_len, res->run_ns / 1e3,
           res->status ? " msg: " : "", res->status ? res->message : "");
  return 0;
}

static const char *status_name(uint32_t s) {
  switch (s) {
#define ATARU_X(name, val, text) case val: return #name;
    ATARU_STATUS_LIST(ATARU_X)
#undef ATARU_X
  }
  return "?";
}

/* ------------------------------------------------------------------ */
/* Cases                                                               */
/* ------------------------------------------------------------------ */

/* Load a function and run it; the answer is computed here. */
static const char *case_uppercase(void) {
  ataru_node_spec n;
  ataru_app_spec s = app1(&n, "uppercase");
  ataru_instance *in = create(&s);
  if (!in) return why;
  const char input[] = "hello, hardware-style KVM rig! 0123 {zZ}";
  char want[sizeof input];
  for (size_t i = 0; i < sizeof input - 1; i++)
    want[i] = input[i] >= 'a' && input[i] <= 'z' ? input[i] - 32 : input[i];
  ataru_result r;
  const char *err = NULL;
  for (int k = 0; k < 2 && !err; k++) {
    if (run(in, input, sizeof input - 1, &r)) { err = why; break; }
    if (r.status != ATARU_STATUS_OK) err = failf("status %s: %s", status_name(r.status), r.message);
    else if (r.output_len != sizeof input - 1 || memcmp(r.output, want, r.output_len))
      err = failf("output %.*s (%zu bytes), want %.*s", (int)r.output_len, (char *)r.output,
                  r.output_len, (int)sizeof input - 1, want);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(in);
  return err;
}

/* A computation long enough to be preempted by host interrupts on the way:
 * burn's LCG, 1e6 steps (first input byte = 1). */
static const char *case_burn(void) {
  ataru_node_spec n;
  ataru_app_spec s = app1(&n, "burn");
  ataru_instance *in = create(&s);
  if (!in) return why;
  uint32_t x = 1;
  for (uint32_t i = 0; i < 1000000; i++) x = x * 1664525u + 1013904223u;
  unsigned char input = 1;
  ataru_result r;
  const char *err = NULL;
  if (run(in, &input, 1, &r)) err = why;
  else if (r.status != ATARU_STATUS_OK) err = failf("status %s: %s", status_name(r.status), r.message);
  else if (r.output_len != 4 || memcmp(r.output, &x, 4)) err = failf("wrong LCG result");
  ataru_result_free(&r);
  ataru_instance_destroy(in);
  return err;
}

/* counter: returns 1 after every reset; keep_state: 1, 2, 3. */
static const char *counter_case(int keep_state) {
  ataru_node_spec n;
  ataru_app_spec s = app1(&n, "counter");
  s.keep_state = keep_state;
  ataru_instance *in = create(&s);
  if (!in) return why;
  const char *err = NULL;
  for (uint64_t k = 1; k <= 3 && !err; k++) {
    ataru_result r;
    if (run(in, "x", 1, &r)) { err = why; break; }
    uint64_t want = keep_state ? k : 1, got = 0;
    if (r.status != ATARU_STATUS_OK) err = failf("run %llu: status %s: %s", (unsigned long long)k, status_name(r.status), r.message);
    else if (r.output_len != 8) err = failf("run %llu: %zu output bytes", (unsigned long long)k, r.output_len);
    else if (memcpy(&got, r.output, 8), got != want)
      err = failf("run %llu: counter %llu, want %llu", (unsigned long long)k, (unsigned long long)got, (unsigned long long)want);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(in);
  return err;
}
static const char *case_reset(void) { return counter_case(0); }
static const char *case_keep_state(void) { return counter_case(1); }

/* A function error (negative return) is not a fault: FUNCTION_ERROR, node named. */
static const char *case_function_error(void) {
  ataru_node_spec n;
  ataru_app_spec s = app1(&n, "neg");
  ataru_instance *in = create(&s);
  if (!in) return why;
  ataru_result r;
  const char *err = NULL;
  if (run(in, "", 0, &r)) err = why;
  else if (r.status != ATARU_STATUS_FUNCTION_ERROR || r.failed_node != 0 || r.node_ret[0] != -7)
    err = failf("status %s node %u ret %lld: %s", status_name(r.status), r.failed_node,
                (long long)r.node_ret[0], r.message);
  ataru_result_free(&r);
  ataru_instance_destroy(in);
  return err;
}

/* Faults. Each must end the request as FAULT, naming the node and the
 * cause, and do so twice in the same instance with the same message: after a
 * fault the core puts the vCPU back to CPL3 (on hardware KVM a triple fault
 * would have reset it to real mode, so a sloppy restore shows up here). */
struct fault_case {
  const char *name;        /* case name */
  const char *fixture;
  const char *expect[3];   /* substrings the message must contain (all) */
};

static const struct fault_case faults[] = {
  {"fault_nullread",      "nullread",      {"page fault", "0x0", "read"}},
  {"fault_nullwrite",     "nullwrite",     {"page fault", "0x0", "write"}},
  {"fault_wildwrite",     "wildwrite",     {"page fault", "0x7fff0000", "write"}},
  {"fault_writecode",     "writecode",     {"write to code", NULL, NULL}},
  {"fault_stackoverflow", "stackoverflow", {"stack overflow", NULL, NULL}},
  {"fault_hlt",           "hlt",           {"privileged instruction hlt", NULL, NULL}},
  {"fault_cli",           "cli",           {"privileged instruction cli", NULL, NULL}},
  {"fault_wrmsr",         "wrmsr",         {"privileged instruction wrmsr", NULL, NULL}},
  {"fault_movcr3",        "movcr3",        {"privileged instruction mov to cr3", NULL, NULL}},
  {"fault_outport",       "outport",       {"port 0x80 is not allowed", NULL, NULL}},
  {"fault_ud2",           "ud2",           {"invalid opcode", NULL, NULL}},
  {"fault_syscall",       "syscall",       {"syscall is not supported", NULL, NULL}},
};

static const struct fault_case *current_fault;

/* A message's " at rip 0x..." must name the faulting instruction, in the
 * function's image (images start at ATARU_IMAGES_BASE): never the reset
 * vector 0xfff0 that a vCPU shows after a triple fault on kvm_amd. */
static const char *check_rip(const char *msg, int required, int k) {
  const char *at = strstr(msg, " at rip 0x");
  if (!at) return required ? failf("run %d: message has no rip: %s", k, msg) : NULL;
  unsigned long long rip = strtoull(at + 10, NULL, 16);
  if (rip < ATARU_IMAGES_BASE || rip >= ATARU_IMAGES_BASE + ATARU_IMAGE_ALIGN)
    return failf("run %d: rip 0x%llx is not in the function's image: %s", k, rip, msg);
  return NULL;
}

static const char *check_fault(const ataru_result *r, const struct fault_case *f, int k) {
  if (r->status != ATARU_STATUS_FAULT)
    return failf("run %d: status %s, want FAULT (%s)", k, status_name(r->status), r->message);
  if (r->failed_node != 0) return failf("run %d: failed_node %u, want 0", k, r->failed_node);
  if (!strstr(r->message, f->fixture))
    return failf("run %d: message does not name the node \"%s\": %s", k, f->fixture, r->message);
  for (int i = 0; i < 3 && f->expect[i]; i++)
    if (!strcasestr(r->message, f->expect[i]))
      return failf("run %d: message lacks \"%s\": %s", k, f->expect[i], r->message);
  return check_rip(r->message, 1, k);
}

static const char *case_fault(void) {
  const struct fault_case *f = current_fault;
  ataru_node_spec n;
  ataru_app_spec s = app1(&n, f->fixture);
  ataru_instance *in = create(&s);
  if (!in) return why;
  const char *err = NULL;
  char first[512] = "";
  for (int k = 1; k <= 2 && !err; k++) {
    ataru_result r;
    if (run(in, "abc", 3, &r)) { err = why; break; }
    err = check_fault(&r, f, k);
    if (!err && k == 1) {
      snprintf(first, sizeof first, "%s", r.message);
      printf("  %s: %s\n", f->name, r.message);
    }
    if (!err && k == 2 && strcmp(first, r.message))
      err = failf("second run differs: \"%s\" vs \"%s\"", r.message, first);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(in);
  return err;
}

/* A fault in a later node names that node; then a good app runs in a fresh
 * instance of this process. */
static const char *case_fault_then_ok(void) {
  ataru_node_spec nodes[2] = {
    {.name = "uppercase", .path = fixture("uppercase"), .inp_off = 0, .out_off = 0x10000},
    {.name = "nullwrite", .path = fixture("nullwrite"), .inp_off = 0x10000, .out_off = 0x20000},
  };
  uint16_t edges[] = {0, 1};
  ataru_app_spec s = {.runtime_path = runtime_path, .num_nodes = 2, .nodes = nodes,
                      .num_edges = 1, .edges = edges, .vcpus = 1, .timeout_us = 5000000};
  ataru_instance *in = create(&s);
  if (!in) return why;
  ataru_result r;
  const char *err = NULL;
  if (run(in, "abc", 3, &r)) err = why;
  else if (r.status != ATARU_STATUS_FAULT || r.failed_node != 1)
    err = failf("status %s node %u, want FAULT at node 1: %s", status_name(r.status), r.failed_node, r.message);
  else if (!strstr(r.message, "nullwrite"))
    err = failf("message does not name node 1: %s", r.message);
  ataru_result_free(&r);
  ataru_instance_destroy(in);
  if (err) return err;
  /* And a good app afterwards, in a fresh instance of the same process. */
  return case_uppercase();
}

/* Timeout kick: spin never returns; the request deadline fails it with
 * TIMEOUT, and the instance runs the next request (timed out again). */
static const char *case_timeout(void) {
  ataru_node_spec n;
  ataru_app_spec s = app1(&n, "spin");
  s.timeout_us = 50 * 1000;
  ataru_instance *in = create(&s);
  if (!in) return why;
  const char *err = NULL;
  for (int k = 1; k <= 2 && !err; k++) {
    ataru_result r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (run(in, "", 0, &r)) { err = why; break; }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (r.status != ATARU_STATUS_TIMEOUT)
      err = failf("run %d: status %s, want TIMEOUT: %s", k, status_name(r.status), r.message);
    else if (!strcasestr(r.message, "timeout") && !strcasestr(r.message, "timed out"))
      err = failf("run %d: message does not say timeout: %s", k, r.message);
    else if (ms < 45 || ms > 3000)
      err = failf("run %d: took %.1f ms for a 50 ms deadline", k, ms);
    else if (k == 1)
      printf("  timeout: %s (%.1f ms)\n", r.message, ms);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(in);
  return err;
}

/* A per-node timeout (node spec) fails the request as TIMEOUT naming the node. */
static const char *case_node_timeout(void) {
  ataru_node_spec n;
  ataru_app_spec s = app1(&n, "spin");
  n.timeout_us = 30 * 1000;
  s.timeout_us = 5 * 1000 * 1000;
  ataru_instance *in = create(&s);
  if (!in) return why;
  ataru_result r;
  const char *err = NULL;
  if (run(in, "", 0, &r)) err = why;
  else if (r.status != ATARU_STATUS_TIMEOUT || r.failed_node != 0)
    err = failf("status %s node %u, want TIMEOUT at node 0: %s", status_name(r.status), r.failed_node, r.message);
  else if (!strstr(r.message, "spin"))
    err = failf("message does not name the node: %s", r.message);
  ataru_result_free(&r);
  ataru_instance_destroy(in);
  return err;
}

/* A node timeout must not fire early. Chain A -> B, both burn(N) on the
 * request; only B has a node timeout T = 1.9 d, d = one burn's duration
 * measured first on this platform. The host's first check comes at T, while
 * B runs (since d); B has run 0.9 d then and must be spared. The host
 * compares its TSC with the guest's node start: on hardware KVM the guest
 * TSC is offset from the host's unless the core aligns them. */
static uint32_t lcg(uint64_t steps) {
  uint32_t x = 1;
  for (uint64_t i = 0; i < steps; i++) x = x * 1664525u + 1013904223u;
  return x;
}

static const char *case_node_timeout_spared(void) {
  ataru_node_spec nodes[2] = {
    {.name = "A", .path = fixture("burn"), .inp_off = 0, .out_off = 0x10000},
    {.name = "B", .path = fixture("burn"), .inp_off = 0, .out_off = 0x11000},
  };
  uint16_t edges[] = {0, 1};
  ataru_app_spec s = {.runtime_path = runtime_path, .num_nodes = 2, .nodes = nodes,
                      .num_edges = 1, .edges = edges, .vcpus = 1, .timeout_us = 20000000};
  /* Calibrate: N so that one burn takes ~50 ms, then d (the faster of two runs). */
  ataru_instance *in = create(&s);
  if (!in) return why;
  unsigned char n = 1;
  uint64_t d = 0;
  const char *err = NULL;
  for (int k = 0; k < 3 && !err; k++) {
    ataru_result r;
    if (run(in, &n, 1, &r)) { err = why; break; }
    if (r.status != ATARU_STATUS_OK) err = failf("calibration: status %s: %s", status_name(r.status), r.message);
    uint64_t nd = r.node_ns[0] < r.node_ns[1] ? r.node_ns[0] : r.node_ns[1];
    ataru_result_free(&r);
    if (err) break;
    if (k == 0) {
      uint64_t want = 50000000, per = nd ? nd : 1;
      n = (unsigned char)(want / per > 200 ? 200 : want / per < 1 ? 1 : want / per);
    } else if (!d || nd < d) {
      d = nd;
    }
  }
  ataru_instance_destroy(in);
  if (err) return err;
  if (!d) return failf("calibration gave 0 ns node times");
  nodes[1].timeout_us = d * 19 / 10 / 1000;
  if (!(in = create(&s))) return why;
  uint32_t want = lcg((uint64_t)n * 1000000);
  /* The property: the node timeout never fires before B has run T. On each
   * TIMEOUT the host's clock says how long B had run (the wall time of the
   * request less A's time, an over-estimate): under T is the bug, at least T
   * is a loaded machine (B slowed down 1.9x), which is tried again. The bug
   * fires early on every attempt, so one spared run or ten honest timeouts
   * settle it without asserting any speed. */
  const uint64_t t_ns = (uint64_t)nodes[1].timeout_us * 1000;
  int honest = 0;
  for (int attempt = 1; attempt <= 10; attempt++) {
    ataru_result r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (run(in, &n, 1, &r)) { err = why; break; }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t wall = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
    uint64_t b_ran = wall > r.node_ns[0] ? wall - r.node_ns[0] : 0;
    int timed_out = r.status == ATARU_STATUS_TIMEOUT;
    err = NULL;
    if (timed_out && (r.failed_node != 1 || b_ran < t_ns))
      err = failf("burn(%u) ~%.1f ms under a %.1f ms node timeout: node %u timed out after B ran %.1f ms: %s",
                  n, d / 1e6, t_ns / 1e6, r.failed_node, b_ran / 1e6, r.message);
    else if (!timed_out && r.status != ATARU_STATUS_OK)
      err = failf("burn(%u): status %s: %s", n, status_name(r.status), r.message);
    else if (!timed_out && (r.output_len != 4 || memcmp(r.output, &want, 4)))
      err = failf("wrong LCG result");
    else if (!timed_out && verbose)
      printf("  burn(%u) ~%.1f ms, node timeout %.1f ms, attempt %d\n", n, d / 1e6, t_ns / 1e6, attempt);
    ataru_result_free(&r);
    if (err || !timed_out) break;
    honest++;
  }
  if (!err && honest == 10)
    printf("  node_timeout_spared: machine too loaded for B to finish in 1.9x; all 10 timeouts came after B ran %.1f ms\n",
           t_ns / 1e6);
  ataru_instance_destroy(in);
  return err;
}

/* The exit protocol: a LOG exit in the middle of a request is consumed and
 * the guest resumed; the request then ends with DONE. */
static const char *case_log(void) {
  ataru_node_spec n;
  ataru_app_spec s = app1(&n, "logger");
  struct log_capture cap = {0};
  s.log_fn = capture_log;
  s.log_ctx = &cap;
  ataru_instance *in = create(&s);
  if (!in) return why;
  ataru_result r;
  const char *err = NULL;
  const char *want = "logger: node 0 got 5 bytes, hex -42%";
  for (int k = 1; k <= 2 && !err; k++) {
    cap.count = 0;
    if (run(in, "12345", 5, &r)) { err = why; break; }
    if (r.status != ATARU_STATUS_OK) err = failf("status %s: %s", status_name(r.status), r.message);
    else if (cap.count != 1) err = failf("run %d: %d log lines, want 1", k, cap.count);
    else if (cap.node != 0) err = failf("log from node %u, want 0", cap.node);
    else if (strcmp(cap.text, want)) err = failf("log \"%s\", want \"%s\"", cap.text, want);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(in);
  return err;
}

/* The bare exit protocol: n round trips guest `out` -> host -> guest. */
static const char *case_exit_floor(void) {
  ataru_node_spec n;
  ataru_app_spec s = app1(&n, "noop");
  ataru_instance *in = create(&s);
  if (!in) return why;
  uint64_t ns = 0;
  const char *err = NULL;
  if (ataru_instance_exit_floor(in, 50, &ns) != 0) err = failf("ataru_instance_exit_floor failed");
  else if (ns == 0) err = failf("median 0 ns");
  else printf("  exit round trip: %.2f us\n", ns / 1e3);
  /* The instance still runs requests afterwards. */
  ataru_result r;
  if (!err) {
    if (run(in, "", 0, &r)) err = why;
    else if (r.status != ATARU_STATUS_OK) err = failf("after exit_floor: status %s: %s", status_name(r.status), r.message);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(in);
  return err;
}

/* A diamond on two vCPUs: A = add1 -> (B = add1, C = fnv) -> D = sum of B's
 * output (D waits for both). Sink: D. Answers computed here. Run a few
 * times so the core may spread B and C onto the worker. */
static const char *case_diamond(void) {
  ataru_node_spec nodes[4] = {
    {.name = "A", .path = fixture("add1"), .inp_off = 0, .out_off = 0x10000},
    {.name = "B", .path = fixture("add1"), .inp_off = 0x10000, .out_off = 0x20000},
    {.name = "C", .path = fixture("fnv"), .inp_off = 0x10000, .out_off = 0x30000},
    {.name = "D", .path = fixture("sum"), .inp_off = 0x20000, .out_off = 0x40000},
  };
  uint16_t edges[] = {0, 1, 0, 2, 1, 3, 2, 3};
  ataru_app_spec s = {.runtime_path = runtime_path, .num_nodes = 4, .nodes = nodes,
                      .num_edges = 4, .edges = edges, .vcpus = 2, .timeout_us = 5000000};
  ataru_instance *in = create(&s);
  if (!in) return why;
  unsigned char input[200];
  for (unsigned i = 0; i < sizeof input; i++) input[i] = (unsigned char)(i * 7 + 3);
  uint64_t want_sum = 0;
  for (unsigned i = 0; i < sizeof input; i++) want_sum += (unsigned char)(input[i] + 2);
  const char *err = NULL;
  uint32_t workers = 0;
  for (int k = 1; k <= 5 && !err; k++) {
    ataru_result r;
    if (run(in, input, sizeof input, &r)) { err = why; break; }
    uint64_t got = 0;
    if (r.status != ATARU_STATUS_OK) err = failf("run %d: status %s: %s", k, status_name(r.status), r.message);
    else if (r.num_nodes != 4) err = failf("num_nodes %u", r.num_nodes);
    else if (r.node_ret[0] != 200 || r.node_ret[1] != 200 || r.node_ret[2] != 8 || r.node_ret[3] != 8)
      err = failf("node returns %lld %lld %lld %lld", (long long)r.node_ret[0], (long long)r.node_ret[1],
                  (long long)r.node_ret[2], (long long)r.node_ret[3]);
    else if (r.output_len != 8) err = failf("output %zu bytes, want 8 (sink D)", r.output_len);
    else if (memcpy(&got, r.output, 8), got != want_sum)
      err = failf("sum %llu, want %llu", (unsigned long long)got, (unsigned long long)want_sum);
    if (r.workers_used > workers) workers = r.workers_used;
    ataru_result_free(&r);
  }
  if (!err) printf("  diamond: workers used (max) %u\n", workers);
  ataru_instance_destroy(in);
  return err;
}

/* Two vCPUs with real parallel work: the four middle nodes of a fan-out
 * each burn ~1e6 steps; the core is free to wake the worker. Checks the
 * answers, whichever vCPU ran each node. */
static const char *case_fanout_vcpus2(void) {
  ataru_node_spec nodes[4];
  for (int i = 0; i < 4; i++)
    nodes[i] = (ataru_node_spec){.name = "burn", .path = fixture("burn"), .inp_off = 0,
                                 .out_off = 0x10000 + 0x1000 * (uint64_t)i};
  ataru_app_spec s = {.runtime_path = runtime_path, .num_nodes = 4, .nodes = nodes,
                      .vcpus = 2, .timeout_us = 20000000};
  ataru_instance *in = create(&s);
  if (!in) return why;
  uint32_t x = 1;
  for (uint32_t i = 0; i < 1000000; i++) x = x * 1664525u + 1013904223u;
  unsigned char input = 1;
  const char *err = NULL;
  uint32_t workers = 0;
  for (int k = 1; k <= 3 && !err; k++) {
    ataru_result r;
    if (run(in, &input, 1, &r)) { err = why; break; }
    if (r.status != ATARU_STATUS_OK) err = failf("run %d: status %s: %s", k, status_name(r.status), r.message);
    else if (r.output_len != 16) err = failf("output %zu bytes, want 16", r.output_len);
    else
      for (int i = 0; i < 4 && !err; i++)
        if (memcmp(r.output + 4 * i, &x, 4)) err = failf("sink %d: wrong LCG result", i);
    if (r.workers_used > workers) workers = r.workers_used;
    ataru_result_free(&r);
  }
  if (!err) printf("  fanout: workers used (max) %u\n", workers);
  ataru_instance_destroy(in);
  return err;
}

/* peek (native/test/functions): reads the u64 at the address in its input.
 * Good reads, faults and (with the core's test hooks) triple faults and MMIO
 * exits alternate in one instance: each failure must leave the vCPU and the
 * memory as after load, so the good read that follows gets its answer. */
static const char *peek_run(ataru_instance *in, uint64_t addr, int want_ok, const char *want_msg) {
  static const uint64_t magic = 0x5249474b564d2121ull; /* "!!MVKGIR" */
  uint64_t input[2] = {addr, magic};
  if (want_ok) input[0] = ATARU_SHM_BASE + 8;  /* the magic itself, in the request */
  ataru_result r;
  if (run(in, input, sizeof input, &r)) return why;
  const char *err = NULL;
  uint64_t got = 0;
  if (want_ok) {
    if (r.status != ATARU_STATUS_OK) err = failf("good read: status %s: %s", status_name(r.status), r.message);
    else if (r.output_len != 8 || (memcpy(&got, r.output, 8), got != magic))
      err = failf("good read: got 0x%llx, want 0x%llx", (unsigned long long)got, (unsigned long long)magic);
  } else {
    if (r.status != ATARU_STATUS_FAULT)
      err = failf("read of 0x%llx: status %s, want FAULT: %s", (unsigned long long)addr,
                  status_name(r.status), r.message);
    else if (r.failed_node != 0 || !strstr(r.message, "peek"))
      err = failf("read of 0x%llx: node %u, message %s", (unsigned long long)addr, r.failed_node, r.message);
    else if (!strcasestr(r.message, want_msg))
      err = failf("read of 0x%llx: message lacks \"%s\": %s", (unsigned long long)addr, want_msg, r.message);
    else if ((err = check_rip(r.message, 0, 0)) != NULL) {
    } else if (verbose)
      printf("  peek 0x%llx: %s\n", (unsigned long long)addr, r.message);
  }
  ataru_result_free(&r);
  return err;
}

static const char *peek_case(unsigned hook, uint64_t bad_addr, const char *want_msg) {
  char path[512];
  snprintf(path, sizeof path, "%s/peek.elf", functions_dir);
  ataru_node_spec n = {.name = "peek", .path = path, .inp_off = 0, .out_off = 0x10000};
  ataru_app_spec s = {.runtime_path = runtime_path, .num_nodes = 1, .nodes = &n, .vcpus = 1,
                      .timeout_us = 5000000};
  ataru_instance *in = create(&s);
  if (!in) return why;
  const char *err = NULL;
  if (hook && ataru_instance_test_hook(in, hook) != 0) err = failf("ataru_instance_test_hook(%u) failed", hook);
  for (int k = 0; k < 2 && !err; k++) {
    err = peek_run(in, 0, 1, NULL);
    if (!err) err = peek_run(in, bad_addr, 0, want_msg);
  }
  if (!err) err = peek_run(in, 0, 1, NULL);
  ataru_instance_destroy(in);
  return err;
}

/* After a triple fault (no IDT) the vCPU still runs AVX: on kvm_amd the
 * vCPU was reset (an INIT), and state set once at setup (CPUID, XCR0, MSRs)
 * must survive it or be set again. App: trap(AVX) reads its selector at
 * shm+0x100, then peek reads the address in the first 8 request bytes. */
static const char *case_triple_fault_avx(void) {
  char peek_path[512], trap_path[512];
  snprintf(peek_path, sizeof peek_path, "%s/peek.elf", functions_dir);
  snprintf(trap_path, sizeof trap_path, "%s/trap.elf", functions_dir);
  ataru_node_spec nodes[2] = {
    {.name = "trap", .path = trap_path, .inp_off = 0x100, .out_off = 0x10000},
    {.name = "peek", .path = peek_path, .inp_off = 0, .out_off = 0x11000},
  };
  uint16_t edges[] = {0, 1};
  ataru_app_spec s = {.runtime_path = runtime_path, .num_nodes = 2, .nodes = nodes,
                      .num_edges = 1, .edges = edges, .vcpus = 1, .timeout_us = 5000000};
  ataru_instance *in = create(&s);
  if (!in) return why;
  const char *err = NULL;
  if (ataru_instance_test_hook(in, ATARU_TEST_BREAK_IDT) != 0) err = failf("test hook failed");
  uint8_t input[0x101];
  memset(input, 0, sizeof input);
  input[0x100] = 11; /* trap.c: AVX */
  for (int k = 0; k < 4 && !err; k++) {
    int good = k % 2;
    uint64_t addr = good ? ATARU_SHM_BASE + 8 : 8;
    memcpy(input, &addr, 8);
    ataru_result r;
    if (run(in, input, sizeof input, &r)) { err = why; break; }
    if (good && r.status != ATARU_STATUS_OK)
      err = failf("run %d (after a triple fault): status %s: %s", k, status_name(r.status), r.message);
    else if (!good && (r.status != ATARU_STATUS_FAULT || r.failed_node != 1 || !strstr(r.message, "triple fault")))
      err = failf("run %d: status %s node %u, want a triple fault in peek: %s", k, status_name(r.status),
                  r.failed_node, r.message);
    ataru_result_free(&r);
  }
  ataru_instance_destroy(in);
  return err;
}

static const char *case_fault_recovery(void) { return peek_case(0, 0x8, "page fault reading 0x8"); }
/* Without an IDT every fault is a triple fault: on hardware KVM the vCPU is
 * reset (RIP 0xfff0, CR2 lost), on kvm_pvm not. Same report on both. */
static const char *case_triple_fault(void) { return peek_case(ATARU_TEST_BREAK_IDT, 0x8, "triple fault"); }
/* A page mapped past guest memory: KVM_EXIT_MMIO, reported as a fault. */
static const char *case_mmio(void) { return peek_case(ATARU_TEST_MAP_MMIO, ATARU_TEST_MMIO_GVA, "MMIO"); }

/* trap (native/test/functions): one forbidden instruction per request, all
 * in one instance (each failure must leave it usable for the next). The
 * cause text is checked where both platforms report the same exception;
 * int3 and int1 differ underneath (docs/platform-differences.md), so only
 * the outcome is checked for them. */
struct trap_case {
  const char *name;
  unsigned char selector;  /* trap.c's enum */
  const char *expect;      /* substring of the fault message, or NULL */
  int want_ok;             /* 1: not a fault (output = rax) */
};

static const struct trap_case traps[] = {
  {"trap_int80",       0, "int 0x80", 0},
  {"trap_int3",        1, NULL, 0},
  {"trap_int1",        2, NULL, 0},
  {"trap_in_port",     3, "port 0xa0", 0},
  {"trap_fake_done",   4, "port 0xa0", 0},
  {"trap_xsetbv",      5, "privileged instruction", 0},
  {"trap_rdmsr",       6, "privileged instruction rdmsr", 0},
  {"trap_vmcall",      7, NULL, 0},
  /* KVM answers a CPL3 hypercall itself with -KVM_EPERM: no exit, no fault. */
  {"trap_vmmcall",     8, NULL, 1},
  {"trap_rdpmc",      10, NULL, 0},
  /* Not a trap: 256-bit AVX works on both (rax = the all-ones upper lane). */
  {"avx",             11, NULL, 1},
};

static const struct trap_case *current_trap;
static ataru_instance *trap_instance;

static const char *case_trap(void) {
  const struct trap_case *t = current_trap;
  if (!trap_instance) {
    static char path[512];
    snprintf(path, sizeof path, "%s/trap.elf", functions_dir);
    static ataru_node_spec n;
    n = (ataru_node_spec){.name = "trap", .path = path, .inp_off = 0, .out_off = 0x10000};
    ataru_app_spec s = {.runtime_path = runtime_path, .num_nodes = 1, .nodes = &n, .vcpus = 1,
                        .timeout_us = 5000000};
    if (!(trap_instance = create(&s))) return why;
  }
  ataru_result r;
  if (run(trap_instance, &t->selector, 1, &r)) return why;
  const char *err = NULL;
  uint64_t rax = 0;
  if (t->want_ok) {
    if (r.status != ATARU_STATUS_OK) err = failf("status %s, want OK: %s", status_name(r.status), r.message);
    else if (r.output_len != 8 || (memcpy(&rax, r.output, 8), rax != (uint64_t)-1))
      err = failf("rax 0x%llx, want -1", (unsigned long long)rax);
  } else if (r.status != ATARU_STATUS_FAULT) {
    err = failf("status %s, want FAULT: %s", status_name(r.status), r.message);
  } else if (r.failed_node != 0 || !strstr(r.message, "trap")) {
    err = failf("node %u: %s", r.failed_node, r.message);
  } else if (t->expect && !strcasestr(r.message, t->expect)) {
    err = failf("message lacks \"%s\": %s", t->expect, r.message);
  } else if (!(err = check_rip(r.message, 1, 1))) {
    printf("  %s: %s\n", t->name, r.message);
  }
  ataru_result_free(&r);
  return err;
}

/* ------------------------------------------------------------------ */

static void usage(void) {
  fprintf(stderr, "usage: driver --runtime PATH --fixtures DIR [--functions DIR] [--only a,b] [--verbose] | --list\n");
  exit(2);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--runtime") && i + 1 < argc) runtime_path = argv[++i];
    else if (!strcmp(argv[i], "--fixtures") && i + 1 < argc) fixtures_dir = argv[++i];
    else if (!strcmp(argv[i], "--functions") && i + 1 < argc) functions_dir = argv[++i];
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) verbose = 1;
    else if (!strcmp(argv[i], "--list")) list_only = 1;
    else usage();
  }
  if (!list_only && (!runtime_path || !fixtures_dir)) usage();
  if (!list_only && (access(runtime_path, R_OK) || access(fixtures_dir, R_OK))) {
    fprintf(stderr, "driver: cannot read %s or %s\n", runtime_path, fixtures_dir);
    return 2;
  }

  run_case("uppercase", case_uppercase);
  run_case("burn", case_burn);
  run_case("reset_counter", case_reset);
  run_case("keep_state", case_keep_state);
  run_case("function_error", case_function_error);
  for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
    current_fault = &faults[i];
    run_case(faults[i].name, case_fault);
  }
  run_case("fault_then_ok", case_fault_then_ok);
  run_case("timeout", case_timeout);
  run_case("node_timeout", case_node_timeout);
  run_case("node_timeout_spared", case_node_timeout_spared);
  run_case("log", case_log);
  run_case("exit_floor", case_exit_floor);
  run_case("diamond_vcpus2", case_diamond);
  run_case("fanout_vcpus2", case_fanout_vcpus2);
  run_case("fault_recovery", case_fault_recovery);
  run_case("triple_fault", case_triple_fault);
  run_case("triple_fault_avx", case_triple_fault_avx);
  run_case("mmio", case_mmio);
  for (size_t i = 0; i < sizeof traps / sizeof traps[0]; i++) {
    current_trap = &traps[i];
    run_case(traps[i].name, case_trap);
  }
  if (trap_instance) ataru_instance_destroy(trap_instance);

  if (list_only) return 0;
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
