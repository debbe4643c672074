/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hand edits of what virt-dataplane wrote: the owned elements as applied, recorded in the domain's metadata, compared with what the domain holds now. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "drift.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"

/* <vdp:applied key='KEY' state='ITEM=VALUE; ITEM=VALUE'/> under the
 * metadata element, one per owned key. */
#define APPLIED "applied"
#define VCPUPIN "vcpupin "

/* ---- the state of a domain ------------------------------------------------------ */

static void
put (GHashTable *state, const char *key, char *item, const char *value)
{
  g_hash_table_insert (state, item, g_strdup_printf ("%s\t%s", key, value ? value : ""));
}

static void
put_set (GHashTable *state, const char *key, char *item, hwloc_const_bitmap_t set)
{
  g_autofree char *s = set ? vdp_cpuset_format (set) : NULL;
  put (state, key, item, s);
}

static void
put_uint (GHashTable *state, const char *key, char *item, unsigned v)
{
  char buf[16];

  g_snprintf (buf, sizeof (buf), "%u", v);
  put (state, key, item, v ? buf : NULL);
}

static char *
join_uints (const unsigned *v, unsigned n)
{
  GString *s = g_string_new (NULL);

  for (unsigned i = 0; i < n; i++)
    g_string_append_printf (s, "%s%u", i ? "," : "", v[i]);
  return g_string_free (s, FALSE);
}

GHashTable *
vdp_drift_state (const struct vdp_domain *d)
{
  GHashTable *st = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (unsigned v = 0; v < d->vcpus; v++)
    put_set (st, "cputune", g_strdup_printf ("vcpupin %u", v), d->vcpupin ? d->vcpupin[v] : NULL);
  put_set (st, "cputune", g_strdup ("emulatorpin"), d->emulatorpin);
  for (unsigned i = 0; i < d->n_iothreadpin; i++)
    put_set (st, "cputune", g_strdup_printf ("iothreadpin %u", d->iothreadpin_id[i]),
             d->iothreadpin[i]);
  {
    g_autofree char *nodes = d->numa_nodeset ? vdp_cpuset_format (d->numa_nodeset) : NULL;
    g_autofree char *mem = d->numa_mode || nodes
                           ? g_strdup_printf ("%s %s", d->numa_mode ? d->numa_mode : "",
                                              nodes ? nodes : "") : NULL;
    put (st, "numatune", g_strdup ("numatune memory"), mem);
    put_set (st, "numatune", g_strdup ("numatune memnodes"), d->n_memnodes ? d->memnode_nodes : NULL);
  }
  put_uint (st, "iothreads", g_strdup ("iothreads"), d->iothreads);
  {
    /* without <iothreadids> the ids are 1..count, as libvirt numbers them */
    g_autofree unsigned *seq = g_new0 (unsigned, d->iothreads + 1);
    g_autofree char *ids = NULL;
    for (unsigned i = 0; i < d->iothreads; i++)
      seq[i] = i + 1;
    ids = d->n_iothreadids ? join_uints (d->iothreadids, d->n_iothreadids)
                           : join_uints (seq, d->iothreads);
    put (st, "iothreadids", g_strdup ("iothreadids"), ids);
  }
  put (st, "vcpu", g_strdup ("vcpu placement"), d->vcpu_placement);
  {
    g_autoptr (GString) cells = g_string_new (NULL);
    for (unsigned c = 0; c < d->n_cells; c++) {
      g_autofree char *cpus = vdp_cpuset_format (d->cells[c].cpus);
      g_string_append_printf (cells, "%s%u:%s:%" G_GUINT64_FORMAT, c ? " " : "", d->cells[c].id,
                              cpus, d->cells[c].memory_kib);
    }
    put (st, "cpu", g_strdup ("guest NUMA cells"), cells->str);
  }
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk *k = &d->disks[i];
    g_autofree char *key = g_strdup_printf ("disk/%s/driver", k->target);
    g_autofree char *mapped = join_uints (k->mapped, k->n_mapped);
    put (st, key, g_strdup_printf ("disk %s cache", k->target), k->cache);
    put (st, key, g_strdup_printf ("disk %s io", k->target), k->io);
    put_uint (st, key, g_strdup_printf ("disk %s queues", k->target), k->queues);
    put_uint (st, key, g_strdup_printf ("disk %s iothread", k->target), k->iothread);
    put (st, key, g_strdup_printf ("disk %s iothreads", k->target), mapped);
  }
  for (unsigned i = 0; i < d->n_controllers; i++) {
    const struct vdp_controller *c = &d->controllers[i];
    g_autofree char *key = g_strdup_printf ("controller/%s/%u/driver", c->type, c->index);
    put_uint (st, key, g_strdup_printf ("controller %s %u iothread", c->type, c->index), c->iothread);
    put_uint (st, key, g_strdup_printf ("controller %s %u queues", c->type, c->index), c->queues);
    put_uint (st, key, g_strdup_printf ("controller %s %u iothreads", c->type, c->index),
              c->n_mapped);
  }
  return st;
}

