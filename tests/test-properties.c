/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Property test: random guests planned host-wide on random hosts (memory-tight
 * nodes, isolated PUs, several L3s per node, SMT or not), beside domains the
 * host already has, every output checked against the hard constraints by the
 * tests' own oracle, and for what a plan must keep. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain.h"
#include "lint.h"
#include "inventory.h"
#include "planner.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "vdp-test.h"
#include "xmlpatch.h"

static xmlRelaxNGPtr schema_new, schema_90;

static const char *const hosts[] = {
  "package:2 node:1(memory=64GB) l3:2 core:6 pu:2",
  "node:4(memory=16GB) core:8 pu:2",
  "package:1 l3:4 core:4 pu:1",
  "package:4 node:2(memory=8GB) l3:1 core:4 pu:2",
  "package:2 node:1(memory=24GB) l3:1 core:12 pu:2",
  "pack:1 core:2 pu:1",
  "package:2 node:2(memory=12GB) l3:2 core:4 pu:2",
  "package:2 node:1(memory=6GB) l3:1 core:8 pu:1",
  "examples/topologies/32em64t-2n8c2t-pci-wholeio.xml",
  "examples/topologies/64amd64-4s2n4ca2co.xml",
  "examples/topologies/32amd64-4s2n4c-cgroup.xml",
  "examples/topologies/16em64t-4s2c2t-offlines.xml",
};

static const unsigned vcpu_choices[] = { 1, 2, 2, 3, 4, 4, 6, 8, 12, 16, 24, 32, 48 };

