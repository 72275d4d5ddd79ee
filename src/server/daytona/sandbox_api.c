/* The control plane: /api/sandbox... as the Daytona SDK calls it, plus
 * /api/audit.  A face of the middle (owned.h): it parses, asks the middle,
 * answers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "islet/lang.h"
#include "islet/oci.h"
#include "islet/util.h"
#include "server.h"

/* ---- reading a request's fields ---- */

/* Each returns -1 with a 400 in out when the field is there with a wrong type. */
int
field_string (json_t *j, const char *k, const char **v, struct resp *out)
{
  json_t *f = json_object_get (j, k);
  if (f == NULL || json_is_null (f))
    return 0;
  if (!json_is_string (f))
    {
      reply_error (out, 400, "BAD_REQUEST", "%s must be a string", k);
      return -1;
    }
  *v = json_string_value (f);
  return 0;
}

/* Daytona's amounts (cpu, memory, disk: the limits table's names) into l;
 * *given says whether any was. */
static int
field_amounts (json_t *j, struct islet_limits *l, bool *given, struct resp *out)
{
  struct islet_err err;

  if (islet_limits_take (j, ISLET_FACE_DAYTONA, l, given, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return -1;
    }
  return 0;
}

static int
field_minutes (json_t *j, const char *k, int64_t min, int64_t *v, struct resp *out)
{
  json_t *f = json_object_get (j, k);
  if (f == NULL || json_is_null (f))
    return 0;
  if (!json_is_integer (f) || json_integer_value (f) < min)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s must be an integer of at least %lld minutes", k,
                   (long long) min);
      return -1;
    }
  *v = json_integer_value (f);
  return 0;
}

/* islet's own limits, finer than cpu/memory/disk: {"limits": {"pids": 64,
 * ...}} with any of the fields of struct islet_limits; they win over the
 * Daytona amounts. */
static int
field_limits (json_t *j, struct islet_limits *l, struct resp *out)
{
  json_t *f = json_object_get (j, "limits"), *v;
  const char *k;

  if (f == NULL || json_is_null (f))
    return 0;
  if (!json_is_object (f))
    {
      reply_error (out, 400, "BAD_REQUEST", "limits must be an object");
      return -1;
    }
  json_object_foreach (f, k, v)
  {
    const struct islet_limit_def *d = NULL;
    json_int_t n = json_integer_value (v);

    for (size_t i = 0; i < ISLET_NLIMITS && d == NULL; i++)
      if (strcmp (islet_limit_defs[i].key, k) == 0)
        d = &islet_limit_defs[i];
    if (d == NULL)
      {
        reply_error (out, 400, "BAD_REQUEST", "limits.%s is not a limit", k);
        return -1;
      }
    if (!json_is_integer (v) || n < 0 || (!d->wide && n > UINT32_MAX))
      {
        reply_error (out, 400, "BAD_REQUEST", "limits.%s must be a non-negative integer", k);
        return -1;
      }
    islet_limit_set (l, d, (uint64_t) n);
  }
  return 0;
}

static bool
known_language (const char *s)
{
  const struct islet_lang *l = islet_lang_find (s);

  return l && l->daytona;
}

/* An object of strings; its language label is taken out into *language. */
static json_t *
field_labels (json_t *j, const char *k, const char **language, struct resp *out)
{
  json_t *f = json_object_get (j, k), *v;
  const char *name;

  if (f == NULL || json_is_null (f))
    return json_object ();
  if (!json_is_object (f))
    goto bad;
  json_object_foreach (f, name, v) if (!json_is_string (v)) goto bad;
  f = json_deep_copy (f);
  v = json_object_get (f, "code-toolbox-language");
  if (v && language)
    {
      if (!known_language (json_string_value (v)))
        {
          reply_error (out, 400, "BAD_REQUEST",
                       "language '%s' is not one of python, javascript, typescript",
                       json_string_value (v));
          json_decref (f);
          return NULL;
        }
      /* from j, which outlives the copy's edits */
      *language = json_string_value (
          json_object_get (json_object_get (j, k), "code-toolbox-language"));
    }
  return f;
bad:
  reply_error (out, 400, "BAD_REQUEST", "%s must be an object of strings", k);
  return NULL;
}

