/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Split rings from the device side (chains, validation, notifications,
 * inflight recovery), request decoding and the dirty log, on guest memory
 * laid out by hand. */
#include <config.h>

#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "blk/blk.h"
#include "blk/virtq.h"

#define MEM (1u << 20)
#define QSIZE 16
#define UVA 0x7f0000000000ull
/* guest addresses */
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define INFL 0x4000
#define DATA 0x10000

struct ring {
  uint8_t *mem;
  struct vu_mem m;
  struct vu_log log;
  struct vq vq;
  struct vring_desc *desc;
  struct vring_avail *avail;
  struct vring_used *used;
};

/* A stopped ring of QSIZE over the rings above. */
static void
ring_init (struct ring *r)
{
  vq_init (&r->vq, 0, &r->m, &r->log);
  r->vq.size = QSIZE;
  r->vq.desc_addr = UVA + DESC;
  r->vq.avail_addr = UVA + AVAIL;
  r->vq.used_addr = UVA + USED;
  r->vq.addr_set = true;
  r->vq.enabled = true;
}

static int
setup (void **state)
{
  struct ring *r = calloc (1, sizeof (*r));

  assert_int_equal (posix_memalign ((void **) &r->mem, 4096, MEM), 0);
  memset (r->mem, 0, MEM);
  r->m.n = 1;
  r->m.r[0] = (struct vu_region) { 0, MEM, UVA, 0, r->mem, MEM };
  r->desc = (void *) (r->mem + DESC);
  r->avail = (void *) (r->mem + AVAIL);
  r->used = (void *) (r->mem + USED);
  ring_init (r);
  *state = r;
  return 0;
}

static int
teardown (void **state)
{
  struct ring *r = *state;

  free (r->vq.resubmit);
  free (r->mem);
  free (r);
  return 0;
}

static void
put (struct ring *r, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
  r->desc[i] = (struct vring_desc) { htole64 (addr), htole32 (len), htole16 (flags), htole16 (next) };
}

static void
offer (struct ring *r, uint16_t head)
{
  uint16_t idx = le16toh (r->avail->idx);

  r->avail->ring[idx % QSIZE] = htole16 (head);
  r->avail->idx = htole16 ((uint16_t) (idx + 1));
}

/* A 3-descriptor read request at @head (header, 4 KiB data, status). */
static void
read_request (struct ring *r, unsigned head, uint64_t sector)
{
  struct virtio_blk_outhdr *h = (void *) (r->mem + DATA + head * 0x2000);

  h->type = htole32 (VIRTIO_BLK_T_IN);
  h->sector = htole64 (sector);
  put (r, head, DATA + head * 0x2000, 16, VRING_DESC_F_NEXT, (uint16_t) (head + 1));
  put (r, head + 1, DATA + head * 0x2000 + 0x1000, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
       (uint16_t) (head + 2));
  put (r, head + 2, DATA + head * 0x2000 + 16, 1, VRING_DESC_F_WRITE, 0);
}

static void
test_chain (void **state)
{
  struct ring *r = *state;
  struct vq_elem e;

  assert_int_equal (vq_start (&r->vq), 0);
  assert_int_equal (vq_pop (&r->vq, &e), 0);
  read_request (r, 0, 8);
  offer (r, 0);
  assert_true (vq_has_work (&r->vq));
  assert_int_equal (vq_pop (&r->vq, &e), 1);
  assert_int_equal (e.head, 0);
  assert_int_equal (e.n_out, 1);
  assert_int_equal (e.n_in, 2);
  assert_ptr_equal (e.iov[1].iov_base, r->mem + DATA + 0x1000);
  assert_int_equal (e.iov[1].iov_len, 4096);
  assert_int_equal (e.gpa[2], DATA + 16);
  assert_false (vq_has_work (&r->vq));
}

static void
test_chain_split_at_region_end (void **state)
{
  struct ring *r = *state;
  struct vq_elem e;

  /* the same memory as two regions meeting at DATA + 0x800 */
  r->m.n = 2;
  r->m.r[0].size = DATA + 0x800;
  r->m.r[1] = (struct vu_region) { DATA + 0x800, MEM - DATA - 0x800, UVA + DATA + 0x800, 0,
                                   r->mem + DATA + 0x800, MEM - DATA - 0x800 };
  assert_int_equal (vq_start (&r->vq), 0);
  put (r, 0, DATA, 0x1000, VRING_DESC_F_WRITE, 0);
  offer (r, 0);
  assert_int_equal (vq_pop (&r->vq, &e), 1);
  assert_int_equal (e.n_in, 2);
  assert_int_equal (e.iov[0].iov_len, 0x800);
  assert_int_equal (e.iov[1].iov_len, 0x800);
  assert_ptr_equal (e.iov[1].iov_base, r->mem + DATA + 0x800);
  assert_int_equal (e.gpa[1], DATA + 0x800);
}

