/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parses the tunable parts of a libvirt domain XML with libxml2 XPath. */
#include <config.h>

#include <string.h>

#include <libxml/parser.h>

#include "domain.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"

/* The first child element of @parent named @name (no namespace), or NULL. */
static xmlNodePtr
el (xmlNodePtr parent, const char *name)
{
  for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && c->ns == NULL && strcmp ((const char *) c->name, name) == 0)
      return c;
  return NULL;
}

/* Takes @v (libxml2's), returns it stripped as a GLib string, NULL when
 * absent or empty. */
static char *
take_stripped (xmlChar *v)
{
  char *ret;

  if (v == NULL)
    return NULL;
  ret = g_strstrip (g_strdup ((const char *) v));
  xmlFree (v);
  if (*ret == '\0')
    g_clear_pointer (&ret, g_free);
  return ret;
}

/* Attribute @name of @n (which may be NULL), stripped; NULL when absent or empty. */
static char *
attr (xmlNodePtr n, const char *name)
{
  return take_stripped (n ? xmlGetNoNsProp (n, (const xmlChar *) name) : NULL);
}

/* Text content of @n, stripped; NULL when absent or empty. */
static char *
text_of (xmlNodePtr n)
{
  return take_stripped (n ? xmlNodeGetContent (n) : NULL);
}

/* Parses @s (may be NULL: @dflt) as an unsigned number up to @max; fails
 * naming @what. */
static gboolean
parse_u64 (const char *s, guint64 max, guint64 dflt, guint64 *out, const char *what,
           const char *dom, GError **error)
{
  if (s == NULL) {
    *out = dflt;
    return TRUE;
  }
  if (!g_ascii_string_to_unsigned (s, 10, 0, max, out, NULL)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "domain '%s': cannot parse %s value '%s'", dom, what, s);
    return FALSE;
  }
  return TRUE;
}

static gboolean
attr_uint (xmlNodePtr n, const char *name, unsigned *out, const char *what, const char *dom,
           GError **error)
{
  g_autofree char *s = attr (n, name);
  guint64 v;

  if (!parse_u64 (s, G_MAXUINT32, 0, &v, what, dom, error))
    return FALSE;
  *out = (unsigned) v;
  return TRUE;
}

static gboolean
attr_cpuset (xmlNodePtr n, const char *name, hwloc_bitmap_t *out, const char *what,
             const char *dom, GError **error)
{
  g_autofree char *s = attr (n, name);
  g_autoptr (GError) local = NULL;

  *out = NULL;
  if (s == NULL)
    return TRUE;
  *out = vdp_cpuset_parse (s, &local);
  if (*out == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "domain '%s': %s: %s", dom, what,
                 local->message);
    return FALSE;
  }
  return TRUE;
}

/* Scale factor to KiB of a libvirt memory unit; 0 when unknown. */
static guint64
unit_to_kib_num (const char *unit, guint64 *den)
{
  static const struct { const char *u; guint64 num, den; } units[] = {
    { "b", 1, 1024 }, { "bytes", 1, 1024 },
    { "KB", 1000, 1024 }, { "k", 1, 1 }, { "KiB", 1, 1 },
    { "MB", 1000000, 1024 }, { "M", 1024, 1 }, { "MiB", 1024, 1 },
    { "GB", 1000000000, 1024 }, { "G", 1048576, 1 }, { "GiB", 1048576, 1 },
    { "TB", 1000000000000ULL, 1024 }, { "T", 1073741824ULL, 1 }, { "TiB", 1073741824ULL, 1 },
  };

  if (unit == NULL) {
    *den = 1;
    return 1;
  }
  for (size_t i = 0; i < G_N_ELEMENTS (units); i++)
    if (strcmp (unit, units[i].u) == 0) {
      *den = units[i].den;
      return units[i].num;
    }
  return 0;
}

static gboolean
parse_memory_kib (const char *value, const char *unit, guint64 *kib, const char *what,
                  const char *dom, GError **error)
{
  guint64 v, num, den;

  if (!parse_u64 (value, G_MAXUINT64, 0, &v, what, dom, error))
    return FALSE;
  num = unit_to_kib_num (unit, &den);
  if (num == 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "domain '%s': unknown memory unit '%s'",
                 dom, unit);
    return FALSE;
  }
  if (v > G_MAXUINT64 / num) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "domain '%s': memory %" G_GUINT64_FORMAT
                 " %s is too large", dom, v, unit);
    return FALSE;
  }
  *kib = v * num / den;
  return TRUE;
}

