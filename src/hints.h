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

/* Checks that every hint names a block device of @topo. */
gboolean vdp_device_hints_check (const struct vdp_topology *topo,
                                 const struct vdp_device_hint *hints, unsigned n,
                                 GError **error);

/* Computes one vdp_disk_hint per disk of @dom.  On the local host
 * (topology kind HOST) sources are resolved and probed for O_DIRECT; for
 * another host only /dev/NAME sources and @hints can say where a disk
 * lives.  Warnings (one line each) are appended to @warnings.
 * Free with vdp_disk_hints_free(). */
struct vdp_disk_hint *vdp_disk_hints_compute (const struct vdp_topology *topo,
                                              const struct vdp_domain *dom,
                                              const struct vdp_device_hint *hints, unsigned n,
                                              GPtrArray *warnings);
void vdp_disk_hints_free (struct vdp_disk_hint *h, unsigned n);
