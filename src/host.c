/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One libvirt host: its connection, topology, stack and device hints, found once and kept together. */
#include <config.h>

#include <string.h>

#include "domain.h"
#include "host.h"
#include "hostcaps.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"

const char *const vdp_host_topology_source_names[] = {
  "hosts-file", "option", "hwloc", "capabilities", "nodeinfo",
};
G_STATIC_ASSERT (G_N_ELEMENTS (vdp_host_topology_source_names) == VDP_HOST_TOPOLOGY_LAST);

/* A given topology is accepted when its memory is within this fraction
 * of the host's. */
#define MEMORY_TOLERANCE 10

/* ---- specs ----------------------------------------------------------------- */

struct vdp_host_spec *
vdp_host_spec_new (const char *uri, const char *origin)
{
  struct vdp_host_spec *s = g_new0 (struct vdp_host_spec, 1);

  s->uri = g_strdup (uri);
  s->origin = g_strdup (origin);
  s->devices = vdp_device_hints_new ();
  return s;
}

void
vdp_host_spec_free (struct vdp_host_spec *s)
{
  if (s == NULL)
    return;
  g_free (s->uri);
  g_free (s->topology);
  g_array_unref (s->devices);
  g_free (s->origin);
  g_free (s);
}

/* A topology= value: a file relative to the hosts file's directory, or a
 * synthetic description (as --topology tells them apart). */
static char *
topology_path (const char *value, const char *dir)
{
  g_autofree char *rel = NULL;

  if (g_path_is_absolute (value) || dir == NULL)
    return g_strdup (value);
  rel = g_build_filename (dir, value, NULL);
  if (strchr (value, '/') || g_str_has_suffix (value, ".xml") || g_file_test (rel, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&rel);
  return g_strdup (value);
}

struct vdp_host_spec *
vdp_host_spec_parse (const char *line, const char *origin, const char *dir, GError **error)
{
  g_autofree char *copy = g_strstrip (g_strdup (line));
  g_auto (GStrv) items = NULL;
  g_autoptr (vdp_host_spec) s = NULL;
  g_autoptr (GError) local = NULL;
  int n = 0;

  if (*copy == '\0' || *copy == '#')
    return NULL;
  if (!g_shell_parse_argv (copy, &n, &items, &local)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "%s: cannot split '%s': %s", origin, copy,
                 local->message);
    return NULL;
  }
  s = vdp_host_spec_new (items[0], origin);
  for (int i = 1; i < n; i++) {
    const char *it = items[i];
    if (g_str_has_prefix (it, "topology=") && it[9] && s->topology == NULL) {
      s->topology = topology_path (it + 9, dir);
    } else if (g_str_has_prefix (it, "device=")) {
      if (!vdp_device_hints_add (s->devices, it + 7, &local)) {
        g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "%s: %s", origin, local->message);
        return NULL;
      }
    } else {
      g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE,
                   "%s: unknown item '%s' (expected topology=FILE|SYNTHETIC or "
                   "device=PATH=DEVNAME, once each for topology)", origin, it);
      return NULL;
    }
  }
  return g_steal_pointer (&s);
}

gboolean
vdp_host_specs_read (const char *file, GPtrArray *specs, GError **error)
{
  g_autofree char *text = NULL, *dir = g_path_get_dirname (file);
  g_autoptr (GError) local = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (file, &text, NULL, &local)) {
    /* a missing input file is an input error, as for --file and --topology */
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "cannot read --hosts file '%s': %s", file,
                 local->message);
    return FALSE;
  }
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    g_autofree char *origin = g_strdup_printf ("%s:%u", file, i + 1);
    struct vdp_host_spec *s = vdp_host_spec_parse (lines[i], origin, dir, &local);
    if (local) {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
    if (s)
      g_ptr_array_add (specs, s);
  }
  return TRUE;
}

/* ---- the host object --------------------------------------------------------- */

struct vdp_host {
  char *key;                /* cache key: the URI as given, "" for the default */
  int refs;
  struct vdp_conn *conn;
  char *spec_topology;      /* topology= of its line */
  char *opt_topology;       /* --topology */
  char *target;
  gboolean force;
  GArray *hints;            /* struct vdp_device_hint: its line's, then --device */
  unsigned n_spec_hints;    /* how many are its line's ... */
  char *spec_origin;        /* ... which is this */

