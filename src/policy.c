/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tuning profiles: the built-in ones and key files, validated with clear errors. */
#include <config.h>

#include <string.h>

#include "domain.h"
#include "paths.h"
#include "policy.h"
#include "util/cpuset.h"
#include "util/error.h"

#define GROUP "profile"
#define SYSTEM_PROFILE_DIR VDP_PROFILE_DIR /* $(sysconfdir)/virt-dataplane/profiles */

const char *const vdp_policy_builtin_names[] = {
  "balanced", "latency", "throughput", "density", NULL,
};

static const char *const placement_names[] = { "shared", "dedicated", NULL };
static const char *const smt_names[] = { "prefer", "isolate", NULL };
static const char *const mapping_names[] = { "auto", "explicit", NULL };
static const char *const iocpus_names[] = { "separate", "shared", NULL };
static const char *const emulator_names[] = { "llc", "housekeeping", NULL };
static const char *const memory_names[] = { "strict", "preferred", "none", NULL };
static const char *const disk_io_names[] = { "native", "io_uring", "keep", NULL };
static const char *const disk_cache_names[] = { "none", "keep", NULL };
static const char *const bool_names[] = { "no", "yes", NULL };
const char *const vdp_backend_names[] = { "qemu", "vhost-user", NULL };

static struct vdp_policy *
policy_new (const char *name, const char *source)
{
  struct vdp_policy *p = g_new0 (struct vdp_policy, 1);

  p->name = g_strdup (name);
  p->source = g_strdup (source);
  p->iothreads_max = 4;
  p->host_cpus = hwloc_bitmap_alloc ();
  return p;
}

static void
apply_builtin (struct vdp_policy *p, const char *name)
{
  /* Defaults are "balanced"; every difference is explained in
   * virt-dataplane.conf(5). */
  p->placement = VDP_PLACEMENT_SHARED;
  p->smt = VDP_SMT_PREFER;
  p->iothreads = 0;
  p->iothreads_max = 4;
  p->queues = 0;
  p->mapping = VDP_MAPPING_AUTO;
  p->iothread_cpus = VDP_IOCPUS_SEPARATE;
  p->emulator = VDP_EMULATOR_LLC;
  p->pool_share = 4;
  p->pool_cap = 25;
  p->poll_shared = 8192;
  p->memory_reserve_auto = true;
  p->memory_reserve_kib = 0;
  p->memory = VDP_MEMORY_STRICT;
  p->disk_io = VDP_DISK_IO_NATIVE;
  p->disk_cache = VDP_DISK_CACHE_NONE;
  p->override = false;
  p->backend = VDP_BACKEND_QEMU;
  p->backend_poll_ns = 32768;   /* QEMU's IOThread default */
  if (strcmp (name, "latency") == 0) {
    p->placement = VDP_PLACEMENT_DEDICATED;
    p->smt = VDP_SMT_ISOLATE;
    p->iothreads_max = 2;
    p->mapping = VDP_MAPPING_EXPLICIT;
    p->emulator = VDP_EMULATOR_HOUSEKEEPING;
  } else if (strcmp (name, "throughput") == 0) {
    p->iothreads_max = 8;
    p->mapping = VDP_MAPPING_EXPLICIT;
    p->pool_share = 1;
    p->pool_cap = 33;
    p->poll_shared = -1;
  } else if (strcmp (name, "density") == 0) {
    p->iothreads = 1;
    p->iothreads_max = 1;
    p->iothread_cpus = VDP_IOCPUS_SHARED;
    p->pool_share = 8;
    p->memory = VDP_MEMORY_PREFERRED;
    p->backend_poll_ns = 0;     /* no CPU spent spinning */
  }
}

guint64
vdp_policy_memory_reserve (const struct vdp_policy *p, guint64 node_kib)
{
  if (!p->memory_reserve_auto)
    return p->memory_reserve_kib;
  return MIN ((guint64) VDP_POLICY_RESERVE_AUTO_KIB, node_kib / 16);
}

