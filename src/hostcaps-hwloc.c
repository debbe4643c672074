/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A libvirt host's hardware model written as an hwloc XML (v2) topology. */
#include <config.h>

#include <string.h>

#include <libxml/tree.h>

#include "hostcaps.h"
#include "util/cleanup.h"
#include "util/error.h"

/* ---- the hwloc tree ------------------------------------------------------ */

/* Nesting order of objects with the same CPUs, outermost first. */
enum { RANK_PACKAGE, RANK_GROUP, RANK_DIE, RANK_L3, RANK_CORE, RANK_PU };

struct obj {
  int rank;
  unsigned os_index;
  hwloc_bitmap_t cpuset;
  uint64_t cache_size;
  struct obj *parent;
  GPtrArray *children;      /* struct obj */
  GPtrArray *memory;        /* const struct vdp_hostcaps_cell */
  GPtrArray *io;            /* const struct vdp_hostcaps_device, PCI ones grouped later */
  hwloc_bitmap_t nodeset;
};

static struct obj *
obj_new (int rank, unsigned os_index, hwloc_const_bitmap_t cpuset)
{
  struct obj *o = g_new0 (struct obj, 1);

  o->rank = rank;
  o->os_index = os_index;
  o->cpuset = hwloc_bitmap_dup (cpuset);
  o->children = g_ptr_array_new ();
  o->memory = g_ptr_array_new ();
  o->io = g_ptr_array_new ();
  o->nodeset = hwloc_bitmap_alloc ();
  return o;
}

static void
obj_free (gpointer p)
{
  struct obj *o = p;
  hwloc_bitmap_free (o->cpuset);
  hwloc_bitmap_free (o->nodeset);
  g_ptr_array_unref (o->children);
  g_ptr_array_unref (o->memory);
  g_ptr_array_unref (o->io);
  g_free (o);
}

/* Whether @a and @b nest or are disjoint, as hwloc needs. */
static bool
laminar (hwloc_const_bitmap_t a, hwloc_const_bitmap_t b)
{
  return !hwloc_bitmap_intersects (a, b) || hwloc_bitmap_isincluded (a, b)
         || hwloc_bitmap_isincluded (b, a);
}

/* Adds a candidate unless it crosses one already taken. */
static void
take (GPtrArray *objs, struct obj *o)
{
  for (guint i = 0; i < objs->len; i++)
    if (!laminar (((struct obj *) objs->pdata[i])->cpuset, o->cpuset)) {
      obj_free (o);
      return;
    }
  g_ptr_array_add (objs, o);
}

static const struct obj *
find_equal (GPtrArray *objs, hwloc_const_bitmap_t set, int max_rank)
{
  const struct obj *best = NULL;

  for (guint i = 0; i < objs->len; i++) {
    const struct obj *o = objs->pdata[i];
    if (o->rank <= max_rank && hwloc_bitmap_isequal (o->cpuset, set)
        && (best == NULL || o->rank < best->rank))
      best = o;
  }
  return best;
}

static gint
cmp_obj (gconstpointer a, gconstpointer b)
{
  const struct obj *x = *(const struct obj *const *) a, *y = *(const struct obj *const *) b;
  int wx = hwloc_bitmap_weight (x->cpuset), wy = hwloc_bitmap_weight (y->cpuset);

  if (wx != wy)
    return wy - wx;
  if (x->rank != y->rank)
    return x->rank - y->rank;
  return hwloc_bitmap_compare_first (x->cpuset, y->cpuset);
}

/* Key of a core: the ids that tell cores apart. */
static char *
core_key (const struct vdp_hostcaps_cpu *c)
{
  return g_strdup_printf ("%d/%d/%d/%d", c->socket, c->die, c->cluster, c->core);
}

/* Groups the online CPUs by @key into new objects of @rank. */
static void
group_cpus (const struct vdp_hostcaps *caps, int rank, GPtrArray *out,
            char *(*key) (const struct vdp_hostcaps_cpu *), unsigned (*os_index) (const struct vdp_hostcaps_cpu *))
{
  g_autoptr (GHashTable) by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) made = g_ptr_array_new ();

  for (guint i = 0; i < caps->cpus->len; i++) {
    const struct vdp_hostcaps_cpu *c = &g_array_index (caps->cpus, struct vdp_hostcaps_cpu, i);
    char *k;
    struct obj *o;

    if (!c->online)
      continue;
    k = key (c);
    o = g_hash_table_lookup (by_key, k);
    if (o == NULL) {
      g_auto (VdpBitmap) one = hwloc_bitmap_alloc ();
      hwloc_bitmap_set (one, c->id);
      o = obj_new (rank, os_index (c), one);
      g_hash_table_insert (by_key, k, o);
      g_ptr_array_add (made, o);
    } else {
      hwloc_bitmap_set (o->cpuset, c->id);
      g_free (k);
    }
  }
  g_ptr_array_extend (out, made, NULL, NULL);
}

