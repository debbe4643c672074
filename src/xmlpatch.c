/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Applies a plan to a domain document with minimal edits, and reverts it from the metadata. */
#include <config.h>

#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpathInternals.h>

#include "backend.h"
#include "domain.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"
#include "xmlpatch.h"

/* libvirt's order of the children we may insert (virDomainDefFormat). */
static const char *const domain_order[] = {
  "name", "uuid", "genid", "title", "description", "metadata", "maxMemory", "memory",
  "currentMemory", "blkiotune", "memtune", "memoryBacking", "vcpu", "vcpus", "iothreads",
  "iothreadids", "defaultiothread", "cputune", "numatune", "resource", "sysinfo", "bootloader",
  "bootloader_args", "os", "idmap", "features", "cpu", "clock", "on_poweroff", "on_reboot",
  "on_crash", "on_lockfailure", "pm", "perf", "devices", "seclabel", "keywrap",
  "launchSecurity", NULL,
};
static const char *const cputune_order[] = {
  "shares", "period", "quota", "global_period", "global_quota", "emulator_period",
  "emulator_quota", "iothread_period", "iothread_quota", "vcpupin", "emulatorpin",
  "iothreadpin", "vcpusched", "iothreadsched", "emulatorsched", "cachetune", "memorytune",
  "energytune", NULL,
};
static const char *const cpu_order[] = {
  "model", "vendor", "topology", "cache", "maxphysaddr", "feature", "numa", NULL,
};
static const char *const device_driver_order[] = { "driver", NULL };

static const char *const memory_mode_names[] = { "strict", "preferred", "none" };

/* ---- small DOM helpers ------------------------------------------------- */

static gboolean
is_elem (xmlNodePtr n, const char *name)
{
  return n && n->type == XML_ELEMENT_NODE && n->ns == NULL
         && (name == NULL || strcmp ((const char *) n->name, name) == 0);
}

static xmlNodePtr
child (xmlNodePtr parent, const char *name)
{
  for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
    if (is_elem (c, name))
      return c;
  return NULL;
}

/* Unlinks and frees @n. */
static void
remove_node (xmlNodePtr n)
{
  xmlUnlinkNode (n);
  xmlFreeNode (n);
}

static int
order_index (const char *const *order, const char *name)
{
  for (int i = 0; order[i]; i++)
    if (strcmp (order[i], name) == 0)
      return i;
  return 1000;
}

/* Inserts @c into @parent before the first element child that libvirt
 * writes after it; appends when there is none. */
static xmlNodePtr
insert_ordered (xmlNodePtr parent, xmlNodePtr c, const char *const *order)
{
  int want = order_index (order, (const char *) c->name);

  for (xmlNodePtr k = parent->children; k; k = k->next)
    if (k->type == XML_ELEMENT_NODE && order_index (order, (const char *) k->name) > want) {
      xmlAddPrevSibling (k, c);
      return c;
    }
  xmlAddChild (parent, c);
  return c;
}

/* Adds @c before @ref, or at the end of @parent when @ref is NULL. */
static void
add_before (xmlNodePtr parent, xmlNodePtr c, xmlNodePtr ref)
{
  if (ref)
    xmlAddPrevSibling (ref, c);
  else
    xmlAddChild (parent, c);
}

static xmlNodePtr
ensure_child (xmlNodePtr parent, const char *name, const char *const *order)
{
  xmlNodePtr c = child (parent, name);
  if (c)
    return c;
  return insert_ordered (parent, xmlNewDocNode (parent->doc, NULL, (const xmlChar *) name, NULL),
                         order);
}

static void
set_prop (xmlNodePtr n, const char *name, const char *value)
{
  if (value)
    xmlSetProp (n, (const xmlChar *) name, (const xmlChar *) value);
  else
    xmlUnsetProp (n, (const xmlChar *) name);
}

static const char *
uint_str (char buf[12], unsigned v)
{
  int i = 11;

  buf[i] = '\0';
  do {
    buf[--i] = (char) ('0' + v % 10);
    v /= 10;
  } while (v);
  return buf + i;
}

static void
set_prop_uint (xmlNodePtr n, const char *name, unsigned v)
{
  char buf[12];
  set_prop (n, name, uint_str (buf, v));
}

/* Attributes of elements created here: no existing attribute to replace. */
static void
new_prop (xmlNodePtr n, const char *name, const char *value)
{
  xmlNewProp (n, (const xmlChar *) name, (const xmlChar *) value);
}

static void
new_prop_uint (xmlNodePtr n, const char *name, unsigned v)
{
  char buf[12];
  new_prop (n, name, uint_str (buf, v));
}

static void
set_prop_set (xmlNodePtr n, const char *name, hwloc_const_bitmap_t set)
{
  g_autofree char *s = vdp_cpuset_format (set);
  set_prop (n, name, s);
}

static xmlNodePtr
new_child (xmlNodePtr parent, const char *name)
{
  return xmlNewChild (parent, NULL, (const xmlChar *) name, NULL);
}

/* ---- serialising ---------------------------------------------------------- */

