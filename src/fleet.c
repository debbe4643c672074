/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operations over the domains of libvirt hosts, one transaction per domain, a result each. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "domain.h"
#include "fleet.h"
#include "lint.h"
#include "planner.h"
#include "util/cleanup.h"
#include "util/diff.h"
#include "util/error.h"
#include "xmlpatch.h"

const char *const vdp_result_names[] = {
  "applied", "unchanged", "would-change", "reverted", "not-tuned", "failed",
};

/* Appends @local's warnings to the caller's array; hosts run in parallel. */
static void
merge_warnings (GPtrArray *to, GPtrArray *local)
{
  static GMutex lock;

  if (to == NULL)
    return;
  g_mutex_lock (&lock);
  for (guint i = 0; i < local->len; i++)
    g_ptr_array_add (to, g_strdup (local->pdata[i]));
  g_mutex_unlock (&lock);
}

static void
result_free (gpointer p)
{
  struct vdp_result *r = p;
  g_free (r->uri);
  g_free (r->domain);
  g_free (r->message);
  g_free (r->plan);
  g_free (r->diff);
  g_free (r);
}

GPtrArray *
vdp_results_new (void)
{
  return g_ptr_array_new_with_free_func (result_free);
}

unsigned
vdp_results_count (GPtrArray *results, VdpResultKind kind)
{
  unsigned n = 0;
  for (guint i = 0; i < results->len; i++)
    n += ((struct vdp_result *) results->pdata[i])->kind == kind;
  return n;
}

static struct vdp_result *
add_result (GPtrArray *results, const char *uri, const char *domain, VdpResultKind kind,
            const char *message)
{
  struct vdp_result *r = g_new0 (struct vdp_result, 1);

  r->uri = g_strdup (uri);
  r->domain = g_strdup (domain);
  r->kind = kind;
  r->message = g_strdup (message);
  g_ptr_array_add (results, r);
  return r;
}

gboolean
vdp_state_parse (const char *s, int *state, GError **error)
{
  if (g_strcmp0 (s, "running") == 0)
    *state = VDP_STATE_RUNNING;
  else if (g_strcmp0 (s, "shutoff") == 0)
    *state = VDP_STATE_SHUTOFF;
  else {
    g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "invalid --state '%s' (running or shutoff)", s);
    return FALSE;
  }
  return TRUE;
}

/* The domains to work on: @names, or every persistent domain in @state. */
static GPtrArray *
target_names (struct vdp_conn *c, const char *const *names, int state, GError **error)
{
  GPtrArray *out;

  if (names == NULL)
    return vdp_conn_list (c, (VdpDomainState) state, error);
  out = g_ptr_array_new_with_free_func (g_free);
  for (const char *const *n = names; *n; n++)
    g_ptr_array_add (out, g_strdup (*n));
  return out;
}

struct loaded {
  char *name;
  char *xml;
  xmlDocPtr doc;
  struct vdp_domain *dom;
  struct vdp_disk_hint *hints;
};

static gboolean
live_matches (const struct vdp_domain_plan *dp, const struct vdp_live_pins *p, GPtrArray *missing)
{
  guint before = missing->len;

  for (unsigned v = 0; v < p->n_vcpus && v < dp->n_vcpus; v++)
    if (!hwloc_bitmap_isequal (p->vcpus[v], dp->vcpu_pins[v])) {
      g_ptr_array_add (missing, g_strdup_printf ("live pin of vCPU %u", v));
      break;
    }
  if (!p->emulator || !hwloc_bitmap_isequal (p->emulator, dp->emulator_pin))
    g_ptr_array_add (missing, g_strdup ("live emulator pin"));
  for (unsigned k = 0; dp->set_iothreads && k < dp->n_iothreads; k++) {
    gboolean found = FALSE;
    for (unsigned i = 0; i < p->n_iothreads; i++)
      found |= p->iothread_ids[i] == k + 1 && hwloc_bitmap_isequal (p->iothreads[i], dp->iothread_pins[k]);
    if (!found) {
      g_ptr_array_add (missing, g_strdup_printf ("live IOThread %u or its pin", k + 1));
      break;
    }
  }
  return missing->len == before;
}

