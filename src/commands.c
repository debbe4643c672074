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
#include "util/interrupt.h"
#include "util/json.h"

extern const struct vdp_command vdp_cmd_topology;
extern const struct vdp_command vdp_cmd_plan;
extern const struct vdp_command vdp_cmd_apply;
extern const struct vdp_command vdp_cmd_revert;
extern const struct vdp_command vdp_cmd_check;
extern const struct vdp_command vdp_cmd_status;
extern const struct vdp_command vdp_cmd_list;
extern const struct vdp_command vdp_cmd_hook;

const struct vdp_command *const vdp_commands[] = {
  &vdp_cmd_topology,
  &vdp_cmd_plan,
  &vdp_cmd_apply,
  &vdp_cmd_revert,
  &vdp_cmd_check,
  &vdp_cmd_status,
  &vdp_cmd_list,
  &vdp_cmd_hook,
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
    /* a reader that stopped reading (| head): quiet, as with SIGPIPE */
    if (errno != EPIPE)
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

/* Merges hosts named twice (the same URI with -c and in --hosts, or
 * twice): one host, with the device hints of both and the topology= of
 * either; two different topology= for one URI are a usage error. */
static gboolean
merge_hosts (GPtrArray *hosts, GError **error)
{
  for (guint i = 0; i < hosts->len; i++) {
    struct vdp_host_spec *a = hosts->pdata[i];
    for (guint j = i + 1; j < hosts->len;) {
      struct vdp_host_spec *b = hosts->pdata[j];
      if (g_strcmp0 (a->uri, b->uri) != 0) {
        j++;
        continue;
      }
      if (a->topology && b->topology && strcmp (a->topology, b->topology) != 0) {
        g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "host '%s' is named twice (%s, %s) with "
                     "different topologies '%s' and '%s'", a->uri ? a->uri : "(default)",
                     a->origin, b->origin, a->topology, b->topology);
        return FALSE;
      }
      if (a->topology == NULL)
        a->topology = g_strdup (b->topology);
      if (a->devices->len == 0 && b->origin && g_strcmp0 (a->origin, "-c") == 0) {
        /* its hints come from the hosts file line: that line is where they come from */
        g_free (a->origin);
        a->origin = g_strdup (b->origin);
      }
      g_array_append_vals (a->devices, b->devices->data, b->devices->len);
      g_ptr_array_remove_index (hosts, j);
    }
  }
  return TRUE;
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
        if (vdp_error_exit_status (e) != VDP_EXIT_USAGE) {
          vdp_error_print (g->prog, e);
          return vdp_error_exit_status (e);
        }
        vdp_usage_error (g, cmd, "%s", e->message);
        return VDP_EXIT_USAGE;
      }
      break;
    }
    case VDP_OPT_STATE:
      if (!vdp_state_parse (optarg, &g->state, &err)) {
        vdp_usage_error (g, cmd, "%s", err->message);
        return VDP_EXIT_USAGE;
      }
      break;
    case VDP_OPT_TIMEOUT: {
      guint64 n;
      if (!g_ascii_string_to_unsigned (optarg, 10, 0, 86400, &n, NULL)) {
        vdp_usage_error (g, cmd, "invalid --timeout '%s' (expected seconds from 0, no bound, "
                         "to 86400)", optarg);
        return VDP_EXIT_USAGE;
      }
      vdp_conn_set_timeout ((unsigned) n);
      break;
    }
    case VDP_OPT_COLOR:
      if (!vdp_color_parse (optarg, &g->color, &err)) {
        vdp_usage_error (g, cmd, "%s", err->message);
        return VDP_EXIT_USAGE;
      }
      break;
    case VDP_OPT_LIST_COMMANDS:
      for (const struct vdp_command *const *k = vdp_commands; *k; k++)
        printf ("%s\n", (*k)->name);
      return VDP_EXIT_OK;
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
  if (cmd) {
    g_autoptr (GError) err = NULL;
    if (!merge_hosts (g->hosts, &err)) {
      vdp_usage_error (g, cmd, "%s", err->message);
      return VDP_EXIT_USAGE;
    }
  }
  *first_arg = optind;
  return VDP_PARSE_CONTINUE;
}

