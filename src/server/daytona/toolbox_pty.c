/* Toolbox: PTY sessions (/process/pty...), the SDK's createPty,
 * connectPty, list, info, resize and kill.
 *
 * A PTY session is one exec on a terminal (the runtime's pty mode,
 * src/runtime/pty.c): a shell inside the sandbox, confined and limited as
 * any exec's command, whose terminal's master its exec handler holds.
 * isletd holds the connection to that handler for as long as the session
 * lives, with one thread that reads what the terminal prints and sends it
 * to the WebSockets attached (binary messages).  The last PTY_SCROLLBACK
 * bytes are kept (a ring), and a WebSocket that attaches, connectPty's
 * included, is first sent them: what the terminal printed while nobody
 * watched is seen on reattach, and a flood costs isletd no more than the
 * ring.  A slow viewer holds the terminal back (its send waits, up to the
 * WebSocket's 5 s, then the viewer is dropped).
 * Each viewer's own thread (the upgraded connection's) passes its
 * keystrokes on.  The session outlives its WebSockets: connectPty attaches
 * again, until the shell exits or is killed (DELETE, or the sandbox's
 * stop, which kills every process of it).  isletd's exit kills them all:
 * the terminal ends with the connection that holds it.
 *
 * Bounds: PTY_PER_SANDBOX sessions per sandbox (its devpts holds 64 ptys
 * in all), PTY_PER_KEY per key, PTY_VIEWERS_MAX WebSockets per session. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "islet/client.h"
#include "islet/util.h"
#include "toolbox.h"

#define PTY_PER_SANDBOX 16
#define PTY_PER_KEY 64
#define PTY_VIEWERS_MAX 8
#define PTY_SIZE_MAX 1000
#define PTY_ENVS_PROTOCOL "X-Daytona-Pty-Envs~"
#define PTY_ENVS_MAX 65536
#define PTY_KILL_WAIT_MS 3000
#define PTY_SCROLLBACK (64u << 10)
/* a replay that starts inside the ring starts at a line: at most this far in */
#define PTY_REPLAY_LINE_SEEK 4096
/* The shell: bash when the image has it (Daytona's), else sh. */
#define PTY_SHELL "if [ -x /bin/bash ]; then exec /bin/bash -i; fi; exec /bin/sh -i"

struct pty
{
  struct srv *srv;
  char sandbox[ISLET_ID_LEN + 1];
  char id[129];
  int64_t key_id;
  char *cwd; /* NULL: the sandbox's working directory */
  json_t *envs;
  int64_t created;
  int conn;                  /* to the exec handler, which holds the terminal */
  pthread_mutex_t send_lock; /* frames to the handler never interleave */
  pthread_mutex_t lock;      /* what follows */
  unsigned cols, rows;
  struct ws *viewers[PTY_VIEWERS_MAX];
  char *ring;     /* the last output, PTY_SCROLLBACK bytes once full */
  size_t ring_at; /* where the next byte goes */
  bool ring_full;
  bool started, ended;
  int exit_code; /* -1: islet failed (reason says why) */
  char reason[256];
  unsigned refs; /* under ptys_lock: the registry's, the reader's, each caller's */
  struct pty *next;
};

static pthread_mutex_t ptys_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pty *ptys; /* the sessions that live, and those starting */
static bool ptys_closed; /* isletd stops */

static void
pty_unref (struct pty *p)
{
  bool last;

  pthread_mutex_lock (&ptys_lock);
  last = --p->refs == 0;
  pthread_mutex_unlock (&ptys_lock);
  if (!last)
    return;
  if (p->conn >= 0)
    close (p->conn);
  pthread_mutex_destroy (&p->send_lock);
  pthread_mutex_destroy (&p->lock);
  free (p->cwd);
  free (p->ring);
  json_decref (p->envs);
  free (p);
}

/* Out of the registry (under ptys_lock); the registry's reference goes. */
static bool
unlist_locked (struct pty *p)
{
  for (struct pty **q = &ptys; *q; q = &(*q)->next)
    if (*q == p)
      {
        *q = p->next;
        p->refs--;
        return true;
      }
  return false;
}

