/* Fault injection for the integration tests: an LD_PRELOAD shim that makes
 * the Nth call of one family of libc functions fail with a chosen errno.
 *
 *   ISLET_FAULT=FAMILY:N:ERRNO[:PROG]   e.g. mkdir:3:EACCES, open:10:ENOSPC:islet-run
 *   ISLET_FAULT_LOG=PATH                a line is appended here each time a fault fires
 *
 * FAMILY is one of the names in `families` below; a family counts every
 * variant of its call (open counts open, open64, __open_2, openat...), since
 * _FORTIFY_SOURCE and _FILE_OFFSET_BITS choose the variant at compile time.
 * PROG limits the shim to processes whose program name (argv[0] at start-up)
 * is PROG, so a test can aim at the CLI or at the supervisor it execs.
 *
 * The counter is per process and starts at 0 when a program is loaded; a
 * forked child inherits its parent's count and counts on its own from there.
 * The fault fires once per program: a flag in a shared page, inherited by
 * forked children, stops a parent and its child from both failing their Nth
 * call.  Only calls made through the PLT are seen: glibc's own internal calls
 * (fopen's open) are not.
 *
 * The shim itself calls nothing it wraps: it logs with raw syscalls.  A
 * process that cannot reach the log any more (the sandbox's init, after
 * pivot_root: "/" is not the one the program started with, and the log's
 * path would name a file of the sandbox) leaves its line in the shared page,
 * and whichever process of the program exits next with the log in reach
 * writes it. */
#undef _FILE_OFFSET_BITS /* the build sets 64, which would rename open to open64 here */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

enum family
{
  F_NONE = -1,
  F_OPEN,
  F_WRITE,
  F_MKDIR,
  F_CHOWN,
  F_MOUNT,
  F_UMOUNT,
  F_IOCTL,
  F_RENAME,
  F_UNLINK,
  F_RMDIR,
  F_COUNT,
};

static const char *const families[F_COUNT] = {
  [F_OPEN] = "open",     [F_WRITE] = "write",   [F_MKDIR] = "mkdir", [F_CHOWN] = "chown",
  [F_MOUNT] = "mount",   [F_UMOUNT] = "umount", [F_IOCTL] = "ioctl", [F_RENAME] = "rename",
  [F_UNLINK] = "unlink", [F_RMDIR] = "rmdir",
};

static const struct
{
  const char *name;
  int value;
} errnos[] = {
  { "EPERM", EPERM },   { "ENOENT", ENOENT }, { "EIO", EIO },       { "ENOMEM", ENOMEM },
  { "EACCES", EACCES }, { "EEXIST", EEXIST }, { "ENOSPC", ENOSPC }, { "EMFILE", EMFILE },
  { "EBUSY", EBUSY },   { "EINVAL", EINVAL }, { "EDQUOT", EDQUOT }, { "EROFS", EROFS },
};

/* Shared by a program's processes (MAP_SHARED survives fork, not exec). */
struct shared
{
  int fired;
  int pending; /* line waits for a process that can reach the log */
  char line[256];
};

static enum family target = F_NONE;
static long target_call;
static int target_errno;
static long calls; /* calls of the target family in this process */
static char log_path[512];
static struct shared *shared;

static struct stat start_root; /* "/" when the program started */

/* The log path names the host's file only while "/" is the host's root. */
static bool
root_changed (void)
{
  struct stat st;

  if (syscall (SYS_newfstatat, AT_FDCWD, "/", &st, 0) < 0)
    return true;
  return st.st_dev != start_root.st_dev || st.st_ino != start_root.st_ino;
}

static int
append_log (const char *line)
{
  int fd;

  if (log_path[0] == '\0')
    return 0;
  if (root_changed ())
    return -1;
  fd = (int) syscall (SYS_openat, AT_FDCWD, log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                      0644);
  if (fd < 0)
    return -1;
  (void) syscall (SYS_write, fd, line, strlen (line));
  (void) syscall (SYS_close, fd);
  return 0;
}

