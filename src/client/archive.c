/* Archived sandboxes' files (Daytona's archive()): a stopped sandbox's
 * volume is made read-only and sent (`btrfs send`, which keeps modes,
 * owners, xattrs, hard links, symlinks, device nodes and holes) through
 * `zstd` into <state>/archive/ID.btrfs.zst, and the volume is deleted, so
 * the pool's space is free.  A restore receives it (`btrfs receive`) into
 * <pool>/.restore, makes it writable, renames it to the volume's place and
 * gives it its limit again.
 *
 * Crash safety rests on what is on disk, not on any record: the archive is
 * written to a temporary name, synced and renamed before the volume goes,
 * and a restore writes ID.restoring first and removes the archive only when
 * the volume is whole and synced.  So a volume present without a
 * .restoring mark is the original (an archive cut short, or one whose
 * volume was not deleted yet), and is kept; otherwise the archive is
 * received again. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/btrfs.h>

#include "islet/disk.h"
#include "islet/sandbox.h"
#include "islet/util.h"
#include "sandbox_internal.h"

#define RESTORE_DIR ".restore"

/* name's full path in PATH, or NULL. */
static char *
find_program (const char *name)
{
  const char *path = getenv ("PATH");

  if (path == NULL || *path == '\0')
    path = "/usr/sbin:/usr/bin:/sbin:/bin";
  for (const char *p = path; *p;)
    {
      size_t len = strcspn (p, ":");
      char *cand = islet_xasprintf ("%.*s/%s", (int) len, p, name);
      if (access (cand, X_OK) == 0)
        return cand;
      free (cand);
      p += len + (p[len] == ':');
    }
  return NULL;
}

static pid_t
spawn (char *const argv[], int in, int out)
{
  pid_t pid = fork ();

  if (pid == 0)
    {
      /* only async-signal-safe calls: the caller may have threads; a
       * kill of the caller takes the child along */
      if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || (in >= 0 && dup2 (in, STDIN_FILENO) < 0)
          || (out >= 0 && dup2 (out, STDOUT_FILENO) < 0))
        _exit (126);
      execv (argv[0], argv);
      _exit (127);
    }
  return pid;
}

static bool
exited_ok (pid_t pid)
{
  int status = 0;

  if (pid < 0)
    return false;
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return false;
  return WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

/* `a | b`: both must end well. */
static int
run_pipe (char *a[], char *b[], const char *what, struct islet_err *err)
{
  cleanup_free char *pa = find_program (a[0]);
  cleanup_free char *pb = find_program (b[0]);
  int fds[2];
  pid_t ka, kb;
  bool oka, okb;

  if (pa == NULL || pb == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "%s: needs %s in PATH", what,
                       pa == NULL ? a[0] : b[0]);
  a[0] = pa;
  b[0] = pb;
  if (pipe2 (fds, O_CLOEXEC) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "%s: pipe", what);
  ka = spawn (a, -1, fds[1]);
  kb = ka < 0 ? -1 : spawn (b, fds[0], -1);
  close (fds[0]);
  close (fds[1]);
  oka = exited_ok (ka);
  okb = exited_ok (kb);
  if (!oka || !okb)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "%s: %s failed", what, !oka ? a[0] : b[0]);
  return 0;
}

static int
set_readonly (const char *path, bool on, struct islet_err *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  uint64_t flags = 0;

  if (fd < 0 || ioctl (fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "read the flags of `%s`", path);
  flags = on ? flags | BTRFS_SUBVOL_RDONLY : flags & ~(uint64_t) BTRFS_SUBVOL_RDONLY;
  if (ioctl (fd, BTRFS_IOC_SUBVOL_SETFLAGS, &flags) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "make `%s` %s", path,
                       on ? "read-only" : "writable");
  return 0;
}

static int
sync_path (const char *path, bool fs, struct islet_err *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0 || (fs ? syncfs (fd) : fsync (fd)) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "sync `%s`", path);
  return 0;
}

/* For the tests that kill isletd in the middle of an archive or a
 * restore: a pause at the point where a kill hurts most. */
