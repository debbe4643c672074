/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The planner (DESIGN §4): one inventory per host, guests fitted into it, checked against the hard constraints. */
#include <config.h>

#include <stdarg.h>
#include <string.h>

#include "fit.h"
#include "inventory.h"
#include "ioplace.h"
#include "planner.h"
#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"

static const char *const memory_mode_names[] = { "strict", "preferred", "none" };

void
vdp_domain_plan_reason (struct vdp_domain_plan *dp, unsigned rule, const char *subject,
                        const char *fmt, ...)
{
  struct vdp_reason *r = g_new0 (struct vdp_reason, 1);
  va_list ap;

  va_start (ap, fmt);
  r->rule = rule;
  r->subject = g_strdup (subject);
  r->text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_ptr_array_add (dp->reasons, r);
}

void
vdp_domain_plan_warn (struct vdp_domain_plan *dp, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_ptr_array_add (dp->warnings, g_strdup_printf ("domain '%s': %s", dp->dom->name, msg));
}

static void
reason_free (gpointer p)
{
  struct vdp_reason *r = p;
  g_free (r->subject);
  g_free (r->text);
  g_free (r);
}

/* ---- rule 11: whose pins are these? ------------------------------------ */

static gboolean
has_foreign_placement (const struct vdp_domain *d)
{
  if (d->tuned && d->tuned_place)
    return FALSE;   /* the pins are the ones virt-dataplane wrote */
  for (unsigned v = 0; v < d->vcpus; v++)
    if (d->vcpupin[v])
      return TRUE;
  return d->emulatorpin || (d->n_iothreadpin && !d->tuned_iothreadpin) || d->vcpu_cpuset
         || d->numa_nodeset
         || (d->vcpu_placement && strcmp (d->vcpu_placement, "auto") == 0)
         || (d->numa_placement && strcmp (d->numa_placement, "auto") == 0);
}

/* ---- rule 1: what is known of each disk --------------------------------- */

static void
explain_disks (struct vdp_domain_plan *dp, const struct vdp_plan_input *in)
{
  const struct vdp_domain *d = dp->dom;

  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk *disk = &d->disks[i];
    const struct vdp_disk_hint *h = in->hints ? &in->hints[i] : NULL;
    g_autofree char *subject = g_strdup_printf ("disk %s", disk->target);

    if (disk->source == NULL || strcmp (disk->device, "cdrom") == 0
        || strcmp (disk->device, "floppy") == 0)
      continue;
    if (h && h->node >= 0)
      vdp_domain_plan_reason (dp, 1, subject, "'%s' is local to node %d%s%s%s", disk->source,
                              h->node, h->device ? " (" : "", h->device ? h->device : "",
                              h->device ? ")" : "");
    else
      vdp_domain_plan_reason (dp, 1, subject, "locality of '%s' unknown: %s%s%s", disk->source,
                              h && h->locality ? h->locality : "nothing says where it lives",
                              h && h->suggest ? "; say where with --device " : "",
                              h && h->suggest ? h->suggest : "");
  }
}

/* ---- rule 9: disk driver ----------------------------------------------- */

static void
plan_disk_driver (struct vdp_domain_plan *dp, const struct vdp_caps *caps, unsigned i,
                  const struct vdp_disk_hint *hint)
{
  const struct vdp_policy *policy = dp->policy;
  const struct vdp_disk *disk = &dp->dom->disks[i];
  struct vdp_disk_plan *pl = &dp->disks[i];
  g_autofree char *subject = g_strdup_printf ("disk %s", disk->target);
  const char *want_io = NULL, *want_cache = NULL, *cache_after, *odirect_why;
  gboolean deliberate, direct_now, said = FALSE;
  int odirect = hint ? hint->odirect : -1;

  if (pl->backend) {
    vdp_domain_plan_reason (dp, 9, subject, "served by virt-dataplane-blk: %u queues on the "
                            "PUs of its I/O placements, opened with O_DIRECT by the backend",
                            policy->queues ? policy->queues : dp->dom->vcpus);
    return;
  }

  if (!disk->type || (strcmp (disk->type, "file") != 0 && strcmp (disk->type, "block") != 0)) {
    vdp_domain_plan_reason (dp, 9, subject, "driver left alone: %s disk",
                            disk->type ? disk->type : "untyped");
    return;
  }
  if (strcmp (disk->device, "cdrom") == 0 || strcmp (disk->device, "floppy") == 0) {
    vdp_domain_plan_reason (dp, 9, subject, "driver left alone: %s", disk->device);
    return;
  }
  if (strcmp (disk->device, "lun") == 0) {
    vdp_domain_plan_reason (dp, 9, subject, "driver left alone: device='lun' passes SCSI "
                            "commands through (SG_IO), where io= and cache= have no effect");
    return;
  }
  if (disk->driver_type && strcmp (disk->driver_type, "raw") != 0
      && strcmp (disk->driver_type, "qcow2") != 0) {
    vdp_domain_plan_reason (dp, 9, subject, "driver left alone: %s image", disk->driver_type);
    return;
  }
  deliberate = disk->cache && !policy->override
               && (strcmp (disk->cache, "unsafe") == 0 || strcmp (disk->cache, "directsync") == 0);
  direct_now = disk->cache && (strcmp (disk->cache, "none") == 0
                               || strcmp (disk->cache, "directsync") == 0);
  if (odirect < 0 && strcmp (disk->type, "block") == 0)
    odirect = 1;    /* every block device takes O_DIRECT */
  odirect_why = odirect == 1 ? (strcmp (disk->type, "block") == 0 && (!hint || hint->odirect < 0)
                                ? "a block device, which takes O_DIRECT" : "O_DIRECT works there")
                : NULL;

  if (policy->disk_cache == VDP_DISK_CACHE_NONE && !deliberate) {
    if (odirect == 1 || direct_now) {
      want_cache = direct_now ? disk->cache : "none";
    } else if (odirect == 0) {
      const char *note = hint && hint->odirect_note ? hint->odirect_note : "O_DIRECT unsupported";
      vdp_domain_plan_reason (dp, 9, subject, "cache left as is: %s", note);
      vdp_domain_plan_warn (dp, "disk %s: %s, cache left as is", disk->target, note);
      said = TRUE;
    } else {
      said = TRUE;
      vdp_domain_plan_reason (dp, 9, subject,
                              "cache left as is: whether '%s' takes O_DIRECT is unknown (%s); "
                              "cache='none' would stop the guest from starting where it does not",
                              disk->source ? disk->source : "the source",
                              hint && hint->odirect_note ? hint->odirect_note
                              : "not on this host");
    }
  } else if (deliberate) {
    vdp_domain_plan_reason (dp, 9, subject, "cache='%s' kept: set on purpose (--force "
                            "replaces it)", disk->cache);
  }
  cache_after = want_cache ? want_cache : disk->cache;
  if (policy->disk_io != VDP_DISK_IO_KEEP) {
    want_io = policy->disk_io == VDP_DISK_IO_URING && caps->io_uring ? "io_uring" : "native";
    if (strcmp (want_io, "native") == 0 && (cache_after == NULL
        || (strcmp (cache_after, "none") != 0 && strcmp (cache_after, "directsync") != 0))) {
      if (!said)
        vdp_domain_plan_reason (dp, 9, subject, "io left as is: io='native' needs cache='none' "
                                "or 'directsync' and the cache stays '%s'",
                                cache_after ? cache_after : "default");
      want_io = NULL;
      said = TRUE;
    }
  }
  if ((want_cache == NULL || g_strcmp0 (disk->cache, want_cache) == 0)
      && (want_io == NULL || g_strcmp0 (disk->io, want_io) == 0)) {
    if (said)
      return;
    vdp_domain_plan_reason (dp, 9, subject, "driver already cache='%s' io='%s'",
                            disk->cache ? disk->cache : "default", disk->io ? disk->io : "default");
    return;
  }
  pl->set_driver = true;
  pl->cache = g_strdup (want_cache ? want_cache : disk->cache);
  pl->io = g_strdup (want_io ? want_io : disk->io);
  vdp_domain_plan_reason (dp, 9, subject, "cache='%s' io='%s': %s %s storage%s%s",
                          pl->cache ? pl->cache : "default", pl->io ? pl->io : "default",
                          disk->driver_type ? disk->driver_type : "raw", disk->type,
                          odirect_why ? ", " : "", odirect_why ? odirect_why : "");
}

/* ---- the plan's hash ----------------------------------------------------- */

/* Whether virt-dataplane-blk serves a disk of the domain. */
static gboolean
serves_backend (const struct vdp_domain_plan *dp)
{
  for (unsigned i = 0; i < dp->n_disks; i++)
    if (dp->disks[i].backend)
      return TRUE;
  return FALSE;
}

/* The hash's input is gathered in one buffer and digested once. */
static void
hash_u32 (GByteArray *c, guint32 v)
{
  guint32 le = GUINT32_TO_LE (v);
  g_byte_array_append (c, (const guint8 *) &le, sizeof (le));
}

static void
hash_str (GByteArray *c, const char *s)
{
  s = s ? s : "";

  g_byte_array_append (c, (const guint8 *) s, (guint) strlen (s) + 1);
}

static void
hash_set (GByteArray *c, hwloc_const_bitmap_t set)
{
  g_autofree char *x = vdp_cpuset_format (set);
  hash_str (c, x);
}

static void
hash_map (GByteArray *c, const struct vdp_map *m)
{
  hash_u32 (c, m->kind);
  hash_u32 (c, m->queues);
  hash_u32 (c, m->n_threads);
  for (unsigned k = 0; k < m->n_threads; k++) {
    hash_u32 (c, m->threads[k]);
    if (m->queue_lists) {
      GArray *l = m->queue_lists->pdata[k];
      hash_u32 (c, l->len);
      for (guint q = 0; q < l->len; q++)
        hash_u32 (c, g_array_index (l, guint, q));
    }
  }
}

/* A fingerprint of the state the plan leads to (not of the changes), so
 * that planning the result again gives the same hash; @prefix describes
 * the profile and target. */
