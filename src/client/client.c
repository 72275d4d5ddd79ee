/* The client side of the supervisor protocol (see islet/proto.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "islet/client.h"
#include "islet/proto.h"
#include "islet/report.h"
#include "islet/util.h"
#include "sandbox_internal.h"

#define CHUNK (1u << 20)

struct buf
{
  char *data;
  size_t len, cap;
};

static void
buf_add (struct buf *b, const char *data, size_t len)
{
  if (b->len + len + 1 > b->cap)
    {
      b->cap = (b->len + len + 1) * 2;
      b->data = islet_xrealloc (b->data, b->cap);
    }
  memcpy (b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
}

static char *
buf_take (struct buf *b)
{
  if (b->data == NULL)
    return islet_xcalloc (1, 1);
  return islet_take_ptr (&b->data);
}

/* Resolve ref, connect, and send the request. */
static int
request (struct islet_ctx *ctx, const char *ref, json_t *req, struct islet_err *err)
{
  char id[ISLET_ID_LEN + 1];
  cleanup_close int fd = -1;

  if (sandbox_resolve (ctx, ref, id, err) < 0)
    return -1;
  if (strcmp (json_string_value (json_object_get (req, "op")) ?: "", "exec") == 0)
    fd = sandbox_connect_exec (ctx, id, err);
  else
    fd = sandbox_connect (ctx, id, err);
  if (fd < 0)
    return -1;
  if (islet_frame_send_json (fd, req, err) < 0)
    return -1;
  return islet_take_fd (&fd);
}

/* ---- kept sessions with a sandbox's file agent ----
 *
 * A session (src/runtime/agent.c) carries requests one after another on one
 * connection to the agent, so a read, stat or list costs one round trip:
 * no connect, no wake of the supervisor, no thread started in the agent.
 * A ctx has up to SESSIONS_MAX open per sandbox and keeps up to
 * SESSIONS_IDLE_MAX of them for whoever asks next (isletd shares one ctx
 * between its threads).  A kept session is only ever as
 * good as the agent at its other end: a stop kills the agent (and the
 * supervisor's death kills it too), which closes every session with it;
 * a session found closed or with unasked-for bytes is dropped before use,
 * and this ctx's own stop and destroy drop the sandbox's at once. */

#define SESSIONS_MAX 16
/* Kept between requests.  Each holds a thread of the agent, whose memory
 * the sandbox pays for: about 35 KiB (its stack's pages and the kernel's),
 * measured with 4 and 16 kept. */
#define SESSIONS_IDLE_MAX 8

struct agent_sessions
{
  char id[ISLET_ID_LEN + 1];
  uint64_t gen; /* changes when the sandbox's sessions are dropped */
  int idle[SESSIONS_IDLE_MAX];
  unsigned n_idle, n_open; /* n_open: idle and in use */
};

struct session
{
  int fd;
  uint64_t gen;
  bool fresh; /* just connected: its first request asks to keep it */
};

static struct agent_sessions *
slot_find (struct islet_ctx *ctx, const char *id)
{
  for (size_t i = 0; i < ctx->n_sessions; i++)
    if (strcmp (ctx->sessions[i].id, id) == 0)
      return &ctx->sessions[i];
  return NULL;
}

static struct agent_sessions *
slot_get (struct islet_ctx *ctx, const char *id)
{
  struct agent_sessions *s = slot_find (ctx, id);

  if (s)
    return s;
  ctx->sessions = islet_xrealloc (ctx->sessions, (ctx->n_sessions + 1) * sizeof *ctx->sessions);
  s = &ctx->sessions[ctx->n_sessions++];
  memset (s, 0, sizeof *s);
  snprintf (s->id, sizeof s->id, "%s", id);
  s->gen = ++ctx->sessions_gen;
  return s;
}

static void
slot_remove (struct islet_ctx *ctx, struct agent_sessions *s)
{
  for (unsigned i = 0; i < s->n_idle; i++)
    close (s->idle[i]);
  *s = ctx->sessions[--ctx->n_sessions];
}

/* Idle means nothing to read: a closed session (its agent is gone) polls
 * readable, and so would one with bytes nobody asked for. */
static bool
session_idle (int fd)
{
  struct pollfd p = { fd, POLLIN, 0 };
  return poll (&p, 1, 0) == 0;
}

