/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The modules behind fleet output and safety: report (line order, exit
 * status), drift (the record of what apply wrote), bounds, colour. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib/gstdio.h>
#include <libxml/xpathInternals.h>

#include "bounds.h"
#include "drift.h"
#include "report.h"
#include "util/cleanup.h"
#include "util/color.h"
#include "util/error.h"
#include "util/interrupt.h"

/* ---- report: what comes out on stdout, in which order ---------------------------- */

/* Runs @fn with stdout going to a file; returns what it wrote. */
static char *
capture (void (*fn) (void *), void *data)
{
  g_autofree char *path = NULL;
  char *text = NULL;
  int fd = g_file_open_tmp ("vdp-report-XXXXXX", &path, NULL);
  int saved = dup (STDOUT_FILENO);

  assert_true (fd >= 0 && saved >= 0);
  fflush (stdout);
  dup2 (fd, STDOUT_FILENO);
  fn (data);
  fflush (stdout);
  dup2 (saved, STDOUT_FILENO);
  close (saved);
  close (fd);
  assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_unlink (path);
  return text;
}

static struct vdp_report *
report_new (const char *verb, gboolean json)
{
  struct vdp_report_opts o = { .prog = "vdp", .verb = verb, .json = json, .quiet = TRUE };
  return vdp_report_new (&o);
}

static void
give (struct vdp_sink *s, const char *domain, VdpResultKind kind)
{
  vdp_sink_result (s, vdp_result_new (vdp_sink_uri (s), domain, kind, NULL));
}

static void
run_order (void *data)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  struct vdp_sink *s = vdp_report_sink (data, "test:///h");
  struct vdp_sink *other = vdp_report_sink (data, "test:///other");

  g_ptr_array_add (names, (char *) "a");
  g_ptr_array_add (names, (char *) "b");
  g_ptr_array_add (names, (char *) "c");
  g_ptr_array_add (names, (char *) "d");
  vdp_sink_order (s, names);
  give (s, "c", VDP_RESULT_APPLIED);        /* waits for a and b */
  give (s, "b", VDP_RESULT_APPLIED);        /* waits for a */
  give (other, NULL, VDP_RESULT_FAILED);    /* another host: at once */
  give (s, "a", VDP_RESULT_APPLIED);        /* a, b, c */
  give (s, NULL, VDP_RESULT_FAILED);        /* the host's own line: at once */
  vdp_sink_done (s);                        /* d never done (interrupted) */
  vdp_sink_done (other);
}

static void
test_sink_order (void **state)
{
  g_autoptr (vdp_report) r = report_new ("apply", FALSE);
  g_autofree char *out = capture (run_order, r);

  assert_string_equal (out,
                       "test:///other (host): failed\n"
                       "test:///h a: applied\n"
                       "test:///h b: applied\n"
                       "test:///h c: applied\n"
                       "test:///h (host): failed\n");
  assert_int_equal (vdp_report_count (r, VDP_RESULT_APPLIED), 3);
  assert_int_equal (vdp_report_finish (r), VDP_EXIT_ERROR);
}

static void
run_json (void *data)
{
  struct vdp_sink *s = vdp_report_sink (data, "test:///h");
  struct vdp_result *res = vdp_result_new ("test:///h", "a", VDP_RESULT_WOULD_CHANGE, "m");

  res->plan = g_strdup ("0123");
  res->diff = g_strdup ("--- a/a\n+++ b/a\n");
  vdp_sink_result (s, res);
  vdp_sink_done (s);
}

static void
test_json_lines (void **state)
{
  g_autoptr (vdp_report) r = report_new ("apply --dry-run", TRUE);
  g_autofree char *out = capture (run_json, r);

  assert_string_equal (out, "{\"uri\":\"test:///h\",\"domain\":\"a\",\"result\":\"would-change\","
                       "\"message\":\"m\",\"plan\":\"0123\",\"diff\":\"--- a/a\\n+++ b/a\\n\"}\n");
  assert_int_equal (vdp_report_finish (r), VDP_EXIT_PENDING);
}

static void
run_findings (void *data)
{
  struct vdp_sink *s = vdp_report_sink (data, "test:///h");
  g_autoptr (GPtrArray) f = g_ptr_array_new ();
  char domain[] = "a", subject[] = "disk vda", message[] = "9 IOThreads";
  struct vdp_finding info = { "VDP011", "too-many-iothreads", VDP_SEVERITY_INFO, domain, subject,
                              message, "fewer" };

  g_ptr_array_add (f, &info);
  vdp_sink_findings (s, f);
  assert_int_equal (f->len, 0);
  vdp_sink_done (s);
}

