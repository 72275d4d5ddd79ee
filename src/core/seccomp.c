/* The sandbox's system-call filter: the rule table, the single source of
 * truth, and its compilation to BPF with libseccomp.  The compilation runs
 * once, at build time: src/tools/seccomp_gen.c calls islet_seccomp_compile
 * and writes the programs into a generated header that seccomp_install.c
 * embeds, so a sandbox start costs no compilation (it took 2.6 ms and left
 * half a MiB of heap in every supervisor) and islet-run does not link
 * libseccomp.  The unit tests compile the table again and check that the
 * embedded programs are the same, instruction for instruction.
 *
 * Two BPF programs, installed one after the other:
 *
 *   1. the syscall table: which calls exist.  An allowlist at least as strict
 *      as Docker's default profile for a container without capabilities;
 *      calls known to be dangerous fail with EPERM, and anything the table
 *      does not name fails with ENOSYS, so libc and runtimes fall back as they
 *      would on an older kernel (clone3 -> clone, whose flags can be checked).
 *   2. the argument checks: how some allowed calls may be used (ioctl, clone,
 *      unshare, socket, prlimit64).  Everything else passes.
 *
 * Two programs because libseccomp cannot say "ioctl, except TIOCSTI" inside
 * an allowlist: an unconditional rule for a syscall replaces its conditional
 * ones, and one rule cannot compare the same argument twice.  The kernel runs
 * every installed filter and keeps the most restrictive answer, so a
 * default-allow second program states the exceptions exactly.
 *
 * Only the native ABI passes.  On x86_64 a 32-bit (int 0x80) or x32 call
 * takes libseccomp's bad-architecture path, which kills the whole process:
 * the syscall numbers there differ, so an allowlist for one ABI means nothing
 * for another.  Both programs begin with that check; the generated header
 * refuses to compile for another architecture than the one it was made on. */
#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "islet/seccomp.h"
#include "islet/util.h"
#include "seccomp_internal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* One line of the syscall table.  nr comes from SCMP_SYS, so a misspelt name
   does not compile; a call that does not exist on this architecture (vm86 on
   x86_64, open on aarch64) gets a negative pseudo-number and is skipped. */
struct sysrule
{
  const char *name;
  int nr;
  int errnum; /* 0: allow; otherwise fail with this errno */
};

/* Calls newer than the libseccomp we build against may be missing from its
   headers: those are looked up by name when the filter is built, and left
   out (so ENOSYS, as on an older kernel) if this libseccomp does not know
   them. */
#define BY_NAME INT_MIN

#define ALLOW(name)                                                                                \
  {                                                                                                \
#name, SCMP_SYS(name), 0                                                                       \
  }
#define DENY(name)                                                                                 \
  {                                                                                                \
#name, SCMP_SYS(name), EPERM                                                                   \
  }
#define NOSYS(name)                                                                                \
  {                                                                                                \
#name, SCMP_SYS(name), ENOSYS                                                                  \
  }
#define ALLOW_LATE(name)                                                                           \
  {                                                                                                \
#name, BY_NAME, 0                                                                              \
  }
#define DENY_LATE(name)                                                                            \
  {                                                                                                \
#name, BY_NAME, EPERM                                                                          \
  }

