/* islet run: an ephemeral sandbox for one command.
 *
 * Cold, it is a one-shot sandbox whose init runs the command itself
 * (src/client/oneshot.c); from the warm pool or a remote backend, a sandbox
 * and an exec.  The sandbox must not outlive the command, whatever ends
 * it: an error, the command's failure, Ctrl-C or kill.  The signal handlers
 * only write to a pipe; a watcher thread reads it and destroys the sandbox
 * with its own ctx, which also ends the wait the main thread is blocked
 * in.  The run returns once no process of the sandbox is left and it is
 * withdrawn (not listed, its name free); the rest of the removal is its
 * supervisor's, also when the CLI is killed. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "islet/lang.h"

struct run_args
{
  struct cli_limits limits;
  const char *name, *image, *cwd, *lang, *code;
  struct cli_list env;
  bool stdin_force;
};

static const struct cli_opt run_opts[] = {
  { "name", 0, CLI_OPT_STR, offsetof (struct run_args, name), "NAME",
    "name the sandbox (default islet-<id>)", 0 },
  { "image", 0, CLI_OPT_STR, offsetof (struct run_args, image), "IMAGE",
    "root file system image (default: `default` once built, else `host`)", 0 },
  { "env", 'e', CLI_OPT_LIST, offsetof (struct run_args, env), "K=V",
    "add to the environment (repeatable)", 0 },
  { "cwd", 0, CLI_OPT_STR, offsetof (struct run_args, cwd), "DIR",
    "working directory (default /workspace)", 0 },
  { "lang", 0, CLI_OPT_STR, offsetof (struct run_args, lang), "LANG",
    "python, javascript or bash: run the --code program", 0 },
  { "code", 0, CLI_OPT_STR, offsetof (struct run_args, code), "TEXT",
    "the program for --lang (default: read from stdin)", 0 },
  { "stdin", 'i', CLI_OPT_BOOL, offsetof (struct run_args, stdin_force), NULL,
    "pass stdin to the command", 0 },
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print the result as one JSON object at the end", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_opt run_limit_opts[] = {
  CLI_LIMIT_OPTS (struct run_args, limits),
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_spec run_spec = {
  .name = "run",
  .args = "[--] CMD [ARG...]",
  .about = "Create a sandbox, run one command in it and remove the sandbox again, also on\n"
           "failure, Ctrl-C or SIGTERM.  Instead of CMD, --lang python|javascript|bash runs\n"
           "--code TEXT (or the program read from stdin) with python3 -u -c, node -e or\n"
           "bash -c; the code is passed as one argument, never through a host shell.\n"
           "Output streams as it arrives; with --json it is collected into one object.\n"
           "The exit status is the command's (128+N when killed by signal N); 125 means\n"
           "islet failed, 126 the command could not be executed, 127 it was not found.",
  .opts = { run_opts, run_limit_opts },
  .max_pos = CLI_MANY,
  .raw_from = 0,
};

/* The code is one argv element: it never passes through a shell on the host. */
static int
lang_argv (const char *name, const char *code, char ***out, struct islet_err *err)
{
  const struct islet_lang *l = islet_lang_find (name);
  const char **v = islet_xcalloc (ISLET_LANG_ARGV_MAX + 1, sizeof *v);

  if (islet_lang_argv (l, ISLET_LANG_ARG, code, v) == 0)
    {
      free (v);
      return islet_fail (err, ISLET_E_INVALID, 0, "--lang: '%s' is not one of %s", name,
                         islet_lang_list (ISLET_LANG_ARG));
    }
  *out = (char **) v;
  return 0;
}

/* Exactly one of: a CMD, or --lang with --code or the program on stdin. */
static int
run_command (struct run_args *a, const struct cli_pos *pos, char **code_buf, char ***cmd,
             struct islet_err *err)
{
  size_t len = 0;

  if (*cmd)
    return 0; /* the image's Entrypoint and Cmd */
  if (a->lang == NULL && a->code != NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "--code needs --lang");
  if (a->lang == NULL && pos->n == 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "'run' needs a command, or --lang and --code");
  if (a->lang == NULL)
    {
      *cmd = islet_xcalloc (pos->n + 1, sizeof **cmd);
      memcpy (*cmd, pos->v, pos->n * sizeof **cmd);
      return 0;
    }
  if (pos->n > 0)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "'run' takes --lang or a command, not both (got '%s')", pos->v[0]);
  if (a->code == NULL)
    {
      if (a->stdin_force)
        return islet_fail (err, ISLET_E_INVALID, 0,
                           "--stdin: stdin already holds the program for --lang");
      if (isatty (STDIN_FILENO))
        return islet_fail (err, ISLET_E_INVALID, 0, "--lang needs --code, or the program on stdin");
      if (cli_read_fd (STDIN_FILENO, "the program from stdin", code_buf, &len, err) < 0)
        return -1;
      if (memchr (*code_buf, '\0', len) != NULL)
        return islet_fail (err, ISLET_E_INVALID, 0, "the program on stdin contains a NUL byte");
      a->code = *code_buf;
    }
  return lang_argv (a->lang, a->code, cmd, err);
}

static int wake[2] = { -1, -1 };
static volatile sig_atomic_t got_signal;

static void
on_signal (int signo)
{
  int saved = errno;

  if (got_signal == 0)
    got_signal = signo;
  if (wake[1] >= 0)
    (void) !write (wake[1], "s", 1);
  errno = saved;
}