/* A growing buffer: GString's appends cost more than the bytes. */
struct out {
  char *buf;
  size_t len, cap;
};

static void
out_grow (struct out *o, size_t n)
{
  while (o->len + n + 1 > o->cap)
    o->cap = o->cap ? o->cap * 2 : 8192;
  o->buf = g_realloc (o->buf, o->cap);
}

static inline void
out_put (struct out *o, const char *s, size_t n)
{
  if (o->len + n + 1 > o->cap)
    out_grow (o, n);
  memcpy (o->buf + o->len, s, n);
  o->len += n;
}

static inline void
out_c (struct out *o, char c)
{
  if (o->len + 2 > o->cap)
    out_grow (o, 1);
  o->buf[o->len++] = c;
}

#define OUT_LIT(o, lit) out_put ((o), (lit), sizeof (lit) - 1)

static inline void
out_str (struct out *o, const xmlChar *s)
{
  out_put (o, (const char *) s, strlen ((const char *) s));
}

/* Escapes @s into @o as libxml2 does for text (@attr FALSE) or attribute
 * values; FALSE on a byte it writes as a character reference (not ASCII,
 * control characters), left to libxml2. */
static gboolean
put_escaped (struct out *o, const xmlChar *s, gboolean attr)
{
  const xmlChar *run = s;

  for (; *s; s++) {
    const char *rep;
    if (*s >= 0x3f && *s < 0x80)
      continue;   /* letters, most of what there is */
    switch (*s) {
    case '<': rep = "&lt;"; break;
    case '>': rep = "&gt;"; break;
    case '&': rep = "&amp;"; break;
    case '"': rep = attr ? "&quot;" : NULL; break;
    case '\n': rep = attr ? "&#10;" : NULL; break;
    case '\t': rep = attr ? "&#9;" : NULL; break;
    default:
      if (*s < 0x20 || *s >= 0x80)
        return FALSE;
      continue;
    }
    if (rep == NULL)
      continue;
    out_put (o, (const char *) run, (size_t) (s - run));
    out_str (o, BAD_CAST rep);
    run = s + 1;
  }
  out_put (o, (const char *) run, (size_t) (s - run));
  return TRUE;
}

static void
put_name (struct out *o, xmlNsPtr ns, const xmlChar *name)
{
  if (ns && ns->prefix) {
    out_str (o, ns->prefix);
    out_c (o, ':');
  }
  out_str (o, name);
}

static void
put_indent (struct out *o, unsigned level)
{
  static const char spaces[] = "                                                            ";

  out_put (o, spaces, 2 * MIN (level, 30));
}

/* Writes @cur as xmlNodeDump (format 1, two spaces a level) would, for
 * the nodes domain XML holds: elements, text, comments, namespace
 * declarations and attributes of text.  FALSE on anything else. */
static gboolean
dump_node (struct out *o, xmlNodePtr cur, unsigned level, gboolean format)
{
  switch (cur->type) {
  case XML_TEXT_NODE:
    /* "textnoenc": written unescaped (XSLT's), left to libxml2 */
    return !xmlStrEqual (cur->name, BAD_CAST "textnoenc")
           && (!cur->content || put_escaped (o, cur->content, FALSE));
  case XML_COMMENT_NODE:
    if (cur->content) {
      OUT_LIT (o, "<!--");
      out_str (o, cur->content);
      OUT_LIT (o, "-->");
    }
    return TRUE;
  case XML_ELEMENT_NODE:
    break;
  default:
    return FALSE;
  }
  for (xmlNodePtr c = cur->children; format && c; c = c->next)
    if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE
        || c->type == XML_ENTITY_REF_NODE)
      format = FALSE;   /* mixed content keeps its spacing */
  out_c (o, '<');
  put_name (o, cur->ns, cur->name);
  for (xmlNsPtr ns = cur->nsDef; ns; ns = ns->next) {
    if (ns->type != XML_LOCAL_NAMESPACE || ns->href == NULL)
      continue;
    if (ns->prefix && xmlStrEqual (ns->prefix, BAD_CAST "xml"))
      continue;
    if (xmlStrchr (ns->href, '"'))
      return FALSE;
    OUT_LIT (o, " xmlns");
    if (ns->prefix) {
      out_c (o, ':');
      out_str (o, ns->prefix);
    }
    OUT_LIT (o, "=\"");
    out_str (o, ns->href);
    out_c (o, '"');
  }
  for (xmlAttrPtr a = cur->properties; a; a = a->next) {
    out_c (o, ' ');
    put_name (o, a->ns, a->name);
    OUT_LIT (o, "=\"");
    for (xmlNodePtr t = a->children; t; t = t->next)
      if (t->type != XML_TEXT_NODE || (t->content && !put_escaped (o, t->content, TRUE)))
        return FALSE;
    out_c (o, '"');
  }
  if (cur->children == NULL) {
    OUT_LIT (o, "/>");
    return TRUE;
  }
  out_c (o, '>');
  if (format)
    out_c (o, '\n');
  for (xmlNodePtr c = cur->children; c; c = c->next) {
    if (format && (c->type == XML_ELEMENT_NODE || c->type == XML_COMMENT_NODE
                   || c->type == XML_PI_NODE))
      put_indent (o, level + 1);
    if (!dump_node (o, c, level + 1, format))
      return FALSE;
    if (format)
      out_c (o, '\n');
  }
  if (format)
    put_indent (o, level);
  OUT_LIT (o, "</");
  put_name (o, cur->ns, cur->name);
  out_c (o, '>');
  return TRUE;
}

