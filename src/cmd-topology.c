/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "virt-dataplane topology": the host as the planner sees it, as text or JSON. */
#include <config.h>

#include <stdio.h>

#include "commands.h"
#include "hints.h"
#include "host.h"
#include "topology.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"
#include "util/json.h"

enum {
  OPT_XML = VDP_OPT_COMMAND_BASE,
  OPT_FORCE,
  OPT_DEVICE,
};

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           " %s topology [options]\n"
           "\n"
           "Show NUMA nodes, L3 groups, cores, SMT siblings, memory and block devices\n"
           "as the planner sees them: of this machine, or of each host named with -c or\n"
           "--hosts, with where the topology came from.\n"
           "\n"
           "Options:\n"
           " -c, --connect <uri>          a libvirt host (repeatable)\n"
           " --hosts <file>               hosts, one per line: URI [topology=FILE]\n"
           "                              [device=PATH=DEVNAME]...\n"
           " --topology <file|synthetic>  an hwloc XML file or synthetic description\n"
           "                              instead of this host (checked against each host)\n"
           " --force                      show a given topology that disagrees with the host\n"
           " --device <path>=<devname>    a device hint for each host, checked against\n"
           "                              its topology (repeatable)\n"
           " --json                       print a JSON object (see virt-dataplane(1))\n"
           " --xml                        print the topology as hwloc XML, to save and give\n"
           "                              with --topology or topology=\n"
           " -v, --verbose                also list every PU\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
           "For more details see virt-dataplane(1).\n", PACKAGE_NAME);
}

static const struct option options[] = {
  VDP_GLOBAL_LONGOPTS,
  { "xml", no_argument, NULL, OPT_XML },
  { "force", no_argument, NULL, OPT_FORCE },
  { "device", required_argument, NULL, OPT_DEVICE },
  { NULL, 0, NULL, 0 },
};

struct topology_opts {
  gboolean xml, force;
  GArray *devices;          /* --device */
};

static gboolean
handle (int opt, const char *arg, void *data, GError **error)
{
  struct topology_opts *o = data;

  switch (opt) {
  case OPT_XML: o->xml = TRUE; return TRUE;
  case OPT_FORCE: o->force = TRUE; return TRUE;
  case OPT_DEVICE: return vdp_device_hints_add (o->devices, arg, error);
  default:
    g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "unhandled option");
    return FALSE;
  }
}

/* What a libvirt host adds to its topology: where it came from, what
 * libvirt says of it. */
struct host_view {
  const char *uri;
  gboolean local;
  const char *why;
  VdpHostTopologySource source;
  const char *origin;
  gboolean have_info;
  struct vdp_node_info info;
  const gint64 *free_mem;   /* by node id, n_free of them; -1 unknown */
  unsigned n_free;
  const char *stack;        /* the stack plans are for, and its source */
  struct vdp_host *host;    /* for its device hints */
};

static gint64
free_of (const struct host_view *hv, unsigned node)
{
  return hv && node < hv->n_free ? hv->free_mem[node] : -1;
}

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

    if (c->l3 != (int) l3 || c->node != (int) node)
      continue;
    /* siblings with commas always: "0-1" would read as a range of cores */
    g_string_append (out, any ? " " : "");
    for (int pu = hwloc_bitmap_first (c->pus), k = 0; pu >= 0;
         pu = hwloc_bitmap_next (c->pus, pu), k++)
      g_string_append_printf (out, "%s%d", k ? "," : "", pu);
    any = TRUE;
  }
}

