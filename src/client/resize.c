/* Resize: new memory, CPU and disk limits for a sandbox, applied where they
 * act (its live cgroup, its volume's quota) and kept in its config, so that
 * a stop and a start keep them.  Every check comes before the first change. */
#include <fcntl.h>
#include <string.h>

#include "islet/cgroup.h"
#include "islet/disk.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "sandbox_internal.h"

/* The config's limits object, as the new limits (by the limits table's
 * keys, as the create wrote it). */
static int
set_limits (json_t *cfg, const void *arg, const char *path, struct islet_err *err)
{
  if (!json_is_object (json_object_get (cfg, "limits")))
    return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s`: no limits object", path);
  json_object_set_new (cfg, "limits", islet_limits_json (arg));
  return 0;
}

/* The disk quota; refused below what the volume holds. */
static int
resize_disk (struct islet_ctx *ctx, const char *id, uint64_t disk_mb, struct islet_err *err)
{
  struct islet_disk_pool *p;
  uint64_t used = 0;
  int r;

  if (sandbox_pool (ctx, &p, err) < 0)
    return -1;
  r = islet_disk_usage (p, id, &used, err);
  if (r == 0 && disk_mb << 20 < used)
    r = islet_fail (err, ISLET_E_CONFLICT, 0,
                    "disk %llu MiB is below the %llu MiB the sandbox's files use",
                    (unsigned long long) disk_mb, (unsigned long long) (used >> 20) + 1);
  if (r == 0)
    r = islet_disk_set_limit (p, id, disk_mb << 20, err);
  sandbox_pool_put (ctx);
  return r;
}

int
local_resize (void *self, const char *ref, const struct islet_resize *rq, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  struct islet_sandbox_info info;
  struct islet_limits l;
  struct islet_cg *cg = NULL;
  uint64_t mem_used = 0;
  int rc = 0;

  if (islet_sandbox_get (ctx, ref, &info, err) < 0)
    return -1;
  l = info.limits;
  if (rq->memory_mb)
    l.memory_mb = rq->memory_mb;
  if (rq->cpu_millis)
    l.cpu_millis = rq->cpu_millis;
  if (rq->disk_mb)
    l.disk_mb = rq->disk_mb;
  if (islet_limits_validate (&l, err) < 0)
    return -1;
  if (info.state == ISLET_SB_RUNNING || info.state == ISLET_SB_PAUSED)
    {
      if (islet_cg_open (info.id, &cg, err) < 0)
        return islet_wrap (err, "resize `%s`", info.id);
      if (islet_cg_memory_current (cg, &mem_used, err) < 0)
        rc = -1;
      else if (l.memory_mb << 20 < mem_used)
        rc = islet_fail (
            err, ISLET_E_CONFLICT, 0, "memory %llu MiB is below the %llu MiB the sandbox uses now",
            (unsigned long long) l.memory_mb, (unsigned long long) (mem_used >> 20) + 1);
    }
  if (rc == 0 && l.disk_mb != info.limits.disk_mb)
    rc = resize_disk (ctx, info.id, l.disk_mb, err);
  if (rc == 0 && cg)
    {
      struct islet_cg_limits cgl = { .memory_bytes = l.memory_mb << 20,
                                     .cpu_millis = l.cpu_millis,
                                     .pids = l.pids };
      rc = islet_cg_set_limits (cg, &cgl, err);
    }
  if (cg)
    islet_cg_free (cg);
  if (rc == 0)
    rc = sandbox_config_edit (ctx, info.id, set_limits, &l, err);
  return rc < 0 ? islet_wrap (err, "resize `%s`", info.id) : 0;
}
