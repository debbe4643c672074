/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hand edits of what virt-dataplane wrote: the owned elements as applied, recorded in the domain's metadata, compared with what the domain holds now. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "domain.h"

/* The tunable state of @dom, by meaning (cpusets parsed, attributes in
 * any order): one entry per item ("vcpupin 0" -> "0-6", "disk vda cache"
 * -> "none", ...), each under the metadata key of the element that holds
 * it ("cputune", "numatune", "iothreads", "iothreadids", "vcpu", "cpu",
 * "disk/vda/driver", "controller/scsi/0/driver").  A GHashTable from item
 * to "KEY\tVALUE" strings, owned by the caller. */
GHashTable *vdp_drift_state (const struct vdp_domain *dom);

/* Records in @doc's virt-dataplane metadata (after vdp_xmlpatch_apply())
 * the state of every element the metadata says virt-dataplane owns, as
 * @doc holds it, replacing an earlier record.  With @before (the domain
 * @doc was patched from) and @changed, *changed gets the keys of the owned
 * elements the patch changed, as vdp_drift_changed_keys() says them
 * (g_free).  FALSE with @error set when @doc cannot be parsed. */
gboolean vdp_drift_stamp (xmlDocPtr doc, const struct vdp_domain *before, char **changed,
                          GError **error);

/* Whether the owned elements of @doc still hold what the metadata
 * recorded when they were applied: appends one line per item that was
 * changed by hand since ("vcpupin 0 is '9', was applied as '0-6'") to
 * @changed and returns how many.  0 for a domain without a record (never
 * tuned, or tuned from plan's XML or by an older version: hand edits of
 * it cannot be told). */
unsigned vdp_drift_find (xmlDocPtr doc, GPtrArray *changed);

/* The metadata keys (sorted, comma-separated) of the owned elements whose
 * state differs between @before and @after ("cputune,disk/vda/driver"),
 * looking at the keys either document's metadata records; "" when none. */
char *vdp_drift_changed_keys (xmlDocPtr before, xmlDocPtr after);

/* Items whose values differ between @a and @b (two vdp_drift_state()s),
 * restricted to @only_keys (NULL: all): one line each, "ITEM: A here,
 * B there", with @a_name and @b_name for "here" and "there". */
void vdp_drift_compare (GHashTable *a, GHashTable *b, const char *a_name, const char *b_name,
                        GHashTable *only_keys, GPtrArray *lines);
