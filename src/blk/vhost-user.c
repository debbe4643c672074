/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vhost-user control plane: one front-end connection, its messages and their answers. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"
#include "vhost-user.h"

#define BIT(n) (1ull << (n))
#define VU_CONFIG_HDR offsetof (struct vu_config_payload, region)

static int
refuse (struct vu_dev *dev, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static int
refuse (struct vu_dev *dev, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (dev->error, sizeof (dev->error), fmt, ap);
  va_end (ap);
  return -1;
}

void
vu_dev_init (struct vu_dev *dev, int fd)
{
  memset (dev, 0, sizeof (*dev));
  dev->fd = fd;
  dev->slave_fd = -1;
  for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
    vq_init (&dev->vqs[i], i, &dev->mem, &dev->log);
}

static void close_fds (struct vu_msg *msg);

/* Unmaps a mapping of a front-end's file (NULL: none). */
static void
unmap (void *addr, uint64_t size)
{
  if (addr == NULL)
    return;
  blk_fault_unwatch (addr);
  munmap (addr, size);
}

static void
unmap_region (struct vu_region *r)
{
  unmap (r->mmap_addr, r->mmap_size);
  memset (r, 0, sizeof (*r));
}

static void
unmap_all (struct vu_dev *dev)
{
  for (unsigned i = 0; i < dev->mem.n; i++)
    unmap_region (&dev->mem.r[i]);
  dev->mem.n = 0;
}

static void
unmap_log (struct vu_dev *dev)
{
  unmap (dev->log.mmap_addr, dev->log.mmap_size);
  memset (&dev->log, 0, sizeof (dev->log));
}

static void
unmap_inflight (struct vu_dev *dev)
{
  unmap (dev->inflight_addr, dev->inflight_size);
  dev->inflight_addr = NULL;
  dev->inflight_size = 0;
  dev->inflight_queue_size = 0;
  for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
    dev->vqs[i].inflight = NULL;
    dev->vqs[i].inflight_n = 0;
  }
}

static void
reset_rings (struct vu_dev *dev)
{
  for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
    vq_reset (&dev->vqs[i]);
}

void
vu_dev_reset (struct vu_dev *dev)
{
  if (dev->slave_fd >= 0)
    close (dev->slave_fd);
  dev->slave_fd = -1;
  reset_rings (dev);
  unmap_inflight (dev);
  unmap_log (dev);
  unmap_all (dev);
}

/* Maps [0, @offset + @len) of the front-end's file @fd (consumed), after
 * checking that the file is that long: touching a page past its end is a
 * SIGBUS.  The mapping is watched, so that the file shrinking later is a
 * fault the touching thread recovers from (fault.h).  Returns the
 * mapping, or NULL (refused, dev->error says why). */
