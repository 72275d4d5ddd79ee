/* What a client holds of isletd while its request is still arriving.
 *
 * A deadline per connection: the HTTP library's timeout is for idleness,
 * which a client that sends one byte a second never reaches, so a watchdog
 * thread shuts the socket of a connection whose headers (or in-memory body)
 * are late.  It shuts a dup of the socket taken when the connection came, so
 * the number it acts on can never be a newer connection's.
 *
 * A budget of request bodies held in memory, per key and in all: a client
 * that stops short of the end of its body holds what it sent until its
 * deadline, and without a budget a few keys could make isletd hold gigabytes.
 * The same for scratch files (output spooled for an answer, a bulk
 * download's parts), which would otherwise fill the host's disk. */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "islet/util.h"
#include "server.h"

struct guard_conn
{
  int fd;               /* our dup of the connection's socket */
  uint64_t deadline_ns; /* 0: none */
  struct guard_conn *prev, *next;
};

struct key_use
{
  int64_t key_id;
  uint64_t bytes;
};

struct budget
{
  uint64_t key_max, total_max, total;
  struct key_use *keys; /* keys holding bytes now, unordered */
  size_t nkeys, cap;
};

struct guard
{
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  bool stop;
  struct guard_conn head; /* a ring, head.next the first */
  struct budget budgets[GUARD_BUDGETS];
  uint64_t shut; /* connections cut at their deadline, for tests and logs */
};

static void *
watch (void *arg)
{
  struct guard *g = arg;

  pthread_mutex_lock (&g->lock);
  while (!g->stop)
    {
      struct timespec ts;
      uint64_t now = islet_now_ns ();

      for (struct guard_conn *c = g->head.next; c != &g->head; c = c->next)
        if (c->deadline_ns && c->deadline_ns <= now)
          {
            /* the library's thread sees the end of the stream and closes */
            (void) shutdown (c->fd, SHUT_RDWR);
            c->deadline_ns = 0;
            g->shut++;
          }
      clock_gettime (CLOCK_REALTIME, &ts);
      ts.tv_nsec += 250 * 1000 * 1000;
      if (ts.tv_nsec >= 1000 * 1000 * 1000)
        {
          ts.tv_sec++;
          ts.tv_nsec -= 1000 * 1000 * 1000;
        }
      pthread_cond_timedwait (&g->wake, &g->lock, &ts);
    }
  pthread_mutex_unlock (&g->lock);
  return NULL;
}

int
guard_new (struct guard **out, uint64_t scratch_key_max, struct islet_err *err)
{
  struct guard *g = islet_xcalloc (1, sizeof *g);
  int rc;

  pthread_mutex_init (&g->lock, NULL);
  pthread_cond_init (&g->wake, NULL);
  g->head.next = g->head.prev = &g->head;
  g->budgets[GUARD_BODY] = (struct budget){ .key_max = GUARD_BODY_KEY_MAX,
                                            .total_max = GUARD_BODY_TOTAL_MAX };
  g->budgets[GUARD_PROXY] = (struct budget){ .key_max = GUARD_PROXY_KEY_MAX,
                                             .total_max = GUARD_PROXY_TOTAL_MAX };
  if (scratch_key_max == 0)
    scratch_key_max = GUARD_SCRATCH_KEY_MAX;
  g->budgets[GUARD_SCRATCH] = (struct budget){ .key_max = scratch_key_max,
                                               .total_max = scratch_key_max
                                                                    > GUARD_SCRATCH_TOTAL_MAX
                                                                ? scratch_key_max
                                                                : GUARD_SCRATCH_TOTAL_MAX };
  rc = pthread_create (&g->thread, NULL, watch, g);
  if (rc != 0)
    {
      free (g);
      return islet_fail (err, ISLET_E_SYSTEM, rc, "start the connection watchdog");
    }
  *out = g;
  return 0;
}