  GMutex lock;              /* what follows is found once, by whoever asks first */
  gboolean caps_done;
  struct vdp_hostcaps *caps;       /* NULL when the capabilities cannot be read */
  char *caps_error;
  gboolean info_done, info_ok;
  struct vdp_node_info info;
  char *info_error;
  gboolean local_done, local;
  char *local_why;
  gboolean topo_done;
  struct vdp_topology *topo;
  GError *topo_error;
  VdpHostTopologySource source;
  char *origin;
  gint64 *free_mem;
  unsigned n_free;
  gboolean stack_done;
  struct vdp_caps daemon;
  char *stack_origin;

  /* what libvirt knows of the host's storage, read on first need */
  gboolean storage_done;
  GHashTable *nodedevs;     /* name -> struct vdp_nodedev */
  GHashTable *blocks;       /* "/dev/sdb" -> node device name */
  char *nodedev_error;
  GPtrArray *pools;         /* struct vdp_pool_info */
  unsigned n_unknown;       /* disks whose place could not be found */
  char *unknown_example;

  GPtrArray *warnings;
};

static GMutex cache_lock;
static GHashTable *cache;   /* key -> struct vdp_host */

/* A new host on connection @c (taken). */
static struct vdp_host *
host_new (const char *key, struct vdp_conn *c, const struct vdp_host_spec *spec,
          const struct vdp_host_opts *opts)
{
  struct vdp_host *h = g_new0 (struct vdp_host, 1);

  h->key = g_strdup (key);
  h->refs = 1;
  h->conn = c;
  h->spec_topology = g_strdup (spec->topology);
  h->opt_topology = g_strdup (opts ? opts->topology : NULL);
  h->target = g_strdup (opts ? opts->target : NULL);
  h->force = opts && opts->force;
  h->hints = vdp_device_hints_new ();
  if (spec->devices)
    vdp_device_hints_insert (h->hints, 0, (const struct vdp_device_hint *) spec->devices->data,
                             spec->devices->len);
  h->n_spec_hints = h->hints->len;
  h->spec_origin = g_strdup (spec->origin);
  if (opts)
    vdp_device_hints_insert (h->hints, h->hints->len, opts->hints, opts->n_hints);
  g_mutex_init (&h->lock);
  h->warnings = g_ptr_array_new_with_free_func (g_free);
  return h;
}

struct vdp_host *
vdp_host_open (const struct vdp_host_spec *spec, const struct vdp_host_opts *opts, GError **error)
{
  const char *key = spec->uri ? spec->uri : "";
  struct vdp_host *h, *made;
  struct vdp_conn *c;

  g_mutex_lock (&cache_lock);
  if (cache == NULL)
    cache = g_hash_table_new (g_str_hash, g_str_equal);
  h = g_hash_table_lookup (cache, key);
  if (h)
    h->refs++;
  g_mutex_unlock (&cache_lock);
  if (h)
    return h;
  /* connecting may take long (ssh): not under the lock other hosts need */
  c = vdp_conn_open (spec->uri, error);
  if (c == NULL)
    return NULL;
  made = host_new (key, c, spec, opts);
  g_mutex_lock (&cache_lock);
  h = g_hash_table_lookup (cache, key);
  if (h)
    h->refs++;
  else
    g_hash_table_insert (cache, made->key, made);
  g_mutex_unlock (&cache_lock);
  if (h == NULL)
    return made;
  vdp_host_free (made);      /* another thread opened it meanwhile */
  return h;
}

static void
nodedev_free (gpointer p)
{
  vdp_nodedev_clear (p);
  g_free (p);
}

static void
pool_free (gpointer p)
{
  vdp_pool_info_clear (p);
  g_free (p);
}

void
vdp_host_free (struct vdp_host *h)
{
  if (h == NULL)
    return;
  g_mutex_lock (&cache_lock);
  if (--h->refs > 0) {
    g_mutex_unlock (&cache_lock);
    return;
  }
  if (g_hash_table_lookup (cache, h->key) == h)
    g_hash_table_remove (cache, h->key);
  g_mutex_unlock (&cache_lock);
  vdp_conn_free (h->conn);
  g_free (h->key);
  g_free (h->spec_topology);
  g_free (h->opt_topology);
  g_free (h->target);
  g_array_unref (h->hints);
  g_free (h->spec_origin);
  g_mutex_clear (&h->lock);
  vdp_hostcaps_free (h->caps);
  g_free (h->caps_error);
  g_free (h->info_error);
  g_free (h->local_why);
  vdp_topology_free (h->topo);
  g_clear_error (&h->topo_error);
  g_free (h->origin);
  g_free (h->free_mem);
  g_free (h->stack_origin);
  if (h->nodedevs)
    g_hash_table_unref (h->nodedevs);
  if (h->blocks)
    g_hash_table_unref (h->blocks);
  g_free (h->nodedev_error);
  if (h->pools)
    g_ptr_array_unref (h->pools);
  g_free (h->unknown_example);
  g_ptr_array_unref (h->warnings);
  g_free (h);
}

