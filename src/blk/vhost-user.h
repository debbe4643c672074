/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vhost-user control plane: one front-end connection, its messages and their answers. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

/* A region of guest memory, mapped here. */
struct vu_region {
  uint64_t gpa;                   /* guest physical address */
  uint64_t size;
  uint64_t uva;                   /* the front-end's address of it */
  uint64_t mmap_offset;
  void *mmap_addr;                /* our mapping (of mmap_offset + size bytes) */
  uint64_t mmap_size;
};

struct vu_dev {
  int fd;                         /* the connection to the front-end */
  unsigned max_queues;            /* GET_QUEUE_NUM */
  uint64_t features;              /* what we offer (GET_FEATURES) */
  uint64_t protocol_features;     /* what we offer (GET_PROTOCOL_FEATURES) */
  uint64_t acked_features;        /* SET_FEATURES */
  uint64_t acked_protocol;        /* SET_PROTOCOL_FEATURES, or all we offer if skipped */
  bool protocol_negotiated;
  struct virtio_blk_config config;
  int slave_fd;                   /* SET_SLAVE_REQ_FD, -1 when none */
  unsigned n_regions;
  struct vu_region regions[VU_MAX_MEM_SLOTS];
  char error[256];                /* why the last message was refused */
};

/* Sets up @dev for a new connection @fd; the features and config must be
 * filled by the caller before serving. */
void vu_dev_init (struct vu_dev *dev, int fd);

/* Closes the connection's descriptors (not dev->fd) and unmaps guest memory. */
void vu_dev_reset (struct vu_dev *dev);

/* The address here of @len bytes of guest memory at guest physical
 * address @gpa, or NULL when they are not all inside one region (the
 * arithmetic cannot overflow). */
void *vu_gpa_to_va (const struct vu_dev *dev, uint64_t gpa, uint64_t len);

/* The same for an address in the front-end's own address space (vring
 * addresses come as such). */
void *vu_uva_to_va (const struct vu_dev *dev, uint64_t uva, uint64_t len);

/* Reads one message with its descriptors.  Returns 1 on a message, 0 on
 * end of file, -1 on a malformed message or error (dev->error says which). */
int vu_recv (struct vu_dev *dev, struct vu_msg *msg);

/* Sends @msg (header and payload; no descriptors). */
int vu_send (int fd, const struct vu_msg *msg);

/* Handles one message, replying as the protocol says.  Returns 0, or -1
 * when the connection must be closed (dev->error says why). */
int vu_handle (struct vu_dev *dev, struct vu_msg *msg);

/* Serves the connection until the front-end goes away or breaks the
 * protocol.  Returns 0 on end of file, -1 on a protocol error. */
int vu_serve (struct vu_dev *dev);
