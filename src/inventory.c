/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One host's inventory and the hard constraints (DESIGN §4): pure, no I/O. */
#include <config.h>

#include <string.h>

#include "inventory.h"
#include "util/cleanup.h"
#include "util/cpuset.h"

/* ---- host limits --------------------------------------------------------- */

void
vdp_host_limits_init (struct vdp_host_limits *lim, const struct vdp_topology *topo,
                      const struct vdp_policy *policy)
{
  memset (lim, 0, sizeof (*lim));
  lim->topo = topo;
  lim->usable = hwloc_bitmap_alloc ();
  hwloc_bitmap_andnot (lim->usable, topo->allowed, policy->host_cpus);
  lim->isolated = hwloc_bitmap_dup (policy->isolated ? policy->isolated : topo->isolated);
  lim->cap_kib = g_new0 (guint64, topo->n_nodes + 1);
  lim->reserve_kib = g_new0 (guint64, topo->n_nodes + 1);
  lim->mem_known = g_new0 (gboolean, topo->n_nodes + 1);
  for (size_t n = 0; n < topo->n_nodes; n++) {
    guint64 kib = topo->nodes[n].memory / 1024;
    lim->mem_known[n] = kib > 0;
    lim->reserve_kib[n] = kib ? vdp_policy_memory_reserve (policy, kib) : 0;
    lim->cap_kib[n] = kib > lim->reserve_kib[n] ? kib - lim->reserve_kib[n] : 0;
  }
}

void
vdp_host_limits_clear (struct vdp_host_limits *lim)
{
  hwloc_bitmap_free (lim->usable);
  hwloc_bitmap_free (lim->isolated);
  g_free (lim->cap_kib);
  g_free (lim->reserve_kib);
  g_free (lim->mem_known);
  memset (lim, 0, sizeof (*lim));
}

/* ---- footprints ---------------------------------------------------------- */

static int
node_pos (const struct vdp_topology *t, unsigned id)
{
  for (size_t i = 0; i < t->n_nodes; i++)
    if (t->nodes[i].id == id)
      return (int) i;
  return -1;
}

static void
add_set (struct vdp_footprint *fp, VdpThread kind, unsigned id, hwloc_const_bitmap_t set)
{
  struct vdp_pinset ps = { kind, id, hwloc_bitmap_dup (set) };

  if (set == NULL || hwloc_bitmap_iszero (set)) {
    hwloc_bitmap_free (ps.set);
    return;
  }
  g_array_append_val (fp->sets, ps);
}

static void
footprint_init (struct vdp_footprint *fp, const struct vdp_topology *t, const struct vdp_domain *d)
{
  memset (fp, 0, sizeof (*fp));
  fp->name = d->name;
  fp->vcpus = d->vcpus;
  fp->sets = g_array_new (FALSE, FALSE, sizeof (struct vdp_pinset));
  fp->strict_kib = g_new0 (guint64, t->n_nodes + 1);
  fp->preferred_kib = g_new0 (guint64, t->n_nodes + 1);
  fp->loose_nodes = hwloc_bitmap_alloc ();
}

/* Charges @kib evenly to the nodes of @nodeset (by OS index) in @per_node. */
static void
spread (const struct vdp_topology *t, hwloc_const_bitmap_t nodeset, guint64 kib, guint64 *per_node)
{
  unsigned w = 0, i = 0;
  int id;

  hwloc_bitmap_foreach_begin (id, nodeset)
    w += node_pos (t, (unsigned) id) >= 0;
  hwloc_bitmap_foreach_end ();
  if (w == 0)
    return;
  hwloc_bitmap_foreach_begin (id, nodeset)
    int p = node_pos (t, (unsigned) id);
    if (p >= 0)
      per_node[p] += kib / w + (i++ == 0 ? kib % w : 0);
  hwloc_bitmap_foreach_end ();
}

/* The nodes of the PUs in @set. */
static void
nodes_of_set (const struct vdp_topology *t, hwloc_const_bitmap_t set, hwloc_bitmap_t out)
{
  hwloc_bitmap_zero (out);
  for (size_t n = 0; n < t->n_nodes; n++)
    if (hwloc_bitmap_intersects (t->nodes[n].cpuset, set))
      hwloc_bitmap_set (out, t->nodes[n].id);
}

static gboolean
mode_is_strict (const char *mode)
{
  return mode == NULL || strcmp (mode, "strict") == 0 || strcmp (mode, "restrictive") == 0
         || strcmp (mode, "interleave") == 0;
}