static void
log_line (const char *sym, const char *what, long n)
{
  char line[sizeof shared->line];

  snprintf (line, sizeof line, "fault: %s call %ld (%s) on `%s` failed with %s in %s[%d]\n", sym, n,
            families[target], what ? what : "", strerrorname_np (target_errno),
            program_invocation_short_name, (int) syscall (SYS_getpid));
  if (append_log (line) < 0)
    {
      memcpy (shared->line, line, sizeof line);
      __atomic_store_n (&shared->pending, 1, __ATOMIC_SEQ_CST);
    }
}

__attribute__ ((destructor)) static void
fault_fini (void)
{
  if (shared != NULL && __atomic_load_n (&shared->pending, __ATOMIC_SEQ_CST)
      && append_log (shared->line) == 0)
    __atomic_store_n (&shared->pending, 0, __ATOMIC_SEQ_CST);
}

static int
parse_errno (const char *s)
{
  char *end;
  long v;

  for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
    if (strcmp (s, errnos[i].name) == 0)
      return errnos[i].value;
  v = strtol (s, &end, 10);
  return *s != '\0' && *end == '\0' && v > 0 && v < 4096 ? (int) v : -1;
}

static void
complain (const char *spec)
{
  static const char msg[] = "islet fault shim: ISLET_FAULT is not FAMILY:N:ERRNO[:PROG]\n";
  (void) spec;
  (void) syscall (SYS_write, 2, msg, sizeof msg - 1);
}

__attribute__ ((constructor)) static void
fault_init (void)
{
  const char *spec = getenv ("ISLET_FAULT");
  const char *logp = getenv ("ISLET_FAULT_LOG");
  char buf[256], *fields[4] = { NULL, NULL, NULL, NULL };
  char *save = NULL, *tok;
  int n = 0;

  if (spec == NULL || *spec == '\0')
    return;
  if (strlen (spec) >= sizeof buf)
    {
      complain (spec);
      return;
    }
  strcpy (buf, spec);
  for (tok = strtok_r (buf, ":", &save); tok && n < 4; tok = strtok_r (NULL, ":", &save))
    fields[n++] = tok;
  if (n < 3)
    {
      complain (spec);
      return;
    }
  if (n == 4 && strcmp (fields[3], program_invocation_short_name) != 0)
    return; /* aimed at another program */
  for (int f = 0; f < F_COUNT; f++)
    if (strcmp (fields[0], families[f]) == 0)
      target = (enum family) f;
  target_call = strtol (fields[1], NULL, 10);
  target_errno = parse_errno (fields[2]);
  if (target == F_NONE || target_call < 1 || target_errno < 0)
    {
      target = F_NONE;
      complain (spec);
      return;
    }
  if (logp != NULL && strlen (logp) < sizeof log_path)
    strcpy (log_path, logp);
  if (syscall (SYS_newfstatat, AT_FDCWD, "/", &start_root, 0) < 0)
    memset (&start_root, 0, sizeof start_root);
  shared = mmap (NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED)
    {
      shared = NULL;
      target = F_NONE;
      complain (spec);
    }
}

/* True when this call is the one to fail; errno is then set. */
static bool
fire (enum family f, const char *sym, const char *what)
{
  long n;

  if (f != target)
    return false;
  n = __atomic_add_fetch (&calls, 1, __ATOMIC_SEQ_CST);
  if (n != target_call || __atomic_exchange_n (&shared->fired, 1, __ATOMIC_SEQ_CST) != 0)
    return false;
  log_line (sym, what, n);
  errno = target_errno;
  return true;
}

/* fire() for a call on an fd: the log names what the fd is open on. */
static bool
fire_fd (enum family f, const char *sym, int fd)
{
  char link[64], what[160];
  long n;

  if (f != target)
    return false;
  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = syscall (SYS_readlinkat, AT_FDCWD, link, what, sizeof what - 1);
  if (n < 0)
    snprintf (what, sizeof what, "fd %d", fd);
  else
    what[n] = '\0';
  return fire (f, sym, what);
}