/* The live session id of sandbox, with a reference; NULL if none. */
static struct pty *
pty_find (const char *sandbox, const char *id)
{
  struct pty *p;

  pthread_mutex_lock (&ptys_lock);
  for (p = ptys; p; p = p->next)
    if (p->started && strcmp (p->sandbox, sandbox) == 0 && strcmp (p->id, id) == 0)
      {
        p->refs++;
        break;
      }
  pthread_mutex_unlock (&ptys_lock);
  return p;
}

static json_t *
pty_info (struct pty *p)
{
  char created[32];
  json_t *j;

  iso_time (p->created, created);
  pthread_mutex_lock (&p->lock);
  j = json_pack ("{s:s,s:s,s:O,s:i,s:i,s:s,s:b,s:b}", "id", p->id, "cwd", p->cwd ? p->cwd : "",
                 "envs", p->envs, "cols", (int) p->cols, "rows", (int) p->rows, "createdAt",
                 created, "active", !p->ended, "lazyStart", false);
  pthread_mutex_unlock (&p->lock);
  return j;
}

/* A frame to the handler; false if it could not go (the session ends). */
static bool
pty_send (struct pty *p, int (*fn) (int, const void *, size_t, struct islet_err *),
          const void *data, size_t len)
{
  struct islet_err e;
  bool ok;

  pthread_mutex_lock (&p->send_lock);
  ok = fn (p->conn, data, len, &e) == 0;
  pthread_mutex_unlock (&p->send_lock);
  return ok;
}

static int
send_resize (int conn, const void *data, size_t len, struct islet_err *err)
{
  const unsigned *size = data;
  (void) len;
  return islet_pty_resize (conn, size[0], size[1], err);
}

static int
send_kill (int conn, const void *data, size_t len, struct islet_err *err)
{
  (void) data;
  (void) len;
  return islet_exec_kill (conn, err);
}

/* ---- the SDK's control messages ---- */

static void
control_send (struct ws *ws, json_t *msg)
{
  cleanup_free char *text = json_dumps (msg, JSON_COMPACT);
  if (text)
    (void) ws_send_text (ws, text, strlen (text));
  json_decref (msg);
}

/* The close reason (at most 123 bytes): JSON the SDK parses, with the
 * message cut at a character's start if it is long. */
static void
close_with (struct ws *ws, unsigned code, const char *field, const char *message, int exit_code)
{
  char cut[96];
  size_t n = strlen (message);
  cleanup_json json_t *j = NULL;
  cleanup_free char *text = NULL;

  if (n >= sizeof cut)
    {
      n = sizeof cut - 1;
      while (n > 0 && ((unsigned char) message[n] & 0xC0) == 0x80)
        n--;
    }
  memcpy (cut, message, n);
  cut[n] = '\0';
  j = field ? json_pack ("{s:s}", field, cut) : json_object ();
  if (exit_code != INT32_MIN)
    json_object_set_new (j, "exitCode", json_integer (exit_code));
  text = json_dumps (j, JSON_COMPACT);
  ws_close (ws, code, text ? text : "");
}

static void
send_exited (struct ws *ws, int exit_code, const char *reason)
{
  json_t *m = json_pack ("{s:s,s:s,s:i}", "type", "control", "status", "exited", "exitCode",
                         exit_code);
  if (reason[0])
    json_object_set_new (m, "exitReason", json_string (reason));
  control_send (ws, m);
  close_with (ws, 1000, reason[0] ? "exitReason" : NULL, reason, exit_code);
}

/* Wait (a little) for the client's answer to our close, then let go. */
static void
ws_finish (struct ws *ws)
{
  uint64_t until = islet_now_ns () + 2000000000ull;
  const char *msg;
  size_t len;

  while (ws_recv (ws, until, &msg, &len) == 1)
    ;
  ws_free (ws);
}

void
tb_pty_refuse (struct ws *ws, const char *message)
{
  control_send (
      ws, json_pack ("{s:s,s:s,s:s}", "type", "control", "status", "error", "error", message));
  close_with (ws, 1008, "error", message, INT32_MIN);
  ws_finish (ws);
}

