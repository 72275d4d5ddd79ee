/* What a sandbox uses now, from the kernel's own counters: CPU time and
 * memory from its cgroup, disk from its volume (the quota's count).  For
 * metrics; nothing here changes the sandbox. */
#include <string.h>

#include "islet/cgroup.h"
#include "islet/disk.h"
#include "islet/util.h"
#include "sandbox_internal.h"

static int
disk_used (struct islet_ctx *ctx, const char *id, uint64_t *used, struct islet_err *err)
{
  struct islet_disk_pool *p;
  int r;

  if (sandbox_pool (ctx, &p, err) < 0)
    return -1;
  r = islet_disk_usage (p, id, used, err);
  sandbox_pool_put (ctx);
  return r;
}

int
islet_sandbox_usage (struct islet_ctx *ctx, const struct islet_sandbox_info *info,
                     struct islet_sandbox_usage *out, struct islet_err *err)
{
  struct islet_cg *cg = NULL;
  struct islet_cg_usage u;
  int rc = 0;

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "usage", err);
  *out = (struct islet_sandbox_usage){ .at_ns = islet_now_ns () };
  /* a stopped sandbox has no group: it uses no CPU and no memory */
  if (info->state == ISLET_SB_RUNNING || info->state == ISLET_SB_PAUSED)
    {
      if (islet_cg_open (info->id, &cg, err) < 0)
        return islet_wrap (err, "usage of `%s`", info->id);
      rc = islet_cg_read_usage (cg, &u, err);
      islet_cg_free (cg);
      if (rc < 0)
        return islet_wrap (err, "usage of `%s`", info->id);
      out->cpu_ns = u.cpu_ns;
      out->memory_bytes = u.memory_bytes;
      out->memory_cache = u.memory_cache;
    }
  if (disk_used (ctx, info->id, &out->disk_bytes, err) < 0)
    return islet_wrap (err, "usage of `%s`", info->id);
  return 0;
}
