/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the planner, one group per rule of DESIGN §4, on synthetic hosts. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "domain.h"
#include "inventory.h"
#include "ioplace.h"
#include "planner.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "vdp-test.h"
#include "xmlpatch.h"

/* Two packages, each one node with two L3s of 4 cores x 2 threads: 32 PUs. */
#define HOST2 "package:2 node:1 l3:2 core:4 pu:2"

/* A plan of some domains, kept together for the test's lifetime. */
#define FX_MAX 40

struct fixture {
  struct vdp_topology *topo;
  struct vdp_policy *policy;
  struct vdp_caps caps;
  unsigned n;
  xmlDocPtr docs[FX_MAX];
  struct vdp_domain *doms[FX_MAX];
  struct vdp_disk_hint *hints[FX_MAX];
  const struct vdp_policy *own[FX_MAX];   /* a domain's own profile, or NULL */
  gboolean context[FX_MAX];               /* only occupies the host */
  unsigned plan_of[FX_MAX];               /* index in plan->domains */
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
  struct vdp_plan_input in[FX_MAX] = { { 0 } }, ctx[FX_MAX] = { { 0 } };
  struct vdp_plan_request req = { f->topo, f->policy, &f->caps, in, 0, ctx, 0 };

  for (unsigned i = 0; i < f->n; i++) {
    struct vdp_plan_input x = { f->doms[i], f->hints[i], f->own[i] };
    if (f->context[i]) {
      ctx[req.n_context++] = x;
    } else {
      f->plan_of[i] = req.n;
      in[req.n++] = x;
    }
  }
  f->plan = vdp_plan_compute_host (&req, error);
  return f->plan != NULL;
}

static struct vdp_domain_plan *
fx_planned (struct fixture *f, unsigned i)
{
  g_autoptr (GError) err = NULL;
  if (f->plan == NULL && !fx_plan (f, &err))
    fail_msg ("plan failed: %s", err->message);
  assert_false (f->context[i]);
  return &f->plan->domains[f->plan_of[i]];
}

/* The domain as planned and patched, parsed again (g_free with
 * vdp_domain_free; the document is kept in @doc_out when not NULL). */
static struct vdp_domain *
fx_output (struct fixture *f, unsigned i, xmlDocPtr *doc_out)
{
  g_autoptr (GError) err = NULL;
  xmlDocPtr doc = xmlCopyDoc (f->docs[i], 1);
  struct vdp_domain *d;

  if (!f->context[i])
    assert_int_equal (vdp_xmlpatch_apply (doc, f->plan, fx_planned (f, i), &err), 0);
  d = vdp_domain_parse (doc, "out", &err);
  assert_non_null (d);
  if (doc_out)
    *doc_out = doc;
  else
    xmlFreeDoc (doc);
  return d;
}

/* Every domain of the fixture's host as it will be, checked against the
 * hard constraints by the tests' own oracle. */
static void
fx_assert_hard (struct fixture *f)
{
  struct vdp_domain *out[FX_MAX];
  g_autoptr (GPtrArray) v = NULL;

  fx_planned (f, f->context[0] ? 1 : 0);
  for (unsigned i = 0; i < f->n; i++)
    out[i] = fx_output (f, i, NULL);
  v = vdp_test_hard_check (f->topo, f->policy, out, f->n);
  for (guint k = 0; k < v->len; k++)
    print_message ("hard constraint crossed: %s\n", (char *) v->pdata[k]);
  assert_int_equal (v->len, 0);
  for (unsigned i = 0; i < f->n; i++)
    vdp_domain_free (out[i]);
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

static gboolean
has_warning (const struct vdp_domain_plan *dp, const char *fragment)
{
  for (guint i = 0; i < dp->warnings->len; i++)
    if (strstr (dp->warnings->pdata[i], fragment))
      return TRUE;
  return FALSE;
}

static int
node_pos_of (const struct vdp_topology *t, unsigned id)
{
  for (size_t n = 0; n < t->n_nodes; n++)
    if (t->nodes[n].id == id)
      return (int) n;
  return -1;
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
  fx_free (&f);

  /* a node of two LLC groups (4 cores x 2 each): a guest that one group
   * holds floats there, and the next one in the other, less loaded */
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 4, 2, NULL, RAW_DISK), 1);
  fx_add (&f, domain_xml ("b", 4, 2, NULL, RAW_DISK), 1);
  {
    int g[2];
    for (unsigned i = 0; i < 2; i++) {
      dp = fx_planned (&f, i);
      g[i] = -1;
      for (size_t k = 0; k < f.topo->n_l3; k++)
        if (hwloc_bitmap_isincluded (dp->vcpu_pins[0], f.topo->l3[k].cpuset))
          g[i] = (int) k;
      assert_true (g[i] >= 0);
      assert_true (hwloc_bitmap_weight (dp->vcpu_pins[0]) >= 4);
      assert_true (has_reason (dp, 2, "in one LLC group of the node"));
      assert_false (dp->overcommitted);
    }
    assert_int_not_equal (g[0], g[1]);
  }
  fx_assert_hard (&f);
  fx_free (&f);

  /* one that no group holds floats over the node (the pool left out) */
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("big", 12, 2, NULL, RAW_DISK), 1);
  dp = fx_planned (&f, 0);
  assert_false (has_reason (dp, 2, "in one LLC group"));
  assert_true (hwloc_bitmap_weight (dp->vcpu_pins[0]) > 8);     /* both groups */
  assert_false (hwloc_bitmap_intersects (dp->vcpu_pins[0], f.plan->io_pool));
  fx_free (&f);
}

static void
test_rule2_dedicated_too_big (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;
  g_autofree char *m = NULL;

  /* a dedicated guest bigger than the host fails alone */
  fx_init (&f, "node:1 core:4 pu:1", "latency");
  fx_add (&f, domain_xml ("big", 8, 1, NULL, RAW_DISK), 0);
  fx_add (&f, domain_xml ("small", 2, 1, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 0);
  assert_true (dp->failed);
  assert_int_equal (f.plan->n_failed, 1);
  m = vdp_misfit_format (dp);
  assert_non_null (strstr (m, "'big' does not fit"));
  assert_non_null (strstr (m, "needs 8 dedicated vCPUs"));
  assert_int_equal (dp->misfit.need_pus, 8);
  assert_int_equal (dp->misfit.host_pus, 4);
  assert_false (fx_planned (&f, 1)->failed);
  fx_assert_hard (&f);
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
    { 16, 8, 0, 0, 8 }, { 32, 8, 0, 0, 8 }, { 16, 4, 0, 0, 4 }, { 16, 0, 0, 0, 4 },
    { 8, 8, 3, 0, 3 }, { 16, 8, 0, 2, 2 }, { 2, 8, 6, 0, 2 },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    struct fixture f;
    fx_init (&f, "package:2 node:1 l3:1 core:16 pu:2", "balanced");
    if (cases[i].max)
      f.policy->iothreads_max = cases[i].max;   /* 0: the profile's (balanced: 4) */
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

  /* nothing can use an IOThread: kept, pinned with the emulator (they
   * must not float over other guests' PUs) */
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 8, 1, "  <iothreads>3</iothreads>\n", NULL), -1);
  assert_int_equal (fx_planned (&f, 0)->n_iothreads, 3);
  for (unsigned k = 0; k < 3; k++)
    assert_true (hwloc_bitmap_isequal (fx_planned (&f, 0)->iothread_pins[k],
                                       fx_planned (&f, 0)->vcpu_pins[0]));
  assert_true (has_reason (fx_planned (&f, 0), 3, "pinned with its vCPUs"));
  fx_free (&f);
  /* ... and, when the vCPU pins are not ours, kept but pinned all the
   * same (unpinned, they would run on every host PU): on the node of the
   * pinned vCPU, off its PU */
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 8, 1, "  <iothreads>3</iothreads>\n"
                          "  <cputune>\n    <vcpupin vcpu='0' cpuset='3'/>\n  </cputune>\n", NULL), -1);
  {
    const struct vdp_domain_plan *dp = fx_planned (&f, 0);
    const struct vdp_pu *pu = vdp_topology_find_pu (f.topo, 3);
    assert_false (dp->place);
    assert_true (dp->set_iothreads);
    assert_int_equal (dp->n_iothreads, 3);
    assert_non_null (dp->iothread_pins);
    for (unsigned k = 0; k < 3; k++) {
      assert_false (hwloc_bitmap_iszero (dp->iothread_pins[k]));
      assert_false (hwloc_bitmap_isset (dp->iothread_pins[k], 3));
      for (size_t n = 0; n < f.topo->n_nodes; n++)
        if ((int) f.topo->nodes[n].id == pu->node)
          assert_true (hwloc_bitmap_isincluded (dp->iothread_pins[k], f.topo->nodes[n].cpuset));
    }
  }
  fx_free (&f);

  /* without mapping, one IOThread per device at most */
  fx_init (&f, HOST2, "balanced");
  vdp_caps_from_versions (&f.caps, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  fx_add (&f, domain_xml ("a", 16, 1, NULL, TWO_DISKS), -1);
  assert_int_equal (fx_planned (&f, 0)->n_iothreads, 2);
  /* the count is said once, the final one with the cap's reason */
  {
    const struct vdp_domain_plan *dp = fx_planned (&f, 0);
    unsigned counts = 0;
    for (guint i = 0; i < dp->reasons->len; i++) {
      const struct vdp_reason *r = dp->reasons->pdata[i];
      if (r->rule == 3 && strstr (r->text, " IOThread") != NULL) {
        counts++;
        assert_true (g_str_has_prefix (r->text, "2 IOThreads: "));
        assert_non_null (strstr (r->text, "without virtqueue mapping"));
      }
    }
    assert_int_equal (counts, 1);
  }
  fx_free (&f);

  /* a queue count claimed only where it caps */
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 4, 1, NULL, RAW_DISK), -1);
  assert_false (has_reason (fx_planned (&f, 0), 3, "queue"));
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

  /* a node too small for a pool: with the vCPUs, said so */
  fx_init (&f, "node:1 core:2 pu:1", "balanced");
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 0);
  assert_true (hwloc_bitmap_iszero (f.plan->io_pool));
  assert_true (hwloc_bitmap_isequal (dp->iothread_pins[0], dp->vcpu_pins[0]));
  assert_true (hwloc_bitmap_isequal (dp->iothread_pins[0], dp->emulator_pin));
  assert_true (has_reason (dp, 4, "with the guest's vCPUs"));
  fx_free (&f);
}