struct vdp_policy *
vdp_policy_builtin (const char *name, GError **error)
{
  struct vdp_policy *p;

  if (!g_strv_contains (vdp_policy_builtin_names, name)) {
    g_autofree char *all = g_strjoinv (", ", (char **) vdp_policy_builtin_names);
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "unknown profile '%s' (built-in profiles: %s; or give a file)", name, all);
    return NULL;
  }
  p = policy_new (name, "built-in");
  apply_builtin (p, name);
  return p;
}

/* Line number of "key =" in @text (1-based), or 0. */
static int
key_line (const char *text, const char *key)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

  for (int i = 0; lines[i]; i++) {
    const char *l = lines[i];
    size_t n = strlen (key);
    while (*l == ' ' || *l == '\t')
      l++;
    if (strncmp (l, key, n) == 0) {
      l += n;
      while (*l == ' ' || *l == '\t')
        l++;
      if (*l == '=')
        return i + 1;
    }
  }
  return 0;
}

static gboolean
bad_value (GError **error, const char *path, const char *text, const char *key,
           const char *value, const char *expected)
{
  g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s:%d: key '%s': bad value '%s' (expected %s)",
               path, key_line (text, key), key, value, expected);
  return FALSE;
}

static gboolean
parse_enum (const char *path, const char *text, const char *key, const char *value,
            const char *const *names, int *out, GError **error)
{
  for (int i = 0; names[i]; i++)
    if (strcmp (value, names[i]) == 0) {
      *out = i;
      return TRUE;
    }
  {
    g_autofree char *expected = g_strjoinv ("|", (char **) names);
    return bad_value (error, path, text, key, value, expected);
  }
}

static gboolean
parse_count (const char *path, const char *text, const char *key, const char *value,
             gboolean allow_auto, unsigned max, unsigned *out, GError **error)
{
  guint64 v;

  if (allow_auto && strcmp (value, "auto") == 0) {
    *out = 0;
    return TRUE;
  }
  if (!g_ascii_string_to_unsigned (value, 10, 1, max, &v, NULL)) {
    g_autofree char *expected = g_strdup_printf ("%sa number from 1 to %u",
                                                 allow_auto ? "auto or " : "", max);
    return bad_value (error, path, text, key, value, expected);
  }
  *out = (unsigned) v;
  return TRUE;
}

/* A size such as 2G, 512MiB or 1048576 (KiB); 0 is allowed. */
static gboolean
parse_size_kib (const char *value, guint64 *kib)
{
  static const struct { const char *suffix; guint64 kib; } units[] = {
    { "KiB", 1 }, { "K", 1 }, { "MiB", 1024 }, { "M", 1024 }, { "GiB", 1048576 },
    { "G", 1048576 }, { "TiB", 1073741824ULL }, { "T", 1073741824ULL }, { "", 1 },
  };
  g_autofree char *num = NULL;
  guint64 v;

  for (size_t i = 0; i < G_N_ELEMENTS (units); i++) {
    if (!g_str_has_suffix (value, units[i].suffix))
      continue;
    num = g_strndup (value, strlen (value) - strlen (units[i].suffix));
    if (!g_ascii_string_to_unsigned (num, 10, 0, G_MAXUINT64 / units[i].kib, &v, NULL))
      return FALSE;
    *kib = v * units[i].kib;
    return TRUE;
  }
  return FALSE;
}

#define ENUM_KEY(k, names, field) \
  if (strcmp (key, k) == 0) { \
    int v; \
    if (!parse_enum (path, text, key, value, names, &v, error)) \
      return NULL; \
    p->field = v; \
    continue; \
  }

/* The line number of the first line of @text that is neither blank nor a
 * comment when it comes before any group; 0 when a group comes first. */
static unsigned
first_line_before_group (const char *text, char **what)
{
  unsigned n = 1;

  for (const char *p = text; *p; n++) {
    const char *end = strchr (p, '\n');
    size_t len = end ? (size_t) (end - p) : strlen (p);
    g_autofree char *line = g_strstrip (g_strndup (p, len));

    if (*line == '[')
      return 0;
    if (*line && *line != '#') {
      *what = g_steal_pointer (&line);
      return n;
    }
    if (end == NULL)
      break;
    p = end + 1;
  }
  return 0;
}