const char *
vdp_host_uri (const struct vdp_host *h)
{
  return vdp_conn_uri (h->conn);
}

struct vdp_conn *
vdp_host_conn (struct vdp_host *h)
{
  return h->conn;
}

const struct vdp_device_hint *
vdp_host_device_hints (const struct vdp_host *h, unsigned *n)
{
  *n = h->hints->len;
  return (const struct vdp_device_hint *) h->hints->data;
}

const char *
vdp_host_device_hint_origin (const struct vdp_host *h, unsigned i)
{
  return i < h->n_spec_hints ? h->spec_origin : "--device";
}

/* The capabilities, parsed once (under h->lock). */
static const struct vdp_hostcaps *
host_caps (struct vdp_host *h)
{
  if (!h->caps_done) {
    g_autoptr (GError) err = NULL;
    g_autofree char *xml = vdp_conn_capabilities (h->conn, &err);
    g_autofree char *what = g_strdup_printf ("the capabilities of '%s'", vdp_conn_uri (h->conn));

    h->caps_done = TRUE;
    if (xml)
      h->caps = vdp_hostcaps_parse (xml, what, &err);
    if (h->caps == NULL)
      h->caps_error = g_strdup (err->message);
  }
  return h->caps;
}

/* virNodeGetInfo, once (under h->lock). */
static const struct vdp_node_info *
host_info (struct vdp_host *h)
{
  if (!h->info_done) {
    g_autoptr (GError) err = NULL;
    h->info_done = TRUE;
    h->info_ok = vdp_conn_node_info (h->conn, &h->info, &err);
    if (!h->info_ok)
      h->info_error = g_strdup (err->message);
  }
  return h->info_ok ? &h->info : NULL;
}

gboolean
vdp_host_node_info (struct vdp_host *h, struct vdp_node_info *out, GError **error)
{
  const struct vdp_node_info *info;

  g_mutex_lock (&h->lock);
  info = host_info (h);
  if (info)
    *out = *info;
  else
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "%s", h->info_error);
  g_mutex_unlock (&h->lock);
  return info != NULL;
}

/* ---- is it this machine? ------------------------------------------------------ */

/* Memory of each NUMA node of this machine, in node order. */
static GArray *
here_cell_memory (void)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (uint64_t));
  g_autofree char *online = NULL;
  g_auto (VdpBitmap) nodes = NULL;
  int n;

  if (g_file_get_contents ("/sys/devices/system/node/online", &online, NULL, NULL))
    nodes = vdp_cpuset_parse (g_strstrip (online), NULL);
  if (nodes == NULL) {
    /* no NUMA in this kernel: the whole memory, as libvirt then reports it */
    g_autofree char *meminfo = NULL;
    uint64_t kib = 0;
    if (g_file_get_contents ("/proc/meminfo", &meminfo, NULL, NULL))
      sscanf (meminfo, "MemTotal: %" G_GUINT64_FORMAT, &kib);
    kib *= 1024;
    g_array_append_val (out, kib);
    return out;
  }
  hwloc_bitmap_foreach_begin (n, nodes)
    g_autofree char *path = g_strdup_printf ("/sys/devices/system/node/node%d/meminfo", n);
    g_autofree char *text = NULL;
    const char *p;
    uint64_t kib = 0;
    if (g_file_get_contents (path, &text, NULL, NULL) && (p = strstr (text, "MemTotal:")))
      kib = g_ascii_strtoull (p + strlen ("MemTotal:"), NULL, 10) * 1024;
    g_array_append_val (out, kib);
  hwloc_bitmap_foreach_end ();
  return out;
}

/* This machine's UUIDs as libvirt may report them: SMBIOS, machine-id. */
static GPtrArray *
here_uuids (void)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  char *text = NULL;

  if (g_file_get_contents ("/sys/class/dmi/id/product_uuid", &text, NULL, NULL))
    g_ptr_array_add (out, g_strstrip (text));
  if (g_file_get_contents ("/etc/machine-id", &text, NULL, NULL)) {
    g_strstrip (text);
    if (strlen (text) == 32)
      g_ptr_array_add (out, g_strdup_printf ("%.8s-%.4s-%.4s-%.4s-%.12s", text, text + 8,
                                             text + 12, text + 16, text + 20));
    g_free (text);
  }
  g_ptr_array_add (out, NULL);
  return out;
}

