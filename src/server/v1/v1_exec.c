/* POST /v1/sandbox/{id}/exec: one command with the core's whole result.
 *
 * Daytona's process/execute takes a command line and answers its output
 * with stdout and stderr merged, as text.  This route is islet's own: an
 * argv, "K=V" environment entries, stdin and both streams as base64 (exact
 * bytes), and every field of struct islet_exec_result.  The CLI's remote
 * mode (src/remote) runs `islet exec` and `islet run` through it.
 *
 *   {"argv": ["sh", "-c", "..."], "env": ["K=V"], "cwd": "/workspace",
 *    "stdin": "<base64>", "timeout_ms": 5000, "output_limit": 1048576,
 *    "stream": false}
 * ->
 *   {"exit_code": 0, "signal": 0, "stdout": "<base64>", "stderr": "<base64>",
 *    "wall_ms": 3, "cpu_ms": 1, "memory_peak_bytes": 0, "timed_out": false,
 *    "oom_killed": false, "truncated": false, "error": ""}
 *
 * With "stream": true the answer is sent as the command runs, one JSON
 * object per line (application/x-ndjson, chunked): {"stdout": "<base64>"}
 * and {"stderr": "<base64>"} as output arrives, then one {"result": {...}}
 * (the object above without stdout and stderr) or {"error": {"kind",
 * "message"}}.  The command runs in a thread of its own that writes the
 * lines into a pipe the HTTP library reads; a client that goes away stops
 * the lines, not the command (its timeout bounds it). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "islet/report.h"
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
  if (!json_is_integer (f) || json_integer_value (f) < 0 || (uint64_t) json_integer_value (f) > max)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s must be an integer from 0 to %llu", k,
                   (unsigned long long) max);
      return -1;
    }
  *v = (uint64_t) json_integer_value (f);
  return 0;
}

/* One command, with everything it needs copied out of the request. */
struct job
{
  struct srv *srv;
  int64_t key_id;
  char id[ISLET_ID_LEN + 1];
  char **argv, **env;
  char *cwd, *in;
  size_t in_len;
  uint64_t timeout_ms, output_limit;
  const struct route *route; /* stream: for the audit record at the end */
  int wfd;                   /* stream: the pipe's end the lines go to */
  bool broken;               /* stream: the reader went away */
  uint64_t t0_ns;
};

static void
job_free (struct job *jb)
{
  if (jb == NULL)
    return;
  islet_strv_free (jb->argv);
  islet_strv_free (jb->env);
  free (jb->cwd);
  free (jb->in);
  if (jb->wfd >= 0)
    close (jb->wfd);
  free (jb);
}

/* One line of a streamed answer; steals j. */
static void
stream_line (struct job *jb, json_t *j)
{
  cleanup_free char *text = json_dumps (j, JSON_COMPACT);

  json_decref (j);
  if (jb->broken || text == NULL)
    return;
  if (islet_write_all (jb->wfd, text, strlen (text)) < 0 || islet_write_all (jb->wfd, "\n", 1) < 0)
    jb->broken = true;
}

static void
stream_output (enum islet_stream stream, const char *data, size_t len, void *user)
{
  struct job *jb = user;
  cleanup_free char *b = islet_base64 ((const unsigned char *) data, len);

  stream_line (jb, json_pack ("{s:s}", stream == ISLET_STDOUT ? "stdout" : "stderr", b));
}

/* Run the job, its output to on_output only (user its argument). */
static int
job_run (struct job *jb, islet_output_fn on_output, void *user, struct islet_exec_result *res,
         struct islet_err *err)
{
  struct islet_exec_req x = {
    .argv = jb->argv,
    .env = jb->env,
    .cwd = jb->cwd,
    .stdin_data = jb->in,
    .stdin_len = jb->in_len,
    .timeout_ms = (uint32_t) jb->timeout_ms,
    .output_limit = jb->output_limit,
    .on_output = on_output,
    .user = user,
    .uncollected = true,
  };
  return islet_exec (jb->srv->ctx, jb->id, &x, res, err);
}

static void *
stream_main (void *arg)
{
  struct job *jb = arg;
  struct srv *srv = jb->srv;
  struct islet_exec_result res = { 0 };
  struct islet_err err = { 0 };
  struct req r = { .srv = srv, .key_id = jb->key_id };
  struct resp out = { .status = 200, .fd = -1 };

  if (job_run (jb, stream_output, jb, &res, &err) < 0)
    {
      stream_line (jb, json_pack ("{s:{s:s,s:s}}", "error", "kind", islet_errkind_name (err.kind),
                                  "message", err.msg));
      snprintf (out.note, sizeof out.note, "%s", err.msg);
    }
  else
    {
      stream_line (jb, json_pack ("{s:o}", "result", islet_exec_stats_json (&res)));
      snprintf (out.note, sizeof out.note, "exit %d", res.exit_code);
    }
  /* the route's audit record, now that the result is known */
  memcpy (r.sandbox_id, jb->id, sizeof r.sandbox_id);
  route_audit (jb->route, &r, &out, jb->t0_ns);
  islet_exec_result_fini (&res);
  job_free (jb);
  srv_stream_end (srv);
  return NULL;
}

