/* The sandbox's mount namespace.  It runs in the sandbox's first process, as
 * real root, before that process enters its user namespace: every mount made
 * here belongs to the host's user namespace, so nothing in the sandbox can
 * unmount, remount or move it (mount is also outside its seccomp filter). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "islet/contain.h"
#include "islet/netsetup.h"
#include "islet/oci.h"
#include "islet/util.h"

/* /proc files that leak host state or reach the host kernel: covered with an
 * empty character device (the OCI runtimes' masked paths). */
static const char *const proc_masked_files[] = {
  "kcore",                                         /* host physical memory */
  "keys",                                          /* the kernel's key list */
  "timer_list",                                    /* host timers, with pids and functions */
  "sched_debug",                                   /* every host task's scheduler state */
  "latency_stats", "timer_stats", "sysrq-trigger", /* reboot or crash the host */
};
/* /proc directories with hardware and driver details: an empty read-only directory. */
static const char *const proc_masked_dirs[] = { "acpi", "scsi", "asound", "driver" };
/* Kernel tunables and bus details: read-only. */
static const char *const proc_readonly[] = { "sys", "bus", "fs", "irq" };

/* The ptys a sandbox may hold at once.  Every devpts instance draws on the
 * one host-wide pool (kernel.pty.max less kernel.pty.reserve, 3,072 by
 * default): without a bound of its own, one sandbox could take them all. */
#define PTY_MAX "64"

