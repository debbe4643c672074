/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The least CPU any backend that sleeps between requests spends per request
 * on this machine: a thread blocks reading one eventfd (the kick) and writes
 * another (the call), ping-ponged by a second thread for 3 seconds.
 * Build and run: cc -O2 -pthread bench/wakeup-floor.c -o /tmp/wakeup-floor && /tmp/wakeup-floor */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int kick, call;
static volatile int stop;

static double
thread_cpu (void)
{
  struct rusage r;

  getrusage (RUSAGE_THREAD, &r);
  return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static void *
backend (void *arg)
{
  double c0 = thread_cpu ();
  uint64_t v;
  long n = 0;

  (void) arg;
  while (!stop && read (kick, &v, sizeof (v)) == sizeof (v)) {
    eventfd_write (call, 1);
    n++;
  }
  printf ("backend side: %ld requests, %.2f us CPU each (sleep, wake, read, write)\n", n,
          (thread_cpu () - c0) * 1e6 / (double) n);
  return NULL;
}

int
main (void)
{
  struct timespec s, e;
  pthread_t t;
  uint64_t v;
  long n = 0;

  kick = eventfd (0, 0);
  call = eventfd (0, 0);
  pthread_create (&t, NULL, backend, NULL);
  clock_gettime (CLOCK_MONOTONIC, &s);
  do {
    eventfd_write (kick, 1);
    if (read (call, &v, sizeof (v)) != sizeof (v))
      break;
    n++;
    clock_gettime (CLOCK_MONOTONIC, &e);
  } while (e.tv_sec - s.tv_sec < 3);
  stop = 1;
  eventfd_write (kick, 1);
  pthread_join (t, NULL);
  printf ("round trip: %.1f us\n",
          ((double) (e.tv_sec - s.tv_sec) * 1e9 + (double) (e.tv_nsec - s.tv_nsec)) / 1e3 / (double) n);
  return 0;
}
