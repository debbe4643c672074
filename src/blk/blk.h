/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backing file or block device of a virtio-blk disk, and the config it announces. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

struct blk_dev {
  int fd;
  uint64_t size;                  /* bytes */
  uint32_t logical_block;         /* bytes, a power of two >= 512 */
  bool read_only;
  char serial[21];                /* GET_ID: up to 20 bytes */
};

/* Opens @path with O_DIRECT (read-only when asked); a file that refuses
 * O_DIRECT is refused.  Returns 0, or -1 with a one-line message in @err. */
int blk_open (struct blk_dev *b, const char *path, bool read_only, const char *serial,
              char *err, size_t errlen);
void blk_close (struct blk_dev *b);

/* The virtio feature bits this disk offers (besides the vhost-user ones). */
uint64_t blk_features (const struct blk_dev *b);

/* Fills the virtio-blk config space for @num_queues queues. */
void blk_fill_config (const struct blk_dev *b, unsigned num_queues, struct virtio_blk_config *c);