/* ---- rules 5 and 6 ---- */

static void
check_explicit (const struct vdp_topology *t, const struct vdp_domain_plan *dp,
                const struct vdp_map *m, unsigned queues)
{
  g_autofree unsigned *seen = g_new0 (unsigned, queues);

  assert_int_equal (m->kind, VDP_MAP_EXPLICIT);
  assert_int_equal (m->queues, queues);
  for (unsigned k = 0; k < m->n_threads; k++) {
    GArray *qs = m->queue_lists->pdata[k];
    assert_true (qs->len > 0);                  /* every listed IOThread has queues */
    for (guint i = 0; i < qs->len; i++) {
      guint q = g_array_index (qs, guint, i);
      hwloc_const_bitmap_t vcpu = dp->vcpu_pins[q % dp->dom->vcpus];
      VdpLocality got = vdp_io_locality (t, vcpu, dp->iothread_pins[m->threads[k] - 1]);
      assert_true (q < queues);
      seen[q]++;
      /* the claim is the pins' truth */
      assert_int_equal (m->locality[q], got);
      /* queue q runs on the most local IOThread there is */
      for (unsigned j = 0; j < dp->n_iothreads; j++)
        assert_true (vdp_io_locality (t, vcpu, dp->iothread_pins[j]) >= got);
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
  check_explicit (f.topo, dp, &dp->disks[0].map, 8);
  check_explicit (f.topo, dp, &dp->disks[1].map, 8);
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

  /* smt=isolate: the idle siblings of its own cores, no other guest's */
  fx_init (&f, HOST2, "latency");
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 1);
  dp = fx_planned (&f, 0);
  assert_true (hwloc_bitmap_isincluded (dp->emulator_pin, node_set (f.topo, 1)));
  {
    g_auto (VdpBitmap) cores = hwloc_bitmap_alloc ();
    for (unsigned v = 0; v < 2; v++) {
      const struct vdp_pu *pu = vdp_topology_find_pu (f.topo, (unsigned) hwloc_bitmap_first (dp->vcpu_pins[v]));
      assert_false (hwloc_bitmap_intersects (dp->emulator_pin, dp->vcpu_pins[v]));
      hwloc_bitmap_or (cores, cores, f.topo->cores[pu->core].pus);
    }
    assert_true (hwloc_bitmap_isincluded (dp->emulator_pin, cores));
  }
  assert_true (has_reason (dp, 7, "idle SMT siblings"));
  fx_free (&f);

  /* housekeeping without SMT: the node's pool, away from the vCPUs */
  fx_init (&f, "package:2 node:1 l3:1 core:8 pu:1", "latency");
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 1);
  dp = fx_planned (&f, 0);
  assert_true (hwloc_bitmap_isincluded (dp->emulator_pin, node_set (f.topo, 1)));
  assert_true (hwloc_bitmap_isincluded (dp->emulator_pin, f.plan->io_pool));
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

  fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:4 pu:2", "density");
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  assert_int_equal (fx_planned (&f, 0)->memory, VDP_MEMORY_PREFERRED);
  fx_free (&f);

  /* nodes whose memory is unknown (or none): never bound, whatever the
   * profile, small guests and guests that span alike */
  for (unsigned k = 0; k < 3; k++) {
    static const char *const profiles[] = { "balanced", "latency", "density" };
    for (unsigned big = 0; big < 2; big++) {
      fx_init (&f, HOST2, profiles[k]);
      fx_add (&f, domain_xml ("a", big ? 12 : 2, 1, NULL, RAW_DISK), 0);
      dp = fx_planned (&f, 0);
      assert_false (dp->failed);
      assert_int_equal (dp->memory, VDP_MEMORY_NONE);
      assert_true (dp->unbind);
      assert_int_equal (dp->n_cells, 0);
      assert_true (has_reason (dp, 8, "memory is unknown or none"));
      fx_assert_hard (&f);
      fx_free (&f);
    }
  }

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
  f.hints[0][0].odirect = 1;
  f.hints[0][1].odirect = 1;
  f.hints[0][4].odirect = 0;
  dp = fx_planned (&f, 0);
  assert_true (dp->disks[0].set_driver);
  assert_string_equal (dp->disks[0].cache, "none");
  assert_string_equal (dp->disks[0].io, "native");
  assert_true (dp->disks[1].set_driver);      /* qcow2 like raw (seed: mapping wants native) */
  assert_string_equal (dp->disks[1].io, "native");
  assert_false (dp->disks[2].set_driver);     /* network */
  assert_false (dp->disks[3].set_driver);     /* cdrom */
  assert_false (dp->disks[4].set_driver);     /* no O_DIRECT */
  assert_true (dp->warnings->len > 0);
  fx_free (&f);

  /* unknown O_DIRECT: a file's cache is left, and the plan says unknown */
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 2, 1, NULL, MIXED_DISKS), 0);
  dp = fx_planned (&f, 0);
  assert_false (dp->disks[0].set_driver);
  assert_true (has_reason (dp, 9, "unknown"));
  for (guint i = 0; i < dp->reasons->len; i++)
    assert_null (strstr (((struct vdp_reason *) dp->reasons->pdata[i])->text, "assumed"));
  /* a block device always takes O_DIRECT */
  assert_true (dp->disks[4].set_driver);
  assert_string_equal (dp->disks[4].cache, "none");
  fx_free (&f);

  /* io_uring where the stack has it, native where not */
  fx_init (&f, HOST2, "balanced");
  f.policy->disk_io = VDP_DISK_IO_URING;
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  f.hints[0][0].odirect = 1;
  assert_string_equal (fx_planned (&f, 0)->disks[0].io, "io_uring");
  fx_free (&f);
  fx_init (&f, HOST2, "balanced");
  f.policy->disk_io = VDP_DISK_IO_URING;
  vdp_caps_from_versions (&f.caps, VDP_VERSION (6, 0, 0), VDP_VERSION (4, 2, 0));
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  f.hints[0][0].odirect = 1;
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

static const char *const DELIBERATE_DISKS =
  "    <disk type='block' device='disk'><driver name='qemu' type='raw' cache='unsafe'/>"
  "<source dev='/dev/sdb'/><target dev='vda' bus='virtio'/></disk>\n"
  "    <disk type='block' device='disk'><driver name='qemu' type='raw' cache='directsync'/>"
  "<source dev='/dev/sdc'/><target dev='vdb' bus='virtio'/></disk>\n"
  "    <disk type='block' device='lun'><driver name='qemu' type='raw'/>"
  "<source dev='/dev/sdd'/><target dev='sda' bus='scsi'/></disk>\n"
  "    <disk type='block' device='disk'><driver name='qemu' type='raw' queues='2'/>"
  "<source dev='/dev/sde'/><target dev='vdc' bus='virtio'/></disk>\n"
  "    <controller type='scsi' index='0' model='virtio-scsi'/>\n";