/* A session with id's agent, kept or new; -1 when there is none to have
 * (SESSIONS_MAX in use, or the sandbox not running: the caller then makes
 * a one-shot request, which reports the error).  A new one is a plain
 * connection whose first request says "keep"; an agent from before
 * sessions closes it after answering, and it is dropped at its next use. */
static int
session_take (struct islet_ctx *ctx, const char *id, struct session *out)
{
  struct agent_sessions *s;
  struct islet_err err;
  int fd;

  pthread_mutex_lock (&ctx->sessions_lock);
  s = slot_get (ctx, id);
  while (s->n_idle > 0)
    {
      fd = s->idle[--s->n_idle];
      if (session_idle (fd))
        {
          *out = (struct session){ .fd = fd, .gen = s->gen };
          pthread_mutex_unlock (&ctx->sessions_lock);
          return 0;
        }
      close (fd);
      s->n_open--;
    }
  if (s->n_open >= SESSIONS_MAX)
    {
      pthread_mutex_unlock (&ctx->sessions_lock);
      return -1;
    }
  s->n_open++;
  *out = (struct session){ .gen = s->gen, .fresh = true };
  pthread_mutex_unlock (&ctx->sessions_lock);

  out->fd = sandbox_connect (ctx, id, &err);
  if (out->fd >= 0)
    return 0;
  pthread_mutex_lock (&ctx->sessions_lock);
  s = slot_find (ctx, id);
  if (s && s->gen == out->gen && --s->n_open == 0 && s->n_idle == 0)
    slot_remove (ctx, s); /* not running: nothing to keep for it */
  pthread_mutex_unlock (&ctx->sessions_lock);
  return -1;
}

/* Give a session back: kept when it is in step (its last answer was read
 * whole) and the sandbox's sessions were not dropped meanwhile. */
static void
session_give (struct islet_ctx *ctx, const char *id, struct session *se, bool in_step)
{
  struct agent_sessions *s;

  pthread_mutex_lock (&ctx->sessions_lock);
  s = slot_find (ctx, id);
  if (s && s->gen == se->gen && in_step && s->n_idle < SESSIONS_IDLE_MAX)
    s->idle[s->n_idle++] = se->fd;
  else
    {
      close (se->fd);
      if (s && s->gen == se->gen)
        s->n_open--;
    }
  se->fd = -1;
  pthread_mutex_unlock (&ctx->sessions_lock);
}

void
sessions_drop (struct islet_ctx *ctx, const char *id)
{
  struct agent_sessions *s;

  pthread_mutex_lock (&ctx->sessions_lock);
  s = slot_find (ctx, id);
  if (s)
    slot_remove (ctx, s);
  pthread_mutex_unlock (&ctx->sessions_lock);
}

void
sessions_free (struct islet_ctx *ctx)
{
  while (ctx->n_sessions > 0)
    slot_remove (ctx, &ctx->sessions[ctx->n_sessions - 1]);
  free (ctx->sessions);
  ctx->sessions = NULL;
}

static int
send_data_from (int conn, int src, struct islet_err *err)
{
  cleanup_free char *chunk = islet_xmalloc (CHUNK);
  for (;;)
    {
      ssize_t n = read (src, chunk, CHUNK);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "read input");
      if (islet_frame_send (conn, ISLET_FRAME_DATA, chunk, (size_t) n, err) < 0)
        return -1;
      if (n == 0)
        return 0;
    }
}

/* After a failed send of a request's data: a supervisor that refuses the
 * request (a paused sandbox) answers and closes without reading the data,
 * and its answer says why better than the broken pipe does. */
static int
refused_early (int conn, struct islet_err *err)
{
  cleanup_json json_t *answer = NULL;
  struct islet_err ignored;
  struct pollfd p = { .fd = conn, .events = POLLIN };

  /* only a closed peer, whose answer is here already: the failure may be
   * the source's (an upload whose client went away), and a supervisor
   * still reading would never answer */
  if (err->errnum != EPIPE && err->errnum != ECONNRESET)
    return -1;
  if (poll (&p, 1, 0) != 1 || !(p.revents & POLLIN))
    return -1;
  if (islet_frame_recv_json (conn, &answer, &ignored) == 0)
    (void) islet_err_from_json (answer, err);
  return -1;
}

