/* islet volume: the volumes of the state directory (create, ls, rm), which
 * `islet create --volume NAME:/path[:subpath]` mounts. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "islet/volume.h"

struct volume_args
{
  uint64_t size_mb;
  const char *name; /* the positional argument */
};

static const struct cli_opt create_opts[] = {
  { "size", 0, CLI_OPT_U64, offsetof (struct volume_args, size_mb), "MB",
    "the volume's size limit (default 1024)", (uint64_t) 1 << 30 },
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print the volume as JSON", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_opt json_opts[] = {
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print the result as JSON", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static json_t *
volume_json (const struct islet_volume_info *v)
{
  return json_pack ("{s:s,s:I,s:I,s:I}", "name", v->name, "size_mb", (json_int_t) v->size_mb,
                    "used_bytes", (json_int_t) v->used_bytes, "created", (json_int_t) v->created);
}

static int
volume_create (struct cli *cli, const struct volume_args *a, struct islet_err *err)
{
  struct islet_volume_info v;

  if (islet_volume_create (cli->ctx, a->name, a->size_mb, err) < 0)
    return -1;
  if (!cli->json)
    {
      printf ("%s\n", a->name);
      return 0;
    }
  if (islet_volume_get (cli->ctx, a->name, &v, err) < 0)
    return -1;
  return cli_print_json (volume_json (&v));
}

static int
volume_ls (struct cli *cli, const struct volume_args *a, struct islet_err *err)
{
  cleanup_free struct islet_volume_info *v = NULL;
  size_t n = 0;
  json_t *list;
  char when[32];

  (void) a;
  if (islet_volume_list (cli->ctx, &v, &n, err) < 0)
    return -1;
  if (cli->json)
    {
      list = json_array ();
      for (size_t i = 0; i < n; i++)
        json_array_append_new (list, volume_json (&v[i]));
      return cli_print_json (json_pack ("{s:o}", "volumes", list));
    }
  printf ("%-24s  %10s  %10s  %s\n", "NAME", "SIZE MB", "USED MB", "CREATED");
  for (size_t i = 0; i < n; i++)
    printf ("%-24s  %10llu  %10.1f  %s\n", v[i].name, (unsigned long long) v[i].size_mb,
            (double) v[i].used_bytes / (1 << 20), cli_time (v[i].created, when, sizeof when));
  return 0;
}

static int
volume_rm (struct cli *cli, const struct volume_args *a, struct islet_err *err)
{
  if (islet_volume_remove (cli->ctx, a->name, err) < 0)
    return -1;
  if (cli->json)
    return cli_print_json (json_pack ("{s:s}", "removed", a->name));
  return 0;
}

static const struct volume_verb
{
  const char *summary;
  int (*fn) (struct cli *cli, const struct volume_args *a, struct islet_err *err);
  struct cli_spec spec;
} verbs[] = {
  { "make an empty volume",
    volume_create,
    { .name = "volume create",
      .args = "NAME",
      .about = "Make an empty volume with a size limit: writes past it fail with EDQUOT or\n"
               "ENOSPC in every sandbox that mounts it.",
      .opts = { create_opts },
      .min_pos = 1,
      .max_pos = 1,
      .raw_from = -1 } },
  { "list volumes, with their use",
    volume_ls,
    { .name = "volume ls",
      .args = "",
      .about = "List the volumes with their size limits and the bytes they hold.",
      .opts = { json_opts },
      .raw_from = -1 } },
  { "remove a volume no sandbox mounts",
    volume_rm,
    { .name = "volume rm",
      .args = "NAME",
      .about = "Remove a volume and its files.  Refused while a sandbox (running or stopped)\n"
               "mounts it.",
      .opts = { json_opts },
      .min_pos = 1,
      .max_pos = 1,
      .raw_from = -1 } },
};

static void
volume_more_help (void)
{
  printf ("\ncommands:\n");
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    printf ("  %-8s  %s\n", verbs[i].spec.name + 7, verbs[i].summary);
}

static const struct cli_spec volume_spec = {
  .name = "volume",
  .args = "COMMAND",
  .about = "Volumes: storage that outlives sandboxes, mounted read-write in any number of\n"
           "them at once (`islet create --volume NAME:/path[:subpath]`).",
  .opts = { NULL },
  .min_pos = 1,
  .max_pos = CLI_MANY,
  .raw_from = 0,
  .more_help = volume_more_help,
};

int
cmd_volume (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  cleanup_pos struct cli_pos vpos = { 0 };
  struct volume_args a = { 0 };
  struct islet_err err = { 0 };
  const struct volume_verb *v = NULL;
  int r;

  r = cli_parse (cli, &volume_spec, argc, argv, NULL, &pos, &err);
  for (size_t i = 0; r == 0 && v == NULL && i < sizeof verbs / sizeof verbs[0]; i++)
    if (strcmp (verbs[i].spec.name + 7, pos.v[0]) == 0)
      v = &verbs[i];
  if (r == 0 && v == NULL)
    r = islet_fail (&err, ISLET_E_INVALID, 0, "'%s' is not a volume command (create, ls, rm)",
                    pos.v[0]);
  if (r == 0)
    r = cli_parse (cli, &v->spec, (int) pos.n - 1, pos.v + 1, &a, &vpos, &err);
  if (r == 0 && vpos.n > 0)
    a.name = vpos.v[0];
  if (r == 0 && cli_ctx (cli, &err) == NULL)
    r = -1;
  if (r == 0)
    r = v->fn (cli, &a, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  return r < 0 ? cli_report (cli, &err) : CLI_EXIT_OK;
}