/* The @id attributes of the <iothread> children of @list (may be NULL);
 * with @queues, each one's <queue id> children too (a GArray of guint per
 * id), and with @poll each one's <poll max> (-1 when unset). */
static unsigned *
collect_ids_full (xmlNodePtr list, unsigned *n, GArray ***queues, int **poll, const char *dom,
                  GError **error)
{
  unsigned cap = 0;
  g_autofree unsigned *ids = NULL;

  for (xmlNodePtr c = list ? list->children : NULL; c; c = c->next)
    cap += c->type == XML_ELEMENT_NODE;
  ids = g_new0 (unsigned, MAX (cap, 1));
  if (queues)
    *queues = g_new0 (GArray *, MAX (cap, 1));
  if (poll)
    *poll = g_new0 (int, MAX (cap, 1));
  *n = 0;
  for (xmlNodePtr c = list ? list->children : NULL; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || strcmp ((const char *) c->name, "iothread") != 0)
      continue;
    if (!attr_uint (c, "id", &ids[*n], "iothread id", dom, error))
      return NULL;
    if (queues) {
      GArray *q = g_array_new (FALSE, FALSE, sizeof (guint));
      (*queues)[*n] = q;
      for (xmlNodePtr k = c->children; k; k = k->next) {
        unsigned id;
        if (k->type != XML_ELEMENT_NODE || strcmp ((const char *) k->name, "queue") != 0)
          continue;
        if (!attr_uint (k, "id", &id, "queue id", dom, error))
          return NULL;
        g_array_append_val (q, id);
      }
    }
    if (poll) {
      g_autofree char *max = attr (el (c, "poll"), "max");
      guint64 v;
      (*poll)[*n] = -1;
      if (max && !parse_u64 (max, G_MAXINT32, 0, &v, "iothread poll max", dom, error))
        return NULL;
      if (max)
        (*poll)[*n] = (int) v;
    }
    (*n)++;
  }
  return g_steal_pointer (&ids);
}

static void
free_queue_lists (GArray **q, unsigned n)
{
  for (unsigned i = 0; q && i < n; i++)
    if (q[i])
      g_array_unref (q[i]);
  g_free (q);
}

static gboolean
parse_disk (xmlNodePtr node, struct vdp_disk *disk, const char *dom, GError **error)
{
  xmlNodePtr target = el (node, "target"), source = el (node, "source");
  xmlNodePtr driver = el (node, "driver");

  disk->target = attr (target, "dev");
  disk->type = attr (node, "type");
  disk->device = attr (node, "device");
  if (disk->device == NULL)
    disk->device = g_strdup ("disk");
  disk->bus = attr (target, "bus");
  disk->source = attr (source, "file");
  if (disk->source == NULL)
    disk->source = attr (source, "dev");
  disk->driver_type = attr (driver, "type");
  disk->cache = attr (driver, "cache");
  disk->io = attr (driver, "io");
  disk->address_type = attr (el (node, "address"), "type");
  disk->readonly = el (node, "readonly") != NULL;
  if (!attr_uint (driver, "queues", &disk->queues, "disk driver queues", dom, error)
      || !attr_uint (driver, "iothread", &disk->iothread, "disk driver iothread", dom, error))
    return FALSE;
  disk->mapped = collect_ids_full (el (driver, "iothreads"), &disk->n_mapped,
                                   &disk->mapped_queues, NULL, dom, error);
  return disk->mapped != NULL;
}

static gboolean
parse_controller (xmlNodePtr node, struct vdp_controller *c, const char *dom, GError **error)
{
  xmlNodePtr driver = el (node, "driver");

  c->type = attr (node, "type");
  c->model = attr (node, "model");
  c->address_type = attr (el (node, "address"), "type");
  if (!attr_uint (node, "index", &c->index, "controller index", dom, error)
      || !attr_uint (driver, "queues", &c->queues, "controller queues", dom, error)
      || !attr_uint (driver, "iothread", &c->iothread, "controller iothread", dom, error))
    return FALSE;
  c->mapped = collect_ids_full (el (driver, "iothreads"), &c->n_mapped, &c->mapped_queues, NULL,
                                dom, error);
  return c->mapped != NULL;
}

