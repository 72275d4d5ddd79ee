/* One exec.  Its handler (a fork of the supervisor, still host root) joins
 * the sandbox's pid namespace for its children only (setns on a pid
 * namespace does not move the caller), makes the exec's own child cgroup,
 * and forks the command's process, which is thereby born inside the
 * sandbox's pid namespace as the handler's child: the handler reaps it,
 * reads its status, and can kill the exec's whole tree through the cgroup
 * however it forked.  The command's process confines itself (confine.c: the
 * exec's cgroup, the other namespaces, the sandbox's root with no
 * capabilities, not dumpable, the seccomp filter), and only then waits for
 * what to run.
 *
 * All of that happens before the request comes: after a sandbox's first
 * exec the supervisor keeps one handler ready, its command's process
 * confined and waiting (exec_ready), and passes it the next exec's
 * connection.  The request then costs a write of the argv to a pipe and the
 * execve.  A handler forked for the request (serve_exec) does the same
 * steps in a row. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/proto.h"
#include "islet/util.h"
#include "exec_spec.h"
#include "runtime.h"

static void __attribute__ ((noreturn)) start_failed (int fd, int errnum, const char *msg)
{
  report_failure (fd, errnum, false, msg);
}

/* A command's process, made before its request comes: born in the
 * sandbox's pid namespace as the handler's child, in the exec's group,
 * confined, waiting on `go` for what to run.  The handler's ends: */
struct command
{
  struct islet_cg *cg; /* the exec's group, x<seq> */
  unsigned seq;
  pid_t pid;        /* -1: none */
  int go;           /* the spec goes in here; closing it unused ends the process */
  int in;           /* write end of its stdin */
  int out[2];       /* read ends of its stdout and stderr */
  int status;       /* read end: a start_failure if it could not start */
  int sfd;          /* SIGCHLD of the handler's children */
  pid_t supervisor; /* the handler's parent */
  bool untold;      /* the supervisor has not heard "taken" yet */
  bool charged;     /* the handler is in the sandbox's group io */
  bool reuse;       /* x<seq> was kept by an earlier exec (EXEC_GROUP_KEPT) */
  bool again;       /* a ready handler that may serve another exec: its socket stays open */
  char oom_adj[16]; /* the handler's oom_score_adj before it was spared ("" if it was not) */
};

/* The spec on `go`: this header, then `size` bytes of NUL-terminated
 * strings: the working directory, argc arguments, envc environment
 * entries. */
struct go_header
{
  uint32_t size, argc, envc, has_stdin;
  uint32_t pty, cols, rows; /* pty: on a terminal of cols x rows */
};

/* The command's fds, from its birth to its execve. */
enum
{
  FD_GO = 3,
  FD_STATUS = 4,
  FD_COUNT
};

/* Read the spec from the handler: its strings in one allocation, kept until
 * the execve.  0 if the handler let the process go. */
static int
command_read_spec (struct go_header *h, char **cwd, char ***argv, char ***envp)
{
  char *buf, *p;
  char **v;

  if (islet_read_all (FD_GO, h, sizeof *h) != (ssize_t) sizeof *h || h->size == 0)
    return 0;
  buf = malloc (h->size);
  v = calloc ((size_t) h->argc + h->envc + 2, sizeof *v);
  if (buf == NULL || v == NULL || islet_read_all (FD_GO, buf, h->size) != (ssize_t) h->size
      || buf[h->size - 1] != '\0')
    return 0;
  *cwd = p = buf;
  for (uint32_t i = 0; i < h->argc + h->envc; i++)
    {
      p += strlen (p) + 1;
      if (p >= buf + h->size)
        return 0;
      v[i + (i >= h->argc)] = p;
    }
  *argv = v;
  *envp = v + h->argc + 1;
  return 1;
}

/* The command's process: confines itself in the exec's group (confine.c),
 * its fds at 0-4, then waits for its spec and execs it.  fds: stdin,
 * stdout, stderr, go and status, in that order, still where pipe2 put
 * them. */
