/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Worker threads: each owns some virtqueues and one io_uring, runs their
 * requests in batches, polls adaptively, and pauses for the control plane. */
#include <config.h>

#include <errno.h>
#include <linux/falloc.h>
#include <numa.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "fault.h"
#include "log.h"
#include "worker.h"

#define WORKER_REQS 256           /* requests in flight per worker */
#define RING_ENTRIES 512
#define POLL_START_NS 4000        /* QEMU's first polling interval */
/* A ring without kick fd is looked at every NOFD_WAIT_NS while requests
 * come, backing off to NOFD_WAIT_MAX_NS while none do: 1% of a CPU idle
 * instead of 14% here. */
#define NOFD_WAIT_NS 50000
#define NOFD_WAIT_MAX_NS 1000000
#define POLL_BURST_MAX 2          /* poll after bursts of at most this many requests */
/* Requests taken from one ring per pass of the loop: requests that
 * finish at once (refused, unknown, null disk) give their slot back, so
 * a driver that keeps its ring full would otherwise hold the worker in
 * one pass for good, with nothing published, its other rings not served
 * and the control plane waiting for a pause. */
#define FETCH_BUDGET 128
/* Reads and writes of at least this many bytes go to the kernel's
 * worker threads (IOSQE_ASYNC): issued inline, a direct read of 126 MiB
 * returned from io_uring_submit only once done (1.5 s for 16 of them
 * here), and the worker, its other queues and every pause waited. */
#define ASYNC_MIN (1u << 20)
/* Bounce buffers, for data O_DIRECT cannot take as it is: a request
 * takes one and goes through it a piece at a time.  A worker has at most
 * BOUNCE_MAX of them (requests wait for one beyond that) and keeps
 * BOUNCE_KEEP while idle; the others go back to the system. */
#define BOUNCE_SIZE (128u << 10)
#define BOUNCE_MAX 32
#define BOUNCE_KEEP 2

enum { TAG_REQ, TAG_KICK, TAG_WAKE, TAG_CANCEL, TAG_MASK = 7 };

struct kick {
  struct vq *vq;
  bool armed;
  bool cancelling;
  bool dirty;                     /* used elements pushed, not yet published */
} __attribute__ ((aligned (8)));  /* 3 low bits of its address tag completions */

/* Where a request is: only a held one is the worker's to finish or drop. */
enum req_state { REQ_FREE, REQ_HELD, REQ_WAITING, REQ_KERNEL };

struct __attribute__ ((aligned (8))) req {
  struct req *next;               /* free list, or the list waiting for a bounce buffer */
  struct kick *q;
  enum req_state state;
  struct blk_req br;
  void *bounce;                   /* this request's, while it has one */
  uint64_t done;                  /* bytes through the bounce buffer so far */
  uint32_t piece;                 /* bytes of the piece in the kernel */
  struct vq_elem elem;
};

struct blk_worker {
  struct blk_workers *ws;
  unsigned id;
  pthread_t thread;
  cpu_set_t cpus;
  bool pinned;
  int node;                       /* NUMA node of its CPUs, -1 when unknown */
  struct kick *kicks;             /* one per queue it owns */
  unsigned nq;
  struct io_uring ring;
  bool fixed_file;
  int wake_fd;
  bool wake_armed;
  struct req *reqs, *free;
  struct req *waiting, *waiting_tail;   /* for a bounce buffer */
  void *spare[BOUNCE_MAX];        /* bounce buffers not in use */
  unsigned n_spare, bounce_out;   /* ... and in use */
  bool bounce_short;              /* out of memory for one (logged once) */
  struct vq *cur_vq;              /* the ring and request being touched (fault recovery) */
  struct req *cur_req;
  uint64_t idle_since;
  unsigned burst;                 /* requests since the worker was last idle */
  bool small_burst;
  unsigned in_flight;             /* requests fetched and not yet pushed */
  unsigned armed;                 /* kick polls outstanding */
  unsigned io_pending;            /* request SQEs not yet submitted */
  uint64_t poll_ns, poll_max_ns;
  uint64_t nofd_wait_ns;          /* the next wait with a ring without kick fd */
  bool notify_off;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool pause_req, quit, ready;
  bool drain_req;                 /* the pause waits for what is in flight */
  /* pauses asked, and the last one the worker parked for: a worker still
   * parked for a pause without drain has requests in flight, so a new
   * pause counts as served only once the worker parked for it */
  unsigned pause_gen, parked_gen;
  int start_rc;
  char err[256];
  struct blk_worker_stats stats;
};

static uint64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void *
alloc_local (struct blk_worker *w, size_t size)
{
  /* numa_alloc_onnode maps fresh (zeroed) pages on the node: only the
   * ones used become resident */
  void *p = w->node >= 0 ? numa_alloc_onnode (size, w->node) : NULL;

  if (w->node >= 0 && p == NULL)
    abort ();                   /* out of memory aborts */
  if (p == NULL) {
    if (posix_memalign (&p, 4096, size) != 0)
      abort ();
    memset (p, 0, size);
  }
  return p;
}

static void
free_local (struct blk_worker *w, void *p, size_t size)
{
  if (p == NULL)
    return;
  if (w->node >= 0)
    numa_free (p, size);
  else
    free (p);
}

