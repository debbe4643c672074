/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Serving disks with virt-dataplane-blk: which disks can be, their backend settings, their record. */
#include <config.h>

#include <string.h>

#include "backend.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"
#include "util/json.h"

const char *const vdp_backend_given_up[] = {
  "block jobs (copy, commit, pull), backups and snapshots of the disk",
  "'virsh domblkstat' and 'domblkinfo' numbers (see 'virt-dataplane status')",
  "throttling (<iotune>), error policies, cache and io modes set in the XML",
  "hot-plugging the disk and changing its media",
  "a backend restart is a pause of the disk's I/O of about a second",
  NULL,
};

/* ---- DOM helpers ------------------------------------------------------- */

/* Attribute @name of @n (may be NULL) as a GLib string, NULL when absent. */
static char *
prop (xmlNodePtr n, const char *name)
{
  g_autoptr (xmlChar) v = n ? xmlGetNoNsProp (n, (const xmlChar *) name) : NULL;
  return v ? g_strdup ((const char *) v) : NULL;
}

static gboolean
prop_is (xmlNodePtr n, const char *name, const char *value)
{
  g_autofree char *v = prop (n, name);
  return g_strcmp0 (v, value) == 0;
}

/* The @i-th <disk> under <devices> (the order vdp_domain_parse uses). */
static xmlNodePtr
nth_disk (xmlDocPtr doc, unsigned i)
{
  xmlNodePtr devices = vdp_xml_child (xmlDocGetRootElement (doc), "devices");
  unsigned k = 0;

  for (xmlNodePtr c = devices ? devices->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && c->ns == NULL && strcmp ((const char *) c->name, "disk") == 0
        && k++ == i)
      return c;
  return NULL;
}

static xmlNodePtr
disk_by_target (xmlDocPtr doc, const char *target)
{
  xmlNodePtr devices = vdp_xml_child (xmlDocGetRootElement (doc), "devices");

  for (xmlNodePtr c = devices ? devices->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && c->ns == NULL && strcmp ((const char *) c->name, "disk") == 0
        && prop_is (vdp_xml_child (c, "target"), "dev", target))
      return c;
  return NULL;
}

static gboolean
is_ours (xmlNodePtr n, const char *name)
{
  return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href
         && strcmp ((const char *) n->ns->href, VDP_XMLNS) == 0
         && strcmp ((const char *) n->name, name) == 0;
}

/* ---- names ------------------------------------------------------------- */

gboolean
vdp_backend_uuid_valid (const char *s)
{
  static const char pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

  if (s == NULL || strlen (s) != sizeof (pattern) - 1)
    return FALSE;
  for (size_t i = 0; pattern[i]; i++)
    if (pattern[i] == '-' ? s[i] != '-' : !(g_ascii_isdigit (s[i]) || (s[i] >= 'a' && s[i] <= 'f')))
      return FALSE;
  return TRUE;
}

gboolean
vdp_backend_target_valid (const char *s)
{
  size_t n = s ? strlen (s) : 0;

  if (n == 0 || n > 32)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_islower (s[i]) && !g_ascii_isdigit (s[i]))
      return FALSE;
  return TRUE;
}

char *
vdp_backend_socket_path (const char *runtime_dir, const char *uuid, const char *target)
{
  g_autofree char *file = g_strconcat (target, ".sock", NULL);
  return g_build_filename (runtime_dir, uuid, file, NULL);
}

/* ---- records ----------------------------------------------------------- */

void
vdp_backend_disk_free (struct vdp_backend_disk *b)
{
  if (b == NULL)
    return;
  g_free (b->target);
  g_free (b->source);
  g_free (b->source_type);
  g_free (b->serial);
  g_free (b->socket);
  if (b->worker_cpus)
    for (unsigned k = 0; k < b->n_workers; k++)
      g_free (b->worker_cpus[k]);
  g_free (b->worker_cpus);
  g_free (b);
}

static gboolean
record_uint (xmlNodePtr n, const char *name, guint64 min, guint64 max, unsigned *out,
             const char *target, GError **error)
{
  g_autofree char *v = prop (n, name);
  guint64 x;

  if (v == NULL || !g_ascii_string_to_unsigned (v, 10, min, max, &x, NULL)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "backend record of disk '%s': bad %s '%s' (expected %" G_GUINT64_FORMAT
                 " to %" G_GUINT64_FORMAT ")", target ? target : "?", name, v ? v : "",
                 min, max);
    return FALSE;
  }
  *out = (unsigned) x;
  return TRUE;
}

