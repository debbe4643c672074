/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host as the planner sees it: NUMA nodes, L3 groups, cores, PUs and block devices, from hwloc. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <hwloc.h>

typedef enum {
  VDP_TOPOLOGY_HOST,        /* the machine we run on */
  VDP_TOPOLOGY_XML,         /* an hwloc XML file */
  VDP_TOPOLOGY_SYNTHETIC,   /* an hwloc synthetic description */
  VDP_TOPOLOGY_CAPABILITIES,  /* a libvirt host's capabilities (cells, CPUs, caches) */
  VDP_TOPOLOGY_NODEINFO,    /* a libvirt host's node info only: counts, no caches */
  VDP_TOPOLOGY_LAST
} VdpTopologyKind;

typedef struct vdp_topology vdp_topology;
typedef struct vdp_disk_locality vdp_disk_locality;

/* "Allowed" below means visible in hwloc's default view: not removed by a
 * cgroup/cpuset restriction.  Offline PUs have no object at all. */

struct vdp_pu {
  unsigned id;              /* OS index: the number libvirt cpusets use */
  int core;                 /* index into cores[] */
  int node;                 /* NUMA node OS index, -1 when hwloc gives none */
  int l3;                   /* index into l3[] */
  int package;              /* index into packages[], -1 when none */
  bool allowed;
  bool isolated;            /* listed in the host's isolated CPUs */
};

struct vdp_core {
  unsigned index;           /* position in cores[] (hwloc logical index) */
  unsigned os_index;        /* as the OS numbers it (not unique across packages) */
  hwloc_bitmap_t pus;       /* SMT siblings */
  int node;
  int l3;
  int package;
  bool allowed;             /* at least one allowed PU */
  bool implicit;            /* hwloc has no Core level: one core per PU */
};

/* A group of PUs sharing a last-level cache: an L3, or where a host has
 * none, the nearest cache shared by several cores, else the package, else
 * the object the PU's NUMA node hangs from, else the machine. */
struct vdp_l3 {
  unsigned index;
  const char *kind;         /* "L3", "L2", "Package", "Group", "Machine" (static) */
  uint64_t size;            /* cache size in bytes, 0 for non-caches */
  hwloc_bitmap_t cpuset;    /* online PUs */
  hwloc_bitmap_t nodeset;
  bool allowed;
  unsigned n_cores;
  unsigned *cores;          /* indexes into cores[] of its cores, in order */
};

struct vdp_node {
  unsigned id;              /* OS index */
  uint64_t memory;          /* local memory in bytes, 0 when unknown */
  hwloc_bitmap_t cpuset;    /* online PUs local to the node (allowed or not) */
  bool allowed;
  unsigned n_groups;
  unsigned *groups;         /* indexes into l3[] of the LLC groups with PUs on it */
};

struct vdp_package {
  unsigned index;
  unsigned os_index;
  hwloc_bitmap_t cpuset;
  hwloc_bitmap_t nodeset;
  bool allowed;
};

struct vdp_blockdev {
  char *name;               /* kernel name: "sda", "nvme0n1" */
  char *subtype;            /* hwloc subtype ("Disk", "NVM", ...), may be NULL */
  char *pci;                /* PCI address "0000:00:1f.2" of its controller, or NULL */
  char *devid;              /* "major:minor" when hwloc knows it, or NULL */
  hwloc_bitmap_t nodeset;   /* nodes of its first non-I/O ancestor */
  int node;                 /* the one local node, -1 when it spans several */
};

struct vdp_topology {
  VdpTopologyKind kind;
  char *source;             /* "host", the file name or the synthetic string */
  hwloc_topology_t hw;

  struct vdp_node *nodes;        size_t n_nodes;
  struct vdp_package *packages;  size_t n_packages;
  struct vdp_l3 *l3;             size_t n_l3;
  struct vdp_core *cores;        size_t n_cores;
  struct vdp_pu *pus;            size_t n_pus;
  int *pu_pos;                   /* position in pus[] by OS index, -1 for none */
  size_t n_pu_pos;
  struct vdp_blockdev *devices;  size_t n_devices;

