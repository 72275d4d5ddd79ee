/* islet-run STATE_DIR ID READY_FD
 *
 * Starts the sandbox ID described by STATE_DIR/sandboxes/ID/config.json and
 * stays as its supervisor: it holds the sandbox's cgroup and namespaces and
 * answers requests on STATE_DIR/sandboxes/ID/ctl.sock.  It detaches from its
 * caller (the CLI or the daemon) so the sandbox outlives it.  READY_FD gets
 * "ok" once the sandbox can run commands, or a JSON error.
 *
 * With ISLET_RUN_DETACHED=1 in its environment, its caller has detached it
 * already (src/client/sandbox_spawn.c): no fork of its own; with
 * ISLET_RUN_CONFIG_FD=4 as well, it reads config.json once fd 4 says it
 * is whole.
 *
 * islet-run --fork-supervisors STATE_DIR: the same supervisors, forked on
 * request by one long-lived process instead of an exec each (isletd).
 * islet-run --warm-fill STATE_DIR: fill the warm pool.
 * islet-run --net-reset: drop the host's nftables table if unused (islet-net).
 * islet-run --oneshot STATE_DIR ID: a sandbox for one command, asked on fd 3
 * (oneshot.c); it does not detach, and ends with the command. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "islet/config.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "runtime.h"
#include "supervisor.h"

/* A ready exec handler left unused this long is let go: a sandbox that
   stopped running commands keeps no process for them. */
#define READY_IDLE_NS (60ull * 1000000000ull)
/* The largest request passed over a socket pair (to the file agent or the
   ready exec handler); a larger one is served by a handler of its own. */
#define REQUEST_PASS_MAX 65536
/* How long a new supervisor waits for the previous one of the same sandbox
   to finish releasing its mounts (normally a few milliseconds). */
#define PREVIOUS_TIMEOUT_NS (10ull * 1000000000ull)

static char *title_start;
static size_t title_len;
int lock_fd = -1;

void
logmsg (const char *fmt, ...)
{
  char ts[32];
  time_t now = time (NULL);
  struct tm tm;
  va_list ap;

  strftime (ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime_r (&now, &tm));
  fprintf (stderr, "%s islet-run[%d]: ", ts, (int) getpid ());
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

void
set_title (const char *title)
{
  if (title_start == NULL)
    return;
  memset (title_start, 0, title_len);
  snprintf (title_start, title_len, "%s", title);
  prctl (PR_SET_NAME, title);
}

void
reply_error (int conn, const struct islet_err *e)
{
  cleanup_json json_t *j = islet_err_to_json (e);
  struct islet_err ignored;
  (void) !islet_frame_send_json (conn, j, &ignored);
}

int
request_pass (int sock, int conn, json_t *req)
{
  cleanup_free char *text = json_dumps (req, JSON_COMPACT);

  if (text == NULL || strlen (text) > REQUEST_PASS_MAX)
    {
      errno = EMSGSIZE;
      return -1;
    }
  return islet_send_fd (sock, text, strlen (text), conn, MSG_DONTWAIT);
}

int
request_take (int sock, int *conn, json_t **req)
{
  static char buf[REQUEST_PASS_MAX + 1];

  for (;;)
    {
      ssize_t n = islet_recv_fd (sock, buf, REQUEST_PASS_MAX, conn);

      if (n <= 0)
        return -1;
      if (*conn < 0)
        continue;
      buf[n] = '\0';
      *req = json_loads (buf, 0, NULL);
      return 0;
    }
}

static int
load_config (struct sandbox *sb, struct islet_err *err)
{
  cleanup_free char *path = islet_xasprintf ("%s/config.json", sb->dir);
  struct islet_sandbox_info info;

  if (islet_config_load (path, &info, &sb->volume, err) < 0
      || islet_config_mounts_load (path, &sb->mounts, &sb->n_mounts, err) < 0)
    return -1;
  if (strcmp (info.id, sb->id) != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "`%s` is for sandbox `%s`", path, info.id);
  sb->name = islet_xstrdup (info.name);
  sb->uid_base = info.uid_base;
  sb->limits = info.limits;
  sb->net = info.net;
  sb->build = info.build;
  /* the rest (env, workdir, user) while the init starts (init.c) */
  if (islet_image_open_root (sb->state_dir, info.image, &sb->image, err) < 0)
    return -1;
  return 0;
}

int
listen_on (const char *path, struct islet_err *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int fd = -1;

  if (strlen (path) >= sizeof addr.sun_path)
    return islet_fail (err, ISLET_E_INVALID, ENAMETOOLONG,
                       "socket path `%s` is too long: use a shorter --state-dir", path);
  strcpy (addr.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "socket");
  (void) unlink (path);
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "bind `%s`", path);
  if (chmod (path, 0600) < 0 || listen (fd, 128) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "listen on `%s`", path);
  return islet_take_fd (&fd);
}
/* One supervisor per sandbox at a time, including the few milliseconds in
 * which a stopped one still releases its mounts after it has answered: the
 * lock is held until this process exits (its handlers and the init close
 * their copies at once), and a new supervisor waits for it before it mounts
 * the same writable layer. */
