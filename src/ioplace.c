/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* I/O placement (DESIGN §4 rules 3-7): IOThread counts, pools sized from load, final pins, polling, queue maps. */
#include <config.h>

#include <string.h>

#include "ioplace.h"
#include "util/cleanup.h"
#include "util/cpuset.h"

const char *const vdp_locality_names[] = { "llc", "node", "remote", "unknown" };

/* ---- where a set lies ---------------------------------------------------- */

/* The first PU of @set, or NULL. */
static const struct vdp_pu *
first_pu (const struct vdp_topology *t, hwloc_const_bitmap_t set)
{
  int first;

  if (set == NULL || (first = hwloc_bitmap_first (set)) < 0)
    return NULL;
  return vdp_topology_find_pu (t, (unsigned) first);
}

static const struct vdp_node *
node_around (const struct vdp_topology *t, hwloc_const_bitmap_t set)
{
  const struct vdp_pu *pu = first_pu (t, set);
  const struct vdp_node *n = pu && pu->node >= 0 ? vdp_topology_find_node (t, (unsigned) pu->node)
                             : NULL;

  return n && hwloc_bitmap_isincluded (set, n->cpuset) ? n : NULL;
}

int
vdp_io_group_of (const struct vdp_topology *t, hwloc_const_bitmap_t set)
{
  const struct vdp_pu *pu = first_pu (t, set);

  if (pu == NULL || pu->l3 < 0 || !hwloc_bitmap_isincluded (set, t->l3[pu->l3].cpuset))
    return -1;
  return pu->l3;
}

int
vdp_io_node_of (const struct vdp_topology *t, hwloc_const_bitmap_t set)
{
  const struct vdp_node *n = node_around (t, set);

  return n ? (int) n->id : -1;
}

/* The union of the LLC groups @set touches. */
static void
groups_around (const struct vdp_topology *t, hwloc_const_bitmap_t set, hwloc_bitmap_t out)
{
  hwloc_bitmap_zero (out);
  for (size_t g = 0; g < t->n_l3; g++)
    if (hwloc_bitmap_intersects (t->l3[g].cpuset, set))
      hwloc_bitmap_or (out, out, t->l3[g].cpuset);
}

VdpLocality
vdp_io_locality (const struct vdp_topology *t, hwloc_const_bitmap_t vcpu, hwloc_const_bitmap_t io)
{
  const struct vdp_node *n;
  int g;

  if (vcpu == NULL || io == NULL || hwloc_bitmap_iszero (vcpu) || hwloc_bitmap_iszero (io))
    return VDP_LOCAL_UNKNOWN;
  /* LLC-local: the vCPU runs in one LLC group and the IOThread only there */
  g = vdp_io_group_of (t, vcpu);
  if (g >= 0 && hwloc_bitmap_isincluded (io, t->l3[g].cpuset))
    return VDP_LOCAL_LLC;
  n = node_around (t, vcpu);
  if (n && hwloc_bitmap_isincluded (io, n->cpuset))
    return VDP_LOCAL_NODE;
  return VDP_LOCAL_NONE;
}

/* ---- rule 3: how many IOThreads ------------------------------------------ */

/* The highest IOThread id settings virt-dataplane does not own use. */
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

/* Queues of a device: its own explicit count unless --force, else the
 * profile's, else one per vCPU. */
static unsigned
device_queues (const struct vdp_domain_plan *dp, unsigned explicit_queues)
{
  if (explicit_queues && !dp->policy->override)
    return explicit_queues;
  return dp->policy->queues ? dp->policy->queues : dp->dom->vcpus;
}

