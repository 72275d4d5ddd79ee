/* Control groups, the shared part: finding the hierarchies, naming, making
 * and removing groups (with rollback), moving a process in, and the helpers
 * both backends use (control files, walking a subtree, the parsers).  What
 * differs between v1 and v2 is in cgroup_v1.c and cgroup_v2.c.
 *
 * A handle keeps an O_PATH fd of its group in every hierarchy, so that the
 * hot paths (enter, one exec's child group) do no path walks from the root
 * and islet_cg_enter needs no memory at all. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "islet/contain.h"
#include "islet/util.h"

#define NAME_MAX_LEN 64
#define KEYED_MAX ((size_t) 64 << 10)
#define WALK_MAX_DEPTH 16 /* islet's trees are two deep; a sandbox cannot add more */

static const char *const ctrl_names[CG_NCTRL] = {
  [CG_MEMORY] = "memory", [CG_CPU] = "cpu",         [CG_CPUACCT] = "cpuacct",
  [CG_PIDS] = "pids",     [CG_FREEZER] = "freezer",
};

/* The layout is found once per process (or after islet_cg_set_root) and
   then only read; the lock covers the finding. */
static pthread_mutex_t layout_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cg_layout layout;
static bool layout_ready;
static char root_dir[PATH_MAX] = "/sys/fs/cgroup";
static bool root_forced;
static enum islet_cg_version forced_version;

/* ---- finding the hierarchies ---- */

