/* Per-sandbox volumes with a size limit the kernel enforces: one btrfs
 * subvolume per sandbox, limited by its qgroup (see include/islet/disk.h);
 * the pool that holds them is disk_pool.c's.  Only the subvolume and qgroup
 * ioctls run per sandbox. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>

#include "disk_internal.h"
#include "islet/util.h"

/* Volume names become path components and appear in logs: keep them
 * to a boring alphabet so neither can be surprised. */
static int
check_id (const char *id, struct islet_err *err)
{
  if (!islet_name_ok (id, 200))
    return islet_fail (err, ISLET_E_INVALID, 0, "`%s` is not a valid volume name", id ? id : "");
  return 0;
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

  if (btrfs_delete_subvol (pool->dirfd, id, &undo) == 0 || err == NULL)
    return -1;
  errnum = err->errnum;
  memcpy (msg, err->msg, sizeof msg);
  islet_fail (err, err->kind, 0, "%s (and rolling back failed: %s)", msg, undo.msg);
  err->errnum = errnum;
  return -1;
}

/* A new subvolume id: its mode and limit, or rolled back. */
static int
finish_volume (struct islet_disk_pool *pool, const char *id, uint64_t limit_bytes, char **path,
               struct islet_err *err)
{
  cleanup_close int fd = openat (pool->dirfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

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
  if (limit_bytes && btrfs_qgroup_limit (fd, limit_bytes) < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "limit subvolume `%s/%s` to %llu bytes", pool->dir,
                  id, (unsigned long long) limit_bytes);
      return undo_create (pool, id, err);
    }
  *path = islet_disk_path (pool, id);
  return 0;
}

int
islet_disk_create (struct islet_disk_pool *pool, const char *id, uint64_t limit_bytes, char **path,
                   struct islet_err *err)
{

  if (check_id (id, err) < 0)
    return -1;
  if (disk_reserve (pool, limit_bytes, err) < 0)
    return islet_wrap (err, "create volume `%s`", id);
  if (pool->kind == POOL_PLAIN)
    {
      if (mkdirat (pool->dirfd, id, 0700) < 0)
        return islet_fail (err, islet_errkind_from_errno (errno), errno, "create volume `%s`", id);
      *path = islet_disk_path (pool, id);
      return 0;
    }
  /* with quotas on, the kernel gives the new subvolume its qgroup */
  /* EROFS here is the pool's fault (islet_disk_readonly), not the caller's */
  if (btrfs_subvol_create (pool->dirfd, id) < 0)
    return islet_fail (err, errno == EROFS ? ISLET_E_SYSTEM : islet_errkind_from_errno (errno),
                       errno, "create subvolume `%s/%s`", pool->dir, id);
  return finish_volume (pool, id, limit_bytes, path, err);
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
  if (btrfs_qgroup_limit (fd, limit_bytes) < 0)
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
/* The referenced bytes of fd's subvolume's qgroup plus what is reserved
 * for writes not committed yet. */
static int
subvol_usage (struct islet_disk_pool *pool, int fd, const char *id, uint64_t *used,
              struct islet_err *err)
{
  uint64_t sid, rfer[2] = { 0, 0 };

