/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "virt-dataplane status": a running guest's vCPU, IOThread and emulator threads, where they run and how busy. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "conn.h"
#include "domain.h"
#include "procstat.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"
#include "util/json.h"

enum {
  OPT_INTERVAL = VDP_OPT_COMMAND_BASE,
  OPT_PID,
};

static const struct option options[] = {
  VDP_GLOBAL_LONGOPTS,
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
           " %s status [options] <domain>\n"
           "\n"
           "Show a running guest's vCPU, IOThread and emulator threads: thread id, pin,\n"
           "the CPU each last ran on and its CPU use, and each disk's queue mapping.\n"
           "\n"
           "Options:\n"
           " -c, --connect <uri>          the host (default: libvirt's default)\n"
           " --interval <seconds>         how long to measure CPU use (default 1)\n"
           " --pid <pid>                  the QEMU process (default: libvirt's pid file)\n"
           " --json                       print a JSON object\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
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

static const char *const kind_names[] = { "vcpu", "iothread", "emulator", "other" };

static const char *
libvirt_pin (const struct vdp_live_pins *p, const struct vdp_thread *t, char **owned)
{
  hwloc_const_bitmap_t set = NULL;

  if (t->kind == VDP_THREAD_VCPU && t->index >= 0 && (unsigned) t->index < p->n_vcpus)
    set = p->vcpus[t->index];
  else if (t->kind == VDP_THREAD_IOTHREAD)
    for (unsigned i = 0; i < p->n_iothreads; i++)
      if (p->iothread_ids[i] == (unsigned) t->index)
        set = p->iothreads[i];
  if (t->kind == VDP_THREAD_EMULATOR || t->kind == VDP_THREAD_OTHER)
    set = p->emulator;
  *owned = set ? vdp_cpuset_format (set) : NULL;
  return *owned ? *owned : "-";
}

static char *
format_status (const struct vdp_globals *g, const char *name, int pid, double interval,
               GArray *threads, const struct vdp_live_pins *pins, const struct vdp_domain *d)
{
  GString *out = g_string_new (NULL);
  double other_pct = 0;
  unsigned others = 0;

  if (g->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autoptr (JsonNode) root = NULL;
    g_autofree char *text = NULL;

    json_builder_begin_object (b);
    vdp_json_add_string (b, "domain", name);
    vdp_json_add_int (b, "pid", pid);
    json_builder_set_member_name (b, "interval");
    json_builder_add_double_value (b, interval);
    json_builder_set_member_name (b, "threads");
    json_builder_begin_array (b);
    for (guint i = 0; i < threads->len; i++) {
      const struct vdp_thread *t = &g_array_index (threads, struct vdp_thread, i);
      g_autofree char *owned = NULL;
      json_builder_begin_object (b);
      vdp_json_add_string (b, "kind", kind_names[t->kind]);
      vdp_json_add_int (b, "index", t->index);
      vdp_json_add_int (b, "tid", t->tid);
      vdp_json_add_string (b, "name", t->name);
      vdp_json_add_string (b, "pin", libvirt_pin (pins, t, &owned));
      vdp_json_add_string (b, "allowed", t->allowed);
      vdp_json_add_int (b, "cpu", t->cpu);
      json_builder_set_member_name (b, "cpu_percent");
      json_builder_add_double_value (b, t->cpu_percent);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_set_member_name (b, "disks");
    json_builder_begin_array (b);
    for (unsigned i = 0; i < d->n_disks; i++) {
      const struct vdp_disk *k = &d->disks[i];
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
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
    root = json_builder_get_root (b);
    text = vdp_json_to_string (root, TRUE);
    g_string_append (out, text);
    return g_string_free (out, FALSE);
  }

  g_string_append_printf (out, "Domain %s: QEMU process %d, CPU use over %.1f s\n", name, pid,
                          interval);
  g_string_append_printf (out, "  %-12s %-8s %-16s %-16s %-6s %s\n", "thread", "tid", "pin",
                          "allowed", "ran on", "CPU%");
  for (guint i = 0; i < threads->len; i++) {
    const struct vdp_thread *t = &g_array_index (threads, struct vdp_thread, i);
    g_autofree char *owned = NULL;
    g_autofree char *what = NULL;

    if (t->kind == VDP_THREAD_OTHER) {
      others++;
      other_pct += t->cpu_percent;
      continue;
    }
    what = t->index >= 0 ? g_strdup_printf ("%s %d", kind_names[t->kind], t->index)
                         : g_strdup (kind_names[t->kind]);
    g_string_append_printf (out, "  %-12s %-8d %-16s %-16s %-6d %.1f\n", what, t->tid,
                            libvirt_pin (pins, t, &owned), t->allowed ? t->allowed : "-",
                            t->cpu, t->cpu_percent);
  }
  if (others)
    g_string_append_printf (out, "  %u other threads (workers, RCU, ...), %.1f%% CPU together\n",
                            others, other_pct);
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk *k = &d->disks[i];
    if (k->iothread)
      g_string_append_printf (out, "  disk %s: %u queue%s on iothread %u\n", k->target,
                              MAX (k->queues, 1), k->queues > 1 ? "s" : "", k->iothread);
    else if (k->n_mapped) {
      g_string_append_printf (out, "  disk %s: %u queues over iothreads", k->target, k->queues);
      for (unsigned j = 0; j < k->n_mapped; j++)
        g_string_append_printf (out, "%s%u", j ? "," : " ", k->mapped[j]);
      g_string_append_c (out, '\n');
    } else if (k->bus && strcmp (k->bus, "virtio") == 0)
      g_string_append_printf (out, "  disk %s: in the main loop (no IOThread)\n", k->target);
  }
  return g_string_free (out, FALSE);
}

static int
fail (const struct vdp_globals *g, GError *err)
{
  vdp_error_print (g->prog, err);
  return vdp_error_exit_status (err);
}

static int
run (struct vdp_globals *g, int argc, char **argv)
{
  struct status_opts o = { .interval = 1.0 };
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_conn) c = NULL;
  g_autofree char *xml = NULL, *pidfile = NULL, *text = NULL;
  g_autoptr (xmlDoc) doc = NULL;
  g_autoptr (vdp_domain) d = NULL;
  struct vdp_live_pins pins = { 0 };
  GArray *threads;
  const char *name;
  int first, rc, active;

  rc = vdp_parse_options (g, "status", argc, argv, "", options, usage, handle, &o, &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  if (argc - first != 1 || g->hosts->len > 1) {
    vdp_usage_error (g, "status", "give exactly one domain (and at most one -c)");
    return VDP_EXIT_USAGE;
  }
  name = argv[first];
  c = vdp_conn_open (((struct vdp_host_spec *) vdp_globals_hosts (g)->pdata[0])->uri, &err);
  if (c == NULL)
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
      || (d = vdp_domain_parse (doc, name, &err)) == NULL
      || !vdp_conn_get_live_pins (c, name, &pins, &err))
    return fail (g, err);
  if (o.pid == 0) {
    g_autofree char *pid_text = NULL;
    pidfile = vdp_conn_qemu_pidfile (c, name);
    if (pidfile == NULL || !g_file_get_contents (pidfile, &pid_text, NULL, NULL)
        || (o.pid = atoi (pid_text)) <= 0) {
      fprintf (stderr, "%s: no QEMU process known for '%s' on '%s'%s%s%s: give --pid\n", g->prog,
               name, vdp_conn_uri (c), pidfile ? " (no pid in '" : "", pidfile ? pidfile : "",
               pidfile ? "')" : "");
      vdp_live_pins_clear (&pins);
      return VDP_EXIT_ERROR;
    }
  }
  threads = vdp_threads_sample (o.pid, o.interval, &err);
  if (threads == NULL) {
    vdp_live_pins_clear (&pins);
    return fail (g, err);
  }
  text = format_status (g, name, o.pid, o.interval, threads, &pins, d);
  vdp_threads_free (threads);
  vdp_live_pins_clear (&pins);
  return vdp_print_output (g, text);
}

const struct vdp_command vdp_cmd_status = {
  .name = "status",
  .summary = "show a running guest's threads: pins, CPUs, CPU use",
  .run = run,
};
