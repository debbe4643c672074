/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loads a topology with hwloc and flattens it into the tables the planner uses. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bounds.h"
#include "topology.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"

/* How deep stacked block devices (dm on md on partitions...) may go. */
#define MAX_STACK_DEPTH 16

static const char *
cache_kind (hwloc_obj_t obj)
{
  static const char *const names[] = { "L1", "L2", "L3", "L4", "L5" };
  unsigned depth = obj->attr->cache.depth;

  return depth >= 1 && depth <= G_N_ELEMENTS (names) ? names[depth - 1] : "cache";
}

/* The object whose PUs form @pu's last-level-cache group. */
static hwloc_obj_t
llc_group_of (hwloc_topology_t hw, hwloc_obj_t pu)
{
  hwloc_obj_t obj = hwloc_get_ancestor_obj_by_type (hw, HWLOC_OBJ_L3CACHE, pu);

  if (obj)
    return obj;
  for (obj = pu->parent; obj; obj = obj->parent)
    if (hwloc_obj_type_is_dcache (obj->type)
        && hwloc_get_nbobjs_inside_cpuset_by_type (hw, obj->cpuset, HWLOC_OBJ_CORE) > 1)
      return obj;
  obj = hwloc_get_ancestor_obj_by_type (hw, HWLOC_OBJ_PACKAGE, pu);
  if (obj)
    return obj;
  /* No package level: the object the PU's NUMA node is attached to. */
  for (obj = pu->parent; obj; obj = obj->parent)
    if (obj->memory_arity > 0)
      return obj;
  return hwloc_get_root_obj (hw);
}

static unsigned
add_l3_group (struct vdp_topology *t, GHashTable *index, hwloc_obj_t obj,
              hwloc_const_bitmap_t allowed_nodes)
{
  struct vdp_l3 *g;
  gpointer found;

  if (g_hash_table_lookup_extended (index, obj, NULL, &found))
    return GPOINTER_TO_UINT (found);

  g = &t->l3[t->n_l3];
  g->index = (unsigned) t->n_l3;
  if (hwloc_obj_type_is_cache (obj->type)) {
    g->kind = cache_kind (obj);
    g->size = obj->attr->cache.size;
  } else {
    g->kind = obj->type == HWLOC_OBJ_PACKAGE ? "Package"
              : obj->type == HWLOC_OBJ_MACHINE ? "Machine" : "Group";
  }
  g->cpuset = hwloc_bitmap_alloc ();
  hwloc_bitmap_and (g->cpuset, obj->cpuset, t->online);
  g->nodeset = hwloc_bitmap_dup (obj->nodeset);
  g->allowed = hwloc_bitmap_intersects (g->cpuset, t->allowed)
               || hwloc_bitmap_intersects (g->nodeset, allowed_nodes);
  g_hash_table_insert (index, obj, GUINT_TO_POINTER (g->index));
  return (unsigned) t->n_l3++;
}

static void
build_nodes_and_packages (struct vdp_topology *t)
{
  hwloc_topology_t hw = t->hw;
  int n;

  n = hwloc_get_nbobjs_by_type (hw, HWLOC_OBJ_NUMANODE);
  t->nodes = g_new0 (struct vdp_node, MAX (n, 1));
  for (int i = 0; i < n; i++) {
    hwloc_obj_t obj = hwloc_get_obj_by_type (hw, HWLOC_OBJ_NUMANODE, (unsigned) i);
    struct vdp_node *node = &t->nodes[t->n_nodes++];

    node->id = obj->os_index;
    node->memory = obj->attr->numanode.local_memory;
    node->cpuset = hwloc_bitmap_alloc ();
    hwloc_bitmap_and (node->cpuset, obj->cpuset, t->online);
    node->allowed = hwloc_bitmap_isset (t->allowed_nodes, obj->os_index);
  }

  n = hwloc_get_nbobjs_by_type (hw, HWLOC_OBJ_PACKAGE);
  t->packages = g_new0 (struct vdp_package, MAX (n, 1));
  for (int i = 0; i < n; i++) {
    hwloc_obj_t obj = hwloc_get_obj_by_type (hw, HWLOC_OBJ_PACKAGE, (unsigned) i);
    struct vdp_package *pkg = &t->packages[t->n_packages++];

    pkg->index = (unsigned) i;
    pkg->os_index = obj->os_index;
    pkg->cpuset = hwloc_bitmap_alloc ();
    hwloc_bitmap_and (pkg->cpuset, obj->cpuset, t->online);
    pkg->nodeset = hwloc_bitmap_dup (obj->nodeset);
    pkg->allowed = hwloc_bitmap_intersects (pkg->cpuset, t->allowed)
                   || hwloc_bitmap_intersects (pkg->nodeset, t->allowed_nodes);
  }
}

