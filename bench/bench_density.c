/* bench_density: many idle sandboxes at once.
 *
 *   bench_density --state DIR --runtime ISLET_RUN --json OUT [-n 500] [--bucket 100]
 *                 [--image REF]
 *
 * Creates n sandboxes one after another and keeps them all running, then
 * measures what they hold on the host, two ways:
 *   - the drop of MemAvailable (everything: processes, kernel objects, page
 *     cache of their files and of the disk pool);
 *   - the sum of Pss over every supervisor and every process below it (user
 *     space, shared pages split fairly), plus the growth of the kernel's own
 *     memory (Slab + KernelStack + PageTables + Percpu from /proc/meminfo).
 * Create time is reported per bucket of `bucket` sandboxes, to show whether
 * it stays flat as the count grows.  Finally every sandbox is destroyed and
 * MemAvailable is read again, which shows what was not given back. */
#include <dirent.h>
#include <getopt.h>

#include "bench.h"
#include "islet/sandbox.h"

/* How much the last bucket's median may exceed the first's and still count
   as flat: bucket medians of 100 creates move by about 10% run to run here. */
#define FLAT_RATIO 1.5

static const char *const kernel_fields[] = { "SUnreclaim", "SReclaimable", "KernelStack",
                                             "PageTables", "Percpu" };
#define N_KERNEL (sizeof kernel_fields / sizeof kernel_fields[0])

struct mem
{
  long long available;        /* KiB */
  long long kernel[N_KERNEL]; /* KiB */
};

static struct mem
mem_read (void)
{
  struct mem m;

  /* Let the kernel finish what it does after the fact (namespace and
     cgroup teardown run from workqueues) before reading. */
  sync ();
  usleep (1500 * 1000);
  m.available = meminfo_kib ("MemAvailable");
  for (size_t i = 0; i < N_KERNEL; i++)
    m.kernel[i] = meminfo_kib (kernel_fields[i]);
  return m;
}

static long long
pss_kib (pid_t pid)
{
  char path[64], line[256];
  FILE *f;
  long long v = 0;

  snprintf (path, sizeof path, "/proc/%d/smaps_rollup", (int) pid);
  f = fopen (path, "re");
  if (f == NULL)
    return 0;
  while (fgets (line, sizeof line, f))
    if (strncmp (line, "Pss:", 4) == 0)
      {
        v = strtoll (line + 4, NULL, 10);
        break;
      }
  fclose (f);
  return v;
}

/* ---- which slab caches grow (the kernel's share, in detail) ---- */

struct slab
{
  char name[64];
  long long bytes; /* slabs in use, in bytes */
};

static struct slab *
slab_read (size_t *n)
{
  FILE *f = fopen ("/proc/slabinfo", "re");
  char line[512];
  struct slab *v = NULL;
  size_t cap = 0;
  long page = sysconf (_SC_PAGESIZE);

  *n = 0;
  if (f == NULL)
    return NULL;
  while (fgets (line, sizeof line, f))
    {
      char name[64];
      long long active, num, size, perslab, pages, aslabs, nslabs;
      if (sscanf (line, "%63s %lld %lld %lld %lld %lld : tunables %*d %*d %*d : slabdata %lld %lld",
                  name, &active, &num, &size, &perslab, &pages, &aslabs, &nslabs)
          != 8)
        continue;
      if (*n == cap)
        {
          cap = cap ? cap * 2 : 256;
          v = realloc (v, cap * sizeof *v);
          if (v == NULL)
            abort ();
        }
      snprintf (v[*n].name, sizeof v[*n].name, "%s", name);
      v[(*n)++].bytes = nslabs * pages * page;
    }
  fclose (f);
  return v;
}

static int
by_bytes_desc (const void *a, const void *b)
{
  const struct slab *x = a, *y = b;
  return (x->bytes < y->bytes) - (x->bytes > y->bytes);
}

