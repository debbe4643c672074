/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inflight I/O tracking in memory shared with the front-end (vhost-user.rst,
 * "Inflight I/O tracking"), so a restarted backend completes each request once. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "inflight.h"

uint64_t
vq_inflight_queue_bytes (uint16_t queue_size)
{
  uint64_t n = sizeof (struct vq_inflight) + (uint64_t) queue_size * sizeof (struct vq_inflight_desc);

  return (n + VQ_INFLIGHT_ALIGN - 1) / VQ_INFLIGHT_ALIGN * VQ_INFLIGHT_ALIGN;
}

int
vq_inflight_create (uint16_t num_queues, uint16_t queue_size, uint64_t *size)
{
  /* the region must outlive this process: the front-end keeps the fd
   * and hands it to the next backend; memfd pages start zeroed */
  int fd = memfd_create ("virt-dataplane-blk-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);

  if (fd < 0)
    return -1;
  *size = vq_inflight_queue_bytes (queue_size) * num_queues;
  if (ftruncate (fd, (off_t) *size) < 0
      || fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
    int e = errno;
    close (fd);
    errno = e;
    return -1;
  }
  return fd;
}