static int
take_run_lock (const struct sandbox *sb, struct islet_err *err)
{
  cleanup_free char *path = islet_xasprintf ("%s/run.lock", sb->dir);
  uint64_t deadline = islet_now_ns () + PREVIOUS_TIMEOUT_NS;
  cleanup_close int fd = open (path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  unsigned delay_us = 100;

  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
  while (flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      if (errno != EWOULDBLOCK && errno != EINTR)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "lock `%s`", path);
      if (islet_now_ns () >= deadline)
        return islet_fail (err, ISLET_E_CONFLICT, 0,
                           "the previous supervisor of `%s` is still running", sb->id);
      usleep (delay_us);
      delay_us = delay_us < 20000 ? delay_us * 2 : 20000;
    }
  return islet_take_fd (&fd);
}

/* The init; the user namespace of its idmapped mounts (an image's layers,
 * volumes) is made while it starts, and its holder reaped once the creator
 * has heard "ok", not on the create's path (init.c, oci_mount.c). */
static int
start_init (struct sandbox *sb, struct islet_err *err)
{
  struct islet_idmap_ahead idmap = ISLET_IDMAP_AHEAD_NONE;
  int r = sandbox_start_init (sb, &idmap, err);

  islet_idmap_ahead_end (&idmap);
  return r;
}

static int
start (struct sandbox *sb, struct islet_err *err)
{
  struct islet_cg_limits cgl = {
    .memory_bytes = sb->limits.memory_mb << 20,
    .cpu_millis = sb->limits.cpu_millis,
    .pids = sb->limits.pids,
  };
  struct islet_cg *stale = NULL;
  struct islet_err ignored;

  sb->filter = islet_seccomp_filter ();
  sb->pooled = sb->os == NULL && pooled_detect (sb);
  /* first: islet-net, started with the slot's take, loads while the groups
     are made */
  if (net_slot_take (sb, err) < 0)
    return -1;
  /* A group left by a supervisor that was killed: its processes died with
     their init, so only the empty groups are left to remove. */
  if (islet_cg_open (sb->id, &stale, &ignored) == 0 && islet_cg_destroy (stale, err) < 0)
    return islet_wrap (err, "remove the stale cgroup of `%s`", sb->id);
  if (islet_cg_create (sb->id, &cgl, &sb->cg, err) < 0)
    return -1;
  /* io: where exec handlers pump output; a one-shot sandbox whose init
     runs its command has none on its path (an exec into it pumps from here) */
  if (islet_cg_create_child_nomem (sb->cg, "init", &sb->init_cg, err) < 0
      || (!oneshot_direct (sb) && islet_cg_create_child_nomem (sb->cg, "io", &sb->io_cg, err) < 0))
    return -1;
  return start_init (sb, err);
}

int
start_outside (struct sandbox *sb, struct islet_err *err)
{
  cleanup_free char *sock = islet_xasprintf ("%s/ctl.sock", sb->dir);

  if (islet_ns_open (sb->init_pid, sb->ns, err) < 0)
    return -1;
  sb->lfd = listen_on (sock, err);
  if (sb->lfd < 0)
    return -1;
  /* logged before the creator hears "ok" (from the init, which only has
     its own confinement left): the log says who supervises a sandbox by
     the time it is used; a failure after this is logged after it */
  logmsg ("sandbox %s started, init pid %d", sb->id, (int) sb->init_pid);
  return 0;
}