/* ---- the reader: the terminal's output, and its end ---- */

/* data onto the ring (p->lock held) */
static void
ring_add (struct pty *p, const char *data, size_t len)
{
  size_t first;

  if (p->ring == NULL)
    p->ring = islet_xmalloc (PTY_SCROLLBACK);
  if (len >= PTY_SCROLLBACK)
    {
      memcpy (p->ring, data + len - PTY_SCROLLBACK, PTY_SCROLLBACK);
      p->ring_at = 0;
      p->ring_full = true;
      return;
    }
  if (len < PTY_SCROLLBACK - p->ring_at)
    {
      memcpy (p->ring + p->ring_at, data, len);
      p->ring_at += len;
      return;
    }
  /* to the end, then over the oldest from the start */
  first = PTY_SCROLLBACK - p->ring_at;
  memcpy (p->ring + p->ring_at, data, first);
  memcpy (p->ring, data + first, len - first);
  p->ring_at = len - first;
  p->ring_full = true;
}

/* The ring, oldest first, to ws (p->lock held): a ring that wrapped is
 * replayed from its first line start, so the replay does not open inside
 * a line or an escape sequence cut in two. */
static void
ring_replay (struct pty *p, struct ws *ws)
{
  size_t len = p->ring_full ? PTY_SCROLLBACK : p->ring_at;
  cleanup_free char *buf = NULL;
  const char *nl;
  size_t skip = 0;

  if (len == 0)
    return;
  buf = islet_xmalloc (len);
  if (p->ring_full)
    {
      memcpy (buf, p->ring + p->ring_at, PTY_SCROLLBACK - p->ring_at);
      memcpy (buf + PTY_SCROLLBACK - p->ring_at, p->ring, p->ring_at);
      nl = memchr (buf, '\n', PTY_REPLAY_LINE_SEEK);
      skip = nl ? (size_t) (nl - buf) + 1 : 0;
    }
  else
    memcpy (buf, p->ring, len);
  if (len > skip)
    (void) ws_send_binary (ws, buf + skip, len - skip);
}

static void
broadcast (struct pty *p, const char *data, size_t len)
{
  pthread_mutex_lock (&p->lock);
  ring_add (p, data, len);
  for (int i = 0; i < PTY_VIEWERS_MAX; i++)
    if (p->viewers[i] && ws_send_binary (p->viewers[i], data, len) < 0)
      ws_abort (p->viewers[i]); /* too slow or gone: its thread lets it go */
  pthread_mutex_unlock (&p->lock);
}

static void
pty_ended (struct pty *p, int exit_code, const char *reason)
{
  pthread_mutex_lock (&ptys_lock);
  (void) unlist_locked (p);
  pthread_mutex_unlock (&ptys_lock);
  pthread_mutex_lock (&p->lock);
  p->ended = true;
  p->exit_code = exit_code;
  snprintf (p->reason, sizeof p->reason, "%s", reason);
  for (int i = 0; i < PTY_VIEWERS_MAX; i++)
    if (p->viewers[i])
      send_exited (p->viewers[i], exit_code, p->reason);
  pthread_mutex_unlock (&p->lock);
}

static void *
reader_run (void *arg)
{
  struct pty *p = arg;
  struct islet_exec_result res;
  struct islet_err e;

  for (;;)
    {
      enum islet_stream stream;
      char *data;
      size_t len;
      int rc = islet_exec_next (p->conn, &stream, &data, &len, &res, &e);

      if (rc == 1)
        {
          broadcast (p, data, len);
          free (data);
          continue;
        }
      if (rc == 0)
        {
          char why[256] = "";
          if (res.error[0])
            snprintf (why, sizeof why, "%s", res.error);
          else if (res.signal)
            snprintf (why, sizeof why, "killed by signal %d", res.signal);
          pty_ended (p, res.exit_code, why);
        }
      else
        pty_ended (p, -1, e.msg);
      break;
    }
  srv_stream_end (p->srv);
  pty_unref (p);
  return NULL;
}

/* ---- starting one ---- */

