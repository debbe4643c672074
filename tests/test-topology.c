/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the topology module: every saved hwloc topology, synthetic
 * descriptions, bad input, and disk locality over a fabricated sysfs. */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib/gstdio.h>

#include "topology.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"

/* $VDP_SRCDIR/REL: a file of the source tree (g_free). */
static char *
data_path (const char *rel)
{
  const char *dir = g_getenv ("VDP_SRCDIR");
  return g_build_filename (dir ? dir : ".", rel, NULL);
}

/* hwloc's own counts: an independent load with default flags. */
struct hw_counts { int nodes, packages, cores, pus, l3, complete_pus; };

static void
hwloc_counts (const char *xml, const char *synthetic, struct hw_counts *c)
{
  hwloc_topology_t hw;

  assert_int_equal (hwloc_topology_init (&hw), 0);
  if (xml)
    assert_int_equal (hwloc_topology_set_xml (hw, xml), 0);
  else
    assert_int_equal (hwloc_topology_set_synthetic (hw, synthetic), 0);
  assert_int_equal (hwloc_topology_load (hw), 0);
  c->nodes = hwloc_get_nbobjs_by_type (hw, HWLOC_OBJ_NUMANODE);
  c->packages = hwloc_get_nbobjs_by_type (hw, HWLOC_OBJ_PACKAGE);
  c->cores = hwloc_get_nbobjs_by_type (hw, HWLOC_OBJ_CORE);
  c->pus = hwloc_get_nbobjs_by_type (hw, HWLOC_OBJ_PU);
  c->l3 = hwloc_get_nbobjs_by_type (hw, HWLOC_OBJ_L3CACHE);
  c->complete_pus = hwloc_bitmap_weight (hwloc_topology_get_complete_cpuset (hw));
  hwloc_topology_destroy (hw);
}

/* Facts about the saved topologies (examples/topologies/README.md and the files):
 * NUMA nodes, usable PUs, and block devices with their node. */
static const struct {
  const char *file;
  unsigned nodes, pus, offline;
  const char *devices;          /* "name=node ..." ; node -1: spans nodes */
} saved_facts[] = {
  { "2amd64-kvm-guest.xml", 1, 2, 0, "vda=0" },
  { "16em64t-4s2c2t.xml", 1, 16, 0, "" },
  { "16em64t-4s2c2t-offlines.xml", 1, 12, 4, "" },
  { "20em64t-hybrid-1p6c2t+2ca4co1t.xml", 1, 20, 0, "" },
  { "24em64t-2n6c2t-pci.xml", 2, 24, 0, "sda=0" },
  { "32em64t-2n8c2t-pci-wholeio.xml", 2, 32, 0, "sda=0" },
  { "32em64t-2n8c+1mic.xml", 2, 16, 0, "nvme0n1=0 sda=0 pmem0.1=0 pmem1=1" },
  { "32amd64-4s2n4c-cgroup.xml", 6, 6, 26, "" },
  { "40intel64-2g2n4c+pci.xml", 4, 40, 0, "sda=-1" },
  { "40intel64-4n10c+pci-conflicts.xml", 4, 40, 0, "sda=-1" },
  { "48amd64-4d2n6c-sparse.xml", 8, 48, 0, "" },
  { "64amd64-4s2n4ca2co.xml", 8, 64, 0, "" },
  { "96em64t-4n4d3ca2co.xml", 4, 96, 0, "" },
  { "128arm-2pa2n8cluster4co.xml", 4, 128, 0, "" },
  { "192em64t-24n8c2t.xml", 24, 384, 0, "sda=1 sdb=1" },
  { "fakepcilocalities.xml", 4, 40, 0, "sda=0" },
};

