/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A vhost-user-blk front-end for tests: QEMU 7.2's side of the socket, with
 * memfd guest memory, split rings and a request builder. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vhost_types.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "vu-frontend.h"

#define BIT(n) (1ull << (n))
#define SLOT_META 128             /* header at 0, status at 16, indirect table at 64 */
#define CONFIG_SIZE 57            /* what QEMU 7.2 asks with discard and write-zeroes on */

/* Request numbers (docs/interop/vhost-user.rst); kept here so this
 * front-end shares nothing with the backend it tests. */
enum {
  M_GET_FEATURES = 1, M_SET_FEATURES = 2, M_SET_OWNER = 3, M_SET_MEM_TABLE = 5,
  M_SET_VRING_NUM = 8, M_SET_VRING_ADDR = 9, M_SET_VRING_BASE = 10, M_GET_VRING_BASE = 11,
  M_SET_VRING_KICK = 12, M_SET_VRING_CALL = 13, M_SET_VRING_ERR = 14,
  M_GET_PROTOCOL_FEATURES = 15, M_SET_PROTOCOL_FEATURES = 16, M_GET_QUEUE_NUM = 17,
  M_SET_VRING_ENABLE = 18, M_GET_CONFIG = 24, M_GET_INFLIGHT_FD = 31, M_SET_INFLIGHT_FD = 32,
  M_GET_MAX_MEM_SLOTS = 36, M_ADD_MEM_REG = 37, M_SET_LOG_BASE = 6,
};
enum { P_MQ = 0, P_LOG_SHMFD = 1, P_REPLY_ACK = 3, P_CONFIG = 9, P_INFLIGHT = 12, P_MEM_SLOTS = 15 };
#define F_PROTOCOL_FEATURES 30
#define FLAG_VERSION 1u
#define FLAG_REPLY (1u << 2)
#define FLAG_NEED_REPLY (1u << 3)

struct hdr {
  uint32_t request, flags, size;
} __attribute__ ((packed));

struct region {
  uint64_t gpa, size, uva, offset;
} __attribute__ ((packed));

/* QEMU's VhostUserInflight, with its tail padding: 24 bytes */
struct inflight_msg {
  uint64_t mmap_size, mmap_offset;
  uint16_t num_queues, queue_size;
};

static int
fail (struct fe *fe, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static int
fail (struct fe *fe, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (fe->err, sizeof (fe->err), fmt, ap);
  va_end (ap);
  return -1;
}

uint64_t
fe_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

uint64_t
fe_proc_kib (pid_t pid, const char *field)
{
  char path[64], line[256];
  size_t n = strlen (field);
  unsigned long long kib = 0;
  FILE *f;

  snprintf (path, sizeof (path), "/proc/%d/status", (int) pid);
  f = fopen (path, "r");
  if (f == NULL)
    return 0;
  while (fgets (line, sizeof (line), f))
    if (!strncmp (line, field, n) && line[n] == ':' && sscanf (line + n + 1, "%llu", &kib) == 1)
      break;
  fclose (f);
  return kib;
}

void
fe_pattern (uint8_t *p, size_t n, uint64_t seed)
{
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = seed * 0x9e3779b97f4a7c15ull + i;
    memcpy (p + i, &v, n - i < 8 ? n - i : 8);
  }
}

uint64_t
fe_rand (uint64_t *state)
{
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  return *state;
}

uint64_t
fe_alloc (struct fe *fe, uint64_t size, uint64_t align)
{
  uint64_t at = (fe->brk + align - 1) / align * align;

  if (at + size > fe->mem_size)
    return UINT64_MAX;
  fe->brk = at + size;
  return at;
}

