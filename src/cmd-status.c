/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "virt-dataplane status": a running guest's vCPUs, IOThreads and emulator, their pins, where they run, how busy, through libvirt on any host. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend-view.h"
#include "commands.h"
#include "conn.h"
#include "domain.h"
#include "host.h"
#include "procstat.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"
#include "util/json.h"

enum {
  OPT_INTERVAL = VDP_OPT_COMMAND_BASE,
  OPT_PID,
};

/* The global options status takes: one host, one domain (no --hosts,
 * -j or --state), so --list-options and completion offer only these. */
static const struct option options[] = {
  { "help", no_argument, NULL, 'h' },
  { "version", no_argument, NULL, 'V' },
  { "verbose", no_argument, NULL, 'v' },
  { "quiet", no_argument, NULL, 'q' },
  { "json", no_argument, NULL, VDP_OPT_JSON },
  { "list-options", no_argument, NULL, VDP_OPT_LIST_OPTIONS },
  { "list-commands", no_argument, NULL, VDP_OPT_LIST_COMMANDS },
  { "connect", required_argument, NULL, 'c' },
  { "timeout", required_argument, NULL, VDP_OPT_TIMEOUT },
  { "interval", required_argument, NULL, OPT_INTERVAL },
  { "pid", required_argument, NULL, OPT_PID },
  { NULL, 0, NULL, 0 },
};

struct status_opts {
  double interval;
  int pid;
};

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           " %s status [options] <domain>  (a name, ID or UUID)\n"
           "\n"
           "Show a running guest's vCPUs, IOThreads and emulator through libvirt, on any\n"
           "host: their pins, the CPU each vCPU runs on, CPU use and each disk's queue\n"
           "mapping and I/O rates; per-thread detail from /proc when the host is this\n"
           "machine.\n"
           "\n"
           "Options:\n"
           " -c, --connect <uri>          the host (default: libvirt's default)\n"
           " --interval <seconds>         how long to measure CPU use and rates (default 1)\n"
           " --pid <pid>                  the guest's QEMU process on this machine, for\n"
           "                              per-thread detail (default: libvirt's pid file\n"
           "                              when the host is this machine); its command line\n"
           "                              must name the guest (-name or -uuid)\n"
           " --timeout <seconds>          give up connecting after this long\n"
           " --json                       print a JSON object (see virt-dataplane(1))\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
           "Exit status: 0 shown, 2 the host, the domain (not running) or --pid failed,\n"
           "64 usage error.\n"
           "For more details see virt-dataplane(1).\n", PACKAGE_NAME);
}

static gboolean
handle (int opt, const char *arg, void *data, GError **error)
{
  struct status_opts *o = data;
  char *end = NULL;
  guint64 pid;

  switch (opt) {
  case OPT_INTERVAL:
    o->interval = g_ascii_strtod (arg, &end);
    if (end == arg || *end || o->interval <= 0 || o->interval > 3600) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE,
                   "invalid --interval '%s' (expected seconds, more than 0)", arg);
      return FALSE;
    }
    return TRUE;
  case OPT_PID:
    if (!g_ascii_string_to_unsigned (arg, 10, 1, G_MAXINT, &pid, NULL)) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "invalid --pid '%s'", arg);
      return FALSE;
    }
    o->pid = (int) pid;
    return TRUE;
  default:
    g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "unhandled option");
    return FALSE;
  }
}

/* ---- one sample, and what two of them say ------------------------------------ */

struct sample {
  gint64 at;                /* monotonic, microseconds */
  GArray *vcpus;            /* struct vdp_vcpu_info */
  GHashTable *stats;        /* field -> GVariant */
  GArray *threads;          /* struct vdp_thread, NULL without /proc */
};

static void
sample_clear (struct sample *s)
{
  if (s->vcpus)
    g_array_unref (s->vcpus);
  if (s->stats)
    g_hash_table_unref (s->stats);
  vdp_threads_free (s->threads);
  memset (s, 0, sizeof (*s));
}

static gboolean
take_sample (struct vdp_conn *c, const char *name, int pid, struct sample *s, GError **error)
{
  s->at = g_get_monotonic_time ();
  s->vcpus = vdp_conn_get_vcpus (c, name, error);
  if (s->vcpus == NULL)
    return FALSE;
  s->stats = vdp_conn_domain_stats (c, name, error);
  if (s->stats == NULL)
    return FALSE;
  if (pid > 0 && (s->threads = vdp_threads_read (pid, error)) == NULL)
    return FALSE;
  return TRUE;
}

