/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The virt-dataplane-blk processes of this host: opening sources safely, starting, supervising, stopping, reading their state. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "runtime.h"
#include "util/cleanup.h"
#include "util/error.h"

#define SUPERVISOR_NAME "vdp-supervise"
#define RESTART_MIN_MS 100
#define RESTART_MAX_MS 5000
#define STABLE_MS 10000           /* a backend that ran this long restarts at once */

/* ---- opening sources --------------------------------------------------- */

static gboolean
normalised (const char *p)
{
  g_auto (GStrv) parts = NULL;

  if (p == NULL || p[0] != '/' || strstr (p, "//") || g_str_has_suffix (p, "/"))
    return FALSE;
  parts = g_strsplit (p + 1, "/", -1);
  for (char **s = parts; *s; s++)
    if (**s == '\0' || strcmp (*s, ".") == 0 || strcmp (*s, "..") == 0)
      return FALSE;
  return TRUE;
}

static int
source_error (GError **error, const char *path, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static int
source_error (GError **error, const char *path, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *why = NULL;

  va_start (ap, fmt);
  why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "source '%s': %s", path, why);
  return -1;
}

static int
errno_error (GError **error, const char *path, int e)
{
  if (e == ELOOP)
    return source_error (error, path, "a path component is a symbolic link (not followed)");
  if (e == EXDEV)
    return source_error (error, path, "leaves the allowed directory");
  return source_error (error, path, "%s", g_strerror (e));
}

int
vdp_runtime_open_beneath_walk (int dirfd, const char *rel, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (rel, "/", -1);
  int cur = fcntl (dirfd, F_DUPFD_CLOEXEC, 3);

  for (char **p = parts; cur >= 0 && *p; p++) {
    struct stat st;
    int next;

    if (**p == '\0' || strcmp (*p, ".") == 0 || strcmp (*p, "..") == 0) {
      close (cur);
      return source_error (error, rel, "'.' and '..' are not allowed");
    }
    next = openat (cur, *p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    close (cur);
    if (next < 0)
      return errno_error (error, rel, errno);
    if (fstat (next, &st) < 0 || S_ISLNK (st.st_mode) || (p[1] && !S_ISDIR (st.st_mode))) {
      int e = S_ISLNK (st.st_mode) ? ELOOP : ENOTDIR;
      close (next);
      return errno_error (error, rel, e);
    }
    cur = next;
  }
  return cur;
}

int
vdp_runtime_open_source (const char *const *allowed, const char *path, GError **error)
{
  const char *dir = NULL, *rel = NULL;
  struct open_how how = {
    .flags = O_PATH | O_CLOEXEC,
    .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
  };
  struct stat st;
  int dirfd, fd;

  if (!normalised (path))
    return source_error (error, path ? path : "", "not an absolute path without '.', '..' or '//'");
  for (const char *const *a = allowed; a && *a && dir == NULL; a++) {
    size_t n = strlen (*a);
    if (strncmp (path, *a, n) == 0 && path[n] == '/' && path[n + 1]) {
      dir = *a;
      rel = path + n + 1;
    }
  }
  if (dir == NULL) {
    g_autofree char *list = allowed ? g_strjoinv (", ", (char **) allowed) : g_strdup ("");
    return source_error (error, path, "not under the allowed directories (%s; see allowed_paths "
                         "in backend.conf)", list);
  }
  dirfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return source_error (error, path, "cannot open the allowed directory '%s': %s", dir,
                         g_strerror (errno));
  fd = (int) syscall (SYS_openat2, dirfd, rel, &how, sizeof (how));
  if (fd < 0 && errno == ENOSYS) {
    fd = vdp_runtime_open_beneath_walk (dirfd, rel, error);
    if (fd < 0) {
      close (dirfd);
      /* the walk named the relative part: name the whole path */
      g_prefix_error (error, "%s: ", path);
      return -1;
    }
  } else if (fd < 0) {
    int e = errno;
    close (dirfd);
    return errno_error (error, path, e);
  }
  close (dirfd);
  if (fstat (fd, &st) < 0 || (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode))) {
    close (fd);
    return source_error (error, path, "%s", S_ISLNK (st.st_mode) ? "is a symbolic link"
                         : "neither a regular file nor a block device");
  }
  return fd;
}

/* ---- who backends run as ----------------------------------------------- */

static gboolean
resolve_user (const char *user, const char *group, struct vdp_runtime_ident *out,
              const char *where, GError **error)
{
  struct passwd *pw = NULL;
  guint64 n;

  if (user[0] == '+' && g_ascii_string_to_unsigned (user + 1, 10, 0, G_MAXUINT32 - 1, &n, NULL)) {
    out->uid = (uid_t) n;
    pw = getpwuid (out->uid);
  } else if ((pw = getpwnam (user)) != NULL) {
    out->uid = pw->pw_uid;
  } else {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: no such user '%s'", where, user);
    return FALSE;
  }
  if (group == NULL) {
    if (pw == NULL) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: user '%s' has no group", where, user);
      return FALSE;
    }
    out->gid = pw->pw_gid;
  } else if (group[0] == '+'
             && g_ascii_string_to_unsigned (group + 1, 10, 0, G_MAXUINT32 - 1, &n, NULL)) {
    out->gid = (gid_t) n;
  } else {
    struct group *gr = getgrnam (group);
    if (gr == NULL) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "%s: no such group '%s'", where, group);
      return FALSE;
    }
    out->gid = gr->gr_gid;
  }
  return TRUE;
}

/* The "user:group" of the DAC label libvirt gives QEMU, from the domain XML. */
static char *
dac_label (xmlDocPtr doc)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);

  for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next) {
    g_autoptr (xmlChar) model = NULL;
    if (c->type != XML_ELEMENT_NODE || strcmp ((const char *) c->name, "seclabel") != 0)
      continue;
    model = xmlGetProp (c, (const xmlChar *) "model");
    if (model == NULL || strcmp ((const char *) model, "dac") != 0)
      continue;
    for (xmlNodePtr l = c->children; l; l = l->next)
      if (l->type == XML_ELEMENT_NODE && strcmp ((const char *) l->name, "label") == 0) {
        g_autoptr (xmlChar) text = xmlNodeGetContent (l);
        return text ? g_strstrip (g_strdup ((const char *) text)) : NULL;
      }
  }
  return NULL;
}