/* Decides whether the host is this machine (under h->lock). */
static gboolean
host_local (struct vdp_host *h)
{
  const struct vdp_hostcaps *caps;
  g_autofree char *hostname = NULL, *online = NULL;
  g_auto (VdpBitmap) here_cpus = NULL;
  g_auto (VdpBitmap) remote_cpus = NULL;
  g_autoptr (GArray) here_mem = NULL;
  g_autoptr (GArray) remote_mem = g_array_new (FALSE, TRUE, sizeof (uint64_t));
  g_autoptr (GPtrArray) uuids = NULL;
  struct vdp_host_identity remote = { 0 }, here = { 0 };

  if (h->local_done)
    return h->local;
  h->local_done = TRUE;
  if (vdp_conn_is_test (h->conn)) {
    remote.simulated = true;
  } else {
    caps = host_caps (h);
    hostname = vdp_conn_hostname (h->conn, NULL);
    remote.hostname = hostname;
    remote.uuid = caps ? caps->uuid : NULL;
    if (caps && caps->cells->len) {
      remote_cpus = vdp_hostcaps_online (caps);
      remote.cpus = remote_cpus;
      for (guint i = 0; i < caps->cells->len; i++)
        g_array_append_val (remote_mem, g_array_index (caps->cells, struct vdp_hostcaps_cell, i).memory);
      remote.n_cells = remote_mem->len;
      remote.cell_memory = (const uint64_t *) remote_mem->data;
    }
    here.hostname = g_get_host_name ();
    if (g_file_get_contents ("/sys/devices/system/cpu/online", &online, NULL, NULL))
      here_cpus = vdp_cpuset_parse (g_strstrip (online), NULL);
    here.cpus = here_cpus;
    here_mem = here_cell_memory ();
    here.n_cells = here_mem->len;
    here.cell_memory = (const uint64_t *) here_mem->data;
    uuids = here_uuids ();
  }
  h->local = vdp_host_identity_same (&remote, &here,
                                     uuids ? (const char *const *) uuids->pdata : NULL,
                                     &h->local_why);
  return h->local;
}

gboolean
vdp_host_is_local (struct vdp_host *h, const char **why)
{
  gboolean local;

  g_mutex_lock (&h->lock);
  local = host_local (h);
  if (why)
    *why = h->local_why;
  g_mutex_unlock (&h->lock);
  return local;
}

/* ---- topology ---------------------------------------------------------------------- */

/* "31.4 GiB" (plain spaces: it goes into one-line messages). */
static char *
describe_memory (guint64 bytes)
{
  return g_strdup_printf ("%.1f GiB", (double) bytes / (1024.0 * 1024 * 1024));
}

static gboolean
memory_agrees (guint64 a, guint64 b)
{
  guint64 d = a > b ? a - b : b - a;
  return b > 0 && d <= MAX (a, b) / MEMORY_TOLERANCE;
}

gboolean
vdp_host_check_topology (const struct vdp_topology *t, const char *what, const char *uri,
                         const struct vdp_node_info *info, unsigned n_cells, guint64 cells_memory,
                         hwloc_const_bitmap_t cells_cpus, GError **error)
{
  unsigned cpus = (unsigned) hwloc_bitmap_weight (t->online);
  unsigned nodes = (unsigned) t->n_nodes;
  unsigned host_nodes = n_cells ? n_cells : info->nodes;
  guint64 memory = 0;
  gboolean memory_known = t->n_nodes > 0;
  g_autoptr (GString) why = g_string_new (NULL);

  for (size_t i = 0; i < t->n_nodes; i++) {
    memory += t->nodes[i].memory;
    memory_known &= t->nodes[i].memory > 0;
  }
  if (cpus != info->cpus)
    g_string_append_printf (why, "%u CPUs, the host %u", cpus, info->cpus);
  else if (cells_cpus && !hwloc_bitmap_isequal (t->online, cells_cpus)) {
    g_autofree char *a = vdp_cpuset_format (t->online), *b = vdp_cpuset_format (cells_cpus);
    g_string_append_printf (why, "CPUs %s, the host %s", a, b);
  }
  if (nodes != host_nodes)
    g_string_append_printf (why, "%s%u NUMA nodes, the host %u", why->len ? "; " : "", nodes,
                            host_nodes);
  if (memory_known && !memory_agrees (memory, cells_memory)
      && !memory_agrees (memory, info->memory_kib * 1024)) {
    g_autofree char *a = describe_memory (memory);
    g_autofree char *b = describe_memory (cells_memory ? cells_memory : info->memory_kib * 1024);
    g_string_append_printf (why, "%s%s of memory, the host %s", why->len ? "; " : "", a, b);
  }
  if (why->len == 0)
    return TRUE;
  g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
               "topology %s does not match host '%s': it has %s (give --force to plan with it "
               "anyway)", what, uri, why->str);
  return FALSE;
}