/* ---- create ---- */

/* buildInfo: the SDK sends create({image: 'ref'}) as the Dockerfile
 * "FROM ref\n", which asks for nothing but that image, so islet takes it as
 * the image (pulled if it is not in the store).  Any other Dockerfile is
 * built (*dockerfile), with the context files (Image.addLocalFile,
 * addLocalDir) the SDK uploaded to object storage, named by their hashes
 * (*contexts; object_storage.c), once its text is one the build reads
 * (a 400 naming the line that is not).  All malloc'd. */
int
daytona_build_info (json_t *j, char **from, char **dockerfile, char ***contexts, struct resp *out)
{
  json_t *b = json_object_get (j, "buildInfo"), *ctx, *h;
  const char *df, *ref, *end;
  struct islet_err err = { 0 };
  size_t i;

  if (b == NULL || json_is_null (b) || (json_is_object (b) && json_object_size (b) == 0))
    return 0;
  ctx = json_object_get (b, "contextHashes");
  df = json_string_value (json_object_get (b, "dockerfileContent"));
  if (!json_is_object (b) || df == NULL)
    {
      reply_error (out, 400, "BAD_REQUEST", "buildInfo must be an object with dockerfileContent");
      return -1;
    }
  if (ctx && !json_is_null (ctx) && !json_is_array (ctx))
    {
      reply_error (out, 400, "BAD_REQUEST", "buildInfo.contextHashes must be an array of strings");
      return -1;
    }
  if (json_array_size (ctx) > BUILD_CONTEXTS_MAX)
    {
      reply_error (out, 400, "BAD_REQUEST", "buildInfo.contextHashes: at most %d contexts",
                   BUILD_CONTEXTS_MAX);
      return -1;
    }
  if (json_array_size (ctx) > 0)
    {
      *contexts = islet_xcalloc (json_array_size (ctx) + 1, sizeof **contexts);
      json_array_foreach (ctx, i, h)
      {
        if (!json_is_string (h))
          {
            reply_error (out, 400, "BAD_REQUEST",
                         "buildInfo.contextHashes must be an array of strings");
            return -1;
          }
        (*contexts)[i] = islet_xstrdup (json_string_value (h));
      }
    }
  ref = df;
  if (strncasecmp (df, "FROM", 4) == 0 && (df[4] == ' ' || df[4] == '\t'))
    {
      ref = df + 4 + strspn (df + 4, " \t");
      end = ref + strcspn (ref, " \t\r\n");
      if (end != ref && *ref != '-' && end[strspn (end, " \t\r\n")] == '\0' && !*contexts)
        {
          *from = strndup (ref, (size_t) (end - ref));
          return 0;
        }
    }
  /* what the build would refuse, refused now: before a row, a pull or a slot */
  if (islet_dockerfile_check (df, *contexts != NULL, &err) < 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "buildInfo.dockerfileContent: %s", err.msg);
      return -1;
    }
  *dockerfile = islet_xstrdup (df);
  return 0;
}

/* A create's body: the middle's spec (its image: from, once built or
 * pulled), and what the face does around the create. */
struct create_args
{
  struct owned_spec spec; /* labels and env: owned references */
  const char *snapshot;
  char *from;       /* buildInfo's FROM image, when that is all it says */
  char *dockerfile; /* else the Dockerfile to build */
  char **contexts;  /* and its context files' hashes, or NULL */
  int64_t ttl;      /* minutes; 0: none */
};

/* Daytona's rule: a sandbox is stopped or paused when idle, not both. */
static int
idle_rule (int64_t auto_stop, int64_t auto_pause, struct islet_err *err)
{
  if (auto_stop > 0 && auto_pause > 0)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "autoPauseInterval %lld with autoStopInterval %lld: at most one of them "
                       "may be non-zero (set the other to 0 first)",
                       (long long) auto_pause, (long long) auto_stop);
  return 0;
}

