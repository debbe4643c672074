/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's backend configuration (backend.conf): where backends run, what they may open, their limits. */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "backend-conf.h"
#include "backend.h"
#include "util/error.h"

#define GROUP "backend"

const char *const vdp_supervisor_names[] = { "auto", "systemd", "builtin", NULL };

void
vdp_backend_conf_free (struct vdp_backend_conf *c)
{
  if (c == NULL)
    return;
  g_free (c->path);
  g_free (c->runtime_dir);
  g_free (c->log_dir);
  g_strfreev (c->allowed);
  g_free (c->binary);
  g_free (c->user);
  g_free (c->group);
  g_free (c->qemu_conf);
  g_free (c);
}

static struct vdp_backend_conf *
defaults (void)
{
  struct vdp_backend_conf *c = g_new0 (struct vdp_backend_conf, 1);
  static const char *const allowed[] = { "/var/lib/libvirt/images", NULL };

  c->runtime_dir = g_strdup (VDP_BACKEND_RUNTIME_DIR);
  c->log_dir = g_strdup ("/var/log/virt-dataplane");
  c->allowed = g_strdupv ((char **) allowed);
  c->binary = g_strdup (VDP_LIBEXECDIR "/virt-dataplane-blk");
  c->qemu_conf = g_strdup ("/etc/libvirt/qemu.conf");
  c->max_workers = 8;
  c->memory_limit = 1024ull << 20;
  c->start_timeout_ms = 10000;
  c->stop_timeout_ms = 10000;
  c->supervisor = VDP_SUPERVISOR_AUTO;
  return c;
}

static gboolean
bad (GError **error, const char *path, const char *key, const char *value, const char *expected)
{
  g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: key '%s': bad value '%s' (expected %s)",
               path, key, value, expected);
  return FALSE;
}

/* An absolute, normalised path: no "." or ".." component, no "//". */
static gboolean
clean_path (const char *p)
{
  g_auto (GStrv) parts = NULL;

  if (p == NULL || p[0] != '/' || strstr (p, "//"))
    return FALSE;
  parts = g_strsplit (p + 1, "/", -1);
  for (char **s = parts; *s; s++)
    if (strcmp (*s, ".") == 0 || strcmp (*s, "..") == 0)
      return FALSE;
  return TRUE;
}

static gboolean
set_path (char **field, const char *path, const char *key, const char *value, GError **error)
{
  if (!clean_path (value))
    return bad (error, path, key, value, "an absolute path without '.' or '..'");
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

static gboolean
set_uint (guint64 *out, guint64 max, const char *path, const char *key, const char *value,
          GError **error)
{
  g_autofree char *expected = NULL;

  if (g_ascii_string_to_unsigned (value, 10, 0, max, out, NULL))
    return TRUE;
  expected = g_strdup_printf ("a number from 0 to %" G_GUINT64_FORMAT, max);
  return bad (error, path, key, value, expected);
}

static gboolean
set_key (struct vdp_backend_conf *c, const char *path, const char *key, const char *value,
         GError **error)
{
  guint64 v;

  if (strcmp (key, "runtime_dir") == 0)
    return set_path (&c->runtime_dir, path, key, value, error);
  if (strcmp (key, "log_dir") == 0)
    return set_path (&c->log_dir, path, key, value, error);
  if (strcmp (key, "binary") == 0)
    return set_path (&c->binary, path, key, value, error);
  if (strcmp (key, "qemu_conf") == 0)
    return set_path (&c->qemu_conf, path, key, value, error);
  if (strcmp (key, "allowed_paths") == 0) {
    g_auto (GStrv) dirs = g_strsplit (value, ";", -1);
    g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
    for (char **d = dirs; *d; d++) {
      g_strstrip (*d);
      if (**d == '\0')
        continue;
      if (!clean_path (*d) || strcmp (*d, "/") == 0)
        return bad (error, path, key, *d, "absolute directories other than '/', separated by ';'");
      g_ptr_array_add (keep, g_strdup (*d));
    }
    g_ptr_array_add (keep, NULL);
    g_strfreev (c->allowed);
    c->allowed = (char **) g_ptr_array_free (g_steal_pointer (&keep), FALSE);
    return TRUE;
  }
  if (strcmp (key, "user") == 0 || strcmp (key, "group") == 0) {
    char **field = key[0] == 'u' ? &c->user : &c->group;
    if (*value == '\0' || strpbrk (value, ":/ \t"))
      return bad (error, path, key, value, "a user or group name, or +ID");
    g_free (*field);
    *field = g_strdup (value);
    return TRUE;
  }
  if (strcmp (key, "max_workers") == 0) {
    if (!set_uint (&v, VDP_BACKEND_MAX_QUEUES, path, key, value, error))
      return FALSE;
    if (v == 0)
      return bad (error, path, key, value, "a number from 1 to 256");
    c->max_workers = (unsigned) v;
    return TRUE;
  }
  if (strcmp (key, "memory_limit_mib") == 0) {
    if (!set_uint (&v, 1u << 20, path, key, value, error))
      return FALSE;
    c->memory_limit = v << 20;
    return TRUE;
  }
  if (strcmp (key, "start_timeout_ms") == 0 || strcmp (key, "stop_timeout_ms") == 0) {
    if (!set_uint (&v, 600000, path, key, value, error))
      return FALSE;
    if (v < 100)
      return bad (error, path, key, value, "a number from 100 to 600000");
    if (key[2] == 'a')
      c->start_timeout_ms = (unsigned) v;
    else
      c->stop_timeout_ms = (unsigned) v;
    return TRUE;
  }
  if (strcmp (key, "supervisor") == 0) {
    for (int i = 0; vdp_supervisor_names[i]; i++)
      if (strcmp (value, vdp_supervisor_names[i]) == 0) {
        c->supervisor = (VdpSupervisor) i;
        return TRUE;
      }
    return bad (error, path, key, value, "auto, systemd or builtin");
  }
  g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: unknown key '%s'", path, key);
  return FALSE;
}

struct vdp_backend_conf *
vdp_backend_conf_load (const char *path, GError **error)
{
  g_autoptr (vdp_backend_conf) c = defaults ();
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  g_auto (GStrv) groups = NULL, keys = NULL;
  const char *file = path ? path : VDP_BACKEND_CONF_FILE;

  if (!g_key_file_load_from_file (kf, file, G_KEY_FILE_NONE, &local)) {
    if (path == NULL && g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return g_steal_pointer (&c);
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "cannot read '%s': %s", file, local->message);
    return NULL;
  }
  c->path = g_strdup (file);
  groups = g_key_file_get_groups (kf, NULL);
  for (char **g = groups; *g; g++)
    if (strcmp (*g, GROUP) != 0) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: unknown group '[%s]' (expected [%s])",
                   file, *g, GROUP);
      return NULL;
    }
  keys = g_key_file_get_keys (kf, GROUP, NULL, NULL);
  for (char **k = keys; k && *k; k++) {
    g_autofree char *raw = g_key_file_get_string (kf, GROUP, *k, NULL);
    if (!set_key (c, file, *k, raw ? g_strstrip (raw) : "", error))
      return NULL;
  }
  return g_steal_pointer (&c);
}

char *
vdp_backend_conf_runtime_dir (void)
{
  g_autoptr (vdp_backend_conf) c = vdp_backend_conf_load (NULL, NULL);
  return g_strdup (c ? c->runtime_dir : VDP_BACKEND_RUNTIME_DIR);
}
