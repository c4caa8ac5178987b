/* kick.c — the kick signal (see kick.h). */
#define _GNU_SOURCE
#include "kick.h"

#include <signal.h>
#include <string.h>

int ataru_kick_signo(void) { return SIGRTMIN + 4; }

static void on_kick(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  struct kvm_run *run = si->si_value.sival_ptr;
  if (run) run->immediate_exit = 1;
}

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_kick;
  sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: KVM_RUN must return EINTR */
  sigemptyset(&sa.sa_mask);
  sigaction(ataru_kick_signo(), &sa, NULL);
}

void ataru_kick_install(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install);
}

void ataru_kick(pthread_t thread, struct kvm_run *run) {
  union sigval val = {.sival_ptr = run};
  pthread_sigqueue(thread, ataru_kick_signo(), val);
}
