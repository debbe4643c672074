/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What plan, check and apply load before they plan. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "domain.h"
#include "inputs.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"

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
  gboolean validate;

  vdp_conn_init ();
  h = vdp_host_open (spec, &o, error);
  if (h == NULL || (t = vdp_host_topology (h, error)) == NULL
      || !vdp_host_stack (h, caps, &validate, NULL, error))
    return NULL;
  /* the host's own hints come before --device's */
  vdp_device_hints_insert (devices, 0, (const struct vdp_device_hint *) spec->devices->data,
                           spec->devices->len);
  vdp_host_take_warnings (h, warnings);
  for (guint i = 0; !g->quiet && i < warnings->len; i++)
    fprintf (stderr, "%s: warning: %s\n", g->prog, (char *) warnings->pdata[i]);
  if (t->kind == VDP_TOPOLOGY_HOST)
    return vdp_topology_load_host (NULL, error);
  xml = vdp_topology_export_xml (t);
  return vdp_topology_load_xml_buffer (xml, t->kind, t->source, error);
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
  if (*topo == NULL || (*policy = vdp_policy_find (profile, &err)) == NULL
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
    f->doc = vdp_xml_read_file (f->file, error);
    if (f->doc)
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
