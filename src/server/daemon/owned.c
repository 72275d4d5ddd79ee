/* isletd's middle (see owned.h): a sandbox as one API key sees it. */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "islet/config.h"
#include "islet/contain.h"
#include "islet/limits.h"
#include "islet/util.h"
#include "owned.h"
#include "server.h"

void
owned_fini (struct owned *o)
{
  islet_store_sandbox_fini (&o->row);
}

/* ---- open ---- */

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

/* The tenancy rule, the one place it is written: whatever is not the key's
 * sandbox is the same "no sandbox". */
static int
not_found (const char *ref, struct islet_err *err)
{
  if (err->kind == ISLET_E_NOTFOUND || err->kind == ISLET_E_INVALID)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox '%s'", ref ? ref : "");
  return -1;
}

/* The core's details under the name the key knows. */
static void
take_name (struct owned *o)
{
  if (o->row.name)
    snprintf (o->info.name, sizeof o->info.name, "%s", o->row.name);
}

static int
open_row (const struct owner *k, const char *ref, struct owned *o, struct islet_err *err)
{
  *o = (struct owned){ 0 };
  /* names are the store's, per key; the core's own names and id prefixes
   * are never looked up, so no other key's sandbox can be reached */
  if (ref == NULL || islet_store_sandbox_lookup (k->srv->store, k->key_id, ref, &o->row, err) < 0)
    return not_found (ref, err);
  return 0;
}

static bool
pending (const struct islet_store_sandbox *row)
{
  return row->phase == ISLET_PHASE_BUILDING || row->phase == ISLET_PHASE_FAILED;
}

/* What a sandbox whose image is not made yet (or failed) cannot do. */
static int
refuse_pending (const struct owner *k, const struct owned *o, const char *verb,
                struct islet_err *err)
{
  cleanup_free char *reason = NULL;
  const char *state = owned_pending_state (k->srv, &o->row, &reason);

  return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox '%s' is %s: it cannot %s%s",
                     o->row.name ? o->row.name : o->row.id, state, verb,
                     o->row.phase == ISLET_PHASE_FAILED ? " (delete it)"
                                                        : " before its image is made");
}

int
owned_open (const struct owner *k, const char *ref, struct owned *o, struct islet_err *err)
{
  if (open_row (k, ref, o, err) < 0)
    return -1;
  if (pending (&o->row))
    {
      owned_pending_info (&o->row, &o->info);
      take_name (o);
      return 0;
    }
  if (islet_sandbox_get (k->srv->ctx, o->row.id, &o->info, err) < 0)
    {
      owned_fini (o);
      return not_found (ref, err);
    }
  take_name (o);
  return 0;
}

int
owned_open_fast (const struct owner *k, const char *ref, struct owned *o, struct islet_err *err)
{
  if (open_row (k, ref, o, err) < 0)
    return -1;
  if (pending (&o->row))
    {
      refuse_pending (k, o, "serve requests", err);
      owned_fini (o);
      return -1;
    }
  if (info_cached (o->row.id, &o->info) && islet_sandbox_running (k->srv->ctx, o->row.id))
    o->info.state = ISLET_SB_RUNNING;
  else if (islet_sandbox_get (k->srv->ctx, o->row.id, &o->info, err) < 0)
    {
      owned_fini (o);
      return not_found (ref, err);
    }
  else
    info_keep (&o->info);
  take_name (o);
  return 0;
}

/* ---- events ---- */

/* The one shape of every event: the sandbox's Daytona object. */
void
owned_event (const struct owner *k, const struct owned *o, const char *state, const char *old_state)
{
  cleanup_json json_t *dto = owned_dto (k, o, state);

  sio_sandbox_event (k->srv, k->key_id, dto, old_state);
}

const char *
owned_state_word (enum islet_sandbox_state s)
{
  static const char *const words[] = {
    [ISLET_SB_STOPPED] = "stopped", [ISLET_SB_RUNNING] = "started", [ISLET_SB_PAUSED] = "paused"
  };

  return (unsigned) s < sizeof words / sizeof words[0] ? words[s] : "error";
}

/* ---- create ---- */

#define NAME_MAX_LEN 255