static gboolean
parse_cputune (xmlNodePtr root, struct vdp_domain *d, GError **error)
{
  xmlNodePtr tune = el (root, "cputune");
  unsigned n_io = 0;

  d->vcpupin = g_new0 (hwloc_bitmap_t, MAX (d->vcpus, 1));
  for (xmlNodePtr c = tune ? tune->children : NULL; c; c = c->next)
    n_io += c->type == XML_ELEMENT_NODE && strcmp ((const char *) c->name, "iothreadpin") == 0;
  d->iothreadpin_id = g_new0 (unsigned, MAX (n_io, 1));
  d->iothreadpin = g_new0 (hwloc_bitmap_t, MAX (n_io, 1));

  for (xmlNodePtr c = tune ? tune->children : NULL; c; c = c->next) {
    const char *name = (const char *) c->name;
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (strcmp (name, "vcpupin") == 0) {
      unsigned vcpu;
      hwloc_bitmap_t set;
      if (!attr_uint (c, "vcpu", &vcpu, "vcpupin vcpu", d->name, error)
          || !attr_cpuset (c, "cpuset", &set, "vcpupin cpuset", d->name, error))
        return FALSE;
      if (vcpu >= d->vcpus || set == NULL) {
        hwloc_bitmap_free (set);
        continue;   /* libvirt rejects these; nothing to learn from them */
      }
      hwloc_bitmap_free (d->vcpupin[vcpu]);
      d->vcpupin[vcpu] = set;
    } else if (strcmp (name, "emulatorpin") == 0) {
      hwloc_bitmap_free (d->emulatorpin);
      if (!attr_cpuset (c, "cpuset", &d->emulatorpin, "emulatorpin cpuset", d->name, error))
        return FALSE;
    } else if (strcmp (name, "iothreadpin") == 0) {
      unsigned i = d->n_iothreadpin++;
      if (!attr_uint (c, "iothread", &d->iothreadpin_id[i], "iothreadpin iothread", d->name, error)
          || !attr_cpuset (c, "cpuset", &d->iothreadpin[i], "iothreadpin cpuset", d->name, error))
        return FALSE;
    } else if (strcmp (name, "iothreadsched") == 0 || strcmp (name, "vcpusched") == 0) {
      hwloc_bitmap_t ids;
      d->has_sched = true;
      if (name[0] != 'i')
        continue;
      if (!attr_cpuset (c, "iothreads", &ids, "iothreadsched iothreads", d->name, error))
        return FALSE;
      if (ids)
        d->max_sched_iothread = MAX (d->max_sched_iothread, (unsigned) hwloc_bitmap_last (ids));
      hwloc_bitmap_free (ids);
    }
  }
  return TRUE;
}