static void __attribute__ ((noreturn))
command_main (struct sandbox *sb, const struct command *hc, const int fds[FD_COUNT])
{
  /* the image's User (root when it names none) */
  struct confinement c = { .cg = hc->cg,
                           .nfds = FD_COUNT,
                           .cloexec_from = FD_GO,
                           .uid = sb->image.uid,
                           .gid = sb->image.gid,
                           .root_caps = sb->build ? ISLET_BUILD_CAPS : 0 };
  struct go_header h;
  struct islet_err e;
  char *cwd, **argv, **envp;
  sigset_t none;
  int rc;

  signals_default ();
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  /* forked by a handler spared by the OOM killer (one that serves a second
     exec): the handler's own value again, written while this process still
     has CAP_SYS_RESOURCE, so that it is also the floor below which the
     command cannot set its own */
  if (hc->oom_adj[0]
      && islet_write_file_at (AT_FDCWD, "/proc/self/oom_score_adj", hc->oom_adj, &e) < 0)
    report_failure (fds[FD_STATUS], e.errnum ? e.errnum : EIO, true, e.msg);
  memcpy (c.fds, fds, FD_COUNT * sizeof fds[0]);
  if (confine (sb, &c, &e) < 0)
    report_failure (c.fds[FD_STATUS], e.errnum ? e.errnum : EIO, true, e.msg);
  if (!command_read_spec (&h, &cwd, &argv, &envp))
    _exit (0);
  close (FD_GO);
  if (h.pty && pty_take_terminal (FD_STATUS, h.cols, h.rows, &e) < 0)
    start_failed (FD_STATUS, e.errnum ? e.errnum : EIO, e.msg);
  if (!h.has_stdin && !h.pty)
    {
      int null = open ("/dev/null", O_RDONLY);
      if (null < 0 || dup2 (null, 0) < 0)
        {
          islet_fail (&e, ISLET_E_SYSTEM, errno, "set up stdio");
          start_failed (FD_STATUS, e.errnum, e.msg);
        }
      close (null);
    }
  if (chdir (cwd) < 0)
    {
      islet_fail (&e, ISLET_E_SYSTEM, errno, "working directory `%s`", cwd);
      start_failed (FD_STATUS, e.errnum, e.msg);
    }
  rc = exec_path (argv, envp);
  if (rc == ENOENT)
    islet_fail (&e, ISLET_E_NOTFOUND, 0, "`%s`: command not found", argv[0]);
  else
    islet_fail (&e, ISLET_E_INVALID, rc, "`%s`", argv[0]);
  start_failed (FD_STATUS, rc, e.msg);
}

static void
set_nonblock (int fd)
{
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
}

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

static void
reap (struct run_state *st)
{
  int status;
  struct rusage ru;
  pid_t pid;

  while ((pid = wait4 (-1, &status, WNOHANG, &ru)) > 0)
    {
      if (pid != st->command)
        continue;
      st->status = status;
      st->ru = ru;
      st->done = true;
    }
}

/* stdin fed as the command runs: one frame from the client while nothing
 * waits to go into the pipe.  -1: the client is gone. */
static int
stdin_frame (int conn, struct exec_spec *spec, int *in, size_t *written)
{
  cleanup_free char *data = NULL;
  enum islet_frame type;
  struct islet_err e;
  size_t len;

  if (islet_frame_recv (conn, &type, &data, &len, &e) < 0)
    return -1;
  if (type != ISLET_FRAME_DATA)
    return 0;
  if (len == 0)
    {
      close_fd (in); /* the end of stdin */
      return 0;
    }
  free (spec->stdin_data);
  spec->stdin_data = islet_take_ptr (&data);
  spec->stdin_len = len;
  *written = 0;
  return 0;
}

/* The client went away: a detached command only loses its stdin, any
 * other is killed (nobody wants it any more). */
static void
client_left (const struct exec_spec *spec, struct islet_cg *xcg, int *conn, int *in,
             struct run_state *st)
{
  struct islet_err e;

  st->client_gone = true;
  *conn = -1;
  if (spec->detach)
    close_fd (in);
  else
    (void) !islet_cg_kill (xcg, &e);
}

static void
supervise (struct sandbox *sb, struct islet_cg *xcg, int conn, struct exec_spec *spec,
           struct stream out[2], int in, int sfd, struct run_state *st)
{
  uint64_t deadline = spec->untimed ? UINT64_MAX : islet_now_ns () + spec->timeout_ms * 1000000ull;
  size_t written = 0;
  int open_streams = 2;

