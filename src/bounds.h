/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bounds on inputs, so that a bad input is one clear line instead of minutes of work. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

/* A domain XML (file or from libvirt) is at most this large, */
#define VDP_BOUND_DOMAIN_BYTES (16u * 1024 * 1024)
/* and has at most this many disks. */
#define VDP_BOUND_DISKS 256
/* A topology (synthetic, hwloc XML, from libvirt) has at most this many
 * PUs and NUMA nodes, */
#define VDP_BOUND_PUS 8192
#define VDP_BOUND_NODES 1024
/* and an hwloc XML topology file is at most this large. */
#define VDP_BOUND_TOPOLOGY_BYTES (64u * 1024 * 1024)

/* Checks that file @path (@what: "domain file") is at most @max bytes;
 * FALSE with an input error naming it and its size otherwise.  A file
 * that cannot be examined passes (reading it reports why). */
gboolean vdp_bounds_file (const char *path, const char *what, guint64 max, GError **error);

/* Checks the size of a domain XML text read from elsewhere (@what names
 * it). */
gboolean vdp_bounds_domain_text (const char *xml, const char *what, GError **error);

/* Checks the disks of the domain in @doc (@what names it) before it is
 * parsed. */
gboolean vdp_bounds_domain_doc (xmlDocPtr doc, const char *what, GError **error);

/* Checks how many PUs and NUMA nodes a synthetic description makes
 * before hwloc builds them. */
gboolean vdp_bounds_synthetic (const char *desc, GError **error);

/* Checks the PUs and nodes of a loaded topology (@what names it). */
gboolean vdp_bounds_topology (guint64 pus, guint64 nodes, const char *what, GError **error);