/* clang-format off: the table is grouped by purpose, one comment a group */
static const struct sysrule syscall_table[] = {
  /* Memory. */
  ALLOW (brk),
  ALLOW (mmap),
  ALLOW (munmap),
  ALLOW (mprotect),
  ALLOW (mremap),
  ALLOW (madvise),
  ALLOW (mincore),
  ALLOW (msync),
  ALLOW (mlock),
  ALLOW (mlock2),
  ALLOW (munlock),
  ALLOW (mlockall),
  ALLOW (munlockall),
  ALLOW (remap_file_pages),
  ALLOW (membarrier),
  ALLOW (pkey_alloc),
  ALLOW (pkey_free),
  ALLOW (pkey_mprotect),
  ALLOW (memfd_create),
  ALLOW_LATE (map_shadow_stack),

  /* Processes and threads.  Namespace flags to clone and unshare are
     refused in the second program.  clone3 passes its flags in memory,
     where BPF cannot look, so it answers ENOSYS and glibc falls back to
     clone.  (ENOSYS is also the default; the line is for the reader.) */
  ALLOW (execve),
  ALLOW (execveat),
  ALLOW (fork),
  ALLOW (vfork),
  ALLOW (clone),
  NOSYS (clone3),
  ALLOW (unshare),
  ALLOW (exit),
  ALLOW (exit_group),
  ALLOW (wait4),
  ALLOW (waitid),
  ALLOW (set_tid_address),
  ALLOW (set_robust_list),
  ALLOW (get_robust_list),
  ALLOW (rseq),
  ALLOW (futex),
  ALLOW_LATE (futex_waitv),
  ALLOW_LATE (futex_wake),
  ALLOW_LATE (futex_wait),
  ALLOW_LATE (futex_requeue),
  ALLOW (arch_prctl),
  ALLOW (set_thread_area),
  ALLOW (get_thread_area),
  ALLOW (prctl),
  ALLOW (restart_syscall),

  /* Confining oneself further is always fine: a nested seccomp filter,
     Landlock, dropping capabilities. */
  ALLOW (seccomp),
  ALLOW (landlock_create_ruleset),
  ALLOW (landlock_add_rule),
  ALLOW (landlock_restrict_self),
  ALLOW (capget),
  ALLOW (capset),

  /* Credentials.  The kernel checks these against the sandbox's own empty
     capability sets, so they can only give privileges away. */
  ALLOW (getpid),
  ALLOW (getppid),
  ALLOW (gettid),
  ALLOW (getuid),
  ALLOW (geteuid),
  ALLOW (getgid),
  ALLOW (getegid),
  ALLOW (getresuid),
  ALLOW (getresgid),
  ALLOW (getgroups),
  ALLOW (setuid),
  ALLOW (setgid),
  ALLOW (setreuid),
  ALLOW (setregid),
  ALLOW (setresuid),
  ALLOW (setresgid),
  ALLOW (setgroups),
  ALLOW (setfsuid),
  ALLOW (setfsgid),
  ALLOW (getpgid),
  ALLOW (setpgid),
  ALLOW (getpgrp),
  ALLOW (getsid),
  ALLOW (setsid),

  /* Scheduling and limits: bounded by the cgroup and by rlimits the
     sandbox cannot raise. */
  ALLOW (sched_yield),
  ALLOW (sched_getaffinity),
  ALLOW (sched_setaffinity),
  ALLOW (sched_getparam),
  ALLOW (sched_setparam),
  ALLOW (sched_getscheduler),
  ALLOW (sched_setscheduler),
  ALLOW (sched_get_priority_max),
  ALLOW (sched_get_priority_min),
  ALLOW (sched_rr_get_interval),
  ALLOW (sched_getattr),
  ALLOW (sched_setattr),
  ALLOW (getpriority),
  ALLOW (setpriority),
  ALLOW (ioprio_get),
  ALLOW (ioprio_set),
  ALLOW (getrlimit),
  ALLOW (setrlimit),
  ALLOW (prlimit64),
  ALLOW (getrusage),
  ALLOW (times),
  ALLOW (getcpu),
  ALLOW (sysinfo),
  ALLOW (uname),
  ALLOW (getrandom),

  /* Signals, to processes the pid namespace lets the caller see. */
  ALLOW (rt_sigaction),
  ALLOW (rt_sigprocmask),
  ALLOW (rt_sigreturn),
  ALLOW (rt_sigpending),
  ALLOW (rt_sigsuspend),
  ALLOW (rt_sigtimedwait),
  ALLOW (rt_sigqueueinfo),
  ALLOW (rt_tgsigqueueinfo),
  ALLOW (sigaltstack),
  ALLOW (kill),
  ALLOW (tkill),
  ALLOW (tgkill),
  ALLOW (pause),
  ALLOW (signalfd),
  ALLOW (signalfd4),
  ALLOW (pidfd_open),
  ALLOW (pidfd_send_signal),
  ALLOW_LATE (process_mrelease),

  /* Reading clocks and timers (setting clocks is denied below). */
  ALLOW (clock_gettime),
  ALLOW (clock_getres),
  ALLOW (clock_nanosleep),
  ALLOW (nanosleep),
  ALLOW (gettimeofday),
  ALLOW (time),
  ALLOW (alarm),
  ALLOW (getitimer),
  ALLOW (setitimer),
  ALLOW (timer_create),
  ALLOW (timer_delete),
  ALLOW (timer_gettime),
  ALLOW (timer_settime),
  ALLOW (timer_getoverrun),
  ALLOW (timerfd_create),
  ALLOW (timerfd_gettime),
  ALLOW (timerfd_settime),

  /* File descriptors and I/O.  ioctl's terminal-injection commands are
     refused in the second program. */
  ALLOW (read),
  ALLOW (write),
  ALLOW (readv),
  ALLOW (writev),
  ALLOW (pread64),
  ALLOW (pwrite64),
  ALLOW (preadv),
  ALLOW (pwritev),
  ALLOW (preadv2),
  ALLOW (pwritev2),
  ALLOW (close),
  ALLOW (close_range),
  ALLOW (dup),
  ALLOW (dup2),
  ALLOW (dup3),
  ALLOW (fcntl),
  ALLOW (flock),
  ALLOW (lseek),
  ALLOW (pipe),
  ALLOW (pipe2),
  ALLOW (ioctl),
  ALLOW (sendfile),
  ALLOW (copy_file_range),
  ALLOW (splice),
  ALLOW (tee),
  ALLOW (vmsplice),
  ALLOW (fadvise64),
  ALLOW (readahead),
  ALLOW (fallocate),
  ALLOW (ftruncate),
  ALLOW (truncate),
  ALLOW (fsync),
  ALLOW (fdatasync),
  ALLOW (sync),
  ALLOW (syncfs),
  ALLOW (sync_file_range),
  ALLOW (eventfd),
  ALLOW (eventfd2),
  ALLOW (inotify_init),
  ALLOW (inotify_init1),
  ALLOW (inotify_add_watch),
  ALLOW (inotify_rm_watch),
  ALLOW_LATE (cachestat),

  /* Paths and metadata: what interpreters, git, coreutils and islet's own
     file agent do inside the sandbox's mount namespace. */
  ALLOW (open),
  ALLOW (openat),
  ALLOW (openat2),
  ALLOW (creat),
  ALLOW (stat),
  ALLOW (fstat),
  ALLOW (lstat),
  ALLOW (newfstatat),
  ALLOW (statx),
  ALLOW (statfs),
  ALLOW (fstatfs),
  ALLOW (access),
  ALLOW (faccessat),
  ALLOW (faccessat2),
  ALLOW (getdents),
  ALLOW (getdents64),
  ALLOW (getcwd),
  ALLOW (chdir),
  ALLOW (fchdir),
  ALLOW (mkdir),
  ALLOW (mkdirat),
  ALLOW (rmdir),
  ALLOW (rename),
  ALLOW (renameat),
  ALLOW (renameat2),
  ALLOW (link),
  ALLOW (linkat),
  ALLOW (symlink),
  ALLOW (symlinkat),
  ALLOW (unlink),
  ALLOW (unlinkat),
  ALLOW (readlink),
  ALLOW (readlinkat),
  ALLOW (chmod),
  ALLOW (fchmod),
  ALLOW (fchmodat),
  ALLOW_LATE (fchmodat2),
  ALLOW (chown),
  ALLOW (fchown),
  ALLOW (fchownat),
  ALLOW (lchown),
  ALLOW (umask),
  ALLOW (utime),
  ALLOW (utimes),
  ALLOW (utimensat),
  ALLOW (futimesat),
  ALLOW (mknod),
  ALLOW (mknodat),
  ALLOW (getxattr),
  ALLOW (lgetxattr),
  ALLOW (fgetxattr),
  ALLOW (setxattr),
  ALLOW (lsetxattr),
  ALLOW (fsetxattr),
  ALLOW (listxattr),
  ALLOW (llistxattr),
  ALLOW (flistxattr),
  ALLOW (removexattr),
  ALLOW (lremovexattr),
  ALLOW (fremovexattr),

  /* Waiting for events. */
  ALLOW (poll),
  ALLOW (ppoll),
  ALLOW (select),
  ALLOW (pselect6),
  ALLOW (epoll_create),
  ALLOW (epoll_create1),
  ALLOW (epoll_ctl),
  ALLOW (epoll_wait),
  ALLOW (epoll_pwait),
  ALLOW (epoll_pwait2),

  /* The old asynchronous I/O interface answers ENOSYS, as on a kernel built
     without it: its contexts are counted in one host-wide pool (fs.aio-nr
     up to fs.aio-max-nr) that one sandbox could take whole, and programs
     (databases, qemu, libaio users) fall back to threads.  io_uring is
     denied below. */
  NOSYS (io_setup),
  NOSYS (io_destroy),
  NOSYS (io_submit),
  NOSYS (io_cancel),
  NOSYS (io_getevents),
  NOSYS (io_pgetevents),

  /* Sockets.  Address families are checked in the second program. */
  ALLOW (socket),
  ALLOW (socketpair),
  ALLOW (bind),
  ALLOW (connect),
  ALLOW (listen),
  ALLOW (accept),
  ALLOW (accept4),
  ALLOW (getsockname),
  ALLOW (getpeername),
  ALLOW (getsockopt),
  ALLOW (setsockopt),
  ALLOW (sendto),
  ALLOW (recvfrom),
  ALLOW (sendmsg),
  ALLOW (recvmsg),
  ALLOW (sendmmsg),
  ALLOW (recvmmsg),
  ALLOW (shutdown),

  /* System V and POSIX IPC, private to the sandbox's IPC namespace. */
  ALLOW (shmget),
  ALLOW (shmat),
  ALLOW (shmdt),
  ALLOW (shmctl),
  ALLOW (semget),
  ALLOW (semop),
  ALLOW (semtimedop),
  ALLOW (semctl),
  ALLOW (msgget),
  ALLOW (msgsnd),
  ALLOW (msgrcv),
  ALLOW (msgctl),
  ALLOW (mq_open),
  ALLOW (mq_unlink),
  ALLOW (mq_timedsend),
  ALLOW (mq_timedreceive),
  ALLOW (mq_notify),
  ALLOW (mq_getsetattr),

  /* ---- Denied with EPERM, each for the channel it would open. ---- */

  /* io_uring: a second system-call interface that this filter cannot see
     into, and one of the most exploited parts of the kernel. */
  DENY (io_uring_setup),
  DENY (io_uring_enter),
  DENY (io_uring_register),
  /* userfaultfd: stalls the kernel on a page fault mid-copy, the usual way
     to win the race in a kernel exploit. */
  DENY (userfaultfd),
  /* Keyrings are not namespaced: keys of other users and sandboxes could be
     found or their quota exhausted. */
  DENY (keyctl),
  DENY (add_key),
  DENY (request_key),
  /* eBPF programs and perf events run code or sample inside the kernel:
     verifier bugs, kernel-address leaks and cross-tenant side channels. */
  DENY (bpf),
  DENY (perf_event_open),
  /* Reaching into another process: its memory, its fds, its address-space
     layout.  Inside the sandbox that includes islet's file agent. */
  DENY (ptrace),
  DENY (process_vm_readv),
  DENY (process_vm_writev),
  DENY (kcmp),
  DENY (pidfd_getfd),
  DENY (process_madvise),
  /* Mounts, old and new API, and changing root: they would change what
     paths mean, uncover what islet's mounts hide, or leave the rootfs. */
  DENY (mount),
  DENY (umount),
  DENY (umount2),
  DENY (open_tree),
  DENY (move_mount),
  DENY (fsopen),
  DENY (fsconfig),
  DENY (fsmount),
  DENY (fspick),
  DENY (mount_setattr),
  DENY (pivot_root),
  DENY (chroot),
  /* Joining another namespace by fd.  Creating one (unshare, clone flags)
     is refused in the second program. */
  DENY (setns),
  /* Host identity: the UTS name is islet's to set. */
  DENY (sethostname),
  DENY (setdomainname),
  /* Replacing, stopping or extending the host kernel. */
  DENY (kexec_load),
  DENY (kexec_file_load),
  DENY (reboot),
  DENY (init_module),
  DENY (finit_module),
  DENY (delete_module),
  /* Clocks are host-wide (time namespaces only offset the monotonic ones).
     adjtimex also reads, but the read/set choice lives in a struct BPF
     cannot see, so it goes too; clock_gettime covers reading. */
  DENY (clock_settime),
  DENY (clock_adjtime),
  DENY (settimeofday),
  DENY (adjtimex),
  /* File handles open an inode by number, bypassing the path walk and so the
     mount namespace (the "shocker" container escape). */
  DENY (name_to_handle_at),
  DENY (open_by_handle_at),
  /* Host-wide switches: swap, process accounting, disk quotas. */
  DENY (swapon),
  DENY (swapoff),
  DENY (acct),
  DENY (quotactl),
  DENY_LATE (quotactl_fd),
  /* The kernel log: kernel addresses and other tenants' messages. */
  DENY (syslog),
  /* Hardware and CPU modes: I/O ports, x86 segment tables and vm86. */
  DENY (iopl),
  DENY (ioperm),
  DENY (modify_ldt),
  DENY (vm86),
  DENY (vm86old),
  /* Taking over a terminal left open to the sandbox. */
  DENY (vhangup),
  /* fanotify watches whole filesystems, which may be shared with the host. */
  DENY (fanotify_init),
  DENY (fanotify_mark),
  /* Obsolete interfaces, attack surface with nothing left to offer. */
  DENY (lookup_dcookie),
  DENY (uselib),
  DENY (ustat),
  DENY (sysfs),
  DENY (_sysctl),
  DENY (nfsservctl),
  /* NUMA placement: move_pages and migrate_pages act on other processes,
     and memory policies let code crowd the nodes other tenants run on. */
  DENY (mbind),
  DENY (set_mempolicy),
  DENY (get_mempolicy),
  DENY (move_pages),
  DENY (migrate_pages),
  DENY_LATE (set_mempolicy_home_node),
  /* Secret memory is pinned and cut out of the kernel's direct map:
     unreclaimable, and it fragments the host's page tables. */
  DENY_LATE (memfd_secret),
};
/* clang-format on */

