/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark (not a test): how many identical guests of V vCPUs (1 GiB, one
 * virtio disk) each profile places on a saved host, next to what OpenStack
 * Nova and KubeVirt would pin there (from their rules, see bench/README.md).
 *
 * Dedicated profiles: guests planned host-wide until one does not fit; the
 * count is those placed.  Shared profiles: the most guests with no node
 * overcommitted (shared vCPUs at most the PUs they float over) and none
 * refused, found by bisection.  Usage: packing-bin TOPOLOGY.xml... */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "domain.h"
#include "planner.h"
#include "util/cleanup.h"

static const unsigned sizes[] = { 2, 4, 8 };

struct profile {
  const char *label;
  const char *base;
  int smt;                  /* -1: the profile's own */
};

static const struct profile profiles[] = {
  { "balanced", "balanced", -1 },
  { "latency", "latency", -1 },
  { "lat/prefer", "latency", VDP_SMT_PREFER },
  { "throughput", "throughput", -1 },
  { "density", "density", -1 },
};

static char *
guest_xml (unsigned i, unsigned vcpus)
{
  return g_strdup_printf (
    "<domain type='kvm'><name>g%04u</name><memory unit='MiB'>1024</memory>"
    "<vcpu placement='static'>%u</vcpu>"
    "<os><type arch='x86_64' machine='q35'>hvm</type></os>"
    "<devices><disk type='file' device='disk'><driver name='qemu' type='raw'/>"
    "<source file='/var/lib/libvirt/images/g%04u.img'/><target dev='vda' bus='virtio'/>"
    "</disk></devices></domain>", i, vcpus, i);
}

/* Plans @k guests of @vcpus; returns how many were placed, and whether any
 * domain is overcommitted in *over. */
static unsigned
plan_k (const struct vdp_topology *topo, const struct vdp_policy *p, unsigned k, unsigned vcpus,
        gboolean *over)
{
  struct vdp_caps caps;
  g_autofree xmlDocPtr *docs = g_new0 (xmlDocPtr, k + 1);
  g_autofree struct vdp_domain **doms = g_new0 (struct vdp_domain *, k + 1);
  g_autofree struct vdp_plan_input *in = g_new0 (struct vdp_plan_input, k + 1);
  struct vdp_plan *plan;
  unsigned placed = 0;

  vdp_caps_from_versions (&caps, VDP_CAPS_NEWEST_LIBVIRT, VDP_CAPS_NEWEST_QEMU);
  for (unsigned i = 0; i < k; i++) {
    g_autofree char *x = guest_xml (i, vcpus);
    docs[i] = vdp_xml_read_memory (x, "guest", NULL);
    doms[i] = vdp_domain_parse (docs[i], "guest", NULL);
    in[i].dom = doms[i];
  }
  plan = vdp_plan_compute (topo, p, &caps, in, k, NULL);
  *over = FALSE;
  for (unsigned i = 0; plan && i < plan->n_domains; i++) {
    placed += !plan->domains[i].failed;
    *over = *over || plan->domains[i].overcommitted;
  }
  vdp_plan_free (plan);
  for (unsigned i = 0; i < k; i++) {
    vdp_domain_free (doms[i]);
    xmlFreeDoc (docs[i]);
  }
  return placed;
}