static void
test_findings_and_status (void **state)
{
  g_autoptr (vdp_report) r = report_new ("check", FALSE);
  g_autofree char *out = NULL;

  /* the sink takes the findings: the array is left empty */
  out = capture (run_findings, r);
  assert_string_equal (out, "test:///h a: info VDP011 disk vda: 9 IOThreads (fix: fewer)\n");
  assert_int_equal (vdp_report_finish (r), VDP_EXIT_OK);      /* info does not count */
}

static void
test_collector (void **state)
{
  g_autoptr (GPtrArray) results = vdp_results_new ();
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) w = g_ptr_array_new_with_free_func (g_free);
  struct vdp_sink *s = vdp_sink_new_collector (results, NULL, warnings);

  give (s, "a", VDP_RESULT_REVERTED);
  g_ptr_array_add (w, g_strdup ("careful"));
  vdp_sink_warnings (s, w);
  vdp_sink_done (s);
  assert_int_equal (w->len, 0);
  assert_int_equal (vdp_results_count (results, VDP_RESULT_REVERTED), 1);
  assert_string_equal (warnings->pdata[0], "careful");
}

/* ---- drift: what apply wrote, recorded and compared ----------------------------- */

static const char *const tuned_xml =
  "<domain type='kvm'><name>d</name><memory>1048576</memory><vcpu>2</vcpu>"
  "<metadata><vdp:dataplane xmlns:vdp='" VDP_XMLNS "' plan='abc'>"
  "<vdp:original key='cputune' present='no'/><vdp:original key='disk/vda/driver' present='no'/>"
  "</vdp:dataplane></metadata>"
  "<cputune><vcpupin vcpu='0' cpuset='0-3'/><vcpupin vcpu='1' cpuset='0-3'/>"
  "<emulatorpin cpuset='4'/></cputune>"
  "<numatune><memory mode='strict' nodeset='0'/></numatune>"
  "<devices><disk type='file' device='disk'><driver name='qemu' cache='none' io='native'/>"
  "<source file='/x'/><target dev='vda' bus='virtio'/></disk></devices></domain>";

static xmlDocPtr
doc_of (const char *xml)
{
  xmlDocPtr doc = vdp_xml_read_memory (xml, "d", NULL);
  assert_non_null (doc);
  return doc;
}

/* Sets attribute @attr of the first element named @name to @value. */
static void
edit (xmlDocPtr doc, const char *name, const char *attr, const char *value)
{
  g_autoptr (xmlXPathContext) ctx = xmlXPathNewContext (doc);
  g_autofree char *expr = g_strdup_printf ("//%s", name);
  g_autoptr (xmlXPathObject) o = xmlXPathEvalExpression ((const xmlChar *) expr, ctx);

  assert_true (o && o->nodesetval && o->nodesetval->nodeNr > 0);
  xmlSetProp (o->nodesetval->nodeTab[0], (const xmlChar *) attr, (const xmlChar *) value);
}

static void
test_drift (void **state)
{
  g_autoptr (xmlDoc) doc = doc_of (tuned_xml);
  g_autoptr (xmlDoc) copy = NULL;
  g_autoptr (GPtrArray) changed = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *keys = NULL;

  /* no record yet: nothing can be told */
  assert_int_equal (vdp_drift_find (doc, changed), 0);
  assert_true (vdp_drift_stamp (doc, NULL, NULL, NULL));
  assert_int_equal (vdp_drift_find (doc, changed), 0);
  /* stamping again replaces the record */
  assert_true (vdp_drift_stamp (doc, NULL, NULL, NULL));
  copy = xmlCopyDoc (doc, 1);

  /* the vCPUs pinned alike are recorded together */
  {
    g_autoptr (xmlXPathContext) ctx = xmlXPathNewContext (doc);
    g_autoptr (xmlXPathObject) o = NULL;
    xmlXPathRegisterNs (ctx, (const xmlChar *) "vdp", (const xmlChar *) VDP_XMLNS);
    o = xmlXPathEvalExpression ((const xmlChar *) "string(//vdp:applied[@key='cputune']/@state)", ctx);
    assert_string_equal ((const char *) o->stringval, "vcpupin 0-1=0-3; emulatorpin=4");
  }
  /* a hand edit of an owned element: one line, now and as applied */
  edit (doc, "vcpupin", "cpuset", "7");
  assert_int_equal (vdp_drift_find (doc, changed), 1);
  assert_string_equal (changed->pdata[0], "vcpupin 0 is '7' now, '0-3' applied");
  /* the same pin written another way is no change */
  edit (doc, "vcpupin", "cpuset", "3,0-2");
  g_ptr_array_set_size (changed, 0);
  assert_int_equal (vdp_drift_find (doc, changed), 0);
  /* an element it does not own (numatune is not in the record) is no drift */
  edit (doc, "memory[@mode]", "nodeset", "1");
  assert_int_equal (vdp_drift_find (doc, changed), 0);
  edit (doc, "driver", "cache", "writeback");
  assert_int_equal (vdp_drift_find (doc, changed), 1);
  assert_string_equal (changed->pdata[0], "disk vda cache is 'writeback' now, 'none' applied");

  keys = vdp_drift_changed_keys (copy, doc);
  assert_string_equal (keys, "disk/vda/driver");
}

