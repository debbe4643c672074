/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vdp-blk-client hostile: a front-end that breaks every rule it can (and does
 * legal but unusual things), one case at a time.  After each case the
 * backend must be alive, serve a new connection and another disk with
 * correct data, have logged exactly the errors the case deserves, and hold
 * no more descriptors, memory or CPU than before.
 * vdp-blk-client layouts: reads back through the backend, in every buffer
 * layout, what was written to the disk file directly, and writes in every
 * layout what is then read from the file directly. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/vhost_types.h>
#include <linux/virtio_blk.h>

#include "vu-frontend.h"

#define BIT(n) (1ull << (n))
#define MEM (64ull << 20)               /* guest memory of a hostile connection */
#define WANT (BIT (VIRTIO_RING_F_INDIRECT_DESC) | BIT (VIRTIO_RING_F_EVENT_IDX))
#define WAIT_MS 3000                    /* a request that should complete */
#define STUCK_MS 300                    /* a request that should not */
#define CANARY_SECTOR 300000            /* the canaries' blocks; cases stay below */

/* vhost-user requests (docs/interop/vhost-user.rst) */
enum {
  M_GET_FEATURES = 1, M_SET_FEATURES = 2, M_SET_MEM_TABLE = 5, M_SET_LOG_BASE = 6,
  M_SET_VRING_NUM = 8, M_SET_VRING_ADDR = 9, M_GET_VRING_BASE = 11, M_SET_VRING_KICK = 12,
  M_SET_VRING_CALL = 13, M_SET_VRING_ERR = 14, M_SET_VRING_ENABLE = 18,
  M_GET_INFLIGHT_FD = 31, M_SET_INFLIGHT_FD = 32, M_RESET_DEVICE = 34, M_ADD_MEM_REG = 37,
  M_REM_MEM_REG = 38,
};
#define NEED_REPLY (1u << 3)

struct region {
  uint64_t gpa, size, uva, offset;
} __attribute__ ((packed));

struct hctx {
  const char *sock;               /* the backend under attack */
  const char *other;              /* another disk's backend: must keep serving */
  pid_t pid;
  const char *log;                /* the backend's standard error */
  int disk;                       /* its disk file, read directly */
  uint64_t disk_size;
  unsigned timeout_s;             /* its --client-timeout */
  char why[512];
};

