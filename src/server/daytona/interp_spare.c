/* Spare drivers: once a sandbox has made an interpreter context, isletd
 * starts one more driver for it in the background, so that its next
 * context (a createContext, the default one, a /v1 session) is a driver
 * that is already up rather than a python3 start.  Likewise after a
 * code-run: a driver in "spare" mode (interp_driver.py) started with the
 * run's variables, working directory and output limit, which the next
 * code-run with the same three takes (coderun_spare_take).  A spare is an exec of
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
#include <sys/socket.h>

#include "interp_internal.h"
#include "islet/util.h"
#include "v1.h"

#define SPARES_MAX 64
#define ADOPT_TIMEOUT_MS 2000 /* an idle driver's answer to one line */
#define SPARE_DELAY_MS 1000
/* A code-run's spare starts once the sandbox had no code-run for this
 * long: runs back to back never share the CPU with its start (each one
 * puts it off), and a run after a pause this long finds it up. */
#define CODE_RUN_DELAY_MS 100

enum spare_kind
{
  SPARE_CONTEXT,
  SPARE_CODE_RUN,
};

struct spare
{
  struct spare *next;
  enum spare_kind kind;
  char sandbox[ISLET_ID_LEN + 1];
  struct interp_ctx *c;  /* a context's driver: no id, not listed */
  int conn;              /* a code-run's exec, once up (-1 before) */
  char **env;            /* what it was started with */
  char *cwd;             /* a code-run's (NULL: the sandbox's own) */
  uint64_t output_limit; /* a code-run's, per stream, as the run's own */
  struct srv *srv;
  bool hurry;     /* start now: taken, or isletd stops (under t->lock) */
  bool started;   /* past its delay (under t->lock) */
  bool cancelled; /* do not start: taken in its delay, dropped, isletd stops */
  bool done;      /* its start ended (under t->lock; then rc holds) */
  int rc;
};

static void
spare_free (struct spare *s)
{
  if (s == NULL)
    return;
  if (s->c)
    ictx_free (s->c);      /* the connection closed: the process is killed */
  v1_zygote_end (s->conn); /* its stdin's end, on which it exits unused */
  islet_strv_free (s->env);
  free (s->cwd);
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
  struct pollfd p = { .fd = s->c ? s->c->fd : s->conn, .events = POLLIN };

  if (s->rc < 0 || p.fd < 0 || (s->c && interp_dead (s->c)))
    return false;
  return poll (&p, 1, 0) == 0;
}

/* Whether s should no longer start or live (t->lock held): a context's
 * driver killed, a code-run's connection shut (or shut once known). */
