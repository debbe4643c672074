/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The explanation of a plan (text and JSON); every locality claim is computed from the final pins. */
#include <config.h>

#include <string.h>

#include "explain.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/json.h"

static const char *const memory_names[] = { "strict", "preferred", "none" };
static const char *const map_names[] = { "none", "single", "round-robin", "explicit" };

/* "PUs node LLC" columns of @set. */
static char *
describe_set (const struct vdp_topology *t, hwloc_const_bitmap_t set)
{
  g_auto (VdpBitmap) nodes = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) groups = hwloc_bitmap_alloc ();
  g_autofree char *cpus = vdp_cpuset_format (set);
  g_autofree char *n = NULL, *g = NULL;
  int pu;

  hwloc_bitmap_foreach_begin (pu, set)
    const struct vdp_pu *p = vdp_topology_find_pu (t, (unsigned) pu);
    if (p) {
      if (p->node >= 0)
        hwloc_bitmap_set (nodes, (unsigned) p->node);
      hwloc_bitmap_set (groups, (unsigned) p->l3);
    }
  hwloc_bitmap_foreach_end ();
  n = vdp_cpuset_format (nodes);
  g = vdp_cpuset_format (groups);
  return g_strdup_printf ("%-20s %-6s %s", cpus, n, g);
}

/* The queue ranges of @m whose locality is @loc, "0-3,6". */
static char *
queues_with (const struct vdp_map *m, VdpLocality loc)
{
  g_auto (VdpBitmap) qs = hwloc_bitmap_alloc ();

  for (unsigned q = 0; q < m->queues; q++)
    if (m->locality[q] == loc)
      hwloc_bitmap_set (qs, q);
  return hwloc_bitmap_iszero (qs) ? NULL : vdp_cpuset_format (qs);
}

static void
explain_map (GString *out, const char *what, const struct vdp_map *m)
{
  static const char *const said[] = {
    [VDP_LOCAL_LLC] = "in the LLC of their vCPU",
    [VDP_LOCAL_NODE] = "on their vCPU's node",
    [VDP_LOCAL_NONE] = "with no IOThread local to their vCPU",
    [VDP_LOCAL_UNKNOWN] = "locality unknown (pins kept)",
  };

  g_string_append_printf (out, "  %-16s", what);
  switch (m->kind) {
  case VDP_MAP_SINGLE:
    g_string_append_printf (out, "iothread %u\n", m->threads[0]);
    break;
  case VDP_MAP_ROUNDROBIN:
    g_string_append_printf (out, "%u queue%s round-robin over iothread%s", m->queues,
                            m->queues == 1 ? "" : "s", m->n_threads == 1 ? "" : "s");
    for (unsigned k = 0; k < m->n_threads; k++)
      g_string_append_printf (out, "%s%u", k ? "," : " ", m->threads[k]);
    g_string_append_c (out, '\n');
    break;
  case VDP_MAP_EXPLICIT:
    g_string_append_printf (out, "%u queue%s:", m->queues, m->queues == 1 ? "" : "s");
    for (unsigned k = 0; k < m->n_threads; k++) {
      GArray *qs = m->queue_lists->pdata[k];
      g_string_append_printf (out, " iothread %u <- q", m->threads[k]);
      for (guint q = 0; q < qs->len; q++)
        g_string_append_printf (out, "%s%u", q ? "," : "", g_array_index (qs, guint, q));
      g_string_append_c (out, ';');
    }
    g_string_append_c (out, '\n');
    break;
  default:
    g_string_append (out, "unchanged\n");
    return;
  }
  if (m->locality && m->queues) {
    g_autoptr (GString) line = g_string_new (NULL);
    for (int loc = 0; loc < VDP_LOCAL_LAST; loc++) {
      g_autofree char *qs = queues_with (m, (VdpLocality) loc);
      if (qs)
        g_string_append_printf (line, "%squeues %s %s", line->len ? "; " : "", qs, said[loc]);
    }
    g_string_append_printf (out, "  %-16s%s\n", "", line->str);
  }
}

