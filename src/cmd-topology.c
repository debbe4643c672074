/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "virt-dataplane topology": the host as the planner sees it, as text or JSON. */
#include <config.h>

#include <stdio.h>

#include "commands.h"
#include "topology.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"
#include "util/json.h"

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           " %s topology [options]\n"
           "\n"
           "Show NUMA nodes, L3 groups, cores, SMT siblings, memory and block devices\n"
           "as the planner sees them.\n"
           "\n"
           "Options:\n"
           " --topology <file|synthetic>  an hwloc XML file or synthetic description\n"
           "                              instead of this host\n"
           " --json                       print a JSON object (see virt-dataplane(1))\n"
           " -v, --verbose                also list every PU\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
           "For more details see virt-dataplane(1).\n", PACKAGE_NAME);
}

static const struct option options[] = {
  VDP_GLOBAL_LONGOPTS,
  { NULL, 0, NULL, 0 },
};

/* "a b c" list of items, or "none". */
static void
append_set_or_none (GString *out, const char *label, hwloc_const_bitmap_t set)
{
  g_autofree char *s = vdp_cpuset_format (set);
  g_string_append_printf (out, "%s: %s\n", label, *s ? s : "none");
}

static void
append_cores (GString *out, const struct vdp_topology *t, unsigned l3, unsigned node)
{
  gboolean any = FALSE;

  for (size_t i = 0; i < t->n_cores; i++) {
    const struct vdp_core *c = &t->cores[i];
    g_autofree char *s = NULL;

    if (c->l3 != (int) l3 || c->node != (int) node)
      continue;
    s = vdp_cpuset_format (c->pus);
    g_string_append_printf (out, "%s%s", any ? " " : "", s);
    any = TRUE;
  }
}

static char *
format_text (const struct vdp_topology *t, int verbose)
{
  GString *out = g_string_new (NULL);
  struct vdp_topology_counts c;
  gboolean any_spanning = FALSE;

  vdp_topology_get_counts (t, &c);
  g_string_append_printf (out, "Topology: %s\n", t->source);
  g_string_append_printf (out, "%u NUMA node%s, %u package%s, %u L3 group%s, %u core%s, %u PU%s\n",
                          c.nodes, c.nodes == 1 ? "" : "s",
                          c.packages, c.packages == 1 ? "" : "s",
                          c.llc_groups, c.llc_groups == 1 ? "" : "s",
                          c.cores, c.cores == 1 ? "" : "s",
                          c.pus, c.pus == 1 ? "" : "s");

  for (size_t n = 0; n < t->n_nodes; n++) {
    const struct vdp_node *node = &t->nodes[n];
    g_autofree char *mem = node->memory ? g_format_size_full (node->memory, G_FORMAT_SIZE_IEC_UNITS)
                           : g_strdup ("memory unknown");
    g_autofree char *cpus = vdp_cpuset_format (node->cpuset);

    g_string_append_printf (out, "\nNode %u%s: %s, PUs %s\n", node->id,
                            node->allowed ? "" : " (not allowed)", mem,
                            *cpus ? cpus : "none");
    for (size_t l = 0; l < t->n_l3; l++) {
      const struct vdp_l3 *g = &t->l3[l];
      g_auto (VdpBitmap) part = hwloc_bitmap_alloc ();
      g_autofree char *pcpus = NULL;

      hwloc_bitmap_and (part, g->cpuset, node->cpuset);
      if (hwloc_bitmap_iszero (part))
        continue;
      pcpus = vdp_cpuset_format (part);
      g_string_append_printf (out, "  %s #%u", g->kind, g->index);
      if (g->size) {
        g_autofree char *sz = g_format_size_full (g->size, G_FORMAT_SIZE_IEC_UNITS);
        g_string_append_printf (out, " (%s)", sz);
      }
      g_string_append_printf (out, ": PUs %s\n    cores: ", pcpus);
      append_cores (out, t, g->index, node->id);
      g_string_append_c (out, '\n');
    }
    for (size_t d = 0; d < t->n_devices; d++) {
      const struct vdp_blockdev *dev = &t->devices[d];
      if (dev->node != (int) node->id)
        continue;
      g_string_append_printf (out, "  device %s", dev->name);
      if (dev->subtype || dev->pci)
        g_string_append_printf (out, " (%s%s%s)", dev->subtype ? dev->subtype : "",
                                dev->subtype && dev->pci ? ", PCI " : dev->pci ? "PCI " : "",
                                dev->pci ? dev->pci : "");
      g_string_append_c (out, '\n');
    }
  }

  for (size_t d = 0; d < t->n_devices; d++) {
    const struct vdp_blockdev *dev = &t->devices[d];
    g_autofree char *nodes = NULL;

    if (dev->node >= 0)
      continue;
    if (!any_spanning)
      g_string_append (out, "\nDevices local to several nodes:\n");
    any_spanning = TRUE;
    nodes = vdp_cpuset_format (dev->nodeset);
    g_string_append_printf (out, "  device %s: nodes %s\n", dev->name, nodes);
  }

  g_string_append_c (out, '\n');
  append_set_or_none (out, "Not allowed PUs", t->disallowed);
  append_set_or_none (out, "Offline PUs", t->offline);
  append_set_or_none (out, "Isolated PUs", t->isolated);

  if (verbose > 0) {
    g_string_append (out, "\nPU   core  node  L3  package  flags\n");
    for (size_t i = 0; i < t->n_pus; i++) {
      const struct vdp_pu *pu = &t->pus[i];
      g_string_append_printf (out, "%-4u %-5d %-5d %-3d %-8d %s%s\n", pu->id, pu->core,
                              pu->node, pu->l3, pu->package,
                              pu->allowed ? "" : "not-allowed ",
                              pu->isolated ? "isolated" : "");
    }
  }
  return g_string_free (out, FALSE);
}

