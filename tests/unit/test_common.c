// wrap: rename fsync
/* Errors, number parsing, whole-file helpers and the frame protocol, with
 * rename and fsync failing on demand to show atomic writes roll back. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "islet/proto.h"
#include "islet/util.h"

static int fail_rename_errno, fail_fsync_errno;
static struct stat synced_dir; /* the last directory fsync was called on */

int __real_rename (const char *a, const char *b);
int __real_fsync (int fd);

int
__wrap_rename (const char *a, const char *b)
{
  if (fail_rename_errno)
    {
      errno = fail_rename_errno;
      return -1;
    }
  return __real_rename (a, b);
}

int
__wrap_fsync (int fd)
{
  if (fail_fsync_errno)
    {
      errno = fail_fsync_errno;
      return -1;
    }
  {
    struct stat st;
    if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode))
      synced_dir = st;
  }
  return __real_fsync (fd);
}

static void
test_fail_formats_errno (void **state)
{
  struct islet_err e = { 0 };
  assert_int_equal (islet_fail (&e, ISLET_E_SYSTEM, ENOENT, "open `%s`", "/x"), -1);
  assert_int_equal (e.kind, ISLET_E_SYSTEM);
  assert_int_equal (e.errnum, ENOENT);
  assert_string_equal (e.msg, "open `/x`: No such file or directory");
  assert_int_equal (islet_wrap (&e, "sandbox %s", "ab"), -1);
  assert_string_equal (e.msg, "sandbox ab: open `/x`: No such file or directory");
  assert_int_equal (e.errnum, ENOENT);
}

