/* One exec.  The handler (a fork of the supervisor, still host root) takes
 * the exec's own child cgroup, made ahead of time by the supervisor, joins
 * the sandbox's pid namespace for its children only (setns on a pid
 * namespace does not move the caller), and forks the command's process,
 * which is thereby born inside the sandbox's pid namespace as the handler's
 * child: the handler reaps it, reads its status, and can kill the exec's
 * whole tree through the cgroup however it forked.  The command's process
 * enters the cgroup and the other namespaces, drops to the sandbox's root,
 * loses every capability, installs the seccomp filter and execs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/proto.h"
#include "islet/util.h"
#include "runtime.h"

#define STDIN_MAX (64u << 20)
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct exec_spec {
  char **argv;
  char **envp;
  const char *cwd;
  uint64_t timeout_ms;
  uint64_t output_limit;
  char *stdin_data;
  size_t stdin_len;
  bool has_stdin;
};

/* Why the command could not start, from the process that tried. */
struct start_failure {
  int errnum;
  bool entering; /* islet failed to enter the sandbox: islet's failure */
  char msg[200];
};

struct stream {
  int fd;
  enum islet_frame frame;
  uint64_t total;
  bool truncated;
};


static char **
json_to_strv (json_t *arr)
{
  size_t n = json_array_size (arr), i;
  char **v = islet_xcalloc (n + 1, sizeof *v);
  json_t *item;

  json_array_foreach (arr, i, item)
    {
      if (!json_is_string (item))
        {
          islet_strv_free (v);
          return NULL;
        }
      v[i] = islet_xstrdup (json_string_value (item));
    }
  return v;
}

/* The default environment, then the caller's K=V entries (replacing by key). */
static char **
build_env (const struct sandbox *sb, json_t *extra)
{
  const char *defaults[] = { "PATH=" DEFAULT_PATH, "HOME=/root", "USER=root", "LANG=C.UTF-8",
                             "PYTHONUNBUFFERED=1" };
  size_t nd = sizeof defaults / sizeof defaults[0];
  size_t n = 0, cap = nd + json_array_size (extra) + 2, i;
  char **env = islet_xcalloc (cap, sizeof *env);
  json_t *item;

  for (i = 0; i < nd; i++)
    env[n++] = islet_xstrdup (defaults[i]);
  env[n++] = islet_xasprintf ("HOSTNAME=%s", sb->name);
  json_array_foreach (extra, i, item)
    {
      const char *kv = json_string_value (item);
      const char *eq = kv ? strchr (kv, '=') : NULL;
      size_t j, klen;
      if (eq == NULL || eq == kv)
        continue;
      klen = (size_t) (eq - kv) + 1;
      for (j = 0; j < n; j++)
        if (strncmp (env[j], kv, klen) == 0)
          break;
      if (j < n)
        free (env[j]);
      else
        n++;
      env[j] = islet_xstrdup (kv);
    }
  env[n] = NULL;
  return env;
}

static int
parse_request (const struct sandbox *sb, json_t *req, struct exec_spec *spec,
               struct islet_err *err)
{
  json_t *argv = json_object_get (req, "argv");
  json_t *env = json_object_get (req, "env");
  json_t *cwd = json_object_get (req, "cwd");
  json_int_t timeout = json_integer_value (json_object_get (req, "timeout_ms"));
  json_int_t limit = json_integer_value (json_object_get (req, "output_limit"));

  if (!json_is_array (argv) || json_array_size (argv) == 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "exec needs a non-empty `argv` array");
  if (env && !json_is_array (env))
    return islet_fail (err, ISLET_E_INVALID, 0, "`env` must be an array of K=V strings");
  if (cwd && !json_is_string (cwd))
    return islet_fail (err, ISLET_E_INVALID, 0, "`cwd` must be a string");
  spec->argv = json_to_strv (argv);
  if (spec->argv == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "`argv` must hold strings only");
  spec->envp = build_env (sb, env);
  spec->cwd = cwd ? json_string_value (cwd) : "/workspace";
  spec->timeout_ms = timeout > 0 ? (uint64_t) timeout : (uint64_t) sb->limits.timeout_s * 1000;
  spec->output_limit = limit > 0 ? (uint64_t) limit : sb->limits.output_bytes;
  spec->has_stdin = json_is_true (json_object_get (req, "stdin"));
  return 0;
}

