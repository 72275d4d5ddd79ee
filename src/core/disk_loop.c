/* The pool's image and its mount: making the allocated image with mkfs.btrfs,
 * binding it to a loop device, mounting and unmounting it, and reading
 * mountinfo to know what is mounted where. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/loop.h>

#include "disk_internal.h"
#include "islet/contain.h"
#include "islet/util.h"

#define LOOP_RELEASE_TIMEOUT_NS (5ull * 1000000000)

void
disk_sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
}

struct mount_query
{
  const char *path;
  char **fstype, **source;
  int found;
};

static int
match_mount (const struct islet_mount *m, void *data, struct islet_err *err)
{
  struct mount_query *q = data;

  (void) err;
  if (strcmp (m->point, q->path) != 0)
    return 0;
  free (*q->fstype);
  free (*q->source);
  *q->fstype = islet_xstrdup (m->fstype);
  *q->source = islet_xstrdup (m->source);
  q->found = 1;
  return 0;
}

/* Find the topmost mount at `path` in this mount namespace.  Returns 1
 * and fills *fstype and *source (malloc'd) when there is one, else 0. */
int
disk_find_mount (const char *path, char **fstype, char **source, struct islet_err *err)
{
  struct mount_query q = { path, fstype, source, 0 };

  if (islet_mountinfo_each (match_mount, &q, err) < 0)
    return -1;
  return q.found;
}

static char *
find_program (const char *name)
{
  static const char fallback_path[]
      = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin";
  const char *env = getenv ("PATH");
  cleanup_free char *path = islet_xasprintf ("%s:%s", env ? env : "", fallback_path);
  char *dir, *rest = path;

  /* daemons often run with a PATH that lacks the sbin directories */
  while ((dir = strsep (&rest, ":")) != NULL)
    {
      char *candidate;

      if (*dir != '/')
        continue;
      candidate = islet_xasprintf ("%s/%s", dir, name);
      if (access (candidate, X_OK) == 0)
        return candidate;
      free (candidate);
    }
  return NULL;
}

/* Run a program (no shell) with stdin and stdout on /dev/null; on failure
 * the error carries the end of what it wrote to stderr. */