static void
compute_hash (struct vdp_domain_plan *dp, const char *prefix)
{
  g_autoptr (GByteArray) c = g_byte_array_sized_new (1024);
  guint64 h = 0xcbf29ce484222325ULL;    /* FNV-1a, 64 bits: a fingerprint, not a seal */
  const struct vdp_domain *d = dp->dom;

  hash_str (c, prefix);
  hash_u32 (c, dp->place);
  if (dp->guest_threads)
    hash_u32 (c, 0x7470u + dp->guest_threads);   /* only when set: older plans keep their hash */
  /* runs of vCPUs with the same pin as one entry (shared guests: one) */
  for (unsigned v = 0, start = 0; dp->place && v < d->vcpus; v++)
    if (v + 1 == d->vcpus || !hwloc_bitmap_isequal (dp->vcpu_pins[v + 1], dp->vcpu_pins[start])) {
      hash_u32 (c, start);
      hash_u32 (c, v);
      hash_set (c, dp->vcpu_pins[start]);
      start = v + 1;
    }
  if (dp->place)
    hash_set (c, dp->emulator_pin);
  hash_u32 (c, dp->set_iothreads);
  hash_u32 (c, dp->n_iothreads);
  for (unsigned k = 0; dp->place && dp->set_iothreads && k < dp->n_iothreads; k++)
    hash_set (c, dp->iothread_pins[k]);
  if (serves_backend (dp)) {
    /* the placements of virt-dataplane-blk's workers beyond QEMU's */
    hash_u32 (c, dp->n_io_slots);
    for (unsigned k = dp->set_iothreads ? dp->n_iothreads : 0; dp->place && k < dp->n_io_slots; k++)
      hash_set (c, dp->iothread_pins[k]);
  }
  hash_u32 (c, (guint32) (dp->poll_max + 1));
  hash_u32 (c, dp->memory);
  hash_u32 (c, dp->unbind);
  if (dp->memory != VDP_MEMORY_NONE)
    hash_set (c, dp->mem_nodes);
  for (unsigned i = 0; i < dp->n_cells; i++) {
    hash_u32 (c, dp->cells[i].id);
    hash_u32 (c, dp->cells[i].node);
    hash_u32 (c, (guint32) (dp->cells[i].memory_kib >> 32));
    hash_u32 (c, (guint32) dp->cells[i].memory_kib);
  }
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk_plan *pl = &dp->disks[i];
    /* the state the disk ends in */
    hash_str (c, d->disks[i].target);
    if (pl->backend) {
      /* the same before and after the conversion */
      hash_str (c, "vhost-user");
      hash_u32 (c, dp->policy->backend_poll_ns);
      continue;
    }
    hash_str (c, pl->set_driver ? pl->cache : d->disks[i].cache);
    hash_str (c, pl->set_driver ? pl->io : d->disks[i].io);
    hash_map (c, &pl->map);
  }
  /* the controllers it maps (libvirt adds others of its own) */
  for (unsigned i = 0; i < d->n_controllers; i++)
    if (dp->controllers[i].kind != VDP_MAP_NONE) {
      hash_u32 (c, d->controllers[i].index);
      hash_map (c, &dp->controllers[i]);
    }
  for (guint i = 0; i < c->len; i++) {
    h ^= c->data[i];
    h *= 0x100000001b3ULL;
  }
  g_free (dp->hash);
  dp->hash = g_strdup_printf ("%016" G_GINT64_MODIFIER "x", h);

}

/* ---- rule 2: SMT siblings as guest threads -------------------------------- */

/* Dedicated vCPUs under smt=prefer fill whole cores, vCPUs 2k and 2k+1 on
 * the two siblings of one core: the guest is told (threads='2'), so that
 * its scheduler knows they share a core, when the domain has no CPU
 * topology of its own (or has exactly that one). */
static unsigned
guest_smt_threads (const struct vdp_topology *t, const struct vdp_domain_plan *dp)
{
  const struct vdp_domain *d = dp->dom;

  if (!dp->place || dp->placement != VDP_PLACEMENT_DEDICATED || dp->policy->smt != VDP_SMT_PREFER
      || dp->vcpu_pins == NULL || d->vcpus < 2 || d->vcpus % 2)
    return 0;
  if (d->sockets && !(d->sockets == 1 && (d->dies <= 1) && d->cores == d->vcpus / 2
                      && d->threads == 2))
    return 0;
  for (unsigned v = 0; v < d->vcpus; v += 2) {
    const struct vdp_pu *a, *b;
    if (hwloc_bitmap_weight (dp->vcpu_pins[v]) != 1 || hwloc_bitmap_weight (dp->vcpu_pins[v + 1]) != 1)
      return 0;
    a = vdp_topology_find_pu (t, (unsigned) hwloc_bitmap_first (dp->vcpu_pins[v]));
    b = vdp_topology_find_pu (t, (unsigned) hwloc_bitmap_first (dp->vcpu_pins[v + 1]));
    if (a == NULL || b == NULL || a->core < 0 || a->core != b->core || a == b
        || hwloc_bitmap_weight (t->cores[a->core].pus) != 2)
      return 0;
  }
  return 2;
}

/* ---- rule 8: memory ------------------------------------------------------ */

static void
plan_memory (const struct vdp_topology *t, struct vdp_domain_plan *dp, const struct vdp_fit *f)
{
  const struct vdp_domain *d = dp->dom;
  g_autofree char *s = NULL;
  char why[160] = "";

  dp->memory = f->memory;
  if (f->unbound) {
    dp->unbind = true;
    vdp_domain_plan_reason (dp, 8, "memory",
                            "memory not bound: 'preferred' on a node without %" G_GUINT64_FORMAT
                            " MiB free would take the memory of the guests bound strict there; "
                            "the kernel allocates where the vCPUs run", d->memory_kib / 1024);
    vdp_domain_plan_warn (dp, "its memory fits no node: left unbound");
  }
  for (unsigned k = 0; dp->memory != VDP_MEMORY_NONE && k < f->n_span; k++)
    if (t->nodes[f->span[k]].memory == 0) {
      /* a memory-less node, or one whose memory hwloc does not know: a
       * binding there cannot be checked to fit, and 'strict' (even
       * 'preferred') on a node without memory stops the guest */
      dp->memory = VDP_MEMORY_NONE;
      dp->unbind = true;
      vdp_domain_plan_reason (dp, 8, "memory",
                              "memory not bound: node %u's memory is unknown or none, so no "
                              "binding there can be known to fit; the kernel allocates where the "
                              "vCPUs run", t->nodes[f->span[k]].id);
    }
  if (dp->memory == VDP_MEMORY_NONE)
    return;
  for (unsigned k = 0; k < f->n_span; k++)
    hwloc_bitmap_set (dp->mem_nodes, t->nodes[f->span[k]].id);
  if (dp->memory == VDP_MEMORY_PREFERRED && f->n_span > 1)
    hwloc_bitmap_only (dp->mem_nodes, t->nodes[f->span[0]].id);
  if (d->n_cells > 0) {
    /* the guest's own cells, each backed by its node */
    dp->n_cells = d->n_cells;
    dp->cells = g_new0 (struct vdp_cell_plan, d->n_cells);
    for (unsigned c = 0; c < d->n_cells; c++) {
      dp->cells[c].id = d->cells[c].id;
      dp->cells[c].memory_kib = d->cells[c].memory_kib;
      dp->cells[c].node = t->nodes[f->span[f->cell_span ? f->cell_span[c] : 0]].id;
    }
  } else if (f->n_span > 1) {
    /* too big for one node: guest cells that mirror the host nodes, each
     * the size its node holds */
    dp->create_cells = true;
    dp->n_cells = f->n_span;
    dp->cells = g_new0 (struct vdp_cell_plan, f->n_span);
    for (unsigned c = 0; c < f->n_span; c++) {
      struct vdp_cell_plan *cell = &dp->cells[c];
      cell->id = c;
      cell->node = t->nodes[f->span[c]].id;
      cell->vcpus = hwloc_bitmap_alloc ();
      cell->create = true;
      for (unsigned v = 0; v < d->vcpus; v++)
        if (f->vcpu_span[v] == c)
          hwloc_bitmap_set (cell->vcpus, v);
      cell->memory_kib = f->span_kib[c];
    }
    g_snprintf (why, sizeof (why), ", guest NUMA cells mirror the host nodes");
  }
  s = vdp_cpuset_format (dp->mem_nodes);
  vdp_domain_plan_reason (dp, 8, "memory", "memory %s on node%s %s%s; QEMU's own memory (about %"
                          G_GUINT64_FORMAT " MiB) counted on node %u too",
                          memory_mode_names[dp->memory],
                          hwloc_bitmap_weight (dp->mem_nodes) > 1 ? "s" : "", s, why,
                          vdp_memory_overhead_kib (d) / 1024,
                          dp->n_cells ? dp->cells[0].node
                          : (unsigned) hwloc_bitmap_first (dp->mem_nodes));
}

/* ---- rule 12: a recorded plan that still holds ----------------------------- */

static gboolean
has_capable_devices (const struct vdp_domain *d)
{
  for (unsigned i = 0; i < d->n_disks; i++)
    if (vdp_disk_iothread_capable (&d->disks[i]))
      return TRUE;
  for (unsigned i = 0; i < d->n_controllers; i++)
    if (vdp_controller_iothread_capable (&d->controllers[i]))
      return TRUE;
  return FALSE;
}

/* The map a device's driver has now. */
static void
map_from_xml (struct vdp_map *m, unsigned iothread, unsigned n_mapped, const unsigned *mapped,
              GArray **queue_lists, unsigned queues, gboolean single_keeps_queues)
{
  gboolean with_queues = FALSE;

  for (unsigned k = 0; k < n_mapped; k++)
    with_queues |= queue_lists && queue_lists[k] && queue_lists[k]->len > 0;
  if (iothread) {
    m->kind = VDP_MAP_SINGLE;
    m->n_threads = 1;
    m->threads = g_new0 (unsigned, 1);
    m->threads[0] = iothread;
    m->queues = single_keeps_queues ? queues : 0;
    return;
  }
  if (n_mapped == 0)
    return;
  m->kind = with_queues ? VDP_MAP_EXPLICIT : VDP_MAP_ROUNDROBIN;
  m->queues = queues;
  m->n_threads = n_mapped;
  m->threads = g_new (unsigned, n_mapped);
  memcpy (m->threads, mapped, sizeof (unsigned) * n_mapped);
  if (with_queues) {
    m->queue_lists = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
    for (unsigned k = 0; k < n_mapped; k++)
      g_ptr_array_add (m->queue_lists, g_array_ref (queue_lists[k]));
  }
}

/* The recorded worker CPUs of the virt-dataplane-blk backend of disk
 * @target, or NULL. */
static const struct vdp_backend_workers *
recorded_workers (const struct vdp_domain *d, const char *target)
{
  for (unsigned i = 0; i < d->n_backends; i++)
    if (g_strcmp0 (d->backends[i].target, target) == 0)
      return &d->backends[i];
  return NULL;
}

/* The I/O placements of virt-dataplane-blk's workers as their records
 * say: worker w on placement w, the first ones shared with QEMU's
 * IOThreads.  FALSE when a served disk has no record, or records that do
 * not agree with each other or with the IOThreads' pins. */