struct pty_spec
{
  const char *id, *cwd;
  json_t *envs; /* borrowed; may be NULL */
  unsigned cols, rows;
};

/* PTY_PER_KEY, or for tests a smaller ISLETD_TEST_PTY_PER_KEY (1 to it). */
static unsigned
per_key (void)
{
  const char *t = getenv ("ISLETD_TEST_PTY_PER_KEY");
  long n = t ? strtol (t, NULL, 10) : 0;

  return n >= 1 && n <= PTY_PER_KEY ? (unsigned) n : PTY_PER_KEY;
}

/* Take a place for spec->id in sb (the limits are checked under the
 * registry's lock, so two creates cannot both take the last place). */
static struct pty *
pty_reserve (struct req *r, const struct sb_ref *sb, const struct pty_spec *s, struct resp *out)
{
  unsigned in_sandbox = 0, of_key = 0;
  struct pty *p = NULL;

  pthread_mutex_lock (&ptys_lock);
  for (struct pty *q = ptys; q; q = q->next)
    {
      bool here = strcmp (q->sandbox, sb->info.id) == 0;
      if (here && strcmp (q->id, s->id) == 0)
        {
          reply_error (out, 409, "CONFLICT", "PTY session '%s' exists already", s->id);
          goto done;
        }
      in_sandbox += here;
      of_key += q->key_id == r->key_id;
    }
  if (ptys_closed)
    reply_error (out, 503, "UNAVAILABLE", "isletd is stopping");
  else if (in_sandbox >= PTY_PER_SANDBOX)
    reply_error (out, 429, "TOO_MANY_REQUESTS",
                 "too many PTY sessions in sandbox '%s' (%d): kill one first", sb->info.id,
                 PTY_PER_SANDBOX);
  else if (of_key >= per_key ())
    reply_error (out, 429, "TOO_MANY_REQUESTS",
                 "too many PTY sessions for this API key (%u): kill one first", per_key ());
  else
    {
      p = islet_xcalloc (1, sizeof *p);
      p->srv = r->srv;
      snprintf (p->sandbox, sizeof p->sandbox, "%s", sb->info.id);
      snprintf (p->id, sizeof p->id, "%s", s->id);
      p->key_id = r->key_id;
      p->cwd = s->cwd ? islet_xstrdup (s->cwd) : NULL;
      p->envs = s->envs ? json_deep_copy (s->envs) : json_object ();
      p->created = now_s ();
      p->conn = -1;
      p->cols = s->cols;
      p->rows = s->rows;
      pthread_mutex_init (&p->send_lock, NULL);
      pthread_mutex_init (&p->lock, NULL);
      p->refs = 2; /* the registry's and the caller's */
      p->next = ptys;
      ptys = p;
    }
done:
  pthread_mutex_unlock (&ptys_lock);
  return p;
}

/* Start the session's shell; its reference for the caller, or NULL with
 * the answer in out. */
static struct pty *
pty_start (struct req *r, struct sb_ref *sb, const struct pty_spec *s, struct resp *out)
{
  char *argv[] = { "/bin/sh", "-c", PTY_SHELL, NULL };
  char **env = NULL;
  struct islet_exec_req req;
  struct islet_err e;
  pthread_t t;
  struct pty *p;
  int rc;

  if (!session_id_ok (s->id))
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "PTY session id '%s' must be 1 to 128 letters, digits, '.', '_' or '-'", s->id);
      return NULL;
    }
  if (s->cols < 1 || s->cols > PTY_SIZE_MAX || s->rows < 1 || s->rows > PTY_SIZE_MAX)
    {
      reply_error (out, 400, "BAD_REQUEST", "cols and rows must be from 1 to %d", PTY_SIZE_MAX);
      return NULL;
    }
  if ((env = sb_env (sb, s->envs, out)) == NULL)
    return NULL;
  if ((p = pty_reserve (r, sb, s, out)) == NULL)
    {
      islet_strv_free (env);
      return NULL;
    }
  req = (struct islet_exec_req){
    .argv = argv, .env = env, .cwd = s->cwd, .pty_cols = s->cols, .pty_rows = s->rows
  };
  rc = islet_exec_open (sb->ctx, sb->info.id, &req, &p->conn, &e);
  islet_strv_free (env);
  if (rc < 0)
    {
      reply_islet_err (out, &e, false);
      pthread_mutex_lock (&ptys_lock);
      (void) unlist_locked (p);
      pthread_mutex_unlock (&ptys_lock);
      pty_unref (p);
      return NULL;
    }
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", sb->info.id);
  pthread_mutex_lock (&ptys_lock);
  p->started = true;
  p->refs++; /* the reader's */
  pthread_mutex_unlock (&ptys_lock);
  srv_stream_begin (r->srv);
  if (pthread_create (&t, NULL, reader_run, p) != 0)
    {
      /* without a reader nobody would see its end: end it now */
      shutdown (p->conn, SHUT_RDWR);
      reader_run (p);
    }
  else
    pthread_detach (t);
  return p;
}