/* A statistic as a number; FALSE when the driver does not keep it. */
static gboolean
stat_number (GHashTable *stats, const char *field, double *out)
{
  GVariant *v = stats ? g_hash_table_lookup (stats, field) : NULL;

  if (v == NULL)
    return FALSE;
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64))
    *out = (double) g_variant_get_uint64 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT64))
    *out = (double) g_variant_get_int64 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_DOUBLE))
    *out = g_variant_get_double (v);
  else
    return FALSE;
  return TRUE;
}

static gboolean
statf (GHashTable *stats, double *out, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
statf (GHashTable *stats, double *out, const char *fmt, ...)
{
  g_autofree char *field = NULL;
  va_list ap;

  va_start (ap, fmt);
  field = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  return stat_number (stats, field, out);
}

/* Per second between the samples, of statistic @field; -1 when unknown. */
static double
rate (const struct sample *a, const struct sample *b, const char *field)
{
  double x, y, secs = (double) (b->at - a->at) / G_USEC_PER_SEC;

  if (secs <= 0 || !stat_number (a->stats, field, &x) || !stat_number (b->stats, field, &y)
      || y < x)
    return -1;
  return (y - x) / secs;
}

/* CPU% of @ns_a -> @ns_b nanoseconds of CPU time between the samples. */
static double
percent (const struct sample *a, const struct sample *b, double ns_a, double ns_b)
{
  double ns = (double) (b->at - a->at) * 1000.0;
  return ns > 0 && ns_b >= ns_a ? (ns_b - ns_a) / ns * 100.0 : -1;
}

/* ---- what is shown --------------------------------------------------------------- */

/* One row: a vCPU, an IOThread or the emulator. */
struct row {
  const char *kind;         /* "vcpu", "iothread", "emulator" */
  int index;                /* vCPU number, IOThread id, -1 */
  char *pin;                /* libvirt's pin, NULL when unknown */
  int state;                /* vCPUs: libvirt's state; -1 */
  int cpu;                  /* the host CPU it runs on, -1 when unknown */
  double cpu_percent;       /* -1 when unknown */
  double time_ns;           /* CPU time, -1 when unknown */
  const struct vdp_thread *thread;   /* its /proc thread, or NULL */
  double poll_max_ns;       /* IOThreads: their polling, -1 when unknown */
};

struct status {
  const char *name, *uri, *why;
  gboolean local;
  int pid;
  double interval;
  GArray *rows;             /* struct row */
  double cpu_percent, vcpu_percent;   /* -1 when unknown */
  const struct vdp_domain *dom;
  const struct sample *a, *b;
  GPtrArray *backends;      /* virt-dataplane-blk backends (backend-view.h), this machine's */
};

static void
row_clear (gpointer p)
{
  g_free (((struct row *) p)->pin);
}

static const struct vdp_thread *
find_thread (const struct sample *b, VdpThreadKind kind, int index)
{
  for (guint i = 0; b->threads && i < b->threads->len; i++) {
    const struct vdp_thread *t = &g_array_index (b->threads, struct vdp_thread, i);
    if (t->kind == kind && (kind == VDP_THREAD_EMULATOR || t->index == index))
      return t;
  }
  return NULL;
}

static char *
format_pin (hwloc_const_bitmap_t set)
{
  return set ? vdp_cpuset_format (set) : NULL;
}

static void
build_rows (struct status *st, const struct vdp_live_pins *pins)
{
  const struct sample *a = st->a, *b = st->b;
  double total_a, total_b, vsum_a = 0, vsum_b = 0;
  gboolean vsum = TRUE;

  for (guint i = 0; i < b->vcpus->len; i++) {
    const struct vdp_vcpu_info *v = &g_array_index (b->vcpus, struct vdp_vcpu_info, i);
    struct row r = { "vcpu", (int) v->number, NULL, v->state, v->cpu, -1, (double) v->time_ns,
                     NULL, -1 };
    double ta = -1, tb = -1;

    r.pin = v->number < pins->n_vcpus ? format_pin (pins->vcpus[v->number]) : NULL;
    /* the statistics' vCPU time where the driver keeps it, else the time
     * virDomainGetVcpus reports */
    if (statf (a->stats, &ta, "vcpu.%u.time", v->number)
        && statf (b->stats, &tb, "vcpu.%u.time", v->number)) {
      r.time_ns = tb;
    } else {
      for (guint k = 0; k < a->vcpus->len; k++)
        if (g_array_index (a->vcpus, struct vdp_vcpu_info, k).number == v->number)
          ta = (double) g_array_index (a->vcpus, struct vdp_vcpu_info, k).time_ns;
      tb = (double) v->time_ns;
    }
    r.cpu_percent = ta >= 0 ? percent (a, b, ta, tb) : -1;
    if (r.cpu_percent >= 0) {
      vsum_a += ta;
      vsum_b += tb;
    } else {
      vsum = FALSE;
    }
    r.thread = find_thread (b, VDP_THREAD_VCPU, (int) v->number);
    g_array_append_val (st->rows, r);
  }
  for (unsigned i = 0; i < pins->n_iothreads; i++) {
    struct row r = { "iothread", (int) pins->iothread_ids[i], format_pin (pins->iothreads[i]),
                     -1, -1, -1, -1, NULL, -1 };
    r.thread = find_thread (b, VDP_THREAD_IOTHREAD, r.index);
    if (!statf (b->stats, &r.poll_max_ns, "iothread.%d.poll-max-ns", r.index))
      r.poll_max_ns = -1;
    g_array_append_val (st->rows, r);
  }
  {
    struct row r = { "emulator", -1, format_pin (pins->emulator), -1, -1, -1, -1, NULL, -1 };
    r.thread = find_thread (b, VDP_THREAD_EMULATOR, -1);
    g_array_append_val (st->rows, r);
  }
  /* /proc fills in where the threads without libvirt figures ran */
  for (guint i = 0; i < st->rows->len; i++) {
    struct row *r = &g_array_index (st->rows, struct row, i);
    if (r->thread && r->cpu < 0)
      r->cpu = r->thread->cpu;
    if (r->thread && r->cpu_percent < 0)
      r->cpu_percent = r->thread->cpu_percent;
  }
  st->cpu_percent = stat_number (a->stats, "cpu.time", &total_a)
                    && stat_number (b->stats, "cpu.time", &total_b)
                    ? percent (a, b, total_a, total_b) : -1;
  st->vcpu_percent = vsum && b->vcpus->len ? percent (a, b, vsum_a, vsum_b) : -1;
}

static const char *const state_names[] = { "offline", "running", "blocked" };

static const char *
state_name (int state)
{
  return state >= 0 && state < (int) G_N_ELEMENTS (state_names) ? state_names[state] : "unknown";
}

/* The block statistics' index of disk @target, -1 when none. */
static int
block_index (GHashTable *stats, const char *target)
{
  double count = 0;

  stat_number (stats, "block.count", &count);
  for (int i = 0; i < (int) count; i++) {
    g_autofree char *field = g_strdup_printf ("block.%d.name", i);
    GVariant *v = g_hash_table_lookup (stats, field);
    if (v && g_variant_is_of_type (v, G_VARIANT_TYPE_STRING)
        && strcmp (g_variant_get_string (v, NULL), target) == 0)
      return i;
  }
  return -1;
}

static const char *const block_fields[] = {
  "rd.reqs", "rd.bytes", "wr.reqs", "wr.bytes", "fl.reqs",
};

static void
json_disk_stats (JsonBuilder *b, const struct status *st, int bi)
{
  json_builder_set_member_name (b, "stats");
  if (bi < 0) {
    json_builder_add_null_value (b);
    return;
  }
  json_builder_begin_object (b);
  for (size_t f = 0; f < G_N_ELEMENTS (block_fields); f++) {
    g_autofree char *field = g_strdup_printf ("block.%d.%s", bi, block_fields[f]);
    g_autofree char *name = g_strdelimit (g_strdup (block_fields[f]), ".", '_');
    g_autofree char *per_s = g_strconcat (name, "_per_s", NULL);
    double v;
    if (stat_number (st->b->stats, field, &v))
      vdp_json_add_int (b, name, (gint64) v);
    vdp_json_add_double_or_null (b, per_s, rate (st->a, st->b, field));
  }
  json_builder_end_object (b);
}

static void
json_threads (JsonBuilder *b, const struct status *st, const struct vdp_live_pins *pins)
{
  static const char *const kinds[] = { "vcpu", "iothread", "emulator", "other" };

  json_builder_set_member_name (b, "threads");
  json_builder_begin_array (b);
  for (guint i = 0; st->b->threads && i < st->b->threads->len; i++) {
    const struct vdp_thread *t = &g_array_index (st->b->threads, struct vdp_thread, i);
    hwloc_const_bitmap_t set = NULL;
    g_autofree char *pin = NULL;

    if (t->kind == VDP_THREAD_VCPU && t->index >= 0 && (unsigned) t->index < pins->n_vcpus)
      set = pins->vcpus[t->index];
    for (unsigned k = 0; t->kind == VDP_THREAD_IOTHREAD && k < pins->n_iothreads; k++)
      if (pins->iothread_ids[k] == (unsigned) t->index)
        set = pins->iothreads[k];
    if (t->kind == VDP_THREAD_EMULATOR || t->kind == VDP_THREAD_OTHER)
      set = pins->emulator;
    pin = format_pin (set);
    json_builder_begin_object (b);
    vdp_json_add_string (b, "kind", kinds[t->kind]);
    vdp_json_add_int (b, "index", t->index);
    vdp_json_add_int (b, "tid", t->tid);
    vdp_json_add_string (b, "name", t->name);
    vdp_json_add_string (b, "pin", pin ? pin : "-");
    vdp_json_add_string (b, "allowed", t->allowed);
    vdp_json_add_int (b, "cpu", t->cpu);
    json_builder_set_member_name (b, "cpu_percent");
    json_builder_add_double_value (b, t->cpu_percent);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

static void
json_row (JsonBuilder *b, const struct row *r)
{
  json_builder_begin_object (b);
  if (strcmp (r->kind, "vcpu") == 0) {
    vdp_json_add_int (b, "vcpu", r->index);
    vdp_json_add_string (b, "state", state_name (r->state));
  } else if (strcmp (r->kind, "iothread") == 0) {
    vdp_json_add_int (b, "id", r->index);
    vdp_json_add_int_or_null (b, "poll_max_ns", (gint64) r->poll_max_ns);
  }
  vdp_json_add_string (b, "pin", r->pin);
  vdp_json_add_int_or_null (b, "cpu", r->cpu);
  vdp_json_add_int_or_null (b, "time", (gint64) r->time_ns);
  vdp_json_add_double_or_null (b, "cpu_percent", r->cpu_percent);
  vdp_json_add_int_or_null (b, "tid", r->thread ? r->thread->tid : -1);
  json_builder_end_object (b);
}

/* Member @name: the rows of @kind. */
static void
json_rows (JsonBuilder *b, const char *name, GArray *rows, const char *kind)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++)
    if (strcmp (g_array_index (rows, struct row, i).kind, kind) == 0)
      json_row (b, &g_array_index (rows, struct row, i));
  json_builder_end_array (b);
}

static char *
format_json (const struct status *st, const struct vdp_live_pins *pins)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  double v;

  json_builder_begin_object (b);
  vdp_json_add_string (b, "domain", st->name);
  vdp_json_add_string (b, "uri", st->uri);
  json_builder_set_member_name (b, "host");
  json_builder_begin_object (b);
  vdp_json_add_bool (b, "this_machine", st->local);
  vdp_json_add_string (b, "reason", st->why);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "interval");
  json_builder_add_double_value (b, st->interval);
  vdp_json_add_int_or_null (b, "pid", st->pid > 0 ? st->pid : -1);

  json_builder_set_member_name (b, "cpu");
  json_builder_begin_object (b);
  vdp_json_add_int_or_null (b, "time", stat_number (st->b->stats, "cpu.time", &v) ? (gint64) v : -1);
  vdp_json_add_double_or_null (b, "percent", st->cpu_percent);
  vdp_json_add_double_or_null (b, "vcpus_percent", st->vcpu_percent);
  vdp_json_add_double_or_null (b, "other_percent", st->cpu_percent >= 0 && st->vcpu_percent >= 0
                       ? MAX (st->cpu_percent - st->vcpu_percent, 0) : -1);
  json_builder_end_object (b);

  json_rows (b, "vcpus", st->rows, "vcpu");
  json_rows (b, "iothreads", st->rows, "iothread");
  json_builder_set_member_name (b, "emulator");
  json_row (b, &g_array_index (st->rows, struct row, st->rows->len - 1));

  json_builder_set_member_name (b, "disks");
  json_builder_begin_array (b);
  for (unsigned i = 0; i < st->dom->n_disks; i++) {
    const struct vdp_disk *k = &st->dom->disks[i];
    json_builder_begin_object (b);
    vdp_json_add_string (b, "target", k->target);
    vdp_json_add_int (b, "queues", k->queues);
    json_builder_set_member_name (b, "iothreads");
    json_builder_begin_array (b);
    if (k->iothread)
      json_builder_add_int_value (b, k->iothread);
    for (unsigned j = 0; j < k->n_mapped; j++)
      json_builder_add_int_value (b, k->mapped[j]);
    json_builder_end_array (b);
    json_disk_stats (b, st, block_index (st->b->stats, k->target));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_threads (b, st, pins);
  vdp_backend_views_json (b, st->backends);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return vdp_json_to_string (root, TRUE);
}

