/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What plan, check and apply load before they plan. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "domain.h"
#include "fleet.h"
#include "inputs.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"

/* The host plan -c read its topology from, kept for reading its domains,
 * and what its stack is. */
static struct vdp_host *kept_host;
static char *kept_stack_origin;

/* The topology, stack and device hints of the one host the globals name,
 * as the host module finds them; the topology is the caller's copy. */
static struct vdp_topology *
load_for_host (const struct vdp_globals *g, const char *target, gboolean force,
               GArray *devices, struct vdp_caps *caps, GError **error)
{
  const struct vdp_host_spec *spec = g->hosts->pdata[0];
  struct vdp_host_opts o = { .topology = g->topology, .target = target, .force = force };
  g_autoptr (vdp_host) h = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *xml = NULL;
  const struct vdp_topology *t;
  const char *stack_origin = NULL;
  gboolean validate;

  vdp_conn_init ();
  h = vdp_host_open (spec, &o, error);
  if (h == NULL || (t = vdp_host_topology (h, error)) == NULL
      || !vdp_host_stack (h, caps, &validate, &stack_origin, error))
    return NULL;
  g_free (kept_stack_origin);
  kept_stack_origin = g_strdup (stack_origin);
  /* the host's own hints come before --device's */
  vdp_device_hints_insert (devices, 0, (const struct vdp_device_hint *) spec->devices->data,
                           spec->devices->len);
  vdp_host_take_warnings (h, warnings);
  for (guint i = 0; !g->quiet && i < warnings->len; i++)
    fprintf (stderr, "%s: warning: %s\n", g->prog, (char *) warnings->pdata[i]);
  if (t->kind != VDP_TOPOLOGY_HOST)
    xml = vdp_topology_export_xml (t);
  g_clear_pointer (&kept_host, vdp_host_free);
  kept_host = g_steal_pointer (&h);
  if (xml == NULL)
    return vdp_topology_load_host (NULL, error);
  return vdp_topology_load_xml_buffer (xml, t->kind, t->source, error);
}

/* The stack of this machine, found once: libvirt's library and the
 * installed QEMU; FALSE when no QEMU is installed. */
static gboolean
local_stack (struct vdp_caps *caps)
{
  static gsize once;
  static gboolean found;
  static unsigned long qemu;

  if (g_once_init_enter (&once)) {
    found = vdp_caps_installed_qemu (&qemu, NULL);
    g_once_init_leave (&once, 1);
  }
  if (found)
    vdp_caps_from_versions (caps, vdp_conn_library_version (), qemu);
  return found;
}

char *
vdp_inputs_target_origin (const struct vdp_globals *g, const char *target,
                          const struct vdp_caps *caps)
{
  g_autofree char *d = vdp_caps_describe (caps);
  struct vdp_caps here;

  if (target)
    return g_strdup_printf ("%s (--target %s)", d, target);
  if (g->hosts->len && kept_stack_origin)
    return g_strdup_printf ("the stack of host '%s': %s", vdp_host_uri (kept_host),
                            kept_stack_origin);
  if (local_stack (&here))
    return g_strdup_printf ("%s (installed on this machine; --target newest for the newest)", d);
  return g_strdup_printf ("%s (the newest: no QEMU installed on this machine)", d);
}

/* --isolated CPUSET: parsed into *set ("" gives an empty set); a usage
 * error of @cmd when malformed.  NULL @isolated leaves *set NULL. */
static gboolean
parse_isolated (const struct vdp_globals *g, const char *cmd, const char *isolated,
                hwloc_bitmap_t *set)
{
  g_autoptr (GError) err = NULL;

  *set = NULL;
  if (isolated == NULL)
    return TRUE;
  *set = *isolated ? vdp_cpuset_parse (isolated, &err) : hwloc_bitmap_alloc ();
  if (*set == NULL) {
    vdp_usage_error (g, cmd, "--isolated: %s", err->message);
    return FALSE;
  }
  return TRUE;
}

/* The profile's isolated PUs replaced by --isolated's, when given. */
static void
set_isolated (vdp_policy *policy, hwloc_bitmap_t *set)
{
  if (*set == NULL)
    return;
  hwloc_bitmap_free (policy->isolated);
  policy->isolated = g_steal_pointer (set);
}

int
vdp_inputs_load (const struct vdp_globals *g, const char *cmd, const char *target,
                 const char *profile, gboolean force, const char *isolated, GArray *devices,
                 struct vdp_caps *caps, vdp_topology **topo, vdp_policy **policy)
{
  g_autoptr (GError) err = NULL;
  g_auto (VdpBitmap) iso = NULL;