/* Serialises @n into @buf (emptied first), unindented, as xmlNodeDump()
 * does; returns its content (borrowed). */
static const xmlChar *
node_to_string (xmlBufferPtr buf, xmlNodePtr n)
{
  struct out o = { 0 };

  xmlBufferEmpty (buf);
  out_grow (&o, 0);
  if (dump_node (&o, n, 0, FALSE))
    xmlBufferAdd (buf, (const xmlChar *) o.buf, (int) o.len);
  else
    xmlNodeDump (buf, n->doc, n, 0, 0);
  g_free (o.buf);
  return xmlBufferContent (buf);
}

/* ---- metadata ---------------------------------------------------------- */

static xmlNodePtr
find_vdp (xmlNodePtr root)
{
  return vdp_xml_dataplane_node (root->doc);
}

static xmlNodePtr
find_original (xmlNodePtr vdp, const char *key)
{
  for (xmlNodePtr c = vdp->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && strcmp ((const char *) c->name, "original") == 0) {
      xmlAttrPtr a = xmlHasProp (c, (const xmlChar *) "key");
      if (a && a->children && a->children->content
          && strcmp ((const char *) a->children->content, key) == 0)
        return c;
    }
  return NULL;
}

/* Records @n (or its absence) under @key unless an earlier apply did;
 * @buf is scratch space. */
static void
record (xmlNodePtr vdp, xmlBufferPtr buf, const char *key, xmlNodePtr n)
{
  xmlNodePtr o;

  if (find_original (vdp, key))
    return;
  o = xmlNewChild (vdp, vdp->ns, (const xmlChar *) "original", NULL);
  new_prop (o, "key", key);
  new_prop (o, "present", n ? "yes" : "no");
  if (n)
    xmlNodeAddContent (o, node_to_string (buf, n));
}

static xmlNodePtr
ensure_vdp (xmlNodePtr root)
{
  xmlNodePtr vdp = find_vdp (root);
  xmlNodePtr meta;
  gboolean had_meta;

  if (vdp)
    return vdp;
  meta = child (root, "metadata");
  had_meta = meta != NULL;
  if (!meta)
    meta = insert_ordered (root, xmlNewDocNode (root->doc, NULL, (const xmlChar *) "metadata", NULL),
                           domain_order);
  vdp = xmlNewDocNode (root->doc, NULL, (const xmlChar *) "dataplane", NULL);
  xmlSetNs (vdp, xmlNewNs (vdp, (const xmlChar *) VDP_XMLNS, (const xmlChar *) VDP_XMLNS_PREFIX));
  insert_ordered (meta, vdp, domain_order);
  if (!had_meta) {
    /* revert removes the <metadata> it had to create */
    xmlNodePtr o = xmlNewChild (vdp, vdp->ns, (const xmlChar *) "original", NULL);
    set_prop (o, "key", "metadata");
    set_prop (o, "present", "no");
  }
  return vdp;
}

/* ---- the edits --------------------------------------------------------- */

static xmlNodePtr
nth_element (xmlNodePtr root, const char *path_parent, const char *name, unsigned n)
{
  xmlNodePtr parent = child (root, path_parent);
  unsigned i = 0;

  for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
    if (is_elem (c, name) && i++ == n)
      return c;
  return NULL;
}

static void
write_map (xmlNodePtr driver, const struct vdp_map *m)
{
  xmlNodePtr old = child (driver, "iothreads");

  if (old)
    remove_node (old);
  xmlUnsetProp (driver, (const xmlChar *) "iothread");
  if (m->queues)
    set_prop_uint (driver, "queues", m->queues);
  if (m->kind == VDP_MAP_SINGLE) {
    set_prop_uint (driver, "iothread", m->threads[0]);
  } else {
    xmlNodePtr list = new_child (driver, "iothreads");
    for (unsigned k = 0; k < m->n_threads; k++) {
      xmlNodePtr t = new_child (list, "iothread");
      new_prop_uint (t, "id", m->threads[k]);
      if (m->kind == VDP_MAP_EXPLICIT) {
        GArray *qs = m->queue_lists->pdata[k];
        for (guint q = 0; q < qs->len; q++)
          new_prop_uint (new_child (t, "queue"), "id", g_array_index (qs, guint, q));
      }
    }
  }
}

/* Where the pins go in @tune: together, before the first child libvirt
 * writes after them (vcpusched, cachetune, ...); NULL for the end. */
static xmlNodePtr
pins_end (xmlNodePtr tune)
{
  for (xmlNodePtr c = tune->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE
        && order_index (cputune_order, (const char *) c->name) > order_index (cputune_order, "iothreadpin"))
      return c;
  return NULL;
}