int
fe_init (struct fe *fe, uint64_t mem_size, unsigned nqueues, uint16_t qsize, uint32_t max_io,
         bool indirect)
{
  memset (fe, 0, sizeof (*fe));
  fe->sock = fe->inflight_fd = -1;
  if (nqueues == 0 || nqueues > FE_MAX_QUEUES || qsize < 4 || (qsize & (qsize - 1)))
    return fail (fe, "bad queue layout");
  fe->nqueues = nqueues;
  fe->qsize = qsize;
  fe->max_io = max_io;
  fe->indirect = indirect;
  fe->use_slots = true;
  fe->mem_size = mem_size;
  fe->memfd = memfd_create ("fe-guest-ram", MFD_CLOEXEC);
  if (fe->memfd < 0 || ftruncate (fe->memfd, (off_t) mem_size) < 0)
    return fail (fe, "guest memory: %s", strerror (errno));
  fe->mem = mmap (NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, fe->memfd, 0);
  if (fe->mem == MAP_FAILED)
    return fail (fe, "map guest memory: %s", strerror (errno));
  fe->brk = 4096;                 /* GPA 0 stays unused */
  for (unsigned i = 0; i < nqueues; i++) {
    struct fe_queue *q = &fe->q[i];
    q->index = i;
    q->size = qsize;
    q->nslots = indirect ? qsize : qsize / 3;
    q->desc_gpa = fe_alloc (fe, 16u * qsize, 4096);
    q->avail_gpa = fe_alloc (fe, 6u + 2u * qsize, 4096);
    q->used_gpa = fe_alloc (fe, 6u + 8u * qsize, 4096);
    q->meta_gpa = fe_alloc (fe, (uint64_t) SLOT_META * q->nslots, 4096);
    /* room for buffers moved by fe->skew (set after fe_init) */
    q->data_gpa = fe_alloc (fe, ((uint64_t) max_io + 4096) * q->nslots, 4096);
    if (q->data_gpa == UINT64_MAX)
      return fail (fe, "guest memory of %llu bytes is too small", (unsigned long long) mem_size);
    q->desc = (void *) (fe->mem + q->desc_gpa);
    q->avail = (void *) (fe->mem + q->avail_gpa);
    q->used = (void *) (fe->mem + q->used_gpa);
    q->slots = calloc (q->nslots, sizeof (*q->slots));
    q->kick_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
    q->call_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
    q->err_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  }
  return 0;
}

void *
fe_ptr (struct fe *fe, uint64_t gpa)
{
  return fe->mem + gpa;
}

/* The front-end's "user address" of a guest address: the mapping here. */
static uint64_t
uva (const struct fe *fe, uint64_t gpa)
{
  return (uint64_t) (uintptr_t) fe->mem + gpa;
}

int
fe_raw_fds (struct fe *fe, uint32_t request, uint32_t flags, const void *payload, uint32_t size,
            const int *fds, unsigned n_fds)
{
  struct hdr h = { request, FLAG_VERSION | flags, size };
  struct iovec iov[2] = { { &h, sizeof (h) }, { (void *) payload, size } };
  char control[CMSG_SPACE (FE_MAX_FDS * sizeof (int))] = { 0 };
  struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };

  if (n_fds > FE_MAX_FDS)
    return fail (fe, "message %u: %u descriptors", request, n_fds);
  if (n_fds) {
    struct cmsghdr *cm;
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE (n_fds * sizeof (int));
    cm = CMSG_FIRSTHDR (&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN (n_fds * sizeof (int));
    memcpy (CMSG_DATA (cm), fds, n_fds * sizeof (int));
  }
  fe->messages++;
  if (sendmsg (fe->sock, &mh, MSG_NOSIGNAL) != (ssize_t) (sizeof (h) + size))
    return fail (fe, "send message %u: %s", request, strerror (errno));
  return 0;
}

static int
send_msg (struct fe *fe, uint32_t request, uint32_t flags, const void *payload, uint32_t size,
          int fd)
{
  return fe_raw_fds (fe, request, flags, payload, size, &fd, fd >= 0 ? 1 : 0);
}

/* Reads a reply to @request: @size payload bytes into @out, an fd into @fd. */
static int
recv_reply (struct fe *fe, uint32_t request, void *out, uint32_t size, int *fd)
{
  struct hdr h;
  char control[CMSG_SPACE (sizeof (int))];
  struct iovec iov = { &h, sizeof (h) };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof (control) };
  uint8_t buf[4096];
  ssize_t n = recvmsg (fe->sock, &mh, MSG_CMSG_CLOEXEC);
  struct cmsghdr *cm;

  if (n != sizeof (h))
    return fail (fe, "reply to message %u: %s", request, n == 0 ? "backend hung up" : "short");
  for (cm = CMSG_FIRSTHDR (&mh); cm; cm = CMSG_NXTHDR (&mh, cm))
    if (cm->cmsg_type == SCM_RIGHTS) {
      int got;
      memcpy (&got, CMSG_DATA (cm), sizeof (int));
      if (fd)
        *fd = got;
      else
        close (got);
    }
  if (h.request != request || !(h.flags & FLAG_REPLY) || h.size > sizeof (buf))
    return fail (fe, "reply to message %u: got %u flags 0x%x size %u", request, h.request,
                 h.flags, h.size);
  if (h.size && recv (fe->sock, buf, h.size, MSG_WAITALL) != (ssize_t) h.size)
    return fail (fe, "reply to message %u: payload cut short", request);
  if (size && h.size != size)
    return fail (fe, "reply to message %u: %u bytes, expected %u", request, h.size, size);
  if (out && size)
    memcpy (out, buf, size);
  return 0;
}

