/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* g_auto cleanup declarations for the C libraries virt-dataplane uses. */
#pragma once

#include <glib.h>
#include <hwloc.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

/* g_auto (VdpBitmap) bm = hwloc_bitmap_alloc (); */
typedef hwloc_bitmap_t VdpBitmap;
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (VdpBitmap, hwloc_bitmap_free, NULL)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlBuffer, xmlBufferFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlXPathObject, xmlXPathFreeObject)

/* g_autoptr (xmlChar) for strings libxml2 returns. */
static inline void
vdp_xml_char_free (xmlChar *s)
{
  xmlFree (s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlChar, vdp_xml_char_free)
