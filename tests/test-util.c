/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of src/util: cpuset parsing and printing, errors, JSON helpers. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/cleanup.h"
#include "util/cpuset.h"
#include "util/error.h"
#include "util/json.h"

/* Input → the canonical form libvirt would print. */
static const struct { const char *in, *out; } good_cpusets[] = {
  { "0", "0" },
  { "7", "7" },
  { "0-3", "0-3" },
  { "0-3,8", "0-3,8" },
  { "0-3,8,^2", "0-1,3,8" },
  { "0,1,2,3", "0-3" },
  { "3,2,1,0", "0-3" },
  { " 1, 5 ", "1,5" },
  { "0-7,^0,^7", "1-6" },
  { "^2,0-3", "0-3" },            /* applied in order, as libvirt does */
  { "2-2", "2" },
  { "65535", "65535" },
  { "0-1,64-65,128", "0-1,64-65,128" },
};

/* Input → a fragment the error message must contain. */
static const struct { const char *in, *why; } bad_cpusets[] = {
  { "", "empty" },
  { "   ", "empty" },
  { "x", "expected a CPU number" },
  { "0-3,x", "expected a CPU number" },
  { "0,,1", "empty item" },
  { "0,", "empty item" },
  { ",0", "empty item" },
  { "3-1", "ends before it starts" },
  { "0-", "range without an end" },
  { "-1", "expected a CPU number" },
  { "^0-3", "cannot be excluded" },
  { "0;1", "unexpected ';'" },
  { "0 1", "unexpected '1'" },
  { " 0 - 3 ", "unexpected '-'" },   /* libvirt allows no blanks inside a range */
  { "65536", "above 65535" },
  { "0-99999999999999999999", "above 65535" },
  { "0,^0", "selects no CPU" },
  { "^3", "selects no CPU" },
};

static void
test_cpuset_good (void **state)
{
  for (size_t i = 0; i < G_N_ELEMENTS (good_cpusets); i++) {
    g_autoptr (GError) err = NULL;
    g_auto (VdpBitmap) set = vdp_cpuset_parse (good_cpusets[i].in, &err);
    g_autofree char *s = NULL;

    if (set == NULL)
      fail_msg ("'%s' rejected: %s", good_cpusets[i].in, err->message);
    s = vdp_cpuset_format (set);
    assert_string_equal (s, good_cpusets[i].out);
  }
}

static void
test_cpuset_round_trip (void **state)
{
  /* Random sets: format then parse gives the same set back. */
  GRand *rand = g_rand_new_with_seed (42);

  for (int iter = 0; iter < 500; iter++) {
    g_auto (VdpBitmap) set = hwloc_bitmap_alloc ();
    g_auto (VdpBitmap) back = NULL;
    g_autoptr (GError) err = NULL;
    g_autofree char *s = NULL;
    int n = g_rand_int_range (rand, 1, 40);

    for (int k = 0; k < n; k++)
      hwloc_bitmap_set (set, (unsigned) g_rand_int_range (rand, 0, 300));
    s = vdp_cpuset_format (set);
    back = vdp_cpuset_parse (s, &err);
    assert_non_null (back);
    assert_true (hwloc_bitmap_isequal (set, back));
  }
  g_rand_free (rand);
}

static void
test_cpuset_bad (void **state)
{
  for (size_t i = 0; i < G_N_ELEMENTS (bad_cpusets); i++) {
    g_autoptr (GError) err = NULL;
    hwloc_bitmap_t set = vdp_cpuset_parse (bad_cpusets[i].in, &err);
    g_autofree char *quoted = g_strdup_printf ("'%s'", bad_cpusets[i].in);

    if (set != NULL)
      fail_msg ("'%s' accepted", bad_cpusets[i].in);
    assert_non_null (err);
    assert_int_equal (err->code, VDP_ERROR_INPUT);
    if (strstr (err->message, bad_cpusets[i].why) == NULL)
      fail_msg ("'%s': message '%s' lacks '%s'", bad_cpusets[i].in, err->message,
                bad_cpusets[i].why);
    /* The offending input is quoted in full. */
    assert_non_null (strstr (err->message, quoted));
  }
  {
    g_autoptr (GError) err = NULL;
    assert_null (vdp_cpuset_parse (NULL, &err));
    assert_non_null (err);
  }
}

static void
test_cpuset_format_empty (void **state)
{
  g_auto (VdpBitmap) set = hwloc_bitmap_alloc ();
  g_autofree char *a = vdp_cpuset_format (set);
  g_autofree char *b = vdp_cpuset_format (NULL);

  assert_string_equal (a, "");
  assert_string_equal (b, "");
}

