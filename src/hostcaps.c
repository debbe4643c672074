/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A libvirt host's hardware as libvirt describes it, turned into an hwloc XML topology. */
#include <config.h>

#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "hostcaps.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"

/* ---- reading XML --------------------------------------------------------- */

/* Attribute @name of @n, stripped (g_free); NULL when absent or empty. */
static char *
attr (xmlNodePtr n, const char *name)
{
  xmlChar *v = n ? xmlGetNoNsProp (n, (const xmlChar *) name) : NULL;
  char *s;

  if (v == NULL)
    return NULL;
  s = g_strstrip (g_strdup ((const char *) v));
  xmlFree (v);
  if (*s == '\0')
    g_clear_pointer (&s, g_free);
  return s;
}

/* Text of the first node @xpath selects from @ctx's node, stripped (g_free);
 * NULL when there is none or it is empty. */
static char *
xpath_text (xmlXPathContextPtr ctx, const char *xpath)
{
  g_autoptr (xmlXPathObject) o = xmlXPathEvalExpression ((const xmlChar *) xpath, ctx);
  g_autoptr (xmlChar) v = NULL;
  char *s;

  if (o == NULL || o->nodesetval == NULL || o->nodesetval->nodeNr == 0)
    return NULL;
  v = xmlNodeGetContent (o->nodesetval->nodeTab[0]);
  if (v == NULL)
    return NULL;
  s = g_strstrip (g_strdup ((const char *) v));
  if (*s == '\0')
    g_clear_pointer (&s, g_free);
  return s;
}

/* The nodes @xpath selects from @node (may be empty; g_ptr_array_unref). */
static GPtrArray *
xpath_nodes (xmlXPathContextPtr ctx, xmlNodePtr node, const char *xpath)
{
  GPtrArray *out = g_ptr_array_new ();
  g_autoptr (xmlXPathObject) o = NULL;

  ctx->node = node;
  o = xmlXPathEvalExpression ((const xmlChar *) xpath, ctx);
  for (int i = 0; o && o->nodesetval && i < o->nodesetval->nodeNr; i++)
    g_ptr_array_add (out, o->nodesetval->nodeTab[i]);
  return out;
}

static xmlDocPtr
read_doc (const char *xml, const char *what, GError **error)
{
  xmlDocPtr doc = xml ? xmlReadMemory (xml, (int) strlen (xml), what, NULL,
                                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
                                       | XML_PARSE_NOBLANKS) : NULL;

  if (doc == NULL)
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "cannot parse the XML of %s", what);
  return doc;
}

/* Parses attribute @name of @n as a number up to @max into *out; an absent
 * attribute leaves *out as it is.  Errors quote the value. */
static gboolean
attr_number (xmlNodePtr n, const char *name, guint64 max, guint64 *out, const char *what,
             GError **error)
{
  g_autofree char *s = attr (n, name);

  if (s && !g_ascii_string_to_unsigned (s, 10, 0, max, out, NULL)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: invalid %s '%s' in <%s>", what, name,
                 s, (const char *) n->name);
    return FALSE;
  }
  return TRUE;
}

static gboolean
attr_int (xmlNodePtr n, const char *name, int *out, const char *what, GError **error)
{
  guint64 v = G_MAXUINT64;

  if (!attr_number (n, name, G_MAXINT32, &v, what, error))
    return FALSE;
  *out = v == G_MAXUINT64 ? -1 : (int) v;
  return TRUE;
}

/* Bytes in @value @unit, read as libvirt reads scaled integers ("KiB" and
 * "K" are 1024, "KB" 1000, the letter in either case); @dflt when @unit is
 * NULL.  FALSE when either is bad. */
