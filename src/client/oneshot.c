/* A sandbox made for one command and removed after it (`islet run`).
 *
 * Cold, the sandbox is a one-shot one (src/runtime/oneshot.c): islet-run
 * --oneshot is started as this process's child, with a socket, as soon as
 * the sandbox's directory is there; the exec request goes on the socket
 * once the storage is made, before the sandbox runs; the sandbox's init
 * runs the command, and the answer comes on the same socket as an exec's
 * on ctl.sock: no "ok" to wait for, no connection to make, no exec
 * handler, no stop to ask.  By the time the answer comes, every process of
 * the sandbox is killed and the sandbox withdrawn (not listed, its name
 * free); its supervisor removes the rest after, without this process.
 * From the warm pool the sandbox is an ordinary one, asked to remove
 * itself the same way once its command's status is known; through a
 * remote backend it is destroyed. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/client.h"
#include "islet/config.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "sandbox_internal.h"

/* How long the end waits for the supervisor to stop the sandbox; then it
 * is killed (its init dies with it), and the sandbox destroyed from here. */
#define STOP_WAIT_MS 30000

struct launch
{
  const struct islet_exec_req *req;
  struct islet_run *run;
};

/* The supervisor, started as soon as the sandbox's directory is there: it
 * execs and loads while the storage and the config are made, then waits
 * for the request, which it reads before the config. */
static int
launch_begin (struct islet_ctx *ctx, const char *id, void *arg, struct islet_err *err)
{
  struct launch *l = arg;

  l->run->pid = runtime_spawn (ctx, SOCK_STREAM, "--oneshot", ctx->state_dir, id, &l->run->conn,
                               err);
  return l->run->pid < 0 ? -1 : 0;
}

/* The storage and the config made: the request, the supervisor's word to
 * start.  The config is not synced: a one-shot sandbox does not outlive
 * its CLI, let alone a crash of the host (what a crash cuts short is a
 * broken sandbox, which `islet rm` and `system reset` remove). */
static int
launch_go (struct islet_ctx *ctx, const char *id, void *arg, struct islet_err *err)
{
  struct launch *l = arg;
  cleanup_json json_t *msg = exec_msg (l->req, l->req->stdin_data != NULL, err);
  struct islet_err ignored;

  (void) ctx;
  (void) id;
  if (msg == NULL)
    return -1;
  /* a supervisor that failed says why on the socket: read by the wait */
  (void) !islet_frame_send_json (l->run->conn, msg, &ignored);
  return 0;
}

/* A step of the create failed: the socket's end without a request makes
 * the supervisor refuse the start; it is reaped before the storage goes. */
static void
launch_abandon (void *arg)
{
  struct launch *l = arg;

  if (l->run->conn >= 0)
    close (l->run->conn);
  l->run->conn = -1;
  if (l->run->pid > 0)
    while (waitpid (l->run->pid, NULL, 0) < 0 && errno == EINTR)
      ;
  l->run->pid = -1;
}

/* The command of a sandbox just taken from the warm pool, as one request
 * to its supervisor (src/runtime/pooled.c): its init runs it and the
 * sandbox ends with it, as a one-shot sandbox does.  A request that cannot
 * be sent leaves the sandbox to an exec and a removal. */
static void
run_pooled (struct islet_run *run, const struct islet_exec_req *req, int conn)
{
  struct islet_err ignored;
  cleanup_json json_t *msg = exec_msg (req, req->stdin_data != NULL, &ignored);

  if (msg == NULL)
    {
      close (conn);
      return;
    }
  json_object_set_new (msg, "op", json_string ("run"));
  if (islet_frame_send_json (conn, msg, &ignored) < 0)
    {
      close (conn);
      return;
    }
  run->conn = conn;
  run->oneshot = run->pooled = true;
}

/* A `run` refused before anything ran, because the sandbox was not fresh
 * from the pool (an exec into it by its id before its take): the command
 * then runs as an exec.  Every pool that fits a take was filled by an
 * islet-run that knows `run` (warm.c's pooled_fits). */
static bool
run_refused (const struct islet_err *err)
{
  return err->kind == ISLET_E_CONFLICT && strstr (err->msg, "takes no `run`") != NULL;
}

/* A run's timeout and output limit bind its one command only, and its
 * request can carry them: a pooled sandbox (of the default limits) serves
 * a run that asks for others.  fit is opts with those two at their
 * defaults, for warm_fits; *pooled_req the request with them in it. */
static void
run_fit (const struct islet_create_opts *opts, const struct islet_exec_req *req,
         struct islet_create_opts *fit, struct islet_exec_req *pooled_req)
{
  const struct islet_limits d = ISLET_LIMITS_DEFAULT;

  *fit = *opts;
  fit->limits.timeout_s = d.timeout_s;
  fit->limits.output_bytes = d.output_bytes;
  *pooled_req = *req;
  if (pooled_req->timeout_ms == 0)
    pooled_req->timeout_ms = opts->limits.timeout_s * 1000;
  if (pooled_req->output_limit == 0)
    pooled_req->output_limit = opts->limits.output_bytes;
}

