/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The planner: a pure function from a host's inventory, domains, profiles and stack to a plan with reasons. */
#pragma once

#include <stdbool.h>

#include <glib.h>
#include <hwloc.h>

#include "caps.h"
#include "domain.h"
#include "policy.h"
#include "topology.h"

/* The planner is split by concept; each part has its own header:
 *   inventory.h  the host's occupancy and the hard constraints
 *   fit.h        fitting a guest's vCPUs and memory to nodes
 *   ioplace.h    IOThreads, I/O pools, emulators and queue maps
 *   explain.h    the explanation (text and JSON) of a plan
 * This file holds the plan itself and vdp_plan_compute(), which runs them. */

/* What the caller knows about one disk's storage (index-aligned with the
 * domain's disks).  The planner does no I/O, so it is told. */
struct vdp_disk_hint {
  int node;                 /* NUMA node of its device, -1 when unknown */
  char *locality;           /* why the node is unknown, or how it is known; may be NULL */
  char *device;             /* the block device it resolved to, or NULL */
  char *suggest;            /* a --device hint that would tell the node, or NULL */
  int odirect;              /* 1 supported, 0 not, -1 unknown */
  char *odirect_note;       /* why not or why unknown, or NULL */
};

/* One domain of the host: planned, or (as context) only occupying it. */
struct vdp_plan_input {
  const struct vdp_domain *dom;
  const struct vdp_disk_hint *hints;   /* dom->n_disks entries, or NULL: all unknown */
  const struct vdp_policy *policy;     /* its profile; NULL: the plan's */
  /* dom->n_disks entries, or NULL: the disks virt-dataplane-blk serves
   * (see backend.h).  They get no QEMU IOThread and no driver change; I/O
   * placements are planned for them all the same, for the backend's worker
   * threads. */
  const bool *backend;
};

typedef enum {
  VDP_MAP_NONE,             /* leave the device's IOThread settings alone */
  VDP_MAP_SINGLE,           /* iothread='k' */
  VDP_MAP_ROUNDROBIN,       /* <iothreads> listing threads, no <queue> */
  VDP_MAP_EXPLICIT,         /* <iothreads> with <queue> children */
  VDP_MAP_LAST
} VdpMapKind;

/* How local the IOThread serving a queue is to the vCPU that submits on it,
 * judged from the final pins. */
typedef enum {
  VDP_LOCAL_LLC,            /* the IOThread's PUs share the vCPU's last-level cache */
  VDP_LOCAL_NODE,           /* on the vCPU's NUMA node */
  VDP_LOCAL_NONE,           /* on another node */
  VDP_LOCAL_UNKNOWN,        /* a pin is not known (placement kept) */
  VDP_LOCAL_LAST
} VdpLocality;

extern const char *const vdp_locality_names[];

/* IOThread assignment of one disk or controller. */
struct vdp_map {
  VdpMapKind kind;
  unsigned queues;          /* 0: leave queues alone */
  unsigned n_threads;
  unsigned *threads;        /* IOThread ids */
  GPtrArray *queue_lists;   /* EXPLICIT: per thread a GArray of guint queue ids */
  VdpLocality *locality;    /* EXPLICIT: per queue, from the final pins (queues entries) */
};

struct vdp_disk_plan {
  bool backend;             /* served by virt-dataplane-blk: no IOThread, driver left alone */
  bool set_driver;          /* change cache/io */
  char *cache, *io;         /* new values when set_driver */
  struct vdp_map map;
};

struct vdp_reason {
  unsigned rule;            /* DESIGN §4 rule number (0: hard constraints and fit) */
  char *subject;            /* "vcpu 3", "disk vda", "iothread 2", ... */
  char *text;
};

struct vdp_cell_plan {
  hwloc_bitmap_t vcpus;     /* guest vCPUs of the cell */
  guint64 memory_kib;
  unsigned node;            /* host node backing it */
  bool create;              /* false: the domain's own cell, only mapped */
  unsigned id;
};

/* Why a guest does not fit: what it needs and the best the host offers. */
struct vdp_misfit {
  char *what;               /* "8 dedicated vCPUs (8 whole cores, smt=isolate)" */
  unsigned need_pus;        /* PUs (or cores, see what) its vCPUs need */
  guint64 need_kib;         /* memory it needs bound */
  int best_node;            /* the node that came closest, -1 when none */
  unsigned best_pus;        /* what that node offers, in the unit of need_pus */
  guint64 best_kib;
  unsigned host_pus;        /* what the whole host offers */
  guint64 host_kib;
  char *why;                /* one sentence */
};

typedef struct vdp_domain_plan vdp_domain_plan;

struct vdp_domain_plan {
  const struct vdp_domain *dom;       /* borrowed: must outlive the plan's use, not its free */
  const struct vdp_policy *policy;    /* the profile it was planned with (borrowed) */
  unsigned n_vcpus, n_disks, n_controllers;   /* sizes of the arrays below */
  bool skipped;             /* nothing changed at all (reason in skip_reason) */
  char *skip_reason;
  bool failed;              /* it does not fit: nothing to write (see misfit) */
  struct vdp_misfit misfit;
  bool kept;                /* its recorded plan still holds and fits: taken as it is */
  bool overcommitted;       /* shared vCPUs outnumber the PUs they float over */

  int home_node;
  hwloc_bitmap_t nodes;     /* host nodes the guest uses */
  bool place;               /* false: foreign pins left alone (rule 11) */
  VdpPlacement placement;
  hwloc_bitmap_t *vcpu_pins;     /* dom->vcpus entries when place */
  int *vcpu_l3;                  /* LLC group each vCPU's pin lies in (-1: several) */
  int *vcpu_node;                /* node OS index of each vCPU's pin (-1: several) */
  hwloc_bitmap_t emulator_pin;

