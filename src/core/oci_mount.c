/* The root overlay of an OCI image.
 *
 * Layer files keep the owners their tar gave them (0..65535), on the host.
 * Each sandbox sees them through idmapped mounts (open_tree + mount_setattr
 * MOUNT_ATTR_IDMAP) that map image uid N to host uid base+N, which the
 * sandbox's user namespace maps back to N: files keep the image's ownership
 * in every sandbox whatever its uid range, while the layers stay shared and
 * unchanged on disk.  overlayfs takes idmapped lower layers; the layers are
 * given to it one by one (fsconfig "lowerdir+", as fds), so the mount
 * option's page-size limit never applies however many layers an image has.
 *
 * Runs in the sandbox's first process, as real root, in its new mount
 * namespace, with the stage (rootfs.c) as its current directory.  The
 * user namespace of the idmap is made by the supervisor (islet_idmap_ahead)
 * while the init starts, and handed over (init.c); the supervisor can leave
 * its holder to die and be reaped after the sandbox runs: made here, the
 * wait for the holder's death, a turn of a busy scheduler, was most of what
 * a create from an image cost more than one from `host`. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/contain.h"
#include "islet/oci.h"
#include "islet/util.h"

/* The child of islet_idmap_userns: born in the new user namespace, it
 * only holds it until it is killed.  It shares the caller's memory and
 * thread area and runs on a stack in the caller's frame, so it makes raw
 * system calls only (none of libc's state, which is the caller's, is
 * touched: syscall(2) sets errno on a failure only, and neither of these
 * fails), and blocks every signal: no handler of the caller's runs in it.
 * ppoll with no fds and no timeout waits for ever, on every arch. */
static int
hold_userns (void *arg)
{
  uint64_t all = ~(uint64_t) 0;

  (void) arg;
  syscall (SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, sizeof all);
  for (;;)
    syscall (SYS_ppoll, NULL, 0, NULL, NULL, 0);
  return 0;
}

/* The host's pid of the process behind pidfd, from its fdinfo in the
 * host's /proc (the caller may be a pid namespace's init, whose own pids
 * are not the host's, while /proc is still the host's); 0 if unknown. */
static pid_t
host_pid (int pidfd)
{
  char path[64], buf[1024];
  ssize_t n;
  cleanup_close int fd = -1;
  const char *at;

  snprintf (path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || (n = read (fd, buf, sizeof buf - 1)) <= 0)
    return 0;
  buf[n] = '\0';
  at = strstr (buf, "\nPid:\t");
  return at ? (pid_t) atoi (at + 6) : 0;
}