/* The first NUMA node among the memory children of @o (through memory
 * caches), preferring one of no special kind (not HBM, not NVDIMM). */
static hwloc_obj_t
first_node (hwloc_obj_t o)
{
  hwloc_obj_t any = NULL;

  for (hwloc_obj_t m = o->memory_first_child; m; m = m->next_sibling) {
    hwloc_obj_t n = m->type == HWLOC_OBJ_NUMANODE ? m : first_node (m);
    if (n && n->subtype == NULL)
      return n;
    if (any == NULL)
      any = n;
  }
  return any;
}

/* A PU's own NUMA node: the one attached nearest to it.  Nodes attached
 * further up (CPU-less memory hung from the machine) are local to it too in
 * hwloc's nodeset, but are not where its CPU is. */
static int
pu_node (hwloc_obj_t pu)
{
  for (hwloc_obj_t o = pu->parent; o; o = o->parent) {
    hwloc_obj_t n = o->memory_arity > 0 ? first_node (o) : NULL;
    if (n)
      return (int) n->os_index;
  }
  return hwloc_bitmap_iszero (pu->nodeset) ? -1 : hwloc_bitmap_first (pu->nodeset);
}

/* Each node's CPUs are the PUs whose own node it is. */
static void
node_cpus_from_pus (struct vdp_topology *t)
{
  for (size_t n = 0; n < t->n_nodes; n++)
    hwloc_bitmap_zero (t->nodes[n].cpuset);
  for (size_t i = 0; i < t->n_pus; i++) {
    struct vdp_node *node = t->pus[i].node >= 0 ? (struct vdp_node *) vdp_topology_find_node (t, (unsigned) t->pus[i].node) : NULL;
    if (node)
      hwloc_bitmap_set (node->cpuset, t->pus[i].id);
  }
}

static void
build_cpus (struct vdp_topology *t)
{
  hwloc_topology_t hw = t->hw;
  int n_pus = hwloc_get_nbobjs_by_type (hw, HWLOC_OBJ_PU);
  int n_l3 = hwloc_get_nbobjs_by_type (hw, HWLOC_OBJ_L3CACHE);
  g_autoptr (GHashTable) l3_index = g_hash_table_new (NULL, NULL);
  g_autoptr (GHashTable) core_index = g_hash_table_new (NULL, NULL);

  n_pus = MAX (n_pus, 0);
  t->pus = g_new0 (struct vdp_pu, MAX (n_pus, 1));
  t->cores = g_new0 (struct vdp_core, MAX (n_pus, 1));
  t->l3 = g_new0 (struct vdp_l3, (size_t) MAX (n_l3, 0) + (size_t) n_pus + 1);

  /* Every L3 first, so that L3s without online PUs are counted as hwloc does. */
  for (int i = 0; i < n_l3; i++)
    add_l3_group (t, l3_index,
                  hwloc_get_obj_by_type (hw, HWLOC_OBJ_L3CACHE, (unsigned) i),
                  t->allowed_nodes);

  for (int i = 0; i < n_pus; i++) {
    hwloc_obj_t obj = hwloc_get_obj_by_type (hw, HWLOC_OBJ_PU, (unsigned) i);
    hwloc_obj_t core_obj = hwloc_get_ancestor_obj_by_type (hw, HWLOC_OBJ_CORE, obj);
    hwloc_obj_t pkg_obj = hwloc_get_ancestor_obj_by_type (hw, HWLOC_OBJ_PACKAGE, obj);
    struct vdp_pu *pu = &t->pus[t->n_pus++];
    hwloc_obj_t key = core_obj ? core_obj : obj;
    struct vdp_core *core;
    gpointer found;

    pu->id = obj->os_index;
    pu->node = pu_node (obj);
    pu->l3 = (int) add_l3_group (t, l3_index, llc_group_of (hw, obj), t->allowed_nodes);
    pu->package = pkg_obj ? (int) pkg_obj->logical_index : -1;
    pu->allowed = hwloc_bitmap_isset (t->allowed, pu->id);
    pu->isolated = hwloc_bitmap_isset (t->isolated, pu->id);

    if (g_hash_table_lookup_extended (core_index, key, NULL, &found)) {
      core = &t->cores[GPOINTER_TO_UINT (found)];
    } else {
      core = &t->cores[t->n_cores];
      core->index = (unsigned) t->n_cores;
      core->os_index = key->os_index;
      core->implicit = core_obj == NULL;
      core->pus = hwloc_bitmap_alloc ();
      core->node = pu->node;
      core->l3 = pu->l3;
      core->package = pu->package;
      g_hash_table_insert (core_index, key, GUINT_TO_POINTER (core->index));
      t->n_cores++;
    }
    hwloc_bitmap_set (core->pus, pu->id);
    core->allowed = core->allowed || pu->allowed;
    pu->core = (int) core->index;
  }
  /* PU by OS index, for the planner's lookups */
  for (size_t i = 0; i < t->n_pus; i++)
    t->n_pu_pos = MAX (t->n_pu_pos, (size_t) t->pus[i].id + 1);
  t->pu_pos = g_new (int, t->n_pu_pos + 1);
  for (size_t i = 0; i <= t->n_pu_pos; i++)
    t->pu_pos[i] = -1;
  for (size_t i = 0; i < t->n_pus; i++)
    t->pu_pos[t->pus[i].id] = (int) i;
}

