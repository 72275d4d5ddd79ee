/* Pause and resume: the supervisor freezes the sandbox's group (every
 * process stopped in place, its memory kept) and refuses exec and file
 * requests until a resume.  Whether a sandbox is paused is read from the
 * kernel (the group's freezer), so that it is the same for every caller. */
#include <string.h>

#include "islet/cgroup.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "sandbox_internal.h"

bool
sandbox_frozen (const char *id)
{
  return islet_cg_name_frozen (id);
}

int
sandbox_ask (struct islet_ctx *ctx, const char *id, const char *op, struct islet_err *err)
{
  cleanup_close int fd = sandbox_connect (ctx, id, err);
  cleanup_json json_t *req = json_pack ("{s:s}", "op", op);
  cleanup_json json_t *resp = NULL;

  if (fd < 0)
    return -1;
  if (islet_frame_send_json (fd, req, err) < 0 || islet_frame_recv_json (fd, &resp, err) < 0)
    return islet_wrap (err, "%s sandbox `%s`", op, id);
  return islet_err_from_json (resp, err);
}

int
local_pause (void *self, const char *ref, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  struct islet_sandbox_info info;

  if (islet_sandbox_get (ctx, ref, &info, err) < 0)
    return -1;
  if (info.state == ISLET_SB_PAUSED)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox `%s` is already paused", info.id);
  if (info.state != ISLET_SB_RUNNING)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox `%s` is not running", info.id);
  /* this ctx's kept file sessions would each hold a thread of an agent
     that the pause ends */
  sessions_drop (ctx, info.id);
  return sandbox_ask (ctx, info.id, "pause", err);
}

int
local_resume (void *self, const char *ref, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  struct islet_sandbox_info info;

  if (islet_sandbox_get (ctx, ref, &info, err) < 0)
    return -1;
  if (info.state != ISLET_SB_PAUSED)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox `%s` is not paused", info.id);
  return sandbox_ask (ctx, info.id, "resume", err);
}
