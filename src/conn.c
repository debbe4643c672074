/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt connections: the only module that includes libvirt. */
#include <config.h>

#include <stdarg.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/xmlerror.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "conn.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/interrupt.h"

struct vdp_conn {
  char *key;                /* the URI as given ("" for the default) */
  char *uri;
  virConnectPtr v;
  gboolean test;
  gboolean local_schema;    /* validate with the local libvirt's schema, in-process */
  int ncpus;                /* host_cpus(), once asked (atomic: shared by -j workers) */
  int refs;
};

static GMutex cache_lock;
static GHashTable *cache;   /* key -> struct vdp_conn */
static gint timeout_s = VDP_CONN_TIMEOUT_DEFAULT;

/* How often the caller waiting for a connect looks for SIGINT. */
#define CONNECT_POLL_US (100 * 1000)

static void
quiet (void *data, virErrorPtr err)
{
  /* errors are reported once, by the caller, from virGetLastError() */
}

static void
quiet_xml (void *data, const char *fmt, ...)
{
  /* libvirt reports its XML errors itself; libxml2 must not print them too */
}

static const char *
last_error (void)
{
  const char *m = virGetLastErrorMessage ();
  return m ? m : "unknown libvirt error";
}

/* Frees @d, first keeping libvirt's message when @rc < 0 (virDomainFree()
 * resets the thread's last error: read after it, the reason is gone). */
static char *
error_then_free (int rc, virDomainPtr d)
{
  char *why = rc < 0 ? g_strdup (last_error ()) : NULL;

  virDomainFree (d);
  return why;
}

static gpointer
event_loop (gpointer data)
{
  for (;;)
    virEventRunDefaultImpl ();
  return NULL;
}

void
vdp_conn_init (void)
{
  static gsize once;

  if (!g_once_init_enter (&once))
    return;
  xmlInitParser ();
  if (virInitialize () < 0)
    g_error ("cannot initialise libvirt");
  /* drivers running inside this process (qemu:///embed) need an event
   * loop, as virsh runs one */
  if (virEventRegisterDefaultImpl () < 0)
    g_error ("cannot register libvirt's event loop");
  g_thread_unref (g_thread_new ("libvirt-events", event_loop, NULL));
  g_once_init_leave (&once, 1);
}

void
vdp_conn_set_timeout (unsigned seconds)
{
  g_atomic_int_set (&timeout_s, (gint) MIN (seconds, (unsigned) G_MAXINT / 2));
}

/* A connect in its own thread, so that the caller can give up on it. */
struct opener {
  gint refs;                /* the caller's and the thread's */
  GMutex lock;
  GCond cond;
  char *uri;
  gboolean done, abandoned;
  virConnectPtr v;
  char *error;
};

static void
opener_unref (struct opener *op)
{
  if (!g_atomic_int_dec_and_test (&op->refs))
    return;
  g_mutex_clear (&op->lock);
  g_cond_clear (&op->cond);
  g_free (op->uri);
  g_free (op->error);
  g_free (op);
}

static gpointer
open_thread (gpointer data)
{
  struct opener *op = data;
  virConnectPtr v;
  char *err;
  gboolean abandoned;

  /* libxml2's handler is per thread: drivers that parse files here (the
   * test driver) must not print their own "I/O warning" beside ours */
  xmlSetGenericErrorFunc (NULL, quiet_xml);
  v = virConnectOpen (op->uri);
  err = v ? NULL : g_strdup (last_error ());   /* libvirt's errors are per thread */

  g_mutex_lock (&op->lock);
  op->v = v;
  op->error = err;
  op->done = TRUE;
  abandoned = op->abandoned;
  g_cond_signal (&op->cond);
  g_mutex_unlock (&op->lock);
  if (abandoned && v)
    virConnectClose (v);
  opener_unref (op);
  return NULL;
}

/* virConnectOpen(@uri), given up after the timeout or on SIGINT; then
 * keepalive, so that a host that stops answering fails the call waiting
 * on it instead of hanging it. */
