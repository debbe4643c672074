/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operations over the domains of libvirt hosts, one transaction per domain, a result each. */
#pragma once

#include <glib.h>

#include "hints.h"
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

struct vdp_apply_opts {
  const struct vdp_topology *topo;
  const struct vdp_policy *policy;  /* the host's, and every domain's when profile_given */
  gboolean profile_given;   /* --profile: tuned domains do not keep their recorded one */
  const char *target;       /* --target, or NULL: the connection's stack */
  const struct vdp_device_hint *hints;
  unsigned n_hints;
  gboolean dry_run;
  gboolean config;          /* change the persistent definition */
  gboolean live;            /* and/or pin running guests now */
  int state;                /* VdpDomainState: which domains --all means */
  unsigned jobs;            /* domains of the host transacted at once (0: 1) */
  GPtrArray *warnings;      /* char *, one line each */
};

extern const char *const vdp_result_names[];

/* Applies the plan of the domains @names (NULL: every persistent domain in
 * o->state) of host @uri, planned together around the host's other
 * domains (their pins and memory are its inventory).  Each tuned domain
 * keeps its recorded profile unless o->profile_given.  A domain that does
 * not fit fails alone.  Each domain is one transaction: with
 * config, its patched XML is defined, read back and verified; with live,
 * a running guest gets the IOThreads it lacks and its pins, read back and
 * verified.  On any failure the original definition and the previous live
 * pins are put back.  Appends one result per domain (or one for
 * the host when it cannot be reached or planned) to @results. */
void vdp_fleet_apply (const char *uri, const char *const *names, const struct vdp_apply_opts *o,
                      GPtrArray *results);

/* Restores what the last apply changed, from each domain's metadata;
 * @state (VdpDomainState) filters --all. */
void vdp_fleet_revert (const char *uri, const char *const *names, int state, gboolean dry_run,
                       GPtrArray *results);

/* Parses a --state argument, "running" or "shutoff", into *state; a
 * usage error quoting it otherwise. */
gboolean vdp_state_parse (const char *s, int *state, GError **error);

/* Audits the domains @names (NULL: all) of host @uri against the profile
 * in @o: findings (struct vdp_finding) go to @findings; a host that cannot
 * be reached or read gives a failed result in @results. */
void vdp_fleet_check (const char *uri, const char *const *names, const struct vdp_apply_opts *o,
                      GPtrArray *findings, GPtrArray *results);

/* Counts results of @kind. */
unsigned vdp_results_count (GPtrArray *results, VdpResultKind kind);

/* A GPtrArray of struct vdp_result that frees them. */
GPtrArray *vdp_results_new (void);
