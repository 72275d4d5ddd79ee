/* /mcp: the Model Context Protocol over streamable HTTP, with the tools of
 * `islet mcp` (src/mcp) on isletd's sandboxes, per API key.
 *
 * The transport: POST /mcp takes one JSON-RPC message (a batch where the
 * session's protocol version has them) and answers application/json, or
 * 202 with no body when there is nothing to answer; initialize starts a
 * session and its answer carries Mcp-Session-Id, which every later request
 * must send (none: 400; unknown, ended, or another key's: 404).  GET is
 * 405: there is no server-to-client stream (no tool needs one).  DELETE
 * ends the session.  An Origin header, when sent, must be a loopback
 * origin or one given with --allow-origin (else 403), against DNS
 * rebinding; MCP-Protocol-Version, when sent, must be one we speak and,
 * after initialize, the session's (400).
 *
 * The host: a key sees and touches only the sandboxes the store says it
 * made, exactly as on the Daytona routes; what it makes over /mcp is an
 * ordinary isletd sandbox (in the store, owned by the key, in GET
 * /api/sandbox, in the audit log as mcp.TOOL).  A non-persistent one gets
 * autoStopInterval MCP_EPHEMERAL_IDLE_MIN and autoDeleteInterval 0, so the
 * reaper removes it once idle, and it is removed when its session ends. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "islet/lang.h"
#include "islet/util.h"
#include "mcp.h"
#include "server.h"
#include "v1.h"

/* Sessions are made only for a valid key (the route table checks it
 * first); a key has at most SESSIONS_PER_KEY, its longest idle one making
 * room for a new one, so one key cannot fill the table for the others.  A
 * session unused for SESSION_IDLE_MIN minutes is forgotten: its client gets
 * 404 and initializes again, as the protocol says. */
#define SESSIONS_MAX 4096
#define SESSIONS_PER_KEY 64
#define SESSION_IDLE_MIN 30
#define SESSION_ID_BYTES 16

/* ---- the host: the store and the core, for one key ---- */

struct key_host
{
  struct srv *srv;
  int64_t key_id;
  /* the output of the message's commands, stdout's and stderr's spool of
   * each, until its answer is sent from them */
  struct spool **spools;
  size_t n_spools;
};

/* Daytona's language label knows these only. */
static const char *
daytona_language (const char *lang)
{
  const struct islet_lang *l = islet_lang_find (lang);

  return l && l->daytona ? l->name : "python";
}

static struct owner
owner_of (const struct key_host *k)
{
  return (struct owner){ .srv = k->srv, .key_id = k->key_id };
}

static int
k_create (void *data, const struct mcp_create *c, char id[ISLET_ID_LEN + 1], struct islet_err *err)
{
  struct owner k = owner_of (data);
  cleanup_owned struct owned o = { 0 };
  struct owned_spec spec;

  /* the limits are the tool's arguments, read by src/mcp (create_opts) */
  if (owned_spec_init (&spec, ISLET_FACE_MCP, NULL, NULL, err) < 0)
    return -1;
  spec.name = c->name;
  spec.image = c->image;
  spec.language = daytona_language (c->language);
  spec.env = (json_t *) c->env;
  spec.limits = c->limits;
  spec.net = c->net;
  spec.auto_stop = c->persistent ? 0 : MCP_EPHEMERAL_IDLE_MIN;
  spec.auto_delete = c->persistent ? -1 : 0;
  if (owned_create (&k, &spec, &o, err) < 0)
    return -1;
  memcpy (id, o.info.id, ISLET_ID_LEN + 1);
  return 0;
}

static int
k_list (void *data, struct islet_sandbox_info **list, size_t *n, struct islet_err *err)
{
  struct owner o = owner_of (data);

  return owned_list (&o, list, n, err);
}

