/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the planner, one group per rule of DESIGN §4, on synthetic hosts. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "domain.h"
#include "planner.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "vdp-test.h"
#include "xmlpatch.h"

/* Two packages, each one node with two L3s of 4 cores x 2 threads: 32 PUs. */
#define HOST2 "package:2 node:1 l3:2 core:4 pu:2"

/* A plan of some domains, kept together for the test's lifetime. */
struct fixture {
  struct vdp_topology *topo;
  struct vdp_policy *policy;
  struct vdp_caps caps;
  unsigned n;
  xmlDocPtr docs[8];
  struct vdp_domain *doms[8];
  struct vdp_disk_hint *hints[8];
  struct vdp_plan *plan;
};

static char *
domain_xml (const char *name, unsigned vcpus, unsigned mem_gib, const char *extra_top,
            const char *devices)
{
  return g_strdup_printf ("<domain type='kvm'>\n  <name>%s</name>\n"
                          "  <memory unit='GiB'>%u</memory>\n"
                          "  <vcpu placement='static'>%u</vcpu>\n%s"
                          "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n"
                          "  <devices>\n%s  </devices>\n</domain>\n",
                          name, mem_gib, vcpus, extra_top ? extra_top : "",
                          devices ? devices : "");
}

static const char *const RAW_DISK =
  "    <disk type='file' device='disk'>\n"
  "      <driver name='qemu' type='raw'/>\n"
  "      <source file='/img/a.raw'/>\n"
  "      <target dev='vda' bus='virtio'/>\n"
  "    </disk>\n";

static const char *const TWO_DISKS =
  "    <disk type='file' device='disk'>\n"
  "      <driver name='qemu' type='raw'/>\n"
  "      <source file='/img/a.raw'/>\n"
  "      <target dev='vda' bus='virtio'/>\n"
  "    </disk>\n"
  "    <disk type='block' device='disk'>\n"
  "      <driver name='qemu' type='raw'/>\n"
  "      <source dev='/dev/sdb'/>\n"
  "      <target dev='vdb' bus='virtio'/>\n"
  "    </disk>\n";

static void
fx_init (struct fixture *f, const char *topo, const char *profile)
{
  memset (f, 0, sizeof (*f));
  f->topo = vdp_topology_load (topo, NULL);
  assert_non_null (f->topo);
  f->policy = vdp_policy_builtin (profile, NULL);
  assert_non_null (f->policy);
  vdp_caps_from_versions (&f->caps, VDP_CAPS_NEWEST_LIBVIRT, VDP_CAPS_NEWEST_QEMU);
}

/* Adds a domain; @node_of_disks >= 0 says all its disks are local to that node. */
static void
fx_add (struct fixture *f, char *xml, int node_of_disks)
{
  g_autoptr (GError) err = NULL;
  unsigned i = f->n++;

  f->docs[i] = vdp_xml_read_memory (xml, "test", &err);
  g_free (xml);
  assert_non_null (f->docs[i]);
  f->doms[i] = vdp_domain_parse (f->docs[i], "test", &err);
  assert_non_null (f->doms[i]);
  f->hints[i] = g_new0 (struct vdp_disk_hint, MAX (f->doms[i]->n_disks, 1));
  for (unsigned k = 0; k < f->doms[i]->n_disks; k++) {
    f->hints[i][k].node = node_of_disks;
    f->hints[i][k].odirect = -1;
  }
}

static gboolean
fx_plan (struct fixture *f, GError **error)
{
  struct vdp_plan_input in[8];

  for (unsigned i = 0; i < f->n; i++) {
    in[i].dom = f->doms[i];
    in[i].hints = f->hints[i];
  }
  f->plan = vdp_plan_compute (f->topo, f->policy, &f->caps, in, f->n, error);
  return f->plan != NULL;
}

static struct vdp_domain_plan *
fx_planned (struct fixture *f, unsigned i)
{
  g_autoptr (GError) err = NULL;
  if (f->plan == NULL && !fx_plan (f, &err))
    fail_msg ("plan failed: %s", err->message);
  return &f->plan->domains[i];
}

