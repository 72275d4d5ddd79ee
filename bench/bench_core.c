/* bench_core: the latency of islet's core operations, with the machine's own
 * baseline and the peers measured in the same run.
 *
 *   bench_core --state DIR --runtime ISLET_RUN --cli ISLET --json OUT
 *              [--peers FILE] [--crun-bundle DIR] [--warm-state DIR] [-n RUNS]
 *
 * Library level (islet_sandbox_create / islet_exec / islet_sandbox_destroy,
 * timed with CLOCK_MONOTONIC around the call) and end to end (the islet CLI
 * from process start to exit, timed with the same code as fork+exec of
 * /bin/true).  FILE holds the output of /work/shared/tools/peers: one
 * "name p50_ms p90_ms p99_ms" line per peer; DIR is an OCI bundle running
 * /bin/true, for crun taken in turns with islet run and bwrap. */
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <sys/mount.h>

#include "bench.h"
#include "islet/client.h"
#include "islet/sandbox.h"
#include "islet/util.h"

#define WARMUP 5

struct opts
{
  const char *state, *runtime, *cli, *json, *peers, *crun_bundle;
  const char *warm_state; /* a state dir with a warm pool (bench/run makes it) */
  size_t n;
};

struct peer
{
  char name[32];
  double p50, p90, p99;
};

static struct islet_ctx *ctx;
static struct peer peers[16];
static size_t n_peers;
static double run_on_peer_scale; /* islet run's p50, moved onto the peers' timer */

/* islet run and its rivals taken in turns (head_to_head) */
enum
{
  TURN_ISLET,
  TURN_WARM,
  TURN_BWRAP,
  TURN_CRUN,
  TURN_N
};
static const char *const turn_names[TURN_N] = { "islet run", "islet run (warm pool)", "bwrap",
                                                "crun" };
static double turn_p50[TURN_N]; /* 0: not measured */

static void
create_one (char id[ISLET_ID_LEN + 1], double *ms)
{
  struct islet_create_opts o = { .limits = ISLET_LIMITS_DEFAULT };
  struct islet_err err = { 0 };
  uint64_t t0 = bench_now_ns ();

  if (islet_sandbox_create (ctx, &o, id, &err) < 0)
    die ("create: %s", err.msg);
  *ms = bench_ms_since (t0);
}

static double
destroy_one (const char *id)
{
  struct islet_err err = { 0 };
  uint64_t t0 = bench_now_ns ();

  if (islet_sandbox_destroy (ctx, id, true, &err) < 0)
    die ("destroy %s: %s", id, err.msg);
  return bench_ms_since (t0);
}

/* One exec of argv; *inside_ms gets the wall time the supervisor reports for
   the command itself. */
static double
exec_one (const char *id, char *const argv[], double *inside_ms)
{
  struct islet_exec_req req = { .argv = argv };
  struct islet_exec_result res = { 0 };
  struct islet_err err = { 0 };
  uint64_t t0 = bench_now_ns ();
  double ms;

  if (islet_exec (ctx, id, &req, &res, &err) < 0)
    die ("exec in %s: %s", id, err.msg);
  ms = bench_ms_since (t0);
  if (res.exit_code != 0)
    die ("exec of %s in %s: exit %d %s", argv[0], id, res.exit_code, res.error);
  if (inside_ms)
    *inside_ms = (double) res.wall_ms;
  islet_exec_result_fini (&res);
  return ms;
}

/* One timed run of argv, which must exit 0. */
static double
run_once (char *const argv[])
{
  int status = 0;
  double ms = bench_spawn (argv, -1, &status);

  if (ms < 0)
    die ("cannot run %s: %s", argv[0], strerror (errno));
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    die ("%s %s %s failed with status %#x", argv[0], argv[1] ? argv[1] : "",
         argv[1] && argv[2] ? argv[2] : "", status);
  return ms;
}

/* Time argv n times after WARMUP untimed runs. */
static struct samples
time_program (char *const argv[], size_t n)
{
  struct samples s = { 0 };

  for (size_t i = 0; i < n + WARMUP; i++)
    {
      double ms = run_once (argv);
      if (i >= WARMUP)
        samples_add (&s, ms);
    }
  return s;
}

