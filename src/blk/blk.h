/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backing file or block device of a virtio-blk disk, and the config it announces. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <sys/uio.h>

#include "proto.h"
#include "virtq.h"

/* What the config space announces, and what a request may therefore
 * hold: at most BLK_SEG_MAX data segments of BLK_SIZE_MAX bytes. */
#define BLK_SEG_MAX 126           /* as QEMU's and QSD's: fits queue_size 128 */
#define BLK_SIZE_MAX (1u << 20)
#define BLK_MAX_DATA ((uint64_t) BLK_SEG_MAX * BLK_SIZE_MAX)

struct blk_dev {
  int fd;                         /* -1 for a null disk */
  bool null;                      /* "null:<bytes>": reads and writes do nothing (benchmarks) */
  bool in_memory;                 /* on tmpfs or ramfs: no O_DIRECT, requests run in the worker */
  uint64_t size;                  /* bytes */
  uint32_t logical_block;         /* bytes, a power of two >= 512 */
  uint32_t physical_block;        /* bytes (block devices; else logical_block) */
  uint32_t io_min, io_opt;        /* bytes, 0 when unknown */
  bool read_only;
  char serial[21];                /* GET_ID: up to 20 bytes */
};

/* Opens @path with O_DIRECT (read-only when asked); a file that refuses
 * O_DIRECT is refused.  A file on tmpfs or ramfs is memory already: it is
 * opened without O_DIRECT and marked in_memory.  Returns 0, or -1 with a
 * one-line message in @err. */
int blk_open (struct blk_dev *b, const char *path, bool read_only, const char *serial,
              char *err, size_t errlen);
void blk_close (struct blk_dev *b);

/* The virtio feature bits this disk offers (besides the vhost-user ones). */
uint64_t blk_features (const struct blk_dev *b);

/* Fills the virtio-blk config space for @num_queues queues. */
void blk_fill_config (const struct blk_dev *b, unsigned num_queues, struct virtio_blk_config *c);

/* What a request asks of the backing file, once decoded and checked. */
enum blk_op {
  BLK_OP_DONE,                    /* answered already: status set */
  BLK_OP_READ,
  BLK_OP_WRITE,
  BLK_OP_FLUSH,
  BLK_OP_FALLOCATE,
};

struct blk_req {
  enum blk_op op;
  uint32_t type;                  /* VIRTIO_BLK_T_* */
  uint64_t offset;                /* bytes into the disk */
  uint64_t len;                   /* bytes of data */
  int mode;                       /* fallocate mode */
  struct iovec *iov;              /* the data pieces (inside the element) */
  unsigned niov;                  /* without empty pieces at the end */
  uint8_t *status;                /* where the status byte goes, NULL if nowhere */
  uint64_t status_gpa;
  uint8_t status_value;           /* VIRTIO_BLK_S_* for BLK_OP_DONE */
  uint32_t written;               /* the used length: all writable bytes, status included */
};

/* Decodes @e (trimming its pieces to the data) and checks it against the
 * disk and the announced limits (more than BLK_SEG_MAX data descriptors
 * or BLK_MAX_DATA bytes, a truncated chain: IOERR); @wce is the guest's
 * write-cache setting.  Never fails: a request that breaks the rules gets
 * BLK_OP_DONE with IOERR or UNSUPP. */
void blk_req_decode (const struct blk_dev *b, bool wce, struct vq_elem *e, struct blk_req *r);

/* Writes the status byte; returns the used length for the ring. */
uint32_t blk_req_finish (struct blk_req *r, uint8_t status);
