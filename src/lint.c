/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rules of "check": each finding with an id, a severity, a message and a fix hint. */
#include <config.h>

#include <stdarg.h>
#include <string.h>

#include "drift.h"
#include "inventory.h"
#include "lint.h"
#include "util/cleanup.h"
#include "util/cpuset.h"

const char *const vdp_severity_names[] = { "info", "warning", "error" };

enum {
  R_IOTHREADS_UNUSED, R_DISK_NO_IOTHREAD, R_IOTHREADPIN_ON_VCPUS, R_EMULATOR_SPANS_NODES,
  R_VCPUS_OFF_DISK_NODE, R_MEMORY_OFF_VCPU_NODE, R_NATIVE_WITHOUT_DIRECT, R_WRITEBACK_RAW,
  R_THREADS_WITH_MAPPING, R_QUEUES, R_TOO_MANY_IOTHREADS, R_SHARED_DEDICATED_PU, R_DRIFT,
  R_MAPPING_DROPPED, R_MEMORY_OVER_NODE, R_FLOATING_ISOLATED, R_IOTHREADS_OVER_PUS,
  R_OUTSIDE_HOST, R_LIVE_DIFFERS, R_LAST
};

const struct vdp_lint_rule vdp_lint_rules[] = {
  [R_IOTHREADS_UNUSED] = { "VDP001", "iothreads-unused", VDP_SEVERITY_WARNING,
    "IOThreads are defined that no disk or controller uses",
    "map the disks to them (virt-dataplane apply) or lower <iothreads>" },
  [R_DISK_NO_IOTHREAD] = { "VDP002", "disk-without-iothread", VDP_SEVERITY_WARNING,
    "a virtio disk's (or virtio-scsi controller's) I/O runs in the main loop: no IOThread",
    "give the disk iothread=, the virtio-scsi controller <driver iothread=>, or an "
    "<iothreads> mapping (virt-dataplane apply)" },
  [R_IOTHREADPIN_ON_VCPUS] = { "VDP003", "iothreadpin-on-vcpus", VDP_SEVERITY_WARNING,
    "an IOThread is pinned to PUs the vCPUs use while the node has spare PUs",
    "pin IOThreads to PUs no vCPU uses, in the vCPUs' LLC" },
  [R_EMULATOR_SPANS_NODES] = { "VDP004", "emulatorpin-spans-nodes", VDP_SEVERITY_WARNING,
    "the emulator thread may run on several NUMA nodes",
    "pin the emulator to PUs of the guest's home node" },
  [R_VCPUS_OFF_DISK_NODE] = { "VDP005", "vcpus-off-disk-node", VDP_SEVERITY_WARNING,
    "vCPUs run on no PU of the NUMA node of the disk's device",
    "pin the vCPUs on the node the disk's device is attached to" },
  [R_MEMORY_OFF_VCPU_NODE] = { "VDP006", "memory-off-vcpu-node", VDP_SEVERITY_WARNING,
    "guest memory is not bound to the NUMA node(s) of the vCPUs",
    "add <numatune><memory mode='strict' nodeset=...> with the vCPUs' nodes" },
  [R_NATIVE_WITHOUT_DIRECT] = { "VDP007", "native-without-direct-cache", VDP_SEVERITY_ERROR,
    "io='native' needs cache='none' or 'directsync' (QEMU refuses it otherwise)",
    "set cache='none'" },
  [R_WRITEBACK_RAW] = { "VDP008", "writeback-cache-on-raw", VDP_SEVERITY_WARNING,
    "a raw or qcow2 data disk whose storage may take O_DIRECT goes through the host page "
    "cache (writeback or writethrough)",
    "use cache='none' io='native' where the storage takes O_DIRECT" },
  [R_THREADS_WITH_MAPPING] = { "VDP009", "io-threads-with-mapping", VDP_SEVERITY_WARNING,
    "io='threads' hands the requests of an IOThread-mapped disk with cache='none' to a "
    "thread pool",
    "use io='native' (or io_uring) with IOThread mapping" },
  [R_QUEUES] = { "VDP010", "queues-mismatch", VDP_SEVERITY_WARNING,
    "a disk has fewer queues than vCPUs, or more IOThreads than queues",
    "set queues to the vCPU count and list at most that many IOThreads" },
  [R_TOO_MANY_IOTHREADS] = { "VDP011", "too-many-iothreads", VDP_SEVERITY_INFO,
    "more than 8 IOThreads serve one disk; 4-8 usually saturate it",
    "map the disk to at most 8 IOThreads" },
  [R_SHARED_DEDICATED_PU] = { "VDP012", "dedicated-pu-shared", VDP_SEVERITY_ERROR,
    "a PU pinned 1:1 (a vCPU or IOThread on one PU) is in another cpuset of a domain of the "
    "host, its own floating sets included",
    "give each 1:1 pin a PU no other thread may run on (virt-dataplane apply --all)" },
  [R_DRIFT] = { "VDP013", "drift", VDP_SEVERITY_WARNING,
    "a tuned domain no longer matches its plan",
    "apply --force again, or revert --force (both overwrite hand edits)" },
  [R_MAPPING_DROPPED] = { "VDP014", "mapping-not-supported", VDP_SEVERITY_ERROR,
    "IOThread virtqueue mapping that this stack drops (disks: libvirt 10.0 and QEMU 9.0; "
    "virtio-scsi: libvirt 11.2 and QEMU 10.0)",
    "use iothread= on this stack (virt-dataplane apply), or upgrade" },
  [R_MEMORY_OVER_NODE] = { "VDP015", "memory-over-node", VDP_SEVERITY_ERROR,
    "memory bound strict to a node exceeds what the node has for guests (its memory less "
    "the host's reserve, less what other guests bind there)",
    "bind less there: spread the guest over nodes, or bind it 'preferred' (virt-dataplane apply)" },
  [R_FLOATING_ISOLATED] = { "VDP016", "floating-on-isolated", VDP_SEVERITY_ERROR,
    "a thread floats over several PUs some of which are isolated, where the scheduler does not "
    "move it off a busy PU",
    "use isolated PUs for 1:1 pins only (virt-dataplane apply)" },
  [R_IOTHREADS_OVER_PUS] = { "VDP017", "iothreads-over-pus", VDP_SEVERITY_ERROR,
    "a guest has more IOThreads than PUs granted to them: they stack on one PU",
    "use fewer IOThreads, or grant them more PUs (virt-dataplane apply)" },
  [R_OUTSIDE_HOST] = { "VDP018", "pin-outside-host", VDP_SEVERITY_ERROR,
    "a thread is pinned to PUs that are not on the host, offline, outside the allowed set, or "
    "reserved for the host (host_cpus)",
    "pin to the host's usable PUs (virt-dataplane apply --force: apply keeps pins it did not "
    "write)" },
  [R_LIVE_DIFFERS] = { "VDP019", "live-differs", VDP_SEVERITY_WARNING,
    "a running guest's live settings differ from its definition (it keeps them until it restarts)",
    "restart the guest, or apply --live (revert --live) to make the running guest match" },
  [R_LAST] = { NULL, NULL, 0, NULL, NULL },
};

