/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "virt-dataplane revert": restores what the last apply changed, from each domain's own metadata. */
#include <config.h>

#include <stdio.h>

#include "commands.h"
#include "fleet.h"
#include "util/error.h"

enum {
  OPT_ALL = VDP_OPT_COMMAND_BASE,
  OPT_STATE,
  OPT_DRY_RUN,
};

static const struct option options[] = {
  VDP_GLOBAL_LONGOPTS,
  { "all", no_argument, NULL, OPT_ALL },
  { "state", required_argument, NULL, OPT_STATE },
  { "dry-run", no_argument, NULL, OPT_DRY_RUN },
  { NULL, 0, NULL, 0 },
};

struct revert_opts {
  int state;
  gboolean all, dry_run;
};

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           " %s revert [options] <domain>...|--all\n"
           "\n"
           "Restore what the last apply changed in each domain's persistent definition,\n"
           "from the record it keeps in the domain's metadata.\n"
           "\n"
           "Options:\n"
           " -c, --connect <uri>          a host (repeatable; default: libvirt's default)\n"
           " --hosts <file>               hosts, one per line: URI [topology=FILE]\n"
           "                              [device=PATH=DEVNAME]...\n"
           " --all                        every persistent domain of each host\n"
           " --state running|shutoff      only the domains in that state (implies --all)\n"
           " --dry-run                    show what would change; change nothing\n"
           " --json                       one JSON object per domain\n"
           " -q, --quiet                  no summary unless something failed\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
           "For more details see virt-dataplane(1).\n", PACKAGE_NAME);
}

static gboolean
handle (int opt, const char *arg, void *data, GError **error)
{
  struct revert_opts *o = data;

  switch (opt) {
  case OPT_ALL: o->all = TRUE; return TRUE;
  case OPT_STATE:
    o->all = TRUE;
    return vdp_state_parse (arg, &o->state, error);
  case OPT_DRY_RUN: o->dry_run = TRUE; return TRUE;
  default:
    g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "unhandled option");
    return FALSE;
  }
}

struct revert_job {
  const char *const *names;
  int state;
  gboolean dry_run;
  struct vdp_progress *progress;
};

static void
revert_host (const struct vdp_host_spec *host, void *data, GPtrArray *results)
{
  struct revert_job *job = data;
  vdp_fleet_revert (host, job->names, job->state, job->dry_run, job->progress, results);
}

static int
run (struct vdp_globals *g, int argc, char **argv)
{
  struct revert_opts o = { 0 };
  g_autoptr (GPtrArray) results = NULL;
  struct revert_job job;
  int first, rc;

  rc = vdp_parse_options (g, "revert", argc, argv, "", options, usage, handle, &o, &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  if (o.all == (first < argc)) {
    vdp_usage_error (g, "revert", o.all ? "--all and domain names exclude each other"
                     : "no domain given (name domains or use --all)");
    return VDP_EXIT_USAGE;
  }
  job.names = o.all ? NULL : (const char *const *) argv + first;
  job.dry_run = o.dry_run;
  job.state = o.state;
  job.progress = vdp_progress_start (g, o.dry_run ? "revert --dry-run" : "revert");
  results = vdp_for_each_host (g, revert_host, &job, job.progress);
  vdp_progress_free (job.progress);
  return vdp_report_results (g, o.dry_run ? "revert --dry-run" : "revert", results);
}

const struct vdp_command vdp_cmd_revert = {
  .name = "revert",
  .summary = "restore what the last apply changed",
  .run = run,
};
