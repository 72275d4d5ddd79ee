// wrap: ioctl
/* Disk module: a loop-mounted btrfs pool, volumes with qgroup limits that
 * stop writes, clean destroy and removal.  Needs root, loop devices and
 * mkfs.btrfs; skips otherwise.  Every test makes its own state directory
 * under one run directory in /tmp and removes its pool, and the last test
 * checks that no mount or loop device is left that points into it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/loop.h>

#include "islet/disk.h"
#include "islet/util.h"

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)

static char run_dir[] = "/tmp/islet-test-disk-XXXXXX";
static bool have_btrfs;

/* Fault injection: make one ioctl request fail with a chosen errno. */
static unsigned long fail_request;
static int fail_errno;

int __real_ioctl (int fd, unsigned long request, ...);

int
__wrap_ioctl (int fd, unsigned long request, ...)
{
  va_list ap;
  void *arg;

  va_start (ap, request);
  arg = va_arg (ap, void *);
  va_end (ap);
  if (fail_request != 0 && request == fail_request)
    {
      errno = fail_errno;
      return -1;
    }
  return __real_ioctl (fd, request, arg);
}

#define REQUIRE_BTRFS()                                                                            \
  do                                                                                               \
    {                                                                                              \
      if (!have_btrfs)                                                                             \
        skip ();                                                                                   \
    }                                                                                              \
  while (0)

/* Host-side observations. */

/* Mounts whose mount point, and loop devices whose backing file, lie
 * under prefix. */
static int
count_mounts_under (const char *prefix)
{
  cleanup_fclose FILE *f = fopen ("/proc/self/mountinfo", "re");
  cleanup_free char *line = NULL;
  size_t cap = 0, len = strlen (prefix);
  int n = 0;

  assert_non_null (f);
  while (getline (&line, &cap, f) > 0)
    {
      char mnt[4096];
      if (sscanf (line, "%*s %*s %*s %*s %4095s", mnt) == 1 && strncmp (mnt, prefix, len) == 0)
        n++;
    }
  return n;
}

static int
count_loops_under (const char *prefix)
{
  cleanup_dir DIR *d = opendir ("/sys/block");
  struct dirent *de;
  int n = 0;

  assert_non_null (d);
  while ((de = readdir (d)) != NULL)
    {
      cleanup_free char *file = NULL;
      cleanup_free char *text = NULL;
      struct islet_err ignored;

      if (strncmp (de->d_name, "loop", 4) != 0)
        continue;
      file = islet_xasprintf ("%s/loop/backing_file", de->d_name);
      if (islet_read_file_at (dirfd (d), file, 8192, &text, NULL, &ignored) == 0
          && strncmp (text, prefix, strlen (prefix)) == 0)
        n++;
    }
  return n;
}

/* Append up to max bytes to path in 1 MiB writes; returns the bytes
 * written and leaves the errno of the failing write in *err_no (0 if none). */
static uint64_t
fill (const char *path, uint64_t max, int *err_no)
{
  static char buf[MIB];
  cleanup_close int fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  uint64_t total = 0;

  assert_true (fd >= 0);
  memset (buf, 'x', sizeof buf);
  *err_no = 0;
  while (total < max)
    {
      size_t want = max - total < sizeof buf ? (size_t) (max - total) : sizeof buf;
      ssize_t n = write (fd, buf, want);
      if (n < 0)
        {
          *err_no = errno;
          break;
        }
      total += (uint64_t) n;
    }
  return total;
}

static uint64_t
subvol_id_of (const char *path)
{
  struct btrfs_ioctl_ino_lookup_args args;
  cleanup_close int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  assert_true (fd >= 0);
  memset (&args, 0, sizeof args);
  args.objectid = BTRFS_FIRST_FREE_OBJECTID;
  assert_int_equal (ioctl (fd, BTRFS_IOC_INO_LOOKUP, &args), 0);
  return args.treeid;
}

/* Does the tree have an item (objectid, type, offset in [lo, hi])? */
static bool
has_item (int fd, uint64_t tree, uint64_t objectid, uint32_t type, uint64_t lo, uint64_t hi)
{
  struct btrfs_ioctl_search_args args;

  memset (&args, 0, sizeof args);
  args.key.tree_id = tree;
  args.key.min_objectid = args.key.max_objectid = objectid;
  args.key.min_type = args.key.max_type = type;
  args.key.min_offset = lo;
  args.key.max_offset = hi;
  args.key.max_transid = UINT64_MAX;
  args.key.nr_items = 1;
  assert_int_equal (ioctl (fd, BTRFS_IOC_TREE_SEARCH, &args), 0);
  return args.key.nr_items > 0;
}

/* Commit, so the cleaner drops deleted subvolumes, until subvolume id's
 * root item is gone (bounded); then commit once more. */