/* user = "..." and group = "..." in qemu.conf. */
static void
qemu_conf_user (const char *path, char **user, char **group)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++) {
    char *s = g_strstrip (*l), *q1, *q2;
    char **field = g_str_has_prefix (s, "user") ? user : g_str_has_prefix (s, "group") ? group : NULL;
    if (field == NULL)
      continue;
    s += field == user ? 4 : 5;
    while (*s == ' ' || *s == '\t')
      s++;
    if (*s != '=' || (q1 = strchr (s, '"')) == NULL || (q2 = strchr (q1 + 1, '"')) == NULL)
      continue;
    g_free (*field);
    *field = g_strndup (q1 + 1, (gsize) (q2 - q1 - 1));
  }
}

gboolean
vdp_runtime_ident (const struct vdp_backend_conf *conf, xmlDocPtr doc,
                   struct vdp_runtime_ident *out, GError **error)
{
  g_autofree char *label = NULL, *user = NULL, *group = NULL, *where = NULL;

  if (conf->user) {
    user = g_strdup (conf->user);
    group = g_strdup (conf->group);
    where = g_strdup_printf ("%s: user", conf->path ? conf->path : "backend.conf");
  } else if ((label = dac_label (doc)) != NULL && strchr (label, ':')) {
    char *colon = strchr (label, ':');
    user = g_strndup (label, (gsize) (colon - label));
    group = g_strdup (colon + 1);
    where = g_strdup_printf ("the domain's DAC label '%s'", label);
  } else {
    qemu_conf_user (conf->qemu_conf, &user, &group);
    if (user == NULL)
      user = g_strdup ("libvirt-qemu");
    where = g_strdup_printf ("QEMU's user in '%s'", conf->qemu_conf);
  }
  if (!resolve_user (user, group, out, where, error))
    return FALSE;
  if ((out->uid == 0 || out->gid == 0) && conf->user == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "%s makes backends root: set user= and group= in backend.conf to allow it",
                 where);
    return FALSE;
  }
  return TRUE;
}

/* ---- runtime files ----------------------------------------------------- */

static char *
domain_dir (const struct vdp_backend_conf *conf, const char *uuid)
{
  return g_build_filename (conf->runtime_dir, uuid, NULL);
}

static char *
file_of (const char *dir, const char *target, const char *suffix)
{
  g_autofree char *base = g_strconcat (target, suffix, NULL);
  return g_build_filename (dir, base, NULL);
}

/* The pid in @path when the process holding its lock is alive, else 0. */
static int
locked_pid (const char *path)
{
  char buf[32] = "";
  int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  int pid = 0;
  ssize_t n;

  if (fd < 0)
    return 0;
  if (flock (fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
    n = pread (fd, buf, sizeof (buf) - 1, 0);
    pid = n > 0 ? atoi (buf) : 0;
    pid = pid > 0 ? pid : -1;   /* locked but unreadable: alive all the same */
  }
  close (fd);
  return pid;
}

/* "KEY VALUE" lines up to "end"; NULL when the file is missing or not
 * complete. */
static GHashTable *
read_kv (const char *path, gboolean need_end)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GHashTable) kv = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (int attempt = 0; attempt < 3; attempt++) {
    gboolean ended = FALSE;
    g_clear_pointer (&text, g_free);
    g_clear_pointer (&lines, g_strfreev);
    g_hash_table_remove_all (kv);
    if (!g_file_get_contents (path, &text, NULL, NULL))
      return NULL;
    lines = g_strsplit (text, "\n", -1);
    for (char **l = lines; *l && !ended; l++) {
      char *sp = strchr (*l, ' ');
      if (strcmp (*l, "end") == 0)
        ended = TRUE;
      else if (sp)
        g_hash_table_insert (kv, g_strndup (*l, (gsize) (sp - *l)), g_strdup (sp + 1));
    }
    if (ended || !need_end)
      return g_steal_pointer (&kv);
    g_usleep (2000);   /* caught between a rewrite and its truncation */
  }
  return NULL;
}

static guint64
kv_uint (GHashTable *kv, const char *key)
{
  const char *v = kv ? g_hash_table_lookup (kv, key) : NULL;
  return v ? g_ascii_strtoull (v, NULL, 10) : 0;
}

void
vdp_runtime_state_free (struct vdp_runtime_state *s)
{
  if (s == NULL)
    return;
  g_free (s->target);
  g_free (s->supervisor);
  g_free (s->unit);
  g_free (s->socket);
  g_free (s->state);
  g_free (s);
}

static gboolean
unit_active (const char *unit)
{
  const char *argv[] = { "systemctl", "is-active", "--quiet", unit, NULL };
  int status = -1;

  return g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL
                       | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, NULL)
         && g_spawn_check_wait_status (status, NULL);
}

static struct vdp_runtime_state *
read_state (const char *dir, const char *target)
{
  struct vdp_runtime_state *s = g_new0 (struct vdp_runtime_state, 1);
  g_autofree char *pidf = file_of (dir, target, ".pid");
  g_autofree char *unitf = file_of (dir, target, ".unit");
  g_autofree char *statef = file_of (dir, target, ".state");
  g_autofree char *statsf = file_of (dir, target, ".stats");
  g_autoptr (GHashTable) state = read_kv (statef, FALSE);
  g_autoptr (GHashTable) stats = NULL;
  g_autofree char *unit = NULL;

  s->target = g_strdup (target);
  s->socket = file_of (dir, target, ".sock");
  if (g_file_get_contents (unitf, &unit, NULL, NULL)) {
    s->supervisor = g_strdup ("systemd");
    s->unit = g_strdup (g_strstrip (unit));
    s->running = unit_active (s->unit);
  } else if (g_file_test (pidf, G_FILE_TEST_EXISTS)) {
    s->supervisor = g_strdup ("builtin");
    s->supervisor_pid = MAX (locked_pid (pidf), 0);
    s->running = locked_pid (pidf) != 0;
  }
  s->backend_pid = (int) kv_uint (state, "backend");
  s->restarts = (unsigned) kv_uint (state, "restarts");
  stats = read_kv (statsf, TRUE);
  if (stats) {
    s->have_stats = TRUE;
    if (s->backend_pid == 0)
      s->backend_pid = (int) kv_uint (stats, "pid");
    s->state = g_strdup (g_hash_table_lookup (stats, "state"));
    s->connections = (unsigned) kv_uint (stats, "connections");
    s->requests = kv_uint (stats, "requests");
    s->threads = (unsigned) kv_uint (stats, "threads");
  }
  if (s->backend_pid > 0 && kill (s->backend_pid, 0) < 0 && errno == ESRCH)
    s->backend_pid = 0;
  return s;
}

