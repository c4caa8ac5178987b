/*
 * workers.h — vCPUs 1..n-1: whether a request gets them, waking them, and
 * waiting for (or stopping) them. A worker's thread is handed one job per
 * request it takes part in; it runs DAG nodes until the runtime parks it.
 */
#ifndef ATARU_WORKERS_H
#define ATARU_WORKERS_H

#include <stdint.h>
#include "instance.h"

/* How many workers the next request should get: all of them when history
 * says the work off the critical path is well above their wake-up cost. */
uint32_t ataru_workers_for_request(struct ataru_instance *inst);
/* Adds a successful request's node times to that history. */
void ataru_workers_learn(struct ataru_instance *inst, const ataru_result *res);
/* Wakes vCPUs 1..n for the request about to run on vCPU 0. */
void ataru_workers_wake(struct ataru_instance *inst, uint32_t n);
/* Waits until the woken workers parked; stops them after wait_ns. */
void ataru_workers_wait(struct ataru_instance *inst, uint64_t wait_ns);
/* Stops the woken workers now (a failure or timeout on vCPU 0). */
void ataru_workers_stop(struct ataru_instance *inst);
/* The failure a worker recorded (once worker_failed is set). */
void ataru_workers_failure(struct ataru_instance *inst, struct failure *f);

#endif
