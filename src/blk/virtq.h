/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Split virtqueues as the device side sees them: validated descriptor chains
 * in, used elements and notifications out, inflight tracking on the way. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_ring.h>

#include "inflight.h"
#include "mem.h"

#define VQ_MAX_SIZE 1024          /* largest ring (SET_VRING_NUM) */
#define VQ_MAX_IOV 260            /* pieces of one request: seg_max 126 + header + status, split */

/* One request as the driver made it available: readable pieces first.
 * A chain of more pieces than VQ_MAX_IOV is legal but cannot be served:
 * it comes truncated, with no readable piece and, as its one writable
 * piece, the last byte of its last writable descriptor (the status). */
struct vq_elem {
  uint16_t head;
  unsigned n_out;                 /* readable (driver to device) pieces */
  unsigned n_in;                  /* writable pieces, after the readable ones */
  unsigned n_desc;                /* descriptors in the chain (indirect ones not counted) */
  bool truncated;
  struct iovec iov[VQ_MAX_IOV];
  uint64_t gpa[VQ_MAX_IOV];       /* guest address of each piece (dirty log) */
};

struct vq {
  unsigned index;
  uint16_t size;                  /* SET_VRING_NUM; 0 = not set */
  uint64_t desc_addr, avail_addr, used_addr, log_addr;   /* SET_VRING_ADDR (front-end addresses) */
  bool log_used;                  /* VHOST_VRING_F_LOG: log_addr is the used ring's guest address */
  bool addr_set;

  struct vring_desc *desc;        /* translated at start */
  struct vring_avail *avail;
  struct vring_used *used;

  uint16_t last_avail;            /* next avail position to fetch */
  uint16_t used_idx;              /* used index including unpublished elements */
  uint16_t published;             /* used->idx as last written */
  uint16_t signalled;             /* used index at the last notification */
  bool signalled_valid;

  bool event_idx, indirect, log_all;   /* from the negotiated features */
  int kick_fd, call_fd, err_fd;   /* -1 when none */
  unsigned refused_fds;           /* kick, call, err (bits 0-2) refused: the ring stays stopped */
  bool kicked;                    /* SET_VRING_KICK came (since the last stop) */
  bool started;                   /* kicked, and the ring is translated */
  bool enabled;                   /* SET_VRING_ENABLE */
  bool broken;                    /* the driver broke the rules: no more fetching */
  bool notify_off;                /* notifications suppressed (polling) */
  char why[160];                  /* why it broke */

  struct vq_inflight *inflight;   /* NULL without INFLIGHT_SHMFD */
  uint16_t inflight_n;            /* descriptors the region has room for */
  uint64_t counter;
  uint16_t *resubmit;             /* heads to run again after a restart, in fetch order */
  unsigned n_resubmit, next_resubmit;

  const struct vu_mem *mem;
  struct vu_log *log;
};

/* Sets @vq up as a stopped ring using @mem and @log. */
void vq_init (struct vq *vq, unsigned index, const struct vu_mem *mem, struct vu_log *log);

/* Closes its descriptors and forgets ring state (not mem/log). */
void vq_reset (struct vq *vq);

/* Translates the ring and reads its state from guest memory; with an
 * inflight region, repairs it and queues the requests a previous backend
 * left in flight.  Returns 0, or -1 with vq->why set (and vq->broken). */
int vq_start (struct vq *vq);

/* Whether size and addresses are set and all three parts of the ring lie
 * in guest memory as mapped now (nothing is changed or reported). */
bool vq_mapped (const struct vq *vq);

/* Re-translates the ring after the memory table changed; -1 like vq_start. */
int vq_remap (struct vq *vq);

/* Takes a new inflight region for a running ring that has nothing in
 * flight: marks it fresh, consistent with the used ring.  Returns 0, or
 * -1 (ring broken) when the region is too small for the ring. */
int vq_inflight_adopt (struct vq *vq);

/* Fetches the next request into @e.  Returns 1, 0 when there is none,
 * or -1 when the driver broke the rules (the ring is then broken). */
int vq_pop (struct vq *vq, struct vq_elem *e);

/* Whether vq_pop would find something (a full barrier first). */
bool vq_has_work (struct vq *vq);

/* Puts a finished request in the used ring (@len bytes written to it);
 * the driver sees it at the next vq_flush. */
void vq_push (struct vq *vq, uint16_t head, uint32_t len);

/* Publishes what vq_push put; returns whether the driver wants a
 * notification for it (EVENT_IDX or NO_INTERRUPT). */
bool vq_flush (struct vq *vq);

/* Asks the driver to kick (true) or not (false).  Re-check with
 * vq_has_work after enabling: a request may have come in between. */
void vq_set_notification (struct vq *vq, bool enable);

/* Marks the ring broken with a reason. */
void vq_fail (struct vq *vq, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
