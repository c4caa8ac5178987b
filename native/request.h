/*
 * request.h — the request path (request.c): submit, serve on the vCPU-0
 * thread, collect, complete, reset. The public calls (submit, run, exit
 * floor) are in ataru_core.h; this is what instance.c needs at destroy.
 */
#ifndef ATARU_REQUEST_H
#define ATARU_REQUEST_H

#include "instance.h"

/* No more requests: submits answer CLOSED, the running request ends CLOSED
 * (vCPU 0 is kicked), a queued one completes CLOSED when its turn comes. */
void ataru_request_close(struct ataru_instance *inst);

/* Runs the app's init hooks once (template.c), on the vCPU-0 thread, as a
 * request runs: vCPU 0 only, the deadline timeout_ns (0: none), faults
 * contained. 0, or -1 with f filled (the hook at fault named; a hook that
 * returned < 0 is FUNCTION_ERROR). *count: the hooks called. */
int ataru_request_run_inits(struct ataru_instance *inst, uint64_t timeout_ns, struct failure *f, uint32_t *count);

#endif
