/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Corpus test: every domain of tests/data/corpus (from libvirt's test suite) planned on several
 * topologies: no crash, schema-valid in gives schema-valid out, planning the
 * output again changes nothing, nothing outside the owned elements moves, and
 * vdp_xml_format() writes what libxml2 writes. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>

#include "domain.h"
#include "planner.h"
#include "topology.h"
#include "util/cleanup.h"
#include "vdp-test.h"
#include "xmlpatch.h"

static xmlRelaxNGPtr schema;

/* Removes what the planner owns, so the rest can be compared. */
static void
strip_owned (xmlNodePtr n, int depth)
{
  xmlNodePtr c, next;

  for (c = n->children; c; c = next) {
    const char *name = (const char *) c->name;
    next = c->next;
    if (c->type == XML_TEXT_NODE && xmlIsBlankNode (c)) {
      xmlUnlinkNode (c);
      xmlFreeNode (c);
      continue;
    }
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if ((c->ns && strcmp ((const char *) c->ns->href, VDP_XMLNS) == 0)
        || (depth == 0 && (!strcmp (name, "iothreads") || !strcmp (name, "iothreadids")
                           || !strcmp (name, "numatune")))
        || (!strcmp ((const char *) n->name, "cputune")
            && (!strcmp (name, "vcpupin") || !strcmp (name, "emulatorpin")
                || !strcmp (name, "iothreadpin")))
        || (!strcmp ((const char *) n->name, "cpu") && !strcmp (name, "numa"))
        || (!strcmp ((const char *) n->name, "driver") && !strcmp (name, "iothreads"))) {
      xmlUnlinkNode (c);
      xmlFreeNode (c);
      continue;
    }
    if (!strcmp (name, "vcpu"))
      xmlUnsetProp (c, (const xmlChar *) "placement");
    if (!strcmp (name, "driver")) {
      static const char *const owned[] = { "cache", "io", "queues", "iothread" };
      for (size_t i = 0; i < G_N_ELEMENTS (owned); i++)
        xmlUnsetProp (c, (const xmlChar *) owned[i]);
    }
    strip_owned (c, depth + 1);
    /* containers the planner may have created */
    if ((!strcmp (name, "metadata") || !strcmp (name, "cputune")
         || (!strcmp (name, "cpu") && c->properties == NULL)
         || (!strcmp (name, "driver") && (c->properties == NULL
             || (c->properties->next == NULL
                 && !strcmp ((const char *) c->properties->name, "name")))))
        && c->children == NULL) {
      xmlUnlinkNode (c);
      xmlFreeNode (c);
    }
  }
}

static char *
stripped (xmlDocPtr doc)
{
  g_autoptr (xmlDoc) copy = xmlCopyDoc (doc, 1);
  strip_owned (xmlDocGetRootElement (copy), 0);
  return vdp_xml_format (copy);
}

/* What libxml2 itself writes: vdp_xml_format() must give the same bytes. */
static char *
libxml_format (xmlDocPtr doc)
{
  xmlBufferPtr buf = xmlBufferCreate ();
  char *ret;

  for (xmlNodePtr n = doc->children; n; n = n->next) {
    if (n->type == XML_DTD_NODE)
      continue;
    xmlNodeDump (buf, doc, n, 0, 1);
    xmlBufferCCat (buf, "\n");
  }
  ret = g_strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  return ret;
}

static void
assert_same_format (xmlDocPtr doc, const char *what)
{
  g_autofree char *ours = vdp_xml_format (doc);
  g_autofree char *theirs = libxml_format (doc);

  if (strcmp (ours, theirs) != 0)
    fail_msg ("%s: vdp_xml_format differs from libxml2:\n%s\n---\n%s", what, ours, theirs);
}

struct setup {
  const char *topology;     /* saved topology file */
  const char *profile;
};

static const struct setup setups[] = {
  { "examples/topologies/24em64t-2n6c2t-pci.xml", "balanced" },
  { "examples/topologies/64amd64-4s2n4ca2co.xml", "throughput" },
  { "examples/topologies/192em64t-24n8c2t.xml", "latency" },
  { "examples/topologies/2amd64-kvm-guest.xml", "density" },
};

static void
run_setup (const struct setup *s, int *planned_out)
{
  g_autofree char *dir = vdp_test_data ("tests/data/corpus");
  g_autofree char *tpath = vdp_test_data (s->topology);
  g_autoptr (vdp_topology) topo = vdp_topology_load_xml (tpath, NULL);
  g_autoptr (vdp_policy) policy = vdp_policy_builtin (s->profile, NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  struct vdp_caps caps;
  const char *name;
  int files = 0, malformed = 0, planned = 0, valid_in = 0, refused = 0;

  assert_non_null (topo);
  assert_non_null (policy);
  assert_non_null (d);
  vdp_caps_from_versions (&caps, VDP_CAPS_NEWEST_LIBVIRT, VDP_CAPS_NEWEST_QEMU);

  while ((name = g_dir_read_name (d)) != NULL) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    g_autoptr (GError) err = NULL;
    g_autoptr (xmlDoc) doc = NULL;
    g_autoptr (xmlDoc) again = NULL;
    struct vdp_plan *plan = NULL, *plan2 = NULL;
    struct vdp_domain **doms = NULL, **doms2 = NULL;
    xmlDocPtr *out = NULL, *out2 = NULL;
    g_autofree char *text1 = NULL, *text2 = NULL, *s_in = NULL, *s_out = NULL, *why = NULL;
    gboolean in_valid;

    if (!g_str_has_suffix (name, ".xml"))
      continue;
    files++;
    doc = vdp_xml_read_file (path, &err);
    if (doc == NULL) {
      /* git symlink stubs in the corpus: a clean error, nothing else */
      assert_non_null (strstr (err->message, name));
      malformed++;
      continue;
    }
    in_valid = vdp_test_schema_valid (schema, doc, NULL);
    valid_in += in_valid;
    out = vdp_test_plan_docs (topo, policy, &caps, &doc, 1, &plan, &doms, &err);
    if (out == NULL) {
      /* only a dedicated profile may refuse, and only for lack of PUs */
      if (strstr (err->message, "do not fit") == NULL)
        fail_msg ("%s on %s/%s: %s", name, s->topology, s->profile, err->message);
      refused++;
      continue;
    }
    planned++;
    assert_same_format (doc, name);
    assert_same_format (out[0], name);
    text1 = vdp_xml_format (out[0]);
    if (in_valid && !vdp_test_schema_valid (schema, out[0], &why))
      fail_msg ("%s on %s/%s: output invalid: %s", name, s->topology, s->profile, why);

    /* second run: a no-op */
    again = xmlCopyDoc (out[0], 1);
    out2 = vdp_test_plan_docs (topo, policy, &caps, &again, 1, &plan2, &doms2, &err);
    if (out2 == NULL)
      fail_msg ("%s: second plan failed: %s", name, err->message);
    text2 = vdp_xml_format (out2[0]);
    if (strcmp (text1, text2) != 0)
      fail_msg ("%s on %s/%s: planning the output again changed it", name, s->topology,
                s->profile);

    /* nothing outside the owned elements changed */
    s_in = stripped (doc);
    s_out = stripped (out[0]);
    if (strcmp (s_in, s_out) != 0)
      fail_msg ("%s on %s/%s: something the planner does not own changed", name,
                s->topology, s->profile);

    xmlFreeDoc (out[0]);
    xmlFreeDoc (out2[0]);
    g_free (out);
    g_free (out2);
    vdp_plan_free (plan);
    vdp_plan_free (plan2);
    vdp_domain_free (doms[0]);
    vdp_domain_free (doms2[0]);
    g_free (doms);
    g_free (doms2);
  }
  print_message ("# %s/%s: %d files, %d malformed stubs, %d schema-valid, %d planned, "
                 "%d refused (dedicated PUs)\n", s->topology, s->profile, files, malformed,
                 valid_in, planned, refused);
  assert_true (files >= 250);   /* the whole corpus was read */
  assert_true (planned >= files - malformed - refused);
  *planned_out = planned;
}

static void
test_corpus (void **state)
{
  const struct setup *s = *state;
  int planned = 0;

  run_setup (s, &planned);
  assert_true (planned > 0);
}

/* What the fast writer leaves to libxml2, and what it writes itself. */
static void
test_format_edges (void **state)
{
  static const char *const docs[] = {
    "<domain><name>a&amp;b&lt;c&gt;\"'</name><description attr='x\"y&lt;&gt;&amp;\t\n'/></domain>",
    "<domain><description>caf\xc3\xa9 \xe2\x82\xac</description><title t='\xc3\xa9'/></domain>",
    "<domain><description><![CDATA[a <b> ]]></description></domain>",
    "<!-- before --><domain><!-- inside --><name>x</name><p>mixed <b>bold</b> text</p></domain>",
    "<?xml-stylesheet href='a'?><domain><?pi data?></domain>",
    "<domain xmlns:a='urn:a' xmlns='urn:d'><a:x a:y='1'><a:z/></a:x><metadata/></domain>",
    "<domain><name>cr&#13;lf</name><v a='&#13;'/></domain>",
    "<!DOCTYPE domain [<!ENTITY e 'ent'>]><domain><name>&e;</name></domain>",
    "<domain><a><b><c><d><e><f><g><h><i><j><k><l><m><n><o><p><q><r><s><t><u><v><w><x><y><z>"
    "<aa><bb><cc><dd><ee><ff/></ee></dd></cc></bb></aa></z></y></x></w></v></u></t></s></r></q>"
    "</p></o></n></m></l></k></j></i></h></g></f></e></d></c></b></a></domain>",
  };

  for (size_t i = 0; i < G_N_ELEMENTS (docs); i++) {
    g_autoptr (GError) err = NULL;
    g_autoptr (xmlDoc) doc = vdp_xml_read_memory (docs[i], "edge", &err);
    assert_non_null (doc);
    assert_same_format (doc, docs[i]);
  }
}

int
main (void)
{
  g_autofree char *rng = vdp_test_data ("tests/data/libvirt-schemas/domain.rng");
  struct CMUnitTest tests[G_N_ELEMENTS (setups) + 1];
  int rc;

  schema = vdp_test_schema_load (rng);
  for (size_t i = 0; i < G_N_ELEMENTS (setups); i++) {
    tests[i] = (struct CMUnitTest) cmocka_unit_test (test_corpus);
    tests[i].name = setups[i].topology;
    tests[i].initial_state = (void *) &setups[i];
  }
  tests[G_N_ELEMENTS (setups)] = (struct CMUnitTest) cmocka_unit_test (test_format_edges);
  rc = cmocka_run_group_tests_name ("corpus", tests, NULL, NULL);
  xmlRelaxNGFree (schema);
  return rc;
}
