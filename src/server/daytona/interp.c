/* The interpreter's contexts: isletd's table of them, each one's driver
 * process, and what the driver sends, read as lines (see interp.h). */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "interp.h"
#include "interp_internal.h"
#include "islet/proto.h"
#include "islet/report.h"
#include "islet/util.h"
#include "toolbox.h"

#define READY_TIMEOUT_MS 30000 /* a python3 start on a loaded host */
#define CONTEXTS_MAX 1024      /* in all: past it the oldest dead ones go */

int
interp_new (struct interp **out, struct islet_err *err)
{
  (void) err;
  *out = islet_xcalloc (1, sizeof **out);
  pthread_mutex_init (&(*out)->lock, NULL);
  pthread_cond_init (&(*out)->spare_done, NULL);
  return 0;
}

/* Kill c's process (once): the exec's group goes with its connection. */
void
ictx_kill (struct interp_ctx *c, const char *why)
{
  pthread_mutex_lock (&c->state);
  if (!c->dead)
    {
      c->dead = true;
      snprintf (c->why, sizeof c->why, "%s", why);
    }
  if (c->fd >= 0)
    shutdown (c->fd, SHUT_RDWR);
  pthread_mutex_unlock (&c->state);
}

void
ictx_free (struct interp_ctx *c)
{
  if (c->fd >= 0)
    close (c->fd);
  pthread_mutex_destroy (&c->state);
  pthread_mutex_destroy (&c->run_lock);
  free (c->line);
  free (c->cwd);
  free (c);
}

void
interp_shutdown (struct interp *t)
{
  pthread_mutex_lock (&t->lock);
  for (struct interp_ctx *c = t->head; c; c = c->next)
    ictx_kill (c, "isletd stopped");
  pthread_mutex_unlock (&t->lock);
  spare_shutdown (t);
}

void
interp_free (struct interp *t)
{
  struct interp_ctx *c, *next;

  if (t == NULL)
    return;
  for (c = t->head; c; c = next)
    {
      next = c->next;
      ictx_free (c);
    }
  spare_free_all (t);
  pthread_cond_destroy (&t->spare_done);
  pthread_mutex_destroy (&t->lock);
  free (t);
}

void
interp_put (struct interp_ctx *c)
{
  struct interp *t;
  bool last;

  if (c == NULL)
    return;
  t = c->t;
  pthread_mutex_lock (&t->lock);
  last = --c->refs == 0;
  pthread_mutex_unlock (&t->lock);
  if (last)
    ictx_free (c);
}

/* Take c out of the list (t->lock held); the list's reference goes. */
static bool
unlink_locked (struct interp *t, struct interp_ctx *c)
{
  for (struct interp_ctx **p = &t->head; *p; p = &(*p)->next)
    if (*p == c)
      {
        *p = c->next;
        t->n--;
        return --c->refs == 0;
      }
  return false;
}

static struct interp_ctx *
find_locked (struct interp *t, const char *sandbox, const char *id)
{
  for (struct interp_ctx *c = t->head; c; c = c->next)
    if (strcmp (c->sandbox, sandbox) == 0 && strcmp (c->id, id) == 0)
      return c;
  return NULL;
}

struct interp_ctx *
interp_get (struct srv *srv, const char *sandbox, const char *id)
{
  struct interp *t = srv->interp;
  struct interp_ctx *c;

  pthread_mutex_lock (&t->lock);
  c = find_locked (t, sandbox, id);
  if (c)
    c->refs++;
  pthread_mutex_unlock (&t->lock);
  return c;
}

int
interp_delete (struct srv *srv, const char *sandbox, const char *id)
{
  struct interp *t = srv->interp;
  struct interp_ctx *c;
  bool last = false;

  pthread_mutex_lock (&t->lock);
  c = find_locked (t, sandbox, id);
  if (c)
    {
      ictx_kill (c, "the context was deleted");
      last = unlink_locked (t, c);
    }
  pthread_mutex_unlock (&t->lock);
  if (last)
    ictx_free (c);
  return c ? 0 : -1;
}