static virConnectPtr
open_bounded (const char *uri, GError **error)
{
  struct opener *op = g_new0 (struct opener, 1);
  gint timeout = g_atomic_int_get (&timeout_s);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout * G_USEC_PER_SEC;
  const char *shown = uri ? uri : "(default)";
  virConnectPtr v = NULL;
  gboolean interrupted = FALSE;

  op->refs = 2;
  g_mutex_init (&op->lock);
  g_cond_init (&op->cond);
  op->uri = g_strdup (uri);
  g_thread_unref (g_thread_new ("connect", open_thread, op));
  g_mutex_lock (&op->lock);
  while (!op->done) {
    gint64 now = g_get_monotonic_time ();
    if ((timeout && now >= deadline) || (interrupted = vdp_interrupted ()))
      break;
    g_cond_wait_until (&op->cond, &op->lock,
                       timeout ? MIN (deadline, now + CONNECT_POLL_US) : now + CONNECT_POLL_US);
  }
  if (op->done) {
    v = op->v;
    if (v == NULL)
      g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "cannot connect to '%s': %s", shown,
                   op->error);
  } else {
    /* the thread closes the connection if it ever comes */
    op->abandoned = TRUE;
    if (interrupted)
      g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "cannot connect to '%s': interrupted "
                   "while waiting for it", shown);
    else
      g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "cannot connect to '%s': no answer in "
                   "%d s (--timeout)", shown, timeout);
  }
  g_mutex_unlock (&op->lock);
  opener_unref (op);
  if (v && timeout) {
    /* a ping every interval; the connection is closed after count
     * unanswered ones: about the timeout in all */
    int interval = MAX (1, timeout / 6);
    int count = MAX (1, timeout / interval - 1);
    if (virConnectSetKeepAlive (v, interval, (unsigned) count) < 0)
      virResetLastError ();   /* drivers in this process have no keepalive */
  }
  return v;
}

struct vdp_conn *
vdp_conn_open (const char *uri, GError **error)
{
  const char *key = uri ? uri : "";
  struct vdp_conn *c, *other;
  virConnectPtr v;
  char *real;

  vdp_conn_init ();
  g_mutex_lock (&cache_lock);
  xmlSetGenericErrorFunc (NULL, quiet_xml);
  if (cache == NULL) {
    virSetErrorFunc (NULL, quiet);
    cache = g_hash_table_new (g_str_hash, g_str_equal);
  }
  c = g_hash_table_lookup (cache, key);
  if (c) {
    c->refs++;
    g_mutex_unlock (&cache_lock);
    return c;
  }
  g_mutex_unlock (&cache_lock);
  /* connecting may take long: not under the lock other hosts need */
  v = open_bounded (uri, error);
  if (v == NULL)
    return NULL;
  c = g_new0 (struct vdp_conn, 1);
  c->v = v;
  c->key = g_strdup (key);
  real = virConnectGetURI (c->v);
  c->uri = g_strdup (real ? real : key);
  free (real);
  c->test = g_strcmp0 (virConnectGetType (c->v), "TEST") == 0;
  {
    /* a daemon on this machine, of the same libvirt as this program, has
     * the installed schema: validate against it here, compiled once,
     * instead of having libvirt compile it for every define */
    g_autoptr (GUri) parsed = g_uri_parse (c->uri, G_URI_FLAGS_NONE, NULL);
    unsigned long lib = 0, daemon = 0;
    virGetVersion (&lib, NULL, NULL);
    virConnectGetLibVersion (c->v, &daemon);
    c->local_schema = parsed && (g_uri_get_host (parsed) == NULL || !*g_uri_get_host (parsed))
                      && lib == daemon;
  }
  c->refs = 1;
  g_mutex_lock (&cache_lock);
  other = g_hash_table_lookup (cache, key);
  if (other == NULL)
    g_hash_table_insert (cache, c->key, c);
  else
    other->refs++;
  g_mutex_unlock (&cache_lock);
  if (other == NULL)
    return c;
  /* another thread connected meanwhile: use its connection */
  virConnectClose (c->v);
  g_free (c->key);
  g_free (c->uri);
  g_free (c);
  return other;
}

void
vdp_conn_free (struct vdp_conn *c)
{
  if (c == NULL)
    return;
  g_mutex_lock (&cache_lock);
  if (--c->refs == 0) {
    g_hash_table_remove (cache, c->key);
    virConnectClose (c->v);
    g_free (c->key);
    g_free (c->uri);
    g_free (c);
  }
  g_mutex_unlock (&cache_lock);
}

const char *
vdp_conn_uri (const struct vdp_conn *c)
{
  return c->uri;
}

/* Whether the domain capabilities list @value among the values of the
 * <enum name='@name'> under <@section>. */
