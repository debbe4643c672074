/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "virt-dataplane plan": computes, explains and shows the plan; changes nothing but --output-dir. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "caps.h"
#include "commands.h"
#include "domain.h"
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
  { NULL, 0, NULL, 0 },
};

struct plan_opts {
  GPtrArray *files;
  const char *profile;
  const char *target;
  gboolean all, xml, diff, force;
  const char *output_dir;
  GArray *devices;          /* struct vdp_device_hint */
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
           "Exit status: 0 planned, 2 an input or the host failed, 64 usage error.\n"
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
  case OPT_DEVICE:
    return vdp_device_hints_add (o->devices, arg, error);
  default:
    g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "unhandled option");
    return FALSE;
  }
}

/* ---- explanation ------------------------------------------------------- */

static char *
describe_set (const struct vdp_topology *t, hwloc_const_bitmap_t set)
{
  g_auto (VdpBitmap) nodes = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) groups = hwloc_bitmap_alloc ();
  g_autofree char *cpus = vdp_cpuset_format (set);
  g_autofree char *n = NULL, *g = NULL;
  int pu;

  hwloc_bitmap_foreach_begin (pu, set)
    const struct vdp_pu *p = vdp_topology_find_pu (t, (unsigned) pu);
    if (p) {
      hwloc_bitmap_set (nodes, (unsigned) p->node);
      hwloc_bitmap_set (groups, (unsigned) p->l3);
    }
  hwloc_bitmap_foreach_end ();
  n = vdp_cpuset_format (nodes);
  g = vdp_cpuset_format (groups);
  return g_strdup_printf ("%-20s %-6s %s", cpus, n, g);
}

static void
explain_map (GString *out, const char *what, const struct vdp_map *m)
{
  g_string_append_printf (out, "  %-16s", what);
  switch (m->kind) {
  case VDP_MAP_SINGLE:
    g_string_append_printf (out, "iothread %u\n", m->threads[0]);
    break;
  case VDP_MAP_ROUNDROBIN:
    g_string_append_printf (out, "%u queues round-robin over iothreads", m->queues);
    for (unsigned k = 0; k < m->n_threads; k++)
      g_string_append_printf (out, "%s%u", k ? "," : " ", m->threads[k]);
    g_string_append_c (out, '\n');
    break;
  case VDP_MAP_EXPLICIT:
    g_string_append_printf (out, "%u queues:", m->queues);
    for (unsigned k = 0; k < m->n_threads; k++) {
      GArray *qs = m->queue_lists->pdata[k];
      g_string_append_printf (out, " iothread %u <- q", m->threads[k]);
      for (guint q = 0; q < qs->len; q++)
        g_string_append_printf (out, "%s%u", q ? "," : "", g_array_index (qs, guint, q));
      g_string_append_c (out, ';');
    }
    g_string_append_c (out, '\n');
    break;
  default:
    g_string_append (out, "unchanged\n");
  }
}

