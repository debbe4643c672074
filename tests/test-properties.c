/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Property test: random domains planned host-wide on synthetic hosts, with
 * every output checked for the invariants a plan must keep. */
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

static xmlRelaxNGPtr schema_new, schema_90;

static const char *const hosts[] = {
  "package:2 node:1 l3:2 core:6 pu:2",
  "node:4 core:8 pu:2",
  "package:1 l3:4 core:4 pu:1",
  "package:4 node:2 l3:1 core:4 pu:2",
  "package:2 node:1(memory=64GB) l3:1 core:12 pu:2",
  "pack:1 core:2 pu:1",
  "package:2 node:2(memory=32GB) l3:2 core:4 pu:2",
};

static const unsigned vcpu_choices[] = { 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64 };

static char *
random_domain (GRand *r, unsigned idx, unsigned n_nodes)
{
  GString *x = g_string_new (NULL);
  unsigned vcpus = vcpu_choices[g_rand_int_range (r, 0, G_N_ELEMENTS (vcpu_choices))];
  unsigned mem = (unsigned) g_rand_int_range (r, 1, 129);
  unsigned disks = (unsigned) g_rand_int_range (r, 0, 9);
  gboolean scsi = g_rand_boolean (r);
  static const char *const buses[] = { "virtio", "virtio", "virtio", "scsi", "sata" };

  g_string_append_printf (x, "<domain type='kvm'>\n  <name>g%u</name>\n", idx);
  g_string_append_printf (x, "  <memory unit='GiB'>%u</memory>\n", mem);
  if (g_rand_int_range (r, 0, 4) == 0 && vcpus > 1)
    g_string_append_printf (x, "  <vcpu placement='static' current='%u'>%u</vcpu>\n", vcpus / 2, vcpus);
  else
    g_string_append_printf (x, "  <vcpu placement='static'>%u</vcpu>\n", vcpus);
  if (g_rand_int_range (r, 0, 6) == 0)
    g_string_append_printf (x, "  <iothreads>%d</iothreads>\n", g_rand_int_range (r, 1, 5));
  if (g_rand_int_range (r, 0, 8) == 0)
    g_string_append (x, "  <cputune>\n    <vcpupin vcpu='0' cpuset='1'/>\n  </cputune>\n");
  g_string_append (x, "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n");
  if (vcpus >= 2 && g_rand_int_range (r, 0, 5) == 0)
    g_string_append_printf (x, "  <cpu>\n    <numa>\n"
                            "      <cell id='0' cpus='0-%u' memory='%u' unit='MiB'/>\n"
                            "      <cell id='1' cpus='%u-%u' memory='%u' unit='MiB'/>\n"
                            "    </numa>\n  </cpu>\n", vcpus / 2 - 1, mem * 512, vcpus / 2,
                            vcpus - 1, mem * 512);
  g_string_append (x, "  <devices>\n");
  if (scsi)
    g_string_append (x, "    <controller type='scsi' index='0' model='virtio-scsi'/>\n");
  for (unsigned d = 0; d < disks; d++) {
    int kind = g_rand_int_range (r, 0, 6);
    const char *bus = buses[g_rand_int_range (r, 0, scsi ? 5 : 3)];
    const char *prefix = !strcmp (bus, "virtio") ? "vd" : "sd";
    char dev = (char) ('a' + d);

    switch (kind) {
    case 0: case 1:
      g_string_append_printf (x, "    <disk type='file' device='disk'>\n      <driver name='qemu' type='%s'/>\n"
                              "      <source file='/img/g%u-%u.img'/>\n", kind ? "qcow2" : "raw", idx, d);
      break;
    case 2:
      g_string_append_printf (x, "    <disk type='block' device='disk'>\n      <driver name='qemu' type='raw' cache='writeback'/>\n"
                              "      <source dev='/dev/node%u-%u'/>\n", d % MAX (n_nodes, 1), d);
      break;
    case 3:
      g_string_append (x, "    <disk type='network' device='disk'>\n      <driver name='qemu' type='raw'/>\n"
                       "      <source protocol='nbd' name='e'>\n        <host name='h' port='10809'/>\n      </source>\n");
      break;
    case 4:
      g_string_append_printf (x, "    <disk type='file' device='cdrom'>\n      <driver name='qemu' type='raw'/>\n"
                              "      <source file='/iso/%u.iso'/>\n      <readonly/>\n", d);
      bus = "sata";
      prefix = "sd";
      break;
    default:
      g_string_append (x, "    <disk type='block' device='disk'>\n");
      g_string_append_printf (x, "      <source dev='/dev/x%u'/>\n", d);
      break;
    }
    g_string_append_printf (x, "      <target dev='%s%c' bus='%s'/>\n    </disk>\n", prefix, dev, bus);
  }
  g_string_append (x, "  </devices>\n</domain>\n");
  return g_string_free (x, FALSE);
}