/* A key's name is isletd's only (the core's name is islet-<id>): any text
 * that fits in one path segment of the API. */
bool
owned_name_ok (const char *s)
{
  size_t n = strlen (s);

  if (n == 0 || n > NAME_MAX_LEN)
    return false;
  for (; *s; s++)
    if (*s == '/' || (unsigned char) *s < 0x20 || *s == 0x7f)
      return false;
  return true;
}

static char *
json_text (json_t *j)
{
  return j ? json_dumps (j, JSON_COMPACT) : islet_xstrdup ("{}");
}

/* ---- the operator's bounds ---- */

int
owned_ceiling_set (struct islet_limits *ceiling, const char *name_value, struct islet_err *err)
{
  size_t n = strcspn (name_value, "=");
  const struct islet_limit_def *d = NULL;
  uint64_t v;

  for (size_t i = 0; i < ISLET_NLIMITS && d == NULL; i++)
    if (strlen (islet_limit_defs[i].key) == n
        && strncmp (islet_limit_defs[i].key, name_value, n) == 0)
      d = &islet_limit_defs[i];
  if (d == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "--sandbox-max %s: not a limit (memory_mb, cpu_millis, pids, disk_mb, "
                       "timeout_s, output_bytes, nofile)",
                       name_value);
  if (name_value[n] != '='
      || islet_parse_u64 (name_value + n + 1, d->wide ? UINT64_MAX : UINT32_MAX, &v, err) < 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "--sandbox-max %s: want %s=NUMBER", name_value,
                       d->key);
  islet_limit_set (ceiling, d, v);
  return 0;
}

/* Each limit within the operator's ceiling: a request over it can never be
 * served, so it is a bad request (400), not a quota (429). */
int
owned_within_ceiling (const struct srv *srv, const struct islet_limits *l, struct islet_err *err)
{
  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    {
      const struct islet_limit_def *d = &islet_limit_defs[i];
      if (islet_limit_get (l, d) > islet_limit_get (&srv->ceiling, d))
        return islet_fail (err, ISLET_E_INVALID, 0,
                           "limits.%s %llu is over this server's ceiling of %llu (isletd "
                           "--sandbox-max %s=N)",
                           d->key, (unsigned long long) islet_limit_get (l, d),
                           (unsigned long long) islet_limit_get (&srv->ceiling, d), d->key);
    }
  return 0;
}

/* The key's quota, the server's default where the key has none. */
int
owned_quota (const struct owner *k, struct islet_quota *q, struct islet_err *err)
{
  const struct islet_quota *d = &k->srv->quota_default;
  int64_t *own[] = { &q->sandboxes, &q->memory_mb, &q->cpu_millis,
                     &q->disk_mb,   &q->volumes,   &q->volume_mb };
  const int64_t def[] = { d->sandboxes, d->memory_mb, d->cpu_millis,
                          d->disk_mb,   d->volumes,   d->volume_mb };

  if (islet_store_key_quota (k->srv->store, k->key_id, q, err) < 0)
    return -1;
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
    if (*own[i] < 0)
      *own[i] = def[i];
  return 0;
}

/* ---- create ---- */

void
owned_row_of (const struct owner *k, const struct owned_spec *spec, enum islet_store_phase phase,
              struct islet_store_sandbox *row)
{
  int64_t now = now_s ();

  *row = (struct islet_store_sandbox){
    .key_id = k->key_id,
    .name = spec->name ? islet_xstrdup (spec->name) : NULL, /* NULL: the id, once known */
    .labels = json_text (spec->labels),
    .env = json_text (spec->env),
    .language = islet_xstrdup (spec->language ? spec->language : "python"),
    .target = islet_xstrdup (spec->target ? spec->target : "local"),
    .auto_stop = spec->auto_stop,
    .auto_pause = spec->auto_pause,
    .auto_archive = spec->auto_archive,
    .auto_delete = spec->auto_delete,
    .created = now,
    .updated = now,
    .last_activity = now,
    .phase = phase,
    .memory_mb = (int64_t) spec->limits.memory_mb,
    .cpu_millis = spec->limits.cpu_millis,
    .disk_mb = (int64_t) spec->limits.disk_mb,
  };
}