/* "12.5" (with @suffix), or "-" when unknown. */
static char *
cell (double v, const char *suffix)
{
  return v < 0 ? g_strdup ("-") : g_strdup_printf ("%.1f%s", v, suffix);
}

static void
text_disk_rates (GString *out, const struct status *st, const char *target)
{
  int bi = block_index (st->b->stats, target);
  g_autofree char *rd = NULL, *wr = NULL, *rdb = NULL, *wrb = NULL;
  double r, w, rb, wb;

  if (bi < 0)
    return;
  rd = g_strdup_printf ("block.%d.rd.reqs", bi);
  wr = g_strdup_printf ("block.%d.wr.reqs", bi);
  rdb = g_strdup_printf ("block.%d.rd.bytes", bi);
  wrb = g_strdup_printf ("block.%d.wr.bytes", bi);
  r = rate (st->a, st->b, rd);
  w = rate (st->a, st->b, wr);
  rb = rate (st->a, st->b, rdb);
  wb = rate (st->a, st->b, wrb);
  if (r < 0 && w < 0)
    return;
  {
    g_autofree char *rbs = g_format_size_full ((guint64) MAX (rb, 0), G_FORMAT_SIZE_IEC_UNITS);
    g_autofree char *wbs = g_format_size_full ((guint64) MAX (wb, 0), G_FORMAT_SIZE_IEC_UNITS);
    g_string_append_printf (out, "; %.0f reads/s (%s/s), %.0f writes/s (%s/s)", MAX (r, 0), rbs,
                            MAX (w, 0), wbs);
  }
}

