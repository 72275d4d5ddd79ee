/* The pool's space on the host (loop pools).  The image is allocated in
 * full (fallocate) and mounted without discard, so every block btrfs may
 * write is the host's already: a host disk that fills up (by a log, another
 * program, or a sandbox) cannot fail a write of the loop device, which
 * would abort the btrfs transaction, lose writes already acknowledged and
 * leave the pool read-only.  The pool grows, at creates, to hold every
 * volume's limit (while the host has room for it: the pool holds at most
 * half of what the host's file system has free beyond a reserve, the
 * pool's own bytes counted as free), and a create is refused with
 * ENOSPC when the pool is full and cannot grow. */
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
#include <sys/statvfs.h>
#include <unistd.h>

#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/loop.h>

#include "disk_internal.h"
#include "islet/util.h"

/* What btrfs needs besides the volumes' data: metadata and system chunks. */
#define POOL_BASE (96 * MIB)
/* A create is refused when the pool has less than this free. */
#define POOL_FREE_MIN (16 * MIB)
#define HOST_RESERVE_MAX GIB
/* ...and when the host's own file system has less than this free. */
#define HOST_FREE_MIN (16 * MIB)

uint64_t
disk_share (uint64_t avail, uint64_t total, uint64_t held)
{
  uint64_t reserve, share;

  /* 5% of the host file system, at most 1 GiB, stays the host's */
  reserve = total / 20;
  if (reserve > HOST_RESERVE_MAX)
    reserve = HOST_RESERVE_MAX;
  /* the pool's own bytes count as the host's free space: the pool may hold
   * half of all it could have, however many steps it grows in */
  share = avail + held > reserve ? (avail + held - reserve) / 2 : 0;
  return share > held ? share - held : 0;
}

uint64_t
disk_host_room (const char *path, uint64_t held)
{
  struct statvfs sv;

  if (statvfs (path, &sv) < 0)
    return 0;
  return disk_share ((uint64_t) sv.f_bavail * sv.f_frsize, (uint64_t) sv.f_blocks * sv.f_frsize,
                     held);
}

int
disk_allocate (int fd, uint64_t from, uint64_t to)
{
  while (to > from && fallocate (fd, 0, (off_t) from, (off_t) (to - from)) < 0)
    {
      /* a host file system that cannot allocate ahead keeps a sparse pool,
       * as islet had everywhere before (docs/SECURITY.md) */
      if (errno == EOPNOTSUPP)
        return ftruncate (fd, (off_t) to);
      if (errno != EINTR)
        return -1;
    }
  return 0;
}

struct limits
{
  struct btrfs_ids live; /* the subvolumes linked in the top level */
  uint64_t sum;
};

static int
add_limit (uint64_t offset, const void *item, uint32_t len, void *data)
{
  struct btrfs_qgroup_limit_item lim;
  struct limits *l = data;
  uint64_t max;
  size_t i;

  /* level-0 qgroups only: one per subvolume */
  if (len < sizeof lim || (offset >> 48) != 0)
    return 0;
  /* a deleted subvolume's qgroup stays until the cleaner has freed it */
  for (i = 0; i < l->live.n && l->live.v[i] != offset; i++)
    ;
  if (i == l->live.n)
    return 0;
  memcpy (&lim, item, sizeof lim);
  max = le64toh (lim.max_rfer);
  if ((le64toh (lim.flags) & BTRFS_QGROUP_LIMIT_MAX_RFER) && max != UINT64_MAX)
    l->sum += max;
  return 0;
}

/* The sum of the limits of the volumes (the subvolumes in the top level). */
static uint64_t
limits_sum (int fd)
{
  struct limits l = { { NULL, 0 }, 0 };

  if (btrfs_list_offsets (fd, BTRFS_ROOT_TREE_OBJECTID, BTRFS_FS_TREE_OBJECTID, BTRFS_ROOT_REF_KEY,
                          &l.live)
          < 0
      || btrfs_tree_walk (fd, BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_LIMIT_KEY, 0, UINT64_MAX,
                          add_limit, &l)
             < 0)
    l.sum = 0;
  btrfs_ids_free (&l.live);
  return l.sum;
}

