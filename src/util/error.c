/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Error domain helpers: exit status mapping and one-line printing. */
#include <config.h>

#include <stdio.h>

#include "error.h"

G_DEFINE_QUARK (vdp-error-quark, vdp_error)

int
vdp_error_exit_status (const GError *err)
{
  if (err && err->domain == VDP_ERROR && err->code == VDP_ERROR_USAGE)
    return VDP_EXIT_USAGE;
  return VDP_EXIT_ERROR;
}

void
vdp_error_print (const char *prog, const GError *err)
{
  g_autofree char *msg = g_strdup (err ? err->message : "unknown error");
  g_strstrip (msg);
  for (char *p = msg; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  fprintf (stderr, "%s: %s\n", prog, msg);
}
