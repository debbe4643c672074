/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "virt-dataplane revert": restores what the last apply changed, from each domain's own metadata. */
#include <config.h>

#include <stdio.h>

#include "commands.h"
#include "fleet.h"
#include "util/error.h"

enum {
  OPT_ALL = VDP_OPT_COMMAND_BASE,
  OPT_DRY_RUN,
  OPT_FORCE,
  OPT_CONFIG,
  OPT_LIVE,
};

static const struct option options[] = {
  VDP_GLOBAL_LONGOPTS,
  { "all", no_argument, NULL, OPT_ALL },
  { "dry-run", no_argument, NULL, OPT_DRY_RUN },
  { "force", no_argument, NULL, OPT_FORCE },
  { "config", no_argument, NULL, OPT_CONFIG },
  { "live", no_argument, NULL, OPT_LIVE },
  { NULL, 0, NULL, 0 },
};

struct revert_opts {
  gboolean all, dry_run, force, config, live;
};

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           " %s revert [options] <domain>...|--all\n"
           "\n"
           "Restore what the last apply changed in each domain's persistent definition,\n"
           "from the record it keeps in the domain's metadata, and with --live in the\n"
           "running guest.  Domains are named by name, ID or UUID.\n"
           "\n"
           "Options:\n"
           " -c, --connect <uri>          a host (repeatable; default: libvirt's default)\n"
           " --hosts <file>               hosts, one per line: URI [topology=FILE]\n"
           "                              [device=PATH=DEVNAME]...\n"
           " --all                        every persistent domain of each host\n"
           " --state running|shutoff      only the domains in that state (implies --all)\n"
           " --config                     restore the persistent definition (the default)\n"
           " --live                       undo the live pins of running guests and remove\n"
           "                              the IOThreads apply added (with --config: both);\n"
           "                              a named domain that is not running is an error\n"
           " --dry-run                    show what would change; change nothing\n"
           " --force                      revert even what was changed by hand since the\n"
           "                              last apply (those changes are lost)\n"
           " -j, --jobs <n>               hosts at once\n"
           " --timeout <seconds>          give up on a host that does not answer\n"
           " --json                       one JSON object per domain, one per line\n"
           " --color auto|always|never    colour the dry run's diffs\n"
           " -q, --quiet                  no warnings, no summary unless something failed\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
           "Exit status: 0 reverted or nothing to revert, 2 a host or domain failed or was\n"
           "refused, 3 --dry-run with changes pending, 64 usage error, 130 interrupted.\n"
           "For more details see virt-dataplane(1).\n", PACKAGE_NAME);
}

static gboolean
handle (int opt, const char *arg, void *data, GError **error)
{
  struct revert_opts *o = data;

  switch (opt) {
  case OPT_ALL: o->all = TRUE; return TRUE;
  case OPT_DRY_RUN: o->dry_run = TRUE; return TRUE;
  case OPT_FORCE: o->force = TRUE; return TRUE;
  case OPT_CONFIG: o->config = TRUE; return TRUE;
  case OPT_LIVE: o->live = TRUE; return TRUE;
  default:
    g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "unhandled option");
    return FALSE;
  }
}

struct revert_job {
  const char *const *names;
  const struct vdp_apply_opts *ao;
};

static void
revert_host (const struct vdp_host_spec *host, void *data, struct vdp_sink *sink)
{
  struct revert_job *job = data;
  vdp_fleet_revert (host, job->names, job->ao, sink);
}

static int
run (struct vdp_globals *g, int argc, char **argv)
{
  struct revert_opts o = { 0 };
  struct vdp_apply_opts ao = { 0 };
  g_autoptr (vdp_report) report = NULL;
  struct revert_job job = { NULL, &ao };
  int first, rc;

  rc = vdp_parse_options (g, "revert", argc, argv, "", options, usage, handle, &o, &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  rc = vdp_select_domains (g, "revert", o.all, first < argc, o.config, o.live, &ao);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  ao.dry_run = o.dry_run;
  ao.overwrite = o.force;
  job.names = first < argc ? (const char *const *) argv + first : NULL;
  report = vdp_report_start (g, o.dry_run ? "revert --dry-run" : "revert", TRUE);
  vdp_for_each_host (g, revert_host, &job, report);
  return vdp_report_finish (report);
}

const struct vdp_command vdp_cmd_revert = {
  .name = "revert",
  .summary = "restore what the last apply changed",
  .run = run,
};