static gint
cmp_state (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(struct vdp_runtime_state *const *) a)->target,
                 (*(struct vdp_runtime_state *const *) b)->target);
}

GPtrArray *
vdp_runtime_states (const struct vdp_backend_conf *conf, const char *uuid)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) vdp_runtime_state_free);
  g_autofree char *dir = domain_dir (conf, uuid);
  g_autoptr (GDir) d = vdp_backend_uuid_valid (uuid) ? g_dir_open (dir, 0, NULL) : NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *f;

  while (d && (f = g_dir_read_name (d)) != NULL) {
    const char *dot = strrchr (f, '.');
    g_autofree char *target = dot ? g_strndup (f, (gsize) (dot - f)) : NULL;
    if (target == NULL || !vdp_backend_target_valid (target)
        || g_hash_table_contains (seen, target))
      continue;
    g_hash_table_add (seen, g_strdup (target));
    g_ptr_array_add (out, read_state (dir, target));
  }
  g_ptr_array_sort (out, cmp_state);
  return out;
}

gboolean
vdp_runtime_hook_installed (const char *hookdir)
{
  g_autofree char *path = g_build_filename (hookdir, "virt-dataplane", NULL);
  struct stat st;

  return stat (path, &st) == 0 && S_ISREG (st.st_mode) && (st.st_mode & 0111);
}

/* ---- the backend's command line ---------------------------------------- */

/* Settings as a small key file next to the socket: the systemd unit's
 * entry point reads it, and so does status. */
static gboolean
write_settings (const char *path, const char *name, const struct vdp_backend_disk *b,
                const struct vdp_runtime_ident *who, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autofree char *text = NULL;
  g_autofree char *cpus = NULL;
  gboolean pinned = b->n_workers > 0;

  for (unsigned w = 0; w < b->n_workers; w++)
    pinned &= b->worker_cpus[w] != NULL;
  if (pinned) {
    GString *all = g_string_new (NULL);
    for (unsigned w = 0; w < b->n_workers; w++)
      g_string_append_printf (all, "%s%s", w ? ":" : "", b->worker_cpus[w]);
    cpus = g_string_free (all, FALSE);
  }
  g_key_file_set_string (kf, "backend", "domain", name);
  g_key_file_set_string (kf, "backend", "target", b->target);
  g_key_file_set_string (kf, "backend", "source", b->source);
  g_key_file_set_string (kf, "backend", "type", b->source_type);
  g_key_file_set_string (kf, "backend", "socket", b->socket);
  g_key_file_set_uint64 (kf, "backend", "queues", b->queues);
  g_key_file_set_uint64 (kf, "backend", "workers", b->n_workers);
  if (cpus)
    g_key_file_set_string (kf, "backend", "cpus", cpus);
  g_key_file_set_uint64 (kf, "backend", "poll_ns", b->poll_ns);
  g_key_file_set_boolean (kf, "backend", "readonly", b->readonly);
  if (b->serial)
    g_key_file_set_string (kf, "backend", "serial", b->serial);
  g_key_file_set_int64 (kf, "backend", "node", b->node);
  g_key_file_set_uint64 (kf, "backend", "uid", who->uid);
  g_key_file_set_uint64 (kf, "backend", "gid", who->gid);
  text = g_key_file_to_data (kf, NULL, NULL);
  return g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

static struct vdp_backend_disk *
read_settings (const char *path, struct vdp_runtime_ident *who, char **name, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (vdp_backend_disk) b = g_new0 (struct vdp_backend_disk, 1);
  g_autofree char *cpus = NULL;
  g_autoptr (GError) local = NULL;

  /* GKeyFile's messages name neither the file nor the line */
  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "cannot read backend settings '%s': %s",
                 path, local->message);
    return NULL;
  }
  *name = g_key_file_get_string (kf, "backend", "domain", NULL);
  b->target = g_key_file_get_string (kf, "backend", "target", NULL);
  b->source = g_key_file_get_string (kf, "backend", "source", NULL);
  b->source_type = g_key_file_get_string (kf, "backend", "type", NULL);
  b->socket = g_key_file_get_string (kf, "backend", "socket", NULL);
  b->serial = g_key_file_get_string (kf, "backend", "serial", NULL);
  b->queues = (unsigned) g_key_file_get_uint64 (kf, "backend", "queues", NULL);
  b->n_workers = (unsigned) g_key_file_get_uint64 (kf, "backend", "workers", NULL);
  b->poll_ns = (unsigned) g_key_file_get_uint64 (kf, "backend", "poll_ns", NULL);
  b->readonly = g_key_file_get_boolean (kf, "backend", "readonly", NULL);
  b->node = (int) g_key_file_get_int64 (kf, "backend", "node", NULL);
  who->uid = (uid_t) g_key_file_get_uint64 (kf, "backend", "uid", NULL);
  who->gid = (gid_t) g_key_file_get_uint64 (kf, "backend", "gid", NULL);
  cpus = g_key_file_get_string (kf, "backend", "cpus", NULL);
  if (b->target == NULL || b->source == NULL || b->socket == NULL || b->queues == 0
      || b->n_workers == 0 || b->n_workers > b->queues) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "'%s': incomplete backend settings", path);
    return NULL;
  }
  b->worker_cpus = g_new0 (char *, b->n_workers + 1);
  if (cpus) {
    g_auto (GStrv) sets = g_strsplit (cpus, ":", -1);
    for (unsigned w = 0; w < b->n_workers && sets[w]; w++)
      b->worker_cpus[w] = g_strdup (sets[w]);
  }
  return g_steal_pointer (&b);
}

/* The argument list of virt-dataplane-blk for @b, serving listening
 * socket fd 3 and the source opened as fd 4. */