/* Adds the IOThreads a running guest lacks and pins everything. */
static gboolean
live_apply (struct vdp_conn *c, const char *name, const struct vdp_domain_plan *dp,
            const struct vdp_live_pins *now, GError **error)
{
  for (unsigned k = 1; dp->set_iothreads && k <= dp->n_iothreads; k++) {
    gboolean have = FALSE;
    for (unsigned i = 0; i < now->n_iothreads; i++)
      have |= now->iothread_ids[i] == k;
    if (!have && !vdp_conn_add_iothread (c, name, k, error))
      return FALSE;
  }
  for (unsigned v = 0; v < now->n_vcpus && v < dp->n_vcpus; v++)
    if (!vdp_conn_pin_vcpu (c, name, v, dp->vcpu_pins[v], error))
      return FALSE;
  if (!vdp_conn_pin_emulator (c, name, dp->emulator_pin, error))
    return FALSE;
  for (unsigned k = 0; dp->set_iothreads && k < dp->n_iothreads; k++)
    if (!vdp_conn_pin_iothread (c, name, k + 1, dp->iothread_pins[k], error))
      return FALSE;
  return TRUE;
}

/* Puts the live pins of @was back (best effort: reports nothing). */
static void
live_restore (struct vdp_conn *c, const char *name, const struct vdp_live_pins *was)
{
  for (unsigned v = 0; v < was->n_vcpus; v++)
    vdp_conn_pin_vcpu (c, name, v, was->vcpus[v], NULL);
  if (was->emulator)
    vdp_conn_pin_emulator (c, name, was->emulator, NULL);
  for (unsigned i = 0; i < was->n_iothreads; i++)
    vdp_conn_pin_iothread (c, name, was->iothread_ids[i], was->iothreads[i], NULL);
}

static void
join_missing (GString *msg, GPtrArray *missing)
{
  for (guint i = 0; i < missing->len; i++)
    g_string_append_printf (msg, "%s%s", i ? "; " : "", (char *) missing->pdata[i]);
}

/* The persistent part: define, read back, verify; on failure the original
 * is defined again and *why says what happened. */
static gboolean
config_apply (struct vdp_conn *c, const struct vdp_domain_plan *dp, struct loaded *l,
              const char *after, gboolean validate, GString *why)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *back = NULL;
  g_autoptr (xmlDoc) back_doc = NULL;
  g_autoptr (vdp_domain) back_dom = NULL;
  g_autoptr (GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) restore_err = NULL;

  if (!vdp_conn_define (c, after, validate, &err)) {
    g_string_append_printf (why, "%s (original kept)", err->message);
    return FALSE;
  }
  back = vdp_conn_get_xml (c, l->name, TRUE, &err);
  if (back)
    back_doc = vdp_xml_read_memory (back, l->name, &err);
  if (back_doc)
    back_dom = vdp_domain_parse (back_doc, l->name, &err);
  if (back_dom && vdp_plan_verify (dp, back_dom, missing))
    return TRUE;
  if (back_dom == NULL)
    g_string_append_printf (why, "cannot read the domain back: %s", err->message);
  else {
    g_string_append (why, "libvirt did not keep: ");
    join_missing (why, missing);
  }
  if (vdp_conn_define (c, l->xml, FALSE, &restore_err))
    g_string_append (why, " (original restored)");
  else
    g_string_append_printf (why, " (restoring the original failed too: %s)", restore_err->message);
  return FALSE;
}

