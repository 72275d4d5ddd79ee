// wrap: malloc calloc realloc
/* The seccomp filter, tried for real.  Each case forks a child that sets
 * no_new_privs, installs the filter and makes a call; the child reports
 * through its exit status (0, or an errno) or a pipe, and the parent asserts.
 *
 * The filter under test is the one islet-run installs: the programs embedded
 * at build time (islet_seccomp_filter).  test_embedded_is_the_table compiles
 * the rule table again with libseccomp and checks that they are the same,
 * so the probes below speak for the table and for what is loaded.
 *
 * Denied calls are probed the bubblewrap way: with harmless bad arguments
 * (a pointer of 1, an fd of -1, unknown flags), so that without the filter
 * the kernel fails them with EFAULT, EBADF or EINVAL and does nothing, and
 * with it the filter's errno comes back.  Every probe also runs once without
 * the filter, to show that its errno really comes from the filter.
 *
 * The malloc family is wrapped to count allocations made by islet's code, so
 * the install path can be shown to allocate nothing. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "islet/seccomp.h"
#include "islet/util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Exit status of a child whose own setup (not the call under test) failed;
   above every errno. */
#define SETUP_FAILED 250

static const struct islet_seccomp *filter;
static char tmpdir[] = "/tmp/islet-test-seccomp-XXXXXX";
static volatile size_t n_allocs;

void *__real_malloc (size_t n);
void *__real_calloc (size_t n, size_t size);
void *__real_realloc (void *p, size_t n);

void *
__wrap_malloc (size_t n)
{
  n_allocs++;
  return __real_malloc (n);
}

void *
__wrap_calloc (size_t n, size_t size)
{
  n_allocs++;
  return __real_calloc (n, size);
}

void *
__wrap_realloc (void *p, size_t n)
{
  n_allocs++;
  return __real_realloc (p, n);
}

/* In a child: a failed check names its line on stderr and exits 1. */
#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          dprintf (2, "test_seccomp: child check failed at line %d: %s (errno %d)\n", __LINE__,    \
                   #cond, errno);                                                                  \
          return 1;                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

/* In a child: no_new_privs, then the filter; core dumps off, since some
   children are meant to be killed. */
static void
enter_filter (bool filtered)
{
  struct rlimit nocore = { 0, 0 };
  struct islet_err err = { 0 };

  (void) setrlimit (RLIMIT_CORE, &nocore);
  if (!filtered)
    return;
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    _exit (SETUP_FAILED);
  if (islet_seccomp_install (filter, &err) < 0)
    {
      dprintf (2, "test_seccomp: %s\n", err.msg);
      _exit (SETUP_FAILED);
    }
}

/* Fork, run fn in the child (filtered or not) and return the wait status. */
static int
run_child (bool filtered, int (*fn) (const void *), const void *arg)
{
  int status;
  pid_t pid = fork ();

  assert_true (pid >= 0);
  if (pid == 0)
    {
      /* cmocka's handlers would turn a fault in the child into a test
       * failure and run the rest of the suite in the child: a fault must
       * kill the child, which is what the parent looks at */
      static const int faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS };
      for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        signal (faults[i], SIG_DFL);
      enter_filter (filtered);
      _exit (fn (arg) & 0xff);
    }
  assert_int_equal (waitpid (pid, &status, 0), pid);
  return status;
}

/* The exit code of a child that must have exited normally. */
static int
exit_code (int status)
{
  if (!WIFEXITED (status))
    fail_msg ("child was killed by signal %d", WTERMSIG (status));
  assert_int_not_equal (WEXITSTATUS (status), SETUP_FAILED);
  return WEXITSTATUS (status);
}

/* ---- Denied calls ---- */

struct probe
{
  const char *name;
  int expect;
  long a[6];
};

#define BAD 1L /* a pointer that faults */
#define P(name, expect, ...)                                                                       \
  {                                                                                                \
#name, expect, { __VA_ARGS__ }                                                                 \
  }

