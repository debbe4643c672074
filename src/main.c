/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-dataplane: global options and dispatch to the command table. */
#include <config.h>

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "util/error.h"

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           " %s [options] <command> [command options] [arguments]\n"
           "\n"
           "Tune the storage data plane of libvirt/KVM guests to the host topology.\n"
           "\n"
           "Commands:\n", PACKAGE_NAME);
  for (const struct vdp_command *const *c = vdp_commands; *c; c++)
    fprintf (out, " %-12s %s\n", (*c)->name, (*c)->summary);
  fprintf (out,
           "\n"
           "Options:\n"
           " --topology <file|synthetic>  use an hwloc XML file or synthetic description\n"
           "                              instead of each host's own topology\n"
           " -c, --connect <uri>          libvirt URI of a host (repeatable; default:\n"
           "                              libvirt's default URI)\n"
           " --hosts <file>               read hosts from a file, one per line:\n"
           "                              URI [topology=FILE] [device=PATH=DEVNAME]...\n"
           " -j, --jobs <n>               work on n hosts at once (apply, revert)\n"
           " --json                       machine-readable output\n"
           " -v, --verbose                more detail (repeatable)\n"
           " -q, --quiet                  no warnings\n"
           " --list-commands              print the command names, one per line\n"
           " --list-options               print the long options, one per line\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
           "Run '%s <command> --help' for a command's options.\n"
           "For more details see virt-dataplane(1).\n", PACKAGE_NAME);
}

static const struct option main_options[] = {
  VDP_GLOBAL_LONGOPTS,
  { "list-commands", no_argument, NULL, VDP_OPT_LIST_COMMANDS },
  { NULL, 0, NULL, 0 },
};

static gboolean
main_option (int opt, const char *arg, void *data, GError **error)
{
  if (opt == VDP_OPT_LIST_COMMANDS) {
    for (const struct vdp_command *const *c = vdp_commands; *c; c++)
      printf ("%s\n", (*c)->name);
    *(gboolean *) data = TRUE;
    return TRUE;
  }
  g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "unhandled option %d", opt);
  return FALSE;
}

int
main (int argc, char **argv)
{
  struct vdp_globals g = { .prog = PACKAGE_NAME };
  g_autoptr (GPtrArray) hosts = g_ptr_array_new_with_free_func ((GDestroyNotify) vdp_host_spec_free);
  const struct vdp_command *cmd;
  gboolean listed = FALSE;
  int first = 0, rc;

  setlocale (LC_ALL, "");
  g.hosts = hosts;
  rc = vdp_parse_options (&g, NULL, argc, argv, "", main_options, usage, main_option,
                          &listed, &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  if (listed)
    return VDP_EXIT_OK;
  if (first >= argc) {
    vdp_usage_error (&g, NULL, "no command given");
    return VDP_EXIT_USAGE;
  }
  cmd = vdp_command_find (argv[first]);
  if (cmd == NULL) {
    vdp_usage_error (&g, NULL, "unknown command '%s'", argv[first]);
    return VDP_EXIT_USAGE;
  }
  return cmd->run (&g, argc - first, argv + first);
}