/* Point 9: what the domain's owner chose on purpose is kept unless --force. */
static void
test_rule9_deliberate (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;

  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 8, 1, NULL, DELIBERATE_DISKS), 0);
  dp = fx_planned (&f, 0);
  /* unsafe kept; io stays: native needs O_DIRECT */
  assert_true (!dp->disks[0].set_driver || g_strcmp0 (dp->disks[0].cache, "unsafe") == 0);
  assert_true (has_reason (dp, 9, "cache='unsafe' kept"));
  /* directsync kept, io='native' goes with it */
  assert_true (dp->disks[1].set_driver);
  assert_string_equal (dp->disks[1].cache, "directsync");
  assert_string_equal (dp->disks[1].io, "native");
  /* a LUN gets no io= */
  assert_false (dp->disks[2].set_driver);
  assert_true (has_reason (dp, 9, "SG_IO"));
  /* explicit queues kept, IOThreads mapped over the queues that exist */
  assert_int_equal (dp->disks[3].map.queues, 2);
  assert_true (dp->disks[3].map.n_threads <= 2);
  assert_true (has_reason (dp, 5, "queues='2' kept"));
  fx_free (&f);

  fx_init (&f, HOST2, "balanced");
  f.policy->override = true;
  fx_add (&f, domain_xml ("a", 8, 1, NULL, DELIBERATE_DISKS), 0);
  dp = fx_planned (&f, 0);
  assert_string_equal (dp->disks[0].cache, "none");
  assert_string_equal (dp->disks[1].cache, "directsync");
  assert_int_equal (dp->disks[3].map.queues, 8);
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

  /* one vCPU pinned, one floating: no node's I/O pool is theirs, so no
   * IOThread is added (it could only float over every host PU) */
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 2, 1, FOREIGN_PINS, RAW_DISK), 0);
  assert_false (fx_planned (&f, 0)->place);
  assert_true (has_reason (fx_planned (&f, 0), 11, "--force"));
  assert_false (fx_planned (&f, 0)->set_iothreads);
  assert_true (has_reason (fx_planned (&f, 0), 3, "no IOThread added: its vCPUs are not all "
                           "pinned within one NUMA node"));
  fx_free (&f);

  /* every vCPU pinned on one node: the IOThread it gets is pinned in that
   * node's I/O pool, off the vCPUs' PUs and any other guest's 1:1 PUs */
  fx_init (&f, HOST2, "latency");
  fx_add (&f, domain_xml ("a", 2, 1, "  <cputune>\n    <vcpupin vcpu='0' cpuset='2'/>\n"
                          "    <vcpupin vcpu='1' cpuset='3'/>\n  </cputune>\n", RAW_DISK), 0);
  fx_add (&f, domain_xml ("b", 4, 1, NULL, RAW_DISK), 0);
  {
    const struct vdp_domain_plan *a = fx_planned (&f, 0), *b = fx_planned (&f, 1);
    const struct vdp_pu *pu = vdp_topology_find_pu (f.topo, 2);
    assert_false (a->place);
    assert_true (a->set_iothreads);   /* the rest is still tuned */
    assert_true (a->n_iothreads >= 1);
    assert_non_null (a->iothread_pins);
    assert_true (has_reason (a, 4, "the I/O pool of node"));
    for (unsigned k = 0; k < a->n_iothreads; k++) {
      assert_false (hwloc_bitmap_iszero (a->iothread_pins[k]));
      assert_false (hwloc_bitmap_isset (a->iothread_pins[k], 2));
      assert_false (hwloc_bitmap_isset (a->iothread_pins[k], 3));
      for (size_t n = 0; n < f.topo->n_nodes; n++)
        if ((int) f.topo->nodes[n].id == pu->node)
          assert_true (hwloc_bitmap_isincluded (a->iothread_pins[k], f.topo->nodes[n].cpuset));
      for (unsigned v = 0; !b->failed && v < 4; v++)
        assert_false (hwloc_bitmap_intersects (a->iothread_pins[k], b->vcpu_pins[v]));
    }
    /* its emulator, unpinned, runs on b's dedicated PUs: said, as check
     * says it (VDP012) */
    assert_false (b->failed);
    assert_true (has_warning (a, "its emulator has no pin: it runs on every host PU"));
    assert_false (has_warning (b, "emulator has no pin"));
  }
  fx_free (&f);

  /* the same guest with an emulator pin, or with no 1:1 PU of another
   * domain on the host: nothing to say */
  fx_init (&f, HOST2, "latency");
  fx_add (&f, domain_xml ("a", 2, 1, "  <cputune>\n    <vcpupin vcpu='0' cpuset='2'/>\n"
                          "    <vcpupin vcpu='1' cpuset='3'/>\n    <emulatorpin cpuset='2-3'/>\n"
                          "  </cputune>\n", RAW_DISK), 0);
  fx_add (&f, domain_xml ("b", 4, 1, NULL, RAW_DISK), 0);
  assert_false (has_warning (fx_planned (&f, 0), "emulator has no pin"));
  fx_free (&f);
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("a", 2, 1, "  <cputune>\n    <vcpupin vcpu='0' cpuset='2'/>\n"
                          "    <vcpupin vcpu='1' cpuset='3'/>\n  </cputune>\n", RAW_DISK), 0);
  fx_add (&f, domain_xml ("b", 4, 1, NULL, RAW_DISK), 0);
  assert_false (has_warning (fx_planned (&f, 0), "emulator has no pin"));
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

  /* a kept guest's IOThreads never go on a PU another kept guest, planned
   * after it, pins 1:1 (the pool's last core is that PU) */
  fx_init (&f, "node:1 core:6 pu:1", "balanced");
  fx_add (&f, domain_xml ("a", 2, 1, "  <iothreads>4</iothreads>\n  <cputune>\n"
                          "    <vcpupin vcpu='0' cpuset='0'/>\n    <vcpupin vcpu='1' cpuset='1'/>\n"
                          "  </cputune>\n", ""), 0);
  fx_add (&f, domain_xml ("b", 1, 1, "  <cputune>\n    <vcpupin vcpu='0' cpuset='5'/>\n"
                          "  </cputune>\n", RAW_DISK), 0);
  {
    const struct vdp_domain_plan *a = fx_planned (&f, 0);
    assert_false (a->place);
    for (unsigned k = 0; a->iothread_pins && k < a->n_iothreads; k++) {
      assert_false (hwloc_bitmap_isset (a->iothread_pins[k], 5));
      assert_false (hwloc_bitmap_isset (a->iothread_pins[k], 0));
      assert_false (hwloc_bitmap_isset (a->iothread_pins[k], 1));
    }
    assert_false (has_warning (fx_planned (&f, 1), "cross a hard constraint"));
  }
  fx_free (&f);

  /* a foreign single-PU pin is not handed to a dedicated guest */
  fx_init (&f, "node:1 core:6 pu:1", "latency");
  f.policy->iothread_cpus = VDP_IOCPUS_SHARED;
  fx_add (&f, domain_xml ("pinned", 1, 1, "  <cputune>\n    <vcpupin vcpu='0' cpuset='0'/>\n  </cputune>\n",
                          RAW_DISK), 0);
  fx_add (&f, domain_xml ("b", 3, 1, NULL, RAW_DISK), 0);
  for (unsigned v = 0; v < 3; v++)
    assert_false (hwloc_bitmap_isset (fx_planned (&f, 1)->vcpu_pins[v], 0));
  fx_free (&f);
}

/* Dedicated vCPUs on a host whose PUs are isolated but for one core: the
 * guest goes 1:1 on isolated cores, its IOThread and emulator each 1:1 on
 * an idle sibling of its cores (isolated PUs take 1:1 pins only), never
 * shared on the housekeeping core. */
