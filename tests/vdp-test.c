/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the C tests: source-tree data paths, schema validation, planning a document. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>

#include "domain.h"
#include "vdp-test.h"
#include "xmlpatch.h"

char *
vdp_test_data (const char *rel)
{
  const char *dir = g_getenv ("VDP_SRCDIR");
  return g_build_filename (dir ? dir : ".", rel, NULL);
}

xmlRelaxNGPtr
vdp_test_schema_load (const char *path)
{
  xmlRelaxNGParserCtxtPtr pctx = xmlRelaxNGNewParserCtxt (path);
  xmlRelaxNGPtr schema = xmlRelaxNGParse (pctx);

  xmlRelaxNGFreeParserCtxt (pctx);
  if (schema == NULL) {
    fprintf (stderr, "cannot load schema %s\n", path);
    abort ();
  }
  return schema;
}

static void
collect_error (void *data, const char *fmt, ...)
{
  GString *s = data;
  va_list ap;

  if (s->len)
    return;   /* the first error is enough */
  va_start (ap, fmt);
  g_string_append_vprintf (s, fmt, ap);
  va_end (ap);
}

static void
ignore_warning (void *data, const char *fmt, ...)
{
}

gboolean
vdp_test_schema_valid (xmlRelaxNGPtr schema, xmlDocPtr doc, char **why)
{
  xmlRelaxNGValidCtxtPtr vctx = xmlRelaxNGNewValidCtxt (schema);
  GString *err = g_string_new (NULL);
  int rc;

  xmlRelaxNGSetValidErrors (vctx, collect_error, ignore_warning, err);
  rc = xmlRelaxNGValidateDoc (vctx, doc);
  xmlRelaxNGFreeValidCtxt (vctx);
  if (why && rc != 0)
    *why = g_string_free (err, FALSE);
  else
    g_string_free (err, TRUE);
  return rc == 0;
}

xmlDocPtr *
vdp_test_plan_docs (const struct vdp_topology *topo, const struct vdp_policy *policy,
                    const struct vdp_caps *caps, xmlDocPtr *docs, unsigned n,
                    struct vdp_plan **plan_out, struct vdp_domain ***doms_out, GError **error)
{
  struct vdp_domain **doms = g_new0 (struct vdp_domain *, n);
  g_autofree struct vdp_plan_input *in = g_new0 (struct vdp_plan_input, n);
  xmlDocPtr *out = NULL;
  struct vdp_plan *plan = NULL;

  for (unsigned i = 0; i < n; i++) {
    doms[i] = vdp_domain_parse (docs[i], "test", error);
    if (doms[i] == NULL)
      goto fail;
    in[i].dom = doms[i];
  }
  plan = vdp_plan_compute (topo, policy, caps, in, n, error);
  if (plan == NULL)
    goto fail;
  out = g_new0 (xmlDocPtr, n);
  for (unsigned i = 0; i < n; i++) {
    out[i] = xmlCopyDoc (docs[i], 1);
    if (vdp_xmlpatch_apply (out[i], plan, &plan->domains[i], error) < 0) {
      for (unsigned k = 0; k <= i; k++)
        xmlFreeDoc (out[k]);
      g_clear_pointer (&out, g_free);
      goto fail;
    }
  }
  *plan_out = plan;
  *doms_out = doms;
  return out;

 fail:
  vdp_plan_free (plan);
  for (unsigned i = 0; i < n; i++)
    vdp_domain_free (doms[i]);
  g_free (doms);
  return NULL;
}

/* Adds @kib to the nodes of @nodes, split evenly. */
static void
charge (const struct vdp_topology *t, hwloc_const_bitmap_t nodes, guint64 kib, guint64 *per_node)
{
  int w = hwloc_bitmap_weight (nodes), id;

  if (w <= 0)
    return;
  hwloc_bitmap_foreach_begin (id, nodes)
    for (size_t k = 0; k < t->n_nodes; k++)
      if (t->nodes[k].id == (unsigned) id)
        per_node[k] += kib / (guint64) w;
  hwloc_bitmap_foreach_end ();
}

void
vdp_test_domain_memory (const struct vdp_topology *t, const struct vdp_domain *d,
                        guint64 *strict, guint64 *bound)
{
  gboolean is_strict;
  guint64 rest = d->memory_kib;
  g_autofree guint64 *mine = g_new0 (guint64, t->n_nodes + 1);

  if (!d->numa_mode || !d->numa_nodeset
      || (d->numa_placement && g_str_equal (d->numa_placement, "auto")))
    return;
  is_strict = !g_str_equal (d->numa_mode, "preferred");
  for (unsigned c = 0; c < d->n_cells; c++)
    for (unsigned m = 0; m < d->n_memnodes; m++)
      if (d->memnodes[m].cellid == d->cells[c].id && d->memnodes[m].nodeset) {
        charge (t, d->memnodes[m].nodeset, d->cells[c].memory_kib, mine);
        rest -= MIN (rest, d->cells[c].memory_kib);
      }
  charge (t, d->numa_nodeset, rest, mine);
  for (size_t k = 0; k < t->n_nodes; k++) {
    bound[k] += mine[k];
    if (is_strict && strict)
      strict[k] += mine[k];
  }
}