static int
read_stdin (int conn, struct exec_spec *spec, struct islet_err *err)
{
  for (;;)
    {
      cleanup_free char *data = NULL;
      enum islet_frame type;
      size_t len;

      if (islet_frame_recv (conn, &type, &data, &len, err) < 0)
        return -1;
      if (type != ISLET_FRAME_DATA)
        return islet_fail (err, ISLET_E_INVALID, EPROTO, "expected stdin data");
      if (len == 0)
        return 0;
      if (spec->stdin_len + len > STDIN_MAX)
        return islet_fail (err, ISLET_E_LIMIT, E2BIG, "stdin is larger than %u bytes", STDIN_MAX);
      spec->stdin_data = islet_xrealloc (spec->stdin_data, spec->stdin_len + len);
      memcpy (spec->stdin_data + spec->stdin_len, data, len);
      spec->stdin_len += len;
    }
}

static const char *
env_get (char **envp, const char *key)
{
  size_t k = strlen (key);
  for (size_t i = 0; envp[i]; i++)
    if (strncmp (envp[i], key, k) == 0 && envp[i][k] == '=')
      return envp[i] + k + 1;
  return NULL;
}

/* PATH lookup as execvp does it, but with the command's own environment. */
static int
exec_path (char **argv, char **envp)
{
  const char *path = env_get (envp, "PATH");
  bool denied = false;
  char buf[4096];

  if (strchr (argv[0], '/'))
    {
      execve (argv[0], argv, envp);
      return errno;
    }
  for (const char *p = path ? path : DEFAULT_PATH; p;)
    {
      const char *colon = strchr (p, ':');
      size_t dlen = colon ? (size_t) (colon - p) : strlen (p);
      int n = snprintf (buf, sizeof buf, "%.*s/%s", (int) dlen, dlen ? p : ".", argv[0]);
      if (n > 0 && (size_t) n < sizeof buf)
        {
          execve (buf, argv, envp);
          if (errno == EACCES)
            denied = true;
          else if (errno != ENOENT && errno != ENOTDIR)
            return errno;
        }
      p = colon ? colon + 1 : NULL;
    }
  return denied ? EACCES : ENOENT;
}

/* Report why the command could not start (msg is complete) and exit the
 * way a shell does: 127 not found, 126 found but not runnable. */
static void __attribute__ ((noreturn))
report_failure (int fd, int errnum, bool entering, const char *msg)
{
  struct start_failure f = { .errnum = errnum, .entering = entering };
  snprintf (f.msg, sizeof f.msg, "%s", msg);
  (void) !write (fd, &f, sizeof f);
  _exit (errnum == ENOENT ? 127 : 126);
}

static void __attribute__ ((noreturn))
start_failed (int fd, int errnum, const char *msg)
{
  report_failure (fd, errnum, false, msg);
}

/* The command's process: born in the sandbox's pid namespace, still host
 * root in every other one. */
static void __attribute__ ((noreturn))
command_main (struct sandbox *sb, const struct islet_cg *xcg, struct exec_spec *spec, int in,
              int out, int errfd, int status)
{
  struct islet_creds root = { .uid = 0, .gid = 0, .nofile = sb->limits.nofile };
  struct islet_err e;
  sigset_t none;
  int rc;

  if (sandbox_enter (sb, xcg, false, &e) < 0)
    report_failure (status, e.errnum ? e.errnum : EIO, true, e.msg);

  /* An ignored signal stays ignored across execve: give the command defaults. */
  for (int sig = 1; sig < NSIG; sig++)
    signal (sig, SIG_DFL);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  if (in < 0)
    in = open ("/dev/null", O_RDONLY);
  if (in < 0 || dup2 (in, 0) < 0 || dup2 (out, 1) < 0 || dup2 (errfd, 2) < 0)
    {
      islet_fail (&e, ISLET_E_SYSTEM, errno, "set up stdio");
      start_failed (status, e.errnum, e.msg);
    }
  islet_close_fds_from (3, status);
  if (islet_caps_drop (&root, &e) < 0)
    start_failed (status, e.errnum, e.msg);
  if (chdir (spec->cwd) < 0)
    {
      islet_fail (&e, ISLET_E_SYSTEM, errno, "working directory `%s`", spec->cwd);
      start_failed (status, e.errnum, e.msg);
    }
  if (islet_seccomp_install (sb->filter, &e) < 0)
    start_failed (status, e.errnum, e.msg);
  rc = exec_path (spec->argv, spec->envp);
  if (rc == ENOENT)
    islet_fail (&e, ISLET_E_NOTFOUND, 0, "`%s`: command not found", spec->argv[0]);
  else
    islet_fail (&e, ISLET_E_INVALID, rc, "`%s`", spec->argv[0]);
  start_failed (status, rc, e.msg);
}

