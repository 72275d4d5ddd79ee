/* islet_image_resolve and islet_image_open keep their answers per process
 * (image.c): a name moved to another image, or an image removed, is seen by
 * the very next resolve or open of the same process, however soon after
 * the answer was kept. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "islet/contain.h"
#include "islet/oci.h"
#include "islet/util.h"

#define NAME "docker.io/library/resolved:1"

static char state[64];

static void
put (const char *path, const char *text)
{
  char tmp[512];
  FILE *f;

  /* renamed into place, as the store writes its records */
  snprintf (tmp, sizeof tmp, "%s.tmp", path);
  f = fopen (tmp, "w");
  assert_non_null (f);
  fputs (text, f);
  assert_int_equal (fclose (f), 0);
  assert_int_equal (rename (tmp, path), 0);
}

/* An image with id sha256:<c x 64>, a config and a record naming it name
 * (or nothing). */
static void
image (char c, const char *name)
{
  char hex[65], path[256], text[512];

  memset (hex, c, 64);
  hex[64] = '\0';
  snprintf (path, sizeof path, "%s/images/blobs/sha256/%s", state, hex);
  put (path, "{\"config\":{}}");
  snprintf (path, sizeof path, "%s/images/meta/%s.json", state, hex);
  snprintf (text, sizeof text,
            "{\"id\":\"sha256:%s\",\"names\":[%s%s%s],\"config\":\"sha256:%s\",\"layers\":[]}", hex,
            name ? "\"" : "", name ? name : "", name ? "\"" : "", hex);
  put (path, text);
}

static void
resolves_to (const char *ref, char c)
{
  struct islet_err err = { 0 };
  char out[80], want[80];
  int hold = -1;

  memset (want, 0, sizeof want);
  memcpy (want, "sha256:", 7);
  memset (want + 7, c, 64);
  assert_int_equal (islet_image_resolve (state, ref, out, sizeof out, &hold, &err), 0);
  assert_string_equal (out, want);
  assert_true (hold >= 0);
  close (hold);
}

static int
setup (void **ts)
{
  char path[128];

  (void) ts;
  snprintf (state, sizeof state, "/tmp/islet-resolve.XXXXXX");
  assert_non_null (mkdtemp (state));
  snprintf (path, sizeof path, "%s/images", state);
  assert_int_equal (mkdir (path, 0755), 0);
  snprintf (path, sizeof path, "%s/images/meta", state);
  assert_int_equal (mkdir (path, 0755), 0);
  snprintf (path, sizeof path, "%s/images/blobs", state);
  assert_int_equal (mkdir (path, 0755), 0);
  snprintf (path, sizeof path, "%s/images/blobs/sha256", state);
  assert_int_equal (mkdir (path, 0755), 0);
  return 0;
}

static int
teardown (void **ts)
{
  struct islet_err err;

  (void) ts;
  return islet_rm_rf (state, &err);
}

static void
settle (void)
{
  /* past the age under which an answer is not kept (image.c) */
  struct timespec t = { .tv_sec = 0, .tv_nsec = 250 * 1000 * 1000 };
  nanosleep (&t, NULL);
}

static void
test_name_moved (void **ts)
{
  (void) ts;
  image ('a', NAME);
  settle ();
  resolves_to (NAME, 'a');
  resolves_to (NAME, 'a'); /* the kept answer */
  /* the name moves to another image, as a pull of a newer one does */
  image ('b', NAME);
  image ('a', NULL);
  resolves_to (NAME, 'b');
  settle ();
  resolves_to (NAME, 'b');
  resolves_to (NAME, 'b');
}

static void
test_image_removed (void **ts)
{
  struct islet_err err = { 0 };
  char path[256], hex[65], out[80];
  int hold = -1;

  (void) ts;
  image ('c', "docker.io/library/gone:1");
  settle ();
  resolves_to ("gone:1", 'c');
  memset (hex, 'c', 64);
  hex[64] = '\0';
  snprintf (path, sizeof path, "%s/images/meta/%s.json", state, hex);
  assert_int_equal (unlink (path), 0);
  assert_int_equal (islet_image_resolve (state, "gone:1", out, sizeof out, &hold, &err), -1);
  assert_int_equal (err.kind, ISLET_E_NOTFOUND);
  assert_int_equal (hold, -1);
}

/* A record is read by its file name when named by its whole id; a file
 * whose record names another id is not taken for it. */
static void
test_by_whole_id (void **ts)
{
  struct islet_oci_image img;
  struct islet_err err = { 0 };
  char path[256], hex[65], ref[80];

  (void) ts;
  image ('d', NULL);
  memset (hex, 'd', 64);
  hex[64] = '\0';
  snprintf (ref, sizeof ref, "sha256:%s", hex);
  assert_int_equal (islet_imgstore_open (state, ref, &img, &err), 0);
  assert_string_equal (img.id, ref);
  islet_oci_image_fini (&img);
  /* e's record put under d's name: neither found as d by its file nor by
     the records (no record has d's id) */
  snprintf (path, sizeof path, "%s/images/meta/%s.json", state, hex);
  assert_int_equal (unlink (path), 0);
  image ('e', NULL);
  memset (hex, 'e', 64);
  {
    char from[256];
    snprintf (from, sizeof from, "%s/images/meta/%s.json", state, hex);
    assert_int_equal (rename (from, path), 0);
  }
  assert_int_equal (islet_imgstore_open (state, ref, &img, &err), -1);
}

/* An image opened by its id: the kept answer is a whole copy (each freed
 * on its own), and the image's removal is seen by the next open. */
static void
test_open_kept (void **ts)
{
  struct islet_err err = { 0 };
  struct islet_image img;
  char path[256], hex[65], ref[80];

  (void) ts;
  image ('f', "docker.io/library/opened:1");
  memset (hex, 'f', 64);
  hex[64] = '\0';
  snprintf (path, sizeof path, "%s/images/blobs/sha256/%s", state, hex);
  put (path, "{\"config\":{\"Env\":[\"A=1\"],\"WorkingDir\":\"/w\",\"User\":\"7:8\"}}");
  snprintf (ref, sizeof ref, "sha256:%s", hex);
  settle ();
  for (int i = 0; i < 3; i++)
    {
      assert_int_equal (islet_image_open (state, ref, &img, &err), 0);
      assert_string_equal (img.name, ref);
      assert_non_null (img.env);
      assert_string_equal (img.env[0], "A=1");
      assert_null (img.env[1]);
      assert_string_equal (img.workdir, "/w");
      assert_int_equal (img.uid, 7);
      assert_int_equal (img.gid, 8);
      assert_int_equal (img.n_layers, 0);
      islet_image_fini (&img);
    }
  snprintf (path, sizeof path, "%s/images/meta/%s.json", state, hex);
  assert_int_equal (unlink (path), 0);
  assert_int_equal (islet_image_open (state, ref, &img, &err), -1);
  assert_int_equal (err.kind, ISLET_E_NOTFOUND);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_name_moved, setup, teardown),
    cmocka_unit_test_setup_teardown (test_image_removed, setup, teardown),
    cmocka_unit_test_setup_teardown (test_by_whole_id, setup, teardown),
    cmocka_unit_test_setup_teardown (test_open_kept, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
