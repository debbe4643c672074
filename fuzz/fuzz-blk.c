/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for virt-dataplane-blk: the first byte picks what the
 * rest is.  0: a stream of vhost-user messages to the control plane (with
 * guest memory mapped, so ring messages reach address translation);
 * otherwise: guest memory holding rings, descriptor chains, indirect
 * tables, an inflight region and requests, walked and decoded.
 * Build and run: make fuzz/fuzz-blk && fuzz/fuzz-blk -max_total_time=600 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blk/blk.h"
#include "blk/log.h"
#include "blk/vhost-user.h"

#define MEM (64u << 10)
#define UVA 0x7f0000000000ull

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
messages (const uint8_t *data, size_t size)
{
  static struct vu_dev dev;
  int sv[2];
  void *mem;

  if (socketpair (AF_UNIX, SOCK_STREAM, 0, sv) < 0)
    abort ();
  vu_dev_init (&dev, sv[0]);
  dev.max_queues = 4;
  dev.features = ~0ull;
  dev.protocol_features = (1ull << 16) - 1;
  mem = mmap (NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  dev.mem.n = 1;
  dev.mem.r[0] = (struct vu_region) { 0, MEM, UVA, 0, mem, MEM };
  /* the socket buffer holds any input libFuzzer makes (-max_len 4096) */
  if (write (sv[1], data, size) != (ssize_t) size)
    abort ();
  shutdown (sv[1], SHUT_WR);
  vu_serve (&dev, NULL);
  for (unsigned i = 0; i < dev.max_queues; i++) {
    struct vq_elem e;
    for (int n = 0; n < 8 && vq_pop (&dev.vqs[i], &e) == 1; n++)
      vq_push (&dev.vqs[i], e.head, 0);
    if (dev.vqs[i].started && !dev.vqs[i].broken)
      vq_flush (&dev.vqs[i]);
  }
  vu_dev_reset (&dev);
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
  if (flags & 0x40)
    vq.inflight = (struct vq_inflight *) (mem + 0x8000);  /* recovery from fuzzed state */
  if (vq.inflight && vq.size > (MEM - 0x8000 - 16) / 16)
    vq.inflight = NULL;
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
  blk_log_level = -1;           /* quiet */
  if (size < 1)
    return 0;
  if (data[0] == 0)
    messages (data + 1, size - 1);
  else if (size > 1)
    chains (data + 1, size - 1);
  return 0;
}