static gboolean
adopt_workers (struct vdp_domain_plan *dp)
{
  const struct vdp_domain *d = dp->dom;
  const struct vdp_backend_workers *first = NULL;
  unsigned qemu = dp->set_iothreads ? dp->n_iothreads : 0;

  dp->n_io_slots = qemu;
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_backend_workers *r;
    if (!dp->disks[i].backend)
      continue;
    r = recorded_workers (d, d->disks[i].target);
    if (r == NULL || r->n_workers == 0)
      return FALSE;
    if (first == NULL) {
      first = r;
      continue;
    }
    if (r->n_workers != first->n_workers)
      return FALSE;
    for (unsigned w = 0; w < r->n_workers; w++)
      if (!r->cpus[w] || !first->cpus[w] || !hwloc_bitmap_isequal (r->cpus[w], first->cpus[w]))
        return FALSE;
  }
  if (first == NULL)
    return TRUE;
  dp->n_io_slots = MAX (qemu, first->n_workers);
  dp->iothread_pins = g_renew (hwloc_bitmap_t, dp->iothread_pins, MAX (dp->n_io_slots, 1));
  for (unsigned k = qemu; k < dp->n_io_slots; k++)
    dp->iothread_pins[k] = NULL;
  for (unsigned k = 0; k < dp->n_io_slots; k++) {
    hwloc_const_bitmap_t w = k < first->n_workers ? first->cpus[k] : NULL;
    if (k >= qemu) {
      if (w == NULL)
        return FALSE;
      dp->iothread_pins[k] = hwloc_bitmap_dup (w);
    } else if (w && !hwloc_bitmap_isequal (w, dp->iothread_pins[k])) {
      return FALSE;
    }
  }
  return TRUE;
}

/* Takes the domain's current placement as its plan when it is exactly the
 * plan recorded in its metadata (same profile, same stack): a guest is not
 * moved while its plan holds. */
static gboolean
adopt (const struct vdp_topology *t, const struct vdp_caps *caps, struct vdp_domain_plan *dp,
       const char *prefix)
{
  const struct vdp_domain *d = dp->dom;
  const struct vdp_policy *p = dp->policy;

  if (!d->tuned || !d->tuned_place || !d->tuned_hash || !d->emulatorpin)
    return FALSE;
  for (unsigned v = 0; v < d->vcpus; v++)
    if (!d->vcpupin[v])
      return FALSE;
  dp->place = true;
  dp->placement = p->placement;
  dp->vcpu_pins = g_new0 (hwloc_bitmap_t, d->vcpus);
  for (unsigned v = 0; v < d->vcpus; v++) {
    dp->vcpu_pins[v] = hwloc_bitmap_dup (d->vcpupin[v]);
    if (hwloc_bitmap_weight (d->vcpupin[v]) != 1)
      dp->placement = VDP_PLACEMENT_SHARED;   /* a dedicated profile degraded on a small host */
  }
  dp->emulator_pin = hwloc_bitmap_dup (d->emulatorpin);
  dp->poll_max = -1;
  if (has_capable_devices (d) || d->iothreads > 0) {
    dp->set_iothreads = true;
    dp->n_iothreads = d->iothreads;
    dp->iothread_pins = g_new0 (hwloc_bitmap_t, MAX (d->iothreads, 1));
    for (unsigned k = 0; k < d->iothreads; k++) {
      for (unsigned i = 0; i < d->n_iothreadpin; i++)
        if (d->iothreadpin_id[i] == k + 1 && d->iothreadpin[i])
          dp->iothread_pins[k] = hwloc_bitmap_dup (d->iothreadpin[i]);
      if (dp->iothread_pins[k] == NULL)
        return FALSE;
    }
    for (unsigned i = 0; i < d->n_iothreadids; i++) {
      if (i > 0 && d->iothread_poll_max[i] != dp->poll_max)
        return FALSE;
      dp->poll_max = d->iothread_poll_max[i];
    }
  }
  if (!adopt_workers (dp))
    return FALSE;
  dp->memory = p->memory == VDP_MEMORY_NONE ? VDP_MEMORY_NONE
               : g_strcmp0 (d->numa_mode, "preferred") == 0 ? VDP_MEMORY_PREFERRED
               : VDP_MEMORY_STRICT;
  if (dp->memory != VDP_MEMORY_NONE && d->numa_mode == NULL) {
    dp->memory = VDP_MEMORY_NONE;     /* left unbound: its memory fit no node */
    dp->unbind = true;
  }
  if (dp->memory != VDP_MEMORY_NONE) {
    if (!d->numa_nodeset)
      return FALSE;
    hwloc_bitmap_copy (dp->mem_nodes, d->numa_nodeset);
    dp->n_cells = d->n_memnodes ? d->n_cells : 0;
    dp->cells = g_new0 (struct vdp_cell_plan, MAX (dp->n_cells, 1));
    for (unsigned c = 0; c < dp->n_cells; c++) {
      dp->cells[c].id = d->cells[c].id;
      dp->cells[c].memory_kib = d->cells[c].memory_kib;
      for (unsigned m = 0; m < d->n_memnodes; m++)
        if (d->memnodes[m].cellid == d->cells[c].id && d->memnodes[m].nodeset)
          dp->cells[c].node = (unsigned) hwloc_bitmap_first (d->memnodes[m].nodeset);
    }
  }
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk *k = &d->disks[i];
    if (dp->set_iothreads && vdp_disk_iothread_capable (k))
      map_from_xml (&dp->disks[i].map, k->iothread, k->n_mapped, k->mapped, k->mapped_queues,
                    k->queues, TRUE);
  }
  for (unsigned i = 0; i < d->n_controllers; i++) {
    const struct vdp_controller *c = &d->controllers[i];
    if (dp->set_iothreads && vdp_controller_iothread_capable (c))
      map_from_xml (&dp->controllers[i], c->iothread, c->n_mapped, c->mapped, c->mapped_queues,
                    c->queues, FALSE);
  }
  dp->guest_threads = guest_smt_threads (t, dp);
  compute_hash (dp, prefix);

  if (strcmp (dp->hash, d->tuned_hash) != 0)
    return FALSE;
  (void) caps;
  for (unsigned i = 0; i < d->n_disks; i++)
    if (dp->disks[i].map.kind != VDP_MAP_NONE)
      vdp_io_map_locality (t, dp, &dp->disks[i].map);
  for (unsigned i = 0; i < d->n_controllers; i++)
    if (dp->controllers[i].kind != VDP_MAP_NONE)
      vdp_io_map_locality (t, dp, &dp->controllers[i]);
  /* where things are, from the pins */
  dp->vcpu_l3 = g_new0 (int, d->vcpus);
  dp->vcpu_node = g_new0 (int, d->vcpus);
  for (unsigned v = 0; v < d->vcpus; v++) {
    dp->vcpu_l3[v] = vdp_io_group_of (t, dp->vcpu_pins[v]);
    dp->vcpu_node[v] = vdp_io_node_of (t, dp->vcpu_pins[v]);
    for (size_t n = 0; n < t->n_nodes; n++)
      if (hwloc_bitmap_intersects (dp->vcpu_pins[v], t->nodes[n].cpuset))
        hwloc_bitmap_set (dp->nodes, t->nodes[n].id);
  }
  dp->home_node = hwloc_bitmap_first (dp->nodes);
  dp->iothread_l3 = g_new0 (int, MAX (dp->n_io_slots, 1));
  dp->iothread_node = g_new0 (int, MAX (dp->n_io_slots, 1));
  for (unsigned k = 0; k < dp->n_io_slots; k++) {
    dp->iothread_l3[k] = vdp_io_group_of (t, dp->iothread_pins[k]);
    dp->iothread_node[k] = vdp_io_node_of (t, dp->iothread_pins[k]);
  }
  return TRUE;
}

/* Frees what a failed adoption left in @dp. */
static void
unadopt (struct vdp_domain_plan *dp)
{
  if (dp->vcpu_pins)
    for (unsigned v = 0; v < dp->n_vcpus; v++)
      hwloc_bitmap_free (dp->vcpu_pins[v]);
  if (dp->iothread_pins)
    for (unsigned k = 0; k < MAX (dp->n_iothreads, dp->n_io_slots); k++)
      hwloc_bitmap_free (dp->iothread_pins[k]);
  g_clear_pointer (&dp->vcpu_pins, g_free);
  g_clear_pointer (&dp->iothread_pins, g_free);
  g_clear_pointer (&dp->emulator_pin, hwloc_bitmap_free);
  /* an adoption that held until the inventory refused it got this far */
  g_clear_pointer (&dp->vcpu_l3, g_free);
  g_clear_pointer (&dp->vcpu_node, g_free);
  g_clear_pointer (&dp->iothread_l3, g_free);
  g_clear_pointer (&dp->iothread_node, g_free);
  hwloc_bitmap_zero (dp->nodes);
  for (unsigned c = 0; c < dp->n_cells; c++)
    hwloc_bitmap_free (dp->cells[c].vcpus);
  g_clear_pointer (&dp->cells, g_free);
  dp->n_cells = 0;
  for (unsigned i = 0; i < dp->n_disks; i++)
    vdp_map_clear (&dp->disks[i].map);
  for (unsigned i = 0; i < dp->n_controllers; i++)
    vdp_map_clear (&dp->controllers[i]);
  if (dp->mem_nodes)
    hwloc_bitmap_zero (dp->mem_nodes);
  dp->set_iothreads = false;
  dp->n_iothreads = 0;
  dp->n_io_slots = 0;
  dp->memory = VDP_MEMORY_NONE;
  dp->unbind = false;
  dp->poll_max = -1;
  dp->guest_threads = 0;
  g_clear_pointer (&dp->hash, g_free);
}

/* ---- one domain's decisions ------------------------------------------------ */

static void
finish_domain (const struct vdp_topology *t, const struct vdp_caps *caps,
               struct vdp_domain_plan *dp, const struct vdp_plan_input *in, unsigned n_span,
               const char *prefix)
{
  const struct vdp_domain *d = dp->dom;

  vdp_io_map (t, caps, dp, n_span);
  for (unsigned i = 0; i < d->n_disks; i++)
    plan_disk_driver (dp, caps, i, in->hints ? &in->hints[i] : NULL);
  compute_hash (dp, prefix);
}

struct order_data {
  const struct vdp_domain_plan *dps;
  const gboolean *first;      /* fitted before all others (NULL: none) */
};