static bool
reap_children (struct sandbox *sb)
{
  bool init_died = false;
  int status;
  pid_t pid;

  while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
    {
      if (pid == sb->init_pid)
        {
          init_died = true;
          sb->init_pid = 0;
          continue;
        }
      if (sb->os && oneshot_answerer (sb, pid))
        init_died = true; /* its one command is answered: the sandbox ends */
      for (size_t i = 0; i < n_links; i++)
        if (links[i].pid == pid)
          link_drop (i);
      if (pid == agent_pid)
        {
          logmsg ("the file agent died: file requests go to handlers");
          agent_pid = 0;
          agent_stop ();
          continue;
        }
      for (size_t i = 0; i < n_handlers; i++)
        if (handlers[i] == pid)
          {
            exec_group_back (sb, handler_seq[i],
                             handler_seq[i] && WIFEXITED (status)
                                 && WEXITSTATUS (status) == EXEC_GROUP_KEPT);
            handlers[i] = handlers[--n_handlers];
            handler_seq[i] = handler_seq[n_handlers];
            break;
          }
    }
  return init_died;
}
/* Serve until told to stop; returns the connection that asked (or -1). */
static int
loop (struct sandbox *sb, int lfd, int sfd)
{
  for (;;)
    {
      /* exec.sock is the ready handler's to accept while it waits; ours
         when none does (fd -1: not polled) */
      bool waiting = n_ready () > 0;
      struct pollfd p[3 + LINKED_MAX] = { { lfd, POLLIN, 0 },
                                          { sfd, POLLIN, 0 },
                                          { waiting ? -1 : sb->xfd, POLLIN, 0 } };
      pid_t heard[LINKED_MAX];
      size_t n_heard = n_links;
      int timeout = -1;
      if (waiting)
        {
          uint64_t now = islet_now_ns (), until = ready_since + READY_IDLE_NS;
          if (now >= until)
            {
              ready_stop_all (false);
              exec_groups_drop (sb);
              continue;
            }
          timeout = (int) ((until - now) / 1000000ull) + 1;
        }
      for (size_t i = 0; i < n_heard; i++)
        {
          p[3 + i] = (struct pollfd){ links[i].sock, POLLIN, 0 };
          heard[i] = links[i].pid;
        }
      if (poll (p, 3 + n_heard, timeout) < 0)
        continue;
      /* by pid: the table changes as each is heard */
      for (size_t k = 0; k < n_heard; k++)
        for (size_t i = 0; p[3 + k].revents && i < n_links; i++)
          if (links[i].pid == heard[k])
            {
              ready_heard (sb, i, lfd, sfd);
              break;
            }
      if (p[1].revents)
        {
          struct signalfd_siginfo si;
          if (read (sfd, &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD)
            {
              logmsg ("signal %u: stopping", si.ssi_signo);
              return -1;
            }
          if (reap_children (sb))
            {
              logmsg (sb->init_pid > 0 ? "its one command ended: stopping"
                                       : "the sandbox's init died: stopping");
              return -1;
            }
        }
      if (p[0].revents)
        {
          int conn = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC);
          bool stop;
          if (conn < 0)
            continue;
          stop = serve_request (sb, conn, lfd, sfd, false);
          if (stop)
            return conn;
          close (conn);
        }
      if (p[2].revents)
        {
          int conn = accept4 (sb->xfd, NULL, NULL, SOCK_CLOEXEC);
          if (conn >= 0)
            {
              (void) serve_request (sb, conn, lfd, sfd, true);
              close (conn);
            }
        }
    }
}

static void
report_ready (int fd, const struct islet_err *e)
{
  if (e == NULL)
    (void) !write (fd, "ok", 2);
  else
    {
      cleanup_json json_t *j = islet_err_to_json (e);
      cleanup_free char *text = json_dumps (j, JSON_COMPACT);
      if (text)
        (void) !write (fd, text, strlen (text));
    }
  close (fd);
}

