/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsing and printing of libvirt cpusets over hwloc bitmaps. */
#include <config.h>

#include <errno.h>

#include "cpuset.h"
#include "error.h"

static const char *
skip_blanks (const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* Reads an unsigned number at *p; returns FALSE when there is none or it is
 * larger than VDP_CPUSET_MAX. */
static gboolean
read_number (const char **p, unsigned *out, gboolean *too_big)
{
  const char *s = *p;
  guint64 v = 0;

  *too_big = FALSE;
  if (!g_ascii_isdigit (*s))
    return FALSE;
  while (g_ascii_isdigit (*s)) {
    v = v * 10 + (guint64) (*s - '0');
    if (v > VDP_CPUSET_MAX)
      *too_big = TRUE;
    s++;
  }
  *p = s;
  *out = (unsigned) MIN (v, (guint64) VDP_CPUSET_MAX + 1);
  return !*too_big;
}

hwloc_bitmap_t
vdp_cpuset_parse (const char *str, GError **error)
{
  hwloc_bitmap_t set;
  const char *p;

  if (str == NULL || *skip_blanks (str) == '\0') {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "cannot parse cpuset '%s': it is empty", str ? str : "");
    return NULL;
  }

  set = hwloc_bitmap_alloc ();
  p = str;
  for (;;) {
    gboolean neg = FALSE, too_big;
    unsigned first, last;
    const char *item;

    p = skip_blanks (p);
    item = p;
    if (*p == '^') {
      neg = TRUE;
      p++;
    }
    if (!read_number (&p, &first, &too_big)) {
      if (too_big)
        g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                     "cannot parse cpuset '%s': CPU number above %u", str, VDP_CPUSET_MAX);
      else if (*item == ',' || *item == '\0')
        g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                     "cannot parse cpuset '%s': empty item", str);
      else
        g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                     "cannot parse cpuset '%s': expected a CPU number at '%s'", str, p);
      goto fail;
    }
    last = first;
    if (*p == '-') {
      if (neg) {
        g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                     "cannot parse cpuset '%s': a range cannot be excluded with '^'", str);
        goto fail;
      }
      p++;
      if (!read_number (&p, &last, &too_big)) {
        if (too_big)
          g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                       "cannot parse cpuset '%s': CPU number above %u", str, VDP_CPUSET_MAX);
        else
          g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                       "cannot parse cpuset '%s': range without an end at '%s'", str, p);
        goto fail;
      }
      if (last < first) {
        g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                     "cannot parse cpuset '%s': range %u-%u ends before it starts",
                     str, first, last);
        goto fail;
      }
    }
    if (neg)
      hwloc_bitmap_clr (set, first);
    else
      hwloc_bitmap_set_range (set, first, last);

    p = skip_blanks (p);
    if (*p == '\0')
      break;
    if (*p != ',') {
      g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                   "cannot parse cpuset '%s': unexpected '%c'", str, *p);
      goto fail;
    }
    p++;
  }

  if (hwloc_bitmap_iszero (set)) {
    g_set_error (error, VDP_ERROR, VDP_ERROR_INPUT,
                 "cannot parse cpuset '%s': it selects no CPU", str);
    goto fail;
  }
  return set;

 fail:
  hwloc_bitmap_free (set);
  return NULL;
}

static void
append_uint (GString *out, unsigned v)
{
  char buf[12];
  int i = (int) sizeof (buf);

  do {
    buf[--i] = (char) ('0' + v % 10);
    v /= 10;
  } while (v);
  g_string_append_len (out, buf + i, (gssize) sizeof (buf) - i);
}

char *
vdp_cpuset_format (hwloc_const_bitmap_t set)
{
  GString *out;
  int i, first = -1, last = -1;

  if (set == NULL || hwloc_bitmap_iszero (set))
    return g_strdup ("");
  g_return_val_if_fail (hwloc_bitmap_weight (set) >= 0, g_strdup (""));
  /* runs of consecutive numbers as "a-b", joined by commas: libvirt's form */
  out = g_string_sized_new (16);
  for (i = hwloc_bitmap_first (set);; i = hwloc_bitmap_next (set, i)) {
    if (i >= 0 && i == last + 1 && first >= 0) {
      last = i;
      continue;
    }
    if (first >= 0) {
      if (out->len)
        g_string_append_c (out, ',');
      append_uint (out, (unsigned) first);
      if (last > first) {
        g_string_append_c (out, '-');
        append_uint (out, (unsigned) last);
      }
    }
    if (i < 0)
      break;
    first = last = i;
  }
  return g_string_free (out, FALSE);
}