static struct vdp_backend_disk *
record_parse (xmlNodePtr n, GError **error)
{
  g_autoptr (vdp_backend_disk) b = g_new0 (struct vdp_backend_disk, 1);
  g_autoptr (GPtrArray) cpus = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *ro = NULL, *node = NULL;
  gint64 nd = -1;

  b->target = prop (n, "target");
  b->source = prop (n, "source");
  b->source_type = prop (n, "type");
  b->serial = prop (n, "serial");
  b->socket = prop (n, "socket");
  ro = prop (n, "readonly");
  node = prop (n, "node");
  if (!vdp_backend_target_valid (b->target)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "backend record: bad target '%s'",
                 b->target ? b->target : "");
    return NULL;
  }
  if (b->source == NULL || b->source[0] != '/' || b->socket == NULL || b->socket[0] != '/') {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "backend record of disk '%s': source and socket must be absolute paths",
                 b->target);
    return NULL;
  }
  if (g_strcmp0 (b->source_type, "file") != 0 && g_strcmp0 (b->source_type, "block") != 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "backend record of disk '%s': bad type '%s' (file or block)", b->target,
                 b->source_type ? b->source_type : "");
    return NULL;
  }
  if (b->serial && (strlen (b->serial) > 20 || strchr (b->serial, '\n'))) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "backend record of disk '%s': serial longer than 20 bytes", b->target);
    return NULL;
  }
  if (!record_uint (n, "queues", 1, VDP_BACKEND_MAX_QUEUES, &b->queues, b->target, error)
      || !record_uint (n, "poll-ns", 0, 1000000000, &b->poll_ns, b->target, error))
    return NULL;
  if (node && !g_ascii_string_to_signed (node, 10, -1, 4095, &nd, NULL)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "backend record of disk '%s': bad node '%s'",
                 b->target, node);
    return NULL;
  }
  b->node = (int) nd;
  b->readonly = g_strcmp0 (ro, "yes") == 0;
  for (xmlNodePtr w = n->children; w; w = w->next) {
    g_autofree char *set = NULL;
    if (!is_ours (w, "worker"))
      continue;
    set = prop (w, "cpus");
    if (set) {
      g_autoptr (GError) e = NULL;
      hwloc_bitmap_t bm = vdp_cpuset_parse (set, &e);
      if (bm == NULL) {
        g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "backend record of disk '%s': %s",
                     b->target, e->message);
        return NULL;
      }
      hwloc_bitmap_free (bm);
    }
    g_ptr_array_add (cpus, g_steal_pointer (&set));
  }
  if (cpus->len == 0 || cpus->len > b->queues) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "backend record of disk '%s': %u worker threads for %u queues (1 to the "
                 "queue count)", b->target, cpus->len, b->queues);
    return NULL;
  }
  b->n_workers = cpus->len;
  g_ptr_array_add (cpus, NULL);
  b->worker_cpus = (char **) g_ptr_array_steal (cpus, NULL);
  return g_steal_pointer (&b);
}

GPtrArray *
vdp_backend_records_parse (xmlDocPtr doc, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) vdp_backend_disk_free);
  xmlNodePtr vdp = vdp_xml_dataplane_node (doc);

  for (xmlNodePtr c = vdp ? vdp->children : NULL; c; c = c->next) {
    struct vdp_backend_disk *b;
    if (!is_ours (c, "backend"))
      continue;
    b = record_parse (c, error);
    if (b == NULL)
      return NULL;
    for (guint i = 0; i < out->len; i++)
      if (strcmp (((struct vdp_backend_disk *) out->pdata[i])->target, b->target) == 0) {
        g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "backend record of disk '%s' repeated",
                     b->target);
        vdp_backend_disk_free (b);
        return NULL;
      }
    g_ptr_array_add (out, b);
  }
  return g_steal_pointer (&out);
}

static const struct vdp_backend_disk *
record_of (GPtrArray *records, const char *target)
{
  for (guint i = 0; records && i < records->len; i++) {
    const struct vdp_backend_disk *b = records->pdata[i];
    if (g_strcmp0 (b->target, target) == 0)
      return b;
  }
  return NULL;
}

/* ---- selection --------------------------------------------------------- */

void
vdp_backend_selection_free (struct vdp_backend_selection *s)
{
  if (s == NULL)
    return;
  for (unsigned i = 0; i < s->n_disks; i++)
    g_free (s->why_not[i]);
  g_free (s->served);
  g_free (s->recorded);
  g_free (s->why_not);
  g_free (s->refused);
  g_free (s);
}