/* personality: only the values Docker permits (plain Linux, the 32-bit
   flavour, UNAME26, and the query).  Others, such as turning off address
   randomisation, fall through to ENOSYS: libseccomp cannot express "any
   other value" with an errno of its own. */
static const uint64_t personalities[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };

/* Namespace flags, refused in clone and unshare: a new user namespace makes
   the caller root in it, which unlocks the kernel interfaces (netfilter,
   mounting filesystems) behind most container escapes; the others would let
   the sandbox rebuild the isolation islet set up.
   CLONE_NEWTIME shares its bit with clone's exit-signal field, where no
   valid signal sets it, so refusing it there costs nothing. */
static const uint64_t ns_flags[] = { CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                     CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET, CLONE_NEWTIME };

/* Socket families the sandbox may use: local sockets, IP, and route
   netlink (interface and address listing for getaddrinfo).  Everything else
   (vsock to the hypervisor, packet, AF_ALG, TIPC, RDS, CAN, Bluetooth, XDP,
   ...) is a way out of the network namespace or a rarely audited protocol
   stack; it fails with EAFNOSUPPORT, as on a kernel built without it, which
   programs already handle.  AF_NETLINK must stay the largest allowed value. */
static const int families[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };

struct argrule
{
  const char *name;
  int nr;
  int errnum;
  unsigned ncmp;
  struct scmp_arg_cmp cmp[2];
};