static int
hfail (struct hctx *h, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static int
hfail (struct hctx *h, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (h->why, sizeof (h->why), fmt, ap);
  va_end (ap);
  return -1;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

/* Whether @len bytes of @buf are what the disk file holds at @offset. */
static bool
disk_is (struct hctx *h, uint64_t offset, const void *buf, size_t len)
{
  uint8_t *tmp = malloc (len);
  bool same = tmp && pread (h->disk, tmp, len, (off_t) offset) == (ssize_t) len
              && memcmp (tmp, buf, len) == 0;

  free (tmp);
  return same;
}

static void
hdr (struct fe *fe, uint64_t gpa, uint32_t type, uint64_t sector)
{
  struct virtio_blk_outhdr *o = fe_ptr (fe, gpa);

  o->type = htole32 (type);
  o->ioprio = 0;
  o->sector = htole64 (sector);
}

/* Runs the request made of @segs (its status is the last byte of its last
 * writable piece) as chain @head of queue @q, through an indirect table at
 * @table unless 0.  Returns its status, -1 when it did not complete within
 * @ms, -2 when another head came back. */
static int
request (struct fe *fe, unsigned q, uint16_t head, const struct fe_seg *segs, unsigned n,
         uint64_t table, int ms)
{
  uint64_t st = UINT64_MAX;
  uint32_t id, len;

  for (unsigned i = 0; i < n; i++)
    if (segs[i].write && segs[i].len)
      st = segs[i].gpa + segs[i].len - 1;
  if (st != UINT64_MAX)
    *(uint8_t *) fe_ptr (fe, st) = 0xee;
  fe_chain (fe, q, head, segs, n, table);
  if (fe_used (fe, q, &id, &len, ms) != 1)
    return -1;
  if (id != head)
    return -2;
  return st == UINT64_MAX ? 0xee : *(uint8_t *) fe_ptr (fe, st);
}

/* A read of @len bytes at @sector into @data (status right after it when
 * @joined, else at @status). */
static int
read_wait (struct fe *fe, unsigned q, uint16_t head, uint64_t sector, uint64_t data, uint32_t len,
           uint64_t hdr_gpa, uint64_t status, bool joined, int ms)
{
  struct fe_seg s[3] = { { hdr_gpa, 16, false }, { data, len + (joined ? 1 : 0), true },
                         { status, 1, true } };

  hdr (fe, hdr_gpa, VIRTIO_BLK_T_IN, sector);
  return request (fe, q, head, s, joined ? 2 : 3, 0, ms);
}

static int
read_at (struct fe *fe, unsigned q, uint16_t head, uint64_t sector, uint64_t data, uint32_t len,
         uint64_t hdr_gpa, uint64_t status, bool joined)
{
  return read_wait (fe, q, head, sector, data, len, hdr_gpa, status, joined, WAIT_MS);
}

static int
attach_mem (struct hctx *h, struct fe *fe, unsigned nq, uint16_t qsize, uint64_t mem)
{
  if (fe_init (fe, mem, nq, qsize, 16384, false) < 0 || fe_connect (fe, h->sock, 5000, WANT) < 0)
    return hfail (h, "connect: %s", fe->err);
  return 0;
}

static int
attach (struct hctx *h, struct fe *fe, unsigned nq, uint16_t qsize)
{
  return attach_mem (h, fe, nq, qsize, MEM);
}

/* Queue @q writes a block and reads it back (and the file has it). */
static int
queue_works (struct hctx *h, struct fe *fe, unsigned q)
{
  static uint8_t buf[4096], back[4096];
  uint64_t sector = CANARY_SECTOR - 64 + q * 8;
  int st;

  fe_pattern (buf, sizeof (buf), fe_now_ns ());
  if ((st = fe_sync (fe, q, VIRTIO_BLK_T_OUT, sector, buf, 4096, NULL, NULL)) != 0)
    return hfail (h, "queue %u: write failed (%d: %s)", q, st, fe->err);
  if ((st = fe_sync (fe, q, VIRTIO_BLK_T_IN, sector, NULL, 4096, back, NULL)) != 0)
    return hfail (h, "queue %u: read failed (%d: %s)", q, st, fe->err);
  if (memcmp (buf, back, 4096) || !disk_is (h, sector * 512, buf, 4096))
    return hfail (h, "queue %u: wrong data read back", q);
  return 0;
}

static bool
err_signalled (struct fe *fe, unsigned q, int ms)
{
  struct pollfd p = { fe->q[q].err_fd, POLLIN, 0 };

  return poll (&p, 1, ms) == 1;
}

/* Whether the connection was closed by the backend within @ms. */
static bool
hung_up (struct fe *fe, int ms)
{
  struct pollfd p = { fe->sock, POLLIN, 0 };
  char c;

  return poll (&p, 1, ms) == 1 && recv (fe->sock, &c, 1, MSG_DONTWAIT) <= 0;
}

/* A message that wants an answer (REPLY_ACK): 0 accepted, 1 refused (an
 * error answer or the connection closed). */
static int
try_msg (struct fe *fe, uint32_t req, const void *payload, uint32_t size, const int *fds,
         unsigned n_fds)
{
  uint64_t status = 1;

  if (fe_raw_fds (fe, req, NEED_REPLY, payload, size, fds, n_fds) < 0
      || fe_reply (fe, req, &status, 8, NULL) < 0)
    return 1;
  return status != 0;
}

static int
set_fd (struct fe *fe, uint32_t req, unsigned q, int fd)
{
  uint64_t v = q;

  return try_msg (fe, req, &v, 8, &fd, fd >= 0 ? 1 : 0);
}

static uint64_t
uva (struct fe *fe, uint64_t gpa)
{
  return (uint64_t) (uintptr_t) fe_ptr (fe, gpa);
}

/* Stops queue @q (GET_VRING_BASE), as QEMU does before it changes a ring. */
static int
stop_ring (struct fe *fe, unsigned q)
{
  struct vhost_vring_state st = { q, 0 };

  return fe_raw (fe, M_GET_VRING_BASE, 0, &st, sizeof (st), -1, &st, sizeof (st));
}

/* CPU time of every thread of @pid, in ns. */
static uint64_t
cpu_ns (pid_t pid)
{
  char path[300];
  uint64_t sum = 0;
  DIR *d;
  struct dirent *de;

  snprintf (path, sizeof (path), "/proc/%d/task", (int) pid);
  if ((d = opendir (path)) == NULL)
    return 0;
  while ((de = readdir (d))) {
    unsigned long long ns = 0;
    FILE *f;
    if (de->d_name[0] == '.')
      continue;
    snprintf (path, sizeof (path), "/proc/%d/task/%s/schedstat", (int) pid, de->d_name);
    if ((f = fopen (path, "r"))) {
      if (fscanf (f, "%llu", &ns) == 1)
        sum += ns;
      fclose (f);
    }
  }
  closedir (d);
  return sum;
}

/* The backend, left alone with whatever the case did, must not spin. */
static bool alive (pid_t pid);

static int
idle_below (struct hctx *h, unsigned percent, unsigned ms)
{
  uint64_t c0 = cpu_ns (h->pid), t0 = fe_now_ns (), c1, t1;

  usleep (ms * 1000);
  c1 = cpu_ns (h->pid);
  t1 = fe_now_ns ();
  if (!alive (h->pid))
    return hfail (h, "the backend died");
  if (c1 > c0 && (c1 - c0) * 100 > (t1 - t0) * percent)
    return hfail (h, "the backend is busy with nothing to do: %llu%% of a CPU",
                  (unsigned long long) ((c1 - c0) * 100 / (t1 - t0)));
  return 0;
}

/* Not spinning: half a CPU is the bound, a busy loop takes it all. */
static int
idle (struct hctx *h)
{
  return idle_below (h, 50, 150);
}

/* The end of a case that holds @fe: an idle check with the connection
 * still there, then it goes. */
static int
finish (struct hctx *h, struct fe *fe, int rc)
{
  if (rc == 0)
    rc = idle (h);
  fe_close (fe);
  return rc;
}

/* The end of a case that stops queue 0: it must be stopped (its err
 * eventfd says so), and queue 1 go on. */
static int
queue0_stopped (struct hctx *h, struct fe *fe)
{
  int rc = 0;

  if (!err_signalled (fe, 0, 2000))
    rc = hfail (h, "queue 0 not stopped");
  else if (queue_works (h, fe, 1) < 0)
    rc = -1;
  return finish (h, fe, rc);
}

static unsigned
fd_count (pid_t pid)
{
  char path[64];
  unsigned n = 0;
  DIR *d;

  snprintf (path, sizeof (path), "/proc/%d/fd", (int) pid);
  if ((d = opendir (path)) == NULL)
    return 0;
  while (readdir (d))
    n++;
  closedir (d);
  return n;
}

static bool
alive (pid_t pid)
{
  char path[64], state = 0;
  FILE *f;

  snprintf (path, sizeof (path), "/proc/%d/stat", (int) pid);
  if ((f = fopen (path, "r")) == NULL)
    return false;
  if (fscanf (f, "%*d (%*[^)]) %c", &state) != 1)
    state = 0;
  fclose (f);
  return state && state != 'Z';
}

static int
memfd_of (uint64_t size)
{
  int fd = memfd_create ("hostile", MFD_CLOEXEC);

  if (fd >= 0 && ftruncate (fd, (off_t) size) < 0) {
    close (fd);
    return -1;
  }
  return fd;
}

/* ------------------------------------------------------------------------ */
/* Wrong data: bounce buffers of earlier requests                            */

/* An unaligned read (bounced), then reads that need no bounce buffer: each
 * must return its own data. */
static int
c_stale_bounce (struct hctx *h, int arg)
{
  struct fe fe;
  uint64_t a = 0, b, c, st, hd;
  int s1, s2, s3;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  a = fe_alloc (&fe, 2 << 20, 4096);
  b = a + (1 << 20);
  c = b + 65536;
  st = c + 65536;
  hd = st + 4096;
  s1 = read_at (&fe, 0, 10, 100, a + 1, 65536, hd, st + 37, false);
  if (s1 != 0 || !disk_is (h, 100 * 512, fe_ptr (&fe, a + 1), 65536))
    return finish (h, &fe, hfail (h, "unaligned read: status %d or wrong data", s1));
  /* status at an aligned address: nothing to bounce */
  s2 = read_at (&fe, 0, 20, 400, b, 4096, hd, st, false);
  if (s2 != 0 || !disk_is (h, 400 * 512, fe_ptr (&fe, b), 4096))
    return finish (h, &fe, hfail (h, "aligned read after a bounced one: status %d, %s", s2,
                                  s2 == 0 ? "another request's data" : "failed"));
  /* data and status in one descriptor of 4097 bytes */
  s3 = read_at (&fe, 0, 30, 800, c, 4096, hd, 0, true);
  if (s3 != 0 || !disk_is (h, 800 * 512, fe_ptr (&fe, c), 4096))
    return finish (h, &fe, hfail (h, "4097-byte data+status read: status %d, %s", s3,
                                  s3 == 0 ? "another request's data" : "failed"));
  return finish (h, &fe, 0);
}

/* The same across connections: the bounce buffer of a request of an
 * earlier connection never reaches a later one. */
static int
c_stale_bounce_connections (struct hctx *h, int arg)
{
  struct fe fe;
  uint64_t a;
  int st;

  (void) arg;
  if (attach (h, &fe, 1, 128) < 0)
    return -1;
  a = fe_alloc (&fe, 1 << 20, 4096);
  st = read_at (&fe, 0, 10, 2000, a + 3, 131072, a + 524288, a + 524288 + 99, false);
  fe_close (&fe);
  if (st != 0)
    return hfail (h, "unaligned read: status %d", st);
  if (attach (h, &fe, 1, 128) < 0)
    return -1;
  a = fe_alloc (&fe, 1 << 20, 4096);
  st = read_at (&fe, 0, 10, 3000, a, 4096, a + 524288, 0, true);
  if (st != 0 || !disk_is (h, 3000 * 512, fe_ptr (&fe, a), 4096))
    return finish (h, &fe, hfail (h, "read on the next connection: status %d, %s", st,
                                  st == 0 ? "an earlier connection's data" : "failed"));
  return finish (h, &fe, 0);
}

/* ------------------------------------------------------------------------ */
/* Request sizes, bounce memory                                              */

/* A request of @ndata data descriptors of @each bytes (all over the same
 * buffer), in a ring of @qsize, direct or indirect: @want is the status
 * it must get; then the queue must go on. */
static int
big_chain (struct hctx *h, uint32_t type, unsigned ndata, uint32_t each, uint16_t qsize,
           bool indirect, int want)
{
  struct fe fe;
  struct fe_seg *s = calloc (ndata + 2, sizeof (*s));
  uint64_t data, meta, table = 0;
  uint8_t before[4096];
  int st, rc = 0;

  if (s == NULL || attach (h, &fe, 2, qsize) < 0) {
    free (s);
    return -1;
  }
  data = fe_alloc (&fe, each, 4096);
  meta = fe_alloc (&fe, 4096, 4096);
  if (indirect)
    table = fe_alloc (&fe, (ndata + 2) * 16, 4096);
  pread (h->disk, before, sizeof (before), 4096 * 512);
  fe_pattern (fe_ptr (&fe, data), each, 5);
  hdr (&fe, meta, type, 4096);
  s[0] = (struct fe_seg) { meta, 16, false };
  for (unsigned i = 0; i < ndata; i++)
    s[1 + i] = (struct fe_seg) { data, each, type == VIRTIO_BLK_T_IN };
  s[ndata + 1] = (struct fe_seg) { meta + 100, 1, true };
  st = request (&fe, 0, 0, s, ndata + 2, table, 20000);
  if (st != want)
    rc = hfail (h, "%u descriptors of %u bytes: status %d, expected %d", ndata, each, st, want);
  else if (want != 0 && type == VIRTIO_BLK_T_OUT && !disk_is (h, 4096 * 512, before, 4096))
    rc = hfail (h, "the refused write changed the disk");
  else if (want == 0 && type == VIRTIO_BLK_T_IN
           && !disk_is (h, 4096 * 512 + (uint64_t) (ndata - 1) * each, fe_ptr (&fe, data), each))
    rc = hfail (h, "wrong data");
  else if (queue_works (h, &fe, 0) < 0 || queue_works (h, &fe, 1) < 0)
    rc = -1;
  free (s);
  return finish (h, &fe, rc);
}

static int
c_over_size_max_read (struct hctx *h, int arg)
{
  (void) arg;                   /* 126 x 1 MiB is the most; 8 x 16 MiB is more */
  return big_chain (h, VIRTIO_BLK_T_IN, 8, 16u << 20, 128, false, VIRTIO_BLK_S_IOERR);
}

static int
c_over_size_max_write (struct hctx *h, int arg)
{
  (void) arg;
  return big_chain (h, VIRTIO_BLK_T_OUT, 8, 16u << 20, 128, false, VIRTIO_BLK_S_IOERR);
}

static int
c_seg_max (struct hctx *h, int arg)
{
  /* @arg data descriptors: 126 (seg_max) is fine, 127 is one too many */
  return big_chain (h, VIRTIO_BLK_T_IN, (unsigned) arg, 512, 256, false,
                    arg <= 126 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
}

static int
c_long_chain (struct hctx *h, int arg)
{
  /* 300 descriptors: legal in a ring of 512, too many to serve */
  return big_chain (h, VIRTIO_BLK_T_IN, 298, 512, 512, arg, VIRTIO_BLK_S_IOERR);
}

/* An unaligned read of 32 MiB: bounced a piece at a time, right data,
 * and the memory goes back (checked after every case). */
static int
c_big_unaligned_read (struct hctx *h, int arg)
{
  struct fe fe;
  uint64_t a;
  int st;

  (void) arg;
  if (attach (h, &fe, 1, 128) < 0)
    return -1;
  a = fe_alloc (&fe, (32 << 20) + 8192, 4096);
  st = read_at (&fe, 0, 10, 0, a + 8, 32 << 20, a + (32 << 20) + 4096, a + (32 << 20) + 4200,
                false);
  if (st != 0 || !disk_is (h, 0, fe_ptr (&fe, a + 8), 32 << 20))
    return finish (h, &fe, hfail (h, "status %d or wrong data", st));
  return finish (h, &fe, 0);
}

/* 40 unaligned 512 KiB reads and writes at once: more than the bounce
 * buffers; they wait for them and all come back right. */
static int
c_many_unaligned (struct hctx *h, int arg)
{
  struct fe fe;
  enum { N = 40, LEN = 512 << 10 };
  uint64_t a, meta;
  bool write = arg;

  if (attach (h, &fe, 1, 256) < 0)
    return -1;
  a = fe_alloc (&fe, (uint64_t) N * (LEN + 4096), 4096);
  meta = fe_alloc (&fe, N * 64, 4096);
  for (unsigned i = 0; i < N; i++) {
    uint64_t d = a + (uint64_t) i * (LEN + 4096) + 1 + i;
    struct fe_seg s[3] = { { meta + i * 64, 16, false }, { d, LEN, !write },
                           { meta + i * 64 + 32, 1, true } };
    if (write)
      fe_pattern (fe_ptr (&fe, d), LEN, i + 77);
    hdr (&fe, meta + i * 64, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
         8192 + (uint64_t) i * (LEN / 512));
    *(uint8_t *) fe_ptr (&fe, meta + i * 64 + 32) = 0xee;
    fe_chain (&fe, 0, (uint16_t) (i * 3), s, 3, 0);
  }
  for (unsigned n = 0; n < N; n++) {
    uint32_t id, len;
    unsigned i;
    uint64_t d;
    if (fe_used (&fe, 0, &id, &len, 20000) != 1)
      return finish (h, &fe, hfail (h, "%u of %u requests completed", n, N));
    i = id / 3;
    d = a + (uint64_t) i * (LEN + 4096) + 1 + i;
    if (*(uint8_t *) fe_ptr (&fe, meta + i * 64 + 32) != 0)
      return finish (h, &fe, hfail (h, "request %u failed", i));
    if (!disk_is (h, (8192 + (uint64_t) i * (LEN / 512)) * 512, fe_ptr (&fe, d), LEN))
      return finish (h, &fe, hfail (h, "request %u: wrong data", i));
  }
  return finish (h, &fe, 0);
}

/* Lowers the backend's address space to what it uses now, plus a little:
 * a fresh bounce buffer cannot be had.  Returns the old limit. */
static struct rlimit
squeeze (struct hctx *h)
{
  struct rlimit old = { RLIM_INFINITY, RLIM_INFINITY };
  struct rlimit tight;

  prlimit (h->pid, RLIMIT_AS, NULL, &old);
  tight.rlim_cur = (fe_proc_kib (h->pid, "VmSize") << 10) + 65536;
  tight.rlim_max = old.rlim_max;
  prlimit (h->pid, RLIMIT_AS, &tight, NULL);
  return old;
}

/* Unaligned reads while no memory can be had: @arg requests of 1 MiB, or
 * (@arg 1) one of 100 MiB in four pieces over the same buffer.  Each
 * completes with its own data or fails with IOERR; the process does not
 * abort. */
static int
c_no_memory (struct hctx *h, int arg)
{
  unsigned n = (unsigned) arg, pieces = n == 1 ? 4 : 1, done = 0;
  uint32_t len = n == 1 ? 25u << 20 : 1u << 20;
  uint64_t span = len + 8192, a, meta;
  struct fe fe;
  struct rlimit old;
  int rc = 0;

  if (attach (h, &fe, 1, 256) < 0)
    return -1;
  a = fe_alloc (&fe, n * span, 4096);
  meta = fe_alloc (&fe, n * 64, 4096);
  old = squeeze (h);
  for (unsigned i = 0; i < n; i++) {
    struct fe_seg s[6];
    s[0] = (struct fe_seg) { meta + i * 64, 16, false };
    for (unsigned k = 0; k < pieces; k++)
      s[1 + k] = (struct fe_seg) { a + i * span + 5, len, true };
    s[1 + pieces] = (struct fe_seg) { meta + i * 64 + 32, 1, true };
    hdr (&fe, meta + i * 64, VIRTIO_BLK_T_IN, 16384 + (uint64_t) i * (len / 512));
    *(uint8_t *) fe_ptr (&fe, meta + i * 64 + 32) = 0xee;
    fe_chain (&fe, 0, (uint16_t) (i * 6), s, pieces + 2, 0);
  }
  for (; done < n && rc == 0; done++) {
    uint32_t id, used;
    unsigned i;
    uint8_t st;
    if (fe_used (&fe, 0, &id, &used, 10000) != 1) {
      rc = hfail (h, "%u of %u requests completed%s", done, n,
                  alive (h->pid) ? "" : ": the backend died");
      break;
    }
    i = id / 6;
    st = *(uint8_t *) fe_ptr (&fe, meta + i * 64 + 32);
    if (st == VIRTIO_BLK_S_OK
        && !disk_is (h, (16384 + (uint64_t) i * (len / 512)) * 512 + (uint64_t) (pieces - 1) * len,
                     fe_ptr (&fe, a + i * span + 5), len))
      rc = hfail (h, "request %u: wrong data", i);
    else if (st != VIRTIO_BLK_S_OK && st != VIRTIO_BLK_S_IOERR)
      rc = hfail (h, "request %u: status %u", i, st);
  }
  prlimit (h->pid, RLIMIT_AS, &old, NULL);
  return finish (h, &fe, rc);
}

/* ------------------------------------------------------------------------ */
/* Inflight regions                                                          */

struct inflight_msg {
  uint64_t mmap_size, mmap_offset;
  uint16_t num_queues, queue_size;
  uint32_t pad;
};

static uint64_t
inflight_stride (uint16_t qsize)
{
  return (16 + (uint64_t) qsize * 16 + 63) / 64 * 64;
}

/* SET_INFLIGHT_FD while the rings run: a region too small for them stops
 * them (and is never written out of bounds); one that fits is taken up,
 * consistent with the used ring. */
static int
c_inflight_while_running (struct hctx *h, int arg)
{
  struct fe fe;
  uint16_t qs = (uint16_t) arg;
  uint64_t size = inflight_stride (qs) * 2, data, meta;
  struct inflight_msg im = { size, 0, 2, qs, 0 };
  int fd, rc = 0;
  uint8_t *region;

  if (attach (h, &fe, 2, 1024) < 0)
    return -1;
  if (queue_works (h, &fe, 0) < 0)
    return finish (h, &fe, -1);
  fd = memfd_of (size);
  region = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  /* the message is taken; what does not fit is stopped */
  if (try_msg (&fe, M_SET_INFLIGHT_FD, &im, 24, &fd, 1) != 0)
    rc = hfail (h, "SET_INFLIGHT_FD refused");
  data = fe_alloc (&fe, 4096, 4096);
  meta = fe_alloc (&fe, 4096, 4096);
  if (rc) {
    /* reported */
  } else if (qs < 1024) {
    /* heads all over the ring: none may run */
    for (unsigned head = 900; head < 1020 && rc == 0; head += 30)
      if (read_wait (&fe, 0, (uint16_t) head, 8, data, 4096, meta, meta + 64, false, 50) != -1)
        rc = hfail (h, "a request ran on a ring larger than its inflight region");
    if (rc == 0 && !err_signalled (&fe, 1, 1000))
      rc = hfail (h, "queue 1 not stopped");
  } else {
    uint16_t used;
    if (read_at (&fe, 0, 1000, 8, data, 4096, meta, meta + 64, false) != 0
        || queue_works (h, &fe, 1) < 0)
      rc = hfail (h, "the rings stopped with a region that fits them");
    used = le16toh (fe.q[0].used->idx);
    if (rc == 0 && (region[8] != 1 || *(uint16_t *) (region + 10) != 1024
                    || *(uint16_t *) (region + 14) != used))
      rc = hfail (h, "the new region is not consistent with the ring (version %u, %u "
                  "descriptors, used index %u, ring's %u)", region[8],
                  *(uint16_t *) (region + 10), *(uint16_t *) (region + 14), used);
  }
  munmap (region, size);
  close (fd);
  return finish (h, &fe, rc);
}

/* The start of a device whose inflight region is @fd, claimed to be
 * @size bytes at @offset: refused before the region is touched. */
static int
bad_inflight (struct hctx *h, int fd, uint64_t size, uint64_t offset)
{
  struct fe fe;
  struct inflight_msg im = { size, offset, 2, 128, 0 };
  int rc = 0;

  if (fe_init (&fe, MEM, 2, 128, 16384, false) < 0 || fe_dial (&fe, h->sock, 5000) < 0
      || fe_handshake (&fe, WANT) < 0)
    return hfail (h, "connect: %s", fe.err);
  fe_raw (&fe, M_SET_FEATURES, 0, &fe.features, 8, -1, NULL, 0);
  fe_raw_fds (&fe, M_SET_INFLIGHT_FD, 0, &im, 24, &fd, 1);
  close (fd);
  /* what would touch it: a ring start */
  fe.protocol &= ~BIT (12);
  if (fe_start (&fe) == 0 && !hung_up (&fe, 1000))
    rc = hfail (h, "the region was taken");
  return finish (h, &fe, rc);
}

static int
c_inflight_past_file (struct hctx *h, int arg)
{
  (void) arg;
  return bad_inflight (h, memfd_of (4096), inflight_stride (128) * 2 + 65536, 0);
}

static int
c_inflight_offset_past_file (struct hctx *h, int arg)
{
  (void) arg;
  return bad_inflight (h, memfd_of (65536), inflight_stride (128) * 2, 1 << 20);
}

static int
c_inflight_not_a_file (struct hctx *h, int arg)
{
  int p[2];

  (void) arg;
  if (pipe (p) < 0)
    return hfail (h, "pipe: %s", strerror (errno));
  close (p[1]);
  return bad_inflight (h, p[0], inflight_stride (128) * 2, 0);
}

/* ------------------------------------------------------------------------ */
/* Descriptors of the wrong kind                                             */

enum fd_kind { F_FILE, F_PIPE, F_SOCKET, F_TIMERFD, F_DEVNULL, F_MEMFD, F_DIR, F_FULL_PIPE,
               F_LAST };
static const char *const kind_names[F_LAST] = {
  "regular file", "pipe", "socket", "timerfd", "/dev/null", "memfd", "directory", "full pipe",
};

static int
make_fd (struct hctx *h, enum fd_kind k)
{
  int p[2], fd = -1;

  switch (k) {
  case F_FILE: {
    char path[] = "/tmp/vdp-hostile-XXXXXX";
    fd = mkstemp (path);
    if (fd >= 0) {
      unlink (path);
      /* a regular file always polls readable */
      (void) !write (fd, "kick", 4);
    }
    break;
  }
  case F_PIPE:
  case F_FULL_PIPE:
    if (pipe (p) < 0)
      break;
    if (k == F_FULL_PIPE) {
      static char junk[4096];
      fcntl (p[1], F_SETFL, O_NONBLOCK);
      while (write (p[1], junk, sizeof (junk)) > 0)
        ;
      fcntl (p[1], F_SETFL, 0);          /* full and blocking */
      fd = p[1];
      /* a reader stays (writes block rather than fail); closed by the
       * next full pipe */
      {
        static int reader = -1;
        if (reader >= 0)
          close (reader);
        reader = p[0];
      }
    } else {
      fd = p[0];
      (void) !write (p[1], "x", 1);
      close (p[1]);
    }
    break;
  case F_SOCKET:
    if (socketpair (AF_UNIX, SOCK_STREAM, 0, p) == 0) {
      fd = p[0];
      close (p[1]);                      /* always readable: end of file */
    }
    break;
  case F_TIMERFD: {
    struct itimerspec it = { { 0, 1000000 }, { 0, 1000000 } };
    fd = timerfd_create (CLOCK_MONOTONIC, 0);
    if (fd >= 0)
      timerfd_settime (fd, 0, &it, NULL);
    break;
  }
  case F_DEVNULL:
    fd = open ("/dev/null", O_RDWR);
    break;
  case F_MEMFD:
    fd = memfd_of (4096);
    break;
  case F_DIR:
    fd = open ("/", O_RDONLY | O_DIRECTORY);
    break;
  case F_LAST:
    break;
  }
  if (fd < 0)
    hfail (h, "cannot make a %s", kind_names[k]);
  return fd;
}

/* SET_VRING_<which> with a descriptor of kind @k on a running
 * queue 0: refused, the queue stops (one error) without spinning, queue 1
 * goes on. */
static int
bad_vring_fd (struct hctx *h, uint32_t which, enum fd_kind k)
{
  struct fe fe;
  uint64_t data, meta;
  int fd, refused, rc = 0;

  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  if ((fd = make_fd (h, k)) < 0)
    return finish (h, &fe, -1);
  refused = set_fd (&fe, which, 0, fd);
  close (fd);
  data = fe_alloc (&fe, 65536, 4096);
  meta = fe_alloc (&fe, 4096, 4096);
  if (!refused)
    rc = hfail (h, "a %s was taken", kind_names[k]);
  else if (read_wait (&fe, 0, 60, 8, data, 4096, meta, meta + 64, false, STUCK_MS) != -1)
    rc = hfail (h, "queue 0 ran with a refused descriptor");
  else if (queue_works (h, &fe, 1) < 0)
    rc = -1;
  return finish (h, &fe, rc);
}

static int
c_bad_kick (struct hctx *h, int arg)
{
  return bad_vring_fd (h, M_SET_VRING_KICK, (enum fd_kind) arg);
}

static int
c_bad_call (struct hctx *h, int arg)
{
  return bad_vring_fd (h, M_SET_VRING_CALL, (enum fd_kind) arg);
}

static int
c_bad_err (struct hctx *h, int arg)
{
  return bad_vring_fd (h, M_SET_VRING_ERR, (enum fd_kind) arg);
}

/* An eventfd at its maximum count, blocking: writing it would block. */
static int
full_eventfd (void)
{
  int fd = eventfd (0, EFD_CLOEXEC);

  if (fd >= 0)
    eventfd_write (fd, 0xfffffffffffffffeull);
  return fd;
}

/* A full blocking call eventfd: requests still complete (the driver
 * polls the used ring), nothing blocks. */
static int
c_full_call_eventfd (struct hctx *h, int arg)
{
  struct fe fe;
  uint64_t data, meta;
  int fd, rc = 0;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  fd = full_eventfd ();
  if (set_fd (&fe, M_SET_VRING_CALL, 0, fd) != 0)
    rc = hfail (h, "a full eventfd was refused");
  data = fe_alloc (&fe, 65536, 4096);
  meta = fe_alloc (&fe, 4096, 4096);
  for (unsigned i = 0; i < 20 && rc == 0; i++)
    if (read_at (&fe, 0, (uint16_t) (60 + i * 3), 8 + i * 8, data, 4096, meta, meta + 64,
                 false) != 0)
      rc = hfail (h, "request %u did not complete", i);
  if (rc == 0)
    rc = queue_works (h, &fe, 1);
  close (fd);
  return finish (h, &fe, rc);
}

/* A full blocking err eventfd, then a ring broken: the backend signals
 * it without blocking. */
static int
c_full_err_eventfd (struct hctx *h, int arg)
{
  struct fe fe;
  int fd, rc;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  fd = full_eventfd ();
  set_fd (&fe, M_SET_VRING_ERR, 0, fd);
  fe_bad_chain (&fe, K_LOOP);
  usleep (200000);
  rc = queue_works (h, &fe, 1);
  close (fd);
  return finish (h, &fe, rc);
}

/* A kick eventfd at its maximum count (always readable: the backend
 * never reads it) makes it neither spin nor stop; once the front-end
 * drains it, kicks work again. */
static int
c_full_kick_eventfd (struct hctx *h, int arg)
{
  struct fe fe;
  eventfd_t v;
  int rc;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  eventfd_write (fe.q[0].kick_fd, 0xfffffffffffffffeull);
  rc = idle (h);
  eventfd_read (fe.q[0].kick_fd, &v);
  if (rc == 0 && (queue_works (h, &fe, 0) < 0 || queue_works (h, &fe, 1) < 0))
    rc = -1;
  return finish (h, &fe, rc);
}

/* No call fd (the guest polls): requests complete, nothing is signalled. */
static int
c_no_call_fd (struct hctx *h, int arg)
{
  struct fe fe;
  uint64_t v = 0 | (1u << 8), data, meta;
  int rc = 0;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  fe_raw (&fe, M_SET_VRING_CALL, 0, &v, 8, -1, NULL, 0);
  data = fe_alloc (&fe, 65536, 4096);
  meta = fe_alloc (&fe, 4096, 4096);
  if (read_at (&fe, 0, 60, 8, data, 4096, meta, meta + 64, false) != 0
      || !disk_is (h, 8 * 512, fe_ptr (&fe, data), 4096))
    rc = hfail (h, "a request on a ring without call fd failed");
  return finish (h, &fe, rc);
}

/* No kick fd (the driver never kicks): the ring is looked at now and
 * then, requests complete without a kick, and that costs little CPU. */
static int
c_no_kick_fd (struct hctx *h, int arg)
{
  struct fe fe;
  uint64_t v = 0 | (1u << 8), data, meta;
  uint32_t id, len;
  int rc = 0;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  if (try_msg (&fe, M_SET_VRING_KICK, &v, 8, NULL, 0) != 0)
    rc = hfail (h, "a kick without fd was refused");
  data = fe_alloc (&fe, 65536, 4096);
  meta = fe_alloc (&fe, 4096, 4096);
  hdr (&fe, meta, VIRTIO_BLK_T_IN, 8);
  /* made available without a kick */
  fe.q[0].desc[60] = (struct vring_desc) { htole64 (meta), htole32 (16), htole16 (VRING_DESC_F_NEXT), htole16 (61) };
  fe.q[0].desc[61] = (struct vring_desc) { htole64 (data), htole32 (4096),
                                           htole16 (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE), htole16 (62) };
  fe.q[0].desc[62] = (struct vring_desc) { htole64 (meta + 64), htole32 (1), htole16 (VRING_DESC_F_WRITE), 0 };
  fe.q[0].avail->ring[fe.q[0].avail_idx % 128] = htole16 (60);
  fe.q[0].avail_idx++;
  __atomic_store_n (&fe.q[0].avail->idx, htole16 (fe.q[0].avail_idx), __ATOMIC_RELEASE);
  if (rc == 0 && (fe_used (&fe, 0, &id, &len, WAIT_MS) != 1 || id != 60
                  || !disk_is (h, 8 * 512, fe_ptr (&fe, data), 4096)))
    rc = hfail (h, "a request on a ring without kick fd did not complete");
  /* looked at less and less often while nothing comes */
  if (rc == 0)
    rc = idle_below (h, 10, 500);
  return finish (h, &fe, rc);
}

/* ------------------------------------------------------------------------ */
/* Memory regions and their files                                            */

enum region_fault { R_FILE_SHORT, R_OFFSET_PAST, R_END_PAST, R_PIPE, R_EVENTFD, R_ZERO, R_LAST };

/* Guest memory announced with @f wrong about its file, by SET_MEM_TABLE
 * or ADD_MEM_REG (@slots): refused (one error), never touched. */
static int
bad_region (struct hctx *h, enum region_fault f, bool slots)
{
  struct fe fe;
  struct region r;
  int fd, refused;

  if (fe_init (&fe, MEM, 2, 128, 16384, false) < 0 || fe_dial (&fe, h->sock, 5000) < 0
      || fe_handshake (&fe, WANT) < 0)
    return hfail (h, "connect: %s", fe.err);
  r = (struct region) { 0, MEM, uva (&fe, 0), 0 };
  fd = dup (fe.memfd);
  switch (f) {
  case R_FILE_SHORT:          /* the file ends in the middle of the region */
    close (fd);
    fd = memfd_of (MEM / 2);
    break;
  case R_OFFSET_PAST:
    r.offset = 2 * MEM;
    break;
  case R_END_PAST:
    r.offset = MEM / 2;
    break;
  case R_PIPE: {
    int p[2];
    close (fd);
    if (pipe (p) == 0) {
      fd = p[0];
      close (p[1]);
    }
    break;
  }
  case R_EVENTFD:
    close (fd);
    fd = eventfd (0, 0);
    break;
  case R_ZERO:
    r.size = 0;
    break;
  case R_LAST:
    break;
  }
  fe_raw (&fe, M_SET_FEATURES, 0, &fe.features, 8, -1, NULL, 0);
  if (slots) {
    struct { uint64_t pad; struct region r; } __attribute__ ((packed)) m = { 0, r };
    refused = try_msg (&fe, M_ADD_MEM_REG, &m, sizeof (m), &fd, 1);
  } else {
    struct { uint32_t n, pad; struct region r; } __attribute__ ((packed)) m = { 1, 0, r };
    refused = try_msg (&fe, M_SET_MEM_TABLE, &m, sizeof (m), &fd, 1);
  }
  close (fd);
  if (!refused) {
    /* what a backend that took it would touch: queue 0's rings, moved to
     * the part of the region past the end of its file */
    uint64_t a = MEM - (1 << 20);
    struct vhost_vring_addr va = { 0, 0, uva (&fe, a), uva (&fe, a + 16384), uva (&fe, a + 8192), 0 };
    struct vhost_vring_state st = { 0, 128 };
    fe_raw (&fe, M_SET_VRING_NUM, 0, &st, sizeof (st), -1, NULL, 0);
    fe_raw (&fe, M_SET_VRING_ADDR, 0, &va, sizeof (va), -1, NULL, 0);
    set_fd (&fe, M_SET_VRING_KICK, 0, fe.q[0].kick_fd);
    return finish (h, &fe, hfail (h, "the region was taken"));
  }
  return finish (h, &fe, 0);
}

static int
c_bad_mem_table (struct hctx *h, int arg)
{
  return bad_region (h, (enum region_fault) arg, false);
}

static int
c_bad_mem_reg (struct hctx *h, int arg)
{
  return bad_region (h, (enum region_fault) arg, true);
}

/* Guest memory shrunk under running rings, then a kick: queue stopped
 * (one error), no signal kills the process. */
static void
publish_read (struct fe *fe, unsigned q)
{
  int slot = fe_slot_get (fe, q);

  fe_submit (fe, q, (unsigned) slot, VIRTIO_BLK_T_IN, 8, 4096, 0);
  __atomic_store_n (&fe->q[q].avail->idx, htole16 (fe->q[q].avail_idx), __ATOMIC_RELEASE);
}

static int
c_shrink_all (struct hctx *h, int arg)
{
  struct fe fe;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  publish_read (&fe, 0);
  /* from now on this front-end must not touch its memory either */
  if (ftruncate (fe.memfd, 0) < 0)
    return finish (h, &fe, hfail (h, "ftruncate: %s", strerror (errno)));
  eventfd_write (fe.q[0].kick_fd, 1);
  if (!err_signalled (&fe, 0, 2000))
    return finish (h, &fe, hfail (h, "queue 0 not stopped"));
  return finish (h, &fe, 0);
}

/* Only the data area shrinks away (rings and headers stay): a read into
 * it, direct (the kernel fails it) or bounced (our copy faults), a
 * bounced write (nothing may reach the disk), or the file grown back. */
static int
c_shrink_data (struct hctx *h, int arg)
{
  struct fe fe;
  uint64_t cut = MEM - (8 << 20), data = cut + (2 << 20), meta;
  uint8_t before[4096];
  bool unaligned = arg & 1, write = arg & 2, grow = arg & 4;
  struct fe_seg s[3];
  int st, rc = 0;

  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  meta = fe_alloc (&fe, 4096, 4096);
  fe_pattern (fe_ptr (&fe, data), 8192, 3);
  pread (h->disk, before, sizeof (before), 6000 * 512);
  if (ftruncate (fe.memfd, (off_t) cut) < 0
      || (grow && ftruncate (fe.memfd, (off_t) MEM) < 0))
    return finish (h, &fe, hfail (h, "ftruncate: %s", strerror (errno)));
  s[0] = (struct fe_seg) { meta, 16, false };
  s[1] = (struct fe_seg) { data + (unaligned ? 3 : 0), 4096, !write };
  s[2] = (struct fe_seg) { meta + 64, 1, true };
  hdr (&fe, meta, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 6000);
  st = request (&fe, 0, 60, s, 3, 0, unaligned && !grow ? 1000 : WAIT_MS);
  if (grow) {
    /* the pages came back as holes: zeroes written, or what was read */
    if (st != 0 || !disk_is (h, 6000 * 512, fe_ptr (&fe, data + (unaligned ? 3 : 0)), 4096))
      rc = hfail (h, "memory grown back: status %d or wrong data", st);
  } else if (st == 0) {
    rc = hfail (h, "a request with its data gone succeeded");
  } else if (write && !disk_is (h, 6000 * 512, before, 4096)) {
    rc = hfail (h, "a write whose data was gone changed the disk");
  } else if (unaligned && !err_signalled (&fe, 0, 1000)) {
    rc = hfail (h, "queue 0 not stopped after a fault in its data");
  } else if (!unaligned && st != VIRTIO_BLK_S_IOERR) {
    rc = hfail (h, "status %d, expected IOERR", st);
  }
  if (rc == 0)
    rc = queue_works (h, &fe, 1);
  if (rc == 0 && !unaligned)
    rc = queue_works (h, &fe, 0);
  return finish (h, &fe, rc);
}

/* Memory shrunk after it was announced, before the ring starts: the
 * ring start (in the control thread) faults, the ring is stopped. */
static void
shrink_now (struct fe *fe)
{
  (void) !ftruncate (fe->memfd, 0);
}

static int
c_shrink_before_start (struct hctx *h, int arg)
{
  struct fe fe;
  int rc = 0;

  (void) arg;
  if (fe_init (&fe, MEM, 2, 128, 16384, false) < 0)
    return hfail (h, "%s", fe.err);
  fe.after_memory = shrink_now;
  if (fe_connect (&fe, h->sock, 5000, WANT) < 0)
    rc = hfail (h, "connect: %s", fe.err);
  else if (!err_signalled (&fe, 0, 2000))
    rc = hfail (h, "queue 0 not stopped");
  return finish (h, &fe, rc);
}

/* An inflight region of the front-end's own (not sealed, unlike the
 * backend's), shrunk under a running ring: its next request faults there,
 * the queue stops. */
static int
c_shrink_inflight (struct hctx *h, int arg)
{
  struct fe fe;
  uint64_t size = inflight_stride (128) * 2;
  struct inflight_msg im = { size, 0, 2, 128, 0 };
  int fd = memfd_of (size), rc = 0;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0) {
    close (fd);
    return -1;
  }
  if (try_msg (&fe, M_SET_INFLIGHT_FD, &im, 24, &fd, 1) != 0)
    rc = hfail (h, "SET_INFLIGHT_FD refused");
  else if (queue_works (h, &fe, 0) < 0)
    rc = -1;
  else if (ftruncate (fd, 0) < 0)
    rc = hfail (h, "ftruncate: %s", strerror (errno));
  close (fd);
  if (rc == 0) {
    publish_read (&fe, 0);
    fe_kick (&fe, 0);
    if (!err_signalled (&fe, 0, 2000))
      rc = hfail (h, "queue 0 not stopped");
  }
  return finish (h, &fe, rc);
}

/* ------------------------------------------------------------------------ */
/* The dirty log                                                             */

/* SET_LOG_BASE (with LOG_ALL) of @size bytes at @offset in a file of
 * @file bytes: refused (connection closed) unless @ok; when taken, a read
 * is done and, with @shrink, the file shrunk first. */
static int
log_case (struct hctx *h, uint64_t file, uint64_t size, uint64_t offset, bool ok, bool shrink)
{
  struct fe fe;
  struct { uint64_t size, offset; } __attribute__ ((packed)) lb = { size, offset };
  uint64_t ack = 1, data, meta;
  int fd = memfd_of (file), rc = 0, st;

  if (attach (h, &fe, 2, 128) < 0) {
    close (fd);
    return -1;
  }
  fe.features |= BIT (26);
  fe_raw (&fe, M_SET_FEATURES, NEED_REPLY, &fe.features, 8, -1, &ack, 8);
  fe_raw_fds (&fe, M_SET_LOG_BASE, 0, &lb, sizeof (lb), &fd, 1);
  if (fe_reply (&fe, M_SET_LOG_BASE, NULL, 0, NULL) < 0) {
    close (fd);
    if (ok)
      rc = hfail (h, "a good log was refused");
    return finish (h, &fe, rc);
  }
  if (!ok)
    rc = hfail (h, "the log was taken");
  if (shrink && ftruncate (fd, 0) < 0)
    rc = hfail (h, "ftruncate: %s", strerror (errno));
  data = fe_alloc (&fe, 65536, 4096);
  meta = fe_alloc (&fe, 4096, 4096);
  st = read_wait (&fe, 0, 60, 8, data, 4096, meta, meta + 64, false, shrink ? 1000 : WAIT_MS);
  if (rc == 0 && shrink && !err_signalled (&fe, 0, 1000))
    rc = hfail (h, "queue 0 not stopped after a fault in the log");
  if (rc == 0 && !shrink && st != 0)
    rc = hfail (h, "a read while logging failed");
  close (fd);
  return finish (h, &fe, rc);
}

/* bytes of log for MEM bytes of guest memory */
#define LOG_BYTES (MEM / 4096 / 8)

static int
c_log_smaller_than_memory (struct hctx *h, int arg)
{
  (void) arg;
  return log_case (h, 4096, LOG_BYTES / 2, 0, false, false);
}

static int
c_log_past_file (struct hctx *h, int arg)
{
  (void) arg;
  return log_case (h, LOG_BYTES / 4, LOG_BYTES, 0, false, false);
}

static int
c_log_offset_past_file (struct hctx *h, int arg)
{
  (void) arg;
  return log_case (h, LOG_BYTES, LOG_BYTES, 1 << 20, false, false);
}

static int
c_log_good (struct hctx *h, int arg)
{
  (void) arg;
  return log_case (h, LOG_BYTES, LOG_BYTES, 0, true, false);
}

static int
c_log_shrunk (struct hctx *h, int arg)
{
  (void) arg;
  return log_case (h, LOG_BYTES, LOG_BYTES, 0, true, true);
}

/* While logging, a request the backend refuses (unknown type) whose
 * writable descriptors cover all guest memory many times over: it wrote
 * only its status, so only that page may be marked; marking every page
 * of every descriptor kept a worker busy for a third of a second per
 * request (4 GiB descriptors), seconds for a ring of them, and the
 * control plane waited. */
static int
c_log_refused_request (struct hctx *h, int arg)
{
  struct fe fe;
  struct { uint64_t size, offset; } __attribute__ ((packed)) lb = { LOG_BYTES, 0 };
  struct fe_seg s[128];
  uint64_t ack = 1, meta, dirty = 0;
  int fd = memfd_of (LOG_BYTES), st, rc = 0;
  uint8_t *log;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0) {
    close (fd);
    return -1;
  }
  fe.features |= BIT (26);
  fe_raw (&fe, M_SET_FEATURES, NEED_REPLY, &fe.features, 8, -1, &ack, 8);
  fe_raw_fds (&fe, M_SET_LOG_BASE, 0, &lb, sizeof (lb), &fd, 1);
  log = mmap (NULL, LOG_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close (fd);
  if (fe_reply (&fe, M_SET_LOG_BASE, NULL, 0, NULL) < 0 || log == MAP_FAILED)
    return finish (h, &fe, hfail (h, "the log was refused"));
  meta = fe_alloc (&fe, 4096, 4096);
  hdr (&fe, meta, 77, 0);
  s[0] = (struct fe_seg) { meta, 16, false };
  for (unsigned i = 1; i < 127; i++)
    s[i] = (struct fe_seg) { 0, (uint32_t) MEM, true };
  s[127] = (struct fe_seg) { meta + 64, 1, true };
  memset (log, 0, LOG_BYTES);
  st = request (&fe, 0, 0, s, 128, 0, WAIT_MS);
  for (uint64_t i = 0; i < LOG_BYTES; i++)
    dirty += (uint64_t) __builtin_popcount (log[i]);
  if (st != VIRTIO_BLK_S_UNSUPP)
    rc = hfail (h, "status %d, expected UNSUPP", st);
  else if (dirty != 1)
    rc = hfail (h, "%llu pages marked dirty by a request that wrote only its status",
                (unsigned long long) dirty);
  else
    rc = queue_works (h, &fe, 0);
  munmap (log, LOG_BYTES);
  return finish (h, &fe, rc);
}

/* Guest memory added beyond what the dirty log covers: refused. */
static int
c_memory_past_log (struct hctx *h, int arg)
{
  struct fe fe;
  struct { uint64_t size, offset; } __attribute__ ((packed)) lb = { LOG_BYTES, 0 };
  struct { uint64_t pad; struct region r; } __attribute__ ((packed)) m;
  uint64_t ack;
  int fd = memfd_of (LOG_BYTES), mfd = memfd_of (1 << 20), rc = 0;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  fe.features |= BIT (26);
  fe_raw (&fe, M_SET_FEATURES, NEED_REPLY, &fe.features, 8, -1, &ack, 8);
  fe_raw_fds (&fe, M_SET_LOG_BASE, 0, &lb, sizeof (lb), &fd, 1);
  if (fe_reply (&fe, M_SET_LOG_BASE, NULL, 0, NULL) < 0)
    rc = hfail (h, "a good log was refused");
  m.pad = 0;
  m.r = (struct region) { MEM, 1 << 20, 0x7e0000000000ull, 0 };
  if (rc == 0 && try_msg (&fe, M_ADD_MEM_REG, &m, sizeof (m), &mfd, 1) == 0)
    rc = hfail (h, "memory past the dirty log was taken");
  close (fd);
  close (mfd);
  return finish (h, &fe, rc);
}

/* ------------------------------------------------------------------------ */
/* Rings                                                                     */

/* Queue 0 moved to addresses partly outside guest memory: it does not
 * start (one error), queue 1 goes on. */
static int
c_ring_outside (struct hctx *h, int arg)
{
  struct fe fe;
  struct vhost_vring_addr a;

  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  a = (struct vhost_vring_addr) { 0, 0, uva (&fe, fe.q[0].desc_gpa), uva (&fe, fe.q[0].used_gpa),
                                  uva (&fe, fe.q[0].avail_gpa), 0 };
  if (arg == 0)
    a.desc_user_addr = uva (&fe, MEM + 65536);
  else if (arg == 1)
    a.avail_user_addr = 0x10;
  else
    a.used_user_addr = uva (&fe, MEM - 64);     /* straddles the end */
  stop_ring (&fe, 0);
  fe_raw (&fe, M_SET_VRING_ADDR, 0, &a, sizeof (a), -1, NULL, 0);
  set_fd (&fe, M_SET_VRING_KICK, 0, fe.q[0].kick_fd);
  return queue0_stopped (h, &fe);
}

/* The memory under running rings removed: they stop (one error each). */
static int
c_memory_removed (struct hctx *h, int arg)
{
  struct fe fe;
  struct { uint64_t pad; struct region r; } __attribute__ ((packed)) m;
  int rc = 0;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  m.pad = 0;
  m.r = (struct region) { 0, MEM, uva (&fe, 0), 0 };
  try_msg (&fe, M_REM_MEM_REG, &m, sizeof (m), NULL, 0);
  if (!err_signalled (&fe, 0, 1000) || !err_signalled (&fe, 1, 1000))
    rc = hfail (h, "the rings were not stopped");
  return finish (h, &fe, rc);
}

/* A ring's size changed while it runs: refused. */
static int
c_ring_size_while_running (struct hctx *h, int arg)
{
  struct fe fe;
  struct vhost_vring_state st = { 0, 64 };
  int rc = 0;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  fe_raw (&fe, M_SET_VRING_NUM, 0, &st, sizeof (st), -1, NULL, 0);
  if (!hung_up (&fe, 1000))
    rc = hfail (h, "a running ring was resized");
  return finish (h, &fe, rc);
}

/* RESET_DEVICE while rings run, then a new start: it all works. */
static int
c_reset_while_running (struct hctx *h, int arg)
{
  struct fe fe;
  int rc = 0;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  fe_raw (&fe, M_RESET_DEVICE, 0, NULL, 0, -1, NULL, 0);
  close (fe.inflight_fd);
  fe.inflight_fd = -1;
  for (unsigned q = 0; q < 2; q++)
    fe.q[q].base = le16toh (fe.q[q].used->idx);
  if (fe_start (&fe) < 0)
    rc = hfail (h, "restart: %s", fe.err);
  else if (queue_works (h, &fe, 0) < 0 || queue_works (h, &fe, 1) < 0)
    rc = -1;
  return finish (h, &fe, rc);
}

/* Disabled, given requests, enabled: they run then. */
static int
c_enable_later (struct hctx *h, int arg)
{
  struct fe fe;
  struct vhost_vring_state st = { 0, 0 };
  int rc = 0, slot;
  struct fe_done d;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  try_msg (&fe, M_SET_VRING_ENABLE, &st, sizeof (st), NULL, 0);
  slot = fe_slot_get (&fe, 0);
  fe_submit (&fe, 0, (unsigned) slot, VIRTIO_BLK_T_IN, 8, 4096, 0);
  fe_kick (&fe, 0);
  if (fe_complete (&fe, 0, &d, 1, STUCK_MS) != 0)
    rc = hfail (h, "a disabled ring ran");
  st.num = 1;
  fe_raw (&fe, M_SET_VRING_ENABLE, 0, &st, sizeof (st), -1, NULL, 0);
  fe_kick (&fe, 0);
  if (rc == 0 && fe_complete (&fe, 0, &d, 1, WAIT_MS) != 1)
    rc = hfail (h, "the request did not run once enabled");
  return finish (h, &fe, rc);
}

/* Bad chains (those of the fuzz mode): each stops queue 0 only (one error). */
static int
c_bad_chain (struct hctx *h, int arg)
{
  struct fe fe;

  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  fe_bad_chain (&fe, (enum fe_bad_chain) arg);
  return queue0_stopped (h, &fe);
}

/* ------------------------------------------------------------------------ */
/* Legal but unusual requests                                                */

/* A read split into pieces with empty descriptors between them. */
static int
c_empty_descriptors (struct hctx *h, int arg)
{
  struct fe fe;
  uint64_t a, m;
  struct fe_seg s[7];
  int st, rc = 0;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  a = fe_alloc (&fe, 65536, 4096);
  m = fe_alloc (&fe, 4096, 4096);
  hdr (&fe, m, VIRTIO_BLK_T_IN, 700);
  s[0] = (struct fe_seg) { m, 16, false };
  s[1] = (struct fe_seg) { a, 2048, true };
  s[2] = (struct fe_seg) { m + 333, 0, true };
  s[3] = (struct fe_seg) { a + 2048, 2048, true };
  s[4] = (struct fe_seg) { m + 500, 0, true };
  s[5] = (struct fe_seg) { m + 64, 1, true };
  s[6] = (struct fe_seg) { m + 77, 0, true };
  st = request (&fe, 0, 20, s, 7, 0, WAIT_MS);
  if (st != 0 || !disk_is (h, 700 * 512, fe_ptr (&fe, a), 4096))
    rc = hfail (h, "status %d or wrong data", st);
  return finish (h, &fe, rc);
}

/* Requests with odd shapes and where they should fail, fail. */
static int
c_odd_requests (struct hctx *h, int arg)
{
  struct fe fe;
  uint64_t a, m;
  int st, rc = 0;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  a = fe_alloc (&fe, 65536, 4096);
  m = fe_alloc (&fe, 4096, 4096);
  {
    /* no header at all: IOERR */
    struct fe_seg s[1] = { { m + 64, 1, true } };
    if ((st = request (&fe, 0, 20, s, 1, 0, WAIT_MS)) != VIRTIO_BLK_S_IOERR)
      rc = hfail (h, "status-only request: %d", st);
  }
  if (rc == 0) {
    /* a short header: IOERR */
    struct fe_seg s[2] = { { m, 8, false }, { m + 64, 1, true } };
    if ((st = request (&fe, 0, 20, s, 2, 0, WAIT_MS)) != VIRTIO_BLK_S_IOERR)
      rc = hfail (h, "short header: %d", st);
  }
  if (rc == 0) {
    /* no status: completes, nothing written */
    struct fe_seg s[1] = { { m, 16, false } };
    hdr (&fe, m, VIRTIO_BLK_T_FLUSH, 0);
    if ((st = request (&fe, 0, 20, s, 1, 0, WAIT_MS)) == -1)
      rc = hfail (h, "request without status did not complete");
  }
  if (rc == 0) {
    /* GET_ID into one byte */
    struct fe_seg s[3] = { { m, 16, false }, { a, 1, true }, { m + 64, 1, true } };
    hdr (&fe, m, VIRTIO_BLK_T_GET_ID, 0);
    if ((st = request (&fe, 0, 20, s, 3, 0, WAIT_MS)) != 0)
      rc = hfail (h, "GET_ID into one byte: %d", st);
  }
  if (rc == 0) {
    /* the last block of the disk, and one past it */
    uint64_t last = h->disk_size / 512 - 8;
    if ((st = read_at (&fe, 0, 20, last, a, 4096, m, m + 64, false)) != 0
        || !disk_is (h, last * 512, fe_ptr (&fe, a), 4096))
      rc = hfail (h, "last block: %d", st);
    else if ((st = read_at (&fe, 0, 20, last + 1, a, 4096, m, m + 64, false)) != VIRTIO_BLK_S_IOERR)
      rc = hfail (h, "past the end: %d", st);
    else if ((st = read_at (&fe, 0, 20, UINT64_MAX / 512, a, 4096, m, m + 64, false))
             != VIRTIO_BLK_S_IOERR)
      rc = hfail (h, "sector overflow: %d", st);
  }
  if (rc == 0) {
    /* an unknown type with data: UNSUPP */
    struct fe_seg s[3] = { { m, 16, false }, { a, 4096, true }, { m + 64, 1, true } };
    hdr (&fe, m, 77, 0);
    if ((st = request (&fe, 0, 20, s, 3, 0, WAIT_MS)) != VIRTIO_BLK_S_UNSUPP)
      rc = hfail (h, "unknown type: %d", st);
  }
  if (rc == 0) {
    /* a header spread over two descriptors, data and status in one */
    struct fe_seg s[3] = { { m, 9, false }, { m + 9, 7, false }, { a + 4096, 4097, true } };
    hdr (&fe, m, VIRTIO_BLK_T_IN, 900);
    if ((st = request (&fe, 0, 20, s, 3, 0, WAIT_MS)) != 0
        || !disk_is (h, 900 * 512, fe_ptr (&fe, a + 4096), 4096))
      rc = hfail (h, "split header: %d", st);
  }
  if (rc == 0)
    rc = queue_works (h, &fe, 0);
  return finish (h, &fe, rc);
}

/* A full ring of 1024 requests that finish at once (unknown type),
 * made available in one go: the worker must come up for air between
 * batches (publish, serve its other rings, pause for the control plane),
 * not only when the ring is empty; a driver that keeps refilling it
 * would otherwise hold the worker for good.  Seen from here, without
 * EVENT_IDX: one call notification per published batch, counted by the
 * call eventfd.  The old backend published each 1024 at once: 3
 * notifications for 3 rounds. */
static int
c_ring_kept_full (struct hctx *h, int arg)
{
  struct fe fe;
  struct fe_queue *q;
  struct vring_desc *d;
  uint64_t meta, table, notified = 0;
  enum { ROUNDS = 3 };
  int rc = 0;

  (void) arg;
  if (fe_init (&fe, MEM, 2, 1024, 16384, false) < 0
      || fe_connect (&fe, h->sock, 5000, BIT (VIRTIO_RING_F_INDIRECT_DESC)) < 0)
    return hfail (h, "connect: %s", fe.err);
  q = &fe.q[0];
  meta = fe_alloc (&fe, 4096, 4096);
  table = fe_alloc (&fe, 4096, 4096);
  hdr (&fe, meta, 77, 0);
  d = fe_ptr (&fe, table);
  d[0] = (struct vring_desc) { htole64 (meta), htole32 (16), htole16 (VRING_DESC_F_NEXT), htole16 (1) };
  d[1] = (struct vring_desc) { htole64 (meta + 64), htole32 (1), htole16 (VRING_DESC_F_WRITE), 0 };
  for (unsigned head = 0; head < 1024; head++)
    q->desc[head] = (struct vring_desc) { htole64 (table), htole32 (32),
                                          htole16 (VRING_DESC_F_INDIRECT), 0 };
  (void) !eventfd_read (q->call_fd, &notified);      /* earlier ones */
  notified = 0;
  for (unsigned round = 0; round < ROUNDS && rc == 0; round++) {
    uint16_t start = le16toh (__atomic_load_n (&q->used->idx, __ATOMIC_ACQUIRE)), now;
    uint64_t deadline = fe_now_ns () + 10000000000ull;
    for (unsigned head = 0; head < 1024; head++)
      q->avail->ring[(uint16_t) (q->avail_idx + head) % 1024] = htole16 ((uint16_t) head);
    q->avail_idx = (uint16_t) (q->avail_idx + 1024);
    __atomic_store_n (&q->avail->idx, htole16 (q->avail_idx), __ATOMIC_RELEASE);
    eventfd_write (q->kick_fd, 1);
    do {
      usleep (1000);
      now = le16toh (__atomic_load_n (&q->used->idx, __ATOMIC_ACQUIRE));
    } while (now != (uint16_t) (start + 1024) && fe_now_ns () < deadline);
    if (now != (uint16_t) (start + 1024))
      rc = hfail (h, "round %u: %u of 1024 requests completed", round, (uint16_t) (now - start));
  }
  usleep (50000);
  (void) !eventfd_read (q->call_fd, &notified);
  if (rc == 0 && notified <= ROUNDS)
    rc = hfail (h, "%u rounds of 1024 requests published in %llu batches", ROUNDS,
                (unsigned long long) notified);
  if (rc == 0)
    rc = queue_works (h, &fe, 1);
  return finish (h, &fe, rc);
}

/* 32 reads of 126 MiB in flight (4 GiB), then SET_VRING_CALL for the
 * other queue, as QEMU sends it when the guest masks MSI-X: answered
 * while the reads are still in flight, before half of them are done.
 * The old backend finished every request first, so QEMU waited on the
 * guest's I/O (6.5 s for 64 such reads here): its worker sat in
 * io_uring_submit until the reads were done, and every pause drained;
 * seen from here, all 32 were published before the answer. */
static int
c_call_fd_during_io (struct hctx *h, int arg)
{
  enum { N = 32 };
  struct fe fe;
  uint64_t buf, meta, tables;
  uint16_t start, at_answer;
  int e, rc = 0;

  (void) arg;
  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  buf = fe_alloc (&fe, 1 << 20, 4096);
  meta = fe_alloc (&fe, 64 * N, 4096);
  tables = fe_alloc (&fe, 2048 * N, 4096);
  start = le16toh (__atomic_load_n (&fe.q[0].used->idx, __ATOMIC_ACQUIRE));
  for (unsigned r = 0; r < N; r++) {
    struct fe_seg s[128];
    uint64_t m = meta + r * 64;
    hdr (&fe, m, VIRTIO_BLK_T_IN, 0);
    s[0] = (struct fe_seg) { m, 16, false };
    for (unsigned i = 1; i < 127; i++)
      s[i] = (struct fe_seg) { buf, 1 << 20, true };
    s[127] = (struct fe_seg) { m + 32, 1, true };
    fe_chain (&fe, 0, (uint16_t) r, s, 128, tables + 2048 * r);
  }
  usleep (20000);
  e = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (set_fd (&fe, M_SET_VRING_CALL, 1, e) != 0)
    rc = hfail (h, "SET_VRING_CALL refused");
  at_answer = le16toh (__atomic_load_n (&fe.q[0].used->idx, __ATOMIC_ACQUIRE));
  close (e);
  if (rc == 0 && (uint16_t) (at_answer - start) >= N / 2)
    rc = hfail (h, "SET_VRING_CALL answered only once %u of %u reads of 126 MiB were done",
                (uint16_t) (at_answer - start), N);
  for (unsigned done = 0; done < N && rc == 0; done++) {
    uint32_t id, len;
    if (fe_used (&fe, 0, &id, &len, 60000) != 1)
      rc = hfail (h, "%u of %u reads completed", done, N);
    else if (*(uint8_t *) fe_ptr (&fe, meta + id * 64 + 32) != 0)
      rc = hfail (h, "read %u failed", id);
  }
  if (rc == 0)
    rc = queue_works (h, &fe, 0);
  return finish (h, &fe, rc);
}

/* ------------------------------------------------------------------------ */
/* Connections                                                               */

/* A client that connected and idles (or half-sent a message, @arg 1 and
 * 2), then another: the other one is served. */
static int
c_stale_client (struct hctx *h, int arg)
{
  struct fe a, b;
  int rc = 0;

  if (fe_init (&a, 1 << 20, 1, 16, 4096, false) < 0 || fe_dial (&a, h->sock, 5000) < 0)
    return hfail (h, "dial: %s", a.err);
  if (arg == 1)
    (void) !send (a.sock, "\x01\0\0\0\x01", 5, MSG_NOSIGNAL);      /* half a header */
  else if (arg == 2)
    (void) !send (a.sock, "\x18\0\0\0\x01\0\0\0\x40\0\0\0abcd", 16, MSG_NOSIGNAL);
  usleep (100000);
  if (attach_mem (h, &b, 2, 128, 16 << 20) < 0)
    rc = -1;
  else if (queue_works (h, &b, 0) < 0)
    rc = -1;
  fe_close (&a);
  return finish (h, &b, rc);
}

/* A client with running rings stalls in the middle of a message: it is
 * dropped after the timeout, and the next one is served. */
static int
c_stall_with_rings (struct hctx *h, int arg)
{
  struct fe a, b;
  int rc = 0;

  if (attach (h, &a, 2, 128) < 0)
    return -1;
  if (arg == 0) {
    (void) !send (a.sock, "\x0b\0\0\0\x01\0", 6, MSG_NOSIGNAL);
  } else {
    /* a byte at a time, slower than the timeout allows */
    for (unsigned i = 0; i < 3 + h->timeout_s * 4 && !hung_up (&a, 0); i++) {
      (void) !send (a.sock, "\x01", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      usleep (250000);
    }
  }
  if (!hung_up (&a, (int) h->timeout_s * 1000 + 2000))
    rc = hfail (h, "a stalled client was not dropped");
  else if (attach_mem (h, &b, 2, 128, 16 << 20) < 0)
    rc = -1;
  else
    rc = queue_works (h, &b, 1);
  fe_close (&a);
  if (rc < 0)
    return rc;
  return finish (h, &b, 0);
}

/* A client that never reads its replies: dropped when they pile up,
 * while it is still there. */
static int
c_replies_not_read (struct hctx *h, int arg)
{
  struct fe a, b;
  struct { uint32_t r, f, s; } m = { M_GET_FEATURES, 1, 0 };
  int rc = 0;

  (void) arg;
  if (attach (h, &a, 1, 128) < 0)
    return -1;
  /* until the backend stops reading */
  for (unsigned i = 0; i < 4; i++) {
    for (unsigned n = 0; n < 400000; n++)
      if (send (a.sock, &m, sizeof (m), MSG_NOSIGNAL | MSG_DONTWAIT) != sizeof (m))
        break;
    usleep (50000);
  }
  if (attach_mem (h, &b, 1, 128, 16 << 20) < 0)
    rc = -1;
  else
    rc = queue_works (h, &b, 0);
  fe_close (&a);
  return finish (h, &b, rc);
}

/* A client with running rings keeps the device: a new one waits until
 * it leaves, then is served. */
static int
c_running_keeps_device (struct hctx *h, int arg)
{
  struct fe a, b;
  uint64_t features = 0;
  int rc = 0;

  (void) arg;
  if (attach (h, &a, 2, 128) < 0)
    return -1;
  if (fe_init (&b, 16 << 20, 2, 128, 16384, false) < 0 || fe_dial (&b, h->sock, 5000) < 0) {
    fe_close (&a);
    return hfail (h, "dial: %s", b.err);
  }
  fe_raw (&b, M_GET_FEATURES, 0, NULL, 0, -1, NULL, 0);
  {
    struct pollfd p = { b.sock, POLLIN, 0 };
    if (poll (&p, 1, 300) != 0)
      rc = hfail (h, "a connection with running rings was replaced");
  }
  if (rc == 0 && queue_works (h, &a, 0) < 0)
    rc = -1;
  fe_stop (&a);
  fe_close (&a);
  if (rc == 0 && fe_reply (&b, M_GET_FEATURES, &features, 8, NULL) < 0)
    rc = hfail (h, "the waiting connection was not served: %s", b.err);
  return finish (h, &b, rc);
}

/* Many connections opened and closed, some in the middle of I/O. */
static int
c_connection_churn (struct hctx *h, int arg)
{
  (void) arg;
  for (unsigned i = 0; i < 30; i++) {
    struct fe fe;
    if (fe_init (&fe, 4 << 20, 2, 64, 4096, false) < 0)
      return hfail (h, "%s", fe.err);
    if (i % 3 == 0) {
      if (fe_dial (&fe, h->sock, 5000) < 0)
        return hfail (h, "dial %u: %s", i, fe.err);
    } else if (fe_connect (&fe, h->sock, 5000, WANT) < 0) {
      return hfail (h, "connect %u: %s", i, fe.err);
    } else if (i % 3 == 2) {
      for (int slot; (slot = fe_slot_get (&fe, 0)) >= 0;)
        fe_submit (&fe, 0, (unsigned) slot, VIRTIO_BLK_T_IN, (uint64_t) slot * 8, 4096, 0);
      fe_kick (&fe, 0);
    }
    fe_close (&fe);
  }
  return idle (h);
}

/* Descriptors on messages that take none, and more than a message may
 * carry: all closed. */
static int
c_stray_fds (struct hctx *h, int arg)
{
  struct fe fe;
  int fds[FE_MAX_FDS], rc = 0;
  uint64_t f;

  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  for (unsigned i = 0; i < FE_MAX_FDS; i++)
    fds[i] = memfd_of (4096);
  if (arg == 0) {
    fe_raw_fds (&fe, M_GET_FEATURES, 0, NULL, 0, fds, FE_MAX_FDS);
    if (fe_reply (&fe, M_GET_FEATURES, &f, 8, NULL) < 0)
      rc = hfail (h, "GET_FEATURES with descriptors: %s", fe.err);
    else
      rc = queue_works (h, &fe, 0);
  } else {
    /* 16 descriptors, twice what a message may carry: that connection ends */
    int more[16];
    for (unsigned i = 0; i < 16; i++)
      more[i] = fds[i % FE_MAX_FDS];
    {
      struct { uint32_t r, f, s; } m = { M_GET_FEATURES, 1, 0 };
      struct iovec iov = { &m, sizeof (m) };
      char control[CMSG_SPACE (sizeof (more))] = { 0 };
      struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                           .msg_controllen = sizeof (control) };
      struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN (sizeof (more));
      memcpy (CMSG_DATA (cm), more, sizeof (more));
      sendmsg (fe.sock, &mh, MSG_NOSIGNAL);
    }
    if (!hung_up (&fe, 1000))
      rc = hfail (h, "a message with 16 descriptors was taken");
  }
  for (unsigned i = 0; i < FE_MAX_FDS; i++)
    close (fds[i]);
  return finish (h, &fe, rc);
}

/* Memory tables replaced over and over, and all 32 slots then one more. */
static int
c_memory_churn (struct hctx *h, int arg)
{
  struct fe fe;
  int rc = 0;

  if (attach (h, &fe, 2, 128) < 0)
    return -1;
  if (arg == 0) {
    struct { uint32_t n, pad; struct region r; } __attribute__ ((packed)) m = {
      1, 0, { 0, MEM, uva (&fe, 0), 0 } };
    for (unsigned i = 0; i < 100 && rc == 0; i++)
      if (try_msg (&fe, M_SET_MEM_TABLE, &m, sizeof (m), &fe.memfd, 1) != 0)
        rc = hfail (h, "SET_MEM_TABLE %u refused", i);
    if (rc == 0)
      rc = queue_works (h, &fe, 0);
  } else {
    int fd = memfd_of (1 << 20);
    for (unsigned i = 1; i <= 32 && rc == 0; i++) {
      struct { uint64_t pad; struct region r; } __attribute__ ((packed)) m = {
        0, { MEM + (uint64_t) i * (1 << 20), 1 << 20, 0x7e0000000000ull + i * (1ull << 20), 0 } };
      int refused = try_msg (&fe, M_ADD_MEM_REG, &m, sizeof (m), &fd, 1);
      if (refused != (i == 32))     /* one slot is taken already */
        rc = hfail (h, "ADD_MEM_REG %u: %s", i, refused ? "refused" : "taken");
    }
    close (fd);
  }
  return finish (h, &fe, rc);
}

/* ------------------------------------------------------------------------ */

struct hcase {
  const char *name;
  int (*fn) (struct hctx *h, int arg);
  int arg;
  int errors;                     /* error lines it must log */
};

#define KINDS(name, fn)                                                           \
  { name " regular file", fn, F_FILE, 1 }, { name " pipe", fn, F_PIPE, 1 },       \
  { name " socket", fn, F_SOCKET, 1 }, { name " timerfd", fn, F_TIMERFD, 1 },     \
  { name " /dev/null", fn, F_DEVNULL, 1 }, { name " memfd", fn, F_MEMFD, 1 },     \
  { name " directory", fn, F_DIR, 1 }

#define REGIONS(name, fn)                                                         \
  { name " file shorter than the region", fn, R_FILE_SHORT, 1 },                  \
  { name " offset past the file", fn, R_OFFSET_PAST, 1 },                         \
  { name " region past the end of the file", fn, R_END_PAST, 1 },                 \
  { name " a pipe", fn, R_PIPE, 1 }, { name " an eventfd", fn, R_EVENTFD, 1 },    \
  { name " zero size", fn, R_ZERO, 1 }

static const struct hcase cases[] = {
  /* first: a fresh backend has no bounce buffer to reuse */
  { "no memory for a bounce buffer: a 100 MiB unaligned read", c_no_memory, 1, 0 },
  { "no memory for a bounce buffer: 40 unaligned 1 MiB reads at once", c_no_memory, 40, 0 },
  { "stale bounce buffer: aligned and 4097-byte reads after a bounced one", c_stale_bounce, 0, 0 },
  { "stale bounce buffer: across connections", c_stale_bounce_connections, 0, 0 },
  { "read larger than size_max x seg_max", c_over_size_max_read, 0, 0 },
  { "write larger than size_max x seg_max", c_over_size_max_write, 0, 0 },
  { "seg_max data descriptors", c_seg_max, 126, 0 },
  { "seg_max + 1 data descriptors", c_seg_max, 127, 0 },
  { "chain of 300 descriptors", c_long_chain, 0, 0 },
  { "indirect table of 300 descriptors", c_long_chain, 1, 0 },
  { "unaligned 32 MiB read", c_big_unaligned_read, 0, 0 },
  { "40 unaligned 512 KiB reads at once", c_many_unaligned, 0, 0 },
  { "40 unaligned 512 KiB writes at once", c_many_unaligned, 1, 0 },
  { "SET_INFLIGHT_FD too small for running rings", c_inflight_while_running, 4, 2 },
  { "SET_INFLIGHT_FD that fits running rings", c_inflight_while_running, 1024, 0 },
  { "inflight region past the end of its file", c_inflight_past_file, 0, 1 },
  { "inflight region offset past its file", c_inflight_offset_past_file, 0, 1 },
  { "inflight region in a pipe", c_inflight_not_a_file, 0, 1 },
  KINDS ("kick fd:", c_bad_kick),
  KINDS ("call fd:", c_bad_call),
  KINDS ("err fd:", c_bad_err),
  { "call fd: full blocking pipe", c_bad_call, F_FULL_PIPE, 1 },
  { "call fd: full blocking eventfd", c_full_call_eventfd, 0, 0 },
  { "err fd: full blocking eventfd, ring broken", c_full_err_eventfd, 0, 1 },
  { "kick fd: full eventfd", c_full_kick_eventfd, 0, 0 },
  { "call fd: none (the guest polls)", c_no_call_fd, 0, 0 },
  { "kick fd: none (the driver never kicks)", c_no_kick_fd, 0, 0 },
  REGIONS ("SET_MEM_TABLE:", c_bad_mem_table),
  REGIONS ("ADD_MEM_REG:", c_bad_mem_reg),
  { "guest memory shrunk to nothing under running rings", c_shrink_all, 0, 1 },
  { "data memory shrunk: direct read", c_shrink_data, 0, 0 },
  { "data memory shrunk: unaligned read", c_shrink_data, 1, 1 },
  { "data memory shrunk: direct write", c_shrink_data, 2, 0 },
  { "data memory shrunk: unaligned write", c_shrink_data, 3, 1 },
  { "data memory shrunk and grown back", c_shrink_data, 4, 0 },
  { "guest memory shrunk before the rings start", c_shrink_before_start, 0, 1 },
  { "inflight region shrunk under a running ring", c_shrink_inflight, 0, 1 },
  { "dirty log smaller than guest memory", c_log_smaller_than_memory, 0, 1 },
  { "dirty log past the end of its file", c_log_past_file, 0, 1 },
  { "dirty log offset past its file", c_log_offset_past_file, 0, 1 },
  { "dirty log that fits", c_log_good, 0, 0 },
  { "dirty log shrunk while logging", c_log_shrunk, 0, 1 },
  { "dirty log: a refused request with 126 descriptors over all memory", c_log_refused_request, 0, 0 },
  { "memory added past the dirty log", c_memory_past_log, 0, 1 },
  { "descriptor table outside guest memory", c_ring_outside, 0, 1 },
  { "avail ring outside guest memory", c_ring_outside, 1, 1 },
  { "used ring across the end of guest memory", c_ring_outside, 2, 1 },
  { "memory removed under running rings", c_memory_removed, 0, 2 },
  { "ring resized while running", c_ring_size_while_running, 0, 1 },
  { "RESET_DEVICE while running, then a new start", c_reset_while_running, 0, 0 },
  { "requests while disabled, then enabled", c_enable_later, 0, 0 },
  { "chain: loop", c_bad_chain, K_LOOP, 1 },
  { "chain: next past the table", c_bad_chain, K_NEXT_PAST, 1 },
  { "chain: outside guest memory", c_bad_chain, K_OUTSIDE, 1 },
  { "chain: huge length", c_bad_chain, K_HUGE_LEN, 1 },
  { "chain: nested indirect", c_bad_chain, K_NESTED_INDIRECT, 1 },
  { "chain: indirect table of 20 bytes", c_bad_chain, K_INDIRECT_LEN, 1 },
  { "chain: indirect table outside memory", c_bad_chain, K_INDIRECT_OUTSIDE, 1 },
  { "chain: readable after writable", c_bad_chain, K_READ_AFTER_WRITE, 1 },
  { "chain: avail index jump", c_bad_chain, K_AVAIL_JUMP, 1 },
  { "chain: head past the ring", c_bad_chain, K_HEAD_PAST, 1 },
  { "chain: address wraps", c_bad_chain, K_WRAP_ADDR, 1 },
  { "chain: loop in an indirect table", c_bad_chain, K_INDIRECT_LOOP, 1 },
  { "empty descriptors between data pieces", c_empty_descriptors, 0, 0 },
  { "a full ring of requests that finish at once: published in batches", c_ring_kept_full, 0, 0 },
  { "SET_VRING_CALL while 4 GiB of reads are in flight: answered at once", c_call_fd_during_io, 0, 0 },
  { "odd requests: no header, short header, no status, 1-byte id, disk end, unknown type, "
    "split header", c_odd_requests, 0, 0 },
  { "idle client, then another", c_stale_client, 0, 0 },
  { "client stuck in a header, then another", c_stale_client, 1, 1 },
  { "client stuck in a payload, then another", c_stale_client, 2, 1 },
  { "client with running rings stuck in a message", c_stall_with_rings, 0, 1 },
  { "client with running rings sending a byte at a time", c_stall_with_rings, 1, 1 },
  { "client that never reads its replies", c_replies_not_read, 0, 1 },
  { "client with running rings keeps the device", c_running_keeps_device, 0, 0 },
  { "30 connections, some dropped during I/O", c_connection_churn, 0, -1 },
  { "descriptors on GET_FEATURES", c_stray_fds, 0, 0 },
  { "16 descriptors on one message", c_stray_fds, 1, 1 },
  { "SET_MEM_TABLE 100 times", c_memory_churn, 0, 0 },
  { "ADD_MEM_REG past 32 slots", c_memory_churn, 1, 1 },
};

/* The backend's error lines since byte @at of its log. */
static int
log_errors (struct hctx *h, long at, char *last, size_t len)
{
  FILE *f = fopen (h->log, "r");
  char line[1024];
  int n = 0;

  if (f == NULL)
    return -1;
  fseek (f, at, SEEK_SET);
  while (fgets (line, sizeof (line), f))
    if (strstr (line, ": error: ")) {
      n++;
      snprintf (last, len, "%s", line);
      last[strcspn (last, "\n")] = '\0';
    }
  fclose (f);
  return n;
}

static long
log_size (struct hctx *h)
{
  struct stat st;

  return stat (h->log, &st) == 0 ? (long) st.st_size : 0;
}

/* A well-behaved front-end on @sock writes and reads back on two queues. */
static int
canary (struct hctx *h, const char *sock, bool ours)
{
  struct fe fe;
  int rc = 0;

  if (fe_init (&fe, 16 << 20, 2, 128, 16384, false) < 0 || fe_connect (&fe, sock, 5000, WANT) < 0)
    return hfail (h, "%s: a new front-end is not served: %s",
                  ours ? "this disk" : "another disk", fe.err);
  for (unsigned q = 0; q < 2 && rc == 0; q++) {
    static uint8_t buf[16384], back[16384];
    uint64_t sector = (ours ? CANARY_SECTOR : 1024) + q * 64;
    fe_pattern (buf, sizeof (buf), fe_now_ns ());
    if (fe_sync (&fe, q, VIRTIO_BLK_T_OUT, sector, buf, sizeof (buf), NULL, NULL) != 0
        || fe_sync (&fe, q, VIRTIO_BLK_T_IN, sector, NULL, sizeof (buf), back, NULL) != 0
        || memcmp (buf, back, sizeof (buf)) || (ours && !disk_is (h, sector * 512, buf, sizeof (buf))))
      rc = hfail (h, "%s: queue %u of a new front-end fails or reads wrong data",
                  ours ? "this disk" : "another disk", q);
  }
  fe_stop (&fe);
  fe_close (&fe);
  return rc;
}

/* Waits up to @ms for @pid's descriptors to be back to @want. */
static unsigned
settle_fds (pid_t pid, unsigned want, int ms)
{
  unsigned n = fd_count (pid);

  for (int t = 0; t < ms && n > want; t += 20) {
    usleep (20000);
    n = fd_count (pid);
  }
  return n;
}

static bool
selected (const char *name, char **only, int n_only)
{
  if (n_only == 0)
    return true;
  for (int i = 0; i < n_only; i++)
    if (strstr (name, only[i]))
      return true;
  return false;
}

int hostile (const char *socket, const char *other, pid_t pid, const char *log, const char *file,
             unsigned timeout_s, char **only, int n_only);

int
hostile (const char *socket, const char *other, pid_t pid, const char *log, const char *file,
         unsigned timeout_s, char **only, int n_only)
{
  struct hctx h = { socket, other, pid, log, -1, 0, timeout_s ? timeout_s : 5, "" };
  unsigned fds0, failed = 0, n = 0;
  uint64_t rss0;
  struct stat st;

  if (!pid || !log || !file || !other) {
    fprintf (stderr, "vdp-blk-client hostile: --pid, --log, --file and --other are required\n");
    return 2;
  }
  h.disk = open (file, O_RDONLY | O_CLOEXEC);
  if (h.disk < 0 || fstat (h.disk, &st) < 0) {
    fprintf (stderr, "vdp-blk-client hostile: %s: %s\n", file, strerror (errno));
    return 2;
  }
  h.disk_size = (uint64_t) st.st_size;
  signal (SIGPIPE, SIG_IGN);
  if (canary (&h, socket, true) < 0) {
    fprintf (stderr, "vdp-blk-client hostile: %s\n", h.why);
    return 2;
  }
  fds0 = settle_fds (pid, 0, 0);
  rss0 = fe_proc_kib (pid, "VmRSS");
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
    const struct hcase *c = &cases[i];
    char last[1024] = "";
    long at;
    int rc, errors;
    unsigned fds;
    uint64_t rss;

    if (!selected (c->name, only, n_only))
      continue;
    n++;
    at = log_size (&h);
    h.why[0] = '\0';
    rc = c->fn (&h, c->arg);
    if (!alive (pid)) {
      char why[sizeof (h.why)];
      snprintf (why, sizeof (why), "%s", h.why);
      rc = hfail (&h, "the backend died%s%s%s", why[0] ? " (" : "", why, why[0] ? ")" : "");
    }
    else if (rc == 0)
      rc = canary (&h, socket, true);
    if (rc == 0)
      rc = canary (&h, other, false);
    if (rc == 0 && (fds = settle_fds (pid, fds0, 3000)) > fds0)
      rc = hfail (&h, "the backend holds %u more descriptors", fds - fds0);
    if (rc == 0 && (rss = fe_proc_kib (pid, "VmRSS")) > rss0 + (16 << 10))
      rc = hfail (&h, "the backend's memory grew by %llu KiB and stayed",
                  (unsigned long long) (rss - rss0));
    errors = log_errors (&h, at, last, sizeof (last));
    if (rc == 0 && c->errors >= 0 && errors != c->errors)
      rc = hfail (&h, "%d error lines logged, expected %d%s%s", errors, c->errors,
                  errors ? ", last: " : "", last);
    if (rc == 0) {
      printf ("ok %s\n", c->name);
      if (errors > 0)
        printf ("# logged: %s\n", last);
    } else {
      printf ("not ok %s: %s\n", c->name, h.why);
      failed++;
      if (!alive (pid)) {
        printf ("# the backend is gone: the remaining cases are not run\n");
        break;
      }
    }
    fflush (stdout);
  }
  printf ("# %u cases, %u failed\n", n, failed);
  close (h.disk);
  return failed ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Layouts                                                                   */

/* One descriptor of a layout: @len bytes at @skew from a fresh 4 KiB
 * boundary (or right after the previous one when @follow), readable or
 * writable.  The request's bytes run through them in order: for a read,
 * header, then data and status; for a write, header and data, then
 * status. */
struct ldesc {
  uint32_t len;
  uint32_t skew;
  bool write, follow;
};

struct layout {
  const char *name;
  bool write;
  bool indirect;
  bool across;                    /* placed across the boundary of two memory regions */
  bool bounce;                    /* some data piece is not 512-aligned */
  struct ldesc d[12];
};

#define H { 16, 0, false, false }
#define S { 1, 100, true, false }

static const struct layout layouts[] = {
  { "read: aligned", false, false, false, false, { H, { 4096, 0, true, false }, S } },
  { "read: aligned, status aligned", false, false, false, false,
    { H, { 4096, 0, true, false }, { 1, 0, true, false } } },
  { "read: data and status in one descriptor", false, false, false, false,
    { H, { 4097, 0, true, false } } },
  { "read: data and status in one, unaligned", false, false, false, true,
    { H, { 4097, 1, true, false } } },
  { "read: unaligned by 1", false, false, false, true, { H, { 4096, 1, true, false }, S } },
  { "read: unaligned by 8", false, false, false, true, { H, { 65536, 8, true, false }, S } },
  { "read: multi-segment aligned", false, false, false, false,
    { H, { 512, 0, true, false }, { 1024, 512, true, false }, { 2048, 0, true, false },
      { 512, 3584, true, false }, S } },
  { "read: multi-segment odd sizes", false, false, false, true,
    { H, { 100, 0, true, false }, { 412, 7, true, false }, { 1000, 0, true, true },
      { 24, 0, true, false }, { 512, 9, true, false }, S } },
  /* empty descriptors, at unaligned addresses, between data pieces: they
   * hold no data, so nothing needs bouncing */
  { "read: multi-segment with empty pieces", false, false, false, false,
    { H, { 2048, 0, true, false }, { 0, 5, true, false }, { 2048, 0, true, false }, S,
      { 0, 3, true, false } } },
  { "read: indirect aligned", false, true, false, false,
    { H, { 8192, 0, true, false }, S } },
  { "read: indirect multi-segment unaligned", false, true, false, true,
    { H, { 1536, 3, true, false }, { 2560, 0, true, true }, S } },
  { "read: across two memory regions", false, false, true, false,
    { H, { 65536, 0, true, false }, S } },
  { "read: across two memory regions, unaligned", false, false, true, true,
    { H, { 65536, 2, true, false }, S } },
  { "read: 1 MiB in 256 KiB pieces", false, false, false, false,
    { H, { 262144, 0, true, false }, { 262144, 0, true, false }, { 262144, 0, true, false },
      { 262144, 0, true, false }, S } },
  { "read: 1 MiB + 4 KiB unaligned", false, false, false, true,
    { H, { (1 << 20) + 4096, 40, true, false }, S } },
  { "read: 512 bytes", false, false, false, false, { H, { 512, 0, true, false }, S } },
  { "read: header in two descriptors", false, false, false, false,
    { { 8, 0, false, false }, { 8, 0, false, true }, { 4096, 0, true, false }, S } },
  { "write: aligned", true, false, false, false, { H, { 4096, 0, false, false }, S } },
  { "write: header and data in one descriptor", true, false, false, true,
    { { 16 + 4096, 0, false, false }, S } },
  { "write: unaligned by 1", true, false, false, true, { H, { 4096, 1, false, false }, S } },
  { "write: multi-segment aligned", true, false, false, false,
    { H, { 512, 0, false, false }, { 3584, 512, false, false }, S } },
  { "write: multi-segment odd sizes", true, false, false, true,
    { H, { 300, 0, false, false }, { 724, 5, false, false }, { 3072, 0, false, true }, S } },
  { "write: indirect", true, true, false, false, { H, { 8192, 0, false, false }, S } },
  { "write: indirect unaligned", true, true, false, true, { H, { 8192, 24, false, false }, S } },
  { "write: across two memory regions", true, false, true, false,
    { H, { 65536, 0, false, false }, S } },
  { "write: 1 MiB + 4 KiB unaligned", true, false, false, true,
    { H, { (1 << 20) + 4096, 40, false, false }, S } },
};

#undef H
#undef S

/* Runs @l at @sector on @fe's queue 0; compares with the file. */
static int
run_layout (struct hctx *h, struct fe *fe, const struct layout *l, uint64_t sector, uint64_t *base)
{
  struct fe_seg s[12];
  unsigned n = 0;
  uint64_t at = *base, data_len = 0, total = 0, table = 0;
  uint8_t *want;
  size_t off = 0;
  int st;

  for (; n < 12 && (l->d[n].len || l->d[n].skew || l->d[n].write); n++) {
    const struct ldesc *d = &l->d[n];
    if (!d->follow)
      at = (at + 4095) / 4096 * 4096 + 4096 + d->skew;
    s[n] = (struct fe_seg) { at, d->len, d->write };
    at += d->len;
    total += d->len;
  }
  *base = (at + 4095) / 4096 * 4096 + 4096;
  data_len = total - 16 - 1;
  want = malloc (data_len + 16);
  if (l->write) {
    /* header and data through the readable pieces */
    uint8_t *bytes = malloc (total);
    struct virtio_blk_outhdr o = { htole32 (VIRTIO_BLK_T_OUT), 0, htole64 (sector) };
    memcpy (bytes, &o, 16);
    fe_pattern (bytes + 16, data_len, sector ^ fe_now_ns ());
    memcpy (want, bytes + 16, data_len);
    for (unsigned i = 0; i < n; i++)
      if (!s[i].write) {
        memcpy (fe_ptr (fe, s[i].gpa), bytes + off, s[i].len);
        off += s[i].len;
      }
    free (bytes);
  } else {
    struct virtio_blk_outhdr o = { htole32 (VIRTIO_BLK_T_IN), 0, htole64 (sector) };
    for (unsigned i = 0; i < n; i++) {
      if (!s[i].write) {
        memcpy (fe_ptr (fe, s[i].gpa), (uint8_t *) &o + off, s[i].len);
        off += s[i].len;
      } else {
        memset (fe_ptr (fe, s[i].gpa), 0xa5, s[i].len);
      }
    }
  }
  if (l->indirect) {
    table = *base;
    *base += 4096;
  }
  st = request (fe, 0, 0, s, n, table, WAIT_MS);
  if (st != 0) {
    free (want);
    return hfail (h, "status %d", st);
  }
  if (!l->write) {
    /* gather the data from the writable pieces */
    off = 0;
    for (unsigned i = 0; i < n && off < data_len; i++)
      if (s[i].write) {
        size_t k = s[i].len < data_len - off ? s[i].len : data_len - off;
        memcpy (want + off, fe_ptr (fe, s[i].gpa), k);
        off += k;
      }
  }
  if (!disk_is (h, sector * 512, want, data_len)) {
    free (want);
    return hfail (h, "%s bytes differ from the file's", l->write ? "written" : "read");
  }
  free (want);
  return 0;
}

int layouts_check (const char *socket, const char *file);

int
layouts_check (const char *socket, const char *file)
{
  struct hctx h = { socket, NULL, 0, NULL, -1, 0, 5, "" };
  struct fe fe;
  unsigned failed = 0, bounces = 0;
  uint64_t sector = 2048;

  h.disk = open (file, O_RDONLY | O_CLOEXEC);
  if (h.disk < 0) {
    fprintf (stderr, "vdp-blk-client layouts: %s: %s\n", file, strerror (errno));
    return 2;
  }
  for (size_t i = 0; i < sizeof (layouts) / sizeof (layouts[0]); i++) {
    const struct layout *l = &layouts[i];
    uint64_t base;
    /* a fresh connection per layout; memory in two regions meeting at
     * 16 MiB when the layout goes across */
    if (fe_init (&fe, 32 << 20, 1, 128, 4096, false) < 0)
      return 2;
    if (l->across)
      fe.split = 16 << 20;
    if (fe_connect (&fe, socket, 5000, WANT) < 0) {
      fprintf (stderr, "vdp-blk-client layouts: %s\n", fe.err);
      return 2;
    }
    base = l->across ? (16 << 20) - 8192 - 4096 : 8 << 20;
    if (run_layout (&h, &fe, l, sector, &base) < 0) {
      printf ("not ok layout %s: %s\n", l->name, h.why);
      failed++;
    } else {
      printf ("ok layout %s\n", l->name);
    }
    bounces += l->bounce;
    sector += 4096;
    fe_stop (&fe);
    fe_close (&fe);
  }
  printf ("# %zu layouts, %u failed; bounced=%u\n", sizeof (layouts) / sizeof (layouts[0]), failed,
          bounces);
  close (h.disk);
  return failed ? 1 : 0;
}