GPtrArray *
vdp_test_hard_check (const struct vdp_topology *t, const struct vdp_policy *host,
                     struct vdp_domain *const *doms, unsigned n)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) count = g_hash_table_new (NULL, NULL);   /* PU + 1 -> sets holding it */
  g_autoptr (GPtrArray) sets = g_ptr_array_new ();                /* every pin, any domain */
  g_autoptr (GPtrArray) owner = g_ptr_array_new ();
  hwloc_bitmap_t usable = hwloc_bitmap_alloc ();
  hwloc_const_bitmap_t isolated = host->isolated ? host->isolated : t->isolated;
  g_autofree guint64 *strict = g_new0 (guint64, t->n_nodes + 1);
  g_autofree guint64 *bound = g_new0 (guint64, t->n_nodes + 1);

  hwloc_bitmap_andnot (usable, t->allowed, host->host_cpus);
  for (unsigned i = 0; i < n; i++) {
    const struct vdp_domain *d = doms[i];
    hwloc_bitmap_t io = hwloc_bitmap_alloc ();
    unsigned pinned_io = 0;
    for (unsigned v = 0; v < d->vcpus; v++)
      if (d->vcpupin[v]) {
        g_ptr_array_add (sets, d->vcpupin[v]);
        g_ptr_array_add (owner, (gpointer) d->name);
      }
    if (d->emulatorpin) {
      g_ptr_array_add (sets, d->emulatorpin);
      g_ptr_array_add (owner, (gpointer) d->name);
    }
    for (unsigned k = 0; k < d->n_iothreadpin; k++)
      if (d->iothreadpin[k] && d->iothreadpin_id[k] >= 1 && d->iothreadpin_id[k] <= d->iothreads) {
        g_ptr_array_add (sets, d->iothreadpin[k]);
        g_ptr_array_add (owner, (gpointer) d->name);
        hwloc_bitmap_or (io, io, d->iothreadpin[k]);
        pinned_io++;
      }
    if (pinned_io && pinned_io >= d->iothreads
        && (unsigned) hwloc_bitmap_weight (io) < d->iothreads)
      g_ptr_array_add (out, g_strdup_printf ("%s: %u IOThreads on %d PUs", d->name, d->iothreads,
                                             hwloc_bitmap_weight (io)));
    hwloc_bitmap_free (io);

    vdp_test_domain_memory (t, d, strict, bound);
  }
  for (guint s = 0; s < sets->len; s++) {
    hwloc_const_bitmap_t set = sets->pdata[s];
    int pu;
    if (!hwloc_bitmap_isincluded (set, usable))
      g_ptr_array_add (out, g_strdup_printf ("%s: a pin outside the usable PUs",
                                             (char *) owner->pdata[s]));
    if (hwloc_bitmap_weight (set) > 1 && hwloc_bitmap_intersects (set, isolated))
      g_ptr_array_add (out, g_strdup_printf ("%s: a floating set on isolated PUs",
                                             (char *) owner->pdata[s]));
    hwloc_bitmap_foreach_begin (pu, set)
      gpointer k = GINT_TO_POINTER (pu + 1);
      g_hash_table_insert (count, k, GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (count, k)) + 1));
    hwloc_bitmap_foreach_end ();
  }
  for (guint s = 0; s < sets->len; s++) {
    hwloc_const_bitmap_t set = sets->pdata[s];
    int pu = hwloc_bitmap_first (set);
    if (hwloc_bitmap_weight (set) == 1
        && GPOINTER_TO_UINT (g_hash_table_lookup (count, GINT_TO_POINTER (pu + 1))) > 1)
      g_ptr_array_add (out, g_strdup_printf ("%s: PU %d pinned 1:1 is in another cpuset",
                                             (char *) owner->pdata[s], pu));
  }
  for (size_t k = 0; k < t->n_nodes; k++) {
    guint64 kib = t->nodes[k].memory / 1024;
    guint64 cap = kib - MIN (kib, vdp_policy_memory_reserve (host, kib));
    if (kib == 0 && strict[k])
      g_ptr_array_add (out, g_strdup_printf ("node %u: %" G_GUINT64_FORMAT " KiB bound strict, "
                                             "its memory unknown or none", t->nodes[k].id,
                                             strict[k]));
    if (kib && strict[k] && bound[k] > cap)
      g_ptr_array_add (out, g_strdup_printf ("node %u: %" G_GUINT64_FORMAT " KiB bound, %"
                                             G_GUINT64_FORMAT " KiB free for guests",
                                             t->nodes[k].id, bound[k], cap));
  }
  hwloc_bitmap_free (usable);
  return out;
}
