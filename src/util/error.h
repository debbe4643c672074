/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Error domain and codes shared by every module; codes map to the CLI exit status. */
#pragma once

#include <glib.h>

#define VDP_ERROR vdp_error_quark ()

/* Error codes; vdp_error_exit_status() maps them to the CLI exit status. */
typedef enum {
  VDP_ERROR_USAGE = 1,     /* bad command line: exit 64 */
  VDP_ERROR_INPUT,         /* bad or unreadable input (file, XML, cpuset, profile): exit 2 */
  VDP_ERROR_RUNTIME,       /* the host, libvirt or the system failed: exit 2 */
  VDP_ERROR_LAST
} VdpErrorCode;

/* Exit statuses of the virt-dataplane commands, the same for every command
 * (documented in the man page, EXIT STATUS).  When several apply, the
 * first of usage, interrupted, error, findings/pending wins. */
enum {
  VDP_EXIT_OK = 0,          /* done: clean, nothing to change, applied */
  VDP_EXIT_FINDINGS = 1,    /* check: the audit found warnings or errors */
  VDP_EXIT_ERROR = 2,       /* an input, a host or a domain failed */
  VDP_EXIT_PENDING = 3,     /* --dry-run: something would change */
  VDP_EXIT_USAGE = 64,      /* bad command line (EX_USAGE of sysexits.h) */
  VDP_EXIT_INTERRUPTED = 130, /* SIGINT: stopped after printing what was done */
};

/* The exit status of a run where both @a and @b apply: usage before
 * interrupted before error before findings and pending before success. */
int vdp_exit_worst (int a, int b);

GQuark vdp_error_quark (void);

/* Exit status for @err: VDP_EXIT_USAGE for usage errors, else VDP_EXIT_ERROR. */
int vdp_error_exit_status (const GError *err);

/* Prints "virt-dataplane: MESSAGE" on stderr, one line (newlines in the
 * message are folded into spaces). */
void vdp_error_print (const char *prog, const GError *err);