/* An <iothreadpin> per IOThread of @dp, before @ref in @tune. */
static void
add_iothreadpins (xmlNodePtr tune, xmlNodePtr ref, const struct vdp_domain_plan *dp)
{
  for (unsigned k = 0; k < dp->n_iothreads; k++) {
    xmlNodePtr pin = xmlNewDocNode (tune->doc, NULL, (const xmlChar *) "iothreadpin", NULL);
    new_prop_uint (pin, "iothread", k + 1);
    set_prop_set (pin, "cpuset", dp->iothread_pins[k]);
    add_before (tune, pin, ref);
  }
}

static void
patch_cputune (xmlNodePtr root, xmlNodePtr vdp, xmlBufferPtr scratch,
               const struct vdp_domain_plan *dp)
{
  const struct vdp_domain *d = dp->dom;
  xmlNodePtr tune = child (root, "cputune");
  xmlNodePtr c, next, ref;
  g_autofree char *cpus = NULL;

  record (vdp, scratch, "cputune", tune);
  tune = ensure_child (root, "cputune", domain_order);
  for (c = tune->children; c; c = next) {
    next = c->next;
    if (is_elem (c, "vcpupin") || is_elem (c, "emulatorpin")
        || (dp->set_iothreads && is_elem (c, "iothreadpin"))) {
      xmlUnlinkNode (c);
      xmlFreeNode (c);
    }
  }
  ref = pins_end (tune);
  for (unsigned v = 0; v < d->vcpus; v++) {
    xmlNodePtr pin = xmlNewDocNode (root->doc, NULL, (const xmlChar *) "vcpupin", NULL);
    new_prop_uint (pin, "vcpu", v);
    if (cpus == NULL || !hwloc_bitmap_isequal (dp->vcpu_pins[v], dp->vcpu_pins[v ? v - 1 : 0])) {
      g_free (cpus);
      cpus = vdp_cpuset_format (dp->vcpu_pins[v]);   /* shared guests: one set for all */
    }
    new_prop (pin, "cpuset", cpus);
    add_before (tune, pin, ref);
  }
  {
    xmlNodePtr pin = xmlNewDocNode (root->doc, NULL, (const xmlChar *) "emulatorpin", NULL);
    set_prop_set (pin, "cpuset", dp->emulator_pin);
    add_before (tune, pin, ref);
  }
  if (dp->set_iothreads)
    add_iothreadpins (tune, ref, dp);
}

/* A guest whose placement is kept: its vCPU and emulator pins stay, the
 * IOThreads virt-dataplane adds are pinned (never left to float over
 * every host PU). */
static void
patch_kept_iothreadpins (xmlNodePtr root, xmlNodePtr vdp, xmlBufferPtr scratch,
                         const struct vdp_domain_plan *dp)
{
  xmlNodePtr tune = child (root, "cputune");
  xmlNodePtr c, next, ref;

  record (vdp, scratch, "cputune", tune);
  tune = ensure_child (root, "cputune", domain_order);
  for (c = tune->children; c; c = next) {
    next = c->next;
    if (is_elem (c, "iothreadpin")) {
      xmlUnlinkNode (c);
      xmlFreeNode (c);
    }
  }
  ref = pins_end (tune);
  add_iothreadpins (tune, ref, dp);
}

static void
patch_memory (xmlNodePtr root, xmlNodePtr vdp, xmlBufferPtr scratch,
              const struct vdp_domain_plan *dp)
{
  xmlNodePtr numa = child (root, "numatune");
  xmlNodePtr mem;
  /* every guest cell bound to its node */
  gboolean per_cell = dp->n_cells > 0;

  record (vdp, scratch, "numatune", numa);
  if (numa)
    remove_node (numa);
  numa = insert_ordered (root, xmlNewDocNode (root->doc, NULL, (const xmlChar *) "numatune", NULL),
                         domain_order);
  mem = new_child (numa, "memory");
  set_prop (mem, "mode", memory_mode_names[dp->memory]);
  set_prop_set (mem, "nodeset", dp->mem_nodes);
  for (unsigned c = 0; per_cell && c < dp->n_cells; c++) {
    xmlNodePtr mn = new_child (numa, "memnode");
    set_prop_uint (mn, "cellid", dp->cells[c].id);
    set_prop (mn, "mode", memory_mode_names[dp->memory]);
    set_prop_uint (mn, "nodeset", dp->cells[c].node);
  }

  if (dp->create_cells) {
    xmlNodePtr cpu = child (root, "cpu");
    xmlNodePtr cells;
    record (vdp, scratch, "cpu", cpu);
    cpu = ensure_child (root, "cpu", domain_order);
    cells = insert_ordered (cpu, xmlNewDocNode (root->doc, NULL, (const xmlChar *) "numa", NULL),
                            cpu_order);
    for (unsigned c = 0; c < dp->n_cells; c++) {
      xmlNodePtr cell = new_child (cells, "cell");
      char mem_s[32];
      set_prop_uint (cell, "id", dp->cells[c].id);
      set_prop_set (cell, "cpus", dp->cells[c].vcpus);
      g_snprintf (mem_s, sizeof (mem_s), "%" G_GUINT64_FORMAT, dp->cells[c].memory_kib);
      set_prop (cell, "memory", mem_s);
      set_prop (cell, "unit", "KiB");
    }
  }
}

