/*
 * peer.h — what every peer harness (native, spawn, wasm, qemu) shares: one
 * call that runs a workload's DAG on a request the way Ataru's in-VM runtime
 * does (request copied to shared-region offset 0, nodes in topological order,
 * sink outputs concatenated). bench/peers/dag-c.ts generates peer_run() for
 * each workload from its app definition.
 */
#ifndef PEER_H
#define PEER_H

#include <stddef.h>
#include <stdint.h>

/* Returns the output (valid until the next call) and its length, or NULL
 * when a node returned an error or an out-of-bounds length. */
const uint8_t *peer_run(const uint8_t *in, uint64_t in_len, uint64_t *out_len);

/* The answer digest every system reports: FNV-1a 64 of the output (the
 * qemu guest can only print a short line, so all systems compare digests). */
static inline uint64_t peer_digest(const uint8_t *p, uint64_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

#endif
