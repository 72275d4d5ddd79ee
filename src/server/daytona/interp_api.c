/* Toolbox: the SDK's codeInterpreter.  REST for the contexts
 * (/process/interpreter/context), and runCode over the WebSocket
 * /process/interpreter/execute: the client sends {code, contextId?, envs?,
 * timeout?}; the answer is text messages {type: stdout|stderr|error|chart|
 * control}, control "completed" last, then close 1000.  A run past its
 * timeout is interrupted and the socket closed with 4008, the code the SDK
 * reads as a timeout; the context keeps its state. */
#include <string.h>

#include "interp_internal.h"
#include "islet/util.h"
#include "toolbox.h"

#define FIRST_MESSAGE_MS 60000
/* a message holds the code as JSON text: room for its escapes */
#define MESSAGE_MAX (INTERP_CODE_MAX * 6 + 65536)

/* Close codes: the SDK turns any but 1000 and 1001 into an error carrying
 * the reason; 4008 into its timeout error. */
enum
{
  CLOSE_OK = 1000,
  CLOSE_AWAY = 1001,
  CLOSE_BAD = 1008,
  CLOSE_TOO_BIG = 1009,
  CLOSE_INTERNAL = 1011,
  CLOSE_TIMEOUT = 4008,
  CLOSE_NOT_FOUND = 4004,
};

static const char *
cwd_check (json_t *cwd, struct resp *out)
{
  const char *s = json_string_value (cwd);

  if (cwd == NULL || json_is_null (cwd) || (s && *s == '\0'))
    return NULL;
  if (s == NULL || *s != '/' || text_has_control (s, strlen (s)))
    {
      reply_error (out, 400, "BAD_REQUEST", "cwd must be an absolute path");
      return (const char *) -1;
    }
  return s;
}

void
tb_interp_context_create (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_sb struct sb_ref sb = { 0 };
  const char *lang, *cwd;
  struct interp_ctx *c;
  char **env;

  if (j == NULL)
    return;
  lang = json_string_value (json_object_get (j, "language"));
  if (lang && *lang && strcmp (lang, "python") != 0)
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "language '%s' has no interpreter contexts here: they run python", lang);
      return;
    }
  cwd = cwd_check (json_object_get (j, "cwd"), out);
  if (cwd == (const char *) -1 || tb_open (r, &sb, out) < 0)
    return;
  env = sb_env (&sb, NULL, out);
  if (env == NULL)
    return;
  c = interp_create (r->srv, sb.info.id, env, cwd, NULL, out);
  islet_strv_free (env);
  if (c == NULL)
    return;
  snprintf (out->note, sizeof out->note, "context %s", c->id);
  reply_json (out, 200, interp_ctx_json (c));
  interp_put (c);
}

void
tb_interp_context_list (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };

  if (sb_open (r, r->params[0], &sb, out) == 0)
    reply_json (out, 200, json_pack ("{s:o}", "contexts", interp_list (r->srv, sb.info.id)));
}

void
tb_interp_context_delete (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };

  if (sb_open (r, r->params[0], &sb, out) < 0)
    return;
  if (interp_delete (r->srv, sb.info.id, r->params[1]) < 0)
    reply_error (out, 404, "NOT_FOUND", "interpreter context '%s' not found", r->params[1]);
  else
    reply_json (out, 200, json_object ());
}

/* ---- runCode ---- */

struct ws_run
{
  char sandbox[ISLET_ID_LEN + 1];
  uint64_t output_max;
  struct ws *ws;
  bool gone;
  char env[]; /* the sandbox's variables (JSON text), for a default context made by the run */
};

static void
send_chunk (void *user, json_t *chunk)
{
  struct ws_run *w = user;
  cleanup_free char *text = NULL;

  /* a chart goes as {"type": "chart", "chart": {...}}, the chart as codeRun's
     artifacts.charts holds it: the SDK's runCode skips types it does not
     know, other clients read it */
  if (w->gone)
    return;
  text = json_dumps (chunk, JSON_COMPACT);
  if (text && ws_send_text (w->ws, text, strlen (text)) < 0)
    w->gone = true;
}

