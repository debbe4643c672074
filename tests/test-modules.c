/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the policy, caps, domain and xmlpatch modules. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <glib/gstdio.h>

#include "caps.h"
#include "domain.h"
#include "planner.h"
#include "policy.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"
#include "vdp-test.h"
#include "xmlpatch.h"

static char *
write_tmp (const char *name, const char *text)
{
  g_autofree char *dir = g_dir_make_tmp ("vdp-mod-XXXXXX", NULL);
  char *path = g_build_filename (dir, name, NULL);
  assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
rm_tmp (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_unlink (path);
  g_rmdir (dir);
}

/* ---- policy ---- */

static void
test_policy_builtins (void **state)
{
  for (const char *const *n = vdp_policy_builtin_names; *n; n++) {
    g_autoptr (vdp_policy) p = vdp_policy_builtin (*n, NULL);
    assert_non_null (p);
    assert_string_equal (p->name, *n);
  }
  {
    g_autoptr (vdp_policy) lat = vdp_policy_builtin ("latency", NULL);
    g_autoptr (vdp_policy) den = vdp_policy_builtin ("density", NULL);
    g_autoptr (GError) err = NULL;
    assert_int_equal (lat->placement, VDP_PLACEMENT_DEDICATED);
    assert_int_equal (lat->smt, VDP_SMT_ISOLATE);
    assert_int_equal (lat->mapping, VDP_MAPPING_EXPLICIT);
    assert_int_equal (den->iothreads, 1);
    assert_int_equal (den->memory, VDP_MEMORY_PREFERRED);
    assert_null (vdp_policy_builtin ("fast", &err));
    assert_non_null (strstr (err->message, "unknown profile 'fast'"));
  }
  {
    /* throughput differs from balanced (virt-dataplane.conf(5)) */
    g_autoptr (vdp_policy) bal = vdp_policy_builtin ("balanced", NULL);
    g_autoptr (vdp_policy) thr = vdp_policy_builtin ("throughput", NULL);
    g_autofree char *fb = vdp_policy_format (bal), *ft = vdp_policy_format (thr);
    assert_int_equal (bal->iothreads_max, 4);
    assert_int_equal (thr->iothreads_max, 8);
    assert_int_equal (bal->pool_share, 4);
    assert_int_equal (thr->pool_share, 1);
    assert_int_equal (bal->poll_shared, 8192);
    assert_int_equal (thr->poll_shared, -1);
    assert_int_equal (thr->mapping, VDP_MAPPING_EXPLICIT);
    assert_string_not_equal (fb, ft);
    /* the reserve: 1 GiB a node, 1/16 of a smaller one */
    assert_int_equal (vdp_policy_memory_reserve (bal, 64 * 1024 * 1024), 1024 * 1024);
    assert_int_equal (vdp_policy_memory_reserve (bal, 8 * 1024 * 1024), 512 * 1024);
  }
}

static void
test_policy_file (void **state)
{
  g_autofree char *path = write_tmp ("site.conf",
                                     "# comment\n[profile]\nbase=latency\nsmt=prefer\n"
                                     "host_cpus=0-1,8\niothreads=3\nqueues=auto\n"
                                     "disk_io=io_uring\noverride=yes\n");
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_policy) p = vdp_policy_load_file (path, &err);
  g_autofree char *h = NULL;

  assert_non_null (p);
  assert_string_equal (p->name, "site");
  assert_int_equal (p->placement, VDP_PLACEMENT_DEDICATED);   /* from the base */
  assert_int_equal (p->smt, VDP_SMT_PREFER);
  assert_int_equal (p->iothreads, 3);
  assert_int_equal (p->queues, 0);
  assert_int_equal (p->disk_io, VDP_DISK_IO_URING);
  assert_true (p->override);
  h = vdp_cpuset_format (p->host_cpus);
  assert_string_equal (h, "0-1,8");
  rm_tmp (path);
}