static GPtrArray *
backend_argv (const struct vdp_backend_conf *conf, const struct vdp_backend_disk *b,
              const struct vdp_runtime_ident *who, const char *stats)
{
  GPtrArray *a = g_ptr_array_new_with_free_func (g_free);
  unsigned threads = MIN (b->n_workers, conf->max_workers);
  gboolean pinned = threads > 0;

  for (unsigned w = 0; w < threads; w++)
    pinned &= b->worker_cpus[w] != NULL;
  g_ptr_array_add (a, g_strdup (conf->binary));
  g_ptr_array_add (a, g_strdup ("--fd=3"));
  g_ptr_array_add (a, g_strdup ("--blk-file=/proc/self/fd/4"));
  g_ptr_array_add (a, g_strdup_printf ("--num-queues=%u", b->queues));
  g_ptr_array_add (a, g_strdup_printf ("--threads=%u", threads));
  if (pinned) {
    g_autoptr (GString) cpus = g_string_new ("--cpus=");
    for (unsigned w = 0; w < threads; w++)
      g_string_append_printf (cpus, "%s%s", w ? ":" : "", b->worker_cpus[w]);
    g_ptr_array_add (a, g_string_free (g_steal_pointer (&cpus), FALSE));
  }
  g_ptr_array_add (a, g_strdup_printf ("--poll-max-ns=%u", b->poll_ns));
  if (b->serial)
    g_ptr_array_add (a, g_strdup_printf ("--serial=%s", b->serial));
  if (b->readonly)
    g_ptr_array_add (a, g_strdup ("--read-only"));
  g_ptr_array_add (a, g_strdup_printf ("--user=%u", (unsigned) who->uid));
  g_ptr_array_add (a, g_strdup_printf ("--group=%u", (unsigned) who->gid));
  g_ptr_array_add (a, g_strdup_printf ("--stats-file=%s", stats));
  g_ptr_array_add (a, g_strdup ("--log-level=info"));
  g_ptr_array_add (a, NULL);
  return a;
}

/* Moves @fds[i] to descriptor @first + i and closes every other one
 * above 2. */
static void
arrange_fds (int *fds, int n, int first)
{
  for (int i = 0; i < n; i++)
    fds[i] = fcntl (fds[i], F_DUPFD, 64);   /* out of the way first */
  for (int i = 0; i < n; i++) {
    dup2 (fds[i], first + i);
    fcntl (first + i, F_SETFD, 0);
  }
  close_range ((unsigned) (first + n), ~0U, 0);
  for (int fd = 3; fd < first; fd++)
    close (fd);
}

/* In the child that becomes the backend: limits, descriptors, exec. */
G_GNUC_NORETURN static void
exec_backend (const struct vdp_backend_conf *conf, const struct vdp_backend_disk *b,
              const struct vdp_runtime_ident *who, const char *stats, int lfd, int src)
{
  g_autoptr (GPtrArray) argv = backend_argv (conf, b, who, stats);
  struct rlimit core = { 0, 0 };
  int fds[2] = { lfd, src };

  /* guest memory is mapped in the backend: no core dumps of it */
  setrlimit (RLIMIT_CORE, &core);
#ifndef __SANITIZE_ADDRESS__
  /* private memory only (heap, buffers, stacks); guest memory is shared and
   * not counted.  AddressSanitizer reserves terabytes: no limit there. */
  if (conf->memory_limit) {
    struct rlimit data = { conf->memory_limit, conf->memory_limit };
    setrlimit (RLIMIT_DATA, &data);
  }
#endif
  arrange_fds (fds, 2, 3);
  execv (conf->binary, (char **) argv->pdata);
  fprintf (stderr, "virt-dataplane: cannot run '%s': %s\n", conf->binary, g_strerror (errno));
  _exit (127);
}

/* ---- the builtin supervisor -------------------------------------------- */

struct supervisor {
  const struct vdp_backend_conf *conf;
  const struct vdp_backend_disk *b;
  struct vdp_runtime_ident who;
  char *dir, *pidf, *statef, *statsf, *settingsf;
  int lfd, src, ready, log;
  ino_t sock_ino;
};

