/*
 * smoke.h — helpers for the core's C smoke tests (native/test/smoke_*.c):
 * build an app spec from fixture functions (test/fixtures/functions/build)
 * and check results. Run from native/: build/smoke_<name>.
 */
#ifndef ATARU_SMOKE_H
#define ATARU_SMOKE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ataru_core.h"

#define RUNTIME "../guest/runtime.elf"
#define FIX(name) "../test/fixtures/functions/build/" name ".elf"
#define OWN(name) "test/smoke_functions/build/" name ".elf"
#define DRIVER_FN(name) "test/build/functions/" name ".elf"

static int failures;

#define CHECK(cond, ...)                                        \
  do {                                                          \
    if (!(cond)) {                                              \
      failures++;                                               \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);      \
      fprintf(stderr, __VA_ARGS__);                             \
      fprintf(stderr, "\n");                                    \
    }                                                           \
  } while (0)

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The last function log line (spec.log_fn = on_log) and its node. */
__attribute__((unused)) static char logged[256];
__attribute__((unused)) static uint32_t logged_node = 99;
__attribute__((unused)) static void on_log(void *ctx, uint32_t node, const char *msg, size_t len, uint32_t dropped) {
  (void)ctx;
  (void)dropped;
  if (!msg) return;
  logged_node = node;
  snprintf(logged, sizeof logged, "%.*s", (int)len, msg);
}

/* An app of n nodes (nodes[k].path set; names default to the path). */
static ataru_instance *make_app_nodes(uint32_t n, ataru_node_spec *nodes, uint32_t nedges,
                                      const uint16_t *edges, uint32_t vcpus, int keep_state,
                                      uint64_t timeout_us) {
  for (uint32_t k = 0; k < n; k++)
    if (!nodes[k].name) {
      const char *slash = strrchr(nodes[k].path, '/');
      nodes[k].name = slash ? slash + 1 : nodes[k].path;
    }
  ataru_app_spec s;
  memset(&s, 0, sizeof s);
  s.runtime_path = RUNTIME;
  s.num_nodes = n;
  s.nodes = nodes;
  s.num_edges = nedges;
  s.edges = edges;
  s.vcpus = vcpus;
  s.keep_state = keep_state;
  s.timeout_us = timeout_us;
  ataru_error err;
  ataru_instance *inst = ataru_instance_create(&s, &err);
  if (!inst) {
    failures++;
    fprintf(stderr, "FAIL create: %s\n", err.message);
  }
  return inst;
}

/* An app of n nodes, all with offsets 0. */
__attribute__((unused)) static ataru_instance *make_app(uint32_t n, const char **fns, uint32_t nedges,
                                const uint16_t *edges, uint32_t vcpus, int keep_state,
                                uint64_t timeout_us) {
  ataru_node_spec nodes[16];
  memset(nodes, 0, sizeof nodes);
  for (uint32_t k = 0; k < n; k++) nodes[k].path = fns[k];
  return make_app_nodes(n, nodes, nedges, edges, vcpus, keep_state, timeout_us);
}

/* Runs one request; returns the status (output freed). */
__attribute__((unused)) static uint32_t run1(ataru_instance *inst, const void *in, size_t len, ataru_result *r) {
  int rc = ataru_instance_run(inst, in, len, ATARU_NODE_ID_DEFAULT, r);
  if (rc != 0) {
    failures++;
    fprintf(stderr, "FAIL run rc %d\n", rc);
    return ATARU_STATUS_INTERNAL;
  }
  return r->status;
}

static int finish(const char *name) {
  if (failures) fprintf(stderr, "%s: %d failure(s)\n", name, failures);
  else printf("%s: ok\n", name);
  return failures ? 1 : 0;
}

#endif