static int
one_idle_action (int64_t auto_stop, int64_t auto_pause, struct resp *out)
{
  struct islet_err err;

  if (idle_rule (auto_stop, auto_pause, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return -1;
    }
  return 0;
}

static int
parse_create (json_t *j, enum islet_net_mode net_default, struct create_args *a, struct resp *out)
{
  struct owned_spec *sp = &a->spec;
  struct islet_err err;

  if (create_fields_check (j, out) < 0)
    return -1;
  if (owned_spec_init (sp, ISLET_FACE_DAYTONA, j, NULL, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return -1;
    }
  sp->language = "python";
  sp->target = "local";
  if (field_string (j, "name", &sp->name, out) < 0
      || field_string (j, "snapshot", &a->snapshot, out) < 0
      || field_string (j, "target", &sp->target, out) < 0
      || field_minutes (j, "autoStopInterval", 0, &sp->auto_stop, out) < 0
      || field_minutes (j, "autoArchiveInterval", 0, &sp->auto_archive, out) < 0
      || field_minutes (j, "autoDeleteInterval", -1, &sp->auto_delete, out) < 0
      || daytona_build_info (j, &a->from, &a->dockerfile, &a->contexts, out) < 0
      || field_minutes (j, "autoPauseInterval", 0, &sp->auto_pause, out) < 0
      || field_minutes (j, "ttlMinutes", 0, &a->ttl, out) < 0
      || one_idle_action (sp->auto_stop, sp->auto_pause, out) < 0
      || daytona_net_fields (j, NULL, net_default, &sp->net, out) < 0)
    return -1;
  if (json_object_get (j, "public") && !json_is_boolean (json_object_get (j, "public"))
      && !json_is_null (json_object_get (j, "public")))
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "public must be a boolean (true: the sandbox's preview links need no token)");
      return -1;
    }
  sp->is_public = json_is_true (json_object_get (j, "public"));
  if ((a->from || a->dockerfile) && a->snapshot)
    {
      reply_error (out, 400, "BAD_REQUEST", "snapshot and buildInfo both name an image: give one");
      return -1;
    }
  if ((sp->labels = field_labels (j, "labels", &sp->language, out)) == NULL
      || (sp->env = field_labels (j, "env", NULL, out)) == NULL)
    return -1;
  if (field_limits (j, &sp->limits, out) < 0)
    return -1;
  if (islet_limits_validate (&sp->limits, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return -1;
    }
  return 0;
}

/* Answer with the sandbox the middle made or changed. */
static void
reply_owned (struct req *r, struct resp *out, const struct owned *o, int rc,
             const struct islet_err *err, const char *state)
{
  struct owner k = req_owner (r);

  if (o->info.id[0])
    snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", o->info.id);
  if (rc < 0)
    reply_islet_err (out, err, false);
  else
    reply_json (out, 200, owned_dto (&k, o, state));
}

void
api_sandbox_create (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  struct create_args a = { 0 };
  cleanup_owned struct owned o = { 0 };
  cleanup_free struct islet_volume_mount *vols = NULL;
  struct owner k = req_owner (r);
  struct islet_store_snapshot snap = { 0 }; /* what spec borrows of the key's snapshot */
  const char *state = NULL;
  struct islet_err err;
  size_t n_vols = 0;
  int rc;

  if (j == NULL || parse_create (j, r->srv->net_default, &a, out) < 0
      || volumes_field (r, j, &vols, &n_vols, out) < 0)
    goto out;
  json_object_del (a.spec.labels, "code-toolbox-language");
  a.spec.image = a.from;
  a.spec.volumes = vols;
  a.spec.n_volumes = n_vols;
  /* an image that is not here is pulled, a Dockerfile built, while the
     sandbox waits in its own states (owned_pending.c); the answer is at once */
  rc = a.from ? 0 : owned_snapshot_spec (&k, a.snapshot, &a.spec, &snap, &err);
  if (rc == 0 && a.dockerfile)
    {
      /* as Daytona answers: the SDK follows the build's log only then */
      state = "pending_build";
      rc = owned_create_pending (&k, &a.spec, NULL, a.dockerfile, a.contexts, &o, &err);
    }
  else if (rc == 0 && a.from && owned_image_here (&k, a.from, &err) < 0)
    /* not here (the default image is built by the operator, never pulled) */
    rc = err.kind == ISLET_E_INVALID && strcmp (a.from, "default") != 0
             ? owned_create_pending (&k, &a.spec, a.from, NULL, NULL, &o, &err)
             : -1;
  else if (rc == 0)
    rc = owned_create (&k, &a.spec, &o, &err);
  /* a time to live that cannot be kept takes the sandbox with it */
  if (rc == 0 && a.ttl > 0
      && islet_store_ttl_set (r->srv->store, o.info.id, now_s () + a.ttl * r->srv->minute_s, &err)
             < 0)
    {
      struct islet_err derr;
      if (owned_destroy (&k, &o, &derr) < 0)
        fprintf (stderr, "isletd: remove the sandbox %s: %s\n", o.info.id, derr.msg);
      rc = -1;
    }
  reply_owned (r, out, &o, rc, &err, state);
  islet_store_snapshot_fini (&snap);
out:
  json_decref (a.spec.labels);
  json_decref (a.spec.env);
  free (a.from);
  free (a.dockerfile);
  islet_strv_free (a.contexts);
}

/* ---- read ---- */

void
api_sandbox_get (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };

  if (sb_open (r, r->params[0], &sb, out) == 0)
    reply_json (out, 200, sb_dto (r, &sb, NULL));
}