static void
test_policy_host_keys (void **state)
{
  g_autofree char *path = write_tmp ("host.conf",
                                     "[profile]\nmemory_reserve=2G\nisolated_cpus=4-7\n"
                                     "pool_share=2\npool_cap=50%\npoll_shared=keep\n");
  g_autoptr (GError) err = NULL;
  g_autoptr (vdp_policy) p = vdp_policy_load_file (path, &err);
  g_autofree char *iso = NULL;

  assert_non_null (p);
  assert_false (p->memory_reserve_auto);
  assert_int_equal (vdp_policy_memory_reserve (p, 64 * 1024 * 1024), 2 * 1024 * 1024);
  iso = vdp_cpuset_format (p->isolated);
  assert_string_equal (iso, "4-7");
  assert_int_equal (p->pool_share, 2);
  assert_int_equal (p->pool_cap, 50);
  assert_int_equal (p->poll_shared, -1);
  rm_tmp (path);
}

/* A tuned domain keeps the profile it records; the run's profile gives
 * the host's keys, or every domain's profile when it was given. */
static void
test_policy_recorded (void **state)
{
  static const char *const tuned =
    "<domain type='kvm'><name>t</name><metadata><vdp:dataplane xmlns:vdp='" VDP_XMLNS "' "
    "profile='%s' plan='x' placement='owned'/></metadata><memory>1</memory><vcpu>1</vcpu>"
    "<os><type>hvm</type></os></domain>";
  g_autoptr (vdp_policy) host = vdp_policy_builtin ("balanced", NULL);
  g_autofree char *x1 = g_strdup_printf (tuned, "latency");
  g_autofree char *x2 = g_strdup_printf (tuned, "gone");
  g_autoptr (xmlDoc) d1 = vdp_xml_read_memory (x1, "t", NULL);
  g_autoptr (xmlDoc) d2 = vdp_xml_read_memory (x2, "t", NULL);
  g_autoptr (vdp_domain) t1 = vdp_domain_parse (d1, "t", NULL);
  g_autoptr (vdp_domain) t2 = vdp_domain_parse (d2, "t", NULL);
  g_autoptr (GError) err = NULL;
  const struct vdp_policy *p;

  hwloc_bitmap_set (host->host_cpus, 0);
  host->override = true;
  {
    g_autoptr (vdp_policy_cache) c = vdp_policy_cache_new (host, FALSE);
    p = vdp_policy_for_domain (c, t1, NULL);
    assert_string_equal (p->name, "latency");
    assert_int_equal (p->placement, VDP_PLACEMENT_DEDICATED);
    assert_true (hwloc_bitmap_isset (p->host_cpus, 0));      /* the host's keys */
    assert_true (p->override);
    assert_ptr_equal (vdp_policy_for_domain (c, t1, NULL), p);   /* loaded once */
    assert_null (vdp_policy_for_domain (c, t2, &err));
    assert_non_null (strstr (err->message, "recorded profile 'gone'"));
  }
  {
    g_autoptr (vdp_policy_cache) c = vdp_policy_cache_new (host, TRUE);
    assert_ptr_equal (vdp_policy_for_domain (c, t1, NULL), host);
    /* a domain that is only context keeps its own, --profile or not */
    p = vdp_policy_for_context (c, t1);
    assert_string_equal (p->name, "latency");
    assert_true (hwloc_bitmap_isset (p->host_cpus, 0));
    assert_ptr_equal (vdp_policy_for_context (c, t2), host);    /* not found: the run's */
  }
}