static gboolean
scaled_bytes (const char *value, const char *unit, const char *dflt, guint64 *out)
{
  static const char letters[] = "kmgtpe";
  guint64 v, factor = 1, base;
  const char *l;

  if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, &v, NULL))
    return FALSE;
  if (unit == NULL)
    unit = dflt;
  if (g_ascii_strcasecmp (unit, "b") == 0 || g_ascii_strcasecmp (unit, "bytes") == 0) {
    *out = v;
    return TRUE;
  }
  l = unit[0] ? strchr (letters, g_ascii_tolower (unit[0])) : NULL;
  if (l == NULL)
    return FALSE;
  if (unit[1] == '\0' || g_ascii_strcasecmp (unit + 1, "iB") == 0)
    base = 1024;
  else if (g_ascii_strcasecmp (unit + 1, "B") == 0)
    base = 1000;
  else
    return FALSE;
  for (const char *p = letters; p <= l; p++)
    factor *= base;
  if (v > G_MAXUINT64 / factor)
    return FALSE;
  *out = v * factor;
  return TRUE;
}

static gboolean
attr_cpuset (xmlNodePtr n, const char *name, hwloc_bitmap_t *out, const char *what,
             GError **error)
{
  g_autofree char *s = attr (n, name);
  g_autoptr (GError) local = NULL;

  if (s == NULL)
    return TRUE;
  *out = vdp_cpuset_parse (s, &local);
  if (*out == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: %s of <%s>: %s", what, name,
                 (const char *) n->name, local->message);
    return FALSE;
  }
  return TRUE;
}

/* ---- the model ----------------------------------------------------------- */

static void
cpu_clear (gpointer p)
{
  hwloc_bitmap_free (((struct vdp_hostcaps_cpu *) p)->siblings);
}

static void
cell_clear (gpointer p)
{
  struct vdp_hostcaps_cell *c = p;
  hwloc_bitmap_free (c->cpus);
  g_free (c->distance_ids);
  g_free (c->distances);
}

static void
cache_clear (gpointer p)
{
  struct vdp_hostcaps_cache *c = p;
  g_free (c->type);
  hwloc_bitmap_free (c->cpus);
}

static void
device_clear (gpointer p)
{
  struct vdp_hostcaps_device *d = p;
  g_free (d->name);
  g_free (d->pci);
}

static struct vdp_hostcaps *
hostcaps_new (void)
{
  struct vdp_hostcaps *c = g_new0 (struct vdp_hostcaps, 1);

  c->cpus = g_array_new (FALSE, TRUE, sizeof (struct vdp_hostcaps_cpu));
  g_array_set_clear_func (c->cpus, cpu_clear);
  c->cells = g_array_new (FALSE, TRUE, sizeof (struct vdp_hostcaps_cell));
  g_array_set_clear_func (c->cells, cell_clear);
  c->caches = g_array_new (FALSE, TRUE, sizeof (struct vdp_hostcaps_cache));
  g_array_set_clear_func (c->caches, cache_clear);
  c->devices = g_array_new (FALSE, TRUE, sizeof (struct vdp_hostcaps_device));
  g_array_set_clear_func (c->devices, device_clear);
  return c;
}

void
vdp_hostcaps_free (struct vdp_hostcaps *c)
{
  if (c == NULL)
    return;
  g_free (c->uuid);
  g_free (c->arch);
  g_array_unref (c->cpus);
  g_array_unref (c->cells);
  g_array_unref (c->caches);
  g_array_unref (c->devices);
  g_free (c);
}

static gint
cmp_cpu (gconstpointer a, gconstpointer b)
{
  const struct vdp_hostcaps_cpu *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

static gint
cmp_cell (gconstpointer a, gconstpointer b)
{
  const struct vdp_hostcaps_cell *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

static gboolean
parse_cpu (xmlNodePtr n, unsigned cell, hwloc_bitmap_t seen, struct vdp_hostcaps_cpu *cpu,
           const char *what, GError **error)
{
  guint64 id = G_MAXUINT64;

  cpu->cell = cell;
  cpu->socket = cpu->die = cpu->cluster = cpu->core = -1;
  if (!attr_number (n, "id", VDP_CPUSET_MAX, &id, what, error)
      || !attr_int (n, "socket_id", &cpu->socket, what, error)
      || !attr_int (n, "die_id", &cpu->die, what, error)
      || !attr_int (n, "cluster_id", &cpu->cluster, what, error)
      || !attr_int (n, "core_id", &cpu->core, what, error)
      || !attr_cpuset (n, "siblings", &cpu->siblings, what, error))
    return FALSE;
  if (id == G_MAXUINT64) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: a <cpu> of cell %u has no id", what,
                 cell);
    return FALSE;
  }
  cpu->id = (unsigned) id;
  if (hwloc_bitmap_isset (seen, cpu->id)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: CPU %u is listed twice", what, cpu->id);
    return FALSE;
  }
  hwloc_bitmap_set (seen, cpu->id);
  /* libvirt writes the ids of online CPUs only */
  cpu->online = cpu->socket >= 0 || cpu->core >= 0 || cpu->siblings != NULL;
  if (cpu->online && cpu->socket < 0)
    cpu->socket = (int) cell;
  if (cpu->online && cpu->core < 0)
    cpu->core = (int) cpu->id;
  if (cpu->siblings == NULL)
    cpu->siblings = hwloc_bitmap_alloc ();
  hwloc_bitmap_set (cpu->siblings, cpu->id);
  return TRUE;
}