static void
test_pause (void)
{
  const char *ms = getenv ("ISLET_TEST_ARCHIVE_PAUSE_MS");

  if (ms && *ms)
    {
      long v = atol (ms);
      struct timespec ts = { v / 1000, (v % 1000) * 1000000L };
      nanosleep (&ts, NULL);
    }
}

struct paths
{
  char *dir, *archive, *tmp, *mark, *volume, *staging, *received;
};

static void
paths_fini (struct paths *p)
{
  free (p->dir);
  free (p->archive);
  free (p->tmp);
  free (p->mark);
  free (p->volume);
  free (p->staging);
  free (p->received);
}

static void
paths_of (struct islet_ctx *ctx, struct islet_disk_pool *pool, const char *id, struct paths *p)
{
  p->dir = islet_xasprintf ("%s/archive", ctx->state_dir);
  p->archive = islet_xasprintf ("%s/%s.btrfs.zst", p->dir, id);
  p->tmp = islet_xasprintf ("%s/%s.tmp", p->dir, id);
  p->mark = islet_xasprintf ("%s/%s.restoring", p->dir, id);
  p->volume = islet_disk_path (pool, id);
  p->staging = islet_disk_path (pool, RESTORE_DIR);
  p->received = islet_xasprintf ("%s/%s", p->staging, id);
}

/* Write the archive of the read-only volume, synced, under its name. */
static int
write_archive (const struct paths *p, struct islet_err *err)
{
  char *send[] = { (char *) "btrfs", (char *) "send", (char *) "-q", p->volume, NULL };
  char *zstd[] = { (char *) "zstd", (char *) "-q", (char *) "-f", (char *) "-3",
                   (char *) "-o",   p->tmp,        NULL };

  if (run_pipe (send, zstd, "archive", err) < 0 || sync_path (p->tmp, false, err) < 0)
    return -1;
  if (rename (p->tmp, p->archive) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "rename `%s`", p->tmp);
  return sync_path (p->dir, false, err);
}

int
islet_sandbox_archive_files (struct islet_ctx *ctx, const char *id, bool *compacted,
                             struct islet_err *err)
{
  struct islet_disk_pool *pool = NULL;
  struct paths p = { 0 };
  struct islet_sandbox_info sb;
  struct islet_err e;
  int rc = -1;

  *compacted = false;
  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "an archive of files", err);
  if (islet_sandbox_get (ctx, id, &sb, err) < 0)
    return -1;
  if (sb.state != ISLET_SB_STOPPED)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox `%s` is not stopped", sb.id);
  if (sandbox_pool (ctx, &pool, err) < 0)
    return -1;
  if (!islet_disk_enforced (pool))
    {
      rc = 0; /* a plain pool: the files stay where they are */
      goto out;
    }
  paths_of (ctx, pool, sb.id, &p);
  if (islet_mkdir_p (p.dir, 0700, err) < 0 || set_readonly (p.volume, true, err) < 0)
    goto out;
  if (write_archive (&p, err) < 0)
    {
      (void) unlink (p.tmp);
      if (set_readonly (p.volume, false, &e) < 0)
        fprintf (stderr, "islet: %s\n", e.msg);
      goto out;
    }
  /* the archive is whole and synced: now the volume may go */
  test_pause ();
  if (islet_disk_destroy (pool, sb.id, err) < 0)
    goto out;
  *compacted = true;
  rc = 0;
out:
  sandbox_pool_put (ctx);
  paths_fini (&p);
  return rc;
}