/* Print the caches that grew most between before and after, per sandbox. */
static json_t *
slab_growth (const struct slab *before, size_t nb, const struct slab *after, size_t na,
             size_t sandboxes)
{
  struct slab *d = calloc (na + 1, sizeof *d);
  json_t *j = json_object ();

  if (d == NULL)
    abort ();
  for (size_t i = 0; i < na; i++)
    {
      d[i] = after[i];
      for (size_t k = 0; k < nb; k++)
        if (strcmp (before[k].name, after[i].name) == 0)
          {
            d[i].bytes -= before[k].bytes;
            break;
          }
    }
  qsort (d, na, sizeof *d, by_bytes_desc);
  printf ("    largest slab caches, growth per sandbox:");
  for (size_t i = 0; i < na && i < 8 && d[i].bytes > 0; i++)
    {
      double kib = (double) d[i].bytes / 1024 / (double) sandboxes;
      printf ("%s %s %.0f KiB", i ? "," : "", d[i].name, kib);
      json_object_set_new (j, d[i].name, json_real (kib));
    }
  printf ("\n");
  free (d);
  return j;
}

struct proc
{
  pid_t pid, ppid;
  bool mine;
};

/* Sum Pss over the given supervisors and all their descendants; *count gets
   how many processes that was. */
static long long
pss_of_trees (const pid_t *roots, size_t n_roots, size_t *count)
{
  DIR *d = opendir ("/proc");
  struct dirent *de;
  struct proc *v = NULL;
  size_t n = 0, cap = 0;
  long long sum = 0;
  bool changed = true;

  *count = 0;
  if (d == NULL)
    return -1;
  while ((de = readdir (d)) != NULL)
    {
      char path[64], buf[512], *close_paren;
      int pid = atoi (de->d_name), ppid;
      FILE *f;

      if (pid <= 0)
        continue;
      snprintf (path, sizeof path, "/proc/%d/stat", pid);
      if ((f = fopen (path, "re")) == NULL)
        continue;
      if (fgets (buf, sizeof buf, f) == NULL || (close_paren = strrchr (buf, ')')) == NULL
          || sscanf (close_paren + 2, "%*c %d", &ppid) != 1)
        {
          fclose (f);
          continue;
        }
      fclose (f);
      if (n == cap)
        {
          cap = cap ? cap * 2 : 1024;
          v = realloc (v, cap * sizeof *v);
          if (v == NULL)
            abort ();
        }
      v[n++] = (struct proc){ pid, ppid, false };
    }
  closedir (d);
  for (size_t i = 0; i < n; i++)
    for (size_t r = 0; r < n_roots; r++)
      if (v[i].pid == roots[r])
        v[i].mine = true;
  while (changed)
    {
      changed = false;
      for (size_t i = 0; i < n; i++)
        {
          if (v[i].mine)
            continue;
          for (size_t j = 0; j < n; j++)
            if (v[j].mine && v[j].pid == v[i].ppid)
              {
                v[i].mine = changed = true;
                break;
              }
        }
    }
  for (size_t i = 0; i < n; i++)
    if (v[i].mine)
      {
        sum += pss_kib (v[i].pid);
        (*count)++;
      }
  free (v);
  return sum;
}

static void
usage (void)
{
  fprintf (stderr,
           "usage: bench_density --state DIR --runtime ISLET_RUN --json OUT [-n N] [--bucket B]\n"
           "                     [--image REF]\n");
  exit (2);
}

static struct islet_ctx *ctx;
static json_t *out;

/* What the idle sandboxes hold: prints both measures, returns them per
   sandbox in MiB. */