static gboolean
parse_cell (xmlXPathContextPtr ctx, xmlNodePtr n, struct vdp_hostcaps *caps, hwloc_bitmap_t seen,
            const char *what, GError **error)
{
  struct vdp_hostcaps_cell cell = { 0 };
  g_autoptr (GPtrArray) cpus = NULL, dist = NULL;
  g_autofree char *mem = NULL, *unit = NULL;
  guint64 id = G_MAXUINT64;

  if (!attr_number (n, "id", VDP_CPUSET_MAX, &id, what, error))
    return FALSE;
  if (id == G_MAXUINT64) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: a <cell> has no id", what);
    return FALSE;
  }
  cell.id = (unsigned) id;
  cell.cpus = hwloc_bitmap_alloc ();
  ctx->node = n;
  mem = xpath_text (ctx, "memory");
  if (mem) {
    g_autoptr (GPtrArray) m = xpath_nodes (ctx, n, "memory");
    unit = attr (m->pdata[0], "unit");
    if (!scaled_bytes (mem, unit, "KiB", &cell.memory)) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: cell %u: invalid memory '%s %s'", what,
                   cell.id, mem, unit ? unit : "");
      cell_clear (&cell);
      return FALSE;
    }
  }
  dist = xpath_nodes (ctx, n, "distances/sibling");
  cell.distance_ids = g_new0 (unsigned, MAX (dist->len, 1));
  cell.distances = g_new0 (unsigned, MAX (dist->len, 1));
  for (guint i = 0; i < dist->len; i++) {
    guint64 sid = G_MAXUINT64, value = G_MAXUINT64;
    if (!attr_number (dist->pdata[i], "id", VDP_CPUSET_MAX, &sid, what, error)
        || !attr_number (dist->pdata[i], "value", 255, &value, what, error)) {
      cell_clear (&cell);
      return FALSE;
    }
    if (sid == G_MAXUINT64 || value == G_MAXUINT64)
      continue;
    cell.distance_ids[cell.n_distances] = (unsigned) sid;
    cell.distances[cell.n_distances++] = (unsigned) value;
  }
  cpus = xpath_nodes (ctx, n, "cpus/cpu");
  for (guint i = 0; i < cpus->len; i++) {
    struct vdp_hostcaps_cpu cpu = { 0 };
    if (!parse_cpu (cpus->pdata[i], cell.id, seen, &cpu, what, error)) {
      cpu_clear (&cpu);
      cell_clear (&cell);
      return FALSE;
    }
    if (cpu.online)
      hwloc_bitmap_set (cell.cpus, cpu.id);
    g_array_append_val (caps->cpus, cpu);
  }
  for (guint i = 0; i < caps->cells->len; i++)
    if (g_array_index (caps->cells, struct vdp_hostcaps_cell, i).id == cell.id) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: cell %u is listed twice", what,
                   cell.id);
      cell_clear (&cell);
      return FALSE;
    }
  g_array_append_val (caps->cells, cell);
  return TRUE;
}