static void
test_isolated_dedicated (void **state)
{
  struct fixture f;

  (void) state;
  fx_init (&f, "node:1 core:4 pu:2", "latency");
  f.policy->isolated = hwloc_bitmap_alloc ();
  hwloc_bitmap_list_sscanf (f.policy->isolated, "2-7");
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  {
    const struct vdp_domain_plan *a = fx_planned (&f, 0);
    assert_false (a->failed);
    assert_int_equal (a->placement, VDP_PLACEMENT_DEDICATED);
    for (unsigned v = 0; v < 2; v++) {
      assert_int_equal (hwloc_bitmap_weight (a->vcpu_pins[v]), 1);
      assert_false (hwloc_bitmap_isset (a->vcpu_pins[v], 0));
      assert_false (hwloc_bitmap_isset (a->vcpu_pins[v], 1));
    }
    assert_int_equal (hwloc_bitmap_weight (a->emulator_pin), 1);
    for (unsigned k = 0; k < a->n_iothreads; k++)
      assert_false (hwloc_bitmap_intersects (a->iothread_pins[k], a->emulator_pin));
    assert_true (has_reason (a, 7, "isolated, so 1:1"));
  }
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

/* ---- hard constraints ---- */

/* A guest counted twice is easy to write: "g%u" names, @n guests of @vcpus. */
static void
fx_add_many (struct fixture *f, unsigned n, unsigned vcpus, unsigned mem_gib, int node)
{
  for (unsigned i = 0; i < n; i++) {
    g_autofree char *name = g_strdup_printf ("g%02u", f->n);
    fx_add (f, domain_xml (name, vcpus, mem_gib, NULL, RAW_DISK), node);
  }
}

static void
test_hard_memory (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;
  guint64 bound[2] = { 0, 0 };

  /* 16 GiB nodes less the 1 GiB reserve: three 6 GiB guests, two per node
   * at most; the fourth spans, never over a node */
  fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:8 pu:2", "balanced");
  fx_add_many (&f, 5, 2, 6, -1);
  for (unsigned i = 0; i < f.n; i++) {
    dp = fx_planned (&f, i);
    if (dp->failed)
      continue;
    assert_int_equal (dp->memory, VDP_MEMORY_STRICT);
    if (dp->n_cells)
      for (unsigned c = 0; c < dp->n_cells; c++)
        bound[dp->cells[c].node] += dp->cells[c].memory_kib;
    else
      bound[hwloc_bitmap_first (dp->mem_nodes)] += dp->dom->memory_kib;
  }
  for (unsigned k = 0; k < 2; k++)
    assert_true (bound[k] <= 15ULL * 1024 * 1024);
  assert_int_equal (f.plan->n_failed, 1);       /* 30 GiB for guests, five ask 30: one does not fit */
  fx_assert_hard (&f);
  fx_free (&f);

  /* the reserve is a profile key */
  fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:8 pu:2", "balanced");
  f.policy->memory_reserve_auto = false;
  f.policy->memory_reserve_kib = 4ULL * 1024 * 1024;
  fx_add (&f, domain_xml ("a", 2, 13, NULL, RAW_DISK), -1);
  dp = fx_planned (&f, 0);
  assert_int_equal (hwloc_bitmap_weight (dp->mem_nodes), 2);   /* 13 > 12: spread over both */
  assert_true (dp->create_cells);
  fx_assert_hard (&f);
  fx_free (&f);

  /* more than the host has: refused, with what it needed */
  fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:8 pu:2", "balanced");
  fx_add (&f, domain_xml ("huge", 4, 64, NULL, RAW_DISK), -1);
  fx_add (&f, domain_xml ("ok", 4, 4, NULL, RAW_DISK), -1);
  dp = fx_planned (&f, 0);
  assert_true (dp->failed);
  assert_int_equal (dp->misfit.need_kib, 64ULL * 1024 * 1024 + vdp_memory_overhead_kib (dp->dom));
  assert_non_null (strstr (dp->misfit.why, "memory"));
  assert_false (fx_planned (&f, 1)->failed);
  fx_free (&f);

  /* density binds 'preferred': never refused for memory; where no node
   * holds it, left unbound rather than crowding strict guests */
  fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:8 pu:2", "density");
  fx_add (&f, domain_xml ("small", 4, 4, NULL, RAW_DISK), -1);
  fx_add (&f, domain_xml ("big", 4, 40, NULL, RAW_DISK), -1);
  assert_int_equal (fx_planned (&f, 0)->memory, VDP_MEMORY_PREFERRED);
  assert_false (fx_planned (&f, 1)->failed);
  assert_int_equal (fx_planned (&f, 1)->memory, VDP_MEMORY_NONE);
  assert_true (fx_planned (&f, 1)->unbind);
  assert_true (has_reason (fx_planned (&f, 1), 8, "not bound"));
  fx_assert_hard (&f);
  fx_free (&f);

  /* QEMU's own memory is bound with the guest's: a guest of exactly what a
   * node has free for guests does not fit it alone (16 GiB nodes less 1
   * GiB reserve: 15 GiB), and the check counts it */
  fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:8 pu:2", "balanced");
  fx_add (&f, domain_xml ("exact", 2, 15, NULL, RAW_DISK), -1);
  dp = fx_planned (&f, 0);
  assert_false (dp->failed);
  assert_int_equal (dp->memory, VDP_MEMORY_STRICT);
  assert_int_equal (hwloc_bitmap_weight (dp->mem_nodes), 2);
  assert_true (has_reason (dp, 8, "QEMU's own memory"));
  {
    guint64 on[2] = { 0, 0 }, cells = 0;
    guint64 qemu = vdp_memory_overhead_kib (dp->dom);
    for (unsigned c = 0; c < dp->n_cells; c++) {
      on[dp->cells[c].node] += dp->cells[c].memory_kib;
      cells += dp->cells[c].memory_kib;
    }
    assert_int_equal (cells, 15ULL * 1024 * 1024);    /* the cells hold the guest's */
    on[dp->cells[0].node] += qemu;
    for (unsigned k = 0; k < 2; k++)
      assert_true (on[k] <= 15ULL * 1024 * 1024);
    assert_true (qemu >= 64 * 1024 && qemu < 256 * 1024);
  }
  fx_assert_hard (&f);
  fx_free (&f);
  {
    struct vdp_host_limits lim;
    struct vdp_footprint fp;
    g_autoptr (GPtrArray) v = vdp_violations_new ();
    fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:8 pu:2", "balanced");
    fx_add (&f, domain_xml ("hand", 2, 15, "  <numatune>\n    <memory mode='strict' nodeset='0'/>\n"
                            "  </numatune>\n", RAW_DISK), -1);
    vdp_host_limits_init (&lim, f.topo, f.policy);
    vdp_footprint_from_domain (&fp, f.topo, f.doms[0]);
    assert_int_equal (vdp_constraints_check (&lim, &fp, 1, v), 1);
    assert_int_equal (((struct vdp_violation *) v->pdata[0])->kind, VDP_HARD_MEMORY);
    vdp_footprint_clear (&fp);
    vdp_host_limits_clear (&lim);
    fx_free (&f);
  }

  /* strict memory on a node whose memory is unknown (or none) crosses the
   * constraint: check reports it, and a hand-bound context guest there is
   * worked around, not copied */
  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("hand", 2, 4, "  <numatune>\n    <memory mode='strict' nodeset='1'/>\n"
                          "  </numatune>\n", RAW_DISK), 1);
  f.context[0] = TRUE;
  fx_add (&f, domain_xml ("new", 2, 1, NULL, RAW_DISK), 1);
  assert_int_equal (fx_planned (&f, 1)->memory, VDP_MEMORY_NONE);
  {
    struct vdp_host_limits lim;
    struct vdp_footprint fp;
    g_autoptr (GPtrArray) v = vdp_violations_new ();
    vdp_host_limits_init (&lim, f.topo, f.policy);
    vdp_footprint_from_domain (&fp, f.topo, f.doms[0]);
    assert_int_equal (vdp_constraints_check (&lim, &fp, 1, v), 1);
    assert_int_equal (((struct vdp_violation *) v->pdata[0])->kind, VDP_HARD_MEMORY);
    assert_non_null (strstr (((struct vdp_violation *) v->pdata[0])->text, "unknown or none"));
    vdp_footprint_clear (&fp);
    vdp_host_limits_clear (&lim);
  }
  fx_free (&f);
}

/* The case: a latency guest's emulator set held PUs that later
 * guests got 1:1.  No 1:1 PU is in any other set, the guest's own
 * floating sets included. */
static void
test_hard_exclusive (void **state)
{
  static const char *const hosts[] = { HOST2, "package:2 node:1 l3:1 core:8 pu:1",
                                       "package:1 node:2 l3:2 core:3 pu:2" };
  for (size_t h = 0; h < G_N_ELEMENTS (hosts); h++)
    for (int prefer = 0; prefer < 2; prefer++) {
      struct fixture f;
      fx_init (&f, hosts[h], "latency");
      if (prefer)
        f.policy->smt = VDP_SMT_PREFER;
      fx_add_many (&f, 3, 3, 1, -1);
      fx_add_many (&f, 4, 2, 1, 0);
      fx_add_many (&f, 3, 1, 1, -1);
      fx_add (&f, domain_xml ("shared", 4, 1, NULL, RAW_DISK), -1);
      f.own[f.n - 1] = vdp_policy_builtin ("balanced", NULL);
      fx_assert_hard (&f);
      vdp_policy_free ((struct vdp_policy *) f.own[f.n - 1]);
      fx_free (&f);
    }
}

/* Floating sets never on isolated PUs; 1:1 pins prefer them. */
static void
test_hard_isolated (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;
  g_auto (VdpBitmap) iso = vdp_cpuset_parse ("0-5,16-21", NULL);

  fx_init (&f, HOST2, "balanced");
  f.policy->isolated = hwloc_bitmap_dup (iso);
  fx_add_many (&f, 3, 4, 1, 0);
  for (unsigned i = 0; i < f.n; i++) {
    dp = fx_planned (&f, i);
    assert_false (hwloc_bitmap_intersects (dp->vcpu_pins[0], iso));
    assert_false (hwloc_bitmap_intersects (dp->emulator_pin, iso));
    for (unsigned k = 0; k < dp->n_iothreads; k++)
      assert_false (hwloc_bitmap_intersects (dp->iothread_pins[k], iso));
  }
  assert_true (hwloc_bitmap_isequal (f.plan->isolated, iso));
  fx_assert_hard (&f);
  fx_free (&f);

  fx_init (&f, HOST2, "latency");
  f.policy->isolated = hwloc_bitmap_dup (iso);
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 0);
  /* vCPUs on isolated cores; the emulator floats off them */
  assert_true (hwloc_bitmap_isincluded (dp->vcpu_pins[0], iso));
  assert_false (hwloc_bitmap_intersects (dp->emulator_pin, iso));
  fx_assert_hard (&f);
  fx_free (&f);
}

/* Never more IOThreads than the PUs granted to them. */
static void
test_hard_iothreads (void **state)
{
  static const char *const profiles[] = { "balanced", "latency", "throughput", "density" };

  for (size_t p = 0; p < G_N_ELEMENTS (profiles); p++) {
    struct fixture f;
    fx_init (&f, "package:2 node:1 l3:1 core:6 pu:1", profiles[p]);
    f.policy->iothreads = 6;
    fx_add_many (&f, 3, 4, 1, -1);
    for (unsigned i = 0; i < f.n; i++) {
      const struct vdp_domain_plan *dp = fx_planned (&f, i);
      g_auto (VdpBitmap) granted = hwloc_bitmap_alloc ();
      if (dp->failed)
        continue;
      for (unsigned k = 0; k < dp->n_iothreads; k++)
        hwloc_bitmap_or (granted, granted, dp->iothread_pins[k]);
      assert_true (dp->n_iothreads <= (unsigned) hwloc_bitmap_weight (granted));
    }
    fx_assert_hard (&f);
    fx_free (&f);
  }
}

