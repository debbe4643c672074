/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Split virtqueues as the device side sees them: validated descriptor chains
 * in, used elements and notifications out, inflight tracking on the way. */
#include <config.h>

#include <endian.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "virtq.h"

#define full_barrier() __atomic_thread_fence (__ATOMIC_SEQ_CST)

void
vq_fail (struct vq *vq, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (vq->why, sizeof (vq->why), fmt, ap);
  va_end (ap);
  vq->broken = true;
  if (vq->err_fd >= 0)
    eventfd_write (vq->err_fd, 1);
}

void
vq_init (struct vq *vq, unsigned index, const struct vu_mem *mem, struct vu_log *log)
{
  memset (vq, 0, sizeof (*vq));
  vq->index = index;
  vq->kick_fd = vq->call_fd = vq->err_fd = -1;
  vq->mem = mem;
  vq->log = log;
}

void
vq_reset (struct vq *vq)
{
  const struct vu_mem *mem = vq->mem;
  struct vu_log *log = vq->log;
  unsigned index = vq->index;

  if (vq->kick_fd >= 0)
    close (vq->kick_fd);
  if (vq->call_fd >= 0)
    close (vq->call_fd);
  if (vq->err_fd >= 0)
    close (vq->err_fd);
  free (vq->resubmit);
  vq_init (vq, index, mem, log);
}

/* avail_event sits after the used ring, used_event after the avail ring (EVENT_IDX). */
static volatile uint16_t *
avail_event (const struct vq *vq)
{
  return (volatile uint16_t *) ((char *) vq->used + offsetof (struct vring_used, ring)
                                + vq->size * sizeof (struct vring_used_elem));
}

static volatile uint16_t *
used_event (const struct vq *vq)
{
  return (volatile uint16_t *) ((char *) vq->avail + offsetof (struct vring_avail, ring)
                                + vq->size * sizeof (uint16_t));
}

static uint16_t
avail_idx (const struct vq *vq)
{
  return le16toh (__atomic_load_n (&vq->avail->idx, __ATOMIC_ACQUIRE));
}

bool
vq_mapped (const struct vq *vq)
{
  uint64_t n = vq->size;

  return vq->addr_set && n && vu_mem_uva (vq->mem, vq->desc_addr, 16 * n)
         && vu_mem_uva (vq->mem, vq->avail_addr, 4 + 2 * n + 2)
         && vu_mem_uva (vq->mem, vq->used_addr, 4 + 8 * n + 2);
}

int
vq_remap (struct vq *vq)
{
  uint64_t n = vq->size;

  vq->desc = vu_mem_uva (vq->mem, vq->desc_addr, 16 * n);
  vq->avail = vu_mem_uva (vq->mem, vq->avail_addr, 4 + 2 * n + 2);
  vq->used = vu_mem_uva (vq->mem, vq->used_addr, 4 + 8 * n + 2);
  if (!vq->addr_set || n == 0) {
    vq_fail (vq, "queue %u started before its size and addresses were set", vq->index);
    return -1;
  }
  if (!vq->desc || !vq->avail || !vq->used) {
    vq_fail (vq, "queue %u: ring addresses (desc 0x%llx, avail 0x%llx, used 0x%llx) "
             "are outside guest memory", vq->index, (unsigned long long) vq->desc_addr,
             (unsigned long long) vq->avail_addr, (unsigned long long) vq->used_addr);
    return -1;
  }
  if (((uintptr_t) vq->desc & 15) || ((uintptr_t) vq->avail & 1) || ((uintptr_t) vq->used & 3)) {
    vq_fail (vq, "queue %u: misaligned ring addresses", vq->index);
    return -1;
  }
  return 0;
}

static int
by_counter (const void *a, const void *b, void *arg)
{
  const struct vq_inflight *in = arg;
  uint64_t ca = in->desc[*(const uint16_t *) a].counter;
  uint64_t cb = in->desc[*(const uint16_t *) b].counter;

  return ca < cb ? -1 : ca > cb;
}

/* Marks the ring's inflight region as holding nothing in flight. */
static void
inflight_fresh (struct vq *vq)
{
  struct vq_inflight *in = vq->inflight;

  memset (in->desc, 0, vq->size * sizeof (in->desc[0]));
  in->desc_num = vq->size;
  in->used_idx = vq->published;
  in->last_batch_head = 0;
  full_barrier ();
  in->version = 1;
}

/* Whether the ring's inflight region has room for all its descriptors. */
static bool
inflight_fits (struct vq *vq)
{
  if (vq->size <= vq->inflight_n)
    return true;
  vq_fail (vq, "queue %u: ring of %u is larger than the inflight region's %u", vq->index,
           vq->size, vq->inflight_n);
  return false;
}

int
vq_inflight_adopt (struct vq *vq)
{
  if (!inflight_fits (vq))
    return -1;
  inflight_fresh (vq);
  return 0;
}

/* After a restart: the published used entries the dead backend had not
 * yet cleared are cleared; what is left in flight runs again in fetch
 * order, and fetching goes on after it. */
