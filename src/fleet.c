/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operations over the domains of libvirt hosts, one transaction per domain, a result each. */
#include <config.h>

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

/* The domains to work on: @names, or every persistent domain. */
static GPtrArray *
target_names (struct vdp_conn *c, const char *const *names, GError **error)
{
  GPtrArray *out;

  if (names == NULL)
    return vdp_conn_list (c, FALSE, error);
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

/* One domain's transaction: define, read back, verify; restore on failure. */
static void
apply_one (struct vdp_conn *c, const struct vdp_plan *plan, const struct vdp_domain_plan *dp,
           struct loaded *l, gboolean validate, gboolean dry_run, GPtrArray *results)
{
  const char *uri = vdp_conn_uri (c);
  g_autoptr (xmlDoc) patched = xmlCopyDoc (l->doc, 1);
  g_autoptr (GError) err = NULL;
  g_autofree char *before = NULL, *after = NULL, *back = NULL;
  g_autoptr (xmlDoc) back_doc = NULL;
  g_autoptr (vdp_domain) back_dom = NULL;
  g_autoptr (GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  struct vdp_result *r;

  if (dp->skipped) {
    add_result (results, uri, l->name, VDP_RESULT_UNCHANGED, dp->skip_reason);
    return;
  }
  if (vdp_xmlpatch_apply (patched, plan, dp, &err) < 0) {
    add_result (results, uri, l->name, VDP_RESULT_FAILED, err->message);
    return;
  }
  /* already tuned as planned: same plan recorded, everything in place
   * (compared by meaning: libvirt orders attributes its own way) */
  if (l->dom->tuned && g_strcmp0 (l->dom->tuned_hash, dp->hash) == 0
      && vdp_plan_verify (dp, l->dom, missing)) {
    r = add_result (results, uri, l->name, VDP_RESULT_UNCHANGED, NULL);
    r->plan = g_strdup (dp->hash);
    return;
  }
  g_ptr_array_set_size (missing, 0);
  before = vdp_xml_format (l->doc);
  after = vdp_xml_format (patched);
  if (dry_run) {
    r = add_result (results, uri, l->name, VDP_RESULT_WOULD_CHANGE, NULL);
    r->plan = g_strdup (dp->hash);
    r->diff = vdp_unified_diff (l->name, before, after, NULL);
    return;
  }

  if (!vdp_conn_define (c, after, validate, &err)) {
    /* nothing was defined: the original stands */
    g_autofree char *msg = g_strdup_printf ("%s (original kept)", err->message);
    add_result (results, uri, l->name, VDP_RESULT_FAILED, msg);
    return;
  }
  back = vdp_conn_get_xml (c, l->name, TRUE, &err);
  if (back)
    back_doc = vdp_xml_read_memory (back, l->name, &err);
  if (back_doc)
    back_dom = vdp_domain_parse (back_doc, l->name, &err);
  if (back_dom == NULL || !vdp_plan_verify (dp, back_dom, missing)) {
    g_autoptr (GError) restore_err = NULL;
    g_autoptr (GString) msg = g_string_new (NULL);

    if (back_dom == NULL)
      g_string_append_printf (msg, "cannot read the domain back: %s", err->message);
    else {
      g_string_append (msg, "libvirt did not keep: ");
      for (guint i = 0; i < missing->len; i++)
        g_string_append_printf (msg, "%s%s", i ? "; " : "", (char *) missing->pdata[i]);
    }
    if (vdp_conn_define (c, l->xml, FALSE, &restore_err))
      g_string_append (msg, " (original restored)");
    else
      g_string_append_printf (msg, " (restoring the original failed too: %s)", restore_err->message);
    add_result (results, uri, l->name, VDP_RESULT_FAILED, msg->str);
    return;
  }
  r = add_result (results, uri, l->name, VDP_RESULT_APPLIED, NULL);
  r->plan = g_strdup (dp->hash);
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

/* Connects, lists and reads the domains of a host: fills @docs/@in (as
 * many as @n) and the stack in @caps (@validate: the daemon's schema knows
 * the plan's elements).  Failures of the host or of single domains become
 * failed results.  Returns the connection, or NULL. */
static struct vdp_conn *
load_host (const char *uri, const char *const *names, const struct vdp_apply_opts *o,
           struct loaded **docs, struct vdp_plan_input **in, unsigned *n,
           struct vdp_caps *caps, gboolean *validate, GPtrArray *results)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_conn) c = vdp_conn_open (uri, &err);
  g_autoptr (GPtrArray) todo = NULL;
  struct vdp_caps daemon;

  *n = 0;
  if (c == NULL) {
    add_result (results, uri ? uri : "", NULL, VDP_RESULT_FAILED, err->message);
    return NULL;
  }
  todo = target_names (c, names, &err);
  if (todo == NULL) {
    add_result (results, vdp_conn_uri (c), NULL, VDP_RESULT_FAILED, err->message);
    return NULL;
  }
  vdp_conn_caps (c, &daemon);
  *caps = daemon;
  if (o->target && !vdp_caps_parse_target (o->target, caps, &err)) {
    add_result (results, vdp_conn_uri (c), NULL, VDP_RESULT_FAILED, err->message);
    return NULL;
  }
  /* the daemon's schema knows every element when the plan is for its own
   * version or an older one */
  *validate = caps->libvirt <= daemon.libvirt;

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
      loaded_clear (l);
      memset (l, 0, sizeof (*l));
      continue;
    }
    l->hints = vdp_disk_hints_compute (o->topo, l->dom, o->hints, o->n_hints, o->warnings);
    (*in)[*n].dom = l->dom;
    (*in)[*n].hints = l->hints;
    (*n)++;
  }
  return g_steal_pointer (&c);
}

