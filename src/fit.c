/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fitting a guest to nodes (DESIGN §4 rules 1, 2, 8, 10): whole guests on one node when any holds them. */
#include <config.h>

#include <string.h>

#include "fit.h"
#include "util/cleanup.h"
#include "util/cpuset.h"

/* What the fit needs to know of the guest. */
struct guest {
  const struct vdp_domain *d;
  const struct vdp_policy *p;
  const struct vdp_plan_input *in;
  struct vdp_domain_plan *dp;
  gboolean dedicated, isolate, io_with_emulator;
  unsigned vcpus;
  guint64 kib;              /* its memory and QEMU's own (overhead) */
  guint64 overhead;
  VdpMemory mem;
  unsigned n_io;
  const int *io_pref;       /* per IOThread: its disk's node position, or -1 */
  unsigned io_cap;          /* the most IOThreads its devices can use */
  gboolean overcommit;      /* shared: more vCPUs than PUs on a node is allowed */
};

/* One node's part of a fit, tried before anything is committed. */
struct part {
  size_t n;                 /* node position */
  unsigned vcpus;
  GArray *pus;              /* dedicated: a PU per vCPU (int) */
  hwloc_bitmap_t held;      /* vCPU PUs and idle siblings */
  hwloc_bitmap_t own;       /* idle siblings */
  guint64 kib;
};

static void
part_init (struct part *pt, size_t n, unsigned vcpus)
{
  pt->n = n;
  pt->vcpus = vcpus;
  pt->pus = g_array_new (FALSE, FALSE, sizeof (int));
  pt->held = hwloc_bitmap_alloc ();
  pt->own = hwloc_bitmap_alloc ();
  pt->kib = 0;
}

static void
part_clear (struct part *pt)
{
  if (pt->pus)
    g_array_unref (pt->pus);
  hwloc_bitmap_free (pt->held);
  hwloc_bitmap_free (pt->own);
  memset (pt, 0, sizeof (*pt));
}

void
vdp_fit_clear (struct vdp_fit *f)
{
  g_free (f->span);
  g_free (f->span_vcpus);
  g_free (f->span_kib);
  g_free (f->vcpu_span);
  g_free (f->vcpu_pu);
  g_free (f->cell_span);
  g_free (f->io);
  hwloc_bitmap_free (f->held);
  hwloc_bitmap_free (f->own);
  memset (f, 0, sizeof (*f));
}

/* ---- picking dedicated PUs ----------------------------------------------- */

/* The usable PUs of core @c. */
static void
core_usable (const struct vdp_inventory *inv, const struct vdp_core *c, hwloc_bitmap_t out)
{
  hwloc_bitmap_and (out, c->pus, inv->lim.usable);
}

/* Picks @want PUs of node position @n for dedicated vCPUs into @pt: whole
 * free cores first (smt=isolate: whole cores only, one PU each, the
 * siblings kept for the guest), cores with isolated PUs first, in the LLC
 * group that fits best.  Returns FALSE when the node has too few. */
static gboolean
pick_dedicated (const struct vdp_inventory *inv, const struct guest *g, size_t n,
                unsigned want, struct part *pt)
{
  const struct vdp_topology *t = inv->topo;
  unsigned id = t->nodes[n].id;
  g_auto (VdpBitmap) avail = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) cu = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) x = hwloc_bitmap_alloc ();
  g_autoptr (GArray) groups = g_array_new (FALSE, FALSE, sizeof (int));
  g_autofree unsigned *whole = g_new0 (unsigned, t->n_l3 + 1);
  g_autofree unsigned *free_pus = g_new0 (unsigned, t->n_l3 + 1);
  unsigned got = 0;
  int best = -1;

  vdp_inventory_pinnable (inv, n, avail);
  for (size_t c = 0; c < t->n_cores; c++) {
    const struct vdp_core *core = &t->cores[c];
    if (core->node != (int) id || core->l3 < 0)
      continue;
    core_usable (inv, core, cu);
    if (hwloc_bitmap_iszero (cu))
      continue;
    hwloc_bitmap_and (x, cu, avail);
    free_pus[core->l3] += (unsigned) hwloc_bitmap_weight (x);
    whole[core->l3] += hwloc_bitmap_isequal (x, cu);
  }
  /* the smallest LLC group that holds them all, else the fullest first */
  for (size_t gi = 0; gi < t->n_l3; gi++) {
    unsigned cap = g->isolate ? whole[gi] : free_pus[gi];
    if (cap >= want && (best < 0 || cap < (g->isolate ? whole[best] : free_pus[best])))
      best = (int) gi;
  }
  if (best >= 0)
    g_array_append_val (groups, best);
  for (unsigned round = 0; round < 2; round++)
    for (size_t gi = 0; gi < t->n_l3; gi++)
      if ((int) gi != best && (free_pus[gi] > 0) == (round == 0)) {
        int v = (int) gi;
        g_array_append_val (groups, v);
      }

  /* pass 0: whole cores with an isolated PU; 1: whole cores; 2 (smt=prefer
   * only): the free PUs of cores others use part of.  With smt=prefer a
   * whole core is taken only when the vCPUs left fill it. */
  for (int pass = 0; pass < 3 && got < want; pass++) {
    if (pass == 2 && g->isolate)
      break;
    for (guint oi = 0; oi < groups->len && got < want; oi++) {
      int gi = g_array_index (groups, int, oi);
      const struct vdp_l3 *grp = &t->l3[gi];
      for (unsigned k = 0; k < grp->n_cores && got < want; k++) {
        const struct vdp_core *core = &t->cores[grp->cores[k]];
        gboolean whole_core;
        int pu;
        if (core->node != (int) id)
          continue;
        core_usable (inv, core, cu);
        hwloc_bitmap_and (x, cu, avail);
        hwloc_bitmap_andnot (x, x, pt->held);
        if (hwloc_bitmap_iszero (x))
          continue;
        whole_core = hwloc_bitmap_isequal (x, cu);
        if (pass < 2 && (!whole_core
                         || (pass == 0) != hwloc_bitmap_intersects (x, inv->lim.isolated)))
          continue;
        if (pass == 2 && whole_core)
          continue;
        if (g->isolate) {
          pu = hwloc_bitmap_first (x);
          g_array_append_val (pt->pus, pu);
          got++;
          hwloc_bitmap_or (pt->held, pt->held, x);
          hwloc_bitmap_clr (x, (unsigned) pu);
          hwloc_bitmap_or (pt->own, pt->own, x);
          continue;
        }
        if (pass < 2 && want - got < (unsigned) hwloc_bitmap_weight (x))
          continue;
        hwloc_bitmap_foreach_begin (pu, x)
          if (got < want) {
            g_array_append_val (pt->pus, pu);
            got++;
            hwloc_bitmap_set (pt->held, (unsigned) pu);
          }
        hwloc_bitmap_foreach_end ();
      }
    }
  }
  if (!g->isolate && got < want) {
    /* still short: split a whole core; its sibling stays the guest's */
    for (guint oi = 0; oi < groups->len && got < want; oi++) {
      const struct vdp_l3 *grp = &t->l3[g_array_index (groups, int, oi)];
      for (unsigned k = 0; k < grp->n_cores && got < want; k++) {
        const struct vdp_core *core = &t->cores[grp->cores[k]];
        int pu;
        if (core->node != (int) id)
          continue;
        core_usable (inv, core, cu);
        hwloc_bitmap_and (x, cu, avail);
        hwloc_bitmap_andnot (x, x, pt->held);
        if (hwloc_bitmap_iszero (x))
          continue;
        pu = hwloc_bitmap_first (x);
        g_array_append_val (pt->pus, pu);
        got++;
        hwloc_bitmap_or (pt->held, pt->held, x);
        hwloc_bitmap_clr (x, (unsigned) pu);
        hwloc_bitmap_or (pt->own, pt->own, x);
      }
    }
  }
  /* vCPUs take the PUs in the order picked: SMT siblings stay adjacent,
   * as guest threads of one core expect */
  return got == want;
}

/* ---- room on a node ------------------------------------------------------ */

/* PUs of node @n that floating sets may still use once @pt is held. */
static unsigned
region_after (const struct vdp_inventory *inv, size_t n, hwloc_const_bitmap_t held)
{
  hwloc_bitmap_t r = inv->scratch;

  vdp_inventory_region (inv, n, r);
  if (held)
    hwloc_bitmap_andnot (r, r, held);
  return (unsigned) hwloc_bitmap_weight (r);
}

/* Whether node @n keeps room for its floating sets with @held taken,
 * @load more pool load from a guest of @io pool IOThreads there and @emu
 * more emulators, and @shared_need vCPUs of this guest floating there. */
