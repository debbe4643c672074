/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --color: when output is coloured, and unified diffs coloured as git and diff(1) colour them. */
#include <config.h>

#include <string.h>
#include <unistd.h>

#include "util/color.h"
#include "util/error.h"

#define SGR_RESET "\033[m"

gboolean
vdp_color_parse (const char *s, VdpColorMode *mode, GError **error)
{
  static const char *const names[] = { "auto", "always", "never" };

  for (int i = 0; i < VDP_COLOR_LAST; i++)
    if (g_strcmp0 (s, names[i]) == 0) {
      *mode = (VdpColorMode) i;
      return TRUE;
    }
  g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "invalid --color '%s' (auto, always or never)", s);
  return FALSE;
}

gboolean
vdp_color_enabled (VdpColorMode mode, int fd)
{
  const char *term = g_getenv ("TERM");

  if (mode != VDP_COLOR_AUTO)
    return mode == VDP_COLOR_ALWAYS;
  /* https://no-color.org: set to anything non-empty, no colour */
  if (g_getenv ("NO_COLOR") && *g_getenv ("NO_COLOR"))
    return FALSE;
  return isatty (fd) && term && strcmp (term, "dumb") != 0;
}

char *
vdp_color_diff (const char *diff)
{
  GString *out = g_string_sized_new (strlen (diff) + 256);
  const char *p = diff;

  while (*p) {
    const char *nl = strchr (p, '\n');
    size_t len = nl ? (size_t) (nl - p) : strlen (p);
    const char *sgr = NULL;

    if (len >= 4 && (strncmp (p, "--- ", 4) == 0 || strncmp (p, "+++ ", 4) == 0))
      sgr = "\033[1m";
    else if (len >= 2 && strncmp (p, "@@", 2) == 0)
      sgr = "\033[36m";
    else if (*p == '-')
      sgr = "\033[31m";
    else if (*p == '+')
      sgr = "\033[32m";
    if (sgr && len > 0) {
      g_string_append (out, sgr);
      g_string_append_len (out, p, (gssize) len);
      g_string_append (out, SGR_RESET);
    } else {
      g_string_append_len (out, p, (gssize) len);
    }
    if (nl)
      g_string_append_c (out, '\n');
    p += len + (nl ? 1 : 0);
  }
  return g_string_free (out, FALSE);
}
