/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "virt-dataplane plan": computes, explains and shows the plan; changes nothing but --output-dir. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "backend-conf.h"
#include "backend.h"
#include "caps.h"
#include "commands.h"
#include "domain.h"
#include "explain.h"
#include "fleet.h"
#include "hints.h"
#include "inputs.h"
#include "planner.h"
#include "policy.h"
#include "topology.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"
#include "util/diff.h"
#include "util/color.h"
#include "util/json.h"
#include "xmlpatch.h"

enum {
  OPT_ALL = VDP_OPT_COMMAND_BASE,
  OPT_FILE,
  OPT_PROFILE,
  OPT_TARGET,
  OPT_XML,
  OPT_DIFF,
  OPT_OUTPUT_DIR,
  OPT_DEVICE,
  OPT_FORCE,
  OPT_BACKEND,
  OPT_CONTEXT,
  OPT_ISOLATED,
};

static const struct option options[] = {
  VDP_GLOBAL_LONGOPTS,
  { "all", no_argument, NULL, OPT_ALL },
  { "file", required_argument, NULL, OPT_FILE },
  { "profile", required_argument, NULL, OPT_PROFILE },
  { "target", required_argument, NULL, OPT_TARGET },
  { "xml", no_argument, NULL, OPT_XML },
  { "diff", no_argument, NULL, OPT_DIFF },
  { "output-dir", required_argument, NULL, OPT_OUTPUT_DIR },
  { "device", required_argument, NULL, OPT_DEVICE },
  { "force", no_argument, NULL, OPT_FORCE },
  { "backend", required_argument, NULL, OPT_BACKEND },
  { "context", required_argument, NULL, OPT_CONTEXT },
  { "isolated", required_argument, NULL, OPT_ISOLATED },
  { NULL, 0, NULL, 0 },
};

struct plan_opts {
  GPtrArray *files;
  GPtrArray *context;
  const char *isolated;
  const char *profile;
  const char *target;
  gboolean all, xml, diff, force;
  const char *output_dir;
  GArray *devices;          /* struct vdp_device_hint */
  gboolean have_backend;
  VdpBackend backend;
};

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           " %s plan [options] --file <domain.xml>...\n"
           " %s -c <uri> plan [options] <domain>...|--all\n"
           "\n"
           "Compute and explain the tuning of domains for a host; change nothing.\n"
           "\n"
           "Options:\n"
           " --file <domain.xml>          a domain XML file (repeatable; more files may\n"
           "                              follow as arguments); planned together\n"
           " -c, --connect <uri>          plan for this host: its topology, its stack, and\n"
           "                              with domains (names, IDs, UUIDs) or --all, its\n"
           "                              domains, planned host-wide\n"
           " --all                        with -c: every persistent domain of the host\n"
           " --state running|shutoff      with -c: the domains in that state\n"
           " --topology <file|synthetic>  plan for this host topology instead of this host\n"
           " --profile <name|file>        balanced (default), latency, throughput, density,\n"
           "                              or a profile file (see virt-dataplane.conf(5))\n"
           " --target libvirt=X.Y,qemu=A.B|newest  the stack the XML is for (default:\n"
           "                              the host's; without -c, this machine's libvirt\n"
           "                              and QEMU when installed, else the newest)\n"
           " --device <path>=<devname>    sources at or under <path> live on block\n"
           "                              device <devname> of the topology (repeatable)\n"
           " --force                      replace pins virt-dataplane did not write\n"
           " --context <domain.xml>       another domain of the host: planned around, not\n"
           "                              changed (repeatable)\n"
           " --isolated <cpuset>          the host's isolated PUs (default: the host's own;\n"
           "                              none for a saved topology)\n"
           " --backend qemu|vhost-user    who serves eligible disks: QEMU's IOThreads, or\n"
           "                              virt-dataplane-blk (default: each domain's profile's)\n"
           " --xml                        print the tuned XML (several files: --output-dir)\n"
           " --diff                       print a unified diff of the XML\n"
           " --color auto|always|never    colour the diff (auto: on a terminal)\n"
           " --json                       print the plan as JSON\n"
           " --output-dir <dir>           with --xml: write one tuned file per input\n"
           "                              (never over an input)\n"
           " -q, --quiet                  no warnings\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
           "Exit status: 0 planned, 2 an input, the host or a domain (that does not fit)\n"
           "failed, 64 usage error.\n"
           "For more details see virt-dataplane(1).\n", PACKAGE_NAME, PACKAGE_NAME);
}