/* ---- a WebSocket attached to a session ---- */

struct attach
{
  struct pty *p; /* a reference */
};

/* Attach ws to p; false when it cannot be (ws is then answered and let
 * go). */
static bool
viewer_add (struct pty *p, struct ws *ws)
{
  bool added = false, ended;

  pthread_mutex_lock (&p->lock);
  ended = p->ended;
  if (ended)
    send_exited (ws, p->exit_code, p->reason);
  else
    for (int i = 0; i < PTY_VIEWERS_MAX && !added; i++)
      if (p->viewers[i] == NULL)
        {
          /* before any output, under the lock the output is sent under */
          control_send (ws, json_pack ("{s:s,s:s}", "type", "control", "status", "connected"));
          ring_replay (p, ws);
          p->viewers[i] = ws;
          added = true;
        }
  pthread_mutex_unlock (&p->lock);
  if (ended)
    ws_finish (ws);
  else if (!added)
    tb_pty_refuse (ws, "too many WebSockets on this PTY session");
  return added;
}

static void
viewer_remove (struct pty *p, struct ws *ws)
{
  pthread_mutex_lock (&p->lock);
  for (int i = 0; i < PTY_VIEWERS_MAX; i++)
    if (p->viewers[i] == ws)
      p->viewers[i] = NULL;
  pthread_mutex_unlock (&p->lock);
}

static bool
pty_is_over (struct pty *p)
{
  bool over;

  pthread_mutex_lock (&p->lock);
  over = p->ended;
  pthread_mutex_unlock (&p->lock);
  return over || __atomic_load_n (&p->srv->stopping, __ATOMIC_ACQUIRE);
}

/* The viewer's thread: its keystrokes (binary or text messages) to the
 * terminal, until it leaves or the session ends. */
static void
viewer_run (struct srv *srv, struct ws *ws, void *arg)
{
  struct attach *a = arg;
  struct pty *p = a->p;

  free (a);
  srv_stream_begin (srv);
  ws_accept_binary (ws);
  if (!viewer_add (p, ws))
    {
      pty_unref (p);
      srv_stream_end (srv);
      return;
    }
  for (;;)
    {
      const char *msg;
      size_t len;
      int rc = ws_recv (ws, islet_now_ns () + 1000000000ull, &msg, &len);

      if (rc < 0 || pty_is_over (p))
        break;
      if (rc == 1 && len > 0)
        (void) pty_send (p, islet_exec_input, msg, len);
    }
  viewer_remove (p, ws);
  if (__atomic_load_n (&srv->stopping, __ATOMIC_ACQUIRE))
    ws_close (ws, 1001, "going away");
  ws_finish (ws);
  pty_unref (p);
  srv_stream_end (srv);
}

/* The envs the SDK sends in a subprotocol: X-Daytona-Pty-Envs~<base64url
 * of a JSON object>.  NULL with a 400 in out when malformed. */