void
vdp_explain_domain (GString *out, const struct vdp_plan *plan, const struct vdp_domain_plan *dp,
                    const char *extra)
{
  const struct vdp_topology *t = plan->topo;
  const struct vdp_domain *d = dp->dom;
  g_autofree char *caps = vdp_caps_describe (&plan->caps);

  g_string_append_printf (out, "Domain %s: %u vCPU%s, %" G_GUINT64_FORMAT " MiB (profile %s; "
                          "target %s; plan %s)\n", d->name, d->vcpus, d->vcpus == 1 ? "" : "s",
                          d->memory_kib / 1024, dp->policy->name, caps,
                          dp->skipped || dp->failed ? "none" : dp->hash);
  if (dp->skipped) {
    g_string_append_printf (out, "  left alone: %s\n\n", dp->skip_reason);
    return;
  }
  if (dp->failed) {
    g_autofree char *m = vdp_misfit_format (dp);
    g_string_append_printf (out, "  NOT PLANNED: %s\n", m);
  } else if (dp->place) {
    g_autofree char *nodes = vdp_cpuset_format (dp->nodes);
    g_string_append_printf (out, "  home node %d, nodes %s, %s placement%s\n", dp->home_node,
                            nodes, dp->placement == VDP_PLACEMENT_DEDICATED ? "dedicated" : "shared",
                            dp->kept ? ", kept where it is" : "");
    g_string_append_printf (out, "  %-16s%-20s %-6s %s\n", "thread", "host CPUs", "node", "LLC");
    for (unsigned v = 0; v < d->vcpus; v++) {
      g_autofree char *what = g_strdup_printf ("vcpu %u", v);
      g_autofree char *s = describe_set (t, dp->vcpu_pins[v]);
      g_string_append_printf (out, "  %-16s%s\n", what, s);
    }
    {
      g_autofree char *s = describe_set (t, dp->emulator_pin);
      g_string_append_printf (out, "  %-16s%s\n", "emulator", s);
    }
    for (unsigned k = 0; dp->set_iothreads && k < dp->n_iothreads; k++) {
      g_autofree char *what = g_strdup_printf ("iothread %u", k + 1);
      g_autofree char *s = describe_set (t, dp->iothread_pins[k]);
      g_string_append_printf (out, "  %-16s%s\n", what, s);
    }
    if (dp->memory != VDP_MEMORY_NONE) {
      g_autofree char *s = vdp_cpuset_format (dp->mem_nodes);
      g_string_append_printf (out, "  %-16s%s nodes %s\n", "memory", memory_names[dp->memory], s);
    }
  } else {
    g_string_append (out, "  placement: existing pins kept\n");
    if (dp->set_iothreads && dp->iothread_pins && dp->n_iothreads) {
      g_autofree char *s = vdp_cpuset_format (dp->iothread_pins[0]);
      g_string_append_printf (out, "  %u IOThread%s on PUs %s (the I/O pool of its vCPUs' "
                              "node)\n", dp->n_iothreads, dp->n_iothreads == 1 ? "" : "s", s);
    } else if (dp->set_iothreads) {
      g_string_append_printf (out, "  %u IOThread%s (pins as the domain has them)\n",
                              dp->n_iothreads, dp->n_iothreads == 1 ? "" : "s");
    }
  }
  for (unsigned i = 0; !dp->failed && i < d->n_disks; i++) {
    const struct vdp_disk_plan *pl = &dp->disks[i];
    g_autofree char *what = g_strdup_printf ("disk %s", d->disks[i].target);
    if (pl->set_driver)
      g_string_append_printf (out, "  %-16scache='%s' io='%s'\n", what,
                              pl->cache ? pl->cache : "default", pl->io ? pl->io : "default");
    if (pl->map.kind != VDP_MAP_NONE)
      explain_map (out, what, &pl->map);
  }
  for (unsigned i = 0; !dp->failed && i < d->n_controllers; i++) {
    g_autofree char *what = g_strdup_printf ("scsi %u", d->controllers[i].index);
    if (dp->controllers[i].kind != VDP_MAP_NONE)
      explain_map (out, what, &dp->controllers[i]);
  }
  if (extra)
    g_string_append (out, extra);
  if (dp->reasons->len)
    g_string_append (out, "  Reasons:\n");
  for (guint i = 0; i < dp->reasons->len; i++) {
    const struct vdp_reason *r = dp->reasons->pdata[i];
    if (r->rule)
      g_string_append_printf (out, "    [rule %u] %s: %s\n", r->rule, r->subject, r->text);
    else
      g_string_append_printf (out, "    [constraint] %s: %s\n", r->subject, r->text);
  }
  g_string_append_c (out, '\n');
}