/* Start the command in its thread; the answer is the pipe's other end. */
static void
stream_start (struct job *jb, struct resp *out)
{
  struct islet_err err;
  pthread_attr_t attr;
  pthread_t t;
  int p[2], e;

  if (pipe2 (p, O_CLOEXEC) < 0)
    {
      islet_fail (&err, ISLET_E_SYSTEM, errno, "pipe");
      reply_islet_err (out, &err, false);
      job_free (jb);
      return;
    }
  jb->wfd = p[1];
  srv_stream_begin (jb->srv);
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  e = pthread_create (&t, &attr, stream_main, jb);
  pthread_attr_destroy (&attr);
  if (e != 0)
    {
      srv_stream_end (jb->srv);
      close (p[0]);
      job_free (jb);
      islet_fail (&err, ISLET_E_LIMIT, e, "a thread for the command");
      reply_islet_err (out, &err, false);
      return;
    }
  out->status = 200;
  out->fd = p[0];
  out->streamed = true;
  out->content_type = "application/x-ndjson";
}

/* The answer in one piece: the output goes to the key's scratch space as
 * it comes (spool.c), never whole into memory, and is sent from there. */
static void
run_spooled (struct req *r, struct job *jb, struct resp *out)
{
  struct spool *pair[2] = { NULL, NULL };
  struct islet_exec_result res = { 0 };
  struct islet_err err;
  json_t *j;

  if ((pair[0] = spool_new (r, out)) == NULL || (pair[1] = spool_new (r, out)) == NULL)
    goto done;
  if (job_run (jb, spool_pair_output, pair, &res, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      goto done;
    }
  if (spool_check (pair[0], out) < 0 || spool_check (pair[1], out) < 0)
    goto done;
  snprintf (out->note, sizeof out->note, "exit %d", res.exit_code);
  j = islet_exec_stats_json (&res);
  json_object_set_new (j, "stdout", spool_token (pair[0], SPOOL_BASE64));
  json_object_set_new (j, "stderr", spool_token (pair[1], SPOOL_BASE64));
  spool_reply_answer (out, 200, j, pair, 2);
done:
  islet_exec_result_fini (&res);
  spool_free (pair[0]);
  spool_free (pair[1]);
}

void
v1_sandbox_exec (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_json json_t *envs = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free const char **argv = NULL;
  cleanup_free const char **env_in = NULL;
  struct islet_err err;
  struct job *jb;
  bool stream;
  char **env = NULL;
  json_t *f;

  if (j == NULL)
    return;
  jb = islet_xcalloc (1, sizeof *jb);
  *jb = (struct job){
    .srv = r->srv, .key_id = r->key_id, .route = r->route, .wfd = -1, .t0_ns = islet_now_ns ()
  };
  if ((argv = string_array (json_object_get (j, "argv"), "argv", true, out)) == NULL)
    goto fail;
  if ((f = json_object_get (j, "env")) && !json_is_null (f)
      && ((env_in = string_array (f, "env", false, out)) == NULL
          || (envs = env_object (env_in, out)) == NULL))
    goto fail;
  if ((f = json_object_get (j, "cwd")) && !json_is_null (f) && !json_is_string (f))
    {
      reply_error (out, 400, "BAD_REQUEST", "cwd must be a string");
      goto fail;
    }
  if ((f = json_object_get (j, "stdin")) && !json_is_null (f))
    {
      if (!json_is_string (f)
          || islet_base64_decode (json_string_value (f), json_string_length (f), SIZE_MAX,
                                  (unsigned char **) &jb->in, &jb->in_len, &err)
                 < 0)
        {
          reply_error (out, 400, "BAD_REQUEST", "stdin must be base64");
          goto fail;
        }
    }
  if ((f = json_object_get (j, "stream")) && !json_is_null (f) && !json_is_boolean (f))
    {
      reply_error (out, 400, "BAD_REQUEST", "stream must be true or false");
      goto fail;
    }
  stream = json_is_true (f);
  if (field_u64 (j, "timeout_ms", EXEC_TIMEOUT_MAX_MS, &jb->timeout_ms, out) < 0
      || field_u64 (j, "output_limit", (uint64_t) 1 << 40, &jb->output_limit, out) < 0)
    goto fail;
  if (tb_open (r, &sb, out) < 0)
    goto fail;
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", sb.info.id);
  snprintf (jb->id, sizeof jb->id, "%s", sb.info.id);
  if ((env = sb_env (&sb, envs, out)) == NULL)
    goto fail;
  jb->env = env;
  jb->argv = islet_strv_dup ((char *const *) argv);
  jb->cwd = json_is_string (json_object_get (j, "cwd"))
                ? islet_xstrdup (json_string_value (json_object_get (j, "cwd")))
                : NULL;
  if (stream)
    {
      stream_start (jb, out);
      return;
    }
  run_spooled (r, jb, out);
fail:
  job_free (jb);
}
