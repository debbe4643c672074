/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backend's vhost-user control plane, driven over a socketpair the way
 * QEMU 7.2 drives it (negotiation, exact-size GET_CONFIG, REPLY_ACK), plus
 * malformed input: the connection is refused, the process goes on. */
#include <config.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "blk/blk.h"
#include "blk/vhost-user.h"

#define BIT(n) (1ull << (n))

struct server {
  struct vu_dev dev;
  struct blk_dev blk;
  pthread_t thread;
  int rc;
  int fe;                 /* the front-end's end */
  char path[64];
};

static void *
serve (void *p)
{
  struct server *s = p;
  s->rc = vu_serve (&s->dev, NULL, -1);
  return NULL;
}

static int
start (void **state)
{
  struct server *s = calloc (1, sizeof (*s));
  int sv[2];
  char err[256];
  FILE *f;

  snprintf (s->path, sizeof (s->path), "/var/tmp/vdp-blk-XXXXXX");
  close (mkstemp (s->path));
  f = fopen (s->path, "w");
  assert_int_equal (ftruncate (fileno (f), 8 << 20), 0);   /* 8 MiB */
  fclose (f);
  assert_int_equal (blk_open (&s->blk, s->path, false, "vdp-serial", err, sizeof (err)), 0);
  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  vu_dev_init (&s->dev, sv[0]);
  s->dev.max_queues = 4;
  s->dev.features = blk_features (&s->blk) | BIT (VU_F_PROTOCOL_FEATURES);
  s->dev.protocol_features = BIT (VU_PROTOCOL_F_MQ) | BIT (VU_PROTOCOL_F_REPLY_ACK)
                             | BIT (VU_PROTOCOL_F_CONFIG) | BIT (VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
  blk_fill_config (&s->blk, 4, &s->dev.config);
  s->fe = sv[1];
  pthread_create (&s->thread, NULL, serve, s);
  *state = s;
  return 0;
}

static int
stop (void **state)
{
  struct server *s = *state;
  close (s->fe);
  pthread_join (s->thread, NULL);
  close (s->dev.fd);
  vu_dev_reset (&s->dev);
  blk_close (&s->blk);
  unlink (s->path);
  free (s);
  return 0;
}

/* Sends a request; reads the reply when one is expected. */
static void
request (struct server *s, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
         struct vu_msg *reply_out)
{
  struct vu_msg m = { 0 };

  m.hdr.request = req;
  m.hdr.flags = VU_VERSION | flags;
  m.hdr.size = size;
  if (size)
    memcpy (m.payload.raw, payload, size);
  assert_int_equal (vu_send (s->fe, &m, -1), 0);
  if (reply_out) {
    struct vu_dev fe;
    vu_dev_init (&fe, s->fe);
    assert_int_equal (vu_recv (&fe, reply_out), 1);
    assert_int_equal (reply_out->hdr.request, req);
    assert_true (reply_out->hdr.flags & VU_FLAG_REPLY);
  }
}

static uint64_t get_u64 (struct server *s, uint32_t req);

/* Sends a request with descriptors (SCM_RIGHTS); reads the reply. */
static void
request_fds (struct server *s, uint32_t req, const void *payload, uint32_t size,
             const int *fds, unsigned n_fds, struct vu_msg *reply_out)
{
  struct vu_header h = { req, VU_VERSION | VU_FLAG_NEED_REPLY, size };
  struct iovec iov[2] = { { &h, sizeof (h) }, { (void *) payload, size } };
  char control[CMSG_SPACE (8 * sizeof (int))] = { 0 };
  struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
  struct vu_dev fe;

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
  assert_int_equal (sendmsg (s->fe, &mh, 0), (ssize_t) (sizeof (h) + size));
  vu_dev_init (&fe, s->fe);
  assert_int_equal (vu_recv (&fe, reply_out), 1);
}

/* A memfd of @size bytes whose byte i is (i / 4096 + @seed) & 0xff. */
static int
guest_ram (size_t size, unsigned seed)
{
  int fd = memfd_create ("guest-ram", MFD_CLOEXEC);
  unsigned char *p;

  assert_true (fd >= 0);
  assert_int_equal (ftruncate (fd, (off_t) size), 0);
  p = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  for (size_t i = 0; i < size; i++)
    p[i] = (unsigned char) ((i / 4096 + seed) & 0xff);
  munmap (p, size);
  return fd;
}

static void
enable_reply_ack (struct server *s)
{
  uint64_t pf = BIT (VU_PROTOCOL_F_MQ) | BIT (VU_PROTOCOL_F_REPLY_ACK) | BIT (VU_PROTOCOL_F_CONFIG);
  struct vu_msg m = { 0 };

  m.hdr.request = VU_SET_PROTOCOL_FEATURES;
  m.hdr.flags = VU_VERSION;
  m.hdr.size = 8;
  m.payload.u64 = pf;
  assert_int_equal (vu_send (s->fe, &m, -1), 0);
}

static void
test_mem_table (void **state)
{
  struct server *s = *state;
  /* two regions: 1 MiB at GPA 0 (file offset 64 KiB), 2 MiB at GPA 4 GiB */
  int fds[2] = { guest_ram (1088 << 10, 0), guest_ram (2 << 20, 100) };
  struct vu_mem_table t = { 2, 0, { { 0, 1 << 20, 0x7f0000000000ull, 64 << 10 },
                                    { 4ull << 30, 2 << 20, 0x7f1000000000ull, 0 } } };
  struct vu_msg r;
  unsigned char *p;

  enable_reply_ack (s);
  request_fds (s, VU_SET_MEM_TABLE, &t, sizeof (t), fds, 2, &r);
  close (fds[0]);
  close (fds[1]);
  assert_int_equal (r.payload.u64, 0);
  assert_int_equal (s->dev.mem.n, 2);
  /* GPA 0 is file offset 64 KiB of the first memfd: page 16 */
  p = vu_mem_gpa (&s->dev.mem, 0, 16);
  assert_non_null (p);
  assert_int_equal (p[0], 16);
  p = vu_mem_gpa (&s->dev.mem, (4ull << 30) + 8192, 1);
  assert_non_null (p);
  assert_int_equal (p[0], 102);
  /* the front-end's own addresses (vring addresses) translate too */
  p = vu_mem_uva (&s->dev.mem, 0x7f1000000000ull + 4096, 1);
  assert_non_null (p);
  assert_int_equal (p[0], 101);
  /* bounds: past the end, across the end, between regions, wrapping */
  assert_null (vu_mem_gpa (&s->dev.mem, 1 << 20, 1));
  assert_null (vu_mem_gpa (&s->dev.mem, (1 << 20) - 8, 16));
  assert_null (vu_mem_gpa (&s->dev.mem, 2ull << 30, 1));
  assert_null (vu_mem_gpa (&s->dev.mem, 16, UINT64_MAX));
  assert_null (vu_mem_gpa (&s->dev.mem, UINT64_MAX - 4, 16));
  assert_non_null (vu_mem_gpa (&s->dev.mem, (1 << 20) - 16, 16));

  /* a new table replaces the old one whole */
  {
    int fd = guest_ram (1 << 20, 7);
    struct vu_mem_table t2 = { 1, 0, { { 8ull << 30, 1 << 20, 0x7f2000000000ull, 0 } } };
    request_fds (s, VU_SET_MEM_TABLE, &t2, sizeof (t2), &fd, 1, &r);
    close (fd);
    assert_int_equal (r.payload.u64, 0);
    assert_int_equal (s->dev.mem.n, 1);
    assert_null (vu_mem_gpa (&s->dev.mem, 0, 1));
    assert_int_equal (*(unsigned char *) vu_mem_gpa (&s->dev.mem, 8ull << 30, 1), 7);
  }
}

/* A front-end may kick a ring before giving its size, its addresses or
 * the memory they are in: the ring waits, unbroken, and starts once it
 * has everything. */
static void
test_ring_start_any_order (void **state)
{
  struct server *s = *state;
  uint64_t kick = 0 | VU_VRING_NOFD;
  struct vhost_vring_state num = { 0, 8 };
  struct vhost_vring_addr a = { 0, 0, 0x7f5000000000ull, 0x7f5000002000ull, 0x7f5000001000ull, 0 };
  struct vu_mem_reg add = { 0, { 0, 1 << 20, 0x7f5000000000ull, 0 } };
  int fd = guest_ram (1 << 20, 0);
  struct vu_msg r;

  enable_reply_ack (s);
  request (s, VU_SET_VRING_KICK, VU_FLAG_NEED_REPLY, &kick, 8, &r);
  assert_int_equal (r.payload.u64, 0);
  request (s, VU_SET_VRING_NUM, VU_FLAG_NEED_REPLY, &num, sizeof (num), &r);
  request (s, VU_SET_VRING_ADDR, VU_FLAG_NEED_REPLY, &a, sizeof (a), &r);
  assert_false (s->dev.vqs[0].started);
  assert_false (s->dev.vqs[0].broken);
  request_fds (s, VU_ADD_MEM_REG, &add, sizeof (add), &fd, 1, &r);
  close (fd);
  assert_int_equal (r.payload.u64, 0);
  assert_true (s->dev.vqs[0].started);
  assert_false (s->dev.vqs[0].broken);
  /* GET_VRING_BASE stops it and answers where it was */
  num.num = 0;
  request (s, VU_GET_VRING_BASE, 0, &num, sizeof (num), &r);
  assert_int_equal (r.payload.state.num, 0);
  assert_false (s->dev.vqs[0].started);
}

/* GET_INFLIGHT_FD hands out a region the size of num_queues rings of
 * queue_size, in QEMU's 24-byte message. */
static void
test_inflight_fd (void **state)
{
  struct server *s = *state;
  struct vu_inflight_payload p = { 0, 0, 2, 128, 0 };
  struct vu_msg r;

  assert_int_equal (sizeof (p), 24);
  request (s, VU_GET_INFLIGHT_FD, 0, &p, sizeof (p), &r);
  assert_int_equal (r.hdr.size, 24);
  assert_int_equal (r.n_fds, 1);
  assert_int_equal (r.payload.inflight.mmap_size, 2 * vq_inflight_queue_bytes (128));
  assert_int_equal (lseek (r.fds[0], 0, SEEK_END), (off_t) r.payload.inflight.mmap_size);
  close (r.fds[0]);
}

static void
test_mem_slots (void **state)
{
  struct server *s = *state;
  int fd = guest_ram (1 << 20, 3);
  struct vu_mem_reg add = { 0, { 1ull << 32, 1 << 20, 0x7f3000000000ull, 0 } };
  struct vu_msg r;

  enable_reply_ack (s);
  assert_int_equal (get_u64 (s, VU_GET_MAX_MEM_SLOTS), VU_MAX_MEM_SLOTS);
  request_fds (s, VU_ADD_MEM_REG, &add, sizeof (add), &fd, 1, &r);
  close (fd);
  assert_int_equal (r.payload.u64, 0);
  assert_int_equal (*(unsigned char *) vu_mem_gpa (&s->dev.mem, (1ull << 32) + 4096, 1), 4);
  request_fds (s, VU_REM_MEM_REG, &add, sizeof (add), NULL, 0, &r);
  assert_int_equal (r.payload.u64, 0);
  assert_int_equal (s->dev.mem.n, 0);
  assert_null (vu_mem_gpa (&s->dev.mem, 1ull << 32, 1));
}

static void
test_mem_table_malformed (void **state)
{
  /* one descriptor for two regions: refused, nothing mapped */
  struct server *s = *state;
  int fd = guest_ram (1 << 20, 0);
  struct vu_mem_table t = { 2, 0, { { 0, 1 << 20, 0, 0 }, { 1 << 20, 1 << 20, 0, 0 } } };
  struct vu_header h = { VU_SET_MEM_TABLE, VU_VERSION, sizeof (t) };
  struct iovec iov[2] = { { &h, sizeof (h) }, { &t, sizeof (t) } };
  char control[CMSG_SPACE (sizeof (int))] = { 0 };
  struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2, .msg_control = control,
                       .msg_controllen = sizeof (control) };
  struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);

  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cm), &fd, sizeof (int));
  assert_true (sendmsg (s->fe, &mh, 0) > 0);
  close (fd);
  pthread_join (s->thread, NULL);
  assert_int_equal (s->rc, VU_END_ERROR);
  assert_non_null (strstr (s->dev.error, "SET_MEM_TABLE: malformed"));
  assert_int_equal (s->dev.mem.n, 0);
  s->thread = pthread_self ();
}

