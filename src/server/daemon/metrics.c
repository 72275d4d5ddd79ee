/* isletd's own counters, for GET /metrics: requests by route and status,
 * their latencies, sandboxes created, commands run; and the last CPU
 * sample of each sandbox, from which a sandbox's CPU use in percent is
 * the change between two samples.  Every table has a fixed size, so no
 * client can make it grow: the route table bounds the routes, a request
 * of a status seen for the first time past REQ_MAX is counted under
 * status 0, and the oldest CPU sample makes way for a new sandbox's. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "islet/util.h"
#include "server.h"

#define REQ_MAX 512   /* (route, status) pairs */
#define ROUTE_MAX 160 /* routes with a latency histogram */
#define CPU_MAX 256   /* sandboxes with a CPU sample */

/* Upper bounds of the latency buckets, in seconds (+Inf follows). */
static const double le_s[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                               0.25,  0.5,    1,     2.5,  10,    60 };
#define NLE (sizeof le_s / sizeof le_s[0])

/* The audit actions that run a command in a sandbox, on every face. */
static const char *const exec_actions[] = {
  "process.execute", "process.code-run", "process.session.exec",
  "v1.execute",      "v1.sandbox.exec",  "v1.test",
  "v1.tool",         "mcp.execute_code", "mcp.execute_shell",
};

struct req_count
{
  const struct route *rt;
  int status;
  uint64_t n;
};

struct latency
{
  const struct route *rt;
  uint64_t bucket[NLE + 1]; /* not cumulative; the last is +Inf */
  uint64_t n;
  double sum_s;
};

struct cpu_sample
{
  char id[ISLET_ID_LEN + 1];
  uint64_t cpu_ns, at_ns;
};

struct metrics
{
  pthread_mutex_t lock;
  uint64_t creates, create_failures, execs;
  struct req_count req[REQ_MAX];
  size_t nreq;
  struct latency lat[ROUTE_MAX];
  size_t nlat;
  struct cpu_sample cpu[CPU_MAX];
};

struct metrics *
metrics_new (void)
{
  struct metrics *m = islet_xcalloc (1, sizeof *m);

  pthread_mutex_init (&m->lock, NULL);
  return m;
}

void
metrics_free (struct metrics *m)
{
  if (m == NULL)
    return;
  pthread_mutex_destroy (&m->lock);
  free (m);
}

static struct req_count *
req_slot (struct metrics *m, const struct route *rt, int status)
{
  for (size_t i = 0; i < m->nreq; i++)
    if (m->req[i].rt == rt && m->req[i].status == status)
      return &m->req[i];
  if (m->nreq < REQ_MAX)
    {
      m->req[m->nreq] = (struct req_count){ .rt = rt, .status = status };
      return &m->req[m->nreq++];
    }
  return status == 0 ? NULL : req_slot (m, rt, 0);
}

static struct latency *
lat_slot (struct metrics *m, const struct route *rt)
{
  for (size_t i = 0; i < m->nlat; i++)
    if (m->lat[i].rt == rt)
      return &m->lat[i];
  if (m->nlat == ROUTE_MAX)
    return NULL;
  m->lat[m->nlat] = (struct latency){ .rt = rt };
  return &m->lat[m->nlat++];
}

static bool
is_exec (const char *action)
{
  for (size_t i = 0; action && i < sizeof exec_actions / sizeof exec_actions[0]; i++)
    if (strcmp (action, exec_actions[i]) == 0)
      return true;
  return false;
}

void
metrics_request (struct metrics *m, const struct route *rt, int status, uint64_t ns)
{
  struct req_count *c;
  struct latency *l;
  double s = (double) ns / 1e9;
  size_t b = 0;

  if (m == NULL || rt == NULL)
    return;
  while (b < NLE && s > le_s[b])
    b++;
  pthread_mutex_lock (&m->lock);
  if ((c = req_slot (m, rt, status)) != NULL)
    c->n++;
  if ((l = lat_slot (m, rt)) != NULL)
    {
      l->bucket[b]++;
      l->n++;
      l->sum_s += s;
    }
  pthread_mutex_unlock (&m->lock);
}

void
metrics_action (struct metrics *m, const char *action)
{
  if (m == NULL || !is_exec (action))
    return;
  pthread_mutex_lock (&m->lock);
  m->execs++;
  pthread_mutex_unlock (&m->lock);
}