static void
record (json_t *results, const char *key, const char *label, struct samples *s)
{
  struct stats st = samples_stats (s);
  row (label, &st);
  json_object_set_new (results, key, stats_json (&st));
}

static size_t
read_peers (const char *path, struct peer *out, size_t max)
{
  FILE *f;
  char line[256];
  size_t n = 0;

  if (path == NULL || (f = fopen (path, "re")) == NULL)
    return 0;
  while (n < max && fgets (line, sizeof line, f))
    if (sscanf (line, "%31s %lf %lf %lf", out[n].name, &out[n].p50, &out[n].p90, &out[n].p99) == 4)
      n++;
  fclose (f);
  return n;
}

static const struct peer *
find_peer (const struct peer *p, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (p[i].name, name) == 0)
      return &p[i];
  return NULL;
}

/* The CLI's `islet run` against the peers.  The peers script times with
   Python's subprocess.run, which costs more per process than posix_spawn
   here; both time /bin/true, so islet's number is moved onto the peers'
   scale by the difference of the two /bin/true medians before dividing. */
static void
compare_peers (json_t *out, const struct opts *o, const struct stats *run,
               const struct stats *truth)
{
  size_t n = n_peers = read_peers (o->peers, peers, 16);
  const struct peer *ptrue = find_peer (peers, n, "true");
  double shift, adjusted;
  json_t *jp = json_object ();

  json_object_set_new (out, "peers", jp);
  if (n == 0 || ptrue == NULL)
    {
      printf ("\npeers: not measured (%s)\n",
              o->peers ? "the peers script gave no usable output" : "no peers script");
      json_object_set_new (jp, "error", json_string ("not measured"));
      n_peers = 0;
      return;
    }
  shift = ptrue->p50 - truth->p50;
  adjusted = run_on_peer_scale = run->p50 + shift;
  printf ("\npeers (timed by the peers script; /bin/true there %.2f ms, here %.2f ms,\n"
          "so islet's %.2f ms counts as %.2f ms on that scale)\n",
          ptrue->p50, truth->p50, run->p50, adjusted);
  printf ("  %-12s %8s %8s %8s %14s\n", "peer", "p50 ms", "p90 ms", "p99 ms", "islet / peer");
  json_object_set_new (jp, "timer_shift_ms", json_real (shift));
  json_object_set_new (jp, "islet_run_p50_on_peer_scale_ms", json_real (adjusted));
  for (size_t i = 0; i < n; i++)
    {
      double ratio = adjusted / peers[i].p50;
      printf ("  %-12s %8.2f %8.2f %8.2f %13.2fx\n", peers[i].name, peers[i].p50, peers[i].p90,
              peers[i].p99, ratio);
      json_object_set_new (jp, peers[i].name,
                           json_pack ("{s:f,s:f,s:f,s:f}", "p50_ms", peers[i].p50, "p90_ms",
                                      peers[i].p90, "p99_ms", peers[i].p99, "islet_ratio", ratio));
    }
}

static void
peer_targets (json_t *targets)
{
  static const char *const rivals[] = { "bwrap", "crun" };

  for (size_t i = 0; i < sizeof rivals / sizeof rivals[0]; i++)
    {
      const struct peer *p = find_peer (peers, n_peers, rivals[i]);
      char name[64];

      snprintf (name, sizeof name, "islet run p50 vs %s p50", rivals[i]);
      if (p == NULL)
        printf ("SKIP  %-40s (%s not measured)\n", name, rivals[i]);
      else
        target (targets, name, run_on_peer_scale, "<", p->p50, "ms");
    }
  for (int r = TURN_ISLET; r <= TURN_WARM; r++)
    for (int k = TURN_BWRAP; k < TURN_N; k++)
      if (turn_p50[r] > 0 && turn_p50[k] > 0)
        {
          char name[80];
          snprintf (name, sizeof name, "%s p50 vs %s p50 (in turns)", turn_names[r], turn_names[k]);
          target (targets, name, turn_p50[r], "<", turn_p50[k], "ms");
        }
}

/* ---- islet run against its rivals, in turns ---- */

static const char *
find_tool (const char *const *paths)
{
  for (size_t i = 0; paths[i]; i++)
    if (access (paths[i], X_OK) == 0)
      return paths[i];
  return NULL;
}

