/* The supervisor's requests on ctl.sock (and exec.sock while no handler
 * is ready): the `ops` table, pause and resume, the network, the file
 * agent, and the handlers forked for one request. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/proto.h"
#include "islet/util.h"
#include "runtime.h"
#include "supervisor.h"

pid_t agent_pid;
int agent_sock = -1;
static bool agent_tried; /* started once: after it is gone, handlers serve */
bool paused;
bool remove_asked;

/* Without the agent, file requests are served by handlers. */
void
agent_stop (void)
{
  if (agent_pid > 0)
    kill (agent_pid, SIGKILL);
  agent_pid = 0;
  if (agent_sock >= 0)
    close (agent_sock);
  agent_sock = -1;
}

/* Pause (freeze the sandbox's group, every process in place) or resume. */
static void
set_paused (struct sandbox *sb, int conn, bool on)
{
  cleanup_json json_t *ok = NULL;
  uint64_t t0 = islet_now_ns ();
  struct islet_err e;

  if (on && !paused && agent_pid > 0)
    {
      /* Clients keep sessions open with the file agent; ended now, their
         next request reaches this supervisor and its refusal instead of a
         frozen agent.  It is started again on the first request after. */
      pid_t agent = agent_pid;

      agent_stop ();
      while (waitpid (agent, NULL, 0) < 0 && errno == EINTR)
        ;
    }
  if (on && !paused)
    {
      agent_tried = false;
      /* they would accept execs on exec.sock: ours to refuse while paused */
      ready_stop ();
      /* and a paused sandbox keeps no exec group either */
      exec_groups_drop (sb);
    }
  if (on != paused && islet_cg_freeze (sb->cg, on, &e) < 0)
    {
      reply_error (conn, &e);
      return;
    }
  paused = on;
  logmsg ("%s in %.2f ms", on ? "paused" : "resumed", (double) (islet_now_ns () - t0) / 1e6);
  ok = json_pack ("{s:b}", "paused", on);
  (void) !islet_frame_send_json (conn, ok, &e);
}

/* A TCP socket in the sandbox's network namespace, not yet connected,
 * passed back on conn (one byte 'F' carrying it; 'E' and an error frame
 * if it cannot be made).  isletd's preview proxy connects it to a port on
 * the sandbox's loopback: the sandbox's network is opened to nothing, and
 * nothing else of the sandbox is joined.  The supervisor goes back to the
 * host's namespace at once; it cannot go on in the sandbox's. */
static void
net_socket (struct sandbox *sb, int conn)
{
  static int host_net = -1;
  cleanup_close int s = -1;
  struct islet_err e;
  int saved = 0;

  if (paused)
    {
      islet_fail (&e, ISLET_E_CONFLICT, 0, "sandbox `%s` is paused: start it to resume it", sb->id);
      goto refuse;
    }
  if (host_net < 0)
    host_net = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (host_net < 0 || setns (sb->ns[ISLET_NS_NET], CLONE_NEWNET) < 0)
    {
      islet_fail (&e, ISLET_E_SYSTEM, errno, "enter the sandbox's network namespace");
      goto refuse;
    }
  s = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    saved = errno;
  if (setns (host_net, CLONE_NEWNET) < 0)
    {
      logmsg ("cannot return to the host's network namespace (%s): stopping", strerror (errno));
      _exit (1);
    }
  if (s < 0)
    {
      islet_fail (&e, ISLET_E_SYSTEM, saved, "a socket in the sandbox's network namespace");
      goto refuse;
    }
  if (islet_send_fd (conn, "F", 1, s, 0) < 0)
    logmsg ("pass a network socket: %s", strerror (errno));
  return;
refuse:
  if (islet_write_all (conn, "E", 1) == 0)
    reply_error (conn, &e);
}

/* One connection's first request, and what its handler may need. */
struct conn_req
{
  struct sandbox *sb;
  int conn;
  int lfd; /* the listening socket and the signal fd, closed in a */
  int sfd; /* forked handler */
  json_t *req;
};

/* The request is read: a handler that passes the connection on lets its
   new owner read at its own pace, without the first-frame timeout. */