static char *
format_text (const struct status *st)
{
  GString *out = g_string_new (NULL);
  double other = 0;
  unsigned others = 0;

  g_string_append_printf (out, "Domain %s on %s (%s: %s), over %.1f s\n", st->name, st->uri,
                          st->local ? "this machine" : "another host", st->why, st->interval);
  g_string_append_printf (out, "  %-12s %-16s %-6s %-6s %-8s %s\n", "thread", "pin", "ran on",
                          "CPU%", "tid", "allowed");
  for (guint i = 0; i < st->rows->len; i++) {
    const struct row *r = &g_array_index (st->rows, struct row, i);
    g_autofree char *what = r->index >= 0 ? g_strdup_printf ("%s %d", r->kind, r->index)
                            : g_strdup (r->kind);
    g_autofree char *pct = cell (r->cpu_percent, "");
    g_autofree char *ran = r->cpu >= 0 ? g_strdup_printf ("%d", r->cpu) : g_strdup ("-");
    g_autofree char *tid = r->thread ? g_strdup_printf ("%d", r->thread->tid) : g_strdup ("-");

    g_string_append_printf (out, "  %-12s %-16s %-6s %-6s %-8s %s\n", what, r->pin ? r->pin : "-",
                            ran, pct, tid, r->thread && r->thread->allowed ? r->thread->allowed : "-");
  }
  for (guint i = 0; st->b->threads && i < st->b->threads->len; i++) {
    const struct vdp_thread *t = &g_array_index (st->b->threads, struct vdp_thread, i);
    if (t->kind == VDP_THREAD_OTHER) {
      others++;
      other += t->cpu_percent;
    }
  }
  if (others)
    g_string_append_printf (out, "  %u other threads (workers, RCU, ...), %.1f%% CPU together\n",
                            others, other);
  if (st->cpu_percent >= 0) {
    g_autofree char *v = cell (st->vcpu_percent, "%");
    g_string_append_printf (out, "  CPU: %.1f%% in all, vCPUs %s\n", st->cpu_percent, v);
  }
  for (unsigned i = 0; i < st->dom->n_disks; i++) {
    const struct vdp_disk *k = &st->dom->disks[i];
    if (k->iothread)
      g_string_append_printf (out, "  disk %s: %u queue%s on iothread %u", k->target,
                              MAX (k->queues, 1), k->queues > 1 ? "s" : "", k->iothread);
    else if (k->n_mapped) {
      g_string_append_printf (out, "  disk %s: %u queues over iothreads", k->target, k->queues);
      for (unsigned j = 0; j < k->n_mapped; j++)
        g_string_append_printf (out, "%s%u", j ? "," : " ", k->mapped[j]);
    } else if (k->bus && strcmp (k->bus, "virtio") == 0 && g_strcmp0 (k->type, "vhostuser") != 0)
      g_string_append_printf (out, "  disk %s: in the main loop (no IOThread)", k->target);
    else
      g_string_append_printf (out, "  disk %s", k->target);
    text_disk_rates (out, st, k->target);
    g_string_append_c (out, '\n');
  }
  vdp_backend_views_text (out, st->backends);
  if (st->pid <= 0)
    g_string_append (out, "  (no per-thread detail: the guest's QEMU process is not known on "
                     "this machine)\n");
  return g_string_free (out, FALSE);
}