void
api_sandbox_toolbox_url (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free char *url = NULL;

  if (sb_open (r, r->params[0], &sb, out) < 0)
    return;
  url = sb_toolbox_url (r);
  reply_json (out, 200, json_pack ("{s:s}", "url", url));
}

/* ---- lifecycle ---- */

typedef int (*owned_fn) (const struct owner *k, struct owned *o, struct islet_err *err);

static void
lifecycle (struct req *r, struct resp *out, owned_fn fn, const char *state)
{
  cleanup_owned struct owned o = { 0 };
  struct owner k = req_owner (r);
  struct islet_err err;
  int rc;

  rc = owned_open (&k, r->params[0], &o, &err);
  if (rc == 0 && fn != owned_start)
    interp_spares_drop (r->srv, o.info.id); /* its python started ahead, ended first */
  if (rc == 0)
    rc = fn (&k, &o, &err);
  reply_owned (r, out, &o, rc, &err, state);
}

void
api_sandbox_start (struct req *r, struct resp *out)
{
  lifecycle (r, out, owned_start, NULL);
}

void
api_sandbox_stop (struct req *r, struct resp *out)
{
  lifecycle (r, out, owned_stop, NULL);
}

void
api_sandbox_pause (struct req *r, struct resp *out)
{
  lifecycle (r, out, owned_pause, NULL);
}

void
api_sandbox_archive (struct req *r, struct resp *out)
{
  lifecycle (r, out, owned_archive, NULL);
}

/* Daytona's units: CPUs, and GB of memory and disk as at create. */
void
api_sandbox_resize (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_owned struct owned o = { 0 };
  struct owner k = req_owner (r);
  struct islet_limits l = { 0 };
  struct islet_resize rq;
  struct islet_err err;
  bool given;
  int rc;

  if (j == NULL || field_amounts (j, &l, &given, out) < 0)
    return;
  if (!given)
    {
      reply_error (out, 400, "BAD_REQUEST", "resize: give cpu, memory or disk");
      return;
    }
  rq = (struct islet_resize){
    .cpu_millis = l.cpu_millis,
    .memory_mb = l.memory_mb,
    .disk_mb = l.disk_mb,
  };
  rc = owned_open (&k, r->params[0], &o, &err);
  if (rc == 0)
    rc = owned_resize (&k, &o, &rq, &err);
  reply_owned (r, out, &o, rc, &err, NULL);
}

/* {name}: a new sandbox of the key with a copy of this one's files as they
 * are now (copy-on-write), its image, limits, language, labels, env and
 * intervals; started. */
