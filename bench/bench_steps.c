/* bench_steps: where the time of a create, a destroy and an exec goes.
 * Each step is timed on its own, with the library's own functions, in the
 * order islet_sandbox_create, islet-run and an exec's handler take them
 * (docs/ARCHITECTURE.md, "Create, step by step" and "Exec, step by step"):
 *
 *   bench_steps --state DIR --runtime ISLET_RUN --json OUT [-n RUNS]
 *
 * The steps are the same calls, not a model of them, but timed apart: the sum
 * leaves out the glue between them (islet-run's detach fork, pipes, the ready
 * handshake) and shows nothing of steps overlapping.  The exec steps run in a
 * live sandbox made with the library. */
#include <getopt.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "bench.h"
#include "islet/cgroup.h"
#include "islet/contain.h"
#include "islet/disk.h"
#include "islet/seccomp.h"
#include "islet/sandbox.h"
#include "islet/util.h"

#define WARMUP 3

static const char *state_dir;
static struct islet_disk_pool *pool;
static struct islet_image image;
static uint32_t uid_base;
static size_t runs = 100;
static json_t *results;

/* One step: fn runs once per call and returns its own time in ms (so that
   set-up and clean-up around the measured part stay out of it). */
typedef double (*step_fn) (size_t i);

static double total_p50;

static void
measure (const char *key, const char *label, step_fn fn, bool in_sum)
{
  struct samples s = { 0 };
  struct stats st;

  for (size_t i = 0; i < runs + WARMUP; i++)
    {
      double ms = fn (i);
      if (i >= WARMUP)
        samples_add (&s, ms);
    }
  st = samples_stats (&s);
  row (label, &st);
  json_object_set_new (results, key, stats_json (&st));
  if (in_sum)
    total_p50 += st.p50;
  samples_fini (&s);
}

static void
check (int r, const char *what, const struct islet_err *err)
{
  if (r < 0)
    die ("%s: %s", what, err->msg);
}

/* ---- the caller's side (islet_sandbox_create) ---- */

static double
step_idmap (size_t i)
{
  struct islet_err err = { 0 };
  uint32_t base;
  uint64_t t0 = bench_now_ns ();
  double ms;

  check (islet_idmap_claim (state_dir, "bench", &base, &err), "claim uids", &err);
  ms = bench_ms_since (t0);
  check (islet_idmap_release (state_dir, "bench", base, &err), "release uids", &err);
  return ms;
}

static void
volume_name (size_t i, char *buf, size_t len)
{
  snprintf (buf, len, "b%011zx", i);
}

static double
step_volume (size_t i)
{
  struct islet_err err = { 0 };
  char id[ISLET_ID_LEN + 1];
  cleanup_free char *path = NULL;
  uint64_t t0;
  double ms;

  volume_name (i, id, sizeof id);
  t0 = bench_now_ns ();
  check (islet_disk_create (pool, id, 3072ull << 20, &path, &err), "create volume", &err);
  ms = bench_ms_since (t0);
  check (islet_disk_destroy (pool, id, &err), "destroy volume", &err);
  return ms;
}

static double
step_volume_destroy (size_t i)
{
  struct islet_err err = { 0 };
  char id[ISLET_ID_LEN + 1];
  cleanup_free char *path = NULL;
  uint64_t t0;

  volume_name (i, id, sizeof id);
  check (islet_disk_create (pool, id, 3072ull << 20, &path, &err), "create volume", &err);
  t0 = bench_now_ns ();
  check (islet_disk_destroy (pool, id, &err), "destroy volume", &err);
  return bench_ms_since (t0);
}

static double
step_image (size_t i)
{
  struct islet_err err = { 0 };
  struct islet_image img = { 0 };
  uint64_t t0 = bench_now_ns ();
  double ms;

  check (islet_image_open (state_dir, "host", &img, &err), "open image", &err);
  ms = bench_ms_since (t0);
  islet_image_fini (&img);
  return ms;
}

