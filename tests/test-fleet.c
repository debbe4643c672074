/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* apply and revert against libvirt's test driver, in one process (the test
 * driver keeps its state per connection): round trips, a 1000-domain host,
 * verification failures that restore the original, unreachable hosts. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib/gstdio.h>

#include "conn.h"
#include "domain.h"
#include "fleet.h"
#include "lint.h"
#include "report.h"
#include "xmlpatch.h"
#include "vdp-test.h"

static char *
write_node (const char *name, unsigned n_domains)
{
  g_autofree char *dir = g_dir_make_tmp ("vdp-fleet-XXXXXX", NULL);
  char *path = g_build_filename (dir, name, NULL);
  GString *x = g_string_new ("<node>\n");

  for (unsigned i = 0; i < n_domains; i++) {
    unsigned v = 1u << (i % 4);
    g_string_append_printf (x,
      "  <domain type='kvm' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
      "    <name>vm%04u</name>\n    <memory unit='MiB'>%u</memory>\n    <vcpu>%u</vcpu>\n"
      "    <os><type arch='x86_64'>hvm</type></os>\n"
      "    <devices>\n"
      "      <disk type='file' device='disk'><driver name='qemu' type='raw'/>"
      "<source file='/img/vm%04u.raw'/><target dev='vda' bus='virtio'/></disk>\n"
      "%s"
      "    </devices>\n%s  </domain>\n", i, v * 128, v, i,
      i % 3 == 0 ? "      <controller type='scsi' index='0' model='virtio-scsi'/>\n" : "",
      i % 2 ? "    <test:runstate>5</test:runstate>\n" : "");
  }
  g_string_append (x, "</node>\n");
  assert_true (g_file_set_contents (path, x->str, -1, NULL));
  g_string_free (x, TRUE);
  return path;
}

static void
rm_node (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_unlink (path);
  g_rmdir (dir);
}

/* The formatted persistent XML of every domain of @c. */
static GHashTable *
snapshot (struct vdp_conn *c)
{
  GHashTable *h = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GPtrArray) names = vdp_conn_list (c, VDP_STATE_ANY, NULL);

  for (guint i = 0; i < names->len; i++)
    g_hash_table_insert (h, g_strdup (names->pdata[i]),
                         vdp_conn_get_xml (c, names->pdata[i], TRUE, NULL));
  return h;
}

/* A host named by @uri alone, as -c names it; kept for the whole program. */
static const struct vdp_host_spec *
host_of (const char *uri)
{
  static GPtrArray *specs;

  if (specs == NULL)
    specs = g_ptr_array_new_with_free_func ((GDestroyNotify) vdp_host_spec_free);
  g_ptr_array_add (specs, vdp_host_spec_new (uri, "-c"));
  return specs->pdata[specs->len - 1];
}

/* The fleet functions with their lines collected in arrays. */
static void
apply_into (const struct vdp_host_spec *host, const char *const *names,
            const struct vdp_apply_opts *o, GPtrArray *results)
{
  struct vdp_sink *sink = vdp_sink_new_collector (results, NULL, o->warnings);
  vdp_fleet_apply (host, names, o, sink);
  vdp_sink_done (sink);
}

static void
check_into (const struct vdp_host_spec *host, const struct vdp_apply_opts *o,
            GPtrArray *findings, GPtrArray *results)
{
  struct vdp_sink *sink = vdp_sink_new_collector (results, findings, NULL);
  vdp_fleet_check (host, NULL, o, sink);
  vdp_sink_done (sink);
}

static void
revert_into (const struct vdp_host_spec *host, GPtrArray *results)
{
  struct vdp_apply_opts o = { .config = TRUE };
  struct vdp_sink *sink = vdp_sink_new_collector (results, NULL, NULL);
  vdp_fleet_revert (host, NULL, &o, sink);
  vdp_sink_done (sink);
}

/* Removes the findings that a running guest differs from its definition
 * from @findings, each of a running domain with an even number (the
 * others are shut off); returns how many there were.  Prints the others. */