/* A bounce buffer, or NULL when BOUNCE_MAX are in use or there is no
 * memory.  Fresh ones are mapped (on the worker's node), so that a
 * returned one goes back to the system. */
static void *
bounce_get (struct blk_worker *w)
{
  void *p;

  if (w->n_spare) {
    p = w->spare[--w->n_spare];
  } else if (w->bounce_out == BOUNCE_MAX) {
    return NULL;
  } else if (w->node >= 0) {
    p = numa_alloc_onnode (BOUNCE_SIZE, w->node);
  } else {
    p = mmap (NULL, BOUNCE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      p = NULL;
  }
  if (p)
    w->bounce_out++;
  return p;
}

static void
bounce_free (struct blk_worker *w, void *p)
{
  if (w->node >= 0)
    numa_free (p, BOUNCE_SIZE);
  else
    munmap (p, BOUNCE_SIZE);
}

/* Back to the spares; the ones above BOUNCE_KEEP go once nobody waits. */
static void
bounce_put (struct blk_worker *w, void *p)
{
  w->bounce_out--;
  w->spare[w->n_spare++] = p;
}

static void
bounce_trim (struct blk_worker *w)
{
  while (w->n_spare > BOUNCE_KEEP && w->waiting == NULL)
    bounce_free (w, w->spare[--w->n_spare]);
}

static bool
runnable (const struct vq *vq)
{
  return vq->started && vq->enabled && !vq->broken;
}

static struct io_uring_sqe *
sqe_get (struct blk_worker *w)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe (&w->ring);

  if (sqe == NULL) {              /* full: make room */
    io_uring_submit (&w->ring);
    sqe = io_uring_get_sqe (&w->ring);
  }
  return sqe;
}

/* Puts @r's slot back, with its bounce buffer. */
static void
release (struct blk_worker *w, struct req *r)
{
  if (r->bounce) {
    bounce_put (w, r->bounce);
    r->bounce = NULL;
  }
  r->state = REQ_FREE;
  r->next = w->free;
  w->free = r;
  w->in_flight--;
}

/* Marks dirty what @br wrote into guest memory: a read's data (all of
 * it, even when it failed: part may have come), GET_ID's bytes, and the
 * status.  Not every writable byte: a request that is refused writes
 * only its status, and marking its descriptors (up to 4 GiB each, a
 * page at a time) would keep the worker busy for seconds. */
static void
log_written (struct vq *vq, const struct vq_elem *e, const struct blk_req *br)
{
  uint64_t left = br->op == BLK_OP_READ || br->type == VIRTIO_BLK_T_GET_ID ? br->len : 0;
  unsigned first = left ? (unsigned) (br->iov - e->iov) : 0;

  for (unsigned i = 0; i < br->niov && left; i++) {
    uint64_t l = br->iov[i].iov_len < left ? br->iov[i].iov_len : left;
    vu_log_write (vq->log, e->gpa[first + i], l);
    left -= l;
  }
  if (br->status)
    vu_log_write (vq->log, br->status_gpa, 1);
}

/* Finishes @r: status out, used element in, slot back to the free list. */
static void
complete (struct blk_worker *w, struct req *r, uint8_t status)
{
  struct vq *vq = r->q->vq;
  struct vq_elem *e = &r->elem;
  uint32_t len;

  w->cur_vq = vq;
  len = blk_req_finish (&r->br, status);
  if (vq->log_all)
    log_written (vq, e, &r->br);
  vq_push (vq, e->head, len);
  r->q->dirty = true;
  release (w, r);
  /* one writer; blk_workers_peek_requests reads it while the worker runs */
  __atomic_store_n (&w->stats.requests, w->stats.requests + 1, __ATOMIC_RELAXED);
}

/* Whether every data piece suits O_DIRECT as it is. */
static bool
aligned (const struct blk_req *br, uint32_t block)
{
  for (unsigned i = 0; i < br->niov; i++)
    if (((uintptr_t) br->iov[i].iov_base | br->iov[i].iov_len) & (block - 1))
      return false;
  return true;
}

/* Copies @len bytes between @buf and the data pieces of @br from byte
 * @at on: into the pieces (@in), or out of them. */
static void
copy_data (struct blk_req *br, uint64_t at, char *buf, size_t len, bool in)
{
  for (unsigned i = 0; i < br->niov && len; i++) {
    size_t l = br->iov[i].iov_len;
    char *p = br->iov[i].iov_base;
    if (at >= l) {
      at -= l;
      continue;
    }
    p += at;
    l -= at;
    at = 0;
    if (l > len)
      l = len;
    if (in)
      memcpy (p, buf, l);
    else
      memcpy (buf, p, l);
    buf += l;
    len -= l;
  }
}

/* The disk as SQEs name it: the registered file, or the fd. */
static int
disk_fd (const struct blk_worker *w)
{
  return w->fixed_file ? 0 : w->ws->blk->fd;
}

/* Marks @sqe, prepared on disk_fd(), as @r's and due for submission. */
static void
queue_req (struct blk_worker *w, struct io_uring_sqe *sqe, struct req *r)
{
  if (w->fixed_file)
    sqe->flags |= IOSQE_FIXED_FILE;
  io_uring_sqe_set_data64 (sqe, (uint64_t) (uintptr_t) r | TAG_REQ);
  r->state = REQ_KERNEL;
  w->io_pending++;
}

