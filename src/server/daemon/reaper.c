/* Auto-stop, auto-pause and auto-delete (Daytona's autoStopInterval,
 * autoPauseInterval and autoDeleteInterval, in minutes): a thread that goes
 * over the store every half minute.  A running sandbox idle (no toolbox
 * call, start or refreshActivity) for autoStopInterval minutes is stopped,
 * or for autoPauseInterval minutes paused (0: never; at most one is set); a
 * paused one is left as it is; a stopped one is deleted autoDeleteInterval minutes after it stopped
 * (-1: never, 0: at once).  Everything it reads is in SQLite (intervals, last activity, when it
 * stopped), so a restarted isletd carries on where the last one was; a sandbox stopped behind
 * isletd's back (the CLI, a dead supervisor) counts as stopped from when the reaper first sees it
 * so. */
#include <pthread.h>
#include <time.h>

#include "islet/util.h"
#include "server.h"

struct reaper
{
  struct srv *srv;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  bool stop;
};

static void
record (struct srv *srv, const struct islet_store_sandbox *row, const char *action, int rc,
        const struct islet_err *e, uint64_t t0)
{
  struct islet_audit a = {
    .key_id = row->key_id,
    .sandbox = row->id,
    .action = action,
    .status = rc == 0 ? 200 : 500,
    .result = rc == 0 ? "ok" : e->msg,
    .duration_ms = (int64_t) ((islet_now_ns () - t0) / 1000000),
  };
  struct islet_err err;

  if (islet_store_audit_add (srv->store, &a, &err) < 0)
    fprintf (stderr, "isletd: audit %s: %s\n", action, err.msg);
  if (rc < 0)
    fprintf (stderr, "isletd: %s %s: %s\n", action, row->id, e->msg);
}

/* The middle's view of a row and its core sandbox, as the row's key. */
static struct owned
owned_of (const struct islet_sandbox_info *info, struct islet_store_sandbox *row)
{
  struct owned o = { .info = *info, .row = *row };

  *row = (struct islet_store_sandbox){ 0 }; /* o owns its strings now */
  return o;
}

/* How long a running sandbox may idle before it is stopped or paused. */
static int64_t
idle_minutes (const struct islet_store_sandbox *row)
{
  return row->auto_stop > 0 ? row->auto_stop : row->auto_pause;
}

static void
reap_running (struct srv *srv, const struct islet_sandbox_info *info,
              struct islet_store_sandbox *row, int64_t now)
{
  cleanup_owned struct owned o = { 0 };
  struct islet_store_sandbox fresh = { 0 };
  struct owner k = { .srv = srv, .key_id = row->key_id };
  uint64_t t0 = islet_now_ns ();
  struct islet_err err;
  int rc;

  if (row->stopped_at != 0 && islet_store_sandbox_set_stopped (srv->store, row->id, 0, &err) < 0)
    fprintf (stderr, "isletd: %s\n", err.msg);
  if (idle_minutes (row) <= 0 || now - row->last_activity < idle_minutes (row) * srv->minute_s)
    return;
  /* read again: a request may have just used it */
  if (islet_store_sandbox_get (srv->store, row->id, &fresh, &err) < 0)
    return;
  o = owned_of (info, &fresh);
  if (idle_minutes (&o.row) <= 0
      || now - o.row.last_activity < idle_minutes (&o.row) * srv->minute_s)
    return;
  /* at most one of the two is set (the API refuses both); its pythons
     started ahead ended first, as by the API's stop and pause */
  interp_spares_drop (srv, info->id);
  if (o.row.auto_stop > 0)
    {
      rc = owned_stop (&k, &o, &err);
      record (srv, row, "sandbox.auto-stop", rc, &err, t0);
    }
  else
    {
      rc = owned_pause (&k, &o, &err);
      record (srv, row, "sandbox.auto-pause", rc, &err, t0);
    }
}

static void
reap_stopped (struct srv *srv, const struct islet_sandbox_info *info,
              struct islet_store_sandbox *row, int64_t now)
{
  cleanup_owned struct owned o = { 0 };
  struct owner k = { .srv = srv, .key_id = row->key_id };
  uint64_t t0 = islet_now_ns ();
  struct islet_err err;
  int rc;

  if (row->stopped_at == 0)
    {
      row->stopped_at = now;
      if (islet_store_sandbox_set_stopped (srv->store, row->id, now, &err) < 0)
        fprintf (stderr, "isletd: %s\n", err.msg);
    }
  if (row->auto_delete < 0 || now - row->stopped_at < row->auto_delete * srv->minute_s)
    return;
  o = (struct owned){ .info = *info, .row = *row }; /* borrowed: row keeps its strings */
  rc = owned_destroy (&k, &o, &err);
  o.row = (struct islet_store_sandbox){ 0 };
  record (srv, row, "sandbox.auto-delete", rc, &err, t0);
}

/* Destroy the sandboxes whose time to live is over, whatever their state
 * (setTtl), and forget the entries of sandboxes gone meanwhile. */