static uint64_t
get_u64 (struct server *s, uint32_t req)
{
  struct vu_msg r;
  request (s, req, 0, NULL, 0, &r);
  assert_int_equal (r.hdr.size, 8);
  return r.payload.u64;
}

static void
test_negotiation (void **state)
{
  struct server *s = *state;
  uint64_t f = get_u64 (s, VU_GET_FEATURES);
  uint64_t pf = get_u64 (s, VU_GET_PROTOCOL_FEATURES);
  uint64_t ack = BIT (VIRTIO_F_VERSION_1) | BIT (VU_F_PROTOCOL_FEATURES) | BIT (VIRTIO_BLK_F_MQ);
  struct vu_msg r;

  /* what QEMU 7.2's vhost-user-blk requires */
  assert_true (f & BIT (VU_F_PROTOCOL_FEATURES));
  assert_true (f & BIT (VIRTIO_F_VERSION_1));
  assert_true (f & BIT (VIRTIO_BLK_F_MQ));
  assert_true (f & BIT (VIRTIO_BLK_F_FLUSH));
  assert_false (f & BIT (VIRTIO_BLK_F_RO));
  assert_true (pf & BIT (VU_PROTOCOL_F_CONFIG));
  assert_true (pf & BIT (VU_PROTOCOL_F_MQ));
  assert_false (pf & BIT (14));               /* masked by QEMU 7.2 */

  request (s, VU_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL);
  assert_int_equal (get_u64 (s, VU_GET_QUEUE_NUM), 4);
  /* with REPLY_ACK, NEED_REPLY gets a status */
  request (s, VU_SET_OWNER, VU_FLAG_NEED_REPLY, NULL, 0, &r);
  assert_int_equal (r.payload.u64, 0);
  request (s, VU_SET_FEATURES, VU_FLAG_NEED_REPLY, &ack, 8, &r);
  assert_int_equal (r.payload.u64, 0);
  assert_int_equal (s->dev.acked_features, ack);
}