static void
patch_iothreads (xmlNodePtr root, xmlNodePtr vdp, xmlBufferPtr scratch,
                 const struct vdp_domain_plan *dp)
{
  xmlNodePtr count = child (root, "iothreads");
  xmlNodePtr ids = child (root, "iothreadids");
  char buf[16];

  record (vdp, scratch, "iothreads", count);
  count = ensure_child (root, "iothreads", domain_order);
  g_snprintf (buf, sizeof (buf), "%u", dp->n_iothreads);
  xmlNodeSetContent (count, (const xmlChar *) buf);

  if (ids && dp->poll_max < 0) {
    /* an <iothreadids> an earlier apply created for <poll> alone goes */
    xmlNodePtr o = find_original (vdp, "iothreadids");
    g_autoptr (xmlChar) present = o ? xmlGetProp (o, (const xmlChar *) "present") : NULL;
    if (present && strcmp ((const char *) present, "no") == 0) {
      remove_node (ids);
      ids = NULL;
    }
  }
  if (ids == NULL && dp->poll_max >= 0) {
    /* <poll> lives under <iothreadids> */
    record (vdp, scratch, "iothreadids", NULL);
    ids = insert_ordered (root, xmlNewDocNode (root->doc, NULL, (const xmlChar *) "iothreadids",
                                               NULL), domain_order);
  } else if (ids) {
    record (vdp, scratch, "iothreadids", ids);
  }
  if (ids) {
    /* keep the ids (and their pool/poll settings) up to the count, add the rest */
    g_autofree xmlNodePtr *by_id = g_new0 (xmlNodePtr, dp->n_iothreads + 1);
    xmlNodePtr c, next;

    for (c = ids->children; c; c = next) {
      g_autoptr (xmlChar) id_s = NULL;
      guint64 id = 0;
      next = c->next;
      if (!is_elem (c, "iothread"))
        continue;
      id_s = xmlGetProp (c, (const xmlChar *) "id");
      xmlUnlinkNode (c);
      if (id_s && g_ascii_string_to_unsigned ((const char *) id_s, 10, 1, dp->n_iothreads, &id, NULL)
          && by_id[id] == NULL)
        by_id[id] = c;
      else
        xmlFreeNode (c);
    }
    for (unsigned k = 1; k <= dp->n_iothreads; k++) {
      if (by_id[k] == NULL) {
        by_id[k] = xmlNewDocNode (root->doc, NULL, (const xmlChar *) "iothread", NULL);
        set_prop_uint (by_id[k], "id", k);
      }
      if (dp->poll_max >= 0) {
        /* IOThreads that share PUs poll less */
        xmlNodePtr poll = child (by_id[k], "poll");
        if (poll == NULL)
          poll = new_child (by_id[k], "poll");
        set_prop_uint (poll, "max", (unsigned) dp->poll_max);
      }
      xmlAddChild (ids, by_id[k]);
    }
  }
}