int
fe_raw (struct fe *fe, uint32_t request, uint32_t flags, const void *payload, uint32_t size,
        int fd, void *reply, uint32_t reply_size)
{
  if (send_msg (fe, request, flags, payload, size, fd) < 0)
    return -1;
  return reply ? recv_reply (fe, request, reply, reply_size, NULL) : 0;
}

int
fe_reply (struct fe *fe, uint32_t request, void *reply, uint32_t reply_size, int *fd)
{
  return recv_reply (fe, request, reply, reply_size, fd);
}

static int
get_u64 (struct fe *fe, uint32_t request, uint64_t *v)
{
  return fe_raw (fe, request, 0, NULL, 0, -1, v, 8);
}

static int
set_u64 (struct fe *fe, uint32_t request, uint64_t v, int fd)
{
  return send_msg (fe, request, 0, &v, 8, fd);
}

/* A message that wants an acknowledgement when REPLY_ACK is on. */
static int
acked (struct fe *fe, uint32_t request, const void *payload, uint32_t size, int fd)
{
  bool ack = fe->protocol & BIT (P_REPLY_ACK);
  uint64_t status = 0;

  if (send_msg (fe, request, ack ? FLAG_NEED_REPLY : 0, payload, size, fd) < 0)
    return -1;
  if (ack && (recv_reply (fe, request, &status, 8, NULL) < 0))
    return -1;
  if (status)
    return fail (fe, "message %u refused (status %llu)", request, (unsigned long long) status);
  return 0;
}

static int
vring_state (struct fe *fe, uint32_t request, unsigned index, unsigned num)
{
  struct vhost_vring_state st = { index, num };

  return send_msg (fe, request, 0, &st, sizeof (st), -1);
}

int
fe_dial (struct fe *fe, const char *path, unsigned wait_ms)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  uint64_t deadline = fe_now_ns () + (uint64_t) wait_ms * 1000000u;

  snprintf (fe->path, sizeof (fe->path), "%s", path);
  snprintf (sa.sun_path, sizeof (sa.sun_path), "%s", path);
  for (;;) {
    fe->sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect (fe->sock, (struct sockaddr *) &sa, sizeof (sa)) == 0) {
      struct timeval tv = { .tv_sec = 10 };
      setsockopt (fe->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv));
      setsockopt (fe->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof (tv));
      return 0;
    }
    close (fe->sock);
    fe->sock = -1;
    if (fe_now_ns () > deadline)
      return fail (fe, "connect to '%s': %s", path, strerror (errno));
    usleep (20000);
  }
}

/* The device start (vhost_user_blk_start): features, inflight, calls,
 * memory, rings, enable. */