static gboolean
parse_numa (xmlNodePtr root, struct vdp_domain *d, GError **error)
{
  xmlNodePtr tune = el (root, "numatune");
  xmlNodePtr mem = el (tune, "memory");
  xmlNodePtr numa = el (el (root, "cpu"), "numa");
  unsigned n = 0;

  d->numa_placement = attr (mem, "placement");
  if (mem) {
    d->numa_mode = attr (mem, "mode");
    if (d->numa_mode == NULL)
      d->numa_mode = g_strdup ("strict");
  }
  if (!attr_cpuset (mem, "nodeset", &d->numa_nodeset, "numatune nodeset", d->name, error))
    return FALSE;
  for (xmlNodePtr c = tune ? tune->children : NULL; c; c = c->next)
    n += c->type == XML_ELEMENT_NODE && strcmp ((const char *) c->name, "memnode") == 0;
  d->memnodes = g_new0 (struct vdp_memnode, MAX (n, 1));
  n = 0;
  for (xmlNodePtr c = tune ? tune->children : NULL; c; c = c->next) {
    struct vdp_memnode *mn = &d->memnodes[d->n_memnodes];
    if (c->type != XML_ELEMENT_NODE || strcmp ((const char *) c->name, "memnode") != 0)
      continue;
    d->n_memnodes++;
    mn->mode = attr (c, "mode");
    if (!attr_uint (c, "cellid", &mn->cellid, "memnode cellid", d->name, error)
        || !attr_cpuset (c, "nodeset", &mn->nodeset, "memnode nodeset", d->name, error))
      return FALSE;
    if (mn->nodeset) {
      if (d->memnode_nodes == NULL)
        d->memnode_nodes = hwloc_bitmap_alloc ();
      hwloc_bitmap_or (d->memnode_nodes, d->memnode_nodes, mn->nodeset);
    }
  }

  for (xmlNodePtr c = numa ? numa->children : NULL; c; c = c->next)
    n += c->type == XML_ELEMENT_NODE && strcmp ((const char *) c->name, "cell") == 0;
  d->cells = g_new0 (struct vdp_cell, MAX (n, 1));
  for (xmlNodePtr c = numa ? numa->children : NULL; c; c = c->next) {
    struct vdp_cell *cell = &d->cells[d->n_cells];
    g_autofree char *id = NULL, *memory = NULL, *unit = NULL;
    guint64 kib;

    if (c->type != XML_ELEMENT_NODE || strcmp ((const char *) c->name, "cell") != 0)
      continue;
    id = attr (c, "id");
    memory = attr (c, "memory");
    unit = attr (c, "unit");
    if (!attr_uint (c, "id", &cell->id, "cell id", d->name, error)
        || !attr_cpuset (c, "cpus", &cell->cpus, "cell cpus", d->name, error)
        || !parse_memory_kib (memory, unit, &kib, "cell memory", d->name, error))
      return FALSE;
    if (id == NULL)
      cell->id = d->n_cells;
    cell->memory_kib = kib;
    d->n_cells++;
  }
  return TRUE;
}

xmlDocPtr
vdp_xml_read_memory (const char *text, const char *what, GError **error)
{
  /* one parser context per thread, reused: making one (its dictionary
   * above all) costs as much as parsing a small domain.  Its documents
   * share its dictionary: see domain.h */
  static GPrivate cached = G_PRIVATE_INIT ((GDestroyNotify) xmlFreeParserCtxt);
  xmlParserCtxtPtr ctxt = g_private_get (&cached);
  xmlDocPtr doc;

  if (ctxt == NULL) {
    ctxt = xmlNewParserCtxt ();
    g_private_set (&cached, ctxt);
  }

  doc = xmlCtxtReadMemory (ctxt, text, (int) strlen (text), what, NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
                           | XML_PARSE_COMPACT | XML_PARSE_NOBLANKS);
  if (doc == NULL) {
    xmlErrorPtr e = xmlCtxtGetLastError (ctxt);
    g_autofree char *msg = g_strdup (e && e->message ? e->message : "not well-formed");
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "cannot parse XML '%s': line %d: %s",
                 what, e ? e->line : 0, g_strstrip (msg));
  }
  return doc;
}

xmlDocPtr
vdp_xml_read_file (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) local = NULL;

  if (!g_file_get_contents (path, &text, NULL, &local)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "cannot read '%s': %s", path,
                 local->code == G_FILE_ERROR_NOENT ? "No such file or directory"
                 : local->code == G_FILE_ERROR_ACCES ? "Permission denied"
                 : local->code == G_FILE_ERROR_ISDIR ? "Is a directory" : local->message);
    return NULL;
  }
  return vdp_xml_read_memory (text, path, error);
}

/* Whether the driver recorded under @key in this project's metadata
 * @recorded had queues before virt-dataplane changed it; TRUE when
 * nothing was recorded (the driver is as its owner wrote it). */
static gboolean
original_has_queues (xmlNodePtr recorded, const char *key)
{
  for (xmlNodePtr o = recorded ? recorded->children : NULL; o; o = o->next) {
    g_autofree char *k = NULL, *present = NULL, *text = NULL;
    if (o->type != XML_ELEMENT_NODE || strcmp ((const char *) o->name, "original") != 0)
      continue;
    k = attr (o, "key");
    if (g_strcmp0 (k, key) != 0)
      continue;
    present = attr (o, "present");
    text = text_of (o);
    return g_strcmp0 (present, "yes") == 0 && text && strstr (text, " queues=") != NULL;
  }
  return TRUE;
}

