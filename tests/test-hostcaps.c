/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the hostcaps module: libvirt capabilities of several real
 * host shapes turned into hwloc topologies, node info counts, node
 * devices and pools, and deciding whether a host is this machine.
 * pu_a and pu_b of intel-snc2.xml are on different nodes of one L3. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "domain.h"
#include "hostcaps.h"
#include "topology.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "vdp-test.h"

#define GiB (1024ULL * 1024 * 1024)

/* What each captured capabilities document must give. */
static const struct {
  const char *file;
  const char *schema;           /* the libvirt schema it is valid against */
  unsigned nodes, packages, cores, pus, l3;
  const char *offline;          /* offline CPUs */
  const char *node_cpus;        /* "0-15,32-47|16-31,48-63": each node's PUs */
  guint64 node0_kib;            /* node 0's memory */
  unsigned pu, sibling;         /* @pu's core also holds @sibling (equal: no SMT) */
  unsigned pu_a, pu_b;          /* ... share an L3 group */
  int pu_c;                     /* ... and @pu_c is in another one (-1: one group) */
  int distance;                 /* node 0 -> node 1 (hwloc distances), -1 none */
} cases[] = {
  { "two-socket-smt.xml", "installed", 2, 2, 32, 64, 2, "",
    "0-15,32-47|16-31,48-63", 97681340, 5, 37, 3, 40, 20, 21 },
  { "amd-multi-l3.xml", "installed", 2, 1, 16, 32, 4, "",
    "0-7,16-23|8-15,24-31", 65763412, 0, 16, 1, 19, 4, 11 },
  { "cpuless-nodes.xml", "installed", 4, 2, 16, 32, 2, "",
    "0-7,16-23|8-15,24-31||", 131525484, 9, 25, 0, 23, 8, 21 },
  { "offline-cpus.xml", "installed", 1, 1, 5, 9, 1, "4,7,10",
    "0-3,5-6,8-9,11", 32734632, 1, 1, 0, 11, -1, -1 },
  { "intel-snc2.xml", "installed", 4, 2, 16, 32, 2, "",
    "0-3,16-19|4-7,20-23|8-11,24-27|12-15,28-31", 65536000, 5, 21, 0, 7, 8, 11 },
  { "arm-clusters.xml", "shipped", 2, 1, 48, 48, 2, "",
    "0-23|24-47", 132364032, 7, 7, 0, 23, 24, 12 },
  { "test-default.xml", "installed", 2, 2, 16, 16, 0, "",
    "0-7|8-15", 2097152, 3, 3, 0, 7, 8, -1 },
};

static char *
read_fixture (const char *file)
{
  g_autofree char *rel = g_strconcat ("tests/data/caps/", file, NULL);
  g_autofree char *path = vdp_test_data (rel);
  char *text = NULL;

  assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

static struct vdp_topology *
load (const char *file, struct vdp_hostcaps **caps_out)
{
  g_autofree char *text = read_fixture (file);
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_hostcaps) caps = vdp_hostcaps_parse (text, file, &err);
  g_autofree char *xml = NULL;
  struct vdp_topology *t;

  if (caps == NULL)
    fail_msg ("%s: %s", file, err->message);
  xml = vdp_hostcaps_to_hwloc_xml (caps, &err);
  assert_non_null (xml);
  t = vdp_topology_load_xml_buffer (xml, VDP_TOPOLOGY_CAPABILITIES, file, &err);
  if (t == NULL)
    fail_msg ("%s: %s", file, err->message);
  if (caps_out)
    *caps_out = g_steal_pointer (&caps);
  return t;
}