static void
finding_free (gpointer p)
{
  struct vdp_finding *f = p;
  g_free (f->domain);
  g_free (f->subject);
  g_free (f->message);
  g_free (f);
}

GPtrArray *
vdp_findings_new (void)
{
  return g_ptr_array_new_with_free_func (finding_free);
}

static void
add (GPtrArray *out, unsigned rule, const struct vdp_domain *d, const char *subject,
     const char *fmt, ...) G_GNUC_PRINTF (5, 6);

void
vdp_finding_addv (GPtrArray *out, const struct vdp_lint_rule *r, const char *domain,
                  const char *subject, const char *fmt, va_list ap)
{
  struct vdp_finding *f = g_new0 (struct vdp_finding, 1);

  f->id = r->id;
  f->rule = r->name;
  f->severity = r->severity;
  f->hint = r->hint;
  f->domain = g_strdup (domain);
  f->subject = g_strdup (subject);
  f->message = g_strdup_vprintf (fmt, ap);
  g_ptr_array_add (out, f);
}

static void
add (GPtrArray *out, unsigned rule, const struct vdp_domain *d, const char *subject,
     const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vdp_finding_addv (out, &vdp_lint_rules[rule], d->name, subject, fmt, ap);
  va_end (ap);
}

/* Nodes of the PUs in @set. */
static void
nodes_of (const struct vdp_topology *t, hwloc_const_bitmap_t set, hwloc_bitmap_t out)
{
  int pu;

  hwloc_bitmap_zero (out);
  hwloc_bitmap_foreach_begin (pu, set)
    const struct vdp_pu *p = vdp_topology_find_pu (t, (unsigned) pu);
    if (p && p->node >= 0)
      hwloc_bitmap_set (out, (unsigned) p->node);
  hwloc_bitmap_foreach_end ();
}