static void
check_invariants (const struct vdp_topology *t)
{
  struct vdp_topology_counts c;
  g_auto (VdpBitmap) seen = hwloc_bitmap_alloc ();

  vdp_topology_get_counts (t, &c);
  for (size_t i = 0; i < t->n_pus; i++) {
    const struct vdp_pu *pu = &t->pus[i];

    assert_true (pu->core >= 0 && (size_t) pu->core < t->n_cores);
    assert_true (pu->l3 >= 0 && (size_t) pu->l3 < t->n_l3);
    assert_true (hwloc_bitmap_isset (t->cores[pu->core].pus, pu->id));
    assert_true (hwloc_bitmap_isset (t->l3[pu->l3].cpuset, pu->id));
    assert_non_null (vdp_topology_find_node (t, (unsigned) pu->node));
    assert_true (hwloc_bitmap_isset (vdp_topology_find_node (t, (unsigned) pu->node)->cpuset, pu->id));
    assert_false (hwloc_bitmap_isset (seen, pu->id));
    hwloc_bitmap_set (seen, pu->id);
    assert_ptr_equal (vdp_topology_find_pu (t, pu->id), pu);
  }
  /* Every online PU appears once; allowed + disallowed = online. */
  assert_true (hwloc_bitmap_isequal (seen, t->online));
  assert_int_equal (hwloc_bitmap_weight (t->allowed) + hwloc_bitmap_weight (t->disallowed),
                    hwloc_bitmap_weight (t->online));
  assert_false (hwloc_bitmap_intersects (t->online, t->offline));
  /* Cores of one L3 group never straddle two groups. */
  for (size_t i = 0; i < t->n_cores; i++)
    assert_true (hwloc_bitmap_isincluded (t->cores[i].pus, t->l3[t->cores[i].l3].cpuset));
  assert_int_equal (c.pus, hwloc_bitmap_weight (t->allowed));
}

static void
test_saved_topologies (void **state)
{
  for (size_t i = 0; i < G_N_ELEMENTS (saved_facts); i++) {
    g_autofree char *rel = g_build_filename ("examples/topologies", saved_facts[i].file, NULL);
    g_autofree char *path = data_path (rel);
    g_autoptr (GError) err = NULL;
    g_autoptr (vdp_topology) t = vdp_topology_load_xml (path, &err);
    g_auto (GStrv) devs = g_strsplit (saved_facts[i].devices, " ", -1);
    struct vdp_topology_counts c;
    struct hw_counts hc;

    if (t == NULL)
      fail_msg ("%s: %s", path, err->message);
    print_message ("# %s\n", saved_facts[i].file);
    vdp_topology_get_counts (t, &c);
    hwloc_counts (path, NULL, &hc);

    assert_int_equal (t->kind, VDP_TOPOLOGY_XML);
    assert_int_equal (c.nodes, saved_facts[i].nodes);
    assert_int_equal (c.pus, saved_facts[i].pus);
    assert_int_equal (c.pus_offline, saved_facts[i].offline);
    assert_int_equal (c.nodes, hc.nodes);
    assert_int_equal (c.packages, hc.packages);
    assert_int_equal (c.cores, hc.cores);
    assert_int_equal (c.pus, hc.pus);
    assert_int_equal (c.l3, hc.l3);
    assert_true (c.llc_groups >= MAX (c.l3, 1));
    assert_int_equal (c.pus + c.pus_offline + c.pus_disallowed, hc.complete_pus);
    assert_int_equal (c.pus_isolated, 0);
    check_invariants (t);

    for (char **d = devs; *d && **d; d++) {
      g_auto (GStrv) kv = g_strsplit (*d, "=", 2);
      const struct vdp_blockdev *bd = vdp_topology_find_device (t, kv[0]);

      if (bd == NULL)
        fail_msg ("%s: no device %s", saved_facts[i].file, kv[0]);
      assert_int_equal (bd->node, atoi (kv[1]));
      if (bd->node >= 0)
        assert_true (hwloc_bitmap_isset (bd->nodeset, (unsigned) bd->node));
      else
        assert_true (hwloc_bitmap_weight (bd->nodeset) > 1);
    }
  }
}

