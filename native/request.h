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

#endif
