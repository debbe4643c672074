/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a libvirt + QEMU stack supports, from their versions. */
#include <config.h>

#include <string.h>
#include <sys/utsname.h>

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
  if (strcmp (spec, "newest") == 0) {
    vdp_caps_from_versions (caps, libvirt, qemu);
    return TRUE;
  }
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
               "invalid target '%s' (expected libvirt=X.Y,qemu=A.B or newest)", spec);
  return FALSE;
}

char *
vdp_caps_describe (const struct vdp_caps *caps)
{
  return g_strdup_printf ("libvirt %lu.%lu.%lu, QEMU %lu.%lu.%lu",
                          caps->libvirt / 1000000, caps->libvirt / 1000 % 1000, caps->libvirt % 1000,
                          caps->qemu / 1000000, caps->qemu / 1000 % 1000, caps->qemu % 1000);
}

/* QEMU's name for the architecture uname(2) reports. */
static const char *
qemu_arch (const char *machine)
{
  static const struct { const char *uname, *qemu; } map[] = {
    { "i686", "i386" }, { "i586", "i386" }, { "ppc64le", "ppc64" }, { "armv7l", "arm" },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (map); i++)
    if (strcmp (machine, map[i].uname) == 0)
      return map[i].qemu;
  return machine;
}

gboolean
vdp_caps_installed_qemu (unsigned long *version, char **binary)
{
  struct utsname u;
  g_autofree char *name = NULL, *path = NULL, *out = NULL;
  const char *v;
  guint64 ma = 0, mi = 0, mc = 0;
  char *end;
  int status = 0;

  if (uname (&u) < 0)
    return FALSE;
  name = g_strdup_printf ("qemu-system-%s", qemu_arch (u.machine));
  path = g_find_program_in_path (name);
  if (path == NULL && g_file_test ("/usr/libexec/qemu-kvm", G_FILE_TEST_IS_EXECUTABLE))
    path = g_strdup ("/usr/libexec/qemu-kvm");
  if (path == NULL)
    return FALSE;
  {
    const char *argv[] = { path, "--version", NULL };
    if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                       NULL, &status, NULL) || !g_spawn_check_wait_status (status, NULL))
      return FALSE;
  }
  /* "QEMU emulator version 7.2.22 (Debian ...)" */
  v = out ? strstr (out, "version ") : NULL;
  if (v == NULL)
    return FALSE;
  ma = g_ascii_strtoull (v + 8, &end, 10);
  if (*end == '.')
    mi = g_ascii_strtoull (end + 1, &end, 10);
  if (*end == '.')
    mc = g_ascii_strtoull (end + 1, &end, 10);
  if (ma == 0 || ma > 999 || mi > 999 || mc > 999)
    return FALSE;
  *version = VDP_VERSION (ma, mi, mc);
  if (binary)
    *binary = g_steal_pointer (&path);
  return TRUE;
}
