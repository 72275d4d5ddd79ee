/* A sandbox's use as the SDK's getMetricsLatest reads it (GET
 * <toolbox>/system/metrics), and isletd's own metrics in Prometheus' text
 * format (GET /metrics).  Every number comes from the kernel's counters
 * (islet_sandbox_usage): nothing is estimated. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "islet/util.h"
#include "server.h"

/* CPU use is the change of the group's CPU time between two samples: the
 * caller's previous one when it is 0.1 to 10 s old, else one taken now and
 * another CPU_WINDOW_NS later. */
#define CPU_PREV_MIN_NS (100ull * 1000000)
#define CPU_PREV_MAX_NS (10ull * 1000000000)
#define CPU_WINDOW_NS (200ull * 1000000)
/* Sandboxes with series of their own in GET /metrics, the newest first. */
#define SANDBOX_SERIES_MAX 100

static int
usage_of (struct req *r, const struct islet_sandbox_info *info, struct islet_sandbox_usage *u,
          struct resp *out)
{
  struct islet_err err;

  if (islet_sandbox_usage (r->srv->ctx, info, u, &err) == 0)
    return 0;
  reply_islet_err (out, &err, true);
  return -1;
}

static double
host_cpus (void)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  return n > 0 ? (double) n : 1;
}

/* Percent of the sandbox's CPUs (its limit, else the host's) used. */
static int
cpu_pct (struct req *r, const struct islet_sandbox_info *info, struct islet_sandbox_usage *u,
         double cpus, double *pct, struct resp *out)
{
  uint64_t pc = 0, pa = 0;
  int have;

  *pct = 0;
  if (info->state != ISLET_SB_RUNNING)
    return 0; /* stopped, or frozen: it uses none */
  have = r->srv->metrics
             ? metrics_cpu_sample (r->srv->metrics, info->id, u->cpu_ns, u->at_ns, &pc, &pa)
             : 0;
  if (!have || u->at_ns - pa < CPU_PREV_MIN_NS || u->at_ns - pa > CPU_PREV_MAX_NS)
    {
      struct timespec ts = { 0, (long) CPU_WINDOW_NS };

      pc = u->cpu_ns;
      pa = u->at_ns;
      nanosleep (&ts, NULL);
      if (usage_of (r, info, u, out) < 0)
        return -1;
      if (r->srv->metrics)
        (void) metrics_cpu_sample (r->srv->metrics, info->id, u->cpu_ns, u->at_ns, &pc, &pa);
    }
  if (u->at_ns > pa && u->cpu_ns > pc)
    *pct = (double) (u->cpu_ns - pc) * 100.0 / ((double) (u->at_ns - pa) * cpus);
  if (*pct > 100)
    *pct = 100; /* the two reads are not at the same instant */
  return 0;
}

void
tb_system_metrics (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  struct islet_sandbox_usage u;
  double cpus, pct;
  uint64_t mem_total, disk_total;
  time_t now;
  char ts[32];

  if (sb_open (r, r->params[0], &sb, out) < 0 || usage_of (r, &sb.info, &u, out) < 0)
    return;
  cpus = sb.info.limits.cpu_millis ? sb.info.limits.cpu_millis / 1000.0 : host_cpus ();
  if (cpu_pct (r, &sb.info, &u, cpus, &pct, out) < 0)
    return;
  mem_total = sb.info.limits.memory_mb
                  ? sb.info.limits.memory_mb << 20
                  : (uint64_t) sysconf (_SC_PHYS_PAGES) * (uint64_t) sysconf (_SC_PAGESIZE);
  disk_total = sb.info.limits.disk_mb << 20;
  now = time (NULL);
  iso_time (now, ts);
  reply_json (out, 200,
              json_pack ("{s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:I}", "cpuCount", cpus,
                         "cpuUsedPct", pct, "memTotal", (json_int_t) mem_total, "memUsed",
                         (json_int_t) (u.memory_bytes - u.memory_cache), "memCache",
                         (json_int_t) u.memory_cache, "diskTotal", (json_int_t) disk_total,
                         "diskUsed", (json_int_t) u.disk_bytes, "diskFree",
                         (json_int_t) (disk_total > u.disk_bytes ? disk_total - u.disk_bytes : 0),
                         "timestamp", ts, "timestampUnix", (json_int_t) now));
}

/* Whether the request's key is an admin key: the one isletd made at its
 * first start, or one the operator named so (`isletd key create`). */