static int
k_resolve (void *data, const char *ref, struct islet_sandbox_info *info, struct islet_err *err)
{
  struct owner k = owner_of (data);
  cleanup_owned struct owned o = { 0 };

  if (owned_open (&k, ref, &o, err) < 0)
    return -1;
  /* MCP has no start: a tool call on a paused sandbox (one auto-pause
   * found idle) resumes it, as Daytona's start does, rather than fail */
  if (o.info.state == ISLET_SB_PAUSED && owned_start (&k, &o, err) < 0)
    return -1;
  *info = o.info;
  /* in use: the auto-stop clock starts again (whole seconds are enough) */
  if (info->state == ISLET_SB_RUNNING && o.row.last_activity != (int64_t) time (NULL))
    {
      struct islet_err terr;
      if (islet_store_sandbox_touch (k.srv->store, info->id, &terr) < 0)
        fprintf (stderr, "isletd: %s\n", terr.msg);
    }
  return 0;
}

static int
k_remove (void *data, const char *id, struct islet_err *err)
{
  struct owner k = owner_of (data);
  cleanup_owned struct owned o = { 0 };

  if (owned_open (&k, id, &o, err) < 0)
    return -1;
  return owned_destroy (&k, &o, err);
}

static void
k_record (void *data, const char *action, const char *id, const struct islet_err *failed,
          uint64_t ms)
{
  struct key_host *k = data;
  struct resp status = { .fd = -1 };
  struct islet_audit a;
  struct islet_err err;

  if (failed)
    reply_islet_err (&status, failed, false); /* the status the same error has elsewhere */
  a = (struct islet_audit){
    .key_id = k->key_id,
    .sandbox = id,
    .action = action,
    .status = failed ? status.status : 200,
    .result = failed ? failed->msg : "ok",
    .duration_ms = (int64_t) ms,
  };
  free (status.body);
  metrics_action (k->srv->metrics, action);
  if (islet_store_audit_add (k->srv->store, &a, &err) < 0)
    fprintf (stderr, "isletd: audit %s: %s\n", action, err.msg);
}

/* A command's output goes to two spools of the key's scratch space
 * (spool.c); the answer is made from them as it is sent (reply_answer). */
static int
k_output_open (void *data, struct mcp_output *o, struct islet_err *err)
{
  struct key_host *k = data;
  struct spool **pair = islet_xcalloc (2, sizeof *pair);

  for (int i = 0; i < 2; i++)
    if ((pair[i] = spool_open (k->srv, k->key_id, err)) == NULL)
      {
        spool_free (pair[0]);
        free (pair);
        return -1;
      }
  k->spools = islet_xrealloc (k->spools, (k->n_spools + 2) * sizeof *k->spools);
  k->spools[k->n_spools++] = pair[0];
  k->spools[k->n_spools++] = pair[1];
  *o = (struct mcp_output){ .fn = spool_pair_output, .user = pair };
  return 0;
}

static int
k_output_close (void *data, struct mcp_output *o, json_t *text[2], struct islet_err *err)
{
  cleanup_free struct spool **pair = o->user;

  if (text == NULL)
    return 0;
  if (spool_done (pair[0], err) < 0 || spool_done (pair[1], err) < 0)
    return -1;
  text[0] = spool_token (pair[0], SPOOL_TEXT);
  text[1] = spool_token (pair[1], SPOOL_TEXT);
  return 0;
}

/* An answer's status as an islet error's kind (reply_islet_err's, reversed). */
static enum islet_errkind
kind_of_status (int status)
{
  static const struct
  {
    int status;
    enum islet_errkind kind;
  } kinds[] = { { 400, ISLET_E_INVALID },
                { 404, ISLET_E_NOTFOUND },
                { 409, ISLET_E_CONFLICT },
                { 429, ISLET_E_LIMIT } };

  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (kinds[i].status == status)
      return kinds[i].kind;
  return ISLET_E_SYSTEM;
}

/* The interpreter /v1/execute's sessions run in (v1_session.c), session
 * "mcp" of the sandbox: one implementation for both. */
static int
k_run_interp (void *data, const char *id, const char *code, double timeout_s, json_t **out,
              struct islet_err *err)
{
  struct key_host *k = data;
  struct owner o = owner_of (k);
  cleanup_owned struct owned own = { 0 };
  cleanup_sb struct sb_ref sb = { .ctx = k->srv->ctx };
  struct resp r = { .fd = -1 };
  cleanup_json json_t *answer = NULL;
  const char *status;