static const struct probe probes[] = {
  P (io_uring_setup, EPERM, 0, BAD),
  P (io_uring_enter, EPERM, -1, 0, 0, 0, 0, 0),
  P (io_uring_register, EPERM, -1, 0, 0, 0),
  P (userfaultfd, EPERM, -1),
  P (keyctl, EPERM, -1),
  P (add_key, EPERM, BAD, BAD, 0, 0, 0),
  P (request_key, EPERM, BAD, BAD, BAD, 0),
  P (bpf, EPERM, -1, 0, 0),
  P (perf_event_open, EPERM, BAD, 0, -1, -1, 0),
  P (ptrace, EPERM, -1, 0, 0, 0),
  P (process_vm_readv, EPERM, 0, BAD, 1, BAD, 1, 0),
  P (process_vm_writev, EPERM, 0, BAD, 1, BAD, 1, 0),
  P (kcmp, EPERM, 0, 0, -1, 0, 0),
  P (pidfd_getfd, EPERM, -1, 0, 0),
  P (process_madvise, EPERM, -1, 0, 0, 0, 0),
  P (mount, EPERM, BAD, BAD, BAD, 0, 0),
  P (umount2, EPERM, BAD, 0),
  P (open_tree, EPERM, -1, BAD, 0),
  P (move_mount, EPERM, -1, BAD, -1, BAD, 0),
  P (fsopen, EPERM, BAD, 0),
  P (fsconfig, EPERM, -1, 0, 0, 0, 0),
  P (fsmount, EPERM, -1, 0, 0),
  P (fspick, EPERM, -1, BAD, 0),
  P (mount_setattr, EPERM, -1, BAD, 0, 0, 0),
  P (pivot_root, EPERM, BAD, BAD),
  P (chroot, EPERM, BAD),
  P (setns, EPERM, -1, 0),
  P (sethostname, EPERM, BAD, 1),
  P (setdomainname, EPERM, BAD, 1),
  P (kexec_load, EPERM, 0, 0, 0, -1),
  P (kexec_file_load, EPERM, -1, -1, 0, 0, -1),
  P (reboot, EPERM, 0, 0, 0, 0), /* wrong magic numbers */
  P (init_module, EPERM, BAD, 0, BAD),
  P (finit_module, EPERM, -1, BAD, 0),
  P (delete_module, EPERM, BAD, 0),
  P (clock_settime, EPERM, CLOCK_REALTIME, BAD),
  P (clock_adjtime, EPERM, CLOCK_REALTIME, BAD),
  P (settimeofday, EPERM, BAD, 0),
  P (adjtimex, EPERM, BAD),
  P (name_to_handle_at, EPERM, -1, BAD, BAD, BAD, 0),
  P (open_by_handle_at, EPERM, -1, BAD, 0),
  P (swapon, EPERM, BAD, 0),
  P (swapoff, EPERM, BAD),
  P (acct, EPERM, BAD),
  P (quotactl, EPERM, 0, BAD, 0, 0),
  P (quotactl_fd, EPERM, -1, 0, 0, 0),
  P (syslog, EPERM, -1, 0, 0),
  P (iopl, EPERM, 4),         /* levels stop at 3 */
  P (ioperm, EPERM, 0, 0, 0), /* an empty range */
  P (modify_ldt, EPERM, -1, 0, 0),
  P (vm86, EPERM, -1, 0), /* 32-bit x86 only: skipped elsewhere */
  P (fanotify_init, EPERM, -1, 0),
  P (fanotify_mark, EPERM, -1, 0, 0, -1, 0),
  P (lookup_dcookie, EPERM, 0, 0, 0),
  P (uselib, EPERM, BAD),
  P (ustat, EPERM, 0, BAD),
  P (sysfs, EPERM, -1),
  P (_sysctl, EPERM, BAD),
  P (nfsservctl, EPERM, 0, 0, 0),
  P (mbind, EPERM, 0, 0, -1, 0, 0, 0),
  P (set_mempolicy, EPERM, -1, 0, 0),
  P (get_mempolicy, EPERM, 0, 0, 0, 0, -1),
  P (move_pages, EPERM, 0, 1, BAD, 0, BAD, -1),
  P (migrate_pages, EPERM, 0x7fffffff, 0, 0, 0), /* no such pid */
  P (set_mempolicy_home_node, EPERM, 0, 0, 0, -1),
  P (memfd_secret, EPERM, -1),
  /* vhangup is denied too, but not probed: unfiltered it would hang up the
     terminal running the tests. */

  /* Argument checks.  The third ioctl sets bits the kernel ignores
     (CVE-2019-10063). */
  P (ioctl, EPERM, -1, TIOCSTI, 0),
  P (ioctl, EPERM, -1, TIOCLINUX, 0),
  P (ioctl, EPERM, -1, TIOCSTI | (1L << 32), 0),
  P (socket, EAFNOSUPPORT, AF_VSOCK, SOCK_STREAM, 0),
  P (socket, EAFNOSUPPORT, AF_PACKET, SOCK_DGRAM, 0),
  P (socket, EAFNOSUPPORT, AF_ALG, SOCK_SEQPACKET, 0),
  P (socket, EAFNOSUPPORT, AF_KEY, SOCK_RAW, 2),
  P (socket, EAFNOSUPPORT, AF_TIPC, SOCK_RDM, 0),
  P (socket, EAFNOSUPPORT, AF_UNSPEC, SOCK_STREAM, 0),
  P (socket, EAFNOSUPPORT, AF_INET | (1L << 32), SOCK_STREAM, 0), /* fails closed */
  P (socket, EAFNOSUPPORT, -1, SOCK_STREAM, 0),
  P (socket, EPROTONOSUPPORT, AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER),
  P (socket, EPROTONOSUPPORT, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT),
  P (socketpair, EAFNOSUPPORT, AF_INET, SOCK_STREAM, 0, BAD),
  /* Another process's limits (here host pid 1's, into a faulting pointer):
     the sandbox's init could be made to kill itself. */
  P (prlimit64, EPERM, 1, RLIMIT_CPU, 0, BAD),
  P (prlimit64, EPERM, 1L << 32, RLIMIT_CPU, 0, BAD), /* fails closed */
  /* Host-wide AIO contexts: as on a kernel without AIO. */
  P (io_setup, ENOSYS, 1, BAD),
  P (io_submit, ENOSYS, 0, 1, BAD),
  P (io_getevents, ENOSYS, 0, 1, 1, BAD, 0),
  P (personality, ENOSYS, PER_BSD),
  P (personality, ENOSYS, ADDR_NO_RANDOMIZE),

  /* Flags in memory BPF cannot read: ENOSYS sends glibc back to clone. */
  P (clone3, ENOSYS, 0, 0),
};