unsigned
vdp_io_count (struct vdp_domain_plan *dp, const struct vdp_plan_input *in,
              const struct vdp_topology *topo, const struct vdp_caps *caps, int **io_pref,
              unsigned *io_cap)
{
  const struct vdp_domain *d = dp->dom;
  const struct vdp_policy *p = dp->policy;
  unsigned capable = 0, single = 0, max_queues = 0, n, reserved = reserved_iothread_ids (d);
  unsigned served = 0, workers = 0, slots;
  gboolean any_mapped = FALSE;
  g_autofree int *pref = NULL;

  dp->n_iothreads = dp->n_io_slots = 0;
  for (unsigned i = 0; i < d->n_disks; i++)
    if (dp->disks[i].backend) {
      /* virt-dataplane-blk's: its worker threads need the I/O PUs an
       * IOThread would have had, and no IOThread */
      served++;
      max_queues = MAX (max_queues, device_queues (dp, 0));
    } else if (vdp_disk_iothread_capable (&d->disks[i])) {
      unsigned q = device_queues (dp, d->disks[i].queues_explicit);
      capable++;
      any_mapped |= caps->disk_mapping;
      single += !caps->disk_mapping;
      max_queues = MAX (max_queues, q);
    }
  for (unsigned i = 0; i < d->n_controllers; i++)
    if (vdp_controller_iothread_capable (&d->controllers[i])) {
      unsigned q = device_queues (dp, d->controllers[i].queues_explicit);
      capable++;
      any_mapped |= caps->scsi_mapping;
      single += !caps->scsi_mapping;
      max_queues = MAX (max_queues, q);
    }
  *io_pref = NULL;
  *io_cap = 0;
  if (capable + served == 0 && (d->iothreads == 0 || !dp->place)) {
    vdp_domain_plan_reason (dp, 3, "iothreads", "no virtio disk or virtio-scsi controller: "
                            "IOThreads left as they are");
    return 0;
  }
  if (capable + served == 0) {
    /* they serve nothing virt-dataplane sees, but must not float over
     * other guests' PUs: kept, pinned with the emulator */
    n = d->iothreads;
    vdp_domain_plan_reason (dp, 3, "iothreads", "no virtio disk or virtio-scsi controller: "
                            "its %u IOThread%s kept, pinned with its %s", n, n == 1 ? "" : "s",
                            dp->placement == VDP_PLACEMENT_DEDICATED ? "emulator" : "vCPUs");
    dp->set_iothreads = true;
    pref = g_new (int, n);
    for (unsigned k = 0; k < n; k++)
      pref[k] = VDP_IO_WITH_EMULATOR;
    *io_pref = g_steal_pointer (&pref);
    *io_cap = n;
    dp->n_iothreads = dp->n_io_slots = n;
    return n;
  }
  if (!dp->place && d->n_iothreadpin > 0 && !d->tuned_iothreadpin && d->iothreads > 0
      && !p->override) {
    n = MAX (d->iothreads, reserved);
    vdp_domain_plan_reason (dp, 3, "iothreads",
                            "%u IOThread%s kept: the domain pins its IOThreads itself", n,
                            n == 1 ? "" : "s");
    workers = served ? n : 0;
    if (capable > 0 && !any_mapped && single < n) {
      vdp_domain_plan_reason (dp, 3, "iothreads",
                              "%u IOThread%s: without virtqueue mapping on this stack each of "
                              "the %u device%s uses one", single, single == 1 ? "" : "s", single,
                              single == 1 ? "" : "s");
      n = single;
    }
  } else {
    /* the count, then each cap that applies, said once with the final
     * count */
    g_autoptr (GString) why = g_string_new (NULL);
    unsigned want;
    if (p->iothreads) {
      want = p->iothreads;
      g_string_append_printf (why, "fixed by the profile (iothreads=%u)", want);
    } else {
      want = CLAMP ((d->vcpus + 1) / 2, 1, p->iothreads_max);
      g_string_append_printf (why, "ceil(%u vCPUs / 2) clamped to 1..%u (iothreads_max)",
                              d->vcpus, p->iothreads_max);
      if (want > MIN (max_queues, capable > 0 && !any_mapped ? single : want))
        g_string_append_printf (why, " is %u", want);
    }
    n = want;
    if (n > max_queues) {
      n = max_queues;
      g_string_append_printf (why, ", capped at %u: no device has more queue%s", n,
                              n == 1 ? "" : "s");
    }
    workers = served ? n : 0;
    if (capable > 0 && !any_mapped && single < n) {
      /* without per-queue mapping each device takes one IOThread: more would idle */
      n = single;
      g_string_append_printf (why, ", capped at %u: without virtqueue mapping on this stack "
                              "each device uses one", n);
    }
    vdp_domain_plan_reason (dp, 3, "iothreads", "%u IOThread%s: %s; shared by the domain's %u "
                            "virtio device%s", n, n == 1 ? "" : "s", why->str, capable + served,
                            capable + served == 1 ? "" : "s");
  }
  /* virt-dataplane-blk maps queues to threads of its own: as many as the
   * IOThreads the guest would have had */
  if (capable == 0) {
    /* every virtio disk is the backend's: IOThreads the domain defines
     * are kept (something may name them) and share the workers' PUs */
    n = d->iothreads;
  }
  if (reserved > n) {
    vdp_domain_plan_reason (dp, 3, "iothreads",
                            "%u IOThreads kept: ids up to %u are used by settings "
                            "virt-dataplane does not own", reserved, reserved);
    n = reserved;
  }
  /* the first I/O placements are QEMU's IOThreads', the backend's worker
   * w runs on placement w */
  slots = MAX (n, workers);
  if (workers > n)
    vdp_domain_plan_reason (dp, 3, "iothreads", "virt-dataplane-blk's %u worker%s per disk "
                            "take%s the PUs of %u I/O placement%s; QEMU keeps %u IOThread%s",
                            workers, workers == 1 ? "" : "s", workers == 1 ? "s" : "", workers,
                            workers == 1 ? "" : "s", n, n == 1 ? "" : "s");
  dp->set_iothreads = capable > 0 || n > 0;
  dp->n_iothreads = n;
  dp->n_io_slots = slots;
  *io_cap = MAX (slots, any_mapped ? max_queues : single);
  if (served)
    *io_cap = MAX (*io_cap, max_queues);   /* a worker per queue at most */
  pref = g_new (int, MAX (slots, 1));
  for (unsigned k = 0; k < slots; k++)
    pref[k] = -1;
  if (!any_mapped && in->hints) {
    /* one device per IOThread: each on its disk's node (rule 4) */
    unsigned k = 0;
    for (unsigned i = 0; i < d->n_disks && k < n; i++) {
      int node;
      if (!vdp_disk_iothread_capable (&d->disks[i]) || dp->disks[i].backend)
        continue;
      node = in->hints[i].node;
      for (size_t x = 0; node >= 0 && x < topo->n_nodes; x++)
        if (topo->nodes[x].id == (unsigned) node)
          pref[k] = (int) x;
      k++;
    }
  }
  *io_pref = g_steal_pointer (&pref);
  return slots;
}

