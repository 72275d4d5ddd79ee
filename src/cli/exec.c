/* islet exec, and the running and reporting of one command that run shares. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct exec_args
{
  const char *cwd;
  struct cli_list env;
  uint32_t timeout_ms;
  uint64_t output;
  bool stdin_force;
};

static const struct cli_opt exec_opts[] = {
  { "cwd", 0, CLI_OPT_STR, offsetof (struct exec_args, cwd), "DIR",
    "working directory (default /workspace)", 0 },
  { "env", 'e', CLI_OPT_LIST, offsetof (struct exec_args, env), "K=V",
    "add to the environment (repeatable)", 0 },
  { "timeout", 0, CLI_OPT_MILLI, offsetof (struct exec_args, timeout_ms), "SEC",
    "wall-clock limit, may be fractional (0.5)", CLI_UNSET - 1 },
  { "output", 0, CLI_OPT_U64, offsetof (struct exec_args, output), "BYTES",
    "captured output per stream", 0 },
  { "stdin", 'i', CLI_OPT_BOOL, offsetof (struct exec_args, stdin_force), NULL,
    "pass stdin even when it is a terminal", 0 },
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print the result as one JSON object at the end", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_spec exec_spec = {
  .name = "exec",
  .args = "ID [--] CMD [ARG...]",
  .about = "Run a command in a running sandbox; ID is an id, a unique id prefix or a name.\n"
           "Output streams as it arrives; with --json it is collected into one object.\n"
           "When stdin is not a terminal, all of it is read and passed to the command.\n"
           "The exit status is the command's (128+N when killed by signal N); 125 means\n"
           "islet failed, 126 the command could not be executed, 127 it was not found.",
  .opts = { exec_opts },
  .min_pos = 2,
  .max_pos = CLI_MANY,
  .raw_from = 1,
};

int
cli_check_env (char *const *env, struct islet_err *err)
{
  for (size_t i = 0; env && env[i]; i++)
    if (env[i][0] == '=' || strchr (env[i], '=') == NULL)
      return islet_fail (err, ISLET_E_INVALID, 0, "-e: '%s' is not K=V", env[i]);
  return 0;
}

/* Output is forwarded as it arrives.  A closed reader (islet run ... | head)
 * stops the forwarding of that stream, not the command or the cleanup. */
static void
forward (enum islet_stream stream, const char *data, size_t len, void *user)
{
  bool *broken = user;
  int fd = stream == ISLET_STDERR ? STDERR_FILENO : STDOUT_FILENO;

  if (!broken[fd] && islet_write_all (fd, data, len) < 0)
    broken[fd] = true;
}

void
cli_exec_req (struct cli *cli, const struct cli_exec *ex, struct islet_exec_req *req,
              bool broken[3])
{
  *req = (struct islet_exec_req){
    .argv = ex->argv,
    .env = ex->env,
    .cwd = ex->cwd,
    .stdin_data = ex->stdin_data,
    .stdin_len = ex->stdin_len,
    .timeout_ms = ex->timeout_ms,
    .output_limit = ex->output_limit,
    .on_output = cli->json ? NULL : forward,
    .user = broken,
  };
  /* a write to a closed pipe must fail with EPIPE rather than kill islet
   * before it has cleaned up */
  signal (SIGPIPE, SIG_IGN);
}

int
cli_exec_run (struct cli *cli, const struct cli_exec *ex, struct islet_exec_result *res,
              struct islet_err *err)
{
  bool broken[3] = { false, false, false };
  struct islet_exec_req req;
  struct islet_ctx *ctx = cli_ctx (cli, err);

  if (ctx == NULL)
    return -1;
  cli_exec_req (cli, ex, &req, broken);
  return islet_exec (ctx, ex->id, &req, res, err);
}

int
cli_exec_report (struct cli *cli, const struct islet_exec_result *r)
{
  int status = r->exit_code;

  if (r->signal != 0 && status == 0)
    status = 128 + r->signal;
  if (status < 0 || status > 255)
    status = CLI_EXIT_OWN;
  if (cli->json)
    return cli_print_json (islet_exec_json (r)) == 0 ? status : CLI_EXIT_OWN;
  if (r->error[0] != '\0')
    fprintf (stderr, "islet: %s\n", r->error);
  if (r->timed_out)
    fprintf (stderr, "islet: timed out after %llu ms\n", (unsigned long long) r->wall_ms);
  if (r->oom_killed)
    fprintf (stderr, "islet: killed: out of memory\n");
  if (r->truncated)
    fprintf (stderr, "islet: output truncated at the output limit\n");
  return status;
}

int
cli_read_stdin_if (bool force, char **data, size_t *len, struct islet_err *err)
{
  *data = NULL;
  *len = 0;
  if (!force && isatty (STDIN_FILENO))
    return 0;
  return cli_read_fd (STDIN_FILENO, "stdin", data, len, err);
}

int
cmd_exec (struct cli *cli, int argc, char **argv)
{
  struct exec_args a = { .timeout_ms = CLI_UNSET };
  cleanup_pos struct cli_pos pos = { 0 };
  cleanup_free char *in = NULL;
  struct islet_exec_result res = { 0 };
  char id[ISLET_ID_LEN + 1];
  struct islet_err err = { 0 };
  size_t in_len = 0;
  int r, status;

  r = cli_parse (cli, &exec_spec, argc, argv, &a, &pos, &err);
  if (r == 0)
    r = cli_check_env (a.env.v, &err);
  /* the library reads 0 as "the sandbox's default", which --timeout 0 does not mean */
  if (r == 0 && a.timeout_ms == 0)
    r = islet_fail (&err, ISLET_E_INVALID, 0, "--timeout: must be more than 0");
  /* the id alone: the supervisor refuses an exec into a sandbox that is
   * paused, and one that is not running has no socket to connect to */
  if (r == 0)
    r = cli_resolve_id (cli, pos.v[0], id, &err);
  if (r == 0)
    r = cli_read_stdin_if (a.stdin_force, &in, &in_len, &err);
  if (r == 0)
    {
      struct cli_exec ex = {
        .id = id,
        .argv = pos.v + 1,
        .env = a.env.v,
        .cwd = a.cwd,
        .stdin_data = in,
        .stdin_len = in_len,
        .timeout_ms = a.timeout_ms == CLI_UNSET ? 0 : a.timeout_ms,
        .output_limit = a.output,
      };
      r = cli_exec_run (cli, &ex, &res, &err);
    }
  cli_list_fini (&a.env);
  if (r > 0)
    status = CLI_EXIT_OK;
  else if (r < 0)
    status = cli_report (cli, &err);
  else
    status = cli_exec_report (cli, &res);
  islet_exec_result_fini (&res);
  return status;
}