struct vdp_policy *
vdp_policy_load_file (const char *path, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  g_autofree char *text = NULL;
  g_autofree char *base = NULL;
  g_auto (GStrv) groups = NULL;
  g_auto (GStrv) keys = NULL;
  g_autoptr (vdp_policy) p = NULL;
  g_autofree char *name = NULL;

  if (!g_file_get_contents (path, &text, NULL, &local)) {
    /* GLib's message ("Failed to open file “PATH”: REASON") names the
     * file again: the reason only */
    const char *reason = g_strrstr (local->message, ": ");
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "cannot read profile '%s': %s", path,
                 reason ? reason + 2 : local->message);
    return NULL;
  }
  if (!g_key_file_load_from_data (kf, text, (gsize) -1, G_KEY_FILE_NONE, &local)) {
    g_autofree char *what = NULL;
    unsigned line = first_line_before_group (text, &what);
    /* GLib's messages give no line, and "does not start with a group"
     * does not say which one */
    if (line)
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s:%u: '%s' comes before any group (a "
                   "profile starts with [%s])", path, line, what, GROUP);
    else
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "profile '%s': %s", path, local->message);
    return NULL;
  }
  groups = g_key_file_get_groups (kf, NULL);
  for (char **g = groups; *g; g++)
    if (strcmp (*g, GROUP) != 0) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: unknown group '[%s]' (expected [%s])",
                   path, *g, GROUP);
      return NULL;
    }
  if (!g_key_file_has_group (kf, GROUP)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: no [%s] group", path, GROUP);
    return NULL;
  }

  name = g_path_get_basename (path);
  if (g_str_has_suffix (name, ".conf"))
    name[strlen (name) - 5] = '\0';
  p = policy_new (name, path);

  /* base= names the built-in profile the file starts from (default balanced). */
  base = g_key_file_get_string (kf, GROUP, "base", NULL);
  if (base && !g_strv_contains (vdp_policy_builtin_names, base)) {
    g_autofree char *expected = g_strjoinv ("|", (char **) vdp_policy_builtin_names);
    bad_value (error, path, text, "base", base, expected);
    return NULL;
  }
  apply_builtin (p, base ? base : "balanced");

  keys = g_key_file_get_keys (kf, GROUP, NULL, NULL);
  for (char **k = keys; *k; k++) {
    const char *key = *k;
    g_autofree char *raw = g_key_file_get_string (kf, GROUP, key, NULL);
    const char *value = raw ? g_strstrip (raw) : "";

    if (strcmp (key, "base") == 0)
      continue;
    ENUM_KEY ("placement", placement_names, placement);
    ENUM_KEY ("smt", smt_names, smt);
    ENUM_KEY ("mapping", mapping_names, mapping);
    ENUM_KEY ("iothread_cpus", iocpus_names, iothread_cpus);
    ENUM_KEY ("emulator", emulator_names, emulator);
    ENUM_KEY ("memory", memory_names, memory);
    ENUM_KEY ("disk_io", disk_io_names, disk_io);
    ENUM_KEY ("disk_cache", disk_cache_names, disk_cache);
    ENUM_KEY ("backend", vdp_backend_names, backend);
    if (strcmp (key, "backend_poll_ns") == 0) {
      guint64 v;
      if (!g_ascii_string_to_unsigned (value, 10, 0, 1000000000, &v, NULL)) {
        bad_value (error, path, text, key, value, "nanoseconds from 0 to 1000000000");
        return NULL;
      }
      p->backend_poll_ns = (unsigned) v;
      continue;
    }
    if (strcmp (key, "override") == 0) {
      int v;
      if (!parse_enum (path, text, key, value, bool_names, &v, error))
        return NULL;
      p->override = v;
      continue;
    }
    if (strcmp (key, "iothreads") == 0) {
      if (!parse_count (path, text, key, value, TRUE, 64, &p->iothreads, error))
        return NULL;
      continue;
    }
    if (strcmp (key, "iothreads_max") == 0) {
      if (!parse_count (path, text, key, value, FALSE, 64, &p->iothreads_max, error))
        return NULL;
      continue;
    }
    if (strcmp (key, "queues") == 0) {
      if (!parse_count (path, text, key, value, TRUE, 1024, &p->queues, error))
        return NULL;
      continue;
    }
    if (strcmp (key, "host_cpus") == 0 || strcmp (key, "isolated_cpus") == 0) {
      hwloc_bitmap_t set = *value ? vdp_cpuset_parse (value, &local) : hwloc_bitmap_alloc ();
      if (set == NULL) {
        bad_value (error, path, text, key, value, "a cpuset such as 0-1,24-25");
        return NULL;
      }
      if (key[0] == 'h') {
        hwloc_bitmap_copy (p->host_cpus, set);
        hwloc_bitmap_free (set);
      } else {
        hwloc_bitmap_free (p->isolated);
        p->isolated = set;
      }
      continue;
    }
    if (strcmp (key, "pool_share") == 0) {
      if (!parse_count (path, text, key, value, FALSE, 64, &p->pool_share, error))
        return NULL;
      continue;
    }
    if (strcmp (key, "pool_cap") == 0) {
      g_autofree char *pct = g_strdup (value);
      if (g_str_has_suffix (pct, "%"))
        pct[strlen (pct) - 1] = '\0';
      if (!parse_count (path, text, key, pct, FALSE, 100, &p->pool_cap, NULL)) {
        bad_value (error, path, text, key, value, "a percentage from 1 to 100, such as 25%");
        return NULL;
      }
      continue;
    }
    if (strcmp (key, "poll_shared") == 0) {
      guint64 v;
      if (strcmp (value, "keep") == 0)
        p->poll_shared = -1;
      else if (g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT32, &v, NULL))
        p->poll_shared = (int) v;
      else {
        bad_value (error, path, text, key, value, "keep or nanoseconds from 0");
        return NULL;
      }
      continue;
    }
    if (strcmp (key, "memory_reserve") == 0) {
      if (strcmp (value, "auto") == 0) {
        p->memory_reserve_auto = true;
      } else if (parse_size_kib (value, &p->memory_reserve_kib)) {
        p->memory_reserve_auto = false;
      } else {
        bad_value (error, path, text, key, value, "auto or a size such as 2G or 512M");
        return NULL;
      }
      continue;
    }
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s:%d: unknown key '%s'", path,
                 key_line (text, key), key);
    return NULL;
  }
  return g_steal_pointer (&p);
}