static gboolean
room (const struct vdp_inventory *inv, size_t n, hwloc_const_bitmap_t held, double load,
      unsigned io, unsigned emu, unsigned shared_need)
{
  const struct vdp_node_state *ns = &inv->nodes[n];
  unsigned pool = vdp_inventory_pool_need (inv, n, load, io, emu);
  unsigned region = region_after (inv, n, held);

  if (pool > ns->pool_cap && (io || emu))
    return FALSE;
  /* this guest's vCPUs apart from the pool; other shared guests keep as
   * many PUs as they have vCPUs, the pool's included if need be */
  return region >= pool + shared_need && region >= MAX (ns->shared_min, pool);
}

static gboolean
mem_ok (const struct vdp_inventory *inv, const struct guest *g, size_t n, guint64 kib)
{
  return g->mem == VDP_MEMORY_NONE || vdp_inventory_mem_free (inv, n) >= kib;
}

/* ---- the guest's I/O threads --------------------------------------------- */

/* Where a guest's I/O threads go, worked out before anything is committed. */
struct io_try {
  const struct vdp_inventory *inv;
  const struct guest *g;
  struct part *parts;
  unsigned n_parts;
  hwloc_bitmap_t held;      /* the guest's PUs */
  unsigned *pool_on;        /* per node position: its IOThreads in the pool */
  int emu_on;               /* node position of its emulator in a pool, or -1 */
};

static int
part_of_node (const struct io_try *t, size_t n)
{
  for (unsigned s = 0; s < t->n_parts; s++)
    if (t->parts[s].n == n)
      return (int) s;
  return -1;
}

/* Whether node @n's pool takes @io more IOThreads and @emu more emulators
 * of the guest. */
static gboolean
fits (const struct io_try *t, size_t n, unsigned io, unsigned emu)
{
  int s = part_of_node (t, n);
  unsigned k = t->pool_on[n] + io;
  double share = 1.0 / MAX (t->g->p->pool_share, 1);

  return room (t->inv, n, t->held, share * k, k, (t->emu_on == (int) n) + emu,
               !t->g->dedicated && s >= 0 ? t->parts[s].vcpus : 0);
}

/* The other parts' nodes, nearest to the home node first. */
static void
other_parts (const struct io_try *t, unsigned *out)
{
  const struct vdp_topology *topo = t->inv->topo;
  size_t home = t->parts[0].n;

  for (unsigned s = 0; s < t->n_parts; s++)
    out[s] = s;
  for (unsigned i = 1; i < t->n_parts; i++)
    for (unsigned j = i; j > 1 && vdp_topology_distance (topo, home, t->parts[out[j]].n)
                                  < vdp_topology_distance (topo, home, t->parts[out[j - 1]].n); j--) {
      unsigned x = out[j];
      out[j] = out[j - 1];
      out[j - 1] = x;
    }
}

/* Places the IOThreads and the emulator of a guest whose vCPUs are in
 * @parts (the home node first): 1:1 on idle siblings, else in each node's
 * pool while it has room (other nodes of the guest next), else fewer;
 * shared guests keep one IOThread per node, floating with their vCPUs.
 * Returns 2 when everything has room as wanted, 1 when IOThreads were cut
 * or went elsewhere, 0 when the emulator has nowhere to go. */
static int
place_threads (const struct vdp_inventory *inv, const struct guest *g, struct part *parts,
               unsigned n_parts, struct vdp_slot *io, unsigned *n_io, struct vdp_slot *emu)
{
  g_autofree unsigned *want = g_new0 (unsigned, n_parts);
  g_autofree unsigned *got = g_new0 (unsigned, n_parts);
  g_autofree unsigned *pool_on = g_new0 (unsigned, inv->n_nodes + 1);
  g_autofree unsigned *others = g_new0 (unsigned, n_parts);
  g_autofree int *remote = g_new0 (int, g->n_io + 1);
  g_auto (VdpBitmap) own = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) own_any = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) held = hwloc_bitmap_alloc ();
  struct io_try t = { inv, g, parts, n_parts, held, pool_on, -1 };
  unsigned n_remote = 0, placed = 0, left = 0, level = 2;
  size_t home = parts[0].n;

  /* IOThreads serving one disk each (no virtqueue mapping) go to their
   * disk's node; the others over the parts in proportion to their vCPUs,
   * one each while there are enough */
  for (unsigned i = 0; i < g->n_io; i++) {
    unsigned best = 0;
    int pref = g->io_pref ? g->io_pref[i] : -1;
    int s = pref >= 0 ? part_of_node (&t, (size_t) pref) : -1;
    if (pref == VDP_IO_WITH_EMULATOR) {
      /* IOThreads no device uses: with the vCPUs of a shared guest, with
       * a dedicated guest's emulator */
      io[placed++] = (struct vdp_slot) { g->dedicated ? VDP_SLOT_WITH_EMULATOR : VDP_SLOT_WITH_VCPUS,
                                         -1, (int) home, 0 };
      continue;
    }
    if (s >= 0) {
      want[s]++;
      continue;
    }
    if (pref >= 0 && !g->io_with_emulator) {
      remote[n_remote++] = pref;
      continue;
    }
    for (unsigned k = 1; k < n_parts; k++)
      if ((guint64) want[k] * parts[best].vcpus < (guint64) want[best] * parts[k].vcpus)
        best = k;
    want[best]++;
  }
  for (unsigned s = 0; s < n_parts; s++) {
    hwloc_bitmap_or (own, own, parts[s].own);
    hwloc_bitmap_or (held, held, parts[s].held);
  }
  other_parts (&t, others);

  if (g->io_with_emulator) {
    for (unsigned i = placed; i < g->n_io; i++)
      io[placed++] = (struct vdp_slot) { VDP_SLOT_WITH_EMULATOR, -1, (int) home, 0 };
  } else {
    for (unsigned s = 0; s < n_parts; s++) {
      size_t n = parts[s].n;
      g_auto (VdpBitmap) mine = hwloc_bitmap_alloc ();

      hwloc_bitmap_and (mine, own, inv->topo->nodes[n].cpuset);
      /* 1:1 on the guest's own idle siblings first */
      while (got[s] < want[s] && !hwloc_bitmap_iszero (mine)) {
        int pu = hwloc_bitmap_first (mine);
        hwloc_bitmap_clr (mine, (unsigned) pu);
        hwloc_bitmap_clr (own, (unsigned) pu);
        io[placed++] = (struct vdp_slot) { VDP_SLOT_OWN, pu, (int) n, (int) s };
        got[s]++;
      }
      /* then the node's pool, as far as it has room */
      while (got[s] < want[s] && fits (&t, n, 1, 0)) {
        io[placed++] = (struct vdp_slot) { VDP_SLOT_POOL, -1, (int) n, (int) s };
        pool_on[n]++;
        got[s]++;
      }
      left += want[s] - got[s];
    }
    /* the disk's node is not the guest's: its pool when it has room */
    for (unsigned r = 0; r < n_remote; r++) {
      size_t n = (size_t) remote[r];
      if (fits (&t, n, 1, 0)) {
        io[placed++] = (struct vdp_slot) { VDP_SLOT_POOL, -1, (int) n, -1 };
        pool_on[n]++;
      } else {
        left++;
      }
    }
    /* a node with no room for a pool at all: a shared guest's IOThreads
     * float with its vCPUs there (over as many PUs: no stacking); a node
     * with room for them apart is better */
    for (unsigned s = 0; !g->dedicated && s < n_parts && left > 0; s++)
      for (; got[s] == 0 && want[s] > 0 && vdp_inventory_pool_need (inv, parts[s].n, 0, 0, 0) == 0
             && !fits (&t, parts[s].n, 1, 0); want[s]--, left--) {
        io[placed++] = (struct vdp_slot) { VDP_SLOT_WITH_VCPUS, -1, (int) parts[s].n, (int) s };
        level = 1;
      }
    /* what did not fit: the guest's other nodes, nearest first */
    for (unsigned k = 0; k < n_parts && left > 0; k++) {
      unsigned s = others[k];
      while (left > 0 && fits (&t, parts[s].n, 1, 0)) {
        io[placed++] = (struct vdp_slot) { VDP_SLOT_POOL, -1, (int) parts[s].n, (int) s };
        pool_on[parts[s].n]++;
        got[s]++;
        left--;
      }
    }
    if (left > 0)
      level = 1;
    if (placed == 0 && g->n_io > 0) {
      /* no room for I/O anywhere: one IOThread still beats the main loop */
      io[placed++] = (struct vdp_slot) { g->dedicated ? VDP_SLOT_WITH_EMULATOR : VDP_SLOT_WITH_VCPUS,
                                         -1, (int) home, 0 };
      level = 1;
    }
  }
  *n_io = placed;

  /* the emulator */
  hwloc_bitmap_and (own, own, inv->topo->nodes[home].cpuset);
  hwloc_bitmap_copy (own_any, own);
  hwloc_bitmap_andnot (own, own, inv->lim.isolated);
  if (g->dedicated && g->isolate && !hwloc_bitmap_iszero (own)) {
    *emu = (struct vdp_slot) { VDP_SLOT_OWN_SET, -1, (int) home, -1 };
    return (int) level;
  }
  if (!g->dedicated && g->io_with_emulator
      && vdp_inventory_pool_need (inv, home, 0, 0, 0) == 0) {
    /* nothing runs apart on the node: the emulator (and IOThreads) float
     * with the vCPUs, no PU kept aside */
    *emu = (struct vdp_slot) { VDP_SLOT_WITH_VCPUS, -1, (int) home, -1 };
    return (int) level;
  }
  if (!g->dedicated && pool_on[home] == 0 && vdp_inventory_pool_need (inv, home, 0, 0, 0) == 0) {
    /* no I/O pool on the node: a shared guest's emulator floats with its
     * vCPUs rather than keep PUs apart for itself */
    *emu = (struct vdp_slot) { VDP_SLOT_WITH_VCPUS, -1, (int) home, -1 };
    return (int) level;
  }
  for (unsigned k = 0; k < n_parts; k++) {
    size_t n = parts[others[k]].n;
    /* iothread_cpus=shared: its IOThreads go with the emulator */
    if (fits (&t, n, g->io_with_emulator ? placed : 0, 1)) {
      *emu = (struct vdp_slot) { VDP_SLOT_POOL, -1, (int) n, -1 };
      return k == 0 ? (int) level : 1;
    }
  }
  if (!g->dedicated) {
    *emu = (struct vdp_slot) { VDP_SLOT_WITH_VCPUS, -1, (int) home, -1 };
    return 1;
  }
  /* a dedicated guest whose nodes are full: the nearest pool with room */
  {
    int best = -1;
    unsigned best_d = G_MAXUINT;
    for (size_t n = 0; n < inv->n_nodes; n++) {
      unsigned dist = vdp_topology_distance (inv->topo, home, n);
      if (part_of_node (&t, n) >= 0 || dist >= best_d || !fits (&t, n, 0, 1))
        continue;
      best = (int) n;
      best_d = dist;
    }
    if (best < 0 && g->isolate && !hwloc_bitmap_iszero (own_any)) {
      /* no PU off the isolated ones has room: one of its own idle
       * siblings, 1:1 (isolated PUs take 1:1 pins only) */
      *emu = (struct vdp_slot) { VDP_SLOT_OWN_SET, -1, (int) home, -1 };
      return (int) level;
    }
    if (best < 0)
      return 0;
    *emu = (struct vdp_slot) { VDP_SLOT_POOL, -1, best, -1 };
    return 1;
  }
}