/* ---- the pools ----------------------------------------------------------- */

void
vdp_io_pools (struct vdp_inventory *inv, GPtrArray *warnings)
{
  for (size_t n = 0; n < inv->n_nodes; n++) {
    struct vdp_node_state *ns = &inv->nodes[n];
    unsigned need = vdp_inventory_pool_need (inv, n, 0, 0, 0);

    if (need == 0)
      continue;
    vdp_inventory_grow_pool (inv, n);
    if ((unsigned) hwloc_bitmap_weight (ns->pool) < 2)
      hwloc_bitmap_zero (ns->pool);    /* never a single PU shared by threads */
    if (ns->io_short || (unsigned) hwloc_bitmap_weight (ns->pool) < need) {
      ns->io_short = TRUE;
      if (warnings)
        g_ptr_array_add (warnings,
                         g_strdup_printf ("I/O capacity short on node %u: guests there got fewer "
                                          "IOThreads than wanted instead of stacking them (its "
                                          "I/O pool: %d PUs for %u IOThreads, at most %u PUs by "
                                          "pool_cap)", ns->id, hwloc_bitmap_weight (ns->pool),
                                          ns->pool_iothreads, ns->pool_cap));
    }
  }
}

/* ---- final pins ---------------------------------------------------------- */

/* The shared vCPU set of the guest on node position @n with @vcpus there. */
static int
shared_set (struct vdp_inventory *inv, size_t n, unsigned vcpus, hwloc_bitmap_t out)
{
  const struct vdp_topology *t = inv->topo;
  g_auto (VdpBitmap) all = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) x = hwloc_bitmap_alloc ();
  int best = -1;
  double best_load = 0;

  vdp_inventory_region (inv, n, all);
  hwloc_bitmap_andnot (out, all, inv->nodes[n].pool);
  if ((unsigned) hwloc_bitmap_weight (out) < MAX (vcpus, 2)) {
    hwloc_bitmap_copy (out, all);   /* it needs the node's pool PUs too */
    return -1;
  }
  /* a node of several LLC groups: the vCPUs float in one group that holds
   * them without overcommit, the least loaded, so that they share their
   * cache (and the emulator and IOThreads near them) */
  for (unsigned gi = 0; t->nodes[n].n_groups > 1 && gi < t->nodes[n].n_groups; gi++) {
    unsigned g = t->nodes[n].groups[gi], w;
    double load;
    hwloc_bitmap_and (x, out, t->l3[g].cpuset);
    w = (unsigned) hwloc_bitmap_weight (x);
    if (w < MAX (vcpus, 2) || inv->l3_vcpus[g] + vcpus > w)
      continue;
    load = (double) (inv->l3_vcpus[g] + vcpus) / w;
    if (best < 0 || load < best_load) {
      best = (int) g;
      best_load = load;
    }
  }
  if (best < 0)
    return -1;
  hwloc_bitmap_and (out, out, t->l3[best].cpuset);
  inv->l3_vcpus[best] += vcpus;
  return best;
}

/* @pool narrowed to the LLC groups of @near when that leaves @min PUs. */
static void
pool_near (const struct vdp_topology *t, hwloc_const_bitmap_t pool, hwloc_const_bitmap_t near,
           unsigned min, hwloc_bitmap_t out)
{
  g_auto (VdpBitmap) around = hwloc_bitmap_alloc ();

  groups_around (t, near, around);
  hwloc_bitmap_and (out, pool, around);
  if ((unsigned) hwloc_bitmap_weight (out) < MAX (min, 2))
    hwloc_bitmap_copy (out, pool);
}

/* Whether PU @pu shares a core with one of @dp's vCPU pins. */
static gboolean
sibling_of_vcpu (const struct vdp_topology *t, const struct vdp_domain_plan *dp, unsigned pu)
{
  const struct vdp_pu *p = vdp_topology_find_pu (t, pu);

  if (p == NULL || p->core < 0 || dp->vcpu_pins == NULL)
    return FALSE;
  for (unsigned v = 0; v < dp->n_vcpus; v++)
    if (dp->vcpu_pins[v] && hwloc_bitmap_intersects (dp->vcpu_pins[v], t->cores[p->core].pus))
      return TRUE;
  return FALSE;
}