/* The PUs the vCPUs may run on (union of pins, else <vcpu cpuset>); NULL
 * when they float freely. */
static hwloc_bitmap_t
vcpu_set (const struct vdp_domain *d)
{
  hwloc_bitmap_t set = hwloc_bitmap_alloc ();
  gboolean any = FALSE;

  for (unsigned v = 0; v < d->vcpus; v++)
    if (d->vcpupin[v]) {
      hwloc_bitmap_or (set, set, d->vcpupin[v]);
      any = TRUE;
    } else if (d->vcpu_cpuset) {
      hwloc_bitmap_or (set, set, d->vcpu_cpuset);
      any = TRUE;
    } else {
      any = FALSE;
      break;
    }
  if (!any) {
    hwloc_bitmap_free (set);
    return NULL;
  }
  return set;
}

/* Whether @d is exactly today's plan for it. */
static gboolean
is_current (const struct vdp_domain *d, const struct vdp_domain_plan *dp)
{
  g_autoptr (GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);

  return d->tuned && dp && !dp->failed && g_strcmp0 (d->tuned_hash, dp->hash) == 0
         && vdp_plan_verify (dp, d, missing);
}

static void
lint_domain (const struct vdp_host_limits *lim, const struct vdp_caps *caps,
             const struct vdp_plan_input *in, const struct vdp_policy *policy,
             const struct vdp_domain_plan *dp, GPtrArray *out)
{
  const struct vdp_topology *t = lim->topo;
  const struct vdp_domain *d = in->dom;
  /* the planner's own placement: its reasons say why, advice is not needed */
  gboolean advise = !is_current (d, dp);
  g_auto (VdpBitmap) vcpus = vcpu_set (d);
  g_auto (VdpBitmap) vnodes = hwloc_bitmap_alloc ();
  g_autofree gboolean *used = g_new0 (gboolean, d->iothreads + 2);
  unsigned refs = 0;

  if (vcpus)
    nodes_of (t, vcpus, vnodes);

  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk *k = &d->disks[i];
    g_autofree char *subject = g_strdup_printf ("disk %s", k->target);
    gboolean mapped = k->iothread || k->n_mapped;
    gboolean raw = (k->driver_type == NULL || strcmp (k->driver_type, "raw") == 0
                    || strcmp (k->driver_type, "qcow2") == 0)
                   && k->type && (!strcmp (k->type, "file") || !strcmp (k->type, "block"))
                   && strcmp (k->device, "disk") == 0
                   && !(in->hints && in->hints[i].odirect == 0);

    if (k->iothread && k->iothread <= d->iothreads)
      used[k->iothread] = TRUE;
    for (unsigned j = 0; j < k->n_mapped; j++)
      if (k->mapped[j] <= d->iothreads)
        used[k->mapped[j]] = TRUE;
    refs += mapped;
    /* the planner's own plan says why a disk has none (a kept
     * placement with no I/O pool to pin one in, an old stack) */
    if (advise && vdp_disk_iothread_capable (k) && !mapped)
      add (out, R_DISK_NO_IOTHREAD, d, subject, "virtio disk %s uses no IOThread", k->target);
    if (k->io && !strcmp (k->io, "native")
        && !(k->cache && (!strcmp (k->cache, "none") || !strcmp (k->cache, "directsync"))))
      add (out, R_NATIVE_WITHOUT_DIRECT, d, subject, "io='native' with cache='%s'",
           k->cache ? k->cache : "default");
    if (advise && raw && k->cache
        && (!strcmp (k->cache, "writeback") || !strcmp (k->cache, "writethrough")))
      add (out, R_WRITEBACK_RAW, d, subject, "%s %s disk with cache='%s'",
           k->driver_type ? k->driver_type : "raw", k->type, k->cache);
    if (advise && mapped && k->io && !strcmp (k->io, "threads")
        && k->cache && (!strcmp (k->cache, "none") || !strcmp (k->cache, "directsync")))
      add (out, R_THREADS_WITH_MAPPING, d, subject, "io='threads' on a disk served by IOThreads");
    if (k->n_mapped && k->queues && k->n_mapped > k->queues)
      add (out, R_QUEUES, d, subject, "%u IOThreads for %u queues", k->n_mapped, k->queues);
    else if (advise && vdp_disk_iothread_capable (k) && k->queues && k->queues < d->vcpus)
      add (out, R_QUEUES, d, subject, "%u queues for %u vCPUs", k->queues, d->vcpus);
    if (k->n_mapped > 8)
      add (out, R_TOO_MANY_IOTHREADS, d, subject, "%u IOThreads serve this disk", k->n_mapped);
    if (k->n_mapped && !caps->disk_mapping)
      add (out, R_MAPPING_DROPPED, d, subject, "<iothreads> mapping on %s: this stack drops it",
           k->target);
    /* rule 1's view: vCPUs on the disk's node */
    if (advise && vcpus && in->hints && in->hints[i].node >= 0
        && !hwloc_bitmap_isset (vnodes, (unsigned) in->hints[i].node))
      add (out, R_VCPUS_OFF_DISK_NODE, d, subject,
           "%s is local to node %d; the vCPUs run on other nodes", k->target, in->hints[i].node);
  }
  for (unsigned i = 0; i < d->n_controllers; i++) {
    const struct vdp_controller *c = &d->controllers[i];
    g_autofree char *subject = g_strdup_printf ("controller %s %u", c->type, c->index);
    if (c->iothread && c->iothread <= d->iothreads)
      used[c->iothread] = TRUE;
    refs += c->iothread || c->n_mapped;
    if (advise && vdp_controller_iothread_capable (c) && !c->iothread && !c->n_mapped)
      add (out, R_DISK_NO_IOTHREAD, d, subject, "virtio-scsi controller %u uses no IOThread: "
           "its disks' I/O runs in the main loop", c->index);
    if (c->n_mapped) {
      for (unsigned k = 1; k <= d->iothreads; k++)
        used[k] = TRUE;   /* the ids are not kept for controllers: count them used */
      if (!caps->scsi_mapping)
        add (out, R_MAPPING_DROPPED, d, subject, "<iothreads> mapping on a controller: this "
             "stack drops it");
    }
  }
  for (unsigned k = 1; advise && k <= d->iothreads; k++)
    if (!used[k]) {
      g_autofree char *subject = g_strdup_printf ("iothread %u", k);
      add (out, R_IOTHREADS_UNUSED, d, subject, "IOThread %u serves no disk or controller", k);
    }

  for (unsigned i = 0; advise && i < d->n_iothreadpin && vcpus
       && policy->iothread_cpus == VDP_IOCPUS_SEPARATE; i++) {
    g_auto (VdpBitmap) spare = hwloc_bitmap_alloc ();
    if (!d->iothreadpin[i] || !hwloc_bitmap_intersects (d->iothreadpin[i], vcpus))
      continue;
    for (size_t n = 0; n < t->n_nodes; n++)
      if (hwloc_bitmap_isset (vnodes, t->nodes[n].id))
        hwloc_bitmap_or (spare, spare, t->nodes[n].cpuset);
    /* PUs the profile lets the planner use: usable, not isolated */
    hwloc_bitmap_and (spare, spare, lim->usable);
    hwloc_bitmap_andnot (spare, spare, lim->isolated);
    hwloc_bitmap_andnot (spare, spare, vcpus);
    if (!hwloc_bitmap_iszero (spare)) {
      g_autofree char *subject = g_strdup_printf ("iothread %u", d->iothreadpin_id[i]);
      g_autofree char *s = vdp_cpuset_format (spare);
      add (out, R_IOTHREADPIN_ON_VCPUS, d, subject, "pinned onto vCPU PUs while PUs %s are spare", s);
    }
  }
  if (advise && d->emulatorpin) {
    g_auto (VdpBitmap) en = hwloc_bitmap_alloc ();
    nodes_of (t, d->emulatorpin, en);
    if (hwloc_bitmap_weight (en) > 1) {
      g_autofree char *s = vdp_cpuset_format (en);
      add (out, R_EMULATOR_SPANS_NODES, d, "emulator", "emulatorpin spans nodes %s", s);
    }
  }
  if (advise && vcpus && !hwloc_bitmap_iszero (vnodes) && policy->memory != VDP_MEMORY_NONE) {
    g_auto (VdpBitmap) mem = hwloc_bitmap_alloc ();
    /* memory is bound by <memory> and, per guest cell, by <memnode>s */
    if (d->numa_nodeset)
      hwloc_bitmap_or (mem, mem, d->numa_nodeset);
    if (d->memnode_nodes)
      hwloc_bitmap_or (mem, mem, d->memnode_nodes);
    if (!hwloc_bitmap_isincluded (vnodes, mem)) {
    g_autofree char *s = vdp_cpuset_format (vnodes);
      add (out, R_MEMORY_OFF_VCPU_NODE, d, "memory", "the vCPUs run on node%s %s; memory is %s",
           hwloc_bitmap_weight (vnodes) > 1 ? "s" : "", s,
           hwloc_bitmap_iszero (mem) ? "not bound" : "bound elsewhere");
    }
  }
  if (d->tuned && dp && dp->failed) {
    g_autofree char *m = vdp_misfit_format (dp);
    add (out, R_DRIFT, d, "domain", "tuned with plan %s, and today %s", d->tuned_hash, m);
  } else if (d->tuned && dp) {
    g_autoptr (GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
    if (g_strcmp0 (d->tuned_hash, dp->hash) != 0 || !vdp_plan_verify (dp, d, missing)) {
      g_autoptr (GString) what = g_string_new (NULL);
      for (guint i = 0; i < missing->len; i++)
        g_string_append_printf (what, "%s%s", i ? "; " : "", (char *) missing->pdata[i]);
      add (out, R_DRIFT, d, "domain", "tuned with plan %s, which %s%s%s", d->tuned_hash,
           missing->len ? "no longer holds: " : "differs from today's plan ",
           missing->len ? what->str : dp->hash, "");
    }
  }
}

