/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bounds on inputs, so that a bad input is one clear line instead of minutes of work. */
#include <config.h>

#include <string.h>
#include <sys/stat.h>

#include "bounds.h"
#include "util/error.h"

/* Counts of a synthetic description stop growing here. */
#define SATURATED G_GUINT64_CONSTANT (1000000000000)

static char *
describe_size (guint64 bytes)
{
  return bytes >= 1024 * 1024 ? g_strdup_printf ("%.1f MiB", (double) bytes / (1024.0 * 1024))
                              : g_strdup_printf ("%" G_GUINT64_FORMAT " bytes", bytes);
}

static gboolean
too_large (guint64 size, guint64 max, const char *what, GError **error)
{
  g_autofree char *s = NULL, *m = NULL;

  if (size <= max)
    return TRUE;
  s = describe_size (size);
  m = describe_size (max);
  g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s is %s: more than the %s allowed", what, s, m);
  return FALSE;
}

gboolean
vdp_bounds_file (const char *path, const char *what, guint64 max, GError **error)
{
  g_autofree char *w = g_strdup_printf ("%s '%s'", what, path);
  struct stat st;

  if (stat (path, &st) < 0 || !S_ISREG (st.st_mode))
    return TRUE;
  return too_large ((guint64) st.st_size, max, w, error);
}

gboolean
vdp_bounds_domain_text (const char *xml, const char *what, GError **error)
{
  g_autofree char *w = g_strdup_printf ("the XML of domain '%s'", what);
  return too_large (strlen (xml), VDP_BOUND_DOMAIN_BYTES, w, error);
}

gboolean
vdp_bounds_domain_doc (xmlDocPtr doc, const char *what, GError **error)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  unsigned disks = 0;

  for (xmlNodePtr d = root ? root->children : NULL; d; d = d->next)
    if (d->type == XML_ELEMENT_NODE && strcmp ((const char *) d->name, "devices") == 0)
      for (xmlNodePtr c = d->children; c; c = c->next)
        disks += c->type == XML_ELEMENT_NODE && strcmp ((const char *) c->name, "disk") == 0;
  if (disks > VDP_BOUND_DISKS) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "domain '%s' has %u disks: more than the %u allowed", what, disks,
                 VDP_BOUND_DISKS);
    return FALSE;
  }
  return TRUE;
}

gboolean
vdp_bounds_topology (guint64 pus, guint64 nodes, const char *what, GError **error)
{
  if (pus > VDP_BOUND_PUS || nodes > VDP_BOUND_NODES) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "%s has %s%" G_GUINT64_FORMAT " PUs and %s%" G_GUINT64_FORMAT
                 " NUMA nodes: more than the %u PUs or %u nodes allowed", what,
                 pus == SATURATED ? "more than " : "", pus,
                 nodes == SATURATED ? "more than " : "", nodes, VDP_BOUND_PUS,
                 VDP_BOUND_NODES);
    return FALSE;
  }
  return TRUE;
}

gboolean
vdp_bounds_synthetic (const char *desc, GError **error)
{
  g_auto (GStrv) tokens = g_strsplit_set (desc, " \t\n", -1);
  g_autofree char *what = g_strdup_printf ("synthetic topology '%s'", desc);
  guint64 objects = 1, nodes = 0;

  /* "type:N[(attributes)]" levels multiply; "[numa...]" attaches one node
   * to each object of the level before it; counting stops past the limit */
  for (char **t = tokens; *t; t++) {
    const char *colon = strchr (*t, ':');
    guint64 n = 0;

    if (**t == '[') {
      if (g_ascii_strncasecmp (*t + 1, "numa", 4) == 0 && nodes == 0)
        nodes = objects;
      continue;
    }
    if (colon == NULL || !g_ascii_isdigit (colon[1]))
      continue;
    n = g_ascii_strtoull (colon + 1, NULL, 10);
    if (n > 0)
      objects = n > SATURATED / objects ? SATURATED : objects * n;
    if (nodes == 0 && (g_ascii_strncasecmp (*t, "node", 4) == 0
                       || g_ascii_strncasecmp (*t, "numa", 4) == 0))
      nodes = objects;
  }
  return vdp_bounds_topology (objects, nodes ? nodes : 1, what, error);
}
