/*
 * kick.h — getting a vCPU out of KVM_RUN from another thread.
 *
 * A kick is a real-time signal (SIGRTMIN+4) whose handler sets the target's
 * kvm_run->immediate_exit. The run loop clears immediate_exit and only then
 * checks its stop conditions (a deadline, a stop flag), so a kick that lands
 * anywhere before KVM_RUN is never lost: either the check sees the condition
 * or KVM_RUN returns EINTR at once. Kickers never spin: on kvm_pvm a
 * spinning kicker delays kicks by milliseconds
 * (docs/platform-differences.md).
 */
#ifndef ATARU_KICK_H
#define ATARU_KICK_H

#include <linux/kvm.h>
#include <pthread.h>

/* The signal; its handler is installed process-wide on first use. */
int ataru_kick_signo(void);
void ataru_kick_install(void);
/* Makes `thread`, running (or about to run) the vCPU of `run`, leave KVM_RUN. */
void ataru_kick(pthread_t thread, struct kvm_run *run);

#endif