static const char *
errname (int e)
{
  return e == 0 ? "success" : strerrorname_np (e) ? strerrorname_np (e) : "an unknown errno";
}

static int
do_probe (const void *arg)
{
  const struct probe *p = arg;
  long r = syscall (seccomp_syscall_resolve_name (p->name), p->a[0], p->a[1], p->a[2], p->a[3],
                    p->a[4], p->a[5]);
  return r < 0 ? errno : 0;
}

static void
test_denied_syscalls (void **state)
{
  int checked = 0, skipped = 0, inconclusive = 0;

  for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
    {
      const struct probe *p = &probes[i];
      int plain, filtered;

      /* Negative: not a call on this architecture, or unknown to libseccomp. */
      if (seccomp_syscall_resolve_name (p->name) < 0)
        {
          skipped++;
          continue;
        }
      plain = exit_code (run_child (false, do_probe, p));
      filtered = exit_code (run_child (true, do_probe, p));
      if (filtered != p->expect)
        fail_msg ("%s (probe %zu): got %s, want %s", p->name, i, errname (filtered),
                  errname (p->expect));
      if (plain == p->expect)
        {
          inconclusive++;
          print_message ("note: %s (%#lx, ...) fails with %s without the filter too\n", p->name,
                         (unsigned long) p->a[0], errname (plain));
        }
      checked++;
    }
  print_message ("denied: %d probes checked, %d skipped on this architecture, %d inconclusive\n",
                 checked, skipped, inconclusive);
}

/* A syscall newer than every name the filter knows: mseal, 462 in both the
   x86_64 and the generic table. */