#define CMP(arg, op, a, b)                                                                         \
  {                                                                                                \
    (arg), (op), (a), (b)                                                                          \
  }

/* Argument checks with a fixed shape; the per-flag and per-family ones are
   generated in build_arg_checks. */
static const struct argrule arg_table[] = {
  /* TIOCSTI pushes bytes into a terminal's input queue and TIOCLINUX can
     paste the console selection: either types commands into the shell that
     owns the terminal, outside the sandbox.  The kernel reads the command as
     32 bits, so only those are compared (CVE-2019-10063). */
  { "ioctl", SCMP_SYS (ioctl), EPERM, 1, { CMP (1, SCMP_CMP_MASKED_EQ, 0xffffffff, TIOCSTI) } },
  { "ioctl", SCMP_SYS (ioctl), EPERM, 1, { CMP (1, SCMP_CMP_MASKED_EQ, 0xffffffff, TIOCLINUX) } },
  /* btrfs ioctls (type 0x94): a user who owns a directory on btrfs may make
     a subvolume there, and a subvolume's bytes escape the sandbox's qgroup
     disk limit.  Overlayfs already refuses them (ENOTTY); this holds even
     where a volume is reached some other way. */
  { "ioctl", SCMP_SYS (ioctl), EPERM, 1, { CMP (1, SCMP_CMP_MASKED_EQ, 0xff00, 0x9400) } },
  /* prlimit64 on another process: the kernel lets a process set the limits
     of any other with its uids, and so the sandbox's init (a hard
     RLIMIT_CPU of 1 s kills even a pid namespace's init) and the next
     exec's waiting process.  A process's own limits (pid 0, which glibc's
     setrlimit and getrlimit pass) stay its own; the comparison is on 64
     bits, so high bits fail closed. */
  { "prlimit64", SCMP_SYS (prlimit64), EPERM, 1, { CMP (0, SCMP_CMP_NE, 0, 0) } },
  /* Any family above the largest allowed one, and any value with high bits
     set (the comparison is on 64 bits, so this fails closed). */
  { "socket", SCMP_SYS (socket), EAFNOSUPPORT, 1, { CMP (0, SCMP_CMP_GT, AF_NETLINK, 0) } },
  /* Netlink other than routing: netfilter, audit, uevents, xfrm and the
     rest configure the kernel or watch the host, which sandboxed code has
     no business doing. */
  { "socket",
    SCMP_SYS (socket),
    EPROTONOSUPPORT,
    2,
    { CMP (0, SCMP_CMP_EQ, AF_NETLINK, 0), CMP (2, SCMP_CMP_GT, NETLINK_ROUTE, 0) } },
  /* Socket pairs only make sense locally. */
  { "socketpair", SCMP_SYS (socketpair), EAFNOSUPPORT, 1, { CMP (0, SCMP_CMP_NE, AF_UNIX, 0) } },
};

