/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "virt-dataplane check": audits domains (files or libvirt hosts) against a profile. */
#include <config.h>

#include <stdio.h>

#include "backend-conf.h"
#include "backend.h"
#include "commands.h"
#include "fleet.h"
#include "hints.h"
#include "inputs.h"
#include "lint-backend.h"
#include "lint.h"
#include "planner.h"
#include "policy.h"
#include "topology.h"
#include "util/error.h"
#include "util/json.h"

enum {
  OPT_ALL = VDP_OPT_COMMAND_BASE,
  OPT_FILE,
  OPT_PROFILE,
  OPT_TARGET,
  OPT_DEVICE,
  OPT_LIST_RULES,
  OPT_ISOLATED,
  OPT_FORCE,
};

static const struct option options[] = {
  VDP_GLOBAL_LONGOPTS,
  { "all", no_argument, NULL, OPT_ALL },
  { "file", required_argument, NULL, OPT_FILE },
  { "profile", required_argument, NULL, OPT_PROFILE },
  { "target", required_argument, NULL, OPT_TARGET },
  { "device", required_argument, NULL, OPT_DEVICE },
  { "list-rules", no_argument, NULL, OPT_LIST_RULES },
  { "isolated", required_argument, NULL, OPT_ISOLATED },
  { "force", no_argument, NULL, OPT_FORCE },
  { NULL, 0, NULL, 0 },
};

struct check_opts {
  gboolean all, list_rules, force;
  const char *profile, *target, *isolated;
  GPtrArray *files;
  GArray *devices;
};

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           " %s check [options] <domain>...|--all|--file <domain.xml>...\n"
           "\n"
           "Audit domains against a tuning profile, and running guests against their\n"
           "definitions.  Domains are named by name, ID or UUID.\n"
           "\n"
           "Options:\n"
           " -c, --connect <uri>          a host (repeatable; default: libvirt's default)\n"
           " --hosts <file>               hosts, one per line: URI [topology=FILE]\n"
           "                              [device=PATH=DEVNAME]...\n"
           " --all                        every persistent domain of each host\n"
           " --state running|shutoff      only the domains in that state (implies --all)\n"
           " --file <domain.xml>          audit domain XML files instead (repeatable)\n"
           " --profile <name|file>        the profile to audit against (default: each\n"
           "                              tuned domain's own, balanced for the others)\n"
           " --target libvirt=X.Y,qemu=A.B|newest  the stack (default: the host's;\n"
           "                              files: this machine's libvirt and QEMU when\n"
           "                              installed, else the newest, as for plan)\n"
           " --topology <file|synthetic>  the topology of every host (default: each\n"
           "                              host's own; files: this machine's)\n"
           " --force                      audit on a given topology that disagrees with\n"
           "                              the host\n"
           " --device <path>=<devname>    where disk sources live (repeatable)\n"
           " --isolated <cpuset>          the host's isolated PUs (default: the host's own)\n"
           " --list-rules                 print the rules and exit\n"
           " -j, --jobs <n>               hosts at once\n"
           " --timeout <seconds>          give up on a host that does not answer\n"
           " --json                       one JSON object per finding, one per line\n"
           " -q, --quiet                  no warnings, no summary unless something failed\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
           "Exit status: 0 clean (info findings only), 1 findings, 2 an input, host or\n"
           "domain failed, 64 usage error, 130 interrupted.\n"
           "For more details see virt-dataplane(1).\n", PACKAGE_NAME);
}

static gboolean
handle (int opt, const char *arg, void *data, GError **error)
{
  struct check_opts *o = data;

  switch (opt) {
  case OPT_ALL: o->all = TRUE; return TRUE;
  case OPT_FILE: g_ptr_array_add (o->files, (gpointer) arg); return TRUE;
  case OPT_PROFILE: o->profile = arg; return TRUE;
  case OPT_TARGET: o->target = arg; return TRUE;
  case OPT_LIST_RULES: o->list_rules = TRUE; return TRUE;
  case OPT_ISOLATED: o->isolated = arg; return TRUE;
  case OPT_FORCE: o->force = TRUE; return TRUE;
  case OPT_DEVICE:
    return vdp_device_hints_add (o->devices, arg, error);
  default:
    g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "unhandled option");
    return FALSE;
  }
}

