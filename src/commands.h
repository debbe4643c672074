/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The command table and the option handling every command shares. */
#pragma once

#include <getopt.h>
#include <stdio.h>

#include <glib.h>

#include "fleet.h"
#include "host.h"

/* Options given before or after the command name. */
struct vdp_globals {
  const char *prog;         /* "virt-dataplane" */
  const char *topology;     /* --topology FILE|SYNTHETIC, NULL for the host */
  gboolean json;            /* --json */
  int verbose;              /* -v, repeatable */
  gboolean quiet;           /* -q */
  GPtrArray *hosts;         /* -c/--connect and --hosts lines, in order
                               (struct vdp_host_spec, owned) */
  unsigned jobs;            /* -j: hosts worked on at once (0: 1) */
};

/* The hosts the globals name: a borrowed GPtrArray of struct
 * vdp_host_spec; libvirt's default URI when none is named. */
GPtrArray *vdp_globals_hosts (const struct vdp_globals *g);

/* A progress line on stderr for @verb over the globals' hosts, when stderr
 * is a terminal and not -q; NULL otherwise.  Free with vdp_progress_free(). */
struct vdp_progress *vdp_progress_start (const struct vdp_globals *g, const char *verb);

/* Runs @fn for each host the globals name (libvirt's default when none),
 * -j at a time, and returns the results of all of them in host order
 * (a GPtrArray of struct vdp_result; @fn appends to the array it is
 * given).  Counts hosts done in @progress (may be NULL). */
typedef void (*vdp_host_fn) (const struct vdp_host_spec *host, void *data, GPtrArray *results);
GPtrArray *vdp_for_each_host (const struct vdp_globals *g, vdp_host_fn fn, void *data,
                              struct vdp_progress *progress);

struct vdp_command {
  const char *name;
  const char *summary;      /* one line for --help */
  int (*run) (struct vdp_globals *g, int argc, char **argv);
};

/* Every command, NULL-terminated. */
extern const struct vdp_command *const vdp_commands[];

const struct vdp_command *vdp_command_find (const char *name);

/* Option values for long options without a short form. */
enum {
  VDP_OPT_JSON = 0x100,
  VDP_OPT_TOPOLOGY,
  VDP_OPT_LIST_OPTIONS,
  VDP_OPT_LIST_COMMANDS,
  VDP_OPT_HOSTS,
  VDP_OPT_COMMAND_BASE = 0x200,     /* commands number their own options from here */
};

/* Short and long options every command accepts, and main() too. */
#define VDP_GLOBAL_SHORTOPTS "hVvqc:j:"
#define VDP_GLOBAL_LONGOPTS \
  { "help", no_argument, NULL, 'h' }, \
  { "version", no_argument, NULL, 'V' }, \
  { "verbose", no_argument, NULL, 'v' }, \
  { "quiet", no_argument, NULL, 'q' }, \
  { "json", no_argument, NULL, VDP_OPT_JSON }, \
  { "topology", required_argument, NULL, VDP_OPT_TOPOLOGY }, \
  { "list-options", no_argument, NULL, VDP_OPT_LIST_OPTIONS }, \
  { "connect", required_argument, NULL, 'c' }, \
  { "jobs", required_argument, NULL, 'j' }, \
  { "hosts", required_argument, NULL, VDP_OPT_HOSTS }

/* vdp_parse_options() returns this when the command should go on. */
#define VDP_PARSE_CONTINUE (-1)

/* Handles one command-specific option; returns FALSE with @error set when
 * its argument is bad. */
typedef gboolean (*vdp_option_fn) (int opt, const char *arg, void *data, GError **error);

/* Parses the argv of command @cmd (argv[0] is its name) with its options
 * plus the global ones; options and operands may be mixed.  With @cmd NULL
 * it parses main()'s argv and stops at the first operand (the command).
 * @usage prints --help.  Usage errors are printed here as one line.
 * Returns VDP_PARSE_CONTINUE with *first_arg set to the first operand, or
 * the exit status when the command is done (--help, --version,
 * --list-options: VDP_EXIT_OK; a usage error: VDP_EXIT_USAGE). */
int vdp_parse_options (struct vdp_globals *g, const char *cmd,
                                  int argc, char **argv,
                                  const char *shortopts, const struct option *longopts,
                                  void (*usage) (FILE *out), vdp_option_fn handle,
                                  void *data, int *first_arg);

/* Prints "PROG COMMAND: MESSAGE (see 'PROG COMMAND --help')" on stderr. */
void vdp_usage_error (const struct vdp_globals *g, const char *cmd, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);

/* Prints fleet results (GPtrArray of struct vdp_result): one line each, or
 * JSON lines with --json, then a summary on stderr naming @verb.  Returns
 * the exit status: VDP_EXIT_ERROR when any result failed. */
int vdp_report_results (const struct vdp_globals *g, const char *verb, GPtrArray *results);

/* Prints the version line on stdout. */
void vdp_print_version (void);

/* Writes @text to stdout in one go; returns the exit status (2 when stdout
 * fails, after a message). */
int vdp_print_output (const struct vdp_globals *g, const char *text);
