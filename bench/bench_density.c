/* bench_density: many idle sandboxes at once (issue 16: 5,000 at once, at
 * most 1 MiB of host memory each, create time flat, all removed with
 * nothing left).
 *
 *   bench_density --state DIR --runtime ISLET_RUN --json OUT [-n 5000]
 *                 [--bucket N/5] [--image REF]
 *
 * Creates n sandboxes one after another and keeps them all running, then
 * measures what they hold on the host, two ways:
 *   - the drop of MemAvailable (everything: processes, kernel objects, page
 *     cache of their files and of the disk pool);
 *   - the sum of Pss over every supervisor and every process below it (user
 *     space, shared pages split fairly; also per kind of process), plus the
 *     growth of the kernel's own memory (Slab + KernelStack + PageTables +
 *     Percpu from /proc/meminfo, and the slab caches that grew most).
 * Create time is reported per bucket of `bucket` sandboxes (a fifth of n
 * unless given: the issue compares the last thousand of 5,000 with the
 * first), to show whether it stays flat as the count grows.  Finally every
 * sandbox is destroyed, and the host is searched for anything one left:
 * processes, cgroups, subvolumes, mounts, state files. */
#include <dirent.h>
#include <getopt.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "bench.h"
#include "islet/sandbox.h"

/* Issue 16's targets: this many at once, each holding at most this much,
   the last fifth's create p50 at most this much over the first fifth's. */
#define TARGET_COUNT 5000
#define TARGET_MIB 1.0
#define FLAT_RATIO 1.3
/* A new state directory's disk pool is made at this fixed size unless
   ISLET_POOL_SIZE says otherwise: the pool otherwise grows to back every
   sandbox's disk limit (3 GiB each by default), allocated in full on the
   host, up to 64 GiB; idle sandboxes write next to nothing. */
#define POOL_SIZE "4294967296"
/* How long the removed sandboxes' supervisors may take to exit (each
   closes its namespaces after it has answered the destroy). */
#define LEFTOVER_WAIT_S 120

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

/* ---- the processes of the sandboxes, by kind ---- */

/* What a process of an idle sandbox is, by its name (the supervisor sets
   its children's titles). */
static const char *const kinds[] = { "islet-run", "init", "islet-exec", "islet-agent" };
static const char *const kind_labels[] = { "supervisor", "init", "ready exec handler", "file agent",
                                           "other" };
#define N_KINDS (sizeof kind_labels / sizeof kind_labels[0])

struct proc
{
  pid_t pid, ppid;
  unsigned long long start; /* clock ticks since boot: a pid reused later differs */
  bool mine;
};

static int
by_pid (const void *a, const void *b)
{
  const struct proc *x = a, *y = b;
  return (x->pid > y->pid) - (x->pid < y->pid);
}

/* The parent pid and start time of a process (0 if it is gone). */
static int
proc_stat (pid_t pid, pid_t *ppid, unsigned long long *start)
{
  char path[64], buf[1024], *close_paren;
  FILE *f;
  int ok;

  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  if ((f = fopen (path, "re")) == NULL)
    return -1;
  ok = fgets (buf, sizeof buf, f) != NULL && (close_paren = strrchr (buf, ')')) != NULL
       && sscanf (close_paren + 2,
                  "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
                  "%*d %*d %*d %*d %llu",
                  ppid, start)
              == 2;
  fclose (f);
  return ok ? 0 : -1;
}

static size_t
proc_kind (pid_t pid)
{
  char path[64], comm[32] = "";
  FILE *f;
  size_t k;

  snprintf (path, sizeof path, "/proc/%d/comm", (int) pid);
  if ((f = fopen (path, "re")) != NULL)
    {
      if (fgets (comm, sizeof comm, f))
        comm[strcspn (comm, "\n")] = 0;
      fclose (f);
    }
  for (k = 0; k < N_KINDS - 1 && strcmp (comm, kinds[k]) != 0; k++)
    ;
  return k;
}

/* Every process on the host, sorted by pid; the given supervisors and all
   their descendants are marked. */