static int
cmp_order (gconstpointer a, gconstpointer b, gpointer data)
{
  const struct order_data *od = data;
  unsigned ia = *(const unsigned *) a, ib = *(const unsigned *) b;
  const struct vdp_domain_plan *x = &od->dps[ia];
  const struct vdp_domain_plan *y = &od->dps[ib];
  int c;

  if (od->first && od->first[ia] != od->first[ib])
    return od->first[ia] ? -1 : 1;
  /* dedicated guests first (they need PUs of their own), then the
   * largest first */
  if ((x->policy->placement == VDP_PLACEMENT_DEDICATED) != (y->policy->placement == VDP_PLACEMENT_DEDICATED))
    return x->policy->placement == VDP_PLACEMENT_DEDICATED ? -1 : 1;
  if (x->dom->vcpus != y->dom->vcpus)
    return x->dom->vcpus > y->dom->vcpus ? -1 : 1;
  if (x->dom->memory_kib != y->dom->memory_kib)
    return x->dom->memory_kib > y->dom->memory_kib ? -1 : 1;
  c = g_strcmp0 (x->dom->name, y->dom->name);
  return c ? c : (int) *(const unsigned *) a - (int) *(const unsigned *) b;
}

static void
domain_plan_init (struct vdp_domain_plan *dp, const struct vdp_plan_input *in,
                  const struct vdp_policy *host)
{
  const struct vdp_domain *d = in->dom;

  dp->dom = d;
  dp->policy = in->policy ? in->policy : host;
  dp->n_vcpus = d->vcpus;
  dp->n_disks = d->n_disks;
  dp->n_controllers = d->n_controllers;
  dp->reasons = g_ptr_array_new_with_free_func (reason_free);
  dp->warnings = g_ptr_array_new_with_free_func (g_free);
  dp->home_node = -1;
  dp->placement = dp->policy->placement;
  dp->nodes = hwloc_bitmap_alloc ();
  dp->mem_nodes = hwloc_bitmap_alloc ();
  dp->disks = g_new0 (struct vdp_disk_plan, MAX (d->n_disks, 1));
  dp->controllers = g_new0 (struct vdp_map, MAX (d->n_controllers, 1));
  for (unsigned i = 0; in->backend && i < d->n_disks; i++)
    dp->disks[i].backend = in->backend[i];
  dp->memory = VDP_MEMORY_NONE;
  dp->poll_max = -1;
}

/* Frees what @dp holds (not @dp). */
static void
domain_plan_clear (struct vdp_domain_plan *dp)
{
  unadopt (dp);   /* pins, cells, maps, hash */
  if (dp->disks)
    for (unsigned k = 0; k < dp->n_disks; k++) {
      g_free (dp->disks[k].cache);
      g_free (dp->disks[k].io);
    }
  g_free (dp->vcpu_l3);
  g_free (dp->vcpu_node);
  g_free (dp->iothread_l3);
  g_free (dp->iothread_node);
  g_free (dp->disks);
  g_free (dp->controllers);
  hwloc_bitmap_free (dp->nodes);
  hwloc_bitmap_free (dp->mem_nodes);
  if (dp->reasons)
    g_ptr_array_unref (dp->reasons);
  if (dp->warnings)
    g_ptr_array_unref (dp->warnings);
  g_free (dp->skip_reason);
  g_free (dp->misfit.what);
  g_free (dp->misfit.why);
  memset (dp, 0, sizeof (*dp));
}

/* The hash prefix of a profile and a stack. */
static char *
hash_prefix (const struct vdp_policy *p, const struct vdp_caps *caps)
{
  g_autofree char *pol = vdp_policy_format (p);
  g_autofree char *stack = vdp_caps_describe (caps);
  return g_strconcat (pol, "|", stack, NULL);
}

/* A domain that fails: nothing of the plan is kept. */
static void
fail_domain (struct vdp_domain_plan *dp, const char *why)
{
  unadopt (dp);
  g_clear_pointer (&dp->vcpu_l3, g_free);
  g_clear_pointer (&dp->vcpu_node, g_free);
  g_clear_pointer (&dp->iothread_l3, g_free);
  g_clear_pointer (&dp->iothread_node, g_free);
  for (unsigned i = 0; i < dp->n_disks; i++) {
    g_clear_pointer (&dp->disks[i].cache, g_free);
    g_clear_pointer (&dp->disks[i].io, g_free);
    dp->disks[i].set_driver = false;
  }
  dp->failed = true;
  dp->kept = false;
  dp->create_cells = false;
  dp->place = false;
  if (why && dp->misfit.why == NULL) {
    dp->misfit.why = g_strdup (why);
    dp->misfit.best_node = -1;
  }
}

/* Whether the domain's definition holds anything on the host: a pin or
 * a memory binding. */
static gboolean
holds_something (const struct vdp_topology *topo, const struct vdp_domain *d)
{
  struct vdp_footprint fp;
  gboolean held;

  vdp_footprint_from_domain (&fp, topo, d);
  held = fp.sets->len > 0;
  for (size_t k = 0; !held && k < topo->n_nodes; k++)
    held = fp.strict_kib[k] || fp.preferred_kib[k];
  vdp_footprint_clear (&fp);
  return held;
}

/* A domain refused in an earlier round (@prev): it keeps what its
 * definition holds, and its misfit and reasons. */
static void
keep_refused (struct vdp_domain_plan *dp, struct vdp_domain_plan *prev)
{
  GPtrArray *x;

  fail_domain (dp, NULL);
  g_free (dp->misfit.what);
  g_free (dp->misfit.why);
  dp->misfit = prev->misfit;
  memset (&prev->misfit, 0, sizeof (prev->misfit));
  x = dp->reasons;
  dp->reasons = prev->reasons;
  prev->reasons = x;
  x = dp->warnings;
  dp->warnings = prev->warnings;
  prev->warnings = x;
  vdp_domain_plan_reason (dp, 0, "domain",
                          "refused: its current pins and memory binding stay in place, and the "
                          "host's other domains are planned around them");
}

/* Whether the host's layout itself (no other guest on it, memory aside)
 * has no room for the dedicated vCPUs of input @i under its profile,
 * though it has as many cores (PUs with smt=prefer) as the guest has
 * vCPUs: the PUs the host, its emulator and I/O need are what is short. */
static gboolean
layout_forbids_dedicated (const struct vdp_plan_request *req, unsigned i,
                          const struct vdp_policy *p, unsigned n_io, const int *io_pref,
                          unsigned io_cap)
{
  g_autoptr (vdp_policy) cpus_only = vdp_policy_dup (p);
  struct vdp_domain_plan tmp = { 0 };
  struct vdp_inventory empty;
  struct vdp_fit fit;
  gboolean fits;
  unsigned room = 0;
  g_auto (VdpBitmap) usable = hwloc_bitmap_alloc ();

  /* a guest with more vCPUs than the host has cores (smt=isolate) or PUs
   * for them is too big, not held back by the layout: refused */
  hwloc_bitmap_andnot (usable, req->topo->allowed, req->policy->host_cpus);
  for (size_t c = 0; c < req->topo->n_cores; c++)
    if (hwloc_bitmap_intersects (req->topo->cores[c].pus, usable)) {
      g_auto (VdpBitmap) x = hwloc_bitmap_alloc ();
      hwloc_bitmap_and (x, req->topo->cores[c].pus, usable);
      room += p->smt == VDP_SMT_ISOLATE ? 1 : (unsigned) hwloc_bitmap_weight (x);
    }
  if (req->inputs[i].dom->vcpus > room)
    return FALSE;
  cpus_only->memory = VDP_MEMORY_NONE;
  domain_plan_init (&tmp, &req->inputs[i], req->policy);
  tmp.policy = cpus_only;
  vdp_inventory_init (&empty, req->topo, req->policy);
  fits = vdp_fit_guest (&empty, &req->inputs[i], &tmp, n_io, io_pref, io_cap, &fit);
  if (fits)
    vdp_fit_clear (&fit);
  vdp_inventory_clear (&empty);
  domain_plan_clear (&tmp);
  return !fits;
}

/* A dedicated guest refused on a host whose layout could never give it
 * dedicated PUs (a small host, one whose PUs are nearly all the host's):
 * planned again, after every other guest, with shared placement, and
 * said why.  @n_reasons: the reasons it had before its first fit.
 * Returns whether it now fits. */
static gboolean
degrade_to_shared (struct vdp_plan *plan, struct vdp_inventory *inv,
                   const struct vdp_plan_request *req, unsigned i, guint n_reasons,
                   struct vdp_fit *fit)
{
  struct vdp_domain_plan *dp = &plan->domains[i];
  const struct vdp_policy *p = dp->policy;
  g_autofree int *io_pref = NULL;
  g_autofree char *why = NULL;
  struct vdp_policy *shared;
  unsigned io_cap, n_io;
  gboolean ok;

  why = g_strdup_printf ("%s: %s", dp->misfit.what ? dp->misfit.what : "dedicated vCPUs",
                         dp->misfit.why ? dp->misfit.why : "no room");
  g_clear_pointer (&dp->misfit.what, g_free);
  g_clear_pointer (&dp->misfit.why, g_free);
  memset (&dp->misfit, 0, sizeof (dp->misfit));
  g_ptr_array_set_size (dp->reasons, (gint) n_reasons);

  shared = vdp_policy_dup (p);
  shared->placement = VDP_PLACEMENT_SHARED;
  shared->smt = VDP_SMT_PREFER;
  shared->emulator = VDP_EMULATOR_LLC;
  shared->mapping = VDP_MAPPING_AUTO;
  if (plan->profiles == NULL)
    plan->profiles = g_ptr_array_new_with_free_func ((GDestroyNotify) vdp_policy_free);
  g_ptr_array_add (plan->profiles, shared);
  dp->policy = shared;
  dp->placement = VDP_PLACEMENT_SHARED;
  n_io = vdp_io_count (dp, &req->inputs[i], req->topo, &plan->caps, &io_pref, &io_cap);
  explain_disks (dp, &req->inputs[i]);
  n_reasons = dp->reasons->len;
  ok = vdp_fit_guest (inv, &req->inputs[i], dp, n_io, io_pref, io_cap, fit);
  /* the reason first, before what the fit says */
  vdp_domain_plan_reason (dp, 2, "vcpus",
                          "%s: profile '%s' asks for dedicated vCPUs, and even with no other "
                          "guest this host's layout cannot hold them 1:1 (%s)",
                          ok ? "shared placement instead" : "shared placement tried", p->name,
                          why);
  g_ptr_array_insert (dp->reasons, (gint) n_reasons,
                      g_ptr_array_steal_index (dp->reasons, dp->reasons->len - 1));
  if (ok)
    vdp_domain_plan_warn (dp, "dedicated placement is impossible on this host: shared instead");
  return ok;
}

/* ---- rule 11: IOThreads of a guest whose placement is kept ----------------- */

/* The node position all of @d's vCPU pins lie on, or -1 (some vCPU
 * unpinned, or pins over several nodes). */