/* Memory as the domain's numatune binds it. */
static void
memory_from_domain (struct vdp_footprint *fp, const struct vdp_topology *t,
                    const struct vdp_domain *d)
{
  guint64 rest = d->memory_kib;

  if (d->numa_placement && strcmp (d->numa_placement, "auto") == 0) {
    fp->loose_kib = d->memory_kib;
    return;
  }
  for (unsigned c = 0; c < d->n_cells; c++) {
    const struct vdp_memnode *mn = NULL;
    for (unsigned m = 0; m < d->n_memnodes; m++)
      if (d->memnodes[m].cellid == d->cells[c].id && d->memnodes[m].nodeset)
        mn = &d->memnodes[m];
    if (mn == NULL)
      continue;
    spread (t, mn->nodeset, d->cells[c].memory_kib,
            mode_is_strict (mn->mode) ? fp->strict_kib : fp->preferred_kib);
    rest -= MIN (rest, d->cells[c].memory_kib);
  }
  if (rest == 0)
    return;
  if (d->numa_nodeset && d->numa_mode) {
    spread (t, d->numa_nodeset, rest,
            mode_is_strict (d->numa_mode) ? fp->strict_kib : fp->preferred_kib);
    return;
  }
  /* unbound: the kernel allocates where the vCPUs run */
  fp->loose_kib = rest;
  for (unsigned v = 0; v < d->vcpus; v++) {
    hwloc_const_bitmap_t s = d->vcpupin[v] ? d->vcpupin[v] : d->vcpu_cpuset;
    g_auto (VdpBitmap) nodes = hwloc_bitmap_alloc ();
    if (s == NULL) {
      hwloc_bitmap_zero (fp->loose_nodes);
      return;
    }
    nodes_of_set (t, s, nodes);
    hwloc_bitmap_or (fp->loose_nodes, fp->loose_nodes, nodes);
  }
}

guint64
vdp_memory_overhead_kib (const struct vdp_domain *d)
{
  guint64 kib = 64 * 1024 + d->memory_kib / 512 + (guint64) d->vcpus * 8 * 1024;

  return (kib + 1023) / 1024 * 1024;
}

/* Charges QEMU's own memory with the guest's: on node @home (OS index:
 * the node of its first guest cell, else the first of its nodeset) when
 * memory is bound there, else where most of it is bound strict, else
 * preferred, else wherever its loose memory goes. */
static void
add_overhead (struct vdp_footprint *fp, const struct vdp_topology *t, const struct vdp_domain *d,
              int home)
{
  guint64 *to = NULL;
  size_t best = 0;
  int h = home >= 0 ? node_pos (t, (unsigned) home) : -1;

  if (h >= 0 && (fp->strict_kib[h] || fp->preferred_kib[h])) {
    to = fp->strict_kib[h] ? fp->strict_kib : fp->preferred_kib;
    to[h] += vdp_memory_overhead_kib (d);
    return;
  }

  for (size_t k = 0; k < t->n_nodes; k++)
    if (fp->strict_kib[k] && (to != fp->strict_kib || fp->strict_kib[k] > fp->strict_kib[best])) {
      to = fp->strict_kib;
      best = k;
    }
  for (size_t k = 0; to == NULL && k < t->n_nodes; k++)
    if (fp->preferred_kib[k]) {
      to = fp->preferred_kib;
      best = k;
    }
  if (to)
    to[best] += vdp_memory_overhead_kib (d);
  else
    fp->loose_kib += vdp_memory_overhead_kib (d);
}

/* Where a domain's definition puts QEMU's own memory (see add_overhead()). */
static int
overhead_node (const struct vdp_domain *d)
{
  if (d->n_cells)
    for (unsigned m = 0; m < d->n_memnodes; m++)
      if (d->memnodes[m].cellid == d->cells[0].id && d->memnodes[m].nodeset)
        return hwloc_bitmap_first (d->memnodes[m].nodeset);
  return d->numa_nodeset ? hwloc_bitmap_first (d->numa_nodeset) : -1;
}

/* The pins of the domain's definition; IOThreads from @first_io up to
 * @n_io. */
static void
pins_from_domain (struct vdp_footprint *fp, const struct vdp_domain *d, gboolean vcpus,
                  gboolean emulator, unsigned n_io)
{
  g_auto (VdpBitmap) granted = hwloc_bitmap_alloc ();
  gboolean all = TRUE;

  for (unsigned v = 0; vcpus && v < d->vcpus; v++)
    add_set (fp, VDP_THREAD_VCPU, v, d->vcpupin[v] ? d->vcpupin[v] : d->vcpu_cpuset);
  if (emulator)
    add_set (fp, VDP_THREAD_EMULATOR, 0, d->emulatorpin ? d->emulatorpin : d->vcpu_cpuset);
  fp->n_iothreads = n_io;
  for (unsigned k = 1; k <= n_io; k++) {
    hwloc_const_bitmap_t s = d->vcpu_cpuset;
    for (unsigned i = 0; i < d->n_iothreadpin; i++)
      if (d->iothreadpin_id[i] == k && d->iothreadpin[i])
        s = d->iothreadpin[i];
    add_set (fp, VDP_THREAD_IOTHREAD, k, s);
    if (s)
      hwloc_bitmap_or (granted, granted, s);
    else
      all = FALSE;
  }
  fp->io_granted = all && n_io ? hwloc_bitmap_dup (granted) : NULL;
}