static void
explain_domain (GString *out, const struct vdp_plan *plan, const struct vdp_domain_plan *dp)
{
  const struct vdp_topology *t = plan->topo;
  const struct vdp_domain *d = dp->dom;
  g_autofree char *caps = vdp_caps_describe (&plan->caps);

  g_string_append_printf (out, "Domain %s: %u vCPU%s, %" G_GUINT64_FORMAT " MiB (profile %s; "
                          "target %s; plan %s)\n", d->name, d->vcpus, d->vcpus == 1 ? "" : "s",
                          d->memory_kib / 1024, plan->policy->name, caps, dp->hash);
  if (dp->skipped) {
    g_string_append_printf (out, "  left alone: %s\n\n", dp->skip_reason);
    return;
  }
  if (dp->place) {
    g_autofree char *nodes = vdp_cpuset_format (dp->nodes);
    g_string_append_printf (out, "  home node %d, nodes %s, %s placement\n", dp->home_node, nodes,
                            dp->placement == VDP_PLACEMENT_DEDICATED ? "dedicated" : "shared");
    g_string_append_printf (out, "  %-16s%-20s %-6s %s\n", "thread", "host CPUs", "node", "LLC");
    for (unsigned v = 0; v < d->vcpus; v++) {
      g_autofree char *what = g_strdup_printf ("vcpu %u", v);
      g_autofree char *s = describe_set (t, dp->vcpu_pins[v]);
      g_string_append_printf (out, "  %-16s%s\n", what, s);
    }
    {
      g_autofree char *s = describe_set (t, dp->emulator_pin);
      g_string_append_printf (out, "  %-16s%s\n", "emulator", s);
    }
    for (unsigned k = 0; dp->set_iothreads && k < dp->n_iothreads; k++) {
      g_autofree char *what = g_strdup_printf ("iothread %u", k + 1);
      g_autofree char *s = describe_set (t, dp->iothread_pins[k]);
      g_string_append_printf (out, "  %-16s%s\n", what, s);
    }
    if (dp->memory != VDP_MEMORY_NONE) {
      g_autofree char *s = vdp_cpuset_format (dp->mem_nodes);
      g_string_append_printf (out, "  %-16s%s nodes %s\n", "memory",
                              dp->memory == VDP_MEMORY_STRICT ? "strict" : "preferred", s);
    }
  } else {
    g_string_append (out, "  placement: existing pins kept\n");
    if (dp->set_iothreads)
      g_string_append_printf (out, "  %u IOThreads (unpinned)\n", dp->n_iothreads);
  }
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk_plan *pl = &dp->disks[i];
    g_autofree char *what = g_strdup_printf ("disk %s", d->disks[i].target);
    if (pl->set_driver)
      g_string_append_printf (out, "  %-16scache='%s' io='%s'\n", what,
                              pl->cache ? pl->cache : "default", pl->io ? pl->io : "default");
    if (pl->map.kind != VDP_MAP_NONE)
      explain_map (out, what, &pl->map);
  }
  for (unsigned i = 0; i < d->n_controllers; i++) {
    g_autofree char *what = g_strdup_printf ("scsi %u", d->controllers[i].index);
    if (dp->controllers[i].kind != VDP_MAP_NONE)
      explain_map (out, what, &dp->controllers[i]);
  }
  g_string_append (out, "  Reasons:\n");
  for (guint i = 0; i < dp->reasons->len; i++) {
    const struct vdp_reason *r = dp->reasons->pdata[i];
    g_string_append_printf (out, "    [rule %u] %s: %s\n", r->rule, r->subject, r->text);
  }
  g_string_append_c (out, '\n');
}

/* ---- JSON -------------------------------------------------------------- */

