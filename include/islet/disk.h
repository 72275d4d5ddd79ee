/* Per-sandbox storage with a size limit enforced by the kernel.
 *
 * The pool is a btrfs file system (the state directory's own if it is btrfs,
 * otherwise an image file, allocated in full, loop-mounted at <state>/pool) with quotas on;
 * each sandbox gets one subvolume with a qgroup limit, so writes past it fail
 * with EDQUOT or ENOSPC inside the sandbox and nowhere else.  Where btrfs
 * cannot be had, the pool is a plain directory and limits are not enforced:
 * islet_disk_enforced() says which. */
#ifndef ISLET_DISK_H
#define ISLET_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "islet/err.h"

struct islet_disk_pool; /* opaque */

/* Open the pool of a state directory, creating and mounting it if needed. */
int islet_disk_pool_open (const char *state_dir, struct islet_disk_pool **out,
                          struct islet_err *err) ISLET_MUST_CHECK;

void islet_disk_pool_free (struct islet_disk_pool *pool);

bool islet_disk_enforced (const struct islet_disk_pool *pool);

/* Whether the pool has turned read-only (a failed write aborted a btrfs
 * transaction): it recovers when opened anew once nothing holds it. */
bool islet_disk_readonly (const struct islet_disk_pool *pool);

/* Why limits are not enforced (for the log: mkfs.btrfs missing, no loop
 * device, mount refused...), or NULL when they are. */
const char *islet_disk_unenforced_reason (const struct islet_disk_pool *pool);

/* Create the sandbox's volume `<pool>/<id>` with a byte limit (0: none);
 * *path receives its malloc'd path.  On failure nothing is left behind.
 * A loop pool first grows to hold every volume's limit if the host has
 * room; ISLET_E_LIMIT with errnum ENOSPC if the pool is full. */
int islet_disk_create (struct islet_disk_pool *pool, const char *id, uint64_t limit_bytes,
                       char **path, struct islet_err *err) ISLET_MUST_CHECK;

/* Path of an existing volume (malloc'd), whether or not it exists. */
char *islet_disk_path (const struct islet_disk_pool *pool, const char *id);

int islet_disk_set_limit (struct islet_disk_pool *pool, const char *id, uint64_t limit_bytes,
                          struct islet_err *err) ISLET_MUST_CHECK;

/* Bytes used by the volume (as the quota counts them). */
int islet_disk_usage (struct islet_disk_pool *pool, const char *id, uint64_t *used,
                      struct islet_err *err) ISLET_MUST_CHECK;

/* Delete the volume and everything in it; a missing volume is not an error. */
int islet_disk_destroy (struct islet_disk_pool *pool, const char *id,
                        struct islet_err *err) ISLET_MUST_CHECK;

/* Snapshots: read-only, copy-on-write copies of a volume, kept in the
 * pool (a btrfs pool only: a plain one refuses them, ISLET_E_INVALID).
 * Take one of volume id, named snap (the volume may be in use: every file
 * is taken at the same instant). */
int islet_disk_snapshot (struct islet_disk_pool *pool, const char *id, const char *snap,
                         struct islet_err *err) ISLET_MUST_CHECK;
/* Bytes the snapshot refers to (shared ones included). */
int islet_disk_snapshot_usage (struct islet_disk_pool *pool, const char *snap, uint64_t *used,
                               struct islet_err *err) ISLET_MUST_CHECK;
/* Create volume id as a writable snapshot of snapshot snap, or (snap NULL)
 * of volume from, with a byte limit; as islet_disk_create otherwise. */
int islet_disk_create_from (struct islet_disk_pool *pool, const char *id, const char *snap,
                            const char *from, uint64_t limit_bytes, char **path,
                            struct islet_err *err) ISLET_MUST_CHECK;
/* Delete a snapshot; a missing one is not an error. */
int islet_disk_snapshot_destroy (struct islet_disk_pool *pool, const char *snap,
                                 struct islet_err *err) ISLET_MUST_CHECK;
/* The directory that holds the snapshots (malloc'd). */
char *islet_disk_snapshot_dir (const struct islet_disk_pool *pool);

/* Unmount the pool of a state directory (if islet mounted it) and delete its
 * image file; used by `islet system reset` and by tests that made their own. */
int islet_disk_pool_remove (const char *state_dir, struct islet_err *err) ISLET_MUST_CHECK;

#endif
