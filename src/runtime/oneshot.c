/* islet-run --oneshot STATE_DIR ID: a sandbox made for one command (the
 * CLI's `islet run`).
 *
 * A sandbox made by `islet create` waits for its commands: each exec is a
 * handler forked by the supervisor, an exec group, and a process that joins
 * the sandbox's namespaces and confines itself.  A one-shot sandbox knows
 * its command before it starts: the exec request comes with the start, on
 * the CLI's socket (fd 3), and the sandbox's init, confined already, forks
 * the command as its own child, as bubblewrap's init does.  The command is
 * thus under the sandbox's limits, namespaces, credentials and filter (the
 * init's own, from the one recipe in confine.c), in the init's group, and
 * its output and result go to the CLI as an exec on ctl.sock would send
 * them.  The supervisor serves ctl.sock meanwhile (`islet ls`, `stop`,
 * `exec`); it is the CLI's child.  Once the command has ended, every
 * process of the sandbox is killed and the sandbox withdrawn before the
 * CLI hears the status; the supervisor removes the rest after, while the
 * CLI exits (or after a stop, or after the CLI was killed).
 *
 *   supervisor  reads the request before the config (oneshot_receive) and
 *               checks it before the init starts (oneshot_prepare),
 *               and makes the command's pipes; once the sandbox runs, forks
 *               the answerer (main.c) and closes its copies (oneshot_begin)
 *   init        forks the command (oneshot_command); when it ends, kills and
 *               reaps every other process of the sandbox, then tells its
 *               status and usage on the sync socket; on the answerer's word
 *               (a deadline, the CLI gone) kills them (oneshot_init_wait)
 *   answerer    forwards the output, keeps the deadline, withdraws the
 *               sandbox and sends the result (oneshot_answer); its end ends
 *               the sandbox, which the supervisor then removes
 *
 * A command the init cannot run so (an image's User: the init is the
 * sandbox's root and keeps no capability to change user) is served by an
 * exec handler in the answerer, as on ctl.sock. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/sandbox.h"
#include "islet/util.h"
#include "exec_spec.h"
#include "runtime.h"

struct oneshot
{
  int conn;    /* the CLI's: the request in, frames out */
  json_t *req; /* the request, for a handler when the init cannot run it */
  struct exec_spec spec;
  bool direct;   /* the init runs the command */
  int in;        /* its stdin: the request's in a memfd, or -1 (/dev/null) */
  int out[2][2]; /* its stdout and stderr pipes */
  int fail[2];   /* why it could not start: a struct start_failure */
  int sync;      /* the init's sync socket, the supervisor's end */
  pid_t answerer;
  uint64_t t0; /* the sandbox ready: the command's clock */
};

/* The init's word on the sync socket when the command has ended. */
struct ended
{
  int status;
  struct rusage ru;
};

#define KILL_ALL 'k' /* the answerer's word to the init */

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

struct oneshot *
oneshot_new (int conn)
{
  struct oneshot *os = islet_xcalloc (1, sizeof *os);

  fcntl (conn, F_SETFD, FD_CLOEXEC);
  *os = (struct oneshot){
    .conn = conn, .in = -1, .out = { { -1, -1 }, { -1, -1 } }, .fail = { -1, -1 }, .sync = -1
  };
  return os;
}

int
oneshot_conn (const struct oneshot *os)
{
  return os->conn;
}

bool
oneshot_direct (const struct sandbox *sb)
{
  return sb->os && sb->os->direct;
}

/* The request's stdin, whole, where the command reads it: a memfd. */
static int
stdin_memfd (const struct exec_spec *spec, struct islet_err *err)
{
  cleanup_close int fd = memfd_create ("stdin", MFD_CLOEXEC);

  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "memfd for stdin");
  if (islet_write_all (fd, spec->stdin_data, spec->stdin_len) < 0 || lseek (fd, 0, SEEK_SET) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "write stdin");
  return islet_take_fd (&fd);
}

/* The request: the CLI sends it once the sandbox's storage and config are
 * made (it started this process before, to load meanwhile), so it is read
 * before the config; the socket's end without it is the CLI's failure. */
int
oneshot_receive (struct oneshot *os, struct islet_err *err)
{
  const char *op;

  if (islet_frame_recv_json (os->conn, &os->req, err) < 0)
    return islet_wrap (err, "read the command to run");
  op = json_string_value (json_object_get (os->req, "op"));
  if (op == NULL || strcmp (op, "exec") != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "a one-shot sandbox takes one exec request");
  return 0;
}

