/* islet: the command-line interface.  Local mode drives the library on a
 * state directory; remote mode (--url, $ISLET_URL) drives a running isletd
 * through the same library calls (src/remote).  main only parses the global
 * options and routes to a subcommand. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "islet/remote.h"

struct command
{
  const char *name;
  int (*fn) (struct cli *cli, int argc, char **argv);
  bool own_status; /* the command's exit status is the sandboxed program's */
  const char *summary;
};

static const struct command commands[] = {
  { "run", cmd_run, true, "run one command in a new sandbox, then remove it" },
  { "create", cmd_create, false, "create and start a sandbox, print its id" },
  { "exec", cmd_exec, true, "run a command in a running sandbox" },
  { "ls", cmd_ls, false, "list sandboxes" },
  { "info", cmd_info, false, "show a sandbox's details and limits" },
  { "start", cmd_start, false, "start a stopped sandbox, or resume a paused one" },
  { "pause", cmd_pause, false, "freeze every process of a sandbox in place" },
  { "resize", cmd_resize, false, "change a sandbox's memory, CPUs or disk" },
  { "network", cmd_network, false, "change a sandbox's outbound network" },
  { "stop", cmd_stop, false, "stop a sandbox, keeping its files" },
  { "rm", cmd_rm, false, "remove sandboxes" },
  { "cp", cmd_cp, false, "copy a file into or out of a sandbox" },
  { "fs", cmd_fs, false, "read, write, list and move files in a sandbox" },
  { "tool", cmd_tool, false, "run the commands a model wrote as text" },
  { "image", cmd_image, false, "pull, import, list and remove the images sandboxes use" },
  { "volume", cmd_volume, false, "create, list and remove volumes that sandboxes share" },
  { "snapshot", cmd_snapshot, false, "keep a sandbox's files under a name; list, remove" },
  { "fork", cmd_fork, false, "create a sandbox with a copy of another's files" },
  { "system", cmd_system, false, "reset the state directory, size the warm pool" },
  { "mcp", cmd_mcp, false, "serve the Model Context Protocol on stdio, for agents" },
  { "audit", cmd_audit, false, "show isletd's audit log (what ran, what changed)" },
  { "key", cmd_key, false, "create, list and revoke isletd's API keys" },
};

struct main_args
{
  const char *state_dir;
  const char *url;
  bool version;
};

