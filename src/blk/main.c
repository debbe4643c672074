/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-dataplane-blk: a vhost-user-blk backend (QEMU's backend program conventions). */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "blk.h"
#include "fault.h"
#include "log.h"
#include "privs.h"
#include "stats.h"
#include "vhost-user.h"
#include "worker.h"

#define PROG "virt-dataplane-blk"
#define MAX_QUEUES 256
#define DEFAULT_TIMEOUT_S 5       /* --client-timeout */

static volatile sig_atomic_t stopping;

static int
usage_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static int
usage_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  fprintf (stderr, "%s: ", PROG);
  vfprintf (stderr, fmt, ap);
  fprintf (stderr, " (see '%s --help')\n", PROG);
  va_end (ap);
  return 1;
}

static void
usage (void)
{
  printf ("Usage:\n"
          " %s [options] --blk-file <path> --socket-path <path>|--fd <n>\n"
          "\n"
          "Serve a file or block device to QEMU as a vhost-user-blk device.\n"
          "\n"
          "Options:\n"
          " --socket-path <path>     listen on this UNIX socket (QEMU connects)\n"
          " --fd <n>                 use this listening socket, already open\n"
          " --blk-file <path>        the file or block device to serve (O_DIRECT\n"
          "                          except on tmpfs)\n"
          " --read-only              refuse writes\n"
          " --num-queues <n>         queues offered to QEMU (1-%d, default 16)\n"
          " --threads <n>            worker threads (default 1)\n"
          " --cpus <set>[:<set>...]  CPUs of each worker thread, e.g. 2:3 or 2-3:6-7\n"
          " --queue-map <q,q>[:...]  queues of each worker thread (default round-robin)\n"
          " --poll-max-ns <ns>       busy-poll at most this long before sleeping\n"
          "                          (default 32768, as QEMU's IOThreads; 0: never)\n"
          " --serial <id>            the disk's serial number (at most 20 bytes)\n"
          " --client-timeout <s>     a front-end's message must come whole, and its\n"
          "                          replies be taken, within this (default %d)\n"
          " --user <user|uid>        serve as this user (after opening the disk and\n"
          "                          the socket, before reading any message)\n"
          " --group <group|gid>      and this group (default: the user's)\n"
          " --stats-file <path>      keep the counters in this file (every second)\n"
          " --log-level <level>      error, warning (default), info or debug\n"
          " --print-capabilities     print the vhost-user capabilities as JSON and exit\n"
          "\n"
          " -h, --help               display this help\n"
          " -V, --version            display version\n"
          "\n"
          "For more details see virt-dataplane-blk(8).\n", PROG, MAX_QUEUES, DEFAULT_TIMEOUT_S);
}

static bool
parse_uint (const char *s, unsigned long max, unsigned long *out)
{
  char *end;
  unsigned long v;

  if (*s < '0' || *s > '9')
    return false;
  errno = 0;
  v = strtoul (s, &end, 10);
  if (errno || *end || v > max)
    return false;
  *out = v;
  return true;
}

/* The command line. */
struct options {
  const char *socket_path, *blk_file, *serial, *cpus, *queue_map;
  const char *user, *group, *stats_file;
  unsigned long listen_fd, queues, threads, poll_ns, timeout_s;
  uid_t uid;                /* --user and --group resolved */
  gid_t gid;
  bool have_fd, read_only;
};

/* Parses the command line into @o.  Returns -1 to go on, or the exit
 * status (after --help, a usage error, ...). */
