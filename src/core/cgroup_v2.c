/* cgroup v2: one hierarchy.  A process may only live in a leaf ("no internal
 * processes"), which is why a sandbox's group holds none itself: its init
 * and each exec sit in child groups, and the sandbox group hands memory, cpu
 * and pids down to them, so that each child has its own memory.peak and
 * cpu.stat.  The whole subtree dies at once through cgroup.kill. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "islet/util.h"

#define CPU_PERIOD_US 100000
#define WANT (CG_BIT (CG_MEMORY) | CG_BIT (CG_CPU) | CG_BIT (CG_PIDS))
/* Accounting and freezing are part of every v2 group. */
#define BUILT_IN (CG_BIT (CG_CPUACCT) | CG_BIT (CG_FREEZER))

/* The controllers one enables in v2, in the order they are written. */
static const struct
{
  enum cg_ctrl ctrl;
  const char *name;
} v2_ctrls[] = { { CG_MEMORY, "memory" }, { CG_CPU, "cpu" }, { CG_PIDS, "pids" } };

unsigned
cg_parse_ctrls (const char *text)
{
  unsigned set = 0;

  for (const char *p = text; *p;)
    {
      size_t len = strcspn (p, " \t\n");

      for (size_t i = 0; i < sizeof v2_ctrls / sizeof v2_ctrls[0]; i++)
        if (len == strlen (v2_ctrls[i].name) && memcmp (p, v2_ctrls[i].name, len) == 0)
          set |= CG_BIT (v2_ctrls[i].ctrl);
      p += len;
      p += strspn (p, " \t\n");
    }
  return set;
}

void
cg_format_ctrls (unsigned set, char *buf, size_t size)
{
  size_t used = 0;

  buf[0] = '\0';
  for (size_t i = 0; i < sizeof v2_ctrls / sizeof v2_ctrls[0]; i++)
    if (set & CG_BIT (v2_ctrls[i].ctrl))
      {
        int n = snprintf (buf + used, size - used, "%s+%s", used ? " " : "", v2_ctrls[i].name);
        if (n < 0 || (size_t) n >= size - used)
          break;
        used += (size_t) n;
      }
}

static int
read_ctrls (int dirfd, const char *file, unsigned *out, struct islet_err *err)
{
  cleanup_free char *text = NULL;

  if (islet_read_file_at (dirfd, file, 4096, &text, NULL, err) < 0)
    return -1;
  *out = cg_parse_ctrls (text);
  return 0;
}

static int
enable_ctrls (int dirfd, const char *file, unsigned set, struct islet_err *err)
{
  char buf[64];

  if (set == 0)
    return 0;
  cg_format_ctrls (set, buf, sizeof buf);
  return islet_write_file_at (dirfd, file, buf, err);
}

/* Make memory, cpu and pids reach islet/<name>: enabled in the root's
   subtree_control (when the root has them at all), then in islet/'s. */
static int
v2_prepare (const struct cg_layout *lo, unsigned *avail, struct islet_err *err)
{
  const char *mount = lo->hier[0].mount;
  cleanup_close int root = -1;
  struct islet_err e;
  unsigned have = 0, can = 0;
  int r;

  root = openat (AT_FDCWD, mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "open `%s`", mount);
  /* Usually islet/ is there and hands down all three: one read. */
  r = read_ctrls (root, CG_PARENT "/cgroup.subtree_control", &have, &e);
  if (r == 0 && (have & WANT) == WANT)
    {
      *avail = WANT;
      return 0;
    }
  if (r < 0 && e.errnum != ENOENT)
    {
      *err = e;
      return -1;
    }
  if (read_ctrls (root, "cgroup.subtree_control", &have, err) < 0)
    return -1;
  if ((have & WANT) != WANT)
    {
      if (read_ctrls (root, "cgroup.controllers", &can, err) < 0)
        return -1;
      if (enable_ctrls (root, "cgroup.subtree_control", can & WANT & ~have, err) < 0)
        return -1;
      have |= can & WANT;
    }
  if (mkdirat (root, CG_PARENT, 0755) < 0 && errno != EEXIST)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "mkdir `%s/" CG_PARENT "`",
                       mount);
  if (enable_ctrls (root, CG_PARENT "/cgroup.subtree_control", have & WANT, err) < 0)
    return -1;
  *avail = have & WANT;
  return 0;
}

static int
v2_init_group (struct islet_cg *cg, unsigned avail, struct islet_err *err)
{
  if (enable_ctrls (cg->dir[0].fd, "cgroup.subtree_control", avail, err) < 0)
    return -1;
  /* What the children made later can use. */
  cg->dir[0].ctrls = avail | BUILT_IN;
  return 0;
}

/* Files that only exist with swap support (memory.swap.max). */
static int
write_optional (int fd, const char *file, const char *value, struct islet_err *err)
{
  struct islet_err e;

  if (islet_write_file_at (fd, file, value, &e) == 0 || e.errnum == ENOENT)
    return 0;
  *err = e;
  return -1;
}

