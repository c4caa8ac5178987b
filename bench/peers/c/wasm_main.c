/*
 * wasm_main.c — the WebAssembly peer's exports. The host writes the request
 * at peer_input(), calls peer_call(len) and reads peer_call's result bytes
 * at peer_output().
 */
#include "peer.h"

#ifndef PEER_IN_MAX
#define PEER_IN_MAX 65536
#endif

static uint8_t in[PEER_IN_MAX];
static const uint8_t *out;

__attribute__((export_name("peer_input"))) uint8_t *peer_input(void) { return in; }

__attribute__((export_name("peer_output"))) const uint8_t *peer_output(void) { return out; }

/* Output length, or -1 when a node failed. */
__attribute__((export_name("peer_call"))) int32_t peer_call(uint32_t len) {
  uint64_t out_len;
  if (len > PEER_IN_MAX) return -1;
  out = peer_run(in, len, &out_len);
  return out ? (int32_t)out_len : -1;
}
