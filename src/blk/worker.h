/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Worker threads: each owns some virtqueues and one io_uring, runs their
 * requests in batches, polls adaptively, and pauses for the control plane. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "blk.h"
#include "vhost-user.h"

struct blk_worker;

struct blk_workers {
  unsigned n;
  struct blk_worker **w;
  struct vu_dev *dev;             /* the connection's state (rings, memory) */
  struct blk_dev *blk;
};

struct blk_worker_stats {
  uint64_t requests;              /* finished */
  uint64_t submits;               /* io_uring_submit calls that sent something */
  uint64_t notifies;              /* call fd signals */
  uint64_t sleeps;
  uint64_t bounced;               /* requests that went through a bounce buffer */
};

/* Starts @threads workers serving @dev's queues (@num_queues of them)
 * on @blk.  @cpus: colon-separated CPU lists, one per thread, or NULL;
 * @queue_map: colon-separated queue lists, one per thread, or NULL for
 * round-robin; @poll_max_ns: 0 never polls.  Returns 0, or -1 with a
 * one-line message in @err. */
int blk_workers_start (struct blk_workers *ws, struct vu_dev *dev, struct blk_dev *blk,
                       unsigned threads, unsigned num_queues, const char *cpus,
                       const char *queue_map, uint64_t poll_max_ns, char *err, size_t errlen);

/* Stops touching the rings once what is in flight is finished; returns
 * when every worker has.  Resume with blk_workers_resume. */
void blk_workers_pause (struct blk_workers *ws);
void blk_workers_resume (struct blk_workers *ws);

/* The vu_ops that pause and resume @ws (dev->opaque = ws). */
extern const struct vu_ops blk_workers_ops;

/* Sums the workers' counters. */
void blk_workers_stats (struct blk_workers *ws, struct blk_worker_stats *out);

/* The requests finished so far, read while the workers run (no pause). */
uint64_t blk_workers_peek_requests (struct blk_workers *ws);

/* Ends and joins the threads. */
void blk_workers_stop (struct blk_workers *ws);
