/* The MCP tools of sandboxes and commands (create, list, info, delete,
 * execute_code, execute_shell), and the tool table.  file_operation is in
 * files.c, git_operation in git.c.  Which sandboxes exist for the caller is
 * the host's to say; what happens inside one goes through the core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "islet/lang.h"

#define MCP_META_PATH "/etc/islet/mcp.json" /* a sandbox's language and environment */
#define MCP_META_MAX (256u << 10)

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

/* "K=V" strings of two objects of strings (b over a), NULL-terminated,
 * freed with islet_strv_free. */
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
      json_object_foreach ((json_t *) objs[o], k, x) if (json_is_string (x) && i < n) v[i++]
          = islet_xasprintf ("%s=%s", k, json_string_value (x));
    }
  return v;
}

static int
env_check (const json_t *env, struct islet_err *err)
{
  const char *k;
  json_t *x;

  json_object_foreach (
      (json_t *) env, k,
      x) if (k[0] == '\0'
             || strchr (k, '=')
                    != NULL) return islet_fail (err, ISLET_E_INVALID, 0,
                                                "environment: '%s' is not a variable name", k);
  return 0;
}

/* ---- the sandbox's MCP metadata: language label, environment, persistent ----
 * Kept inside the sandbox itself, so it lives and dies with it and nothing
 * is left in a state directory; it only adds to what the sandbox's own
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

int
sandbox_arg (const struct call *c, const json_t *args, struct islet_sandbox_info *info,
             struct islet_err *err)
{
  return c->h->ops->resolve (c->h->data, str_arg (args, "sandbox_id"), info, err);
}

int
run_in (const struct call *c, const char *id, char *const *argv, const json_t *env, const char *cwd,
        uint32_t timeout_ms, bool spooled, json_t **out, struct islet_err *err)
{
  const struct mcp_host_ops *ops = c->h->ops;
  struct islet_exec_result res = { 0 };
  cleanup_json json_t *meta = meta_read (c->h->ctx, id);
  char **envv = env_from (json_object_get (meta, "environment_vars"), env);
  struct islet_exec_req req = { .argv = argv, .env = envv, .cwd = cwd, .timeout_ms = timeout_ms };
  struct mcp_output o = { 0 };
  json_t *text[2] = { NULL, NULL };
  int r = env_check (env, err);

  spooled = spooled && ops->output_open != NULL;
  if (r == 0 && spooled && (r = ops->output_open (c->h->data, &o, err)) == 0)
    {
      req.on_output = o.fn;
      req.user = o.user;
      req.uncollected = true;
    }
  if (r == 0)
    r = islet_exec (c->h->ctx, id, &req, &res, err);
  if (req.uncollected && ops->output_close (c->h->data, &o, r == 0 ? text : NULL, err) < 0)
    r = -1;
  if (r == 0)
    {
      *out = spooled ? islet_exec_stats_json (&res) : islet_exec_json (&res);
      if (spooled)
        {
          json_object_set_new (*out, "stdout", text[0]);
          json_object_set_new (*out, "stderr", text[1]);
        }
      json_object_set_new (*out, "sandbox_id", json_string (id));
    }
  islet_exec_result_fini (&res);
  islet_strv_free (envv);
  return r;
}

/* ---- create_sandbox ---- */

static int
create_opts (const json_t *args, enum islet_net_mode net_default, struct mcp_create *mc,
             struct islet_err *err)
{
  const json_t *lim = json_object_get (args, "limits");

  *mc = (struct mcp_create){ .name = str_arg (args, "name"),
                             .image = str_arg (args, "image"),
                             .limits = ISLET_LIMITS_DEFAULT,
                             .language = str_arg (args, "language"),
                             .env = json_object_get (args, "environment_vars"),
                             .persistent = json_is_true (json_object_get (args, "persistent")) };
  if (islet_limits_take (lim, ISLET_FACE_MCP, &mc->limits, NULL, err) < 0)
    return islet_wrap (err, "limits");
  if (env_check (mc->env, err) < 0 || islet_limits_validate (&mc->limits, err) < 0)
    return -1;
  if (islet_net_ask_json (str_arg (args, "network"), json_object_get (args, "allow_list"),
                          net_default, &mc->net, err)
      < 0)
    return islet_wrap (err, "network");
  if (str_arg (args, "git_path") && !str_arg (args, "git_repo"))
    return islet_fail (err, ISLET_E_INVALID, 0, "git_path needs git_repo");
  return 0;
}