static void
test_fixtures_valid (void **state)
{
  g_autofree char *shipped_path = vdp_test_data ("tests/data/libvirt-schemas/capability.rng");
  xmlRelaxNGPtr installed = vdp_test_schema_load (LIBVIRT_SCHEMA_DIR "/capability.rng");
  xmlRelaxNGPtr shipped = vdp_test_schema_load (shipped_path);

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *text = read_fixture (cases[i].file);
    g_autoptr (xmlDoc) doc = vdp_xml_read_memory (text, cases[i].file, NULL);
    g_autofree char *why = NULL;
    gboolean ok;

    assert_non_null (doc);
    ok = vdp_test_schema_valid (strcmp (cases[i].schema, "installed") == 0 ? installed : shipped,
                                doc, &why);
    if (!ok)
      fail_msg ("%s: %s", cases[i].file, why);
  }
  xmlRelaxNGFree (installed);
  xmlRelaxNGFree (shipped);
}

static int
l3_of (const struct vdp_topology *t, unsigned pu)
{
  const struct vdp_pu *p = vdp_topology_find_pu (t, pu);
  assert_non_null (p);
  return p->l3;
}

static void
test_shapes (void **state)
{
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (vdp_topology) t = load (cases[i].file, NULL);
    g_auto (GStrv) nodes = g_strsplit (cases[i].node_cpus, "|", -1);
    g_autofree char *offline = vdp_cpuset_format (t->offline);
    struct vdp_topology_counts c;
    const struct vdp_pu *pu;
    struct hwloc_distances_s *dist[1];
    unsigned nr = 1;

    print_message ("# %s\n", cases[i].file);
    vdp_topology_get_counts (t, &c);
    assert_int_equal (c.nodes, cases[i].nodes);
    assert_int_equal (c.packages, cases[i].packages);
    assert_int_equal (c.cores, cases[i].cores);
    assert_int_equal (c.pus, cases[i].pus);
    assert_int_equal (c.l3, cases[i].l3);
    assert_string_equal (offline, cases[i].offline);
    /* each node has its own CPUs and only them; CPU-less nodes none */
    assert_int_equal (g_strv_length (nodes), t->n_nodes);
    for (size_t n = 0; n < t->n_nodes; n++) {
      g_autofree char *cpus = vdp_cpuset_format (t->nodes[n].cpuset);
      assert_int_equal (t->nodes[n].id, n);
      assert_string_equal (cpus, nodes[n]);
      assert_true (t->nodes[n].memory > 0);
    }
    for (size_t p = 0; p < t->n_pus; p++) {
      const struct vdp_node *node = vdp_topology_find_node (t, (unsigned) t->pus[p].node);
      assert_non_null (node);
      assert_true (hwloc_bitmap_isset (node->cpuset, t->pus[p].id));
    }
    assert_int_equal (t->nodes[0].memory, cases[i].node0_kib * 1024);
    /* SMT siblings share a core, CPU ids as the host numbers them */
    pu = vdp_topology_find_pu (t, cases[i].pu);
    assert_non_null (pu);
    assert_true (hwloc_bitmap_isset (t->cores[pu->core].pus, cases[i].sibling));
    assert_int_equal (hwloc_bitmap_weight (t->cores[pu->core].pus),
                      cases[i].pu == cases[i].sibling ? 1 : 2);
    /* cache banks (or packages where there are none) group the PUs */
    assert_int_equal (l3_of (t, cases[i].pu_a), l3_of (t, cases[i].pu_b));
    if (cases[i].pu_c >= 0)
      assert_int_not_equal (l3_of (t, cases[i].pu_a), l3_of (t, (unsigned) cases[i].pu_c));
    /* NUMA distances, in hwloc */
    if (cases[i].distance < 0)
      continue;
    assert_int_equal (hwloc_distances_get_by_type (t->hw, HWLOC_OBJ_NUMANODE, &nr, dist, 0, 0), 0);
    assert_int_equal (nr, 1);
    assert_int_equal (dist[0]->nbobjs, t->n_nodes);
    assert_int_equal (dist[0]->values[1], (guint64) cases[i].distance);
    assert_int_equal (dist[0]->values[0], 10);
    hwloc_distances_release (t->hw, dist[0]);
  }
}