#define N_ELEMENTS(a) (sizeof (a) / sizeof ((a)[0]))

static void
release_ctx (scmp_filter_ctx *ctx)
{
  if (*ctx)
    seccomp_release (*ctx);
}

#define cleanup_scmp __attribute__ ((cleanup (release_ctx)))

static uint32_t
action_for (int errnum)
{
  return errnum ? SCMP_ACT_ERRNO ((uint32_t) errnum) : SCMP_ACT_ALLOW;
}

/* A context for the native architecture only, whose bad-architecture path
   kills the process: see the top of the file. */
static int
new_ctx (scmp_filter_ctx *out, uint32_t def_action, struct islet_err *err)
{
  scmp_filter_ctx ctx = seccomp_init (def_action);
  int r;

  if (ctx == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, ENOMEM, "create seccomp context");
  r = seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  /* A binary search over syscall numbers instead of a linear chain: the
     allowlist has some 300 entries and runs on every call. */
  if (r == 0)
    r = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (r < 0)
    {
      seccomp_release (ctx);
      return islet_fail (err, ISLET_E_SYSTEM, -r, "set seccomp filter attributes");
    }
  *out = ctx;
  return 0;
}

static int
build_syscalls (scmp_filter_ctx ctx, struct islet_err *err)
{
  for (size_t i = 0; i < N_ELEMENTS (syscall_table); i++)
    {
      const struct sysrule *s = &syscall_table[i];
      int nr = s->nr == BY_NAME ? seccomp_syscall_resolve_name (s->name) : s->nr;
      int r;

      /* Not on this architecture, or unknown to this libseccomp; and
         libseccomp refuses rules that repeat the default action. */
      if (nr < 0 || s->errnum == ENOSYS)
        continue;
      r = seccomp_rule_add (ctx, action_for (s->errnum), nr, 0);
      if (r < 0)
        return islet_fail (err, ISLET_E_SYSTEM, -r, "seccomp rule for `%s`", s->name);
    }
  for (size_t i = 0; i < N_ELEMENTS (personalities); i++)
    {
      struct scmp_arg_cmp eq = CMP (0, SCMP_CMP_EQ, personalities[i], 0);
      int r = seccomp_rule_add_array (ctx, SCMP_ACT_ALLOW, SCMP_SYS (personality), 1, &eq);
      if (r < 0)
        return islet_fail (err, ISLET_E_SYSTEM, -r, "seccomp rule for personality %#llx",
                           (unsigned long long) personalities[i]);
    }
  return 0;
}

