/* A sandbox's outbound network changed: kept in its config.json (a start
 * applies it again) and, while it runs, applied at once by its supervisor,
 * which reads the config back (src/runtime/net.c, net_update). */
#include <fcntl.h>
#include <string.h>

#include "islet/proto.h"
#include "islet/util.h"
#include "sandbox_internal.h"

static int
save_network (struct islet_ctx *ctx, const char *id, const struct islet_net *net,
              struct islet_err *err)
{
  cleanup_free char *dir = sandbox_dir (ctx, id);
  cleanup_free char *path = islet_xasprintf ("%s/config.json", dir);
  cleanup_free char *text = NULL;
  cleanup_free char *out = NULL;
  cleanup_json json_t *cfg = NULL;

  if (islet_read_file_at (AT_FDCWD, path, 1 << 20, &text, NULL, err) < 0)
    return -1;
  cfg = json_loads (text, 0, NULL);
  if (!json_is_object (cfg))
    return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s` does not parse", path);
  if (net->mode == ISLET_NET_NONE)
    json_object_del (cfg, "network");
  else
    json_object_set_new (cfg, "network", islet_net_json (net));
  out = json_dumps (cfg, JSON_INDENT (2));
  return islet_write_file_atomic (path, out, strlen (out), 0600, err);
}

int
local_set_network (void *self, const char *ref, const struct islet_net *net, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  struct islet_sandbox_info info;
  cleanup_close int fd = -1;
  cleanup_json json_t *req = NULL;
  cleanup_json json_t *resp = NULL;

  if (islet_net_validate (net, err) < 0 || islet_sandbox_get (ctx, ref, &info, err) < 0)
    return -1;
  if (info.state == ISLET_SB_BROKEN)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox `%s` is broken: it can only be removed",
                       info.id);
  if (save_network (ctx, info.id, net, err) < 0)
    return islet_wrap (err, "network of `%s`", info.id);
  if (info.state != ISLET_SB_RUNNING && info.state != ISLET_SB_PAUSED)
    return 0;
  fd = sandbox_connect (ctx, info.id, err);
  if (fd < 0)
    return -1;
  req = json_pack ("{s:s}", "op", "network");
  if (islet_frame_send_json (fd, req, err) < 0 || islet_frame_recv_json (fd, &resp, err) < 0)
    return islet_wrap (err, "network of `%s`", info.id);
  return islet_err_from_json (resp, err);
}
