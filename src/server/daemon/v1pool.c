/* Sandboxes made ahead for /v1/execute, and its destroys after the answer.
 *
 * A run of /v1/execute without a kept sandbox pays a create and a destroy,
 * each several times the run of a small program.  With isletd --v1-pool N,
 * a thread keeps N sandboxes ready, of /v1's default limits and the
 * default network (--default-network, without a list), made as isletd's own (owned_scratch_begin
 * with no key: no row, no quota, swept at the next start if isletd is killed).  A run whose
 * settings are those takes one once its key's quota has taken it
 * (owned_scratch_adopt writes the key's row, in phase scratch, counted as a
 * sandbox made for it would be); one that is refused leaves the sandbox in
 * the pool untouched.  A pooled sandbox runs one request and is destroyed:
 * none is ever given to a second request, so none sees another's files.
 *
 * The same thread destroys each run's sandbox after its answer.  Until it
 * is gone its row stays, so the key's quota counts it: a key cannot pile up
 * sandboxes faster than they go.  The queue is bounded machine-wide
 * (GONE_MAX); past it a run destroys its own sandbox before it answers, as
 * without the pool.  A key refused for its quota while destroys of its own
 * wait has them done at once and is asked again, so a key whose quota is
 * one sandbox can still run one request after another. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "islet/util.h"
#include "server.h"
#include "v1.h"

#define GONE_MAX 32                            /* destroys waiting at once, machine-wide */
#define BACKOFF_MAX_NS (60ull * 1000000000ull) /* a failing create is retried at most this late */

struct gone
{
  int64_t key_id;
  char id[ISLET_ID_LEN + 1];
};

/* A ready sandbox: its python waiting (v1_zygote.c) on conn since ready_ns. */
struct slot
{
  char id[ISLET_ID_LEN + 1];
  int conn;
  uint64_t ready_ns;
};

struct v1pool
{
  struct srv *srv;
  unsigned size;
  struct islet_net net; /* every pooled sandbox's: the default mode, no list */
  pthread_mutex_t lock;
  pthread_cond_t wake; /* the worker: a destroy queued, a sandbox taken, the stop */
  pthread_cond_t done; /* a destroy is over (v1pool_flush waits for it) */
  struct slot ready[V1POOL_MAX];
  unsigned n_ready;
  struct gone gone[GONE_MAX]; /* first in, first destroyed */
  unsigned n_gone;
  unsigned running; /* runs between v1pool_begin and v1pool_end */
  struct gone busy; /* the destroy under way, while busy_on */
  bool busy_on;
  bool stop;
  unsigned failures;    /* creates failed in a row */
  uint64_t retry_ns;    /* no create before this, after a failure */
  uint64_t taken, made; /* for /metrics */
  pthread_t thread;
};

/* The limits of every pooled sandbox: /v1's defaults. */
static const struct islet_limits pool_limits = ISLET_LIMITS_DEFAULT;

/* Does a run of these settings fit the pool's sandboxes?  net NULL: none. */
static bool
fits (const struct v1pool *p, const struct islet_limits *l, const struct islet_net *net)
{
  enum islet_net_mode mode = net ? net->mode : ISLET_NET_NONE;

  for (size_t i = 0; i < ISLET_NLIMITS; i++)
    if (islet_limit_get (l, &islet_limit_defs[i])
        != islet_limit_get (&pool_limits, &islet_limit_defs[i]))
      return false;
  return mode == p->net.mode && (net == NULL || (net->allow[0] == '\0' && net->proxy[0] == '\0'));
}

static void
destroy_for (struct srv *srv, int64_t key_id, const char *id)
{
  struct owner k = { .srv = srv, .key_id = key_id };

  owned_scratch_end (&k, id);
}

static void
slot_drop (struct srv *srv, struct slot *sl)
{
  v1_zygote_end (sl->conn);
  sl->conn = -1;
  destroy_for (srv, -1, sl->id);
}

/* One step of the worker, under the lock: a destroy first (they bound what
 * keys hold), else a sandbox for the pool.  false: nothing to do now. */