static void io_done (struct blk_worker *w, struct req *r, int64_t res);

/* A file in memory (tmpfs): the request is a copy, done here at once. */
static void
run_in_memory (struct blk_worker *w, struct req *r)
{
  struct blk_req *br = &r->br;
  int fd = w->ws->blk->fd;
  int64_t res = 0;

  switch (br->op) {
  case BLK_OP_READ:
    res = preadv (fd, br->iov, (int) br->niov, (off_t) br->offset);
    break;
  case BLK_OP_WRITE:
    res = pwritev2 (fd, br->iov, (int) br->niov, (off_t) br->offset, br->mode ? RWF_DSYNC : 0);
    break;
  case BLK_OP_FLUSH:
    res = fdatasync (fd);
    break;
  case BLK_OP_FALLOCATE:
    res = fallocate (fd, (int) br->mode, (off_t) br->offset, (off_t) br->len);
    break;
  case BLK_OP_DONE:
    break;
  }
  io_done (w, r, res < 0 ? -errno : res);
}

/* Sends the next piece of a request that goes through its bounce buffer
 * (a write's data is copied in first). */
static void
issue_piece (struct blk_worker *w, struct req *r)
{
  struct blk_req *br = &r->br;
  uint64_t left = br->len - r->done;
  struct io_uring_sqe *sqe;

  r->piece = left < BOUNCE_SIZE ? (uint32_t) left : BOUNCE_SIZE;
  /* guest memory first: a fault there must not leave a prepared SQE */
  if (br->op == BLK_OP_WRITE)
    copy_data (br, r->done, r->bounce, r->piece, false);
  sqe = sqe_get (w);
  if (br->op == BLK_OP_WRITE) {
    io_uring_prep_write (sqe, disk_fd (w), r->bounce, r->piece, br->offset + r->done);
    if (br->mode)
      sqe->rw_flags = RWF_DSYNC;     /* write cache off: durable before done */
  } else {
    io_uring_prep_read (sqe, disk_fd (w), r->bounce, r->piece, br->offset + r->done);
  }
  queue_req (w, sqe, r);
}

/* Starts @r through bounce buffer @buf. */
static void
bounce_begin (struct blk_worker *w, struct req *r, void *buf)
{
  w->bounce_short = false;
  r->bounce = buf;
  r->done = 0;
  w->stats.bounced++;
  issue_piece (w, r);
}

/* No bounce buffer for @r, and none in use that could come back. */
static void
bounce_fail (struct blk_worker *w, struct req *r)
{
  if (!w->bounce_short)
    blk_log (BLK_LOG_WARNING, "queue %u: no memory for a bounce buffer: requests that need one "
             "fail until there is", r->q->vq->index);
  w->bounce_short = true;
  complete (w, r, VIRTIO_BLK_S_IOERR);
}

/* Gives @r a bounce buffer and starts it, or lets it wait for one (after
 * those already waiting). */
static void
issue_bounced (struct blk_worker *w, struct req *r)
{
  void *buf = w->waiting ? NULL : bounce_get (w);

  if (buf) {
    bounce_begin (w, r, buf);
  } else if (w->bounce_out == 0) {
    bounce_fail (w, r);
  } else {
    r->state = REQ_WAITING;
    r->next = NULL;
    if (w->waiting_tail)
      w->waiting_tail->next = r;
    else
      w->waiting = r;
    w->waiting_tail = r;
  }
}

/* Starts requests that waited for a bounce buffer, as buffers came back. */
static void
run_waiting (struct blk_worker *w)
{
  while (w->waiting) {
    struct req *r = w->waiting;
    void *buf = bounce_get (w);
    if (buf == NULL && w->bounce_out)
      break;                      /* after the next completion */
    w->waiting = r->next;
    if (w->waiting == NULL)
      w->waiting_tail = NULL;
    r->state = REQ_HELD;
    w->cur_req = r;
    if (buf)
      bounce_begin (w, r, buf);
    else
      bounce_fail (w, r);
  }
  w->cur_req = NULL;
  bounce_trim (w);
}

/* Sends @r's operation to the disk. */
static void
issue (struct blk_worker *w, struct req *r)
{
  const struct blk_dev *blk = w->ws->blk;
  struct blk_req *br = &r->br;
  struct io_uring_sqe *sqe;
  int fd = disk_fd (w);

  if (blk->in_memory) {
    run_in_memory (w, r);
    return;
  }
  if ((br->op == BLK_OP_READ || br->op == BLK_OP_WRITE) && !aligned (br, blk->logical_block)) {
    /* O_DIRECT wants aligned buffers: go through our own */
    issue_bounced (w, r);
    return;
  }
  sqe = sqe_get (w);
  switch (br->op) {
  case BLK_OP_READ:
    io_uring_prep_readv (sqe, fd, br->iov, br->niov, br->offset);
    if (br->len >= ASYNC_MIN)
      sqe->flags |= IOSQE_ASYNC;
    break;
  case BLK_OP_WRITE:
    io_uring_prep_writev (sqe, fd, br->iov, br->niov, br->offset);
    if (br->mode)
      sqe->rw_flags = RWF_DSYNC;     /* write cache off: durable before done */
    if (br->len >= ASYNC_MIN)
      sqe->flags |= IOSQE_ASYNC;
    break;
  case BLK_OP_FLUSH:
    io_uring_prep_fsync (sqe, fd, IORING_FSYNC_DATASYNC);
    break;
  case BLK_OP_FALLOCATE:
    io_uring_prep_fallocate (sqe, fd, br->mode, (off_t) br->offset, (off_t) br->len);
    break;
  case BLK_OP_DONE:
    break;
  }
  queue_req (w, sqe, r);
}

