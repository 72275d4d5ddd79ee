/* Spare drivers: once a sandbox has made an interpreter context, isletd
 * starts one more driver for it in the background, so that its next
 * context (a createContext, the default one, a /v1 session) is a driver
 * that is already up rather than a python3 start.  A spare is an exec of
 * the sandbox like a context (confined, limited, counted in its memory and
 * processes, killed with it) that has run nothing: taken, it is told its
 * working directory ("adopt") and becomes the context; then the next spare
 * starts.  Each context still has a python process of its own.  At most
 * one spare per sandbox, SPARES_MAX in all.  A spare starts SPARE_DELAY_MS
 * after the context that asked for it, so that the runs that follow a new
 * context at once do not share the CPU with a python start; a take during
 * the delay starts it at once. */
#include <poll.h>
#include <string.h>

#include "interp_internal.h"
#include "islet/util.h"

#define SPARES_MAX 64
#define ADOPT_TIMEOUT_MS 2000 /* an idle driver's answer to one line */
#define SPARE_DELAY_MS 1000

struct spare
{
  struct spare *next;
  struct interp_ctx *c; /* its driver: no id, not listed */
  char **env;           /* what it was started with */
  struct srv *srv;
  bool hurry; /* start now: taken, or isletd stops (under t->lock) */
  bool done;  /* its start ended (under t->lock; then rc holds) */
  int rc;
};

static void
spare_free (struct spare *s)
{
  if (s == NULL)
    return;
  ictx_free (s->c); /* the connection closed: the process is killed */
  islet_strv_free (s->env);
  free (s);
}

static bool
env_same (char *const *a, char *const *b)
{
  size_t i;

  for (i = 0; a[i] && b[i]; i++)
    if (strcmp (a[i], b[i]) != 0)
      return false;
  return a[i] == NULL && b[i] == NULL;
}

/* Whether a started spare is still there: an idle driver sends nothing,
 * so anything to read (its end, most often) rules it out. */
static bool
spare_alive (struct spare *s)
{
  struct pollfd p = { .fd = s->c->fd, .events = POLLIN };

  return s->rc == 0 && !interp_dead (s->c) && poll (&p, 1, 0) == 0;
}

/* Take s out of the list (t->lock held). */
static void
unlink_locked (struct interp *t, struct spare *s)
{
  for (struct spare **p = &t->spares; *p; p = &(*p)->next)
    if (*p == s)
      {
        *p = s->next;
        t->n_spares--;
        return;
      }
}