static void
test_indirect (void **state)
{
  struct ring *r = *state;
  struct vring_desc *t = (void *) (r->mem + DATA + 0x8000);
  struct vq_elem e;

  r->vq.indirect = true;
  assert_int_equal (vq_start (&r->vq), 0);
  t[0] = (struct vring_desc) { htole64 (DATA), htole32 (16), htole16 (VRING_DESC_F_NEXT), htole16 (1) };
  t[1] = (struct vring_desc) { htole64 (DATA + 0x1000), htole32 (512),
                               htole16 (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE), htole16 (2) };
  t[2] = (struct vring_desc) { htole64 (DATA + 16), htole32 (1), htole16 (VRING_DESC_F_WRITE), 0 };
  put (r, 5, DATA + 0x8000, 48, VRING_DESC_F_INDIRECT, 0);
  offer (r, 5);
  assert_int_equal (vq_pop (&r->vq, &e), 1);
  assert_int_equal (e.head, 5);
  assert_int_equal (e.n_out + e.n_in, 3);
  assert_int_equal (e.iov[1].iov_len, 512);
}

/* Each broken rule stops the ring with a reason; nothing is fetched after. */
static void
test_violations (void **state)
{
  struct ring *r = *state;
  static const struct {
    const char *why;
    int kind;
  } cases[] = {
    { "loops", 0 }, { "past the table", 1 }, { "outside guest memory", 2 },
    { "outside guest memory", 3 }, { "inside a chain", 4 }, { "indirect table of 24 bytes", 5 },
    { "readable descriptor after a writable", 6 }, { "avail index jumped", 7 },
    { "past the ring", 8 }, { "without VIRTIO_RING_F_INDIRECT_DESC", 9 },
  };

  for (size_t c = 0; c < sizeof (cases) / sizeof (cases[0]); c++) {
    struct vq_elem e;
    memset (r->mem + DESC, 0, 0x3000);
    ring_init (r);
    r->vq.indirect = cases[c].kind != 9;
    assert_int_equal (vq_start (&r->vq), 0);
    switch (cases[c].kind) {
    case 0:
      put (r, 0, DATA, 16, VRING_DESC_F_NEXT, 1);
      put (r, 1, DATA, 16, VRING_DESC_F_NEXT, 0);
      break;
    case 1: put (r, 0, DATA, 16, VRING_DESC_F_NEXT, QSIZE); break;
    case 2: put (r, 0, MEM, 1, 0, 0); break;
    case 3: put (r, 0, UINT64_MAX - 3, 16, 0, 0); break;
    case 4:
      put (r, 0, DATA, 16, VRING_DESC_F_NEXT, 1);
      put (r, 1, DATA + 0x8000, 32, VRING_DESC_F_INDIRECT, 0);
      break;
    case 5: put (r, 0, DATA + 0x8000, 24, VRING_DESC_F_INDIRECT, 0); break;
    case 6:
      put (r, 0, DATA, 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
      put (r, 1, DATA, 16, 0, 0);
      break;
    case 7: r->avail->idx = htole16 (QSIZE + 1); break;
    case 8: break;
    case 9: put (r, 0, DATA + 0x8000, 32, VRING_DESC_F_INDIRECT, 0); break;
    }
    if (cases[c].kind == 8) {
      r->avail->ring[0] = htole16 (QSIZE);
      r->avail->idx = htole16 (1);
    } else if (cases[c].kind != 7) {
      r->avail->ring[0] = 0;
      r->avail->idx = htole16 (1);
    }
    assert_int_equal (vq_pop (&r->vq, &e), -1);
    assert_true (r->vq.broken);
    if (strstr (r->vq.why, cases[c].why) == NULL)
      fail_msg ("case %zu: '%s' does not say '%s'", c, r->vq.why, cases[c].why);
    put (r, 2, DATA, 16, 0, 0);
    offer (r, 2);
    assert_int_equal (vq_pop (&r->vq, &e), 0);
  }
}

static void
test_event_idx (void **state)
{
  struct ring *r = *state;
  volatile uint16_t *used_event = (uint16_t *) (r->mem + AVAIL + 4 + 2 * QSIZE);
  volatile uint16_t *avail_event = (uint16_t *) (r->mem + USED + 4 + 8 * QSIZE);
  struct vq_elem e;

  r->vq.event_idx = true;
  assert_int_equal (vq_start (&r->vq), 0);
  for (unsigned i = 0; i < 3; i++) {
    read_request (r, i * 3, i);
    offer (r, (uint16_t) (i * 3));
  }
  assert_int_equal (vq_pop (&r->vq, &e), 1);
  assert_int_equal (*avail_event, 1);         /* kick me when past 1 */
  vq_push (&r->vq, e.head, 1);
  assert_true (vq_flush (&r->vq));             /* the first always notifies */
  assert_int_equal (le16toh (r->used->idx), 1);
  *used_event = 5;                             /* the driver wants one after 6 */
  assert_int_equal (vq_pop (&r->vq, &e), 1);
  vq_push (&r->vq, e.head, 1);
  assert_false (vq_flush (&r->vq));
  assert_int_equal (vq_pop (&r->vq, &e), 1);
  vq_push (&r->vq, e.head, 1);
  *used_event = 2;                             /* crossed by 2 -> 3 */
  assert_true (vq_flush (&r->vq));
  assert_false (vq_flush (&r->vq));            /* nothing new */
  /* polling: avail_event lags; back on, it catches up */
  vq_set_notification (&r->vq, false);
  read_request (r, 9, 0);
  offer (r, 9);
  assert_int_equal (vq_pop (&r->vq, &e), 1);
  assert_int_equal (*avail_event, 3);
  vq_set_notification (&r->vq, true);
  assert_int_equal (*avail_event, 4);
}

static void
test_no_event_idx (void **state)
{
  struct ring *r = *state;
  volatile uint16_t *avail_event = (uint16_t *) (r->mem + USED + 4 + 8 * QSIZE);
  struct vq_elem e;

  *avail_event = 0xabcd;
  assert_int_equal (vq_start (&r->vq), 0);
  read_request (r, 0, 0);
  offer (r, 0);
  assert_int_equal (vq_pop (&r->vq, &e), 1);
  vq_set_notification (&r->vq, false);
  assert_int_equal (le16toh (r->used->flags), VRING_USED_F_NO_NOTIFY);
  vq_set_notification (&r->vq, true);
  assert_int_equal (le16toh (r->used->flags), 0);
  /* a field that was not negotiated is never written (P2) */
  assert_int_equal (*avail_event, 0xabcd);
  vq_push (&r->vq, e.head, 1);
  r->avail->flags = htole16 (VRING_AVAIL_F_NO_INTERRUPT);
  assert_false (vq_flush (&r->vq));
  assert_int_equal (le16toh (r->used->idx), 1);
}

static void
restart (struct ring *r)
{
  struct vq_inflight *in = r->vq.inflight;

  free (r->vq.resubmit);
  ring_init (r);
  r->vq.inflight = in;
  r->vq.inflight_n = QSIZE;
  r->vq.last_avail = le16toh (r->used->idx);   /* what QEMU sends after a crash */
}

static void
test_inflight_recovery (void **state)
{
  struct ring *r = *state;
  struct vq_elem e;
  uint16_t order[3];

  r->vq.inflight = (void *) (r->mem + INFL);
  /* a region too small for the ring is never written */
  r->vq.inflight_n = QSIZE / 2;
  assert_int_equal (vq_start (&r->vq), -1);
  assert_true (r->vq.broken);
  assert_int_equal (r->vq.inflight->version, 0);
  r->vq.inflight_n = QSIZE;
  assert_int_equal (vq_start (&r->vq), 0);
  assert_int_equal (r->vq.inflight->version, 1);
  assert_int_equal (r->vq.inflight->desc_num, QSIZE);
  /* A, B, C fetched; C finishes first (out of order) */
  for (unsigned i = 0; i < 3; i++) {
    read_request (r, i * 3, i);
    offer (r, (uint16_t) (i * 3));
    assert_int_equal (vq_pop (&r->vq, &e), 1);
    order[i] = e.head;
  }
  assert_int_equal (r->vq.inflight->desc[3].inflight, 1);
  vq_push (&r->vq, order[2], 1);
  vq_flush (&r->vq);
  assert_int_equal (r->vq.inflight->desc[6].inflight, 0);
  assert_int_equal (r->vq.inflight->used_idx, 1);

  /* the backend dies; the next one must run A and B, in that order, once */
  restart (r);
  assert_int_equal (vq_start (&r->vq), 0);
  assert_int_equal (r->vq.n_resubmit, 2);
  assert_int_equal (r->vq.last_avail, 3);
  assert_int_equal (vq_pop (&r->vq, &e), 1);
  assert_int_equal (e.head, order[0]);
  assert_int_equal (vq_pop (&r->vq, &e), 1);
  assert_int_equal (e.head, order[1]);
  assert_int_equal (vq_pop (&r->vq, &e), 0);

  /* died after publishing a batch but before clearing its flags: the
   * published ones are not run again */
  vq_push (&r->vq, order[0], 1);
  vq_push (&r->vq, order[1], 1);
  r->used->idx = htole16 (3);                  /* published, flags still set */
  restart (r);
  assert_int_equal (vq_start (&r->vq), 0);
  assert_int_equal (r->vq.n_resubmit, 0);
  assert_int_equal (r->vq.inflight->used_idx, 3);
  assert_int_equal (r->vq.last_avail, 3);
}

static void
test_dirty_log (void **state)
{
  struct ring *r = *state;
  uint8_t bitmap[32] = { 0 };

  r->log = (struct vu_log) { bitmap, sizeof (bitmap), NULL, 0, false };
  vu_log_write (&r->log, 0x5000, 1);
  assert_int_equal (bitmap[0], 0);             /* not active */
  r->log.active = true;
  vu_log_write (&r->log, 0x5fff, 2);           /* pages 5 and 6 */
  assert_int_equal (bitmap[0], 0x60);
  vu_log_write (&r->log, 0x9000, 0);           /* nothing */
  assert_int_equal (bitmap[1], 0);
  vu_log_write (&r->log, 0xff000, 0x10000);    /* past the bitmap: cut */
  assert_int_equal (bitmap[31], 0x80);
  vu_log_write (&r->log, UINT64_MAX - 10, 100);  /* wraps: no crash */

  /* the used ring is logged when its address is */
  memset (bitmap, 0, sizeof (bitmap));
  r->vq.log_all = r->vq.log_used = true;
  r->vq.log_addr = USED;
  assert_int_equal (vq_start (&r->vq), 0);
  vq_push (&r->vq, 0, 1);
  vq_flush (&r->vq);
  assert_int_equal (bitmap[0], 1u << (USED / 4096));
}

struct decode_case {
  const char *name;
  uint32_t type;
  uint64_t sector;
  uint32_t data_len;
  bool split_header;
  bool read_only;
  uint32_t seg_flags;
  enum blk_op op;
  uint8_t status;
};

/* An indirect read of @ndata 512-byte data descriptors. */
static void
long_read (struct ring *r, unsigned ndata)
{
  struct vring_desc *t = (void *) (r->mem + DATA + 0x20000);
  struct virtio_blk_outhdr *h = (void *) (r->mem + DATA);
  unsigned n = 0;

  h->type = htole32 (VIRTIO_BLK_T_IN);
  h->sector = htole64 (0);
  t[n++] = (struct vring_desc) { htole64 (DATA), htole32 (16), htole16 (VRING_DESC_F_NEXT), htole16 (1) };
  for (unsigned i = 0; i < ndata; i++, n++)
    t[n] = (struct vring_desc) { htole64 (DATA + 0x1000 + i * 512), htole32 (512),
                                 htole16 (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE),
                                 htole16 ((uint16_t) (n + 1)) };
  t[n++] = (struct vring_desc) { htole64 (DATA + 100), htole32 (1), htole16 (VRING_DESC_F_WRITE), 0 };
  put (r, 0, DATA + 0x20000, n * 16, VRING_DESC_F_INDIRECT, 0);
  offer (r, 0);
}

/* Chains the rules allow but the device cannot serve fail as requests,
 * with IOERR in their status byte; the ring goes on. */
static void
test_long_chains (void **state)
{
  struct ring *r = *state;
  struct blk_dev b = { .fd = -1, .size = 64 << 20, .logical_block = 512 };
  struct vq_elem e;
  struct blk_req req;

  r->vq.indirect = true;
  assert_int_equal (vq_start (&r->vq), 0);
  /* 300 descriptors: more pieces than an element holds */
  long_read (r, 298);
  assert_int_equal (vq_pop (&r->vq, &e), 1);
  assert_true (e.truncated);
  assert_int_equal (e.n_desc, 300);
  assert_int_equal (e.n_out, 0);
  assert_int_equal (e.n_in, 1);
  assert_int_equal (e.gpa[0], DATA + 100);
  blk_req_decode (&b, true, &e, &req);
  assert_int_equal (req.op, BLK_OP_DONE);
  assert_int_equal (req.status_value, VIRTIO_BLK_S_IOERR);
  assert_ptr_equal (req.status, r->mem + DATA + 100);
  /* seg_max + 1 data descriptors: held, but more than announced */
  long_read (r, BLK_SEG_MAX + 1);
  assert_int_equal (vq_pop (&r->vq, &e), 1);
  assert_false (e.truncated);
  blk_req_decode (&b, true, &e, &req);
  assert_int_equal (req.status_value, VIRTIO_BLK_S_IOERR);
  /* seg_max: fine; the status piece, emptied, is not a data piece */
  long_read (r, BLK_SEG_MAX);
  assert_int_equal (vq_pop (&r->vq, &e), 1);
  blk_req_decode (&b, true, &e, &req);
  assert_int_equal (req.op, BLK_OP_READ);
  assert_int_equal (req.len, BLK_SEG_MAX * 512);
  assert_int_equal (req.niov, BLK_SEG_MAX);
  assert_false (r->vq.broken);
}

/* Reads and writes up to size_max x seg_max bytes, not one sector more,
 * on a disk large enough for both. */
static void
test_decode_limits (void **state)
{
  static uint8_t mem[8192] __attribute__ ((aligned (4096)));
  struct blk_dev b = { .fd = -1, .size = 1ull << 30, .logical_block = 512 };

  (void) state;
  for (unsigned k = 0; k < 4; k++) {
    uint32_t type = k & 1 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
    uint64_t len = BLK_MAX_DATA + (k & 2 ? 512 : 0);
    struct virtio_blk_outhdr h = { htole32 (type), 0, 0 };
    struct vq_elem e = { 0 };
    struct blk_req r;
    /* pieces are not touched: one long iovec stands for the data */
    memcpy (mem, &h, sizeof (h));
    e.iov[0] = (struct iovec) { mem, 16 };
    e.iov[1] = (struct iovec) { mem + 4096, (size_t) len };
    e.iov[2] = (struct iovec) { mem + 100, 1 };
    e.n_out = type == VIRTIO_BLK_T_OUT ? 2 : 1;
    e.n_in = 3 - e.n_out;
    e.n_desc = 3;
    blk_req_decode (&b, true, &e, &r);
    if (k & 2) {
      assert_int_equal (r.op, BLK_OP_DONE);
      assert_int_equal (r.status_value, VIRTIO_BLK_S_IOERR);
    } else {
      assert_int_equal (r.op, type == VIRTIO_BLK_T_IN ? BLK_OP_READ : BLK_OP_WRITE);
    }
  }
}

static void
test_decode (void **state)
{
  static const struct decode_case cases[] = {
    { "read", VIRTIO_BLK_T_IN, 8, 4096, false, false, 0, BLK_OP_READ, 0 },
    { "read, header in two pieces", VIRTIO_BLK_T_IN, 8, 4096, true, false, 0, BLK_OP_READ, 0 },
    { "read the last sector", VIRTIO_BLK_T_IN, 2047, 512, false, false, 0, BLK_OP_READ, 0 },
    { "read past the end", VIRTIO_BLK_T_IN, 2047, 1024, false, false, 0, BLK_OP_DONE, VIRTIO_BLK_S_IOERR },
    { "read of 100 bytes", VIRTIO_BLK_T_IN, 0, 100, false, false, 0, BLK_OP_DONE, VIRTIO_BLK_S_IOERR },
    { "huge sector", VIRTIO_BLK_T_IN, UINT64_MAX, 512, false, false, 0, BLK_OP_DONE, VIRTIO_BLK_S_IOERR },
    { "write", VIRTIO_BLK_T_OUT, 0, 4096, false, false, 0, BLK_OP_WRITE, 0 },
    { "write, read-only", VIRTIO_BLK_T_OUT, 0, 4096, false, true, 0, BLK_OP_DONE, VIRTIO_BLK_S_IOERR },
    { "flush", VIRTIO_BLK_T_FLUSH, 0, 0, false, false, 0, BLK_OP_FLUSH, 0 },
    { "get id", VIRTIO_BLK_T_GET_ID, 0, 20, false, false, 0, BLK_OP_DONE, VIRTIO_BLK_S_OK },
    { "discard", VIRTIO_BLK_T_DISCARD, 0, 16, false, false, 0, BLK_OP_FALLOCATE, 0 },
    { "discard, unmap flag", VIRTIO_BLK_T_DISCARD, 0, 16, false, false, 1, BLK_OP_DONE, VIRTIO_BLK_S_UNSUPP },
    { "write zeroes, unmap", VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, false, 1, BLK_OP_FALLOCATE, 0 },
    { "write zeroes, flag 2", VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, false, 2, BLK_OP_DONE, VIRTIO_BLK_S_UNSUPP },
    { "discard, two segments", VIRTIO_BLK_T_DISCARD, 0, 32, false, false, 0, BLK_OP_DONE, VIRTIO_BLK_S_IOERR },
    { "discard, read-only", VIRTIO_BLK_T_DISCARD, 0, 16, false, true, 0, BLK_OP_DONE, VIRTIO_BLK_S_IOERR },
    { "unknown type", 77, 0, 0, false, false, 0, BLK_OP_DONE, VIRTIO_BLK_S_UNSUPP },
  };
  static uint8_t mem[65536] __attribute__ ((aligned (4096)));
  struct blk_dev b = { .fd = -1, .size = 1 << 20, .logical_block = 512, .serial = "serial-1" };

  for (size_t c = 0; c < sizeof (cases) / sizeof (cases[0]); c++) {
    const struct decode_case *k = &cases[c];
    struct virtio_blk_outhdr h = { htole32 (k->type), 0, htole64 (k->sector) };
    bool writes = k->type == VIRTIO_BLK_T_IN || k->type == VIRTIO_BLK_T_GET_ID;
    struct vq_elem e = { 0 };
    struct blk_req r;
    unsigned n = 0;

    memset (mem, 0, sizeof (mem));
    memcpy (mem, &h, sizeof (h));
    if (k->type == VIRTIO_BLK_T_DISCARD || k->type == VIRTIO_BLK_T_WRITE_ZEROES) {
      struct virtio_blk_discard_write_zeroes seg = { htole64 (8), htole32 (8), htole32 (k->seg_flags) };
      memcpy (mem + 4096, &seg, sizeof (seg));
    }
    if (k->split_header) {
      e.iov[n++] = (struct iovec) { mem, 5 };
      e.iov[n++] = (struct iovec) { mem + 5, 11 };
    } else {
      e.iov[n++] = (struct iovec) { mem, 16 };
    }
    if (k->data_len && !writes)
      e.iov[n++] = (struct iovec) { mem + 4096, k->data_len };
    e.n_out = n;
    if (k->data_len && writes)
      e.iov[n++] = (struct iovec) { mem + 8192, k->data_len };
    e.iov[n++] = (struct iovec) { mem + 100, 1 };
    e.n_in = n - e.n_out;
    b.read_only = k->read_only;
    blk_req_decode (&b, true, &e, &r);
    if (r.op != k->op || (r.op == BLK_OP_DONE && r.status_value != k->status))
      fail_msg ("%s: op %d status %d, expected op %d status %d", k->name, r.op, r.status_value,
                k->op, k->status);
    assert_ptr_equal (r.status, mem + 100);
    assert_int_equal (blk_req_finish (&r, 0), k->data_len * writes + 1);
    if (k->op == BLK_OP_READ || k->op == BLK_OP_WRITE) {
      assert_int_equal (r.offset, k->sector * 512);
      assert_int_equal (r.len, k->data_len);
      assert_int_equal (r.niov, 1);     /* the data only, not the status piece */
    }
    if (k->type == VIRTIO_BLK_T_GET_ID)
      assert_string_equal ((char *) mem + 8192, "serial-1");
    if (k->op == BLK_OP_FALLOCATE) {
      assert_int_equal (r.offset, 8 * 512);
      assert_int_equal (r.len, 8 * 512);
    }
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_chain, setup, teardown),
    cmocka_unit_test_setup_teardown (test_chain_split_at_region_end, setup, teardown),
    cmocka_unit_test_setup_teardown (test_indirect, setup, teardown),
    cmocka_unit_test_setup_teardown (test_violations, setup, teardown),
    cmocka_unit_test_setup_teardown (test_event_idx, setup, teardown),
    cmocka_unit_test_setup_teardown (test_no_event_idx, setup, teardown),
    cmocka_unit_test_setup_teardown (test_inflight_recovery, setup, teardown),
    cmocka_unit_test_setup_teardown (test_dirty_log, setup, teardown),
    cmocka_unit_test_setup_teardown (test_long_chains, setup, teardown),
    cmocka_unit_test (test_decode),
    cmocka_unit_test (test_decode_limits),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