/* The KEY of a state value "KEY\tVALUE", and its VALUE. */
static gboolean
has_key (const char *entry, const char *key)
{
  size_t n = strlen (key);
  return entry && strncmp (entry, key, n) == 0 && entry[n] == '\t';
}

static const char *
value_of (const char *entry)
{
  const char *tab = entry ? strchr (entry, '\t') : NULL;
  return tab ? tab + 1 : "";
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* ---- the metadata --------------------------------------------------------------- */

static xmlNodePtr
find_vdp (xmlDocPtr doc)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);

  for (xmlNodePtr m = root ? root->children : NULL; m; m = m->next)
    if (m->type == XML_ELEMENT_NODE && m->ns == NULL && strcmp ((const char *) m->name, "metadata") == 0)
      for (xmlNodePtr c = m->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && c->ns && c->ns->href
            && strcmp ((const char *) c->ns->href, VDP_XMLNS) == 0
            && strcmp ((const char *) c->name, "dataplane") == 0)
          return c;
  return NULL;
}

static gboolean
is_child (xmlNodePtr n, const char *name)
{
  return n->type == XML_ELEMENT_NODE && strcmp ((const char *) n->name, name) == 0;
}

/* The keys of the owned elements the metadata names (a set). */
static void
owned_keys (xmlNodePtr vdp, GHashTable *keys)
{
  for (xmlNodePtr c = vdp ? vdp->children : NULL; c; c = c->next) {
    g_autoptr (xmlChar) key = NULL;
    if (!is_child (c, "original"))
      continue;
    key = xmlGetProp (c, (const xmlChar *) "key");
    if (key && strcmp ((const char *) key, "metadata") != 0)
      g_hash_table_add (keys, g_strdup ((const char *) key));
  }
}

/* What the items of metadata key @key start with, left out of its record:
 * "disk/vda/driver" -> "disk vda ", "numatune" -> "numatune ". */
static char *
key_prefix (const char *key)
{
  g_auto (GStrv) parts = g_strsplit (key, "/", -1);
  guint n = g_strv_length (parts);

  if (n >= 3 && strcmp (parts[n - 1], "driver") == 0) {
    g_free (parts[n - 1]);
    parts[n - 1] = g_strdup ("");
    return g_strjoinv (" ", parts);
  }
  return g_strcmp0 (key, "numatune") == 0 ? g_strdup ("numatune ") : g_strdup ("");
}

/* The vCPU pins, runs of vCPUs with the same pin together ("vcpupin
 * 0-15=0-6"): a record that stays small for large guests. */
static void
append_vcpupins (GString *s, GHashTable *state)
{
  for (unsigned v = 0;;) {
    g_autofree char *item = g_strdup_printf (VCPUPIN "%u", v);
    const char *pin = g_hash_table_lookup (state, item);
    unsigned last = v;

    if (pin == NULL)
      return;
    for (;;) {
      g_autofree char *next = g_strdup_printf (VCPUPIN "%u", last + 1);
      if (g_strcmp0 (g_hash_table_lookup (state, next), pin) != 0)
        break;
      last++;
    }
    if (last > v)
      g_string_append_printf (s, "%s" VCPUPIN "%u-%u=%s", s->len ? "; " : "", v, last, value_of (pin));
    else
      g_string_append_printf (s, "%s" VCPUPIN "%u=%s", s->len ? "; " : "", v, value_of (pin));
    v = last + 1;
  }
}