/* What a new sandbox needs before it is handed over: its metadata, and
 * the clone of git_repo.  Any failure is the create's. */
static int
create_fill (const struct call *c, const char *id, const struct mcp_create *mc, const json_t *args,
             json_t **git, struct islet_err *err)
{
  cleanup_json json_t *meta = json_pack ("{s:s?,s:O?,s:b}", "language", mc->language,
                                         "environment_vars", mc->env, "persistent", mc->persistent);
  cleanup_json json_t *clone = NULL;
  const char *repo = str_arg (args, "git_repo");

  if (meta_write (c->h->ctx, id, meta, err) < 0)
    return -1;
  if (repo == NULL)
    return 0;
  clone = json_pack ("{s:s,s:s,s:s}", "operation", "clone", "url", repo, "path",
                     str_arg (args, "git_path") ?: "/workspace");
  if (git_in (c, id, clone, true, false, git, err) < 0)
    return islet_wrap (err, "git_repo");
  if (json_integer_value (json_object_get (*git, "exit_code")) != 0)
    {
      const char *text = str_arg (*git, "stderr") ?: "";
      size_t n = strlen (text);
      while (n > 0 && text[n - 1] == '\n')
        n--;
      return islet_fail (err, ISLET_E_INVALID, 0, "git_repo: git clone of '%s' failed: %.*s", repo,
                         (int) (n > 400 ? 400 : n), text);
    }
  return 0;
}

static int
tool_create (const struct call *c, const json_t *args, json_t **out, struct islet_err *err)
{
  const struct mcp_host *h = c->h;
  cleanup_json json_t *git = NULL;
  struct islet_sandbox_info info;
  struct mcp_create mc;
  char id[ISLET_ID_LEN + 1];

  if (create_opts (args, h->net_default, &mc, err) < 0
      || h->ops->create (h->data, &mc, id, err) < 0)
    return -1;
  if (create_fill (c, id, &mc, args, &git, err) < 0
      || h->ops->resolve (h->data, id, &info, err) < 0)
    {
      struct islet_err rm_err;
      /* nothing half-made is left: the sandbox goes with the failure */
      if (h->ops->remove (h->data, id, &rm_err) < 0)
        fprintf (stderr, "%s: sandbox %s was not removed: %s\n", h->name, id, rm_err.msg);
      return -1;
    }
  if (!mc.persistent)
    session_remember (c->s, id);
  *out = islet_sandbox_json (&info);
  json_object_set_new (*out, "language", mc.language ? json_string (mc.language) : json_null ());
  json_object_set_new (*out, "environment_vars", mc.env ? json_deep_copy (mc.env) : json_object ());
  json_object_set_new (*out, "persistent", json_boolean (mc.persistent));
  if (git)
    json_object_set_new (*out, "git_repo",
                         json_pack ("{s:s,s:s}", "url", str_arg (args, "git_repo"), "path",
                                    str_arg (args, "git_path") ?: "/workspace"));
  return 0;
}

/* ---- list, info, delete ---- */

static int
tool_list (const struct call *c, const json_t *args, json_t **out, struct islet_err *err)
{
  cleanup_free struct islet_sandbox_info *list = NULL;
  json_t *arr;
  size_t n = 0;

  if (c->h->ops->list (c->h->data, &list, &n, err) < 0)
    return -1;
  arr = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (arr, islet_sandbox_json (&list[i]));
  *out = json_pack ("{s:o,s:I}", "sandboxes", arr, "count", (json_int_t) n);
  return 0;
}

static int
tool_info (const struct call *c, const json_t *args, json_t **out, struct islet_err *err)
{
  struct islet_sandbox_info info;
  cleanup_json json_t *meta = NULL;

  if (sandbox_arg (c, args, &info, err) < 0)
    return -1;
  *out = islet_sandbox_json (&info);
  meta = info.state == ISLET_SB_RUNNING ? meta_read (c->h->ctx, info.id) : json_object ();
  json_object_set (*out, "language", json_object_get (meta, "language") ?: json_null ());
  json_object_set (*out, "environment_vars",
                   json_object_get (meta, "environment_vars") ?: json_object ());
  json_object_set (*out, "persistent", json_object_get (meta, "persistent") ?: json_null ());
  return 0;
}

