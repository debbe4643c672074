/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The command table and the option handling every command shares. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "commands.h"
#include "util/error.h"

extern const struct vdp_command vdp_cmd_topology;
extern const struct vdp_command vdp_cmd_plan;

const struct vdp_command *const vdp_commands[] = {
  &vdp_cmd_topology,
  &vdp_cmd_plan,
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