/* Finishes @r (or its piece) with the disk's result @res (bytes or -errno). */
static void
io_done (struct blk_worker *w, struct req *r, int64_t res)
{
  struct blk_req *br = &r->br;
  uint64_t want = r->bounce ? r->piece
                  : br->op == BLK_OP_READ || br->op == BLK_OP_WRITE ? br->len : 0;
  uint8_t status;

  if (res == -EOPNOTSUPP && br->op == BLK_OP_FALLOCATE && (br->mode & FALLOC_FL_ZERO_RANGE)) {
    /* no ZERO_RANGE here (tmpfs): a punched hole reads as zeroes too */
    br->mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    issue (w, r);
    return;
  }
  if (r->bounce && res >= 0 && (uint64_t) res == want) {
    if (br->op == BLK_OP_READ)
      copy_data (br, r->done, r->bounce, r->piece, true);
    r->done += r->piece;
    if (r->done < br->len) {
      issue_piece (w, r);
      return;
    }
    res = (int64_t) br->len;
    want = br->len;
  }
  status = res >= 0 && (uint64_t) res == want ? VIRTIO_BLK_S_OK
           : res == -EOPNOTSUPP && br->op == BLK_OP_FALLOCATE ? VIRTIO_BLK_S_UNSUPP
           : VIRTIO_BLK_S_IOERR;
  if (status != VIRTIO_BLK_S_OK)
    blk_log (BLK_LOG_DEBUG, "request type %u at %llu: %s", br->type,
             (unsigned long long) br->offset, res < 0 ? strerror ((int) -res) : "short transfer");
  complete (w, r, status);
}

/* Sends @r to the disk, or finishes it at once. */
static void
start (struct blk_worker *w, struct req *r)
{
  const struct blk_dev *blk = w->ws->blk;
  struct blk_req *br = &r->br;

  blk_req_decode (blk, w->ws->dev->config.wce, &r->elem, br);
  if (br->op == BLK_OP_DONE || blk->null)
    complete (w, r, br->op == BLK_OP_DONE ? br->status_value : VIRTIO_BLK_S_OK);
  else
    issue (w, r);
}

/* Takes what the driver made available, as far as there are free slots,
 * at most FETCH_BUDGET from each ring. */
static unsigned
fetch (struct blk_worker *w)
{
  unsigned got = 0;

  for (unsigned i = 0; i < w->nq; i++) {
    struct vq *vq = w->kicks[i].vq;
    if (!runnable (vq))
      continue;
    for (unsigned n = 0; w->free && n < FETCH_BUDGET; n++) {
      struct req *r = w->free;
      int rc;
      w->cur_vq = vq;
      rc = vq_pop (vq, &r->elem);
      if (rc == 0)
        break;
      if (rc < 0) {
        blk_log (BLK_LOG_ERROR, "%s; the queue is stopped", vq->why);
        break;
      }
      w->free = r->next;
      r->q = &w->kicks[i];
      r->state = REQ_HELD;
      w->in_flight++;
      got++;
      w->cur_req = r;
      start (w, r);
      w->cur_req = NULL;
    }
  }
  return got;
}

static void
drain_eventfd (int fd)
{
  uint64_t v;

  if (read (fd, &v, sizeof (v)) < 0 && errno != EAGAIN)
    blk_log (BLK_LOG_DEBUG, "read eventfd: %s", strerror (errno));
}

/* Handles what the kernel finished; returns how many requests and kicks.
 * Each completion is consumed before it is handled: handling may end in
 * a fault (recover). */
static unsigned
reap (struct blk_worker *w)
{
  struct io_uring_cqe *cqe;
  unsigned head, work = 0;

  io_uring_for_each_cqe (&w->ring, head, cqe) {
    uint64_t ud = io_uring_cqe_get_data64 (cqe);
    void *p = (void *) (uintptr_t) (ud & ~(uint64_t) TAG_MASK);
    int32_t res = cqe->res;
    uint32_t flags = cqe->flags;
    io_uring_cq_advance (&w->ring, 1);
    switch (ud & TAG_MASK) {
    case TAG_REQ: {
      struct req *r = p;
      r->state = REQ_HELD;
      w->cur_req = r;
      io_done (w, r, res);
      w->cur_req = NULL;
      work++;
      break;
    }
    case TAG_KICK: {
      struct kick *k = p;
      if (!(flags & IORING_CQE_F_MORE)) {   /* the poll ended (or was removed) */
        k->armed = k->cancelling = false;
        w->armed--;
      }
      work++;
      break;
    }
    case TAG_CANCEL: {
      /* a poll armed in the same submission may not be findable yet
       * (ENOENT): ask again, or the pause would wait for it forever */
      struct kick *k = p;
      if (res < 0 && k->armed)
        k->cancelling = false;
      break;
    }
    case TAG_WAKE:
      drain_eventfd (w->wake_fd);
      w->wake_armed = false;
      break;
    default:
      break;
    }
  }
  return work;
}