static void
test_policy_file_errors (void **state)
{
  static const struct { const char *text, *want; } cases[] = {
    { "[profile]\nplacement=shared\niothread=4\n", ":3: unknown key 'iothread'" },
    { "[profile]\n\nsmt=maybe\n", ":3: key 'smt': bad value 'maybe' (expected prefer|isolate)" },
    { "[profile]\niothreads=0\n", ":2: key 'iothreads': bad value '0'" },
    { "[profile]\nqueues=lots\n", "key 'queues': bad value 'lots'" },
    { "[profile]\nhost_cpus=0-x\n", "key 'host_cpus': bad value '0-x'" },
    { "[profile]\nmemory_reserve=lots\n", "key 'memory_reserve': bad value 'lots'" },
    { "[profile]\nisolated_cpus=a\n", "key 'isolated_cpus': bad value 'a'" },
    { "[profile]\npool_cap=101%\n", "key 'pool_cap': bad value '101%' (expected a percentage" },
    { "[profile]\npool_share=0\n", "key 'pool_share': bad value '0'" },
    { "[profile]\npoll_shared=fast\n", "key 'poll_shared': bad value 'fast'" },
    { "[profile]\nbase=fast\n", "key 'base': bad value 'fast'" },
    { "[tuning]\nsmt=prefer\n", "unknown group '[tuning]'" },
    { "smt=prefer\n", "" },
    { "", "no [profile] group" },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *path = write_tmp ("bad.conf", cases[i].text);
    g_autoptr (GError) err = NULL;
    g_autoptr (vdp_policy) p = vdp_policy_load_file (path, &err);

    if (p != NULL)
      fail_msg ("case %zu accepted", i);
    assert_non_null (strstr (err->message, path));
    if (strstr (err->message, cases[i].want) == NULL)
      fail_msg ("case %zu: '%s' lacks '%s'", i, err->message, cases[i].want);
    assert_null (strchr (err->message, '\n'));
    rm_tmp (path);
  }
}

static void
test_policy_search (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("vdp-xdg-XXXXXX", NULL);
  g_autofree char *pdir = g_build_filename (dir, "virt-dataplane", NULL);
  g_autofree char *file = g_build_filename (pdir, "mine.conf", NULL);
  g_autofree char *old = g_strdup (g_getenv ("XDG_CONFIG_HOME"));
  g_autoptr (vdp_policy) p = NULL;
  g_autoptr (vdp_policy) q = NULL;
  g_autoptr (vdp_policy) dflt = NULL;

  assert_int_equal (g_mkdir_with_parents (pdir, 0755), 0);
  assert_true (g_file_set_contents (file, "[profile]\niothreads=5\n", -1, NULL));
  g_setenv ("XDG_CONFIG_HOME", dir, TRUE);
  p = vdp_policy_find ("mine", NULL);
  assert_non_null (p);
  assert_int_equal (p->iothreads, 5);
  assert_string_equal (p->source, file);
  q = vdp_policy_find ("density", NULL);       /* falls through to the built-in */
  assert_string_equal (q->source, "built-in");
  dflt = vdp_policy_find (NULL, NULL);
  assert_string_equal (dflt->name, "balanced");
  if (old)
    g_setenv ("XDG_CONFIG_HOME", old, TRUE);
  else
    g_unsetenv ("XDG_CONFIG_HOME");
  g_unlink (file);
  g_rmdir (pdir);
  g_rmdir (dir);
}

/* ---- caps ---- */