static const struct cli_opt main_opts[] = {
  { "state-dir", 0, CLI_OPT_STR, offsetof (struct main_args, state_dir), "DIR",
    "where sandboxes are kept (see above)", 0 },
  { "url", 0, CLI_OPT_STR, offsetof (struct main_args, url), "URL",
    "work on the sandboxes of a running isletd (see above)", 0 },
  { "version", 0, CLI_OPT_BOOL, offsetof (struct main_args, version), NULL, "print the version",
    0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static void
main_more_help (void)
{
  printf ("\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    printf ("  %-8s  %s\n", commands[i].name, commands[i].summary);
  printf ("\n"
          "ID is a sandbox id, a unique id prefix or a name.  Every command takes --json\n"
          "to print exactly one JSON object on stdout; errors are then\n"
          "{\"error\":{\"kind\":...,\"message\":...}}.\n"
          "\n"
          "exit status:\n"
          "  run, exec  the command's own status (128+N when killed by signal N);\n"
          "             125 when islet fails, 126 when the command cannot be executed,\n"
          "             127 when it is not found\n"
          "  others     0 on success, 1 when the operation fails (no such sandbox,\n"
          "             wrong state, system error), 2 on bad usage or invalid input\n"
          "\n"
          "'islet COMMAND --help' shows a command's options.\n");
}

static const struct cli_spec main_spec = {
  .name = "islet",
  .usage = "[--state-dir DIR | --url URL] COMMAND [ARGS...]",
  .args = "COMMAND [ARGS...]",
  .about = "Run untrusted code in sandboxes.  Their state is kept in --state-dir DIR,\n"
           "else in $ISLET_STATE_DIR, else in /var/lib/islet.\n"
           "\n"
           "With --url URL (or $ISLET_URL), every command works on the sandboxes of the\n"
           "isletd at URL instead, as the API key in $ISLET_API_KEY (else the one isletd\n"
           "wrote to <state-dir>/api-key): `islet --url http://127.0.0.1:7420 ls`.",
  .opts = { main_opts },
  .max_pos = CLI_MANY,
  .raw_from = 0,
  .more_help = main_more_help,
};

/* The first line of <state-dir>/name, or NULL. */
static char *
state_file_line (const char *state_dir, const char *name)
{
  cleanup_free char *path = islet_xasprintf ("%s/%s", state_dir, name);
  struct islet_err ignored;
  char *text = NULL;
  size_t len = 0;

  if (islet_read_file_at (AT_FDCWD, path, 4096, &text, &len, &ignored) < 0)
    return NULL;
  text[strcspn (text, "\r\n")] = '\0';
  if (text[0] == '\0')
    {
      free (text);
      return NULL;
    }
  return text;
}

char *
cli_local_server (struct cli *cli)
{
  return state_file_line (cli->state_dir, "isletd.url");
}

static char **main_argv; /* for the hand-over of a remote command */

/* The static CLI cannot load libcurl: a remote command is run by
 * islet-dynamic, the same CLI linked dynamically, with the same arguments.
 * Done before the command reads anything (stdin stays unread). */
static int
remote_handoff (struct islet_err *err)
{
#ifdef ISLET_CLI_STATIC
  cleanup_free char *twin = islet_program_path ("islet-dynamic");

  fflush (NULL);
  execv (twin, main_argv);
  return islet_fail (err, ISLET_E_SYSTEM, errno, "run `%s` for the remote command", twin);
#else
  (void) err;
  return 0;
#endif
}

int
cli_open_remote (struct cli *cli, const char *url, struct islet_err *err)
{
  const char *env = getenv ("ISLET_API_KEY");
  cleanup_free char *file_key = NULL;

  if (remote_handoff (err) < 0)
    return -1;
  if (env == NULL || *env == '\0')
    env = file_key = state_file_line (cli->state_dir, "api-key");
  return islet_remote_open (url, env, &cli->ctx, err);
}

struct islet_ctx *
cli_ctx (struct cli *cli, struct islet_err *err)
{
  if (cli->ctx != NULL)
    return cli->ctx;
  if (cli->url != NULL)
    return cli_open_remote (cli, cli->url, err) < 0 ? NULL : cli->ctx;
  if (islet_ctx_open (cli->state_dir, NULL, &cli->ctx, err) < 0)
    return NULL;
  return cli->ctx;
}

static const struct command *
find_command (const char *name)
{
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static const char *
state_dir (const char *flag)
{
  const char *env = getenv ("ISLET_STATE_DIR");

  if (flag != NULL)
    return flag;
  return env != NULL && env[0] != '\0' ? env : "/var/lib/islet";
}

int
main (int argc, char **argv)
{
  struct main_args a = { NULL, NULL, false };
  cleanup_pos struct cli_pos pos = { 0 };
  struct cli cli = { 0 };
  struct islet_err err = { 0 };
  const struct command *c;
  int r, status;

  r = cli_parse (&cli, &main_spec, argc - 1, argv + 1, &a, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  if (r < 0)
    return cli_report (&cli, &err);
  if (a.version)
    {
      printf ("islet %s\n", ISLET_VERSION);
      return CLI_EXIT_OK;
    }
  if (pos.n == 0)
    {
      fprintf (stderr, "islet: no command given (see 'islet --help')\n");
      return CLI_EXIT_USAGE;
    }
  c = find_command (pos.v[0]);
  if (c == NULL)
    {
      fprintf (stderr, "islet: '%s' is not an islet command (see 'islet --help')\n", pos.v[0]);
      return CLI_EXIT_USAGE;
    }
  if (a.state_dir != NULL && a.state_dir[0] == '\0')
    {
      fprintf (stderr, "islet: --state-dir: empty path\n");
      return CLI_EXIT_USAGE;
    }
  if (a.url == NULL && getenv ("ISLET_URL") != NULL && getenv ("ISLET_URL")[0] != '\0')
    a.url = getenv ("ISLET_URL");
  if (a.url != NULL && a.url[0] == '\0')
    {
      fprintf (stderr, "islet: --url: empty URL\n");
      return CLI_EXIT_USAGE;
    }
  cli.state_dir = state_dir (a.state_dir);
  cli.url = a.url;
  cli.own_status = c->own_status;
  main_argv = argv;
  if (cli.url != NULL && remote_handoff (&err) < 0)
    return cli_report (&cli, &err);
  /* pos.v is NULL-terminated, so the subcommand gets a proper argv */
  status = c->fn (&cli, (int) pos.n - 1, pos.v + 1);
  if (cli.ctx != NULL)
    islet_ctx_free (cli.ctx);
  return status;
}