static void
report_memory (const struct mem *before, const struct mem *after, const struct slab *sb,
               size_t n_sb, const struct slab *sa, size_t n_sa, size_t n, double *held,
               double *avail)
{
  struct islet_sandbox_info *info = NULL;
  struct islet_err err = { 0 };
  size_t n_info = 0, n_procs = 0;
  json_t *jk = json_object ();
  long long kernel = 0, pss;
  double user_mib, kernel_mib;
  pid_t *sup;

  if (islet_sandbox_list (ctx, &info, &n_info, &err) < 0)
    die ("list: %s", err.msg);
  sup = calloc (n_info + 1, sizeof *sup);
  if (sup == NULL)
    abort ();
  for (size_t i = 0; i < n_info; i++)
    sup[i] = info[i].supervisor;
  pss = pss_of_trees (sup, n_info, &n_procs);
  printf ("  %zu running (%zu processes under their supervisors)\n", n_info, n_procs);
  for (size_t i = 0; i < N_KERNEL; i++)
    {
      long long d = after->kernel[i] - before->kernel[i];
      kernel += d;
      json_object_set_new (jk, kernel_fields[i], json_real ((double) d / 1024 / (double) n));
    }
  user_mib = (double) pss / 1024 / (double) n;
  kernel_mib = (double) kernel / 1024 / (double) n;
  *avail = (double) (before->available - after->available) / 1024 / (double) n;
  *held = user_mib + kernel_mib;
  printf ("  per sandbox: user space (Pss) %.3f MiB + kernel %.3f MiB = %.3f MiB\n", user_mib,
          kernel_mib, *held);
  printf ("    kernel growth per sandbox:");
  for (size_t i = 0; i < N_KERNEL; i++)
    printf (" %s %.3f", kernel_fields[i],
            (double) (after->kernel[i] - before->kernel[i]) / 1024 / (double) n);
  printf (" MiB\n");
  json_object_set_new (out, "slab_growth_kib_per_sandbox", slab_growth (sb, n_sb, sa, n_sa, n));
  printf ("  per sandbox: MemAvailable drop %.3f MiB\n", *avail);
  json_object_set_new (out, "processes", json_integer ((json_int_t) n_procs));
  json_object_set_new (out, "user_pss_mib_per_sandbox", json_real (user_mib));
  json_object_set_new (out, "kernel_mib_per_sandbox", json_real (kernel_mib));
  json_object_set_new (out, "kernel_parts_mib_per_sandbox", jk);
  json_object_set_new (out, "memavailable_drop_mib_per_sandbox", json_real (*avail));
  free (info);
  free (sup);
}

/* A create checks that the name is free by listing every sandbox: the cost
   of that list at this count explains a create time that grows. */
static void
report_list (size_t n)
{
  struct samples ls = { 0 };
  struct islet_err err = { 0 };
  struct stats st;

  for (int k = 0; k < 11; k++)
    {
      struct islet_sandbox_info *all = NULL;
      size_t m = 0;
      uint64_t t0 = bench_now_ns ();
      if (islet_sandbox_list (ctx, &all, &m, &err) < 0)
        die ("list: %s", err.msg);
      samples_add (&ls, bench_ms_since (t0));
      free (all);
    }
  st = samples_stats (&ls);
  printf ("  islet_sandbox_list with %zu sandboxes: p50 %.2f ms (%.1f us per sandbox)\n", n, st.p50,
          st.p50 * 1000 / (double) n);
  json_object_set_new (out, "list_at_full", stats_json (&st));
  samples_fini (&ls);
}

/* Create p50 per bucket; returns last / first. */
static double
report_buckets (const struct samples *creates, size_t bucket)
{
  json_t *jb = json_array ();
  double first = 0, last = 0;

  row_header ("create time as the count grows");
  for (size_t from = 0; from < creates->n; from += bucket)
    {
      struct stats st = samples_stats_range (creates, from, bucket);
      char label[64];
      snprintf (label, sizeof label, "sandboxes %zu-%zu", from + 1, from + st.n);
      row (label, &st);
      json_array_append_new (
          jb, json_pack ("{s:I,s:o}", "first", (json_int_t) (from + 1), "stats", stats_json (&st)));
      if (from == 0)
        first = st.p50;
      last = st.p50;
    }
  printf ("  last bucket / first bucket (p50): %.2fx\n", last / first);
  json_object_set_new (out, "create_buckets", jb);
  json_object_set_new (out, "create_bucket_ratio", json_real (last / first));
  return last / first;
}

static void
destroy_all (char (*ids)[ISLET_ID_LEN + 1], size_t n, const struct mem *before)
{
  struct samples destroys = { 0 };
  struct islet_err err = { 0 };
  struct stats st;
  struct mem gone;
  long long k = 0;

  for (size_t i = 0; i < n; i++)
    {
      uint64_t t0 = bench_now_ns ();
      if (islet_sandbox_destroy (ctx, ids[i], true, &err) < 0)
        die ("destroy %s: %s", ids[i], err.msg);
      samples_add (&destroys, bench_ms_since (t0));
    }
  gone = mem_read ();
  st = samples_stats (&destroys);
  row_header ("destroy, from the fullest state down");
  row ("islet_sandbox_destroy", &st);
  json_object_set_new (out, "destroy", stats_json (&st));
  for (size_t i = 0; i < N_KERNEL; i++)
    k += gone.kernel[i] - before->kernel[i];
  printf ("  after destroying all, against before: MemAvailable %+.1f MiB, kernel %+.1f MiB\n",
          (double) (gone.available - before->available) / 1024, (double) k / 1024);
  json_object_set_new (out, "kernel_after_destroy_mib", json_real ((double) k / 1024));
  json_object_set_new (out, "memavailable_after_destroy_mib",
                       json_real ((double) (gone.available - before->available) / 1024));
  samples_fini (&destroys);
}