static int
run_program (char *const argv[], struct islet_err *err)
{
  char out[2048];
  size_t used = 0;
  int fds[2], errfds[2], status = 0, child_errno = 0;
  pid_t pid;

  if (pipe2 (fds, O_CLOEXEC) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "pipe");
  /* errfds carries the errno of a child that failed before exec; a
   * successful exec closes it empty */
  if (pipe2 (errfds, O_CLOEXEC) < 0)
    {
      int e = errno;
      close (fds[0]);
      close (fds[1]);
      return islet_fail (err, ISLET_E_SYSTEM, e, "pipe");
    }
  pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (fds[0]);
      close (fds[1]);
      close (errfds[0]);
      close (errfds[1]);
      return islet_fail (err, ISLET_E_SYSTEM, e, "fork");
    }
  if (pid == 0)
    {
      /* only async-signal-safe calls: the parent may have threads */
      int null = open ("/dev/null", O_RDWR);
      if (null < 0 || dup2 (null, 0) < 0 || dup2 (null, 1) < 0 || dup2 (fds[1], 2) < 0)
        {
          int e = errno;
          (void) !write (errfds[1], &e, sizeof e);
          _exit (126);
        }
      close_range (3, ~0U, CLOSE_RANGE_CLOEXEC);
      execv (argv[0], argv);
      {
        int e = errno;
        (void) !write (errfds[1], &e, sizeof e);
      }
      _exit (127);
    }
  close (fds[1]);
  close (errfds[1]);
  while (read (errfds[0], &child_errno, sizeof child_errno) < 0 && errno == EINTR)
    ;
  close (errfds[0]);
  for (;;)
    {
      ssize_t n = read (fds[0], out + used, sizeof out - 1 - used);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      used += (size_t) n;
      if (used == sizeof out - 1) /* keep the end, where the error is */
        {
          memmove (out, out + sizeof out / 2, used - sizeof out / 2);
          used -= sizeof out / 2;
        }
    }
  close (fds[0]);
  out[used] = '\0';
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "wait for `%s`", argv[0]);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  if (child_errno != 0)
    return islet_fail (err, islet_errkind_from_errno (child_errno), child_errno, "run `%s`",
                       argv[0]);
  for (char *p = out; *p; p++)
    if (*p == '\n')
      *p = ' ';
  if (WIFEXITED (status))
    return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s` exited with %d: %s", argv[0],
                       WEXITSTATUS (status), out);
  return islet_fail (err, ISLET_E_SYSTEM, 0, "`%s` killed by signal %d", argv[0],
                     WTERMSIG (status));
}

/* Make the image, formatted under a temporary name so that a crash
 * midway never leaves a pool.img that is not a file system. */
int
disk_make_image (const char *image, uint64_t size, struct islet_err *err)
{
  cleanup_free char *tmp = islet_xasprintf ("%s.tmp", image);
  cleanup_free char *mkfs = NULL;
  cleanup_close int fd = -1;

  if (access (image, F_OK) == 0)
    return 0;
  mkfs = find_program ("mkfs.btrfs");
  if (mkfs == NULL)
    return islet_fail (err, ISLET_E_NOTFOUND, ENOENT,
                       "find mkfs.btrfs (is btrfs-progs installed?)");
  fd = open (tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create `%s`", tmp);
  /* allocated, not sparse: a write of the loop device must never meet a
   * full host disk (disk_space.c) */
  if (ftruncate (fd, (off_t) size) < 0 || disk_allocate (fd, 0, size) < 0)
    {
      int e = errno;
      (void) unlink (tmp);
      return islet_fail (err, islet_errkind_from_errno (e), e, "allocate %llu MiB for `%s`",
                         (unsigned long long) (size / MIB), tmp);
    }
  {
    /* single profiles: DUP metadata would only double the writes of a
     * scratch file system that lives on one host disk anyway; -K skips
     * discarding a file that is all holes */
    char *argv[] = {
      mkfs, "-q", "-K", "-L", "islet-pool", "-m", "single", "-d", "single", tmp, NULL
    };
    if (run_program (argv, err) < 0)
      {
        (void) unlink (tmp);
        return -1;
      }
  }
  if (rename (tmp, image) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "rename `%s`", tmp);
  return 0;
}

/* Bind a free loop device to image with autoclear, so the kernel frees the
 * device when the last user (the mount) goes.  Returns the open device,
 * which keeps it bound until then, and its number in *index. */
static int
loop_attach (const char *image, int *index, struct islet_err *err)
{
  cleanup_close int ctl = -1;
  cleanup_close int backing = open (image, O_RDWR | O_CLOEXEC);
  int attempt;

  if (backing < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", image);
  ctl = open ("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0)
    return islet_fail (err, errno == ENOENT ? ISLET_E_NOTFOUND : ISLET_E_SYSTEM, errno,
                       "open /dev/loop-control");
  /* another process may take the free device between the two calls */
  for (attempt = 0; attempt < 16; attempt++)
    {
      cleanup_close int fd = -1;
      cleanup_free char *path = NULL;
      struct loop_config cfg;
      int r, n = ioctl (ctl, LOOP_CTL_GET_FREE);

      if (n < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "get a free loop device");
      path = islet_xasprintf ("/dev/loop%d", n);
      fd = open (path, O_RDWR | O_CLOEXEC);
      if (fd < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
      memset (&cfg, 0, sizeof cfg);
      cfg.fd = (uint32_t) backing;
      snprintf ((char *) cfg.info.lo_file_name, sizeof cfg.info.lo_file_name, "%s", image);
      /* direct I/O keeps the image's blocks out of the host page cache,
       * which already holds them once as btrfs pages */
      cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
      r = ioctl (fd, LOOP_CONFIGURE, &cfg);
      if (r < 0 && errno == EINVAL)
        {
          cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
          r = ioctl (fd, LOOP_CONFIGURE, &cfg);
        }
      if (r < 0 && errno == EBUSY)
        continue;
      if (r < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "bind `%s` to `%s`", path, image);
      *index = n;
      return islet_take_fd (&fd);
    }
  return islet_fail (err, ISLET_E_SYSTEM, EBUSY, "bind a loop device to `%s`", image);
}

int
disk_mount_image (const char *image, const char *mnt, struct islet_err *err)
{
  cleanup_close int loop = -1;
  cleanup_free char *dev = NULL;
  int index = -1;

  if (mkdir (mnt, 0700) < 0 && errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", mnt);
  loop = loop_attach (image, &index, err);
  if (loop < 0)
    return -1;
  dev = islet_xasprintf ("/dev/loop%d", index);
  /* nosuid/nodev: nothing in the pool is meant to run or open on the host.
   * nodiscard: a discard would punch holes in the allocated image (the
   * loop device passes it on), and the host could then fill them */
  if (mount (dev, mnt, "btrfs", MS_NOSUID | MS_NODEV | MS_NOATIME, "nodiscard") < 0)
    {
      int e = errno;
      (void) ioctl (loop, LOOP_CLR_FD, 0);
      return islet_fail (err, ISLET_E_SYSTEM, e, "mount `%s` (`%s`) on `%s`", dev, image, mnt);
    }
  return 0;
}

/* The loop device ("loop3") bound to image, or NULL. */
char *
disk_loop_of_image (const char *image)
{
  cleanup_dir DIR *d = opendir ("/sys/block");
  struct dirent *de;
  int failed = 0; /* a loop device that could not be read, not one with no file */

  if (d == NULL)
    return NULL;
  while ((de = readdir (d)) != NULL)
    {
      cleanup_free char *file = NULL;
      cleanup_free char *text = NULL;
      struct islet_err e;

      if (strncmp (de->d_name, "loop", 4) != 0)
        continue;
      file = islet_xasprintf ("%s/loop/backing_file", de->d_name);
      if (islet_read_file_at (dirfd (d), file, PATH_MAX + 32, &text, NULL, &e) < 0)
        {
          if (e.errnum != ENOENT)
            failed = e.errnum;
          continue;
        }
      text[strcspn (text, "\n")] = '\0';
      if (strcmp (text, image) == 0)
        return islet_xstrdup (de->d_name);
    }
  /* why it was not found, for the caller's message */
  errno = failed ? failed : ENXIO;
  return NULL;
}

/* Unmount islet's pool at mnt.  Returns 1 if a mount there is not islet's
 * image (someone's own btrfs, left mounted), else 0. */
int
disk_unmount_pool (const char *mnt, const char *image, struct islet_err *err)
{
  int i;

  for (i = 0; i < 16; i++)
    {
      cleanup_free char *fstype = NULL;
      cleanup_free char *source = NULL;
      cleanup_free char *loop = NULL;
      int r = disk_find_mount (mnt, &fstype, &source, err);

      if (r <= 0)
        return r;
      loop = disk_loop_of_image (image);
      if (loop == NULL || strncmp (source, "/dev/", 5) != 0 || strcmp (source + 5, loop) != 0)
        return 1;
      /* never lazily: a detached but live pool would keep the loop device
       * and the image's space with nothing left to show for it */
      if (umount2 (mnt, UMOUNT_NOFOLLOW) < 0)
        {
          if (errno == EBUSY)
            return islet_fail (err, ISLET_E_CONFLICT, EBUSY,
                               "unmount `%s`: still in use (running sandboxes or open files?)",
                               mnt);
          return islet_fail (err, ISLET_E_SYSTEM, errno, "unmount `%s`", mnt);
        }
    }
  return islet_fail (err, ISLET_E_SYSTEM, 0, "unmount `%s`: too many mounts stacked there", mnt);
}

/* How many mount namespaces disk_loop_holders names before "and N more". */
#define HOLDERS_NAMED 4

struct holder_query
{
  const char *source; /* "/dev/loop3" */
  char *point;        /* where the first match is mounted, malloc'd */
};

static int
match_source (const struct islet_mount *m, void *data, struct islet_err *err)
{
  struct holder_query *q = data;

  (void) err;
  if (strcmp (m->source, q->source) != 0 || strcmp (m->fstype, "btrfs") != 0)
    return 0;
  q->point = islet_xstrdup (m->point);
  return 1;
}

/* Control characters of s replaced with '?': a process names itself (and a
 * sandbox's processes may name their mounts), and this goes to a terminal. */
static void
printable (char *s)
{
  for (; *s; s++)
    if ((unsigned char) *s < 0x20 || *s == 0x7f)
      *s = '?';
}

/* The processes that keep the pool's file system on loop ("loop3") mounted:
 * one per mount namespace that has it, with where it is mounted there,
 * as "pid 123 (sleep) at /x/pool, pid 456 (isletd) at /x/pool"; NULL if no
 * namespace shows it (then whoever binds the device holds it open). */
char *
disk_loop_holders (const char *loop)
{
  cleanup_free char *source = islet_xasprintf ("/dev/%s", loop);
  cleanup_free ino_t *seen = NULL;
  cleanup_dir DIR *proc = opendir ("/proc");
  size_t n_seen = 0, cap = 0, found = 0, len = 0;
  char *text = NULL;
  FILE *out;
  struct dirent *de;

  if (proc == NULL)
    return NULL;
  out = open_memstream (&text, &len);
  if (out == NULL)
    return NULL;
  while ((de = readdir (proc)) != NULL)
    {
      struct holder_query q = { source, NULL };
      cleanup_free char *ns = NULL;
      cleanup_free char *info = NULL;
      cleanup_free char *comm = NULL;
      struct islet_err e;
      struct stat st;
      size_t i;

      if (de->d_name[0] < '1' || de->d_name[0] > '9')
        continue;
      /* the namespace once, through the first of its processes */
      ns = islet_xasprintf ("%s/ns/mnt", de->d_name);
      if (fstatat (dirfd (proc), ns, &st, 0) < 0)
        continue;
      for (i = 0; i < n_seen && seen[i] != st.st_ino; i++)
        ;
      if (i < n_seen)
        continue;
      if (n_seen == cap)
        {
          cap = cap ? cap * 2 : 16;
          seen = islet_xrealloc (seen, cap * sizeof *seen);
        }
      seen[n_seen++] = st.st_ino;
      info = islet_xasprintf ("/proc/%s/mountinfo", de->d_name);
      if (islet_mountinfo_each_in (info, match_source, &q, &e) < 0 || q.point == NULL)
        continue;
      if (found < HOLDERS_NAMED)
        {
          cleanup_free char *file = islet_xasprintf ("%s/comm", de->d_name);
          if (islet_read_file_at (dirfd (proc), file, 64, &comm, NULL, &e) == 0)
            {
              comm[strcspn (comm, "\n")] = '\0';
              printable (comm);
            }
          printable (q.point);
          fprintf (out, "%spid %s (%s) at %s", found ? ", " : "", de->d_name, comm ? comm : "?",
                   q.point);
        }
      found++;
      free (q.point);
    }
  if (found > HOLDERS_NAMED)
    fprintf (out, " and %zu more mount namespaces", found - HOLDERS_NAMED);
  if (fclose (out) != 0 || found == 0)
    {
      free (text);
      return NULL;
    }
  return text;
}

char *
disk_loop_bound_after (const char *image, uint64_t wait_ns)
{
  uint64_t start = islet_now_ns ();

  for (;;)
    {
      char *loop = disk_loop_of_image (image);
      uint64_t waited = islet_now_ns () - start;
      if (loop == NULL || waited > wait_ns)
        return loop;
      free (loop);
      /* often gone within milliseconds; a longer wait scans /sys/block less */
      disk_sleep_ms (waited < 50ull * 1000000 ? 2 : 10);
    }
}

/* Autoclear releases the loop device when its last user goes; a copy of
 * the mount in another mount namespace is such a user.  holders: who had
 * such copies (disk_loop_holders) before the caller removed the mount
 * point, for the message; NULL to look now. */
int
disk_wait_loop_released (const char *image, const char *holders, struct islet_err *err)
{
  cleanup_free char *loop = disk_loop_bound_after (image, LOOP_RELEASE_TIMEOUT_NS);
  cleanup_free char *now = NULL;

  if (loop == NULL)
    return 0;
  if (holders == NULL)
    holders = now = disk_loop_holders (loop);
  if (holders != NULL)
    return islet_fail (err, ISLET_E_CONFLICT, EBUSY,
                       "`%s` is still bound to /dev/%s: its file system is mounted, or "
                       "in use, in the mount namespaces of %s; stop them, then try again",
                       image, loop, holders);
  return islet_fail (err, ISLET_E_CONFLICT, EBUSY,
                     "`%s` is still bound to /dev/%s, which no mount namespace shows "
                     "mounted: a process holds the device open (fuser -v /dev/%s)",
                     image, loop, loop);
}
