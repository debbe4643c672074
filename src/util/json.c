/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON output helpers over json-glib. */
#include <config.h>

#include "cpuset.h"
#include "json.h"

char *
vdp_json_to_string (JsonNode *root, gboolean pretty)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_pretty (gen, pretty);
  json_generator_set_indent (gen, 2);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  return g_strconcat (text, "\n", NULL);
}

void
vdp_json_add_int (JsonBuilder *b, const char *name, gint64 v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, v);
}

void
vdp_json_add_bool (JsonBuilder *b, const char *name, gboolean v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, v);
}

void
vdp_json_add_string (JsonBuilder *b, const char *name, const char *v)
{
  json_builder_set_member_name (b, name);
  if (v)
    json_builder_add_string_value (b, v);
  else
    json_builder_add_null_value (b);
}

void
vdp_json_add_cpuset (JsonBuilder *b, const char *name, hwloc_const_bitmap_t set)
{
  g_autofree char *s = vdp_cpuset_format (set);

  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, s);
}

void
vdp_json_add_index_array (JsonBuilder *b, const char *name, hwloc_const_bitmap_t set)
{
  int i;

  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  if (set)
    hwloc_bitmap_foreach_begin (i, set)
      json_builder_add_int_value (b, i);
    hwloc_bitmap_foreach_end ();
  json_builder_end_array (b);
}

void
vdp_json_add_int_or_null (JsonBuilder *b, const char *name, gint64 v)
{
  json_builder_set_member_name (b, name);
  if (v < 0)
    json_builder_add_null_value (b);
  else
    json_builder_add_int_value (b, v);
}

void
vdp_json_add_double_or_null (JsonBuilder *b, const char *name, double v)
{
  json_builder_set_member_name (b, name);
  if (v < 0)
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, v);
}
