/* POST /v1/sandbox/{id}/exec: one command with the core's whole result.
 *
 * Daytona's process/execute takes a command line and answers its output
 * with stdout and stderr merged, as text.  This route is islet's own: an
 * argv, "K=V" environment entries, stdin and both streams as base64 (exact
 * bytes), and every field of struct islet_exec_result.  The CLI's remote
 * mode (src/remote) runs `islet exec` and `islet run` through it.
 *
 *   {"argv": ["sh", "-c", "..."], "env": ["K=V"], "cwd": "/workspace",
 *    "stdin": "<base64>", "timeout_ms": 5000, "output_limit": 1048576}
 * ->
 *   {"exit_code": 0, "signal": 0, "stdout": "<base64>", "stderr": "<base64>",
 *    "wall_ms": 3, "cpu_ms": 1, "memory_peak_bytes": 0, "timed_out": false,
 *    "oom_killed": false, "truncated": false, "error": ""} */
#include <string.h>

#include "islet/util.h"
#include "server.h"

#define EXEC_TIMEOUT_MAX_MS (86400u * 1000u)

/* A JSON array of strings as a NULL-terminated vector borrowing them; NULL
 * with a 400 in out. */
static const char **
string_array (json_t *a, const char *name, bool nonempty, struct resp *out)
{
  const char **v;
  json_t *e;
  size_t i;

  if (!json_is_array (a) || (nonempty && json_array_size (a) == 0))
    {
      reply_error (out, 400, "BAD_REQUEST", "%s must be %sarray of strings", name,
                   nonempty ? "a non-empty " : "an ");
      return NULL;
    }
  v = islet_xcalloc (json_array_size (a) + 1, sizeof *v);
  json_array_foreach (a, i, e)
    {
      if (!json_is_string (e))
        {
          free (v);
          reply_error (out, 400, "BAD_REQUEST", "%s[%zu] must be a string", name, i);
          return NULL;
        }
      v[i] = json_string_value (e);
    }
  return v;
}

/* "K=V" entries to an object, for sb_env; NULL with a 400 in out. */
static json_t *
env_object (const char **env, struct resp *out)
{
  json_t *o = json_object ();

  for (size_t i = 0; env && env[i]; i++)
    {
      const char *eq = strchr (env[i], '=');
      cleanup_free char *k = NULL;

      if (eq == NULL || eq == env[i])
        {
          json_decref (o);
          reply_error (out, 400, "BAD_REQUEST", "env[%zu] must be K=V with a non-empty K", i);
          return NULL;
        }
      k = strndup (env[i], (size_t) (eq - env[i]));
      json_object_set_new (o, k, json_string (eq + 1));
    }
  return o;
}

static int
field_u64 (json_t *j, const char *k, uint64_t max, uint64_t *v, struct resp *out)
{
  json_t *f = json_object_get (j, k);

  if (f == NULL || json_is_null (f))
    return 0;
  if (!json_is_integer (f) || json_integer_value (f) < 0
      || (uint64_t) json_integer_value (f) > max)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s must be an integer from 0 to %llu", k,
                   (unsigned long long) max);
      return -1;
    }
  *v = (uint64_t) json_integer_value (f);
  return 0;
}

void
v1_sandbox_exec (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_json json_t *envs = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free const char **argv = NULL;
  cleanup_free const char **env_in = NULL;
  cleanup_free char *in = NULL;
  cleanup_free char *b_out = NULL;
  cleanup_free char *b_err = NULL;
  struct islet_exec_result res = { 0 };
  struct islet_exec_req x = { 0 };
  struct islet_err err;
  uint64_t timeout_ms = 0, output_limit = 0;
  size_t in_len = 0;
  char **env = NULL;
  json_t *f;

  if (j == NULL)
    return;
  if ((argv = string_array (json_object_get (j, "argv"), "argv", true, out)) == NULL)
    return;
  if ((f = json_object_get (j, "env")) && !json_is_null (f)
      && ((env_in = string_array (f, "env", false, out)) == NULL
          || (envs = env_object (env_in, out)) == NULL))
    return;
  if ((f = json_object_get (j, "cwd")) && !json_is_null (f) && !json_is_string (f))
    {
      reply_error (out, 400, "BAD_REQUEST", "cwd must be a string");
      return;
    }
  if ((f = json_object_get (j, "stdin")) && !json_is_null (f))
    {
      if (!json_is_string (f)
          || islet_unbase64 (json_string_value (f), json_string_length (f), &in, &in_len, &err)
                 < 0)
        {
          reply_error (out, 400, "BAD_REQUEST", "stdin must be base64");
          return;
        }
    }
  if (field_u64 (j, "timeout_ms", EXEC_TIMEOUT_MAX_MS, &timeout_ms, out) < 0
      || field_u64 (j, "output_limit", (uint64_t) 1 << 40, &output_limit, out) < 0)
    return;
  if (tb_open (r, &sb, out) < 0)
    return;
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", sb.info.id);
  if ((env = sb_env (&sb, envs, out)) == NULL)
    return;
  x = (struct islet_exec_req){
    .argv = (char *const *) argv,
    .env = env,
    .cwd = json_string_value (json_object_get (j, "cwd")),
    .stdin_data = in,
    .stdin_len = in_len,
    .timeout_ms = (uint32_t) timeout_ms,
    .output_limit = output_limit,
  };
  if (islet_exec (sb.ctx, sb.info.id, &x, &res, &err) < 0)
    {
      strv_free (env);
      reply_islet_err (out, &err, false);
      return;
    }
  strv_free (env);
  b_out = islet_base64 ((const unsigned char *) res.out, res.out_len);
  b_err = islet_base64 ((const unsigned char *) res.errout, res.err_len);
  snprintf (out->note, sizeof out->note, "exit %d", res.exit_code);
  reply_json (out, 200,
              json_pack ("{s:i,s:i,s:s,s:s,s:I,s:I,s:I,s:b,s:b,s:b,s:s}", "exit_code",
                         res.exit_code, "signal", res.signal, "stdout", b_out, "stderr", b_err,
                         "wall_ms", (json_int_t) res.wall_ms, "cpu_ms", (json_int_t) res.cpu_ms,
                         "memory_peak_bytes", (json_int_t) res.memory_peak_bytes, "timed_out",
                         res.timed_out, "oom_killed", res.oom_killed, "truncated", res.truncated,
                         "error", res.error));
  islet_exec_result_fini (&res);
}
