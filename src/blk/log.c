/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backend's log: one line per event on stderr, filtered by level. */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>

#include "log.h"

int blk_log_level = BLK_LOG_WARNING;
const char *const blk_log_names[BLK_LOG_LAST] = { "error", "warning", "info", "debug" };

void
blk_log (int level, const char *fmt, ...)
{
  char line[1024];
  va_list ap;

  if (level > blk_log_level)
    return;
  va_start (ap, fmt);
  vsnprintf (line, sizeof (line), fmt, ap);
  va_end (ap);
  /* one write per line: workers log concurrently */
  fprintf (stderr, "virt-dataplane-blk: %s: %s\n", blk_log_names[level], line);
}
