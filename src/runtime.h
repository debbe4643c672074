/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The virt-dataplane-blk processes of this host: opening sources safely, starting, supervising, stopping, reading their state. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include <glib.h>
#include <libxml/tree.h>

#include "backend-conf.h"
#include "backend.h"

/* Who the backends of a domain run as. */
struct vdp_runtime_ident {
  uid_t uid;
  gid_t gid;
};

/* Opens disk source @path for a backend: an absolute path that lies under
 * one of the directories @allowed (NULL-terminated), reached from there
 * without following any symbolic link (openat2 RESOLVE_NO_SYMLINKS |
 * RESOLVE_BENEATH, or O_NOFOLLOW on each component where openat2 is
 * missing), naming a regular file or a block device.  Returns an O_PATH
 * descriptor (close-on-exec), or -1 with @error naming the path and the
 * reason. */
int vdp_runtime_open_source (const char *const *allowed, const char *path, GError **error);

/* The same walk without openat2, one component at a time with O_NOFOLLOW
 * (used where openat2 is missing; exposed for the tests): opens @rel, a
 * relative path without "." or "..", beneath directory @dirfd. */
int vdp_runtime_open_beneath_walk (int dirfd, const char *rel, GError **error);

/* Who the backends of the domain @doc run as: backend.conf's user and
 * group, else the DAC label libvirt gives QEMU in the domain XML, else
 * QEMU's user and group in qemu.conf, else libvirt-qemu.  Root only when
 * backend.conf says so.  FALSE with @error set otherwise. */
gboolean vdp_runtime_ident (const struct vdp_backend_conf *conf, xmlDocPtr doc,
                            struct vdp_runtime_ident *out, GError **error);

/* What runs for one disk, read from the runtime directory. */
struct vdp_runtime_state {
  char *target;
  bool running;             /* its supervisor (or systemd unit) is alive */
  char *supervisor;         /* "builtin" or "systemd", NULL when unknown */
  int supervisor_pid;       /* builtin: 0 when not running */
  char *unit;               /* systemd: the service unit */
  int backend_pid;          /* 0 when none */
  unsigned restarts;        /* backend processes started after the first */
  char *socket;             /* the socket that listens for QEMU */
  /* from the backend's stats file, when it has written one */
  bool have_stats;
  char *state;              /* "listening" or "connected" */
  unsigned connections;     /* front-ends this backend process accepted */
  guint64 requests;
  unsigned threads;
};

void vdp_runtime_state_free (struct vdp_runtime_state *s);

/* The backends of domain @uuid (GPtrArray of struct vdp_runtime_state,
 * empty when there are none), sorted by target. */
GPtrArray *vdp_runtime_states (const struct vdp_backend_conf *conf, const char *uuid);

/* Starts a backend for each of @disks (struct vdp_backend_disk) of domain
 * @name/@uuid that is not running yet, as @who, supervised (systemd unit
 * or builtin supervisor, per @conf), detached from the caller's standard
 * descriptors, and returns when every one of them is ready to serve its
 * socket.  On any failure (a source that may not be opened, a backend that
 * does not get ready within the start timeout) the backends started here
 * are stopped again and @error names the disk. */
gboolean vdp_runtime_start (const struct vdp_backend_conf *conf, const char *name,
                            const char *uuid, GPtrArray *disks,
                            const struct vdp_runtime_ident *who, GError **error);

/* Stops every backend of domain @uuid (SIGTERM, then SIGKILL after the
 * stop timeout) and removes its runtime directory.  Best effort: problems
 * go to @warnings (char *, may be NULL). */
void vdp_runtime_stop (const struct vdp_backend_conf *conf, const char *uuid, GPtrArray *warnings);

/* The systemd-run command line that runs the backend of @b of domain
 * @uuid as a transient unit with its socket unit (NULL-terminated, free
 * with g_strfreev).  @self is the virt-dataplane program. */
char **vdp_runtime_systemd_argv (const struct vdp_backend_conf *conf, const char *uuid,
                                 const struct vdp_backend_disk *b,
                                 const struct vdp_runtime_ident *who, const char *self);

/* The systemd unit name of the backend of disk @target of domain @uuid (g_free). */
char *vdp_runtime_unit_name (const char *uuid, const char *target);

/* Runs the backend described by the state file @conf_file written by
 * vdp_runtime_start(), on the listening socket systemd passes (fd 3):
 * the entry point of the systemd unit.  Returns only on failure, with
 * @error set. */
gboolean vdp_runtime_exec_from_unit (const struct vdp_backend_conf *conf, const char *conf_file,
                                     GError **error);

/* Whether the qemu hook is installed in libvirt's hook directory @hookdir
 * (an executable virt-dataplane there). */
gboolean vdp_runtime_hook_installed (const char *hookdir);