/* One domain's transaction. */
static void
apply_one (struct vdp_conn *c, const struct vdp_plan *plan, const struct vdp_domain_plan *dp,
           struct loaded *l, gboolean validate, const struct vdp_apply_opts *o,
           GPtrArray *results)
{
  const char *uri = vdp_conn_uri (c);
  g_autoptr (xmlDoc) patched = xmlCopyDoc (l->doc, 1);
  g_autoptr (GError) err = NULL;
  g_autofree char *before = NULL, *after = NULL;
  g_autoptr (GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) why = g_string_new (NULL);
  struct vdp_live_pins was = { 0 }, now = { 0 };
  gboolean config_done, live_done, running = FALSE, config_applied = FALSE;
  struct vdp_result *r;

  if (dp->skipped) {
    add_result (results, uri, l->name, VDP_RESULT_UNCHANGED, dp->skip_reason);
    return;
  }
  if (vdp_xmlpatch_apply (patched, plan, dp, &err) < 0) {
    add_result (results, uri, l->name, VDP_RESULT_FAILED, err->message);
    return;
  }
  /* what is already in place: the recorded plan and its elements (compared
   * by meaning, since libvirt orders attributes its own way), the pins */
  config_done = !o->config || (l->dom->tuned && g_strcmp0 (l->dom->tuned_hash, dp->hash) == 0
                               && vdp_plan_verify (dp, l->dom, missing));
  if (o->live && dp->place)
    running = vdp_conn_is_active (c, l->name, NULL) == 1;
  live_done = !running || (vdp_conn_get_live_pins (c, l->name, &was, NULL)
                           && live_matches (dp, &was, missing));
  if (config_done && live_done) {
    r = add_result (results, uri, l->name, VDP_RESULT_UNCHANGED, NULL);
    r->plan = g_strdup (dp->hash);
    vdp_live_pins_clear (&was);
    return;
  }
  before = vdp_xml_format (l->doc);
  after = vdp_xml_format (patched);
  if (o->dry_run) {
    r = add_result (results, uri, l->name, VDP_RESULT_WOULD_CHANGE,
                    !live_done ? "and the live pins" : NULL);
    r->plan = g_strdup (dp->hash);
    if (!config_done)
      r->diff = vdp_unified_diff (l->name, before, after, NULL);
    vdp_live_pins_clear (&was);
    return;
  }

  if (!config_done) {
    if (!config_apply (c, dp, l, after, validate, why)) {
      add_result (results, uri, l->name, VDP_RESULT_FAILED, why->str);
      vdp_live_pins_clear (&was);
      return;
    }
    config_applied = TRUE;
  }
  if (!live_done) {
    g_ptr_array_set_size (missing, 0);
    if (!live_apply (c, l->name, dp, &was, &err)
        || !vdp_conn_get_live_pins (c, l->name, &now, &err)
        || !live_matches (dp, &now, missing)) {
      if (err)
        g_string_append (why, err->message);
      else {
        g_string_append (why, "the running guest did not keep: ");
        join_missing (why, missing);
      }
      live_restore (c, l->name, &was);
      g_string_append (why, " (live pins put back");
      if (config_applied)
        g_string_append (why, vdp_conn_define (c, l->xml, FALSE, NULL)
                         ? ", original definition restored)" : "; restoring the definition failed)");
      else
        g_string_append_c (why, ')');
      add_result (results, uri, l->name, VDP_RESULT_FAILED, why->str);
      vdp_live_pins_clear (&was);
      vdp_live_pins_clear (&now);
      return;
    }
  }
  r = add_result (results, uri, l->name, VDP_RESULT_APPLIED,
                  !o->live ? NULL : running ? "config and live"
                  : dp->place ? "config; not running" : "config; pins kept");
  if (!o->config)
    g_free (r->message), r->message = g_strdup (running ? "live" : "live: not running, nothing done");
  r->plan = g_strdup (dp->hash);
  vdp_live_pins_clear (&was);
  vdp_live_pins_clear (&now);
}

static void
loaded_clear (struct loaded *l)
{
  vdp_disk_hints_free (l->hints, l->dom ? l->dom->n_disks : 0);
  vdp_domain_free (l->dom);
  if (l->doc)
    xmlFreeDoc (l->doc);
  g_free (l->xml);
  g_free (l->name);
}