static const char *
slot_why (VdpSlotKind kind, gboolean dedicated)
{
  switch (kind) {
  case VDP_SLOT_OWN:
    return "1:1 on an idle SMT sibling of the guest's own vCPU cores";
  case VDP_SLOT_POOL:
    return "the node's I/O pool, no vCPU on it";
  case VDP_SLOT_WITH_VCPUS:
    return "with the guest's vCPUs: no PU of the node was left to run it apart from them";
  case VDP_SLOT_WITH_EMULATOR:
    return dedicated ? "with the emulator (no room for an I/O pool)"
           : "with the emulator (iothread_cpus=shared)";
  default:
    return "";
  }
}

void
vdp_io_place (struct vdp_inventory *inv, const struct vdp_caps *caps,
              struct vdp_domain_plan *dp, const struct vdp_fit *f)
{
  const struct vdp_topology *t = inv->topo;
  const struct vdp_domain *d = dp->dom;
  const struct vdp_policy *p = dp->policy;
  gboolean dedicated = dp->placement == VDP_PLACEMENT_DEDICATED;
  g_autofree hwloc_bitmap_t *span_set = g_new0 (hwloc_bitmap_t, f->n_span);
  g_autofree int *span_l3 = g_new0 (int, f->n_span);
  g_auto (VdpBitmap) own = hwloc_bitmap_dup (f->own);
  g_auto (VdpBitmap) home_vcpus = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) granted = hwloc_bitmap_alloc ();
  size_t home = f->span[0];
  unsigned n_io = f->n_io;

  /* vCPUs */
  dp->vcpu_pins = g_new0 (hwloc_bitmap_t, d->vcpus);
  for (unsigned s = 0; s < f->n_span; s++) {
    span_set[s] = hwloc_bitmap_alloc ();
    span_l3[s] = -1;
    if (!dedicated)
      span_l3[s] = shared_set (inv, f->span[s], f->span_vcpus[s], span_set[s]);
  }
  for (unsigned v = 0; v < d->vcpus; v++) {
    unsigned s = f->vcpu_span[v];
    if (dedicated) {
      dp->vcpu_pins[v] = hwloc_bitmap_alloc ();
      hwloc_bitmap_only (dp->vcpu_pins[v], (unsigned) f->vcpu_pu[v]);
      hwloc_bitmap_or (span_set[s], span_set[s], dp->vcpu_pins[v]);
    } else {
      dp->vcpu_pins[v] = hwloc_bitmap_dup (span_set[s]);
    }
  }
  hwloc_bitmap_copy (home_vcpus, span_set[0]);
  for (unsigned s = 0; !dedicated && s < f->n_span; s++) {
    g_autofree char *set = vdp_cpuset_format (span_set[s]);
    unsigned first = G_MAXUINT, last = 0;
    for (unsigned v = 0; v < d->vcpus; v++)
      if (f->vcpu_span[v] == s) {
        first = MIN (first, v);
        last = v;
      }
    g_autofree char *which = first == last ? g_strdup_printf ("vCPU %u floats", first)
                             : g_strdup_printf ("vCPUs %u-%u float", first, last);
    vdp_domain_plan_reason (dp, 2, "vcpus",
                            "%s over node %u's PUs %s (shared placement; %s%s)", which,
                            t->nodes[f->span[s]].id,
                            set, hwloc_bitmap_intersects (span_set[s], inv->nodes[f->span[s]].pool)
                            ? "the guest needs the node's I/O pool PUs too"
                            : "the I/O pool, isolated PUs and PUs pinned 1:1 left out",
                            span_l3[s] >= 0 ? "; in one LLC group of the node, the least loaded "
                            "that holds them" : "");
    if (span_l3[s] >= 0 ? (unsigned) hwloc_bitmap_weight (span_set[s]) < inv->l3_vcpus[span_l3[s]]
        : (unsigned) hwloc_bitmap_weight (span_set[s]) < inv->nodes[f->span[s]].shared_vcpus) {
      dp->overcommitted = true;
    }
  }

  /* the emulator */
  dp->emulator_pin = hwloc_bitmap_alloc ();
  {
    const char *why;
    switch (f->emu.kind) {
    case VDP_SLOT_OWN_SET:
      for (unsigned k = 0; k < n_io; k++)
        if (f->io[k].kind == VDP_SLOT_OWN)
          hwloc_bitmap_clr (own, (unsigned) f->io[k].pu);
      hwloc_bitmap_andnot (dp->emulator_pin, own, inv->lim.isolated);
      hwloc_bitmap_and (dp->emulator_pin, dp->emulator_pin, t->nodes[home].cpuset);
      why = "the idle SMT siblings of its vCPU cores, which no other guest uses (smt=isolate)";
      if (!hwloc_bitmap_iszero (dp->emulator_pin))
        break;
      /* every idle sibling isolated: one of them, 1:1 */
      hwloc_bitmap_and (dp->emulator_pin, own, t->nodes[home].cpuset);
      if (!hwloc_bitmap_iszero (dp->emulator_pin)) {
        hwloc_bitmap_only (dp->emulator_pin, (unsigned) hwloc_bitmap_first (dp->emulator_pin));
        why = "an idle SMT sibling of its vCPU cores, which no other guest uses (smt=isolate); "
              "isolated, so 1:1";
        break;
      }
      G_GNUC_FALLTHROUGH;
    case VDP_SLOT_POOL:
      if (!hwloc_bitmap_iszero (inv->nodes[f->emu.node].pool)) {
        /* llc: two PUs of the pool next to the vCPUs; housekeeping: the
         * whole pool, wherever its LLC */
        if (p->emulator == VDP_EMULATOR_LLC)
          pool_near (t, inv->nodes[f->emu.node].pool, home_vcpus, 2, dp->emulator_pin);
        else
          hwloc_bitmap_copy (dp->emulator_pin, inv->nodes[f->emu.node].pool);
        why = (size_t) f->emu.node == home
              ? (p->emulator == VDP_EMULATOR_LLC ? "the home node's I/O pool, in the vCPUs' LLC "
                 "where it can be" : "the home node's housekeeping PUs (all of its I/O pool)")
              : "the nearest node's I/O pool: the home node has no PU left for it";
        break;
      }
      G_GNUC_FALLTHROUGH;
    default:
      if (dedicated) {
        /* no pool after all: the node's floating PUs */
        vdp_inventory_region (inv, home, dp->emulator_pin);
        why = "the home node's PUs no guest holds";
      } else {
        hwloc_bitmap_copy (dp->emulator_pin, span_set[0]);
        why = "with the vCPUs: no PU of the node was left to run it apart from them";
      }
      break;
    }
    {
      g_autofree char *s = vdp_cpuset_format (dp->emulator_pin);
      vdp_domain_plan_reason (dp, 7, "emulator", "emulator on PUs %s: %s", s, why);
    }
  }

  /* IOThreads, and the I/O placements of virt-dataplane-blk's workers */
  if (dp->set_iothreads || n_io > 0) {
    g_autofree const char **whys = g_new0 (const char *, MAX (n_io, 1));
    /* QEMU's IOThreads are the first placements; when it has them all,
     * it keeps them all however many the fit gave */
    unsigned qemu = dp->n_iothreads >= dp->n_io_slots ? n_io : MIN (dp->n_iothreads, n_io);
    dp->iothread_pins = g_new0 (hwloc_bitmap_t, MAX (n_io, 1));
    for (unsigned k = 0; k < n_io; k++) {
      const struct vdp_slot *sl = &f->io[k];
      hwloc_bitmap_t pin = hwloc_bitmap_alloc ();
      unsigned in_pool = 0;
      for (unsigned j = 0; j < n_io; j++)
        in_pool += f->io[j].kind == VDP_SLOT_POOL && f->io[j].node == sl->node;
      whys[k] = slot_why (sl->kind, dedicated);
      switch (sl->kind) {
      case VDP_SLOT_OWN:
        hwloc_bitmap_only (pin, (unsigned) sl->pu);
        if (!sibling_of_vcpu (t, dp, (unsigned) sl->pu))
          whys[k] = "1:1 on a core kept for the guest's I/O (no SMT sibling of its vCPU cores "
                    "idle; no vCPU or other guest on it)";
        break;
      case VDP_SLOT_POOL:
        if (!hwloc_bitmap_iszero (inv->nodes[sl->node].pool)) {
          pool_near (t, inv->nodes[sl->node].pool, sl->serves >= 0 ? span_set[sl->serves]
                     : home_vcpus, in_pool, pin);
          if (sl->serves < 0 && (size_t) sl->node != home)
            whys[k] = "the I/O pool of its disk's node (the guest's vCPUs are elsewhere)";
          break;
        }
        whys[k] = slot_why (dedicated ? VDP_SLOT_WITH_EMULATOR : VDP_SLOT_WITH_VCPUS, dedicated);
        hwloc_bitmap_copy (pin, dedicated ? dp->emulator_pin : span_set[0]);
        break;
      case VDP_SLOT_WITH_VCPUS:
        hwloc_bitmap_copy (pin, span_set[sl->serves >= 0 ? (unsigned) sl->serves : 0]);
        break;
      default:
        hwloc_bitmap_copy (pin, dp->emulator_pin);
        break;
      }
      dp->iothread_pins[k] = pin;
      hwloc_bitmap_or (granted, granted, pin);
    }
    /* never more IOThreads than PUs granted to them (hard constraint) */
    if ((unsigned) hwloc_bitmap_weight (granted) < n_io) {
      unsigned keep = MAX ((unsigned) hwloc_bitmap_weight (granted), 1);
      vdp_domain_plan_reason (dp, 3, "iothreads",
                              "%u I/O thread placement%s: only %u PU%s granted to them (never "
                              "stacked)", keep, keep == 1 ? "" : "s", keep,
                              keep == 1 ? " is" : "s are");
      for (unsigned k = keep; k < n_io; k++)
        hwloc_bitmap_free (dp->iothread_pins[k]);
      n_io = keep;
      qemu = MIN (qemu, n_io);
    } else if (f->io_short) {
      vdp_domain_plan_reason (dp, 3, "iothreads",
                              "%u IOThread%s: I/O capacity short on node %u, fewer IOThreads "
                              "instead of stacking them", n_io, n_io == 1 ? "" : "s",
                              t->nodes[home].id);
    }
    dp->n_iothreads = qemu;
    dp->n_io_slots = n_io;
    dp->iothread_l3 = g_new0 (int, MAX (n_io, 1));
    dp->iothread_node = g_new0 (int, MAX (n_io, 1));
    dp->poll_max = -1;
    for (unsigned k = 0; k < n_io; k++) {
      dp->iothread_l3[k] = vdp_io_group_of (t, dp->iothread_pins[k]);
      dp->iothread_node[k] = vdp_io_node_of (t, dp->iothread_pins[k]);
    }
    /* IOThreads that share PUs with other threads poll less (rule 4) */
    if (caps->iothread_poll && p->poll_shared >= 0)
      for (unsigned k = 0; k < qemu; k++) {
        const struct vdp_slot *sl = &f->io[k];
        gboolean shares = sl->kind == VDP_SLOT_WITH_VCPUS || sl->kind == VDP_SLOT_WITH_EMULATOR;
        if (sl->kind == VDP_SLOT_POOL)
          shares = inv->nodes[sl->node].pool_iothreads
                   > (unsigned) hwloc_bitmap_weight (dp->iothread_pins[k]);
        if (shares)
          dp->poll_max = p->poll_shared;
      }
    /* one reason per run of IOThreads (then of workers' placements)
     * placed alike */
    for (unsigned k = 0, start = 0; k < n_io; k++)
      if (k + 1 == n_io || k + 1 == qemu || whys[k + 1] != whys[start]
          || !hwloc_bitmap_isequal (dp->iothread_pins[k + 1], dp->iothread_pins[start])) {
        g_autofree char *s = vdp_cpuset_format (dp->iothread_pins[start]);
        g_autofree char *subject = NULL;
        if (start >= qemu) {
          subject = k == start ? g_strdup_printf ("worker %u", start)
                    : g_strdup_printf ("workers %u-%u", start, k);
          vdp_domain_plan_reason (dp, 4, subject, "virt-dataplane-blk worker%s %s on PUs %s: %s",
                                  k == start ? "" : "s", subject + 7 + (k != start), s,
                                  whys[start]);
        } else {
          subject = k == start ? g_strdup_printf ("iothread %u", start + 1)
                    : g_strdup_printf ("iothreads %u-%u", start + 1, k + 1);
          vdp_domain_plan_reason (dp, 4, subject, "%s %s on PUs %s: %s",
                                  k == start ? "IOThread" : "IOThreads",
                                  subject + 9 + (k != start), s, whys[start]);
        }
        start = k + 1;
      }
    {
      /* virt-dataplane-blk's worker w runs on placement w: the first
       * ones on QEMU's IOThreads' PUs */
      gboolean served = FALSE;
      for (unsigned i = 0; i < d->n_disks; i++)
        served |= dp->disks[i].backend;
      if (served && qemu > 0 && n_io > 0) {
        unsigned last = MIN (qemu, n_io) - 1;
        if (last == 0)
          vdp_domain_plan_reason (dp, 4, "worker 0", "virt-dataplane-blk worker 0 on the PUs of "
                                  "IOThread 1");
        else
          vdp_domain_plan_reason (dp, 4, "workers", "virt-dataplane-blk workers 0-%u on the PUs "
                                  "of IOThreads 1-%u", last, last + 1);
      }
    }
    if (dp->poll_max >= 0)
      vdp_domain_plan_reason (dp, 4, "iothreads",
                              "adaptive polling at most %d ns (<poll max>): its IOThreads share "
                              "PUs, and a polling thread would hold a PU others need",
                              dp->poll_max);
  }

  dp->vcpu_l3 = g_new0 (int, d->vcpus);
  dp->vcpu_node = g_new0 (int, d->vcpus);
  for (unsigned v = 0; v < d->vcpus; v++) {
    dp->vcpu_l3[v] = vdp_io_group_of (t, dp->vcpu_pins[v]);
    dp->vcpu_node[v] = vdp_io_node_of (t, dp->vcpu_pins[v]);
  }
  for (unsigned s = 0; s < f->n_span; s++)
    hwloc_bitmap_free (span_set[s]);
}

