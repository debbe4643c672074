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

/* Loads the stack to plan for (@target; else with a host its own; else
 * this machine's when QEMU is installed; else the newest), the host topology
 * (--topology, else this machine's), the profile @profile (NULL: the
 * default; @force lets it replace pins virt-dataplane did not write;
 * @isolated, when not NULL, is the host's isolated PUs) and checks
 * @devices (struct vdp_device_hint) against the topology.  With one host
 * named (-c, --hosts), its topology, stack (unless @target) and device
 * hints (put before @devices') are the host's, as the host module finds
 * them (@force also accepts a --topology that disagrees with it).  On
 * error prints one line (a bad @target or @isolated is a usage error of
 * @cmd) and returns the exit status; returns VDP_PARSE_CONTINUE with
 * *topo and *policy set when all is loaded. */
int vdp_inputs_load (const struct vdp_globals *g, const char *cmd, const char *target,
                     const char *profile, gboolean force, const char *isolated,
                     GArray *devices, struct vdp_caps *caps, vdp_topology **topo,
                     vdp_policy **policy);

/* What apply and check load before they work on hosts: the stack to plan
 * for (@target is checked here, a usage error of @cmd when bad), the
 * profile (@force also lets it replace foreign pins; @isolated, when not
 * NULL, replaces its isolated PUs), and --topology, loaded once to stop at
 * a bad one before any host is touched.  Fills @hosts (borrowing @target,
 * @devices and the globals' --topology).  Returns VDP_PARSE_CONTINUE, or
 * the exit status after one line. */
int vdp_inputs_load_hosts (const struct vdp_globals *g, const char *cmd, const char *target,
                           const char *profile, gboolean force, const char *isolated,
                           GArray *devices, struct vdp_host_opts *hosts, vdp_policy **policy);

/* Gives each of @n plan inputs its profile from @cache (see
 * vdp_policy_for_domain()); a domain whose recorded profile is missing
 * gets its message in errors[i] (g_free) and a NULL policy. */
void vdp_inputs_policies (vdp_policy_cache *cache, struct vdp_plan_input *in, unsigned n,
                          char **errors);

/* What vdp_inputs_load() chose as the stack (@caps) and why: "libvirt
 * 9.0.0, QEMU 7.2.0 (installed on this machine; ...)" (g_free). */
char *vdp_inputs_target_origin (const struct vdp_globals *g, const char *target,
                                const struct vdp_caps *caps);

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
/* FALSE with a usage error naming the first two of the @n domain files
 * @docs, then the @n_ctx @ctx (--context), that are one domain: the same
 * name or the same UUID (one host cannot hold both). */
gboolean vdp_domain_files_unique (const struct vdp_domain_file *docs, unsigned n,
                                  const struct vdp_domain_file *ctx, unsigned n_ctx,
                                  GError **error);

void vdp_domain_files_clear (struct vdp_domain_file *f, unsigned n);

/* Reads the domains @names (names, IDs or UUIDs; NULL: every persistent
 * domain in @state, a VdpDomainState) of the host vdp_inputs_load() read
 * (with one host named), with each disk placed on that host, and the
 * host's other domains, to plan them around: *loaded and *ctx_names get
 * their names (the files of *out and *ctx_out: GPtrArrays the caller
 * frees after those), *out, *in, *ctx_out and *ctx_in are allocated
 * (free with vdp_domain_files_clear() and g_free()).  Stops at the first
 * domain that cannot be read, with @error set. */
gboolean vdp_domain_host_load (const char *const *names, int state, GPtrArray *warnings,
                               GPtrArray **loaded, struct vdp_domain_file **out,
                               struct vdp_plan_input **in, GPtrArray **ctx_names,
                               struct vdp_domain_file **ctx_out, struct vdp_plan_input **ctx_in,
                               GError **error);
