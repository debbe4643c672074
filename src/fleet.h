/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operations over the domains of libvirt hosts, one transaction per domain, a result each. */
#pragma once

#include <glib.h>

#include "hints.h"
#include "host.h"
#include "policy.h"
#include "topology.h"

typedef enum {
  VDP_RESULT_APPLIED,       /* defined and verified */
  VDP_RESULT_UNCHANGED,     /* already tuned as planned */
  VDP_RESULT_WOULD_CHANGE,  /* --dry-run */
  VDP_RESULT_REVERTED,
  VDP_RESULT_NOT_TUNED,     /* revert: nothing of ours to undo */
  VDP_RESULT_FAILED,        /* the domain (or host) is as it was */
  VDP_RESULT_REFUSED,       /* changed by hand since the last apply: left alone (--force) */
  VDP_RESULT_LAST
} VdpResultKind;

struct vdp_result {
  char *uri;
  char *domain;             /* NULL: the host as a whole */
  VdpResultKind kind;
  char *message;            /* why it failed, what was dropped; may be NULL */
  char *plan;               /* plan hash, for apply */
  char *diff;               /* --dry-run: what would change */
};

/* Where fleet functions put their results, findings and warnings, as
 * each is final (see report.h). */
struct vdp_sink;

struct vdp_apply_opts {
  struct vdp_host_opts host;  /* how each host's topology, stack and disks are found */
  const struct vdp_policy *policy;  /* the host's, and every domain's when profile_given */
  gboolean profile_given;   /* --profile: tuned domains do not keep their recorded one */
  gboolean backend_given;   /* --backend: policy->backend for every domain, not its profile's */
  gboolean dry_run;
  gboolean config;          /* change the persistent definition */
  gboolean live;            /* and/or pin running guests now */
  gboolean overwrite;       /* --force: overwrite what was changed by hand since the last apply */
  int state;                /* VdpDomainState: which domains --all means */
  unsigned jobs;            /* domains of the host transacted at once (0: 1) */
  GPtrArray *warnings;      /* char *, one line each (domain files; hosts give theirs to the sink) */
};

extern const char *const vdp_result_names[];

/* Applies the plan of the domains @names (names, IDs or UUIDs; NULL:
 * every persistent domain) of @host, planned together on that host's own
 * topology (see vdp_host_topology(); a host whose topology cannot be found
 * fails as a whole, with the reason) around the host's other domains
 * (their pins and memory are its inventory).  Each tuned domain keeps its
 * recorded profile unless o->profile_given.  A domain that does not fit
 * fails alone.  Each domain is one transaction: with config, its patched
 * XML is defined, read back and verified; with live, a running guest gets
 * the IOThreads it lacks and its pins, read back and verified.  On any
 * failure the original definition and the previous live pins are put
 * back.  A domain whose owned elements were changed by hand since the last
 * apply is refused unless o->overwrite; a domain named with live that does
 * not run fails.  After SIGINT (vdp_interrupted()) no transaction starts.
 * Gives @sink one result per domain (or one for the host when it cannot be
 * reached or planned), in domain-name order, each as soon as it is final,
 * and logs each change to the audit trail. */
void vdp_fleet_apply (const struct vdp_host_spec *host, const char *const *names,
                      const struct vdp_apply_opts *o, struct vdp_sink *sink);

/* Restores what the last apply changed, from each domain's metadata:
 * with o->config its definition, with o->live a running guest's pins and
 * IOThreads (those apply added are removed).  o->state filters --all;
 * o->overwrite, o->dry_run as for apply. */
void vdp_fleet_revert (const struct vdp_host_spec *host, const char *const *names,
                       const struct vdp_apply_opts *o, struct vdp_sink *sink);

/* Parses a --state argument, "running" or "shutoff", into *state; a
 * usage error quoting it otherwise. */
/* The warning of a host whose shared vCPUs outnumber its usable PUs
 * ("overcommitted vCPUs: ...", g_free), NULL when they do not. */
char *vdp_overcommit_warning (const struct vdp_plan *plan);

gboolean vdp_state_parse (const char *s, int *state, GError **error);

/* Audits the domains @names (NULL: all) of @host against the profile
 * in @o, and running guests whose live settings differ from their
 * definition: the host's findings (struct vdp_finding) go to @sink at
 * once; a host or domain that cannot be reached or read gives a failed
 * result. */
void vdp_fleet_check (const struct vdp_host_spec *host, const char *const *names,
                      const struct vdp_apply_opts *o, struct vdp_sink *sink);

/* The domains @names (names, IDs or UUIDs, resolved to names as virsh
 * does: an ID, then a UUID, then a name), sorted and without repeats;
 * with @names NULL every persistent domain in @state (VdpDomainState).
 * A name that resolves to nothing is kept as given (reading it fails
 * later, naming it).  NULL with @error set when the host cannot list. */
GPtrArray *vdp_fleet_domains (struct vdp_conn *c, const char *const *names, int state,
                              GError **error);

/* Counts results of @kind. */
unsigned vdp_results_count (GPtrArray *results, VdpResultKind kind);

/* A GPtrArray of struct vdp_result that frees them. */
GPtrArray *vdp_results_new (void);

/* A new result (the strings copied); free with vdp_result_free(). */
struct vdp_result *vdp_result_new (const char *uri, const char *domain, VdpResultKind kind,
                                   const char *message);
void vdp_result_free (struct vdp_result *r);
