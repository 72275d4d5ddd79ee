/* What every benchmark shares: a monotonic clock, a list of samples and its
 * percentiles, timing a program from start to exit, /proc/meminfo, and the
 * report (a table on stdout, targets as PASS/MISS lines, results as JSON).
 *
 * A header of static functions, not a library: bench/CMakeLists.txt makes
 * one executable of every .c file in bench/, and each includes this. */
#ifndef ISLET_BENCH_H
#define ISLET_BENCH_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

extern char **environ;

/* Entries of dir whose names do not start with '.'; 0 if it cannot be read. */
static inline size_t
bench_dir_entries (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *de;
  size_t n = 0;

  if (d == NULL)
    return 0;
  while ((de = readdir (d)) != NULL)
    n += de->d_name[0] != '.';
  closedir (d);
  return n;
}

static inline uint64_t
bench_now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static inline double
bench_ms_since (uint64_t start_ns)
{
  return (double) (bench_now_ns () - start_ns) / 1e6;
}

/* ---- samples and percentiles ---- */

struct samples
{
  double *v; /* milliseconds, in the order they were taken */
  size_t n, cap;
};

static inline void
samples_add (struct samples *s, double ms)
{
  if (s->n == s->cap)
    {
      s->cap = s->cap ? s->cap * 2 : 256;
      s->v = realloc (s->v, s->cap * sizeof *s->v);
      if (s->v == NULL)
        abort ();
    }
  s->v[s->n++] = ms;
}