static json_t *
envs_from_protocols (struct req *r, struct resp *out)
{
  const char *h = req_header (r, "Sec-WebSocket-Protocol");
  const char *at = h ? strstr (h, PTY_ENVS_PROTOCOL) : NULL;
  cleanup_free char *b64 = NULL;
  cleanup_free unsigned char *raw = NULL;
  struct islet_err e;
  size_t n, len;
  json_t *j;

  if (at == NULL)
    return json_object ();
  at += strlen (PTY_ENVS_PROTOCOL);
  n = strcspn (at, ", \t");
  b64 = islet_xmalloc (n + 1);
  memcpy (b64, at, n);
  b64[n] = '\0';
  for (char *c = b64; *c; c++)
    *c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
  if (islet_base64_decode (b64, n, PTY_ENVS_MAX, &raw, &len, &e) < 0
      || (j = json_loadb ((const char *) raw, len, 0, NULL)) == NULL || !json_is_object (j))
    {
      reply_error (out, 400, "BAD_REQUEST", "the PTY's envs (%s) are not base64url JSON",
                   PTY_ENVS_PROTOCOL);
      return NULL;
    }
  return j;
}

static unsigned
query_size (struct req *r, const char *name, unsigned dflt)
{
  const char *v = req_query (r, name);
  char *end;
  unsigned long n;

  if (v == NULL || *v == '\0')
    return dflt;
  n = strtoul (v, &end, 10);
  return *end || n > PTY_SIZE_MAX ? 0 : (unsigned) n;
}

static void
audit_create (struct req *r, struct resp *out, uint64_t t0)
{
  static const struct route rt = { "GET", "/toolbox/{}/process/pty/create-connect",
                                   NULL,  "process.pty.create",
                                   0,     NULL };
  route_audit (&rt, r, out, t0);
}

int
tb_pty_create_begin (struct req *r, struct resp *out, ws_open_fn *fn, void **arg)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_json json_t *envs = NULL;
  uint64_t t0 = islet_now_ns ();
  struct pty_spec s = {
    .id = req_query (r, "id"),
    .cwd = req_query (r, "cwd"),
    .cols = query_size (r, "cols", 80),
    .rows = query_size (r, "rows", 24),
  };
  struct attach *a;
  struct pty *p = NULL;

  if (ws_handshake_check (r->method, req_header (r, "Upgrade"), req_header (r, "Connection"),
                          req_header (r, "Sec-WebSocket-Version"),
                          req_header (r, "Sec-WebSocket-Key"))
      != 0)
    reply_error (out, 400, "BAD_REQUEST", "not a WebSocket upgrade");
  else if (s.id == NULL)
    reply_error (out, 400, "BAD_REQUEST", "a PTY session needs an id (?id=)");
  else if ((envs = envs_from_protocols (r, out)) != NULL && tb_open (r, &sb, out) == 0)
    {
      s.envs = envs;
      if (s.cwd && *s.cwd == '\0')
        s.cwd = NULL;
      p = pty_start (r, &sb, &s, out);
    }
  if (p == NULL)
    {
      audit_create (r, out, t0);
      return -1;
    }
  out->status = 101;
  audit_create (r, out, t0);
  a = islet_xmalloc (sizeof *a);
  a->p = p;
  *fn = viewer_run;
  *arg = a;
  return 0;
}

/* The session named by the path (params[1]) in the caller's sandbox, with
 * a reference; NULL with a 404 in out. */
static struct pty *
path_pty (struct req *r, struct sb_ref *sb, struct resp *out)
{
  struct pty *p;

  if (tb_open (r, sb, out) < 0)
    return NULL;
  p = pty_find (sb->info.id, r->params[1]);
  if (p == NULL)
    reply_error (out, 404, "NOT_FOUND", "PTY session '%s' not found", r->params[1]);
  return p;
}

int
tb_pty_connect_begin (struct req *r, struct resp *out, ws_open_fn *fn, void **arg)
{
  cleanup_sb struct sb_ref sb = { 0 };
  struct pty *p = path_pty (r, &sb, out);
  struct attach *a;

  if (p == NULL)
    return -1;
  a = islet_xmalloc (sizeof *a);
  a->p = p;
  *fn = viewer_run;
  *arg = a;
  return 0;
}

/* ---- REST ---- */