static void
test_config_exact_size (void **state)
{
  struct server *s = *state;
  struct { struct vu_config_payload c; uint8_t region[57]; } q = { { 0, 57, 0 }, { 0 } };
  struct vu_msg r;
  struct virtio_blk_config cfg;

  /* QEMU 7.2 asks for 57 bytes and rejects any other answer */
  request (s, VU_GET_CONFIG, 0, &q, sizeof (q), &r);
  assert_int_equal (r.hdr.size, sizeof (struct vu_config_payload) + 57);
  assert_int_equal (r.payload.config.size, 57);
  memset (&cfg, 0, sizeof (cfg));
  memcpy (&cfg, r.payload.config.region, 57);
  assert_int_equal (cfg.capacity, (8 << 20) / 512);
  assert_int_equal (cfg.blk_size, 512);
  assert_int_equal (cfg.num_queues, 4);
  assert_int_equal (cfg.seg_max, 126);
  assert_int_equal (cfg.max_discard_seg, 1);
}

static void
test_config_wce (void **state)
{
  struct server *s = *state;
  struct { struct vu_config_payload c; uint8_t v; } w =
    { { offsetof (struct virtio_blk_config, wce), 1, 0 }, 0 };
  uint64_t pf = get_u64 (s, VU_GET_PROTOCOL_FEATURES);
  struct vu_msg r;

  request (s, VU_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL);
  request (s, VU_SET_CONFIG, VU_FLAG_NEED_REPLY, &w, sizeof (w), &r);
  assert_int_equal (r.payload.u64, 0);
  assert_int_equal (s->dev.config.wce, 0);
}