/* ---- trying nodes -------------------------------------------------------- */

/* smt=isolate promises IOThreads PUs of their own: on the idle siblings of
 * the vCPU cores, and where there are none (a host without SMT), on one
 * whole core of node @n kept for the guest's I/O, in the vCPUs' LLC
 * first, as long as the node keeps room for its floating sets.  The PUs
 * join @pt's own (idle) PUs. */
static void
reserve_io_cores (const struct vdp_inventory *inv, const struct guest *g, size_t n,
                  struct part *pt)
{
  const struct vdp_topology *t = inv->topo;
  g_auto (VdpBitmap) avail = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) x = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) held = hwloc_bitmap_dup (pt->held);
  g_auto (VdpBitmap) own = hwloc_bitmap_dup (pt->own);
  unsigned want = 0, have;
  int l3 = -1;

  if (!g->dedicated || !g->isolate || g->io_with_emulator)
    return;
  for (unsigned i = 0; i < g->n_io; i++)
    want += !g->io_pref || g->io_pref[i] != VDP_IO_WITH_EMULATOR;
  /* one core: its first IOThread alone there, as Nova's isolated
   * emulator thread costs one PU a guest; the rest in the pool */
  want = MIN (want, 1);
  hwloc_bitmap_and (x, own, t->nodes[n].cpuset);
  have = (unsigned) hwloc_bitmap_weight (x);
  if (have >= want)
    return;
  if (pt->pus->len > 0) {
    const struct vdp_pu *pu = vdp_topology_find_pu (t, (unsigned) g_array_index (pt->pus, int, 0));
    if (pu && pu->core >= 0)
      l3 = t->cores[pu->core].l3;
  }
  vdp_inventory_pinnable (inv, n, avail);
  hwloc_bitmap_andnot (avail, avail, held);
  for (int pass = 0; pass < 2 && have < want; pass++)
    for (size_t c = 0; c < t->n_cores && have < want; c++) {
      const struct vdp_core *core = &t->cores[c];
      if (core->node != (int) t->nodes[n].id || (pass == 0) != (core->l3 == l3))
        continue;
      hwloc_bitmap_and (x, core->pus, inv->lim.usable);
      if (hwloc_bitmap_iszero (x) || !hwloc_bitmap_isincluded (x, avail))
        continue;   /* whole free cores only */
      hwloc_bitmap_or (held, held, x);
      hwloc_bitmap_or (own, own, x);
      have += (unsigned) hwloc_bitmap_weight (x);
    }
  if (hwloc_bitmap_isequal (held, pt->held) || !room (inv, n, held, 0, 0, 0, 0))
    return;   /* none to spare: the node's pool, and the plan says so */
  hwloc_bitmap_copy (pt->held, held);
  hwloc_bitmap_copy (pt->own, own);
}

/* Tries the guest's @vcpus vCPUs (its memory @kib) on node @n alone, into
 * @pt; returns 0 when they do not fit, 1 when the vCPUs fit but not the
 * memory, 2 when vCPUs and memory fit but not all IOThreads, 3 when
 * everything fits. */
static int
try_node (const struct vdp_inventory *inv, const struct guest *g, size_t n, struct part *pt,
          struct vdp_slot *io, unsigned *n_io, struct vdp_slot *emu, gboolean want_low)
{
  int level;

  part_init (pt, n, g->vcpus);
  pt->kib = g->kib;
  if (g->dedicated) {
    if (!pick_dedicated (inv, g, n, g->vcpus, pt) || !room (inv, n, pt->held, 0, 0, 0, 0))
      return 0;
    reserve_io_cores (inv, g, n, pt);
  } else {
    /* other shared guests float over the same PUs: they do not count */
    if (region_after (inv, n, NULL) < MAX (g->vcpus, 2))
      return 0;
  }
  if (!mem_ok (inv, g, n, g->kib) && !want_low)
    return 1;   /* not a node for it: its threads need no placing */
  level = place_threads (inv, g, pt, 1, io, n_io, emu);
  if (level == 0)
    return 0;
  if (!mem_ok (inv, g, n, g->kib))
    return 1;
  return level + 1;
}

/* The order nodes are tried in (rule 1, then NUMA distance, then load),
 * as node positions; *top is the disks' node or -1. */
static size_t *
node_order (const struct vdp_inventory *inv, const struct guest *g, int *top, unsigned *votes_out,
            unsigned *total_votes)
{
  const struct vdp_topology *t = inv->topo;
  size_t *order = g_new0 (size_t, inv->n_nodes + 1);
  unsigned *votes = votes_out;
  double *load = g_new0 (double, inv->n_nodes + 1);

  *top = -1;
  *total_votes = 0;
  for (unsigned i = 0; g->in->hints && i < g->d->n_disks; i++) {
    int p;
    if (g->in->hints[i].node < 0 || strcmp (g->d->disks[i].device, "cdrom") == 0)
      continue;
    p = vdp_inventory_node_pos (inv, (unsigned) g->in->hints[i].node);
    if (p < 0)
      continue;
    votes[p]++;
    (*total_votes)++;
    if (*top < 0 || votes[p] > votes[*top] || (votes[p] == votes[*top] && p < *top))
      *top = p;
  }
  for (size_t n = 0; n < inv->n_nodes; n++) {
    order[n] = n;
    load[n] = vdp_inventory_load (inv, n);
  }
  /* insertion sort: few nodes */
  for (size_t i = 1; i < inv->n_nodes; i++)
    for (size_t j = i; j > 0; j--) {
      size_t a = order[j - 1], b = order[j];
      gboolean swap;
      if (votes[a] != votes[b])
        swap = votes[b] > votes[a];
      else if (*top >= 0 && vdp_topology_distance (t, (size_t) *top, a)
               != vdp_topology_distance (t, (size_t) *top, b))
        swap = vdp_topology_distance (t, (size_t) *top, b) < vdp_topology_distance (t, (size_t) *top, a);
      else if (load[a] != load[b])
        swap = load[b] < load[a];
      else if (vdp_inventory_mem_free (inv, a) != vdp_inventory_mem_free (inv, b))
        swap = vdp_inventory_mem_free (inv, b) > vdp_inventory_mem_free (inv, a);
      else
        swap = FALSE;
      if (!swap)
        break;
      order[j - 1] = b;
      order[j] = a;
    }
  g_free (load);
  return order;
}

/* vCPUs node @n can take for the guest (PUs or whole cores, keeping the
 * node's floating sets room); a trial pick of that many into @pt when
 * @pt is not NULL. */