/* Opens the host, finds its topology and stack, lists and reads its
 * domains: fills @docs/@in (as many as @n), the stack in @caps
 * (@validate: the daemon's schema knows the plan's elements) and each
 * disk's place on that host.  Failures of the host or of single domains
 * become failed results.  Returns the host, or NULL. */
static struct vdp_host *
load_host (const struct vdp_host_spec *spec, const char *const *names,
           const struct vdp_apply_opts *o, struct loaded **docs, struct vdp_plan_input **in,
           unsigned *n, struct vdp_caps *caps, gboolean *validate, GPtrArray *warnings,
           GPtrArray *results)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_host) h = vdp_host_open (spec, &o->host, &err);
  g_autoptr (GPtrArray) todo = NULL;
  struct vdp_conn *c;

  *n = 0;
  if (h == NULL) {
    add_result (results, spec->uri ? spec->uri : "", NULL, VDP_RESULT_FAILED, err->message);
    return NULL;
  }
  c = vdp_host_conn (h);
  if (vdp_host_topology (h, &err) == NULL || !vdp_host_stack (h, caps, validate, NULL, &err)
      || (todo = target_names (c, names, o->state, &err)) == NULL) {
    add_result (results, vdp_conn_uri (c), NULL, VDP_RESULT_FAILED, err->message);
    vdp_host_take_warnings (h, warnings);
    return NULL;
  }
  vdp_progress_add_domains (o->progress, todo->len);

  *docs = g_new0 (struct loaded, MAX (todo->len, 1));
  *in = g_new0 (struct vdp_plan_input, MAX (todo->len, 1));
  for (guint i = 0; i < todo->len; i++) {
    struct loaded *l = &(*docs)[*n];
    g_autoptr (GError) e = NULL;

    l->name = g_strdup (todo->pdata[i]);
    l->xml = vdp_conn_get_xml (c, l->name, TRUE, &e);
    if (l->xml)
      l->doc = vdp_xml_read_memory (l->xml, l->name, &e);
    if (l->doc)
      l->dom = vdp_domain_parse (l->doc, l->name, &e);
    if (l->dom == NULL) {
      add_result (results, vdp_conn_uri (c), l->name, VDP_RESULT_FAILED, e->message);
      vdp_progress_domain_done (o->progress);
      loaded_clear (l);
      memset (l, 0, sizeof (*l));
      continue;
    }
    l->hints = vdp_host_disk_hints (h, l->dom, warnings);
    (*in)[*n].dom = l->dom;
    (*in)[*n].hints = l->hints;
    (*n)++;
  }
  vdp_host_take_warnings (h, warnings);
  return g_steal_pointer (&h);
}

struct domain_pool {
  struct vdp_conn *c;
  const struct vdp_plan *plan;
  struct loaded *docs;
  gboolean validate;
  const struct vdp_apply_opts *o;
  GPtrArray **each;         /* results per domain */
};

static void
domain_worker (gpointer item, gpointer user)
{
  struct domain_pool *p = user;
  unsigned i = GPOINTER_TO_UINT (item) - 1;

  apply_one (p->c, p->plan, &p->plan->domains[i], &p->docs[i], p->validate, p->o, p->each[i]);
  vdp_progress_domain_done (p->o->progress);
}