bool
interp_dead (struct interp_ctx *c)
{
  bool dead;

  pthread_mutex_lock (&c->state);
  dead = c->dead;
  pthread_mutex_unlock (&c->state);
  return dead;
}

const char *
interp_why (struct interp_ctx *c, char *buf, size_t size)
{
  pthread_mutex_lock (&c->state);
  snprintf (buf, size, "%s", c->dead ? c->why : "");
  pthread_mutex_unlock (&c->state);
  return buf;
}

bool
interp_death_told (struct interp_ctx *c)
{
  bool told;

  pthread_mutex_lock (&c->state);
  told = c->dead && c->told;
  pthread_mutex_unlock (&c->state);
  return told;
}

void
interp_tell_death (struct interp_ctx *c)
{
  pthread_mutex_lock (&c->state);
  c->told = true;
  pthread_mutex_unlock (&c->state);
}

json_t *
interp_ctx_json (struct interp_ctx *c)
{
  char when[32];

  iso_time (c->created, when);
  return json_pack ("{s:s,s:s,s:s,s:b,s:s}", "id", c->id, "cwd", c->cwd ? c->cwd : "", "language",
                    "python", "active", !interp_dead (c), "createdAt", when);
}

json_t *
interp_list (struct srv *srv, const char *sandbox)
{
  struct interp *t = srv->interp;
  json_t *a = json_array ();

  pthread_mutex_lock (&t->lock);
  for (struct interp_ctx *c = t->head; c; c = c->next)
    if (strcmp (c->sandbox, sandbox) == 0 && strcmp (c->id, INTERP_DEFAULT_ID) != 0)
      json_array_append_new (a, interp_ctx_json (c));
  pthread_mutex_unlock (&t->lock);
  return a;
}

/* ---- what the driver sends ---- */

/* Why the exec ended, from its result. */
static void
exec_end_why (const struct islet_exec_result *r, char *buf, size_t size)
{
  if (r->error[0])
    snprintf (buf, size, "python3 could not start: %.200s", r->error);
  else if (r->oom_killed)
    snprintf (buf, size, "its process was killed: out of memory (the sandbox's limit)");
  else if (r->signal)
    snprintf (buf, size, "its process was killed by signal %d", r->signal);
  else
    snprintf (buf, size, "its process exited with code %d", r->exit_code);
}

/* Whole lines of the driver's stdout to fn, as JSON objects; a line past
 * INTERP_LINE_MAX is dropped (fn gets a stderr chunk that says so). */
void
ictx_take_bytes (struct interp_ctx *c, const char *data, size_t len, interp_line_fn fn, void *user)
{
  while (len)
    {
      const char *nl = memchr (data, '\n', len);
      size_t n = nl ? (size_t) (nl - data) : len;

      if (!c->line_over && c->line_len + n > INTERP_LINE_MAX)
        {
          c->line_over = true;
          c->line_len = 0;
        }
      if (!c->line_over)
        {
          if (c->line_len + n + 1 > c->line_cap)
            {
              c->line_cap = (c->line_len + n + 1) * 2;
              c->line = islet_xrealloc (c->line, c->line_cap);
            }
          memcpy (c->line + c->line_len, data, n);
          c->line_len += n;
        }
      if (nl)
        {
          json_t *msg = c->line_over ? interp_line_dropped (c->seq)
                                     : json_loadb (c->line, c->line_len, 0, NULL);
          if (json_is_object (msg))
            fn (user, msg);
          json_decref (msg);
          c->line_len = 0;
          c->line_over = false;
          n++;
        }
      data += n;
      len -= n;
    }
}