static bool
is_cgroup2 (const char *path)
{
  struct statfs sfs;

  return statfs (path, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

/* Add ctrl to the hierarchy at (dev, ino), or start a new one: v1
   controllers can share a hierarchy (cpu,cpuacct). */
static void
layout_add (struct cg_layout *lo, enum cg_ctrl ctrl, const char *mount, dev_t dev, ino_t ino)
{
  for (size_t i = 0; i < lo->n; i++)
    if (lo->hier[i].dev == dev && lo->hier[i].ino == ino)
      {
        lo->hier[i].ctrls |= CG_BIT (ctrl);
        return;
      }
  if (lo->n == CG_MAX_HIER
      || snprintf (lo->hier[lo->n].mount, sizeof lo->hier[0].mount, "%s", mount)
             >= (int) sizeof lo->hier[0].mount)
    return;
  lo->hier[lo->n].ctrls = CG_BIT (ctrl);
  lo->hier[lo->n].dev = dev;
  lo->hier[lo->n].ino = ino;
  lo->n++;
}

/* Memory's hierarchy goes first: it is the one a group cannot do without,
   and the one a process joins first. */
static void
layout_memory_first (struct cg_layout *lo)
{
  for (size_t i = 1; i < lo->n; i++)
    if (lo->hier[i].ctrls & CG_BIT (CG_MEMORY))
      {
        struct cg_hier tmp = lo->hier[0];
        lo->hier[0] = lo->hier[i];
        lo->hier[i] = tmp;
        break;
      }
}

static bool
has_option (const char *opts, const char *name)
{
  size_t len = strlen (name);

  for (const char *p = opts; p; p = strchr (p, ','), p = p ? p + 1 : NULL)
    if (strncmp (p, name, len) == 0 && (p[len] == ',' || p[len] == '\0' || p[len] == '\n'))
      return true;
  return false;
}

static int
add_v1_mount (const struct islet_mount *m, void *data, struct islet_err *err)
{
  struct cg_layout *lo = data;

  (void) err;
  if (strcmp (m->fstype, "cgroup") != 0)
    return 0;
  for (int c = 0; c < CG_NCTRL; c++)
    if (has_option (m->options, ctrl_names[c]))
      layout_add (lo, (enum cg_ctrl) c, m->point, makedev (m->major, m->minor), 0);
  return 0;
}

/* The v1 hierarchies as mounted, from /proc/self/mountinfo: distros differ
   in names and grouping (cpu,cpuacct vs. separate), so nothing is assumed. */
static void
scan_mountinfo (struct cg_layout *lo)
{
  struct islet_err ignored;

  (void) !islet_mountinfo_each (add_v1_mount, lo, &ignored);
  layout_memory_first (lo);
}

/* Under a forced root, <root>/<controller> is each controller's mount; a
   symlink (cpu -> cpu,cpuacct) joins controllers into one hierarchy. */
static void
scan_root_v1 (struct cg_layout *lo, const char *root)
{
  for (int c = 0; c < CG_NCTRL; c++)
    {
      char path[PATH_MAX];
      struct stat st;

      if (snprintf (path, sizeof path, "%s/%s", root, ctrl_names[c]) >= (int) sizeof path
          || stat (path, &st) < 0 || !S_ISDIR (st.st_mode))
        continue;
      layout_add (lo, (enum cg_ctrl) c, path, st.st_dev, st.st_ino);
    }
  layout_memory_first (lo);
}

static void
layout_scan (struct cg_layout *lo)
{
  enum islet_cg_version want = root_forced ? forced_version : ISLET_CG_NONE;

  memset (lo, 0, sizeof *lo);
  if (want == ISLET_CG_NONE && is_cgroup2 (root_dir))
    want = ISLET_CG_V2;
  if (want == ISLET_CG_V2)
    {
      memcpy (lo->hier[0].mount, root_dir, sizeof root_dir);
      lo->hier[0].ctrls = (1u << CG_NCTRL) - 1;
      lo->n = 1;
      lo->version = ISLET_CG_V2;
      return;
    }
  if (want == ISLET_CG_V1 || want == ISLET_CG_NONE)
    {
      if (root_forced)
        scan_root_v1 (lo, root_dir);
      else
        scan_mountinfo (lo);
      /* Without a memory hierarchy there is nothing worth limiting. */
      if (lo->n > 0 && lo->hier[0].ctrls & CG_BIT (CG_MEMORY))
        lo->version = ISLET_CG_V1;
      else
        lo->n = 0;
    }
}

const struct cg_layout *
cg_layout_get (void)
{
  pthread_mutex_lock (&layout_lock);
  if (!layout_ready)
    {
      layout_scan (&layout);
      layout_ready = true;
    }
  pthread_mutex_unlock (&layout_lock);
  return &layout;
}

enum islet_cg_version
islet_cg_detect (void)
{
  return cg_layout_get ()->version;
}

void
islet_cg_set_root (const char *root, enum islet_cg_version version)
{
  pthread_mutex_lock (&layout_lock);
  snprintf (root_dir, sizeof root_dir, "%s", root ? root : "/sys/fs/cgroup");
  root_forced = root != NULL;
  forced_version = version;
  layout_ready = false;
  pthread_mutex_unlock (&layout_lock);
}

/* ---- handles ---- */

static int
check_name (const char *name, struct islet_err *err)
{
  if (!islet_name_ok (name, NAME_MAX_LEN))
    return islet_fail (err, ISLET_E_INVALID, 0, "bad cgroup name `%s`", name ? name : "");
  return 0;
}

/* The kernel refuses a CFS quota under 1 ms per 100 ms period. */
static int
check_limits (const struct islet_cg_limits *l, struct islet_err *err)
{
  if (l == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "no limits given");
  if (l->cpu_millis > 0 && l->cpu_millis < 10)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "a cpu limit of %u millis is below the minimum of 10", l->cpu_millis);
  return 0;
}

static int
check_ctrls (const struct islet_cg_limits *l, unsigned avail, struct islet_err *err)
{
  static const struct
  {
    enum cg_ctrl ctrl;
    const char *what;
  } needs[] = { { CG_MEMORY, "memory" }, { CG_CPU, "cpu" }, { CG_PIDS, "pids" } };
  bool want[] = { l->memory_bytes > 0, l->cpu_millis > 0, l->pids > 0 };

  for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++)
    if (want[i] && !(avail & CG_BIT (needs[i].ctrl)))
      return islet_fail (err, ISLET_E_SYSTEM, EOPNOTSUPP,
                         "a %s limit needs the %s controller, which is not available",
                         needs[i].what, needs[i].what);
  return 0;
}

/* Handles are made with nothing open yet; each directory's path is known. */
static struct islet_cg *
cg_alloc (const struct cg_backend *be, char *rel, size_t n)
{
  struct islet_cg *cg = islet_xcalloc (1, sizeof *cg);

  cg->be = be;
  cg->rel = rel;
  cg->n = n;
  for (size_t i = 0; i < CG_MAX_HIER; i++)
    cg->dir[i].fd = -1;
  for (size_t i = 0; i < CG_NSTAT; i++)
    cg->stat_fd[i] = -1;
  return cg;
}