int
islet_run_start (struct islet_ctx *ctx, const struct islet_create_opts *opts,
                 const struct islet_exec_req *req, struct islet_run *run, struct islet_err *err)
{
  struct launch l = { .req = req, .run = run };
  struct sandbox_launch launch = { launch_begin, launch_go, launch_abandon, &l };
  struct islet_create_opts fit;
  int taken, conn = -1;

  *run = (struct islet_run){ .conn = -1, .pid = -1, .fill_pid = -1, .ctx = ctx };
  if (!CTX_LOCAL (ctx))
    return islet_sandbox_create (ctx, opts, run->id, err);
  run_fit (opts, req, &fit, &run->pooled_req);
  taken = opts->id == NULL && warm_fits (&fit)
              ? warm_take_run (ctx, &fit, run->id, &run->refill_due, &conn, err)
              : 0;
  if (taken > 0)
    run_pooled (run, &run->pooled_req, conn);
  if (taken != 0)
    return taken > 0 ? 0 : -1;
  if (sandbox_create_with (ctx, opts, &launch, run->id, err) < 0)
    return -1;
  run->oneshot = true;
  return 0;
}

int
islet_run_wait (struct islet_run *run, const struct islet_exec_req *req,
                struct islet_exec_result *out, struct islet_err *err)
{
  if (exec_answer (run->conn, req, out, err) == 0)
    {
      run->answered = true;
      return 0;
    }
  if (run->pooled && run_refused (err))
    {
      /* the pooled sandbox has the default limits: the run's own go with
         its exec */
      struct islet_exec_req r = *req;
      r.timeout_ms = run->pooled_req.timeout_ms;
      r.output_limit = run->pooled_req.output_limit;
      close (run->conn);
      run->conn = -1;
      run->oneshot = run->pooled = false;
      return islet_exec (run->ctx, run->id, &r, out, err);
    }
  /* its supervisor stopped the sandbox under the command (`islet stop`,
     `islet rm -f`) or died: the connection's end alone says little */
  if (err->kind == ISLET_E_SYSTEM && strcmp (err->msg, "the sandbox closed the connection") == 0)
    islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox `%s` was stopped before its command ended",
                run->id);
  return -1;
}

/* Until no process of the sandbox is left: the supervisor's end of the
 * socket closes then (with the answerer, when the init ran the command;
 * after its stop, when a handler did).  False if it did not in time: the
 * supervisor is then killed (its init dies with it). */
static bool
await_stop (struct islet_run *run)
{
  uint64_t deadline = islet_now_ns () + STOP_WAIT_MS * 1000000ull;
  bool stopped = true;
  char buf[512];

  /* a command not answered yet (interrupted) is killed on this */
  shutdown (run->conn, SHUT_WR);
  for (;;)
    {
      struct pollfd p = { run->conn, POLLIN, 0 };
      uint64_t now = islet_now_ns ();
      ssize_t n;

      if (now >= deadline)
        {
          if (run->pid > 0)
            kill (run->pid, SIGKILL);
          stopped = false;
          break;
        }
      if (poll (&p, 1, (int) ((deadline - now) / 1000000ull) + 1) <= 0)
        continue;
      n = read (run->conn, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
        break;
    }
  close (run->conn);
  run->conn = -1;
  return stopped;
}

/* A sandbox from the warm pool asked to remove itself: answered once none
 * of its processes runs and it is withdrawn; the rest of the removal is
 * its supervisor's.  A supervisor that does not know the request (started
 * by an older islet-run) has the sandbox destroyed as before. */
static int
remove_pooled (struct islet_ctx *ctx, const char *id, struct islet_err *err)
{
  if (CTX_LOCAL (ctx))
    {
      sessions_drop (ctx, id);
      if (sandbox_ask (ctx, id, "remove", err) == 0)
        return 0;
    }
  if (islet_sandbox_destroy (ctx, id, true, err) == 0 || err->kind == ISLET_E_NOTFOUND)
    return 0;
  return -1;
}

void
islet_run_refill (struct islet_ctx *ctx, struct islet_run *run)
{
  if (!run->refill_due)
    return;
  run->refill_due = false;
  run->fill_pid = warm_refill_start (ctx);
}

int
islet_run_end (struct islet_ctx *ctx, struct islet_run *run, bool removed, struct islet_err *err)
{
  int rc = 0;

  islet_run_refill (ctx, run);
  fill_reap (run->fill_pid);
  run->fill_pid = -1;
  if (!run->oneshot)
    return removed ? 0 : remove_pooled (ctx, run->id, err);
  /* its supervisor removes it, also after a stop or a kill of this
     process; left to this process are one that hung and one whose start
     the supervisor refused (stopped, not removed; after a stop, the
     supervisor has removed it already and there is nothing to find) */
  if ((!await_stop (run) || !run->answered) && !removed)
    {
      while (run->pid > 0 && waitpid (run->pid, NULL, 0) < 0 && errno == EINTR)
        ;
      rc = islet_sandbox_destroy (ctx, run->id, true, err);
      if (rc < 0 && err->kind == ISLET_E_NOTFOUND)
        rc = 0;
    }
  else if (run->pid > 0)
    (void) waitpid (run->pid, NULL, WNOHANG);
  run->pid = -1;
  return rc;
}