static int
signals_install (struct islet_err *err)
{
  static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
  struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

  if (pipe2 (wake, O_CLOEXEC) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create the signal pipe");
  /* the handler must never block, even after a storm of signals */
  if (fcntl (wake[1], F_SETFL, O_NONBLOCK) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "set up the signal pipe");
  sigemptyset (&sa.sa_mask);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (sigaction (sigs[i], &sa, NULL) < 0)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "install a handler for signal %d", sigs[i]);
  return 0;
}

struct watcher
{
  pthread_t thread;
  bool started;
  const char *state_dir;
  const char *id;
  bool destroyed;
  struct islet_err err;
};

static void *
watch (void *p)
{
  struct watcher *w = p;
  struct islet_ctx *ctx = NULL;
  char c = 0;
  ssize_t n;

  do
    n = read (wake[0], &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1 || c != 's')
    return NULL;
  if (islet_ctx_open (w->state_dir, NULL, &ctx, &w->err) == 0)
    {
      w->destroyed = islet_sandbox_destroy (ctx, w->id, true, &w->err) == 0;
      islet_ctx_free (ctx);
    }
  return NULL;
}

static int
watcher_start (struct watcher *w, struct islet_err *err)
{
  int e = pthread_create (&w->thread, NULL, watch, w);

  if (e != 0)
    return islet_fail (err, ISLET_E_SYSTEM, e, "start the signal watcher");
  w->started = true;
  return 0;
}

static void
watcher_stop (struct watcher *w)
{
  if (!w->started)
    return;
  /* if the pipe is full, a signal byte is already waiting to end the thread */
  (void) !write (wake[1], "q", 1);
  pthread_join (w->thread, NULL);
  w->started = false;
}

static int
report_interrupted (struct cli *cli, const char *id)
{
  struct islet_err err;
  int signo = got_signal;
  const char *name = sigabbrev_np (signo);

  if (id[0] != '\0')
    (void) islet_fail (&err, ISLET_E_SYSTEM, 0, "interrupted by SIG%s; sandbox %s removed",
                       name ? name : "?", id);
  else
    (void) islet_fail (&err, ISLET_E_SYSTEM, 0, "interrupted by SIG%s", name ? name : "?");
  (void) cli_report (cli, &err);
  return 128 + signo;
}

static int
run_ephemeral (struct cli *cli, const struct run_args *a, char *const *cmd, const char *in,
               size_t in_len)
{
  struct islet_create_opts opts = { .name = a->name, .image = a->image, .limits = a->limits.l };
  struct islet_exec_result res = { 0 };
  struct islet_run run = { .id = "" };
  struct watcher w = { .state_dir = cli->state_dir, .id = run.id };
  struct islet_err err = { 0 }, rm_err = { 0 };
  struct islet_ctx *ctx = cli_ctx (cli, &err);
  struct cli_exec ex = {
    .argv = cmd,
    .env = a->env.v,
    .cwd = a->cwd,
    .stdin_data = in,
    .stdin_len = in_len,
    .timeout_ms = a->limits.timeout_ms == CLI_UNSET ? 0 : a->limits.timeout_ms,
  };
  bool broken[3] = { false, false, false };
  struct islet_exec_req req;
  int rc, status;

  if (ctx == NULL || signals_install (&err) < 0)
    return cli_report (cli, &err);
  cli_exec_req (cli, &ex, &req, broken);
  if (islet_run_start (ctx, &opts, &req, &run, &err) < 0)
    {
      run.id[0] = '\0';
      return got_signal ? report_interrupted (cli, run.id) : cli_report (cli, &err);
    }
  rc = watcher_start (&w, &err);
  if (rc == 0 && got_signal == 0)
    rc = run.oneshot ? islet_run_wait (&run, &req, &res, &err)
                     : islet_exec (ctx, run.id, &req, &res, &err);
  islet_run_refill (ctx, &run);
  watcher_stop (&w);
  if (islet_run_end (ctx, &run, w.destroyed, &rm_err) < 0)
    cli_warn ("sandbox %s was not removed: %s", run.id, rm_err.msg);
  if (got_signal)
    status = report_interrupted (cli, run.id);
  else if (rc < 0)
    status = cli_report (cli, &err);
  else
    status = cli_exec_report (cli, &res);
  islet_exec_result_fini (&res);
  return status;
}

int
cmd_run (struct cli *cli, int argc, char **argv)
{
  struct run_args a = { .limits = CLI_LIMITS_DEFAULT };
  cleanup_pos struct cli_pos pos = { 0 };
  cleanup_free char *code = NULL;
  cleanup_free char *in = NULL;
  cleanup_free char **cmd = NULL;
  struct islet_err err = { 0 };
  size_t in_len = 0;
  int r, status;

  r = cli_parse (cli, &run_spec, argc, argv, &a, &pos, &err);
  if (r == 0 && a.lang == NULL && a.image && cli->url == NULL)
    r = cli_image_argv (cli->state_dir, a.image, &pos, &cmd, &err);
  if (r == 0)
    r = run_command (&a, &pos, &code, &cmd, &err);
  if (r == 0)
    r = cli_check_env (a.env.v, &err);
  if (r == 0)
    r = cli_limits_finish (&a.limits, &err);
  if (r == 0 && a.stdin_force)
    r = cli_read_fd (STDIN_FILENO, "stdin", &in, &in_len, &err);
  if (r > 0)
    status = CLI_EXIT_OK;
  else if (r < 0)
    status = cli_report (cli, &err);
  else
    status = run_ephemeral (cli, &a, cmd, in, in_len);
  cli_list_fini (&a.env);
  return status;
}
