/* A build context sent as tars: the Daytona SDK's Image.addLocalFile and
 * addLocalDir upload each local path as a tar (isletd keeps them in its
 * object storage), and the COPY lines it writes name the paths as they were
 * on the client, which are the tars' entry names.  The tars are unpacked
 * together into one directory that COPY then reads as it reads any
 * context.
 *
 * The directory is images/build/ctx-XXXXXX, held by a flock on it while the
 * build runs: a build killed before it removed its own leaves one whose
 * lock is free, and the next context removes it.  Each tar is read twice:
 * its headers first (only files, directories and links; no `.wh.` names,
 * which the unpacker would take as whiteouts; no sparse entries; the sizes
 * within max_bytes), then unpacked by islet_layer_unpack's chroot'ed child,
 * which confines every name and link to the directory.
 *
 * Also here: COPY's wildcards, matched in a context directory of either
 * kind, each directory on the way opened beneath the context. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "islet/oci.h"
#include "islet/util.h"
#include "oci_build.h"

static void
read_freep (struct archive **a)
{
  if (*a)
    archive_read_free (*a);
}

/* Remove the context directories of builds that are gone (lock free). */
static void
reap_contexts (const char *top)
{
  cleanup_dir DIR *d = opendir (top);
  struct dirent *e;

  while (d && (e = readdir (d)) != NULL)
    {
      cleanup_free char *p = NULL;
      cleanup_close int fd = -1;
      struct islet_err ignored;
      if (strncmp (e->d_name, "ctx-", 4) != 0)
        continue;
      p = islet_xasprintf ("%s/%s", top, e->d_name);
      fd = open (p, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      if (fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) == 0)
        (void) !islet_rm_rf (p, &ignored);
    }
}

/* How a tar is named in errors: the hash of <hash>/context.tar (isletd's
 * object storage, whose paths are the server's business), else its path. */
static char *
tar_name (const char *path)
{
  size_t n = strlen (path), l = strlen ("/context.tar");
  const char *start;

  if (n <= l || strcmp (path + n - l, "/context.tar") != 0)
    return islet_xstrdup (path);
  for (start = path + n - l; start > path && start[-1] != '/';)
    start--;
  return strndup (start, (size_t) (path + n - l - start));
}

static bool
whiteout_name (const char *path)
{
  const char *base = strrchr (path, '/');

  base = base ? base + 1 : path;
  return strncmp (base, ".wh.", 4) == 0;
}

/* The headers of one tar: what the context may hold, sizes added to
 * *total. */
static int
check_tar (int fd, const char *name, uint64_t max_bytes, uint64_t *total, struct islet_err *err)
{
  __attribute__ ((cleanup (read_freep))) struct archive *in = archive_read_new ();
  struct archive_entry *e;
  int r;

  archive_read_support_format_tar (in);
  archive_read_support_format_gnutar (in);
  if (archive_read_open_fd (in, fd, 1 << 16) != ARCHIVE_OK)
    return islet_fail (err, ISLET_E_INVALID, 0, "context `%s`: %s", name,
                       archive_error_string (in));
  while ((r = archive_read_next_header (in, &e)) == ARCHIVE_OK)
    {
      const char *path = archive_entry_pathname (e);
      mode_t type = archive_entry_filetype (e);
      if (path == NULL)
        return islet_fail (err, ISLET_E_INVALID, 0, "context `%s`: an entry has no name", name);
      if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
        return islet_fail (err, ISLET_E_INVALID, 0,
                           "context `%s`: `%s` is neither a file, a directory nor a link", name,
                           path);
      if (whiteout_name (path))
        return islet_fail (err, ISLET_E_INVALID, 0,
                           "context `%s`: `%s`: names starting with .wh. are not taken", name,
                           path);
      if (archive_entry_sparse_count (e) > 0)
        return islet_fail (err, ISLET_E_INVALID, 0, "context `%s`: `%s` is a sparse entry", name,
                           path);
      *total += (uint64_t) archive_entry_size (e);
      if (max_bytes && *total > max_bytes)
        return islet_fail (err, ISLET_E_LIMIT, EDQUOT,
                           "the build context's files are over the limit of %llu bytes",
                           (unsigned long long) max_bytes);
    }
  if (r != ARCHIVE_EOF)
    return islet_fail (err, ISLET_E_INVALID, 0, "context `%s`: %s", name,
                       archive_error_string (in));
  return 0;
}

int
build_context_from_tars (const char *state, char *const *tars, size_t n, uint64_t max_bytes,
                         char **dir, int *lock, struct islet_err *err)
{
  cleanup_free char *top = islet_xasprintf ("%s/images/build", state);
  cleanup_free char *path = NULL;
  cleanup_close int held = -1;
  uint64_t total = 0;

  if (islet_mkdir_p (top, 0700, err) < 0)
    return -1;
  reap_contexts (top);
  path = islet_xasprintf ("%s/ctx-XXXXXX", top);
  if (mkdtemp (path) == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdtemp `%s`", path);
  held = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (held < 0 || flock (held, LOCK_EX) < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "lock `%s`", path);
      goto fail;
    }
  for (size_t i = 0; i < n; i++)
    {
      cleanup_close int fd = open (tars[i], O_RDONLY | O_CLOEXEC);
      cleanup_free char *name = tar_name (tars[i]);
      if (fd < 0)
        {
          islet_fail (err, ISLET_E_NOTFOUND, errno, "context `%s`", name);
          goto fail;
        }
      if (check_tar (fd, name, max_bytes, &total, err) < 0)
        goto fail;
      if (lseek (fd, 0, SEEK_SET) < 0)
        {
          islet_fail (err, ISLET_E_SYSTEM, errno, "context `%s`", name);
          goto fail;
        }
      if (islet_layer_unpack (fd, path, err) < 0)
        {
          islet_wrap (err, "context `%s`", name);
          goto fail;
        }
    }
  *dir = islet_take_ptr (&path);
  *lock = held;
  held = -1;
  return 0;
fail:
  {
    struct islet_err ignored;
    (void) !islet_rm_rf (path, &ignored);
  }
  return -1;
}