  if (owned_open (&o, id, &own, err) < 0)
    return -1;
  sb.info = own.info;
  sb.row = own.row;
  own.row = (struct islet_store_sandbox){ 0 };
  *out = v1_session_answer (k->srv, &sb, "mcp", code, timeout_s, &status, &r);
  if (*out)
    return 0;
  answer = r.body ? json_loads (r.body, 0, NULL) : NULL;
  free (r.body);
  return islet_fail (err, kind_of_status (r.status), 0, "persistent: %s",
                     json_string_value (json_object_get (answer, "message")) ?: "it failed");
}

static const struct mcp_host_ops key_host_ops = {
  .create = k_create,
  .list = k_list,
  .resolve = k_resolve,
  .remove = k_remove,
  .record = k_record,
  .output_open = k_output_open,
  .output_close = k_output_close,
  .run_interp = k_run_interp,
};

static struct mcp_host
host_of (struct req *r, struct key_host *k)
{
  *k = (struct key_host){ .srv = r->srv, .key_id = r->key_id };
  return (struct mcp_host){
    .ops = &key_host_ops,
    .data = k,
    .ctx = r->srv->ctx,
    .name = "isletd /mcp",
    .no_host_dir = "host files are never reachable over HTTP",
    .net_default = r->srv->net_default,
  };
}

/* ---- sessions ---- */

struct entry
{
  char id[SESSION_ID_BYTES * 2 + 1];
  int64_t key_id;
  int64_t last_used;
  unsigned refs; /* requests using it, plus one while it is in the table */
  struct mcp_session s;
  struct entry *next;
};

struct mcp_sessions
{
  pthread_mutex_t lock;
  struct entry *head;
  size_t n;
  int64_t idle_s; /* SESSION_IDLE_MIN minutes (shorter in tests) */
};

int
mcp_sessions_new (struct mcp_sessions **out, int64_t minute_s, struct islet_err *err)
{
  struct mcp_sessions *t = islet_xcalloc (1, sizeof *t);

  t->idle_s = SESSION_IDLE_MIN * minute_s;
  pthread_mutex_init (&t->lock, NULL);
  *out = t;
  return 0;
}

static void
entry_free (struct entry *e)
{
  mcp_session_fini (&e->s);
  free (e);
}

void
mcp_sessions_free (struct mcp_sessions *t)
{
  if (t == NULL)
    return;
  while (t->head)
    {
      struct entry *e = t->head;
      t->head = e->next;
      entry_free (e);
    }
  pthread_mutex_destroy (&t->lock);
  free (t);
}

static void
entry_put (struct mcp_sessions *t, struct entry *e)
{
  bool last;

  pthread_mutex_lock (&t->lock);
  last = --e->refs == 0;
  pthread_mutex_unlock (&t->lock);
  if (last)
    entry_free (e);
}

/* Unlink e (the lock held): the table's reference goes with it. */
static void
entry_unlink (struct mcp_sessions *t, struct entry **link)
{
  struct entry *e = *link;

  *link = e->next;
  t->n--;
  if (--e->refs == 0)
    entry_free (e);
}

static bool
expired (const struct mcp_sessions *t, const struct entry *e, int64_t now)
{
  return e->refs == 1 && now - e->last_used > t->idle_s;
}

/* The session of id for key_id, with a reference; NULL: none. */
static struct entry *
entry_get (struct mcp_sessions *t, const char *id, int64_t key_id, bool unlink)
{
  struct entry *found = NULL;
  int64_t now = now_s ();

  pthread_mutex_lock (&t->lock);
  for (struct entry **l = &t->head; *l; l = &(*l)->next)
    if (strcmp ((*l)->id, id) == 0 && (*l)->key_id == key_id)
      {
        if (expired (t, *l, now))
          {
            entry_unlink (t, l);
            break;
          }
        found = *l;
        found->refs++;
        found->last_used = now_s ();
        if (unlink)
          entry_unlink (t, l);
        break;
      }
  pthread_mutex_unlock (&t->lock);
  return found;
}

/* Room for one more session of key_id (the lock held): its longest idle
 * session goes when it has its most; -1 when every one is in use. */