/* Audits domain XML files, planned together as the domains of one host. */
static gboolean
check_files (GPtrArray *files, const struct vdp_topology *topo, const struct vdp_caps *caps,
             GArray *devices, const struct vdp_apply_opts *ao, GPtrArray *findings, GError **error)
{
  unsigned n = files->len;
  g_autofree struct vdp_domain_file *docs = g_new0 (struct vdp_domain_file, n);
  g_autofree struct vdp_plan_input *in = g_new0 (struct vdp_plan_input, n);
  g_autofree const struct vdp_domain_plan **dps = g_new0 (const struct vdp_domain_plan *, n);
  g_autofree char **bad = g_new0 (char *, n + 1);
  g_autofree struct vdp_lint_backend_input *bk = g_new0 (struct vdp_lint_backend_input, n);
  g_autofree struct vdp_backend_selection **sel = g_new0 (struct vdp_backend_selection *, n);
  gboolean ok = vdp_domain_files_load (files, topo, devices, ao->warnings, docs, in, error)
                && vdp_domain_files_unique (docs, n, NULL, 0, error);

  if (ok) {
    g_autoptr (vdp_policy_cache) policies = vdp_policy_cache_new (ao->policy, ao->profile_given);
    g_autoptr (vdp_plan) plan = NULL;
    g_autofree char *runtime_dir = vdp_backend_conf_runtime_dir ();
    vdp_inputs_policies (policies, in, n, bad);
    for (unsigned i = 0; i < n; i++) {
      if (bad[i]) {
        g_ptr_array_add (ao->warnings, g_steal_pointer (&bad[i]));
        in[i].policy = ao->policy;
      }
      /* disks converted earlier are planned as apply plans them */
      sel[i] = vdp_backend_select (docs[i].dom, docs[i].doc, caps, in[i].policy->backend);
      in[i].backend = sel[i]->refused ? NULL : sel[i]->served;
      bk[i].dom = docs[i].dom;
      bk[i].doc = docs[i].doc;
    }
    plan = vdp_plan_compute (topo, ao->policy, caps, in, n, NULL);
    for (unsigned i = 0; plan && i < n; i++)
      dps[i] = &plan->domains[i];
    vdp_lint_host (topo, ao->policy, caps, in, n, dps, NULL, findings);
    vdp_lint_backends (bk, n, runtime_dir, -1, findings);
  }
  for (unsigned i = 0; i < n; i++)
    vdp_backend_selection_free (sel[i]);
  vdp_domain_files_clear (docs, n);
  return ok;
}

struct check_job {
  const char *const *names;
  const struct vdp_apply_opts *ao;
};

static void
check_host (const struct vdp_host_spec *host, void *data, struct vdp_sink *sink)
{
  struct check_job *job = data;
  vdp_fleet_check (host, job->names, job->ao, sink);
}

static int
run (struct vdp_globals *g, int argc, char **argv)
{
  struct check_opts o = { 0 };
  g_autoptr (GPtrArray) files = g_ptr_array_new ();
  g_autoptr (GArray) devices = vdp_device_hints_new ();
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_topology) topo = NULL;
  g_autoptr (vdp_policy) policy = NULL;
  g_autoptr (GPtrArray) findings = vdp_findings_new ();
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (vdp_report) report = NULL;
  struct vdp_apply_opts ao = { 0 };
  struct vdp_caps caps;
  int first, rc;

  o.files = files;
  o.devices = devices;
  rc = vdp_parse_options (g, "check", argc, argv, "", options, usage, handle, &o, &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  if (o.list_rules) {
    for (const struct vdp_lint_rule *r = vdp_lint_rules; r->id; r++)
      printf ("%s %-28s %-8s %s\n", r->id, r->name, vdp_severity_names[r->severity], r->summary);
    for (const struct vdp_lint_rule *r = vdp_lint_backend_rules; r->id; r++)
      printf ("%s %-28s %-8s %s\n", r->id, r->name, vdp_severity_names[r->severity], r->summary);
    return VDP_EXIT_OK;
  }
  o.all = o.all || g->state != VDP_STATE_ANY;
  for (int i = first; files->len && i < argc; i++)
    g_ptr_array_add (files, argv[i]);
  if (files->len ? (o.all || g->hosts->len) : (o.all == (first < argc))) {
    vdp_usage_error (g, "check", files->len ? "--file excludes --all, --state and -c"
                     : o.all ? "--all (or --state) and domain names exclude each other"
                     : "no domain given (name domains, use --all or --file)");
    return VDP_EXIT_USAGE;
  }
  if (files->len)
    rc = vdp_inputs_load (g, "check", o.target, o.profile, FALSE, o.isolated, devices, &caps,
                          &topo, &policy);
  else
    rc = vdp_inputs_load_hosts (g, "check", o.target, o.profile, FALSE, o.isolated, devices,
                                &ao.host, &policy);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  /* --force here only accepts a topology that disagrees with the host:
   * check changes nothing */
  ao.host.force = o.force;
  ao.policy = policy;
  ao.profile_given = o.profile != NULL;
  ao.state = g->state;
  ao.warnings = warnings;

  report = vdp_report_start (g, "check", TRUE);
  if (files->len) {
    struct vdp_sink *sink;
    if (!check_files (files, topo, &caps, devices, &ao, findings, &err)) {
      vdp_error_print (g->prog, err);
      return vdp_error_exit_status (err);
    }
    sink = vdp_report_sink (report, NULL);
    vdp_sink_warnings (sink, warnings);
    vdp_sink_findings (sink, findings);
    vdp_sink_done (sink);
  } else {
    struct check_job job = { o.all ? NULL : (const char *const *) argv + first, &ao };
    vdp_for_each_host (g, check_host, &job, report);
  }
  return vdp_report_finish (report);
}

const struct vdp_command vdp_cmd_check = {
  .name = "check",
  .summary = "audit domains against a profile (exit 1 with findings)",
  .run = run,
};
