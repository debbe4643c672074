/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The planner: a pure function from topology, domains, profile and stack to a plan with reasons. */
#pragma once

#include <stdbool.h>

#include <glib.h>
#include <hwloc.h>

#include "caps.h"
#include "domain.h"
#include "policy.h"
#include "topology.h"

/* What the caller knows about one disk's storage (index-aligned with the
 * domain's disks).  The planner does no I/O, so it is told. */
struct vdp_disk_hint {
  int node;                 /* NUMA node of its device, -1 when unknown */
  char *locality;           /* why the node is unknown, or NULL */
  int odirect;              /* 1 supported, 0 not, -1 unknown */
  char *odirect_note;       /* why not, or NULL */
};

struct vdp_plan_input {
  const struct vdp_domain *dom;
  const struct vdp_disk_hint *hints;   /* dom->n_disks entries, or NULL: all unknown */
};

typedef enum {
  VDP_MAP_NONE,             /* leave the device's IOThread settings alone */
  VDP_MAP_SINGLE,           /* iothread='k' */
  VDP_MAP_ROUNDROBIN,       /* <iothreads> listing threads, no <queue> */
  VDP_MAP_EXPLICIT,         /* <iothreads> with <queue> children */
  VDP_MAP_LAST
} VdpMapKind;

/* IOThread assignment of one disk or controller. */
struct vdp_map {
  VdpMapKind kind;
  unsigned queues;          /* 0: leave queues alone */
  unsigned n_threads;
  unsigned *threads;        /* IOThread ids */
  GPtrArray *queue_lists;   /* EXPLICIT: per thread a GArray of guint queue ids */
};

struct vdp_disk_plan {
  bool set_driver;          /* change cache/io */
  char *cache, *io;         /* new values when set_driver */
  struct vdp_map map;
};

struct vdp_reason {
  unsigned rule;            /* DESIGN §4 rule number */
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

typedef struct vdp_domain_plan vdp_domain_plan;

struct vdp_domain_plan {
  const struct vdp_domain *dom;       /* borrowed: must outlive the plan's use, not its free */
  unsigned n_vcpus, n_disks, n_controllers;   /* sizes of the arrays below */
  bool skipped;             /* nothing changed at all (reason in skip_reason) */
  char *skip_reason;

  int home_node;
  hwloc_bitmap_t nodes;     /* host nodes the guest uses */
  bool place;               /* false: foreign pins left alone (rule 11) */
  VdpPlacement placement;
  hwloc_bitmap_t *vcpu_pins;     /* dom->vcpus entries when place */
  int *vcpu_l3;                  /* LLC group each vCPU is in (-1: several) */
  hwloc_bitmap_t emulator_pin;

  bool set_iothreads;       /* own the IOThread count and ids */
  unsigned n_iothreads;
  hwloc_bitmap_t *iothread_pins; /* n_iothreads entries when place */
  int *iothread_l3;

  VdpMemory memory;         /* NONE: leave numatune alone */
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

typedef struct vdp_plan vdp_plan;

struct vdp_plan {
  const struct vdp_topology *topo;
  const struct vdp_policy *policy;
  struct vdp_caps caps;
  unsigned n_domains;
  struct vdp_domain_plan *domains;    /* same order as the inputs */
  hwloc_bitmap_t io_pool;             /* the per-node I/O pools (separate iothread_cpus) */
};

/* Plans @n domains together (host-wide: largest first, one inventory).
 * Fails when a profile cannot be satisfied or dedicated vCPUs do not fit;
 * the message names the domain.  Free with vdp_plan_free(). */
struct vdp_plan *vdp_plan_compute (const struct vdp_topology *topo,
                                   const struct vdp_policy *policy,
                                   const struct vdp_caps *caps,
                                   const struct vdp_plan_input *inputs, unsigned n,
                                   GError **error);

void vdp_plan_free (struct vdp_plan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_plan, vdp_plan_free)

/* Checks that @after (the domain as libvirt gives it back after defining
 * the patched XML) holds everything @dp planned; appends a one-line
 * description of each missing or different item to @missing.  Returns
 * TRUE when nothing is missing. */
gboolean vdp_plan_verify (const struct vdp_domain_plan *dp, const struct vdp_domain *after,
                          GPtrArray *missing);

/* Adds a reason; used by the planner, exposed for tests. */
void vdp_domain_plan_reason (struct vdp_domain_plan *dp, unsigned rule, const char *subject,
                             const char *fmt, ...) G_GNUC_PRINTF (4, 5);