/* Whether @fp already has an I/O thread pinned to @set. */
static gboolean
has_io_set (const struct vdp_footprint *fp, hwloc_const_bitmap_t set)
{
  for (guint s = 0; s < fp->sets->len; s++) {
    const struct vdp_pinset *ps = &g_array_index (fp->sets, struct vdp_pinset, s);
    if ((ps->kind == VDP_THREAD_IOTHREAD || ps->kind == VDP_THREAD_WORKER)
        && hwloc_bitmap_isequal (ps->set, set))
      return TRUE;
  }
  return FALSE;
}

/* The worker CPUs the domain's virt-dataplane-blk records name: each
 * placement once (a worker on its IOThread's PUs, or the same worker of
 * another disk, shares it). */
static void
workers_from_domain (struct vdp_footprint *fp, const struct vdp_domain *d)
{
  for (unsigned i = 0; i < d->n_backends; i++)
    for (unsigned w = 0; w < d->backends[i].n_workers; w++) {
      hwloc_const_bitmap_t set = d->backends[i].cpus[w];
      if (set == NULL || hwloc_bitmap_iszero (set) || has_io_set (fp, set))
        continue;
      add_set (fp, VDP_THREAD_WORKER, w, set);
      if (fp->n_iothreads++ == 0)
        fp->io_granted = hwloc_bitmap_dup (set);
      else if (fp->io_granted)
        hwloc_bitmap_or (fp->io_granted, fp->io_granted, set);
    }
}

void
vdp_footprint_from_domain (struct vdp_footprint *fp, const struct vdp_topology *t,
                           const struct vdp_domain *d)
{
  footprint_init (fp, t, d);
  pins_from_domain (fp, d, TRUE, TRUE, d->iothreads);
  workers_from_domain (fp, d);
  memory_from_domain (fp, t, d);
  add_overhead (fp, t, d, overhead_node (d));
}

void
vdp_footprint_from_plan (struct vdp_footprint *fp, const struct vdp_topology *t,
                         const struct vdp_domain_plan *dp)
{
  const struct vdp_domain *d = dp->dom;

  if (dp->skipped || dp->failed) {
    vdp_footprint_from_domain (fp, t, d);
    return;
  }
  footprint_init (fp, t, d);
  if (!dp->place && dp->iothread_pins) {
    /* its own pins, and the IOThreads virt-dataplane adds in a pool */
    g_auto (VdpBitmap) granted = hwloc_bitmap_alloc ();
    unsigned n = MAX (dp->n_iothreads, dp->n_io_slots);
    pins_from_domain (fp, d, TRUE, TRUE, 0);
    fp->n_iothreads = n;
    for (unsigned k = 0; k < n; k++) {
      add_set (fp, k < dp->n_iothreads ? VDP_THREAD_IOTHREAD : VDP_THREAD_WORKER,
               k < dp->n_iothreads ? k + 1 : k, dp->iothread_pins[k]);
      hwloc_bitmap_or (granted, granted, dp->iothread_pins[k]);
    }
    fp->io_granted = n ? hwloc_bitmap_dup (granted) : NULL;
    memory_from_domain (fp, t, d);
    add_overhead (fp, t, d, overhead_node (d));
    return;
  }
  if (!dp->place) {
    pins_from_domain (fp, d, TRUE, TRUE, dp->set_iothreads ? dp->n_iothreads : d->iothreads);
    memory_from_domain (fp, t, d);
    add_overhead (fp, t, d, overhead_node (d));
    return;
  }
  for (unsigned v = 0; v < d->vcpus; v++)
    add_set (fp, VDP_THREAD_VCPU, v, dp->vcpu_pins[v]);
  add_set (fp, VDP_THREAD_EMULATOR, 0, dp->emulator_pin);
  if (dp->set_iothreads || dp->n_io_slots) {
    /* QEMU's IOThreads first, then the placements only workers use */
    g_auto (VdpBitmap) granted = hwloc_bitmap_alloc ();
    unsigned qemu = dp->set_iothreads ? dp->n_iothreads : 0;
    unsigned n = MAX (qemu, dp->n_io_slots);
    fp->n_iothreads = n;
    for (unsigned k = 0; k < n; k++) {
      add_set (fp, k < qemu ? VDP_THREAD_IOTHREAD : VDP_THREAD_WORKER, k < qemu ? k + 1 : k,
               dp->iothread_pins[k]);
      hwloc_bitmap_or (granted, granted, dp->iothread_pins[k]);
    }
    fp->io_granted = n ? hwloc_bitmap_dup (granted) : NULL;
  } else {
    pins_from_domain (fp, d, FALSE, FALSE, d->iothreads);
  }
  if (dp->unbind) {
    fp->loose_kib = d->memory_kib;
    hwloc_bitmap_copy (fp->loose_nodes, dp->nodes);
  } else if (dp->memory == VDP_MEMORY_NONE) {
    memory_from_domain (fp, t, d);
  } else if (dp->n_cells > 0) {
    /* each guest cell bound to its node (<memnode>) */
    guint64 *to = dp->memory == VDP_MEMORY_STRICT ? fp->strict_kib : fp->preferred_kib;
    guint64 rest = d->memory_kib;
    for (unsigned c = 0; c < dp->n_cells; c++) {
      int p = node_pos (t, dp->cells[c].node);
      if (p >= 0)
        to[p] += dp->cells[c].memory_kib;
      rest -= MIN (rest, dp->cells[c].memory_kib);
    }
    if (rest)
      spread (t, dp->mem_nodes, rest, to);
  } else {
    spread (t, dp->mem_nodes, d->memory_kib,
            dp->memory == VDP_MEMORY_STRICT ? fp->strict_kib : fp->preferred_kib);
  }
  add_overhead (fp, t, d, dp->n_cells ? (int) dp->cells[0].node : hwloc_bitmap_first (dp->mem_nodes));
}