static void
test_error_exit_status (void **state)
{
  g_autoptr (GError) usage = g_error_new (VDP_ERROR, VDP_ERROR_USAGE, "x");
  g_autoptr (GError) input = g_error_new (VDP_ERROR, VDP_ERROR_INPUT, "x");
  g_autoptr (GError) runtime = g_error_new (VDP_ERROR, VDP_ERROR_RUNTIME, "x");
  g_autoptr (GError) other = g_error_new (G_FILE_ERROR, G_FILE_ERROR_NOENT, "x");

  assert_int_equal (vdp_error_exit_status (usage), VDP_EXIT_USAGE);
  assert_int_equal (vdp_error_exit_status (input), VDP_EXIT_ERROR);
  assert_int_equal (vdp_error_exit_status (runtime), VDP_EXIT_ERROR);
  assert_int_equal (vdp_error_exit_status (other), VDP_EXIT_ERROR);
  assert_int_equal (vdp_error_exit_status (NULL), VDP_EXIT_ERROR);
}

static void
test_exit_worst (void **state)
{
  /* usage before interrupted before error before findings/pending before ok */
  static const struct { int a, b, want; } cases[] = {
    { VDP_EXIT_OK, VDP_EXIT_OK, VDP_EXIT_OK },
    { VDP_EXIT_OK, VDP_EXIT_PENDING, VDP_EXIT_PENDING },
    { VDP_EXIT_FINDINGS, VDP_EXIT_OK, VDP_EXIT_FINDINGS },
    { VDP_EXIT_PENDING, VDP_EXIT_ERROR, VDP_EXIT_ERROR },
    { VDP_EXIT_ERROR, VDP_EXIT_FINDINGS, VDP_EXIT_ERROR },
    { VDP_EXIT_ERROR, VDP_EXIT_INTERRUPTED, VDP_EXIT_INTERRUPTED },
    { VDP_EXIT_INTERRUPTED, VDP_EXIT_PENDING, VDP_EXIT_INTERRUPTED },
    { VDP_EXIT_INTERRUPTED, VDP_EXIT_USAGE, VDP_EXIT_USAGE },
    { VDP_EXIT_USAGE, VDP_EXIT_ERROR, VDP_EXIT_USAGE },
    { 77, VDP_EXIT_FINDINGS, 77 },              /* anything else counts as an error */
  };

  assert_int_equal (VDP_EXIT_USAGE, 64);
  assert_int_equal (VDP_EXIT_INTERRUPTED, 130);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    assert_int_equal (vdp_exit_worst (cases[i].a, cases[i].b), cases[i].want);
    if (cases[i].a != 77)
      assert_int_equal (vdp_exit_worst (cases[i].b, cases[i].a), cases[i].want);
  }
}

static void
test_error_print_one_line (void **state)
{
  g_autoptr (GError) err = g_error_new (VDP_ERROR, VDP_ERROR_INPUT,
                                        "first line\nsecond line\n");
  char buf[256] = { 0 };
  int fds[2];
  int saved;
  ssize_t n;

  assert_int_equal (pipe (fds), 0);
  fflush (stderr);
  saved = dup (2);
  dup2 (fds[1], 2);
  vdp_error_print ("prog", err);
  fflush (stderr);
  dup2 (saved, 2);
  close (saved);
  close (fds[1]);
  n = read (fds[0], buf, sizeof (buf) - 1);
  close (fds[0]);
  assert_true (n > 0);
  assert_string_equal (buf, "prog: first line second line\n");
}

static void
test_json_helpers (void **state)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_auto (VdpBitmap) set = vdp_cpuset_parse ("0-2,5", NULL);
  g_autofree char *compact = NULL, *pretty = NULL;

  json_builder_begin_object (b);
  vdp_json_add_cpuset (b, "cpus", set);
  vdp_json_add_index_array (b, "list", set);
  vdp_json_add_index_array (b, "none", NULL);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  compact = vdp_json_to_string (root, FALSE);
  assert_string_equal (compact, "{\"cpus\":\"0-2,5\",\"list\":[0,1,2,5],\"none\":[]}\n");
  pretty = vdp_json_to_string (root, TRUE);
  assert_non_null (strstr (pretty, "\n  \"cpus\" : \"0-2,5\""));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_cpuset_good),
    cmocka_unit_test (test_cpuset_round_trip),
    cmocka_unit_test (test_cpuset_bad),
    cmocka_unit_test (test_cpuset_format_empty),
    cmocka_unit_test (test_error_exit_status),
    cmocka_unit_test (test_exit_worst),
    cmocka_unit_test (test_error_print_one_line),
    cmocka_unit_test (test_json_helpers),
  };
  return cmocka_run_group_tests_name ("util", tests, NULL, NULL);
}