static bool
family_allowed (int family)
{
  for (size_t i = 0; i < N_ELEMENTS (families); i++)
    if (families[i] == family)
      return true;
  return false;
}

static int
add_arg_rule (scmp_filter_ctx ctx, const struct argrule *a, struct islet_err *err)
{
  int r = seccomp_rule_add_array (ctx, action_for (a->errnum), a->nr, a->ncmp, a->cmp);
  if (r < 0)
    return islet_fail (err, ISLET_E_SYSTEM, -r, "seccomp argument rule for `%s`", a->name);
  return 0;
}

static int
build_arg_checks (scmp_filter_ctx ctx, struct islet_err *err)
{
  for (size_t i = 0; i < N_ELEMENTS (arg_table); i++)
    if (add_arg_rule (ctx, &arg_table[i], err) < 0)
      return -1;
  /* Both calls take the flags as their first argument on x86_64 and
     aarch64 (s390 swaps clone's first two; islet does not target it). */
  for (size_t i = 0; i < N_ELEMENTS (ns_flags); i++)
    {
      struct argrule in_clone = { "clone",
                                  SCMP_SYS (clone),
                                  EPERM,
                                  1,
                                  { CMP (0, SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]) } };
      struct argrule in_unshare = { "unshare",
                                    SCMP_SYS (unshare),
                                    EPERM,
                                    1,
                                    { CMP (0, SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]) } };
      if (add_arg_rule (ctx, &in_clone, err) < 0 || add_arg_rule (ctx, &in_unshare, err) < 0)
        return -1;
    }
  /* The families below the largest allowed one that are not allowed. */
  for (int family = 0; family < AF_NETLINK; family++)
    {
      struct argrule family_rule = {
        "socket", SCMP_SYS (socket), EAFNOSUPPORT, 1, { CMP (0, SCMP_CMP_EQ, (uint64_t) family, 0) }
      };
      if (!family_allowed (family) && add_arg_rule (ctx, &family_rule, err) < 0)
        return -1;
    }
  return 0;
}

