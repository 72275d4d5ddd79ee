/* One layer tar into a directory of its own.
 *
 * The work is done by a child that has chroot'ed into the directory: a name
 * with `..`, an absolute name, a hard link's target or a symbolic link
 * followed by a later entry can then only ever reach the layer's own
 * directory.  libarchive's ARCHIVE_EXTRACT_SECURE_* checks refuse the same
 * names as a second line, and names with a `..` component are refused here
 * before libarchive sees them, so a hostile layer fails instead of being
 * half-applied.
 *
 * OCI whiteouts become overlayfs ones, which the root overlay (mounted by
 * host root) reads from the trusted.overlay namespace: `.wh.NAME` is a 0/0
 * character device NAME, `.wh..wh..opq` sets trusted.overlay.opaque=y on its
 * directory.  A layer's own xattrs are kept only in user.* (but not
 * user.overlay.*) and security.capability, so a layer can never plant an
 * overlay xattr (redirect, metacopy, opaque) of its own choosing.  Device
 * nodes are refused: the sandbox gets its /dev from islet. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "islet/oci.h"
#include "islet/util.h"
#include "oci_internal.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

static void
archive_freep (struct archive **a)
{
  if (*a)
    archive_read_free (*a);
}

static void
disk_freep (struct archive **a)
{
  if (*a)
    archive_write_free (*a);
}

/* The name relative to the layer's root: leading `/` and `./` dropped.
 * NULL when a component is `..`. */
static const char *
clean_name (const char *name)
{
  const char *p;

  while (*name == '/' || (name[0] == '.' && name[1] == '/'))
    name += name[0] == '/' ? 1 : 2;
  for (p = name; *p;)
    {
      size_t n = strcspn (p, "/");
      if (n == 2 && p[0] == '.' && p[1] == '.')
        return NULL;
      p += n;
      while (*p == '/')
        p++;
    }
  return name;
}

static bool
xattr_kept (const char *name)
{
  if (strncmp (name, "user.", 5) == 0)
    return strncmp (name, "user.overlay.", 13) != 0;
  return strcmp (name, "security.capability") == 0;
}

static void
filter_xattrs (struct archive_entry *e)
{
  struct
  {
    char *name;
    void *value;
    size_t size;
  } keep[64];
  size_t n = 0;
  const char *name;
  const void *value;
  size_t size;

  archive_entry_xattr_reset (e);
  while (archive_entry_xattr_next (e, &name, &value, &size) == ARCHIVE_OK && n < 64)
    if (xattr_kept (name))
      {
        keep[n].name = islet_xstrdup (name);
        keep[n].value = islet_xmalloc (size ? size : 1);
        memcpy (keep[n].value, value, size);
        keep[n++].size = size;
      }
  archive_entry_xattr_clear (e);
  for (size_t i = 0; i < n; i++)
    {
      archive_entry_xattr_add_entry (e, keep[i].name, keep[i].value, keep[i].size);
      free (keep[i].name);
      free (keep[i].value);
    }
}

/* mkdir -p of the parent directories of path (relative, inside the chroot). */
static void
make_parents (const char *path)
{
  char buf[PATH_MAX];

  snprintf (buf, sizeof buf, "%s", path);
  for (char *p = strchr (buf, '/'); p; p = strchr (p + 1, '/'))
    {
      *p = '\0';
      (void) mkdir (buf, 0755);
      *p = '/';
    }
}

/* A whiteout entry: dir/.wh.NAME or dir/.wh..wh..opq.  path is cleaned. */
static int
apply_whiteout (const char *path, const char *base, struct islet_err *err)
{
  char dir[PATH_MAX], target[PATH_MAX];
  size_t dlen = (size_t) (base - path);

  snprintf (dir, sizeof dir, "%.*s", (int) dlen, path);
  make_parents (path);
  if (strcmp (base, WH_OPAQUE) == 0)
    {
      const char *d = dlen ? dir : ".";
      if (setxattr (d, "trusted.overlay.opaque", "y", 1, 0) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "opaque directory `%s`", path);
      return 0;
    }
  base += strlen (WH_PREFIX);
  if (*base == '\0' || strcmp (base, ".") == 0 || strcmp (base, "..") == 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "whiteout `%s` names nothing", path);
  snprintf (target, sizeof target, "%s%s", dir, base);
  (void) unlink (target);
  if (mknod (target, S_IFCHR | 0, makedev (0, 0)) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "whiteout `%s`", path);
  return 0;
}

/* The bytes the unpacker has written and its bound (0: none). */
struct budget
{
  uint64_t used, max;
};

static int
copy_data (struct archive *in, struct archive *out, const char *path, struct budget *b,
           struct islet_err *err)
{
  const void *buf;
  size_t size;
  la_int64_t off;
  int r;

  while ((r = archive_read_data_block (in, &buf, &size, &off)) == ARCHIVE_OK)
    if (b->max && (b->used += size) > b->max)
      return islet_fail (err, ISLET_E_LIMIT, 0,
                         "its files come to more than the %" PRIu64 " MiB allowed once unpacked "
                         "(at `%s`)",
                         b->max >> 20, path);
    else if (archive_write_data_block (out, buf, size, off) != ARCHIVE_OK)
      return islet_fail (err, ISLET_E_SYSTEM, archive_errno (out), "write `%s`: %s", path,
                         archive_error_string (out));
  if (r != ARCHIVE_EOF)
    return islet_fail (err, ISLET_E_INVALID, 0, "read `%s`: %s", path, archive_error_string (in));
  return 0;
}

