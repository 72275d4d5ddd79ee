/* islet tool: run the commands a model wrote as text (include/islet/toolcmd.h)
 * in a sandbox, each on its own: one failing does not stop the next. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "islet/toolcmd.h"

struct tool_args
{
  bool workspace_only;
};

static const struct cli_opt tool_opts[] = {
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print {\"results\":[...]}, one object per command", 0 },
  { "workspace-only", 0, CLI_OPT_BOOL, offsetof (struct tool_args, workspace_only), NULL,
    "refuse a file command whose path is outside\n"
    "                          /workspace or has a symbolic link on the way\n"
    "                          (execute commands are not limited by it)",
    0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static void
tool_help (void)
{
  printf ("\nthe commands (any other line of TEXT is skipped):\n%s\n", islet_toolcmd_forms);
}

static const struct cli_spec tool_spec = {
  .name = "tool",
  .args = "ID TEXT|-",
  .about = "Run every command in TEXT (or stdin, with -) in a running sandbox, in order,\n"
           "and report each one's result; the status is 1 if any of them failed.",
  .opts = { tool_opts },
  .min_pos = 2,
  .max_pos = 2,
  .raw_from = -1,
  .more_help = tool_help,
};

/* One result, for a person. */
static void
print_result (json_t *r)
{
  const char *cmd = json_string_value (json_object_get (r, "command"));
  const char *path = json_string_value (json_object_get (r, "path"));
  const char *error = json_string_value (json_object_get (r, "error"));
  json_t *v, *e;
  size_t i;

  printf ("== %s%s%s: %s\n", cmd, path ? " " : "", path ? path : "",
          json_is_true (json_object_get (r, "ok")) ? "ok" : "failed");
  if (!json_is_true (json_object_get (r, "ok")))
    printf ("%s\n", error ? error : "");
  else if ((v = json_object_get (r, "content")))
    printf ("%s%s", json_string_value (v),
            json_string_length (v) && json_string_value (v)[json_string_length (v) - 1] != '\n'
                ? "\n"
                : "");
  else if ((v = json_object_get (r, "entries")))
    json_array_foreach (v, i, e) printf ("%s\n", json_string_value (json_object_get (e, "path")));
  else if ((v = json_object_get (r, "info")))
    printf ("%s %s %lld bytes\n", json_string_value (json_object_get (v, "type")),
            json_string_value (json_object_get (v, "mode")),
            (long long) json_integer_value (json_object_get (v, "size")));
  else if (json_object_get (r, "exit_code"))
    printf ("%s%sexit %d\n", json_string_value (json_object_get (r, "stdout")),
            json_string_value (json_object_get (r, "stderr")),
            (int) json_integer_value (json_object_get (r, "exit_code")));
}

int
cmd_tool (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  cleanup_free char *stdin_text = NULL;
  struct tool_args a = { 0 };
  struct islet_toolcmd *cmds = NULL;
  struct islet_sandbox_info info;
  struct islet_err err = { 0 };
  const char *text;
  size_t len, n = 0, failures = 0;
  json_t *results;
  int r;

  r = cli_parse (cli, &tool_spec, argc, argv, &a, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  if (r < 0)
    return cli_report (cli, &err);
  text = pos.v[1];
  len = strlen (text);
  if (strcmp (text, "-") == 0)
    {
      if (cli_read_fd (STDIN_FILENO, "stdin", &stdin_text, &len, &err) < 0)
        return cli_report (cli, &err);
      text = stdin_text;
    }
  islet_toolcmd_parse (text, len, &cmds, &n);
  if (n == 0)
    {
      islet_fail (&err, ISLET_E_INVALID, 0, "no command in the text; the forms are:\n%s",
                  islet_toolcmd_forms);
      return cli_report (cli, &err);
    }
  if (cli_resolve (cli, pos.v[0], &info, &err) < 0)
    {
      islet_toolcmd_free (cmds, n);
      return cli_report (cli, &err);
    }
  results = json_array ();
  for (size_t i = 0; i < n; i++)
    {
      json_t *one = islet_toolcmd_run (cli->ctx, info.id, &cmds[i],
                                       a.workspace_only ? ISLET_TC_WORKSPACE_ONLY : 0);
      failures += !json_is_true (json_object_get (one, "ok"));
      if (!cli->json)
        print_result (one);
      json_array_append_new (results, one);
    }
  islet_toolcmd_free (cmds, n);
  if (cli->json)
    cli_print_json (json_pack ("{s:s,s:o}", "sandbox", info.id, "results", results));
  else
    json_decref (results);
  return failures ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}
