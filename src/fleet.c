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
  gboolean planned;         /* named (or picked by --all): planned; else context */
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

/* A host read for planning: every domain of it, the ones to plan marked. */
struct host {
  struct vdp_host *vh;
  struct vdp_conn *c;       /* vh's */
  struct vdp_caps caps;
  gboolean validate;        /* the daemon's schema knows the plan's elements */
  struct loaded *docs;
  unsigned n;
};

static void
host_clear (struct host *h)
{
  for (unsigned i = 0; i < h->n; i++)
    loaded_clear (&h->docs[i]);
  g_free (h->docs);
  if (h->vh)
    vdp_host_free (h->vh);
  memset (h, 0, sizeof (*h));
}

static gboolean
loaded_read (struct host *h, struct loaded *l, GPtrArray *warnings, GError **error)
{
  l->xml = vdp_conn_get_xml (h->c, l->name, TRUE, error);
  if (l->xml)
    l->doc = vdp_xml_read_memory (l->xml, l->name, error);
  if (l->doc)
    l->dom = vdp_domain_parse (l->doc, l->name, error);
  if (l->dom == NULL)
    return FALSE;
  l->hints = vdp_host_disk_hints (h->vh, l->dom, warnings);
  return TRUE;
}

/* Opens the host, finds its topology and stack, and reads every domain
 * of it: the ones @names (NULL: every persistent domain in o->state) are
 * to be planned, the others are what they are planned around.  Failures
 * of the host or of a domain to plan become failed results; a domain of
 * the host that cannot be read is a warning (what it holds is unknown). */
static gboolean
load_host (const struct vdp_host_spec *spec, const char *const *names,
           const struct vdp_apply_opts *o, struct host *h, GPtrArray *warnings,
           GPtrArray *results)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) todo = NULL;
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GHashTable) wanted = g_hash_table_new (g_str_hash, g_str_equal);

  memset (h, 0, sizeof (*h));
  h->vh = vdp_host_open (spec, &o->host, &err);
  if (h->vh == NULL) {
    add_result (results, spec->uri ? spec->uri : "", NULL, VDP_RESULT_FAILED, err->message);
    return FALSE;
  }
  h->c = vdp_host_conn (h->vh);
  if (vdp_host_topology (h->vh, &err) == NULL
      || !vdp_host_stack (h->vh, &h->caps, &h->validate, NULL, &err)
      || (todo = target_names (h->c, names, o->state, &err)) == NULL
      || (all = vdp_conn_list (h->c, VDP_STATE_HOST, &err)) == NULL) {
    add_result (results, vdp_conn_uri (h->c), NULL, VDP_RESULT_FAILED, err->message);
    vdp_host_take_warnings (h->vh, warnings);
    return FALSE;
  }
  vdp_progress_add_domains (o->progress, todo->len);

  for (guint i = 0; i < todo->len; i++)
    g_hash_table_add (wanted, todo->pdata[i]);
  h->docs = g_new0 (struct loaded, todo->len + all->len + 1);
  /* the domains to plan, in the order given */
  for (guint i = 0; i < todo->len; i++) {
    struct loaded *l = &h->docs[h->n];
    g_autoptr (GError) e = NULL;
    l->name = g_strdup (todo->pdata[i]);
    l->planned = TRUE;
    if (!loaded_read (h, l, warnings, &e)) {
      add_result (results, vdp_conn_uri (h->c), l->name, VDP_RESULT_FAILED, e->message);
      vdp_progress_domain_done (o->progress);
      loaded_clear (l);
      memset (l, 0, sizeof (*l));
      continue;
    }
    h->n++;
  }
  /* the rest of the host */
  for (guint i = 0; i < all->len; i++) {
    struct loaded *l = &h->docs[h->n];
    g_autoptr (GError) e = NULL;
    if (g_hash_table_contains (wanted, all->pdata[i]))
      continue;
    l->name = g_strdup (all->pdata[i]);
    if (!loaded_read (h, l, NULL, &e)) {
      g_ptr_array_add (warnings, g_strdup_printf ("%s: %s: what it holds on the host is not "
                                                  "counted", vdp_conn_uri (h->c), e->message));
      loaded_clear (l);
      memset (l, 0, sizeof (*l));
      continue;
    }
    h->n++;
  }
  vdp_host_take_warnings (h->vh, warnings);
  return TRUE;
}