static int
tool_delete (const struct call *c, const json_t *args, json_t **out, struct islet_err *err)
{
  struct islet_sandbox_info info;

  if (sandbox_arg (c, args, &info, err) < 0 || c->h->ops->remove (c->h->data, info.id, err) < 0)
    return -1;
  *out = json_pack ("{s:s,s:s,s:b}", "id", info.id, "name", info.name, "deleted", 1);
  return 0;
}

/* ---- execute_code, execute_shell ---- */

/* execute_code with persistent: python in the sandbox's kept interpreter,
 * the answer in execute_code's shape, with the exception when it raised. */
static int
run_persistent (const struct call *c, const json_t *args, uint32_t timeout_ms, json_t **out,
                struct islet_err *err)
{
  const char *lang = str_arg (args, "language");
  struct islet_sandbox_info info;
  uint64_t t0 = islet_now_ns ();
  cleanup_json json_t *v1 = NULL;
  json_t *error;

  if (strcmp (lang, "python") != 0)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "persistent: the kept interpreter runs python, not %s", lang);
  if (str_arg (args, "sandbox_id") == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "persistent: the interpreter is kept in a sandbox: give sandbox_id "
                       "(create_sandbox first)");
  if (sandbox_arg (c, args, &info, err) < 0
      || c->h->ops->run_interp (c->h->data, info.id, str_arg (args, "code"),
                                timeout_ms ? timeout_ms / 1000.0 : info.limits.timeout_s, &v1, err)
             < 0)
    return -1;
  *out = json_pack (
      "{s:O,s:O,s:O,s:I,s:b,s:O,s:b,s:s}", "exit_code", json_object_get (v1, "exit_code"), "stdout",
      json_object_get (v1, "stdout"), "stderr", json_object_get (v1, "stderr"), "wall_ms",
      (json_int_t) ((islet_now_ns () - t0) / 1000000), "timed_out",
      strcmp (json_string_value (json_object_get (v1, "status")) ?: "", "timeout") == 0,
      "truncated", json_object_get (v1, "truncated"), "persistent", 1, "sandbox_id", info.id);
  if (*out == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "persistent: the interpreter's answer is malformed");
  error = json_object_get (v1, "error");
  if (json_is_object (error))
    json_object_set (*out, "error", error);
  return 0;
}

static int
tool_execute_code (const struct call *c, const json_t *args, json_t **out, struct islet_err *err)
{
  const struct mcp_create fresh = { .limits = ISLET_LIMITS_DEFAULT, .persistent = true };
  const char *lang = str_arg (args, "language"), *code = str_arg (args, "code");
  const struct mcp_host *h = c->h;
  struct islet_sandbox_info info;
  struct islet_err rm_err;
  const char *lv[ISLET_LANG_ARGV_MAX + 1];
  char **argv = (char **) lv;
  char id[ISLET_ID_LEN + 1];
  uint32_t timeout_ms;
  int r;

  if (timeout_arg (args, &timeout_ms, err) < 0)
    return -1;
  if (json_is_true (json_object_get (args, "persistent")))
    return run_persistent (c, args, timeout_ms, out, err);
  /* the code is one argument: it never passes through a shell on the host */
  if (islet_lang_argv (islet_lang_find (lang), ISLET_LANG_ARG, code, lv) == 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "language '%s' is not one of %s", lang,
                       islet_lang_list (ISLET_LANG_ARG));
  if (str_arg (args, "sandbox_id") != NULL)
    {
      if (sandbox_arg (c, args, &info, err) < 0)
        return -1;
      return run_in (c, info.id, argv, NULL, NULL, timeout_ms, true, out, err);
    }
  if (h->ops->create (h->data, &fresh, id, err) < 0)
    return -1;
  r = run_in (c, id, argv, NULL, NULL, timeout_ms, true, out, err);
  if (h->ops->remove (h->data, id, &rm_err) < 0)
    fprintf (stderr, "%s: sandbox %s was not removed: %s\n", h->name, id, rm_err.msg);
  else if (r == 0)
    json_object_set_new (*out, "sandbox_deleted", json_true ());
  return r;
}