static void
reap_ttl (struct srv *srv)
{
  cleanup_free char (*ids)[ISLET_ID_LEN + 1] = NULL;
  struct islet_err err;
  size_t n = 0;

  if (islet_store_ttl_due (srv->store, now_s (), &ids, &n, &err) < 0)
    {
      fprintf (stderr, "isletd: ttl round: %s\n", err.msg);
      return;
    }
  for (size_t i = 0; i < n; i++)
    {
      struct islet_store_sandbox row = { 0 };
      cleanup_owned struct owned o = { 0 };
      uint64_t t0 = islet_now_ns ();
      struct owner k = { .srv = srv };
      int rc = -1;

      if (islet_store_sandbox_get (srv->store, ids[i], &row, &err) == 0)
        {
          k.key_id = row.key_id;
          rc = owned_open (&k, ids[i], &o, &err);
          if (rc == 0)
            rc = owned_destroy (&k, &o, &err);
          record (srv, &row, "sandbox.ttl-expired", rc, &err, t0);
          islet_store_sandbox_fini (&row);
        }
      /* destroyed, or gone before its time: the entry has done its work */
      if ((rc == 0 || err.kind == ISLET_E_NOTFOUND)
          && islet_store_ttl_set (srv->store, ids[i], 0, &err) < 0)
        fprintf (stderr, "isletd: %s\n", err.msg);
    }
}

/* One round over every key's sandboxes. */
static void
round_once (struct srv *srv)
{
  struct islet_store_sandbox *rows = NULL;
  cleanup_free struct islet_sandbox_info *all = NULL;
  struct islet_ctx *ctx = srv->ctx;
  struct islet_err err;
  size_t n = 0, nall = 0;

  reap_ttl (srv);
  if (owned_core_all (srv, &all, &nall, &err) < 0
      || islet_store_sandbox_list (srv->store, -1, INT64_MIN, NULL, &rows, &n, &err) < 0)
    {
      fprintf (stderr, "isletd: auto-stop round: %s\n", err.msg);
      return;
    }
  for (size_t i = 0; i < n; i++)
    {
      const struct islet_sandbox_info *info = owned_core_find (all, nall, rows[i].id);

      if (info == NULL)
        {
          /* destroyed behind isletd's back (`islet rm`, `islet system
           * reset`): forget it, once it is surely gone and not a sandbox
           * made since the listing above */
          struct islet_sandbox_info again;
          struct islet_err e;

          if (rows[i].created < now_s () - srv->minute_s
              && islet_sandbox_get (ctx, rows[i].id, &again, &e) < 0 && e.kind == ISLET_E_NOTFOUND
              && islet_store_sandbox_delete (srv->store, rows[i].id, &e) < 0)
            fprintf (stderr, "isletd: forget sandbox %s: %s\n", rows[i].id, e.msg);
          continue;
        }
      /* a paused sandbox is neither stopped nor deleted behind its user's
       * back: it waits, frozen, for a start */
      if (info->state == ISLET_SB_RUNNING)
        reap_running (srv, info, &rows[i], now_s ());
      else if (info->state != ISLET_SB_PAUSED)
        reap_stopped (srv, info, &rows[i], now_s ());
    }
  islet_store_sandbox_list_free (rows, n);
}

static void *
reaper_main (void *arg)
{
  struct reaper *rp = arg;
  /* half a minute between rounds, at least a second */
  int64_t tick = rp->srv->minute_s / 2 > 0 ? rp->srv->minute_s / 2 : 1;

  pthread_mutex_lock (&rp->lock);
  while (!rp->stop)
    {
      uint64_t until;

      pthread_mutex_unlock (&rp->lock);
      round_once (rp->srv);
      pthread_mutex_lock (&rp->lock);
      until = islet_now_ns () + (uint64_t) tick * 1000000000ull;
      while (!rp->stop && srv_cond_wait_until (&rp->wake, &rp->lock, until) == 0)
        ;
    }
  pthread_mutex_unlock (&rp->lock);
  return NULL;
}

int
reaper_start (struct srv *srv, struct reaper **out, struct islet_err *err)
{
  struct reaper *rp = islet_xcalloc (1, sizeof *rp);
  int e;

  rp->srv = srv;
  pthread_mutex_init (&rp->lock, NULL);
  srv_cond_init_monotonic (&rp->wake);
  e = pthread_create (&rp->thread, NULL, reaper_main, rp);
  if (e != 0)
    {
      pthread_cond_destroy (&rp->wake);
      pthread_mutex_destroy (&rp->lock);
      free (rp);
      return islet_fail (err, ISLET_E_SYSTEM, e, "start the auto-stop thread");
    }
  *out = rp;
  return 0;
}

void
reaper_stop (struct reaper *rp)
{
  if (rp == NULL)
    return;
  pthread_mutex_lock (&rp->lock);
  rp->stop = true;
  pthread_cond_signal (&rp->wake);
  pthread_mutex_unlock (&rp->lock);
  pthread_join (rp->thread, NULL);
  pthread_cond_destroy (&rp->wake);
  pthread_mutex_destroy (&rp->lock);
  free (rp);
}
