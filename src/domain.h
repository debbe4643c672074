/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tunable parts of a libvirt domain XML, parsed into plain data; never changes the document. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <hwloc.h>
#include <libxml/tree.h>

/* This project's metadata namespace. */
#define VDP_XMLNS "https://virt-dataplane.org/xmlns/dataplane/1"
#define VDP_XMLNS_PREFIX "vdp"

typedef struct vdp_domain vdp_domain;

/* The worker placements of one virt-dataplane-blk backend recorded in the
 * metadata (apply --backend=vhost-user).  Untrusted: a cpuset that does
 * not parse is NULL, as is an unpinned worker's. */
struct vdp_backend_workers {
  char *target;             /* the disk it serves (may be NULL) */
  unsigned n_workers;
  hwloc_bitmap_t *cpus;     /* n_workers entries */
};

struct vdp_disk {
  char *target;             /* "vda"; never NULL (a disk without one is skipped) */
  char *type;               /* file, block, network, volume, vhostuser, nvme, dir, ... */
  char *device;             /* disk, cdrom, lun, floppy */
  char *bus;                /* virtio, scsi, sata, ide, usb, ... (NULL: unset) */
  char *source;             /* file or dev path; NULL for other types */
  char *driver_type;        /* image format: raw, qcow2, ... (NULL: unset) */
  char *cache, *io;         /* driver attributes (NULL: unset) */
  char *address_type;       /* pci, ccw, drive, ... (NULL: unset) */
  unsigned queues;          /* 0: unset */
  unsigned queues_explicit; /* queues the domain's owner set (not virt-dataplane), 0: none */
  unsigned iothread;        /* iothread='N', 0: unset */
  unsigned n_mapped;        /* iothread ids under <driver><iothreads> */
  unsigned *mapped;
  GArray **mapped_queues;   /* n_mapped entries: each iothread's <queue> ids (guint) */
  bool readonly;
};

struct vdp_controller {
  char *type, *model;       /* "scsi", "virtio-scsi" */
  unsigned index;
  char *address_type;
  unsigned queues, iothread, n_mapped;
  unsigned queues_explicit; /* as for disks */
  unsigned *mapped;         /* iothread ids under <driver><iothreads> */
  GArray **mapped_queues;   /* n_mapped entries, as for disks */
};

/* A <numatune><memnode>. */
struct vdp_memnode {
  unsigned cellid;
  char *mode;               /* NULL: strict */
  hwloc_bitmap_t nodeset;   /* may be NULL */
};

struct vdp_cell {
  unsigned id;
  hwloc_bitmap_t cpus;
  uint64_t memory_kib;
};

struct vdp_domain {
  char *name;
  char *uuid;
  char *type;               /* kvm, qemu, test, ... */
  char *arch;

  unsigned vcpus;           /* maximum */
  unsigned vcpus_current;   /* = vcpus when unset */
  char *vcpu_placement;     /* static, auto (NULL: unset) */
  hwloc_bitmap_t vcpu_cpuset; /* <vcpu cpuset=> or NULL */
  unsigned sockets, dies, cores, threads;   /* guest CPU topology, 0 when unset */

  uint64_t memory_kib;
  bool memory_shared;       /* <memoryBacking><access mode='shared'/> */

  /* cputune; arrays of n entries, NULL where unset */
  hwloc_bitmap_t *vcpupin;  /* indexed by vCPU, vcpus entries */
  hwloc_bitmap_t emulatorpin;
  unsigned n_iothreadpin;
  unsigned *iothreadpin_id;
  hwloc_bitmap_t *iothreadpin;
  bool has_sched;           /* vcpusched/iothreadsched present */
  unsigned max_sched_iothread; /* highest IOThread id named by iothreadsched */

  char *numa_mode;          /* numatune memory mode (NULL: no <memory>) */
  char *numa_placement;
  hwloc_bitmap_t numa_nodeset;
  unsigned n_memnodes;
  struct vdp_memnode *memnodes;
  hwloc_bitmap_t memnode_nodes;  /* union of the <memnode> nodesets, or NULL */

  unsigned n_cells;
  struct vdp_cell *cells;

  unsigned iothreads;       /* <iothreads> count, at least the ids listed */
  unsigned n_iothreadids;
  unsigned *iothreadids;
  int *iothread_poll_max;   /* per <iothreadids> entry: <poll max>, -1 when unset */

  unsigned n_disks;
  struct vdp_disk *disks;
  unsigned n_controllers;
  struct vdp_controller *controllers;

  /* This project's metadata, when present. */
  bool tuned;
  bool tuned_place;         /* virt-dataplane wrote the pins (not left foreign ones) */
  bool tuned_iothreadpin;   /* foreign pins kept, and its <iothreadpin>s are virt-dataplane's */
  char *tuned_profile;
  char *tuned_hash;
  unsigned n_backends;      /* recorded virt-dataplane-blk backends */
  struct vdp_backend_workers *backends;
};

/* Parses the domain in @doc.  Fails, naming @what (a file name or domain
 * name), when the root is not <domain> or a value it needs is malformed.
 * Free with vdp_domain_free(). */
struct vdp_domain *vdp_domain_parse (xmlDocPtr doc, const char *what, GError **error);

/* Reads and parses an XML file into a document; errors name the file and
 * carry libxml2's first message.  Indentation is dropped (vdp_xml_format()
 * indents as libvirt does).  The documents of one thread share its parser's
 * name dictionary, which is not thread-safe: change or free a document in
 * the thread that read it (or while that thread reads nothing), or work on
 * a copy (xmlCopyDoc() copies have no dictionary); reading and formatting
 * it anywhere is fine. */
xmlDocPtr vdp_xml_read_file (const char *path, GError **error);
xmlDocPtr vdp_xml_read_memory (const char *text, const char *what, GError **error);

void vdp_domain_free (struct vdp_domain *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_domain, vdp_domain_free)

/* Whether @disk can be served by IOThreads: a virtio disk other than
 * vhost-user/vDPA on a PCI or CCW address (or none yet). */
bool vdp_disk_iothread_capable (const struct vdp_disk *disk);

/* Whether @c is a virtio-scsi controller that can take an IOThread. */
bool vdp_controller_iothread_capable (const struct vdp_controller *c);

/* The controller a disk on a SCSI bus sits on, or NULL. */
const struct vdp_controller *vdp_domain_find_controller (const struct vdp_domain *d,
                                                         const char *type, unsigned index);

/* The first child element of @parent (may be NULL) named @name, without a
 * namespace, or NULL. */
xmlNodePtr vdp_xml_child (xmlNodePtr parent, const char *name);

/* This project's <metadata> element (VDP_XMLNS "dataplane") of the domain
 * in @doc, or NULL. */
xmlNodePtr vdp_xml_dataplane_node (xmlDocPtr doc);