/* Plans the marked domains of @h around the others.  Fills @plan_of (per
 * doc: its index in the plan, -1 for context and refused ones); a domain
 * whose recorded profile is gone gets a failed result.  Returns the plan,
 * or NULL (a failed result for the host). */
static struct vdp_plan *
plan_host (struct host *h, const struct vdp_apply_opts *o, vdp_policy_cache *policies,
           int *plan_of, GPtrArray *results)
{
  g_autofree struct vdp_plan_input *todo = g_new0 (struct vdp_plan_input, h->n + 1);
  g_autofree struct vdp_plan_input *around = g_new0 (struct vdp_plan_input, h->n + 1);
  struct vdp_plan_request req = { vdp_host_topology (h->vh, NULL), o->policy, &h->caps, todo, 0,
                                  around, 0 };
  g_autoptr (GError) err = NULL;
  struct vdp_plan *plan;

  for (unsigned i = 0; i < h->n; i++) {
    struct loaded *l = &h->docs[i];
    g_autoptr (GError) e = NULL;
    struct vdp_plan_input in = { l->dom, l->hints, vdp_policy_for_domain (policies, l->dom, &e) };

    plan_of[i] = -1;
    if (!l->planned || in.policy == NULL) {
      if (l->planned) {
        add_result (results, vdp_conn_uri (h->c), l->name, VDP_RESULT_FAILED, e->message);
        vdp_progress_domain_done (o->progress);
      }
      around[req.n_context++] = in;
      continue;
    }
    plan_of[i] = (int) req.n;
    todo[req.n++] = in;
  }
  plan = vdp_plan_compute_host (&req, &err);
  if (plan == NULL) {
    add_result (results, vdp_conn_uri (h->c), NULL, VDP_RESULT_FAILED, err->message);
    for (unsigned i = 0; i < req.n; i++)
      vdp_progress_domain_done (o->progress);
  }
  return plan;
}