/* islet/<name> in every hierarchy of lo. */
static struct islet_cg *
cg_new_top (const struct cg_layout *lo, const char *name)
{
  struct islet_cg *cg = cg_alloc (lo->version == ISLET_CG_V2 ? &cg_backend_v2 : &cg_backend_v1,
                                  islet_xasprintf (CG_PARENT "/%s", name), lo->n);

  for (size_t i = 0; i < cg->n; i++)
    {
      cg->dir[i].path = islet_xasprintf ("%s/%s", lo->hier[i].mount, cg->rel);
      cg->dir[i].ctrls = lo->hier[i].ctrls;
    }
  return cg;
}

/* <name> below parent, in each of its hierarchies. */
static struct islet_cg *
cg_new_child (const struct islet_cg *parent, const char *name)
{
  struct islet_cg *cg = cg_alloc (parent->be, islet_xasprintf ("%s/%s", parent->rel, name),
                                  parent->n);

  for (size_t i = 0; i < cg->n; i++)
    {
      cg->dir[i].path = islet_xasprintf ("%s/%s", parent->dir[i].path, name);
      cg->dir[i].ctrls = parent->dir[i].ctrls;
    }
  return cg;
}

void
islet_cg_free (struct islet_cg *cg)
{
  if (cg == NULL)
    return;
  for (size_t i = 0; i < cg->n; i++)
    {
      if (cg->dir[i].fd >= 0)
        close (cg->dir[i].fd);
      free (cg->dir[i].path);
    }
  for (size_t i = 0; i < CG_NSTAT; i++)
    if (cg->stat_fd[i] >= 0)
      close (cg->stat_fd[i]);
  free (cg->rel);
  free (cg);
}

int
cg_ctrl_fd (const struct islet_cg *cg, enum cg_ctrl ctrl)
{
  for (size_t i = 0; i < cg->n; i++)
    if (cg->dir[i].ctrls & CG_BIT (ctrl))
      return cg->dir[i].parents ? -1 : cg->dir[i].fd;
  return -1;
}

static unsigned
cg_ctrls (const struct islet_cg *cg)
{
  unsigned set = 0;

  for (size_t i = 0; i < cg->n; i++)
    if (cg->dir[i].fd >= 0)
      set |= cg->dir[i].ctrls;
  return set;
}