static void
build_devices (struct vdp_topology *t)
{
  hwloc_topology_t hw = t->hw;
  hwloc_obj_t obj = NULL;
  size_t cap = 0;

  while ((obj = hwloc_get_next_osdev (hw, obj)) != NULL) {
    if (obj->attr->osdev.type == HWLOC_OBJ_OSDEV_BLOCK)
      cap++;
  }
  t->devices = g_new0 (struct vdp_blockdev, MAX (cap, 1));

  while ((obj = hwloc_get_next_osdev (hw, obj)) != NULL) {
    struct vdp_blockdev *dev;
    hwloc_obj_t anc, p;
    const char *devid;

    if (obj->attr->osdev.type != HWLOC_OBJ_OSDEV_BLOCK || obj->name == NULL)
      continue;
    dev = &t->devices[t->n_devices++];
    dev->name = g_strdup (obj->name);
    dev->subtype = g_strdup (obj->subtype);
    devid = hwloc_obj_get_info_by_name (obj, "LinuxDeviceID");
    dev->devid = g_strdup (devid);
    anc = hwloc_get_non_io_ancestor_obj (hw, obj);
    dev->nodeset = hwloc_bitmap_dup (anc->nodeset);
    dev->node = hwloc_bitmap_weight (dev->nodeset) == 1 ? hwloc_bitmap_first (dev->nodeset) : -1;
    for (p = obj->parent; p; p = p->parent) {
      if (p->type == HWLOC_OBJ_PCI_DEVICE) {
        dev->pci = g_strdup_printf ("%04x:%02x:%02x.%01x",
                                    p->attr->pcidev.domain, p->attr->pcidev.bus,
                                    p->attr->pcidev.dev, p->attr->pcidev.func);
        break;
      }
    }
  }
}

static int
read_isolated (struct vdp_topology *t, const char *sysfs_root, GError **error)
{
  g_autofree char *path = g_strconcat (sysfs_root ? sysfs_root : "",
                                       "/sys/devices/system/cpu/isolated", NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) local = NULL;
  hwloc_bitmap_t set;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;   /* older kernels do not have the file: nothing is isolated */
  g_strstrip (text);
  if (*text == '\0')
    return 0;
  set = vdp_cpuset_parse (text, &local);
  if (!set) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "%s: %s", path, local->message);
    return -1;
  }
  hwloc_bitmap_copy (t->isolated, set);
  hwloc_bitmap_free (set);
  return 0;
}

static void
index_groups_by_node (struct vdp_topology *t)
{
  for (size_t n = 0; n < t->n_nodes; n++) {
    struct vdp_node *node = &t->nodes[n];
    node->groups = g_new0 (unsigned, t->n_l3 + 1);
    for (size_t g = 0; g < t->n_l3; g++)
      if (hwloc_bitmap_intersects (t->l3[g].cpuset, node->cpuset))
        node->groups[node->n_groups++] = (unsigned) g;
  }
}

