/* islet mcp: a Model Context Protocol server on stdio, for agents.
 *
 * One JSON-RPC 2.0 message per line on stdin, one answer per line on
 * stdout; logs go to stderr only, so stdout stays a clean channel.  It is a
 * client of the core library like every other command (local mode, the
 * CLI's state directory).  Each tool's arguments are described once, in a
 * table that both produces its JSON schema for tools/list and checks a
 * call's arguments: a call that does not fit the schema is a JSON-RPC error
 * (-32602); a tool that fails (no such sandbox, a full disk) answers with a
 * normal result marked isError, whose text says why. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cli.h"

/* Newest first; an unknown version asked for gets the newest (the one of
 * the official @modelcontextprotocol/sdk tests/mcp pins). */
static const char *const protocol_versions[] = { "2025-11-25", "2025-06-18", "2025-03-26",
                                                 "2024-11-05" };

#define MCP_LINE_MAX (16u << 20)     /* one request, at most */
#define MCP_TIMEOUT_MAX_S 3600       /* of one tool's command */
#define MCP_META_PATH "/etc/islet/mcp.json" /* a sandbox's language and environment */
#define MCP_META_MAX (256u << 10)
#define MCP_LIST_DEPTH_RECURSIVE 16

enum {
  RPC_PARSE_ERROR = -32700,
  RPC_INVALID_REQUEST = -32600,
  RPC_METHOD_NOT_FOUND = -32601,
  RPC_INVALID_PARAMS = -32602,
};

struct rpc_err {
  int code;
  char msg[512];
};

static int __attribute__ ((format (printf, 3, 4)))
rpc_fail (struct rpc_err *e, int code, const char *fmt, ...)
{
  va_list ap;

  e->code = code;
  va_start (ap, fmt);
  (void) vsnprintf (e->msg, sizeof e->msg, fmt, ap);
  va_end (ap);
  return -1;
}

struct mcp {
  struct cli *cli;
};

static volatile sig_atomic_t mcp_stop;

static void
on_stop (int signo)
{
  mcp_stop = signo;
}

/* ---- arguments: one table gives the schema and the checks ---- */

enum arg_type { ARG_STR, ARG_INT, ARG_NUM, ARG_BOOL, ARG_OBJ, ARG_MAP, ARG_LIST };

struct arg {
  const char *name; /* NULL ends a table */
  enum arg_type type;
  bool required;
  const char *desc;
  const char *const *choices; /* ARG_STR: NULL-terminated allowed values */
  const struct arg *fields;   /* ARG_OBJ: its members */
};

static const char *const type_names[] = {
  [ARG_STR] = "string", [ARG_INT] = "integer", [ARG_NUM] = "number",
  [ARG_BOOL] = "boolean", [ARG_OBJ] = "object", [ARG_MAP] = "object", [ARG_LIST] = "array",
};

static json_t *
schema_of (const struct arg *fields)
{
  json_t *props = json_object (), *req = json_array ();

  for (const struct arg *a = fields; a->name; a++)
    {
      json_t *p = json_pack ("{s:s,s:s}", "type", type_names[a->type], "description", a->desc);

      if (a->choices != NULL)
        {
          json_t *e = json_array ();
          for (size_t i = 0; a->choices[i]; i++)
            json_array_append_new (e, json_string (a->choices[i]));
          json_object_set_new (p, "enum", e);
        }
      if (a->type == ARG_INT || a->type == ARG_NUM)
        json_object_set_new (p, "minimum", json_integer (0));
      if (a->type == ARG_MAP)
        json_object_set_new (p, "additionalProperties", json_pack ("{s:s}", "type", "string"));
      if (a->type == ARG_LIST)
        json_object_set_new (p, "items", json_pack ("{s:s}", "type", "string"));
      if (a->type == ARG_OBJ)
        {
          json_t *sub = schema_of (a->fields);
          json_object_update (p, sub);
          json_object_set_new (p, "description", json_string (a->desc));
          json_decref (sub);
        }
      json_object_set_new (props, a->name, p);
      if (a->required)
        json_array_append_new (req, json_string (a->name));
    }
  return json_pack ("{s:s,s:o,s:o}", "type", "object", "properties", props, "required", req);
}

static bool
type_fits (enum arg_type t, const json_t *v)
{
  switch (t)
    {
    case ARG_STR:
      return json_is_string (v);
    case ARG_INT:
      return json_is_integer (v)
             || (json_is_real (v) && json_real_value (v) > -1e18 && json_real_value (v) < 1e18
                 && json_real_value (v) == (double) (int64_t) json_real_value (v));
    case ARG_NUM:
      return json_is_number (v);
    case ARG_BOOL:
      return json_is_boolean (v);
    case ARG_OBJ:
    case ARG_MAP:
      return json_is_object (v);
    case ARG_LIST:
      {
        size_t i;
        json_t *e;
        if (!json_is_array (v))
          return false;
        json_array_foreach (v, i, e) if (!json_is_string (e)) return false;
        return true;
      }
    }
  return false;
}

static int
args_check (const struct arg *fields, const json_t *obj, const char *where, struct rpc_err *e)
{
  for (const struct arg *a = fields; a->name; a++)
    {
      const json_t *v = json_object_get (obj, a->name);
      bool ok = false;

      if (v == NULL || json_is_null (v))
        {
          if (a->required)
            return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: %s'%s' is required", where,
                             a->name);
          continue;
        }
      if (!type_fits (a->type, v))
        return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: %s'%s' must be a%s %s", where,
                         a->name, a->type == ARG_INT || a->type == ARG_OBJ ? "n" : "",
                         type_names[a->type]);
      if (json_is_number (v) && json_number_value (v) < 0)
        return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: %s'%s' must not be negative",
                         where, a->name);
      for (size_t i = 0; a->choices && a->choices[i]; i++)
        ok = ok || strcmp (a->choices[i], json_string_value (v)) == 0;
      if (a->choices != NULL && !ok)
        return rpc_fail (e, RPC_INVALID_PARAMS,
                         "invalid params: %s'%s' must be one of the schema's enum values", where,
                         a->name);
      if (a->type == ARG_MAP)
        {
          const char *k;
          json_t *x;
          json_object_foreach ((json_t *) v, k, x)
            if (!json_is_string (x))
              return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: %s'%s.%s' must be a string",
                               where, a->name, k);
        }
      if (a->type == ARG_OBJ && args_check (a->fields, v, "limits: ", e) < 0)
        return -1;
    }
  return 0;
}