static int
open_dir (int at, const char *path, struct cg_dir *d, struct islet_err *err)
{
  d->fd = openat (at, path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (d->fd < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "open `%s`", d->path);
  return 0;
}

/* mkdir the group in every hierarchy, below parent's fds if given.  islet's
   own parent group is made when missing, and is never removed again:
   another sandbox may be making its group in it at the same moment. */
static int
make_dirs (struct islet_cg *cg, const struct islet_cg *parent, struct islet_err *err)
{
  for (size_t i = 0; i < cg->n; i++)
    {
      struct cg_dir *d = &cg->dir[i];
      int at = parent ? parent->dir[i].fd : AT_FDCWD;
      const char *path = parent ? strrchr (d->path, '/') + 1 : d->path;
      int r;

      if ((parent && at < 0) || d->parents)
        continue; /* the parent is missing in this hierarchy, or stands in */
      r = mkdirat (at, path, 0755);
      if (r < 0 && errno == ENOENT && !parent)
        {
          cleanup_free char *up = islet_xstrdup (d->path);
          *strrchr (up, '/') = '\0';
          if (mkdirat (AT_FDCWD, up, 0755) < 0 && errno != EEXIST)
            return islet_fail (err, islet_errkind_from_errno (errno), errno, "mkdir `%s`", up);
          r = mkdirat (at, path, 0755);
        }
      if (r < 0 && errno == EEXIST)
        return islet_fail (err, ISLET_E_CONFLICT, EEXIST, "`%s` already exists", d->path);
      if (r < 0)
        return islet_fail (err, islet_errkind_from_errno (errno), errno, "mkdir `%s`", d->path);
      d->made = true;
      if (open_dir (at, path, d, err) < 0)
        return -1;
    }
  return 0;
}

/* Rollback of make_dirs: the groups are new, so empty and childless. */
static void
unmake_dirs (struct islet_cg *cg)
{
  for (size_t i = 0; i < cg->n; i++)
    if (cg->dir[i].made)
      {
        (void) unlinkat (AT_FDCWD, cg->dir[i].path, AT_REMOVEDIR);
        cg->dir[i].made = false;
      }
}

int
islet_cg_create (const char *name, const struct islet_cg_limits *limits, struct islet_cg **out,
                 struct islet_err *err)
{
  const struct cg_layout *lo;
  struct islet_cg *cg;
  unsigned avail = 0;

  if (check_name (name, err) < 0 || check_limits (limits, err) < 0)
    return islet_wrap (err, "create cgroup");
  lo = cg_layout_get ();
  if (lo->version == ISLET_CG_NONE)
    return islet_fail (err, ISLET_E_SYSTEM, EOPNOTSUPP,
                       "create cgroup `%s`: no cgroup2 or v1 memory hierarchy found", name);
  cg = cg_new_top (lo, name);
  if (cg->be->prepare (lo, &avail, err) < 0 || check_ctrls (limits, avail, err) < 0)
    goto fail;
  if (make_dirs (cg, NULL, err) < 0)
    goto fail;
  if (cg->be->init_group && cg->be->init_group (cg, avail, err) < 0)
    goto fail;
  if (cg->be->set_limits (cg, limits, true, err) < 0)
    goto fail;
  *out = cg;
  return 0;

fail:
  unmake_dirs (cg);
  islet_cg_free (cg);
  return islet_wrap (err, "create cgroup `" CG_PARENT "/%s`", name);
}

int
islet_cg_open (const char *name, struct islet_cg **out, struct islet_err *err)
{
  const struct cg_layout *lo;
  struct islet_cg *cg;
  size_t found = 0;

  if (check_name (name, err) < 0)
    return islet_wrap (err, "open cgroup");
  lo = cg_layout_get ();
  if (lo->version == ISLET_CG_NONE)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "open cgroup `%s`: no cgroups here", name);
  cg = cg_new_top (lo, name);
  for (size_t i = 0; i < cg->n; i++)
    {
      struct cg_dir *d = &cg->dir[i];
      struct islet_err e;

      /* A group half made by a process that died is still opened, so
         that it can be destroyed. */
      if (open_dir (AT_FDCWD, d->path, d, &e) < 0 && e.errnum != ENOENT)
        {
          *err = e;
          islet_cg_free (cg);
          return islet_wrap (err, "open cgroup `" CG_PARENT "/%s`", name);
        }
      found += d->fd >= 0;
    }
  if (found == 0)
    {
      islet_cg_free (cg);
      return islet_fail (err, ISLET_E_NOTFOUND, ENOENT, "no cgroup `" CG_PARENT "/%s`", name);
    }
  *out = cg;
  return 0;
}

int
islet_cg_create_child (struct islet_cg *parent, const char *name, struct islet_cg **out,
                       struct islet_err *err)
{
  struct islet_cg *cg;

  if (check_name (name, err) < 0)
    return islet_wrap (err, "create a child of cgroup `%s`", parent->rel);
  cg = cg_new_child (parent, name);
  if (make_dirs (cg, parent, err) < 0 || (cg->be->init_child && cg->be->init_child (cg, err) < 0))
    {
      unmake_dirs (cg);
      islet_wrap (err, "create cgroup `%s`", cg->rel);
      islet_cg_free (cg);
      return -1;
    }
  *out = cg;
  return 0;
}

int
islet_cg_open_child (struct islet_cg *parent, const char *name, struct islet_cg **out,
                     struct islet_err *err)
{
  struct islet_cg *cg;

  if (check_name (name, err) < 0)
    return islet_wrap (err, "open a child of cgroup `%s`", parent->rel);
  cg = cg_new_child (parent, name);
  for (size_t i = 0; i < cg->n; i++)
    if (parent->dir[i].fd >= 0
        && open_dir (parent->dir[i].fd, strrchr (cg->dir[i].path, '/') + 1, &cg->dir[i], err) < 0)
      {
        islet_cg_free (cg);
        return -1;
      }
  *out = cg;
  return 0;
}

int
islet_cg_create_child_nomem (struct islet_cg *parent, const char *name, struct islet_cg **out,
                             struct islet_err *err)
{
  struct islet_cg *cg;