/* Publishes what was pushed: one notification per queue and batch. */
static void
flush (struct blk_worker *w)
{
  for (unsigned i = 0; i < w->nq; i++) {
    struct kick *k = &w->kicks[i];
    if (!k->dirty)
      continue;
    k->dirty = false;
    w->cur_vq = k->vq;
    if (vq_flush (k->vq) && k->vq->call_fd >= 0) {
      /* a plain write, not one through the ring: io_uring hands writes
       * to an eventfd opened without O_NONBLOCK (front-ends other than
       * QEMU make such call fds) to a kernel worker thread, ten times
       * the CPU of the write itself.  The fd is non-blocking (set when
       * it came): at its maximum count, the driver has a notification
       * pending already. */
      if (eventfd_write (k->vq->call_fd, 1) < 0 && errno != EAGAIN)
        blk_log (BLK_LOG_DEBUG, "queue %u: call fd: %s", k->vq->index, strerror (errno));
      w->stats.notifies++;
    }
  }
}

static void
set_notification (struct blk_worker *w, bool enable)
{
  w->notify_off = !enable;
  for (unsigned i = 0; i < w->nq; i++)
    if (runnable (w->kicks[i].vq)) {
      w->cur_vq = w->kicks[i].vq;
      vq_set_notification (w->kicks[i].vq, enable);
    }
}

static bool
has_work (struct blk_worker *w)
{
  for (unsigned i = 0; i < w->nq; i++) {
    w->cur_vq = w->kicks[i].vq;
    if (runnable (w->kicks[i].vq) && w->free && vq_has_work (w->kicks[i].vq))
      return true;
  }
  return false;
}

/* A fault in front-end memory (its file shrank under us) jumped here:
 * the request in hand is dropped, the ring touched is stopped. */
static void
recover (struct blk_worker *w)
{
  struct vq *vq = w->cur_vq;
  struct req *r = w->cur_req;

  if (r && r->state == REQ_HELD) {
    vq = r->q->vq;
    release (w, r);
  }
  w->cur_req = NULL;
  w->cur_vq = NULL;
  if (vq && !vq->broken) {
    /* one error per connection; the rings that follow it are noted */
    bool first = !__atomic_exchange_n (&w->ws->dev->memory_lost, true, __ATOMIC_RELAXED);
    vq_fail (vq, "queue %u: front-end memory at %p is gone (its file shrank)", vq->index,
             blk_fault_addr ());
    blk_log (first ? BLK_LOG_ERROR : BLK_LOG_WARNING, "%s; the queue is stopped", vq->why);
  }
}

/* Polls the kick fds of the running rings and the wake fd; returns
 * whether a running ring has no kick fd (the driver never kicks it). */
static bool
arm (struct blk_worker *w)
{
  bool nofd = false;

  for (unsigned i = 0; i < w->nq; i++) {
    struct kick *k = &w->kicks[i];
    struct io_uring_sqe *sqe;
    if (!runnable (k->vq) || k->armed)
      continue;
    if (k->vq->kick_fd < 0) {
      nofd = true;
      continue;
    }
    /* one multishot poll per kick eventfd: each kick is a completion,
     * with nothing to re-arm and no read per kick.  The eventfd's count
     * is never read back; only its wake-ups matter (QEMU clears it
     * itself when it takes the notifier back). */
    sqe = sqe_get (w);
    io_uring_prep_poll_multishot (sqe, k->vq->kick_fd, POLLIN);
    io_uring_sqe_set_data64 (sqe, (uint64_t) (uintptr_t) k | TAG_KICK);
    k->armed = true;
    w->armed++;
  }
  if (!w->wake_armed) {
    struct io_uring_sqe *sqe = sqe_get (w);
    io_uring_prep_poll_add (sqe, w->wake_fd, POLLIN);
    io_uring_sqe_set_data64 (sqe, TAG_WAKE);
    w->wake_armed = true;
  }
  return nofd;
}

/* The fds of the rings may change while paused: stop polling them. */
static void
disarm (struct blk_worker *w)
{
  for (unsigned i = 0; i < w->nq; i++) {
    struct kick *k = &w->kicks[i];
    struct io_uring_sqe *sqe;
    if (!k->armed || k->cancelling)
      continue;
    sqe = sqe_get (w);
    io_uring_prep_poll_remove (sqe, (uint64_t) (uintptr_t) k | TAG_KICK);
    io_uring_sqe_set_data64 (sqe, (uint64_t) (uintptr_t) k | TAG_CANCEL);
    k->cancelling = true;
  }
}

static void
wait_events (struct blk_worker *w, bool bounded)
{
  struct __kernel_timespec ts = { 0, (long long) w->nofd_wait_ns };
  struct io_uring_cqe *cqe;

  if (bounded)
    io_uring_submit_and_wait_timeout (&w->ring, &cqe, 1, &ts, NULL);
  else
    io_uring_submit_and_wait (&w->ring, 1);
}

/* QEMU's rule (util/aio-posix.c): keep polling as long when the wait was
 * shorter, stop when it was longer than the maximum, else poll longer. */