static void *
map_shared (struct vu_dev *dev, const char *what, int fd, uint64_t offset, uint64_t len)
{
  struct stat st;
  void *addr;

  if (fstat (fd, &st) < 0) {
    refuse (dev, "%s: %s", what, strerror (errno));
    goto fail;
  }
  if (!S_ISREG (st.st_mode)) {
    refuse (dev, "%s: the descriptor is not a file (a memfd, or a file on tmpfs or hugetlbfs)",
            what);
    goto fail;
  }
  if ((uint64_t) st.st_size < offset || (uint64_t) st.st_size - offset < len) {
    refuse (dev, "%s: %llu bytes at offset %llu, but the file has %llu", what,
            (unsigned long long) len, (unsigned long long) offset,
            (unsigned long long) st.st_size);
    goto fail;
  }
  addr = mmap (NULL, offset + len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  close (fd);
  if (addr == MAP_FAILED) {
    refuse (dev, "%s: map: %s", what, strerror (errno));
    return NULL;
  }
  if (blk_fault_watch (addr, offset + len) < 0) {
    munmap (addr, offset + len);
    refuse (dev, "%s: too many mappings", what);
    return NULL;
  }
  return addr;

fail:
  close (fd);
  return NULL;
}

/* Whether a dirty log of @bytes has a bit for every page below @end. */
static bool
log_covers (uint64_t bytes, uint64_t end)
{
  return bytes >= UINT64_MAX / (8 * VU_LOG_PAGE) || end <= bytes * 8 * VU_LOG_PAGE;
}

/* Maps @fd as region @desc into @r; the fd is consumed. */
static int
map_region (struct vu_dev *dev, const struct vu_mem_region *desc, int fd, struct vu_region *r)
{
  char what[64];
  void *addr;
  uint64_t total;

  if (desc->memory_size == 0 || desc->mmap_offset > UINT64_MAX - desc->memory_size
      || desc->guest_phys_addr > UINT64_MAX - desc->memory_size
      || desc->userspace_addr > UINT64_MAX - desc->memory_size) {
    close (fd);
    return refuse (dev, "memory region at 0x%llx: size 0x%llx out of range",
                   (unsigned long long) desc->guest_phys_addr,
                   (unsigned long long) desc->memory_size);
  }
  if (dev->log.base && !log_covers (dev->log.size, desc->guest_phys_addr + desc->memory_size)) {
    close (fd);
    return refuse (dev, "memory region at 0x%llx of 0x%llx bytes: past the end of the dirty log "
                   "(%llu bytes)", (unsigned long long) desc->guest_phys_addr,
                   (unsigned long long) desc->memory_size, (unsigned long long) dev->log.size);
  }
  snprintf (what, sizeof (what), "memory region at 0x%llx",
            (unsigned long long) desc->guest_phys_addr);
  total = desc->mmap_offset + desc->memory_size;
  addr = map_shared (dev, what, fd, desc->mmap_offset, desc->memory_size);
  if (addr == NULL)
    return -1;
  r->gpa = desc->guest_phys_addr;
  r->size = desc->memory_size;
  r->uva = desc->userspace_addr;
  r->mmap_offset = desc->mmap_offset;
  r->mmap_addr = addr;
  r->mmap_size = total;
  return 0;
}

static int
set_mem_table (struct vu_dev *dev, struct vu_msg *msg)
{
  const struct vu_mem_table *t = &msg->payload.mem;
  struct vu_region fresh[VU_MAX_MEM_REGIONS];
  unsigned n;

  if (msg->hdr.size < offsetof (struct vu_mem_table, regions)
      || t->nregions > VU_MAX_MEM_REGIONS
      || msg->hdr.size < offsetof (struct vu_mem_table, regions) + t->nregions * sizeof (t->regions[0])
      || msg->n_fds != t->nregions) {
    close_fds (msg);
    return refuse (dev, "SET_MEM_TABLE: malformed (%u regions, %u descriptors)",
                   msg->hdr.size >= 4 ? t->nregions : 0, msg->n_fds);
  }
  memset (fresh, 0, sizeof (fresh));
  for (n = 0; n < t->nregions; n++) {
    int fd = msg->fds[n];
    msg->fds[n] = -1;
    if (map_region (dev, &t->regions[n], fd, &fresh[n]) < 0) {
      for (unsigned k = 0; k < n; k++)
        unmap_region (&fresh[k]);
      close_fds (msg);
      return -1;
    }
  }
  msg->n_fds = 0;
  /* the new table replaces the old one whole */
  unmap_all (dev);
  memcpy (dev->mem.r, fresh, sizeof (fresh));
  dev->mem.n = t->nregions;
  return 0;
}

static int
add_mem_reg (struct vu_dev *dev, struct vu_msg *msg)
{
  int fd;

  if (msg->hdr.size != sizeof (struct vu_mem_reg) || msg->n_fds != 1) {
    close_fds (msg);
    return refuse (dev, "ADD_MEM_REG: malformed");
  }
  if (dev->mem.n >= VU_MAX_MEM_SLOTS) {
    close_fds (msg);
    return refuse (dev, "ADD_MEM_REG: all %d slots are in use", VU_MAX_MEM_SLOTS);
  }
  fd = msg->fds[0];
  msg->n_fds = 0;
  if (map_region (dev, &msg->payload.reg.region, fd, &dev->mem.r[dev->mem.n]) < 0)
    return -1;
  dev->mem.n++;
  return 0;
}

static int
rem_mem_reg (struct vu_dev *dev, struct vu_msg *msg)
{
  const struct vu_mem_region *d = &msg->payload.reg.region;

  close_fds (msg);              /* QEMU may send the region's fd along */
  if (msg->hdr.size != sizeof (struct vu_mem_reg))
    return refuse (dev, "REM_MEM_REG: malformed");
  for (unsigned i = 0; i < dev->mem.n; i++) {
    struct vu_region *r = &dev->mem.r[i];
    if (r->gpa == d->guest_phys_addr && r->size == d->memory_size) {
      unmap_region (r);
      memmove (r, r + 1, (dev->mem.n - i - 1) * sizeof (*r));
      dev->mem.n--;
      memset (&dev->mem.r[dev->mem.n], 0, sizeof (*r));
      return 0;
    }
  }
  return refuse (dev, "REM_MEM_REG: no region at 0x%llx of 0x%llx bytes",
                 (unsigned long long) d->guest_phys_addr, (unsigned long long) d->memory_size);
}

static void
close_fds (struct vu_msg *msg)
{
  for (unsigned i = 0; i < msg->n_fds; i++)
    if (msg->fds[i] >= 0)
      close (msg->fds[i]);
  msg->n_fds = 0;
}

static uint64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

/* Reads exactly @len bytes by @deadline (ms, 0: no limit); fewer at end
 * of file, -1 on error or when the deadline passed (errno ETIMEDOUT). */
static ssize_t
read_full (int fd, void *buf, size_t len, uint64_t deadline)
{
  size_t got = 0;

  while (got < len) {
    ssize_t n;
    if (deadline) {
      struct pollfd p = { .fd = fd, .events = POLLIN };
      uint64_t now = now_ms ();
      int r = now < deadline ? poll (&p, 1, (int) (deadline - now)) : 0;
      if (r < 0 && errno == EINTR)
        continue;
      if (r == 0) {
        errno = ETIMEDOUT;
        return -1;
      }
    }
    n = read (fd, (char *) buf + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? -1 : (ssize_t) got;
    got += (size_t) n;
  }
  return (ssize_t) got;
}

/* Why a message stopped short: late, or the connection ended. */
static int
cut_short (struct vu_dev *dev, struct vu_msg *msg, const char *part)
{
  int e = errno;

  close_fds (msg);
  if (e == ETIMEDOUT)
    return refuse (dev, "message %u: its %s did not come within %u ms", msg->hdr.request, part,
                   dev->timeout_ms);
  return refuse (dev, "message %u: %s cut short", msg->hdr.request, part);
}

int
vu_recv (struct vu_dev *dev, struct vu_msg *msg)
{
  char control[CMSG_SPACE (VU_MAX_FDS * sizeof (int))];
  struct iovec iov = { &msg->hdr, sizeof (msg->hdr) };
  struct msghdr mh = { 0 };
  struct cmsghdr *cm;
  uint64_t deadline;
  ssize_t n;

  msg->n_fds = 0;
  memset (&msg->hdr, 0, sizeof (msg->hdr));
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof (control);
  do
    n = recvmsg (dev->fd, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n == 0)
    return 0;
  if (n < 0)
    return refuse (dev, "receive: %s", strerror (errno));
  deadline = dev->timeout_ms ? now_ms () + dev->timeout_ms : 0;
  for (cm = CMSG_FIRSTHDR (&mh); cm; cm = CMSG_NXTHDR (&mh, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
      unsigned k = (unsigned) ((cm->cmsg_len - CMSG_LEN (0)) / sizeof (int));
      memcpy (msg->fds + msg->n_fds, CMSG_DATA (cm), k * sizeof (int));
      msg->n_fds += k;
    }
  if (mh.msg_flags & MSG_CTRUNC) {
    close_fds (msg);
    return refuse (dev, "message %u carried more than %d descriptors", msg->hdr.request, VU_MAX_FDS);
  }
  if ((size_t) n < sizeof (msg->hdr)
      && read_full (dev->fd, (char *) &msg->hdr + n, sizeof (msg->hdr) - (size_t) n, deadline)
         != (ssize_t) (sizeof (msg->hdr) - (size_t) n))
    return cut_short (dev, msg, "header");
  if ((msg->hdr.flags & VU_VERSION_MASK) != VU_VERSION) {
    close_fds (msg);
    return refuse (dev, "message %u: protocol version %u, expected 1", msg->hdr.request,
                   msg->hdr.flags & VU_VERSION_MASK);
  }
  if (msg->hdr.size > VU_MAX_PAYLOAD) {
    close_fds (msg);
    return refuse (dev, "message %u: payload of %u bytes, at most %d", msg->hdr.request,
                   msg->hdr.size, VU_MAX_PAYLOAD);
  }
  if (msg->hdr.size
      && read_full (dev->fd, msg->payload.raw, msg->hdr.size, deadline) != (ssize_t) msg->hdr.size)
    return cut_short (dev, msg, "payload");
  return 1;
}

int
vu_send (int fd, const struct vu_msg *msg, int pass_fd)
{
  /* header and payload apart: the struct pads between them */
  struct iovec iov[2] = {
    { (void *) &msg->hdr, sizeof (msg->hdr) },
    { (void *) msg->payload.raw, msg->hdr.size },
  };
  struct msghdr mh = { .msg_iov = iov, .msg_iovlen = msg->hdr.size ? 2 : 1 };
  size_t len = sizeof (msg->hdr) + msg->hdr.size;
  char control[CMSG_SPACE (sizeof (int))];

  if (pass_fd >= 0) {
    struct cmsghdr *cm;
    memset (control, 0, sizeof (control));
    mh.msg_control = control;
    mh.msg_controllen = sizeof (control);
    cm = CMSG_FIRSTHDR (&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN (sizeof (int));
    memcpy (CMSG_DATA (cm), &pass_fd, sizeof (int));
  }
  while (len) {
    ssize_t n = sendmsg (fd, &mh, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    len -= (size_t) n;
    mh.msg_control = NULL;      /* the descriptor went with the first bytes */
    mh.msg_controllen = 0;
    /* a short write: skip what went */
    while (n > 0 && mh.msg_iovlen) {
      if ((size_t) n >= mh.msg_iov->iov_len) {
        n -= (ssize_t) mh.msg_iov->iov_len;
        mh.msg_iov++;
        mh.msg_iovlen--;
      } else {
        mh.msg_iov->iov_base = (char *) mh.msg_iov->iov_base + n;
        mh.msg_iov->iov_len -= (size_t) n;
        n = 0;
      }
    }
  }
  return 0;
}

static int
reply (struct vu_dev *dev, struct vu_msg *msg, uint32_t size)
{
  msg->hdr.flags = VU_VERSION | VU_FLAG_REPLY;
  msg->hdr.size = size;
  if (vu_send (dev->fd, msg, -1) < 0)
    return refuse (dev, "reply to message %u: %s", msg->hdr.request, strerror (errno));
  return 0;
}

static int
reply_u64 (struct vu_dev *dev, struct vu_msg *msg, uint64_t v)
{
  msg->payload.u64 = v;
  return reply (dev, msg, sizeof (uint64_t));
}

static bool
payload_is (struct vu_dev *dev, const struct vu_msg *msg, uint32_t size)
{
  if (msg->hdr.size == size)
    return true;
  refuse (dev, "message %u: payload of %u bytes, expected %u", msg->hdr.request,
          msg->hdr.size, size);
  return false;
}

/* Answers GET_CONFIG with exactly the bytes asked for (QEMU 7.2 rejects
 * any other size). */
static int
get_config (struct vu_dev *dev, struct vu_msg *msg)
{
  struct vu_config_payload *c = &msg->payload.config;
  uint32_t have = (uint32_t) sizeof (dev->config);

  if (msg->hdr.size < VU_CONFIG_HDR || c->size > VU_MAX_PAYLOAD - VU_CONFIG_HDR
      || msg->hdr.size != VU_CONFIG_HDR + c->size)
    return refuse (dev, "GET_CONFIG: malformed payload");
  memset (c->region, 0, c->size);
  if (c->offset < have)
    memcpy (c->region, (const uint8_t *) &dev->config + c->offset,
            c->size < have - c->offset ? c->size : have - c->offset);
  return reply (dev, msg, (uint32_t) VU_CONFIG_HDR + c->size);
}

/* SET_CONFIG: the guest may only toggle the write cache (wce). */
static int
set_config (struct vu_dev *dev, struct vu_msg *msg)
{
  struct vu_config_payload *c = &msg->payload.config;
  size_t wce = offsetof (struct virtio_blk_config, wce);

  if (msg->hdr.size < VU_CONFIG_HDR || msg->hdr.size != VU_CONFIG_HDR + c->size)
    return refuse (dev, "SET_CONFIG: malformed payload");
  if (c->offset == wce && c->size == 1 && (dev->features & BIT (VIRTIO_BLK_F_CONFIG_WCE))) {
    dev->config.wce = c->region[0] ? 1 : 0;
    return 0;
  }
  return refuse (dev, "SET_CONFIG: offset %u size %u is not writable", c->offset, c->size);
}

static struct vq *
ring_of (struct vu_dev *dev, const struct vu_msg *msg, unsigned index)
{
  if (index >= dev->max_queues) {
    refuse (dev, "message %u: queue %u, but only %u are offered", msg->hdr.request, index,
            dev->max_queues);
    return NULL;
  }
  return &dev->vqs[index];
}

static void
report_broken (struct vu_dev *dev, struct vq *vq)
{
  if (vq->broken)
    blk_log (BLK_LOG_ERROR, "%s; the queue is stopped", vq->why);
}

/* Runs @fn (vq_start, vq_inflight_adopt) on @vq, which touches front-end
 * memory: if that memory is gone (its file shrank), the ring is stopped
 * instead, logged (an error the first time for the connection).  Returns
 * what @fn does, or -2 after a fault. */
static int
guarded (struct vu_dev *dev, struct vq *vq, int (*fn) (struct vq *))
{
  sigjmp_buf env;
  int rc;

  if (sigsetjmp (env, 0)) {
    bool first = !__atomic_exchange_n (&dev->memory_lost, true, __ATOMIC_RELAXED);
    vq_fail (vq, "queue %u: front-end memory at %p is gone (its file shrank)", vq->index,
             blk_fault_addr ());
    blk_log (first ? BLK_LOG_ERROR : BLK_LOG_WARNING, "%s; the queue is stopped", vq->why);
    return -2;
  }
  blk_fault_arm (&env);
  rc = fn (vq);
  blk_fault_disarm ();
  return rc;
}

/* Starts @vq when it has all it needs: a kick (or a no-fd kick), size,
 * addresses and the memory they point into, whatever order they came in.
 * A ring the driver set up badly breaks; the connection goes on. */
static void
maybe_start (struct vu_dev *dev, struct vq *vq)
{
  if (!vq->kicked || vq->started || vq->refused_fds)
    return;
  if (!vq_mapped (vq)) {
    if (dev->mem.n == 0 || !vq->addr_set || vq->size == 0) {
      blk_log (BLK_LOG_DEBUG, "queue %u: kicked; waiting for its size, addresses or memory",
               vq->index);
    } else if (!vq->broken) {
      /* it starts if memory that holds it comes later */
      vq_fail (vq, "queue %u: ring addresses (desc 0x%llx, avail 0x%llx, used 0x%llx, size %u) "
               "are outside guest memory", vq->index, (unsigned long long) vq->desc_addr,
               (unsigned long long) vq->avail_addr, (unsigned long long) vq->used_addr, vq->size);
      report_broken (dev, vq);
    }
    return;
  }
  if (guarded (dev, vq, vq_start) == -1)
    report_broken (dev, vq);
  else if (vq->n_resubmit)
    blk_log (BLK_LOG_INFO, "queue %u: %u requests the previous backend left in flight run again",
             vq->index, vq->n_resubmit);
}

static void
apply_features (struct vu_dev *dev)
{
  uint64_t f = dev->acked_features;

  dev->log.active = (f & BIT (VU_F_LOG_ALL)) && dev->log.base;
  for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
    struct vq *vq = &dev->vqs[i];
    vq->event_idx = f & BIT (VIRTIO_RING_F_EVENT_IDX);
    vq->indirect = f & BIT (VIRTIO_RING_F_INDIRECT_DESC);
    vq->log_all = f & BIT (VU_F_LOG_ALL);
  }
}

/* Memory changed under the rings: translate them again. */
static void
remap_rings (struct vu_dev *dev)
{
  for (unsigned i = 0; i < dev->max_queues; i++) {
    struct vq *vq = &dev->vqs[i];
    if (vq->started && !vq->broken && vq_remap (vq) < 0)
      report_broken (dev, vq);
    else
      maybe_start (dev, vq);    /* kicked before its memory came */
  }
}

/* NULL when @fd is an eventfd, else what it is instead (in @buf). */
static const char *
not_eventfd (int fd, char *buf, size_t len)
{
  char path[64];
  struct stat st;
  ssize_t n;

  if (fstat (fd, &st) < 0)
    return strerror (errno);
  switch (st.st_mode & S_IFMT) {
  case 0:                       /* an anonymous inode: which kind, /proc says */
    break;
  case S_IFREG: return "a regular file";
  case S_IFIFO: return "a pipe";
  case S_IFSOCK: return "a socket";
  case S_IFCHR: return "a character device";
  case S_IFBLK: return "a block device";
  case S_IFDIR: return "a directory";
  default: return "another kind of file";
  }
  snprintf (path, sizeof (path), "/proc/self/fd/%d", fd);
  n = readlink (path, buf, len - 1);
  if (n < 0) {
    /* no /proc to ask (or not ours to read, after a privilege drop):
     * adding 0 works on an eventfd only (its pollers get a spurious
     * wake-up, which virtio drivers and QEMU take in their stride) */
    uint64_t zero = 0;
    return write (fd, &zero, sizeof (zero)) == sizeof (zero) ? NULL : "another anonymous inode";
  }
  buf[n] = '\0';
  return strcmp (buf, "anon_inode:[eventfd]") ? buf : NULL;
}

static int
set_vring_fd (struct vu_dev *dev, struct vu_msg *msg)
{
  static const char *const names[] = { "kick", "call", "err" };
  uint64_t v = msg->payload.u64;
  bool nofd = v & VU_VRING_NOFD;
  unsigned kind = msg->hdr.request - VU_SET_VRING_KICK;
  struct vq *vq;
  int fd = -1, *slot;
  char buf[64];
  const char *why;

  if (!payload_is (dev, msg, 8))
    return -1;
  if ((nofd && msg->n_fds != 0) || (!nofd && msg->n_fds != 1))
    return refuse (dev, "message %u: %u descriptors with flags 0x%llx", msg->hdr.request,
                   msg->n_fds, (unsigned long long) v);
  vq = ring_of (dev, msg, (unsigned) (v & VU_VRING_INDEX_MASK));
  if (vq == NULL)
    return -1;
  if (!nofd) {
    fd = msg->fds[0];
    msg->n_fds = 0;
    /* anything else may never be readable, or always (a busy loop), and
     * writes may block: the ring stays stopped until a good one comes */
    if ((why = not_eventfd (fd, buf, sizeof (buf))) != NULL) {
      close (fd);
      vq->refused_fds |= 1u << kind;
      refuse (dev, "queue %u: %s descriptor refused: %s, not an eventfd", vq->index, names[kind],
              why);
      if (!vq->broken) {
        vq_fail (vq, "%s", dev->error);
        report_broken (dev, vq);
      }
      return 1;
    }
    /* a front-end's blocking eventfd, or one at its maximum count, must
     * not block a worker (the description is shared: QEMU's are
     * non-blocking already) */
    fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
  }
  vq->refused_fds &= ~(1u << kind);
  slot = kind == 0 ? &vq->kick_fd : kind == 1 ? &vq->call_fd : &vq->err_fd;
  if (*slot >= 0)
    close (*slot);
  *slot = fd;
  if (msg->hdr.request == VU_SET_VRING_KICK) {
    /* without protocol features a ring runs as soon as it is kicked */
    if (!(dev->acked_features & BIT (VU_F_PROTOCOL_FEATURES)))
      vq->enabled = true;
    vq->kicked = true;
    maybe_start (dev, vq);
  }
  return 0;
}

static int
set_vring_num (struct vu_dev *dev, struct vu_msg *msg)
{
  struct vhost_vring_state *st = &msg->payload.state;
  struct vq *vq;

  if (!payload_is (dev, msg, sizeof (*st)) || !(vq = ring_of (dev, msg, st->index)))
    return -1;
  if (st->num == 0 || st->num > VQ_MAX_SIZE || (st->num & (st->num - 1)))
    return refuse (dev, "SET_VRING_NUM: queue %u size %u (a power of two up to %d)", st->index,
                   st->num, VQ_MAX_SIZE);
  if (vq->started)
    return refuse (dev, "SET_VRING_NUM: queue %u is running", st->index);
  vq->size = (uint16_t) st->num;
  maybe_start (dev, vq);
  return 0;
}

static int
set_vring_addr (struct vu_dev *dev, struct vu_msg *msg)
{
  struct vhost_vring_addr *a = &msg->payload.addr;
  struct vq *vq;

  if (!payload_is (dev, msg, sizeof (*a)) || !(vq = ring_of (dev, msg, a->index)))
    return -1;
  vq->desc_addr = a->desc_user_addr;
  vq->avail_addr = a->avail_user_addr;
  vq->used_addr = a->used_user_addr;
  vq->log_addr = a->log_guest_addr;
  vq->log_used = a->flags & (1u << VHOST_VRING_F_LOG);
  vq->addr_set = true;
  if (vq->started && vq_remap (vq) < 0)
    report_broken (dev, vq);
  maybe_start (dev, vq);
  return 0;
}

static int
vring_base (struct vu_dev *dev, struct vu_msg *msg)
{
  struct vhost_vring_state *st = &msg->payload.state;
  struct vq *vq;

  if (!payload_is (dev, msg, sizeof (*st)) || !(vq = ring_of (dev, msg, st->index)))
    return -1;
  if (msg->hdr.request == VU_SET_VRING_BASE) {
    if (st->num > UINT16_MAX)
      return refuse (dev, "SET_VRING_BASE: queue %u base %u", st->index, st->num);
    vq->last_avail = (uint16_t) st->num;
    return 0;
  }
  /* GET_VRING_BASE stops the ring; the workers finished its requests
   * before this message was handled (they were paused) */
  st->num = vq->last_avail;
  vq->started = vq->kicked = false;
  vq->n_resubmit = vq->next_resubmit = 0;
  if (vq->kick_fd >= 0)
    close (vq->kick_fd);
  vq->kick_fd = -1;
  return reply (dev, msg, sizeof (*st));
}

static int
get_inflight_fd (struct vu_dev *dev, struct vu_msg *msg)
{
  struct vu_inflight_payload *p = &msg->payload.inflight;
  uint64_t size;
  int fd, rc;

  if (!payload_is (dev, msg, sizeof (*p)))
    return -1;
  if (p->num_queues == 0 || p->num_queues > dev->max_queues || p->queue_size == 0
      || p->queue_size > VQ_MAX_SIZE)
    return refuse (dev, "GET_INFLIGHT_FD: %u queues of %u", p->num_queues, p->queue_size);
  fd = vq_inflight_create (p->num_queues, p->queue_size, &size);
  if (fd < 0)
    return refuse (dev, "GET_INFLIGHT_FD: cannot create the region: %s", strerror (errno));
  p->mmap_size = size;
  p->mmap_offset = 0;
  msg->hdr.flags = VU_VERSION | VU_FLAG_REPLY;
  msg->hdr.size = sizeof (*p);
  rc = vu_send (dev->fd, msg, fd);
  close (fd);
  return rc < 0 ? refuse (dev, "reply to GET_INFLIGHT_FD: %s", strerror (errno)) : 0;
}

static int
set_inflight_fd (struct vu_dev *dev, struct vu_msg *msg)
{
  struct vu_inflight_payload *p = &msg->payload.inflight;
  uint64_t stride;
  void *addr;
  int fd;

  if (!payload_is (dev, msg, sizeof (*p)) || msg->n_fds != 1)
    return refuse (dev, "SET_INFLIGHT_FD: malformed");
  fd = msg->fds[0];
  msg->n_fds = 0;
  stride = p->queue_size ? vq_inflight_queue_bytes (p->queue_size) : 0;
  if (p->num_queues == 0 || p->num_queues > dev->max_queues || p->queue_size == 0
      || p->queue_size > VQ_MAX_SIZE || p->mmap_size < stride * p->num_queues
      || p->mmap_offset > UINT64_MAX - p->mmap_size) {
    close (fd);
    return refuse (dev, "SET_INFLIGHT_FD: %u queues of %u in %llu bytes", p->num_queues,
                   p->queue_size, (unsigned long long) p->mmap_size);
  }
  addr = map_shared (dev, "SET_INFLIGHT_FD", fd, p->mmap_offset, p->mmap_size);
  if (addr == NULL)
    return -1;
  unmap_inflight (dev);
  dev->inflight_addr = addr;
  dev->inflight_size = p->mmap_offset + p->mmap_size;
  dev->inflight_queue_size = p->queue_size;
  for (unsigned i = 0; i < p->num_queues; i++) {
    struct vq *vq = &dev->vqs[i];
    vq->inflight = (struct vq_inflight *) ((char *) addr + p->mmap_offset + i * stride);
    vq->inflight_n = p->queue_size;
    /* a running ring (nothing is in flight while messages are handled)
     * continues with the new region, if it fits */
    if (vq->started && !vq->broken && guarded (dev, vq, vq_inflight_adopt) == -1)
      report_broken (dev, vq);
  }
  return 0;
}

static int
set_log_base (struct vu_dev *dev, struct vu_msg *msg)
{
  struct vu_log_payload *p = &msg->payload.log;
  void *addr;
  int fd;

  if (!payload_is (dev, msg, sizeof (*p)) || msg->n_fds != 1)
    return refuse (dev, "SET_LOG_BASE: malformed");
  fd = msg->fds[0];
  msg->n_fds = 0;
  if (p->mmap_size == 0 || p->mmap_offset > UINT64_MAX - p->mmap_size) {
    close (fd);
    return refuse (dev, "SET_LOG_BASE: %llu bytes at %llu", (unsigned long long) p->mmap_size,
                   (unsigned long long) p->mmap_offset);
  }
  /* a page the log has no bit for would be missed by a migration */
  for (unsigned i = 0; i < dev->mem.n; i++) {
    const struct vu_region *r = &dev->mem.r[i];
    if (!log_covers (p->mmap_size, r->gpa + r->size)) {
      close (fd);
      return refuse (dev, "SET_LOG_BASE: a log of %llu bytes covers guest memory up to 0x%llx, "
                     "but it goes up to 0x%llx", (unsigned long long) p->mmap_size,
                     (unsigned long long) (p->mmap_size * 8 * VU_LOG_PAGE),
                     (unsigned long long) (r->gpa + r->size));
    }
  }
  addr = map_shared (dev, "SET_LOG_BASE", fd, p->mmap_offset, p->mmap_size);
  if (addr == NULL)
    return -1;
  unmap_log (dev);
  dev->log.mmap_addr = addr;
  dev->log.mmap_size = p->mmap_size + p->mmap_offset;
  dev->log.base = (uint8_t *) addr + p->mmap_offset;
  dev->log.size = p->mmap_size;
  apply_features (dev);
  /* with LOG_SHMFD the front-end waits for this answer */
  return reply_u64 (dev, msg, 0);
}

/* Messages that only read what the rings do not change run without
 * pausing the workers. */
static bool
is_query (uint32_t request)
{
  switch (request) {
  case VU_GET_FEATURES:
  case VU_GET_PROTOCOL_FEATURES:
  case VU_GET_QUEUE_NUM:
  case VU_GET_CONFIG:
  case VU_GET_MAX_MEM_SLOTS:
  case VU_GET_INFLIGHT_FD:
  case VU_SET_OWNER:
  case VU_SET_SLAVE_REQ_FD:
    return true;
  default:
    return false;
  }
}

/* Messages that change only descriptors and flags the workers read when
 * they publish or fetch, not guest memory or a ring's layout: the
 * workers stop, but what is in flight stays in flight.  Draining for
 * them would keep QEMU waiting on the guest's I/O (MSI-X masking sends
 * SET_VRING_CALL): seconds with large requests in flight. */
static bool
is_light (uint32_t request)
{
  switch (request) {
  case VU_SET_FEATURES:
  case VU_SET_PROTOCOL_FEATURES:
  case VU_SET_VRING_CALL:
  case VU_SET_VRING_ERR:
  case VU_SET_VRING_ENABLE:
  case VU_SET_CONFIG:
  case VU_SET_LOG_FD:
    return true;
  default:
    return false;
  }
}

static int
handle (struct vu_dev *dev, struct vu_msg *msg, bool need_reply)
{
  int rc = 0;

  switch (msg->hdr.request) {
  case VU_GET_FEATURES:
    return reply_u64 (dev, msg, dev->features);
  case VU_SET_FEATURES:
    if (!payload_is (dev, msg, 8))
      return -1;
    if (msg->payload.u64 & ~dev->features)
      return refuse (dev, "SET_FEATURES 0x%llx: not offered: 0x%llx",
                     (unsigned long long) msg->payload.u64,
                     (unsigned long long) (msg->payload.u64 & ~dev->features));
    dev->acked_features = msg->payload.u64;
    /* QEMU 7.2 may reconnect straight into SET_FEATURES: what we offer
     * counts as negotiated when negotiation was skipped */
    if (!dev->protocol_negotiated)
      dev->acked_protocol = dev->protocol_features;
    apply_features (dev);
    break;
  case VU_GET_PROTOCOL_FEATURES:
    return reply_u64 (dev, msg, dev->protocol_features);
  case VU_SET_PROTOCOL_FEATURES:
    if (!payload_is (dev, msg, 8))
      return -1;
    if (msg->payload.u64 & ~dev->protocol_features)
      return refuse (dev, "SET_PROTOCOL_FEATURES: not offered: 0x%llx",
                     (unsigned long long) (msg->payload.u64 & ~dev->protocol_features));
    dev->acked_protocol = msg->payload.u64;
    dev->protocol_negotiated = true;
    break;
  case VU_GET_QUEUE_NUM:
    return reply_u64 (dev, msg, dev->max_queues);
  case VU_SET_OWNER:
    break;
  case VU_RESET_OWNER:          /* deprecated: stop the rings */
  case VU_RESET_DEVICE:
    reset_rings (dev);
    unmap_inflight (dev);
    if (msg->hdr.request == VU_RESET_DEVICE) {
      dev->acked_features = 0;
      apply_features (dev);
    }
    break;
  case VU_GET_CONFIG:
    return get_config (dev, msg);
  case VU_SET_CONFIG:
    rc = set_config (dev, msg);
    break;
  case VU_SET_MEM_TABLE:
    if ((rc = set_mem_table (dev, msg)) == 0)
      remap_rings (dev);
    break;
  case VU_GET_MAX_MEM_SLOTS:
    return reply_u64 (dev, msg, VU_MAX_MEM_SLOTS);
  case VU_ADD_MEM_REG:
    if ((rc = add_mem_reg (dev, msg)) == 0)
      remap_rings (dev);
    break;
  case VU_REM_MEM_REG:
    if ((rc = rem_mem_reg (dev, msg)) == 0)
      remap_rings (dev);
    break;
  case VU_SET_SLAVE_REQ_FD:
    if (msg->n_fds != 1)
      return refuse (dev, "SET_SLAVE_REQ_FD: %u descriptors, expected 1", msg->n_fds);
    if (dev->slave_fd >= 0)
      close (dev->slave_fd);
    dev->slave_fd = msg->fds[0];
    msg->n_fds = 0;
    break;
  case VU_SET_VRING_NUM:
    rc = set_vring_num (dev, msg);
    break;
  case VU_SET_VRING_ADDR:
    rc = set_vring_addr (dev, msg);
    break;
  case VU_SET_VRING_BASE:
    rc = vring_base (dev, msg);
    break;
  case VU_GET_VRING_BASE:
    return vring_base (dev, msg);
  case VU_SET_VRING_KICK:
  case VU_SET_VRING_CALL:
  case VU_SET_VRING_ERR:
    rc = set_vring_fd (dev, msg);
    break;
  case VU_SET_VRING_ENABLE: {
    struct vhost_vring_state *st = &msg->payload.state;
    struct vq *vq;
    if (!payload_is (dev, msg, sizeof (*st)) || !(vq = ring_of (dev, msg, st->index)))
      return -1;
    vq->enabled = st->num != 0;
    break;
  }
  case VU_GET_INFLIGHT_FD:
    return get_inflight_fd (dev, msg);
  case VU_SET_INFLIGHT_FD:
    rc = set_inflight_fd (dev, msg);
    break;
  case VU_SET_LOG_BASE:
    return set_log_base (dev, msg);
  case VU_SET_LOG_FD:           /* the legacy log eventfd: not used */
    break;
  default:
    close_fds (msg);
    rc = refuse (dev, "message %u is not supported by this backend", msg->hdr.request);
    /* answered as a failure, the connection goes on; without an
     * answer the front-end would wait for nothing */
    if (need_reply)
      rc = 1;
    break;
  }
  close_fds (msg);
  /* rc 1: refused, the connection goes on */
  if (need_reply && reply_u64 (dev, msg, rc == 0 ? 0 : 1) < 0)
    return -1;
  return rc < 0 ? -1 : 0;
}

int
vu_handle (struct vu_dev *dev, struct vu_msg *msg)
{
  bool need_reply = (msg->hdr.flags & VU_FLAG_NEED_REPLY)
                    && (dev->acked_protocol & BIT (VU_PROTOCOL_F_REPLY_ACK));
  bool pause = dev->ops && !is_query (msg->hdr.request);
  int rc;

  dev->error[0] = '\0';
  if (pause)
    dev->ops->pause (dev->opaque, !is_light (msg->hdr.request));
  rc = handle (dev, msg, need_reply);
  close_fds (msg);
  if (pause)
    dev->ops->resume (dev->opaque);
  return rc;
}

bool
vu_running (const struct vu_dev *dev)
{
  for (unsigned i = 0; i < dev->max_queues; i++)
    if (dev->vqs[i].started && !dev->vqs[i].broken)
      return true;
  return false;
}

enum vu_end
vu_serve (struct vu_dev *dev, const volatile sig_atomic_t *stop, int listen_fd)
{
  struct vu_msg *msg = calloc (1, sizeof (*msg));
  enum vu_end end = VU_END_STOPPED;

  if (msg == NULL)
    abort ();                   /* out of memory aborts */
  while (!(stop && *stop)) {
    struct pollfd pfd[2] = { { .fd = dev->fd, .events = POLLIN },
                             { .fd = listen_fd, .events = POLLIN } };
    /* a connection whose rings run keeps the device; one that only
     * idles (or waits for a guest) gives way to a new one */
    nfds_t n = listen_fd >= 0 && !vu_running (dev) ? 2 : 1;
    int r;
    /* wake up now and then to look at @stop */
    if (poll (pfd, n, stop ? 500 : -1) <= 0)
      continue;
    if (pfd[0].revents == 0) {
      end = VU_END_REPLACED;
      break;
    }
    r = vu_recv (dev, msg);
    if (r == 0) {
      end = VU_END_CLOSED;
      break;
    }
    if (r < 0 || vu_handle (dev, msg) < 0) {
      end = VU_END_ERROR;
      break;
    }
  }
  free (msg);
  return end;
}
