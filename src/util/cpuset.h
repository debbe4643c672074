/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CPU and node sets in libvirt's list syntax ("0-3,8,^2"), held in hwloc bitmaps. */
#pragma once

#include <glib.h>
#include <hwloc.h>

/* Largest CPU or node number a set may name. */
#define VDP_CPUSET_MAX 65535

/* Parses @str in libvirt's cpuset syntax: comma-separated items, each "N",
 * "N-M" or "^N" (removes N from what the items before it selected); blanks
 * around items are allowed.  A set that selects nothing is an error.
 * Returns a new bitmap (free with hwloc_bitmap_free) or NULL with @error set
 * to a message quoting @str. */
hwloc_bitmap_t vdp_cpuset_parse (const char *str, GError **error);

/* Formats @set as libvirt writes cpusets ("0-3,8"); "" for an empty set.
 * Returns a newly allocated string (g_free). */
char *vdp_cpuset_format (hwloc_const_bitmap_t set);
