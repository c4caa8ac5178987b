/* smoke_stress: several instances driven from their own threads at once,
 * faults and good requests interleaved, parallel branches included; every
 * answer must be right and nothing may hang. */
#include <pthread.h>
#include "smoke.h"

#define ROUNDS 200

struct driver {
  ataru_instance *inst;
  uint32_t vcpus;
  int bad;
  int faults;
  int spread;   /* requests that used a worker */
};

/* Three roots: crashif (faults on 'c'), and two burns of ~1 ms: on 2 vCPUs
 * the workers take part, so faults and stops happen with them running. */
static void *drive(void *arg) {
  struct driver *d = arg;
  for (int i = 0; i < ROUNDS; i++) {
    int crash = i % 7 == 3;
    unsigned char in[2] = {crash ? 'c' : 'o', 1};
    ataru_result r;
    if (ataru_instance_run(d->inst, in, 2, ATARU_NODE_ID_DEFAULT, &r) != 0) {
      d->bad++;
      continue;
    }
    if (i > 2 && d->vcpus > 1 && r.workers_used == 1) d->spread++;
    if (crash) {
      if (r.status != ATARU_STATUS_FAULT || r.failed_node != 0) d->bad++;
      else d->faults++;
    } else if (r.status != ATARU_STATUS_OK || r.output_len != 2 + 4 + 4 || r.output[0] != 'o') {
      d->bad++;
    }
    ataru_result_free(&r);
  }
  return NULL;
}

int main(void) {
  struct driver d[4];
  pthread_t t[4];
  memset(d, 0, sizeof d);
  uint64_t t0 = now_ns();
  for (int i = 0; i < 4; i++) {
    ataru_node_spec n[3];
    memset(n, 0, sizeof n);
    n[0].path = OWN("crashif"); n[0].out_off = 0x1000;
    n[1].path = FIX("burn"); n[1].inp_off = 1; n[1].out_off = 0x2000;
    n[2].path = FIX("burn"); n[2].inp_off = 1; n[2].out_off = 0x3000;
    d[i].vcpus = i % 2 ? 2 : 1;
    d[i].inst = make_app_nodes(3, n, 0, NULL, d[i].vcpus, 0, 1000000);
    if (!d[i].inst) return finish("smoke_stress");
    pthread_create(&t[i], NULL, drive, &d[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    CHECK(d[i].bad == 0 && d[i].faults == ROUNDS / 7 + (ROUNDS % 7 > 3),
          "instance %d: %d bad, %d faults", i, d[i].bad, d[i].faults);
    CHECK(d[i].vcpus == 1 || d[i].spread > ROUNDS / 2, "instance %d: workers in %d requests", i, d[i].spread);
    ataru_instance_destroy(d[i].inst);
  }
  printf("4 instances x %d requests: %.0f ms\n", ROUNDS, (now_ns() - t0) / 1e6);
  return finish("smoke_stress");
}
