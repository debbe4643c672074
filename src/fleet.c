/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operations over the domains of libvirt hosts, one transaction per domain, a result each. */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "bounds.h"
#include "backend-conf.h"
#include "backend.h"
#include "conn.h"
#include "domain.h"
#include "drift.h"
#include "fleet.h"
#include "lint-backend.h"
#include "lint.h"
#include "planner.h"
#include "report.h"
#include "runtime.h"
#include "util/cleanup.h"
#include "util/diff.h"
#include "util/error.h"
#include "util/interrupt.h"
#include "xmlpatch.h"

const char *const vdp_result_names[] = {
  "applied", "unchanged", "would-change", "reverted", "not-tuned", "failed", "refused",
};
G_STATIC_ASSERT (G_N_ELEMENTS (vdp_result_names) == VDP_RESULT_LAST);

void
vdp_result_free (struct vdp_result *r)
{
  if (r == NULL)
    return;
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
  return g_ptr_array_new_with_free_func ((GDestroyNotify) vdp_result_free);
}

unsigned
vdp_results_count (GPtrArray *results, VdpResultKind kind)
{
  unsigned n = 0;
  for (guint i = 0; i < results->len; i++)
    n += ((struct vdp_result *) results->pdata[i])->kind == kind;
  return n;
}

struct vdp_result *
vdp_result_new (const char *uri, const char *domain, VdpResultKind kind, const char *message)
{
  struct vdp_result *r = g_new0 (struct vdp_result, 1);

  r->uri = g_strdup (uri);
  r->domain = g_strdup (domain);
  r->kind = kind;
  r->message = g_strdup (message);
  return r;
}

/* Gives @sink a result with no plan or diff. */
static void
put_result (struct vdp_sink *sink, const char *uri, const char *domain, VdpResultKind kind,
            const char *message)
{
  vdp_sink_result (sink, vdp_result_new (uri, domain, kind, message));
}