int
sandbox_enter (struct sandbox *sb, const struct islet_cg *cg, bool join_pid, struct islet_err *err)
{
  if (islet_cg_enter (cg, 0, err) < 0)
    return -1;
  return islet_ns_join (sb->ns, join_pid, err);
}

static void
set_nonblock (int fd)
{
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
}

enum pumped {
  PUMP_DATA,
  PUMP_AGAIN,
  PUMP_EOF,
};

/* Read what a pipe has and forward it to the client, up to the limit; past
 * it, keep reading (so the command never blocks) but drop the bytes. */
static enum pumped
pump (int conn, struct stream *s, uint64_t limit)
{
  char buf[65536];
  struct islet_err e;
  ssize_t n = read (s->fd, buf, sizeof buf);

  if (n < 0)
    return errno == EAGAIN || errno == EINTR ? PUMP_AGAIN : PUMP_EOF;
  if (n == 0)
    return PUMP_EOF;
  if (s->total < limit)
    {
      size_t keep = (size_t) n;
      if (s->total + keep > limit)
        keep = (size_t) (limit - s->total);
      if (islet_frame_send (conn, s->frame, buf, keep, &e) < 0)
        return PUMP_EOF;
    }
  s->total += (uint64_t) n;
  if (s->total > limit)
    s->truncated = true;
  return PUMP_DATA;
}

struct run_state {
  pid_t command;
  int status;
  struct rusage ru;
  bool done, timed_out, client_gone;
};

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

static void
supervise (struct sandbox *sb, struct islet_cg *xcg, int conn, struct exec_spec *spec,
           struct stream out[2], int in, int sfd, struct run_state *st)
{
  uint64_t deadline = islet_now_ns () + spec->timeout_ms * 1000000ull;
  size_t written = 0;
  int open_streams = 2;

