/* cgroup v1: each controller (or a few together, like cpu,cpuacct) has a
 * hierarchy of its own, and a group is the same islet/<name> directory in
 * each.  Limits go to memory (memory, memory+swap when swap accounting is
 * on, and socket buffers), cpu (CFS quota) and pids; stats come from cpuacct and memory.  The
 * freezer, when mounted, keeps a group from forking while it is killed. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup_internal.h"
#include "islet/util.h"

#define CFS_PERIOD_US 100000
#define PROCS_MAX (4u << 20)
#define FREEZE_TIMEOUT_NS (100ull * 1000000ull)

/* islet's parent group is made on demand by the shared mkdir. */
static int
v1_prepare (const struct cg_layout *lo, unsigned *avail, struct islet_err *err)
{
  *avail = 0;
  for (size_t i = 0; i < lo->n; i++)
    *avail |= lo->hier[i].ctrls;
  return 0;
}

/* Without swap accounting (swapaccount=0, or no swap support built in) the
   memsw files do not exist, and memory alone is the limit. */
static int
write_memsw (int fd, const char *value, struct islet_err *err)
{
  struct islet_err e;

  if (islet_write_file_at (fd, "memory.memsw.limit_in_bytes", value, &e) == 0)
    return 0;
  if (e.errnum == ENOENT)
    return 0;
  *err = e;
  return -1;
}

/* Socket buffers.  On v1 a group's TCP and UDP buffers are charged to it
   only once memory.kmem.tcp.limit_in_bytes has been written, and then to
   that counter of its own, not to memory.usage_in_bytes: without it, one
   sandbox limited to 64 MiB queued 1 GiB of host memory in loopback
   connections.  The bound is the memory limit again, so a sandbox holds at
   most twice its limit, half of it in socket buffers.  (v2 charges socket
   memory to memory.current, under memory.max, with nothing to set.)  A
   kernel without the file has no socket accounting for v1 groups at all:
   the limit is then the host's net.ipv4.tcp_mem and udp_mem.  A socket is
   charged only if the group of the process that made it has accounting on,
   so every child group gets it too, unlimited there: the charge goes up
   the hierarchy to the sandbox's group and its bound. */
static int
set_socket_memory (int fd, uint64_t bytes, struct islet_err *err)
{
  struct islet_err e;
  char value[24];

  if (bytes)
    snprintf (value, sizeof value, "%" PRIu64, bytes);
  else
    strcpy (value, "-1");
  if (islet_write_file_at (fd, "memory.kmem.tcp.limit_in_bytes", value, &e) == 0
      || e.errnum == ENOENT)
    return 0;
  *err = e;
  return -1;
}

static int
set_memory (int fd, uint64_t bytes, bool fresh, struct islet_err *err)
{
  uint64_t want = bytes ? bytes : UINT64_MAX;
  char value[24];
  bool raising = false;

  if (fresh && bytes == 0)
    return 0;
  if (bytes)
    snprintf (value, sizeof value, "%" PRIu64, bytes);
  else
    strcpy (value, "-1");
  /* The kernel keeps memory <= memory+swap at every step: when raising,
     memsw goes first; when lowering (a fresh group is "unlimited"), the
     memory limit does. */
  if (!fresh)
    {
      uint64_t cur;

      if (cg_read_u64 (fd, "memory.limit_in_bytes", &cur, err) < 0)
        return -1;
      raising = want > cur;
    }
  if (raising && write_memsw (fd, value, err) < 0)
    return -1;
  if (islet_write_file_at (fd, "memory.limit_in_bytes", value, err) < 0)
    return -1;
  if (!raising && write_memsw (fd, value, err) < 0)
    return -1;
  return set_socket_memory (fd, bytes, err);
}

static int
set_cpu (int fd, uint32_t millis, bool fresh, struct islet_err *err)
{
  if (fresh && millis == 0)
    return 0;
  if (cg_write_u64 (fd, "cpu.cfs_period_us", CFS_PERIOD_US, err) < 0)
    return -1;
  /* millis/1000 of a CPU is millis * 100 us per 100 ms period. */
  if (millis == 0)
    return islet_write_file_at (fd, "cpu.cfs_quota_us", "-1", err);
  return cg_write_u64 (fd, "cpu.cfs_quota_us", (uint64_t) millis * (CFS_PERIOD_US / 1000), err);
}

static int
set_pids (int fd, uint32_t pids, bool fresh, struct islet_err *err)
{
  if (fresh && pids == 0)
    return 0;
  if (pids == 0)
    return islet_write_file_at (fd, "pids.max", "max", err);
  return cg_write_u64 (fd, "pids.max", pids, err);
}

static int
v1_init_child (struct islet_cg *cg, struct islet_err *err)
{
  int mem = cg_ctrl_fd (cg, CG_MEMORY);

  return mem >= 0 ? set_socket_memory (mem, 0, err) : 0;
}

