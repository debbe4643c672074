/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vdp-blk-client: plays QEMU's side of a vhost-user-blk socket to test and
 * measure a backend (ours or qemu-storage-daemon) without a guest. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "vu-frontend.h"

#define BIT(n) (1ull << (n))

static const char *socket_path;
static unsigned nqueues = 1, qsize = 128, max_io = 65536;
static bool indirect, no_event_idx, no_slots, blocking_fds, unaligned;
static const char *wait_for, *other_socket, *log_file, *disk_file;
static unsigned client_timeout;
static uint64_t want;

static void
usage (void)
{
  printf ("Usage:\n"
          " vdp-blk-client [options] --socket <path> <mode> [mode options]\n"
          "\n"
          "Play QEMU 7.2's side of a vhost-user-blk socket.\n"
          "\n"
          "Modes:\n"
          " functional             every request type; one result line per case\n"
          " reconnect              stop, reconnect without handshake (QEMU 7.2), check data\n"
          " crash <seconds>        write and verify, reconnecting whenever the backend dies;\n"
          "                        every request must complete exactly once\n"
          " fuzz <iterations>      malformed messages and descriptor chains\n"
          " dirty-log              migration: which pages a read marks dirty\n"
          " drain                  stop the device with writes in flight\n"
          " config                 print the virtio-blk configuration space\n"
          " bench                  random 4k I/O: IOPS, latency, backend CPU per I/O\n"
          " hostile [case...]      ~100 attacks, each followed by checks that the backend\n"
          "                        lives, serves, logged it, and leaks nothing\n"
          " layouts                read and write in every buffer layout, compared with\n"
          "                        the disk file read directly\n"
          "\n"
          "Options:\n"
          " --socket <path>        the backend's socket\n"
          " --queues <n>           queues (default 1)\n"
          " --queue-size <n>       ring size (default 128)\n"
          " --indirect             chains through indirect tables\n"
          " --no-event-idx         do not negotiate VIRTIO_RING_F_EVENT_IDX\n"
          " --mem-table            SET_MEM_TABLE instead of ADD_MEM_REG\n"
          " --blocking-eventfds    kick and call eventfds without O_NONBLOCK\n"
          " --seed <n>             random seed (fuzz, bench)\n"
          " --pid <pid>            the backend's pid (fuzz: must stay alive; bench: CPU time)\n"
          " --rw <read|write>      bench: the I/O (default read)\n"
          " --iodepth <n>          bench: requests in flight per queue (default 1)\n"
          " --runtime <s>          bench: seconds (default 5)\n"
          " --wait-for <file>      reconnect: wait for this file before coming back\n"
          " --unaligned            crash: data buffers not aligned (bounced)\n"
          " --other <path>         hostile: another disk's backend, which must keep serving\n"
          " --log <file>           hostile: the backend's standard error\n"
          " --file <path>          hostile, layouts: the backend's disk file\n"
          " --client-timeout <s>   hostile: the backend's --client-timeout\n");
}