static unsigned
node_vcpu_cap (const struct vdp_inventory *inv, const struct guest *g, size_t n)
{
  if (!g->dedicated) {
    unsigned region = region_after (inv, n, NULL);
    return region >= 2 ? region : 0;
  }
  {
    g_auto (VdpBitmap) avail = hwloc_bitmap_alloc ();
    unsigned hi;
    vdp_inventory_pinnable (inv, n, avail);
    hi = (unsigned) hwloc_bitmap_weight (avail);
    for (unsigned k = hi; k > 0; k--) {
      struct part pt;
      gboolean ok;
      part_init (&pt, n, k);
      ok = pick_dedicated (inv, g, n, k, &pt) && room (inv, n, pt.held, 0, 0, 0, 0);
      part_clear (&pt);
      if (ok)
        return k;
    }
    return 0;
  }
}

static const char *
mib (guint64 kib, char buf[32])
{
  if (kib == G_MAXUINT64)
    return "unknown";
  g_snprintf (buf, 32, "%" G_GUINT64_FORMAT " MiB", kib / 1024);
  return buf;
}

/* Fills the misfit record from the best offers of the nodes. */
static void
misfit (const struct vdp_inventory *inv, const struct guest *g, const char *why)
{
  struct vdp_misfit *m = &g->dp->misfit;
  guint64 host_kib = 0;
  gboolean known = TRUE;

  m->what = g_strdup_printf ("%u %s vCPU%s%s", g->vcpus,
                             g->dedicated ? "dedicated" : "shared", g->vcpus == 1 ? "" : "s",
                             g->dedicated && g->isolate ? " (a whole core each, smt=isolate)" : "");
  m->need_pus = g->vcpus;
  m->need_kib = g->mem == VDP_MEMORY_NONE ? 0 : g->kib;
  m->best_node = -1;
  for (size_t n = 0; n < inv->n_nodes; n++) {
    unsigned cap = node_vcpu_cap (inv, g, n);
    guint64 kib = vdp_inventory_mem_free (inv, n);
    m->host_pus += cap;
    /* the host's memory the guest could use: on nodes where its vCPUs
     * can run (never a CPU-less node's, as the reasons count it) */
    if (cap == 0)
      ;
    else if (kib == G_MAXUINT64)
      known = FALSE;
    else
      host_kib += kib;
    if (m->best_node < 0 || cap > m->best_pus || (cap == m->best_pus && kib > m->best_kib)) {
      m->best_node = (int) inv->topo->nodes[n].id;
      m->best_pus = cap;
      m->best_kib = kib;
    }
  }
  m->host_kib = known ? host_kib : G_MAXUINT64;
  m->why = g_strdup (why);
}

/* ---- committing ---------------------------------------------------------- */

static void
commit (struct vdp_inventory *inv, const struct guest *g, struct part *parts, unsigned n_parts,
        struct vdp_fit *f)
{
  double share = 1.0 / MAX (g->p->pool_share, 1);
  g_autofree unsigned *io_on = g_new0 (unsigned, inv->n_nodes + 1);

  if (g->dedicated && !g->isolate) {
    /* smt=prefer: a split core's sibling stays the guest's only when one
     * of its IOThreads runs there */
    g_auto (VdpBitmap) used = hwloc_bitmap_alloc ();
    for (unsigned i = 0; i < f->n_io; i++)
      if (f->io[i].kind == VDP_SLOT_OWN)
        hwloc_bitmap_set (used, (unsigned) f->io[i].pu);
    for (unsigned s = 0; s < n_parts; s++) {
      hwloc_bitmap_andnot (parts[s].own, parts[s].own, used);
      hwloc_bitmap_andnot (parts[s].held, parts[s].held, parts[s].own);
      hwloc_bitmap_andnot (f->held, f->held, parts[s].own);
      hwloc_bitmap_andnot (f->own, f->own, parts[s].own);
    }
  }
  for (unsigned s = 0; s < n_parts; s++) {
    struct vdp_node_state *ns = &inv->nodes[parts[s].n];
    hwloc_bitmap_or (inv->held, inv->held, parts[s].held);
    if (!g->dedicated) {
      /* its floating set keeps at least as many PUs as it has there */
      ns->shared_vcpus += parts[s].vcpus;
      ns->shared_min = MAX (ns->shared_min, MIN (parts[s].vcpus, region_after (inv, parts[s].n, NULL)));
    }
    if (g->mem == VDP_MEMORY_NONE) {
      ns->loose_kib += parts[s].kib;
    } else {
      ns->bound_kib += parts[s].kib;
    }
  }
  for (unsigned i = 0; i < f->n_io; i++)
    if (f->io[i].kind == VDP_SLOT_POOL) {
      struct vdp_node_state *ns = &inv->nodes[f->io[i].node];
      ns->pool_iothreads++;
      ns->pool_load += share;
      io_on[f->io[i].node]++;
    }
  for (size_t n = 0; n < inv->n_nodes; n++)
    inv->nodes[n].pool_max_guest = MAX (inv->nodes[n].pool_max_guest, io_on[n]);
  if (f->emu.kind == VDP_SLOT_POOL) {
    struct vdp_node_state *ns = &inv->nodes[f->emu.node];
    ns->pool_emulators++;
    io_on[f->emu.node]++;
    /* iothread_cpus=shared: its IOThreads run there with the emulator */
    for (unsigned i = 0; g->io_with_emulator && i < f->n_io; i++)
      if (f->io[i].kind == VDP_SLOT_WITH_EMULATOR) {
        ns->pool_iothreads++;
        ns->pool_load += share;
      }
  }
  /* the pools it uses are chosen now: later guests pin around them */
  for (size_t n = 0; n < inv->n_nodes; n++)
    if (io_on[n])
      vdp_inventory_grow_pool (inv, n);
  if (f->io_short)
    for (unsigned s = 0; s < n_parts; s++)
      inv->nodes[parts[s].n].io_short = TRUE;
  inv->total_vcpus += g->vcpus;
  inv->total_kib += g->kib;
}

/* Fills @f from the chosen parts. */
static void
record (const struct guest *g, struct part *parts, unsigned n_parts, struct vdp_fit *f,
        const unsigned *vcpu_part)
{
  g_autofree unsigned *next = g_new0 (unsigned, n_parts);

  f->placed = TRUE;
  f->n_span = n_parts;
  f->span = g_new0 (size_t, n_parts);
  f->span_vcpus = g_new0 (unsigned, n_parts);
  f->span_kib = g_new0 (guint64, n_parts);
  f->vcpu_span = g_new0 (unsigned, MAX (g->vcpus, 1));
  f->vcpu_pu = g_new0 (int, MAX (g->vcpus, 1));
  f->held = hwloc_bitmap_alloc ();
  f->own = hwloc_bitmap_alloc ();
  f->memory = g->mem;
  for (unsigned s = 0; s < n_parts; s++) {
    f->span[s] = parts[s].n;
    f->span_vcpus[s] = parts[s].vcpus;
    f->span_kib[s] = parts[s].kib;
    hwloc_bitmap_or (f->held, f->held, parts[s].held);
    hwloc_bitmap_or (f->own, f->own, parts[s].own);
  }
  /* the guest's cells hold its memory; QEMU's own goes with the first */
  f->span_kib[0] -= MIN (f->span_kib[0], g->overhead);
  for (unsigned v = 0; v < g->vcpus; v++) {
    unsigned s = vcpu_part ? vcpu_part[v] : 0;
    f->vcpu_span[v] = s;
    f->vcpu_pu[v] = g->dedicated ? g_array_index (parts[s].pus, int, next[s]++) : -1;
  }
}

/* ---- reasons ------------------------------------------------------------- */

static void
explain_vcpus (const struct vdp_inventory *inv, const struct guest *g, const struct vdp_fit *f)
{
  const struct vdp_topology *t = inv->topo;

  for (unsigned s = 0; s < f->n_span; s++) {
    g_auto (VdpBitmap) pus = hwloc_bitmap_alloc ();
    g_autofree char *set = NULL, *which = NULL;
    unsigned first = G_MAXUINT, last = 0, count = 0;

    for (unsigned v = 0; v < g->vcpus; v++)
      if (f->vcpu_span[v] == s) {
        first = MIN (first, v);
        last = v;
        count++;
        if (f->vcpu_pu[v] >= 0)
          hwloc_bitmap_set (pus, (unsigned) f->vcpu_pu[v]);
      }
    if (count == 0)
      continue;
    which = count == 1 ? g_strdup_printf ("vCPU %u", first)
            : count == last - first + 1 ? g_strdup_printf ("vCPUs %u-%u", first, last)
            : g_strdup_printf ("%u vCPUs", count);
    if (g->dedicated) {
      /* whether any of those cores has a sibling to speak of */
      gboolean smt = FALSE;
      for (int pu = hwloc_bitmap_first (pus); pu >= 0 && !smt; pu = hwloc_bitmap_next (pus, pu)) {
        const struct vdp_pu *p = vdp_topology_find_pu (t, (unsigned) pu);
        smt = p && hwloc_bitmap_weight (t->cores[p->core].pus) > 1;
      }
      set = vdp_cpuset_format (pus);
      vdp_domain_plan_reason (g->dp, 2, "vcpus",
                              "%s pinned 1:1 to PUs %s on node %u (whole cores first, isolated "
                              "PUs first; %s)", which, set, t->nodes[f->span[s]].id,
                              !smt ? "cores without SMT siblings"
                              : g->isolate ? "smt=isolate: their SMT siblings stay the guest's"
                              : "smt=prefer: SMT siblings used");
    }
  }
}