static int
v2_set_limits (const struct islet_cg *cg, const struct islet_cg_limits *l, bool fresh,
               struct islet_err *err)
{
  int fd = cg->dir[0].fd;
  char buf[48];

  if (!fresh || l->memory_bytes)
    {
      if (l->memory_bytes)
        snprintf (buf, sizeof buf, "%" PRIu64, l->memory_bytes);
      else
        snprintf (buf, sizeof buf, "max");
      if (islet_write_file_at (fd, "memory.max", buf, err) < 0)
        return -1;
      /* No swap on top: memory + swap is held to the memory limit. */
      if (write_optional (fd, "memory.swap.max", l->memory_bytes ? "0" : "max", err) < 0)
        return -1;
    }
  if (!fresh || l->cpu_millis)
    {
      if (l->cpu_millis)
        snprintf (buf, sizeof buf, "%" PRIu64 " %d",
                  (uint64_t) l->cpu_millis * (CPU_PERIOD_US / 1000), CPU_PERIOD_US);
      else
        snprintf (buf, sizeof buf, "max %d", CPU_PERIOD_US);
      if (islet_write_file_at (fd, "cpu.max", buf, err) < 0)
        return -1;
    }
  if (!fresh || l->pids)
    {
      if (l->pids)
        snprintf (buf, sizeof buf, "%u", l->pids);
      else
        snprintf (buf, sizeof buf, "max");
      if (islet_write_file_at (fd, "pids.max", buf, err) < 0)
        return -1;
    }
  return 0;
}

static int
v2_read_stats (const struct islet_cg *cg, struct islet_cg_stats *out, struct islet_err *err)
{
  uint64_t usec = 0;
  struct islet_err e;

  if (cg_stat_keyed (cg, CG_STAT_CPU, "usage_usec", &usec, err) < 0)
    return -1;
  out->cpu_ns = usec * 1000;
  /* memory.peak came in Linux 5.19; without it the peak reads 0. */
  if (cg_stat_u64 (cg, CG_STAT_PEAK, &out->memory_peak, &e) < 0)
    {
      if (e.kind != ISLET_E_NOTFOUND)
        {
          *err = e;
          return -1;
        }
      out->memory_peak = 0;
    }
  /* Hierarchical (unless mounted with memory_localevents). */
  if (cg_stat_keyed (cg, CG_STAT_OOM, "oom_kill", &out->oom_kills, &e) < 0)
    {
      if (e.kind != ISLET_E_NOTFOUND)
        {
          *err = e;
          return -1;
        }
      out->oom_kills = 0;
    }
  return 0;
}

/* 1 if a process is left in the group or below, 0 if not (or the group is
   gone), -1 on error. */
static int
populated (int fd, struct islet_err *err)
{
  uint64_t v = 0;
  struct islet_err e;

  if (cg_read_keyed (fd, "cgroup.events", "populated", &v, &e) < 0)
    {
      if (e.errnum == ENOENT || e.errnum == ENODEV)
        return 0;
      *err = e;
      return -1;
    }
  return v != 0;
}

static int
v2_kill (const struct islet_cg *cg, struct islet_err *err)
{
  uint64_t deadline = islet_now_ns () + CG_KILL_TIMEOUT_NS;
  int fd = cg->dir[0].fd;
  unsigned step = 0;
  struct islet_err e;
  int r;

  if (fd < 0)
    return 0;
  r = populated (fd, err);
  if (r <= 0)
    return r;
  if (islet_write_file_at (fd, "cgroup.kill", "1", &e) < 0)
    {
      if (e.errnum != ENOENT)
        {
          *err = e;
          return -1;
        }
      /* No cgroup.kill before Linux 5.14. */
      return cg_kill_rounds (cg, NULL, err);
    }
  /* The kernel kills every task, forking or not, before the write
     returns; what is left is waiting for them to finish exiting. */
  while ((r = populated (fd, err)) > 0)
    if (!cg_backoff (deadline, &step))
      return islet_fail (err, ISLET_E_SYSTEM, ETIMEDOUT,
                         "processes still running %llu s after cgroup.kill",
                         (unsigned long long) (CG_KILL_TIMEOUT_NS / 1000000000ull));
  return r;
}

static int
v2_is_empty (const struct islet_cg *cg, struct islet_err *err)
{
  int r = cg->dir[0].fd < 0 ? 0 : populated (cg->dir[0].fd, err);

  return r < 0 ? -1 : !r;
}

const struct cg_backend cg_backend_v2 = {
  .version = ISLET_CG_V2,
  .prepare = v2_prepare,
  .init_group = v2_init_group,
  .init_child = NULL,
  .set_limits = v2_set_limits,
  .read_stats = v2_read_stats,
  .stat_files = { [CG_STAT_CPU] = { CG_NCTRL, "cpu.stat" },
                  [CG_STAT_PEAK] = { CG_NCTRL, "memory.peak" },
                  [CG_STAT_OOM] = { CG_NCTRL, "memory.events" } },
  .kill = v2_kill,
  .is_empty = v2_is_empty,
};