static int
fail (const struct vdp_globals *g, GError *err)
{
  vdp_error_print (g->prog, err);
  return vdp_error_exit_status (err);
}

/* The QEMU process of @name when the host is this machine, from libvirt's
 * pid file; 0 when unknown. */
static int
local_pid (struct vdp_conn *c, const char *name)
{
  g_autofree char *pidfile = vdp_conn_qemu_pidfile (c, name);
  g_autofree char *text = NULL;

  if (pidfile == NULL || !g_file_get_contents (pidfile, &text, NULL, NULL))
    return 0;
  return MAX (atoi (text), 0);
}

/* Whether /proc/@pid/cmdline names the guest as QEMU does: "-name
 * guest=NAME,..." (or "-name NAME") or "-uuid UUID"; FALSE with an input
 * error saying what the process is otherwise. */
static gboolean
pid_is_guest (int pid, const struct vdp_domain *d, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", pid);
  g_autofree char *cmd = NULL;
  gsize len;

  if (!g_file_get_contents (path, &cmd, &len, NULL)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "--pid %d: no such process on this machine",
                 pid);
    return FALSE;
  }
  for (gsize at = 0; at < len; at += strlen (cmd + at) + 1) {
    const char *arg = cmd + at, *next = at + strlen (arg) + 1 < len ? arg + strlen (arg) + 1 : "";
    g_autofree char *name = NULL;

    if (strcmp (arg, "-uuid") == 0 && d->uuid && g_ascii_strcasecmp (next, d->uuid) == 0)
      return TRUE;
    if (strcmp (arg, "-name") != 0)
      continue;
    /* "guest=NAME,debug-threads=on" (",," is a comma of the name) or "NAME" */
    name = g_str_has_prefix (next, "guest=") ? g_strdup (next + 6) : g_strdup (next);
    for (char *p = name, *o = name;; p++) {
      if (*p == ',' && p[1] == ',') {
        *o++ = ',';
        p++;
      } else if (*p == ',' || *p == '\0') {
        *o = '\0';
        break;
      } else {
        *o++ = *p;
      }
    }
    if (strcmp (name, d->name) == 0)
      return TRUE;
  }
  g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "--pid %d is not the QEMU process of '%s': "
               "its command line names neither '%s' (-name) nor its UUID (-uuid)", pid, d->name,
               d->name);
  return FALSE;
}