struct vdp_policy *
vdp_policy_find (const char *spec, GError **error)
{
  g_autofree char *file = NULL;
  const char *xdg;

  if (spec == NULL)
    spec = "balanced";    /* the default, looked up like any name */
  if (*spec == '\0') {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "empty profile name ''");
    return NULL;
  }
  if (strchr (spec, '/') || g_str_has_suffix (spec, ".conf")
      || g_file_test (spec, G_FILE_TEST_IS_REGULAR))
    return vdp_policy_load_file (spec, error);

  file = g_strconcat (spec, ".conf", NULL);
  xdg = g_getenv ("XDG_CONFIG_HOME");
  {
    g_autofree char *home_cfg = xdg && *xdg ? g_strdup (xdg)
                                : g_build_filename (g_get_home_dir (), ".config", NULL);
    g_autofree char *p1 = g_build_filename (home_cfg, "virt-dataplane", file, NULL);
    g_autofree char *p2 = g_build_filename (SYSTEM_PROFILE_DIR, file, NULL);
    if (g_file_test (p1, G_FILE_TEST_EXISTS))
      return vdp_policy_load_file (p1, error);
    if (g_file_test (p2, G_FILE_TEST_EXISTS))
      return vdp_policy_load_file (p2, error);
  }
  return vdp_policy_builtin (spec, error);
}

