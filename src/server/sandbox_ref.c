/* A sandbox as one API key sees it: the core's sandbox, joined with the
 * store's row that says which key owns it.  A sandbox of another key, one
 * made by the CLI, and a missing one all look the same: 404. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "islet/util.h"
#include "server.h"

/* What the core says of a sandbox that never changes while it exists (its
 * config: limits, image, creation time), by id, so that a toolbox request
 * reads no config.json.  Whether it still exists and runs is asked anew on
 * every request (islet_sandbox_running, which wakes no supervisor); ids are
 * never reused, so an entry of a removed sandbox is only unused. */
#define INFOS_MAX 1024

static pthread_mutex_t infos_lock = PTHREAD_MUTEX_INITIALIZER;
static struct islet_sandbox_info infos[INFOS_MAX];
static size_t n_infos;

static bool
info_cached (const char *id, struct islet_sandbox_info *out)
{
  bool hit = false;

  pthread_mutex_lock (&infos_lock);
  for (size_t i = 0; i < n_infos && !hit; i++)
    if (strcmp (infos[i].id, id) == 0)
      {
        *out = infos[i];
        hit = true;
      }
  pthread_mutex_unlock (&infos_lock);
  return hit;
}

static void
info_keep (const struct islet_sandbox_info *info)
{
  pthread_mutex_lock (&infos_lock);
  for (size_t i = 0; i < n_infos; i++)
    if (strcmp (infos[i].id, info->id) == 0)
      {
        pthread_mutex_unlock (&infos_lock);
        return;
      }
  if (n_infos == INFOS_MAX)
    n_infos = 0;
  infos[n_infos] = *info;
  infos[n_infos].state = ISLET_SB_STOPPED; /* never read from here */
  infos[n_infos].supervisor = 0;
  n_infos++;
  pthread_mutex_unlock (&infos_lock);
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

/* A failed lookup: whatever is not the caller's sandbox is 404. */
static void
lookup_failed (struct resp *out, const struct islet_err *err, const char *ref)
{
  if (err->kind == ISLET_E_NOTFOUND || err->kind == ISLET_E_INVALID)
    reply_error (out, 404, "NOT_FOUND", "sandbox '%s' not found", ref);
  else
    reply_islet_err (out, err, false);
}

int
sb_open (struct req *r, const char *ref, struct sb_ref *sb, struct resp *out)
{
  struct islet_err err;

  if (sb_ctx (r, sb, out) < 0)
    return -1;
  /* names are the store's, per key; the core's own names and id prefixes
   * are never looked up, so no other key's sandbox can be reached */
  if (islet_store_sandbox_lookup (r->srv->store, r->key_id, ref, &sb->row, &err) < 0
      || islet_sandbox_get (sb->ctx, sb->row.id, &sb->info, &err) < 0)
    {
      lookup_failed (out, &err, ref);
      return -1;
    }
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", sb->info.id);
  return 0;
}

static int
by_id (const void *a, const void *b)
{
  return strcmp (((const struct islet_sandbox_info *) a)->id,
                 ((const struct islet_sandbox_info *) b)->id);
}

int
core_all (struct islet_ctx *ctx, struct islet_sandbox_info **all, size_t *n,
          struct islet_err *err)
{
  if (islet_sandbox_list (ctx, all, n, err) < 0)
    return -1;
  qsort (*all, *n, sizeof **all, by_id);
  return 0;
}

const struct islet_sandbox_info *
core_find (const struct islet_sandbox_info *all, size_t n, const char *id)
{
  struct islet_sandbox_info key;

  snprintf (key.id, sizeof key.id, "%s", id);
  return bsearch (&key, all, n, sizeof *all, by_id);
}

int
tb_open (struct req *r, struct sb_ref *sb, struct resp *out)
{
  return tb_open_ref (r, r->params[0], sb, out);
}

/* sb_open for a request into a running sandbox: the same answers, from the
 * caches when the sandbox is known and runs; anything else (not cached, not
 * running, gone) is asked of the core as sb_open does, for the exact
 * answer. */
static int
tb_sb_open (struct req *r, const char *ref, struct sb_ref *sb, struct resp *out)
{
  struct islet_err err;

  if (sb_ctx (r, sb, out) < 0)
    return -1;
  if (islet_store_sandbox_lookup (r->srv->store, r->key_id, ref, &sb->row, &err) < 0)
    {
      lookup_failed (out, &err, ref);
      return -1;
    }
  if (info_cached (sb->row.id, &sb->info) && islet_sandbox_running (sb->ctx, sb->row.id))
    sb->info.state = ISLET_SB_RUNNING;
  else if (islet_sandbox_get (sb->ctx, sb->row.id, &sb->info, &err) < 0)
    {
      lookup_failed (out, &err, ref);
      return -1;
    }
  else
    info_keep (&sb->info);
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", sb->info.id);
  return 0;
}

int
tb_open_ref (struct req *r, const char *ref, struct sb_ref *sb, struct resp *out)
{
  struct islet_err err;

  if (tb_sb_open (r, ref, sb, out) < 0)
    return -1;
  if (sb->info.state != ISLET_SB_RUNNING)
    {
      reply_error (out, 409, "CONFLICT", "sandbox '%s' is not started", ref);
      return -1;
    }
  /* activity is kept in whole seconds: one write per second is enough */
  if (sb->row.last_activity != (int64_t) time (NULL)
      && islet_store_sandbox_touch (r->srv->store, sb->info.id, &err) < 0)
    fprintf (stderr, "isletd: %s\n", err.msg);
  return 0;
}

static json_t *
object_or_empty (const char *text)
{
  json_t *j = text ? json_loads (text, 0, NULL) : NULL;
  if (!json_is_object (j))
    {
      json_decref (j);
      j = json_object ();
    }
  return j;
}

/* A number of cores or GiB: an integer when it is one. */
static json_t *
amount (uint64_t milli)
{
  if (milli % 1000 == 0)
    return json_integer ((json_int_t) (milli / 1000));
  return json_real ((double) milli / 1000.0);
}

char *
sb_toolbox_url (struct req *r)
{
  const char *host = req_header (r, "Host");

  if (host && *host && strpbrk (host, "/ \"\\") == NULL)
    return islet_xasprintf ("http://%s/toolbox", host);
  return islet_xasprintf ("%s/toolbox", r->srv->url);
}

json_t *
sb_dto (struct req *r, const struct sb_ref *sb, const char *state)
{
  const struct islet_limits *l = &sb->info.limits;
  json_t *labels = object_or_empty (sb->row.labels);
  cleanup_free char *org = islet_xasprintf ("key-%lld", (long long) sb->row.key_id);
  cleanup_free char *tb = sb_toolbox_url (r);
  char created[32], updated[32], activity[32];
  json_t *j;

  if (state == NULL)
    state = sb->info.state == ISLET_SB_RUNNING ? "started" : "stopped";
  json_object_set_new (labels, "code-toolbox-language", json_string (sb->row.language));
  iso_time (sb->info.created, created);
  iso_time (sb->row.updated, updated);
  iso_time (sb->row.last_activity, activity);
  j = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:b,s:b,s:s}", "id", sb->info.id, "organizationId",
                 org, "name", sb->row.name ? sb->row.name : sb->info.name, "snapshot", sb->info.image, "user", "root", "env",
                 object_or_empty (sb->row.env), "labels", labels, "public", 0, "networkBlockAll", 1,
                 "target", sb->row.target);
  json_object_set_new (j, "cpu", amount (l->cpu_millis));
  json_object_set_new (j, "gpu", json_integer (0));
  json_object_set_new (j, "memory", amount (l->memory_mb * 1000 / 1024));
  json_object_set_new (j, "disk", amount (l->disk_mb * 1000 / 1024));
  json_object_update_new (
      j,
      json_pack ("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b}", "state",
                 state, "desiredState",
                 strcmp (state, "destroyed") == 0 ? "destroyed"
                 : strcmp (state, "started") == 0 ? "started"
                                                  : "stopped",
                 "backupState", "None", "autoStopInterval", (json_int_t) sb->row.auto_stop,
                 "autoArchiveInterval", (json_int_t) sb->row.auto_archive, "autoDeleteInterval",
                 (json_int_t) sb->row.auto_delete, "autoPauseInterval", (json_int_t) 0, "volumes",
                 json_array (), "createdAt", created, "updatedAt", updated, "lastActivityAt",
                 activity, "sandboxClass", "container", "runnerId", "local", "daemonVersion",
                 "isletd-0.1.0", "toolboxProxyUrl", tb, "recoverable", 0, "kvm", 0));
  /* islet's own view, which the Daytona fields round (the CLI reads it) */
  json_object_set_new (
      j, "islet",
      json_pack ("{s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:I,s:I,s:I,s:b}", "limits", "memory_mb",
                 (json_int_t) l->memory_mb, "cpu_millis", (json_int_t) l->cpu_millis, "pids",
                 (json_int_t) l->pids, "disk_mb", (json_int_t) l->disk_mb, "timeout_s",
                 (json_int_t) l->timeout_s, "output_bytes", (json_int_t) l->output_bytes,
                 "nofile", (json_int_t) l->nofile, "created", (json_int_t) sb->info.created,
                 "created_nsec", (json_int_t) sb->info.created_nsec, "uid_base",
                 (json_int_t) sb->info.uid_base, "disk_enforced", sb->info.disk_enforced));
  return j;
}

static bool
env_name_ok (const char *k)
{
  return *k && strchr (k, '=') == NULL;
}

char **
sb_env (const struct sb_ref *sb, json_t *extra, struct resp *out)
{
  json_t *all = object_or_empty (sb->row.env);
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
  json_object_foreach (all, k, v) if (json_is_string (v)) env[n++]
      = islet_xasprintf ("%s=%s", k, json_string_value (v));
  json_decref (all);
  return env;
}