/* The row goes in first, with the id the core has just chosen and before
 * anything of the sandbox exists: a kill of isletd at any later point
 * leaves a row that the sweep at start finds (owned_sweep). */
struct claim
{
  struct srv *srv;
  struct islet_store_sandbox *row;
  struct islet_quota quota;
  bool claimed;
};

static int
claim_row (void *arg, const char *id, struct islet_err *err)
{
  struct claim *c = arg;

  snprintf (c->row->id, sizeof c->row->id, "%s", id);
  if (c->row->name == NULL)
    c->row->name = islet_xstrdup (id); /* Daytona's default name is the id */
  if (islet_store_sandbox_claim (c->srv->store, c->row, &c->quota, err) < 0)
    return -1;
  c->claimed = true;
  return 0;
}

/* Undo a create from its row on: the core's sandbox, then the row.  A row
 * whose sandbox could not be destroyed stays, for the sweep. */
static void
unmake (struct srv *srv, const char *id, bool made)
{
  struct islet_err e;

  if (made && islet_sandbox_destroy (srv->ctx, id, true, &e) < 0 && e.kind != ISLET_E_NOTFOUND)
    {
      fprintf (stderr, "isletd: take back sandbox %s: %s\n", id, e.msg);
      return;
    }
  if (islet_store_sandbox_delete (srv->store, id, &e) < 0)
    fprintf (stderr, "isletd: %s (the sweep at the next start removes it)\n", e.msg);
}

/* The core's name of a sandbox isletd makes for itself (no key: no row),
 * which is its mark for the sweep. */
#define OWN_PREFIX "isletd-own-"

/* isletd's own one-request sandbox (a probe of the image): no key, so no
 * row and no quota; the core's name marks it instead. */
static int
make_own (struct srv *srv, const struct owned_spec *spec, struct islet_store_sandbox *row,
          struct islet_err *err)
{
  static unsigned long long seq;
  char name[ISLET_NAME_MAX + 1];
  struct islet_create_opts opts = {
    .name = name, .image = spec->image, .limits = spec->limits, .net = spec->net
  };

  snprintf (name, sizeof name, OWN_PREFIX "%ld-%llu", (long) getpid (),
            __atomic_add_fetch (&seq, 1, __ATOMIC_RELAXED));
  return islet_sandbox_create (srv->ctx, &opts, row->id, err);
}

/* The core's sandbox and its row in phase, within the key's bounds; on
 * failure neither is left. */
static int
make (const struct owner *k, const struct owned_spec *spec, enum islet_store_phase phase,
      struct islet_store_sandbox *row, struct islet_err *err)
{
  struct claim c = { .srv = k->srv, .row = row };
  struct islet_create_opts opts = { .image = spec->image,
                                    .fork = spec->fork,
                                    .snapshot = spec->snapshot,
                                    .limits = spec->limits,
                                    .net = spec->net,
                                    .claim = claim_row,
                                    .claim_arg = &c,
                                    .volumes = spec->volumes,
                                    .n_volumes = spec->n_volumes };
  char id[ISLET_ID_LEN + 1];

  if (owned_within_ceiling (k->srv, &spec->limits, err) < 0)
    return -1;
  if (k->key_id < 0)
    return make_own (k->srv, spec, row, err);
  if (owned_quota (k, &c.quota, err) < 0)
    return -1;
  owned_row_of (k, spec, phase, row);
  /* no core name: the core's names are global, a key's are its own (the
   * core calls it islet-<id>, its hostname too) */
  if (islet_sandbox_create (k->srv->ctx, &opts, id, err) < 0)
    {
      if (c.claimed)
        unmake (k->srv, row->id, false);
      if (err->kind == ISLET_E_NOTFOUND)
        err->kind = ISLET_E_INVALID; /* an unknown image is a bad request */
      return -1;
    }
  return 0;
}