int
fe_start (struct fe *fe)
{
  if (set_u64 (fe, M_SET_FEATURES, fe->features, -1) < 0)
    return -1;
  if (fe->protocol & BIT (P_INFLIGHT)) {
    struct inflight_msg im = { 0, 0, (uint16_t) fe->nqueues, fe->qsize };
    _Static_assert (sizeof (im) == 24, "QEMU sends 24 bytes");
    if (fe->inflight_fd < 0) {
      if (send_msg (fe, M_GET_INFLIGHT_FD, 0, &im, sizeof (im), -1) < 0
          || recv_reply (fe, M_GET_INFLIGHT_FD, &im, sizeof (im), &fe->inflight_fd) < 0)
        return -1;
      if (fe->inflight_fd < 0)
        return fail (fe, "GET_INFLIGHT_FD: no descriptor");
      fe->inflight_size = im.mmap_size;
    }
    im.mmap_size = fe->inflight_size;
    im.mmap_offset = 0;
    im.num_queues = (uint16_t) fe->nqueues;
    im.queue_size = fe->qsize;
    if (send_msg (fe, M_SET_INFLIGHT_FD, 0, &im, sizeof (im), fe->inflight_fd) < 0)
      return -1;
  }
  for (unsigned i = 0; i < fe->nqueues; i++)
    if (set_u64 (fe, M_SET_VRING_CALL, i, fe->q[i].call_fd) < 0)
      return -1;
  if (set_u64 (fe, M_SET_FEATURES, fe->features, -1) < 0)
    return -1;
  {
    /* one region, or two pieces of the same memfd meeting at fe->split */
    uint64_t cut = fe->split ? fe->split : fe->mem_size;
    struct region r[2] = { { 0, cut, uva (fe, 0), 0 },
                           { cut, fe->mem_size - cut, uva (fe, cut), cut } };
    unsigned n = fe->split ? 2 : 1;
    if (fe->use_slots && (fe->protocol & BIT (P_MEM_SLOTS))) {
      for (unsigned i = 0; i < n; i++) {
        struct { uint64_t pad; struct region r; } __attribute__ ((packed)) reg = { 0, r[i] };
        if (acked (fe, M_ADD_MEM_REG, &reg, sizeof (reg), fe->memfd) < 0)
          return -1;
      }
    } else {
      struct { uint32_t n, pad; struct region r[2]; } __attribute__ ((packed)) t = {
        n, 0, { r[0], r[1] } };
      int fds[2] = { fe->memfd, fe->memfd };
      if (fe_raw_fds (fe, M_SET_MEM_TABLE, (fe->protocol & BIT (P_REPLY_ACK)) ? FLAG_NEED_REPLY : 0,
                      &t, 8 + n * (uint32_t) sizeof (r[0]), fds, n) < 0)
        return -1;
      if (fe->protocol & BIT (P_REPLY_ACK)) {
        uint64_t status = 1;
        if (recv_reply (fe, M_SET_MEM_TABLE, &status, 8, NULL) < 0)
          return -1;
        if (status)
          return fail (fe, "SET_MEM_TABLE refused");
      }
    }
  }
  if (fe->after_memory)
    fe->after_memory (fe);
  for (unsigned i = 0; i < fe->nqueues; i++) {
    struct fe_queue *q = &fe->q[i];
    struct vhost_vring_addr a = { i, 0, uva (fe, q->desc_gpa), uva (fe, q->used_gpa),
                                  uva (fe, q->avail_gpa), 0 };
    if (vring_state (fe, M_SET_VRING_NUM, i, q->size) < 0
        || vring_state (fe, M_SET_VRING_BASE, i, q->base) < 0
        || send_msg (fe, M_SET_VRING_ADDR, 0, &a, sizeof (a), -1) < 0
        || set_u64 (fe, M_SET_VRING_KICK, i, q->kick_fd) < 0)
      return -1;
    q->started = true;
  }
  for (unsigned i = 0; i < fe->nqueues; i++)
    if (vring_state (fe, M_SET_VRING_ENABLE, i, 1) < 0)
      return -1;
  /* no kick: like QEMU, rely on the backend to look at a ring it starts */
  return 0;
}

