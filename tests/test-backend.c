/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the backend module: eligibility, settings from the plan, the record, the XML rewrite and its revert. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <glib/gstdio.h>

#include "backend-conf.h"
#include "backend.h"
#include "caps.h"
#include "domain.h"
#include "inventory.h"
#include "ioplace.h"
#include "planner.h"
#include "policy.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"
#include "vdp-test.h"
#include "xmlpatch.h"

#define UUID "8a0c4f0e-0d6b-4c55-9a38-0f1bfa4e8d11"

/* Disks of every kind: vda, vdc and vdh are eligible. */
static const char MIXED[] =
  "<domain type='kvm'>\n"
  "  <name>m1</name>\n"
  "  <uuid>" UUID "</uuid>\n"
  "  <memory unit='GiB'>4</memory>\n"
  "  <vcpu placement='static'>4</vcpu>\n"
  "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n"
  "  <devices>\n"
  "    <!-- the data disk -->\n"
  "    <disk type='file' device='disk'>\n"
  "      <driver name='qemu' type='raw' cache='none' io='native'/>\n"
  "      <source file='/var/lib/libvirt/images/m1.raw'/>\n"
  "      <target dev='vda' bus='virtio'/>\n"
  "      <serial>M1-DATA</serial>\n"
  "      <boot order='1'/>\n"
  "      <alias name='ua-data'/>\n"
  "      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>\n"
  "    </disk>\n"
  "    <disk type='file' device='disk'>\n"
  "      <driver name='qemu' type='qcow2'/>\n"
  "      <source file='/var/lib/libvirt/images/m1.qcow2'/>\n"
  "      <target dev='vdb' bus='virtio'/>\n"
  "    </disk>\n"
  "    <disk type='block' device='disk'>\n"
  "      <driver name='qemu' type='raw'/>\n"
  "      <source dev='/dev/sdz'/>\n"
  "      <target dev='vdc' bus='virtio'/>\n"
  "      <readonly/>\n"
  "    </disk>\n"
  "    <disk type='file' device='cdrom'>\n"
  "      <source file='/var/lib/libvirt/images/x.iso'/>\n"
  "      <target dev='sda' bus='sata'/>\n"
  "      <readonly/>\n"
  "    </disk>\n"
  "    <disk type='file' device='disk'>\n"
  "      <source file='/var/lib/libvirt/images/shared.raw'/>\n"
  "      <target dev='vdd' bus='virtio'/>\n"
  "      <shareable/>\n"
  "    </disk>\n"
  "    <disk type='file' device='disk'>\n"
  "      <source file='/var/lib/libvirt/images/slow.raw'/>\n"
  "      <target dev='vde' bus='virtio'/>\n"
  "      <iotune><total_iops_sec>100</total_iops_sec></iotune>\n"
  "    </disk>\n"
  "    <disk type='network' device='disk'>\n"
  "      <driver name='qemu' type='raw'/>\n"
  "      <source protocol='nbd' name='x'><host name='h' port='10809'/></source>\n"
  "      <target dev='vdf' bus='virtio'/>\n"
  "    </disk>\n"
  "    <disk type='file' device='disk'>\n"
  "      <source file='/var/lib/libvirt/images/t.raw'/>\n"
  "      <target dev='sdb' bus='scsi'/>\n"
  "    </disk>\n"
  "    <disk type='file' device='disk'>\n"
  "      <source file='/var/lib/libvirt/images/h.raw'/>\n"
  "      <target dev='vdh' bus='virtio'/>\n"
  "    </disk>\n"
  "    <controller type='scsi' index='0' model='virtio-scsi'/>\n"
  "  </devices>\n"
  "</domain>\n";

struct planned {
  xmlDocPtr doc;
  struct vdp_domain *dom;
  struct vdp_backend_selection *sel;
  struct vdp_plan *plan;
  struct vdp_topology *topo;   /* the plan refers to them */
  struct vdp_policy *policy;
  GPtrArray *disks;
};

static void
planned_clear (struct planned *p)
{
  if (p->disks)
    g_ptr_array_unref (p->disks);
  vdp_plan_free (p->plan);
  vdp_policy_free (p->policy);
  vdp_topology_free (p->topo);
  vdp_backend_selection_free (p->sel);
  vdp_domain_free (p->dom);
  xmlFreeDoc (p->doc);
}

/* Plans @xml as plan and apply do: select, plan, settings. */
static void
plan_backend (struct planned *p, const char *xml, const char *topo_spec, const char *profile,
              VdpBackend want, unsigned long libvirt, unsigned long qemu)
{
  g_autoptr (GError) err = NULL;
  struct vdp_topology *topo;
  struct vdp_policy *policy;
  struct vdp_plan_input in = { 0 };
  struct vdp_caps caps;

  memset (p, 0, sizeof (*p));
  topo = p->topo = vdp_topology_load (topo_spec, NULL);
  policy = p->policy = vdp_policy_builtin (profile, NULL);
  vdp_caps_from_versions (&caps, libvirt, qemu);
  p->doc = vdp_xml_read_memory (xml, "m1.xml", &err);
  assert_non_null (p->doc);
  p->dom = vdp_domain_parse (p->doc, "m1.xml", &err);
  assert_non_null (p->dom);
  p->sel = vdp_backend_select (p->dom, p->doc, &caps, want);
  in.dom = p->dom;
  in.backend = p->sel->served;
  p->plan = vdp_plan_compute (topo, policy, &caps, &in, 1, &err);
  assert_non_null (p->plan);
  p->disks = vdp_backend_settings (&p->plan->domains[0], p->sel, policy, "/run/vdp", p->doc, &err);
  assert_non_null (p->disks);
}

/* The planned domain patched as apply patches it, formatted (g_free). */
static char *
patched_text (const struct planned *p)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (xmlDoc) patched = xmlCopyDoc (p->doc, 1);

  assert_int_equal (vdp_xmlpatch_apply (patched, p->plan, &p->plan->domains[0], &err), 0);
  assert_int_equal (vdp_xmlpatch_backend (patched, p->disks, &err), 0);
  return vdp_xml_format (patched);
}

static unsigned
disk_index (const struct vdp_domain *d, const char *target)
{
  for (unsigned i = 0; i < d->n_disks; i++)
    if (strcmp (d->disks[i].target, target) == 0)
      return i;
  fail_msg ("no disk %s", target);
  return 0;
}