static void
explain_home (const struct vdp_inventory *inv, const struct guest *g, int top, unsigned votes,
              unsigned total_votes, size_t home, int level, int top_level)
{
  const struct vdp_topology *t = inv->topo;
  const char *extra = level == 2 ? "; no node has room for all its IOThreads apart from the vCPUs"
                      : level == 1 ? "; its memory does not fit there (memory preferred)" : "";
  const char *lack = top_level == 2 ? "has no room for its IOThreads apart from the vCPUs"
                     : top_level == 1 ? "has no room for its memory" : "cannot hold the guest";

  if (top >= 0 && (size_t) top == home)
    vdp_domain_plan_reason (g->dp, 1, "domain",
                            "home node %u: %u of %u disks with known locality are local to it%s",
                            t->nodes[home].id, votes, total_votes, extra);
  else if (top >= 0)
    vdp_domain_plan_reason (g->dp, 1, "domain",
                            "home node %u: the disks' node %u %s; node %u is "
                            "the nearest that can (distance %u)%s", t->nodes[home].id,
                            t->nodes[top].id, lack, t->nodes[home].id,
                            vdp_topology_distance (t, (size_t) top, home), extra);
  else
    vdp_domain_plan_reason (g->dp, 1, "domain",
                            "home node %u: no disk locality known; the least loaded node that "
                            "holds the guest%s", t->nodes[home].id, extra);
}

/* ---- spanning ------------------------------------------------------------ */

/* A guest over several nodes gets an IOThread on each of them, as far as
 * its devices can use them: @g with more IOThreads when it needs them
 * (the caller frees *pref). */
static struct guest
per_node_io (const struct guest *g, unsigned n_parts, int **pref)
{
  struct guest x = *g;
  unsigned want = MIN (n_parts, g->io_cap);

  *pref = NULL;
  if (g->n_io == 0 || want <= g->n_io || g->io_with_emulator)
    return x;
  *pref = g_new (int, want);
  for (unsigned k = 0; k < want; k++)
    (*pref)[k] = g->io_pref && k < g->n_io ? g->io_pref[k] : -1;
  x.io_pref = *pref;
  vdp_domain_plan_reason (g->dp, 3, "iothreads", "%u IOThreads: one on each of the %u nodes "
                          "it spans", want, n_parts);
  x.n_io = want;
  return x;
}



/* Splits the guest's memory over @parts in proportion to their vCPUs,
 * none over what its node has free, QEMU's own with the first part; whole
 * MiB except for the last part.  FALSE when they cannot hold it. */
static gboolean
split_memory (const struct vdp_inventory *inv, const struct guest *g, struct part *parts,
              unsigned n_parts)
{
  guint64 left = g->kib;

  /* the guest's memory in proportion; QEMU's own with the first part,
   * whose node becomes guest cell 0 */
  for (unsigned s = 0; s < n_parts; s++) {
    parts[s].kib = s + 1 == n_parts ? 0
                   : ((g->kib - g->overhead) * parts[s].vcpus / MAX (g->vcpus, 1)) / 1024 * 1024
                     + (s == 0 ? g->overhead : 0);
    if (g->mem != VDP_MEMORY_NONE)
      parts[s].kib = MIN (parts[s].kib, vdp_inventory_mem_free (inv, parts[s].n) / 1024 * 1024);
    left -= MIN (left, parts[s].kib);
  }
  /* what is left goes where there is room, the last part first */
  for (unsigned k = n_parts; k-- > 0 && left > 0;) {
    guint64 free_kib = g->mem == VDP_MEMORY_NONE ? G_MAXUINT64
                       : vdp_inventory_mem_free (inv, parts[k].n);
    guint64 room_kib = free_kib > parts[k].kib ? free_kib - parts[k].kib : 0;
    guint64 add = MIN (left, room_kib);
    if (k + 1 != n_parts)
      add = add / 1024 * 1024;
    parts[k].kib += add;
    left -= add;
  }
  /* less than a MiB left by the rounding: wherever there is room */
  for (unsigned k = 0; k < n_parts && left > 0; k++) {
    guint64 free_kib = g->mem == VDP_MEMORY_NONE ? G_MAXUINT64
                       : vdp_inventory_mem_free (inv, parts[k].n);
    guint64 add = MIN (left, free_kib > parts[k].kib ? free_kib - parts[k].kib : 0);
    parts[k].kib += add;
    left -= add;
  }
  if (left > 0)
    return FALSE;
  for (unsigned s = 0; s < n_parts; s++)
    if (parts[s].kib == 0)
      return FALSE;
  return TRUE;
}

/* Splits the guest's vCPUs over @parts in proportion to what each node
 * can give: the share of the guest it could hold alone (its vCPU room
 * @cap, and its free memory @mem when the memory is bound), each part at
 * least one vCPU and at most its room; largest remainders first.  FALSE
 * when no such split exists (the caller fills node by node). */
static gboolean
proportional_vcpus (const struct guest *g, struct part *parts, unsigned n_parts,
                    const unsigned *cap, const guint64 *mem, unsigned *vcpu_part)
{
  g_autofree double *w = g_new0 (double, n_parts);
  g_autofree double *rest = g_new0 (double, n_parts);
  unsigned unit = g->dedicated && g->p->smt == VDP_SMT_PREFER && g->vcpus % 2 == 0 ? 2 : 1;
  unsigned units = g->vcpus / unit, given = 0, v = 0;
  double sum = 0;

  for (unsigned s = 0; s < n_parts; s++) {
    size_t n = parts[s].n;
    w[s] = MIN (1.0, (double) cap[n] / g->vcpus);
    if (g->mem != VDP_MEMORY_NONE && mem[n] != G_MAXUINT64 && g->kib > 0)
      w[s] = MIN (w[s], (double) mem[n] / (double) g->kib);
    if (w[s] <= 0)
      return FALSE;
    sum += w[s];
  }
  for (unsigned s = 0; s < n_parts; s++) {
    double ideal = units * w[s] / sum;
    unsigned room = cap[parts[s].n] / unit;
    unsigned take = MIN ((unsigned) ideal, room);
    take = MAX (take, 1);
    if (take > room)
      return FALSE;
    parts[s].vcpus = take;
    rest[s] = ideal - take;
    given += take;
  }
  while (given > units) {
    /* the minimum of one each overshot: take back where most was given */
    int best = -1;
    for (unsigned s = 0; s < n_parts; s++)
      if (parts[s].vcpus > 1 && (best < 0 || rest[s] < rest[best]))
        best = (int) s;
    if (best < 0)
      return FALSE;
    parts[best].vcpus--;
    rest[best] += 1;
    given--;
  }
  while (given < units) {
    int best = -1;
    for (unsigned s = 0; s < n_parts; s++)
      if (parts[s].vcpus < cap[parts[s].n] / unit && (best < 0 || rest[s] > rest[best]))
        best = (int) s;
    if (best < 0)
      return FALSE;
    parts[best].vcpus++;
    rest[best] -= 1;
    given++;
  }
  for (unsigned s = 0; s < n_parts; s++) {
    parts[s].vcpus *= unit;
    for (unsigned k = 0; k < parts[s].vcpus; k++)
      vcpu_part[v++] = s;
  }
  return v == g->vcpus;
}

/* Whether @slots more nodes not @used, the biggest first, can bring @total
 * vCPUs and @kib free memory up to what the guest needs.  Each resource
 * is counted on its own biggest nodes: a bound, close enough to pick the
 * fewest nodes. */
static gboolean
can_complete (const struct vdp_inventory *inv, const struct guest *g, const unsigned *cap,
              const guint64 *mem, const gboolean *used, unsigned total, guint64 kib,
              gboolean strict_mem, unsigned slots)
{
  unsigned caps_small[64];
  guint64 mems_small[64];
  g_autofree unsigned *caps_big = inv->n_nodes > 64 ? g_new0 (unsigned, inv->n_nodes) : NULL;
  g_autofree guint64 *mems_big = inv->n_nodes > 64 ? g_new0 (guint64, inv->n_nodes) : NULL;
  unsigned *caps = caps_big ? caps_big : caps_small;
  guint64 *mems = mems_big ? mems_big : mems_small;
  unsigned m = 0;

  for (size_t n = 0; n < inv->n_nodes; n++)
    if (!used[n] && cap[n] > 0) {
      caps[m] = cap[n];
      mems[m++] = mem[n];
    }
  for (unsigned k = 0; k < slots && k < m; k++) {
    unsigned bc = k;
    unsigned bm = k;
    for (unsigned j = k + 1; j < m; j++) {
      if (caps[j] > caps[bc])
        bc = j;
      if (mems[j] > mems[bm])
        bm = j;
    }
    total += caps[bc];
    caps[bc] = caps[k];
    if (kib != G_MAXUINT64)
      kib = mems[bm] == G_MAXUINT64 ? G_MAXUINT64 : kib + mems[bm];
    mems[bm] = mems[k];
  }
  return total >= g->vcpus && (!strict_mem || kib == G_MAXUINT64 || kib >= g->kib);
}