static char *
random_domain (GRand *r, unsigned idx, unsigned n_nodes, gboolean pinned)
{
  GString *x = g_string_new (NULL);
  unsigned vcpus = vcpu_choices[g_rand_int_range (r, 0, G_N_ELEMENTS (vcpu_choices))];
  unsigned mem = (unsigned) g_rand_int_range (r, 1, 9) * (g_rand_int_range (r, 0, 5) ? 1 : 8);
  unsigned disks = (unsigned) g_rand_int_range (r, 0, 6);
  gboolean scsi = g_rand_boolean (r);
  static const char *const buses[] = { "virtio", "virtio", "virtio", "scsi", "sata" };
  static const char *const caches[] = { "", " cache='writeback'", " cache='none'", " cache='unsafe'",
                                        " cache='directsync'" };

  g_string_append_printf (x, "<domain type='kvm'>\n  <name>g%02u</name>\n", idx);
  g_string_append_printf (x, "  <memory unit='GiB'>%u</memory>\n", mem);
  if (g_rand_int_range (r, 0, 4) == 0 && vcpus > 1)
    g_string_append_printf (x, "  <vcpu placement='static' current='%u'>%u</vcpu>\n", vcpus / 2, vcpus);
  else
    g_string_append_printf (x, "  <vcpu placement='static'>%u</vcpu>\n", vcpus);
  if (g_rand_int_range (r, 0, 6) == 0)
    g_string_append_printf (x, "  <iothreads>%d</iothreads>\n", g_rand_int_range (r, 1, 5));
  if (pinned)
    /* hand-pinned: one vCPU on a PU of its own, the emulator floating over
     * the next two */
    g_string_append_printf (x, "  <cputune>\n    <vcpupin vcpu='0' cpuset='%u'/>\n"
                            "    <emulatorpin cpuset='%u-%u'/>\n  </cputune>\n", 3 * idx + 3,
                            3 * idx + 4, 3 * idx + 5);
  g_string_append (x, "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n");
  if (vcpus >= 2 && g_rand_int_range (r, 0, 6) == 0)
    g_string_append_printf (x, "  <cpu>\n    <numa>\n"
                            "      <cell id='0' cpus='0-%u' memory='%u' unit='MiB'/>\n"
                            "      <cell id='1' cpus='%u-%u' memory='%u' unit='MiB'/>\n"
                            "    </numa>\n  </cpu>\n", vcpus / 2 - 1, mem * 512, vcpus / 2,
                            vcpus - 1, mem * 512);
  g_string_append (x, "  <devices>\n");
  if (scsi)
    g_string_append (x, "    <controller type='scsi' index='0' model='virtio-scsi'/>\n");
  for (unsigned d = 0; d < disks; d++) {
    int kind = g_rand_int_range (r, 0, 7);
    const char *bus = buses[g_rand_int_range (r, 0, scsi ? 5 : 3)];
    const char *prefix = !strcmp (bus, "virtio") ? "vd" : "sd";
    const char *cache = caches[g_rand_int_range (r, 0, G_N_ELEMENTS (caches))];
    char dev = (char) ('a' + d);

    switch (kind) {
    case 0: case 1:
      g_string_append_printf (x, "    <disk type='file' device='disk'>\n      <driver name='qemu' type='%s'%s/>\n"
                              "      <source file='/img/g%u-%u.img'/>\n", kind ? "qcow2" : "raw", cache, idx, d);
      break;
    case 2:
      g_string_append_printf (x, "    <disk type='block' device='disk'>\n      <driver name='qemu' type='raw'%s/>\n"
                              "      <source dev='/dev/node%u-%u'/>\n", cache, d % MAX (n_nodes, 1), d);
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
    case 5:
      g_string_append_printf (x, "    <disk type='block' device='disk'>\n      <driver name='qemu' type='raw' queues='2'/>\n"
                              "      <source dev='/dev/q%u'/>\n", d);
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

/* A split is avoidable when, even at the end, a node holds the guest's
 * vCPUs (free PUs, whole cores under smt=isolate) and its memory. */
static void
check_no_avoidable_split (const struct vdp_topology *t, const struct vdp_policy *host,
                          struct vdp_domain *const *out, const struct vdp_policy *const *pols,
                          unsigned n, unsigned i)
{
  const struct vdp_domain *d = out[i];
  const struct vdp_policy *p = pols[i];
  g_auto (VdpBitmap) used = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) pinned1 = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) nodes = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) usable = hwloc_bitmap_alloc ();
  hwloc_const_bitmap_t iso = host->isolated ? host->isolated : t->isolated;

  for (unsigned v = 0; v < d->vcpus; v++)
    for (size_t k = 0; d->vcpupin[v] && k < t->n_nodes; k++)
      if (hwloc_bitmap_intersects (d->vcpupin[v], t->nodes[k].cpuset))
        hwloc_bitmap_set (nodes, t->nodes[k].id);
  if (hwloc_bitmap_weight (nodes) < 2)
    return;
  hwloc_bitmap_andnot (usable, t->allowed, host->host_cpus);
  for (unsigned j = 0; j < n; j++) {
    const struct vdp_domain *o = out[j];
    gboolean isolate = pols[j]->placement == VDP_PLACEMENT_DEDICATED && pols[j]->smt == VDP_SMT_ISOLATE;
    for (unsigned v = 0; v < o->vcpus; v++)
      if (o->vcpupin[v]) {
        hwloc_bitmap_or (used, used, o->vcpupin[v]);
        if (hwloc_bitmap_weight (o->vcpupin[v]) == 1) {
          hwloc_bitmap_or (pinned1, pinned1, o->vcpupin[v]);
          if (isolate && j != i) {
            const struct vdp_pu *pu = vdp_topology_find_pu (t, (unsigned) hwloc_bitmap_first (o->vcpupin[v]));
            hwloc_bitmap_or (pinned1, pinned1, t->cores[pu->core].pus);
            hwloc_bitmap_or (used, used, t->cores[pu->core].pus);
          }
        }
      }
    if (o->emulatorpin) {
      hwloc_bitmap_or (used, used, o->emulatorpin);
      if (hwloc_bitmap_weight (o->emulatorpin) == 1)
        hwloc_bitmap_or (pinned1, pinned1, o->emulatorpin);
    }
    for (unsigned k = 0; k < o->n_iothreadpin; k++)
      if (o->iothreadpin[k]) {
        hwloc_bitmap_or (used, used, o->iothreadpin[k]);
        if (hwloc_bitmap_weight (o->iothreadpin[k]) == 1)
          hwloc_bitmap_or (pinned1, pinned1, o->iothreadpin[k]);
      }
  }
  for (size_t k = 0; k < t->n_nodes; k++) {
    g_auto (VdpBitmap) free_pus = hwloc_bitmap_alloc ();
    unsigned have = 0;
    guint64 kib = t->nodes[k].memory / 1024, bound = 0;

    hwloc_bitmap_and (free_pus, t->nodes[k].cpuset, usable);
    if (p->placement == VDP_PLACEMENT_DEDICATED) {
      hwloc_bitmap_andnot (free_pus, free_pus, used);
      if (p->smt == VDP_SMT_ISOLATE) {
        for (size_t c = 0; c < t->n_cores; c++) {
          g_auto (VdpBitmap) cu = hwloc_bitmap_alloc ();
          hwloc_bitmap_and (cu, t->cores[c].pus, usable);
          have += t->cores[c].node == (int) t->nodes[k].id && !hwloc_bitmap_iszero (cu)
                  && hwloc_bitmap_isincluded (cu, free_pus);
        }
      } else {
        have = (unsigned) hwloc_bitmap_weight (free_pus);
      }
    } else {
      hwloc_bitmap_andnot (free_pus, free_pus, pinned1);
      hwloc_bitmap_andnot (free_pus, free_pus, iso);
      have = (unsigned) hwloc_bitmap_weight (free_pus);
    }
    if (have < d->vcpus)
      continue;
    if (kib && p->memory == VDP_MEMORY_STRICT) {
      guint64 cap = kib - MIN (kib, vdp_policy_memory_reserve (host, kib));
      for (unsigned j = 0; j < n; j++) {
        g_autofree guint64 *per = g_new0 (guint64, t->n_nodes + 1);
        if (j == i)
          continue;
        if (out[j]->numa_nodeset && out[j]->numa_mode) {
          /* its cells' memory and QEMU's own, as the planner counts it */
          struct vdp_footprint fp;
          (void) per;
          vdp_footprint_from_domain (&fp, t, out[j]);
          bound += fp.strict_kib[k] + fp.preferred_kib[k];
          vdp_footprint_clear (&fp);
        } else {
          /* bound nowhere: counted over the nodes its vCPUs may run on (all,
           * when one of them floats freely), as the man page says */
          g_auto (VdpBitmap) on = hwloc_bitmap_alloc ();
          gboolean all = FALSE;
          for (unsigned v = 0; v < out[j]->vcpus; v++) {
            if (out[j]->vcpupin[v] == NULL) {
              all = TRUE;
              break;
            }
            for (size_t x = 0; x < t->n_nodes; x++)
              if (hwloc_bitmap_intersects (out[j]->vcpupin[v], t->nodes[x].cpuset))
                hwloc_bitmap_set (on, t->nodes[x].id);
          }
          if (all)
            for (size_t x = 0; x < t->n_nodes; x++)
              hwloc_bitmap_set (on, t->nodes[x].id);
          if (hwloc_bitmap_isset (on, t->nodes[k].id))
            bound += out[j]->memory_kib / (guint64) hwloc_bitmap_weight (on);
        }
      }
      {
        /* what it needs there: its memory and QEMU's own */
        struct vdp_footprint fp;
        guint64 need = 0;
        vdp_footprint_from_domain (&fp, t, d);
        for (size_t x = 0; x < t->n_nodes; x++)
          need += fp.strict_kib[x] + fp.preferred_kib[x];
        need += fp.loose_kib;
        vdp_footprint_clear (&fp);
        if (bound + MAX (need, d->memory_kib) > cap)
          continue;
      }
    }
    fail_msg ("domain %s (%s) spans nodes while node %u holds its %u vCPUs (%u free) and "
              "memory", d->name, p->name, t->nodes[k].id, d->vcpus, have);
  }
}