int
owned_image_here (const struct owner *k, const char *ref, struct islet_err *err)
{
  char id[80];
  int hold = -1;

  if (ref == NULL)
    return 0;
  /* only a look: the create takes its own hold on the image */
  if (islet_image_resolve (islet_ctx_state_dir (k->srv->ctx), ref, id, sizeof id, &hold, err) == 0)
    {
      if (hold >= 0)
        close (hold);
      return 0;
    }
  if (err->kind != ISLET_E_NOTFOUND)
    return -1;
  if (strcmp (ref, "default") == 0)
    {
      err->kind = ISLET_E_INVALID; /* its message names islet image build-default */
      return -1;
    }
  return islet_fail (err, ISLET_E_INVALID, 0,
                     "image `%s` is not on this machine (isletd does not pull images): "
                     "islet image pull %s",
                     ref, ref);
}

int
owned_spec_init (struct owned_spec *spec, enum islet_face face, const json_t *fields, bool *given,
                 struct islet_err *err)
{
  *spec = (struct owned_spec){ .limits = ISLET_LIMITS_DEFAULT, .auto_delete = -1 };
  return islet_limits_take (fields, face, &spec->limits, given, err);
}

int
owned_create (const struct owner *k, const struct owned_spec *spec, struct owned *o,
              struct islet_err *err)
{
  *o = (struct owned){ 0 };
  if (spec->name && !owned_name_ok (spec->name))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "name must be 1 to %d bytes, without '/' or control characters",
                       NAME_MAX_LEN);
  if (owned_image_here (k, spec->image, err) < 0
      || make (k, spec, ISLET_PHASE_CREATING, &o->row, err) < 0)
    {
      metrics_create (k->srv->metrics, false);
      owned_fini (o);
      return -1;
    }
  if (islet_sandbox_get (k->srv->ctx, o->row.id, &o->info, err) < 0
      || (spec->is_public
          && islet_store_sandbox_set_public (k->srv->store, o->row.id, true, err) < 0)
      || islet_store_sandbox_set_phase (k->srv->store, o->row.id, ISLET_PHASE_READY, err) < 0)
    {
      metrics_create (k->srv->metrics, false);
      unmake (k->srv, o->row.id, true);
      owned_fini (o);
      return -1;
    }
  metrics_create (k->srv->metrics, true);
  o->row.phase = ISLET_PHASE_READY;
  take_name (o);
  owned_event (k, o, NULL, NULL);
  return 0;
}

/* ---- start, stop, pause, destroy ---- */

typedef int (*life_fn) (struct islet_ctx *ctx, const char *id, struct islet_err *err);

#define FROM(s) (1u << (s))

/* A change of state: the core's call, the states it is taken from. */
struct transition
{
  life_fn fn;
  unsigned from; /* FROM (state) set */
  enum islet_sandbox_state to;
  const char *verb;
};

/* a start of a paused sandbox resumes it (islet_sandbox_start does) */
static const struct transition t_start = { islet_sandbox_start,
                                           FROM (ISLET_SB_STOPPED) | FROM (ISLET_SB_PAUSED),
                                           ISLET_SB_RUNNING, "start" };
static const struct transition t_stop = { islet_sandbox_stop,
                                          FROM (ISLET_SB_RUNNING) | FROM (ISLET_SB_PAUSED),
                                          ISLET_SB_STOPPED, "stop" };
static const struct transition t_pause = { islet_sandbox_pause, FROM (ISLET_SB_RUNNING),
                                           ISLET_SB_PAUSED, "pause" };

/* The row's clock after a change of state (arg: the transition, or NULL
 * for a change that is not one). */
static int
clock_after (struct islet_store_sandbox *row, const void *arg, struct islet_err *err)
{
  const struct transition *t = arg;

  (void) err;
  row->updated = now_s ();
  /* a start or resume is activity (else auto-stop would stop it at once);
   * a stop starts the auto-delete clock */
  if (t && t->to == ISLET_SB_RUNNING)
    {
      row->last_activity = row->updated;
      row->stopped_at = 0;
    }
  else if (t && t->to == ISLET_SB_STOPPED)
    row->stopped_at = row->updated;
  return 0;
}

static int
lifecycle (const struct owner *k, struct owned *o, const struct transition *t,
           struct islet_err *err)
{
  enum islet_sandbox_state was = o->info.state;
  const char *name = o->row.name ? o->row.name : o->info.id;
  struct islet_err serr;

