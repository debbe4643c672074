/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vhost-user control plane: one front-end connection, its messages and their answers. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vhost-user.h"

#define BIT(n) (1ull << (n))

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
}

static void close_fds (struct vu_msg *msg);

static void
unmap_region (struct vu_region *r)
{
  if (r->mmap_addr)
    munmap (r->mmap_addr, r->mmap_size);
  memset (r, 0, sizeof (*r));
}

static void
unmap_all (struct vu_dev *dev)
{
  for (unsigned i = 0; i < dev->n_regions; i++)
    unmap_region (&dev->regions[i]);
  dev->n_regions = 0;
}

void
vu_dev_reset (struct vu_dev *dev)
{
  if (dev->slave_fd >= 0)
    close (dev->slave_fd);
  dev->slave_fd = -1;
  unmap_all (dev);
}

/* [start, start + len) inside [base, base + size), without overflow. */
static bool
inside (uint64_t start, uint64_t len, uint64_t base, uint64_t size)
{
  return start >= base && start - base <= size && len <= size - (start - base);
}

void *
vu_gpa_to_va (const struct vu_dev *dev, uint64_t gpa, uint64_t len)
{
  for (unsigned i = 0; i < dev->n_regions; i++) {
    const struct vu_region *r = &dev->regions[i];
    if (inside (gpa, len, r->gpa, r->size))
      return (char *) r->mmap_addr + r->mmap_offset + (gpa - r->gpa);
  }
  return NULL;
}

void *
vu_uva_to_va (const struct vu_dev *dev, uint64_t uva, uint64_t len)
{
  for (unsigned i = 0; i < dev->n_regions; i++) {
    const struct vu_region *r = &dev->regions[i];
    if (inside (uva, len, r->uva, r->size))
      return (char *) r->mmap_addr + r->mmap_offset + (uva - r->uva);
  }
  return NULL;
}