int
vdp_xmlpatch_apply (xmlDocPtr doc, const struct vdp_plan *plan,
                    const struct vdp_domain_plan *dp, GError **error)
{
  const struct vdp_domain *d = dp->dom;
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr vdp;
  g_autoptr (xmlBuffer) scratch = NULL;

  if (root == NULL || !is_elem (root, "domain")) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "domain '%s': not a <domain> document",
                 d->name);
    return -1;
  }
  if (dp->skipped || dp->failed)
    return 0;   /* nothing to write: left alone, or it does not fit */

  scratch = xmlBufferCreateSize (1024);
  vdp = ensure_vdp (root);
  if (dp->place) {
    xmlNodePtr vcpu = child (root, "vcpu");
    g_autoptr (xmlChar) placement = vcpu ? xmlGetProp (vcpu, (const xmlChar *) "placement") : NULL;

    if (placement && strcmp ((const char *) placement, "auto") == 0) {
      /* numad placement would fight the pins */
      record (vdp, scratch, "vcpu", vcpu);
      set_prop (vcpu, "placement", "static");
    }
    patch_cputune (root, vdp, scratch, dp);
    if (dp->guest_threads && d->sockets == 0) {
      /* the guest is told which vCPUs share a core */
      xmlNodePtr cpu = child (root, "cpu"), topo;
      record (vdp, scratch, "cpu", cpu);
      cpu = ensure_child (root, "cpu", domain_order);
      topo = insert_ordered (cpu, xmlNewDocNode (root->doc, NULL, (const xmlChar *) "topology",
                                                 NULL), cpu_order);
      set_prop (topo, "sockets", "1");
      set_prop (topo, "dies", "1");
      set_prop_uint (topo, "cores", d->vcpus / dp->guest_threads);
      set_prop_uint (topo, "threads", dp->guest_threads);
    }
    if (dp->memory != VDP_MEMORY_NONE)
      patch_memory (root, vdp, scratch, dp);
    else if (dp->unbind && child (root, "numatune")) {
      record (vdp, scratch, "numatune", child (root, "numatune"));
      remove_node (child (root, "numatune"));
    }
  }
  else if (dp->set_iothreads && dp->iothread_pins)
    patch_kept_iothreadpins (root, vdp, scratch, dp);
  if (dp->set_iothreads)
    patch_iothreads (root, vdp, scratch, dp);

  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk_plan *pl = &dp->disks[i];
    xmlNodePtr disk, driver;
    g_autofree char *key = NULL;

    if (!pl->set_driver && pl->map.kind == VDP_MAP_NONE)
      continue;
    disk = nth_element (root, "devices", "disk", i);
    if (disk == NULL)
      continue;
    driver = child (disk, "driver");
    key = g_strdup_printf ("disk/%s/driver", d->disks[i].target ? d->disks[i].target : "");
    record (vdp, scratch, key, driver);
    if (driver == NULL) {
      driver = xmlNewDocNode (doc, NULL, (const xmlChar *) "driver", NULL);
      set_prop (driver, "name", "qemu");
      if (child (disk, NULL))
        xmlAddPrevSibling (child (disk, NULL), driver);   /* libvirt writes it first */
      else
        xmlAddChild (disk, driver);
    }
    if (pl->set_driver) {
      set_prop (driver, "cache", pl->cache);
      set_prop (driver, "io", pl->io);
    }
    if (pl->map.kind != VDP_MAP_NONE)
      write_map (driver, &pl->map);
  }
  for (unsigned i = 0; i < d->n_controllers; i++) {
    const struct vdp_map *m = &dp->controllers[i];
    xmlNodePtr ctrl, driver;
    g_autofree char *key = NULL;

    if (m->kind == VDP_MAP_NONE)
      continue;
    ctrl = nth_element (root, "devices", "controller", i);
    if (ctrl == NULL)
      continue;
    driver = child (ctrl, "driver");
    key = g_strdup_printf ("controller/%s/%u/driver", d->controllers[i].type, d->controllers[i].index);
    record (vdp, scratch, key, driver);
    if (driver == NULL) {
      static const char *const ctrl_order[] = { "model", "target", "driver", NULL };
      driver = insert_ordered (ctrl, xmlNewDocNode (doc, NULL, (const xmlChar *) "driver", NULL),
                               ctrl_order);
    }
    write_map (driver, m);
  }

  set_prop (vdp, "version", PACKAGE_VERSION);
  set_prop (vdp, "profile", dp->policy->name);
  set_prop (vdp, "plan", dp->hash);
  set_prop (vdp, "placement", dp->place ? "owned" : "foreign");
  return 0;
}

/* ---- revert ------------------------------------------------------------ */

/* Finds the element a recorded key names, and where to put it back. */
static xmlNodePtr
locate_key (xmlNodePtr root, const char *key, xmlNodePtr *parent, const char *const **order)
{
  g_auto (GStrv) parts = g_strsplit (key, "/", -1);
  xmlNodePtr devices = child (root, "devices");

  *parent = root;
  *order = domain_order;
  if (g_strv_length (parts) == 1)
    return child (root, parts[0]);
  if (strcmp (parts[0], "disk") == 0 && g_strv_length (parts) == 3) {
    for (xmlNodePtr c = devices ? devices->children : NULL; c; c = c->next) {
      xmlNodePtr target = is_elem (c, "disk") ? child (c, "target") : NULL;
      g_autoptr (xmlChar) dev = target ? xmlGetProp (target, (const xmlChar *) "dev") : NULL;
      if (dev && strcmp ((const char *) dev, parts[1]) == 0) {
        *parent = c;
        *order = device_driver_order;
        return child (c, "driver");
      }
    }
  }
  if (strcmp (parts[0], "controller") == 0 && g_strv_length (parts) == 4) {
    for (xmlNodePtr c = devices ? devices->children : NULL; c; c = c->next) {
      g_autoptr (xmlChar) type = is_elem (c, "controller") ? xmlGetProp (c, (const xmlChar *) "type") : NULL;
      g_autoptr (xmlChar) index = type ? xmlGetProp (c, (const xmlChar *) "index") : NULL;
      if (type && index && strcmp ((const char *) type, parts[1]) == 0
          && strcmp ((const char *) index, parts[2]) == 0) {
        *parent = c;
        *order = device_driver_order;
        return child (c, "driver");
      }
    }
  }
  *parent = NULL;
  return NULL;
}

/* The <disk> whose target is @dev, or NULL. */
static xmlNodePtr
disk_by_target (xmlNodePtr root, const char *dev)
{
  xmlNodePtr devices = child (root, "devices");

  for (xmlNodePtr c = devices ? devices->children : NULL; c; c = c->next) {
    xmlNodePtr target = is_elem (c, "disk") ? child (c, "target") : NULL;
    g_autoptr (xmlChar) d = target ? xmlGetProp (target, (const xmlChar *) "dev") : NULL;
    if (d && strcmp ((const char *) d, dev) == 0)
      return c;
  }
  return NULL;
}

