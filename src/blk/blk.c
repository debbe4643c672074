/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backing file or block device of a virtio-blk disk, and the config it announces. */
#include <config.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "blk.h"

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x2000U    /* Linux 6.1 */
#endif

#define BIT(n) (1ull << (n))
#define MAX_DISCARD_SECTORS 32768

int
blk_open (struct blk_dev *b, const char *path, bool read_only, const char *serial,
          char *err, size_t errlen)
{
  struct statfs sf;
  struct stat st;
  int fd;

  memset (b, 0, sizeof (*b));
  b->fd = -1;
  if (strncmp (path, "null:", 5) == 0) {
    char *end;
    errno = 0;
    b->size = strtoull (path + 5, &end, 10);
    if (errno || *end || path[5] < '0' || path[5] > '9' || b->size == 0 || b->size % 512) {
      snprintf (err, errlen, "invalid --blk-file '%s' (null:<bytes>, a multiple of 512)", path);
      return -1;
    }
    b->null = true;
    b->logical_block = 512;
    b->read_only = read_only;
    snprintf (b->serial, sizeof (b->serial), "%s", serial ? serial : "");
    return 0;
  }
  fd = open (path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) {
    snprintf (err, errlen, "cannot open --blk-file '%s': %s", path, strerror (errno));
    return -1;
  }
  if (fstat (fd, &st) < 0 || (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode))) {
    snprintf (err, errlen, "--blk-file '%s' is neither a file nor a block device", path);
    close (fd);
    return -1;
  }
  /* files on tmpfs and ramfs have no cache to bypass (and io_uring hands
   * each of their requests to a kernel thread); everything else, block
   * devices included (their nodes live on devtmpfs), gets O_DIRECT */
  b->in_memory = S_ISREG (st.st_mode) && fstatfs (fd, &sf) == 0
                 && (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC);
  if (!b->in_memory && fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_DIRECT) < 0) {
    snprintf (err, errlen, "cannot open --blk-file '%s' with O_DIRECT: %s%s", path,
              strerror (errno), errno == EINVAL ? " (its filesystem refuses O_DIRECT)" : "");
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
    {
      unsigned int pbs = 0, iomin = 0, ioopt = 0;
      /* topology for the guest's alignment; missing ioctls leave defaults */
      if (ioctl (fd, BLKPBSZGET, &pbs) == 0 && pbs >= b->logical_block)
        b->physical_block = pbs;
      if (ioctl (fd, BLKIOMIN, &iomin) == 0)
        b->io_min = iomin;
      if (ioctl (fd, BLKIOOPT, &ioopt) == 0)
        b->io_opt = ioopt;
    }
  } else {
    struct statx stx;
    b->size = (uint64_t) st.st_size;
    /* O_DIRECT on a file wants the alignment of the device under its file
     * system: a file on ext4 over a disk of 4 KiB sectors refuses 512-byte
     * requests (EINVAL), and a guest told 512 would see I/O errors */
    if (!b->in_memory && statx (fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0
        && (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align > 512
        && stx.stx_dio_offset_align <= 65536
        && (stx.stx_dio_offset_align & (stx.stx_dio_offset_align - 1)) == 0)
      b->logical_block = stx.stx_dio_offset_align;
  }
  if (b->size % 512) {
    snprintf (err, errlen, "--blk-file '%s': size %llu is not a multiple of 512", path,
              (unsigned long long) b->size);
    close (fd);
    return -1;
  }
  if (b->physical_block < b->logical_block)
    b->physical_block = b->logical_block;
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
  c->size_max = BLK_SIZE_MAX;
  c->seg_max = BLK_SEG_MAX;
  c->blk_size = b->logical_block;
  /* TOPOLOGY: in logical blocks, the physical one as a power of two */
  c->physical_block_exp = 0;
  while (b->physical_block && (b->logical_block << (c->physical_block_exp + 1)) <= b->physical_block
         && c->physical_block_exp < 15)
    c->physical_block_exp++;
  c->min_io_size = (uint16_t) (b->io_min > b->logical_block ? b->io_min / b->logical_block : 1);
  c->opt_io_size = b->io_opt / b->logical_block;
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

/* Copies @len bytes at @skip of the readable pieces into @buf; false when short. */
static bool
copy_out (const struct vq_elem *e, size_t skip, void *buf, size_t len)
{
  for (unsigned i = 0; i < e->n_out && len; i++) {
    size_t l = e->iov[i].iov_len;
    if (skip >= l) {
      skip -= l;
      continue;
    }
    l -= skip;
    if (l > len)
      l = len;
    memcpy (buf, (char *) e->iov[i].iov_base + skip, l);
    buf = (char *) buf + l;
    len -= l;
    skip = 0;
  }
  return len == 0;
}

static uint64_t
iov_bytes (const struct iovec *iov, unsigned n)
{
  uint64_t t = 0;

  for (unsigned i = 0; i < n; i++)
    t += iov[i].iov_len;
  return t;
}

/* Drops @skip bytes from the front of @iov[0..*n); returns the new start. */
static struct iovec *
skip_front (struct iovec *iov, unsigned *n, uint64_t *gpa, size_t skip)
{
  while (*n && skip >= iov->iov_len) {
    skip -= iov->iov_len;
    iov++;
    gpa++;
    (*n)--;
  }
  if (*n && skip) {
    iov->iov_base = (char *) iov->iov_base + skip;
    iov->iov_len -= skip;
    *gpa += skip;
  }
  return iov;
}

static void
done (struct blk_req *r, uint8_t status)
{
  r->op = BLK_OP_DONE;
  r->status_value = status;
}

/* @n pieces without the empty ones at the end (the status piece, once
 * its byte is taken off, is often one). */
static unsigned
trim_empty (const struct iovec *iov, unsigned n)
{
  while (n && iov[n - 1].iov_len == 0)
    n--;
  return n;
}

/* Whether [sector, sector + bytes / 512) is a well-aligned range of the disk. */
static bool
range_ok (const struct blk_dev *b, uint64_t sector, uint64_t bytes)
{
  uint64_t capacity = b->size / 512;

  if (bytes % 512 || bytes % b->logical_block || (sector * 512) % b->logical_block)
    return false;
  return sector <= capacity && bytes / 512 <= capacity - sector;
}

void
blk_req_decode (const struct blk_dev *b, bool wce, struct vq_elem *e, struct blk_req *r)
{
  struct virtio_blk_outhdr h;
  struct iovec *in = e->iov + e->n_out;
  uint64_t in_bytes = iov_bytes (in, e->n_in);
  unsigned n;

  memset (r, 0, sizeof (*r));
  /* the used length is the whole writable part, as QEMU and QSD report it */
  r->written = in_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t) in_bytes;
  /* the status is the last byte of the last writable piece */
  if (in_bytes == 0) {
    done (r, VIRTIO_BLK_S_IOERR);
    return;
  }
  {
    struct iovec *last = &in[e->n_in - 1];
    unsigned k = e->n_in - 1;
    while (last->iov_len == 0) {          /* zero-length pieces at the end */
      last--;
      k--;
    }
    r->status = (uint8_t *) last->iov_base + last->iov_len - 1;
    r->status_gpa = e->gpa[e->n_out + k] + last->iov_len - 1;
    last->iov_len--;
  }
  /* header and status apart, at most seg_max data segments; a chain
   * too long to hold is refused as a whole */
  if (e->truncated || e->n_desc > BLK_SEG_MAX + 2 || !copy_out (e, 0, &h, sizeof (h))) {
    done (r, VIRTIO_BLK_S_IOERR);
    return;
  }
  r->type = le32toh (h.type);
  r->offset = le64toh (h.sector);         /* sectors until checked */
  switch (r->type) {
  case VIRTIO_BLK_T_IN:
    r->iov = in;
    r->niov = trim_empty (in, e->n_in);
    r->len = in_bytes - 1;
    if (r->len > BLK_MAX_DATA || !range_ok (b, r->offset, r->len)) {
      done (r, VIRTIO_BLK_S_IOERR);
      return;
    }
    r->offset *= 512;
    r->op = BLK_OP_READ;
    return;
  case VIRTIO_BLK_T_OUT:
    n = e->n_out;
    r->iov = skip_front (e->iov, &n, e->gpa, sizeof (h));
    r->niov = trim_empty (r->iov, n);
    r->len = iov_bytes (r->iov, n);
    if (b->read_only || r->len > BLK_MAX_DATA || !range_ok (b, r->offset, r->len)) {
      done (r, VIRTIO_BLK_S_IOERR);
      return;
    }
    r->offset *= 512;
    r->op = BLK_OP_WRITE;
    r->mode = wce ? 0 : 1;                /* 1: the write must be durable (RWF_DSYNC) */
    return;
  case VIRTIO_BLK_T_FLUSH:
    r->op = BLK_OP_FLUSH;
    return;
  case VIRTIO_BLK_T_GET_ID: {
    size_t want = in_bytes - 1 < VIRTIO_BLK_ID_BYTES ? in_bytes - 1 : VIRTIO_BLK_ID_BYTES;
    char id[VIRTIO_BLK_ID_BYTES] = { 0 };
    size_t left = want;
    memcpy (id, b->serial, strnlen (b->serial, VIRTIO_BLK_ID_BYTES));
    for (unsigned i = 0; i < e->n_in && left; i++) {
      size_t l = in[i].iov_len < left ? in[i].iov_len : left;
      memcpy (in[i].iov_base, id + (want - left), l);
      left -= l;
    }
    r->iov = in;
    r->niov = e->n_in;
    r->len = want;
    done (r, VIRTIO_BLK_S_OK);
    return;
  }
  case VIRTIO_BLK_T_DISCARD:
  case VIRTIO_BLK_T_WRITE_ZEROES: {
    struct virtio_blk_discard_write_zeroes seg;
    uint64_t data = iov_bytes (e->iov, e->n_out) - sizeof (h);
    uint32_t flags, sectors;
    if (b->read_only) {
      done (r, VIRTIO_BLK_S_IOERR);
      return;
    }
    if (data != sizeof (seg) || !copy_out (e, sizeof (h), &seg, sizeof (seg))) {
      /* more segments than max_*_seg (1), or a short one */
      done (r, VIRTIO_BLK_S_IOERR);
      return;
    }
    flags = le32toh (seg.flags);
    sectors = le32toh (seg.num_sectors);
    if ((r->type == VIRTIO_BLK_T_DISCARD && flags)
        || (flags & ~(uint32_t) VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)) {
      done (r, VIRTIO_BLK_S_UNSUPP);
      return;
    }
    if (sectors > MAX_DISCARD_SECTORS || !range_ok (b, le64toh (seg.sector), (uint64_t) sectors * 512)) {
      done (r, VIRTIO_BLK_S_IOERR);
      return;
    }
    r->offset = le64toh (seg.sector) * 512;
    r->len = (uint64_t) sectors * 512;
    r->op = BLK_OP_FALLOCATE;
    r->mode = r->type == VIRTIO_BLK_T_DISCARD || (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
              ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
              : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
    return;
  }
  default:
    done (r, VIRTIO_BLK_S_UNSUPP);
    return;
  }
}

uint32_t
blk_req_finish (struct blk_req *r, uint8_t status)
{
  if (r->status == NULL)
    return 0;
  *r->status = status;
  return r->written;
}
