/* The one-shot API, for applications that just want "run this code":
 * POST /v1/execute runs code in a fresh sandbox (from the warm pool when the
 * limits are the defaults) and answers with its output, status and resource
 * use; the sandbox is gone before the answer.  GET /v1/status says what the
 * server is and has; GET/PUT /v1/config the defaults (persisted in
 * <state>/v1-config.json); POST /v1/test a real run; POST /v1/sandbox and
 * DELETE /v1/sandbox/{id} a kept sandbox, which /v1/execute then runs in
 * when given its sandbox_id.
 *
 * An optional import policy for Python (config.allowed_imports) is checked
 * by Python's own `ast` module, run inside the same sandbox before the
 * code: a policy on top of the kernel's isolation, never instead of it. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>

#include "islet/toolcmd.h"
#include "islet/util.h"
#include "server.h"
#include "toolbox.h"

#define V1_TIMEOUT_DEFAULT_S 30
#define V1_TIMEOUT_MAX_S 300
#define V1_FILES_MAX 100
#define V1_DIR "/tmp/.islet-v1"

/* Reads the program from argv[1], the allowed top-level modules from
 * argv[2] (comma-separated); prints one line per violation and exits 3 if
 * there is any.  Names that reach eval and friends are refused however
 * they are spelled: as a call, an attribute or a bare reference. */
static const char policy_checker[]
    = "import ast, sys\n"
      "src = open(sys.argv[1], encoding='utf-8').read()\n"
      "allowed = set(x for x in sys.argv[2].split(',') if x)\n"
      "banned = {'exec', 'eval', 'compile', 'open', '__import__', 'globals', 'locals',\n"
      "          'vars', 'getattr', 'setattr', 'delattr', '__builtins__', 'breakpoint'}\n"
      "try:\n"
      "    tree = ast.parse(src)\n"
      "except SyntaxError as e:\n"
      "    print('line %s: syntax error: %s' % (e.lineno, e.msg)); sys.exit(3)\n"
      "bad = []\n"
      "for node in ast.walk(tree):\n"
      "    if isinstance(node, ast.Import):\n"
      "        for a in node.names:\n"
      "            if a.name.split('.')[0] not in allowed:\n"
      "                bad.append((node.lineno, 'import of %s is not allowed' % a.name))\n"
      "    elif isinstance(node, ast.ImportFrom):\n"
      "        m = (node.module or '').split('.')[0]\n"
      "        if node.level or m not in allowed:\n"
      "            bad.append((node.lineno, 'import from %s is not allowed' % ('.' * node.level + (node.module or ''))))\n"
      "    elif isinstance(node, ast.Name) and node.id in banned:\n"
      "        bad.append((node.lineno, 'use of %s is not allowed' % node.id))\n"
      "    elif isinstance(node, ast.Attribute) and node.attr in banned:\n"
      "        bad.append((node.lineno, 'use of .%s is not allowed' % node.attr))\n"
      "    elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in banned:\n"
      "        bad.append((node.lineno, 'the name %r is not allowed' % node.value))\n"
      "for line, what in sorted(bad):\n"
      "    print('line %d: %s' % (line, what))\n"
      "sys.exit(3 if bad else 0)\n";

/* A 400 with a message; -1, for `return bad (...)`. */
#define bad(out, ...) (reply_error ((out), 400, "BAD_REQUEST", __VA_ARGS__), -1)

/* ---- defaults (GET/PUT /v1/config) ---- */

static char *
config_path (const struct srv *srv)
{
  return islet_xasprintf ("%s/v1-config.json", srv->state_dir);
}