static void
fx_free (struct fixture *f)
{
  vdp_plan_free (f->plan);
  for (unsigned i = 0; i < f->n; i++) {
    g_free (f->hints[i]);
    vdp_domain_free (f->doms[i]);
    xmlFreeDoc (f->docs[i]);
  }
  vdp_policy_free (f->policy);
  vdp_topology_free (f->topo);
}

static gboolean
has_reason (const struct vdp_domain_plan *dp, unsigned rule, const char *fragment)
{
  for (guint i = 0; i < dp->reasons->len; i++) {
    const struct vdp_reason *r = dp->reasons->pdata[i];
    if (r->rule == rule && strstr (r->text, fragment))
      return TRUE;
  }
  return FALSE;
}

static hwloc_bitmap_t
node_set (const struct vdp_topology *t, unsigned node)
{
  return vdp_topology_find_node (t, node)->cpuset;
}

/* ---- rule 1 ---- */

static void
test_rule1_home_follows_disks (void **state)
{
  struct fixture f;
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 4, 2, NULL, TWO_DISKS), 1);
  assert_int_equal (fx_planned (&f, 0)->home_node, 1);
  assert_true (has_reason (fx_planned (&f, 0), 1, "2 of 2 disks"));
  fx_free (&f);

  /* no locality: the node with the most free capacity; guests spread out */
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 6, 2, NULL, RAW_DISK), -1);
  fx_add (&f, domain_xml ("b", 4, 2, NULL, RAW_DISK), -1);
  assert_int_equal (fx_planned (&f, 0)->home_node, 0);
  assert_int_equal (fx_planned (&f, 1)->home_node, 1);
  assert_true (has_reason (fx_planned (&f, 1), 1, "no disk locality known"));
  fx_free (&f);
}

/* ---- rule 2 ---- */

static void
test_rule2_dedicated (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;
  g_auto (VdpBitmap) seen = hwloc_bitmap_alloc ();

  fx_init (&f, HOST2, "latency");       /* dedicated, smt=isolate */
  fx_add (&f, domain_xml ("a", 4, 2, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 0);
  assert_int_equal (dp->placement, VDP_PLACEMENT_DEDICATED);
  for (unsigned v = 0; v < 4; v++) {
    const struct vdp_pu *pu;
    assert_int_equal (hwloc_bitmap_weight (dp->vcpu_pins[v]), 1);
    assert_true (hwloc_bitmap_isincluded (dp->vcpu_pins[v], node_set (f.topo, 0)));
    pu = vdp_topology_find_pu (f.topo, (unsigned) hwloc_bitmap_first (dp->vcpu_pins[v]));
    /* isolate: no two vCPUs on one core */
    assert_false (hwloc_bitmap_intersects (seen, f.topo->cores[pu->core].pus));
    hwloc_bitmap_or (seen, seen, f.topo->cores[pu->core].pus);
  }
  fx_free (&f);

  /* smt=prefer fills whole cores: vCPUs 0 and 1 are SMT siblings */
  fx_init (&f, HOST2, "latency");
  f.policy->smt = VDP_SMT_PREFER;
  fx_add (&f, domain_xml ("a", 4, 2, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 0);
  {
    const struct vdp_pu *p0 = vdp_topology_find_pu (f.topo, (unsigned) hwloc_bitmap_first (dp->vcpu_pins[0]));
    const struct vdp_pu *p1 = vdp_topology_find_pu (f.topo, (unsigned) hwloc_bitmap_first (dp->vcpu_pins[1]));
    assert_int_equal (p0->core, p1->core);
    /* all four in one L3 (the best fit) */
    for (unsigned v = 1; v < 4; v++)
      assert_int_equal (vdp_topology_find_pu (f.topo, (unsigned) hwloc_bitmap_first (dp->vcpu_pins[v]))->l3,
                        p0->l3);
  }
  fx_free (&f);
}

static void
test_rule2_shared (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;

  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 4, 2, NULL, RAW_DISK), 1);
  dp = fx_planned (&f, 0);
  for (unsigned v = 0; v < 4; v++) {
    assert_true (hwloc_bitmap_isequal (dp->vcpu_pins[v], dp->vcpu_pins[0]));
    assert_true (hwloc_bitmap_isincluded (dp->vcpu_pins[v], node_set (f.topo, 1)));
    /* the I/O pool is kept out of the guest PUs */
    assert_false (hwloc_bitmap_intersects (dp->vcpu_pins[v], f.plan->io_pool));
  }
  assert_int_equal (hwloc_bitmap_weight (dp->vcpu_pins[0]) + 2, 16);  /* pool: one core */
  fx_free (&f);
}