void
metrics_create (struct metrics *m, bool ok)
{
  if (m == NULL)
    return;
  pthread_mutex_lock (&m->lock);
  if (ok)
    m->creates++;
  else
    m->create_failures++;
  pthread_mutex_unlock (&m->lock);
}

int
metrics_cpu_sample (struct metrics *m, const char *id, uint64_t cpu_ns, uint64_t at_ns,
                    uint64_t *prev_cpu_ns, uint64_t *prev_at_ns)
{
  struct cpu_sample *s = NULL, *oldest = &m->cpu[0];
  int found = 0;

  pthread_mutex_lock (&m->lock);
  for (size_t i = 0; i < CPU_MAX && s == NULL; i++)
    if (strcmp (m->cpu[i].id, id) == 0)
      s = &m->cpu[i];
    else if (m->cpu[i].at_ns < oldest->at_ns)
      oldest = &m->cpu[i];
  if (s && s->at_ns < at_ns && s->cpu_ns <= cpu_ns)
    {
      *prev_cpu_ns = s->cpu_ns;
      *prev_at_ns = s->at_ns;
      found = 1;
    }
  if (s == NULL)
    s = oldest;
  snprintf (s->id, sizeof s->id, "%s", id);
  s->cpu_ns = cpu_ns;
  s->at_ns = at_ns;
  pthread_mutex_unlock (&m->lock);
  return found;
}

/* A route as a label value: "GET /api/sandbox/{}" (the pattern, never the
 * path a client sent, so the values are the route table's). */
static void
route_label (FILE *f, const struct route *rt)
{
  fprintf (f, "route=\"%s %s\"", rt->method, rt->pattern);
}

void
metrics_render (struct metrics *m, FILE *f)
{
  pthread_mutex_lock (&m->lock);
  fprintf (f,
           "# HELP isletd_sandbox_creates_total Sandboxes created (Daytona API, /v1, MCP).\n"
           "# TYPE isletd_sandbox_creates_total counter\n"
           "isletd_sandbox_creates_total %llu\n"
           "# HELP isletd_sandbox_create_failures_total Sandbox creates that failed.\n"
           "# TYPE isletd_sandbox_create_failures_total counter\n"
           "isletd_sandbox_create_failures_total %llu\n"
           "# HELP isletd_execs_total Commands and programs run in sandboxes, on every face.\n"
           "# TYPE isletd_execs_total counter\n"
           "isletd_execs_total %llu\n",
           (unsigned long long) m->creates, (unsigned long long) m->create_failures,
           (unsigned long long) m->execs);
  fprintf (f, "# HELP isletd_http_requests_total Requests answered, by route and status "
              "(errors: status >= 400; status 0: statuses past the table's bound).\n"
              "# TYPE isletd_http_requests_total counter\n");
  for (size_t i = 0; i < m->nreq; i++)
    {
      fprintf (f, "isletd_http_requests_total{");
      route_label (f, m->req[i].rt);
      fprintf (f, ",status=\"%d\"} %llu\n", m->req[i].status, (unsigned long long) m->req[i].n);
    }
  fprintf (f, "# HELP isletd_http_request_duration_seconds Time to answer a request, by route.\n"
              "# TYPE isletd_http_request_duration_seconds histogram\n");
  for (size_t i = 0; i < m->nlat; i++)
    {
      const struct latency *l = &m->lat[i];
      uint64_t cum = 0;

      for (size_t b = 0; b <= NLE; b++)
        {
          cum += l->bucket[b];
          fprintf (f, "isletd_http_request_duration_seconds_bucket{");
          route_label (f, l->rt);
          if (b < NLE)
            fprintf (f, ",le=\"%g\"} %llu\n", le_s[b], (unsigned long long) cum);
          else
            fprintf (f, ",le=\"+Inf\"} %llu\n", (unsigned long long) cum);
        }
      fprintf (f, "isletd_http_request_duration_seconds_sum{");
      route_label (f, l->rt);
      fprintf (f, "} %.6f\nisletd_http_request_duration_seconds_count{", l->sum_s);
      route_label (f, l->rt);
      fprintf (f, "} %llu\n", (unsigned long long) l->n);
    }
  pthread_mutex_unlock (&m->lock);
}
