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
  s->rc = vu_serve (&s->dev);
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
                             | BIT (VU_PROTOCOL_F_CONFIG);
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
  assert_int_equal (vu_send (s->fe, &m), 0);
  if (reply_out) {
    struct vu_dev fe;
    vu_dev_init (&fe, s->fe);
    assert_int_equal (vu_recv (&fe, reply_out), 1);
    assert_int_equal (reply_out->hdr.request, req);
    assert_true (reply_out->hdr.flags & VU_FLAG_REPLY);
  }
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
  assert_int_equal (vu_send (s->fe, &m), 0);
  /* the backend stops serving the connection (its caller closes it) */
  pthread_join (s->thread, NULL);
  assert_int_equal (s->rc, -1);
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
  assert_int_equal (s->rc, -1);
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
  };
  (void) stop;
  return cmocka_run_group_tests_name ("blk-proto", tests, NULL, NULL);
}