static void
test_rule2_dedicated_too_big (void **state)
{
  struct fixture f;
  g_autoptr (GError) err = NULL;

  fx_init (&f, "node:1 core:4 pu:1", "latency");
  fx_add (&f, domain_xml ("big", 8, 1, NULL, RAW_DISK), 0);
  assert_false (fx_plan (&f, &err));
  assert_non_null (strstr (err->message, "'big'"));
  assert_non_null (strstr (err->message, "do not fit"));
  fx_free (&f);

  /* shared placement: a plan with a warning */
  fx_init (&f, "node:1 core:4 pu:1", "balanced");
  fx_add (&f, domain_xml ("big", 8, 1, NULL, RAW_DISK), 0);
  assert_true (fx_planned (&f, 0)->warnings->len > 0);
  assert_non_null (strstr (fx_planned (&f, 0)->warnings->pdata[0], "overcommitted"));
  fx_free (&f);
}

/* ---- rule 3 ---- */

static void
test_rule3_iothread_count (void **state)
{
  static const struct { unsigned vcpus, max, fixed, queues, want; } cases[] = {
    { 1, 8, 0, 0, 1 }, { 2, 8, 0, 0, 1 }, { 3, 8, 0, 0, 2 }, { 4, 8, 0, 0, 2 },
    { 16, 8, 0, 0, 8 }, { 32, 8, 0, 0, 8 }, { 16, 4, 0, 0, 4 },
    { 8, 8, 3, 0, 3 }, { 16, 8, 0, 2, 2 }, { 2, 8, 6, 0, 2 },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    struct fixture f;
    fx_init (&f, "package:2 node:1 l3:1 core:16 pu:2", "balanced");
    f.policy->iothreads_max = cases[i].max;
    f.policy->iothreads = cases[i].fixed;
    f.policy->queues = cases[i].queues;
    fx_add (&f, domain_xml ("a", cases[i].vcpus, 1, NULL, RAW_DISK), 0);
    if (fx_planned (&f, 0)->n_iothreads != cases[i].want)
      fail_msg ("case %zu: %u IOThreads, want %u", i, fx_planned (&f, 0)->n_iothreads,
                cases[i].want);
    assert_true (fx_planned (&f, 0)->set_iothreads);
    fx_free (&f);
  }
}

static void
test_rule3_no_devices_and_old_stack (void **state)
{
  struct fixture f;

  /* nothing can use an IOThread: leave them alone */
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 8, 1, "  <iothreads>3</iothreads>\n", NULL), -1);
  assert_false (fx_planned (&f, 0)->set_iothreads);
  fx_free (&f);

  /* without mapping, one IOThread per device at most */
  fx_init (&f, HOST2, "balanced");
  vdp_caps_from_versions (&f.caps, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  fx_add (&f, domain_xml ("a", 16, 1, NULL, TWO_DISKS), -1);
  assert_int_equal (fx_planned (&f, 0)->n_iothreads, 2);
  fx_free (&f);
}

/* ---- rule 4 ---- */

