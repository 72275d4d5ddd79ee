/* The one mountinfo parser (src/core/mountinfo.c): fields, optional
 * fields, escapes, and lines that are not mounts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "islet/contain.h"

static void
test_parse_fields (void **state)
{
  char line[] = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n";
  struct islet_mount m;

  (void) state;
  assert_int_equal (islet_mountinfo_parse (line, &m), 0);
  assert_int_equal (m.major, 98);
  assert_int_equal (m.minor, 0);
  assert_string_equal (m.root, "/mnt1");
  assert_string_equal (m.point, "/mnt2");
  assert_string_equal (m.fstype, "ext3");
  assert_string_equal (m.source, "/dev/root");
  assert_string_equal (m.options, "rw,errors=continue");
}

static void
test_parse_escapes_and_no_optional (void **state)
{
  char line[] = "25 1 0:22 / /sys/fs/cgroup/a\\040b\\134c rw - cgroup my\\011src "
                "rw,memory\n";
  char dash[] = "30 25 0:40 / /x\\055y - rw - tmpfs tmpfs rw\n";
  struct islet_mount m;

  (void) state;
  assert_int_equal (islet_mountinfo_parse (line, &m), 0);
  assert_string_equal (m.point, "/sys/fs/cgroup/a b\\c");
  assert_string_equal (m.source, "my\tsrc");
  assert_string_equal (m.options, "rw,memory");
  /* a "-" among the first six fields is not the separator */
  assert_int_equal (islet_mountinfo_parse (dash, &m), 0);
  assert_string_equal (m.point, "/x-y");
  assert_string_equal (m.fstype, "tmpfs");
}

static void
test_parse_bad (void **state)
{
  char empty[] = "\n", short_[] = "1 2 3:4 / /a rw -\n", nodev[] = "1 2 x / /a rw - t s o\n";
  struct islet_mount m;

  (void) state;
  assert_int_equal (islet_mountinfo_parse (empty, &m), -1);
  assert_int_equal (islet_mountinfo_parse (short_, &m), -1);
  assert_int_equal (islet_mountinfo_parse (nodev, &m), -1);
}

static int
find_root (const struct islet_mount *m, void *data, struct islet_err *err)
{
  (void) err;
  if (strcmp (m->point, "/") != 0)
    return 0;
  *(int *) data = 1;
  return 1;
}

static void
test_each_finds_root (void **state)
{
  struct islet_err e;
  int found = 0;

  (void) state;
  assert_int_equal (islet_mountinfo_each (find_root, &found, &e), 0);
  assert_int_equal (found, 1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parse_fields),
    cmocka_unit_test (test_parse_escapes_and_no_optional),
    cmocka_unit_test (test_parse_bad),
    cmocka_unit_test (test_each_finds_root),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