static int
unpack_entry (struct archive *in, struct archive *out, struct archive_entry *e, struct budget *b,
              struct islet_err *err)
{
  const char *raw = archive_entry_pathname (e);
  const char *path = raw ? clean_name (raw) : NULL;
  const char *link = archive_entry_hardlink (e);
  const char *base;
  mode_t type = archive_entry_filetype (e);

  if (path == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "entry `%s` goes up with `..`", raw ? raw : "");
  if (*path == '\0')
    return 0; /* the layer's root itself: its directory is islet's */
  if (type == AE_IFCHR || type == AE_IFBLK)
    return islet_fail (err, ISLET_E_INVALID, 0, "entry `%s` is a device node", path);
  base = strrchr (path, '/');
  base = base ? base + 1 : path;
  if (strncmp (base, WH_PREFIX, strlen (WH_PREFIX)) == 0)
    return apply_whiteout (path, base, err);
  archive_entry_copy_pathname (e, path);
  if (link)
    {
      const char *l = clean_name (link);
      if (l == NULL || *l == '\0')
        return islet_fail (err, ISLET_E_INVALID, 0, "hard link `%s` to `%s` goes outside", path,
                           link);
      archive_entry_copy_hardlink (e, l);
    }
  filter_xattrs (e);
  if (archive_write_header (out, e) != ARCHIVE_OK)
    return islet_fail (err, ISLET_E_INVALID, archive_errno (out), "extract `%s`: %s", path,
                       archive_error_string (out));
  if (archive_entry_size (e) > 0 && copy_data (in, out, path, b, err) < 0)
    return -1;
  if (archive_write_finish_entry (out) != ARCHIVE_OK)
    return islet_fail (err, ISLET_E_SYSTEM, archive_errno (out), "finish `%s`: %s", path,
                       archive_error_string (out));
  return 0;
}

static int
unpack_here (int fd, struct budget *b, struct islet_err *err)
{
  __attribute__ ((cleanup (archive_freep))) struct archive *in = archive_read_new ();
  __attribute__ ((cleanup (disk_freep))) struct archive *out = archive_write_disk_new ();
  struct archive_entry *e;
  int r;

  archive_read_support_filter_all (in);
  archive_read_support_format_tar (in);
  archive_read_support_format_gnutar (in);
  /* numeric owners (no lookup function set), modes with setuid bits,
     times and the filtered xattrs; never through a symlink, never `..`,
     never an absolute name; no file flags (an immutable file could not be
     removed later) */
  archive_write_disk_set_options (
      out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME
               | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS
               | ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  if (archive_read_open_fd (in, fd, 1 << 16) != ARCHIVE_OK)
    return islet_fail (err, ISLET_E_INVALID, 0, "open the layer: %s", archive_error_string (in));
  while ((r = archive_read_next_header (in, &e)) == ARCHIVE_OK)
    if (unpack_entry (in, out, e, b, err) < 0)
      return -1;
  if (r != ARCHIVE_EOF)
    return islet_fail (err, ISLET_E_INVALID, 0, "read the layer: %s", archive_error_string (in));
  if (archive_write_close (out) != ARCHIVE_OK)
    return islet_fail (err, ISLET_E_SYSTEM, archive_errno (out), "finish the layer: %s",
                       archive_error_string (out));
  return 0;
}

int
islet_layer_unpack (int fd, const char *dir, struct islet_err *err)
{
  uint64_t used = 0;

  return islet_layer_unpack_max (fd, dir, 0, &used, err);
}

/* What the unpacker sends back: its error, or (failed false) the bytes it wrote. */
struct unpacked
{
  bool failed;
  uint64_t used;
  struct islet_err err;
};

int
islet_layer_unpack_max (int fd, const char *dir, uint64_t max, uint64_t *used,
                        struct islet_err *err)
{
  int pipefd[2];
  struct unpacked child = { 0 };
  pid_t pid, parent;
  int status;
  ssize_t n;

  if (pipe2 (pipefd, O_CLOEXEC) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "pipe");
  parent = getpid ();
  pid = fork ();
  if (pid < 0)
    {
      close (pipefd[0]);
      close (pipefd[1]);
      return islet_fail (err, ISLET_E_SYSTEM, errno, "fork");
    }
  if (pid == 0)
    {
      struct unpacked u = { .failed = true };
      struct budget b = { .used = *used, .max = max };
      close (pipefd[0]);
      /* an unpacker whose caller was killed stops too: nothing writes into
         images/tmp after its owner is gone */
      if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid () != parent)
        _exit (1);
      umask (0);
      if (chroot (dir) < 0 || chdir ("/") < 0)
        islet_fail (&u.err, ISLET_E_SYSTEM, errno, "chroot `%s`", dir);
      else if (unpack_here (fd, &b, &u.err) == 0)
        u.failed = false;
      u.used = b.used;
      (void) !write (pipefd[1], &u, sizeof u);
      _exit (u.failed ? 1 : 0);
    }
  close (pipefd[1]);
  /* a pull called off (a signal interrupts the read) stops its unpacker */
  while ((n = read (pipefd[0], &child, sizeof child)) < 0 && errno == EINTR)
    if (oci_stop)
      kill (pid, SIGKILL);
  close (pipefd[0]);
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "wait for the unpacker");
  if (n == (ssize_t) sizeof child && child.failed)
    {
      child.err.msg[sizeof child.err.msg - 1] = '\0';
      *err = child.err;
      return -1;
    }
  if (n != (ssize_t) sizeof child || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "the unpacker died (status %d)", status);
  *used = child.used;
  return 0;
}