static double
step_upper (size_t i)
{
  struct islet_err err = { 0 };
  char id[ISLET_ID_LEN + 1];
  cleanup_free char *path = NULL;
  cleanup_free char *upper = NULL;
  cleanup_free char *work = NULL;
  uint64_t t0;
  double ms;

  volume_name (i, id, sizeof id);
  check (islet_disk_create (pool, id, 3072ull << 20, &path, &err), "create volume", &err);
  upper = islet_xasprintf ("%s/upper", path);
  work = islet_xasprintf ("%s/work", path);
  t0 = bench_now_ns ();
  check (islet_rootfs_prepare_upper (upper, work, uid_base, "bench", &err), "prepare upper", &err);
  ms = bench_ms_since (t0);
  check (islet_disk_destroy (pool, id, &err), "destroy volume", &err);
  return ms;
}

static double
step_config (size_t i)
{
  static const char text[] = "{\n  \"id\": \"000000000000\",\n  \"limits\": {}\n}\n";
  struct islet_err err = { 0 };
  cleanup_free char *path = islet_xasprintf ("%s/bench-config.json", state_dir);
  uint64_t t0 = bench_now_ns ();

  check (islet_write_file_atomic (path, text, sizeof text - 1, 0600, &err), "write config", &err);
  return bench_ms_since (t0);
}

static const char *runtime;

/* The process start of islet-run alone: exec, dynamic linking, then its
   usage message and exit (no arguments). */
static double
step_exec_runtime (size_t i)
{
  char *argv[] = { (char *) runtime, NULL };
  int status;
  double ms = bench_spawn (argv, -1, &status);

  if (ms < 0)
    die ("cannot run %s", runtime);
  return ms;
}

/* ---- islet-run's side ---- */

/* The filter is compiled at build time: islet-run only takes the embedded
   one.  The compile is timed on its own below, for comparison. */
static double
step_seccomp (size_t i)
{
  uint64_t t0 = bench_now_ns ();
  const struct islet_seccomp *f = islet_seccomp_filter ();

  if (f == NULL)
    die ("no embedded seccomp filter");
  return bench_ms_since (t0);
}

static double
step_seccomp_compile (size_t i)
{
  struct islet_err err = { 0 };
  struct islet_seccomp *f = NULL;
  uint64_t t0 = bench_now_ns ();
  double ms;

  check (islet_seccomp_compile (&f, &err), "compile seccomp filter", &err);
  ms = bench_ms_since (t0);
  islet_seccomp_free (f);
  return ms;
}

static double cg_destroy_ms;

static double
step_cgroup (size_t i)
{
  struct islet_cg_limits l = { .memory_bytes = 1024ull << 20, .cpu_millis = 1000, .pids = 512 };
  struct islet_err err = { 0 };
  struct islet_cg *cg = NULL, *child = NULL;
  char name[64];
  uint64_t t0, t1;
  double ms;

  snprintf (name, sizeof name, "bench%d-%zu", (int) getpid (), i);
  t0 = bench_now_ns ();
  check (islet_cg_create (name, &l, &cg, &err), "create cgroup", &err);
  check (islet_cg_create_child (cg, "init", &child, &err), "create child cgroup", &err);
  ms = bench_ms_since (t0);
  islet_cg_free (child);
  t1 = bench_now_ns ();
  check (islet_cg_destroy (cg, &err), "destroy cgroup", &err);
  cg_destroy_ms = bench_ms_since (t1);
  return ms;
}

static double
step_cgroup_destroy (size_t i)
{
  (void) step_cgroup (i + 100000);
  return cg_destroy_ms;
}

/* A new process moving into a group, as the sandbox's init does and as every
   exec's joiner does: one write to cgroup.procs per hierarchy.  On cgroup v1
   the first move after a quiet spell waits for an RCU grace period (the
   write side of cgroup_threadgroup_rwsem), so the pause before each move
   matters; it is a parameter here. */
static struct islet_cg *enter_cg;
static unsigned enter_pause_ms;

