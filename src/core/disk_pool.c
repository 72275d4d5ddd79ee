/* The disk pool of a state directory: finding or making it, mounting it,
 * and removing it (see include/islet/disk.h).
 *
 * A state directory holds one of three layouts:
 *   - the state dir is on btrfs: volumes in <state>/volumes, on that file
 *     system, with quotas switched on;
 *   - otherwise <state>/pool.img, a btrfs image allocated in full, loop-mounted at
 *     <state>/pool, with the volumes directly in <state>/pool;
 *   - no btrfs to be had: plain directories in <state>/volumes, no limits.
 *
 * mkfs.btrfs and the loop mount happen once per state directory, under
 * <state>/pool.lock. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/magic.h>

#include "disk_internal.h"
#include "islet/util.h"

#define POOL_SIZE_MIN GIB /* of ISLET_POOL_SIZE */
#define POOL_SIZE_FIRST GIB
#define POOL_SIZE_SMALLEST (128 * MIB)
#define POOL_SIZE_DEFAULT_MAX (64 * GIB)
/* the pool's dirty page cache: what a snapshot may have to write out first
 * (at about 500 MB/s here, 16 MiB is 30 ms; background writeback starts at
 * half of it, so a writer that stopped leaves at most that) */
#define POOL_DIRTY_MAX (16 * MIB)
#define LOCK_TIMEOUT_NS (60ull * 1000000000)

static void
pool_freep (struct islet_disk_pool **p)
{
  islet_disk_pool_free (*p);
}
#define cleanup_pool __attribute__ ((cleanup (pool_freep)))

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
  if (btrfs_quota_enable (pool->dirfd) < 0)
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
int
disk_lock_state (const char *state, struct islet_err *err)
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
      disk_sleep_ms (10);
    }
  return islet_take_fd (&fd);
}

/* The size of a new image, and how far the image may grow: ISLET_POOL_SIZE
 * for both, else 1 GiB (or what the host can spare, if less) growing up to
 * 64 GiB as volumes are made (disk_space.c). */
static int
pool_size (const char *state, uint64_t *size, uint64_t *max, struct islet_err *err)
{
  const char *env = getenv ("ISLET_POOL_SIZE");
  uint64_t spare;

  if (env && *env)
    {
      if (islet_parse_u64 (env, (uint64_t) INT64_MAX, size, err) < 0)
        return islet_wrap (err, "ISLET_POOL_SIZE");
      if (*size < POOL_SIZE_MIN)
        return islet_fail (err, ISLET_E_INVALID, 0, "ISLET_POOL_SIZE: %s bytes is less than 1 GiB",
                           env);
      *size -= *size % MIB;
      *max = *size;
      return 0;
    }
  *max = POOL_SIZE_DEFAULT_MAX;
  spare = disk_host_room (state, 0);
  *size = spare < POOL_SIZE_FIRST ? spare : POOL_SIZE_FIRST;
  *size -= *size % MIB;
  if (*size < POOL_SIZE_SMALLEST)
    return islet_fail (err, ISLET_E_LIMIT, ENOSPC,
                       "no room for a disk pool in `%s`: %llu MiB to spare, %llu MiB needed", state,
                       (unsigned long long) (spare / MIB),
                       (unsigned long long) (POOL_SIZE_SMALLEST / MIB));
  return 0;
}

/* A pool made read-only by a failed write (its transaction aborted, as when
 * a sparse image met a full host disk) stays so until it is mounted anew:
 * unmount it here, then wait for the loop device to go, which it does once
 * no sandbox's mount namespace holds the file system.  Until then, say
 * what to do. */
