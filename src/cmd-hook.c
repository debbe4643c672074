/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "virt-dataplane hook": libvirt's qemu hook; starts and stops the virt-dataplane-blk backends of a domain. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend-conf.h"
#include "backend.h"
#include "commands.h"
#include "domain.h"
#include "runtime.h"
#include "util/cleanup.h"
#include "util/error.h"

/* libvirt hands over the whole domain XML; more than this is not a domain. */
#define MAX_XML (64u << 20)

enum {
  OPT_EXEC_BACKEND = VDP_OPT_COMMAND_BASE,
};

static const struct option options[] = {
  VDP_GLOBAL_LONGOPTS,
  { "exec-backend", required_argument, NULL, OPT_EXEC_BACKEND },
  { NULL, 0, NULL, 0 },
};

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage:\n"
           " %s hook [--] <domain> <operation> <sub-operation> <extra>  < domain.xml\n"
           "\n"
           "The qemu hook libvirt runs (installed in libvirt's hooks/qemu.d): start the\n"
           "virt-dataplane-blk backends recorded in the domain XML given on standard input at\n"
           "'prepare begin', 'migrate begin' and 'restore begin' (which pass the XML through),\n"
           "restart missing ones at 'reconnect begin', stop them at 'release end'.\n"
           "Anything else, and domains without backends: nothing, at once.\n"
           "\n"
           "Options:\n"
           " --exec-backend <file>        run the backend of a systemd unit (its entry point)\n"
           "\n"
           " -h, --help                   display this help\n"
           " -V, --version                display version\n"
           "\n"
           "For more details see virt-dataplane(1).\n", PACKAGE_NAME);
}

static gboolean
handle (int opt, const char *arg, void *data, GError **error)
{
  if (opt == OPT_EXEC_BACKEND) {
    *(const char **) data = arg;
    return TRUE;
  }
  g_set_error (error, VDP_ERROR, VDP_ERROR_USAGE, "unhandled option");
  return FALSE;
}

/* Reads standard input to its end; NULL with @error set past MAX_XML. */
static char *
read_stdin (gsize *len, GError **error)
{
  g_autoptr (GString) s = g_string_sized_new (16384);
  char buf[65536];
  ssize_t n;

  while ((n = read (STDIN_FILENO, buf, sizeof (buf))) != 0) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "cannot read the domain XML: %s",
                   g_strerror (errno));
      return NULL;
    }
    if (s->len + (gsize) n > MAX_XML) {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT, "the domain XML is larger than %u MiB",
                   MAX_XML >> 20);
      return NULL;
    }
    g_string_append_len (s, buf, n);
  }
  *len = s->len;
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* <uuid> of the document, lower case, or NULL. */
static char *
doc_uuid (xmlDocPtr doc)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);

  for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && c->ns == NULL && strcmp ((const char *) c->name, "uuid") == 0) {
      g_autoptr (xmlChar) text = xmlNodeGetContent (c);
      g_autofree char *s = text ? g_strstrip (g_strdup ((const char *) text)) : NULL;
      return s ? g_ascii_strdown (s, -1) : NULL;
    }
  return NULL;
}

typedef enum { OP_NONE, OP_START, OP_FILTER, OP_RECONNECT, OP_RELEASE } HookOp;

static HookOp
classify (const char *op, const char *subop)
{
  if (strcmp (op, "prepare") == 0 && strcmp (subop, "begin") == 0)
    return OP_START;
  if ((strcmp (op, "migrate") == 0 || strcmp (op, "restore") == 0) && strcmp (subop, "begin") == 0)
    return OP_FILTER;
  if (strcmp (op, "reconnect") == 0 && strcmp (subop, "begin") == 0)
    return OP_RECONNECT;
  if (strcmp (op, "release") == 0 && strcmp (subop, "end") == 0)
    return OP_RELEASE;
  return OP_NONE;
}

