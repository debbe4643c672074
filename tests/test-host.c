/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the host module: hosts-file lines, checking a given
 * topology against a host, and hosts of libvirt's test driver (topology
 * from capabilities or node info, stack, disks, one object per URI). */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <glib/gstdio.h>

#include "domain.h"
#include "host.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"
#include "vdp-test.h"

#define GiB (1024ULL * 1024 * 1024)

static void
test_spec_lines (void **state)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_host_spec) s = NULL;

  assert_null (vdp_host_spec_parse ("   ", "h:1", "/etc/vdp", &err));
  assert_null (err);
  assert_null (vdp_host_spec_parse ("# a comment", "h:2", "/etc/vdp", &err));
  assert_null (err);

  s = vdp_host_spec_parse ("qemu+ssh://kvm1/system", "h:3", "/etc/vdp", &err);
  assert_non_null (s);
  assert_string_equal (s->uri, "qemu+ssh://kvm1/system");
  assert_null (s->topology);
  assert_int_equal (s->devices->len, 0);
  assert_string_equal (s->origin, "h:3");
  g_clear_pointer (&s, vdp_host_spec_free);

  /* a relative topology file is the hosts file's neighbour; device hints */
  s = vdp_host_spec_parse ("  qemu+ssh://kvm2/system topology=kvm2.xml device=/var/lib/images=nvme0n1 "
                           "device=/dev/vg0=/dev/sdc   # the NVMe host", "h:4", "/etc/vdp", &err);
  assert_non_null (s);
  assert_string_equal (s->topology, "/etc/vdp/kvm2.xml");
  assert_int_equal (s->devices->len, 2);
  assert_string_equal (g_array_index (s->devices, struct vdp_device_hint, 0).path, "/var/lib/images");
  assert_string_equal (g_array_index (s->devices, struct vdp_device_hint, 0).device, "nvme0n1");
  assert_string_equal (g_array_index (s->devices, struct vdp_device_hint, 1).device, "sdc");
  g_clear_pointer (&s, vdp_host_spec_free);

  /* quoted synthetic descriptions stay synthetic; absolute files stay */
  s = vdp_host_spec_parse ("test:///default topology='node:2 core:8 pu:1'", "h:5", "/etc/vdp", &err);
  assert_string_equal (s->topology, "node:2 core:8 pu:1");
  g_clear_pointer (&s, vdp_host_spec_free);
  s = vdp_host_spec_parse ("test:///default topology=/srv/t.xml", "h:6", "/etc/vdp", &err);
  assert_string_equal (s->topology, "/srv/t.xml");
  g_clear_pointer (&s, vdp_host_spec_free);

  /* bad items: usage errors naming the line and the item */
  {
    static const struct { const char *line, *says; } bad[] = {
      { "test:///default speed=fast", "unknown item 'speed=fast'" },
      { "test:///default topology=a.xml topology=b.xml", "unknown item 'topology=b.xml'" },
      { "test:///default device=images=sda", "invalid --device 'images=sda'" },
      { "test:///default topology='a.xml", "cannot split" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS (bad); i++) {
      g_clear_error (&err);
      assert_null (vdp_host_spec_parse (bad[i].line, "hosts:9", "/etc", &err));
      assert_non_null (err);
      assert_int_equal (err->code, VDP_ERROR_USAGE);
      assert_non_null (strstr (err->message, "hosts:9"));
      assert_non_null (strstr (err->message, bad[i].says));
    }
  }
}