static void
test_details (void **state)
{
  g_autofree char *path = data_path ("examples/topologies/192em64t-24n8c2t.xml");
  g_autoptr (vdp_topology) t = vdp_topology_load_xml (path, NULL);
  const struct vdp_pu *pu;
  const struct vdp_blockdev *sda;

  assert_non_null (t);
  /* SMT siblings: PU 0 and PU 192 share a core; L3 groups are per node. */
  pu = vdp_topology_find_pu (t, 0);
  assert_non_null (pu);
  assert_true (hwloc_bitmap_isset (t->cores[pu->core].pus, 192));
  assert_int_equal (hwloc_bitmap_weight (t->cores[pu->core].pus), 2);
  assert_string_equal (t->l3[pu->l3].kind, "L3");
  assert_true (t->l3[pu->l3].size > 0);
  assert_int_equal (vdp_topology_find_pu (t, 8)->node, 1);
  assert_null (vdp_topology_find_pu (t, 384));
  assert_null (vdp_topology_find_node (t, 24));
  assert_true (vdp_topology_find_node (t, 23)->memory > 0);
  sda = vdp_topology_find_device (t, "sda");
  assert_non_null (sda->pci);
  assert_null (vdp_topology_find_device (t, "nvme9n9"));

  /* Offline PUs are reported as such. */
  {
    g_autofree char *p2 = data_path ("examples/topologies/16em64t-4s2c2t-offlines.xml");
    g_autoptr (vdp_topology) t2 = vdp_topology_load_xml (p2, NULL);
    g_autofree char *off = vdp_cpuset_format (t2->offline);
    assert_string_equal (off, "2,5,13-14");
    assert_null (vdp_topology_find_pu (t2, 2));
  }
}

static void
test_llc_fallback (void **state)
{
  /* No L3 in the file: groups fall back to the package; hwloc counts no L3. */
  g_autofree char *path = data_path ("examples/topologies/fakepcilocalities.xml");
  g_autoptr (vdp_topology) t = vdp_topology_load_xml (path, NULL);

  struct vdp_topology_counts c;

  assert_non_null (t);
  vdp_topology_get_counts (t, &c);
  assert_int_equal (c.l3, 0);
  assert_int_equal (c.llc_groups, 4);
  assert_int_equal (t->n_l3, 4);
  for (size_t i = 0; i < t->n_l3; i++)
    assert_string_equal (t->l3[i].kind, "Package");

  /* Mixed: three packages with an L3, one without; its PUs form a Package group. */
  {
    g_autofree char *p2 = data_path ("examples/topologies/40intel64-4n10c+pci-conflicts.xml");
    g_autoptr (vdp_topology) t2 = vdp_topology_load_xml (p2, NULL);
    vdp_topology_get_counts (t2, &c);
    assert_int_equal (c.l3, 3);
    assert_int_equal (c.llc_groups, 4);
    assert_string_equal (t2->l3[3].kind, "Package");
  }
}

static const struct {
  const char *desc;
  unsigned nodes, packages, cores, pus, l3, groups;
  const char *kind;
} synthetics[] = {
  { "package:2 node:1 l3:1 core:4 pu:2", 2, 2, 8, 16, 2, 2, "L3" },
  { "node:2 core:4 pu:2", 2, 0, 8, 16, 0, 2, "Group" },
  { "pack:2 core:2 pu:1", 1, 2, 4, 4, 0, 2, "Package" },
  { "pack:1 l2:2 core:2 pu:2", 1, 1, 4, 8, 0, 2, "L2" },
  { "core:4 pu:1", 1, 0, 4, 4, 0, 1, "Machine" },
  { "pu:3", 1, 0, 0, 3, 0, 1, "Machine" },
};

static void
test_synthetic (void **state)
{
  for (size_t i = 0; i < G_N_ELEMENTS (synthetics); i++) {
    g_autoptr (GError) err = NULL;
    g_autoptr (vdp_topology) t = vdp_topology_load (synthetics[i].desc, &err);
    struct vdp_topology_counts c;
    struct hw_counts hc;

    if (t == NULL)
      fail_msg ("'%s': %s", synthetics[i].desc, err->message);
    print_message ("# %s\n", synthetics[i].desc);
    assert_int_equal (t->kind, VDP_TOPOLOGY_SYNTHETIC);
    vdp_topology_get_counts (t, &c);
    hwloc_counts (NULL, synthetics[i].desc, &hc);
    assert_int_equal (c.nodes, synthetics[i].nodes);
    assert_int_equal (c.packages, synthetics[i].packages);
    assert_int_equal (c.cores, synthetics[i].cores);
    assert_int_equal (c.pus, synthetics[i].pus);
    assert_int_equal (c.l3, synthetics[i].l3);
    assert_int_equal (c.llc_groups, synthetics[i].groups);
    assert_int_equal (c.l3, hc.l3);
    assert_int_equal (c.nodes, hc.nodes);
    assert_int_equal (c.packages, hc.packages);
    assert_int_equal (c.cores, hc.cores);
    assert_int_equal (c.pus, hc.pus);
    assert_string_equal (t->l3[0].kind, synthetics[i].kind);
    check_invariants (t);
  }
}