static inline void
samples_fini (struct samples *s)
{
  free (s->v);
  memset (s, 0, sizeof *s);
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

struct stats
{
  size_t n;
  double min, p50, p90, p99, max, mean;
};

/* Percentile p of the n samples from index `from`: the sorted value at
   floor(n * p), the rule /work/shared/tools/peers uses, so both sides of a
   ratio are read the same way. */
static inline struct stats
samples_stats_range (const struct samples *s, size_t from, size_t n)
{
  struct stats st = { 0 };
  double *v, sum = 0;

  if (from >= s->n || n == 0)
    return st;
  if (n > s->n - from)
    n = s->n - from;
  v = malloc (n * sizeof *v);
  if (v == NULL)
    abort ();
  memcpy (v, s->v + from, n * sizeof *v);
  qsort (v, n, sizeof *v, cmp_double);
  for (size_t i = 0; i < n; i++)
    sum += v[i];
  st.n = n;
  st.min = v[0];
  st.max = v[n - 1];
  st.mean = sum / (double) n;
  st.p50 = v[n / 2];
  st.p90 = v[(size_t) ((double) n * 0.9)];
  st.p99 = v[(size_t) ((double) n * 0.99) < n ? (size_t) ((double) n * 0.99) : n - 1];
  free (v);
  return st;
}

static inline struct stats
samples_stats (const struct samples *s)
{
  return samples_stats_range (s, 0, s->n);
}

static inline json_t *
stats_json (const struct stats *st)
{
  return json_pack ("{s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "n", (json_int_t) st->n, "min_ms", st->min,
                    "p50_ms", st->p50, "p90_ms", st->p90, "p99_ms", st->p99, "max_ms", st->max,
                    "mean_ms", st->mean);
}

/* ---- timing a program from start to exit ---- */

/* Run argv with stdout and stderr on /dev/null (or on out_fd when it is >= 0)
   and return its wall time in ms; *status gets the wait status.  -1 if it
   could not be started. */
static inline double
bench_spawn (char *const argv[], int out_fd, int *status)
{
  posix_spawn_file_actions_t fa;
  uint64_t t0;
  pid_t pid;
  int r;

  posix_spawn_file_actions_init (&fa);
  if (out_fd < 0)
    {
      posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
      posix_spawn_file_actions_addopen (&fa, 2, "/dev/null", O_WRONLY, 0);
    }
  else
    {
      posix_spawn_file_actions_adddup2 (&fa, out_fd, 1);
      posix_spawn_file_actions_adddup2 (&fa, out_fd, 2);
    }
  t0 = bench_now_ns ();
  r = posix_spawn (&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  if (r != 0)
    {
      errno = r;
      return -1;
    }
  while (waitpid (pid, status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return bench_ms_since (t0);
}

/* Like bench_spawn, with the program's stdout returned in *out (malloc'd,
   trimmed of its last newline). */
static inline double
bench_spawn_capture (char *const argv[], char **out, int *status)
{
  posix_spawn_file_actions_t fa;
  size_t len = 0, cap = 256;
  uint64_t t0;
  int p[2];
  pid_t pid;
  ssize_t n;
  int r;

  *out = NULL;
  if (pipe2 (p, O_CLOEXEC) < 0)
    return -1;
  *out = malloc (cap);
  if (*out == NULL)
    abort ();
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, p[1], 1);
  posix_spawn_file_actions_addopen (&fa, 2, "/dev/null", O_WRONLY, 0);
  t0 = bench_now_ns ();
  r = posix_spawn (&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  close (p[1]);
  if (r != 0)
    {
      close (p[0]);
      errno = r;
      return -1;
    }
  while ((n = read (p[0], *out + len, cap - len - 1)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        break;
      len += (size_t) n;
      if (cap - len < 2)
        {
          cap *= 2;
          *out = realloc (*out, cap);
          if (*out == NULL)
            abort ();
        }
    }
  close (p[0]);
  while (waitpid (pid, status, 0) < 0)
    if (errno != EINTR)
      return -1;
  (*out)[len] = '\0';
  if (len > 0 && (*out)[len - 1] == '\n')
    (*out)[len - 1] = '\0';
  return bench_ms_since (t0);
}

/* ---- /proc/meminfo ---- */

/* A /proc/meminfo field in KiB, or -1. */
static inline long long
meminfo_kib (const char *field)
{
  FILE *f = fopen ("/proc/meminfo", "re");
  char line[256];
  size_t flen = strlen (field);
  long long v = -1;

  if (f == NULL)
    return -1;
  while (fgets (line, sizeof line, f))
    if (strncmp (line, field, flen) == 0 && line[flen] == ':')
      {
        v = strtoll (line + flen + 1, NULL, 10);
        break;
      }
  fclose (f);
  return v;
}

/* ---- the report ---- */

static inline void
row (const char *what, const struct stats *st)
{
  printf ("  %-44s %5zu %8.2f %8.2f %8.2f %8.2f\n", what, st->n, st->p50, st->p90, st->p99,
          st->max);
}

static inline void
row_header (const char *title)
{
  printf ("\n%s\n  %-44s %5s %8s %8s %8s %8s\n", title, "", "n", "p50 ms", "p90 ms", "p99 ms",
          "max ms");
}

/* A target of the issue: print PASS or MISS (never fail the run: timings on
   a small shared machine are noisy) and record it in targets. */
static inline void
target (json_t *targets, const char *name, double value, const char *op, double limit,
        const char *unit)
{
  bool ok = strcmp (op, "<=") == 0   ? value <= limit
            : strcmp (op, ">=") == 0 ? value >= limit
                                     : value < limit;
  printf ("%s  %-40s %10.2f %s (target %s %.2f %s)\n", ok ? "PASS" : "MISS", name, value, unit, op,
          limit, unit);
  json_array_append_new (targets,
                         json_pack ("{s:s,s:f,s:s,s:f,s:s,s:b}", "name", name, "value", value, "op",
                                    op, "limit", limit, "unit", unit, "pass", ok));
}

static inline int
json_save (json_t *j, const char *path)
{
  if (json_dump_file (j, path, JSON_INDENT (2) | JSON_SORT_KEYS) < 0)
    {
      fprintf (stderr, "bench: cannot write `%s`\n", path);
      return -1;
    }
  return 0;
}

static inline void __attribute__ ((noreturn, format (printf, 1, 2))) die (const char *fmt, ...)
{
  va_list ap;
  fprintf (stderr, "bench: ");
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (1);
}

#endif
