/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What status shows of a running guest's virt-dataplane-blk backends: process, workers, counters. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libxml/tree.h>

/* Reads the backends the domain @doc (its live XML) records, their runtime
 * state on this host and a first sample of their threads.  Returns a
 * GPtrArray (empty when the domain has no backends). */
GPtrArray *vdp_backend_views_begin (xmlDocPtr doc, const char *uuid);

/* The second sample, @interval seconds after the first: CPU% of each
 * thread. */
void vdp_backend_views_end (GPtrArray *views, double interval);

/* Appends the text lines of status, one per backend and worker. */
void vdp_backend_views_text (GString *out, GPtrArray *views);

/* Adds the member "backends" (an array) to the JSON object @b is in. */
void vdp_backend_views_json (JsonBuilder *b, GPtrArray *views);