/* Puts back the whole disks recorded under "disk/TARGET" (virt-dataplane-blk
 * conversions), each where the converted one is. */
static int
revert_disks (xmlNodePtr root, xmlNodePtr vdp, GError **error)
{
  for (xmlNodePtr o = vdp->children; o; o = o->next) {
    g_autoptr (xmlChar) key = NULL, text = NULL;
    xmlNodePtr cur, frag = NULL;

    if (o->type != XML_ELEMENT_NODE || strcmp ((const char *) o->name, "original") != 0)
      continue;
    key = xmlGetProp (o, (const xmlChar *) "key");
    if (key == NULL || !g_str_has_prefix ((const char *) key, "disk/")
        || strchr ((const char *) key + 5, '/'))
      continue;
    cur = disk_by_target (root, (const char *) key + 5);
    if (cur == NULL)
      continue;   /* the disk is gone: nothing to restore into */
    text = xmlNodeGetContent (o);
    if (text == NULL
        || xmlParseInNodeContext (cur->parent, (const char *) text, (int) strlen ((const char *) text),
                                  XML_PARSE_NOERROR | XML_PARSE_NOWARNING, &frag) != XML_ERR_OK
        || frag == NULL || !is_elem (frag, "disk")) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                   "virt-dataplane metadata: cannot parse the recorded '%s'", (const char *) key);
      xmlFreeNodeList (frag);
      return -1;
    }
    xmlAddPrevSibling (cur, frag);
    remove_node (cur);
  }
  return 0;
}

int
vdp_xmlpatch_revert (xmlDocPtr doc, GError **error)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr vdp = root ? find_vdp (root) : NULL;
  gboolean drop_metadata = FALSE;
  xmlNodePtr meta;

  if (vdp == NULL)
    return 0;
  if (revert_disks (root, vdp, error) < 0)
    return -1;
  for (xmlNodePtr o = vdp->children; o; o = o->next) {
    g_autoptr (xmlChar) key = NULL, present = NULL, text = NULL;
    xmlNodePtr parent, cur;
    const char *const *order;

    if (o->type != XML_ELEMENT_NODE || strcmp ((const char *) o->name, "original") != 0)
      continue;
    key = xmlGetProp (o, (const xmlChar *) "key");
    present = xmlGetProp (o, (const xmlChar *) "present");
    text = xmlNodeGetContent (o);
    if (key == NULL) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "virt-dataplane metadata: <original> without key");
      return -1;
    }
    if (strcmp ((const char *) key, "metadata") == 0) {
      drop_metadata = TRUE;
      continue;
    }
    cur = locate_key (root, (const char *) key, &parent, &order);
    if (parent == NULL)
      continue;   /* the device is gone: nothing to restore into */
    if (cur)
      remove_node (cur);
    if (present && strcmp ((const char *) present, "yes") == 0) {
      xmlNodePtr frag = NULL;
      if (xmlParseInNodeContext (parent, (const char *) text, (int) strlen ((const char *) text),
                                 XML_PARSE_NOERROR | XML_PARSE_NOWARNING, &frag) != XML_ERR_OK
          || frag == NULL) {
        g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                     "virt-dataplane metadata: cannot parse the recorded '%s'", (const char *) key);
        xmlFreeNodeList (frag);
        return -1;
      }
      if (order == device_driver_order && child (parent, NULL)) {
        xmlAddPrevSibling (child (parent, NULL), frag);
      } else {
        insert_ordered (parent, frag, order);
      }
    }
  }
  meta = vdp->parent;
  remove_node (vdp);
  if (drop_metadata && child (meta, NULL) == NULL)
    remove_node (meta);
  return 1;
}

/* ---- disks served by virt-dataplane-blk --------------------------------- */

static const char *const memory_backing_order[] = {
  "hugepages", "nosharepages", "locked", "source", "access", "allocation", "discard", NULL,
};

/* Makes @disk the vhost-user disk of @b: the backend's socket with
 * <reconnect>, its queues; target, boot order, address and alias stay,
 * everything a vhost-user disk cannot carry goes (the original is
 * recorded; serial and read-only-ness live on in the backend). */
static void
to_vhostuser (xmlNodePtr disk, const struct vdp_backend_disk *b)
{
  static const char *const keep[] = { "target", "boot", "address", "alias", NULL };
  xmlNodePtr c, next, driver, source, reconnect;

  for (c = disk->children; c; c = next) {
    next = c->next;
    if (c->type == XML_ELEMENT_NODE && !g_strv_contains (keep, (const char *) c->name))
      remove_node (c);
  }
  set_prop (disk, "type", "vhostuser");
  set_prop (disk, "device", "disk");
  for (const char *const *a = (const char *const[]) { "snapshot", "rawio", "sgio", "model", NULL };
       *a; a++)
    xmlUnsetProp (disk, (const xmlChar *) *a);
  driver = xmlNewDocNode (disk->doc, NULL, (const xmlChar *) "driver", NULL);
  new_prop (driver, "name", "qemu");
  new_prop (driver, "type", "raw");
  new_prop_uint (driver, "queues", b->queues);
  source = xmlNewDocNode (disk->doc, NULL, (const xmlChar *) "source", NULL);
  new_prop (source, "type", "unix");
  new_prop (source, "path", b->socket);
  reconnect = new_child (source, "reconnect");
  new_prop (reconnect, "enabled", "yes");
  new_prop_uint (reconnect, "timeout", VDP_BACKEND_RECONNECT_S);
  if (disk->children) {
    xmlAddPrevSibling (disk->children, driver);
  } else {
    xmlAddChild (disk, driver);
  }
  xmlAddNextSibling (driver, source);
}