/* Maps @fd as region @desc into @r; the fd is consumed. */
static int
map_region (struct vu_dev *dev, const struct vu_mem_region *desc, int fd, struct vu_region *r)
{
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
  total = desc->mmap_offset + desc->memory_size;
  addr = mmap (NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  close (fd);
  if (addr == MAP_FAILED)
    return refuse (dev, "map memory region at 0x%llx: %s",
                   (unsigned long long) desc->guest_phys_addr, strerror (errno));
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
  memcpy (dev->regions, fresh, sizeof (fresh));
  dev->n_regions = t->nregions;
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
  if (dev->n_regions >= VU_MAX_MEM_SLOTS) {
    close_fds (msg);
    return refuse (dev, "ADD_MEM_REG: all %d slots are in use", VU_MAX_MEM_SLOTS);
  }
  fd = msg->fds[0];
  msg->n_fds = 0;
  if (map_region (dev, &msg->payload.reg.region, fd, &dev->regions[dev->n_regions]) < 0)
    return -1;
  dev->n_regions++;
  return 0;
}

static int
rem_mem_reg (struct vu_dev *dev, struct vu_msg *msg)
{
  const struct vu_mem_region *d = &msg->payload.reg.region;

  close_fds (msg);              /* QEMU may send the region's fd along */
  if (msg->hdr.size != sizeof (struct vu_mem_reg))
    return refuse (dev, "REM_MEM_REG: malformed");
  for (unsigned i = 0; i < dev->n_regions; i++) {
    struct vu_region *r = &dev->regions[i];
    if (r->gpa == d->guest_phys_addr && r->size == d->memory_size) {
      unmap_region (r);
      memmove (r, r + 1, (dev->n_regions - i - 1) * sizeof (*r));
      dev->n_regions--;
      memset (&dev->regions[dev->n_regions], 0, sizeof (*r));
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

/* Reads exactly @len bytes; 0 at a clean end of file before any byte. */
static ssize_t
read_full (int fd, void *buf, size_t len)
{
  size_t got = 0;

  while (got < len) {
    ssize_t n = read (fd, (char *) buf + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? -1 : (ssize_t) got;
    got += (size_t) n;
  }
  return (ssize_t) got;
}

int
vu_recv (struct vu_dev *dev, struct vu_msg *msg)
{
  char control[CMSG_SPACE (VU_MAX_FDS * sizeof (int))];
  struct iovec iov = { &msg->hdr, sizeof (msg->hdr) };
  struct msghdr mh = { 0 };
  struct cmsghdr *cm;
  ssize_t n;

  msg->n_fds = 0;
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
      && read_full (dev->fd, (char *) &msg->hdr + n, sizeof (msg->hdr) - (size_t) n)
         != (ssize_t) (sizeof (msg->hdr) - (size_t) n)) {
    close_fds (msg);
    return refuse (dev, "short message header");
  }
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
      && read_full (dev->fd, msg->payload.raw, msg->hdr.size) != (ssize_t) msg->hdr.size) {
    close_fds (msg);
    return refuse (dev, "message %u: payload cut short", msg->hdr.request);
  }
  return 1;
}

int
vu_send (int fd, const struct vu_msg *msg)
{
  /* header and payload apart: the struct pads between them */
  struct iovec iov[2] = {
    { (void *) &msg->hdr, sizeof (msg->hdr) },
    { (void *) msg->payload.raw, msg->hdr.size },
  };
  struct msghdr mh = { .msg_iov = iov, .msg_iovlen = msg->hdr.size ? 2 : 1 };
  size_t len = sizeof (msg->hdr) + msg->hdr.size;

  while (len) {
    ssize_t n = sendmsg (fd, &mh, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    len -= (size_t) n;
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
  if (vu_send (dev->fd, msg) < 0)
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

  if (msg->hdr.size < sizeof (*c) || c->size > VU_MAX_PAYLOAD - sizeof (*c)
      || msg->hdr.size != sizeof (*c) + c->size)
    return refuse (dev, "GET_CONFIG: malformed payload");
  memset (c->region, 0, c->size);
  if (c->offset < have)
    memcpy (c->region, (const uint8_t *) &dev->config + c->offset,
            c->size < have - c->offset ? c->size : have - c->offset);
  return reply (dev, msg, (uint32_t) sizeof (*c) + c->size);
}

/* SET_CONFIG: the guest may only toggle the write cache (wce). */
static int
set_config (struct vu_dev *dev, struct vu_msg *msg)
{
  struct vu_config_payload *c = &msg->payload.config;
  size_t wce = offsetof (struct virtio_blk_config, wce);

  if (msg->hdr.size < sizeof (*c) || msg->hdr.size != sizeof (*c) + c->size)
    return refuse (dev, "SET_CONFIG: malformed payload");
  if (c->offset == wce && c->size == 1 && (dev->features & BIT (VIRTIO_BLK_F_CONFIG_WCE))) {
    dev->config.wce = c->region[0] ? 1 : 0;
    return 0;
  }
  return refuse (dev, "SET_CONFIG: offset %u size %u is not writable", c->offset, c->size);
}

int
vu_handle (struct vu_dev *dev, struct vu_msg *msg)
{
  bool need_reply = (msg->hdr.flags & VU_FLAG_NEED_REPLY)
                    && (dev->acked_protocol & BIT (VU_PROTOCOL_F_REPLY_ACK));
  int rc = 0;

  dev->error[0] = '\0';
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
  case VU_RESET_OWNER:          /* deprecated: nothing to undo yet */
    break;
  case VU_GET_CONFIG:
    return get_config (dev, msg);
  case VU_SET_CONFIG:
    rc = set_config (dev, msg);
    break;
  case VU_SET_MEM_TABLE:
    rc = set_mem_table (dev, msg);
    break;
  case VU_GET_MAX_MEM_SLOTS:
    return reply_u64 (dev, msg, VU_MAX_MEM_SLOTS);
  case VU_ADD_MEM_REG:
    rc = add_mem_reg (dev, msg);
    break;
  case VU_REM_MEM_REG:
    rc = rem_mem_reg (dev, msg);
    break;
  case VU_SET_SLAVE_REQ_FD:
    if (msg->n_fds != 1)
      return refuse (dev, "SET_SLAVE_REQ_FD: %u descriptors, expected 1", msg->n_fds);
    if (dev->slave_fd >= 0)
      close (dev->slave_fd);
    dev->slave_fd = msg->fds[0];
    msg->n_fds = 0;
    break;
  default:
    close_fds (msg);
    rc = refuse (dev, "message %u is not supported by this backend", msg->hdr.request);
    if (need_reply) {
      /* answered as a failure; the connection goes on */
      msg->hdr.size = 0;
      return reply_u64 (dev, msg, 1) < 0 ? -1 : 0;
    }
    return rc;
  }
  close_fds (msg);
  if (need_reply)
    return reply_u64 (dev, msg, rc == 0 ? 0 : 1) < 0 || rc < 0 ? -1 : 0;
  return rc;
}

int
vu_serve (struct vu_dev *dev)
{
  struct vu_msg *msg = calloc (1, sizeof (*msg));
  int rc = -1;

  if (msg == NULL)
    return refuse (dev, "out of memory");
  for (;;) {
    int r = vu_recv (dev, msg);
    if (r == 0) {
      rc = 0;
      break;
    }
    if (r < 0 || vu_handle (dev, msg) < 0)
      break;
  }
  free (msg);
  return rc;
}