static int
kept_vcpu_node (const struct vdp_inventory *inv, const struct vdp_domain *d)
{
  g_auto (VdpBitmap) all = hwloc_bitmap_alloc ();
  int id;

  for (unsigned v = 0; v < d->vcpus; v++) {
    hwloc_const_bitmap_t s = d->vcpupin[v] ? d->vcpupin[v] : d->vcpu_cpuset;
    if (s == NULL || hwloc_bitmap_iszero (s) || hwloc_bitmap_last (s) < 0)
      return -1;
    hwloc_bitmap_or (all, all, s);
  }
  if (d->vcpus == 0)
    return -1;
  id = vdp_io_node_of (inv->topo, all);
  return id < 0 ? -1 : vdp_inventory_node_pos (inv, (unsigned) id);
}

/* Drops the IOThreads the plan of a kept guest would add, saying @why. */
static void
kept_io_drop (struct vdp_domain_plan *dp, const char *why)
{
  unsigned n = MAX (dp->n_iothreads, dp->n_io_slots);

  vdp_domain_plan_reason (dp, 3, "iothreads", "no IOThread added: %s; an unpinned IOThread "
                          "would run on every host PU, other guests' dedicated PUs included", why);
  vdp_domain_plan_warn (dp, "no IOThread added: %s", why);
  if (dp->iothread_pins)
    for (unsigned k = 0; k < n; k++)
      hwloc_bitmap_free (dp->iothread_pins[k]);
  g_clear_pointer (&dp->iothread_pins, g_free);
  g_clear_pointer (&dp->iothread_l3, g_free);
  g_clear_pointer (&dp->iothread_node, g_free);
  dp->set_iothreads = false;
  dp->n_iothreads = 0;
  dp->n_io_slots = 0;
}

/* Whether the IOThreads planned for a kept guest are the domain's own
 * (it pins them itself): then nothing is added. */
static gboolean
kept_io_own (const struct vdp_domain_plan *dp)
{
  const struct vdp_domain *d = dp->dom;
  return d->n_iothreadpin > 0 && !d->tuned_iothreadpin && d->iothreads > 0
         && !dp->policy->override;
}

/* Removes the IOThread sets from @fp. */
static void
drop_iothread_sets (struct vdp_footprint *fp)
{
  for (guint s = fp->sets->len; s-- > 0;) {
    struct vdp_pinset *ps = &g_array_index (fp->sets, struct vdp_pinset, s);
    if (ps->kind == VDP_THREAD_IOTHREAD) {
      hwloc_bitmap_free (ps->set);
      g_array_remove_index (fp->sets, s);
    }
  }
  g_clear_pointer (&fp->io_granted, hwloc_bitmap_free);
  fp->n_iothreads = 0;
}

/* Some node for the IOThreads a kept guest already has when its vCPUs
 * tell none: the node of its first pinned PU, else the first node. */
static int
kept_any_node (const struct vdp_inventory *inv, const struct vdp_domain *d)
{
  for (unsigned v = 0; v < d->vcpus; v++)
    if (d->vcpupin[v] && hwloc_bitmap_first (d->vcpupin[v]) >= 0) {
      const struct vdp_pu *pu = vdp_topology_find_pu (inv->topo,
                                                      (unsigned) hwloc_bitmap_first (d->vcpupin[v]));
      int n = pu && pu->node >= 0 ? vdp_inventory_node_pos (inv, (unsigned) pu->node) : -1;
      if (n >= 0)
        return n;
    }
  return 0;
}

/* The pins an earlier run gave the @n_io IOThreads of a kept guest, taken
 * again when they are still one set of node position @n's PUs no guest
 * holds: a second run changes nothing. */
static gboolean
kept_io_reuse (struct vdp_inventory *inv, struct vdp_domain_plan *dp, size_t n, unsigned n_io)
{
  const struct vdp_domain *d = dp->dom;
  const struct vdp_topology *t = inv->topo;
  g_auto (VdpBitmap) region = hwloc_bitmap_alloc ();
  hwloc_const_bitmap_t set = NULL;

  if (!d->tuned_iothreadpin || n_io > d->n_iothreadpin)
    return FALSE;
  vdp_inventory_region (inv, n, region);
  for (unsigned k = 1; k <= n_io; k++) {
    hwloc_const_bitmap_t s = NULL;
    for (unsigned i = 0; i < d->n_iothreadpin; i++)
      if (d->iothreadpin_id[i] == k)
        s = d->iothreadpin[i];
    if (s == NULL || (set && !hwloc_bitmap_isequal (s, set)))
      return FALSE;
    set = s;
  }
  if (set == NULL || (unsigned) hwloc_bitmap_weight (set) < MIN (n_io, 2)
      || !hwloc_bitmap_isincluded (set, region))
    return FALSE;
  dp->iothread_pins = g_new0 (hwloc_bitmap_t, n_io);
  dp->iothread_l3 = g_new0 (int, n_io);
  dp->iothread_node = g_new0 (int, n_io);
  for (unsigned k = 0; k < n_io; k++) {
    dp->iothread_pins[k] = hwloc_bitmap_dup (set);
    dp->iothread_l3[k] = vdp_io_group_of (t, set);
    dp->iothread_node[k] = vdp_io_node_of (t, set);
  }
  {
    g_autofree char *f = vdp_cpuset_format (set);
    vdp_domain_plan_reason (dp, 4, "iothreads", "IOThread%s on PUs %s: where virt-dataplane "
                            "pinned them before, still PUs of node %u no guest holds",
                            n_io == 1 ? "" : "s", f, t->nodes[n].id);
  }
  return TRUE;
}

/* A guest whose placement is kept gets the IOThreads virt-dataplane adds
 * in the I/O pool of the node its vCPUs are on: that pool is asked for
 * now, before the pools are sized.  IOThreads it has without a pin are
 * pinned there too: an unpinned one runs on every host PU.  *@node: that
 * node's position, or -1 when there is nothing to pin. */
static void
kept_io_demand (struct vdp_inventory *inv, struct vdp_domain_plan *dp, int *node)
{
  const struct vdp_domain *d = dp->dom;
  unsigned n_io = MAX (dp->n_iothreads, dp->n_io_slots);
  struct vdp_node_state *ns;

  *node = -1;
  if (kept_io_own (dp) || d->vcpu_cpuset)
    return;   /* pinned by the domain, or kept in <vcpu cpuset> by libvirt */
  if (n_io == 0 && d->iothreads == 0)
    return;
  if (n_io == 0) {
    /* its own IOThreads, which serve nothing virt-dataplane sees */
    vdp_domain_plan_reason (dp, 3, "iothreads", "its %u IOThread%s kept, and pinned: without "
                            "a pin they would run on every host PU", d->iothreads,
                            d->iothreads == 1 ? "" : "s");
    dp->set_iothreads = true;
    dp->n_iothreads = dp->n_io_slots = n_io = d->iothreads;
  }
  *node = kept_vcpu_node (inv, d);
  if (*node < 0 && d->iothreads == 0) {
    kept_io_drop (dp, "its vCPUs are not all pinned within one NUMA node, so no node's I/O "
                  "pool is theirs");
    return;
  }
  if (*node < 0)
    *node = kept_any_node (inv, d);
  ns = &inv->nodes[*node];
  ns->pool_iothreads += n_io;
  ns->pool_load += (double) n_io / MAX (dp->policy->pool_share, 1);
  ns->pool_max_guest = MAX (ns->pool_max_guest, n_io);
  if (kept_io_reuse (inv, dp, (size_t) *node, n_io)) {
    hwloc_bitmap_or (ns->pool, ns->pool, dp->iothread_pins[0]);
    return;
  }
  vdp_inventory_grow_pool (inv, (size_t) *node);
}

/* Pins the IOThreads of a kept guest to its node's I/O pool, as sized for
 * every guest.  None are added when the pool is empty; those the domain
 * has float over the node's PUs no guest holds. */
static void
kept_io_place (struct vdp_inventory *inv, struct vdp_domain_plan *dp, int node)
{
  const struct vdp_topology *t = inv->topo;
  unsigned n_io = MAX (dp->n_iothreads, dp->n_io_slots), w;
  g_auto (VdpBitmap) pool = hwloc_bitmap_alloc ();
  g_autofree char *set = NULL, *which = NULL;
  gboolean region = FALSE;
  unsigned refs = 0;    /* the highest IOThread id its devices name */

  if (node < 0 || n_io == 0 || dp->iothread_pins)
    return;   /* nothing to pin, or pinned as before (kept_io_reuse()) */
  for (unsigned i = 0; i < dp->dom->n_disks; i++) {
    refs = MAX (refs, dp->dom->disks[i].iothread);
    for (unsigned j = 0; j < dp->dom->disks[i].n_mapped; j++)
      refs = MAX (refs, dp->dom->disks[i].mapped[j]);
  }
  for (unsigned i = 0; i < dp->dom->n_controllers; i++)
    refs = MAX (refs, dp->dom->controllers[i].iothread);
  hwloc_bitmap_copy (pool, inv->nodes[node].pool);
  hwloc_bitmap_andnot (pool, pool, inv->held);   /* PUs pinned 1:1, its own included */
  w = (unsigned) hwloc_bitmap_weight (pool);
  if (w < n_io && dp->dom->iothreads > 0) {
    /* IOThreads it has: the node's PUs no guest holds when its pool is
     * too small for them */
    g_auto (VdpBitmap) r = hwloc_bitmap_alloc ();
    vdp_inventory_region (inv, (size_t) node, r);
    if ((unsigned) hwloc_bitmap_weight (r) > w) {
      hwloc_bitmap_copy (pool, r);
      region = TRUE;
      w = (unsigned) hwloc_bitmap_weight (pool);
    }
  }
  if (w == 0 && refs == 0) {
    g_autofree char *why = g_strdup_printf ("node %u, where its vCPUs are pinned, has no I/O "
                                            "pool (no PU left that no guest holds)",
                                            t->nodes[node].id);
    kept_io_drop (dp, why);
    return;
  }
  if (w < n_io) {
    /* never more IOThreads than PUs granted to them; ids its devices
     * name stay */
    unsigned keep = MAX (w, refs);
    vdp_domain_plan_reason (dp, 3, "iothreads", "%u I/O thread placement%s: only %u PU%s in "
                            "node %u's I/O pool (never stacked)", keep, keep == 1 ? "" : "s", w,
                            w == 1 ? "" : "s", t->nodes[node].id);
    dp->n_iothreads = MIN (dp->n_iothreads, keep);
    dp->n_io_slots = MIN (dp->n_io_slots, keep);
    n_io = keep;
  }
  if (w == 0 || w < n_io) {
    vdp_domain_plan_warn (dp, "its IOThreads stay unpinned: node %u has too few PUs no guest "
                          "holds for them", t->nodes[node].id);
    return;
  }
  dp->iothread_pins = g_new0 (hwloc_bitmap_t, n_io);
  dp->iothread_l3 = g_new0 (int, n_io);
  dp->iothread_node = g_new0 (int, n_io);
  for (unsigned k = 0; k < n_io; k++) {
    dp->iothread_pins[k] = hwloc_bitmap_dup (pool);
    dp->iothread_l3[k] = vdp_io_group_of (t, pool);
    dp->iothread_node[k] = vdp_io_node_of (t, pool);
  }
  set = vdp_cpuset_format (pool);
  which = n_io == 1 ? g_strdup ("IOThread 1") : g_strdup_printf ("IOThreads 1-%u", n_io);
  vdp_domain_plan_reason (dp, 4, "iothreads", region
                          ? "%s on PUs %s: node %u's PUs no guest holds (it has no I/O pool)"
                          : "%s on PUs %s: the I/O pool of node %u, where its kept vCPU pins are",
                          which, set, t->nodes[node].id);
}