static void
write_backend_record (xmlNodePtr vdp, const struct vdp_backend_disk *b)
{
  xmlNodePtr r = xmlNewChild (vdp, vdp->ns, (const xmlChar *) "backend", NULL);

  new_prop (r, "target", b->target);
  new_prop (r, "type", b->source_type);
  new_prop (r, "source", b->source);
  new_prop (r, "socket", b->socket);
  new_prop_uint (r, "queues", b->queues);
  new_prop (r, "readonly", b->readonly ? "yes" : "no");
  new_prop_uint (r, "poll-ns", b->poll_ns);
  if (b->node >= 0)
    new_prop_uint (r, "node", (unsigned) b->node);
  if (b->serial)
    new_prop (r, "serial", b->serial);
  for (unsigned w = 0; w < b->n_workers; w++) {
    xmlNodePtr wk = xmlNewChild (r, vdp->ns, (const xmlChar *) "worker", NULL);
    if (b->worker_cpus[w])
      new_prop (wk, "cpus", b->worker_cpus[w]);
  }
}

int
vdp_xmlpatch_backend (xmlDocPtr doc, GPtrArray *disks, GError **error)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr vdp = root ? find_vdp (root) : NULL;
  g_autoptr (xmlBuffer) scratch = NULL;
  VdpBackendMemory memory;
  xmlNodePtr c, next;

  for (c = vdp ? vdp->children : NULL; c; c = next) {
    next = c->next;
    if (c->type == XML_ELEMENT_NODE && strcmp ((const char *) c->name, "backend") == 0)
      remove_node (c);   /* rewritten below from today's settings */
  }
  if (disks->len == 0)
    return 0;
  if (root == NULL || !is_elem (root, "domain")) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "not a <domain> document");
    return -1;
  }
  for (guint i = 0; i < disks->len; i++)
    if (disk_by_target (root, ((struct vdp_backend_disk *) disks->pdata[i])->target) == NULL) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "no disk with target '%s'",
                   ((struct vdp_backend_disk *) disks->pdata[i])->target);
      return -1;
    }
  scratch = xmlBufferCreateSize (1024);
  vdp = ensure_vdp (root);
  memory = vdp_backend_memory (doc);
  if (memory != VDP_BACKEND_MEMORY_KEEP) {
    xmlNodePtr mb = child (root, "memoryBacking");
    record (vdp, scratch, "memoryBacking", mb);
    mb = ensure_child (root, "memoryBacking", domain_order);
    if (memory == VDP_BACKEND_MEMORY_MEMFD)
      set_prop (ensure_child (mb, "source", memory_backing_order), "type", "memfd");
    set_prop (ensure_child (mb, "access", memory_backing_order), "mode", "shared");
  }
  for (guint i = 0; i < disks->len; i++) {
    const struct vdp_backend_disk *b = disks->pdata[i];
    xmlNodePtr disk = disk_by_target (root, b->target);
    g_autoptr (xmlChar) type = xmlGetProp (disk, (const xmlChar *) "type");
    g_autofree char *key = g_strdup_printf ("disk/%s", b->target);

    if (g_strcmp0 ((const char *) type, "vhostuser") != 0)
      record (vdp, scratch, key, disk);
    to_vhostuser (disk, b);
  }
  /* after every <original>, so that applying again keeps the order */
  for (guint i = 0; i < disks->len; i++)
    write_backend_record (vdp, disks->pdata[i]);
  return 0;
}

char *
vdp_xml_format (xmlDocPtr doc)
{
  struct out o = { 0 };
  xmlBufferPtr buf;
  char *ret;
  gboolean done = TRUE;

  /* the nodes domain XML holds are written here, much faster than
   * libxml2 does; anything else (CDATA, entities, characters it writes as
   * references) by libxml2 itself, to the same bytes */
  out_grow (&o, 0);
  for (xmlNodePtr n = doc->children; n && done; n = n->next) {
    if (n->type == XML_DTD_NODE)
      continue;
    done = dump_node (&o, n, 0, TRUE);
    out_c (&o, '\n');
  }
  if (done) {
    o.buf[o.len] = '\0';
    return o.buf;
  }
  g_free (o.buf);

  buf = xmlBufferCreateSize (8192);
  for (xmlNodePtr n = doc->children; n; n = n->next) {
    if (n->type == XML_DTD_NODE)
      continue;
    xmlNodeDump (buf, doc, n, 0, 1);   /* indented two spaces a level, as libvirt does */
    xmlBufferCCat (buf, "\n");
  }
  ret = g_strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  return ret;
}