static void
index_cores_by_group (struct vdp_topology *t)
{
  for (size_t c = 0; c < t->n_cores; c++)
    t->l3[t->cores[c].l3].n_cores++;
  for (size_t g = 0; g < t->n_l3; g++) {
    t->l3[g].cores = g_new0 (unsigned, MAX (t->l3[g].n_cores, 1));
    t->l3[g].n_cores = 0;
  }
  for (size_t c = 0; c < t->n_cores; c++) {
    struct vdp_l3 *g = &t->l3[t->cores[c].l3];
    g->cores[g->n_cores++] = (unsigned) c;
  }
}

/* hwloc's NUMA distance matrix, by node position; NULL when it has none
 * that covers every node. */
static void
build_distances (struct vdp_topology *t)
{
  struct hwloc_distances_s *d[1];
  unsigned nr = 1;

  if (t->n_nodes < 2
      || hwloc_distances_get_by_type (t->hw, HWLOC_OBJ_NUMANODE, &nr, d, 0, 0) < 0 || nr == 0)
    return;
  t->distances = g_new0 (unsigned, t->n_nodes * t->n_nodes);
  for (unsigned i = 0; i < d[0]->nbobjs; i++)
    for (unsigned j = 0; j < d[0]->nbobjs; j++) {
      const struct vdp_node *a = vdp_topology_find_node (t, d[0]->objs[i]->os_index);
      const struct vdp_node *b = vdp_topology_find_node (t, d[0]->objs[j]->os_index);
      if (a && b)
        t->distances[(size_t) (a - t->nodes) * t->n_nodes + (size_t) (b - t->nodes)]
          = (unsigned) d[0]->values[i * d[0]->nbobjs + j];
    }
  hwloc_distances_release (t->hw, d[0]);
  for (size_t i = 0; i < t->n_nodes * t->n_nodes; i++)
    if (t->distances[i] == 0)
      g_clear_pointer (&t->distances, g_free);   /* a node it does not cover */
}

static void
build (struct vdp_topology *t)
{
  hwloc_topology_t hw = t->hw;

  t->online = hwloc_bitmap_dup (hwloc_topology_get_topology_cpuset (hw));
  t->allowed = hwloc_bitmap_alloc ();
  hwloc_bitmap_and (t->allowed, t->online, hwloc_topology_get_allowed_cpuset (hw));
  t->disallowed = hwloc_bitmap_alloc ();
  hwloc_bitmap_andnot (t->disallowed, t->online, t->allowed);
  t->offline = hwloc_bitmap_alloc ();
  hwloc_bitmap_andnot (t->offline, hwloc_topology_get_complete_cpuset (hw), t->online);
  t->allowed_nodes = hwloc_bitmap_dup (hwloc_topology_get_allowed_nodeset (hw));

  build_nodes_and_packages (t);
  build_cpus (t);
  node_cpus_from_pus (t);
  index_cores_by_group (t);
  index_groups_by_node (t);
  build_devices (t);
  build_distances (t);
}