  bool set_iothreads;       /* own the IOThread count and ids */
  unsigned n_iothreads;
  unsigned n_io_slots;      /* I/O thread placements: n_iothreads, or more for the
                             * virt-dataplane-blk workers of served disks, whose
                             * worker w runs on placement w */
  hwloc_bitmap_t *iothread_pins; /* n_io_slots entries when place (the first
                                  * n_iothreads QEMU's IOThreads') */
  int *iothread_l3;              /* from the final pins (-1: several groups; n_io_slots) */
  int *iothread_node;            /* from the final pins (-1: several nodes; n_io_slots) */
  int poll_max;             /* <poll max> to write for every IOThread; -1: leave it */
  unsigned guest_threads;   /* 2: the guest's <cpu><topology> says threads='2' (vCPUs 2k and
                             * 2k+1 pinned to the SMT siblings of one core); 0: left alone */

  VdpMemory memory;         /* NONE: leave numatune alone (unless unbind) */
  bool unbind;              /* remove numatune: 'preferred' memory fits no node */
  hwloc_bitmap_t mem_nodes;
  unsigned n_cells;
  struct vdp_cell_plan *cells;
  bool create_cells;

  struct vdp_disk_plan *disks;        /* dom->n_disks entries */
  struct vdp_map *controllers;        /* dom->n_controllers entries */

  GPtrArray *reasons;       /* struct vdp_reason */
  GPtrArray *warnings;      /* char *: one line each */
  char *hash;               /* of the decisions, for metadata and drift checks */
};

/* The per-node outcome of a host-wide plan. */
struct vdp_node_summary {
  unsigned id;
  unsigned pus;             /* usable PUs */
  unsigned dedicated;       /* PUs pinned 1:1 or kept idle for one guest */
  unsigned shared_vcpus;    /* vCPUs floating on the node */
  hwloc_bitmap_t pool;      /* its I/O pool (may be empty) */
  unsigned pool_iothreads;  /* IOThreads running in it */
  unsigned pool_emulators;
  bool io_short;            /* IOThreads were cut for lack of pool PUs */
  bool pool_shared;         /* floating vCPUs run on its I/O pool's PUs too */
  guint64 memory_kib;       /* node memory, 0 when unknown */
  guint64 reserve_kib;      /* kept for the host */
  guint64 bound_kib;        /* guest memory charged to it (strict, preferred, estimated) */
};

typedef struct vdp_plan vdp_plan;

struct vdp_plan {
  const struct vdp_topology *topo;
  const struct vdp_policy *policy;    /* the host's profile: reserves, isolated PUs */
  struct vdp_caps caps;
  unsigned n_domains;
  struct vdp_domain_plan *domains;    /* same order as the inputs */
  hwloc_bitmap_t io_pool;             /* every node's I/O pool */
  hwloc_bitmap_t isolated;            /* the isolated PUs it planned with */
  unsigned n_nodes;
  struct vdp_node_summary *nodes;     /* per node position */
  unsigned n_failed;                  /* domains that do not fit */
  /* host-wide overcommit, every domain of the host counted (context too) */
  unsigned total_vcpus, total_pus;
  guint64 total_memory_kib, total_avail_kib;
  GPtrArray *warnings;                /* host-level lines (I/O capacity short, ...) */
  GPtrArray *profiles;                /* struct vdp_policy: profiles made for this plan
                                       * (a dedicated one degraded to shared) */
};

/* What vdp_plan_compute_host() plans: @inputs are planned; @context are
 * the host's other domains, which keep their pins and memory and are only
 * worked around. */
struct vdp_plan_request {
  const struct vdp_topology *topo;
  const struct vdp_policy *policy;    /* the host's and the default profile */
  const struct vdp_caps *caps;
  const struct vdp_plan_input *inputs;
  unsigned n;
  const struct vdp_plan_input *context;
  unsigned n_context;
};

/* Plans the domains of one host together from one inventory.  A domain
 * that does not fit is marked failed with its misfit, and the others are
 * still planned.  Fails (NULL, @error set) only when the host profile
 * leaves no usable PU.  Free with vdp_plan_free(). */
struct vdp_plan *vdp_plan_compute_host (const struct vdp_plan_request *req, GError **error);

/* vdp_plan_compute_host() without context domains. */
struct vdp_plan *vdp_plan_compute (const struct vdp_topology *topo,
                                   const struct vdp_policy *policy,
                                   const struct vdp_caps *caps,
                                   const struct vdp_plan_input *inputs, unsigned n,
                                   GError **error);

void vdp_plan_free (struct vdp_plan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_plan, vdp_plan_free)

/* One line naming a failed domain, what it needs and the best offer
 * (g_free). */
char *vdp_misfit_format (const struct vdp_domain_plan *dp);

/* Checks that @after (the domain as libvirt gives it back after defining
 * the patched XML) holds everything @dp planned; appends a one-line
 * description of each missing or different item to @missing.  Returns
 * TRUE when nothing is missing. */
gboolean vdp_plan_verify (const struct vdp_domain_plan *dp, const struct vdp_domain *after,
                          GPtrArray *missing);

/* Adds a reason; used by the planner's parts, exposed for tests. */
void vdp_domain_plan_reason (struct vdp_domain_plan *dp, unsigned rule, const char *subject,
                             const char *fmt, ...) G_GNUC_PRINTF (4, 5);

/* Adds a warning line naming the domain. */
void vdp_domain_plan_warn (struct vdp_domain_plan *dp, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
