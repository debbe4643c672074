/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rules of "check": each finding with an id, a severity, a message and a fix hint. */
#pragma once

#include <stdarg.h>

#include <glib.h>

#include "caps.h"
#include "domain.h"
#include "planner.h"
#include "policy.h"
#include "topology.h"

typedef enum {
  VDP_SEVERITY_INFO,
  VDP_SEVERITY_WARNING,
  VDP_SEVERITY_ERROR,
  VDP_SEVERITY_LAST
} VdpSeverity;

struct vdp_finding {
  const char *id;           /* "VDP001"... (static) */
  const char *rule;         /* short name, "iothreads-unused" (static) */
  VdpSeverity severity;
  char *domain;
  char *subject;            /* "disk vda", "iothread 3", ... */
  char *message;
  const char *hint;         /* how to fix it (static) */
};

/* One rule: id, name, severity, what it checks. */
struct vdp_lint_rule {
  const char *id, *name;
  VdpSeverity severity;
  const char *summary;
  const char *hint;
};

extern const struct vdp_lint_rule vdp_lint_rules[];
extern const char *const vdp_severity_names[];

/* Audits the @n domains of one host (every domain of it, so that the hard
 * constraints see all it holds) on @topo for the stack @caps; @host is the
 * host's profile (reserves, isolated PUs) and each input's policy (NULL:
 * @host) the profile its domain is audited against; @plans (may be NULL,
 * or NULL entries) are today's plans, for the drift rule.  A domain that
 * is exactly today's plan is audited for the hard constraints and the
 * stack's rules only: the plan's reasons explain the rest.  Findings of
 * the domains with @report[i] (NULL: all) are appended to @findings. */
void vdp_lint_host (const struct vdp_topology *topo, const struct vdp_policy *host,
                    const struct vdp_caps *caps, const struct vdp_plan_input *inputs, unsigned n,
                    const struct vdp_domain_plan *const *plans, const gboolean *report,
                    GPtrArray *findings);

GPtrArray *vdp_findings_new (void);

/* Audits a running guest: its @live settings (the live XML) against its
 * @persistent definition; a finding when any pin, IOThread, memory
 * binding or disk driver setting differs. */
void vdp_lint_live (const struct vdp_domain *persistent, const struct vdp_domain *live,
                    GPtrArray *findings);

/* Appends a finding of rule @r about @domain and @subject to @out, the
 * message formatted from @fmt and @ap. */
void vdp_finding_addv (GPtrArray *out, const struct vdp_lint_rule *r, const char *domain,
                       const char *subject, const char *fmt, va_list ap);