  /* without --target: this machine's stack when it has one, else the newest */
  if (!local_stack (caps))
    vdp_caps_from_versions (caps, VDP_CAPS_NEWEST_LIBVIRT, VDP_CAPS_NEWEST_QEMU);
  if (target && !vdp_caps_parse_target (target, caps, &err)) {
    vdp_usage_error (g, cmd, "%s", err->message);
    return VDP_EXIT_USAGE;
  }
  if (!parse_isolated (g, cmd, isolated, &iso))
    return VDP_EXIT_USAGE;
  if (g->hosts->len > 1) {
    vdp_usage_error (g, cmd, "plans for one host at a time: give at most one -c");
    return VDP_EXIT_USAGE;
  }
  *topo = g->hosts->len ? load_for_host (g, target, force, devices, caps, &err)
                        : vdp_topology_load (g->topology, &err);
  if (*topo == NULL || !vdp_topology_check_pus (*topo, iso, "--isolated", &err)
      || (*policy = vdp_policy_find (profile, &err)) == NULL
      || !vdp_topology_check_pus (*topo, iso ? NULL : (*policy)->isolated,
                                  "the profile's isolated_cpus", &err)
      || !vdp_device_hints_check (*topo, (struct vdp_device_hint *) devices->data, devices->len,
                                  &err)) {
    vdp_error_print (g->prog, err);
    return vdp_error_exit_status (err);
  }
  if (force)
    (*policy)->override = true;
  set_isolated (*policy, &iso);
  return VDP_PARSE_CONTINUE;
}

int
vdp_inputs_load_hosts (const struct vdp_globals *g, const char *cmd, const char *target,
                       const char *profile, gboolean force, const char *isolated,
                       GArray *devices, struct vdp_host_opts *hosts, vdp_policy **policy)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_topology) topo = NULL;
  g_auto (VdpBitmap) iso = NULL;
  struct vdp_caps caps;

  if (target && !vdp_caps_parse_target (target, &caps, &err)) {
    vdp_usage_error (g, cmd, "%s", err->message);
    return VDP_EXIT_USAGE;
  }
  if (!parse_isolated (g, cmd, isolated, &iso))
    return VDP_EXIT_USAGE;
  if ((g->topology && (topo = vdp_topology_load (g->topology, &err)) == NULL)
      || (topo && !vdp_topology_check_pus (topo, iso, "--isolated", &err))
      || (*policy = vdp_policy_find (profile, &err)) == NULL) {
    vdp_error_print (g->prog, err);
    return vdp_error_exit_status (err);
  }
  if (force)
    (*policy)->override = true;
  set_isolated (*policy, &iso);
  memset (hosts, 0, sizeof (*hosts));
  hosts->topology = g->topology;
  hosts->hints = (const struct vdp_device_hint *) devices->data;
  hosts->n_hints = devices->len;
  hosts->target = target;
  hosts->force = force;
  return VDP_PARSE_CONTINUE;
}

void
vdp_inputs_policies (vdp_policy_cache *cache, struct vdp_plan_input *in, unsigned n,
                     char **errors)
{
  for (unsigned i = 0; i < n; i++) {
    g_autoptr (GError) err = NULL;
    in[i].policy = vdp_policy_for_domain (cache, in[i].dom, &err);
    errors[i] = err ? g_strdup (err->message) : NULL;
  }
}

gboolean
vdp_domain_files_load (GPtrArray *files, const vdp_topology *topo, GArray *devices,
                       GPtrArray *warnings, struct vdp_domain_file *out,
                       struct vdp_plan_input *in, GError **error)
{
  for (guint i = 0; i < files->len; i++) {
    struct vdp_domain_file *f = &out[i];
    f->file = files->pdata[i];
    if (vdp_bounds_file (f->file, "domain file", VDP_BOUND_DOMAIN_BYTES, error))
      f->doc = vdp_xml_read_file (f->file, error);
    if (f->doc && vdp_bounds_domain_doc (f->doc, f->file, error))
      f->dom = vdp_domain_parse (f->doc, f->file, error);
    if (f->dom == NULL)
      return FALSE;
    f->hints = vdp_disk_hints_compute (topo, f->dom, (struct vdp_device_hint *) devices->data,
                                       devices->len, topo->kind == VDP_TOPOLOGY_HOST
                                       ? vdp_locate_local : vdp_locate_by_name, NULL,
                                       "this host", warnings);
    in[i].dom = f->dom;
    in[i].hints = f->hints;
  }
  return TRUE;
}