  if (parent->be->version != ISLET_CG_V1)
    return islet_cg_create_child (parent, name, out, err);
  if (check_name (name, err) < 0)
    return islet_wrap (err, "create a child of cgroup `%s`", parent->rel);
  cg = cg_new_child (parent, name);
  for (size_t i = 0; i < cg->n; i++)
    {
      struct cg_dir *d = &cg->dir[i];

      if (!(d->ctrls & CG_BIT (CG_MEMORY)) || parent->dir[i].fd < 0)
        continue;
      free (d->path);
      d->path = islet_xstrdup (parent->dir[i].path);
      d->parents = true;
      d->fd = fcntl (parent->dir[i].fd, F_DUPFD_CLOEXEC, 3);
      if (d->fd < 0)
        {
          islet_fail (err, ISLET_E_SYSTEM, errno, "dup the fd of `%s`", d->path);
          islet_cg_free (cg);
          return -1;
        }
    }
  /* v1's init_child is the memory group's socket accounting: the parent's
     already is on, bounded by its limit */
  if (make_dirs (cg, parent, err) < 0)
    {
      unmake_dirs (cg);
      islet_wrap (err, "create cgroup `%s`", cg->rel);
      islet_cg_free (cg);
      return -1;
    }
  *out = cg;
  return 0;
}

enum enter_part
{
  ENTER_ALL,
  ENTER_BUT_CPU,
  ENTER_CPU,
  ENTER_BUT_PIDS,
};

/* Whether hierarchy i is entered in this part: on v1 the one carrying cpu
   may go last, and the one carrying pids may be left out; v2's one
   hierarchy goes with the first part. */
static bool
enter_here (const struct islet_cg *cg, size_t i, enum enter_part part)
{
  bool v1 = cg->be->version == ISLET_CG_V1;
  bool cpu = v1 && (cg->dir[i].ctrls & CG_BIT (CG_CPU));

  if (part == ENTER_BUT_PIDS)
    return v1 && !(cg->dir[i].ctrls & CG_BIT (CG_PIDS));
  return part == ENTER_ALL || (part == ENTER_CPU) == cpu;
}

