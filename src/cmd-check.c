/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "virt-dataplane check": audits domains (files or libvirt hosts) against a profile. */
#include <config.h>

#include <stdio.h>

#include "commands.h"
#include "fleet.h"
#include "hints.h"
#include "inputs.h"
#include "lint.h"
#include "planner.h"
#include "policy.h"
#include "topology.h"
#include "util/error.h"
#include "util/json.h"

enum {
  OPT_ALL = VDP_OPT_COMMAND_BASE,
  OPT_STATE,
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
  { "state", required_argument, NULL, OPT_STATE },
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
  int state;
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
           "Audit domains against a tuning profile; exit 0 when clean, 1 with findings.\n"
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
           " --target libvirt=X.Y,qemu=A.B  the stack (files: default newest)\n"
           " --topology <file|synthetic>  the topology of every host (default: each\n"
           "                              host's own; files: this machine's)\n"
           " --force                      audit on a given topology that disagrees with\n"
           "                              the host\n"
           " --device <path>=<devname>    where disk sources live (repeatable)\n"
           " --isolated <cpuset>          the host's isolated PUs (default: the host's own)\n"
           " --list-rules                 print the rules and exit\n"
           " --json                       a JSON array of findings\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
           "For more details see virt-dataplane(1).\n", PACKAGE_NAME);
}

static gboolean
handle (int opt, const char *arg, void *data, GError **error)
{
  struct check_opts *o = data;

  switch (opt) {
  case OPT_ALL: o->all = TRUE; return TRUE;
  case OPT_STATE:
    o->all = TRUE;
    return vdp_state_parse (arg, &o->state, error);
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
  gboolean ok = vdp_domain_files_load (files, topo, devices, ao->warnings, docs, in, error);

  if (ok) {
    g_autoptr (vdp_policy_cache) policies = vdp_policy_cache_new (ao->policy, ao->profile_given);
    g_autoptr (vdp_plan) plan = NULL;
    vdp_inputs_policies (policies, in, n, bad);
    for (unsigned i = 0; i < n; i++)
      if (bad[i]) {
        g_ptr_array_add (ao->warnings, g_steal_pointer (&bad[i]));
        in[i].policy = ao->policy;
      }
    plan = vdp_plan_compute (topo, ao->policy, caps, in, n, NULL);
    for (unsigned i = 0; plan && i < n; i++)
      dps[i] = &plan->domains[i];
    vdp_lint_host (topo, ao->policy, caps, in, n, dps, NULL, findings);
  }
  vdp_domain_files_clear (docs, n);
  return ok;
}

static char *
format_findings (const struct vdp_globals *g, GPtrArray *findings)
{
  GString *out = g_string_new (NULL);

  if (g->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autoptr (JsonNode) root = NULL;
    g_autofree char *text = NULL;
    json_builder_begin_array (b);
    for (guint i = 0; i < findings->len; i++) {
      const struct vdp_finding *f = findings->pdata[i];
      json_builder_begin_object (b);
      vdp_json_add_string (b, "domain", f->domain);
      vdp_json_add_string (b, "id", f->id);
      vdp_json_add_string (b, "rule", f->rule);
      vdp_json_add_string (b, "severity", vdp_severity_names[f->severity]);
      vdp_json_add_string (b, "subject", f->subject);
      vdp_json_add_string (b, "message", f->message);
      vdp_json_add_string (b, "fix", f->hint);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    root = json_builder_get_root (b);
    text = vdp_json_to_string (root, TRUE);
    g_string_append (out, text);
    return g_string_free (out, FALSE);
  }
  for (guint i = 0; i < findings->len; i++) {
    const struct vdp_finding *f = findings->pdata[i];
    g_string_append_printf (out, "%s: %s %s %s: %s (fix: %s)\n", f->domain,
                            vdp_severity_names[f->severity], f->id, f->subject, f->message,
                            f->hint);
  }
  return g_string_free (out, FALSE);
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
  g_autoptr (GPtrArray) results = vdp_results_new ();
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *text = NULL;
  struct vdp_apply_opts ao = { 0 };
  struct vdp_caps caps;
  unsigned counted = 0;
  int first, rc;

  o.files = files;
  o.devices = devices;
  rc = vdp_parse_options (g, "check", argc, argv, "", options, usage, handle, &o, &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  if (o.list_rules) {
    for (const struct vdp_lint_rule *r = vdp_lint_rules; r->id; r++)
      printf ("%s %-28s %-8s %s\n", r->id, r->name, vdp_severity_names[r->severity], r->summary);
    return VDP_EXIT_OK;
  }
  for (int i = first; files->len && i < argc; i++)
    g_ptr_array_add (files, argv[i]);
  if (files->len ? (o.all || g->hosts->len) : (o.all == (first < argc))) {
    vdp_usage_error (g, "check", files->len ? "--file excludes --all and -c"
                     : o.all ? "--all and domain names exclude each other"
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
  ao.state = o.state;
  ao.warnings = warnings;

  if (files->len) {
    if (!check_files (files, topo, &caps, devices, &ao, findings, &err)) {
      vdp_error_print (g->prog, err);
      return vdp_error_exit_status (err);
    }
  } else {
    GPtrArray *hosts = vdp_globals_hosts (g);
    ao.progress = vdp_progress_start (g, "check");
    for (guint h = 0; h < hosts->len; h++) {
      vdp_fleet_check (hosts->pdata[h], o.all ? NULL : (const char *const *) argv + first, &ao,
                       findings, results);
      vdp_progress_host_done (ao.progress);
    }
    vdp_progress_free (ao.progress);
  }
  for (guint i = 0; i < results->len; i++) {
    const struct vdp_result *r = results->pdata[i];
    fprintf (stderr, "%s: %s %s: %s\n", g->prog, r->uri, r->domain ? r->domain : "(host)",
             r->message);
  }
  text = format_findings (g, findings);
  rc = vdp_print_output (g, text);
  for (guint i = 0; i < findings->len; i++)
    counted += ((struct vdp_finding *) findings->pdata[i])->severity != VDP_SEVERITY_INFO;
  if (results->len)
    return VDP_EXIT_ERROR;
  if (rc != VDP_EXIT_OK)
    return rc;
  return counted ? VDP_EXIT_FINDINGS : VDP_EXIT_OK;
}

const struct vdp_command vdp_cmd_check = {
  .name = "check",
  .summary = "audit domains against a profile (exit 1 with findings)",
  .run = run,
};
