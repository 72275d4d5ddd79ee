/* bench_core: the latency of islet's core operations, with the machine's own
 * baseline and the peers measured in the same run.
 *
 *   bench_core --state DIR --runtime ISLET_RUN --cli ISLET --json OUT
 *              [--peers FILE] [-n RUNS]
 *
 * Library level (islet_sandbox_create / islet_exec / islet_sandbox_destroy,
 * timed with CLOCK_MONOTONIC around the call) and end to end (the islet CLI
 * from process start to exit, timed with the same code as fork+exec of
 * /bin/true).  FILE holds the output of /work/shared/tools/peers: one
 * "name p50_ms p90_ms p99_ms" line per peer. */
#include <getopt.h>
#include <inttypes.h>

#include "bench.h"
#include "islet/client.h"
#include "islet/sandbox.h"

#define WARMUP 5

struct opts
{
  const char *state, *runtime, *cli, *json, *peers;
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

/* Time argv n times after WARMUP untimed runs; every run must exit 0. */
static struct samples
time_program (char *const argv[], size_t n)
{
  struct samples s = { 0 };

  for (size_t i = 0; i < n + WARMUP; i++)
    {
      int status = 0;
      double ms = bench_spawn (argv, -1, &status);
      if (ms < 0)
        die ("cannot run %s: %s", argv[0], strerror (errno));
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        die ("%s %s %s failed with status %#x", argv[0], argv[1] ? argv[1] : "",
             argv[1] && argv[2] ? argv[2] : "", status);
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
    if (sscanf (line, "%31s %lf %lf %lf", out[n].name, &out[n].p50, &out[n].p90, &out[n].p99)
        == 4)
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
                                      peers[i].p90, "p99_ms", peers[i].p99, "islet_ratio",
                                      ratio));
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
}

static void
usage (void)
{
  fprintf (stderr, "usage: bench_core --state DIR --runtime ISLET_RUN --cli ISLET --json OUT "
                   "[--peers FILE] [-n RUNS]\n");
  exit (2);
}

static void
parse (int argc, char **argv, struct opts *o)
{
  static const struct option longopts[] = {
    { "state", required_argument, NULL, 's' }, { "runtime", required_argument, NULL, 'r' },
    { "cli", required_argument, NULL, 'c' },   { "json", required_argument, NULL, 'j' },
    { "peers", required_argument, NULL, 'p' }, { NULL, 0, NULL, 0 },
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
      case 'n': o->n = strtoul (optarg, NULL, 10); break;
      default: usage ();
      }
  if (!o->state || !o->runtime || !o->cli || !o->json || o->n < 10)
    usage ();
}

int
main (int argc, char **argv)
{
  struct opts o = { 0 };
  struct islet_err err = { 0 };
  struct samples base = { 0 }, creates = { 0 }, destroys = { 0 }, execs = { 0 }, inside = { 0 },
                 cli_exec, cli_run;
  struct stats st_true, st_create, st_destroy, st_exec, st_run;
  char id[ISLET_ID_LEN + 1];
  char *true_argv[] = { "/bin/true", NULL };
  json_t *out = json_object (), *results = json_object (), *targets = json_array ();
  double ms, first;

  parse (argc, argv, &o);
  setvbuf (stdout, NULL, _IOLBF, 0);
  if (islet_ctx_open (o.state, o.runtime, &ctx, &err) < 0)
    die ("open state dir: %s", err.msg);
  json_object_set_new (out, "results", results);
  json_object_set_new (out, "targets", targets);
  json_object_set_new (out, "runs", json_integer ((json_int_t) o.n));

  row_header ("baseline");
  base = time_program (true_argv, o.n);
  record (results, "true_fork_exec", "fork+exec+wait of /bin/true", &base);
  st_true = samples_stats (&base);

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
  for (size_t i = 0; i < o.n; i++)
    {
      create_one (id, &ms);
      samples_add (&creates, ms);
      samples_add (&destroys, destroy_one (id));
    }
  record (results, "create", "islet_sandbox_create (until ready to exec)", &creates);
  record (results, "destroy", "islet_sandbox_destroy (force, running)", &destroys);

  create_one (id, &ms);
  for (size_t i = 0; i < o.n + WARMUP; i++)
    {
      double in;
      ms = exec_one (id, true_argv, &in);
      if (i < WARMUP)
        continue;
      samples_add (&execs, ms);
      samples_add (&inside, in);
    }
  record (results, "exec", "islet_exec /bin/true", &execs);
  record (results, "exec_inside", "  of which the command's own wall (res.wall_ms)", &inside);

  row_header ("end to end (the islet CLI, process start to exit)");
  {
    char *argv_exec[] = { (char *) o.cli, "--state-dir", (char *) o.state, "exec", id,
                          "--",           "/bin/true",   NULL };
    cli_exec = time_program (argv_exec, o.n);
    record (results, "cli_exec", "islet exec ID -- /bin/true", &cli_exec);
  }
  (void) destroy_one (id);
  {
    char *argv_run[] = { (char *) o.cli, "--state-dir", (char *) o.state, "run", "--",
                         "/bin/true",    NULL };
    cli_run = time_program (argv_run, o.n);
    record (results, "cli_run", "islet run -- /bin/true", &cli_run);
  }

  st_create = samples_stats (&creates);
  st_destroy = samples_stats (&destroys);
  st_exec = samples_stats (&execs);
  st_run = samples_stats (&cli_run);
  printf ("\nratios to fork+exec of /bin/true in this run (p50): create %.1fx, destroy %.1fx, "
          "exec %.1fx, islet run %.1fx\n",
          st_create.p50 / st_true.p50, st_destroy.p50 / st_true.p50, st_exec.p50 / st_true.p50,
          st_run.p50 / st_true.p50);
  compare_peers (out, &o, &st_run, &st_true);

  printf ("\ntargets\n");
  target (targets, "create p50", st_create.p50, "<=", 5, "ms");
  target (targets, "create p99", st_create.p99, "<=", 20, "ms");
  target (targets, "destroy p50", st_destroy.p50, "<=", 5, "ms");
  target (targets, "exec p50", st_exec.p50, "<=", 2, "ms");
  peer_targets (targets);

  samples_fini (&base);
  samples_fini (&creates);
  samples_fini (&destroys);
  samples_fini (&execs);
  samples_fini (&inside);
  samples_fini (&cli_exec);
  samples_fini (&cli_run);
  islet_ctx_free (ctx);
  return json_save (out, o.json) < 0 ? 1 : 0;
}