static bool
is_admin (struct req *r, struct resp *out)
{
  cleanup_json json_t *keys = NULL;
  struct islet_err err;
  size_t i;
  json_t *k;

  if (islet_store_key_list (r->srv->store, &keys, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return false;
    }
  json_array_foreach (keys, i, k)
  {
    if (json_integer_value (json_object_get (k, "id")) == r->key_id
        && json_is_null (json_object_get (k, "revoked"))
        && strcmp (json_string_value (json_object_get (k, "name")) ?: "", "admin") == 0)
      return true;
  }
  reply_error (out, 403, "FORBIDDEN",
               "GET /metrics is for an admin key (the key isletd made at its first start, or "
               "one named `admin`): it shows every organization's sandboxes");
  return false;
}

static void
render_sandboxes (struct req *r, FILE *f)
{
  static const char *const state_name[] = { [ISLET_SB_STOPPED] = "stopped",
                                            [ISLET_SB_RUNNING] = "running",
                                            [ISLET_SB_BROKEN] = "broken",
                                            [ISLET_SB_PAUSED] = "paused" };
  cleanup_free struct islet_sandbox_info *all = NULL;
  size_t n = 0, count[4] = { 0 }, first;
  struct islet_err err;

  if (islet_sandbox_list (r->srv->ctx, &all, &n, &err) < 0)
    {
      fprintf (f, "# isletd: the sandbox list failed: %s\n", err.msg);
      return;
    }
  for (size_t i = 0; i < n; i++)
    count[all[i].state < 4 ? all[i].state : ISLET_SB_BROKEN]++;
  fprintf (f, "# HELP isletd_sandboxes Sandboxes of the state directory, by state.\n"
              "# TYPE isletd_sandboxes gauge\n");
  for (size_t s = 0; s < 4; s++)
    fprintf (f, "isletd_sandboxes{state=\"%s\"} %zu\n", state_name[s], count[s]);
  first = n > SANDBOX_SERIES_MAX ? n - SANDBOX_SERIES_MAX : 0;
  fprintf (f,
           "# HELP isletd_sandboxes_unlisted Sandboxes without series of their own (only the "
           "%d newest have them).\n# TYPE isletd_sandboxes_unlisted gauge\n"
           "isletd_sandboxes_unlisted %zu\n",
           SANDBOX_SERIES_MAX, first);
  fprintf (f, "# HELP isletd_sandbox_cpu_seconds_total CPU time of a sandbox's processes.\n"
              "# TYPE isletd_sandbox_cpu_seconds_total counter\n"
              "# HELP isletd_sandbox_memory_bytes Memory a sandbox is charged, page cache "
              "included.\n# TYPE isletd_sandbox_memory_bytes gauge\n"
              "# HELP isletd_sandbox_disk_bytes Bytes a sandbox's volume holds (its quota's "
              "count).\n# TYPE isletd_sandbox_disk_bytes gauge\n");
  for (size_t i = n; i-- > first;)
    {
      struct islet_sandbox_usage u;

      if (all[i].state == ISLET_SB_BROKEN
          || islet_sandbox_usage (r->srv->ctx, &all[i], &u, &err) < 0)
        continue;
      fprintf (f,
               "isletd_sandbox_cpu_seconds_total{id=\"%s\"} %.6f\n"
               "isletd_sandbox_memory_bytes{id=\"%s\"} %llu\n"
               "isletd_sandbox_disk_bytes{id=\"%s\"} %llu\n",
               all[i].id, (double) u.cpu_ns / 1e9, all[i].id, (unsigned long long) u.memory_bytes,
               all[i].id, (unsigned long long) u.disk_bytes);
    }
}

void
api_metrics (struct req *r, struct resp *out)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f;

  if (!is_admin (r, out))
    return;
  f = open_memstream (&text, &len);
  if (f == NULL)
    {
      reply_error (out, 500, "INTERNAL_ERROR", "open_memstream: %s", strerror (errno));
      return;
    }
  if (r->srv->metrics)
    metrics_render (r->srv->metrics, f);
  v1pool_render (r->srv->v1pool, f);
  create_pool_render (r->srv->create_pool, f);
  interp_render (r->srv->interp, f);
  render_sandboxes (r, f);
  fclose (f);
  out->status = 200;
  out->body = text;
  out->len = len;
  out->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
