/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The command table and the option handling every command shares. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "conn.h"
#include "fleet.h"
#include "util/error.h"
#include "util/json.h"

extern const struct vdp_command vdp_cmd_topology;
extern const struct vdp_command vdp_cmd_plan;
extern const struct vdp_command vdp_cmd_apply;
extern const struct vdp_command vdp_cmd_revert;
extern const struct vdp_command vdp_cmd_check;
extern const struct vdp_command vdp_cmd_status;

const struct vdp_command *const vdp_commands[] = {
  &vdp_cmd_topology,
  &vdp_cmd_plan,
  &vdp_cmd_apply,
  &vdp_cmd_revert,
  &vdp_cmd_check,
  &vdp_cmd_status,
  NULL,
};

const struct vdp_command *
vdp_command_find (const char *name)
{
  for (const struct vdp_command *const *c = vdp_commands; *c; c++)
    if (strcmp (name, (*c)->name) == 0)
      return *c;
  return NULL;
}

void
vdp_usage_error (const struct vdp_globals *g, const char *cmd, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (cmd)
    fprintf (stderr, "%s %s: %s (see '%s %s --help')\n", g->prog, cmd, msg, g->prog, cmd);
  else
    fprintf (stderr, "%s: %s (see '%s --help')\n", g->prog, msg, g->prog);
}

