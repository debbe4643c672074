/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark: the topology of a host from its libvirt capabilities (parse,
 * hwloc XML, load) per host, for generated hosts of 16 to 384 CPUs.  Not a
 * test. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hostcaps.h"
#include "topology.h"

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Capabilities of @sockets sockets of @cores cores with 2 threads, each
 * socket split in @per cells, an L3 bank per 12 cores, the way libvirt
 * numbers CPUs on x86 (threads 0 of every core first). */
static char *
gen_caps (unsigned sockets, unsigned cores, unsigned per)
{
  GString *x = g_string_new ("<capabilities><host><cpu><arch>x86_64</arch></cpu><topology>");
  unsigned cells = sockets * per, all = sockets * cores, per_cell = cores / per;

  g_string_append_printf (x, "<cells num='%u'>", cells);
  for (unsigned n = 0; n < cells; n++) {
    unsigned s = n / per;
    g_string_append_printf (x, "<cell id='%u'><memory unit='KiB'>67108864</memory><distances>", n);
    for (unsigned j = 0; j < cells; j++)
      g_string_append_printf (x, "<sibling id='%u' value='%u'/>", j,
                              j == n ? 10 : j / per == s ? 12 : 32);
    g_string_append_printf (x, "</distances><cpus num='%u'>", per_cell * 2);
    for (unsigned k = 0; k < per_cell; k++) {
      unsigned core = (n % per) * per_cell + k, a = s * cores + core, b = a + all;
      g_string_append_printf (x, "<cpu id='%u' socket_id='%u' die_id='0' core_id='%u' "
                              "siblings='%u,%u'/><cpu id='%u' socket_id='%u' die_id='0' "
                              "core_id='%u' siblings='%u,%u'/>", a, s, core, a, b, b, s, core, a, b);
    }
    g_string_append (x, "</cpus></cell>");
  }
  g_string_append (x, "</cells></topology><cache>");
  for (unsigned c = 0; c < all / 12; c++) {
    unsigned base = c * 12;
    g_string_append_printf (x, "<bank id='%u' level='3' type='both' size='32' unit='MiB' "
                            "cpus='%u-%u,%u-%u'/>", c, base, base + 11, base + all, base + all + 11);
  }
  g_string_append (x, "</cache></host></capabilities>");
  return g_string_free (x, FALSE);
}

int
main (int argc, char **argv)
{
  static const struct { unsigned sockets, cores, per; } shapes[] = {
    { 1, 12, 1 }, { 2, 24, 1 }, { 2, 48, 2 }, { 2, 96, 4 },
  };
  unsigned n = argc > 1 ? (unsigned) atoi (argv[1]) : 50;

  printf ("%-28s %5s %10s\n", "host", "CPUs", "ms/host");
  for (size_t i = 0; i < G_N_ELEMENTS (shapes); i++) {
    g_autofree char *caps = gen_caps (shapes[i].sockets, shapes[i].cores, shapes[i].per);
    g_autofree char *name = g_strdup_printf ("%ux%u cores, 2 threads, %u nodes", shapes[i].sockets,
                                             shapes[i].cores, shapes[i].sockets * shapes[i].per);
    double start = now ();
    unsigned pus = 0;

    for (unsigned r = 0; r < n; r++) {
      g_autoptr (vdp_hostcaps) c = vdp_hostcaps_parse (caps, "bench", NULL);
      g_autofree char *xml = vdp_hostcaps_to_hwloc_xml (c, NULL);
      g_autoptr (vdp_topology) t = vdp_topology_load_xml_buffer (xml, VDP_TOPOLOGY_CAPABILITIES,
                                                                 "bench", NULL);
      if (t == NULL) {
        fprintf (stderr, "%s: no topology\n", name);
        return 1;
      }
      pus = (unsigned) t->n_pus;
    }
    printf ("%-28s %5u %10.2f\n", name, pus, (now () - start) * 1000.0 / n);
  }
  return 0;
}
