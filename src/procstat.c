/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The threads of a QEMU process from /proc: names, CPUs, CPU time, affinity. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procstat.h"
#include "util/error.h"

VdpThreadKind
vdp_thread_classify (const char *name, int pid, int tid, int *index)
{
  *index = -1;
  if (g_str_has_prefix (name, "CPU ") && strchr (name, '/')) {
    *index = atoi (name + 4);
    return VDP_THREAD_VCPU;
  }
  if (g_str_has_prefix (name, "IO iothread")) {
    *index = atoi (name + strlen ("IO iothread"));
    return VDP_THREAD_IOTHREAD;
  }
  if (tid == pid)
    return VDP_THREAD_EMULATOR;
  return VDP_THREAD_OTHER;
}

static void
thread_clear (gpointer p)
{
  struct vdp_thread *t = p;
  g_free (t->name);
  g_free (t->allowed);
}

void
vdp_threads_free (GArray *threads)
{
  if (threads)
    g_array_unref (threads);
}

/* Fields of /proc/PID/task/TID/stat after the ")" that ends the name:
 * state is field 3; utime 14, stime 15, processor 39. */
static gboolean
read_stat (const char *dir, struct vdp_thread *t)
{
  g_autofree char *path = g_build_filename (dir, "stat", NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) f = NULL;
  const char *end;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (end = strrchr (text, ')')) == NULL)
    return FALSE;
  f = g_strsplit (end + 2, " ", -1);
  if (g_strv_length (f) < 37)
    return FALSE;
  t->ticks = g_ascii_strtoull (f[11], NULL, 10) + g_ascii_strtoull (f[12], NULL, 10);
  t->cpu = atoi (f[36]);
  return TRUE;
}

static char *
read_allowed (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "status", NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix (*l, "Cpus_allowed_list:"))
      return g_strstrip (g_strdup (*l + strlen ("Cpus_allowed_list:")));
  return NULL;
}

static gint
cmp_threads (gconstpointer a, gconstpointer b)
{
  const struct vdp_thread *x = a, *y = b;
  if (x->kind != y->kind)
    return (int) x->kind - (int) y->kind;
  if (x->index != y->index)
    return x->index - y->index;
  return x->tid - y->tid;
}

GArray *
vdp_threads_read (int pid, GError **error)
{
  g_autofree char *task = g_strdup_printf ("/proc/%d/task", pid);
  g_autoptr (GDir) d = g_dir_open (task, 0, NULL);
  GArray *out;
  const char *e;

  if (d == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "cannot read the threads of process %d: %s",
                 pid, g_strerror (errno));
    return NULL;
  }
  out = g_array_new (FALSE, TRUE, sizeof (struct vdp_thread));
  g_array_set_clear_func (out, thread_clear);
  while ((e = g_dir_read_name (d)) != NULL) {
    g_autofree char *dir = g_build_filename (task, e, NULL);
    g_autofree char *comm_path = g_build_filename (dir, "comm", NULL);
    g_autofree char *comm = NULL;
    struct vdp_thread t = { 0 };

    t.tid = atoi (e);
    if (t.tid <= 0 || !g_file_get_contents (comm_path, &comm, NULL, NULL))
      continue;   /* gone meanwhile */
    t.name = g_strdup (g_strstrip (comm));
    t.kind = vdp_thread_classify (t.name, pid, t.tid, &t.index);
    if (!read_stat (dir, &t)) {
      g_free (t.name);
      continue;
    }
    t.allowed = read_allowed (dir);
    g_array_append_val (out, t);
  }
  g_array_sort (out, cmp_threads);
  return out;
}

void
vdp_threads_rate (const GArray *before, GArray *after, double seconds)
{
  long hz = sysconf (_SC_CLK_TCK);

  for (guint i = 0; seconds > 0 && i < after->len; i++) {
    struct vdp_thread *a = &g_array_index (after, struct vdp_thread, i);
    for (guint j = 0; j < before->len; j++) {
      const struct vdp_thread *b = &g_array_index (before, struct vdp_thread, j);
      if (b->tid == a->tid && a->ticks >= b->ticks)
        a->cpu_percent = (double) (a->ticks - b->ticks) / (double) hz / seconds * 100.0;
    }
  }
}