int
oneshot_prepare (struct sandbox *sb, struct islet_err *err)
{
  /* the image's environment, working directory and User, before the init
     forks: the init has the whole command in its memory */
  if (islet_image_read_config (sb->state_dir, &sb->image, err) < 0 || oneshot_plan (sb, err) < 0)
    return -1;
  return oneshot_pipes (sb, err);
}

int
oneshot_plan (struct sandbox *sb, struct islet_err *err)
{
  struct oneshot *os = sb->os;

  if (exec_spec_parse (sb, os->req, &os->spec, err) < 0)
    return -1;
  os->direct = sb->image.uid == 0 && sb->image.gid == 0 && !sb->build && !os->spec.pty
               && !os->spec.stdin_stream && !os->spec.detach;
  return 0;
}

int
oneshot_pipes (struct sandbox *sb, struct islet_err *err)
{
  struct oneshot *os = sb->os;

  if (!os->direct)
    return 0; /* the handler reads the request's stdin itself */
  if (os->spec.has_stdin
      && (exec_spec_read_stdin (os->conn, &os->spec, err) < 0
          || (os->in = stdin_memfd (&os->spec, err)) < 0))
    return -1;
  if (pipe2 (os->out[0], O_CLOEXEC) < 0 || pipe2 (os->out[1], O_CLOEXEC) < 0
      || pipe2 (os->fail, O_CLOEXEC) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "the command's pipes");
  return 0;
}

/* fds[i] to i: 0-2 kept across the execve, 3 (the failure's) closed by it.
 * Each first above 3, so that no move overwrites another, and as low as it
 * goes: the init's RLIMIT_NOFILE is the sandbox's already. */
static int
fds_to_place (const int fds[4])
{
  int high[4];

  for (int i = 0; i < 4; i++)
    if ((high[i] = fcntl (fds[i], F_DUPFD_CLOEXEC, 4)) < 0)
      return -1;
  for (int i = 0; i < 4; i++)
    if (dup3 (high[i], i, i == 3 ? O_CLOEXEC : 0) < 0)
      return -1;
  islet_close_fds_from (4, -1);
  return 0;
}

/* The command's process, a child of the confined init: what an exec's
 * command does once it has its spec (exec.c), with its fds put in place. */
static void __attribute__ ((noreturn)) command_main (struct oneshot *os)
{
  int null = os->in >= 0 ? -1 : open ("/dev/null", O_RDONLY | O_CLOEXEC);
  int fds[4] = { os->in >= 0 ? os->in : null, os->out[0][1], os->out[1][1], os->fail[1] };
  struct islet_err e;
  sigset_t none;
  int rc;

  signals_default ();
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  /* the init's shield from the OOM killer is not the command's */
  (void) !islet_write_file_at (AT_FDCWD, "/proc/self/oom_score_adj", "0", &e);
  if (fds[0] < 0 || fds_to_place (fds) < 0)
    {
      islet_fail (&e, ISLET_E_SYSTEM, errno, "set up stdio");
      report_failure (os->fail[1], e.errnum, false, e.msg);
    }
  if (chdir (os->spec.cwd) < 0)
    {
      islet_fail (&e, ISLET_E_SYSTEM, errno, "working directory `%s`", os->spec.cwd);
      report_failure (3, e.errnum, false, e.msg);
    }
  rc = exec_path (os->spec.argv, os->spec.envp);
  if (rc == ENOENT)
    islet_fail (&e, ISLET_E_NOTFOUND, 0, "`%s`: command not found", os->spec.argv[0]);
  else
    islet_fail (&e, ISLET_E_INVALID, rc, "`%s`", os->spec.argv[0]);
  report_failure (3, rc, false, e.msg);
}

pid_t
oneshot_command (struct sandbox *sb, struct islet_err *err)
{
  pid_t pid;

  if (!sb->os->direct)
    return 0;
  pid = fork ();
  if (pid < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "start the command");
  if (pid == 0)
    command_main (sb->os);
  return pid;
}

/* A pooled sandbox's command goes to its init (pooled.c) as one message
 * on the sync socket: a word, and the fds of the command's stdio, of its
 * failure pipe and of a memfd that holds the command: argc and envc, then
 * argv, envp and the working directory, each string with its NUL. */
struct command_head
{
  char word;
  bool has_in;
};

struct command_counts
{
  uint32_t argc, envc;
};

#define COMMAND_WORD 'C'
#define COMMAND_FDS 5
#define COMMAND_MAX (64u << 20)