/* ---- bounds ------------------------------------------------------------------------- */

static void
test_bounds_synthetic (void **state)
{
  static const struct { const char *desc; gboolean ok; } cases[] = {
    { "node:2 core:8 pu:2", TRUE },
    { "package:2 node:1 l3:1 core:8 pu:2", TRUE },
    { "node:1024 pu:8", TRUE },                     /* 8192 PUs, 1024 nodes */
    { "node:1025 pu:1", FALSE },                    /* nodes */
    { "node:2 core:4097 pu:1", FALSE },             /* PUs */
    { "node:99999 pu:2", FALSE },
    { "pack:2 [numa] core:8 pu:2", TRUE },          /* attached memory */
    { "pack:2000 [numa(memory=1GB)] pu:1", FALSE },
    { "node:4294967295 core:4294967295 pu:4294967295", FALSE },   /* no overflow */
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) err = NULL;
    gboolean ok = vdp_bounds_synthetic (cases[i].desc, &err);
    if (ok != cases[i].ok)
      fail_msg ("'%s': %s", cases[i].desc, err ? err->message : "accepted");
    if (!ok)
      assert_non_null (strstr (err->message, cases[i].desc));
  }
}

static void
test_bounds_domain (void **state)
{
  g_autoptr (GString) xml = g_string_new ("<domain><name>d</name><devices>");
  g_autoptr (xmlDoc) small = doc_of (tuned_xml);
  g_autoptr (xmlDoc) big = NULL;
  g_autoptr (GError) err = NULL;

  for (unsigned i = 0; i <= VDP_BOUND_DISKS; i++)
    g_string_append (xml, "<disk/>");
  g_string_append (xml, "</devices></domain>");
  big = doc_of (xml->str);
  assert_true (vdp_bounds_domain_doc (small, "d", NULL));
  assert_false (vdp_bounds_domain_doc (big, "d", &err));
  assert_string_equal (err->message, "domain 'd' has 257 disks: more than the 256 allowed");
}

/* ---- colour --------------------------------------------------------------------------- */

static void
test_color_diff (void **state)
{
  g_autofree char *c = vdp_color_diff ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n same\n");

  assert_string_equal (c, "\033[1m--- a/x\033[m\n\033[1m+++ b/x\033[m\n\033[36m@@ -1 +1 @@\033[m\n"
                       "\033[31m-old\033[m\n\033[32m+new\033[m\n same\n");
  assert_false (vdp_color_enabled (VDP_COLOR_NEVER, STDOUT_FILENO));
  assert_true (vdp_color_enabled (VDP_COLOR_ALWAYS, STDOUT_FILENO));
}

/* Last: the flag cannot be cleared. */
static void
test_interrupted_status (void **state)
{
  g_autoptr (vdp_report) r = report_new ("apply", FALSE);
  struct vdp_sink *s = vdp_sink_new_collector (NULL, NULL, NULL);

  vdp_sink_done (s);
  vdp_interrupt_raise ();
  assert_true (vdp_interrupted ());
  assert_int_equal (vdp_report_finish (r), VDP_EXIT_INTERRUPTED);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sink_order),
    cmocka_unit_test (test_json_lines),
    cmocka_unit_test (test_findings_and_status),
    cmocka_unit_test (test_collector),
    cmocka_unit_test (test_drift),
    cmocka_unit_test (test_bounds_synthetic),
    cmocka_unit_test (test_bounds_domain),
    cmocka_unit_test (test_color_diff),
    cmocka_unit_test (test_interrupted_status),
  };
  return cmocka_run_group_tests_name ("report", tests, NULL, NULL);
}
