/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The planner (DESIGN §4): pure, deterministic, one reason per decision. */
#include <config.h>

#include <stdarg.h>
#include <string.h>

#include "planner.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"

/* Host-wide state shared by the domains of one plan (rule 13). */
struct inventory {
  const struct vdp_topology *topo;
  const struct vdp_policy *policy;
  hwloc_bitmap_t usable;        /* allowed minus host_cpus (rule 10) */
  hwloc_bitmap_t dedicated;     /* PUs one guest has for itself */
  hwloc_bitmap_t pool;          /* per-node I/O pools */
  unsigned *node_vcpus;         /* shared vCPUs placed, per node position */
  unsigned *cap;                /* node_capacity() per node position, refreshed per domain */
  guint64 *node_mem;            /* KiB placed, per node position */
};

static const char *const memory_mode_names[] = { "strict", "preferred", "none" };

void
vdp_domain_plan_reason (struct vdp_domain_plan *dp, unsigned rule, const char *subject,
                        const char *fmt, ...)
{
  struct vdp_reason *r = g_new0 (struct vdp_reason, 1);
  va_list ap;

  va_start (ap, fmt);
  r->rule = rule;
  r->subject = g_strdup (subject);
  r->text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_ptr_array_add (dp->reasons, r);
}

static void
warn (struct vdp_domain_plan *dp, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
warn (struct vdp_domain_plan *dp, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_ptr_array_add (dp->warnings, g_strdup_printf ("domain '%s': %s", dp->dom->name, msg));
}

static void
reason_free (gpointer p)
{
  struct vdp_reason *r = p;
  g_free (r->subject);
  g_free (r->text);
  g_free (r);
}

static char *
fmt_set (hwloc_const_bitmap_t set)
{
  return vdp_cpuset_format (set);
}

static int
node_pos (const struct vdp_topology *t, unsigned id)
{
  for (size_t i = 0; i < t->n_nodes; i++)
    if (t->nodes[i].id == id)
      return (int) i;
  return -1;
}

/* Usable PUs of node position @n. */
static void
node_usable (const struct inventory *inv, size_t n, hwloc_bitmap_t out)
{
  hwloc_bitmap_and (out, inv->topo->nodes[n].cpuset, inv->usable);
}

/* PUs of node position @n that shared vCPUs may float over. */
static void
guest_set (const struct inventory *inv, size_t n, hwloc_bitmap_t out)
{
  node_usable (inv, n, out);
  hwloc_bitmap_andnot (out, out, inv->pool);
  hwloc_bitmap_andnot (out, out, inv->dedicated);
}

/* ---- the I/O pool (DESIGN §4 balanced: about 1 PU in 16 per node) ------- */

static int
cmp_groups_by_size (gconstpointer a, gconstpointer b, gpointer data)
{
  const int *wa = data;
  int ga = (int) *(const guint *) a, gb = (int) *(const guint *) b;

  if (wa[ga] != wa[gb])
    return wa[gb] - wa[ga];
  return ga - gb;
}

static void
compute_pool (struct inventory *inv)
{
  const struct vdp_topology *t = inv->topo;
  g_autofree int *weight = NULL;
  g_autofree guint *order = NULL;
  g_auto (VdpBitmap) nu = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) x = hwloc_bitmap_alloc ();

  if (inv->policy->iothread_cpus != VDP_IOCPUS_SEPARATE)
    return;
  weight = g_new0 (int, t->n_l3 + 1);
  order = g_new0 (guint, t->n_l3 + 1);

  for (size_t n = 0; n < t->n_nodes; n++) {
    guint n_groups = 0;
    int total, size, have = 0;

    node_usable (inv, n, nu);
    hwloc_bitmap_andnot (nu, nu, inv->dedicated);   /* foreign pins stay theirs */
    total = hwloc_bitmap_weight (nu);
    if (total < 4)
      continue;
    size = MAX (1, (total + 8) / 16);
    for (unsigned gi = 0; gi < t->nodes[n].n_groups; gi++) {
      unsigned g = t->nodes[n].groups[gi];
      if (!hwloc_bitmap_intersects (t->l3[g].cpuset, nu))
        continue;
      hwloc_bitmap_and (x, t->l3[g].cpuset, nu);
      weight[g] = hwloc_bitmap_weight (x);
      order[n_groups++] = (guint) g;
    }
    g_qsort_with_data (order, (gint) n_groups, sizeof (guint), cmp_groups_by_size, weight);
    /* Round-robin over the node's LLC groups, taking each group's last
     * free core (all its usable siblings), so that every L3 gets pool PUs. */
    while (have < size) {
      gboolean took = FALSE;
      for (guint gi = 0; gi < n_groups && have < size; gi++) {
        const struct vdp_l3 *g = &t->l3[order[gi]];
        for (unsigned k = g->n_cores; k-- > 0;) {
          const struct vdp_core *core = &t->cores[g->cores[k]];
          hwloc_bitmap_and (x, core->pus, nu);
          if (hwloc_bitmap_iszero (x) || hwloc_bitmap_intersects (x, inv->pool))
            continue;
          hwloc_bitmap_or (inv->pool, inv->pool, x);
          have += hwloc_bitmap_weight (x);
          took = TRUE;
          break;
        }
      }
      if (!took)
        break;
    }
  }
}

/* ---- rule 11: whose pins are these? ------------------------------------ */

static gboolean
has_foreign_placement (const struct vdp_domain *d)
{
  if (d->tuned && d->tuned_place)
    return FALSE;   /* the pins are the ones virt-dataplane wrote */
  for (unsigned v = 0; v < d->vcpus; v++)
    if (d->vcpupin[v])
      return TRUE;
  return d->emulatorpin || d->n_iothreadpin || d->vcpu_cpuset || d->numa_nodeset
         || (d->vcpu_placement && strcmp (d->vcpu_placement, "auto") == 0)
         || (d->numa_placement && strcmp (d->numa_placement, "auto") == 0);
}

/* ---- rule 1: home node ------------------------------------------------- */

static guint64
node_free_mem (const struct inventory *inv, size_t n)
{
  guint64 total = inv->topo->nodes[n].memory / 1024;
  return total > inv->node_mem[n] ? total - inv->node_mem[n] : 0;
}

/* How many vCPUs node position @n can take for this placement. */
static unsigned
node_capacity (const struct inventory *inv, size_t n, VdpPlacement placement)
{
  g_auto (VdpBitmap) gs = hwloc_bitmap_alloc ();
  unsigned cap = 0;

  guest_set (inv, n, gs);
  if (placement == VDP_PLACEMENT_SHARED || inv->policy->smt == VDP_SMT_PREFER)
    return (unsigned) hwloc_bitmap_weight (gs);
  /* smt=isolate: one PU per core whose siblings are all free */
  for (size_t c = 0; c < inv->topo->n_cores; c++) {
    const struct vdp_core *core = &inv->topo->cores[c];
    if (core->node == (int) inv->topo->nodes[n].id && hwloc_bitmap_isincluded (core->pus, gs))
      cap++;
  }
  return cap;
}

/* Computes node_capacity() of every node once, before a domain's decisions. */
static void
refresh_capacity (struct inventory *inv, VdpPlacement placement)
{
  for (size_t n = 0; n < inv->topo->n_nodes; n++)
    inv->cap[n] = node_capacity (inv, n, placement);
}

/* Free shared capacity, for balancing guests with no locality. */
static int
node_free_score (const struct inventory *inv, size_t n, VdpPlacement placement)
{
  int cap = (int) inv->cap[n];
  return placement == VDP_PLACEMENT_SHARED ? cap - (int) inv->node_vcpus[n] : cap;
}