static void
test_parsed_model (void **state)
{
  g_autoptr (vdp_hostcaps) caps = NULL;
  g_autoptr (vdp_topology) t = load ("cpuless-nodes.xml", &caps);
  const struct vdp_hostcaps_cell *cell2 = &g_array_index (caps->cells, struct vdp_hostcaps_cell, 2);
  const struct vdp_hostcaps_cpu *cpu17 = &g_array_index (caps->cpus, struct vdp_hostcaps_cpu, 17);
  g_autofree char *sib = vdp_cpuset_format (cpu17->siblings);

  assert_string_equal (caps->uuid, "a1b2c3d4-0000-4000-8000-0242ac120002");
  assert_string_equal (caps->arch, "x86_64");
  assert_int_equal (caps->cells->len, 4);
  assert_int_equal (caps->cpus->len, 32);
  assert_true (hwloc_bitmap_iszero (cell2->cpus));
  assert_int_equal (cell2->memory, 134217728ULL * 1024);
  assert_int_equal (cell2->n_distances, 4);
  assert_int_equal (cpu17->id, 17);
  assert_int_equal (cpu17->socket, 0);
  assert_int_equal (cpu17->core, 1);
  assert_string_equal (sib, "1,17");
  assert_int_equal (caps->caches->len, 2);
  assert_int_equal (g_array_index (caps->caches, struct vdp_hostcaps_cache, 0).size, 60 * 1024 * 1024);
  /* the PUs' L3s are the banks, with their sizes */
  assert_string_equal (t->l3[0].kind, "L3");
  assert_int_equal (t->l3[0].size, 60 * 1024 * 1024);

  /* offline CPUs are listed without ids, and are not PUs */
  g_clear_pointer (&caps, vdp_hostcaps_free);
  g_clear_pointer (&t, vdp_topology_free);
  t = load ("offline-cpus.xml", &caps);
  assert_false (g_array_index (caps->cpus, struct vdp_hostcaps_cpu, 4).online);
  assert_true (g_array_index (caps->cpus, struct vdp_hostcaps_cpu, 5).online);
  assert_null (vdp_topology_find_pu (t, 4));

  /* the ARM host's clusters are parsed; cores are told apart by them too */
  g_clear_pointer (&caps, vdp_hostcaps_free);
  g_clear_pointer (&t, vdp_topology_free);
  t = load ("arm-clusters.xml", &caps);
  assert_int_equal (g_array_index (caps->cpus, struct vdp_hostcaps_cpu, 9).cluster, 2);
}

static void
test_round_trip (void **state)
{
  /* the XML export of a topology from capabilities loads back the same */
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (vdp_topology) t = load (cases[i].file, NULL);
    g_autofree char *xml = vdp_topology_export_xml (t);
    g_autoptr (vdp_topology) back = vdp_topology_load_xml_buffer (xml, VDP_TOPOLOGY_XML, "export", NULL);
    struct vdp_topology_counts a, b;

    assert_non_null (back);
    vdp_topology_get_counts (t, &a);
    vdp_topology_get_counts (back, &b);
    assert_memory_equal (&a, &b, sizeof (a));
  }
}

