/* What a group uses (islet_cg_read_usage), read from the files a v2 and a
 * v1 kernel show, copied from tests/unit/fixtures/ into a fake tree: the
 * keys that must be told apart ("file" and "file_mapped", "shmem" and
 * "shmem_thp", v1's per-group "cache" and hierarchical "total_cache") and
 * a file that lacks what is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "islet/cgroup.h"
#include "islet/util.h"

static char root[PATH_MAX];

static void
copy (const char *from, const char *to)
{
  cleanup_free char *text = NULL;
  struct islet_err e;
  FILE *f;

  assert_int_equal (islet_read_file_at (AT_FDCWD, from, 1 << 16, &text, NULL, &e), 0);
  assert_non_null (f = fopen (to, "w"));
  fputs (text, f);
  assert_int_equal (fclose (f), 0);
}

static void
put (const char *path, const char *text)
{
  FILE *f = fopen (path, "w");

  assert_non_null (f);
  fputs (text, f);
  assert_int_equal (fclose (f), 0);
}

/* dir (made, with its parents) gets the fixture files of set named */
static void
fixture (const char *set, const char *dir, const char *const *names)
{
  char src[PATH_MAX * 2], dst[PATH_MAX * 2], here[PATH_MAX];
  cleanup_free char *mk = islet_xasprintf ("mkdir -p '%s'", dir);

  snprintf (here, sizeof here, "%s", __FILE__);
  assert_int_equal (system (mk), 0);
  for (; *names; names++)
    {
      snprintf (src, sizeof src, "%s/fixtures/%s/%s", dirname (here), set, *names);
      snprintf (here, sizeof here, "%s", __FILE__);
      snprintf (dst, sizeof dst, "%s/%s", dir, *names);
      copy (src, dst);
    }
}

static int
rm_one (const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
  (void) st, (void) flag, (void) ftw;
  return remove (p);
}

static int
setup (void **state)
{
  char tmpl[] = "/tmp/islet-cgu-XXXXXX";

  (void) state;
  assert_non_null (mkdtemp (tmpl));
  snprintf (root, sizeof root, "%s", tmpl);
  return 0;
}

static int
teardown (void **state)
{
  (void) state;
  islet_cg_set_root (NULL, ISLET_CG_NONE);
  return nftw (root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
test_v2 (void **state)
{
  static const char *const names[] = { "cpu.stat", "memory.current", "memory.stat", NULL };
  cleanup_free char *dir = islet_xasprintf ("%s/islet/t1", root);
  cleanup_free char *stat = islet_xasprintf ("%s/memory.stat", dir);
  struct islet_cg_usage u;
  struct islet_cg *cg = NULL;
  struct islet_err e;
  uint64_t cur;

  (void) state;
  fixture ("cgroup-v2", dir, names);
  islet_cg_set_root (root, ISLET_CG_V2);
  assert_int_equal (islet_cg_open ("t1", &cg, &e), 0);
  assert_int_equal (islet_cg_read_usage (cg, &u, &e), 0);
  assert_int_equal (u.cpu_ns, 2351234000ull);
  assert_int_equal (u.memory_bytes, 157286400ull);
  /* file 48 MiB less shmem 8 MiB, not file_mapped or shmem_thp */
  assert_int_equal (u.memory_cache, 50331648ull - 8388608ull);
  assert_int_equal (islet_cg_memory_current (cg, &cur, &e), 0);
  assert_int_equal (cur, 157286400ull);

  /* a memory.stat without "file" is an error that names the file */
  put (stat, "anon 1\nfile_mapped 2\nshmem 0\n");
  assert_int_equal (islet_cg_read_usage (cg, &u, &e), -1);
  assert_int_equal (e.kind, ISLET_E_NOTFOUND);
  assert_non_null (strstr (e.msg, "t1"));
  /* without shmem (older kernels), all file pages are cache; the cache is
   * never more than the use read before it */
  put (stat, "anon 1\nfile 999999999999\n");
  assert_int_equal (islet_cg_read_usage (cg, &u, &e), 0);
  assert_int_equal (u.memory_cache, 157286400ull);
  islet_cg_free (cg);
}

static void
test_v1 (void **state)
{
  static const char *const cpu[] = { "cpuacct.usage", NULL };
  static const char *const mem[] = { "memory.usage_in_bytes", "memory.stat", NULL };
  cleanup_free char *cdir = islet_xasprintf ("%s/cpuacct/islet/t1", root);
  cleanup_free char *mdir = islet_xasprintf ("%s/memory/islet/t1", root);
  struct islet_cg_usage u;
  struct islet_cg *cg = NULL;
  struct islet_err e;

  (void) state;
  fixture ("cgroup-v1", cdir, cpu);
  fixture ("cgroup-v1", mdir, mem);
  islet_cg_set_root (root, ISLET_CG_V1);
  assert_int_equal (islet_cg_open ("t1", &cg, &e), 0);
  assert_int_equal (islet_cg_read_usage (cg, &u, &e), 0);
  assert_int_equal (u.cpu_ns, 2351234000ull);
  assert_int_equal (u.memory_bytes, 157286400ull);
  /* the hierarchical total_cache less total_shmem, not the group's own cache */
  assert_int_equal (u.memory_cache, 50331648ull - 8388608ull);
  islet_cg_free (cg);
}

static void
test_parse_cache (void **state)
{
  struct islet_err e;
  uint64_t v = 7;

  (void) state;
  assert_int_equal (cg_parse_cache ("file 10\nshmem 4\n", "file", "shmem", &v, &e), 0);
  assert_int_equal (v, 6);
  assert_int_equal (cg_parse_cache ("file 3\nshmem 4\n", "file", "shmem", &v, &e), 0);
  assert_int_equal (v, 0);
  assert_int_equal (cg_parse_cache ("file x\nshmem 4\n", "file", "shmem", &v, &e), -1);
  assert_int_equal (e.kind, ISLET_E_INVALID);
  assert_int_equal (cg_parse_cache ("file 1\nshmem -4\n", "file", "shmem", &v, &e), -1);
  assert_int_equal (cg_parse_cache ("", "file", "shmem", &v, &e), -1);
  assert_int_equal (e.kind, ISLET_E_NOTFOUND);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parse_cache),
    cmocka_unit_test_setup_teardown (test_v2, setup, teardown),
    cmocka_unit_test_setup_teardown (test_v1, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