static void
test_rule4_iothread_cpus (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;

  /* balanced: the home node's pool, in the vCPUs' LLC, no vCPU there */
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 8, 1, NULL, RAW_DISK), 1);
  dp = fx_planned (&f, 0);
  assert_int_equal (dp->n_iothreads, 4);
  for (unsigned k = 0; k < dp->n_iothreads; k++) {
    assert_true (hwloc_bitmap_isincluded (dp->iothread_pins[k], f.plan->io_pool));
    assert_true (hwloc_bitmap_isincluded (dp->iothread_pins[k], node_set (f.topo, 1)));
    for (unsigned v = 0; v < 8; v++)
      assert_false (hwloc_bitmap_intersects (dp->iothread_pins[k], dp->vcpu_pins[v]));
    assert_true (has_reason (dp, 4, "I/O pool"));
  }
  fx_free (&f);

  /* latency: dedicated PUs in the LLC of the vCPUs, distinct */
  fx_init (&f, HOST2, "latency");
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 0);
  assert_int_equal (dp->n_iothreads, 1);
  {
    const struct vdp_pu *io = vdp_topology_find_pu (f.topo, (unsigned) hwloc_bitmap_first (dp->iothread_pins[0]));
    const struct vdp_pu *v0 = vdp_topology_find_pu (f.topo, (unsigned) hwloc_bitmap_first (dp->vcpu_pins[0]));
    assert_int_equal (hwloc_bitmap_weight (dp->iothread_pins[0]), 1);
    assert_int_equal (io->l3, v0->l3);
    assert_false (hwloc_bitmap_intersects (dp->iothread_pins[0], dp->vcpu_pins[0]));
    assert_false (hwloc_bitmap_intersects (dp->iothread_pins[0], dp->vcpu_pins[1]));
    assert_false (hwloc_bitmap_intersects (dp->iothread_pins[0], dp->emulator_pin));
  }
  fx_free (&f);

  /* density: shared with the emulator */
  fx_init (&f, HOST2, "density");
  fx_add (&f, domain_xml ("a", 4, 1, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 0);
  assert_int_equal (dp->n_iothreads, 1);
  assert_true (hwloc_bitmap_isequal (dp->iothread_pins[0], dp->emulator_pin));
  fx_free (&f);

  /* a node too small for a pool: with the emulator, said so */
  fx_init (&f, "node:1 core:2 pu:1", "balanced");
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 0);
  assert_true (hwloc_bitmap_iszero (f.plan->io_pool));
  assert_true (hwloc_bitmap_isequal (dp->iothread_pins[0], dp->emulator_pin));
  assert_true (has_reason (dp, 4, "shared with the emulator"));
  fx_free (&f);
}

/* ---- rules 5 and 6 ---- */

static void
check_explicit (const struct vdp_domain_plan *dp, const struct vdp_map *m, unsigned queues)
{
  g_autofree unsigned *seen = g_new0 (unsigned, queues);

  assert_int_equal (m->kind, VDP_MAP_EXPLICIT);
  assert_int_equal (m->queues, queues);
  for (unsigned k = 0; k < m->n_threads; k++) {
    GArray *qs = m->queue_lists->pdata[k];
    assert_true (qs->len > 0);                  /* every listed IOThread has queues */
    for (guint i = 0; i < qs->len; i++) {
      guint q = g_array_index (qs, guint, i);
      unsigned id = m->threads[k];
      assert_true (q < queues);
      seen[q]++;
      /* queue q runs in the LLC of vCPU q when an IOThread is there */
      for (unsigned j = 0; j < dp->n_iothreads; j++)
        if (dp->iothread_l3[j] == dp->vcpu_l3[q % dp->dom->vcpus]) {
          assert_int_equal (dp->iothread_l3[id - 1], dp->vcpu_l3[q % dp->dom->vcpus]);
          break;
        }
    }
  }
  for (unsigned q = 0; q < queues; q++)
    assert_int_equal (seen[q], 1);              /* each queue exactly once */
}

static void
test_rule5_mapping (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;

  /* newest stack: round-robin lists of every IOThread */
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 8, 1, NULL, TWO_DISKS), 0);
  dp = fx_planned (&f, 0);
  for (unsigned i = 0; i < 2; i++) {
    assert_int_equal (dp->disks[i].map.kind, VDP_MAP_ROUNDROBIN);
    assert_int_equal (dp->disks[i].map.queues, 8);
    assert_int_equal (dp->disks[i].map.n_threads, 4);
  }
  fx_free (&f);

  /* explicit mapping, several LLC groups */
  fx_init (&f, "package:1 node:1 l3:4 core:4 pu:1", "latency");
  fx_add (&f, domain_xml ("a", 8, 1, NULL, TWO_DISKS), 0);
  dp = fx_planned (&f, 0);
  check_explicit (dp, &dp->disks[0].map, 8);
  check_explicit (dp, &dp->disks[1].map, 8);
  fx_free (&f);

  /* libvirt 9.0: one IOThread per disk, spread, and the reason says why */
  fx_init (&f, HOST2, "balanced");
  vdp_caps_from_versions (&f.caps, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  fx_add (&f, domain_xml ("a", 8, 1, NULL, TWO_DISKS), 0);
  dp = fx_planned (&f, 0);
  assert_int_equal (dp->disks[0].map.kind, VDP_MAP_SINGLE);
  assert_int_equal (dp->disks[1].map.kind, VDP_MAP_SINGLE);
  assert_int_not_equal (dp->disks[0].map.threads[0], dp->disks[1].map.threads[0]);
  assert_true (has_reason (dp, 5, "vhost-user backend"));
  fx_free (&f);
}

