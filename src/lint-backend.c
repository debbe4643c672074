/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The check rules for disks served by virt-dataplane-blk: shared memory, sockets, running backends, the hook. */
#include <config.h>

#include <stdarg.h>
#include <string.h>

#include "backend.h"
#include "lint-backend.h"
#include "paths.h"
#include "runtime.h"

enum { R_NOT_SHARED, R_NOT_RUNNING, R_SOCKET, R_NO_HOOK, R_RECORD, R_LAST };

const struct vdp_lint_rule vdp_lint_backend_rules[] = {
  [R_NOT_SHARED] = { "VDP101", "vhost-user-without-shared-memory", VDP_SEVERITY_ERROR,
    "a vhost-user disk in a guest whose memory is not shared and fd-backed (it cannot start)",
    "add <memoryBacking><source type='memfd'/><access mode='shared'/> (apply --backend does)" },
  [R_NOT_RUNNING] = { "VDP102", "backend-not-running", VDP_SEVERITY_ERROR,
    "a running guest's virt-dataplane-blk backend is not running: the disk's I/O stalls",
    "run the hook's reconnect (virt-dataplane hook NAME reconnect begin - < live XML) or "
    "restart the guest" },
  [R_SOCKET] = { "VDP103", "backend-socket-outside-runtime-dir", VDP_SEVERITY_ERROR,
    "a vhost-user disk's socket is not RUNTIME_DIR/UUID/TARGET.sock: the hook starts no backend for it",
    "apply --backend=vhost-user again (or revert)" },
  [R_NO_HOOK] = { "VDP104", "hook-not-installed", VDP_SEVERITY_ERROR,
    "domains have virt-dataplane-blk disks but the qemu hook is not installed on the host",
    "install hooks/qemu.d/virt-dataplane (make install), then SIGHUP or restart libvirtd" },
  [R_RECORD] = { "VDP105", "backend-record-invalid", VDP_SEVERITY_ERROR,
    "the backend record in the metadata is malformed: the hook refuses the domain",
    "apply --backend=vhost-user again, or revert" },
  [R_LAST] = { NULL, NULL, 0, NULL, NULL },
};

static void
add (GPtrArray *out, unsigned rule, const char *domain, const char *subject, const char *fmt,
     ...) G_GNUC_PRINTF (5, 6);

static void
add (GPtrArray *out, unsigned rule, const char *domain, const char *subject, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vdp_finding_addv (out, &vdp_lint_backend_rules[rule], domain, subject, fmt, ap);
  va_end (ap);
}

static void
lint_one (const struct vdp_lint_backend_input *in, const char *runtime_dir, GPtrArray *out,
          gboolean *has_backends)
{
  const struct vdp_domain *d = in->dom;
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) recs = vdp_backend_records_parse (in->doc, &err);
  g_autofree char *uuid = d->uuid ? g_ascii_strdown (d->uuid, -1) : NULL;

  for (unsigned i = 0; i < d->n_disks; i++)
    if (g_strcmp0 (d->disks[i].type, "vhostuser") == 0
        && vdp_backend_memory (in->doc) != VDP_BACKEND_MEMORY_KEEP) {
      g_autofree char *subject = g_strdup_printf ("disk %s", d->disks[i].target);
      add (out, R_NOT_SHARED, d->name, subject, "a vhost-user disk, and guest memory is not "
           "shared and fd-backed (memfd, file or hugepages): libvirt refuses to start it");
      break;
    }
  if (recs == NULL) {
    add (out, R_RECORD, d->name, "metadata", "%s", err->message);
    return;
  }
  *has_backends |= recs->len > 0;
  for (guint i = 0; i < recs->len; i++) {
    const struct vdp_backend_disk *b = recs->pdata[i];
    g_autofree char *subject = g_strdup_printf ("disk %s", b->target);
    g_autofree char *want = uuid ? vdp_backend_socket_path (runtime_dir, uuid, b->target) : NULL;
    g_autofree char *used = vdp_backend_disk_socket (in->doc, b->target);
    const struct vdp_runtime_state *st = NULL;

    if (want == NULL || strcmp (b->socket, want) != 0)
      add (out, R_SOCKET, d->name, subject, "the backend's socket '%s' is not under the runtime "
           "directory as '%s'", b->socket, want ? want : "RUNTIME_DIR/UUID/TARGET.sock");
    else if (g_strcmp0 (used, b->socket) != 0)
      add (out, R_SOCKET, d->name, subject, "the disk connects to '%s', not to its backend's "
           "socket '%s'", used ? used : "(no socket)", b->socket);
    if (!in->running || in->states == NULL)
      continue;
    for (guint k = 0; k < in->states->len; k++)
      if (strcmp (((const struct vdp_runtime_state *) in->states->pdata[k])->target, b->target) == 0)
        st = in->states->pdata[k];
    if (st == NULL || !st->running || st->backend_pid <= 0)
      add (out, R_NOT_RUNNING, d->name, subject, "the guest runs but its backend does not%s",
           st == NULL ? " (nothing in the runtime directory)"
           : !st->running ? " (no supervisor)" : " (the supervisor is restarting it)");
  }
}

void
vdp_lint_backends (const struct vdp_lint_backend_input *in, unsigned n, const char *runtime_dir,
                   int hook_installed, GPtrArray *findings)
{
  gboolean has_backends = FALSE;

  for (unsigned i = 0; i < n; i++)
    lint_one (&in[i], runtime_dir, findings, &has_backends);
  if (has_backends && hook_installed == 0)
    add (findings, R_NO_HOOK, "(host)", LIBVIRT_HOOK_DIR, "no executable virt-dataplane in '%s': "
         "libvirt starts no backend, and guests with virt-dataplane-blk disks do not start%s%s%s",
         LIBVIRT_HOOK_DIR, strcmp (VDP_LIBVIRT_HOOK_DIR, LIBVIRT_HOOK_DIR) ? " (this build "
         "installs the hook in '" : "", strcmp (VDP_LIBVIRT_HOOK_DIR, LIBVIRT_HOOK_DIR)
         ? VDP_LIBVIRT_HOOK_DIR : "", strcmp (VDP_LIBVIRT_HOOK_DIR, LIBVIRT_HOOK_DIR) ? "')" : "");
}