void
tb_pty_list (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  json_t *list;

  if (tb_open (r, &sb, out) < 0)
    return;
  list = json_array ();
  pthread_mutex_lock (&ptys_lock);
  for (struct pty *p = ptys; p; p = p->next)
    if (p->started && strcmp (p->sandbox, sb.info.id) == 0)
      json_array_append_new (list, pty_info (p));
  pthread_mutex_unlock (&ptys_lock);
  reply_json (out, 200, json_pack ("{s:o}", "sessions", list));
}

void
tb_pty_create (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_json json_t *body = req_json_object (r, out);
  json_t *cols, *rows, *envs;
  struct pty_spec s;
  struct pty *p;

  if (body == NULL)
    return;
  cols = json_object_get (body, "cols");
  rows = json_object_get (body, "rows");
  envs = json_object_get (body, "envs");
  s = (struct pty_spec){
    .id = json_string_value (json_object_get (body, "id")),
    .cwd = json_string_value (json_object_get (body, "cwd")),
    .envs = json_is_null (envs) ? NULL : envs,
    .cols = cols ? (unsigned) json_integer_value (cols) : 80,
    .rows = rows ? (unsigned) json_integer_value (rows) : 24,
  };
  if (s.id == NULL)
    {
      reply_error (out, 400, "BAD_REQUEST", "a PTY session needs an id");
      return;
    }
  if (tb_open (r, &sb, out) < 0 || (p = pty_start (r, &sb, &s, out)) == NULL)
    return;
  reply_json (out, 201, json_pack ("{s:s}", "sessionId", p->id));
  pty_unref (p);
}

void
tb_pty_info (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  struct pty *p = path_pty (r, &sb, out);

  if (p == NULL)
    return;
  reply_json (out, 200, pty_info (p));
  pty_unref (p);
}

void
tb_pty_kill (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  struct pty *p = path_pty (r, &sb, out);
  uint64_t until = islet_now_ns () + (uint64_t) PTY_KILL_WAIT_MS * 1000000;

  if (p == NULL)
    return;
  /* the handler kills the exec's group; a handler that does not read (its
     terminal takes no input) loses its connection instead, which kills it
     too */
  if (!pty_send (p, send_kill, NULL, 0))
    shutdown (p->conn, SHUT_RDWR);
  while (!pty_is_over (p) && islet_now_ns () < until)
    nanosleep (&(struct timespec){ .tv_nsec = 10000000 }, NULL);
  if (!pty_is_over (p))
    shutdown (p->conn, SHUT_RDWR);
  reply_json (out, 200, json_object ());
  pty_unref (p);
}

void
tb_pty_resize (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_json json_t *body = req_json_object (r, out);
  json_int_t cols, rows;
  unsigned size[2];
  struct pty *p;

  if (body == NULL)
    return;
  cols = json_integer_value (json_object_get (body, "cols"));
  rows = json_integer_value (json_object_get (body, "rows"));
  if (cols < 1 || cols > PTY_SIZE_MAX || rows < 1 || rows > PTY_SIZE_MAX)
    {
      reply_error (out, 400, "BAD_REQUEST", "cols and rows must be from 1 to %d", PTY_SIZE_MAX);
      return;
    }
  if ((p = path_pty (r, &sb, out)) == NULL)
    return;
  size[0] = (unsigned) cols;
  size[1] = (unsigned) rows;
  if (!pty_send (p, send_resize, size, sizeof size))
    reply_error (out, 409, "CONFLICT", "PTY session '%s' has ended", p->id);
  else
    {
      pthread_mutex_lock (&p->lock);
      p->cols = size[0];
      p->rows = size[1];
      pthread_mutex_unlock (&p->lock);
      reply_json (out, 200, pty_info (p));
    }
  pty_unref (p);
}

void
tb_pty_shutdown (void)
{
  pthread_mutex_lock (&ptys_lock);
  ptys_closed = true;
  /* the handlers kill what runs on the terminals; the readers then end */
  for (struct pty *p = ptys; p; p = p->next)
    if (p->conn >= 0)
      shutdown (p->conn, SHUT_RDWR);
  pthread_mutex_unlock (&ptys_lock);
}
