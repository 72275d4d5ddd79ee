/* Sandboxes made ahead for every face's create (isletd --create-pool N).
 *
 * The pool is the core's warm pool (src/client/warm.c), which isletd owns
 * while it runs: at start it removes what a pool from before holds (a
 * crash's leftovers, also when this start asks for no pool) and sets the
 * size and the network mode, --default-network's; at stop it removes the
 * pool.  A create that asks for what the pool holds (no name in the core,
 * the default image, the default limits, the default network without a
 * list or proxy, no volumes, no snapshot, no fork: warm_fits) takes one in the core's create, at
 * the one place every face's create goes through (owned.c's make): the core renames the pooled
 * sandbox out of the pool, then calls the claim, which writes the key's row within its quota; a
 * refusal puts the sandbox back untouched. Everything else a create names (its name for the key,
 * labels, env, the auto-stop clocks, public, the time to live) is the row's or the store's, written
 * as for a cold create.
 *
 * The refill is this thread's: the core calls on_take after each take (from
 * the request's thread: it only wakes this one), and this thread runs the
 * core's fill, one cold create per missing sandbox, with isletd's
 * supervisor forker.  A failing fill is retried after 1 s, 2 s, ... at
 * most a minute, so a host that cannot make one is not asked in a loop. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "islet/util.h"
#include "server.h"

#define RETRY_MAX_NS (60ull * 1000000000ull)

struct create_pool
{
  struct srv *srv;
  unsigned size;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  bool want; /* a fill is asked for */
  bool stop;
  unsigned failures; /* fills failed in a row */
  uint64_t retry_ns; /* no fill before this, after a failure */
  uint64_t taken, missed, refused;
  pthread_t thread;
};

/* After a create that fitted the pool: 1 it took one, 0 the pool had none,
 * -1 the key's claim refused it. */
static void
on_take (void *arg, int taken)
{
  struct create_pool *p = arg;

  pthread_mutex_lock (&p->lock);
  if (taken > 0)
    p->taken++;
  else if (taken == 0)
    p->missed++;
  else
    p->refused++;
  p->want = true;
  pthread_cond_signal (&p->wake);
  pthread_mutex_unlock (&p->lock);
}

static void
wait_work (struct create_pool *p)
{
  while (!p->stop && (!p->want || islet_now_ns () < p->retry_ns))
    {
      if (!p->want || p->retry_ns == 0)
        pthread_cond_wait (&p->wake, &p->lock);
      else
        (void) srv_cond_wait_until (&p->wake, &p->lock, p->retry_ns);
    }
}

static void *
worker (void *arg)
{
  struct create_pool *p = arg;
  struct islet_err err;
  int rc;

  pthread_mutex_lock (&p->lock);
  for (;;)
    {
      wait_work (p);
      if (p->stop)
        break;
      p->want = false;
      pthread_mutex_unlock (&p->lock);
      rc = islet_warm_fill (p->srv->ctx, &err);
      pthread_mutex_lock (&p->lock);
      /* ISLET_E_CONFLICT: another process fills it (islet system warm) */
      if (rc == 0 || err.kind == ISLET_E_CONFLICT)
        {
          p->failures = 0;
          p->retry_ns = 0;
          continue;
        }
      if (p->failures++ == 0)
        fprintf (stderr, "isletd: create pool: %s (retried in the background)\n", err.msg);
      {
        uint64_t wait = 1000000000ull << (p->failures < 7 ? p->failures - 1 : 6);
        p->retry_ns = islet_now_ns () + (wait < RETRY_MAX_NS ? wait : RETRY_MAX_NS);
      }
      p->want = true;
    }
  pthread_mutex_unlock (&p->lock);
  return NULL;
}

int
create_pool_new (struct srv *srv, unsigned size, struct create_pool **out, struct islet_err *err)
{
  struct create_pool *p;
  int e;

  *out = NULL;
  if (size > CREATE_POOL_MAX)
    return islet_fail (err, ISLET_E_INVALID, 0, "--create-pool %u: at most %d", size,
                       CREATE_POOL_MAX);
  /* with size 0 too: a pool an isletd before this one left (killed) is
   * removed, never held for no one */
  if (islet_warm_own (srv->ctx, size, srv->net_default, err) < 0)
    return islet_wrap (err, "--create-pool");
  if (size == 0)
    return 0;
  p = islet_xcalloc (1, sizeof *p);
  p->srv = srv;
  p->size = size;
  p->want = true; /* the first fill */
  pthread_mutex_init (&p->lock, NULL);
  srv_cond_init_monotonic (&p->wake);
  e = pthread_create (&p->thread, NULL, worker, p);
  if (e != 0)
    {
      free (p);
      return islet_fail (err, ISLET_E_SYSTEM, e, "the create pool's thread");
    }
  islet_ctx_warm_refill (srv->ctx, on_take, p);
  *out = p;
  return 0;
}

void
create_pool_free (struct create_pool *p)
{
  struct islet_err err;

  if (p == NULL)
    return;
  islet_ctx_warm_refill (p->srv->ctx, NULL, NULL);
  pthread_mutex_lock (&p->lock);
  p->stop = true;
  pthread_cond_signal (&p->wake);
  pthread_mutex_unlock (&p->lock);
  /* size 0 first, which a fill under way reads before its next create;
   * then it is waited for and the pool removed */
  if (islet_warm_set (p->srv->ctx, 0, &err) < 0)
    fprintf (stderr, "isletd: remove the create pool: %s\n", err.msg);
  pthread_join (p->thread, NULL);
  pthread_mutex_destroy (&p->lock);
  pthread_cond_destroy (&p->wake);
  free (p);
}

void
create_pool_render (struct create_pool *p, FILE *f)
{
  unsigned long long taken = 0, missed = 0, refused = 0;
  unsigned size = 0, ready = 0;
  struct islet_err ignored;

  if (p)
    {
      pthread_mutex_lock (&p->lock);
      size = p->size;
      taken = p->taken;
      missed = p->missed;
      refused = p->refused;
      pthread_mutex_unlock (&p->lock);
      if (islet_warm_get (p->srv->ctx, &size, &ready, &ignored) < 0)
        ready = 0;
    }
  fprintf (f,
           "# HELP isletd_create_pool_size Sandboxes kept ready for creates (--create-pool).\n"
           "# TYPE isletd_create_pool_size gauge\n"
           "isletd_create_pool_size %u\n"
           "# HELP isletd_create_pool_ready Of them, ready now.\n"
           "# TYPE isletd_create_pool_ready gauge\n"
           "isletd_create_pool_ready %u\n"
           "# HELP isletd_create_pool_taken_total Creates that took a pooled sandbox.\n"
           "# TYPE isletd_create_pool_taken_total counter\n"
           "isletd_create_pool_taken_total %llu\n"
           "# HELP isletd_create_pool_missed_total Creates that fitted the pool but found "
           "none ready.\n"
           "# TYPE isletd_create_pool_missed_total counter\n"
           "isletd_create_pool_missed_total %llu\n"
           "# HELP isletd_create_pool_refused_total Takes whose key's quota refused them (the "
           "sandbox went back).\n"
           "# TYPE isletd_create_pool_refused_total counter\n"
           "isletd_create_pool_refused_total %llu\n",
           size, ready, taken, missed, refused);
}