void
vdp_fleet_apply (const struct vdp_host_spec *host, const char *const *names,
                 const struct vdp_apply_opts *o, GPtrArray *results)
{
  g_autoptr (GError) err = NULL;
  g_autofree struct loaded *docs = NULL;
  g_autofree struct vdp_plan_input *in = NULL;
  g_autoptr (vdp_plan) plan = NULL;
  struct vdp_caps caps;
  gboolean validate = FALSE;
  unsigned n = 0;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (vdp_host) h = load_host (host, names, o, &docs, &in, &n, &caps, &validate, warnings,
                                      results);
  struct vdp_conn *c = h ? vdp_host_conn (h) : NULL;

  if (h == NULL) {
    merge_warnings (o->warnings, warnings);
    return;
  }
  if (n > 0) {
    plan = vdp_plan_compute (vdp_host_topology (h, NULL), o->policy, &caps, in, n, &err);
    if (plan == NULL) {
      add_result (results, vdp_conn_uri (c), NULL, VDP_RESULT_FAILED, err->message);
      for (unsigned i = 0; i < n; i++)
        vdp_progress_domain_done (o->progress);
    } else {
      struct domain_pool pool = { c, plan, docs, validate, o, NULL };
      g_autofree GPtrArray **each = g_new0 (GPtrArray *, n);

      for (unsigned i = 0; i < n; i++) {
        for (guint k = 0; k < plan->domains[i].warnings->len; k++)
          g_ptr_array_add (warnings, g_strdup (plan->domains[i].warnings->pdata[k]));
        each[i] = vdp_results_new ();
      }
      /* the plan was made for the whole host; the transactions are
       * independent and may run side by side, results kept in order */
      pool.each = each;
      if (o->jobs > 1 && n > 1) {
        GThreadPool *tp = g_thread_pool_new (domain_worker, &pool, (gint) MIN (o->jobs, n),
                                             TRUE, NULL);
        for (unsigned i = 0; i < n; i++)
          g_thread_pool_push (tp, GUINT_TO_POINTER (i + 1), NULL);
        g_thread_pool_free (tp, FALSE, TRUE);
      } else {
        for (unsigned i = 0; i < n; i++)
          domain_worker (GUINT_TO_POINTER (i + 1), &pool);
      }
      for (unsigned i = 0; i < n; i++)
        g_ptr_array_extend_and_steal (results, each[i]);
    }
  }
  g_clear_pointer (&plan, vdp_plan_free);
  for (unsigned i = 0; i < n; i++)
    loaded_clear (&docs[i]);
  merge_warnings (o->warnings, warnings);
}

void
vdp_fleet_check (const struct vdp_host_spec *host, const char *const *names,
                 const struct vdp_apply_opts *o, GPtrArray *findings, GPtrArray *results)
{
  g_autofree struct loaded *docs = NULL;
  g_autofree struct vdp_plan_input *in = NULL;
  g_autoptr (vdp_plan) plan = NULL;
  struct vdp_caps caps;
  gboolean validate = FALSE;
  unsigned n = 0;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (vdp_host) h = load_host (host, names, o, &docs, &in, &n, &caps, &validate, warnings,
                                      results);

  merge_warnings (o->warnings, warnings);
  if (h == NULL)
    return;
  if (n > 0) {
    const struct vdp_topology *topo = vdp_host_topology (h, NULL);
    /* today's plan, for the drift rule; a host the profile cannot be
     * satisfied on is audited without it */
    plan = vdp_plan_compute (topo, o->policy, &caps, in, n, NULL);
    vdp_lint_domains (topo, &caps, in, n, plan, findings);
  }
  for (unsigned i = 0; i < n; i++)
    vdp_progress_domain_done (o->progress);
  g_clear_pointer (&plan, vdp_plan_free);
  for (unsigned i = 0; i < n; i++)
    loaded_clear (&docs[i]);
}