/* The vCPU pin of vCPU @v of domain @i of the host (planned, then
 * context) in the final plan, or NULL when it floats freely. */
static hwloc_const_bitmap_t
final_vcpu_pin (const struct vdp_plan *plan, const struct vdp_plan_request *req, unsigned i,
                unsigned v)
{
  const struct vdp_domain *d = i < plan->n_domains ? plan->domains[i].dom
                               : req->context[i - plan->n_domains].dom;
  const struct vdp_domain_plan *dp = i < plan->n_domains ? &plan->domains[i] : NULL;

  if (dp && !dp->failed && !dp->skipped && dp->place && dp->vcpu_pins)
    return dp->vcpu_pins[v];
  return d->vcpupin[v] ? d->vcpupin[v] : d->vcpu_cpuset;
}

/* The union of every vCPU pin of the host's domains in the final plan. */
static void
all_vcpu_pins (const struct vdp_plan *plan, const struct vdp_plan_request *req, hwloc_bitmap_t out)
{
  hwloc_bitmap_zero (out);
  for (unsigned i = 0; i < plan->n_domains + req->n_context; i++) {
    const struct vdp_domain *d = i < plan->n_domains ? plan->domains[i].dom
                                 : req->context[i - plan->n_domains].dom;
    for (unsigned v = 0; v < d->vcpus; v++) {
      hwloc_const_bitmap_t pin = final_vcpu_pin (plan, req, i, v);
      if (pin)
        hwloc_bitmap_or (out, out, pin);
    }
  }
}

/* The names of the domains of the host (planned or context) whose vCPU
 * pins overlap @set, or NULL when none does (g_free).  @all: the union of
 * them all (all_vcpu_pins()), which answers most calls at once. */
static char *
vcpus_on (const struct vdp_plan *plan, const struct vdp_plan_request *req,
          hwloc_const_bitmap_t all, hwloc_const_bitmap_t set)
{
  g_autoptr (GString) who = g_string_new (NULL);
  unsigned n = 0;

  if (!hwloc_bitmap_intersects (all, set))
    return NULL;
  for (unsigned i = 0; i < plan->n_domains + req->n_context; i++) {
    const struct vdp_domain *d = i < plan->n_domains ? plan->domains[i].dom
                                 : req->context[i - plan->n_domains].dom;
    gboolean hit = FALSE;
    for (unsigned v = 0; v < d->vcpus && !hit; v++) {
      hwloc_const_bitmap_t pin = final_vcpu_pin (plan, req, i, v);
      hit = pin && hwloc_bitmap_intersects (pin, set);
    }
    if (hit)
      g_string_append_printf (who, "%s'%s'", n++ ? ", " : "", d->name);
  }
  return n ? g_string_free (g_steal_pointer (&who), FALSE) : NULL;
}

/* Rule 4 says an IOThread or worker runs in "the node's I/O pool, no vCPU
 * on it" when it is placed; guests placed after it may have had to float
 * over the pool's PUs too (a node too small to keep them apart).  The
 * claim is checked against the final pins and corrected. */
static void
reexplain_pools (struct vdp_plan *plan, const struct vdp_plan_request *req, hwloc_const_bitmap_t all)
{
  static const char claim[] = ", no vCPU on it";

  for (unsigned i = 0; i < plan->n_domains; i++) {
    struct vdp_domain_plan *dp = &plan->domains[i];
    if (dp->failed || dp->skipped || !dp->iothread_pins)
      continue;
    for (guint r = 0; r < dp->reasons->len; r++) {
      struct vdp_reason *x = dp->reasons->pdata[r];
      const char *at = x->rule == 4 ? strstr (x->text, claim) : NULL;
      const char *num;
      guint64 k;
      g_autofree char *who = NULL;
      if (at == NULL)
        continue;
      num = strchr (x->subject, ' ');
      if (num == NULL || !g_ascii_isdigit (num[1]))
        continue;
      k = g_ascii_strtoull (num + 1, NULL, 10);
      if (g_str_has_prefix (x->subject, "iothread"))
        k--;   /* IOThread ids start at 1, placements at 0 */
      if (k >= MAX (dp->n_iothreads, dp->n_io_slots) || dp->iothread_pins[k] == NULL)
        continue;
      who = vcpus_on (plan, req, all, dp->iothread_pins[k]);
      if (who) {
        g_autofree char *old = x->text;
        x->text = g_strdup_printf ("%.*s, shared with the floating vCPUs of %s: the node has "
                                   "too few PUs to keep them apart%s", (int) (at - old), old,
                                   who, at + strlen (claim));
      }
    }
  }
}

/* A guest whose pins are kept and whose emulator has none: that thread
 * runs on every host PU, the PUs other domains hold 1:1 included (what
 * check reports as VDP012).  The planner leaves it, as the rest of that
 * placement, and says so. */
static void
warn_unpinned_emulators (struct vdp_plan *plan, const struct vdp_plan_request *req,
                         const struct vdp_host_limits *lim, const struct vdp_footprint *fps,
                         unsigned total)
{
  g_auto (VdpBitmap) others = hwloc_bitmap_alloc ();

  for (unsigned i = 0; i < req->n; i++) {
    struct vdp_domain_plan *dp = &plan->domains[i];
    const struct vdp_domain *d = dp->dom;
    unsigned self = req->n_context + i;
    g_autofree char *set = NULL;

    if (dp->place || dp->failed || dp->skipped || d->emulatorpin || d->vcpu_cpuset)
      continue;
    hwloc_bitmap_zero (others);
    for (unsigned j = 0; j < total; j++)
      for (guint s = 0; j != self && s < fps[j].sets->len; s++) {
        const struct vdp_pinset *ps = &g_array_index (fps[j].sets, struct vdp_pinset, s);
        if (hwloc_bitmap_weight (ps->set) == 1)
          hwloc_bitmap_or (others, others, ps->set);
      }
    hwloc_bitmap_and (others, others, lim->usable);
    if (hwloc_bitmap_iszero (others))
      continue;
    set = vdp_cpuset_format (others);
    vdp_domain_plan_warn (dp, "its emulator has no pin: it runs on every host PU, PUs %s that "
                          "other domains hold 1:1 included; give it an <emulatorpin>, or "
                          "--force to plan its placement", set);
  }
}

/* One planning round; the domains marked in @frozen were refused in round
 * @prev and only occupy the host with what they have. */