/* Why disk @k (element @n) cannot be served, or NULL when it can. */
static char *
ineligible (const struct vdp_disk *k, xmlNodePtr n)
{
  static const struct { const char *element, *why; } blockers[] = {
    { "shareable", "shareable between domains" },
    { "transient", "transient (the backend keeps no overlay)" },
    { "iotune", "throttled with <iotune>" },
    { "encryption", "encrypted" },
    { "mirror", "in a block job" },
  };
  xmlNodePtr store;

  if (g_strcmp0 (k->bus, "virtio") != 0)
    return g_strdup_printf ("on bus '%s', not virtio", k->bus ? k->bus : "(default)");
  if (strcmp (k->device, "disk") != 0)
    return g_strdup_printf ("a %s, not a disk", k->device);
  if (g_strcmp0 (k->type, "file") != 0 && g_strcmp0 (k->type, "block") != 0)
    return g_strdup_printf ("a '%s' disk, not a file or block device", k->type ? k->type : "?");
  if (k->driver_type && strcmp (k->driver_type, "raw") != 0)
    return g_strdup_printf ("a %s image, not raw", k->driver_type);
  if (k->source == NULL || k->source[0] != '/')
    return g_strdup ("no source path");
  if (k->address_type && strcmp (k->address_type, "pci") != 0)
    return g_strdup_printf ("on a '%s' address, not PCI", k->address_type);
  if (!vdp_backend_target_valid (k->target))
    return g_strdup_printf ("target name '%s' cannot name a socket", k->target);
  for (size_t b = 0; b < G_N_ELEMENTS (blockers); b++)
    if (vdp_xml_child (n, blockers[b].element))
      return g_strdup (blockers[b].why);
  store = vdp_xml_child (n, "backingStore");
  if (store && store->children)
    return g_strdup ("has a backing store");
  return NULL;
}

/* Why the stack or the domain rules the conversion out, or NULL. */
static char *
refusal (const struct vdp_domain *d, xmlDocPtr doc, const struct vdp_caps *caps)
{
  xmlNodePtr numa = vdp_xml_child (vdp_xml_child (xmlDocGetRootElement (doc), "cpu"), "numa");
  g_autofree char *stack = vdp_caps_describe (caps);

  if (caps->libvirt < VDP_VERSION (7, 1, 0))
    return g_strdup_printf ("vhost-user disks need libvirt >= 7.1.0 (the target is %s)", stack);
  if (!caps->memfd && vdp_backend_memory (doc) == VDP_BACKEND_MEMORY_MEMFD)
    return g_strdup_printf ("shared memfd guest memory needs libvirt >= 4.10 and QEMU >= 2.12 "
                            "(the target is %s)", stack);
  if (d->type && strcmp (d->type, "kvm") != 0 && strcmp (d->type, "qemu") != 0
      && strcmp (d->type, "test") != 0)
    return g_strdup_printf ("not a QEMU/KVM domain (type '%s')", d->type);
  if (!vdp_backend_uuid_valid (d->uuid))
    return g_strdup_printf ("no UUID (or '%s' is not one) to name the backend's sockets",
                            d->uuid ? d->uuid : "");
  for (xmlNodePtr c = numa ? numa->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && prop_is (c, "memAccess", "private")) {
      g_autofree char *id = prop (c, "id");
      return g_strdup_printf ("guest NUMA cell %s has private memory (memAccess='private')",
                              id ? id : "?");
    }
  return NULL;
}

struct vdp_backend_selection *
vdp_backend_select (const struct vdp_domain *d, xmlDocPtr doc, const struct vdp_caps *caps,
                    VdpBackend want)
{
  struct vdp_backend_selection *s = g_new0 (struct vdp_backend_selection, 1);
  g_autoptr (GPtrArray) records = vdp_backend_records_parse (doc, NULL);
  gboolean any = FALSE;

  s->n_disks = d->n_disks;
  s->served = g_new0 (bool, MAX (d->n_disks, 1));
  s->recorded = g_new0 (bool, MAX (d->n_disks, 1));
  s->why_not = g_new0 (char *, MAX (d->n_disks, 1));
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk *k = &d->disks[i];
    xmlNodePtr n = nth_disk (doc, i);

    if (g_strcmp0 (k->type, "vhostuser") == 0) {
      const struct vdp_backend_disk *r = record_of (records, k->target);
      g_autofree char *path = prop (vdp_xml_child (n, "source"), "path");
      /* converted earlier: stays served, whatever --backend says */
      s->served[i] = s->recorded[i] = r && g_strcmp0 (path, r->socket) == 0;
      if (!s->served[i] && want == VDP_BACKEND_VHOST_USER)
        s->why_not[i] = g_strdup ("a vhost-user disk served by another backend");
      continue;
    }
    if (want != VDP_BACKEND_VHOST_USER)
      continue;
    s->why_not[i] = ineligible (k, n);
    s->served[i] = s->why_not[i] == NULL;
    any |= s->served[i];
  }
  if (any && (s->refused = refusal (d, doc, caps)) != NULL)
    for (unsigned i = 0; i < d->n_disks; i++)
      if (!s->recorded[i] && s->served[i]) {
        s->served[i] = false;
        s->why_not[i] = g_strdup (s->refused);
      }
  return s;
}

