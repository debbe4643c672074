/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backend's counters in a small text file, for virt-dataplane status. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"

int
blk_stats_open (struct blk_stats *s, const char *path, char *err, size_t errlen)
{
  memset (s, 0, sizeof (*s));
  s->fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (s->fd < 0) {
    snprintf (err, errlen, "cannot create --stats-file '%s': %s", path, strerror (errno));
    return -1;
  }
  pthread_mutex_init (&s->lock, NULL);
  pthread_cond_init (&s->cond, NULL);
  return 0;
}

/* Rewrites the file; the caller holds the lock. */
static void
report (struct blk_stats *s)
{
  char buf[512];
  struct timespec now;
  int n;

  clock_gettime (CLOCK_REALTIME, &now);
  n = snprintf (buf, sizeof (buf),
                "pid %ld\nstate %s\nconnections %u\nrequests %llu\nthreads %u\n"
                "updated %lld.%03ld\nend\n", (long) getpid (),
                s->connected ? "connected" : "listening", s->connections,
                (unsigned long long) blk_workers_peek_requests (s->workers), s->threads,
                (long long) now.tv_sec, now.tv_nsec / 1000000);
  /* whole report first, then the length: a reader stops at "end" */
  if (pwrite (s->fd, buf, (size_t) n, 0) == n)
    (void) !ftruncate (s->fd, n);
}

static void *
run (void *arg)
{
  struct blk_stats *s = arg;

  pthread_mutex_lock (&s->lock);
  while (!s->quit) {
    struct timespec until;
    clock_gettime (CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_cond_timedwait (&s->cond, &s->lock, &until);
    report (s);
  }
  pthread_mutex_unlock (&s->lock);
  return NULL;
}

int
blk_stats_start (struct blk_stats *s, struct blk_workers *ws, unsigned threads, char *err,
                 size_t errlen)
{
  int rc;

  s->workers = ws;
  s->threads = threads;
  pthread_mutex_lock (&s->lock);
  report (s);
  pthread_mutex_unlock (&s->lock);
  rc = pthread_create (&s->thread, NULL, run, s);
  if (rc) {
    snprintf (err, errlen, "stats thread: %s", strerror (rc));
    return -1;
  }
  pthread_setname_np (s->thread, "vdp-blk-stats");
  s->started = true;
  return 0;
}

void
blk_stats_connected (struct blk_stats *s, bool up)
{
  if (!s->started)
    return;
  pthread_mutex_lock (&s->lock);
  s->connected = up;
  s->connections += up;
  pthread_cond_signal (&s->cond);
  pthread_mutex_unlock (&s->lock);
}

void
blk_stats_close (struct blk_stats *s)
{
  if (s->fd < 0)
    return;
  if (s->started) {
    pthread_mutex_lock (&s->lock);
    s->quit = true;
    pthread_cond_signal (&s->cond);
    pthread_mutex_unlock (&s->lock);
    pthread_join (s->thread, NULL);
  }
  close (s->fd);
  s->fd = -1;
  pthread_mutex_destroy (&s->lock);
  pthread_cond_destroy (&s->cond);
}