static const unsigned hard_rule[] = {
  [VDP_HARD_MEMORY] = R_MEMORY_OVER_NODE,
  [VDP_HARD_EXCLUSIVE] = R_SHARED_DEDICATED_PU,
  [VDP_HARD_ISOLATED] = R_FLOATING_ISOLATED,
  [VDP_HARD_IOTHREADS] = R_IOTHREADS_OVER_PUS,
  [VDP_HARD_HOST_PUS] = R_OUTSIDE_HOST,
};

/* An IOThread or emulator with no pin runs on every host PU: where other
 * threads are pinned 1:1, it runs on their PUs too (rule VDP012). */
static void
lint_unpinned (const struct vdp_host_limits *lim, const struct vdp_plan_input *inputs,
               unsigned n, const struct vdp_footprint *fps, const gboolean *report,
               GPtrArray *findings)
{
  g_auto (VdpBitmap) ones = hwloc_bitmap_alloc ();
  g_auto (VdpBitmap) others = hwloc_bitmap_alloc ();

  for (unsigned i = 0; i < n; i++)
    for (guint s = 0; s < fps[i].sets->len; s++) {
      const struct vdp_pinset *ps = &g_array_index (fps[i].sets, struct vdp_pinset, s);
      if (hwloc_bitmap_weight (ps->set) == 1)
        hwloc_bitmap_or (ones, ones, ps->set);
    }
  hwloc_bitmap_and (ones, ones, lim->usable);
  if (hwloc_bitmap_iszero (ones))
    return;
  for (unsigned i = 0; i < n; i++) {
    const struct vdp_domain *d = inputs[i].dom;
    g_autofree char *set = NULL;

    if ((report && !report[i]) || d->vcpu_cpuset)
      continue;   /* with <vcpu cpuset>, libvirt keeps every thread there */
    /* the PUs other domains pin 1:1 (its own unpinned emulator beside
     * its own pins is its owner's choice) */
    hwloc_bitmap_copy (others, ones);
    for (guint s = 0; s < fps[i].sets->len; s++) {
      const struct vdp_pinset *ps = &g_array_index (fps[i].sets, struct vdp_pinset, s);
      if (hwloc_bitmap_weight (ps->set) == 1)
        hwloc_bitmap_andnot (others, others, ps->set);
    }
    for (unsigned j = 0; j < n; j++)
      for (guint s = 0; j != i && s < fps[j].sets->len; s++) {
        const struct vdp_pinset *ps = &g_array_index (fps[j].sets, struct vdp_pinset, s);
        if (hwloc_bitmap_weight (ps->set) == 1)
          hwloc_bitmap_or (others, others, ps->set);
      }
    hwloc_bitmap_and (others, others, lim->usable);
    if (hwloc_bitmap_iszero (others))
      continue;
    set = vdp_cpuset_format (others);
    if (!d->emulatorpin)
      add (findings, R_SHARED_DEDICATED_PU, d, "emulator", "the emulator has no pin: it runs on "
           "every host PU, other domains' 1:1 PUs %s included", set);
    for (unsigned k = 1; k <= d->iothreads; k++) {
      gboolean pinned = FALSE;
      for (unsigned j = 0; j < d->n_iothreadpin; j++)
        pinned |= d->iothreadpin_id[j] == k && d->iothreadpin[j] != NULL;
      if (!pinned) {
        g_autofree char *subject = g_strdup_printf ("iothread %u", k);
        add (findings, R_SHARED_DEDICATED_PU, d, subject, "IOThread %u has no pin: it runs on "
             "every host PU, other domains' 1:1 PUs %s included", k, set);
      }
    }
  }
}