  hwloc_bitmap_t online;         /* every PU that has an object */
  hwloc_bitmap_t allowed;        /* online and allowed */
  hwloc_bitmap_t disallowed;     /* online but outside the allowed set */
  hwloc_bitmap_t offline;        /* known to the machine but offline */
  hwloc_bitmap_t isolated;       /* isolated PUs (host only) */
  hwloc_bitmap_t allowed_nodes;
  unsigned *distances;           /* n_nodes x n_nodes by node position (hwloc's
                                  * NUMA latencies), NULL when unknown */
};

/* Counts in hwloc's default view (disallowed objects left out). */
struct vdp_topology_counts {
  unsigned nodes, packages, cores, pus;
  unsigned l3;              /* L3 caches, as hwloc counts them (0 when none) */
  unsigned llc_groups;      /* entries of l3[], fallback groups included */
  unsigned pus_offline, pus_disallowed, pus_isolated;
};

/* Loads the host's topology; @sysfs_root ("" or NULL for "/") is where the
 * isolated CPU list is read from.  Returns NULL with @error set on failure;
 * free with vdp_topology_free(). */
struct vdp_topology *vdp_topology_load_host (const char *sysfs_root, GError **error);

/* Loads an hwloc XML file.  Errors name the file and the reason. */
struct vdp_topology *vdp_topology_load_xml (const char *path, GError **error);

/* Loads an hwloc XML document held in memory; @source names it in
 * messages and in t->source. */
struct vdp_topology *vdp_topology_load_xml_buffer (const char *xml, VdpTopologyKind kind,
                                                  const char *source, GError **error);

/* The topology as an hwloc XML document (g_free), for saving and loading
 * again with --topology. */
char *vdp_topology_export_xml (const struct vdp_topology *t);

/* The name of a topology kind: "host", "xml", "synthetic", "capabilities",
 * "nodeinfo". */
const char *vdp_topology_kind_name (VdpTopologyKind kind);

/* Loads an hwloc synthetic description ("node:2 core:4 pu:2"). */
struct vdp_topology *vdp_topology_load_synthetic (const char *desc, GError **error);

/* Loads what a --topology argument names: NULL means the host; an existing
 * file, or anything with '/' or ending in ".xml", is an XML file; anything
 * else is a synthetic description. */
struct vdp_topology *vdp_topology_load (const char *spec, GError **error);

void vdp_topology_free (struct vdp_topology *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_topology, vdp_topology_free)

void vdp_topology_get_counts (const struct vdp_topology *t, struct vdp_topology_counts *c);

/* Lookups; they return NULL when there is no such object. */
const struct vdp_pu *vdp_topology_find_pu (const struct vdp_topology *t, unsigned id);
const struct vdp_node *vdp_topology_find_node (const struct vdp_topology *t, unsigned id);
const struct vdp_blockdev *vdp_topology_find_device (const struct vdp_topology *t, const char *name);

/* The NUMA distance between the nodes at positions @a and @b of nodes[]:
 * hwloc's matrix when the topology has one, else 10 for the same node, 15
 * for nodes of one package and 20 otherwise (ACPI SLIT's scale). */
unsigned vdp_topology_distance (const struct vdp_topology *t, size_t a, size_t b);

/* Where a disk's I/O goes: the block devices under a path and their nodes. */
struct vdp_disk_locality {
  char *path;
  char **devices;           /* leaf block devices found (NULL-terminated), may be empty */
  hwloc_bitmap_t nodeset;   /* union of their nodes; empty when unknown */
  int node;                 /* the single local node, or -1 */
  char *reason;             /* why node is -1; NULL when it is known */
};

/* Resolves @path (a block device node, a partition, a device-mapper or md
 * device, or a regular file on a filesystem) to the block devices below it,
 * reading sysfs and mountinfo under @root ("" or NULL for the real ones).
 * Never fails: when the locality cannot be known, node is -1 and reason
 * says why.  Free with vdp_disk_locality_free(). */
struct vdp_disk_locality *vdp_topology_locate_disk (const struct vdp_topology *t,
                                                    const char *path, const char *root);
void vdp_disk_locality_free (struct vdp_disk_locality *loc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_disk_locality, vdp_disk_locality_free)

/* FALSE with an input error naming the PUs of @pus (@what: where they
 * come from, e.g. "--isolated") that @topo does not have, online or
 * offline; TRUE for a NULL @pus. */
gboolean vdp_topology_check_pus (const struct vdp_topology *topo, hwloc_const_bitmap_t pus,
                                 const char *what, GError **error);