static struct vdp_topology *
topology_new (VdpTopologyKind kind, const char *source)
{
  struct vdp_topology *t = g_new0 (struct vdp_topology, 1);

  t->kind = kind;
  t->source = g_strdup (source);
  t->isolated = hwloc_bitmap_alloc ();
  if (hwloc_topology_init (&t->hw) < 0)
    g_error ("hwloc_topology_init failed: %s", g_strerror (errno));
  hwloc_topology_set_flags (t->hw, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
  hwloc_topology_set_io_types_filter (t->hw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  return t;
}

struct vdp_topology *
vdp_topology_load_host (const char *sysfs_root, GError **error)
{
  g_autoptr (vdp_topology) t = topology_new (VDP_TOPOLOGY_HOST, "host");

  if (hwloc_topology_load (t->hw) < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME,
                 "cannot read the host topology: %s", g_strerror (errno));
    return NULL;
  }
  if (read_isolated (t, sysfs_root, error) < 0)
    return NULL;
  build (t);
  return g_steal_pointer (&t);
}

/* Loads @len bytes of hwloc XML (the final NUL included). */
static struct vdp_topology *
load_xml (const char *buf, int len, VdpTopologyKind kind, const char *source, GError **error)
{
  g_autoptr (vdp_topology) t = topology_new (kind, source);

  hwloc_topology_set_io_types_filter (t->hw, HWLOC_TYPE_FILTER_KEEP_ALL);
  if (hwloc_topology_set_xmlbuffer (t->hw, buf, len) < 0 || hwloc_topology_load (t->hw) < 0) {
    if (kind == VDP_TOPOLOGY_XML)
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                   "cannot load topology file '%s': not a valid hwloc XML topology", source);
    else
      g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME,
                   "cannot load the topology of %s: hwloc refused it", source);
    return NULL;
  }
  {
    g_autofree char *what = kind == VDP_TOPOLOGY_XML ? g_strdup_printf ("topology file '%s'", source)
                                                     : g_strdup_printf ("the topology of %s", source);
    if (!vdp_bounds_topology ((guint64) hwloc_get_nbobjs_by_type (t->hw, HWLOC_OBJ_PU),
                                    (guint64) hwloc_get_nbobjs_by_type (t->hw, HWLOC_OBJ_NUMANODE),
                                    what, error))
      return NULL;
  }
  build (t);
  return g_steal_pointer (&t);
}

struct vdp_topology *
vdp_topology_load_xml (const char *path, GError **error)
{
  g_autofree char *buf = NULL;
  gsize len = 0;
  struct stat st;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &st) < 0) {
    int err = errno;
    if (fd >= 0)
      close (fd);
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "cannot read topology file '%s': %s", path, g_strerror (err));
    return NULL;
  }
  close (fd);
  if (!S_ISREG (st.st_mode)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "cannot read topology file '%s': not a regular file", path);
    return NULL;
  }
  if (!vdp_bounds_file (path, "topology file", VDP_BOUND_TOPOLOGY_BYTES, error))
    return NULL;
  if (!g_file_get_contents (path, &buf, &len, NULL) || len == 0 || len > INT_MAX - 1) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "cannot read topology file '%s': %s", path,
                 len == 0 ? "file is empty" : "file is unreadable or too large");
    return NULL;
  }

  return load_xml (buf, (int) len + 1, VDP_TOPOLOGY_XML, path, error);
}

struct vdp_topology *
vdp_topology_load_xml_buffer (const char *xml, VdpTopologyKind kind, const char *source,
                              GError **error)
{
  size_t len = strlen (xml);

  if (len == 0 || len > INT_MAX - 1) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "cannot load topology of %s: %s", source,
                 len ? "too large" : "empty");
    return NULL;
  }
  return load_xml (xml, (int) len + 1, kind, source, error);
}

char *
vdp_topology_export_xml (const struct vdp_topology *t)
{
  char *buf = NULL, *out;
  int len = 0;

  if (hwloc_topology_export_xmlbuffer (t->hw, &buf, &len, 0) < 0)
    return NULL;
  out = g_strndup (buf, (gsize) MAX (len - 1, 0));
  hwloc_free_xmlbuffer (t->hw, buf);
  return out;
}

const char *
vdp_topology_kind_name (VdpTopologyKind kind)
{
  static const char *const names[] = { "host", "xml", "synthetic", "capabilities", "nodeinfo" };
  G_STATIC_ASSERT (G_N_ELEMENTS (names) == VDP_TOPOLOGY_LAST);
  return kind < VDP_TOPOLOGY_LAST ? names[kind] : "unknown";
}

struct vdp_topology *
vdp_topology_load_synthetic (const char *desc, GError **error)
{
  g_autoptr (vdp_topology) t = NULL;

  if (!vdp_bounds_synthetic (desc, error))
    return NULL;
  t = topology_new (VDP_TOPOLOGY_SYNTHETIC, desc);
  if (hwloc_topology_set_synthetic (t->hw, desc) < 0 || hwloc_topology_load (t->hw) < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "invalid synthetic topology '%s': hwloc cannot parse it "
                 "(expected e.g. 'node:2 core:4 pu:2')", desc);
    return NULL;
  }
  build (t);
  if (strstr (desc, "memory") == NULL) {
    /* hwloc makes up a size when the description gives none: unknown */
    for (size_t i = 0; i < t->n_nodes; i++)
      t->nodes[i].memory = 0;
  }
  return g_steal_pointer (&t);
}