/* ---- fit ---- */

static void
test_fit_no_avoidable_split (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;

  /* small guests never split while a node holds them */
  fx_init (&f, "package:2 node:1 l3:1 core:4 pu:2", "latency");
  f.policy->smt = VDP_SMT_PREFER;
  fx_add (&f, domain_xml ("a", 4, 1, NULL, RAW_DISK), -1);
  fx_add (&f, domain_xml ("b", 2, 1, NULL, RAW_DISK), -1);
  fx_add (&f, domain_xml ("c", 2, 1, NULL, RAW_DISK), -1);
  for (unsigned i = 0; i < 3; i++)
    assert_int_equal (hwloc_bitmap_weight (fx_planned (&f, i)->nodes), 1);
  fx_free (&f);

  /* a guest as big as a node is not split for the I/O pool's sake */
  fx_init (&f, "package:2 node:1 l3:1 core:16 pu:2", "balanced");
  fx_add (&f, domain_xml ("big", 32, 1, NULL, RAW_DISK), -1);
  dp = fx_planned (&f, 0);
  assert_int_equal (hwloc_bitmap_weight (dp->nodes), 1);
  assert_false (dp->create_cells);
  fx_free (&f);

  /* spanning: the nearest nodes by NUMA distance, not by index */
  {
    g_autofree char *t = vdp_test_data ("examples/topologies/64amd64-4s2n4ca2co.xml");
    fx_init (&f, t, "latency");
    fx_add (&f, domain_xml ("wide", 12, 1, NULL, RAW_DISK), -1);
    dp = fx_planned (&f, 0);
    assert_int_equal (hwloc_bitmap_weight (dp->nodes), 2);
    {
      int a = hwloc_bitmap_first (dp->nodes), b = hwloc_bitmap_next (dp->nodes, a);
      unsigned d_ab = vdp_topology_distance (f.topo, (size_t) node_pos_of (f.topo, (unsigned) a),
                                             (size_t) node_pos_of (f.topo, (unsigned) b));
      /* no other node is nearer to the home node than the one chosen */
      for (size_t n = 0; n < f.topo->n_nodes; n++)
        if (f.topo->nodes[n].id != (unsigned) a)
          assert_true (vdp_topology_distance (f.topo, (size_t) node_pos_of (f.topo, (unsigned) a), n) >= d_ab);
    }
    fx_free (&f);
  }
}

static void
test_fit_homes_spread (void **state)
{
  struct fixture f;
  unsigned per_node[4] = { 0 };

  fx_init (&f, "package:4 node:1 l3:1 core:4 pu:2", "balanced");
  fx_add_many (&f, 8, 2, 1, -1);
  for (unsigned i = 0; i < f.n; i++)
    per_node[fx_planned (&f, i)->home_node]++;
  for (unsigned k = 0; k < 4; k++)
    assert_int_equal (per_node[k], 2);
  fx_free (&f);
}

/* One impossible guest among many: it alone fails. */
static void
test_fails_alone (void **state)
{
  struct fixture f;

  fx_init (&f, HOST2, "latency");
  fx_add_many (&f, 2, 2, 1, -1);
  fx_add (&f, domain_xml ("impossible", 64, 1, NULL, RAW_DISK), -1);
  fx_add_many (&f, 2, 2, 1, -1);
  for (unsigned i = 0; i < f.n; i++)
    assert_int_equal (fx_planned (&f, i)->failed, i == 2);
  assert_int_equal (f.plan->n_failed, 1);
  assert_int_equal (fx_planned (&f, 2)->misfit.need_pus, 64);
  assert_true (fx_planned (&f, 2)->misfit.best_node >= 0);
  assert_true (f.plan->total_vcpus == 8);    /* the failed one holds nothing */
  fx_assert_hard (&f);
  fx_free (&f);
}

/* Replaces the one occurrence of @from in @text (g_free). */
static char *
replace_once (const char *text, const char *from, const char *to)
{
  const char *at = strstr (text, from);

  assert_non_null (at);
  return g_strdup_printf ("%.*s%s%s", (int) (at - text), text, to, at + strlen (from));
}

/* A guest that spans: of the nodes as near, the one with more free
 * memory is added first. */