static char *
format_json (const struct vdp_topology *t)
{
  static const char *const kinds[] = { "host", "xml", "synthetic" };
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  struct vdp_topology_counts c;

  vdp_topology_get_counts (t, &c);
  json_builder_begin_object (b);
  vdp_json_add_string (b, "source", t->source);
  vdp_json_add_string (b, "kind", kinds[t->kind]);

  json_builder_set_member_name (b, "counts");
  json_builder_begin_object (b);
  vdp_json_add_int (b, "nodes", c.nodes);
  vdp_json_add_int (b, "packages", c.packages);
  vdp_json_add_int (b, "l3", c.l3);
  vdp_json_add_int (b, "llc_groups", c.llc_groups);
  vdp_json_add_int (b, "cores", c.cores);
  vdp_json_add_int (b, "pus", c.pus);
  vdp_json_add_int (b, "pus_offline", c.pus_offline);
  vdp_json_add_int (b, "pus_disallowed", c.pus_disallowed);
  vdp_json_add_int (b, "pus_isolated", c.pus_isolated);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "nodes");
  json_builder_begin_array (b);
  for (size_t i = 0; i < t->n_nodes; i++) {
    const struct vdp_node *n = &t->nodes[i];
    json_builder_begin_object (b);
    vdp_json_add_int (b, "id", n->id);
    vdp_json_add_int (b, "memory", (gint64) n->memory);
    vdp_json_add_cpuset (b, "cpuset", n->cpuset);
    vdp_json_add_bool (b, "allowed", n->allowed);
    json_builder_set_member_name (b, "l3");
    json_builder_begin_array (b);
    for (size_t l = 0; l < t->n_l3; l++)
      if (hwloc_bitmap_intersects (t->l3[l].cpuset, n->cpuset))
        json_builder_add_int_value (b, (gint64) l);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "devices");
    json_builder_begin_array (b);
    for (size_t d = 0; d < t->n_devices; d++)
      if (t->devices[d].node == (int) n->id)
        json_builder_add_string_value (b, t->devices[d].name);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "packages");
  json_builder_begin_array (b);
  for (size_t i = 0; i < t->n_packages; i++) {
    const struct vdp_package *p = &t->packages[i];
    json_builder_begin_object (b);
    vdp_json_add_int (b, "index", p->index);
    vdp_json_add_int (b, "os_index", p->os_index);
    vdp_json_add_cpuset (b, "cpuset", p->cpuset);
    vdp_json_add_index_array (b, "nodes", p->nodeset);
    vdp_json_add_bool (b, "allowed", p->allowed);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "l3");
  json_builder_begin_array (b);
  for (size_t i = 0; i < t->n_l3; i++) {
    const struct vdp_l3 *g = &t->l3[i];
    json_builder_begin_object (b);
    vdp_json_add_int (b, "index", g->index);
    vdp_json_add_string (b, "kind", g->kind);
    vdp_json_add_int (b, "size", (gint64) g->size);
    vdp_json_add_cpuset (b, "cpuset", g->cpuset);
    vdp_json_add_index_array (b, "nodes", g->nodeset);
    vdp_json_add_bool (b, "allowed", g->allowed);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "cores");
  json_builder_begin_array (b);
  for (size_t i = 0; i < t->n_cores; i++) {
    const struct vdp_core *co = &t->cores[i];
    json_builder_begin_object (b);
    vdp_json_add_int (b, "index", co->index);
    vdp_json_add_int (b, "os_index", co->os_index);
    vdp_json_add_index_array (b, "pus", co->pus);
    vdp_json_add_int (b, "node", co->node);
    vdp_json_add_int (b, "l3", co->l3);
    vdp_json_add_int (b, "package", co->package);
    vdp_json_add_bool (b, "allowed", co->allowed);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "pus");
  json_builder_begin_array (b);
  for (size_t i = 0; i < t->n_pus; i++) {
    const struct vdp_pu *pu = &t->pus[i];
    json_builder_begin_object (b);
    vdp_json_add_int (b, "id", pu->id);
    vdp_json_add_int (b, "core", pu->core);
    vdp_json_add_int (b, "node", pu->node);
    vdp_json_add_int (b, "l3", pu->l3);
    vdp_json_add_int (b, "package", pu->package);
    vdp_json_add_bool (b, "allowed", pu->allowed);
    vdp_json_add_bool (b, "isolated", pu->isolated);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  for (size_t i = 0; i < t->n_devices; i++) {
    const struct vdp_blockdev *d = &t->devices[i];
    json_builder_begin_object (b);
    vdp_json_add_string (b, "name", d->name);
    vdp_json_add_string (b, "subtype", d->subtype);
    vdp_json_add_string (b, "pci", d->pci);
    vdp_json_add_string (b, "devid", d->devid);
    vdp_json_add_int (b, "node", d->node);
    vdp_json_add_index_array (b, "nodes", d->nodeset);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);

  vdp_json_add_cpuset (b, "offline", t->offline);
  vdp_json_add_cpuset (b, "disallowed", t->disallowed);
  vdp_json_add_cpuset (b, "isolated", t->isolated);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  return vdp_json_to_string (root, TRUE);
}

static int
run (struct vdp_globals *g, int argc, char **argv)
{
  g_autoptr (vdp_topology) t = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree char *text = NULL;
  int first, rc;

  rc = vdp_parse_options (g, "topology", argc, argv, "", options, usage, NULL, NULL, &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  if (first < argc) {
    vdp_usage_error (g, "topology", "unexpected argument '%s'", argv[first]);
    return VDP_EXIT_USAGE;
  }

  t = vdp_topology_load (g->topology, &err);
  if (t == NULL) {
    vdp_error_print (g->prog, err);
    return vdp_error_exit_status (err);
  }
  text = g->json ? format_json (t) : format_text (t, g->verbose);
  return vdp_print_output (g, text);
}

const struct vdp_command vdp_cmd_topology = {
  .name = "topology",
  .summary = "show the host topology as the planner sees it",
  .run = run,
};