/* The guest over several nodes: the home node and the nearest others,
 * each filled as far as it holds, whole cores first. */
static gboolean
fit_span (struct vdp_inventory *inv, const struct guest *g, const size_t *order,
          struct vdp_fit *f, GString *why)
{
  const struct vdp_topology *t = inv->topo;
  g_autofree unsigned *cap = g_new0 (unsigned, inv->n_nodes + 1);
  g_autofree gboolean *used = g_new0 (gboolean, inv->n_nodes + 1);
  g_autofree guint64 *mem = g_new0 (guint64, inv->n_nodes + 1);
  g_autofree struct part *parts = g_new0 (struct part, inv->n_nodes + 1);
  g_autofree unsigned *vcpu_part = g_new0 (unsigned, MAX (g->vcpus, 1));
  g_autofree struct vdp_slot *io = g_new0 (struct vdp_slot, MAX (g->n_io, 1));
  struct vdp_slot emu = { 0 };
  unsigned n_parts = 0, total = 0, n_io = 0, v = 0;
  guint64 kib = 0;
  gboolean mem_known = TRUE, ok = FALSE, unbound = FALSE;
  int home = -1, level;
  gboolean room_for_vcpus = FALSE;
  unsigned most = 0;
  guint64 most_kib = 0;

  for (size_t n = 0; n < inv->n_nodes; n++)
    mem[n] = vdp_inventory_mem_free (inv, n);   /* fixed while the span is chosen */
  if (!g->dedicated) {
    /* a shared guest spans the PUs no other vCPU floats over when there
     * are enough of them: overcommitted only when the host is */
    unsigned free_total = 0;
    for (size_t n = 0; n < inv->n_nodes; n++) {
      unsigned c = node_vcpu_cap (inv, g, n);
      cap[n] = c > inv->nodes[n].shared_vcpus ? c - inv->nodes[n].shared_vcpus : 0;
      free_total += cap[n];
    }
    if (free_total < g->vcpus)
      for (size_t n = 0; n < inv->n_nodes; n++)
        cap[n] = node_vcpu_cap (inv, g, n);
  }
  for (size_t i = 0; i < inv->n_nodes; i++) {
    size_t n = order[i];
    if (g->dedicated)
      cap[n] = node_vcpu_cap (inv, g, n);
    room_for_vcpus |= cap[n] > 0;
    if (g->mem == VDP_MEMORY_STRICT && vdp_inventory_mem_free (inv, n) < 64 * 1024)
      cap[n] = 0;   /* a guest cell there would have no memory to bind */
    if (home < 0 && cap[n] > 0 && (g->mem != VDP_MEMORY_STRICT || vdp_inventory_mem_free (inv, n) > 0))
      home = (int) n;
  }
  if (home < 0) {
    /* the binding constraint: memory when PUs were there */
    if (room_for_vcpus)
      g_string_append (why, "no node where its vCPUs could run has memory left to bind strict: "
                       "other guests' bindings and the host's reserve take it");
    else
      g_string_append (why, g->dedicated ? "no node has a PU left to pin a vCPU to"
                       : "no node has two PUs left for floating vCPUs");
    return FALSE;
  }
  {
    /* the fewest nodes first: the home is the first node in order (the
     * disks' node, then the nearest) with which that few can hold it */
    gboolean strict_mem = g->mem == VDP_MEMORY_STRICT;
    for (unsigned k = 1; k <= inv->n_nodes; k++) {
      int found = -1;
      for (size_t i = 0; i < inv->n_nodes && found < 0; i++) {
        size_t n = order[i];
        guint64 mem_n = vdp_inventory_mem_free (inv, n);
        if (cap[n] == 0)
          continue;
        used[n] = TRUE;
        if (can_complete (inv, g, cap, mem, used, cap[n], mem_n, strict_mem && mem_n != G_MAXUINT64,
                          k - 1))
          found = (int) n;
        used[n] = FALSE;
      }
      if (found >= 0) {
        home = found;
        break;
      }
    }
  }
  used[home] = TRUE;
  parts[n_parts++].n = (size_t) home;
  total = cap[home];
  kib = vdp_inventory_mem_free (inv, (size_t) home);
  mem_known = kib != G_MAXUINT64;
  {
    /* the fewest nodes that hold it, and of those the nearest: a node is
     * taken in order of distance only while the nodes left, biggest
     * first, can still complete the guest in the slots that remain */
    gboolean strict_mem = g->mem == VDP_MEMORY_STRICT && mem_known;
    unsigned slots = 0;
    for (unsigned k = 1; k < inv->n_nodes && slots == 0; k++)
      if (can_complete (inv, g, cap, mem, used, total, kib, strict_mem, k))
        slots = k;
    while (slots > 0 && (total < g->vcpus || (strict_mem && kib < g->kib))) {
      int next = -1;
      for (size_t n = 0; n < inv->n_nodes; n++) {
        unsigned dn, dbest;
        guint64 mem_n;
        if (used[n] || cap[n] == 0)
          continue;
        mem_n = vdp_inventory_mem_free (inv, n);
        used[n] = TRUE;
        if (!can_complete (inv, g, cap, mem, used, total + cap[n],
                           mem_n == G_MAXUINT64 ? G_MAXUINT64 : kib + mem_n, strict_mem, slots - 1)) {
          used[n] = FALSE;
          continue;
        }
        used[n] = FALSE;
        if (next < 0) {
          next = (int) n;
          continue;
        }
        dn = vdp_topology_distance (t, (size_t) home, n);
        dbest = vdp_topology_distance (t, (size_t) home, (size_t) next);
        /* the nearest, then the one giving most vCPUs, then the most
         * free memory */
        if (dn < dbest || (dn == dbest && cap[n] > cap[next])
            || (dn == dbest && cap[n] == cap[next] && mem[n] != G_MAXUINT64
                && mem[n] > mem[next]))
          next = (int) n;
      }
      if (next < 0)
        break;
      used[next] = TRUE;
      parts[n_parts++].n = (size_t) next;
      total += cap[next];
      if (mem_known && vdp_inventory_mem_free (inv, (size_t) next) != G_MAXUINT64)
        kib += vdp_inventory_mem_free (inv, (size_t) next);
      else
        mem_known = FALSE;
      slots--;
    }
  }
  /* short whatever the nodes: every node that has something (the rest is
   * reported, or overcommitted for shared guests) */
  while (total < g->vcpus || (g->mem == VDP_MEMORY_STRICT && mem_known && kib < g->kib)) {
    int next = -1;
    for (size_t n = 0; n < inv->n_nodes; n++)
      if (!used[n] && cap[n] > 0 && (next < 0 || vdp_topology_distance (t, (size_t) home, n)
                                     < vdp_topology_distance (t, (size_t) home, (size_t) next)))
        next = (int) n;
    if (next < 0)
      break;
    used[next] = TRUE;
    parts[n_parts++].n = (size_t) next;
    total += cap[next];
    if (mem_known && vdp_inventory_mem_free (inv, (size_t) next) != G_MAXUINT64)
      kib += vdp_inventory_mem_free (inv, (size_t) next);
    else
      mem_known = FALSE;
  }
  if (total < g->vcpus && g->dedicated) {
    g_string_append_printf (why, "the host has %u %s left for dedicated vCPUs", total,
                            g->isolate ? "whole cores" : "PUs");
    return FALSE;
  }
  if (g->mem == VDP_MEMORY_STRICT && mem_known && kib < g->kib) {
    char a[32], b[32];
    g_string_append_printf (why, "%s of memory to bind strict and the nodes where its vCPUs "
                            "can run have %s free for guests", mib (g->kib, a), mib (kib, b));
    return FALSE;
  }
  if (n_parts > g->vcpus) {
    g_string_append_printf (why, "its memory needs %u nodes and its %u vCPU%s can back only %u "
                            "guest NUMA cell%s", n_parts, g->vcpus, g->vcpus == 1 ? "" : "s",
                            g->vcpus, g->vcpus == 1 ? "" : "s");
    return FALSE;
  }

