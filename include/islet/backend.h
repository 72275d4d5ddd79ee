/* A ctx whose sandboxes live elsewhere.
 *
 * Every public function of sandbox.h and client.h takes a struct islet_ctx
 * and hands the call to the ctx's table of operations (src/client/ops.c).
 * Usually the ctx is a state directory on this machine, whose table is the
 * core's own (sandbox.c, client.c); a ctx made by islet_ctx_new_backend
 * has the table given here instead, so that a caller (the CLI, islet mcp,
 * the tool-text runner) works unchanged against sandboxes another process
 * keeps, such as a running isletd (src/remote).  The core itself knows
 * nothing of how a backend reaches its sandboxes. */
#ifndef ISLET_BACKEND_H
#define ISLET_BACKEND_H

#include "islet/client.h"
#include "islet/sandbox.h"

struct islet_backend
{
  const char *kind; /* "isletd", for messages */
  int (*create) (void *self, const struct islet_create_opts *opts, char id[ISLET_ID_LEN + 1],
                 struct islet_err *err);
  int (*get) (void *self, const char *ref, struct islet_sandbox_info *out, struct islet_err *err);
  int (*list) (void *self, struct islet_sandbox_info **out, size_t *n, struct islet_err *err);
  int (*start) (void *self, const char *ref, struct islet_err *err);
  int (*stop) (void *self, const char *ref, struct islet_err *err);
  int (*pause) (void *self, const char *ref, struct islet_err *err);
  int (*resume) (void *self, const char *ref, struct islet_err *err);
  int (*resize) (void *self, const char *ref, const struct islet_resize *r, struct islet_err *err);
  int (*set_network) (void *self, const char *ref, const struct islet_net *net,
                      struct islet_err *err);
  int (*destroy) (void *self, const char *ref, bool force, struct islet_err *err);
  int (*exec) (void *self, const char *id, const struct islet_exec_req *req,
               struct islet_exec_result *out, struct islet_err *err);
  /* NULL: not offered (islet_exec_open refuses) */
  int (*exec_open) (void *self, const char *id, const struct islet_exec_req *req, int *conn,
                    struct islet_err *err);
  int (*fs_read) (void *self, const char *id, const char *path, size_t max, char **data,
                  size_t *len, struct islet_err *err);
  int (*fs_copy_in) (void *self, const char *id, int host_fd, const char *path, unsigned mode,
                     struct islet_err *err);
  int (*fs_write) (void *self, const char *id, const char *path, const void *data, size_t len,
                   unsigned mode, struct islet_err *err);
  int (*fs_copy_out) (void *self, const char *id, const char *path, int host_fd,
                      struct islet_err *err);
  int (*fs_remove) (void *self, const char *id, const char *path, bool recursive,
                    struct islet_err *err);
  int (*fs_mkdir) (void *self, const char *id, const char *path, unsigned mode,
                   struct islet_err *err);
  int (*fs_move) (void *self, const char *id, const char *from, const char *to,
                  struct islet_err *err);
  int (*fs_stat) (void *self, const char *id, const char *path, json_t **out,
                  struct islet_err *err);
  int (*fs_list) (void *self, const char *id, const char *path, unsigned depth, json_t **out,
                  struct islet_err *err);
  /* NULL: not offered (islet_fs_chown refuses) */
  int (*fs_chown) (void *self, const char *id, const char *path, int64_t uid, int64_t gid, int mode,
                   struct islet_err *err);
  void (*free) (void *self);
};

/* A ctx that hands every call to ops (self is passed back to each; the ctx
 * owns it and calls ops->free).  where names the backend in messages and
 * is what islet_ctx_state_dir returns.  The warm pool and islet_state_reset
 * act on a state directory and fail on such a ctx (ISLET_E_INVALID). */
struct islet_ctx *islet_ctx_new_backend (const struct islet_backend *ops, void *self,
                                         const char *where);

/* The backend of ctx, NULL for a state directory. */
const struct islet_backend *islet_ctx_backend (const struct islet_ctx *ctx);
/* The self given to islet_ctx_new_backend. */
void *islet_ctx_backend_self (const struct islet_ctx *ctx);

#endif