static int
recover_inflight (struct vq *vq)
{
  struct vq_inflight *in = vq->inflight;
  uint16_t lag = (uint16_t) (vq->published - in->used_idx);
  uint64_t top = 0;
  unsigned n = 0;

  if (in->version != 1 || in->desc_num != vq->size) {
    /* fresh (or for another ring size): nothing to recover */
    inflight_fresh (vq);
    return 0;
  }
  if (lag > vq->size) {
    vq_fail (vq, "queue %u: inflight region used index %u is %u behind the ring's %u",
             vq->index, in->used_idx, lag, vq->published);
    return -1;
  }
  for (uint16_t p = in->used_idx; p != vq->published; p++) {
    uint32_t id = le32toh (vq->used->ring[p % vq->size].id);
    if (id < vq->size)
      in->desc[id].inflight = 0;
  }
  full_barrier ();
  in->used_idx = vq->published;
  free (vq->resubmit);
  vq->resubmit = malloc (vq->size * sizeof (uint16_t));
  if (vq->resubmit == NULL) {
    vq_fail (vq, "queue %u: no memory to recover its inflight requests", vq->index);
    return -1;
  }
  for (uint16_t i = 0; i < vq->size; i++)
    if (in->desc[i].inflight) {
      vq->resubmit[n++] = i;
      if (in->desc[i].counter >= top)
        top = in->desc[i].counter + 1;
    }
  qsort_r (vq->resubmit, n, sizeof (uint16_t), by_counter, in);
  vq->n_resubmit = n;
  vq->next_resubmit = 0;
  vq->counter = top;
  vq->last_avail = (uint16_t) (vq->published + n);
  return 0;
}

int
vq_start (struct vq *vq)
{
  if (vq_remap (vq) < 0)
    return -1;
  /* what the driver sees, not what an earlier connection left here */
  vq->published = vq->used_idx = le16toh (__atomic_load_n (&vq->used->idx, __ATOMIC_ACQUIRE));
  vq->signalled_valid = false;
  vq->notify_off = false;
  vq->n_resubmit = vq->next_resubmit = 0;
  if (vq->inflight && (!inflight_fits (vq) || recover_inflight (vq) < 0))
    return -1;
  vq->broken = false;
  vq->started = true;
  return 0;
}

/* Reads the chain at @head into @e; -1 (ring broken) on any rule broken.
 * A legal chain of more pieces than @e holds comes truncated (virtq.h). */
static int
walk_chain (struct vq *vq, uint16_t head, struct vq_elem *e)
{
  const struct vring_desc *table = vq->desc;
  unsigned max = vq->size, i = head, count = 0, n = 0;
  bool indirect = false, writing = false;
  uint64_t status_gpa = UINT64_MAX;       /* last writable byte */

  e->head = head;
  e->n_out = e->n_in = e->n_desc = 0;
  e->truncated = false;
  for (;;) {
    struct vring_desc d;
    uint16_t flags;
    uint64_t addr;
    uint32_t len;
    int got;

    memcpy (&d, &table[i], sizeof (d));   /* one snapshot: the driver may change it */
    flags = le16toh (d.flags);
    addr = le64toh (d.addr);
    len = le32toh (d.len);
    if (flags & VRING_DESC_F_INDIRECT) {
      if (!vq->indirect) {
        vq_fail (vq, "queue %u: indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC", vq->index);
        return -1;
      }
      if (indirect || count) {
        vq_fail (vq, "queue %u: indirect descriptor inside a chain (head %u)", vq->index, head);
        return -1;
      }
      if (len == 0 || len % sizeof (d) || len / sizeof (d) > VQ_MAX_SIZE) {
        vq_fail (vq, "queue %u: indirect table of %u bytes (head %u)", vq->index, len, head);
        return -1;
      }
      table = vu_mem_gpa (vq->mem, addr, len);
      if (table == NULL) {
        vq_fail (vq, "queue %u: indirect table at 0x%llx (%u bytes) is outside guest memory",
                 vq->index, (unsigned long long) addr, len);
        return -1;
      }
      if ((uintptr_t) table % 8) {
        vq_fail (vq, "queue %u: misaligned indirect table at 0x%llx", vq->index,
                 (unsigned long long) addr);
        return -1;
      }
      indirect = true;
      max = len / sizeof (d);
      i = 0;
      continue;
    }
    if (++count > max) {
      vq_fail (vq, "queue %u: descriptor chain at head %u loops or is longer than %u",
               vq->index, head, max);
      return -1;
    }
    if (!(flags & VRING_DESC_F_WRITE) && writing) {
      vq_fail (vq, "queue %u: readable descriptor after a writable one (head %u)", vq->index, head);
      return -1;
    }
    got = e->truncated ? -2 : vu_mem_iov (vq->mem, addr, len, &e->iov[n], &e->gpa[n], VQ_MAX_IOV - n);
    if (got == -2) {
      /* too many pieces to serve: that request fails, but the rest of
       * the chain must still be inside guest memory */
      e->truncated = true;
      got = vu_mem_iov (vq->mem, addr, len, NULL, NULL, UINT32_MAX);
    } else if (got >= 0) {
      n += (unsigned) got;
      if (flags & VRING_DESC_F_WRITE)
        e->n_in += (unsigned) got;
      else
        e->n_out += (unsigned) got;
    }
    if (got < 0) {
      vq_fail (vq, "queue %u: descriptor of %u bytes at 0x%llx is outside guest memory "
               "(head %u)", vq->index, len, (unsigned long long) addr, head);
      return -1;
    }
    e->n_desc++;
    if (flags & VRING_DESC_F_WRITE) {
      writing = true;
      if (len)
        status_gpa = addr + len - 1;
    }
    if (!(flags & VRING_DESC_F_NEXT))
      break;
    i = le16toh (d.next);
    if (i >= max) {
      vq_fail (vq, "queue %u: next descriptor %u is past the table of %u (head %u)",
               vq->index, i, max, head);
      return -1;
    }
  }
  if (e->truncated) {
    e->n_out = e->n_in = 0;
    if (status_gpa != UINT64_MAX) {
      e->iov[0].iov_base = vu_mem_gpa (vq->mem, status_gpa, 1);
      e->iov[0].iov_len = 1;
      e->gpa[0] = status_gpa;
      e->n_in = 1;
    }
  }
  return 0;
}

