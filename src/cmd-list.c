/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "virt-dataplane list": each domain of a host or a fleet with its state, profile, plan and whether it drifted. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "commands.h"
#include "conn.h"
#include "domain.h"
#include "drift.h"
#include "fleet.h"
#include "host.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/json.h"

enum {
  OPT_ALL = VDP_OPT_COMMAND_BASE,
  OPT_NAME,
};

static const struct option options[] = {
  VDP_GLOBAL_LONGOPTS,
  { "all", no_argument, NULL, OPT_ALL },
  { "name", no_argument, NULL, OPT_NAME },
  { NULL, 0, NULL, 0 },
};

struct list_opts {
  gboolean all, name;
};

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           " %s list [options] [<domain>...|--all]\n"
           "\n"
           "List the domains of libvirt hosts with their state, the profile and plan they\n"
           "were tuned with, and their drift: tuned, drifted (changed by hand since the\n"
           "last apply), untuned, or foreign pins (pinned by something else).  Without\n"
           "domains, every persistent domain.  Domains are named by name, ID or UUID.\n"
           "\n"
           "Options:\n"
           " -c, --connect <uri>          a host (repeatable; default: libvirt's default)\n"
           " --hosts <file>               hosts, one per line\n"
           " --all                        every persistent domain (the default)\n"
           " --state running|shutoff      only the domains in that state\n"
           " --name                       print only the domain names, one per line\n"
           " -j, --jobs <n>               hosts at once\n"
           " --timeout <seconds>          give up on a host that does not answer\n"
           " --json                       one JSON object per domain, one per line\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
           "Exit status: 0 listed, 2 a host or domain could not be read, 64 usage error,\n"
           "130 interrupted.\n"
           "For more details see virt-dataplane(1).\n", PACKAGE_NAME);
}

static gboolean
handle (int opt, const char *arg, void *data, GError **error)
{
  struct list_opts *o = data;

  switch (opt) {
  case OPT_ALL: o->all = TRUE; return TRUE;
  case OPT_NAME: o->name = TRUE; return TRUE;
  default:
    g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "unhandled option");
    return FALSE;
  }
}

struct list_job {
  const char *const *names;
  int state;
  gboolean name_only, json;
  int host_width;           /* several hosts: the width of their column; 0: one host */
  gint failed;              /* --name: hosts or domains that could not be read */
};

/* What a row says of a domain. */
struct row {
  struct vdp_domain_info info;
  char *profile, *plan;
  const char *drift;        /* "tuned", "drifted", "untuned", "foreign pins" */
  int live_differs;         /* 1, 0, -1: not running or unknown */
  char *error;              /* the domain could not be read */
};

static gboolean
has_pins (const struct vdp_domain *d)
{
  for (unsigned v = 0; v < d->vcpus; v++)
    if (d->vcpupin[v])
      return TRUE;
  return d->emulatorpin || d->n_iothreadpin || d->numa_nodeset || d->n_memnodes;
}

/* Whether the live settings of running domain @name differ from @dom. */
static int
live_differs (struct vdp_conn *c, const char *name, const struct vdp_domain *dom)
{
  g_autofree char *xml = vdp_conn_get_xml (c, name, FALSE, NULL);
  g_autoptr (xmlDoc) doc = xml ? vdp_xml_read_memory (xml, name, NULL) : NULL;
  g_autoptr (vdp_domain) live = doc ? vdp_domain_parse (doc, name, NULL) : NULL;
  g_autoptr (GHashTable) a = NULL, b = NULL;
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  if (live == NULL)
    return -1;
  a = vdp_drift_state (live);
  b = vdp_drift_state (dom);
  vdp_drift_compare (a, b, "live", "defined", NULL, lines);
  return lines->len > 0;
}

static void
row_read (struct vdp_conn *c, const char *name, struct row *r)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *xml = NULL;
  g_autoptr (xmlDoc) doc = NULL;
  g_autoptr (vdp_domain) dom = NULL;
  g_autoptr (GPtrArray) changed = g_ptr_array_new_with_free_func (g_free);

  r->live_differs = -1;
  if (!vdp_conn_domain_info (c, name, &r->info, &err)
      || (xml = vdp_conn_get_xml (c, name, TRUE, &err)) == NULL
      || !vdp_bounds_domain_text (xml, name, &err)
      || (doc = vdp_xml_read_memory (xml, name, &err)) == NULL
      || !vdp_bounds_domain_doc (doc, name, &err)
      || (dom = vdp_domain_parse (doc, name, &err)) == NULL) {
    r->error = g_strdup (err->message);
    return;
  }
  r->profile = g_strdup (dom->tuned_profile);
  r->plan = g_strdup (dom->tuned_hash);
  r->drift = dom->tuned ? (vdp_drift_find (doc, changed) ? "drifted" : "tuned")
             : has_pins (dom) ? "foreign pins" : "untuned";
  if (r->info.active)
    r->live_differs = live_differs (c, name, dom);
}

static void
row_clear (struct row *r)
{
  g_free (r->profile);
  g_free (r->plan);
  g_free (r->error);
}

/* A host or domain that cannot be read: a failed line, on stderr with
 * --name (whose output is only names). */