static int
strv_write (int fd, char **v, struct islet_err *err)
{
  for (size_t i = 0; v[i]; i++)
    if (islet_write_all (fd, v[i], strlen (v[i]) + 1) < 0)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "write the command");
  return 0;
}

static uint32_t
strv_count (char **v)
{
  uint32_t n = 0;

  while (v[n])
    n++;
  return n;
}

int
oneshot_send (struct sandbox *sb, struct islet_err *err)
{
  struct oneshot *os = sb->os;
  struct command_counts n = { strv_count (os->spec.argv), strv_count (os->spec.envp) };
  struct command_head head = { COMMAND_WORD, os->in >= 0 };
  cleanup_close int spec = memfd_create ("command", MFD_CLOEXEC);
  int fds[COMMAND_FDS] = { spec, os->out[0][1], os->out[1][1], os->fail[1], os->in };
  char cbuf[CMSG_SPACE (sizeof fds)] = { 0 };
  struct iovec iov = { &head, sizeof head };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf };
  size_t nfds = head.has_in ? COMMAND_FDS : COMMAND_FDS - 1;
  struct cmsghdr *c;

  if (spec < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "memfd for the command");
  if (islet_write_all (spec, &n, sizeof n) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "write the command");
  if (strv_write (spec, os->spec.argv, err) < 0 || strv_write (spec, os->spec.envp, err) < 0)
    return -1;
  if (islet_write_all (spec, os->spec.cwd, strlen (os->spec.cwd) + 1) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "write the command");
  m.msg_controllen = CMSG_SPACE (nfds * sizeof (int));
  c = CMSG_FIRSTHDR (&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (nfds * sizeof (int));
  memcpy (CMSG_DATA (c), fds, nfds * sizeof (int));
  /* the command's clock starts as the init is told */
  os->t0 = islet_now_ns ();
  if (sendmsg (os->sync, &m, MSG_NOSIGNAL) != (ssize_t) sizeof head)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "hand the command to the sandbox's init");
  return 0;
}

/* The strings of a command's memfd, from *p; NULL past its end. */
static char **
strv_read (char **p, char *end, uint32_t n)
{
  char **v;

  if (n > COMMAND_MAX / 2)
    return NULL;
  v = islet_xcalloc (n + 1, sizeof *v);
  for (uint32_t i = 0; i < n; i++)
    {
      char *nul = memchr (*p, '\0', (size_t) (end - *p));
      if (nul == NULL)
        {
          free (v);
          return NULL;
        }
      v[i] = *p;
      *p = nul + 1;
    }
  return v;
}

/* In the init: the command read from the memfd into os (its strings point
 * into the memfd's bytes, which the init keeps until it exits). */
static int
command_read (int fd, struct oneshot *os)
{
  struct command_counts n;
  struct stat st;
  char *buf, *p, *end;

  if (fstat (fd, &st) < 0 || st.st_size < (off_t) sizeof n || st.st_size > COMMAND_MAX)
    return -1;
  buf = islet_xcalloc (1, (size_t) st.st_size + 1);
  if (lseek (fd, 0, SEEK_SET) < 0
      || islet_read_all (fd, buf, (size_t) st.st_size) != (ssize_t) st.st_size)
    return -1;
  memcpy (&n, buf, sizeof n);
  p = buf + sizeof n;
  end = buf + st.st_size;
  os->spec.argv = strv_read (&p, end, n.argc);
  os->spec.envp = os->spec.argv ? strv_read (&p, end, n.envc) : NULL;
  if (os->spec.envp == NULL || n.argc == 0 || memchr (p, '\0', (size_t) (end - p)) == NULL)
    return -1;
  os->spec.cwd = p;
  return 0;
}

pid_t
oneshot_take_command (struct sandbox *sb, int sync)
{
  struct command_head head;
  int fds[COMMAND_FDS] = { -1, -1, -1, -1, -1 };
  char cbuf[CMSG_SPACE (sizeof fds)];
  struct iovec iov = { &head, sizeof head };
  struct msghdr m = {
    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf
  };
  struct oneshot os = {
    .in = -1, .out = { { -1, -1 }, { -1, -1 } }, .fail = { -1, -1 }, .direct = true
  };
  struct cmsghdr *c;
  struct islet_err e;
  ssize_t n;
  pid_t pid = -1;

  do
    n = recvmsg (sync, &m, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n == 0)
    return 0;
  c = CMSG_FIRSTHDR (&m);
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS
      && c->cmsg_len <= CMSG_LEN (sizeof fds))
    memcpy (fds, CMSG_DATA (c), c->cmsg_len - CMSG_LEN (0));
  if (n == (ssize_t) sizeof head && head.word == COMMAND_WORD && fds[3] >= 0
      && (!head.has_in || fds[4] >= 0) && command_read (fds[0], &os) == 0)
    {
      os.out[0][1] = fds[1];
      os.out[1][1] = fds[2];
      os.fail[1] = fds[3];
      os.in = fds[4];
      sb->os = &os;
      pid = oneshot_command (sb, &e);
      sb->os = NULL;
    }
  /* the command has its copies: the answerer hears the pipes' end when it
     has ended */
  for (int i = 0; i < COMMAND_FDS; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  return pid > 0 ? pid : -1;
}

