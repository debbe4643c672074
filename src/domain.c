/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parses the tunable parts of a libvirt domain XML with libxml2 XPath. */
#include <config.h>

#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpathInternals.h>

#include "domain.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"

/* Returns the string value of @expr evaluated at @node, or NULL when it is
 * empty (missing attributes and elements read as empty). */
static char *
xp_str (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
  g_autofree char *full = g_strdup_printf ("string(%s)", expr);
  g_autoptr (xmlXPathObject) obj = NULL;
  char *ret = NULL;

  ctx->node = node;
  obj = xmlXPathEvalExpression ((const xmlChar *) full, ctx);
  if (obj && obj->type == XPATH_STRING && obj->stringval && obj->stringval[0])
    ret = g_strstrip (g_strdup ((const char *) obj->stringval));
  if (ret && *ret == '\0')
    g_clear_pointer (&ret, g_free);
  return ret;
}

/* Whether @expr selects anything at @node. */
static gboolean
xp_bool (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
  g_autofree char *full = g_strdup_printf ("boolean(%s)", expr);
  g_autoptr (xmlXPathObject) obj = NULL;

  ctx->node = node;
  obj = xmlXPathEvalExpression ((const xmlChar *) full, ctx);
  return obj && obj->type == XPATH_BOOLEAN && obj->boolval;
}

static xmlXPathObjectPtr
xp_nodes (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
  ctx->node = node;
  return xmlXPathEvalExpression ((const xmlChar *) expr, ctx);
}

static int
nodeset_len (xmlXPathObjectPtr obj)
{
  return obj && obj->nodesetval ? obj->nodesetval->nodeNr : 0;
}

/* Parses an unsigned attribute; absent gives @dflt.  Fails naming @what. */
static gboolean
xp_uint (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr, guint64 max,
         guint64 dflt, guint64 *out, const char *dom, GError **error)
{
  g_autofree char *s = xp_str (ctx, node, expr);
  g_autoptr (GError) local = NULL;

  if (s == NULL) {
    *out = dflt;
    return TRUE;
  }
  if (!g_ascii_string_to_unsigned (s, 10, 0, max, out, &local)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "domain '%s': cannot parse %s value '%s'", dom, expr, s);
    return FALSE;
  }
  return TRUE;
}

static gboolean
xp_unsigned (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr,
             unsigned *out, const char *dom, GError **error)
{
  guint64 v;

  if (!xp_uint (ctx, node, expr, G_MAXUINT32, 0, &v, dom, error))
    return FALSE;
  *out = (unsigned) v;
  return TRUE;
}