static void
test_span_by_free_memory (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;

  fx_init (&f, "node:3(memory=16GB) core:4 pu:1", "density");
  fx_add (&f, domain_xml ("ctx", 1, 8, "  <numatune>\n    <memory mode='strict' nodeset='1'/>\n"
                          "  </numatune>\n", NULL), -1);
  f.context[0] = TRUE;
  fx_add (&f, domain_xml ("six", 6, 2, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 1);
  assert_false (dp->failed);
  assert_int_equal (dp->home_node, 0);
  assert_int_equal (hwloc_bitmap_weight (dp->nodes), 2);
  assert_true (hwloc_bitmap_isset (dp->nodes, 2));      /* not node 1, 8 GiB bound there */
  fx_assert_hard (&f);
  fx_free (&f);
}

/* A spanning guest's cells: vCPUs in proportion to what each node can
 * give, memory split the same way, within what each node holds; the
 * explanation names the same split. */
static void
test_span_proportional (void **state)
{
  static const char *const specs[] = {
    "node:4(memory=32GB) core:8 pu:2", "node:3(memory=32GB) core:16 pu:1",
  };
  (void) state;
  for (size_t k = 0; k < G_N_ELEMENTS (specs); k++) {
    struct fixture f;
    struct vdp_domain_plan *dp;
    fx_init (&f, specs[k], "balanced");
    fx_add (&f, domain_xml ("db", 16, 64, NULL, RAW_DISK), -1);
    dp = fx_planned (&f, 0);
    assert_false (dp->failed);
    assert_true (dp->n_cells >= 3);   /* 64 GiB and QEMU's own need three nodes */
    for (unsigned c = 0; c < dp->n_cells; c++) {
      unsigned v = (unsigned) hwloc_bitmap_weight (dp->cells[c].vcpus);
      guint64 per_vcpu = dp->dom->memory_kib / dp->dom->vcpus;
      guint64 share = dp->dom->memory_kib * v / dp->dom->vcpus;
      /* the nodes are alike: each within one vCPU of the same share */
      assert_true (v * dp->n_cells + dp->n_cells > dp->dom->vcpus);
      assert_true (v * dp->n_cells < dp->dom->vcpus + dp->n_cells);
      /* its memory follows its vCPUs (within one vCPU's worth; QEMU's
       * own rides with cell 0) */
      assert_true (dp->cells[c].memory_kib + per_vcpu >= share);
      assert_true (dp->cells[c].memory_kib <= share + per_vcpu + 512 * 1024);
    }
    {
      g_autofree char *want = g_strdup_printf ("%u vCPU%s and ",
                                               hwloc_bitmap_weight (dp->cells[0].vcpus),
                                               hwloc_bitmap_weight (dp->cells[0].vcpus) == 1
                                               ? "" : "s");
      assert_true (has_reason (dp, 8, want));
      assert_true (has_reason (dp, 8, "in proportion to what it offers"));
    }
    fx_assert_hard (&f);
    fx_free (&f);
  }
}

/* "No vCPU on it" is said of an IOThread only when no vCPU of any guest
 * of the host floats over its PUs in the final plan. */
static void
test_pool_claims_final (void **state)
{
  static const char *const files[] = { "web1", "netcd1", "scsi1", "db1" };
  struct fixture f;
  g_autofree char *cg = vdp_test_data ("examples/topologies/32amd64-4s2n4c-cgroup.xml");
  unsigned said = 0;

  (void) state;
  fx_init (&f, cg, "balanced");
  for (size_t i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *rel = g_strdup_printf ("examples/domains/%s.xml", files[i]);
    g_autofree char *path = vdp_test_data (rel);
    char *xml = NULL;
    assert_true (g_file_get_contents (path, &xml, NULL, NULL));
    fx_add (&f, xml, -1);
  }
  fx_planned (&f, 0);
  for (unsigned i = 0; i < f.plan->n_domains; i++) {
    const struct vdp_domain_plan *dp = &f.plan->domains[i];
    for (guint r = 0; !dp->failed && r < dp->reasons->len; r++) {
      const struct vdp_reason *x = dp->reasons->pdata[r];
      unsigned k;
      if (x->rule != 4 || !g_str_has_prefix (x->subject, "iothread "))
        continue;
      k = (unsigned) atoi (x->subject + 9) - 1;
      for (unsigned j = 0; j < f.plan->n_domains; j++) {
        const struct vdp_domain_plan *o = &f.plan->domains[j];
        gboolean over = FALSE;
        for (unsigned v = 0; !o->failed && v < o->dom->vcpus; v++)
          over |= hwloc_bitmap_intersects (o->vcpu_pins[v], dp->iothread_pins[k]);
        if (over) {
          assert_null (strstr (x->text, "no vCPU on it"));
          said += strstr (x->text, "shared with the floating vCPUs") != NULL;
        }
      }
    }
  }
  assert_true (said > 0);   /* this host is too small to keep them apart */
  fx_free (&f);
}

/* A refusal names the binding constraint, and one host total. */
static void
test_misfit_reason (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;

  (void) state;
  /* PUs are there, memory is not: memory is the reason */
  fx_init (&f, "node:1(memory=6GB) core:4 pu:1", "balanced");
  fx_add (&f, domain_xml ("hog", 1, 8, "  <cputune>\n    <vcpupin vcpu='0' cpuset='0'/>\n"
                          "  </cputune>\n  <numatune>\n    <memory mode='strict' nodeset='0'/>\n"
                          "  </numatune>\n", NULL), -1);
  f.context[0] = TRUE;
  fx_add (&f, domain_xml ("web", 2, 4, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 1);
  assert_true (dp->failed);
  assert_non_null (strstr (dp->misfit.why, "memory left to bind strict"));
  assert_null (strstr (dp->misfit.why, "two PUs"));
  fx_free (&f);

  /* the host's memory in the line is the one its reason counts */
  {
    g_autofree char *cg = vdp_test_data ("examples/topologies/32amd64-4s2n4c-cgroup.xml");
    fx_init (&f, cg, "balanced");
  }
  fx_add (&f, domain_xml ("db", 16, 64, NULL, RAW_DISK), -1);
  dp = fx_planned (&f, 0);
  if (dp->failed && dp->misfit.host_kib != G_MAXUINT64
      && strstr (dp->misfit.why, "MiB free for guests")) {
    g_autofree char *total = g_strdup_printf ("have %" G_GUINT64_FORMAT " MiB free",
                                              dp->misfit.host_kib / 1024);
    assert_non_null (strstr (dp->misfit.why, total));
  } else {
    fail_msg ("db should be refused for memory: %s", dp->failed ? dp->misfit.why : "planned");
  }
  fx_free (&f);
}

/* Largest first leaves gaps: the guests it refuses are tried first, and
 * that order is kept when fewer are refused. */
static void
test_packing_order (void **state)
{
  static const unsigned g[][2] = { { 2, 6 }, { 2, 1 }, { 2, 8 }, { 6, 6 }, { 2, 2 } };
  struct fixture f;

  fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:4 pu:2", "latency");
  for (size_t i = 0; i < G_N_ELEMENTS (g); i++) {
    g_autofree char *name = g_strdup_printf ("g%zu", i);
    fx_add (&f, domain_xml (name, g[i][0], g[i][1], NULL, NULL), -1);
  }
  fx_planned (&f, 0);
  assert_int_equal (f.plan->n_failed, 2);      /* three refused largest first */
  for (unsigned i = 0; i < f.n; i++)
    if (!fx_planned (&f, i)->failed)
      assert_true (has_reason (fx_planned (&f, i), 13, "fitted before the larger guests"));
  fx_assert_hard (&f);
  fx_free (&f);
}

/* smt=prefer: vCPUs on both siblings of a core are told to the guest as
 * threads of one core. */
static void
test_smt_prefer_topology (void **state)
{
  struct fixture f;
  struct vdp_domain *out;

  fx_init (&f, "package:1 node:1(memory=16GB) l3:1 core:8 pu:2", "latency");
  f.policy->smt = VDP_SMT_PREFER;
  fx_add (&f, domain_xml ("four", 4, 1, NULL, RAW_DISK), -1);
  fx_add (&f, domain_xml ("three", 3, 1, NULL, RAW_DISK), -1);
  fx_add (&f, domain_xml ("own", 2, 1, "  <cpu>\n    <topology sockets='2' dies='1' cores='1' "
                          "threads='1'/>\n  </cpu>\n", RAW_DISK), -1);
  assert_int_equal (fx_planned (&f, 0)->guest_threads, 2);
  assert_true (has_reason (fx_planned (&f, 0), 2, "2 cores x 2 threads"));
  out = fx_output (&f, 0, NULL);
  assert_int_equal (out->sockets, 1);
  assert_int_equal (out->cores, 2);
  assert_int_equal (out->threads, 2);
  vdp_domain_free (out);
  assert_int_equal (fx_planned (&f, 1)->guest_threads, 0);     /* an odd count: left alone */
  assert_int_equal (fx_planned (&f, 2)->guest_threads, 0);     /* its own topology kept */
  out = fx_output (&f, 2, NULL);
  assert_int_equal (out->sockets, 2);
  assert_int_equal (out->threads, 1);
  vdp_domain_free (out);
  fx_assert_hard (&f);
  fx_free (&f);

  /* smt=isolate: siblings stay idle, nothing to tell */
  fx_init (&f, "package:1 node:1(memory=16GB) l3:1 core:8 pu:2", "latency");
  fx_add (&f, domain_xml ("four", 4, 1, NULL, RAW_DISK), -1);
  assert_int_equal (fx_planned (&f, 0)->guest_threads, 0);
  fx_free (&f);
}

/* Memory that unbound guests are estimated to use on a node does not
 * split a guest whose strict memory fits the node but for it. */
static void
test_estimate_no_split (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;

  fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:8 pu:2", "balanced");
  fx_add (&f, domain_xml ("unbound", 4, 20, NULL, NULL), -1);    /* 10 GiB a node, estimated */
  f.context[0] = TRUE;
  fx_add (&f, domain_xml ("eight", 8, 8, NULL, RAW_DISK), -1);
  dp = fx_planned (&f, 1);
  assert_false (dp->failed);
  assert_int_equal (hwloc_bitmap_weight (dp->nodes), 1);
  assert_int_equal (dp->memory, VDP_MEMORY_STRICT);
  assert_int_equal (dp->n_cells, 0);
  assert_true (has_reason (dp, 8, "not split for an estimate"));
  fx_assert_hard (&f);
  /* and the node's overcommit is said */
  {
    gboolean said = FALSE;
    for (guint k = 0; k < f.plan->warnings->len; k++)
      said |= strstr (f.plan->warnings->pdata[k], "memory overcommitted") != NULL;
    assert_true (said);
  }
  fx_free (&f);

  /* bound memory still decides: two such guests do not share a node */
  fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:8 pu:2", "balanced");
  fx_add (&f, domain_xml ("unbound", 4, 20, NULL, NULL), -1);
  f.context[0] = TRUE;
  fx_add (&f, domain_xml ("e1", 8, 8, NULL, RAW_DISK), -1);
  fx_add (&f, domain_xml ("e2", 8, 8, NULL, RAW_DISK), -1);
  assert_false (hwloc_bitmap_isequal (fx_planned (&f, 1)->nodes, fx_planned (&f, 2)->nodes));
  fx_assert_hard (&f);
  fx_free (&f);
}

/* latency on a host without SMT: no idle siblings, so each guest's first
 * IOThread gets a whole core of its own in its vCPUs' LLC, not a pool
 * shared with other guests' IOThreads and emulators (the others go to
 * the pool, as it says). */
static void
test_latency_no_smt_io (void **state)
{
  struct fixture f;

  fx_init (&f, "package:2 node:1(memory=32GB) l3:1 core:12 pu:1", "latency");
  fx_add (&f, domain_xml ("a", 4, 2, NULL, TWO_DISKS), -1);
  fx_add (&f, domain_xml ("b", 4, 2, NULL, TWO_DISKS), -1);
  fx_add (&f, domain_xml ("c", 2, 2, NULL, TWO_DISKS), -1);
  for (unsigned i = 0; i < f.n; i++) {
    struct vdp_domain_plan *dp = fx_planned (&f, i);
    assert_false (dp->failed);
    assert_int_equal (dp->placement, VDP_PLACEMENT_DEDICATED);
    assert_true (dp->n_iothreads >= 1);
    assert_int_equal (hwloc_bitmap_weight (dp->iothread_pins[0]), 1);
    assert_false (hwloc_bitmap_intersects (dp->iothread_pins[0], dp->emulator_pin));
    assert_int_equal (dp->iothread_l3[0], dp->vcpu_l3[0]);
    for (unsigned k = 1; k < dp->n_iothreads; k++)
      assert_false (hwloc_bitmap_intersects (dp->iothread_pins[k], dp->iothread_pins[0]));
    assert_true (has_reason (dp, 4, "core kept for the guest's I/O"));
  }
  fx_assert_hard (&f);
  fx_free (&f);
}

/* latency on a host whose layout leaves no room for dedicated vCPUs:
 * shared placement, with the reason; a host that is only full still
 * refuses. */
static void
test_dedicated_degrades (void **state)
{
  static const char *const small[] = { "pack:1 core:2 pu:1",
                                       "examples/topologies/2amd64-kvm-guest.xml" };
  struct fixture f;
  struct vdp_domain_plan *dp;

  for (size_t h = 0; h < G_N_ELEMENTS (small); h++) {
    g_autofree char *path = strchr (small[h], '/') ? vdp_test_data (small[h]) : g_strdup (small[h]);
    fx_init (&f, path, "latency");
    fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), -1);
    dp = fx_planned (&f, 0);
    assert_false (dp->failed);
    assert_int_equal (dp->placement, VDP_PLACEMENT_SHARED);
    assert_string_equal (dp->policy->name, "latency");
    assert_true (has_reason (dp, 2, "shared placement instead"));
    assert_true (dp->warnings->len > 0);
    for (unsigned v = 0; v < 2; v++)
      assert_true (hwloc_bitmap_weight (dp->vcpu_pins[v]) > 1);
    fx_assert_hard (&f);
    fx_free (&f);
  }

  /* degraded guests go after those that fit dedicated: the small one
   * keeps its dedicated PU although the big one comes first */
  fx_init (&f, "package:1 node:1 l3:1 core:4 pu:1", "latency");
  fx_add (&f, domain_xml ("big", 4, 1, NULL, RAW_DISK), -1);
  fx_add (&f, domain_xml ("small", 1, 1, NULL, RAW_DISK), -1);
  assert_int_equal (fx_planned (&f, 0)->placement, VDP_PLACEMENT_SHARED);
  assert_false (fx_planned (&f, 0)->failed);
  assert_int_equal (fx_planned (&f, 1)->placement, VDP_PLACEMENT_DEDICATED);
  assert_false (fx_planned (&f, 1)->failed);
  assert_false (hwloc_bitmap_intersects (fx_planned (&f, 0)->vcpu_pins[0],
                                         fx_planned (&f, 1)->vcpu_pins[0]));
  fx_assert_hard (&f);
  fx_free (&f);

  /* room for dedicated vCPUs, taken by others: refused, not degraded */
  fx_init (&f, "package:1 node:1 l3:1 core:4 pu:1", "latency");
  fx_add (&f, domain_xml ("big", 2, 1, NULL, RAW_DISK), -1);
  fx_add (&f, domain_xml ("late", 2, 1, NULL, RAW_DISK), -1);
  assert_int_equal (fx_planned (&f, 0)->placement, VDP_PLACEMENT_DEDICATED);
  assert_false (fx_planned (&f, 0)->failed);
  assert_true (fx_planned (&f, 1)->failed);
  assert_false (has_reason (fx_planned (&f, 1), 2, "shared placement"));
  fx_assert_hard (&f);
  fx_free (&f);
}