void
vdp_fleet_revert (const struct vdp_host_spec *host, const char *const *names, int state,
                  gboolean dry_run, struct vdp_progress *progress, GPtrArray *results)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_host) h = vdp_host_open (host, NULL, &err);
  g_autoptr (GPtrArray) todo = NULL;
  struct vdp_conn *c = h ? vdp_host_conn (h) : NULL;

  if (h == NULL) {
    add_result (results, host->uri ? host->uri : "", NULL, VDP_RESULT_FAILED, err->message);
    return;
  }
  todo = target_names (c, names, state, &err);
  if (todo == NULL) {
    add_result (results, vdp_conn_uri (c), NULL, VDP_RESULT_FAILED, err->message);
    return;
  }
  vdp_progress_add_domains (progress, todo->len);
  for (guint i = 0; i < todo->len; i++) {
    const char *name = todo->pdata[i];
    g_autoptr (GError) e = NULL;
    g_autofree char *xml = vdp_conn_get_xml (c, name, TRUE, &e);
    g_autoptr (xmlDoc) doc = xml ? vdp_xml_read_memory (xml, name, &e) : NULL;
    g_autofree char *restored = NULL;
    int rc;

    vdp_progress_domain_done (progress);
    if (doc == NULL) {
      add_result (results, vdp_conn_uri (c), name, VDP_RESULT_FAILED, e->message);
      continue;
    }
    rc = vdp_xmlpatch_revert (doc, &e);
    if (rc < 0) {
      add_result (results, vdp_conn_uri (c), name, VDP_RESULT_FAILED, e->message);
      continue;
    }
    if (rc == 0) {
      add_result (results, vdp_conn_uri (c), name, VDP_RESULT_NOT_TUNED,
                  "never tuned by virt-dataplane");
      continue;
    }
    restored = vdp_xml_format (doc);
    if (dry_run) {
      g_autoptr (xmlDoc) cur = vdp_xml_read_memory (xml, name, NULL);
      g_autofree char *now = cur ? vdp_xml_format (cur) : g_strdup (xml);
      struct vdp_result *r = add_result (results, vdp_conn_uri (c), name,
                                         VDP_RESULT_WOULD_CHANGE, NULL);
      r->diff = vdp_unified_diff (name, now, restored, NULL);
      continue;
    }
    if (!vdp_conn_define (c, restored, FALSE, &e)) {
      g_autofree char *msg = g_strdup_printf ("%s (domain left as it was)", e->message);
      add_result (results, vdp_conn_uri (c), name, VDP_RESULT_FAILED, msg);
      continue;
    }
    add_result (results, vdp_conn_uri (c), name, VDP_RESULT_REVERTED, NULL);
  }
}

/* ---- progress ------------------------------------------------------------- */

struct vdp_progress {
  GMutex lock;
  const char *prog, *verb;
  unsigned hosts, hosts_done, domains, domains_done;
  gboolean shown;
};

struct vdp_progress *
vdp_progress_new (const char *prog, const char *verb, unsigned hosts, gboolean enabled)
{
  struct vdp_progress *p;

  if (!enabled)
    return NULL;
  p = g_new0 (struct vdp_progress, 1);
  g_mutex_init (&p->lock);
  p->prog = prog;
  p->verb = verb;
  p->hosts = hosts;
  return p;
}

/* Rewrites the line (under p->lock). */
static void
progress_show (struct vdp_progress *p)
{
  fprintf (stderr, "\r%s: %s: %u/%u host%s, %u/%u domain%s", p->prog, p->verb, p->hosts_done,
           p->hosts, p->hosts == 1 ? "" : "s", p->domains_done, p->domains,
           p->domains == 1 ? "" : "s");
  fflush (stderr);
  p->shown = TRUE;
}

static void
progress_add (struct vdp_progress *p, unsigned *counter, unsigned n)
{
  if (p == NULL)
    return;
  g_mutex_lock (&p->lock);
  *counter += n;
  progress_show (p);
  g_mutex_unlock (&p->lock);
}

void
vdp_progress_add_domains (struct vdp_progress *p, unsigned n)
{
  if (p)
    progress_add (p, &p->domains, n);
}

void
vdp_progress_domain_done (struct vdp_progress *p)
{
  if (p)
    progress_add (p, &p->domains_done, 1);
}

void
vdp_progress_host_done (struct vdp_progress *p)
{
  if (p)
    progress_add (p, &p->hosts_done, 1);
}

void
vdp_progress_free (struct vdp_progress *p)
{
  if (p == NULL)
    return;
  if (p->shown)
    fprintf (stderr, "\n");
  g_mutex_clear (&p->lock);
  g_free (p);
}