static const char *
str_arg (const json_t *args, const char *name)
{
  return json_string_value (json_object_get (args, name));
}

/* A timeout in seconds (fractional allowed) as milliseconds; 0: not given. */
static int
timeout_arg (const json_t *args, uint32_t *ms, struct islet_err *err)
{
  const json_t *v = json_object_get (args, "timeout");
  double s;

  *ms = 0;
  if (v == NULL || json_is_null (v))
    return 0;
  s = json_number_value (v);
  if (s <= 0 || s > MCP_TIMEOUT_MAX_S)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "timeout: must be more than 0 and at most %d seconds", MCP_TIMEOUT_MAX_S);
  *ms = (uint32_t) (s * 1000 + 0.999);
  return 0;
}

/* "K=V" strings of an object of strings, NULL-terminated; the strings are
 * borrowed from the object except for the "K=V" copies, freed with env_free. */
static char **
env_from (const json_t *a, const json_t *b)
{
  size_t n = json_object_size (a) + json_object_size (b), i = 0;
  char **v = islet_xcalloc (n + 1, sizeof *v);
  const json_t *objs[2] = { a, b };

  for (size_t o = 0; o < 2; o++)
    {
      const char *k;
      json_t *x;
      json_object_foreach ((json_t *) objs[o], k, x)
        if (json_is_string (x) && i < n)
          v[i++] = islet_xasprintf ("%s=%s", k, json_string_value (x));
    }
  return v;
}

static void
env_free (char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free (v[i]);
  free (v);
}

static int
env_check (char *const *env, struct islet_err *err)
{
  for (size_t i = 0; env && env[i]; i++)
    if (env[i][0] == '=')
      return islet_fail (err, ISLET_E_INVALID, 0, "environment: a variable needs a name");
  return 0;
}

/* ---- the sandbox's MCP metadata: language label and environment ----
 * Kept inside the sandbox itself, so it lives and dies with it and nothing
 * is left in the state directory; it only adds to what the sandbox's own
 * commands see, so a sandbox that rewrites it gains nothing. */

static json_t *
meta_read (struct islet_ctx *ctx, const char *id)
{
  cleanup_free char *data = NULL;
  struct islet_err ignored;
  size_t len = 0;
  json_t *m;

  if (islet_fs_read (ctx, id, MCP_META_PATH, MCP_META_MAX, &data, &len, &ignored) < 0)
    return json_object ();
  m = json_loadb (data, len, 0, NULL);
  if (!json_is_object (m))
    {
      json_decref (m);
      return json_object ();
    }
  return m;
}

static int
meta_write (struct islet_ctx *ctx, const char *id, const json_t *meta, struct islet_err *err)
{
  cleanup_free char *text = json_dumps (meta, JSON_COMPACT);

  if (text == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "encode the sandbox's metadata");
  if (islet_fs_write (ctx, id, MCP_META_PATH, text, strlen (text), 0644, err) < 0)
    return islet_wrap (err, "save the sandbox's environment");
  return 0;
}

/* ---- tools ---- */

struct tool {
  const char *name;
  const char *desc;
  const struct arg *args;
  int (*fn) (struct mcp *m, const json_t *args, json_t **out, struct islet_err *err);
};

static int
resolve (struct mcp *m, const json_t *args, struct islet_sandbox_info *info, struct islet_err *err)
{
  return cli_resolve (m->cli, str_arg (args, "sandbox_id"), info, err);
}

/* Out-of-range values become UINT32_MAX, which the limits check refuses. */
static double
clamp (double v)
{
  return v < (double) UINT32_MAX ? v : (double) UINT32_MAX;
}

static int
tool_create (struct mcp *m, const json_t *args, json_t **out, struct islet_err *err)
{
  struct islet_create_opts opts = { .name = str_arg (args, "name"),
                                    .limits = ISLET_LIMITS_DEFAULT };
  const json_t *lim = json_object_get (args, "limits");
  const json_t *env = json_object_get (args, "environment_vars");
  const char *lang = str_arg (args, "language");
  struct islet_ctx *ctx = cli_ctx (m->cli, err);
  struct islet_sandbox_info info;
  struct islet_err rm_err;
  char id[ISLET_ID_LEN + 1];
  json_t *v;

  if (ctx == NULL)
    return -1;
  if ((v = json_object_get (lim, "memory_mb")) != NULL)
    opts.limits.memory_mb = (uint64_t) clamp (json_number_value (v));
  if ((v = json_object_get (lim, "cpus")) != NULL)
    opts.limits.cpu_millis = (uint32_t) clamp (json_number_value (v) * 1000 + 0.5);
  if ((v = json_object_get (lim, "disk_mb")) != NULL)
    opts.limits.disk_mb = (uint64_t) clamp (json_number_value (v));
  if ((v = json_object_get (lim, "timeout_s")) != NULL)
    opts.limits.timeout_s = (uint32_t) clamp (json_number_value (v));
  {
    char **e = env_from (env, NULL);
    int r = env_check (e, err);
    env_free (e);
    if (r < 0 || islet_limits_validate (&opts.limits, err) < 0)
      return -1;
  }
  if (islet_sandbox_create (ctx, &opts, id, err) < 0)
    return -1;
  if (lang != NULL || json_object_size (env) > 0)
    {
      json_t *meta = json_pack ("{s:s?,s:O?}", "language", lang, "environment_vars", env);
      int r = meta_write (ctx, id, meta, err);
      json_decref (meta);
      if (r < 0)
        {
          if (islet_sandbox_destroy (ctx, id, true, &rm_err) < 0)
            cli_warn ("sandbox %s was not removed: %s", id, rm_err.msg);
          return -1;
        }
    }
  if (islet_sandbox_get (ctx, id, &info, err) < 0)
    return -1;
  *out = islet_sandbox_json (&info);
  json_object_set_new (*out, "language", lang ? json_string (lang) : json_null ());
  json_object_set_new (*out, "environment_vars", env ? json_deep_copy (env) : json_object ());
  return 0;
}

