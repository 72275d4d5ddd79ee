/* The btrfs ioctls of the disk pool: walking a tree, subvolumes (made,
 * found, deleted with what is nested in them) and qgroups (limits, quota
 * on, rescans).  Nothing here knows about state directories. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/magic.h>

#include "disk_internal.h"
#include "islet/util.h"

#define NESTED_DEPTH_MAX 64

/* btrfs ioctl helpers.  Each returns -1 with errno set, so that the caller
 * builds the error with its own context. */

/* Call fn on each item with key (objectid, type, off) for off in
 * [min_off, max_off] of one btrfs tree, in key order, until fn returns 1.
 * Needs CAP_SYS_ADMIN. */
int
btrfs_tree_walk (int fd, uint64_t tree, uint64_t objectid, uint32_t type, uint64_t min_off,
                 uint64_t max_off, btrfs_item_fn fn, void *data)
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

int
btrfs_subvol_id (int fd, uint64_t *id)
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

int
btrfs_subvol_create (int dirfd, const char *name)
{
  struct btrfs_ioctl_vol_args args;

  memset (&args, 0, sizeof args);
  strcpy (args.name, name); /* check_id bounds the length */
  return ioctl (dirfd, BTRFS_IOC_SUBVOL_CREATE, &args);
}

/* Snapshot the subvolume srcfd as `name` in dirfd, read-only or writable.
 * Copy-on-write: no data is copied.  The kernel writes the source's dirty
 * pages out first, so what was written before the call is in it, and every
 * file is taken at the same instant (what a crash at that instant would
 * leave on disk). */
int
btrfs_snapshot (int dirfd, const char *name, int srcfd, bool rdonly)
{
  struct btrfs_ioctl_vol_args_v2 args;

  memset (&args, 0, sizeof args);
  args.fd = srcfd;
  args.flags = rdonly ? BTRFS_SUBVOL_RDONLY : 0;
  strcpy (args.name, name); /* check_id bounds the length */
  return ioctl (dirfd, BTRFS_IOC_SNAP_CREATE_V2, &args);
}

/* Limit the qgroup of fd's subvolume (qgroupid 0 means "fd's own").
 * Referenced rather than exclusive bytes: for a lone subvolume they are
 * equal, and once extents are shared (a snapshot of a volume, say) the
 * referenced count stays what the sandbox sees, while the exclusive one
 * would jump over the limit whenever the other sharer is deleted. */
int
btrfs_qgroup_limit (int fd, uint64_t limit)
{
  struct btrfs_ioctl_qgroup_limit_args args;

  memset (&args, 0, sizeof args);
  args.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
  args.lim.max_rfer = limit ? limit : UINT64_MAX; /* all ones clears it */
  return ioctl (fd, BTRFS_IOC_QGROUP_LIMIT, &args);
}

int
btrfs_quota_enable (int fd)
{
  struct btrfs_ioctl_quota_ctl_args args = { .cmd = BTRFS_QUOTA_CTL_ENABLE };

  /* returns 0 at once when quotas are already on */
  return ioctl (fd, BTRFS_IOC_QUOTA_CTL, &args);
}

static int
collect_offset (uint64_t offset, const void *item, uint32_t len, void *data)
{
  struct btrfs_ids *l = data;

  l->v = islet_xrealloc (l->v, (l->n + 1) * sizeof *l->v);
  l->v[l->n++] = offset;
  return 0;
}

int
btrfs_list_offsets (int fd, uint64_t tree, uint64_t objectid, uint32_t type, struct btrfs_ids *out)
{
  return btrfs_tree_walk (fd, tree, objectid, type, 0, UINT64_MAX, collect_offset, out);
}

/* Any owner of a directory in a volume may make a subvolume there (the
 * SUBVOL_CREATE ioctl needs no privilege), and it blocks deleting the
 * volume with ENOTEMPTY: delete those first, deepest first, by id. */
static int
delete_nested (int fd, uint64_t parent, int depth, struct islet_err *err)
{
  cleanup_btrfs_ids struct btrfs_ids ids = { NULL, 0 };
  size_t i;

  if (depth > NESTED_DEPTH_MAX)
    return islet_fail (err, ISLET_E_SYSTEM, ELOOP, "subvolumes nested too deep");
  if (btrfs_list_offsets (fd, BTRFS_ROOT_TREE_OBJECTID, parent, BTRFS_ROOT_REF_KEY, &ids) < 0)
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
int
btrfs_delete_subvol (int dirfd, const char *name, struct islet_err *err)
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
  if (btrfs_subvol_id (fd, &id) < 0)
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
int
disk_delete_entry (int dirfd, const char *dir, const char *name, struct islet_err *err)
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
    return btrfs_delete_subvol (dirfd, name, err);
  path = islet_xasprintf ("%s/%s", dir, name);
  return islet_rm_rf (path, err);
}

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
void
btrfs_rescan_if_inconsistent (int fd)
{
  struct btrfs_ioctl_quota_rescan_args rescan;
  uint64_t flags = 0;

  if (btrfs_tree_walk (fd, BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_STATUS_KEY, 0, 0,
                       read_status_flags, &flags)
      < 0)
    return;
  if (!(flags & BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT) || (flags & BTRFS_QGROUP_STATUS_FLAG_RESCAN))
    return;
  memset (&rescan, 0, sizeof rescan);
  (void) ioctl (fd, BTRFS_IOC_QUOTA_RESCAN, &rescan);
}

/* A snapshot writes out its source's dirty pages first: with the
 * kernel's default bound (a share of all memory) a sandbox that just wrote
 * 200 MiB made the snapshot ioctl wait about 0.4 s for them.  Bounded per
 * pool, the writeback happens while the sandbox writes (which then goes at
 * the disk's pace past the bound) and a snapshot has little left to flush:
 * past a few MiB, that write-out is most of the ioctl's time (the rest is
 * the commit's two flushes of the loop device, each an fsync of the image).
 * The bdi is the pool's own file system's, so nothing host-wide changes. */
void
btrfs_bound_dirty (int fd, uint64_t bytes)
{
  struct btrfs_ioctl_fs_info_args info = { 0 };
  const unsigned char *u = info.fsid;
  char dir[128], value[32];
  static const char *const files[] = { "max_bytes", "strict_limit" };

  if (ioctl (fd, BTRFS_IOC_FS_INFO, &info) < 0)
    return;
  snprintf (
      dir, sizeof dir,
      "/sys/fs/btrfs/%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x/bdi",
      u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
      u[15]);
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    {
      cleanup_free char *path = islet_xasprintf ("%s/%s", dir, files[i]);
      cleanup_close int f = open (path, O_WRONLY | O_CLOEXEC);
      int n = snprintf (value, sizeof value, "%llu", i == 0 ? (unsigned long long) bytes : 1ULL);

      if (f >= 0)
        (void) !write (f, value, (size_t) n);
    }
}