static int
run (struct vdp_globals *g, int argc, char **argv)
{
  struct status_opts o = { .interval = 1.0 };
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_host) h = NULL;
  g_autofree char *xml = NULL, *text = NULL;
  g_autoptr (xmlDoc) doc = NULL;
  g_autoptr (vdp_domain) d = NULL;
  g_autoptr (GArray) rows = g_array_new (FALSE, TRUE, sizeof (struct row));
  struct vdp_live_pins pins = { 0 };
  struct sample a = { 0 }, b = { 0 };
  struct status st = { 0 };
  struct vdp_conn *c;
  g_autoptr (GPtrArray) backends = NULL;
  g_autofree char *name = NULL;
  int first, rc, active;

  rc = vdp_parse_options (g, "status", argc, argv, "", options, usage, handle, &o, &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  if (argc - first != 1 || g->hosts->len > 1) {
    vdp_usage_error (g, "status", "give exactly one domain (and at most one host)");
    return VDP_EXIT_USAGE;
  }
  if (g->jobs) {
    vdp_usage_error (g, "status", "-j: status shows one domain of one host");
    return VDP_EXIT_USAGE;
  }
  rc = vdp_no_state (g, "status");
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  vdp_conn_init ();
  h = vdp_host_open (vdp_globals_hosts (g)->pdata[0], NULL, &err);
  if (h == NULL)
    return fail (g, err);
  c = vdp_host_conn (h);
  /* by name, ID or UUID, as virsh */
  name = vdp_conn_resolve (c, argv[first], &err);
  if (name == NULL)
    return fail (g, err);
  active = vdp_conn_is_active (c, name, &err);
  if (active < 0)
    return fail (g, err);
  if (active == 0) {
    fprintf (stderr, "%s: domain '%s' is not running\n", g->prog, name);
    return VDP_EXIT_ERROR;
  }
  xml = vdp_conn_get_xml (c, name, FALSE, &err);
  if (xml == NULL || (doc = vdp_xml_read_memory (xml, name, &err)) == NULL
      || (d = vdp_domain_parse (doc, name, &err)) == NULL)
    return fail (g, err);

  g_array_set_clear_func (rows, row_clear);
  st.name = name;
  st.uri = vdp_host_uri (h);
  st.local = vdp_host_is_local (h, &st.why);
  st.interval = o.interval;
  st.dom = d;
  st.rows = rows;
  /* per-thread detail only where the process is on this machine: --pid
   * names a process of this machine, so the host must be it (libvirt's
   * test driver has no processes: a stand-in of this machine may serve),
   * and the process must be this guest's QEMU */
  if (o.pid && !st.local && !vdp_conn_is_test (c)) {
    fprintf (stderr, "%s: --pid %d: a process of this machine, but host '%s' is not this "
             "machine (%s)\n", g->prog, o.pid, st.uri, st.why ? st.why : "another host");
    return VDP_EXIT_ERROR;
  }
  if (o.pid && !pid_is_guest (o.pid, d, &err))
    return fail (g, err);
  st.pid = o.pid ? o.pid : st.local ? local_pid (c, name) : 0;
  /* the backends' runtime state and threads are on this machine only */
  backends = st.local ? vdp_backend_views_begin (doc, d->uuid)
             : g_ptr_array_new ();
  st.backends = backends;
  if (!take_sample (c, name, st.pid, &a, &err)) {
    sample_clear (&a);
    return fail (g, err);
  }
  g_usleep ((gulong) (o.interval * G_USEC_PER_SEC));
  if (!take_sample (c, name, st.pid, &b, &err) || !vdp_conn_get_live_pins (c, name, &pins, &err)) {
    sample_clear (&a);
    sample_clear (&b);
    return fail (g, err);
  }
  if (b.threads)
    vdp_threads_rate (a.threads, b.threads, (double) (b.at - a.at) / G_USEC_PER_SEC);
  vdp_backend_views_end (backends, (double) (b.at - a.at) / G_USEC_PER_SEC);
  st.a = &a;
  st.b = &b;
  build_rows (&st, &pins);
  text = g->json ? format_json (&st, &pins) : format_text (&st);
  vdp_live_pins_clear (&pins);
  sample_clear (&a);
  sample_clear (&b);
  return vdp_print_output (g, text);
}

const struct vdp_command vdp_cmd_status = {
  .name = "status",
  .summary = "show a running guest's threads, pins, CPU use and I/O, on any host",
  .run = run,
};
