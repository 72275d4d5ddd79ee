/* The HTTP faces' view of the middle (owned.c): a request's key as an
 * owner, the sandbox a request names, its Daytona object and env. */
#include <string.h>
#include <time.h>

#include "islet/util.h"
#include "server.h"

struct owner
req_owner (struct req *r)
{
  return (struct owner){ .srv = r->srv, .key_id = r->key_id, .host = req_header (r, "Host") };
}

int
sb_ctx (struct req *r, struct sb_ref *sb, struct resp *out)
{
  (void) out;
  sb->ctx = r->srv->ctx; /* one for the whole server: opening one per request
                            would open the disk pool each time */
  return 0;
}

void
sb_close (struct sb_ref *sb)
{
  sb->ctx = NULL;
  islet_store_sandbox_fini (&sb->row);
}

/* The middle's answer into sb (which takes o's row), or its error. */
static int
sb_take (struct req *r, struct sb_ref *sb, struct owned *o, int rc, const struct islet_err *err,
         struct resp *out)
{
  if (rc < 0)
    {
      reply_islet_err (out, err, false);
      return -1;
    }
  sb->info = o->info;
  sb->row = o->row;
  o->row = (struct islet_store_sandbox){ 0 };
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", sb->info.id);
  return 0;
}

int
sb_open (struct req *r, const char *ref, struct sb_ref *sb, struct resp *out)
{
  struct owner k = req_owner (r);
  struct owned o;
  struct islet_err err;

  (void) sb_ctx (r, sb, out);
  return sb_take (r, sb, &o, owned_open (&k, ref, &o, &err), &err, out);
}

int
tb_open (struct req *r, struct sb_ref *sb, struct resp *out)
{
  return tb_open_ref (r, r->params[0], sb, out);
}

int
tb_open_ref (struct req *r, const char *ref, struct sb_ref *sb, struct resp *out)
{
  struct owner k = req_owner (r);
  struct owned o;
  struct islet_err err;

  (void) sb_ctx (r, sb, out);
  if (sb_take (r, sb, &o, owned_open_fast (&k, ref, &o, &err), &err, out) < 0)
    return -1;
  if (sb->info.state != ISLET_SB_RUNNING)
    {
      reply_error (out, 409, "CONFLICT", "sandbox '%s' is not started (%s)", ref,
                   sb->info.state == ISLET_SB_PAUSED ? "paused" : "stopped");
      return -1;
    }
  /* activity is kept in whole seconds: one write per second is enough */
  if (sb->row.last_activity != (int64_t) time (NULL)
      && islet_store_sandbox_touch (r->srv->store, sb->info.id, &err) < 0)
    fprintf (stderr, "isletd: %s\n", err.msg);
  return 0;
}

char *
sb_toolbox_url (struct req *r)
{
  struct owner k = req_owner (r);

  return owned_toolbox_url (&k);
}

json_t *
sb_dto (struct req *r, const struct sb_ref *sb, const char *state)
{
  struct owner k = req_owner (r);
  const struct owned o = { .info = sb->info, .row = sb->row };

  return owned_dto (&k, &o, state);
}

static bool
env_name_ok (const char *k)
{
  return *k && strchr (k, '=') == NULL;
}

char **
sb_env (const struct sb_ref *sb, json_t *extra, struct resp *out)
{
  json_t *all = owned_json_object (sb->row.env);
  const char *k;
  json_t *v;
  char **env;
  size_t n = 0;

  if (extra && !json_is_object (extra))
    {
      json_decref (all);
      reply_error (out, 400, "BAD_REQUEST", "envs must be an object of strings");
      return NULL;
    }
  json_object_foreach (extra, k, v)
  {
    if (!json_is_string (v) || !env_name_ok (k))
      {
        json_decref (all);
        reply_error (out, 400, "BAD_REQUEST", "envs: '%s' must be a name with a string value", k);
        return NULL;
      }
    json_object_set (all, k, v);
  }
  env = islet_xcalloc (json_object_size (all) + 1, sizeof *env);
  json_object_foreach (all, k, v) if (json_is_string (v)) env[n++] = islet_xasprintf (
      "%s=%s", k, json_string_value (v));
  json_decref (all);
  return env;
}
