/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rules of "check": each finding with an id, a severity, a message and a fix hint. */
#pragma once

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

/* Audits @n domains of one host against @policy on @topo for the stack
 * @caps; @plan is their host-wide plan (for the drift rule; may be NULL).
 * Appends struct vdp_finding to @findings (free with vdp_findings_new()'s
 * array). */
void vdp_lint_domains (const struct vdp_topology *topo, const struct vdp_caps *caps,
                       const struct vdp_plan_input *inputs, unsigned n,
                       const struct vdp_plan *plan, GPtrArray *findings);

GPtrArray *vdp_findings_new (void);

/* Audits a running guest: its @live settings (the live XML) against its
 * @persistent definition; a finding when any pin, IOThread, memory
 * binding or disk driver setting differs. */
void vdp_lint_live (const struct vdp_domain *persistent, const struct vdp_domain *live,
                    GPtrArray *findings);
