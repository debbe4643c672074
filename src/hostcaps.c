/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A libvirt host's hardware as libvirt describes it: capabilities, node info, node devices, pools. */
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