/* Delete the subvolume staging/id that a receive made, if it is there. */
static int
drop_received (const char *staging, const char *id, struct islet_err *err)
{
  cleanup_close int dir = open (staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct btrfs_ioctl_vol_args args = { 0 };

  if (dir < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", staging);
  snprintf (args.name, sizeof args.name, "%s", id);
  if (ioctl (dir, BTRFS_IOC_SNAP_DESTROY, &args) < 0 && errno != ENOENT)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "delete `%s/%s`", staging, id);
  return 0;
}

/* Receive the archive into the volume's place, whole and synced. */
static int
receive (struct islet_disk_pool *pool, const char *id, uint64_t limit, const struct paths *p,
         struct islet_err *err)
{
  char *unzstd[] = {
    (char *) "zstd", (char *) "-q", (char *) "-d", (char *) "-c", p->archive, NULL
  };
  char *recv[] = { (char *) "btrfs", (char *) "receive", (char *) "-q", p->staging, NULL };

  if (mkdir (p->staging, 0700) < 0 && errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", p->staging);
  /* what a restore cut short left */
  if (drop_received (p->staging, id, err) < 0 || islet_disk_destroy (pool, id, err) < 0)
    return -1;
  if (run_pipe (unzstd, recv, "restore", err) < 0 || set_readonly (p->received, false, err) < 0)
    return -1;
  test_pause ();
  if (rename (p->received, p->volume) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "rename `%s`", p->received);
  if (limit && islet_disk_set_limit (pool, id, limit, err) < 0)
    return -1;
  return sync_path (p->volume, true, err);
}

int
islet_sandbox_restore_files (struct islet_ctx *ctx, const char *id, struct islet_err *err)
{
  struct islet_disk_pool *pool = NULL;
  struct paths p = { 0 };
  struct islet_sandbox_info sb;
  struct stat st;
  int rc = -1, fd;

  if (!CTX_LOCAL (ctx))
    return backend_refuse (ctx, "a restore of files", err);
  if (islet_sandbox_get (ctx, id, &sb, err) < 0 || sandbox_pool (ctx, &pool, err) < 0)
    return -1;
  paths_of (ctx, pool, sb.id, &p);
  if (access (p.archive, F_OK) < 0)
    {
      rc = 0; /* never archived, or restored */
      if (access (p.tmp, F_OK) == 0 && lstat (p.volume, &st) == 0)
        {
          rc = set_readonly (p.volume, false, err); /* an archive cut short */
          (void) unlink (p.tmp);
        }
      goto out;
    }
  if (access (p.mark, F_OK) < 0 && lstat (p.volume, &st) == 0)
    {
      /* the original volume: its archive was cut short before it went */
      if (set_readonly (p.volume, false, err) < 0)
        goto out;
    }
  else
    {
      fd = open (p.mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0)
        {
          islet_fail (err, ISLET_E_SYSTEM, errno, "create `%s`", p.mark);
          goto out;
        }
      close (fd);
      if (sync_path (p.dir, false, err) < 0
          || receive (pool, sb.id, sb.limits.disk_mb << 20, &p, err) < 0)
        {
          islet_wrap (err, "restore the files of `%s`", sb.id);
          goto out;
        }
    }
  if (unlink (p.archive) < 0 || (unlink (p.mark) < 0 && errno != ENOENT))
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "remove the archive of `%s`", sb.id);
      goto out;
    }
  rc = 0;
out:
  sandbox_pool_put (ctx);
  paths_fini (&p);
  return rc;
}

bool
sandbox_archived (const struct islet_ctx *ctx, const char *id)
{
  cleanup_free char *a = islet_xasprintf ("%s/archive/%s.btrfs.zst", ctx->state_dir, id);

  return access (a, F_OK) == 0;
}

bool
islet_sandbox_archive_pending (struct islet_ctx *ctx, const char *id)
{
  cleanup_free char *a = islet_xasprintf ("%s/archive/%s.btrfs.zst", ctx->state_dir, id);
  cleanup_free char *t = islet_xasprintf ("%s/archive/%s.tmp", ctx->state_dir, id);

  return access (a, F_OK) == 0 || access (t, F_OK) == 0;
}

void
islet_sandbox_archive_forget (struct islet_ctx *ctx, const char *id)
{
  static const char *const ext[] = { "btrfs.zst", "tmp", "restoring" };

  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
    {
      cleanup_free char *path = islet_xasprintf ("%s/archive/%s.%s", ctx->state_dir, id, ext[i]);
      (void) unlink (path);
    }
}