static struct vdp_plan *
compute_once (const struct vdp_plan_request *req, const gboolean *frozen, struct vdp_plan *prev,
              const gboolean *first, GError **error)
{
  const struct vdp_topology *topo = req->topo;
  const struct vdp_policy *host = req->policy;
  const struct vdp_caps *caps = req->caps;
  unsigned n = req->n;
  g_autoptr (vdp_plan) plan = g_new0 (struct vdp_plan, 1);
  g_autofree unsigned *order = g_new0 (unsigned, MAX (n, 1));
  g_autofree struct vdp_fit *fits = g_new0 (struct vdp_fit, MAX (n, 1));
  g_autofree char **prefix = g_new0 (char *, n + 1);
  g_autofree unsigned *later = g_new0 (unsigned, MAX (n, 1));
  g_autofree guint *later_reasons = g_new0 (guint, MAX (n, 1));
  g_autofree int *kept_node = g_new0 (int, MAX (n, 1));
  g_auto (VdpBitmap) all_vcpus = NULL;
  struct vdp_inventory inv;
  unsigned n_order = 0, n_later = 0;

  plan->topo = topo;
  plan->policy = host;
  plan->caps = *caps;
  plan->n_domains = n;
  plan->domains = g_new0 (struct vdp_domain_plan, MAX (n, 1));
  plan->warnings = g_ptr_array_new_with_free_func (g_free);
  for (unsigned i = 0; i < n; i++)
    domain_plan_init (&plan->domains[i], &req->inputs[i], host);

  vdp_inventory_init (&inv, topo, host);
  plan->isolated = hwloc_bitmap_dup (inv.lim.isolated);
  if (hwloc_bitmap_iszero (inv.lim.usable)) {
    g_autofree char *h = vdp_cpuset_format (host->host_cpus);
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "profile '%s' cannot be satisfied: host_cpus '%s' leaves no usable PU",
                 host->name, h);
    vdp_inventory_clear (&inv);
    return NULL;
  }

  /* the host's other domains hold what they hold */
  for (unsigned i = 0; i < req->n_context; i++) {
    const struct vdp_plan_input *c = &req->context[i];
    const struct vdp_policy *cp = c->policy ? c->policy : host;
    struct vdp_footprint fp;
    gboolean owned = c->dom->tuned && c->dom->tuned_place;
    vdp_footprint_from_domain (&fp, topo, c->dom);
    vdp_inventory_charge (&inv, &fp, owned,
                          owned && cp->placement == VDP_PLACEMENT_DEDICATED
                          && cp->smt == VDP_SMT_ISOLATE);
    vdp_footprint_clear (&fp);
  }

  /* what keeps its place: other hypervisors' domains, pins this run may
   * not replace, recorded plans that still hold */
  for (unsigned i = 0; i < n; i++) {
    struct vdp_domain_plan *dp = &plan->domains[i];
    const struct vdp_domain *d = dp->dom;
    struct vdp_footprint fp;

    prefix[i] = hash_prefix (dp->policy, caps);
    if (frozen && frozen[i]) {
      gboolean owned = d->tuned && d->tuned_place;
      keep_refused (dp, &prev->domains[i]);
      vdp_footprint_from_domain (&fp, topo, d);
      vdp_inventory_charge (&inv, &fp, owned,
                            owned && dp->policy->placement == VDP_PLACEMENT_DEDICATED
                            && dp->policy->smt == VDP_SMT_ISOLATE);
      vdp_footprint_clear (&fp);
      continue;
    }
    if (d->type && strcmp (d->type, "kvm") != 0 && strcmp (d->type, "qemu") != 0
        && strcmp (d->type, "test") != 0) {
      dp->skipped = true;
      dp->skip_reason = g_strdup_printf ("not a QEMU/KVM domain (type '%s')", d->type);
      compute_hash (dp, prefix[i]);
      vdp_footprint_from_domain (&fp, topo, d);
      vdp_inventory_charge (&inv, &fp, FALSE, FALSE);
      vdp_footprint_clear (&fp);
      continue;
    }
    dp->place = !has_foreign_placement (d) || dp->policy->override;
    if (!dp->place) {
      g_autofree int *io_pref = NULL;
      unsigned io_cap;
      vdp_domain_plan_reason (dp, 11, "domain",
                              "existing pins or NUMA placement not written by virt-dataplane are "
                              "kept; use --force (override=yes) to replace them");
      vdp_domain_plan_warn (dp, "has pins virt-dataplane did not write: placement left alone "
                            "(use --force)");
      vdp_footprint_from_domain (&fp, topo, d);
      if (d->tuned_iothreadpin)
        drop_iothread_sets (&fp);   /* pinned again below, as if never pinned */
      vdp_inventory_charge (&inv, &fp, FALSE, FALSE);
      vdp_footprint_clear (&fp);
      vdp_io_count (dp, &req->inputs[i], topo, caps, &io_pref, &io_cap);
      explain_disks (dp, &req->inputs[i]);
      kept_node[i] = -2;    /* its I/O pool asked for below, once all that stays is charged */
      continue;
    }
    if (has_foreign_placement (d))
      vdp_domain_plan_reason (dp, 11, "domain", "existing pins replaced (override)");
    if (adopt (topo, caps, dp, prefix[i])) {
      vdp_footprint_from_plan (&fp, topo, dp);

      if (vdp_inventory_admits (&inv, &fp)) {
        gboolean iso = dp->placement == VDP_PLACEMENT_DEDICATED && dp->policy->smt == VDP_SMT_ISOLATE;
        dp->kept = true;
        vdp_inventory_charge (&inv, &fp, TRUE, iso);
        vdp_footprint_clear (&fp);
        vdp_domain_plan_reason (dp, 12, "domain",
                                "kept where it is: its recorded plan %s still holds and fits "
                                "beside the host's other domains", dp->hash);
        continue;
      }
      vdp_footprint_clear (&fp);
    }
    unadopt (dp);
    order[n_order++] = i;
  }
  /* the pools of kept guests' IOThreads, now that every PU pinned 1:1 by
   * what stays is known (a pool never takes one) */
  for (unsigned i = 0; i < n; i++)
    if (kept_node[i] == -2)
      kept_io_demand (&inv, &plan->domains[i], &kept_node[i]);

  /* the rest, fitted one by one, dedicated and largest first; dedicated
   * guests this host's layout can never hold go last, shared */
  {
    struct order_data od = { plan->domains, first };
    g_qsort_with_data (order, (gint) n_order, sizeof (unsigned), cmp_order, &od);
  }
  for (unsigned k = 0; k < n_order + n_later; k++) {
    unsigned i = k < n_order ? order[k] : later[k - n_order];
    struct vdp_domain_plan *dp = &plan->domains[i];
    g_autofree int *io_pref = NULL;
    unsigned io_cap, n_io;

    if (k >= n_order) {
      if (!degrade_to_shared (plan, &inv, req, i, later_reasons[k - n_order], &fits[i])) {
        fail_domain (dp, NULL);
        continue;
      }
    } else {
      guint n_reasons = dp->reasons->len;
      n_io = vdp_io_count (dp, &req->inputs[i], topo, caps, &io_pref, &io_cap);
      explain_disks (dp, &req->inputs[i]);
      if (!vdp_fit_guest (&inv, &req->inputs[i], dp, n_io, io_pref, io_cap, &fits[i])) {
        if (dp->policy->placement == VDP_PLACEMENT_DEDICATED
            && layout_forbids_dedicated (req, i, dp->policy, n_io, io_pref, io_cap)) {
          later_reasons[n_later] = n_reasons;
          later[n_later++] = i;
        } else {
          fail_domain (dp, NULL);
        }
        continue;
      }
    }
    dp->home_node = (int) topo->nodes[fits[i].span[0]].id;
    for (unsigned s = 0; s < fits[i].n_span; s++)
      hwloc_bitmap_set (dp->nodes, topo->nodes[fits[i].span[s]].id);
  }

  /* every guest is in: the pools, then the pins */
  vdp_io_pools (&inv, plan->warnings);
  for (unsigned i = 0; i < n; i++) {
    struct vdp_domain_plan *dp = &plan->domains[i];
    const struct vdp_plan_input *in = &req->inputs[i];

    if (dp->skipped || dp->failed || dp->kept)
      continue;
    if (!dp->place) {
      kept_io_place (&inv, dp, kept_node[i]);
      finish_domain (topo, caps, dp, in, 1, prefix[i]);
      continue;
    }
    vdp_io_place (&inv, caps, dp, &fits[i]);
    dp->guest_threads = guest_smt_threads (topo, dp);
    if (dp->guest_threads)
      vdp_domain_plan_reason (dp, 2, "vcpus",
                              "guest CPU topology %u core%s x 2 threads: vCPUs 2k and 2k+1 run "
                              "on the SMT siblings of one core (smt=prefer)", dp->dom->vcpus / 2,
                              dp->dom->vcpus / 2 == 1 ? "" : "s");
    plan_memory (topo, dp, &fits[i]);
    finish_domain (topo, caps, dp, in, fits[i].n_span, prefix[i]);
  }

  /* the hard constraints, on everything the host will hold, before
   * anything is written: a plan that crosses one is refused */
  {
    struct vdp_host_limits *lim = &inv.lim;
    unsigned total = req->n_context + n;
    g_autofree struct vdp_footprint *fps = g_new0 (struct vdp_footprint, MAX (total, 1));
    gboolean again = TRUE;

    for (unsigned i = 0; i < req->n_context; i++)
      vdp_footprint_from_domain (&fps[i], topo, req->context[i].dom);
    for (int round = 0; again && round < 8; round++) {
      g_autoptr (GPtrArray) v = vdp_violations_new ();
      again = FALSE;
      for (unsigned i = 0; i < n; i++) {
        vdp_footprint_clear (&fps[req->n_context + i]);
        vdp_footprint_from_plan (&fps[req->n_context + i], topo, &plan->domains[i]);
      }
      vdp_constraints_check (lim, fps, total, v);
      for (guint k = 0; k < v->len; k++) {
        const struct vdp_violation *x = v->pdata[k];
        int who = x->domain >= req->n_context ? (int) (x->domain - req->n_context) : -1;
        struct vdp_domain_plan *dp;
        if (who < 0 && x->other >= (int) req->n_context)
          who = x->other - (int) req->n_context;
        if (who < 0) {
          /* the host's other domains among themselves: planned around,
           * and said once */
          if (round == 0)
            g_ptr_array_add (plan->warnings,
                             g_strdup_printf ("domain '%s' (not planned) crosses a hard "
                                              "constraint: %s: %s; the plan works around it",
                                              req->context[x->domain].dom->name, x->subject,
                                              x->text));
          continue;
        }
        dp = &plan->domains[who];
        if ((dp->kept || dp->failed || dp->skipped || !dp->place)
            && x->other >= (int) req->n_context) {
          /* what stays is not moved: the domain planned beside it is */
          struct vdp_domain_plan *o = &plan->domains[x->other - (int) req->n_context];
          if (!o->kept && !o->failed && !o->skipped && o->place)
            dp = o;
        }
        if (round == 0 && !dp->place && !dp->failed && !dp->skipped
            && (int) x->domain == (int) req->n_context + who)
          vdp_domain_plan_warn (dp, "its own pins cross a hard constraint (%s: %s); "
                                "--force replaces them", x->subject, x->text);
        if (dp->failed || dp->skipped || !dp->place || dp->kept)
          continue;   /* what it crosses was there before: check reports it */
        {
          g_autofree char *why = g_strdup_printf ("the plan would cross a hard constraint: %s: %s",
                                                  x->subject, x->text);
          fail_domain (dp, why);
          vdp_domain_plan_reason (dp, 0, "domain", "%s", why);
        }
        again = TRUE;
      }
    }
    warn_unpinned_emulators (plan, req, lim, fps, total);
    for (unsigned i = 0; i < total; i++)
      vdp_footprint_clear (&fps[i]);
  }

  /* claims checked against the final pins of the whole host */
  all_vcpu_pins (plan, req, inv.scratch);
  all_vcpus = hwloc_bitmap_dup (inv.scratch);
  reexplain_pools (plan, req, all_vcpus);

  /* the host as a whole */
  plan->n_nodes = (unsigned) topo->n_nodes;
  plan->nodes = g_new0 (struct vdp_node_summary, topo->n_nodes + 1);
  plan->io_pool = hwloc_bitmap_alloc ();
  for (size_t k = 0; k < topo->n_nodes; k++) {
    struct vdp_node_summary *ns = &plan->nodes[k];
    struct vdp_node_state *st = &inv.nodes[k];
    hwloc_bitmap_and (inv.scratch, st->usable, inv.held);
    ns->id = st->id;
    ns->pus = st->n_usable;
    ns->dedicated = (unsigned) hwloc_bitmap_weight (inv.scratch);
    ns->shared_vcpus = st->shared_vcpus;
    hwloc_bitmap_or (plan->io_pool, plan->io_pool, st->pool);
    ns->pool = g_steal_pointer (&st->pool);   /* the inventory is done with */
    if (!hwloc_bitmap_iszero (ns->pool)) {
      g_autofree char *who = vcpus_on (plan, req, all_vcpus, ns->pool);
      ns->pool_shared = who != NULL;
    }
    ns->pool_iothreads = st->pool_iothreads;
    ns->pool_emulators = st->pool_emulators;
    ns->io_short = st->io_short;
    ns->memory_kib = topo->nodes[k].memory / 1024;
    ns->reserve_kib = inv.lim.reserve_kib[k];
    ns->bound_kib = st->bound_kib + st->loose_kib;
    if (inv.lim.mem_known[k] && ns->bound_kib > inv.lim.cap_kib[k] && st->loose_kib)
      /* strict bindings never cross it (a hard constraint); unbound and
       * 'preferred' memory may, and then spills to other nodes or swaps */
      g_ptr_array_add (plan->warnings,
                       g_strdup_printf ("node %u's memory overcommitted: guests bound there or "
                                        "expected there (unbound, where their vCPUs run) need %"
                                        G_GUINT64_FORMAT " MiB, %" G_GUINT64_FORMAT " MiB of it "
                                        "unbound, and it has %" G_GUINT64_FORMAT " MiB for guests",
                                        ns->id, ns->bound_kib / 1024, st->loose_kib / 1024,
                                        inv.lim.cap_kib[k] / 1024));
    plan->total_pus += ns->pus;
    plan->total_avail_kib += inv.lim.cap_kib[k];
  }
  plan->total_vcpus = inv.total_vcpus;
  plan->total_memory_kib = inv.total_kib;
  for (unsigned i = 0; i < n; i++) {
    struct vdp_domain_plan *dp = &plan->domains[i];
    plan->n_failed += dp->failed;
    if (dp->failed && dp->hash == NULL)
      compute_hash (dp, prefix[i]);
  }

  for (unsigned i = 0; i < n; i++) {
    vdp_fit_clear (&fits[i]);
    g_free (prefix[i]);
  }
  vdp_inventory_clear (&inv);
  return g_steal_pointer (&plan);
}