int
fe_handshake (struct fe *fe, uint64_t want)
{
  uint64_t offered_protocol, known = BIT (P_MQ) | BIT (P_LOG_SHMFD) | BIT (P_REPLY_ACK)
                                     | BIT (P_CONFIG) | BIT (P_INFLIGHT) | BIT (P_MEM_SLOTS);
  uint64_t slots;

  /* vhost_dev_init */
  if (get_u64 (fe, M_GET_FEATURES, &fe->offered) < 0)
    return -1;
  if (!(fe->offered & BIT (F_PROTOCOL_FEATURES)))
    return fail (fe, "backend does not offer VHOST_USER_F_PROTOCOL_FEATURES");
  if (get_u64 (fe, M_GET_PROTOCOL_FEATURES, &offered_protocol) < 0)
    return -1;
  fe->protocol = offered_protocol & known;
  if (!(fe->protocol & BIT (P_CONFIG)))
    return fail (fe, "backend does not offer PROTOCOL_F_CONFIG");
  if (set_u64 (fe, M_SET_PROTOCOL_FEATURES, fe->protocol, -1) < 0)
    return -1;
  if ((fe->protocol & BIT (P_MQ)) && get_u64 (fe, M_GET_QUEUE_NUM, &fe->max_queues) < 0)
    return -1;
  if (fe->nqueues > 1 && fe->max_queues < fe->nqueues)
    return fail (fe, "backend offers %llu queues, %u wanted", (unsigned long long) fe->max_queues,
                 fe->nqueues);
  if ((fe->protocol & BIT (P_MEM_SLOTS)) && get_u64 (fe, M_GET_MAX_MEM_SLOTS, &slots) < 0)
    return -1;
  if (send_msg (fe, M_SET_OWNER, 0, NULL, 0, -1) < 0
      || get_u64 (fe, M_GET_FEATURES, &fe->offered) < 0)
    return -1;
  for (unsigned i = 0; i < fe->nqueues; i++)
    if (set_u64 (fe, M_SET_VRING_CALL, i, fe->q[i].call_fd) < 0
        || set_u64 (fe, M_SET_VRING_ERR, i, fe->q[i].err_fd) < 0)
      return -1;
  /* realize: exactly 57 bytes of config, echoed */
  {
    struct { uint32_t offset, size, flags; uint8_t region[CONFIG_SIZE]; } __attribute__ ((packed))
      c = { 0, CONFIG_SIZE, 0, { 0 } };
    if (fe_raw (fe, M_GET_CONFIG, 0, &c, sizeof (c), -1, &c, sizeof (c)) < 0)
      return -1;
    memcpy (fe->config, c.region, CONFIG_SIZE);
    fe->config_size = CONFIG_SIZE;
  }
  fe->features = fe->offered & (want | BIT (VIRTIO_F_VERSION_1) | BIT (F_PROTOCOL_FEATURES)
                                | BIT (VIRTIO_BLK_F_SIZE_MAX) | BIT (VIRTIO_BLK_F_SEG_MAX)
                                | BIT (VIRTIO_BLK_F_BLK_SIZE) | BIT (VIRTIO_BLK_F_FLUSH)
                                | BIT (VIRTIO_BLK_F_RO) | BIT (VIRTIO_BLK_F_MQ)
                                | BIT (VIRTIO_BLK_F_DISCARD) | BIT (VIRTIO_BLK_F_WRITE_ZEROES)
                                | BIT (VIRTIO_BLK_F_TOPOLOGY) | BIT (VIRTIO_BLK_F_CONFIG_WCE));
  if (fe->indirect && !(fe->features & BIT (VIRTIO_RING_F_INDIRECT_DESC)))
    return fail (fe, "indirect descriptors wanted but not offered");
  return 0;
}

int
fe_connect (struct fe *fe, const char *path, unsigned wait_ms, uint64_t want)
{
  if (fe_dial (fe, path, wait_ms) < 0 || fe_handshake (fe, want) < 0)
    return -1;
  return fe_start (fe);
}

int
fe_connect_no_handshake (struct fe *fe, const char *path, unsigned wait_ms)
{
  if (fe_dial (fe, path, wait_ms) < 0)
    return -1;
  return fe_start (fe);
}

int
fe_blocking_eventfds (struct fe *fe)
{
  for (unsigned i = 0; i < fe->nqueues; i++)
    if (fcntl (fe->q[i].kick_fd, F_SETFL, 0) < 0 || fcntl (fe->q[i].call_fd, F_SETFL, 0) < 0)
      return fail (fe, "eventfd flags: %s", strerror (errno));
  fe->blocking_fds = true;
  return 0;
}

int
fe_swap_call (struct fe *fe, unsigned qi)
{
  struct fe_queue *q = &fe->q[qi];
  int old = q->call_fd, fresh = eventfd (0, EFD_CLOEXEC | (fe->blocking_fds ? 0 : EFD_NONBLOCK));

  if (fresh < 0)
    return fail (fe, "eventfd: %s", strerror (errno));
  q->call_fd = fresh;
  /* a kick may overtake a message on the socket; QEMU copes by looking
   * at the old notifier after a swap, this front-end by waiting for the
   * backend's acknowledgement, which makes the new fd's use testable */
  if (acked (fe, M_SET_VRING_CALL, &(uint64_t) { qi }, 8, fresh) < 0)
    return -1;
  close (old);
  return 0;
}