/* A refused guest keeps what it holds: its 1:1 pins go to nobody else, and
 * the guests planned beside it are not refused for colliding with them. */
static void
test_refused_keeps_pins (void **state)
{
  struct fixture f, g;
  xmlDocPtr out;
  struct vdp_domain *d;
  g_autofree char *text = NULL, *grown = NULL;
  g_auto (VdpBitmap) held = hwloc_bitmap_alloc ();

  fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:8 pu:2", "latency");
  fx_add (&f, domain_xml ("g1", 4, 2, NULL, RAW_DISK), 1);
  d = fx_output (&f, 0, &out);
  assert_false (fx_planned (&f, 0)->failed);
  text = vdp_xml_format (out);
  vdp_domain_free (d);
  xmlFreeDoc (out);
  /* it grows past any node: refused when planned again */
  grown = replace_once (text, "<vcpu placement=\"static\">4</vcpu>",
                        "<vcpu placement=\"static\">40</vcpu>");

  for (unsigned trial = 0; trial < 2; trial++) {
    fx_init (&g, "package:2 node:1(memory=16GB) l3:1 core:8 pu:2", "latency");
    fx_add (&g, g_strdup (grown), 1);
    /* newcomers that want g1's node, listed before or after it */
    for (unsigned k = 0; k < 3; k++)
      fx_add (&g, domain_xml (trial ? "zz" : "aa", 4, 1, NULL, RAW_DISK), 1);
    assert_true (fx_planned (&g, 0)->failed);
    for (unsigned i = 1; i < g.n; i++)
      if (fx_planned (&g, i)->failed)
        print_message ("refused: %s\n", fx_planned (&g, i)->misfit.why);
    assert_int_equal (g.plan->n_failed, 1);
    /* what g1 holds: its vCPU PUs and, under smt=isolate, their cores */
    hwloc_bitmap_zero (held);
    for (unsigned v = 0; v < 4; v++) {
      const struct vdp_pu *pu;
      assert_non_null (g.doms[0]->vcpupin[v]);
      pu = vdp_topology_find_pu (g.topo, (unsigned) hwloc_bitmap_first (g.doms[0]->vcpupin[v]));
      hwloc_bitmap_or (held, held, g.topo->cores[pu->core].pus);
    }
    for (unsigned i = 1; i < g.n; i++) {
      struct vdp_domain_plan *dp = fx_planned (&g, i);
      assert_false (dp->failed);
      for (unsigned v = 0; v < 4; v++)
        assert_false (hwloc_bitmap_intersects (dp->vcpu_pins[v], held));
      assert_false (hwloc_bitmap_intersects (dp->emulator_pin, held));
      for (unsigned k = 0; k < dp->n_io_slots; k++)
        assert_false (hwloc_bitmap_intersects (dp->iothread_pins[k], held));
    }
    assert_true (has_reason (fx_planned (&g, 0), 0, "stay in place"));
    fx_free (&g);
  }
  fx_free (&f);
}

/* The host's other domains: their pins and memory are worked around. */
static void
test_context (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;
  g_auto (VdpBitmap) foreign = vdp_cpuset_parse ("0-3", NULL);

  fx_init (&f, "package:2 node:1(memory=16GB) l3:1 core:4 pu:2", "latency");
  fx_add (&f, domain_xml ("hand", 4, 13, "  <cputune>\n    <vcpupin vcpu='0' cpuset='0'/>\n"
                          "    <vcpupin vcpu='1' cpuset='1'/>\n    <vcpupin vcpu='2' cpuset='2'/>\n"
                          "    <vcpupin vcpu='3' cpuset='3'/>\n    <emulatorpin cpuset='4-5'/>\n"
                          "  </cputune>\n  <numatune>\n    <memory mode='strict' nodeset='0'/>\n"
                          "  </numatune>\n", RAW_DISK), 0);
  f.context[0] = TRUE;
  fx_add (&f, domain_xml ("new", 2, 4, NULL, RAW_DISK), 0);
  dp = fx_planned (&f, 1);
  assert_false (dp->failed);
  /* node 0 has no memory left beside the hand-pinned guest: node 1 */
  assert_int_equal (dp->home_node, 1);
  for (unsigned v = 0; v < 2; v++)
    assert_false (hwloc_bitmap_intersects (dp->vcpu_pins[v], foreign));
  fx_assert_hard (&f);
  /* it is counted in the host's totals */
  assert_int_equal (f.plan->total_vcpus, 6);
  fx_free (&f);
}

/* The host's other domains crossing a hard constraint among themselves:
 * said, and planned around. */
static void
test_context_crossing (void **state)
{
  struct fixture f;
  gboolean said = FALSE;

  fx_init (&f, HOST2, "balanced");
  fx_add (&f, domain_xml ("c1", 1, 1, "  <cputune>\n    <vcpupin vcpu='0' cpuset='2'/>\n"
                          "  </cputune>\n", NULL), -1);
  fx_add (&f, domain_xml ("c2", 1, 1, "  <cputune>\n    <vcpupin vcpu='0' cpuset='2-3'/>\n"
                          "  </cputune>\n", NULL), -1);
  f.context[0] = f.context[1] = TRUE;
  fx_add (&f, domain_xml ("new", 2, 1, NULL, RAW_DISK), -1);
  assert_false (fx_planned (&f, 2)->failed);
  for (guint k = 0; k < f.plan->warnings->len; k++)
    said |= strstr (f.plan->warnings->pdata[k], "domain 'c1' (not planned) crosses a hard "
                    "constraint: vcpu 0: pinned 1:1 to PU 2") != NULL;
  assert_true (said);
  for (unsigned v = 0; v < 2; v++)
    assert_false (hwloc_bitmap_isset (fx_planned (&f, 2)->vcpu_pins[v], 2));
  fx_free (&f);
}

/* A tuned guest keeps its place while its recorded plan holds. */
static void
test_recorded_plan_kept (void **state)
{
  struct fixture f, g;
  xmlDocPtr out;
  struct vdp_domain *d;
  g_autofree char *text = NULL;
  g_autofree char *hash = NULL;

  fx_init (&f, HOST2, "latency");
  fx_add (&f, domain_xml ("a", 4, 1, NULL, RAW_DISK), 0);
  d = fx_output (&f, 0, &out);
  hash = g_strdup (fx_planned (&f, 0)->hash);
  text = vdp_xml_format (out);
  vdp_domain_free (d);
  xmlFreeDoc (out);

  /* planned again beside a newcomer that wants the same node: kept */
  fx_init (&g, HOST2, "latency");
  fx_add (&g, domain_xml ("aa-first", 4, 1, NULL, RAW_DISK), 0);
  fx_add (&g, g_strdup (text), 0);
  assert_true (fx_planned (&g, 1)->kept);
  assert_string_equal (fx_planned (&g, 1)->hash, hash);
  assert_true (has_reason (fx_planned (&g, 1), 12, "still holds"));
  fx_assert_hard (&g);
  fx_free (&g);

  /* another profile: planned afresh */
  fx_init (&g, HOST2, "balanced");
  fx_add (&g, g_strdup (text), 0);
  assert_false (fx_planned (&g, 0)->kept);
  assert_int_equal (fx_planned (&g, 0)->placement, VDP_PLACEMENT_SHARED);
  fx_free (&g);

  /* its recorded profile, when it is the domain's own */
  fx_init (&g, HOST2, "balanced");
  fx_add (&g, g_strdup (text), 0);
  g.own[0] = f.policy;
  assert_true (fx_planned (&g, 0)->kept);
  fx_free (&g);
  fx_free (&f);
}