static gboolean
domcaps_has (xmlNodePtr n, const char *section, const char *name, const char *value,
             gboolean in_section)
{
  for (; n; n = n->next) {
    if (n->type != XML_ELEMENT_NODE)
      continue;
    if (in_section && strcmp ((const char *) n->name, "enum") == 0) {
      g_autoptr (xmlChar) en = xmlGetProp (n, (const xmlChar *) "name");
      if (en && strcmp ((const char *) en, name) == 0)
        for (xmlNodePtr v = n->children; v; v = v->next) {
          g_autoptr (xmlChar) text = v->type == XML_ELEMENT_NODE ? xmlNodeGetContent (v) : NULL;
          if (text && strcmp ((const char *) text, value) == 0)
            return TRUE;
        }
    }
    if (domcaps_has (n->children, section, name, value,
                     in_section || strcmp ((const char *) n->name, section) == 0))
      return TRUE;
  }
  return FALSE;
}

/* What the hypervisor's domain capabilities say beyond versions: memfd
 * memory backing.  Drivers without them (the test driver before 9.8)
 * keep what the versions say. */
static void
domcaps_refine (const struct vdp_conn *c, struct vdp_caps *caps)
{
  char *xml = c->test ? NULL : virConnectGetDomainCapabilities (c->v, NULL, NULL, NULL, NULL, 0);
  xmlDocPtr doc;

  if (xml == NULL)
    return;
  doc = xmlReadMemory (xml, (int) strlen (xml), "domcaps.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  free (xml);
  if (doc == NULL)
    return;
  caps->memfd = domcaps_has (xmlDocGetRootElement (doc), "memoryBacking", "sourceType", "memfd",
                             FALSE);
  xmlFreeDoc (doc);
}

void
vdp_conn_caps (const struct vdp_conn *c, struct vdp_caps *caps)
{
  unsigned long lib = 0, hv = 0;

  if (virConnectGetLibVersion (c->v, &lib) < 0)
    lib = LIBVIR_VERSION_NUMBER;
  if (c->test || virConnectGetVersion (c->v, &hv) < 0 || hv == 0)
    hv = VDP_CAPS_NEWEST_QEMU;
  vdp_caps_from_versions (caps, lib, hv);
  domcaps_refine (c, caps);
}

char *
vdp_conn_resolve (struct vdp_conn *c, const char *what, GError **error)
{
  virDomainPtr d = NULL;
  guint64 id;
  char *name;

  if (g_ascii_string_to_unsigned (what, 10, 0, G_MAXINT, &id, NULL))
    d = virDomainLookupByID (c->v, (int) id);
  if (d == NULL && strlen (what) == VIR_UUID_STRING_BUFLEN - 1)
    d = virDomainLookupByUUIDString (c->v, what);
  if (d == NULL)
    d = virDomainLookupByName (c->v, what);
  if (d == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "domain '%s' on '%s': no domain with that "
                 "name, ID or UUID", what, c->uri);
    virResetLastError ();
    return NULL;
  }
  name = g_strdup (virDomainGetName (d));
  virDomainFree (d);
  return name;
}

gboolean
vdp_conn_domain_info (struct vdp_conn *c, const char *name, struct vdp_domain_info *out,
                      GError **error)
{
  static const char *const states[] = {
    [VIR_DOMAIN_NOSTATE] = "no state", [VIR_DOMAIN_RUNNING] = "running",
    [VIR_DOMAIN_BLOCKED] = "idle", [VIR_DOMAIN_PAUSED] = "paused",
    [VIR_DOMAIN_SHUTDOWN] = "in shutdown", [VIR_DOMAIN_SHUTOFF] = "shut off",
    [VIR_DOMAIN_CRASHED] = "crashed", [VIR_DOMAIN_PMSUSPENDED] = "pmsuspended",
  };
  virDomainPtr d = virDomainLookupByName (c->v, name);
  int state = 0, reason = 0;

  memset (out, 0, sizeof (*out));
  if (d == NULL || virDomainGetState (d, &state, &reason, 0) < 0
      || virDomainGetUUIDString (d, out->uuid) < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "domain '%s' on '%s': %s", name, c->uri,
                 last_error ());
    if (d)
      virDomainFree (d);
    return FALSE;
  }
  out->active = virDomainIsActive (d) == 1;
  out->id = out->active ? (int) virDomainGetID (d) : -1;
  out->state = state >= 0 && state < (int) G_N_ELEMENTS (states) && states[state]
               ? states[state] : "unknown";
  virDomainFree (d);
  return TRUE;
}

static int
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