static int
send_data_mem (int conn, const char *data, size_t len, struct islet_err *err)
{
  for (size_t off = 0; off < len; off += CHUNK)
    {
      size_t n = len - off < CHUNK ? len - off : CHUNK;
      if (islet_frame_send (conn, ISLET_FRAME_DATA, data + off, n, err) < 0)
        return -1;
    }
  return islet_frame_send (conn, ISLET_FRAME_DATA, NULL, 0, err);
}

/* Receive frames until the final JSON one; data frames go to sink.  The
 * final message is returned unless it is an error. */
typedef int (*data_sink) (enum islet_frame type, const char *data, size_t len, void *user,
                          struct islet_err *err);

/* What a receive got: any frame at all, and the final one (then the
 * connection is in step for another request, even if that frame was an
 * error). */
struct recv_track
{
  size_t frames;
  bool ended;
};

static int
receive_tracked (int conn, data_sink sink, void *user, json_t **final, struct recv_track *t,
                 struct islet_err *err)
{
  for (;;)
    {
      cleanup_free char *data = NULL;
      enum islet_frame type;
      size_t len;

      if (islet_frame_recv (conn, &type, &data, &len, err) < 0)
        {
          if (err->kind == ISLET_E_NOTFOUND && err->errnum == 0)
            islet_fail (err, ISLET_E_SYSTEM, 0, "the sandbox closed the connection");
          return -1;
        }
      t->frames++;
      if (type == ISLET_FRAME_JSON)
        {
          json_error_t jerr;
          json_t *j = json_loadb (data, len, 0, &jerr);
          if (j == NULL)
            return islet_fail (err, ISLET_E_SYSTEM, EPROTO, "bad answer: %s", jerr.text);
          t->ended = true;
          if (islet_err_from_json (j, err) < 0)
            {
              json_decref (j);
              return -1;
            }
          if (final)
            *final = j;
          else
            json_decref (j);
          return 0;
        }
      if (sink == NULL)
        return islet_fail (err, ISLET_E_SYSTEM, EPROTO, "unexpected data");
      if (sink (type, data, len, user, err) < 0)
        return -1;
    }
}

static int
receive (int conn, data_sink sink, void *user, json_t **final, struct islet_err *err)
{
  struct recv_track t = { 0 };
  return receive_tracked (conn, sink, user, final, &t, err);
}

/* A request that only reads, on a kept session: 1 when no session could be
 * had (make a one-shot request instead).  A session that breaks before its
 * first frame (its agent died since its last use) is dropped and the
 * request made once more: it only reads, so nothing is done twice. */
static int
session_request (struct islet_ctx *ctx, const char *ref, json_t *msg, data_sink sink, void *user,
                 json_t **final, struct islet_err *err)
{
  char id[ISLET_ID_LEN + 1];

  if (sandbox_resolve (ctx, ref, id, err) < 0)
    return -1;
  for (int attempt = 0; attempt < 2; attempt++)
    {
      struct recv_track t = { 0 };
      struct session se;
      int rc;

      if (session_take (ctx, id, &se) < 0)
        return 1;
      if (se.fresh)
        json_object_set_new (msg, "keep", json_true ());
      rc = islet_frame_send_json (se.fd, msg, err);
      json_object_del (msg, "keep");
      if (rc == 0)
        rc = receive_tracked (se.fd, sink, user, final, &t, err);
      session_give (ctx, id, &se, rc == 0 || t.ended);
      if (rc == 0 || t.frames > 0 || se.fresh)
        return rc;
    }
  return 1;
}

struct exec_sink
{
  const struct islet_exec_req *req;
  struct buf out, errout;
};

static int
exec_sink_fn (enum islet_frame type, const char *data, size_t len, void *user,
              struct islet_err *err)
{
  struct exec_sink *s = user;
  if (type != ISLET_FRAME_OUT && type != ISLET_FRAME_ERR)
    return islet_fail (err, ISLET_E_SYSTEM, EPROTO, "unexpected frame in exec output");
  if (!s->req->uncollected || s->req->on_output == NULL)
    buf_add (type == ISLET_FRAME_OUT ? &s->out : &s->errout, data, len);
  if (s->req->on_output)
    s->req->on_output (type == ISLET_FRAME_OUT ? ISLET_STDOUT : ISLET_STDERR, data, len,
                       s->req->user);
  return 0;
}