static void
sv_log (int fd, const char *target, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
sv_log (int fd, const char *target, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *when = g_date_time_format (now, "%Y-%m-%d %H:%M:%S.%f");
  g_autofree char *line = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  when[23] = '\0';   /* milliseconds */
  line = g_strdup_printf ("%s+0000: supervisor %d: disk %s: %s\n", when, (int) getpid (), target,
                          msg);
  (void) !write (fd, line, strlen (line));
}

static void
sv_state (const struct supervisor *sv, int backend, unsigned restarts)
{
  g_autofree char *text = g_strdup_printf ("supervisor %d\nbackend %d\nrestarts %u\n",
                                           (int) getpid (), backend, restarts);
  g_file_set_contents (sv->statef, text, -1, NULL);
}

static void
sv_report (struct supervisor *sv, const char *msg)
{
  if (sv->ready < 0)
    return;
  (void) !write (sv->ready, msg, strlen (msg));
  close (sv->ready);
  sv->ready = -1;
}

static guint64
now_ms (void)
{
  return (guint64) (g_get_monotonic_time () / 1000);
}

/* Waits up to @ms for a signal of @set; returns it, or 0 on time-out. */
static int
sv_wait (const sigset_t *set, guint64 ms)
{
  struct timespec ts = { (time_t) (ms / 1000), (long) (ms % 1000) * 1000000 };
  int sig;

  do
    sig = sigtimedwait (set, NULL, &ts);
  while (sig < 0 && errno == EINTR);
  return sig < 0 ? 0 : sig;
}

/* The last line the backend (not the supervisor) wrote to the log from
 * @offset. */
static char *
log_tail (int fd, off_t offset)
{
  char buf[4096];
  ssize_t n = pread (fd, buf, sizeof (buf) - 1, offset);
  g_auto (GStrv) lines = NULL;
  guint count;

  if (n <= 0)
    return g_strdup ("no message");
  buf[n] = '\0';
  lines = g_strsplit (buf, "\n", -1);
  for (count = g_strv_length (lines); count-- > 0;)
    if (lines[count][0] && !strstr (lines[count], "+0000: supervisor "))
      return g_strdup (lines[count]);
  return g_strdup ("no message");
}

/* Whether the backend @pid has written its first report. */
static gboolean
sv_ready (const struct supervisor *sv, int pid)
{
  g_autoptr (GHashTable) kv = read_kv (sv->statsf, TRUE);
  return kv && (int) kv_uint (kv, "pid") == pid;
}

static void
sv_cleanup (const struct supervisor *sv)
{
  struct stat st;

  /* the socket only while it is still ours */
  if (stat (sv->b->socket, &st) == 0 && st.st_ino == sv->sock_ino)
    unlink (sv->b->socket);
  unlink (sv->statsf);
  unlink (sv->statef);
  unlink (sv->settingsf);
  unlink (sv->pidf);
}

/* Ends @pid: SIGTERM, then SIGKILL after the stop timeout. */
static void
sv_stop_child (const struct supervisor *sv, const sigset_t *set, int pid)
{
  guint64 until = now_ms () + sv->conf->stop_timeout_ms;
  int status;

  kill (pid, SIGTERM);
  while (waitpid (pid, &status, WNOHANG) == 0) {
    guint64 t = now_ms ();
    if (t >= until) {
      sv_log (sv->log, sv->b->target, "backend %d still running after %u ms: SIGKILL", pid,
              sv->conf->stop_timeout_ms);
      kill (pid, SIGKILL);
      waitpid (pid, &status, 0);
      return;
    }
    sv_wait (set, MIN (until - t, 100));
  }
}

G_GNUC_NORETURN static void
supervise (struct supervisor *sv)
{
  sigset_t set;
  unsigned restarts = 0, delay = RESTART_MIN_MS;
  g_autofree char *pidtext = g_strdup_printf ("%d\n", (int) getpid ());
  int pidfd;

  prctl (PR_SET_NAME, SUPERVISOR_NAME, 0, 0, 0);
  sigemptyset (&set);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGCHLD);
  sigprocmask (SIG_BLOCK, &set, NULL);
  signal (SIGHUP, SIG_IGN);
  signal (SIGPIPE, SIG_IGN);
  pidfd = open (sv->pidf, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (pidfd < 0 || flock (pidfd, LOCK_EX | LOCK_NB) < 0
      || write (pidfd, pidtext, strlen (pidtext)) < 0) {
    g_autofree char *msg = g_strdup_printf ("error cannot take '%s': %s\n", sv->pidf,
                                            g_strerror (errno));
    sv_report (sv, msg);
    _exit (1);
  }
  for (;;) {
    guint64 started = now_ms ();
    off_t log_at = lseek (sv->log, 0, SEEK_END);
    int pid, status = 0, sig;
    gboolean stopping = FALSE, exited = FALSE;

    unlink (sv->statsf);
    pid = fork ();
    if (pid == 0) {
      sigprocmask (SIG_UNBLOCK, &set, NULL);
      signal (SIGHUP, SIG_DFL);
      signal (SIGPIPE, SIG_DFL);
      exec_backend (sv->conf, sv->b, &sv->who, sv->statsf, sv->lfd, sv->src);
    }
    if (pid < 0) {
      sv_log (sv->log, sv->b->target, "cannot fork: %s", g_strerror (errno));
      sv_wait (&set, RESTART_MAX_MS);
      continue;
    }
    sv_state (sv, pid, restarts);
    if (restarts)
      sv_log (sv->log, sv->b->target, "backend %d started (restart %u)", pid, restarts);
    else
      sv_log (sv->log, sv->b->target, "backend %d started", pid);

    /* the first start is reported to the hook once the backend is ready */
    while (sv->ready >= 0 && !stopping && !exited) {
      if (sv_ready (sv, pid)) {
        sv_report (sv, "ok\n");
        break;
      }
      if (waitpid (pid, &status, WNOHANG) == pid) {
        g_autofree char *tail = log_tail (sv->log, log_at);
        g_autofree char *msg = g_strdup_printf ("error the backend of '%s' (its fd 4) exited "
                                                "before it was ready: %s\n", sv->b->source, tail);
        sv_report (sv, msg);
        sv_cleanup (sv);
        _exit (1);
      }
      if (now_ms () - started > sv->conf->start_timeout_ms) {
        g_autofree char *msg = g_strdup_printf ("error the backend was not ready after %u ms\n",
                                                sv->conf->start_timeout_ms);
        sv_report (sv, msg);
        sv_stop_child (sv, &set, pid);
        sv_cleanup (sv);
        _exit (1);
      }
      sig = sv_wait (&set, 5);
      stopping = sig == SIGTERM || sig == SIGINT;
    }
    while (!stopping && !exited) {
      sig = sv_wait (&set, 60000);
      if (sig == SIGTERM || sig == SIGINT)
        stopping = TRUE;
      else if (waitpid (pid, &status, WNOHANG) == pid)
        exited = TRUE;
    }
    if (stopping) {
      sv_log (sv->log, sv->b->target, "stopping backend %d", pid);
      sv_stop_child (sv, &set, pid);
      sv_cleanup (sv);
      sv_log (sv->log, sv->b->target, "stopped");
      _exit (0);
    }
    if (WIFSIGNALED (status))
      sv_log (sv->log, sv->b->target, "backend %d killed by signal %d", pid, WTERMSIG (status));
    else
      sv_log (sv->log, sv->b->target, "backend %d exited with status %d", pid,
              WEXITSTATUS (status));
    if (now_ms () - started >= STABLE_MS)
      delay = RESTART_MIN_MS;
    sv_log (sv->log, sv->b->target, "restarting in %u ms", delay);
    sig = sv_wait (&set, delay);
    if (sig == SIGTERM || sig == SIGINT) {
      sv_cleanup (sv);
      sv_log (sv->log, sv->b->target, "stopped");
      _exit (0);
    }
    delay = MIN (delay * 2, RESTART_MAX_MS);
    restarts++;
  }
}

/* ---- starting ---------------------------------------------------------- */

static gboolean
make_dir (const char *path, mode_t mode, gid_t gid, GError **error)
{
  struct stat st;

  if (mkdir (path, mode) < 0 && errno != EEXIST) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "cannot create '%s': %s", path,
                 g_strerror (errno));
    return FALSE;
  }
  if (lstat (path, &st) < 0 || !S_ISDIR (st.st_mode) || st.st_uid != 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "'%s' is not a directory owned by root",
                 path);
    return FALSE;
  }
  if (chown (path, 0, gid) < 0 || chmod (path, mode) < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "cannot set the owner of '%s': %s", path,
                 g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

/* A listening socket at @path (a stale one is replaced) that @who may
 * connect to. */
static int
make_socket (const char *path, const struct vdp_runtime_ident *who, ino_t *ino, GError **error)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  struct stat st;
  mode_t old;
  int fd;

  if (strlen (path) >= sizeof (sa.sun_path)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "socket path '%s' is longer than %zu bytes",
                 path, sizeof (sa.sun_path) - 1);
    return -1;
  }
  if (lstat (path, &st) == 0) {
    if (!S_ISSOCK (st.st_mode)) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "'%s' exists and is not a socket", path);
      return -1;
    }
    unlink (path);
  }
  strcpy (sa.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  old = umask (0117);
  if (fd < 0 || bind (fd, (struct sockaddr *) &sa, sizeof (sa)) < 0 || listen (fd, 16) < 0
      || chown (path, who->uid, who->gid) < 0 || stat (path, &st) < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "cannot listen on '%s': %s", path,
                 g_strerror (errno));
    umask (old);
    if (fd >= 0)
      close (fd);
    return -1;
  }
  umask (old);
  *ino = st.st_ino;
  return fd;
}