static const char *const SCSI_DEVICES =
  "    <controller type='scsi' index='0' model='virtio-scsi'/>\n"
  "    <controller type='scsi' index='1' model='lsilogic'/>\n"
  "    <disk type='file' device='disk'>\n"
  "      <driver name='qemu' type='raw'/>\n"
  "      <source file='/img/s.raw'/>\n"
  "      <target dev='sda' bus='scsi'/>\n"
  "      <address type='drive' controller='0' bus='0' target='0' unit='0'/>\n"
  "    </disk>\n";

static void
test_rule6_scsi (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;

  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 4, 1, NULL, SCSI_DEVICES), 0);
  dp = fx_planned (&f, 0);
  assert_int_equal (dp->controllers[0].kind, VDP_MAP_ROUNDROBIN);
  assert_int_equal (dp->controllers[1].kind, VDP_MAP_NONE);   /* not virtio-scsi */
  assert_int_equal (dp->disks[0].map.kind, VDP_MAP_NONE);     /* SCSI disks take none */
  fx_free (&f);

  fx_init (&f, HOST2, "balanced");
  vdp_caps_from_versions (&f.caps, VDP_VERSION (11, 1, 0), VDP_VERSION (10, 0, 0));
  fx_add (&f, domain_xml ("a", 4, 1, NULL, SCSI_DEVICES), 0);
  dp = fx_planned (&f, 0);
  assert_int_equal (dp->controllers[0].kind, VDP_MAP_SINGLE);
  assert_true (has_reason (dp, 6, "11.2"));
  fx_free (&f);
}

/* ---- rule 7 ---- */

static void
test_rule7_emulator (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;

  fx_init (&f, HOST2, "latency");
  f.policy->emulator = VDP_EMULATOR_LLC;
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 0);
  {
    const struct vdp_pu *v0 = vdp_topology_find_pu (f.topo, (unsigned) hwloc_bitmap_first (dp->vcpu_pins[0]));
    int pu;
    assert_false (hwloc_bitmap_iszero (dp->emulator_pin));
    hwloc_bitmap_foreach_begin (pu, dp->emulator_pin)
      assert_int_equal (vdp_topology_find_pu (f.topo, (unsigned) pu)->l3, v0->l3);
    hwloc_bitmap_foreach_end ();
    for (unsigned v = 0; v < 2; v++)
      assert_false (hwloc_bitmap_intersects (dp->emulator_pin, dp->vcpu_pins[v]));
  }
  fx_free (&f);

  fx_init (&f, HOST2, "latency");       /* housekeeping */
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 1);
  dp = fx_planned (&f, 0);
  assert_true (hwloc_bitmap_isincluded (dp->emulator_pin, node_set (f.topo, 1)));
  for (unsigned v = 0; v < 2; v++)
    assert_false (hwloc_bitmap_intersects (dp->emulator_pin, dp->vcpu_pins[v]));
  assert_true (has_reason (dp, 7, "housekeeping"));
  fx_free (&f);
}

/* ---- rule 8 ---- */