GPtrArray *
vdp_conn_list (struct vdp_conn *c, VdpDomainState state, GError **error)
{
  virDomainPtr *doms = NULL;
  unsigned flags = (state == VDP_STATE_HOST ? 0 : VIR_CONNECT_LIST_DOMAINS_PERSISTENT)
                   | (state == VDP_STATE_RUNNING ? VIR_CONNECT_LIST_DOMAINS_RUNNING : 0)
                   | (state == VDP_STATE_SHUTOFF ? VIR_CONNECT_LIST_DOMAINS_SHUTOFF : 0);
  int n = virConnectListAllDomains (c->v, &doms, flags);
  GPtrArray *names;

  if (n < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "list domains on '%s': %s", c->uri,
                 last_error ());
    return NULL;
  }
  names = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; i < n; i++) {
    g_ptr_array_add (names, g_strdup (virDomainGetName (doms[i])));
    virDomainFree (doms[i]);
  }
  free (doms);
  g_ptr_array_sort (names, cmp_names);
  return names;
}

static virDomainPtr
lookup (struct vdp_conn *c, const char *name, GError **error)
{
  virDomainPtr d = virDomainLookupByName (c->v, name);

  if (d == NULL)
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "domain '%s' on '%s': %s", name, c->uri,
                 last_error ());
  return d;
}

char *
vdp_conn_get_xml (struct vdp_conn *c, const char *name, gboolean inactive, GError **error)
{
  virDomainPtr d = lookup (c, name, error);
  char *xml, *ret;

  if (d == NULL)
    return NULL;
  xml = virDomainGetXMLDesc (d, VIR_DOMAIN_XML_SECURE | (inactive ? VIR_DOMAIN_XML_INACTIVE : 0));
  if (xml == NULL)
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "read domain '%s': %s", name, last_error ());
  virDomainFree (d);
  ret = g_strdup (xml);
  free (xml);
  return ret;
}

static void
first_error (void *data, const char *fmt, ...)
{
  GString *s = data;
  va_list ap;

  if (s->len)
    return;
  va_start (ap, fmt);
  g_string_append_vprintf (s, fmt, ap);
  va_end (ap);
  g_strstrip (s->str);
  g_string_set_size (s, strlen (s->str));
}

static void
no_warning (void *data, const char *fmt, ...)
{
}

/* The installed domain schema, compiled once; NULL when missing. */
static xmlRelaxNGPtr
local_schema (void)
{
  static gsize once;
  static xmlRelaxNGPtr schema;

  if (g_once_init_enter (&once)) {
    xmlRelaxNGParserCtxtPtr p = xmlRelaxNGNewParserCtxt (LIBVIRT_SCHEMA_DIR "/domain.rng");
    xmlRelaxNGSetParserErrors (p, no_warning, no_warning, NULL);
    schema = xmlRelaxNGParse (p);
    xmlRelaxNGFreeParserCtxt (p);
    g_once_init_leave (&once, 1);
  }
  return schema;
}

/* Validates @xml against the local schema; FALSE with @error set. */
static gboolean
validate_locally (xmlRelaxNGPtr schema, const char *xml, GError **error)
{
  g_autoptr (GString) why = g_string_new (NULL);
  xmlDocPtr doc = xmlReadMemory (xml, (int) strlen (xml), "domain.xml", NULL,
                                 XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  xmlRelaxNGValidCtxtPtr v;
  int rc;

  if (doc == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "define: not well-formed XML");
    return FALSE;
  }
  v = xmlRelaxNGNewValidCtxt (schema);
  xmlRelaxNGSetValidErrors (v, first_error, no_warning, why);
  rc = xmlRelaxNGValidateDoc (v, doc);
  xmlRelaxNGFreeValidCtxt (v);
  xmlFreeDoc (doc);
  if (rc != 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME,
                 "define: the XML does not validate against libvirt's schema: %s",
                 why->len ? why->str : "invalid");
    return FALSE;
  }
  return TRUE;
}

gboolean
vdp_conn_define (struct vdp_conn *c, const char *xml, gboolean validate, GError **error)
{
  unsigned flags = validate ? VIR_DOMAIN_DEFINE_VALIDATE : 0;
  virDomainPtr d;

  if (validate && c->local_schema && local_schema ()) {
    if (!validate_locally (local_schema (), xml, error))
      return FALSE;
    flags = 0;
  }
  d = virDomainDefineXMLFlags (c->v, xml, flags);

  if (d == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "define: %s", last_error ());
    return FALSE;
  }
  virDomainFree (d);
  return TRUE;
}

int
vdp_conn_is_active (struct vdp_conn *c, const char *name, GError **error)
{
  virDomainPtr d = lookup (c, name, error);
  int active;

  if (d == NULL)
    return -1;
  active = virDomainIsActive (d);
  virDomainFree (d);
  return active;
}