static int
fail (const struct vdp_globals *g, const char *name, const char *op, const GError *err)
{
  fprintf (stderr, "%s hook: domain '%s': %s: %s\n", g->prog, name, op, err->message);
  return VDP_EXIT_ERROR;    /* non-zero: libvirt fails the operation */
}

static int
run (struct vdp_globals *g, int argc, char **argv)
{
  const char *exec_backend = NULL, *name, *op;
  g_autoptr (GError) err = NULL;
  g_autofree char *xml = NULL, *uuid = NULL;
  g_autoptr (xmlDoc) doc = NULL;
  g_autoptr (vdp_backend_conf) conf = NULL;
  g_autoptr (GPtrArray) disks = NULL;
  struct vdp_runtime_ident who;
  gsize len = 0;
  HookOp kind;
  int first, rc;

  rc = vdp_parse_options (g, "hook", argc, argv, "", options, usage, handle, &exec_backend,
                          &first);
  if (rc != VDP_PARSE_CONTINUE)
    return rc;
  if (exec_backend) {
    conf = vdp_backend_conf_load (NULL, &err);
    if (conf == NULL || !vdp_runtime_exec_from_unit (conf, exec_backend, &err)) {
      vdp_error_print (g->prog, err);
      return VDP_EXIT_ERROR;
    }
    return VDP_EXIT_OK;   /* not reached: it runs the backend */
  }
  if (argc - first != 4) {
    vdp_usage_error (g, "hook", "expected the 4 arguments libvirt passes: <domain> <operation> "
                     "<sub-operation> <extra>");
    return VDP_EXIT_USAGE;
  }
  name = argv[first];
  op = argv[first + 1];
  kind = classify (op, argv[first + 2]);
  /* libvirt writes the XML whatever the call; take it all, then decide */
  xml = read_stdin (&len, &err);
  if (xml == NULL)
    return kind == OP_START || kind == OP_FILTER ? fail (g, name, op, err) : VDP_EXIT_OK;
  if (kind == OP_NONE)
    return VDP_EXIT_OK;
  if (strstr (xml, VDP_XMLNS) == NULL) {
    /* no backend of ours: filters pass the XML through, the rest is a no-op */
    return kind == OP_FILTER ? vdp_print_output (g, xml) : VDP_EXIT_OK;
  }

  doc = vdp_xml_read_memory (xml, name, &err);
  uuid = doc ? doc_uuid (doc) : NULL;
  if (doc && uuid == NULL)
    g_set_error (&err, VDP_ERROR, VDP_ERROR_INPUT, "the domain XML has no <uuid>");
  if (kind == OP_RELEASE) {
    /* whatever the XML says now: stop what runs for this domain */
    g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
    conf = vdp_backend_conf_load (NULL, NULL);
    if (conf == NULL || uuid == NULL)
      return VDP_EXIT_OK;
    vdp_runtime_stop (conf, uuid, warnings);
    for (guint i = 0; i < warnings->len; i++)
      fprintf (stderr, "%s hook: domain '%s': release: %s\n", g->prog, name,
               (char *) warnings->pdata[i]);
    return VDP_EXIT_OK;
  }
  if (uuid)
    disks = vdp_backend_records_parse (doc, &err);
  if (disks && disks->len)
    conf = vdp_backend_conf_load (NULL, &err);
  if (disks && disks->len && conf && vdp_runtime_ident (conf, doc, &who, &err))
    vdp_runtime_start (conf, name, uuid, disks, &who, &err);
  if (err) {
    if (kind == OP_RECONNECT) {
      /* a failing reconnect hook makes libvirtd kill the guest */
      fprintf (stderr, "%s hook: domain '%s': %s: %s (the guest keeps running)\n", g->prog, name,
               op, err->message);
      return VDP_EXIT_OK;
    }
    return fail (g, name, op, err);
  }
  return kind == OP_FILTER ? vdp_print_output (g, xml) : VDP_EXIT_OK;
}

const struct vdp_command vdp_cmd_hook = {
  .name = "hook",
  .summary = "libvirt's qemu hook: start and stop virt-dataplane-blk backends",
  .run = run,
};