/* The next definition of sym (libc's), looked up once. */
#define REAL(type, sym)                                                                            \
  static type real_##sym;                                                                          \
  if (real_##sym == NULL)                                                                          \
    real_##sym = (type) dlsym (RTLD_NEXT, #sym);                                                   \
  if (real_##sym == NULL)                                                                          \
    {                                                                                              \
      errno = ENOSYS;                                                                              \
      return -1;                                                                                   \
    }

/* open(2)'s mode is only there with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, last)                                                                     \
  mode_t mode = 0;                                                                                 \
  if ((flags) & (O_CREAT | __O_TMPFILE))                                                           \
    {                                                                                              \
      va_list ap;                                                                                  \
      va_start (ap, last);                                                                         \
      mode = (mode_t) va_arg (ap, int);                                                            \
      va_end (ap);                                                                                 \
    }

typedef int (*open_fn) (const char *, int, ...);
typedef int (*openat_fn) (int, const char *, int, ...);
typedef int (*open2_fn) (const char *, int);
typedef int (*openat2_fn) (int, const char *, int);

int __open_2 (const char *path, int flags);
int __open64_2 (const char *path, int flags);
int __openat_2 (int dirfd, const char *path, int flags);
int __openat64_2 (int dirfd, const char *path, int flags);

int
open (const char *path, int flags, ...)
{
  OPEN_MODE (flags, flags);
  REAL (open_fn, open);
  if (fire (F_OPEN, "open", path))
    return -1;
  return real_open (path, flags, mode);
}

int
open64 (const char *path, int flags, ...)
{
  OPEN_MODE (flags, flags);
  REAL (open_fn, open64);
  if (fire (F_OPEN, "open64", path))
    return -1;
  return real_open64 (path, flags, mode);
}

int
openat (int dirfd, const char *path, int flags, ...)
{
  OPEN_MODE (flags, flags);
  REAL (openat_fn, openat);
  if (fire (F_OPEN, "openat", path))
    return -1;
  return real_openat (dirfd, path, flags, mode);
}

int
openat64 (int dirfd, const char *path, int flags, ...)
{
  OPEN_MODE (flags, flags);
  REAL (openat_fn, openat64);
  if (fire (F_OPEN, "openat64", path))
    return -1;
  return real_openat64 (dirfd, path, flags, mode);
}

int
__open_2 (const char *path, int flags)
{
  REAL (open2_fn, __open_2);
  if (fire (F_OPEN, "__open_2", path))
    return -1;
  return real___open_2 (path, flags);
}

int
__open64_2 (const char *path, int flags)
{
  REAL (open2_fn, __open64_2);
  if (fire (F_OPEN, "__open64_2", path))
    return -1;
  return real___open64_2 (path, flags);
}

int
__openat_2 (int dirfd, const char *path, int flags)
{
  REAL (openat2_fn, __openat_2);
  if (fire (F_OPEN, "__openat_2", path))
    return -1;
  return real___openat_2 (dirfd, path, flags);
}

int
__openat64_2 (int dirfd, const char *path, int flags)
{
  REAL (openat2_fn, __openat64_2);
  if (fire (F_OPEN, "__openat64_2", path))
    return -1;
  return real___openat64_2 (dirfd, path, flags);
}

typedef ssize_t (*write_fn) (int, const void *, size_t);

ssize_t
write (int fd, const void *buf, size_t len)
{
  REAL (write_fn, write);
  if (fire_fd (F_WRITE, "write", fd))
    return -1;
  return real_write (fd, buf, len);
}

typedef int (*mkdir_fn) (const char *, mode_t);
typedef int (*mkdirat_fn) (int, const char *, mode_t);

int
mkdir (const char *path, mode_t mode)
{
  REAL (mkdir_fn, mkdir);
  if (fire (F_MKDIR, "mkdir", path))
    return -1;
  return real_mkdir (path, mode);
}

int
mkdirat (int dirfd, const char *path, mode_t mode)
{
  REAL (mkdirat_fn, mkdirat);
  if (fire (F_MKDIR, "mkdirat", path))
    return -1;
  return real_mkdirat (dirfd, path, mode);
}

typedef int (*chown_fn) (const char *, uid_t, gid_t);
typedef int (*fchown_fn) (int, uid_t, gid_t);
typedef int (*fchownat_fn) (int, const char *, uid_t, gid_t, int);

int
chown (const char *path, uid_t uid, gid_t gid)
{
  REAL (chown_fn, chown);
  if (fire (F_CHOWN, "chown", path))
    return -1;
  return real_chown (path, uid, gid);
}

int
lchown (const char *path, uid_t uid, gid_t gid)
{
  REAL (chown_fn, lchown);
  if (fire (F_CHOWN, "lchown", path))
    return -1;
  return real_lchown (path, uid, gid);
}

int
fchown (int fd, uid_t uid, gid_t gid)
{
  REAL (fchown_fn, fchown);
  if (fire_fd (F_CHOWN, "fchown", fd))
    return -1;
  return real_fchown (fd, uid, gid);
}

int
fchownat (int dirfd, const char *path, uid_t uid, gid_t gid, int flags)
{
  REAL (fchownat_fn, fchownat);
  if (fire (F_CHOWN, "fchownat", path))
    return -1;
  return real_fchownat (dirfd, path, uid, gid, flags);
}

typedef int (*mount_fn) (const char *, const char *, const char *, unsigned long, const void *);
typedef int (*umount2_fn) (const char *, int);
typedef int (*umount_fn) (const char *);

int
mount (const char *src, const char *dst, const char *type, unsigned long flags, const void *data)
{
  REAL (mount_fn, mount);
  if (fire (F_MOUNT, "mount", dst))
    return -1;
  return real_mount (src, dst, type, flags, data);
}

int
umount2 (const char *target_path, int flags)
{
  REAL (umount2_fn, umount2);
  if (fire (F_UMOUNT, "umount2", target_path))
    return -1;
  return real_umount2 (target_path, flags);
}

int
umount (const char *target_path)
{
  REAL (umount_fn, umount);
  if (fire (F_UMOUNT, "umount", target_path))
    return -1;
  return real_umount (target_path);
}

typedef int (*ioctl_fn) (int, unsigned long, ...);

int
ioctl (int fd, unsigned long request, ...)
{
  va_list ap;
  void *arg;

  va_start (ap, request);
  arg = va_arg (ap, void *);
  va_end (ap);
  REAL (ioctl_fn, ioctl);
  if (fire_fd (F_IOCTL, "ioctl", fd))
    return -1;
  return real_ioctl (fd, request, arg);
}

typedef int (*rename_fn) (const char *, const char *);
typedef int (*renameat_fn) (int, const char *, int, const char *);

int
rename (const char *from, const char *to)
{
  REAL (rename_fn, rename);
  if (fire (F_RENAME, "rename", from))
    return -1;
  return real_rename (from, to);
}

int
renameat (int fromfd, const char *from, int tofd, const char *to)
{
  REAL (renameat_fn, renameat);
  if (fire (F_RENAME, "renameat", from))
    return -1;
  return real_renameat (fromfd, from, tofd, to);
}

typedef int (*unlink_fn) (const char *);
typedef int (*unlinkat_fn) (int, const char *, int);

int
unlink (const char *path)
{
  REAL (unlink_fn, unlink);
  if (fire (F_UNLINK, "unlink", path))
    return -1;
  return real_unlink (path);
}

int
unlinkat (int dirfd, const char *path, int flags)
{
  REAL (unlinkat_fn, unlinkat);
  /* unlinkat with AT_REMOVEDIR is an rmdir */
  if (fire ((flags & AT_REMOVEDIR) ? F_RMDIR : F_UNLINK, "unlinkat", path))
    return -1;
  return real_unlinkat (dirfd, path, flags);
}

int
rmdir (const char *path)
{
  REAL (unlink_fn, rmdir);
  if (fire (F_RMDIR, "rmdir", path))
    return -1;
  return real_rmdir (path);
}
