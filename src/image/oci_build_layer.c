/* The layers a build makes, as uncompressed tars (libarchive, pax): what a
 * RUN changed in its sandbox's writable layer, what a COPY takes from the
 * context directory, the directory of a WORKDIR.  Each is then stored as
 * any pulled layer is (oci_write.c), so mounts, rm and prune treat it the
 * same. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "islet/contain.h"
#include "islet/util.h"
#include "oci_build.h"

#define MAX_DEPTH 128
#define MAX_HOPS 40

/* Where entries go: a tar, or (for the cache key) a digest. */
struct sink
{
  struct archive *a;
  struct archive_entry_linkresolver *lr;
  EVP_MD_CTX *md;
  /* a RUN's layer: entries' xattrs read from under this directory (-1: none
     carried), a file capability's root moved back from the uid range at base */
  int xattr_dir;
  uint32_t base;
};

static int
sink_open (struct sink *s, int out, struct islet_err *err)
{
  *s = (struct sink){ .xattr_dir = -1 };
  if (out < 0)
    {
      s->md = EVP_MD_CTX_new ();
      if (s->md == NULL || EVP_DigestInit_ex (s->md, EVP_sha256 (), NULL) != 1)
        return islet_fail (err, ISLET_E_SYSTEM, 0, "sha256 init");
      return 0;
    }
  s->a = archive_write_new ();
  s->lr = archive_entry_linkresolver_new ();
  if (s->a == NULL || s->lr == NULL || archive_write_set_format_pax_restricted (s->a) != ARCHIVE_OK
      || archive_write_open_fd (s->a, out) != ARCHIVE_OK)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "open a layer tar: %s",
                       s->a ? archive_error_string (s->a) ?: "?" : "no memory");
  archive_entry_linkresolver_set_strategy (s->lr, archive_format (s->a));
  return 0;
}

/* Finish the tar (or the digest, into hash); frees everything. */
static int
sink_close (struct sink *s, bool ok, char hash[65], struct islet_err *err)
{
  int rc = ok ? 0 : -1;
  if (s->md)
    {
      unsigned char d[EVP_MAX_MD_SIZE];
      unsigned len = 0;
      if (ok && EVP_DigestFinal_ex (s->md, d, &len) == 1 && hash)
        for (unsigned i = 0; i < len && i < 32; i++)
          snprintf (hash + 2 * i, 3, "%02x", d[i]);
      EVP_MD_CTX_free (s->md);
    }
  if (s->a)
    {
      if (ok && archive_write_close (s->a) != ARCHIVE_OK)
        rc = islet_fail (err, ISLET_E_SYSTEM, 0, "finish a layer tar: %s",
                         archive_error_string (s->a) ?: "?");
      archive_write_free (s->a);
    }
  if (s->lr)
    archive_entry_linkresolver_free (s->lr);
  *s = (struct sink){ .xattr_dir = -1 };
  return rc;
}

/* The xattrs a layer may carry, as the unpacker keeps them (oci_unpack.c):
 * user.* but the overlay's own, and a file capability. */
static bool
xattr_carried (const char *name)
{
  if (strncmp (name, "user.", 5) == 0)
    return strncmp (name, "user.overlay.", 13) != 0;
  return strcmp (name, "security.capability") == 0;
}

/* A file capability as the host reads it from the writable layer is
 * version 3, its root the sandbox's root on the host (base): the layer's
 * is the image's, so that root becomes 0 (version 2, as Docker's layers
 * have it) or the id in the image's range. */
static size_t
fcap_for_layer (unsigned char *v, size_t n, uint32_t base)
{
  uint32_t magic, rootid;

  if (n != XATTR_CAPS_SZ_3)
    return n;
  memcpy (&magic, v, 4);
  memcpy (&rootid, v + XATTR_CAPS_SZ_2, 4);
  if ((le32toh (magic) & VFS_CAP_REVISION_MASK) != VFS_CAP_REVISION_3)
    return n;
  rootid = le32toh (rootid);
  rootid = rootid >= base && rootid - base < ISLET_UID_RANGE ? rootid - base : 65534;
  if (rootid != 0)
    {
      rootid = htole32 (rootid);
      memcpy (v + XATTR_CAPS_SZ_2, &rootid, 4);
      return n;
    }
  magic = htole32 ((le32toh (magic) & ~VFS_CAP_REVISION_MASK) | VFS_CAP_REVISION_2);
  memcpy (v, &magic, 4);
  return XATTR_CAPS_SZ_2;
}

