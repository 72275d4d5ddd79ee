/* Socket.IO on a WebSocket: the least the Daytona SDK needs to be told of
 * state changes (and, more to the point, to let Node exit: a connected
 * socket is unref'd by the SDK, a failing one is retried for minutes).
 * Engine.IO 4 packets, one per text message: the server's open packet,
 * pings every pingInterval (a pong missing for pingTimeout ends the
 * session), the Socket.IO CONNECT of namespace "/" with {"token": <API
 * key>}, answered 40 or 44, and events (42[...]) sent to the sessions of
 * the key that owns a sandbox.  The client's own events are ignored. */
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "islet/util.h"
#include "server.h"

/* A session holds a thread and a connection.  Until its CONNECT brings a
 * valid key it is one of a few (per address and in all) and has 5 s to
 * send it (the SDK sends it with its first packet); then it counts under
 * its key, so no key, and nobody without one, can take every session. */
#define SIO_SESSIONS_MAX 512
#define SIO_KEY_SESSIONS_MAX 64
#define SIO_PENDING_MAX 128
#define SIO_PENDING_PER_CLIENT 16
#define SIO_PING_MS 25000
#define SIO_PING_TIMEOUT_MS 20000
#define SIO_CONNECT_TIMEOUT_MS 5000
#define SIO_STOP_WAIT_S 10

struct session
{
  struct sio *hub;
  struct srv *srv;
  struct ws *ws;
  char sid[24];
  char key_hex[65];
  int64_t key_id;
  bool connected; /* under hub->lock: CONNECT accepted, events go here */
  bool counted;   /* under hub->lock: counted under key_id, not as pending */
  char client[WS_PEER_MAX];
  unsigned refs;               /* under hub->lock: the session's thread, and emits under way */
  struct session *prev, *next; /* in hub->head while its thread runs */
};

struct sio
{
  pthread_mutex_t lock;
  pthread_cond_t idle; /* live went down */
  struct session *head;
  unsigned live;    /* sessions not yet freed */
  unsigned pending; /* of them, without a key yet */
  bool stopping;
  uint64_t ping_ms, ping_timeout_ms;
};

int
sio_new (struct sio **out, struct islet_err *err)
{
  const char *test = getenv ("ISLETD_TEST_PING_MS");
  struct sio *s = islet_xcalloc (1, sizeof *s);
  pthread_condattr_t ca;

  s->ping_ms = SIO_PING_MS;
  s->ping_timeout_ms = SIO_PING_TIMEOUT_MS;
  /* for tests only: pings seen in a fraction of a second */
  if (test && *test
      && (islet_parse_u64 (test, SIO_PING_MS, &s->ping_ms, err) < 0 || s->ping_ms < 50))
    {
      free (s);
      return islet_fail (err, ISLET_E_INVALID, 0, "ISLETD_TEST_PING_MS must be from 50 to %d",
                         SIO_PING_MS);
    }
  if (test && *test)
    s->ping_timeout_ms = s->ping_ms;
  pthread_mutex_init (&s->lock, NULL);
  pthread_condattr_init (&ca);
  pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  pthread_cond_init (&s->idle, &ca);
  pthread_condattr_destroy (&ca);
  *out = s;
  return 0;
}

/* Drop a reference; the last one closes the socket. */
static void
session_put (struct session *c)
{
  struct sio *s = c->hub;
  bool last;

  pthread_mutex_lock (&s->lock);
  last = --c->refs == 0;
  pthread_mutex_unlock (&s->lock);
  if (!last)
    return;
  ws_free (c->ws);
  pthread_mutex_lock (&s->lock);
  if (!c->counted)
    s->pending--;
  free (c);
  s->live--;
  pthread_cond_broadcast (&s->idle);
  pthread_mutex_unlock (&s->lock);
}

static int
send_str (struct session *c, const char *s)
{
  return ws_send_text (c->ws, s, strlen (s));
}

/* Count the session under key_id (it was pending, or under another key):
 * -1 if that key, or all keys together, have their most sessions. */
