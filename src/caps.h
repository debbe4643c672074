/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a libvirt + QEMU stack supports, from their versions. */
#pragma once

#include <stdbool.h>

#include <glib.h>

/* Versions are major * 1000000 + minor * 1000 + micro, as libvirt reports them. */
#define VDP_VERSION(ma, mi, mc) ((ma) * 1000000UL + (mi) * 1000UL + (mc))

/* The stack the shared newest schemas describe: the offline default. */
#define VDP_CAPS_NEWEST_LIBVIRT VDP_VERSION (12, 7, 0)
#define VDP_CAPS_NEWEST_QEMU VDP_VERSION (10, 2, 0)

struct vdp_caps {
  unsigned long libvirt, qemu;
  bool disk_mapping;        /* <disk><driver><iothreads>: libvirt 10.0, QEMU 9.0 */
  bool scsi_mapping;        /* virtio-scsi <driver><iothreads>: libvirt 11.2, QEMU 10.0 */
  bool io_uring;            /* io='io_uring': libvirt 6.3, QEMU 5.0 */
  bool iothread_poll;       /* <iothread><poll>: libvirt 9.4 */
  bool thread_pool;         /* thread_pool_min/max: libvirt 8.5, QEMU 7.1 */
  bool memfd;               /* <source type='memfd'/>: libvirt 4.10, QEMU 2.12 */
};

/* Fills @caps for the given versions. */
void vdp_caps_from_versions (struct vdp_caps *caps, unsigned long libvirt, unsigned long qemu);

/* Parses "libvirt=X.Y[.Z],qemu=A.B[.C]" (either part may be left out: it
 * keeps the newest), or "newest".  Errors quote @spec. */
gboolean vdp_caps_parse_target (const char *spec, struct vdp_caps *caps, GError **error);

/* The QEMU installed on this machine: qemu-system-ARCH (this machine's
 * architecture) in PATH, else /usr/libexec/qemu-kvm, asked its version
 * (no daemon needed).  FALSE when none is found or it does not say;
 * *binary (may be NULL) names it (g_free). */
gboolean vdp_caps_installed_qemu (unsigned long *version, char **binary);

/* "libvirt 9.0.0, QEMU 7.2.0" (g_free). */
char *vdp_caps_describe (const struct vdp_caps *caps);
