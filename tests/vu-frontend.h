/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A vhost-user-blk front-end for tests: QEMU 7.2's side of the socket, with
 * memfd guest memory, split rings and a request builder. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/virtio_ring.h>

#define FE_MAX_QUEUES 16
#define FE_MAX_FDS 8

/* One request slot: header, data buffer and status live in guest memory. */
struct fe_slot {
  bool busy;
  uint32_t type;
  uint64_t sector;
  uint32_t len;                   /* data bytes */
  uint64_t submitted_ns;
  uint64_t tag;                   /* the caller's */
};

struct fe_queue {
  unsigned index;
  uint16_t size;
  uint64_t desc_gpa, avail_gpa, used_gpa, meta_gpa, data_gpa;
  struct vring_desc *desc;
  struct vring_avail *avail;
  struct vring_used *used;
  uint16_t avail_idx, last_used, kicked_at;
  uint16_t base;                  /* SET_VRING_BASE on the next start */
  int kick_fd, call_fd, err_fd;
  unsigned nslots, busy;
  struct fe_slot *slots;
  bool started;
};

struct fe_done {
  unsigned slot;
  uint8_t status;
  uint32_t used_len;
  uint64_t tag;
  uint64_t latency_ns;
};

struct fe {
  int sock;
  char path[108];
  int memfd;
  uint8_t *mem;                   /* guest memory, GPA 0 */
  uint64_t mem_size;
  uint64_t brk;                   /* guest memory allocator */
  uint64_t offered, features;     /* virtio features: the backend's, acked */
  uint64_t protocol;              /* acked protocol features */
  uint64_t max_queues;
  unsigned nqueues;
  uint16_t qsize;
  uint32_t max_io;                /* data bytes per slot */
  bool indirect;                  /* chains through indirect tables */
  bool use_slots;                 /* ADD_MEM_REG instead of SET_MEM_TABLE */
  uint64_t split;                 /* announce guest memory as two regions split here (0: one) */
  void (*after_memory) (struct fe *fe);   /* fe_start: called once memory is sent (may be NULL) */
  uint64_t skew;                  /* slot data buffers start this far into their slot */
  bool blocking_fds;              /* kick and call eventfds without O_NONBLOCK */
  int inflight_fd;                /* kept across reconnects, as QEMU does */
  uint64_t inflight_size;
  uint16_t inflight_queues, inflight_qsize;
  uint8_t config[60];
  uint32_t config_size;
  struct fe_queue q[FE_MAX_QUEUES];
  uint64_t messages;              /* sent */
  uint64_t kicks, kicks_skipped;  /* fe_kick: signalled, or not wanted by the backend */
  char err[256];
};

/* Guest memory of @mem_size bytes and rings for @nqueues queues of
 * @qsize slots of @max_io bytes (indirect tables when @indirect).
 * Returns 0 or -1 (fe->err). */
int fe_init (struct fe *fe, uint64_t mem_size, unsigned nqueues, uint16_t qsize, uint32_t max_io,
             bool indirect);

/* Connects to @path (retrying for @wait_ms) and runs QEMU 7.2's handshake
 * and device start: features masked by @want (EVENT_IDX, INDIRECT, ...),
 * inflight region when offered.  Rings continue where they were. */
int fe_connect (struct fe *fe, const char *path, unsigned wait_ms, uint64_t want);

/* Only connects (retrying for @wait_ms); replies that take longer than
 * 10 s count as a hung backend. */
int fe_dial (struct fe *fe, const char *path, unsigned wait_ms);

/* fe_connect's two halves: negotiation (vhost_dev_init and realize) on
 * a dialled connection, then the device start with memory and rings. */
int fe_handshake (struct fe *fe, uint64_t want);
int fe_start (struct fe *fe);

/* Guest memory for the caller: @size bytes aligned to @align (GPA), or
 * UINT64_MAX when full; and the address here of a guest address. */
uint64_t fe_alloc (struct fe *fe, uint64_t size, uint64_t align);
void *fe_ptr (struct fe *fe, uint64_t gpa);

/* QEMU 7.2's reconnect when the device was not started: no negotiation,
 * straight into SET_FEATURES and the ring setup. */
int fe_connect_no_handshake (struct fe *fe, const char *path, unsigned wait_ms);

/* Gives queue @qi a new call eventfd while it runs, as QEMU does on
 * MSI-X mask and unmask. */
int fe_swap_call (struct fe *fe, unsigned qi);

/* Makes the kick and call eventfds blocking, as front-ends other than
 * QEMU create them (before fe_connect).  Returns 0 or -1 (fe->err). */
int fe_blocking_eventfds (struct fe *fe);

