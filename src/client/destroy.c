/* A sandbox removed, and a state directory emptied of every sandbox,
 * snapshot, volume and the network's host side. */
#include <errno.h>
#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

#include "islet/disk.h"
#include "islet/sandbox.h"
#include "islet/util.h"
#include "sandbox_internal.h"

/* How long a remove waits for a supervisor that is still starting its
 * sandbox, or finishing its stop, to be done. */
#define SUPERVISOR_WAIT_NS (30ull * 1000000000ull)

/* A supervisor that is starting its sandbox holds the run lock before the
 * sandbox answers, and one whose start fails closes a stop's connection
 * unanswered: removing the storage under either would leave a half-made
 * sandbox behind (a create whose creator was killed, swept by the next
 * isletd).  So the remove waits until the sandbox runs, to stop it, or no
 * supervisor is left. */
int
local_destroy (void *self, const char *ref, bool force, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  struct islet_sandbox_info info;
  uint64_t deadline = islet_now_ns () + SUPERVISOR_WAIT_NS;
  unsigned delay_us = 200;

  for (;;)
    {
      if (islet_sandbox_get (ctx, ref, &info, err) < 0)
        return -1;
      if (info.state == ISLET_SB_BROKEN)
        return sandbox_remove_broken (ctx, info.id, err);
      if (info.state == ISLET_SB_RUNNING || info.state == ISLET_SB_PAUSED)
        {
          if (!force)
            return islet_fail (err, ISLET_E_CONFLICT, 0,
                               "sandbox `%s` is running: stop it first or force removal", info.id);
          /* info is this moment's: not read a second time for the stop */
          if (sandbox_stop_id (ctx, info.id, err) == 0 || err->kind == ISLET_E_CONFLICT)
            break;
        }
      else if (!sandbox_supervised (ctx, info.id))
        break;
      else
        islet_fail (err, ISLET_E_CONFLICT, 0,
                    "sandbox `%s` is being started or stopped by its supervisor", info.id);
      if (islet_now_ns () >= deadline)
        return -1;
      usleep (delay_us);
      delay_us = delay_us < 20000 ? delay_us * 2 : 20000;
    }
  sessions_drop (ctx, info.id);
  /* a sandbox made for one command is withdrawn and removed by its own
     supervisor, which answers the stop after: the remove waits for that
     supervisor to let go of the directory, and takes away itself what a
     removal that failed, or a supervisor that died midway, left */
  for (;;)
    {
      switch (sandbox_remains (ctx, info.id, err))
        {
        case SANDBOX_WHOLE:
          return sandbox_remove_storage (ctx, info.id, info.name, info.uid_base, err);
        case SANDBOX_GONE: return 0;
        case SANDBOX_BROKEN:
          if (sandbox_remove_broken (ctx, info.id, err) < 0 && err->kind != ISLET_E_NOTFOUND)
            return -1;
          return 0;
        case SANDBOX_WITHDRAWN: break;
        default: return -1;
        }
      if (islet_now_ns () >= deadline)
        return islet_fail (err, ISLET_E_CONFLICT, 0,
                           "sandbox `%s` is still being removed by its supervisor", info.id);
      usleep (delay_us);
      delay_us = delay_us < 20000 ? delay_us * 2 : 20000;
    }
}

int
islet_sandbox_withdraw (const char *state_dir, const char *id, const char *name, int dir_fd,
                        struct islet_err *err)
{
  static const char *const files[] = { "config.json", "ctl.sock", "exec.sock" };

  while (flock (dir_fd, LOCK_EX) < 0)
    if (errno != EINTR)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "lock the directory of `%s`", id);
  /* the config first: without it the sandbox is no longer listed,
     resolved or started, and a directory without a config that nobody
     holds is a broken sandbox, which the usual cleanup removes */
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    if (unlinkat (dir_fd, files[i], 0) < 0 && errno != ENOENT)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "remove `%s` of `%s`", files[i], id);
  if (name && name[0])
    name_release (state_dir, name, id);
  return 0;
}

int
islet_sandbox_remove_withdrawn (struct islet_ctx *ctx, const char *id, uint32_t uid_base,
                                struct islet_err *err)
{
  if (!CTX_LOCAL (ctx) || !sandbox_id_valid (id))
    return islet_fail (err, ISLET_E_INVALID, 0, "`%s` is not a local sandbox", id);
  return sandbox_remove_storage (ctx, id, NULL, uid_base, err);
}

int
islet_state_reset (struct islet_ctx *ctx, struct islet_err *err)
{
  cleanup_free struct islet_sandbox_info *all = NULL;
  size_t n = 0;

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "reset", err);
  if (islet_warm_set (ctx, 0, err) < 0)
    return islet_wrap (err, "reset");
  if (islet_sandbox_list (ctx, &all, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (islet_sandbox_destroy (ctx, all[i].id, true, err) < 0 && err->kind != ISLET_E_NOTFOUND)
      return islet_wrap (err, "reset");
  if (sandbox_sweep_leftovers (ctx, err) < 0 || snapshot_reset (ctx, err) < 0)
    return islet_wrap (err, "reset");
  pthread_rwlock_wrlock (&ctx->pool_lock);
  islet_disk_pool_free (ctx->pool);
  ctx->pool = NULL;
  pthread_rwlock_unlock (&ctx->pool_lock);
  if (volume_records_remove (ctx, err) < 0 || net_host_reset (ctx, err) < 0)
    return islet_wrap (err, "reset");
  return islet_disk_pool_remove (ctx->state_dir, err);
}