/* ---- rules 5-6: queue maps ----------------------------------------------- */

void
vdp_map_clear (struct vdp_map *m)
{
  g_free (m->threads);
  g_free (m->locality);
  if (m->queue_lists)
    g_ptr_array_unref (m->queue_lists);
  memset (m, 0, sizeof (*m));
}

/* The IOThread pin of IOThread @id, or NULL when not known. */
static hwloc_const_bitmap_t
io_pin (const struct vdp_domain_plan *dp, unsigned id)
{
  if (!dp->place || !dp->iothread_pins || id == 0 || id > dp->n_iothreads)
    return NULL;
  return dp->iothread_pins[id - 1];
}

static hwloc_const_bitmap_t
vcpu_pin (const struct vdp_domain_plan *dp, unsigned q)
{
  if (!dp->place || !dp->vcpu_pins)
    return NULL;
  return dp->vcpu_pins[q % dp->dom->vcpus];
}

/* Locality of vCPU v and IOThread k (1-based; 0: none), computed once
 * per domain: every device asks the same questions. */
struct loc_cache {
  const struct vdp_topology *t;
  const struct vdp_domain_plan *dp;
  signed char *v;           /* vcpus x (n_iothreads + 1), -1: not yet */
};

static void
loc_cache_init (struct loc_cache *c, const struct vdp_topology *t,
                const struct vdp_domain_plan *dp)
{
  size_t n = (size_t) MAX (dp->dom->vcpus, 1) * (dp->n_iothreads + 1);

  c->t = t;
  c->dp = dp;
  c->v = g_new (signed char, n);
  memset (c->v, -1, n);
}