/* Runs in a freshly forked child: no allocation, only the fds we hold. */
static int
enter (const struct islet_cg *cg, pid_t pid, enum enter_part part, struct islet_err *err)
{
  char digits[16], buf[16];
  size_t n = 0, len = 0;
  unsigned long v = (unsigned long) pid;

  if (pid < 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "enter cgroup `%s`: bad pid %d", cg->rel,
                       (int) pid);
  do
    digits[n++] = (char) ('0' + v % 10);
  while ((v /= 10) != 0);
  while (n > 0)
    buf[len++] = digits[--n];
  buf[len] = '\0';
  for (size_t i = 0; i < cg->n; i++)
    {
      int fd, saved;
      ssize_t w;

      if (cg->dir[i].fd < 0 || !enter_here (cg, i, part))
        continue;
      fd = openat (cg->dir[i].fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
      if (fd < 0)
        return islet_fail (err, islet_errkind_from_errno (errno), errno,
                           "enter cgroup: open `%s/cgroup.procs`", cg->dir[i].path);
      w = write (fd, buf, len);
      saved = errno;
      close (fd);
      if (w != (ssize_t) len)
        return islet_fail (err, islet_errkind_from_errno (saved), w < 0 ? saved : EIO,
                           "enter cgroup: write %s to `%s/cgroup.procs`", buf, cg->dir[i].path);
    }
  return 0;
}

int
cg_stat_dir (const struct islet_cg *cg, enum cg_stat s)
{
  enum cg_ctrl ctrl = cg->be->stat_files[s].ctrl;

  return ctrl == CG_NCTRL ? cg->dir[0].fd : cg_ctrl_fd (cg, ctrl);
}

void
islet_cg_stats_open (struct islet_cg *cg)
{
  for (size_t s = 0; s < CG_NSTAT; s++)
    {
      int dir = cg_stat_dir (cg, s);

      if (cg->stat_fd[s] < 0 && dir >= 0)
        cg->stat_fd[s] = openat (dir, cg->be->stat_files[s].name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    }
}

int
islet_cg_enter (const struct islet_cg *cg, pid_t pid, struct islet_err *err)
{
  return enter (cg, pid, ENTER_ALL, err);
}

int
islet_cg_enter_but_cpu (const struct islet_cg *cg, pid_t pid, struct islet_err *err)
{
  return enter (cg, pid, ENTER_BUT_CPU, err);
}

int
islet_cg_enter_cpu (const struct islet_cg *cg, pid_t pid, struct islet_err *err)
{
  return enter (cg, pid, ENTER_CPU, err);
}

int
islet_cg_enter_but_pids (const struct islet_cg *cg, pid_t pid, struct islet_err *err)
{
  if (cg->be->version != ISLET_CG_V1)
    return islet_fail (err, ISLET_E_SYSTEM, ENOTSUP,
                       "enter cgroup `%s`: one hierarchy carries pids", cg->rel);
  return enter (cg, pid, ENTER_BUT_PIDS, err);
}

static uint64_t
since (uint64_t now, uint64_t base)
{
  return now > base ? now - base : 0;
}

int
islet_cg_read_stats (const struct islet_cg *cg, struct islet_cg_stats *out, struct islet_err *err)
{
  memset (out, 0, sizeof *out);
  if (cg->be->read_stats (cg, out, err) < 0)
    return islet_wrap (err, "read the stats of cgroup `%s`", cg->rel);
  out->cpu_ns = since (out->cpu_ns, cg->base.cpu_ns);
  out->memory_peak = since (out->memory_peak, cg->base.memory_peak);
  out->oom_kills = since (out->oom_kills, cg->base.oom_kills);
  return 0;
}

bool
islet_cg_keep_if_empty (struct islet_cg *cg)
{
  char buf[2];
  int mem = cg_ctrl_fd (cg, CG_MEMORY), fd;
  ssize_t n;

  if (cg->be->stats_restart == NULL || mem < 0)
    return false;
  /* one read: the group has no child, and its processes are in it in
     every hierarchy (none of them can move itself) */
  fd = openat (mem, "cgroup.procs", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  n = read (fd, buf, sizeof buf);
  close (fd);
  if (n != 0)
    return false;
  islet_cg_free (cg);
  return true;
}

int
islet_cg_stats_restart (struct islet_cg *cg, uint64_t max_left, struct islet_err *err)
{
  if (cg->be->stats_restart == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, ENOTSUP, "restart the stats of cgroup `%s`: not here",
                       cg->rel);
  if (cg->be->stats_restart (cg, max_left, err) < 0)
    return islet_wrap (err, "restart the stats of cgroup `%s`", cg->rel);
  return 0;
}

int
islet_cg_set_limits (const struct islet_cg *cg, const struct islet_cg_limits *limits,
                     struct islet_err *err)
{
  if (check_limits (limits, err) < 0 || check_ctrls (limits, cg_ctrls (cg), err) < 0
      || cg->be->set_limits (cg, limits, false, err) < 0)
    return islet_wrap (err, "set the limits of cgroup `%s`", cg->rel);
  return 0;
}

int
islet_cg_kill (const struct islet_cg *cg, struct islet_err *err)
{
  if (cg->be->kill (cg, err) < 0)
    return islet_wrap (err, "kill cgroup `%s`", cg->rel);
  return 0;
}

bool
islet_cg_is_empty (const struct islet_cg *cg)
{
  struct islet_err ignored;

  return cg->be->is_empty (cg, &ignored) == 1;
}

/* ---- removal ---- */

static bool
is_subdir (DIR *d, const struct dirent *de)
{
  struct stat st;

  if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
    return false;
  if (de->d_type != DT_UNKNOWN)
    return de->d_type == DT_DIR;
  return fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode);
}

/* rmdir fails with EBUSY while killed tasks are still on their way out. */
static int
rmdir_retry (int at, const char *name, uint64_t timeout_ns, struct islet_err *err)
{
  uint64_t deadline = islet_now_ns () + timeout_ns;
  unsigned step = 0;

  for (;;)
    {
      if (unlinkat (at, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
        return 0;
      if (errno != EBUSY || !cg_backoff (deadline, &step))
        return islet_fail (err, islet_errkind_from_errno (errno), errno, "rmdir `%s`", name);
    }
}

/* pre on the group at `start` and its descendants, parents first, with a
   readable fd; post on each descendant by parent fd and name, children
   first.  A group that vanishes meanwhile is skipped. */
static int
walk_at (int start, int depth, cg_visit_fn pre,
         int (*post) (int parent, const char *name, void *data, struct islet_err *err), void *data,
         struct islet_err *err)
{
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  struct stat st;
  int fd;

  if (depth > WALK_MAX_DEPTH)
    return islet_fail (err, ISLET_E_SYSTEM, ELOOP, "cgroup tree too deep");
  fd = openat (start, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && (errno == ENOENT || errno == ENODEV))
    return 0;
  if (fd < 0)
    return islet_fail (err, islet_errkind_from_errno (errno), errno, "open cgroup directory");
  if (fstat (fd, &st) == 0 && st.st_nlink == 2)
    {
      /* cgroupfs counts a directory's subdirectories in its links (2 + n):
         a leaf needs no listing (most groups, every exec's) */
      int rc = pre ? pre (fd, data, err) : 0;
      close (fd);
      return rc;
    }
  d = fdopendir (fd);
  if (d == NULL)
    {
      int e = errno;
      close (fd);
      return islet_fail (err, ISLET_E_SYSTEM, e, "open cgroup directory");
    }
  /* pre's openat calls do not move the directory stream. */
  if (pre && pre (dirfd (d), data, err) < 0)
    return -1;
  while ((de = readdir (d)) != NULL)
    {
      cleanup_close int sub = -1;

      if (!is_subdir (d, de))
        continue;
      sub = openat (dirfd (d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0 && errno == ENOENT)
        continue;
      if (sub < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", de->d_name);
      if (walk_at (sub, depth + 1, pre, post, data, err) < 0
          || (post && post (dirfd (d), de->d_name, data, err) < 0))
        return -1;
    }
  return 0;
}

static int
rmdir_child (int parent, const char *name, void *data, struct islet_err *err)
{
  return rmdir_retry (parent, name, *(uint64_t *) data, err);
}

bool
islet_cg_remove_if_empty (struct islet_cg *cg)
{
  bool all = true;

  for (size_t i = 0; i < cg->n; i++)
    {
      if (cg->dir[i].fd < 0)
        continue;
      /* cgroupfs refuses (EBUSY) to remove a group with a process or a
         child group in it */
      if (unlinkat (AT_FDCWD, cg->dir[i].path, AT_REMOVEDIR) < 0 && errno != ENOENT)
        {
          all = false;
          continue;
        }
      close (cg->dir[i].fd);
      cg->dir[i].fd = -1;
    }
  if (all)
    islet_cg_free (cg);
  return all;
}

int
islet_cg_destroy (struct islet_cg *cg, struct islet_err *err)
{
  struct islet_err later = { 0 };
  uint64_t timeout = CG_RMDIR_TIMEOUT_NS;
  int ret = 0;

  if (cg == NULL)
    return 0;
  /* Try to remove every group even after a failure; report the first.  If
     the kill failed, waiting for the groups to empty is pointless. */
  if (cg->be->kill (cg, err) < 0)
    {
      ret = islet_wrap (err, "remove cgroup `%s`", cg->rel);
      timeout = 0;
    }
  for (size_t i = 0; i < cg->n; i++)
    {
      struct islet_err *e = ret < 0 ? &later : err;

      if (cg->dir[i].fd < 0 || cg->dir[i].parents)
        continue;
      /* Children first; in cgroupfs a group's files go with its rmdir. */
      if (walk_at (cg->dir[i].fd, 0, NULL, rmdir_child, &timeout, e) < 0
          || rmdir_retry (AT_FDCWD, cg->dir[i].path, timeout, e) < 0)
        {
          if (ret == 0)
            ret = islet_wrap (err, "remove cgroup `%s`", cg->rel);
        }
    }
  islet_cg_free (cg);
  return ret;
}

/* ---- helpers for the backends ---- */

bool
cg_backoff (uint64_t deadline, unsigned *step)
{
  unsigned us = 100u << (*step < 7 ? *step : 7); /* 0.1 ms up to 12.8 ms */
  struct timespec ts = { 0, (long) us * 1000 };

  if (islet_now_ns () >= deadline)
    return false;
  (*step)++;
  nanosleep (&ts, NULL);
  return true;
}

int
cg_write_u64 (int dirfd, const char *file, uint64_t value, struct islet_err *err)
{
  char buf[24];

  snprintf (buf, sizeof buf, "%" PRIu64, value);
  return islet_write_file_at (dirfd, file, buf, err);
}

/* A control file's text, parsed as one number (key NULL) or as the value
   of key. */
static int
parse_text (const char *text, const char *file, const char *key, uint64_t *out,
            struct islet_err *err)
{
  if ((key ? cg_parse_keyed (text, key, out, err) : cg_parse_u64 (text, out, err)) < 0)
    return islet_wrap (err, "`%s`", file);
  return 0;
}

static int
read_parsed (int dirfd, const char *file, const char *key, uint64_t *out, struct islet_err *err)
{
  cleanup_free char *text = NULL;

  if (islet_read_file_at (dirfd, file, key ? KEYED_MAX : 4096, &text, NULL, err) < 0)
    return -1;
  return parse_text (text, file, key, out, err);
}

int
cg_read_u64 (int dirfd, const char *file, uint64_t *out, struct islet_err *err)
{
  return read_parsed (dirfd, file, NULL, out, err);
}

int
cg_read_keyed (int dirfd, const char *file, const char *key, uint64_t *out, struct islet_err *err)
{
  return read_parsed (dirfd, file, key, out, err);
}

/* From the fd opened ahead: a pread at 0 has the kernel make the file's
   text anew.  A text that does not fit, or a failed read, is read again
   by name. */
static int
stat_parsed (const struct islet_cg *cg, enum cg_stat s, const char *key, uint64_t *out,
             struct islet_err *err)
{
  const char *file = cg->be->stat_files[s].name;

  if (cg->stat_fd[s] >= 0)
    {
      char text[4096];
      ssize_t n = pread (cg->stat_fd[s], text, sizeof text - 1, 0);

      if (n >= 0 && (size_t) n < sizeof text - 1)
        {
          text[n] = '\0';
          return parse_text (text, file, key, out, err);
        }
    }
  return read_parsed (cg_stat_dir (cg, s), file, key, out, err);
}

int
cg_stat_u64 (const struct islet_cg *cg, enum cg_stat s, uint64_t *out, struct islet_err *err)
{
  return stat_parsed (cg, s, NULL, out, err);
}

int
cg_stat_keyed (const struct islet_cg *cg, enum cg_stat s, const char *key, uint64_t *out,
               struct islet_err *err)
{
  return stat_parsed (cg, s, key, out, err);
}

int
cg_walk (int group, cg_visit_fn fn, void *data, struct islet_err *err)
{
  return walk_at (group, 0, fn, NULL, data, err);
}

/* ---- parsers ---- */

/* The len bytes at v as one unsigned decimal number. */
static int
parse_value (const char *v, size_t len, uint64_t *out, struct islet_err *err)
{
  char buf[32];

  if (len == 0 || len >= sizeof buf)
    return islet_fail (err, ISLET_E_INVALID, 0, "`%.*s` is not a number",
                       (int) (len < 32 ? len : 32), v);
  memcpy (buf, v, len);
  buf[len] = '\0';
  return islet_parse_u64 (buf, UINT64_MAX, out, err);
}

int
cg_parse_u64 (const char *text, uint64_t *out, struct islet_err *err)
{
  size_t len = strlen (text);

  return parse_value (text, len > 0 && text[len - 1] == '\n' ? len - 1 : len, out, err);
}

int
cg_parse_keyed (const char *text, const char *key, uint64_t *out, struct islet_err *err)
{
  size_t klen = strlen (key);

  if (klen == 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "empty key");
  for (const char *p = text; *p;)
    {
      const char *eol = strchrnul (p, '\n');

      if ((size_t) (eol - p) > klen && memcmp (p, key, klen) == 0 && p[klen] == ' ')
        {
          if (parse_value (p + klen + 1, (size_t) (eol - p - klen - 1), out, err) < 0)
            return islet_wrap (err, "bad value for `%s`", key);
          return 0;
        }
      p = *eol ? eol + 1 : eol;
    }
  return islet_fail (err, ISLET_E_NOTFOUND, 0, "no `%s` key", key);
}