bool
vq_has_work (struct vq *vq)
{
  if (!vq->started || vq->broken)
    return false;
  if (vq->next_resubmit < vq->n_resubmit)
    return true;
  full_barrier ();
  return avail_idx (vq) != vq->last_avail;
}

int
vq_pop (struct vq *vq, struct vq_elem *e)
{
  uint16_t idx, head;

  if (!vq->started || vq->broken)
    return 0;
  if (vq->next_resubmit < vq->n_resubmit) {
    head = vq->resubmit[vq->next_resubmit++];
    return walk_chain (vq, head, e) < 0 ? -1 : 1;
  }
  idx = avail_idx (vq);
  if (idx == vq->last_avail)
    return 0;
  if ((uint16_t) (idx - vq->last_avail) > vq->size) {
    vq_fail (vq, "queue %u: avail index jumped from %u to %u (ring of %u)", vq->index,
             vq->last_avail, idx, vq->size);
    return -1;
  }
  head = le16toh (vq->avail->ring[vq->last_avail % vq->size]);
  if (head >= vq->size) {
    vq_fail (vq, "queue %u: avail head %u is past the ring of %u", vq->index, head, vq->size);
    return -1;
  }
  if (walk_chain (vq, head, e) < 0)
    return -1;
  if (vq->inflight && head < vq->inflight_n) {
    vq->inflight->desc[head].counter = vq->counter++;
    vq->inflight->desc[head].inflight = 1;
  }
  vq->last_avail++;
  if (vq->event_idx && !vq->notify_off)
    *avail_event (vq) = htole16 (vq->last_avail);
  return 1;
}

void
vq_push (struct vq *vq, uint16_t head, uint32_t len)
{
  uint16_t slot = vq->used_idx % vq->size;
  struct vring_used_elem *ue = &vq->used->ring[slot];

  ue->id = htole32 (head);
  ue->len = htole32 (len);
  if (vq->log_all && vq->log_used)
    vu_log_write (vq->log, vq->log_addr + offsetof (struct vring_used, ring) + slot * sizeof (*ue),
                  sizeof (*ue));
  vq->used_idx++;
}

bool
vq_flush (struct vq *vq)
{
  uint16_t old, now = vq->used_idx;
  bool was_valid;

  if (now == vq->published)
    return false;
  __atomic_store_n (&vq->used->idx, htole16 (now), __ATOMIC_RELEASE);
  if (vq->log_all && vq->log_used)
    vu_log_write (vq->log, vq->log_addr + offsetof (struct vring_used, idx), 2);
  if (vq->inflight) {
    struct vq_inflight *in = vq->inflight;
    full_barrier ();
    for (uint16_t p = vq->published; p != now; p++) {
      uint32_t id = le32toh (vq->used->ring[p % vq->size].id);
      if (id < vq->size && id < vq->inflight_n)
        in->desc[id].inflight = 0;
      in->last_batch_head = (uint16_t) id;
    }
    full_barrier ();
    in->used_idx = now;
  }
  vq->published = now;

  full_barrier ();              /* used->idx before used_event (P7) */
  if (!vq->event_idx)
    return !(le16toh (vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
  old = vq->signalled;
  was_valid = vq->signalled_valid;
  vq->signalled = now;
  vq->signalled_valid = true;
  return !was_valid
         || vring_need_event (le16toh (*used_event (vq)), now, old);
}

void
vq_set_notification (struct vq *vq, bool enable)
{
  vq->notify_off = !enable;
  if (vq->event_idx) {
    /* disabled: avail_event lags behind and the driver stops kicking */
    if (enable)
      *avail_event (vq) = htole16 (vq->last_avail);
  } else {
    __atomic_store_n (&vq->used->flags, htole16 (enable ? 0 : VRING_USED_F_NO_NOTIFY),
                      __ATOMIC_RELAXED);
    if (vq->log_all && vq->log_used)
      vu_log_write (vq->log, vq->log_addr + offsetof (struct vring_used, flags), 2);
  }
  if (enable)
    full_barrier ();
}