static int
call_unknown (const void *arg)
{
  return syscall (462, 0, 0, 0) < 0 ? errno : 0;
}

static void
test_unknown_syscall_is_enosys (void **state)
{
  assert_int_equal (exit_code (run_child (true, call_unknown, NULL)), ENOSYS);
}

/* ---- Namespaces ---- */

static const unsigned long ns_flags[] = {
  CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
  CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET, CLONE_NEWTIME,
};

static int
try_clone (const void *arg)
{
  unsigned long flags = *(const unsigned long *) arg;
  long r = syscall (SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);

  if (r == 0)
    _exit (0); /* the new process, had the filter let it through */
  if (r < 0)
    return errno;
  (void) waitpid ((pid_t) r, NULL, 0);
  return 0;
}

static int
try_unshare (const void *arg)
{
  return unshare ((int) *(const unsigned long *) arg) < 0 ? errno : 0;
}

static void
test_namespaces_denied (void **state)
{
  static const unsigned long files = CLONE_FILES | CLONE_FS;

  for (size_t i = 0; i < sizeof ns_flags / sizeof ns_flags[0]; i++)
    {
      int r = exit_code (run_child (true, try_clone, &ns_flags[i]));
      if (r != EPERM)
        fail_msg ("clone with %#lx: got %s, want EPERM", ns_flags[i], errname (r));
      r = exit_code (run_child (true, try_unshare, &ns_flags[i]));
      if (r != EPERM)
        fail_msg ("unshare %#lx: got %s, want EPERM", ns_flags[i], errname (r));
    }
  /* Unsharing one's own fd table or cwd creates no namespace. */
  assert_int_equal (exit_code (run_child (true, try_unshare, &files)), 0);
}

static int
plain_fork (const void *arg)
{
  int status;
  pid_t pid = fork ();

  if (pid == 0)
    _exit (7);
  CHECK (pid > 0);
  CHECK (waitpid (pid, &status, 0) == pid);
  CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 7);
  return 0;
}

static void
test_fork_works (void **state)
{
  assert_int_equal (exit_code (run_child (true, plain_fork, NULL)), 0);
}

/* ---- Other ABIs ---- */

#if defined(__x86_64__)
/* getpid through the 32-bit entry point: number 20 in the i386 table. */
static int
int80_getpid (const void *arg)
{
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
  return r == getpid () ? 0 : 1;
}

/* getpid with the x32 bit set. */
static int
x32_getpid (const void *arg)
{
  return syscall (0x40000000L | SYS_getpid) < 0 ? errno : 0;
}

static void
test_other_abis_killed (void **state)
{
  int status;

  /* x32 numbers reach the filter whether or not the kernel has x32 */
  status = run_child (true, x32_getpid, NULL);
  assert_true (WIFSIGNALED (status));
  assert_true (WTERMSIG (status) == SIGSYS || WTERMSIG (status) == SIGKILL);
  status = run_child (false, int80_getpid, NULL);
  if (WIFSIGNALED (status))
    skip (); /* this kernel has ia32 emulation turned off: int 0x80 faults */
  assert_int_equal (exit_code (status), 0);
  status = run_child (true, int80_getpid, NULL);
  assert_true (WIFSIGNALED (status));
  assert_true (WTERMSIG (status) == SIGSYS || WTERMSIG (status) == SIGKILL);
}
#else
static void
test_other_abis_killed (void **state)
{
  skip ();
}
#endif

/* ---- Allowed calls ---- */

static void *
thread_main (void *arg)
{
  return arg;
}

