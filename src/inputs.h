/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What plan, check and apply load before they plan, loaded one way for all three. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "caps.h"
#include "commands.h"
#include "hints.h"
#include "planner.h"
#include "policy.h"
#include "topology.h"

/* Loads the stack to plan for (@target, else the newest), the host topology
 * (--topology), the profile @profile (NULL: the default; @force lets it
 * replace pins virt-dataplane did not write; @isolated, when not NULL, is
 * the host's isolated PUs) and checks @devices (struct vdp_device_hint)
 * against the topology.  On error prints one line (a bad @target or
 * @isolated is a usage error of @cmd) and returns the exit status; returns
 * VDP_PARSE_CONTINUE with *topo and *policy set when all is loaded. */
int vdp_inputs_load (const struct vdp_globals *g, const char *cmd, const char *target,
                     const char *profile, gboolean force, const char *isolated,
                     GArray *devices, struct vdp_caps *caps, vdp_topology **topo,
                     vdp_policy **policy);

/* A domain XML file read for planning. */
struct vdp_domain_file {
  const char *file;
  xmlDocPtr doc;
  struct vdp_domain *dom;
  struct vdp_disk_hint *hints;
};

/* Reads and parses @files (char *) into @out and the plan inputs @in (both
 * files->len long), with the disk hints @devices give on @topo; warnings go
 * to @warnings.  Stops at the first bad file with @error set.  Free what was
 * read, either way, with vdp_domain_files_clear(). */
gboolean vdp_domain_files_load (GPtrArray *files, const vdp_topology *topo, GArray *devices,
                                GPtrArray *warnings, struct vdp_domain_file *out,
                                struct vdp_plan_input *in, GError **error);

/* Gives each of @n plan inputs its profile from @cache (see
 * vdp_policy_for_domain()); a domain whose recorded profile is missing
 * gets its message in errors[i] (g_free) and a NULL policy. */
void vdp_inputs_policies (vdp_policy_cache *cache, struct vdp_plan_input *in, unsigned n,
                          char **errors);
void vdp_domain_files_clear (struct vdp_domain_file *f, unsigned n);