static int
choose_home (const struct inventory *inv, const struct vdp_plan_input *in,
             VdpPlacement placement, struct vdp_domain_plan *dp)
{
  const struct vdp_topology *t = inv->topo;
  g_autofree unsigned *votes = g_new0 (unsigned, t->n_nodes + 1);
  unsigned total_votes = 0;
  g_auto (VdpBitmap) full = hwloc_bitmap_alloc ();
  int best = -1;

  for (unsigned i = 0; in->hints && i < in->dom->n_disks; i++) {
    const struct vdp_disk *disk = &in->dom->disks[i];
    int p;
    if (in->hints[i].node < 0 || strcmp (disk->device, "cdrom") == 0)
      continue;
    p = node_pos (t, (unsigned) in->hints[i].node);
    if (p >= 0 && inv->cap[p] > 0) {
      votes[p]++;
      total_votes++;
    } else if (p >= 0) {
      hwloc_bitmap_set (full, (unsigned) in->hints[i].node);
    }
  }
  for (size_t n = 0; n < t->n_nodes; n++) {
    if (inv->cap[n] == 0)
      continue;
    if (best < 0) {
      best = (int) n;
      continue;
    }
    if (total_votes && votes[n] != votes[best]) {
      if (votes[n] > votes[best])
        best = (int) n;
      continue;
    }
    if (node_free_score (inv, n, placement) > node_free_score (inv, (size_t) best, placement)
        || (node_free_score (inv, n, placement) == node_free_score (inv, (size_t) best, placement)
            && node_free_mem (inv, n) > node_free_mem (inv, (size_t) best)))
      best = (int) n;
  }
  if (best < 0)
    return -1;
  if (total_votes)
    vdp_domain_plan_reason (dp, 1, "domain",
                            "home node %u: %u of %u disks with known locality are local to it",
                            t->nodes[best].id, votes[best], total_votes);
  else if (!hwloc_bitmap_iszero (full)) {
    g_autofree char *s = fmt_set (full);
    vdp_domain_plan_reason (dp, 1, "domain",
                            "home node %u: the disks' node %s has no PU left for this guest; "
                            "the node with the most free PUs and memory", t->nodes[best].id, s);
  } else
    vdp_domain_plan_reason (dp, 1, "domain",
                            "home node %u: no disk locality known; the node with the most free "
                            "PUs and memory", t->nodes[best].id);
  return best;
}

/* Spanned node positions, home first; FALSE when even all nodes cannot hold it. */
static gboolean
choose_span (const struct inventory *inv, const struct vdp_domain *d, int home,
             VdpPlacement placement, GArray *span)
{
  const struct vdp_topology *t = inv->topo;
  unsigned cap = inv->cap[home];
  guint64 mem = node_free_mem (inv, (size_t) home);
  gboolean mem_known = t->nodes[home].memory > 0;
  g_autofree gboolean *used = g_new0 (gboolean, t->n_nodes + 1);

  g_array_append_val (span, home);
  used[home] = TRUE;
  while (cap < d->vcpus || (mem_known && mem < d->memory_kib)) {
    int next = -1;
    const struct vdp_package *pkg = NULL;
    for (size_t p = 0; p < t->n_packages; p++)
      if (hwloc_bitmap_isset (t->packages[p].nodeset, t->nodes[home].id))
        pkg = &t->packages[p];
    for (size_t n = 0; n < t->n_nodes; n++) {
      gboolean near, best_near;
      if (used[n] || inv->cap[n] == 0)
        continue;
      if (next < 0) {
        next = (int) n;
        continue;
      }
      near = pkg && hwloc_bitmap_isset (pkg->nodeset, t->nodes[n].id);
      best_near = pkg && hwloc_bitmap_isset (pkg->nodeset, t->nodes[next].id);
      if (near != best_near) {
        if (near)
          next = (int) n;
        continue;
      }
      if (inv->cap[n] > inv->cap[next])
        next = (int) n;
    }
    if (next < 0)
      return FALSE;
    used[next] = TRUE;
    g_array_append_val (span, next);
    cap += inv->cap[next];
    mem += node_free_mem (inv, (size_t) next);
    mem_known = mem_known && t->nodes[next].memory > 0;
  }
  return TRUE;
}

/* ---- rule 2: vCPUs ----------------------------------------------------- */

/* Picks @want dedicated PUs on node position @n into @out (in vCPU order):
 * isolated PUs first, then whole cores, in the LLC group that fits best. */
static unsigned
pick_dedicated (struct inventory *inv, size_t n, unsigned want, GArray *out)
{
  const struct vdp_topology *t = inv->topo;
  g_auto (VdpBitmap) gs = hwloc_bitmap_alloc ();
  g_autoptr (GArray) order = g_array_new (FALSE, FALSE, sizeof (int));
  gboolean isolate = inv->policy->smt == VDP_SMT_ISOLATE;
  unsigned got = 0;
  int best = -1;
  unsigned best_free = 0;

  guest_set (inv, n, gs);
  /* LLC groups: the smallest that fits all, else the largest first. */
  for (size_t g = 0; g < t->n_l3; g++) {
    g_auto (VdpBitmap) x = hwloc_bitmap_alloc ();
    unsigned f;
    hwloc_bitmap_and (x, t->l3[g].cpuset, gs);
    f = (unsigned) hwloc_bitmap_weight (x);
    if (f >= want && (best < 0 || f < best_free)) {
      best = (int) g;
      best_free = f;
    }
  }
  if (best >= 0)
    g_array_append_val (order, best);
  for (size_t g = 0; g < t->n_l3; g++)
    if ((int) g != best)
      g_array_append_val (order, g);

  for (int pass = 0; pass < 2 && got < want; pass++) {
    /* pass 0: cores with an isolated PU (rule 10 prefers them), pass 1: the rest */
    for (guint oi = 0; oi < order->len && got < want; oi++) {
      int g = g_array_index (order, int, oi);
      for (size_t c = 0; c < t->n_cores && got < want; c++) {
        const struct vdp_core *core = &t->cores[c];
        g_auto (VdpBitmap) pus = hwloc_bitmap_alloc ();
        gboolean iso;
        int pu;

        if (core->l3 != g || core->node != (int) t->nodes[n].id)
          continue;
        hwloc_bitmap_and (pus, core->pus, gs);
        if (hwloc_bitmap_iszero (pus))
          continue;
        iso = hwloc_bitmap_intersects (pus, t->isolated);
        if ((pass == 0) != iso)
          continue;
        if (isolate) {
          if (!hwloc_bitmap_isequal (pus, core->pus))
            continue;
          pu = hwloc_bitmap_first (pus);
          g_array_append_val (out, pu);
          got++;
          hwloc_bitmap_or (inv->dedicated, inv->dedicated, core->pus);
          hwloc_bitmap_andnot (gs, gs, core->pus);
          continue;
        }
        hwloc_bitmap_foreach_begin (pu, pus)
          if (got < want) {
            g_array_append_val (out, pu);
            got++;
            hwloc_bitmap_set (inv->dedicated, (unsigned) pu);
            hwloc_bitmap_clr (gs, (unsigned) pu);
          }
        hwloc_bitmap_foreach_end ();
      }
    }
  }
  return got;
}

/* The LLC groups (by index) intersecting @set, in index order. */
static GArray *
groups_of (const struct vdp_topology *t, hwloc_const_bitmap_t set)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (int));

  for (size_t g = 0; g < t->n_l3; g++)
    if (hwloc_bitmap_intersects (t->l3[g].cpuset, set)) {
      int gi = (int) g;
      g_array_append_val (a, gi);
    }
  return a;
}

