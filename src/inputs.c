/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What plan, check and apply load before they plan. */
#include <config.h>

#include "domain.h"
#include "inputs.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"

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
  if (isolated && *isolated && (iso = vdp_cpuset_parse (isolated, &err)) == NULL) {
    vdp_usage_error (g, cmd, "--isolated: %s", err->message);
    return VDP_EXIT_USAGE;
  }
  *topo = vdp_topology_load (g->topology, &err);
  if (*topo == NULL || (*policy = vdp_policy_find (profile, &err)) == NULL
      || !vdp_device_hints_check (*topo, (struct vdp_device_hint *) devices->data, devices->len,
                                  &err)) {
    vdp_error_print (g->prog, err);
    return vdp_error_exit_status (err);
  }
  if (force)
    (*policy)->override = true;
  if (isolated) {
    hwloc_bitmap_free ((*policy)->isolated);
    (*policy)->isolated = iso ? g_steal_pointer (&iso) : hwloc_bitmap_alloc ();
  }
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
                                       devices->len, warnings);
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