static unsigned
pack (const struct vdp_topology *topo, const struct vdp_policy *p, unsigned vcpus, unsigned pus)
{
  gboolean over;
  unsigned lo = 0, hi = pus / vcpus + 2;

  if (p->placement == VDP_PLACEMENT_DEDICATED)
    return plan_k (topo, p, hi, vcpus, &over);
  /* shared: the largest k with every guest placed and none overcommitted */
  while (lo < hi) {
    unsigned mid = (lo + hi + 1) / 2;
    if (plan_k (topo, p, mid, vcpus, &over) == mid && !over)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/* The baselines.  Nova (hw:cpu_policy=dedicated, one guest NUMA cell):
 * per host cell, floor(free pCPUs / V) with cpu_thread_policy=prefer,
 * floor(free cores / V) with isolate, and with
 * hw:emulator_threads_policy=isolate one more pCPU per guest.  KubeVirt
 * (dedicatedCpuPlacement, the kubelet's static CPU manager, not bound to a
 * NUMA node): floor(PUs / V), and with isolateEmulatorThread
 * floor(PUs / (V + 1)).  Memory is not the limit at 1 GiB a guest here
 * except on the smallest hosts, where it is counted the same way (per
 * cell for Nova, per host for KubeVirt) with the host's 1 GiB reserve. */
struct baseline {
  unsigned nova_prefer, nova_isolate, nova_emu, kubevirt, kubevirt_emu;
};

static struct baseline
baselines (const struct vdp_topology *t, unsigned v)
{
  struct baseline b = { 0 };
  unsigned all = 0;
  guint64 all_mib = 0;

  for (size_t n = 0; n < t->n_nodes; n++) {
    unsigned pus = 0, cores = 0;
    guint64 mib = t->nodes[n].memory / (1024 * 1024);
    guint64 mem_cap = mib > 1024 ? (mib - 1024) / 1024 : 0;
    g_auto (VdpBitmap) on = hwloc_bitmap_alloc ();

    hwloc_bitmap_and (on, t->nodes[n].cpuset, t->allowed);
    pus = (unsigned) hwloc_bitmap_weight (on);
    for (size_t c = 0; c < t->n_cores; c++)
      if (t->cores[c].node == (int) t->nodes[n].id && hwloc_bitmap_isincluded (t->cores[c].pus, on))
        cores++;
    if (mib == 0)
      mem_cap = G_MAXUINT;
    b.nova_prefer += (unsigned) MIN (pus / v, mem_cap);
    b.nova_isolate += (unsigned) MIN (cores / v, mem_cap);
    b.nova_emu += (unsigned) MIN (pus / (v + 1), mem_cap);
    all += pus;
    all_mib += mib;
  }
  {
    guint64 mem_cap = all_mib > 1024 * t->n_nodes ? (all_mib - 1024 * t->n_nodes) / 1024 : 0;
    if (all_mib == 0)
      mem_cap = G_MAXUINT;
    b.kubevirt = (unsigned) MIN (all / v, mem_cap);
    b.kubevirt_emu = (unsigned) MIN (all / (v + 1), mem_cap);
  }
  return b;
}

int
main (int argc, char **argv)
{
  printf ("%-36s %4s %2s | %8s %8s %10s %10s %8s | %6s %7s %8s %8s %8s\n", "topology", "PUs", "V",
          "balanced", "latency", "lat/prefer", "throughput", "density", "Nova-p", "Nova-i",
          "Nova-emu", "KubeVirt", "KV-emu");
  for (int a = 1; a < argc; a++) {
    g_autoptr (GError) err = NULL;
    g_autoptr (vdp_topology) topo = vdp_topology_load_xml (argv[a], &err);
    g_autofree char *base = g_path_get_basename (argv[a]);
    unsigned pus;

    if (topo == NULL) {
      fprintf (stderr, "%s\n", err->message);
      return 2;
    }
    pus = (unsigned) hwloc_bitmap_weight (topo->allowed);
    for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++) {
      unsigned v = sizes[s];
      struct baseline b = baselines (topo, v);
      printf ("%-36s %4u %2u |", base, pus, v);
      for (size_t k = 0; k < G_N_ELEMENTS (profiles); k++) {
        g_autoptr (vdp_policy) p = vdp_policy_builtin (profiles[k].base, NULL);
        if (profiles[k].smt >= 0)
          p->smt = (VdpSmt) profiles[k].smt;
        printf (" %*u", k == 2 || k == 3 ? 10 : 8, pack (topo, p, v, pus));
      }
      printf (" | %6u %7u %8u %8u %8u\n", b.nova_prefer, b.nova_isolate, b.nova_emu, b.kubevirt,
              b.kubevirt_emu);
    }
  }
  return 0;
}
