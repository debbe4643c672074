/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the C tests: source-tree data paths, schema validation, planning a document. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>

#include "domain.h"
#include "vdp-test.h"
#include "xmlpatch.h"

char *
vdp_test_data (const char *rel)
{
  const char *dir = g_getenv ("VDP_SRCDIR");
  return g_build_filename (dir ? dir : ".", rel, NULL);
}

xmlRelaxNGPtr
vdp_test_schema_load (const char *path)
{
  xmlRelaxNGParserCtxtPtr pctx = xmlRelaxNGNewParserCtxt (path);
  xmlRelaxNGPtr schema = xmlRelaxNGParse (pctx);

  xmlRelaxNGFreeParserCtxt (pctx);
  if (schema == NULL) {
    fprintf (stderr, "cannot load schema %s\n", path);
    abort ();
  }
  return schema;
}

static void
collect_error (void *data, const char *fmt, ...)
{
  GString *s = data;
  va_list ap;

  if (s->len)
    return;   /* the first error is enough */
  va_start (ap, fmt);
  g_string_append_vprintf (s, fmt, ap);
  va_end (ap);
}

static void
ignore_warning (void *data, const char *fmt, ...)
{
}

gboolean
vdp_test_schema_valid (xmlRelaxNGPtr schema, xmlDocPtr doc, char **why)
{
  xmlRelaxNGValidCtxtPtr vctx = xmlRelaxNGNewValidCtxt (schema);
  GString *err = g_string_new (NULL);
  int rc;

  xmlRelaxNGSetValidErrors (vctx, collect_error, ignore_warning, err);
  rc = xmlRelaxNGValidateDoc (vctx, doc);
  xmlRelaxNGFreeValidCtxt (vctx);
  if (why && rc != 0)
    *why = g_string_free (err, FALSE);
  else
    g_string_free (err, TRUE);
  return rc == 0;
}

xmlDocPtr *
vdp_test_plan_docs (const struct vdp_topology *topo, const struct vdp_policy *policy,
                    const struct vdp_caps *caps, xmlDocPtr *docs, unsigned n,
                    struct vdp_plan **plan_out, struct vdp_domain ***doms_out, GError **error)
{
  struct vdp_domain **doms = g_new0 (struct vdp_domain *, n);
  g_autofree struct vdp_plan_input *in = g_new0 (struct vdp_plan_input, n);
  xmlDocPtr *out = NULL;
  struct vdp_plan *plan = NULL;

  for (unsigned i = 0; i < n; i++) {
    doms[i] = vdp_domain_parse (docs[i], "test", error);
    if (doms[i] == NULL)
      goto fail;
    in[i].dom = doms[i];
  }
  plan = vdp_plan_compute (topo, policy, caps, in, n, error);
  if (plan == NULL)
    goto fail;
  out = g_new0 (xmlDocPtr, n);
  for (unsigned i = 0; i < n; i++) {
    out[i] = xmlCopyDoc (docs[i], 1);
    if (vdp_xmlpatch_apply (out[i], plan, &plan->domains[i], error) < 0) {
      for (unsigned k = 0; k <= i; k++)
        xmlFreeDoc (out[k]);
      g_clear_pointer (&out, g_free);
      goto fail;
    }
  }
  *plan_out = plan;
  *doms_out = doms;
  return out;

 fail:
  vdp_plan_free (plan);
  for (unsigned i = 0; i < n; i++)
    vdp_domain_free (doms[i]);
  g_free (doms);
  return NULL;
}