void
islet_exec_result_fini (struct islet_exec_result *r)
{
  free (r->out);
  free (r->errout);
  r->out = r->errout = NULL;
}

static json_t *
strv_json (char *const *v)
{
  json_t *a = json_array ();
  for (size_t i = 0; v && v[i]; i++)
    json_array_append_new (a, json_string (v[i]));
  return a;
}

json_t *
exec_msg (const struct islet_exec_req *req, bool stdin_follows, struct islet_err *err)
{
  json_t *msg;

  if (req->argv == NULL || req->argv[0] == NULL)
    {
      islet_fail (err, ISLET_E_INVALID, 0, "no command to run");
      return NULL;
    }
  for (size_t i = 0; req->argv[i]; i++)
    {
      json_t *s = json_string (req->argv[i]);
      if (s == NULL)
        {
          islet_fail (err, ISLET_E_INVALID, 0, "argument %zu is not valid UTF-8", i);
          return NULL;
        }
      json_decref (s);
    }
  msg = json_pack ("{s:s,s:o,s:o,s:I,s:I,s:b}", "op", "exec", "argv", strv_json (req->argv), "env",
                   strv_json (req->env), "timeout_ms", (json_int_t) req->timeout_ms, "output_limit",
                   (json_int_t) req->output_limit, "stdin", stdin_follows);
  if (msg == NULL)
    {
      islet_fail (err, ISLET_E_INVALID, 0, "an argument or variable is not valid UTF-8");
      return NULL;
    }
  if (req->cwd)
    json_object_set_new (msg, "cwd", json_string (req->cwd));
  return msg;
}

int
local_exec (void *self, const char *id, const struct islet_exec_req *req,
            struct islet_exec_result *out, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  cleanup_json json_t *msg = NULL;
  cleanup_close int conn = -1;

  memset (out, 0, sizeof *out);
  msg = exec_msg (req, req->stdin_data != NULL, err);
  if (msg == NULL)
    return -1;
  conn = request (ctx, id, msg, err);
  if (conn < 0)
    return -1;
  return exec_answer (conn, req, out, err);
}

int
exec_answer (int conn, const struct islet_exec_req *req, struct islet_exec_result *out,
             struct islet_err *err)
{
  cleanup_json json_t *res = NULL;
  struct exec_sink sink = { .req = req };

  memset (out, 0, sizeof *out);
  if (req->stdin_data && send_data_mem (conn, req->stdin_data, req->stdin_len, err) < 0)
    return refused_early (conn, err);
  if (receive (conn, exec_sink_fn, &sink, &res, err) < 0)
    {
      free (sink.out.data);
      free (sink.errout.data);
      return -1;
    }
  islet_exec_stats_read (res, out);
  out->out_len = sink.out.len;
  out->err_len = sink.errout.len;
  out->out = buf_take (&sink.out);
  out->errout = buf_take (&sink.errout);
  return 0;
}

/* A terminal's first answer: {"pty": "started"}, or why it did not. */
static int
pty_started (int conn, struct islet_err *err)
{
  cleanup_json json_t *first = NULL;
  const char *why;

  if (islet_frame_recv_json (conn, &first, err) < 0 || islet_err_from_json (first, err) < 0)
    return -1;
  if (json_is_string (json_object_get (first, "pty")))
    return 0;
  why = json_string_value (json_object_get (first, "error"));
  return islet_fail (err, ISLET_E_INVALID, 0, "the terminal's command did not start: %s",
                     why && *why ? why : "it ended at once");
}

int
local_exec_open (void *self, const char *id, const struct islet_exec_req *req, int *conn,
                 struct islet_err *err)
{
  bool terminal = req->pty_cols > 0 && req->pty_rows > 0;
  cleanup_json json_t *msg = exec_msg (req, false, err);
  cleanup_close int fd = -1;