static gboolean
place_vcpus (struct inventory *inv, struct vdp_domain_plan *dp, GArray *span,
             unsigned *vcpu_node_pos, GError **error)
{
  const struct vdp_topology *t = inv->topo;
  const struct vdp_domain *d = dp->dom;
  unsigned v = 0;

  g_autofree unsigned *share = g_new0 (unsigned, span->len);
  guint64 total_cap = 0;
  unsigned given = 0;

  /* vCPUs spread over the spanned nodes in proportion to what each can
   * take, at least one each, so that every guest cell has CPUs */
  for (guint si = 0; si < span->len; si++)
    total_cap += inv->cap[g_array_index (span, int, si)];
  for (guint si = 0; si < span->len; si++) {
    unsigned cap = inv->cap[g_array_index (span, int, si)];
    share[si] = MAX (1, (unsigned) (d->vcpus * (guint64) cap / MAX (total_cap, 1)));
    given += share[si];
  }
  for (guint si = 0; given < d->vcpus; si = (si + 1) % span->len, given++)
    share[si]++;
  for (guint si = span->len; given > d->vcpus && si-- > 0;)
    while (share[si] > 1 && given > d->vcpus) {
      share[si]--;
      given--;
    }

  dp->vcpu_pins = g_new0 (hwloc_bitmap_t, d->vcpus);
  dp->vcpu_l3 = g_new0 (int, d->vcpus);
  for (guint si = 0; si < span->len && v < d->vcpus; si++) {
    size_t n = (size_t) g_array_index (span, int, si);
    unsigned take = MIN (share[si], d->vcpus - v);
    unsigned first = v;

    if (dp->placement == VDP_PLACEMENT_DEDICATED) {
      g_autoptr (GArray) pus = g_array_new (FALSE, FALSE, sizeof (int));
      unsigned got = pick_dedicated (inv, n, take, pus);
      if (got < take) {
        g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                     "domain '%s': %u dedicated vCPUs do not fit: node %u has %u free PUs "
                     "for them", d->name, d->vcpus, t->nodes[n].id, got);
        return FALSE;
      }
      for (unsigned i = 0; i < take; i++, v++) {
        int pu = g_array_index (pus, int, i);
        const struct vdp_pu *p = vdp_topology_find_pu (t, (unsigned) pu);
        dp->vcpu_pins[v] = hwloc_bitmap_alloc ();
        hwloc_bitmap_only (dp->vcpu_pins[v], (unsigned) pu);
        dp->vcpu_l3[v] = p ? p->l3 : -1;
        vcpu_node_pos[v] = (unsigned) n;
      }
    } else {
      g_auto (VdpBitmap) gs = hwloc_bitmap_alloc ();
      g_autoptr (GArray) groups = NULL;

      guest_set (inv, n, gs);
      if (hwloc_bitmap_iszero (gs)) {
        /* every guest PU is dedicated elsewhere: fall back to the node's usable PUs */
        node_usable (inv, n, gs);
        hwloc_bitmap_andnot (gs, gs, inv->dedicated);
      }
      if (hwloc_bitmap_iszero (gs)) {
        g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                     "domain '%s': node %u has no PU left for shared vCPUs", d->name,
                     t->nodes[n].id);
        return FALSE;
      }
      groups = groups_of (t, gs);
      for (unsigned i = 0; i < take; i++, v++) {
        dp->vcpu_pins[v] = hwloc_bitmap_dup (gs);
        /* nominal LLC group: vCPUs spread over the node's groups in blocks */
        dp->vcpu_l3[v] = groups->len ? g_array_index (groups, int, i * groups->len / take) : -1;
        vcpu_node_pos[v] = (unsigned) n;
      }
      inv->node_vcpus[n] += take;
    }
    {
      g_auto (VdpBitmap) all = hwloc_bitmap_alloc ();
      g_autofree char *s = NULL;
      for (unsigned i = first; i < v; i++)
        hwloc_bitmap_or (all, all, dp->vcpu_pins[i]);
      s = fmt_set (all);
      g_autofree char *which = v - first == 1 ? g_strdup_printf ("vCPU %u", first)
                               : g_strdup_printf ("vCPUs %u-%u", first, v - 1);
      if (dp->placement == VDP_PLACEMENT_DEDICATED)
        vdp_domain_plan_reason (dp, 2, "vcpus",
                                "%s pinned 1:1 to PUs %s on node %u (%s, whole cores "
                                "first, isolated PUs preferred)", which, s,
                                t->nodes[n].id,
                                inv->policy->smt == VDP_SMT_ISOLATE ? "SMT siblings kept idle"
                                : "SMT siblings used");
      else
        vdp_domain_plan_reason (dp, 2, "vcpus",
                                "%s float%s over node %u's guest PUs %s (shared placement, "
                                "I/O pool and dedicated PUs left out)", which,
                                v - first == 1 ? "s" : "", t->nodes[n].id, s);
    }
  }
  return TRUE;
}

/* ---- rules 3-4, 7: IOThreads and the emulator -------------------------- */

static void
emulator_set (struct inventory *inv, struct vdp_domain_plan *dp, size_t home,
              hwloc_bitmap_t vcpu_all, hwloc_bitmap_t out)
{
  const struct vdp_topology *t = inv->topo;
  g_auto (VdpBitmap) nu = hwloc_bitmap_alloc ();

  hwloc_bitmap_zero (out);
  node_usable (inv, home, nu);
  if (inv->policy->emulator == VDP_EMULATOR_LLC) {
    /* PUs sharing an LLC with the vCPUs, not vCPU PUs, not dedicated */
    for (size_t g = 0; g < t->n_l3; g++)
      if (hwloc_bitmap_intersects (t->l3[g].cpuset, vcpu_all))
        hwloc_bitmap_or (out, out, t->l3[g].cpuset);
    hwloc_bitmap_and (out, out, nu);      /* on the home node only */
    hwloc_bitmap_andnot (out, out, vcpu_all);
    hwloc_bitmap_andnot (out, out, inv->dedicated);
    if (!hwloc_bitmap_iszero (out)) {
      g_autofree char *s = fmt_set (out);
      vdp_domain_plan_reason (dp, 7, "emulator",
                              "emulator on PUs %s: same LLC as the vCPUs, no vCPU on them", s);
      return;
    }
  }
  /* housekeeping: the home node's PUs no guest has for itself */
  hwloc_bitmap_andnot (out, nu, inv->dedicated);
  if (hwloc_bitmap_iszero (out))
    hwloc_bitmap_copy (out, nu);
  {
    g_autofree char *s = fmt_set (out);
    vdp_domain_plan_reason (dp, 7, "emulator",
                            "emulator on node %u's housekeeping PUs %s%s", t->nodes[home].id, s,
                            inv->policy->emulator == VDP_EMULATOR_LLC
                            ? " (no spare PU shares the vCPUs' LLC)" : "");
  }
}