static struct proc *
procs_of_trees (const pid_t *roots, size_t n_roots, size_t *n_out)
{
  DIR *d = opendir ("/proc");
  struct dirent *de;
  struct proc *v = NULL;
  size_t n = 0, cap = 0;
  bool changed = true;

  if (d == NULL)
    die ("open /proc: %s", strerror (errno));
  while ((de = readdir (d)) != NULL)
    {
      int pid = atoi (de->d_name);
      pid_t ppid;
      unsigned long long start;

      if (pid <= 0 || proc_stat (pid, &ppid, &start) < 0)
        continue;
      if (n == cap)
        {
          cap = cap ? cap * 2 : 1024;
          v = realloc (v, cap * sizeof *v);
          if (v == NULL)
            abort ();
        }
      v[n++] = (struct proc){ pid, ppid, start, false };
    }
  closedir (d);
  qsort (v, n, sizeof *v, by_pid);
  for (size_t r = 0; r < n_roots; r++)
    {
      struct proc key = { .pid = roots[r] }, *p = bsearch (&key, v, n, sizeof *v, by_pid);
      if (p)
        p->mine = true;
    }
  /* a tree is a few levels deep: a pass per level */
  for (int depth = 0; changed && depth < 16; depth++)
    {
      changed = false;
      for (size_t i = 0; i < n; i++)
        {
          struct proc key = { .pid = v[i].ppid }, *parent;
          if (v[i].mine || v[i].ppid <= 1)
            continue;
          parent = bsearch (&key, v, n, sizeof *v, by_pid);
          if (parent && parent->mine)
            v[i].mine = changed = true;
        }
    }
  *n_out = n;
  return v;
}

/* The processes of the sandboxes, kept to check after the removal that
   each of them is gone. */
static struct proc *tree;
static size_t n_tree;

/* Sum Pss over the trees, in total and per kind of process. */
static long long
pss_of_trees (const pid_t *roots, size_t n_roots, long long *per_kind, size_t *count_kind)
{
  size_t n;
  struct proc *v = procs_of_trees (roots, n_roots, &n);
  long long sum = 0;

  free (tree);
  tree = calloc (n + 1, sizeof *tree);
  n_tree = 0;
  if (tree == NULL)
    abort ();
  for (size_t i = 0; i < n; i++)
    if (v[i].mine)
      {
        size_t k = proc_kind (v[i].pid);
        long long pss = pss_kib (v[i].pid);
        per_kind[k] += pss;
        count_kind[k]++;
        sum += pss;
        tree[n_tree++] = v[i];
      }
  free (v);
  return sum;
}

static void
usage (void)
{
  fprintf (
      stderr,
      "usage: bench_density --state DIR --runtime ISLET_RUN --json OUT [-n 5000] [--bucket N/5]\n"
      "                     [--image REF]\n");
  exit (2);
}

static struct islet_ctx *ctx;
static json_t *out;

/* User space per kind of process: how many of each per sandbox, and Pss. */
static void
report_kinds (const long long *per_kind, const size_t *count_kind, size_t n)
{
  json_t *jk = json_object ();

  printf ("    user space per sandbox, by process:");
  for (size_t k = 0; k < N_KINDS; k++)
    {
      if (count_kind[k] == 0)
        continue;
      printf ("%s %s %.3f MiB (%.2f of them, %.0f KiB each)", k ? "," : "", kind_labels[k],
              (double) per_kind[k] / 1024 / (double) n, (double) count_kind[k] / (double) n,
              (double) per_kind[k] / (double) count_kind[k]);
      json_object_set_new (
          jk, kind_labels[k],
          json_pack ("{s:f,s:f}", "pss_mib_per_sandbox", (double) per_kind[k] / 1024 / (double) n,
                     "processes_per_sandbox", (double) count_kind[k] / (double) n));
    }
  printf ("\n");
  json_object_set_new (out, "user_pss_by_process", jk);
}

/* What the idle sandboxes hold: prints both measures, returns them per
   sandbox in MiB. */