static int
make_room (struct mcp_sessions *t, int64_t key_id)
{
  struct entry **oldest = NULL;
  unsigned n = 0;

  for (struct entry **l = &t->head; *l; l = &(*l)->next)
    if ((*l)->key_id == key_id)
      {
        n++;
        if ((*l)->refs == 1 && (oldest == NULL || (*l)->last_used <= (*oldest)->last_used))
          oldest = l;
      }
  if (n < SESSIONS_PER_KEY)
    return 0;
  if (oldest == NULL)
    return -1;
  entry_unlink (t, oldest);
  return 0;
}

/* Into the table, under a new random id; -1 when the table is full. */
static int
entry_add (struct mcp_sessions *t, struct entry *e, struct islet_err *err)
{
  unsigned char rnd[SESSION_ID_BYTES];
  int64_t now = now_s ();

  if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "getrandom");
  for (size_t i = 0; i < sizeof rnd; i++)
    snprintf (e->id + 2 * i, 3, "%02x", rnd[i]);
  e->last_used = now;
  pthread_mutex_lock (&t->lock);
  /* forget the sessions long unused (their sandboxes are the reaper's) */
  for (struct entry **l = &t->head; *l;)
    if (expired (t, *l, now))
      entry_unlink (t, l);
    else
      l = &(*l)->next;
  if (make_room (t, e->key_id) < 0)
    {
      pthread_mutex_unlock (&t->lock);
      return islet_fail (err, ISLET_E_LIMIT, 0,
                         "this key has %d MCP sessions in use; end one (DELETE /mcp) first",
                         SESSIONS_PER_KEY);
    }
  if (t->n >= SESSIONS_MAX)
    {
      pthread_mutex_unlock (&t->lock);
      return islet_fail (err, ISLET_E_LIMIT, 0, "too many MCP sessions (%d)", SESSIONS_MAX);
    }
  e->refs++;
  e->next = t->head;
  t->head = e;
  t->n++;
  pthread_mutex_unlock (&t->lock);
  return 0;
}

/* ---- the transport ---- */

/* An answer of the transport itself: a JSON-RPC error without an id. */
static void
reply_rpc_error (struct resp *out, int status, const char *msg)
{
  reply_json (out, status,
              json_pack ("{s:s,s:n,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", "error", "code", -32000,
                         "message", msg));
}

static bool
origin_allowed (struct req *r, const char *origin)
{
  static const char *const loopback[] = { "localhost", "127.0.0.1", "[::1]" };
  const char *host, *allowed = r->srv->mcp_origins;
  size_t n, olen = strlen (origin);

  /* an exact entry of --allow-origin (comma-separated) */
  while (allowed && *allowed)
    {
      n = strcspn (allowed, ",");
      if (n == olen && strncmp (allowed, origin, n) == 0)
        return true;
      allowed += n + (allowed[n] == ',');
    }
  if (strncmp (origin, "http://", 7) == 0)
    host = origin + 7;
  else if (strncmp (origin, "https://", 8) == 0)
    host = origin + 8;
  else
    return false;
  n = host[0] == '[' ? strcspn (host, "]") + 1 : strcspn (host, ":/");
  for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++)
    if (strlen (loopback[i]) == n && strncasecmp (host, loopback[i], n) == 0
        && (host[n] == '\0' || host[n] == ':'))
      return true;
  return false;
}

/* What every /mcp request must pass before its method. */
static int
transport_check (struct req *r, struct resp *out)
{
  const char *origin = req_header (r, "Origin");
  const char *version = req_header (r, "MCP-Protocol-Version");

  /* a web page may reach a local server by a name it controls (DNS
   * rebinding); its Origin gives it away */
  if (origin && !origin_allowed (r, origin))
    {
      reply_rpc_error (out, 403, "forbidden: this Origin may not use /mcp (isletd --allow-origin)");
      snprintf (out->note, sizeof out->note, "origin %s refused", origin);
      return -1;
    }
  if (version && !mcp_version_known (version))
    {
      reply_rpc_error (out, 400, "bad request: unsupported MCP-Protocol-Version");
      return -1;
    }
  return 0;
}

/* The answer, with the output of its commands from their spools; the
 * spools go with it. */
static void
reply_answer (struct resp *out, json_t *answer, struct key_host *k)
{
  if (answer == NULL)
    out->status = 202; /* notifications and responses: accepted, nothing to say */
  else if (k->n_spools == 0)
    reply_json (out, 200, answer); /* with its length, as every other small answer */
  else
    spool_reply_answer (out, 200, answer, k->spools, k->n_spools);
  for (size_t i = 0; i < k->n_spools; i++)
    spool_free (k->spools[i]);
  free (k->spools);
  k->spools = NULL;
  k->n_spools = 0;
}