static void
place_iothreads (struct inventory *inv, struct vdp_domain_plan *dp,
                 const unsigned *vcpu_node_pos, size_t home, hwloc_const_bitmap_t emulator)
{
  const struct vdp_topology *t = inv->topo;
  const struct vdp_domain *d = dp->dom;
  g_autoptr (GArray) local = g_array_new (FALSE, FALSE, sizeof (unsigned));

  /* IOThreads stay on the home node, where the disks are (rule 4): they
   * serve the vCPUs that run there, in the LLC groups of those vCPUs. */
  for (unsigned v = 0; v < d->vcpus; v++)
    if (vcpu_node_pos[v] == home)
      g_array_append_val (local, v);
  dp->iothread_pins = g_new0 (hwloc_bitmap_t, MAX (dp->n_iothreads, 1));
  dp->iothread_l3 = g_new0 (int, MAX (dp->n_iothreads, 1));
  g_autofree const char **whys = g_new0 (const char *, MAX (dp->n_iothreads, 1));
  for (unsigned k = 0; k < dp->n_iothreads; k++) {
    unsigned v = local->len ? g_array_index (local, unsigned,
                                             (guint64) k * local->len / dp->n_iothreads) : 0;
    int g = dp->vcpu_l3 && local->len ? dp->vcpu_l3[v] : -1;
    size_t n = home;
    hwloc_bitmap_t pin = hwloc_bitmap_alloc ();
    const char *why;

    dp->iothread_l3[k] = g;
    if (inv->policy->iothread_cpus == VDP_IOCPUS_SEPARATE
        && dp->placement == VDP_PLACEMENT_DEDICATED && g >= 0) {
      /* latency: a dedicated PU of its own in the vCPUs' LLC */
      g_auto (VdpBitmap) free_pus = hwloc_bitmap_alloc ();
      hwloc_bitmap_and (free_pus, t->l3[g].cpuset, inv->usable);
      hwloc_bitmap_andnot (free_pus, free_pus, inv->dedicated);
      hwloc_bitmap_andnot (free_pus, free_pus, inv->pool);
      if (!hwloc_bitmap_iszero (free_pus)) {
        hwloc_bitmap_only (pin, (unsigned) hwloc_bitmap_first (free_pus));
        hwloc_bitmap_or (inv->dedicated, inv->dedicated, pin);
        why = "a dedicated PU in the LLC of the vCPUs it serves";
        goto done;
      }
    }
    if (inv->policy->iothread_cpus == VDP_IOCPUS_SEPARATE) {
      if (g >= 0)
        hwloc_bitmap_and (pin, inv->pool, t->l3[g].cpuset);
      if (!hwloc_bitmap_iszero (pin)) {
        why = "the node's I/O pool, in the LLC of the vCPUs it serves, no vCPU on it";
        goto done;
      }
      hwloc_bitmap_and (pin, inv->pool, t->nodes[n].cpuset);
      if (!hwloc_bitmap_iszero (pin)) {
        why = "the node's I/O pool (no pool PU in the vCPUs' LLC), no vCPU on it";
        goto done;
      }
    }
    hwloc_bitmap_copy (pin, emulator);
    why = inv->policy->iothread_cpus == VDP_IOCPUS_SEPARATE
          ? "shared with the emulator: the node has no PU to spare for I/O"
          : "shared with the emulator (iothread_cpus=shared)";
  done:
    dp->iothread_pins[k] = pin;
    whys[k] = why;
  }
  /* one reason per run of IOThreads placed alike */
  for (unsigned k = 0, start = 0; k < dp->n_iothreads; k++)
    if (k + 1 == dp->n_iothreads || whys[k + 1] != whys[start]
        || !hwloc_bitmap_isequal (dp->iothread_pins[k + 1], dp->iothread_pins[start])) {
      g_autofree char *s = fmt_set (dp->iothread_pins[start]);
      g_autofree char *subject = k == start ? g_strdup_printf ("iothread %u", start + 1)
                                 : g_strdup_printf ("iothreads %u-%u", start + 1, k + 1);
      vdp_domain_plan_reason (dp, 4, subject, "%s%s on PUs %s: %s",
                              k == start ? "IOThread " : "IOThreads ", subject + 9 + (k != start),
                              s, whys[start]);
      start = k + 1;
    }
}

/* ---- rules 5-6: queue mapping ------------------------------------------ */

static void
map_free (struct vdp_map *m)
{
  g_free (m->threads);
  if (m->queue_lists)
    g_ptr_array_unref (m->queue_lists);
}

static void
map_explicit (struct vdp_domain_plan *dp, unsigned queues, struct vdp_map *m)
{
  const struct vdp_domain *d = dp->dom;
  g_autofree unsigned *rr = g_new0 (unsigned, dp->n_iothreads + 1);
  g_autoptr (GPtrArray) lists = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  unsigned n_rr = 0;

  for (unsigned k = 0; k < dp->n_iothreads; k++)
    g_ptr_array_add (lists, g_array_new (FALSE, FALSE, sizeof (guint)));
  for (unsigned q = 0; q < queues; q++) {
    int g = dp->vcpu_l3 ? dp->vcpu_l3[q % d->vcpus] : -1;
    unsigned k = 0, seen = 0, pick;
    guint qq = q;

    /* IOThreads in the LLC of the vCPU that submits on queue q */
    for (unsigned i = 0; i < dp->n_iothreads; i++)
      if (g >= 0 && dp->iothread_l3[i] == g)
        seen++;
    if (seen) {
      pick = rr[g % (dp->n_iothreads + 1)]++ % seen;
      for (unsigned i = 0; i < dp->n_iothreads; i++)
        if (dp->iothread_l3[i] == g && pick-- == 0) {
          k = i;
          break;
        }
    } else {
      k = n_rr++ % dp->n_iothreads;
    }
    g_array_append_val ((GArray *) lists->pdata[k], qq);
  }
  m->kind = VDP_MAP_EXPLICIT;
  m->queues = queues;
  m->threads = g_new0 (unsigned, dp->n_iothreads);
  m->queue_lists = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  for (unsigned k = 0; k < dp->n_iothreads; k++) {
    GArray *l = lists->pdata[k];
    if (l->len == 0)
      continue;   /* every listed IOThread must have queues (libvirt) */
    m->threads[m->n_threads++] = k + 1;
    g_ptr_array_add (m->queue_lists, g_array_ref (l));
  }
}

static void
map_device (struct vdp_domain_plan *dp, const struct vdp_caps *caps, gboolean mapping_ok,
            unsigned queues, unsigned *next_single, struct vdp_map *m,
            const struct vdp_policy *policy)
{
  if (mapping_ok) {
    if (policy->mapping == VDP_MAPPING_EXPLICIT && dp->place) {
      map_explicit (dp, queues, m);
      return;
    }
    m->kind = VDP_MAP_ROUNDROBIN;
    m->queues = queues;
    m->n_threads = MIN (dp->n_iothreads, queues);
    m->threads = g_new0 (unsigned, MAX (m->n_threads, 1));
    for (unsigned k = 0; k < m->n_threads; k++)
      m->threads[k] = k + 1;
    return;
  }
  m->kind = VDP_MAP_SINGLE;
  m->n_threads = 1;
  m->threads = g_new0 (unsigned, 1);
  m->threads[0] = (*next_single)++ % dp->n_iothreads + 1;
}

/* ---- rule 9: disk driver ----------------------------------------------- */

