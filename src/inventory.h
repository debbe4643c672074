/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One host's inventory: what every domain occupies (pins, pools, memory), and the hard constraints no plan may cross. */
#pragma once

#include <glib.h>
#include <hwloc.h>

#include "planner.h"

/* ---- what the host allows ------------------------------------------------ */

/* The limits every domain of a host lives within: PUs that may be pinned
 * at all, PUs isolated from the scheduler, memory per node. */
struct vdp_host_limits {
  const struct vdp_topology *topo;
  hwloc_bitmap_t usable;        /* online, allowed, not reserved for the host (host_cpus) */
  hwloc_bitmap_t isolated;      /* the profile's isolated_cpus, else the host's */
  guint64 *cap_kib;             /* per node position: memory less the reserve */
  guint64 *reserve_kib;         /* per node position */
  gboolean *mem_known;          /* per node position: the topology knows its memory */
};

void vdp_host_limits_init (struct vdp_host_limits *lim, const struct vdp_topology *topo,
                           const struct vdp_policy *policy);
void vdp_host_limits_clear (struct vdp_host_limits *lim);

/* ---- what one domain occupies ------------------------------------------ */

typedef enum {
  VDP_THREAD_VCPU,
  VDP_THREAD_EMULATOR,
  VDP_THREAD_IOTHREAD,
  VDP_THREAD_WORKER,        /* a virt-dataplane-blk worker (an I/O placement of its own) */
  VDP_THREAD_LAST
} VdpThread;

/* A thread's cpuset. */
struct vdp_pinset {
  VdpThread kind;
  unsigned id;              /* vCPU number, IOThread id or worker number */
  hwloc_bitmap_t set;
};

/* What one domain holds on the host, read from its XML or from its plan. */
struct vdp_footprint {
  const char *name;
  unsigned vcpus;
  GArray *sets;             /* struct vdp_pinset: every cpuset a thread is pinned to */
  unsigned n_iothreads;     /* its I/O threads: IOThreads, and virt-dataplane-blk workers
                             * on placements of their own */
  hwloc_bitmap_t io_granted;/* union of their pins; NULL when an IOThread is unpinned */
  guint64 *strict_kib;      /* per node position: memory bound strict there */
  guint64 *preferred_kib;   /* per node position: memory bound preferred there */
  guint64 loose_kib;        /* memory bound nowhere (spread over @loose_nodes) */
  /* each counts QEMU's own memory (vdp_memory_overhead_kib()) with the
   * guest's, on the node that holds most of it */
  hwloc_bitmap_t loose_nodes;
};

/* The memory QEMU itself needs beside the guest's RAM, which a strict
 * binding confines to the same nodes: about 64 MiB for the process, the
 * guest's page tables (1/512 of its memory) and 8 MiB per vCPU, as
 * KubeVirt estimates a virt-launcher's QEMU; whole MiB. */
guint64 vdp_memory_overhead_kib (const struct vdp_domain *d);

/* Fills @fp from a domain's definition (its pins and numatune, and the
 * worker CPUs of the virt-dataplane-blk backends it records).  @fp is
 * zeroed first; free with vdp_footprint_clear(). */
void vdp_footprint_from_domain (struct vdp_footprint *fp, const struct vdp_topology *t,
                                const struct vdp_domain *d);

/* Fills @fp from what a plan writes, the placements of its
 * virt-dataplane-blk workers included (pins it does not own are read from
 * the domain, as apply leaves them). */
void vdp_footprint_from_plan (struct vdp_footprint *fp, const struct vdp_topology *t,
                              const struct vdp_domain_plan *dp);

void vdp_footprint_clear (struct vdp_footprint *fp);

/* ---- the hard constraints ------------------------------------------------ */

typedef enum {
  VDP_HARD_MEMORY,          /* strict memory over what a node has free, less the reserve */
  VDP_HARD_EXCLUSIVE,       /* a PU pinned 1:1 appears in another cpuset */
  VDP_HARD_ISOLATED,        /* a floating set (more than one PU) has isolated PUs */
  VDP_HARD_IOTHREADS,       /* more IOThreads than the PUs granted to them */
  VDP_HARD_HOST_PUS,        /* a pin on a PU that is offline, not allowed or the host's */
  VDP_HARD_LAST
} VdpHard;

struct vdp_violation {
  VdpHard kind;
  unsigned domain;          /* index into the footprints */
  int other;                /* EXCLUSIVE: the domain whose set holds the PU, else -1 */
  char *subject;            /* "vcpu 2", "emulator", "memory", ... */
  char *text;               /* one sentence */
};