static char *
package_key (const struct vdp_hostcaps_cpu *c)
{
  return g_strdup_printf ("%d", c->socket);
}

static char *
die_key (const struct vdp_hostcaps_cpu *c)
{
  return g_strdup_printf ("%d/%d", c->socket, c->die);
}

static char *
pu_key (const struct vdp_hostcaps_cpu *c)
{
  return g_strdup_printf ("%u", c->id);
}

static unsigned
socket_index (const struct vdp_hostcaps_cpu *c)
{
  return (unsigned) MAX (c->socket, 0);
}

static unsigned
die_index (const struct vdp_hostcaps_cpu *c)
{
  return (unsigned) MAX (c->die, 0);
}

static unsigned
core_index (const struct vdp_hostcaps_cpu *c)
{
  return (unsigned) MAX (c->core, 0);
}

static unsigned
cpu_index (const struct vdp_hostcaps_cpu *c)
{
  return c->id;
}

/* The objects of the tree below the machine, in the order they nest. */
static GPtrArray *
collect_objects (const struct vdp_hostcaps *caps)
{
  GPtrArray *objs = g_ptr_array_new_with_free_func (obj_free);
  g_autoptr (GPtrArray) pkgs = g_ptr_array_new (), dies = g_ptr_array_new ();
  g_autoptr (GPtrArray) groups = g_ptr_array_new ();

  group_cpus (caps, RANK_PU, objs, pu_key, cpu_index);
  group_cpus (caps, RANK_CORE, objs, core_key, core_index);
  /* cells before packages, dies and caches: an object crossing a cell is
   * what gets left out */
  for (guint i = 0; i < caps->cells->len; i++) {
    const struct vdp_hostcaps_cell *cell = &g_array_index (caps->cells, struct vdp_hostcaps_cell, i);
    if (!hwloc_bitmap_iszero (cell->cpus))
      g_ptr_array_add (groups, obj_new (RANK_GROUP, cell->id, cell->cpus));
  }
  group_cpus (caps, RANK_PACKAGE, pkgs, package_key, socket_index);
  group_cpus (caps, RANK_DIE, dies, die_key, die_index);
  for (guint i = 0; i < groups->len; i++)
    take (objs, groups->pdata[i]);
  for (guint i = 0; i < pkgs->len; i++)
    take (objs, pkgs->pdata[i]);
  /* a die level only where a package has several */
  for (guint i = 0; i < dies->len; i++) {
    struct obj *d = dies->pdata[i];
    if (find_equal (objs, d->cpuset, RANK_PACKAGE))
      obj_free (d);
    else
      take (objs, d);
  }
  for (guint i = 0; i < caps->caches->len; i++) {
    const struct vdp_hostcaps_cache *c = &g_array_index (caps->caches, struct vdp_hostcaps_cache, i);
    g_auto (VdpBitmap) online = vdp_hostcaps_online (caps);
    struct obj *o;

    if (c->level != 3 || g_strcmp0 (c->type, "code") == 0)
      continue;
    hwloc_bitmap_and (online, online, c->cpus);
    if (hwloc_bitmap_iszero (online))
      continue;
    o = obj_new (RANK_L3, c->id, online);
    o->cache_size = c->size;
    take (objs, o);
  }
  /* a cell's group is needed only where no other object has its CPUs */
  for (guint i = 0; i < objs->len; ) {
    struct obj *o = objs->pdata[i];
    if (o->rank == RANK_GROUP) {
      gboolean other = FALSE;
      for (guint k = 0; k < objs->len; k++) {
        const struct obj *p = objs->pdata[k];
        other |= p != o && p->rank != RANK_GROUP && hwloc_bitmap_isequal (p->cpuset, o->cpuset);
      }
      if (other) {
        g_ptr_array_remove_index (objs, i);
        continue;
      }
    }
    i++;
  }
  g_ptr_array_sort (objs, cmp_obj);
  return objs;
}

