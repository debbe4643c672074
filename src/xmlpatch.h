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

/* Restores what the recorded apply changed and removes the metadata.
 * Returns 1 when restored, 0 when the domain carries no metadata of ours,
 * -1 with @error set when the metadata is damaged. */
int vdp_xmlpatch_revert (xmlDocPtr doc, GError **error);

/* Serialises @doc as libvirt writes domains: no XML declaration, a final
 * newline.  Returns a newly allocated string (g_free). */
char *vdp_xml_format (xmlDocPtr doc);
