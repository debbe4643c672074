/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A libvirt host's hardware as libvirt describes it (capabilities, node info, node devices), turned into an hwloc XML topology. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <hwloc.h>

typedef struct vdp_hostcaps vdp_hostcaps;

/* One CPU of <topology><cells><cell><cpus>. */
struct vdp_hostcaps_cpu {
  unsigned id;
  unsigned cell;            /* the id of the cell listing it */
  bool online;              /* offline CPUs carry no socket/core ids */
  int socket, die, cluster, core;   /* -1 when not given */
  hwloc_bitmap_t siblings;  /* SMT siblings, itself included */
};

/* One NUMA cell. */
struct vdp_hostcaps_cell {
  unsigned id;
  uint64_t memory;          /* bytes, 0 when unknown */
  hwloc_bitmap_t cpus;      /* online CPUs */
  unsigned n_distances;
  unsigned *distance_ids;   /* sibling cell ids ... */
  unsigned *distances;      /* ... and the distance to each */
};

/* One cache bank of <cache>. */
struct vdp_hostcaps_cache {
  unsigned id, level;
  char *type;               /* "both", "code", "data" */
  uint64_t size;            /* bytes */
  hwloc_bitmap_t cpus;
};

/* A block device of the host and where it is attached. */
struct vdp_hostcaps_device {
  char *name;               /* kernel name: "sdb", "nvme0n1" */
  char *pci;                /* "0000:3b:00.0" of its PCI controller, or NULL */
  unsigned pci_class, pci_vendor, pci_device;
  int node;                 /* NUMA node of the controller, -1 when unknown */
};

struct vdp_hostcaps {
  char *uuid;               /* host UUID, or NULL */
  char *arch;
  GArray *cpus;             /* struct vdp_hostcaps_cpu, sorted by id */
  GArray *cells;            /* struct vdp_hostcaps_cell, sorted by id */
  GArray *caches;           /* struct vdp_hostcaps_cache */
  GArray *devices;          /* struct vdp_hostcaps_device */
};

/* Parses a capabilities document (virConnectGetCapabilities).  A host
 * without NUMA cells gives empty cpus and cells arrays.  Errors name @what
 * and the malformed value.  Free with vdp_hostcaps_free(). */
struct vdp_hostcaps *vdp_hostcaps_parse (const char *xml, const char *what, GError **error);

/* A synthetic host from virNodeGetInfo's numbers: @nodes cells of @sockets
 * sockets of @cores cores of @threads threads, CPUs numbered in that order
 * (those from @cpus up offline), @memory bytes split evenly over the cells
 * (0: unknown; the last cell takes the remainder). */
struct vdp_hostcaps *vdp_hostcaps_from_counts (unsigned nodes, unsigned sockets, unsigned cores,
                                               unsigned threads, unsigned cpus, uint64_t memory);

void vdp_hostcaps_free (struct vdp_hostcaps *caps);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_hostcaps, vdp_hostcaps_free)

/* The online CPUs, and their count. */
hwloc_bitmap_t vdp_hostcaps_online (const struct vdp_hostcaps *caps);

/* The hwloc XML (v2) document of the host: a Machine of packages (dies
 * when a package has several), L3 caches, cores and PUs numbered as the
 * host numbers them, each NUMA cell attached where its CPUs are (CPU-less
 * cells to the machine), cell memory, NUMA distances, and the block
 * devices under their PCI controllers.  Objects whose CPU sets cross the
 * cells' (a cache bank shared across nodes) are left out.  Returns a
 * string (g_free), or NULL with @error set when the host has no CPU. */
char *vdp_hostcaps_to_hwloc_xml (const struct vdp_hostcaps *caps, GError **error);

/* ---- node devices and storage ------------------------------------------ */

/* What a node device's XML says (virNodeDeviceGetXMLDesc). */
struct vdp_nodedev {
  char *name;
  char *parent;             /* NULL at the root */
  char *block;              /* storage: "/dev/sdb", else NULL */
  bool pci;                 /* a PCI device ... */
  char *pci_address;        /* ... at "0000:3b:00.0" */
  unsigned pci_class, pci_vendor, pci_device;
  int node;                 /* PCI: <numa node=>, -1 when absent */
};

/* Parses a node device XML; FALSE with @error set when it is not one. */
gboolean vdp_nodedev_parse (const char *xml, struct vdp_nodedev *out, GError **error);
void vdp_nodedev_clear (struct vdp_nodedev *d);

/* What a storage pool's XML says. */
struct vdp_pool_info {
  char *name;
  char *type;               /* dir, fs, logical, disk, iscsi, ... */
  char *target;             /* target path, or NULL */
  char **devices;           /* source device paths (NULL-terminated, may be empty) */
};

gboolean vdp_pool_parse (const char *xml, struct vdp_pool_info *out, GError **error);
void vdp_pool_info_clear (struct vdp_pool_info *p);

/* The type of a storage volume's XML ("file", "block", ...), or NULL. */
char *vdp_volume_type (const char *xml);

/* ---- is this host the machine we run on? -------------------------------- */

/* What identifies a host. */
struct vdp_host_identity {
  bool simulated;           /* libvirt's test driver */
  const char *uuid;         /* host UUID, NULL when unknown */
  const char *hostname;
  hwloc_const_bitmap_t cpus;     /* online CPUs, NULL when unknown */
  unsigned n_cells;
  const uint64_t *cell_memory;   /* bytes per cell, in cell order */
};

/* Decides whether @remote (what a connection says) is @here (this
 * machine; its uuid may be any of @here_uuids, NULL-terminated): a
 * simulated host never is; a UUID match is; a different hostname is not
 * ("kvm1" and "kvm1.example.com" are the same); the same hostname is when
 * the online CPUs and each cell's memory (within 1%) agree.  *why (g_free) says what decided. */
bool vdp_host_identity_same (const struct vdp_host_identity *remote,
                             const struct vdp_host_identity *here,
                             const char *const *here_uuids, char **why);