/* Hangs every object under the deepest one containing it. */
static void
build_tree (struct obj *root, GPtrArray *objs)
{
  for (guint i = 0; i < objs->len; i++) {
    struct obj *o = objs->pdata[i], *parent = root;
    gboolean deeper = TRUE;

    while (deeper) {
      deeper = FALSE;
      for (guint k = 0; k < parent->children->len; k++) {
        struct obj *c = parent->children->pdata[k];
        if (hwloc_bitmap_isincluded (o->cpuset, c->cpuset)) {
          parent = c;
          deeper = TRUE;
          break;
        }
      }
    }
    o->parent = parent;
    g_ptr_array_add (parent->children, o);
  }
}

static gint
cmp_first (gconstpointer a, gconstpointer b)
{
  const struct obj *x = *(const struct obj *const *) a, *y = *(const struct obj *const *) b;
  return hwloc_bitmap_compare_first (x->cpuset, y->cpuset);
}

/* hwloc wants siblings in the order of their first CPU. */
static void
sort_children (struct obj *o)
{
  g_ptr_array_sort (o->children, cmp_first);
  for (guint i = 0; i < o->children->len; i++)
    sort_children (o->children->pdata[i]);
}

/* The outermost object with exactly @set, or NULL. */
static struct obj *
find_in_tree (struct obj *o, hwloc_const_bitmap_t set)
{
  if (hwloc_bitmap_isequal (o->cpuset, set))
    return o;
  for (guint i = 0; i < o->children->len; i++) {
    struct obj *c = o->children->pdata[i];
    if (hwloc_bitmap_isincluded (set, c->cpuset))
      return find_in_tree (c, set);
  }
  return NULL;
}

/* Nodes attached at or below @o. */
static void
nodes_below (struct obj *o)
{
  for (guint i = 0; i < o->memory->len; i++)
    hwloc_bitmap_set (o->nodeset, ((const struct vdp_hostcaps_cell *) o->memory->pdata[i])->id);
  for (guint i = 0; i < o->children->len; i++) {
    struct obj *c = o->children->pdata[i];
    nodes_below (c);
    hwloc_bitmap_or (o->nodeset, o->nodeset, c->nodeset);
  }
}

/* hwloc counts the nodes attached above an object as local to it too. */
static void
nodes_above (struct obj *o, hwloc_const_bitmap_t above)
{
  g_auto (VdpBitmap) here = hwloc_bitmap_dup (above);

  for (guint i = 0; i < o->memory->len; i++)
    hwloc_bitmap_set (here, ((const struct vdp_hostcaps_cell *) o->memory->pdata[i])->id);
  hwloc_bitmap_or (o->nodeset, o->nodeset, above);
  for (guint i = 0; i < o->children->len; i++)
    nodes_above (o->children->pdata[i], here);
}

/* ---- writing hwloc XML ----------------------------------------------------- */

struct writer {
  unsigned gp;              /* next gp_index */
};

static void
set_bitmap (xmlNodePtr n, const char *name, hwloc_const_bitmap_t set)
{
  char *s = NULL;

  hwloc_bitmap_asprintf (&s, set);
  xmlNewProp (n, (const xmlChar *) name, (const xmlChar *) s);
  free (s);
}

static void
set_uint (xmlNodePtr n, const char *name, guint64 v)
{
  g_autofree char *s = g_strdup_printf ("%" G_GUINT64_FORMAT, v);
  xmlNewProp (n, (const xmlChar *) name, (const xmlChar *) s);
}

static xmlNodePtr
new_object (struct writer *w, xmlNodePtr parent, const char *type)
{
  xmlNodePtr n = xmlNewChild (parent, NULL, (const xmlChar *) "object", NULL);

  xmlNewProp (n, (const xmlChar *) "type", (const xmlChar *) type);
  set_uint (n, "gp_index", w->gp++);
  return n;
}

static void
set_sets (xmlNodePtr n, hwloc_const_bitmap_t cpuset, hwloc_const_bitmap_t nodeset)
{
  set_bitmap (n, "cpuset", cpuset);
  set_bitmap (n, "complete_cpuset", cpuset);
  set_bitmap (n, "nodeset", nodeset);
  set_bitmap (n, "complete_nodeset", nodeset);
}

