/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fitting one guest to the nodes of a host inventory: its vCPUs, its memory, and room for its I/O threads. */
#pragma once

#include <glib.h>
#include <hwloc.h>

#include "inventory.h"
#include "planner.h"

/* Where one IOThread or the emulator goes, decided with the fit because it
 * needs room too. */
typedef enum {
  VDP_SLOT_OWN,             /* a PU the guest holds (an idle SMT sibling): 1:1 */
  VDP_SLOT_POOL,            /* a node's I/O pool */
  VDP_SLOT_OWN_SET,         /* emulator: the guest's remaining idle siblings */
  VDP_SLOT_WITH_VCPUS,      /* floating with the guest's shared vCPUs */
  VDP_SLOT_WITH_EMULATOR,   /* IOThread: the emulator's set (iothread_cpus=shared) */
  VDP_SLOT_LAST
} VdpSlotKind;

struct vdp_slot {
  VdpSlotKind kind;
  int pu;                   /* OWN: the PU */
  int node;                 /* POOL, WITH_VCPUS: node position */
  int serves;               /* the span index whose vCPUs it serves (-1: all) */
};

/* An io_pref value: the IOThread goes with the emulator. */
#define VDP_IO_WITH_EMULATOR (-2)

/* One guest's fit. */
struct vdp_fit {
  gboolean placed;
  unsigned n_span;
  size_t *span;             /* node positions, the home node first */
  unsigned *span_vcpus;     /* vCPUs on each */
  guint64 *span_kib;        /* memory bound on each */
  unsigned *vcpu_span;      /* per vCPU: index into span */
  int *vcpu_pu;             /* per vCPU: its PU (dedicated), else -1 */
  hwloc_bitmap_t held;      /* PUs held for it: its vCPU PUs and idle siblings */
  hwloc_bitmap_t own;       /* the idle siblings alone (not yet given a thread) */
  VdpMemory memory;         /* the binding: STRICT, PREFERRED or NONE (left alone) */
  gboolean unbound;         /* 'preferred' that fits no node: no binding at all */
  gboolean cells_own;       /* the guest's own cells: cell_span maps them */
  unsigned *cell_span;      /* per guest cell: index into span */
  unsigned n_io;            /* IOThreads, after fitting */
  struct vdp_slot *io;      /* n_io entries */
  struct vdp_slot emu;
  gboolean io_short;        /* fewer IOThreads than wanted: no room */
};

void vdp_fit_clear (struct vdp_fit *f);

/* Fits @in (its placement planned: dp->place) with @n_io IOThreads wanted
 * (up to @io_cap when it spans nodes: one per node)
 * into @inv: the best single node that holds it (the disks' node first,
 * then by NUMA distance, then by load), else the fewest, nearest nodes.
 * @io_pref (n_io entries, may be NULL) names the node each IOThread should
 * sit on (its disk's, -1: none).  Adds the reasons to @dp.  On success
 * commits the fit to @inv and returns TRUE; otherwise fills dp->misfit and
 * returns FALSE with @inv unchanged. */
gboolean vdp_fit_guest (struct vdp_inventory *inv, const struct vdp_plan_input *in,
                        struct vdp_domain_plan *dp, unsigned n_io, const int *io_pref,
                        unsigned io_cap, struct vdp_fit *out);