/* Gives @sink one warning line of @domain. */
static void
warn_domain (struct vdp_sink *sink, const char *domain, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
warn_domain (struct vdp_sink *sink, const char *domain, const char *fmt, ...)
{
  g_autoptr (GPtrArray) w = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_ptr_array_add (w, g_strdup_printf ("%s: %s", domain, msg));
  vdp_sink_warnings (sink, w);
}

static void
join_lines (GString *msg, GPtrArray *lines)
{
  for (guint i = 0; i < lines->len; i++)
    g_string_append_printf (msg, "%s%s", i ? "; " : "", (char *) lines->pdata[i]);
}

/* A refused result listing what was changed by hand, or NULL when nothing
 * was (or @overwrite). */
static struct vdp_result *
refuse_drift (const char *uri, const char *name, xmlDocPtr doc, gboolean overwrite,
              const char *verb)
{
  g_autoptr (GPtrArray) lost = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) msg = g_string_new (NULL);

  if (overwrite || vdp_drift_find (doc, lost) == 0)
    return NULL;
  g_string_append_printf (msg, "changed by hand since the last apply; %s would lose: ", verb);
  join_lines (msg, lost);
  g_string_append_printf (msg, " (%s --force to do it anyway)", verb);
  return vdp_result_new (uri, name, VDP_RESULT_REFUSED, msg->str);
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

static int
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

GPtrArray *
vdp_fleet_domains (struct vdp_conn *c, const char *const *names, int state, GError **error)
{
  GPtrArray *out;

  if (names == NULL)
    return vdp_conn_list (c, (VdpDomainState) state, error);
  out = g_ptr_array_new_with_free_func (g_free);
  for (const char *const *n = names; *n; n++) {
    char *name = vdp_conn_resolve (c, *n, NULL);
    g_ptr_array_add (out, name ? name : g_strdup (*n));
  }
  g_ptr_array_sort (out, cmp_names);
  for (guint i = 1; i < out->len;)
    if (strcmp (out->pdata[i], out->pdata[i - 1]) == 0)
      g_ptr_array_remove_index (out, i);
    else
      i++;
  return out;
}

struct loaded {
  char *name;
  char *xml;
  xmlDocPtr doc;
  struct vdp_domain *dom;
  struct vdp_disk_hint *hints;
  gboolean planned;         /* named (or picked by --all): planned; else context */
  struct vdp_backend_selection *sel;  /* disks virt-dataplane-blk serves (planned ones) */
  GPtrArray *backends;                /* their settings (struct vdp_backend_disk), after planning */
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
  if (back_dom && vdp_plan_verify (dp, back_dom, missing)
      && vdp_backend_verify (l->backends, back_doc, missing))
    return TRUE;
  if (back_dom == NULL)
    g_string_append_printf (why, "cannot read the domain back: %s", err->message);
  else {
    g_string_append (why, "libvirt did not keep: ");
    join_lines (why, missing);
  }
  if (vdp_conn_define (c, l->xml, FALSE, &restore_err))
    g_string_append (why, " (original restored)");
  else
    g_string_append_printf (why, " (restoring the original failed too: %s)", restore_err->message);
  return FALSE;
}

/* The scope of a change, for its result and the audit trail. */
static const char *
scope_of (gboolean config, gboolean live)
{
  return config && live ? "config,live" : live ? "live" : "config";
}

/* One domain's transaction.  @named: the domain was named (not picked
 * by --all), so --live on it when it does not run is an error. */
static void
apply_one (struct vdp_conn *c, const struct vdp_plan *plan, const struct vdp_domain_plan *dp,
           struct loaded *l, gboolean validate, gboolean named, const struct vdp_apply_opts *o,
           struct vdp_sink *sink)
{
  const char *uri = vdp_conn_uri (c);
  g_autoptr (xmlDoc) patched = xmlCopyDoc (l->doc, 1);
  g_autoptr (GError) err = NULL;
  g_autofree char *before = NULL, *after = NULL, *changed = NULL;
  g_autoptr (GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) why = g_string_new (NULL);
  struct vdp_live_pins was = { 0 }, now = { 0 };
  gboolean config_done, live_done, running, live_wanted, config_applied = FALSE;
  struct vdp_result *r;

  running = vdp_conn_is_active (c, l->name, NULL) == 1;
  if (o->live && !running && named) {
    put_result (sink, uri, l->name, VDP_RESULT_FAILED, "domain is not running: --live needs a "
                "running guest, as in virsh (--config alone changes its definition)");
    return;
  }
  if (dp->skipped) {
    put_result (sink, uri, l->name, VDP_RESULT_UNCHANGED, dp->skip_reason);
    return;
  }
  if (vdp_xmlpatch_apply (patched, plan, dp, &err) < 0
      || vdp_xmlpatch_backend (patched, l->backends, &err) < 0
      || !vdp_drift_stamp (patched, l->dom, &changed, &err)) {
    put_result (sink, uri, l->name, VDP_RESULT_FAILED, err->message);
    return;
  }
  /* what is already in place: the recorded plan and its elements (compared
   * by meaning, since libvirt orders attributes its own way), the pins */
  config_done = !o->config || (l->dom->tuned && g_strcmp0 (l->dom->tuned_hash, dp->hash) == 0
                               && vdp_plan_verify (dp, l->dom, missing)
                               && vdp_backend_verify (l->backends, l->doc, missing));
  live_wanted = o->live && running && dp->place;
  live_done = !live_wanted || (vdp_conn_get_live_pins (c, l->name, &was, NULL)
                               && live_matches (dp, &was, missing));
  if (config_done && live_done) {
    r = vdp_result_new (uri, l->name, VDP_RESULT_UNCHANGED, NULL);
    r->plan = g_strdup (dp->hash);
    vdp_sink_result (sink, r);
    vdp_live_pins_clear (&was);
    return;
  }
  /* hand edits of what an earlier apply wrote are not overwritten silently */
  if (!config_done && l->dom->tuned && (r = refuse_drift (uri, l->name, l->doc, o->overwrite,
                                                          "apply"))) {
    vdp_sink_result (sink, r);
    vdp_live_pins_clear (&was);
    return;
  }
  before = vdp_xml_format (l->doc);
  after = vdp_xml_format (patched);
  if (o->dry_run) {
    r = vdp_result_new (uri, l->name, VDP_RESULT_WOULD_CHANGE,
                        !live_done ? "and the live pins" : NULL);
    r->plan = g_strdup (dp->hash);
    if (!config_done)
      r->diff = vdp_unified_diff (l->name, before, after, NULL);
    vdp_sink_result (sink, r);
    vdp_live_pins_clear (&was);
    return;
  }

  if (config_done)
    g_free (changed), changed = g_strdup ("");
  if (!config_done) {
    if (!config_apply (c, dp, l, after, validate, why)) {
      put_result (sink, uri, l->name, VDP_RESULT_FAILED, why->str);
      vdp_audit ("failed", uri, l->name, dp->hash, changed, "config", why->str);
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
        join_lines (why, missing);
      }
      live_restore (c, l->name, &was);
      g_string_append (why, " (live pins put back");
      if (config_applied)
        g_string_append (why, vdp_conn_define (c, l->xml, FALSE, NULL)
                         ? ", original definition restored)" : "; restoring the definition failed)");
      else
        g_string_append_c (why, ')');
      put_result (sink, uri, l->name, VDP_RESULT_FAILED, why->str);
      vdp_audit ("failed", uri, l->name, dp->hash, changed, scope_of (config_applied, TRUE),
                 why->str);
      vdp_live_pins_clear (&was);
      vdp_live_pins_clear (&now);
      return;
    }
  }
  r = vdp_result_new (uri, l->name, VDP_RESULT_APPLIED,
                      !o->live ? (running && config_applied
                                  ? "config; the running guest keeps its old settings until it "
                                    "restarts" : NULL)
                      : !dp->place ? "config; pins kept"
                      : running ? "config and live" : "config; not running");
  if (config_applied && l->backends && l->backends->len && running) {
    g_autofree char *before_msg = r->message;
    r->message = g_strdup_printf ("%s%svirt-dataplane-blk serves its disks from the next boot",
                                  before_msg ? before_msg : "", before_msg ? "; " : "");
  }
  if (!o->config)
    g_free (r->message), r->message = g_strdup ("live");
  r->plan = g_strdup (dp->hash);
  vdp_audit ("applied", uri, l->name, dp->hash, changed,
             scope_of (config_applied, !live_done), NULL);
  vdp_sink_result (sink, r);
  if (!o->live && running && config_applied)
    warn_domain (sink, l->name, "the running guest keeps its old settings until it restarts "
                 "(apply --live pins it now)");
  vdp_live_pins_clear (&was);
  vdp_live_pins_clear (&now);
}

