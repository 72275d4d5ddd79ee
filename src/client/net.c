/* A socket in a sandbox's network namespace, made by its supervisor (the
 * `net-socket` request, src/runtime/control.c) and passed back over ctl.sock:
 * the caller never joins the sandbox's namespace itself, and the sandbox's
 * network stays closed to everything but what the caller connects. */
#include <errno.h>
#include <string.h>

#include "islet/proto.h"
#include "islet/util.h"
#include "sandbox_internal.h"

int
islet_sandbox_net_socket (struct islet_ctx *ctx, const char *id, int *fd, struct islet_err *err)
{
  cleanup_close int conn = -1;
  cleanup_close int got = -1;
  cleanup_json json_t *req = json_pack ("{s:s}", "op", "net-socket");
  cleanup_json json_t *resp = NULL;
  char mark = 0;
  ssize_t n;

  *fd = -1;
  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "a sandbox's network socket", err);
  if (!sandbox_id_valid (id))
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox `%s`", id);
  conn = sandbox_connect (ctx, id, err);
  if (conn < 0)
    return -1;
  if (islet_frame_send_json (conn, req, err) < 0)
    return islet_wrap (err, "ask sandbox `%s` for a network socket", id);
  n = islet_recv_fd (conn, &mark, 1, &got);
  if (n < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "a network socket from sandbox `%s`", id);
  if (n == 1 && mark == 'F' && got >= 0)
    {
      *fd = islet_take_fd (&got);
      return 0;
    }
  if (n == 1 && mark == 'E' && islet_frame_recv_json (conn, &resp, err) == 0)
    {
      if (islet_err_from_json (resp, err) < 0)
        return -1;
    }
  if (n == 0)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox `%s` stopped", id);
  /* a supervisor started by an older islet-run, which knows no such
     request, answers with an error frame of its own */
  return islet_fail (err, ISLET_E_CONFLICT, 0,
                     "sandbox `%s` runs under an older supervisor without network sockets: stop "
                     "and start it",
                     id);
}
