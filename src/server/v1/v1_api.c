/* The one-shot API, for applications that just want "run this code":
 * POST /v1/execute runs code in a fresh sandbox (from the core's warm pool
 * when one is set and the limits are the defaults) and answers with its output,
 * status and resource use.  The sandbox serves that request only: it is
 * destroyed before the answer, or, with isletd --v1-pool, taken from
 * sandboxes made ahead and destroyed right after the answer
 * (daemon/v1pool.c).  GET /v1/status says what the
 * server is and what the caller has; GET/PUT /v1/config the caller's
 * defaults (each key its own, in the store; v1_config.c); POST /v1/test a
 * real run; POST /v1/sandbox and DELETE /v1/sandbox/{id} a kept sandbox,
 * which /v1/execute then runs in when given its sandbox_id.
 *
 * An optional import policy for Python (v1_policy.c): a syntax check first,
 * then the code under an audit hook; a policy on top of the kernel's
 * isolation, never instead of it. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "islet/lang.h"
#include "islet/toolcmd.h"
#include "islet/util.h"
#include "server.h"
#include "toolbox.h"
#include "v1.h"

#define V1_FILES_MAX 100

/* A 400 with a message; -1, for `return bad (...)`. */
#define bad(out, ...) (reply_error ((out), 400, "BAD_REQUEST", __VA_ARGS__), -1)

/* temp_storage_mb asked for where the sandbox's disk is not limited */
/* A sandbox's state in /v1's words (Daytona's): started, paused, stopped. */
static const char *
v1_state_word (enum islet_sandbox_state st)
{
  static const char *const words[] = { [ISLET_SB_STOPPED] = "stopped",
                                       [ISLET_SB_RUNNING] = "started",
                                       [ISLET_SB_BROKEN] = "error",
                                       [ISLET_SB_PAUSED] = "paused" };

  return (unsigned) st < sizeof words / sizeof words[0] ? words[st] : "error";
}

static int
storage_refused (struct resp *out)
{
  return bad (out, "config.temp_storage_mb: this host cannot limit a sandbox's disk (%s)",
              "no btrfs pool; see docs/ARCHITECTURE.md, Disk");
}

/* ---- the key's defaults (GET/PUT /v1/config) ---- */

void
v1_config_get (struct req *r, struct resp *out)
{
  cleanup_json json_t *cfg = v1_config_load (r->srv, r->key_id, out);

  if (cfg)
    reply_json (out, 200, v1_config_view (r->srv, cfg));
}

void
v1_config_put (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_json json_t *cfg = NULL;

  if (j == NULL || (cfg = v1_config_load (r->srv, r->key_id, out)) == NULL
      || v1_config_merge (cfg, j, true, out) < 0
      || v1_config_store (r->srv, r->key_id, cfg, out) < 0)
    return;
  reply_json (out, 200, v1_config_view (r->srv, cfg));
}

struct v1_job
{
  const char *code, *language, *stdin_data;
  json_t *files;
  struct v1_settings set;
};

/* A NULL-terminated list of names as a JSON array. */
static json_t *
names_json (const char *const *names)
{
  json_t *a = json_array ();

  for (size_t i = 0; names[i]; i++)
    json_array_append_new (a, json_string (names[i]));
  return a;
}

/* The languages of /v1: those the language table can run from a file. */
static bool
language_known (const char *l)
{
  return islet_lang_can (islet_lang_find (l), ISLET_LANG_FILE);
}

/* The run's own timeout over its config's: the same field, given twice
 * only if the values agree.  -1 with a 400. */