static void
plan_disk_driver (struct vdp_domain_plan *dp, const struct vdp_caps *caps,
                  const struct vdp_policy *policy, unsigned i, const struct vdp_disk_hint *hint)
{
  const struct vdp_disk *disk = &dp->dom->disks[i];
  struct vdp_disk_plan *pl = &dp->disks[i];
  g_autofree char *subject = g_strdup_printf ("disk %s", disk->target);
  const char *want_io = NULL, *want_cache = NULL, *cache_after;

  if (!disk->type || (strcmp (disk->type, "file") != 0 && strcmp (disk->type, "block") != 0)) {
    vdp_domain_plan_reason (dp, 9, subject, "driver left alone: %s disk",
                            disk->type ? disk->type : "untyped");
    return;
  }
  if (strcmp (disk->device, "cdrom") == 0 || strcmp (disk->device, "floppy") == 0) {
    vdp_domain_plan_reason (dp, 9, subject, "driver left alone: %s", disk->device);
    return;
  }
  if (disk->driver_type && strcmp (disk->driver_type, "raw") != 0) {
    vdp_domain_plan_reason (dp, 9, subject, "driver left alone: %s image, not raw",
                            disk->driver_type);
    return;
  }
  if (hint && hint->odirect == 0) {
    vdp_domain_plan_reason (dp, 9, subject, "cache left as is: %s",
                            hint->odirect_note ? hint->odirect_note : "O_DIRECT unsupported");
    warn (dp, "disk %s: %s, cache left as is", disk->target,
          hint->odirect_note ? hint->odirect_note : "O_DIRECT unsupported");
    return;
  }
  if (policy->disk_cache == VDP_DISK_CACHE_NONE)
    want_cache = "none";
  cache_after = want_cache ? want_cache : disk->cache;
  if (policy->disk_io != VDP_DISK_IO_KEEP) {
    want_io = policy->disk_io == VDP_DISK_IO_URING && caps->io_uring ? "io_uring" : "native";
    if (strcmp (want_io, "native") == 0 && (cache_after == NULL
        || (strcmp (cache_after, "none") != 0 && strcmp (cache_after, "directsync") != 0))) {
      vdp_domain_plan_reason (dp, 9, subject, "io left as is: io='native' needs cache='none' "
                              "or 'directsync' and the profile keeps cache '%s'",
                              cache_after ? cache_after : "default");
      want_io = NULL;
    }
  }
  if ((want_cache == NULL || g_strcmp0 (disk->cache, want_cache) == 0)
      && (want_io == NULL || g_strcmp0 (disk->io, want_io) == 0)) {
    vdp_domain_plan_reason (dp, 9, subject, "driver already cache='%s' io='%s'",
                            disk->cache ? disk->cache : "default", disk->io ? disk->io : "default");
    return;
  }
  pl->set_driver = true;
  pl->cache = g_strdup (want_cache ? want_cache : disk->cache);
  pl->io = g_strdup (want_io ? want_io : disk->io);
  vdp_domain_plan_reason (dp, 9, subject, "cache='%s' io='%s': raw %s storage with O_DIRECT%s",
                          pl->cache ? pl->cache : "default", pl->io ? pl->io : "default",
                          disk->type, hint && hint->odirect == 1 ? "" : " (assumed)");
}

/* ---- one domain -------------------------------------------------------- */

static unsigned
reserved_iothread_ids (const struct vdp_domain *d)
{
  unsigned max = d->max_sched_iothread;

  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk *k = &d->disks[i];
    if (vdp_disk_iothread_capable (k))
      continue;
    max = MAX (max, k->iothread);
    for (unsigned j = 0; j < k->n_mapped; j++)
      max = MAX (max, k->mapped[j]);
  }
  for (unsigned i = 0; i < d->n_controllers; i++)
    if (!vdp_controller_iothread_capable (&d->controllers[i]))
      max = MAX (max, d->controllers[i].iothread);
  return max;
}

static void
plan_cells (struct inventory *inv, struct vdp_domain_plan *dp, GArray *span,
            const unsigned *vcpu_node_pos)
{
  const struct vdp_topology *t = inv->topo;
  const struct vdp_domain *d = dp->dom;

  if (d->n_cells > 0) {
    /* the guest has NUMA cells: back each by the node most of its vCPUs run on */
    dp->n_cells = d->n_cells;
    dp->cells = g_new0 (struct vdp_cell_plan, d->n_cells);
    for (unsigned c = 0; c < d->n_cells; c++) {
      g_autofree unsigned *count = g_new0 (unsigned, t->n_nodes + 1);
      unsigned best = (unsigned) g_array_index (span, int, 0);
      int v;
      dp->cells[c].id = d->cells[c].id;
      dp->cells[c].memory_kib = d->cells[c].memory_kib;
      if (d->cells[c].cpus)
        hwloc_bitmap_foreach_begin (v, d->cells[c].cpus)
          if ((unsigned) v < d->vcpus)
            count[vcpu_node_pos[v]]++;
        hwloc_bitmap_foreach_end ();
      for (size_t n = 0; n < t->n_nodes; n++)
        if (count[n] > count[best])
          best = (unsigned) n;
      dp->cells[c].node = t->nodes[best].id;
    }
    return;
  }
  if (span->len < 2)
    return;
  /* too big for one node: guest cells that mirror the host nodes */
  dp->create_cells = true;
  dp->n_cells = span->len;
  dp->cells = g_new0 (struct vdp_cell_plan, span->len);
  {
    guint64 given = 0;
    for (guint c = 0; c < span->len; c++) {
      size_t n = (size_t) g_array_index (span, int, c);
      struct vdp_cell_plan *cell = &dp->cells[c];
      cell->id = c;
      cell->node = t->nodes[n].id;
      cell->vcpus = hwloc_bitmap_alloc ();
      for (unsigned v = 0; v < d->vcpus; v++)
        if (vcpu_node_pos[v] == n)
          hwloc_bitmap_set (cell->vcpus, v);
      cell->memory_kib = c + 1 == span->len ? d->memory_kib - given
                         : d->memory_kib * (guint64) hwloc_bitmap_weight (cell->vcpus) / d->vcpus;
      given += cell->memory_kib;
    }
  }
}

static void
hash_u32 (GChecksum *c, guint32 v)
{
  guint32 le = GUINT32_TO_LE (v);
  g_checksum_update (c, (const guchar *) &le, sizeof (le));
}

static void
hash_str (GChecksum *c, const char *s)
{
  s = s ? s : "";
  g_checksum_update (c, (const guchar *) s, (gssize) strlen (s) + 1);
}

static void
hash_set (GChecksum *c, hwloc_const_bitmap_t set)
{
  g_autofree char *x = fmt_set (set);
  hash_str (c, x);
}

static void
hash_map (GChecksum *c, const struct vdp_map *m)
{
  hash_u32 (c, m->kind);
  hash_u32 (c, m->queues);
  hash_u32 (c, m->n_threads);
  for (unsigned k = 0; k < m->n_threads; k++) {
    hash_u32 (c, m->threads[k]);
    if (m->queue_lists) {
      GArray *l = m->queue_lists->pdata[k];
      hash_u32 (c, l->len);
      for (guint q = 0; q < l->len; q++)
        hash_u32 (c, g_array_index (l, guint, q));
    }
  }
}

/* A fingerprint of the state the plan leads to (not of the changes), so
 * that planning the result again gives the same hash; @prefix describes
 * the profile and target. */
static void
compute_hash (struct vdp_domain_plan *dp, const char *prefix)
{
  g_autoptr (GChecksum) c = g_checksum_new (G_CHECKSUM_SHA256);
  const struct vdp_domain *d = dp->dom;

  hash_str (c, prefix);
  hash_u32 (c, dp->place);
  /* runs of vCPUs with the same pin as one entry (shared guests: one) */
  for (unsigned v = 0, start = 0; dp->place && v < d->vcpus; v++)
    if (v + 1 == d->vcpus || !hwloc_bitmap_isequal (dp->vcpu_pins[v + 1], dp->vcpu_pins[start])) {
      hash_u32 (c, start);
      hash_u32 (c, v);
      hash_set (c, dp->vcpu_pins[start]);
      start = v + 1;
    }
  if (dp->place)
    hash_set (c, dp->emulator_pin);
  hash_u32 (c, dp->set_iothreads);
  hash_u32 (c, dp->n_iothreads);
  for (unsigned k = 0; dp->place && dp->set_iothreads && k < dp->n_iothreads; k++)
    hash_set (c, dp->iothread_pins[k]);
  hash_u32 (c, dp->memory);
  if (dp->memory != VDP_MEMORY_NONE)
    hash_set (c, dp->mem_nodes);
  for (unsigned i = 0; i < dp->n_cells; i++) {
    hash_u32 (c, dp->cells[i].id);
    hash_u32 (c, dp->cells[i].node);
    hash_u32 (c, (guint32) (dp->cells[i].memory_kib >> 32));
    hash_u32 (c, (guint32) dp->cells[i].memory_kib);
  }
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk_plan *pl = &dp->disks[i];
    /* the state the disk ends in */
    hash_str (c, d->disks[i].target);
    hash_str (c, pl->set_driver ? pl->cache : d->disks[i].cache);
    hash_str (c, pl->set_driver ? pl->io : d->disks[i].io);
    hash_map (c, &pl->map);
  }
  for (unsigned i = 0; i < d->n_controllers; i++)
    hash_map (c, &dp->controllers[i]);
  dp->hash = g_strndup (g_checksum_get_string (c), 16);
}