static void
test_bad_input (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("vdp-topo-XXXXXX", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.xml", NULL);
  g_autofree char *notopo = g_build_filename (dir, "notopo.xml", NULL);
  g_autofree char *empty = g_build_filename (dir, "empty.xml", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.xml", NULL);
  const struct { const char *spec; const char *why; } cases[] = {
    { bad, "not a valid hwloc XML topology" },
    { notopo, "not a valid hwloc XML topology" },
    { empty, "file is empty" },
    { missing, "No such file or directory" },
    { dir, "not a regular file" },
    { "nothing:4", "invalid synthetic topology 'nothing:4'" },
    { "core:x", "invalid synthetic topology 'core:x'" },
    { "", "empty topology argument" },
  };

  assert_true (g_file_set_contents (bad, "<topology version=\"2.0\"><object", -1, NULL));
  assert_true (g_file_set_contents (notopo, "<?xml version=\"1.0\"?><domain/>", -1, NULL));
  assert_true (g_file_set_contents (empty, "", 0, NULL));

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) err = NULL;
    g_autoptr (vdp_topology) t = vdp_topology_load (cases[i].spec, &err);

    assert_null (t);
    assert_non_null (err);
    assert_int_equal (vdp_error_exit_status (err), VDP_EXIT_ERROR);
    if (strstr (err->message, cases[i].why) == NULL)
      fail_msg ("'%s': '%s' lacks '%s'", cases[i].spec, err->message, cases[i].why);
    if (*cases[i].spec)
      assert_non_null (strstr (err->message, cases[i].spec));
    assert_null (strchr (err->message, '\n'));
  }
  if (getuid () != 0) {
    /* Unreadable file: root reads anything, so only as a user. */
    g_autoptr (GError) err = NULL;
    g_autofree char *path = data_path ("examples/topologies/2amd64-kvm-guest.xml");
    g_autofree char *copy = g_build_filename (dir, "noperm.xml", NULL);
    g_autofree char *text = NULL;
    assert_true (g_file_get_contents (path, &text, NULL, NULL));
    assert_true (g_file_set_contents (copy, text, -1, NULL));
    assert_int_equal (chmod (copy, 0), 0);
    assert_null (vdp_topology_load (copy, &err));
    assert_non_null (strstr (err->message, "Permission denied"));
    g_unlink (copy);
  }
  g_unlink (bad);
  g_unlink (notopo);
  g_unlink (empty);
  g_rmdir (dir);
}

static void
test_host (void **state)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_topology) t = vdp_topology_load (NULL, &err);
  struct vdp_topology_counts c;

  if (t == NULL)
    fail_msg ("host: %s", err->message);
  assert_int_equal (t->kind, VDP_TOPOLOGY_HOST);
  vdp_topology_get_counts (t, &c);
  assert_int_equal (c.pus, (unsigned) sysconf (_SC_NPROCESSORS_ONLN));
  check_invariants (t);
}

static void
test_host_isolated (void **state)
{
  /* The isolated list is read from <root>/sys/devices/system/cpu/isolated. */
  g_autofree char *root = g_dir_make_tmp ("vdp-iso-XXXXXX", NULL);
  g_autofree char *cpudir = g_build_filename (root, "sys/devices/system/cpu", NULL);
  g_autofree char *file = g_build_filename (cpudir, "isolated", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_topology) t = NULL;
  g_autoptr (vdp_topology) t2 = NULL;

  assert_int_equal (g_mkdir_with_parents (cpudir, 0755), 0);
  assert_true (g_file_set_contents (file, "1\n", -1, NULL));
  t = vdp_topology_load_host (root, &err);
  assert_non_null (t);
  assert_true (hwloc_bitmap_isset (t->isolated, 1));
  assert_int_equal (hwloc_bitmap_weight (t->isolated), 1);
  if (vdp_topology_find_pu (t, 1))
    assert_true (vdp_topology_find_pu (t, 1)->isolated);

  assert_true (g_file_set_contents (file, "1-x\n", -1, NULL));
  t2 = vdp_topology_load_host (root, &err);
  assert_null (t2);
  assert_non_null (strstr (err->message, "isolated"));
  g_unlink (file);
}

/* ---- disk locality over a fabricated sysfs ------------------------------ */

struct fake_root {
  char *root;
  char *devdir;
};