static int
timeout_over (json_t *j, json_t *cfg_in, json_t *cfg, struct resp *out)
{
  json_t *t = json_object_get (j, "timeout"), *c;

  if (t == NULL || json_is_null (t))
    return 0;
  if (!json_is_number (t) || json_number_value (t) <= 0 || json_number_value (t) > V1_TIMEOUT_MAX_S)
    return bad (out, "%s must be a number of seconds, above 0 and at most %d", "timeout",
                V1_TIMEOUT_MAX_S);
  c = json_object_get (cfg_in, "execution_timeout");
  if (c == NULL)
    c = json_object_get (cfg_in, "timeout");
  if (c && !json_is_null (c) && json_number_value (c) != json_number_value (t))
    return bad (out, "timeout and config.execution_timeout differ: give one");
  json_object_set (cfg, "execution_timeout", t);
  return 0;
}

/* The request into a job, under the key's defaults; -1 with a 400 in out. */
static int
parse_job (struct req *r, json_t *j, struct v1_job *job, struct resp *out)
{
  cleanup_json json_t *cfg = v1_config_load (r->srv, r->key_id, out);
  json_t *code = json_object_get (j, "code"), *lang = json_object_get (j, "language");
  json_t *in = json_object_get (j, "stdin"), *c = json_object_get (j, "config");

  memset (job, 0, sizeof *job);
  job->language = "python";
  if (cfg == NULL)
    return -1;
  if (!json_is_string (code))
    return bad (out, "%s must be a string", "code");
  job->code = json_string_value (code);
  if (lang && !json_is_null (lang))
    {
      if (!json_is_string (lang))
        return bad (out, "%s must be a string", "language");
      job->language = json_string_value (lang);
      if (!language_known (job->language))
        return bad (out, "language '%s' is not one of %s", job->language,
                    islet_lang_list (ISLET_LANG_FILE));
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
  if (c && !json_is_null (c) && !json_is_object (c))
    return bad (out, "%s must be an object", "config");
  if (c && !json_is_null (c)
      && v1_config_merge (cfg, c, strcmp (job->language, "python") == 0, out) < 0)
    return -1;
  if (timeout_over (j, c, cfg, out) < 0)
    return -1;
  return v1_config_settings (r->srv, cfg, job->language, &job->set, out);
}

static int
put_file (struct islet_ctx *ctx, const char *id, const char *path, const char *text,
          struct islet_err *err)
{
  return islet_fs_write (ctx, id, path, text, strlen (text), 0644, err);
}

/* Run argv; its output collected in res, or (pair not NULL) into the two
 * spools of pair only. */
static int
run (struct islet_ctx *ctx, const char *id, char *const *argv, const char *in, double timeout_s,
     struct spool **pair, struct islet_exec_result *res, struct islet_err *err)
{
  struct islet_exec_req x = {
    .argv = argv,
    .stdin_data = in,
    .stdin_len = in ? strlen (in) : 0,
    .timeout_ms = (uint32_t) (timeout_s * 1000),
    .on_output = pair ? spool_pair_output : NULL,
    .user = pair,
    .uncollected = pair != NULL,
  };
  return islet_exec (ctx, id, &x, res, err);
}

/* The answer; stdout and stderr are stolen. */
static json_t *
result_json (const struct islet_exec_result *res, const char *status, const char *id,
             json_t *stdout_text, json_t *stderr_text)
{
  double wall = (double) res->wall_ms;
  return json_pack ("{s:i,s:o,s:o,s:b,s:f,s:s,s:{s:f,s:f},s:{s:s,s:s}}", "exit_code",
                    res->exit_code, "stdout", stdout_text, "stderr", stderr_text, "truncated",
                    res->truncated, "execution_time", wall / 1000.0, "status", status,
                    "resource_usage", "cpu_usage_percent",
                    wall > 0 ? 100.0 * (double) res->cpu_ms / wall : 0.0, "memory_usage_mb",
                    (double) res->memory_peak_bytes / (1024.0 * 1024.0), "metadata", "sandbox_type",
                    "islet", "sandbox_id", id);
}

/* The policy's files into the sandbox and its checker run; -1 with the
 * answer in out (the violations, as a run that did not happen). */
static int
check_policy (struct islet_ctx *ctx, const char *id, const struct v1_job *job, const char *file,
              struct resp *out)
{
  char *argv[] = { (char *) "python3",
                   (char *) "-I",
                   (char *) V1_CHECKER,
                   (char *) file,
                   (char *) v1_policy_mode_name (job->set.policy),
                   (char *) v1_policy_list (job->set.policy, job->set.imports),
                   NULL };
  struct islet_exec_result res = { 0 };
  struct islet_err err;

  if (put_file (ctx, id, V1_CHECKER, v1_policy_checker, &err) < 0
      || put_file (ctx, id, V1_GUARD, v1_policy_guard, &err) < 0
      || run (ctx, id, argv, NULL, V1_TIMEOUT_DEFAULT_S, NULL, &res, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return -1;
    }
  if (res.exit_code != 0)
    {
      /* the violations, one per line, instead of a run */
      cleanup_free char *why = islet_xasprintf ("import policy: the code was not run:\n%.*s",
                                                (int) res.out_len, res.out ? res.out : "");
      res.exit_code = 1;
      reply_json (out, 200, result_json (&res, "error", id, json_string (""), json_string (why)));
      islet_exec_result_fini (&res);
      return -1;
    }
  islet_exec_result_fini (&res);
  return 0;
}

/* The answer of a run whose result is res (rc its run's return), its
 * output in pair's spools (r NULL: collected in res). */
static void
answer (struct req *r, const char *id, int rc, struct islet_err *err, struct spool **pair,
        struct islet_exec_result *res, struct resp *out)
{
  const char *status;
  json_t *o, *e;

  if (rc < 0)
    {
      reply_islet_err (out, err, false);
      return;
    }
  if (r && (spool_check (pair[0], out) < 0 || spool_check (pair[1], out) < 0))
    return;
  status = res->timed_out    ? "timeout"
           : res->oom_killed ? "oom"
           : res->error[0]   ? "error"
                             : "completed";
  o = r ? spool_token (pair[0], SPOOL_TEXT) : tb_json_text (res->out, res->out_len);
  e = res->error[0] ? json_string (res->error)
      : r           ? spool_token (pair[1], SPOOL_TEXT)
                    : tb_json_text (res->errout, res->err_len);
  snprintf (out->note, sizeof out->note, "%s, exit %d", status, res->exit_code);
  if (r)
    spool_reply_answer (out, 200, result_json (res, status, id, o, e), pair, 2);
  else
    reply_json (out, 200, result_json (res, status, id, o, e));
}

/* The program run by the pooled sandbox's python (v1_zygote.c), which
 * writes its file itself. */
static void
run_zygote (struct req *r, const char *id, const struct v1_job *job, struct v1pool_zygote *z,
            struct resp *out)
{
  struct spool *pair[2] = { NULL, NULL };
  struct islet_exec_result res = { 0 };
  struct islet_err err;
  int rc;

  if ((pair[0] = spool_new (r, out)) == NULL || (pair[1] = spool_new (r, out)) == NULL)
    goto done;
  rc = v1_zygote_run (z->conn, z->ready_ns, job->code, job->stdin_data, job->set.timeout_s,
                      spool_pair_output, pair, &res, &err);
  z->conn = -1; /* closed */
  answer (r, id, rc, &err, pair, &res, out);
done:
  islet_exec_result_fini (&res);
  spool_free (pair[0]);
  spool_free (pair[1]);
}

/* The program's run and its answer: the output spooled for r's key (r
 * NULL: collected, for a run as small as /v1/test's). */
static void
run_program (struct req *r, struct islet_ctx *ctx, const char *id, const struct v1_job *job,
             const char *file, struct resp *out)
{
  const struct islet_lang *l = islet_lang_find (job->language);
  const char *mode = v1_policy_mode_name (job->set.policy);
  const char *list = v1_policy_list (job->set.policy, job->set.imports);
  const char *plain[ISLET_LANG_ARGV_MAX + 1];
  /* under the policy: the guard, which hooks the interpreter, runs it */
  char *guarded[] = { (char *) "python3", (char *) "-I", (char *) "-B", (char *) V1_GUARD,
                      (char *) mode,      (char *) list, (char *) file, NULL };
  struct spool *pair[2] = { NULL, NULL };
  struct islet_exec_result res = { 0 };
  struct islet_err err;
  int rc;

  if (r && ((pair[0] = spool_new (r, out)) == NULL || (pair[1] = spool_new (r, out)) == NULL))
    goto done;
  (void) islet_lang_argv (l, ISLET_LANG_FILE, file, plain);
  rc = run (ctx, id, job->set.policy != V1_POLICY_OFF ? guarded : (char **) plain, job->stdin_data,
            job->set.timeout_s, r ? pair : NULL, &res, &err);
  answer (r, id, rc, &err, pair, &res, out);
done:
  islet_exec_result_fini (&res);
  spool_free (pair[0]);
  spool_free (pair[1]);
}

/* Everything that happens in the sandbox; the caller destroys it.  z: a
 * pooled sandbox's waiting python (closed here), or NULL. */
static void
execute_in (struct req *r, struct islet_ctx *ctx, const char *id, const struct v1_job *job,
            struct v1pool_zygote *z, struct resp *out)
{
  const struct islet_lang *l = islet_lang_find (job->language);
  cleanup_free char *file = islet_xasprintf ("%s/main%s", V1_DIR, l->ext);
  struct islet_err err;
  const char *key;
  json_t *v;

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
  if (z && z->conn >= 0 && r && v1_zygote_fits (job->language, job->set.policy, job->stdin_data))
    {
      run_zygote (r, id, job, z, out);
      return;
    }
  if (z && z->conn >= 0)
    {
      /* not its run: its python goes before the program starts */
      v1_zygote_end (z->conn);
      z->conn = -1;
    }
  if (put_file (ctx, id, file, job->code, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  if (job->set.policy != V1_POLICY_OFF && check_policy (ctx, id, job, file, out) < 0)
    return;
  run_program (r, ctx, id, job, file, out);
}

/* A session (state kept from call to call) is python in a kept sandbox,
 * its code alone: -1 with a 400 for what it cannot honour. */
static int
session_refused (json_t *j, const struct v1_job *job, json_t *kept, struct resp *out)
{
  json_t *s = json_object_get (j, "session");

  if (s == NULL || json_is_null (s))
    return 0;
  if (!json_is_string (s))
    return bad (out, "%s must be a string", "session");
  if (kept == NULL || json_is_null (kept))
    return bad (out, "session: a session lives in a kept sandbox: give its sandbox_id (POST "
                     "/v1/sandbox makes one)");
  if (strcmp (job->language, "python") != 0)
    return bad (out, "session: sessions run python, not %s", job->language);
  if (job->set.policy != V1_POLICY_OFF)
    return bad (out, "session: an import policy checks one-shot runs; it cannot hold over a "
                     "session's state");
  if (job->stdin_data || json_object_size (job->files))
    return bad (out, "session: stdin and files go with one-shot runs (write files with /v1/tool)");
  return 0;
}

void
v1_execute (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_sb struct sb_ref sb = { 0 };
  struct owner k = req_owner (r);
  struct islet_sandbox_info info;
  struct v1pool_zygote z;
  struct v1_job job;
  struct islet_err err;
  json_t *kept;
  char id[ISLET_ID_LEN + 1];

  if (j == NULL || parse_job (r, j, &job, out) < 0)
    {
      if (j)
        v1_settings_fini (&job.set);
      return;
    }
  kept = json_object_get (j, "sandbox_id");
  if (session_refused (j, &job, kept, out) < 0)
    {
      v1_settings_fini (&job.set);
      return;
    }
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
            reply_error (out, 409, "CONFLICT", "sandbox '%s' is %s: start it to %s",
                         json_string_value (kept),
                         sb.info.state == ISLET_SB_PAUSED ? "paused" : "not started",
                         sb.info.state == ISLET_SB_PAUSED ? "resume it" : "run in it");
          else if (json_is_string (json_object_get (j, "session")))
            v1_session_run (r, &sb, json_string_value (json_object_get (j, "session")), job.code,
                            job.set.timeout_s, out);
          else
            execute_in (r, sb.ctx, sb.info.id, &job, NULL, out);
        }
      v1_settings_fini (&job.set);
      return;
    }
  if (v1pool_begin (r->srv, &k, &job.set.limits, &job.set.net, id, &z, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      v1_settings_fini (&job.set);
      return;
    }
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", id);
  if (job.set.storage_asked
      && (islet_sandbox_get (r->srv->ctx, id, &info, &err) < 0 || !info.disk_enforced))
    (void) storage_refused (out);
  else
    execute_in (r, r->srv->ctx, id, &job, &z, out);
  v1_zygote_end (z.conn); /* its python, if it ran nothing */
  v1pool_end (r->srv, &k, id);
  v1_settings_fini (&job.set);
}

/* A real run, end to end: a sandbox, python, the answer checked. */
void
v1_test (struct req *r, struct resp *out)
{
  struct owner k = req_owner (r);
  struct v1_job job = { .code = "print(sum(range(10)))",
                        .language = "python",
                        .set = { .limits = ISLET_LIMITS_DEFAULT,
                                 .timeout_s = V1_TIMEOUT_DEFAULT_S } };
  cleanup_json json_t *res = NULL;
  struct islet_err err;
  char id[ISLET_ID_LEN + 1];
  uint64_t t0 = islet_now_ns ();
  const char *got;

  if (owned_scratch_begin (&k, &job.set.limits, NULL, id, &err) < 0)
    {
      reply_json (out, 200,
                  json_pack ("{s:b,s:s,s:s}", "ok", 0, "stage", "create", "error", err.msg));
      return;
    }
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", id);
  execute_in (NULL, r->srv->ctx, id, &job, NULL, out);
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
  cleanup_json json_t *defaults = NULL;
  cleanup_owned struct owned o = { 0 };
  struct owner k = req_owner (r);
  struct owned_spec spec;
  struct islet_err err;
  const char *lang = "python";
  struct v1_settings set;
  json_t *cfg, *v;

  if (j == NULL || (defaults = v1_config_load (r->srv, r->key_id, out)) == NULL)
    return;
  if ((v = json_object_get (j, "language")) && !json_is_null (v))
    {
      lang = json_string_value (v);
      if (lang == NULL || !language_known (lang))
        {
          (void) bad (out, "%s must be one of %s", "language", islet_lang_list (ISLET_LANG_FILE));
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
      if (v1_config_merge (defaults, cfg, strcmp (lang, "python") == 0, out) < 0)
        return;
    }
  if (v1_config_settings (r->srv, defaults, lang, &set, out) < 0)
    return;
  v1_settings_fini (&set);
  /* the config's limits, as v1_config_settings checked them */
  if (owned_spec_init (&spec, ISLET_FACE_V1, defaults, NULL, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  spec.net = set.net;
  spec.language = lang;
  if (owned_create (&k, &spec, &o, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", o.info.id);
  if (set.storage_asked && !o.info.disk_enforced)
    {
      if (owned_destroy (&k, &o, &err) < 0)
        fprintf (stderr, "isletd: remove the sandbox %s: %s\n", o.info.id, err.msg);
      (void) storage_refused (out);
      return;
    }
  reply_json (out, 200,
              json_pack ("{s:s,s:s,s:s}", "sandbox_id", o.info.id, "state",
                         v1_state_word (o.info.state), "language", lang));
}

/* The caller's sandboxes (those its key made), how many run and how many
 * are paused. */
static int
count_own (struct req *r, size_t *n, size_t *running, size_t *paused, struct islet_err *err)
{
  cleanup_free struct islet_sandbox_info *list = NULL;
  struct owner k = req_owner (r);

  *running = *paused = 0;
  if (owned_list (&k, &list, n, err) < 0)
    return -1;
  for (size_t i = 0; i < *n; i++)
    {
      *running += list[i].state == ISLET_SB_RUNNING;
      *paused += list[i].state == ISLET_SB_PAUSED;
    }
  return 0;
}

/* GET /v1/status: islet's names and the reasoning engine's, of the caller's
 * own sandboxes and config. */
void
v1_status (struct req *r, struct resp *out)
{
  cleanup_json json_t *cfg = v1_config_load (r->srv, r->key_id, out);
  json_t *view, *old;
  struct islet_err err;
  size_t n, running, paused;

  if (cfg == NULL)
    return;
  if (count_own (r, &n, &running, &paused, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  view = v1_config_view (r->srv, cfg);
  old = json_deep_copy (view);
  json_object_set (old, "disk_limit_mb", json_object_get (view, "temp_storage_mb"));
  reply_json (out, 200,
              json_pack ("{s:s,s:s,s:s,s:b,s:I,s:I,s:I,s:o,s:o,s:o}", "status", "available",
                         "service_status", "running", "version", ISLET_VERSION, "sandbox_active",
                         running > 0, "active_sandboxes", (json_int_t) running, "paused_sandboxes",
                         (json_int_t) paused, "sandboxes", (json_int_t) n, "config", view,
                         "default_config", old, "languages",
                         names_json (islet_lang_names (ISLET_LANG_FILE))));
}

/* json_dump_callback's sink: the text goes to the spool as it is made. */
static int
to_spool (const char *buf, size_t size, void *data)
{
  spool_add (data, buf, size);
  return 0;
}

/* POST /v1/tool {sandbox_id, text, workspace_only}: every command a model
 * wrote in text (include/islet/toolcmd.h), run in one of the key's
 * sandboxes, in order; each result carries its own error.  A text may hold
 * thousands of commands, each with up to the sandbox's output limit: each
 * result goes to the key's scratch space once its command is over (spool.c),
 * so isletd holds one at a time, and once the answer is over that space
 * the rest are not run (507). */
void
v1_tool (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_spool struct spool *sp = NULL;
  struct islet_toolcmd *cmds = NULL;
  json_t *sid, *text, *ws;
  size_t n = 0, failures = 0, i;
  struct islet_err err;
  char *head, tail[96];

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
  if (tb_open_ref (r, json_string_value (sid), &sb, out) < 0 || (sp = spool_new (r, out)) == NULL)
    {
      islet_toolcmd_free (cmds, n);
      return;
    }
  /* the id is [0-9a-f]: it needs no escape */
  head = islet_xasprintf ("{\"sandbox_id\":\"%s\",\"results\":[", sb.info.id);
  spool_add (sp, head, strlen (head));
  free (head);
  for (i = 0; i < n && spool_done (sp, &err) == 0; i++)
    {
      json_t *one = islet_toolcmd_run (sb.ctx, sb.info.id, &cmds[i],
                                       json_is_true (ws) ? ISLET_TC_WORKSPACE_ONLY : 0);
      failures += !json_is_true (json_object_get (one, "ok"));
      if (i > 0)
        spool_add (sp, ",", 1);
      (void) json_dump_callback (one, to_spool, sp, JSON_COMPACT);
      json_decref (one);
    }
  islet_toolcmd_free (cmds, n);
  snprintf (out->note, sizeof out->note, "%zu of %zu commands run, %zu failed", i, n, failures);
  if (spool_done (sp, &err) < 0)
    {
      islet_wrap (&err, "%zu of %zu commands ran%s", i, n, i < n ? " (not the rest)" : "");
      reply_islet_err (out, &err, false);
      return;
    }
  snprintf (tail, sizeof tail, "],\"commands\":%zu,\"failed\":%zu}", n, failures);
  spool_add (sp, tail, strlen (tail));
  if (spool_check (sp, out) < 0)
    return;
  spool_reply_raw (islet_take_ptr (&sp), out);
  out->content_type = "application/json";
}