  if (pending (&o->row))
    return refuse_pending (k, o, t->verb, err);
  if (was == t->to)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox '%s' is already %s", name,
                       owned_state_word (was));
  if (!(t->from & FROM (was)))
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox '%s' is %s: it cannot %s", name,
                       owned_state_word (was), t->verb);
  if (t->fn (k->srv->ctx, o->info.id, err) < 0
      || islet_sandbox_get (k->srv->ctx, o->info.id, &o->info, err) < 0)
    return islet_wrap (err, "%s", t->verb);
  take_name (o);
  if (islet_store_sandbox_change (k->srv->store, &o->row, clock_after, t, &serr) < 0)
    fprintf (stderr, "isletd: %s\n", serr.msg);
  owned_event (k, o, NULL, owned_state_word (was));
  return 0;
}

int
owned_start (const struct owner *k, struct owned *o, struct islet_err *err)
{
  struct islet_err e;

  if (lifecycle (k, o, &t_start, err) < 0)
    return -1;
  /* restored by the start (islet_sandbox_restore_files) */
  if (islet_store_sandbox_set_archived (k->srv->store, o->info.id, false, &e) < 0)
    fprintf (stderr, "isletd: %s\n", e.msg);
  return 0;
}

const char *
owned_state (struct srv *srv, const struct islet_sandbox_info *info)
{
  struct islet_err ignored;
  bool archived = false;

  if (info->state == ISLET_SB_STOPPED
      && islet_store_sandbox_archived (srv->store, info->id, &archived, &ignored) == 0 && archived)
    return "archived";
  return owned_state_word (info->state);
}

int
owned_archive (const struct owner *k, struct owned *o, struct islet_err *err)
{
  const char *name = o->row.name ? o->row.name : o->info.id;
  const char *was = owned_state (k->srv, &o->info);
  bool compacted;

  if (pending (&o->row))
    return refuse_pending (k, o, "archive", err);
  if (strcmp (was, "archived") == 0)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox '%s' is already archived", name);
  if (o->info.state != ISLET_SB_STOPPED)
    return islet_fail (err, ISLET_E_CONFLICT, 0,
                       "sandbox '%s' is %s: only a stopped sandbox can be archived", name, was);
  /* the files first: a start restores them whatever the mark says */
  if (islet_sandbox_archive_files (k->srv->ctx, o->info.id, &compacted, err) < 0)
    return islet_wrap (err, "archive sandbox '%s'", name);
  if (islet_store_sandbox_set_archived (k->srv->store, o->info.id, true, err) < 0)
    return -1;
  owned_event (k, o, NULL, was);
  return 0;
}

int
owned_stop (const struct owner *k, struct owned *o, struct islet_err *err)
{
  return lifecycle (k, o, &t_stop, err);
}

int
owned_pause (const struct owner *k, struct owned *o, struct islet_err *err)
{
  return lifecycle (k, o, &t_pause, err);
}

/* After a change of the core's sandbox: o read again, the row's clock
 * and the event follow. */
static int
changed (const struct owner *k, struct owned *o, const char *was, struct islet_err *err)
{
  struct islet_err serr;

  if (islet_sandbox_get (k->srv->ctx, o->info.id, &o->info, err) < 0)
    return -1;
  take_name (o);
  if (islet_store_sandbox_change (k->srv->store, &o->row, clock_after, NULL, &serr) < 0)
    fprintf (stderr, "isletd: %s\n", serr.msg);
  owned_event (k, o, NULL, was);
  return 0;
}

int
owned_resize (const struct owner *k, struct owned *o, const struct islet_resize *rq,
              struct islet_err *err)
{
  const char *was = owned_state_word (o->info.state);

  if (pending (&o->row))
    return refuse_pending (k, o, "resize", err);
  if (islet_sandbox_resize (k->srv->ctx, o->info.id, rq, err) < 0)
    return -1;
  return changed (k, o, was, err);
}

int
owned_set_network (const struct owner *k, struct owned *o, const struct islet_net *net,
                   struct islet_err *err)
{
  const char *was = owned_state_word (o->info.state);

  if (pending (&o->row))
    return refuse_pending (k, o, "change its network", err);
  if (islet_sandbox_set_network (k->srv->ctx, o->info.id, net, err) < 0)
    return -1;
  return changed (k, o, was, err);
}