void
vdp_footprint_clear (struct vdp_footprint *fp)
{
  if (fp->sets) {
    for (guint i = 0; i < fp->sets->len; i++)
      hwloc_bitmap_free (g_array_index (fp->sets, struct vdp_pinset, i).set);
    g_array_unref (fp->sets);
  }
  hwloc_bitmap_free (fp->io_granted);
  hwloc_bitmap_free (fp->loose_nodes);
  g_free (fp->strict_kib);
  g_free (fp->preferred_kib);
  memset (fp, 0, sizeof (*fp));
}

/* ---- constraints --------------------------------------------------------- */

static void
violation_free (gpointer p)
{
  struct vdp_violation *v = p;
  g_free (v->subject);
  g_free (v->text);
  g_free (v);
}

GPtrArray *
vdp_violations_new (void)
{
  return g_ptr_array_new_with_free_func (violation_free);
}

static void
violate (GPtrArray *out, VdpHard kind, unsigned domain, char *subject, char *text)
{
  struct vdp_violation *v = g_new0 (struct vdp_violation, 1);
  v->kind = kind;
  v->domain = domain;
  v->other = -1;
  v->subject = subject;
  v->text = text;
  g_ptr_array_add (out, v);
}

static char *
set_subject (const struct vdp_pinset *ps)
{
  switch (ps->kind) {
  case VDP_THREAD_VCPU: return g_strdup_printf ("vcpu %u", ps->id);
  case VDP_THREAD_IOTHREAD: return g_strdup_printf ("iothread %u", ps->id);
  case VDP_THREAD_WORKER: return g_strdup_printf ("virt-dataplane-blk worker %u", ps->id);
  default: return g_strdup ("emulator");
  }
}