/* libseccomp 2.5 can only write BPF to an fd: export into a memfd and read
   it back.  *out is allocated; *count is in instructions. */
static int
export_bpf (scmp_filter_ctx ctx, struct sock_filter **out, size_t *count, struct islet_err *err)
{
  cleanup_close int fd = -1;
  cleanup_free struct sock_filter *insns = NULL;
  off_t size;
  ssize_t n;
  int r;

  fd = memfd_create ("islet-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create memfd for the seccomp filter");
  r = seccomp_export_bpf (ctx, fd);
  if (r < 0)
    return islet_fail (err, ISLET_E_SYSTEM, -r, "export seccomp filter");
  size = lseek (fd, 0, SEEK_END);
  if (size < 0 || lseek (fd, 0, SEEK_SET) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "seek in the seccomp filter");
  if (size == 0 || size % (off_t) sizeof *insns != 0)
    return islet_fail (err, ISLET_E_SYSTEM, EPROTO, "exported seccomp filter has %lld bytes",
                       (long long) size);
  /* The kernel's limit for one program; sock_fprog's length is 16 bits. */
  if (size / (off_t) sizeof *insns > BPF_MAXINSNS)
    return islet_fail (err, ISLET_E_LIMIT, E2BIG, "seccomp filter of %lld instructions",
                       (long long) (size / (off_t) sizeof *insns));
  insns = islet_xmalloc ((size_t) size);
  n = islet_read_all (fd, insns, (size_t) size);
  if (n < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "read back the seccomp filter");
  if (n != size)
    return islet_fail (err, ISLET_E_SYSTEM, EPROTO, "read back the seccomp filter: short read");
  *count = (size_t) size / sizeof *insns;
  *out = islet_take_ptr (&insns);
  return 0;
}