void
vdp_print_version (void)
{
  printf ("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
}

int
vdp_print_output (const struct vdp_globals *g, const char *text)
{
  size_t len = strlen (text);

  if (fwrite (text, 1, len, stdout) != len || fflush (stdout) != 0) {
    fprintf (stderr, "%s: cannot write output: %s\n", g->prog, g_strerror (errno));
    return VDP_EXIT_ERROR;
  }
  return VDP_EXIT_OK;
}

static void
list_options (const struct option *longopts)
{
  for (const struct option *o = longopts; o->name; o++)
    printf ("--%s\n", o->name);
}

int
vdp_parse_options (struct vdp_globals *g, const char *cmd, int argc, char **argv,
                   const char *shortopts, const struct option *longopts,
                   void (*usage) (FILE *out), vdp_option_fn handle,
                   void *data, int *first_arg)
{
  /* Top level: stop at the command name ("+"); commands: GNU permutation. */
  g_autofree char *optstring = g_strconcat (cmd ? ":" : "+:", VDP_GLOBAL_SHORTOPTS,
                                            shortopts, NULL);
  int c;

  optind = 0;
  opterr = 0;
  while ((c = getopt_long (argc, argv, optstring, longopts, NULL)) != -1) {
    g_autoptr (GError) err = NULL;

    switch (c) {
    case 'h':
      usage (stdout);
      return VDP_EXIT_OK;
    case 'V':
      vdp_print_version ();
      return VDP_EXIT_OK;
    case 'v':
      g->verbose++;
      break;
    case 'q':
      g->quiet = TRUE;
      break;
    case VDP_OPT_JSON:
      g->json = TRUE;
      break;
    case VDP_OPT_TOPOLOGY:
      g->topology = optarg;
      break;
    case 'c':
      g_ptr_array_add (g->hosts, vdp_host_spec_new (optarg, "-c"));
      break;
    case 'j': {
      guint64 n;
      if (!g_ascii_string_to_unsigned (optarg, 10, 1, 256, &n, NULL)) {
        vdp_usage_error (g, cmd, "invalid -j '%s' (expected a number from 1 to 256)", optarg);
        return VDP_EXIT_USAGE;
      }
      g->jobs = (unsigned) n;
      break;
    }
    case VDP_OPT_HOSTS: {
      g_autoptr (GError) e = NULL;
      if (!vdp_host_specs_read (optarg, g->hosts, &e)) {
        vdp_usage_error (g, cmd, "%s", e->message);
        return VDP_EXIT_USAGE;
      }
      break;
    }
    case VDP_OPT_LIST_OPTIONS:
      list_options (longopts);
      return VDP_EXIT_OK;
    case ':':
      vdp_usage_error (g, cmd, "option '%s' needs an argument", argv[optind - 1]);
      return VDP_EXIT_USAGE;
    case '?':
      if (optopt)
        vdp_usage_error (g, cmd, "unknown option '-%c'", optopt);
      else
        vdp_usage_error (g, cmd, "unknown option '%s'", argv[optind - 1]);
      return VDP_EXIT_USAGE;
    default:
      if (handle == NULL || !handle (c, optarg, data, &err)) {
        vdp_usage_error (g, cmd, "%s", err ? err->message : "unhandled option");
        return VDP_EXIT_USAGE;
      }
      break;
    }
  }
  *first_arg = optind;
  return VDP_PARSE_CONTINUE;
}

int
vdp_report_results (const struct vdp_globals *g, const char *verb, GPtrArray *results)
{
  g_autoptr (GString) out = g_string_new (NULL);
  unsigned failed = vdp_results_count (results, VDP_RESULT_FAILED);
  int rc;

  for (guint i = 0; i < results->len; i++) {
    const struct vdp_result *r = results->pdata[i];
    if (g->json) {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      g_autofree char *line = NULL;
      json_builder_begin_object (b);
      vdp_json_add_string (b, "uri", r->uri);
      vdp_json_add_string (b, "domain", r->domain);
      vdp_json_add_string (b, "result", vdp_result_names[r->kind]);
      vdp_json_add_string (b, "message", r->message);
      vdp_json_add_string (b, "plan", r->plan);
      if (r->diff)
        vdp_json_add_string (b, "diff", r->diff);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      line = vdp_json_to_string (root, FALSE);
      g_string_append (out, line);
      continue;
    }
    g_string_append_printf (out, "%s %s: %s", r->uri, r->domain ? r->domain : "(host)",
                            vdp_result_names[r->kind]);
    if (r->plan)
      g_string_append_printf (out, " (plan %s)", r->plan);
    if (r->message)
      g_string_append_printf (out, ": %s", r->message);
    g_string_append_c (out, '\n');
    if (r->diff)
      g_string_append (out, r->diff);
  }
  rc = vdp_print_output (g, out->str);
  if (!g->quiet || failed)
    fprintf (stderr, "%s: %s: %u applied, %u unchanged, %u would change, %u reverted, "
             "%u not tuned, %u failed\n", g->prog, verb,
             vdp_results_count (results, VDP_RESULT_APPLIED),
             vdp_results_count (results, VDP_RESULT_UNCHANGED),
             vdp_results_count (results, VDP_RESULT_WOULD_CHANGE),
             vdp_results_count (results, VDP_RESULT_REVERTED),
             vdp_results_count (results, VDP_RESULT_NOT_TUNED), failed);
  return failed ? VDP_EXIT_ERROR : rc;
}

GPtrArray *
vdp_globals_hosts (const struct vdp_globals *g)
{
  if (g->hosts->len == 0)
    g_ptr_array_add (g->hosts, vdp_host_spec_new (NULL, "default"));
  return g->hosts;
}

struct vdp_progress *
vdp_progress_start (const struct vdp_globals *g, const char *verb)
{
  return vdp_progress_new (g->prog, verb, vdp_globals_hosts (g)->len,
                           !g->quiet && isatty (STDERR_FILENO));
}

struct host_job {
  const struct vdp_host_spec *host;
  GPtrArray *results;
};

struct host_pool {
  vdp_host_fn fn;
  void *data;
  struct vdp_progress *progress;
};

static void
host_worker (gpointer item, gpointer user)
{
  struct host_job *job = item;
  struct host_pool *pool = user;

  pool->fn (job->host, pool->data, job->results);
  vdp_progress_host_done (pool->progress);
}

GPtrArray *
vdp_for_each_host (const struct vdp_globals *g, vdp_host_fn fn, void *data,
                   struct vdp_progress *progress)
{
  GPtrArray *hosts = vdp_globals_hosts (g);
  unsigned n = hosts->len;
  g_autofree struct host_job *jobs = g_new0 (struct host_job, n);
  struct host_pool pool = { .fn = fn, .data = data, .progress = progress };
  GPtrArray *all = vdp_results_new ();

  vdp_conn_init ();             /* libvirt before any worker thread */
  for (unsigned i = 0; i < n; i++) {
    jobs[i].host = hosts->pdata[i];
    jobs[i].results = vdp_results_new ();
  }
  if (g->jobs > 1 && n > 1) {
    GThreadPool *tp = g_thread_pool_new (host_worker, &pool, (gint) MIN (g->jobs, n), TRUE, NULL);
    for (unsigned i = 0; i < n; i++)
      g_thread_pool_push (tp, &jobs[i], NULL);
    g_thread_pool_free (tp, FALSE, TRUE);
  } else {
    for (unsigned i = 0; i < n; i++)
      host_worker (&jobs[i], &pool);
  }
  /* results in host order, whatever order the hosts finished in */
  for (unsigned i = 0; i < n; i++)
    g_ptr_array_extend_and_steal (all, jobs[i].results);
  return all;
}