static gboolean
plan_domain (struct inventory *inv, struct vdp_plan *plan, const struct vdp_plan_input *in,
             struct vdp_domain_plan *dp, const char *hash_prefix, GError **error)
{
  const struct vdp_topology *t = inv->topo;
  const struct vdp_policy *policy = inv->policy;
  const struct vdp_domain *d = in->dom;
  g_autoptr (GArray) span = g_array_new (FALSE, FALSE, sizeof (int));
  g_autofree unsigned *vcpu_node_pos = g_new0 (unsigned, d->vcpus);
  g_auto (VdpBitmap) vcpu_all = hwloc_bitmap_alloc ();
  unsigned capable = 0, queues, next_single = 0;
  int home;

  dp->placement = policy->placement;
  dp->nodes = hwloc_bitmap_alloc ();
  dp->mem_nodes = hwloc_bitmap_alloc ();
  dp->disks = g_new0 (struct vdp_disk_plan, MAX (d->n_disks, 1));
  dp->controllers = g_new0 (struct vdp_map, MAX (d->n_controllers, 1));
  dp->memory = VDP_MEMORY_NONE;

  if (d->type && strcmp (d->type, "kvm") != 0 && strcmp (d->type, "qemu") != 0
      && strcmp (d->type, "test") != 0) {
    dp->skipped = true;
    dp->skip_reason = g_strdup_printf ("not a QEMU/KVM domain (type '%s')", d->type);
    compute_hash (dp, hash_prefix);
    return TRUE;
  }

  /* rule 11 */
  dp->place = !has_foreign_placement (d) || policy->override;
  if (!dp->place) {
    vdp_domain_plan_reason (dp, 11, "domain",
                            "existing pins or NUMA placement not written by virt-dataplane are "
                            "kept; use --force (override=yes) to replace them");
    warn (dp, "has pins virt-dataplane did not write: placement left alone (use --force)");
  } else if (has_foreign_placement (d)) {
    vdp_domain_plan_reason (dp, 11, "domain", "existing pins replaced (override)");
  }

  if (dp->place) {
    unsigned total_cap = 0;

    refresh_capacity (inv, dp->placement);
    home = choose_home (inv, in, dp->placement, dp);
    if (home < 0) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                   "domain '%s': profile '%s' cannot be satisfied: no usable PU left "
                   "(host_cpus, cgroup limits and dedicated PUs take them all)",
                   d->name, policy->name);
      return FALSE;
    }
    for (size_t n = 0; n < t->n_nodes; n++)
      total_cap += inv->cap[n];
    if (!choose_span (inv, d, home, dp->placement, span)) {
      if (dp->placement == VDP_PLACEMENT_DEDICATED && total_cap < d->vcpus) {
        g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                     "domain '%s': %u dedicated vCPUs do not fit: the host has %u free PUs "
                     "for them", d->name, d->vcpus, total_cap);
        return FALSE;
      }
      if (total_cap < d->vcpus)
        warn (dp, "%u vCPUs on %u host PUs: overcommitted", d->vcpus, total_cap);
      else
        warn (dp, "needs more memory than the host's nodes have free");
    }
    if (span->len > d->vcpus) {
      /* guest cells need CPUs: no more nodes than vCPUs */
      warn (dp, "needs the memory of %u nodes but has %u vCPU%s: memory spread over %u node%s",
            span->len, d->vcpus, d->vcpus == 1 ? "" : "s", d->vcpus, d->vcpus == 1 ? "" : "s");
      g_array_set_size (span, d->vcpus);
    }
    dp->home_node = (int) t->nodes[home].id;
    for (guint i = 0; i < span->len; i++)
      hwloc_bitmap_set (dp->nodes, t->nodes[g_array_index (span, int, i)].id);
    if (span->len > 1) {
      g_autofree char *s = fmt_set (dp->nodes);
      unsigned cap = inv->cap[home];
      guint64 mem = node_free_mem (inv, (size_t) home);
      g_autoptr (GString) why = g_string_new (NULL);

      if (cap < d->vcpus)
        g_string_append_printf (why, "%u vCPUs need more than the %u %s node %d has for them",
                                d->vcpus, cap,
                                dp->placement == VDP_PLACEMENT_DEDICATED
                                && policy->smt == VDP_SMT_ISOLATE ? "free cores" : "PUs",
                                dp->home_node);
      if (t->nodes[home].memory > 0 && mem < d->memory_kib)
        g_string_append_printf (why, "%s%" G_GUINT64_FORMAT " MiB of memory exceed its %"
                                G_GUINT64_FORMAT " MiB free", why->len ? "; " : "",
                                d->memory_kib / 1024, mem / 1024);
      vdp_domain_plan_reason (dp, 8, "domain", "spans nodes %s: %s", s, why->str);
    }
    if (!place_vcpus (inv, dp, span, vcpu_node_pos, error))
      return FALSE;
    for (unsigned v = 0; v < d->vcpus; v++)
      hwloc_bitmap_or (vcpu_all, vcpu_all, dp->vcpu_pins[v]);
    for (guint i = 0; i < span->len; i++) {
      size_t n = (size_t) g_array_index (span, int, i);
      guint64 share = d->memory_kib / span->len;
      inv->node_mem[n] += share;
    }
    dp->emulator_pin = hwloc_bitmap_alloc ();
    emulator_set (inv, dp, (size_t) home, vcpu_all, dp->emulator_pin);

    /* rule 8 */
    dp->memory = policy->memory;
    if (dp->memory != VDP_MEMORY_NONE) {
      g_autofree char *s = fmt_set (dp->nodes);
      hwloc_bitmap_copy (dp->mem_nodes, dp->nodes);
      if (dp->memory == VDP_MEMORY_PREFERRED && span->len > 1)
        hwloc_bitmap_only (dp->mem_nodes, (unsigned) dp->home_node);
      plan_cells (inv, dp, span, vcpu_node_pos);
      vdp_domain_plan_reason (dp, 8, "memory", "memory %s on node%s %s%s",
                              memory_mode_names[dp->memory], span->len > 1 ? "s" : "", s,
                              dp->create_cells ? ", guest NUMA cells mirror the host nodes" : "");
    }
  } else {
    dp->home_node = -1;
  }

  /* rule 3 */
  for (unsigned i = 0; i < d->n_disks; i++)
    capable += vdp_disk_iothread_capable (&d->disks[i]);
  for (unsigned i = 0; i < d->n_controllers; i++)
    capable += vdp_controller_iothread_capable (&d->controllers[i]);
  queues = policy->queues ? policy->queues : d->vcpus;
  if (capable > 0) {
    unsigned n, reserved = reserved_iothread_ids (d), single = 0;
    gboolean any_mapped = FALSE;

    for (unsigned i = 0; i < d->n_disks; i++)
      if (vdp_disk_iothread_capable (&d->disks[i])) {
        any_mapped |= plan->caps.disk_mapping;
        single += !plan->caps.disk_mapping;
      }
    for (unsigned i = 0; i < d->n_controllers; i++)
      if (vdp_controller_iothread_capable (&d->controllers[i])) {
        any_mapped |= plan->caps.scsi_mapping;
        single += !plan->caps.scsi_mapping;
      }
    if (policy->iothreads) {
      n = MIN (policy->iothreads, queues);
      vdp_domain_plan_reason (dp, 3, "iothreads", "%u IOThread%s: fixed by the profile%s", n,
                              n == 1 ? "" : "s",
                              n < policy->iothreads ? ", capped at the queue count" : "");
    } else {
      n = CLAMP ((d->vcpus + 1) / 2, 1, MIN (8, policy->iothreads_max));
      n = MIN (n, queues);
      vdp_domain_plan_reason (dp, 3, "iothreads",
                              "%u IOThread%s: ceil(%u vCPUs / 2) clamped to 1..%u, at most the "
                              "%u queues; shared by the domain's %u virtio device%s", n,
                              n == 1 ? "" : "s", d->vcpus, MIN (8, policy->iothreads_max), queues,
                              capable, capable == 1 ? "" : "s");
    }
    if (!any_mapped && single < n) {
      /* without per-queue mapping each device takes one IOThread: more would idle */
      vdp_domain_plan_reason (dp, 3, "iothreads",
                              "%u IOThread%s: without virtqueue mapping on this stack each of "
                              "the %u device%s uses one", single, single == 1 ? "" : "s", single,
                              single == 1 ? "" : "s");
      n = single;
    }
    if (reserved > n) {
      vdp_domain_plan_reason (dp, 3, "iothreads",
                              "%u IOThreads kept: ids up to %u are used by settings "
                              "virt-dataplane does not own", reserved, reserved);
      n = reserved;
    }
    dp->set_iothreads = true;
    dp->n_iothreads = n;
    if (dp->place) {
      place_iothreads (inv, dp, vcpu_node_pos, (size_t) node_pos (t, (unsigned) dp->home_node),
                       dp->emulator_pin);
      /* PUs just dedicated to IOThreads are no longer the emulator's */
      if (hwloc_bitmap_intersects (dp->emulator_pin, inv->dedicated)) {
        g_auto (VdpBitmap) rest = hwloc_bitmap_alloc ();
        hwloc_bitmap_andnot (rest, dp->emulator_pin, inv->dedicated);
        if (!hwloc_bitmap_iszero (rest)) {
          g_autofree char *s = fmt_set (rest);
          hwloc_bitmap_copy (dp->emulator_pin, rest);
          vdp_domain_plan_reason (dp, 7, "emulator",
                                  "emulator narrowed to PUs %s: the others went to IOThreads", s);
        }
      }
    }
  } else {
    vdp_domain_plan_reason (dp, 3, "iothreads", "no virtio disk or virtio-scsi controller: "
                            "IOThreads left as they are");
  }

  /* rules 5, 6, 9 */
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk *disk = &d->disks[i];
    g_autofree char *subject = g_strdup_printf ("disk %s", disk->target);

    plan_disk_driver (dp, &plan->caps, policy, i, in->hints ? &in->hints[i] : NULL);
    if (!dp->set_iothreads || !vdp_disk_iothread_capable (disk))
      continue;
    map_device (dp, &plan->caps, plan->caps.disk_mapping, queues, &next_single,
                &dp->disks[i].map, policy);
    dp->disks[i].map.queues = queues;
    switch (dp->disks[i].map.kind) {
    case VDP_MAP_SINGLE:
      vdp_domain_plan_reason (dp, 5, subject,
                              "%u queues on IOThread %u (iothread='%u'); per-queue threads need "
                              "libvirt >= 10.0 and QEMU >= 9.0, or the vhost-user backend",
                              queues, dp->disks[i].map.threads[0], dp->disks[i].map.threads[0]);
      break;
    case VDP_MAP_EXPLICIT:
      vdp_domain_plan_reason (dp, 5, subject,
                              "%u queues mapped explicitly: queue i on an IOThread in the LLC of "
                              "vCPU i", queues);
      break;
    default:
      vdp_domain_plan_reason (dp, 5, subject, "%u queues spread round-robin over IOThreads 1-%u",
                              queues, dp->disks[i].map.n_threads);
      break;
    }
  }
  for (unsigned i = 0; dp->set_iothreads && i < d->n_controllers; i++) {
    const struct vdp_controller *c = &d->controllers[i];
    g_autofree char *subject = g_strdup_printf ("controller scsi %u", c->index);

    if (!vdp_controller_iothread_capable (c))
      continue;
    map_device (dp, &plan->caps, plan->caps.scsi_mapping, queues, &next_single,
                &dp->controllers[i], policy);
    if (dp->controllers[i].kind == VDP_MAP_SINGLE) {
      dp->controllers[i].queues = 0;
      vdp_domain_plan_reason (dp, 6, subject,
                              "on IOThread %u (iothread='%u'); per-queue mapping needs libvirt "
                              ">= 11.2 and QEMU >= 10.0", dp->controllers[i].threads[0],
                              dp->controllers[i].threads[0]);
    } else {
      vdp_domain_plan_reason (dp, 6, subject, "%u queues mapped over %u IOThreads", queues,
                              dp->controllers[i].n_threads);
    }
  }
  compute_hash (dp, hash_prefix);
  return TRUE;
}