static char *
log_path (const struct vdp_backend_conf *conf, const char *name, const char *uuid,
          const char *target)
{
  gboolean plain = name && *name && name[0] != '.' && !strchr (name, '/') && strlen (name) < 200;
  g_autofree char *base = g_strdup_printf ("%s-%s.log", plain ? name : uuid, target);
  return g_build_filename (conf->log_dir, base, NULL);
}

/* One backend being started. */
struct pending {
  const struct vdp_backend_disk *b;
  int ready;                /* builtin: the supervisor's report */
  char *unit;               /* systemd */
  char *statsf;
};

/* Forks the supervisor of @b, detached: it holds only the socket, the
 * source, its log and the report pipe. */
static gboolean
start_builtin (struct supervisor *sv, const char *name, const char *uuid, struct pending *p,
               GError **error)
{
  g_autofree char *logf = log_path (sv->conf, name, uuid, sv->b->target);
  int pipefd[2], pid, status;

  if (!make_dir (sv->conf->log_dir, 0750, 0, error))
    return FALSE;
  sv->log = open (logf, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (sv->log < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "cannot open the log '%s': %s", logf,
                 g_strerror (errno));
    return FALSE;
  }
  if (pipe2 (pipefd, O_CLOEXEC) < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "pipe: %s", g_strerror (errno));
    close (sv->log);
    return FALSE;
  }
  pid = fork ();
  if (pid == 0) {
    /* intermediate: a new session, then the supervisor in it, orphaned so
     * that libvirt's hook process can end */
    int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
    int fds[4];

    setsid ();
    if (fork () != 0)
      _exit (0);
    dup2 (null, 0);
    dup2 (sv->log, 1);
    dup2 (sv->log, 2);
    fds[0] = sv->lfd;
    fds[1] = sv->src;
    fds[2] = pipefd[1];
    fds[3] = sv->log;
    arrange_fds (fds, 4, 3);
    for (int i = 3; i < 7; i++)
      fcntl (i, F_SETFD, FD_CLOEXEC);
    sv->lfd = 3;
    sv->src = 4;
    sv->ready = 5;
    sv->log = 6;
    if (chdir ("/") < 0)
      _exit (1);
    umask (022);
    supervise (sv);
  }
  close (pipefd[1]);
  close (sv->log);
  if (pid < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "fork: %s", g_strerror (errno));
    close (pipefd[0]);
    return FALSE;
  }
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  p->ready = pipefd[0];
  return TRUE;
}

char *
vdp_runtime_unit_name (const char *uuid, const char *target)
{
  return g_strdup_printf ("virt-dataplane-blk-%s-%s", uuid, target);
}

char **
vdp_runtime_systemd_argv (const struct vdp_backend_conf *conf, const char *uuid,
                          const struct vdp_backend_disk *b, const struct vdp_runtime_ident *who,
                          const char *self)
{
  g_autoptr (GPtrArray) a = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *unit = vdp_runtime_unit_name (uuid, b->target);
  g_autofree char *dir = domain_dir (conf, uuid);
  g_autofree char *settings = file_of (dir, b->target, ".conf");
  unsigned threads = MIN (b->n_workers, conf->max_workers);

  g_ptr_array_add (a, g_strdup ("systemd-run"));
  g_ptr_array_add (a, g_strdup_printf ("--unit=%s", unit));
  g_ptr_array_add (a, g_strdup_printf ("--description=virt-dataplane-blk: disk %s of domain %s",
                                       b->target, uuid));
  g_ptr_array_add (a, g_strdup ("--collect"));
  g_ptr_array_add (a, g_strdup ("--quiet"));
  /* the listening socket outlives the backend: QEMU reconnects to it */
  g_ptr_array_add (a, g_strdup_printf ("--socket-property=ListenStream=%s", b->socket));
  g_ptr_array_add (a, g_strdup_printf ("--socket-property=SocketUser=%u", (unsigned) who->uid));
  g_ptr_array_add (a, g_strdup_printf ("--socket-property=SocketGroup=%u", (unsigned) who->gid));
  g_ptr_array_add (a, g_strdup ("--socket-property=SocketMode=0660"));
  g_ptr_array_add (a, g_strdup ("--socket-property=RemoveOnStop=yes"));
  g_ptr_array_add (a, g_strdup ("--property=Restart=always"));
  g_ptr_array_add (a, g_strdup_printf ("--property=RestartSec=%ums", RESTART_MIN_MS));
  g_ptr_array_add (a, g_strdup ("--property=StartLimitIntervalSec=0"));
  g_ptr_array_add (a, g_strdup_printf ("--property=TimeoutStopSec=%ums", conf->stop_timeout_ms));
  g_ptr_array_add (a, g_strdup_printf ("--property=TasksMax=%u", threads + 4));
  if (conf->memory_limit)
    g_ptr_array_add (a, g_strdup_printf ("--property=MemoryMax=%" G_GUINT64_FORMAT,
                                         conf->memory_limit));
  g_ptr_array_add (a, g_strdup ("--property=LimitCORE=0"));
  g_ptr_array_add (a, g_strdup ("--"));
  g_ptr_array_add (a, g_strdup (self));
  g_ptr_array_add (a, g_strdup ("hook"));
  g_ptr_array_add (a, g_strdup_printf ("--exec-backend=%s", settings));
  g_ptr_array_add (a, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&a), FALSE);
}