gboolean
vdp_domain_files_unique (const struct vdp_domain_file *docs, unsigned n,
                         const struct vdp_domain_file *ctx, unsigned n_ctx, GError **error)
{
  for (unsigned i = 0; i < n + n_ctx; i++) {
    const struct vdp_domain_file *a = i < n ? &docs[i] : &ctx[i - n];
    for (unsigned j = i + 1; j < n + n_ctx; j++) {
      const struct vdp_domain_file *b = j < n ? &docs[j] : &ctx[j - n];
      gboolean name = g_strcmp0 (a->dom->name, b->dom->name) == 0;
      if (!name && (a->dom->uuid == NULL || b->dom->uuid == NULL
                    || g_ascii_strcasecmp (a->dom->uuid, b->dom->uuid) != 0))
        continue;
      g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "%s'%s' and %s'%s' are one domain: both "
                   "have the %s '%s'", i < n ? "" : "--context ", a->file,
                   j < n ? "" : "--context ", b->file, name ? "name" : "UUID",
                   name ? a->dom->name : a->dom->uuid);
      return FALSE;
    }
  }
  return TRUE;
}

/* Reads the domains @names of @c into @out/@in (as many as names->len),
 * each disk placed on the kept host; FALSE with @error set at the first
 * that cannot be read. */
static gboolean
read_host_domains (struct vdp_conn *c, GPtrArray *names, GPtrArray *warnings,
                   struct vdp_domain_file *out, struct vdp_plan_input *in, GError **error)
{
  for (guint i = 0; i < names->len; i++) {
    struct vdp_domain_file *f = &out[i];
    g_autofree char *xml = NULL;

    f->file = names->pdata[i];
    xml = vdp_conn_get_xml (c, f->file, TRUE, error);
    if (xml && vdp_bounds_domain_text (xml, f->file, error))
      f->doc = vdp_xml_read_memory (xml, f->file, error);
    if (f->doc && vdp_bounds_domain_doc (f->doc, f->file, error))
      f->dom = vdp_domain_parse (f->doc, f->file, error);
    if (f->dom == NULL)
      return FALSE;
    f->hints = vdp_host_disk_hints (kept_host, f->dom, warnings);
    in[i].dom = f->dom;
    in[i].hints = f->hints;
  }
  return TRUE;
}

gboolean
vdp_domain_host_load (const char *const *names, int state, GPtrArray *warnings,
                      GPtrArray **loaded, struct vdp_domain_file **out,
                      struct vdp_plan_input **in, GPtrArray **ctx_names,
                      struct vdp_domain_file **ctx_out, struct vdp_plan_input **ctx_in,
                      GError **error)
{
  g_autoptr (GHashTable) wanted = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) all = NULL;
  struct vdp_conn *c;
  gboolean ok;

  g_return_val_if_fail (kept_host != NULL, FALSE);
  c = vdp_host_conn (kept_host);
  *loaded = vdp_fleet_domains (c, names, state, error);
  if (*loaded == NULL || (all = vdp_conn_list (c, VDP_STATE_HOST, error)) == NULL)
    return FALSE;
  /* the host's other domains: what the ones asked for are planned around */
  *ctx_names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < (*loaded)->len; i++)
    g_hash_table_add (wanted, (*loaded)->pdata[i]);
  for (guint i = 0; i < all->len; i++)
    if (!g_hash_table_contains (wanted, all->pdata[i]))
      g_ptr_array_add (*ctx_names, g_strdup (all->pdata[i]));
  *out = g_new0 (struct vdp_domain_file, (*loaded)->len + 1);
  *in = g_new0 (struct vdp_plan_input, (*loaded)->len + 1);
  *ctx_out = g_new0 (struct vdp_domain_file, (*ctx_names)->len + 1);
  *ctx_in = g_new0 (struct vdp_plan_input, (*ctx_names)->len + 1);
  ok = read_host_domains (c, *loaded, warnings, *out, *in, error)
       && read_host_domains (c, *ctx_names, NULL, *ctx_out, *ctx_in, error);
  vdp_host_take_warnings (kept_host, warnings);
  return ok;
}

void
vdp_domain_files_clear (struct vdp_domain_file *f, unsigned n)
{
  for (unsigned i = 0; i < n; i++) {
    vdp_disk_hints_free (f[i].hints, f[i].dom ? f[i].dom->n_disks : 0);
    vdp_domain_free (f[i].dom);
    if (f[i].doc)
      xmlFreeDoc (f[i].doc);
  }
}
