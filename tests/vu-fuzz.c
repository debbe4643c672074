/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vdp-blk-client fuzz: malformed messages and descriptor chains against a
 * running backend, which must stay up and keep serving its other queues. */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "vu-frontend.h"

static uint64_t seed = 0x2545f4914f6cdd1dull;

static uint64_t
rnd (void)
{
  return fe_rand (&seed);
}

const char *const fe_bad_chain_names[K_LAST] = {
  "loop", "next-past-table", "outside-memory", "huge-length", "nested-indirect",
  "indirect-length", "indirect-outside", "readable-after-writable", "avail-jump", "head-past-ring",
  "address-wraps", "indirect-loop", "random-bytes",
};

static void
desc (struct vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
  d->addr = htole64 (addr);
  d->len = htole32 (len);
  d->flags = htole16 (flags);
  d->next = htole16 (next);
}

void
fe_bad_chain (struct fe *fe, enum fe_bad_chain kind)
{
  struct vring_desc *d = fe_desc (fe, 0);
  uint64_t meta = fe->q[0].meta_gpa, size = fe->mem_size;
  struct vring_desc *table = (void *) (fe->mem + meta + 64);
  uint16_t head = 0, jump = 0;

  switch (kind) {
  case K_LOOP:
    desc (&d[0], meta, 16, VRING_DESC_F_NEXT, 1);
    desc (&d[1], meta + 16, 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0);
    break;
  case K_NEXT_PAST:
    desc (&d[0], meta, 16, VRING_DESC_F_NEXT, (uint16_t) (fe->qsize + 5));
    break;
  case K_OUTSIDE:
    desc (&d[0], size + 4096, 16, VRING_DESC_F_NEXT, 1);
    desc (&d[1], meta + 16, 1, VRING_DESC_F_WRITE, 0);
    break;
  case K_HUGE_LEN:
    desc (&d[0], meta, 0xfffffff0u, VRING_DESC_F_NEXT, 1);
    desc (&d[1], meta + 16, 1, VRING_DESC_F_WRITE, 0);
    break;
  case K_NESTED_INDIRECT:
    desc (&d[0], meta + 64, 32, VRING_DESC_F_INDIRECT, 0);
    desc (&table[0], meta + 64, 32, VRING_DESC_F_INDIRECT, 0);
    break;
  case K_INDIRECT_LEN:
    desc (&d[0], meta + 64, 20, VRING_DESC_F_INDIRECT, 0);
    break;
  case K_INDIRECT_OUTSIDE:
    desc (&d[0], size - 16, 64, VRING_DESC_F_INDIRECT, 0);
    break;
  case K_READ_AFTER_WRITE:
    desc (&d[0], meta + 16, 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
    desc (&d[1], meta, 16, 0, 0);
    break;
  case K_AVAIL_JUMP:
    desc (&d[0], meta, 16, VRING_DESC_F_NEXT, 1);
    desc (&d[1], meta + 16, 1, VRING_DESC_F_WRITE, 0);
    jump = (uint16_t) (fe->qsize + 3);
    break;
  case K_HEAD_PAST:
    head = (uint16_t) (fe->qsize + 1);
    break;
  case K_WRAP_ADDR:
    desc (&d[0], UINT64_MAX - 7, 16, VRING_DESC_F_NEXT, 1);
    desc (&d[1], meta + 16, 1, VRING_DESC_F_WRITE, 0);
    break;
  case K_INDIRECT_LOOP:
    desc (&d[0], meta + 64, 32, VRING_DESC_F_INDIRECT, 0);
    desc (&table[0], meta, 16, VRING_DESC_F_NEXT, 1);
    desc (&table[1], meta + 16, 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0);
    break;
  case K_RANDOM:
  case K_LAST:
    for (unsigned i = 0; i < fe->qsize; i++) {
      uint64_t a = rnd (), b = rnd ();
      memcpy (&d[i], &a, 8);
      memcpy ((char *) &d[i] + 8, &b, 8);
      if (rnd () % 2)
        d[i].addr = htole64 (rnd () % size);
    }
    head = (uint16_t) (rnd () % fe->qsize);
    break;
  }
  fe_publish_head (fe, 0, head, jump);
}

static bool
alive (pid_t pid)
{
  return pid == 0 || kill (pid, 0) == 0;
}

/* Queue 1 writes and reads back: the other queues are unaffected. */
static bool
other_queue_works (struct fe *fe)
{
  static uint8_t buf[4096], back[4096];

  memset (buf, (int) (rnd () & 0xff), sizeof (buf));
  return fe_sync (fe, 1, VIRTIO_BLK_T_OUT, 8, buf, 4096, NULL, NULL) == 0
         && fe_sync (fe, 1, VIRTIO_BLK_T_IN, 8, NULL, 4096, back, NULL) == 0
         && memcmp (buf, back, 4096) == 0;
}

static int
fuzz_chains (const char *socket, unsigned iterations, pid_t pid)
{
  unsigned stopped = 0;

  for (unsigned it = 0; it < iterations; it++) {
    static struct fe fe;
    enum fe_bad_chain kind = it < K_LAST ? (enum fe_bad_chain) it : (enum fe_bad_chain) (rnd () % K_LAST);
    struct fe_done d;
    int n;

    if (fe_init (&fe, 16u << 20, 2, 128, 4096, rnd () % 2) < 0
        || fe_connect (&fe, socket, 5000, (1ull << VIRTIO_RING_F_INDIRECT_DESC)
                                          | (rnd () % 2 ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0)) < 0) {
      fprintf (stderr, "fuzz chains %u (%s): connect: %s\n", it, fe_bad_chain_names[kind], fe.err);
      return 1;
    }
    fe_bad_chain (&fe, kind);
    n = fe_complete (&fe, 0, &d, 1, 200);
    if (kind != K_RANDOM) {
      if (n != 0) {
        fprintf (stderr, "fuzz chains %u (%s): the bad chain completed\n", it, fe_bad_chain_names[kind]);
        return 1;
      }
      stopped++;
    }
    if (!alive (pid) || !other_queue_works (&fe)) {
      fprintf (stderr, "fuzz chains %u (%s): %s\n", it, fe_bad_chain_names[kind],
               alive (pid) ? "the other queue stopped working" : "the backend died");
      return 1;
    }
    fe_stop (&fe);
    fe_close (&fe);
  }
  printf ("chains: %u iterations, %u deterministic bad chains stopped their queue, backend alive\n",
          iterations, stopped);
  return 0;
}

static int
fuzz_messages (const char *socket, unsigned iterations, pid_t pid)
{
  unsigned dropped = 0;

  for (unsigned it = 0; it < iterations; it++) {
    static struct fe fe;
    uint8_t payload[512];
    unsigned count = 1 + (unsigned) (rnd () % 8);
    bool handshake = rnd () % 2;

    if (fe_init (&fe, 4u << 20, 2, 64, 4096, false) < 0
        || (handshake ? fe_connect (&fe, socket, 5000, 0) : fe_dial (&fe, socket, 5000)) < 0) {
      fprintf (stderr, "fuzz messages %u: connect: %s\n", it, fe.err);
      return 1;
    }
    for (unsigned m = 0; m < count; m++) {
      uint32_t request = (uint32_t) (rnd () % 45);
      uint32_t flags = rnd () % 8 ? 0 : (uint32_t) (rnd () % 16) ^ 1;
      uint32_t size = (uint32_t) (rnd () % 4 ? rnd () % 64 : rnd () % sizeof (payload));
      int fd = -1;
      for (unsigned i = 0; i < sizeof (payload); i++)
        payload[i] = (uint8_t) rnd ();
      if (rnd () % 4 == 0) {
        /* plausible small values: queue indexes, sizes */
        uint32_t v[4] = { (uint32_t) (rnd () % 4), (uint32_t) (rnd () % 2048), 0, 0 };
        memcpy (payload, v, sizeof (v));
      }
      if (rnd () % 3 == 0)
        fd = rnd () % 2 ? fe.memfd : fe.q[0].call_fd;
      if (fe_raw (&fe, request, flags & ~4u, payload, size, fd, NULL, 0) < 0) {
        dropped++;
        break;
      }
    }
    fe_close (&fe);
    if (!alive (pid)) {
      fprintf (stderr, "fuzz messages %u: the backend died\n", it);
      return 1;
    }
  }
  /* and it still serves a well-behaved front-end */
  {
    static struct fe fe;
    static uint8_t buf[4096];
    if (fe_init (&fe, 16u << 20, 2, 128, 4096, false) < 0 || fe_connect (&fe, socket, 5000, 0) < 0
        || fe_sync (&fe, 0, VIRTIO_BLK_T_IN, 0, NULL, 4096, buf, NULL) != 0) {
      fprintf (stderr, "fuzz messages: afterwards: %s\n", fe.err);
      return 1;
    }
    fe_stop (&fe);
    fe_close (&fe);
  }
  printf ("messages: %u connections, %u dropped by the backend, backend alive and serving\n",
          iterations, dropped);
  return 0;
}

int fuzz (const char *socket, unsigned iterations, pid_t pid, unsigned queues);

int
fuzz (const char *socket, unsigned iterations, pid_t pid, unsigned queues)
{
  (void) queues;
  if (fuzz_chains (socket, iterations, pid))
    return 1;
  return fuzz_messages (socket, iterations, pid);
}