static char *
format_text (const struct vdp_topology *t, int verbose, const struct host_view *hv)
{
  GString *out = g_string_new (NULL);
  struct vdp_topology_counts c;
  gboolean any_spanning = FALSE;

  vdp_topology_get_counts (t, &c);
  if (hv) {
    g_string_append_printf (out, "Host: %s\n", hv->uri);
    g_string_append_printf (out, "This machine: %s (%s)\n", hv->local ? "yes" : "no", hv->why);
    g_string_append_printf (out, "Topology source: %s: %s\n",
                            vdp_host_topology_source_names[hv->source], hv->origin);
    if (hv->have_info) {
      g_autofree char *mem = g_format_size_full (hv->info.memory_kib * 1024,
                                                 G_FORMAT_SIZE_IEC_UNITS);
      g_string_append_printf (out, "libvirt node info: %u CPUs, %u NUMA nodes, %u sockets per "
                              "node, %u cores per socket, %u threads per core, %s\n",
                              hv->info.cpus, hv->info.nodes, hv->info.sockets, hv->info.cores,
                              hv->info.threads, mem);
    }
    if (hv->stack)
      g_string_append_printf (out, "Stack: %s\n", hv->stack);
    {
      unsigned n;
      const struct vdp_device_hint *d = vdp_host_device_hints (hv->host, &n);
      for (unsigned i = 0; i < n; i++)
        g_string_append_printf (out, "Device hint: %s on %s (%s)\n", d[i].path, d[i].device,
                                vdp_host_device_hint_origin (hv->host, i));
    }
  }
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

    g_autofree char *fr = free_of (hv, node->id) >= 0
                          ? g_format_size_full ((guint64) free_of (hv, node->id), G_FORMAT_SIZE_IEC_UNITS)
                          : NULL;

    g_string_append_printf (out, "\nNode %u%s: %s%s%s%s, PUs %s\n", node->id,
                            node->allowed ? "" : " (not allowed)", mem, fr ? " (" : "",
                            fr ? fr : "", fr ? " free)" : "", *cpus ? cpus : "none");
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

static void
json_host (JsonBuilder *b, const struct host_view *hv)
{
  json_builder_set_member_name (b, "host");
  json_builder_begin_object (b);
  vdp_json_add_string (b, "uri", hv->uri);
  vdp_json_add_bool (b, "this_machine", hv->local);
  vdp_json_add_string (b, "reason", hv->why);
  vdp_json_add_string (b, "topology_source", vdp_host_topology_source_names[hv->source]);
  vdp_json_add_string (b, "origin", hv->origin);
  vdp_json_add_string (b, "stack", hv->stack);
  json_builder_set_member_name (b, "device_hints");
  json_builder_begin_array (b);
  {
    unsigned n;
    const struct vdp_device_hint *d = vdp_host_device_hints (hv->host, &n);
    for (unsigned i = 0; i < n; i++) {
      json_builder_begin_object (b);
      vdp_json_add_string (b, "path", d[i].path);
      vdp_json_add_string (b, "device", d[i].device);
      vdp_json_add_string (b, "origin", vdp_host_device_hint_origin (hv->host, i));
      json_builder_end_object (b);
    }
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "nodeinfo");
  if (hv->have_info) {
    json_builder_begin_object (b);
    vdp_json_add_string (b, "model", hv->info.model);
    vdp_json_add_int (b, "cpus", hv->info.cpus);
    vdp_json_add_int (b, "mhz", hv->info.mhz);
    vdp_json_add_int (b, "nodes", hv->info.nodes);
    vdp_json_add_int (b, "sockets", hv->info.sockets);
    vdp_json_add_int (b, "cores", hv->info.cores);
    vdp_json_add_int (b, "threads", hv->info.threads);
    vdp_json_add_int (b, "memory", (gint64) (hv->info.memory_kib * 1024));
    json_builder_end_object (b);
  } else {
    json_builder_add_null_value (b);
  }
  json_builder_end_object (b);
}

static char *
format_json (const struct vdp_topology *t, const struct host_view *hv)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  struct vdp_topology_counts c;

  vdp_topology_get_counts (t, &c);
  json_builder_begin_object (b);
  vdp_json_add_string (b, "source", t->source);
  vdp_json_add_string (b, "kind", vdp_topology_kind_name (t->kind));
  if (hv)
    json_host (b, hv);

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
    if (hv)
      vdp_json_add_int_or_null (b, "free_memory", free_of (hv, n->id));
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

static char *
format (const struct vdp_globals *g, const struct topology_opts *o, const struct vdp_topology *t,
        const struct host_view *hv)
{
  if (o->xml) {
    char *xml = vdp_topology_export_xml (t);
    return xml ? xml : g_strdup ("");
  }
  return g->json ? format_json (t, hv) : format_text (t, g->verbose, hv);
}

/* Shows the topology of each host named; a host whose topology cannot be
 * found is one line on stderr, and the others are still shown. */
static int
show_hosts (struct vdp_globals *g, const struct topology_opts *o)
{
  struct vdp_host_opts hopts = {
    .topology = g->topology, .force = o->force,
    .hints = (const struct vdp_device_hint *) o->devices->data, .n_hints = o->devices->len,
  };
  GPtrArray *hosts = vdp_globals_hosts (g);
  int rc = VDP_EXIT_OK;

  vdp_conn_init ();
  for (guint i = 0; i < hosts->len; i++) {
    g_autoptr (GError) err = NULL;
    g_autoptr (vdp_host) h = vdp_host_open (hosts->pdata[i], &hopts, &err);
    g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
    const struct vdp_topology *t = h ? vdp_host_topology (h, &err) : NULL;
    g_autofree char *text = NULL;
    struct host_view hv = { 0 };

    if (t == NULL) {
      vdp_error_print (g->prog, err);
      rc = VDP_EXIT_ERROR;
      continue;
    }
    hv.uri = vdp_host_uri (h);
    hv.local = vdp_host_is_local (h, &hv.why);
    hv.source = vdp_host_topology_source (h);
    hv.origin = vdp_host_topology_origin (h);
    hv.have_info = vdp_host_node_info (h, &hv.info, NULL);
    hv.free_mem = vdp_host_free_memory (h, &hv.n_free);
    hv.host = h;
    {
      struct vdp_caps caps;
      gboolean validate;
      if (!vdp_host_stack (h, &caps, &validate, &hv.stack, NULL))
        hv.stack = NULL;
    }
    vdp_host_take_warnings (h, warnings);
    if (!g->quiet)
      for (guint k = 0; k < warnings->len; k++)
        fprintf (stderr, "%s: warning: %s\n", g->prog, (char *) warnings->pdata[k]);
    text = format (g, o, t, &hv);
    if (vdp_print_output (g, text) != VDP_EXIT_OK)
      return VDP_EXIT_ERROR;
  }
  return rc;
}

static int
run (struct vdp_globals *g, int argc, char **argv)
{
  struct topology_opts o = { 0 };
  g_autoptr (GArray) devices = vdp_device_hints_new ();
  g_autoptr (vdp_topology) t = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree char *text = NULL;
  int first, rc;

  o.devices = devices;
  rc = vdp_parse_options (g, "topology", argc, argv, "", options, usage, handle, &o, &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  rc = vdp_no_state (g, "topology");
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  if (first < argc) {
    vdp_usage_error (g, "topology", "unexpected argument '%s'", argv[first]);
    return VDP_EXIT_USAGE;
  }
  if (o.xml && g->json) {
    vdp_usage_error (g, "topology", "--xml and --json exclude each other");
    return VDP_EXIT_USAGE;
  }
  if (g->hosts->len)
    return show_hosts (g, &o);

  t = vdp_topology_load (g->topology, &err);
  if (t == NULL || !vdp_device_hints_check (t, (const struct vdp_device_hint *) devices->data,
                                            devices->len, &err)) {
    vdp_error_print (g->prog, err);
    return vdp_error_exit_status (err);
  }
  text = format (g, &o, t, NULL);
  return vdp_print_output (g, text);
}

const struct vdp_command vdp_cmd_topology = {
  .name = "topology",
  .summary = "show a host's topology as the planner sees it, and its source",
  .run = run,
};