static bool
work_one (struct v1pool *p)
{
  struct owner own = { .srv = p->srv, .key_id = -1 };
  struct slot sl = { .conn = -1 };
  struct islet_err err;
  int rc;

  if (p->n_gone > 0)
    {
      p->busy = p->gone[0];
      p->busy_on = true;
      memmove (&p->gone[0], &p->gone[1], --p->n_gone * sizeof p->gone[0]);
      pthread_mutex_unlock (&p->lock);
      destroy_for (p->srv, p->busy.key_id, p->busy.id);
      pthread_mutex_lock (&p->lock);
      p->busy_on = false;
      pthread_cond_broadcast (&p->done);
      return true;
    }
  /* a refill waits for the runs under way (unless none is left for the
   * next): on a small host its create would take their CPU */
  if (p->n_ready >= p->size || p->stop || islet_now_ns () < p->retry_ns
      || (p->running > 0 && p->n_ready > 0))
    return false;
  pthread_mutex_unlock (&p->lock);
  rc = owned_scratch_begin (&own, &pool_limits, &p->net, sl.id, &err);
  if (rc == 0
      && (rc = v1_zygote_start (p->srv->ctx, sl.id, pool_limits.output_bytes, &sl.conn, &err)) < 0)
    destroy_for (p->srv, -1, sl.id);
  sl.ready_ns = islet_now_ns ();
  pthread_mutex_lock (&p->lock);
  if (rc < 0)
    {
      /* 1 s, 2 s, 4 s ... a minute: a host that cannot make one now (its
       * disk full, the ceiling below /v1's defaults) is not asked in a loop */
      uint64_t wait = 1000000000ull << (p->failures < 6 ? p->failures : 6);
      if (p->failures++ == 0)
        fprintf (stderr, "isletd: /v1 pool: %s (retried in the background)\n", err.msg);
      p->retry_ns = islet_now_ns () + (wait < BACKOFF_MAX_NS ? wait : BACKOFF_MAX_NS);
      return true;
    }
  p->failures = 0;
  if (p->stop || p->n_ready >= p->size)
    {
      pthread_mutex_unlock (&p->lock);
      slot_drop (p->srv, &sl);
      pthread_mutex_lock (&p->lock);
      return true;
    }
  p->ready[p->n_ready++] = sl;
  p->made++;
  return true;
}

static void *
worker (void *arg)
{
  struct v1pool *p = arg;

  pthread_mutex_lock (&p->lock);
  while (!(p->stop && p->n_gone == 0))
    {
      if (work_one (p))
        continue;
      if (p->retry_ns && islet_now_ns () < p->retry_ns && p->n_ready < p->size)
        (void) srv_cond_wait_until (&p->wake, &p->lock, p->retry_ns);
      else
        pthread_cond_wait (&p->wake, &p->lock);
    }
  pthread_mutex_unlock (&p->lock);
  return NULL;
}

int
v1pool_new (struct srv *srv, unsigned size, struct v1pool **out, struct islet_err *err)
{
  struct v1pool *p;
  int e;

  *out = NULL;
  if (size == 0)
    return 0;
  if (size > V1POOL_MAX)
    return islet_fail (err, ISLET_E_INVALID, 0, "--v1-pool %u: at most %d", size, V1POOL_MAX);
  p = islet_xcalloc (1, sizeof *p);
  p->srv = srv;
  p->size = size;
  p->net.mode = srv->net_default;
  pthread_mutex_init (&p->lock, NULL);
  srv_cond_init_monotonic (&p->wake);
  pthread_cond_init (&p->done, NULL);
  e = pthread_create (&p->thread, NULL, worker, p);
  if (e != 0)
    {
      free (p);
      return islet_fail (err, ISLET_E_SYSTEM, e, "the /v1 pool's thread");
    }
  *out = p;
  return 0;
}

void
v1pool_free (struct v1pool *p)
{
  if (p == NULL)
    return;
  pthread_mutex_lock (&p->lock);
  p->stop = true;
  pthread_cond_signal (&p->wake);
  pthread_mutex_unlock (&p->lock);
  pthread_join (p->thread, NULL); /* it does the destroys still queued first */
  for (unsigned i = 0; i < p->n_ready; i++)
    slot_drop (p->srv, &p->ready[i]);
  pthread_mutex_destroy (&p->lock);
  pthread_cond_destroy (&p->wake);
  pthread_cond_destroy (&p->done);
  free (p);
}

/* The key's destroys that wait, done now (the one under way waited for);
 * how many there were. */
static unsigned
flush_key (struct v1pool *p, int64_t key_id)
{
  struct gone mine[GONE_MAX];
  unsigned n = 0, waited = 0;

  pthread_mutex_lock (&p->lock);
  for (unsigned i = 0; i < p->n_gone;)
    if (p->gone[i].key_id == key_id)
      {
        mine[n++] = p->gone[i];
        memmove (&p->gone[i], &p->gone[i + 1], (--p->n_gone - i) * sizeof p->gone[0]);
      }
    else
      i++;
  while (p->busy_on && p->busy.key_id == key_id)
    {
      pthread_cond_wait (&p->done, &p->lock); /* one destroy: bounded by its own time */
      waited = 1;
    }
  pthread_mutex_unlock (&p->lock);
  for (unsigned i = 0; i < n; i++)
    destroy_for (p->srv, mine[i].key_id, mine[i].id);
  return n + waited;
}

static void
running_add (struct v1pool *p, int d)
{
  pthread_mutex_lock (&p->lock);
  p->running += (unsigned) d;
  if (p->running == 0)
    pthread_cond_signal (&p->wake);
  pthread_mutex_unlock (&p->lock);
}

/* A pooled sandbox for k, if one fits and the key's quota takes it: 1 with
 * its id, 0 when none (the caller makes one), -1 refused. */