static VdpLocality
loc_of (struct loc_cache *c, unsigned q, unsigned id)
{
  const struct vdp_domain_plan *dp = c->dp;
  size_t at;

  if (!dp->place || !dp->vcpu_pins || id > dp->n_iothreads)
    return vdp_io_locality (c->t, vcpu_pin (dp, q), io_pin (dp, id));
  at = (size_t) (q % dp->dom->vcpus) * (dp->n_iothreads + 1) + id;
  if (c->v[at] < 0)
    c->v[at] = (signed char) vdp_io_locality (c->t, vcpu_pin (dp, q), io_pin (dp, id));
  return (VdpLocality) c->v[at];
}

static void
map_locality (struct loc_cache *c, struct vdp_map *m)
{
  g_free (m->locality);
  m->locality = g_new0 (VdpLocality, MAX (m->queues, 1));
  for (unsigned q = 0; q < m->queues; q++) {
    unsigned id = 0;
    if (m->kind == VDP_MAP_SINGLE)
      id = m->threads[0];
    else if (m->kind == VDP_MAP_ROUNDROBIN)
      id = m->threads[q % m->n_threads];
    else
      for (unsigned k = 0; k < m->n_threads && !id; k++) {
        GArray *l = m->queue_lists->pdata[k];
        for (guint i = 0; i < l->len; i++)
          if (g_array_index (l, guint, i) == q)
            id = m->threads[k];
      }
    m->locality[q] = loc_of (c, q, id);
  }
}