static int
cmp_largest_first (gconstpointer a, gconstpointer b, gpointer data)
{
  const struct vdp_plan_input *in = data;
  const struct vdp_domain *da = in[*(const unsigned *) a].dom;
  const struct vdp_domain *db = in[*(const unsigned *) b].dom;
  int c;

  if (da->vcpus != db->vcpus)
    return da->vcpus > db->vcpus ? -1 : 1;
  if (da->memory_kib != db->memory_kib)
    return da->memory_kib > db->memory_kib ? -1 : 1;
  c = g_strcmp0 (da->name, db->name);
  return c ? c : (int) *(const unsigned *) a - (int) *(const unsigned *) b;
}

struct vdp_plan *
vdp_plan_compute (const struct vdp_topology *topo, const struct vdp_policy *policy,
                  const struct vdp_caps *caps, const struct vdp_plan_input *inputs,
                  unsigned n, GError **error)
{
  g_autoptr (vdp_plan) plan = g_new0 (struct vdp_plan, 1);
  g_autofree unsigned *order = g_new0 (unsigned, MAX (n, 1));
  struct inventory inv = { 0 };
  gboolean ok = TRUE;

  plan->topo = topo;
  plan->policy = policy;
  plan->caps = *caps;
  plan->n_domains = n;
  plan->domains = g_new0 (struct vdp_domain_plan, MAX (n, 1));
  for (unsigned i = 0; i < n; i++) {
    plan->domains[i].dom = inputs[i].dom;
    plan->domains[i].n_vcpus = inputs[i].dom->vcpus;
    plan->domains[i].n_disks = inputs[i].dom->n_disks;
    plan->domains[i].n_controllers = inputs[i].dom->n_controllers;
    plan->domains[i].reasons = g_ptr_array_new_with_free_func (reason_free);
    plan->domains[i].warnings = g_ptr_array_new_with_free_func (g_free);
    plan->domains[i].home_node = -1;
    order[i] = i;
  }

  inv.topo = topo;
  inv.policy = policy;
  inv.usable = hwloc_bitmap_alloc ();
  hwloc_bitmap_andnot (inv.usable, topo->allowed, policy->host_cpus);
  inv.dedicated = hwloc_bitmap_alloc ();
  inv.pool = hwloc_bitmap_alloc ();
  inv.node_vcpus = g_new0 (unsigned, topo->n_nodes + 1);
  inv.node_mem = g_new0 (guint64, topo->n_nodes + 1);
  inv.cap = g_new0 (unsigned, topo->n_nodes + 1);

  if (hwloc_bitmap_iszero (inv.usable)) {
    g_autofree char *h = fmt_set (policy->host_cpus);
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "profile '%s' cannot be satisfied: host_cpus '%s' leaves no usable PU",
                 policy->name, h);
    ok = FALSE;
  }
  if (ok) {
    /* Pins that stay (foreign, not overridden) are someone's before any
     * domain is planned: their single-PU vCPU pins are dedicated. */
    for (unsigned i = 0; i < n; i++) {
      const struct vdp_domain *d = inputs[i].dom;
      if (!has_foreign_placement (d) || policy->override)
        continue;
      for (unsigned v = 0; v < d->vcpus; v++)
        if (d->vcpupin[v] && hwloc_bitmap_weight (d->vcpupin[v]) == 1)
          hwloc_bitmap_or (inv.dedicated, inv.dedicated, d->vcpupin[v]);
    }
    compute_pool (&inv);
    plan->io_pool = hwloc_bitmap_dup (inv.pool);
    g_qsort_with_data (order, (gint) n, sizeof (unsigned), cmp_largest_first, (gpointer) inputs);
    g_autofree char *pol = vdp_policy_format (policy);
    g_autofree char *stack = vdp_caps_describe (&plan->caps);
    g_autofree char *prefix = g_strconcat (pol, "|", stack, NULL);
    for (unsigned i = 0; i < n && ok; i++)
      ok = plan_domain (&inv, plan, &inputs[order[i]], &plan->domains[order[i]], prefix, error);
  }

  hwloc_bitmap_free (inv.usable);
  hwloc_bitmap_free (inv.dedicated);
  hwloc_bitmap_free (inv.pool);
  g_free (inv.node_vcpus);
  g_free (inv.node_mem);
  g_free (inv.cap);
  return ok ? g_steal_pointer (&plan) : NULL;
}

