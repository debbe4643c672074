/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --color: when output is coloured, and unified diffs coloured as git and diff(1) colour them. */
#pragma once

#include <glib.h>

typedef enum {
  VDP_COLOR_AUTO,           /* when stdout is a terminal that is not "dumb" and NO_COLOR is unset */
  VDP_COLOR_ALWAYS,
  VDP_COLOR_NEVER,
  VDP_COLOR_LAST
} VdpColorMode;

/* Parses a --color argument ("auto", "always", "never"); FALSE with a
 * usage error quoting it otherwise. */
gboolean vdp_color_parse (const char *s, VdpColorMode *mode, GError **error);

/* Whether output to file descriptor @fd is coloured under @mode. */
gboolean vdp_color_enabled (VdpColorMode mode, int fd);

/* @diff (a unified diff) with ANSI colours: headers bold, hunk lines
 * cyan, removed lines red, added lines green.  Returns a new string. */
char *vdp_color_diff (const char *diff);