void
vdp_io_map_locality (const struct vdp_topology *t, const struct vdp_domain_plan *dp,
                     struct vdp_map *m)
{
  struct loc_cache c;

  loc_cache_init (&c, t, dp);
  map_locality (&c, m);
  g_free (c.v);
}

/* Queue q on the least-used IOThread local to vCPU q: in its LLC, else on
 * its node, else any. */
static void
map_explicit (struct loc_cache *c, const struct vdp_domain_plan *dp, unsigned queues,
              struct vdp_map *m)
{
  g_autofree unsigned *load = g_new0 (unsigned, dp->n_iothreads + 1);
  g_autoptr (GPtrArray) lists = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);

  for (unsigned k = 0; k < dp->n_iothreads; k++)
    g_ptr_array_add (lists, g_array_new (FALSE, FALSE, sizeof (guint)));
  for (unsigned q = 0; q < queues; q++) {
    int best = -1;
    VdpLocality best_loc = VDP_LOCAL_LAST;
    guint qq = q;
    for (unsigned k = 0; k < dp->n_iothreads; k++) {
      VdpLocality loc = loc_of (c, q, k + 1);
      if (best < 0 || loc < best_loc || (loc == best_loc && load[k] < load[best])) {
        best = (int) k;
        best_loc = loc;
      }
    }
    load[best]++;
    g_array_append_val ((GArray *) lists->pdata[best], qq);
  }
  m->kind = VDP_MAP_EXPLICIT;
  m->queues = queues;
  m->threads = g_new0 (unsigned, MAX (dp->n_iothreads, 1));
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
map_device (struct loc_cache *c, struct vdp_domain_plan *dp, gboolean mapping_ok,
            gboolean explicit_map, unsigned queues, unsigned *next_single, struct vdp_map *m)
{
  if (mapping_ok) {
    if (explicit_map) {
      map_explicit (c, dp, queues, m);
    } else {
      m->kind = VDP_MAP_ROUNDROBIN;
      m->queues = queues;
      m->n_threads = MIN (dp->n_iothreads, queues);
      m->threads = g_new0 (unsigned, MAX (m->n_threads, 1));
      for (unsigned k = 0; k < m->n_threads; k++)
        m->threads[k] = k + 1;
    }
  } else {
    m->kind = VDP_MAP_SINGLE;
    m->queues = queues;
    m->n_threads = 1;
    m->threads = g_new0 (unsigned, 1);
    m->threads[0] = (*next_single)++ % dp->n_iothreads + 1;
  }
  map_locality (c, m);
}

