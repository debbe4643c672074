/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Output of fleet commands: each line printed as soon as it is final, in a stable order per host; progress; the summary and the exit status. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "util/color.h"
#include "util/error.h"
#include "util/interrupt.h"
#include "util/json.h"

struct vdp_report {
  GMutex lock;              /* everything below, and the output streams */
  struct vdp_report_opts o;
  char *prog, *verb;
  unsigned counts[VDP_RESULT_LAST];
  unsigned findings[VDP_SEVERITY_LAST];
  unsigned hosts_done, domains, domains_done, not_started;
  gboolean progress_shown;
  gboolean stdout_tty;      /* results and the progress line share the terminal */
  int write_errno;          /* the first error writing stdout, 0 when none */
};

struct vdp_sink {
  struct vdp_report *r;     /* NULL: a collector */
  char *uri;
  GHashTable *index;        /* domain name -> its place in the order + 1 */
  unsigned n;               /* domains in the order */
  GString **held;           /* per place: its lines, held until their turn */
  gboolean *given;          /* per place: its lines were given */
  unsigned next;            /* the first place not printed yet */
  GPtrArray *results, *findings, *warnings;   /* a collector's arrays */
};

/* ---- progress ------------------------------------------------------------ */

/* Rewrites the progress line (under r->lock). */
static void
progress_show (struct vdp_report *r)
{
  if (!r->o.progress)
    return;
  fprintf (stderr, "\r%s: %s: %u/%u host%s, %u/%u domain%s", r->prog, r->verb, r->hosts_done,
           r->o.hosts, r->o.hosts == 1 ? "" : "s", r->domains_done, r->domains,
           r->domains == 1 ? "" : "s");
  fflush (stderr);
  r->progress_shown = TRUE;
}

/* Erases the progress line before other output on the terminal (under
 * r->lock); @to_stdout: the output goes to stdout. */
static void
progress_erase (struct vdp_report *r, gboolean to_stdout)
{
  if (!r->progress_shown || (to_stdout && !r->stdout_tty))
    return;
  fputs ("\r\033[K", stderr);
  fflush (stderr);
}

/* ---- writing ------------------------------------------------------------------ */

/* Writes @text to stdout in one go (under r->lock). */
static void
out_write (struct vdp_report *r, const char *text, size_t len)
{
  if (len == 0)
    return;
  progress_erase (r, TRUE);
  if ((fwrite (text, 1, len, stdout) != len || fflush (stdout) != 0) && r->write_errno == 0)
    r->write_errno = errno ? errno : EIO;
  progress_show (r);
}

static char *
json_line (JsonBuilder *b)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return vdp_json_to_string (root, FALSE);
}

char *
vdp_result_format (const struct vdp_result *r)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "%s %s: %s", r->uri, r->domain ? r->domain : "(host)",
                          vdp_result_names[r->kind]);
  if (r->plan)
    g_string_append_printf (s, " (plan %s)", r->plan);
  if (r->message)
    g_string_append_printf (s, ": %s", r->message);
  g_string_append_c (s, '\n');
  return g_string_free (s, FALSE);
}

/* The lines of @res, as text or JSON. */
static char *
format_result (const struct vdp_report *r, const struct vdp_result *res)
{
  g_autoptr (JsonBuilder) b = NULL;
  char *line;

  if (!r->o.json) {
    GString *s = g_string_new (NULL);
    g_autofree char *head = vdp_result_format (res);
    g_string_append (s, head);
    if (res->diff) {
      g_autofree char *d = r->o.color ? vdp_color_diff (res->diff) : NULL;
      g_string_append (s, d ? d : res->diff);
    }
    return g_string_free (s, FALSE);
  }
  b = json_builder_new ();
  json_builder_begin_object (b);
  vdp_json_add_string (b, "uri", res->uri);
  vdp_json_add_string (b, "domain", res->domain);
  vdp_json_add_string (b, "result", vdp_result_names[res->kind]);
  vdp_json_add_string (b, "message", res->message);
  vdp_json_add_string (b, "plan", res->plan);
  if (res->diff)
    vdp_json_add_string (b, "diff", res->diff);
  json_builder_end_object (b);
  line = json_line (b);
  return line;
}