/* Migration's start: LOG_ALL, SET_LOG_BASE with @logfd (@bytes of
 * bitmap), ring addresses with the used ring logged. */
int fe_start_logging (struct fe *fe, int logfd, uint64_t bytes);

/* The stop sequence (SET_VRING_ENABLE 0, GET_VRING_BASE) and close. */
int fe_stop (struct fe *fe);

/* After the backend died: what QEMU does (last avail = used idx). */
void fe_disconnected (struct fe *fe);

/* Sends one raw message (@fd: -1 or a descriptor); reads a reply when
 * @reply is set.  Returns 0, or -1 when the backend hung up. */
int fe_raw (struct fe *fe, uint32_t request, uint32_t flags, const void *payload, uint32_t size,
            int fd, void *reply, uint32_t reply_size);

/* The same with @n_fds descriptors, and no reply read. */
int fe_raw_fds (struct fe *fe, uint32_t request, uint32_t flags, const void *payload,
                uint32_t size, const int *fds, unsigned n_fds);

/* Reads the reply to @request: @reply_size bytes (0: any), a descriptor
 * into @fd (may be NULL).  Returns 0, or -1 (fe->err). */
int fe_reply (struct fe *fe, uint32_t request, void *reply, uint32_t reply_size, int *fd);

/* A free slot of queue @q, or -1. */
int fe_slot_get (struct fe *fe, unsigned q);

/* The data buffer of a slot. */
uint8_t *fe_slot_data (struct fe *fe, unsigned q, unsigned slot);

/* Puts a request in slot @slot of queue @q (data bytes in the slot's
 * buffer for writes), without kicking. */
void fe_submit (struct fe *fe, unsigned q, unsigned slot, uint32_t type, uint64_t sector,
                uint32_t len, uint64_t tag);

/* Publishes and kicks when the backend wants it (EVENT_IDX / NO_NOTIFY). */
void fe_kick (struct fe *fe, unsigned q);

/* Collects finished requests of @q into @out (at most @max); waits up
 * to @wait_ms for the first (0: no wait).  Returns how many, or -1 when
 * a used element names a slot not in flight (completed twice). */
int fe_complete (struct fe *fe, unsigned q, struct fe_done *out, unsigned max, int wait_ms);

/* One synchronous request; returns the status, or -1 on timeout. */
int fe_sync (struct fe *fe, unsigned q, uint32_t type, uint64_t sector, const void *data,
             uint32_t len, void *out, uint32_t *used_len);

/* One piece of a raw descriptor chain. */
struct fe_seg {
  uint64_t gpa;
  uint32_t len;
  bool write;                     /* device-writable */
};

/* Writes a chain of @n pieces at descriptor @head of queue @q (through an
 * indirect table at @table_gpa unless it is 0), makes it available and
 * kicks.  The caller keeps the descriptors it uses apart from the slots'. */
void fe_chain (struct fe *fe, unsigned q, uint16_t head, const struct fe_seg *segs, unsigned n,
               uint64_t table_gpa);

/* Waits up to @wait_ms for the next used element of @q (chains of
 * fe_chain): 1 with its @id and @len, 0 on timeout. */
int fe_used (struct fe *fe, unsigned q, uint32_t *id, uint32_t *len, int wait_ms);

/* Broken chains (vu-fuzz.c): each breaks a rule of the split ring. */
enum fe_bad_chain {
  K_LOOP, K_NEXT_PAST, K_OUTSIDE, K_HUGE_LEN, K_NESTED_INDIRECT, K_INDIRECT_LEN, K_INDIRECT_OUTSIDE,
  K_READ_AFTER_WRITE, K_AVAIL_JUMP, K_HEAD_PAST, K_WRAP_ADDR, K_INDIRECT_LOOP, K_RANDOM, K_LAST
};
extern const char *const fe_bad_chain_names[K_LAST];

/* Writes a broken chain of @kind at head 0 of queue 0 and publishes it. */
void fe_bad_chain (struct fe *fe, enum fe_bad_chain kind);

/* Writes a raw descriptor chain of queue @q for the fuzzer. */
struct vring_desc *fe_desc (struct fe *fe, unsigned q);
void fe_publish_head (struct fe *fe, unsigned q, uint16_t head, uint16_t avail_jump);

uint64_t fe_now_ns (void);

/* A "Name: N kB" field of /proc/@pid/status, 0 when unknown. */
uint64_t fe_proc_kib (pid_t pid, const char *field);

/* Fills @n bytes with a pattern only @seed makes. */
void fe_pattern (uint8_t *p, size_t n, uint64_t seed);

/* xorshift64: the next pseudo-random number of *@state (never 0). */
uint64_t fe_rand (uint64_t *state);
void fe_close (struct fe *fe);