static void
loaded_clear (struct loaded *l)
{
  vdp_backend_selection_free (l->sel);
  if (l->backends)
    g_ptr_array_unref (l->backends);
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
  if (l->xml && vdp_bounds_domain_text (l->xml, l->name, error))
    l->doc = vdp_xml_read_memory (l->xml, l->name, error);
  if (l->doc && vdp_bounds_domain_doc (l->doc, l->name, error))
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
           struct vdp_sink *sink)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) todo = NULL;
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GHashTable) wanted = g_hash_table_new (g_str_hash, g_str_equal);

  memset (h, 0, sizeof (*h));
  h->vh = vdp_host_open (spec, &o->host, &err);
  if (h->vh == NULL) {
    put_result (sink, spec->uri ? spec->uri : "", NULL, VDP_RESULT_FAILED, err->message);
    return FALSE;
  }
  h->c = vdp_host_conn (h->vh);
  vdp_sink_set_uri (sink, vdp_conn_uri (h->c));
  if (vdp_host_topology (h->vh, &err) == NULL
      || !vdp_topology_check_pus (vdp_host_topology (h->vh, NULL), o->policy->isolated,
                                  "isolated PUs", &err)
      || !vdp_host_stack (h->vh, &h->caps, &h->validate, NULL, &err)
      || (todo = vdp_fleet_domains (h->c, names, o->state, &err)) == NULL
      || (all = vdp_conn_list (h->c, VDP_STATE_HOST, &err)) == NULL) {
    put_result (sink, vdp_conn_uri (h->c), NULL, VDP_RESULT_FAILED, err->message);
    vdp_host_take_warnings (h->vh, warnings);
    return FALSE;
  }
  vdp_sink_order (sink, todo);

  for (guint i = 0; i < todo->len; i++)
    g_hash_table_add (wanted, todo->pdata[i]);
  h->docs = g_new0 (struct loaded, todo->len + all->len + 1);
  /* the domains to plan, in name order */
  for (guint i = 0; i < todo->len; i++) {
    struct loaded *l = &h->docs[h->n];
    g_autoptr (GError) e = NULL;
    l->name = g_strdup (todo->pdata[i]);
    l->planned = TRUE;
    if (!loaded_read (h, l, warnings, &e)) {
      put_result (sink, vdp_conn_uri (h->c), l->name, VDP_RESULT_FAILED, e->message);
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
 * whose recorded profile is gone, or that virt-dataplane-blk cannot serve
 * when asked to, gets a failed result.  Returns the plan, or NULL (a
 * failed result for the host). */
static struct vdp_plan *
plan_host (struct host *h, const struct vdp_apply_opts *o, vdp_policy_cache *policies,
           int *plan_of, struct vdp_sink *sink)
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
    /* the host's other domains keep their recorded profiles */
    struct vdp_plan_input in = { l->dom, l->hints,
                                 l->planned ? vdp_policy_for_domain (policies, l->dom, &e)
                                 : vdp_policy_for_context (policies, l->dom) };

    plan_of[i] = -1;
    if (l->planned && in.policy) {
      l->sel = vdp_backend_select (l->dom, l->doc, &h->caps,
                                   o->backend_given ? o->policy->backend : in.policy->backend);
      if (l->sel->refused)
        e = g_error_new (VDP_ERROR, VDP_ERROR_INPUT, "--backend=vhost-user: %s (domain left as "
                         "it was)", l->sel->refused);
      else
        in.backend = l->sel->served;
    }
    if (!l->planned || in.policy == NULL || e) {
      if (l->planned) {
        put_result (sink, vdp_conn_uri (h->c), l->name, VDP_RESULT_FAILED, e->message);
      }
      around[req.n_context++] = in;
      continue;
    }
    plan_of[i] = (int) req.n;
    todo[req.n++] = in;
  }
  plan = vdp_plan_compute_host (&req, &err);
  if (plan == NULL)
    put_result (sink, vdp_conn_uri (h->c), NULL, VDP_RESULT_FAILED, err->message);
  return plan;
}

