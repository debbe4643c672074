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
#include "util/error.h"

struct vdp_conn {
  char *key;                /* the URI as given ("" for the default) */
  char *uri;
  virConnectPtr v;
  gboolean test;
  gboolean local_schema;    /* validate with the local libvirt's schema, in-process */
  int refs;
};

static GMutex cache_lock;
static GHashTable *cache;   /* key -> struct vdp_conn */

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

struct vdp_conn *
vdp_conn_open (const char *uri, GError **error)
{
  const char *key = uri ? uri : "";
  struct vdp_conn *c;
  char *real;

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
  c = g_new0 (struct vdp_conn, 1);
  c->v = virConnectOpen (uri);
  if (c->v == NULL) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_RUNTIME, "cannot connect to '%s': %s",
                 uri ? uri : "(default)", last_error ());
    g_free (c);
    g_mutex_unlock (&cache_lock);
    return NULL;
  }
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
  g_hash_table_insert (cache, c->key, c);
  g_mutex_unlock (&cache_lock);
  return c;
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

gboolean
vdp_conn_is_test (const struct vdp_conn *c)
{
  return c->test;
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
}

static int
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

GPtrArray *
vdp_conn_list (struct vdp_conn *c, gboolean running_only, GError **error)
{
  virDomainPtr *doms = NULL;
  unsigned flags = VIR_CONNECT_LIST_DOMAINS_PERSISTENT
                   | (running_only ? VIR_CONNECT_LIST_DOMAINS_ACTIVE : 0);
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