/* ---- settings ---------------------------------------------------------- */

VdpBackendMemory
vdp_backend_memory (xmlDocPtr doc)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr mb = vdp_xml_child (root, "memoryBacking");
  xmlNodePtr numa = vdp_xml_child (vdp_xml_child (root, "cpu"), "numa");
  g_autofree char *source = prop (vdp_xml_child (mb, "source"), "type");
  gboolean fd_backed = vdp_xml_child (mb, "hugepages") || g_strcmp0 (source, "memfd") == 0
                       || g_strcmp0 (source, "file") == 0;
  gboolean shared = prop_is (vdp_xml_child (mb, "access"), "mode", "shared");

  if (!shared && numa) {
    /* every guest NUMA cell shared is as good */
    unsigned cells = 0, shared_cells = 0;
    for (xmlNodePtr c = numa->children; c; c = c->next)
      if (c->type == XML_ELEMENT_NODE && strcmp ((const char *) c->name, "cell") == 0) {
        cells++;
        shared_cells += prop_is (c, "memAccess", "shared");
      }
    shared = cells > 0 && shared_cells == cells;
  }
  if (shared && fd_backed)
    return VDP_BACKEND_MEMORY_KEEP;
  if (vdp_xml_child (mb, "hugepages") || g_strcmp0 (source, "file") == 0)
    return VDP_BACKEND_MEMORY_SHARE;
  return VDP_BACKEND_MEMORY_MEMFD;
}

/* Where a domain whose pins are its own (placement left alone) runs its
 * threads: its emulator's pin, else the PUs its vCPUs are pinned to
 * (all of them pinned); NULL when nothing is pinned (g_free). */
static char *
own_cpus (const struct vdp_domain *d)
{
  g_auto (VdpBitmap) set = NULL;

  if (d->emulatorpin)
    return vdp_cpuset_format (d->emulatorpin);
  for (unsigned v = 0; v < d->vcpus; v++) {
    hwloc_const_bitmap_t pin = d->vcpupin[v] ? d->vcpupin[v] : d->vcpu_cpuset;
    if (pin == NULL)
      return NULL;
    if (set == NULL)
      set = hwloc_bitmap_alloc ();
    hwloc_bitmap_or (set, set, pin);
  }
  return set ? vdp_cpuset_format (set) : NULL;
}