static bool
client_gone (void *user)
{
  struct ws_run *w = user;
  const char *msg;
  size_t len;

  /* a message now is ignored; a close or a broken link is the end */
  if (!w->gone && ws_recv (w->ws, islet_now_ns () + 1000000, &msg, &len) < 0)
    w->gone = true;
  return w->gone;
}

/* A message's fields, checked; -1 with the socket closed and why. */
static int
parse_message (struct ws *ws, json_t *m, struct interp_run *run, const char **ctx_id)
{
  json_t *code = json_object_get (m, "code"), *envs = json_object_get (m, "envs"),
         *t = json_object_get (m, "timeout"), *id = json_object_get (m, "contextId");
  const char *k;
  json_t *v;

  if (!json_is_string (code) || json_string_length (code) == 0)
    return ws_close (ws, CLOSE_BAD, "code must be a non-empty string"), -1;
  if (json_string_length (code) > INTERP_CODE_MAX)
    {
      char why[120];
      snprintf (why, sizeof why, "code is %zu bytes: a run takes at most %zu",
                json_string_length (code), INTERP_CODE_MAX);
      return ws_close (ws, CLOSE_TOO_BIG, why), -1;
    }
  if (memchr (json_string_value (code), '\0', json_string_length (code)))
    return ws_close (ws, CLOSE_BAD, "code must not hold a NUL byte"), -1;
  if (envs && !json_is_null (envs) && !json_is_object (envs))
    return ws_close (ws, CLOSE_BAD, "envs must be an object of strings"), -1;
  json_object_foreach (envs, k, v) if (!json_is_string (v) || !*k || strchr (k, '='))
  {
    return ws_close (ws, CLOSE_BAD, "envs must map names to strings"), -1;
  }
  if (id && !json_is_null (id) && (!json_is_string (id) || json_string_length (id) == 0))
    return ws_close (ws, CLOSE_BAD, "contextId must be a string"), -1;
  run->timeout_s = INTERP_DEFAULT_TIMEOUT_S;
  if (t && !json_is_null (t))
    {
      if (!json_is_number (t) || json_number_value (t) < 0 || json_number_value (t) > 86400)
        return ws_close (ws, CLOSE_BAD, "timeout must be 0 to 86400 seconds"), -1;
      run->timeout_s = json_number_value (t);
    }
  run->code = json_string_value (code);
  run->envs = json_is_object (envs) ? envs : NULL;
  *ctx_id = json_string_value (id);
  return 0;
}

/* The run's context: the one named, or the sandbox's default (made, or
 * made again once its death was told); NULL with the socket closed. */
static struct interp_ctx *
run_context (struct srv *srv, struct ws_run *w, const char *id)
{
  struct interp_ctx *c = interp_get (srv, w->sandbox, id ? id : INTERP_DEFAULT_ID);
  struct resp out = { .fd = -1 };
  char why[200];

  if (c && !(id == NULL && interp_death_told (c)))
    return c;
  if (id)
    {
      snprintf (why, sizeof why, "interpreter context '%.64s' not found", id);
      ws_close (w->ws, CLOSE_NOT_FOUND, why);
      return NULL;
    }
  interp_put (c);
  {
    struct sb_ref sb = { .ctx = srv->ctx, .row.env = w->env };
    char **env = sb_env (&sb, NULL, &out);

    c = env ? interp_create (srv, w->sandbox, env, NULL, INTERP_DEFAULT_ID, &out) : NULL;
    islet_strv_free (env);
  }
  if (c == NULL)
    {
      json_t *j = json_loadb (out.body ? out.body : "", out.len, 0, NULL);
      snprintf (why, sizeof why, "%.180s",
                json_string_value (json_object_get (j, "message"))
                    ?: "the context could not start");
      json_decref (j);
      ws_close (w->ws, CLOSE_INTERNAL, why);
    }
  free (out.body);
  return c;
}

/* The death of c, as the run's error (told once: then the default context
 * starts anew). */