  if (msg == NULL)
    return -1;
  if (terminal)
    json_object_set_new (msg, "pty",
                         json_pack ("{s:I,s:I}", "cols", (json_int_t) req->pty_cols, "rows",
                                    (json_int_t) req->pty_rows));
  else
    {
      json_object_set_new (msg, "stdin_stream", json_true ());
      json_object_set_new (msg, "detach", json_boolean (req->detach));
    }
  fd = request (self, id, msg, err);
  if (fd < 0 || (terminal && pty_started (fd, err) < 0))
    return -1;
  *conn = islet_take_fd (&fd);
  return 0;
}

int
islet_exec_input (int conn, const void *data, size_t len, struct islet_err *err)
{
  return islet_frame_send (conn, ISLET_FRAME_DATA, data, len, err);
}

int
islet_pty_resize (int conn, unsigned cols, unsigned rows, struct islet_err *err)
{
  cleanup_json json_t *msg = json_pack ("{s:s,s:I,s:I}", "op", "resize", "cols", (json_int_t) cols,
                                        "rows", (json_int_t) rows);
  return islet_frame_send_json (conn, msg, err);
}

int
islet_exec_kill (int conn, struct islet_err *err)
{
  cleanup_json json_t *msg = json_pack ("{s:s}", "op", "kill");
  return islet_frame_send_json (conn, msg, err);
}

int
islet_exec_next (int conn, enum islet_stream *stream, char **data, size_t *len,
                 struct islet_exec_result *res, struct islet_err *err)
{
  enum islet_frame type;
  json_error_t jerr;
  json_t *j;

  *data = NULL;
  if (islet_frame_recv (conn, &type, data, len, err) < 0)
    {
      if (err->kind == ISLET_E_NOTFOUND && err->errnum == 0)
        islet_fail (err, ISLET_E_SYSTEM, 0, "the sandbox closed the connection");
      return -1;
    }
  if (type == ISLET_FRAME_OUT || type == ISLET_FRAME_ERR)
    {
      *stream = type == ISLET_FRAME_OUT ? ISLET_STDOUT : ISLET_STDERR;
      return 1;
    }
  j = type == ISLET_FRAME_JSON ? json_loadb (*data, *len, 0, &jerr) : NULL;
  free (*data);
  *data = NULL;
  if (j == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, EPROTO, "bad answer from the sandbox");
  if (islet_err_from_json (j, err) < 0)
    {
      json_decref (j);
      return -1;
    }
  memset (res, 0, sizeof *res);
  islet_exec_stats_read (j, res);
  json_decref (j);
  return 0;
}

static int
simple (struct islet_ctx *ctx, const char *id, json_t *msg, json_t **final, bool read_only,
        struct islet_err *err)
{
  cleanup_close int conn = -1;
  int rc;

  if (msg == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "a path is not valid UTF-8");
  if (read_only && (rc = session_request (ctx, id, msg, NULL, NULL, final, err)) <= 0)
    return rc;
  conn = request (ctx, id, msg, err);
  if (conn < 0)
    return -1;
  return receive (conn, NULL, NULL, final, err);
}

static int
mem_sink (enum islet_frame type, const char *data, size_t len, void *user, struct islet_err *err)
{
  if (type != ISLET_FRAME_DATA)
    return islet_fail (err, ISLET_E_SYSTEM, EPROTO, "unexpected frame in file data");
  buf_add (user, data, len);
  return 0;
}

static int
fd_sink (enum islet_frame type, const char *data, size_t len, void *user, struct islet_err *err)
{
  if (type != ISLET_FRAME_DATA)
    return islet_fail (err, ISLET_E_SYSTEM, EPROTO, "unexpected frame in file data");
  if (len && islet_write_all (*(int *) user, data, len) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "write output");
  return 0;
}

int
local_fs_read (void *self, const char *id, const char *path, size_t max, char **data, size_t *len,
               struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  cleanup_json json_t *msg = json_pack ("{s:s,s:s,s:I}", "op", "read", "path", path, "max",
                                        (json_int_t) max);
  cleanup_close int conn = -1;
  struct buf b = { 0 };
  int rc;

  if (msg == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "path is not valid UTF-8");
  rc = session_request (ctx, id, msg, mem_sink, &b, NULL, err);
  if (rc < 0)
    {
      free (b.data);
      return -1;
    }
  if (rc == 0)
    {
      *len = b.len;
      *data = buf_take (&b);
      return 0;
    }
  conn = request (ctx, id, msg, err);
  if (conn < 0)
    return -1;
  if (receive (conn, mem_sink, &b, NULL, err) < 0)
    {
      free (b.data);
      return -1;
    }
  *len = b.len;
  *data = buf_take (&b);
  return 0;
}