static void
test_rule8_memory (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;

  fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:4 pu:2", "balanced");
  fx_add (&f, domain_xml ("a", 4, 4, NULL, RAW_DISK), 1);
  dp = fx_planned (&f, 0);
  assert_int_equal (dp->memory, VDP_MEMORY_STRICT);
  assert_int_equal (hwloc_bitmap_first (dp->mem_nodes), 1);
  assert_int_equal (hwloc_bitmap_weight (dp->mem_nodes), 1);
  assert_false (dp->create_cells);
  fx_free (&f);

  /* too big for a node: cells that mirror the host nodes */
  fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:4 pu:2", "balanced");
  fx_add (&f, domain_xml ("big", 8, 24, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 0);
  assert_int_equal (hwloc_bitmap_weight (dp->mem_nodes), 2);
  assert_true (dp->create_cells);
  assert_int_equal (dp->n_cells, 2);
  {
    g_auto (VdpBitmap) all = hwloc_bitmap_alloc ();
    guint64 mem = 0;
    for (unsigned c = 0; c < dp->n_cells; c++) {
      assert_false (hwloc_bitmap_iszero (dp->cells[c].vcpus));
      assert_false (hwloc_bitmap_intersects (all, dp->cells[c].vcpus));
      hwloc_bitmap_or (all, all, dp->cells[c].vcpus);
      mem += dp->cells[c].memory_kib;
    }
    assert_int_equal (hwloc_bitmap_weight (all), 8);
    assert_int_equal (mem, 24ULL * 1024 * 1024);
  }
  fx_free (&f);

  fx_init (&f, HOST2, "density");
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  assert_int_equal (fx_planned (&f, 0)->memory, VDP_MEMORY_PREFERRED);
  fx_free (&f);

  fx_init (&f, HOST2, "balanced");
  f.policy->memory = VDP_MEMORY_NONE;
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  assert_int_equal (fx_planned (&f, 0)->memory, VDP_MEMORY_NONE);
  fx_free (&f);
}

/* ---- rule 9 ---- */

static const char *const MIXED_DISKS =
  "    <disk type='file' device='disk'><driver name='qemu' type='raw'/>"
  "<source file='/img/a.raw'/><target dev='vda' bus='virtio'/></disk>\n"
  "    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
  "<source file='/img/b.qcow2'/><target dev='vdb' bus='virtio'/></disk>\n"
  "    <disk type='network' device='disk'><driver name='qemu' type='raw'/>"
  "<source protocol='nbd' name='x'><host name='h' port='10809'/></source>"
  "<target dev='vdc' bus='virtio'/></disk>\n"
  "    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
  "<source file='/img/c.iso'/><target dev='sda' bus='sata'/><readonly/></disk>\n"
  "    <disk type='block' device='disk'><driver name='qemu' type='raw' cache='writeback'/>"
  "<source dev='/dev/sdb'/><target dev='vdd' bus='virtio'/></disk>\n";

static void
test_rule9_disk_driver (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;

  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 2, 1, NULL, MIXED_DISKS), 0);
  f.hints[0][4].odirect = 0;
  f.hints[0][4].odirect_note = NULL;
  dp = fx_planned (&f, 0);
  assert_true (dp->disks[0].set_driver);
  assert_string_equal (dp->disks[0].cache, "none");
  assert_string_equal (dp->disks[0].io, "native");
  assert_false (dp->disks[1].set_driver);     /* qcow2 */
  assert_false (dp->disks[2].set_driver);     /* network */
  assert_false (dp->disks[3].set_driver);     /* cdrom */
  assert_false (dp->disks[4].set_driver);     /* no O_DIRECT */
  assert_true (dp->warnings->len > 0);
  fx_free (&f);

  /* io_uring where the stack has it, native where not */
  fx_init (&f, HOST2, "balanced");
  f.policy->disk_io = VDP_DISK_IO_URING;
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  assert_string_equal (fx_planned (&f, 0)->disks[0].io, "io_uring");
  fx_free (&f);
  fx_init (&f, HOST2, "balanced");
  f.policy->disk_io = VDP_DISK_IO_URING;
  vdp_caps_from_versions (&f.caps, VDP_VERSION (6, 0, 0), VDP_VERSION (4, 2, 0));
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  assert_string_equal (fx_planned (&f, 0)->disks[0].io, "native");
  fx_free (&f);

  /* cache kept as writeback: io='native' would be invalid, so not set */
  fx_init (&f, HOST2, "balanced");
  f.policy->disk_cache = VDP_DISK_CACHE_KEEP;
  fx_add (&f, domain_xml ("a", 2, 1, NULL, MIXED_DISKS), 0);
  dp = fx_planned (&f, 0);
  assert_false (dp->disks[4].set_driver);
  assert_true (has_reason (dp, 9, "needs cache='none'"));
  fx_free (&f);
}