  if (btrfs_subvol_id (fd, &sid) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "look up volume `%s`", id);
  if (btrfs_tree_walk (fd, BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_INFO_KEY, sid, sid, read_rfer,
                       rfer)
      < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "read the qgroup of volume `%s`", id);
  if (!rfer[1])
    return islet_fail (err, ISLET_E_SYSTEM, 0, "volume `%s` has no qgroup", id);
  *used = rfer[0] + pending_bytes (pool, sid);
  return 0;
}

int
islet_disk_usage (struct islet_disk_pool *pool, const char *id, uint64_t *used,
                  struct islet_err *err)
{
  cleanup_close int fd = open_volume (pool, id, err);

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
  return subvol_usage (pool, fd, id, used, err);
}

int
islet_disk_destroy (struct islet_disk_pool *pool, const char *id, struct islet_err *err)
{
  if (check_id (id, err) < 0)
    return -1;
  if (disk_delete_entry (pool->dirfd, pool->dir, id, err) < 0)
    return islet_wrap (err, "destroy volume `%s`", id);
  return 0;
}

/* ---- snapshots: read-only subvolumes in <pool>/.snapshots ---- */

/* A volume name never starts with a dot (check_id), so no volume can be
 * this directory. */
#define SNAP_DIR ".snapshots"

static int
refuse_plain (const struct islet_disk_pool *pool, struct islet_err *err)
{
  return islet_fail (err, ISLET_E_INVALID, 0,
                     "snapshots need a btrfs disk pool, and this one is a plain directory (%s)",
                     pool->why);
}

/* The snapshots' directory, made on first use. */
static int
open_snapdir (const struct islet_disk_pool *pool, struct islet_err *err)
{
  int fd;

  if (mkdirat (pool->dirfd, SNAP_DIR, 0700) < 0 && errno != EEXIST)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "mkdir `%s/%s`", pool->dir,
                       SNAP_DIR);
  fd = openat (pool->dirfd, SNAP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s/%s`", pool->dir, SNAP_DIR);
  return fd;
}

/* Open snapshot snap, which must be a subvolume. */
static int
open_snapshot (const struct islet_disk_pool *pool, const char *snap, struct islet_err *err)
{
  cleanup_close int dir = -1;
  cleanup_close int fd = -1;
  struct stat st;

  if (check_id (snap, err) < 0)
    return -1;
  if (pool->kind == POOL_PLAIN)
    return refuse_plain (pool, err);
  dir = open_snapdir (pool, err);
  if (dir < 0)
    return -1;
  fd = openat (dir, snap, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "open snapshot `%s`", snap);
  if (fstat (fd, &st) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "stat snapshot `%s`", snap);
  if (st.st_ino != BTRFS_FIRST_FREE_OBJECTID)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "snapshot `%s` is not a btrfs subvolume", snap);
  return islet_take_fd (&fd);
}

int
islet_disk_snapshot (struct islet_disk_pool *pool, const char *id, const char *snap,
                     struct islet_err *err)
{
  cleanup_close int vol = -1;
  cleanup_close int dir = -1;

  if (check_id (snap, err) < 0)
    return -1;
  if (pool->kind == POOL_PLAIN)
    return refuse_plain (pool, err);
  vol = open_volume (pool, id, err);
  if (vol < 0)
    return -1;
  dir = open_snapdir (pool, err);
  if (dir < 0)
    return -1;
  if (btrfs_snapshot (dir, snap, vol, true) < 0)
    return islet_fail (err, errno == EROFS ? ISLET_E_SYSTEM : islet_errkind_from_errno (errno),
                       errno, "snapshot volume `%s` as `%s`", id, snap);
  return 0;
}

int
islet_disk_snapshot_usage (struct islet_disk_pool *pool, const char *snap, uint64_t *used,
                           struct islet_err *err)
{
  cleanup_close int fd = open_snapshot (pool, snap, err);

  if (fd < 0)
    return -1;
  return subvol_usage (pool, fd, snap, used, err);
}

int
islet_disk_create_from (struct islet_disk_pool *pool, const char *id, const char *snap,
                        const char *from, uint64_t limit_bytes, char **path, struct islet_err *err)
{
  cleanup_close int src = -1;

  if (check_id (id, err) < 0)
    return -1;
  if (pool->kind == POOL_PLAIN)
    return refuse_plain (pool, err);
  src = snap ? open_snapshot (pool, snap, err) : open_volume (pool, from, err);
  if (src < 0)
    return -1;
  if (disk_reserve (pool, limit_bytes, err) < 0)
    return islet_wrap (err, "create volume `%s`", id);
  if (btrfs_snapshot (pool->dirfd, id, src, false) < 0)
    return islet_fail (err, errno == EROFS ? ISLET_E_SYSTEM : islet_errkind_from_errno (errno),
                       errno, "create volume `%s` from `%s`", id, snap ? snap : from);
  /* its qgroup starts with the source's bytes (the kernel copies the
   * counts) and no limit */
  return finish_volume (pool, id, limit_bytes, path, err);
}

int
islet_disk_snapshot_destroy (struct islet_disk_pool *pool, const char *snap, struct islet_err *err)
{
  cleanup_close int dir = -1;
  cleanup_free char *path = NULL;

  if (check_id (snap, err) < 0)
    return -1;
  if (pool->kind == POOL_PLAIN)
    return 0;
  dir = open_snapdir (pool, err);
  if (dir < 0)
    return -1;
  path = islet_xasprintf ("%s/%s", pool->dir, SNAP_DIR);
  if (disk_delete_entry (dir, path, snap, err) < 0)
    return islet_wrap (err, "delete snapshot `%s`", snap);
  return 0;
}

char *
islet_disk_snapshot_dir (const struct islet_disk_pool *pool)
{
  return islet_xasprintf ("%s/%s", pool->dir, SNAP_DIR);
}