/* Reap; the command's end is told on sync, once.  Nothing of the sandbox
 * outlives its command's status: what the command left running (`sleep &`,
 * a daemon) is killed and reaped before the status is told, so that once
 * anyone knows the status, no process of the sandbox runs user code again.
 * A process of an exec into the sandbox, not the init's child, is killed as
 * well; it dies with the init at the latest. */
static void
reap_told (int sync, pid_t *command)
{
  struct ended end;
  pid_t pid;

  while ((pid = wait4 (-1, &end.status, WNOHANG, &end.ru)) > 0)
    if (pid == *command)
      {
        kill (-1, SIGKILL);
        while (waitpid (-1, NULL, 0) > 0 || errno == EINTR)
          ;
        (void) !send (sync, &end, sizeof end, MSG_NOSIGNAL);
        *command = 0;
      }
}

void
oneshot_init_wait (int sync, pid_t command)
{
  sigset_t mask;
  int sfd;

  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  sfd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0)
    _exit (1);                /* the answerer sees the init gone: the sandbox stopped */
  reap_told (sync, &command); /* one that ended before the signalfd */
  for (;;)
    {
      struct pollfd p[2] = { { sfd, POLLIN, 0 }, { sync, POLLIN, 0 } };
      struct signalfd_siginfo si;
      char word;

      if (poll (p, 2, -1) < 0)
        continue;
      if (p[0].revents)
        {
          while (read (sfd, &si, sizeof si) == (ssize_t) sizeof si)
            ;
          reap_told (sync, &command);
        }
      if (p[1].revents)
        {
          if (recv (sync, &word, 1, 0) != 1)
            _exit (0); /* answered: the sandbox ends */
          /* the deadline, or the CLI gone: every process but this one */
          if (word == KILL_ALL)
            kill (-1, SIGKILL);
        }
    }
}

void
oneshot_keep_sync (struct sandbox *sb, int sync)
{
  if (!sb->os->direct)
    {
      close (sync);
      return;
    }
  sb->os->sync = sync;
  sb->os->t0 = islet_now_ns ();
}

void
oneshot_begin (struct sandbox *sb)
{
  struct oneshot *os = sb->os;

  /* the init and the command have theirs: EOF once they are gone */
  close_fd (&os->in);
  close_fd (&os->out[0][1]);
  close_fd (&os->out[1][1]);
  close_fd (&os->fail[1]);
}

void
oneshot_forked (struct sandbox *sb, pid_t answerer)
{
  struct oneshot *os = sb->os;

  os->answerer = answerer;
  /* the answerer's now; the CLI's socket too when the init runs the
     command: its end (closed by the answerer once it has answered, or at
     its exit) tells the CLI that nothing of the sandbox runs */
  if (os->direct)
    close_fd (&os->conn);
  close_fd (&os->out[0][0]);
  close_fd (&os->out[1][0]);
  close_fd (&os->fail[0]);
  close_fd (&os->sync);
}

bool
oneshot_answerer (const struct sandbox *sb, pid_t pid)
{
  return sb->os->answerer > 0 && pid == sb->os->answerer;
}

static void
kill_all (struct oneshot *os)
{
  char word = KILL_ALL;

  (void) !send (os->sync, &word, 1, MSG_NOSIGNAL);
}

/* Forward the output until the command has ended and its pipes are read;
 * false if the sandbox stopped under it (its init gone). */