  /* stdin given whole and empty (a client's /dev/null): its end at once */
  if (!spec->stdin_stream && spec->stdin_len == 0)
    close_fd (&in);
  while (!st->done || open_streams > 0)
    {
      struct pollfd p[5];
      int np = 0, timeout;
      uint64_t now = islet_now_ns ();
      bool pending = in >= 0 && written < spec->stdin_len;
      struct islet_err e;

      if (st->done)
        {
          /* The command is gone: take what is already in the pipes, but do not
             wait for a background process that holds them open. */
          for (int i = 0; i < 2; i++)
            if (out[i].fd >= 0)
              while (pump (conn, &out[i], spec->output_limit) == PUMP_DATA)
                ;
          break;
        }
      if (now >= deadline && !st->timed_out)
        {
          st->timed_out = true;
          if (islet_cg_kill (xcg, &e) < 0)
            fprintf (stderr, "kill exec group: %s\n", e.msg);
        }
      timeout = st->timed_out            ? 100
                : deadline == UINT64_MAX ? -1
                                         : (int) ((deadline - now) / 1000000ull) + 1;
      for (int i = 0; i < 2; i++)
        if (out[i].fd >= 0)
          p[np++] = (struct pollfd){ out[i].fd, POLLIN, 0 };
      p[np++] = (struct pollfd){ sfd, POLLIN, 0 };
      if (conn >= 0)
        p[np++] = (struct pollfd){
          conn,
          (short) (spec->stdin_stream && in >= 0 && !pending ? POLLIN | POLLRDHUP : POLLRDHUP), 0
        };
      if (pending)
        p[np++] = (struct pollfd){ in, POLLOUT, 0 };
      if (poll (p, (nfds_t) np, timeout) < 0)
        continue;
      for (int k = 0; k < np; k++)
        {
          if (!p[k].revents)
            continue;
          if (p[k].fd == sfd)
            {
              struct signalfd_siginfo si;
              (void) !read (sfd, &si, sizeof si);
              reap (st);
            }
          else if (p[k].fd == conn)
            {
              if ((p[k].revents & POLLIN) && stdin_frame (conn, spec, &in, &written) == 0)
                continue;
              client_left (spec, xcg, &conn, &in, st);
            }
          else if (p[k].fd == in)
            {
              ssize_t n = write (in, spec->stdin_data + written, spec->stdin_len - written);
              if (n > 0)
                written += (size_t) n;
              if ((n < 0 && errno != EAGAIN) || (written == spec->stdin_len && !spec->stdin_stream))
                close_fd (&in);
            }
          else
            for (int i = 0; i < 2; i++)
              if (p[k].fd == out[i].fd && pump (conn, &out[i], spec->output_limit) == PUMP_EOF)
                {
                  close (out[i].fd);
                  out[i].fd = -1;
                  open_streams--;
                }
        }
      (void) sb;
    }
  if (in >= 0)
    close (in);
}

/* The handler's oom_score_adj before it is spared, for the command
 * processes it forks afterwards (command_main). */
