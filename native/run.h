/*
 * run.h — the run loop of one vCPU and Ataru's port protocol.
 *
 * The runtime talks to the host with `out` to a few ports (common/
 * ataru_abi.h): LOG (a function's log line; served here, the vCPU goes on),
 * YIELD (an idle vCPU lets others have the CPU; served here), DONE (vCPU 0:
 * the request is over), PARK (a worker: its part is over) and FAULT (the
 * CPL0 stubs recorded a fault). DONE and PARK count only from the runtime's
 * own code. Anything else is a failure, described by fault.c.
 */
#ifndef ATARU_RUN_H
#define ATARU_RUN_H

#include <stdint.h>
#include "instance.h"

enum step {
  STEP_DONE,     /* vCPU 0: DONE                                       */
  STEP_PARK,     /* a worker: PARK                                     */
  STEP_KICKED,   /* a kick or a stop condition: the caller decides     */
  STEP_FAILED,   /* f says why; the vCPU re-enters at its entry next   */
};

/* Runs vCPU `vcpu` of inst until DONE, PARK, a kick or a failure. Stop
 * conditions: for vCPU 0 a worker's failure, destroy, or a due deadline
 * check; for a worker the instance's stop flag. */
enum step ataru_run_step(struct ataru_instance *inst, uint32_t vcpu, struct failure *f);
/* Reports the log lines dropped and not yet reported (end of a request). */
void ataru_run_flush_log(struct ataru_instance *inst);

#endif
