/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a libvirt + QEMU stack supports, from their versions. */
#include <config.h>

#include <string.h>

#include "caps.h"
#include "util/error.h"

void
vdp_caps_from_versions (struct vdp_caps *caps, unsigned long libvirt, unsigned long qemu)
{
  memset (caps, 0, sizeof (*caps));
  caps->libvirt = libvirt;
  caps->qemu = qemu;
  caps->disk_mapping = libvirt >= VDP_VERSION (10, 0, 0) && qemu >= VDP_VERSION (9, 0, 0);
  caps->scsi_mapping = libvirt >= VDP_VERSION (11, 2, 0) && qemu >= VDP_VERSION (10, 0, 0);
  caps->io_uring = libvirt >= VDP_VERSION (6, 3, 0) && qemu >= VDP_VERSION (5, 0, 0);
  caps->iothread_poll = libvirt >= VDP_VERSION (9, 4, 0);
  caps->thread_pool = libvirt >= VDP_VERSION (8, 5, 0) && qemu >= VDP_VERSION (7, 1, 0);
  caps->memfd = libvirt >= VDP_VERSION (4, 10, 0) && qemu >= VDP_VERSION (2, 12, 0);
}

static gboolean
parse_version (const char *s, unsigned long *out)
{
  g_auto (GStrv) parts = g_strsplit (s, ".", -1);
  guint64 v[3] = { 0, 0, 0 };
  guint n = g_strv_length (parts);

  if (n < 1 || n > 3)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (!g_ascii_string_to_unsigned (parts[i], 10, 0, 999, &v[i], NULL))
      return FALSE;
  *out = VDP_VERSION (v[0], v[1], v[2]);
  return TRUE;
}

gboolean
vdp_caps_parse_target (const char *spec, struct vdp_caps *caps, GError **error)
{
  g_auto (GStrv) items = g_strsplit (spec, ",", -1);
  unsigned long libvirt = VDP_CAPS_NEWEST_LIBVIRT, qemu = VDP_CAPS_NEWEST_QEMU;

  if (*spec == '\0')
    goto bad;
  for (char **it = items; *it; it++) {
    char *eq = strchr (*it, '=');
    if (eq == NULL)
      goto bad;
    *eq = '\0';
    if (strcmp (*it, "libvirt") == 0) {
      if (!parse_version (eq + 1, &libvirt))
        goto bad;
    } else if (strcmp (*it, "qemu") == 0) {
      if (!parse_version (eq + 1, &qemu))
        goto bad;
    } else {
      goto bad;
    }
  }
  vdp_caps_from_versions (caps, libvirt, qemu);
  return TRUE;

 bad:
  g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE,
               "invalid target '%s' (expected libvirt=X.Y,qemu=A.B)", spec);
  return FALSE;
}

char *
vdp_caps_describe (const struct vdp_caps *caps)
{
  return g_strdup_printf ("libvirt %lu.%lu.%lu, QEMU %lu.%lu.%lu",
                          caps->libvirt / 1000000, caps->libvirt / 1000 % 1000, caps->libvirt % 1000,
                          caps->qemu / 1000000, caps->qemu / 1000 % 1000, caps->qemu % 1000);
}
