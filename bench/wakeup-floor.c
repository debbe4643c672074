/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The least CPU any backend that sleeps between requests spends per request
 * on this machine: a thread sleeps until one eventfd (the kick) is written
 * and then writes another (the call), ping-ponged by a second thread for
 * 3 seconds.  Three ways to sleep: a blocking read of the kick, epoll_wait
 * (edge-triggered, no read), and a multishot io_uring poll (as
 * virt-dataplane-blk does).  Optionally pinned: BACKEND_CPU CLIENT_CPU.
 * Build and run:
 *   cc -O2 -pthread bench/wakeup-floor.c -o /tmp/wakeup-floor -luring
 *   /tmp/wakeup-floor [read|epoll|uring] [BACKEND_CPU CLIENT_CPU] */
#define _GNU_SOURCE
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int kick, call, backend_cpu = -1, client_cpu = -1;
static const char *mode = "read";
static volatile int stop;

static double
thread_cpu (void)
{
  struct rusage r;

  getrusage (RUSAGE_THREAD, &r);
  return (double) (r.ru_utime.tv_sec + r.ru_stime.tv_sec)
         + (double) (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static void
pin (int cpu)
{
  cpu_set_t set;

  if (cpu < 0)
    return;
  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  pthread_setaffinity_np (pthread_self (), sizeof (set), &set);
}

/* Sleeps until the kick eventfd is written; false when told to stop. */
static int
sleep_read (void)
{
  uint64_t v;

  return read (kick, &v, sizeof (v)) == sizeof (v) && !stop;
}

static int ep;

static int
sleep_epoll (void)
{
  struct epoll_event ev;

  return epoll_wait (ep, &ev, 1, -1) == 1 && !stop;
}

static struct io_uring ring;

static int
sleep_uring (void)
{
  struct io_uring_cqe *cqe;

  if (io_uring_wait_cqe (&ring, &cqe) < 0)
    return 0;
  io_uring_cqe_seen (&ring, cqe);
  return !stop;
}

static void *
backend (void *arg)
{
  int (*sleep_fn) (void) = arg;
  double c0;
  long n = 0;

  pin (backend_cpu);
  c0 = thread_cpu ();
  while (sleep_fn ()) {
    eventfd_write (call, 1);
    n++;
  }
  printf ("%s: %ld requests, %.2f us of backend CPU each (sleep, wake, call)\n", mode, n,
          (thread_cpu () - c0) * 1e6 / (double) n);
  return NULL;
}

int
main (int argc, char **argv)
{
  int (*sleep_fn) (void) = sleep_read;
  struct timespec s, e;
  pthread_t t;
  uint64_t v;
  long n = 0;

  if (argc > 1)
    mode = argv[1];
  if (argc > 3) {
    backend_cpu = atoi (argv[2]);
    client_cpu = atoi (argv[3]);
  }
  kick = eventfd (0, EFD_NONBLOCK);
  call = eventfd (0, 0);
  if (!strcmp (mode, "read")) {
    kick = eventfd (0, 0);
  } else if (!strcmp (mode, "epoll")) {
    struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
    ep = epoll_create1 (0);
    epoll_ctl (ep, EPOLL_CTL_ADD, kick, &ev);
    sleep_fn = sleep_epoll;
  } else if (!strcmp (mode, "uring")) {
    struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN };
    io_uring_queue_init_params (8, &ring, &p);
    io_uring_prep_poll_multishot (io_uring_get_sqe (&ring), kick, POLLIN);
    io_uring_submit (&ring);
    sleep_fn = sleep_uring;
  } else {
    fprintf (stderr, "usage: wakeup-floor [read|epoll|uring] [BACKEND_CPU CLIENT_CPU]\n");
    return 1;
  }
  pthread_create (&t, NULL, backend, sleep_fn);
  pin (client_cpu);
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