static void
report_memory (const struct mem *before, const struct mem *after, const struct slab *sb,
               size_t n_sb, const struct slab *sa, size_t n_sa, size_t n, double *held,
               double *avail, size_t *running)
{
  struct islet_sandbox_info *info = NULL;
  struct islet_err err = { 0 };
  size_t n_info = 0, count_kind[N_KINDS] = { 0 };
  json_t *jk = json_object ();
  long long kernel = 0, pss, per_kind[N_KINDS] = { 0 };
  double user_mib, kernel_mib;
  pid_t *sup;

  if (islet_sandbox_list (ctx, &info, &n_info, &err) < 0)
    die ("list: %s", err.msg);
  sup = calloc (n_info + 1, sizeof *sup);
  if (sup == NULL)
    abort ();
  for (size_t i = 0; i < n_info; i++)
    {
      sup[i] = info[i].supervisor;
      *running += info[i].state == ISLET_SB_RUNNING && sup[i] > 0;
    }
  pss = pss_of_trees (sup, n_info, per_kind, count_kind);
  printf ("  %zu running (%zu processes under their supervisors)\n", *running, n_tree);
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
  report_kinds (per_kind, count_kind, n);
  printf ("    kernel growth per sandbox:");
  for (size_t i = 0; i < N_KERNEL; i++)
    printf (" %s %.3f", kernel_fields[i],
            (double) (after->kernel[i] - before->kernel[i]) / 1024 / (double) n);
  printf (" MiB\n");
  json_object_set_new (out, "slab_growth_kib_per_sandbox", slab_growth (sb, n_sb, sa, n_sa, n));
  printf ("  per sandbox: MemAvailable drop %.3f MiB\n", *avail);
  json_object_set_new (out, "running", json_integer ((json_int_t) *running));
  json_object_set_new (out, "processes", json_integer ((json_int_t) n_tree));
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

  /* a list at 5,000 takes a second or two: a few rounds */
  for (int k = 0; k < 5; k++)
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

/* ---- what the removed sandboxes left behind ---- */

struct leftovers
{
  size_t procs, cgroups, subvolumes, mounts, files;
};

static const char *state_path; /* absolute: as mountinfo shows it */

/* What the state directory held before the first create. */
static struct
{
  size_t names, uids, mounts;
} baseline;

static size_t
count_mounts (void)
{
  FILE *f = fopen ("/proc/self/mountinfo", "re");
  char line[4096];
  size_t n = 0;

  if (f == NULL)
    return 0;
  while (fgets (line, sizeof line, f))
    n += strstr (line, state_path) != NULL;
  fclose (f);
  return n;
}

static bool exists (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
static bool
exists (const char *fmt, ...)
{
  char path[PATH_MAX];
  struct stat st;
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (path, sizeof path, fmt, ap);
  va_end (ap);
  return lstat (path, &st) == 0;
}

/* Entries in the state directory's name index and uid leases, mounts of
   anything in it. */
static void
state_counts (size_t *names, size_t *uids, size_t *mounts)
{
  char path[PATH_MAX];

  snprintf (path, sizeof path, "%s/names", state_path);
  *names = bench_dir_entries (path);
  snprintf (path, sizeof path, "%s/uids", state_path);
  *uids = bench_dir_entries (path);
  *mounts = count_mounts ();
}

/* The directories islet's groups live in: `islet` in /sys/fs/cgroup (v2)
   and in every v1 hierarchy mounted below it. */
static size_t
cgroup_parents (char (*dirs)[PATH_MAX], size_t max)
{
  DIR *d = opendir ("/sys/fs/cgroup");
  struct dirent *de;
  size_t n = 0;

  if (exists ("/sys/fs/cgroup/islet"))
    snprintf (dirs[n++], PATH_MAX, "/sys/fs/cgroup/islet");
  while (d && n < max && (de = readdir (d)) != NULL)
    if (de->d_name[0] != '.' && exists ("/sys/fs/cgroup/%s/islet", de->d_name))
      snprintf (dirs[n++], PATH_MAX, "/sys/fs/cgroup/%s/islet", de->d_name);
  if (d)
    closedir (d);
  return n;
}

/* What is there now of the given sandboxes (processes of their trees as
   recorded at full, their groups, volumes, state directories) and of any
   sandbox (mounts of the state directory, its name and uid leases), the
   latter counted beyond what was there before the first create. */
static struct leftovers
leftovers_now (char (*ids)[ISLET_ID_LEN + 1], size_t n)
{
  char cg[16][PATH_MAX];
  size_t n_cg = cgroup_parents (cg, 16), names, uids, mounts;
  struct leftovers l = { 0 };

  for (size_t i = 0; i < n_tree; i++)
    {
      pid_t ppid;
      unsigned long long start;
      l.procs += proc_stat (tree[i].pid, &ppid, &start) == 0 && start == tree[i].start;
    }
  for (size_t i = 0; i < n; i++)
    {
      for (size_t h = 0; h < n_cg; h++)
        l.cgroups += exists ("%s/%s", cg[h], ids[i]);
      l.subvolumes += exists ("%s/pool/%s", state_path, ids[i]);
      l.files += exists ("%s/sandboxes/%s", state_path, ids[i]);
    }
  state_counts (&names, &uids, &mounts);
  l.files += (names > baseline.names ? names - baseline.names : 0)
             + (uids > baseline.uids ? uids - baseline.uids : 0);
  l.mounts = mounts > baseline.mounts ? mounts - baseline.mounts : 0;
  return l;
}

static size_t
leftovers_sum (const struct leftovers *l)
{
  return l->procs + l->cgroups + l->subvolumes + l->mounts + l->files;
}

/* Wait (bounded) until nothing of the sandboxes is left, report what is. */
static size_t
check_leftovers (char (*ids)[ISLET_ID_LEN + 1], size_t n)
{
  uint64_t t0 = bench_now_ns ();
  struct leftovers l = leftovers_now (ids, n);

  while (leftovers_sum (&l) > 0 && bench_ms_since (t0) < LEFTOVER_WAIT_S * 1000.0)
    {
      usleep (200 * 1000);
      l = leftovers_now (ids, n);
    }
  printf ("  left after removing all %zu (%.1f s after the last destroy): %zu processes, "
          "%zu cgroups, %zu subvolumes, %zu mounts, %zu state files\n",
          n, bench_ms_since (t0) / 1000, l.procs, l.cgroups, l.subvolumes, l.mounts, l.files);
  json_object_set_new (out, "left_after_destroy",
                       json_pack ("{s:I,s:I,s:I,s:I,s:I}", "processes", (json_int_t) l.procs,
                                  "cgroups", (json_int_t) l.cgroups, "subvolumes",
                                  (json_int_t) l.subvolumes, "mounts", (json_int_t) l.mounts,
                                  "state_files", (json_int_t) l.files));
  return leftovers_sum (&l);
}

/* Destroys every sandbox (a failure is reported and the rest go on);
   returns how many could not be destroyed. */
static size_t
destroy_all (char (*ids)[ISLET_ID_LEN + 1], size_t n, const struct mem *before, size_t *left)
{
  struct samples destroys = { 0 };
  struct islet_err err = { 0 };
  struct stats st;
  struct mem gone;
  long long k = 0;
  size_t failed = 0;

  for (size_t i = 0; i < n; i++)
    {
      uint64_t t0 = bench_now_ns ();
      if (islet_sandbox_destroy (ctx, ids[i], true, &err) < 0)
        {
          fprintf (stderr, "bench: destroy %s: %s\n", ids[i], err.msg);
          failed++;
          continue;
        }
      samples_add (&destroys, bench_ms_since (t0));
    }
  st = samples_stats (&destroys);
  row_header ("destroy, from the fullest state down");
  row ("islet_sandbox_destroy", &st);
  json_object_set_new (out, "destroy", stats_json (&st));
  *left = check_leftovers (ids, n);
  gone = mem_read ();
  for (size_t i = 0; i < N_KERNEL; i++)
    k += gone.kernel[i] - before->kernel[i];
  printf ("  after destroying all, against before: MemAvailable %+.1f MiB, kernel %+.1f MiB\n",
          (double) (gone.available - before->available) / 1024, (double) k / 1024);
  json_object_set_new (out, "kernel_after_destroy_mib", json_real ((double) k / 1024));
  json_object_set_new (out, "memavailable_after_destroy_mib",
                       json_real ((double) (gone.available - before->available) / 1024));
  samples_fini (&destroys);
  return failed;
}

/* The disk pool's use at full: what 5,000 sandboxes need of the host. */
static void
report_pool (void)
{
  char path[PATH_MAX];
  struct statvfs sv;

  snprintf (path, sizeof path, "%s/pool", state_path);
  if (statvfs (path, &sv) < 0)
    return;
  printf ("  disk pool at full: %.0f MiB used of %.0f MiB\n",
          (double) (sv.f_blocks - sv.f_bfree) * (double) sv.f_frsize / 1048576,
          (double) sv.f_blocks * (double) sv.f_frsize / 1048576);
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
  size_t n = TARGET_COUNT, bucket = 0, n_sb, n_sa, made = 0, running = 0, left = 0, failed;
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
  if (!state || !runtime || !json || n == 0)
    usage ();
  if (bucket == 0)
    bucket = n >= 5 ? n / 5 : 1;
  setvbuf (stdout, NULL, _IOLBF, 0);
  setenv ("ISLET_POOL_SIZE", POOL_SIZE, 0);
  out = json_object ();
  ids = calloc (n, sizeof *ids);
  if (ids == NULL)
    abort ();
  if (islet_ctx_open (state, runtime, &ctx, &err) < 0)
    die ("open state dir: %s", err.msg);
  if ((state_path = realpath (state, NULL)) == NULL)
    die ("realpath %s: %s", state, strerror (errno));

  /* The disk pool and the image skeleton are made once per state directory,
     not per sandbox: make them before the first reading. */
  if (islet_sandbox_create (ctx, &co, ids[0], &err) < 0
      || islet_sandbox_destroy (ctx, ids[0], true, &err) < 0)
    die ("warm-up sandbox: %s", err.msg);
  state_counts (&baseline.names, &baseline.uids, &baseline.mounts);
  before = mem_read ();
  sb = slab_read (&n_sb);

  printf ("\n%zu idle sandboxes\n", n);
  t_all = bench_now_ns ();
  for (; made < n; made++)
    {
      uint64_t t0 = bench_now_ns ();
      if (islet_sandbox_create (ctx, &co, ids[made], &err) < 0)
        {
          /* what was made is still measured and removed */
          fprintf (stderr, "bench: create sandbox %zu of %zu: %s\n", made + 1, n, err.msg);
          break;
        }
      samples_add (&creates, bench_ms_since (t0));
    }
  if (made == 0)
    die ("no sandbox could be made");
  printf ("  created %zu in %.1f s\n", made, bench_ms_since (t_all) / 1000);
  after = mem_read ();
  sa = slab_read (&n_sa);
  report_memory (&before, &after, sb, n_sb, sa, n_sa, made, &held, &avail, &running);
  report_pool ();
  report_list (made);
  ratio = report_buckets (&creates, bucket);
  failed = destroy_all (ids, made, &before, &left);

  printf ("\ntargets\n");
  target (targets, "idle sandboxes running at once", (double) running, ">=", TARGET_COUNT, "");
  target (targets, "idle memory per sandbox (Pss + kernel)", held, "<=", TARGET_MIB, "MiB");
  target (targets, "idle memory per sandbox (MemAvailable)", avail, "<=", TARGET_MIB, "MiB");
  target (targets, "create p50 last/first fifth", ratio, "<=", FLAT_RATIO, "x");
  target (targets, "left after removing all", (double) (left + failed), "<=", 0, "");
  json_object_set_new (out, "count", json_integer ((json_int_t) made));
  json_object_set_new (out, "bucket", json_integer ((json_int_t) bucket));
  json_object_set_new (out, "targets", targets);
  free (sb);
  free (sa);
  free (ids);
  free (tree);
  samples_fini (&creates);
  islet_ctx_free (ctx);
  if (json_save (out, json) < 0 || made < n || failed > 0)
    return 1;
  return 0;
}
