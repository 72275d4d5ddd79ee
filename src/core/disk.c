/* Per-sandbox volumes with a size limit the kernel enforces: one btrfs
 * subvolume per sandbox, limited by its qgroup (see include/islet/disk.h).
 *
 * A state directory holds one of three layouts:
 *   - the state dir is on btrfs: volumes in <state>/volumes, on that file
 *     system, with quotas switched on;
 *   - otherwise <state>/pool.img, a sparse btrfs image, loop-mounted at
 *     <state>/pool, with the volumes directly in <state>/pool;
 *   - no btrfs to be had: plain directories in <state>/volumes, no limits.
 *
 * Only the subvolume and qgroup ioctls run per sandbox; mkfs.btrfs and the
 * loop mount happen once per state directory, under <state>/pool.lock. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/loop.h>
#include <linux/magic.h>

#include "islet/disk.h"
#include "islet/util.h"

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)
#define POOL_SIZE_MIN GIB
#define POOL_SIZE_DEFAULT_MAX (64 * GIB)
#define LOCK_TIMEOUT_NS (60ull * 1000000000)
#define LOOP_RELEASE_TIMEOUT_NS (5ull * 1000000000)
#define NESTED_DEPTH_MAX 64

enum pool_kind
{
  POOL_PLAIN, /* plain directories, nothing enforced */
  POOL_LOOP,  /* islet's image, loop-mounted at <state>/pool */
  POOL_HOST,  /* the state directory's own btrfs */
};

struct islet_disk_pool
{
  enum pool_kind kind;
  char *dir;       /* holds the volumes */
  int dirfd;       /* open on dir: the subvolume ioctls work relative to it */
  int qgroups_fd;  /* /sys/fs/btrfs/<fsid>/qgroups, or -1 */
  char why[sizeof ((struct islet_err *) 0)->msg]; /* why POOL_PLAIN */
};

static void
pool_freep (struct islet_disk_pool **p)
{
  islet_disk_pool_free (*p);
}
#define cleanup_pool __attribute__ ((cleanup (pool_freep)))

static void
sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* Volume names become path components and appear in logs: keep them
 * to a boring alphabet so neither can be surprised. */
