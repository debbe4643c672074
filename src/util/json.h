/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON output helpers over json-glib. */
#pragma once

#include <hwloc.h>
#include <json-glib/json-glib.h>

/* Serialises @root (pretty-printed with two-space indents when @pretty).
 * Returns a newly allocated string ending in a newline (g_free). */
char *vdp_json_to_string (JsonNode *root, gboolean pretty);

/* Add member @name with a number, a boolean, or a string (NULL: null). */
void vdp_json_add_int (JsonBuilder *b, const char *name, gint64 v);
void vdp_json_add_bool (JsonBuilder *b, const char *name, gboolean v);
void vdp_json_add_string (JsonBuilder *b, const char *name, const char *v);

/* Add member @name with a number, or null when @v is negative (unknown). */
void vdp_json_add_int_or_null (JsonBuilder *b, const char *name, gint64 v);
void vdp_json_add_double_or_null (JsonBuilder *b, const char *name, double v);

/* Adds member @name with @set in libvirt cpuset syntax ("" when empty). */
void vdp_json_add_cpuset (JsonBuilder *b, const char *name, hwloc_const_bitmap_t set);

/* Adds member @name as an array of the numbers in @set. */
void vdp_json_add_index_array (JsonBuilder *b, const char *name, hwloc_const_bitmap_t set);