/* ---- live placement ---------------------------------------------------- */

/* How many CPUs the host has: the larger of the CPU map and the node info
 * (the test driver's map is fixed at 8 CPUs while its pins follow its node
 * info). */
static int
host_cpus (struct vdp_conn *c)
{
  int n = g_atomic_int_get (&c->ncpus);
  virNodeInfo info;

  /* two round trips to the host: asked once per connection, not per pin;
   * workers racing here compute the same value */
  if (n > 0)
    return n;
  n = virNodeGetCPUMap (c->v, NULL, NULL, 0);
  if (virNodeGetInfo (c->v, &info) == 0)
    n = MAX (n, (int) VIR_NODEINFO_MAXCPUS (info));
  n = n > 0 ? n : 1024;
  g_atomic_int_set (&c->ncpus, n);
  return n;
}

static unsigned char *
to_cpumap (hwloc_const_bitmap_t set, int ncpus, int *maplen)
{
  unsigned char *map;
  int pu;

  *maplen = VIR_CPU_MAPLEN (ncpus);
  map = g_malloc0 ((gsize) *maplen);
  hwloc_bitmap_foreach_begin (pu, set)
    if (pu < ncpus)
      VIR_USE_CPU (map, pu);
  hwloc_bitmap_foreach_end ();
  return map;
}

static hwloc_bitmap_t
from_cpumap (const unsigned char *map, int maplen)
{
  hwloc_bitmap_t set = hwloc_bitmap_alloc ();

  for (int pu = 0; pu < maplen * 8; pu++)
    if (VIR_CPU_USABLE (map, maplen, 0, pu))
      hwloc_bitmap_set (set, (unsigned) pu);
  return set;
}

void
vdp_live_pins_clear (struct vdp_live_pins *p)
{
  for (unsigned i = 0; p->vcpus && i < p->n_vcpus; i++)
    hwloc_bitmap_free (p->vcpus[i]);
  for (unsigned i = 0; p->iothreads && i < p->n_iothreads; i++)
    hwloc_bitmap_free (p->iothreads[i]);
  g_free (p->vcpus);
  g_free (p->iothreads);
  g_free (p->iothread_ids);
  hwloc_bitmap_free (p->emulator);
  memset (p, 0, sizeof (*p));
}

gboolean
vdp_conn_get_live_pins (struct vdp_conn *c, const char *name, struct vdp_live_pins *out,
                        GError **error)
{
  virDomainPtr d = lookup (c, name, error);
  int ncpus = host_cpus (c), maplen = VIR_CPU_MAPLEN (ncpus), n;
  virDomainInfo info;
  g_autofree unsigned char *maps = NULL;
  virDomainIOThreadInfoPtr *io = NULL;
  gboolean ok = FALSE;

  memset (out, 0, sizeof (*out));
  if (d == NULL)
    return FALSE;
  if (virDomainGetInfo (d, &info) < 0)
    goto out;
  maps = g_malloc0 ((gsize) maplen * info.nrVirtCpu);
  n = virDomainGetVcpuPinInfo (d, info.nrVirtCpu, maps, maplen, VIR_DOMAIN_AFFECT_LIVE);
  if (n < 0)
    goto out;
  out->n_vcpus = (unsigned) n;
  out->vcpus = g_new0 (hwloc_bitmap_t, MAX (n, 1));
  for (int i = 0; i < n; i++)
    out->vcpus[i] = from_cpumap (maps + (gsize) i * maplen, maplen);
  memset (maps, 0, (gsize) maplen);
  if (virDomainGetEmulatorPinInfo (d, maps, maplen, VIR_DOMAIN_AFFECT_LIVE) < 0)
    goto out;
  out->emulator = from_cpumap (maps, maplen);
  n = virDomainGetIOThreadInfo (d, &io, VIR_DOMAIN_AFFECT_LIVE);
  if (n < 0)
    goto out;
  out->n_iothreads = (unsigned) n;
  out->iothread_ids = g_new0 (unsigned, MAX (n, 1));
  out->iothreads = g_new0 (hwloc_bitmap_t, MAX (n, 1));
  for (int i = 0; i < n; i++) {
    out->iothread_ids[i] = io[i]->iothread_id;
    out->iothreads[i] = from_cpumap (io[i]->cpumap, io[i]->cpumaplen);
    virDomainIOThreadInfoFree (io[i]);
  }
  free (io);
  ok = TRUE;
 out:
  if (!ok) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "read live pins of '%s': %s", name,
                 last_error ());
    vdp_live_pins_clear (out);
  }
  virDomainFree (d);
  return ok;
}