static int
tool_list (struct mcp *m, const json_t *args, json_t **out, struct islet_err *err)
{
  cleanup_free struct islet_sandbox_info *list = NULL;
  struct islet_ctx *ctx = cli_ctx (m->cli, err);
  json_t *arr;
  size_t n = 0;

  (void) args;
  if (ctx == NULL || islet_sandbox_list (ctx, &list, &n, err) < 0)
    return -1;
  arr = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (arr, islet_sandbox_json (&list[i]));
  *out = json_pack ("{s:o,s:I}", "sandboxes", arr, "count", (json_int_t) n);
  return 0;
}

static int
tool_info (struct mcp *m, const json_t *args, json_t **out, struct islet_err *err)
{
  struct islet_sandbox_info info;
  json_t *meta;

  if (resolve (m, args, &info, err) < 0)
    return -1;
  *out = islet_sandbox_json (&info);
  meta = info.state == ISLET_SB_RUNNING ? meta_read (m->cli->ctx, info.id) : json_object ();
  json_object_set (*out, "language", json_object_get (meta, "language") ?: json_null ());
  json_object_set (*out, "environment_vars",
                   json_object_get (meta, "environment_vars") ?: json_object ());
  json_decref (meta);
  return 0;
}

static int
tool_delete (struct mcp *m, const json_t *args, json_t **out, struct islet_err *err)
{
  struct islet_sandbox_info info;
  char id[ISLET_ID_LEN + 1];

  if (resolve (m, args, &info, err) < 0)
    return -1;
  memcpy (id, info.id, sizeof id);
  if (islet_sandbox_destroy (m->cli->ctx, id, true, err) < 0)
    return -1;
  *out = json_pack ("{s:s,s:s,s:b}", "id", id, "name", info.name, "deleted", 1);
  return 0;
}

/* Run argv in sandbox id with the sandbox's saved environment plus env. */
static int
run_in (struct mcp *m, const char *id, char *const *argv, const json_t *env, const char *cwd,
        uint32_t timeout_ms, json_t **out, struct islet_err *err)
{
  struct islet_exec_result res = { 0 };
  json_t *meta = meta_read (m->cli->ctx, id);
  char **envv = env_from (json_object_get (meta, "environment_vars"), env);
  struct islet_exec_req req = { .argv = argv, .env = envv, .cwd = cwd, .timeout_ms = timeout_ms };
  int r = env_check (envv, err);

  if (r == 0)
    r = islet_exec (m->cli->ctx, id, &req, &res, err);
  if (r == 0)
    {
      *out = islet_exec_json (&res);
      json_object_set_new (*out, "sandbox_id", json_string (id));
    }
  islet_exec_result_fini (&res);
  env_free (envv);
  json_decref (meta);
  return r;
}

static const struct lang {
  const char *name;
  const char *interp[3];
} langs[] = {
  { "python", { "python3", "-u", "-c" } },
  { "javascript", { "node", "-e", NULL } },
  { "bash", { "bash", "-c", NULL } },
};

static int
tool_execute_code (struct mcp *m, const json_t *args, json_t **out, struct islet_err *err)
{
  struct islet_create_opts opts = { .limits = ISLET_LIMITS_DEFAULT };
  const char *lang = str_arg (args, "language"), *code = str_arg (args, "code");
  struct islet_sandbox_info info;
  struct islet_err rm_err;
  char *argv[5] = { NULL };
  char id[ISLET_ID_LEN + 1];
  uint32_t timeout_ms;
  bool fresh = str_arg (args, "sandbox_id") == NULL;
  size_t n = 0;
  int r;

  if (timeout_arg (args, &timeout_ms, err) < 0)
    return -1;
  for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++)
    if (strcmp (langs[i].name, lang) == 0)
      for (size_t j = 0; j < 3 && langs[i].interp[j]; j++)
        argv[n++] = (char *) langs[i].interp[j];
  /* the code is one argument: it never passes through a shell on the host */
  argv[n] = (char *) code;
  if (!fresh)
    {
      if (resolve (m, args, &info, err) < 0)
        return -1;
      memcpy (id, info.id, sizeof id);
      return run_in (m, id, argv, NULL, NULL, timeout_ms, out, err);
    }
  if (cli_ctx (m->cli, err) == NULL || islet_sandbox_create (m->cli->ctx, &opts, id, err) < 0)
    return -1;
  r = run_in (m, id, argv, NULL, NULL, timeout_ms, out, err);
  if (islet_sandbox_destroy (m->cli->ctx, id, true, &rm_err) < 0)
    cli_warn ("sandbox %s was not removed: %s", id, rm_err.msg);
  else if (r == 0)
    json_object_set_new (*out, "sandbox_deleted", json_true ());
  return r;
}

static int
tool_execute_shell (struct mcp *m, const json_t *args, json_t **out, struct islet_err *err)
{
  char *argv[] = { "bash", "-c", (char *) str_arg (args, "command"), NULL };
  struct islet_sandbox_info info;
  uint32_t timeout_ms;

  if (timeout_arg (args, &timeout_ms, err) < 0 || resolve (m, args, &info, err) < 0)
    return -1;
  return run_in (m, info.id, argv, json_object_get (args, "env"), str_arg (args, "cwd"), timeout_ms,
                 out, err);
}

/* ---- file_operation: one row per operation ---- */

struct fs_op {
  const char *name;
  int (*fn) (struct islet_ctx *ctx, const char *id, const json_t *args, json_t **out,
             struct islet_err *err);
};

static int
fs_op_read (struct islet_ctx *ctx, const char *id, const json_t *args, json_t **out,
            struct islet_err *err)
{
  cleanup_free char *data = NULL;
  const char *path = str_arg (args, "path");
  size_t len = 0;
  json_t *text;