struct vdp_topology *
vdp_topology_load (const char *spec, GError **error)
{
  if (spec == NULL)
    return vdp_topology_load_host (NULL, error);
  if (*spec == '\0') {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "empty topology argument ''");
    return NULL;
  }
  if (strchr (spec, '/') || g_str_has_suffix (spec, ".xml")
      || g_file_test (spec, G_FILE_TEST_EXISTS))
    return vdp_topology_load_xml (spec, error);
  return vdp_topology_load_synthetic (spec, error);
}

void
vdp_topology_free (struct vdp_topology *t)
{
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->n_nodes; i++) {
    hwloc_bitmap_free (t->nodes[i].cpuset);
    g_free (t->nodes[i].groups);
  }
  for (size_t i = 0; i < t->n_packages; i++) {
    hwloc_bitmap_free (t->packages[i].cpuset);
    hwloc_bitmap_free (t->packages[i].nodeset);
  }
  for (size_t i = 0; i < t->n_l3; i++) {
    hwloc_bitmap_free (t->l3[i].cpuset);
    hwloc_bitmap_free (t->l3[i].nodeset);
    g_free (t->l3[i].cores);
  }
  for (size_t i = 0; i < t->n_cores; i++)
    hwloc_bitmap_free (t->cores[i].pus);
  for (size_t i = 0; i < t->n_devices; i++) {
    g_free (t->devices[i].name);
    g_free (t->devices[i].subtype);
    g_free (t->devices[i].pci);
    g_free (t->devices[i].devid);
    hwloc_bitmap_free (t->devices[i].nodeset);
  }
  g_free (t->nodes);
  g_free (t->packages);
  g_free (t->l3);
  g_free (t->cores);
  g_free (t->pu_pos);
  g_free (t->pus);
  g_free (t->devices);
  hwloc_bitmap_free (t->online);
  hwloc_bitmap_free (t->allowed);
  hwloc_bitmap_free (t->disallowed);
  hwloc_bitmap_free (t->offline);
  hwloc_bitmap_free (t->isolated);
  hwloc_bitmap_free (t->allowed_nodes);
  g_free (t->distances);
  if (t->hw)
    hwloc_topology_destroy (t->hw);
  g_free (t->source);
  g_free (t);
}

void
vdp_topology_get_counts (const struct vdp_topology *t, struct vdp_topology_counts *c)
{
  memset (c, 0, sizeof (*c));
  for (size_t i = 0; i < t->n_nodes; i++)
    c->nodes += t->nodes[i].allowed;
  for (size_t i = 0; i < t->n_packages; i++)
    c->packages += t->packages[i].allowed;
  for (size_t i = 0; i < t->n_cores; i++)
    c->cores += t->cores[i].allowed && !t->cores[i].implicit;
  for (size_t i = 0; i < t->n_l3; i++) {
    c->llc_groups += t->l3[i].allowed;
    c->l3 += t->l3[i].allowed && strcmp (t->l3[i].kind, "L3") == 0;
  }
  for (size_t i = 0; i < t->n_pus; i++)
    c->pus += t->pus[i].allowed;
  c->pus_offline = (unsigned) hwloc_bitmap_weight (t->offline);
  c->pus_disallowed = (unsigned) hwloc_bitmap_weight (t->disallowed);
  c->pus_isolated = (unsigned) hwloc_bitmap_weight (t->isolated);
}

const struct vdp_pu *
vdp_topology_find_pu (const struct vdp_topology *t, unsigned id)
{
  if (t->pu_pos)
    return id < t->n_pu_pos && t->pu_pos[id] >= 0 ? &t->pus[t->pu_pos[id]] : NULL;
  for (size_t i = 0; i < t->n_pus; i++)
    if (t->pus[i].id == id)
      return &t->pus[i];
  return NULL;
}

const struct vdp_node *
vdp_topology_find_node (const struct vdp_topology *t, unsigned id)
{
  for (size_t i = 0; i < t->n_nodes; i++)
    if (t->nodes[i].id == id)
      return &t->nodes[i];
  return NULL;
}

const struct vdp_blockdev *
vdp_topology_find_device (const struct vdp_topology *t, const char *name)
{
  for (size_t i = 0; i < t->n_devices; i++)
    if (strcmp (t->devices[i].name, name) == 0)
      return &t->devices[i];
  return NULL;
}