unsigned
vdp_constraints_check (const struct vdp_host_limits *lim, const struct vdp_footprint *fps,
                       unsigned n, GPtrArray *out)
{
  const struct vdp_topology *t = lim->topo;
  guint before = out->len;
  g_autofree guint64 *strict = g_new0 (guint64, t->n_nodes + 1);
  g_autofree guint64 *bound = g_new0 (guint64, t->n_nodes + 1);
  g_auto (VdpBitmap) once = hwloc_bitmap_alloc ();    /* PUs in some set */
  g_auto (VdpBitmap) twice = hwloc_bitmap_alloc ();   /* PUs in two sets or more */
  g_auto (VdpBitmap) x = hwloc_bitmap_alloc ();

  for (unsigned i = 0; i < n; i++) {
    const struct vdp_footprint *fp = &fps[i];
    for (guint s = 0; s < fp->sets->len; s++) {
      const struct vdp_pinset *ps = &g_array_index (fp->sets, struct vdp_pinset, s);
      if (hwloc_bitmap_last (ps->set) < 0)
        continue;   /* an infinite set: nothing to say */
      if (!hwloc_bitmap_isincluded (ps->set, lim->usable)) {
        g_auto (VdpBitmap) bad = hwloc_bitmap_alloc ();
        g_autofree char *b = NULL;
        hwloc_bitmap_andnot (bad, ps->set, lim->usable);
        b = vdp_cpuset_format (bad);
        violate (out, VDP_HARD_HOST_PUS, i, set_subject (ps),
                 g_strdup_printf ("pinned to PUs %s, which are offline, not allowed or "
                                  "reserved for the host", b));
      }
      if (hwloc_bitmap_weight (ps->set) > 1 && hwloc_bitmap_intersects (ps->set, lim->isolated)) {
        g_auto (VdpBitmap) bad = hwloc_bitmap_alloc ();
        g_autofree char *b = NULL;
        hwloc_bitmap_and (bad, ps->set, lim->isolated);
        b = vdp_cpuset_format (bad);
        violate (out, VDP_HARD_ISOLATED, i, set_subject (ps),
                 g_strdup_printf ("floats over isolated PUs %s, which the scheduler does not "
                                  "balance", b));
      }
      hwloc_bitmap_and (x, once, ps->set);
      hwloc_bitmap_or (twice, twice, x);
      hwloc_bitmap_or (once, once, ps->set);
    }
    if (fp->io_granted && (unsigned) hwloc_bitmap_weight (fp->io_granted) < fp->n_iothreads) {
      g_autofree char *s = vdp_cpuset_format (fp->io_granted);
      violate (out, VDP_HARD_IOTHREADS, i, g_strdup ("iothreads"),
               g_strdup_printf ("%u IOThreads share the %d PUs %s granted to them",
                                fp->n_iothreads, hwloc_bitmap_weight (fp->io_granted), s));
    }
    for (size_t k = 0; k < t->n_nodes; k++) {
      strict[k] += fp->strict_kib[k];
      bound[k] += fp->strict_kib[k] + fp->preferred_kib[k];
    }
  }

  /* a 1:1 pin's PU in any other set (found again only when there is one) */
  for (unsigned i = 0; i < n && !hwloc_bitmap_iszero (twice); i++)
    for (guint s = 0; s < fps[i].sets->len; s++) {
      const struct vdp_pinset *ps = &g_array_index (fps[i].sets, struct vdp_pinset, s);
      const struct vdp_pinset *first = NULL;
      unsigned other = 0, count = 0;
      g_autofree char *what = NULL, *whose = NULL;
      int pu;

      if (hwloc_bitmap_weight (ps->set) != 1)
        continue;
      pu = hwloc_bitmap_first (ps->set);
      if (!hwloc_bitmap_isset (twice, (unsigned) pu))
        continue;
      for (unsigned j = 0; j < n; j++)
        for (guint r = 0; r < fps[j].sets->len; r++) {
          const struct vdp_pinset *o = &g_array_index (fps[j].sets, struct vdp_pinset, r);
          if (o == ps || !hwloc_bitmap_isset (o->set, (unsigned) pu))
            continue;
          if (count++ == 0) {
            first = o;
            other = j;
          }
        }
      if (first == NULL)
        continue;   /* the same set twice (cannot happen) */
      what = set_subject (first);
      whose = other == i ? g_strdup ("its own") : g_strdup_printf ("domain '%s''s",
                                                                     fps[other].name);
      violate (out, VDP_HARD_EXCLUSIVE, i, set_subject (ps),
               g_strdup_printf ("pinned 1:1 to PU %d, which is also in %s %s cpuset%s", pu,
                                whose, what, count > 1 ? " (and others)" : ""));
      ((struct vdp_violation *) out->pdata[out->len - 1])->other = (int) other;
    }

  for (size_t k = 0; k < t->n_nodes; k++) {
    if (!lim->mem_known[k] && strict[k]) {
      /* a memory-less node, or one hwloc knows no memory of */
      for (unsigned i = 0; i < n; i++)
        if (fps[i].strict_kib[k])
          violate (out, VDP_HARD_MEMORY, i, g_strdup ("memory"),
                   g_strdup_printf ("%" G_GUINT64_FORMAT " MiB bound strict to node %u, whose "
                                    "memory is unknown or none", fps[i].strict_kib[k] / 1024,
                                    t->nodes[k].id));
      continue;
    }
    if (!lim->mem_known[k] || strict[k] == 0 || bound[k] <= lim->cap_kib[k])
      continue;
    for (unsigned i = 0; i < n; i++)
      if (fps[i].strict_kib[k])
        violate (out, VDP_HARD_MEMORY, i, g_strdup ("memory"),
                 g_strdup_printf ("%" G_GUINT64_FORMAT " MiB bound strict to node %u, where "
                                  "guests bind %" G_GUINT64_FORMAT " MiB in all and %"
                                  G_GUINT64_FORMAT " MiB are free for them (%" G_GUINT64_FORMAT
                                  " MiB kept for the host)", fps[i].strict_kib[k] / 1024,
                                  t->nodes[k].id, bound[k] / 1024, lim->cap_kib[k] / 1024,
                                  lim->reserve_kib[k] / 1024));
  }
  return out->len - before;
}

/* ---- the inventory ------------------------------------------------------- */