static gboolean
run_quiet (char **argv, GError **error)
{
  g_autofree char *out = NULL, *err = NULL;
  int status;

  if (!g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "%s failed: %s", argv[0],
                 g_strstrip (err ? err : out ? out : g_strdup ("")));
    return FALSE;
  }
  return TRUE;
}

static gboolean
start_systemd (const struct vdp_backend_conf *conf, const char *uuid,
               const struct vdp_backend_disk *b, const struct vdp_runtime_ident *who,
               struct pending *p, GError **error)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", error);
  g_auto (GStrv) argv = NULL;
  g_autofree char *dir = domain_dir (conf, uuid);
  g_autofree char *unitf = file_of (dir, b->target, ".unit");
  g_autofree char *service = NULL;
  const char *start[] = { "systemctl", "start", "--no-block", NULL, NULL };

  if (self == NULL)
    return FALSE;
  argv = vdp_runtime_systemd_argv (conf, uuid, b, who, self);
  p->unit = vdp_runtime_unit_name (uuid, b->target);
  service = g_strconcat (p->unit, ".service", NULL);
  start[3] = service;
  /* systemd-run starts the socket unit; the service starts now, not at
   * QEMU's first connection, so that a bad disk fails the guest's start */
  return run_quiet (argv, error) && g_file_set_contents (unitf, p->unit, -1, error)
         && run_quiet ((char **) start, error);
}

static gboolean
use_systemd (const struct vdp_backend_conf *conf)
{
  struct stat st;

  if (conf->supervisor != VDP_SUPERVISOR_AUTO)
    return conf->supervisor == VDP_SUPERVISOR_SYSTEMD;
  /* sd_booted(): systemd is PID 1 */
  return lstat ("/run/systemd/system", &st) == 0 && S_ISDIR (st.st_mode);
}

static void
stop_target (const struct vdp_backend_conf *conf, const char *dir, const char *target,
             GPtrArray *warnings);

/* Waits for every pending start; FALSE with @error naming the first disk
 * that failed. */
static gboolean
wait_ready (const struct vdp_backend_conf *conf, struct pending *p, unsigned n, GError **error)
{
  guint64 until = now_ms () + conf->start_timeout_ms + 2000;
  gboolean ok = TRUE;

  for (unsigned i = 0; i < n; i++) {
    if (p[i].ready >= 0) {
      char buf[1024] = "";
      ssize_t got = 0, r;
      while (!strchr (buf, '\n') && (size_t) got < sizeof (buf) - 1) {
        struct pollfd pfd = { p[i].ready, POLLIN, 0 };
        guint64 t = now_ms ();
        if (t >= until || poll (&pfd, 1, (int) (until - t)) <= 0)
          break;
        r = read (p[i].ready, buf + got, sizeof (buf) - 1 - (size_t) got);
        if (r <= 0)
          break;
        got += r;
      }
      close (p[i].ready);
      p[i].ready = -1;
      if (strncmp (buf, "ok\n", 3) != 0 && ok) {
        char *nl = strchr (buf, '\n');
        if (nl)
          *nl = '\0';
        g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "disk %s: %s", p[i].b->target,
                     g_str_has_prefix (buf, "error ") ? buf + 6
                     : "the supervisor did not report in time");
        ok = FALSE;
      }
    } else if (p[i].unit) {
      g_autoptr (GHashTable) kv = NULL;
      while ((kv = read_kv (p[i].statsf, TRUE)) == NULL && now_ms () < until)
        g_usleep (10000);
      if (kv == NULL && ok) {
        g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME,
                     "disk %s: the backend was not ready after %u ms (see journalctl -u %s)",
                     p[i].b->target, conf->start_timeout_ms, p[i].unit);
        ok = FALSE;
      }
    }
  }
  return ok;
}

gboolean
vdp_runtime_start (const struct vdp_backend_conf *conf, const char *name, const char *uuid,
                   GPtrArray *disks, const struct vdp_runtime_ident *who, GError **error)
{
  g_autofree char *dir = domain_dir (conf, uuid);
  g_autofree struct pending *p = g_new0 (struct pending, MAX (disks->len, 1));
  gboolean systemd = use_systemd (conf), ok = TRUE;
  unsigned n = 0;

  if (!vdp_backend_uuid_valid (uuid)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "domain '%s': bad UUID '%s'", name, uuid);
    return FALSE;
  }
  /* check everything before anything starts */
  for (guint i = 0; i < disks->len; i++) {
    const struct vdp_backend_disk *b = disks->pdata[i];
    g_autofree char *want = vdp_backend_socket_path (conf->runtime_dir, uuid, b->target);
    if (strcmp (b->socket, want) != 0) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                   "disk %s: socket '%s' is not '%s' (the runtime directory is '%s')", b->target,
                   b->socket, want, conf->runtime_dir);
      return FALSE;
    }
  }
  if (!make_dir (conf->runtime_dir, 0755, 0, error) || !make_dir (dir, 0710, who->gid, error))
    return FALSE;

  for (guint i = 0; i < disks->len && ok; i++) {
    const struct vdp_backend_disk *b = disks->pdata[i];
    g_autofree char *pidf = file_of (dir, b->target, ".pid");
    g_autofree char *unitf = file_of (dir, b->target, ".unit");
    g_autofree char *settingsf = file_of (dir, b->target, ".conf");
    g_autoptr (GPtrArray) states = NULL;
    struct vdp_runtime_state *st;
    int src;

    st = read_state (dir, b->target);
    if (st->running) {
      vdp_runtime_state_free (st);
      continue;           /* a second prepare: it serves already */
    }
    vdp_runtime_state_free (st);
    stop_target (conf, dir, b->target, NULL);   /* leftovers of a dead one */
    src = vdp_runtime_open_source ((const char *const *) conf->allowed, b->source, error);
    if (src < 0) {
      g_prefix_error (error, "disk %s: ", b->target);
      ok = FALSE;
      break;
    }
    if (!write_settings (settingsf, name, b, who, error)) {
      close (src);
      ok = FALSE;
      break;
    }
    p[n].b = b;
    p[n].ready = -1;
    p[n].statsf = file_of (dir, b->target, ".stats");
    if (systemd) {
      close (src);   /* the unit opens it again, with the same checks */
      ok = start_systemd (conf, uuid, b, who, &p[n], error);
    } else {
      struct supervisor sv = {
        .conf = conf, .b = b, .who = *who, .dir = dir, .pidf = pidf, .settingsf = settingsf,
        .statsf = p[n].statsf, .src = src, .ready = -1, .log = -1,
      };
      g_autofree char *statef = file_of (dir, b->target, ".state");
      sv.statef = statef;
      sv.lfd = make_socket (b->socket, who, &sv.sock_ino, error);
      ok = sv.lfd >= 0 && start_builtin (&sv, name, uuid, &p[n], error);
      if (sv.lfd >= 0)
        close (sv.lfd);
      close (src);
    }
    if (!ok)
      g_prefix_error (error, "disk %s: ", b->target);
    n++;
  }
  if (ok)
    ok = wait_ready (conf, p, n, error);
  else
    for (unsigned i = 0; i < n; i++)
      if (p[i].ready >= 0)
        close (p[i].ready);
  if (!ok)
    for (unsigned i = 0; i < n; i++)
      stop_target (conf, dir, p[i].b->target, NULL);
  for (unsigned i = 0; i < n; i++) {
    g_free (p[i].unit);
    g_free (p[i].statsf);
  }
  return ok;
}

