/* Volumes: named storage with a size limit that outlives sandboxes and is
 * mounted read-write in any number of them at once.
 *
 * A volume is a btrfs subvolume of the disk pool, `vol-<name>`, with a
 * qgroup limit (as a sandbox's writable layer is), and a record
 * <state>/volume-records/<name>.json.  Its files are kept on disk with the
 * owners the sandboxes see (0..65535); each sandbox mounts it through an
 * idmapped mount to its own uid range.  A volume cannot be removed while a
 * sandbox of the state directory, running or stopped, mounts it. */
#ifndef ISLET_VOLUME_H
#define ISLET_VOLUME_H

#include <stddef.h>
#include <stdint.h>

#include "islet/err.h"
#include "islet/sandbox.h"

#define ISLET_VOLUME_NAME_MAX 63
#define ISLET_VOLUME_MOUNTS_MAX 16
#define ISLET_VOLUME_PATH_MAX 1024
#define ISLET_VOLUME_SIZE_DEFAULT_MB 1024

/* One volume in a create (islet_create_opts): mounted at path, an absolute
 * path of the sandbox's own files, or only its directory subpath, which
 * must stay inside the volume. */
struct islet_volume_mount
{
  const char *volume;  /* a volume's name */
  const char *path;    /* where, in the sandbox */
  const char *subpath; /* NULL or "": the whole volume */
};

struct islet_volume_info
{
  char name[ISLET_VOLUME_NAME_MAX + 1];
  uint64_t size_mb;    /* the limit */
  uint64_t used_bytes; /* as the limit counts them */
  int64_t created;     /* unix seconds */
};

/* A volume name: 1 to 63 letters, digits, '-', '_' and '.', not starting
 * with '.' or '-'. */
bool islet_volume_name_ok (const char *name);

/* Make an empty volume of size_mb (0: ISLET_VOLUME_SIZE_DEFAULT_MB);
 * ISLET_E_CONFLICT if the name is taken. */
int islet_volume_create (struct islet_ctx *ctx, const char *name, uint64_t size_mb,
                         struct islet_err *err) ISLET_MUST_CHECK;
int islet_volume_get (struct islet_ctx *ctx, const char *name, struct islet_volume_info *out,
                      struct islet_err *err) ISLET_MUST_CHECK;
/* Every volume, sorted by name; *out malloc'd. */
int islet_volume_list (struct islet_ctx *ctx, struct islet_volume_info **out, size_t *n,
                       struct islet_err *err) ISLET_MUST_CHECK;
/* Delete a volume and its files; ISLET_E_CONFLICT naming a sandbox (by id
 * and name) that mounts it. */
int islet_volume_remove (struct islet_ctx *ctx, const char *name,
                         struct islet_err *err) ISLET_MUST_CHECK;

/* Check the mounts of a create before anything is made: names, absolute
 * paths without `.` or `..`, not under /proc, /dev, /sys, /usr..., none
 * inside another, subpaths relative without `..`. */
int islet_volume_mounts_check (const struct islet_volume_mount *m, size_t n,
                               struct islet_err *err) ISLET_MUST_CHECK;

/* "NAME:/path[:subpath]" (the CLI's --volume) into m, pointing into s,
 * which it changes. */
int islet_volume_mount_parse (char *s, struct islet_volume_mount *m,
                              struct islet_err *err) ISLET_MUST_CHECK;

#endif
