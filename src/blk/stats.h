/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backend's counters in a small text file, for virt-dataplane status. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker.h"

/* The file holds "KEY VALUE" lines and ends with a line "end":
 *   pid, state (listening or connected), connections (front-ends accepted
 *   by this process), requests (finished), threads, updated (seconds since
 *   the epoch).  It is rewritten every second and at each state change. */
struct blk_stats {
  int fd;
  struct blk_workers *workers;
  unsigned threads;
  unsigned connections;
  bool connected;
  bool quit;
  bool started;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
};

/* Creates (or empties) @path; call while the files it needs may still be
 * created.  Returns 0, or -1 with a one-line message in @err. */
int blk_stats_open (struct blk_stats *s, const char *path, char *err, size_t errlen);

/* Writes the first report (the backend is ready) and keeps it up to date
 * from a thread of its own.  Returns 0, or -1 with a message in @err. */
int blk_stats_start (struct blk_stats *s, struct blk_workers *ws, unsigned threads, char *err,
                     size_t errlen);

/* A front-end connected (@up) or went away. */
void blk_stats_connected (struct blk_stats *s, bool up);

/* Stops the thread and closes the file (left in place). */
void blk_stats_close (struct blk_stats *s);
