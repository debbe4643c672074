/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt connections: the only module that includes libvirt. */
#pragma once

#include <glib.h>

#include <hwloc.h>

#include "caps.h"

typedef struct vdp_conn vdp_conn;

/* Initialises libvirt (with an event loop thread) and libxml2, once.
 * Commands that use libvirt call it before starting worker threads;
 * vdp_conn_open() calls it in case they did not.  Commands that do not
 * use libvirt never start its thread. */
void vdp_conn_init (void);

/* How long connecting to a host and each call to it may take, in
 * seconds (0: no bound; default VDP_CONN_TIMEOUT_DEFAULT). */
#define VDP_CONN_TIMEOUT_DEFAULT 30
void vdp_conn_set_timeout (unsigned seconds);

/* Opens @uri (NULL: libvirt's default).  Connections are shared within a
 * process: opening a URI again returns the same one (libvirt's test driver
 * keeps its state per connection).  Errors carry libvirt's message.  A
 * host that does not answer within the timeout (vdp_conn_set_timeout())
 * is an error, and so is SIGINT while waiting (the connecting thread is
 * left behind); once connected, libvirt's keepalive closes a connection
 * whose host stops answering for that long, failing the call waiting on
 * it.  Release with vdp_conn_free(). */
struct vdp_conn *vdp_conn_open (const char *uri, GError **error);
void vdp_conn_free (struct vdp_conn *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (vdp_conn, vdp_conn_free)

/* The URI as libvirt names it. */
const char *vdp_conn_uri (const struct vdp_conn *c);

/* The stack behind the connection: the daemon's libvirt version and the
 * hypervisor's, refined by the domain capabilities where the driver has
 * them (memfd memory backing).  The test driver reports no QEMU: the
 * newest is assumed. */
void vdp_conn_caps (const struct vdp_conn *c, struct vdp_caps *caps);

typedef enum {
  VDP_STATE_ANY,
  VDP_STATE_RUNNING,
  VDP_STATE_SHUTOFF,
  VDP_STATE_HOST,           /* every domain of the host, transient ones too */
  VDP_STATE_LAST
} VdpDomainState;

/* The name of the domain @what names, as virsh resolves it: an ID (all
 * digits), then a UUID, then a name.  NULL with an input error naming
 * @what and the host when there is none. */
char *vdp_conn_resolve (struct vdp_conn *c, const char *what, GError **error);

/* What "list" shows of a domain. */
struct vdp_domain_info {
  int id;                   /* -1 when not running */
  char uuid[40];
  const char *state;        /* "running", "paused", "shut off", ... as virsh says it */
  gboolean active;
};
gboolean vdp_conn_domain_info (struct vdp_conn *c, const char *name, struct vdp_domain_info *out,
                               GError **error);

/* Names of the persistent domains in @state (VDP_STATE_HOST: every domain,
 * persistent or running transient), sorted.  Returns a GPtrArray of
 * strings. */
GPtrArray *vdp_conn_list (struct vdp_conn *c, VdpDomainState state, GError **error);

/* The domain's XML: the persistent definition (@inactive) or the live one,
 * secrets included so that defining it back loses nothing. */
char *vdp_conn_get_xml (struct vdp_conn *c, const char *name, gboolean inactive, GError **error);

/* Defines @xml persistently; @validate checks it against the daemon's
 * schema first: in-process, with the installed schema compiled once, when
 * the daemon runs here with this program's libvirt; else by libvirt. */
gboolean vdp_conn_define (struct vdp_conn *c, const char *xml, gboolean validate, GError **error);

/* Whether the domain runs; -1 with @error set when it does not exist. */
int vdp_conn_is_active (struct vdp_conn *c, const char *name, GError **error);

/* The live placement of a running domain. */
struct vdp_live_pins {
  unsigned n_vcpus;
  hwloc_bitmap_t *vcpus;        /* n_vcpus entries */
  hwloc_bitmap_t emulator;
  unsigned n_iothreads;
  unsigned *iothread_ids;
  hwloc_bitmap_t *iothreads;    /* n_iothreads entries */
};

/* Reads the live pins of running domain @name.  Free with
 * vdp_live_pins_clear(). */
gboolean vdp_conn_get_live_pins (struct vdp_conn *c, const char *name, struct vdp_live_pins *out,
                                 GError **error);
void vdp_live_pins_clear (struct vdp_live_pins *p);

/* Live changes to running domain @name. */
gboolean vdp_conn_add_iothread (struct vdp_conn *c, const char *name, unsigned id, GError **error);
gboolean vdp_conn_del_iothread (struct vdp_conn *c, const char *name, unsigned id, GError **error);
gboolean vdp_conn_pin_vcpu (struct vdp_conn *c, const char *name, unsigned vcpu,
                            hwloc_const_bitmap_t set, GError **error);
gboolean vdp_conn_pin_emulator (struct vdp_conn *c, const char *name, hwloc_const_bitmap_t set,
                                GError **error);
gboolean vdp_conn_pin_iothread (struct vdp_conn *c, const char *name, unsigned id,
                                hwloc_const_bitmap_t set, GError **error);

/* Every CPU of the host, as a pin that does not restrict (hwloc_bitmap_free). */
hwloc_bitmap_t vdp_conn_all_cpus (struct vdp_conn *c);

/* The version of the libvirt library this program runs with
 * (major * 1000000 + minor * 1000 + release); no daemon needed. */
unsigned long vdp_conn_library_version (void);

/* Where libvirt's QEMU driver keeps the pid file of domain @name for this
 * connection (qemu:///system, qemu:///session, qemu:///embed?root=DIR), or
 * NULL for other drivers. */
char *vdp_conn_qemu_pidfile (const struct vdp_conn *c, const char *name);

/* ---- the host behind the connection ----------------------------------- */

/* The driver's name as libvirt reports it ("QEMU", "TEST", ...). */
const char *vdp_conn_driver (const struct vdp_conn *c);

/* Whether the connection is libvirt's test driver, whose host is simulated. */
gboolean vdp_conn_is_test (const struct vdp_conn *c);

/* What virNodeGetInfo says about the host. */
struct vdp_node_info {
  char model[32];
  guint64 memory_kib;
  unsigned cpus;            /* active CPUs */
  unsigned mhz;
  unsigned nodes;           /* NUMA cells (1 when libvirt cannot tell) */
  unsigned sockets;         /* per node */
  unsigned cores;           /* per socket */
  unsigned threads;         /* per core */
};
gboolean vdp_conn_node_info (struct vdp_conn *c, struct vdp_node_info *out, GError **error);

/* The host's capabilities XML and its hostname (g_free). */
char *vdp_conn_capabilities (struct vdp_conn *c, GError **error);
char *vdp_conn_hostname (struct vdp_conn *c, GError **error);

/* Free memory in bytes of NUMA cells 0..@max-1 into @free; returns how many
 * cells libvirt reported, or -1 when it cannot tell. */
int vdp_conn_cells_free_memory (struct vdp_conn *c, guint64 *free, int max);

/* The XML of every node device with capability @cap ("storage", "pci"), a
 * GPtrArray of strings; NULL with @error set when the host cannot list them. */
GPtrArray *vdp_conn_node_devices (struct vdp_conn *c, const char *cap, GError **error);

/* The XML of node device @name, or NULL with @error set. */
char *vdp_conn_node_device_xml (struct vdp_conn *c, const char *name, GError **error);

/* The storage volume at @path: returns TRUE with its XML and its pool's in
 * *vol_xml and *pool_xml (g_free), FALSE when no pool of the host has it. */
gboolean vdp_conn_volume_by_path (struct vdp_conn *c, const char *path, char **vol_xml,
                                  char **pool_xml);

/* The XML of every active storage pool, a GPtrArray of strings (empty when
 * the host has no storage driver). */
GPtrArray *vdp_conn_pools (struct vdp_conn *c);

/* ---- running domains ---------------------------------------------------- */

/* One vCPU as virDomainGetVcpus reports it. */
struct vdp_vcpu_info {
  unsigned number;
  int state;                /* 0 offline, 1 running, 2 blocked */
  int cpu;                  /* the host CPU it runs on, -1 when offline */
  guint64 time_ns;          /* CPU time used */
};

/* The vCPUs of running domain @name: a GArray of struct vdp_vcpu_info. */
GArray *vdp_conn_get_vcpus (struct vdp_conn *c, const char *name, GError **error);

/* The statistics libvirt keeps of running domain @name (the records of
 * virConnectGetAllDomainStats: state, CPU time, vCPUs, IOThreads, block
 * devices, as far as the driver has them): a hash table from the field
 * name ("vcpu.0.time") to a GVariant (uint64, int64, double, boolean or
 * string). */
GHashTable *vdp_conn_domain_stats (struct vdp_conn *c, const char *name, GError **error);
