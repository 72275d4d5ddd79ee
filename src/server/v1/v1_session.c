/* POST /v1/execute with a `session`: the code runs in an interpreter
 * context of that name in the caller's kept sandbox (sandbox_id), so its
 * variables and imports are there for the next call with the same session
 * (daytona/interp.h).  Python only; one answer in /v1's shape, with the
 * error's name, value and traceback when the code raised.  MCP's
 * execute_code with persistent runs here too (v1_session_answer). */
#include <string.h>

#include "interp.h"
#include "islet/util.h"
#include "toolbox.h"
#include "v1.h"

struct collect
{
  struct spool *spool[2];  /* stdout, stderr for /v1: kept on disk until sent (spool.c) */
  struct tb_output mem[2]; /* for MCP: in memory, bounded by the run's output_max */
  json_t *error;
  bool cut;
};

static void
collect_add (struct collect *c, int i, const char *data, size_t len)
{
  if (c->spool[i])
    spool_add (c->spool[i], data, len);
  else
    tb_output_add (ISLET_STDOUT, data, len, &c->mem[i]);
}

static void
on_chunk (void *user, json_t *chunk)
{
  struct collect *c = user;
  const char *type = json_string_value (json_object_get (chunk, "type"));
  json_t *text = json_object_get (chunk, "text");

  c->cut = c->cut || json_is_true (json_object_get (chunk, "cut"));
  if (strcmp (type, "error") == 0 && c->error == NULL)
    c->error = json_incref (chunk);
  else if (strcmp (type, "stdout") == 0 || strcmp (type, "stderr") == 0)
    collect_add (c, type[3] == 'e', json_string_value (text), json_string_length (text));
}

/* The session's context: made, or made again once its death was told;
 * NULL with the answer in out. */
static struct interp_ctx *
session_context (struct srv *srv, const struct sb_ref *sb, const char *name, struct resp *out)
{
  struct interp_ctx *c = interp_get (srv, sb->info.id, name);
  char **env;

  if (c && !interp_death_told (c))
    return c;
  interp_put (c);
  env = sb_env (sb, NULL, out);
  if (env == NULL)
    return NULL;
  c = interp_create (srv, sb->info.id, env, NULL, name, out);
  islet_strv_free (env);
  return c;
}

/* code run in the session's context, its output to col; the outcome, or
 * -1 with the answer in out.  A death is told on stderr. */
static int
session_exec (struct srv *srv, const struct sb_ref *sb, const char *session, const char *code,
              double timeout_s, struct collect *col, enum interp_outcome *o, struct resp *out)
{
  struct interp_run run = { .code = code,
                            .timeout_s = timeout_s,
                            .output_max = sb->info.limits.output_bytes,
                            .on_chunk = on_chunk,
                            .user = col };
  cleanup_free char *name = islet_xasprintf ("session-%s", session);
  struct interp_ctx *c;
  char why[256];

  *o = INTERP_DIED;
  if (!session_id_ok (session))
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "session must be 1 to 128 of A-Z a-z 0-9 . _ - (not first . or -)");
      return -1;
    }
  if ((c = session_context (srv, sb, name, out)) == NULL)
    return -1;
  if (!interp_dead (c))
    *o = interp_run (srv, c, &run);
  if (*o == INTERP_DIED || *o == INTERP_KILLED)
    {
      char line[400];
      int n = snprintf (line, sizeof line,
                        "islet: the session's python died: %s; its variables are gone (the next "
                        "call starts it anew)\n",
                        interp_why (c, why, sizeof why));
      collect_add (col, 1, line, (size_t) n);
      interp_tell_death (c);
    }
  interp_put (c);
  return 0;
}

/* /v1's answer with stdout and stderr as given (stolen); *status set. */
static json_t *
answer (enum interp_outcome o, struct collect *col, json_t *out_text, json_t *err_text, uint64_t t0,
        const struct sb_ref *sb, const char *session, const char **status)
{
  json_t *j;

  *status = o == INTERP_DONE        ? (col->error ? "error" : "completed")
            : o == INTERP_TIMED_OUT ? "timeout"
            : o == INTERP_KILLED    ? "timeout"
                                    : "error";
  j = json_pack ("{s:i,s:o,s:o,s:b,s:f,s:s,s:{s:s,s:s,s:s}}", "exit_code",
                 o == INTERP_DONE && col->error == NULL ? 0 : 1, "stdout", out_text, "stderr",
                 err_text, "truncated", col->cut, "execution_time",
                 (double) (islet_now_ns () - t0) / 1e9, "status", *status, "metadata",
                 "sandbox_type", "islet", "sandbox_id", sb->info.id, "session", session);
  if (col->error)
    {
      json_object_del (col->error, "type");
      json_object_set_new (j, "error", islet_take_ptr (&col->error));
    }
  return j;
}

void
v1_session_run (struct req *r, struct sb_ref *sb, const char *session, const char *code,
                double timeout_s, struct resp *out)
{
  struct collect col = { 0 };
  enum interp_outcome o;
  uint64_t t0 = islet_now_ns ();
  const char *status;
  json_t *j;

  if ((col.spool[0] = spool_new (r, out)) == NULL || (col.spool[1] = spool_new (r, out)) == NULL
      || session_exec (r->srv, sb, session, code, timeout_s, &col, &o, out) < 0
      || spool_check (col.spool[0], out) < 0 || spool_check (col.spool[1], out) < 0)
    goto done;
  j = answer (o, &col, spool_token (col.spool[0], SPOOL_TEXT),
              spool_token (col.spool[1], SPOOL_TEXT), t0, sb, session, &status);
  spool_reply_answer (out, 200, j, col.spool, 2);
  snprintf (out->note, sizeof out->note, "session %s, %s", session, status);
done:
  json_decref (col.error);
  spool_free (col.spool[0]);
  spool_free (col.spool[1]);
}

json_t *
v1_session_answer (struct srv *srv, const struct sb_ref *sb, const char *session, const char *code,
                   double timeout_s, const char **status, struct resp *out)
{
  struct collect col = { 0 };
  enum interp_outcome o;
  uint64_t t0 = islet_now_ns ();
  json_t *j = NULL;

  if (session_exec (srv, sb, session, code, timeout_s, &col, &o, out) == 0)
    j = answer (o, &col, tb_json_text (col.mem[0].data, col.mem[0].len),
                tb_json_text (col.mem[1].data, col.mem[1].len), t0, sb, session, status);
  json_decref (col.error);
  free (col.mem[0].data);
  free (col.mem[1].data);
  return j;
}
