/*
 * vthread.h — a thread that runs jobs handed to it, one at a time.
 *
 * Every vCPU has one (a vCPU is only ever run from the thread that created
 * it: KVM_RUN from another thread is slow). The thread knows nothing about
 * instances or requests: it is handed a function and its argument (a job),
 * runs it, and waits for the next — as Firecracker's vCPU threads receive
 * events and never call into the VMM. One job may wait while another runs.
 */
#ifndef ATARU_VTHREAD_H
#define ATARU_VTHREAD_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

typedef void (*vthread_fn)(void *ctx);

typedef struct vthread vthread;

/* Starts a thread that waits for jobs. Only `signo` reaches it (every other
 * signal is blocked). Idle, it polls for a new job for spin_ns before it
 * sleeps (a back-to-back job then costs no wake-up). apart: start it on
 * another CPU than the caller's (its first job overlaps the caller's work).
 * NULL when the thread cannot be created (errno set). */
vthread *vthread_start(int signo, uint64_t spin_ns, int apart);

/* Hands a job over; waits while another job is queued (never while one
 * only runs). Returns 0, or -1 once the thread is stopping. */
int vthread_post(vthread *t, vthread_fn fn, void *ctx);

/* Posts the job and waits until it has run. Returns 0, or -1 (stopping). */
int vthread_call(vthread *t, vthread_fn fn, void *ctx);

/* Waits until every job posted so far has run. */
void vthread_wait_idle(vthread *t);

/* Runs the queued job, if any, then last(ctx) (may be NULL) on the thread,
 * and joins it; frees t. */
void vthread_stop(vthread *t, vthread_fn last, void *ctx);

/* For affinity changes and signals aimed at the thread. */
pthread_t vthread_handle(const vthread *t);
pid_t vthread_tid(vthread *t); /* waits until the thread runs */

/* Widens the calling thread's affinity to every CPU the process may use
 * (after a start `apart`). */
void vthread_allow_all_cpus(void);
/* Keeps thread `t` off CPU `cpu` (or allows all when cpu < 0); 0 or -1. */
int vthread_avoid_cpu(vthread *t, int cpu);
/* The number of CPUs the process may use. */
int vthread_cpu_count(void);

#endif