/* islet-run --warm-fill STATE: start sandboxes until the state directory's
 * warm pool is full (src/client/warm.c starts this, detached, after a create
 * took a pooled sandbox).  One fill at a time: a second one finds the lock
 * taken and leaves the work to the first. */
static int
warm_fill (const char *state_dir)
{
  struct islet_ctx *ctx = NULL;
  struct islet_err e = { 0 };

  if (islet_ctx_open (state_dir, NULL, &ctx, &e) == 0 && islet_warm_fill (ctx, &e) == 0)
    {
      islet_ctx_free (ctx);
      return 0;
    }
  islet_ctx_free (ctx);
  if (e.kind == ISLET_E_CONFLICT)
    return 0;
  {
    cleanup_free char *path = islet_xasprintf ("%s/warm/fill.log", state_dir);
    cleanup_close int fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0)
      dprintf (fd, "%lld: %s\n", (long long) time (NULL), e.msg);
  }
  return 1;
}

/* Refuse a start whose creator is gone (killed before it heard how the
 * start went; a pipe whose reader has closed polls POLLERR): nobody would
 * learn of the sandbox, and the next isletd's sweep may be removing what
 * the creator made of it.  Checked with the run lock held, so that a
 * remove either sees this supervisor or finds it refusing. */
static int
creator_here (int ready_fd, struct islet_err *err)
{
  struct pollfd p = { ready_fd, POLLOUT, 0 };

  if (poll (&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)))
    return islet_fail (err, ISLET_E_CONFLICT, 0, "its creator is gone: not started");
  return 0;
}