static void
kill_locked (struct spare *s, const char *why)
{
  s->cancelled = s->hurry = true;
  if (s->c)
    ictx_kill (s->c, why);
  else if (s->conn >= 0)
    shutdown (s->conn, SHUT_RDWR);
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

/* Wait out the delay (t->lock held); false: it is not to start. */
static bool
delay_locked (struct spare *s, struct interp *t)
{
  long ms = s->kind == SPARE_CODE_RUN ? CODE_RUN_DELAY_MS : SPARE_DELAY_MS;
  struct timespec until;

  clock_gettime (CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L)
    {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
  while (!s->hurry && pthread_cond_timedwait (&t->spare_done, &t->lock, &until) == 0)
    ;
  s->started = !s->cancelled;
  return s->started;
}

/* A code-run's driver in spare mode, up and waiting (interp_driver.py);
 * confined, limited and counted as the run's own exec, which has the
 * same variables, directory and output limit (plus the driver's two
 * bytes a stream: its mark when up and its answer). */
static int
coderun_start (struct srv *srv, struct spare *s)
{
  char *argv[] = { "python3", "-u", "-c", (char *) interp_driver_py, (char *) interp_lib_py,
                   "spare",   NULL };
  struct islet_exec_req x = {
    .argv = argv, .env = s->env, .cwd = s->cwd, .output_limit = s->output_limit + 2
  };
  struct interp *t = srv->interp;
  struct islet_err err;
  int conn;

  if (v1_zygote_open (srv->ctx, s->sandbox, &x, &conn, &err) < 0)
    return -1;
  pthread_mutex_lock (&t->lock);
  s->conn = conn;
  if (s->cancelled) /* dropped or isletd stops while it started */
    shutdown (conn, SHUT_RDWR);
  pthread_mutex_unlock (&t->lock);
  return 0;
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
  if (go && s->kind == SPARE_CONTEXT)
    rc = ictx_start (srv->ctx, s->sandbox, s->env, s->c, &out);
  else if (go)
    rc = coderun_start (srv, s);
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

static bool
str_same (const char *a, const char *b)
{
  return a == NULL ? b == NULL : b != NULL && strcmp (a, b) == 0;
}

/* Whether s was started as a start now would be (a context's: env alone;
 * its directory is told at the take). */
static bool
fits (const struct spare *s, char *const *env, const char *cwd, uint64_t output_limit)
{
  return env_same (s->env, env)
         && (s->kind == SPARE_CONTEXT
             || (str_same (s->cwd, cwd) && s->output_limit == output_limit));
}

/* The sandbox's spare of kind that fits (t->lock held), taken out of the
 * list once its start is over; one still in its delay is not started when
 * skip_delayed (a start of the caller's own costs the same). */
static struct spare *
claim_locked (struct interp *t, enum spare_kind kind, const char *sandbox, char *const *env,
              const char *cwd, uint64_t output_limit, bool skip_delayed)
{
  struct spare *s;

  for (s = t->spares; s; s = s->next)
    if (s->kind == kind && !s->cancelled && strcmp (s->sandbox, sandbox) == 0)
      break;
  if (s == NULL || !fits (s, env, cwd, output_limit))
    return NULL; /* none, or started otherwise: spare_want replaces it */
  unlink_locked (t, s);
  if (skip_delayed && !s->started)
    s->cancelled = true;
  s->hurry = true;
  pthread_cond_broadcast (&t->spare_done);
  while (!s->done) /* still starting: no slower than a start of our own */
    pthread_cond_wait (&t->spare_done, &t->lock);
  return s;
}

struct interp_ctx *
spare_take (struct srv *srv, const char *sandbox, char *const *env, const char *cwd)
{
  struct interp *t = srv->interp;
  struct interp_ctx *c = NULL;
  struct spare *s;

  pthread_mutex_lock (&t->lock);
  s = claim_locked (t, SPARE_CONTEXT, sandbox, env, NULL, 0, false);
  pthread_mutex_unlock (&t->lock);
  if (s == NULL)
    return NULL;
  if (s->rc == 0 && adopt (s, cwd) == 0)
    {
      c = s->c;
      s->c = NULL;
    }
  spare_free (s);
  return c;
}

int
coderun_spare_take (struct srv *srv, const char *sandbox, char *const *env, const char *cwd,
                    uint64_t output_limit)
{
  struct interp *t = srv->interp;
  struct spare *s;
  int conn = -1;

  pthread_mutex_lock (&t->lock);
  s = claim_locked (t, SPARE_CODE_RUN, sandbox, env, cwd, output_limit, true);
  pthread_mutex_unlock (&t->lock);
  if (s == NULL)
    return -1;
  if (spare_alive (s))
    {
      conn = s->conn;
      s->conn = -1;
    }
  spare_free (s);
  return conn;
}

static void
want (struct srv *srv, enum spare_kind kind, const char *sandbox, char *const *env, const char *cwd,
      uint64_t output_limit)
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
      bool mine = s->kind == kind && strcmp (s->sandbox, sandbox) == 0;

      next = s->next;
      if (s->done && (!spare_alive (s) || (mine && !fits (s, env, cwd, output_limit))))
        {
          unlink_locked (t, s); /* dead (its sandbox stopped?), or stale */
          s->next = gone;
          gone = s;
          continue;
        }
      if (mine && (s->cancelled || !fits (s, env, cwd, output_limit)))
        kill_locked (s, "replaced"); /* still starting: the list drops it when done */
      else if (mine)
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
      s->kind = kind;
      snprintf (s->sandbox, sizeof s->sandbox, "%s", sandbox);
      s->c = kind == SPARE_CONTEXT ? ictx_new (t, sandbox, NULL) : NULL;
      s->conn = -1;
      s->env = islet_strv_dup (env);
      s->cwd = cwd ? islet_xstrdup (cwd) : NULL;
      s->output_limit = output_limit;
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
spare_want (struct srv *srv, const char *sandbox, char *const *env)
{
  want (srv, SPARE_CONTEXT, sandbox, env, NULL, 0);
}

void
coderun_spare_want (struct srv *srv, const char *sandbox, char *const *env, const char *cwd,
                    uint64_t output_limit)
{
  want (srv, SPARE_CODE_RUN, sandbox, env, cwd, output_limit);
}

void
interp_spares_drop (struct srv *srv, const char *sandbox)
{
  struct interp *t = srv->interp;
  struct spare *gone = NULL, *s, *next;

  pthread_mutex_lock (&t->lock);
  for (s = t->spares; s; s = next)
    {
      next = s->next;
      if (strcmp (s->sandbox, sandbox) != 0)
        continue;
      if (!s->done)
        {
          kill_locked (s, "its sandbox stopped"); /* the list drops it when done */
          continue;
        }
      unlink_locked (t, s); /* ended below: a code-run's told its stdin's end */
      s->next = gone;
      gone = s;
    }
  pthread_cond_broadcast (&t->spare_done);
  pthread_mutex_unlock (&t->lock);
  for (s = gone; s; s = next)
    {
      next = s->next;
      spare_free (s);
    }
}

void
coderun_count (struct srv *srv, enum code_run_path how)
{
  __atomic_add_fetch (&srv->interp->code_runs[how], 1, __ATOMIC_RELAXED);
}

void
interp_render (struct interp *t, FILE *f)
{
  unsigned long long n[3];
  size_t spares;

  pthread_mutex_lock (&t->lock);
  spares = t->n_spares;
  pthread_mutex_unlock (&t->lock);
  for (int i = 0; i < 3; i++)
    n[i] = __atomic_load_n (&t->code_runs[i], __ATOMIC_RELAXED);
  fprintf (f,
           "# HELP isletd_interp_spares Pythons started ahead (contexts' and code-runs').\n"
           "# TYPE isletd_interp_spares gauge\n"
           "isletd_interp_spares %zu\n"
           "# HELP isletd_code_runs_total Python code-runs, by how they ran: on the "
           "sandbox's spare, plain after the spare said stale, plain without a spare "
           "that fit.\n"
           "# TYPE isletd_code_runs_total counter\n"
           "isletd_code_runs_total{path=\"spare\"} %llu\n"
           "isletd_code_runs_total{path=\"stale\"} %llu\n"
           "isletd_code_runs_total{path=\"plain\"} %llu\n",
           spares, n[CODE_RUN_SPARE], n[CODE_RUN_STALE], n[CODE_RUN_PLAIN]);
}

void
spare_shutdown (struct interp *t)
{
  pthread_mutex_lock (&t->lock);
  for (struct spare *s = t->spares; s; s = s->next)
    kill_locked (s, "isletd stopped");
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