/* Fills in the host's block devices from its node devices: each storage
 * device under its PCI controller, on that controller's node.  Quiet when
 * the host has no node device driver. */
static void load_storage (struct vdp_host *h);

static void
add_devices (struct vdp_host *h, struct vdp_hostcaps *caps)
{
  GHashTableIter it;
  gpointer key, value;

  load_storage (h);
  if (h->blocks == NULL)
    return;
  g_hash_table_iter_init (&it, h->blocks);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    const char *path = key;
    const struct vdp_nodedev *d = g_hash_table_lookup (h->nodedevs, value);
    struct vdp_hostcaps_device dev = { 0 };
    unsigned depth = 0;

    if (!g_str_has_prefix (path, "/dev/") || strchr (path + 5, '/'))
      continue;
    dev.name = g_strdup (path + 5);
    dev.node = -1;
    for (; d && depth < 16; depth++) {
      if (d->pci) {
        dev.pci = g_strdup (d->pci_address);
        dev.pci_class = d->pci_class;
        dev.pci_vendor = d->pci_vendor;
        dev.pci_device = d->pci_device;
        dev.node = d->node;
        break;
      }
      d = d->parent ? g_hash_table_lookup (h->nodedevs, d->parent) : NULL;
    }
    g_array_append_val (caps->devices, dev);
  }
}

/* Loads a topology from a hwloc XML generated from @caps. */
static struct vdp_topology *
from_hostcaps (struct vdp_hostcaps *caps, VdpTopologyKind kind, const char *source,
               GError **error)
{
  g_autofree char *xml = vdp_hostcaps_to_hwloc_xml (caps, error);

  return xml ? vdp_topology_load_xml_buffer (xml, kind, source, error) : NULL;
}

/* A given topology (hosts file or --topology), checked against the host
 * unless forced. */
static struct vdp_topology *
given_topology (struct vdp_host *h, const char *spec, const char *how, GError **error)
{
  g_autoptr (vdp_topology) t = vdp_topology_load (spec, error);
  g_autofree char *what = g_strdup_printf ("'%s' (%s)", spec, how);
  const struct vdp_node_info *info;
  const struct vdp_hostcaps *caps;
  g_auto (VdpBitmap) cpus = NULL;
  guint64 memory = 0;
  unsigned n_cells = 0;

  if (t == NULL || h->force)
    return g_steal_pointer (&t);
  info = host_info (h);
  if (info == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME,
                 "cannot check topology %s against host '%s': %s (give --force to plan with it "
                 "anyway)", what, vdp_conn_uri (h->conn), h->info_error);
    return NULL;
  }
  caps = host_caps (h);
  if (caps && caps->cells->len) {
    n_cells = caps->cells->len;
    cpus = vdp_hostcaps_online (caps);
    for (guint i = 0; i < caps->cells->len; i++)
      memory += g_array_index (caps->cells, struct vdp_hostcaps_cell, i).memory;
  }
  if (!vdp_host_check_topology (t, what, vdp_conn_uri (h->conn), info, n_cells, memory, cpus,
                                error))
    return NULL;
  return g_steal_pointer (&t);
}