void
vdp_inventory_init (struct vdp_inventory *inv, const struct vdp_topology *topo,
                    const struct vdp_policy *policy)
{
  memset (inv, 0, sizeof (*inv));
  inv->topo = topo;
  inv->policy = policy;
  vdp_host_limits_init (&inv->lim, topo, policy);
  inv->held = hwloc_bitmap_alloc ();
  inv->fixed = hwloc_bitmap_alloc ();
  inv->scratch = hwloc_bitmap_alloc ();
  inv->n_nodes = topo->n_nodes;
  inv->nodes = g_new0 (struct vdp_node_state, topo->n_nodes + 1);
  inv->l3_vcpus = g_new0 (unsigned, topo->n_l3 + 1);
  for (size_t n = 0; n < topo->n_nodes; n++) {
    struct vdp_node_state *ns = &inv->nodes[n];
    hwloc_bitmap_t ni = inv->scratch;
    unsigned n_ni;
    ns->id = topo->nodes[n].id;
    if (hwloc_bitmap_isincluded (topo->nodes[n].cpuset, inv->lim.usable)) {
      ns->usable = topo->nodes[n].cpuset;   /* the usual case: all of it */
    } else {
      ns->usable_own = hwloc_bitmap_alloc ();
      hwloc_bitmap_and (ns->usable_own, topo->nodes[n].cpuset, inv->lim.usable);
      ns->usable = ns->usable_own;
    }
    ns->n_usable = (unsigned) hwloc_bitmap_weight (ns->usable);
    ns->pool = hwloc_bitmap_alloc ();
    hwloc_bitmap_andnot (ni, ns->usable, inv->lim.isolated);
    n_ni = (unsigned) hwloc_bitmap_weight (ni);
    ns->pool_cap = n_ni * policy->pool_cap / 100;
    if (ns->pool_cap < 2)   /* a floating set is two PUs: on a node of four or more */
      ns->pool_cap = n_ni >= 4 ? 2 : 0;
    {
      /* pools take whole cores: the cap too, rounded up to one */
      unsigned smt = 1;
      int first = hwloc_bitmap_first (topo->nodes[n].cpuset);
      const struct vdp_pu *pu = first >= 0 ? vdp_topology_find_pu (topo, (unsigned) first) : NULL;
      if (pu && pu->core >= 0)
        smt = MAX (1, (unsigned) hwloc_bitmap_weight (topo->cores[pu->core].pus));
      ns->pool_cap = (ns->pool_cap + smt - 1) / smt * smt;
      ns->pool_cap = MIN (ns->pool_cap, n_ni);
    }
  }
}

void
vdp_inventory_clear (struct vdp_inventory *inv)
{
  for (size_t n = 0; n < inv->n_nodes; n++) {
    hwloc_bitmap_free (inv->nodes[n].usable_own);
    hwloc_bitmap_free (inv->nodes[n].pool);
  }
  g_free (inv->nodes);
  g_free (inv->l3_vcpus);
  hwloc_bitmap_free (inv->held);
  hwloc_bitmap_free (inv->fixed);
  hwloc_bitmap_free (inv->scratch);
  vdp_host_limits_clear (&inv->lim);
  memset (inv, 0, sizeof (*inv));
}

int
vdp_inventory_node_pos (const struct vdp_inventory *inv, unsigned id)
{
  return node_pos (inv->topo, id);
}

/* The one node position @set lies in, or -1. */
static int
single_node (const struct vdp_inventory *inv, hwloc_const_bitmap_t set)
{
  int found = -1;

  for (size_t n = 0; n < inv->n_nodes; n++)
    if (hwloc_bitmap_intersects (inv->topo->nodes[n].cpuset, set)) {
      if (found >= 0)
        return -1;
      found = (int) n;
    }
  return found;
}