static gboolean
xp_cpuset (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr,
           hwloc_bitmap_t *out, const char *dom, GError **error)
{
  g_autofree char *s = xp_str (ctx, node, expr);
  g_autoptr (GError) local = NULL;

  *out = NULL;
  if (s == NULL)
    return TRUE;
  *out = vdp_cpuset_parse (s, &local);
  if (*out == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "domain '%s': %s: %s", dom, expr,
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
parse_memory_kib (xmlXPathContextPtr ctx, xmlNodePtr node, const char *value_expr,
                  const char *unit_expr, guint64 *kib, const char *dom, GError **error)
{
  g_autofree char *unit = xp_str (ctx, node, unit_expr);
  guint64 v, num, den;

  if (!xp_uint (ctx, node, value_expr, G_MAXUINT64, 0, &v, dom, error))
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

static unsigned *
collect_ids (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr, unsigned *n,
             const char *dom, GError **error)
{
  g_autoptr (xmlXPathObject) obj = xp_nodes (ctx, node, expr);
  int len = nodeset_len (obj);
  unsigned *ids = g_new0 (unsigned, MAX (len, 1));

  *n = 0;
  for (int i = 0; i < len; i++) {
    if (!xp_unsigned (ctx, obj->nodesetval->nodeTab[i], "@id", &ids[*n], dom, error)) {
      g_free (ids);
      return NULL;
    }
    (*n)++;
  }
  return ids;
}

static gboolean
parse_disk (xmlXPathContextPtr ctx, xmlNodePtr node, struct vdp_disk *disk,
            const char *dom, GError **error)
{
  disk->target = xp_str (ctx, node, "target/@dev");
  disk->type = xp_str (ctx, node, "@type");
  disk->device = xp_str (ctx, node, "@device");
  if (disk->device == NULL)
    disk->device = g_strdup ("disk");
  disk->bus = xp_str (ctx, node, "target/@bus");
  disk->source = xp_str (ctx, node, "source/@file | source/@dev");
  disk->driver_type = xp_str (ctx, node, "driver/@type");
  disk->cache = xp_str (ctx, node, "driver/@cache");
  disk->io = xp_str (ctx, node, "driver/@io");
  disk->address_type = xp_str (ctx, node, "address/@type");
  disk->readonly = xp_bool (ctx, node, "readonly");
  if (!xp_unsigned (ctx, node, "driver/@queues", &disk->queues, dom, error)
      || !xp_unsigned (ctx, node, "driver/@iothread", &disk->iothread, dom, error))
    return FALSE;
  disk->mapped = collect_ids (ctx, node, "driver/iothreads/iothread", &disk->n_mapped, dom, error);
  return disk->mapped != NULL;
}

static gboolean
parse_controller (xmlXPathContextPtr ctx, xmlNodePtr node, struct vdp_controller *c,
                  const char *dom, GError **error)
{
  c->type = xp_str (ctx, node, "@type");
  c->model = xp_str (ctx, node, "@model");
  c->address_type = xp_str (ctx, node, "address/@type");
  if (!xp_unsigned (ctx, node, "@index", &c->index, dom, error)
      || !xp_unsigned (ctx, node, "driver/@queues", &c->queues, dom, error)
      || !xp_unsigned (ctx, node, "driver/@iothread", &c->iothread, dom, error))
    return FALSE;
  {
    g_autoptr (xmlXPathObject) obj = xp_nodes (ctx, node, "driver/iothreads/iothread");
    c->n_mapped = (unsigned) nodeset_len (obj);
  }
  return TRUE;
}

static gboolean
parse_cputune (xmlXPathContextPtr ctx, xmlNodePtr root, struct vdp_domain *d, GError **error)
{
  g_autoptr (xmlXPathObject) pins = xp_nodes (ctx, root, "cputune/vcpupin");
  g_autoptr (xmlXPathObject) iopins = xp_nodes (ctx, root, "cputune/iothreadpin");
  g_autoptr (xmlXPathObject) sched = xp_nodes (ctx, root, "cputune/iothreadsched");
  int n;

  d->vcpupin = g_new0 (hwloc_bitmap_t, MAX (d->vcpus, 1));
  for (int i = 0; i < nodeset_len (pins); i++) {
    xmlNodePtr p = pins->nodesetval->nodeTab[i];
    unsigned vcpu;
    hwloc_bitmap_t set;

    if (!xp_unsigned (ctx, p, "@vcpu", &vcpu, d->name, error)
        || !xp_cpuset (ctx, p, "@cpuset", &set, d->name, error))
      return FALSE;
    if (vcpu >= d->vcpus || set == NULL) {
      hwloc_bitmap_free (set);
      continue;   /* libvirt rejects these; nothing to learn from them */
    }
    hwloc_bitmap_free (d->vcpupin[vcpu]);
    d->vcpupin[vcpu] = set;
  }
  if (!xp_cpuset (ctx, root, "cputune/emulatorpin/@cpuset", &d->emulatorpin, d->name, error))
    return FALSE;

  n = nodeset_len (iopins);
  d->iothreadpin_id = g_new0 (unsigned, MAX (n, 1));
  d->iothreadpin = g_new0 (hwloc_bitmap_t, MAX (n, 1));
  for (int i = 0; i < n; i++) {
    xmlNodePtr p = iopins->nodesetval->nodeTab[i];
    if (!xp_unsigned (ctx, p, "@iothread", &d->iothreadpin_id[i], d->name, error)
        || !xp_cpuset (ctx, p, "@cpuset", &d->iothreadpin[i], d->name, error))
      return FALSE;
    d->n_iothreadpin++;
  }
  for (int i = 0; i < nodeset_len (sched); i++) {
    hwloc_bitmap_t ids;
    if (!xp_cpuset (ctx, sched->nodesetval->nodeTab[i], "@iothreads", &ids, d->name, error))
      return FALSE;
    if (ids)
      d->max_sched_iothread = MAX (d->max_sched_iothread, (unsigned) hwloc_bitmap_last (ids));
    hwloc_bitmap_free (ids);
  }
  d->has_sched = xp_bool (ctx, root, "cputune/vcpusched | cputune/iothreadsched");
  return TRUE;
}

static gboolean
parse_numa (xmlXPathContextPtr ctx, xmlNodePtr root, struct vdp_domain *d, GError **error)
{
  g_autoptr (xmlXPathObject) cells = xp_nodes (ctx, root, "cpu/numa/cell");
  g_autoptr (xmlXPathObject) memnodes = xp_nodes (ctx, root, "numatune/memnode");
  int n = nodeset_len (cells);

  d->numa_placement = xp_str (ctx, root, "numatune/memory/@placement");
  if (xp_bool (ctx, root, "numatune/memory")) {
    d->numa_mode = xp_str (ctx, root, "numatune/memory/@mode");
    if (d->numa_mode == NULL)
      d->numa_mode = g_strdup ("strict");
  }
  if (!xp_cpuset (ctx, root, "numatune/memory/@nodeset", &d->numa_nodeset, d->name, error))
    return FALSE;
  d->n_memnodes = (unsigned) nodeset_len (memnodes);

  d->cells = g_new0 (struct vdp_cell, MAX (n, 1));
  for (int i = 0; i < n; i++) {
    xmlNodePtr c = cells->nodesetval->nodeTab[i];
    struct vdp_cell *cell = &d->cells[d->n_cells];
    guint64 kib;

    if (!xp_unsigned (ctx, c, "@id", &cell->id, d->name, error)
        || !xp_cpuset (ctx, c, "@cpus", &cell->cpus, d->name, error)
        || !parse_memory_kib (ctx, c, "@memory", "@unit", &kib, d->name, error))
      return FALSE;
    if (!xp_bool (ctx, c, "@id"))
      cell->id = (unsigned) i;
    cell->memory_kib = kib;
    d->n_cells++;
  }
  return TRUE;
}

xmlDocPtr
vdp_xml_read_memory (const char *text, const char *what, GError **error)
{
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt ();
  xmlDocPtr doc;

  doc = xmlCtxtReadMemory (ctxt, text, (int) strlen (text), what, NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL) {
    xmlErrorPtr e = xmlCtxtGetLastError (ctxt);
    g_autofree char *msg = g_strdup (e && e->message ? e->message : "not well-formed");
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "cannot parse XML '%s': line %d: %s",
                 what, e ? e->line : 0, g_strstrip (msg));
  }
  xmlFreeParserCtxt (ctxt);
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

struct vdp_domain *
vdp_domain_parse (xmlDocPtr doc, const char *what, GError **error)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  g_autoptr (xmlXPathContext) ctx = NULL;
  g_autoptr (vdp_domain) d = NULL;
  g_autoptr (xmlXPathObject) disks = NULL;
  g_autoptr (xmlXPathObject) ctrls = NULL;
  g_autoptr (xmlXPathObject) ids = NULL;
  guint64 v;

  if (root == NULL || strcmp ((const char *) root->name, "domain") != 0 || root->ns != NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "'%s': the root element is <%s>, not <domain>",
                 what, root ? (const char *) root->name : "");
    return NULL;
  }
  ctx = xmlXPathNewContext (doc);
  xmlXPathRegisterNs (ctx, (const xmlChar *) VDP_XMLNS_PREFIX, (const xmlChar *) VDP_XMLNS);

  d = g_new0 (struct vdp_domain, 1);
  d->name = xp_str (ctx, root, "name");
  if (d->name == NULL)
    d->name = g_strdup (what);
  d->uuid = xp_str (ctx, root, "uuid");
  d->type = xp_str (ctx, root, "@type");
  d->arch = xp_str (ctx, root, "os/type/@arch");

  if (!xp_uint (ctx, root, "vcpu", 16384, 1, &v, d->name, error))
    return NULL;
  d->vcpus = MAX ((unsigned) v, 1);
  if (!xp_uint (ctx, root, "vcpu/@current", d->vcpus, d->vcpus, &v, d->name, error))
    return NULL;
  d->vcpus_current = (unsigned) v ? (unsigned) v : d->vcpus;
  d->vcpu_placement = xp_str (ctx, root, "vcpu/@placement");
  if (!xp_cpuset (ctx, root, "vcpu/@cpuset", &d->vcpu_cpuset, d->name, error))
    return NULL;
  if (!xp_unsigned (ctx, root, "cpu/topology/@sockets", &d->sockets, d->name, error)
      || !xp_unsigned (ctx, root, "cpu/topology/@dies", &d->dies, d->name, error)
      || !xp_unsigned (ctx, root, "cpu/topology/@cores", &d->cores, d->name, error)
      || !xp_unsigned (ctx, root, "cpu/topology/@threads", &d->threads, d->name, error))
    return NULL;
  if (!parse_memory_kib (ctx, root, "memory", "memory/@unit", &d->memory_kib, d->name, error))
    return NULL;
  {
    g_autofree char *acc = xp_str (ctx, root, "memoryBacking/access/@mode");
    d->memory_shared = acc && strcmp (acc, "shared") == 0;
  }

  if (!parse_cputune (ctx, root, d, error) || !parse_numa (ctx, root, d, error))
    return NULL;

  if (!xp_unsigned (ctx, root, "iothreads", &d->iothreads, d->name, error))
    return NULL;
  d->iothreadids = collect_ids (ctx, root, "iothreadids/iothread", &d->n_iothreadids, d->name, error);
  if (d->iothreadids == NULL)
    return NULL;
  /* libvirt: more ids than the count raise the count. */
  d->iothreads = MAX (d->iothreads, d->n_iothreadids);

  disks = xp_nodes (ctx, root, "devices/disk");
  d->disks = g_new0 (struct vdp_disk, MAX (nodeset_len (disks), 1));
  for (int i = 0; i < nodeset_len (disks); i++) {
    struct vdp_disk *disk = &d->disks[d->n_disks];
    if (!parse_disk (ctx, disks->nodesetval->nodeTab[i], disk, d->name, error)) {
      d->n_disks++;
      return NULL;
    }
    d->n_disks++;
  }
  ctrls = xp_nodes (ctx, root, "devices/controller");
  d->controllers = g_new0 (struct vdp_controller, MAX (nodeset_len (ctrls), 1));
  for (int i = 0; i < nodeset_len (ctrls); i++) {
    if (!parse_controller (ctx, ctrls->nodesetval->nodeTab[i], &d->controllers[d->n_controllers++],
                           d->name, error))
      return NULL;
  }

  ids = xp_nodes (ctx, root, "metadata/vdp:dataplane");
  if (nodeset_len (ids) > 0) {
    d->tuned = true;
    d->tuned_profile = xp_str (ctx, ids->nodesetval->nodeTab[0], "@profile");
    d->tuned_hash = xp_str (ctx, ids->nodesetval->nodeTab[0], "@plan");
    {
      g_autofree char *place = xp_str (ctx, ids->nodesetval->nodeTab[0], "@placement");
      d->tuned_place = g_strcmp0 (place, "foreign") != 0;
    }
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
  }
  for (unsigned i = 0; i < d->n_controllers; i++) {
    g_free (d->controllers[i].type); g_free (d->controllers[i].model);
    g_free (d->controllers[i].address_type);
  }
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
  g_free (d->numa_mode); g_free (d->numa_placement);
  g_free (d->cells); g_free (d->iothreadids); g_free (d->disks); g_free (d->controllers);
  g_free (d->name); g_free (d->uuid); g_free (d->type); g_free (d->arch);
  g_free (d->vcpu_placement);
  g_free (d->tuned_profile); g_free (d->tuned_hash);
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