int
vdp_select_domains (const struct vdp_globals *g, const char *cmd, gboolean all, gboolean named,
                    gboolean config, gboolean live, struct vdp_apply_opts *ao)
{
  all = all || g->state != VDP_STATE_ANY;
  if (all == named) {
    vdp_usage_error (g, cmd, all ? "--all (or --state) and domain names exclude each other"
                     : "no domain given (name domains or use --all)");
    return VDP_EXIT_USAGE;
  }
  ao->state = g->state;
  if (all && live && !config) {
    /* the live settings of guests that run: --all means those */
    if (g->state == VDP_STATE_SHUTOFF) {
      vdp_usage_error (g, cmd, "--live alone with --state shutoff: no running guest to change");
      return VDP_EXIT_USAGE;
    }
    ao->state = VDP_STATE_RUNNING;
  }
  ao->config = config || !live;
  ao->live = live;
  /* one host: -j spreads its domains; several: -j spreads the hosts */
  ao->jobs = vdp_globals_hosts (g)->len <= 1 ? g->jobs : 1;
  return VDP_PARSE_CONTINUE;
}

int
vdp_no_state (const struct vdp_globals *g, const char *cmd)
{
  if (g->state == VDP_STATE_ANY)
    return VDP_PARSE_CONTINUE;
  vdp_usage_error (g, cmd, "--state picks domains; %s takes none by state", cmd);
  return VDP_EXIT_USAGE;
}

GPtrArray *
vdp_globals_hosts (const struct vdp_globals *g)
{
  if (g->hosts->len == 0)
    g_ptr_array_add (g->hosts, vdp_host_spec_new (NULL, "default"));
  return g->hosts;
}

struct vdp_report *
vdp_report_start (const struct vdp_globals *g, const char *verb, gboolean summary)
{
  struct vdp_report_opts o = {
    .prog = g->prog, .verb = verb, .json = g->json, .quiet = g->quiet,
    .color = !g->json && vdp_color_enabled (g->color, STDOUT_FILENO),
    .progress = !g->quiet, .summary = summary, .hosts = vdp_globals_hosts (g)->len,
  };
  return vdp_report_new (&o);
}

struct host_pool {
  vdp_host_fn fn;
  void *data;
  struct vdp_report *report;
};

static void
host_worker (gpointer item, gpointer user)
{
  const struct vdp_host_spec *host = item;
  struct host_pool *pool = user;
  struct vdp_sink *sink;

  /* after SIGINT no host starts */
  if (vdp_interrupted ())
    return;
  sink = vdp_report_sink (pool->report, host->uri);
  pool->fn (host, pool->data, sink);
  vdp_sink_done (sink);
}

void
vdp_for_each_host (const struct vdp_globals *g, vdp_host_fn fn, void *data,
                   struct vdp_report *report)
{
  GPtrArray *hosts = vdp_globals_hosts (g);
  unsigned n = hosts->len;
  struct host_pool pool = { .fn = fn, .data = data, .report = report };

  vdp_conn_init ();             /* libvirt before any worker thread */
  vdp_interrupt_catch (g->prog);
  if (g->jobs > 1 && n > 1) {
    GThreadPool *tp = g_thread_pool_new (host_worker, &pool, (gint) MIN (g->jobs, n), TRUE, NULL);
    for (unsigned i = 0; i < n; i++)
      g_thread_pool_push (tp, hosts->pdata[i], NULL);
    g_thread_pool_free (tp, FALSE, TRUE);
  } else {
    for (unsigned i = 0; i < n; i++)
      host_worker (hosts->pdata[i], &pool);
  }
}