/* ---- rule 10 ---- */

static void
test_rule10_reservations (void **state)
{
  struct fixture f;
  g_autofree char *cg = vdp_test_data ("examples/topologies/32amd64-4s2n4c-cgroup.xml");
  struct vdp_domain_plan *dp;
  g_auto (VdpBitmap) reserved = vdp_cpuset_parse ("0-1,16-17", NULL);

  fx_init (&f, HOST2, "latency");
  hwloc_bitmap_copy (f.policy->host_cpus, reserved);
  fx_add (&f, domain_xml ("a", 4, 1, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 0);
  for (unsigned v = 0; v < 4; v++)
    assert_false (hwloc_bitmap_intersects (dp->vcpu_pins[v], reserved));
  assert_false (hwloc_bitmap_intersects (dp->emulator_pin, reserved));
  for (unsigned k = 0; k < dp->n_iothreads; k++)
    assert_false (hwloc_bitmap_intersects (dp->iothread_pins[k], reserved));
  fx_free (&f);

  /* only allowed PUs, on a cgroup-restricted host */
  fx_init (&f, cg, "balanced");
  fx_add (&f, domain_xml ("a", 4, 1, NULL, RAW_DISK), -1);
  dp = fx_planned (&f, 0);
  for (unsigned v = 0; v < 4; v++)
    assert_true (hwloc_bitmap_isincluded (dp->vcpu_pins[v], f.topo->allowed));
  assert_true (hwloc_bitmap_isincluded (dp->emulator_pin, f.topo->allowed));
  fx_free (&f);

  /* a profile that leaves nothing */
  {
    g_autoptr (GError) err = NULL;
    fx_init (&f, "node:1 core:2 pu:1", "balanced");
    hwloc_bitmap_set_range (f.policy->host_cpus, 0, 1);
    fx_add (&f, domain_xml ("a", 1, 1, NULL, RAW_DISK), 0);
    assert_false (fx_plan (&f, &err));
    assert_non_null (strstr (err->message, "cannot be satisfied"));
    fx_free (&f);
  }
}

/* ---- rule 11 ---- */

static const char *const FOREIGN_PINS =
  "  <cputune>\n    <vcpupin vcpu='0' cpuset='3'/>\n  </cputune>\n";

static void
test_rule11_ownership (void **state)
{
  struct fixture f;

  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 2, 1, FOREIGN_PINS, RAW_DISK), 0);
  assert_false (fx_planned (&f, 0)->place);
  assert_true (has_reason (fx_planned (&f, 0), 11, "--force"));
  assert_true (fx_planned (&f, 0)->set_iothreads);   /* the rest is still tuned */
  fx_free (&f);

  fx_init (&f, HOST2, "balanced");
  f.policy->override = true;
  fx_add (&f, domain_xml ("a", 2, 1, FOREIGN_PINS, RAW_DISK), 0);
  assert_true (fx_planned (&f, 0)->place);
  fx_free (&f);

  /* metadata saying the pins stayed foreign keeps them foreign */
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 2, 1,
                          "  <metadata>\n    <vdp:dataplane xmlns:vdp='" VDP_XMLNS "' placement='foreign'/>\n"
                          "  </metadata>\n  <cputune>\n    <vcpupin vcpu='0' cpuset='3'/>\n  </cputune>\n",
                          RAW_DISK), 0);
  assert_false (fx_planned (&f, 0)->place);
  fx_free (&f);

  /* a foreign single-PU pin is not handed to a dedicated guest */
  fx_init (&f, "node:1 core:4 pu:1", "latency");
  f.policy->iothread_cpus = VDP_IOCPUS_SHARED;
  fx_add (&f, domain_xml ("pinned", 1, 1, "  <cputune>\n    <vcpupin vcpu='0' cpuset='0'/>\n  </cputune>\n",
                          RAW_DISK), 0);
  fx_add (&f, domain_xml ("b", 3, 1, NULL, RAW_DISK), 0);
  for (unsigned v = 0; v < 3; v++)
    assert_false (hwloc_bitmap_isset (fx_planned (&f, 1)->vcpu_pins[v], 0));
  fx_free (&f);
}

