/*
 * timeouts.h — request deadlines and node timeouts, on the vCPU-0 thread.
 *
 * A POSIX timer aimed at the vCPU-0 thread kicks it (kick.h) when the next
 * check is due: the request's deadline or the earliest moment a running
 * node can run out of its own time. The check itself runs on the kicked
 * thread, between two KVM_RUNs.
 *
 * Only the host's clock and the host's own figures set how late a request
 * may end: its timeout and, when every node has one, the sum of the node
 * timeouts. Which node runs and since when comes from the mailbox, which a
 * function can write: those figures can only make a timeout come sooner
 * (and name the node), never later.
 */
#ifndef ATARU_TIMEOUTS_H
#define ATARU_TIMEOUTS_H

#include <stdint.h>
#include <sys/types.h>

#include "instance.h"

/* Creates the timer, aimed at thread `tid` (which runs vCPU 0). 0 or -1. */
int ataru_timeouts_init(struct ataru_instance *inst, pid_t tid);
/* Deletes the timer; called on the vCPU-0 thread as its last act (a timer
 * aimed at a dead thread would signal the process). A vthread_fn. */
void ataru_timeouts_fini(void *inst);
/* The request starts now: arms the first check. */
void ataru_deadline_start(struct ataru_instance *inst);
/* After a kick: 1 with f filled when the request or a running node is past
 * its deadline, else 0 (the next check is armed). */
int ataru_deadline_passed(struct ataru_instance *inst, struct failure *f);
/* The request ended: no check is due. */
void ataru_deadline_clear(struct ataru_instance *inst);
/* 1 when a check is due now (the run loop's stop condition). */
int ataru_deadline_due(struct ataru_instance *inst, uint64_t now);

#endif