/* Grow the image from size to target bytes, allocated, then the loop
 * device and the file system on it. */
static int
grow (struct islet_disk_pool *pool, int img, uint64_t size, uint64_t target, struct islet_err *err)
{
  struct btrfs_ioctl_vol_args args;
  cleanup_free char *loop = NULL;
  cleanup_free char *dev = NULL;
  cleanup_close int ldev = -1;

  if (disk_allocate (img, size, target) < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno,
                       "grow the disk pool `%s` to %llu MiB", pool->image,
                       (unsigned long long) (target / MIB));
  loop = disk_loop_of_image (pool->image);
  if (loop == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "grow the disk pool: no loop device on `%s`",
                       pool->image);
  dev = islet_xasprintf ("/dev/%s", loop);
  ldev = open (dev, O_RDONLY | O_CLOEXEC);
  if (ldev < 0 || ioctl (ldev, LOOP_SET_CAPACITY, 0) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "grow the disk pool: resize `%s`", dev);
  memset (&args, 0, sizeof args);
  strcpy (args.name, "max");
  if (ioctl (pool->dirfd, BTRFS_IOC_RESIZE, &args) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "grow the disk pool: resize btrfs on `%s`",
                       pool->dir);
  return 0;
}

struct pool_space
{
  uint64_t data_free;   /* free in the data chunks */
  uint64_t unallocated; /* in no chunk yet */
  uint64_t meta_free;   /* free in the metadata chunks */
  uint64_t reserve;     /* btrfs's global reserve, taken from metadata */
};

/* How the pool's space is used, from btrfs (a loop pool has one device and
 * single profiles, disk_loop.c); -1 if btrfs will not say. */
static int
pool_space (const struct islet_disk_pool *pool, struct pool_space *ps)
{
  struct
  {
    struct btrfs_ioctl_space_args args;
    struct btrfs_ioctl_space_info info[16];
  } sp;
  struct btrfs_ioctl_dev_info_args dev;
  uint64_t chunks = 0, i;

  memset (ps, 0, sizeof *ps);
  memset (&sp, 0, sizeof sp);
  sp.args.space_slots = 16;
  memset (&dev, 0, sizeof dev);
  dev.devid = 1;
  if (ioctl (pool->dirfd, BTRFS_IOC_SPACE_INFO, &sp) < 0
      || ioctl (pool->dirfd, BTRFS_IOC_DEV_INFO, &dev) < 0)
    return -1;
  for (i = 0; i < sp.args.total_spaces && i < 16; i++)
    {
      const struct btrfs_ioctl_space_info *s = &sp.info[i];
      uint64_t free_bytes = s->total_bytes > s->used_bytes ? s->total_bytes - s->used_bytes : 0;

      if (s->flags & BTRFS_SPACE_INFO_GLOBAL_RSV)
        {
          ps->reserve = s->total_bytes;
          continue;
        }
      chunks += s->total_bytes;
      if (s->flags & BTRFS_BLOCK_GROUP_DATA)
        ps->data_free += free_bytes;
      else if (s->flags & BTRFS_BLOCK_GROUP_METADATA)
        ps->meta_free += free_bytes;
    }
  ps->unallocated = dev.total_bytes > chunks ? dev.total_bytes - chunks : 0;
  return 0;
}

/* What the pool can still take for files: the free space of its data
 * chunks and what no chunk holds yet.  statfs is no measure of it: btrfs
 * answers f_bavail 0 once its metadata chunks cannot grow and their free
 * space is below the global reserve, however empty the data chunks are. */