static gboolean
parse_bank (xmlNodePtr n, struct vdp_hostcaps *caps, const char *what, GError **error)
{
  struct vdp_hostcaps_cache c = { 0 };
  guint64 id = 0, level = 0;
  g_autofree char *size = attr (n, "size"), *unit = attr (n, "unit");

  if (!attr_number (n, "id", G_MAXUINT32, &id, what, error)
      || !attr_number (n, "level", 16, &level, what, error)
      || !attr_cpuset (n, "cpus", &c.cpus, what, error))
    return FALSE;
  c.id = (unsigned) id;
  c.level = (unsigned) level;
  c.type = attr (n, "type");
  if (!scaled_bytes (size, unit, "b", &c.size) || c.cpus == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: cache bank %u: invalid size or cpus",
                 what, c.id);
    cache_clear (&c);
    return FALSE;
  }
  g_array_append_val (caps->caches, c);
  return TRUE;
}

struct vdp_hostcaps *
vdp_hostcaps_parse (const char *xml, const char *what, GError **error)
{
  g_autoptr (xmlDoc) doc = read_doc (xml, what, error);
  g_autoptr (xmlXPathContext) ctx = NULL;
  g_autoptr (vdp_hostcaps) caps = NULL;
  g_autoptr (GPtrArray) cells = NULL, banks = NULL;
  g_auto (VdpBitmap) seen = hwloc_bitmap_alloc ();
  xmlNodePtr root;

  if (doc == NULL)
    return NULL;
  root = xmlDocGetRootElement (doc);
  if (root == NULL || strcmp ((const char *) root->name, "capabilities") != 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: the root element is not <capabilities>",
                 what);
    return NULL;
  }
  caps = hostcaps_new ();
  ctx = xmlXPathNewContext (doc);
  ctx->node = root;
  caps->uuid = xpath_text (ctx, "/capabilities/host/uuid");
  caps->arch = xpath_text (ctx, "/capabilities/host/cpu/arch");
  cells = xpath_nodes (ctx, root, "/capabilities/host/topology/cells/cell");
  for (guint i = 0; i < cells->len; i++)
    if (!parse_cell (ctx, cells->pdata[i], caps, seen, what, error))
      return NULL;
  banks = xpath_nodes (ctx, root, "/capabilities/host/cache/bank");
  for (guint i = 0; i < banks->len; i++)
    if (!parse_bank (banks->pdata[i], caps, what, error))
      return NULL;
  g_array_sort (caps->cpus, cmp_cpu);
  g_array_sort (caps->cells, cmp_cell);
  return g_steal_pointer (&caps);
}

struct vdp_hostcaps *
vdp_hostcaps_from_counts (unsigned nodes, unsigned sockets, unsigned cores, unsigned threads,
                          unsigned cpus, uint64_t memory)
{
  struct vdp_hostcaps *caps = hostcaps_new ();
  unsigned total, id = 0;

  nodes = MAX (nodes, 1);
  sockets = MAX (sockets, 1);
  cores = MAX (cores, 1);
  threads = MAX (threads, 1);
  total = nodes * sockets * cores * threads;
  /* more active CPUs than the counts multiply to: extra single-thread
   * cores in the last socket */
  for (unsigned n = 0; n < nodes; n++) {
    /* the remainder of the split on the last node: the nodes add up */
    struct vdp_hostcaps_cell cell = { .id = n, .memory = memory / nodes
                                      + (n + 1 == nodes ? memory % nodes : 0) };
    unsigned last = n + 1 == nodes ? MAX (cpus, total) - total : 0;

    cell.cpus = hwloc_bitmap_alloc ();
    cell.distance_ids = g_new0 (unsigned, 1);
    cell.distances = g_new0 (unsigned, 1);
    for (unsigned s = 0; s < sockets; s++)
      for (unsigned c = 0; c < cores + (s + 1 == sockets ? last : 0); c++) {
        unsigned first = id;
        unsigned nt = c < cores ? threads : 1;
        for (unsigned t = 0; t < nt; t++, id++) {
          struct vdp_hostcaps_cpu cpu = {
            .id = id, .cell = n, .online = id < cpus, .socket = (int) (n * sockets + s),
            .die = 0, .cluster = -1, .core = (int) c,
          };
          cpu.siblings = hwloc_bitmap_alloc ();
          hwloc_bitmap_set_range (cpu.siblings, first, (int) (first + nt - 1));
          if (!cpu.online)
            cpu.socket = cpu.die = cpu.core = -1;
          else
            hwloc_bitmap_set (cell.cpus, id);
          g_array_append_val (caps->cpus, cpu);
        }
      }
    g_array_append_val (caps->cells, cell);
  }
  return caps;
}