static void
test_fail_truncates_visibly (void **state)
{
  struct islet_err e = { 0 };
  char big[2000];
  memset (big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  islet_fail (&e, ISLET_E_INVALID, 0, "%s", big);
  assert_int_equal (strlen (e.msg), sizeof e.msg - 1);
  assert_string_equal (e.msg + sizeof e.msg - 4, "...");
  islet_fail (&e, ISLET_E_INVALID, 0, "short");
  islet_wrap (&e, "%s", big);
  assert_string_equal (e.msg + sizeof e.msg - 4, "...");
}

static void
test_errkind_names (void **state)
{
  assert_string_equal (islet_errkind_name (ISLET_E_NOTFOUND), "not_found");
  assert_string_equal (islet_errkind_name ((enum islet_errkind) 99), "system");
  assert_int_equal (islet_errkind_from_errno (EDQUOT), ISLET_E_LIMIT);
  assert_int_equal (islet_errkind_from_errno (ENOENT), ISLET_E_NOTFOUND);
}

static void
test_parse_u64 (void **state)
{
  struct islet_err e = { 0 };
  uint64_t v = 0;
  assert_int_equal (islet_parse_u64 ("1024", 2048, &v, &e), 0);
  assert_int_equal (v, 1024);
  const char *bad[] = { "", "-1", "12a", " 1", "4096", "99999999999999999999999", "0x10" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      v = 7;
      assert_int_equal (islet_parse_u64 (bad[i], 2048, &v, &e), -1);
      assert_int_equal (e.kind, ISLET_E_INVALID);
      assert_int_equal (v, 7);
    }
  assert_int_equal (islet_parse_u64 (NULL, 10, &v, &e), -1);
}

static char *
tmpdir (void)
{
  char tmpl[] = "/tmp/islet-unit.XXXXXX";
  char *d = mkdtemp (tmpl);
  assert_non_null (d);
  return islet_xstrdup (d);
}

static void
test_atomic_write_and_rollback (void **state)
{
  cleanup_free char *dir = tmpdir ();
  cleanup_free char *path = islet_xasprintf ("%s/f", dir);
  cleanup_free char *data = NULL;
  struct islet_err e = { 0 };
  size_t len = 0;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  int entries = 0;

  assert_int_equal (islet_write_file_atomic (path, "old", 3, 0600, &e), 0);
  fail_rename_errno = EIO;
  assert_int_equal (islet_write_file_atomic (path, "new!", 4, 0600, &e), -1);
  fail_rename_errno = 0;
  assert_int_equal (e.errnum, EIO);
  fail_fsync_errno = ENOSPC;
  assert_int_equal (islet_write_file_atomic (path, "new!", 4, 0600, &e), -1);
  fail_fsync_errno = 0;
  assert_int_equal (e.kind, ISLET_E_LIMIT);
  /* Both failures left the old content and no temporary file. */
  assert_int_equal (islet_read_file_at (AT_FDCWD, path, 100, &data, &len, &e), 0);
  assert_string_equal (data, "old");
  d = opendir (dir);
  while ((de = readdir (d)) != NULL)
    if (de->d_name[0] != '.')
      entries++;
  assert_int_equal (entries, 1);
  assert_int_equal (islet_rm_rf (dir, &e), 0);
  assert_int_equal (access (dir, F_OK), -1);
}

/* The rename is made durable too: the directory holding the file is synced
 * after it (a host crash could otherwise bring the old file back); a
 * failure to sync it is reported. */
static void
test_atomic_write_syncs_directory (void **state)
{
  cleanup_free char *dir = tmpdir ();
  cleanup_free char *path = islet_xasprintf ("%s/f", dir);
  struct islet_err e = { 0 };
  struct stat st;

  memset (&synced_dir, 0, sizeof synced_dir);
  assert_int_equal (islet_write_file_atomic (path, "x", 1, 0600, &e), 0);
  assert_int_equal (stat (dir, &st), 0);
  assert_true (synced_dir.st_ino == st.st_ino && synced_dir.st_dev == st.st_dev);
  assert_int_equal (islet_rm_rf (dir, &e), 0);
}

/* The unsynced write puts the whole file in place before any fsync (one
 * that would fail does not stop it) and hands back its descriptor, which
 * the caller syncs later. */
static void
test_unsynced_write (void **state)
{
  cleanup_free char *dir = tmpdir ();
  cleanup_free char *path = islet_xasprintf ("%s/f", dir);
  cleanup_free char *data = NULL;
  struct islet_err e = { 0 };
  struct stat a, b;
  size_t len = 0;
  int fd;

  assert_int_equal (islet_write_file_atomic (path, "old", 3, 0600, &e), 0);
  fail_fsync_errno = EIO;
  fd = islet_write_file_unsynced (path, "new!", 4, 0600, &e);
  fail_fsync_errno = 0;
  assert_true (fd >= 0);
  assert_int_equal (islet_read_file_at (AT_FDCWD, path, 100, &data, &len, &e), 0);
  assert_string_equal (data, "new!");
  assert_int_equal (fstat (fd, &a), 0);
  assert_int_equal (stat (path, &b), 0);
  assert_true (a.st_ino == b.st_ino && a.st_dev == b.st_dev);
  assert_int_equal (a.st_mode & 07777, 0600);
  assert_int_equal (fsync (fd), 0);
  close (fd);
  fail_rename_errno = EIO;
  assert_int_equal (islet_write_file_unsynced (path, "x", 1, 0600, &e), -1);
  fail_rename_errno = 0;
  assert_int_equal (e.errnum, EIO);
  assert_int_equal (islet_rm_rf (dir, &e), 0);
}

static void
test_read_file_limit (void **state)
{
  cleanup_free char *dir = tmpdir ();
  cleanup_free char *path = islet_xasprintf ("%s/big", dir);
  cleanup_free char *data = NULL;
  char buf[10000];
  struct islet_err e = { 0 };
  size_t len;

  memset (buf, 'x', sizeof buf);
  assert_int_equal (islet_write_file_atomic (path, buf, sizeof buf, 0600, &e), 0);
  assert_int_equal (islet_read_file_at (AT_FDCWD, path, 5000, &data, &len, &e), -1);
  assert_int_equal (e.kind, ISLET_E_LIMIT);
  assert_int_equal (islet_read_file_at (AT_FDCWD, path, 20000, &data, &len, &e), 0);
  assert_int_equal (len, sizeof buf);
  assert_int_equal (islet_rm_rf (dir, &e), 0);
}

static void
test_mkdir_p_and_rm_rf (void **state)
{
  cleanup_free char *dir = tmpdir ();
  cleanup_free char *deep = islet_xasprintf ("%s/a/b/c/d", dir);
  cleanup_free char *link = islet_xasprintf ("%s/a/escape", dir);
  cleanup_free char *outside = tmpdir ();
  cleanup_free char *canary = islet_xasprintf ("%s/canary", outside);
  struct islet_err e = { 0 };

  assert_int_equal (islet_mkdir_p (deep, 0755, &e), 0);
  assert_int_equal (islet_mkdir_p (deep, 0755, &e), 0);
  assert_int_equal (islet_write_file_atomic (canary, "x", 1, 0600, &e), 0);
  /* rm -rf must remove the link, never what it points to. */
  assert_int_equal (symlink (outside, link), 0);
  assert_int_equal (islet_rm_rf (dir, &e), 0);
  assert_int_equal (access (dir, F_OK), -1);
  assert_int_equal (access (canary, F_OK), 0);
  assert_int_equal (islet_rm_rf (outside, &e), 0);
}

static void
test_frames_round_trip (void **state)
{
  int sv[2];
  struct islet_err e = { 0 };
  enum islet_frame type;
  char *data = NULL;
  size_t len = 0;
  json_t *msg = NULL;

  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal (islet_frame_send (sv[0], ISLET_FRAME_OUT, "a\0b", 3, &e), 0);
  assert_int_equal (islet_frame_send (sv[0], ISLET_FRAME_DATA, NULL, 0, &e), 0);
  {
    json_t *j = json_pack ("{s:s}", "op", "ping");
    assert_int_equal (islet_frame_send_json (sv[0], j, &e), 0);
    json_decref (j);
  }
  assert_int_equal (islet_frame_recv (sv[1], &type, &data, &len, &e), 0);
  assert_int_equal (type, ISLET_FRAME_OUT);
  assert_int_equal (len, 3);
  assert_memory_equal (data, "a\0b", 3);
  free (data);
  assert_int_equal (islet_frame_recv (sv[1], &type, &data, &len, &e), 0);
  assert_int_equal (len, 0);
  free (data);
  assert_int_equal (islet_frame_recv_json (sv[1], &msg, &e), 0);
  assert_string_equal (json_string_value (json_object_get (msg, "op")), "ping");
  json_decref (msg);
  close (sv[0]);
  assert_int_equal (islet_frame_recv (sv[1], &type, &data, &len, &e), -1);
  assert_int_equal (e.kind, ISLET_E_NOTFOUND);
  close (sv[1]);
}

static void
test_frames_reject_bad_input (void **state)
{
  static const struct
  {
    const char *bytes;
    size_t len;
    enum islet_errkind kind;
  } cases[] = {
    { "\x01\x00\x00\x00Zx", 6, ISLET_E_SYSTEM }, /* unknown type */
    { "\xff\xff\xff\x7f"
      "D",
      5, ISLET_E_LIMIT },                           /* oversized data frame */
    { "\x05\x00\x00\x00Oab", 7, ISLET_E_SYSTEM },   /* truncated payload */
    { "\x03\x00", 2, ISLET_E_SYSTEM },              /* short header */
    { "\x03\x00\x00\x00J[1]", 8, ISLET_E_INVALID }, /* JSON, not an object */
    { "\x02\x00\x00\x00J{x", 7, ISLET_E_INVALID },  /* broken JSON */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      int sv[2];
      struct islet_err e = { 0 };
      json_t *msg = NULL;
      assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM, 0, sv), 0);
      assert_int_equal (write (sv[0], cases[i].bytes, cases[i].len), (ssize_t) cases[i].len);
      close (sv[0]);
      assert_int_equal (islet_frame_recv_json (sv[1], &msg, &e), -1);
      assert_null (msg);
      assert_int_equal (e.kind, cases[i].kind);
      close (sv[1]);
    }
}