char *
vdp_overcommit_warning (const struct vdp_plan *plan)
{
  if (plan->total_vcpus <= plan->total_pus)
    return NULL;
  return g_strdup_printf ("overcommitted vCPUs: %u vCPUs of all its domains on %u usable PUs "
                          "(%.2f per PU)", plan->total_vcpus, plan->total_pus,
                          plan->total_pus ? (double) plan->total_vcpus / plan->total_pus : 0.0);
}

/* The host-wide lines of a plan, for the warnings (the sink names the
 * host). */
static void
host_warnings (const struct vdp_plan *plan, GPtrArray *warnings)
{
  char *over = vdp_overcommit_warning (plan);

  for (unsigned i = 0; i < plan->n_domains; i++)
    for (guint k = 0; k < plan->domains[i].warnings->len; k++)
      g_ptr_array_add (warnings, g_strdup (plan->domains[i].warnings->pdata[k]));
  for (guint k = 0; k < plan->warnings->len; k++)
    g_ptr_array_add (warnings, g_strdup (plan->warnings->pdata[k]));
  if (over)
    g_ptr_array_add (warnings, over);
}

struct domain_pool {
  struct vdp_conn *c;
  const struct vdp_plan *plan;
  struct loaded *docs;
  gboolean validate, named;
  const struct vdp_apply_opts *o;
  struct vdp_sink *sink;
};

static void
domain_worker (gpointer item, gpointer user)
{
  struct domain_pool *p = user;
  unsigned i = GPOINTER_TO_UINT (item) - 1;

  /* after SIGINT no transaction starts; those running finish */
  if (vdp_interrupted ())
    return;
  apply_one (p->c, p->plan, &p->plan->domains[i], &p->docs[i], p->validate, p->named, p->o,
             p->sink);
}

/* The backend settings of each planned domain that fits (l->backends);
 * one that cannot have them gets a failed result. */
static void
backend_settings (struct host *h, const struct vdp_plan *plan, const int *plan_of,
                  struct vdp_sink *sink)
{
  g_autofree char *runtime_dir = vdp_backend_conf_runtime_dir ();

  for (unsigned i = 0; i < h->n; i++) {
    struct loaded *l = &h->docs[i];
    const struct vdp_domain_plan *dp;
    g_autoptr (GError) err = NULL;
    if (plan_of[i] < 0 || (dp = &plan->domains[plan_of[i]])->failed)
      continue;
    l->backends = vdp_backend_settings (dp, l->sel, dp->policy, runtime_dir, l->doc, &err);
    if (l->backends == NULL)
      put_result (sink, vdp_conn_uri (h->c), l->name, VDP_RESULT_FAILED, err->message);
  }
}