int
ictx_pump (struct interp_ctx *c, uint64_t deadline_ns, interp_line_fn fn, void *user)
{
  cleanup_free char *data = NULL;
  struct islet_exec_result res;
  enum islet_stream stream;
  struct islet_err e;
  size_t len;
  int rc = tb_exec_next_until (c->fd, deadline_ns, &stream, &data, &len, &res, &e);

  if (rc == 2)
    return 0;
  if (rc <= 0)
    {
      char why[sizeof c->why];

      if (rc < 0)
        snprintf (why, sizeof why, "it was lost: %.200s", e.msg);
      else
        exec_end_why (&res, why, sizeof why);
      ictx_kill (c, why);
      return -1;
    }
  if (stream == ISLET_STDERR)
    {
      /* the driver's own stderr: python's last words when it cannot go on */
      cleanup_json json_t *msg = json_pack ("{s:s,s:o,s:I}", "type", "stderr", "text",
                                            islet_json_bytes (data, len), "run",
                                            (json_int_t) c->seq);
      fn (user, msg);
      return 1;
    }
  ictx_take_bytes (c, data ? data : "", len, fn, user);
  return 1;
}

int
ictx_send (struct interp_ctx *c, json_t *msg)
{
  cleanup_free char *text = json_dumps (msg, JSON_COMPACT | JSON_ENSURE_ASCII);
  struct islet_err e;
  size_t len, off = 0;

  /* frames of at most ISLET_FRAME_MAX: a line may take several */

  if (text == NULL)
    return -1;
  len = strlen (text);
  text[len++] = '\n'; /* over the NUL: the frames carry len bytes */
  while (off < len)
    {
      size_t n = len - off > ISLET_FRAME_MAX ? ISLET_FRAME_MAX : len - off;
      if (islet_exec_input (c->fd, text + off, n, &e) < 0)
        {
          ictx_kill (c, "its connection to the sandbox was lost (the sandbox stopped?)");
          return -1;
        }
      off += n;
    }
  return 0;
}

/* ---- starting one ---- */

void
ictx_on_ready (void *user, json_t *msg)
{
  struct ictx_ready *r = user;
  const char *type = json_string_value (json_object_get (msg, "type")) ?: "";
  const char *cwd = json_string_value (json_object_get (msg, "cwd"));

  if (strcmp (type, "refused") == 0)
    r->refused = true;
  if (strcmp (type, "ready") != 0)
    return;
  r->ready = true;
  if (cwd && !text_has_control (cwd, strlen (cwd)))
    snprintf (r->cwd, sizeof r->cwd, "%s", cwd);
}

struct interp_ctx *
ictx_new (struct interp *t, const char *sandbox, const char *cwd)
{
  struct interp_ctx *c = islet_xcalloc (1, sizeof *c);

  c->t = t;
  c->fd = -1;
  c->refs = 1;
  c->created = now_s ();
  c->cwd = cwd ? islet_xstrdup (cwd) : NULL;
  pthread_mutex_init (&c->state, NULL);
  pthread_mutex_init (&c->run_lock, NULL);
  snprintf (c->sandbox, sizeof c->sandbox, "%s", sandbox);
  return c;
}

int
ictx_start (struct islet_ctx *ctx, const char *sandbox, char *const *env, struct interp_ctx *c,
            struct resp *out)
{
  char *argv[] = { "python3", "-u", "-c", (char *) interp_driver_py, (char *) interp_lib_py,
                   "serve",   NULL };
  struct islet_exec_req x = { .argv = argv,
                              .env = env,
                              .cwd = c->cwd,
                              /* no timeout: it lives until deleted; the output is
                                 bounded per run, not over the context's life */
                              .output_limit = (uint64_t) 1 << 62 };
  uint64_t deadline = islet_now_ns () + (uint64_t) READY_TIMEOUT_MS * 1000000;
  struct ictx_ready r = { 0 };
  struct islet_err err;
  char why[sizeof c->why];
  int fd;

