/* What an exec's handler (exec.c) and a one-shot sandbox's command
 * (oneshot.c) share: the PATH lookup and the signals' reset in the
 * command's process, the report of why it could not start, the pump of its
 * output to the client and its result frame. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/proto.h"
#include "islet/report.h"
#include "islet/util.h"
#include "exec_spec.h"
#include "runtime.h"

static const char *
env_get (char **envp, const char *key)
{
  size_t k = strlen (key);
  for (size_t i = 0; envp[i]; i++)
    if (strncmp (envp[i], key, k) == 0 && envp[i][k] == '=')
      return envp[i] + k + 1;
  return NULL;
}

int
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

void
report_failure (int fd, int errnum, bool entering, const char *msg)
{
  struct start_failure f = { .errnum = errnum, .entering = entering };
  snprintf (f.msg, sizeof f.msg, "%s", msg);
  (void) !write (fd, &f, sizeof f);
  _exit (errnum == ENOENT ? 127 : 126);
}

/* The kernel's own sigaction, for a signal glibc's wrapper refuses to
 * touch (32 and 33, its threads' own): whoever started isletd may have left
 * them ignored, and an ignored signal is inherited by every exec. */
struct kernel_sigaction
{
  void (*handler) (int);
  unsigned long flags;
  void (*restorer) (void);
  uint64_t mask;
};

static void
signal_to_default (int sig)
{
  struct kernel_sigaction sa = { .handler = SIG_DFL };

  (void) syscall (SYS_rt_sigaction, sig, &sa, NULL, sizeof sa.mask);
}

/* The kernel lists the ignored signals (SigIgn in /proc/self/status), one
 * read against a call for each of the 64 signals; without the list every
 * signal is reset. */
void
signals_default (void)
{
  uint64_t ignored = UINT64_MAX;
  char buf[4096];
  int fd = open ("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof buf - 1);

  if (fd >= 0)
    close (fd);
  if (n > 0)
    {
      const char *line, *hex;
      char *end;

      buf[n] = '\0';
      line = strstr (buf, "\nSigIgn:");
      hex = line ? line + strlen ("\nSigIgn:") : NULL;
      if (hex)
        {
          uint64_t v = strtoull (hex, &end, 16);
          if (end != hex && *end == '\n')
            ignored = v;
        }
    }
  for (int sig = 1; sig < NSIG; sig++)
    if (ignored >> (sig - 1) & 1)
      signal_to_default (sig);
}

enum pumped
pump (int conn, struct stream *s, uint64_t limit)
{
  char buf[65536];
  struct islet_err e;
  ssize_t n = read (s->fd, buf, sizeof buf);

  if (n < 0)
    return errno == EAGAIN || errno == EINTR ? PUMP_AGAIN : PUMP_EOF;
  if (n == 0)
    return PUMP_EOF;
  if (s->total < limit && conn >= 0)
    {
      size_t keep = (size_t) n;
      if (s->total + keep > limit)
        keep = (size_t) (limit - s->total);
      /* a client gone is seen on its socket; the output is read on */
      (void) !islet_frame_send (conn, s->frame, buf, keep, &e);
    }
  s->total += (uint64_t) n;
  if (s->total > limit)
    s->truncated = true;
  return PUMP_DATA;
}

json_t *
result_json (struct run_state *st, struct stream out[2], const struct islet_cg_stats *cs,
             uint64_t wall_ns, const struct start_failure *fail)
{
  struct islet_exec_result res = {
    .wall_ms = wall_ns / 1000000ull,
    .cpu_ms = cs->cpu_ns / 1000000ull,
    .memory_peak_bytes = cs->memory_peak,
    .timed_out = st->timed_out,
    .oom_killed = cs->oom_kills > 0,
    .truncated = out[0].truncated || out[1].truncated,
  };
  json_t *r;

  if (WIFEXITED (st->status))
    res.exit_code = WEXITSTATUS (st->status);
  else if (WIFSIGNALED (st->status))
    {
      res.signal = WTERMSIG (st->status);
      res.exit_code = 128 + res.signal;
    }
  if (fail)
    snprintf (res.error, sizeof res.error, "%s", fail->msg);
  r = islet_exec_stats_json (&res);
  json_object_set_new (r, "stdout_truncated", json_boolean (out[0].truncated));
  json_object_set_new (r, "stderr_truncated", json_boolean (out[1].truncated));
  return r;
}
