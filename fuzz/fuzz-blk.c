/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for virt-dataplane-blk: the first byte picks what the
 * rest is.  0: a sequence of vhost-user messages to the control plane, each
 * with descriptors of a kind and size the input chooses (memfds of several
 * sizes, regular files, pipes, eventfds, full eventfds, sockets), memfds
 * possibly shrunk after the backend mapped them; after each message the
 * rings that run are walked, with faults in shrunk memory caught as the
 * workers catch them.  Otherwise: guest memory holding rings, descriptor
 * chains, indirect tables, an inflight region and requests, walked and
 * decoded.
 * Build and run: make fuzz/fuzz-blk && fuzz/fuzz-blk -max_total_time=600 */
#include <config.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blk/blk.h"
#include "blk/fault.h"
#include "blk/log.h"
#include "blk/vhost-user.h"

#define MEM (64u << 10)
#define UVA 0x7f0000000000ull
#define MAX_KEPT 16

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* memfd sizes a message's descriptor may have */
static const uint32_t sizes[8] = { 0, 4096, MEM, 1u << 20, 16384, MEM - 4096, 2 * MEM, 8192 };

/* memfds sent so far, which a later message may shrink */
static int kept[MAX_KEPT];
static unsigned n_kept;

/* A descriptor of the kind @ctl asks for (-1: none). */
static int
make_fd (uint8_t ctl)
{
  int fd = -1, p[2];

  switch (ctl & 7) {
  case 1:
  case 2:
    fd = memfd_create ("fuzz", MFD_CLOEXEC);
    if (fd >= 0 && ftruncate (fd, sizes[(ctl >> 3) & 7]) < 0) {
      close (fd);
      return -1;
    }
    if (fd >= 0 && n_kept < MAX_KEPT)
      kept[n_kept++] = dup (fd);
    break;
  case 3:
    if (pipe (p) == 0) {
      fd = p[0];
      close (p[1]);
    }
    break;
  case 4:
    fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
    break;
  case 5:
    fd = eventfd (0, EFD_CLOEXEC);     /* blocking, and full */
    if (fd >= 0)
      eventfd_write (fd, 0xfffffffffffffffeull);
    break;
  case 6:
    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) == 0) {
      fd = p[0];
      close (p[1]);
    }
    break;
  case 7:
    fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
    break;
  default:
    break;
  }
  return fd;
}