static int
v1_set_limits (const struct islet_cg *cg, const struct islet_cg_limits *l, bool fresh,
               struct islet_err *err)
{
  int mem = cg_ctrl_fd (cg, CG_MEMORY), cpu = cg_ctrl_fd (cg, CG_CPU);
  int pids = cg_ctrl_fd (cg, CG_PIDS);

  /* A missing hierarchy was refused earlier if its limit is wanted. */
  if (mem >= 0 && set_memory (mem, l->memory_bytes, fresh, err) < 0)
    return -1;
  if (cpu >= 0 && set_cpu (cpu, l->cpu_millis, fresh, err) < 0)
    return -1;
  if (pids >= 0 && set_pids (pids, l->pids, fresh, err) < 0)
    return -1;
  return 0;
}

/* v1 counts an OOM kill only in the group of the task killed (the exec's
   child group, say), not in its ancestors: add up the subtree. */
static int
visit_oom (int dirfd, void *data, struct islet_err *err)
{
  uint64_t *sum = data, n = 0;
  struct islet_err e;

  if (cg_read_keyed (dirfd, "memory.oom_control", "oom_kill", &n, &e) < 0)
    {
      if (e.kind != ISLET_E_NOTFOUND) /* no oom_kill line before Linux 4.13 */
        {
          *err = e;
          return -1;
        }
      n = 0;
    }
  *sum += n;
  return 0;
}

/* The OOM kills of the group and its children.  An exec's group has no
   child (cgroupfs counts a directory's subdirectories in its links, 2 + n):
   its own file, opened ahead, is the sum. */
static int
v1_oom_kills (const struct islet_cg *cg, int mem, uint64_t *sum, struct islet_err *err)
{
  struct stat st;
  struct islet_err e;

  if (cg->stat_fd[CG_STAT_OOM] < 0 || fstat (mem, &st) < 0 || st.st_nlink != 2)
    return cg_walk (mem, visit_oom, sum, err);
  if (cg_stat_keyed (cg, CG_STAT_OOM, "oom_kill", sum, &e) < 0)
    {
      if (e.kind != ISLET_E_NOTFOUND) /* no oom_kill line before Linux 4.13 */
        {
          *err = e;
          return -1;
        }
      *sum = 0;
    }
  return 0;
}

static int
v1_read_stats (const struct islet_cg *cg, struct islet_cg_stats *out, struct islet_err *err)
{
  int acct = cg_ctrl_fd (cg, CG_CPUACCT), mem = cg_ctrl_fd (cg, CG_MEMORY);

  /* Both are hierarchical: the group's numbers include its children's. */
  if (acct >= 0 && cg_stat_u64 (cg, CG_STAT_CPU, &out->cpu_ns, err) < 0)
    return -1;
  if (mem >= 0 && cg_stat_u64 (cg, CG_STAT_PEAK, &out->memory_peak, err) < 0)
    return -1;
  if (mem >= 0 && v1_oom_kills (cg, mem, &out->oom_kills, err) < 0)
    return -1;
  return 0;
}

/* Killing by listing: v1 has nothing better, and v2 falls back on it
   before Linux 5.14 (no cgroup.kill). */

struct procs_ctx
{
  int sig;
  size_t count;
};

static int
visit_procs (int dirfd, void *data, struct islet_err *err)
{
  struct procs_ctx *ctx = data;
  cleanup_free char *text = NULL;
  struct islet_err e;

  if (islet_read_file_at (dirfd, "cgroup.procs", PROCS_MAX, &text, NULL, &e) < 0)
    {
      if (e.errnum == ENOENT || e.errnum == ENODEV)
        return 0; /* the group went away */
      *err = e;
      return -1;
    }
  for (char *p = text, *end; *p; p = end)
    {
      long pid = strtol (p, &end, 10);

      if (end == p)
        break;
      while (*end == '\n')
        end++;
      if (pid <= 0)
        continue;
      ctx->count++;
      /* cgroup.procs lists no task that has exited, but one may exit and
         be reaped between the read and the kill.  Its pid coming back to
         an unrelated process within that window needs a full wrap of the
         pid space; the v1 freezer closes the window on the first round. */
      if (ctx->sig)
        (void) kill ((pid_t) pid, ctx->sig);
    }
  return 0;
}

int
cg_count_procs (const struct islet_cg *cg, int sig, size_t *count, struct islet_err *err)
{
  struct procs_ctx ctx = { sig, 0 };

  for (size_t i = 0; i < cg->n; i++)
    if (cg->dir[i].fd >= 0 && !cg->dir[i].parents
        && cg_walk (cg->dir[i].fd, visit_procs, &ctx, err) < 0)
      return -1;
  *count = ctx.count;
  return 0;
}