/* Wait out the delay (t->lock held); false: isletd stops. */
static bool
delay_locked (struct spare *s, struct interp *t)
{
  struct timespec until;

  clock_gettime (CLOCK_REALTIME, &until);
  until.tv_sec += SPARE_DELAY_MS / 1000;
  until.tv_nsec += (SPARE_DELAY_MS % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L)
    {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
  while (!s->hurry && pthread_cond_timedwait (&t->spare_done, &t->lock, &until) == 0)
    ;
  return !interp_dead (s->c);
}

static void *
spare_thread (void *arg)
{
  struct spare *s = arg;
  struct srv *srv = s->srv;
  struct interp *t = srv->interp;
  struct resp out = { .fd = -1 };
  bool go;
  int rc = -1;

  pthread_mutex_lock (&t->lock);
  go = delay_locked (s, t);
  pthread_mutex_unlock (&t->lock);
  if (go)
    rc = ictx_start (srv->ctx, s->c->sandbox, s->env, s->c, &out);
  free (out.body);
  pthread_mutex_lock (&t->lock);
  s->rc = rc;
  s->done = true; /* s is the taker's or the list's from here on */
  pthread_cond_broadcast (&t->spare_done);
  pthread_mutex_unlock (&t->lock);
  srv_stream_end (srv);
  return NULL;
}

/* The driver s started told to become a context in cwd; -1: it is unfit
 * (gone, or cwd cannot be entered: a start of its own says why). */
static int
adopt (struct spare *s, const char *cwd)
{
  cleanup_json json_t *msg = json_pack ("{s:s,s:s?}", "op", "adopt", "cwd", cwd);
  uint64_t deadline = islet_now_ns () + (uint64_t) ADOPT_TIMEOUT_MS * 1000000;
  struct ictx_ready r = { 0 };
  struct interp_ctx *c = s->c;

  if (msg == NULL || ictx_send (c, msg) < 0)
    return -1;
  while (!r.ready && !r.refused && islet_now_ns () < deadline)
    if (ictx_pump (c, deadline, ictx_on_ready, &r) < 0)
      return -1;
  if (!r.ready)
    return -1;
  free (c->cwd);
  c->cwd = r.cwd[0] ? islet_xstrdup (r.cwd) : NULL;
  return 0;
}

struct interp_ctx *
spare_take (struct srv *srv, const char *sandbox, char *const *env, const char *cwd)
{
  struct interp *t = srv->interp;
  struct interp_ctx *c = NULL;
  struct spare *s;

  pthread_mutex_lock (&t->lock);
  for (s = t->spares; s; s = s->next)
    if (strcmp (s->c->sandbox, sandbox) == 0)
      break;
  if (s && !env_same (s->env, env))
    s = NULL; /* the sandbox's variables changed: spare_want replaces it */
  if (s)
    {
      unlink_locked (t, s);
      s->hurry = true;
      pthread_cond_broadcast (&t->spare_done);
      while (!s->done) /* still starting: no slower than a start of our own */
        pthread_cond_wait (&t->spare_done, &t->lock);
    }
  pthread_mutex_unlock (&t->lock);
  if (s == NULL)
    return NULL;
  if (s->rc == 0 && adopt (s, cwd) == 0)
    {
      c = s->c;
      s->c = NULL;
    }
  islet_strv_free (s->env);
  if (s->c)
    ictx_free (s->c);
  free (s);
  return c;
}

void
spare_want (struct srv *srv, const char *sandbox, char *const *env)
{
  struct interp *t = srv->interp;
  struct spare *gone = NULL, *oldest = NULL, *s, *next;
  pthread_attr_t attr;
  pthread_t th;
  bool have = false;

  if (__atomic_load_n (&srv->stopping, __ATOMIC_ACQUIRE))
    return;
  pthread_mutex_lock (&t->lock);
  for (s = t->spares; s; s = next)
    {
      next = s->next;
      if (s->done
          && (!spare_alive (s)
              || (strcmp (s->c->sandbox, sandbox) == 0 && !env_same (s->env, env))))
        {
          unlink_locked (t, s); /* dead (its sandbox stopped?), or stale */
          s->next = gone;
          gone = s;
          continue;
        }
      if (strcmp (s->c->sandbox, sandbox) == 0)
        have = true;
      if (s->done)
        oldest = s; /* the list is newest first */
    }
  if (!have && t->n_spares >= SPARES_MAX && oldest)
    {
      unlink_locked (t, oldest);
      oldest->next = gone;
      gone = oldest;
    }
  if (!have && t->n_spares < SPARES_MAX)
    {
      s = islet_xcalloc (1, sizeof *s);
      s->c = ictx_new (t, sandbox, NULL);
      s->env = islet_strv_dup (env);
      s->srv = srv;
      srv_stream_begin (srv);
      pthread_attr_init (&attr);
      pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
      if (pthread_create (&th, &attr, spare_thread, s) == 0)
        {
          s->next = t->spares;
          t->spares = s;
          t->n_spares++;
        }
      else
        {
          srv_stream_end (srv);
          s->next = gone;
          gone = s;
        }
      pthread_attr_destroy (&attr);
    }
  pthread_mutex_unlock (&t->lock);
  for (s = gone; s; s = next)
    {
      next = s->next;
      spare_free (s);
    }
}

void
spare_shutdown (struct interp *t)
{
  pthread_mutex_lock (&t->lock);
  for (struct spare *s = t->spares; s; s = s->next)
    {
      ictx_kill (s->c, "isletd stopped");
      s->hurry = true;
    }
  pthread_cond_broadcast (&t->spare_done);
  pthread_mutex_unlock (&t->lock);
}

void
spare_free_all (struct interp *t)
{
  struct spare *s, *next;

  for (s = t->spares; s; s = next)
    {
      next = s->next;
      spare_free (s);
    }
  t->spares = NULL;
  t->n_spares = 0;
}
