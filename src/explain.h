/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The explanation of a plan: a table per domain with its reasons, the host's summary, and the same as JSON. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "planner.h"

/* Appends the explanation of one domain's plan: its threads with their
 * PUs, node and LLC, its memory, its disks' settings and queue maps with
 * the locality the final pins give each queue, @extra (lines about the
 * devices the caller adds, such as virt-dataplane-blk's disks; may be
 * NULL), then the reasons. */
void vdp_explain_domain (GString *out, const struct vdp_plan *plan,
                         const struct vdp_domain_plan *dp, const char *extra);

/* Appends the host's summary: overcommit of vCPUs and memory counting
 * every domain of the host, each node's pool and memory, and the domains
 * that do not fit. */
void vdp_explain_host (GString *out, const struct vdp_plan *plan);

/* Adds members to the object being built in @b. */
typedef void (*VdpExplainJsonExtra) (JsonBuilder *b, gpointer data);

/* Adds one domain's plan as a JSON object to @b (inside an array);
 * @file may be NULL; @extra (may be NULL) is called with @data to add
 * the caller's members after the devices. */
void vdp_explain_json_domain (JsonBuilder *b, const struct vdp_plan *plan,
                              const struct vdp_domain_plan *dp, const char *file,
                              VdpExplainJsonExtra extra, gpointer data);

/* Adds the member "host" (the summary) to the object being built in @b. */
void vdp_explain_json_host (JsonBuilder *b, const struct vdp_plan *plan);