static int
count_under_key (struct session *c, int64_t key_id)
{
  struct sio *s = c->hub;
  unsigned of_key = 0, counted = 0;
  int rc = 0;

  pthread_mutex_lock (&s->lock);
  for (struct session *o = s->head; o; o = o->next)
    if (o != c && o->counted)
      {
        counted++;
        of_key += o->key_id == key_id;
      }
  if (of_key >= SIO_KEY_SESSIONS_MAX || (!c->counted && counted >= SIO_SESSIONS_MAX))
    rc = -1;
  else
    {
      if (!c->counted)
        s->pending--;
      c->counted = true;
      c->key_id = key_id;
    }
  pthread_mutex_unlock (&s->lock);
  return rc;
}

void
sio_parse (const char *m, size_t len, struct sio_packet *p)
{
  static const struct
  {
    char type;
    enum sio_kind kind;
  } engine[] = {
    { '1', SIO_END },     /* close */
    { '2', SIO_PING },    /* a client's ping (an Engine.IO 3 habit): echoed */
    { '3', SIO_PONG },    /* pong */
    { '5', SIO_IGNORED }, /* upgrade, noop: no other transport here */
    { '6', SIO_IGNORED },
  };

  *p = (struct sio_packet){ .kind = SIO_END, .nsp = "/", .nsp_len = 1 };
  if (len == 0)
    return;
  for (size_t i = 0; i < sizeof engine / sizeof engine[0]; i++)
    if (m[0] == engine[i].type)
      {
        p->kind = engine[i].kind;
        p->data = m + 1;
        p->len = len - 1;
        return;
      }
  if (m[0] != '4') /* anything else ends the session */
    return;
  /* a Socket.IO packet: CONNECT, DISCONNECT, or what nobody listens to */
  p->kind = len >= 2 && m[1] == '0'   ? SIO_CONNECT
            : len >= 2 && m[1] == '1' ? SIO_DISCONNECT
                                      : SIO_IGNORED;
  if (p->kind != SIO_CONNECT)
    return;
  m += 2;
  len -= 2;
  if (len > 0 && m[0] == '/') /* a namespace ("/nsp,"), then the auth object */
    {
      const char *comma = memchr (m, ',', len);

      p->nsp = m;
      p->nsp_len = comma ? (size_t) (comma - m) : len;
      m += comma ? p->nsp_len + 1 : len;
      len -= comma ? p->nsp_len + 1 : len;
    }
  p->data = m;
  p->len = len;
}

/* The Socket.IO CONNECT: namespace "/" only, the API key in the auth
 * object. */
static int
on_connect (struct session *c, const struct sio_packet *pk)
{
  cleanup_json json_t *auth = NULL;
  const char *token = NULL;
  struct islet_err err;
  int64_t key_id;
  char hex[65], reply[64];

  if (pk->nsp_len != 1)
    {
      cleanup_free char *r = islet_xasprintf ("44%.*s,{\"message\":\"Invalid namespace\"}",
                                              (int) (pk->nsp_len > 200 ? 200 : pk->nsp_len),
                                              pk->nsp);
      return send_str (c, r);
    }
  if (pk->len > 0)
    auth = json_loadb (pk->data, pk->len, 0, NULL);
  if (json_is_object (auth))
    token = json_string_value (json_object_get (auth, "token"));
  if (token == NULL || *token == '\0')
    return send_str (c, "44{\"message\":\"missing API key: send {\\\"token\\\": <key>}\"}");
  key_hash (token, hex);
  if (islet_store_key_find (c->srv->store, hex, &key_id, &err) < 0)
    return send_str (c, err.kind == ISLET_E_NOTFOUND ? "44{\"message\":\"invalid API key\"}"
                                                     : "44{\"message\":\"the key store failed\"}");
  if (count_under_key (c, key_id) < 0)
    return send_str (c, "44{\"message\":\"too many Socket.IO sessions for this key\"}");
  pthread_mutex_lock (&c->hub->lock);
  memcpy (c->key_hex, hex, sizeof hex);
  c->connected = true;
  pthread_mutex_unlock (&c->hub->lock);
  snprintf (reply, sizeof reply, "40{\"sid\":\"%s\"}", c->sid);
  return send_str (c, reply);
}

