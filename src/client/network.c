/* A sandbox's outbound network changed: kept in its config.json (a start
 * applies it again) and, while it runs, applied at once by its supervisor,
 * which reads the config back (src/runtime/net.c, net_update).  And the
 * host's part at a reset: islet-run drops the shared table when unused. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/contain.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "sandbox_internal.h"

/* The config's network object: absent for none without a proxy. */
static int
set_network (json_t *cfg, const void *arg, const char *path, struct islet_err *err)
{
  const struct islet_net *net = arg;

  if (net->mode == ISLET_NET_NONE && net->proxy[0] == '\0')
    json_object_del (cfg, "network");
  else
    json_object_set_new (cfg, "network", islet_net_json (net));
  return 0;
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
  if (sandbox_config_edit (ctx, info.id, set_network, net, err) < 0)
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

int
net_host_reset (const struct islet_ctx *ctx, struct islet_err *err)
{
  char why[512] = "";
  const char *line;
  int p[2], status;
  ssize_t n;
  pid_t pid;

  if (pipe2 (p, O_CLOEXEC) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "pipe");
  pid = fork ();
  if (pid == 0)
    {
      int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
      if (null < 0 || dup2 (null, 0) < 0 || dup2 (null, 1) < 0 || dup2 (p[1], 2) < 0)
        _exit (125);
      islet_close_fds_from (3, -1);
      execl (ctx->runtime, "islet-run", "--net-reset", (char *) NULL);
      _exit (127);
    }
  close (p[1]);
  n = pid < 0 ? 0 : islet_read_all (p[0], why, sizeof why - 1);
  for (char rest[512]; pid > 0 && islet_read_all (p[0], rest, sizeof rest) > 0;)
    ; /* the rest, so that it never writes into a closed pipe */
  close (p[0]);
  if (pid < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "fork");
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "wait for islet-run --net-reset");
  why[n > 0 ? n : 0] = '\0';
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  /* its reason is its line "islet-run: ..." (a sweep's may come first) */
  line = strstr (why, "islet-run: ");
  line = line ? line + strlen ("islet-run: ") : why;
  if (line[0] == '\0')
    line = "islet-run --net-reset failed";
  return islet_fail (err, ISLET_E_SYSTEM, 0, "the host's network table: %.*s",
                     (int) strcspn (line, "\n"), line);
}