  if (islet_fs_read (ctx, id, path, 0, &data, &len, err) < 0)
    return -1;
  /* text stays readable; anything else travels as base64 */
  text = json_stringn (data, len);
  if (text != NULL)
    *out = json_pack ("{s:s,s:o,s:s,s:I}", "path", path, "content", text, "encoding", "utf-8",
                      "size", (json_int_t) len);
  else
    {
      cleanup_free char *b64 = islet_base64 ((const unsigned char *) data, len);
      *out = json_pack ("{s:s,s:s,s:s,s:I}", "path", path, "content", b64, "encoding", "base64",
                        "size", (json_int_t) len);
    }
  return 0;
}

static int
fs_op_write (struct islet_ctx *ctx, const char *id, const json_t *args, json_t **out,
             struct islet_err *err)
{
  const json_t *content = json_object_get (args, "content");
  const char *path = str_arg (args, "path");

  if (!json_is_string (content))
    return islet_fail (err, ISLET_E_INVALID, 0, "write: 'content' is required (a string)");
  if (islet_fs_write (ctx, id, path, json_string_value (content), json_string_length (content),
                      0644, err) < 0)
    return -1;
  *out = json_pack ("{s:s,s:I}", "path", path, "bytes_written",
                    (json_int_t) json_string_length (content));
  return 0;
}

static int
fs_op_delete (struct islet_ctx *ctx, const char *id, const json_t *args, json_t **out,
              struct islet_err *err)
{
  const char *path = str_arg (args, "path");

  if (islet_fs_remove (ctx, id, path, json_is_true (json_object_get (args, "recursive")), err) < 0)
    return -1;
  *out = json_pack ("{s:s,s:b}", "path", path, "deleted", 1);
  return 0;
}

static int
fs_op_list (struct islet_ctx *ctx, const char *id, const json_t *args, json_t **out,
            struct islet_err *err)
{
  bool rec = json_is_true (json_object_get (args, "recursive"));
  const char *path = str_arg (args, "path");
  json_t *list = NULL;

  if (islet_fs_list (ctx, id, path, rec ? MCP_LIST_DEPTH_RECURSIVE : 1, &list, err) < 0)
    return -1;
  *out = json_pack ("{s:s,s:o}", "path", path, "entries", list);
  return 0;
}

static int
fs_op_info (struct islet_ctx *ctx, const char *id, const json_t *args, json_t **out,
            struct islet_err *err)
{
  return islet_fs_stat (ctx, id, str_arg (args, "path"), out, err);
}

static int
fs_op_mkdir (struct islet_ctx *ctx, const char *id, const json_t *args, json_t **out,
             struct islet_err *err)
{
  const char *path = str_arg (args, "path");

  if (islet_fs_mkdir (ctx, id, path, 0755, err) < 0)
    return -1;
  *out = json_pack ("{s:s,s:b}", "path", path, "created", 1);
  return 0;
}

static const struct fs_op fs_ops[] = {
  { "read", fs_op_read },   { "write", fs_op_write }, { "delete", fs_op_delete },
  { "list", fs_op_list },   { "info", fs_op_info },   { "mkdir", fs_op_mkdir },
};

static int
tool_file (struct mcp *m, const json_t *args, json_t **out, struct islet_err *err)
{
  const char *op = str_arg (args, "operation");
  struct islet_sandbox_info info;

  if (resolve (m, args, &info, err) < 0)
    return -1;
  for (size_t i = 0; i < sizeof fs_ops / sizeof fs_ops[0]; i++)
    if (strcmp (fs_ops[i].name, op) == 0)
      {
        if (fs_ops[i].fn (m->cli->ctx, info.id, args, out, err) < 0)
          return islet_wrap (err, "%s %s", op, str_arg (args, "path"));
        return 0;
      }
  return islet_fail (err, ISLET_E_INVALID, 0, "no file operation '%s'", op);
}

/* ---- git_operation: git run inside the sandbox ---- */

#define ASKPASS_SCRIPT                                                                           \
  "#!/bin/sh\n"                                                                                  \
  "case \"$1\" in Username*) printf '%s\\n' \"$ISLET_GIT_USERNAME\" ;;\n"                          \
  "*) printf '%s\\n' \"$ISLET_GIT_PASSWORD\" ;; esac\n"

/* Values that git would read as options are refused. */
static int
git_value (const json_t *args, const char *name, bool required, const char **out,
           struct islet_err *err)
{
  *out = str_arg (args, name);
  if (*out == NULL && required)
    return islet_fail (err, ISLET_E_INVALID, 0, "this git operation needs %s", name);
  if (*out && ((*out)[0] == '-' || (*out)[0] == '\0'))
    return islet_fail (err, ISLET_E_INVALID, 0, "%s must not be empty or start with '-'", name);
  return 0;
}

