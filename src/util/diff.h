/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unified diffs of two texts, through diff(1) from diffutils. */
#pragma once

#include <glib.h>

/* The unified diff from @before to @after, labelled a/NAME and b/NAME;
 * "" when they are equal.  Returns a new string (g_free), or NULL with
 * @error set. */
char *vdp_unified_diff (const char *name, const char *before, const char *after, GError **error);