static void
wait_dropped (int fd, uint64_t id)
{
  int i;

  for (i = 0;
       i < 600 && has_item (fd, BTRFS_ROOT_TREE_OBJECTID, id, BTRFS_ROOT_ITEM_KEY, 0, UINT64_MAX);
       i++)
    {
      assert_int_equal (ioctl (fd, BTRFS_IOC_SYNC, NULL), 0);
      usleep (50000);
    }
  assert_false (has_item (fd, BTRFS_ROOT_TREE_OBJECTID, id, BTRFS_ROOT_ITEM_KEY, 0, UINT64_MAX));
  assert_int_equal (ioctl (fd, BTRFS_IOC_SYNC, NULL), 0);
}

static bool
qgroup_exists (int fd, uint64_t id)
{
  return has_item (fd, BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_INFO_KEY, id, id);
}

static bool
exists (const char *path)
{
  struct stat st;
  return lstat (path, &st) == 0;
}

/* Fixture: a fresh state directory with a 1 GiB pool size. */

struct ctx
{
  char *state;
  /* pools the test opened: a failed assertion skips the test's own
   * cleanup, and an open pool keeps its mount busy */
  struct islet_disk_pool *pools[4];
  int npools;
};

static struct ctx *current;

static int
setup (void **state)
{
  struct ctx *c = islet_xcalloc (1, sizeof *c);
  static int n;

  c->state = islet_xasprintf ("%s/s%d", run_dir, n++);
  setenv ("ISLET_POOL_SIZE", "1073741824", 1);
  fail_request = 0;
  current = c;
  *state = c;
  return 0;
}

/* A failed assertion jumps past the test's own cleanups: close any fd it
 * left open in the state dir, which would keep the pool busy. */
static void
close_fds_under (const char *prefix)
{
  cleanup_dir DIR *d = opendir ("/proc/self/fd");
  struct dirent *de;

  if (d == NULL)
    return;
  while ((de = readdir (d)) != NULL)
    {
      char target[4096];
      cleanup_free char *link = islet_xasprintf ("/proc/self/fd/%s", de->d_name);
      ssize_t n = readlink (link, target, sizeof target - 1);

      if (n <= 0 || atoi (de->d_name) == dirfd (d))
        continue;
      target[n] = '\0';
      if (strncmp (target, prefix, strlen (prefix)) == 0)
        close (atoi (de->d_name));
    }
}

static int
teardown (void **state)
{
  struct ctx *c = *state;
  struct islet_err err = { 0 };
  int r = 0;

  fail_request = 0;
  while (c->npools > 0)
    islet_disk_pool_free (c->pools[--c->npools]);
  close_fds_under (c->state);
  if (islet_disk_pool_remove (c->state, &err) < 0)
    {
      print_error ("pool_remove: %s\n", err.msg);
      r = -1;
    }
  if (count_mounts_under (c->state) != 0 || count_loops_under (c->state) != 0)
    {
      print_error ("mounts or loop devices left under %s\n", c->state);
      r = -1;
    }
  if (islet_rm_rf (c->state, &err) < 0)
    r = -1;
  free (c->state);
  free (c);
  return r;
}

static struct islet_disk_pool *
open_pool (const char *state_dir)
{
  struct islet_disk_pool *pool = NULL;
  struct islet_err err = { 0 };

  if (islet_disk_pool_open (state_dir, &pool, &err) < 0)
    fail_msg ("pool_open: %s", err.msg);
  assert_true (current->npools < 4);
  current->pools[current->npools++] = pool;
  return pool;
}

static void
close_pool (struct islet_disk_pool *pool)
{
  int i;

  for (i = 0; i < current->npools; i++)
    if (current->pools[i] == pool)
      current->pools[i] = current->pools[--current->npools];
  islet_disk_pool_free (pool);
}

static char *
create (struct islet_disk_pool *pool, const char *id, uint64_t limit)
{
  struct islet_err err = { 0 };
  char *path = NULL;

  if (islet_disk_create (pool, id, limit, &path, &err) < 0)
    fail_msg ("create %s: %s", id, err.msg);
  return path;
}

static uint64_t
usage (struct islet_disk_pool *pool, const char *id)
{
  struct islet_err err = { 0 };
  uint64_t used = 0;

  if (islet_disk_usage (pool, id, &used, &err) < 0)
    fail_msg ("usage %s: %s", id, err.msg);
  return used;
}

static void
destroy (struct islet_disk_pool *pool, const char *id)
{
  struct islet_err err = { 0 };

  if (islet_disk_destroy (pool, id, &err) < 0)
    fail_msg ("destroy %s: %s", id, err.msg);
}

/* Tests. */