static int
take (struct v1pool *p, const struct owner *k, const struct islet_limits *l,
      const struct islet_net *net, struct slot *sl, struct islet_err *err)
{
  bool got = false;

  if (!fits (p, l, net))
    return 0;
  pthread_mutex_lock (&p->lock);
  if (p->n_ready > 0 && !p->stop)
    {
      *sl = p->ready[--p->n_ready];
      got = true;
      if (p->n_ready == 0)
        pthread_cond_signal (&p->wake); /* a replacement now; else at the end */
    }
  pthread_mutex_unlock (&p->lock);
  if (!got)
    return 0;
  /* its first directories' times the take's, not the fill's; one whose
   * supervisor does not answer is of no use: the run makes its own */
  if (islet_sandbox_touch (p->srv->ctx, sl->id, err) < 0)
    {
      slot_drop (p->srv, sl);
      return 0;
    }
  if (owned_scratch_adopt (k, l, sl->id, err) == 0
      || (err->kind == ISLET_E_LIMIT && flush_key (p, k->key_id) > 0
          && owned_scratch_adopt (k, l, sl->id, err) == 0))
    {
      __atomic_add_fetch (&p->taken, 1, __ATOMIC_RELAXED);
      return 1;
    }
  /* refused: the sandbox ran nothing, it goes back */
  pthread_mutex_lock (&p->lock);
  if (p->n_ready < p->size && !p->stop)
    p->ready[p->n_ready++] = *sl;
  else
    got = false;
  pthread_mutex_unlock (&p->lock);
  if (!got)
    slot_drop (p->srv, sl);
  return -1;
}

int
v1pool_begin (struct srv *srv, const struct owner *k, const struct islet_limits *limits,
              const struct islet_net *net, char id[ISLET_ID_LEN + 1], struct v1pool_zygote *z,
              struct islet_err *err)
{
  struct v1pool *p = srv->v1pool;
  struct slot sl = { .conn = -1 };
  int rc;

  z->conn = -1;
  if (p == NULL)
    return owned_scratch_begin (k, limits, net, id, err);
  running_add (p, 1);
  if ((rc = take (p, k, limits, net, &sl, err)) > 0)
    {
      memcpy (id, sl.id, sizeof sl.id);
      z->conn = sl.conn;
      z->ready_ns = sl.ready_ns;
    }
  else if (rc == 0)
    {
      rc = owned_scratch_begin (k, limits, net, id, err);
      if (rc < 0 && err->kind == ISLET_E_LIMIT && flush_key (p, k->key_id) > 0)
        rc = owned_scratch_begin (k, limits, net, id, err);
    }
  if (rc < 0)
    running_add (p, -1);
  return rc < 0 ? -1 : 0;
}

void
v1pool_end (struct srv *srv, const struct owner *k, const char *id)
{
  struct v1pool *p = srv->v1pool;

  bool queued = false;

  if (p)
    {
      pthread_mutex_lock (&p->lock);
      if (p->n_gone < GONE_MAX && !p->stop)
        {
          p->gone[p->n_gone].key_id = k->key_id;
          snprintf (p->gone[p->n_gone].id, sizeof p->gone[0].id, "%s", id);
          p->n_gone++;
          queued = true;
        }
      p->running--;
      pthread_cond_signal (&p->wake); /* the destroy, a refill */
      pthread_mutex_unlock (&p->lock);
    }
  if (!queued)
    owned_scratch_end (k, id);
}

void
v1pool_render (struct v1pool *p, FILE *f)
{
  unsigned size = 0, ready = 0, gone = 0;
  unsigned long long taken = 0, made = 0;

  if (p)
    {
      pthread_mutex_lock (&p->lock);
      size = p->size;
      ready = p->n_ready;
      gone = p->n_gone + p->busy_on;
      taken = p->taken;
      made = p->made;
      pthread_mutex_unlock (&p->lock);
    }
  fprintf (f,
           "# HELP isletd_v1_pool_size Sandboxes kept ready for /v1/execute (--v1-pool).\n"
           "# TYPE isletd_v1_pool_size gauge\n"
           "isletd_v1_pool_size %u\n"
           "# HELP isletd_v1_pool_ready Of them, ready now.\n"
           "# TYPE isletd_v1_pool_ready gauge\n"
           "isletd_v1_pool_ready %u\n"
           "# HELP isletd_v1_pool_made_total Sandboxes made for the pool.\n"
           "# TYPE isletd_v1_pool_made_total counter\n"
           "isletd_v1_pool_made_total %llu\n"
           "# HELP isletd_v1_pool_taken_total Runs of /v1/execute in a pooled sandbox.\n"
           "# TYPE isletd_v1_pool_taken_total counter\n"
           "isletd_v1_pool_taken_total %llu\n"
           "# HELP isletd_v1_destroys_pending Sandboxes of answered runs not yet destroyed.\n"
           "# TYPE isletd_v1_destroys_pending gauge\n"
           "isletd_v1_destroys_pending %u\n",
           size, ready, made, taken, gone);
}
