/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Applies a plan to a domain document with minimal edits, and reverts it from the metadata. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "planner.h"

/* Applies @dp (planned from the domain in @doc) to @doc: only the elements
 * and attributes the plan owns change; everything else, comments included,
 * stays.  Records the previous value of everything it changes in
 * <metadata><vdp:dataplane>, keeping what an earlier apply recorded.
 * Returns 0, or -1 with @error set. */
int vdp_xmlpatch_apply (xmlDocPtr doc, const struct vdp_plan *plan,
                        const struct vdp_domain_plan *dp, GError **error);

/* Serves the disks @disks (struct vdp_backend_disk, see backend.h) with
 * virt-dataplane-blk: each becomes a vhost-user disk on its socket, with
 * <reconnect>, keeping target, boot order, address and alias; guest memory
 * becomes shared (memfd, or access='shared' on hugepages and files); the
 * original disk and memory backing are recorded for revert, and the
 * backend settings are written in the metadata (replacing earlier ones;
 * with no disks, earlier backend settings are removed).  Call after
 * vdp_xmlpatch_apply().  Returns 0, or -1 with @error set. */
int vdp_xmlpatch_backend (xmlDocPtr doc, GPtrArray *disks, GError **error);

/* Restores what the recorded apply changed and removes the metadata.
 * Returns 1 when restored, 0 when the domain carries no metadata of ours,
 * -1 with @error set when the metadata is damaged. */
int vdp_xmlpatch_revert (xmlDocPtr doc, GError **error);

/* Serialises @doc as libvirt writes domains: no XML declaration, a final
 * newline.  Returns a newly allocated string (g_free). */
char *vdp_xml_format (xmlDocPtr doc);