static unsigned
live_differs (GPtrArray *findings)
{
  unsigned n = 0;

  for (guint i = 0; i < findings->len;) {
    const struct vdp_finding *f = findings->pdata[i];
    if (strcmp (f->id, "VDP019") == 0) {
      assert_int_equal (atoi (f->domain + 2) % 2, 0);
      assert_non_null (strstr (f->message, "vcpupin 0 is '' live"));
      g_ptr_array_remove_index (findings, i);
      n++;
      continue;
    }
    print_error ("finding: %s %s %s: %s\n", f->domain, f->id, f->subject, f->message);
    i++;
  }
  return n;
}

/* The test driver's host has 16 CPUs in 2 nodes: the tests plan on the
 * topology they name, forced. */
static struct vdp_apply_opts
opts (const char *topo, struct vdp_policy *policy, GPtrArray *warnings)
{
  struct vdp_apply_opts o = { 0 };
  o.host.topology = topo;
  o.host.force = TRUE;
  o.policy = policy;
  o.warnings = warnings;
  o.config = TRUE;
  return o;
}

static void
test_round_trip (void **state)
{
  g_autofree char *path = write_node ("host.xml", 12);
  g_autofree char *uri = g_strconcat ("test://", path, NULL);
  g_autoptr (vdp_conn) c = vdp_conn_open (uri, NULL);
  const char *topo = "package:2 node:1 l3:1 core:8 pu:2";
  g_autoptr (vdp_policy) policy = vdp_policy_builtin ("balanced", NULL);
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) r1 = vdp_results_new ();
  g_autoptr (GPtrArray) r2 = vdp_results_new ();
  g_autoptr (GPtrArray) r3 = vdp_results_new ();
  g_autoptr (GPtrArray) r4 = vdp_results_new ();
  g_autoptr (GHashTable) before = NULL, after_apply = NULL, after_revert = NULL;
  struct vdp_apply_opts o = opts (topo, policy, warnings);
  GHashTableIter it;
  gpointer k, v;

  assert_non_null (c);
  before = snapshot (c);

  /* dry run: nothing changes */
  o.dry_run = TRUE;
  apply_into (host_of (uri), NULL, &o, r1);
  assert_int_equal (vdp_results_count (r1, VDP_RESULT_WOULD_CHANGE), 12);
  after_apply = snapshot (c);
  g_hash_table_iter_init (&it, before);
  while (g_hash_table_iter_next (&it, &k, &v))
    assert_string_equal (v, g_hash_table_lookup (after_apply, k));
  g_clear_pointer (&after_apply, g_hash_table_unref);

  /* apply: every domain tuned and verified, metadata kept by libvirt */
  o.dry_run = FALSE;
  apply_into (host_of (uri), NULL, &o, r2);
  assert_int_equal (vdp_results_count (r2, VDP_RESULT_APPLIED), 12);
  after_apply = snapshot (c);
  g_hash_table_iter_init (&it, after_apply);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    assert_non_null (strstr (v, VDP_XMLNS));
    assert_non_null (strstr (v, "<vcpupin"));
  }

  /* and the host audits clean against the same profile, but for the
   * running guests, which keep their old settings until they restart */
  {
    g_autoptr (GPtrArray) findings = vdp_findings_new ();
    g_autoptr (GPtrArray) failed = vdp_results_new ();
    check_into (host_of (uri), &o, findings, failed);
    assert_int_equal (live_differs (findings), 6);   /* vm0000, vm0002, ... vm0010 run */
    assert_int_equal (findings->len, 0);
    assert_int_equal (failed->len, 0);
  }

  /* applying again changes nothing */
  apply_into (host_of (uri), NULL, &o, r3);
  assert_int_equal (vdp_results_count (r3, VDP_RESULT_UNCHANGED), 12);

  /* revert: the persistent XML is what it was, exactly */
  revert_into (host_of (uri), r4);
  assert_int_equal (vdp_results_count (r4, VDP_RESULT_REVERTED), 12);
  after_revert = snapshot (c);
  g_hash_table_iter_init (&it, before);
  while (g_hash_table_iter_next (&it, &k, &v))
    assert_string_equal (v, g_hash_table_lookup (after_revert, k));
  rm_node (path);
}