/* Whether this project's metadata @recorded has a record of @key (what
 * it was before virt-dataplane changed it) that does not contain @what. */
static gboolean
original_lacks (xmlNodePtr recorded, const char *key, const char *what)
{
  for (xmlNodePtr o = recorded ? recorded->children : NULL; o; o = o->next) {
    g_autofree char *k = NULL, *text = NULL;
    if (o->type != XML_ELEMENT_NODE || strcmp ((const char *) o->name, "original") != 0)
      continue;
    k = attr (o, "key");
    if (g_strcmp0 (k, key) != 0)
      continue;
    text = text_of (o);
    return text == NULL || strstr (text, what) == NULL;
  }
  return FALSE;
}

/* The worker CPUs of the virt-dataplane-blk backends recorded in this
 * project's metadata @recorded (<backend><worker cpus='...'/>): where
 * those threads run, for the host's inventory.  Untrusted: what does not
 * parse is left out (check reports a malformed record). */
static void
parse_backend_workers (struct vdp_domain *d, xmlNodePtr recorded)
{
  unsigned n = 0;

  for (xmlNodePtr o = recorded ? recorded->children : NULL; o; o = o->next)
    n += o->type == XML_ELEMENT_NODE && strcmp ((const char *) o->name, "backend") == 0;
  if (n == 0)
    return;
  d->backends = g_new0 (struct vdp_backend_workers, n);
  for (xmlNodePtr o = recorded->children; o; o = o->next) {
    struct vdp_backend_workers *b;
    unsigned w = 0;
    if (o->type != XML_ELEMENT_NODE || strcmp ((const char *) o->name, "backend") != 0)
      continue;
    b = &d->backends[d->n_backends++];
    b->target = attr (o, "target");
    for (xmlNodePtr c = o->children; c; c = c->next)
      b->n_workers += c->type == XML_ELEMENT_NODE && strcmp ((const char *) c->name, "worker") == 0;
    b->cpus = g_new0 (hwloc_bitmap_t, MAX (b->n_workers, 1));
    for (xmlNodePtr c = o->children; c; c = c->next) {
      g_autofree char *cpus = NULL;
      if (c->type != XML_ELEMENT_NODE || strcmp ((const char *) c->name, "worker") != 0)
        continue;
      cpus = attr (c, "cpus");
      b->cpus[w++] = cpus ? vdp_cpuset_parse (cpus, NULL) : NULL;
    }
  }
}