static void
no_timeout (int conn)
{
  struct timeval tv = { 0 };

  setsockopt (conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static bool
refuse (int conn, const struct islet_err *e)
{
  reply_error (conn, e);
  return false;
}

/* Exec and file requests wait for a resume; the others are answered. */
static bool
refuse_paused (const struct conn_req *c)
{
  struct islet_err e;

  if (!paused)
    return false;
  islet_fail (&e, ISLET_E_CONFLICT, 0, "sandbox `%s` is paused: start it to resume it", c->sb->id);
  reply_error (c->conn, &e);
  return true;
}

static bool
op_stop (struct conn_req *c)
{
  (void) c;
  return true;
}

static bool
op_ping (struct conn_req *c)
{
  cleanup_json json_t *j = json_pack ("{s:i,s:i,s:b}", "supervisor", (int) getpid (), "init",
                                      (int) c->sb->init_pid, "paused", paused);
  struct islet_err e;

  (void) !islet_frame_send_json (c->conn, j, &e);
  return false;
}

static bool
op_pause (struct conn_req *c)
{
  set_paused (c->sb, c->conn, true);
  return false;
}

static bool
op_resume (struct conn_req *c)
{
  set_paused (c->sb, c->conn, false);
  return false;
}

static bool
op_net_socket (struct conn_req *c)
{
  net_socket (c->sb, c->conn);
  return false;
}

static bool
op_network (struct conn_req *c)
{
  cleanup_json json_t *ok = NULL;
  struct islet_err e;

  if (net_update (c->sb, &e) < 0)
    {
      logmsg ("network update: %s", e.msg);
      return refuse (c->conn, &e);
    }
  /* the exec handlers were forked with the old settings (their proxy
     variables): the next exec gets one forked after the change */
  ready_stop ();
  ok = json_pack ("{s:s}", "network", islet_net_mode_name (c->sb->net.mode));
  (void) !islet_frame_send_json (c->conn, ok, &e);
  return false;
}

enum handler
{
  HANDLER_EXEC,
  HANDLER_FILE,
  HANDLER_CHOWN,
};

/* A handler forked for this one request. */
static bool
fork_handler (struct conn_req *c, enum handler kind)
{
  bool exec = kind == HANDLER_EXEC;
  struct islet_err e;
  unsigned seq = 0;
  bool reuse = false;
  pid_t pid;

  if (n_handlers >= MAX_HANDLERS)
    {
      islet_fail (&e, ISLET_E_LIMIT, 0, "too many requests at once (%d)", MAX_HANDLERS);
      return refuse (c->conn, &e);
    }
  if (exec)
    reuse = exec_group_take (c->sb, &seq);
  pid = fork ();
  if (pid < 0)
    {
      exec_group_back (c->sb, seq, reuse);
      islet_fail (&e, ISLET_E_SYSTEM, errno, "fork a handler");
      return refuse (c->conn, &e);
    }
  if (pid == 0)
    {
      handler_detach (c->lfd, c->sfd);
      if (c->sb->xfd >= 0)
        close (c->sb->xfd);
      no_timeout (c->conn);
      if (kind == HANDLER_EXEC)
        _exit (serve_exec (c->sb, c->conn, c->req, seq, reuse));
      serve_file (c->sb, c->conn, c->req, kind == HANDLER_CHOWN ? SERVE_CHOWN_CAPS : 0);
      _exit (0);
    }
  handler_seq[n_handlers] = seq;
  handlers[n_handlers++] = pid;
  /* from a sandbox's second exec on, the next one is always made ready (a
     sandbox made for one command, as by `islet run`, never pays for it) */
  if (exec && ++execs_forked >= 2)
    ready_start (c->sb, c->lfd, c->sfd);
  return false;
}

static bool
op_exec (struct conn_req *c)
{
  if (refuse_paused (c))
    return false;
  for (size_t i = 0; i < n_links; i++)
    {
      if (links[i].state != LINK_READY)
        continue;
      /* a handler made ready for it takes it over; the next one is made
       * once this exec's command has started (the handler then says "s"),
       * not before: the fork would hold up this one */
      no_timeout (c->conn);
      if (request_pass (links[i].sock, c->conn, c->req) == 0)
        {
          links[i].state = LINK_TAKEN;
          ready_since = islet_now_ns ();
          return false;
        }
      if (errno == EMSGSIZE)
        break;
      logmsg ("the ready exec handler is gone (%s)", strerror (errno));
      link_drop (i--);
    }
  return fork_handler (c, HANDLER_EXEC);
}

/* Every op not in the table below is a file request (agent.c). */
static bool
op_file (struct conn_req *c)
{
  struct islet_err e;

  if (refuse_paused (c))
    return false;
  if (!agent_tried)
    {
      /* on the first file request, so that a sandbox that only runs
       * commands never pays for it; requests queue on the socket until the
       * agent has confined itself */
      agent_tried = true;
      agent_pid = agent_start (c->sb, &agent_sock, &e);
      if (agent_pid < 0)
        {
          logmsg ("no file agent (%s): file requests go to handlers", e.msg);
          agent_pid = 0;
        }
    }
  if (agent_sock >= 0)
    {
      no_timeout (c->conn);
      if (request_pass (agent_sock, c->conn, c->req) == 0)
        return false;
      if (errno != EAGAIN && errno != EMSGSIZE)
        {
          logmsg ("the file agent is gone (%s): file requests go to handlers", strerror (errno));
          agent_stop ();
        }
    }
  return fork_handler (c, HANDLER_FILE);
}

/* chown needs a capability the agent does not have: a handler of its own. */
static bool
op_chown (struct conn_req *c)
{
  if (refuse_paused (c))
    return false;
  return fork_handler (c, HANDLER_CHOWN);
}

/* A stop whose asker leaves the removal to this process (`islet run`, done
 * with a sandbox from the warm pool): answered once no process of the
 * sandbox runs and it is withdrawn; the rest follows the answer. */
static bool
op_remove (struct conn_req *c)
{
  (void) c;
  remove_asked = true;
  return true;
}

/* `islet run` from the warm pool: the command of a sandbox just taken,
 * run by its init, and the sandbox removed after it as a one-shot
 * sandbox is (pooled.c).  A fork that fails stops the sandbox at once. */
static bool
op_run (struct conn_req *c)
{
  struct islet_err e;

  if (pooled_refuse (c->sb, "run", &e) < 0 || oneshot_adopt (c->sb, c->conn, c->req, &e) < 0)
    return refuse (c->conn, &e);
  no_timeout (c->conn);
  return !oneshot_fork (c->sb, c->lfd, c->sfd);
}

/* A create that took this sandbox from the warm pool (pooled.c): answered
 * first, then the times of the root's first directories set to now, as a
 * cold create's are the moment it was made, before another request is
 * served. */
static bool
op_take (struct conn_req *c)
{
  cleanup_json json_t *j = json_pack ("{s:b}", "taken", 1);
  struct islet_err e;

  if (pooled_refuse (c->sb, "take", &e) < 0)
    return refuse (c->conn, &e);
  (void) !islet_frame_send_json (c->conn, j, &e);
  if (islet_sandbox_touch_root (c->sb->init_pid, &e) < 0)
    logmsg ("the taken sandbox keeps its fill's times: %s", e.msg);
  return false;
}

/* The supervisor's own requests; each returns true only to stop it. */
static const struct
{
  const char *op;
  bool (*serve) (struct conn_req *c);
} ops[] = {
  { "stop", op_stop },       { "remove", op_remove }, { "ping", op_ping },
  { "pause", op_pause },     { "resume", op_resume }, { "net-socket", op_net_socket },
  { "network", op_network }, { "exec", op_exec },     { "chown", op_chown },
  { "run", op_run },         { "take", op_take },
};

bool
serve_request (struct sandbox *sb, int conn, int lfd, int sfd, bool exec_only)
{
  struct timeval tv = { .tv_sec = 2 }; /* a client that connects and says nothing */
  cleanup_json json_t *req = NULL;
  struct islet_err e;
  const char *op;

  setsockopt (conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (islet_frame_recv_json (conn, &req, &e) < 0)
    return false; /* a probe that only connects, or garbage */
  op = json_string_value (json_object_get (req, "op"));
  if (op == NULL || (exec_only && strcmp (op, "exec") != 0))
    {
      islet_fail (&e, ISLET_E_INVALID, 0,
                  op ? "exec.sock takes exec requests only" : "request without `op`");
      return refuse (conn, &e);
    }
  /* any request but a probe, a `run` and a `take` uses the sandbox: a
     pooled one's init no longer waits for a command (pooled.c) */
  if (strcmp (op, "ping") != 0 && strcmp (op, "run") != 0 && strcmp (op, "take") != 0)
    pooled_release (sb);
  struct conn_req c = { .sb = sb, .conn = conn, .lfd = lfd, .sfd = sfd, .req = req };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp (op, ops[i].op) == 0)
      return ops[i].serve (&c);
  return op_file (&c);
}