static void
mk (const char *root, const char *rel)
{
  g_autofree char *p = g_build_filename (root, rel, NULL);
  assert_int_equal (g_mkdir_with_parents (p, 0755), 0);
}

static void
touch (const char *root, const char *rel)
{
  g_autofree char *p = g_build_filename (root, rel, NULL);
  assert_true (g_file_set_contents (p, "1\n", -1, NULL));
}

static void
link_to (const char *root, const char *rel, const char *target)
{
  g_autofree char *p = g_build_filename (root, rel, NULL);
  g_autofree char *dir = g_path_get_dirname (p);
  assert_int_equal (g_mkdir_with_parents (dir, 0755), 0);
  assert_int_equal (symlink (target, p), 0);
}

#define PCI "sys/devices/pci0000:00/0000:00:1f.2"

/* Fake devices use the majors Linux reserves for local/experimental use
 * (60-63), so that they never collide with the real device of $TMPDIR. */

static int
setup_fake_sysfs (void **state)
{
  struct fake_root *f = g_new0 (struct fake_root, 1);

  f->root = g_dir_make_tmp ("vdp-sysfs-XXXXXX", NULL);
  f->devdir = g_build_filename (f->root, "dev", NULL);
  mk (f->root, "dev");
  mk (f->root, PCI "/block/nvme0n1/nvme0n1p1");
  touch (f->root, PCI "/block/nvme0n1/nvme0n1p1/partition");
  mk (f->root, PCI "/block/sda");
  mk (f->root, PCI "/block/pmem1");
  mk (f->root, PCI "/block/vdz");
  mk (f->root, "sys/devices/virtual/block/dm-0/slaves");
  mk (f->root, "sys/devices/virtual/block/dm-1/slaves");
  mk (f->root, "sys/devices/virtual/block/md0/slaves");
  /* dm-0: on nvme0n1p1 and sda (both node 0) */
  link_to (f->root, "sys/devices/virtual/block/dm-0/slaves/nvme0n1p1",
           "../../../../pci0000:00/0000:00:1f.2/block/nvme0n1/nvme0n1p1");
  link_to (f->root, "sys/devices/virtual/block/dm-0/slaves/sda",
           "../../../../pci0000:00/0000:00:1f.2/block/sda");
  /* md0: on sda (node 0) and pmem1 (node 1); dm-1 on md0 */
  link_to (f->root, "sys/devices/virtual/block/md0/slaves/sda",
           "../../../../pci0000:00/0000:00:1f.2/block/sda");
  link_to (f->root, "sys/devices/virtual/block/md0/slaves/pmem1",
           "../../../../pci0000:00/0000:00:1f.2/block/pmem1");
  link_to (f->root, "sys/devices/virtual/block/dm-1/slaves/md0", "../../md0");
  link_to (f->root, "sys/dev/block/60:1", "../../devices/pci0000:00/0000:00:1f.2/block/nvme0n1/nvme0n1p1");
  link_to (f->root, "sys/dev/block/60:0", "../../devices/pci0000:00/0000:00:1f.2/block/sda");
  link_to (f->root, "sys/dev/block/62:7", "../../devices/pci0000:00/0000:00:1f.2/block/vdz");
  link_to (f->root, "sys/dev/block/61:0", "../../devices/virtual/block/dm-0");
  link_to (f->root, "sys/dev/block/61:1", "../../devices/virtual/block/dm-1");
  *state = f;
  return 0;
}