struct vdp_domain *
vdp_domain_parse (xmlDocPtr doc, const char *what, GError **error)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr vcpu, devices, cpu_topo, meta;
  g_autoptr (vdp_domain) d = NULL;
  g_autofree char *vcpus = NULL, *current = NULL, *mem = NULL, *unit = NULL, *acc = NULL;
  g_autofree char *iothreads = NULL;
  xmlNodePtr recorded = NULL;
  unsigned n_disks = 0, n_ctrls = 0;
  guint64 v;

  if (root == NULL || strcmp ((const char *) root->name, "domain") != 0 || root->ns != NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "'%s': the root element is <%s>, not <domain>",
                 what, root ? (const char *) root->name : "");
    return NULL;
  }

  d = g_new0 (struct vdp_domain, 1);
  d->name = text_of (el (root, "name"));
  if (d->name == NULL)
    d->name = g_strdup (what);
  d->uuid = text_of (el (root, "uuid"));
  d->type = attr (root, "type");
  d->arch = attr (el (el (root, "os"), "type"), "arch");

  vcpu = el (root, "vcpu");
  vcpus = text_of (vcpu);
  if (!parse_u64 (vcpus, 16384, 1, &v, "vcpu", d->name, error))
    return NULL;
  d->vcpus = MAX ((unsigned) v, 1);
  current = attr (vcpu, "current");
  if (!parse_u64 (current, d->vcpus, d->vcpus, &v, "vcpu current", d->name, error))
    return NULL;
  d->vcpus_current = (unsigned) v ? (unsigned) v : d->vcpus;
  d->vcpu_placement = attr (vcpu, "placement");
  if (!attr_cpuset (vcpu, "cpuset", &d->vcpu_cpuset, "vcpu cpuset", d->name, error))
    return NULL;
  cpu_topo = el (el (root, "cpu"), "topology");
  if (!attr_uint (cpu_topo, "sockets", &d->sockets, "cpu topology", d->name, error)
      || !attr_uint (cpu_topo, "dies", &d->dies, "cpu topology", d->name, error)
      || !attr_uint (cpu_topo, "cores", &d->cores, "cpu topology", d->name, error)
      || !attr_uint (cpu_topo, "threads", &d->threads, "cpu topology", d->name, error))
    return NULL;
  mem = text_of (el (root, "memory"));
  unit = attr (el (root, "memory"), "unit");
  if (!parse_memory_kib (mem, unit, &d->memory_kib, "memory", d->name, error))
    return NULL;
  acc = attr (el (el (root, "memoryBacking"), "access"), "mode");
  d->memory_shared = acc && strcmp (acc, "shared") == 0;

  if (!parse_cputune (root, d, error) || !parse_numa (root, d, error))
    return NULL;

  iothreads = text_of (el (root, "iothreads"));
  if (!parse_u64 (iothreads, G_MAXUINT32, 0, &v, "iothreads", d->name, error))
    return NULL;
  d->iothreads = (unsigned) v;
  d->iothreadids = collect_ids_full (el (root, "iothreadids"), &d->n_iothreadids, NULL,
                                     &d->iothread_poll_max, d->name, error);
  if (d->iothreadids == NULL)
    return NULL;
  /* libvirt: more ids than the count raise the count. */
  d->iothreads = MAX (d->iothreads, d->n_iothreadids);

  devices = el (root, "devices");
  for (xmlNodePtr c = devices ? devices->children : NULL; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || c->ns)
      continue;
    n_disks += strcmp ((const char *) c->name, "disk") == 0;
    n_ctrls += strcmp ((const char *) c->name, "controller") == 0;
  }
  d->disks = g_new0 (struct vdp_disk, MAX (n_disks, 1));
  d->controllers = g_new0 (struct vdp_controller, MAX (n_ctrls, 1));
  for (xmlNodePtr c = devices ? devices->children : NULL; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || c->ns)
      continue;
    if (strcmp ((const char *) c->name, "disk") == 0) {
      if (!parse_disk (c, &d->disks[d->n_disks++], d->name, error))
        return NULL;
    } else if (strcmp ((const char *) c->name, "controller") == 0) {
      if (!parse_controller (c, &d->controllers[d->n_controllers++], d->name, error))
        return NULL;
    }
  }

  meta = el (root, "metadata");
  for (xmlNodePtr c = meta ? meta->children : NULL; c; c = c->next) {
    g_autofree char *place = NULL;
    if (c->type != XML_ELEMENT_NODE || c->ns == NULL || c->ns->href == NULL
        || strcmp ((const char *) c->ns->href, VDP_XMLNS) != 0
        || strcmp ((const char *) c->name, "dataplane") != 0)
      continue;
    d->tuned = true;
    d->tuned_profile = attr (c, "profile");
    d->tuned_hash = attr (c, "plan");
    place = attr (c, "placement");
    d->tuned_place = g_strcmp0 (place, "foreign") != 0;
    recorded = c;
    break;
  }
  parse_backend_workers (d, recorded);
  d->tuned_iothreadpin = d->tuned && !d->tuned_place && d->n_iothreadpin > 0
                         && original_lacks (recorded, "cputune", "<iothreadpin");
  /* queues the owner set: a driver's queues, unless virt-dataplane wrote
   * them (its record of the original driver has none) */
  for (unsigned i = 0; i < d->n_disks; i++) {
    g_autofree char *key = g_strdup_printf ("disk/%s/driver", d->disks[i].target);
    d->disks[i].queues_explicit = original_has_queues (recorded, key) ? d->disks[i].queues : 0;
  }
  for (unsigned i = 0; i < d->n_controllers; i++) {
    g_autofree char *key = g_strdup_printf ("controller/%s/%u/driver", d->controllers[i].type,
                                            d->controllers[i].index);
    d->controllers[i].queues_explicit = original_has_queues (recorded, key)
                                        ? d->controllers[i].queues : 0;
  }
  return g_steal_pointer (&d);
}