void
vdp_fleet_apply (const struct vdp_host_spec *host, const char *const *names,
                 const struct vdp_apply_opts *o, struct vdp_sink *sink)
{
  g_autoptr (vdp_plan) plan = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (vdp_policy_cache) policies = vdp_policy_cache_new (o->policy, o->profile_given);
  g_autofree int *plan_of = NULL;
  g_autofree struct loaded *docs = NULL;
  g_autofree gboolean *run = NULL;
  struct host h;
  unsigned n_todo = 0;

  if (!load_host (host, names, o, &h, warnings, sink)) {
    host_clear (&h);
    vdp_sink_warnings (sink, warnings);
    return;
  }
  plan_of = g_new0 (int, h.n + 1);
  plan = plan_host (&h, o, policies, plan_of, sink);
  if (plan) {
    struct domain_pool pool = { h.c, plan, NULL, h.validate, names != NULL, o, sink };
    host_warnings (plan, warnings);
    vdp_sink_warnings (sink, warnings);
    backend_settings (&h, plan, plan_of, sink);
    docs = g_new0 (struct loaded, plan->n_domains + 1);
    run = g_new0 (gboolean, plan->n_domains + 1);
    for (unsigned i = 0; i < h.n; i++)
      if (plan_of[i] >= 0) {
        docs[plan_of[i]] = h.docs[i];
        run[plan_of[i]] = !plan->domains[plan_of[i]].failed && h.docs[i].backends;
        n_todo += run[plan_of[i]];
      }
    pool.docs = docs;
    /* a domain that does not fit fails alone */
    for (unsigned i = 0; i < plan->n_domains; i++)
      if (plan->domains[i].failed) {
        g_autofree char *m = vdp_misfit_format (&plan->domains[i]);
        put_result (sink, vdp_conn_uri (h.c), plan->domains[i].dom->name, VDP_RESULT_FAILED, m);
      }
    /* the plan was made for the whole host; the transactions are
     * independent and may run side by side, each result given as it
     * ends (the sink puts them in order) */
    if (o->jobs > 1 && n_todo > 1) {
      GThreadPool *tp = g_thread_pool_new (domain_worker, &pool, (gint) MIN (o->jobs, n_todo),
                                           TRUE, NULL);
      for (unsigned i = 0; i < plan->n_domains; i++)
        if (run[i])
          g_thread_pool_push (tp, GUINT_TO_POINTER (i + 1), NULL);
      g_thread_pool_free (tp, FALSE, TRUE);
    } else {
      for (unsigned i = 0; i < plan->n_domains; i++)
        if (run[i])
          domain_worker (GUINT_TO_POINTER (i + 1), &pool);
    }
  }
  g_clear_pointer (&plan, vdp_plan_free);
  host_clear (&h);
  vdp_sink_warnings (sink, warnings);
}

/* Findings of running guests whose live settings differ from their
 * definitions, for the domains reported. */
static void
check_live (struct vdp_conn *c, const struct loaded *docs, unsigned n, const gboolean *report,
            GPtrArray *findings)
{
  for (unsigned i = 0; i < n && !vdp_interrupted (); i++) {
    g_autofree char *xml = NULL;
    g_autoptr (xmlDoc) doc = NULL;
    g_autoptr (vdp_domain) live = NULL;

    if (!report[i] || vdp_conn_is_active (c, docs[i].name, NULL) != 1)
      continue;
    xml = vdp_conn_get_xml (c, docs[i].name, FALSE, NULL);
    if (xml && vdp_bounds_domain_text (xml, docs[i].name, NULL))
      doc = vdp_xml_read_memory (xml, docs[i].name, NULL);
    if (doc)
      live = vdp_domain_parse (doc, docs[i].name, NULL);
    if (live)
      vdp_lint_live (docs[i].dom, live, findings);
  }
}

/* Whether @uri is this machine's QEMU driver through a daemon (where the
 * qemu hook runs and the backends' runtime directory is ours to read). */
static gboolean
local_qemu (const char *uri)
{
  g_autofree char *scheme = NULL, *host = NULL, *path = NULL;

  if (uri == NULL || !g_uri_split (uri, G_URI_FLAGS_NONE, &scheme, NULL, &host, NULL, &path,
                                   NULL, NULL, NULL))
    return FALSE;
  return g_strcmp0 (scheme, "qemu") == 0 && (host == NULL || *host == '\0')
         && g_strcmp0 (path, "/embed") != 0;
}

/* The backend rules for the domains of @docs asked for; for this
 * machine's QEMU, with what runs here (the live XML of running guests, the
 * runtime directory, the hook). */