static void
test_spec_file (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("vdp-host-XXXXXX", NULL);
  g_autofree char *good = g_build_filename (dir, "fleet", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad", NULL);
  g_autoptr (GPtrArray) specs = g_ptr_array_new_with_free_func ((GDestroyNotify) vdp_host_spec_free);
  g_autoptr (GError) err = NULL;
  g_autofree char *want = g_build_filename (dir, "t.xml", NULL);

  assert_true (g_file_set_contents (good, "# fleet\ntest:///default\n\ntest:///x topology=t.xml\n", -1, NULL));
  assert_true (g_file_set_contents (bad, "test:///default\ntest:///x bogus\n", -1, NULL));
  assert_true (vdp_host_specs_read (good, specs, &err));
  assert_int_equal (specs->len, 2);
  assert_string_equal (((struct vdp_host_spec *) specs->pdata[1])->topology, want);
  assert_false (vdp_host_specs_read (bad, specs, &err));
  assert_non_null (strstr (err->message, ":2: unknown item 'bogus'"));
  g_clear_error (&err);
  assert_false (vdp_host_specs_read ("/nonexistent/hosts", specs, &err));
  assert_non_null (strstr (err->message, "cannot read --hosts file '/nonexistent/hosts'"));
  g_unlink (good);
  g_unlink (bad);
  g_rmdir (dir);
}

static void
test_check_topology (void **state)
{
  /* 2 nodes of 8 cores, 2 threads, 16 GiB each */
  g_autoptr (vdp_topology) t = vdp_topology_load ("node:2(memory=17179869184) core:8 pu:2", NULL);
  g_autoptr (vdp_topology) nomem = vdp_topology_load ("node:2 core:8 pu:2", NULL);
  g_auto (VdpBitmap) all = vdp_cpuset_parse ("0-31", NULL);
  g_auto (VdpBitmap) shifted = vdp_cpuset_parse ("1-32", NULL);
  struct vdp_node_info info = { .cpus = 32, .nodes = 2, .memory_kib = 32 * 1024 * 1024 };
  static const struct {
    unsigned cpus, nodes, cells;
    guint64 info_gib, cells_gib;
    gboolean shifted, ok;
    const char *says;
  } c[] = {
    { 32, 2, 2, 32, 32, FALSE, TRUE, NULL },
    { 32, 2, 0, 32, 0, FALSE, TRUE, NULL },              /* node info only */
    { 32, 2, 2, 128, 33, FALSE, TRUE, NULL },            /* the cells agree */
    { 32, 2, 2, 31, 0, FALSE, TRUE, NULL },              /* node info agrees, within 10% */
    { 24, 2, 2, 32, 32, FALSE, FALSE, "it has 32 CPUs, the host 24" },
    { 32, 1, 0, 32, 0, FALSE, FALSE, "2 NUMA nodes, the host 1" },
    { 32, 2, 4, 32, 32, FALSE, FALSE, "2 NUMA nodes, the host 4" },
    { 32, 2, 2, 64, 64, FALSE, FALSE, "32.0 GiB of memory, the host 64.0 GiB" },
    { 32, 2, 2, 32, 32, TRUE, FALSE, "CPUs 0-31, the host 1-32" },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (c); i++) {
    g_autoptr (GError) err = NULL;
    gboolean ok;

    info.cpus = c[i].cpus;
    info.nodes = c[i].nodes;
    info.memory_kib = c[i].info_gib * 1024 * 1024;
    ok = vdp_host_check_topology (t, "'t.xml'", "test:///h", &info, c[i].cells, c[i].cells_gib * GiB,
                                  c[i].cells ? (c[i].shifted ? shifted : all) : NULL, &err);
    if (ok != c[i].ok)
      fail_msg ("case %zu: %s", i, err ? err->message : "accepted");
    if (!ok) {
      if (strstr (err->message, c[i].says) == NULL)
        fail_msg ("case %zu: %s", i, err->message);
      assert_non_null (strstr (err->message, "topology 't.xml' does not match host 'test:///h'"));
      assert_non_null (strstr (err->message, "--force"));
    }
  }
  /* a topology of unknown memory is checked on CPUs and nodes only */
  info.cpus = 32;
  info.nodes = 2;
  assert_true (vdp_host_check_topology (nomem, "'n'", "test:///h", &info, 0, 0, NULL, NULL));
}

/* A node file for the test driver: @cpu is its <cpu> block, @extra more. */
static char *
write_host (const char *cpu, const char *extra)
{
  g_autofree char *dir = g_dir_make_tmp ("vdp-host-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "node.xml", NULL);
  g_autofree char *xml = g_strdup_printf (
    "<node>%s%s<domain type='kvm'><name>g</name><memory unit='GiB'>1</memory><vcpu>2</vcpu>"
    "<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>"
    "<source file='/srv/images/g.raw'/><target dev='vda' bus='virtio'/></disk>"
    "<disk type='block' device='disk'><source dev='/dev/sdc'/><target dev='vdb' bus='virtio'/>"
    "</disk></devices></domain></node>", cpu, extra);

  assert_true (g_file_set_contents (path, xml, -1, NULL));
  return g_strconcat ("test://", path, NULL);
}

static void
rm_host (const char *uri)
{
  g_autofree char *dir = g_path_get_dirname (uri + strlen ("test://"));
  g_autofree char *node = g_build_filename (dir, "node.xml", NULL);
  g_unlink (node);
  g_rmdir (dir);
}

static void
test_hosts (void **state)
{
  g_autoptr (vdp_host_spec) dspec = vdp_host_spec_new ("test:///default", "-c");
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_host) d = vdp_host_open (dspec, NULL, &err);
  g_autoptr (vdp_host) again = vdp_host_open (dspec, NULL, &err);
  const struct vdp_topology *t;
  const char *why = NULL, *origin = NULL;
  struct vdp_caps caps;
  gboolean validate;
  unsigned n;
  const gint64 *free_mem;

  /* one host object per URI */
  assert_non_null (d);
  assert_ptr_equal (d, again);
  assert_false (vdp_host_is_local (d, &why));
  assert_non_null (strstr (why, "test driver"));
  t = vdp_host_topology (d, &err);
  assert_non_null (t);
  assert_int_equal (vdp_host_topology_source (d), VDP_HOST_TOPOLOGY_CAPABILITIES);
  assert_int_equal (t->kind, VDP_TOPOLOGY_CAPABILITIES);
  assert_int_equal (t->n_pus, 16);
  assert_int_equal (t->n_nodes, 2);
  assert_ptr_equal (vdp_host_topology (again, NULL), t);
  free_mem = vdp_host_free_memory (d, &n);
  assert_int_equal (n, 2);
  assert_true (free_mem[0] > 0 && free_mem[1] > 0);
  /* the stack: the connection's, or --target's */
  assert_true (vdp_host_stack (d, &caps, &validate, &origin, &err));
  assert_non_null (strstr (origin, "test driver"));
  assert_true (validate);

  {
    struct vdp_host_opts o = { .target = "libvirt=10.0,qemu=9.0" };
    g_autofree char *uri = write_host ("<cpu><nodes>1</nodes><sockets>2</sockets><cores>2</cores>"
                                       "<threads>1</threads><active>4</active></cpu>"
                                       "<memory>8388608</memory>", "");
    g_autoptr (vdp_host_spec) s = vdp_host_spec_new (uri, "-c");
    g_autoptr (vdp_host) h = vdp_host_open (s, &o, &err);
    g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);

    t = vdp_host_topology (h, &err);
    assert_non_null (t);
    assert_int_equal (vdp_host_topology_source (h), VDP_HOST_TOPOLOGY_NODEINFO);
    assert_int_equal (t->n_pus, 4);
    assert_int_equal (t->n_packages, 2);
    assert_int_equal (t->nodes[0].memory, 8 * GiB);
    vdp_host_take_warnings (h, warnings);
    assert_int_equal (warnings->len, 1);
    assert_non_null (strstr (warnings->pdata[0], "synthetic topology"));
    vdp_host_take_warnings (h, warnings);
    assert_int_equal (warnings->len, 1);    /* said once */
    assert_true (vdp_host_stack (h, &caps, &validate, &origin, &err));
    assert_true (caps.disk_mapping);
    assert_false (validate);                /* the 9.0 test driver's schema lacks it */
    assert_string_equal (origin, "--target libvirt=10.0,qemu=9.0");
    g_clear_pointer (&h, vdp_host_free);
    rm_host (uri);
  }
}