int
local_fs_copy_out (void *self, const char *id, const char *path, int host_fd, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  cleanup_json json_t *msg = json_pack ("{s:s,s:s,s:b}", "op", "read", "path", path, "unlimited",
                                        1);
  cleanup_close int conn = -1;

  if (msg == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "path is not valid UTF-8");
  conn = request (ctx, id, msg, err);
  if (conn < 0)
    return -1;
  return receive (conn, fd_sink, &host_fd, NULL, err);
}

/* A write request's connection, ready for the file's bytes; -1 on error. */
static int
write_request (struct islet_ctx *ctx, const char *id, const char *path, unsigned mode,
               struct islet_err *err)
{
  cleanup_json json_t *msg = json_pack ("{s:s,s:s,s:i}", "op", "write", "path", path, "mode",
                                        (int) mode);

  if (msg == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "path is not valid UTF-8");
  return request (ctx, id, msg, err);
}

int
local_fs_write (void *self, const char *id, const char *path, const void *data, size_t len,
                unsigned mode, struct islet_err *err)
{
  cleanup_close int conn = write_request (self, id, path, mode, err);

  if (conn < 0)
    return -1;
  if (send_data_mem (conn, data, len, err) < 0)
    return refused_early (conn, err);
  return receive (conn, NULL, NULL, NULL, err);
}

int
local_fs_copy_in (void *self, const char *id, int host_fd, const char *path, unsigned mode,
                  struct islet_err *err)
{
  cleanup_close int conn = write_request (self, id, path, mode, err);

  if (conn < 0)
    return -1;
  if (send_data_from (conn, host_fd, err) < 0)
    return refused_early (conn, err);
  return receive (conn, NULL, NULL, NULL, err);
}

int
local_fs_remove (void *self, const char *id, const char *path, bool recursive,
                 struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  cleanup_json json_t *msg = json_pack ("{s:s,s:s,s:b}", "op", "rm", "path", path, "recursive",
                                        recursive);

  return simple (ctx, id, msg, NULL, false, err);
}

int
local_fs_mkdir (void *self, const char *id, const char *path, unsigned mode, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  cleanup_json json_t *msg = json_pack ("{s:s,s:s,s:i}", "op", "mkdir", "path", path, "mode",
                                        (int) mode);

  return simple (ctx, id, msg, NULL, false, err);
}

/* Not a file agent's request: the supervisor forks a handler for it (the
 * agent has no capability to chown with). */
int
local_fs_chown (void *self, const char *id, const char *path, int64_t uid, int64_t gid, int mode,
                struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  cleanup_json json_t *msg = json_pack ("{s:s,s:s,s:I,s:I,s:i}", "op", "chown", "path", path, "uid",
                                        (json_int_t) uid, "gid", (json_int_t) gid, "mode", mode);

  return simple (ctx, id, msg, NULL, false, err);
}

int
local_fs_move (void *self, const char *id, const char *from, const char *to, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  cleanup_json json_t *msg = json_pack ("{s:s,s:s,s:s}", "op", "mv", "from", from, "to", to);

  return simple (ctx, id, msg, NULL, false, err);
}

int
local_fs_stat (void *self, const char *id, const char *path, json_t **out, struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  cleanup_json json_t *msg = json_pack ("{s:s,s:s}", "op", "stat", "path", path);
  cleanup_json json_t *res = NULL;

  if (simple (ctx, id, msg, &res, true, err) < 0)
    return -1;
  *out = json_incref (json_object_get (res, "stat"));
  return 0;
}

int
local_fs_list (void *self, const char *id, const char *path, unsigned depth, json_t **out,
               struct islet_err *err)
{
  struct islet_ctx *ctx = self;
  cleanup_json json_t *msg = json_pack ("{s:s,s:s,s:i}", "op", "list", "path", path, "depth",
                                        (int) depth);
  cleanup_json json_t *res = NULL;

  if (simple (ctx, id, msg, &res, true, err) < 0)
    return -1;
  *out = json_incref (json_object_get (res, "entries"));
  return 0;
}