  if (islet_exec_open (ctx, sandbox, &x, &fd, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return -1;
    }
  /* a spare may be killed (isletd's stop) before its connection is known */
  pthread_mutex_lock (&c->state);
  c->fd = fd;
  if (c->dead)
    shutdown (fd, SHUT_RDWR);
  pthread_mutex_unlock (&c->state);
  while (!r.ready && islet_now_ns () < deadline)
    if (ictx_pump (c, deadline, ictx_on_ready, &r) < 0)
      {
        reply_error (out, 400, "BAD_REQUEST", "the context could not start: %s",
                     interp_why (c, why, sizeof why));
        return -1;
      }
  if (!r.ready)
    {
      reply_error (out, 504, "TIMEOUT", "the context's python3 was not ready within %d s",
                   READY_TIMEOUT_MS / 1000);
      return -1;
    }
  if (r.cwd[0])
    {
      free (c->cwd);
      c->cwd = islet_xstrdup (r.cwd);
    }
  return 0;
}

/* Room for one more of the sandbox's (t->lock held): -1 when it has its
 * most; over CONTEXTS_MAX in all, the oldest dead context is forgotten. */
static int
room_locked (struct interp *t, const char *sandbox, struct interp_ctx **dropped)
{
  struct interp_ctx *oldest_dead = NULL;
  size_t mine = 0;

  *dropped = NULL;
  for (struct interp_ctx *c = t->head; c; c = c->next)
    {
      if (strcmp (c->sandbox, sandbox) == 0)
        mine++;
      if (interp_dead (c))
        oldest_dead = c; /* the list is newest first */
    }
  if (mine >= INTERP_PER_SANDBOX)
    return -1;
  if (t->n >= CONTEXTS_MAX && oldest_dead && unlink_locked (t, oldest_dead))
    *dropped = oldest_dead;
  return t->n >= CONTEXTS_MAX ? -1 : 0;
}

struct interp_ctx *
interp_create (struct srv *srv, const char *sandbox, char *const *env, const char *cwd,
               const char *name, struct resp *out)
{
  struct interp *t = srv->interp;
  struct interp_ctx *c = spare_take (srv, sandbox, env, cwd), *old = NULL, *dropped = NULL;
  bool old_last = false;
  int rc;

  if (c == NULL)
    {
      c = ictx_new (t, sandbox, cwd);
      if (ictx_start (srv->ctx, sandbox, env, c, out) < 0)
        {
          ictx_free (c);
          return NULL;
        }
    }
  c->created = now_s ();
  if (name)
    snprintf (c->id, sizeof c->id, "%s", name);
  else
    tb_new_id (c->id);
  pthread_mutex_lock (&t->lock);
  if (name && (old = find_locked (t, sandbox, name)) != NULL)
    {
      /* a name is taken again only from a dead context */
      ictx_kill (old, "the context was replaced");
      old_last = unlink_locked (t, old);
    }
  rc = room_locked (t, sandbox, &dropped);
  if (rc == 0)
    {
      c->next = t->head;
      t->head = c;
      t->n++;
      c->refs++; /* the caller's */
    }
  pthread_mutex_unlock (&t->lock);
  if (old_last)
    ictx_free (old);
  if (dropped)
    ictx_free (dropped);
  if (rc < 0)
    {
      reply_error (out, 429, "TOO_MANY_CONTEXTS",
                   "sandbox '%s' has %d interpreter contexts, the most it may: delete one first",
                   sandbox, INTERP_PER_SANDBOX);
      ictx_free (c);
      return NULL;
    }
  spare_want (srv, sandbox, env);
  return c;
}

json_t *
interp_line_dropped (uint64_t run)
{
  char text[128];

  snprintf (text, sizeof text, "[islet: a line of the driver's over %zu MiB was dropped]\n",
            INTERP_LINE_MAX >> 20);
  return json_pack ("{s:s,s:s,s:I}", "type", "stderr", "text", text, "run", (json_int_t) run);
}
