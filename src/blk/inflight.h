/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inflight I/O tracking in memory shared with the front-end (vhost-user.rst,
 * "Inflight I/O tracking"), so a restarted backend completes each request once. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The split-ring layout libvhost-user, QEMU's contrib backend and SPDK use. */
struct vq_inflight_desc {
  uint8_t inflight;               /* fetched and not yet in the published used ring */
  uint8_t padding[5];
  uint16_t next;
  uint64_t counter;               /* fetch order */
} __attribute__ ((packed));

struct vq_inflight {
  uint64_t features;
  uint16_t version;               /* 0 = never used, 1 = in use */
  uint16_t desc_num;              /* the ring size it was set up for */
  uint16_t last_batch_head;
  uint16_t used_idx;              /* the used index all cleared flags belong to */
  struct vq_inflight_desc desc[];
} __attribute__ ((packed));

/* GET/SET_INFLIGHT_FD payload: not packed, QEMU sends its 24 bytes. */
struct vu_inflight_payload {
  uint64_t mmap_size;
  uint64_t mmap_offset;
  uint16_t num_queues;
  uint16_t queue_size;
  uint32_t padding;
};

#define VQ_INFLIGHT_ALIGN 64

/* Bytes one queue of @queue_size descriptors takes in the region. */
uint64_t vq_inflight_queue_bytes (uint16_t queue_size);

/* Creates a zeroed memfd for @num_queues queues of @queue_size; returns
 * the fd (the caller's) and its size in @size, or -1 with errno set. */
int vq_inflight_create (uint16_t num_queues, uint16_t queue_size, uint64_t *size);
