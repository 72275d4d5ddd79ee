/* Toolbox: POST /env (the SDK's updateEnv): the sandbox's environment for
 * the commands, sessions and programs started after it.  It is the row's
 * env, the one create's envVars set, so it is kept across a stop and a
 * restart of isletd; processes already running keep theirs. */
#include <pthread.h>
#include <string.h>

#include "islet/util.h"
#include "toolbox.h"

/* One change at a time: each reads the env, changes it and writes it. */
static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;

static bool
name_ok (const char *k)
{
  return *k && strchr (k, '=') == NULL;
}

/* The request's three parts, checked before anything changes. */
static int
check (json_t *j, json_t **set, json_t **unset, const char **prefix, struct resp *out)
{
  const char *k;
  size_t i;
  json_t *v;

  *set = json_object_get (j, "set");
  *unset = json_object_get (j, "unset");
  *prefix = json_string_value (json_object_get (j, "unsetValuePrefix"));
  if ((*set && !json_is_null (*set) && !json_is_object (*set))
      || (*unset && !json_is_null (*unset) && !json_is_array (*unset)))
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "set must be an object of strings, unset an array of names");
      return -1;
    }
  json_object_foreach (*set, k, v)
  {
    if (!name_ok (k) || !json_is_string (v))
      {
        reply_error (out, 400, "BAD_REQUEST",
                     "set: '%s' must be a name (no '=') with a string value", k);
        return -1;
      }
  }
  json_array_foreach (*unset, i, v)
  {
    if (!json_is_string (v) || !name_ok (json_string_value (v)))
      {
        reply_error (out, 400, "BAD_REQUEST", "unset: each entry must be a name (no '=')");
        return -1;
      }
  }
  return 0;
}

void
tb_env_update (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_json json_t *env = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free char *text = NULL;
  json_t *set, *unset, *v;
  const char *prefix, *k;
  struct islet_err err;
  size_t i;
  void *tmp;

  if (j == NULL || check (j, &set, &unset, &prefix, out) < 0)
    return;
  pthread_mutex_lock (&env_lock);
  if (sb_open (r, r->params[0], &sb, out) < 0)
    goto done;
  env = owned_json_object (sb.row.env);
  json_array_foreach (unset, i, v) json_object_del (env, json_string_value (v));
  if (prefix && *prefix)
    json_object_foreach_safe (env, tmp, k, v)
    {
      if (strncmp (json_string_value (v) ?: "", prefix, strlen (prefix)) == 0
          && json_object_get (set, k) == NULL)
        json_object_del (env, k);
    }
  json_object_update (env, json_is_object (set) ? set : NULL);
  text = json_dumps (env, JSON_COMPACT);
  if (islet_store_sandbox_set_env (r->srv->store, sb.info.id, text, &err) < 0)
    reply_islet_err (out, &err, false);
  else
    reply_json (out, 200, json_object ());
done:
  pthread_mutex_unlock (&env_lock);
}