/* Adds (@add) or removes IOThread @id of running domain @name. */
static gboolean
change_iothread (struct vdp_conn *c, const char *name, unsigned id, gboolean add, GError **error)
{
  virDomainPtr d = lookup (c, name, error);
  g_autofree char *why = NULL;
  int rc;

  if (d == NULL)
    return FALSE;
  rc = add ? virDomainAddIOThread (d, id, VIR_DOMAIN_AFFECT_LIVE)
           : virDomainDelIOThread (d, id, VIR_DOMAIN_AFFECT_LIVE);
  why = error_then_free (rc, d);
  if (rc < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "%s IOThread %u %s '%s': %s",
                 add ? "add" : "remove", id, add ? "to" : "from", name, why);
    return FALSE;
  }
  return TRUE;
}

gboolean
vdp_conn_add_iothread (struct vdp_conn *c, const char *name, unsigned id, GError **error)
{
  return change_iothread (c, name, id, TRUE, error);
}

gboolean
vdp_conn_del_iothread (struct vdp_conn *c, const char *name, unsigned id, GError **error)
{
  return change_iothread (c, name, id, FALSE, error);
}

hwloc_bitmap_t
vdp_conn_all_cpus (struct vdp_conn *c)
{
  hwloc_bitmap_t all = hwloc_bitmap_alloc ();

  hwloc_bitmap_set_range (all, 0, host_cpus (c) - 1);
  return all;
}

unsigned long
vdp_conn_library_version (void)
{
  unsigned long v = 0;

  if (virGetVersion (&v, NULL, NULL) < 0)
    v = LIBVIR_VERSION_NUMBER;
  return v;
}

/* What a pin call looks like; 0 on success. */
typedef int (*pin_fn) (virDomainPtr d, unsigned id, unsigned char *map, int maplen);

static int
pin_vcpu (virDomainPtr d, unsigned id, unsigned char *map, int maplen)
{
  /* no flags: the running guest (the test driver accepts no others) */
  return virDomainPinVcpu (d, id, map, maplen);
}

static int
pin_emulator (virDomainPtr d, unsigned id, unsigned char *map, int maplen)
{
  return virDomainPinEmulator (d, map, maplen, VIR_DOMAIN_AFFECT_LIVE);
}

static int
pin_iothread (virDomainPtr d, unsigned id, unsigned char *map, int maplen)
{
  return virDomainPinIOThread (d, id, map, maplen, VIR_DOMAIN_AFFECT_LIVE);
}

static gboolean
pin (struct vdp_conn *c, const char *name, pin_fn fn, const char *what, unsigned id,
     hwloc_const_bitmap_t set, GError **error)
{
  virDomainPtr d = lookup (c, name, error);
  int ncpus = host_cpus (c), maplen, rc;
  g_autofree unsigned char *map = NULL;
  g_autofree char *why = NULL;

  if (d == NULL)
    return FALSE;
  if (hwloc_bitmap_last (set) >= ncpus) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME,
                 "pin %s of '%s': CPU %d does not exist on '%s' (%d CPUs): plan with that "
                 "host's topology", what, name, hwloc_bitmap_last (set), c->uri, ncpus);
    virDomainFree (d);
    return FALSE;
  }
  map = to_cpumap (set, ncpus, &maplen);
  rc = fn (d, id, map, maplen);
  why = error_then_free (rc, d);
  if (rc < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "pin %s of '%s': %s", what, name, why);
    return FALSE;
  }
  return TRUE;
}

gboolean
vdp_conn_pin_vcpu (struct vdp_conn *c, const char *name, unsigned vcpu,
                   hwloc_const_bitmap_t set, GError **error)
{
  return pin (c, name, pin_vcpu, "vCPU", vcpu, set, error);
}

gboolean
vdp_conn_pin_emulator (struct vdp_conn *c, const char *name, hwloc_const_bitmap_t set,
                       GError **error)
{
  return pin (c, name, pin_emulator, "emulator", 0, set, error);
}

gboolean
vdp_conn_pin_iothread (struct vdp_conn *c, const char *name, unsigned id,
                       hwloc_const_bitmap_t set, GError **error)
{
  return pin (c, name, pin_iothread, "IOThread", id, set, error);
}