static void
json_map (JsonBuilder *b, const struct vdp_map *m)
{
  static const char *const kinds[] = { "none", "single", "round-robin", "explicit" };

  vdp_json_add_string (b, "mapping", kinds[m->kind]);
  vdp_json_add_int (b, "queues", m->queues);
  json_builder_set_member_name (b, "iothreads");
  json_builder_begin_array (b);
  for (unsigned k = 0; k < m->n_threads; k++) {
    json_builder_begin_object (b);
    vdp_json_add_int (b, "id", m->threads[k]);
    if (m->kind == VDP_MAP_EXPLICIT) {
      GArray *qs = m->queue_lists->pdata[k];
      json_builder_set_member_name (b, "queues");
      json_builder_begin_array (b);
      for (guint q = 0; q < qs->len; q++)
        json_builder_add_int_value (b, g_array_index (qs, guint, q));
      json_builder_end_array (b);
    }
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

static void
json_domain (JsonBuilder *b, const struct vdp_plan *plan, const struct vdp_domain_plan *dp,
             const char *file)
{
  const struct vdp_domain *d = dp->dom;

  json_builder_begin_object (b);
  vdp_json_add_string (b, "name", d->name);
  vdp_json_add_string (b, "file", file);
  vdp_json_add_string (b, "plan", dp->hash);
  vdp_json_add_bool (b, "skipped", dp->skipped);
  vdp_json_add_string (b, "placement", !dp->place ? "kept"
                                 : dp->placement == VDP_PLACEMENT_DEDICATED ? "dedicated" : "shared");
  vdp_json_add_int (b, "home_node", dp->home_node);
  vdp_json_add_index_array (b, "nodes", dp->nodes);
  json_builder_set_member_name (b, "vcpus");
  json_builder_begin_array (b);
  for (unsigned v = 0; dp->place && v < d->vcpus; v++) {
    json_builder_begin_object (b);
    vdp_json_add_int (b, "vcpu", v);
    vdp_json_add_cpuset (b, "cpuset", dp->vcpu_pins[v]);
    json_builder_set_member_name (b, "l3");
    json_builder_add_int_value (b, dp->vcpu_l3[v]);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "emulator");
  if (dp->place) {
    g_autofree char *s = vdp_cpuset_format (dp->emulator_pin);
    json_builder_add_string_value (b, s);
  } else {
    json_builder_add_null_value (b);
  }
  json_builder_set_member_name (b, "iothreads");
  json_builder_begin_array (b);
  for (unsigned k = 0; dp->set_iothreads && k < dp->n_iothreads; k++) {
    json_builder_begin_object (b);
    vdp_json_add_int (b, "id", k + 1);
    if (dp->place) {
      vdp_json_add_cpuset (b, "cpuset", dp->iothread_pins[k]);
      json_builder_set_member_name (b, "l3");
      json_builder_add_int_value (b, dp->iothread_l3[k]);
    }
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "memory");
  if (dp->memory != VDP_MEMORY_NONE) {
    json_builder_begin_object (b);
    vdp_json_add_string (b, "mode", dp->memory == VDP_MEMORY_STRICT ? "strict" : "preferred");
    vdp_json_add_cpuset (b, "nodeset", dp->mem_nodes);
    json_builder_end_object (b);
  } else {
    json_builder_add_null_value (b);
  }
  json_builder_set_member_name (b, "disks");
  json_builder_begin_array (b);
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk_plan *pl = &dp->disks[i];
    json_builder_begin_object (b);
    vdp_json_add_string (b, "target", d->disks[i].target);
    vdp_json_add_string (b, "cache", pl->set_driver ? pl->cache : d->disks[i].cache);
    vdp_json_add_string (b, "io", pl->set_driver ? pl->io : d->disks[i].io);
    json_map (b, &pl->map);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "controllers");
  json_builder_begin_array (b);
  for (unsigned i = 0; i < d->n_controllers; i++) {
    if (dp->controllers[i].kind == VDP_MAP_NONE)
      continue;
    json_builder_begin_object (b);
    vdp_json_add_string (b, "type", d->controllers[i].type);
    vdp_json_add_int (b, "index", d->controllers[i].index);
    json_map (b, &dp->controllers[i]);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "reasons");
  json_builder_begin_array (b);
  for (guint i = 0; i < dp->reasons->len; i++) {
    const struct vdp_reason *r = dp->reasons->pdata[i];
    json_builder_begin_object (b);
    vdp_json_add_int (b, "rule", r->rule);
    vdp_json_add_string (b, "subject", r->subject);
    vdp_json_add_string (b, "text", r->text);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "warnings");
  json_builder_begin_array (b);
  for (guint i = 0; i < dp->warnings->len; i++)
    json_builder_add_string_value (b, dp->warnings->pdata[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
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
  g_autoptr (GPtrArray) names = NULL;
  g_autoptr (GArray) devices = vdp_device_hints_new ();
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_topology) topo = NULL;
  g_autoptr (vdp_policy) policy = NULL;
  g_autoptr (vdp_plan) plan = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) out = g_string_new (NULL);
  g_autofree struct vdp_domain_file *docs = NULL;
  g_autofree struct vdp_plan_input *inputs = NULL;
  g_autofree char *origin = NULL;
  g_auto (GStrv) before = NULL;
  g_auto (GStrv) after = NULL;
  struct vdp_caps caps;
  gboolean from_host, color;
  int first, rc = VDP_EXIT_OK;
  unsigned n = 0;

  o.files = files;
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
  rc = vdp_inputs_load (g, "plan", o.target, o.profile, o.force, devices, &caps, &topo, &policy);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  rc = VDP_EXIT_OK;
  origin = vdp_inputs_target_origin (g, o.target, &caps);

  if (from_host) {
    if (!vdp_domain_host_load (first < argc ? (const char *const *) argv + first : NULL,
                               g->state, warnings, &names, &docs, &inputs, &err)) {
      n = names ? names->len : 0;
      rc = fail (g, err);
    } else {
      n = names->len;
    }
    if (rc == VDP_EXIT_OK && o.xml && n > 1 && !o.output_dir) {
      vdp_usage_error (g, "plan", "--xml with several domains needs --output-dir");
      rc = VDP_EXIT_USAGE;
    }
  } else {
    n = files->len;
    docs = g_new0 (struct vdp_domain_file, n);
    inputs = g_new0 (struct vdp_plan_input, n);
    if (!vdp_domain_files_load (files, topo, devices, warnings, docs, inputs, &err))
      rc = fail (g, err);
  }
  before = g_new0 (char *, n + 1);
  after = g_new0 (char *, n + 1);
  if (rc == VDP_EXIT_OK && n == 0) {
    /* a host without domains (of that state): nothing to plan */
    if (!g->quiet)
      fprintf (stderr, "%s: plan: no domain to plan on '%s'\n", g->prog,
               ((struct vdp_host_spec *) g->hosts->pdata[0])->uri);
    vdp_domain_files_clear (docs, n);
    return g->json ? vdp_print_output (g, "{\"domains\":[]}\n") : VDP_EXIT_OK;
  }
  if (rc == VDP_EXIT_OK) {
    plan = vdp_plan_compute (topo, policy, &caps, inputs, n, &err);
    if (plan == NULL)
      rc = fail (g, err);
  }
  for (unsigned i = 0; rc == VDP_EXIT_OK && i < n; i++) {
    g_autoptr (xmlDoc) copy = xmlCopyDoc (docs[i].doc, 1);
    before[i] = vdp_xml_format (docs[i].doc);
    if (vdp_xmlpatch_apply (copy, plan, &plan->domains[i], &err) < 0) {
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
      json_builder_set_member_name (b, "domains");
      json_builder_begin_array (b);
      for (unsigned i = 0; i < n; i++)
        json_domain (b, plan, &plan->domains[i], from_host ? NULL : docs[i].file);
      json_builder_end_array (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      text = vdp_json_to_string (root, TRUE);
      g_string_append (out, text);
    } else if (o.diff) {
      for (unsigned i = 0; i < n && rc == VDP_EXIT_OK; i++) {
        g_autofree char *base = from_host ? g_strdup (docs[i].file)
                                          : g_path_get_basename (docs[i].file);
        g_autofree char *d = vdp_unified_diff (base, before[i], after[i], &err);
        g_autofree char *colored = d && color ? vdp_color_diff (d) : NULL;
        if (d == NULL)
          rc = fail (g, err);
        else
          g_string_append (out, colored ? colored : d);
      }
    } else if (o.xml && !o.output_dir) {
      g_string_append (out, after[0]);
    } else if (!o.xml) {
      g_string_append_printf (out, "Stack: %s\n\n", origin);
      for (unsigned i = 0; i < n; i++)
        explain_domain (out, plan, &plan->domains[i]);
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
      if (!g_file_set_contents (path, after[i], -1, &err))
        rc = fail (g, err);
    }
  }
  if (rc == VDP_EXIT_OK) {
    if (!g->quiet) {
      const char *uri = g->hosts->len ? ((struct vdp_host_spec *) g->hosts->pdata[0])->uri : NULL;
      if (o.diff || o.xml)
        fprintf (stderr, "%s: plan: for %s\n", g->prog, origin);
      for (guint i = 0; i < warnings->len; i++)
        vdp_warning_print (g->prog, uri, warnings->pdata[i]);
      for (unsigned i = 0; i < n; i++)
        for (guint k = 0; k < plan->domains[i].warnings->len; k++)
          vdp_warning_print (g->prog, uri, plan->domains[i].warnings->pdata[k]);
    }
    rc = vdp_print_output (g, out->str);
  }

  vdp_domain_files_clear (docs, n);
  return rc;
}

const struct vdp_command vdp_cmd_plan = {
  .name = "plan",
  .summary = "compute and explain the tuning of domains; change nothing",
  .run = run,
};