static void
check_map (const struct vdp_domain_plan *dp, const struct vdp_map *m)
{
  if (m->kind == VDP_MAP_NONE)
    return;
  for (unsigned k = 0; k < m->n_threads; k++)
    assert_true (m->threads[k] >= 1 && m->threads[k] <= dp->n_iothreads);
  if (m->kind == VDP_MAP_ROUNDROBIN)
    assert_true (m->n_threads <= m->queues);
  if (m->kind == VDP_MAP_EXPLICIT) {
    g_autofree unsigned *seen = g_new0 (unsigned, m->queues);
    for (unsigned k = 0; k < m->n_threads; k++) {
      GArray *qs = m->queue_lists->pdata[k];
      assert_true (qs->len > 0);
      for (guint i = 0; i < qs->len; i++)
        seen[g_array_index (qs, guint, i)]++;
    }
    for (unsigned q = 0; q < m->queues; q++)
      assert_int_equal (seen[q], 1);
  }
}

static void
check_plan (const struct vdp_topology *topo, const struct vdp_policy *pol, const struct vdp_plan *plan)
{
  g_auto (VdpBitmap) dedicated = hwloc_bitmap_alloc ();

  for (unsigned i = 0; i < plan->n_domains; i++) {
    const struct vdp_domain_plan *dp = &plan->domains[i];
    const struct vdp_domain *d = dp->dom;
    g_auto (VdpBitmap) vcpu_all = hwloc_bitmap_alloc ();

    for (unsigned k = 0; k < d->n_disks; k++)
      check_map (dp, &dp->disks[k].map);
    for (unsigned k = 0; k < d->n_controllers; k++)
      check_map (dp, &dp->controllers[k]);
    if (!dp->place)
      continue;
    for (unsigned v = 0; v < d->vcpus; v++) {
      /* pins only on allowed PUs, never on reserved ones */
      assert_false (hwloc_bitmap_iszero (dp->vcpu_pins[v]));
      assert_true (hwloc_bitmap_isincluded (dp->vcpu_pins[v], topo->allowed));
      assert_false (hwloc_bitmap_intersects (dp->vcpu_pins[v], pol->host_cpus));
      if (dp->placement == VDP_PLACEMENT_DEDICATED) {
        /* no dedicated PU used twice on a host */
        assert_int_equal (hwloc_bitmap_weight (dp->vcpu_pins[v]), 1);
        assert_false (hwloc_bitmap_intersects (dedicated, dp->vcpu_pins[v]));
        hwloc_bitmap_or (dedicated, dedicated, dp->vcpu_pins[v]);
      }
      hwloc_bitmap_or (vcpu_all, vcpu_all, dp->vcpu_pins[v]);
    }
    assert_true (hwloc_bitmap_isincluded (dp->emulator_pin, topo->allowed));
    assert_true (hwloc_bitmap_isincluded (dp->emulator_pin,
                                          vdp_topology_find_node (topo, (unsigned) dp->home_node)->cpuset));
    for (unsigned k = 0; dp->set_iothreads && k < dp->n_iothreads; k++) {
      hwloc_const_bitmap_t pin = dp->iothread_pins[k];
      assert_true (hwloc_bitmap_isincluded (pin, topo->allowed));
      assert_false (hwloc_bitmap_intersects (pin, pol->host_cpus));
      /* IOThreads on the home node, where the disks are */
      assert_true (hwloc_bitmap_isincluded (pin, vdp_topology_find_node (topo, (unsigned) dp->home_node)->cpuset));
      if (pol->iothread_cpus == VDP_IOCPUS_SEPARATE && hwloc_bitmap_isincluded (pin, plan->io_pool)) {
        /* a pool PU: no vCPU of any shared guest runs there */
        assert_false (hwloc_bitmap_intersects (pin, vcpu_all));
      }
      if (dp->placement == VDP_PLACEMENT_DEDICATED && hwloc_bitmap_weight (pin) == 1
          && !hwloc_bitmap_isincluded (pin, plan->io_pool)
          && !hwloc_bitmap_isequal (pin, dp->emulator_pin)) {
        assert_false (hwloc_bitmap_intersects (dedicated, pin));
        hwloc_bitmap_or (dedicated, dedicated, pin);
      }
      /* in the LLC of the vCPUs when the pin came from there */
      if (dp->iothread_l3[k] >= 0 && hwloc_bitmap_isincluded (pin, topo->l3[dp->iothread_l3[k]].cpuset))
        assert_true (hwloc_bitmap_intersects (topo->l3[dp->iothread_l3[k]].cpuset, vcpu_all));
    }
  }
}