static void
tell_death (struct ws_run *w, struct interp_ctx *c, bool during)
{
  char why[256], value[512];
  cleanup_json json_t *chunk = NULL;

  interp_why (c, why, sizeof why);
  snprintf (value, sizeof value, "the context's python %s: %s; its variables are gone (%s)",
            during ? "died during this run" : "had died", why,
            strcmp (c->id, INTERP_DEFAULT_ID) == 0 ? "the next run starts a new one"
                                                   : "delete it and create another");
  chunk = json_pack ("{s:s,s:s,s:s,s:s}", "type", "error", "name", "ContextDied", "value", value,
                     "traceback", "");
  send_chunk (w, chunk);
  interp_tell_death (c);
}

/* The end of the run: its last messages and the close (during: the
 * context died in this run, not before it). */
static void
finish (struct ws_run *w, struct interp_ctx *c, enum interp_outcome o, bool during,
        double timeout_s)
{
  static const char completed[] = "{\"type\":\"control\",\"text\":\"completed\"}";
  char why[300];

  switch (o)
    {
    case INTERP_DONE:
      ws_send_text (w->ws, completed, sizeof completed - 1);
      ws_close (w->ws, CLOSE_OK, "");
      return;
    case INTERP_DIED:
      tell_death (w, c, during);
      ws_send_text (w->ws, completed, sizeof completed - 1);
      ws_close (w->ws, CLOSE_OK, "");
      return;
    case INTERP_TIMED_OUT:
      snprintf (why, sizeof why,
                "the run timed out after %g s and was interrupted (KeyboardInterrupt); the context "
                "keeps its state",
                timeout_s);
      ws_close (w->ws, CLOSE_TIMEOUT, why);
      return;
    case INTERP_KILLED:
      interp_tell_death (c);
      snprintf (why, sizeof why,
                "the run timed out after %g s and did not stop when interrupted: the context's "
                "process was killed and its state is lost",
                timeout_s);
      ws_close (w->ws, CLOSE_TIMEOUT, why);
      return;
    case INTERP_STOPPING: ws_close (w->ws, CLOSE_AWAY, "isletd is stopping"); return;
    case INTERP_CLIENT_GONE: return;
    }
}

static void
ws_run_main (struct srv *srv, struct ws *ws, void *arg)
{
  struct ws_run *w = arg;
  struct interp_run run = {
    .output_max = w->output_max, .on_chunk = send_chunk, .gone = client_gone, .user = w
  };
  cleanup_json json_t *m = NULL;
  struct interp_ctx *c = NULL;
  const char *msg, *id;
  size_t len;

  srv_stream_begin (srv);
  w->ws = ws;
  ws_limit (ws, MESSAGE_MAX, "the message is larger than a run's code may be (1 MiB)");
  if (ws_recv (ws, islet_now_ns () + (uint64_t) FIRST_MESSAGE_MS * 1000000, &msg, &len) != 1)
    goto out;
  m = json_loadb (msg, len, 0, NULL);
  if (!json_is_object (m))
    {
      ws_close (ws, CLOSE_BAD,
                "the message must be a JSON object {code, contextId?, envs?, timeout?}");
      goto out;
    }
  if (parse_message (ws, m, &run, &id) < 0 || (c = run_context (srv, w, id)) == NULL)
    goto out;
  if (interp_dead (c))
    {
      /* it died between runs: say so, once for the default context */
      finish (w, c, INTERP_DIED, false, 0);
      goto out;
    }
  finish (w, c, interp_run (srv, c, &run), true, run.timeout_s);
out:
  interp_put (c);
  ws_linger (ws, islet_now_ns () + 2000000000ull);
  ws_free (ws);
  free (w);
  srv_stream_end (srv);
}

int
tb_interp_ws_begin (struct req *r, struct resp *out, ws_open_fn *fn, void **arg)
{
  cleanup_sb struct sb_ref sb = { 0 };
  const char *env;
  struct ws_run *w;

  if (tb_open (r, &sb, out) < 0)
    return -1;
  env = sb.row.env ? sb.row.env : "{}";
  w = islet_xcalloc (1, sizeof *w + strlen (env) + 1);
  strcpy (w->env, env);
  snprintf (w->sandbox, sizeof w->sandbox, "%s", sb.info.id);
  w->output_max = sb.info.limits.output_bytes;
  *fn = ws_run_main;
  *arg = w;
  return 0;
}