static void
test_caps (void **state)
{
  struct vdp_caps c;
  g_autoptr (GError) err = NULL;
  g_autofree char *d = NULL;

  vdp_caps_from_versions (&c, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
  assert_false (c.disk_mapping);
  assert_false (c.scsi_mapping);
  assert_true (c.io_uring);
  assert_true (c.thread_pool);
  assert_false (c.iothread_poll);
  vdp_caps_from_versions (&c, VDP_VERSION (10, 0, 0), VDP_VERSION (9, 0, 0));
  assert_true (c.disk_mapping);
  assert_false (c.scsi_mapping);
  vdp_caps_from_versions (&c, VDP_VERSION (10, 0, 0), VDP_VERSION (8, 2, 0));
  assert_false (c.disk_mapping);               /* QEMU too old */
  vdp_caps_from_versions (&c, VDP_VERSION (11, 2, 0), VDP_VERSION (10, 0, 0));
  assert_true (c.scsi_mapping);

  assert_true (vdp_caps_parse_target ("libvirt=9.0,qemu=7.2", &c, NULL));
  assert_int_equal (c.libvirt, VDP_VERSION (9, 0, 0));
  assert_int_equal (c.qemu, VDP_VERSION (7, 2, 0));
  d = vdp_caps_describe (&c);
  assert_string_equal (d, "libvirt 9.0.0, QEMU 7.2.0");
  assert_true (vdp_caps_parse_target ("qemu=9.1.2", &c, NULL));
  assert_int_equal (c.libvirt, VDP_CAPS_NEWEST_LIBVIRT);
  assert_int_equal (c.qemu, VDP_VERSION (9, 1, 2));
  for (const char *bad = "libvirt=x"; bad; bad = NULL) {
    assert_false (vdp_caps_parse_target (bad, &c, &err));
    assert_non_null (strstr (err->message, "'libvirt=x'"));
    g_clear_error (&err);
  }
  assert_false (vdp_caps_parse_target ("xen=4.1", &c, NULL));
  assert_false (vdp_caps_parse_target ("", &c, NULL));
  assert_false (vdp_caps_parse_target ("libvirt=1.2.3.4", &c, NULL));
}

/* ---- domain ---- */

static const char *const FULL =
  "<domain type='kvm'>\n"
  "  <name>full</name>\n"
  "  <memory unit='MiB'>3072</memory>\n"
  "  <memoryBacking>\n    <access mode='shared'/>\n  </memoryBacking>\n"
  "  <vcpu placement='static' cpuset='0-7' current='2'>4</vcpu>\n"
  "  <iothreads>2</iothreads>\n"
  "  <iothreadids>\n    <iothread id='1'/>\n    <iothread id='5'/>\n    <iothread id='6'/>\n  </iothreadids>\n"
  "  <cputune>\n    <vcpupin vcpu='1' cpuset='3'/>\n    <emulatorpin cpuset='0'/>\n"
  "    <iothreadpin iothread='5' cpuset='1'/>\n    <iothreadsched iothreads='5-6' scheduler='batch'/>\n"
  "  </cputune>\n"
  "  <numatune>\n    <memory mode='preferred' nodeset='1'/>\n  </numatune>\n"
  "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n"
  "  <cpu>\n    <topology sockets='1' dies='1' cores='2' threads='2'/>\n"
  "    <numa>\n      <cell id='0' cpus='0-1' memory='1' unit='GiB'/>\n"
  "      <cell id='1' cpus='2-3' memory='2048' unit='MiB'/>\n    </numa>\n  </cpu>\n"
  "  <devices>\n"
  "    <disk type='block' device='disk'>\n"
  "      <driver name='qemu' type='raw' cache='none' io='native' queues='4'>\n"
  "        <iothreads>\n          <iothread id='5'/>\n          <iothread id='6'/>\n        </iothreads>\n"
  "      </driver>\n"
  "      <source dev='/dev/sdb'/>\n      <target dev='vda' bus='virtio'/>\n      <readonly/>\n"
  "    </disk>\n"
  "    <disk type='vhostuser' device='disk'>\n      <source type='unix' path='/s'/>\n"
  "      <target dev='vdb' bus='virtio'/>\n    </disk>\n"
  "    <controller type='scsi' index='2' model='virtio-scsi'>\n"
  "      <driver queues='3' iothread='1'/>\n    </controller>\n"
  "  </devices>\n"
  "</domain>\n";

/* What the planner reads back of a domain it tuned: memnodes, poll,
 * explicit queue maps, and whose queues a driver has. */
static void
test_domain_parse_tuned (void **state)
{
  static const char *const xml =
    "<domain type='kvm'><name>t</name><metadata><vdp:dataplane xmlns:vdp='" VDP_XMLNS "' "
    "profile='balanced' plan='x' placement='owned'>"
    "<vdp:original key='disk/vda/driver' present='yes'>&lt;driver name=\"qemu\"/&gt;</vdp:original>"
    "<vdp:original key='disk/vdb/driver' present='yes'>&lt;driver name=\"qemu\" queues=\"2\"/&gt;</vdp:original>"
    "</vdp:dataplane></metadata><memory unit='GiB'>2</memory><vcpu>2</vcpu><iothreads>2</iothreads>"
    "<iothreadids><iothread id='1'><poll max='8192'/></iothread><iothread id='2'/></iothreadids>"
    "<numatune><memory mode='strict' nodeset='0-1'/><memnode cellid='0' mode='strict' nodeset='1'/>"
    "<memnode cellid='1' mode='preferred' nodeset='0'/></numatune>"
    "<os><type>hvm</type></os><devices>"
    "<disk type='file' device='disk'><driver name='qemu' queues='2'><iothreads><iothread id='1'>"
    "<queue id='0'/></iothread><iothread id='2'><queue id='1'/></iothread></iothreads></driver>"
    "<source file='/a'/><target dev='vda' bus='virtio'/></disk>"
    "<disk type='file' device='disk'><driver name='qemu' queues='2'/><source file='/b'/>"
    "<target dev='vdb' bus='virtio'/></disk>"
    "<disk type='file' device='disk'><driver name='qemu' queues='3'/><source file='/c'/>"
    "<target dev='vdc' bus='virtio'/></disk></devices></domain>";
  g_autoptr (xmlDoc) doc = vdp_xml_read_memory (xml, "t", NULL);
  g_autoptr (vdp_domain) d = vdp_domain_parse (doc, "t", NULL);

  assert_non_null (d);
  assert_int_equal (d->n_memnodes, 2);
  assert_int_equal (d->memnodes[0].cellid, 0);
  assert_int_equal (hwloc_bitmap_first (d->memnodes[0].nodeset), 1);
  assert_string_equal (d->memnodes[1].mode, "preferred");
  assert_int_equal (d->iothread_poll_max[0], 8192);
  assert_int_equal (d->iothread_poll_max[1], -1);
  assert_int_equal (d->disks[0].n_mapped, 2);
  assert_int_equal (d->disks[0].mapped_queues[1]->len, 1);
  assert_int_equal (g_array_index (d->disks[0].mapped_queues[1], guint, 0), 1);
  /* queues virt-dataplane wrote are its own; the owner's are kept */
  assert_int_equal (d->disks[0].queues_explicit, 0);
  assert_int_equal (d->disks[1].queues_explicit, 2);
  assert_int_equal (d->disks[2].queues_explicit, 3);    /* never changed: the owner's */
}

static void
test_domain_parse (void **state)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (xmlDoc) doc = vdp_xml_read_memory (FULL, "full.xml", &err);
  g_autoptr (vdp_domain) d = vdp_domain_parse (doc, "full.xml", &err);

  assert_non_null (d);
  assert_string_equal (d->name, "full");
  assert_int_equal (d->vcpus, 4);
  assert_int_equal (d->vcpus_current, 2);
  assert_non_null (d->vcpu_cpuset);
  assert_int_equal (d->threads, 2);
  assert_int_equal (d->memory_kib, 3072 * 1024);
  assert_true (d->memory_shared);
  assert_null (d->vcpupin[0]);
  assert_int_equal (hwloc_bitmap_first (d->vcpupin[1]), 3);
  assert_int_equal (d->n_iothreadpin, 1);
  assert_int_equal (d->max_sched_iothread, 6);
  assert_string_equal (d->numa_mode, "preferred");
  assert_int_equal (d->n_cells, 2);
  assert_int_equal (d->cells[0].memory_kib, 1024 * 1024);
  assert_int_equal (d->cells[1].memory_kib, 2048 * 1024);
  assert_int_equal (d->iothreads, 3);          /* more ids than the count raise it */
  assert_int_equal (d->n_disks, 2);
  assert_string_equal (d->disks[0].target, "vda");
  assert_string_equal (d->disks[0].source, "/dev/sdb");
  assert_string_equal (d->disks[0].cache, "none");
  assert_int_equal (d->disks[0].queues, 4);
  assert_int_equal (d->disks[0].n_mapped, 2);
  assert_true (d->disks[0].readonly);
  assert_true (vdp_disk_iothread_capable (&d->disks[0]));
  assert_false (vdp_disk_iothread_capable (&d->disks[1]));   /* vhost-user */
  assert_int_equal (d->n_controllers, 1);
  assert_int_equal (d->controllers[0].index, 2);
  assert_int_equal (d->controllers[0].iothread, 1);
  assert_true (vdp_controller_iothread_capable (&d->controllers[0]));
  assert_non_null (vdp_domain_find_controller (d, "scsi", 2));
  assert_false (d->tuned);
}