static void
set_connected (struct session *c, bool on)
{
  pthread_mutex_lock (&c->hub->lock);
  c->connected = on;
  pthread_mutex_unlock (&c->hub->lock);
}

/* One Engine.IO packet from the client.  -1: end the session. */
static int
on_packet (struct session *c, const char *m, size_t len, uint64_t *pong_by)
{
  struct sio_packet pk;

  sio_parse (m, len, &pk);
  switch (pk.kind)
    {
    case SIO_END: return -1;
    case SIO_PING:
      {
        cleanup_free char *r = islet_xasprintf ("3%.*s", (int) pk.len, pk.data);
        return send_str (c, r);
      }
    case SIO_PONG: *pong_by = 0; return 0;
    case SIO_CONNECT: return on_connect (c, &pk);
    case SIO_DISCONNECT: set_connected (c, false); return 0;
    case SIO_IGNORED: return 0;
    }
  return -1;
}

/* Ping time: is the key still valid?  A revoked key's session is told to
 * disconnect (a reconnect then gets 44). */
static int
recheck_key (struct session *c)
{
  struct islet_err err;
  int64_t key_id;

  if (!c->connected)
    return 0;
  if (islet_store_key_find (c->srv->store, c->key_hex, &key_id, &err) < 0
      && err.kind == ISLET_E_NOTFOUND)
    {
      set_connected (c, false);
      return send_str (c, "41");
    }
  return 0;
}

static void
session_loop (struct session *c)
{
  struct sio *s = c->hub;
  uint64_t ms = 1000000, now = islet_now_ns ();
  uint64_t connect_by = now + SIO_CONNECT_TIMEOUT_MS * ms;
  uint64_t next_ping = now + s->ping_ms * ms, pong_by = 0;
  char open[192];

  snprintf (open, sizeof open,
            "0{\"sid\":\"%s\",\"upgrades\":[],\"pingInterval\":%llu,\"pingTimeout\":%llu,"
            "\"maxPayload\":%d}",
            c->sid, (unsigned long long) s->ping_ms, (unsigned long long) s->ping_timeout_ms,
            WS_MESSAGE_MAX);
  if (send_str (c, open) < 0)
    return;
  for (;;)
    {
      uint64_t deadline = pong_by ? pong_by : next_ping;
      const char *m;
      size_t len;
      int rc;

      if (!c->connected && connect_by < deadline)
        deadline = connect_by;
      rc = ws_recv (c->ws, deadline, &m, &len);
      if (rc < 0)
        return;
      if (rc == 1)
        {
          bool waiting = pong_by != 0;
          if (on_packet (c, m, len, &pong_by) < 0)
            break;
          if (waiting && pong_by == 0)
            next_ping = islet_now_ns () + s->ping_ms * ms;
          continue;
        }
      now = islet_now_ns ();
      if (pong_by && now >= pong_by)
        {
          ws_close (c->ws, 1000, "ping timeout");
          return;
        }
      if (!c->connected && now >= connect_by)
        break;
      if (!pong_by && now >= next_ping)
        {
          if (recheck_key (c) < 0 || send_str (c, "2") < 0)
            return;
          pong_by = now + s->ping_timeout_ms * ms;
        }
    }
  ws_close (c->ws, 1000, "");
}

static void *
session_main (void *arg)
{
  struct session *c = arg;
  struct sio *s = c->hub;

  session_loop (c);
  pthread_mutex_lock (&s->lock);
  c->connected = false;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->head = c->next;
  if (c->next)
    c->next->prev = c->prev;
  pthread_mutex_unlock (&s->lock);
  session_put (c);
  return NULL;
}

/* An Engine.IO session id: 20 random url-safe characters. */
static void
random_sid (char sid[24])
{
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  unsigned char b[20] = { 0 };

  if (getrandom (b, sizeof b, 0) != (ssize_t) sizeof b)
    memset (b, 0, sizeof b); /* a predictable sid guards nothing here: auth is the token */
  for (size_t i = 0; i < sizeof b; i++)
    sid[i] = abc[b[i] & 63];
  sid[20] = '\0';
}