static double
step_cg_enter (size_t i)
{
  struct islet_err err = { 0 };
  double ms = -1;
  int p[2], status;
  pid_t pid;

  if (enter_pause_ms)
    usleep (enter_pause_ms * 1000);
  if (pipe2 (p, O_CLOEXEC) < 0)
    die ("pipe: %s", strerror (errno));
  pid = fork ();
  if (pid < 0)
    die ("fork: %s", strerror (errno));
  if (pid == 0)
    {
      uint64_t t0 = bench_now_ns ();
      if (islet_cg_enter (enter_cg, 0, &err) < 0)
        _exit (1);
      ms = bench_ms_since (t0);
      (void) !write (p[1], &ms, sizeof ms);
      _exit (0);
    }
  close (p[1]);
  if (read (p[0], &ms, sizeof ms) != sizeof ms)
    die ("the child could not enter its cgroup");
  close (p[0]);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return ms;
}

static double
step_cg_enter_now (size_t i)
{
  enter_pause_ms = 0;
  return step_cg_enter (i);
}

static double
step_cg_enter_quiet (size_t i)
{
  enter_pause_ms = 20;
  return step_cg_enter (i);
}

/* clone with the namespaces islet-run asks for; the child exits at once.
   The time runs to the parent's wait, so it holds the namespaces' teardown
   as far as the kernel does it synchronously. */