/* Finds the topology (under h->lock). */
static void
resolve_topology (struct vdp_host *h)
{
  const char *uri = vdp_conn_uri (h->conn);
  const struct vdp_hostcaps *caps;
  const struct vdp_node_info *info;
  GError **err = &h->topo_error;

  if (h->spec_topology) {
    h->source = VDP_HOST_TOPOLOGY_HOSTS_FILE;
    h->origin = g_strdup_printf ("%s, given for this host in the hosts file", h->spec_topology);
    h->topo = given_topology (h, h->spec_topology, "given for this host", err);
    return;
  }
  if (h->opt_topology) {
    h->source = VDP_HOST_TOPOLOGY_OPTION;
    h->origin = g_strdup_printf ("%s, given with --topology", h->opt_topology);
    h->topo = given_topology (h, h->opt_topology, "--topology", err);
    return;
  }
  if (host_local (h)) {
    h->source = VDP_HOST_TOPOLOGY_HWLOC;
    h->origin = g_strdup ("this machine, read by hwloc");
    h->topo = vdp_topology_load_host (NULL, err);
    return;
  }
  caps = host_caps (h);
  if (caps && caps->cells->len) {
    g_autofree char *source = g_strdup_printf ("libvirt capabilities of %s", uri);

    h->source = VDP_HOST_TOPOLOGY_CAPABILITIES;
    h->origin = g_strdup_printf ("the libvirt capabilities of %s", uri);
    add_devices (h, h->caps);
    h->topo = from_hostcaps (h->caps, VDP_TOPOLOGY_CAPABILITIES, source, err);
    return;
  }
  info = host_info (h);
  h->source = VDP_HOST_TOPOLOGY_NODEINFO;
  if (info == NULL) {
    g_set_error (err, VDP_ERROR, VDP_ERROR_RUNTIME,
                 "cannot determine the topology of '%s': its capabilities have no NUMA cells "
                 "(%s) and its node info failed (%s); give topology= in a hosts file or "
                 "--topology", uri, h->caps_error ? h->caps_error : "none listed",
                 h->info_error);
    return;
  }
  {
    g_autoptr (vdp_hostcaps) synth = vdp_hostcaps_from_counts (info->nodes, info->sockets,
                                                               info->cores, info->threads,
                                                               info->cpus, info->memory_kib * 1024);
    g_autofree char *source = g_strdup_printf ("libvirt node info of %s", uri);

    h->origin = g_strdup_printf ("the libvirt node info of %s: %u nodes, %u sockets per node, "
                                 "%u cores per socket, %u threads per core", uri,
                                 info->nodes, info->sockets, info->cores, info->threads);
    add_devices (h, synth);
    h->topo = from_hostcaps (synth, VDP_TOPOLOGY_NODEINFO, source, err);
    if (h->topo)
      g_ptr_array_add (h->warnings,
                       g_strdup_printf ("host '%s': libvirt gives no NUMA cells: planning on a "
                                        "synthetic topology from its node info (%u nodes, %u "
                                        "sockets per node, %u cores per socket, %u threads per "
                                        "core); its caches, CPU numbering and device locality "
                                        "(beyond libvirt's node devices) are unknown", uri,
                                        info->nodes, info->sockets, info->cores, info->threads));
  }
}

/* Each node's free memory, from the connection. */
static void
read_free_memory (struct vdp_host *h)
{
  unsigned max = 0;
  g_autofree guint64 *v = NULL;
  int n;

  for (size_t i = 0; i < h->topo->n_nodes; i++)
    max = MAX (max, h->topo->nodes[i].id + 1);
  v = g_new0 (guint64, MAX (max, 1));
  n = vdp_conn_cells_free_memory (h->conn, v, (int) max);
  h->n_free = max;
  h->free_mem = g_new0 (gint64, MAX (max, 1));
  for (unsigned i = 0; i < max; i++)
    h->free_mem[i] = (int) i < n ? (gint64) v[i] : -1;
}

const struct vdp_topology *
vdp_host_topology (struct vdp_host *h, GError **error)
{
  const struct vdp_topology *t;

  g_mutex_lock (&h->lock);
  if (!h->topo_done) {
    h->topo_done = TRUE;
    host_local (h);
    resolve_topology (h);
    if (h->topo == NULL && h->topo_error == NULL)
      g_set_error (&h->topo_error, VDP_ERROR, VDP_ERROR_RUNTIME,
                   "cannot determine the topology of '%s'", vdp_conn_uri (h->conn));
    if (h->topo && !vdp_device_hints_check (h->topo, (const struct vdp_device_hint *) h->hints->data,
                                            h->hints->len, &h->topo_error))
      g_clear_pointer (&h->topo, vdp_topology_free);
    if (h->topo)
      read_free_memory (h);
  }
  t = h->topo;
  if (t == NULL)
    g_propagate_error (error, g_error_copy (h->topo_error));
  g_mutex_unlock (&h->lock);
  return t;
}

VdpHostTopologySource
vdp_host_topology_source (const struct vdp_host *h)
{
  return h->source;
}

const char *
vdp_host_topology_origin (const struct vdp_host *h)
{
  return h->origin;
}

const gint64 *
vdp_host_free_memory (struct vdp_host *h, unsigned *n)
{
  *n = h->n_free;
  return h->free_mem;
}

/* ---- stack ------------------------------------------------------------------------------ */