int
fe_start_logging (struct fe *fe, int logfd, uint64_t bytes)
{
  struct { uint64_t size, offset; } __attribute__ ((packed)) lb = { bytes, 0 };
  uint64_t ack;

  if (!(fe->protocol & BIT (P_LOG_SHMFD)) || !(fe->offered & BIT (VHOST_F_LOG_ALL)))
    return fail (fe, "backend cannot log dirty pages (no LOG_SHMFD or LOG_ALL)");
  /* as QEMU: wait for the backend to have these before the guest goes on */
  fe->features |= BIT (VHOST_F_LOG_ALL);
  if (acked (fe, M_SET_FEATURES, &fe->features, 8, -1) < 0
      || send_msg (fe, M_SET_LOG_BASE, 0, &lb, sizeof (lb), logfd) < 0
      || recv_reply (fe, M_SET_LOG_BASE, &ack, 0, NULL) < 0)
    return -1;
  for (unsigned i = 0; i < fe->nqueues; i++) {
    struct fe_queue *q = &fe->q[i];
    struct vhost_vring_addr a = { i, 1u << VHOST_VRING_F_LOG, uva (fe, q->desc_gpa),
                                  uva (fe, q->used_gpa), uva (fe, q->avail_gpa), q->used_gpa };
    if (acked (fe, M_SET_VRING_ADDR, &a, sizeof (a), -1) < 0)
      return -1;
  }
  return 0;
}

int
fe_stop (struct fe *fe)
{
  for (unsigned i = 0; i < fe->nqueues; i++)
    if (vring_state (fe, M_SET_VRING_ENABLE, i, 0) < 0)
      return -1;
  for (unsigned i = 0; i < fe->nqueues; i++) {
    struct vhost_vring_state st = { i, 0 };
    if (!fe->q[i].started)
      continue;
    if (fe_raw (fe, M_GET_VRING_BASE, 0, &st, sizeof (st), -1, &st, sizeof (st)) < 0)
      return -1;
    fe->q[i].base = (uint16_t) st.num;
    fe->q[i].started = false;
  }
  close (fe->sock);
  fe->sock = -1;
  return 0;
}

void
fe_disconnected (struct fe *fe)
{
  /* virtio_queue_restore_last_avail_idx: the backend is gone, what it
   * fetched and did not complete is the inflight region's business */
  for (unsigned i = 0; i < fe->nqueues; i++) {
    fe->q[i].base = le16toh (__atomic_load_n (&fe->q[i].used->idx, __ATOMIC_ACQUIRE));
    fe->q[i].started = false;
  }
  if (fe->sock >= 0)
    close (fe->sock);
  fe->sock = -1;
}

int
fe_slot_get (struct fe *fe, unsigned qi)
{
  struct fe_queue *q = &fe->q[qi];

  for (unsigned s = 0; s < q->nslots; s++)
    if (!q->slots[s].busy)
      return (int) s;
  return -1;
}

/* Guest address of a slot's data buffer. */
static uint64_t
slot_data_gpa (const struct fe *fe, unsigned qi, unsigned slot)
{
  return fe->q[qi].data_gpa + (uint64_t) slot * (fe->max_io + fe->skew) + fe->skew;
}

uint8_t *
fe_slot_data (struct fe *fe, unsigned qi, unsigned slot)
{
  return fe->mem + slot_data_gpa (fe, qi, slot);
}

static uint16_t
head_of (const struct fe *fe, unsigned slot)
{
  return (uint16_t) (fe->indirect ? slot : slot * 3);
}

void
fe_submit (struct fe *fe, unsigned qi, unsigned slot, uint32_t type, uint64_t sector, uint32_t len,
           uint64_t tag)
{
  struct fe_queue *q = &fe->q[qi];
  uint64_t meta = q->meta_gpa + (uint64_t) slot * SLOT_META;
  struct virtio_blk_outhdr *h = (void *) (fe->mem + meta);
  bool device_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
  struct vring_desc chain[3];
  unsigned n = 0;
  uint16_t head = head_of (fe, slot);

  h->type = htole32 (type);
  h->ioprio = 0;
  h->sector = htole64 (sector);
  fe->mem[meta + 16] = 0xff;
  chain[n++] = (struct vring_desc) { htole64 (meta), htole32 (16), htole16 (VRING_DESC_F_NEXT), 0 };
  if (len)
    chain[n++] = (struct vring_desc) {
      htole64 (slot_data_gpa (fe, qi, slot)), htole32 (len),
      htole16 (VRING_DESC_F_NEXT | (device_writes ? VRING_DESC_F_WRITE : 0)), 0 };
  chain[n++] = (struct vring_desc) { htole64 (meta + 16), htole32 (1), htole16 (VRING_DESC_F_WRITE), 0 };
  if (fe->indirect) {
    struct vring_desc *table = (void *) (fe->mem + meta + 64);
    for (unsigned i = 0; i < n; i++) {
      table[i] = chain[i];
      table[i].next = htole16 ((uint16_t) (i + 1));
    }
    q->desc[head] = (struct vring_desc) { htole64 (meta + 64), htole32 (n * 16),
                                          htole16 (VRING_DESC_F_INDIRECT), 0 };
  } else {
    for (unsigned i = 0; i < n; i++) {
      q->desc[head + i] = chain[i];
      q->desc[head + i].next = htole16 ((uint16_t) (head + i + 1));
    }
  }
  q->slots[slot] = (struct fe_slot) { true, type, sector, len, fe_now_ns (), tag };
  q->busy++;
  q->avail->ring[q->avail_idx % q->size] = htole16 (head);
  q->avail_idx++;
}