static double
ratio (guint64 a, guint64 b)
{
  return b ? (double) a / (double) b : 0.0;
}

void
vdp_explain_host (GString *out, const struct vdp_plan *plan)
{
  g_string_append_printf (out, "Host: %u vCPU%s of all its domains on %u usable PUs (%.2f per "
                          "PU)", plan->total_vcpus, plan->total_vcpus == 1 ? "" : "s", plan->total_pus,
                          ratio (plan->total_vcpus, plan->total_pus));
  if (plan->total_avail_kib)
    g_string_append_printf (out, ", %" G_GUINT64_FORMAT " MiB of guest memory (QEMU's own "
                            "included) for %" G_GUINT64_FORMAT " MiB after the host's reserve "
                            "(%.2f)",
                            plan->total_memory_kib / 1024, plan->total_avail_kib / 1024,
                            ratio (plan->total_memory_kib, plan->total_avail_kib));
  g_string_append (out, "\n");
  for (unsigned k = 0; k < plan->n_nodes; k++) {
    const struct vdp_node_summary *ns = &plan->nodes[k];
    g_autofree char *pool = vdp_cpuset_format (ns->pool);
    g_string_append_printf (out, "  node %u: %u PUs, %u held 1:1, %u shared vCPU%s; I/O pool %s",
                            ns->id, ns->pus, ns->dedicated, ns->shared_vcpus,
                            ns->shared_vcpus == 1 ? "" : "s",
                            hwloc_bitmap_iszero (ns->pool) ? "none" : pool);
    if (!hwloc_bitmap_iszero (ns->pool))
      g_string_append_printf (out, " (%u IOThread%s, %u emulator%s)", ns->pool_iothreads,
                              ns->pool_iothreads == 1 ? "" : "s", ns->pool_emulators,
                              ns->pool_emulators == 1 ? "" : "s");
    if (ns->pool_shared)
      g_string_append (out, ", shared with floating vCPUs (too few PUs to keep them apart)");
    if (ns->io_short)
      g_string_append (out, ", I/O capacity short");
    if (ns->memory_kib)
      g_string_append_printf (out, "; memory %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                              " MiB used by guests and their QEMU, %" G_GUINT64_FORMAT
                              " MiB kept for the host",
                              ns->bound_kib / 1024, ns->memory_kib / 1024, ns->reserve_kib / 1024);
    g_string_append_c (out, '\n');
  }
  for (unsigned i = 0; i < plan->n_domains; i++)
    if (plan->domains[i].failed) {
      g_autofree char *m = vdp_misfit_format (&plan->domains[i]);
      g_string_append_printf (out, "  %s\n", m);
    }
}

/* ---- JSON ---------------------------------------------------------------- */

static void
json_map (JsonBuilder *b, const struct vdp_map *m)
{
  vdp_json_add_string (b, "mapping", map_names[m->kind]);
  vdp_json_add_int (b, "queues", m->queues);
  json_builder_set_member_name (b, "iothreads");
  json_builder_begin_array (b);
  for (unsigned k = 0; k < m->n_threads; k++) {
    json_builder_begin_object (b);
    vdp_json_add_int (b, "id", m->threads[k]);
    /* the virtqueues it serves: listed, or (round-robin) queue q on
     * thread q mod n, or all on the one thread; null when the queue
     * count is left alone */
    json_builder_set_member_name (b, "queues");
    if (m->kind == VDP_MAP_EXPLICIT) {
      GArray *qs = m->queue_lists->pdata[k];
      json_builder_begin_array (b);
      for (guint q = 0; q < qs->len; q++)
        json_builder_add_int_value (b, g_array_index (qs, guint, q));
      json_builder_end_array (b);
    } else if (m->queues == 0) {
      json_builder_add_null_value (b);
    } else {
      json_builder_begin_array (b);
      for (unsigned q = 0; q < m->queues; q++)
        if (m->kind != VDP_MAP_ROUNDROBIN || q % m->n_threads == k)
          json_builder_add_int_value (b, q);
      json_builder_end_array (b);
    }
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "queue_locality");
  json_builder_begin_array (b);
  for (unsigned q = 0; m->locality && q < m->queues; q++)
    json_builder_add_string_value (b, vdp_locality_names[m->locality[q]]);
  json_builder_end_array (b);
}