static char *
format_finding (const struct vdp_report *r, const char *uri, const struct vdp_finding *f)
{
  g_autoptr (JsonBuilder) b = NULL;

  if (!r->o.json)
    return g_strdup_printf ("%s%s%s: %s %s %s: %s (fix: %s)\n", uri ? uri : "", uri ? " " : "",
                            f->domain, vdp_severity_names[f->severity], f->id, f->subject,
                            f->message, f->hint);
  b = json_builder_new ();
  json_builder_begin_object (b);
  vdp_json_add_string (b, "uri", uri);
  vdp_json_add_string (b, "domain", f->domain);
  vdp_json_add_string (b, "id", f->id);
  vdp_json_add_string (b, "rule", f->rule);
  vdp_json_add_string (b, "severity", vdp_severity_names[f->severity]);
  vdp_json_add_string (b, "subject", f->subject);
  vdp_json_add_string (b, "message", f->message);
  vdp_json_add_string (b, "fix", f->hint);
  json_builder_end_object (b);
  return json_line (b);
}

/* ---- the report ------------------------------------------------------------------ */

struct vdp_report *
vdp_report_new (const struct vdp_report_opts *o)
{
  struct vdp_report *r = g_new0 (struct vdp_report, 1);

  g_mutex_init (&r->lock);
  r->o = *o;
  r->prog = g_strdup (o->prog);
  r->verb = g_strdup (o->verb);
  r->o.prog = r->prog;
  r->o.verb = r->verb;
  r->o.progress = o->progress && isatty (STDERR_FILENO);
  r->stdout_tty = isatty (STDOUT_FILENO);
  return r;
}

void
vdp_report_free (struct vdp_report *r)
{
  if (r == NULL)
    return;
  g_mutex_clear (&r->lock);
  g_free (r->prog);
  g_free (r->verb);
  g_free (r);
}

unsigned
vdp_report_count (struct vdp_report *r, VdpResultKind kind)
{
  unsigned n;

  g_mutex_lock (&r->lock);
  n = r->counts[kind];
  g_mutex_unlock (&r->lock);
  return n;
}

int
vdp_report_finish (struct vdp_report *r)
{
  const unsigned *c = r->counts;
  int rc = VDP_EXIT_OK;
  gboolean failed = c[VDP_RESULT_FAILED] || c[VDP_RESULT_REFUSED];

  g_mutex_lock (&r->lock);
  if (r->progress_shown) {
    fputs ("\n", stderr);
    r->progress_shown = FALSE;
  }
  r->o.progress = FALSE;
  if (r->o.summary && (!r->o.quiet || failed || vdp_interrupted ())) {
    g_autoptr (GString) s = g_string_new (NULL);
    if (r->o.verb && g_str_has_prefix (r->o.verb, "check")) {
      g_string_append_printf (s, "%u finding%s (%u error%s, %u warning%s, %u info)",
                              r->findings[0] + r->findings[1] + r->findings[2],
                              r->findings[0] + r->findings[1] + r->findings[2] == 1 ? "" : "s",
                              r->findings[VDP_SEVERITY_ERROR],
                              r->findings[VDP_SEVERITY_ERROR] == 1 ? "" : "s",
                              r->findings[VDP_SEVERITY_WARNING],
                              r->findings[VDP_SEVERITY_WARNING] == 1 ? "" : "s",
                              r->findings[VDP_SEVERITY_INFO]);
      if (r->domains)
        g_string_append_printf (s, " in %u domain%s", r->domains, r->domains == 1 ? "" : "s");
      g_string_append_printf (s, ", %u failed", c[VDP_RESULT_FAILED]);
    } else {
      g_string_append_printf (s, "%u applied, %u unchanged, %u would change, %u reverted, "
                              "%u not tuned, %u failed", c[VDP_RESULT_APPLIED],
                              c[VDP_RESULT_UNCHANGED], c[VDP_RESULT_WOULD_CHANGE],
                              c[VDP_RESULT_REVERTED], c[VDP_RESULT_NOT_TUNED],
                              c[VDP_RESULT_FAILED]);
      if (c[VDP_RESULT_REFUSED])
        g_string_append_printf (s, ", %u refused", c[VDP_RESULT_REFUSED]);
    }
    if (vdp_interrupted ())
      g_string_append_printf (s, "; interrupted: %u domain%s not started", r->not_started,
                              r->not_started == 1 ? "" : "s");
    fprintf (stderr, "%s: %s: %s\n", r->prog, r->verb, s->str);
  }
  /* a reader that stopped reading (| head): quiet, as a program killed
   * by SIGPIPE would be; the work went on, the lines are lost (status 2) */
  if (r->write_errno) {
    if (r->write_errno != EPIPE)
      fprintf (stderr, "%s: cannot write output: %s\n", r->prog, g_strerror (r->write_errno));
    rc = VDP_EXIT_ERROR;
  }
  g_mutex_unlock (&r->lock);
  if (failed)
    rc = vdp_exit_worst (rc, VDP_EXIT_ERROR);
  if (vdp_interrupted ())
    rc = vdp_exit_worst (rc, VDP_EXIT_INTERRUPTED);
  if (r->findings[VDP_SEVERITY_WARNING] || r->findings[VDP_SEVERITY_ERROR])
    rc = vdp_exit_worst (rc, VDP_EXIT_FINDINGS);
  if (c[VDP_RESULT_WOULD_CHANGE])
    rc = vdp_exit_worst (rc, VDP_EXIT_PENDING);
  return rc;
}

