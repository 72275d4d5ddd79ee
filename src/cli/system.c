/* islet system: operations on the state directory as a whole. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct system_args
{
  bool force;
  const char *size; /* warm: the new pool size, NULL to show it */
};

static const struct cli_opt reset_opts[] = {
  { "force", 'f', CLI_OPT_BOOL, offsetof (struct system_args, force), NULL,
    "confirm: every sandbox and its files are removed", 0 },
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print {\"reset\":STATE_DIR} when done", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static int
system_reset (struct cli *cli, const struct system_args *a, struct islet_err *err)
{
  struct islet_ctx *ctx;

  /* a command that deletes everything is never run by a stray argument alone */
  if (!a->force)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "'system reset' removes every sandbox in %s: confirm with -f",
                       cli->state_dir);
  ctx = cli_ctx (cli, err);
  if (ctx == NULL || islet_state_reset (ctx, err) < 0)
    return -1;
  if (cli->json)
    return cli_print_json (
        json_pack ("{s:o}", "reset", islet_json_bytes (cli->state_dir, strlen (cli->state_dir))));
  return 0;
}

static const struct cli_opt warm_opts[] = {
  { "json", 0, CLI_OPT_JSON, 0, NULL, "print {\"size\":N,\"ready\":M}", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static int
system_warm (struct cli *cli, const struct system_args *a, struct islet_err *err)
{
  struct islet_ctx *ctx = cli_ctx (cli, err);
  unsigned size = 0, ready = 0;

  if (ctx == NULL)
    return -1;
  if (a->size)
    {
      uint64_t v;
      if (islet_parse_u64 (a->size, 1024, &v, err) < 0)
        return islet_wrap (err, "warm pool size");
      if (!cli->json && v > 0)
        fprintf (stderr, "islet: starting %llu sandboxes for the warm pool...\n",
                 (unsigned long long) v);
      if (islet_warm_set (ctx, (unsigned) v, err) < 0)
        return -1;
    }
  if (islet_warm_get (ctx, &size, &ready, err) < 0)
    return -1;
  if (cli->json)
    return cli_print_json (json_pack ("{s:i,s:i}", "size", (int) size, "ready", (int) ready));
  printf ("warm pool: %u of %u ready\n", ready, size);
  return 0;
}

static const struct system_verb
{
  const char *summary;
  int (*fn) (struct cli *cli, const struct system_args *a, struct islet_err *err);
  struct cli_spec spec;
} verbs[] = {
  { "remove every sandbox and release the disk pool",
    system_reset,
    { .name = "system reset",
      .args = "",
      .about = "Remove every sandbox of the state directory, unmount and delete its disk pool:\n"
               "the state directory is left as new.",
      .opts = { reset_opts },
      .raw_from = -1 } },
  { "show or set the size of the warm pool",
    system_warm,
    { .name = "system warm",
      .args = "[SIZE]",
      .about = "Keep SIZE sandboxes started ahead of time, so that `islet run` and a create\n"
               "with no name, the default image and the default limits take one instead of\n"
               "starting one; each is used once and replaced in the background.  The pool\n"
               "is hidden from `islet ls`.  0 turns it off and removes its sandboxes.",
      .opts = { warm_opts },
      .max_pos = 1,
      .raw_from = -1 } },
};

static void
system_more_help (void)
{
  printf ("\ncommands:\n");
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    printf ("  %-8s  %s\n", verbs[i].spec.name + 7, verbs[i].summary);
}

static const struct cli_spec system_spec = {
  .name = "system",
  .args = "COMMAND",
  .about = "Operations on the state directory as a whole.",
  .opts = { NULL },
  .min_pos = 1,
  .max_pos = CLI_MANY,
  .raw_from = 0,
  .more_help = system_more_help,
};

int
cmd_system (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  cleanup_pos struct cli_pos vpos = { 0 };
  struct system_args a = { false, NULL };
  struct islet_err err = { 0 };
  const struct system_verb *v = NULL;
  int r;

  r = cli_parse (cli, &system_spec, argc, argv, NULL, &pos, &err);
  for (size_t i = 0; r == 0 && v == NULL && i < sizeof verbs / sizeof verbs[0]; i++)
    if (strcmp (verbs[i].spec.name + 7, pos.v[0]) == 0)
      v = &verbs[i];
  if (r == 0 && v == NULL)
    r = islet_fail (&err, ISLET_E_INVALID, 0, "'%s' is not a system command (reset, warm)",
                    pos.v[0]);
  if (r == 0)
    r = cli_parse (cli, &v->spec, (int) pos.n - 1, pos.v + 1, &a, &vpos, &err);
  if (r == 0 && cli->url != NULL)
    r = islet_fail (&err, ISLET_E_INVALID, 0,
                    "'system %s' acts on a local state directory (--state-dir), not over --url",
                    pos.v[0]);
  if (r == 0 && vpos.n > 0)
    a.size = vpos.v[0];
  if (r == 0)
    r = v->fn (cli, &a, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  return r < 0 ? cli_report (cli, &err) : CLI_EXIT_OK;
}