static void
json_where (JsonBuilder *b, int l3, int node)
{
  vdp_json_add_int_or_null (b, "l3", l3);
  vdp_json_add_int_or_null (b, "node", node);
}

void
vdp_explain_json_domain (JsonBuilder *b, const struct vdp_plan *plan,
                         const struct vdp_domain_plan *dp, const char *file,
                         VdpExplainJsonExtra extra, gpointer data)
{
  const struct vdp_domain *d = dp->dom;
  gboolean pins = dp->place && !dp->failed;

  (void) plan;
  json_builder_begin_object (b);
  vdp_json_add_string (b, "name", d->name);
  vdp_json_add_string (b, "file", file);
  vdp_json_add_string (b, "profile", dp->policy->name);
  /* a domain left alone or refused has no plan to record */
  vdp_json_add_string (b, "plan", dp->skipped || dp->failed ? NULL : dp->hash);
  vdp_json_add_bool (b, "skipped", dp->skipped);
  vdp_json_add_bool (b, "failed", dp->failed);
  vdp_json_add_bool (b, "kept", dp->kept);
  json_builder_set_member_name (b, "misfit");
  if (dp->failed) {
    g_autofree char *m = vdp_misfit_format (dp);
    json_builder_begin_object (b);
    vdp_json_add_string (b, "message", m);
    vdp_json_add_string (b, "needs", dp->misfit.what);
    vdp_json_add_int (b, "need_vcpus", dp->misfit.need_pus);
    vdp_json_add_int (b, "need_memory_kib", (gint64) dp->misfit.need_kib);
    vdp_json_add_int (b, "best_node", dp->misfit.best_node);
    vdp_json_add_int (b, "best_vcpus", dp->misfit.best_pus);
    vdp_json_add_int_or_null (b, "best_memory_kib", dp->misfit.best_kib == G_MAXUINT64 ? -1
                              : (gint64) dp->misfit.best_kib);
    vdp_json_add_string (b, "why", dp->misfit.why);
    json_builder_end_object (b);
  } else {
    json_builder_add_null_value (b);
  }
  vdp_json_add_string (b, "placement", dp->failed ? "none" : !dp->place ? "foreign"
                       : dp->placement == VDP_PLACEMENT_DEDICATED ? "dedicated" : "shared");
  vdp_json_add_int (b, "home_node", dp->home_node);
  vdp_json_add_index_array (b, "nodes", dp->nodes);
  json_builder_set_member_name (b, "vcpus");
  json_builder_begin_array (b);
  for (unsigned v = 0; pins && v < d->vcpus; v++) {
    json_builder_begin_object (b);
    vdp_json_add_int (b, "vcpu", v);
    vdp_json_add_cpuset (b, "cpuset", dp->vcpu_pins[v]);
    json_where (b, dp->vcpu_l3[v], dp->vcpu_node[v]);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "emulator");
  if (pins) {
    g_autofree char *s = vdp_cpuset_format (dp->emulator_pin);
    json_builder_add_string_value (b, s);
  } else {
    json_builder_add_null_value (b);
  }
  json_builder_set_member_name (b, "iothreads");
  json_builder_begin_array (b);
  for (unsigned k = 0; !dp->failed && dp->set_iothreads && k < dp->n_iothreads; k++) {
    json_builder_begin_object (b);
    vdp_json_add_int (b, "id", k + 1);
    if (pins || dp->iothread_pins) {
      /* a kept guest's IOThreads that virt-dataplane pins in a pool */
      vdp_json_add_cpuset (b, "cpuset", dp->iothread_pins[k]);
      json_where (b, dp->iothread_l3[k], dp->iothread_node[k]);
    }
    vdp_json_add_int_or_null (b, "poll_max", dp->poll_max);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "memory");
  if (!dp->failed && dp->memory != VDP_MEMORY_NONE) {
    json_builder_begin_object (b);
    vdp_json_add_string (b, "mode", memory_names[dp->memory]);
    vdp_json_add_cpuset (b, "nodeset", dp->mem_nodes);
    json_builder_set_member_name (b, "cells");
    json_builder_begin_array (b);
    for (unsigned c = 0; c < dp->n_cells; c++) {
      json_builder_begin_object (b);
      vdp_json_add_int (b, "id", dp->cells[c].id);
      vdp_json_add_int (b, "node", dp->cells[c].node);
      vdp_json_add_int (b, "memory_kib", (gint64) dp->cells[c].memory_kib);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
  } else {
    json_builder_add_null_value (b);
  }
  json_builder_set_member_name (b, "disks");
  json_builder_begin_array (b);
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk_plan *pl = &dp->disks[i];
    json_builder_begin_object (b);
    vdp_json_add_string (b, "target", d->disks[i].target);
    vdp_json_add_string (b, "cache", pl->set_driver ? pl->cache : d->disks[i].cache);
    vdp_json_add_string (b, "io", pl->set_driver ? pl->io : d->disks[i].io);
    json_map (b, &pl->map);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "controllers");
  json_builder_begin_array (b);
  for (unsigned i = 0; i < d->n_controllers; i++) {
    if (dp->controllers[i].kind == VDP_MAP_NONE)
      continue;
    json_builder_begin_object (b);
    vdp_json_add_string (b, "type", d->controllers[i].type);
    vdp_json_add_int (b, "index", d->controllers[i].index);
    json_map (b, &dp->controllers[i]);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  if (extra)
    extra (b, data);
  json_builder_set_member_name (b, "reasons");
  json_builder_begin_array (b);
  for (guint i = 0; i < dp->reasons->len; i++) {
    const struct vdp_reason *r = dp->reasons->pdata[i];
    json_builder_begin_object (b);
    vdp_json_add_int (b, "rule", r->rule);
    vdp_json_add_string (b, "subject", r->subject);
    vdp_json_add_string (b, "text", r->text);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "warnings");
  json_builder_begin_array (b);
  for (guint i = 0; i < dp->warnings->len; i++)
    json_builder_add_string_value (b, dp->warnings->pdata[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
}

void
vdp_explain_json_host (JsonBuilder *b, const struct vdp_plan *plan)
{
  json_builder_set_member_name (b, "host");
  json_builder_begin_object (b);
  vdp_json_add_int (b, "vcpus", plan->total_vcpus);
  vdp_json_add_int (b, "pus", plan->total_pus);
  json_builder_set_member_name (b, "vcpu_ratio");
  json_builder_add_double_value (b, ratio (plan->total_vcpus, plan->total_pus));
  vdp_json_add_int (b, "memory_kib", (gint64) plan->total_memory_kib);
  vdp_json_add_int (b, "available_kib", (gint64) plan->total_avail_kib);
  json_builder_set_member_name (b, "memory_ratio");
  json_builder_add_double_value (b, ratio (plan->total_memory_kib, plan->total_avail_kib));
  vdp_json_add_cpuset (b, "isolated", plan->isolated);
  vdp_json_add_int (b, "failed", plan->n_failed);
  json_builder_set_member_name (b, "nodes");
  json_builder_begin_array (b);
  for (unsigned k = 0; k < plan->n_nodes; k++) {
    const struct vdp_node_summary *ns = &plan->nodes[k];
    json_builder_begin_object (b);
    vdp_json_add_int (b, "id", ns->id);
    vdp_json_add_int (b, "pus", ns->pus);
    vdp_json_add_int (b, "dedicated", ns->dedicated);
    vdp_json_add_int (b, "shared_vcpus", ns->shared_vcpus);
    vdp_json_add_cpuset (b, "io_pool", ns->pool);
    vdp_json_add_int (b, "pool_iothreads", ns->pool_iothreads);
    vdp_json_add_int (b, "pool_emulators", ns->pool_emulators);
    vdp_json_add_bool (b, "io_short", ns->io_short);
    vdp_json_add_int (b, "memory_kib", (gint64) ns->memory_kib);
    vdp_json_add_int (b, "reserve_kib", (gint64) ns->reserve_kib);
    vdp_json_add_int (b, "used_kib", (gint64) ns->bound_kib);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
}