gboolean
vdp_host_stack (struct vdp_host *h, struct vdp_caps *caps, gboolean *validate,
                const char **origin, GError **error)
{
  g_mutex_lock (&h->lock);
  if (!h->stack_done) {
    g_autofree char *d = NULL;
    h->stack_done = TRUE;
    vdp_conn_caps (h->conn, &h->daemon);
    d = vdp_caps_describe (&h->daemon);
    h->stack_origin = h->target ? g_strdup_printf ("--target %s", h->target)
                      : vdp_conn_is_test (h->conn)
                      ? g_strdup_printf ("%s (the test driver has no QEMU: the newest assumed)", d)
                      : g_strdup_printf ("%s, from the connection", d);
  }
  *caps = h->daemon;
  if (origin)
    *origin = h->stack_origin;
  g_mutex_unlock (&h->lock);
  if (h->target && !vdp_caps_parse_target (h->target, caps, error))
    return FALSE;
  /* the daemon's schema knows every element when the plan is for its own
   * version or an older one */
  *validate = caps->libvirt <= h->daemon.libvirt;
  return TRUE;
}

/* ---- disks on another host ---------------------------------------------------------------- */

/* Reads the host's node devices and storage pools once (under h->lock). */
static void
load_storage (struct vdp_host *h)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) devs = NULL;

  if (h->storage_done)
    return;
  h->storage_done = TRUE;
  h->pools = g_ptr_array_new_with_free_func (pool_free);
  {
    g_autoptr (GPtrArray) xmls = vdp_conn_pools (h->conn);
    for (guint i = 0; i < xmls->len; i++) {
      struct vdp_pool_info *p = g_new0 (struct vdp_pool_info, 1);
      if (vdp_pool_parse (xmls->pdata[i], p, NULL))
        g_ptr_array_add (h->pools, p);
      else
        pool_free (p);
    }
  }
  devs = vdp_conn_node_devices (h->conn, "storage", &err);
  if (devs == NULL) {
    h->nodedev_error = g_strdup (err->message);
    return;
  }
  h->nodedevs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, nodedev_free);
  h->blocks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < devs->len; i++) {
    struct vdp_nodedev *d = g_new0 (struct vdp_nodedev, 1);
    if (!vdp_nodedev_parse (devs->pdata[i], d, NULL) || d->block == NULL) {
      nodedev_free (d);
      continue;
    }
    g_hash_table_insert (h->blocks, g_strdup (d->block), g_strdup (d->name));
    g_hash_table_insert (h->nodedevs, d->name, d);
    /* the chain up to the PCI controller */
    for (unsigned depth = 0; depth < 16 && d && d->parent && !d->pci; depth++) {
      struct vdp_nodedev *p = g_hash_table_lookup (h->nodedevs, d->parent);
      if (p == NULL) {
        g_autofree char *xml = vdp_conn_node_device_xml (h->conn, d->parent, NULL);
        p = g_new0 (struct vdp_nodedev, 1);
        if (xml == NULL || !vdp_nodedev_parse (xml, p, NULL)) {
          nodedev_free (p);
          break;
        }
        g_hash_table_insert (h->nodedevs, p->name, p);
      }
      d = p;
    }
  }
}

/* The NUMA node of the PCI controller above node device @name, -1 when
 * libvirt does not say. */
static int
nodedev_node (struct vdp_host *h, const char *name)
{
  const struct vdp_nodedev *d = g_hash_table_lookup (h->nodedevs, name);

  for (unsigned depth = 0; d && depth < 16; depth++) {
    if (d->pci)
      return d->node;
    d = d->parent ? g_hash_table_lookup (h->nodedevs, d->parent) : NULL;
  }
  return -1;
}

/* Where block device @path is, by libvirt's node devices; FALSE when
 * libvirt does not know it. */
static gboolean
locate_block (struct vdp_host *h, const struct vdp_topology *topo, const char *path,
              struct vdp_disk_hint *hint)
{
  const char *name = h->blocks ? g_hash_table_lookup (h->blocks, path) : NULL;
  int node;

  if (name == NULL)
    return FALSE;
  if (hint->node >= 0 || hint->locality)
    return TRUE;
  node = nodedev_node (h, name);
  if (node >= 0 && vdp_topology_find_node (topo, (unsigned) node)) {
    hint->node = node;
  } else if (g_str_has_prefix (path, "/dev/") && vdp_topology_find_device (topo, path + 5)) {
    vdp_disk_hint_from_device (topo, path + 5, hint);
  } else {
    hint->locality = g_strdup_printf ("libvirt on '%s' does not say which NUMA node the "
                                      "controller of '%s' is on", vdp_conn_uri (h->conn), path);
  }
  return TRUE;
}

static void
unknown (struct vdp_host *h, const char *source)
{
  if (h->n_unknown++ == 0)
    h->unknown_example = g_strdup (source);
}