void
guard_free (struct guard *g)
{
  if (g == NULL)
    return;
  pthread_mutex_lock (&g->lock);
  g->stop = true;
  pthread_cond_signal (&g->wake);
  pthread_mutex_unlock (&g->lock);
  pthread_join (g->thread, NULL);
  while (g->head.next != &g->head)
    guard_conn_del (g, g->head.next);
  for (int i = 0; i < GUARD_BUDGETS; i++)
    free (g->budgets[i].keys);
  free (g);
}

struct guard_conn *
guard_conn_add (struct guard *g, int fd, uint64_t deadline_ns)
{
  struct guard_conn *c = islet_xcalloc (1, sizeof *c);

  /* without a dup there is nothing safe to shut: the connection then only
   * has the library's idle timeout */
  c->fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  c->deadline_ns = c->fd >= 0 ? deadline_ns : 0;
  pthread_mutex_lock (&g->lock);
  c->next = &g->head;
  c->prev = g->head.prev;
  c->prev->next = c;
  g->head.prev = c;
  pthread_mutex_unlock (&g->lock);
  return c;
}

void
guard_conn_deadline (struct guard *g, struct guard_conn *c, uint64_t deadline_ns)
{
  if (c == NULL || c->fd < 0)
    return;
  pthread_mutex_lock (&g->lock);
  c->deadline_ns = deadline_ns;
  pthread_mutex_unlock (&g->lock);
}

void
guard_conn_del (struct guard *g, struct guard_conn *c)
{
  if (c == NULL)
    return;
  pthread_mutex_lock (&g->lock);
  c->prev->next = c->next;
  c->next->prev = c->prev;
  pthread_mutex_unlock (&g->lock);
  if (c->fd >= 0)
    close (c->fd);
  free (c);
}

uint64_t
guard_shut_count (struct guard *g)
{
  uint64_t n;

  pthread_mutex_lock (&g->lock);
  n = g->shut;
  pthread_mutex_unlock (&g->lock);
  return n;
}

static struct key_use *
key_use (struct budget *b, int64_t key_id, bool add)
{
  for (size_t i = 0; i < b->nkeys; i++)
    if (b->keys[i].key_id == key_id)
      return &b->keys[i];
  if (!add)
    return NULL;
  if (b->nkeys == b->cap)
    {
      b->cap = b->cap ? b->cap * 2 : 16;
      b->keys = islet_xrealloc (b->keys, b->cap * sizeof *b->keys);
    }
  b->keys[b->nkeys] = (struct key_use){ .key_id = key_id };
  return &b->keys[b->nkeys++];
}

int
guard_take (struct guard *g, enum guard_budget which, int64_t key_id, uint64_t n,
            const char **whose)
{
  struct budget *b = &g->budgets[which];
  struct key_use *k;
  int rc = -1;

  pthread_mutex_lock (&g->lock);
  k = key_use (b, key_id, true);
  if (k->bytes + n > b->key_max)
    *whose = "this key's";
  else if (b->total + n > b->total_max)
    *whose = "the server's";
  else
    {
      k->bytes += n;
      b->total += n;
      rc = 0;
    }
  if (k->bytes == 0)
    *k = b->keys[--b->nkeys];
  pthread_mutex_unlock (&g->lock);
  return rc;
}

void
guard_give (struct guard *g, enum guard_budget which, int64_t key_id, uint64_t n)
{
  struct budget *b = &g->budgets[which];
  struct key_use *k;

  if (n == 0)
    return;
  pthread_mutex_lock (&g->lock);
  k = key_use (b, key_id, false);
  if (k)
    {
      k->bytes -= n < k->bytes ? n : k->bytes;
      b->total -= n < b->total ? n : b->total;
      if (k->bytes == 0)
        *k = b->keys[--b->nkeys];
    }
  pthread_mutex_unlock (&g->lock);
}

uint64_t
guard_limit (struct guard *g, enum guard_budget which, bool key)
{
  return key ? g->budgets[which].key_max : g->budgets[which].total_max;
}