static void
oom_adj_save (struct command *c)
{
  int fd = open ("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read (fd, c->oom_adj, sizeof c->oom_adj - 1);

  if (fd >= 0)
    close (fd);
  c->oom_adj[n > 0 ? n : 0] = '\0';
  c->oom_adj[strcspn (c->oom_adj, "\n")] = '\0';
}

/* From the command's start on, the handler's work is the command's: its
 * output read, forwarded or, past the limit, read and dropped.  A command
 * that writes fast (vmsplice costs it little) would otherwise spend the
 * host's CPU and memory; in the sandbox's group `io` the handler shares the
 * sandbox's quota and limits instead.  (Not the exec's own group, which a
 * timeout kills whole.)  Spared by the OOM killer like the init, so that a
 * full group kills the command, never its handler.
 *
 * On v1 the handler enters `io` in every hierarchy but pids, and does so
 * as soon as it has forked its command's process: a ready handler then
 * makes no move while a request waits on it.  A move (a write to
 * cgroup.procs) takes the kernel's cgroup_threadgroup_rwsem for writing,
 * at times after an RCU grace period of several milliseconds, and the
 * cgroup mutex, which the next ready handler's mkdirs hold meanwhile:
 * made after the argv, as before, it held the handler's answer while the
 * command ran.  The handler forks only its commands' processes once there
 * (the next one after a clean exec, exec_ready), each of which enters its
 * exec's group whole; out of io's pids group it neither takes one of the
 * sandbox's pids while it waits nor is limited by them when it forks a
 * command's process again.  v2's one hierarchy carries pids, so there the
 * handler enters only once the command has started, as it forks outside
 * the sandbox's pids limit. */
static void
charge_to_sandbox (const struct sandbox *sb, struct command *c, bool started)
{
  struct islet_err e;

  if (c->charged || sb->io_cg == NULL)
    return;
  if (islet_cg_enter_but_pids (sb->io_cg, 0, &e) == 0)
    c->charged = true;
  else if (e.errnum != ENOTSUP)
    fprintf (stderr, "exec handler: %s\n", e.msg);
  else if (!started)
    return;
  else if (islet_cg_enter (sb->io_cg, 0, &e) < 0)
    fprintf (stderr, "exec handler: %s\n", e.msg);
  else
    c->charged = true;
  oom_adj_save (c);
  if (islet_write_file_at (AT_FDCWD, "/proc/self/oom_score_adj", "-1000", &e) < 0)
    c->oom_adj[0] = '\0'; /* not spared (no CAP_SYS_RESOURCE): nothing to undo */
}

/* Background processes may outlive the exec: their group is removed once
 * they are gone (or with the sandbox). */
static void
retire_group (struct islet_cg *xcg)
{
  struct islet_err e;

  /* most often the command took everything with it: the rmdir alone */
  if (islet_cg_remove_if_empty (xcg))
    return;
  for (unsigned delay_ms = 50; !islet_cg_is_empty (xcg);
       delay_ms = delay_ms < 2000 ? delay_ms * 2 : 2000)
    usleep (delay_ms * 1000);
  if (islet_cg_destroy (xcg, &e) < 0)
    fprintf (stderr, "remove exec group: %s\n", e.msg);
}

/* After a clean exec (no timeout, no kill, no OOM) whose group is empty
 * already, the group is kept for a later exec of the same sandbox, which
 * restarts its stats (command_prepare): each v1 memory group made costs
 * this host a mkdir of 0.2 ms and more, and its removal the kernel's work
 * beside.  The supervisor hears it in the handler's exit status.  Any other
 * group is removed, as before. */
static int
retire_or_keep (struct islet_cg *xcg, bool clean)
{
  if (clean && islet_cg_keep_if_empty (xcg))
    return EXEC_GROUP_KEPT;
  retire_group (xcg);
  return 0;
}

/* A handler that ends before its command ran: its group goes, unless it
 * never opened the kept one it was given, which stays kept. */
static int
group_end (struct command *c)
{
  if (c->cg)
    retire_group (c->cg);
  return c->cg == NULL && c->reuse ? EXEC_GROUP_KEPT : 0;
}

/* The group x<seq>: kept by an earlier exec (then its stats restart here,
 * before the command's process enters it), or made.  A kept group that
 * cannot restart (something of its last exec still charged, or gone) is
 * removed and made anew. */
static int
exec_group (struct sandbox *sb, struct command *c, const char *name, struct islet_err *err)
{
  struct islet_cg *kept = NULL;
  struct islet_err e;

  if (c->reuse && islet_cg_open_child (sb->cg, name, &kept, &e) == 0)
    {
      if (islet_cg_stats_restart (kept, EXEC_GROUP_LEFT_MAX, &e) == 0)
        {
          c->cg = kept;
          return 0;
        }
      retire_group (kept);
    }
  return islet_cg_create_child (sb->cg, name, &c->cg, err);
}

/* Make the command's process (and the exec's group, if not made yet). */
static int
command_prepare (struct sandbox *sb, struct command *c, struct islet_err *err)
{
  int pi[2] = { -1, -1 }, po[2] = { -1, -1 }, pe[2] = { -1, -1 }, pg[2] = { -1, -1 },
      ps[2] = { -1, -1 };
  char name[32];

  snprintf (name, sizeof name, "x%u", c->seq);
  if (c->cg == NULL && exec_group (sb, c, name, err) < 0)
    return -1;
  if (pipe2 (pi, O_CLOEXEC) < 0 || pipe2 (po, O_CLOEXEC) < 0 || pipe2 (pe, O_CLOEXEC) < 0
      || pipe2 (pg, O_CLOEXEC) < 0
      /* a socket, so that a terminal's master can come back on it */
      || socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ps) < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "set up the exec's pipes");
      goto fail;
    }
  c->pid = fork ();
  if (c->pid < 0)
    {
      /* ENOMEM: the sandbox's init is gone, and its pid namespace with it. */
      islet_fail (err, ISLET_E_SYSTEM, errno, "enter the sandbox: start the command");
      goto fail;
    }
  if (c->pid == 0)
    {
      int fds[FD_COUNT] = { pi[0], po[1], pe[1], pg[0], ps[1] };
      command_main (sb, c, fds);
    }
  close (pi[0]);
  close (po[1]);
  close (pe[1]);
  close (pg[0]);
  close (ps[1]);
  /* after the fork, so that the command's process never holds them */
  islet_cg_stats_open (c->cg);
  c->in = pi[1];
  c->out[0] = po[0];
  c->out[1] = pe[0];
  c->go = pg[1];
  c->status = ps[0];
  return 0;