char *
vdp_conn_qemu_pidfile (const struct vdp_conn *c, const char *name)
{
  g_autoptr (GUri) u = g_uri_parse (c->uri, G_URI_FLAGS_NONE, NULL);
  const char *path, *query;

  if (u == NULL || g_strcmp0 (g_uri_get_scheme (u), "qemu") != 0)
    return NULL;
  path = g_uri_get_path (u);
  query = g_uri_get_query (u);
  if (g_strcmp0 (path, "/system") == 0)
    return g_strdup_printf ("/run/libvirt/qemu/%s.pid", name);
  if (g_strcmp0 (path, "/session") == 0)
    return g_strdup_printf ("%s/libvirt/qemu/run/%s.pid", g_get_user_runtime_dir (), name);
  if (g_strcmp0 (path, "/embed") == 0 && query) {
    g_autoptr (GHashTable) params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, NULL);
    const char *root = params ? g_hash_table_lookup (params, "root") : NULL;
    if (root)
      return g_strdup_printf ("%s/run/qemu/%s.pid", root, name);
  }
  return NULL;
}

/* ---- the host behind the connection ------------------------------------ */

const char *
vdp_conn_driver (const struct vdp_conn *c)
{
  const char *t = virConnectGetType (c->v);
  return t ? t : "unknown";
}

gboolean
vdp_conn_is_test (const struct vdp_conn *c)
{
  return c->test;
}

gboolean
vdp_conn_node_info (struct vdp_conn *c, struct vdp_node_info *out, GError **error)
{
  virNodeInfo info;

  memset (out, 0, sizeof (*out));
  if (virNodeGetInfo (c->v, &info) < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "node info of '%s': %s", c->uri,
                 last_error ());
    return FALSE;
  }
  g_strlcpy (out->model, info.model, sizeof (out->model));
  out->memory_kib = info.memory;
  out->cpus = info.cpus;
  out->mhz = info.mhz;
  out->nodes = info.nodes;
  out->sockets = info.sockets;
  out->cores = info.cores;
  out->threads = info.threads;
  return TRUE;
}

/* A string libvirt allocated, as a GLib string; NULL with @error set
 * naming @what when libvirt returned none. */
static char *
take_string (const struct vdp_conn *c, char *s, const char *what, GError **error)
{
  char *ret;

  if (s == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "%s of '%s': %s", what, c->uri,
                 last_error ());
    return NULL;
  }
  ret = g_strdup (s);
  free (s);
  return ret;
}

char *
vdp_conn_capabilities (struct vdp_conn *c, GError **error)
{
  return take_string (c, virConnectGetCapabilities (c->v), "capabilities", error);
}

char *
vdp_conn_hostname (struct vdp_conn *c, GError **error)
{
  return take_string (c, virConnectGetHostname (c->v), "hostname", error);
}

int
vdp_conn_cells_free_memory (struct vdp_conn *c, guint64 *free_mem, int max)
{
  g_autofree unsigned long long *v = g_new0 (unsigned long long, MAX (max, 1));
  int n = max > 0 ? virNodeGetCellsFreeMemory (c->v, v, 0, max) : -1;

  for (int i = 0; i < n; i++)
    free_mem[i] = v[i];
  return n < 0 ? -1 : n;
}

GPtrArray *
vdp_conn_node_devices (struct vdp_conn *c, const char *cap, GError **error)
{
  static const struct { const char *name; unsigned flag; } caps[] = {
    { "storage", VIR_CONNECT_LIST_NODE_DEVICES_CAP_STORAGE },
    { "pci", VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV },
  };
  virNodeDevicePtr *devs = NULL;
  unsigned flags = 0;
  GPtrArray *out;
  int n;

  for (size_t i = 0; i < G_N_ELEMENTS (caps); i++)
    if (strcmp (cap, caps[i].name) == 0)
      flags = caps[i].flag;
  n = virConnectListAllNodeDevices (c->v, &devs, flags);
  if (n < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "list node devices of '%s': %s", c->uri,
                 last_error ());
    return NULL;
  }
  out = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; i < n; i++) {
    char *xml = virNodeDeviceGetXMLDesc (devs[i], 0);
    if (xml)
      g_ptr_array_add (out, g_strdup (xml));
    free (xml);
    virNodeDeviceFree (devs[i]);
  }
  free (devs);
  return out;
}

char *
vdp_conn_node_device_xml (struct vdp_conn *c, const char *name, GError **error)
{
  virNodeDevicePtr d = virNodeDeviceLookupByName (c->v, name);
  char *xml;

  if (d == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "node device '%s' of '%s': %s", name,
                 c->uri, last_error ());
    return NULL;
  }
  xml = virNodeDeviceGetXMLDesc (d, 0);
  virNodeDeviceFree (d);
  return take_string (c, xml, "node device", error);
}

