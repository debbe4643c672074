/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tuning profiles: the built-in ones and key files, validated with clear errors. */
#pragma once

#include <stdbool.h>

#include <glib.h>
#include <hwloc.h>

typedef enum { VDP_PLACEMENT_SHARED, VDP_PLACEMENT_DEDICATED, VDP_PLACEMENT_LAST } VdpPlacement;
typedef enum { VDP_SMT_PREFER, VDP_SMT_ISOLATE, VDP_SMT_LAST } VdpSmt;
typedef enum { VDP_MAPPING_AUTO, VDP_MAPPING_EXPLICIT, VDP_MAPPING_LAST } VdpMapping;
typedef enum { VDP_IOCPUS_SEPARATE, VDP_IOCPUS_SHARED, VDP_IOCPUS_LAST } VdpIothreadCpus;
typedef enum { VDP_EMULATOR_LLC, VDP_EMULATOR_HOUSEKEEPING, VDP_EMULATOR_LAST } VdpEmulator;
typedef enum { VDP_MEMORY_STRICT, VDP_MEMORY_PREFERRED, VDP_MEMORY_NONE, VDP_MEMORY_LAST } VdpMemory;
typedef enum { VDP_DISK_IO_NATIVE, VDP_DISK_IO_URING, VDP_DISK_IO_KEEP, VDP_DISK_IO_LAST } VdpDiskIo;
typedef enum { VDP_DISK_CACHE_NONE, VDP_DISK_CACHE_KEEP, VDP_DISK_CACHE_LAST } VdpDiskCache;
/* Who serves eligible disks: QEMU (IOThreads) or virt-dataplane-blk (vhost-user). */
typedef enum { VDP_BACKEND_QEMU, VDP_BACKEND_VHOST_USER, VDP_BACKEND_LAST } VdpBackend;

extern const char *const vdp_backend_names[];

typedef struct vdp_policy vdp_policy;

struct vdp_policy {
  char *name;               /* "balanced", or the file's base name */
  char *source;             /* "built-in" or the file path */
  VdpPlacement placement;
  VdpSmt smt;
  unsigned iothreads;       /* 0: auto */
  unsigned iothreads_max;   /* cap for auto (default 8) */
  unsigned queues;          /* 0: auto (= vCPUs) */
  VdpMapping mapping;
  VdpIothreadCpus iothread_cpus;
  VdpEmulator emulator;
  hwloc_bitmap_t host_cpus; /* reserved for the host; never NULL (may be empty) */
  hwloc_bitmap_t isolated;  /* isolated PUs of the host; NULL: the topology's own */
  unsigned pool_share;      /* IOThreads that may share one PU of a node's I/O pool */
  unsigned pool_cap;        /* percent of a node's usable PUs its I/O pool may take */
  int poll_shared;          /* <poll max> in ns for IOThreads sharing PUs; -1: keep QEMU's */
  guint64 memory_reserve_kib;  /* kept free on each node for the host */
  bool memory_reserve_auto; /* ... or VDP_POLICY_RESERVE_AUTO of the node's memory */
  VdpMemory memory;
  VdpDiskIo disk_io;
  VdpDiskCache disk_cache;
  bool override;            /* replace pins virt-dataplane did not write */
  VdpBackend backend;       /* who serves newly converted disks (plan/apply --backend) */
  unsigned backend_poll_ns; /* virt-dataplane-blk --poll-max-ns */
};

/* memory_reserve=auto: 1 GiB per node, or 1/16 of a smaller node's memory. */
#define VDP_POLICY_RESERVE_AUTO_KIB (1024 * 1024)

/* The memory kept free on a node of @node_kib KiB under @p. */
guint64 vdp_policy_memory_reserve (const struct vdp_policy *p, guint64 node_kib);

/* Names of the built-in profiles, NULL-terminated. */
extern const char *const vdp_policy_builtin_names[];

/* Returns built-in profile @name, or NULL with @error set. */
struct vdp_policy *vdp_policy_builtin (const char *name, GError **error);

/* Loads a profile file (key-file syntax, group [profile]).  Unknown keys
 * and bad values are errors naming the file, line and key. */
struct vdp_policy *vdp_policy_load_file (const char *path, GError **error);

/* Finds profile @spec: NULL means "balanced"; a path (containing '/', or an
 * existing file) is loaded; otherwise NAME.conf is looked for in
 * $XDG_CONFIG_HOME/virt-dataplane/, then /etc/virt-dataplane/profiles/, then
 * the built-ins. */
struct vdp_policy *vdp_policy_find (const char *spec, GError **error);

/* A stable one-line description of every setting that shapes a plan (for
 * the plan hash); override is left out: it decides only whose pins may be
 * replaced, and the metadata records whose they are; so are the backend
 * keys: the planner hashes them into each disk the backend serves, so that
 * a domain converted earlier plans the same without --backend. */
char *vdp_policy_format (const struct vdp_policy *p);

/* The profiles the domains of a run are planned with.  With @given (the
 * run named a profile) every domain gets @host; otherwise a domain keeps
 * the profile its metadata records (loaded once by name, with the
 * host-wide keys host_cpus, isolated_cpus and memory_reserve and the
 * override of @host), and the others get @host.  @host must outlive the
 * cache. */
typedef struct vdp_policy_cache vdp_policy_cache;
vdp_policy_cache *vdp_policy_cache_new (const struct vdp_policy *host, gboolean given);

/* The profile for domain @d (borrowed from the cache), or NULL with @error
 * set when its recorded profile cannot be found. */
struct vdp_domain;
const struct vdp_policy *vdp_policy_for_domain (vdp_policy_cache *c, const struct vdp_domain *d,
                                                GError **error);
/* The profile a domain that is only context (not planned on this run)
 * keeps: its recorded one even when the run's profile was given, since
 * --profile tunes the domains planned, not the others of the host (the
 * run's profile when it records none, or when its recorded one is not
 * found).  Borrowed from the cache. */
const struct vdp_policy *vdp_policy_for_context (vdp_policy_cache *c, const struct vdp_domain *d);
void vdp_policy_cache_free (vdp_policy_cache *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_policy_cache, vdp_policy_cache_free)

/* A copy of @p (free with vdp_policy_free()). */
struct vdp_policy *vdp_policy_dup (const struct vdp_policy *p);

void vdp_policy_free (struct vdp_policy *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_policy, vdp_policy_free)
