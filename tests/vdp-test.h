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

/* Plans the domains in @docs together and patches copies of them; returns
 * the patched documents (free each with xmlFreeDoc, then g_free the array),
 * or NULL with @error set. */
xmlDocPtr *vdp_test_plan_docs (const struct vdp_topology *topo, const struct vdp_policy *policy,
                               const struct vdp_caps *caps, xmlDocPtr *docs, unsigned n,
                               struct vdp_plan **plan_out, struct vdp_domain ***doms_out,
                               GError **error);
