/* A sandbox's stop: its processes killed and reaped, its groups removed,
 * its namespaces let go; and its removal by the supervisor itself. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "islet/config.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "runtime.h"
#include "supervisor.h"

/* Stop every process of the sandbox: afterwards none runs.  Killing the
 * init kills its pid namespace; its wait returns once every process there
 * is gone, so the groups are empty.  Safe to call on a half-started
 * sandbox. */
void
stop_processes (struct sandbox *sb)
{
  struct islet_err e;

  for (size_t i = 0; i < n_handlers; i++)
    kill (handlers[i], SIGKILL);
  net_dns_stop (sb);
  ready_stop ();
  agent_stop ();
  if (sb->init_pid > 0)
    kill (sb->init_pid, SIGKILL);
  /* a frozen task does not die of a SIGKILL until thawed; thawed after the
     kills, none of them runs another instruction of its own.  Not only
     when paused: an exec's group may be frozen by itself (its handler,
     killed above, was killing it), and the waits below would never end. */
  if (sb->cg && islet_cg_thaw_tree (sb->cg, &e) < 0 && e.errnum != ENOTSUP)
    logmsg ("%s", e.msg);
  paused = false;
  while (waitpid (-1, NULL, 0) > 0 || errno == EINTR)
    ;
  n_handlers = 0;
  n_kept = 0; /* removed with the sandbox's group (groups_remove) */
  sb->init_pid = 0;
}

/* The sandbox's groups, empty once its processes are stopped. */
void
groups_remove (struct sandbox *sb)
{
  struct islet_err e;

  islet_cg_free (sb->init_cg);
  sb->init_cg = NULL;
  islet_cg_free (sb->io_cg);
  sb->io_cg = NULL;
  if (sb->cg && islet_cg_destroy (sb->cg, &e) < 0)
    logmsg ("remove cgroup: %s", e.msg);
  sb->cg = NULL;
}

/* Every process stopped and the groups removed: nothing runs and nothing
 * is left on the host but the namespaces our fds keep. */
static void
stop_sandbox (struct sandbox *sb)
{
  stop_processes (sb);
  groups_remove (sb);
}

void
sandbox_withdraw (struct sandbox *sb)
{
  struct islet_err e;

  if (sb->dir_fd < 0)
    sb->dir_fd = open (sb->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sb->dir_fd < 0)
    logmsg ("withdraw: open `%s`: %s", sb->dir, strerror (errno));
  else if (islet_sandbox_withdraw (sb->state_dir, sb->id, sb->name, sb->dir_fd, &e) < 0)
    logmsg ("withdraw: %s", e.msg);
}

/* The rest of the removal, once the namespaces are let go: the sandbox's
 * volume, uid range and directory (its log with it). */
void
remove_self (struct sandbox *sb)
{
  struct islet_ctx *ctx = NULL;
  struct islet_err e = { 0 };

  sandbox_withdraw (sb);
  if (islet_ctx_open (sb->state_dir, NULL, &ctx, &e) < 0
      || islet_sandbox_remove_withdrawn (ctx, sb->id, sb->uid_base, &e) < 0)
    logmsg ("sandbox %s: not removed: %s", sb->id, e.msg);
  islet_ctx_free (ctx);
}
/* Drop the last references to the sandbox's namespaces.  No process is left
 * in them, so the mount namespace goes with our fd: the kernel unmounts its
 * whole tree, and the root overlay's last act is to sync its upper layer,
 * which on a btrfs pool commits a transaction (2-7 ms here, the bulk of a
 * destroy).  Nothing of that tree is mounted in the host's namespace, so
 * nothing needs an umount of ours. */
void
release_namespaces (struct sandbox *sb)
{
  islet_ns_close (sb->ns);
}

void
teardown (struct sandbox *sb)
{
  stop_sandbox (sb);
  release_namespaces (sb);
  net_down (sb);
}
/* The answer to the request that stopped the sandbox, if any. */
void
answer_stopped (int *conn)
{
  cleanup_json json_t *ok = NULL;
  struct islet_err e;

  if (*conn < 0)
    return;
  ok = json_pack ("{s:b}", "stopped", 1);
  (void) !islet_frame_send_json (*conn, ok, &e);
  close (*conn);
  *conn = -1;
}