bool
oneshot_fork (struct sandbox *sb, int lfd, int sfd)
{
  struct islet_err e;
  pid_t pid;

  oneshot_begin (sb);
  /* shared with the answerer, whose lock on it (sandbox_withdraw) is this
     process's until the removal is done */
  sb->dir_fd = open (sb->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  pid = fork ();
  if (pid == 0)
    {
      handler_detach (lfd, sfd);
      if (sb->pooled)
        pooled_answer (sb);
      oneshot_answer (sb);
    }
  if (pid < 0)
    {
      islet_fail (&e, ISLET_E_SYSTEM, errno, "fork the one-shot's answerer");
      oneshot_refuse (sb, &e);
      return false;
    }
  handlers[n_handlers++] = pid;
  oneshot_forked (sb, pid);
  return true;
}

/* A supervisor started while its creator still writes the config
 * (src/client/sandbox_spawn.c) reads it once told it is whole: a word on
 * config_fd, or its end if the creator failed or is gone. */
static int
config_whole (int config_fd, struct islet_err *err)
{
  char b = 0;
  ssize_t n;

  if (config_fd < 0)
    return 0;
  do
    n = read (config_fd, &b, 1);
  while (n < 0 && errno == EINTR);
  close (config_fd);
  if (n == 1 && b == 'g')
    return 0;
  return islet_fail (err, ISLET_E_CONFLICT, 0,
                     "its creator gave up before its config was whole: not started");
}

/* The supervisor of sandbox id, in a session of its own: starts it, then
 * serves it until it is stopped.  config_fd: see config_whole (-1: none). */
static int
supervise_sandbox (const char *state_dir, const char *id, int ready_fd, int config_fd,
                   struct oneshot *os)
{
  struct sandbox sb = { .ns = { -1, -1, -1, -1, -1, -1, -1 },
                        .net_slot_fd = -1,
                        .ready_fd = ready_fd,
                        .lfd = -1,
                        .xfd = -1,
                        .os = os,
                        .dir_fd = -1,
                        .pool_sync = -1 };
  struct islet_err e = { 0 };
  cleanup_free char *sock = NULL;
  cleanup_free char *logpath = NULL;
  sigset_t mask;
  int lfd, sfd, devnull, logfd, conn;
  bool removing;

  setsid ();
  /* A handler killed at a stop leaves its command's process (in the
     sandbox's pid namespace) to us, not to the host's pid 1: the namespace
     is gone only once that process is reaped, and the stop waits for it. */
  prctl (PR_SET_CHILD_SUBREAPER, 1);
  sb.state_dir = islet_xstrdup (state_dir);
  sb.id = islet_xstrdup (id);
  sb.dir = islet_xasprintf ("%s/sandboxes/%s", sb.state_dir, sb.id);
  logpath = islet_xasprintf ("%s/supervisor.log", sb.dir);
  devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
  logfd = open (logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (devnull < 0 || logfd < 0)
    {
      /* never keep the caller's stdout and stderr: a `$(islet create)`
       * would wait for them to close as long as the sandbox lives */
      islet_fail (&e, ISLET_E_SYSTEM, errno, "supervisor: open `%s`",
                  devnull < 0 ? "/dev/null" : logpath);
      close (0);
      close (1);
      close (2);
      report_ready (ready_fd, &e);
      return 1;
    }
  dup2 (devnull, 0);
  dup2 (devnull, 1);
  dup2 (logfd, 2);
  setvbuf (stderr, NULL, _IOLBF, 0);
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGHUP);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  signal (SIGPIPE, SIG_IGN);
  sfd = signalfd (-1, &mask, SFD_CLOEXEC);
  sock = islet_xasprintf ("%s/ctl.sock", sb.dir);
  if (sfd < 0 || (lock_fd = take_run_lock (&sb, &e)) < 0
      || creator_here (os ? oneshot_conn (os) : ready_fd, &e) < 0
      || config_whole (config_fd, &e) < 0 || (os && oneshot_receive (os, &e) < 0)
      || load_config (&sb, &e) < 0 || (os && oneshot_prepare (&sb, &e) < 0) || start (&sb, &e) < 0)
    {
      if (sfd < 0)
        islet_fail (&e, ISLET_E_SYSTEM, errno, "signalfd");
      logmsg ("start failed: %s", e.msg);
      if (sb.lfd >= 0)
        {
          unlink (sock);
          close (sb.lfd);
        }
      exec_unlisten (&sb);
      teardown (&sb);
      if (os)
        oneshot_refuse (&sb, &e);
      else
        report_ready (ready_fd, &e);
      return 1;
    }
  /* the init said "ok" to the creator (init.c) */
  if (ready_fd >= 0)
    close (ready_fd);
  lfd = sb.lfd;
  conn = os && !oneshot_fork (&sb, lfd, sfd) ? -1 : loop (&sb, lfd, sfd);
  /* No new request may reach a sandbox that is going away. */
  exec_unlisten (&sb);
  unlink (sock);
  close (lfd);
  stop_processes (&sb);
  /* A sandbox made for one command, or one whose stop's asker wants it
     removed, is removed by this process: withdrawn before anyone hears
     that it ended, the rest after. */
  removing = sb.os || remove_asked;
  if (removing)
    sandbox_withdraw (&sb);
  if (sb.os)
    oneshot_stopped (&sb);
  if (remove_asked)
    answer_stopped (&conn);
  groups_remove (&sb);
  /* Stopped: no process, no cgroup, no socket.  Answer now, and release
     the namespaces after: the caller need not wait for the kernel to
     unmount a tree that no host path reaches.  The run lock, held until
     exit, keeps the next supervisor of this sandbox from mounting its
     layer meanwhile.  The asker of a one-shot sandbox's stop (`islet rm
     -f`, the CLI's Ctrl-C) hears it once the sandbox is removed: what it
     would remove after is gone. */
  if (!sb.os)
    answer_stopped (&conn);
  release_namespaces (&sb);
  net_down (&sb);
  logmsg ("sandbox %s stopped", sb.id);
  if (removing)
    remove_self (&sb);
  answer_stopped (&conn);
  return 0;
}

/* islet-run --fork-supervisors STATE_DIR: the supervisor forker of a
 * long-lived caller (src/client/sandbox.c, islet_ctx_fork_supervisors).  Each
 * message on fd 3 is a sandbox id with its ready pipe (SCM_RIGHTS); the
 * forker forks its supervisor, which then is exactly what an exec of
 * `islet-run STATE_DIR ID READY_FD` would have become, without the exec.
 * It ends when the caller closes the socket (or dies). */
static int
fork_supervisors (const char *state_arg)
{
  /* a copy: the supervisors' titles overwrite the arguments */
  cleanup_free char *state_dir = islet_xstrdup (state_arg);
  sigset_t none;

  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  signal (SIGCHLD, SIG_IGN); /* the supervisors are reaped by the kernel */
  if (fork () == 0)
    {
      /* what supervisors killed outright left, swept off the callers' path */
      close (3);
      net_sweep ();
      _exit (0);
    }
  for (;;)
    {
      int ready;
      char id[ISLET_ID_LEN + 2];
      ssize_t n = islet_recv_fd (3, id, sizeof id - 1, &ready);
      struct islet_err e;
      pid_t pid;

      if (n <= 0)
        return 0;
      if (ready < 0)
        continue;
      id[n] = '\0';
      if ((size_t) n != ISLET_ID_LEN || strspn (id, "0123456789abcdef") != ISLET_ID_LEN)
        {
          islet_fail (&e, ISLET_E_INVALID, 0, "`%s` is not a sandbox id", id);
          report_ready (ready, &e);
          continue;
        }
      /* asked by a caller killed since (its queue outlives it) */
      if (creator_here (ready, &e) < 0)
        {
          close (ready);
          continue;
        }
      pid = fork ();
      if (pid == 0)
        {
          char title[PATH_MAX + 64];
          close (3);
          signal (SIGCHLD, SIG_DFL);
          snprintf (title, sizeof title, "islet-run %s %s", state_dir, id);
          set_title (title);
          _exit (supervise_sandbox (state_dir, id, ready, -1, NULL));
        }
      if (pid < 0)
        {
          islet_fail (&e, ISLET_E_SYSTEM, errno, "fork the supervisor");
          report_ready (ready, &e);
          continue;
        }
      close (ready);
    }
}

int
main (int argc, char **argv)
{
  struct islet_err e = { 0 };
  uint64_t ready_fd = 0;
  pid_t pid;

  if (argc == 3 && strcmp (argv[1], "--warm-fill") == 0)
    return warm_fill (argv[2]);
  if (argc == 2 && strcmp (argv[1], "--net-reset") == 0)
    {
      if (net_reset (&e) == 0)
        return 0;
      fprintf (stderr, "islet-run: %s\n", e.msg);
      return 1;
    }
  title_start = argv[0];
  title_len = (size_t) (argv[argc - 1] + strlen (argv[argc - 1]) - argv[0]);
  if (argc == 3 && strcmp (argv[1], "--fork-supervisors") == 0)
    return fork_supervisors (argv[2]);
  /* the CLI's child, not detached: it waits for the command's end */
  if (argc == 4 && strcmp (argv[1], "--oneshot") == 0)
    return supervise_sandbox (argv[2], argv[3], -1, -1, oneshot_new (3));
  if (argc != 4 || islet_parse_u64 (argv[3], 1 << 20, &ready_fd, &e) < 0)
    {
      fprintf (stderr, "usage: islet-run STATE_DIR ID READY_FD\n"
                       "       islet-run --warm-fill STATE_DIR\n"
                       "       islet-run --fork-supervisors STATE_DIR (socket on fd 3)\n"
                       "       islet-run --net-reset\n"
                       "       islet-run --oneshot STATE_DIR ID (the CLI's socket on fd 3)\n");
      return 2;
    }
  /* started detached already (src/client/sandbox_spawn.c), perhaps before
     its config was whole; the marks are not passed on to anything this
     process starts */
  if (getenv ("ISLET_RUN_DETACHED") != NULL)
    {
      bool detached = strcmp (getenv ("ISLET_RUN_DETACHED"), "1") == 0;
      const char *cfg = getenv ("ISLET_RUN_CONFIG_FD");
      int config_fd = cfg && strcmp (cfg, "4") == 0 ? 4 : -1;

      unsetenv ("ISLET_RUN_DETACHED");
      unsetenv ("ISLET_RUN_CONFIG_FD");
      if (config_fd >= 0)
        fcntl (config_fd, F_SETFD, FD_CLOEXEC);
      if (detached)
        return supervise_sandbox (argv[1], argv[2], (int) ready_fd, config_fd, NULL);
    }
  /* Detach: the caller reaps this first process at once, and the supervisor
     lives on in a session of its own. */
  pid = fork ();
  if (pid < 0)
    return 1;
  if (pid > 0)
    _exit (0);
  return supervise_sandbox (argv[1], argv[2], (int) ready_fd, -1, NULL);
}