static void
write_memory (struct writer *w, xmlNodePtr parent, const struct obj *o)
{
  for (guint i = 0; i < o->memory->len; i++) {
    const struct vdp_hostcaps_cell *cell = o->memory->pdata[i];
    xmlNodePtr n = new_object (w, parent, "NUMANode");
    g_auto (VdpBitmap) ns = hwloc_bitmap_alloc ();

    hwloc_bitmap_set (ns, cell->id);
    set_uint (n, "os_index", cell->id);
    set_sets (n, o->cpuset, ns);
    if (cell->memory)
      set_uint (n, "local_memory", cell->memory);
  }
}

static void
write_io (struct writer *w, xmlNodePtr parent, const struct obj *o)
{
  g_autoptr (GHashTable) pcidevs = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < o->io->len; i++) {
    const struct vdp_hostcaps_device *d = o->io->pdata[i];
    xmlNodePtr under = parent, n;

    if (d->pci) {
      under = g_hash_table_lookup (pcidevs, d->pci);
      if (under == NULL) {
        g_autofree char *type = g_strdup_printf ("%04x [%04x:%04x] [0000:0000] 00",
                                                 d->pci_class >> 8, d->pci_vendor, d->pci_device);
        under = new_object (w, parent, "PCIDev");
        xmlNewProp (under, (const xmlChar *) "pci_busid", (const xmlChar *) d->pci);
        xmlNewProp (under, (const xmlChar *) "pci_type", (const xmlChar *) type);
        g_hash_table_insert (pcidevs, d->pci, under);
      }
    }
    n = new_object (w, under, "OSDev");
    xmlNewProp (n, (const xmlChar *) "name", (const xmlChar *) d->name);
    xmlNewProp (n, (const xmlChar *) "osdev_type", (const xmlChar *) "0");
  }
}

static void
write_object (struct writer *w, xmlNodePtr parent, const struct obj *o)
{
  static const char *const types[] = { "Package", "Group", "Die", "L3Cache", "Core", "PU" };
  xmlNodePtr n = new_object (w, parent, types[o->rank]);

  if (o->rank != RANK_GROUP)
    set_uint (n, "os_index", o->os_index);
  set_sets (n, o->cpuset, o->nodeset);
  if (o->rank == RANK_L3) {
    set_uint (n, "cache_size", o->cache_size);
    set_uint (n, "depth", 3);
    set_uint (n, "cache_linesize", 64);
    set_uint (n, "cache_associativity", 0);
    set_uint (n, "cache_type", 0);
  }
  write_memory (w, n, o);
  for (guint i = 0; i < o->children->len; i++)
    write_object (w, n, o->children->pdata[i]);
  write_io (w, n, o);
}

/* The cell distance matrix as hwloc XML, when every pair is known. */
static void
write_distances (xmlNodePtr topo, const struct vdp_hostcaps *caps)
{
  guint n = caps->cells->len;
  g_autoptr (GString) idx = g_string_new (NULL), vals = g_string_new (NULL);
  xmlNodePtr d, c;

  if (n < 2)
    return;
  for (guint i = 0; i < n; i++) {
    const struct vdp_hostcaps_cell *a = &g_array_index (caps->cells, struct vdp_hostcaps_cell, i);
    g_string_append_printf (idx, "%u ", a->id);
    for (guint j = 0; j < n; j++) {
      unsigned id = g_array_index (caps->cells, struct vdp_hostcaps_cell, j).id;
      gboolean found = FALSE;
      for (unsigned k = 0; k < a->n_distances && !found; k++)
        if (a->distance_ids[k] == id) {
          g_string_append_printf (vals, "%u ", a->distances[k]);
          found = TRUE;
        }
      if (!found)
        return;
    }
  }
  d = xmlNewChild (topo, NULL, (const xmlChar *) "distances2", NULL);
  xmlNewProp (d, (const xmlChar *) "type", (const xmlChar *) "NUMANode");
  set_uint (d, "nbobjs", n);
  set_uint (d, "kind", HWLOC_DISTANCES_KIND_FROM_OS | HWLOC_DISTANCES_KIND_MEANS_LATENCY);
  xmlNewProp (d, (const xmlChar *) "name", (const xmlChar *) "NUMALatency");
  xmlNewProp (d, (const xmlChar *) "indexing", (const xmlChar *) "os");
  c = xmlNewTextChild (d, NULL, (const xmlChar *) "indexes", (const xmlChar *) idx->str);
  set_uint (c, "length", idx->len);
  c = xmlNewTextChild (d, NULL, (const xmlChar *) "u64values", (const xmlChar *) vals->str);
  set_uint (c, "length", vals->len);
}