static int
tool_git (struct mcp *m, const json_t *args, json_t **out, struct islet_err *err)
{
  const char *op = str_arg (args, "operation"), *path, *url = NULL, *branch, *msg = NULL;
  const char *user = str_arg (args, "username"), *pass = str_arg (args, "password");
  cleanup_free char *askpass = NULL;
  cleanup_free char *name_cfg = NULL;
  cleanup_free char *email_cfg = NULL;
  cleanup_json json_t *env = json_object ();
  struct islet_sandbox_info info;
  const char *argv[64];
  size_t n = 0;
  json_t *files = json_object_get (args, "files"), *f;
  size_t i;
  int r;

  if (resolve (m, args, &info, err) < 0 || git_value (args, "path", false, &path, err) < 0
      || git_value (args, "branch", false, &branch, err) < 0)
    return -1;
  argv[n++] = "git";
  if (user || pass)
    {
      unsigned char rnd[6];
      if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "getrandom");
      askpass = islet_xasprintf ("/tmp/.islet-askpass-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
                                 rnd[2], rnd[3], rnd[4], rnd[5]);
      if (islet_fs_write (m->cli->ctx, info.id, askpass, ASKPASS_SCRIPT,
                          strlen (ASKPASS_SCRIPT), 0700, err) < 0)
        return -1;
      /* the secrets go in the environment of this one command: never on a
       * command line, never in .git/config */
      json_object_set_new (env, "GIT_ASKPASS", json_string (askpass));
      json_object_set_new (env, "GIT_TERMINAL_PROMPT", json_string ("0"));
      json_object_set_new (env, "ISLET_GIT_USERNAME", json_string (user ? user : ""));
      json_object_set_new (env, "ISLET_GIT_PASSWORD", json_string (pass ? pass : ""));
      argv[n++] = "-c";
      argv[n++] = "credential.helper=";
    }
  if (strcmp (op, "clone") == 0)
    {
      if (git_value (args, "url", true, &url, err) < 0)
        return -1;
      argv[n++] = "clone";
      if (branch)
        {
          argv[n++] = "--branch";
          argv[n++] = branch;
        }
      argv[n++] = "--";
      argv[n++] = url;
      if (path)
        argv[n++] = path;
    }
  else
    {
      argv[n++] = "-C";
      argv[n++] = path ? path : "/workspace";
      if (strcmp (op, "status") == 0)
        {
          argv[n++] = "status";
          argv[n++] = "--porcelain=v1";
          argv[n++] = "--branch";
        }
      else if (strcmp (op, "add") == 0)
        {
          argv[n++] = "add";
          if (!json_array_size (files))
            argv[n++] = "-A";
          else
            argv[n++] = "--";
          json_array_foreach (files, i, f)
          {
            if (n >= sizeof argv / sizeof argv[0] - 2)
              return islet_fail (err, ISLET_E_INVALID, 0, "at most %zu files at once",
                                 sizeof argv / sizeof argv[0] - 8);
            argv[n++] = json_string_value (f);
          }
        }
      else if (strcmp (op, "commit") == 0)
        {
          if (git_value (args, "message", true, &msg, err) < 0)
            return -1;
          name_cfg = islet_xasprintf ("user.name=%s",
                                      str_arg (args, "author") ? str_arg (args, "author") : "islet");
          email_cfg = islet_xasprintf ("user.email=%s", str_arg (args, "email")
                                                            ? str_arg (args, "email")
                                                            : "islet@localhost");
          argv[n++] = "-c";
          argv[n++] = name_cfg;
          argv[n++] = "-c";
          argv[n++] = email_cfg;
          argv[n++] = "commit";
          argv[n++] = "-m";
          argv[n++] = msg;
        }
      else if (strcmp (op, "push") == 0 || strcmp (op, "pull") == 0)
        {
          argv[n++] = op;
          if (branch)
            {
              argv[n++] = "origin";
              argv[n++] = branch;
            }
        }
      else if (strcmp (op, "branches") == 0)
        {
          argv[n++] = "branch";
          if (branch)
            {
              argv[n++] = "--";
              argv[n++] = branch;
            }
          else
            argv[n++] = "--list";
        }
      else if (strcmp (op, "checkout") == 0)
        {
          if (branch == NULL)
            return islet_fail (err, ISLET_E_INVALID, 0, "checkout needs branch");
          argv[n++] = "checkout";
          argv[n++] = branch;
          argv[n++] = "--";
        }
      else
        return islet_fail (err, ISLET_E_INVALID, 0, "no git operation '%s'", op);
    }
  argv[n] = NULL;
  r = run_in (m, info.id, (char *const *) argv, env, NULL, 0, out, err);
  if (askpass)
    {
      struct islet_err ignored;
      (void) !islet_fs_remove (m->cli->ctx, info.id, askpass, false, &ignored);
    }
  if (r == 0 && strcmp (op, "commit") == 0
      && json_integer_value (json_object_get (*out, "exit_code")) == 0)
    {
      /* the new commit's hash, from the repository itself */
      const char *rev[] = { "git", "-C", path ? path : "/workspace", "rev-parse", "HEAD", NULL };
      json_t *h = NULL;
      if (run_in (m, info.id, (char *const *) rev, NULL, NULL, 0, &h, err) == 0)
        {
          const char *text = json_string_value (json_object_get (h, "stdout"));
          if (text)
            json_object_set_new (*out, "commit", json_stringn (text, strcspn (text, "\n")));
        }
      json_decref (h);
    }
  if (r == 0)
    json_object_set_new (*out, "operation", json_string (op));
  return r;
}

/* ---- the tool table ---- */

static const char *const lang_choices[] = { "python", "javascript", "bash", NULL };
static const char *const fs_choices[] = { "read", "write", "delete", "list",
                                          "info", "mkdir", NULL };
static const char *const git_choices[] = { "clone", "status", "add", "commit", "push",
                                           "pull", "branches", "checkout", NULL };

#define ARG_SANDBOX(req)                                                                         \
  { "sandbox_id", ARG_STR, req, "the sandbox: its id, a unique id prefix or its name", NULL, NULL }
#define ARG_TIMEOUT                                                                              \
  { "timeout", ARG_NUM, false,                                                                   \
    "wall-clock limit in seconds (default: the sandbox's, 30 unless set at creation); the "    \
    "command is killed and timed_out is true when it is reached", NULL, NULL }
#define ARG_END { NULL, 0, false, NULL, NULL, NULL }

static const struct arg limit_args[] = {
  { "memory_mb", ARG_INT, false, "memory limit in MiB (default 1024)", NULL, NULL },
  { "cpus", ARG_NUM, false, "CPUs, may be fractional such as 0.5 (default 1)", NULL, NULL },
  { "disk_mb", ARG_INT, false, "disk space in MiB for files (default 3072)", NULL, NULL },
  { "timeout_s", ARG_INT, false, "default time limit of each command in seconds (default 30)",
    NULL, NULL },
  ARG_END,
};

static const struct arg create_args[] = {
  { "name", ARG_STR, false,
    "a unique name (letters, digits, '-'; also the hostname); default islet-<id>", NULL, NULL },
  { "language", ARG_STR, false,
    "a label for the main language, such as python; python3, node, bash and git are always "
    "installed", NULL, NULL },
  { "environment_vars", ARG_MAP, false,
    "environment variables for every command run in the sandbox", NULL, NULL },
  { "limits", ARG_OBJ, false, "resource limits", NULL, limit_args },
  ARG_END,
};