static int
check_id (const char *id, struct islet_err *err)
{
  size_t n = id ? strlen (id) : 0;
  size_t i;

  if (n == 0 || n > 200 || id[0] == '.' || id[0] == '-')
    return islet_fail (err, ISLET_E_INVALID, 0, "`%s` is not a valid volume name", id ? id : "");
  for (i = 0; i < n; i++)
    if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')
          || (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_' || id[i] == '.'))
      return islet_fail (err, ISLET_E_INVALID, 0, "`%s` is not a valid volume name", id);
  return 0;
}

/* btrfs ioctl helpers.  Each returns -1 with errno set, so that the caller
 * builds the error with its own context. */

/* Call fn on each item with key (objectid, type, off) for off in
 * [min_off, max_off] of one btrfs tree, in key order, until fn returns 1.
 * Needs CAP_SYS_ADMIN. */
typedef int (*item_fn) (uint64_t offset, const void *item, uint32_t len, void *data);

static int
tree_walk (int fd, uint64_t tree, uint64_t objectid, uint32_t type, uint64_t min_off,
           uint64_t max_off, item_fn fn, void *data)
{
  struct btrfs_ioctl_search_args args;

  memset (&args.key, 0, sizeof args.key);
  args.key.tree_id = tree;
  args.key.min_objectid = args.key.max_objectid = objectid;
  args.key.min_type = args.key.max_type = type;
  args.key.min_offset = min_off;
  args.key.max_offset = max_off;
  args.key.max_transid = UINT64_MAX;
  for (;;)
    {
      struct btrfs_ioctl_search_header sh = { 0 };
      size_t pos = 0;
      uint32_t i;

      args.key.nr_items = UINT32_MAX;
      if (ioctl (fd, BTRFS_IOC_TREE_SEARCH, &args) < 0)
        return -1;
      if (args.key.nr_items == 0)
        return 0;
      for (i = 0; i < args.key.nr_items; i++)
        {
          /* items are packed back to back: copy out rather than cast */
          memcpy (&sh, args.buf + pos, sizeof sh);
          pos += sizeof sh;
          if (fn (sh.offset, args.buf + pos, sh.len, data))
            return 0;
          pos += sh.len;
        }
      if (sh.offset >= max_off)
        return 0;
      args.key.min_offset = sh.offset + 1;
    }
}

static int
subvol_id (int fd, uint64_t *id)
{
  struct btrfs_ioctl_ino_lookup_args args;

  /* the root directory's inode in tree 0 (fd's own tree) makes the kernel
   * just report which tree that is */
  memset (&args, 0, sizeof args);
  args.objectid = BTRFS_FIRST_FREE_OBJECTID;
  if (ioctl (fd, BTRFS_IOC_INO_LOOKUP, &args) < 0)
    return -1;
  *id = args.treeid;
  return 0;
}

static int
subvol_create (int dirfd, const char *name)
{
  struct btrfs_ioctl_vol_args args;

  memset (&args, 0, sizeof args);
  strcpy (args.name, name); /* check_id bounds the length */
  return ioctl (dirfd, BTRFS_IOC_SUBVOL_CREATE, &args);
}

/* Limit the qgroup of fd's subvolume (qgroupid 0 means "fd's own").
 * Referenced rather than exclusive bytes: for a lone subvolume they are
 * equal, and once extents are shared (a snapshot of a volume, say) the
 * referenced count stays what the sandbox sees, while the exclusive one
 * would jump over the limit whenever the other sharer is deleted. */
static int
qgroup_limit (int fd, uint64_t limit)
{
  struct btrfs_ioctl_qgroup_limit_args args;

  memset (&args, 0, sizeof args);
  args.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
  args.lim.max_rfer = limit ? limit : UINT64_MAX; /* all ones clears it */
  return ioctl (fd, BTRFS_IOC_QGROUP_LIMIT, &args);
}

static int
quota_enable (int fd)
{
  struct btrfs_ioctl_quota_ctl_args args = { .cmd = BTRFS_QUOTA_CTL_ENABLE };

  /* returns 0 at once when quotas are already on */
  return ioctl (fd, BTRFS_IOC_QUOTA_CTL, &args);
}

struct id_list
{
  uint64_t *v;
  size_t n;
};

static void
id_list_free (struct id_list *l)
{
  free (l->v);
}
#define cleanup_ids __attribute__ ((cleanup (id_list_free)))

static int
collect_offset (uint64_t offset, const void *item, uint32_t len, void *data)
{
  struct id_list *l = data;

  l->v = islet_xrealloc (l->v, (l->n + 1) * sizeof *l->v);
  l->v[l->n++] = offset;
  return 0;
}

/* Offsets of all the items (objectid, type, *) of a tree. */
static int
list_offsets (int fd, uint64_t tree, uint64_t objectid, uint32_t type, struct id_list *out)
{
  return tree_walk (fd, tree, objectid, type, 0, UINT64_MAX, collect_offset, out);
}

/* Any owner of a directory in a volume may make a subvolume there (the
 * SUBVOL_CREATE ioctl needs no privilege), and it blocks deleting the
 * volume with ENOTEMPTY: delete those first, deepest first, by id. */
static int
delete_nested (int fd, uint64_t parent, int depth, struct islet_err *err)
{
  cleanup_ids struct id_list ids = { NULL, 0 };
  size_t i;

  if (depth > NESTED_DEPTH_MAX)
    return islet_fail (err, ISLET_E_SYSTEM, ELOOP, "subvolumes nested too deep");
  if (list_offsets (fd, BTRFS_ROOT_TREE_OBJECTID, parent, BTRFS_ROOT_REF_KEY, &ids) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "list subvolumes in subvolume %llu",
                       (unsigned long long) parent);
  for (i = 0; i < ids.n; i++)
    {
      struct btrfs_ioctl_vol_args_v2 args;

      if (delete_nested (fd, ids.v[i], depth + 1, err) < 0)
        return -1;
      memset (&args, 0, sizeof args);
      args.flags = BTRFS_SUBVOL_SPEC_BY_ID;
      args.subvolid = ids.v[i];
      if (ioctl (fd, BTRFS_IOC_SNAP_DESTROY_V2, &args) < 0 && errno != ENOENT)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "delete nested subvolume %llu",
                           (unsigned long long) ids.v[i]);
    }
  return 0;
}

/* Delete the subvolume `name` in dirfd whatever it holds: files of any
 * owner and mode (overlayfs leaves a mode-000 work/work) are no obstacle
 * to the ioctl.  The kernel unlinks it at once and frees its extents
 * later in the cleaner thread, and when that is done the kernel removes
 * the qgroup too (checked on 6.18, also with inconsistent counts; it also
 * refuses a level-0 qgroup without a subvolume, so none can be stale). */
static int
delete_subvol (int dirfd, const char *name, struct islet_err *err)
{
  struct btrfs_ioctl_vol_args args;
  cleanup_close int fd = -1;
  uint64_t id;

  memset (&args, 0, sizeof args);
  strcpy (args.name, name);
  if (ioctl (dirfd, BTRFS_IOC_SNAP_DESTROY, &args) == 0 || errno == ENOENT)
    return 0;
  if (errno != ENOTEMPTY)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "delete subvolume `%s`", name);
  fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open subvolume `%s`", name);
  if (subvol_id (fd, &id) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "look up subvolume `%s`", name);
  if (delete_nested (fd, id, 0, err) < 0)
    return islet_wrap (err, "delete subvolume `%s`", name);
  if (ioctl (dirfd, BTRFS_IOC_SNAP_DESTROY, &args) < 0 && errno != ENOENT)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "delete subvolume `%s`", name);
  return 0;
}

/* Delete `name` in dirfd (which is `dir`): a subvolume by ioctl, anything
 * else with rm -rf.  Works for every layout, so a volume made under an
 * earlier layout of the same directory still goes. */