void
api_sandbox_fork (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_json json_t *labels = NULL;
  cleanup_json json_t *env = NULL;
  cleanup_owned struct owned src = { 0 };
  cleanup_owned struct owned o = { 0 };
  struct owner k = req_owner (r);
  const char *name = NULL;
  struct owned_spec spec;
  struct islet_err err;
  int rc;

  if (j == NULL || field_string (j, "name", &name, out) < 0)
    return;
  rc = owned_open (&k, r->params[0], &src, &err);
  if (rc == 0)
    {
      labels = owned_json_object (src.row.labels);
      env = owned_json_object (src.row.env);
      spec = (struct owned_spec){
        .name = name,
        .fork = src.info.id,
        .language = src.row.language,
        .target = src.row.target,
        .labels = labels,
        .env = env,
        .limits = src.info.limits,
        .net = src.info.net,
        .auto_stop = src.row.auto_stop,
        .auto_archive = src.row.auto_archive,
        .auto_delete = src.row.auto_delete,
        .auto_pause = src.row.auto_pause,
      };
      rc = owned_create (&k, &spec, &o, &err);
    }
  reply_owned (r, out, &o, rc, &err, NULL);
}

/* POST /api/sandbox/{id}/network-settings (updateNetworkSettings): the
 * fields onto the sandbox's network (sandbox_net.c), applied at once */
void
api_sandbox_network (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_owned struct owned o = { 0 };
  struct owner k = req_owner (r);
  struct islet_net net;
  struct islet_err err;
  int rc;

  if (j == NULL)
    return;
  if (json_object_get (j, "networkBlockAll") == NULL
      && json_object_get (j, "networkAllowList") == NULL
      && json_object_get (j, "domainAllowList") == NULL)
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "give networkBlockAll, networkAllowList or domainAllowList");
      return;
    }
  rc = owned_open (&k, r->params[0], &o, &err);
  if (rc == 0 && daytona_net_fields (j, &o.info.net, r->srv->net_default, &net, out) < 0)
    return;
  if (rc == 0)
    rc = owned_set_network (&k, &o, &net, &err);
  reply_owned (r, out, &o, rc, &err, NULL);
}

void
api_sandbox_delete (struct req *r, struct resp *out)
{
  lifecycle (r, out, owned_destroy, "destroyed");
}

/* ---- Daytona fields islet only stores ---- */

/* A labels request's change of the row: the labels (without the
 * language's), and the language if they name one. */
struct labels_change
{
  const char *labels, *language;
};

static int
labels_set (struct islet_store_sandbox *row, const void *arg, struct islet_err *err)
{
  const struct labels_change *c = arg;

  (void) err;
  free (row->labels);
  row->labels = islet_xstrdup (c->labels);
  if (c->language)
    {
      free (row->language);
      row->language = islet_xstrdup (c->language);
    }
  row->updated = now_s ();
  return 0;
}

void
api_sandbox_labels (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_json json_t *labels = NULL;
  cleanup_free char *text = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  const char *language = NULL;
  struct islet_err err;
  json_t *shown;

  if (j == NULL)
    return;
  if (!json_is_object (json_object_get (j, "labels")))
    {
      reply_error (out, 400, "BAD_REQUEST", "labels must be an object of strings");
      return;
    }
  if ((labels = field_labels (j, "labels", &language, out)) == NULL
      || sb_open (r, r->params[0], &sb, out) < 0)
    return;
  shown = json_deep_copy (labels);
  json_object_del (labels, "code-toolbox-language");
  text = json_dumps (labels, JSON_COMPACT);
  if (islet_store_sandbox_change (r->srv->store, &sb.row, labels_set,
                                  &(struct labels_change){ text, language }, &err)
      < 0)
    {
      json_decref (shown);
      reply_islet_err (out, &err, false);
      return;
    }
  json_object_set_new (shown, "code-toolbox-language", json_string (sb.row.language));
  reply_json (out, 200, json_pack ("{s:o}", "labels", shown));
}

/* The path's second segment as minutes, at least min; -1 with a 400 in out. */
static int
path_minutes (struct req *r, const char *what, int64_t min, int64_t *v, struct resp *out)
{
  char *end;

  errno = 0;
  *v = strtoll (r->params[1], &end, 10);
  if (*end || errno || *v < min || *v > 1000000000)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s '%s' is not a number of minutes", what,
                   r->params[1]);
      return -1;
    }
  return 0;
}