int
main (int argc, char **argv)
{
  static const struct option longopts[] = {
    { "state", required_argument, NULL, 's' }, { "runtime", required_argument, NULL, 'r' },
    { "json", required_argument, NULL, 'j' },  { "bucket", required_argument, NULL, 'b' },
    { "image", required_argument, NULL, 'i' }, { NULL, 0, NULL, 0 },
  };
  const char *state = NULL, *runtime = NULL, *json = NULL;
  size_t n = 500, bucket = 100, n_sb, n_sa;
  struct islet_create_opts co = { .limits = ISLET_LIMITS_DEFAULT };
  struct islet_err err = { 0 };
  struct samples creates = { 0 };
  struct mem before, after;
  struct slab *sb, *sa;
  char (*ids)[ISLET_ID_LEN + 1];
  double held, avail, ratio;
  json_t *targets = json_array ();
  uint64_t t_all;
  int c;

  while ((c = getopt_long (argc, argv, "n:", longopts, NULL)) != -1)
    switch (c)
      {
      case 's': state = optarg; break;
      case 'r': runtime = optarg; break;
      case 'j': json = optarg; break;
      case 'b': bucket = strtoul (optarg, NULL, 10); break;
      case 'i': co.image = optarg; break;
      case 'n': n = strtoul (optarg, NULL, 10); break;
      default: usage ();
      }
  if (!state || !runtime || !json || n == 0 || bucket == 0)
    usage ();
  setvbuf (stdout, NULL, _IOLBF, 0);
  out = json_object ();
  ids = calloc (n, sizeof *ids);
  if (ids == NULL)
    abort ();
  if (islet_ctx_open (state, runtime, &ctx, &err) < 0)
    die ("open state dir: %s", err.msg);

  /* The disk pool and the image skeleton are made once per state directory,
     not per sandbox: make them before the first reading. */
  if (islet_sandbox_create (ctx, &co, ids[0], &err) < 0
      || islet_sandbox_destroy (ctx, ids[0], true, &err) < 0)
    die ("warm-up sandbox: %s", err.msg);
  before = mem_read ();
  sb = slab_read (&n_sb);

  printf ("\n%zu idle sandboxes\n", n);
  t_all = bench_now_ns ();
  for (size_t i = 0; i < n; i++)
    {
      uint64_t t0 = bench_now_ns ();
      if (islet_sandbox_create (ctx, &co, ids[i], &err) < 0)
        die ("create sandbox %zu of %zu: %s", i + 1, n, err.msg);
      samples_add (&creates, bench_ms_since (t0));
    }
  printf ("  created %zu in %.1f s\n", n, bench_ms_since (t_all) / 1000);
  after = mem_read ();
  sa = slab_read (&n_sa);
  report_memory (&before, &after, sb, n_sb, sa, n_sa, n, &held, &avail);
  report_list (n);
  ratio = report_buckets (&creates, bucket);
  destroy_all (ids, n, &before);

  printf ("\ntargets\n");
  target (targets, "idle memory per sandbox (Pss + kernel)", held, "<=", 2, "MiB");
  target (targets, "idle memory per sandbox (MemAvailable)", avail, "<=", 2, "MiB");
  target (targets, "create p50 last/first bucket", ratio, "<=", FLAT_RATIO, "x");
  json_object_set_new (out, "count", json_integer ((json_int_t) n));
  json_object_set_new (out, "targets", targets);
  free (sb);
  free (sa);
  free (ids);
  samples_fini (&creates);
  islet_ctx_free (ctx);
  return json_save (out, json) < 0 ? 1 : 0;
}