static void
test_devices (void **state)
{
  /* block devices libvirt knows, under their PCI controller's node */
  g_autofree char *text = read_fixture ("two-socket-smt.xml");
  g_autoptr (vdp_hostcaps) caps = vdp_hostcaps_parse (text, "caps", NULL);
  struct vdp_hostcaps_device devs[] = {
    { (char *) "nvme0n1", (char *) "0000:3b:00.0", 0x010802, 0x144d, 0xa808, 1 },
    { (char *) "nvme0n2", (char *) "0000:3b:00.0", 0x010802, 0x144d, 0xa808, 1 },
    { (char *) "sda", (char *) "0000:00:17.0", 0x010601, 0x8086, 0xa182, 0 },
    { (char *) "sdb", NULL, 0, 0, 0, -1 },
  };
  g_autofree char *xml = NULL;
  g_autoptr (vdp_topology) t = NULL;

  for (size_t i = 0; i < G_N_ELEMENTS (devs); i++) {
    struct vdp_hostcaps_device d = devs[i];
    d.name = g_strdup (d.name);
    d.pci = g_strdup (d.pci);
    g_array_append_val (caps->devices, d);
  }
  xml = vdp_hostcaps_to_hwloc_xml (caps, NULL);
  t = vdp_topology_load_xml_buffer (xml, VDP_TOPOLOGY_CAPABILITIES, "caps", NULL);
  assert_non_null (t);
  assert_int_equal (t->n_devices, 4);
  assert_int_equal (vdp_topology_find_device (t, "nvme0n1")->node, 1);
  assert_int_equal (vdp_topology_find_device (t, "nvme0n2")->node, 1);
  assert_string_equal (vdp_topology_find_device (t, "nvme0n2")->pci, "0000:3b:00.0");
  assert_int_equal (vdp_topology_find_device (t, "sda")->node, 0);
  assert_int_equal (vdp_topology_find_device (t, "sdb")->node, -1);
}

static void
test_from_counts (void **state)
{
  static const struct {
    unsigned nodes, sockets, cores, threads, cpus;
    guint64 memory;
    unsigned want_packages, want_cores, want_pus, want_offline;
    const char *node1;
  } c[] = {
    { 2, 2, 4, 2, 32, 64 * GiB, 4, 16, 32, 0, "16-31" },
    { 4, 1, 6, 2, 48, 64 * GiB, 4, 24, 48, 0, "12-23" },
    { 1, 1, 4, 2, 6, 0, 1, 3, 6, 2, NULL },
    { 2, 1, 2, 1, 6, 8 * GiB, 2, 6, 6, 0, "2-5" },
    { 3, 1, 2, 1, 6, 10 * GiB + 1, 3, 6, 6, 0, "2-3" },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (c); i++) {
    g_autoptr (vdp_hostcaps) caps = vdp_hostcaps_from_counts (c[i].nodes, c[i].sockets, c[i].cores,
                                                              c[i].threads, c[i].cpus, c[i].memory);
    g_autofree char *xml = vdp_hostcaps_to_hwloc_xml (caps, NULL);
    g_autoptr (vdp_topology) t = vdp_topology_load_xml_buffer (xml, VDP_TOPOLOGY_NODEINFO, "n", NULL);
    struct vdp_topology_counts k;

    assert_non_null (t);
    vdp_topology_get_counts (t, &k);
    assert_int_equal (k.nodes, c[i].nodes);
    assert_int_equal (k.packages, c[i].want_packages);
    assert_int_equal (k.cores, c[i].want_cores);
    assert_int_equal (k.pus, c[i].want_pus);
    assert_int_equal (k.pus_offline, c[i].want_offline);
    assert_int_equal (t->nodes[0].memory, c[i].memory / c[i].nodes);
    {
      guint64 sum = 0;
      for (size_t n = 0; n < t->n_nodes; n++)
        sum += t->nodes[n].memory;
      assert_int_equal (sum, c[i].memory);
    }
    if (c[i].node1) {
      g_autofree char *s = vdp_cpuset_format (t->nodes[1].cpuset);
      assert_string_equal (s, c[i].node1);
    }
  }
}

