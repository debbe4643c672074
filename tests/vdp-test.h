/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers for the C tests: data files, schema validation, planning a document. */
#pragma once

#include <glib.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>

#include "planner.h"

/* $VDP_SRCDIR/REL: a data file of the source tree (g_free). */
char *vdp_test_data (const char *rel);

/* Compiles a RelaxNG schema; aborts the test program when it cannot. */
xmlRelaxNGPtr vdp_test_schema_load (const char *path);

/* TRUE when @doc validates against @schema; else FALSE with the first
 * error in *why (g_free) when @why is not NULL. */
gboolean vdp_test_schema_valid (xmlRelaxNGPtr schema, xmlDocPtr doc, char **why);

/* An independent check of the hard constraints (as the man page states
 * them) over @n domains, all the domains of one host: one message per
 * crossing, in a GPtrArray of strings (empty when none). */
GPtrArray *vdp_test_hard_check (const struct vdp_topology *t, const struct vdp_policy *host,
                                struct vdp_domain *const *doms, unsigned n);

/* Adds the memory @d binds to each node position to @bound, and what it
 * binds strict to @strict (may be NULL). */
void vdp_test_domain_memory (const struct vdp_topology *t, const struct vdp_domain *d,
                             guint64 *strict, guint64 *bound);

/* Plans the domains in @docs together and patches copies of them; returns
 * the patched documents (free each with xmlFreeDoc, then g_free the array),
 * or NULL with @error set. */
xmlDocPtr *vdp_test_plan_docs (const struct vdp_topology *topo, const struct vdp_policy *policy,
                               const struct vdp_caps *caps, xmlDocPtr *docs, unsigned n,
                               struct vdp_plan **plan_out, struct vdp_domain ***doms_out,
                               GError **error);