static void
adapt_polling (struct blk_worker *w, uint64_t waited)
{
  if (w->poll_max_ns == 0 || waited <= w->poll_ns)
    return;
  if (waited > w->poll_max_ns)
    w->poll_ns = 0;
  else if (w->poll_ns < w->poll_max_ns) {
    w->poll_ns = w->poll_ns ? w->poll_ns * 2 : POLL_START_NS;
    if (w->poll_ns > w->poll_max_ns)
      w->poll_ns = w->poll_max_ns;
  }
}

/* Parks until resumed; returns false when told to quit.  A pause that
 * wants a drain, asked while parked with requests in flight, sends the
 * worker back to finish them first. */
static bool
park (struct blk_worker *w)
{
  bool go_on;

  pthread_mutex_lock (&w->lock);
  while (!w->quit && w->pause_req && !(w->drain_req && w->in_flight)) {
    if (w->parked_gen != w->pause_gen) {
      w->parked_gen = w->pause_gen;
      pthread_cond_broadcast (&w->cond);
    }
    pthread_cond_wait (&w->cond, &w->lock);
  }
  go_on = !w->quit;
  pthread_mutex_unlock (&w->lock);
  /* the rings may be new: ask for kicks again, and look at them all */
  set_notification (w, true);
  return go_on;
}

static int
setup_ring (struct blk_worker *w)
{
  struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN };
  int rc = io_uring_queue_init_params (RING_ENTRIES, &w->ring, &p);

  if (rc == -EINVAL) {            /* older kernels */
    memset (&p, 0, sizeof (p));
    rc = io_uring_queue_init_params (RING_ENTRIES, &w->ring, &p);
  }
  if (rc < 0) {
    snprintf (w->err, sizeof (w->err), "worker %u: io_uring: %s", w->id, strerror (-rc));
    return -1;
  }
  if (!w->ws->blk->null && !w->ws->blk->in_memory
      && io_uring_register_files (&w->ring, &w->ws->blk->fd, 1) == 0)
    w->fixed_file = true;
  return 0;
}

static void *
run (void *arg)
{
  struct blk_worker *w = arg;
  sigjmp_buf env;
  int rc = 0;
  char name[16];

  snprintf (name, sizeof (name), "vdp-blk-w%u", w->id);
  pthread_setname_np (pthread_self (), name);   /* how status finds the workers */
  if (w->pinned && (rc = pthread_setaffinity_np (pthread_self (), sizeof (w->cpus), &w->cpus)))
    snprintf (w->err, sizeof (w->err), "worker %u: cannot pin to its --cpus: %s", w->id,
              strerror (rc));
  if (rc == 0 && setup_ring (w) < 0)
    rc = -1;
  if (rc == 0) {
    w->reqs = alloc_local (w, WORKER_REQS * sizeof (struct req));
    for (unsigned i = 0; i < WORKER_REQS; i++) {
      w->reqs[i].next = w->free;
      w->free = &w->reqs[i];
    }
  }
  pthread_mutex_lock (&w->lock);
  w->start_rc = rc ? -1 : 0;
  w->ready = true;
  pthread_cond_broadcast (&w->cond);
  pthread_mutex_unlock (&w->lock);
  if (rc)
    return NULL;

  /* all the loop's state lives in @w: a fault in front-end memory comes
   * back here from anywhere in the loop */
  w->small_burst = true;
  if (sigsetjmp (env, 0))
    recover (w);
  blk_fault_arm (&env);
  for (;;) {
    bool pausing = __atomic_load_n (&w->pause_req, __ATOMIC_ACQUIRE), nofd;
    unsigned work = 0;
    uint64_t t;

    if (!pausing) {
      unsigned got = fetch (w);
      w->burst += got;
      work += got;
      if (got)
        w->nofd_wait_ns = NOFD_WAIT_NS;
    }
    if (w->io_pending) {          /* requests go to the disk at once */
      io_uring_submit (&w->ring);
      w->io_pending = 0;
      w->stats.submits++;
    }
    work += reap (w);
    run_waiting (w);
    flush (w);
    if (pausing) {
      disarm (w);
      /* the poll removals out before parking: the kick fds may change then */
      io_uring_submit (&w->ring);
      if ((w->in_flight == 0 || !w->drain_req) && w->armed == 0) {
        if (!park (w))
          break;
        w->idle_since = 0;
        continue;
      }
      io_uring_submit_and_wait (&w->ring, 1);
      continue;
    }
    if (work) {
      w->idle_since = 0;
      if (has_work (w) || io_uring_cq_ready (&w->ring) || w->in_flight)
        continue;                 /* new disk requests go out at the top */
    }
    t = now_ns ();
    if (w->idle_since == 0) {
      w->idle_since = t;
      /* polling saves a wake-up; a wake-up that brings a batch costs
       * little per request, and polling would only burn CPU until the
       * next batch */
      w->small_burst = w->burst <= POLL_BURST_MAX;
      w->burst = 0;
    }
    if (w->poll_ns && w->small_burst && t - w->idle_since < w->poll_ns) {
      if (!w->notify_off)
        set_notification (w, false);
      if (io_uring_cq_ready (&w->ring) == 0)
        sched_yield ();         /* a busy loop, but let a sibling run */
      continue;
    }
    /* sleep: kicks back on, then look once more (the lost-kick race) */
    if (w->notify_off)
      set_notification (w, true);
    if (has_work (w) || io_uring_cq_ready (&w->ring))
      continue;
    nofd = arm (w);
    /* a pause asked after the top of the loop may have had its wake-up
     * eaten by reap(): look again now that the wake fd is polled */
    if (__atomic_load_n (&w->pause_req, __ATOMIC_ACQUIRE))
      continue;
    wait_events (w, nofd);
    if (nofd)
      w->nofd_wait_ns = w->nofd_wait_ns * 2 < NOFD_WAIT_MAX_NS ? w->nofd_wait_ns * 2
                        : NOFD_WAIT_MAX_NS;
    w->stats.sleeps++;
    adapt_polling (w, now_ns () - w->idle_since);
    w->idle_since = 0;
  }
  blk_fault_disarm ();
  return NULL;
}