/* The most domains a host-wide plan is planned twice for (a second order
 * when guests are refused): hosts beyond that are planned once, at
 * unchanged speed. */
#define VDP_REORDER_MAX 256

struct vdp_plan *
vdp_plan_compute_host (const struct vdp_plan_request *req, GError **error)
{
  g_autofree gboolean *frozen = g_new0 (gboolean, req->n + 1);
  struct vdp_plan *plan = compute_once (req, NULL, NULL, NULL, error);
  gboolean any_frozen = FALSE;

  /* a refused domain keeps the pins and memory it has: when one held
   * something, plan again with it in place, so that nothing it holds is
   * given away and nobody is refused for colliding with it later */
  for (unsigned round = 0; plan && round < req->n; round++) {
    gboolean more = FALSE;
    struct vdp_plan *next;
    for (unsigned i = 0; i < req->n; i++)
      if (!frozen[i] && plan->domains[i].failed
          && holds_something (req->topo, req->inputs[i].dom)) {
        frozen[i] = TRUE;
        more = TRUE;
      }
    if (!more)
      break;
    any_frozen = TRUE;
    next = compute_once (req, frozen, plan, NULL, error);
    vdp_plan_free (plan);
    plan = next;
  }

  /* largest first leaves gaps a refused guest could have used: plan
   * again with the refused ones first, and keep that when fewer are
   * refused (refused guests that hold something stay as they are) */
  if (plan && plan->n_failed > 0 && !any_frozen && req->n <= VDP_REORDER_MAX) {
    g_autofree gboolean *first = g_new0 (gboolean, req->n + 1);
    struct vdp_plan *alt;
    for (unsigned i = 0; i < req->n; i++)
      first[i] = plan->domains[i].failed;
    alt = compute_once (req, NULL, NULL, first, NULL);
    for (unsigned i = 0; alt && i < req->n; i++)
      if (alt->domains[i].failed && !first[i] && holds_something (req->topo, req->inputs[i].dom))
        g_clear_pointer (&alt, vdp_plan_free);   /* it would lose what it holds */
    if (alt && alt->n_failed < plan->n_failed) {
      for (unsigned i = 0; i < req->n; i++)
        if (first[i] && !alt->domains[i].failed)
          vdp_domain_plan_reason (&alt->domains[i], 13, "domain",
                                  "fitted before the larger guests: in the usual order "
                                  "(dedicated, then largest first) it did not fit, and %u "
                                  "guest%s fewer are refused this way",
                                  plan->n_failed - alt->n_failed,
                                  plan->n_failed - alt->n_failed == 1 ? "" : "s");
      vdp_plan_free (plan);
      plan = alt;
    } else {
      vdp_plan_free (alt);
    }
  }
  return plan;
}

struct vdp_plan *
vdp_plan_compute (const struct vdp_topology *topo, const struct vdp_policy *policy,
                  const struct vdp_caps *caps, const struct vdp_plan_input *inputs,
                  unsigned n, GError **error)
{
  struct vdp_plan_request req = { topo, policy, caps, inputs, n, NULL, 0 };
  return vdp_plan_compute_host (&req, error);
}

char *
vdp_misfit_format (const struct vdp_domain_plan *dp)
{
  const struct vdp_misfit *m = &dp->misfit;
  g_autoptr (GString) s = g_string_new (NULL);

  g_string_append_printf (s, "domain '%s' does not fit", dp->dom->name);
  if (m->what) {
    g_string_append_printf (s, ": needs %s", m->what);
    if (m->need_kib)
      g_string_append_printf (s, " and %" G_GUINT64_FORMAT " MiB bound (QEMU's own included)",
                              m->need_kib / 1024);
    if (m->best_node >= 0) {
      g_string_append_printf (s, "; the best node, %d, offers %u vCPU%s", m->best_node,
                              m->best_pus, m->best_pus == 1 ? "" : "s");
      if (m->best_kib != G_MAXUINT64)
        g_string_append_printf (s, " and %" G_GUINT64_FORMAT " MiB", m->best_kib / 1024);
      g_string_append_printf (s, ", the host %u", m->host_pus);
      if (m->host_kib != G_MAXUINT64)
        g_string_append_printf (s, " and %" G_GUINT64_FORMAT " MiB", m->host_kib / 1024);
    }
  }
  if (m->why)
    g_string_append_printf (s, " (%s)", m->why);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* ---- verification -------------------------------------------------------- */

static gboolean
same_set (hwloc_const_bitmap_t a, hwloc_const_bitmap_t b)
{
  return a && b && hwloc_bitmap_isequal (a, b);
}

static const struct vdp_disk *
disk_by_target (const struct vdp_domain *d, const char *target)
{
  for (unsigned i = 0; i < d->n_disks; i++)
    if (g_strcmp0 (d->disks[i].target, target) == 0)
      return &d->disks[i];
  return NULL;
}

static void
verify_map (const char *what, const struct vdp_map *m, unsigned iothread, unsigned n_mapped,
            unsigned queues, GPtrArray *missing)
{
  if (m->kind == VDP_MAP_SINGLE && iothread != m->threads[0])
    g_ptr_array_add (missing, g_strdup_printf ("%s: iothread='%u' missing", what, m->threads[0]));
  if ((m->kind == VDP_MAP_ROUNDROBIN || m->kind == VDP_MAP_EXPLICIT) && n_mapped != m->n_threads)
    g_ptr_array_add (missing, g_strdup_printf ("%s: <iothreads> mapping dropped (%u of %u "
                                               "IOThreads kept)", what, n_mapped, m->n_threads));
  if (m->queues && queues != m->queues)
    g_ptr_array_add (missing, g_strdup_printf ("%s: queues='%u' missing", what, m->queues));
}

gboolean
vdp_plan_verify (const struct vdp_domain_plan *dp, const struct vdp_domain *after,
                 GPtrArray *missing)
{
  const struct vdp_domain *d = dp->dom;
  guint before = missing->len;

  if (dp->skipped || dp->failed)
    return TRUE;
  if (dp->place) {
    for (unsigned v = 0; v < d->vcpus && v < after->vcpus; v++)
      if (!same_set (after->vcpupin[v], dp->vcpu_pins[v])) {
        g_ptr_array_add (missing, g_strdup_printf ("vcpupin of vCPU %u", v));
        break;
      }
    if (!same_set (after->emulatorpin, dp->emulator_pin))
      g_ptr_array_add (missing, g_strdup ("emulatorpin"));
  }
  if (dp->place || dp->iothread_pins) {
    for (unsigned k = 0; dp->set_iothreads && k < dp->n_iothreads; k++) {
      gboolean found = FALSE;
      for (unsigned i = 0; i < after->n_iothreadpin; i++)
        found |= after->iothreadpin_id[i] == k + 1
                 && same_set (after->iothreadpin[i], dp->iothread_pins[k]);
      if (!found) {
        g_ptr_array_add (missing, g_strdup_printf ("iothreadpin of IOThread %u", k + 1));
        break;
      }
    }
  }
  if (dp->place) {
    if (dp->memory != VDP_MEMORY_NONE
        && (!same_set (after->numa_nodeset, dp->mem_nodes)
            || g_strcmp0 (after->numa_mode, memory_mode_names[dp->memory])))
      g_ptr_array_add (missing, g_strdup ("numatune memory"));
    if (dp->set_iothreads && dp->poll_max >= 0)
      for (unsigned i = 0; i < after->n_iothreadids; i++)
        if (after->iothread_poll_max[i] != dp->poll_max) {
          g_ptr_array_add (missing, g_strdup_printf ("<poll max='%d'> of IOThread %u",
                                                     dp->poll_max, after->iothreadids[i]));
          break;
        }
  }
  if (dp->set_iothreads && after->iothreads != dp->n_iothreads)
    g_ptr_array_add (missing, g_strdup_printf ("%u IOThreads (found %u)", dp->n_iothreads,
                                               after->iothreads));
  for (unsigned i = 0; i < d->n_disks; i++) {
    const struct vdp_disk_plan *pl = &dp->disks[i];
    const struct vdp_disk *a = disk_by_target (after, d->disks[i].target);
    g_autofree char *what = g_strdup_printf ("disk %s", d->disks[i].target);

    if (!pl->set_driver && pl->map.kind == VDP_MAP_NONE)
      continue;
    if (a == NULL) {
      g_ptr_array_add (missing, g_strdup_printf ("%s: gone", what));
      continue;
    }
    if (pl->set_driver && (g_strcmp0 (a->cache, pl->cache) || g_strcmp0 (a->io, pl->io)))
      g_ptr_array_add (missing, g_strdup_printf ("%s: cache/io", what));
    verify_map (what, &pl->map, a->iothread, a->n_mapped, a->queues, missing);
  }
  for (unsigned i = 0; i < d->n_controllers && i < after->n_controllers; i++) {
    const struct vdp_controller *a = &after->controllers[i];
    g_autofree char *what = g_strdup_printf ("controller %s %u", a->type, a->index);
    if (dp->controllers[i].kind != VDP_MAP_NONE)
      verify_map (what, &dp->controllers[i], a->iothread, a->n_mapped, a->queues, missing);
  }
  if (!after->tuned || g_strcmp0 (after->tuned_hash, dp->hash) != 0)
    g_ptr_array_add (missing, g_strdup ("virt-dataplane metadata"));
  return missing->len == before;
}

void
vdp_plan_free (struct vdp_plan *plan)
{
  if (plan == NULL)
    return;
  for (unsigned i = 0; i < plan->n_domains; i++)
    domain_plan_clear (&plan->domains[i]);
  for (unsigned k = 0; k < plan->n_nodes; k++)
    hwloc_bitmap_free (plan->nodes[k].pool);
  g_free (plan->nodes);
  g_free (plan->domains);
  hwloc_bitmap_free (plan->io_pool);
  hwloc_bitmap_free (plan->isolated);
  if (plan->warnings)
    g_ptr_array_unref (plan->warnings);
  if (plan->profiles)
    g_ptr_array_unref (plan->profiles);
  g_free (plan);
}