static const struct
{
  const char *name;
  unsigned major, minor;
} dev_nodes[] = {
  { "null", 1, 3 },   { "zero", 1, 5 },    { "full", 1, 7 },
  { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static const struct
{
  const char *name, *target;
} dev_links[] = {
  { "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
  { "stderr", "/proc/self/fd/2" }, { "ptmx", "pts/ptmx" },
};

static int
do_mount (const char *src, const char *dst, const char *type, unsigned long flags, const char *data,
          struct islet_err *err)
{
  if (mount (src, dst, type, flags, data) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mount `%s` on `%s`",
                       src    ? src
                       : type ? type
                              : "(remount)",
                       dst);
  return 0;
}

/* A read-only bind: the remount is what makes it read-only, and it also
 * carries nosuid/nodev because a bind keeps the source's flags otherwise. */
static int
bind_ro (const char *src, const char *dst, unsigned long extra, struct islet_err *err)
{
  if (do_mount (src, dst, NULL, MS_BIND | MS_REC, NULL, err) < 0)
    return -1;
  return do_mount (NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | extra,
                   NULL, err);
}

static int
setup_proc (const char *root, struct islet_err *err)
{
  cleanup_free char *proc = islet_xasprintf ("%s/proc", root);
  cleanup_free char *null = islet_xasprintf ("%s/dev/null", root);
  cleanup_free char *empty = islet_xasprintf ("%s/dev/.masked", root);

  if (do_mount ("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0)
    return -1;
  for (size_t i = 0; i < sizeof proc_masked_files / sizeof proc_masked_files[0]; i++)
    {
      cleanup_free char *p = islet_xasprintf ("%s/%s", proc, proc_masked_files[i]);
      if (access (p, F_OK) == 0 && do_mount (null, p, NULL, MS_BIND, NULL, err) < 0)
        return -1;
    }
  /* An empty directory made on /dev's tmpfs, bound read-only on each, then
     removed: the binds show a directory that is gone, in which nothing can
     be made, and need no superblock of their own (every superblock a
     sandbox holds costs each memory cgroup on the host a slot, a
     memcg-aware shrinker each). */
  if (mkdir (empty, 0555) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", empty);
  for (size_t i = 0; i < sizeof proc_masked_dirs / sizeof proc_masked_dirs[0]; i++)
    {
      cleanup_free char *p = islet_xasprintf ("%s/%s", proc, proc_masked_dirs[i]);
      if (access (p, F_OK) == 0 && bind_ro (empty, p, MS_NOEXEC, err) < 0)
        return -1;
    }
  if (rmdir (empty) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "rmdir `%s`", empty);
  for (size_t i = 0; i < sizeof proc_readonly / sizeof proc_readonly[0]; i++)
    {
      cleanup_free char *p = islet_xasprintf ("%s/%s", proc, proc_readonly[i]);
      if (access (p, F_OK) == 0 && bind_ro (p, p, MS_NOEXEC, err) < 0)
        return -1;
    }
  return 0;
}

/* A minimal /dev: a handful of harmless character devices made here (the
 * sandbox itself can never make one), a private devpts and a /dev/shm.
 * /dev/shm is a directory of the same tmpfs mounted again with nodev, not a
 * tmpfs of its own: the sandbox can write nothing else in /dev (host root's,
 * mode 755), so its size is /dev/shm's, and a superblock fewer per sandbox
 * is a slot fewer in every memory cgroup of the host (see setup_proc). */
static int
setup_dev (const char *root, struct islet_err *err)
{
  cleanup_free char *dev = islet_xasprintf ("%s/dev", root);
  cleanup_close int dfd = -1;

  if (do_mount ("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64m", err) < 0)
    return -1;
  dfd = open (dev, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dev);
  for (size_t i = 0; i < sizeof dev_nodes / sizeof dev_nodes[0]; i++)
    if (mknodat (dfd, dev_nodes[i].name, S_IFCHR | 0666,
                 makedev (dev_nodes[i].major, dev_nodes[i].minor))
            < 0
        || fchmodat (dfd, dev_nodes[i].name, 0666, 0) < 0)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "mknod `%s/%s`", dev, dev_nodes[i].name);
  for (size_t i = 0; i < sizeof dev_links / sizeof dev_links[0]; i++)
    if (symlinkat (dev_links[i].target, dfd, dev_links[i].name) < 0)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "symlink `%s/%s`", dev, dev_links[i].name);
  if (mkdirat (dfd, "pts", 0755) < 0 || mkdirat (dfd, "shm", 01777) < 0
      || fchmodat (dfd, "shm", 01777, 0) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir in `%s`", dev);
  {
    cleanup_free char *pts = islet_xasprintf ("%s/pts", dev);
    cleanup_free char *shm = islet_xasprintf ("%s/shm", dev);
    if (do_mount ("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC,
                  "newinstance,ptmxmode=0666,mode=620,max=" PTY_MAX, err)
        < 0)
      return -1;
    if (do_mount (shm, shm, NULL, MS_BIND, NULL, err) < 0
        || do_mount (NULL, shm, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                     err)
               < 0)
      return -1;
  }
  return 0;
}

static int
pivot (const char *root, struct islet_err *err)
{
  if (chdir (root) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "chdir `%s`", root);
  /* pivot_root(".", ".") stacks the old root under the new one; detaching it
     then leaves no path at all from the sandbox to the host's tree. */
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "pivot_root into `%s`", root);
  if (umount2 (".", MNT_DETACH) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "detach the host's root");
  if (chdir ("/") < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "chdir `/`");
  return 0;
}

/* The root overlay, mounted at <stage>/root.  Its options are shown in
 * /proc/self/mountinfo, inside the sandbox too, so they must not name where
 * the layers are in the host's state directory: each layer is first bound
 * into the staging tmpfs under a neutral name (l0, l1, ... for the lower
 * layers, separated by ':' in image->lower as in overlay's own syntax; v for
 * the volume that holds upper and work), and the overlay is mounted with
 * paths relative to the stage.  Those binds go with the host's tree at the
 * pivot; the overlay holds its layers by reference. */
static int
mount_overlay (const struct islet_rootfs *spec, struct islet_err *err)
{
  cleanup_free char *lowers = islet_xstrdup (spec->image->lower ? spec->image->lower : "");
  cleanup_free char *volume = islet_xstrdup (spec->upper);
  cleanup_free char *opts = NULL;
  cleanup_free char *names = islet_xstrdup ("");
  char *slash = strrchr (volume, '/');
  const char *upper = slash ? slash + 1 : "";
  const char *work = strrchr (spec->work, '/');
  char *save = NULL;
  unsigned n = 0;

  if (slash == NULL || work == NULL || (size_t) (slash - volume) != (size_t) (work - spec->work)
      || strncmp (volume, spec->work, (size_t) (slash - volume)) != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "overlay: `%s` and `%s` are not in one directory",
                       spec->upper, spec->work);
  *slash = '\0';
  if (spec->image->layers)
    {
      cleanup_free char *up = islet_xasprintf ("v/%s", upper);
      cleanup_free char *wk = islet_xasprintf ("v/%s", work + 1);
      if (mkdir ("v", 0700) < 0 || mkdir ("root", 0755) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir in the stage");
      if (do_mount (volume, "v", NULL, MS_BIND | MS_REC, NULL, err) < 0)
        return -1;
      return islet_oci_mount_root (spec->image->layers, spec->image->n_layers, spec->uid_base,
                                   spec->userns, up, wk, "root", err);
    }
  for (char *l = strtok_r (lowers, ":", &save); l; l = strtok_r (NULL, ":", &save), n++)
    {
      char name[16];
      char *joined;

      snprintf (name, sizeof name, "l%u", n);
      if (mkdir (name, 0700) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s` in the stage", name);
      if (do_mount (l, name, NULL, MS_BIND | MS_REC, NULL, err) < 0)
        return -1;
      joined = islet_xasprintf ("%s%s%s", names, n ? ":" : "", name);
      free (names);
      names = joined;
    }
  if (n == 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "overlay: the image has no lower layer");
  if (mkdir ("v", 0700) < 0 || mkdir ("root", 0755) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir in the stage");
  if (do_mount (volume, "v", NULL, MS_BIND | MS_REC, NULL, err) < 0)
    return -1;
  opts = islet_xasprintf ("lowerdir=%s,upperdir=v/%s,workdir=v/%s", names, upper, work + 1);
  return do_mount ("overlay", "root", "overlay", MS_NOSUID | MS_NODEV, opts, err);
}

int
islet_rootfs_setup (const struct islet_rootfs *given, struct islet_err *err)
{
  cleanup_free char *root = islet_xasprintf ("%s/root", given->target);
  cleanup_close int taken = -1;
  struct islet_rootfs with_userns = *given;
  const struct islet_rootfs *spec = &with_userns;

  /* Nothing mounted here may propagate back to the host. */
  if (do_mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL, err) < 0)
    return -1;
  /* The stage: a small tmpfs of this mount namespace only (inodes for an
     image of up to about 250 layers). */
  if (do_mount ("stage", spec->target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "mode=700,size=16k,nr_inodes=256", err)
      < 0)
    return -1;
  if (chdir (spec->target) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "chdir `%s`", spec->target);
  /* taken as late as can be: it is made while the steps above run */
  if (with_userns.userns < 0 && with_userns.take_userns && (spec->image->layers || spec->n_mounts)
      && (with_userns.userns = taken = with_userns.take_userns (with_userns.take_arg, err)) < 0)
    return -1;
  if (mount_overlay (spec, err) < 0)
    return islet_wrap (err, "root overlay");
  for (const struct islet_bind *b = spec->image->binds; b && b->source; b++)
    {
      cleanup_free char *dst = islet_xasprintf ("%s%s", root, b->target);
      if (access (b->source, F_OK) < 0)
        continue; /* optional on this host (e.g. no /etc/alternatives) */
      if (bind_ro (b->source, dst, 0, err) < 0)
        return -1;
    }
  if (spec->n_mounts && islet_rootfs_mount_volumes (spec, root, err) < 0)
    return -1;
  if (setup_dev (root, err) < 0 || setup_proc (root, err) < 0)
    return -1;
  return pivot (root, err);
}

static int
mkdir_owned (int dfd, const char *name, mode_t mode, uint32_t base, struct islet_err *err)
{
  if (mkdirat (dfd, name, mode) < 0 && errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", name);
  if (fchownat (dfd, name, base, base, AT_SYMLINK_NOFOLLOW) < 0
      || fchmodat (dfd, name, mode, 0) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "chown `%s`", name);
  return 0;
}

static int
write_owned (int dfd, const char *name, const char *text, uint32_t base, struct islet_err *err)
{
  cleanup_close int fd = openat (dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                                 0644);
  if (fd < 0 || islet_write_all (fd, text, strlen (text)) < 0 || fchown (fd, base, base) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "write `%s`", name);
  return 0;
}

/* In an overlay, a directory present in both layers takes the upper one's
 * owner and mode: creating these few in the upper layer, owned by the
 * sandbox's root, makes /, /etc, /root, /tmp and /workspace its own while the
 * image stays shared and host-owned. */
int
islet_rootfs_prepare_upper (const char *upper, const char *work, uint32_t base,
                            const char *hostname, struct islet_err *err)
{
  cleanup_close int dfd = -1;
  cleanup_free char *hosts = NULL;
  cleanup_free char *hn = NULL;

  if (mkdir (upper, 0755) < 0 && errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", upper);
  if (mkdir (work, 0700) < 0 && errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", work);
  if (chown (upper, base, base) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "chown `%s`", upper);
  dfd = open (upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", upper);
  if (mkdir_owned (dfd, "etc", 0755, base, err) < 0
      || mkdir_owned (dfd, "root", 0700, base, err) < 0
      || mkdir_owned (dfd, "tmp", 01777, base, err) < 0
      || mkdir_owned (dfd, "workspace", 0755, base, err) < 0
      || mkdir_owned (dfd, "home", 0755, base, err) < 0
      /* the rest of the skeleton's top directories: the image's lower
       * copies belong to an unmapped host root, so without these the
       * sandbox's root could not create anything in them */
      || mkdir_owned (dfd, "opt", 0755, base, err) < 0
      || mkdir_owned (dfd, "mnt", 0755, base, err) < 0
      || mkdir_owned (dfd, "srv", 0755, base, err) < 0
      || mkdir_owned (dfd, "run", 0755, base, err) < 0
      || mkdir_owned (dfd, "var", 0755, base, err) < 0
      || mkdir_owned (dfd, "var/tmp", 01777, base, err) < 0
      /* mount points an OCI image may lack */
      || mkdir_owned (dfd, "proc", 0555, base, err) < 0
      || mkdir_owned (dfd, "dev", 0755, base, err) < 0)
    return -1;
  hosts = islet_xasprintf ("127.0.0.1 localhost %s\n::1 localhost %s\n", hostname, hostname);
  hn = islet_xasprintf ("%s\n", hostname);
  /* islet's resolver: it answers only when the sandbox has a network */
  if (write_owned (dfd, "etc/hosts", hosts, base, err) < 0
      || write_owned (dfd, "etc/hostname", hn, base, err) < 0
      || write_owned (dfd, "etc/resolv.conf", "nameserver " ISLET_NET_RESOLVER "\n", base, err) < 0)
    return -1;
  return 0;
}

/* ---- a writable layer copied from another sandbox's ---- */

static __thread uint32_t shift_from, shift_to;
static __thread int shift_errno;

static int
shift_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  bool mu = st->st_uid >= shift_from && st->st_uid - shift_from < ISLET_UID_RANGE;
  bool mg = st->st_gid >= shift_from && st->st_gid - shift_from < ISLET_UID_RANGE;

  (void) ftw;
  if (flag == FTW_NS)
    {
      shift_errno = EIO;
      return 1;
    }
  if (!mu && !mg)
    return 0;
  if (lchown (path, mu ? st->st_uid - shift_from + shift_to : (uid_t) -1,
              mg ? st->st_gid - shift_from + shift_to : (gid_t) -1)
      < 0)
    {
      shift_errno = errno;
      return 1;
    }
  /* a chown clears a file's set-id bits: put them back */
  if (!S_ISLNK (st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID))
      && chmod (path, st->st_mode & 07777) < 0)
    {
      shift_errno = errno;
      return 1;
    }
  return 0;
}

int
islet_rootfs_shift_owners (const char *upper, uint32_t from, uint32_t to, struct islet_err *err)
{
  if (from == to)
    return 0;
  shift_from = from;
  shift_to = to;
  shift_errno = 0;
  /* FTW_PHYS: a symbolic link is changed itself, never followed; nothing
   * else writes in this copy while it is walked (it is not mounted yet) */
  if (nftw (upper, shift_one, 16, FTW_PHYS | FTW_MOUNT) != 0)
    return islet_fail (err, ISLET_E_SYSTEM, shift_errno ? shift_errno : errno,
                       "give the files of `%s` to the new sandbox's uids", upper);
  return 0;
}

/* Rewrite etc/NAME (in etc) from old to new if it still holds what islet
 * wrote (old): edits of the sandbox's own are kept.  Neither a symbolic
 * link nor anything but a regular file is followed or written. */
static int
rename_in (int etc, const char *name, const char *old, const char *new, struct islet_err *err)
{
  cleanup_close int fd = openat (etc, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  size_t n = strlen (old);
  char buf[512];
  struct stat st;
  ssize_t got;

  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || (size_t) st.st_size != n
      || n >= sizeof buf)
    return 0;
  got = pread (fd, buf, n, 0);
  if (got != (ssize_t) n || memcmp (buf, old, n) != 0)
    return 0;
  if (ftruncate (fd, 0) < 0 || pwrite (fd, new, strlen (new), 0) != (ssize_t) strlen (new))
    return islet_fail (err, ISLET_E_SYSTEM, errno, "write `etc/%s`", name);
  return 0;
}

int
islet_rootfs_rename_upper (const char *upper, const char *old_name, const char *new_name,
                           struct islet_err *err)
{
  cleanup_close int dfd = open (upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_close int etc = -1;
  cleanup_free char *old_hosts = NULL;
  cleanup_free char *new_hosts = NULL;
  cleanup_free char *old_hn = NULL;
  cleanup_free char *new_hn = NULL;

  if (dfd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", upper);
  /* one component, O_NOFOLLOW: a link the sandbox made there is not followed */
  etc = openat (dfd, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (etc < 0)
    return 0;
  old_hosts = islet_xasprintf ("127.0.0.1 localhost %s\n::1 localhost %s\n", old_name, old_name);
  new_hosts = islet_xasprintf ("127.0.0.1 localhost %s\n::1 localhost %s\n", new_name, new_name);
  old_hn = islet_xasprintf ("%s\n", old_name);
  new_hn = islet_xasprintf ("%s\n", new_name);
  if (rename_in (etc, "hosts", old_hosts, new_hosts, err) < 0
      || rename_in (etc, "hostname", old_hn, new_hn, err) < 0)
    return -1;
  return 0;
}
