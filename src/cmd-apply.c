/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "virt-dataplane apply": plans the domains of each host together and defines them, one transaction each. */
#include <config.h>

#include <stdio.h>

#include "backend.h"
#include "commands.h"
#include "fleet.h"
#include "hints.h"
#include "inputs.h"
#include "policy.h"
#include "topology.h"
#include "util/error.h"

enum {
  OPT_ALL = VDP_OPT_COMMAND_BASE,
  OPT_PROFILE,
  OPT_TARGET,
  OPT_DEVICE,
  OPT_FORCE,
  OPT_DRY_RUN,
  OPT_CONFIG,
  OPT_LIVE,
  OPT_BACKEND,
  OPT_ISOLATED,
};

static const struct option options[] = {
  VDP_GLOBAL_LONGOPTS,
  { "all", no_argument, NULL, OPT_ALL },
  { "profile", required_argument, NULL, OPT_PROFILE },
  { "target", required_argument, NULL, OPT_TARGET },
  { "device", required_argument, NULL, OPT_DEVICE },
  { "force", no_argument, NULL, OPT_FORCE },
  { "dry-run", no_argument, NULL, OPT_DRY_RUN },
  { "config", no_argument, NULL, OPT_CONFIG },
  { "live", no_argument, NULL, OPT_LIVE },
  { "backend", required_argument, NULL, OPT_BACKEND },
  { "isolated", required_argument, NULL, OPT_ISOLATED },
  { NULL, 0, NULL, 0 },
};

struct apply_opts {
  gboolean all, force, dry_run, config, live, have_backend;
  const char *profile, *target, *isolated;
  GArray *devices;
  VdpBackend backend;
};

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           " %s apply [options] <domain>...|--all\n"
           "\n"
           "Tune domains of libvirt hosts persistently: plan the named domains of each host\n"
           "around all its others, define each tuned domain, read it back and verify it,\n"
           "and restore the original when anything is missing.  Domains are named by name,\n"
           "ID or UUID.  Each domain's line is printed as soon as it is done.\n"
           "\n"
           "Options:\n"
           " -c, --connect <uri>          a host (repeatable; default: libvirt's default)\n"
           " --hosts <file>               hosts, one per line: URI [topology=FILE]\n"
           "                              [device=PATH=DEVNAME]...\n"
           " --all                        every persistent domain of each host\n"
           " --state running|shutoff      only the domains in that state (implies --all)\n"
           " --config                     change the persistent definition (the default)\n"
           " --live                       pin running guests now (with --config: both);\n"
           "                              a named domain that is not running is an error;\n"
           "                              --all --live alone picks the running domains\n"
           " --dry-run                    show what would change; change nothing\n"
           " --profile <name|file>        tuning profile (see virt-dataplane.conf(5)); without\n"
           "                              it each tuned domain keeps the one it was tuned with\n"
           " --target libvirt=X.Y,qemu=A.B  plan for this stack instead of the host's\n"
           " --topology <file|synthetic>  every host's topology (default: each host's own,\n"
           "                              from hwloc here, else from libvirt)\n"
           " --device <path>=<devname>    where disk sources live (repeatable)\n"
           " --isolated <cpuset>          the host's isolated PUs (default: the host's own)\n"
           " --force                      replace pins virt-dataplane did not write,\n"
           "                              overwrite what was changed by hand since the\n"
           "                              last apply, and plan on a given topology that\n"
           "                              disagrees with the host\n"
           " -j, --jobs <n>               hosts (one host: its domains) at once\n"
           " --timeout <seconds>          give up on a host that does not answer\n"
           " --backend qemu|vhost-user    who serves eligible disks: QEMU's IOThreads, or\n"
           "                              virt-dataplane-blk, started by the qemu hook\n"
           "                              (default: each domain's profile's)\n"
           " --json                       one JSON object per domain, one per line\n"
           " --color auto|always|never    colour the dry run's diffs\n"
           " -q, --quiet                  no warnings, no summary unless something failed\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
           "Exit status: 0 applied or nothing to change, 2 a host or domain failed or was\n"
           "refused, 3 --dry-run with changes pending, 64 usage error, 130 interrupted.\n"
           "For more details see virt-dataplane(1).\n", PACKAGE_NAME);
}

static gboolean
handle (int opt, const char *arg, void *data, GError **error)
{
  struct apply_opts *o = data;

  switch (opt) {
  case OPT_ALL: o->all = TRUE; return TRUE;
  case OPT_PROFILE: o->profile = arg; return TRUE;
  case OPT_TARGET: o->target = arg; return TRUE;
  case OPT_FORCE: o->force = TRUE; return TRUE;
  case OPT_DRY_RUN: o->dry_run = TRUE; return TRUE;
  case OPT_CONFIG: o->config = TRUE; return TRUE;
  case OPT_LIVE: o->live = TRUE; return TRUE;
  case OPT_BACKEND:
    o->have_backend = TRUE;
    return vdp_backend_parse (arg, &o->backend, error);
  case OPT_ISOLATED: o->isolated = arg; return TRUE;
  case OPT_DEVICE:
    return vdp_device_hints_add (o->devices, arg, error);
  default:
    g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "unhandled option");
    return FALSE;
  }
}

struct apply_job {
  const struct vdp_apply_opts *ao;
  const char *const *names;
};

static void
apply_host (const struct vdp_host_spec *host, void *data, struct vdp_sink *sink)
{
  struct apply_job *job = data;
  vdp_fleet_apply (host, job->names, job->ao, sink);
}

static int
run (struct vdp_globals *g, int argc, char **argv)
{
  struct apply_opts o = { 0 };
  g_autoptr (GArray) devices = vdp_device_hints_new ();
  g_autoptr (vdp_policy) policy = NULL;
  g_autoptr (vdp_report) report = NULL;
  struct vdp_apply_opts ao = { 0 };
  const char *verb;
  int first, rc;

  o.devices = devices;
  rc = vdp_parse_options (g, "apply", argc, argv, "", options, usage, handle, &o, &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  rc = vdp_select_domains (g, "apply", o.all, first < argc, o.config, o.live, &ao);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  rc = vdp_inputs_load_hosts (g, "apply", o.target, o.profile, o.force, o.isolated, devices,
                              &ao.host, &policy);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  if (o.have_backend)
    policy->backend = o.backend;
  ao.backend_given = o.have_backend;

  ao.policy = policy;
  ao.profile_given = o.profile != NULL;
  ao.dry_run = o.dry_run;
  ao.overwrite = o.force;
  verb = o.dry_run ? "apply --dry-run" : "apply";
  report = vdp_report_start (g, verb, TRUE);
  {
    struct apply_job job = { &ao, first < argc ? (const char *const *) argv + first : NULL };
    vdp_for_each_host (g, apply_host, &job, report);
  }
  return vdp_report_finish (report);
}

const struct vdp_command vdp_cmd_apply = {
  .name = "apply",
  .summary = "tune domains of libvirt hosts (persistent definition)",
  .run = run,
};
