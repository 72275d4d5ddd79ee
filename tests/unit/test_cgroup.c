// wrap: openat openat64 mkdirat unlinkat write
/* The cgroup module: its parsers on odd input; both backends against a fake
 * tree under /tmp, with a small stand-in for the kernel in the wrappers below
 * (control files appear on mkdir and go with rmdir, a write replaces a
 * value); fault injection, where the Nth call fails and nothing may be left
 * behind; and the real thing on this host's cgroups, as root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "islet/cgroup.h"
#include "islet/util.h"

/* ---- the fake kernel ---- */

static struct
{
  bool on; /* emulate cgroupfs below root */
  char root[PATH_MAX];
  bool memsw;        /* v1: swap accounting on */
  bool tcpmem;       /* v1: memory.kmem.tcp.limit_in_bytes exists */
  long calls;        /* openat, mkdirat and write calls while on */
  long fail_at;      /* make call number fail_at fail (0: none) */
  char log[64][160]; /* "path=value" of each write, path below root */
  size_t nlog;
} fake;

int __real_openat (int dirfd, const char *path, int flags, ...);
int __real_openat64 (int dirfd, const char *path, int flags, ...);
int __real_mkdirat (int dirfd, const char *path, mode_t mode);
int __real_unlinkat (int dirfd, const char *path, int flags);
ssize_t __real_write (int fd, const void *buf, size_t len);

static bool
inject (void)
{
  bool fail = fake.on && ++fake.calls == fake.fail_at;

  if (fail)
    errno = EIO;
  return fail;
}

/* The path of fd relative to the fake root, or NULL if outside it. */
static const char *
fake_rel (int fd, char *buf, size_t size)
{
  char link[64];
  size_t rootlen = strlen (fake.root);
  ssize_t n;

  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, buf, size - 1);
  if (n < 0)
    return NULL;
  buf[n] = '\0';
  if (strncmp (buf, fake.root, rootlen) != 0 || (buf[rootlen] != '/' && buf[rootlen] != '\0'))
    return NULL;
  return buf[rootlen] ? buf + rootlen + 1 : buf + rootlen;
}