static bool
forward (struct oneshot *os, struct stream out[2], struct run_state *st)
{
  uint64_t deadline = os->spec.untimed ? UINT64_MAX : os->t0 + os->spec.timeout_ms * 1000000ull;
  int open_streams = 2;

  while (!st->done || open_streams > 0)
    {
      struct pollfd p[4];
      int np = 0, timeout;
      uint64_t now = islet_now_ns ();

      if (st->done)
        {
          /* take what is in the pipes, but wait for no background process
             that holds them open */
          for (int i = 0; i < 2; i++)
            while (out[i].fd >= 0 && pump (os->conn, &out[i], os->spec.output_limit) == PUMP_DATA)
              ;
          break;
        }
      if (now >= deadline && !st->timed_out)
        {
          st->timed_out = true;
          kill_all (os);
        }
      timeout = st->timed_out || deadline == UINT64_MAX ? -1
                                                        : (int) ((deadline - now) / 1000000ull) + 1;
      for (int i = 0; i < 2; i++)
        if (out[i].fd >= 0)
          p[np++] = (struct pollfd){ out[i].fd, POLLIN, 0 };
      p[np++] = (struct pollfd){ os->sync, POLLIN, 0 };
      if (os->conn >= 0)
        p[np++] = (struct pollfd){ os->conn, POLLRDHUP, 0 };
      if (poll (p, (nfds_t) np, timeout) < 0)
        continue;
      for (int k = 0; k < np; k++)
        {
          if (!p[k].revents)
            continue;
          if (p[k].fd == os->sync)
            {
              struct ended end;
              ssize_t n = recv (os->sync, &end, sizeof end, 0);
              st->done = true;
              if (n != (ssize_t) sizeof end)
                return false;
              st->status = end.status;
              st->ru = end.ru;
            }
          else if (p[k].fd == os->conn)
            {
              /* nobody wants the command any more */
              st->client_gone = true;
              os->conn = -1;
              kill_all (os);
            }
          else
            for (int i = 0; i < 2; i++)
              if (p[k].fd == out[i].fd
                  && pump (os->conn, &out[i], os->spec.output_limit) == PUMP_EOF)
                {
                  close_fd (&out[i].fd);
                  open_streams--;
                }
        }
    }
  return true;
}

void
oneshot_answer (struct sandbox *sb)
{
  struct oneshot *os = sb->os;
  struct stream out[2] = { { os->out[0][0], ISLET_FRAME_OUT, 0, false },
                           { os->out[1][0], ISLET_FRAME_ERR, 0, false } };
  struct start_failure fail = { 0 };
  struct islet_cg_stats cs = { 0 };
  struct run_state st = { 0 };
  struct islet_err e;
  bool ran;

  set_title ("islet-oneshot");
  if (!os->direct)
    {
      (void) serve_exec (sb, os->conn, os->req, ++sb->exec_seq, false);
      _exit (0);
    }
  for (int i = 0; i < 2; i++)
    fcntl (out[i].fd, F_SETFL, O_NONBLOCK);
  ran = forward (os, out, &st);
  if (islet_read_all (os->fail[0], &fail, sizeof fail) != (ssize_t) sizeof fail)
    memset (&fail, 0, sizeof fail);
  /* the sandbox's group: the command, its children and the init */
  if (islet_cg_read_stats (sb->cg, &cs, &e) < 0)
    fprintf (stderr, "one-shot stats: %s\n", e.msg);
  if (os->conn < 0)
    _exit (0);
  /* the command and all it left are dead (reap_told): the sandbox is no
     longer there for anyone before its status is */
  if (ran)
    sandbox_withdraw (sb);
  if (!ran)
    {
      islet_fail (&e, ISLET_E_CONFLICT, 0, "the sandbox stopped during the exec");
      reply_error (os->conn, &e);
    }
  else
    {
      cleanup_json json_t *r = result_json (&st, out, &cs, islet_now_ns () - os->t0, &fail);
      (void) !islet_frame_send_json (os->conn, r, &e);
    }
  /* the CLI waits for the socket's end, not for this process's exit */
  close (os->conn);
  _exit (0);
}

int
oneshot_adopt (struct sandbox *sb, int conn, json_t *req, struct islet_err *err)
{
  int fd = fcntl (conn, F_DUPFD_CLOEXEC, 3);

  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "keep the connection");
  sb->os = oneshot_new (fd);
  sb->os->req = json_incref (req);
  if (oneshot_plan (sb, err) == 0)
    {
      sb->os->sync = sb->pool_sync;
      sb->pool_sync = -1;
      return 0;
    }
  close (fd);
  json_decref (sb->os->req);
  free (sb->os);
  sb->os = NULL;
  return -1;
}

void
oneshot_refuse (struct sandbox *sb, const struct islet_err *e)
{
  reply_error (sb->os->conn, e);
}

void
oneshot_stopped (struct sandbox *sb)
{
  close_fd (&sb->os->conn);
}
