/* What the files of the disk pool share (src/core/disk*.c): the pool's
 * layout and the btrfs calls that more than one of them makes. */
#ifndef ISLET_DISK_INTERNAL_H
#define ISLET_DISK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "islet/disk.h"

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)

enum pool_kind
{
  POOL_PLAIN, /* plain directories, nothing enforced */
  POOL_LOOP,  /* islet's image, loop-mounted at <state>/pool */
  POOL_HOST,  /* the state directory's own btrfs */
};

struct islet_disk_pool
{
  enum pool_kind kind;
  char *dir;      /* holds the volumes */
  int dirfd;      /* open on dir: the subvolume ioctls work relative to it */
  int qgroups_fd; /* /sys/fs/btrfs/<fsid>/qgroups, or -1 */
  char why[sizeof ((struct islet_err *) 0)->msg]; /* why POOL_PLAIN */
  char *state;                                    /* the state directory */
  char *image;                                    /* POOL_LOOP: <state>/pool.img */
  uint64_t max_size;                              /* POOL_LOOP: the image grows up to this */
};

/* btrfs ioctls (disk_btrfs.c).  Each returns -1 with errno set, so that the
 * caller builds the error with its own context, unless it takes an err. */

/* Called on each item of a walk, in key order, until it returns 1. */
typedef int (*btrfs_item_fn) (uint64_t offset, const void *item, uint32_t len, void *data);

/* Call fn on each item with key (objectid, type, off) for off in
 * [min_off, max_off] of one btrfs tree.  Needs CAP_SYS_ADMIN. */
int btrfs_tree_walk (int fd, uint64_t tree, uint64_t objectid, uint32_t type, uint64_t min_off,
                     uint64_t max_off, btrfs_item_fn fn, void *data);
/* Offsets of all the items (objectid, type, *) of a tree, malloc'd. */
struct btrfs_ids
{
  uint64_t *v;
  size_t n;
};
static inline void
btrfs_ids_free (struct btrfs_ids *l)
{
  free (l->v);
}
#define cleanup_btrfs_ids __attribute__ ((cleanup (btrfs_ids_free)))
int btrfs_list_offsets (int fd, uint64_t tree, uint64_t objectid, uint32_t type,
                        struct btrfs_ids *out);
/* The id of fd's subvolume. */
int btrfs_subvol_id (int fd, uint64_t *id);
int btrfs_subvol_create (int dirfd, const char *name);
/* Snapshot the subvolume srcfd as `name` in dirfd (copy-on-write). */
int btrfs_snapshot (int dirfd, const char *name, int srcfd, bool rdonly);
/* Limit the referenced bytes of fd's subvolume (0: no limit). */
int btrfs_qgroup_limit (int fd, uint64_t limit);
int btrfs_quota_enable (int fd);
/* Start a rescan if the quota counts are marked inconsistent. */
void btrfs_rescan_if_inconsistent (int fd);
/* Bound the dirty page cache of the btrfs that fd is on to bytes (its
 * bdi's max_bytes and strict_limit), best effort. */
void btrfs_bound_dirty (int fd, uint64_t bytes);

/* Delete the subvolume `name` in dirfd with any subvolumes nested in it. */
int btrfs_delete_subvol (int dirfd, const char *name, struct islet_err *err);
/* Delete `name` in dirfd (which is `dir`), a subvolume or not. */
int disk_delete_entry (int dirfd, const char *dir, const char *name, struct islet_err *err);

/* Take <state>/pool.lock (disk_pool.c); returns the fd that holds it. */
int disk_lock_state (const char *state, struct islet_err *err);

/* The pool's space on the host (disk_space.c). */

/* Bytes a pool that holds `held` bytes of a host file system with `avail`
 * of `total` bytes free may still grow by: it may hold half of what is
 * free beyond a reserve the host keeps, its own bytes counted as free, so
 * the host always keeps at least as much free as the pool holds. */
uint64_t disk_share (uint64_t avail, uint64_t total, uint64_t held);
/* The same for the file system that holds path. */
uint64_t disk_host_room (const char *path, uint64_t held);
/* Allocate [from, to) of fd's file; -1 with errno. */
int disk_allocate (int fd, uint64_t from, uint64_t to);
/* Before a volume with limit extra is made: grow the pool to hold every
 * limit if the host has room; ISLET_E_LIMIT/ENOSPC if the pool is full. */
int disk_reserve (struct islet_disk_pool *pool, uint64_t extra, struct islet_err *err);

/* The image and its mount (disk_loop.c). */

void disk_sleep_ms (long ms);
/* Find the topmost mount at `path` in this mount namespace: 1 with *fstype
 * and *source (malloc'd) set, or 0 if there is none. */
int disk_find_mount (const char *path, char **fstype, char **source, struct islet_err *err);
/* Make the image of size bytes, allocated and formatted, unless it exists. */
int disk_make_image (const char *image, uint64_t size, struct islet_err *err);
int disk_mount_image (const char *image, const char *mnt, struct islet_err *err);
/* The loop device ("loop3") bound to image, or NULL with errno saying why
 * (ENXIO: none is; else why a loop device could not be read). */
char *disk_loop_of_image (const char *image);
/* Unmount islet's pool at mnt: 1 if a mount there is not islet's image. */
int disk_unmount_pool (const char *mnt, const char *image, struct islet_err *err);
/* The loop device ("loop3") still bound to image after waiting at most
 * wait_ns for it to go, or NULL. */
char *disk_loop_bound_after (const char *image, uint64_t wait_ns);
/* Who keeps the file system on loop ("loop3") mounted, one process per
 * mount namespace, for a message; NULL if no namespace shows it. */
char *disk_loop_holders (const char *loop);
/* Wait until no loop device is bound to image any more; the error after a
 * few seconds names holders (as disk_loop_holders', NULL: looks then). */
int disk_wait_loop_released (const char *image, const char *holders, struct islet_err *err);

#endif