static void
put_at (int dirfd, const char *name, const char *text)
{
  int fd = __real_openat (dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  assert_true (fd >= 0);
  assert_int_equal (__real_write (fd, text, strlen (text)), (ssize_t) strlen (text));
  close (fd);
}

/* What the kernel shows in a new group, per controller. */
static void
populate (int dirfd, const char *rel)
{
  static const struct
  {
    const char *ctrl, *file, *text;
  } files[] = {
    { "memory", "memory.limit_in_bytes", "9223372036854771712\n" },
    { "memory", "memory.max_usage_in_bytes", "0\n" },
    { "memory", "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n" },
    { "cpu", "cpu.cfs_period_us", "100000\n" },
    { "cpu", "cpu.cfs_quota_us", "-1\n" },
    { "cpuacct", "cpuacct.usage", "0\n" },
    { "pids", "pids.max", "max\n" },
    { "freezer", "freezer.state", "THAWED\n" },
    { "v2", "cgroup.subtree_control", "" },
    { "v2", "cgroup.events", "populated 0\nfrozen 0\n" },
    { "v2", "memory.max", "max\n" },
    { "v2", "memory.swap.max", "max\n" },
    { "v2", "memory.peak", "0\n" },
    { "v2", "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n" },
    { "v2", "cpu.max", "max 100000\n" },
    { "v2", "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n" },
    { "v2", "pids.max", "max\n" },
  };
  char opts[80];
  bool v2 = strncmp (rel, "islet", 5) == 0;

  /* v1: the first component names the hierarchy ("cpu,cpuacct"). */
  snprintf (opts, sizeof opts, ",%.*s,", (int) strcspn (rel, "/"), rel);
  put_at (dirfd, "cgroup.procs", "");
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    {
      char needle[40];

      snprintf (needle, sizeof needle, ",%s,", files[i].ctrl);
      if (v2 ? strcmp (files[i].ctrl, "v2") == 0 : strstr (opts, needle) != NULL)
        put_at (dirfd, files[i].file, files[i].text);
    }
  if (!v2 && strstr (opts, ",memory,") && fake.memsw)
    put_at (dirfd, "memory.memsw.limit_in_bytes", "9223372036854771712\n");
  if (!v2 && strstr (opts, ",memory,") && fake.tcpmem)
    put_at (dirfd, "memory.kmem.tcp.limit_in_bytes", "9223372036854771712\n");
}

int
__wrap_mkdirat (int dirfd, const char *path, mode_t mode)
{
  char buf[PATH_MAX];
  const char *rel;
  int fd;

  if (inject ())
    return -1;
  if (__real_mkdirat (dirfd, path, mode) < 0)
    return -1;
  if (!fake.on)
    return 0;
  fd = __real_openat (dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (fd >= 0);
  rel = fake_rel (fd, buf, sizeof buf);
  if (rel)
    populate (fd, rel);
  close (fd);
  return 0;
}

static int
fake_openat (int (*real) (int, const char *, int, ...), int dirfd, const char *path, int flags,
             va_list ap)
{
  mode_t mode = 0;

  if (flags & (O_CREAT | __O_TMPFILE))
    mode = (mode_t) va_arg (ap, int);
  if (inject ())
    return -1;
  /* A write to a control file replaces its value (subtree_control is
     handled in __wrap_write). */
  if (fake.on && (flags & O_ACCMODE) == O_WRONLY && !strstr (path, "subtree_control"))
    flags |= O_TRUNC;
  return real (dirfd, path, flags, mode);
}

/* With _FILE_OFFSET_BITS=64 (the project's default), glibc's headers turn
   openat into openat64: both are wrapped. */
#define WRAP_OPENAT(name)                                                                          \
  int __wrap_##name (int dirfd, const char *path, int flags, ...)                                  \
  {                                                                                                \
    va_list ap;                                                                                    \
    int r;                                                                                         \
    va_start (ap, flags);                                                                          \
    r = fake_openat (__real_##name, dirfd, path, flags, ap);                                       \
    va_end (ap);                                                                                   \
    return r;                                                                                      \
  }
WRAP_OPENAT (openat)
WRAP_OPENAT (openat64)

/* Whether the fake group at dir holds a process or a child group, which
   cgroupfs refuses to remove (EBUSY). */
static bool
fake_busy (DIR *d)
{
  struct dirent *de;
  bool busy = false;

  while (!busy && (de = readdir (d)) != NULL)
    busy = de->d_type == DT_DIR && strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0;
  rewinddir (d);
  if (!busy)
    {
      /* a listed pid; the fake's enter writes "0", the caller, no listing */
      int fd = __real_openat (dirfd (d), "cgroup.procs", O_RDONLY | O_CLOEXEC);
      char c = '\0';

      busy = fd >= 0 && read (fd, &c, 1) == 1 && c >= '1' && c <= '9';
      if (fd >= 0)
        close (fd);
    }
  return busy;
}

/* cgroupfs removes a group with its files (islet removes children first). */
int
__wrap_unlinkat (int at, const char *path, int flags)
{
  char buf[PATH_MAX];
  int fd = fake.on && (flags & AT_REMOVEDIR) ? __real_openat (at, path, O_RDONLY | O_DIRECTORY)
                                             : -1;
  DIR *d = fd >= 0 && fake_rel (fd, buf, sizeof buf) ? fdopendir (fd) : NULL;
  struct dirent *de;

  if (d && fake_busy (d))
    {
      closedir (d);
      errno = EBUSY;
      return -1;
    }
  while (d && (de = readdir (d)) != NULL)
    if (de->d_type == DT_REG)
      __real_unlinkat (dirfd (d), de->d_name, 0);
  if (d)
    closedir (d);
  else if (fd >= 0)
    close (fd);
  return __real_unlinkat (at, path, flags);
}

/* The kernel's list after "+a +b": what was there and what was added, in
   its own order. */
static void
apply_subtree (int fd, const char *path, const char *req, size_t len)
{
  static const char *const order[] = { "cpuset", "cpu", "io", "memory", "hugetlb", "pids" };
  char old[256] = " ", add[256], out[256] = "", w[2][40];
  int rfd = __real_openat (AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  ssize_t n = rfd < 0 ? 0 : read (rfd, old + 1, sizeof old - 3);

  if (rfd >= 0)
    close (rfd);
  strcpy (old + 1 + (n > 0 ? n : 0), " ");
  for (char *c = old; *c; c++)
    *c = *c == '\n' ? ' ' : *c;
  snprintf (add, sizeof add, " %.*s ", (int) len, req);
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
    {
      snprintf (w[0], sizeof w[0], " %s ", order[i]);
      snprintf (w[1], sizeof w[1], " +%s ", order[i]);
      if (strstr (old, w[0]) || strstr (add, w[1]))
        snprintf (out + strlen (out), sizeof out - strlen (out), "%s%s", *out ? " " : "", order[i]);
    }
  assert_int_equal (ftruncate (fd, 0), 0);
  assert_int_equal (pwrite (fd, out, strlen (out), 0), (ssize_t) strlen (out));
}

ssize_t
__wrap_write (int fd, const void *buf, size_t len)
{
  char path[PATH_MAX];
  const char *rel;

  if (inject ())
    return -1;
  if (!fake.on || (rel = fake_rel (fd, path, sizeof path)) == NULL)
    return __real_write (fd, buf, len);
  if (fake.nlog < sizeof fake.log / sizeof fake.log[0])
    snprintf (fake.log[fake.nlog++], sizeof fake.log[0], "%s=%.*s", rel, (int) len,
              (const char *) buf);
  if (strcmp (strrchr (rel, '/') ? strrchr (rel, '/') + 1 : rel, "cgroup.subtree_control") == 0)
    {
      apply_subtree (fd, path, buf, len);
      return (ssize_t) len;
    }
  return __real_write (fd, buf, len);
}

/* ---- fake tree helpers ---- */

enum
{
  F_COMOUNT = 1, /* v1: cpu and cpuacct share one hierarchy */
  F_MEMSW = 2,   /* v1: swap accounting on */
  F_NO_PIDS = 4, /* v1: no pids hierarchy */
  F_TCPMEM = 8,  /* v1: socket buffers can be charged */
};

static void
fake_setup (enum islet_cg_version v, int flags, const char *controllers, const char *subtree)
{
  char tmpl[] = "/tmp/islet-cg-XXXXXX";

  memset (&fake, 0, sizeof fake);
  assert_non_null (mkdtemp (tmpl));
  assert_non_null (realpath (tmpl, fake.root));
  fake.memsw = flags & F_MEMSW;
  fake.tcpmem = flags & F_TCPMEM;
  if (v == ISLET_CG_V2)
    {
      int fd = __real_openat (AT_FDCWD, fake.root, O_RDONLY | O_DIRECTORY);
      put_at (fd, "cgroup.controllers", controllers);
      put_at (fd, "cgroup.subtree_control", subtree);
      put_at (fd, "cgroup.procs", "");
      close (fd);
    }
  else
    {
      static const char *const dirs[] = { "cpu,cpuacct", "memory", "freezer",
                                          "pids",        "cpu",    "cpuacct" };
      char p[PATH_MAX + 32];

      /* cpu,cpuacct with links cpu and cpuacct is how many distros mount it. */
      for (size_t i = (flags & F_COMOUNT) ? 0 : 1; i < 6; i++)
        {
          snprintf (p, sizeof p, "%s/%s", fake.root, dirs[i]);
          if (i == 3 && (flags & F_NO_PIDS))
            continue;
          if (i >= 4 && (flags & F_COMOUNT))
            assert_int_equal (symlink (dirs[0], p), 0);
          else
            assert_int_equal (__real_mkdirat (AT_FDCWD, p, 0755), 0);
        }
    }
  islet_cg_set_root (fake.root, v);
  fake.on = true;
}

static int
fake_teardown (void **state)
{
  struct islet_err e;

  fake.on = false;
  islet_cg_set_root (NULL, ISLET_CG_NONE);
  if (fake.root[0])
    assert_int_equal (islet_rm_rf (fake.root, &e), 0);
  fake.root[0] = '\0';
  return 0;
}

static const char *
get (const char *rel)
{
  static char buf[4096];
  char path[PATH_MAX + 256];
  FILE *f;
  size_t n;

  snprintf (path, sizeof path, "%s/%s", fake.root, rel);
  f = fopen (path, "re");
  if (f == NULL)
    return NULL;
  n = fread (buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose (f);
  return buf;
}

static void
put (const char *rel, const char *text)
{
  int fd = __real_openat (AT_FDCWD, fake.root, O_RDONLY | O_DIRECTORY);
  put_at (fd, rel, text);
  close (fd);
}

/* Clean: no group below any islet/ (islet/ itself may stay). */
static bool
tree_clean_at (const char *dir, bool below_islet)
{
  DIR *d = opendir (dir);
  struct dirent *de;
  bool clean = true;

  if (d == NULL)
    return true;
  while (clean && (de = readdir (d)) != NULL)
    {
      char sub[PATH_MAX + 256];

      if (de->d_type != DT_DIR || strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (below_islet)
        clean = false;
      snprintf (sub, sizeof sub, "%s/%s", dir, de->d_name);
      clean = clean && tree_clean_at (sub, strcmp (de->d_name, "islet") == 0);
    }
  closedir (d);
  return clean;
}

static void
assert_log (const char *const *want, size_t n)
{
  for (size_t i = 0; i < n && i < fake.nlog; i++)
    assert_string_equal (fake.log[i], want[i]);
  assert_int_equal (fake.nlog, n);
  fake.nlog = 0;
}

#define ASSERT_LOG(...)                                                                            \
  do                                                                                               \
    {                                                                                              \
      const char *const want_[] = { __VA_ARGS__ };                                                 \
      assert_log (want_, sizeof want_ / sizeof want_[0]);                                          \
    }                                                                                              \
  while (0)

static const struct islet_cg_limits limits = { 64u << 20, 500, 16 };

/* ---- parsers ---- */

static void
test_parse_u64 (void **state)
{
  struct islet_err e;
  uint64_t v = 0;
  const char *bad[] = { "",
                        "\n",
                        "-1",
                        "12a",
                        " 5",
                        "5\n\n",
                        "18446744073709551616",
                        "max",
                        "0x10",
                        "1234567890123456789012345678901234567890" };

  assert_int_equal (cg_parse_u64 ("123\n", &v, &e), 0);
  assert_int_equal (v, 123);
  assert_int_equal (cg_parse_u64 ("18446744073709551615", &v, &e), 0);
  assert_true (v == UINT64_MAX);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      assert_int_equal (cg_parse_u64 (bad[i], &v, &e), -1);
      assert_int_equal (e.kind, ISLET_E_INVALID);
    }
}

static void
test_parse_keyed (void **state)
{
  static const struct
  {
    const char *text, *key;
    enum islet_errkind kind; /* ISLET_E_OK: found, value 7 */
  } cases[] = {
    /* memory.oom_control: oom_kill must not match oom_kill_disable */
    { "oom_kill_disable 1\nunder_oom 0\noom_kill 7\n", "oom_kill", ISLET_E_OK },
    { "oom_kill_disable 0\nunder_oom 0\n", "oom_kill", ISLET_E_NOTFOUND }, /* before 4.13 */
    { "oom_kill 7", "oom_kill", ISLET_E_OK },                              /* no newline */
    { "oom_kill 7\noom_kill 9\n", "oom_kill", ISLET_E_OK },                /* first wins */
    { "oom_kill \n", "oom_kill", ISLET_E_INVALID },
    { "oom_kill", "oom_kill", ISLET_E_NOTFOUND },
    { "oom_kill abc\n", "oom_kill", ISLET_E_INVALID },
    { "oom_kill -3\n", "oom_kill", ISLET_E_INVALID },
    { "oom_kill 7 8\n", "oom_kill", ISLET_E_INVALID },
    { "oom_kill 7\r\n", "oom_kill", ISLET_E_INVALID },
    { "oom_kill 99999999999999999999\n", "oom_kill", ISLET_E_INVALID },
    { "oom_kill 1234567890123456789012345678901234567890\n", "oom_kill", ISLET_E_INVALID },
    { "xoom_kill 7\n", "oom_kill", ISLET_E_NOTFOUND },
    { "oom_kill\t7\n", "oom_kill", ISLET_E_NOTFOUND },
    { "", "oom_kill", ISLET_E_NOTFOUND },
    { "\n\n\n", "oom_kill", ISLET_E_NOTFOUND },
    { "oom_kill 7\n", "", ISLET_E_INVALID },
    /* cpu.stat */
    { "usage_usec 7\nuser_usec 5\nsystem_usec 2\nnr_periods 0\n", "usage_usec", ISLET_E_OK },
    { "user_usec 5\nsystem_usec 2\n", "usage_usec", ISLET_E_NOTFOUND },
    { "usage_usec max\n", "usage_usec", ISLET_E_INVALID },
    /* memory.events: "oom" is not "oom_kill" and the other way round */
    { "low 0\nhigh 0\nmax 5\noom 7\noom_kill 1\noom_group_kill 0\n", "oom", ISLET_E_OK },
    { "low 0\nhigh 0\nmax 5\noom 2\noom_kill 7\noom_group_kill 0\n", "oom_kill", ISLET_E_OK },
    { "low 0\noom_group_kill 3\n", "oom_kill", ISLET_E_NOTFOUND },
  };

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      struct islet_err e = { 0 };
      uint64_t v = 0;
      int r = cg_parse_keyed (cases[i].text, cases[i].key, &v, &e);

      if (cases[i].kind == ISLET_E_OK)
        {
          assert_int_equal (r, 0);
          assert_int_equal (v, 7);
          continue;
        }
      assert_int_equal (r, -1);
      assert_int_equal (e.kind, cases[i].kind);
      assert_non_null (strstr (e.msg, cases[i].key));
    }
}

static void
test_parse_ctrls (void **state)
{
  char buf[64];
  unsigned all = CG_BIT (CG_MEMORY) | CG_BIT (CG_CPU) | CG_BIT (CG_PIDS);

  assert_int_equal (cg_parse_ctrls ("cpuset cpu io memory hugetlb pids rdma misc\n"), all);
  assert_int_equal (cg_parse_ctrls ("cpuset io\n"), 0);
  assert_int_equal (cg_parse_ctrls (""), 0);
  assert_int_equal (cg_parse_ctrls ("  pids\t\tcpu  "), CG_BIT (CG_PIDS) | CG_BIT (CG_CPU));
  assert_int_equal (cg_parse_ctrls ("+memory memoryx"), 0);
  cg_format_ctrls (all, buf, sizeof buf);
  assert_string_equal (buf, "+memory +cpu +pids");
  cg_format_ctrls (CG_BIT (CG_PIDS), buf, sizeof buf);
  assert_string_equal (buf, "+pids");
  cg_format_ctrls (0, buf, sizeof buf);
  assert_string_equal (buf, "");
}

/* ---- v2 on a fake tree ---- */

static void
test_v2_fake (void **state)
{
  struct islet_cg *cg = NULL, *child = NULL, *cg2 = NULL, *again = NULL;
  struct islet_cg_limits none = { 0, 0, 0 };
  struct islet_cg_stats st;
  struct islet_err e;

  fake_setup (ISLET_CG_V2, 0, "cpuset cpu io memory pids\n", "cpu\n");
  assert_int_equal (islet_cg_detect (), ISLET_CG_V2);
  assert_int_equal (islet_cg_create ("t1", &limits, &cg, &e), 0);
  /* Only what the root does not hand down yet is enabled there. */
  ASSERT_LOG (
      "cgroup.subtree_control=+memory +pids", "islet/cgroup.subtree_control=+memory +cpu +pids",
      "islet/t1/cgroup.subtree_control=+memory +cpu +pids", "islet/t1/memory.max=67108864",
      "islet/t1/memory.swap.max=0", "islet/t1/cpu.max=50000 100000", "islet/t1/pids.max=16");
  assert_string_equal (get ("cgroup.subtree_control"), "cpu memory pids");

  /* islet/ is ready now: the next sandbox costs one read of it. */
  assert_int_equal (islet_cg_create ("t2", &none, &cg2, &e), 0);
  ASSERT_LOG ("islet/t2/cgroup.subtree_control=+memory +cpu +pids");

  assert_int_equal (islet_cg_create ("t1", &limits, &again, &e), -1);
  assert_int_equal (e.kind, ISLET_E_CONFLICT);
  assert_int_equal (e.errnum, EEXIST);
  assert_string_equal (get ("islet/t1/memory.max"), "67108864");

  assert_int_equal (islet_cg_create_child (cg, "x1", &child, &e), 0);
  assert_non_null (get ("islet/t1/x1/cgroup.procs"));
  assert_int_equal (islet_cg_enter (child, 0, &e), 0);
  ASSERT_LOG ("islet/t1/x1/cgroup.procs=0");
  /* one hierarchy: the init's first part enters it whole, its second
     (the CPU weight, after its ids are mapped) has nothing left to do */
  assert_int_equal (islet_cg_enter_but_cpu (child, 0, &e), 0);
  ASSERT_LOG ("islet/t1/x1/cgroup.procs=0");
  assert_int_equal (islet_cg_enter_cpu (child, 0, &e), 0);
  assert_int_equal (fake.nlog, 0);
  /* v2's peak resets for one open file only: its groups are not reused */
  assert_false (islet_cg_keep_if_empty (child));
  assert_int_equal (islet_cg_stats_restart (child, 1 << 20, &e), -1);
  assert_int_equal (e.errnum, ENOTSUP);
  /* pids cannot be left out of v2's one hierarchy: nothing is moved */
  assert_int_equal (islet_cg_enter_but_pids (child, 0, &e), -1);
  assert_int_equal (e.errnum, ENOTSUP);
  assert_int_equal (fake.nlog, 0);

  /* read from the files opened ahead, each read made anew */
  islet_cg_stats_open (child);
  put ("islet/t1/x1/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  put ("islet/t1/x1/memory.peak", "4096\n");
  put ("islet/t1/x1/memory.events", "low 0\nhigh 0\nmax 9\noom 3\noom_kill 2\n");
  assert_int_equal (islet_cg_read_stats (child, &st, &e), 0);
  assert_int_equal (st.cpu_ns, 1500000);
  assert_int_equal (st.memory_peak, 4096);
  assert_int_equal (st.oom_kills, 2);
  put ("islet/t1/x1/cpu.stat", "user_usec 1000\n");
  assert_int_equal (islet_cg_read_stats (child, &st, &e), -1);
  assert_int_equal (e.kind, ISLET_E_NOTFOUND);
  assert_non_null (strstr (e.msg, "cpu.stat"));

  assert_int_equal (islet_cg_set_limits (cg, &none, &e), 0);
  ASSERT_LOG ("islet/t1/memory.max=max", "islet/t1/memory.swap.max=max",
              "islet/t1/cpu.max=max 100000", "islet/t1/pids.max=max");

  assert_true (islet_cg_is_empty (cg));
  put ("islet/t1/cgroup.events", "populated 1\nfrozen 0\n");
  assert_false (islet_cg_is_empty (cg));
  put ("islet/t1/cgroup.events", "populated 0\nfrozen 0\n");

  islet_cg_free (child);
  assert_int_equal (islet_cg_destroy (cg, &e), 0);
  assert_null (get ("islet/t1"));
  assert_int_equal (islet_cg_open ("t1", &cg, &e), -1);
  assert_int_equal (e.kind, ISLET_E_NOTFOUND);
  assert_int_equal (islet_cg_open ("t2", &again, &e), 0);
  islet_cg_free (cg2);
  assert_int_equal (islet_cg_destroy (again, &e), 0);
  assert_true (tree_clean_at (fake.root, false));
}

/* A root without the cpu controller: a cpu limit is refused up front. */
static void
test_v2_no_cpu (void **state)
{
  struct islet_cg_limits nocpu = { 1u << 20, 0, 8 };
  struct islet_cg *cg = NULL;
  struct islet_err e;

  fake_setup (ISLET_CG_V2, 0, "memory pids\n", "");
  assert_int_equal (islet_cg_create ("t1", &limits, &cg, &e), -1);
  assert_int_equal (e.errnum, EOPNOTSUPP);
  assert_non_null (strstr (e.msg, "cpu controller"));
  assert_null (get ("islet/t1"));
  assert_int_equal (islet_cg_create ("t1", &nocpu, &cg, &e), 0);
  assert_string_equal (get ("islet/t1/cgroup.subtree_control"), "memory pids");
  assert_int_equal (islet_cg_destroy (cg, &e), 0);
}

/* ---- v1 on a fake tree ---- */

static void
test_v1_fake (void **state)
{
  struct islet_cg_limits lower = { 32u << 20, 500, 16 }, higher = { 128u << 20, 2000, 0 };
  struct islet_cg *cg = NULL, *child = NULL, *grand = NULL, *again = NULL;
  struct islet_cg_stats st;
  struct islet_err e;

  fake_setup (ISLET_CG_V1, F_COMOUNT | F_MEMSW, NULL, NULL);
  assert_int_equal (islet_cg_detect (), ISLET_CG_V1);
  assert_int_equal (islet_cg_create ("t1", &limits, &cg, &e), 0);
  ASSERT_LOG ("memory/islet/t1/memory.limit_in_bytes=67108864",
              "memory/islet/t1/memory.memsw.limit_in_bytes=67108864",
              "cpu,cpuacct/islet/t1/cpu.cfs_period_us=100000",
              "cpu,cpuacct/islet/t1/cpu.cfs_quota_us=50000", "pids/islet/t1/pids.max=16");
  assert_non_null (get ("freezer/islet/t1/freezer.state"));
  assert_non_null (get ("cpu,cpuacct/islet/t1/cpuacct.usage"));

  /* memory <= memory+swap at every step: lower the limit first ... */
  assert_int_equal (islet_cg_set_limits (cg, &lower, &e), 0);
  ASSERT_LOG ("memory/islet/t1/memory.limit_in_bytes=33554432",
              "memory/islet/t1/memory.memsw.limit_in_bytes=33554432",
              "cpu,cpuacct/islet/t1/cpu.cfs_period_us=100000",
              "cpu,cpuacct/islet/t1/cpu.cfs_quota_us=50000", "pids/islet/t1/pids.max=16");
  /* ... and raise memsw first. */
  assert_int_equal (islet_cg_set_limits (cg, &higher, &e), 0);
  ASSERT_LOG ("memory/islet/t1/memory.memsw.limit_in_bytes=134217728",
              "memory/islet/t1/memory.limit_in_bytes=134217728",
              "cpu,cpuacct/islet/t1/cpu.cfs_period_us=100000",
              "cpu,cpuacct/islet/t1/cpu.cfs_quota_us=200000", "pids/islet/t1/pids.max=max");

  assert_int_equal (islet_cg_create_child (cg, "x1", &child, &e), 0);
  fake.nlog = 0;
  assert_int_equal (islet_cg_enter (child, 0, &e), 0);
  ASSERT_LOG ("memory/islet/t1/x1/cgroup.procs=0", "cpu,cpuacct/islet/t1/x1/cgroup.procs=0",
              "pids/islet/t1/x1/cgroup.procs=0", "freezer/islet/t1/x1/cgroup.procs=0");
  /* the init's two parts: every hierarchy but cpu's, then cpu's alone */
  assert_int_equal (islet_cg_enter_but_cpu (child, 0, &e), 0);
  ASSERT_LOG ("memory/islet/t1/x1/cgroup.procs=0", "pids/islet/t1/x1/cgroup.procs=0",
              "freezer/islet/t1/x1/cgroup.procs=0");
  assert_int_equal (islet_cg_enter_cpu (child, 0, &e), 0);
  ASSERT_LOG ("cpu,cpuacct/islet/t1/x1/cgroup.procs=0");
  /* an exec's handler: every hierarchy but pids' */
  assert_int_equal (islet_cg_enter_but_pids (child, 0, &e), 0);
  ASSERT_LOG ("memory/islet/t1/x1/cgroup.procs=0", "cpu,cpuacct/islet/t1/x1/cgroup.procs=0",
              "freezer/islet/t1/x1/cgroup.procs=0");

  /* v1 counts an OOM kill in the victim's own group only: summed here. */
  put ("memory/islet/t1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  put ("memory/islet/t1/x1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  put ("memory/islet/t1/memory.max_usage_in_bytes", "12345\n");
  put ("cpu,cpuacct/islet/t1/cpuacct.usage", "987654321\n");
  assert_int_equal (islet_cg_read_stats (cg, &st, &e), 0);
  assert_int_equal (st.cpu_ns, 987654321);
  assert_int_equal (st.memory_peak, 12345);
  assert_int_equal (st.oom_kills, 3);
  put ("memory/islet/t1/x1/memory.oom_control", "oom_kill_disable 0\noom_kill x\n");
  assert_int_equal (islet_cg_read_stats (cg, &st, &e), -1);
  assert_int_equal (e.kind, ISLET_E_INVALID);

  assert_true (islet_cg_is_empty (cg));
  put ("pids/islet/t1/x1/cgroup.procs", "999999999\n");
  assert_false (islet_cg_is_empty (cg));
  put ("pids/islet/t1/x1/cgroup.procs", "");

  /* An exec's group: its files opened ahead and read anew each time; a
     leaf's own OOM kills are its sum, a child group's are added. */
  islet_cg_stats_open (child);
  put ("memory/islet/t1/x1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
  put ("memory/islet/t1/x1/memory.max_usage_in_bytes", "777\n");
  put ("cpu,cpuacct/islet/t1/x1/cpuacct.usage", "55\n");
  assert_int_equal (islet_cg_read_stats (child, &st, &e), 0);
  assert_true (st.cpu_ns == 55 && st.memory_peak == 777 && st.oom_kills == 4);
  put ("memory/islet/t1/x1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n");
  put ("memory/islet/t1/x1/memory.max_usage_in_bytes", "888\n");
  put ("cpu,cpuacct/islet/t1/x1/cpuacct.usage", "66\n");
  assert_int_equal (islet_cg_read_stats (child, &st, &e), 0);
  assert_true (st.cpu_ns == 66 && st.memory_peak == 888 && st.oom_kills == 5);
  assert_int_equal (islet_cg_create_child (child, "y", &grand, &e), 0);
  put ("memory/islet/t1/x1/y/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  assert_int_equal (islet_cg_read_stats (child, &st, &e), 0);
  assert_int_equal (st.oom_kills, 7);

  /* Removed only where it holds no child group and no process. */
  assert_false (islet_cg_remove_if_empty (child));
  assert_non_null (get ("memory/islet/t1/x1/y/cgroup.procs"));
  assert_int_equal (islet_cg_destroy (grand, &e), 0);

  /* kept for a later exec: its stats restart, the peak over what is still
     charged to it, which must be little */
  assert_int_equal (islet_cg_open_child (cg, "x1", &again, &e), 0);
  put ("memory/islet/t1/x1/cgroup.procs", "12\n");
  assert_false (islet_cg_keep_if_empty (again));
  put ("memory/islet/t1/x1/cgroup.procs", "");
  assert_true (islet_cg_keep_if_empty (again)); /* and freed */
  assert_int_equal (islet_cg_open_child (cg, "x1", &again, &e), 0);
  put ("memory/islet/t1/x1/memory.usage_in_bytes", "8192\n");
  assert_int_equal (islet_cg_stats_restart (again, 4096, &e), -1);
  assert_int_equal (e.kind, ISLET_E_LIMIT);
  fake.nlog = 0;
  assert_int_equal (islet_cg_stats_restart (again, 8192, &e), 0);
  ASSERT_LOG ("memory/islet/t1/x1/memory.max_usage_in_bytes=0");
  put ("memory/islet/t1/x1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 6\n");
  put ("memory/islet/t1/x1/memory.max_usage_in_bytes", "9000\n");
  put ("cpu,cpuacct/islet/t1/x1/cpuacct.usage", "100\n");
  assert_int_equal (islet_cg_read_stats (again, &st, &e), 0);
  assert_true (st.cpu_ns == 34 && st.memory_peak == 9000 && st.oom_kills == 1);
  islet_cg_free (again);

  put ("pids/islet/t1/x1/cgroup.procs", "12\n");
  assert_false (islet_cg_remove_if_empty (child));
  assert_null (get ("memory/islet/t1/x1/cgroup.procs"));
  assert_null (get ("freezer/islet/t1/x1/cgroup.procs"));
  assert_non_null (get ("pids/islet/t1/x1/cgroup.procs"));
  put ("pids/islet/t1/x1/cgroup.procs", "");
  assert_true (islet_cg_remove_if_empty (child));
  assert_null (get ("pids/islet/t1/x1/cgroup.procs"));

  assert_int_equal (islet_cg_destroy (cg, &e), 0);
  assert_true (tree_clean_at (fake.root, false));
}

/* v1 charges a group's socket buffers only once its TCP limit is written:
   the memory limit, set and changed with it; unlimited when memory is. */
static void
test_v1_socket_memory (void **state)
{
  struct islet_cg_limits lower = { 32u << 20, 500, 16 }, none = { 0, 500, 16 };
  struct islet_cg *cg = NULL, *child = NULL;
  struct islet_err e;

  fake_setup (ISLET_CG_V1, F_COMOUNT | F_TCPMEM, NULL, NULL);
  assert_int_equal (islet_cg_create ("t1", &limits, &cg, &e), 0);
  assert_string_equal (get ("memory/islet/t1/memory.kmem.tcp.limit_in_bytes"), "67108864");
  /* a socket is charged only where its maker's group has accounting on */
  assert_int_equal (islet_cg_create_child (cg, "x1", &child, &e), 0);
  assert_string_equal (get ("memory/islet/t1/x1/memory.kmem.tcp.limit_in_bytes"), "-1");
  islet_cg_free (child);
  assert_int_equal (islet_cg_set_limits (cg, &lower, &e), 0);
  assert_string_equal (get ("memory/islet/t1/memory.kmem.tcp.limit_in_bytes"), "33554432");
  assert_int_equal (islet_cg_set_limits (cg, &none, &e), 0);
  assert_string_equal (get ("memory/islet/t1/memory.kmem.tcp.limit_in_bytes"), "-1");
  assert_int_equal (islet_cg_destroy (cg, &e), 0);
  assert_true (tree_clean_at (fake.root, false));
}

/* A child for the init and the handlers' draining: on v1 no memory group
   of its own (each costs the kernel a slot per host superblock), its
   processes in the parent's; the parent's socket accounting untouched,
   its memory group never removed with the child. */
static void
test_v1_child_nomem (void **state)
{
  struct islet_cg *cg = NULL, *child = NULL, *v2 = NULL, *v2child = NULL;
  struct islet_err e;
  size_t n;

  fake_setup (ISLET_CG_V1, F_COMOUNT | F_TCPMEM, NULL, NULL);
  assert_int_equal (islet_cg_create ("t1", &limits, &cg, &e), 0);
  assert_int_equal (islet_cg_create_child_nomem (cg, "init", &child, &e), 0);
  assert_null (get ("memory/islet/t1/init/cgroup.procs"));
  assert_non_null (get ("pids/islet/t1/init/cgroup.procs"));
  assert_string_equal (get ("memory/islet/t1/memory.kmem.tcp.limit_in_bytes"), "67108864");
  fake.nlog = 0;
  assert_int_equal (islet_cg_enter (child, 0, &e), 0);
  ASSERT_LOG ("memory/islet/t1/cgroup.procs=0", "cpu,cpuacct/islet/t1/init/cgroup.procs=0",
              "pids/islet/t1/init/cgroup.procs=0", "freezer/islet/t1/init/cgroup.procs=0");
  /* the parent's processes are not the child's */
  put ("memory/islet/t1/cgroup.procs", "999999999\n");
  assert_int_equal (cg_count_procs (child, 0, &n, &e), 0);
  assert_int_equal (n, 0);
  put ("memory/islet/t1/cgroup.procs", "");
  assert_int_equal (islet_cg_destroy (child, &e), 0);
  assert_non_null (get ("memory/islet/t1/memory.limit_in_bytes"));
  assert_null (get ("pids/islet/t1/init/cgroup.procs"));
  assert_int_equal (islet_cg_destroy (cg, &e), 0);
  assert_true (tree_clean_at (fake.root, false));

  /* v2 keeps no process in an inner group: a plain child there */
  fake_teardown (state);
  fake_setup (ISLET_CG_V2, 0, "cpuset cpu io memory pids\n", "cpu\n");
  assert_int_equal (islet_cg_create ("t1", &limits, &v2, &e), 0);
  assert_int_equal (islet_cg_create_child_nomem (v2, "init", &v2child, &e), 0);
  assert_non_null (get ("islet/t1/init/cgroup.procs"));
  islet_cg_free (v2child);
  assert_int_equal (islet_cg_destroy (v2, &e), 0);
}

/* Separate cpu and cpuacct, no swap accounting, no pids hierarchy. */
static void
test_v1_sparse (void **state)
{
  struct islet_cg_limits nopids = { 64u << 20, 1000, 0 };
  struct islet_cg *cg = NULL;
  struct islet_cg_stats st;
  struct islet_err e;

  fake_setup (ISLET_CG_V1, F_NO_PIDS, NULL, NULL);
  assert_int_equal (islet_cg_create ("t1", &limits, &cg, &e), -1);
  assert_int_equal (e.errnum, EOPNOTSUPP);
  assert_non_null (strstr (e.msg, "pids controller"));
  assert_true (tree_clean_at (fake.root, false));
  assert_int_equal (fake.nlog, 0);

  assert_int_equal (islet_cg_create ("t1", &nopids, &cg, &e), 0);
  ASSERT_LOG ("memory/islet/t1/memory.limit_in_bytes=67108864",
              "cpu/islet/t1/cpu.cfs_period_us=100000", "cpu/islet/t1/cpu.cfs_quota_us=100000");
  put ("cpuacct/islet/t1/cpuacct.usage", "42\n");
  assert_int_equal (islet_cg_read_stats (cg, &st, &e), 0);
  assert_int_equal (st.cpu_ns, 42);
  assert_int_equal (islet_cg_destroy (cg, &e), 0);
  assert_true (tree_clean_at (fake.root, false));
}

static void
test_bad_input (void **state)
{
  const char *names[] = {
    "",     ".",    "..",
    "../x", "a/b",  ".hidden",
    "a b",  "a\nb", "0123456789012345678901234567890123456789012345678901234567890123456789"
  };
  struct islet_cg_limits tiny_cpu = { 0, 5, 0 };
  struct islet_cg *cg = NULL;
  struct islet_err e;

  fake_setup (ISLET_CG_V2, 0, "memory cpu pids\n", "");
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    {
      assert_int_equal (islet_cg_create (names[i], &limits, &cg, &e), -1);
      assert_int_equal (e.kind, ISLET_E_INVALID);
    }
  assert_int_equal (islet_cg_create ("t1", &tiny_cpu, &cg, &e), -1);
  assert_int_equal (e.kind, ISLET_E_INVALID);
  assert_int_equal (fake.calls, 0);
}

/* ---- fault injection ---- */

static void
fault_loop (enum islet_cg_version v, int flags)
{
  struct islet_cg *cg = NULL, *child = NULL;
  struct islet_err e;
  long n;

  fake_setup (v, flags, "memory cpu pids\n", "");
  for (n = 1; n < 500; n++)
    {
      fake.calls = 0;
      fake.fail_at = n;
      if (islet_cg_create ("f1", &limits, &cg, &e) == 0)
        break;
      assert_int_equal (e.kind, ISLET_E_SYSTEM);
      assert_int_equal (e.errnum, EIO);
      assert_ptr_equal (strstr (e.msg, "create cgroup `islet/f1`: "), e.msg);
      assert_non_null (strstr (e.msg, strerror (EIO)));
      assert_true (tree_clean_at (fake.root, false));
    }
  /* Every call was made to fail once, and the wrappers saw them all. */
  assert_true (fake.calls < n);
  assert_true (n > 8);
  for (n = 1; n < 500; n++)
    {
      fake.calls = 0;
      fake.fail_at = n;
      if (islet_cg_create_child (cg, "x1", &child, &e) == 0)
        break;
      assert_int_equal (e.errnum, EIO);
      assert_ptr_equal (strstr (e.msg, "create cgroup `islet/f1/x1`: "), e.msg);
      assert_null (get (v == ISLET_CG_V2 ? "islet/f1/x1" : "memory/islet/f1/x1"));
      assert_null (get (v == ISLET_CG_V2 ? "islet/f1/x1" : "freezer/islet/f1/x1"));
    }
  assert_true (n > 2);
  fake.fail_at = 0;
  islet_cg_free (child);
  assert_int_equal (islet_cg_destroy (cg, &e), 0);
  assert_true (tree_clean_at (fake.root, false));
}

static void
test_fault_v2 (void **state)
{
  fault_loop (ISLET_CG_V2, 0);
}

static void
test_fault_v1 (void **state)
{
  fault_loop (ISLET_CG_V1, F_COMOUNT | F_MEMSW);
}

/* ---- the real kernel ---- */

static char real_name[32];

/* A process of the tree says it is up: its pid, negated for the daemon. */
static void
tell (int fd, bool daemon)
{
  pid_t pid = daemon ? -getpid () : getpid ();
  (void) !write (fd, &pid, sizeof pid);
}

static void
park (void)
{
  alarm (20); /* nothing outlives a crashed test for long */
  for (;;)
    pause ();
}

static int
wait_for (pid_t pid, int *status, int ms)
{
  for (int i = 0; i < ms * 10; i++)
    {
      pid_t r = waitpid (pid, status, WNOHANG);
      if (r != 0)
        return r == pid ? 0 : -1;
      usleep (100);
    }
  kill (pid, SIGKILL);
  return -1;
}

/* As subreaper, the orphans of the test come back here to be reaped. */
static void
reap_all (void)
{
  for (int i = 0; i < 5000 && (waitpid (-1, NULL, WNOHANG) >= 0 || errno != ECHILD); i++)
    usleep (1000);
}

static void
child_oom (const struct islet_cg *cg)
{
  struct islet_err e;
  size_t size = 200u << 20;
  volatile char *p;

  if (islet_cg_enter (cg, 0, &e) < 0)
    _exit (2);
  p = malloc (size);
  for (size_t i = 0; p && i < size; i += 4096)
    p[i] = 1;
  _exit (0);
}

static void
child_forks (const struct islet_cg *cg, int out)
{
  struct islet_err e;
  int res[2] = { 0, 0 };

  if (islet_cg_enter (cg, 0, &e) < 0)
    _exit (2);
  for (int i = 0; i < 100; i++)
    {
      pid_t p = fork ();
      if (p == 0)
        park ();
      if (p < 0 && res[1] == 0)
        res[1] = errno;
      res[0] += p > 0;
    }
  (void) !write (out, res, sizeof res);
  _exit (0);
}

static void
child_tree (const struct islet_cg *cg, int out)
{
  struct islet_err e;

  if (islet_cg_enter (cg, 0, &e) < 0)
    _exit (2);
  for (int i = 0; i < 3; i++)
    if (fork () == 0)
      {
        tell (out, false);
        park ();
      }
  if (fork () == 0)
    {
      setsid ();
      if (fork () == 0)
        {
          tell (out, true);
          park ();
        }
      _exit (0);
    }
  tell (out, false);
  park ();
}

static void
assert_gone_everywhere (bool gone)
{
  const char *dirs[] = { "", "/memory", "/cpu", "/cpuacct", "/pids", "/freezer" };
  int seen = 0;

  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    {
      char ctl[PATH_MAX], grp[PATH_MAX];
      snprintf (ctl, sizeof ctl, "/sys/fs/cgroup%s/cgroup.procs", dirs[i]);
      snprintf (grp, sizeof grp, "/sys/fs/cgroup%s/islet/%s", dirs[i], real_name);
      if (access (ctl, F_OK) < 0)
        continue;
      assert_int_equal (access (grp, F_OK) == 0, !gone);
      seen++;
    }
  assert_true (seen > 0);
}

static void
test_real (void **state)
{
  struct islet_cg *cg = NULL, *child = NULL;
  struct islet_cg_stats st;
  struct islet_err e;
  pid_t pid, up, daemon_pid = 0;
  int status, p[2], res[2];
  uint64_t t0;

  islet_cg_set_root (NULL, ISLET_CG_NONE);
  if (geteuid () != 0 || islet_cg_detect () == ISLET_CG_NONE)
    skip ();
  snprintf (real_name, sizeof real_name, "test-%d", (int) getpid ());
  assert_int_equal (prctl (PR_SET_CHILD_SUBREAPER, 1), 0);
  t0 = islet_now_ns ();
  assert_int_equal (islet_cg_create (real_name, &limits, &cg, &e), 0);
  assert_int_equal (islet_cg_create_child (cg, "x1", &child, &e), 0);
  print_message ("create group + child: %.2f ms\n", (islet_now_ns () - t0) / 1e6);
  assert_gone_everywhere (false);

  /* (a) 200 MiB against 64 MiB: the OOM killer, seen in the stats. */
  if ((pid = fork ()) == 0)
    child_oom (child);
  assert_int_equal (wait_for (pid, &status, 10000), 0);
  assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  assert_int_equal (islet_cg_read_stats (child, &st, &e), 0);
  assert_true (st.oom_kills >= 1);
  assert_true (st.memory_peak > (16u << 20));
  assert_true (st.cpu_ns > 0);
  assert_int_equal (islet_cg_read_stats (cg, &st, &e), 0);
  assert_true (st.oom_kills >= 1);

  /* (b) 100 forks against pids.max 16. */
  assert_int_equal (pipe2 (p, O_CLOEXEC), 0);
  if ((pid = fork ()) == 0)
    child_forks (child, p[1]);
  assert_int_equal (wait_for (pid, &status, 10000), 0);
  assert_int_equal (read (p[0], res, sizeof res), (ssize_t) sizeof res);
  assert_true (res[0] >= 1 && res[0] <= 15);
  assert_int_equal (res[1], EAGAIN);
  assert_false (islet_cg_is_empty (cg));
  assert_int_equal (islet_cg_kill (cg, &e), 0);
  assert_true (islet_cg_is_empty (cg));
  reap_all ();

  /* (c) sleepers and a double-forked daemon, all gone with one kill. */
  if ((pid = fork ()) == 0)
    child_tree (child, p[1]);
  for (size_t i = 0; i < 5; i++)
    {
      struct pollfd pfd = { p[0], POLLIN, 0 };
      assert_int_equal (poll (&pfd, 1, 5000), 1);
      assert_int_equal (read (p[0], &up, sizeof up), (ssize_t) sizeof up);
      daemon_pid = up < 0 ? -up : daemon_pid;
    }
  assert_true (daemon_pid > 0);
  assert_false (islet_cg_is_empty (child));
  assert_int_equal (islet_cg_kill (cg, &e), 0);
  assert_true (islet_cg_is_empty (cg));
  reap_all ();
  assert_int_equal (kill (daemon_pid, 0), -1);
  assert_int_equal (errno, ESRCH);
  close (p[0]);
  close (p[1]);

  /* One exec's worth, timed: a child group made, entered, removed. */
  t0 = islet_now_ns ();
  for (int i = 0; i < 20; i++)
    {
      struct islet_cg *x = NULL;
      char name[16];

      snprintf (name, sizeof name, "x%d", i + 2);
      assert_int_equal (islet_cg_create_child (cg, name, &x, &e), 0);
      if ((pid = fork ()) == 0)
        _exit (islet_cg_enter (x, 0, &e) < 0);
      assert_int_equal (wait_for (pid, &status, 5000), 0);
      assert_int_equal (status, 0);
      assert_int_equal (islet_cg_destroy (x, &e), 0);
    }
  print_message ("exec group cycle incl. fork: %.3f ms\n", (islet_now_ns () - t0) / 20 / 1e6);
  islet_cg_free (child);
  assert_int_equal (islet_cg_destroy (cg, &e), 0);
  assert_gone_everywhere (true);
}

static int
real_teardown (void **state)
{
  struct islet_cg *cg = NULL;
  struct islet_err e;

  if (real_name[0] && islet_cg_open (real_name, &cg, &e) == 0)
    (void) !islet_cg_destroy (cg, &e);
  reap_all ();
  return 0;
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parse_u64),
    cmocka_unit_test (test_parse_keyed),
    cmocka_unit_test (test_parse_ctrls),
    cmocka_unit_test_teardown (test_v2_fake, fake_teardown),
    cmocka_unit_test_teardown (test_v2_no_cpu, fake_teardown),
    cmocka_unit_test_teardown (test_v1_fake, fake_teardown),
    cmocka_unit_test_teardown (test_v1_socket_memory, fake_teardown),
    cmocka_unit_test_teardown (test_v1_child_nomem, fake_teardown),
    cmocka_unit_test_teardown (test_v1_sparse, fake_teardown),
    cmocka_unit_test_teardown (test_bad_input, fake_teardown),
    cmocka_unit_test_teardown (test_fault_v2, fake_teardown),
    cmocka_unit_test_teardown (test_fault_v1, fake_teardown),
    cmocka_unit_test_teardown (test_real, real_teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