/* One reason per device, with the locality the pins give. */
static void
explain_map (struct vdp_domain_plan *dp, unsigned rule, const char *subject,
             const struct vdp_map *m, unsigned explicit_q, gboolean scsi)
{
  g_autoptr (GString) s = g_string_new (NULL);
  unsigned count[VDP_LOCAL_LAST] = { 0 };

  switch (m->kind) {
  case VDP_MAP_SINGLE:
    g_string_append_printf (s, "on IOThread %u (iothread='%u'); per-queue threads need %s",
                            m->threads[0], m->threads[0],
                            scsi ? "libvirt >= 11.2 and QEMU >= 10.0"
                            : "libvirt >= 10.0 and QEMU >= 9.0, or the vhost-user backend");
    break;
  case VDP_MAP_EXPLICIT:
    g_string_append_printf (s, "%u queue%s mapped explicitly, queue i on an IOThread local to "
                            "vCPU i where one is", m->queues, m->queues == 1 ? "" : "s");
    break;
  default:
    if (m->n_threads == 1)
      g_string_append_printf (s, "%u queue%s on IOThread 1", m->queues, m->queues == 1 ? "" : "s");
    else
      g_string_append_printf (s, "%u queues spread round-robin over IOThreads 1-%u", m->queues,
                              m->n_threads);
    break;
  }
  if (explicit_q)
    g_string_append_printf (s, "; queues='%u' kept as the domain sets it (--force replaces it)",
                            explicit_q);
  for (unsigned q = 0; m->locality && q < m->queues; q++)
    count[m->locality[q]]++;
  if (m->locality && m->queues && count[VDP_LOCAL_UNKNOWN] < m->queues) {
    static const char *const said[] = { "in the vCPU's LLC", "on the vCPU's node",
                                        "with no IOThread local" };
    const char *sep = "; from the pins:";
    for (int loc = 0; loc < VDP_LOCAL_UNKNOWN; loc++) {
      g_auto (VdpBitmap) qs = NULL;
      g_autofree char *list = NULL;
      if (count[loc] == m->queues) {
        /* all alike, the usual case */
        g_string_append_printf (s, "%s queue%s 0%s%.0u %s", sep, m->queues == 1 ? "" : "s",
                                m->queues > 1 ? "-" : "", m->queues > 1 ? m->queues - 1 : 0,
                                said[loc]);
        break;
      }
      if (count[loc] == 0)
        continue;
      qs = hwloc_bitmap_alloc ();
      for (unsigned q = 0; q < m->queues; q++)
        if (m->locality[q] == (VdpLocality) loc)
          hwloc_bitmap_set (qs, q);
      if (hwloc_bitmap_iszero (qs))
        continue;
      list = vdp_cpuset_format (qs);
      g_string_append_printf (s, "%s queue%s %s %s", sep, hwloc_bitmap_weight (qs) == 1 ? "" : "s",
                              list, said[loc]);
      sep = ",";
    }
  }
  vdp_domain_plan_reason (dp, rule, subject, "%s", s->str);
}

void
vdp_io_map (const struct vdp_topology *t, const struct vdp_caps *caps,
            struct vdp_domain_plan *dp, unsigned n_span)
{
  const struct vdp_domain *d = dp->dom;
  const struct vdp_policy *p = dp->policy;
  gboolean explicit_map = dp->place && (p->mapping == VDP_MAPPING_EXPLICIT || n_span > 1);
  unsigned next_single = 0;
  struct loc_cache lc;

  if (!dp->set_iothreads || dp->n_iothreads == 0)
    return;
  loc_cache_init (&lc, t, dp);
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk *disk = &d->disks[i];
    g_autofree char *subject = NULL;
    unsigned q;
    if (!vdp_disk_iothread_capable (disk) || dp->disks[i].backend)
      continue;
    q = device_queues (dp, disk->queues_explicit);
    subject = g_strdup_printf ("disk %s", disk->target);
    map_device (&lc, dp, caps->disk_mapping, explicit_map, q, &next_single, &dp->disks[i].map);
    explain_map (dp, 5, subject, &dp->disks[i].map,
                 disk->queues_explicit && !p->override ? disk->queues_explicit : 0, FALSE);
  }
  for (unsigned i = 0; i < d->n_controllers; i++) {
    const struct vdp_controller *c = &d->controllers[i];
    g_autofree char *subject = NULL;
    unsigned q;
    if (!vdp_controller_iothread_capable (c))
      continue;
    q = device_queues (dp, c->queues_explicit);
    subject = g_strdup_printf ("controller scsi %u", c->index);
    map_device (&lc, dp, caps->scsi_mapping, explicit_map, q, &next_single, &dp->controllers[i]);
    if (dp->controllers[i].kind == VDP_MAP_SINGLE)
      dp->controllers[i].queues = 0;   /* single: the controller's queues left as they are */
    explain_map (dp, 6, subject, &dp->controllers[i],
                 c->queues_explicit && !p->override ? c->queues_explicit : 0, TRUE);
  }
  g_free (lc.v);
}