/* ---- disk path → block devices -------------------------------------- */

/* Adds the leaf disks below the sysfs block directory @dir to @leaves:
 * a partition counts as its disk, a stacked device (dm, md) as the devices
 * in its slaves/ directory. */
static void
collect_leaves (const char *dir, GPtrArray *leaves, int depth)
{
  g_autofree char *partition = g_build_filename (dir, "partition", NULL);
  g_autofree char *slaves = g_build_filename (dir, "slaves", NULL);
  g_autoptr (GDir) d = NULL;
  g_autofree char *name = NULL;
  const char *entry;
  gboolean any = FALSE;

  if (depth > MAX_STACK_DEPTH)
    return;
  if (g_file_test (partition, G_FILE_TEST_EXISTS)) {
    g_autofree char *parent = g_path_get_dirname (dir);
    collect_leaves (parent, leaves, depth + 1);
    return;
  }
  d = g_dir_open (slaves, 0, NULL);
  while (d && (entry = g_dir_read_name (d)) != NULL) {
    g_autofree char *link = g_build_filename (slaves, entry, NULL);
    g_autofree char *real = realpath (link, NULL);
    if (real) {
      collect_leaves (real, leaves, depth + 1);
      any = TRUE;
    }
  }
  if (any)
    return;
  name = g_path_get_basename (dir);
  for (guint i = 0; i < leaves->len; i++)
    if (strcmp (leaves->pdata[i], name) == 0)
      return;
  g_ptr_array_add (leaves, g_steal_pointer (&name));
}

/* Finds the mount whose device is @dev in mountinfo; sets *source and
 * *fstype.  Returns FALSE when there is none. */
static gboolean
find_mount (const char *root, dev_t dev, char **source, char **fstype)
{
  g_autofree char *path = g_strconcat (root, "/proc/self/mountinfo", NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *want = g_strdup_printf ("%u:%u", major (dev), minor (dev));

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++) {
    /* id parent major:minor root mountpoint opts [optional...] - fstype source superopts */
    g_auto (GStrv) f = g_strsplit (*l, " ", -1);
    guint n = g_strv_length (f), sep;

    if (n < 7 || strcmp (f[2], want) != 0)
      continue;
    for (sep = 6; sep < n && strcmp (f[sep], "-") != 0; sep++)
      ;
    if (sep + 2 >= n)
      continue;
    *fstype = g_strdup (f[sep + 1]);
    *source = g_strdup (f[sep + 2]);
    return TRUE;
  }
  return FALSE;
}

static int
sort_names (const char *const *a, const char *const *b)
{
  return strcmp (*a, *b);
}

static char *
sysfs_block_dir (const char *root, dev_t dev)
{
  g_autofree char *link = g_strdup_printf ("%s/sys/dev/block/%u:%u", root,
                                           major (dev), minor (dev));
  return realpath (link, NULL);
}

