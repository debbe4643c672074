/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest memory as the front-end shares it (regions, address translation) and the dirty log. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define VU_MAX_MEM_SLOTS 32       /* ADD_MEM_REG (GET_MAX_MEM_SLOTS) */
#define VU_LOG_PAGE 4096          /* one dirty-log bit per page */

/* A region of guest memory, mapped here. */
struct vu_region {
  uint64_t gpa;                   /* guest physical address */
  uint64_t size;
  uint64_t uva;                   /* the front-end's address of it */
  uint64_t mmap_offset;
  void *mmap_addr;                /* our mapping (of mmap_offset + size bytes) */
  uint64_t mmap_size;
};

struct vu_mem {
  unsigned n;
  struct vu_region r[VU_MAX_MEM_SLOTS];
};

/* The dirty-page bitmap shared with the front-end (SET_LOG_BASE). */
struct vu_log {
  uint8_t *base;                  /* NULL when no log is set */
  uint64_t size;                  /* bytes of bitmap */
  void *mmap_addr;
  uint64_t mmap_size;
  bool active;                    /* VHOST_F_LOG_ALL negotiated and a log set */
};

/* The address here of @len bytes at guest physical address @gpa, or NULL
 * when they are not all inside one region (no arithmetic overflows). */
void *vu_mem_gpa (const struct vu_mem *m, uint64_t gpa, uint64_t len);

/* The same for an address in the front-end's own address space. */
void *vu_mem_uva (const struct vu_mem *m, uint64_t uva, uint64_t len);

/* Maps @len bytes at @gpa into at most @max iovecs, split where regions
 * end; @gpas (may be NULL) gets each piece's guest address; with @iov
 * NULL the pieces are only counted.  Returns the number of pieces, -1
 * when a byte is outside guest memory, or -2 when @max is too small. */
int vu_mem_iov (const struct vu_mem *m, uint64_t gpa, uint64_t len, struct iovec *iov,
                uint64_t *gpas, unsigned max);

/* Marks the pages of [@gpa, @gpa + @len) dirty when the log is active;
 * safe from several threads. */
void vu_log_write (struct vu_log *log, uint64_t gpa, uint64_t len);