static void
lint_backends (struct vdp_conn *c, struct loaded *docs, unsigned n_docs, GPtrArray *findings)
{
  g_autoptr (vdp_backend_conf) conf = vdp_backend_conf_load (NULL, NULL);
  g_autofree struct vdp_lint_backend_input *in = g_new0 (struct vdp_lint_backend_input,
                                                         MAX (n_docs, 1));
  g_autofree xmlDocPtr *live = g_new0 (xmlDocPtr, MAX (n_docs, 1));
  g_autofree struct vdp_domain **live_dom = g_new0 (struct vdp_domain *, MAX (n_docs, 1));
  gboolean local = local_qemu (vdp_conn_uri (c));
  unsigned n = 0;

  for (unsigned k = 0; k < n_docs; k++) {
    const struct loaded *l = &docs[k];
    unsigned i;
    if (!l->planned)
      continue;
    i = n++;
    in[i].dom = l->dom;
    in[i].doc = l->doc;
    if (!local || vdp_conn_is_active (c, l->name, NULL) != 1)
      continue;
    {
      g_autofree char *xml = vdp_conn_get_xml (c, l->name, FALSE, NULL);
      g_autofree char *uuid = NULL;
      live[i] = xml ? vdp_xml_read_memory (xml, l->name, NULL) : NULL;
      live_dom[i] = live[i] ? vdp_domain_parse (live[i], l->name, NULL) : NULL;
      if (live_dom[i] == NULL)
        continue;
      uuid = live_dom[i]->uuid ? g_ascii_strdown (live_dom[i]->uuid, -1) : NULL;
      in[i].dom = live_dom[i];
      in[i].doc = live[i];
      in[i].running = TRUE;
      in[i].states = conf && uuid ? vdp_runtime_states (conf, uuid) : NULL;
    }
  }
  vdp_lint_backends (in, n, conf ? conf->runtime_dir : VDP_BACKEND_RUNTIME_DIR,
                     local ? vdp_runtime_hook_installed (LIBVIRT_HOOK_DIR) : -1, findings);
  for (unsigned i = 0; i < n; i++) {
    if (in[i].states)
      g_ptr_array_unref (in[i].states);
    vdp_domain_free (live_dom[i]);
    if (live[i])
      xmlFreeDoc (live[i]);
  }
}

void
vdp_fleet_check (const struct vdp_host_spec *host, const char *const *names,
                 const struct vdp_apply_opts *o, struct vdp_sink *sink)
{
  g_autoptr (GPtrArray) findings = vdp_findings_new ();
  g_autoptr (vdp_plan) plan = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (vdp_policy_cache) policies = vdp_policy_cache_new (o->policy, o->profile_given);
  g_autofree int *plan_of = NULL;
  g_autofree struct vdp_plan_input *in = NULL;
  g_autofree const struct vdp_domain_plan **dps = NULL;
  g_autofree gboolean *report = NULL;
  struct host h;

  if (!load_host (host, names, o, &h, warnings, sink)) {
    host_clear (&h);
    vdp_sink_warnings (sink, warnings);
    return;
  }
  vdp_sink_warnings (sink, warnings);
  /* today's plan, for the drift rule */
  plan_of = g_new0 (int, h.n + 1);
  plan = plan_host (&h, o, policies, plan_of, sink);
  in = g_new0 (struct vdp_plan_input, h.n + 1);
  dps = g_new0 (const struct vdp_domain_plan *, h.n + 1);
  report = g_new0 (gboolean, h.n + 1);
  /* every domain of the host is audited for the hard constraints; the
   * ones asked for are reported */
  for (unsigned i = 0; i < h.n; i++) {
    in[i].dom = h.docs[i].dom;
    in[i].hints = h.docs[i].hints;
    in[i].policy = h.docs[i].planned ? vdp_policy_for_domain (policies, h.docs[i].dom, NULL)
                   : vdp_policy_for_context (policies, h.docs[i].dom);
    in[i].backend = h.docs[i].sel && !h.docs[i].sel->refused ? h.docs[i].sel->served : NULL;
    dps[i] = plan && plan_of[i] >= 0 ? &plan->domains[plan_of[i]] : NULL;
    report[i] = h.docs[i].planned;
  }
  vdp_lint_host (vdp_host_topology (h.vh, NULL), o->policy, &h.caps, in, h.n, dps, report,
                 findings);
  check_live (h.c, h.docs, h.n, report, findings);
  lint_backends (h.c, h.docs, h.n, findings);
  vdp_sink_findings (sink, findings);
  g_clear_pointer (&plan, vdp_plan_free);
  host_clear (&h);
}

