/* islet fs ID VERB: file operations inside a running sandbox.  The paths are
 * resolved by the sandbox's agent, never on the host; relative paths are
 * relative to /workspace.  Each verb is a row of the table below, with its
 * own options. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct fs_args
{
  uint64_t max;
  unsigned mode;
  const char *content;
  uint32_t depth;
  bool recursive;
};

struct fs_call
{
  struct cli *cli;
  const char *id;
  const struct fs_args *a;
  char **arg; /* the verb's positionals */
  size_t n;
};

struct fs_verb
{
  const char *synopsis; /* for the list in 'islet fs --help' */
  const char *summary;
  int (*fn) (const struct fs_call *c, json_t **out, struct islet_err *err);
  unsigned mode; /* default of --mode */
  struct cli_spec spec;
};

static json_t *
jstr (const char *s)
{
  return islet_json_bytes (s, strlen (s));
}

static int
fs_read (const struct fs_call *c, json_t **out, struct islet_err *err)
{
  cleanup_free char *data = NULL;
  cleanup_free char *b64 = NULL;
  json_t *text;
  size_t len = 0;

  if (islet_fs_read (c->cli->ctx, c->id, c->arg[0], (size_t) c->a->max, &data, &len, err) < 0)
    return -1;
  if (!c->cli->json)
    {
      if (islet_write_all (STDOUT_FILENO, data, len) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "write to stdout");
      return 0;
    }
  /* text stays readable in JSON; anything else travels as base64 */
  text = json_stringn (data, len);
  if (text != NULL)
    {
      *out = json_pack ("{s:o,s:I,s:s,s:o}", "path", jstr (c->arg[0]), "size", (json_int_t) len,
                        "encoding", "utf-8", "content", text);
      return 0;
    }
  b64 = islet_base64 ((const unsigned char *) data, len);
  *out = json_pack ("{s:o,s:I,s:s,s:s}", "path", jstr (c->arg[0]), "size", (json_int_t) len,
                    "encoding", "base64", "content", b64);
  return 0;
}

static int
fs_write (const struct fs_call *c, json_t **out, struct islet_err *err)
{
  cleanup_free char *buf = NULL;
  const char *data = c->a->content;
  size_t len = 0;

  if (data != NULL)
    len = strlen (data);
  else if (cli_read_fd (STDIN_FILENO, "stdin", &buf, &len, err) < 0)
    return -1;
  else
    data = buf;
  if (islet_fs_write (c->cli->ctx, c->id, c->arg[0], data, len, c->a->mode, err) < 0)
    return -1;
  if (c->cli->json)
    *out = json_pack ("{s:o,s:I}", "path", jstr (c->arg[0]), "size", (json_int_t) len);
  return 0;
}

/* "drwxr-xr-x" from the agent's type name and permission bits */
static void
mode_str (const char *type, unsigned mode, char out[11])
{
  static const struct
  {
    const char *type;
    char c;
  } types[] = { { "file", '-' },   { "dir", 'd' },  { "symlink", 'l' }, { "fifo", 'p' },
                { "socket", 's' }, { "char", 'c' }, { "block", 'b' } };
  static const char rwx[] = "rwxrwxrwx";

  out[0] = '?';
  for (size_t i = 0; type && i < sizeof types / sizeof types[0]; i++)
    if (strncmp (type, types[i].type, strlen (types[i].type)) == 0)
      out[0] = types[i].c;
  for (int i = 0; i < 9; i++)
    out[1 + i] = (char) ((mode & (0400u >> i)) ? rwx[i] : '-');
  out[10] = '\0';
}

static int
fs_ls (const struct fs_call *c, json_t **out, struct islet_err *err)
{
  const char *path = c->n > 0 ? c->arg[0] : "/workspace";
  cleanup_json json_t *list = NULL;
  size_t i;
  json_t *e;

  if (islet_fs_list (c->cli->ctx, c->id, path, c->a->depth ? c->a->depth : 1, &list, err) < 0)
    return -1;
  if (c->cli->json)
    {
      *out = json_pack ("{s:o,s:O}", "path", jstr (path), "entries", list);
      return 0;
    }
  json_array_foreach (list, i, e)
  {
    char mode[11], when[64];
    const char *p = json_string_value (json_object_get (e, "path"));

    mode_str (json_string_value (json_object_get (e, "type")),
              cli_json_mode (json_object_get (e, "mode")), mode);
    printf ("%s %12lld  %s  %s\n", mode,
            (long long) json_integer_value (json_object_get (e, "size")),
            cli_time (json_integer_value (json_object_get (e, "mtime")), when, sizeof when),
            p ? p : json_string_value (json_object_get (e, "name")));
  }
  return 0;
}

