/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Serving disks with virt-dataplane-blk: which disks can be, their backend settings, their record. */
#pragma once

#include <stdbool.h>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libxml/tree.h>

#include "caps.h"
#include "domain.h"
#include "planner.h"
#include "policy.h"

/* Where sockets and state live by default: RUNTIME_DIR/UUID/TARGET.sock. */
#define VDP_BACKEND_RUNTIME_DIR "/run/virt-dataplane"
/* The most queues virt-dataplane-blk offers. */
#define VDP_BACKEND_MAX_QUEUES 256
/* QEMU tries to reconnect to a restarted backend every this many seconds. */
#define VDP_BACKEND_RECONNECT_S 1

/* One disk served by virt-dataplane-blk: everything the hook needs to
 * start its backend, as recorded in the domain's metadata. */
typedef struct vdp_backend_disk vdp_backend_disk;

struct vdp_backend_disk {
  char *target;             /* "vda" */
  char *source;             /* the original file or block device */
  char *source_type;        /* "file" or "block" */
  char *serial;             /* the original <serial> (the backend answers it), or NULL */
  char *socket;             /* RUNTIME_DIR/UUID/TARGET.sock */
  unsigned queues;
  unsigned n_workers;
  char **worker_cpus;       /* n_workers cpusets ("2-3"), NULL entries: unpinned; one
                             * more entry, NULL */
  int node;                 /* NUMA node of the workers' CPUs or the disk, -1 unknown */
  bool readonly;
  unsigned poll_ns;         /* --poll-max-ns */
};

void vdp_backend_disk_free (struct vdp_backend_disk *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_backend_disk, vdp_backend_disk_free)

/* What shared memory the conversion needs. */
typedef enum {
  VDP_BACKEND_MEMORY_KEEP,      /* already shared and fd-backed */
  VDP_BACKEND_MEMORY_MEMFD,     /* add <source type='memfd'/><access mode='shared'/> */
  VDP_BACKEND_MEMORY_SHARE,     /* hugepages or a file: add <access mode='shared'/> */
  VDP_BACKEND_MEMORY_LAST
} VdpBackendMemory;

/* Which disks of a domain the backend serves, and why the others are not. */
typedef struct vdp_backend_selection vdp_backend_selection;

struct vdp_backend_selection {
  unsigned n_disks;         /* = the domain's disks */
  bool *served;             /* n_disks entries: what the planner takes as input->backend */
  bool *recorded;           /* n_disks: converted by an earlier apply (already vhost-user) */
  char **why_not;           /* n_disks: one phrase for each disk not served, else NULL */
  char *refused;            /* the whole domain cannot be converted (NULL: it can) */
};

void vdp_backend_selection_free (struct vdp_backend_selection *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_backend_selection, vdp_backend_selection_free)

/* Chooses the disks of domain @d (parsed from @doc) that virt-dataplane-blk
 * serves: the disks an earlier apply converted (recorded in the metadata),
 * and, with @want VDP_BACKEND_VHOST_USER, every eligible disk: a virtio
 * disk of type 'file' (raw) or 'block', not a CD-ROM, not shareable, with
 * nothing the vhost-user disk cannot carry (throttling, encryption, a
 * transient overlay).  A stack without vhost-user disks (libvirt < 7.1)
 * or memfd memory refuses the whole domain.  Never fails; free with
 * vdp_backend_selection_free(). */
struct vdp_backend_selection *vdp_backend_select (const struct vdp_domain *d, xmlDocPtr doc,
                                                  const struct vdp_caps *caps, VdpBackend want);

/* The backend settings of the disks @sel serves, from the plan @dp (made
 * with @sel->served as input): queues as the plan's, one worker thread per
 * I/O placement the plan made (at most one per queue) on its PUs (a
 * domain whose pins are left alone: on its emulator's, else its vCPUs'),
 * polling from @policy, sockets under @runtime_dir.  Returns a GPtrArray of
 * struct vdp_backend_disk (empty when nothing is served), or NULL with
 * @error set when the domain has no UUID to name its sockets. */
GPtrArray *vdp_backend_settings (const struct vdp_domain_plan *dp,
                                 const struct vdp_backend_selection *sel,
                                 const struct vdp_policy *policy, const char *runtime_dir,
                                 xmlDocPtr doc, GError **error);

/* The memory backing change the conversion needs for the domain in @doc. */
VdpBackendMemory vdp_backend_memory (xmlDocPtr doc);

/* The backend records in the domain's metadata (GPtrArray of struct
 * vdp_backend_disk, empty when there are none).  Records are untrusted
 * input: values out of range give NULL with @error naming the disk. */
GPtrArray *vdp_backend_records_parse (xmlDocPtr doc, GError **error);

/* Appends to @missing a line for each setting of @want (struct
 * vdp_backend_disk) that the domain @after (read back from libvirt) does
 * not have.  Returns TRUE when nothing is missing. */
gboolean vdp_backend_verify (GPtrArray *want, xmlDocPtr after, GPtrArray *missing);

/* What a disk gives up when virt-dataplane-blk serves it (for the plan's
 * explanation), NULL-terminated. */
extern const char *const vdp_backend_given_up[];

/* The plan's explanation of what virt-dataplane-blk does for domain @d:
 * why each disk @sel does not serve stays with QEMU, the settings @disks
 * of the ones it serves, the memory change @memory and what those disks
 * give up; lines to add after the devices (g_free), NULL when there is
 * nothing to say. */
char *vdp_backend_explain (const struct vdp_domain *d, const struct vdp_backend_selection *sel,
                           GPtrArray *disks, VdpBackendMemory memory);

/* Adds the members "backend" (the settings @disks) and "not_served" (each
 * disk @sel does not serve, with why) to the JSON object being built in
 * @b. */
void vdp_backend_json (JsonBuilder *b, const struct vdp_domain *d,
                       const struct vdp_backend_selection *sel, GPtrArray *disks);

/* The socket path of disk @target of domain @uuid under @runtime_dir (g_free). */
char *vdp_backend_socket_path (const char *runtime_dir, const char *uuid, const char *target);

/* Whether @s is a well-formed lower-case UUID / a disk target name, safe
 * as a file name. */
gboolean vdp_backend_uuid_valid (const char *s);
gboolean vdp_backend_target_valid (const char *s);

/* Parses a --backend value ("qemu" or "vhost-user"); a usage error quoting
 * it otherwise. */
gboolean vdp_backend_parse (const char *s, VdpBackend *out, GError **error);

/* The socket vhost-user disk @target of @doc connects to, or NULL (g_free). */
char *vdp_backend_disk_socket (xmlDocPtr doc, const char *target);