/* An interval request's change of the row: one field, within the rule
 * on the other intervals as they are now. */
struct interval_change
{
  size_t field; /* offset in struct islet_store_sandbox */
  int64_t minutes;
};

static int
interval_set (struct islet_store_sandbox *row, const void *arg, struct islet_err *err)
{
  const struct interval_change *c = arg;
  struct islet_store_sandbox next = *row;

  *(int64_t *) ((char *) &next + c->field) = c->minutes;
  if (idle_rule (next.auto_stop, next.auto_pause, err) < 0)
    return -1;
  *(int64_t *) ((char *) row + c->field) = c->minutes;
  row->updated = now_s ();
  return 0;
}

static void
set_interval (struct req *r, struct resp *out, size_t field, int64_t min)
{
  cleanup_sb struct sb_ref sb = { 0 };
  struct interval_change c = { .field = field };
  struct islet_err err;

  if (path_minutes (r, "interval", min, &c.minutes, out) < 0
      || sb_open (r, r->params[0], &sb, out) < 0)
    return;
  if (islet_store_sandbox_change (r->srv->store, &sb.row, interval_set, &c, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  reply_json (out, 200, sb_dto (r, &sb, NULL));
}

/* POST /api/sandbox/{id}/ttl/{minutes}: destroyed that many minutes from
 * now whatever its state; 0 takes the time to live away. */
void
api_sandbox_ttl (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  struct islet_err err;
  int64_t v;

  if (path_minutes (r, "ttl", 0, &v, out) < 0 || sb_open (r, r->params[0], &sb, out) < 0)
    return;
  if (islet_store_ttl_set (r->srv->store, sb.info.id, v ? now_s () + v * r->srv->minute_s : 0, &err)
      < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  reply_json (out, 200, sb_dto (r, &sb, NULL));
}

void
api_sandbox_autostop (struct req *r, struct resp *out)
{
  set_interval (r, out, offsetof (struct islet_store_sandbox, auto_stop), 0);
}

void
api_sandbox_autopause (struct req *r, struct resp *out)
{
  set_interval (r, out, offsetof (struct islet_store_sandbox, auto_pause), 0);
}

void
api_sandbox_autoarchive (struct req *r, struct resp *out)
{
  set_interval (r, out, offsetof (struct islet_store_sandbox, auto_archive), 0);
}

void
api_sandbox_autodelete (struct req *r, struct resp *out)
{
  set_interval (r, out, offsetof (struct islet_store_sandbox, auto_delete), -1);
}

void
api_sandbox_activity (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  struct islet_err err;

  if (sb_open (r, r->params[0], &sb, out) < 0)
    return;
  if (islet_store_sandbox_touch (r->srv->store, sb.info.id, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  reply_json (out, 200, json_object ());
}

/* ---- audit ---- */

void
api_audit_list (struct req *r, struct resp *out)
{
  const char *q = req_query (r, "limit"), *ref = req_query (r, "sandbox");
  uint64_t limit = 100;
  struct islet_err err;
  char id[ISLET_ID_LEN + 1];
  json_t *items;

  if (q && (islet_parse_u64 (q, 1000, &limit, &err) < 0 || limit == 0))
    {
      reply_error (out, 400, "BAD_REQUEST", "limit must be a number from 1 to 1000");
      return;
    }
  /* ?sandbox= an id or a name of the caller's, present or deleted: the
   * records of a deleted sandbox stay, so an id is taken as it is */
  if (ref && *ref && islet_store_sandbox_find (r->srv->store, r->key_id, ref, id, &err) < 0)
    {
      if (err.kind != ISLET_E_NOTFOUND)
        {
          reply_islet_err (out, &err, false);
          return;
        }
      snprintf (id, sizeof id, "%.*s", ISLET_ID_LEN, ref);
    }
  if (islet_store_audit_list (r->srv->store, r->key_id, ref && *ref ? id : NULL, (int) limit,
                              &items, &err)
      < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  /* records that could not be written (a full disk) are counted, not hidden */
  reply_json (out, 200,
              json_pack ("{s:o,s:I}", "items", items, "unrecorded",
                         (json_int_t) islet_store_audit_lost (r->srv->store)));
}
