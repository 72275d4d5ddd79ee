/* islet audit: isletd's record of every call that changed something or ran
 * code, for the caller's API key.  The log is isletd's (its SQLite store):
 * this asks the server at --url, else the one serving the state directory
 * (the URL it wrote to <state-dir>/isletd.url). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "islet/remote.h"

struct audit_args
{
  const char *sandbox;
  uint32_t limit;
};

static const struct cli_opt audit_opts[] = {
  { "sandbox", 0, CLI_OPT_STR, offsetof (struct audit_args, sandbox), "ID",
    "only the records of this sandbox (an id or a name)", 0 },
  { "limit", 'n', CLI_OPT_U32, offsetof (struct audit_args, limit), "N",
    "the newest N records (default 100, at most 1000)", 1000 },
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print {\"items\":[...]} as isletd sends it", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_spec audit_spec = {
  .name = "audit",
  .args = "",
  .about = "Show isletd's audit log, newest first: the time, the action, the sandbox, the\n"
           "HTTP status, the duration and the result of every call that changed something\n"
           "or ran code, made with the same API key.  Asks the isletd at --url, else the\n"
           "one serving the state directory.",
  .opts = { audit_opts },
  .raw_from = -1,
};

static int
audit (struct cli *cli, const struct audit_args *a, struct islet_err *err)
{
  cleanup_json json_t *j = NULL;
  cleanup_free char *local = NULL;
  char limit[16];
  const char *query[5] = { "limit", limit, NULL, NULL, NULL };
  json_t *items, *e;
  size_t i;

  if (cli->url == NULL)
    {
      local = cli_local_server (cli);
      if (local == NULL)
        return islet_fail (err, ISLET_E_NOTFOUND, 0,
                           "the audit log is isletd's, and no isletd serves %s: start it, or "
                           "give --url",
                           cli->state_dir);
      if (cli_open_remote (cli, local, err) < 0)
        return -1;
    }
  else if (cli_ctx (cli, err) == NULL)
    return -1;
  snprintf (limit, sizeof limit, "%u", a->limit ? a->limit : 100);
  if (a->sandbox)
    {
      query[2] = "sandbox";
      query[3] = a->sandbox;
    }
  if (islet_remote_get_json (cli->ctx, "/api/audit", query, &j, err) < 0)
    return -1;
  if (cli->json)
    return cli_print_json (json_incref (j));
  items = json_object_get (j, "items");
  printf ("%-24s  %-22s  %-12s  %6s  %8s  %s\n", "TIME", "ACTION", "SANDBOX", "STATUS", "MS",
          "RESULT");
  json_array_foreach (items, i, e)
  {
    const char *sb = json_string_value (json_object_get (e, "sandboxId"));
    printf ("%-24s  %-22s  %-12s  %6lld  %8lld  %s\n",
            json_string_value (json_object_get (e, "time")),
            json_string_value (json_object_get (e, "action")), sb && *sb ? sb : "-",
            (long long) json_integer_value (json_object_get (e, "status")),
            (long long) json_integer_value (json_object_get (e, "durationMs")),
            json_string_value (json_object_get (e, "result")));
  }
  return 0;
}

int
cmd_audit (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  struct audit_args a = { NULL, 0 };
  struct islet_err err = { 0 };
  int r;

  r = cli_parse (cli, &audit_spec, argc, argv, &a, &pos, &err);
  if (r == 0)
    r = audit (cli, &a, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  return r < 0 ? cli_report (cli, &err) : CLI_EXIT_OK;
}