struct round {
  const struct vdp_topology *topo;
  struct vdp_policy *host;
  struct vdp_caps caps;
  unsigned n, n_ctx;
  xmlDocPtr docs[40];
  struct vdp_domain *doms[40];
  const struct vdp_policy *pols[40];
  gboolean context[40];
  gboolean impossible[40];
};

/* Plans the round's planned domains around its context; returns the plan
 * and the patched documents of all domains (context ones as they are). */
static struct vdp_plan *
plan_round (struct round *rd, xmlDocPtr *out, unsigned *plan_of)
{
  struct vdp_plan_input in[40] = { { 0 } }, ctx[40] = { { 0 } };
  struct vdp_plan_request req = { rd->topo, rd->host, &rd->caps, in, 0, ctx, 0 };
  g_autoptr (GError) err = NULL;
  struct vdp_plan *plan;

  for (unsigned i = 0; i < rd->n; i++) {
    struct vdp_plan_input x = { rd->doms[i], NULL, rd->pols[i] };
    if (rd->context[i])
      ctx[req.n_context++] = x;
    else {
      plan_of[i] = req.n;
      in[req.n++] = x;
    }
  }
  plan = vdp_plan_compute_host (&req, &err);
  assert_non_null (plan);
  for (unsigned i = 0; i < rd->n; i++) {
    out[i] = xmlCopyDoc (rd->docs[i], 1);
    if (!rd->context[i])
      assert_int_equal (vdp_xmlpatch_apply (out[i], plan, &plan->domains[plan_of[i]], &err), 0);
  }
  return plan;
}

