/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-dataplane: global options and dispatch to the command table. */
#include <config.h>

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "conn.h"
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
           " -j, --jobs <n>               work on n hosts at once (one host: n of its\n"
           "                              domains' transactions at once)\n"
           " --timeout <seconds>          per host: give up connecting, or on a host that\n"
           "                              stops answering, after this long (default %d;\n"
           "                              0: never)\n"
           " --state running|shutoff      only the domains in that state (implies --all)\n"
           " --json                       machine-readable output (streams: one object\n"
           "                              per line)\n"
           " --color auto|always|never    colour diffs (auto: on a terminal)\n"
           " -v, --verbose                more detail (repeatable)\n"
           " -q, --quiet                  no warnings\n"
           " --list-commands              print the command names, one per line\n"
           " --list-options               print the long options, one per line\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
           "Exit status: 0 done, 1 check findings, 2 an input, host or domain failed,\n"
           "3 dry run with changes pending, 64 usage error, 130 interrupted.\n"
           "\n"
           "Run '%s <command> --help' for a command's options.\n"
           "For more details see virt-dataplane(1).\n", VDP_CONN_TIMEOUT_DEFAULT, PACKAGE_NAME);
}

static const struct option main_options[] = {
  VDP_GLOBAL_LONGOPTS,
  { NULL, 0, NULL, 0 },
};

int
main (int argc, char **argv)
{
  struct vdp_globals g = { .prog = PACKAGE_NAME, .state = VDP_STATE_ANY };
  g_autoptr (GPtrArray) hosts = g_ptr_array_new_with_free_func ((GDestroyNotify) vdp_host_spec_free);
  const struct vdp_command *cmd;
  int first = 0, rc;

  setlocale (LC_ALL, "");
  /* a reader that goes away (| head) must not kill a transaction halfway:
   * writes fail instead, and are reported */
  signal (SIGPIPE, SIG_IGN);
  g.hosts = hosts;
  rc = vdp_parse_options (&g, NULL, argc, argv, "", main_options, usage, NULL, NULL, &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
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
