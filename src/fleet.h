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

typedef struct vdp_progress vdp_progress;

struct vdp_apply_opts {
  struct vdp_host_opts host;  /* how each host's topology, stack and disks are found */
  const struct vdp_policy *policy;  /* the host's, and every domain's when profile_given */
  gboolean profile_given;   /* --profile: tuned domains do not keep their recorded one */
  gboolean dry_run;
  gboolean config;          /* change the persistent definition */
  gboolean live;            /* and/or pin running guests now */
  int state;                /* VdpDomainState: which domains --all means */
  unsigned jobs;            /* domains of the host transacted at once (0: 1) */
  GPtrArray *warnings;      /* char *, one line each */
  struct vdp_progress *progress;  /* counts domains as they are done; may be NULL */
};

extern const char *const vdp_result_names[];

/* Applies the plan of the domains @names (NULL: every persistent domain)
 * of @host, planned together on that host's own topology (see
 * vdp_host_topology(); a host whose topology cannot be found fails as a
 * whole, with the reason) around the host's other domains (their pins and
 * memory are its inventory).  Each tuned domain keeps its recorded profile
 * unless o->profile_given.  A domain that does not fit fails alone.  Each
 * domain is one transaction: with
 * config, its patched XML is defined, read back and verified; with live,
 * a running guest gets the IOThreads it lacks and its pins, read back and
 * verified.  On any failure the original definition and the previous live
 * pins are put back.  Appends one result per domain (or one for
 * the host when it cannot be reached or planned) to @results. */
void vdp_fleet_apply (const struct vdp_host_spec *host, const char *const *names,
                      const struct vdp_apply_opts *o, GPtrArray *results);

/* Restores what the last apply changed, from each domain's metadata;
 * @state (VdpDomainState) filters --all. */
void vdp_fleet_revert (const struct vdp_host_spec *host, const char *const *names, int state,
                       gboolean dry_run, struct vdp_progress *progress, GPtrArray *results);

/* Parses a --state argument, "running" or "shutoff", into *state; a
 * usage error quoting it otherwise. */
gboolean vdp_state_parse (const char *s, int *state, GError **error);

/* Audits the domains @names (NULL: all) of @host against the profile
 * in @o: findings (struct vdp_finding) go to @findings; a host that cannot
 * be reached or read gives a failed result in @results. */
void vdp_fleet_check (const struct vdp_host_spec *host, const char *const *names,
                      const struct vdp_apply_opts *o, GPtrArray *findings, GPtrArray *results);

/* Counts results of @kind. */
unsigned vdp_results_count (GPtrArray *results, VdpResultKind kind);

/* A GPtrArray of struct vdp_result that frees them. */
GPtrArray *vdp_results_new (void);

/* Progress of a fleet operation on stderr, on one line rewritten in place:
 * hosts done of all, domains done of those found so far.  Disabled (every
 * call a no-op) unless @enabled; the functions take a NULL progress too.
 * Safe to call from several threads. */
struct vdp_progress *vdp_progress_new (const char *prog, const char *verb, unsigned hosts,
                                       gboolean enabled);
void vdp_progress_add_domains (struct vdp_progress *p, unsigned n);
void vdp_progress_domain_done (struct vdp_progress *p);
void vdp_progress_host_done (struct vdp_progress *p);
/* Ends the line and frees @p. */
void vdp_progress_free (struct vdp_progress *p);
