/* islet snapshot ID NAME, snapshot ls|inspect|rm, and islet fork ID: a
 * sandbox's files kept under a name, and new sandboxes made from them
 * (`islet create --from NAME`). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "islet/snapshot.h"

static const struct cli_opt json_opts[] = {
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print the result as JSON", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static json_t *
snapshot_json (const struct islet_snapshot_info *s)
{
  json_t *j = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "id", s->id, "name", s->name, "image",
                         s->image, "source", s->source, "source_name", s->source_name, "created",
                         (json_int_t) s->created, "bytes", (json_int_t) s->bytes);

  if (j && s->label[0])
    json_object_set_new (j, "label", json_string (s->label));
  return j;
}

static int
snap_take (struct cli *cli, struct cli_pos *pos, struct islet_err *err)
{
  struct islet_ctx *ctx = cli_ctx (cli, err);
  struct islet_snapshot_info s;

  if (ctx == NULL || islet_snapshot_create (ctx, pos->v[0], pos->v[1], &s, err) < 0)
    return -1;
  if (cli->json)
    return cli_print_json (snapshot_json (&s)) == 0 ? 0 : -1;
  printf ("%s\n", s.name);
  return 0;
}

static int
snap_ls (struct cli *cli, struct cli_pos *pos, struct islet_err *err)
{
  struct islet_ctx *ctx = cli_ctx (cli, err);
  cleanup_free struct islet_snapshot_info *all = NULL;
  size_t n = 0;

  if (ctx == NULL || islet_snapshot_list (ctx, &all, &n, err) < 0)
    return -1;
  if (cli->json)
    {
      json_t *items = json_array ();
      for (size_t i = 0; i < n; i++)
        json_array_append_new (items, snapshot_json (&all[i]));
      return cli_print_json (json_pack ("{s:o}", "snapshots", items)) == 0 ? 0 : -1;
    }
  printf ("%-24s %-12s %-20s %10s  %s\n", "NAME", "ID", "CREATED", "MB", "FROM");
  for (size_t i = 0; i < n; i++)
    {
      char when[32];
      /* isletd's by the name its key gave (their own names are UUIDs) */
      printf ("%-24s %-12s %-20s %10.1f  %s\n", all[i].label[0] ? all[i].label : all[i].name,
              all[i].id, cli_time (all[i].created, when, sizeof when), (double) all[i].bytes / 1e6,
              all[i].source_name);
    }
  return 0;
}

static int
snap_inspect (struct cli *cli, struct cli_pos *pos, struct islet_err *err)
{
  struct islet_ctx *ctx = cli_ctx (cli, err);
  struct islet_snapshot_info s;

  if (ctx == NULL || islet_snapshot_get (ctx, pos->v[1], &s, err) < 0)
    return -1;
  return cli_print_json (snapshot_json (&s)) == 0 ? 0 : -1;
}

static int
snap_rm (struct cli *cli, struct cli_pos *pos, struct islet_err *err)
{
  struct islet_ctx *ctx = cli_ctx (cli, err);

  for (size_t i = 1; ctx && i < pos->n; i++)
    if (islet_snapshot_rm (ctx, pos->v[i], err) < 0)
      return -1;
  if (ctx == NULL)
    return -1;
  if (cli->json)
    return cli_print_json (json_pack ("{s:b}", "ok", 1)) == 0 ? 0 : -1;
  return 0;
}

/* The forms, by their first word and count of positionals; the last one
 * (a sandbox and a name) takes any first word. */
struct snap_form
{
  const char *word;
  size_t min, max;
  int (*fn) (struct cli *cli, struct cli_pos *pos, struct islet_err *err);
};

static const struct snap_form forms[] = {
  { "ls", 1, 1, snap_ls },
  { "inspect", 2, 2, snap_inspect },
  { "rm", 2, CLI_MANY, snap_rm },
  { NULL, 2, 2, snap_take },
};

static void
snap_more_help (void)
{
  printf ("\nforms:\n"
          "  islet snapshot ID NAME      keep sandbox ID's files as snapshot NAME\n"
          "  islet snapshot ls           list snapshots\n"
          "  islet snapshot inspect NAME show one\n"
          "  islet snapshot rm NAME...   remove snapshots no sandbox was made from\n"
          "\n"
          "`islet create --from NAME` makes a sandbox from a snapshot, `islet fork ID`\n"
          "from a sandbox as it is now.  (A sandbox named ls, inspect or rm is\n"
          "snapshotted by its id.)\n");
}

static const struct cli_spec snapshot_spec = {
  .name = "snapshot",
  .args = "ID NAME | ls | inspect NAME | rm NAME...",
  .about = "Keep a sandbox's files (running, paused or stopped) under a name: its image and\n"
           "a copy-on-write snapshot of its writable layer, taken in one instant.",
  .opts = { json_opts },
  .min_pos = 1,
  .max_pos = CLI_MANY,
  .raw_from = -1,
  .more_help = snap_more_help,
};

int
cmd_snapshot (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  struct islet_err err = { 0 };
  const struct snap_form *f = NULL;
  int r;

  r = cli_parse (cli, &snapshot_spec, argc, argv, NULL, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  for (size_t i = 0; r == 0 && f == NULL && i < sizeof forms / sizeof forms[0]; i++)
    if ((forms[i].word == NULL || strcmp (forms[i].word, pos.v[0]) == 0) && pos.n >= forms[i].min
        && pos.n <= forms[i].max)
      f = &forms[i];
  if (r == 0 && f == NULL)
    r = islet_fail (&err, ISLET_E_INVALID, 0,
                    "usage: islet snapshot ID NAME | ls | inspect NAME | rm NAME...");
  if (r == 0)
    r = f->fn (cli, &pos, &err);
  return r < 0 ? cli_report (cli, &err) : CLI_EXIT_OK;
}

/* ---- fork ---- */

struct fork_args
{
  const char *name;
};

static const struct cli_opt fork_opts[] = {
  { "name", 0, CLI_OPT_STR, offsetof (struct fork_args, name), "NAME",
    "name the new sandbox (default islet-<id>)", 0 },
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print the new sandbox's details as JSON", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_spec fork_spec = {
  .name = "fork",
  .args = "ID",
  .about = "Create and start a sandbox with a copy of sandbox ID's files as they are now\n"
           "(running, paused or stopped; copy-on-write), its image, limits and network, and\n"
           "print its id.  Changes in either are not seen by the other.",
  .opts = { fork_opts },
  .min_pos = 1,
  .max_pos = 1,
  .raw_from = -1,
};

int
cmd_fork (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  struct fork_args a = { 0 };
  struct islet_sandbox_info src;
  struct islet_err err = { 0 };
  struct islet_ctx *ctx;
  char id[ISLET_ID_LEN + 1];
  int r;

  r = cli_parse (cli, &fork_spec, argc, argv, &a, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  if (r < 0 || (ctx = cli_ctx (cli, &err)) == NULL || cli_resolve (cli, pos.v[0], &src, &err) < 0)
    return cli_report (cli, &err);
  {
    struct islet_create_opts opts = {
      .name = a.name, .fork = src.id, .limits = src.limits, .net = src.net
    };
    if (islet_sandbox_create (ctx, &opts, id, &err) < 0)
      return cli_report (cli, &err);
  }
  return cli_print_created (cli, ctx, id);
}