/* The defaults: the stored ones over the core's.  Never NULL. */
static json_t *
config_load (const struct srv *srv)
{
  struct islet_limits d = ISLET_LIMITS_DEFAULT;
  cleanup_free char *path = config_path (srv);
  cleanup_free char *text = NULL;
  json_t *cfg = json_pack ("{s:f,s:I,s:I,s:n}", "cpu_limit", d.cpu_millis / 1000.0,
                           "memory_limit_mb", (json_int_t) d.memory_mb, "timeout",
                           (json_int_t) V1_TIMEOUT_DEFAULT_S, "allowed_imports");
  struct islet_err ignored;

  if (islet_read_file_at (AT_FDCWD, path, 1 << 20, &text, NULL, &ignored) == 0)
    {
      json_t *stored = json_loads (text, 0, NULL);
      if (json_is_object (stored))
        json_object_update_existing (cfg, stored);
      json_decref (stored);
    }
  return cfg;
}

/* Check the config fields present in c (an object); -1 with a 400. */
static int
config_check (json_t *c, bool policy_ok, struct resp *out)
{
  json_t *v;
  size_t i;

  if ((v = json_object_get (c, "cpu_limit")) && !json_is_null (v)
      && (!json_is_number (v) || json_number_value (v) <= 0))
    return bad (out, "%s must be a positive number of CPUs", "config.cpu_limit");
  if ((v = json_object_get (c, "memory_limit_mb")) && !json_is_null (v)
      && (!json_is_integer (v) || json_integer_value (v) <= 0))
    return bad (out, "%s must be a positive integer", "config.memory_limit_mb");
  if ((v = json_object_get (c, "timeout")) && !json_is_null (v)
      && (!json_is_number (v) || json_number_value (v) <= 0
          || json_number_value (v) > V1_TIMEOUT_MAX_S))
    return bad (out, "%s must be a number of seconds, above 0 and at most 300", "timeout");
  if (json_is_true (json_object_get (c, "enable_networking")))
    return bad (out, "%s: sandboxes have loopback networking only", "config.enable_networking");
  if ((v = json_object_get (c, "allowed_imports")) && !json_is_null (v))
    {
      json_t *m;
      if (!json_is_array (v))
        return bad (out, "%s must be an array of module names", "config.allowed_imports");
      json_array_foreach (v, i, m)
      if (!json_is_string (m) || json_string_length (m) == 0 || strchr (json_string_value (m), ','))
        return bad (out, "%s must be an array of module names", "config.allowed_imports");
      if (!policy_ok)
        return bad (out, "%s applies to python only", "config.allowed_imports");
    }
  return 0;
}

void
v1_config_get (struct req *r, struct resp *out)
{
  reply_json (out, 200, config_load (r->srv));
}

