/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backing file or block device of a virtio-blk disk, and the config it announces. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"

#define BIT(n) (1ull << (n))
#define SEG_MAX 126               /* as QEMU's and QSD's: fits queue_size 128 */
#define MAX_DISCARD_SECTORS 32768

int
blk_open (struct blk_dev *b, const char *path, bool read_only, const char *serial,
          char *err, size_t errlen)
{
  struct stat st;
  int fd;

  memset (b, 0, sizeof (*b));
  b->fd = -1;
  fd = open (path, (read_only ? O_RDONLY : O_RDWR) | O_DIRECT | O_CLOEXEC);
  if (fd < 0) {
    snprintf (err, errlen, "cannot open --blk-file '%s': %s%s", path, strerror (errno),
              errno == EINVAL ? " (its filesystem refuses O_DIRECT)" : "");
    return -1;
  }
  if (fstat (fd, &st) < 0 || (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode))) {
    snprintf (err, errlen, "--blk-file '%s' is neither a file nor a block device", path);
    close (fd);
    return -1;
  }
  b->logical_block = 512;
  if (S_ISBLK (st.st_mode)) {
    int lbs = 0;
    if (ioctl (fd, BLKGETSIZE64, &b->size) < 0 || ioctl (fd, BLKSSZGET, &lbs) < 0) {
      snprintf (err, errlen, "--blk-file '%s': cannot read its size: %s", path, strerror (errno));
      close (fd);
      return -1;
    }
    b->logical_block = lbs >= 512 ? (uint32_t) lbs : 512;
  } else {
    b->size = (uint64_t) st.st_size;
  }
  if (b->size % 512) {
    snprintf (err, errlen, "--blk-file '%s': size %llu is not a multiple of 512", path,
              (unsigned long long) b->size);
    close (fd);
    return -1;
  }
  b->fd = fd;
  b->read_only = read_only;
  snprintf (b->serial, sizeof (b->serial), "%s", serial ? serial : "");
  return 0;
}

void
blk_close (struct blk_dev *b)
{
  if (b->fd >= 0)
    close (b->fd);
  b->fd = -1;
}

uint64_t
blk_features (const struct blk_dev *b)
{
  uint64_t f = BIT (VIRTIO_F_VERSION_1) | BIT (VIRTIO_BLK_F_SIZE_MAX) | BIT (VIRTIO_BLK_F_SEG_MAX)
               | BIT (VIRTIO_BLK_F_BLK_SIZE) | BIT (VIRTIO_BLK_F_TOPOLOGY)
               | BIT (VIRTIO_BLK_F_FLUSH) | BIT (VIRTIO_BLK_F_CONFIG_WCE)
               | BIT (VIRTIO_BLK_F_MQ);

  if (b->read_only)
    f |= BIT (VIRTIO_BLK_F_RO);
  else
    f |= BIT (VIRTIO_BLK_F_DISCARD) | BIT (VIRTIO_BLK_F_WRITE_ZEROES);
  return f;
}

void
blk_fill_config (const struct blk_dev *b, unsigned num_queues, struct virtio_blk_config *c)
{
  memset (c, 0, sizeof (*c));
  c->capacity = b->size / 512;
  c->size_max = 1u << 20;
  c->seg_max = SEG_MAX;
  c->blk_size = b->logical_block;
  c->physical_block_exp = 0;
  c->min_io_size = (uint16_t) (b->logical_block / 512);
  c->opt_io_size = 0;
  c->wce = 1;
  c->num_queues = (uint16_t) num_queues;
  if (!b->read_only) {
    c->max_discard_sectors = MAX_DISCARD_SECTORS;
    c->max_discard_seg = 1;
    c->discard_sector_alignment = b->logical_block / 512;
    c->max_write_zeroes_sectors = MAX_DISCARD_SECTORS;
    c->max_write_zeroes_seg = 1;
    c->write_zeroes_may_unmap = 1;
  }
}