static void
test_pool_open_reuses_mount (void **state)
{
  struct ctx *c = *state;
  cleanup_free char *mnt = islet_xasprintf ("%s/pool", c->state);
  cleanup_free char *image = islet_xasprintf ("%s/pool.img", c->state);
  struct islet_disk_pool *p1, *p2;
  struct islet_err err = { 0 };
  struct stat st;
  int i;

  REQUIRE_BTRFS ();
  setenv ("ISLET_POOL_SIZE", "12", 1);
  assert_int_equal (islet_disk_pool_open (c->state, &p1, &err), -1);
  assert_int_equal (err.kind, ISLET_E_INVALID);

  /* the default size: 1 GiB, or what the host can spare if less, and
   * allocated in full, so that no write of the pool needs the host's free
   * space (a full host disk would otherwise abort a btrfs transaction) */
  unsetenv ("ISLET_POOL_SIZE");
  p1 = open_pool (c->state);
  assert_true (islet_disk_enforced (p1));
  assert_null (islet_disk_unenforced_reason (p1));
  assert_int_equal (stat (image, &st), 0);
  assert_true ((uint64_t) st.st_size >= 128 * MIB && (uint64_t) st.st_size <= 1024 * MIB);
  assert_true ((uint64_t) st.st_blocks * 512 >= (uint64_t) st.st_size); /* allocated */
  assert_false (islet_disk_readonly (p1));
  p2 = open_pool (c->state);
  assert_true (islet_disk_enforced (p2));
  assert_int_equal (count_mounts_under (mnt), 1);
  assert_int_equal (count_loops_under (c->state), 1);
  close_pool (p1);
  close_pool (p2);
  p1 = open_pool (c->state);
  assert_int_equal (count_mounts_under (mnt), 1);
  close_pool (p1);

  /* three processes starting at once on a fresh state dir: one mkfs, one mount */
  assert_int_equal (islet_disk_pool_remove (c->state, &err), 0);
  assert_false (exists (image));
  assert_false (exists (mnt));
  assert_int_equal (count_mounts_under (c->state), 0);
  assert_int_equal (count_loops_under (c->state), 0);
  for (i = 0; i < 3; i++)
    {
      pid_t pid = fork ();
      assert_true (pid >= 0);
      if (pid == 0)
        {
          struct islet_disk_pool *p = NULL;
          struct islet_err e = { 0 };
          int ok = islet_disk_pool_open (c->state, &p, &e) == 0 && islet_disk_enforced (p);
          _exit (ok ? 0 : 1);
        }
    }
  for (i = 0; i < 3; i++)
    {
      int status = 0;
      assert_true (wait (&status) > 0);
      assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
  assert_int_equal (count_mounts_under (mnt), 1);
  assert_int_equal (count_loops_under (c->state), 1);
}

static void
test_limit_stops_writes (void **state)
{
  struct ctx *c = *state;
  cleanup_free char *image = islet_xasprintf ("%s/pool.img", c->state);
  cleanup_free char *v1 = NULL, *v2 = NULL, *file = NULL, *host_file = NULL;
  struct islet_disk_pool *pool;
  struct islet_err err = { 0 };
  char *dup = NULL;
  struct stat st;
  uint64_t written, before, files = 0, t0;
  int e = 0;

  REQUIRE_BTRFS ();
  pool = open_pool (c->state);
  v1 = create (pool, "v1", 8 * MIB);
  assert_int_equal (lstat (v1, &st), 0);
  assert_true (S_ISDIR (st.st_mode) && (st.st_mode & 07777) == 0700 && st.st_uid == 0);
  assert_int_equal (st.st_ino, BTRFS_FIRST_FREE_OBJECTID); /* a subvolume */
  assert_int_equal (islet_disk_create (pool, "v1", 0, &dup, &err), -1);
  assert_int_equal (err.kind, ISLET_E_CONFLICT);
  assert_int_equal (islet_disk_create (pool, "../x", 0, &dup, &err), -1);
  assert_int_equal (err.kind, ISLET_E_INVALID);

  assert_int_equal (stat (image, &st), 0);
  before = (uint64_t) st.st_blocks * 512;
  file = islet_xasprintf ("%s/big", v1);
  written = fill (file, 32 * MIB, &e);
  print_message ("8 MiB limit: %llu bytes written, then %s\n", (unsigned long long) written,
                 strerror (e));
  assert_true (e == EDQUOT || e == ENOSPC);
  assert_true (written >= 6 * MIB && written <= 9 * MIB);
  /* the image, that is the host's disk, grew by about the limit at most */
  sync ();
  assert_int_equal (stat (image, &st), 0);
  assert_true ((uint64_t) st.st_blocks * 512 < before + 24 * MIB);

  /* metadata counts too: empty-ish files alone hit the limit */
  v2 = create (pool, "v2", 8 * MIB);
  t0 = islet_now_ns ();
  for (e = 0; files < 300000 && islet_now_ns () - t0 < 60ull * 1000000000; files++)
    {
      char name[64];
      int fd;

      snprintf (name, sizeof name, "%s/f%llu", v2, (unsigned long long) files);
      fd = open (name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0 || write (fd, "0123456789abcdef0123456789abcdef", 32) != 32)
        {
          e = errno;
          if (fd >= 0)
            close (fd);
          break;
        }
      close (fd);
    }
  print_message ("8 MiB limit: %llu small files in %.1f s, then %s\n", (unsigned long long) files,
                 (double) (islet_now_ns () - t0) / 1e9, strerror (e));
  assert_true (e == EDQUOT || e == ENOSPC);
  assert_true (files > 1000);

  /* the host file system is untouched by the volume's limit */
  host_file = islet_xasprintf ("%s/host-file", c->state);
  assert_int_equal (fill (host_file, 4 * MIB, &e), 4 * MIB);
  assert_int_equal (e, 0);
  destroy (pool, "v1");
  destroy (pool, "v2");
  close_pool (pool);
}

static void
test_set_limit_and_usage (void **state)
{
  struct ctx *c = *state;
  cleanup_free char *v = NULL, *file = NULL;
  struct islet_disk_pool *pool;
  struct islet_err err = { 0 };
  uint64_t written, used, more;
  int e = 0;

  REQUIRE_BTRFS ();
  pool = open_pool (c->state);
  v = create (pool, "v", 8 * MIB);
  used = usage (pool, "v");
  assert_true (used < MIB);
  file = islet_xasprintf ("%s/data", v);
  written = fill (file, 32 * MIB, &e);
  assert_true (e == EDQUOT || e == ENOSPC);

  /* before any commit: the quota's reservations are counted */
  used = usage (pool, "v");
  print_message ("usage after %llu bytes: %llu right away", (unsigned long long) written,
                 (unsigned long long) used);
  assert_true (used >= written && used <= 9 * MIB);
  sync ();
  used = usage (pool, "v");
  print_message (", %llu after sync\n", (unsigned long long) used);
  assert_true (used >= written && used <= 9 * MIB);

  assert_int_equal (islet_disk_set_limit (pool, "v", 32 * MIB, &err), 0);
  more = fill (file, 16 * MIB, &e);
  assert_int_equal (e, 0);
  assert_int_equal (more, 16 * MIB);
  used = usage (pool, "v");
  assert_true (used >= written + more && used <= 32 * MIB);

  /* 0 lifts the limit */
  assert_int_equal (islet_disk_set_limit (pool, "v", 0, &err), 0);
  assert_int_equal (fill (file, 40 * MIB, &e), 40 * MIB);
  assert_int_equal (e, 0);

  assert_int_equal (islet_disk_set_limit (pool, "missing", MIB, &err), -1);
  assert_int_equal (err.kind, ISLET_E_NOTFOUND);
  assert_int_equal (islet_disk_usage (pool, "missing", &used, &err), -1);
  assert_int_equal (err.kind, ISLET_E_NOTFOUND);
  destroy (pool, "v");
  close_pool (pool);
}

static int
subvol_create_at (int dirfd, const char *name)
{
  struct btrfs_ioctl_vol_args args;

  memset (&args, 0, sizeof args);
  snprintf (args.name, sizeof args.name, "%s", name);
  return ioctl (dirfd, BTRFS_IOC_SUBVOL_CREATE, &args);
}

static int
write_mib_at (int dirfd, const char *name)
{
  static char buf[MIB];
  cleanup_close int fd = openat (dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

  return fd >= 0 && write (fd, buf, sizeof buf) == (ssize_t) sizeof buf ? 0 : -1;
}

/* As uid 100000, make a subvolume in dir (which that uid owns; no privilege
 * is needed for this) and another inside that, with a file in each.  dir is
 * opened before dropping root, as the volume itself is root's 0700. */
static void
make_nested_as_user (const char *dir)
{
  pid_t pid = fork ();
  int status = 0;

  assert_true (pid >= 0);
  if (pid == 0)
    {
      int home = open (dir, O_RDONLY | O_DIRECTORY), nested, deeper;

      if (home < 0 || setresgid (100000, 100000, 100000) < 0
          || setresuid (100000, 100000, 100000) < 0)
        _exit (1);
      if (subvol_create_at (home, "nested") < 0
          || (nested = openat (home, "nested", O_RDONLY | O_DIRECTORY)) < 0
          || subvol_create_at (nested, "deeper") < 0
          || (deeper = openat (nested, "deeper", O_RDONLY | O_DIRECTORY)) < 0)
        _exit (2);
      if (write_mib_at (nested, "f") < 0 || write_mib_at (deeper, "f") < 0)
        _exit (3);
      _exit (0);
    }
  assert_true (waitpid (pid, &status, 0) == pid);
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
}

static void
test_destroy_leaves_nothing (void **state)
{
  struct ctx *c = *state;
  cleanup_free char *v = NULL, *p = NULL, *lower = NULL, *merged = NULL, *opts = NULL;
  cleanup_free char *pool_dir = islet_xasprintf ("%s/pool", c->state);
  cleanup_close int pool_fd = -1;
  struct islet_disk_pool *pool;
  uint64_t ids[3];
  struct stat st;
  int e, i;

  REQUIRE_BTRFS ();
  pool = open_pool (c->state);
  v = create (pool, "v", 64 * MIB);

  /* files of another uid, a mode-000 directory with a file in it */
  p = islet_xasprintf ("%s/owned", v);
  assert_int_equal (fill (p, MIB, &e), MIB);
  assert_int_equal (chown (p, 100000, 100000), 0);
  free (p);
  p = islet_xasprintf ("%s/locked", v);
  assert_int_equal (mkdir (p, 0755), 0);
  free (p);
  p = islet_xasprintf ("%s/locked/f", v);
  assert_int_equal (fill (p, MIB, &e), MIB);
  free (p);
  p = islet_xasprintf ("%s/locked", v);
  assert_int_equal (chmod (p, 0), 0);
  free (p);

  /* a real overlay with upper and work in the volume: it leaves work/work
   * with mode 000 behind */
  lower = islet_xasprintf ("%s/lower", c->state);
  merged = islet_xasprintf ("%s/merged", c->state);
  assert_int_equal (mkdir (lower, 0755), 0);
  assert_int_equal (mkdir (merged, 0755), 0);
  p = islet_xasprintf ("%s/upper", v);
  assert_int_equal (mkdir (p, 0755), 0);
  free (p);
  p = islet_xasprintf ("%s/work", v);
  assert_int_equal (mkdir (p, 0755), 0);
  free (p);
  opts = islet_xasprintf ("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, v, v);
  assert_int_equal (mount ("overlay", merged, "overlay", 0, opts), 0);
  p = islet_xasprintf ("%s/written-through-overlay", merged);
  assert_int_equal (fill (p, MIB, &e), MIB);
  free (p);
  assert_int_equal (umount (merged), 0);
  p = islet_xasprintf ("%s/work/work", v);
  assert_int_equal (stat (p, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0);
  free (p);

  /* subvolumes made inside by the sandbox's user */
  p = islet_xasprintf ("%s/home", v);
  assert_int_equal (mkdir (p, 0755), 0);
  assert_int_equal (chown (p, 100000, 100000), 0);
  make_nested_as_user (p);
  ids[0] = subvol_id_of (v);
  free (p);
  p = islet_xasprintf ("%s/home/nested", v);
  ids[1] = subvol_id_of (p);
  free (p);
  p = islet_xasprintf ("%s/home/nested/deeper", v);
  ids[2] = subvol_id_of (p);
  free (p);
  p = NULL;

  pool_fd = open (pool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (pool_fd >= 0);
  assert_int_equal (ioctl (pool_fd, BTRFS_IOC_SYNC, NULL), 0);
  for (i = 0; i < 3; i++)
    assert_true (qgroup_exists (pool_fd, ids[i]));

  destroy (pool, "v");
  assert_false (exists (v));
  destroy (pool, "v"); /* missing is fine */

  /* once the cleaner has dropped them, the kernel removes their qgroups */
  for (i = 0; i < 3; i++)
    wait_dropped (pool_fd, ids[i]);
  for (i = 0; i < 3; i++)
    assert_false (qgroup_exists (pool_fd, ids[i]));
  assert_false (has_item (pool_fd, BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_INFO_KEY,
                          BTRFS_FIRST_FREE_OBJECTID, (1ull << 48) - 1));
  close_pool (pool);
}

static void
test_create_rolls_back (void **state)
{
  struct ctx *c = *state;
  cleanup_free char *v = NULL, *path = NULL;
  struct islet_disk_pool *pool;
  struct islet_err err = { 0 };
  char *out = NULL;

  REQUIRE_BTRFS ();
  pool = open_pool (c->state);
  path = islet_disk_path (pool, "v");

  fail_request = BTRFS_IOC_QGROUP_LIMIT;
  fail_errno = EIO;
  assert_int_equal (islet_disk_create (pool, "v", 8 * MIB, &out, &err), -1);
  fail_request = 0;
  print_message ("injected: %s\n", err.msg);
  assert_int_equal (err.errnum, EIO);
  assert_int_equal (err.kind, ISLET_E_SYSTEM);
  assert_non_null (strstr (err.msg, "limit"));
  assert_null (out);
  assert_false (exists (path));

  fail_request = BTRFS_IOC_SUBVOL_CREATE;
  fail_errno = ENOSPC;
  assert_int_equal (islet_disk_create (pool, "v", 8 * MIB, &out, &err), -1);
  fail_request = 0;
  assert_int_equal (err.errnum, ENOSPC);
  assert_int_equal (err.kind, ISLET_E_LIMIT);
  assert_false (exists (path));

  /* the name is free again */
  v = create (pool, "v", 8 * MIB);
  assert_string_equal (v, path);
  destroy (pool, "v");
  close_pool (pool);
}

static void
test_falls_back_without_loop (void **state)
{
  struct ctx *c = *state;
  cleanup_free char *v = NULL, *file = NULL, *volumes = islet_xasprintf ("%s/volumes", c->state);
  struct islet_disk_pool *pool;
  struct islet_err err = { 0 };
  uint64_t used = 0;
  int e;

  REQUIRE_BTRFS ();
  fail_request = LOOP_CTL_GET_FREE;
  fail_errno = ENODEV;
  pool = open_pool (c->state);
  fail_request = 0;
  assert_false (islet_disk_enforced (pool));
  assert_non_null (islet_disk_unenforced_reason (pool));
  print_message ("fallback reason: %s\n", islet_disk_unenforced_reason (pool));
  assert_non_null (strstr (islet_disk_unenforced_reason (pool), "loop"));
  assert_int_equal (count_mounts_under (c->state), 0);

  v = create (pool, "v", 8 * MIB);
  assert_int_equal (strncmp (v, volumes, strlen (volumes)), 0);
  file = islet_xasprintf ("%s/data", v);
  assert_int_equal (fill (file, 12 * MIB, &e), 12 * MIB); /* not enforced */
  assert_int_equal (islet_disk_set_limit (pool, "v", MIB, &err), 0);
  assert_int_equal (islet_disk_usage (pool, "v", &used, &err), 0);
  assert_true (used >= 12 * MIB);
  destroy (pool, "v");
  assert_false (exists (v));
  close_pool (pool);
}

/* A state directory that is itself on btrfs uses that file system. */
static void
test_state_dir_on_btrfs (void **state)
{
  struct ctx *c = *state;
  cleanup_free char *outer = NULL, *inner = NULL, *v = NULL, *file = NULL, *volumes = NULL;
  struct islet_disk_pool *pool, *host;
  struct islet_err err = { 0 };
  int e;

  REQUIRE_BTRFS ();
  pool = open_pool (c->state);
  outer = create (pool, "outer", 0);
  inner = islet_xasprintf ("%s/state", outer);
  host = open_pool (inner);
  assert_true (islet_disk_enforced (host));
  v = create (host, "v", 8 * MIB);
  volumes = islet_xasprintf ("%s/volumes/v", inner);
  assert_string_equal (v, volumes);
  file = islet_xasprintf ("%s/data", v);
  fill (file, 32 * MIB, &e);
  assert_true (e == EDQUOT || e == ENOSPC);
  close_pool (host);
  assert_int_equal (islet_disk_pool_remove (inner, &err), 0);
  assert_false (exists (v));
  free (volumes);
  volumes = islet_xasprintf ("%s/volumes", inner);
  assert_false (exists (volumes));
  destroy (pool, "outer");
  close_pool (pool);
}

static uint64_t
quota_status_flags (int fd)
{
  struct btrfs_ioctl_search_args args;
  struct btrfs_qgroup_status_item item;

  memset (&args, 0, sizeof args);
  args.key.tree_id = BTRFS_QUOTA_TREE_OBJECTID;
  args.key.min_type = args.key.max_type = BTRFS_QGROUP_STATUS_KEY;
  args.key.max_transid = UINT64_MAX;
  args.key.nr_items = 1;
  assert_int_equal (ioctl (fd, BTRFS_IOC_TREE_SEARCH, &args), 0);
  assert_int_equal (args.key.nr_items, 1);
  memcpy (&item, args.buf + sizeof (struct btrfs_ioctl_search_header), sizeof item);
  return le64toh (item.flags);
}

/* After a remount (a reboot, say) the pool is reused, volumes keep their
 * limits, and counts that went inconsistent are rescanned. */
static void
test_remount_keeps_limits (void **state)
{
  struct ctx *c = *state;
  cleanup_free char *v = NULL, *file = NULL;
  cleanup_free char *mnt = islet_xasprintf ("%s/pool", c->state);
  cleanup_close int fd = -1;
  cleanup_close int vfd = -1;
  struct btrfs_ioctl_qgroup_create_args group = { .create = 1, .qgroupid = (1ull << 48) | 1 };
  struct btrfs_ioctl_qgroup_assign_args assign = { .assign = 1, .dst = (1ull << 48) | 1 };
  struct btrfs_ioctl_vol_args_v2 snap;
  struct islet_disk_pool *pool;
  int e;

  REQUIRE_BTRFS ();
  pool = open_pool (c->state);
  v = create (pool, "v", 8 * MIB);
  file = islet_xasprintf ("%s/data", v);
  assert_int_equal (fill (file, MIB, &e), MIB);

  /* shared extents (a snapshot) plus a level-1 group assigned without a
   * rescan: the kernel marks the counts inconsistent */
  fd = open (mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  vfd = open (v, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (fd >= 0 && vfd >= 0);
  memset (&snap, 0, sizeof snap);
  snap.fd = vfd;
  strcpy (snap.name, "snap");
  assert_int_equal (ioctl (fd, BTRFS_IOC_SNAP_CREATE_V2, &snap), 0);
  assert_int_equal (ioctl (fd, BTRFS_IOC_SYNC, NULL), 0);
  assert_int_equal (ioctl (fd, BTRFS_IOC_QGROUP_CREATE, &group), 0);
  assign.src = subvol_id_of (v);
  assert_true (ioctl (fd, BTRFS_IOC_QGROUP_ASSIGN, &assign) >= 0);
  assert_int_equal (ioctl (fd, BTRFS_IOC_SYNC, NULL), 0);
  assert_true (quota_status_flags (fd) & BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT);
  destroy (pool, "snap");
  close (islet_take_fd (&fd));
  close (islet_take_fd (&vfd));
  close_pool (pool);
  assert_int_equal (umount (mnt), 0);
  assert_int_equal (count_mounts_under (mnt), 0);

  pool = open_pool (c->state);
  assert_int_equal (count_mounts_under (mnt), 1);
  fd = open (mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (fd >= 0);
  assert_int_equal (ioctl (fd, BTRFS_IOC_QUOTA_RESCAN_WAIT, NULL), 0);
  assert_int_equal (ioctl (fd, BTRFS_IOC_SYNC, NULL), 0);
  assert_false (quota_status_flags (fd) & BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT);
  fill (file, 32 * MIB, &e);
  assert_true (e == EDQUOT || e == ENOSPC);
  destroy (pool, "v");
  close_pool (pool);
}

/* The pool grows, allocated, to hold the volumes' limits; with
 * ISLET_POOL_SIZE it keeps that size.  A pool turned read-only is mounted
 * anew by the next open. */
static void
test_pool_grows_and_recovers (void **state)
{
  struct ctx *c = *state;
  cleanup_free char *mnt = islet_xasprintf ("%s/pool", c->state);
  cleanup_free char *image = islet_xasprintf ("%s/pool.img", c->state);
  cleanup_free char *v = NULL, *w = NULL, *file = NULL;
  struct islet_disk_pool *pool;
  struct statvfs sv;
  struct stat st;
  uint64_t before;
  int e;

  REQUIRE_BTRFS ();
  pool = open_pool (c->state);
  assert_int_equal (stat (image, &st), 0);
  before = (uint64_t) st.st_size;
  v = create (pool, "big", before + 512 * MIB);
  assert_int_equal (stat (image, &st), 0);
  assert_int_equal ((uint64_t) st.st_size, before); /* ISLET_POOL_SIZE: fixed */
  destroy (pool, "big");
  close_pool (pool);
  free (v);

  unsetenv ("ISLET_POOL_SIZE");
  pool = open_pool (c->state);
  v = create (pool, "big", before + 512 * MIB);
  assert_int_equal (stat (image, &st), 0);
  print_message ("pool image: %llu MiB, then %llu MiB for a volume of %llu MiB\n",
                 (unsigned long long) (before / MIB), (unsigned long long) (st.st_size / MIB),
                 (unsigned long long) (before / MIB + 512));
  assert_true ((uint64_t) st.st_size >= before + 512 * MIB);
  assert_true ((uint64_t) st.st_blocks * 512 >= (uint64_t) st.st_size);
  assert_int_equal (statvfs (mnt, &sv), 0);
  assert_true ((uint64_t) sv.f_blocks * sv.f_frsize >= before + 256 * MIB); /* btrfs grew too */
  file = islet_xasprintf ("%s/data", v);
  assert_int_equal (fill (file, MIB, &e), MIB);

  assert_int_equal (mount (NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL),
                    0);
  assert_true (islet_disk_readonly (pool));
  close_pool (pool);
  pool = open_pool (c->state);
  assert_false (islet_disk_readonly (pool));
  assert_int_equal (count_mounts_under (mnt), 1);
  assert_int_equal (count_loops_under (c->state), 1);
  assert_int_equal (stat (file, &st), 0);
  assert_int_equal (st.st_size, MIB);
  w = create (pool, "after", 8 * MIB);
  destroy (pool, "after");
  destroy (pool, "big");
  close_pool (pool);
}

/* disk_space.c's rule for how far a pool may grow, from the host's free
 * space (declared here: it is the core's, not the public API's). */
uint64_t disk_share (uint64_t avail, uint64_t total, uint64_t held);

/* A pool that grows at each of many creates, each asking for more than the
 * host has, never takes more than half of what the host had free: the
 * host keeps at least as much free as the pool holds, and its reserve. */
static void
test_pool_growth_bounded (void **state)
{
  const uint64_t total = 251 * GIB, free_at_start = 80 * GIB;
  uint64_t avail = free_at_start, held = 0, room;
  int i;

  (void) state;
  assert_int_equal (disk_share (0, total, 0), 0);
  assert_int_equal (disk_share (GIB / 2, total, 0), 0); /* all of it is the reserve */
  assert_int_equal (disk_share (11 * GIB, total, 0), 5 * GIB);
  for (i = 0; i < 1000; i++)
    {
      room = disk_share (avail, total, held);
      if (room > 10 * GIB) /* one create's limit */
        room = 10 * GIB;
      held += room;
      avail -= room;
      assert_true (avail >= held);
    }
  print_message ("after 1000 growths: the pool holds %llu MiB, the host keeps %llu MiB\n",
                 (unsigned long long) (held / MIB), (unsigned long long) (avail / MIB));
  assert_true (held <= (free_at_start - GIB) / 2);
  assert_true (held >= (free_at_start - GIB) / 2 - MIB);
  /* a pool that already holds more than its share (the host filled up
   * since) may not grow at all */
  assert_int_equal (disk_share (GIB, total, 8 * GIB), 0);
}

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

static void
report (const char *what, uint64_t *ns, size_t n)
{
  qsort (ns, n, sizeof *ns, cmp_u64);
  print_message ("%-28s p50 %6.3f ms  p90 %6.3f ms  max %6.3f ms  (n=%zu)\n", what,
                 (double) ns[n / 2] / 1e6, (double) ns[n * 9 / 10] / 1e6, (double) ns[n - 1] / 1e6,
                 n);
}

static void
test_timing (void **state)
{
  struct ctx *c = *state;
  struct islet_disk_pool *pool;
  uint64_t create_ns[100], destroy_ns[100], plain_ns[100];
  char id[32];
  int i;

  REQUIRE_BTRFS ();
  pool = open_pool (c->state);
  for (i = 0; i < 100; i++)
    {
      uint64_t t0;
      char *path;

      snprintf (id, sizeof id, "t%d", i);
      t0 = islet_now_ns ();
      path = create (pool, id, 64 * MIB);
      create_ns[i] = islet_now_ns () - t0;
      free (path);
    }
  for (i = 0; i < 100; i++)
    {
      uint64_t t0;

      snprintf (id, sizeof id, "t%d", i);
      t0 = islet_now_ns ();
      destroy (pool, id);
      destroy_ns[i] = islet_now_ns () - t0;
    }
  for (i = 0; i < 100; i++)
    {
      uint64_t t0;
      char *path;

      snprintf (id, sizeof id, "u%d", i);
      t0 = islet_now_ns ();
      path = create (pool, id, 0);
      plain_ns[i] = islet_now_ns () - t0;
      free (path);
      destroy (pool, id);
    }
  report ("create (subvolume + limit)", create_ns, 100);
  report ("destroy", destroy_ns, 100);
  report ("create without a limit", plain_ns, 100);
  close_pool (pool);
}

static void
test_nothing_left (void **state)
{
  REQUIRE_BTRFS ();
  assert_int_equal (count_mounts_under (run_dir), 0);
  assert_int_equal (count_loops_under (run_dir), 0);
}

static bool
probe_btrfs (void)
{
  cleanup_free char *fs = NULL;
  struct islet_err err;

  if (geteuid () != 0 || access ("/dev/loop-control", R_OK | W_OK) != 0)
    return false;
  if (access ("/usr/sbin/mkfs.btrfs", X_OK) != 0 && access ("/sbin/mkfs.btrfs", X_OK) != 0
      && system ("command -v mkfs.btrfs >/dev/null 2>&1") != 0)
    return false;
  /* btrfs may be a module that mount loads on demand */
  if (islet_read_file_at (AT_FDCWD, "/proc/filesystems", 1 << 16, &fs, NULL, &err) == 0
      && strstr (fs, "btrfs") != NULL)
    return true;
  return access ("/sys/module/btrfs", F_OK) == 0
         || system ("modprobe -q btrfs >/dev/null 2>&1") == 0;
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_pool_open_reuses_mount, setup, teardown),
    cmocka_unit_test_setup_teardown (test_limit_stops_writes, setup, teardown),
    cmocka_unit_test_setup_teardown (test_set_limit_and_usage, setup, teardown),
    cmocka_unit_test_setup_teardown (test_destroy_leaves_nothing, setup, teardown),
    cmocka_unit_test_setup_teardown (test_create_rolls_back, setup, teardown),
    cmocka_unit_test_setup_teardown (test_falls_back_without_loop, setup, teardown),
    cmocka_unit_test_setup_teardown (test_state_dir_on_btrfs, setup, teardown),
    cmocka_unit_test_setup_teardown (test_remount_keeps_limits, setup, teardown),
    cmocka_unit_test_setup_teardown (test_pool_grows_and_recovers, setup, teardown),
    cmocka_unit_test_setup_teardown (test_timing, setup, teardown),
    cmocka_unit_test (test_pool_growth_bounded),
    cmocka_unit_test (test_nothing_left),
  };
  struct islet_err err;
  int failed;

  if (mkdtemp (run_dir) == NULL)
    {
      perror ("mkdtemp");
      return 1;
    }
  have_btrfs = probe_btrfs ();
  if (!have_btrfs)
    print_message ("needs root, loop devices, btrfs and mkfs.btrfs: skipping\n");
  failed = cmocka_run_group_tests (tests, NULL, NULL);
  if (islet_rm_rf (run_dir, &err) < 0)
    fprintf (stderr, "%s\n", err.msg);
  return failed;
}