/* Parses "1-3,5" into @set (values below @max); false when malformed. */
static bool
parse_list (const char *s, size_t len, bool *set, unsigned max)
{
  const char *p = s, *end = s + len;

  if (len == 0)
    return false;
  while (p < end) {
    char *q;
    unsigned long a, b;
    if (*p < '0' || *p > '9')
      return false;
    a = b = strtoul (p, &q, 10);
    if (q < end && *q == '-') {
      if (q + 1 >= end || q[1] < '0' || q[1] > '9')
        return false;
      b = strtoul (q + 1, &q, 10);
    }
    if (q > end || b < a || b >= max)
      return false;
    for (unsigned long v = a; v <= b; v++)
      set[v] = true;
    p = q;
    if (p < end) {
      if (*p != ',' || p + 1 >= end)
        return false;
      p++;
    }
  }
  return true;
}

/* The @i-th colon-separated group of @s. */
static bool
group (const char *s, unsigned i, const char **start, size_t *len)
{
  for (; i; i--) {
    s = strchr (s, ':');
    if (s == NULL)
      return false;
    s++;
  }
  *start = s;
  *len = strchrnul (s, ':') - s;
  return true;
}

static struct blk_worker *
worker_new (struct blk_workers *ws, unsigned id, uint64_t poll_max_ns)
{
  struct blk_worker *w = calloc (1, sizeof (*w));

  if (w == NULL)
    abort ();
  w->ws = ws;
  w->id = id;
  w->node = -1;
  w->poll_max_ns = poll_max_ns;
  w->nofd_wait_ns = NOFD_WAIT_NS;
  w->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  pthread_mutex_init (&w->lock, NULL);
  pthread_cond_init (&w->cond, NULL);
  return w;
}

int
blk_workers_start (struct blk_workers *ws, struct vu_dev *dev, struct blk_dev *blk,
                   unsigned threads, unsigned num_queues, const char *cpus,
                   const char *queue_map, uint64_t poll_max_ns, char *err, size_t errlen)
{
  int owner[VU_MAX_QUEUES];
  bool numa = numa_available () >= 0;

  memset (ws, 0, sizeof (*ws));
  ws->dev = dev;
  ws->blk = blk;
  ws->w = calloc (threads, sizeof (*ws->w));
  if (ws->w == NULL)
    abort ();
  for (unsigned q = 0; q < num_queues; q++)
    owner[q] = queue_map ? -1 : (int) (q % threads);
  for (unsigned t = 0; t < threads; t++) {
    struct blk_worker *w = worker_new (ws, t, poll_max_ns);
    const char *s;
    size_t len;
    ws->w[t] = w;
    ws->n = t + 1;
    if (w->wake_fd < 0) {
      snprintf (err, errlen, "worker %u: eventfd: %s", t, strerror (errno));
      goto fail;
    }
    if (cpus) {
      bool set[CPU_SETSIZE] = { false };
      if (!group (cpus, t, &s, &len) || !parse_list (s, len, set, CPU_SETSIZE)) {
        snprintf (err, errlen, "invalid --cpus '%s' (one CPU list per thread, %u)", cpus, threads);
        goto fail;
      }
      CPU_ZERO (&w->cpus);
      for (unsigned c = 0; c < CPU_SETSIZE; c++)
        if (set[c]) {
          CPU_SET (c, &w->cpus);
          if (w->node < 0 && numa)
            w->node = numa_node_of_cpu ((int) c);
        }
      w->pinned = true;
    }
    if (queue_map) {
      bool set[VU_MAX_QUEUES] = { false };
      if (!group (queue_map, t, &s, &len) || !parse_list (s, len, set, num_queues)) {
        snprintf (err, errlen, "invalid --queue-map '%s' (one queue list per thread, %u, "
                  "queues below %u)", queue_map, threads, num_queues);
        goto fail;
      }
      for (unsigned q = 0; q < num_queues; q++)
        if (set[q]) {
          if (owner[q] >= 0) {
            snprintf (err, errlen, "invalid --queue-map '%s': queue %u is given to two threads",
                      queue_map, q);
            goto fail;
          }
          owner[q] = (int) t;
        }
    }
  }
  for (unsigned q = 0; q < num_queues; q++)
    if (owner[q] < 0) {
      snprintf (err, errlen, "invalid --queue-map '%s': no thread serves queue %u", queue_map, q);
      goto fail;
    }
  for (unsigned t = 0; t < threads; t++) {
    struct blk_worker *w = ws->w[t];
    w->kicks = calloc (num_queues, sizeof (struct kick));
    if (w->kicks == NULL)
      abort ();
    for (unsigned q = 0; q < num_queues; q++)
      if (owner[q] == (int) t)
        w->kicks[w->nq++].vq = &dev->vqs[q];
  }
  for (unsigned t = 0; t < threads; t++) {
    struct blk_worker *w = ws->w[t];
    int rc = pthread_create (&w->thread, NULL, run, w);
    if (rc) {
      snprintf (err, errlen, "worker %u: %s", t, strerror (rc));
      ws->n = t;
      blk_workers_stop (ws);
      return -1;
    }
    pthread_mutex_lock (&w->lock);
    while (!w->ready)
      pthread_cond_wait (&w->cond, &w->lock);
    pthread_mutex_unlock (&w->lock);
    if (w->start_rc < 0) {
      snprintf (err, errlen, "%s", w->err);
      ws->n = t + 1;
      blk_workers_stop (ws);
      return -1;
    }
  }
  return 0;

fail:
  for (unsigned t = 0; t < ws->n; t++) {
    if (ws->w[t]->wake_fd >= 0)
      close (ws->w[t]->wake_fd);
    free (ws->w[t]);
  }
  free (ws->w);
  ws->w = NULL;
  ws->n = 0;
  return -1;
}

