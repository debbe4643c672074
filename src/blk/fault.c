/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Memory the front-end shares and may take back (a memfd it shrinks): a SIGBUS
 * there jumps back to the thread's guard instead of killing the process. */
#include <config.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "fault.h"

/* guest regions (32), the inflight region and the dirty log, with room
 * for a whole new table mapped before the old one goes */
#define WATCH_MAX 128

/* Read by the signal handler: each slot is published end first, start
 * last, and cleared start first. */
static struct {
  uintptr_t start, end;
} watched[WATCH_MAX];
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;

static __thread sigjmp_buf *guard;
static __thread void *fault_at;
static struct sigaction previous;

static void
on_sigbus (int sig, siginfo_t *si, void *uc)
{
  uintptr_t a = (uintptr_t) si->si_addr;

  (void) uc;
  if (guard)
    for (unsigned i = 0; i < WATCH_MAX; i++) {
      uintptr_t s = __atomic_load_n (&watched[i].start, __ATOMIC_ACQUIRE);
      if (s && a >= s && a < __atomic_load_n (&watched[i].end, __ATOMIC_RELAXED)) {
        sigjmp_buf *env = guard;
        fault_at = si->si_addr;
        guard = NULL;           /* a second fault before re-arming is a bug */
        siglongjmp (*env, 1);
      }
    }
  /* not ours: the handler from before (a sanitizer's, or the default)
   * takes it when the instruction faults again */
  sigaction (sig, &previous, NULL);
}

int
blk_fault_init (void)
{
  struct sigaction sa;

  memset (&sa, 0, sizeof (sa));
  sa.sa_sigaction = on_sigbus;
  /* not blocked in the handler: it leaves by siglongjmp, which does not
   * restore the mask (sigsetjmp (env, 0) saves none: no system call) */
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset (&sa.sa_mask);
  return sigaction (SIGBUS, &sa, &previous);
}

int
blk_fault_watch (const void *addr, size_t len)
{
  int rc = -1;

  pthread_mutex_lock (&watch_lock);
  for (unsigned i = 0; i < WATCH_MAX; i++)
    if (watched[i].start == 0) {
      __atomic_store_n (&watched[i].end, (uintptr_t) addr + len, __ATOMIC_RELAXED);
      __atomic_store_n (&watched[i].start, (uintptr_t) addr, __ATOMIC_RELEASE);
      rc = 0;
      break;
    }
  pthread_mutex_unlock (&watch_lock);
  return rc;
}

void
blk_fault_unwatch (const void *addr)
{
  pthread_mutex_lock (&watch_lock);
  for (unsigned i = 0; i < WATCH_MAX; i++)
    if (watched[i].start == (uintptr_t) addr) {
      __atomic_store_n (&watched[i].start, 0, __ATOMIC_RELEASE);
      watched[i].end = 0;
      break;
    }
  pthread_mutex_unlock (&watch_lock);
}

void
blk_fault_arm (sigjmp_buf *env)
{
  guard = env;
}

void
blk_fault_disarm (void)
{
  guard = NULL;
}

void *
blk_fault_addr (void)
{
  return fault_at;
}