/* ---- sinks ------------------------------------------------------------------------- */

struct vdp_sink *
vdp_report_sink (struct vdp_report *r, const char *uri)
{
  struct vdp_sink *s = g_new0 (struct vdp_sink, 1);

  s->r = r;
  s->uri = g_strdup (uri ? uri : "");
  return s;
}

struct vdp_sink *
vdp_sink_new_collector (GPtrArray *results, GPtrArray *findings, GPtrArray *warnings)
{
  struct vdp_sink *s = g_new0 (struct vdp_sink, 1);

  s->uri = g_strdup ("");
  s->results = results;
  s->findings = findings;
  s->warnings = warnings;
  return s;
}

static void
sink_lock (struct vdp_sink *s)
{
  if (s->r)
    g_mutex_lock (&s->r->lock);
}

static void
sink_unlock (struct vdp_sink *s)
{
  if (s->r)
    g_mutex_unlock (&s->r->lock);
}

void
vdp_sink_set_uri (struct vdp_sink *s, const char *uri)
{
  sink_lock (s);
  g_free (s->uri);
  s->uri = g_strdup (uri);
  sink_unlock (s);
}

const char *
vdp_sink_uri (const struct vdp_sink *s)
{
  return s->uri;
}

void
vdp_sink_order (struct vdp_sink *s, GPtrArray *names)
{
  sink_lock (s);
  if (s->index == NULL) {
    s->index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    s->n = 0;
    s->held = g_new0 (GString *, names->len + 1);
    s->given = g_new0 (gboolean, names->len + 1);
    for (guint i = 0; i < names->len; i++)
      if (!g_hash_table_contains (s->index, names->pdata[i]))
        g_hash_table_insert (s->index, g_strdup (names->pdata[i]), GUINT_TO_POINTER (++s->n));
    if (s->r) {
      s->r->domains += s->n;
      progress_show (s->r);
    }
  }
  sink_unlock (s);
}

/* Prints the held lines whose turn came (under the lock). */
static void
flush_turns (struct vdp_sink *s)
{
  while (s->next < s->n && s->given[s->next]) {
    if (s->held[s->next]) {
      out_write (s->r, s->held[s->next]->str, s->held[s->next]->len);
      g_string_free (s->held[s->next], TRUE);
      s->held[s->next] = NULL;
    }
    s->next++;
  }
}

/* Prints @text for @domain in its turn, or now when it has none (under
 * the lock). */
static void
emit (struct vdp_sink *s, const char *domain, const char *text, gboolean counts_done)
{
  gpointer place = domain && s->index ? g_hash_table_lookup (s->index, domain) : NULL;
  unsigned i = GPOINTER_TO_UINT (place);

  if (i == 0 || i - 1 < s->next) {
    out_write (s->r, text, strlen (text));
  } else {
    if (s->held[i - 1] == NULL)
      s->held[i - 1] = g_string_new (NULL);
    g_string_append (s->held[i - 1], text);
  }
  if (i && counts_done && !s->given[i - 1]) {
    s->given[i - 1] = TRUE;
    s->r->domains_done++;
    flush_turns (s);
  }
  progress_show (s->r);
}