void
vdp_inventory_charge (struct vdp_inventory *inv, const struct vdp_footprint *fp,
                      gboolean owned, gboolean smt_isolate)
{
  const struct vdp_topology *t = inv->topo;
  g_autofree unsigned *io_on = g_new0 (unsigned, inv->n_nodes + 1);
  g_auto (VdpBitmap) mine = hwloc_bitmap_alloc ();

  /* 1:1 pins (and with smt=isolate their cores' siblings) first */
  for (guint s = 0; s < fp->sets->len; s++) {
    const struct vdp_pinset *ps = &g_array_index (fp->sets, struct vdp_pinset, s);
    if (hwloc_bitmap_weight (ps->set) != 1)
      continue;
    hwloc_bitmap_or (mine, mine, ps->set);
    if (smt_isolate && ps->kind == VDP_THREAD_VCPU) {
      const struct vdp_pu *pu = vdp_topology_find_pu (t, (unsigned) hwloc_bitmap_first (ps->set));
      if (pu)
        hwloc_bitmap_or (mine, mine, t->cores[pu->core].pus);
    }
  }
  hwloc_bitmap_or (inv->held, inv->held, mine);
  for (guint s = 0; s < fp->sets->len; s++) {
    const struct vdp_pinset *ps = &g_array_index (fp->sets, struct vdp_pinset, s);
    int n;

    if (hwloc_bitmap_weight (ps->set) <= 1)
      continue;
    hwloc_bitmap_or (inv->fixed, inv->fixed, ps->set);
    if (ps->kind == VDP_THREAD_VCPU) {
      /* a floating vCPU loads the node most of its set is on */
      size_t best = 0;
      int best_w = -1;
      for (size_t k = 0; k < inv->n_nodes; k++) {
        g_auto (VdpBitmap) x = hwloc_bitmap_alloc ();
        hwloc_bitmap_and (x, ps->set, t->nodes[k].cpuset);
        if (hwloc_bitmap_weight (x) > best_w) {
          best_w = hwloc_bitmap_weight (x);
          best = k;
        }
      }
      inv->nodes[best].shared_vcpus++;
      for (size_t g = 0; g < t->n_l3; g++)
        if (hwloc_bitmap_isincluded (ps->set, t->l3[g].cpuset)) {
          inv->l3_vcpus[g]++;   /* narrowed to one LLC group (shared placement) */
          break;
        }
      continue;
    }
    n = single_node (inv, ps->set);
    if (owned && n >= 0 && !hwloc_bitmap_intersects (ps->set, mine)) {
      struct vdp_node_state *ns = &inv->nodes[n];
      /* the pools other guests run in are where new IOThreads go too */
      hwloc_bitmap_or (ns->pool, ns->pool, ps->set);
      if (ps->kind == VDP_THREAD_IOTHREAD || ps->kind == VDP_THREAD_WORKER) {
        ns->pool_iothreads++;
        ns->pool_load += 1.0 / MAX (inv->policy->pool_share, 1);
        io_on[n]++;
      } else {
        ns->pool_emulators++;
      }
    }
  }
  for (size_t n = 0; n < inv->n_nodes; n++) {
    struct vdp_node_state *ns = &inv->nodes[n];
    ns->pool_max_guest = MAX (ns->pool_max_guest, io_on[n]);
    ns->pool_cap = MAX (ns->pool_cap, (unsigned) hwloc_bitmap_weight (ns->pool));
    ns->bound_kib += fp->strict_kib[n] + fp->preferred_kib[n];
  }
  if (fp->loose_kib) {
    g_auto (VdpBitmap) nodes = hwloc_bitmap_dup (fp->loose_nodes);
    g_autofree guint64 *loose = g_new0 (guint64, inv->n_nodes + 1);
    if (hwloc_bitmap_iszero (nodes))
      for (size_t n = 0; n < inv->n_nodes; n++)
        hwloc_bitmap_set (nodes, t->nodes[n].id);
    spread (t, nodes, fp->loose_kib, loose);
    for (size_t n = 0; n < inv->n_nodes; n++)
      inv->nodes[n].loose_kib += loose[n];
  }
  inv->total_vcpus += fp->vcpus;
  for (size_t n = 0; n < inv->n_nodes; n++)
    inv->total_kib += fp->strict_kib[n] + fp->preferred_kib[n];
  inv->total_kib += fp->loose_kib;
}

gboolean
vdp_inventory_admits (const struct vdp_inventory *inv, const struct vdp_footprint *fp)
{
  g_auto (VdpBitmap) taken = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) mine = hwloc_bitmap_alloc ();

  hwloc_bitmap_or (taken, inv->held, inv->fixed);
  for (guint s = 0; s < fp->sets->len; s++) {
    const struct vdp_pinset *ps = &g_array_index (fp->sets, struct vdp_pinset, s);
    int w = hwloc_bitmap_weight (ps->set);
    if (w < 1 || !hwloc_bitmap_isincluded (ps->set, inv->lim.usable)
        || hwloc_bitmap_intersects (ps->set, inv->held))
      return FALSE;
    if (w == 1) {
      if (hwloc_bitmap_intersects (ps->set, taken) || hwloc_bitmap_intersects (ps->set, mine))
        return FALSE;
      hwloc_bitmap_or (mine, mine, ps->set);
    } else if (hwloc_bitmap_intersects (ps->set, inv->lim.isolated)) {
      return FALSE;
    }
  }
  for (guint s = 0; s < fp->sets->len; s++) {
    const struct vdp_pinset *ps = &g_array_index (fp->sets, struct vdp_pinset, s);
    if (hwloc_bitmap_weight (ps->set) > 1 && hwloc_bitmap_intersects (ps->set, mine))
      return FALSE;
  }
  if (fp->io_granted && (unsigned) hwloc_bitmap_weight (fp->io_granted) < fp->n_iothreads)
    return FALSE;
  for (size_t n = 0; n < inv->n_nodes; n++) {
    guint64 bound = inv->nodes[n].bound_kib + fp->strict_kib[n] + fp->preferred_kib[n];
    if (fp->strict_kib[n] && inv->lim.mem_known[n] && bound > inv->lim.cap_kib[n])
      return FALSE;
  }
  return TRUE;
}

guint64
vdp_inventory_mem_free (const struct vdp_inventory *inv, size_t n)
{
  const struct vdp_node_state *ns = &inv->nodes[n];
  guint64 used = ns->bound_kib + (inv->ignore_loose ? 0 : ns->loose_kib);

  if (!inv->lim.mem_known[n])
    return G_MAXUINT64;
  return inv->lim.cap_kib[n] > used ? inv->lim.cap_kib[n] - used : 0;
}