GPtrArray *
vdp_backend_settings (const struct vdp_domain_plan *dp, const struct vdp_backend_selection *sel,
                      const struct vdp_policy *policy, const char *runtime_dir, xmlDocPtr doc,
                      GError **error)
{
  const struct vdp_domain *d = dp->dom;
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) vdp_backend_disk_free);
  g_autoptr (GPtrArray) records = vdp_backend_records_parse (doc, NULL);
  unsigned queues = MIN (policy->queues ? policy->queues : d->vcpus, VDP_BACKEND_MAX_QUEUES);
  g_autofree char *uuid = d->uuid ? g_ascii_strdown (d->uuid, -1) : NULL;
  g_autofree char *own = dp->place ? NULL : own_cpus (d);

  for (unsigned i = 0; i < sel->n_disks; i++) {
    const struct vdp_disk *k = &d->disks[i];
    struct vdp_backend_disk *b;

    if (!sel->served[i])
      continue;
    if (!vdp_backend_uuid_valid (uuid)) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                   "domain '%s': no UUID to name the backend's sockets", d->name);
      return NULL;
    }
    b = g_new0 (struct vdp_backend_disk, 1);
    b->target = g_strdup (k->target);
    if (sel->recorded[i]) {
      const struct vdp_backend_disk *r = record_of (records, k->target);
      b->source = g_strdup (r->source);
      b->source_type = g_strdup (r->source_type);
      b->serial = g_strdup (r->serial);
      b->readonly = r->readonly;
    } else {
      xmlNodePtr serial = vdp_xml_child (nth_disk (doc, i), "serial");
      g_autoptr (xmlChar) text = serial ? xmlNodeGetContent (serial) : NULL;
      b->source = g_strdup (k->source);
      b->source_type = g_strdup (k->type);
      b->serial = text && *text ? g_strndup ((const char *) text, 20) : NULL;
      b->readonly = k->readonly;
    }
    b->socket = vdp_backend_socket_path (runtime_dir, uuid, k->target);
    b->queues = MAX (queues, 1);
    b->n_workers = CLAMP (dp->n_io_slots, 1, b->queues);
    b->worker_cpus = g_new0 (char *, b->n_workers + 1);
    for (unsigned w = 0; w < b->n_workers; w++)
      if (dp->place && dp->iothread_pins && w < dp->n_io_slots)
        b->worker_cpus[w] = vdp_cpuset_format (dp->iothread_pins[w]);
      else if (!dp->place && own)
        b->worker_cpus[w] = g_strdup (own);
    /* the node of the workers' PUs when they are all on one (-1 when
     * they span nodes, as a spanning guest's do: each near its vCPUs) */
    b->node = dp->place ? dp->home_node : -1;
    if (dp->place && dp->iothread_node && dp->n_io_slots > 0) {
      b->node = dp->iothread_node[0];
      for (unsigned w = 1; w < b->n_workers && w < dp->n_io_slots; w++)
        if (dp->iothread_node[w] != b->node)
          b->node = -1;
    }
    b->poll_ns = policy->backend_poll_ns;
    g_ptr_array_add (out, b);
  }
  return g_steal_pointer (&out);
}

/* ---- verification ------------------------------------------------------ */

static gboolean
same_disk (const struct vdp_backend_disk *a, const struct vdp_backend_disk *b)
{
  if (g_strcmp0 (a->source, b->source) || g_strcmp0 (a->socket, b->socket)
      || g_strcmp0 (a->serial, b->serial) || a->queues != b->queues
      || a->n_workers != b->n_workers || a->readonly != b->readonly || a->poll_ns != b->poll_ns
      || a->node != b->node)
    return FALSE;
  for (unsigned w = 0; w < a->n_workers; w++)
    if (g_strcmp0 (a->worker_cpus[w], b->worker_cpus[w]))
      return FALSE;
  return TRUE;
}

gboolean
vdp_backend_verify (GPtrArray *want, xmlDocPtr after, GPtrArray *missing)
{
  g_autoptr (GPtrArray) records = vdp_backend_records_parse (after, NULL);
  guint before = missing->len;

  for (guint i = 0; i < want->len; i++) {
    const struct vdp_backend_disk *b = want->pdata[i];
    xmlNodePtr n = disk_by_target (after, b->target);
    xmlNodePtr source = vdp_xml_child (n, "source");
    const struct vdp_backend_disk *r = record_of (records, b->target);
    g_autofree char *queues = g_strdup_printf ("%u", b->queues);

    if (n == NULL || !prop_is (n, "type", "vhostuser") || !prop_is (source, "path", b->socket)
        || !prop_is (vdp_xml_child (source, "reconnect"), "enabled", "yes"))
      g_ptr_array_add (missing, g_strdup_printf ("disk %s: vhost-user source '%s'", b->target,
                                                 b->socket));
    else if (!prop_is (vdp_xml_child (n, "driver"), "queues", queues))
      g_ptr_array_add (missing, g_strdup_printf ("disk %s: queues='%u'", b->target, b->queues));
    if (r == NULL || !same_disk (r, b))
      g_ptr_array_add (missing, g_strdup_printf ("disk %s: backend record", b->target));
  }
  if (want->len && vdp_backend_memory (after) != VDP_BACKEND_MEMORY_KEEP)
    g_ptr_array_add (missing, g_strdup ("shared guest memory"));
  return missing->len == before;
}

gboolean
vdp_backend_parse (const char *s, VdpBackend *out, GError **error)
{
  for (int i = 0; vdp_backend_names[i]; i++)
    if (g_strcmp0 (s, vdp_backend_names[i]) == 0) {
      *out = (VdpBackend) i;
      return TRUE;
    }
  g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "invalid --backend '%s' (qemu or vhost-user)", s);
  return FALSE;
}

