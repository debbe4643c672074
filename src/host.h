/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One libvirt host: its connection, its topology, its stack, its device hints, and where each came from. */
#pragma once

#include <glib.h>

#include "caps.h"
#include "conn.h"
#include "hints.h"
#include "planner.h"
#include "topology.h"

/* How a host is named on the command line: -c URI, or a line of a --hosts
 * file ("URI [topology=FILE|SYNTHETIC] [device=PATH=DEVNAME]..."). */
typedef struct vdp_host_spec vdp_host_spec;

struct vdp_host_spec {
  char *uri;                /* NULL: libvirt's default */
  char *topology;           /* topology= of its line, or NULL */
  GArray *devices;          /* struct vdp_device_hint from device= items */
  char *origin;             /* "-c", "FILE:LINE" */
};

struct vdp_host_spec *vdp_host_spec_new (const char *uri, const char *origin);
void vdp_host_spec_free (struct vdp_host_spec *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_host_spec, vdp_host_spec_free)

/* Parses one line of a hosts file (@origin, "FILE:LINE", names it in
 * errors; a relative topology= file is taken from @dir).  Returns NULL
 * without error for blank and comment lines; NULL with a usage error
 * quoting the item for a bad one. */
struct vdp_host_spec *vdp_host_spec_parse (const char *line, const char *origin, const char *dir,
                                           GError **error);

/* Reads a hosts file, appending one spec per host line to @specs (a
 * GPtrArray freeing with vdp_host_spec_free).  Usage errors name the file
 * and line. */
gboolean vdp_host_specs_read (const char *file, GPtrArray *specs, GError **error);

/* What the command line says about every host. */
struct vdp_host_opts {
  const char *topology;     /* --topology FILE|SYNTHETIC, or NULL */
  const struct vdp_device_hint *hints;  /* --device, n_hints of them */
  unsigned n_hints;
  const char *target;       /* --target, or NULL: the host's own stack */
  gboolean force;           /* plan on a given topology that disagrees with the host */
};

/* Where a host's topology came from, first match wins. */
typedef enum {
  VDP_HOST_TOPOLOGY_HOSTS_FILE,   /* topology= on the host's line */
  VDP_HOST_TOPOLOGY_OPTION,       /* --topology */
  VDP_HOST_TOPOLOGY_HWLOC,        /* the host is this machine */
  VDP_HOST_TOPOLOGY_CAPABILITIES, /* libvirt's capabilities */
  VDP_HOST_TOPOLOGY_NODEINFO,     /* virNodeGetInfo's counts */
  VDP_HOST_TOPOLOGY_LAST
} VdpHostTopologySource;

/* "hosts-file", "option", "hwloc", "capabilities", "nodeinfo". */
extern const char *const vdp_host_topology_source_names[];

typedef struct vdp_host vdp_host;

/* Opens the host @spec names, with @opts (both copied): connects, and
 * nothing more until asked.  A URI opened again in the same process gives
 * the same host.  NULL with @error set when the host cannot be reached.
 * Free with vdp_host_free(). */
struct vdp_host *vdp_host_open (const struct vdp_host_spec *spec, const struct vdp_host_opts *opts,
                                GError **error);
void vdp_host_free (struct vdp_host *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_host, vdp_host_free)

/* The URI as libvirt names it, and the connection (owned by the host). */
const char *vdp_host_uri (const struct vdp_host *h);
struct vdp_conn *vdp_host_conn (struct vdp_host *h);

/* Whether the host is the machine this program runs on, decided from what
 * the connection says (host UUID, hostname, CPUs and memory), not from the
 * URI; *why (may be NULL) says what decided it (owned by the host). */
gboolean vdp_host_is_local (struct vdp_host *h, const char **why);

/* The topology to plan the host on, found once (see
 * VdpHostTopologySource); NULL with @error set when none can be had, or
 * when a given one disagrees with the host's CPUs, nodes or memory and
 * the options do not force it.  Owned by the host. */
const struct vdp_topology *vdp_host_topology (struct vdp_host *h, GError **error);

/* Where the topology came from, and a line saying it ("libvirt
 * capabilities of test:///default"); valid after vdp_host_topology(). */
VdpHostTopologySource vdp_host_topology_source (const struct vdp_host *h);
const char *vdp_host_topology_origin (const struct vdp_host *h);

/* Free memory of each NUMA node of the host in bytes, -1 when the
 * connection cannot tell (index: node id; *n entries).  Owned by the host. */
const gint64 *vdp_host_free_memory (struct vdp_host *h, unsigned *n);

/* What virNodeGetInfo says; FALSE with @error set when it fails. */
gboolean vdp_host_node_info (struct vdp_host *h, struct vdp_node_info *out, GError **error);

/* The device hints of this host: its hosts-file line's, then --device;
 * *n of them (owned by the host).  vdp_host_device_hint_origin() says
 * where hint @i came from ("FILE:LINE", "--device"). */
const struct vdp_device_hint *vdp_host_device_hints (const struct vdp_host *h, unsigned *n);
const char *vdp_host_device_hint_origin (const struct vdp_host *h, unsigned i);

/* The stack to plan for: the host's own (its libvirt and QEMU), or the
 * options' --target.  *validate says whether the host's schema knows every
 * element such a plan writes.  *origin (may be NULL) says which it is. */
gboolean vdp_host_stack (struct vdp_host *h, struct vdp_caps *caps, gboolean *validate,
                         const char **origin, GError **error);

/* One vdp_disk_hint per disk of @dom, found on the host that runs it: on
 * this machine from its filesystems; on another host from libvirt's
 * storage volumes and node devices (block device -> PCI controller ->
 * NUMA node); device hints first.  A source that does not exist there is
 * a warning of its own; sources whose place cannot be known are warned
 * about once per host, naming the hint that would tell.  Warnings go to
 * @warnings.  Free with vdp_disk_hints_free().  Needs vdp_host_topology(). */
struct vdp_disk_hint *vdp_host_disk_hints (struct vdp_host *h, const struct vdp_domain *dom,
                                           GPtrArray *warnings);

/* Moves the warnings the host gathered while finding its topology and its
 * disks (a synthetic topology, unknown disk locality) to @to, once. */
void vdp_host_take_warnings (struct vdp_host *h, GPtrArray *to);

/* ---- for tests ------------------------------------------------------------ */

/* Checks a given topology against what the host reports: online CPUs,
 * NUMA nodes, memory (within 10% of either the cells' total or the node
 * info's).  @cells_cpus may be NULL (no cells).  FALSE with @error set
 * naming both sides. */
gboolean vdp_host_check_topology (const struct vdp_topology *t, const char *what, const char *uri,
                                  const struct vdp_node_info *info, unsigned n_cells,
                                  guint64 cells_memory, hwloc_const_bitmap_t cells_cpus,
                                  GError **error);