static void
test_error_json_round_trip (void **state)
{
  struct islet_err a = { 0 }, b = { 0 };
  json_t *j;
  islet_fail (&a, ISLET_E_CONFLICT, EEXIST, "create `%s`", "x");
  j = islet_err_to_json (&a);
  assert_int_equal (islet_err_from_json (j, &b), -1);
  assert_int_equal (b.kind, ISLET_E_CONFLICT);
  assert_int_equal (b.errnum, EEXIST);
  assert_string_equal (b.msg, a.msg);
  json_decref (j);
  /* An exec result's "error" string is not an error reply. */
  j = json_pack ("{s:s}", "error", "`x`: command not found");
  assert_int_equal (islet_err_from_json (j, &b), 0);
  json_decref (j);
}

/* Every byte value and every length mod 3 round-trips; bad text and a
 * result over the limit are refused. */
static void
test_base64_round_trip (void **state)
{
  unsigned char all[256], *back = NULL;
  struct islet_err e = { 0 };
  size_t len = 0;

  for (size_t i = 0; i < sizeof all; i++)
    all[i] = (unsigned char) i;
  for (size_t n = 0; n <= sizeof all; n += (n < 8 ? 1 : 61))
    {
      char *text = islet_base64 (all, n);
      assert_int_equal (islet_base64_decode (text, strlen (text), n, &back, &len, &e), 0);
      assert_int_equal (len, n);
      assert_memory_equal (back, all, n);
      free (back);
      back = NULL;
      if (n > 0)
        assert_int_equal (islet_base64_decode (text, strlen (text), n - 1, &back, &len, &e), -1);
      free (text);
    }
  assert_int_equal (islet_base64_decode ("aGk", 3, 16, &back, &len, &e), 0); /* unpadded */
  assert_int_equal (len, 2);
  assert_memory_equal (back, "hi", 2);
  free (back);
  assert_int_equal (islet_base64_decode ("aG k=", 5, 16, &back, &len, &e), -1);
  assert_int_equal (e.kind, ISLET_E_INVALID);
  assert_int_equal (islet_base64_decode ("a", 1, 16, &back, &len, &e), -1);
  assert_int_equal (islet_base64_decode ("aG=k", 4, 16, &back, &len, &e), -1);
}