/* The locator for a host that is not this machine (under h->lock). */
static int
locate_remote (const struct vdp_topology *topo, const char *source, struct vdp_disk_hint *hint,
               void *data)
{
  struct vdp_host *h = data;
  const char *uri = vdp_conn_uri (h->conn);
  g_autofree char *vol = NULL, *pool_xml = NULL;
  gboolean hinted = hint->node >= 0 || hint->locality;

  load_storage (h);
  if (vdp_conn_volume_by_path (h->conn, source, &vol, &pool_xml)) {
    struct vdp_pool_info pool = { 0 };
    g_autofree char *type = vdp_volume_type (vol);
    gboolean found = FALSE;

    if (g_strcmp0 (type, "block") == 0)
      hint->odirect = 1;
    if (pool_xml && vdp_pool_parse (pool_xml, &pool, NULL)) {
      for (char **d = pool.devices; !hinted && *d && !found; d++)
        found = locate_block (h, topo, *d, hint);
      if (!hinted && !found) {
        hint->locality = g_strdup_printf ("'%s' is in pool '%s' (%s), whose device libvirt "
                                          "does not know", source, pool.name ? pool.name : "?",
                                          pool.type ? pool.type : "?");
        unknown (h, source);
      }
      vdp_pool_info_clear (&pool);
    }
    return 1;
  }
  if (locate_block (h, topo, source, hint)) {
    hint->odirect = 1;
    return 1;
  }
  if (!hinted && g_str_has_prefix (source, "/dev/") && strchr (source + 5, '/') == NULL
      && vdp_topology_find_device (topo, source + 5)) {
    /* libvirt lists no such node device, but the host's topology has a
     * block device of that name: its node, as plan --file reads /dev/NAME
     * (whether it takes O_DIRECT stays unknown) */
    vdp_disk_hint_from_device (topo, source + 5, hint);
    return -1;
  }
  /* a file in the directory of a pool that does not list it is not there */
  for (guint i = 0; i < h->pools->len; i++) {
    const struct vdp_pool_info *p = h->pools->pdata[i];
    g_autofree char *dir = g_path_get_dirname (source);
    if (p->target && g_strcmp0 (p->type, "dir") == 0 && strcmp (dir, p->target) == 0)
      return 0;
  }
  if (!hinted) {
    hint->locality = g_strdup_printf ("libvirt on '%s' knows no storage volume or block device "
                                      "'%s'", uri, source);
    unknown (h, source);
  }
  return -1;
}

struct vdp_disk_hint *
vdp_host_disk_hints (struct vdp_host *h, const struct vdp_domain *dom, GPtrArray *warnings)
{
  const struct vdp_topology *topo = vdp_host_topology (h, NULL);
  gboolean local = vdp_host_is_local (h, NULL);
  struct vdp_disk_hint *out;
  g_autofree char *where = local ? g_strdup ("this host")
                           : g_strdup_printf ("host '%s'", vdp_conn_uri (h->conn));

  g_return_val_if_fail (topo != NULL, NULL);
  g_mutex_lock (&h->lock);
  out = vdp_disk_hints_compute (topo, dom, (const struct vdp_device_hint *) h->hints->data,
                                h->hints->len, local ? vdp_locate_local : locate_remote, h,
                                where, warnings);
  g_mutex_unlock (&h->lock);
  return out;
}

void
vdp_host_take_warnings (struct vdp_host *h, GPtrArray *to)
{
  g_mutex_lock (&h->lock);
  if (h->n_unknown) {
    g_autofree char *why = h->nodedev_error ? g_strdup_printf (" (%s)", h->nodedev_error)
                           : g_strdup ("");
    g_ptr_array_add (h->warnings,
                     g_strdup_printf ("host '%s': the NUMA node of %u disk source%s (e.g. '%s') "
                                      "is unknown: libvirt lists no storage volume or node device "
                                      "that places %s%s; give --device PATH=DEVNAME or device= on "
                                      "the host's line of a hosts file", vdp_conn_uri (h->conn),
                                      h->n_unknown, h->n_unknown == 1 ? "" : "s",
                                      h->unknown_example, h->n_unknown == 1 ? "it" : "them", why));
    h->n_unknown = 0;
    g_clear_pointer (&h->unknown_example, g_free);
  }
  for (guint i = 0; i < h->warnings->len; i++)
    g_ptr_array_add (to, g_strdup (h->warnings->pdata[i]));
  g_ptr_array_set_size (h->warnings, 0);
  g_mutex_unlock (&h->lock);
}