void
vdp_inventory_region (const struct vdp_inventory *inv, size_t n, hwloc_bitmap_t out)
{
  hwloc_bitmap_andnot (out, inv->nodes[n].usable, inv->lim.isolated);
  hwloc_bitmap_andnot (out, out, inv->held);
}

void
vdp_inventory_pinnable (const struct vdp_inventory *inv, size_t n, hwloc_bitmap_t out)
{
  hwloc_bitmap_andnot (out, inv->nodes[n].usable, inv->held);
  hwloc_bitmap_andnot (out, out, inv->fixed);
  hwloc_bitmap_andnot (out, out, inv->nodes[n].pool);
}

unsigned
vdp_inventory_pool_need (const struct vdp_inventory *inv, size_t n, double load,
                         unsigned guest_io, unsigned emulators)
{
  const struct vdp_node_state *ns = &inv->nodes[n];
  double total = ns->pool_load + load;
  unsigned need;

  if (ns->pool_iothreads + ns->pool_emulators + guest_io + emulators == 0)
    return 0;
  need = (unsigned) (total + 0.999);
  need = MAX (need, MAX (ns->pool_max_guest, guest_io));
  need = MAX (need, 2);
  return MAX (need, (unsigned) hwloc_bitmap_weight (ns->pool));
}

double
vdp_inventory_load (const struct vdp_inventory *inv, size_t n)
{
  const struct vdp_node_state *ns = &inv->nodes[n];
  unsigned w = ns->n_usable;

  if (w == 0)
    return G_MAXDOUBLE;
  hwloc_bitmap_and (inv->scratch, ns->usable, inv->held);
  return ((double) hwloc_bitmap_weight (inv->scratch) + ns->shared_vcpus) / w;
}

static int
cmp_by_weight (gconstpointer a, gconstpointer b, gpointer data)
{
  const int *w = data;
  int ga = (int) *(const guint *) a, gb = (int) *(const guint *) b;

  return w[ga] != w[gb] ? w[gb] - w[ga] : ga - gb;
}

void
vdp_inventory_grow_pool (struct vdp_inventory *inv, size_t n)
{
  const struct vdp_topology *t = inv->topo;
  struct vdp_node_state *ns = &inv->nodes[n];
  unsigned need = vdp_inventory_pool_need (inv, n, 0, 0, 0);
  g_autofree int *weight = g_new0 (int, t->n_l3 + 1);
  g_autofree guint *order = g_new0 (guint, t->n_l3 + 1);
  g_auto (VdpBitmap) region = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) x = hwloc_bitmap_alloc ();
  guint n_groups = 0;

  need = MIN (need, MAX (ns->pool_cap, (unsigned) hwloc_bitmap_weight (ns->pool)));
  if ((unsigned) hwloc_bitmap_weight (ns->pool) >= need)
    return;
  vdp_inventory_region (inv, n, region);
  hwloc_bitmap_andnot (region, region, ns->pool);
  for (unsigned gi = 0; gi < t->nodes[n].n_groups; gi++) {
    unsigned g = t->nodes[n].groups[gi];
    hwloc_bitmap_and (x, t->l3[g].cpuset, region);
    if (hwloc_bitmap_iszero (x))
      continue;
    weight[g] = hwloc_bitmap_weight (x);
    order[n_groups++] = g;
  }
  g_qsort_with_data (order, (gint) n_groups, sizeof (guint), cmp_by_weight, weight);
  /* whole cores in no other floating set first, then whole cores, then
   * any PU; round-robin over the node's LLC groups, each group's last core
   * first, so that every LLC gets pool PUs */
  for (int pass = 0; pass < 3 && (unsigned) hwloc_bitmap_weight (ns->pool) < need; pass++) {
    gboolean took = TRUE;
    while (took && (unsigned) hwloc_bitmap_weight (ns->pool) < need) {
      took = FALSE;
      for (guint gi = 0; gi < n_groups && (unsigned) hwloc_bitmap_weight (ns->pool) < need; gi++) {
        const struct vdp_l3 *grp = &t->l3[order[gi]];
        for (unsigned k = grp->n_cores; k-- > 0;) {
          const struct vdp_core *core = &t->cores[grp->cores[k]];
          hwloc_bitmap_and (x, core->pus, region);
          if (hwloc_bitmap_iszero (x) || hwloc_bitmap_intersects (x, ns->pool))
            continue;
          if (pass < 2 && !hwloc_bitmap_isequal (x, core->pus))
            continue;       /* passes 0-1: whole cores only */
          if (pass == 0 && hwloc_bitmap_intersects (x, inv->fixed))
            continue;
          hwloc_bitmap_or (ns->pool, ns->pool, x);
          hwloc_bitmap_andnot (region, region, x);
          took = TRUE;
          break;
        }
      }
    }
  }
}