static int
fs_stat (const struct fs_call *c, json_t **out, struct islet_err *err)
{
  cleanup_json json_t *st = NULL;
  const char *key;
  json_t *v;

  if (islet_fs_stat (c->cli->ctx, c->id, c->arg[0], &st, err) < 0)
    return -1;
  if (c->cli->json)
    {
      *out = json_incref (st);
      return 0;
    }
  json_object_foreach (st, key, v)
  {
    cleanup_free char *text = json_is_string (v) ? NULL : json_dumps (v, JSON_ENCODE_ANY);
    if (json_is_integer (v) && strcmp (key, "mode") == 0)
      printf ("%-7s %04llo\n", key, (unsigned long long) json_integer_value (v) & 07777);
    else
      printf ("%-7s %s\n", key, text ? text : json_string_value (v));
  }
  return 0;
}

static int
fs_rm (const struct fs_call *c, json_t **out, struct islet_err *err)
{
  if (islet_fs_remove (c->cli->ctx, c->id, c->arg[0], c->a->recursive, err) < 0)
    return -1;
  if (c->cli->json)
    *out = json_pack ("{s:o}", "removed", jstr (c->arg[0]));
  return 0;
}

static int
fs_mkdir (const struct fs_call *c, json_t **out, struct islet_err *err)
{
  if (islet_fs_mkdir (c->cli->ctx, c->id, c->arg[0], c->a->mode, err) < 0)
    return -1;
  if (c->cli->json)
    *out = json_pack ("{s:o}", "created", jstr (c->arg[0]));
  return 0;
}

static int
fs_mv (const struct fs_call *c, json_t **out, struct islet_err *err)
{
  if (islet_fs_move (c->cli->ctx, c->id, c->arg[0], c->arg[1], err) < 0)
    return -1;
  if (c->cli->json)
    *out = json_pack ("{s:o,s:o}", "moved", jstr (c->arg[0]), "to", jstr (c->arg[1]));
  return 0;
}

#define FS_JSON                                                                                    \
  {                                                                                                \
    "json", 0, CLI_OPT_JSON, 0, NULL, "print the result as one JSON object", 0                     \
  }
#define FS_END                                                                                     \
  {                                                                                                \
    NULL, 0, 0, 0, NULL, NULL, 0                                                                   \
  }

static const struct cli_opt read_opts[] = {
  { "max", 0, CLI_OPT_U64, offsetof (struct fs_args, max), "BYTES",
    "refuse a larger file (default 10 MiB)", 0 },
  FS_JSON,
  FS_END,
};
static const struct cli_opt write_opts[] = {
  { "mode", 0, CLI_OPT_MODE, offsetof (struct fs_args, mode), "MODE", "permissions (default 0644)",
    0 },
  { "content", 0, CLI_OPT_STR, offsetof (struct fs_args, content), "TEXT",
    "the content (default: read from stdin)", 0 },
  FS_JSON,
  FS_END,
};
static const struct cli_opt ls_opts[] = {
  { "depth", 0, CLI_OPT_U32, offsetof (struct fs_args, depth), "N",
    "levels to list (default 1: the entries only)", 64 },
  FS_JSON,
  FS_END,
};
static const struct cli_opt rm_opts[] = {
  { "recursive", 'r', CLI_OPT_BOOL, offsetof (struct fs_args, recursive), NULL,
    "remove a directory and everything in it", 0 },
  FS_JSON,
  FS_END,
};
static const struct cli_opt mkdir_opts[] = {
  { "mode", 0, CLI_OPT_MODE, offsetof (struct fs_args, mode), "MODE", "permissions (default 0755)",
    0 },
  FS_JSON,
  FS_END,
};
static const struct cli_opt plain_opts[] = { FS_JSON, FS_END };