static void
test_thousand_domains (void **state)
{
  g_autofree char *path = write_node ("big.xml", 1000);
  g_autofree char *uri = g_strconcat ("test://", path, NULL);
  g_autoptr (vdp_conn) c = vdp_conn_open (uri, NULL);
  g_autofree char *tpath = vdp_test_data ("examples/topologies/192em64t-24n8c2t.xml");
  g_autoptr (vdp_policy) policy = vdp_policy_builtin ("balanced", NULL);
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) r1 = vdp_results_new ();
  g_autoptr (GPtrArray) r2 = vdp_results_new ();
  g_autoptr (GHashTable) before = NULL, after = NULL;
  struct vdp_apply_opts o;
  GHashTableIter it;
  gpointer k, v;

  o = opts (tpath, policy, warnings);
  before = snapshot (c);
  apply_into (host_of (uri), NULL, &o, r1);
  assert_int_equal (vdp_results_count (r1, VDP_RESULT_APPLIED), 1000);
  {
    g_autoptr (GPtrArray) findings = vdp_findings_new ();
    g_autoptr (GPtrArray) failed = vdp_results_new ();
    check_into (host_of (uri), &o, findings, failed);
    assert_int_equal (live_differs (findings), 500);
    assert_int_equal (findings->len, 0);
    assert_int_equal (failed->len, 0);
  }
  revert_into (host_of (uri), r2);
  assert_int_equal (vdp_results_count (r2, VDP_RESULT_REVERTED), 1000);
  after = snapshot (c);
  g_hash_table_iter_init (&it, before);
  while (g_hash_table_iter_next (&it, &k, &v))
    assert_string_equal (v, g_hash_table_lookup (after, k));
  rm_node (path);
}

static void
test_dropped_mapping_restores (void **state)
{
  /* planning for libvirt 10.0 against this 9.0 test driver: the disk
   * <iothreads> mapping is dropped silently; apply must notice, restore the
   * original and fail the domain, never claim success */
  g_autofree char *path = write_node ("host.xml", 3);
  g_autofree char *uri = g_strconcat ("test://", path, NULL);
  g_autoptr (vdp_conn) c = vdp_conn_open (uri, NULL);
  const char *topo = "node:1 core:8 pu:1";
  g_autoptr (vdp_policy) policy = vdp_policy_builtin ("balanced", NULL);
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) r = vdp_results_new ();
  g_autoptr (GHashTable) before = NULL, after = NULL;
  struct vdp_apply_opts o = opts (topo, policy, warnings);
  struct vdp_caps caps;
  GHashTableIter it;
  gpointer k, v;

  vdp_conn_caps (c, &caps);
  if (caps.disk_mapping) {
    skip ();    /* a libvirt that keeps the mapping: nothing to detect */
    return;
  }
  before = snapshot (c);
  o.host.target = "libvirt=10.0,qemu=9.0";
  apply_into (host_of (uri), NULL, &o, r);
  assert_int_equal (vdp_results_count (r, VDP_RESULT_FAILED), 3);
  for (guint i = 0; i < r->len; i++) {
    const struct vdp_result *res = r->pdata[i];
    assert_non_null (strstr (res->message, "mapping dropped"));
    assert_non_null (strstr (res->message, "original restored"));
  }
  after = snapshot (c);
  g_hash_table_iter_init (&it, before);
  while (g_hash_table_iter_next (&it, &k, &v))
    assert_string_equal (v, g_hash_table_lookup (after, k));
  rm_node (path);
}