/* The holder's namespace, its maps written: host is its pid in /proc. */
static int
open_mapped (pid_t host, uint32_t base, struct islet_err *err)
{
  char nspath[64];
  int fd;

  if (islet_idmap_write (host, base, err) < 0)
    return -1;
  snprintf (nspath, sizeof nspath, "/proc/%d/ns/user", (int) host);
  fd = open (nspath, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", nspath);
  return fd;
}

/* A user namespace whose 0..RANGE-1 is base..: made by a child cloned into
 * it, which shares this process's memory (no copy of it, as a fork would
 * make) and need not run at all: its maps are written and its namespace
 * opened from here, then it is killed. */
int
islet_idmap_userns (uint32_t base, struct islet_err *err)
{
  _Alignas(16) char stack[4096];
  cleanup_close int pidfd = -1;
  pid_t pid, host;
  int fd = -1;

  pid = clone (hold_userns, stack + sizeof stack, CLONE_VM | CLONE_NEWUSER | CLONE_PIDFD | SIGCHLD,
               NULL, &pidfd);
  if (pid < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "make a user namespace for the image's layers");
  host = host_pid (pidfd);
  if (host <= 0)
    islet_fail (err, ISLET_E_SYSTEM, errno, "find the host pid of the user namespace's holder");
  else
    fd = open_mapped (host, base, err);
  /* the holder uses stack, in this frame: gone before the frame is */
  (void) kill (pid, SIGKILL);
  while (waitpid (pid, NULL, __WALL) < 0 && errno == EINTR)
    ;
  return fd;
}

/* The holder's stack: its own mapping, which outlives this call (the
 * holder is not waited for here) and is unmapped once it is reaped. */
#define AHEAD_STACK 16384

int
islet_idmap_ahead (uint32_t base, struct islet_idmap_ahead *a, struct islet_err *err)
{
  if (islet_idmap_ahead_clone (a, err) < 0)
    return -1;
  return islet_idmap_ahead_map (base, a, err);
}

int
islet_idmap_ahead_clone (struct islet_idmap_ahead *a, struct islet_err *err)
{
  *a = (struct islet_idmap_ahead) ISLET_IDMAP_AHEAD_NONE;
  a->stack = mmap (NULL, AHEAD_STACK, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (a->stack == MAP_FAILED)
    {
      a->stack = NULL;
      return islet_fail (err, ISLET_E_SYSTEM, errno, "map a stack for the idmap's holder");
    }
  /* the caller's pids are /proc's: clone's answer is the pid to write at */
  a->pid = clone (hold_userns, (char *) a->stack + AHEAD_STACK,
                  CLONE_VM | CLONE_NEWUSER | CLONE_PIDFD | SIGCHLD, NULL, &a->pidfd);
  if (a->pid < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "make a user namespace for the image's layers");
      islet_idmap_ahead_end (a);
      return -1;
    }
  return 0;
}

int
islet_idmap_ahead_map (uint32_t base, struct islet_idmap_ahead *a, struct islet_err *err)
{
  a->userns = open_mapped (a->pid, base, err);
  /* killed now, reaped later: the namespace lives on in the fd */
  (void) syscall (SYS_pidfd_send_signal, a->pidfd, SIGKILL, NULL, 0);
  if (a->userns < 0)
    {
      islet_idmap_ahead_end (a);
      return -1;
    }
  return 0;
}

void
islet_idmap_ahead_end (struct islet_idmap_ahead *a)
{
  bool gone = a->pidfd < 0;
  siginfo_t si;
  int r;

  if (a->userns >= 0)
    close (a->userns);
  /* by its pidfd: a loop of waitpid(-1) may have reaped it already (then
     ECHILD), and its pid may name another child by now */
  if (a->pidfd >= 0)
    {
      (void) syscall (SYS_pidfd_send_signal, a->pidfd, SIGKILL, NULL, 0);
      while ((r = waitid (P_PIDFD, (id_t) a->pidfd, &si, WEXITED)) < 0 && errno == EINTR)
        ;
      gone = r == 0 || errno == ECHILD;
      close (a->pidfd);
    }
  /* only a dead holder's stack is free (else it stays mapped, unused) */
  if (a->stack && gone)
    munmap (a->stack, AHEAD_STACK);
  *a = (struct islet_idmap_ahead) ISLET_IDMAP_AHEAD_NONE;
}

/* A detached copy of the layer's directory, seen through the idmap. */
static int
idmapped_layer (const char *layer, int userns, struct islet_err *err)
{
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID,
                             .userns_fd = (uint64_t) userns };
  cleanup_close int fd = open_tree (AT_FDCWD, layer, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open_tree `%s`", layer);
  if (mount_setattr (fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "idmap `%s`", layer);
  return islet_take_fd (&fd);
}

int
islet_oci_mount_root (char *const *layers, size_t n_layers, uint32_t base, int ahead,
                      const char *upper, const char *work, const char *target,
                      struct islet_err *err)
{
  cleanup_close int made = -1;
  cleanup_close int fs = -1;
  cleanup_close int mnt = -1;
  int userns = ahead;

  if (n_layers == 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "the image has no layers");
  if (userns < 0 && (userns = made = islet_idmap_userns (base, err)) < 0)
    return -1;
  fs = fsopen ("overlay", FSOPEN_CLOEXEC);
  if (fs < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "fsopen overlay");
  /* overlayfs clones each lower layer, which it can only do for a mount
     attached in this mount namespace: each idmapped copy is attached in
     the stage (the current directory) as l0, l1, ... and named relative to
     it, so the options the sandbox reads in mountinfo show no host path.
     lowerdir+ stacks downwards: the image's last layer is the top one. */
  for (size_t i = n_layers; i-- > 0;)
    {
      cleanup_close int l = idmapped_layer (layers[i], userns, err);
      char at[32];
      snprintf (at, sizeof at, "l%zu", i);
      if (l < 0)
        return -1;
      if (mkdir (at, 0700) < 0 || move_mount (l, "", AT_FDCWD, at, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "attach layer `%s`", layers[i]);
      if (fsconfig (fs, FSCONFIG_SET_STRING, "lowerdir+", at, 0) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "overlay layer `%s`", layers[i]);
    }
  if (fsconfig (fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0
      || fsconfig (fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "overlay upper `%s`", upper);
  if (fsconfig (fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create the image's overlay");
  mnt = fsmount (fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  if (mnt < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "fsmount the image's overlay");
  if (move_mount (mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mount the image's overlay on `%s`", target);
  return 0;
}