gboolean
vdp_conn_volume_by_path (struct vdp_conn *c, const char *path, char **vol_xml, char **pool_xml)
{
  virStorageVolPtr v = virStorageVolLookupByPath (c->v, path);
  virStoragePoolPtr p;

  *vol_xml = *pool_xml = NULL;
  if (v == NULL)
    return FALSE;
  *vol_xml = take_string (c, virStorageVolGetXMLDesc (v, 0), "volume", NULL);
  p = virStoragePoolLookupByVolume (v);
  if (p) {
    *pool_xml = take_string (c, virStoragePoolGetXMLDesc (p, 0), "pool", NULL);
    virStoragePoolFree (p);
  }
  virStorageVolFree (v);
  return *vol_xml != NULL;
}

GPtrArray *
vdp_conn_pools (struct vdp_conn *c)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  virStoragePoolPtr *pools = NULL;
  int n = virConnectListAllStoragePools (c->v, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);

  for (int i = 0; i < n; i++) {
    char *xml = virStoragePoolGetXMLDesc (pools[i], 0);
    if (xml)
      g_ptr_array_add (out, g_strdup (xml));
    free (xml);
    virStoragePoolFree (pools[i]);
  }
  free (pools);
  return out;
}

/* ---- running domains ----------------------------------------------------- */

GArray *
vdp_conn_get_vcpus (struct vdp_conn *c, const char *name, GError **error)
{
  virDomainPtr d = lookup (c, name, error);
  virDomainInfo info;
  g_autofree virVcpuInfoPtr v = NULL;
  GArray *out;
  int n = -1;

  if (d == NULL)
    return NULL;
  if (virDomainGetInfo (d, &info) == 0) {
    v = g_new0 (virVcpuInfo, MAX (info.nrVirtCpu, 1));
    n = virDomainGetVcpus (d, v, (int) info.nrVirtCpu, NULL, 0);
  }
  if (n < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "read the vCPUs of '%s': %s", name,
                 last_error ());
    virDomainFree (d);
    return NULL;
  }
  virDomainFree (d);
  out = g_array_sized_new (FALSE, TRUE, sizeof (struct vdp_vcpu_info), (guint) n);
  for (int i = 0; i < n; i++) {
    struct vdp_vcpu_info vi = {
      .number = v[i].number, .state = v[i].state, .cpu = v[i].cpu, .time_ns = v[i].cpuTime,
    };
    g_array_append_val (out, vi);
  }
  return out;
}

static GVariant *
param_value (const virTypedParameter *p)
{
  switch (p->type) {
  case VIR_TYPED_PARAM_INT: return g_variant_new_int64 (p->value.i);
  case VIR_TYPED_PARAM_UINT: return g_variant_new_uint64 (p->value.ui);
  case VIR_TYPED_PARAM_LLONG: return g_variant_new_int64 (p->value.l);
  case VIR_TYPED_PARAM_ULLONG: return g_variant_new_uint64 (p->value.ul);
  case VIR_TYPED_PARAM_DOUBLE: return g_variant_new_double (p->value.d);
  case VIR_TYPED_PARAM_BOOLEAN: return g_variant_new_boolean (p->value.b);
  case VIR_TYPED_PARAM_STRING: return g_variant_new_string (p->value.s ? p->value.s : "");
  default: return NULL;
  }
}

GHashTable *
vdp_conn_domain_stats (struct vdp_conn *c, const char *name, GError **error)
{
  virDomainPtr d = lookup (c, name, error);
  virDomainPtr doms[2] = { d, NULL };
  virDomainStatsRecordPtr *recs = NULL;
  g_autofree char *why = NULL;
  GHashTable *out;
  int n;

  if (d == NULL)
    return NULL;
  /* the groups the driver lacks are left out (no ENFORCE flag) */
  n = virDomainListGetStats (doms, VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL
                             | VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_IOTHREAD
                             | VIR_DOMAIN_STATS_BLOCK, &recs, 0);
  why = error_then_free (n, d);
  if (n < 0) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "read the statistics of '%s': %s", name,
                 why);
    return NULL;
  }
  out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
  for (int i = 0; i < n; i++)
    for (int k = 0; k < recs[i]->nparams; k++) {
      GVariant *v = param_value (&recs[i]->params[k]);
      if (v)
        g_hash_table_insert (out, g_strdup (recs[i]->params[k].field), g_variant_ref_sink (v));
    }
  virDomainStatsRecordListFree (recs);
  return out;
}