hwloc_bitmap_t
vdp_hostcaps_online (const struct vdp_hostcaps *caps)
{
  hwloc_bitmap_t set = hwloc_bitmap_alloc ();

  for (guint i = 0; i < caps->cpus->len; i++) {
    const struct vdp_hostcaps_cpu *c = &g_array_index (caps->cpus, struct vdp_hostcaps_cpu, i);
    if (c->online)
      hwloc_bitmap_set (set, c->id);
  }
  return set;
}

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
  hwloc_const_bitmap_t complete_nodes;
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
  w.complete_nodes = nodes;
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

/* ---- node devices and storage ---------------------------------------------- */

static unsigned
hex_or_dec (const char *s)
{
  return s ? (unsigned) g_ascii_strtoull (s, NULL, g_str_has_prefix (s, "0x") ? 16 : 10) : 0;
}

gboolean
vdp_nodedev_parse (const char *xml, struct vdp_nodedev *out, GError **error)
{
  g_autoptr (xmlDoc) doc = read_doc (xml, "a node device", error);
  g_autoptr (xmlXPathContext) ctx = NULL;
  g_autoptr (GPtrArray) numa = NULL;

  memset (out, 0, sizeof (*out));
  out->node = -1;
  if (doc == NULL)
    return FALSE;
  ctx = xmlXPathNewContext (doc);
  ctx->node = xmlDocGetRootElement (doc);
  out->name = xpath_text (ctx, "/device/name");
  if (out->name == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "a node device without a name");
    return FALSE;
  }
  out->parent = xpath_text (ctx, "/device/parent");
  out->block = xpath_text (ctx, "/device/capability[@type='storage']/block");
  numa = xpath_nodes (ctx, ctx->node, "/device/capability[@type='pci']");
  if (numa->len) {
    g_autofree char *dom = NULL, *bus = NULL, *slot = NULL, *fn = NULL, *cls = NULL;
    g_autofree char *vendor = NULL, *product = NULL;
    g_autoptr (GPtrArray) ids = NULL;

    ctx->node = xmlDocGetRootElement (doc);
    dom = xpath_text (ctx, "/device/capability[@type='pci']/domain");
    bus = xpath_text (ctx, "/device/capability[@type='pci']/bus");
    slot = xpath_text (ctx, "/device/capability[@type='pci']/slot");
    fn = xpath_text (ctx, "/device/capability[@type='pci']/function");
    cls = xpath_text (ctx, "/device/capability[@type='pci']/class");
    out->pci = TRUE;
    out->pci_address = g_strdup_printf ("%04x:%02x:%02x.%x", hex_or_dec (dom), hex_or_dec (bus),
                                        hex_or_dec (slot), hex_or_dec (fn));
    out->pci_class = hex_or_dec (cls);
    ids = xpath_nodes (ctx, xmlDocGetRootElement (doc), "/device/capability[@type='pci']/vendor");
    if (ids->len) {
      vendor = attr (ids->pdata[0], "id");
      out->pci_vendor = hex_or_dec (vendor);
    }
    g_ptr_array_unref (ids);
    ids = xpath_nodes (ctx, xmlDocGetRootElement (doc), "/device/capability[@type='pci']/product");
    if (ids->len) {
      product = attr (ids->pdata[0], "id");
      out->pci_device = hex_or_dec (product);
    }
    g_ptr_array_unref (numa);
    numa = xpath_nodes (ctx, xmlDocGetRootElement (doc), "/device/capability[@type='pci']/numa");
    if (numa->len) {
      g_autofree char *node = attr (numa->pdata[0], "node");
      guint64 v;
      if (node && g_ascii_string_to_unsigned (node, 10, 0, VDP_CPUSET_MAX, &v, NULL))
        out->node = (int) v;
    }
  }
  return TRUE;
}

void
vdp_nodedev_clear (struct vdp_nodedev *d)
{
  g_free (d->name);
  g_free (d->parent);
  g_free (d->block);
  g_free (d->pci_address);
  memset (d, 0, sizeof (*d));
}