static void
test_domain_bad (void **state)
{
  static const struct { const char *xml, *want; } cases[] = {
    { "<network/>", "not <domain>" },
    { "<domain><name>x</name><vcpu>two</vcpu></domain>", "cannot parse vcpu value 'two'" },
    { "<domain><name>x</name><memory unit='parsecs'>1</memory></domain>", "unknown memory unit 'parsecs'" },
    { "<domain><name>x</name><vcpu>2</vcpu><cputune><vcpupin vcpu='0' cpuset='a'/></cputune></domain>",
      "cannot parse cpuset 'a'" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) err = NULL;
    g_autoptr (xmlDoc) doc = vdp_xml_read_memory (cases[i].xml, "t.xml", &err);
    g_autoptr (vdp_domain) d = NULL;
    assert_non_null (doc);
    d = vdp_domain_parse (doc, "t.xml", &err);
    assert_null (d);
    if (strstr (err->message, cases[i].want) == NULL)
      fail_msg ("case %zu: '%s' lacks '%s'", i, err->message, cases[i].want);
  }
  {
    g_autoptr (GError) err = NULL;
    assert_null (vdp_xml_read_memory ("<domain>", "broken.xml", &err));
    assert_non_null (strstr (err->message, "'broken.xml'"));
    g_clear_error (&err);
    assert_null (vdp_xml_read_file ("/nonexistent/x.xml", &err));
    assert_non_null (strstr (err->message, "No such file"));
  }
}

