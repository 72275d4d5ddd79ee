/* A ctx: a state directory opened with the islet-run it starts
 * supervisors with, or a backend's (isletd's) table and handle. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/disk.h"
#include "islet/sandbox.h"
#include "islet/util.h"
#include "sandbox_internal.h"

static char *
find_runtime (void)
{
  char self[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
  const char *path = getenv ("PATH");

  if (n > 0)
    {
      char *slash;
      self[n] = '\0';
      slash = strrchr (self, '/');
      if (slash)
        {
          char *cand;
          *slash = '\0';
          cand = islet_xasprintf ("%s/islet-run", self);
          if (access (cand, X_OK) == 0)
            return cand;
          free (cand);
        }
    }
  for (const char *p = path; p && *p;)
    {
      const char *colon = strchr (p, ':');
      size_t len = colon ? (size_t) (colon - p) : strlen (p);
      char *cand = islet_xasprintf ("%.*s/islet-run", (int) len, p);
      if (access (cand, X_OK) == 0)
        return cand;
      free (cand);
      p = colon ? colon + 1 : NULL;
    }
  return NULL;
}

int
islet_ctx_open (const char *state_dir, const char *runtime, struct islet_ctx **out,
                struct islet_err *err)
{
  struct islet_ctx *ctx;
  cleanup_free char *sandboxes = NULL;
  char real[PATH_MAX];

  if (state_dir == NULL || *state_dir == '\0')
    return islet_fail (err, ISLET_E_INVALID, 0, "empty state directory");
  if (islet_mkdir_p (state_dir, 0700, err) < 0)
    return islet_wrap (err, "state directory");
  if (realpath (state_dir, real) == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "resolve `%s`", state_dir);
  sandboxes = islet_xasprintf ("%s/sandboxes", real);
  if (mkdir (sandboxes, 0700) < 0 && errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", sandboxes);
  if (names_index_init (real, err) < 0)
    return -1;
  ctx = islet_xcalloc (1, sizeof *ctx);
  pthread_rwlock_init (&ctx->pool_lock, NULL);
  pthread_mutex_init (&ctx->sessions_lock, NULL);
  ctx->forker_sock = -1;
  ctx->ops = &local_ops;
  ctx->ops_self = ctx;
  ctx->state_dir = islet_xstrdup (real);
  ctx->runtime = runtime ? islet_xstrdup (runtime) : find_runtime ();
  if (ctx->runtime == NULL)
    {
      islet_ctx_free (ctx);
      return islet_fail (err, ISLET_E_NOTFOUND, 0,
                         "cannot find islet-run beside this program or in PATH");
    }
  *out = ctx;
  return 0;
}

void
islet_ctx_free (struct islet_ctx *ctx)
{
  if (ctx == NULL)
    return;
  if (!CTX_LOCAL (ctx) && ctx->ops->free != NULL)
    ctx->ops->free (ctx->ops_self);
  if (ctx->forker_sock >= 0)
    {
      /* the forker ends at the end of its socket */
      close (ctx->forker_sock);
      while (waitpid (ctx->forker_pid, NULL, 0) < 0 && errno == EINTR)
        ;
    }
  islet_disk_pool_free (ctx->pool);
  pthread_rwlock_destroy (&ctx->pool_lock);
  sessions_free (ctx);
  pthread_mutex_destroy (&ctx->sessions_lock);
  free (ctx->state_dir);
  free (ctx->runtime);
  free (ctx);
}

const char *
islet_ctx_state_dir (const struct islet_ctx *ctx)
{
  return ctx->state_dir;
}

struct islet_ctx *
islet_ctx_new_backend (const struct islet_backend *ops, void *self, const char *where)
{
  struct islet_ctx *ctx = islet_xcalloc (1, sizeof *ctx);

  pthread_rwlock_init (&ctx->pool_lock, NULL);
  pthread_mutex_init (&ctx->sessions_lock, NULL);
  ctx->forker_sock = -1;
  ctx->state_dir = islet_xstrdup (where);
  ctx->ops = ops;
  ctx->ops_self = self;
  return ctx;
}

const struct islet_backend *
islet_ctx_backend (const struct islet_ctx *ctx)
{
  return CTX_LOCAL (ctx) ? NULL : ctx->ops;
}

void *
islet_ctx_backend_self (const struct islet_ctx *ctx)
{
  return CTX_LOCAL (ctx) ? NULL : ctx->ops_self;
}

int
backend_refuse (const struct islet_ctx *ctx, const char *what, struct islet_err *err)
{
  return islet_fail (err, ISLET_E_INVALID, 0, "%s acts on a local state directory, not on %s %s",
                     what, ctx->ops->kind, ctx->state_dir);
}