void
vdp_lint_host (const struct vdp_topology *topo, const struct vdp_policy *host,
               const struct vdp_caps *caps, const struct vdp_plan_input *inputs, unsigned n,
               const struct vdp_domain_plan *const *plans, const gboolean *report,
               GPtrArray *findings)
{
  struct vdp_host_limits lim;
  g_autofree struct vdp_footprint *fps = g_new0 (struct vdp_footprint, MAX (n, 1));
  g_autoptr (GPtrArray) v = vdp_violations_new ();

  vdp_host_limits_init (&lim, topo, host);
  for (unsigned i = 0; i < n; i++) {
    if (report && !report[i])
      continue;
    lint_domain (&lim, caps, &inputs[i], inputs[i].policy ? inputs[i].policy : host,
                 plans ? plans[i] : NULL, findings);
  }

  /* the hard constraints, over every domain of the host */
  for (unsigned i = 0; i < n; i++)
    vdp_footprint_from_domain (&fps[i], topo, inputs[i].dom);
  vdp_constraints_check (&lim, fps, n, v);
  lint_unpinned (&lim, inputs, n, fps, report, findings);
  for (guint k = 0; k < v->len; k++) {
    const struct vdp_violation *x = v->pdata[k];
    unsigned who = x->domain;
    if (report && !report[who]) {
      if (x->other < 0 || !report[x->other])
        continue;
      who = (unsigned) x->other;   /* the domain asked about is the other side */
    }
    if (who != x->domain) {
      g_autofree char *subject = g_strdup_printf ("%s of domain '%s'", x->subject,
                                                  inputs[x->domain].dom->name);
      add (findings, hard_rule[x->kind], inputs[who].dom, subject, "%s", x->text);
    } else {
      add (findings, hard_rule[x->kind], inputs[who].dom, x->subject, "%s", x->text);
    }
  }
  for (unsigned i = 0; i < n; i++)
    vdp_footprint_clear (&fps[i]);
  vdp_host_limits_clear (&lim);
}

void
vdp_lint_live (const struct vdp_domain *persistent, const struct vdp_domain *live,
               GPtrArray *findings)
{
  g_autoptr (GHashTable) p = vdp_drift_state (persistent);
  g_autoptr (GHashTable) l = vdp_drift_state (live);
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) what = g_string_new (NULL);

  vdp_drift_compare (l, p, "live", "in the definition", NULL, lines);
  if (lines->len == 0)
    return;
  for (guint i = 0; i < lines->len; i++)
    g_string_append_printf (what, "%s%s", i ? "; " : "", (char *) lines->pdata[i]);
  add (findings, R_LIVE_DIFFERS, persistent, "domain", "the running guest differs from its "
       "definition: %s", what->str);
}