static gboolean
handle (int opt, const char *arg, void *data, GError **error)
{
  struct plan_opts *o = data;

  switch (opt) {
  case OPT_ALL: o->all = TRUE; return TRUE;
  case OPT_FILE: g_ptr_array_add (o->files, (gpointer) arg); return TRUE;
  case OPT_PROFILE: o->profile = arg; return TRUE;
  case OPT_TARGET: o->target = arg; return TRUE;
  case OPT_XML: o->xml = TRUE; return TRUE;
  case OPT_DIFF: o->diff = TRUE; return TRUE;
  case OPT_OUTPUT_DIR: o->output_dir = arg; return TRUE;
  case OPT_FORCE: o->force = TRUE; return TRUE;
  case OPT_CONTEXT: g_ptr_array_add (o->context, (gpointer) arg); return TRUE;
  case OPT_ISOLATED: o->isolated = arg; return TRUE;
  case OPT_DEVICE:
    return vdp_device_hints_add (o->devices, arg, error);
  case OPT_BACKEND:
    o->have_backend = TRUE;
    return vdp_backend_parse (arg, &o->backend, error);
  default:
    g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "unhandled option");
    return FALSE;
  }
}

/* What virt-dataplane-blk does for one domain. */
struct backend_part {
  const struct vdp_domain *dom;
  struct vdp_backend_selection *sel;
  GPtrArray *disks;         /* struct vdp_backend_disk; NULL until planned */
  VdpBackendMemory memory;
};

static void
json_backend (JsonBuilder *b, gpointer data)
{
  const struct backend_part *bk = data;

  if (bk->sel)
    vdp_backend_json (b, bk->dom, bk->sel, bk->disks);
}

/* ---- run --------------------------------------------------------------- */

static int
fail (const struct vdp_globals *g, GError *err)
{
  vdp_error_print (g->prog, err);
  return vdp_error_exit_status (err);
}

/* The name of the tuned copy of input @i in --output-dir. */
static char *
output_name (const struct vdp_domain_file *f, gboolean from_host)
{
  return from_host ? g_strdup_printf ("%s.xml", f->file) : g_path_get_basename (f->file);
}

/* Whether @a and @b are the same file: the same path once canonical, or
 * the same inode when both exist. */
static gboolean
same_file (const char *a, const char *b)
{
  g_autofree char *ca = g_canonicalize_filename (a, NULL);
  g_autofree char *cb = g_canonicalize_filename (b, NULL);
  GStatBuf sa, sb;

  if (strcmp (ca, cb) == 0)
    return TRUE;
  return g_stat (a, &sa) == 0 && g_stat (b, &sb) == 0 && sa.st_dev == sb.st_dev
         && sa.st_ino == sb.st_ino;
}

/* --output-dir never writes over an input, nor two outputs to one file. */
static gboolean
check_output_dir (const struct vdp_globals *g, const char *dir, const struct vdp_domain_file *docs,
                  unsigned n, gboolean from_host)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (unsigned i = 0; i < n; i++) {
    g_autofree char *base = output_name (&docs[i], from_host);
    g_autofree char *path = g_build_filename (dir, base, NULL);
    gpointer prev = g_hash_table_lookup (seen, base);

    if (prev) {
      vdp_usage_error (g, "plan", "--output-dir: '%s' and '%s' would both be written to '%s'",
                       docs[GPOINTER_TO_UINT (prev) - 1].file, docs[i].file, path);
      return FALSE;
    }
    g_hash_table_insert (seen, g_strdup (base), GUINT_TO_POINTER (i + 1));
    for (unsigned k = 0; !from_host && k < n; k++)
      if (same_file (path, docs[k].file)) {
        vdp_usage_error (g, "plan", "--output-dir '%s' would overwrite the input '%s'", dir,
                         docs[k].file);
        return FALSE;
      }
  }
  return TRUE;
}