/* Puts recorded item @item=@value of @key into @state, expanding
 * "vcpupin A-B" into each vCPU's item. */
static void
put_recorded (GHashTable *state, const char *key, const char *item, const char *value)
{
  guint64 a, b;
  const char *dash;

  if (g_str_has_prefix (item, VCPUPIN) && (dash = strchr (item, '-'))) {
    g_autofree char *first = g_strndup (item + strlen (VCPUPIN), (gsize) (dash - item - strlen (VCPUPIN)));
    if (g_ascii_string_to_unsigned (first, 10, 0, G_MAXUINT16, &a, NULL)
        && g_ascii_string_to_unsigned (dash + 1, 10, a, G_MAXUINT16, &b, NULL)) {
      for (guint64 v = a; v <= b; v++)
        put (state, key, g_strdup_printf (VCPUPIN "%u", (unsigned) v), value);
      return;
    }
  }
  put (state, key, g_strdup (item), value);
}

static GHashTable *
parse_state (xmlDocPtr doc, GError **error)
{
  g_autoptr (vdp_domain) d = vdp_domain_parse (doc, "domain", error);
  return d ? vdp_drift_state (d) : NULL;
}

/* The keys of @keys (sorted) whose items differ between states @a and
 * @b, comma-separated. */
static char *
differing_keys (GHashTable *a, GHashTable *b, GHashTable *keys)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  g_autofree char **sorted = (char **) g_hash_table_get_keys_as_array (keys, NULL);

  qsort (sorted, g_hash_table_size (keys), sizeof (char *), cmp_str);
  for (char **k = sorted; *k; k++) {
    g_autoptr (GHashTable) one = g_hash_table_new (g_str_hash, g_str_equal);
    g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
    g_hash_table_add (one, *k);
    vdp_drift_compare (a, b, "", "", one, lines);
    if (lines->len)
      g_ptr_array_add (out, g_strdup (*k));
  }
  g_ptr_array_add (out, NULL);
  return g_strjoinv (",", (char **) out->pdata);
}

gboolean
vdp_drift_stamp (xmlDocPtr doc, const struct vdp_domain *before, char **changed, GError **error)
{
  xmlNodePtr vdp = find_vdp (doc);
  g_autoptr (GHashTable) keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) state = NULL;
  g_autoptr (GList) items = NULL;
  g_autofree char **sorted_keys = NULL;
  xmlNodePtr c, next;

  if (changed)
    *changed = g_strdup ("");
  if (vdp == NULL)
    return TRUE;
  state = parse_state (doc, error);
  if (state == NULL)
    return FALSE;
  for (c = vdp->children; c; c = next) {
    next = c->next;
    if (is_child (c, APPLIED)) {
      xmlUnlinkNode (c);
      xmlFreeNode (c);
    }
  }
  owned_keys (vdp, keys);
  if (before && changed) {
    g_autoptr (GHashTable) was = vdp_drift_state (before);
    g_free (*changed);
    *changed = differing_keys (was, state, keys);
  }
  items = g_list_sort (g_hash_table_get_keys (state), (GCompareFunc) strcmp);
  sorted_keys = (char **) g_hash_table_get_keys_as_array (keys, NULL);
  qsort (sorted_keys, g_hash_table_size (keys), sizeof (char *), cmp_str);
  for (char **k = sorted_keys; *k; k++) {
    g_autoptr (GString) s = g_string_new (NULL);
    g_autofree char *prefix = key_prefix (*k);
    xmlNodePtr a;
    if (strcmp (*k, "cputune") == 0)
      append_vcpupins (s, state);
    /* an item left out is one without a value */
    for (GList *i = items; i; i = i->next) {
      const char *entry = g_hash_table_lookup (state, i->data);
      const char *item = i->data;
      if (!has_key (entry, *k) || g_str_has_prefix (item, VCPUPIN) || !*value_of (entry))
        continue;
      if (g_str_has_prefix (item, prefix))
        item += strlen (prefix);
      g_string_append_printf (s, "%s%s=%s", s->len ? "; " : "", item, value_of (entry));
    }
    a = xmlNewChild (vdp, vdp->ns, (const xmlChar *) APPLIED, NULL);
    xmlNewProp (a, (const xmlChar *) "key", (const xmlChar *) *k);
    xmlNewProp (a, (const xmlChar *) "state", (const xmlChar *) s->str);
  }
  return TRUE;
}