static uint64_t
pool_free (const struct islet_disk_pool *pool)
{
  struct pool_space ps;
  struct statvfs sv;

  if (pool_space (pool, &ps) == 0)
    return ps.data_free + ps.unallocated;
  if (fstatvfs (pool->dirfd, &sv) < 0)
    return 0;
  return (uint64_t) sv.f_bavail * sv.f_frsize;
}

/* Data chunks may take every byte no chunk held yet (a sandbox that fills
 * the pool does that), and btrfs does not give them back when the files
 * go: the metadata can then neither grow nor hold its reserve, and no
 * subvolume can be made, however empty the pool is.  Such a pool grows by
 * one metadata step even past its share of the host (disk_share), if the
 * host keeps its reserve. */
#define META_STEP (64 * MIB)

static bool
metadata_stuck (const struct islet_disk_pool *pool)
{
  struct pool_space ps;

  return pool_space (pool, &ps) == 0 && ps.unallocated < META_STEP
         && ps.meta_free < 2 * ps.reserve + 4 * MIB;
}

int
disk_reserve (struct islet_disk_pool *pool, uint64_t extra, struct islet_err *err)
{
  cleanup_close int img = -1;
  cleanup_close int lock = -1;
  uint64_t want, target, spare, free_now;
  struct statvfs sv;
  struct stat st;

  /* the state directory's own files (a sandbox's log, isletd's store)
   * live on the host: new work stops before the host is full */
  if (statvfs (pool->state, &sv) == 0 && (uint64_t) sv.f_bavail * sv.f_frsize < HOST_FREE_MIN)
    return islet_fail (err, ISLET_E_LIMIT, ENOSPC,
                       "the host file system of `%s` is full (%llu KiB free)", pool->state,
                       (unsigned long long) ((uint64_t) sv.f_bavail * sv.f_frsize / 1024));
  if (pool->kind != POOL_LOOP)
    return 0;
  want = POOL_BASE + limits_sum (pool->dirfd) + extra;
  want += MIB - 1;
  want -= want % MIB;
  img = open (pool->image, O_RDWR | O_CLOEXEC);
  if (img < 0 || fstat (img, &st) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", pool->image);
  if (want > (uint64_t) st.st_size && (uint64_t) st.st_size < pool->max_size)
    {
      /* one grower at a time, and the size read again under the lock */
      lock = disk_lock_state (pool->state, err);
      if (lock < 0 || fstat (img, &st) < 0)
        return lock < 0 ? -1 : islet_fail (err, ISLET_E_SYSTEM, errno, "stat `%s`", pool->image);
      target = want < pool->max_size ? want : pool->max_size;
      spare = disk_host_room (pool->state, (uint64_t) st.st_size);
      if (target > (uint64_t) st.st_size + spare)
        target = (uint64_t) st.st_size + spare;
      target -= target % MIB;
      if (target < (uint64_t) st.st_size + META_STEP && metadata_stuck (pool)
          && disk_host_room (pool->state, 0) >= META_STEP)
        target = (uint64_t) st.st_size + META_STEP;
      /* a step of less than a few MiB is not worth a resize */
      if (target > (uint64_t) st.st_size + 4 * MIB
          && grow (pool, img, (uint64_t) st.st_size, target, err) < 0)
        return -1;
    }
  free_now = pool_free (pool);
  if (free_now < POOL_FREE_MIN)
    return islet_fail (
        err, ISLET_E_LIMIT, ENOSPC,
        "the disk pool `%s` is full (%llu MiB free) and the host has no room to "
        "grow it (%llu MiB to spare)",
        pool->dir, (unsigned long long) (free_now / MIB),
        (unsigned long long) (disk_host_room (pool->state, (uint64_t) st.st_size) / MIB));
  return 0;
}

bool
islet_disk_readonly (const struct islet_disk_pool *pool)
{
  struct statvfs sv;

  return pool->kind != POOL_PLAIN && fstatvfs (pool->dirfd, &sv) == 0
         && (sv.f_flag & ST_RDONLY) != 0;
}