/* ---- revert ----------------------------------------------------------------- */

/* The set a thread had before it was pinned: @pin, else the domain's
 * <vcpu cpuset>, else every CPU of the host (borrowed). */
static hwloc_const_bitmap_t
unpinned (hwloc_const_bitmap_t pin, const struct vdp_domain *orig, hwloc_const_bitmap_t all)
{
  return pin ? pin : orig->vcpu_cpuset ? orig->vcpu_cpuset : all;
}

/* Undoes apply on running guest @name: the pins of @orig (the definition
 * as it was before apply; unpinned threads get the host's CPUs) and no
 * IOThread @orig does not have; verified by reading them back. */
static gboolean
live_revert (struct vdp_conn *c, const char *name, const struct vdp_domain *orig,
             const struct vdp_live_pins *was, GError **error)
{
  g_auto (VdpBitmap) all = vdp_conn_all_cpus (c);
  g_autofree gboolean *keep = g_new0 (gboolean, was->n_iothreads + 1);
  struct vdp_live_pins now = { 0 };
  gboolean ok = TRUE;

  for (unsigned i = 0; i < was->n_iothreads; i++) {
    unsigned id = was->iothread_ids[i];
    if (orig->n_iothreadids)
      for (unsigned k = 0; k < orig->n_iothreadids; k++)
        keep[i] |= orig->iothreadids[k] == id;
    else
      keep[i] = id <= orig->iothreads;
    if (!keep[i] && !vdp_conn_del_iothread (c, name, id, error))
      return FALSE;
  }
  for (unsigned v = 0; v < was->n_vcpus; v++)
    if (!vdp_conn_pin_vcpu (c, name, v, unpinned (v < orig->vcpus ? orig->vcpupin[v] : NULL,
                                                    orig, all), error))
      return FALSE;
  if (!vdp_conn_pin_emulator (c, name, unpinned (orig->emulatorpin, orig, all), error))
    return FALSE;
  for (unsigned i = 0; i < was->n_iothreads; i++) {
    hwloc_const_bitmap_t pin = NULL;
    if (!keep[i])
      continue;
    for (unsigned k = 0; k < orig->n_iothreadpin; k++)
      if (orig->iothreadpin_id[k] == was->iothread_ids[i])
        pin = orig->iothreadpin[k];
    if (!vdp_conn_pin_iothread (c, name, was->iothread_ids[i], unpinned (pin, orig, all), error))
      return FALSE;
  }
  if (!vdp_conn_get_live_pins (c, name, &now, error))
    return FALSE;
  for (unsigned i = 0; i < now.n_iothreads && ok; i++)
    for (unsigned k = 0; k < was->n_iothreads; k++)
      if (!keep[k] && was->iothread_ids[k] == now.iothread_ids[i]) {
        g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME,
                     "the running guest kept IOThread %u", now.iothread_ids[i]);
        ok = FALSE;
      }
  for (unsigned v = 0; v < now.n_vcpus && ok; v++) {
    hwloc_const_bitmap_t want = unpinned (v < orig->vcpus ? orig->vcpupin[v] : NULL, orig, all);
    if (!hwloc_bitmap_isincluded (now.vcpus[v], want) || !hwloc_bitmap_isincluded (want, now.vcpus[v])) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME,
                   "the running guest did not keep the pin of vCPU %u", v);
      ok = FALSE;
    }
  }
  vdp_live_pins_clear (&now);
  return ok;
}

/* One domain's revert transaction. */
static void
revert_one (struct vdp_conn *c, const char *name, gboolean named, const struct vdp_apply_opts *o,
            struct vdp_sink *sink)
{
  const char *uri = vdp_conn_uri (c);
  g_autoptr (GError) e = NULL;
  g_autofree char *xml = vdp_conn_get_xml (c, name, TRUE, &e);
  g_autoptr (xmlDoc) doc = NULL, orig = NULL;
  g_autoptr (vdp_domain) orig_dom = NULL, tuned = NULL;
  g_autofree char *restored = NULL, *changed = NULL;
  const char *plan;
  struct vdp_live_pins was = { 0 };
  struct vdp_result *r;
  gboolean running, config_done = FALSE;
  int rc;