fail:
  for (int i = 0; i < 2; i++)
    {
      close_fd (&pi[i]);
      close_fd (&po[i]);
      close_fd (&pe[i]);
      close_fd (&pg[i]);
      close_fd (&ps[i]);
    }
  return -1;
}

/* Let the command's process go, unused (closing `go` would do it, but the
 * sandbox may have stopped it), and reap it. */
static void
command_discard (struct command *c)
{
  close_fd (&c->go);
  close_fd (&c->in);
  close_fd (&c->out[0]);
  close_fd (&c->out[1]);
  close_fd (&c->status);
  if (c->pid > 0)
    {
      kill (c->pid, SIGKILL);
      while (waitpid (c->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    }
  c->pid = -1;
}

/* Send the spec; false if the command's process is not there to take it. */
static bool
command_go (struct command *c, const struct exec_spec *spec)
{
  struct go_header h = {
    .has_stdin = spec->has_stdin, .pty = spec->pty, .cols = spec->cols, .rows = spec->rows
  };
  cleanup_free char *buf = NULL;
  size_t size = strlen (spec->cwd) + 1, off = sizeof h;

  if (c->pid <= 0)
    return false;
  if (waitpid (c->pid, NULL, WNOHANG) != 0)
    {
      c->pid = -1; /* reaped: killed from inside the sandbox while it waited */
      return false;
    }
  kill (c->pid, SIGCONT); /* or stopped from inside */
  for (char **v = spec->argv; *v; v++, h.argc++)
    size += strlen (*v) + 1;
  for (char **v = spec->envp; *v; v++, h.envc++)
    size += strlen (*v) + 1;
  /* the header and the strings in one write: the waiting process wakes
     once, with all of it there */
  buf = islet_xmalloc (sizeof h + size);
  off = (size_t) (stpcpy (buf + off, spec->cwd) - buf) + 1;
  for (char **v = spec->argv; *v; v++)
    off = (size_t) (stpcpy (buf + off, *v) - buf) + 1;
  for (char **v = spec->envp; *v; v++)
    off = (size_t) (stpcpy (buf + off, *v) - buf) + 1;
  h.size = (uint32_t) size;
  memcpy (buf, &h, sizeof h);
  if (islet_write_all (c->go, buf, sizeof h + size) < 0)
    return false;
  close_fd (&c->go);
  return true;
}

/* A handler's own set-up: SIGCHLD through a signalfd, and its children born
 * in the sandbox's pid namespace (setns on a pid namespace does not move
 * the caller). */
static int
handler_begin (struct sandbox *sb, struct command *c, unsigned seq, bool reuse,
               struct islet_err *err)
{
  sigset_t mask;

  *c = (struct command){ .seq = seq,
                         .reuse = reuse,
                         .pid = -1,
                         .go = -1,
                         .in = -1,
                         .out = { -1, -1 },
                         .status = -1,
                         .sfd = -1,
                         .supervisor = getppid () };
  set_title ("islet-exec");
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  c->sfd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (c->sfd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "set up the exec's signals");
  if (setns (sb->ns[ISLET_NS_PID], CLONE_NEWPID) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "enter the sandbox: join pid namespace");
  return 0;
}

/* Whether the command was killed because its sandbox went away.  The
 * supervisor's death (kill -9) kills the init, and the init's death every
 * process of its pid namespace: the handler, a child of the supervisor
 * outside that namespace, lives on and sees its command killed.  By then it
 * has another parent. */
static bool
sandbox_stopped (const struct command *c, const struct run_state *st)
{
  return WIFSIGNALED (st->status) && WTERMSIG (st->status) == SIGKILL
         && getppid () != c->supervisor;
}

/* A command on a terminal: once it has the terminal, the client hears
 * {"pty": "started"} and the terminal's output follows (pty.c).  If it
 * could not start, *fail says why (the result frame then carries it). */
static void
run_on_terminal (struct sandbox *sb, struct command *c, int conn, struct run_state *st,
                 struct start_failure *fail)
{
  struct pty_run r = { .cg = c->cg, .conn = conn, .sfd = c->sfd, .command = st->command };
  cleanup_json json_t *started = json_pack ("{s:s}", "pty", "started");
  struct islet_err e;

  if (pty_receive_master (c->status, fail, &r.master) < 0)
    {
      if (fail->msg[0] == '\0')
        {
          /* stopped from inside before it answered, or gone */
          (void) !islet_cg_kill (c->cg, &e);
          snprintf (fail->msg, sizeof fail->msg, "the terminal did not start");
          fail->entering = true;
        }
      while (waitpid (st->command, &st->status, 0) < 0 && errno == EINTR)
        ;
      st->done = true;
      return;
    }
  charge_to_sandbox (sb, c, true);
  if (islet_frame_send_json (conn, started, &e) < 0)
    {
      r.conn = -1;
      r.client_gone = true;
      (void) !islet_cg_kill (c->cg, &e);
    }
  pty_supervise (&r);
  close (r.master);
  /* a command that had its terminal but could not start (its working
     directory, its program) said why after the master; it is gone, so
     this read ends */
  if (islet_read_all (c->status, fail, sizeof *fail) != (ssize_t) sizeof *fail)
    memset (fail, 0, sizeof *fail);
  st->status = r.status;
  st->ru = r.ru;
  st->done = r.done;
  st->client_gone = r.client_gone;
}

/* The supervisor hears "taken" on sock, if it has not yet: before anything
 * here can wait on the client, so that it serves other execs meanwhile. */
static void
tell_taken (struct command *c, int sock)
{
  if (c->untold && sock >= 0)
    (void) !write (sock, "t", 1);
  c->untold = false;
}

/* The command has its spec (or the exec ends without it): "s" on
 * *started has the supervisor fork the next ready handler unless one is
 * ready (and says "taken" with it, if not said yet).  Closed unless this
 * handler may serve again. */
static void
started_close (struct command *c, int *started)
{
  if (*started >= 0)
    (void) !write (*started, "s", 1);
  c->untold = false;
  if (!c->again)
    close_fd (started);
}

/* Serve the request with the command's process, made already or now;
 * *started (if not -1) is closed once the command has its spec.  The
 * handler's exit status: EXEC_GROUP_KEPT or 0. */
static int
command_run (struct sandbox *sb, struct command *c, int conn, json_t *req, int *started)
{
  struct exec_spec spec = { 0 };
  struct islet_cg_stats cs = { 0 };
  struct start_failure fail = { 0 };
  struct run_state st = { 0 };
  struct stream out[2] = { { -1, ISLET_FRAME_OUT, 0, false }, { -1, ISLET_FRAME_ERR, 0, false } };
  struct islet_err e;
  uint64_t t0;
  bool sent, clean;
  int kept;

  if (exec_spec_parse (sb, req, &spec, &e) < 0)
    goto fail;
  if (spec.has_stdin && !spec.stdin_stream)
    {
      tell_taken (c, *started);
      if (exec_spec_read_stdin (conn, &spec, &e) < 0)
        goto fail;
    }
  t0 = islet_now_ns ();
  sent = command_go (c, &spec);
  if (!sent)
    {
      /* it is gone (or was never made): make one now, once */
      tell_taken (c, *started);
      command_discard (c);
      if (command_prepare (sb, c, &e) < 0)
        goto fail;
      sent = command_go (c, &spec);
    }
  if (!sent)
    {
      islet_fail (&e, ISLET_E_SYSTEM, EPIPE, "enter the sandbox: the command's process is gone");
      goto fail;
    }
  started_close (c, started);
  st.command = c->pid;
  c->pid = -1; /* the run's now: supervise reaps it */
  if (!spec.has_stdin)
    close_fd (&c->in);
  for (int i = 0; i < 2; i++)
    {
      out[i].fd = c->out[i];
      c->out[i] = -1;
      set_nonblock (out[i].fd);
    }
  if (c->in >= 0)
    set_nonblock (c->in);
  if (spec.pty)
    {
      for (int i = 0; i < 2; i++)
        close_fd (&out[i].fd); /* the terminal is its output */
      close_fd (&c->in);
      run_on_terminal (sb, c, conn, &st, &fail);
    }
  else
    {
      charge_to_sandbox (sb, c, true);
      supervise (sb, c->cg, conn, &spec, out, c->in, c->sfd, &st);
      c->in = -1; /* closed by supervise */
      if (islet_read_all (c->status, &fail, sizeof fail) != (ssize_t) sizeof fail)
        memset (&fail, 0, sizeof fail);
    }
  clean = st.done && !st.timed_out && !st.client_gone && !fail.entering;
  if (islet_cg_read_stats (c->cg, &cs, &e) < 0)
    {
      fprintf (stderr, "exec stats: %s\n", e.msg);
      clean = false;
    }
  if (cs.oom_kills > 0 || (WIFSIGNALED (st.status) && WTERMSIG (st.status) == SIGKILL))
    clean = false;
  if (sandbox_stopped (c, &st) && !st.client_gone)
    {
      /* not the command's exit status: the sandbox is gone */
      islet_fail (&e, ISLET_E_CONFLICT, 0, "the sandbox stopped during the exec");
      reply_error (conn, &e);
      st.client_gone = true;
    }
  if (fail.entering && !st.client_gone)
    {
      /* islet could not enter the sandbox: islet's failure, not the
         command's. */
      islet_fail (&e, ISLET_E_SYSTEM, 0, "enter the sandbox: %s", fail.msg);
      reply_error (conn, &e);
      st.client_gone = true;
    }
  if (!st.client_gone)
    {
      cleanup_json json_t *r = result_json (&st, out, &cs, islet_now_ns () - t0, &fail);
      (void) !islet_frame_send_json (conn, r, &e);
    }
  close (conn);
  for (int i = 0; i < 2; i++)
    close_fd (&out[i].fd);
  command_discard (c);
  kept = retire_or_keep (c->cg, clean);
  c->cg = NULL; /* freed, kept or removed */
  islet_strv_free (spec.argv);
  islet_strv_free (spec.envp);
  free (spec.stdin_data);
  return kept;

fail:
  started_close (c, started);
  reply_error (conn, &e);
  close (conn);
  command_discard (c);
  if (c->cg)
    retire_group (c->cg);
  c->cg = NULL;
  c->reuse = false;
  islet_strv_free (spec.argv);
  islet_strv_free (spec.envp);
  free (spec.stdin_data);
  return 0;
}

int
serve_exec (struct sandbox *sb, int conn, json_t *req, unsigned seq, bool reuse)
{
  struct command c;
  struct islet_err e;

  if (handler_begin (sb, &c, seq, reuse, &e) < 0 || command_prepare (sb, &c, &e) < 0)
    {
      reply_error (conn, &e);
      return group_end (&c);
    }
  return command_run (sb, &c, conn, req, &(int){ -1 });
}

/* The first frame of a connection accepted on exec.sock: an exec request,
 * or NULL (then *why says what it is not).  Bounded as the supervisor's
 * read is: a client that connects and says nothing holds no handler. */
static json_t *
accepted_request (int conn, bool whole, struct islet_err *why)
{
  struct timeval tv = { .tv_sec = 2 };
  json_t *req = NULL;

  if (!whole)
    setsockopt (conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (islet_frame_recv_json (conn, &req, why) < 0)
    return NULL;
  tv.tv_sec = 0;
  if (!whole)
    setsockopt (conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (json_is_object (req)
      && strcmp (json_string_value (json_object_get (req, "op")) ?: "", "exec") == 0)
    return req;
  json_decref (req);
  islet_fail (why, ISLET_E_INVALID, 0, "exec.sock takes exec requests only");
  return NULL;
}

/* Whether the connection's first frame is there whole (a client sends it
 * in one call, most often before its connection is accepted): reading it
 * then waits on nobody. */
static bool
frame_whole (int conn)
{
  unsigned char h[5];
  int queued = 0;
  uint64_t len;

  if (recv (conn, h, sizeof h, MSG_PEEK | MSG_DONTWAIT) != (ssize_t) sizeof h
      || ioctl (conn, FIONREAD, &queued) < 0)
    return false;
  len = h[0] | (uint64_t) h[1] << 8 | (uint64_t) h[2] << 16 | (uint64_t) h[3] << 24;
  return queued >= 0 && (uint64_t) queued >= sizeof h + len;
}

/* Wait for the request: accepted on exec.sock (one hop and one wake-up of
 * another CPU fewer than through the supervisor), or passed by the
 * supervisor on sock (a client of ctl.sock).  -1: let go (sock closed).
 * The supervisor hears "taken" at once, before anything here can wait on
 * the client, so that it serves the next exec meanwhile. */
static int
ready_wait (struct sandbox *sb, int sock, struct command *c, int *conn, json_t **req,
            struct islet_err *why)
{
  struct pollfd p[2] = { { sock, POLLIN, 0 }, { sb->xfd, POLLIN, 0 } };

  for (unsigned tries = 0;; tries++)
    {
      bool whole;
      int fd;

      if (poll (p, sb->xfd >= 0 ? 2 : 1, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      /* let go wins over a connection seen at the same time: the
         supervisor (paused, or its settings changed) serves that one */
      if (p[0].revents)
        return request_take (sock, conn, req);
      if (!(p[1].revents & POLLIN))
        continue;
      fd = accept4 (sb->xfd, NULL, NULL, SOCK_CLOEXEC);
      if (fd < 0)
        {
          /* taken by the supervisor as this handler was let go, or gone */
          if ((errno != EAGAIN && errno != ECONNABORTED && errno != EINTR) || tries > 1000)
            p[1].fd = -1;
          continue;
        }
      /* kept by a handler that serves again: its next request */
      if (!c->again)
        {
          close (sb->xfd);
          sb->xfd = -1;
        }
      /* a request there whole is read at once: the supervisor hears
         "taken" only with the command's start ("s"), one wake-up of it
         fewer */
      whole = frame_whole (fd);
      c->untold = true;
      if (!whole)
        tell_taken (c, sock);
      *conn = fd;
      *req = accepted_request (fd, whole, why);
      return 0;
    }
}

/* After a clean exec whose group was kept (empty), whether this handler
 * serves another: not past EXEC_HANDLER_EXECS, its supervisor still there
 * and still linked to it (it drops the link when it has ready handlers
 * enough, at a pause or a change of settings). */
static bool
serve_again (const struct command *c, int sock, unsigned served)
{
  char b;

  return c->again && sock >= 0 && served < EXEC_HANDLER_EXECS && getppid () == c->supervisor
         && recv (sock, &b, 1, MSG_PEEK | MSG_DONTWAIT) != 0;
}

int
exec_ready (struct sandbox *sb, int sock, unsigned seq, bool reuse)
{
  struct command c;
  struct islet_err e, begun, why;
  json_t *req;
  int conn;
  int rc;

  islet_fail (&why, ISLET_E_INVALID, 0, "malformed request");
  /* a failure to prepare is met again, and reported, when the request comes */
  rc = handler_begin (sb, &c, seq, reuse, &begun);
  if (rc == 0 && command_prepare (sb, &c, &e) < 0)
    fprintf (stderr, "prepare an exec: %s\n", e.msg);
  else if (rc == 0)
    charge_to_sandbox (sb, &c, false);
  /* only where the group of a clean exec is kept (v1) and the handler
     waits in io already: there the next command's process is made as
     this one's was, from a handler in the same state */
  c.again = rc == 0 && c.charged;
  for (unsigned served = 1;; served++)
    {
      if (ready_wait (sb, sock, &c, &conn, &req, &why) < 0)
        {
          /* let go unused (idle, or the sandbox paused): its group goes */
          command_discard (&c);
          return group_end (&c);
        }
      if (req == NULL || rc < 0)
        {
          c.again = false;
          started_close (&c, &sock);
          if (req == NULL)
            reply_error (conn, &why);
          else
            reply_error (conn, &begun);
          close (conn);
          command_discard (&c);
          json_decref (req);
          return group_end (&c);
        }
      rc = command_run (sb, &c, conn, req, &sock);
      json_decref (req);
      if (rc != EXEC_GROUP_KEPT || !serve_again (&c, sock, served))
        return rc;
      /* ready again, in the kept group (its stats restart): a new
         command's process, then "r" to the supervisor */
      c.reuse = true;
      if (command_prepare (sb, &c, &e) < 0)
        {
          fprintf (stderr, "prepare an exec: %s\n", e.msg);
          command_discard (&c);
          return group_end (&c);
        }
      if (send (sock, "r", 1, MSG_NOSIGNAL) != 1)
        {
          command_discard (&c);
          return group_end (&c);
        }
      rc = 0;
    }
}