/* The carried xattrs of path (under s->xattr_dir) onto e.  Symlinks have
 * none that a layer keeps. */
static int
sink_xattrs (struct sink *s, struct archive_entry *e, const char *path, const struct stat *st,
             struct islet_err *err)
{
  cleanup_close int fd = -1;
  char proc[64], names[8192];
  ssize_t len;

  if (s->xattr_dir < 0 || S_ISLNK (st->st_mode))
    return 0;
  fd = openat (s->xattr_dir, path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
  snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
  len = listxattr (proc, names, sizeof names);
  if (len < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "list the xattrs of `%s`", path);
  for (char *name = names; name < names + len; name += strlen (name) + 1)
    {
      unsigned char value[65536];
      ssize_t n;
      if (!xattr_carried (name))
        continue;
      n = getxattr (proc, name, value, sizeof value);
      if (n < 0 && errno == ENODATA)
        continue; /* a capability whose root the host cannot map */
      if (n < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "read xattr `%s` of `%s`", name, path);
      if (strcmp (name, "security.capability") == 0)
        n = (ssize_t) fcap_for_layer (value, (size_t) n, s->base);
      archive_entry_xattr_add_entry (e, name, value, (size_t) n);
    }
  return 0;
}

static void
md_str (EVP_MD_CTX *md, const char *s)
{
  EVP_DigestUpdate (md, s, strlen (s) + 1);
}

/* One entry: path (relative, no leading slash) with st's type, mode, size
 * and times, owned by uid:gid; data from dfd/name for a regular file, the
 * target for a symlink. */
static int
sink_entry (struct sink *s, const char *path, const struct stat *st, uint32_t uid, uint32_t gid,
            int dfd, const char *name, struct islet_err *err)
{
  char target[4096] = "";
  struct archive_entry *e, *spare = NULL;
  cleanup_close int fd = -1;
  int rc = 0;

  if (S_ISLNK (st->st_mode))
    {
      ssize_t n = readlinkat (dfd, name, target, sizeof target - 1);
      if (n < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "readlink `%s`", path);
      target[n] = '\0';
    }
  if (S_ISREG (st->st_mode) && st->st_size > 0)
    {
      /* name "": dfd is the file itself, open for reading */
      fd = *name ? openat (dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : dup (dfd);
      if (fd < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
    }
  if (s->md)
    {
      char meta[96];
      snprintf (meta, sizeof meta, "%o %u %u %lld", (unsigned) st->st_mode, uid, gid,
                (long long) (S_ISREG (st->st_mode) ? st->st_size : 0));
      md_str (s->md, path);
      md_str (s->md, meta);
      md_str (s->md, target);
      if (fd >= 0)
        {
          char buf[65536];
          ssize_t n;
          while ((n = read (fd, buf, sizeof buf)) > 0)
            EVP_DigestUpdate (s->md, buf, (size_t) n);
          if (n < 0)
            return islet_fail (err, ISLET_E_SYSTEM, errno, "read `%s`", path);
        }
      return 0;
    }
  e = archive_entry_new ();
  archive_entry_copy_stat (e, st);
  archive_entry_set_pathname (e, path);
  archive_entry_set_uid (e, uid);
  archive_entry_set_gid (e, gid);
  archive_entry_set_uname (e, NULL);
  archive_entry_set_gname (e, NULL);
  if (!S_ISREG (st->st_mode))
    archive_entry_set_size (e, 0);
  if (S_ISLNK (st->st_mode))
    archive_entry_set_symlink (e, target);
  if (sink_xattrs (s, e, path, st, err) < 0)
    {
      archive_entry_free (e);
      return -1;
    }
  archive_entry_linkify (s->lr, &e, &spare);
  if (e && archive_write_header (s->a, e) != ARCHIVE_OK)
    rc = islet_fail (err, ISLET_E_SYSTEM, 0, "write `%s` to a layer: %s", path,
                     archive_error_string (s->a) ?: "?");
  if (rc == 0 && e && fd >= 0 && archive_entry_hardlink (e) == NULL)
    {
      char buf[65536];
      ssize_t n;
      while (rc == 0 && (n = read (fd, buf, sizeof buf)) != 0)
        if (n < 0)
          rc = islet_fail (err, ISLET_E_SYSTEM, errno, "read `%s`", path);
        else if (archive_write_data (s->a, buf, (size_t) n) != n)
          rc = islet_fail (err, ISLET_E_SYSTEM, 0, "write `%s` to a layer: %s", path,
                           archive_error_string (s->a) ?: "?");
    }
  archive_entry_free (e);
  archive_entry_free (spare);
  return rc;
}

/* An empty regular file entry (a whiteout). */
static int
sink_marker (struct sink *s, const char *path, struct islet_err *err)
{
  struct stat st = { .st_mode = S_IFREG | 0600, .st_nlink = 1 };
  struct sink plain = *s;

  plain.xattr_dir = -1; /* islet's own marker: nothing on disk to read */
  return sink_entry (&plain, path, &st, 0, 0, AT_FDCWD, "", err);
}

/* ---- a RUN: the sandbox's writable layer ---- */

static char *
join (const char *dir, const char *name)
{
  return dir && *dir ? islet_xasprintf ("%s/%s", dir, name) : islet_xstrdup (name);
}

static char *
stamp (const struct stat *st)
{
  return islet_xasprintf ("%llu:%lld.%09ld", (unsigned long long) st->st_ino,
                          (long long) st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

typedef int (*visit_fn) (void *arg, int dfd, const char *name, const char *path,
                         const struct stat *st, int depth, struct islet_err *err);

/* Every entry under dfd, parents first; a directory is entered after fn
 * saw it (fn returns 1 to enter it, 0 not to). */
static int
walk (int dfd, const char *rel, int depth, visit_fn fn, void *arg, struct islet_err *err)
{
  int copy = dup (dfd);
  cleanup_dir DIR *d = copy >= 0 ? fdopendir (copy) : NULL;
  struct dirent *e;

  if (d == NULL)
    {
      if (copy >= 0)
        close (copy);
      return islet_fail (err, ISLET_E_SYSTEM, errno, "read directory `%s`", rel);
    }
  if (depth > MAX_DEPTH)
    return islet_fail (err, ISLET_E_INVALID, 0, "`%s` is nested too deep", rel);
  while ((e = readdir (d)) != NULL)
    {
      cleanup_free char *path = NULL;
      struct stat st;
      int r;
      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      path = join (rel, e->d_name);
      if (fstatat (dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "stat `%s`", path);
      r = fn (arg, dfd, e->d_name, path, &st, depth, err);
      if (r < 0)
        return -1;
      if (r == 1 && S_ISDIR (st.st_mode))
        {
          cleanup_close int sub = openat (dfd, e->d_name,
                                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub < 0)
            return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
          if (walk (sub, path, depth + 1, fn, arg, err) < 0)
            return -1;
        }
    }
  return 0;
}

static int
record_stamp (void *arg, int dfd, const char *name, const char *path, const struct stat *st,
              int depth, struct islet_err *err)
{
  (void) dfd, (void) name, (void) depth, (void) err;
  json_object_set_new ((json_t *) arg, path, json_string (stamp (st)));
  return 1;
}

json_t *
build_upper_baseline (const char *upper)
{
  cleanup_close int fd = open (upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  json_t *j = json_object ();
  struct islet_err ignored;

  if (fd >= 0)
    (void) !walk (fd, "", 0, record_stamp, j, &ignored);
  return j;
}

/* The directories above the entry being written, emitted only when
 * something under them is. */
struct upper_walk
{
  struct sink *s;
  uint32_t base;
  json_t *baseline;
  uint64_t bytes, max_bytes; /* of the regular files written so far */
  char *dirs[MAX_DEPTH + 2];
  struct stat dir_st[MAX_DEPTH + 2];
  bool emitted[MAX_DEPTH + 2];
};

static uint32_t
image_id (uint32_t host, uint32_t base)
{
  return host >= base && host - base < ISLET_UID_RANGE ? host - base : 65534;
}

static int
emit_dirs (struct upper_walk *w, int depth, struct islet_err *err)
{
  for (int i = 0; i < depth; i++)
    if (!w->emitted[i])
      {
        const struct stat *st = &w->dir_st[i];
        if (sink_entry (w->s, w->dirs[i], st, image_id (st->st_uid, w->base),
                        image_id (st->st_gid, w->base), AT_FDCWD, "", err)
            < 0)
          return -1;
        w->emitted[i] = true;
      }
  return 0;
}

static bool
changed (json_t *baseline, const char *path, const struct stat *st)
{
  cleanup_free char *now = stamp (st);
  const char *before = json_string_value (json_object_get (baseline, path));
  return before == NULL || strcmp (before, now) != 0;
}

static int
visit_upper (void *arg, int dfd, const char *name, const char *path, const struct stat *st,
             int depth, struct islet_err *err)
{
  struct upper_walk *w = arg;
  uint32_t uid = image_id (st->st_uid, w->base), gid = image_id (st->st_gid, w->base);

  if (S_ISCHR (st->st_mode) && st->st_rdev == makedev (0, 0))
    {
      /* an overlayfs whiteout: the RUN deleted what a lower layer has */
      cleanup_free char *dir = islet_xstrdup (path);
      char *slash = strrchr (dir, '/');
      cleanup_free char *wh = NULL;
      if (slash)
        *slash = '\0';
      wh = slash ? islet_xasprintf ("%s/.wh.%s", dir, name) : islet_xasprintf (".wh.%s", name);
      return emit_dirs (w, depth, err) < 0 || sink_marker (w->s, wh, err) < 0 ? -1 : 0;
    }
  if (S_ISDIR (st->st_mode))
    {
      char v = 0;
      cleanup_close int fd = openat (dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      bool opaque = fd >= 0 && fgetxattr (fd, "trusted.overlay.opaque", &v, 1) == 1 && v == 'y';
      free (w->dirs[depth]);
      w->dirs[depth] = islet_xstrdup (path);
      w->dir_st[depth] = *st;
      w->emitted[depth] = false;
      if (changed (w->baseline, path, st) || opaque)
        {
          if (emit_dirs (w, depth + 1, err) < 0)
            return -1;
          if (opaque)
            {
              cleanup_free char *opq = islet_xasprintf ("%s/.wh..wh..opq", path);
              if (sink_marker (w->s, opq, err) < 0)
                return -1;
            }
        }
      return 1;
    }
  if (!changed (w->baseline, path, st))
    return 0;
  if (S_ISSOCK (st->st_mode))
    return 0; /* a socket is no file to keep (Docker drops them too) */
  if (S_ISCHR (st->st_mode) || S_ISBLK (st->st_mode))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "the step made a device node `/%s`: layers hold none", path);
  /* the sandbox's disk limit bounds the blocks it wrote, not the sizes:
     a sparse file's holes would be written out whole on the host */
  if (S_ISREG (st->st_mode) && (w->bytes += (uint64_t) st->st_size) > w->max_bytes)
    return islet_fail (err, ISLET_E_LIMIT, 0,
                       "the step's files come to more than %llu MB (at `/%s`): a layer holds at "
                       "most the sandbox's disk limit, sparse files counted whole",
                       (unsigned long long) (w->max_bytes >> 20), path);
  if (emit_dirs (w, depth, err) < 0)
    return -1;
  return sink_entry (w->s, path, st, uid, gid, dfd, name, err);
}

int
build_layer_from_upper (const char *upper, uint32_t base, json_t *baseline, uint64_t max_bytes,
                        int out, struct islet_err *err)
{
  cleanup_close int fd = open (upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct upper_walk w = { .base = base, .baseline = baseline, .max_bytes = max_bytes };
  struct sink s;
  int rc;

  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", upper);
  if (sink_open (&s, out, err) < 0)
    {
      (void) sink_close (&s, false, NULL, err);
      return -1;
    }
  s.xattr_dir = fd;
  s.base = base;
  w.s = &s;
  rc = walk (fd, "", 0, visit_upper, &w, err);
  for (size_t i = 0; i < sizeof w.dirs / sizeof w.dirs[0]; i++)
    free (w.dirs[i]);
  return sink_close (&s, rc == 0, NULL, err) < 0 || rc < 0 ? -1 : 0;
}

/* ---- the lower layers: where a path leads, and its ancestors ---- */

/* path (relative, no `.` or `..`) in the topmost layer that has it: 1
 * with *st, 0 when no layer has it (or a whiteout hides it). */
static int
lower_lstat (const struct build_lowers *l, const char *path, struct stat *st, int *layer)
{
  for (size_t i = l->n; i-- > 0;)
    {
      cleanup_close int root = open (l->dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
      struct open_how how = { .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
                              .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH };
      cleanup_close int fd = -1;
      if (root < 0)
        continue;
      fd = (int) syscall (SYS_openat2, root, path, &how, sizeof how);
      if (fd < 0 || fstat (fd, st) < 0)
        continue;
      if (S_ISCHR (st->st_mode) && st->st_rdev == makedev (0, 0))
        return 0;
      *layer = (int) i;
      return 1;
    }
  return 0;
}

/* Resolve path (absolute) through the lowers' symlinks into canonical
 * components: *out (relative, malloc'd), and for each existing directory
 * on the way its stat in sts[] (*n_known of them); the rest is new. */
struct resolved
{
  char *path;
  size_t n_known;
  struct stat sts[MAX_DEPTH];
};

static int
resolve_in_lowers (const struct build_lowers *l, const char *path, struct resolved *r,
                   struct islet_err *err)
{
  cleanup_free char *todo = islet_xstrdup (path);
  int hops = 0;

restart:
  {
    cleanup_free char *done = islet_xstrdup ("");
    char *save = NULL, *c;
    bool exists = true;
    r->n_known = 0;
    for (c = strtok_r (todo, "/", &save); c; c = strtok_r (NULL, "/", &save))
      {
        char *next;
        struct stat st;
        int layer;
        if (strcmp (c, ".") == 0)
          continue;
        if (strcmp (c, "..") == 0)
          {
            char *slash = strrchr (done, '/');
            if (slash)
              *slash = '\0';
            else
              done[0] = '\0';
            if (r->n_known > 0)
              r->n_known--;
            continue;
          }
        next = *done ? islet_xasprintf ("%s/%s", done, c) : islet_xstrdup (c);
        free (done);
        done = next;
        if (!exists || lower_lstat (l, done, &st, &layer) == 0)
          {
            exists = false;
            continue;
          }
        if (S_ISLNK (st.st_mode))
          {
            char target[4096];
            cleanup_close int root = open (l->dirs[layer], O_PATH | O_DIRECTORY | O_CLOEXEC);
            ssize_t n = root < 0 ? -1 : readlinkat (root, done, target, sizeof target - 1);
            char *rest = save && *save ? save : "";
            char *slash = strrchr (done, '/');
            if (n < 0 || ++hops > MAX_HOPS)
              return islet_fail (err, ISLET_E_INVALID, 0, "`%s` cannot be resolved in the image",
                                 path);
            target[n] = '\0';
            if (slash)
              *slash = '\0';
            else
              done[0] = '\0';
            next = target[0] == '/' ? islet_xasprintf ("%s/%s", target, rest)
                                    : islet_xasprintf ("/%s/%s/%s", done, target, rest);
            free (todo);
            todo = next;
            goto restart;
          }
        if (!S_ISDIR (st.st_mode) && save && *save)
          return islet_fail (err, ISLET_E_INVALID, 0, "`/%s` is not a directory in the image",
                             done);
        if (r->n_known < MAX_DEPTH)
          r->sts[r->n_known++] = st;
      }
    r->path = islet_take_ptr (&done);
    return 0;
  }
}

static size_t
count_comps (const char *path)
{
  size_t k = path[0] ? 1 : 0;
  for (const char *c = path; *c; c++)
    k += *c == '/';
  return k;
}

/* The directories leading to r->path (all but its last component),
 * with the lowers' owners and modes where they exist (0755 root where
 * not), so that the new layer's copies do not change them. */
static int
emit_ancestors (struct sink *s, const struct resolved *r, bool with_last, struct islet_err *err)
{
  cleanup_free char *p = islet_xstrdup (r->path);
  size_t i = 0;

  for (char *c = p; *c; c++)
    if (*c == '/' || (with_last && c[1] == '\0'))
      {
        char keep = c[1];
        struct stat st = { .st_mode = S_IFDIR | 0755, .st_nlink = 2 };
        bool last = *c != '/';
        if (!last)
          *c = '\0';
        else
          c[1] = '\0';
        if (i < r->n_known)
          st = r->sts[i];
        i++;
        if (sink_entry (s, p, &st, st.st_uid, st.st_gid, AT_FDCWD, "", err) < 0)
          return -1;
        if (!last)
          *c = '/';
        else
          c[1] = keep;
      }
  return 0;
}

int
build_layer_mkdir (const char *path, const struct build_lowers *lowers, int out, bool *made,
                   struct islet_err *err)
{
  struct resolved r = { 0 };
  struct sink s;
  int rc;

  *made = false;
  if (resolve_in_lowers (lowers, path, &r, err) < 0)
    return -1;
  if (r.path[0] == '\0' || r.n_known == count_comps (r.path))
    {
      free (r.path);
      return 0; /* it is there */
    }
  if (sink_open (&s, out, err) < 0)
    {
      free (r.path);
      return -1;
    }
  rc = emit_ancestors (&s, &r, true, err);
  free (r.path);
  *made = rc == 0;
  return sink_close (&s, rc == 0, NULL, err);
}

/* ---- a COPY from the context ---- */

struct copy_walk
{
  struct sink *s;
  const char *dest; /* relative */
  uint32_t uid, gid;
};

static int
visit_copy (void *arg, int dfd, const char *name, const char *path, const struct stat *st,
            int depth, struct islet_err *err)
{
  struct copy_walk *w = arg;
  cleanup_free char *to = islet_xasprintf ("%s/%s", w->dest, path);
  (void) depth;
  if (!S_ISREG (st->st_mode) && !S_ISDIR (st->st_mode) && !S_ISLNK (st->st_mode))
    return islet_fail (err, ISLET_E_INVALID, 0, "COPY: `%s` is not a file, directory or symlink",
                       path);
  if (sink_entry (w->s, to, st, w->uid, w->gid, dfd, name, err) < 0)
    return -1;
  return 1;
}

/* One source, opened in the context without leaving it. */
static int
open_source (int ctx, const char *src, struct islet_err *err)
{
  struct open_how how = { .flags = O_PATH | O_CLOEXEC,
                          .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
  const char *rel = src;
  int fd;

  while (*rel == '/')
    rel++; /* a source is always in the context, as in Docker */
  fd = (int) syscall (SYS_openat2, ctx, *rel ? rel : ".", &how, sizeof how);
  if (fd < 0 && errno == EXDEV)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "COPY source `%s` leads outside the build context: refused", src);
  if (fd < 0)
    return islet_fail (err, errno == ENOENT ? ISLET_E_NOTFOUND : ISLET_E_SYSTEM, errno,
                       "COPY source `%s` in the build context", src);
  return fd;
}

static const char *
base_name (const char *p)
{
  const char *s = strrchr (p, '/');
  return s && s[1] ? s + 1 : s ? "" : p;
}

/* One source (a path of the context); into: the destination is a
 * directory that sources go into. */
static int
copy_one (const struct build_copy *c, const struct build_lowers *lowers, struct sink *s,
          const char *src, bool into, struct islet_err *err)
{
  cleanup_close int fd = open_source (c->ctx, src, err);
  cleanup_free char *dest = NULL;
  struct resolved r = { 0 };
  struct stat st;
  int rc;

  if (fd < 0)
    return -1;
  if (fstat (fd, &st) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "stat `%s`", src);
  if (resolve_in_lowers (lowers, c->dest, &r, err) < 0)
    return -1;
  {
    size_t comps = count_comps (r.path);
    /* a file copied onto a directory that exists goes into it */
    if (!S_ISDIR (st.st_mode) && comps > 0 && r.n_known == comps
        && S_ISDIR (r.sts[comps - 1].st_mode))
      into = true;
  }
  if (S_ISDIR (st.st_mode))
    {
      struct copy_walk w = { .s = s, .dest = r.path, .uid = c->uid, .gid = c->gid };
      cleanup_close int dir = openat (fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      struct resolved self = r;
      if (dir < 0)
        rc = islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", src);
      else if (r.path[0] == '\0')
        rc = walk (dir, "", 0, visit_copy, &w, err) < 0 ? -1 : 0;
      else
        {
          /* the directory itself takes the source's mode and the owner asked */
          self.n_known = r.n_known;
          rc = emit_ancestors (s, &self, false, err);
          if (rc == 0)
            rc = sink_entry (s, r.path, &st, c->uid, c->gid, AT_FDCWD, "", err);
          if (rc == 0)
            {
              cleanup_free char *prefix = islet_xstrdup (r.path);
              w.dest = prefix;
              rc = walk (dir, "", 0, visit_copy, &w, err) < 0 ? -1 : 0;
            }
        }
      free (r.path);
      return rc;
    }
  if (!S_ISREG (st.st_mode))
    {
      free (r.path);
      return islet_fail (err, ISLET_E_INVALID, 0, "COPY source `%s` is not a file or directory",
                         src);
    }
  dest = into ? islet_xasprintf ("%s/%s", r.path, base_name (src)) : islet_xstrdup (r.path);
  free (r.path);
  if (into)
    {
      cleanup_free char *full = islet_xasprintf ("/%s", dest);
      if (resolve_in_lowers (lowers, full, &r, err) < 0)
        return -1;
      free (r.path);
      r.path = islet_xstrdup (dest);
    }
  else
    r.path = islet_xstrdup (dest);
  rc = emit_ancestors (s, &r, false, err);
  free (r.path);
  if (rc < 0)
    return -1;
  {
    /* through /proc/self/fd: the source was opened O_PATH, never by name again */
    cleanup_free char *name = islet_xasprintf ("/proc/self/fd/%d", fd);
    cleanup_close int data = open (name, O_RDONLY | O_CLOEXEC);
    if (data < 0)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", src);
    return sink_entry (s, dest, &st, c->uid, c->gid, data, "", err);
  }
}

int
build_layer_copy (const struct build_copy *c, const struct build_lowers *lowers, int out,
                  char hash[65], struct islet_err *err)
{
  struct sink s;
  int rc = 0;

  cleanup_strv char **srcs = islet_xcalloc (1, sizeof *srcs);
  size_t n = 0;
  bool slash = c->dest[strlen (c->dest) - 1] == '/';

  if (c->dest[0] != '/')
    return islet_fail (err, ISLET_E_INVALID, 0, "COPY destination `%s` is not absolute", c->dest);
  /* the sources, each pattern replaced by its matches */
  for (size_t i = 0; i < c->n_srcs; i++)
    {
      cleanup_strv char **m = NULL;
      size_t k = 0;
      if (!build_is_pattern (c->srcs[i]))
        m = islet_strv_dup ((char *const[]){ c->srcs[i], NULL });
      else if (build_context_glob (c->ctx, c->srcs[i], &m, &k, err) < 0)
        return -1;
      for (k = 0; m[k]; k++)
        {
          srcs = islet_xrealloc (srcs, (n + 2) * sizeof *srcs);
          srcs[n++] = islet_take_ptr (&m[k]);
          srcs[n] = NULL;
        }
    }
  /* as Docker: several sources go into a directory, which says so */
  if (n > 1 && !slash)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "COPY of %zu sources (`%s`, `%s`%s) needs a destination ending in `/`, "
                       "not `%s`",
                       n, srcs[0], srcs[1], n > 2 ? ", ..." : "", c->dest);
  if (sink_open (&s, out, err) < 0)
    {
      (void) sink_close (&s, false, NULL, err);
      return -1;
    }
  for (size_t i = 0; rc == 0 && i < n; i++)
    rc = copy_one (c, lowers, &s, srcs[i], slash, err);
  return sink_close (&s, rc == 0, hash, err) < 0 || rc < 0 ? -1 : 0;
}