static volatile uint16_t *
avail_event (struct fe_queue *q)
{
  return (volatile uint16_t *) ((char *) q->used + 4 + 8 * q->size);
}

static volatile uint16_t *
used_event (struct fe_queue *q)
{
  return (volatile uint16_t *) ((char *) q->avail + 4 + 2 * q->size);
}

void
fe_kick (struct fe *fe, unsigned qi)
{
  struct fe_queue *q = &fe->q[qi];
  bool kick;

  __atomic_store_n (&q->avail->idx, htole16 (q->avail_idx), __ATOMIC_RELEASE);
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  if (fe->features & BIT (VIRTIO_RING_F_EVENT_IDX))
    kick = vring_need_event (le16toh (*avail_event (q)), q->avail_idx, q->kicked_at);
  else
    kick = !(le16toh (q->used->flags) & VRING_USED_F_NO_NOTIFY);
  q->kicked_at = q->avail_idx;
  if (kick) {
    eventfd_write (q->kick_fd, 1);
    __atomic_fetch_add (&fe->kicks, 1, __ATOMIC_RELAXED);
  } else {
    __atomic_fetch_add (&fe->kicks_skipped, 1, __ATOMIC_RELAXED);
  }
}

int
fe_complete (struct fe *fe, unsigned qi, struct fe_done *out, unsigned max, int wait_ms)
{
  struct fe_queue *q = &fe->q[qi];
  uint64_t deadline = fe_now_ns () + (uint64_t) (wait_ms > 0 ? wait_ms : 0) * 1000000u;
  unsigned n = 0;

  for (;;) {
    uint16_t used = le16toh (__atomic_load_n (&q->used->idx, __ATOMIC_ACQUIRE));
    while (q->last_used != used && n < max) {
      struct vring_used_elem e = q->used->ring[q->last_used % q->size];
      uint32_t id = le32toh (e.id);
      unsigned slot = fe->indirect ? id : id / 3;
      if (id >= q->size || (!fe->indirect && id % 3) || slot >= q->nslots || !q->slots[slot].busy)
        return fail (fe, "queue %u: used element for head %u, which is not in flight", qi, id);
      out[n] = (struct fe_done) { slot, fe->mem[q->meta_gpa + (uint64_t) slot * SLOT_META + 16],
                                  le32toh (e.len), q->slots[slot].tag,
                                  fe_now_ns () - q->slots[slot].submitted_ns };
      q->slots[slot].busy = false;
      q->busy--;
      q->last_used++;
      n++;
    }
    if (fe->features & BIT (VIRTIO_RING_F_EVENT_IDX))
      *used_event (q) = htole16 (q->last_used);
    __atomic_thread_fence (__ATOMIC_SEQ_CST);
    if (n || wait_ms <= 0)
      return (int) n;
    if (q->last_used != le16toh (__atomic_load_n (&q->used->idx, __ATOMIC_ACQUIRE)))
      continue;
    {
      uint64_t now = fe_now_ns ();
      struct pollfd p = { q->call_fd, POLLIN, 0 };
      uint64_t v;
      if (now >= deadline)
        return 0;
      if (poll (&p, 1, (int) ((deadline - now) / 1000000u) + 1) > 0)
        if (read (q->call_fd, &v, sizeof (v)) < 0)
          continue;
    }
  }
}