#define FS_SPEC(verb, argstr, text, table, lo, hi)                                                 \
  {                                                                                                \
    .name = "fs " verb, .usage = "fs ID " verb " [OPTIONS] " argstr, .args = argstr,               \
    .about = (text), .opts = { (table) }, .min_pos = (lo), .max_pos = (hi), .raw_from = -1,        \
  }

static const struct fs_verb verbs[] = {
  { "read [--max BYTES] PATH", "print a file", fs_read, 0,
    FS_SPEC ("read", "PATH", "Print a file's bytes to stdout.", read_opts, 1, 1) },
  { "write [--mode MODE] [--content TEXT] PATH", "write a file", fs_write, 0644,
    FS_SPEC ("write", "PATH",
             "Write a file atomically (creating missing parent directories), with the\n"
             "content of --content or else all of stdin.",
             write_opts, 1, 1) },
  { "ls [--depth N] [PATH]", "list a directory", fs_ls, 0,
    FS_SPEC ("ls", "[PATH]", "List a directory (default /workspace).", ls_opts, 0, 1) },
  { "stat PATH", "show a file's details", fs_stat, 0,
    FS_SPEC ("stat", "PATH", "Show a file's type, size, mode, owner and time.", plain_opts, 1, 1) },
  { "rm [-r] PATH", "remove a file or tree", fs_rm, 0,
    FS_SPEC ("rm", "PATH", "Remove a file, or with -r a directory tree.", rm_opts, 1, 1) },
  { "mkdir [--mode MODE] PATH", "create a directory", fs_mkdir, 0755,
    FS_SPEC ("mkdir", "PATH", "Create a directory.", mkdir_opts, 1, 1) },
  { "mv FROM TO", "move or rename", fs_mv, 0,
    FS_SPEC ("mv", "FROM TO", "Move or rename a file or directory.", plain_opts, 2, 2) },
};

static void
fs_more_help (void)
{
  printf ("\ncommands (islet fs ID COMMAND --help shows one):\n");
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    printf ("  %-44s%s\n", verbs[i].synopsis, verbs[i].summary);
}

static const struct cli_spec fs_spec = {
  .name = "fs",
  .args = "ID COMMAND [ARGS...]",
  .about = "Work with files in a running sandbox.  Paths are resolved inside the sandbox;\n"
           "relative paths are relative to /workspace.",
  .opts = { plain_opts },
  .min_pos = 2,
  .max_pos = CLI_MANY,
  .raw_from = 1,
  .more_help = fs_more_help,
};

static const struct fs_verb *
find_verb (const char *name)
{
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    if (strcmp (verbs[i].spec.name + 3, name) == 0)
      return &verbs[i];
  return NULL;
}

int
cmd_fs (struct cli *cli, int argc, char **argv)
{
  cleanup_pos struct cli_pos pos = { 0 };
  cleanup_pos struct cli_pos vpos = { 0 };
  struct fs_args a = { 0 };
  struct islet_sandbox_info info;
  struct islet_err err = { 0 };
  const struct fs_verb *v = NULL;
  json_t *out = NULL;
  int r;

  /* a sandbox that refuses a write (paused) closes before reading it:
   * the send must fail with EPIPE, so that its answer can be read */
  signal (SIGPIPE, SIG_IGN);
  r = cli_parse (cli, &fs_spec, argc, argv, NULL, &pos, &err);
  if (r == 0)
    {
      v = find_verb (pos.v[1]);
      if (v == NULL)
        r = islet_fail (&err, ISLET_E_INVALID, 0,
                        "'%s' is not an fs command (read, write, ls, stat, rm, mkdir, mv)",
                        pos.v[1]);
    }
  if (r == 0)
    {
      a.mode = v->mode;
      r = cli_parse (cli, &v->spec, (int) pos.n - 2, pos.v + 2, &a, &vpos, &err);
    }
  if (r == 0)
    r = cli_resolve (cli, pos.v[0], &info, &err);
  if (r == 0)
    {
      struct fs_call c = { .cli = cli, .id = info.id, .a = &a, .arg = vpos.v, .n = vpos.n };
      r = v->fn (&c, &out, &err);
    }
  if (r > 0)
    return CLI_EXIT_OK;
  if (r < 0)
    return cli_report (cli, &err);
  return cli->json ? cli_print_json (out) : CLI_EXIT_OK;
}