void
vdp_domain_free (struct vdp_domain *d)
{
  if (d == NULL)
    return;
  for (unsigned i = 0; i < d->n_disks; i++) {
    struct vdp_disk *k = &d->disks[i];
    g_free (k->target); g_free (k->type); g_free (k->device); g_free (k->bus);
    g_free (k->source); g_free (k->driver_type); g_free (k->cache); g_free (k->io);
    g_free (k->address_type); g_free (k->mapped);
    free_queue_lists (k->mapped_queues, k->n_mapped);
  }
  for (unsigned i = 0; i < d->n_controllers; i++) {
    g_free (d->controllers[i].type); g_free (d->controllers[i].model);
    g_free (d->controllers[i].address_type); g_free (d->controllers[i].mapped);
    free_queue_lists (d->controllers[i].mapped_queues, d->controllers[i].n_mapped);
  }
  for (unsigned i = 0; i < d->n_memnodes; i++) {
    g_free (d->memnodes[i].mode);
    hwloc_bitmap_free (d->memnodes[i].nodeset);
  }
  g_free (d->memnodes);
  g_free (d->iothread_poll_max);
  for (unsigned i = 0; i < d->n_cells; i++)
    hwloc_bitmap_free (d->cells[i].cpus);
  if (d->vcpupin)
    for (unsigned i = 0; i < d->vcpus; i++)
      hwloc_bitmap_free (d->vcpupin[i]);
  for (unsigned i = 0; i < d->n_iothreadpin; i++)
    hwloc_bitmap_free (d->iothreadpin[i]);
  g_free (d->iothreadpin);
  g_free (d->iothreadpin_id);
  g_free (d->vcpupin);
  hwloc_bitmap_free (d->emulatorpin);
  hwloc_bitmap_free (d->vcpu_cpuset);
  hwloc_bitmap_free (d->numa_nodeset);
  hwloc_bitmap_free (d->memnode_nodes);
  g_free (d->numa_mode); g_free (d->numa_placement);
  g_free (d->cells); g_free (d->iothreadids); g_free (d->disks); g_free (d->controllers);
  g_free (d->name); g_free (d->uuid); g_free (d->type); g_free (d->arch);
  g_free (d->vcpu_placement);
  g_free (d->tuned_profile); g_free (d->tuned_hash);
  for (unsigned i = 0; i < d->n_backends; i++) {
    for (unsigned w = 0; w < d->backends[i].n_workers; w++)
      hwloc_bitmap_free (d->backends[i].cpus[w]);
    g_free (d->backends[i].cpus);
    g_free (d->backends[i].target);
  }
  g_free (d->backends);
  g_free (d);
}

bool
vdp_disk_iothread_capable (const struct vdp_disk *disk)
{
  if (disk->bus == NULL || strcmp (disk->bus, "virtio") != 0)
    return false;
  if (disk->type && (strcmp (disk->type, "vhostuser") == 0 || strcmp (disk->type, "vhostvdpa") == 0))
    return false;
  return disk->address_type == NULL || strcmp (disk->address_type, "pci") == 0
         || strcmp (disk->address_type, "ccw") == 0;
}

bool
vdp_controller_iothread_capable (const struct vdp_controller *c)
{
  return c->type && strcmp (c->type, "scsi") == 0 && c->model
         && strcmp (c->model, "virtio-scsi") == 0
         && (c->address_type == NULL || strcmp (c->address_type, "pci") == 0
             || strcmp (c->address_type, "ccw") == 0);
}

const struct vdp_controller *
vdp_domain_find_controller (const struct vdp_domain *d, const char *type, unsigned index)
{
  for (unsigned i = 0; i < d->n_controllers; i++)
    if (d->controllers[i].type && strcmp (d->controllers[i].type, type) == 0
        && d->controllers[i].index == index)
      return &d->controllers[i];
  return NULL;
}

xmlNodePtr
vdp_xml_child (xmlNodePtr parent, const char *name)
{
  return el (parent, name);
}

xmlNodePtr
vdp_xml_dataplane_node (xmlDocPtr doc)
{
  xmlNodePtr meta = el (xmlDocGetRootElement (doc), "metadata");

  for (xmlNodePtr c = meta ? meta->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && c->ns && c->ns->href
        && strcmp ((const char *) c->ns->href, VDP_XMLNS) == 0
        && strcmp ((const char *) c->name, "dataplane") == 0)
      return c;
  return NULL;
}
