/* dag.c — the DAG config and its checks (see dag.h). */
#define _GNU_SOURCE
#include "dag.h"
#include "util.h"

/* An idle vCPU spins this long before yielding to the host (`out YIELD`):
 * well below the work that makes spreading worthwhile, well above the
 * handoff time between vCPUs (0.05 µs). */
#define GUEST_IDLE_SPIN_NS 30000u

static uint64_t page_round(uint64_t x) { return (x + ATARU_PAGE_SIZE - 1) & ~(ATARU_PAGE_SIZE - 1); }

int ataru_dag_validate(const ataru_app_spec *s, ataru_error *err) {
  if (!s->runtime_path) return ataru_fail(err, ATARU_CREATE_BAD_SPEC, "no runtime path");
  if (s->num_nodes < 1 || s->num_nodes > ATARU_MAX_NODES || !s->nodes)
    return ataru_fail(err, ATARU_CREATE_BAD_SPEC, "num_nodes must be 1..%d", ATARU_MAX_NODES);
  if (s->vcpus < 1 || s->vcpus > ATARU_MAX_VCPUS)
    return ataru_fail(err, ATARU_CREATE_BAD_SPEC, "vcpus must be 1..%d", ATARU_MAX_VCPUS);
  if (s->num_edges > ATARU_MAX_EDGES || (s->num_edges && !s->edges))
    return ataru_fail(err, ATARU_CREATE_BAD_SPEC, "at most %d edges", ATARU_MAX_EDGES);
  uint64_t shm = s->shm_size ? s->shm_size : ATARU_SHM_DEFAULT;
  if (shm > ATARU_SHM_MAX)
    return ataru_fail(err, ATARU_CREATE_BAD_SPEC, "shm_size %llu exceeds %llu", (unsigned long long)shm,
                        (unsigned long long)ATARU_SHM_MAX);
  uint64_t stack = s->stack_size ? s->stack_size : ATARU_STACK_DEFAULT;
  if (stack > ATARU_STACK_MAX || stack < 2 * ATARU_PAGE_SIZE)
    return ataru_fail(err, ATARU_CREATE_BAD_SPEC, "stack_size must be %llu..%llu bytes",
                        (unsigned long long)(2 * ATARU_PAGE_SIZE),
                        (unsigned long long)ATARU_STACK_MAX);
  for (uint32_t e = 0; e < s->num_edges; e++) {
    uint16_t a = s->edges[2 * e], b = s->edges[2 * e + 1];
    if (a >= s->num_nodes || b >= s->num_nodes || a == b)
      return ataru_fail(err, ATARU_CREATE_BAD_SPEC, "edge %u: %u -> %u is not valid", e, a, b);
  }
  for (uint32_t k = 0; k < s->num_nodes; k++) {
    const ataru_node_spec *n = &s->nodes[k];
    if (!n->path) return ataru_fail(err, ATARU_CREATE_BAD_SPEC, "node %u has no function path", k);
    if (n->inp_off >= page_round(shm) || n->out_off >= page_round(shm))
      return ataru_fail(err, ATARU_CREATE_BAD_SPEC, "node %u: inp_off/out_off beyond the %llu-byte shared region",
                          k, (unsigned long long)page_round(shm));
  }
  return 0;
}

/* The DAG config (read-only to the guest) and the host's topological order. */
int ataru_dag_build(struct ataru_instance *inst, const ataru_app_spec *s, struct ataru_config *cfg,
                    ataru_error *err) {
  uint32_t n = s->num_nodes, m = s->num_edges;
  cfg->magic = ATARU_CONFIG_MAGIC;
  cfg->num_nodes = n;
  cfg->num_vcpus = s->vcpus;
  cfg->shm_base = ATARU_SHM_BASE;
  cfg->shm_size = inst->shm_size;
  cfg->idle_spin_tsc = ataru_tsc_hz() / (1000000000u / GUEST_IDLE_SPIN_NS);
  /* children grouped by parent, in edge order */
  uint32_t pos = 0;
  for (uint32_t k = 0; k < n; k++) {
    struct ataru_node_config *c = &cfg->node[k];
    c->inp_off = s->nodes[k].inp_off;
    c->out_off = s->nodes[k].out_off;
    c->input_parent = ATARU_NO_NODE;
    c->child_first = pos;
    for (uint32_t e = 0; e < m; e++)
      if (s->edges[2 * e] == k) cfg->children[pos++] = s->edges[2 * e + 1];
    c->child_end = pos;
  }
  for (uint32_t e = 0; e < m; e++) {
    uint32_t from = s->edges[2 * e], to = s->edges[2 * e + 1];
    struct ataru_node_config *c = &cfg->node[to];
    c->in_count++;
    if (c->input_parent == ATARU_NO_NODE && s->nodes[from].out_off == c->inp_off)
      c->input_parent = from;
  }
  /* Kahn's algorithm: roots, order, and cycle detection in one pass. */
  uint32_t pending[ATARU_MAX_NODES], head = 0, tail = 0;
  for (uint32_t k = 0; k < n; k++) {
    pending[k] = cfg->node[k].in_count;
    if (!pending[k]) {
      cfg->roots[cfg->num_roots++] = (uint16_t)k;
      inst->topo[tail++] = (uint16_t)k;
    }
    if (cfg->node[k].child_first == cfg->node[k].child_end) inst->sinks[inst->num_sinks++] = (uint16_t)k;
  }
  while (head < tail) {
    const struct ataru_node_config *c = &cfg->node[inst->topo[head++]];
    for (uint32_t e = c->child_first; e < c->child_end; e++)
      if (--pending[cfg->children[e]] == 0) inst->topo[tail++] = cfg->children[e];
  }
  if (tail != n) return ataru_fail(err, ATARU_CREATE_BAD_SPEC, "the DAG has a cycle");
  return 0;
}
