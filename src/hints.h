/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-disk facts the pure planner needs: device locality and O_DIRECT support. */
#pragma once

#include <glib.h>

#include "domain.h"
#include "planner.h"
#include "topology.h"

/* A --device PATH=DEVNAME hint: sources at PATH, or under the directory
 * PATH, live on block device DEVNAME of the topology. */
struct vdp_device_hint {
  char *path;
  char *device;
};

/* Parses "PATH=DEVNAME"; usage error quoting @spec when malformed. */
gboolean vdp_device_hint_parse (const char *spec, struct vdp_device_hint *out, GError **error);

/* A GArray of struct vdp_device_hint that frees its entries. */
GArray *vdp_device_hints_new (void);

/* Parses a --device argument into @hints; usage error quoting it. */
gboolean vdp_device_hints_add (GArray *hints, const char *spec, GError **error);

/* Inserts copies of @n hints @from into @hints at position @at (its
 * length: at the end). */
void vdp_device_hints_insert (GArray *hints, guint at, const struct vdp_device_hint *from,
                              unsigned n);

/* Checks that every hint names a block device of @topo. */
gboolean vdp_device_hints_check (const struct vdp_topology *topo,
                                 const struct vdp_device_hint *hints, unsigned n,
                                 GError **error);

/* How a disk source is found on the host that runs it: sets h->node (or
 * h->locality saying why it is unknown) and h->odirect (with
 * h->odirect_note).  Returns 1 when the source exists there, 0 when it
 * does not, -1 when that cannot be told. */
typedef int (*vdp_source_locator) (const struct vdp_topology *topo, const char *source,
                                   struct vdp_disk_hint *h, void *data);

/* On this machine: the source's block devices through sysfs and
 * mountinfo, its existence and O_DIRECT support by trying. */
int vdp_locate_local (const struct vdp_topology *topo, const char *source,
                      struct vdp_disk_hint *h, void *data);

/* With no access to the host: /dev/NAME sources by their name in the
 * topology, nothing else. */
int vdp_locate_by_name (const struct vdp_topology *topo, const char *source,
                        struct vdp_disk_hint *h, void *data);

/* Sets @h from block device @name of @topo: its node, or why it has none. */
void vdp_disk_hint_from_device (const struct vdp_topology *topo, const char *name,
                                struct vdp_disk_hint *h);

/* Computes one vdp_disk_hint per disk of @dom: @hints first, then
 * @locate (with @data).  A source that does not exist on the host (named
 * @where in the message) is a warning appended to @warnings, one line.
 * Free with vdp_disk_hints_free(). */
struct vdp_disk_hint *vdp_disk_hints_compute (const struct vdp_topology *topo,
                                              const struct vdp_domain *dom,
                                              const struct vdp_device_hint *hints, unsigned n,
                                              vdp_source_locator locate, void *data,
                                              const char *where, GPtrArray *warnings);
void vdp_disk_hints_free (struct vdp_disk_hint *h, unsigned n);
