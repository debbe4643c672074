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
  VdpMemory memory;
  VdpDiskIo disk_io;
  VdpDiskCache disk_cache;
  bool override;            /* replace pins virt-dataplane did not write */
};

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
 * replaced, and the metadata records whose they are. */
char *vdp_policy_format (const struct vdp_policy *p);

void vdp_policy_free (struct vdp_policy *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_policy, vdp_policy_free)