int
owned_destroy (const struct owner *k, struct owned *o, struct islet_err *err)
{
  struct islet_err serr;

  if (pending (&o->row))
    return owned_pending_destroy (k, o, err);
  /* marked first: a kill of isletd during the destroy leaves a row the
   * sweep at start finishes, not one that holds the name meanwhile */
  if (islet_store_sandbox_set_phase (k->srv->store, o->info.id, ISLET_PHASE_DELETING, err) < 0)
    return -1;
  if (islet_sandbox_destroy (k->srv->ctx, o->info.id, true, err) < 0
      && err->kind != ISLET_E_NOTFOUND)
    {
      if (islet_store_sandbox_set_phase (k->srv->store, o->info.id, ISLET_PHASE_READY, &serr) < 0)
        fprintf (stderr, "isletd: %s\n", serr.msg);
      return -1;
    }
  if (islet_store_sandbox_delete (k->srv->store, o->info.id, &serr) < 0)
    fprintf (stderr, "isletd: %s (the sweep at the next start removes it)\n", serr.msg);
  if (islet_store_sandbox_set_archived (k->srv->store, o->info.id, false, &serr) < 0)
    fprintf (stderr, "isletd: %s\n", serr.msg);
  owned_pending_forget (k->srv, o->info.id); /* the log of its image's build */
  owned_event (k, o, "destroyed", owned_state_word (o->info.state));
  return 0;
}

/* ---- one request's sandbox ---- */

int
owned_scratch_begin (const struct owner *k, const struct islet_limits *limits,
                     const struct islet_net *net, char id[ISLET_ID_LEN + 1], struct islet_err *err)
{
  struct owned_spec spec = { .limits = *limits };
  struct islet_store_sandbox row = { 0 };
  int rc;

  if (net)
    spec.net = *net;
  rc = make (k, &spec, ISLET_PHASE_SCRATCH, &row, err);
  memcpy (id, row.id, ISLET_ID_LEN + 1);
  islet_store_sandbox_fini (&row);
  return rc;
}

int
owned_scratch_adopt (const struct owner *k, const struct islet_limits *limits, const char *id,
                     struct islet_err *err)
{
  struct owned_spec spec = { .limits = *limits };
  struct islet_store_sandbox row = { 0 };
  struct islet_quota q;
  int rc;

  if (owned_within_ceiling (k->srv, limits, err) < 0 || owned_quota (k, &q, err) < 0)
    return -1;
  owned_row_of (k, &spec, ISLET_PHASE_SCRATCH, &row);
  snprintf (row.id, sizeof row.id, "%s", id);
  row.name = islet_xstrdup (id);
  rc = islet_store_sandbox_claim (k->srv->store, &row, &q, err);
  islet_store_sandbox_fini (&row);
  return rc;
}

void
owned_scratch_end (const struct owner *k, const char *id)
{
  unmake (k->srv, id, true);
}

/* ---- the sweep at start ---- */

