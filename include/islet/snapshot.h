/* Snapshots: a sandbox's files kept under a name, to make new sandboxes
 * from (islet_create_opts.snapshot).
 *
 * A snapshot is the sandbox's image (by id) and a read-only, copy-on-write
 * btrfs snapshot of its writable layer, taken in one instant whether the
 * sandbox runs or not; a sandbox made from it gets that image and a
 * writable snapshot of the saved layer.  Records live in
 * <state>/snapshots/<name>.json, the layers in the disk pool; a record is
 * written only once its layer is complete, so a snapshot that is listed is
 * whole.  A snapshot cannot be removed while a sandbox made from it
 * exists, nor its image while the snapshot does. */
#ifndef ISLET_SNAPSHOT_H
#define ISLET_SNAPSHOT_H

#include <stdint.h>

#include "islet/err.h"
#include "islet/sandbox.h"

#define ISLET_SNAPSHOT_NAME_MAX 63

struct islet_snapshot_info
{
  char id[ISLET_ID_LEN + 1];
  char name[ISLET_SNAPSHOT_NAME_MAX + 1];
  char image[80];                /* the image id its layer goes over */
  char source[ISLET_ID_LEN + 1]; /* the sandbox it was taken of */
  char source_name[ISLET_NAME_MAX + 1];
  /* the name its maker knows it by where that is not `name`: isletd names
   * its snapshots by their UUIDs, a key's names being its own; "" if none */
  char label[256];
  uint32_t uid_base; /* the source's: the saved files' owners are in its range */
  int64_t created;   /* unix seconds */
  uint64_t bytes;    /* what its layer refers to (shared blocks included) */
};

/* Name: 1 to 63 letters, digits, '.', '_' and '-', not starting with '.'
 * or '-'.  A name that is taken is ISLET_E_CONFLICT. */
int islet_snapshot_create (struct islet_ctx *ctx, const char *sandbox_ref, const char *name,
                           struct islet_snapshot_info *out, struct islet_err *err) ISLET_MUST_CHECK;
/* The same, with a label (struct islet_snapshot_info); label may be NULL. */
int islet_snapshot_create_as (struct islet_ctx *ctx, const char *sandbox_ref, const char *name,
                              const char *label, struct islet_snapshot_info *out,
                              struct islet_err *err) ISLET_MUST_CHECK;
/* By name or id. */
int islet_snapshot_get (struct islet_ctx *ctx, const char *ref, struct islet_snapshot_info *out,
                        struct islet_err *err) ISLET_MUST_CHECK;
/* Every snapshot, oldest first; *out malloc'd. */
int islet_snapshot_list (struct islet_ctx *ctx, struct islet_snapshot_info **out, size_t *n,
                         struct islet_err *err) ISLET_MUST_CHECK;
/* Remove it and free its layer; ISLET_E_CONFLICT while a sandbox made from
 * it exists. */
int islet_snapshot_rm (struct islet_ctx *ctx, const char *ref,
                       struct islet_err *err) ISLET_MUST_CHECK;

#endif
