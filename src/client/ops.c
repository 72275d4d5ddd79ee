/* The public calls on sandboxes, each handed to its ctx's operations:
 * the local ones (sandbox.c, client.c: a state directory on this machine)
 * or a backend's (include/islet/backend.h: a running isletd, src/remote).
 * This is the one place where the two meet; neither knows the other. */
#include <string.h>

#include "sandbox_internal.h"

const struct islet_backend local_ops = {
  .kind = "state directory",
  .exec = local_exec,
  .exec_open = local_exec_open,
  .fs_read = local_fs_read,
  .fs_copy_in = local_fs_copy_in,
  .fs_write = local_fs_write,
  .fs_copy_out = local_fs_copy_out,
  .fs_remove = local_fs_remove,
  .fs_mkdir = local_fs_mkdir,
  .fs_move = local_fs_move,
  .fs_stat = local_fs_stat,
  .fs_list = local_fs_list,
  .fs_chown = local_fs_chown,
  .create = local_create,
  .get = local_get,
  .list = local_list,
  .start = local_start,
  .stop = local_stop,
  .pause = local_pause,
  .resume = local_resume,
  .resize = local_resize,
  .set_network = local_set_network,
  .destroy = local_destroy,
};

int
islet_exec (struct islet_ctx *ctx, const char *id, const struct islet_exec_req *req,
            struct islet_exec_result *out, struct islet_err *err)
{
  return ctx->ops->exec (ctx->ops_self, id, req, out, err);
}

int
islet_exec_open (struct islet_ctx *ctx, const char *id, const struct islet_exec_req *req, int *conn,
                 struct islet_err *err)
{
  *conn = -1;
  if (ctx->ops->exec_open == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "a command that takes input as it runs needs a %s",
                       local_ops.kind);
  return ctx->ops->exec_open (ctx->ops_self, id, req, conn, err);
}

int
islet_fs_read (struct islet_ctx *ctx, const char *id, const char *path, size_t max, char **data,
               size_t *len, struct islet_err *err)
{
  return ctx->ops->fs_read (ctx->ops_self, id, path, max, data, len, err);
}

int
islet_fs_copy_in (struct islet_ctx *ctx, const char *id, int host_fd, const char *path,
                  unsigned mode, struct islet_err *err)
{
  return ctx->ops->fs_copy_in (ctx->ops_self, id, host_fd, path, mode, err);
}

int
islet_fs_write (struct islet_ctx *ctx, const char *id, const char *path, const void *data,
                size_t len, unsigned mode, struct islet_err *err)
{
  return ctx->ops->fs_write (ctx->ops_self, id, path, data, len, mode, err);
}

int
islet_fs_copy_out (struct islet_ctx *ctx, const char *id, const char *path, int host_fd,
                   struct islet_err *err)
{
  return ctx->ops->fs_copy_out (ctx->ops_self, id, path, host_fd, err);
}

int
islet_fs_remove (struct islet_ctx *ctx, const char *id, const char *path, bool recursive,
                 struct islet_err *err)
{
  return ctx->ops->fs_remove (ctx->ops_self, id, path, recursive, err);
}

int
islet_fs_mkdir (struct islet_ctx *ctx, const char *id, const char *path, unsigned mode,
                struct islet_err *err)
{
  return ctx->ops->fs_mkdir (ctx->ops_self, id, path, mode, err);
}

int
islet_fs_move (struct islet_ctx *ctx, const char *id, const char *from, const char *to,
               struct islet_err *err)
{
  return ctx->ops->fs_move (ctx->ops_self, id, from, to, err);
}

int
islet_fs_stat (struct islet_ctx *ctx, const char *id, const char *path, json_t **out,
               struct islet_err *err)
{
  return ctx->ops->fs_stat (ctx->ops_self, id, path, out, err);
}

int
islet_fs_list (struct islet_ctx *ctx, const char *id, const char *path, unsigned depth,
               json_t **out, struct islet_err *err)
{
  return ctx->ops->fs_list (ctx->ops_self, id, path, depth, out, err);
}

int
islet_fs_chown (struct islet_ctx *ctx, const char *id, const char *path, int64_t uid, int64_t gid,
                int mode, struct islet_err *err)
{
  if (ctx->ops->fs_chown == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "changing a file's owner needs a %s",
                       local_ops.kind);
  return ctx->ops->fs_chown (ctx->ops_self, id, path, uid, gid, mode, err);
}

int
islet_sandbox_create (struct islet_ctx *ctx, const struct islet_create_opts *opts,
                      char id[ISLET_ID_LEN + 1], struct islet_err *err)
{
  return ctx->ops->create (ctx->ops_self, opts, id, err);
}

int
islet_sandbox_get (struct islet_ctx *ctx, const char *ref, struct islet_sandbox_info *out,
                   struct islet_err *err)
{
  return ctx->ops->get (ctx->ops_self, ref, out, err);
}

int
islet_sandbox_resolve (struct islet_ctx *ctx, const char *ref, char id[ISLET_ID_LEN + 1],
                       struct islet_err *err)
{
  struct islet_sandbox_info info;

  if (CTX_LOCAL (ctx))
    return sandbox_resolve (ctx, ref, id, err);
  if (ctx->ops->get (ctx->ops_self, ref, &info, err) < 0)
    return -1;
  memcpy (id, info.id, ISLET_ID_LEN + 1);
  return 0;
}

int
islet_sandbox_list (struct islet_ctx *ctx, struct islet_sandbox_info **out, size_t *n,
                    struct islet_err *err)
{
  return ctx->ops->list (ctx->ops_self, out, n, err);
}

int
islet_sandbox_start (struct islet_ctx *ctx, const char *ref, struct islet_err *err)
{
  return ctx->ops->start (ctx->ops_self, ref, err);
}

int
islet_sandbox_stop (struct islet_ctx *ctx, const char *ref, struct islet_err *err)
{
  return ctx->ops->stop (ctx->ops_self, ref, err);
}

int
islet_sandbox_pause (struct islet_ctx *ctx, const char *ref, struct islet_err *err)
{
  return ctx->ops->pause (ctx->ops_self, ref, err);
}

int
islet_sandbox_resume (struct islet_ctx *ctx, const char *ref, struct islet_err *err)
{
  return ctx->ops->resume (ctx->ops_self, ref, err);
}

int
islet_sandbox_resize (struct islet_ctx *ctx, const char *ref, const struct islet_resize *r,
                      struct islet_err *err)
{
  return ctx->ops->resize (ctx->ops_self, ref, r, err);
}

int
islet_sandbox_set_network (struct islet_ctx *ctx, const char *ref, const struct islet_net *net,
                           struct islet_err *err)
{
  return ctx->ops->set_network (ctx->ops_self, ref, net, err);
}

int
islet_sandbox_destroy (struct islet_ctx *ctx, const char *ref, bool force, struct islet_err *err)
{
  return ctx->ops->destroy (ctx->ops_self, ref, force, err);
}