static int
tool_execute_shell (const struct call *c, const json_t *args, json_t **out, struct islet_err *err)
{
  char *argv[] = { "bash", "-c", (char *) str_arg (args, "command"), NULL };
  struct islet_sandbox_info info;
  uint32_t timeout_ms;

  if (timeout_arg (args, &timeout_ms, err) < 0 || sandbox_arg (c, args, &info, err) < 0)
    return -1;
  return run_in (c, info.id, argv, json_object_get (args, "env"), str_arg (args, "cwd"), timeout_ms,
                 true, out, err);
}

/* ---- the tool table ---- */

/* execute_code's languages, from the language table, copied in before main */
static const char *lang_choices[ISLET_LANG_ARGV_MAX + 8];

__attribute__ ((constructor)) static void
lang_choices_fill (void)
{
  const char *const *names = islet_lang_names (ISLET_LANG_ARG);

  for (size_t i = 0; names[i] && i + 1 < sizeof lang_choices / sizeof lang_choices[0]; i++)
    lang_choices[i] = names[i];
}

#define ARG_TIMEOUT                                                                                \
  {                                                                                                \
    "timeout", ARG_NUM, false,                                                                     \
        "wall-clock limit in seconds (default: the sandbox's, 30 unless set at creation); the "    \
        "command is killed and timed_out is true when it is reached",                              \
        NULL, NULL, NULL, NULL                                                                     \
  }

/* create_sandbox's limits: those the limits table names for MCP, in its
 * units, made before main */
static struct arg limit_args[ISLET_NLIMITS + 1];
static char limit_descs[ISLET_NLIMITS][128];

__attribute__ ((constructor)) static void
limit_args_fill (void)
{
  const struct islet_limits dflt = ISLET_LIMITS_DEFAULT;
  size_t n = 0;

  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    {
      const struct islet_limit_def *d = &islet_limit_defs[i];
      const struct islet_limit_name *m = &d->face[ISLET_FACE_MCP];

      if (m->name == NULL)
        continue;
      snprintf (limit_descs[n], sizeof limit_descs[n], "%s (default %g)", m->desc,
                (double) islet_limit_get (&dflt, d) / m->per);
      limit_args[n] = (struct arg){ .name = m->name,
                                    .type = m->fraction ? ARG_NUM : ARG_INT,
                                    .desc = limit_descs[n] };
      n++;
    }
}

static const char *const net_choices[] = { "none", "all", "allow", NULL };

static const struct arg create_args[] = {
  { "name", ARG_STR, false,
    "a unique name (letters, digits, '-'); default: one is made from the id", NULL, NULL, NULL,
    NULL },
  { "language", ARG_STR, false,
    "a label for the main language, such as python; the default image has python3, node, "
    "bash and git",
    NULL, NULL, NULL, NULL },
  { "environment_vars", ARG_MAP, false,
    "environment variables for every command run in the sandbox", NULL, NULL, NULL, NULL },
  { "limits", ARG_OBJ, false, "resource limits", NULL, limit_args, NULL, NULL },
  { "persistent", ARG_BOOL, false,
    "true: the sandbox stays until delete_sandbox. false (the default): it is removed when "
    "this MCP session ends (stdio: when the client closes the server; HTTP: when the client "
    "ends its session), and over HTTP also once it has been idle for 15 minutes",
    NULL, NULL, NULL, NULL },
  { "git_repo", ARG_STR, false,
    "a git repository to clone at creation, by git inside the sandbox: a URL (which the "
    "sandbox's network must reach) or a path inside the sandbox, within the per-command time limit "
    "(limits.timeout_s). If the clone fails, no sandbox is made and the error says why",
    NULL, NULL, NULL, NULL },
  { "git_path", ARG_STR, false, "where git_repo is cloned to (default /workspace)", NULL, NULL,
    NULL, NULL },
  { "network", ARG_STR, false,
    "outbound network: none (loopback only), all (any public address; never the host, other "
    "sandboxes or private ranges) or allow (only allow_list). Default: the server's (none "
    "unless its operator chose otherwise)",
    net_choices, NULL, NULL, NULL },
  { "allow_list", ARG_LIST, false,
    "what the sandbox may reach: IPv4 CIDRs and domain names (example.com, or *.example.com for "
    "the names below it); given alone, network is allow",
    NULL, NULL, NULL, NULL },
  { "image", ARG_STR, false,
    "an OCI image already on this machine (put there with `islet image pull` or `islet image "
    "import`), by name or id; the sandbox's files are the image's and its Env and WorkingDir "
    "apply. Default: Debian with python3, node, bash and git",
    NULL, NULL, NULL, NULL },
  ARG_END,
};