static int
delete_entry (int dirfd, const char *dir, const char *name, struct islet_err *err)
{
  cleanup_free char *path = NULL;
  struct statfs sfs;
  struct stat st;

  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return 0;
      return islet_fail (err, ISLET_E_SYSTEM, errno, "stat `%s/%s`", dir, name);
    }
  /* on btrfs, inode 256 is the root directory of a subvolume and only that */
  if (S_ISDIR (st.st_mode) && st.st_ino == BTRFS_FIRST_FREE_OBJECTID && fstatfs (dirfd, &sfs) == 0
      && sfs.f_type == BTRFS_SUPER_MAGIC)
    return delete_subvol (dirfd, name, err);
  path = islet_xasprintf ("%s/%s", dir, name);
  return islet_rm_rf (path, err);
}

/* Open an existing volume; in a btrfs pool it must be a subvolume, for a
 * qgroup ioctl on a plain directory would act on the pool's own qgroup. */
static int
open_volume (const struct islet_disk_pool *pool, const char *id, struct islet_err *err)
{
  cleanup_close int fd = -1;
  struct stat st;

  if (check_id (id, err) < 0)
    return -1;
  fd = openat (pool->dirfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "open volume `%s`", id);
  if (pool->kind == POOL_PLAIN)
    return islet_take_fd (&fd);
  if (fstat (fd, &st) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "stat volume `%s`", id);
  if (st.st_ino != BTRFS_FIRST_FREE_OBJECTID)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "volume `%s` is not a btrfs subvolume", id);
  return islet_take_fd (&fd);
}

/* Pool set-up. */

static int
read_status_flags (uint64_t offset, const void *item, uint32_t len, void *data)
{
  struct btrfs_qgroup_status_item st;

  if (len >= sizeof st)
    {
      memcpy (&st, item, sizeof st);
      *(uint64_t *) data = le64toh (st.flags);
    }
  return 1;
}

/* Right after islet mounted its pool: if the counts are marked
 * inconsistent, start a rescan (in the background), or limits would be
 * checked against wrong numbers.  The kernel gives up exact accounting
 * when it drops a subvolume tree taller than qgroups/drop_subtree_threshold
 * (3 levels: hundreds of thousands of files). */
static void
rescan_if_inconsistent (int fd)
{
  struct btrfs_ioctl_quota_rescan_args rescan;
  uint64_t flags = 0;

  if (tree_walk (fd, BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_STATUS_KEY, 0, 0,
                 read_status_flags, &flags) < 0)
    return;
  if (!(flags & BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT) || (flags & BTRFS_QGROUP_STATUS_FLAG_RESCAN))
    return;
  memset (&rescan, 0, sizeof rescan);
  (void) ioctl (fd, BTRFS_IOC_QUOTA_RESCAN, &rescan);
}

/* The qgroup directory in sysfs shows the reservations of writes not yet
 * committed, which the quota tree does not; optional. */