static void
post_initialize (struct req *r, struct resp *out, const json_t *msg)
{
  struct entry *e = islet_xcalloc (1, sizeof *e);
  struct key_host k;
  struct mcp_host h = host_of (r, &k);
  struct islet_err err;
  json_t *answer;

  e->key_id = r->key_id;
  e->refs = 1; /* ours */
  mcp_session_init (&e->s);
  answer = mcp_handle (&h, &e->s, msg);
  if (json_object_get (answer, "result") != NULL)
    {
      if (entry_add (r->srv->mcp, e, &err) < 0)
        {
          json_decref (answer);
          entry_put (r->srv->mcp, e);
          reply_rpc_error (out, 503, err.msg);
          return;
        }
      out->extra_header_name = islet_xstrdup ("Mcp-Session-Id");
      out->extra_header_value = islet_xstrdup (e->id);
    }
  entry_put (r->srv->mcp, e);
  reply_answer (out, answer, &k);
}

/* The session the request names, with a reference; -1 with 400 or 404. */
static int
session_of (struct req *r, struct resp *out, bool unlink, struct entry **e)
{
  const char *sid = req_header (r, "Mcp-Session-Id");

  if (sid == NULL || *sid == '\0')
    {
      reply_rpc_error (out, 400, "bad request: no Mcp-Session-Id (initialize first)");
      return -1;
    }
  if ((*e = entry_get (r->srv->mcp, sid, r->key_id, unlink)) == NULL)
    {
      reply_rpc_error (out, 404, "session not found: it ended or never was; initialize again");
      return -1;
    }
  return 0;
}

/* After initialize, a client sends the version agreed there (none: a
 * client of 2025-03-26, which had no such header). */
static bool
version_agreed (struct req *r, struct mcp_session *s)
{
  const char *version = req_header (r, "MCP-Protocol-Version");
  bool ok;

  if (version == NULL)
    return true;
  pthread_mutex_lock (&s->lock);
  ok = s->version[0] == '\0' || strcmp (s->version, version) == 0;
  pthread_mutex_unlock (&s->lock);
  return ok;
}

void
mcp_http_post (struct req *r, struct resp *out)
{
  cleanup_json json_t *msg = NULL;
  struct entry *e;
  struct key_host k;
  struct mcp_host h = host_of (r, &k);
  json_t *answer;

  if (transport_check (r, out) < 0)
    return;
  msg = json_loadb (r->body, r->body_len, 0, NULL);
  if (msg == NULL)
    {
      struct mcp_session none;
      /* the protocol's own parse error, as the answer's body */
      mcp_session_init (&none);
      reply_json (out, 400, mcp_handle_text (&h, &none, r->body, r->body_len));
      mcp_session_fini (&none);
      return;
    }
  if (mcp_is_initialize (msg))
    {
      post_initialize (r, out, msg);
      return;
    }
  if (session_of (r, out, false, &e) < 0)
    return;
  if (!version_agreed (r, &e->s))
    {
      entry_put (r->srv->mcp, e);
      reply_rpc_error (out, 400, "bad request: MCP-Protocol-Version is not the session's");
      return;
    }
  answer = mcp_handle (&h, &e->s, msg);
  entry_put (r->srv->mcp, e);
  reply_answer (out, answer, &k);
}

void
mcp_http_get (struct req *r, struct resp *out)
{
  if (transport_check (r, out) < 0)
    return;
  reply_rpc_error (out, 405, "method not allowed: this server offers no SSE stream");
  out->extra_header_name = islet_xstrdup ("Allow");
  out->extra_header_value = islet_xstrdup ("POST, DELETE");
}

void
mcp_http_delete (struct req *r, struct resp *out)
{
  struct entry *e;
  struct key_host k;
  struct mcp_host h = host_of (r, &k);

  if (transport_check (r, out) < 0 || session_of (r, out, true, &e) < 0)
    return;
  mcp_session_end (&e->s, &h);
  entry_put (r->srv->mcp, e);
  out->status = 204;
}
