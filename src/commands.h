/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The command table and the option handling every command shares. */
#pragma once

#include <getopt.h>
#include <stdio.h>

#include <glib.h>

#include "fleet.h"
#include "host.h"
#include "report.h"
#include "util/color.h"

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
  int state;                /* --state (VdpDomainState), VDP_STATE_ANY when not given */
  VdpColorMode color;       /* --color */
};

/* The hosts the globals name: a borrowed GPtrArray of struct
 * vdp_host_spec; libvirt's default URI when none is named. */
GPtrArray *vdp_globals_hosts (const struct vdp_globals *g);

/* A report for @verb over the globals' hosts (see report.h): JSON lines
 * with --json, coloured diffs as --color says, progress on a terminal
 * unless -q, and a summary line on stderr when @summary. */
struct vdp_report *vdp_report_start (const struct vdp_globals *g, const char *verb,
                                     gboolean summary);

/* Runs @fn for each host the globals name (libvirt's default when none),
 * -j at a time, each with a sink of @report for its lines.  Catches
 * SIGINT: after it no host starts.  Returns when all started hosts are
 * done. */
typedef void (*vdp_host_fn) (const struct vdp_host_spec *host, void *data, struct vdp_sink *sink);
void vdp_for_each_host (const struct vdp_globals *g, vdp_host_fn fn, void *data,
                        struct vdp_report *report);

/* The domains apply and revert work on, into @ao: the state --all means
 * (@all, or --state; @named: domain names were given, which exclude
 * them), --config and --live (neither: --config; --all --live alone:
 * the running domains), and how many domain transactions of a single host
 * run at once (-j).  Returns VDP_PARSE_CONTINUE, or VDP_EXIT_USAGE after
 * one line. */
int vdp_select_domains (const struct vdp_globals *g, const char *cmd, gboolean all,
                        gboolean named, gboolean config, gboolean live,
                        struct vdp_apply_opts *ao);

/* With --state given, a usage error of @cmd (which picks no domains by
 * state); returns VDP_PARSE_CONTINUE when it was not given. */
int vdp_no_state (const struct vdp_globals *g, const char *cmd);

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
  VDP_OPT_STATE,
  VDP_OPT_TIMEOUT,
  VDP_OPT_COLOR,
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
  { "hosts", required_argument, NULL, VDP_OPT_HOSTS }, \
  { "state", required_argument, NULL, VDP_OPT_STATE }, \
  { "timeout", required_argument, NULL, VDP_OPT_TIMEOUT }, \
  { "color", required_argument, NULL, VDP_OPT_COLOR }, \
  { "list-commands", no_argument, NULL, VDP_OPT_LIST_COMMANDS }

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

/* Prints the version line on stdout. */
void vdp_print_version (void);

/* Writes @text to stdout in one go; returns the exit status (2 when stdout
 * fails, after a message). */
int vdp_print_output (const struct vdp_globals *g, const char *text);
