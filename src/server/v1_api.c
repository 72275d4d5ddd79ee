/* The one-shot API, for applications that just want "run this code":
 * POST /v1/execute runs code in a fresh sandbox (from the warm pool when the
 * limits are the defaults) and answers with its output, status and resource
 * use; the sandbox is gone before the answer.  GET /v1/status says what the
 * server is and has.
 *
 * An optional import policy for Python (config.allowed_imports) is checked
 * by Python's own `ast` module, run inside the same sandbox before the
 * code: a policy on top of the kernel's isolation, never instead of it. */
#include <math.h>
#include <string.h>

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

struct v1_job {
  const char *code, *language, *stdin_data;
  json_t *files, *allowed;
  struct islet_limits limits;
  double timeout_s;
};

/* A 400 with a message; -1, for `return bad (...)`. */
#define bad(out, ...) (reply_error ((out), 400, "BAD_REQUEST", __VA_ARGS__), -1)

/* The request into a job; -1 with a 400 in out. */
static int
parse_job (json_t *j, struct v1_job *job, struct resp *out)
{
  struct islet_limits def = ISLET_LIMITS_DEFAULT;
  json_t *code = json_object_get (j, "code"), *lang = json_object_get (j, "language");
  json_t *t = json_object_get (j, "timeout"), *in = json_object_get (j, "stdin");
  json_t *cfg = json_object_get (j, "config"), *v;
  struct islet_err err;

  memset (job, 0, sizeof *job);
  job->limits = def;
  job->language = "python";
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
      if ((v = json_object_get (cfg, "cpu_limit")) && !json_is_null (v))
        {
          if (!json_is_number (v) || json_number_value (v) <= 0)
            return bad (out, "%s must be a positive number of CPUs", "config.cpu_limit");
          job->limits.cpu_millis = (uint32_t) lround (json_number_value (v) * 1000);
        }
      if ((v = json_object_get (cfg, "memory_limit_mb")) && !json_is_null (v))
        {
          if (!json_is_integer (v) || json_integer_value (v) <= 0)
            return bad (out, "%s must be a positive integer", "config.memory_limit_mb");
          job->limits.memory_mb = (uint64_t) json_integer_value (v);
        }
      if (json_is_true (json_object_get (cfg, "enable_networking")))
        return bad (out, "%s: sandboxes have loopback networking only", "config.enable_networking");
      job->allowed = json_object_get (cfg, "allowed_imports");
      if (job->allowed && !json_is_null (job->allowed))
        {
          size_t i;
          json_array_foreach (job->allowed, i, v)
          if (!json_is_string (v) || strchr (json_string_value (v), ',') != NULL)
            return bad (out, "%s must be an array of module names", "config.allowed_imports");
          if (!json_is_array (job->allowed))
            return bad (out, "%s must be an array of module names", "config.allowed_imports");
          if (strcmp (job->language, "python") != 0)
            return bad (out, "%s applies to python only", "config.allowed_imports");
        }
      else
        job->allowed = NULL;
    }
  job->limits.timeout_s = (uint32_t) ceil (job->timeout_s);
  if (islet_limits_validate (&job->limits, &err) < 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s", err.msg);
      return -1;
    }
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
  struct islet_create_opts opts = { 0 };
  struct v1_job job;
  struct islet_err err;
  char id[ISLET_ID_LEN + 1];

  if (j == NULL || parse_job (j, &job, out) < 0)
    return;
  opts.limits = job.limits;
  if (islet_sandbox_create (r->srv->ctx, &opts, id, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", id);
  execute_in (r->srv->ctx, id, &job, out);
  if (islet_sandbox_destroy (r->srv->ctx, id, true, &err) < 0)
    fprintf (stderr, "isletd: remove the sandbox of /v1/execute %s: %s\n", id, err.msg);
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
                         "available", "version", ISLETD_VERSION, "active_sandboxes",
                         (json_int_t) running, "sandboxes", (json_int_t) n, "default_config",
                         "cpu_limit", d.cpu_millis / 1000.0, "memory_limit_mb",
                         (json_int_t) d.memory_mb, "disk_limit_mb", (json_int_t) d.disk_mb,
                         "timeout", (json_int_t) d.timeout_s, "enable_networking", 0, "languages",
                         "python", "javascript", "bash"));
}