void
v1_config_put (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_json json_t *cfg = NULL;
  cleanup_free char *path = config_path (r->srv);
  cleanup_free char *text = NULL;
  struct islet_limits l = ISLET_LIMITS_DEFAULT;
  struct islet_err err;
  const char *key;
  json_t *v;

  if (j == NULL || config_check (j, true, out) < 0)
    return;
  json_object_foreach (j, key, v)
  if (strcmp (key, "cpu_limit") != 0 && strcmp (key, "memory_limit_mb") != 0
      && strcmp (key, "timeout") != 0 && strcmp (key, "allowed_imports") != 0)
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "unknown field '%s' (cpu_limit, memory_limit_mb, timeout, allowed_imports)",
                   key);
      return;
    }
  cfg = config_load (r->srv);
  json_object_update (cfg, j);
  l.cpu_millis = (uint32_t) lround (json_number_value (json_object_get (cfg, "cpu_limit")) * 1000);
  l.memory_mb = (uint64_t) json_integer_value (json_object_get (cfg, "memory_limit_mb"));
  if (islet_limits_validate (&l, &err) < 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s", err.msg);
      return;
    }
  text = json_dumps (cfg, JSON_INDENT (2));
  if (islet_write_file_atomic (path, text, strlen (text), 0600, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  reply_json (out, 200, json_incref (cfg));
}

struct v1_job {
  const char *code, *language, *stdin_data;
  json_t *files, *allowed;
  struct islet_limits limits;
  double timeout_s;
};


/* The request into a job; -1 with a 400 in out. */
static int
parse_job (const struct srv *srv, json_t *j, struct v1_job *job, struct resp *out)
{
  struct islet_limits def = ISLET_LIMITS_DEFAULT;
  cleanup_json json_t *defaults = config_load (srv);
  json_t *code = json_object_get (j, "code"), *lang = json_object_get (j, "language");
  json_t *t = json_object_get (j, "timeout"), *in = json_object_get (j, "stdin");
  json_t *cfg = json_object_get (j, "config"), *v;
  struct islet_err err;

  memset (job, 0, sizeof *job);
  job->limits = def;
  job->language = "python";
  job->timeout_s = json_number_value (json_object_get (defaults, "timeout"));
  if (job->timeout_s <= 0)
    job->timeout_s = V1_TIMEOUT_DEFAULT_S;
  if (!json_is_string (code))
    return bad (out, "%s must be a string", "code");
  job->code = json_string_value (code);
  if (lang && !json_is_null (lang))
    {
      if (!json_is_string (lang))
        return bad (out, "%s must be a string", "language");
      job->language = json_string_value (lang);
      if (strcmp (job->language, "python") != 0 && strcmp (job->language, "javascript") != 0
          && strcmp (job->language, "bash") != 0)
        return bad (out, "language '%s' is not one of python, javascript, bash", job->language);
    }
  if (t && !json_is_null (t))
    {
      if (!json_is_number (t) || json_number_value (t) <= 0 || json_number_value (t) > V1_TIMEOUT_MAX_S)
        return bad (out, "%s must be a number of seconds, above 0 and at most 300", "timeout");
      job->timeout_s = json_number_value (t);
    }
  if (in && !json_is_null (in))
    {
      if (!json_is_string (in))
        return bad (out, "%s must be a string", "stdin");
      job->stdin_data = json_string_value (in);
    }
  job->files = json_object_get (j, "files");
  if (job->files && !json_is_null (job->files)
      && (!json_is_object (job->files) || json_object_size (job->files) > V1_FILES_MAX))
    return bad (out, "%s must be an object of at most 100 path: content pairs", "files");
  if (cfg && !json_is_null (cfg))
    {
      if (!json_is_object (cfg))
        return bad (out, "%s must be an object", "config");
      if (config_check (cfg, strcmp (job->language, "python") == 0, out) < 0)
        return -1;
      json_object_update (defaults, cfg); /* the request's over the defaults */
    }
  if ((v = json_object_get (defaults, "cpu_limit")) && json_is_number (v))
    job->limits.cpu_millis = (uint32_t) lround (json_number_value (v) * 1000);
  if ((v = json_object_get (defaults, "memory_limit_mb")) && json_is_integer (v))
    job->limits.memory_mb = (uint64_t) json_integer_value (v);
  job->limits.timeout_s = (uint32_t) ceil (job->timeout_s);
  if (islet_limits_validate (&job->limits, &err) < 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s", err.msg);
      return -1;
    }
  /* the policy asked for, or the default one; held by the job */
  v = json_object_get (defaults, "allowed_imports");
  job->allowed = json_is_array (v) && strcmp (job->language, "python") == 0 ? json_incref (v)
                                                                            : NULL;
  return 0;
}

static int
put_file (struct islet_ctx *ctx, const char *id, const char *path, const char *text,
          struct islet_err *err)
{
  return islet_fs_write (ctx, id, path, text, strlen (text), 0644, err);
}

static int
run (struct islet_ctx *ctx, const char *id, char *const *argv, const char *in,
     double timeout_s, struct islet_exec_result *res, struct islet_err *err)
{
  struct islet_exec_req x = {
    .argv = argv,
    .stdin_data = in,
    .stdin_len = in ? strlen (in) : 0,
    .timeout_ms = (uint32_t) (timeout_s * 1000),
  };
  return islet_exec (ctx, id, &x, res, err);
}

static json_t *
result_json (const struct islet_exec_result *res, const char *status, const char *id,
             const char *errout_override)
{
  double wall = (double) res->wall_ms;
  return json_pack ("{s:i,s:o,s:o,s:f,s:s,s:{s:f,s:f},s:{s:s,s:s}}", "exit_code", res->exit_code,
                    "stdout", tb_json_text (res->out, res->out_len), "stderr",
                    errout_override ? json_string (errout_override)
                                    : tb_json_text (res->errout, res->err_len),
                    "execution_time", wall / 1000.0, "status", status, "resource_usage",
                    "cpu_usage_percent", wall > 0 ? 100.0 * (double) res->cpu_ms / wall : 0.0,
                    "memory_usage_mb", (double) res->memory_peak_bytes / (1024.0 * 1024.0),
                    "metadata", "sandbox_type", "islet", "sandbox_id", id);
}

/* Everything that happens in the sandbox; the caller destroys it. */
static void
execute_in (struct islet_ctx *ctx, const char *id, const struct v1_job *job, struct resp *out)
{
  static const struct { const char *lang, *file, *prog; } progs[] = {
    { "python", V1_DIR "/main.py", "python3" },
    { "javascript", V1_DIR "/main.js", "node" },
    { "bash", V1_DIR "/main.sh", "bash" },
  };
  struct islet_exec_result res = { 0 };
  struct islet_err err;
  const char *key, *file = NULL, *prog = NULL;
  json_t *v;

  for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++)
    if (strcmp (job->language, progs[i].lang) == 0)
      {
        file = progs[i].file;
        prog = progs[i].prog;
      }
  json_object_foreach (job->files, key, v)
  {
    cleanup_free char *path = key[0] == '/' ? islet_xstrdup (key)
                                            : islet_xasprintf ("/workspace/%s", key);
    if (!json_is_string (v))
      {
        reply_error (out, 400, "BAD_REQUEST", "files['%s'] must be a string", key);
        return;
      }
    if (put_file (ctx, id, path, json_string_value (v), &err) < 0)
      {
        reply_islet_err (out, &err, false);
        return;
      }
  }
  if (put_file (ctx, id, file, job->code, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  if (job->allowed)
    {
      cleanup_free char *list = islet_xstrdup ("");
      size_t i;
      char *argv[] = { (char *) "python3", (char *) "-I", (char *) V1_DIR "/policy.py",
                       (char *) file, NULL, NULL };
      json_array_foreach (job->allowed, i, v)
      {
        char *next = islet_xasprintf ("%s%s%s", list, i ? "," : "", json_string_value (v));
        free (list);
        list = next;
      }
      argv[4] = list;
      if (put_file (ctx, id, V1_DIR "/policy.py", policy_checker, &err) < 0
          || run (ctx, id, argv, NULL, V1_TIMEOUT_DEFAULT_S, &res, &err) < 0)
        {
          reply_islet_err (out, &err, false);
          return;
        }
      if (res.exit_code != 0)
        {
          /* the violations, one per line, instead of a run */
          cleanup_free char *why = islet_xasprintf ("import policy: the code was not run:\n%.*s",
                                                    (int) res.out_len, res.out ? res.out : "");
          res.exit_code = 1;
          res.out_len = 0;
          reply_json (out, 200, result_json (&res, "error", id, why));
          islet_exec_result_fini (&res);
          return;
        }
      islet_exec_result_fini (&res);
      memset (&res, 0, sizeof res);
    }
  {
    char *argv[] = { (char *) prog, (char *) file, NULL };
    const char *status;

    if (run (ctx, id, argv, job->stdin_data, job->timeout_s, &res, &err) < 0)
      {
        reply_islet_err (out, &err, false);
        return;
      }
    status = res.timed_out    ? "timeout"
             : res.oom_killed ? "oom"
             : res.error[0]   ? "error"
                              : "completed";
    reply_json (out, 200, result_json (&res, status, id, res.error[0] ? res.error : NULL));
    snprintf (out->note, sizeof out->note, "%s, exit %d", status, res.exit_code);
    islet_exec_result_fini (&res);
  }
}

void
v1_execute (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_sb struct sb_ref sb = { 0 };
  struct owner k = req_owner (r);
  struct v1_job job;
  struct islet_err err;
  json_t *kept;
  char id[ISLET_ID_LEN + 1];

  if (j == NULL || parse_job (r->srv, j, &job, out) < 0)
    return;
  kept = json_object_get (j, "sandbox_id");
  if (kept && !json_is_null (kept))
    {
      /* a kept sandbox (POST /v1/sandbox) of this key: run in it, keep it */
      if (!json_is_string (kept))
        (void) bad (out, "%s must be a string", "sandbox_id");
      else if (json_object_get (j, "config") && !json_is_null (json_object_get (j, "config")))
        (void) bad (out, "%s: a kept sandbox has the limits it was made with", "config");
      else if (sb_open (r, json_string_value (kept), &sb, out) == 0)
        {
          if (sb.info.state != ISLET_SB_RUNNING)
            reply_error (out, 409, "CONFLICT", "sandbox '%s' is not started",
                         json_string_value (kept));
          else
            execute_in (sb.ctx, sb.info.id, &job, out);
        }
      json_decref (job.allowed);
      return;
    }
  if (owned_scratch_begin (&k, &job.limits, id, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      json_decref (job.allowed);
      return;
    }
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", id);
  execute_in (r->srv->ctx, id, &job, out);
  owned_scratch_end (&k, id);
  json_decref (job.allowed);
}

/* A real run, end to end: a sandbox, python, the answer checked. */
void
v1_test (struct req *r, struct resp *out)
{
  struct owner k = req_owner (r);
  struct v1_job job = { .code = "print(sum(range(10)))", .language = "python",
                        .limits = ISLET_LIMITS_DEFAULT, .timeout_s = V1_TIMEOUT_DEFAULT_S };
  cleanup_json json_t *res = NULL;
  struct islet_err err;
  char id[ISLET_ID_LEN + 1];
  uint64_t t0 = islet_now_ns ();
  const char *got;

  if (owned_scratch_begin (&k, &job.limits, id, &err) < 0)
    {
      reply_json (out, 200,
                  json_pack ("{s:b,s:s,s:s}", "ok", 0, "stage", "create", "error", err.msg));
      return;
    }
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", id);
  execute_in (r->srv->ctx, id, &job, out);
  owned_scratch_end (&k, id);
  res = out->body ? json_loadb (out->body, out->len, 0, NULL) : NULL;
  got = json_string_value (json_object_get (res, "stdout"));
  free (out->body);
  out->body = NULL;
  reply_json (out, 200,
              json_pack ("{s:b,s:s,s:s,s:f,s:O*}", "ok", got && strcmp (got, "45\n") == 0,
                         "expected", "45\n", "got", got ? got : "", "total_time",
                         (double) (islet_now_ns () - t0) / 1e9, "result", res));
}

/* POST /v1/sandbox {language, config}: a sandbox that lives until DELETE
 * /v1/sandbox/{id}, owned by the key like any other (it is a Daytona
 * sandbox too, with its language label). */
void
v1_sandbox_create (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_json json_t *defaults = config_load (r->srv);
  cleanup_owned struct owned o = { 0 };
  struct owner k = req_owner (r);
  struct owned_spec spec = { .limits = ISLET_LIMITS_DEFAULT, .auto_delete = -1 };
  struct islet_err err;
  const char *lang = "python";
  json_t *cfg, *v;

  if (j == NULL)
    return;
  if ((v = json_object_get (j, "language")) && !json_is_null (v))
    {
      lang = json_string_value (v);
      if (lang == NULL
          || (strcmp (lang, "python") != 0 && strcmp (lang, "javascript") != 0
              && strcmp (lang, "bash") != 0))
        {
          (void) bad (out, "%s must be one of python, javascript, bash", "language");
          return;
        }
    }
  cfg = json_object_get (j, "config");
  if (cfg && !json_is_null (cfg))
    {
      if (!json_is_object (cfg))
        {
          (void) bad (out, "%s must be an object", "config");
          return;
        }
      if (config_check (cfg, true, out) < 0)
        return;
      json_object_update (defaults, cfg);
    }
  if ((v = json_object_get (defaults, "cpu_limit")) && json_is_number (v))
    spec.limits.cpu_millis = (uint32_t) lround (json_number_value (v) * 1000);
  if ((v = json_object_get (defaults, "memory_limit_mb")) && json_is_integer (v))
    spec.limits.memory_mb = (uint64_t) json_integer_value (v);
  spec.language = lang;
  if (owned_create (&k, &spec, &o, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", o.info.id);
  reply_json (out, 200,
              json_pack ("{s:s,s:s,s:s}", "sandbox_id", o.info.id, "state",
                         o.info.state == ISLET_SB_RUNNING ? "started" : "stopped", "language",
                         lang));
}

void
v1_status (struct req *r, struct resp *out)
{
  cleanup_free struct islet_sandbox_info *all = NULL;
  struct islet_limits d = ISLET_LIMITS_DEFAULT;
  struct islet_err err;
  size_t n = 0, running = 0;

  if (islet_sandbox_list (r->srv->ctx, &all, &n, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  for (size_t i = 0; i < n; i++)
    running += all[i].state == ISLET_SB_RUNNING;
  reply_json (out, 200,
              json_pack ("{s:s,s:s,s:I,s:I,s:{s:f,s:I,s:I,s:I,s:b},s:[s,s,s]}", "status",
                         "available", "version", ISLET_VERSION, "active_sandboxes",
                         (json_int_t) running, "sandboxes", (json_int_t) n, "default_config",
                         "cpu_limit", d.cpu_millis / 1000.0, "memory_limit_mb",
                         (json_int_t) d.memory_mb, "disk_limit_mb", (json_int_t) d.disk_mb,
                         "timeout", (json_int_t) d.timeout_s, "enable_networking", 0, "languages",
                         "python", "javascript", "bash"));
}

/* POST /v1/tool {sandbox_id, text, workspace_only}: every command a model
 * wrote in text (include/islet/toolcmd.h), run in one of the key's
 * sandboxes, in order; each result carries its own error. */
void
v1_tool (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_sb struct sb_ref sb = { 0 };
  struct islet_toolcmd *cmds = NULL;
  json_t *sid, *text, *ws, *results;
  size_t n = 0, failures = 0;

  if (j == NULL)
    return;
  sid = json_object_get (j, "sandbox_id");
  text = json_object_get (j, "text");
  ws = json_object_get (j, "workspace_only");
  if (!json_is_string (sid) || !json_is_string (text))
    {
      (void) bad (out, "%s", "sandbox_id and text must be strings");
      return;
    }
  if (ws && !json_is_boolean (ws))
    {
      (void) bad (out, "%s", "workspace_only must be true or false");
      return;
    }
  islet_toolcmd_parse (json_string_value (text), json_string_length (text), &cmds, &n);
  if (n == 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "no command in the text; the forms are:\n%s",
                   islet_toolcmd_forms);
      return;
    }
  if (tb_open_ref (r, json_string_value (sid), &sb, out) < 0)
    {
      islet_toolcmd_free (cmds, n);
      return;
    }
  results = json_array ();
  for (size_t i = 0; i < n; i++)
    {
      json_t *one = islet_toolcmd_run (sb.ctx, sb.info.id, &cmds[i],
                                       json_is_true (ws) ? ISLET_TC_WORKSPACE_ONLY : 0);
      failures += !json_is_true (json_object_get (one, "ok"));
      json_array_append_new (results, one);
    }
  islet_toolcmd_free (cmds, n);
  snprintf (out->note, sizeof out->note, "%zu commands, %zu failed", n, failures);
  reply_json (out, 200,
              json_pack ("{s:s,s:o,s:I,s:I}", "sandbox_id", sb.info.id, "results", results,
                         "commands", (json_int_t) n, "failed", (json_int_t) failures));
}