  if (xml && vdp_bounds_domain_text (xml, name, &e))
    doc = vdp_xml_read_memory (xml, name, &e);
  if (doc == NULL) {
    put_result (sink, uri, name, VDP_RESULT_FAILED, e->message);
    return;
  }
  running = vdp_conn_is_active (c, name, NULL) == 1;
  if (o->live && !running && named) {
    put_result (sink, uri, name, VDP_RESULT_FAILED, "domain is not running: --live needs a "
                "running guest, as in virsh (--config alone changes its definition)");
    return;
  }
  orig = xmlCopyDoc (doc, 1);
  rc = vdp_xmlpatch_revert (orig, &e);
  if (rc < 0) {
    put_result (sink, uri, name, VDP_RESULT_FAILED, e->message);
    return;
  }
  if (rc == 0) {
    put_result (sink, uri, name, VDP_RESULT_NOT_TUNED, "never tuned by virt-dataplane");
    return;
  }
  if ((r = refuse_drift (uri, name, doc, o->overwrite, "revert"))) {
    vdp_sink_result (sink, r);
    return;
  }
  restored = vdp_xml_format (orig);
  changed = vdp_drift_changed_keys (doc, orig);
  tuned = vdp_domain_parse (doc, name, NULL);
  plan = tuned ? tuned->tuned_hash : NULL;   /* the plan being undone */
  if (o->dry_run) {
    g_autofree char *now = vdp_xml_format (doc);
    r = vdp_result_new (uri, name, VDP_RESULT_WOULD_CHANGE,
                        o->live && running ? "and the live pins" : NULL);
    if (o->config)
      r->diff = vdp_unified_diff (name, now, restored, NULL);
    vdp_sink_result (sink, r);
    return;
  }
  if (o->config) {
    if (!vdp_conn_define (c, restored, FALSE, &e)) {
      g_autofree char *msg = g_strdup_printf ("%s (domain left as it was)", e->message);
      put_result (sink, uri, name, VDP_RESULT_FAILED, msg);
      return;
    }
    config_done = TRUE;
  }
  if (o->live && running) {
    orig_dom = vdp_domain_parse (orig, name, &e);
    if (orig_dom == NULL || !vdp_conn_get_live_pins (c, name, &was, &e)
        || !live_revert (c, name, orig_dom, &was, &e)) {
      g_autoptr (GString) why = g_string_new (e ? e->message : "cannot revert the live pins");
      if (was.vcpus)
        live_restore (c, name, &was);
      g_string_append (why, " (live pins put back");
      if (config_done)
        g_string_append (why, vdp_conn_define (c, xml, FALSE, NULL)
                         ? ", tuned definition restored)" : "; restoring the definition failed)");
      else
        g_string_append_c (why, ')');
      put_result (sink, uri, name, VDP_RESULT_FAILED, why->str);
      vdp_audit ("failed", uri, name, plan, changed, scope_of (config_done, TRUE), why->str);
      vdp_live_pins_clear (&was);
      return;
    }
    vdp_live_pins_clear (&was);
  }
  r = vdp_result_new (uri, name, VDP_RESULT_REVERTED,
                      !o->live ? (running ? "config; the running guest keeps its tuned settings "
                                            "until it restarts" : NULL)
                      : !o->config ? "live" : running ? "config and live" : "config; not running");
  vdp_audit ("reverted", uri, name, plan, changed, scope_of (config_done, o->live && running),
             NULL);
  vdp_sink_result (sink, r);
  if (!o->live && running)
    warn_domain (sink, name, "the running guest keeps its tuned settings until it restarts "
                 "(revert --live undoes them now)");
}

void
vdp_fleet_revert (const struct vdp_host_spec *host, const char *const *names,
                  const struct vdp_apply_opts *o, struct vdp_sink *sink)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_host) h = vdp_host_open (host, NULL, &err);
  g_autoptr (GPtrArray) todo = NULL;
  struct vdp_conn *c = h ? vdp_host_conn (h) : NULL;

  if (h == NULL) {
    put_result (sink, host->uri ? host->uri : "", NULL, VDP_RESULT_FAILED, err->message);
    return;
  }
  vdp_sink_set_uri (sink, vdp_conn_uri (c));
  todo = vdp_fleet_domains (c, names, o->state, &err);
  if (todo == NULL) {
    put_result (sink, vdp_conn_uri (c), NULL, VDP_RESULT_FAILED, err->message);
    return;
  }
  vdp_sink_order (sink, todo);
  for (guint i = 0; i < todo->len && !vdp_interrupted (); i++)
    revert_one (c, todo->pdata[i], names != NULL, o, sink);
}