/* ---- rules 12 and 13 ---- */

static void
test_rule12_idempotent (void **state)
{
  struct fixture f, g;
  g_autoptr (GError) err = NULL;
  g_autofree char *first = NULL, *second = NULL;
  xmlDocPtr tuned;

  fx_init (&f, HOST2, "latency");
  fx_add (&f, domain_xml ("a", 6, 1, NULL, TWO_DISKS), 1);
  fx_planned (&f, 0);
  tuned = xmlCopyDoc (f.docs[0], 1);
  assert_int_equal (vdp_xmlpatch_apply (tuned, f.plan, &f.plan->domains[0], &err), 0);
  first = vdp_xml_format (tuned);

  fx_init (&g, HOST2, "latency");
  fx_add (&g, g_strdup (first), 1);
  fx_planned (&g, 0);
  assert_string_equal (g.plan->domains[0].hash, f.plan->domains[0].hash);
  assert_int_equal (vdp_xmlpatch_apply (g.docs[0], g.plan, &g.plan->domains[0], &err), 0);
  second = vdp_xml_format (g.docs[0]);
  assert_string_equal (first, second);
  xmlFreeDoc (tuned);
  fx_free (&f);
  fx_free (&g);
}

static void
test_rule13_host_wide (void **state)
{
  struct fixture f;
  g_auto (VdpBitmap) used = hwloc_bitmap_alloc ();

  fx_init (&f, HOST2, "latency");
  fx_add (&f, domain_xml ("small", 2, 1, NULL, RAW_DISK), 0);
  fx_add (&f, domain_xml ("large", 6, 1, NULL, RAW_DISK), 0);
  fx_add (&f, domain_xml ("mid", 4, 1, NULL, RAW_DISK), 0);
  for (unsigned i = 0; i < 3; i++) {
    const struct vdp_domain_plan *dp = fx_planned (&f, i);
    for (unsigned v = 0; v < dp->dom->vcpus; v++) {
      assert_false (hwloc_bitmap_intersects (used, dp->vcpu_pins[v]));
      hwloc_bitmap_or (used, used, dp->vcpu_pins[v]);
    }
    for (unsigned k = 0; k < dp->n_iothreads; k++)
      if (hwloc_bitmap_weight (dp->iothread_pins[k]) == 1
          && !hwloc_bitmap_isincluded (dp->iothread_pins[k], f.plan->io_pool)) {
        assert_false (hwloc_bitmap_intersects (used, dp->iothread_pins[k]));
        hwloc_bitmap_or (used, used, dp->iothread_pins[k]);
      }
  }
  /* largest first: "large" got the home node its disks are on */
  assert_int_equal (fx_planned (&f, 1)->home_node, 0);
  fx_free (&f);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_rule1_home_follows_disks),
    cmocka_unit_test (test_rule2_dedicated),
    cmocka_unit_test (test_rule2_shared),
    cmocka_unit_test (test_rule2_dedicated_too_big),
    cmocka_unit_test (test_rule3_iothread_count),
    cmocka_unit_test (test_rule3_no_devices_and_old_stack),
    cmocka_unit_test (test_rule4_iothread_cpus),
    cmocka_unit_test (test_rule5_mapping),
    cmocka_unit_test (test_rule6_scsi),
    cmocka_unit_test (test_rule7_emulator),
    cmocka_unit_test (test_rule8_memory),
    cmocka_unit_test (test_rule9_disk_driver),
    cmocka_unit_test (test_rule10_reservations),
    cmocka_unit_test (test_rule11_ownership),
    cmocka_unit_test (test_rule12_idempotent),
    cmocka_unit_test (test_rule13_host_wide),
  };
  return cmocka_run_group_tests_name ("planner", tests, NULL, NULL);
}