static void
send_with (int sock, const uint8_t *msg, size_t len, const int *fds, unsigned n)
{
  struct iovec iov = { (void *) msg, len };
  char control[CMSG_SPACE (4 * sizeof (int))] = { 0 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

  if (n) {
    struct cmsghdr *cm;
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE (n * sizeof (int));
    cm = CMSG_FIRSTHDR (&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN (n * sizeof (int));
    memcpy (CMSG_DATA (cm), fds, n * sizeof (int));
  }
  if (sendmsg (sock, &mh, MSG_NOSIGNAL) != (ssize_t) len)
    abort ();
}

/* Replies (and the descriptors they carry) are read and dropped. */
static void
drain (int sock)
{
  char buf[8192], control[CMSG_SPACE (8 * sizeof (int))];

  for (;;) {
    struct iovec iov = { buf, sizeof (buf) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof (control) };
    struct cmsghdr *cm;
    if (recvmsg (sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
      return;
    for (cm = CMSG_FIRSTHDR (&mh); cm; cm = CMSG_NXTHDR (&mh, cm))
      if (cm->cmsg_type == SCM_RIGHTS)
        for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN (0)) / sizeof (int); i++)
          close (((int *) CMSG_DATA (cm))[i]);
  }
}

/* Walks what the running rings have, as a worker would: a fault in
 * shrunk memory stops that ring. */
static void
walk_rings (struct vu_dev *dev)
{
  static struct vq_elem e;
  static sigjmp_buf env;
  static unsigned i;

  for (i = 0; i < dev->max_queues; i++) {
    struct vq *vq = &dev->vqs[i];
    if (!vq->started || vq->broken)
      continue;
    if (sigsetjmp (env, 0)) {
      vq_fail (&dev->vqs[i], "fault");
      blk_log (BLK_LOG_DEBUG, "queue %u: fault at %p", i, blk_fault_addr ());
      continue;
    }
    blk_fault_arm (&env);
    blk_log (BLK_LOG_DEBUG, "queue %u runs", i);
    for (int n = 0; n < 8 && vq_pop (vq, &e) == 1; n++)
      vq_push (vq, e.head, 0);
    if (!vq->broken)
      vq_flush (vq);
    blk_fault_disarm ();
  }
}

/* Records: [ctl][12-byte header][payload of the header's size].  ctl bits
 * 0-2: descriptor kind (0 none, 1 memfd, 2 two memfds, 3 pipe, 4 eventfd,
 * 5 full blocking eventfd, 6 socket, 7 /dev/null); 3-5: memfd size; 6:
 * shrink every memfd sent so far to half once the message is handled. */
static void
messages (const uint8_t *data, size_t size)
{
  static struct vu_dev dev;
  static struct vu_msg msg;
  int sv[2];
  void *mem;
  size_t at = 0;

  if (socketpair (AF_UNIX, SOCK_STREAM, 0, sv) < 0)
    abort ();
  vu_dev_init (&dev, sv[0]);
  dev.max_queues = 4;
  dev.features = ~0ull;
  dev.protocol_features = (1ull << 16) - 1;
  mem = mmap (NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  dev.mem.n = 1;
  dev.mem.r[0] = (struct vu_region) { 0, MEM, UVA, 0, mem, MEM };
  n_kept = 0;
  while (at < size) {
    uint8_t ctl = data[at++];
    size_t len = size - at < 12 ? size - at : 12;
    uint32_t psize;
    int fds[2] = { -1, -1 }, r;
    unsigned n = 0;
    if (len < 12) {
      /* a header cut short: the connection ends with it */
      send_with (sv[1], data + at, len, NULL, 0);
      shutdown (sv[1], SHUT_WR);
      at = size;
    } else {
      memcpy (&psize, data + at + 8, 4);
      len = 12 + (psize < size - at - 12 ? psize : size - at - 12);
      if ((fds[0] = make_fd (ctl)) >= 0)
        n++;
      if ((ctl & 7) == 2 && (fds[1] = make_fd (ctl)) >= 0)
        n++;
      send_with (sv[1], data + at, len, fds, n);
      for (unsigned k = 0; k < 2; k++)
        if (fds[k] >= 0)
          close (fds[k]);
      at += len;
      if (at >= size)
        shutdown (sv[1], SHUT_WR);
    }
    r = vu_recv (&dev, &msg);
    if (r <= 0 || vu_handle (&dev, &msg) < 0) {
      blk_log (BLK_LOG_DEBUG, "dropped: %s", dev.error);
      break;
    }
    drain (sv[1]);
    if (ctl & 0x40)
      for (unsigned k = 0; k < n_kept; k++) {
        off_t half = lseek (kept[k], 0, SEEK_END) / 2;
        if (ftruncate (kept[k], half) < 0)
          abort ();
      }
    walk_rings (&dev);
  }
  vu_dev_reset (&dev);
  for (unsigned k = 0; k < n_kept; k++)
    close (kept[k]);
  close (sv[0]);
  close (sv[1]);
}

static void
chains (const uint8_t *data, size_t size)
{
  static uint8_t mem[MEM] __attribute__ ((aligned (4096)));
  static struct vq_elem e;
  struct vu_mem m = { 1, { { 0, MEM, UVA, 0, mem, MEM } } };
  struct vu_log log = { 0 };
  struct blk_dev b = { .fd = -1, .null = true, .size = 1 << 20, .logical_block = 512 };
  struct vq vq;
  uint8_t flags = data[0];

  memset (mem, 0, sizeof (mem));
  memcpy (mem, data + 1, size - 1 < MEM ? size - 1 : MEM);
  vq_init (&vq, 0, &m, &log);
  vq.size = (uint16_t) (1u << (flags % 11));            /* 1 to 1024 */
  vq.desc_addr = UVA + 0x0;
  vq.avail_addr = UVA + 0x4000;
  vq.used_addr = UVA + 0x5000;
  vq.addr_set = true;
  vq.enabled = true;
  vq.indirect = flags & 0x10;
  vq.event_idx = flags & 0x20;
  if (flags & 0x40) {
    vq.inflight = (struct vq_inflight *) (mem + 0x8000);  /* recovery from fuzzed state */
    vq.inflight_n = (MEM - 0x8000 - 16) / 16;
  }
  vq.last_avail = mem[0x7000] | (uint16_t) (mem[0x7001] << 8);
  if (vq_start (&vq) < 0)
    goto out;
  for (int n = 0; n < 64; n++) {
    struct blk_req r;
    int rc = vq_pop (&vq, &e);
    if (rc <= 0)
      break;
    blk_req_decode (&b, flags & 0x80, &e, &r);
    vq_push (&vq, e.head, blk_req_finish (&r, 0));
    if (n % 4 == 3)
      vq_flush (&vq);
  }
  vq_flush (&vq);
  vq_set_notification (&vq, false);
  vq_set_notification (&vq, true);
out:
  free (vq.resubmit);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static bool ready;

  if (!ready) {
    /* quiet, unless FUZZ_BLK_LOG is set (to see what an input does) */
    blk_log_level = getenv ("FUZZ_BLK_LOG") ? BLK_LOG_DEBUG : -1;
    if (blk_fault_init () < 0)
      abort ();
    ready = true;
  }
  if (size < 1)
    return 0;
  if (data[0] == 0)
    messages (data + 1, size - 1);
  else if (size > 1)
    chains (data + 1, size - 1);
  return 0;
}