int
fe_sync (struct fe *fe, unsigned qi, uint32_t type, uint64_t sector, const void *data, uint32_t len,
         void *out, uint32_t *used_len)
{
  int slot = fe_slot_get (fe, qi);
  struct fe_done d;

  if (slot < 0 || len > fe->max_io)
    return fail (fe, "queue %u: no free slot", qi);
  if (data)
    memcpy (fe_slot_data (fe, qi, (unsigned) slot), data, len);
  else if (len)
    memset (fe_slot_data (fe, qi, (unsigned) slot), 0xee, len);   /* to see what is written */
  fe_submit (fe, qi, (unsigned) slot, type, sector, len, 0);
  fe_kick (fe, qi);
  if (fe_complete (fe, qi, &d, 1, 5000) != 1)
    return fail (fe, "queue %u: request type %u did not complete", qi, type);
  if (out)
    memcpy (out, fe_slot_data (fe, qi, (unsigned) slot), len);
  if (used_len)
    *used_len = d.used_len;
  return d.status;
}

void
fe_chain (struct fe *fe, unsigned qi, uint16_t head, const struct fe_seg *segs, unsigned n,
          uint64_t table_gpa)
{
  struct fe_queue *q = &fe->q[qi];
  struct vring_desc *d = table_gpa ? fe_ptr (fe, table_gpa) : q->desc;
  uint16_t first = table_gpa ? 0 : head;

  for (unsigned i = 0; i < n; i++) {
    uint16_t at = (uint16_t) ((first + i) % (table_gpa ? 65536u : q->size));
    d[at].addr = htole64 (segs[i].gpa);
    d[at].len = htole32 (segs[i].len);
    d[at].flags = htole16 ((segs[i].write ? VRING_DESC_F_WRITE : 0)
                           | (i + 1 < n ? VRING_DESC_F_NEXT : 0));
    d[at].next = htole16 ((uint16_t) ((at + 1) % (table_gpa ? 65536u : q->size)));
  }
  if (table_gpa)
    q->desc[head] = (struct vring_desc) { htole64 (table_gpa), htole32 (n * 16),
                                          htole16 (VRING_DESC_F_INDIRECT), 0 };
  fe_publish_head (fe, qi, head, 0);
}

int
fe_used (struct fe *fe, unsigned qi, uint32_t *id, uint32_t *len, int wait_ms)
{
  struct fe_queue *q = &fe->q[qi];
  uint64_t deadline = fe_now_ns () + (uint64_t) wait_ms * 1000000u;

  for (;;) {
    if (q->last_used != le16toh (__atomic_load_n (&q->used->idx, __ATOMIC_ACQUIRE))) {
      struct vring_used_elem e = q->used->ring[q->last_used % q->size];
      *id = le32toh (e.id);
      *len = le32toh (e.len);
      q->last_used++;
      if (fe->features & BIT (VIRTIO_RING_F_EVENT_IDX))
        *used_event (q) = htole16 (q->last_used);
      return 1;
    }
    if (fe_now_ns () >= deadline)
      return 0;
    {
      struct pollfd p = { q->call_fd, POLLIN, 0 };
      uint64_t v;
      /* short waits: the call fd may be one the backend cannot signal */
      if (poll (&p, 1, 5) > 0 && read (q->call_fd, &v, sizeof (v)) < 0)
        continue;
    }
  }
}

struct vring_desc *
fe_desc (struct fe *fe, unsigned qi)
{
  return fe->q[qi].desc;
}

void
fe_publish_head (struct fe *fe, unsigned qi, uint16_t head, uint16_t avail_jump)
{
  struct fe_queue *q = &fe->q[qi];

  q->avail->ring[q->avail_idx % q->size] = htole16 (head);
  q->avail_idx = (uint16_t) (q->avail_idx + 1 + avail_jump);
  fe_kick (fe, qi);
}

void
fe_close (struct fe *fe)
{
  if (fe->sock >= 0)
    close (fe->sock);
  for (unsigned i = 0; i < fe->nqueues; i++) {
    close (fe->q[i].kick_fd);
    close (fe->q[i].call_fd);
    close (fe->q[i].err_fd);
    free (fe->q[i].slots);
  }
  if (fe->inflight_fd >= 0)
    close (fe->inflight_fd);
  if (fe->mem && fe->mem != MAP_FAILED)
    munmap (fe->mem, fe->mem_size);
  if (fe->memfd >= 0)
    close (fe->memfd);
}