static void
test_reconnect_without_handshake (void **state)
{
  /* QEMU 7.2 may reconnect straight into SET_FEATURES: what we offer
   * counts as negotiated, so NEED_REPLY is honoured */
  struct server *s = *state;
  uint64_t ack = BIT (VIRTIO_F_VERSION_1) | BIT (VU_F_PROTOCOL_FEATURES);
  struct vu_msg r;

  request (s, VU_SET_FEATURES, 0, &ack, 8, NULL);
  request (s, VU_SET_OWNER, VU_FLAG_NEED_REPLY, NULL, 0, &r);
  assert_int_equal (r.payload.u64, 0);
}

static void
test_unsupported_answered (void **state)
{
  struct server *s = *state;
  uint64_t pf = get_u64 (s, VU_GET_PROTOCOL_FEATURES), one = 1;
  struct vu_msg r;

  request (s, VU_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL);
  request (s, 999, VU_FLAG_NEED_REPLY, &one, 8, &r);
  assert_int_not_equal (r.payload.u64, 0);
  /* and the connection goes on */
  assert_int_equal (get_u64 (s, VU_GET_QUEUE_NUM), 4);
}

static void
test_malformed_closes (void **state)
{
  struct server *s = *state;
  struct vu_msg m = { 0 };

  m.hdr.request = VU_SET_FEATURES;
  m.hdr.flags = VU_VERSION;
  m.hdr.size = 3;                 /* SET_FEATURES carries 8 bytes */
  assert_int_equal (vu_send (s->fe, &m, -1), 0);
  /* the backend stops serving the connection (its caller closes it) */
  pthread_join (s->thread, NULL);
  assert_int_equal (s->rc, VU_END_ERROR);
  assert_non_null (strstr (s->dev.error, "expected 8"));
  s->thread = pthread_self ();     /* already joined */
}