void
sio_accept (struct srv *srv, struct ws *ws)
{
  struct sio *s = srv->sio;
  struct session *c;
  pthread_attr_t attr;
  pthread_t t;
  char client[WS_PEER_MAX];
  unsigned of_client = 0;
  int e;

  ws_peer (ws, client);
  pthread_mutex_lock (&s->lock);
  for (struct session *o = s->head; o; o = o->next)
    of_client += !o->counted && strcmp (o->client, client) == 0;
  if (s->stopping || s->pending >= SIO_PENDING_MAX || of_client >= SIO_PENDING_PER_CLIENT)
    {
      bool stopping = s->stopping;
      pthread_mutex_unlock (&s->lock);
      ws_close (ws, stopping ? 1001 : 1013,
                stopping ? "going away" : "too many sessions waiting for a key");
      ws_free (ws);
      return;
    }
  c = islet_xcalloc (1, sizeof *c);
  *c = (struct session){ .hub = s, .srv = srv, .ws = ws, .refs = 1, .next = s->head };
  memcpy (c->client, client, sizeof client);
  random_sid (c->sid);
  if (s->head)
    s->head->prev = c;
  s->head = c;
  s->live++;
  s->pending++;
  pthread_mutex_unlock (&s->lock);

  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize (&attr, 256 * 1024);
  e = pthread_create (&t, &attr, session_main, c);
  pthread_attr_destroy (&attr);
  if (e != 0)
    {
      fprintf (stderr, "isletd: socket.io: cannot start a session thread: %s\n", strerror (e));
      ws_close (ws, 1011, "");
      session_main (c); /* the loop sees the closed socket at once */
    }
}

void
sio_emit (struct srv *srv, int64_t key_id, const char *event, json_t *data)
{
  struct sio *s = srv->sio;
  struct session *to[SIO_KEY_SESSIONS_MAX];
  cleanup_json json_t *pkt = NULL;
  cleanup_free char *body = NULL, *text = NULL;
  size_t n = 0;

  if (s == NULL)
    return;
  pthread_mutex_lock (&s->lock);
  for (struct session *c = s->head; c && n < SIO_KEY_SESSIONS_MAX; c = c->next)
    if (c->connected && c->key_id == key_id)
      {
        c->refs++;
        to[n++] = c;
      }
  pthread_mutex_unlock (&s->lock);
  if (n == 0)
    return;
  pkt = json_pack ("[sO]", event, data);
  body = pkt ? json_dumps (pkt, JSON_COMPACT) : NULL;
  if (body)
    text = islet_xasprintf ("42%s", body);
  for (size_t i = 0; i < n; i++)
    {
      if (text)
        (void) ws_send_text (to[i]->ws, text, strlen (text));
      session_put (to[i]);
    }
}

void
sio_sandbox_event (struct srv *srv, int64_t key_id, json_t *dto, const char *old_state)
{
  json_t *state = json_object_get (dto, "state");
  cleanup_json json_t *update = NULL;

  if (old_state == NULL)
    {
      sio_emit (srv, key_id, "sandbox.created", dto);
      old_state = "creating";
    }
  update = json_pack ("{sO,ss,sO}", "sandbox", dto, "oldState", old_state, "newState",
                      state ? state : json_null ());
  if (update)
    sio_emit (srv, key_id, "sandbox.state.updated", update);
}

void
sio_shutdown (struct sio *s)
{
  struct timespec until;

  if (s == NULL)
    return;
  clock_gettime (CLOCK_MONOTONIC, &until);
  until.tv_sec += SIO_STOP_WAIT_S;
  pthread_mutex_lock (&s->lock);
  s->stopping = true;
  for (struct session *c = s->head; c; c = c->next)
    ws_abort (c->ws);
  while (s->live > 0 && pthread_cond_timedwait (&s->idle, &s->lock, &until) == 0)
    ;
  if (s->live > 0)
    fprintf (stderr, "isletd: socket.io: %u sessions did not end\n", s->live);
  pthread_mutex_unlock (&s->lock);
}

void
sio_free (struct sio *s)
{
  if (s == NULL || s->live > 0) /* a session still running keeps it */
    return;
  pthread_cond_destroy (&s->idle);
  pthread_mutex_destroy (&s->lock);
  free (s);
}
