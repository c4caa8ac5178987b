/*
 * spawn_main.c — the "process per request" peer: a static binary that reads
 * the request from stdin to EOF, runs the workload's DAG and writes the
 * output to stdout. With PEER_HOLD set it stops itself (SIGSTOP) after
 * answering, so the harness can read its memory before killing it.
 */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include "peer.h"

static uint8_t in[1 << 22];

int main(void) {
  size_t len = 0;
  for (;;) {
    ssize_t r = read(0, in + len, sizeof in - len);
    if (r < 0) return 2;
    if (r == 0) break;
    len += (size_t)r;
    if (len == sizeof in) return 2;
  }
  uint64_t out_len;
  const uint8_t *out = peer_run(in, len, &out_len);
  if (!out) return 1;
  for (uint64_t done = 0; done < out_len;) {
    ssize_t w = write(1, out + done, out_len - done);
    if (w <= 0) return 2;
    done += (uint64_t)w;
  }
  if (getenv("PEER_HOLD")) {
    close(1);
    raise(SIGSTOP);
  }
  return 0;
}
