/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's backend configuration (backend.conf): where backends run, what they may open, their limits. */
#pragma once

#include <glib.h>

#include "paths.h"

typedef enum {
  VDP_SUPERVISOR_AUTO,      /* systemd when it is PID 1, else builtin */
  VDP_SUPERVISOR_SYSTEMD,   /* a transient unit per backend (systemd-run) */
  VDP_SUPERVISOR_BUILTIN,   /* a small supervising parent per backend */
  VDP_SUPERVISOR_LAST
} VdpSupervisor;

extern const char *const vdp_supervisor_names[];

typedef struct vdp_backend_conf vdp_backend_conf;

struct vdp_backend_conf {
  char *path;               /* the file read, or NULL: every value is the default */
  char *runtime_dir;        /* sockets and state: RUNTIME_DIR/UUID/ */
  char *log_dir;            /* LOG_DIR/NAME-TARGET.log (builtin supervisor) */
  char **allowed;           /* directories disk sources must lie under (NULL-terminated) */
  char *binary;             /* virt-dataplane-blk */
  char *user, *group;       /* who backends run as; NULL: who QEMU runs as */
  char *qemu_conf;          /* where QEMU's user and group are configured */
  unsigned max_workers;     /* worker threads per backend, at most */
  guint64 memory_limit;     /* bytes of private memory per backend (0: none) */
  unsigned start_timeout_ms;   /* a backend not ready by then fails the start */
  unsigned stop_timeout_ms;    /* SIGTERM, then SIGKILL after this */
  VdpSupervisor supervisor;
};

/* The default configuration file is VDP_BACKEND_CONF_FILE from paths.h
 * (SYSCONFDIR/virt-dataplane/backend.conf). */

/* Reads @path (NULL: the default file; a default file that does not exist
 * gives the defaults).  Unknown keys and bad values are errors naming the
 * file, the key and the value.  Free with vdp_backend_conf_free(). */
struct vdp_backend_conf *vdp_backend_conf_load (const char *path, GError **error);

void vdp_backend_conf_free (struct vdp_backend_conf *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_backend_conf, vdp_backend_conf_free)

/* The runtime directory from the default file, or the default one when the
 * file is missing or unreadable (for plan and apply, which write socket
 * paths into domains). */
char *vdp_backend_conf_runtime_dir (void);