static uint64_t
hash (const uint8_t *p, size_t n)
{
  uint64_t h = 1469598103934665603ull;

  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t
rnd (void)
{
  return fe_rand (&rng_state);
}

static int
connect_fe (struct fe *fe)
{
  if (fe_init (fe, 64ull << 20, nqueues, (uint16_t) qsize, max_io, indirect) < 0)
    return -1;
  fe->use_slots = !no_slots;
  fe->skew = unaligned ? 8 : 0;
  if (blocking_fds && fe_blocking_eventfds (fe) < 0)
    return -1;
  return fe_connect (fe, socket_path, 5000, want);
}

static void
result (const char *name, int status, uint32_t used_len, const uint8_t *data, size_t n)
{
  printf ("%-28s status=%d", name, status);
  if (used_len != UINT32_MAX)
    printf (" len=%u", used_len);
  if (data)
    printf (" data=%016llx", (unsigned long long) hash (data, n));
  putchar ('\n');
}

/* Like result, for a read of what was written: says whether it matches. */
static void
result_match (const char *name, int status, uint32_t used_len, const uint8_t *data,
              const uint8_t *expected, size_t n)
{
  printf ("%-28s status=%d len=%u match=%d\n", name, status, used_len, !memcmp (data, expected, n));
}

static int
functional (void)
{
  struct fe fe;
  struct virtio_blk_config cfg;
  static uint8_t buf[65536], back[65536];
  uint32_t len;
  int st;

  if (connect_fe (&fe) < 0) {
    fprintf (stderr, "vdp-blk-client: %s\n", fe.err);
    return 2;
  }
  memcpy (&cfg, fe.config, sizeof (cfg) < fe.config_size ? sizeof (cfg) : fe.config_size);
  printf ("%-28s capacity=%llu blk_size=%u read_only=%d\n", "config",
          (unsigned long long) cfg.capacity,
          (fe.offered & BIT (VIRTIO_BLK_F_BLK_SIZE)) ? cfg.blk_size : 512,
          !!(fe.offered & BIT (VIRTIO_BLK_F_RO)));
  for (unsigned q = 0; q < nqueues; q++) {
    char name[64];
    fe_pattern (buf, sizeof (buf), 1000 + q);
    snprintf (name, sizeof (name), "q%u write 64k", q);
    st = fe_sync (&fe, q, VIRTIO_BLK_T_OUT, 128 * (q + 1), buf, 65536, NULL, &len);
    result (name, st, len, NULL, 0);
    snprintf (name, sizeof (name), "q%u read 64k", q);
    st = fe_sync (&fe, q, VIRTIO_BLK_T_IN, 128 * (q + 1), NULL, 65536, back, &len);
    result_match (name, st, len, back, buf, 65536);
    snprintf (name, sizeof (name), "q%u read 4k inside", q);
    st = fe_sync (&fe, q, VIRTIO_BLK_T_IN, 128 * (q + 1) + 8, NULL, 4096, back, &len);
    result_match (name, st, len, back, buf + 4096, 4096);
  }
  /* QEMU swaps call fds while the device runs (MSI-X mask and unmask) */
  if (fe_swap_call (&fe, 0) < 0) {
    fprintf (stderr, "vdp-blk-client: %s\n", fe.err);
    return 2;
  }
  {
    struct pollfd p = { fe.q[0].call_fd, POLLIN, 0 };
    struct fe_done d;
    int slot = fe_slot_get (&fe, 0), notified;
    fe_submit (&fe, 0, (unsigned) slot, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
    fe_kick (&fe, 0);
    notified = poll (&p, 1, 5000) == 1;
    st = fe_complete (&fe, 0, &d, 1, 5000) == 1 ? d.status : -1;
    printf ("%-28s status=%d notified=%d\n", "flush after call fd swap", st, notified);
  }
  fe_pattern (buf, 512, 7);
  st = fe_sync (&fe, 0, VIRTIO_BLK_T_OUT, 1, buf, 512, NULL, &len);
  result ("write 512 at sector 1", st, len, NULL, 0);
  st = fe_sync (&fe, 0, VIRTIO_BLK_T_IN, 0, NULL, 1536, back, &len);
  result ("read 1536 at sector 0", st, len, back, 1536);
  st = fe_sync (&fe, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, &len);
  result ("flush", st, len, NULL, 0);
  memset (back, 0, 20);
  st = fe_sync (&fe, 0, VIRTIO_BLK_T_GET_ID, 0, NULL, VIRTIO_BLK_ID_BYTES, back, &len);
  result ("get-id", st, UINT32_MAX, back, strnlen ((char *) back, VIRTIO_BLK_ID_BYTES));
  {
    struct virtio_blk_discard_write_zeroes seg = { htole64 (128), htole32 (16), 0 };
    st = fe_sync (&fe, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, sizeof (seg), NULL, &len);
    result ("write-zeroes 8k", st, len, NULL, 0);
    st = fe_sync (&fe, 0, VIRTIO_BLK_T_IN, 120, NULL, 16384, back, &len);
    result ("read over the zeroes", st, len, back, 16384);
    seg.flags = htole32 (VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
    seg.sector = htole64 (160);
    st = fe_sync (&fe, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, sizeof (seg), NULL, &len);
    result ("write-zeroes unmap 8k", st, len, NULL, 0);
    st = fe_sync (&fe, 0, VIRTIO_BLK_T_IN, 152, NULL, 16384, back, &len);
    result ("read over the unmapped", st, len, back, 16384);
    seg.flags = 0;
    seg.sector = htole64 (192);
    st = fe_sync (&fe, 0, VIRTIO_BLK_T_DISCARD, 0, &seg, sizeof (seg), NULL, &len);
    result ("discard 8k", st, len, NULL, 0);
    seg.flags = htole32 (VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
    st = fe_sync (&fe, 0, VIRTIO_BLK_T_DISCARD, 0, &seg, sizeof (seg), NULL, &len);
    result ("discard with unmap flag", st, len, NULL, 0);
    seg.flags = htole32 (2);
    st = fe_sync (&fe, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, sizeof (seg), NULL, &len);
    result ("write-zeroes unknown flag", st, len, NULL, 0);
    seg.flags = 0;
    seg.sector = htole64 (cfg.capacity - 8);
    st = fe_sync (&fe, 0, VIRTIO_BLK_T_DISCARD, 0, &seg, sizeof (seg), NULL, &len);
    result ("discard past the end", st, len, NULL, 0);
  }
  st = fe_sync (&fe, 0, VIRTIO_BLK_T_IN, cfg.capacity - 4, NULL, 4096, back, &len);
  result ("read past the end", st, len, NULL, 0);
  st = fe_sync (&fe, 0, VIRTIO_BLK_T_IN, cfg.capacity - 8, NULL, 4096, back, &len);
  result ("read the last 4k", st, len, NULL, 0);
  st = fe_sync (&fe, 0, VIRTIO_BLK_T_OUT, cfg.capacity, buf, 512, NULL, &len);
  result ("write past the end", st, len, NULL, 0);
  st = fe_sync (&fe, 0, VIRTIO_BLK_T_IN, 0, NULL, 1000, back, &len);
  result ("read of 1000 bytes", st, len, NULL, 0);
  st = fe_sync (&fe, 0, 99, 0, NULL, 0, NULL, &len);
  result ("unknown type", st, len, NULL, 0);
  if (fe_stop (&fe) < 0) {
    fprintf (stderr, "vdp-blk-client: stop: %s\n", fe.err);
    return 2;
  }
  fe_close (&fe);
  return 0;
}

/* Write, stop the device, come back without a handshake, read. */
static int
reconnect (void)
{
  struct fe fe;
  static uint8_t buf[4096], back[4096];
  int st;

  fe_pattern (buf, sizeof (buf), 42);
  if (connect_fe (&fe) < 0
      || fe_sync (&fe, 0, VIRTIO_BLK_T_OUT, 64, buf, 4096, NULL, NULL) != VIRTIO_BLK_S_OK
      || fe_stop (&fe) < 0) {
    fprintf (stderr, "vdp-blk-client: %s\n", fe.err);
    return 2;
  }
  printf ("stopped; reconnecting without handshake\n");
  fflush (stdout);
  /* the caller may restart the backend now, and say so with --wait-for */
  for (unsigned i = 0; wait_for && access (wait_for, F_OK) != 0 && i < 1000; i++)
    usleep (10000);
  if (fe_connect_no_handshake (&fe, socket_path, 10000) < 0) {
    fprintf (stderr, "vdp-blk-client: %s\n", fe.err);
    return 2;
  }
  st = fe_sync (&fe, 0, VIRTIO_BLK_T_IN, 64, NULL, 4096, back, NULL);
  printf ("read after reconnect status=%d same=%d\n", st, st == 0 && !memcmp (buf, back, 4096));
  st = fe_sync (&fe, 0, VIRTIO_BLK_T_OUT, 72, buf, 4096, NULL, NULL);
  printf ("write after reconnect status=%d\n", st);
  fe_stop (&fe);
  fe_close (&fe);
  return 0;
}

/* Keeps every queue full of writes of a known pattern; reconnects when
 * the backend dies (as QEMU does with reconnect=1); at the end reads
 * everything back.  Block b of generation g holds pattern(b * 65536 + g). */
static int
crash (unsigned seconds)
{
  struct fe fe;
  enum { BLOCKS = 256, BS = 65536 };
  static uint32_t gen[BLOCKS];   /* last generation acknowledged */
  static bool busy[BLOCKS];
  uint64_t end, submitted = 0, completed = 0, reconnects = 0, pending_at_crash = 0;
  static uint8_t back[BS], want_buf[BS];
  unsigned bad = 0;

  if (connect_fe (&fe) < 0) {
    fprintf (stderr, "vdp-blk-client: %s\n", fe.err);
    return 2;
  }
  /* a line per connection, so that a test kills the backend only once
   * this front-end is back (a kill in the middle of its handshake is
   * another test) */
  printf ("connected\n");
  fflush (stdout);
  end = fe_now_ns () + (uint64_t) seconds * 1000000000u;
  while (fe_now_ns () < end) {
    for (unsigned q = 0; q < nqueues; q++) {
      int slot;
      struct fe_done d[128];
      int n;
      while ((slot = fe_slot_get (&fe, q)) >= 0) {
        unsigned b = (unsigned) (rnd () % BLOCKS);
        if (busy[b])
          break;
        busy[b] = true;
        fe_pattern (fe_slot_data (&fe, q, (unsigned) slot), BS, (uint64_t) b * 65536 + gen[b] + 1);
        fe_submit (&fe, q, (unsigned) slot, VIRTIO_BLK_T_OUT, (uint64_t) b * (BS / 512), BS, b);
        submitted++;
      }
      fe_kick (&fe, q);
      n = fe_complete (&fe, q, d, 128, 20);
      if (n < 0) {
        fprintf (stderr, "vdp-blk-client: %s\n", fe.err);
        return 1;
      }
      for (int i = 0; i < n; i++) {
        if (d[i].status != VIRTIO_BLK_S_OK) {
          fprintf (stderr, "vdp-blk-client: write of block %llu failed: %u\n",
                   (unsigned long long) d[i].tag, d[i].status);
          return 1;
        }
        gen[d[i].tag]++;
        busy[d[i].tag] = false;
        completed++;
      }
    }
    {
      char c;
      ssize_t r = recv (fe.sock, &c, 1, MSG_DONTWAIT | MSG_PEEK);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        /* the backend died: QEMU's disconnect, then reconnect */
        unsigned pending = 0;
        for (unsigned q = 0; q < nqueues; q++)
          pending += fe.q[q].busy;
        pending_at_crash += pending;
        fe_disconnected (&fe);
        if (fe_connect (&fe, socket_path, 20000, want) < 0) {
          fprintf (stderr, "vdp-blk-client: reconnect: %s\n", fe.err);
          return 1;
        }
        reconnects++;
        printf ("connected\n");
        fflush (stdout);
      }
    }
  }
  /* let what is in flight finish */
  for (unsigned q = 0; q < nqueues; q++)
    while (fe.q[q].busy) {
      struct fe_done d[128];
      int n = fe_complete (&fe, q, d, 128, 5000);
      if (n <= 0) {
        fprintf (stderr, "vdp-blk-client: queue %u: %u requests never completed%s%s\n", q,
                 fe.q[q].busy, n < 0 ? ": " : "", n < 0 ? fe.err : "");
        return 1;
      }
      for (int i = 0; i < n; i++) {
        gen[d[i].tag]++;
        busy[d[i].tag] = false;
        completed++;
      }
    }
  for (unsigned b = 0; b < BLOCKS; b++) {
    if (gen[b] == 0)
      continue;
    if (fe_sync (&fe, 0, VIRTIO_BLK_T_IN, (uint64_t) b * (BS / 512), NULL, BS, back, NULL) != 0) {
      fprintf (stderr, "vdp-blk-client: read back block %u: %s\n", b, fe.err);
      return 1;
    }
    fe_pattern (want_buf, BS, (uint64_t) b * 65536 + gen[b]);
    if (memcmp (back, want_buf, BS))
      bad++;
  }
  printf ("submitted=%llu completed=%llu reconnects=%llu pending_at_crash=%llu bad_blocks=%u\n",
          (unsigned long long) submitted, (unsigned long long) completed,
          (unsigned long long) reconnects, (unsigned long long) pending_at_crash, bad);
  fe_stop (&fe);
  fe_close (&fe);
  return bad || submitted != completed ? 1 : 0;
}

/* The configuration space as the guest would read it. */
static int
config (void)
{
  struct fe fe;
  struct virtio_blk_config c;

  if (connect_fe (&fe) < 0) {
    fprintf (stderr, "vdp-blk-client: %s\n", fe.err);
    return 2;
  }
  memcpy (&c, fe.config, sizeof (c) < fe.config_size ? sizeof (c) : fe.config_size);
  printf ("capacity=%llu blk_size=%u physical_block_exp=%u min_io_size=%u opt_io_size=%u "
          "seg_max=%u num_queues=%u wce=%u\n", (unsigned long long) c.capacity, c.blk_size,
          c.physical_block_exp, c.min_io_size, c.opt_io_size, c.seg_max, c.num_queues, c.wce);
  fe_stop (&fe);
  fe_close (&fe);
  return 0;
}

/* GET_VRING_BASE while requests are in flight: the backend must finish
 * them first, so after the answer every request is in the used ring and
 * the base is the number fetched. */
static int
drain (void)
{
  struct fe fe;
  unsigned n = 0;
  uint16_t used;

  if (connect_fe (&fe) < 0) {
    fprintf (stderr, "vdp-blk-client: %s\n", fe.err);
    return 2;
  }
  for (int slot; (slot = fe_slot_get (&fe, 0)) >= 0; n++) {
    fe_pattern (fe_slot_data (&fe, 0, (unsigned) slot), fe.max_io, n);
    fe_submit (&fe, 0, (unsigned) slot, VIRTIO_BLK_T_OUT, (uint64_t) n * (fe.max_io / 512),
               fe.max_io, n);
  }
  fe_kick (&fe, 0);
  usleep (1000);                /* let the backend take them */
  if (fe_stop (&fe) < 0) {
    fprintf (stderr, "vdp-blk-client: stop: %s\n", fe.err);
    return 2;
  }
  used = le16toh (__atomic_load_n (&fe.q[0].used->idx, __ATOMIC_ACQUIRE));
  printf ("submitted=%u base=%u used=%u\n", n, fe.q[0].base, used);
  fe_close (&fe);
  return used == fe.q[0].base ? 0 : 1;
}

/* Migration: LOG_ALL and a log region; a read must mark its data pages,
 * its status and the used ring, and nothing else. */
static int
dirty_log (void)
{
  struct fe fe;
  uint64_t pages, bytes;
  uint8_t *bitmap;
  int logfd, slot, st;

  if (connect_fe (&fe) < 0) {
    fprintf (stderr, "vdp-blk-client: %s\n", fe.err);
    return 2;
  }
  pages = fe.mem_size / 4096;
  bytes = (pages + 7) / 8;
  logfd = memfd_create ("dirty-log", MFD_CLOEXEC);
  if (logfd < 0 || ftruncate (logfd, (off_t) bytes) < 0
      || (bitmap = mmap (NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, logfd, 0)) == MAP_FAILED
      || fe_start_logging (&fe, logfd, bytes) < 0) {
    fprintf (stderr, "vdp-blk-client: start logging: %s\n", fe.err);
    return 2;
  }
  slot = fe_slot_get (&fe, 0);
  st = fe_sync (&fe, 0, VIRTIO_BLK_T_IN, 0, NULL, 8192, NULL, NULL);
  {
    uint64_t data = (fe.q[0].data_gpa + (uint64_t) slot * fe.max_io) / 4096;
    uint64_t status = (fe.q[0].meta_gpa + (uint64_t) slot * 128 + 16) / 4096;
    uint64_t used = fe.q[0].used_gpa / 4096, other = fe.q[1 % fe.nqueues].data_gpa / 4096 + 20;
#define DIRTY(p) ((bitmap[(p) / 8] >> ((p) % 8)) & 1)
    printf ("read status=%d data_pages=%d%d status_page=%d used_ring_page=%d unrelated_page=%d\n",
            st, DIRTY (data), DIRTY (data + 1), DIRTY (status), DIRTY (used), DIRTY (other));
  }
  fe_stop (&fe);
  fe_close (&fe);
  return 0;
}

int fuzz (const char *socket, unsigned iterations, pid_t pid, unsigned queues);
int hostile (const char *socket, const char *other, pid_t pid, const char *log, const char *file,
             unsigned timeout_s, char **only, int n_only);
int layouts_check (const char *socket, const char *file);
int bench (const char *socket, const char *rw, unsigned queues, unsigned iodepth,
           unsigned runtime, pid_t pid, bool blocking_fds);

int
main (int argc, char **argv)
{
  enum { O_SOCKET = 256, O_QUEUES, O_QSIZE, O_INDIRECT, O_NO_EVENT_IDX, O_MEM_TABLE, O_SEED,
         O_PID, O_RW, O_DEPTH, O_RUNTIME, O_WAIT_FOR, O_BLOCKING, O_UNALIGNED, O_OTHER, O_LOG,
         O_FILE, O_TIMEOUT };
  static const struct option opts[] = {
    { "socket", required_argument, NULL, O_SOCKET },
    { "queues", required_argument, NULL, O_QUEUES },
    { "queue-size", required_argument, NULL, O_QSIZE },
    { "indirect", no_argument, NULL, O_INDIRECT },
    { "no-event-idx", no_argument, NULL, O_NO_EVENT_IDX },
    { "mem-table", no_argument, NULL, O_MEM_TABLE },
    { "blocking-eventfds", no_argument, NULL, O_BLOCKING },
    { "seed", required_argument, NULL, O_SEED },
    { "pid", required_argument, NULL, O_PID },
    { "rw", required_argument, NULL, O_RW },
    { "iodepth", required_argument, NULL, O_DEPTH },
    { "runtime", required_argument, NULL, O_RUNTIME },
    { "wait-for", required_argument, NULL, O_WAIT_FOR },
    { "unaligned", no_argument, NULL, O_UNALIGNED },
    { "other", required_argument, NULL, O_OTHER },
    { "log", required_argument, NULL, O_LOG },
    { "file", required_argument, NULL, O_FILE },
    { "client-timeout", required_argument, NULL, O_TIMEOUT },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *rw = "read";
  unsigned depth = 1, runtime = 5;
  pid_t pid = 0;
  int c;

  signal (SIGPIPE, SIG_IGN);
  while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case O_SOCKET: socket_path = optarg; break;
    case O_QUEUES: nqueues = (unsigned) atoi (optarg); break;
    case O_QSIZE: qsize = (unsigned) atoi (optarg); break;
    case O_INDIRECT: indirect = true; break;
    case O_NO_EVENT_IDX: no_event_idx = true; break;
    case O_MEM_TABLE: no_slots = true; break;
    case O_BLOCKING: blocking_fds = true; break;
    case O_SEED: rng_state = strtoull (optarg, NULL, 10) | 1; break;
    case O_PID: pid = (pid_t) atoi (optarg); break;
    case O_RW: rw = optarg; break;
    case O_DEPTH: depth = (unsigned) atoi (optarg); break;
    case O_RUNTIME: runtime = (unsigned) atoi (optarg); break;
    case O_WAIT_FOR: wait_for = optarg; break;
    case O_UNALIGNED: unaligned = true; break;
    case O_OTHER: other_socket = optarg; break;
    case O_LOG: log_file = optarg; break;
    case O_FILE: disk_file = optarg; break;
    case O_TIMEOUT: client_timeout = (unsigned) atoi (optarg); break;
    case 'h': usage (); return 0;
    default: return 2;
    }
  }
  want = (no_event_idx ? 0 : BIT (VIRTIO_RING_F_EVENT_IDX))
         | (indirect ? BIT (VIRTIO_RING_F_INDIRECT_DESC) : 0);
  if (socket_path == NULL || optind >= argc) {
    fprintf (stderr, "vdp-blk-client: --socket and a mode are required\n");
    return 2;
  }
  if (!strcmp (argv[optind], "functional"))
    return functional ();
  if (!strcmp (argv[optind], "config"))
    return config ();
  if (!strcmp (argv[optind], "drain"))
    return drain ();
  if (!strcmp (argv[optind], "dirty-log"))
    return dirty_log ();
  if (!strcmp (argv[optind], "reconnect"))
    return reconnect ();
  if (!strcmp (argv[optind], "crash") && optind + 1 < argc)
    return crash ((unsigned) atoi (argv[optind + 1]));
  if (!strcmp (argv[optind], "fuzz") && optind + 1 < argc)
    return fuzz (socket_path, (unsigned) atoi (argv[optind + 1]), pid, nqueues);
  if (!strcmp (argv[optind], "hostile"))
    return hostile (socket_path, other_socket, pid, log_file, disk_file, client_timeout,
                    argv + optind + 1, argc - optind - 1);
  if (!strcmp (argv[optind], "layouts") && disk_file)
    return layouts_check (socket_path, disk_file);
  if (!strcmp (argv[optind], "bench"))
    return bench (socket_path, rw, nqueues, depth, runtime, pid, blocking_fds);
  fprintf (stderr, "vdp-blk-client: unknown mode '%s'\n", argv[optind]);
  return 2;
}
