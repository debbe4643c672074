/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest memory as the front-end shares it (regions, address translation) and the dirty log. */
#include <config.h>

#include <stddef.h>

#include "mem.h"

/* [start, start + len) inside [base, base + size), without overflow. */
static bool
inside (uint64_t start, uint64_t len, uint64_t base, uint64_t size)
{
  return start >= base && start - base <= size && len <= size - (start - base);
}

/* The region holding [addr, addr + len) in guest (@uva false) or
 * front-end (@uva true) addresses, and its address here. */
static void *
translate (const struct vu_mem *m, uint64_t addr, uint64_t len, bool uva)
{
  for (unsigned i = 0; i < m->n; i++) {
    const struct vu_region *r = &m->r[i];
    uint64_t base = uva ? r->uva : r->gpa;
    if (inside (addr, len, base, r->size))
      return (char *) r->mmap_addr + r->mmap_offset + (addr - base);
  }
  return NULL;
}

void *
vu_mem_gpa (const struct vu_mem *m, uint64_t gpa, uint64_t len)
{
  return translate (m, gpa, len, false);
}

void *
vu_mem_uva (const struct vu_mem *m, uint64_t uva, uint64_t len)
{
  return translate (m, uva, len, true);
}

int
vu_mem_iov (const struct vu_mem *m, uint64_t gpa, uint64_t len, struct iovec *iov,
            uint64_t *gpas, unsigned max)
{
  unsigned n = 0;

  while (len) {
    const struct vu_region *r = NULL;
    uint64_t room;

    for (unsigned i = 0; i < m->n; i++)
      if (inside (gpa, 1, m->r[i].gpa, m->r[i].size)) {
        r = &m->r[i];
        break;
      }
    if (r == NULL)
      return -1;
    if (n == max)
      return -2;
    room = r->size - (gpa - r->gpa);
    if (room > len)
      room = len;
    if (iov) {
      iov[n].iov_base = (char *) r->mmap_addr + r->mmap_offset + (gpa - r->gpa);
      iov[n].iov_len = room;
      if (gpas)
        gpas[n] = gpa;
    }
    n++;
    len -= room;
    if (len && gpa > UINT64_MAX - room)
      return -1;
    gpa += room;
  }
  return (int) n;
}

void
vu_log_write (struct vu_log *log, uint64_t gpa, uint64_t len)
{
  uint64_t first, last;

  if (!log->active || len == 0)
    return;
  first = gpa / VU_LOG_PAGE;
  last = (len - 1 > UINT64_MAX - gpa ? UINT64_MAX : gpa + len - 1) / VU_LOG_PAGE;
  for (uint64_t page = first; page <= last && page / 8 < log->size; page++)
    __atomic_fetch_or (&log->base[page / 8], (uint8_t) (1u << (page % 8)), __ATOMIC_RELAXED);
}