int
cg_kill_rounds (const struct islet_cg *cg, int (*freeze) (const struct islet_cg *, bool),
                struct islet_err *err)
{
  uint64_t deadline = islet_now_ns () + CG_KILL_TIMEOUT_NS;
  unsigned step = 0;
  size_t n;

  if (cg_count_procs (cg, 0, &n, err) < 0)
    return -1;
  for (int round = 0; n > 0; round++)
    {
      /* Frozen, the group cannot fork while it is listed and killed; after
         the thaw the killed tasks die without returning to user space. */
      bool frozen = round == 0 && freeze && freeze (cg, true) == 0;
      int r = cg_count_procs (cg, SIGKILL, &n, err);

      if (frozen)
        (void) freeze (cg, false);
      if (r < 0)
        return -1;
      if (n == 0)
        break;
      if (round + 1 >= CG_KILL_MAX_ROUNDS || !cg_backoff (deadline, &step))
        return islet_fail (err, ISLET_E_SYSTEM, ETIMEDOUT,
                           "%zu processes still running after %d rounds of SIGKILL", n, round + 1);
    }
  return 0;
}

/* 0 when the freezer was asked to freeze or thaw (so a thaw must follow a
   freeze), -1 when there is no freezer to use. */
static int
v1_freeze (const struct islet_cg *cg, bool on)
{
  int fd = cg_ctrl_fd (cg, CG_FREEZER);
  uint64_t deadline = islet_now_ns () + FREEZE_TIMEOUT_NS;
  unsigned step = 0;
  struct islet_err e;

  if (fd < 0 || islet_write_file_at (fd, "freezer.state", on ? "FROZEN" : "THAWED", &e) < 0)
    return -1;
  if (!on)
    return 0;
  /* FREEZING until every task has stopped; a task in an uninterruptible
     sleep can hold that up, and then the kill goes ahead anyway. */
  do
    {
      cleanup_free char *state = NULL;

      if (islet_read_file_at (fd, "freezer.state", 64, &state, NULL, &e) < 0
          || strncmp (state, "FROZEN", 6) == 0)
        break;
    }
  while (cg_backoff (deadline, &step));
  return 0;
}

static int
v1_kill (const struct islet_cg *cg, struct islet_err *err)
{
  return cg_kill_rounds (cg, v1_freeze, err);
}

static int
v1_is_empty (const struct islet_cg *cg, struct islet_err *err)
{
  size_t n;

  if (cg_count_procs (cg, 0, &n, err) < 0)
    return -1;
  return n == 0;
}

/* The peak restarts at what the group's last exec left charged to it (at
   most max_left bytes: page cache and kernel objects, such as the dentries
   of its lookups), which becomes the baseline of the peak, as the CPU time
   and OOM kills so far become theirs. */
static int
v1_stats_restart (struct islet_cg *cg, uint64_t max_left, struct islet_err *err)
{
  int mem = cg_ctrl_fd (cg, CG_MEMORY);
  struct islet_cg_stats base = { 0 };
  struct islet_err e;
  uint64_t left;

  if (mem < 0 || cg_ctrl_fd (cg, CG_CPUACCT) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, ENOTSUP, "no memory or cpuacct group of its own");
  if (cg_read_u64 (mem, "memory.usage_in_bytes", &left, err) < 0)
    return -1;
  if (left > max_left)
    return islet_fail (err, ISLET_E_LIMIT, EBUSY, "%" PRIu64 " bytes still charged to it", left);
  /* v1's reset of the peak: to the usage now; an exec's group has no
     child, so its own OOM count is the sum */
  if (cg_write_u64 (mem, "memory.max_usage_in_bytes", 0, err) < 0
      || cg_read_u64 (cg_ctrl_fd (cg, CG_CPUACCT), "cpuacct.usage", &base.cpu_ns, err) < 0
      || cg_read_u64 (mem, "memory.max_usage_in_bytes", &base.memory_peak, err) < 0)
    return -1;
  if (cg_read_keyed (mem, "memory.oom_control", "oom_kill", &base.oom_kills, &e) < 0
      && e.kind != ISLET_E_NOTFOUND)
    {
      *err = e;
      return -1;
    }
  cg->base = base;
  return 0;
}

const struct cg_backend cg_backend_v1 = {
  .version = ISLET_CG_V1,
  .prepare = v1_prepare,
  .init_group = NULL,
  .init_child = v1_init_child,
  .set_limits = v1_set_limits,
  .read_stats = v1_read_stats,
  .stat_files = { [CG_STAT_CPU] = { CG_CPUACCT, "cpuacct.usage" },
                  [CG_STAT_PEAK] = { CG_MEMORY, "memory.max_usage_in_bytes" },
                  [CG_STAT_OOM] = { CG_MEMORY, "memory.oom_control" } },
  .kill = v1_kill,
  .is_empty = v1_is_empty,
  .stats_restart = v1_stats_restart,
};