static double
clone_ns (unsigned long flags)
{
  uint64_t t0 = bench_now_ns ();
  pid_t pid = (pid_t) syscall (SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
  int status;

  if (pid < 0)
    die ("clone: %s", strerror (errno));
  if (pid == 0)
    _exit (0);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return bench_ms_since (t0);
}

static double
step_fork (size_t i)
{
  return clone_ns (0);
}

static double
step_clone_nonet (size_t i)
{
  return clone_ns (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC);
}

static double
step_clone_net (size_t i)
{
  return clone_ns (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET);
}

/* The root file system of a sandbox, built in a child in its own mount
   namespace as the sandbox's init does; the child reports its own time. */
static double rootfs_teardown_ms;

static double
step_rootfs (size_t i)
{
  struct islet_err err = { 0 };
  char id[ISLET_ID_LEN + 1];
  cleanup_free char *path = NULL;
  cleanup_free char *upper = NULL;
  cleanup_free char *work = NULL;
  cleanup_free char *target = NULL;
  double ms = -1;
  uint64_t t_exit;
  int p[2], status;
  pid_t pid;

  volume_name (i, id, sizeof id);
  check (islet_disk_create (pool, id, 3072ull << 20, &path, &err), "create volume", &err);
  upper = islet_xasprintf ("%s/upper", path);
  work = islet_xasprintf ("%s/work", path);
  target = islet_xasprintf ("%s/bench-root", state_dir);
  check (islet_rootfs_prepare_upper (upper, work, uid_base, "bench", &err), "prepare upper", &err);
  if ((mkdir (target, 0755) < 0 && errno != EEXIST) || pipe2 (p, O_CLOEXEC) < 0)
    die ("mkdir %s: %s", target, strerror (errno));
  pid = (pid_t) syscall (SYS_clone, CLONE_NEWNS | CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0)
    die ("clone: %s", strerror (errno));
  if (pid == 0)
    {
      struct islet_rootfs spec = {
        .image = &image, .upper = upper, .work = work, .target = target
      };
      uint64_t t0 = bench_now_ns ();
      double child_ms;
      if (islet_rootfs_setup (&spec, &err) < 0)
        {
          fprintf (stderr, "bench: rootfs: %s\n", err.msg);
          _exit (1);
        }
      child_ms = bench_ms_since (t0);
      (void) !write (p[1], &child_ms, sizeof child_ms);
      _exit (0);
    }
  close (p[1]);
  if (read (p[0], &ms, sizeof ms) != sizeof ms)
    die ("the rootfs child failed");
  close (p[0]);
  t_exit = bench_now_ns ();
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  rootfs_teardown_ms = bench_ms_since (t_exit);
  check (islet_disk_destroy (pool, id, &err), "destroy volume", &err);
  return ms;
}

static double
step_rootfs_teardown (size_t i)
{
  (void) step_rootfs (i);
  return rootfs_teardown_ms;
}

/* ---- an exec (islet-run's handler and joiner) ---- */

static const struct islet_seccomp *filter;
static int sandbox_ns[ISLET_NS_COUNT] = { -1, -1, -1, -1, -1, -1, -1 };
static struct islet_cg *sandbox_cg;

enum
{
  EX_ENTER,
  EX_JOIN,
  EX_DROP,
  EX_FILTER,
  EX_COMMAND,
  EX_N
};
static struct samples ex[EX_N];

/* The joiner's and the command's part of an exec, as src/runtime/exec.c does
   it: enter a fresh child group, join the sandbox's namespaces, fork into
   them, drop to the sandbox's root without capabilities, install the filter,
   run /bin/true.  Each part is timed where it runs and sent back. */
static void __attribute__ ((noreturn)) joiner (struct islet_cg *xcg, int report)
{
  struct islet_creds root = { .uid = 0, .gid = 0, .nofile = 1024 };
  struct islet_err err = { 0 };
  double t[EX_N] = { 0 };
  uint64_t t0 = bench_now_ns ();
  int status;
  pid_t pid;

  if (islet_cg_enter (xcg, 0, &err) < 0)
    _exit (1);
  t[EX_ENTER] = bench_ms_since (t0);
  t0 = bench_now_ns ();
  if (islet_ns_join (sandbox_ns, true, &err) < 0)
    _exit (1);
  t[EX_JOIN] = bench_ms_since (t0);
  t0 = bench_now_ns ();
  pid = fork ();
  if (pid == 0)
    {
      char *argv[] = { "/bin/true", NULL };
      uint64_t t1 = bench_now_ns ();
      if (islet_caps_drop (&root, &err) < 0)
        _exit (1);
      t[EX_DROP] = bench_ms_since (t1);
      t1 = bench_now_ns ();
      if (islet_seccomp_install (filter, &err) < 0)
        _exit (1);
      t[EX_FILTER] = bench_ms_since (t1);
      (void) !write (report, t, sizeof t);
      execv (argv[0], argv);
      _exit (127);
    }
  if (pid < 0)
    _exit (1);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    _exit (1);
  /* fork to exit of /bin/true, less what the child reported itself */
  t[EX_COMMAND] = bench_ms_since (t0);
  (void) !write (report, t, sizeof t);
  _exit (0);
}

static double
step_exec (size_t i)
{
  struct islet_err err = { 0 };
  struct islet_cg *xcg = NULL;
  double a[EX_N], b[EX_N];
  char name[32];
  int p[2], status;
  uint64_t t0;
  double ms;
  pid_t pid;

  snprintf (name, sizeof name, "xb%zu", i);
  t0 = bench_now_ns ();
  check (islet_cg_create_child (sandbox_cg, name, &xcg, &err), "exec cgroup", &err);
  if (pipe2 (p, O_CLOEXEC) < 0)
    die ("pipe: %s", strerror (errno));
  pid = fork ();
  if (pid < 0)
    die ("fork: %s", strerror (errno));
  if (pid == 0)
    {
      close (p[0]);
      joiner (xcg, p[1]);
    }
  close (p[1]);
  if (read (p[0], a, sizeof a) != sizeof a || read (p[0], b, sizeof b) != sizeof b)
    die ("the exec's joiner failed");
  close (p[0]);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  ms = bench_ms_since (t0);
  check (islet_cg_destroy (xcg, &err), "remove exec cgroup", &err);
  if (i >= WARMUP)
    {
      samples_add (&ex[EX_ENTER], a[EX_ENTER]);
      samples_add (&ex[EX_JOIN], a[EX_JOIN]);
      samples_add (&ex[EX_DROP], a[EX_DROP]);
      samples_add (&ex[EX_FILTER], a[EX_FILTER]);
      samples_add (&ex[EX_COMMAND], b[EX_COMMAND] - a[EX_DROP] - a[EX_FILTER]);
    }
  return ms;
}

static double
step_exec_cgroup (size_t i)
{
  struct islet_err err = { 0 };
  struct islet_cg *xcg = NULL;
  char name[32];
  uint64_t t0 = bench_now_ns ();
  double ms;

  snprintf (name, sizeof name, "xc%zu", i);
  check (islet_cg_create_child (sandbox_cg, name, &xcg, &err), "exec cgroup", &err);
  ms = bench_ms_since (t0);
  check (islet_cg_destroy (xcg, &err), "remove exec cgroup", &err);
  return ms;
}

/* The sandbox's init: the supervisor's only child while nothing runs. */
static pid_t
init_of (pid_t supervisor)
{
  char path[64];
  FILE *f;
  int pid = 0;

  snprintf (path, sizeof path, "/proc/%d/task/%d/children", (int) supervisor, (int) supervisor);
  f = fopen (path, "re");
  if (f == NULL || fscanf (f, "%d", &pid) != 1)
    die ("cannot find the init of supervisor %d", (int) supervisor);
  fclose (f);
  return pid;
}

static void
exec_steps (void)
{
  static const char *const labels[EX_N] = {
    [EX_ENTER] = "  joiner: move into the exec's group",
    [EX_JOIN] = "  joiner: setns into 7 namespaces",
    [EX_DROP] = "  command: drop to sandbox root, no caps",
    [EX_FILTER] = "  command: install the seccomp filter",
    [EX_COMMAND] = "  command: fork + exec /bin/true + exit",
  };
  static const char *const keys[EX_N] = {
    [EX_ENTER] = "exec_cgroup_enter", [EX_JOIN] = "exec_setns",
    [EX_DROP] = "exec_caps_drop",     [EX_FILTER] = "exec_seccomp_install",
    [EX_COMMAND] = "exec_command",
  };
  struct islet_create_opts co = { .limits = ISLET_LIMITS_DEFAULT };
  struct islet_sandbox_info info;
  struct islet_err err = { 0 };
  struct islet_ctx *ctx = NULL;
  char id[ISLET_ID_LEN + 1];

  check (islet_ctx_open (state_dir, runtime, &ctx, &err), "open state dir", &err);
  check (islet_sandbox_create (ctx, &co, id, &err), "create a sandbox", &err);
  check (islet_sandbox_get (ctx, id, &info, &err), "find the sandbox", &err);
  check (islet_ns_open (init_of (info.supervisor), sandbox_ns, &err), "open namespaces", &err);
  check (islet_cg_open (id, &sandbox_cg, &err), "open the sandbox's cgroup", &err);
  filter = islet_seccomp_filter ();

  row_header ("exec, step by step (the handler's and joiner's calls, in a live sandbox)");
  measure ("exec_cgroup_create", "  handler: make the exec's group (5 mkdirs)", step_exec_cgroup,
           false);
  measure ("exec_total", "  all of the below, fork to exit", step_exec, false);
  for (int k = 0; k < EX_N; k++)
    {
      struct stats st = samples_stats (&ex[k]);
      row (labels[k], &st);
      json_object_set_new (results, keys[k], stats_json (&st));
      samples_fini (&ex[k]);
    }

  islet_ns_close (sandbox_ns);
  islet_cg_free (sandbox_cg);
  check (islet_sandbox_destroy (ctx, id, true, &err), "destroy the sandbox", &err);
  islet_ctx_free (ctx);
}

static void
usage (void)
{
  fprintf (stderr, "usage: bench_steps --state DIR --runtime ISLET_RUN --json OUT [-n RUNS]\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  static const struct option longopts[] = {
    { "state", required_argument, NULL, 's' },
    { "runtime", required_argument, NULL, 'r' },
    { "json", required_argument, NULL, 'j' },
    { NULL, 0, NULL, 0 },
  };
  const char *json = NULL;
  struct islet_err err = { 0 };
  json_t *out = json_object ();
  int c;

  while ((c = getopt_long (argc, argv, "n:", longopts, NULL)) != -1)
    switch (c)
      {
      case 's': state_dir = optarg; break;
      case 'r': runtime = optarg; break;
      case 'j': json = optarg; break;
      case 'n': runs = strtoul (optarg, NULL, 10); break;
      default: usage ();
      }
  if (!state_dir || !runtime || !json || runs == 0)
    usage ();
  setvbuf (stdout, NULL, _IOLBF, 0);
  results = json_object ();
  json_object_set_new (out, "steps", results);
  /* The state directory is the benchmark's own: made, then left for islet
     reset, like the sandboxes'. */
  check (islet_mkdir_p (state_dir, 0700, &err), "state directory", &err);
  check (islet_disk_pool_open (state_dir, &pool, &err), "disk pool", &err);
  check (islet_image_open (state_dir, "host", &image, &err), "image", &err);
  check (islet_idmap_claim (state_dir, "bench", &uid_base, &err), "claim uids", &err);

  printf ("\ndisk pool: %s\n", islet_disk_enforced (pool) ? "btrfs, qgroup limits enforced"
                                                          : islet_disk_unenforced_reason (pool));
  json_object_set_new (out, "disk_enforced", json_boolean (islet_disk_enforced (pool)));
  row_header ("create, step by step (each step alone; the library's own calls)");
  printf ("  caller (islet_sandbox_create)\n");
  measure ("idmap_claim", "  claim a uid range", step_idmap, true);
  measure ("volume_create", "  btrfs subvolume + qgroup limit", step_volume, true);
  measure ("image_open", "  open the image", step_image, true);
  measure ("prepare_upper", "  prepare the writable layer", step_upper, true);
  measure ("config_write", "  write config.json (atomic: fsync, rename)", step_config, true);
  measure ("exec_runtime", "  fork+exec of islet-run (to its exit)", step_exec_runtime, true);
  printf ("  islet-run\n");
  measure ("seccomp_build", "  seccomp filter (embedded at build time)", step_seccomp, true);
  measure ("seccomp_compile", "  (compiling it with libseccomp, not done)", step_seccomp_compile,
           false);
  measure ("cgroup_create", "  cgroup + its init child (v1: 5 trees)", step_cgroup, true);
  {
    struct islet_cg_limits l = { .memory_bytes = 1024ull << 20, .cpu_millis = 1000, .pids = 512 };
    char name[64];
    snprintf (name, sizeof name, "bench%d-enter", (int) getpid ());
    check (islet_cg_create (name, &l, &enter_cg, &err), "create cgroup", &err);
    measure ("cgroup_enter_quiet", "  move a new process in, 20 ms after the last",
             step_cg_enter_quiet, true);
    measure ("cgroup_enter_busy", "  move a new process in, back to back", step_cg_enter_now,
             false);
    check (islet_cg_destroy (enter_cg, &err), "destroy cgroup", &err);
  }
  measure ("fork", "  plain fork + exit + wait (reference)", step_fork, false);
  measure ("clone_ns", "  clone pid,mnt,uts,ipc + exit + wait", step_clone_nonet, false);
  measure ("clone_ns_net", "  clone pid,mnt,uts,ipc,net + exit + wait", step_clone_net, true);
  measure ("rootfs_setup", "  mounts + pivot_root (in the child)", step_rootfs, true);
  printf ("  sum of the steps marked above (p50): %.2f ms\n", total_p50);
  json_object_set_new (out, "sum_p50_ms", json_real (total_p50));
  row_header ("destroy, step by step");
  measure ("rootfs_teardown", "  exit of a process owning the mounts", step_rootfs_teardown, false);
  measure ("cgroup_destroy", "  remove the cgroup + child", step_cgroup_destroy, false);
  measure ("volume_destroy", "  delete the subvolume (and qgroup)", step_volume_destroy, false);

  exec_steps ();

  check (islet_idmap_release (state_dir, "bench", uid_base, &err), "release uids", &err);
  islet_image_fini (&image);
  islet_disk_pool_free (pool);
  return json_save (out, json) < 0 ? 1 : 0;
}