/* ---- xmlpatch ---- */

static const char *const PLAIN =
  "<domain type='kvm'>\n"
  "  <name>p</name>\n"
  "  <!-- keep me -->\n"
  "  <memory unit='GiB'>2</memory>\n"
  "  <vcpu placement='auto'>4</vcpu>\n"
  "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n"
  "  <devices>\n"
  "    <disk type='file' device='disk'>\n"
  "      <source file='/img/p.raw'/>\n"
  "      <target dev='vda' bus='virtio'/>\n"
  "    </disk>\n"
  "    <controller type='scsi' index='0' model='virtio-scsi'/>\n"
  "  </devices>\n"
  "</domain>\n";

static void
test_xmlpatch_apply_revert (void **state)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (xmlDoc) doc = vdp_xml_read_memory (PLAIN, "p.xml", &err);
  g_autoptr (xmlDoc) tuned = xmlCopyDoc (doc, 1);
  g_autoptr (vdp_topology) topo = vdp_topology_load ("package:1 node:1(memory=16GB) l3:1 core:8 pu:1",
                                                     NULL);
  g_autoptr (vdp_policy) policy = vdp_policy_builtin ("balanced", NULL);
  g_autoptr (vdp_domain) d = vdp_domain_parse (doc, "p.xml", NULL);
  g_autofree char *rng = vdp_test_data ("tests/data/libvirt-schemas/domain.rng");
  xmlRelaxNGPtr schema = vdp_test_schema_load (rng);
  struct vdp_disk_hint hint = { .node = -1, .odirect = 1 };   /* its storage takes O_DIRECT */
  struct vdp_plan_input in = { d, &hint, NULL };
  struct vdp_caps caps;
  g_autoptr (vdp_plan) plan = NULL;
  g_autofree char *orig = vdp_xml_format (doc), *text = NULL, *back = NULL;
  const char *p_name, *p_iothreads, *p_cputune, *p_numatune, *p_os;

  policy->override = true;    /* placement='auto' counts as foreign */
  vdp_caps_from_versions (&caps, VDP_CAPS_NEWEST_LIBVIRT, VDP_CAPS_NEWEST_QEMU);
  plan = vdp_plan_compute (topo, policy, &caps, &in, 1, &err);
  assert_non_null (plan);
  assert_int_equal (vdp_xmlpatch_apply (tuned, plan, &plan->domains[0], &err), 0);
  text = vdp_xml_format (tuned);
  assert_true (vdp_test_schema_valid (schema, tuned, NULL));

  /* kept: the comment; changed: placement, driver created; libvirt order */
  assert_non_null (strstr (text, "<!-- keep me -->"));
  assert_non_null (strstr (text, "<vcpu placement=\"static\">4</vcpu>"));
  assert_non_null (strstr (text, "<driver name=\"qemu\" cache=\"none\" io=\"native\" queues=\"4\">"));
  p_name = strstr (text, "<name>");
  p_iothreads = strstr (text, "<iothreads>2</iothreads>");
  p_cputune = strstr (text, "<cputune>");
  p_numatune = strstr (text, "<numatune>");
  p_os = strstr (text, "<os>");
  assert_true (p_name && p_iothreads && p_cputune && p_numatune && p_os);
  assert_true (p_name < p_iothreads && p_iothreads < p_cputune && p_cputune < p_numatune
               && p_numatune < p_os);
  assert_non_null (strstr (text, "xmlns:vdp=\"" VDP_XMLNS "\""));

  /* revert gives back the original, exactly */
  assert_int_equal (vdp_xmlpatch_revert (tuned, &err), 1);
  back = vdp_xml_format (tuned);
  if (strcmp (back, orig) != 0)
    g_file_set_contents ("/tmp/vdp-revert-back.xml", back, -1, NULL);
  assert_string_equal (back, orig);
  assert_int_equal (vdp_xmlpatch_revert (tuned, &err), 0);   /* nothing left to revert */
  xmlRelaxNGFree (schema);
}