static const struct arg none_args[] = { ARG_END };
static const struct arg sandbox_args[] = { ARG_SANDBOX (true), ARG_END };

static const struct arg code_args[] = {
  { "code", ARG_STR, true, "the program's source text", NULL, NULL, NULL, NULL },
  { "language", ARG_STR, true, "its language", lang_choices, NULL, NULL, NULL },
  ARG_SANDBOX (false),
  ARG_TIMEOUT,
  { "persistent", ARG_BOOL, false,
    "python with sandbox_id only: true runs the code in the sandbox's kept python interpreter, "
    "where variables, imports and the working directory stay from one such call to the next "
    "(as in a notebook); an exception comes back as error {name, value, traceback}. Needs "
    "isletd (its /mcp, or islet mcp --url)",
    NULL, NULL, NULL, NULL },
  ARG_END,
};

static const struct arg shell_args[] = {
  ARG_SANDBOX (true),
  { "command", ARG_STR, true, "a shell command line, run with bash -c", NULL, NULL, NULL, NULL },
  { "cwd", ARG_STR, false, "working directory (default /workspace)", NULL, NULL, NULL, NULL },
  { "env", ARG_MAP, false, "extra environment variables for this command", NULL, NULL,
    "environment_vars", NULL },
  ARG_TIMEOUT,
  ARG_END,
};

const struct tool mcp_tools[] = {
  { "create_sandbox",
    "Create and start an isolated Linux sandbox and return its id. Files persist between "
    "commands. Use it when several steps must share files or state; for one-off code, "
    "execute_code without sandbox_id is simpler. It can clone a git repository (git_repo) as "
    "it starts. Unless persistent is true, the sandbox is removed when this MCP session ends.",
    create_args, tool_create, false },
  { "list_sandboxes",
    "List every sandbox this client can use, with its id, name, state (running, paused or stopped) "
    "and limits.",
    none_args, tool_list, true },
  { "get_sandbox_info",
    "Show one sandbox's details: id, name, state, creation time, limits, language label, "
    "environment variables and whether it is persistent.",
    sandbox_args, tool_info, true },
  { "delete_sandbox",
    "Delete a sandbox for good: every process is killed and its files are removed.", sandbox_args,
    tool_delete, false },
  { "execute_code",
    "Run a program (python, javascript or bash) and return exit_code, stdout, stderr, wall_ms, "
    "cpu_ms, memory_peak_bytes, timed_out, oom_killed and truncated. With sandbox_id it runs in "
    "that sandbox (working directory /workspace); without it, in a fresh sandbox that is deleted "
    "afterwards. A non-zero exit_code is the program's own failure, not the tool's.",
    code_args, tool_execute_code, false },
  { "execute_shell",
    "Run a shell command line (bash -c) in a sandbox, for example to install files, run tests or "
    "use git, and return exit_code, stdout, stderr, timing and resource use. The network is "
    "loopback only unless the sandbox was created with network or allow_list.",
    shell_args, tool_execute_shell, false },
  { "file_operation",
    "Work with files inside a sandbox: read a file, write one (text), upload bytes given as "
    "base64 (written atomically), download a file's bytes as base64, delete, list a directory, "
    "get a path's info (size, mode, type, mtime) or make a directory. Parent directories are "
    "created on write and upload.",
    file_args, tool_file, false },
  { "git_operation",
    "Use git inside a sandbox: clone, status, add, commit (returns the commit hash), push, "
    "pull, branches (list or create) and checkout. Returns git's exit_code, stdout and stderr. "
    "Remotes are paths inside the sandbox unless it was created with a network that reaches "
    "them (network, allow_list).",
    git_args, tool_git, false },
};

const size_t mcp_tools_n = sizeof mcp_tools / sizeof mcp_tools[0];