static int
recover_readonly (const char *mnt, const char *image, struct islet_err *err)
{
  struct islet_err why = { 0 };

  if (umount2 (mnt, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL)
    {
      int e = errno;
      return islet_fail (err, e == EBUSY ? ISLET_E_CONFLICT : ISLET_E_SYSTEM, EROFS,
                         "the disk pool `%s` is read-only (a write to it failed: was the host "
                         "disk full?) and cannot be unmounted to recover (%s)",
                         mnt, strerror (e));
    }
  if (disk_wait_loop_released (image, NULL, &why) < 0)
    return islet_fail (err, ISLET_E_CONFLICT, EROFS,
                       "the disk pool `%s` was read-only (a write to it failed: was the host disk "
                       "full?) and its running sandboxes still hold it: stop them to recover",
                       mnt);
  return 0;
}

static bool
readonly_at (const char *path)
{
  struct statvfs sv;
  return statvfs (path, &sv) == 0 && (sv.f_flag & ST_RDONLY) != 0;
}

/* An image made before images were allocated in full: allocate it now (it
 * is the space the pool was promised); if the host has not that much, the
 * pool stays partly sparse. */
static void
allocate_image (const char *image, uint64_t *size)
{
  cleanup_close int fd = open (image, O_RDWR | O_CLOEXEC);
  struct stat st;

  if (fd < 0 || fstat (fd, &st) < 0)
    return;
  *size = (uint64_t) st.st_size;
  if ((uint64_t) st.st_blocks * 512 < (uint64_t) st.st_size)
    (void) disk_allocate (fd, 0, (uint64_t) st.st_size);
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
  uint64_t size = 0, max = 0;
  int mounted;

  pool->dir = islet_xasprintf ("%s/pool", state);
  pool->image = islet_xstrdup (image);
  lock = disk_lock_state (state, err);
  if (lock < 0)
    return -1;
  mounted = disk_find_mount (pool->dir, &fstype, &source, err);
  if (mounted < 0)
    return -1;
  if (mounted && strcmp (fstype, "btrfs") != 0)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "`%s` is already a %s mount", pool->dir, fstype);
  if (mounted && readonly_at (pool->dir))
    {
      if (recover_readonly (pool->dir, image, err) < 0)
        return -1;
      mounted = 0;
    }
  /* the file system of a pool unmounted to recover is gone once the last
   * sandbox holding it is: mount it anew only then */
  if (!mounted)
    {
      cleanup_free char *loop = disk_loop_of_image (image);
      if (loop != NULL && disk_wait_loop_released (image, NULL, err) < 0)
        return islet_fail (err, ISLET_E_CONFLICT, EROFS,
                           "the disk pool image `%s` is still held (by running sandboxes?): "
                           "stop them to mount it again",
                           image);
    }
  if (access (image, F_OK) == 0)
    allocate_image (image, &size);
  else if (pool_size (state, &size, &max, err) < 0)
    return -1;
  if (max == 0)
    {
      /* an image made before: it grows up to ISLET_POOL_SIZE, or the default */
      const char *env = getenv ("ISLET_POOL_SIZE");
      if (env == NULL || *env == '\0'
          || islet_parse_u64 (env, (uint64_t) INT64_MAX, &max, &why) < 0)
        max = POOL_SIZE_DEFAULT_MAX;
    }
  pool->max_size = max > size ? max : size;
  if (!mounted)
    {
      bool had_image = access (image, F_OK) == 0;

      if (disk_make_image (image, size, &why) < 0 || disk_mount_image (image, pool->dir, &why) < 0)
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
  if (btrfs_quota_enable (pool->dirfd) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "enable btrfs quotas on `%s`", pool->dir);
  pool->kind = POOL_LOOP;
  if (!mounted)
    {
      btrfs_rescan_if_inconsistent (pool->dirfd);
      btrfs_bound_dirty (pool->dirfd, POOL_DIRTY_MAX);
    }
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
  pool->state = islet_xstrdup (state);
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
  free (pool->state);
  free (pool->image);
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

/* Pool removal. */

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
      if (disk_delete_entry (dirfd (d), dir, de->d_name, err) < 0)
        return -1;
    }
  if (errno != 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "read `%s`", dir);
  if (!keep_dir && rmdir (dir) < 0 && errno != ENOENT)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "rmdir `%s`", dir);
  return 0;
}

/* How long the loop device may take to go after the unmount when nothing
 * else holds it (autoclear runs at the last close). */
#define RELEASE_QUICK_NS (50ull * 1000000)

static int
remove_pool_files (const char *state, struct islet_err *err)
{
  cleanup_free char *mnt = islet_xasprintf ("%s/pool", state);
  cleanup_free char *image = islet_xasprintf ("%s/pool.img", state);
  cleanup_free char *tmp = islet_xasprintf ("%s/pool.img.tmp", state);
  cleanup_free char *volumes = islet_xasprintf ("%s/volumes", state);
  int foreign = disk_unmount_pool (mnt, image, err);

  if (foreign < 0)
    return -1;
  if (foreign)
    {
      if (remove_volumes (mnt, true, err) < 0)
        return -1;
    }
  else
    {
      /* with no copy of the mount left the device goes at once */
      cleanup_free char *loop = disk_loop_bound_after (image, RELEASE_QUICK_NS);
      cleanup_free char *holders = loop ? disk_loop_holders (loop) : NULL;

      /* A process that unshared its mounts while the pool was mounted (a
       * server started with unshare -m, say) has a copy of the mount, which
       * keeps the loop device bound for as long as its namespace lives.
       * Removing the mount point detaches every copy mounted on it, in
       * every namespace (the kernel does so for a removed directory), and
       * the device goes with the last one that is not in use. */
      if (islet_rm_rf (mnt, err) < 0)
        return -1;
      if (disk_wait_loop_released (image, holders, err) < 0)
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
  lock = disk_lock_state (state, err);
  if (lock < 0 || remove_pool_files (state, err) < 0)
    return islet_wrap (err, "remove disk pool in `%s`", state);
  return 0;
}