gboolean
vdp_pool_parse (const char *xml, struct vdp_pool_info *out, GError **error)
{
  g_autoptr (xmlDoc) doc = read_doc (xml, "a storage pool", error);
  g_autoptr (xmlXPathContext) ctx = NULL;
  g_autoptr (GPtrArray) devs = NULL;
  g_autoptr (GPtrArray) paths = g_ptr_array_new ();
  xmlNodePtr root;

  memset (out, 0, sizeof (*out));
  if (doc == NULL)
    return FALSE;
  root = xmlDocGetRootElement (doc);
  ctx = xmlXPathNewContext (doc);
  ctx->node = root;
  out->type = attr (root, "type");
  out->name = xpath_text (ctx, "/pool/name");
  out->target = xpath_text (ctx, "/pool/target/path");
  devs = xpath_nodes (ctx, root, "/pool/source/device");
  for (guint i = 0; i < devs->len; i++) {
    char *p = attr (devs->pdata[i], "path");
    if (p)
      g_ptr_array_add (paths, p);
  }
  g_ptr_array_add (paths, NULL);
  out->devices = (char **) g_ptr_array_steal (paths, NULL);
  return TRUE;
}

void
vdp_pool_info_clear (struct vdp_pool_info *p)
{
  g_free (p->name);
  g_free (p->type);
  g_free (p->target);
  g_strfreev (p->devices);
  memset (p, 0, sizeof (*p));
}

char *
vdp_volume_type (const char *xml)
{
  g_autoptr (xmlDoc) doc = read_doc (xml, "a volume", NULL);

  return doc ? attr (xmlDocGetRootElement (doc), "type") : NULL;
}

/* ---- identity --------------------------------------------------------------- */

static bool
memory_close (uint64_t a, uint64_t b)
{
  uint64_t d = a > b ? a - b : b - a;
  return d <= MAX (a, b) / 100;
}

/* Whether two hostnames name the same machine: equal, or the same first
 * label when one is qualified (libvirt canonicalises to the FQDN where it
 * resolves, gethostname() often does not). */
static bool
same_hostname (const char *a, const char *b)
{
  size_t la, lb;

  if (a == NULL || b == NULL)
    return false;
  if (g_ascii_strcasecmp (a, b) == 0)
    return true;
  la = strcspn (a, ".");
  lb = strcspn (b, ".");
  return la == lb && (a[la] == '\0') != (b[lb] == '\0') && g_ascii_strncasecmp (a, b, la) == 0;
}

bool
vdp_host_identity_same (const struct vdp_host_identity *remote,
                        const struct vdp_host_identity *here, const char *const *here_uuids,
                        char **why)
{
  if (remote->simulated) {
    *why = g_strdup ("libvirt's test driver simulates its host");
    return false;
  }
  for (const char *const *u = here_uuids; remote->uuid && u && *u; u++)
    if (g_ascii_strcasecmp (remote->uuid, *u) == 0) {
      *why = g_strdup_printf ("its host UUID %s is this machine's", remote->uuid);
      return true;
    }
  if (!same_hostname (remote->hostname, here->hostname)) {
    *why = g_strdup_printf ("its hostname '%s' is not this machine's ('%s')",
                            remote->hostname ? remote->hostname : "", here->hostname);
    return false;
  }
  if (remote->cpus == NULL || here->cpus == NULL || !hwloc_bitmap_isequal (remote->cpus, here->cpus)) {
    *why = g_strdup_printf ("its hostname '%s' is this machine's but not its CPUs",
                            here->hostname);
    return false;
  }
  if (remote->n_cells != here->n_cells) {
    *why = g_strdup_printf ("its hostname '%s' is this machine's but not its NUMA nodes",
                            here->hostname);
    return false;
  }
  for (unsigned i = 0; i < remote->n_cells; i++)
    if (!memory_close (remote->cell_memory[i], here->cell_memory[i])) {
      *why = g_strdup_printf ("its hostname '%s' is this machine's but not the memory of node %u",
                              here->hostname, i);
      return false;
    }
  *why = g_strdup_printf ("same hostname '%s', CPUs and memory as this machine", here->hostname);
  return true;
}