  /* vCPUs: in proportion to what each node can give (the share of the
   * guest it could hold alone: its vCPUs, and its free memory when the
   * memory is bound), within what it holds, at least one each, in whole
   * cores where the profile pairs vCPUs on SMT siblings; shared guests
   * beyond the host's PUs are spread by size */
  if (total >= g->vcpus && n_parts > 1
      && proportional_vcpus (g, parts, n_parts, cap, mem, vcpu_part)) {
    v = g->vcpus;
  }
  for (unsigned s = 0; v < g->vcpus && s < n_parts; s++) {
    unsigned left = g->vcpus - v, keep = n_parts - s - 1, take;
    take = MIN (cap[parts[s].n], left - MIN (left, keep));
    if (total < g->vcpus)   /* overcommitted shared guest */
      take = s + 1 == n_parts ? left
             : MAX (1, (unsigned) ((guint64) g->vcpus * cap[parts[s].n] / MAX (total, 1)));
    take = MAX (take, 1);
    take = MIN (take, left - MIN (left - 1, keep));
    parts[s].vcpus = take;
    for (unsigned k = 0; k < take; k++)
      vcpu_part[v++] = s;
  }
  while (v < g->vcpus) {
    parts[n_parts - 1].vcpus++;
    vcpu_part[v++] = n_parts - 1;
  }
  for (unsigned s = 0; s < n_parts; s++) {
    unsigned want = parts[s].vcpus;
    size_t n = parts[s].n;
    part_init (&parts[s], n, want);
    if (g->dedicated && (!pick_dedicated (inv, g, n, want, &parts[s])
                         || !room (inv, n, parts[s].held, 0, 0, 0, 0))) {
      g_string_append_printf (why, "node %u cannot hold its share of %u vCPUs", t->nodes[n].id,
                              want);
      goto out;
    }
  }
  if (!split_memory (inv, g, parts, n_parts)) {
    struct guest loose = *g;
    if (g->mem != VDP_MEMORY_PREFERRED) {
      g_string_append (why, "its memory cannot be split over the nodes that hold its vCPUs");
      goto out;
    }
    /* 'preferred': never refused for memory, left unbound instead */
    loose.mem = VDP_MEMORY_NONE;
    split_memory (inv, &loose, parts, n_parts);
    unbound = TRUE;
  }
  {
    g_autofree int *pref = NULL;
    struct guest more = per_node_io (g, n_parts, &pref);
    io = g_renew (struct vdp_slot, io, MAX (more.n_io, 1));
    level = place_threads (inv, &more, parts, n_parts, io, &n_io, &emu);
  }
  if (level == 0) {
    g_string_append (why, "no PU is left for its emulator thread");
    goto out;
  }
  /* what the nodes offered, before this guest takes its share */
  for (size_t n = 0; n < inv->n_nodes; n++) {
    most = MAX (most, cap[n]);
    most_kib = MAX (most_kib, mem[n]);
  }
  {
    struct guest as = *g;
    if (unbound)
      as.mem = VDP_MEMORY_NONE;
    record (&as, parts, n_parts, f, vcpu_part);
    f->unbound = unbound;
    f->n_io = n_io;
    f->io = g_steal_pointer (&io);
    f->emu = emu;
    f->io_short = n_io < g->n_io;
    commit (inv, &as, parts, n_parts, f);
  }
  {
    g_auto (VdpBitmap) nodes = hwloc_bitmap_alloc ();
    g_autofree char *s = NULL;
    g_autoptr (GString) what = g_string_new (NULL);
    char a[32], b[32];
    for (unsigned k = 0; k < n_parts; k++)
      hwloc_bitmap_set (nodes, t->nodes[parts[k].n].id);
    s = vdp_cpuset_format (nodes);
    for (unsigned k = 0; k < n_parts; k++) {
      g_string_append_printf (what, "%s%u vCPU%s and %s on node %u", k ? ", " : "",
                              parts[k].vcpus, parts[k].vcpus == 1 ? "" : "s",
                              mib (parts[k].kib, a), t->nodes[parts[k].n].id);
      if (parts[k].vcpus > cap[parts[k].n])
        g_string_append_printf (what, " (over the %u it has room for: overcommitted)",
                                cap[parts[k].n]);
    }
    char c[32];
    vdp_domain_plan_reason (g->dp, 8, "domain",
                            "spans nodes %s: no node holds %u vCPUs and %s (the most a node "
                            "offers: %u vCPU%s, %s); the fewest, nearest nodes hold it, %s: %s",
                            s, g->vcpus, mib (g->kib, b), most, most == 1 ? "" : "s",
                            mib (most_kib, c),
                            total >= g->vcpus ? "each a share in proportion to what it offers"
                            : "spread by size", what->str);
    if (total < g->vcpus)
      vdp_domain_plan_warn (g->dp, "%u vCPUs float over %u host PUs: overcommitted", g->vcpus,
                            total);
  }
  ok = TRUE;
out:
  for (unsigned s = 0; s < n_parts; s++)
    part_clear (&parts[s]);
  return ok;
}

/* ---- the guest's own NUMA cells ----------------------------------------- */

/* Each guest cell on one node (the nearest with room, largest cell first). */
static gboolean
fit_cells_as (struct vdp_inventory *inv, const struct guest *g, const size_t *order,
              struct vdp_fit *f, GString *why)
{
  const struct vdp_domain *d = g->d;
  const struct vdp_topology *t = inv->topo;
  g_autofree int *cell_node = g_new0 (int, d->n_cells);
  g_autofree unsigned *cell_vcpus = g_new0 (unsigned, d->n_cells);
  g_autofree unsigned *node_vcpus = g_new0 (unsigned, inv->n_nodes + 1);
  g_autofree guint64 *node_kib = g_new0 (guint64, inv->n_nodes + 1);
  g_autofree unsigned *cap = g_new0 (unsigned, inv->n_nodes + 1);
  g_autofree unsigned *idx = g_new0 (unsigned, d->n_cells);
  g_autofree int *part_of = g_new0 (int, inv->n_nodes + 1);
  g_autofree struct part *parts = g_new0 (struct part, d->n_cells + 1);
  g_autofree unsigned *vcpu_part = g_new0 (unsigned, MAX (g->vcpus, 1));
  g_autofree struct vdp_slot *io = g_new0 (struct vdp_slot, MAX (g->n_io, 1));
  g_autofree int *vcpu_cell = g_new0 (int, MAX (g->vcpus, 1));
  struct vdp_slot emu = { 0 };
  unsigned n_parts = 0, n_io = 0;
  size_t home = order[0];
  gboolean ok = FALSE;
  int level;

  for (unsigned v = 0; v < g->vcpus; v++)
    vcpu_cell[v] = -1;
  for (unsigned c = 0; c < d->n_cells; c++) {
    int v;
    idx[c] = c;
    if (d->cells[c].cpus)
      hwloc_bitmap_foreach_begin (v, d->cells[c].cpus)
        if ((unsigned) v < g->vcpus && vcpu_cell[v] < 0) {
          vcpu_cell[v] = (int) c;
          cell_vcpus[c]++;
        }
      hwloc_bitmap_foreach_end ();
  }
  for (unsigned v = 0; v < g->vcpus; v++)
    if (vcpu_cell[v] < 0) {
      vcpu_cell[v] = 0;   /* a vCPU in no cell goes with cell 0 */
      cell_vcpus[0]++;
    }
  for (size_t n = 0; n < inv->n_nodes; n++) {
    cap[n] = node_vcpu_cap (inv, g, n);
    part_of[n] = -1;
  }
  /* the largest cell first */
  for (unsigned i = 1; i < d->n_cells; i++)
    for (unsigned j = i; j > 0 && cell_vcpus[idx[j]] > cell_vcpus[idx[j - 1]]; j--) {
      unsigned x = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = x;
    }
  for (unsigned i = 0; i < d->n_cells; i++) {
    unsigned c = idx[i];
    int best = -1;
    for (size_t k = 0; k < inv->n_nodes; k++) {
      size_t n = order[k];
      unsigned dn, dbest;
      if ((g->overcommit ? cap[n] == 0 : node_vcpus[n] + cell_vcpus[c] > cap[n])
          || (g->mem != VDP_MEMORY_NONE
              && node_kib[n] + d->cells[c].memory_kib + (c == 0 ? g->overhead : 0)
                 > vdp_inventory_mem_free (inv, n)))
        continue;
      if (best < 0) {
        best = (int) n;
        continue;
      }
      dn = vdp_topology_distance (t, home, n);
      dbest = vdp_topology_distance (t, home, (size_t) best);
      if (node_vcpus[n] > 0 && node_vcpus[best] == 0 && dn <= dbest)
        best = (int) n;    /* fill a node already used before another */
      else if (dn < dbest && !(node_vcpus[best] > 0 && node_vcpus[n] == 0))
        best = (int) n;
    }
    if (best < 0) {
      char a[32];
      g_string_append_printf (why, "guest cell %u (%u vCPUs, %s) fits no node", d->cells[c].id,
                              cell_vcpus[c], mib (d->cells[c].memory_kib, a));
      return FALSE;
    }
    if (i == 0)
      home = (size_t) best;
    cell_node[c] = best;
    node_vcpus[best] += cell_vcpus[c];
    node_kib[best] += d->cells[c].memory_kib + (c == 0 ? g->overhead : 0);
  }
  /* parts in the order of the cells, home first */
  for (unsigned i = 0; i < d->n_cells; i++) {
    int n = cell_node[idx[i]];
    if (part_of[n] >= 0)
      continue;
    part_of[n] = (int) n_parts;
    part_init (&parts[n_parts], (size_t) n, node_vcpus[n]);
    parts[n_parts].kib = node_kib[n];
    if (g->dedicated && (!pick_dedicated (inv, g, (size_t) n, node_vcpus[n], &parts[n_parts])
                         || !room (inv, (size_t) n, parts[n_parts].held, 0, 0, 0, 0))) {
      g_string_append_printf (why, "node %u cannot hold its cells' %u vCPUs", t->nodes[n].id,
                              node_vcpus[n]);
      n_parts++;
      goto out;
    }
    n_parts++;
  }
  for (unsigned v = 0; v < g->vcpus; v++)
    vcpu_part[v] = (unsigned) part_of[cell_node[vcpu_cell[v]]];
  {
    g_autofree int *pref = NULL;
    struct guest more = per_node_io (g, n_parts, &pref);
    io = g_renew (struct vdp_slot, io, MAX (more.n_io, 1));
    level = place_threads (inv, &more, parts, n_parts, io, &n_io, &emu);
  }
  if (level == 0) {
    g_string_append (why, "no PU is left for its emulator thread");
    goto out;
  }
  record (g, parts, n_parts, f, vcpu_part);
  f->cells_own = TRUE;
  f->cell_span = g_new0 (unsigned, d->n_cells);
  for (unsigned c = 0; c < d->n_cells; c++)
    f->cell_span[c] = (unsigned) part_of[cell_node[c]];
  f->n_io = n_io;
  f->io = g_steal_pointer (&io);
  f->emu = emu;
  f->io_short = n_io < g->n_io;
  commit (inv, g, parts, n_parts, f);
  if (n_parts > 1) {
    g_auto (VdpBitmap) nodes = hwloc_bitmap_alloc ();
    g_autofree char *s = NULL;
    for (unsigned k = 0; k < n_parts; k++)
      hwloc_bitmap_set (nodes, t->nodes[parts[k].n].id);
    s = vdp_cpuset_format (nodes);
    vdp_domain_plan_reason (g->dp, 8, "domain",
                            "spans nodes %s: no node holds the whole guest; each of its %u "
                            "NUMA cells is on one node, the nearest with room", s, d->n_cells);
  }
  ok = TRUE;
out:
  for (unsigned s = 0; s < n_parts; s++)
    part_clear (&parts[s]);
  return ok;
}

