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

static int
exit_rank (int status)
{
  switch (status) {
  case VDP_EXIT_OK: return 0;
  case VDP_EXIT_FINDINGS:
  case VDP_EXIT_PENDING: return 1;
  case VDP_EXIT_ERROR: return 2;
  case VDP_EXIT_INTERRUPTED: return 3;
  case VDP_EXIT_USAGE: return 4;
  default: return 2;        /* anything else counts as an error */
  }
}

int
vdp_exit_worst (int a, int b)
{
  return exit_rank (b) > exit_rank (a) ? b : a;
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
