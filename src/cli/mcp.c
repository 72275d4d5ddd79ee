/* islet mcp: the Model Context Protocol on stdio, for agents.
 *
 * One JSON-RPC 2.0 message per line on stdin, one answer per line on
 * stdout; logs go to stderr only, so stdout stays a clean channel.  The
 * protocol, the tools and the prompts are src/mcp's (shared with isletd's
 * /mcp); this file is the transport and the host: the core on the CLI's
 * state directory, where every sandbox is the user's.  The session is the
 * process: at the end of stdin (or a signal) the non-persistent sandboxes
 * made in it are removed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "islet/remote.h"
#include "mcp.h"

static volatile sig_atomic_t mcp_stop;

static void
on_stop (int signo)
{
  mcp_stop = signo;
}

/* ---- the host: the core, directly ---- */

static int
h_create (void *data, const struct mcp_create *c, char id[ISLET_ID_LEN + 1], struct islet_err *err)
{
  struct cli *cli = data;
  struct islet_create_opts opts = {
    .name = c->name, .image = c->image, .limits = c->limits, .net = c->net
  };
  struct islet_ctx *ctx = cli_ctx (cli, err);

  return ctx ? islet_sandbox_create (ctx, &opts, id, err) : -1;
}

static int
h_list (void *data, struct islet_sandbox_info **list, size_t *n, struct islet_err *err)
{
  struct cli *cli = data;
  struct islet_ctx *ctx = cli_ctx (cli, err);

  return ctx ? islet_sandbox_list (ctx, list, n, err) : -1;
}

static int
h_resolve (void *data, const char *ref, struct islet_sandbox_info *info, struct islet_err *err)
{
  struct islet_ctx *ctx;

  if (cli_resolve (data, ref, info, err) < 0)
    return -1;
  if (info->state != ISLET_SB_PAUSED)
    return 0;
  /* MCP has no start: a tool call on a paused sandbox resumes it */
  ctx = cli_ctx (data, err);
  if (ctx == NULL || islet_sandbox_resume (ctx, info->id, err) < 0)
    return -1;
  return islet_sandbox_get (ctx, info->id, info, err);
}

static int
h_remove (void *data, const char *id, struct islet_err *err)
{
  struct cli *cli = data;
  struct islet_ctx *ctx = cli_ctx (cli, err);

  return ctx ? islet_sandbox_destroy (ctx, id, true, err) : -1;
}

/* No audit log on the CLI: a failure is a line on stderr. */
static void
h_record (void *data, const char *action, const char *id, const struct islet_err *failed,
          uint64_t ms)
{
  if (failed)
    fprintf (stderr, "islet mcp: %s%s%s: %s\n", action, *id ? " " : "", id, failed->msg);
}

/* The kept interpreter is isletd's (its contexts live as long as it
 * does): with --url, /v1/execute's session "mcp"; on a state directory
 * there is none, since nothing outlives this process to keep it. */
static int
h_run_interp (void *data, const char *id, const char *code, double timeout_s, json_t **out,
              struct islet_err *err)
{
  struct cli *cli = data;
  struct islet_ctx *ctx;
  cleanup_json json_t *body = NULL;

  if (cli->url == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "persistent: the kept python interpreter lives in isletd, and this islet "
                       "mcp works on a state directory without it: run `islet --url URL mcp` "
                       "against isletd, or use isletd's /mcp (without persistent, each "
                       "execute_code is a new process)");
  ctx = cli_ctx (cli, err);
  if (ctx == NULL)
    return -1;
  body = json_pack ("{s:s,s:s,s:s,s:s,s:f}", "language", "python", "code", code, "sandbox_id", id,
                    "session", "mcp", "timeout", timeout_s);
  if (body == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "persistent: the code is not valid UTF-8");
  return islet_remote_post_json (ctx, "/v1/execute", body, out, err);
}

static const struct mcp_host_ops cli_host_ops = {
  .create = h_create,
  .list = h_list,
  .resolve = h_resolve,
  .remove = h_remove,
  .record = h_record,
  .run_interp = h_run_interp,
};