void
vdp_sink_result (struct vdp_sink *s, struct vdp_result *res)
{
  g_autofree char *text = NULL;

  if (s->r == NULL) {
    if (s->results)
      g_ptr_array_add (s->results, res);
    else
      vdp_result_free (res);
    return;
  }
  text = format_result (s->r, res);
  sink_lock (s);
  s->r->counts[res->kind]++;
  emit (s, res->domain, text, TRUE);
  sink_unlock (s);
  vdp_result_free (res);
}

void
vdp_sink_findings (struct vdp_sink *s, GPtrArray *findings)
{
  g_autoptr (GString) text = g_string_new (NULL);

  if (s->r == NULL) {
    if (s->findings)
      g_ptr_array_extend_and_steal (s->findings, g_ptr_array_ref (findings));
    g_ptr_array_set_size (findings, 0);
    return;
  }
  sink_lock (s);
  for (guint i = 0; i < findings->len; i++) {
    const struct vdp_finding *f = findings->pdata[i];
    g_autofree char *line = format_finding (s->r, *s->uri ? s->uri : NULL, f);
    s->r->findings[f->severity]++;
    g_string_append (text, line);
  }
  out_write (s->r, text->str, text->len);
  sink_unlock (s);
  g_ptr_array_set_size (findings, 0);
}

void
vdp_sink_line (struct vdp_sink *s, const char *domain, const char *text, JsonNode *json)
{
  g_autofree char *line = NULL;

  if (s->r == NULL) {
    if (json)
      json_node_unref (json);
    return;
  }
  line = s->r->o.json && json ? vdp_json_to_string (json, FALSE) : g_strdup (text);
  if (json)
    json_node_unref (json);
  sink_lock (s);
  emit (s, domain, line, FALSE);
  sink_unlock (s);
}

/* "host 'URI': rest" says the host once: "rest". */
static const char *
strip_host (const char *w, const char *uri)
{
  g_autofree char *prefix = g_strdup_printf ("host '%s': ", uri);

  return g_str_has_prefix (w, prefix) ? w + strlen (prefix) : w;
}

void
vdp_warning_print (const char *prog, const char *uri, const char *line)
{
  if (uri)
    fprintf (stderr, "%s: warning: %s: %s\n", prog, uri, strip_host (line, uri));
  else
    fprintf (stderr, "%s: warning: %s\n", prog, line);
}

void
vdp_sink_warnings (struct vdp_sink *s, GPtrArray *warnings)
{
  if (s->r == NULL) {
    if (s->warnings)
      g_ptr_array_extend_and_steal (s->warnings, g_ptr_array_ref (warnings));
    g_ptr_array_set_size (warnings, 0);
    return;
  }
  if (!s->r->o.quiet && warnings->len) {
    sink_lock (s);
    progress_erase (s->r, FALSE);
    for (guint i = 0; i < warnings->len; i++)
      vdp_warning_print (s->r->prog, *s->uri ? s->uri : NULL, warnings->pdata[i]);
    fflush (stderr);
    progress_show (s->r);
    sink_unlock (s);
  }
  g_ptr_array_set_size (warnings, 0);
}

void
vdp_sink_done (struct vdp_sink *s)
{
  if (s == NULL)
    return;
  if (s->r) {
    g_mutex_lock (&s->r->lock);
    /* what waited for a domain that never finished (interrupted) */
    for (unsigned i = s->next; i < s->n; i++) {
      if (s->held[i])
        out_write (s->r, s->held[i]->str, s->held[i]->len);
      if (!s->given[i])
        s->r->not_started++;
    }
    s->r->hosts_done++;
    progress_show (s->r);
    g_mutex_unlock (&s->r->lock);
  }
  for (unsigned i = 0; s->held && i < s->n; i++)
    if (s->held[i])
      g_string_free (s->held[i], TRUE);
  g_free (s->held);
  g_free (s->given);
  if (s->index)
    g_hash_table_unref (s->index);
  g_free (s->uri);
  g_free (s);
}