static void
fail (struct vdp_sink *sink, struct list_job *job, const char *name, const char *message)
{
  if (job->name_only) {
    fprintf (stderr, "%s %s: failed: %s\n", vdp_sink_uri (sink), name ? name : "(host)", message);
    g_atomic_int_inc (&job->failed);
    return;
  }
  vdp_sink_result (sink, vdp_result_new (vdp_sink_uri (sink), name, VDP_RESULT_FAILED, message));
}

static void
emit_row (struct vdp_sink *sink, struct list_job *job, const char *name,
          const struct row *r)
{
  const char *uri = vdp_sink_uri (sink);
  g_autoptr (JsonBuilder) b = NULL;
  g_autofree char *id = r->info.id >= 0 ? g_strdup_printf ("%d", r->info.id) : g_strdup ("-");
  g_autofree char *text = NULL;

  if (r->error) {
    fail (sink, job, name, r->error);
    return;
  }
  if (job->name_only) {
    text = g_strdup_printf ("%s\n", name);
    vdp_sink_line (sink, name, text, NULL);
    return;
  }
  text = g_strdup_printf ("%-*s%s%-5s %-20s %-10s %-10s %-16s %-13s %s\n",
                          job->host_width, job->host_width ? uri : "",
                          job->host_width ? "  " : "", id, name,
                          r->info.state, r->profile ? r->profile : "-", r->plan ? r->plan : "-",
                          r->drift, r->live_differs < 0 ? "-" : r->live_differs ? "differs" : "same");
  b = json_builder_new ();
  json_builder_begin_object (b);
  vdp_json_add_string (b, "uri", uri);
  vdp_json_add_string (b, "domain", name);
  vdp_json_add_int_or_null (b, "id", r->info.id);
  vdp_json_add_string (b, "uuid", r->info.uuid);
  vdp_json_add_string (b, "state", r->info.state);
  vdp_json_add_string (b, "profile", r->profile);
  vdp_json_add_string (b, "plan", r->plan);
  vdp_json_add_string (b, "drift", r->drift);
  json_builder_set_member_name (b, "live_differs");
  if (r->live_differs < 0)
    json_builder_add_null_value (b);
  else
    json_builder_add_boolean_value (b, r->live_differs);
  json_builder_end_object (b);
  vdp_sink_line (sink, name, text, json_builder_get_root (b));
}

static void
list_host (const struct vdp_host_spec *spec, void *data, struct vdp_sink *sink)
{
  struct list_job *job = data;
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_host) h = vdp_host_open (spec, NULL, &err);
  g_autoptr (GPtrArray) names = NULL;
  struct vdp_conn *c;

  if (h == NULL) {
    fail (sink, job, NULL, err->message);
    return;
  }
  c = vdp_host_conn (h);
  vdp_sink_set_uri (sink, vdp_conn_uri (c));
  names = vdp_fleet_domains (c, job->names, job->state, &err);
  if (names == NULL) {
    fail (sink, job, NULL, err->message);
    return;
  }
  for (guint i = 0; i < names->len; i++) {
    struct row r = { 0 };
    if (!job->name_only)
      row_read (c, names->pdata[i], &r);
    else if (!vdp_conn_domain_info (c, names->pdata[i], &r.info, &err))
      r.error = g_strdup (err->message), g_clear_error (&err);
    emit_row (sink, job, names->pdata[i], &r);
    row_clear (&r);
  }
}

static int
run (struct vdp_globals *g, int argc, char **argv)
{
  struct list_opts o = { 0 };
  g_autoptr (vdp_report) report = NULL;
  struct list_job job = { 0 };
  int first, rc;

  rc = vdp_parse_options (g, "list", argc, argv, "", options, usage, handle, &o, &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  if ((o.all || g->state != VDP_STATE_ANY) && first < argc) {
    vdp_usage_error (g, "list", "--all (or --state) and domain names exclude each other");
    return VDP_EXIT_USAGE;
  }
  job.names = first < argc ? (const char *const *) argv + first : NULL;
  job.state = g->state;
  job.name_only = o.name;
  job.json = g->json && !o.name;
  if (vdp_globals_hosts (g)->len > 1)
    for (guint i = 0; i < g->hosts->len; i++) {
      const struct vdp_host_spec *h = g->hosts->pdata[i];
      job.host_width = MAX (job.host_width, (int) strlen (h->uri ? h->uri : ""));
    }
  if (o.name)
    g->json = FALSE;
  report = vdp_report_start (g, "list", FALSE);
  if (!g->json && !o.name && !g->quiet) {
    printf ("%-*s%s%-5s %-20s %-10s %-10s %-16s %-13s %s\n", job.host_width,
            job.host_width ? "Host" : "", job.host_width ? "  " : "", "Id", "Name", "State",
            "Profile", "Plan", "Drift", "Live");
    fflush (stdout);
  }
  vdp_for_each_host (g, list_host, &job, report);
  rc = vdp_report_finish (report);
  return g_atomic_int_get (&job.failed) ? vdp_exit_worst (rc, VDP_EXIT_ERROR) : rc;
}

const struct vdp_command vdp_cmd_list = {
  .name = "list",
  .summary = "list domains with their state, profile, plan and drift",
  .run = run,
};
