/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Output of fleet commands: each line printed as soon as it is final, in a stable order per host; progress; the summary and the exit status. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "fleet.h"
#include "lint.h"

/* How a command's results are printed. */
struct vdp_report_opts {
  const char *prog;         /* "virt-dataplane" */
  const char *verb;         /* "apply", "revert --dry-run", "check", ...; names the summary */
  gboolean json;            /* one JSON object per line instead of text */
  gboolean quiet;           /* no warnings; the summary only when something failed */
  gboolean color;           /* colour the diffs */
  gboolean progress;        /* a progress line on stderr (only on a terminal) */
  gboolean summary;         /* print the summary line on stderr at the end */
  unsigned hosts;           /* how many hosts the progress line counts */
};

typedef struct vdp_report vdp_report;

/* A report writing to stdout (results) and stderr (warnings, progress,
 * summary).  Safe to use from several threads.  Free with
 * vdp_report_free() after vdp_report_finish(). */
struct vdp_report *vdp_report_new (const struct vdp_report_opts *o);
void vdp_report_free (struct vdp_report *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_report, vdp_report_free)

/* The sink of one host of the report: what the fleet functions give their
 * results, findings and warnings to.  @uri names the host until
 * vdp_sink_set_uri() (NULL: libvirt's default).  Lines of the host's
 * domains come out in the order vdp_sink_order() gives, each as soon as
 * it and every domain before it are done; other lines (the host's own,
 * findings, rows) as soon as they are given.  Hosts interleave by line.
 * End it with vdp_sink_done(). */
struct vdp_sink *vdp_report_sink (struct vdp_report *r, const char *uri);

/* A sink that prints nothing: results (struct vdp_result), findings
 * (struct vdp_finding) and warnings (char *) are appended to the arrays
 * given (each may be NULL: dropped).  For tests and callers that want
 * them all.  Free with vdp_sink_done(). */
struct vdp_sink *vdp_sink_new_collector (GPtrArray *results, GPtrArray *findings,
                                         GPtrArray *warnings);

/* The URI of the host as libvirt names it, once connected. */
void vdp_sink_set_uri (struct vdp_sink *s, const char *uri);
const char *vdp_sink_uri (const struct vdp_sink *s);

/* The host's domains whose lines are to come, in the order they are to
 * come (names, borrowed); counts them for the progress line. */
void vdp_sink_order (struct vdp_sink *s, GPtrArray *names);

/* A domain's (or with r->domain NULL the host's) result, taken: printed
 * in its turn as "URI DOMAIN: RESULT (plan HASH): MESSAGE" and its diff,
 * or as a JSON line. */
void vdp_sink_result (struct vdp_sink *s, struct vdp_result *r);

/* check: the host's findings (struct vdp_finding), taken from @findings
 * (left empty), printed at once. */
void vdp_sink_findings (struct vdp_sink *s, GPtrArray *findings);

/* A line of @domain that is not a result (a row of "list"): @text (with
 * its newline) or, with --json, @json (taken) as one line. */
void vdp_sink_line (struct vdp_sink *s, const char *domain, const char *text, JsonNode *json);

/* Warnings (char *, one line each) of the host, printed on stderr at once
 * as "PROG: warning: URI: LINE" unless quiet; @warnings is left empty. */
void vdp_sink_warnings (struct vdp_sink *s, GPtrArray *warnings);

/* Prints what is still held back (after a domain that never finished,
 * when interrupted), counts the host done and frees the sink. */
void vdp_sink_done (struct vdp_sink *s);

/* Ends the progress line, prints the summary on stderr, and returns the
 * exit status: VDP_EXIT_ERROR when a host or domain failed (or was
 * refused) or stdout could not be written, VDP_EXIT_INTERRUPTED after
 * SIGINT, VDP_EXIT_FINDINGS for check findings of warning or error
 * severity, VDP_EXIT_PENDING for dry-run changes, else VDP_EXIT_OK (see
 * vdp_exit_worst()). */
int vdp_report_finish (struct vdp_report *r);

/* Counts results of @kind so far. */
unsigned vdp_report_count (struct vdp_report *r, VdpResultKind kind);

/* Prints warning @line of host @uri (NULL: none) on stderr as
 * "PROG: warning: URI: LINE", saying the host once. */
void vdp_warning_print (const char *prog, const char *uri, const char *line);

/* A result line (text) for @r, without its diff; for callers printing one
 * themselves. */
char *vdp_result_format (const struct vdp_result *r);