unsigned
vdp_drift_find (xmlDocPtr doc, GPtrArray *changed)
{
  xmlNodePtr vdp = find_vdp (doc);
  g_autoptr (GHashTable) now = NULL;
  g_autoptr (GHashTable) then = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint before = changed->len;

  for (xmlNodePtr c = vdp ? vdp->children : NULL; c; c = c->next) {
    g_autoptr (xmlChar) key = NULL, state = NULL;
    g_auto (GStrv) items = NULL;
    g_autofree char *prefix = NULL;
    if (!is_child (c, APPLIED))
      continue;
    key = xmlGetProp (c, (const xmlChar *) "key");
    state = xmlGetProp (c, (const xmlChar *) "state");
    if (key == NULL)
      continue;
    prefix = key_prefix ((const char *) key);
    g_hash_table_add (keys, g_strdup ((const char *) key));
    items = g_strsplit (state ? (const char *) state : "", ";", -1);
    for (char **i = items; *i; i++) {
      char *eq = strchr (g_strstrip (*i), '=');
      if (eq == NULL)
        continue;
      *eq = '\0';
      {
        g_autofree char *item = g_strconcat (prefix, *i, NULL);
        put_recorded (then, (const char *) key, item, eq + 1);
      }
    }
  }
  if (g_hash_table_size (keys) == 0 || (now = parse_state (doc, NULL)) == NULL)
    return 0;
  vdp_drift_compare (now, then, "now", "applied", keys, changed);
  return changed->len - before;
}

void
vdp_drift_compare (GHashTable *a, GHashTable *b, const char *a_name, const char *b_name,
                   GHashTable *only_keys, GPtrArray *lines)
{
  g_autoptr (GHashTable) all = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) items = g_ptr_array_new ();
  GHashTableIter it;
  gpointer item, entry;

  for (int side = 0; side < 2; side++) {
    g_hash_table_iter_init (&it, side ? b : a);
    while (g_hash_table_iter_next (&it, &item, &entry))
      if (!g_hash_table_contains (all, item)) {
        const char *tab = strchr (entry, '\t');
        g_autofree char *key = g_strndup (entry, tab ? (gsize) (tab - (char *) entry) : 0);
        if (only_keys == NULL || g_hash_table_contains (only_keys, key)) {
          g_hash_table_add (all, item);
          g_ptr_array_add (items, item);
        }
      }
  }
  g_ptr_array_sort (items, cmp_str);
  for (guint i = 0; i < items->len; i++) {
    const char *va = value_of (g_hash_table_lookup (a, items->pdata[i]));
    const char *vb = value_of (g_hash_table_lookup (b, items->pdata[i]));
    if (strcmp (va, vb) != 0)
      g_ptr_array_add (lines, g_strdup_printf ("%s is '%s' %s, '%s' %s", (char *) items->pdata[i],
                                               va, a_name, vb, b_name));
  }
}

char *
vdp_drift_changed_keys (xmlDocPtr before, xmlDocPtr after)
{
  g_autoptr (GHashTable) keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) a = parse_state (before, NULL);
  g_autoptr (GHashTable) b = parse_state (after, NULL);

  owned_keys (find_vdp (before), keys);
  owned_keys (find_vdp (after), keys);
  if (a == NULL || b == NULL)
    return g_strdup ("");
  return differing_keys (a, b, keys);
}