static void
test_oversized_and_bad_version (void **state)
{
  struct server *s = *state;
  struct vu_header h = { VU_GET_FEATURES, 2 /* version 2 */, 0 };

  assert_int_equal (write (s->fe, &h, sizeof (h)), (ssize_t) sizeof (h));
  pthread_join (s->thread, NULL);
  assert_int_equal (s->rc, VU_END_ERROR);
  assert_non_null (strstr (s->dev.error, "version 2"));
  s->thread = pthread_self ();
}

static int
stop_joined (void **state)
{
  struct server *s = *state;
  close (s->fe);
  if (!pthread_equal (s->thread, pthread_self ()))
    pthread_join (s->thread, NULL);
  close (s->dev.fd);
  vu_dev_reset (&s->dev);
  blk_close (&s->blk);
  unlink (s->path);
  free (s);
  return 0;
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_negotiation, start, stop),
    cmocka_unit_test_setup_teardown (test_config_exact_size, start, stop),
    cmocka_unit_test_setup_teardown (test_config_wce, start, stop),
    cmocka_unit_test_setup_teardown (test_reconnect_without_handshake, start, stop),
    cmocka_unit_test_setup_teardown (test_unsupported_answered, start, stop),
    cmocka_unit_test_setup_teardown (test_malformed_closes, start, stop_joined),
    cmocka_unit_test_setup_teardown (test_oversized_and_bad_version, start, stop_joined),
    cmocka_unit_test_setup_teardown (test_mem_table, start, stop),
    cmocka_unit_test_setup_teardown (test_mem_slots, start, stop),
    cmocka_unit_test_setup_teardown (test_ring_start_any_order, start, stop),
    cmocka_unit_test_setup_teardown (test_inflight_fd, start, stop),
    cmocka_unit_test_setup_teardown (test_mem_table_malformed, start, stop_joined),
  };
  (void) stop;
  return cmocka_run_group_tests_name ("blk-proto", tests, NULL, NULL);
}