int
owned_sweep (struct srv *srv, struct islet_err *err)
{
  cleanup_free struct islet_sandbox_info *all = NULL;
  struct islet_store_sandbox *rows = NULL;
  size_t n = 0, nall = 0, swept = 0, forgotten = 0;

  /* rows of a create, a one-request run or a delete that a kill cut short:
   * their sandboxes were never acknowledged, or were being destroyed */
  if (islet_store_sandbox_unready (srv->store, &rows, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (rows[i].phase == ISLET_PHASE_BUILDING)
      owned_pending_swept (srv, &rows[i]);
    else if (rows[i].phase != ISLET_PHASE_FAILED) /* a key's, kept until deleted */
      {
        unmake (srv, rows[i].id, true);
        swept++;
      }
  islet_store_sandbox_list_free (rows, n);
  /* rows whose sandbox is gone (destroyed by the CLI, or a delete cut
   * short by an older isletd): nothing is being made now, so at once */
  if (owned_core_all (srv, &all, &nall, err) < 0
      || islet_store_sandbox_list (srv->store, -1, INT64_MIN, NULL, &rows, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (owned_core_find (all, nall, rows[i].id) == NULL)
      {
        struct islet_err e;
        if (islet_store_sandbox_delete (srv->store, rows[i].id, &e) < 0)
          fprintf (stderr, "isletd: forget sandbox %s: %s\n", rows[i].id, e.msg);
        forgotten++;
      }
  islet_store_sandbox_list_free (rows, n);
  /* isletd's own one-request sandboxes, known by their core name */
  for (size_t i = 0; i < nall; i++)
    if (strncmp (all[i].name, OWN_PREFIX, strlen (OWN_PREFIX)) == 0)
      {
        struct islet_err e;
        if (islet_sandbox_destroy (srv->ctx, all[i].id, true, &e) < 0)
          fprintf (stderr, "isletd: take back sandbox %s: %s\n", all[i].id, e.msg);
        swept++;
      }
  if (swept || forgotten)
    fprintf (stderr,
             "isletd: swept %zu sandboxes left unfinished by a stop of isletd, forgot %zu "
             "removed outside it\n",
             swept, forgotten);
  return 0;
}

/* ---- the Daytona object ---- */

json_t *
owned_json_object (const char *text)
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

static json_t *
islet_view (const struct owned *o)
{
  const struct islet_limits *l = &o->info.limits;

  return json_pack ("{s:o,s:I,s:I,s:I,s:b,s:o}", "limits", islet_limits_json (l), "created",
                    (json_int_t) o->info.created, "created_nsec", (json_int_t) o->info.created_nsec,
                    "uid_base", (json_int_t) o->info.uid_base, "disk_enforced",
                    o->info.disk_enforced, "network", islet_net_json (&o->info.net));
}

char *
owned_toolbox_url (const struct owner *k)
{
  if (k->host && *k->host && strpbrk (k->host, "/ \"\\") == NULL)
    return islet_xasprintf ("http://%s/toolbox", k->host);
  return islet_xasprintf ("%s/toolbox", k->srv->url ? k->srv->url : "");
}

/* The volumes the sandbox mounts, as a create named them (its config.json
 * keeps the volume ids, which are the core's names of the key's volumes). */
static json_t *
volumes_dto (const struct owner *k, const struct owned *o)
{
  cleanup_free char *cfg = islet_xasprintf ("%s/sandboxes/%s/config.json", k->srv->state_dir,
                                            o->info.id);
  struct islet_vmount *m = NULL;
  struct islet_err ignored;
  json_t *a = json_array ();
  size_t n = 0;

  if (islet_config_mounts_load (cfg, &m, &n, &ignored) < 0)
    return a;
  for (size_t i = 0; i < n; i++)
    {
      json_t *v = json_pack ("{s:s,s:s}", "volumeId", m[i].volume, "mountPath", m[i].path);
      if (m[i].subpath[0])
        json_object_set_new (v, "subpath", json_string (m[i].subpath));
      json_array_append_new (a, v);
    }
  islet_vmounts_free (m, n);
  return a;
}

json_t *
owned_dto (const struct owner *k, const struct owned *o, const char *state)
{
  const struct islet_limits *l = &o->info.limits;
  json_t *labels = owned_json_object (o->row.labels);
  cleanup_free char *org = islet_xasprintf ("key-%lld", (long long) o->row.key_id);
  cleanup_free char *tb = owned_toolbox_url (k);
  char created[32], updated[32], activity[32], when[32];
  struct islet_err ignored;
  cleanup_free char *reason = NULL;
  const char *desired;
  bool is_public = false;
  int64_t destroy_at = 0;
  json_t *j;

  /* unknown (the store failed): said private, which is what is enforced */
  if (islet_store_sandbox_public (k->srv->store, o->info.id, &is_public, &ignored) < 0)
    is_public = false;
  if (state == NULL && pending (&o->row))
    state = owned_pending_state (k->srv, &o->row, &reason);
  if (state == NULL)
    state = owned_state (k->srv, &o->info);
  json_object_set_new (labels, "code-toolbox-language",
                       json_string (o->row.language ? o->row.language : "python"));
  iso_time (o->info.created, created);
  iso_time (o->row.updated, updated);
  iso_time (o->row.last_activity, activity);
  j = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:b,s:s}", "id", o->info.id, "organizationId", org,
                 "name", o->row.name ? o->row.name : o->info.name, "snapshot", o->info.image,
                 "user", "root", "env", owned_json_object (o->row.env), "labels", labels, "public",
                 is_public, "target", o->row.target ? o->row.target : "local");
  daytona_net_dto (j, &o->info.net);
  json_object_set_new (j, "cpu", amount (l->cpu_millis));
  json_object_set_new (j, "gpu", json_integer (0));
  json_object_set_new (j, "memory", amount (l->memory_mb * 1000 / 1024));
  json_object_set_new (j, "disk", amount (l->disk_mb * 1000 / 1024));
  /* a sandbox whose image is being made is on its way to started */
  desired = strcmp (state, "destroyed") == 0                                         ? "destroyed"
            : strcmp (state, "started") == 0 || o->row.phase == ISLET_PHASE_BUILDING ? "started"
            : strcmp (state, "paused") == 0                                          ? "paused"
            : strcmp (state, "archived") == 0                                        ? "archived"
                                                                                     : "stopped";
  json_object_update_new (
      j, json_pack ("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b}",
                    "state", state, "desiredState", desired, "backupState", "None",
                    "autoStopInterval", (json_int_t) o->row.auto_stop, "autoArchiveInterval",
                    (json_int_t) o->row.auto_archive, "autoDeleteInterval",
                    (json_int_t) o->row.auto_delete, "autoPauseInterval",
                    (json_int_t) o->row.auto_pause, "volumes", volumes_dto (k, o), "createdAt",
                    created, "updatedAt", updated, "lastActivityAt", activity, "sandboxClass",
                    "container", "runnerId", "local", "daemonVersion", "isletd-" ISLET_VERSION,
                    "toolboxProxyUrl", tb, "recoverable", 0, "kvm", 0));
  if (islet_store_ttl_get (k->srv->store, o->info.id, &destroy_at, &ignored) == 0 && destroy_at)
    {
      iso_time (destroy_at, when);
      json_object_set_new (j, "autoDestroyAt", json_string (when));
    }
  if (reason)
    json_object_set_new (j, "errorReason", json_string (reason));
  /* islet's own view, which the Daytona fields round (the CLI reads it) */
  json_object_set_new (j, "islet", islet_view (o));
  return j;
}

/* ---- the core's list ---- */

static int
by_id (const void *a, const void *b)
{
  return strcmp (((const struct islet_sandbox_info *) a)->id,
                 ((const struct islet_sandbox_info *) b)->id);
}

int
owned_list (const struct owner *k, struct islet_sandbox_info **list, size_t *n,
            struct islet_err *err)
{
  cleanup_free struct islet_sandbox_info *all = NULL;
  struct islet_store_sandbox *rows = NULL;
  size_t nall = 0, nrows = 0;

  *list = NULL;
  *n = 0;
  if (owned_core_all (k->srv, &all, &nall, err) < 0
      || islet_store_sandbox_list (k->srv->store, k->key_id, INT64_MIN, "", &rows, &nrows, err) < 0)
    return -1;
  *list = islet_xcalloc (nrows + 1, sizeof **list);
  for (size_t i = 0; i < nrows; i++)
    {
      const struct islet_sandbox_info *info = owned_core_find (all, nall, rows[i].id);
      if (info == NULL) /* destroyed behind isletd's back */
        continue;
      (*list)[*n] = *info;
      if (rows[i].name)
        snprintf ((*list)[*n].name, sizeof (*list)[*n].name, "%s", rows[i].name);
      (*n)++;
    }
  islet_store_sandbox_list_free (rows, nrows);
  return 0;
}

int
owned_core_all (struct srv *srv, struct islet_sandbox_info **all, size_t *n, struct islet_err *err)
{
  if (islet_sandbox_list (srv->ctx, all, n, err) < 0)
    return -1;
  qsort (*all, *n, sizeof **all, by_id);
  return 0;
}

const struct islet_sandbox_info *
owned_core_find (const struct islet_sandbox_info *all, size_t n, const char *id)
{
  struct islet_sandbox_info key;

  snprintf (key.id, sizeof key.id, "%s", id);
  return bsearch (&key, all, n, sizeof *all, by_id);
}