static gboolean
same_set (hwloc_const_bitmap_t a, hwloc_const_bitmap_t b)
{
  return a && b && hwloc_bitmap_isequal (a, b);
}

static const struct vdp_disk *
disk_by_target (const struct vdp_domain *d, const char *target)
{
  for (unsigned i = 0; i < d->n_disks; i++)
    if (g_strcmp0 (d->disks[i].target, target) == 0)
      return &d->disks[i];
  return NULL;
}

static void
verify_map (const char *what, const struct vdp_map *m, unsigned iothread, unsigned n_mapped,
            unsigned queues, GPtrArray *missing)
{
  if (m->kind == VDP_MAP_SINGLE && iothread != m->threads[0])
    g_ptr_array_add (missing, g_strdup_printf ("%s: iothread='%u' missing", what, m->threads[0]));
  if ((m->kind == VDP_MAP_ROUNDROBIN || m->kind == VDP_MAP_EXPLICIT) && n_mapped != m->n_threads)
    g_ptr_array_add (missing, g_strdup_printf ("%s: <iothreads> mapping dropped (%u of %u "
                                               "IOThreads kept)", what, n_mapped, m->n_threads));
  if (m->queues && queues != m->queues)
    g_ptr_array_add (missing, g_strdup_printf ("%s: queues='%u' missing", what, m->queues));
}

gboolean
vdp_plan_verify (const struct vdp_domain_plan *dp, const struct vdp_domain *after,
                 GPtrArray *missing)
{
  const struct vdp_domain *d = dp->dom;
  guint before = missing->len;

  if (dp->skipped)
    return TRUE;
  if (dp->place) {
    for (unsigned v = 0; v < d->vcpus && v < after->vcpus; v++)
      if (!same_set (after->vcpupin[v], dp->vcpu_pins[v])) {
        g_ptr_array_add (missing, g_strdup_printf ("vcpupin of vCPU %u", v));
        break;
      }
    if (!same_set (after->emulatorpin, dp->emulator_pin))
      g_ptr_array_add (missing, g_strdup ("emulatorpin"));
    for (unsigned k = 0; dp->set_iothreads && k < dp->n_iothreads; k++) {
      gboolean found = FALSE;
      for (unsigned i = 0; i < after->n_iothreadpin; i++)
        found |= after->iothreadpin_id[i] == k + 1
                 && same_set (after->iothreadpin[i], dp->iothread_pins[k]);
      if (!found) {
        g_ptr_array_add (missing, g_strdup_printf ("iothreadpin of IOThread %u", k + 1));
        break;
      }
    }
    if (dp->memory != VDP_MEMORY_NONE
        && (!same_set (after->numa_nodeset, dp->mem_nodes)
            || g_strcmp0 (after->numa_mode, dp->memory == VDP_MEMORY_STRICT ? "strict" : "preferred")))
      g_ptr_array_add (missing, g_strdup ("numatune memory"));
  }
  if (dp->set_iothreads && after->iothreads != dp->n_iothreads)
    g_ptr_array_add (missing, g_strdup_printf ("%u IOThreads (found %u)", dp->n_iothreads,
                                               after->iothreads));
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk_plan *pl = &dp->disks[i];
    const struct vdp_disk *a = disk_by_target (after, d->disks[i].target);
    g_autofree char *what = g_strdup_printf ("disk %s", d->disks[i].target);

    if (!pl->set_driver && pl->map.kind == VDP_MAP_NONE)
      continue;
    if (a == NULL) {
      g_ptr_array_add (missing, g_strdup_printf ("%s: gone", what));
      continue;
    }
    if (pl->set_driver && (g_strcmp0 (a->cache, pl->cache) || g_strcmp0 (a->io, pl->io)))
      g_ptr_array_add (missing, g_strdup_printf ("%s: cache/io", what));
    verify_map (what, &pl->map, a->iothread, a->n_mapped, a->queues, missing);
  }
  for (unsigned i = 0; i < d->n_controllers && i < after->n_controllers; i++) {
    const struct vdp_controller *a = &after->controllers[i];
    g_autofree char *what = g_strdup_printf ("controller %s %u", a->type, a->index);
    if (dp->controllers[i].kind != VDP_MAP_NONE)
      verify_map (what, &dp->controllers[i], a->iothread, a->n_mapped, a->queues, missing);
  }
  if (!after->tuned || g_strcmp0 (after->tuned_hash, dp->hash) != 0)
    g_ptr_array_add (missing, g_strdup ("virt-dataplane metadata"));
  return missing->len == before;
}

void
vdp_plan_free (struct vdp_plan *plan)
{
  if (plan == NULL)
    return;
  for (unsigned i = 0; i < plan->n_domains; i++) {
    struct vdp_domain_plan *dp = &plan->domains[i];
    if (dp->vcpu_pins)
      for (unsigned v = 0; v < dp->n_vcpus; v++)
        hwloc_bitmap_free (dp->vcpu_pins[v]);
    if (dp->iothread_pins)
      for (unsigned k = 0; k < dp->n_iothreads; k++)
        hwloc_bitmap_free (dp->iothread_pins[k]);
    for (unsigned c = 0; c < dp->n_cells; c++)
      hwloc_bitmap_free (dp->cells[c].vcpus);
    if (dp->disks)
      for (unsigned k = 0; k < dp->n_disks; k++) {
        g_free (dp->disks[k].cache);
        g_free (dp->disks[k].io);
        map_free (&dp->disks[k].map);
      }
    if (dp->controllers)
      for (unsigned k = 0; k < dp->n_controllers; k++)
        map_free (&dp->controllers[k]);
    g_free (dp->vcpu_pins);
    g_free (dp->vcpu_l3);
    g_free (dp->iothread_pins);
    g_free (dp->iothread_l3);
    g_free (dp->cells);
    g_free (dp->disks);
    g_free (dp->controllers);
    hwloc_bitmap_free (dp->emulator_pin);
    hwloc_bitmap_free (dp->nodes);
    hwloc_bitmap_free (dp->mem_nodes);
    if (dp->reasons)
      g_ptr_array_unref (dp->reasons);
    if (dp->warnings)
      g_ptr_array_unref (dp->warnings);
    g_free (dp->skip_reason);
    g_free (dp->hash);
  }
  g_free (plan->domains);
  hwloc_bitmap_free (plan->io_pool);
  g_free (plan);
}