/* ---- the systemd unit's entry point ------------------------------------ */

gboolean
vdp_runtime_exec_from_unit (const struct vdp_backend_conf *conf, const char *conf_file,
                            GError **error)
{
  struct vdp_runtime_ident who;
  g_autofree char *name = NULL, *dir = g_path_get_dirname (conf_file);
  g_autoptr (vdp_backend_disk) b = read_settings (conf_file, &who, &name, error);
  g_autofree char *statsf = NULL;
  const char *fds = g_getenv ("LISTEN_FDS"), *pid = g_getenv ("LISTEN_PID");
  int src;

  if (b == NULL)
    return FALSE;
  if (g_strcmp0 (fds, "1") != 0 || pid == NULL || atoi (pid) != (int) getpid ()) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE,
                 "--exec-backend runs in the backend's systemd unit, with its socket as fd 3");
    return FALSE;
  }
  src = vdp_runtime_open_source ((const char *const *) conf->allowed, b->source, error);
  if (src < 0)
    return FALSE;
  statsf = file_of (dir, b->target, ".stats");
  unlink (statsf);
  exec_backend (conf, b, &who, statsf, 3, src);
}

/* ---- stopping ---------------------------------------------------------- */

/* Whether @pid runs (a zombie does not: an init that does not reap its
 * orphans keeps them). */
static gboolean
alive (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (paren = strrchr (text, ')')) == NULL)
    return FALSE;
  return paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* Whether @pid is a virt-dataplane-blk writing @stats (not a reused pid). */
static gboolean
is_our_backend (int pid, const char *stats)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", pid);
  g_autofree char *cmd = NULL;
  g_autofree char *want = g_strdup_printf ("--stats-file=%s", stats);
  gsize len = 0;

  if (!g_file_get_contents (path, &cmd, &len, NULL))
    return FALSE;
  for (gsize i = 0; i < len; i += strlen (cmd + i) + 1)
    if (strcmp (cmd + i, want) == 0)
      return TRUE;
  return FALSE;
}

static void
warn (GPtrArray *warnings, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
warn (GPtrArray *warnings, const char *fmt, ...)
{
  va_list ap;

  if (warnings == NULL)
    return;
  va_start (ap, fmt);
  g_ptr_array_add (warnings, g_strdup_vprintf (fmt, ap));
  va_end (ap);
}

static void
stop_target (const struct vdp_backend_conf *conf, const char *dir, const char *target,
             GPtrArray *warnings)
{
  static const char *const suffixes[] = { ".sock", ".pid", ".state", ".stats", ".conf", ".unit" };
  struct vdp_runtime_state *s = read_state (dir, target);
  g_autofree char *statsf = file_of (dir, target, ".stats");
  g_autofree char *pidf = file_of (dir, target, ".pid");

  if (s->unit) {
    g_autofree char *socket = g_strconcat (s->unit, ".socket", NULL);
    g_autofree char *service = g_strconcat (s->unit, ".service", NULL);
    const char *argv[] = { "systemctl", "stop", socket, service, NULL };
    g_autoptr (GError) err = NULL;
    if (!run_quiet ((char **) argv, &err))
      warn (warnings, "disk %s: %s", target, err->message);
  } else if (s->supervisor_pid > 0) {
    guint64 until = now_ms () + conf->stop_timeout_ms + 3000;
    kill (s->supervisor_pid, SIGTERM);
    while (alive (s->supervisor_pid) && now_ms () < until)
      g_usleep (10000);
    if (alive (s->supervisor_pid)) {
      warn (warnings, "disk %s: supervisor %d did not stop: SIGKILL", target, s->supervisor_pid);
      kill (s->supervisor_pid, SIGKILL);
    }
  }
  /* a backend whose supervisor is gone (killed) is an orphan: end it */
  if (s->backend_pid > 0 && is_our_backend (s->backend_pid, statsf)) {
    guint64 until = now_ms () + conf->stop_timeout_ms;
    kill (s->backend_pid, SIGTERM);
    while (alive (s->backend_pid) && is_our_backend (s->backend_pid, statsf) && now_ms () < until)
      g_usleep (10000);
    if (alive (s->backend_pid) && is_our_backend (s->backend_pid, statsf))
      kill (s->backend_pid, SIGKILL);
  }
  for (size_t i = 0; i < G_N_ELEMENTS (suffixes); i++) {
    g_autofree char *f = file_of (dir, target, suffixes[i]);
    unlink (f);
  }
  vdp_runtime_state_free (s);
}

void
vdp_runtime_stop (const struct vdp_backend_conf *conf, const char *uuid, GPtrArray *warnings)
{
  g_autofree char *dir = domain_dir (conf, uuid);
  g_autoptr (GPtrArray) states = NULL;

  if (!vdp_backend_uuid_valid (uuid))
    return;
  states = vdp_runtime_states (conf, uuid);
  for (guint i = 0; i < states->len; i++)
    stop_target (conf, dir, ((struct vdp_runtime_state *) states->pdata[i])->target, warnings);
  if (rmdir (dir) < 0 && errno != ENOENT)
    warn (warnings, "cannot remove '%s': %s", dir, g_strerror (errno));
}