/* Pools are sized from the IOThreads placed on them, with a cap. */
static void
test_pools_follow_load (void **state)
{
  struct fixture f;
  unsigned pool1, pool4;

  fx_init (&f, "package:1 node:1 l3:1 core:16 pu:2", "balanced");
  fx_add_many (&f, 1, 2, 1, -1);
  pool1 = (unsigned) hwloc_bitmap_weight (fx_planned (&f, 0) ? f.plan->io_pool : NULL);
  fx_free (&f);
  fx_init (&f, "package:1 node:1 l3:1 core:16 pu:2", "balanced");
  fx_add_many (&f, 6, 4, 1, -1);
  fx_planned (&f, 0);
  pool4 = (unsigned) hwloc_bitmap_weight (f.plan->io_pool);
  assert_int_equal (pool1, 2);
  assert_true (pool4 > pool1);                 /* 12 IOThreads, 4 a PU: 3, whole cores: 4 */
  assert_true (pool4 <= 32 / 4);               /* pool_cap 25% */
  /* IOThreads that share pool PUs poll less */
  assert_int_equal (fx_planned (&f, 0)->poll_max, 8192);
  fx_assert_hard (&f);
  fx_free (&f);

  /* short: fewer IOThreads, said so */
  fx_init (&f, "package:1 node:1 l3:1 core:8 pu:1", "balanced");
  f.policy->pool_cap = 25;
  fx_add_many (&f, 5, 4, 1, -1);
  fx_planned (&f, 0);
  assert_true (f.plan->warnings->len > 0);
  assert_non_null (strstr (f.plan->warnings->pdata[0], "I/O capacity short on node 0"));
  fx_assert_hard (&f);
  fx_free (&f);

  /* nothing runs in a pool: none is kept */
  fx_init (&f, "package:2 node:1 l3:1 core:8 pu:2", "balanced");
  fx_add (&f, domain_xml ("a", 2, 1, NULL, RAW_DISK), 0);
  fx_planned (&f, 0);
  assert_true (hwloc_bitmap_iszero (f.plan->nodes[1].pool));
  fx_free (&f);
}

/* A guest spanning nodes has IOThreads on each, and every queue an
 * IOThread on its vCPU's node. */
static void
test_locality_spanning (void **state)
{
  struct fixture f;
  struct vdp_domain_plan *dp;
  g_auto (VdpBitmap) io_nodes = hwloc_bitmap_alloc ();

  fx_init (&f, "package:2 node:1 l3:2 core:4 pu:2", "throughput");
  fx_add (&f, domain_xml ("wide", 24, 1, NULL, RAW_DISK), -1);
  dp = fx_planned (&f, 0);
  assert_int_equal (hwloc_bitmap_weight (dp->nodes), 2);
  for (unsigned k = 0; k < dp->n_iothreads; k++)
    if (dp->iothread_node[k] >= 0)
      hwloc_bitmap_set (io_nodes, (unsigned) dp->iothread_node[k]);
  assert_true (hwloc_bitmap_isequal (io_nodes, dp->nodes));
  check_explicit (f.topo, dp, &dp->disks[0].map, 24);
  for (unsigned q = 0; q < 24; q++)
    assert_true (dp->disks[0].map.locality[q] <= VDP_LOCAL_NODE);
  fx_free (&f);
}

static unsigned
count_fit (const char *topo, const char *profile, int smt, unsigned vcpus, unsigned tries)
{
  struct fixture f;
  unsigned fit = 0;

  fx_init (&f, topo, profile);
  if (smt >= 0)
    f.policy->smt = (VdpSmt) smt;
  fx_add_many (&f, tries, vcpus, 1, -1);
  for (unsigned i = 0; i < f.n; i++)
    fit += !fx_planned (&f, i)->failed;
  fx_assert_hard (&f);
  fx_free (&f);
  return fit;
}

/* Point 7: at least as dense as Nova's policies on the saved 2-node host. */
static void
test_packing (void **state)
{
  g_autofree char *t = vdp_test_data ("examples/topologies/32em64t-2n8c2t-pci-wholeio.xml");

  assert_true (count_fit (t, "latency", -1, 4, 8) >= 3);
  assert_true (count_fit (t, "latency", VDP_SMT_PREFER, 2, 16) >= 13);
}

/* throughput differs from balanced where the man page says. */
static void
test_profiles_differ (void **state)
{
  struct fixture b, t;
  struct vdp_domain_plan *db, *dt;
  g_autoptr (vdp_policy) pb = vdp_policy_builtin ("balanced", NULL);
  g_autoptr (vdp_policy) pt = vdp_policy_builtin ("throughput", NULL);

  assert_true (pt->iothreads_max > pb->iothreads_max);
  assert_true (pt->pool_share < pb->pool_share);
  assert_true (pt->poll_shared < 0 && pb->poll_shared > 0);
  fx_init (&b, "package:2 node:1 l3:2 core:16 pu:2", "balanced");
  fx_init (&t, "package:2 node:1 l3:2 core:16 pu:2", "throughput");
  fx_add (&b, domain_xml ("a", 16, 1, NULL, RAW_DISK), 0);
  fx_add (&t, domain_xml ("a", 16, 1, NULL, RAW_DISK), 0);
  db = fx_planned (&b, 0);
  dt = fx_planned (&t, 0);
  assert_true (dt->n_iothreads > db->n_iothreads);
  assert_int_equal (dt->disks[0].map.kind, VDP_MAP_EXPLICIT);
  assert_int_equal (db->disks[0].map.kind, VDP_MAP_ROUNDROBIN);
  assert_true (hwloc_bitmap_weight (t.plan->io_pool) >= (int) dt->n_iothreads);
  assert_int_equal (dt->poll_max, -1);
  assert_string_not_equal (db->hash, dt->hash);
  fx_free (&b);
  fx_free (&t);
}

static void
test_overcommit_ratios (void **state)
{
  struct fixture f;

  fx_init (&f, "package:1 node:1(memory=8GB) l3:1 core:4 pu:1", "density");
  fx_add_many (&f, 3, 4, 4, -1);
  fx_planned (&f, 0);
  assert_int_equal (f.plan->total_vcpus, 12);
  assert_int_equal (f.plan->total_pus, 4);
  /* QEMU's own memory counted with each guest's */
  assert_int_equal (f.plan->total_memory_kib,
                    12ULL * 1024 * 1024 + 3 * vdp_memory_overhead_kib (f.doms[0]));
  {
    guint64 kib = f.topo->nodes[0].memory / 1024;
    assert_int_equal (f.plan->total_avail_kib, kib - MIN (1024 * 1024, kib / 16));
  }
  /* 12 GiB for 7 GiB free: the node's overcommit is said */
  {
    gboolean said = FALSE;
    for (guint k = 0; k < f.plan->warnings->len; k++)
      said |= strstr (f.plan->warnings->pdata[k], "node 0's memory overcommitted") != NULL;
    assert_true (said);
  }
  fx_free (&f);

  /* what fits is not overcommitted */
  fx_init (&f, "package:1 node:1(memory=8GB) l3:1 core:4 pu:1", "density");
  fx_add_many (&f, 2, 1, 2, -1);
  fx_planned (&f, 0);
  for (guint k = 0; k < f.plan->warnings->len; k++)
    assert_null (strstr (f.plan->warnings->pdata[k], "overcommitted"));
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
    cmocka_unit_test (test_isolated_dedicated),
    cmocka_unit_test (test_rule12_idempotent),
    cmocka_unit_test (test_rule13_host_wide),
    cmocka_unit_test (test_rule9_deliberate),
    cmocka_unit_test (test_hard_memory),
    cmocka_unit_test (test_hard_exclusive),
    cmocka_unit_test (test_hard_isolated),
    cmocka_unit_test (test_hard_iothreads),
    cmocka_unit_test (test_fit_no_avoidable_split),
    cmocka_unit_test (test_fit_homes_spread),
    cmocka_unit_test (test_fails_alone),
    cmocka_unit_test (test_refused_keeps_pins),
    cmocka_unit_test (test_dedicated_degrades),
    cmocka_unit_test (test_latency_no_smt_io),
    cmocka_unit_test (test_estimate_no_split),
    cmocka_unit_test (test_smt_prefer_topology),
    cmocka_unit_test (test_packing_order),
    cmocka_unit_test (test_span_by_free_memory),
    cmocka_unit_test (test_misfit_reason),
    cmocka_unit_test (test_pool_claims_final),
    cmocka_unit_test (test_span_proportional),
    cmocka_unit_test (test_context),
    cmocka_unit_test (test_context_crossing),
    cmocka_unit_test (test_recorded_plan_kept),
    cmocka_unit_test (test_pools_follow_load),
    cmocka_unit_test (test_locality_spanning),
    cmocka_unit_test (test_packing),
    cmocka_unit_test (test_profiles_differ),
    cmocka_unit_test (test_overcommit_ratios),
  };
  return cmocka_run_group_tests_name ("planner", tests, NULL, NULL);
}