char *
vdp_hostcaps_to_hwloc_xml (const struct vdp_hostcaps *caps, GError **error)
{
  g_auto (VdpBitmap) online = vdp_hostcaps_online (caps);
  g_auto (VdpBitmap) complete = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) nodes = hwloc_bitmap_alloc ();
  g_autoptr (GPtrArray) objs = NULL;
  g_autoptr (xmlDoc) doc = NULL;
  struct obj *root;
  struct writer w = { .gp = 1 };
  xmlNodePtr topo, machine;
  xmlChar *mem = NULL;
  int len = 0;
  char *out;

  if (hwloc_bitmap_iszero (online)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "the host has no online CPU");
    return NULL;
  }
  for (guint i = 0; i < caps->cpus->len; i++)
    hwloc_bitmap_set (complete, g_array_index (caps->cpus, struct vdp_hostcaps_cpu, i).id);
  root = obj_new (-1, 0, online);
  objs = collect_objects (caps);
  build_tree (root, objs);
  sort_children (root);
  for (guint i = 0; i < caps->cells->len; i++) {
    const struct vdp_hostcaps_cell *cell = &g_array_index (caps->cells, struct vdp_hostcaps_cell, i);
    struct obj *at = hwloc_bitmap_iszero (cell->cpus) ? root : find_in_tree (root, cell->cpus);
    g_ptr_array_add ((at ? at : root)->memory, (gpointer) cell);
    hwloc_bitmap_set (nodes, cell->id);
  }
  if (caps->cells->len == 0) {
    /* a host without NUMA information: one node of unknown size */
    static const struct vdp_hostcaps_cell whole = { 0 };
    g_ptr_array_add (root->memory, (gpointer) &whole);
    hwloc_bitmap_set (nodes, 0);
  }
  for (guint i = 0; i < caps->devices->len; i++) {
    const struct vdp_hostcaps_device *d = &g_array_index (caps->devices, struct vdp_hostcaps_device, i);
    struct obj *at = root;
    for (guint k = 0; d->node >= 0 && k < caps->cells->len; k++) {
      const struct vdp_hostcaps_cell *cell = &g_array_index (caps->cells, struct vdp_hostcaps_cell, k);
      if (cell->id == (unsigned) d->node && !hwloc_bitmap_iszero (cell->cpus))
        at = find_in_tree (root, cell->cpus);
    }
    g_ptr_array_add ((at ? at : root)->io, (gpointer) d);
  }
  nodes_below (root);
  {
    g_auto (VdpBitmap) none = hwloc_bitmap_alloc ();
    nodes_above (root, none);
  }
  hwloc_bitmap_or (complete, complete, online);

  doc = xmlNewDoc ((const xmlChar *) "1.0");
  xmlCreateIntSubset (doc, (const xmlChar *) "topology", NULL, (const xmlChar *) "hwloc2.dtd");
  topo = xmlNewDocNode (doc, NULL, (const xmlChar *) "topology", NULL);
  xmlDocSetRootElement (doc, topo);
  xmlNewProp (topo, (const xmlChar *) "version", (const xmlChar *) "2.0");
  machine = new_object (&w, topo, "Machine");
  set_uint (machine, "os_index", 0);
  set_bitmap (machine, "cpuset", online);
  set_bitmap (machine, "complete_cpuset", complete);
  set_bitmap (machine, "allowed_cpuset", online);
  set_bitmap (machine, "nodeset", nodes);
  set_bitmap (machine, "complete_nodeset", nodes);
  set_bitmap (machine, "allowed_nodeset", nodes);
  if (caps->arch) {
    xmlNodePtr info = xmlNewChild (machine, NULL, (const xmlChar *) "info", NULL);
    xmlNewProp (info, (const xmlChar *) "name", (const xmlChar *) "Architecture");
    xmlNewProp (info, (const xmlChar *) "value", (const xmlChar *) caps->arch);
  }
  write_memory (&w, machine, root);
  for (guint i = 0; i < root->children->len; i++)
    write_object (&w, machine, root->children->pdata[i]);
  write_io (&w, machine, root);
  write_distances (topo, caps);

  xmlDocDumpFormatMemoryEnc (doc, &mem, &len, "UTF-8", 1);
  out = g_strndup ((const char *) mem, (gsize) len);
  xmlFree (mem);
  /* the root is not in objs */
  g_ptr_array_set_size (root->children, 0);
  obj_free (root);
  return out;
}