static void
test_select (void **state)
{
  static const struct { const char *target; const char *why; } expect[] = {
    { "vda", NULL }, { "vdb", "a qcow2 image, not raw" }, { "vdc", NULL },
    { "sda", "on bus 'sata', not virtio" }, { "vdd", "shareable between domains" },
    { "vde", "throttled with <iotune>" }, { "vdf", "a 'network' disk, not a file or block device" },
    { "sdb", "on bus 'scsi', not virtio" }, { "vdh", NULL },
  };
  struct planned p;

  plan_backend (&p, MIXED, "package:1 node:1 l3:1 core:8 pu:1", "balanced", VDP_BACKEND_VHOST_USER,
                VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  assert_null (p.sel->refused);
  for (size_t i = 0; i < G_N_ELEMENTS (expect); i++) {
    unsigned k = disk_index (p.dom, expect[i].target);
    assert_int_equal (p.sel->served[k], expect[i].why == NULL);
    assert_false (p.sel->recorded[k]);
    if (expect[i].why)
      assert_string_equal (p.sel->why_not[k], expect[i].why);
    else
      assert_null (p.sel->why_not[k]);
  }
  planned_clear (&p);

  /* without --backend nothing is converted, and nothing is said */
  plan_backend (&p, MIXED, "package:1 node:1 l3:1 core:8 pu:1", "balanced", VDP_BACKEND_QEMU,
                VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  for (unsigned k = 0; k < p.dom->n_disks; k++) {
    assert_false (p.sel->served[k]);
    assert_null (p.sel->why_not[k]);
  }
  assert_int_equal (p.disks->len, 0);
  planned_clear (&p);
}

static void
test_refusals (void **state)
{
  static const struct {
    const char *from, *to;     /* edit of MIXED */
    unsigned long libvirt;
    const char *refused;
  } cases[] = {
    { NULL, NULL, VDP_VERSION (7, 0, 0), "vhost-user disks need libvirt >= 7.1.0 (the target is libvirt 7.0.0" },
    { "<uuid>" UUID "</uuid>", "", VDP_VERSION (9, 0, 0), "no UUID" },
    { "<os>", "<cpu><numa><cell id='0' cpus='0-3' memory='4' unit='GiB' memAccess='private'/></numa></cpu><os>",
      VDP_VERSION (9, 0, 0), "guest NUMA cell 0 has private memory" },
    { "type='kvm'", "type='xen'", VDP_VERSION (9, 0, 0), "not a QEMU/KVM domain (type 'xen')" },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *xml = NULL;
    g_autoptr (GError) err = NULL;
    g_autoptr (xmlDoc) doc = NULL;
    g_autoptr (vdp_domain) d = NULL;
    g_autoptr (vdp_backend_selection) sel = NULL;
    struct vdp_caps caps;

    if (cases[i].from) {
      g_auto (GStrv) parts = g_strsplit (MIXED, cases[i].from, 2);
      xml = g_strjoin (cases[i].to, parts[0], parts[1], NULL);
    } else {
      xml = g_strdup (MIXED);
    }
    vdp_caps_from_versions (&caps, cases[i].libvirt, VDP_VERSION (7, 2, 0));
    doc = vdp_xml_read_memory (xml, "m1.xml", &err);
    d = vdp_domain_parse (doc, "m1.xml", &err);
    assert_non_null (d);
    sel = vdp_backend_select (d, doc, &caps, VDP_BACKEND_VHOST_USER);
    assert_non_null (sel->refused);
    if (!strstr (sel->refused, cases[i].refused))
      fail_msg ("case %zu: refusal '%s'", i, sel->refused);
    for (unsigned k = 0; k < d->n_disks; k++)
      assert_false (sel->served[k]);
    /* the eligible disks say why they were not converted */
    assert_string_equal (sel->why_not[disk_index (d, "vda")], sel->refused);
  }
  {
    /* memfd refused only when the memory needs it */
    g_autoptr (xmlDoc) doc = vdp_xml_read_memory (MIXED, "m1.xml", NULL);
    g_autoptr (vdp_domain) d = vdp_domain_parse (doc, "m1.xml", NULL);
    struct vdp_caps caps;
    g_autoptr (vdp_backend_selection) sel = NULL;
    vdp_caps_from_versions (&caps, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
    caps.memfd = false;
    sel = vdp_backend_select (d, doc, &caps, VDP_BACKEND_VHOST_USER);
    assert_non_null (strstr (sel->refused, "memfd"));
  }
}

static void
test_settings_from_plan (void **state)
{
  struct planned p;
  const struct vdp_domain_plan *dp;
  const struct vdp_backend_disk *a, *c;

  /* latency: a dedicated PU per IOThread, in the vCPUs' LLC */
  plan_backend (&p, MIXED, "package:1 node:1 l3:1 core:8 pu:2", "latency", VDP_BACKEND_VHOST_USER,
                VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  dp = &p.plan->domains[0];
  assert_int_equal (p.disks->len, 3);
  a = p.disks->pdata[0];
  c = p.disks->pdata[1];
  assert_string_equal (a->target, "vda");
  assert_string_equal (a->source, "/var/lib/libvirt/images/m1.raw");
  assert_string_equal (a->source_type, "file");
  assert_string_equal (a->socket, "/run/vdp/" UUID "/vda.sock");
  assert_string_equal (a->serial, "M1-DATA");
  assert_false (a->readonly);
  assert_int_equal (a->queues, 4);
  assert_int_equal (a->poll_ns, 32768);
  assert_int_equal (a->node, 0);
  /* one worker per IOThread the plan placed, on its PUs; QEMU keeps the
   * IOThreads vdb and the virtio-scsi controller need on this stack */
  assert_int_equal (a->n_workers, 2);
  assert_int_equal (dp->n_io_slots, 2);
  assert_int_equal (dp->n_iothreads, 2);
  assert_false (hwloc_bitmap_isequal (dp->iothread_pins[0], dp->iothread_pins[1]));
  for (unsigned w = 0; w < a->n_workers; w++) {
    g_autofree char *pin = vdp_cpuset_format (dp->iothread_pins[w]);
    assert_string_equal (a->worker_cpus[w], pin);
    /* never on a vCPU's PU */
    for (unsigned v = 0; v < p.dom->vcpus; v++)
      assert_false (hwloc_bitmap_intersects (dp->iothread_pins[w], dp->vcpu_pins[v]));
  }
  assert_string_equal (c->target, "vdc");
  assert_string_equal (c->source_type, "block");
  assert_true (c->readonly);
  assert_null (c->serial);
  /* vdb (qcow2) still has a QEMU IOThread; the served disks get none */
  assert_true (dp->set_iothreads);
  assert_int_equal (dp->disks[disk_index (p.dom, "vda")].map.kind, VDP_MAP_NONE);
  assert_false (dp->disks[disk_index (p.dom, "vda")].set_driver);
  assert_int_not_equal (dp->disks[disk_index (p.dom, "vdb")].map.kind, VDP_MAP_NONE);
  planned_clear (&p);
}

/* The node a served disk's settings name is the node of its workers' PUs,
 * or none when they are on several (a spanning guest's, each near its
 * vCPUs): never the home node for workers elsewhere. */
static void
test_workers_node (void **state)
{
  static const char *const specs[] = {
    "package:2 node:1 l3:1 core:2 pu:1", "package:2 node:1 l3:1 core:3 pu:2",
    "package:2 node:1 l3:1 core:8 pu:2",
  };
  (void) state;
  for (unsigned k = 0; k < G_N_ELEMENTS (specs); k++) {
    struct planned p;
    const struct vdp_domain_plan *dp;
    plan_backend (&p, MIXED, specs[k], "balanced", VDP_BACKEND_VHOST_USER,
                  VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
    dp = &p.plan->domains[0];
    for (guint i = 0; i < p.disks->len; i++) {
      const struct vdp_backend_disk *b = p.disks->pdata[i];
      int node = -2;
      for (unsigned w = 0; w < b->n_workers && w < dp->n_io_slots; w++) {
        int n = vdp_io_node_of (p.topo, dp->iothread_pins[w]);
        node = node == -2 || node == n ? n : -1;
      }
      assert_int_equal (b->node, node == -2 ? dp->home_node : node);
    }
    planned_clear (&p);
  }
}

/* A domain whose only disk is served: no QEMU IOThread, the PUs still planned. */
static void
test_no_qemu_iothread (void **state)
{
  static const char ONE[] =
    "<domain type='kvm'><name>o</name><uuid>" UUID "</uuid><memory unit='GiB'>1</memory>"
    "<vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os><devices>"
    "<disk type='file' device='disk'><source file='/i/o.raw'/><target dev='vda' bus='virtio'/></disk>"
    "</devices></domain>";
  struct planned p;
  const struct vdp_domain_plan *dp;
  const struct vdp_backend_disk *a;
  g_autofree char *text = NULL;

  plan_backend (&p, ONE, "package:1 node:1 l3:1 core:8 pu:1", "balanced", VDP_BACKEND_VHOST_USER,
                VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  dp = &p.plan->domains[0];
  assert_false (dp->set_iothreads);
  assert_int_equal (dp->n_iothreads, 0);
  assert_int_equal (dp->n_io_slots, 1);
  assert_non_null (dp->iothread_pins);
  a = p.disks->pdata[0];
  assert_int_equal (a->n_workers, 1);
  assert_int_equal (a->queues, 2);
  assert_non_null (a->worker_cpus[0]);
  text = patched_text (&p);
  assert_null (strstr (text, "<iothreads>"));
  assert_null (strstr (text, "<iothreadpin"));
  assert_non_null (strstr (text, "<disk type=\"vhostuser\" device=\"disk\">"));
  planned_clear (&p);
}

/* A raw disk served, a qcow2 disk with QEMU: QEMU gets the one IOThread
 * its disk uses (no idle one), the backend its two workers' PUs. */
static void
test_mixed_iothreads (void **state)
{
  static const char TWO[] =
    "<domain type='kvm'><name>o</name><uuid>" UUID "</uuid><memory unit='GiB'>1</memory>"
    "<vcpu>4</vcpu><os><type arch='x86_64'>hvm</type></os><devices>"
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/i/b.qcow2'/>"
    "<target dev='vda' bus='virtio'/></disk>"
    "<disk type='file' device='disk'><source file='/i/d.raw'/><target dev='vdb' bus='virtio'/></disk>"
    "</devices></domain>";
  struct planned p;
  const struct vdp_domain_plan *dp;
  const struct vdp_backend_disk *b;
  g_autofree char *text = NULL;

  plan_backend (&p, TWO, "package:1 node:1 l3:1 core:8 pu:2", "latency", VDP_BACKEND_VHOST_USER,
                VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  dp = &p.plan->domains[0];
  assert_true (dp->set_iothreads);
  assert_int_equal (dp->n_iothreads, 1);
  assert_int_equal (dp->n_io_slots, 2);
  b = p.disks->pdata[0];
  assert_string_equal (b->target, "vdb");
  assert_int_equal (b->n_workers, 2);
  /* latency: each worker a dedicated PU of its own */
  assert_string_not_equal (b->worker_cpus[0], b->worker_cpus[1]);
  text = patched_text (&p);
  assert_non_null (strstr (text, "<iothreads>1</iothreads>"));
  assert_null (strstr (text, "iothread=\"2\""));

  /* planned again: the placement QEMU does not use is read back from the
   * record, and the plan is kept as it is */
  {
    struct planned again;
    const struct vdp_domain_plan *da;
    plan_backend (&again, text, "package:1 node:1 l3:1 core:8 pu:2", "latency",
                  VDP_BACKEND_QEMU, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
    da = &again.plan->domains[0];
    assert_true (da->kept);
    assert_string_equal (da->hash, dp->hash);
    assert_int_equal (da->n_iothreads, 1);
    assert_int_equal (da->n_io_slots, 2);
    assert_true (hwloc_bitmap_isequal (da->iothread_pins[1], dp->iothread_pins[1]));
    assert_string_equal (((struct vdp_backend_disk *) again.disks->pdata[0])->worker_cpus[1],
                         b->worker_cpus[1]);
    planned_clear (&again);
  }
  planned_clear (&p);
}

/* Fails naming every hard constraint footprints @fps cross. */
static void
assert_no_violation (const struct vdp_host_limits *lim, const struct vdp_footprint *fps,
                     unsigned n)
{
  g_autoptr (GPtrArray) v = vdp_violations_new ();
  g_autoptr (GString) all = g_string_new (NULL);

  vdp_constraints_check (lim, fps, n, v);
  for (guint k = 0; k < v->len; k++) {
    const struct vdp_violation *x = v->pdata[k];
    g_string_append_printf (all, "%s: %s: %s\n", fps[x->domain].name, x->subject, x->text);
  }
  if (v->len)
    fail_msg ("%s", all->str);
}

/* A domain tuned for virt-dataplane-blk: vCPUs 1:1 on PUs 0 and 1, its
 * backend's workers 1:1 on PUs @worker and 3. */
static char *
tuned_with_workers (const char *name, const char *uuid, const char *worker)
{
  return g_strdup_printf (
    "<domain type='kvm'><name>%s</name><uuid>%s</uuid><memory unit='GiB'>1</memory>"
    "<vcpu placement='static'>2</vcpu>"
    "<cputune><vcpupin vcpu='0' cpuset='0'/><vcpupin vcpu='1' cpuset='1'/></cputune>"
    "<os><type arch='x86_64'>hvm</type></os><devices>"
    "<disk type='vhostuser' device='disk'><driver name='qemu' type='raw' queues='2'/>"
    "<source type='unix' path='/run/vdp/%s/vda.sock'><reconnect enabled='yes' timeout='1'/>"
    "</source><target dev='vda' bus='virtio'/></disk></devices>"
    "<metadata><vdp:dataplane xmlns:vdp='" VDP_XMLNS "' profile='latency' plan='0' "
    "placement='owned'><vdp:backend target='vda' type='file' source='/i/%s.raw' "
    "socket='/run/vdp/%s/vda.sock' queues='2' readonly='no' poll-ns='0'>"
    "<vdp:worker cpus='%s'/><vdp:worker cpus='3'/></vdp:backend></vdp:dataplane></metadata>"
    "</domain>", name, uuid, uuid, name, uuid, worker);
}

/* The worker CPUs another domain's backend record names are occupied: a
 * guest planned beside it takes none of them, and the host's hard
 * constraints hold with them counted. */
static void
test_workers_in_inventory (void **state)
{
  static const char BIG[] =
    "<domain type='kvm'><name>big</name><uuid>3a1d0c55-7c2e-4f3b-9d1e-2b6a8c0f4e71</uuid>"
    "<memory unit='GiB'>1</memory><vcpu>4</vcpu><os><type arch='x86_64'>hvm</type></os>"
    "<devices><disk type='file' device='disk'><source file='/i/big.raw'/>"
    "<target dev='vda' bus='virtio'/></disk></devices></domain>";
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_topology) topo = vdp_topology_load ("package:1 node:1 l3:1 core:12 pu:1", NULL);
  g_autoptr (vdp_policy) policy = vdp_policy_builtin ("latency", NULL);
  g_autofree char *other_xml = tuned_with_workers ("other", UUID, "2");
  g_autoptr (xmlDoc) other_doc = vdp_xml_read_memory (other_xml, "other", &err);
  g_autoptr (vdp_domain) other = vdp_domain_parse (other_doc, "other", &err);
  g_autoptr (xmlDoc) big_doc = vdp_xml_read_memory (BIG, "big", &err);
  g_autoptr (vdp_domain) big = vdp_domain_parse (big_doc, "big", &err);
  g_auto (VdpBitmap) workers = hwloc_bitmap_alloc ();
  g_autoptr (GPtrArray) v = vdp_violations_new ();
  g_autoptr (vdp_plan) plan = NULL;
  struct vdp_plan_input in = { big }, ctx = { other };
  struct vdp_host_limits lim;
  struct vdp_footprint fps[2];
  const struct vdp_domain_plan *dp;
  struct vdp_caps caps;

  assert_non_null (other);
  assert_int_equal (other->n_backends, 1);
  assert_int_equal (other->backends[0].n_workers, 2);
  hwloc_bitmap_set_range (workers, 2, 3);
  vdp_caps_from_versions (&caps, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  {
    struct vdp_plan_request req = { topo, policy, &caps, &in, 1, &ctx, 1 };
    plan = vdp_plan_compute_host (&req, &err);
  }
  assert_non_null (plan);
  dp = &plan->domains[0];
  /* the first free PUs are the workers': a dedicated guest takes others */
  assert_false (dp->failed);
  vdp_footprint_from_domain (&fps[0], topo, other);
  vdp_footprint_from_plan (&fps[1], topo, dp);
  assert_int_equal (fps[0].n_iothreads, 2);
  for (guint s = 0; s < fps[1].sets->len; s++) {
    const struct vdp_pinset *ps = &g_array_index (fps[1].sets, struct vdp_pinset, s);
    g_autofree char *set = vdp_cpuset_format (ps->set);
    if (hwloc_bitmap_intersects (ps->set, workers))
      fail_msg ("big's thread %u (kind %d) on PUs %s, another domain's workers'", ps->id,
                ps->kind, set);
  }
  vdp_host_limits_init (&lim, topo, policy);
  assert_no_violation (&lim, fps, 2);

  /* a worker on a PU another domain holds 1:1 crosses a hard constraint */
  {
    g_autofree char *clash_xml = tuned_with_workers ("clash", "5b8e2f10-4c3d-4a9e-8f7b-6d1c0a2e3f45",
                                                     "1");
    g_autoptr (GString) all = g_string_new (NULL);
    g_autoptr (xmlDoc) clash_doc = vdp_xml_read_memory (clash_xml, "clash", &err);
    g_autoptr (vdp_domain) clash = vdp_domain_parse (clash_doc, "clash", &err);
    struct vdp_footprint two[2];
    gboolean named = FALSE;
    /* "clash" pins its vCPUs as "other" does: move them out of the way;
     * its first worker stays on "other"'s vCPU 1 */
    hwloc_bitmap_only (clash->vcpupin[0], 4);
    hwloc_bitmap_only (clash->vcpupin[1], 5);
    clash->backends[0].n_workers = 1;
    vdp_footprint_from_domain (&two[0], topo, other);
    vdp_footprint_from_domain (&two[1], topo, clash);
    g_ptr_array_set_size (v, 0);
    assert_true (vdp_constraints_check (&lim, two, 2, v) > 0);
    for (guint k = 0; k < v->len; k++) {
      const struct vdp_violation *x = v->pdata[k];
      named |= x->kind == VDP_HARD_EXCLUSIVE && strstr (x->subject, "virt-dataplane-blk worker")
               && strstr (x->text, "PU 1,");
      g_string_append_printf (all, "%s: %s\n", x->subject, x->text);
    }
    if (!named)
      fail_msg ("no violation for the worker on PU 1:\n%s", all->str);
    vdp_footprint_clear (&two[0]);
    vdp_footprint_clear (&two[1]);
  }
  vdp_host_limits_clear (&lim);
  vdp_footprint_clear (&fps[0]);
  vdp_footprint_clear (&fps[1]);
}

/* The placements of a planned domain's workers obey the hard constraints
 * like IOThreads: never on PUs another guest holds 1:1. */
static void
test_workers_placed_around (void **state)
{
  static const char HELD[] =
    "<domain type='kvm'><name>held</name><memory unit='GiB'>1</memory><vcpu>4</vcpu>"
    "<cputune><vcpupin vcpu='0' cpuset='4'/><vcpupin vcpu='1' cpuset='5'/>"
    "<vcpupin vcpu='2' cpuset='6'/><vcpupin vcpu='3' cpuset='7'/></cputune><os><type arch='x86_64'>hvm</type></os></domain>";
  static const char ONE[] =
    "<domain type='kvm'><name>o</name><uuid>" UUID "</uuid><memory unit='GiB'>1</memory>"
    "<vcpu>4</vcpu><os><type arch='x86_64'>hvm</type></os><devices>"
    "<disk type='file' device='disk'><source file='/i/o.raw'/><target dev='vda' bus='virtio'/></disk>"
    "</devices></domain>";
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_topology) topo = vdp_topology_load ("package:1 node:1 l3:1 core:8 pu:1", NULL);
  g_autoptr (vdp_policy) policy = vdp_policy_builtin ("balanced", NULL);
  g_autoptr (xmlDoc) held_doc = vdp_xml_read_memory (HELD, "held", &err);
  g_autoptr (vdp_domain) held = vdp_domain_parse (held_doc, "held", &err);
  g_autoptr (xmlDoc) doc = vdp_xml_read_memory (ONE, "o", &err);
  g_autoptr (vdp_domain) dom = vdp_domain_parse (doc, "o", &err);
  g_autoptr (vdp_backend_selection) sel = NULL;
  g_autoptr (vdp_plan) plan = NULL;
  g_autoptr (GPtrArray) disks = NULL;
  struct vdp_plan_input in = { dom }, ctx = { held };
  struct vdp_host_limits lim;
  struct vdp_footprint fps[2];
  const struct vdp_domain_plan *dp;
  const struct vdp_backend_disk *b;
  struct vdp_caps caps;

  vdp_caps_from_versions (&caps, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  sel = vdp_backend_select (dom, doc, &caps, VDP_BACKEND_VHOST_USER);
  in.backend = sel->served;
  {
    struct vdp_plan_request req = { topo, policy, &caps, &in, 1, &ctx, 1 };
    plan = vdp_plan_compute_host (&req, &err);
  }
  assert_non_null (plan);
  dp = &plan->domains[0];
  assert_false (dp->failed);
  assert_int_equal (dp->n_iothreads, 0);
  assert_int_equal (dp->n_io_slots, 2);
  disks = vdp_backend_settings (dp, sel, policy, "/run/vdp", doc, &err);
  assert_non_null (disks);
  b = disks->pdata[0];
  assert_int_equal (b->n_workers, 2);
  for (unsigned w = 0; w < b->n_workers; w++) {
    g_auto (VdpBitmap) set = vdp_cpuset_parse (b->worker_cpus[w], NULL);
    assert_non_null (set);
    for (unsigned k = 0; k < held->vcpus; k++)
      assert_false (hwloc_bitmap_intersects (set, held->vcpupin[k]));
  }
  /* the host as it will be: no hard constraint crossed, the workers counted */
  vdp_host_limits_init (&lim, topo, policy);
  vdp_footprint_from_domain (&fps[0], topo, held);
  vdp_footprint_from_plan (&fps[1], topo, dp);
  assert_int_equal (fps[1].n_iothreads, 2);
  assert_no_violation (&lim, fps, 2);
  vdp_host_limits_clear (&lim);
  vdp_footprint_clear (&fps[0]);
  vdp_footprint_clear (&fps[1]);
}

/* A domain whose pins virt-dataplane did not write keeps them (no
 * --force): its workers run where it runs its emulator, else its vCPUs,
 * not on whatever PU is free of the host. */
static void
test_workers_foreign_pins (void **state)
{
  static const char PINNED[] =
    "<domain type='kvm'><name>o</name><uuid>" UUID "</uuid><memory unit='GiB'>1</memory>"
    "<vcpu>2</vcpu><cputune><vcpupin vcpu='0' cpuset='2'/><vcpupin vcpu='1' cpuset='3'/>%s"
    "</cputune><os><type arch='x86_64'>hvm</type></os><devices>"
    "<disk type='file' device='disk'><source file='/i/o.raw'/><target dev='vda' bus='virtio'/></disk>"
    "</devices></domain>";
  static const struct { const char *emulator, *want; } cases[] = {
    { "<emulatorpin cpuset='4-5'/>", "4-5" },
    { "", "2-3" },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *xml = g_strdup_printf (PINNED, cases[i].emulator);
    struct planned p;
    const struct vdp_backend_disk *b;
    plan_backend (&p, xml, "package:1 node:1 l3:1 core:8 pu:1", "balanced",
                  VDP_BACKEND_VHOST_USER, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
    assert_false (p.plan->domains[0].place);
    b = p.disks->pdata[0];
    assert_int_equal (b->n_workers, 1);
    assert_non_null (b->worker_cpus[0]);
    assert_string_equal (b->worker_cpus[0], cases[i].want);
    assert_int_equal (b->node, -1);
    planned_clear (&p);
  }
}

static void
test_rewrite_and_revert (void **state)
{
  struct planned p;
  g_autoptr (GError) err = NULL;
  g_autoptr (xmlDoc) patched = NULL;
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *orig = NULL, *text = NULL, *back = NULL;
  g_autofree char *newest = vdp_test_data ("tests/data/libvirt-schemas/domain.rng");
  xmlRelaxNGPtr schema = vdp_test_schema_load (newest);
  xmlRelaxNGPtr host_schema = NULL;
  char *why = NULL;

  plan_backend (&p, MIXED, "package:1 node:1 l3:1 core:8 pu:1", "balanced", VDP_BACKEND_VHOST_USER,
                VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  orig = vdp_xml_format (p.doc);
  patched = xmlCopyDoc (p.doc, 1);
  assert_false (vdp_backend_verify (p.disks, patched, missing));
  assert_int_equal (vdp_xmlpatch_apply (patched, p.plan, &p.plan->domains[0], &err), 0);
  assert_int_equal (vdp_xmlpatch_backend (patched, p.disks, &err), 0);
  text = vdp_xml_format (patched);
  if (!vdp_test_schema_valid (schema, patched, &why))
    fail_msg ("newest schema: %s\n%s", why, text);
  if (g_file_test (LIBVIRT_SCHEMA_DIR "/domain.rng", G_FILE_TEST_EXISTS)) {
    host_schema = vdp_test_schema_load (LIBVIRT_SCHEMA_DIR "/domain.rng");
    if (!vdp_test_schema_valid (host_schema, patched, &why))
      fail_msg ("this host's schema: %s\n%s", why, text);
  }

  /* the vhost-user disk keeps its target, boot order, alias and address,
   * the comment before it, and loses what libvirt refuses there */
  assert_non_null (strstr (text,
    "<!-- the data disk -->\n"
    "    <disk type=\"vhostuser\" device=\"disk\">\n"
    "      <driver name=\"qemu\" type=\"raw\" queues=\"4\"/>\n"
    "      <source type=\"unix\" path=\"/run/vdp/" UUID "/vda.sock\">\n"
    "        <reconnect enabled=\"yes\" timeout=\"1\"/>\n"
    "      </source>\n"
    "      <target dev=\"vda\" bus=\"virtio\"/>\n"
    "      <boot order=\"1\"/>\n"
    "      <alias name=\"ua-data\"/>\n"
    "      <address type=\"pci\" domain=\"0x0000\" bus=\"0x04\" slot=\"0x00\" function=\"0x0\"/>\n"
    "    </disk>"));
  assert_null (strstr (text, "<serial>"));
  assert_non_null (strstr (text, "<memoryBacking>\n    <source type=\"memfd\"/>\n"
                                 "    <access mode=\"shared\"/>\n  </memoryBacking>"));
  /* vdb (qcow2) and the others are untouched but for vdb's IOThread */
  assert_non_null (strstr (text, "<source file=\"/var/lib/libvirt/images/m1.qcow2\"/>"));
  assert_non_null (strstr (text, "<shareable/>"));
  assert_true (vdp_backend_verify (p.disks, patched, missing));

  /* the record reads back as written */
  records = vdp_backend_records_parse (patched, &err);
  assert_non_null (records);
  assert_int_equal (records->len, 3);
  for (guint i = 0; i < records->len; i++) {
    const struct vdp_backend_disk *r = records->pdata[i], *w = p.disks->pdata[i];
    assert_string_equal (r->target, w->target);
    assert_string_equal (r->source, w->source);
    assert_string_equal (r->socket, w->socket);
    assert_int_equal (r->queues, w->queues);
    assert_int_equal (r->n_workers, w->n_workers);
    assert_int_equal (r->readonly, w->readonly);
    assert_string_equal (r->worker_cpus[0], w->worker_cpus[0]);
    assert_string_equal (r->source_type, w->source_type);
  }
  assert_string_equal (((struct vdp_backend_disk *) records->pdata[0])->serial, "M1-DATA");

  /* revert: exactly the original */
  assert_int_equal (vdp_xmlpatch_revert (patched, &err), 1);
  back = vdp_xml_format (patched);
  assert_string_equal (back, orig);
  xmlRelaxNGFree (schema);
  if (host_schema)
    xmlRelaxNGFree (host_schema);
  g_free (why);
  planned_clear (&p);
}

/* Applying again, with or without --backend, changes nothing. */
static void
test_idempotent (void **state)
{
  struct planned p, again, plain;
  g_autoptr (GError) err = NULL;
  g_autoptr (xmlDoc) once = NULL, twice = NULL, thrice = NULL;
  g_autofree char *t1 = NULL, *t2 = NULL, *t3 = NULL;
  g_autoptr (GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);

  plan_backend (&p, MIXED, "package:1 node:1 l3:1 core:8 pu:1", "balanced", VDP_BACKEND_VHOST_USER,
                VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  once = xmlCopyDoc (p.doc, 1);
  assert_int_equal (vdp_xmlpatch_apply (once, p.plan, &p.plan->domains[0], &err), 0);
  assert_int_equal (vdp_xmlpatch_backend (once, p.disks, &err), 0);
  t1 = vdp_xml_format (once);

  plan_backend (&again, t1, "package:1 node:1 l3:1 core:8 pu:1", "balanced",
                VDP_BACKEND_VHOST_USER, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  assert_true (again.sel->recorded[disk_index (again.dom, "vda")]);
  assert_string_equal (again.plan->domains[0].hash, p.plan->domains[0].hash);
  /* its recorded plan, workers' placements included, is taken as it is */
  assert_true (again.plan->domains[0].kept);
  assert_int_equal (again.plan->domains[0].n_io_slots, p.plan->domains[0].n_io_slots);
  assert_true (vdp_plan_verify (&again.plan->domains[0], again.dom, missing));
  assert_true (vdp_backend_verify (again.disks, again.doc, missing));
  twice = xmlCopyDoc (again.doc, 1);
  assert_int_equal (vdp_xmlpatch_apply (twice, again.plan, &again.plan->domains[0], &err), 0);
  assert_int_equal (vdp_xmlpatch_backend (twice, again.disks, &err), 0);
  t2 = vdp_xml_format (twice);
  assert_string_equal (t1, t2);

  /* without --backend: converted disks stay served, the plan is the same */
  plan_backend (&plain, t1, "package:1 node:1 l3:1 core:8 pu:1", "balanced", VDP_BACKEND_QEMU,
                VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  assert_string_equal (plain.plan->domains[0].hash, p.plan->domains[0].hash);
  thrice = xmlCopyDoc (plain.doc, 1);
  assert_int_equal (vdp_xmlpatch_apply (thrice, plain.plan, &plain.plan->domains[0], &err), 0);
  assert_int_equal (vdp_xmlpatch_backend (thrice, plain.disks, &err), 0);
  t3 = vdp_xml_format (thrice);
  assert_string_equal (t1, t3);
  assert_int_equal (missing->len, 0);
  planned_clear (&p);
  planned_clear (&again);
  planned_clear (&plain);
}

static void
test_memory (void **state)
{
  static const struct { const char *backing; VdpBackendMemory want; const char *after; } cases[] = {
    { "", VDP_BACKEND_MEMORY_MEMFD, "<memoryBacking>\n    <source type=\"memfd\"/>\n    <access mode=\"shared\"/>" },
    { "<memoryBacking><hugepages/></memoryBacking>", VDP_BACKEND_MEMORY_SHARE,
      "<memoryBacking>\n    <hugepages/>\n    <access mode=\"shared\"/>\n  </memoryBacking>" },
    { "<memoryBacking><source type='anonymous'/><locked/></memoryBacking>", VDP_BACKEND_MEMORY_MEMFD,
      "<memoryBacking>\n    <source type=\"memfd\"/>\n    <locked/>\n    <access mode=\"shared\"/>" },
    { "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>",
      VDP_BACKEND_MEMORY_KEEP, "<memoryBacking>\n    <source type=\"memfd\"/>\n    <access mode=\"shared\"/>" },
    { "<memoryBacking><source type='file'/></memoryBacking>", VDP_BACKEND_MEMORY_SHARE,
      "<source type=\"file\"/>\n    <access mode=\"shared\"/>" },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *xml = g_strdup_printf (
      "<domain type='kvm'><name>o</name><uuid>" UUID "</uuid><memory unit='GiB'>1</memory>%s"
      "<vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os><devices>"
      "<disk type='file' device='disk'><source file='/i/o.raw'/><target dev='vda' bus='virtio'/></disk>"
      "</devices></domain>", cases[i].backing);
    struct planned p;
    g_autoptr (GError) err = NULL;
    g_autoptr (xmlDoc) patched = NULL;
    g_autofree char *text = NULL, *orig = NULL, *back = NULL;

    plan_backend (&p, xml, "package:1 node:1 l3:1 core:4 pu:1", "balanced",
                  VDP_BACKEND_VHOST_USER, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
    assert_int_equal (vdp_backend_memory (p.doc), cases[i].want);
    orig = vdp_xml_format (p.doc);
    patched = xmlCopyDoc (p.doc, 1);
    assert_int_equal (vdp_xmlpatch_apply (patched, p.plan, &p.plan->domains[0], &err), 0);
    assert_int_equal (vdp_xmlpatch_backend (patched, p.disks, &err), 0);
    assert_int_equal (vdp_backend_memory (patched), VDP_BACKEND_MEMORY_KEEP);
    text = vdp_xml_format (patched);
    if (!strstr (text, cases[i].after))
      fail_msg ("case %zu:\n%s", i, text);
    assert_int_equal (vdp_xmlpatch_revert (patched, &err), 1);
    back = vdp_xml_format (patched);
    assert_string_equal (back, orig);
    planned_clear (&p);
  }
}

static void
test_records_untrusted (void **state)
{
  static const struct { const char *attrs, *workers, *error; } cases[] = {
    { "target='vda' type='file' source='/i/a' socket='/run/x.sock' queues='0' poll-ns='0'",
      "<vdp:worker/>", "bad queues '0'" },
    { "target='vda' type='file' source='/i/a' socket='/run/x.sock' queues='999' poll-ns='0'",
      "<vdp:worker/>", "bad queues '999'" },
    { "target='vda' type='file' source='i/a' socket='/run/x.sock' queues='1' poll-ns='0'",
      "<vdp:worker/>", "must be absolute paths" },
    { "target='../x' type='file' source='/i/a' socket='/run/x.sock' queues='1' poll-ns='0'",
      "<vdp:worker/>", "bad target '../x'" },
    { "target='vda' type='dir' source='/i/a' socket='/run/x.sock' queues='1' poll-ns='0'",
      "<vdp:worker/>", "bad type 'dir'" },
    { "target='vda' type='file' source='/i/a' socket='/run/x.sock' queues='1' poll-ns='0'",
      "<vdp:worker/><vdp:worker/>", "2 worker threads for 1 queues" },
    { "target='vda' type='file' source='/i/a' socket='/run/x.sock' queues='2' poll-ns='0'",
      "<vdp:worker cpus='1-x'/>", "cannot parse cpuset" },
    { "target='vda' type='file' source='/i/a' socket='/run/x.sock' queues='2' poll-ns='0' "
      "serial='123456789012345678901'", "<vdp:worker/>", "serial longer than 20 bytes" },
    { "target='vda' type='file' source='/i/a' socket='/run/x.sock' queues='2' poll-ns='0'",
      "<vdp:worker cpus='0-1'/>", NULL },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *xml = g_strdup_printf (
      "<domain><name>r</name><metadata><vdp:dataplane xmlns:vdp='" VDP_XMLNS "'>"
      "<vdp:backend %s>%s</vdp:backend></vdp:dataplane></metadata></domain>",
      cases[i].attrs, cases[i].workers);
    g_autoptr (xmlDoc) doc = vdp_xml_read_memory (xml, "r.xml", NULL);
    g_autoptr (GError) err = NULL;
    g_autoptr (GPtrArray) records = vdp_backend_records_parse (doc, &err);

    if (cases[i].error == NULL) {
      assert_non_null (records);
      assert_int_equal (records->len, 1);
      continue;
    }
    assert_null (records);
    if (!strstr (err->message, cases[i].error))
      fail_msg ("case %zu: '%s'", i, err->message);
  }
}

static void
test_names (void **state)
{
  g_autofree char *p = vdp_backend_socket_path ("/run/virt-dataplane", UUID, "vda");

  assert_string_equal (p, "/run/virt-dataplane/" UUID "/vda.sock");
  assert_true (vdp_backend_uuid_valid (UUID));
  assert_false (vdp_backend_uuid_valid ("8A0C4F0E-0D6B-4C55-9A38-0F1BFA4E8D11"));
  assert_false (vdp_backend_uuid_valid ("../../etc/passwd"));
  assert_false (vdp_backend_uuid_valid (NULL));
  assert_true (vdp_backend_target_valid ("vdaa"));
  assert_false (vdp_backend_target_valid ("vda/../x"));
  assert_false (vdp_backend_target_valid (""));
}

static char *
write_conf (const char *text)
{
  g_autofree char *dir = g_dir_make_tmp ("vdp-conf-XXXXXX", NULL);
  char *path = g_build_filename (dir, "backend.conf", NULL);
  assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
rm_conf (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_conf (void **state)
{
  static const struct { const char *text, *error; } bad[] = {
    { "[backend]\nruntime_dir = run/x\n", "key 'runtime_dir': bad value 'run/x'" },
    { "[backend]\nallowed_paths = /a;/b/../c\n", "key 'allowed_paths': bad value '/b/../c'" },
    { "[backend]\nallowed_paths = /\n", "bad value '/'" },
    { "[backend]\nmax_workers = 0\n", "key 'max_workers': bad value '0'" },
    { "[backend]\nsupervisor = cron\n", "key 'supervisor': bad value 'cron'" },
    { "[backend]\nspeed = 3\n", "unknown key 'speed'" },
    { "[hook]\n", "unknown group '[hook]'" },
    { "[backend]\nuser = a:b\n", "key 'user': bad value 'a:b'" },
  };
  g_autofree char *good = write_conf ("[backend]\nruntime_dir = /run/t\n"
                                      "allowed_paths = /srv/images; /dev/vg0\n"
                                      "max_workers = 4\nmemory_limit_mib = 0\n"
                                      "supervisor = builtin\nuser = qemu\n");
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_backend_conf) c = vdp_backend_conf_load (good, &err);

  assert_non_null (c);
  assert_string_equal (c->runtime_dir, "/run/t");
  assert_string_equal (c->allowed[0], "/srv/images");
  assert_string_equal (c->allowed[1], "/dev/vg0");
  assert_null (c->allowed[2]);
  assert_int_equal (c->max_workers, 4);
  assert_int_equal (c->memory_limit, 0);
  assert_int_equal (c->supervisor, VDP_SUPERVISOR_BUILTIN);
  assert_string_equal (c->user, "qemu");
  assert_null (c->group);
  rm_conf (good);
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree char *path = write_conf (bad[i].text);
    g_autoptr (GError) e = NULL;
    g_autoptr (vdp_backend_conf) x = vdp_backend_conf_load (path, &e);
    assert_null (x);
    if (!strstr (e->message, bad[i].error))
      fail_msg ("case %zu: '%s'", i, e->message);
    rm_conf (path);
  }
  {
    g_autoptr (GError) e = NULL;
    g_autoptr (vdp_backend_conf) x = vdp_backend_conf_load ("/nonexistent/backend.conf", &e);
    assert_null (x);
    assert_non_null (strstr (e->message, "cannot read '/nonexistent/backend.conf'"));
  }
}

/* The backend.conf make install puts in place reads as the defaults, and
 * the values it shows commented out are the defaults too. */
static void
test_conf_installed (void **state)
{
  const char *builddir = g_getenv ("VDP_BUILDDIR");
  g_autofree char *shipped = g_build_filename (builddir ? builddir : ".", "data", "backend.conf",
                                               NULL);
  g_autofree char *text = NULL;
  g_autofree char *plain = write_conf ("[backend]\n");
  g_autoptr (GRegex) commented = g_regex_new ("^#([a-z_]+ = )", G_REGEX_MULTILINE, 0, NULL);
  g_autofree char *uncommented = NULL, *path = NULL, *as_shipped = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_backend_conf) want = vdp_backend_conf_load (plain, &err);
  g_autoptr (vdp_backend_conf) got = NULL, values = NULL;
  guint keys = 0;

  assert_non_null (want);
  if (!g_file_get_contents (shipped, &text, NULL, &err))
    fail_msg ("%s", err->message);
  as_shipped = write_conf (text);
  got = vdp_backend_conf_load (as_shipped, &err);
  assert_non_null (got);
  uncommented = g_regex_replace (commented, text, -1, 0, "\\1", 0, NULL);
  {
    g_autoptr (GRegex) key = g_regex_new ("^[a-z_]+ = ", G_REGEX_MULTILINE, 0, NULL);
    g_autoptr (GMatchInfo) m = NULL;
    for (g_regex_match (key, uncommented, 0, &m); g_match_info_matches (m);
         g_match_info_next (m, NULL))
      keys++;
  }
  path = write_conf (uncommented);
  values = vdp_backend_conf_load (path, &err);
  if (values == NULL)
    fail_msg ("%s", err->message);
  assert_int_equal (keys, 10);    /* every key but user and group, whose default is QEMU's */
  for (const struct vdp_backend_conf *c = got; c; c = c == got ? values : NULL) {
    assert_string_equal (c->runtime_dir, want->runtime_dir);
    assert_string_equal (c->log_dir, want->log_dir);
    assert_string_equal (c->binary, want->binary);
    assert_string_equal (c->qemu_conf, want->qemu_conf);
    assert_true (g_strv_equal ((const char *const *) c->allowed,
                               (const char *const *) want->allowed));
    assert_null (c->user);
    assert_null (c->group);
    assert_int_equal (c->max_workers, want->max_workers);
    assert_int_equal (c->memory_limit, want->memory_limit);
    assert_int_equal (c->start_timeout_ms, want->start_timeout_ms);
    assert_int_equal (c->stop_timeout_ms, want->stop_timeout_ms);
    assert_int_equal (c->supervisor, want->supervisor);
  }
  rm_conf (plain);
  rm_conf (as_shipped);
  rm_conf (path);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_select),
    cmocka_unit_test (test_refusals),
    cmocka_unit_test (test_settings_from_plan),
    cmocka_unit_test (test_workers_node),
    cmocka_unit_test (test_no_qemu_iothread),
    cmocka_unit_test (test_mixed_iothreads),
    cmocka_unit_test (test_workers_in_inventory),
    cmocka_unit_test (test_workers_placed_around),
    cmocka_unit_test (test_workers_foreign_pins),
    cmocka_unit_test (test_rewrite_and_revert),
    cmocka_unit_test (test_idempotent),
    cmocka_unit_test (test_memory),
    cmocka_unit_test (test_records_untrusted),
    cmocka_unit_test (test_names),
    cmocka_unit_test (test_conf),
    cmocka_unit_test (test_conf_installed),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