static void
test_unreachable_and_unknown (void **state)
{
  g_autofree char *path = write_node ("host.xml", 2);
  g_autofree char *uri = g_strconcat ("test://", path, NULL);
  const char *topo = "node:1 core:4 pu:1";
  g_autoptr (vdp_policy) policy = vdp_policy_builtin ("balanced", NULL);
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) r = vdp_results_new ();
  struct vdp_apply_opts o = opts (topo, policy, warnings);
  const char *names[] = { "vm0000", "nosuchvm", NULL };

  apply_into (host_of ("test:///nonexistent/node.xml"), NULL, &o, r);
  apply_into (host_of (uri), names, &o, r);
  assert_int_equal (r->len, 3);
  assert_int_equal (((struct vdp_result *) r->pdata[0])->kind, VDP_RESULT_FAILED);
  assert_null (((struct vdp_result *) r->pdata[0])->domain);
  assert_int_equal (vdp_results_count (r, VDP_RESULT_APPLIED), 1);
  assert_int_equal (vdp_results_count (r, VDP_RESULT_FAILED), 2);
  rm_node (path);
}

static void
test_live (void **state)
{
  /* odd-numbered domains of write_node() are shut off, even ones run; the
   * test driver's host has 8 CPUs: plan for an 8-PU host */
  g_autofree char *path = write_node ("host.xml", 4);
  g_autofree char *uri = g_strconcat ("test://", path, NULL);
  g_autoptr (vdp_conn) c = vdp_conn_open (uri, NULL);
  const char *topo = "package:1 node:1 l3:1 core:4 pu:2";
  g_autoptr (vdp_policy) policy = vdp_policy_builtin ("balanced", NULL);
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) r = vdp_results_new ();
  g_autoptr (GPtrArray) r2 = vdp_results_new ();
  struct vdp_apply_opts o = opts (topo, policy, warnings);
  struct vdp_live_pins p = { 0 };

  o.live = TRUE;
  apply_into (host_of (uri), NULL, &o, r);
  assert_int_equal (vdp_results_count (r, VDP_RESULT_APPLIED), 4);
  for (guint i = 0; i < r->len; i++) {
    const struct vdp_result *res = r->pdata[i];
    assert_string_equal (res->message, i % 2 ? "config; not running" : "config and live");
  }
  /* vm0002 runs (4 vCPUs): vCPUs on the guest PUs, its new IOThreads
   * added live and pinned to the I/O pool, away from the vCPUs */
  assert_true (vdp_conn_get_live_pins (c, "vm0002", &p, NULL));
  assert_int_equal (p.n_vcpus, 4);
  assert_int_equal (hwloc_bitmap_weight (p.vcpus[0]), 6);
  assert_int_equal (p.n_iothreads, 1);     /* libvirt 9.0: one IOThread for its one disk */
  assert_int_equal (hwloc_bitmap_weight (p.iothreads[0]), 2);
  assert_false (hwloc_bitmap_intersects (p.iothreads[0], p.vcpus[0]));
  assert_false (hwloc_bitmap_iszero (p.emulator));
  vdp_live_pins_clear (&p);

  /* again: nothing to do, live or config */
  apply_into (host_of (uri), NULL, &o, r2);
  assert_int_equal (vdp_results_count (r2, VDP_RESULT_UNCHANGED), 4);
  rm_node (path);
}

static void
test_live_wrong_host (void **state)
{
  /* a plan for a bigger host than the one connected: the running guest's
   * pins fail with a clear reason, and everything is put back */
  g_autofree char *path = write_node ("host.xml", 1);
  g_autofree char *uri = g_strconcat ("test://", path, NULL);
  g_autoptr (vdp_conn) c = vdp_conn_open (uri, NULL);
  const char *topo = "package:2 node:1 l3:1 core:16 pu:2";
  g_autoptr (vdp_policy) policy = vdp_policy_builtin ("latency", NULL);
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) r = vdp_results_new ();
  g_autofree char *before = vdp_conn_get_xml (c, "vm0000", TRUE, NULL);
  g_autofree char *after = NULL;
  struct vdp_apply_opts o = opts (topo, policy, warnings);
  const char *names[] = { "vm0000", NULL };

  o.live = TRUE;
  /* vm0000 alone on node 1 of this plan: its PUs are 32 and up */
  hwloc_bitmap_set_range (policy->host_cpus, 0, 31);
  apply_into (host_of (uri), names, &o, r);
  assert_int_equal (vdp_results_count (r, VDP_RESULT_FAILED), 1);
  assert_non_null (strstr (((struct vdp_result *) r->pdata[0])->message, "does not exist"));
  assert_non_null (strstr (((struct vdp_result *) r->pdata[0])->message, "original definition restored"));
  after = vdp_conn_get_xml (c, "vm0000", TRUE, NULL);
  assert_string_equal (before, after);
  rm_node (path);
}