static void
test_random_hosts (void **state)
{
  GRand *r = g_rand_new_with_seed (20261201);
  static const char *const profiles[] = { "balanced", "latency", "throughput", "density" };
  unsigned rounds = 0, domains = 0, failed = 0, spans = 0;

  for (int round = 0; round < 160; round++) {
    const char *spec = hosts[round % G_N_ELEMENTS (hosts)];
    g_autofree char *path = strchr (spec, '/') ? vdp_test_data (spec) : g_strdup (spec);
    g_autoptr (vdp_topology) topo = vdp_topology_load (path, NULL);
    g_autoptr (vdp_policy) host = vdp_policy_builtin (profiles[g_rand_int_range (r, 0, 4)], NULL);
    g_autoptr (vdp_policy) other = vdp_policy_builtin (profiles[g_rand_int_range (r, 0, 4)], NULL);
    struct round rd = { 0 };
    xmlDocPtr out[40], out2[40];
    struct vdp_domain *parsed[40];
    unsigned plan_of[40], plan_of2[40];
    struct vdp_plan *plan, *plan2;
    int target = g_rand_int_range (r, 0, 3);
    gboolean mixed = g_rand_int_range (r, 0, 4) == 0;

    assert_non_null (topo);
    rd.topo = topo;
    rd.host = host;
    if (g_rand_int_range (r, 0, 3) == 0 && host->placement == VDP_PLACEMENT_DEDICATED)
      host->smt = VDP_SMT_PREFER;
    if (g_rand_int_range (r, 0, 4) == 0)
      hwloc_bitmap_set (host->host_cpus, hwloc_bitmap_first (topo->allowed));
    if (g_rand_int_range (r, 0, 4) == 0) {
      /* an isolcpus= host: the upper half of each node isolated */
      host->isolated = hwloc_bitmap_alloc ();
      for (size_t k = 0; k < topo->n_nodes; k++) {
        int w = hwloc_bitmap_weight (topo->nodes[k].cpuset), i = 0, pu;
        hwloc_bitmap_foreach_begin (pu, topo->nodes[k].cpuset)
          if (i++ >= w / 2)
            hwloc_bitmap_set (host->isolated, (unsigned) pu);
        hwloc_bitmap_foreach_end ();
      }
    }
    if (target == 0)
      vdp_caps_from_versions (&rd.caps, VDP_CAPS_NEWEST_LIBVIRT, VDP_CAPS_NEWEST_QEMU);
    else if (target == 1)
      vdp_caps_from_versions (&rd.caps, VDP_VERSION (10, 0, 0), VDP_VERSION (9, 0, 0));
    else
      vdp_caps_from_versions (&rd.caps, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));

    rd.n = (unsigned) g_rand_int_range (r, 1, 25);
    for (unsigned i = 0; i < rd.n; i++) {
      gboolean pinned = g_rand_int_range (r, 0, 10) == 0 && host->isolated == NULL
                        && hwloc_bitmap_isset (topo->allowed, 3 * i + 3)
                        && hwloc_bitmap_isset (topo->allowed, 3 * i + 4)
                        && hwloc_bitmap_isset (topo->allowed, 3 * i + 5)
                        && !hwloc_bitmap_isset (host->host_cpus, 3 * i + 3);
      g_autofree char *xml = NULL;
      if (i == 0 && round % 5 == 0)
        /* an impossible guest: more memory than any host here has */
        xml = g_strdup_printf ("<domain type='kvm'><name>huge</name><memory unit='TiB'>4</memory>"
                               "<vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os></domain>");
      else
        xml = random_domain (r, i, (unsigned) topo->n_nodes, pinned);
      rd.docs[i] = vdp_xml_read_memory (xml, "gen", NULL);
      assert_non_null (rd.docs[i]);
      rd.doms[i] = vdp_domain_parse (rd.docs[i], "gen", NULL);
      assert_non_null (rd.doms[i]);
      rd.pols[i] = mixed && g_rand_boolean (r) ? other : host;
      rd.context[i] = pinned && g_rand_boolean (r);    /* the host's other domains */
      rd.impossible[i] = i == 0 && round % 5 == 0;
      if (rd.impossible[i] && (host->memory != VDP_MEMORY_STRICT || topo->nodes[0].memory == 0))
        rd.impossible[i] = FALSE;
      if (rd.impossible[i] && rd.pols[i] != host)
        rd.pols[i] = host;
    }

    if (g_getenv ("VDP_DUMP") && atoi (g_getenv ("VDP_DUMP")) == round) {
      g_autofree char *pol = vdp_policy_format (host);
      g_mkdir_with_parents ("/tmp/vdp-round", 0755);
      print_message ("# dump: %s | %s | other %s\n", spec, pol, other->name);
      for (unsigned i = 0; i < rd.n; i++) {
        g_autofree char *x = vdp_xml_format (rd.docs[i]);
        g_autofree char *fn = g_strdup_printf ("/tmp/vdp-round/%s%s-%s.xml", rd.context[i] ? "ctx-" : "",
                                               rd.doms[i]->name, rd.pols[i]->name);
        g_file_set_contents (fn, x, -1, NULL);
      }
    }
    plan = plan_round (&rd, out, plan_of);
    rounds++;
    for (unsigned i = 0; i < rd.n; i++) {
      const struct vdp_domain_plan *dp;
      g_autofree char *why = NULL;
      parsed[i] = vdp_domain_parse (out[i], "out", NULL);
      assert_non_null (parsed[i]);
      if (rd.context[i])
        continue;
      dp = &plan->domains[plan_of[i]];
      domains++;
      if (rd.impossible[i])
        assert_true (dp->failed);
      if (dp->failed) {
        if (g_getenv ("VDP_DEBUG")) {
          g_autofree char *m = vdp_misfit_format (dp);
          print_message ("# round %d: %s\n", round, m);
        }
        failed++;
        assert_non_null (dp->misfit.why);
        continue;
      }
      /* no IOThread of a planned domain is left without a pin: it would
       * run on every host PU, other guests' 1:1 PUs included */
      if (!dp->skipped && !parsed[i]->vcpu_cpuset)
        for (unsigned k = 1; k <= parsed[i]->iothreads; k++) {
          gboolean pinned = FALSE;
          for (unsigned j = 0; j < parsed[i]->n_iothreadpin; j++)
            pinned |= parsed[i]->iothreadpin_id[j] == k && parsed[i]->iothreadpin[j];
          if (!pinned) {
            g_autofree char *x = vdp_xml_format (out[i]);
            g_file_set_contents ("/tmp/vdp-prop-unpinned.xml", x, -1, NULL);
            fail_msg ("round %d (%s): %s: IOThread %u has no pin (/tmp/vdp-prop-unpinned.xml)",
                      round, spec, parsed[i]->name, k);
          }
        }
      spans += hwloc_bitmap_weight (dp->nodes) > 1;
      if (g_getenv ("VDP_DEBUG")) {
        g_autofree char *mn = vdp_cpuset_format (dp->mem_nodes);
        print_message ("# round %d: %s %s mem %d nodes %s kib %" G_GUINT64_FORMAT " cells %u kept %d\n",
                       round, dp->dom->name, dp->policy->name, dp->memory, mn,
                       dp->dom->memory_kib, dp->n_cells, dp->kept);
      }
      if (!vdp_test_schema_valid (schema_new, out[i], &why))
        fail_msg ("round %d domain %u: invalid: %s", round, i, why);
      if (target == 2 && schema_90 && !vdp_test_schema_valid (schema_90, out[i], &why))
        fail_msg ("round %d domain %u: invalid for libvirt 9.0: %s", round, i, why);
    }
    /* every hard constraint on every domain of the host */
    {
      g_autoptr (GPtrArray) v = vdp_test_hard_check (topo, host, parsed, rd.n);
      for (guint k = 0; k < v->len; k++)
        print_message ("# round %d (%s): %s\n", round, spec, (char *) v->pdata[k]);
      assert_int_equal (v->len, 0);
    }
    for (unsigned i = 0; i < rd.n; i++)
      if (!rd.context[i] && !plan->domains[plan_of[i]].failed && !plan->domains[plan_of[i]].kept) {
        if (g_getenv ("VDP_DEBUG"))
          print_message ("# round %d (%s) split check %u\n", round, spec, i);
        check_no_avoidable_split (topo, host, parsed, rd.pols, rd.n, i);
      }

    /* planned again: the same documents, and check agrees with the plan */
    {
      struct round rd2 = rd;
      g_autoptr (GPtrArray) findings = vdp_findings_new ();
      struct vdp_plan_input in[40] = { { 0 } };
      const struct vdp_domain_plan *dps[40] = { 0 };
      gboolean report[40] = { 0 };

      for (unsigned i = 0; i < rd.n; i++) {
        rd2.docs[i] = out[i];
        rd2.doms[i] = parsed[i];
      }
      plan2 = plan_round (&rd2, out2, plan_of2);
      for (unsigned i = 0; i < rd.n; i++) {
        g_autofree char *a = vdp_xml_format (out[i]);
        g_autofree char *b = vdp_xml_format (out2[i]);
        if (strcmp (a, b) != 0) {
          g_file_set_contents ("/tmp/vdp-prop-first.xml", a, -1, NULL);
          g_file_set_contents ("/tmp/vdp-prop-second.xml", b, -1, NULL);
          fail_msg ("round %d domain %u: second run changed it (/tmp/vdp-prop-*.xml)", round, i);
        }
        in[i].dom = parsed[i];
        in[i].policy = rd.pols[i];
        if (!rd.context[i]) {
          dps[i] = &plan2->domains[plan_of2[i]];
          report[i] = !dps[i]->failed;
        }
      }
      vdp_lint_host (topo, host, &rd.caps, in, rd.n, dps, report, findings);
      for (guint k = 0; k < findings->len; k++) {
        const struct vdp_finding *f = findings->pdata[k];
        if (f->severity != VDP_SEVERITY_INFO)
          for (unsigned i = 0; i < rd.n; i++)
            if (g_strcmp0 (parsed[i]->name, f->domain) == 0) {
              g_autofree char *x = vdp_xml_format (out[i]);
              g_file_set_contents ("/tmp/vdp-prop-lint.xml", x, -1, NULL);
            }
        if (f->severity != VDP_SEVERITY_INFO)
          fail_msg ("round %d (%s, %s): check disagrees with the plan: %s %s %s: %s", round,
                    spec, host->name, f->domain, f->id, f->subject, f->message);
      }
      vdp_plan_free (plan2);
    }

    /* one placed guest grows past the host and is planned again with the
     * rest: refused (when dedicated), it keeps what it holds, so nothing
     * it holds 1:1 is given away and nobody collides with it */
    {
      struct round rd3 = rd;
      xmlDocPtr out3[40];
      unsigned plan_of3[40];
      struct vdp_domain *parsed3[40];
      struct vdp_plan *plan3;
      int grown = -1;
      g_autofree char *xml = NULL;
      const char *at;

      for (unsigned i = 0; i < rd.n && grown < 0; i++)
        if (!rd.context[i] && !plan->domains[plan_of[i]].failed
            && plan->domains[plan_of[i]].place && parsed[i]->vcpupin[0])
          grown = (int) i;
      if (grown >= 0) {
        xml = vdp_xml_format (out[grown]);
        at = strstr (xml, "<vcpu");
        assert_non_null (at);
        at = strchr (at, '>') + 1;
        {
          g_autofree char *x = g_strdup_printf ("%.*s4000%s", (int) (at - xml), xml, strchr (at, '<'));
          rd3.docs[grown] = vdp_xml_read_memory (x, "grown", NULL);
        }
        assert_non_null (rd3.docs[grown]);
        rd3.doms[grown] = vdp_domain_parse (rd3.docs[grown], "grown", NULL);
        assert_non_null (rd3.doms[grown]);
        for (unsigned i = 0; i < rd.n; i++)
          if ((int) i != grown) {
            rd3.docs[i] = out[i];
            rd3.doms[i] = parsed[i];
          }
        plan3 = plan_round (&rd3, out3, plan_of3);
        for (unsigned i = 0; i < rd.n; i++) {
          parsed3[i] = vdp_domain_parse (out3[i], "out", NULL);
          assert_non_null (parsed3[i]);
        }
        {
          const struct vdp_domain_plan *g3 = &plan3->domains[plan_of3[grown]];
          g_autoptr (GPtrArray) v = vdp_test_hard_check (topo, host, parsed3, rd.n);
          for (guint k = 0; k < v->len; k++)
            print_message ("# round %d (%s), %s grown: %s\n", round, spec, rd3.doms[grown]->name,
                           (char *) v->pdata[k]);
          assert_int_equal (v->len, 0);
          /* refused, it keeps its 1:1 PUs (the oracle above sees its
           * unchanged definition), and nobody is refused for colliding
           * with it (its memory, QEMU's own grown with its vCPUs, may
           * still move others) */
          if (g3->failed)
            for (unsigned i = 0; i < rd.n; i++) {
              const struct vdp_domain_plan *o;
              if ((int) i == grown || rd.context[i])
                continue;
              o = &plan3->domains[plan_of3[i]];
              if (o->failed && o->misfit.why && strstr (o->misfit.why, "hard constraint")
                  && strstr (o->misfit.why, rd3.doms[grown]->name))
                fail_msg ("round %d: domain %u refused for colliding with refused %s: %s", round,
                          i, rd3.doms[grown]->name, o->misfit.why);
            }
        }
        for (unsigned i = 0; i < rd.n; i++) {
          xmlFreeDoc (out3[i]);
          vdp_domain_free (parsed3[i]);
        }
        xmlFreeDoc (rd3.docs[grown]);
        vdp_domain_free (rd3.doms[grown]);
        vdp_plan_free (plan3);
      }
    }
    for (unsigned i = 0; i < rd.n; i++) {
      xmlFreeDoc (out[i]);
      xmlFreeDoc (out2[i]);
      xmlFreeDoc (rd.docs[i]);
      vdp_domain_free (rd.doms[i]);
      vdp_domain_free (parsed[i]);
    }
    vdp_plan_free (plan);
  }
  print_message ("# %u hosts planned, %u domains checked, %u refused, %u spanning nodes\n",
                 rounds, domains, failed, spans);
  assert_true (domains > 1000);
  assert_true (spans > 20);
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