static int
parse_options (int argc, char **argv, struct options *o)
{
  enum { O_SOCKET = 256, O_FD, O_BLK, O_RO, O_QUEUES, O_THREADS, O_CPUS, O_QMAP, O_POLL,
         O_SERIAL, O_LOG, O_TIMEOUT, O_CAPS, O_USER, O_GROUP, O_STATS };
  static const struct option opts[] = {
    { "socket-path", required_argument, NULL, O_SOCKET },
    { "fd", required_argument, NULL, O_FD },
    { "blk-file", required_argument, NULL, O_BLK },
    { "read-only", no_argument, NULL, O_RO },
    { "num-queues", required_argument, NULL, O_QUEUES },
    { "threads", required_argument, NULL, O_THREADS },
    { "cpus", required_argument, NULL, O_CPUS },
    { "queue-map", required_argument, NULL, O_QMAP },
    { "poll-max-ns", required_argument, NULL, O_POLL },
    { "serial", required_argument, NULL, O_SERIAL },
    { "log-level", required_argument, NULL, O_LOG },
    { "client-timeout", required_argument, NULL, O_TIMEOUT },
    { "print-capabilities", no_argument, NULL, O_CAPS },
    { "user", required_argument, NULL, O_USER },
    { "group", required_argument, NULL, O_GROUP },
    { "stats-file", required_argument, NULL, O_STATS },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  char err[256];
  int c;

  memset (o, 0, sizeof (*o));
  o->queues = 16;
  o->threads = 1;
  o->poll_ns = 32768;
  o->timeout_s = DEFAULT_TIMEOUT_S;
  opterr = 0;
  while ((c = getopt_long (argc, argv, ":hV", opts, NULL)) != -1) {
    switch (c) {
    case O_SOCKET: o->socket_path = optarg; break;
    case O_FD:
      if (!parse_uint (optarg, 65535, &o->listen_fd))
        return usage_error ("invalid --fd '%s'", optarg);
      o->have_fd = true;
      break;
    case O_BLK: o->blk_file = optarg; break;
    case O_RO: o->read_only = true; break;
    case O_QUEUES:
      if (!parse_uint (optarg, MAX_QUEUES, &o->queues) || o->queues == 0)
        return usage_error ("invalid --num-queues '%s' (1 to %d)", optarg, MAX_QUEUES);
      break;
    case O_THREADS:
      if (!parse_uint (optarg, MAX_QUEUES, &o->threads) || o->threads == 0)
        return usage_error ("invalid --threads '%s' (1 to %d)", optarg, MAX_QUEUES);
      break;
    case O_CPUS: o->cpus = optarg; break;
    case O_QMAP: o->queue_map = optarg; break;
    case O_POLL:
      if (!parse_uint (optarg, 1000000000ul, &o->poll_ns))
        return usage_error ("invalid --poll-max-ns '%s' (0 to 1000000000)", optarg);
      break;
    case O_SERIAL:
      if (strlen (optarg) > 20)
        return usage_error ("--serial '%s' is longer than 20 bytes", optarg);
      o->serial = optarg;
      break;
    case O_LOG:
      for (blk_log_level = 0;
           blk_log_level < BLK_LOG_LAST && strcmp (optarg, blk_log_names[blk_log_level]);
           blk_log_level++)
        ;
      if (blk_log_level == BLK_LOG_LAST)
        return usage_error ("invalid --log-level '%s' (error, warning, info or debug)", optarg);
      break;
    case O_TIMEOUT:
      if (!parse_uint (optarg, 3600, &o->timeout_s) || o->timeout_s == 0)
        return usage_error ("invalid --client-timeout '%s' (1 to 3600 seconds)", optarg);
      break;
    case O_USER: o->user = optarg; break;
    case O_GROUP: o->group = optarg; break;
    case O_STATS: o->stats_file = optarg; break;
    case O_CAPS:
      printf ("{\n  \"type\": \"block\",\n  \"features\": [\n    \"read-only\",\n"
              "    \"blk-file\"\n  ]\n}\n");
      return 0;
    case 'h':
      usage ();
      return 0;
    case 'V':
      printf ("%s %s\n", PROG, PACKAGE_VERSION);
      return 0;
    case ':':
      return usage_error ("option '%s' needs an argument", argv[optind - 1]);
    default:
      return usage_error ("unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return usage_error ("unexpected argument '%s'", argv[optind]);
  if (o->blk_file == NULL)
    return usage_error ("--blk-file is required");
  if ((o->socket_path != NULL) == o->have_fd)
    return usage_error ("give exactly one of --socket-path and --fd");
  if (o->threads > o->queues)
    return usage_error ("--threads %lu is more than --num-queues %lu", o->threads, o->queues);
  if (o->group && !o->user)
    return usage_error ("--group goes with --user");
  if (o->user && blk_privs_resolve (o->user, o->group, &o->uid, &o->gid, err, sizeof (err)) < 0)
    return usage_error ("%s", err);
  return -1;
}

/* A fresh connection state on @fd (workers paused or not running). */
static void
setup_dev (struct vu_dev *dev, int fd, const struct blk_dev *blk, const struct options *o,
           struct blk_workers *workers)
{
  unsigned queues = (unsigned) o->queues;

  vu_dev_init (dev, fd);
  dev->timeout_ms = (unsigned) o->timeout_s * 1000u;
  dev->max_queues = queues;
  dev->features = blk_features (blk) | (1ull << VU_F_PROTOCOL_FEATURES) | (1ull << VU_F_LOG_ALL)
                  | (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX);
  dev->protocol_features = (1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_LOG_SHMFD)
                           | (1ull << VU_PROTOCOL_F_REPLY_ACK) | (1ull << VU_PROTOCOL_F_CONFIG)
                           | (1ull << VU_PROTOCOL_F_INFLIGHT_SHMFD)
                           | (1ull << VU_PROTOCOL_F_RESET_DEVICE)
                           | (1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
  blk_fill_config (blk, queues, &dev->config);
  dev->ops = &blk_workers_ops;
  dev->opaque = workers;
}

static void
on_signal (int sig)
{
  stopping = 1;
}

static int
listen_on (const char *path)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  struct stat st;
  int fd;

  if (strlen (path) >= sizeof (sa.sun_path)) {
    fprintf (stderr, "%s: --socket-path '%s' is longer than %zu bytes\n", PROG, path,
             sizeof (sa.sun_path) - 1);
    return -1;
  }
  if (lstat (path, &st) == 0) {
    if (!S_ISSOCK (st.st_mode)) {
      fprintf (stderr, "%s: --socket-path '%s' exists and is not a socket\n", PROG, path);
      return -1;
    }
    unlink (path);              /* a stale socket of an earlier run */
  }
  strcpy (sa.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind (fd, (struct sockaddr *) &sa, sizeof (sa)) < 0 || listen (fd, 1) < 0) {
    fprintf (stderr, "%s: cannot listen on '%s': %s\n", PROG, path, strerror (errno));
    if (fd >= 0)
      close (fd);
    return -1;
  }
  return fd;
}

/* The listening socket: --socket-path's, or --fd checked; -1 after an
 * error message. */
static int
open_listener (const struct options *o)
{
  int lfd, listening = 0;
  socklen_t len = sizeof (listening);

  if (!o->have_fd)
    return listen_on (o->socket_path);
  lfd = (int) o->listen_fd;
  if (getsockopt (lfd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) {
    fprintf (stderr, "%s: --fd %d is not a listening socket\n", PROG, lfd);
    return -1;
  }
  return lfd;
}

/* Serves one front-end at a time until SIGTERM or SIGINT.  A reply the
 * front-end does not take within the timeout ends its connection, as
 * does a message that does not come whole (vu_recv). */
static void
serve (int lfd, struct vu_dev *dev, const struct blk_dev *blk, const struct options *o,
       struct blk_workers *workers, struct blk_stats *stats)
{
  while (!stopping) {
    struct pollfd pfd = { .fd = lfd, .events = POLLIN };
    struct timeval tv = { .tv_sec = (time_t) o->timeout_s };
    int conn;

    if (poll (&pfd, 1, 500) <= 0)
      continue;
    conn = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
      continue;
    setsockopt (conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof (tv));
    blk_workers_pause (workers);
    setup_dev (dev, conn, blk, o, workers);
    blk_workers_resume (workers);
    blk_log (BLK_LOG_INFO, "front-end connected");
    blk_stats_connected (stats, true);
    switch (vu_serve (dev, &stopping, lfd)) {
    case VU_END_CLOSED:
      blk_log (BLK_LOG_INFO, "front-end disconnected");
      break;
    case VU_END_ERROR:
      blk_log (BLK_LOG_ERROR, "front-end dropped: %s", dev->error);
      break;
    case VU_END_REPLACED:
      /* the new one is accepted next */
      blk_log (BLK_LOG_WARNING, "front-end replaced by a new connection: none of its queues ran");
      break;
    case VU_END_STOPPED:
      break;
    }
    blk_stats_connected (stats, false);
    /* what is in flight finishes before guest memory goes */
    blk_workers_pause (workers);
    vu_dev_reset (dev);
    blk_workers_resume (workers);
    close (conn);
  }
}

int
main (int argc, char **argv)
{
  struct options o;
  struct blk_stats stats = { .fd = -1 };
  struct blk_dev blk;
  struct blk_workers workers;
  struct vu_dev *dev;
  struct sigaction sa = { .sa_handler = on_signal };
  char err[512];
  int rc, lfd;

  if ((rc = parse_options (argc, argv, &o)) >= 0)
    return rc;
  if (blk_open (&blk, o.blk_file, o.read_only, o.serial, err, sizeof (err)) < 0) {
    fprintf (stderr, "%s: %s\n", PROG, err);
    return 1;
  }
  /* a front-end that shrinks the file under its shared memory stops its
   * rings instead of killing the process */
  if (blk_fault_init () < 0) {
    fprintf (stderr, "%s: cannot handle SIGBUS: %s\n", PROG, strerror (errno));
    blk_close (&blk);
    return 1;
  }

  dev = calloc (1, sizeof (*dev));
  if (dev == NULL)
    abort ();
  setup_dev (dev, -1, &blk, &o, &workers);
  if (blk_workers_start (&workers, dev, &blk, (unsigned) o.threads, (unsigned) o.queues, o.cpus,
                         o.queue_map, o.poll_ns, err, sizeof (err)) < 0) {
    fprintf (stderr, "%s: %s\n", PROG, err);
    blk_close (&blk);
    free (dev);
    return 1;
  }

  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);
  lfd = open_listener (&o);
  /* the last privileged steps: then no message is read as root */
  if (lfd >= 0 && ((o.stats_file && blk_stats_open (&stats, o.stats_file, err, sizeof (err)) < 0)
                   || (o.user && blk_privs_drop (o.uid, o.gid, o.socket_path, err,
                                                 sizeof (err)) < 0)
                   || (o.stats_file && blk_stats_start (&stats, &workers, (unsigned) o.threads,
                                                        err, sizeof (err)) < 0))) {
    fprintf (stderr, "%s: %s\n", PROG, err);
    close (lfd);
    lfd = -1;
  }
  if (lfd < 0) {
    blk_stats_close (&stats);
    blk_workers_stop (&workers);
    blk_close (&blk);
    free (dev);
    return 1;
  }
  {
    char polling[48] = "no polling";
    if (o.poll_ns)
      snprintf (polling, sizeof (polling), "polling up to %lu ns", o.poll_ns);
    blk_log (BLK_LOG_INFO, "serving '%s' (%llu bytes, %u-byte blocks%s%s) on %s with %lu thread%s, %s",
             o.blk_file, (unsigned long long) blk.size, blk.logical_block,
             o.read_only ? ", read-only" : "", blk.in_memory ? ", in memory: no O_DIRECT" : "",
             o.socket_path ? o.socket_path : "the given fd", o.threads, o.threads == 1 ? "" : "s",
             polling);
  }

  serve (lfd, dev, &blk, &o, &workers, &stats);

  close (lfd);
  if (o.socket_path)
    unlink (o.socket_path);
  {
    struct blk_worker_stats st;
    blk_workers_stats (&workers, &st);
    blk_log (BLK_LOG_INFO, "served %llu requests in %llu submissions with %llu notifications; "
             "slept %llu times; %llu requests bounced", (unsigned long long) st.requests,
             (unsigned long long) st.submits, (unsigned long long) st.notifies,
             (unsigned long long) st.sleeps, (unsigned long long) st.bounced);
  }
  blk_stats_close (&stats);
  blk_workers_stop (&workers);
  vu_dev_reset (dev);
  free (dev);
  blk_close (&blk);
  blk_log (BLK_LOG_INFO, "stopped");
  return 0;
}