static void
test_define_validates (void **state)
{
  /* an element no libvirt schema knows: refused before anything is defined */
  g_autofree char *path = write_node ("host.xml", 1);
  g_autofree char *uri = g_strconcat ("test://", path, NULL);
  g_autoptr (vdp_conn) c = vdp_conn_open (uri, NULL);
  g_autoptr (GError) err = NULL;
  const char *bad = "<domain type='kvm'><name>fresh</name><memory>1048576</memory>"
                    "<os><type>hvm</type></os><devices><bogus/></devices></domain>";
  const char *good = "<domain type='kvm'><name>fresh</name><memory>1048576</memory>"
                     "<os><type>hvm</type></os></domain>";
  g_autoptr (GPtrArray) names = NULL;

  assert_false (vdp_conn_define (c, bad, TRUE, &err));
  assert_non_null (strstr (err->message, "schema"));
  names = vdp_conn_list (c, VDP_STATE_ANY, NULL);
  assert_int_equal (names->len, 1);             /* nothing was defined */
  assert_true (vdp_conn_define (c, good, TRUE, NULL));
  g_clear_pointer (&names, g_ptr_array_unref);
  names = vdp_conn_list (c, VDP_STATE_ANY, NULL);
  assert_int_equal (names->len, 2);
  rm_node (path);
}

static void
test_caps_from_qemu (void **state)
{
  /* the real QEMU driver, embedded: versions and domain capabilities */
  g_autofree char *root = NULL, *conf_dir = NULL, *conf = NULL, *uri = NULL;
  g_autoptr (vdp_conn) c = NULL;
  g_autoptr (GError) err = NULL;
  struct vdp_caps caps;

  if (getuid () != 0 || !g_file_test ("/usr/bin/qemu-system-x86_64", G_FILE_TEST_EXISTS)) {
    skip ();
    return;
  }
  root = g_dir_make_tmp ("vdpc-XXXXXX", NULL);
  conf_dir = g_build_filename (root, "etc", NULL);
  conf = g_build_filename (conf_dir, "qemu.conf", NULL);
  g_mkdir_with_parents (conf_dir, 0755);
  assert_true (g_file_set_contents (conf, "user = \"root\"\ngroup = \"root\"\n"
                                    "security_driver = \"none\"\n", -1, NULL));
  uri = g_strdup_printf ("qemu:///embed?root=%s", root);
  c = vdp_conn_open (uri, &err);
  if (c == NULL)
    fail_msg ("%s", err->message);
  vdp_conn_caps (c, &caps);
  assert_true (caps.libvirt >= VDP_VERSION (9, 0, 0));
  assert_true (caps.qemu >= VDP_VERSION (7, 0, 0) && caps.qemu != VDP_CAPS_NEWEST_QEMU);
  assert_true (caps.memfd);                    /* from the domain capabilities */
  assert_int_equal (caps.disk_mapping, caps.libvirt >= VDP_VERSION (10, 0, 0)
                                       && caps.qemu >= VDP_VERSION (9, 0, 0));
  g_clear_pointer (&c, vdp_conn_free);
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", root);
    assert_int_equal (system (cmd), 0);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_round_trip),
    cmocka_unit_test (test_thousand_domains),
    cmocka_unit_test (test_dropped_mapping_restores),
    cmocka_unit_test (test_unreachable_and_unknown),
    cmocka_unit_test (test_define_validates),
    cmocka_unit_test (test_live),
    cmocka_unit_test (test_live_wrong_host),
    cmocka_unit_test (test_caps_from_qemu),
  };
  return cmocka_run_group_tests_name ("fleet", tests, NULL, NULL);
}