static int
allowed_basics (const void *arg)
{
  int p[2], s[2], avail = -1;
  char c = 0, buf[64];
  void *m, *ret = NULL;
  pthread_t t;
  struct timespec ts;
  int fd;

  CHECK (syscall (SYS_getpid) == getpid ());
  CHECK (pipe2 (p, O_CLOEXEC) == 0);
  CHECK (write (p[1], "x", 1) == 1);
  CHECK (ioctl (p[0], FIONREAD, &avail) == 0 && avail == 1);
  CHECK (read (p[0], &c, 1) == 1 && c == 'x');
  fd = openat (AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC);
  CHECK (fd >= 0);
  CHECK (read (fd, buf, sizeof buf) > 0);
  CHECK (close (fd) == 0);
  m = mmap (NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK (m != MAP_FAILED);
  memset (m, 1, 1 << 20);
  CHECK (mprotect (m, 1 << 20, PROT_READ) == 0);
  CHECK (munmap (m, 1 << 20) == 0);
  CHECK (clock_gettime (CLOCK_REALTIME, &ts) == 0);
  CHECK (getrandom (buf, 16, 0) == 16);
  CHECK (prctl (PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
  {
    struct rlimit rl;
    /* a process's own limits: glibc passes pid 0 */
    CHECK (getrlimit (RLIMIT_NOFILE, &rl) == 0 && setrlimit (RLIMIT_NOFILE, &rl) == 0);
    CHECK (prlimit (0, RLIMIT_CPU, NULL, &rl) == 0);
  }
  CHECK (personality (0xffffffff) >= 0);
  CHECK (personality (PER_LINUX) >= 0);
  /* glibc tries clone3 first and takes the ENOSYS as "use clone". */
  CHECK (pthread_create (&t, NULL, thread_main, &c) == 0);
  CHECK (pthread_join (t, &ret) == 0 && ret == &c);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK (fd >= 0 && close (fd) == 0);
  fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK (fd >= 0 && close (fd) == 0);
  fd = socket (AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK ((fd >= 0 && close (fd) == 0) || errno == EAFNOSUPPORT); /* IPv6 may be off */
  fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  CHECK (fd >= 0 && close (fd) == 0);
  CHECK (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == 0);
  return 0;
}

static void
test_allowed_basics (void **state)
{
  assert_int_equal (exit_code (run_child (true, allowed_basics, NULL)), 0);
}

/* What islet's in-sandbox file agent does, on a scratch directory. */
static int
file_agent_ops (const void *arg)
{
  const char *dir = arg;
  struct stat st;
  struct statx stx;
  struct dirent *de;
  char link[16] = { 0 };
  int n = 0;
  int d, f;
  DIR *dh;

  d = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  CHECK (d >= 0);
  CHECK (mkdirat (d, "sub", 0755) == 0);
  f = openat (d, "sub/a", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  CHECK (f >= 0);
  CHECK (write (f, "hello", 5) == 5);
  CHECK (fsync (f) == 0 && fdatasync (f) == 0);
  CHECK (fchmod (f, 0600) == 0);
  CHECK (ftruncate (f, 3) == 0);
  CHECK (close (f) == 0);
  CHECK (fstatat (d, "sub/a", &st, AT_SYMLINK_NOFOLLOW) == 0);
  CHECK (st.st_size == 3 && (st.st_mode & 07777) == 0600);
  CHECK (statx (d, "sub/a", AT_SYMLINK_NOFOLLOW, STATX_SIZE, &stx) == 0 && stx.stx_size == 3);
  CHECK (fchownat (d, "sub/a", getuid (), getgid (), AT_SYMLINK_NOFOLLOW) == 0);
  CHECK (utimensat (d, "sub/a", NULL, 0) == 0);
  CHECK (linkat (d, "sub/a", d, "sub/b", 0) == 0);
  CHECK (symlinkat ("a", d, "sub/c") == 0);
  CHECK (readlinkat (d, "sub/c", link, sizeof link - 1) == 1 && link[0] == 'a');
  CHECK (renameat2 (d, "sub/b", d, "sub/e", RENAME_NOREPLACE) == 0);
  CHECK (renameat2 (d, "sub/a", d, "sub/e", RENAME_EXCHANGE) == 0);
  f = openat (d, "sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  CHECK (f >= 0);
  dh = fdopendir (f);
  CHECK (dh != NULL);
  while ((de = readdir (dh)) != NULL)
    n += de->d_name[0] != '.';
  CHECK (closedir (dh) == 0 && n == 3);
  CHECK (unlinkat (d, "sub/a", 0) == 0 && unlinkat (d, "sub/c", 0) == 0);
  CHECK (unlinkat (d, "sub/e", 0) == 0);
  CHECK (unlinkat (d, "sub", AT_REMOVEDIR) == 0);
  CHECK (close (d) == 0);
  return 0;
}

static void
test_file_agent_ops (void **state)
{
  assert_int_equal (exit_code (run_child (true, file_agent_ops, tmpdir)), 0);
}

/* ---- Real programs under the filter ---- */

/* Run argv (filtered or not) with stdout captured; returns the exit code. */
static int
run_capture (bool filtered, char *const argv[], char *out, size_t size)
{
  int p[2], status;
  ssize_t n;
  pid_t pid;

  assert_int_equal (pipe2 (p, O_CLOEXEC), 0);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      int null = open ("/dev/null", O_RDONLY);
      if (null < 0 || dup2 (null, 0) < 0 || dup2 (p[1], 1) < 0)
        _exit (SETUP_FAILED);
      enter_filter (filtered);
      execv (argv[0], argv);
      dprintf (2, "test_seccomp: exec %s: %s\n", argv[0], strerror (errno));
      _exit (SETUP_FAILED);
    }
  close (p[1]);
  n = islet_read_all (p[0], out, size - 1);
  close (p[0]);
  assert_true (n >= 0);
  out[n] = '\0';
  assert_int_equal (waitpid (pid, &status, 0), pid);
  return exit_code (status);
}

static void
expect_output (char *const argv[], const char *want)
{
  char out[4096];

  if (access (argv[0], X_OK) < 0)
    {
      print_message ("note: %s is not installed\n", argv[0]);
      skip ();
    }
  assert_int_equal (run_capture (true, argv, out, sizeof out), 0);
  assert_string_equal (out, want);
}

static void
test_python (void **state)
{
  char *argv[] = { "/usr/bin/python3", "-u", "-c", "print(6*7)", NULL };
  expect_output (argv, "42\n");
}

static void
test_node (void **state)
{
  char *argv[] = { "/usr/bin/node", "-e", "console.log(6*7)", NULL };
  expect_output (argv, "42\n");
}

static void
test_bash (void **state)
{
  char *argv[] = { "/bin/bash", "-c", "echo $((6*7))", NULL };
  expect_output (argv, "42\n");
}

static void
test_git_version (void **state)
{
  char out[256];
  char *argv[] = { "/usr/bin/git", "--version", NULL };

  if (access (argv[0], X_OK) < 0)
    skip ();
  assert_int_equal (run_capture (true, argv, out, sizeof out), 0);
  assert_true (strncmp (out, "git version ", 12) == 0);
}

/* Heavier programs: the same output with and without the filter. */
static void
same_with_and_without (char *const argv[], const char *want)
{
  char plain[8192], filtered[8192];

  if (access (argv[0], X_OK) < 0)
    skip ();
  assert_int_equal (run_capture (false, argv, plain, sizeof plain), 0);
  assert_int_equal (run_capture (true, argv, filtered, sizeof filtered), 0);
  assert_string_equal (filtered, plain);
  assert_non_null (strstr (filtered, want));
}

/* Threads, a subprocess (posix_spawn: clone3, then clone), files, sockets
   and sqlite. */
static const char python_script[]
    = "import os, socket, sqlite3, subprocess, tempfile, threading\n"
      "r = []\n"
      "t = threading.Thread(target=lambda: r.append(6 * 7)); t.start(); t.join()\n"
      "out = subprocess.run(['/bin/echo', 'child'], capture_output=True, text=True).stdout\n"
      "with tempfile.TemporaryDirectory() as d:\n"
      "    p = os.path.join(d, 'x')\n"
      "    with open(p, 'w') as f: f.write('data')\n"
      "    os.rename(p, p + '2'); n = len(os.listdir(d))\n"
      "a, b = socket.socketpair(); a.send(b'hi'); got = b.recv(2).decode()\n"
      "v = sqlite3.connect(':memory:').execute('select 6 * 7').fetchone()[0]\n"
      "print(r[0], out.strip(), n, got, v)\n";

static void
test_python_heavier (void **state)
{
  char *argv[] = { "/usr/bin/python3", "-u", "-c", (char *) python_script, NULL };
  same_with_and_without (argv, "42 child 1 hi 42\n");
}

/* The libuv thread pool, a worker thread, a child process. */
static const char node_script[]
    = "const cp = require('child_process'), fs = require('fs'), os = require('os');\n"
      "const path = require('path'), { Worker } = require('worker_threads');\n"
      "const d = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-'));\n"
      "fs.writeFileSync(path.join(d, 'f'), 'x');\n"
      "fs.promises.readFile(path.join(d, 'f'), 'utf8').then((s) => {\n"
      "  fs.rmSync(d, { recursive: true });\n"
      "  const out = cp.execFileSync('/bin/echo', ['child']).toString().trim();\n"
      "  new Worker('require(\"worker_threads\").parentPort.postMessage(6 * 7)', { eval: true })\n"
      "    .on('message', (m) => { console.log(m, out, s); process.exit(0); });\n"
      "});\n";

static void
test_node_heavier (void **state)
{
  char *argv[] = { "/usr/bin/node", "-e", (char *) node_script, NULL };
  same_with_and_without (argv, "42 child x\n");
}

/* git and coreutils in a fresh directory ($0 names it). */
static const char shell_script[]
    = "set -e; export LC_ALL=C; mkdir -p \"$0/repo/dir\"; cd \"$0/repo\"\n"
      "git init -q .\n"
      "printf 'b\\na\\nc\\n' > dir/f.txt\n"
      "sort dir/f.txt > sorted.txt; cp sorted.txt copy.txt; mv copy.txt moved.txt\n"
      "ln -s moved.txt link.txt; chmod 600 moved.txt; touch -d @0 moved.txt\n"
      "stat -c '%a %s %Y' moved.txt; cat link.txt | wc -l; sha256sum moved.txt | cut -c1-16\n"
      "ls | tr '\\n' ' '; echo; head -n1 moved.txt; tail -n1 moved.txt; seq 3 | paste -sd+\n"
      "du -s . > /dev/null; df . > /dev/null; id -u > /dev/null; date > /dev/null\n"
      "nproc > /dev/null; timeout 5 sleep 0.01; find . -name '*.txt' | sort | tr '\\n' ' '; echo\n"
      "git add -A\n"
      "git -c user.name=islet -c user.email=islet@example.invalid commit -q -m first\n"
      "git log --format=%s; git status --porcelain | wc -l; git rev-list --count HEAD\n"
      "cd ..; rm -rf repo; ls -A | wc -l; echo done\n";

static void
test_git_and_coreutils (void **state)
{
  cleanup_free char *plain = islet_xasprintf ("%s/plain", tmpdir);
  cleanup_free char *filtered = islet_xasprintf ("%s/filtered", tmpdir);
  char *argv_plain[] = { "/bin/bash", "-c", (char *) shell_script, plain, NULL };
  char *argv_filtered[] = { "/bin/bash", "-c", (char *) shell_script, filtered, NULL };
  char out_plain[8192], out_filtered[8192];

  if (access ("/usr/bin/git", X_OK) < 0)
    skip ();
  assert_int_equal (run_capture (false, argv_plain, out_plain, sizeof out_plain), 0);
  assert_int_equal (run_capture (true, argv_filtered, out_filtered, sizeof out_filtered), 0);
  assert_string_equal (out_filtered, out_plain);
  assert_non_null (strstr (out_filtered, "\nfirst\n0\n1\n0\ndone\n"));
}

/* ---- Costs and errors ---- */

struct install_report
{
  uint64_t ns;
  size_t allocs;
  int ok;
};

/* The embedded programs are what the rule table compiles to with this
   libseccomp, instruction for instruction: the build did not leave a stale
   or foreign filter behind. */
static void
test_embedded_is_the_table (void **state)
{
  struct islet_seccomp *compiled = NULL;
  struct islet_err err = { 0 };

  if (islet_seccomp_compile (&compiled, &err) < 0)
    fail_msg ("%s", err.msg);
  assert_true (islet_seccomp_equal (filter, compiled));
  assert_true (islet_seccomp_equal (compiled, filter));
  islet_seccomp_free (compiled);
}

/* Compile time (what a start used to pay) and install time, printed for
   information; the install must not allocate. */
static void
test_install_costs (void **state)
{
  struct islet_seccomp *again = NULL;
  struct islet_err err = { 0 };
  struct install_report rep = { 0, 0, 0 };
  uint64_t t0 = islet_now_ns ();
  uint64_t build_ns;
  int p[2], status;
  pid_t pid;

  assert_int_equal (islet_seccomp_compile (&again, &err), 0);
  build_ns = islet_now_ns () - t0;
  islet_seccomp_free (again);

  assert_int_equal (pipe2 (p, O_CLOEXEC), 0);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      size_t before;
      uint64_t start;

      if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        _exit (SETUP_FAILED);
      before = n_allocs;
      start = islet_now_ns ();
      rep.ok = islet_seccomp_install (filter, &err) == 0;
      rep.ns = islet_now_ns () - start;
      rep.allocs = n_allocs - before;
      _exit (islet_write_all (p[1], &rep, sizeof rep) < 0 ? SETUP_FAILED : 0);
    }
  close (p[1]);
  assert_int_equal (islet_read_all (p[0], &rep, sizeof rep), (ssize_t) sizeof rep);
  close (p[0]);
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_int_equal (exit_code (status), 0);
  assert_true (rep.ok);
  assert_int_equal (rep.allocs, 0);
  print_message ("seccomp: compile %.2f ms (at build time only), install in a child %.1f us, %zu "
                 "allocations\n",
                 (double) build_ns / 1e6, (double) rep.ns / 1e3, rep.allocs);
}

/* Without no_new_privs and without CAP_SYS_ADMIN the kernel refuses, and
   the error says what is missing. */
static void
test_install_needs_no_new_privs (void **state)
{
  struct islet_err err = { 0 };
  int p[2], status;
  pid_t pid;

  assert_int_equal (pipe2 (p, O_CLOEXEC), 0);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
      struct __user_cap_data_struct none[2] = { { 0, 0, 0 }, { 0, 0, 0 } };

      if (syscall (SYS_capset, &hdr, none) < 0)
        _exit (SETUP_FAILED);
      if (islet_seccomp_install (filter, &err) == 0)
        _exit (1);
      _exit (islet_write_all (p[1], &err, sizeof err) < 0 ? SETUP_FAILED : 0);
    }
  close (p[1]);
  assert_int_equal (islet_read_all (p[0], &err, sizeof err), (ssize_t) sizeof err);
  close (p[0]);
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_int_equal (exit_code (status), 0);
  assert_int_equal (err.kind, ISLET_E_SYSTEM);
  assert_int_equal (err.errnum, EACCES);
  assert_string_equal (err.msg, "install the seccomp syscall table (no_new_privs is not set): "
                                "Permission denied");
}

static int
setup (void **state)
{
  filter = islet_seccomp_filter ();
  if (mkdtemp (tmpdir) == NULL)
    return -1;
  return 0;
}

static int
teardown (void **state)
{
  struct islet_err err = { 0 };

  filter = NULL;
  if (islet_rm_rf (tmpdir, &err) < 0)
    print_error ("%s\n", err.msg);
  return 0;
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_embedded_is_the_table),
    cmocka_unit_test (test_denied_syscalls),
    cmocka_unit_test (test_unknown_syscall_is_enosys),
    cmocka_unit_test (test_namespaces_denied),
    cmocka_unit_test (test_fork_works),
    cmocka_unit_test (test_other_abis_killed),
    cmocka_unit_test (test_allowed_basics),
    cmocka_unit_test (test_file_agent_ops),
    cmocka_unit_test (test_python),
    cmocka_unit_test (test_node),
    cmocka_unit_test (test_bash),
    cmocka_unit_test (test_git_version),
    cmocka_unit_test (test_python_heavier),
    cmocka_unit_test (test_node_heavier),
    cmocka_unit_test (test_git_and_coreutils),
    cmocka_unit_test (test_install_costs),
    cmocka_unit_test (test_install_needs_no_new_privs),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}