static void
open_qgroups_dir (struct islet_disk_pool *pool)
{
  struct btrfs_ioctl_fs_info_args fi;
  const unsigned char *u = fi.fsid;
  char path[128];

  memset (&fi, 0, sizeof fi);
  if (ioctl (pool->dirfd, BTRFS_IOC_FS_INFO, &fi) < 0)
    return;
  snprintf (path, sizeof path,
            "/sys/fs/btrfs/%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
            "%02x%02x%02x%02x%02x%02x/qgroups",
            u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
            u[14], u[15]);
  pool->qgroups_fd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static int
open_pool_dir (struct islet_disk_pool *pool, struct islet_err *err)
{
  if (mkdir (pool->dir, 0700) < 0 && errno != EEXIST)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "mkdir `%s`", pool->dir);
  pool->dirfd = open (pool->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pool->dirfd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", pool->dir);
  return 0;
}

/* btrfs is not to be had: plain directories in <state>/volumes. */
static int
fall_back (struct islet_disk_pool *pool, const char *state, const struct islet_err *why,
           struct islet_err *err)
{
  free (pool->dir);
  if (pool->dirfd >= 0)
    close (pool->dirfd);
  pool->dirfd = -1;
  pool->kind = POOL_PLAIN;
  snprintf (pool->why, sizeof pool->why, "%s", why->msg);
  pool->dir = islet_xasprintf ("%s/volumes", state);
  return open_pool_dir (pool, err);
}

static int
open_on_host (struct islet_disk_pool *pool, const char *state, struct islet_err *err)
{
  struct islet_err why = { 0 };

  pool->dir = islet_xasprintf ("%s/volumes", state);
  if (open_pool_dir (pool, err) < 0)
    return -1;
  if (quota_enable (pool->dirfd) < 0)
    {
      islet_fail (&why, ISLET_E_SYSTEM, errno, "enable btrfs quotas on `%s`", state);
      return fall_back (pool, state, &why, err);
    }
  pool->kind = POOL_HOST;
  open_qgroups_dir (pool);
  return 0;
}

/* Take <state>/pool.lock, so that two islet processes starting at once do
 * not both format or mount the pool.  Returns the fd that holds it. */
static int
lock_state (const char *state, struct islet_err *err)
{
  cleanup_free char *path = islet_xasprintf ("%s/pool.lock", state);
  cleanup_close int fd = open (path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  uint64_t deadline = islet_now_ns () + LOCK_TIMEOUT_NS;

  if (fd < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "open `%s`", path);
  while (flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      if (errno != EWOULDBLOCK && errno != EINTR)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "lock `%s`", path);
      if (islet_now_ns () > deadline)
        return islet_fail (err, ISLET_E_CONFLICT, ETIMEDOUT, "lock `%s`: another islet holds it",
                           path);
      sleep_ms (10);
    }
  return islet_take_fd (&fd);
}

/* Undo mountinfo's octal escapes (\040 for a space and so on) in place. */
static void
unescape_octal (char *s)
{
  char *w = s;

  for (; *s; s++)
    {
      if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0'
          && s[3] <= '7')
        {
          *w++ = (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
          s += 3;
        }
      else
        *w++ = *s;
    }
  *w = '\0';
}

/* Find the topmost mount at `path` in this mount namespace.  Returns 1
 * and fills *fstype and *source (malloc'd) when there is one, else 0. */
static int
find_mount (const char *path, char **fstype, char **source, struct islet_err *err)
{
  cleanup_fclose FILE *f = fopen ("/proc/self/mountinfo", "re");
  cleanup_free char *line = NULL;
  size_t cap = 0;
  int found = 0;

  if (f == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open /proc/self/mountinfo");
  while (getline (&line, &cap, f) > 0)
    {
      /* id parent dev root mountpoint options [optional...] - fstype source superopts */
      char *fields[64], *rest = line, *tok;
      int n = 0, dash = -1;

      line[strcspn (line, "\n")] = '\0';
      while ((tok = strsep (&rest, " ")) != NULL && n < 64)
        {
          if (dash < 0 && n >= 6 && strcmp (tok, "-") == 0)
            dash = n;
          fields[n++] = tok;
        }
      if (dash < 0 || dash + 2 >= n)
        continue;
      unescape_octal (fields[4]);
      if (strcmp (fields[4], path) != 0)
        continue;
      unescape_octal (fields[dash + 2]);
      free (*fstype);
      free (*source);
      *fstype = islet_xstrdup (fields[dash + 1]);
      *source = islet_xstrdup (fields[dash + 2]);
      found = 1;
    }
  return found;
}

static int
pool_size (const char *state, uint64_t *size, struct islet_err *err)
{
  const char *env = getenv ("ISLET_POOL_SIZE");
  struct statvfs sv;
  uint64_t half;

  if (env && *env)
    {
      if (islet_parse_u64 (env, (uint64_t) INT64_MAX, size, err) < 0)
        return islet_wrap (err, "ISLET_POOL_SIZE");
      if (*size < POOL_SIZE_MIN)
        return islet_fail (err, ISLET_E_INVALID, 0, "ISLET_POOL_SIZE: %s bytes is less than 1 GiB",
                           env);
      return 0;
    }
  if (statvfs (state, &sv) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "statvfs `%s`", state);
  /* the image is sparse, so its size only bounds what islet may ever take
   * from the host's disk; half of what is free leaves the host room */
  half = (uint64_t) sv.f_bavail * sv.f_frsize / 2;
  *size = half > POOL_SIZE_DEFAULT_MAX ? POOL_SIZE_DEFAULT_MAX : half;
  if (*size < POOL_SIZE_MIN)
    *size = POOL_SIZE_MIN;
  *size -= *size % MIB;
  return 0;
}

static char *
find_program (const char *name)
{
  static const char fallback_path[]
      = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin";
  const char *env = getenv ("PATH");
  cleanup_free char *path = islet_xasprintf ("%s:%s", env ? env : "", fallback_path);
  char *dir, *rest = path;

  /* daemons often run with a PATH that lacks the sbin directories */
  while ((dir = strsep (&rest, ":")) != NULL)
    {
      char *candidate;

      if (*dir != '/')
        continue;
      candidate = islet_xasprintf ("%s/%s", dir, name);
      if (access (candidate, X_OK) == 0)
        return candidate;
      free (candidate);
    }
  return NULL;
}

/* Run a program (no shell) with stdin and stdout on /dev/null; on failure
 * the error carries the end of what it wrote to stderr. */
static int
run_program (char *const argv[], struct islet_err *err)
{
  char out[2048];
  size_t used = 0;
  int fds[2], errfds[2], status = 0, child_errno = 0;
  pid_t pid;

  if (pipe2 (fds, O_CLOEXEC) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "pipe");
  /* errfds carries the errno of a child that failed before exec; a
   * successful exec closes it empty */
  if (pipe2 (errfds, O_CLOEXEC) < 0)
    {
      int e = errno;
      close (fds[0]);
      close (fds[1]);
      return islet_fail (err, ISLET_E_SYSTEM, e, "pipe");
    }
  pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (fds[0]);
      close (fds[1]);
      close (errfds[0]);
      close (errfds[1]);
      return islet_fail (err, ISLET_E_SYSTEM, e, "fork");
    }
  if (pid == 0)
    {
      /* only async-signal-safe calls: the parent may have threads */
      int null = open ("/dev/null", O_RDWR);
      if (null < 0 || dup2 (null, 0) < 0 || dup2 (null, 1) < 0 || dup2 (fds[1], 2) < 0)
        {
          int e = errno;
          (void) !write (errfds[1], &e, sizeof e);
          _exit (126);
        }
      close_range (3, ~0U, CLOSE_RANGE_CLOEXEC);
      execv (argv[0], argv);
      {
        int e = errno;
        (void) !write (errfds[1], &e, sizeof e);
      }
      _exit (127);
    }
  close (fds[1]);
  close (errfds[1]);
  while (read (errfds[0], &child_errno, sizeof child_errno) < 0 && errno == EINTR)
    ;
  close (errfds[0]);
  for (;;)
    {
      ssize_t n = read (fds[0], out + used, sizeof out - 1 - used);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      used += (size_t) n;
      if (used == sizeof out - 1) /* keep the end, where the error is */
        {
          memmove (out, out + sizeof out / 2, used - sizeof out / 2);
          used -= sizeof out / 2;
        }
    }
  close (fds[0]);
  out[used] = '\0';
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "wait for `%s`", argv[0]);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  if (child_errno != 0)
    return islet_fail (err, islet_errkind_from_errno (child_errno), child_errno, "run `%s`",
                       argv[0]);
  for (char *p = out; *p; p++)
    if (*p == '\n')
      *p = ' ';
  if (WIFEXITED (status))
    return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s` exited with %d: %s", argv[0],
                       WEXITSTATUS (status), out);
  return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s` killed by signal %d", argv[0],
                     WTERMSIG (status));
}