/* A message with an fd: the bytes and a working, close-on-exec copy of the
   fd arrive; a message without one says so; the end of the socket is 0. */
static void
test_send_recv_fd (void **state)
{
  int sp[2], pp[2], fd = -2;
  char buf[16], out = 0;
  ssize_t n;

  (void) state;
  assert_int_equal (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
  assert_int_equal (pipe (pp), 0);
  assert_int_equal (islet_send_fd (sp[0], "abc", 3, pp[1], 0), 0);
  n = islet_recv_fd (sp[1], buf, sizeof buf, &fd);
  assert_int_equal (n, 3);
  assert_memory_equal (buf, "abc", 3);
  assert_true (fd >= 0 && fd != pp[1]);
  assert_true (fcntl (fd, F_GETFD) & FD_CLOEXEC);
  assert_int_equal (write (fd, "x", 1), 1);
  assert_int_equal (read (pp[0], &out, 1), 1);
  assert_int_equal (out, 'x');
  close (fd);
  assert_int_equal (send (sp[0], "no fd", 5, 0), 5);
  assert_int_equal (islet_recv_fd (sp[1], buf, sizeof buf, &fd), 5);
  assert_int_equal (fd, -1);
  close (sp[0]);
  assert_int_equal (islet_recv_fd (sp[1], buf, sizeof buf, &fd), 0);
  assert_int_equal (fd, -1);
  close (sp[1]);
  close (pp[0]);
  close (pp[1]);
}

static void
test_name_ok (void **state)
{
  (void) state;
  assert_true (islet_name_ok ("data", 8));
  assert_true (islet_name_ok ("a.b_c-1", 8));
  assert_true (islet_name_ok ("12345678", 8));
  assert_false (islet_name_ok ("123456789", 8)); /* past max */
  assert_false (islet_name_ok ("", 8));
  assert_false (islet_name_ok (NULL, 8));
  assert_false (islet_name_ok (".hidden", 8));
  assert_false (islet_name_ok ("..", 8));
  assert_false (islet_name_ok ("-rf", 8));
  assert_false (islet_name_ok ("a/b", 8));
  assert_false (islet_name_ok ("a b", 8));
  assert_false (islet_name_ok ("caf\xc3\xa9", 8));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_fail_formats_errno),
    cmocka_unit_test (test_fail_truncates_visibly),
    cmocka_unit_test (test_errkind_names),
    cmocka_unit_test (test_parse_u64),
    cmocka_unit_test (test_atomic_write_and_rollback),
    cmocka_unit_test (test_atomic_write_syncs_directory),
    cmocka_unit_test (test_read_file_limit),
    cmocka_unit_test (test_mkdir_p_and_rm_rf),
    cmocka_unit_test (test_frames_round_trip),
    cmocka_unit_test (test_frames_reject_bad_input),
    cmocka_unit_test (test_error_json_round_trip),
    cmocka_unit_test (test_base64_round_trip),
    cmocka_unit_test (test_unsynced_write),
    cmocka_unit_test (test_send_recv_fd),
    cmocka_unit_test (test_name_ok),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