static gboolean
fit_cells (struct vdp_inventory *inv, const struct guest *g, const size_t *order,
           struct vdp_fit *f, GString *why)
{
  if (g->mem == VDP_MEMORY_PREFERRED) {
    /* 'preferred' is never refused for memory: left unbound instead */
    struct guest loose = *g;
    g_autoptr (GString) ignored = g_string_new (NULL);
    if (fit_cells_as (inv, g, order, f, ignored))
      return TRUE;
    loose.mem = VDP_MEMORY_NONE;
    if (!fit_cells_as (inv, &loose, order, f, why))
      return FALSE;
    f->unbound = TRUE;
    return TRUE;
  }
  if (fit_cells_as (inv, g, order, f, why))
    return TRUE;
  if (!g->dedicated) {
    /* shared vCPUs may outnumber a node's PUs: with a warning */
    struct guest over = *g;
    over.overcommit = TRUE;
    g_string_truncate (why, 0);
    if (fit_cells_as (inv, &over, order, f, why)) {
      vdp_domain_plan_warn (g->dp, "a guest cell's vCPUs outnumber its node's PUs: overcommitted");
      return TRUE;
    }
  }
  return FALSE;
}

/* ---- the entry point ----------------------------------------------------- */

gboolean
vdp_fit_guest (struct vdp_inventory *inv, const struct vdp_plan_input *in,
               struct vdp_domain_plan *dp, unsigned n_io, const int *io_pref,
               unsigned io_cap, struct vdp_fit *out)
{
  const struct vdp_policy *p = dp->policy;
  struct guest g = {
    .d = in->dom, .p = p, .in = in, .dp = dp,
    .dedicated = p->placement == VDP_PLACEMENT_DEDICATED,
    .isolate = p->smt == VDP_SMT_ISOLATE,
    .io_with_emulator = p->iothread_cpus == VDP_IOCPUS_SHARED,
    .vcpus = in->dom->vcpus,
    .kib = in->dom->memory_kib + vdp_memory_overhead_kib (in->dom),
    .overhead = vdp_memory_overhead_kib (in->dom), .mem = p->memory, .n_io = n_io, .io_pref = io_pref, .io_cap = io_cap,
  };
  g_autofree unsigned *votes = g_new0 (unsigned, inv->n_nodes + 1);
  g_autofree size_t *order = NULL;
  g_autofree struct vdp_slot *io = g_new0 (struct vdp_slot, MAX (n_io, 1));
  g_autofree struct vdp_slot *best_io = g_new0 (struct vdp_slot, MAX (n_io, 1));
  g_autoptr (GString) why = g_string_new (NULL);
  struct part best = { 0 };
  struct vdp_slot emu, best_emu = { 0 };
  unsigned total_votes = 0, got_io = 0, best_n_io = 0;
  int top, best_level = 0, floor_level, top_level = 0;
  gboolean over_estimate = FALSE;

  memset (out, 0, sizeof (*out));
  order = node_order (inv, &g, &top, votes, &total_votes);
  /* strict memory must fit; otherwise the vCPUs alone decide */
  floor_level = g.mem == VDP_MEMORY_STRICT ? 2 : 1;

  /* pass 1: the memory of unbound guests expected on a node is an
   * estimate (the kernel puts it where it can); it decides between nodes,
   * but a guest whose strict memory fits a node but for it is bound there
   * rather than split over nodes (the node's overcommit is warned of) */
  for (int pass = 0; pass < 2 && best_level < floor_level; pass++) {
    if (pass == 1) {
      gboolean loose = FALSE;
      for (size_t n = 0; n < inv->n_nodes; n++)
        loose |= inv->nodes[n].loose_kib > 0;
      if (!loose || g.mem != VDP_MEMORY_STRICT)
        break;
      inv->ignore_loose = TRUE;
    }
    for (size_t i = 0; i < inv->n_nodes && best_level < 3; i++) {
      struct part pt = { 0 };
      /* a node without room for the memory is worth its threads only for
       * memory that need not fit, when no node did better */
      int level = try_node (inv, &g, order[i], &pt, io, &got_io, &emu,
                            g.mem != VDP_MEMORY_STRICT && best_level < 1);
      if ((int) order[i] == top && pass == 0)
        top_level = level;
      if (level > best_level && (pass == 0 || level >= floor_level)) {
        part_clear (&best);
        best = pt;
        best_level = level;
        best_n_io = got_io;
        best_emu = emu;
        memcpy (best_io, io, sizeof (struct vdp_slot) * MAX (n_io, 1));
        over_estimate = pass == 1;
      } else {
        part_clear (&pt);
      }
    }
    inv->ignore_loose = FALSE;
  }
  if (best_level >= floor_level) {
    g_autofree unsigned *vcpu_part = g_new0 (unsigned, MAX (g.vcpus, 1));
    if (best_level == 1 && g.mem == VDP_MEMORY_PREFERRED) {
      /* 'preferred' on a node without room would take the memory of the
       * guests bound strict there: no binding, the kernel allocates where
       * the vCPUs run */
      g.mem = VDP_MEMORY_NONE;
      out->unbound = TRUE;
    }
    record (&g, &best, 1, out, vcpu_part);
    out->unbound = g.mem != p->memory;
    out->n_io = best_n_io;
    out->io = g_steal_pointer (&best_io);
    out->emu = best_emu;
    out->io_short = best_n_io < n_io;
    if (g.d->n_cells) {
      out->cells_own = TRUE;
      out->cell_span = g_new0 (unsigned, g.d->n_cells);
    }
    explain_home (inv, &g, top, top >= 0 ? votes[top] : 0, total_votes, best.n, best_level,
                  top_level);
    if (over_estimate) {
      char a[32], b[32];
      vdp_domain_plan_reason (dp, 8, "memory",
                              "on node %u alone: its %s fit beside the memory bound there, not "
                              "beside the %s that unbound guests are estimated to use there too; "
                              "their memory is not bound, so the guest is not split for an "
                              "estimate", inv->topo->nodes[best.n].id, mib (g.kib, a),
                              mib (inv->nodes[best.n].loose_kib, b));
    }
    commit (inv, &g, &best, 1, out);
    explain_vcpus (inv, &g, out);
    part_clear (&best);
    return TRUE;
  }
  part_clear (&best);

  /* no node holds it: span the fewest, nearest nodes */
  if (g.d->n_cells ? fit_cells (inv, &g, order, out, why) : fit_span (inv, &g, order, out, why)) {
    explain_vcpus (inv, &g, out);
    return TRUE;
  }
  misfit (inv, &g, why->str);
  vdp_fit_clear (out);
  return FALSE;
}