static void
test_random_hosts (void **state)
{
  GRand *r = g_rand_new_with_seed (20261122);
  static const char *const profiles[] = { "balanced", "latency", "throughput", "density" };
  unsigned batches = 0, domains = 0, refused = 0;

  for (int round = 0; round < 240; round++) {
    g_autoptr (vdp_topology) topo = vdp_topology_load (hosts[round % G_N_ELEMENTS (hosts)], NULL);
    g_autoptr (vdp_policy) pol = vdp_policy_builtin (profiles[g_rand_int_range (r, 0, 4)], NULL);
    unsigned n = (unsigned) g_rand_int_range (r, 1, 7);
    xmlDocPtr docs[6];
    struct vdp_domain **doms = NULL, **doms2 = NULL;
    struct vdp_plan *plan = NULL, *plan2 = NULL;
    xmlDocPtr *out, *out2;
    struct vdp_caps caps;
    g_autoptr (GError) err = NULL;
    int target = g_rand_int_range (r, 0, 3);

    assert_non_null (topo);
    if (g_rand_int_range (r, 0, 4) == 0)
      hwloc_bitmap_set (pol->host_cpus, 0);
    if (target == 0)
      vdp_caps_from_versions (&caps, VDP_CAPS_NEWEST_LIBVIRT, VDP_CAPS_NEWEST_QEMU);
    else if (target == 1)
      vdp_caps_from_versions (&caps, VDP_VERSION (10, 0, 0), VDP_VERSION (9, 0, 0));
    else
      vdp_caps_from_versions (&caps, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
    for (unsigned i = 0; i < n; i++) {
      g_autofree char *xml = random_domain (r, i, (unsigned) topo->n_nodes);
      docs[i] = vdp_xml_read_memory (xml, "gen", NULL);
      assert_non_null (docs[i]);
    }
    out = vdp_test_plan_docs (topo, pol, &caps, docs, n, &plan, &doms, &err);
    if (out == NULL) {
      if (strstr (err->message, "do not fit") == NULL && strstr (err->message, "no usable PU") == NULL
          && strstr (err->message, "no PU left") == NULL)
        fail_msg ("round %d: %s", round, err->message);
      refused++;
      for (unsigned i = 0; i < n; i++)
        xmlFreeDoc (docs[i]);
      continue;
    }
    batches++;
    domains += n;
    check_plan (topo, pol, plan);
    for (unsigned i = 0; i < n; i++) {
      g_autofree char *why = NULL;
      if (!vdp_test_schema_valid (schema_new, out[i], &why))
        fail_msg ("round %d domain %u: invalid: %s", round, i, why);
      if (target == 2 && schema_90 && !vdp_test_schema_valid (schema_90, out[i], &why))
        fail_msg ("round %d domain %u: invalid for libvirt 9.0: %s", round, i, why);
    }
    /* second run over the output: the same documents */
    out2 = vdp_test_plan_docs (topo, pol, &caps, out, n, &plan2, &doms2, &err);
    assert_non_null (out2);
    for (unsigned i = 0; i < n; i++) {
      g_autofree char *a = vdp_xml_format (out[i]);
      g_autofree char *b = vdp_xml_format (out2[i]);
      if (strcmp (a, b) != 0)
        fail_msg ("round %d domain %u: second run changed it", round, i);
    }
    for (unsigned i = 0; i < n; i++) {
      xmlFreeDoc (out[i]);
      xmlFreeDoc (out2[i]);
      xmlFreeDoc (docs[i]);
      vdp_domain_free (doms[i]);
      vdp_domain_free (doms2[i]);
    }
    g_free (out);
    g_free (out2);
    g_free (doms);
    g_free (doms2);
    vdp_plan_free (plan);
    vdp_plan_free (plan2);
  }
  print_message ("# %u host-wide batches, %u domains planned and checked, %u batches refused\n",
                 batches, domains, refused);
  assert_true (batches > 150);
  g_rand_free (r);
}

int
main (void)
{
  g_autofree char *rng = vdp_test_data ("tests/data/libvirt-schemas/domain.rng");
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_random_hosts),
  };
  int rc;

  schema_new = vdp_test_schema_load (rng);
  if (g_file_test ("/usr/share/libvirt/schemas/domain.rng", G_FILE_TEST_EXISTS))
    schema_90 = vdp_test_schema_load ("/usr/share/libvirt/schemas/domain.rng");
  rc = cmocka_run_group_tests_name ("properties", tests, NULL, NULL);
  xmlRelaxNGFree (schema_new);
  if (schema_90)
    xmlRelaxNGFree (schema_90);
  return rc;
}