static void
rm_rf (const char *path)
{
  g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
  const char *e;

  while (d && (e = g_dir_read_name (d)) != NULL) {
    g_autofree char *p = g_build_filename (path, e, NULL);
    if (g_file_test (p, G_FILE_TEST_IS_DIR) && !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
      rm_rf (p);
    else
      g_unlink (p);
  }
  g_rmdir (path);
}

static int
teardown_fake_sysfs (void **state)
{
  struct fake_root *f = *state;
  rm_rf (f->root);
  g_free (f->root);
  g_free (f->devdir);
  g_free (f);
  return 0;
}

static char *
mknod_block (struct fake_root *f, const char *name, unsigned maj, unsigned min)
{
  char *p = g_build_filename (f->devdir, name, NULL);
  if (mknod (p, S_IFBLK | 0600, makedev (maj, min)) < 0)
    fail_msg ("mknod %s: %s", p, g_strerror (errno));
  return p;
}

static struct vdp_topology *
mic_topology (void)
{
  g_autofree char *path = data_path ("examples/topologies/32em64t-2n8c+1mic.xml");
  struct vdp_topology *t = vdp_topology_load_xml (path, NULL);
  assert_non_null (t);
  return t;
}

static void
assert_devices (const struct vdp_disk_locality *loc, const char *want)
{
  g_autofree char *got = g_strjoinv (" ", loc->devices);
  assert_string_equal (got, want);
}

static void
test_locate_block_devices (void **state)
{
  struct fake_root *f = *state;
  g_autoptr (vdp_topology) t = NULL;

  if (getuid () != 0) {
    skip ();
    return;
  }
  t = mic_topology ();
  {
    g_autofree char *p = mknod_block (f, "nvme0n1p1", 60, 1);
    g_autoptr (vdp_disk_locality) loc = vdp_topology_locate_disk (t, p, f->root);
    assert_devices (loc, "nvme0n1");      /* partition → its disk */
    assert_int_equal (loc->node, 0);
    assert_null (loc->reason);
  }
  {
    g_autofree char *p = mknod_block (f, "dm-0", 61, 0);
    g_autoptr (vdp_disk_locality) loc = vdp_topology_locate_disk (t, p, f->root);
    assert_devices (loc, "nvme0n1 sda");  /* device-mapper → the devices below */
    assert_int_equal (loc->node, 0);
  }
  {
    g_autofree char *p = mknod_block (f, "dm-1", 61, 1);
    g_autoptr (vdp_disk_locality) loc = vdp_topology_locate_disk (t, p, f->root);
    g_autofree char *nodes = vdp_cpuset_format (loc->nodeset);
    assert_devices (loc, "pmem1 sda");    /* dm on md on two nodes, sorted */
    assert_int_equal (loc->node, -1);
    assert_string_equal (nodes, "0-1");
    assert_non_null (strstr (loc->reason, "spans devices on nodes 0-1"));
  }
  {
    g_autofree char *p = mknod_block (f, "vdz", 62, 7);
    g_autoptr (vdp_disk_locality) loc = vdp_topology_locate_disk (t, p, f->root);
    assert_int_equal (loc->node, -1);
    assert_non_null (strstr (loc->reason, "vdz"));
    assert_non_null (strstr (loc->reason, "not in the topology"));
  }
  {
    g_autofree char *p = mknod_block (f, "nosysfs", 63, 99);
    g_autoptr (vdp_disk_locality) loc = vdp_topology_locate_disk (t, p, f->root);
    assert_int_equal (loc->node, -1);
    assert_non_null (strstr (loc->reason, "not in sysfs"));
  }
}

static void
test_locate_spanning_device (void **state)
{
  struct fake_root *f = *state;
  g_autofree char *path = data_path ("examples/topologies/40intel64-2g2n4c+pci.xml");
  g_autoptr (vdp_topology) t = vdp_topology_load_xml (path, NULL);
  g_autofree char *p = NULL;
  g_autoptr (vdp_disk_locality) loc = NULL;

  if (getuid () != 0) {
    skip ();
    return;
  }
  p = mknod_block (f, "sda-span", 60, 0);
  loc = vdp_topology_locate_disk (t, p, f->root);
  assert_devices (loc, "sda");
  assert_int_equal (loc->node, -1);
  assert_non_null (strstr (loc->reason, "attached above the NUMA nodes"));
}

static void
test_locate_files (void **state)
{
  struct fake_root *f = *state;
  g_autoptr (vdp_topology) t = mic_topology ();
  g_autofree char *file = g_build_filename (f->root, "disk.img", NULL);
  g_autofree char *link = NULL;
  g_autofree char *mountinfo_dir = g_build_filename (f->root, "proc/self", NULL);
  g_autofree char *mountinfo = g_build_filename (mountinfo_dir, "mountinfo", NULL);
  g_autofree char *line = NULL;
  struct stat st;

  assert_true (g_file_set_contents (file, "x", 1, NULL));
  assert_int_equal (stat (file, &st), 0);
  assert_true (major (st.st_dev) < 60 || major (st.st_dev) > 63);
  assert_int_equal (g_mkdir_with_parents (mountinfo_dir, 0755), 0);

  /* A file whose filesystem is on no block device: mountinfo says tmpfs. */
  line = g_strdup_printf ("23 1 %u:%u / /images rw,relatime shared:1 - tmpfs tmpfs rw\n",
                          major (st.st_dev), minor (st.st_dev));
  assert_true (g_file_set_contents (mountinfo, line, -1, NULL));
  {
    g_autoptr (vdp_disk_locality) loc = vdp_topology_locate_disk (t, file, f->root);
    assert_int_equal (loc->node, -1);
    assert_non_null (strstr (loc->reason, "tmpfs"));
    assert_non_null (strstr (loc->reason, file));
  }

  /* Not in mountinfo either. */
  assert_true (g_file_set_contents (mountinfo, "", 0, NULL));
  {
    g_autoptr (vdp_disk_locality) loc = vdp_topology_locate_disk (t, file, f->root);
    assert_int_equal (loc->node, -1);
    assert_non_null (strstr (loc->reason, "has no block device"));
  }

  if (getuid () == 0) {
    /* btrfs-like: st_dev is anonymous; mountinfo names the block device. */
    g_autofree char *p = mknod_block (f, "src-nvme", 60, 1);
    g_free (line);
    line = g_strdup_printf ("23 1 %u:%u / /images rw - btrfs %s rw\n",
                            major (st.st_dev), minor (st.st_dev), p);
    assert_true (g_file_set_contents (mountinfo, line, -1, NULL));
    {
      g_autoptr (vdp_disk_locality) loc = vdp_topology_locate_disk (t, file, f->root);
      assert_devices (loc, "nvme0n1");
      assert_int_equal (loc->node, 0);
    }
  }

  /* The file's st_dev is a block device in sysfs: its filesystem's disk. */
  link = g_strdup_printf ("sys/dev/block/%u:%u", major (st.st_dev), minor (st.st_dev));
  link_to (f->root, link, "../../devices/pci0000:00/0000:00:1f.2/block/sda");
  {
    g_autoptr (vdp_disk_locality) loc = vdp_topology_locate_disk (t, file, f->root);
    assert_devices (loc, "sda");
    assert_int_equal (loc->node, 0);
    assert_null (loc->reason);
  }

  /* A path that does not exist. */
  {
    g_autoptr (vdp_disk_locality) loc = vdp_topology_locate_disk (t, "/nonexistent/disk.qcow2", f->root);
    assert_int_equal (loc->node, -1);
    assert_non_null (loc->devices);
    assert_null (loc->devices[0]);
    assert_non_null (strstr (loc->reason, "does not exist"));
  }
  /* Neither a file nor a block device. */
  {
    g_autoptr (vdp_disk_locality) loc = vdp_topology_locate_disk (t, "/dev/null", f->root);
    assert_int_equal (loc->node, -1);
    assert_non_null (strstr (loc->reason, "neither a file nor a block device"));
  }
}

static void
test_locate_on_host (void **state)
{
  /* This source tree lives on some filesystem; when sysfs knows its device,
   * the device must be found below it, and be one hwloc reports or named. */
  g_autoptr (vdp_topology) t = vdp_topology_load (NULL, NULL);
  const char *src = g_getenv ("VDP_SRCDIR");
  g_autoptr (vdp_disk_locality) loc = vdp_topology_locate_disk (t, src ? src : ".", NULL);

  assert_non_null (loc);
  if (loc->node >= 0) {
    assert_non_null (loc->devices[0]);
    assert_non_null (vdp_topology_find_device (t, loc->devices[0]));
  } else {
    assert_non_null (loc->reason);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_saved_topologies),
    cmocka_unit_test (test_details),
    cmocka_unit_test (test_llc_fallback),
    cmocka_unit_test (test_synthetic),
    cmocka_unit_test (test_bad_input),
    cmocka_unit_test (test_host),
    cmocka_unit_test (test_host_isolated),
    cmocka_unit_test_setup_teardown (test_locate_block_devices, setup_fake_sysfs, teardown_fake_sysfs),
    cmocka_unit_test_setup_teardown (test_locate_spanning_device, setup_fake_sysfs, teardown_fake_sysfs),
    cmocka_unit_test_setup_teardown (test_locate_files, setup_fake_sysfs, teardown_fake_sysfs),
    cmocka_unit_test (test_locate_on_host),
  };
  return cmocka_run_group_tests_name ("topology", tests, NULL, NULL);
}