static void
test_bad_capabilities (void **state)
{
  static const struct { const char *xml, *says; } bad[] = {
    { "<capabilities><host>", "cannot parse" },
    { "<domain/>", "not <capabilities>" },
    { "<capabilities><host><topology><cells num='1'><cell id='0'><cpus num='2'>"
      "<cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0'/>"
      "<cpu id='0' socket_id='0' die_id='0' core_id='1' siblings='0'/></cpus></cell></cells>"
      "</topology></host></capabilities>", "CPU 0 is listed twice" },
    { "<capabilities><host><topology><cells num='1'><cell id='0'><cpus num='1'>"
      "<cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0-x'/></cpus></cell></cells>"
      "</topology></host></capabilities>", "siblings" },
    { "<capabilities><host><topology><cells num='1'><cell id='0'>"
      "<memory unit='parsecs'>12</memory></cell></cells></topology></host></capabilities>",
      "invalid memory '12 parsecs'" },
    { "<capabilities><host><topology><cells num='1'><cell id='x'/></cells></topology></host>"
      "</capabilities>", "invalid id 'x'" },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) err = NULL;
    g_autoptr (vdp_hostcaps) caps = vdp_hostcaps_parse (bad[i].xml, "caps.xml", &err);
    assert_null (caps);
    assert_non_null (strstr (err->message, bad[i].says));
    assert_non_null (strstr (err->message, "caps.xml"));
  }
  {
    /* a host with no online CPU has no topology */
    g_autoptr (GError) err = NULL;
    g_autoptr (vdp_hostcaps) caps = vdp_hostcaps_parse ("<capabilities><host/></capabilities>",
                                                        "empty", &err);
    assert_non_null (caps);
    assert_null (vdp_hostcaps_to_hwloc_xml (caps, &err));
    assert_non_null (strstr (err->message, "no online CPU"));
  }
}

static void
test_nodedev_and_pool (void **state)
{
  struct vdp_nodedev d;
  struct vdp_pool_info p;
  g_autofree char *type = NULL;

  assert_true (vdp_nodedev_parse (
    "<device><name>block_nvme0n1_S4EWNX0R123456</name>"
    "<path>/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/nvme/nvme0/nvme0n1</path>"
    "<parent>pci_0000_3b_00_0</parent><capability type='storage'><block>/dev/nvme0n1</block>"
    "<drive_type>disk</drive_type><model>Samsung SSD 970 EVO Plus 1TB</model>"
    "<serial>S4EWNX0R123456</serial><size>1000204886016</size>"
    "<logical_block_size>512</logical_block_size><num_blocks>1953525168</num_blocks>"
    "</capability></device>", &d, NULL));
  assert_string_equal (d.name, "block_nvme0n1_S4EWNX0R123456");
  assert_string_equal (d.parent, "pci_0000_3b_00_0");
  assert_string_equal (d.block, "/dev/nvme0n1");
  assert_false (d.pci);
  vdp_nodedev_clear (&d);

  assert_true (vdp_nodedev_parse (
    "<device><name>pci_0000_3b_00_0</name><parent>pci_0000_3a_00_0</parent>"
    "<driver><name>nvme</name></driver><capability type='pci'><class>0x010802</class>"
    "<domain>0</domain><bus>59</bus><slot>0</slot><function>0</function>"
    "<product id='0xa808'>NVMe SSD Controller SM981/PM981/PM983</product>"
    "<vendor id='0x144d'>Samsung Electronics Co Ltd</vendor>"
    "<iommuGroup number='30'><address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/>"
    "</iommuGroup><numa node='1'/></capability></device>", &d, NULL));
  assert_true (d.pci);
  assert_string_equal (d.pci_address, "0000:3b:00.0");
  assert_int_equal (d.pci_class, 0x010802);
  assert_int_equal (d.pci_vendor, 0x144d);
  assert_int_equal (d.pci_device, 0xa808);
  assert_int_equal (d.node, 1);
  assert_null (d.block);
  vdp_nodedev_clear (&d);

  assert_false (vdp_nodedev_parse ("<device/>", &d, NULL));
  vdp_nodedev_clear (&d);

  assert_true (vdp_pool_parse ("<pool type='logical'><name>vg0</name><source>"
                               "<device path='/dev/sdc'/><device path='/dev/sdd'/><name>vg0</name>"
                               "<format type='lvm2'/></source><target><path>/dev/vg0</path>"
                               "</target></pool>", &p, NULL));
  assert_string_equal (p.type, "logical");
  assert_string_equal (p.name, "vg0");
  assert_string_equal (p.target, "/dev/vg0");
  assert_int_equal (g_strv_length (p.devices), 2);
  assert_string_equal (p.devices[1], "/dev/sdd");
  vdp_pool_info_clear (&p);

  type = vdp_volume_type ("<volume type='block'><name>lv1</name></volume>");
  assert_string_equal (type, "block");
}