  while (!st->done || open_streams > 0)
    {
      struct pollfd p[5];
      int np = 0, timeout;
      uint64_t now = islet_now_ns ();
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
      timeout = st->timed_out ? 100 : (int) ((deadline - now) / 1000000ull) + 1;
      for (int i = 0; i < 2; i++)
        if (out[i].fd >= 0)
          p[np++] = (struct pollfd){ out[i].fd, POLLIN, 0 };
      p[np++] = (struct pollfd){ sfd, POLLIN, 0 };
      p[np++] = (struct pollfd){ conn, POLLRDHUP, 0 };
      if (in >= 0)
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
              /* The client went away: nobody wants this exec any more. */
              st->client_gone = true;
              (void) !islet_cg_kill (xcg, &e);
            }
          else if (p[k].fd == in)
            {
              ssize_t n = write (in, spec->stdin_data + written, spec->stdin_len - written);
              if (n > 0)
                written += (size_t) n;
              if ((n < 0 && errno != EAGAIN) || written == spec->stdin_len)
                {
                  close (in);
                  in = -1;
                }
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

static json_t *
result_json (struct run_state *st, struct stream out[2], const struct islet_cg_stats *cs,
             uint64_t wall_ns, const struct start_failure *fail)
{
  int code = 0, sig = 0;
  json_t *r;

  if (WIFEXITED (st->status))
    code = WEXITSTATUS (st->status);
  else if (WIFSIGNALED (st->status))
    {
      sig = WTERMSIG (st->status);
      code = 128 + sig;
    }
  r = json_pack ("{s:i,s:i,s:I,s:I,s:I,s:b,s:b,s:b,s:b,s:b}", "exit_code", code, "signal", sig,
                 "wall_ms", (json_int_t) (wall_ns / 1000000ull), "cpu_ms",
                 (json_int_t) (cs->cpu_ns / 1000000ull), "memory_peak_bytes",
                 (json_int_t) cs->memory_peak, "timed_out", st->timed_out, "oom_killed",
                 cs->oom_kills > 0, "truncated", out[0].truncated || out[1].truncated,
                 "stdout_truncated", out[0].truncated, "stderr_truncated", out[1].truncated);
  if (fail && fail->msg[0])
    json_object_set_new (r, "error", json_string (fail->msg));
  return r;
}

/* Background processes may outlive the exec: their group is removed once
 * they are gone (or with the sandbox). */
static void
retire_group (struct islet_cg *xcg)
{
  struct islet_err e;

  for (unsigned delay_ms = 50; !islet_cg_is_empty (xcg); delay_ms = delay_ms < 2000 ? delay_ms * 2 : 2000)
    usleep (delay_ms * 1000);
  if (islet_cg_destroy (xcg, &e) < 0)
    fprintf (stderr, "remove exec group: %s\n", e.msg);
}

void
serve_exec (struct sandbox *sb, int conn, json_t *req)
{
  struct exec_spec spec = { 0 };
  struct islet_cg *xcg = NULL;
  struct islet_cg_stats cs = { 0 };
  struct start_failure fail = { 0 };
  struct run_state st = { 0 };
  struct stream out[2] = { { -1, ISLET_FRAME_OUT, 0, false }, { -1, ISLET_FRAME_ERR, 0, false } };
  struct islet_err e;
  int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, pi[2] = { -1, -1 }, ps[2] = { -1, -1 };
  char name[32];
  sigset_t mask;
  uint64_t t0;
  int sfd;

  if (parse_request (sb, req, &spec, &e) < 0 || (spec.has_stdin && read_stdin (conn, &spec, &e) < 0))
    goto fail;
  /* The supervisor made this exec's group ahead of time; if it could not,
     make one now. */
  xcg = sb->next_exec_cg;
  sb->next_exec_cg = NULL;
  snprintf (name, sizeof name, "xh%d", (int) getpid ());
  if (xcg == NULL && islet_cg_create_child (sb->cg, name, &xcg, &e) < 0)
    goto fail;
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  sfd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0 || pipe2 (po, O_CLOEXEC) < 0 || pipe2 (pe, O_CLOEXEC) < 0
      || pipe2 (ps, O_CLOEXEC) < 0 || (spec.has_stdin && pipe2 (pi, O_CLOEXEC) < 0))
    {
      islet_fail (&e, ISLET_E_SYSTEM, errno, "set up the exec's pipes");
      goto fail;
    }
  /* From here on this process's children are born in the sandbox's pid
     namespace; the process itself stays in the host's. */
  if (setns (sb->ns[ISLET_NS_PID], CLONE_NEWPID) < 0)
    {
      islet_fail (&e, ISLET_E_SYSTEM, errno, "enter the sandbox: join pid namespace");
      goto fail;
    }
  t0 = islet_now_ns ();
  st.command = fork ();
  if (st.command < 0)
    {
      /* ENOMEM: the sandbox's init is gone, and its pid namespace with it. */
      islet_fail (&e, ISLET_E_SYSTEM, errno, "enter the sandbox: start the command");
      goto fail;
    }
  if (st.command == 0)
    command_main (sb, xcg, &spec, pi[0], po[1], pe[1], ps[1]);
  close (po[1]);
  close (pe[1]);
  close (ps[1]);
  if (pi[0] >= 0)
    close (pi[0]);
  out[0].fd = po[0];
  out[1].fd = pe[0];
  set_nonblock (po[0]);
  set_nonblock (pe[0]);
  if (pi[1] >= 0)
    set_nonblock (pi[1]);
  supervise (sb, xcg, conn, &spec, out, pi[1], sfd, &st);
  if (islet_read_all (ps[0], &fail, sizeof fail) != (ssize_t) sizeof fail)
    memset (&fail, 0, sizeof fail);
  if (islet_cg_read_stats (xcg, &cs, &e) < 0)
    fprintf (stderr, "exec stats: %s\n", e.msg);
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
    if (out[i].fd >= 0)
      close (out[i].fd);
  retire_group (xcg);
  islet_strv_free (spec.argv);
  islet_strv_free (spec.envp);
  free (spec.stdin_data);
  return;

fail:
  reply_error (conn, &e);
  if (xcg)
    {
      struct islet_err ignored;
      (void) !islet_cg_destroy (xcg, &ignored);
    }
  islet_strv_free (spec.argv);
  islet_strv_free (spec.envp);
  free (spec.stdin_data);
}

void
prepare_next_exec (struct sandbox *sb)
{
  struct islet_err e;
  char name[32];

  if (sb->next_exec_cg != NULL || sb->cg == NULL)
    return;
  snprintf (name, sizeof name, "x%u", ++sb->exec_seq);
  if (islet_cg_create_child (sb->cg, name, &sb->next_exec_cg, &e) < 0)
    {
      fprintf (stderr, "make the next exec's group: %s\n", e.msg);
      sb->next_exec_cg = NULL;
    }
}