static const struct arg none_args[] = { ARG_END };
static const struct arg sandbox_args[] = { ARG_SANDBOX (true), ARG_END };

static const struct arg code_args[] = {
  { "code", ARG_STR, true, "the program's source text", NULL, NULL },
  { "language", ARG_STR, true, "its language", lang_choices, NULL },
  ARG_SANDBOX (false),
  ARG_TIMEOUT,
  ARG_END,
};

static const struct arg shell_args[] = {
  ARG_SANDBOX (true),
  { "command", ARG_STR, true, "a shell command line, run with bash -c", NULL, NULL },
  { "cwd", ARG_STR, false, "working directory (default /workspace)", NULL, NULL },
  { "env", ARG_MAP, false, "extra environment variables for this command", NULL, NULL },
  ARG_TIMEOUT,
  ARG_END,
};

static const struct arg file_args[] = {
  ARG_SANDBOX (true),
  { "operation", ARG_STR, true, "what to do", fs_choices, NULL },
  { "path", ARG_STR, true, "path inside the sandbox; relative paths are under /workspace", NULL,
    NULL },
  { "content", ARG_STR, false, "write: the file's new text", NULL, NULL },
  { "recursive", ARG_BOOL, false,
    "delete: remove a directory with everything in it; list: descend into subdirectories", NULL,
    NULL },
  ARG_END,
};

static const struct arg git_args[] = {
  ARG_SANDBOX (true),
  { "operation", ARG_STR, true, "what to do", git_choices, NULL },
  { "path", ARG_STR, false,
    "the repository's directory (default /workspace); clone: where to clone to", NULL, NULL },
  { "url", ARG_STR, false, "clone: the repository, a URL or a path inside the sandbox", NULL,
    NULL },
  { "branch", ARG_STR, false,
    "clone, push, pull: the branch; checkout: the branch to switch to; branches: a branch to "
    "create (without it, the branches are listed)", NULL, NULL },
  { "files", ARG_LIST, false, "add: the paths to stage (default: every change)", NULL, NULL },
  { "message", ARG_STR, false, "commit: the message", NULL, NULL },
  { "author", ARG_STR, false, "commit: the author's name (default islet)", NULL, NULL },
  { "email", ARG_STR, false, "commit: the author's email (default islet@localhost)", NULL, NULL },
  { "username", ARG_STR, false, "clone, push, pull: the user for an HTTPS remote", NULL, NULL },
  { "password", ARG_STR, false,
    "clone, push, pull: its password or token; it is given to git through the environment of "
    "that one command, never on a command line or in .git/config", NULL, NULL },
  ARG_END,
};

static const struct tool tools[] = {
  { "create_sandbox",
    "Create and start an isolated Linux sandbox that lives until deleted, and return its id. "
    "Files persist between commands. Use it when several steps must share files or state; "
    "for one-off code, execute_code without sandbox_id is simpler.",
    create_args, tool_create },
  { "list_sandboxes",
    "List every sandbox with its id, name, state (running or stopped) and limits.",
    none_args, tool_list },
  { "get_sandbox_info",
    "Show one sandbox's details: id, name, state, creation time, limits, language label and "
    "environment variables.",
    sandbox_args, tool_info },
  { "delete_sandbox",
    "Delete a sandbox for good: every process is killed and its files are removed.",
    sandbox_args, tool_delete },
  { "execute_code",
    "Run a program (python, javascript or bash) and return exit_code, stdout, stderr, wall_ms, "
    "cpu_ms, memory_peak_bytes, timed_out, oom_killed and truncated. With sandbox_id it runs in "
    "that sandbox (working directory /workspace); without it, in a fresh sandbox that is deleted "
    "afterwards. A non-zero exit_code is the program's own failure, not the tool's.",
    code_args, tool_execute_code },
  { "execute_shell",
    "Run a shell command line (bash -c) in a sandbox, for example to install files, run tests or "
    "use git, and return exit_code, stdout, stderr, timing and resource use. The network is "
    "loopback only.",
    shell_args, tool_execute_shell },
  { "file_operation",
    "Work with files inside a sandbox: read a file, write one (creating parent directories), "
    "delete, list a directory, get a path's info (size, mode, type, mtime) or make a directory.",
    file_args, tool_file },
  { "git_operation",
    "Use git inside a sandbox: clone, status, add, commit (returns the commit hash), push, "
    "pull, branches (list or create) and checkout. Returns git's exit_code, stdout and stderr. "
    "The network is loopback only, so remotes are paths inside the sandbox unless the host "
    "gives it more.",
    git_args, tool_git },
};

static json_t *
tools_list (void)
{
  json_t *arr = json_array ();

  for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
    json_array_append_new (arr, json_pack ("{s:s,s:s,s:o}", "name", tools[i].name, "description",
                                           tools[i].desc, "inputSchema",
                                           schema_of (tools[i].args)));
  return json_pack ("{s:o}", "tools", arr);
}

static json_t *
tool_result (json_t *structured, bool is_error)
{
  cleanup_free char *text = json_dumps (structured, JSON_INDENT (2) | JSON_PRESERVE_ORDER);

  return json_pack ("{s:[{s:s,s:s}],s:o,s:b}", "content", "type", "text", "text",
                    text ? text : "", "structuredContent", structured, "isError", is_error);
}

/* ---- prompts ---- */

struct prompt_arg {
  const char *name, *desc;
  bool required;
};

struct prompt {
  const char *name, *desc;
  struct prompt_arg args[3];
  /* {name} is replaced by the argument's value, or by the text after '|'
   * inside the braces ({name|default}) when it is not given */
  const char *text;
};