void
vdp_fleet_apply (const char *uri, const char *const *names, const struct vdp_apply_opts *o,
                 GPtrArray *results)
{
  g_autoptr (GError) err = NULL;
  g_autofree struct loaded *docs = NULL;
  g_autofree struct vdp_plan_input *in = NULL;
  g_autoptr (vdp_plan) plan = NULL;
  struct vdp_caps caps;
  gboolean validate = FALSE;
  unsigned n = 0;
  g_autoptr (vdp_conn) c = load_host (uri, names, o, &docs, &in, &n, &caps, &validate, results);

  if (c == NULL)
    return;
  if (n > 0) {
    plan = vdp_plan_compute (o->topo, o->policy, &caps, in, n, &err);
    if (plan == NULL) {
      add_result (results, vdp_conn_uri (c), NULL, VDP_RESULT_FAILED, err->message);
    } else {
      for (unsigned i = 0; i < n; i++) {
        for (guint k = 0; k < plan->domains[i].warnings->len; k++)
          g_ptr_array_add (o->warnings, g_strdup (plan->domains[i].warnings->pdata[k]));
        apply_one (c, plan, &plan->domains[i], &docs[i], validate, o->dry_run, results);
      }
    }
  }
  g_clear_pointer (&plan, vdp_plan_free);
  for (unsigned i = 0; i < n; i++)
    loaded_clear (&docs[i]);
}

void
vdp_fleet_check (const char *uri, const char *const *names, const struct vdp_apply_opts *o,
                 GPtrArray *findings, GPtrArray *results)
{
  g_autofree struct loaded *docs = NULL;
  g_autofree struct vdp_plan_input *in = NULL;
  g_autoptr (vdp_plan) plan = NULL;
  struct vdp_caps caps;
  gboolean validate = FALSE;
  unsigned n = 0;
  g_autoptr (vdp_conn) c = load_host (uri, names, o, &docs, &in, &n, &caps, &validate, results);

  if (c == NULL)
    return;
  if (n > 0) {
    /* today's plan, for the drift rule; a host the profile cannot be
     * satisfied on is audited without it */
    plan = vdp_plan_compute (o->topo, o->policy, &caps, in, n, NULL);
    vdp_lint_domains (o->topo, &caps, in, n, plan, findings);
  }
  g_clear_pointer (&plan, vdp_plan_free);
  for (unsigned i = 0; i < n; i++)
    loaded_clear (&docs[i]);
}

void
vdp_fleet_revert (const char *uri, const char *const *names, gboolean dry_run,
                  GPtrArray *results)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_conn) c = vdp_conn_open (uri, &err);
  g_autoptr (GPtrArray) todo = NULL;

  if (c == NULL) {
    add_result (results, uri ? uri : "", NULL, VDP_RESULT_FAILED, err->message);
    return;
  }
  todo = target_names (c, names, &err);
  if (todo == NULL) {
    add_result (results, vdp_conn_uri (c), NULL, VDP_RESULT_FAILED, err->message);
    return;
  }
  for (guint i = 0; i < todo->len; i++) {
    const char *name = todo->pdata[i];
    g_autoptr (GError) e = NULL;
    g_autofree char *xml = vdp_conn_get_xml (c, name, TRUE, &e);
    g_autoptr (xmlDoc) doc = xml ? vdp_xml_read_memory (xml, name, &e) : NULL;
    g_autofree char *restored = NULL;
    int rc;

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