/* ---- COPY's wildcards ---- */

#define GLOB_MATCHES_MAX 10000 /* the paths one pattern may name */
#define GLOB_SEEN_MAX 100000   /* the entries its walk may read */

bool
build_is_pattern (const char *src)
{
  return strpbrk (src, "*?[") != NULL;
}

struct glob
{
  int ctx;
  const char *pattern;
  char **comps; /* the pattern's components, NULL-terminated */
  char **out;
  size_t n, seen;
};

static int
by_name (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The directory prefix of the context (relative, "" for its top), opened
 * without leaving it: -1 with *gone when it is not there (no match there). */
static int
glob_open (const struct glob *g, const char *prefix, bool *gone, struct islet_err *err)
{
  struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                          .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
  int fd = (int) syscall (SYS_openat2, g->ctx, *prefix ? prefix : ".", &how, sizeof how);

  *gone = fd < 0 && (errno == ENOENT || errno == ENOTDIR);
  if (fd < 0 && errno == EXDEV)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "COPY source `%s` leads outside the build context: refused", g->pattern);
  if (fd < 0 && !*gone)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "COPY source `%s` in the build context",
                       g->pattern);
  return fd;
}

/* The matches of components i.. of the pattern under prefix, in order. */
static int
glob_at (struct glob *g, const char *prefix, size_t i, struct islet_err *err)
{
  cleanup_strv char **names = NULL;
  cleanup_dir DIR *d = NULL;
  size_t n = 0;
  struct dirent *e;
  bool gone = false;
  int fd;

  if (g->comps[i] == NULL)
    {
      if (g->n >= GLOB_MATCHES_MAX)
        return islet_fail (err, ISLET_E_LIMIT, 0, "COPY source `%s` matches more than %d paths",
                           g->pattern, GLOB_MATCHES_MAX);
      g->out = islet_xrealloc (g->out, (g->n + 2) * sizeof *g->out);
      g->out[g->n++] = islet_xstrdup (*prefix ? prefix : ".");
      g->out[g->n] = NULL;
      return 0;
    }
  if (!build_is_pattern (g->comps[i]))
    {
      cleanup_free char *next = *prefix ? islet_xasprintf ("%s/%s", prefix, g->comps[i])
                                        : islet_xstrdup (g->comps[i]);
      return glob_at (g, next, i + 1, err);
    }
  fd = glob_open (g, prefix, &gone, err);
  if (fd < 0)
    return gone ? 0 : -1;
  d = fdopendir (fd);
  if (d == NULL)
    {
      close (fd);
      return islet_fail (err, ISLET_E_SYSTEM, errno, "read `%s` of the build context", prefix);
    }
  names = islet_xcalloc (1, sizeof *names);
  while ((e = readdir (d)) != NULL)
    {
      if (++g->seen > GLOB_SEEN_MAX)
        return islet_fail (err, ISLET_E_LIMIT, 0,
                           "COPY source `%s`: more than %d names to match in the build context",
                           g->pattern, GLOB_SEEN_MAX);
      /* Docker's matching: `*` and `?` take a leading dot too, never a `/` */
      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0
          || fnmatch (g->comps[i], e->d_name, 0) != 0)
        continue;
      names = islet_xrealloc (names, (n + 2) * sizeof *names);
      names[n++] = islet_xstrdup (e->d_name);
      names[n] = NULL;
    }
  qsort (names, n, sizeof *names, by_name);
  for (size_t k = 0; k < n; k++)
    {
      cleanup_free char *next = *prefix ? islet_xasprintf ("%s/%s", prefix, names[k])
                                        : islet_xstrdup (names[k]);
      if (glob_at (g, next, i + 1, err) < 0)
        return -1;
    }
  return 0;
}

int
build_context_glob (int ctx, const char *pattern, char ***matches, size_t *n, struct islet_err *err)
{
  cleanup_free char *copy = islet_xstrdup (pattern);
  struct glob g = { .ctx = ctx, .pattern = pattern };
  char *save = NULL;
  size_t k = 0;
  int rc;

  g.comps = islet_xcalloc (strlen (pattern) / 2 + 2, sizeof *g.comps);
  for (char *c = strtok_r (copy, "/", &save); c; c = strtok_r (NULL, "/", &save))
    if (strcmp (c, ".") != 0)
      g.comps[k++] = c; /* the context's top is `/` and `.` both */
  rc = glob_at (&g, "", 0, err);
  free (g.comps);
  if (rc == 0 && g.n == 0)
    rc = islet_fail (err, ISLET_E_NOTFOUND, 0,
                     "COPY source `%s` matches no file in the build context", pattern);
  if (rc < 0)
    {
      islet_strv_free (g.out);
      return -1;
    }
  *matches = g.out;
  *n = g.n;
  return 0;
}