static void
test_xmlpatch_reapply_keeps_originals (void **state)
{
  /* apply balanced, then latency over it: revert still restores the very first */
  g_autofree char *path = vdp_test_data ("tests/data/corpus/iothreads-disk.xml");
  g_autoptr (GError) err = NULL;
  g_autoptr (xmlDoc) doc = vdp_xml_read_file (path, &err);
  g_autoptr (vdp_topology) topo = vdp_topology_load ("package:2 node:1 l3:1 core:8 pu:2", NULL);
  g_autofree char *orig = vdp_xml_format (doc);
  g_autofree char *back = NULL;
  xmlDocPtr cur = xmlCopyDoc (doc, 1);
  const char *profiles[] = { "balanced", "latency", "density" };

  for (size_t i = 0; i < G_N_ELEMENTS (profiles); i++) {
    g_autoptr (vdp_policy) policy = vdp_policy_builtin (profiles[i], NULL);
    g_autoptr (vdp_domain) d = vdp_domain_parse (cur, "x", NULL);
    struct vdp_plan_input in = { d, NULL };
    struct vdp_caps caps;
    g_autoptr (vdp_plan) plan = NULL;

    vdp_caps_from_versions (&caps, VDP_VERSION (9, 0, 0), VDP_VERSION (7, 2, 0));
    plan = vdp_plan_compute (topo, policy, &caps, &in, 1, &err);
    assert_non_null (plan);
    assert_int_equal (vdp_xmlpatch_apply (cur, plan, &plan->domains[0], &err), 0);
  }
  assert_int_equal (vdp_xmlpatch_revert (cur, &err), 1);
  back = vdp_xml_format (cur);
  assert_string_equal (back, orig);
  xmlFreeDoc (cur);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_policy_builtins),
    cmocka_unit_test (test_policy_file),
    cmocka_unit_test (test_policy_host_keys),
    cmocka_unit_test (test_policy_recorded),
    cmocka_unit_test (test_domain_parse_tuned),
    cmocka_unit_test (test_policy_file_errors),
    cmocka_unit_test (test_policy_search),
    cmocka_unit_test (test_caps),
    cmocka_unit_test (test_domain_parse),
    cmocka_unit_test (test_domain_bad),
    cmocka_unit_test (test_xmlpatch_apply_revert),
    cmocka_unit_test (test_xmlpatch_reapply_keeps_originals),
  };
  return cmocka_run_group_tests_name ("modules", tests, NULL, NULL);
}