struct vdp_disk_locality *
vdp_topology_locate_disk (const struct vdp_topology *t, const char *path, const char *root)
{
  struct vdp_disk_locality *loc = g_new0 (struct vdp_disk_locality, 1);
  g_autoptr (GPtrArray) leaves = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *sysdir = NULL;
  g_autoptr (GString) missing = g_string_new (NULL);
  g_autoptr (GString) spanning = g_string_new (NULL);
  struct stat st;
  dev_t dev;

  if (root == NULL)
    root = "";
  loc->path = g_strdup (path);
  loc->nodeset = hwloc_bitmap_alloc ();
  loc->node = -1;

  if (stat (path, &st) < 0) {
    loc->reason = g_strdup_printf ("'%s' does not exist on this host (%s)", path, g_strerror (errno));
    goto out;
  }
  if (S_ISBLK (st.st_mode)) {
    dev = st.st_rdev;
  } else if (S_ISREG (st.st_mode) || S_ISDIR (st.st_mode)) {
    dev = st.st_dev;
  } else {
    loc->reason = g_strdup_printf ("'%s' is neither a file nor a block device", path);
    goto out;
  }

  sysdir = sysfs_block_dir (root, dev);
  if (sysdir == NULL && !S_ISBLK (st.st_mode)) {
    g_autofree char *source = NULL, *fstype = NULL;
    struct stat sst;

    if (!find_mount (root, dev, &source, &fstype)) {
      loc->reason = g_strdup_printf ("the filesystem of '%s' (device %u:%u) has no block device",
                                     path, major (dev), minor (dev));
      goto out;
    }
    if (stat (source, &sst) < 0 || !S_ISBLK (sst.st_mode)) {
      loc->reason = g_strdup_printf ("'%s' is on a %s filesystem ('%s') with no local block device",
                                     path, fstype, source);
      goto out;
    }
    sysdir = sysfs_block_dir (root, sst.st_rdev);
  }
  if (sysdir == NULL) {
    loc->reason = g_strdup_printf ("block device %u:%u of '%s' is not in sysfs",
                                   major (dev), minor (dev), path);
    goto out;
  }

  collect_leaves (sysdir, leaves, 0);
  for (guint i = 0; i < leaves->len; i++) {
    const struct vdp_blockdev *bd = vdp_topology_find_device (t, leaves->pdata[i]);
    if (bd == NULL) {
      g_string_append_printf (missing, "%s%s", missing->len ? ", " : "", (char *) leaves->pdata[i]);
      continue;
    }
    if (bd->node < 0)
      g_string_append_printf (spanning, "%s%s", spanning->len ? ", " : "", bd->name);
    hwloc_bitmap_or (loc->nodeset, loc->nodeset, bd->nodeset);
  }
  g_ptr_array_sort (leaves, (GCompareFunc) sort_names);
  g_ptr_array_add (leaves, NULL);
  loc->devices = (char **) g_ptr_array_steal (leaves, NULL);

  if (missing->len) {
    loc->reason = g_strdup_printf ("block device %s of '%s' is not in the topology",
                                   missing->str, path);
  } else if (spanning->len) {
    g_autofree char *nodes = vdp_cpuset_format (loc->nodeset);
    loc->reason = g_strdup_printf ("block device %s of '%s' is attached above the NUMA nodes (nodes %s)",
                                   spanning->str, path, nodes);
  } else if (hwloc_bitmap_weight (loc->nodeset) > 1) {
    g_autofree char *nodes = vdp_cpuset_format (loc->nodeset);
    loc->reason = g_strdup_printf ("'%s' spans devices on nodes %s", path, nodes);
  } else if (hwloc_bitmap_iszero (loc->nodeset)) {
    loc->reason = g_strdup_printf ("no block device found below '%s'", path);
  } else {
    loc->node = hwloc_bitmap_first (loc->nodeset);
  }

 out:
  if (loc->devices == NULL)
    loc->devices = g_new0 (char *, 1);
  return loc;
}

void
vdp_disk_locality_free (struct vdp_disk_locality *loc)
{
  if (loc == NULL)
    return;
  g_free (loc->path);
  g_strfreev (loc->devices);
  hwloc_bitmap_free (loc->nodeset);
  g_free (loc->reason);
  g_free (loc);
}

unsigned
vdp_topology_distance (const struct vdp_topology *t, size_t a, size_t b)
{
  if (a == b)
    return 10;
  if (t->distances)
    return t->distances[a * t->n_nodes + b];
  for (size_t p = 0; p < t->n_packages; p++)
    if (hwloc_bitmap_isset (t->packages[p].nodeset, t->nodes[a].id)
        && hwloc_bitmap_isset (t->packages[p].nodeset, t->nodes[b].id))
      return 15;
  return 20;
}

gboolean
vdp_topology_check_pus (const struct vdp_topology *topo, hwloc_const_bitmap_t pus,
                        const char *what, GError **error)
{
  g_auto (VdpBitmap) known = NULL, missing = NULL;
  g_autofree char *m = NULL, *k = NULL;

  if (pus == NULL)
    return TRUE;
  known = hwloc_bitmap_alloc ();
  missing = hwloc_bitmap_alloc ();
  hwloc_bitmap_or (known, topo->online, topo->offline);
  hwloc_bitmap_andnot (missing, pus, known);
  if (hwloc_bitmap_iszero (missing))
    return TRUE;
  m = vdp_cpuset_format (missing);
  k = vdp_cpuset_format (known);
  g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: PUs %s are not on the host (%s has "
               "PUs %s)", what, m, topo->kind == VDP_TOPOLOGY_HOST ? "this host" : topo->source, k);
  return FALSE;
}
