/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unified diffs of two texts, through diff(1) from diffutils. */
#include <config.h>

#include <glib/gstdio.h>

#include "diff.h"
#include "error.h"

char *
vdp_unified_diff (const char *name, const char *before, const char *after, GError **error)
{
  g_autofree char *dir = g_dir_make_tmp ("vdp-diff-XXXXXX", error);
  g_autofree char *a = NULL, *b = NULL, *la = NULL, *lb = NULL, *out = NULL, *err = NULL;
  int status = 0;

  if (dir == NULL)
    return NULL;
  a = g_build_filename (dir, "a", NULL);
  b = g_build_filename (dir, "b", NULL);
  la = g_strconcat ("a/", name, NULL);
  lb = g_strconcat ("b/", name, NULL);
  if (g_file_set_contents (a, before, -1, error) && g_file_set_contents (b, after, -1, error)) {
    const char *argv[] = { "diff", "-u", "--label", la, "--label", lb, a, b, NULL };
    if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                       &status, error))
      g_clear_pointer (&out, g_free);
    else if (!g_spawn_check_wait_status (status, NULL) && (out == NULL || *out == '\0')) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "diff failed: %s", err ? err : "");
      g_clear_pointer (&out, g_free);
    }
  } else {
    g_clear_pointer (&out, g_free);
  }
  g_unlink (a);
  g_unlink (b);
  g_rmdir (dir);
  return g_steal_pointer (&out);
}