/* ---- the transport ---- */

static int
send_msg (json_t *msg)
{
  int r = json_dumpf (msg, stdout, JSON_COMPACT);

  json_decref (msg);
  if (r < 0 || putchar ('\n') == EOF || fflush (stdout) == EOF)
    return -1;
  return 0;
}

static int
serve (const struct mcp_host *h, struct mcp_session *s)
{
  cleanup_free char *line = NULL;
  size_t cap = 0;
  ssize_t n;

  while (!mcp_stop && (n = getline (&line, &cap, stdin)) >= 0)
    {
      json_t *answer;

      if (strspn (line, " \t\r\n") == (size_t) n)
        continue;
      answer = mcp_handle_text (h, s, line, (size_t) n);
      if (answer != NULL && send_msg (answer) < 0)
        {
          fprintf (stderr, "islet mcp: cannot write to stdout; stopping\n");
          return CLI_EXIT_FAILED;
        }
    }
  return CLI_EXIT_OK;
}

struct mcp_args
{
  const char *host_dir;
};

static const struct cli_opt mcp_opts[] = {
  { "host-dir", 0, CLI_OPT_STR, offsetof (struct mcp_args, host_dir), "DIR",
    "let file_operation upload from and download to host files beneath DIR (host_path)", 0 },
  { "json", 0, CLI_OPT_JSON, 0, NULL, "report a failure to start as a JSON object", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_spec mcp_spec = {
  .name = "mcp",
  .args = "",
  .about = "Serve the Model Context Protocol on stdin and stdout (newline-delimited JSON-RPC),\n"
           "for agents: tools to create, list, inspect and delete sandboxes, run code and\n"
           "shell commands, work with files and git, and prompts for common workflows.\n"
           "Logs go to stderr.  It ends at the end of stdin, and then removes the\n"
           "sandboxes made with persistent false (the default).  Host files are out of\n"
           "reach unless --host-dir names a directory (symlinks are followed before the\n"
           "check).",
  .opts = { mcp_opts },
  .max_pos = 0,
  .raw_from = -1,
};

int
cmd_mcp (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  struct sigaction sa = { .sa_handler = on_stop }; /* no SA_RESTART: a signal ends the read */
  struct islet_err err = { 0 };
  struct mcp_args args = { 0 };
  cleanup_free char *host_dir = NULL;
  struct mcp_session session;
  struct mcp_host host = {
    .ops = &cli_host_ops,
    .data = cli,
    .name = "islet mcp",
    .no_host_dir = "islet mcp was started without --host-dir",
  };
  struct stat st;
  int r;

  r = cli_parse (cli, &mcp_spec, argc, argv, &args, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  if (r < 0 || (host.ctx = cli_ctx (cli, &err)) == NULL)
    return cli_report (cli, &err);
  if (args.host_dir)
    {
      if ((host_dir = realpath (args.host_dir, NULL)) == NULL || stat (host_dir, &st) < 0)
        {
          islet_fail (&err, ISLET_E_INVALID, errno, "--host-dir `%s`", args.host_dir);
          return cli_report (cli, &err);
        }
      if (!S_ISDIR (st.st_mode))
        {
          islet_fail (&err, ISLET_E_INVALID, 0, "--host-dir `%s`: not a directory", args.host_dir);
          return cli_report (cli, &err);
        }
      host.host_dir = host_dir;
    }
  /* a client that goes away must not kill us with SIGPIPE before cleanup */
  signal (SIGPIPE, SIG_IGN);
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGHUP, &sa, NULL);
  fprintf (stderr, "islet mcp: serving on stdio, %s %s%s%s\n",
           cli->url ? "sandboxes of isletd at" : "state in", cli->url ? cli->url : cli->state_dir,
           host_dir ? ", host files beneath " : "", host_dir ? host_dir : "");
  mcp_session_init (&session);
  r = serve (&host, &session);
  fprintf (stderr, "islet mcp: %s\n", mcp_stop ? "stopped by a signal" : "end of input");
  mcp_session_end (&session, &host);
  mcp_session_fini (&session);
  return r;
}
