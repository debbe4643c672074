/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vdp-blk-client bench: random 4k I/O with one thread per queue; IOPS,
 * latency percentiles and the backend's CPU time per I/O from /proc. */
#include <config.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "vu-frontend.h"

#define BS 4096
#define MAX_SAMPLES (4u << 20)

struct qrun {
  struct fe *fe;
  unsigned q, depth;
  uint32_t type;
  uint64_t capacity_blocks, end_ns, seed, ios;
  uint32_t *lat_us;               /* latency samples, microseconds x 10 */
  size_t nlat;
  int rc;
};

static void *
run_queue (void *arg)
{
  struct qrun *r = arg;
  struct fe_done d[256];
  unsigned inflight = 0;

  while (fe_now_ns () < r->end_ns || inflight) {
    int slot, n;
    bool more = fe_now_ns () < r->end_ns;
    while (more && inflight < r->depth && (slot = fe_slot_get (r->fe, r->q)) >= 0) {
      fe_submit (r->fe, r->q, (unsigned) slot, r->type,
                 (fe_rand (&r->seed) % r->capacity_blocks) * (BS / 512),
                 BS, 0);
      inflight++;
    }
    fe_kick (r->fe, r->q);
    n = fe_complete (r->fe, r->q, d, 256, 1000);
    if (n < 0) {
      r->rc = -1;
      return NULL;
    }
    for (int i = 0; i < n; i++) {
      if (d[i].status != VIRTIO_BLK_S_OK)
        r->rc = -1;
      if (r->nlat < MAX_SAMPLES / 4)
        r->lat_us[r->nlat++] = (uint32_t) (d[i].latency_ns / 100);
      r->ios++;
      inflight--;
    }
    if (n == 0 && inflight)
      r->rc = -1;                 /* a second without completion */
  }
  return NULL;
}

static int
by_value (const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

  return x < y ? -1 : x > y;
}

/* utime + stime of @pid in clock ticks, or 0. */
static uint64_t
cpu_ticks (pid_t pid)
{
  char path[64], buf[1024], *p;
  unsigned long long ut = 0, st = 0;
  FILE *f;

  snprintf (path, sizeof (path), "/proc/%d/stat", (int) pid);
  f = fopen (path, "r");
  if (f == NULL)
    return 0;
  if (fgets (buf, sizeof (buf), f) && (p = strrchr (buf, ')')))
    sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st);
  fclose (f);
  return ut + st;
}

int bench (const char *socket, const char *rw, unsigned queues, unsigned iodepth,
           unsigned runtime, pid_t pid, bool blocking_fds);

int
bench (const char *socket, const char *rw, unsigned queues, unsigned iodepth, unsigned runtime,
       pid_t pid, bool blocking_fds)
{
  static struct fe fe;
  struct qrun runs[FE_MAX_QUEUES];
  pthread_t th[FE_MAX_QUEUES];
  struct virtio_blk_config cfg;
  uint64_t t0, t1, c0, c1, ios = 0;
  size_t nlat = 0;
  uint32_t *all;
  long hz = sysconf (_SC_CLK_TCK);
  int rc = 0;

  if (fe_init (&fe, 32ull << 20, queues, 128, BS, false) < 0
      || (blocking_fds && fe_blocking_eventfds (&fe) < 0)
      || fe_connect (&fe, socket, 5000, 1ull << VIRTIO_RING_F_EVENT_IDX) < 0) {
    fprintf (stderr, "vdp-blk-client: %s\n", fe.err);
    return 2;
  }
  memcpy (&cfg, fe.config, sizeof (cfg) < fe.config_size ? sizeof (cfg) : fe.config_size);
  if (iodepth == 0 || iodepth > fe.q[0].nslots) {
    fprintf (stderr, "vdp-blk-client: --iodepth %u (1 to %u)\n", iodepth, fe.q[0].nslots);
    return 2;
  }
  c0 = pid ? cpu_ticks (pid) : 0;
  t0 = fe_now_ns ();
  for (unsigned q = 0; q < queues; q++) {
    runs[q] = (struct qrun) { &fe, q, iodepth,
                              strcmp (rw, "write") ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
                              cfg.capacity / (BS / 512), t0 + (uint64_t) runtime * 1000000000u,
                              0x9e3779b97f4a7c15ull * (q + 1), 0, malloc (MAX_SAMPLES), 0, 0 };
    pthread_create (&th[q], NULL, run_queue, &runs[q]);
  }
  for (unsigned q = 0; q < queues; q++) {
    pthread_join (th[q], NULL);
    ios += runs[q].ios;
    nlat += runs[q].nlat;
    rc |= runs[q].rc;
  }
  t1 = fe_now_ns ();
  c1 = pid ? cpu_ticks (pid) : 0;
  all = malloc (nlat * sizeof (uint32_t) + 4);
  nlat = 0;
  for (unsigned q = 0; q < queues; q++) {
    memcpy (all + nlat, runs[q].lat_us, runs[q].nlat * sizeof (uint32_t));
    nlat += runs[q].nlat;
    free (runs[q].lat_us);
  }
  qsort (all, nlat, sizeof (uint32_t), by_value);
  {
    double secs = (double) (t1 - t0) / 1e9;
    double cpu_s = (double) (c1 - c0) / (double) hz;
    printf ("{\"rw\": \"%s\", \"queues\": %u, \"iodepth\": %u, \"ios\": %llu, \"iops\": %.0f, "
            "\"p50_us\": %.1f, \"p99_us\": %.1f, \"backend_cpu_s\": %.2f, "
            "\"cpu_us_per_io\": %.2f, \"iops_per_cpu_s\": %.0f, \"backend_rss_kib\": %lu, "
            "\"kicks\": %llu, \"kicks_skipped\": %llu}\n",
            rw, queues, iodepth, (unsigned long long) ios, (double) ios / secs,
            nlat ? all[nlat / 2] / 10.0 : 0, nlat ? all[nlat * 99 / 100] / 10.0 : 0, cpu_s,
            ios ? cpu_s * 1e6 / (double) ios : 0, cpu_s > 0 ? (double) ios / cpu_s : 0,
            pid ? (unsigned long) fe_proc_kib (pid, "VmRSS") : 0, (unsigned long long) fe.kicks,
            (unsigned long long) fe.kicks_skipped);
  }
  free (all);
  fe_stop (&fe);
  fe_close (&fe);
  if (rc)
    fprintf (stderr, "vdp-blk-client: some requests failed or stalled\n");
  return rc ? 1 : 0;
}