/* Stops the workers, once what is in flight is finished when @drain. */
static void
pause_workers (struct blk_workers *ws, bool drain)
{
  for (unsigned t = 0; t < ws->n; t++) {
    struct blk_worker *w = ws->w[t];
    pthread_mutex_lock (&w->lock);
    w->drain_req = drain;
    w->pause_gen++;
    __atomic_store_n (&w->pause_req, true, __ATOMIC_RELEASE);
    pthread_cond_broadcast (&w->cond);    /* one still parked looks again */
    pthread_mutex_unlock (&w->lock);
    eventfd_write (w->wake_fd, 1);
  }
  for (unsigned t = 0; t < ws->n; t++) {
    struct blk_worker *w = ws->w[t];
    pthread_mutex_lock (&w->lock);
    while (w->parked_gen != w->pause_gen)
      pthread_cond_wait (&w->cond, &w->lock);
    pthread_mutex_unlock (&w->lock);
  }
}

void
blk_workers_pause (struct blk_workers *ws)
{
  pause_workers (ws, true);
}

void
blk_workers_resume (struct blk_workers *ws)
{
  for (unsigned t = 0; t < ws->n; t++) {
    struct blk_worker *w = ws->w[t];
    pthread_mutex_lock (&w->lock);
    __atomic_store_n (&w->pause_req, false, __ATOMIC_RELEASE);
    pthread_cond_broadcast (&w->cond);
    pthread_mutex_unlock (&w->lock);
  }
}

static void
ops_pause (void *opaque, bool drain)
{
  pause_workers (opaque, drain);
}

static void
ops_resume (void *opaque)
{
  blk_workers_resume (opaque);
}

const struct vu_ops blk_workers_ops = { ops_pause, ops_resume };

void
blk_workers_stats (struct blk_workers *ws, struct blk_worker_stats *out)
{
  memset (out, 0, sizeof (*out));
  blk_workers_pause (ws);
  for (unsigned t = 0; t < ws->n; t++) {
    out->requests += ws->w[t]->stats.requests;
    out->submits += ws->w[t]->stats.submits;
    out->notifies += ws->w[t]->stats.notifies;
    out->sleeps += ws->w[t]->stats.sleeps;
    out->bounced += ws->w[t]->stats.bounced;
  }
  blk_workers_resume (ws);
}

uint64_t
blk_workers_peek_requests (struct blk_workers *ws)
{
  uint64_t n = 0;

  for (unsigned t = 0; t < ws->n; t++)
    n += __atomic_load_n (&ws->w[t]->stats.requests, __ATOMIC_RELAXED);
  return n;
}

void
blk_workers_stop (struct blk_workers *ws)
{
  for (unsigned t = 0; t < ws->n; t++) {
    struct blk_worker *w = ws->w[t];
    pthread_mutex_lock (&w->lock);
    w->quit = true;
    __atomic_store_n (&w->pause_req, true, __ATOMIC_RELEASE);
    pthread_cond_broadcast (&w->cond);
    pthread_mutex_unlock (&w->lock);
    eventfd_write (w->wake_fd, 1);
  }
  for (unsigned t = 0; t < ws->n; t++) {
    struct blk_worker *w = ws->w[t];
    pthread_join (w->thread, NULL);
    if (w->start_rc == 0 && w->ready) {
      while (w->n_spare)
        bounce_free (w, w->spare[--w->n_spare]);
      free_local (w, w->reqs, WORKER_REQS * sizeof (struct req));
      io_uring_queue_exit (&w->ring);
    }
    close (w->wake_fd);
    free (w->kicks);
    pthread_mutex_destroy (&w->lock);
    pthread_cond_destroy (&w->cond);
    free (w);
  }
  free (ws->w);
  ws->w = NULL;
  ws->n = 0;
}
