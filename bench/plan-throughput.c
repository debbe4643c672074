/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark: domains parsed, planned, patched and serialised per second on
 * one core, for generated domains on a saved 384-PU host.  Not a test. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain.h"
#include "planner.h"
#include "xmlpatch.h"

static double
now (clockid_t clk)
{
  struct timespec ts;
  clock_gettime (clk, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* A realistic guest: 1-16 vCPUs, 2-64 GiB, 1-4 raw/qcow2 virtio disks,
 * sometimes virtio-scsi; sources under per-node directories. */
static char *
gen_domain (GRand *r, unsigned i, gboolean small)
{
  static const unsigned vcpus[] = { 1, 2, 2, 4, 4, 4, 8, 8, 16 };
  GString *x = g_string_new (NULL);
  unsigned v = small ? (unsigned) g_rand_int_range (r, 1, 3)
               : vcpus[g_rand_int_range (r, 0, G_N_ELEMENTS (vcpus))];
  unsigned disks = (unsigned) g_rand_int_range (r, 1, small ? 3 : 5);
  /* small: a density host's guests, 256-384 MiB */
  unsigned mib = small ? 256 + 128 * (unsigned) g_rand_int_range (r, 0, 2) : MAX (2, v * 4) * 1024;

  g_string_append_printf (x,
    "<domain type='kvm'>\n  <name>vm%05u</name>\n"
    "  <uuid>%08x-0000-4000-8000-%012x</uuid>\n"
    "  <memory unit='MiB'>%u</memory>\n  <currentMemory unit='MiB'>%u</currentMemory>\n"
    "  <vcpu placement='static'>%u</vcpu>\n"
    "  <os>\n    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n    <boot dev='hd'/>\n  </os>\n"
    "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n"
    "  <cpu mode='host-passthrough' check='none' migratable='on'/>\n"
    "  <clock offset='utc'/>\n  <on_poweroff>destroy</on_poweroff>\n"
    "  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n",
    i, i, i, mib, mib, v);
  for (unsigned d = 0; d < disks; d++)
    g_string_append_printf (x,
      "    <disk type='file' device='disk'>\n      <driver name='qemu' type='%s'/>\n"
      "      <source file='/srv/node%u/vm%05u-%u.img'/>\n      <target dev='vd%c' bus='virtio'/>\n"
      "    </disk>\n", d == 0 ? "qcow2" : "raw", i % 2, i, d, 'a' + d);
  if (g_rand_int_range (r, 0, 5) == 0)
    g_string_append (x, "    <controller type='scsi' index='0' model='virtio-scsi'/>\n");
  g_string_append (x,
    "    <interface type='network'>\n      <source network='default'/>\n      <model type='virtio'/>\n"
    "    </interface>\n    <console type='pty'/>\n  </devices>\n</domain>\n");
  return g_string_free (x, FALSE);
}

int
main (int argc, char **argv)
{
  const char *topo_path = argc > 1 ? argv[1] : "examples/topologies/192em64t-24n8c2t.xml";
  unsigned n = argc > 2 ? (unsigned) atoi (argv[2]) : 10000;
  unsigned batch = argc > 3 ? (unsigned) atoi (argv[3]) : 1;
  const char *dump = NULL, *profile = "balanced";
  gboolean small = FALSE;
  GRand *r = g_rand_new_with_seed (42);
  char **xml = g_new0 (char *, n);
  GError *err = NULL;
  struct vdp_topology *topo;
  struct vdp_policy *policy;
  struct vdp_caps caps;
  double t0, c0, t1, c1, tl;
  size_t bytes = 0;
  unsigned failed = 0;

  /* [--small] [--profile NAME] [DUMP-DIR] after the first three */
  for (int a = 4; a < argc; a++) {
    if (strcmp (argv[a], "--small") == 0)
      small = TRUE;
    else if (strcmp (argv[a], "--profile") == 0 && a + 1 < argc)
      profile = argv[++a];
    else
      dump = argv[a];
  }
  policy = vdp_policy_builtin (profile, &err);
  if (policy == NULL) {
    fprintf (stderr, "%s\n", err->message);
    return 2;
  }
  batch = MAX (batch, 1);
  vdp_caps_from_versions (&caps, VDP_CAPS_NEWEST_LIBVIRT, VDP_CAPS_NEWEST_QEMU);
  for (unsigned i = 0; i < n; i++)
    xml[i] = gen_domain (r, i, small);
  if (dump) {
    /* write the generated domains for the virt-xml comparison */
    g_mkdir_with_parents (dump, 0755);
    for (unsigned i = 0; i < n; i++) {
      g_autofree char *p = g_strdup_printf ("%s/vm%05u.xml", dump, i);
      g_file_set_contents (p, xml[i], -1, NULL);
    }
  }

  tl = now (CLOCK_MONOTONIC);
  topo = vdp_topology_load (topo_path, &err);
  if (topo == NULL) {
    fprintf (stderr, "%s\n", err->message);
    return 2;
  }
  tl = now (CLOCK_MONOTONIC) - tl;

  t0 = now (CLOCK_MONOTONIC);
  c0 = now (CLOCK_PROCESS_CPUTIME_ID);
  for (unsigned i = 0; i < n; i += batch) {
    unsigned m = MIN (batch, n - i);
    g_autofree xmlDocPtr *docs = g_new0 (xmlDocPtr, m);
    g_autofree struct vdp_domain **doms = g_new0 (struct vdp_domain *, m);
    g_autofree struct vdp_plan_input *in = g_new0 (struct vdp_plan_input, m);
    struct vdp_plan *plan;

    for (unsigned k = 0; k < m; k++) {
      docs[k] = vdp_xml_read_memory (xml[i + k], "gen", &err);
      doms[k] = vdp_domain_parse (docs[k], "gen", &err);
      in[k].dom = doms[k];
      in[k].hints = NULL;
    }
    plan = vdp_plan_compute (topo, policy, &caps, in, m, &err);
    if (plan == NULL) {
      fprintf (stderr, "plan: %s\n", err->message);
      return 2;
    }
    for (unsigned k = 0; k < m; k++) {
      char *out;
      failed += plan->domains[k].failed;
      vdp_xmlpatch_apply (docs[k], plan, &plan->domains[k], &err);
      out = vdp_xml_format (docs[k]);
      bytes += strlen (out);
      g_free (out);
    }
    vdp_plan_free (plan);
    for (unsigned k = 0; k < m; k++) {
      vdp_domain_free (doms[k]);
      xmlFreeDoc (docs[k]);
    }
  }
  t1 = now (CLOCK_MONOTONIC);
  c1 = now (CLOCK_PROCESS_CPUTIME_ID);

  printf ("topology: %s (%zu PUs), loaded in %.1f ms\n", topo_path, topo->n_pus, tl * 1000);
  printf ("domains: %u (%s), profile %s, planned %u per host-wide batch, %u did not fit, "
          "%zu bytes of tuned XML\n", n, small ? "small" : "mixed", profile, batch, failed, bytes);
  printf ("wall: %.3f s, CPU: %.3f s\n", t1 - t0, c1 - c0);
  printf ("throughput: %.0f domains/s (wall), %.0f domains/s per CPU-second\n",
          n / (t1 - t0), n / (c1 - c0));
  printf ("per domain: %.1f us\n", (c1 - c0) / n * 1e6);
  for (unsigned i = 0; i < n; i++)
    g_free (xml[i]);
  g_free (xml);
  vdp_policy_free (policy);
  vdp_topology_free (topo);
  g_rand_free (r);
  return 0;
}
