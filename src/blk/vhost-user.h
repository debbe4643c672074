/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vhost-user control plane: one front-end connection, its messages and their answers. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "inflight.h"
#include "mem.h"
#include "proto.h"
#include "virtq.h"

#define VU_MAX_QUEUES 256

/* What the control plane asks of whoever runs the rings: stop touching
 * them before it changes their state, and with @drain finish what is in
 * flight first (before guest memory or a ring's layout changes; without,
 * requests stay with the kernel, for changes of descriptors and flags). */
struct vu_ops {
  void (*pause) (void *opaque, bool drain);
  void (*resume) (void *opaque);
};

struct vu_dev {
  int fd;                         /* the connection to the front-end */
  unsigned timeout_ms;            /* for the rest of a message once it began (0: none) */
  unsigned max_queues;            /* GET_QUEUE_NUM */
  uint64_t features;              /* what we offer (GET_FEATURES) */
  uint64_t protocol_features;     /* what we offer (GET_PROTOCOL_FEATURES) */
  uint64_t acked_features;        /* SET_FEATURES */
  uint64_t acked_protocol;        /* SET_PROTOCOL_FEATURES, or all we offer if skipped */
  bool protocol_negotiated;
  struct virtio_blk_config config;
  int slave_fd;                   /* SET_SLAVE_REQ_FD, -1 when none */
  struct vu_mem mem;
  struct vu_log log;
  void *inflight_addr;            /* SET_INFLIGHT_FD mapping */
  uint64_t inflight_size;
  uint16_t inflight_queue_size;
  bool memory_lost;               /* front-end memory faulted (a shrunk file) */
  const struct vu_ops *ops;       /* NULL: nothing runs the rings (unit tests) */
  void *opaque;
  struct vq vqs[VU_MAX_QUEUES];   /* max_queues of them are used */
  char error[256];                /* why the last message was refused */
};

/* Sets up @dev for a new connection @fd; the features and config must be
 * filled by the caller before serving. */
void vu_dev_init (struct vu_dev *dev, int fd);

/* Closes the connection's descriptors (not dev->fd), stops and forgets
 * the rings, and unmaps guest memory and the shared regions. */
void vu_dev_reset (struct vu_dev *dev);

/* Reads one message with its descriptors, the rest of it within
 * dev->timeout_ms of its first byte.  Returns 1 on a message, 0 on end
 * of file, -1 on a malformed or late message or error (dev->error says
 * which). */
int vu_recv (struct vu_dev *dev, struct vu_msg *msg);

/* Sends @msg (header and payload) with @pass_fd (-1: none). */
int vu_send (int fd, const struct vu_msg *msg, int pass_fd);

/* Handles one message, replying as the protocol says.  Returns 0, or -1
 * when the connection must be closed (dev->error says why). */
int vu_handle (struct vu_dev *dev, struct vu_msg *msg);

/* Whether a ring of the connection runs (started, not stopped). */
bool vu_running (const struct vu_dev *dev);

/* How vu_serve ended. */
enum vu_end {
  VU_END_CLOSED,                  /* the front-end went away */
  VU_END_STOPPED,                 /* *stop became true */
  VU_END_REPLACED,                /* a new connection waits and no ring runs here */
  VU_END_ERROR,                   /* the front-end broke the protocol (dev->error) */
};

/* Serves the connection until the front-end goes away or breaks the
 * protocol, *@stop (may be NULL) becomes true, or, while none of its
 * rings runs, a new connection waits on @listen_fd (-1: none). */
enum vu_end vu_serve (struct vu_dev *dev, const volatile sig_atomic_t *stop, int listen_fd);