/* crun 1.8 refuses the hybrid cgroup layout while cgroup2 is mounted at
   /sys/fs/cgroup/unified: hide it in a mount namespace of this process
   alone, as the peers script does.  islet does not use that mount. */
static bool
hide_unified_cgroup (void)
{
  if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return false;
  if (umount2 ("/sys/fs/cgroup/unified", MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    return false;
  return true;
}

/* What islet leaves running after an `islet run` has exited: the removal
   its sandbox's supervisor finishes, and a warm pool's refill.  The turns
   wait for it (untimed, 5 s at most) before the next command, so that no
   command is timed beside another's leftovers; returns how long it took. */
struct settle
{
  char *sandboxes, *warm_sandboxes, *warm_ready;
  size_t n, warm_n, warm_ready_n;
};

static double
settle_wait (const struct settle *st)
{
  uint64_t t0 = bench_now_ns ();

  while (bench_ms_since (t0) < 5000)
    {
      if (bench_dir_entries (st->sandboxes) <= st->n
          && (st->warm_sandboxes == NULL
              || (bench_dir_entries (st->warm_sandboxes) <= st->warm_n
                  && bench_dir_entries (st->warm_ready) >= st->warm_ready_n)))
        break;
      usleep (200);
    }
  return bench_ms_since (t0);
}

/* islet run, bwrap (the peers script's command line) and crun (its bundle,
   made by bench/run) taken in turns with this program's timer: all see the
   same load at the same moment.  On a VM whose CPUs are shared with other
   guests, timings taken a minute apart are not comparable; these are.
   After each command the turns wait, untimed, for what islet finishes after
   its CLI has exited (settle_wait): a cold run's removal by its supervisor
   and the warm pool's refill would otherwise be timed in the next
   command's turn; a cold run's time until its removal is done is a row of
   its own. */
static void
head_to_head (json_t *out, const struct opts *o, size_t n)
{
  static const char *const bwrap_paths[] = { "/usr/bin/bwrap", "/bin/bwrap", NULL };
  static const char *const crun_paths[] = { "/usr/bin/crun", "/bin/crun", NULL };
  char *argv_run[] = { (char *) o->cli, "--state-dir", (char *) o->state, "run", "--",
                       "/bin/true",     NULL };
  /* `islet run` taking a sandbox started ahead of time from a warm pool;
     each is used once and replaced in the background while the turns go
     on, so the refills' CPU time is spent on this machine, not hidden */
  char *argv_warm[] = { (char *) o->cli, "--state-dir", (char *) o->warm_state, "run", "--",
                        "/bin/true",     NULL };
  char *argv_bwrap[] = { NULL,
                         "--unshare-all",
                         "--die-with-parent",
                         "--ro-bind",
                         "/usr",
                         "/usr",
                         "--symlink",
                         "usr/bin",
                         "/bin",
                         "--symlink",
                         "usr/lib",
                         "/lib",
                         "--symlink",
                         "usr/lib64",
                         "/lib64",
                         "--proc",
                         "/proc",
                         "--dev",
                         "/dev",
                         "--tmpfs",
                         "/tmp",
                         "/bin/true",
                         NULL };
  char name[64];
  char *argv_crun[] = { NULL, "run", "--bundle", (char *) o->crun_bundle, name, NULL };
  char *const *argv[TURN_N] = { argv_run, o->warm_state ? argv_warm : NULL, argv_bwrap, argv_crun };
  struct samples s[TURN_N] = { { 0 } };
  struct samples gone = { 0 };
  struct settle quiet = { 0 };
  json_t *j = json_object ();

  argv_bwrap[0] = (char *) find_tool (bwrap_paths);
  argv_crun[0] = o->crun_bundle ? (char *) find_tool (crun_paths) : NULL;
  if (argv_crun[0] && !hide_unified_cgroup ())
    {
      printf ("\ncrun left out of the turns: cannot hide /sys/fs/cgroup/unified: %s\n",
              strerror (errno));
      argv_crun[0] = NULL;
    }
  quiet.sandboxes = islet_xasprintf ("%s/sandboxes", o->state);
  quiet.n = bench_dir_entries (quiet.sandboxes);
  if (o->warm_state)
    {
      quiet.warm_sandboxes = islet_xasprintf ("%s/sandboxes", o->warm_state);
      quiet.warm_ready = islet_xasprintf ("%s/warm/ready", o->warm_state);
      quiet.warm_n = bench_dir_entries (quiet.warm_sandboxes);
      quiet.warm_ready_n = bench_dir_entries (quiet.warm_ready);
    }
  for (size_t i = 0; i < n + WARMUP; i++)
    for (int k = 0; k < TURN_N; k++)
      {
        double ms, left;
        if (argv[k] == NULL || argv[k][0] == NULL)
          continue;
        snprintf (name, sizeof name, "islet-bench-%d-%zu", (int) getpid (), i);
        ms = run_once (argv[k]);
        left = settle_wait (&quiet);
        if (i >= WARMUP)
          {
            samples_add (&s[k], ms);
            if (k == TURN_ISLET)
              samples_add (&gone, ms + left);
          }
      }
  free (quiet.sandboxes);
  free (quiet.warm_sandboxes);
  free (quiet.warm_ready);
  row_header ("islet run against its rivals, in turns (this program's timer)");
  for (int k = 0; k < TURN_N; k++)
    {
      struct stats st;
      if (argv[k] == NULL || argv[k][0] == NULL)
        {
          printf ("  %-44s (%s)\n", turn_names[k],
                  k == TURN_WARM                      ? "no --warm-state"
                  : k == TURN_CRUN && !o->crun_bundle ? "not installed or no --crun-bundle"
                                                      : "not installed");
          continue;
        }
      st = samples_stats (&s[k]);
      row (k == TURN_ISLET   ? "islet run -- /bin/true"
           : k == TURN_WARM  ? "islet run -- /bin/true, from a warm pool"
           : k == TURN_BWRAP ? "bwrap --unshare-all ... /bin/true"
                             : "crun run (read-only root, /usr bound)",
           &st);
      turn_p50[k] = st.p50;
      json_object_set_new (j, turn_names[k], stats_json (&st));
      samples_fini (&s[k]);
      if (k == TURN_ISLET)
        {
          /* the command's result comes before the sandbox's removal ends */
          st = samples_stats (&gone);
          row ("islet run, until its sandbox is removed", &st);
          json_object_set_new (j, "islet run until removed", stats_json (&st));
          samples_fini (&gone);
        }
    }
  for (int r = TURN_ISLET; r <= TURN_WARM; r++)
    for (int k = TURN_BWRAP; k < TURN_N; k++)
      if (turn_p50[r] > 0 && turn_p50[k] > 0)
        printf ("  %s / %s (p50): %.2fx\n", turn_names[r], turn_names[k],
                turn_p50[r] / turn_p50[k]);
  json_object_set_new (out, "in_turns", j);
}

static void
usage (void)
{
  fprintf (stderr, "usage: bench_core --state DIR --runtime ISLET_RUN --cli ISLET --json OUT "
                   "[--peers FILE] [--crun-bundle DIR] [--warm-state DIR] [-n RUNS]\n");
  exit (2);
}

static void
parse (int argc, char **argv, struct opts *o)
{
  static const struct option longopts[] = {
    { "state", required_argument, NULL, 's' },      { "runtime", required_argument, NULL, 'r' },
    { "cli", required_argument, NULL, 'c' },        { "json", required_argument, NULL, 'j' },
    { "peers", required_argument, NULL, 'p' },      { "crun-bundle", required_argument, NULL, 'b' },
    { "warm-state", required_argument, NULL, 'w' }, { NULL, 0, NULL, 0 },
  };
  int c;

  o->n = 200;
  while ((c = getopt_long (argc, argv, "n:", longopts, NULL)) != -1)
    switch (c)
      {
      case 's': o->state = optarg; break;
      case 'r': o->runtime = optarg; break;
      case 'c': o->cli = optarg; break;
      case 'j': o->json = optarg; break;
      case 'p': o->peers = optarg; break;
      case 'b': o->crun_bundle = optarg; break;
      case 'w': o->warm_state = optarg; break;
      case 'n': o->n = strtoul (optarg, NULL, 10); break;
      default: usage ();
      }
  if (!o->state || !o->runtime || !o->cli || !o->json || o->n < 10)
    usage ();
}

/* Every timing of the run, in ms. */
struct timings
{
  struct samples base, creates, warm_creates, destroys, execs, inside, cli_exec, cli_run;
};

static void
bench_library (json_t *results, struct timings *t, char *const true_argv[], size_t n)
{
  char id[ISLET_ID_LEN + 1];
  double ms, first;

  /* The first create also makes the disk pool (mkfs, loop mount): reported
     apart, and never among the timed runs. */
  create_one (id, &first);
  json_object_set_new (results, "first_create_ms", json_real (first));
  (void) exec_one (id, true_argv, NULL); /* ready to exec means it runs */
  (void) destroy_one (id);
  for (int i = 0; i < WARMUP; i++)
    {
      create_one (id, &ms);
      (void) destroy_one (id);
    }

  row_header ("library (islet_core, no process start of the caller)");
  for (size_t i = 0; i < n; i++)
    {
      create_one (id, &ms);
      samples_add (&t->creates, ms);
      samples_add (&t->destroys, destroy_one (id));
    }
  printf ("  %-44s %5d %8.2f\n", "first create of the state dir (makes the pool)", 1, first);
  record (results, "create", "islet_sandbox_create (until ready to exec)", &t->creates);
  record (results, "destroy", "islet_sandbox_destroy (force, running)", &t->destroys);

  create_one (id, &ms);
  for (size_t i = 0; i < n + WARMUP; i++)
    {
      double in;
      ms = exec_one (id, true_argv, &in);
      if (i < WARMUP)
        continue;
      samples_add (&t->execs, ms);
      samples_add (&t->inside, in);
    }
  (void) destroy_one (id);
  record (results, "exec", "islet_exec /bin/true", &t->execs);
  record (results, "exec_inside", "  of which the command's own wall (res.wall_ms)", &t->inside);
}

/* islet_sandbox_create taking a sandbox from a warm pool (`islet system
   warm`, which bench/run sets on --warm-state): what a library caller with a
   pool gets.  Each create comes once the pool is full again (its destroy
   and the refill it started waited for, untimed), as a caller's creates do
   when they come less often than a sandbox takes to start; a create that
   finds the pool empty makes its sandbox as a cold one does and is timed
   the same.  Returns false if the pool's state dir cannot be used. */
static bool
bench_library_warm (json_t *results, struct timings *t, const struct opts *o, size_t n)
{
  struct islet_ctx *wctx;
  struct islet_err err = { 0 };
  struct settle full = { 0 };
  bool ok = true;

  if (o->warm_state == NULL)
    return false;
  if (islet_ctx_open (o->warm_state, o->runtime, &wctx, &err) < 0)
    {
      printf ("  create from a warm pool: not measured (%s)\n", err.msg);
      return false;
    }
  full.sandboxes = islet_xasprintf ("%s/sandboxes", o->warm_state);
  full.warm_sandboxes = full.sandboxes;
  full.warm_ready = islet_xasprintf ("%s/warm/ready", o->warm_state);
  full.n = full.warm_n = bench_dir_entries (full.sandboxes);
  full.warm_ready_n = bench_dir_entries (full.warm_ready);
  if (full.warm_ready_n == 0)
    {
      printf ("  create from a warm pool: not measured (the pool in %s is empty)\n", o->warm_state);
      ok = false;
    }
  if (ok)
    row_header ("library, with a warm pool (islet system warm)");
  for (size_t i = 0; ok && i < n + WARMUP; i++)
    {
      struct islet_create_opts co = { .limits = ISLET_LIMITS_DEFAULT };
      char id[ISLET_ID_LEN + 1];
      uint64_t t0 = bench_now_ns ();
      double ms;

      if (islet_sandbox_create (wctx, &co, id, &err) < 0)
        die ("create from the warm pool: %s", err.msg);
      ms = bench_ms_since (t0);
      if (islet_sandbox_destroy (wctx, id, true, &err) < 0)
        die ("destroy %s: %s", id, err.msg);
      if (settle_wait (&full) >= 5000)
        die ("the warm pool in %s was not refilled within 5 s", o->warm_state);
      if (i >= WARMUP)
        samples_add (&t->warm_creates, ms);
    }
  if (ok)
    record (results, "create_warm", "islet_sandbox_create, from a warm pool", &t->warm_creates);
  free (full.sandboxes);
  free (full.warm_ready);
  islet_ctx_free (wctx);
  return ok;
}

static void
bench_cli (json_t *results, struct timings *t, const struct opts *o)
{
  struct islet_create_opts co = { .limits = ISLET_LIMITS_DEFAULT };
  struct islet_err err = { 0 };
  char id[ISLET_ID_LEN + 1];
  char *argv_exec[] = { (char *) o->cli, "--state-dir", (char *) o->state, "exec", id, "--",
                        "/bin/true",     NULL };
  char *argv_run[] = { (char *) o->cli, "--state-dir", (char *) o->state, "run", "--",
                       "/bin/true",     NULL };

  row_header ("end to end (the islet CLI, process start to exit)");
  if (islet_sandbox_create (ctx, &co, id, &err) < 0)
    die ("create: %s", err.msg);
  t->cli_exec = time_program (argv_exec, o->n);
  record (results, "cli_exec", "islet exec ID -- /bin/true", &t->cli_exec);
  (void) destroy_one (id);
  t->cli_run = time_program (argv_run, o->n);
  record (results, "cli_run", "islet run -- /bin/true", &t->cli_run);
}

int
main (int argc, char **argv)
{
  struct opts o = { 0 };
  struct islet_err err = { 0 };
  struct timings t = { 0 };
  struct stats st_true, st_create, st_destroy, st_exec, st_run;
  bool warm;
  char *true_argv[] = { "/bin/true", NULL };
  json_t *out = json_object (), *results = json_object (), *targets = json_array ();

  parse (argc, argv, &o);
  setvbuf (stdout, NULL, _IOLBF, 0);
  if (islet_ctx_open (o.state, o.runtime, &ctx, &err) < 0)
    die ("open state dir: %s", err.msg);
  json_object_set_new (out, "results", results);
  json_object_set_new (out, "targets", targets);
  json_object_set_new (out, "runs", json_integer ((json_int_t) o.n));

  row_header ("baseline");
  t.base = time_program (true_argv, o.n);
  record (results, "true_fork_exec", "fork+exec+wait of /bin/true", &t.base);
  bench_library (results, &t, true_argv, o.n);
  warm = bench_library_warm (results, &t, &o, o.n);
  bench_cli (results, &t, &o);

  st_true = samples_stats (&t.base);
  st_create = samples_stats (&t.creates);
  st_destroy = samples_stats (&t.destroys);
  st_exec = samples_stats (&t.execs);
  st_run = samples_stats (&t.cli_run);
  printf ("\nratios to fork+exec of /bin/true in this run (p50): create %.1fx, destroy %.1fx, "
          "exec %.1fx, islet run %.1fx\n",
          st_create.p50 / st_true.p50, st_destroy.p50 / st_true.p50, st_exec.p50 / st_true.p50,
          st_run.p50 / st_true.p50);
  compare_peers (out, &o, &st_run, &st_true);
  head_to_head (out, &o, o.n / 2);

  printf ("\ntargets\n");
  target (targets, "create p50", st_create.p50, "<=", 5, "ms");
  target (targets, "create p99", st_create.p99, "<=", 20, "ms");
  /* issue 16's, for the same create until ready to exec */
  target (targets, "create p50 (issue 16)", st_create.p50, "<=", 2, "ms");
  target (targets, "create p99 (issue 16)", st_create.p99, "<=", 10, "ms");
  if (warm)
    {
      /* the same targets for a library caller that keeps a warm pool */
      struct stats st_warm = samples_stats (&t.warm_creates);
      target (targets, "create from a warm pool p50 (issue 16)", st_warm.p50, "<=", 2, "ms");
      target (targets, "create from a warm pool p99 (issue 16)", st_warm.p99, "<=", 10, "ms");
    }
  target (targets, "destroy p50", st_destroy.p50, "<=", 5, "ms");
  target (targets, "exec p50", st_exec.p50, "<=", 2, "ms");
  peer_targets (targets);

  samples_fini (&t.base);
  samples_fini (&t.creates);
  samples_fini (&t.warm_creates);
  samples_fini (&t.destroys);
  samples_fini (&t.execs);
  samples_fini (&t.inside);
  samples_fini (&t.cli_exec);
  samples_fini (&t.cli_run);
  islet_ctx_free (ctx);
  return json_save (out, o.json) < 0 ? 1 : 0;
}
