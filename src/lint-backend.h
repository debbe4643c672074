/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The check rules for disks served by virt-dataplane-blk: shared memory, sockets, running backends, the hook. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "domain.h"
#include "lint.h"

/* One domain, as check sees it. */
struct vdp_lint_backend_input {
  const struct vdp_domain *dom;
  xmlDocPtr doc;
  gboolean running;         /* the guest runs */
  GPtrArray *states;        /* struct vdp_runtime_state of its backends on this host, or
                             * NULL when unknown (a remote host, files) */
};

extern const struct vdp_lint_rule vdp_lint_backend_rules[];

/* Audits the backends of @n domains of one host; @runtime_dir is where their
 * sockets belong; @hook_installed is 1, 0, or -1 when unknown.  Appends
 * struct vdp_finding to @findings. */
void vdp_lint_backends (const struct vdp_lint_backend_input *in, unsigned n,
                        const char *runtime_dir, int hook_installed, GPtrArray *findings);