/* Make the sparse image, formatted under a temporary name so that a crash
 * midway never leaves a pool.img that is not a file system. */
static int
make_image (const char *image, uint64_t size, struct islet_err *err)
{
  cleanup_free char *tmp = islet_xasprintf ("%s.tmp", image);
  cleanup_free char *mkfs = NULL;
  cleanup_close int fd = -1;

  if (access (image, F_OK) == 0)
    return 0;
  mkfs = find_program ("mkfs.btrfs");
  if (mkfs == NULL)
    return islet_fail (err, ISLET_E_NOTFOUND, ENOENT,
                       "find mkfs.btrfs (is btrfs-progs installed?)");
  fd = open (tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create `%s`", tmp);
  if (ftruncate (fd, (off_t) size) < 0)
    {
      int e = errno;
      (void) unlink (tmp);
      return islet_fail (err, ISLET_E_SYSTEM, e, "size `%s`", tmp);
    }
  {
    /* single profiles: DUP metadata would only double the writes of a
     * scratch file system that lives on one host disk anyway; -K skips
     * discarding a file that is all holes */
    char *argv[] = { mkfs, "-q", "-K", "-L", "islet-pool", "-m", "single", "-d", "single",
                     tmp, NULL };
    if (run_program (argv, err) < 0)
      {
        (void) unlink (tmp);
        return -1;
      }
  }
  if (rename (tmp, image) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "rename `%s`", tmp);
  return 0;
}

/* Bind a free loop device to image with autoclear, so the kernel frees the
 * device when the last user (the mount) goes.  Returns the open device,
 * which keeps it bound until then, and its number in *index. */
static int
loop_attach (const char *image, int *index, struct islet_err *err)
{
  cleanup_close int ctl = -1;
  cleanup_close int backing = open (image, O_RDWR | O_CLOEXEC);
  int attempt;

  if (backing < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", image);
  ctl = open ("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0)
    return islet_fail (err, errno == ENOENT ? ISLET_E_NOTFOUND : ISLET_E_SYSTEM, errno,
                       "open /dev/loop-control");
  /* another process may take the free device between the two calls */
  for (attempt = 0; attempt < 16; attempt++)
    {
      cleanup_close int fd = -1;
      cleanup_free char *path = NULL;
      struct loop_config cfg;
      int r, n = ioctl (ctl, LOOP_CTL_GET_FREE);

      if (n < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "get a free loop device");
      path = islet_xasprintf ("/dev/loop%d", n);
      fd = open (path, O_RDWR | O_CLOEXEC);
      if (fd < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
      memset (&cfg, 0, sizeof cfg);
      cfg.fd = (uint32_t) backing;
      snprintf ((char *) cfg.info.lo_file_name, sizeof cfg.info.lo_file_name, "%s", image);
      /* direct I/O keeps the image's blocks out of the host page cache,
       * which already holds them once as btrfs pages */
      cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
      r = ioctl (fd, LOOP_CONFIGURE, &cfg);
      if (r < 0 && errno == EINVAL)
        {
          cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
          r = ioctl (fd, LOOP_CONFIGURE, &cfg);
        }
      if (r < 0 && errno == EBUSY)
        continue;
      if (r < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "bind `%s` to `%s`", path, image);
      *index = n;
      return islet_take_fd (&fd);
    }
  return islet_fail (err, ISLET_E_SYSTEM, EBUSY, "bind a loop device to `%s`", image);
}

static int
mount_image (const char *image, const char *mnt, struct islet_err *err)
{
  cleanup_close int loop = -1;
  cleanup_free char *dev = NULL;
  int index = -1;

  if (mkdir (mnt, 0700) < 0 && errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", mnt);
  loop = loop_attach (image, &index, err);
  if (loop < 0)
    return -1;
  dev = islet_xasprintf ("/dev/loop%d", index);
  /* nosuid/nodev: nothing in the pool is meant to run or open on the host.
   * discard=async gives the space of deleted files back to the host (the
   * loop device punches holes in the image). */
  if (mount (dev, mnt, "btrfs", MS_NOSUID | MS_NODEV | MS_NOATIME, "discard=async") < 0)
    {
      int e = errno;
      (void) ioctl (loop, LOOP_CLR_FD, 0);
      return islet_fail (err, ISLET_E_SYSTEM, e, "mount `%s` (`%s`) on `%s`", dev, image, mnt);
    }
  return 0;
}

/* Whether a failure to set up the pool means this machine cannot have a
 * btrfs pool at all: no mkfs.btrfs, no btrfs in the kernel, no loop
 * devices.  Anything else (EIO, ENOSPC, EPERM...) may pass or needs fixing,
 * and is reported. */
static bool
btrfs_unavailable (const struct islet_err *why)
{
  return why->kind == ISLET_E_NOTFOUND || why->errnum == ENODEV || why->errnum == ENXIO;
}

static int
open_loop (struct islet_disk_pool *pool, const char *state, struct islet_err *err)
{
  cleanup_free char *image = islet_xasprintf ("%s/pool.img", state);
  cleanup_free char *fstype = NULL;
  cleanup_free char *source = NULL;
  cleanup_close int lock = -1;
  struct islet_err why = { 0 };
  uint64_t size;
  int mounted;

  pool->dir = islet_xasprintf ("%s/pool", state);
  if (pool_size (state, &size, err) < 0)
    return -1;
  lock = lock_state (state, err);
  if (lock < 0)
    return -1;
  mounted = find_mount (pool->dir, &fstype, &source, err);
  if (mounted < 0)
    return -1;
  if (mounted && strcmp (fstype, "btrfs") != 0)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "`%s` is already a %s mount", pool->dir, fstype);
  if (!mounted)
    {
      bool had_image = access (image, F_OK) == 0;

      if (make_image (image, size, &why) < 0 || mount_image (image, pool->dir, &why) < 0)
        {
          islet_wrap (&why, "set up the btrfs pool `%s`", image);
          /* Only a machine that cannot have btrfs at all gets plain
           * directories; any other failure (or a pool that exists
           * already) is an error, never a silent loss of the disk limit. */
          if (had_image || !btrfs_unavailable (&why))
            {
              *err = why;
              return -1;
            }
          (void) unlink (image);
          return fall_back (pool, state, &why, err);
        }
    }
  if (open_pool_dir (pool, err) < 0)
    return -1;
  if (quota_enable (pool->dirfd) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "enable btrfs quotas on `%s`", pool->dir);
  pool->kind = POOL_LOOP;
  if (!mounted)
    rescan_if_inconsistent (pool->dirfd);
  open_qgroups_dir (pool);
  return 0;
}

int
islet_disk_pool_open (const char *state_dir, struct islet_disk_pool **out, struct islet_err *err)
{
  cleanup_pool struct islet_disk_pool *pool = NULL;
  cleanup_free char *state = NULL;
  struct statfs sfs;
  int r;

  if (islet_mkdir_p (state_dir, 0700, err) < 0)
    return islet_wrap (err, "open disk pool");
  /* mountinfo shows canonical paths */
  state = realpath (state_dir, NULL);
  if (state == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open disk pool: resolve `%s`", state_dir);
  if (statfs (state, &sfs) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open disk pool: statfs `%s`", state);
  pool = islet_xcalloc (1, sizeof *pool);
  pool->dirfd = -1;
  pool->qgroups_fd = -1;
  if (sfs.f_type == BTRFS_SUPER_MAGIC)
    r = open_on_host (pool, state, err);
  else
    r = open_loop (pool, state, err);
  if (r < 0)
    return islet_wrap (err, "open disk pool in `%s`", state);
  *out = islet_take_ptr (&pool);
  return 0;
}

void
islet_disk_pool_free (struct islet_disk_pool *pool)
{
  if (pool == NULL)
    return;
  if (pool->dirfd >= 0)
    close (pool->dirfd);
  if (pool->qgroups_fd >= 0)
    close (pool->qgroups_fd);
  free (pool->dir);
  free (pool);
}

bool
islet_disk_enforced (const struct islet_disk_pool *pool)
{
  return pool->kind != POOL_PLAIN;
}

const char *
islet_disk_unenforced_reason (const struct islet_disk_pool *pool)
{
  return pool->kind == POOL_PLAIN ? pool->why : NULL;
}

/* Volumes. */

char *
islet_disk_path (const struct islet_disk_pool *pool, const char *id)
{
  return islet_xasprintf ("%s/%s", pool->dir, id);
}

/* Roll back a half-made volume, keeping the error that caused it. */
static int
undo_create (struct islet_disk_pool *pool, const char *id, struct islet_err *err)
{
  struct islet_err undo = { 0 };
  char msg[sizeof err->msg];
  int errnum;

  if (delete_subvol (pool->dirfd, id, &undo) == 0 || err == NULL)
    return -1;
  errnum = err->errnum;
  memcpy (msg, err->msg, sizeof msg);
  islet_fail (err, err->kind, 0, "%s (and rolling back failed: %s)", msg, undo.msg);
  err->errnum = errnum;
  return -1;
}

int
islet_disk_create (struct islet_disk_pool *pool, const char *id, uint64_t limit_bytes,
                   char **path, struct islet_err *err)
{
  cleanup_close int fd = -1;

  if (check_id (id, err) < 0)
    return -1;
  if (pool->kind == POOL_PLAIN)
    {
      if (mkdirat (pool->dirfd, id, 0700) < 0)
        return islet_fail (err, islet_errkind_from_errno (errno), errno, "create volume `%s`", id);
      *path = islet_disk_path (pool, id);
      return 0;
    }
  /* with quotas on, the kernel gives the new subvolume its qgroup */
  if (subvol_create (pool->dirfd, id) < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "create subvolume `%s/%s`",
                       pool->dir, id);
  fd = openat (pool->dirfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "open subvolume `%s/%s`", pool->dir, id);
      return undo_create (pool, id, err);
    }
  /* the mode would otherwise follow our umask */
  if (fchmod (fd, 0700) < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "chmod subvolume `%s/%s`", pool->dir, id);
      return undo_create (pool, id, err);
    }
  if (limit_bytes && qgroup_limit (fd, limit_bytes) < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "limit subvolume `%s/%s` to %llu bytes", pool->dir,
                  id, (unsigned long long) limit_bytes);
      return undo_create (pool, id, err);
    }
  *path = islet_disk_path (pool, id);
  return 0;
}

int
islet_disk_set_limit (struct islet_disk_pool *pool, const char *id, uint64_t limit_bytes,
                      struct islet_err *err)
{
  cleanup_close int fd = open_volume (pool, id, err);

  if (fd < 0)
    return -1;
  if (pool->kind == POOL_PLAIN)
    return 0;
  if (qgroup_limit (fd, limit_bytes) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "limit volume `%s` to %llu bytes", id,
                       (unsigned long long) limit_bytes);
  return 0;
}

static int
read_rfer (uint64_t offset, const void *item, uint32_t len, void *data)
{
  struct btrfs_qgroup_info_item info;
  uint64_t *out = data;

  if (len >= sizeof info)
    {
      memcpy (&info, item, sizeof info);
      out[0] = le64toh (info.rfer);
      out[1] = 1;
    }
  return 1;
}

/* Data reserved for writes that are not committed yet, from sysfs; 0 when
 * sysfs does not tell. */
static uint64_t
pending_bytes (const struct islet_disk_pool *pool, uint64_t sid)
{
  cleanup_free char *name = NULL;
  cleanup_free char *text = NULL;
  struct islet_err ignored;
  uint64_t v = 0;

  if (pool->qgroups_fd < 0)
    return 0;
  name = islet_xasprintf ("0_%llu/rsv_data", (unsigned long long) sid);
  if (islet_read_file_at (pool->qgroups_fd, name, 64, &text, NULL, &ignored) < 0)
    return 0;
  text[strcspn (text, "\n")] = '\0';
  if (islet_parse_u64 (text, UINT64_MAX, &v, &ignored) < 0)
    return 0;
  return v;
}

static __thread uint64_t du_total;

static int
du_add (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  du_total += (uint64_t) st->st_blocks * 512;
  return 0;
}

/* Usage as the quota counts it: the referenced bytes of the volume's
 * qgroup (data extents and the subvolume's metadata blocks), which btrfs
 * updates at each transaction commit (every 30 s by default, or at sync),
 * plus the data reserved for writes since then (sysfs rsv_data), which is
 * also what the limit is checked against.  An overwrite counts twice
 * until the commit frees the old extent. */
int
islet_disk_usage (struct islet_disk_pool *pool, const char *id, uint64_t *used,
                  struct islet_err *err)
{
  cleanup_close int fd = open_volume (pool, id, err);
  uint64_t sid, rfer[2] = { 0, 0 };

  if (fd < 0)
    return -1;
  if (pool->kind == POOL_PLAIN)
    {
      cleanup_free char *path = islet_disk_path (pool, id);
      du_total = 0;
      if (nftw (path, du_add, 16, FTW_PHYS | FTW_MOUNT) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "measure volume `%s`", id);
      *used = du_total;
      return 0;
    }
  if (subvol_id (fd, &sid) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "look up volume `%s`", id);
  if (tree_walk (fd, BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_INFO_KEY, sid, sid, read_rfer, rfer)
      < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "read the qgroup of volume `%s`", id);
  if (!rfer[1])
    return islet_fail (err, ISLET_E_SYSTEM, 0, "volume `%s` has no qgroup", id);
  *used = rfer[0] + pending_bytes (pool, sid);
  return 0;
}

int
islet_disk_destroy (struct islet_disk_pool *pool, const char *id, struct islet_err *err)
{
  if (check_id (id, err) < 0)
    return -1;
  if (delete_entry (pool->dirfd, pool->dir, id, err) < 0)
    return islet_wrap (err, "destroy volume `%s`", id);
  return 0;
}

/* Pool removal. */

/* The loop device ("loop3") bound to image, or NULL. */
static char *
loop_of_image (const char *image)
{
  cleanup_dir DIR *d = opendir ("/sys/block");
  struct dirent *de;

  if (d == NULL)
    return NULL;
  while ((de = readdir (d)) != NULL)
    {
      cleanup_free char *file = NULL;
      cleanup_free char *text = NULL;
      struct islet_err ignored;

      if (strncmp (de->d_name, "loop", 4) != 0)
        continue;
      file = islet_xasprintf ("%s/loop/backing_file", de->d_name);
      if (islet_read_file_at (dirfd (d), file, PATH_MAX + 32, &text, NULL, &ignored) < 0)
        continue;
      text[strcspn (text, "\n")] = '\0';
      if (strcmp (text, image) == 0)
        return islet_xstrdup (de->d_name);
    }
  return NULL;
}

/* Unmount islet's pool at mnt.  Returns 1 if a mount there is not islet's
 * image (someone's own btrfs, left mounted), else 0. */
static int
unmount_pool (const char *mnt, const char *image, struct islet_err *err)
{
  int i;

  for (i = 0; i < 16; i++)
    {
      cleanup_free char *fstype = NULL;
      cleanup_free char *source = NULL;
      cleanup_free char *loop = NULL;
      int r = find_mount (mnt, &fstype, &source, err);

      if (r <= 0)
        return r;
      loop = loop_of_image (image);
      if (loop == NULL || strncmp (source, "/dev/", 5) != 0 || strcmp (source + 5, loop) != 0)
        return 1;
      /* never lazily: a detached but live pool would keep the loop device
       * and the image's space with nothing left to show for it */
      if (umount2 (mnt, UMOUNT_NOFOLLOW) < 0)
        {
          if (errno == EBUSY)
            return islet_fail (err, ISLET_E_CONFLICT, EBUSY,
                               "unmount `%s`: still in use (running sandboxes or open files?)",
                               mnt);
          return islet_fail (err, ISLET_E_SYSTEM, errno, "unmount `%s`", mnt);
        }
    }
  return islet_fail (err, ISLET_E_SYSTEM, 0, "unmount `%s`: too many mounts stacked there", mnt);
}

/* Autoclear releases the loop device when its last user goes; a copy of
 * the mount in another mount namespace is such a user. */
static int
wait_loop_released (const char *image, struct islet_err *err)
{
  uint64_t deadline = islet_now_ns () + LOOP_RELEASE_TIMEOUT_NS;

  for (;;)
    {
      cleanup_free char *loop = loop_of_image (image);
      if (loop == NULL)
        return 0;
      if (islet_now_ns () > deadline)
        return islet_fail (err, ISLET_E_CONFLICT, EBUSY,
                           "`%s` is still bound to /dev/%s (mounted in another mount namespace?)",
                           image, loop);
      sleep_ms (10);
    }
}

/* Delete every volume in dir, then dir itself unless keep_dir. */
static int
remove_volumes (const char *dir, bool keep_dir, struct islet_err *err)
{
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;

  if (d == NULL)
    {
      if (errno == ENOENT)
        return 0;
      return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dir);
    }
  while ((errno = 0, de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (delete_entry (dirfd (d), dir, de->d_name, err) < 0)
        return -1;
    }
  if (errno != 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "read `%s`", dir);
  if (!keep_dir && rmdir (dir) < 0 && errno != ENOENT)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "rmdir `%s`", dir);
  return 0;
}

static int
remove_pool_files (const char *state, struct islet_err *err)
{
  cleanup_free char *mnt = islet_xasprintf ("%s/pool", state);
  cleanup_free char *image = islet_xasprintf ("%s/pool.img", state);
  cleanup_free char *tmp = islet_xasprintf ("%s/pool.img.tmp", state);
  cleanup_free char *volumes = islet_xasprintf ("%s/volumes", state);
  int foreign = unmount_pool (mnt, image, err);

  if (foreign < 0)
    return -1;
  if (foreign)
    {
      if (remove_volumes (mnt, true, err) < 0)
        return -1;
    }
  else
    {
      if (wait_loop_released (image, err) < 0)
        return -1;
      if (islet_rm_rf (mnt, err) < 0)
        return -1;
    }
  if (unlink (image) < 0 && errno != ENOENT)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "unlink `%s`", image);
  if (unlink (tmp) < 0 && errno != ENOENT)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "unlink `%s`", tmp);
  return remove_volumes (volumes, false, err);
}

int
islet_disk_pool_remove (const char *state_dir, struct islet_err *err)
{
  cleanup_free char *state = realpath (state_dir, NULL);
  cleanup_close int lock = -1;

  if (state == NULL)
    {
      if (errno == ENOENT)
        return 0;
      return islet_fail (err, ISLET_E_SYSTEM, errno, "remove disk pool: resolve `%s`", state_dir);
    }
  /* pool.lock itself stays: unlinking it would let a process that waits on
   * the old file and one that makes a new file both go ahead */
  lock = lock_state (state, err);
  if (lock < 0 || remove_pool_files (state, err) < 0)
    return islet_wrap (err, "remove disk pool in `%s`", state);
  return 0;
}