/* Checks @n footprints, all the domains of one host, against the hard
 * constraints; appends struct vdp_violation to @out (see
 * vdp_violations_new()).  Returns the number appended. */
unsigned vdp_constraints_check (const struct vdp_host_limits *lim,
                                const struct vdp_footprint *fps, unsigned n, GPtrArray *out);

GPtrArray *vdp_violations_new (void);

/* ---- the inventory the planner fits guests into -------------------------- */

struct vdp_node_state {
  unsigned id;
  hwloc_const_bitmap_t usable;  /* the node's usable PUs */
  hwloc_bitmap_t usable_own;    /* ... when not all of the node's (else NULL) */
  unsigned n_usable;            /* how many */
  guint64 bound_kib;            /* strict and preferred memory charged */
  guint64 loose_kib;            /* memory of unbound domains, estimated */
  unsigned shared_vcpus;        /* vCPUs floating on the node */
  unsigned shared_min;          /* the most vCPUs one guest floats with here */
  double pool_load;             /* IOThreads in the pool, each over its profile's pool_share */
  unsigned pool_iothreads;
  unsigned pool_emulators;
  unsigned pool_max_guest;      /* the most IOThreads one guest runs in the pool */
  hwloc_bitmap_t pool;          /* pool PUs fixed so far (other domains' pools) */
  unsigned pool_cap;            /* PUs the pool may take */
  gboolean io_short;
};

struct vdp_inventory {
  const struct vdp_topology *topo;
  const struct vdp_policy *policy;   /* the host's profile */
  struct vdp_host_limits lim;
  hwloc_bitmap_t held;          /* PUs pinned 1:1, or kept idle, for one guest */
  hwloc_bitmap_t fixed;         /* PUs in a floating set that stays: never pinned 1:1 */
  size_t n_nodes;
  struct vdp_node_state *nodes; /* per node position */
  unsigned total_vcpus;
  guint64 total_kib;
  hwloc_bitmap_t scratch;       /* for leaf functions that need a set for a moment */
  gboolean ignore_loose;        /* vdp_inventory_mem_free() leaves estimated memory out */
  unsigned *l3_vcpus;           /* per LLC group: shared vCPUs whose set lies in it alone */
};

void vdp_inventory_init (struct vdp_inventory *inv, const struct vdp_topology *topo,
                         const struct vdp_policy *policy);
void vdp_inventory_clear (struct vdp_inventory *inv);

/* Charges a domain that keeps what it has (context, kept pins, a recorded
 * plan taken as it is): its 1:1 pins are held, its floating sets fixed,
 * its IOThread sets seed the pools when @owned (virt-dataplane wrote
 * them), its memory charged.  @smt_isolate: its vCPU cores' siblings are
 * held too. */
void vdp_inventory_charge (struct vdp_inventory *inv, const struct vdp_footprint *fp,
                           gboolean owned, gboolean smt_isolate);

/* Whether a domain that keeps @fp (a recorded plan) still fits beside
 * what @inv holds, within every hard constraint. */
gboolean vdp_inventory_admits (const struct vdp_inventory *inv, const struct vdp_footprint *fp);

/* The node position of node @id, or -1. */
int vdp_inventory_node_pos (const struct vdp_inventory *inv, unsigned id);

/* Memory node position @n can still bind (G_MAXUINT64 when unknown). */
guint64 vdp_inventory_mem_free (const struct vdp_inventory *inv, size_t n);

/* The PUs of node position @n that floating sets may use: usable, not
 * isolated, not held. */
void vdp_inventory_region (const struct vdp_inventory *inv, size_t n, hwloc_bitmap_t out);

/* PUs of node position @n a 1:1 pin may take: usable, not held, in no
 * fixed floating set or pool. */
void vdp_inventory_pinnable (const struct vdp_inventory *inv, size_t n, hwloc_bitmap_t out);

/* The size node position @n's pool needs with @load more pool load, a
 * guest of @guest_io IOThreads and @emulators more emulators in it: 0 when
 * nothing runs in it, at least 2 (a floating set). */
unsigned vdp_inventory_pool_need (const struct vdp_inventory *inv, size_t n, double load,
                                  unsigned guest_io, unsigned emulators);

/* Grows node position @n's pool to what runs in it needs (up to its cap):
 * whole cores of its floating PUs, in no other floating set first,
 * round-robin over its LLC groups. */
void vdp_inventory_grow_pool (struct vdp_inventory *inv, size_t n);

/* How loaded node position @n is, from 0 (idle): PUs held and vCPUs
 * floating over its usable PUs. */
double vdp_inventory_load (const struct vdp_inventory *inv, size_t n);