static const struct prompt prompts[] = {
  { "setup_dev_environment",
    "Create a sandbox for a project and prepare it for work.",
    { { "language", "main language: python, javascript or bash", true },
      { "project", "what the project is, in a few words", false } },
    "Set up a development sandbox for a {language} project ({project|no description given}). "
    "Use create_sandbox with language \"{language}\", then check the toolchain with "
    "execute_shell (for example its --version), create a project directory under /workspace "
    "with file_operation mkdir, and report the sandbox id and what is installed." },
  { "run_and_test",
    "Run code in a sandbox and check that it works.",
    { { "sandbox_id", "the sandbox to use", true },
      { "test_command", "the command that runs the tests", false } },
    "In sandbox {sandbox_id}, run the code and its tests with execute_shell "
    "(`{test_command|ls /workspace}`). Read stdout, stderr and exit_code; when something fails, "
    "read the files involved with file_operation, fix them, and run again until it passes. "
    "Report the final exit code and output." },
  { "clean_up",
    "Delete sandboxes that are no longer needed.",
    { { "keep", "names or ids of sandboxes to keep, comma-separated", false } },
    "Call list_sandboxes, then delete_sandbox for every sandbox except these: "
    "{keep|none}. Report what was deleted." },
};

static json_t *
prompts_list (void)
{
  json_t *arr = json_array ();

  for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++)
    {
      json_t *args = json_array ();
      for (const struct prompt_arg *a = prompts[i].args; a < prompts[i].args + 3 && a->name; a++)
        json_array_append_new (args, json_pack ("{s:s,s:s,s:b}", "name", a->name, "description",
                                                a->desc, "required", a->required));
      json_array_append_new (arr, json_pack ("{s:s,s:s,s:o}", "name", prompts[i].name,
                                             "description", prompts[i].desc, "arguments", args));
    }
  return json_pack ("{s:o}", "prompts", arr);
}

/* Expand {name} and {name|default} from args into a malloc'd string. */
static char *
prompt_expand (const char *t, const json_t *args)
{
  size_t cap = strlen (t) + 1, len = 0;
  char *out = islet_xmalloc (cap);

  while (*t)
    {
      const char *close = *t == '{' ? strchr (t, '}') : NULL;
      const char *piece = t, *bar;
      size_t n = 1;

      if (close != NULL)
        {
          char key[64];
          size_t klen;
          bar = memchr (t, '|', (size_t) (close - t));
          klen = (size_t) ((bar ? bar : close) - t - 1);
          (void) snprintf (key, sizeof key, "%.*s", (int) klen, t + 1);
          piece = json_string_value (json_object_get (args, key));
          n = piece ? strlen (piece) : 0;
          if (piece == NULL && bar != NULL)
            {
              piece = bar + 1;
              n = (size_t) (close - bar - 1);
            }
          t = close + 1;
        }
      else
        t++;
      if (len + n + 1 > cap)
        {
          cap = (len + n + 1) * 2;
          out = islet_xrealloc (out, cap);
        }
      if (n > 0)
        memcpy (out + len, piece, n);
      len += n;
    }
  out[len] = '\0';
  return out;
}

static int
prompt_get (const json_t *params, json_t **result, struct rpc_err *e)
{
  const char *name = str_arg (params, "name");
  const json_t *args = json_object_get (params, "arguments");

  if (name == NULL)
    return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: 'name' is required");
  if (args != NULL && !json_is_object (args))
    return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: 'arguments' must be an object");
  for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++)
    {
      const struct prompt *p = &prompts[i];
      cleanup_free char *text = NULL;

      if (strcmp (p->name, name) != 0)
        continue;
      for (const struct prompt_arg *a = p->args; a < p->args + 3 && a->name; a++)
        if (a->required && !json_is_string (json_object_get (args, a->name)))
          return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: prompt '%s' needs '%s'", name,
                           a->name);
      text = prompt_expand (p->text, args);
      *result = json_pack ("{s:s,s:[{s:s,s:{s:s,s:s}}]}", "description", p->desc, "messages",
                           "role", "user", "content", "type", "text", "text", text);
      return 0;
    }
  return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: no prompt '%s'", name);
}

/* ---- methods ---- */

static int
m_initialize (struct mcp *m, const json_t *params, json_t **result, struct rpc_err *e)
{
  const char *asked = str_arg (params, "protocolVersion");
  const char *version = protocol_versions[0];

  (void) m;
  (void) e;
  for (size_t i = 0; asked && i < sizeof protocol_versions / sizeof protocol_versions[0]; i++)
    if (strcmp (asked, protocol_versions[i]) == 0)
      version = protocol_versions[i];
  *result = json_pack (
      "{s:s,s:{s:{},s:{}},s:{s:s,s:s},s:s}", "protocolVersion", version, "capabilities", "tools",
      "prompts", "serverInfo", "name", "islet", "version", ISLET_CLI_VERSION, "instructions",
      "islet runs code in isolated Linux sandboxes (python3, node, bash and git are installed; "
      "loopback-only network). Use execute_code for one-off programs; create_sandbox, "
      "execute_shell and file_operation for multi-step work; delete_sandbox when done.");
  return 0;
}

static int
m_tools_call (struct mcp *m, const json_t *params, json_t **result, struct rpc_err *e)
{
  const char *name = str_arg (params, "name");
  const json_t *args = json_object_get (params, "arguments");
  cleanup_json json_t *empty = json_object ();

  if (name == NULL)
    return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: 'name' is required");
  if (args != NULL && !json_is_object (args))
    return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: 'arguments' must be an object");
  if (args == NULL)
    args = empty;
  for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
    {
      struct islet_err err = { 0 };
      json_t *out = NULL;

      if (strcmp (tools[i].name, name) != 0)
        continue;
      if (args_check (tools[i].args, args, "", e) < 0)
        return -1;
      if (tools[i].fn (m, args, &out, &err) < 0)
        {
          json_decref (out);
          fprintf (stderr, "islet mcp: %s: %s\n", name, err.msg);
          out = json_pack ("{s:{s:s,s:o}}", "error", "kind", islet_errkind_name (err.kind),
                           "message", islet_json_bytes (err.msg, strnlen (err.msg, sizeof err.msg)));
          *result = tool_result (out, true);
          return 0;
        }
      *result = tool_result (out, false);
      return 0;
    }
  return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: no tool '%s'", name);
}