static int
run (struct vdp_globals *g, int argc, char **argv)
{
  struct plan_opts o = { 0 };
  g_autoptr (GPtrArray) files = g_ptr_array_new ();
  g_autoptr (GPtrArray) context = g_ptr_array_new ();
  g_autoptr (GPtrArray) names = NULL, ctx_names = NULL;
  g_autoptr (GArray) devices = vdp_device_hints_new ();
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_topology) topo = NULL;
  g_autoptr (vdp_policy) policy = NULL;
  g_autoptr (vdp_policy_cache) policies = NULL;
  g_autoptr (vdp_plan) plan = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) out = g_string_new (NULL);
  g_autofree struct vdp_domain_file *docs = NULL, *ctx_docs = NULL;
  g_autofree struct vdp_plan_input *inputs = NULL, *ctx = NULL;
  g_autofree char **bad = NULL;
  g_autofree int *plan_of = NULL;
  g_autofree char *origin = NULL, *over = NULL;
  g_autofree struct backend_part *bk = NULL;
  g_autofree char *runtime_dir = vdp_backend_conf_runtime_dir ();
  g_auto (GStrv) before = NULL;
  g_autofree char **after = NULL;   /* holes where a domain is not planned */
  struct vdp_caps caps;
  const char *uri;
  gboolean from_host, color;
  int first, rc = VDP_EXIT_OK;
  unsigned n = 0, n_ctx = 0, n_plan = 0, failed = 0;

  o.files = files;
  o.context = context;
  o.devices = devices;
  rc = vdp_parse_options (g, "plan", argc, argv, "", options, usage, handle, &o, &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  rc = VDP_EXIT_OK;
  o.all = o.all || g->state != VDP_STATE_ANY;
  /* domains of a host (-c with names or --all), or files */
  from_host = files->len == 0 && (first < argc || o.all);
  if (from_host && g->hosts->len == 0) {
    vdp_usage_error (g, "plan", "%s%s%s needs a libvirt connection (-c URI); or give domain "
                     "XML files with --file", first < argc ? "domain '" : "--all",
                     first < argc ? argv[first] : "", first < argc ? "'" : "");
    return VDP_EXIT_USAGE;
  }
  if (from_host && o.all && first < argc) {
    vdp_usage_error (g, "plan", "--all (or --state) and domain names exclude each other");
    return VDP_EXIT_USAGE;
  }
  if (from_host && context->len) {
    vdp_usage_error (g, "plan", "--context goes with --file: a host's other domains are its "
                     "context already");
    return VDP_EXIT_USAGE;
  }
  if (!from_host && o.all) {
    vdp_usage_error (g, "plan", "--all and --state pick a host's domains: they exclude --file");
    return VDP_EXIT_USAGE;
  }
  for (int i = first; !from_host && i < argc; i++)
    g_ptr_array_add (files, argv[i]);
  if (!from_host && files->len == 0) {
    vdp_usage_error (g, "plan", "no domain given (use --file DOMAIN.xml, or -c URI with domain "
                     "names or --all)");
    return VDP_EXIT_USAGE;
  }
  if ((o.xml + o.diff + g->json) > 1) {
    vdp_usage_error (g, "plan", "--xml, --diff and --json exclude each other");
    return VDP_EXIT_USAGE;
  }
  if (o.output_dir && !o.xml) {
    vdp_usage_error (g, "plan", "--output-dir goes with --xml");
    return VDP_EXIT_USAGE;
  }
  if (o.xml && files->len > 1 && !o.output_dir) {
    vdp_usage_error (g, "plan", "--xml with several files needs --output-dir");
    return VDP_EXIT_USAGE;
  }
  rc = vdp_inputs_load (g, "plan", o.target, o.profile, o.force, o.isolated, devices, &caps,
                        &topo, &policy);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  rc = VDP_EXIT_OK;
  origin = vdp_inputs_target_origin (g, o.target, &caps);
  uri = g->hosts->len ? ((struct vdp_host_spec *) g->hosts->pdata[0])->uri : NULL;
  if (o.have_backend)
    policy->backend = o.backend;

  if (from_host) {
    /* the domains asked for, planned around the host's others */
    if (!vdp_domain_host_load (first < argc ? (const char *const *) argv + first : NULL,
                               g->state, warnings, &names, &docs, &inputs, &ctx_names,
                               &ctx_docs, &ctx, &err))
      rc = fail (g, err);
    n = names ? names->len : 0;
    n_ctx = ctx_names ? ctx_names->len : 0;
    if (rc == VDP_EXIT_OK && o.xml && n > 1 && !o.output_dir) {
      vdp_usage_error (g, "plan", "--xml with several domains needs --output-dir");
      rc = VDP_EXIT_USAGE;
    }
    if (rc == VDP_EXIT_OK && n == 0) {
      /* a host without domains (of that state): nothing to plan */
      if (!g->quiet)
        fprintf (stderr, "%s: plan: no domain to plan on '%s'\n", g->prog, uri ? uri : "");
      vdp_domain_files_clear (docs, n);
      vdp_domain_files_clear (ctx_docs, n_ctx);
      return g->json ? vdp_print_output (g, "{\"domains\":[],\"errors\":[]}\n") : VDP_EXIT_OK;
    }
  } else {
    n = files->len;
    n_ctx = context->len;
    docs = g_new0 (struct vdp_domain_file, n);
    inputs = g_new0 (struct vdp_plan_input, n);
    ctx_docs = g_new0 (struct vdp_domain_file, n_ctx + 1);
    ctx = g_new0 (struct vdp_plan_input, n_ctx + 1);
    if (!vdp_domain_files_load (files, topo, devices, warnings, docs, inputs, &err)
        || !vdp_domain_files_load (context, topo, devices, warnings, ctx_docs, ctx, &err))
      rc = fail (g, err);
    else if (!vdp_domain_files_unique (docs, n, ctx_docs, n_ctx, &err)) {
      vdp_usage_error (g, "plan", "%s", err->message);
      rc = VDP_EXIT_USAGE;
    }
  }
  bad = g_new0 (char *, n + n_ctx + 1);
  plan_of = g_new0 (int, n + 1);
  bk = g_new0 (struct backend_part, n + 1);
  before = g_new0 (char *, n + 1);
  after = g_new0 (char *, n + 1);
  if (rc == VDP_EXIT_OK) {
    struct vdp_plan_request req = { topo, policy, &caps, inputs, n, ctx, n_ctx };
    g_autofree struct vdp_plan_input *todo = g_new0 (struct vdp_plan_input, n);
    g_autofree struct vdp_plan_input *around = g_new0 (struct vdp_plan_input, n + n_ctx);

    /* each tuned domain keeps the profile it was tuned with, unless
     * --profile says otherwise; one whose profile is gone is not planned */
    policies = vdp_policy_cache_new (policy, o.profile != NULL);
    vdp_inputs_policies (policies, inputs, n, bad);
    /* the host's other domains keep their recorded profiles (--profile
     * is for the ones planned) */
    for (unsigned i = 0; i < n_ctx; i++)
      ctx[i].policy = vdp_policy_for_context (policies, ctx[i].dom);
    /* the disks virt-dataplane-blk serves: those converted earlier, and
     * with --backend=vhost-user (or the profile's backend) every eligible
     * one; a domain that cannot be converted is not planned */
    for (unsigned i = 0; i < n; i++) {
      if (bad[i])
        continue;
      bk[i].dom = docs[i].dom;
      bk[i].sel = vdp_backend_select (docs[i].dom, docs[i].doc, &caps,
                                      o.have_backend ? o.backend : inputs[i].policy->backend);
      bk[i].memory = vdp_backend_memory (docs[i].doc);
      if (bk[i].sel->refused)
        bad[i] = g_strdup_printf ("domain '%s': --backend=vhost-user: %s", docs[i].dom->name,
                                  bk[i].sel->refused);
      else
        inputs[i].backend = bk[i].sel->served;
    }
    memcpy (around, ctx, sizeof (*ctx) * n_ctx);
    for (unsigned i = 0; i < n; i++) {
      plan_of[i] = bad[i] ? -1 : (int) n_plan;
      if (bad[i])
        around[req.n_context++] = inputs[i];
      else
        todo[n_plan++] = inputs[i];
    }
    req.inputs = todo;
    req.n = n_plan;
    req.context = around;
    plan = vdp_plan_compute_host (&req, &err);
    if (plan == NULL)
      rc = fail (g, err);
  }
  for (unsigned i = 0; rc == VDP_EXIT_OK && i < n; i++) {
    g_autoptr (xmlDoc) copy = NULL;
    const struct vdp_domain_plan *dp;
    before[i] = vdp_xml_format (docs[i].doc);
    if (plan_of[i] < 0) {
      g_ptr_array_add (errors, g_steal_pointer (&bad[i]));
      failed++;
      continue;
    }
    dp = &plan->domains[plan_of[i]];
    if (dp->failed) {
      g_ptr_array_add (errors, vdp_misfit_format (dp));
      failed++;
      continue;
    }
    bk[i].disks = vdp_backend_settings (dp, bk[i].sel, dp->policy, runtime_dir, docs[i].doc,
                                        &err);
    if (bk[i].disks == NULL) {
      g_ptr_array_add (errors, g_strdup (err->message));
      g_clear_error (&err);
      failed++;
      continue;
    }
    copy = xmlCopyDoc (docs[i].doc, 1);
    if (vdp_xmlpatch_apply (copy, plan, dp, &err) < 0
        || vdp_xmlpatch_backend (copy, bk[i].disks, &err) < 0) {
      rc = fail (g, err);
      break;
    }
    after[i] = vdp_xml_format (copy);
  }
  if (rc == VDP_EXIT_OK && o.output_dir
      && !check_output_dir (g, o.output_dir, docs, n, from_host))
    rc = VDP_EXIT_USAGE;

  color = o.diff && vdp_color_enabled (g->color, STDOUT_FILENO);
  if (rc == VDP_EXIT_OK) {
    /* build all output first: nothing is printed or written on error */
    if (g->json) {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      g_autofree char *capsd = vdp_caps_describe (&caps);
      g_autofree char *text = NULL;
      json_builder_begin_object (b);
      vdp_json_add_string (b, "topology", topo->source);
      vdp_json_add_string (b, "profile", policy->name);
      vdp_json_add_string (b, "target", capsd);
      vdp_json_add_string (b, "target_origin", origin);
      vdp_json_add_cpuset (b, "io_pool", plan->io_pool);
      vdp_explain_json_host (b, plan);
      json_builder_set_member_name (b, "domains");
      json_builder_begin_array (b);
      for (unsigned i = 0; i < n; i++)
        if (plan_of[i] >= 0)
          vdp_explain_json_domain (b, plan, &plan->domains[plan_of[i]],
                                   from_host ? NULL : docs[i].file, json_backend, &bk[i]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "errors");
      json_builder_begin_array (b);
      for (guint i = 0; i < errors->len; i++)
        json_builder_add_string_value (b, errors->pdata[i]);
      json_builder_end_array (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      text = vdp_json_to_string (root, TRUE);
      g_string_append (out, text);
    } else if (o.diff) {
      for (unsigned i = 0; i < n && rc == VDP_EXIT_OK; i++) {
        g_autofree char *base = from_host ? g_strdup (docs[i].file)
                                          : g_path_get_basename (docs[i].file);
        g_autofree char *d = NULL, *colored = NULL;
        if (after[i] == NULL)
          continue;
        d = vdp_unified_diff (base, before[i], after[i], &err);
        if (d == NULL) {
          rc = fail (g, err);
          break;
        }
        colored = color ? vdp_color_diff (d) : NULL;
        g_string_append (out, colored ? colored : d);
      }
    } else if (o.xml && !o.output_dir) {
      if (after[0])
        g_string_append (out, after[0]);
    } else if (!o.xml) {
      g_string_append_printf (out, "Stack: %s\n\n", origin);
      for (unsigned i = 0; i < n; i++)
        if (plan_of[i] >= 0) {
          g_autofree char *extra = vdp_backend_explain (docs[i].dom, bk[i].sel, bk[i].disks,
                                                        bk[i].memory);
          vdp_explain_domain (out, plan, &plan->domains[plan_of[i]], extra);
        }
      vdp_explain_host (out, plan);
    }
  }
  if (rc == VDP_EXIT_OK && o.output_dir) {
    if (g_mkdir_with_parents (o.output_dir, 0755) < 0) {
      fprintf (stderr, "%s: cannot create output directory '%s': %s\n", g->prog, o.output_dir,
               g_strerror (errno));
      rc = VDP_EXIT_ERROR;
    }
    for (unsigned i = 0; rc == VDP_EXIT_OK && i < n; i++) {
      g_autofree char *base = output_name (&docs[i], from_host);
      g_autofree char *path = g_build_filename (o.output_dir, base, NULL);
      /* g_file_set_contents writes a temporary file and renames it */
      if (after[i] && !g_file_set_contents (path, after[i], -1, &err))
        rc = fail (g, err);
    }
  }
  if (rc == VDP_EXIT_OK) {
    if (!g->quiet) {
      if (o.diff || o.xml)
        fprintf (stderr, "%s: plan: for %s\n", g->prog, origin);
      for (guint i = 0; i < warnings->len; i++)
        vdp_warning_print (g->prog, uri, warnings->pdata[i]);
      for (unsigned i = 0; i < plan->n_domains; i++)
        for (guint k = 0; k < plan->domains[i].warnings->len; k++)
          vdp_warning_print (g->prog, uri, plan->domains[i].warnings->pdata[k]);
      for (guint i = 0; i < plan->warnings->len; i++)
        vdp_warning_print (g->prog, uri, plan->warnings->pdata[i]);
      /* the same host-wide warning as apply's */
      over = vdp_overcommit_warning (plan);
      if (over)
        vdp_warning_print (g->prog, uri, over);
    }
    /* what does not fit is an error, even with -q: the others are planned */
    for (guint i = 0; i < errors->len; i++)
      fprintf (stderr, "%s: %s%s%s\n", g->prog, uri ? uri : "", uri ? ": " : "",
               (char *) errors->pdata[i]);
    rc = vdp_print_output (g, out->str);
    if (rc == VDP_EXIT_OK && failed)
      rc = VDP_EXIT_ERROR;
  }

  for (unsigned i = 0; bad && i < n + n_ctx; i++)
    g_free (bad[i]);
  for (unsigned i = 0; after && i < n; i++)
    g_free (after[i]);
  for (unsigned i = 0; bk && i < n; i++) {
    vdp_backend_selection_free (bk[i].sel);
    if (bk[i].disks)
      g_ptr_array_unref (bk[i].disks);
  }
  vdp_domain_files_clear (docs, n);
  vdp_domain_files_clear (ctx_docs, n_ctx);
  return rc;
}

const struct vdp_command vdp_cmd_plan = {
  .name = "plan",
  .summary = "compute and explain the tuning of domains; change nothing",
  .run = run,
};