static void
test_identity (void **state)
{
  g_auto (VdpBitmap) cpus = vdp_cpuset_parse ("0-7", NULL);
  g_auto (VdpBitmap) other = vdp_cpuset_parse ("0-15", NULL);
  uint64_t here_mem[] = { 16 * GiB, 16 * GiB };
  uint64_t close_mem[] = { 16 * GiB - 10 * 1024 * 1024, 16 * GiB };
  uint64_t far_mem[] = { 15 * GiB, 16 * GiB };
  const char *uuids[] = { "4c4c4544-0047-3710-8035-b6c04f4b3132", NULL };
  const struct vdp_host_identity here = { false, NULL, "kvm1", cpus, 2, here_mem };
  static const struct {
    struct vdp_host_identity remote;
    bool same;
    const char *says;
  } c[] = {
    { { true, NULL, "kvm1", NULL, 0, NULL }, false, "test driver" },
    { { false, "4C4C4544-0047-3710-8035-B6C04F4B3132", "other", NULL, 0, NULL }, true, "UUID" },
    { { false, "00000000-0000-0000-0000-000000000001", "kvm2", NULL, 0, NULL }, false, "hostname 'kvm2'" },
    { { false, NULL, "kvm1", NULL, 2, NULL }, false, "not its CPUs" },
  };
  char *why = NULL;

  for (size_t i = 0; i < G_N_ELEMENTS (c); i++) {
    assert_int_equal (vdp_host_identity_same (&c[i].remote, &here, uuids, &why), c[i].same);
    assert_non_null (strstr (why, c[i].says));
    g_clear_pointer (&why, g_free);
  }
  {
    /* the same hostname: the CPUs and each node's memory decide */
    struct vdp_host_identity r = { false, "00000000-0000-0000-0000-000000000002", "kvm1", cpus, 2,
                                   close_mem };
    assert_true (vdp_host_identity_same (&r, &here, uuids, &why));
    g_clear_pointer (&why, g_free);
    r.hostname = "KVM1.example.com";       /* libvirt's FQDN, gethostname's short name */
    assert_true (vdp_host_identity_same (&r, &here, uuids, &why));
    g_clear_pointer (&why, g_free);
    r.hostname = "kvm1.other.example.com";
    assert_true (vdp_host_identity_same (&r, &here, uuids, &why));
    g_clear_pointer (&why, g_free);
    r.hostname = "kvm10";
    assert_false (vdp_host_identity_same (&r, &here, uuids, &why));
    g_clear_pointer (&why, g_free);
    r.hostname = "kvm1";
    r.cell_memory = far_mem;
    assert_false (vdp_host_identity_same (&r, &here, uuids, &why));
    assert_non_null (strstr (why, "memory of node 0"));
    g_clear_pointer (&why, g_free);
    r.cell_memory = here_mem;
    r.cpus = other;
    assert_false (vdp_host_identity_same (&r, &here, uuids, &why));
    g_clear_pointer (&why, g_free);
    r.cpus = cpus;
    r.n_cells = 1;
    assert_false (vdp_host_identity_same (&r, &here, uuids, &why));
    assert_non_null (strstr (why, "NUMA nodes"));
    g_clear_pointer (&why, g_free);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_fixtures_valid),
    cmocka_unit_test (test_shapes),
    cmocka_unit_test (test_parsed_model),
    cmocka_unit_test (test_round_trip),
    cmocka_unit_test (test_devices),
    cmocka_unit_test (test_from_counts),
    cmocka_unit_test (test_bad_capabilities),
    cmocka_unit_test (test_nodedev_and_pool),
    cmocka_unit_test (test_identity),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