int
islet_seccomp_compile (struct islet_seccomp **out, struct islet_err *err)
{
  cleanup_scmp scmp_filter_ctx syscalls = NULL;
  cleanup_scmp scmp_filter_ctx args = NULL;
  cleanup_free struct sock_filter *table = NULL;
  cleanup_free struct sock_filter *checks = NULL;
  size_t len[ISLET_SECCOMP_NPROGS] = { 0, 0 };
  struct sock_filter *insns;
  struct islet_seccomp *f;

  if (new_ctx (&syscalls, SCMP_ACT_ERRNO (ENOSYS), err) < 0 || build_syscalls (syscalls, err) < 0)
    return islet_wrap (err, "build the syscall table");
  if (new_ctx (&args, SCMP_ACT_ALLOW, err) < 0 || build_arg_checks (args, err) < 0)
    return islet_wrap (err, "build the argument checks");
  if (export_bpf (syscalls, &table, &len[ISLET_SECCOMP_PROG_SYSCALLS], err) < 0
      || export_bpf (args, &checks, &len[ISLET_SECCOMP_PROG_ARGS], err) < 0)
    return -1;

  /* One block: the handle, then both programs' instructions. */
  f = islet_xmalloc (sizeof *f + (len[0] + len[1]) * sizeof (struct sock_filter));
  insns = (struct sock_filter *) (f + 1);
  f->progs[ISLET_SECCOMP_PROG_SYSCALLS].filter = insns;
  f->progs[ISLET_SECCOMP_PROG_ARGS].filter = insns + len[ISLET_SECCOMP_PROG_SYSCALLS];
  memcpy (f->progs[ISLET_SECCOMP_PROG_SYSCALLS].filter, table,
          len[ISLET_SECCOMP_PROG_SYSCALLS] * sizeof *table);
  memcpy (f->progs[ISLET_SECCOMP_PROG_ARGS].filter, checks,
          len[ISLET_SECCOMP_PROG_ARGS] * sizeof *checks);
  for (int i = 0; i < ISLET_SECCOMP_NPROGS; i++)
    f->progs[i].len = (unsigned short) len[i];
  *out = f;
  return 0;
}

void
islet_seccomp_free (struct islet_seccomp *filter)
{
  free (filter);
}