static int
m_prompts_get (struct mcp *m, const json_t *params, json_t **result, struct rpc_err *e)
{
  (void) m;
  return prompt_get (params, result, e);
}

static json_t *
empty_result (void)
{
  return json_object ();
}

/* A method either computes its answer from the params (fn), or its answer
 * does not depend on them (fixed). */
static const struct method {
  const char *name;
  int (*fn) (struct mcp *m, const json_t *params, json_t **result, struct rpc_err *e);
  json_t *(*fixed) (void);
} methods[] = {
  { "initialize", m_initialize, NULL },   { "ping", NULL, empty_result },
  { "tools/list", NULL, tools_list },     { "tools/call", m_tools_call, NULL },
  { "prompts/list", NULL, prompts_list }, { "prompts/get", m_prompts_get, NULL },
};

/* ---- the JSON-RPC loop ---- */

static int
send_msg (json_t *msg)
{
  int r = msg ? json_dumpf (msg, stdout, JSON_COMPACT) : -1;

  json_decref (msg);
  if (r < 0 || putchar ('\n') == EOF || fflush (stdout) == EOF)
    return -1;
  return 0;
}

static int
send_error (const json_t *id, const struct rpc_err *e)
{
  return send_msg (json_pack ("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id",
                              id ? id : json_null (), "error", "code", e->code, "message", e->msg));
}

/* Handle one parsed message; returns -1 only when stdout is gone. */
static int
handle (struct mcp *m, const json_t *msg)
{
  const json_t *id = json_object_get (msg, "id");
  const json_t *params = json_object_get (msg, "params");
  const char *method = str_arg (msg, "method");
  struct rpc_err e = { 0 };
  json_t *result = NULL;
  bool notification = json_is_object (msg) && id == NULL;

  if (!json_is_object (msg))
    {
      rpc_fail (&e, RPC_INVALID_REQUEST, "invalid request: not a JSON object");
      return send_error (NULL, &e);
    }
  /* an answer to a request of ours: we send none, so there is nothing to match */
  if (method == NULL && id != NULL
      && (json_object_get (msg, "result") || json_object_get (msg, "error")))
    return 0;
  if (id != NULL && !json_is_string (id) && !json_is_integer (id))
    {
      rpc_fail (&e, RPC_INVALID_REQUEST, "invalid request: 'id' must be a string or integer");
      return send_error (NULL, &e);
    }
  if (method == NULL || strcmp (str_arg (msg, "jsonrpc") ?: "", "2.0") != 0)
    {
      if (notification)
        return 0;
      rpc_fail (&e, RPC_INVALID_REQUEST, "invalid request: needs \"jsonrpc\":\"2.0\" and a method");
      return send_error (id, &e);
    }
  if (notification)
    return 0; /* notifications/initialized, cancelled, ...: nothing to answer */
  if (params != NULL && !json_is_object (params))
    {
      rpc_fail (&e, RPC_INVALID_PARAMS, "invalid params: 'params' must be an object");
      return send_error (id, &e);
    }
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
    if (strcmp (methods[i].name, method) == 0)
      {
        if (methods[i].fixed != NULL)
          result = methods[i].fixed ();
        else if (methods[i].fn (m, params, &result, &e) < 0)
          return send_error (id, &e);
        return send_msg (json_pack ("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result));
      }
  rpc_fail (&e, RPC_METHOD_NOT_FOUND, "method not found: %s", method);
  return send_error (id, &e);
}

static int
serve (struct mcp *m)
{
  cleanup_free char *line = NULL;
  size_t cap = 0;
  ssize_t n;

  while (!mcp_stop && (n = getline (&line, &cap, stdin)) >= 0)
    {
      json_error_t jerr;
      json_t *msg;
      int r;

      if (strspn (line, " \t\r\n") == (size_t) n)
        continue;
      if ((size_t) n > MCP_LINE_MAX)
        {
          struct rpc_err e = { 0 };
          rpc_fail (&e, RPC_INVALID_REQUEST, "invalid request: longer than %u bytes", MCP_LINE_MAX);
          r = send_error (NULL, &e);
        }
      else if ((msg = json_loadb (line, (size_t) n, 0, &jerr)) == NULL)
        {
          struct rpc_err e = { 0 };
          rpc_fail (&e, RPC_PARSE_ERROR, "parse error: %s", jerr.text);
          r = send_error (NULL, &e);
        }
      else
        {
          r = handle (m, msg);
          json_decref (msg);
        }
      if (r < 0)
        {
          fprintf (stderr, "islet mcp: cannot write to stdout; stopping\n");
          return CLI_EXIT_FAILED;
        }
    }
  return CLI_EXIT_OK;
}

static const struct cli_opt mcp_opts[] = {
  { "json", 0, CLI_OPT_JSON, 0, NULL, "report a failure to start as a JSON object", 0 },
  { NULL, 0, 0, 0, NULL, NULL, 0 },
};

static const struct cli_spec mcp_spec = {
  .name = "mcp",
  .args = "",
  .about = "Serve the Model Context Protocol on stdin and stdout (newline-delimited JSON-RPC),\n"
           "for agents: tools to create, list, inspect and delete sandboxes, run code and\n"
           "shell commands and work with files, and prompts for common workflows.\n"
           "Logs go to stderr.  It ends at the end of stdin.",
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
  struct mcp m = { .cli = cli };
  int r;

  r = cli_parse (cli, &mcp_spec, argc, argv, NULL, &pos, &err);
  if (r > 0)
    return CLI_EXIT_OK;
  if (r < 0 || cli_ctx (cli, &err) == NULL)
    return cli_report (cli, &err);
  /* a client that goes away must not kill us with SIGPIPE before cleanup */
  signal (SIGPIPE, SIG_IGN);
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGHUP, &sa, NULL);
  fprintf (stderr, "islet mcp: serving on stdio, state in %s\n", cli->state_dir);
  r = serve (&m);
  fprintf (stderr, "islet mcp: %s\n", mcp_stop ? "stopped by a signal" : "end of input");
  return r;
}