char *
vdp_backend_disk_socket (xmlDocPtr doc, const char *target)
{
  xmlNodePtr n = disk_by_target (doc, target);
  return n && prop_is (n, "type", "vhostuser") ? prop (vdp_xml_child (n, "source"), "path") : NULL;
}

/* ---- explanation ----------------------------------------------------- */

static const struct vdp_backend_disk *
setting_of (GPtrArray *disks, const char *target)
{
  for (guint k = 0; disks && k < disks->len; k++)
    if (strcmp (((struct vdp_backend_disk *) disks->pdata[k])->target, target) == 0)
      return disks->pdata[k];
  return NULL;
}

char *
vdp_backend_explain (const struct vdp_domain *d, const struct vdp_backend_selection *sel,
                     GPtrArray *disks, VdpBackendMemory memory)
{
  g_autoptr (GString) out = g_string_new (NULL);

  for (unsigned i = 0; i < d->n_disks; i++) {
    g_autofree char *what = g_strdup_printf ("disk %s", d->disks[i].target);
    const struct vdp_backend_disk *b = setting_of (disks, d->disks[i].target);
    gboolean alike = TRUE;

    if (sel->why_not[i])
      g_string_append_printf (out, "  %-16sstays with QEMU: %s\n", what, sel->why_not[i]);
    if (b == NULL)
      continue;
    g_string_append_printf (out, "  %-16svirt-dataplane-blk: %u queue%s, %u worker%s", what,
                            b->queues, b->queues == 1 ? "" : "s", b->n_workers,
                            b->n_workers == 1 ? "" : "s");
    for (unsigned w = 1; w < b->n_workers; w++)
      alike &= g_strcmp0 (b->worker_cpus[w], b->worker_cpus[0]) == 0;
    for (unsigned w = 0; w < (alike ? 1 : b->n_workers); w++)
      g_string_append_printf (out, "%s%s", w ? "; " : " on PUs ",
                              b->worker_cpus[w] ? b->worker_cpus[w] : "(any)");
    if (b->node >= 0)
      g_string_append_printf (out, " (node %d)", b->node);
    g_string_append_printf (out, "%s%s, polling %s\n", b->readonly ? ", read-only" : "",
                            b->serial ? ", keeps its serial" : "", b->poll_ns ? "on" : "off");
    g_string_append_printf (out, "  %-16s%s -> %s\n", "", b->source, b->socket);
  }
  if (disks == NULL || disks->len == 0)
    return out->len ? g_string_free (g_steal_pointer (&out), FALSE) : NULL;
  if (memory != VDP_BACKEND_MEMORY_KEEP)
    g_string_append_printf (out, "  %-16s%s\n", "memory", memory == VDP_BACKEND_MEMORY_MEMFD
                            ? "shared memfd backing added (vhost-user needs shared memory)"
                            : "access='shared' added (vhost-user needs shared memory)");
  g_string_append (out, "  A disk served by virt-dataplane-blk gives up:\n");
  for (const char *const *l = vdp_backend_given_up; *l; l++)
    g_string_append_printf (out, "    - %s\n", *l);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

void
vdp_backend_json (JsonBuilder *b, const struct vdp_domain *d,
                  const struct vdp_backend_selection *sel, GPtrArray *disks)
{
  json_builder_set_member_name (b, "backend");
  json_builder_begin_array (b);
  for (guint i = 0; disks && i < disks->len; i++) {
    const struct vdp_backend_disk *k = disks->pdata[i];
    json_builder_begin_object (b);
    vdp_json_add_string (b, "target", k->target);
    vdp_json_add_string (b, "source", k->source);
    vdp_json_add_string (b, "socket", k->socket);
    vdp_json_add_int (b, "queues", k->queues);
    vdp_json_add_bool (b, "readonly", k->readonly);
    vdp_json_add_int (b, "poll_ns", k->poll_ns);
    vdp_json_add_int (b, "node", k->node);
    json_builder_set_member_name (b, "workers");
    json_builder_begin_array (b);
    for (unsigned w = 0; w < k->n_workers; w++)
      if (k->worker_cpus[w])
        json_builder_add_string_value (b, k->worker_cpus[w]);
      else
        json_builder_add_null_value (b);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "not_served");
  json_builder_begin_array (b);
  for (unsigned i = 0; i < d->n_disks; i++)
    if (sel->why_not[i]) {
      json_builder_begin_object (b);
      vdp_json_add_string (b, "target", d->disks[i].target);
      vdp_json_add_string (b, "reason", sel->why_not[i]);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}
