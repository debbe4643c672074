/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-disk facts the pure planner needs: device locality and O_DIRECT support. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "hints.h"
#include "util/error.h"

gboolean
vdp_device_hint_parse (const char *spec, struct vdp_device_hint *out, GError **error)
{
  const char *eq = strrchr (spec, '=');

  if (eq == NULL || eq == spec || eq[1] == '\0' || spec[0] != '/') {
    g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE,
                 "invalid --device '%s' (expected /PATH=DEVNAME, e.g. /var/lib/images=nvme0n1)",
                 spec);
    return FALSE;
  }
  out->path = g_strndup (spec, (gsize) (eq - spec));
  out->device = g_strdup (g_str_has_prefix (eq + 1, "/dev/") ? eq + 6 : eq + 1);
  return TRUE;
}

static void
hint_clear (gpointer p)
{
  struct vdp_device_hint *h = p;
  g_free (h->path);
  g_free (h->device);
}

GArray *
vdp_device_hints_new (void)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (struct vdp_device_hint));
  g_array_set_clear_func (a, hint_clear);
  return a;
}

gboolean
vdp_device_hints_add (GArray *hints, const char *spec, GError **error)
{
  struct vdp_device_hint h;

  if (!vdp_device_hint_parse (spec, &h, error))
    return FALSE;
  g_array_append_val (hints, h);
  return TRUE;
}

void
vdp_device_hints_insert (GArray *hints, guint at, const struct vdp_device_hint *from, unsigned n)
{
  for (unsigned i = 0; i < n; i++) {
    struct vdp_device_hint copy = { g_strdup (from[i].path), g_strdup (from[i].device) };
    g_array_insert_val (hints, at + i, copy);
  }
}

gboolean
vdp_device_hints_check (const struct vdp_topology *topo, const struct vdp_device_hint *hints,
                        unsigned n, GError **error)
{
  for (unsigned i = 0; i < n; i++)
    if (vdp_topology_find_device (topo, hints[i].device) == NULL) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                   "--device '%s=%s': topology '%s' has no block device '%s'", hints[i].path,
                   hints[i].device, topo->source, hints[i].device);
      return FALSE;
    }
  return TRUE;
}

/* The longest hint whose path is @source or a directory above it. */
static const struct vdp_device_hint *
match_hint (const struct vdp_device_hint *hints, unsigned n, const char *source)
{
  const struct vdp_device_hint *best = NULL;

  for (unsigned i = 0; i < n; i++) {
    const char *p = hints[i].path;
    size_t len = strlen (p);
    while (len > 1 && p[len - 1] == '/')
      len--;
    if (strncmp (source, p, len) != 0 || (source[len] != '\0' && source[len] != '/'))
      continue;
    if (best == NULL || strlen (best->path) < len)
      best = &hints[i];
  }
  return best;
}

void
vdp_disk_hint_from_device (const struct vdp_topology *topo, const char *name,
                           struct vdp_disk_hint *h)
{
  const struct vdp_blockdev *bd = vdp_topology_find_device (topo, name);

  g_clear_pointer (&h->locality, g_free);
  g_free (h->device);
  h->device = g_strdup (name);
  h->node = -1;
  if (bd == NULL) {
    h->locality = g_strdup_printf ("block device '%s' is not in the topology", name);
  } else if (bd->node < 0) {
    h->locality = g_strdup_printf ("block device '%s' is attached above the NUMA nodes", name);
  } else {
    h->node = bd->node;
  }
}

/* 1: O_DIRECT works, 0: the filesystem refuses it, -1: cannot tell. */
static int
probe_odirect (const char *path, char **note)
{
  int fd = open (path, O_RDONLY | O_DIRECT | O_CLOEXEC | O_NONBLOCK);

  if (fd >= 0) {
    close (fd);
    return 1;
  }
  if (errno == EINVAL) {
    *note = g_strdup_printf ("'%s' is on a filesystem without O_DIRECT (tmpfs?)", path);
    return 0;
  }
  return -1;
}

int
vdp_locate_local (const struct vdp_topology *topo, const char *source, struct vdp_disk_hint *h,
                  void *data)
{
  g_autoptr (vdp_disk_locality) loc = NULL;

  if (h->node < 0 && h->locality == NULL) {
    loc = vdp_topology_locate_disk (topo, source, NULL);
    h->node = loc->node;
    h->locality = g_strdup (loc->reason);
    if (loc->devices && loc->devices[0])
      h->device = g_strjoinv (",", loc->devices);
  }
  if (!g_file_test (source, G_FILE_TEST_EXISTS))
    return 0;
  h->odirect = probe_odirect (source, &h->odirect_note);
  return 1;
}

int
vdp_locate_by_name (const struct vdp_topology *topo, const char *source, struct vdp_disk_hint *h,
                    void *data)
{
  if (h->node >= 0 || h->locality)
    return -1;
  if (g_str_has_prefix (source, "/dev/") && strchr (source + 5, '/') == NULL)
    vdp_disk_hint_from_device (topo, source + 5, h);
  else
    h->locality = g_strdup_printf ("'%s' is not on this host", source);
  return -1;
}

/* The --device hint that would place @source: its directory, or itself
 * for a device node. */
static char *
suggest_hint (const char *source)
{
  g_autofree char *dir = NULL;

  if (g_str_has_prefix (source, "/dev/"))
    return g_strdup_printf ("%s=DEVNAME", source);
  dir = g_path_get_dirname (source);
  return g_strdup_printf ("%s=DEVNAME", dir);
}

struct vdp_disk_hint *
vdp_disk_hints_compute (const struct vdp_topology *topo, const struct vdp_domain *dom,
                        const struct vdp_device_hint *hints, unsigned n,
                        vdp_source_locator locate, void *data, const char *where,
                        GPtrArray *warnings)
{
  struct vdp_disk_hint *out = g_new0 (struct vdp_disk_hint, MAX (dom->n_disks, 1));

  for (unsigned i = 0; i < dom->n_disks; i++) {
    const struct vdp_disk *disk = &dom->disks[i];
    struct vdp_disk_hint *h = &out[i];
    const struct vdp_device_hint *hint;
    int found;

    h->node = -1;
    h->odirect = -1;
    if (disk->source == NULL)
      continue;
    /* a hint says where the source lives; the locator still says whether
     * it exists and takes O_DIRECT */
    hint = match_hint (hints, n, disk->source);
    if (hint)
      vdp_disk_hint_from_device (topo, hint->device, h);
    found = locate (topo, disk->source, h, data);
    if (found == 0 && strcmp (disk->device, "cdrom") != 0 && warnings)
      g_ptr_array_add (warnings,
                       g_strdup_printf ("domain '%s': disk %s: source '%s' does not exist on %s%s",
                                        dom->name, disk->target, disk->source, where,
                                        h->node < 0 ? "; its locality is unknown" : ""));
    /* what the explanation says when the node or O_DIRECT is unknown */
    if (h->node < 0)
      h->suggest = suggest_hint (disk->source);
    if (h->odirect < 0 && h->odirect_note == NULL)
      h->odirect_note = found == 0 ? g_strdup_printf ("it does not exist on %s", where)
                        : g_strdup ("it is not on this host");
  }
  return out;
}

void
vdp_disk_hints_free (struct vdp_disk_hint *h, unsigned n)
{
  if (h == NULL)
    return;
  for (unsigned i = 0; i < n; i++) {
    g_free (h[i].locality);
    g_free (h[i].device);
    g_free (h[i].suggest);
    g_free (h[i].odirect_note);
  }
  g_free (h);
}
