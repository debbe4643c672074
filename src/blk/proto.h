/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vhost-user wire protocol as a block backend speaks it (docs/interop/vhost-user.rst). */
#pragma once

#include <stdint.h>

#include "inflight.h"
#include "mem.h"

#include <linux/vhost_types.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

/* Front-end requests.  Only the ones a blk backend sees are listed. */
enum vu_request {
  VU_GET_FEATURES = 1,
  VU_SET_FEATURES = 2,
  VU_SET_OWNER = 3,
  VU_RESET_OWNER = 4,
  VU_SET_MEM_TABLE = 5,
  VU_SET_LOG_BASE = 6,
  VU_SET_LOG_FD = 7,
  VU_SET_VRING_NUM = 8,
  VU_SET_VRING_ADDR = 9,
  VU_SET_VRING_BASE = 10,
  VU_GET_VRING_BASE = 11,
  VU_SET_VRING_KICK = 12,
  VU_SET_VRING_CALL = 13,
  VU_SET_VRING_ERR = 14,
  VU_GET_PROTOCOL_FEATURES = 15,
  VU_SET_PROTOCOL_FEATURES = 16,
  VU_GET_QUEUE_NUM = 17,
  VU_SET_VRING_ENABLE = 18,
  VU_SET_SLAVE_REQ_FD = 21,
  VU_GET_CONFIG = 24,
  VU_SET_CONFIG = 25,
  VU_GET_INFLIGHT_FD = 31,
  VU_SET_INFLIGHT_FD = 32,
  VU_RESET_DEVICE = 34,
  VU_GET_MAX_MEM_SLOTS = 36,
  VU_ADD_MEM_REG = 37,
  VU_REM_MEM_REG = 38,
  VU_SET_STATUS = 39,
  VU_GET_STATUS = 40,
};

/* Header flags. */
#define VU_VERSION 0x1u
#define VU_VERSION_MASK 0x3u
#define VU_FLAG_REPLY (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)

/* Feature bit of the vhost-user protocol itself. */
#define VU_F_PROTOCOL_FEATURES 30

/* Protocol features (GET/SET_PROTOCOL_FEATURES). */
#define VU_PROTOCOL_F_MQ 0
#define VU_PROTOCOL_F_LOG_SHMFD 1
#define VU_PROTOCOL_F_REPLY_ACK 3
#define VU_PROTOCOL_F_CONFIG 9
#define VU_PROTOCOL_F_INFLIGHT_SHMFD 12
#define VU_PROTOCOL_F_RESET_DEVICE 13
/* bit 14 is masked by QEMU 7.2 (VHOST_USER_PROTOCOL_FEATURE_MASK): never offer it */
#define VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15

/* vhost feature: the front-end wants dirty pages logged (migration). */
#define VU_F_LOG_ALL 26

#define VU_MAX_FDS 8               /* fds one message may carry */
#define VU_MAX_PAYLOAD 4096        /* larger payloads are malformed for a blk backend */

struct vu_header {
  uint32_t request;
  uint32_t flags;
  uint32_t size;                  /* payload bytes after the header */
} __attribute__ ((packed));

#define VU_MAX_MEM_REGIONS 8      /* SET_MEM_TABLE */

struct vu_mem_region {
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;        /* the front-end's own address of it */
  uint64_t mmap_offset;
} __attribute__ ((packed));

struct vu_mem_table {
  uint32_t nregions;
  uint32_t padding;
  struct vu_mem_region regions[VU_MAX_MEM_REGIONS];
} __attribute__ ((packed));

struct vu_mem_reg {
  uint64_t padding;
  struct vu_mem_region region;
} __attribute__ ((packed));

struct vu_config_payload {
  uint32_t offset;
  uint32_t size;
  uint32_t flags;
  uint8_t region[];               /* size bytes */
} __attribute__ ((packed));

struct vu_log_payload {
  uint64_t mmap_size;
  uint64_t mmap_offset;
} __attribute__ ((packed));

/* SET_VRING_KICK/CALL/ERR payload bits. */
#define VU_VRING_INDEX_MASK 0xffu
#define VU_VRING_NOFD (1u << 8)

struct vu_msg {
  struct vu_header hdr;
  union {
    uint64_t u64;
    struct vu_config_payload config;
    struct vu_mem_table mem;
    struct vu_mem_reg reg;
    struct vhost_vring_state state;
    struct vhost_vring_addr addr;
    struct vu_inflight_payload inflight;
    struct vu_log_payload log;
    uint8_t raw[VU_MAX_PAYLOAD];
  } payload;
  int fds[VU_MAX_FDS];
  unsigned n_fds;
};
