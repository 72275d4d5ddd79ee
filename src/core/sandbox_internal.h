#ifndef ISLET_SANDBOX_INTERNAL_H
#define ISLET_SANDBOX_INTERNAL_H

#include "islet/sandbox.h"

struct islet_disk_pool;

struct islet_ctx {
  char *state_dir;
  char *runtime;
  struct islet_disk_pool *pool; /* opened on first need */
};

char *sandbox_dir (const struct islet_ctx *ctx, const char *id);

/* Connect to a running sandbox's supervisor (ISLET_E_CONFLICT if not running). */
int sandbox_connect (const struct islet_ctx *ctx, const char *id, struct islet_err *err);

/* Resolve a reference (an id, a name, or a unique prefix of an id) to an
 * id, from the directory and the name index alone: no config is read and no
 * supervisor is asked. */
int sandbox_resolve (struct islet_ctx *ctx, const char *ref, char id[ISLET_ID_LEN + 1],
                     struct islet_err *err);

int sandbox_load (const struct islet_ctx *ctx, const char *id, struct islet_sandbox_info *out,
                  struct islet_err *err);

#endif