static void
test_remote_disks (void **state)
{
  /* /dev/sdc under a PCI controller on node 1; /srv/images libvirt cannot place */
  g_autofree char *uri = write_host (
    "<cpu><nodes>2</nodes><sockets>1</sockets><cores>2</cores><threads>2</threads>"
    "<active>8</active></cpu><memory>8388608</memory>",
    "<device><name>pci_0000_5e_00_0</name><parent>computer</parent><capability type='pci'>"
    "<class>0x010802</class><domain>0</domain><bus>94</bus><slot>0</slot><function>0</function>"
    "<product id='0xa808'>NVMe</product><vendor id='0x144d'>Samsung</vendor><numa node='1'/>"
    "</capability></device><device><name>block_sdc_x</name><parent>pci_0000_5e_00_0</parent>"
    "<capability type='storage'><block>/dev/sdc</block><drive_type>disk</drive_type>"
    "<model>M</model><serial>x</serial><size>1000</size></capability></device>");
  g_autoptr (vdp_host_spec) s = vdp_host_spec_new (uri, "-c");
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (vdp_host) h = vdp_host_open (s, NULL, &err);
  g_autofree char *xml = vdp_conn_get_xml (vdp_host_conn (h), "g", TRUE, &err);
  g_autoptr (xmlDoc) doc = vdp_xml_read_memory (xml, "g", &err);
  g_autoptr (vdp_domain) dom = vdp_domain_parse (doc, "g", &err);
  struct vdp_disk_hint *hints;

  assert_non_null (vdp_host_topology (h, &err));
  hints = vdp_host_disk_hints (h, dom, warnings);
  assert_int_equal (hints[0].node, -1);
  assert_non_null (strstr (hints[0].locality, "knows no storage volume or block device"));
  assert_int_equal (hints[1].node, 1);
  assert_int_equal (hints[1].odirect, 1);
  vdp_disk_hints_free (hints, dom->n_disks);
  vdp_host_take_warnings (h, warnings);
  assert_int_equal (warnings->len, 2);
  assert_non_null (strstr (warnings->pdata[1], "the NUMA node of 1 disk source (e.g. '/srv/images/g.raw')"));
  g_clear_pointer (&h, vdp_host_free);

  /* a hint places what libvirt cannot */
  {
    struct vdp_device_hint hint = { (char *) "/srv/images", (char *) "sdc" };
    struct vdp_host_opts o = { .hints = &hint, .n_hints = 1 };
    g_autoptr (vdp_host) hh = vdp_host_open (s, &o, &err);
    assert_non_null (vdp_host_topology (hh, &err));
    hints = vdp_host_disk_hints (hh, dom, warnings);
    assert_int_equal (hints[0].node, 1);
    vdp_disk_hints_free (hints, dom->n_disks);
  }
  rm_host (uri);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_spec_lines),
    cmocka_unit_test (test_spec_file),
    cmocka_unit_test (test_check_topology),
    cmocka_unit_test (test_hosts),
    cmocka_unit_test (test_remote_disks),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
