/* POST /v1/execute with a `session`: the code runs in an interpreter
 * context of that name in the caller's kept sandbox (sandbox_id), so its
 * variables and imports are there for the next call with the same session
 * (daytona/interp.h).  Python only; one answer in /v1's shape, with the
 * error's name, value and traceback when the code raised. */
#include <string.h>

#include "interp.h"
#include "islet/util.h"
#include "toolbox.h"
#include "v1.h"

struct collect
{
  struct spool *text[2]; /* stdout, stderr: kept on disk until sent (spool.c) */
  json_t *error;
  bool cut;
};

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
    spool_add (c->text[type[3] == 'e'], json_string_value (text), json_string_length (text));
}

/* The session's context: made, or made again once its death was told;
 * NULL with the answer in out. */
static struct interp_ctx *
session_context (struct req *r, struct sb_ref *sb, const char *name, struct resp *out)
{
  struct interp_ctx *c = interp_get (r->srv, sb->info.id, name);
  char **env;

  if (c && !interp_death_told (c))
    return c;
  interp_put (c);
  env = sb_env (sb, NULL, out);
  if (env == NULL)
    return NULL;
  c = interp_create (r->srv, sb->info.id, env, NULL, name, out);
  islet_strv_free (env);
  return c;
}

void
v1_session_run (struct req *r, struct sb_ref *sb, const char *session, const char *code,
                double timeout_s, struct resp *out)
{
  struct collect col = { 0 };
  struct interp_run run = { .code = code,
                            .timeout_s = timeout_s,
                            .output_max = sb->info.limits.output_bytes,
                            .on_chunk = on_chunk,
                            .user = &col };
  cleanup_free char *name = islet_xasprintf ("session-%s", session);
  enum interp_outcome o = INTERP_DIED;
  struct interp_ctx *c = NULL;
  const char *status;
  uint64_t t0 = islet_now_ns ();
  char why[256];
  json_t *j;

  if (!session_id_ok (session))
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "session must be 1 to 128 of A-Z a-z 0-9 . _ - (not first . or -)");
      return;
    }
  if ((col.text[0] = spool_new (r, out)) == NULL || (col.text[1] = spool_new (r, out)) == NULL
      || (c = session_context (r, sb, name, out)) == NULL)
    goto done;
  if (!interp_dead (c))
    o = interp_run (r->srv, c, &run);
  if (o == INTERP_DIED || o == INTERP_KILLED)
    {
      char line[400];
      int n = snprintf (line, sizeof line,
                        "islet: the session's python died: %s; its variables are gone (the next "
                        "call starts it anew)\n",
                        interp_why (c, why, sizeof why));
      spool_add (col.text[1], line, (size_t) n);
      interp_tell_death (c);
    }
  if (spool_check (col.text[0], out) < 0 || spool_check (col.text[1], out) < 0)
    goto done;
  status = o == INTERP_DONE        ? (col.error ? "error" : "completed")
           : o == INTERP_TIMED_OUT ? "timeout"
           : o == INTERP_KILLED    ? "timeout"
                                   : "error";
  j = json_pack ("{s:i,s:o,s:o,s:b,s:f,s:s,s:{s:s,s:s,s:s}}", "exit_code",
                 o == INTERP_DONE && col.error == NULL ? 0 : 1, "stdout",
                 spool_token (col.text[0], SPOOL_TEXT), "stderr",
                 spool_token (col.text[1], SPOOL_TEXT), "truncated", col.cut, "execution_time",
                 (double) (islet_now_ns () - t0) / 1e9, "status", status, "metadata",
                 "sandbox_type", "islet", "sandbox_id", sb->info.id, "session", session);
  if (col.error)
    {
      json_object_del (col.error, "type");
      json_object_set_new (j, "error", islet_take_ptr (&col.error));
    }
  spool_reply_answer (out, 200, j, col.text, 2);
  snprintf (out->note, sizeof out->note, "session %s, %s", session, status);
done:
  json_decref (col.error);
  spool_free (col.text[0]);
  spool_free (col.text[1]);
  interp_put (c);
}
