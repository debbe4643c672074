/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* I/O placement: how many IOThreads, the per-node I/O pools, every thread's final pins, polling and queue maps. */
#pragma once

#include <glib.h>

#include "fit.h"
#include "inventory.h"
#include "planner.h"

/* The IOThread count a guest wants (rule 3) and, per IOThread, the node
 * of the disk it will serve alone on stacks without virtqueue mapping
 * (-1: none); sets dp->set_iothreads and adds the reasons.  Returns the
 * count; *io_pref is g_new'd with that many entries; *io_cap is the most
 * its devices could use (a guest spanning nodes gets one per node). */
unsigned vdp_io_count (struct vdp_domain_plan *dp, const struct vdp_plan_input *in,
                       const struct vdp_topology *topo, const struct vdp_caps *caps,
                       int **io_pref, unsigned *io_cap);

/* Chooses each node's I/O pool once every guest is fitted: the PUs the
 * pool already had and, where more run in it, whole cores of the node's
 * floating PUs, up to its cap.  Adds "I/O capacity short" lines to
 * @warnings. */
void vdp_io_pools (struct vdp_inventory *inv, GPtrArray *warnings);

/* Writes the final pins of a fitted guest into @dp: shared vCPU sets,
 * the emulator, the IOThreads (cut to the PUs granted to them), their
 * <poll>, and the LLC and node of each pin; adds the reasons. */
void vdp_io_place (struct vdp_inventory *inv, const struct vdp_caps *caps,
                   struct vdp_domain_plan *dp, const struct vdp_fit *fit);

/* Maps the guest's disks and controllers to its IOThreads (rules 5, 6):
 * explicit maps are built from the final pins, queue i on an IOThread
 * local to vCPU i; every map's per-queue locality is recorded. */
void vdp_io_map (const struct vdp_topology *topo, const struct vdp_caps *caps,
                 struct vdp_domain_plan *dp, unsigned n_span);

/* Records the locality of every queue of @m from @dp's final pins. */
void vdp_io_map_locality (const struct vdp_topology *topo, const struct vdp_domain_plan *dp,
                          struct vdp_map *m);

/* How local IOThread pin @io is to vCPU pin @vcpu. */
VdpLocality vdp_io_locality (const struct vdp_topology *topo, hwloc_const_bitmap_t vcpu,
                             hwloc_const_bitmap_t io);

/* The LLC group (index into topo->l3) @set lies in, -1 when several or none. */
int vdp_io_group_of (const struct vdp_topology *topo, hwloc_const_bitmap_t set);

/* The node (OS index) @set lies in, -1 when several or none. */
int vdp_io_node_of (const struct vdp_topology *topo, hwloc_const_bitmap_t set);

void vdp_map_clear (struct vdp_map *m);