char *
vdp_policy_format (const struct vdp_policy *p)
{
  g_autofree char *host = vdp_cpuset_format (p->host_cpus);
  g_autofree char *iso = p->isolated ? vdp_cpuset_format (p->isolated) : g_strdup ("host");
  g_autofree char *reserve = p->memory_reserve_auto
                             ? g_strdup ("auto")
                             : g_strdup_printf ("%" G_GUINT64_FORMAT "K", p->memory_reserve_kib);

  return g_strdup_printf ("placement=%s smt=%s iothreads=%u iothreads_max=%u queues=%u "
                          "mapping=%s iothread_cpus=%s emulator=%s host_cpus=%s "
                          "isolated_cpus=%s pool_share=%u pool_cap=%u poll_shared=%d "
                          "memory_reserve=%s memory=%s disk_io=%s disk_cache=%s",
                          placement_names[p->placement], smt_names[p->smt], p->iothreads,
                          p->iothreads_max, p->queues, mapping_names[p->mapping],
                          iocpus_names[p->iothread_cpus], emulator_names[p->emulator], host,
                          iso, p->pool_share, p->pool_cap, p->poll_shared, reserve,
                          memory_names[p->memory], disk_io_names[p->disk_io],
                          disk_cache_names[p->disk_cache]);
}

struct vdp_policy_cache {
  GHashTable *by_name;      /* name -> struct vdp_policy * */
  const struct vdp_policy *host;
  gboolean given;
};

vdp_policy_cache *
vdp_policy_cache_new (const struct vdp_policy *host, gboolean given)
{
  vdp_policy_cache *c = g_new0 (vdp_policy_cache, 1);

  c->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) vdp_policy_free);
  c->host = host;
  c->given = given;
  return c;
}

static const struct vdp_policy *
policy_recorded (vdp_policy_cache *c, const struct vdp_domain *d, gboolean given, GError **error)
{
  const char *name = d->tuned ? d->tuned_profile : NULL;
  struct vdp_policy *p;
  g_autoptr (GError) local = NULL;

  if (given || name == NULL || strcmp (name, c->host->name) == 0)
    return c->host;
  p = g_hash_table_lookup (c->by_name, name);
  if (p)
    return p;
  /* a recorded name is a name, never a path */
  if (strchr (name, '/') || (p = vdp_policy_find (name, &local)) == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "domain '%s': its recorded profile '%s' is not found (%s); give --profile",
                 d->name, name, local ? local->message : "not a profile name");
    return NULL;
  }
  /* the host's own keys come from the run's profile */
  hwloc_bitmap_copy (p->host_cpus, c->host->host_cpus);
  hwloc_bitmap_free (p->isolated);
  p->isolated = c->host->isolated ? hwloc_bitmap_dup (c->host->isolated) : NULL;
  p->memory_reserve_auto = c->host->memory_reserve_auto;
  p->memory_reserve_kib = c->host->memory_reserve_kib;
  p->override = c->host->override;
  g_hash_table_insert (c->by_name, g_strdup (name), p);
  return p;
}

const struct vdp_policy *
vdp_policy_for_domain (vdp_policy_cache *c, const struct vdp_domain *d, GError **error)
{
  return policy_recorded (c, d, c->given, error);
}

const struct vdp_policy *
vdp_policy_for_context (vdp_policy_cache *c, const struct vdp_domain *d)
{
  const struct vdp_policy *p = policy_recorded (c, d, FALSE, NULL);

  return p ? p : c->host;
}

void
vdp_policy_cache_free (vdp_policy_cache *c)
{
  if (c == NULL)
    return;
  g_hash_table_unref (c->by_name);
  g_free (c);
}

struct vdp_policy *
vdp_policy_dup (const struct vdp_policy *p)
{
  struct vdp_policy *c = g_new (struct vdp_policy, 1);

  *c = *p;
  c->name = g_strdup (p->name);
  c->source = g_strdup (p->source);
  c->host_cpus = hwloc_bitmap_dup (p->host_cpus);
  c->isolated = p->isolated ? hwloc_bitmap_dup (p->isolated) : NULL;
  return c;
}

void
vdp_policy_free (struct vdp_policy *p)
{
  if (p == NULL)
    return;
  g_free (p->name);
  g_free (p->source);
  hwloc_bitmap_free (p->host_cpus);
  hwloc_bitmap_free (p->isolated);
  g_free (p);
}