/* The host-wide lines of a plan, for the warnings. */
static void
host_warnings (const struct vdp_plan *plan, const char *uri, GPtrArray *warnings)
{
  for (unsigned i = 0; i < plan->n_domains; i++)
    for (guint k = 0; k < plan->domains[i].warnings->len; k++)
      g_ptr_array_add (warnings, g_strdup (plan->domains[i].warnings->pdata[k]));
  for (guint k = 0; k < plan->warnings->len; k++)
    g_ptr_array_add (warnings, g_strdup_printf ("%s: %s", uri, (char *) plan->warnings->pdata[k]));
  g_ptr_array_add (warnings,
                   g_strdup_printf ("%s: %u vCPUs of all its domains on %u usable PUs (%.2f per "
                                    "PU), %" G_GUINT64_FORMAT " MiB of guest memory for %"
                                    G_GUINT64_FORMAT " MiB (%.2f)", uri, plan->total_vcpus,
                                    plan->total_pus, plan->total_pus
                                    ? (double) plan->total_vcpus / plan->total_pus : 0.0,
                                    plan->total_memory_kib / 1024, plan->total_avail_kib / 1024,
                                    plan->total_avail_kib ? (double) plan->total_memory_kib
                                    / (double) plan->total_avail_kib : 0.0));
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
  g_autoptr (vdp_plan) plan = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (vdp_policy_cache) policies = vdp_policy_cache_new (o->policy, o->profile_given);
  g_autofree int *plan_of = NULL;
  g_autofree GPtrArray **each = NULL;
  g_autofree struct loaded *docs = NULL;
  struct host h;
  unsigned n_todo = 0;

  if (!load_host (host, names, o, &h, warnings, results)) {
    host_clear (&h);
    merge_warnings (o->warnings, warnings);
    return;
  }
  plan_of = g_new0 (int, h.n + 1);
  plan = plan_host (&h, o, policies, plan_of, results);
  if (plan) {
    struct domain_pool pool = { h.c, plan, NULL, h.validate, o, NULL };
    const char *u = vdp_conn_uri (h.c);

    host_warnings (plan, u, warnings);
    /* the plan was made for the whole host; the transactions are
     * independent and may run side by side, results kept in order */
    docs = g_new0 (struct loaded, plan->n_domains + 1);
    each = g_new0 (GPtrArray *, plan->n_domains + 1);
    for (unsigned i = 0; i < h.n; i++)
      if (plan_of[i] >= 0)
        docs[plan_of[i]] = h.docs[i];
    pool.docs = docs;
    pool.each = each;
    for (unsigned i = 0; i < plan->n_domains; i++) {
      each[i] = vdp_results_new ();
      n_todo += !plan->domains[i].failed;
    }
    if (o->jobs > 1 && n_todo > 1) {
      GThreadPool *tp = g_thread_pool_new (domain_worker, &pool, (gint) MIN (o->jobs, n_todo),
                                           TRUE, NULL);
      for (unsigned i = 0; i < plan->n_domains; i++)
        if (!plan->domains[i].failed)
          g_thread_pool_push (tp, GUINT_TO_POINTER (i + 1), NULL);
      g_thread_pool_free (tp, FALSE, TRUE);
    } else {
      for (unsigned i = 0; i < plan->n_domains; i++)
        if (!plan->domains[i].failed)
          domain_worker (GUINT_TO_POINTER (i + 1), &pool);
    }
    for (unsigned i = 0; i < plan->n_domains; i++) {
      if (plan->domains[i].failed) {
        g_autofree char *m = vdp_misfit_format (&plan->domains[i]);
        add_result (each[i], u, plan->domains[i].dom->name, VDP_RESULT_FAILED, m);
        vdp_progress_domain_done (o->progress);
      }
      g_ptr_array_extend_and_steal (results, each[i]);
    }
  }
  g_clear_pointer (&plan, vdp_plan_free);
  host_clear (&h);
  merge_warnings (o->warnings, warnings);
}

void
vdp_fleet_check (const struct vdp_host_spec *host, const char *const *names,
                 const struct vdp_apply_opts *o, GPtrArray *findings, GPtrArray *results)
{
  g_autoptr (vdp_plan) plan = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (vdp_policy_cache) policies = vdp_policy_cache_new (o->policy, o->profile_given);
  g_autofree int *plan_of = NULL;
  g_autofree struct vdp_plan_input *in = NULL;
  g_autofree const struct vdp_domain_plan **dps = NULL;
  g_autofree gboolean *report = NULL;
  struct host h;

  if (!load_host (host, names, o, &h, warnings, results)) {
    host_clear (&h);
    merge_warnings (o->warnings, warnings);
    return;
  }
  /* today's plan, for the drift rule */
  plan_of = g_new0 (int, h.n + 1);
  plan = plan_host (&h, o, policies, plan_of, results);
  in = g_new0 (struct vdp_plan_input, h.n + 1);
  dps = g_new0 (const struct vdp_domain_plan *, h.n + 1);
  report = g_new0 (gboolean, h.n + 1);
  /* every domain of the host is audited for the hard constraints; the
   * ones asked for are reported */
  for (unsigned i = 0; i < h.n; i++) {
    in[i].dom = h.docs[i].dom;
    in[i].hints = h.docs[i].hints;
    in[i].policy = vdp_policy_for_domain (policies, h.docs[i].dom, NULL);
    dps[i] = plan && plan_of[i] >= 0 ? &plan->domains[plan_of[i]] : NULL;
    report[i] = h.docs[i].planned;
  }
  vdp_lint_host (vdp_host_topology (h.vh, NULL), o->policy, &h.caps, in, h.n, dps, report,
                 findings);
  for (unsigned i = 0; i < h.n; i++)
    if (plan && plan_of[i] >= 0)
      vdp_progress_domain_done (o->progress);
  g_clear_pointer (&plan, vdp_plan_free);
  host_clear (&h);
  merge_warnings (o->warnings, warnings);
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
