/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What status shows of a running guest's virt-dataplane-blk backends: process, workers, counters. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "backend-conf.h"
#include "backend-view.h"
#include "backend.h"
#include "procstat.h"
#include "runtime.h"
#include "util/json.h"

struct view {
  struct vdp_backend_disk *rec;
  struct vdp_runtime_state *st;   /* NULL: nothing in the runtime directory */
  GArray *before, *threads;       /* struct vdp_thread of the backend process */
};

static void
view_free (gpointer p)
{
  struct view *v = p;

  vdp_backend_disk_free (v->rec);
  vdp_runtime_state_free (v->st);
  if (v->before)
    vdp_threads_free (v->before);
  if (v->threads)
    vdp_threads_free (v->threads);
  g_free (v);
}

GPtrArray *
vdp_backend_views_begin (xmlDocPtr doc, const char *uuid)
{
  GPtrArray *views = g_ptr_array_new_with_free_func (view_free);
  g_autoptr (GPtrArray) recs = vdp_backend_records_parse (doc, NULL);
  g_autoptr (vdp_backend_conf) conf = vdp_backend_conf_load (NULL, NULL);
  g_autoptr (GPtrArray) states = NULL;
  g_autofree char *lower = uuid ? g_ascii_strdown (uuid, -1) : NULL;

  if (recs == NULL || recs->len == 0 || conf == NULL || lower == NULL)
    return views;
  states = vdp_runtime_states (conf, lower);
  for (guint i = 0; i < recs->len; i++) {
    struct view *v = g_new0 (struct view, 1);
    v->rec = g_steal_pointer (&recs->pdata[i]);
    for (guint k = 0; k < states->len; k++)
      if (strcmp (((struct vdp_runtime_state *) states->pdata[k])->target, v->rec->target) == 0)
        v->st = g_steal_pointer (&states->pdata[k]);
    if (v->st && v->st->backend_pid > 0)
      v->before = vdp_threads_read (v->st->backend_pid, NULL);
    g_ptr_array_add (views, v);
  }
  return views;
}

void
vdp_backend_views_end (GPtrArray *views, double interval)
{
  for (guint i = 0; i < views->len; i++) {
    struct view *v = views->pdata[i];
    if (v->before == NULL)
      continue;
    v->threads = vdp_threads_read (v->st->backend_pid, NULL);
    if (v->threads)
      vdp_threads_rate (v->before, v->threads, interval);
  }
}

static gboolean
is_worker (const struct vdp_thread *t)
{
  return g_str_has_prefix (t->name, "vdp-blk-w");
}

/* QEMU reconnects once per backend restart, and again for each further
 * connection the current backend accepted. */
static unsigned
reconnects (const struct vdp_runtime_state *st)
{
  return st->restarts + (st->connections > 1 ? st->connections - 1 : 0);
}

void
vdp_backend_views_text (GString *out, GPtrArray *views)
{
  for (guint i = 0; i < views->len; i++) {
    const struct view *v = views->pdata[i];
    const struct vdp_runtime_state *st = v->st;

    if (st == NULL || !st->running || st->backend_pid <= 0) {
      g_string_append_printf (out, "  disk %s: virt-dataplane-blk NOT RUNNING (socket %s)\n",
                              v->rec->target, v->rec->socket);
      continue;
    }
    g_string_append_printf (out, "  disk %s: virt-dataplane-blk pid %d (%s supervisor), %s, "
                            "%u queue%s, %" G_GUINT64_FORMAT " requests, %u reconnect%s, "
                            "%u restart%s\n", v->rec->target, st->backend_pid,
                            st->supervisor ? st->supervisor : "no", st->state ? st->state : "?",
                            v->rec->queues, v->rec->queues == 1 ? "" : "s", st->requests,
                            reconnects (st), reconnects (st) == 1 ? "" : "s", st->restarts,
                            st->restarts == 1 ? "" : "s");
    for (guint k = 0; v->threads && k < v->threads->len; k++) {
      const struct vdp_thread *t = &g_array_index (v->threads, struct vdp_thread, k);
      unsigned w = is_worker (t) ? (unsigned) atoi (t->name + 9) : 0;
      g_autofree char *what = g_strdup_printf ("worker %u", w);
      if (is_worker (t))
        g_string_append_printf (out, "    %-10s %-8d %-16s %-16s %-6d %.1f\n", what, t->tid,
                                w < v->rec->n_workers && v->rec->worker_cpus[w]
                                ? v->rec->worker_cpus[w] : "-",
                                t->allowed ? t->allowed : "-", t->cpu, t->cpu_percent);
    }
  }
}

void
vdp_backend_views_json (JsonBuilder *b, GPtrArray *views)
{
  json_builder_set_member_name (b, "backends");
  json_builder_begin_array (b);
  for (guint i = 0; i < views->len; i++) {
    const struct view *v = views->pdata[i];
    const struct vdp_runtime_state *st = v->st;

    json_builder_begin_object (b);
    vdp_json_add_string (b, "target", v->rec->target);
    vdp_json_add_string (b, "socket", v->rec->socket);
    vdp_json_add_string (b, "source", v->rec->source);
    vdp_json_add_int (b, "queues", v->rec->queues);
    vdp_json_add_bool (b, "running", st && st->running && st->backend_pid > 0);
    vdp_json_add_string (b, "supervisor", st ? st->supervisor : NULL);
    vdp_json_add_int (b, "supervisor_pid", st ? st->supervisor_pid : 0);
    vdp_json_add_string (b, "unit", st ? st->unit : NULL);
    vdp_json_add_int (b, "pid", st ? st->backend_pid : 0);
    vdp_json_add_string (b, "state", st ? st->state : NULL);
    vdp_json_add_int (b, "requests", st ? (gint64) st->requests : 0);
    vdp_json_add_int (b, "connections", st ? st->connections : 0);
    vdp_json_add_int (b, "restarts", st ? st->restarts : 0);
    vdp_json_add_int (b, "reconnects", st ? reconnects (st) : 0);
    json_builder_set_member_name (b, "workers");
    json_builder_begin_array (b);
    for (guint k = 0; v->threads && k < v->threads->len; k++) {
      const struct vdp_thread *t = &g_array_index (v->threads, struct vdp_thread, k);
      if (!is_worker (t))
        continue;
      json_builder_begin_object (b);
      vdp_json_add_int (b, "tid", t->tid);
      vdp_json_add_string (b, "name", t->name);
      vdp_json_add_string (b, "allowed", t->allowed);
      vdp_json_add_int (b, "cpu", t->cpu);
      json_builder_set_member_name (b, "cpu_percent");
      json_builder_add_double_value (b, t->cpu_percent);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}
