/* Images: the read-only part of a sandbox's root.
 *
 * An image is a lower directory for the root overlay plus a list of host
 * directories bound read-only into it.  The embedded "host" image is a small
 * generated skeleton (a few /etc files, empty mount points and the merged-usr
 * links) with the host's /usr bound over /usr: python3, node, bash and git
 * work inside with no download, and nothing else of the host is visible.
 * An OCI image of the store is a stack of lower directories with no binds.
 * A create that names no image gets the store's default image
 * (ISLET_DEFAULT_IMAGE, `islet image build-default`) when it is there, and
 * `host` when it is not. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "islet/contain.h"
#include "islet/oci.h"
#include "islet/proto.h"
#include "islet/util.h"

#define HOST_IMAGE "host"
/* `--image default`: ISLET_DEFAULT_IMAGE, refused when it is not built. */
#define DEFAULT_ALIAS "default"
/* Bumped when the skeleton changes, so an old one is rebuilt, not reused. */
/* v2: v1 was built without a lock, and a race could leave a half-built
 * host-v1 in place for good; v2 is only ever renamed into place whole. */
#define HOST_IMAGE_DIR "host-v2"

static const struct islet_bind host_binds[] = {
  { "/usr", "/usr" },
  /* Certificates and alternatives are configuration the tools in /usr expect. */
  { "/etc/ssl/certs", "/etc/ssl/certs" },
  { "/etc/ca-certificates", "/etc/ca-certificates" },
  { "/etc/alternatives", "/etc/alternatives" },
  { NULL, NULL },
};

static const struct
{
  const char *path;
  mode_t mode;
} skeleton_dirs[] = {
  { "usr", 0755 },
  { "proc", 0555 },
  { "dev", 0755 },
  { "tmp", 01777 },
  { "workspace", 0755 },
  { "root", 0700 },
  { "home", 0755 },
  { "etc", 0755 },
  { "etc/ssl", 0755 },
  { "etc/ssl/certs", 0755 },
  { "etc/ca-certificates", 0755 },
  { "etc/alternatives", 0755 },
  { "mnt", 0755 },
  { "opt", 0755 },
  { "run", 0755 },
  { "var", 0755 },
  { "var/tmp", 01777 },
  { "srv", 0755 },
};

static const struct
{
  const char *path;
  const char *text;
} skeleton_files[] = {
  { "etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
                  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" },
  { "etc/group", "root:x:0:\nnogroup:x:65534:\n" },
  { "etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
                         "networks: files\nprotocols: files\nservices: files\n" },
  /* The sandbox has loopback only: no name server can answer. */
  { "etc/resolv.conf", "# the sandbox has no network beyond loopback\n" },
  { "etc/hosts", "127.0.0.1 localhost\n::1 localhost\n" },
  { "etc/hostname", "islet\n" },
};

/* The merged-usr links (/bin -> usr/bin ...), mirrored from the host. */
static const char *const usr_links[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };

static int
copy_file (const char *from, int dirfd, const char *to, struct islet_err *err)
{
  cleanup_free char *data = NULL;
  cleanup_close int fd = -1;
  size_t len = 0;

  if (islet_read_file_at (AT_FDCWD, from, 64u << 20, &data, &len, err) < 0)
    return -1;
  fd = openat (dirfd, to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 || islet_write_all (fd, data, len) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "write `%s`", to);
  return 0;
}

static int
build_skeleton (const char *dir, struct islet_err *err)
{
  cleanup_close int dfd = -1;

  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dir);
  for (size_t i = 0; i < sizeof skeleton_dirs / sizeof skeleton_dirs[0]; i++)
    if (mkdirat (dfd, skeleton_dirs[i].path, 0755) < 0
        || fchmodat (dfd, skeleton_dirs[i].path, skeleton_dirs[i].mode, 0) < 0)
      return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s/%s`", dir, skeleton_dirs[i].path);
  for (size_t i = 0; i < sizeof skeleton_files / sizeof skeleton_files[0]; i++)
    {
      cleanup_close int fd = openat (dfd, skeleton_files[i].path,
                                     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0
          || islet_write_all (fd, skeleton_files[i].text, strlen (skeleton_files[i].text)) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "write `%s/%s`", dir,
                           skeleton_files[i].path);
    }
  for (size_t i = 0; i < sizeof usr_links / sizeof usr_links[0]; i++)
    {
      char host[32], target[PATH_MAX];
      ssize_t n;

      snprintf (host, sizeof host, "/%s", usr_links[i]);
      n = readlink (host, target, sizeof target - 1);
      if (n < 0)
        continue; /* not a link on this host (or absent): nothing to mirror */
      target[n] = '\0';
      if (symlinkat (target, dfd, usr_links[i]) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "symlink `%s/%s`", dir, usr_links[i]);
    }
  /* The loader finds libraries without its cache, but much more slowly. */
  if (access ("/etc/ld.so.cache", R_OK) == 0
      && copy_file ("/etc/ld.so.cache", dfd, "etc/ld.so.cache", err) < 0)
    return -1;
  if (symlinkat ("../usr/lib/os-release", dfd, "etc/os-release") < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "symlink `%s/etc/os-release`", dir);
  return 0;
}

/* Remove what an interrupted build left: temporary directories named
 * `.NAME.XXXXXX`.  Only called under the build lock, so none is in use. */
static void
remove_leftovers (const char *images, const char *name)
{
  cleanup_dir DIR *d = opendir (images);
  size_t len = strlen (name);
  struct dirent *e;

  while (d && (e = readdir (d)) != NULL)
    if (e->d_name[0] == '.' && strncmp (e->d_name + 1, name, len) == 0 && e->d_name[len + 1] == '.'
        && strlen (e->d_name + len + 2) == 6)
      {
        struct islet_err ignored;
        cleanup_free char *p = islet_xasprintf ("%s/%s", images, e->d_name);
        (void) !islet_rm_rf (p, &ignored);
      }
}

/* Build the host skeleton once.  Concurrent first creates (isletd's threads
 * share one pid) wait on a lock in images/; the builder works in a unique
 * temporary directory renamed into place, so `dir` exists only when whole
 * and a crash leaves only a temporary directory, removed by the next build. */
static int
build_host_image (const char *state_dir, const char *images, const char *dir, struct islet_err *err)
{
  cleanup_free char *tmp = islet_xasprintf ("%s/.%s.XXXXXX", images, HOST_IMAGE_DIR);
  cleanup_close int lock = islet_imgstore_flock (state_dir, ".lock", LOCK_EX, err);
  struct islet_err ignored;
  struct stat st;

  if (lock < 0)
    return -1;
  if (stat (dir, &st) == 0)
    return 0; /* built by whoever held the lock before us */
  remove_leftovers (images, HOST_IMAGE_DIR);
  if (mkdtemp (tmp) == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdtemp `%s`", tmp);
  if (build_skeleton (tmp, err) < 0)
    {
      (void) !islet_rm_rf (tmp, &ignored);
      return -1;
    }
  /* not synced: a skeleton is cheap to make again, and a sync of the
     state directory's file system would slow every first create */
  return islet_image_publish (tmp, dir, false, err);
}

int
islet_image_publish (const char *tmp, const char *dst, bool sync, struct islet_err *err)
{
  cleanup_close int dfd = open (tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct islet_err ignored;

  /* with sync, the files reach the disk before the name does; mkdtemp
     made the directory 0700, and the sandbox's root must be able to enter it */
  if (dfd < 0 || (sync && syncfs (dfd) < 0) || fchmod (dfd, 0755) < 0 || rename (tmp, dst) < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "rename `%s` to `%s`", tmp, dst);
      (void) !islet_rm_rf (tmp, &ignored);
      return -1;
    }
  return 0;
}

/* Image uid and gid for a config's User: "uid[:gid]" or names from the
 * image's /etc/passwd and /etc/group (the topmost layer that has them). */
static int
lookup_id (char *const *layers, size_t n, const char *file, const char *name, unsigned *id,
           unsigned *gid)
{
  for (size_t i = n; i-- > 0;)
    {
      cleanup_free char *p = islet_xasprintf ("%s/etc/%s", layers[i], file);
      cleanup_fclose FILE *f = fopen (p, "re");
      char line[1024];
      if (f == NULL)
        continue;
      while (fgets (line, sizeof line, f))
        {
          char *save = NULL, *nm = strtok_r (line, ":", &save);
          char *pw = strtok_r (NULL, ":", &save), *u = strtok_r (NULL, ":", &save);
          char *g = strtok_r (NULL, ":", &save);
          if (nm && pw && u && strcmp (nm, name) == 0)
            {
              *id = (unsigned) strtoul (u, NULL, 10);
              if (gid && g)
                *gid = (unsigned) strtoul (g, NULL, 10);
              return 0;
            }
        }
      return -1;
    }
  return -1;
}

static int
parse_user (struct islet_image *out, const char *user, struct islet_err *err)
{
  cleanup_free char *u = islet_xstrdup (user);
  char *colon = strchr (u, ':'), *end;
  unsigned uid = 0, gid = 0;
  bool gid_given = colon != NULL;

  if (colon)
    *colon++ = '\0';
  if (*u)
    {
      uid = (unsigned) strtoul (u, &end, 10);
      if (*end != '\0' && lookup_id (out->layers, out->n_layers, "passwd", u, &uid, &gid) < 0)
        return islet_fail (err, ISLET_E_INVALID, 0,
                           "image user `%s`: no such user in its /etc/passwd", user);
      if (*end == '\0' && !gid_given)
        gid = uid;
    }
  if (colon && *colon)
    {
      gid = (unsigned) strtoul (colon, &end, 10);
      if (*end != '\0' && lookup_id (out->layers, out->n_layers, "group", colon, &gid, NULL) < 0)
        return islet_fail (err, ISLET_E_INVALID, 0,
                           "image user `%s`: no such group in its /etc/group", user);
    }
  if (uid >= ISLET_UID_RANGE || gid >= ISLET_UID_RANGE)
    return islet_fail (err, ISLET_E_INVALID, 0, "image user `%s`: ids must be below %u", user,
                       ISLET_UID_RANGE);
  out->uid = uid;
  out->gid = gid;
  return 0;
}

/* ---- what identifies images/meta, for the answers a process keeps ----
 * Every change of a record renames a file into that directory or removes
 * one, which moves both its times, so one stat tells whether an answer
 * read from the records still holds.  An answer is not kept while the
 * directory's last change is recent: a change in the same tick of the file
 * system's clock might leave its times as they were. */
#define META_SETTLE_NS 100000000LL

struct meta_seen
{
  dev_t dev;
  ino_t ino;
  struct timespec mtime, ctime;
};

static int64_t
ts_ns (const struct timespec *t)
{
  return (int64_t) t->tv_sec * 1000000000LL + t->tv_nsec;
}

static struct meta_seen
meta_seen_of (const struct stat *st)
{
  return (struct meta_seen){
    .dev = st->st_dev, .ino = st->st_ino, .mtime = st->st_mtim, .ctime = st->st_ctim
  };
}

static bool
same_meta (const struct meta_seen *m, const struct stat *st)
{
  return m->dev == st->st_dev && m->ino == st->st_ino && ts_ns (&m->mtime) == ts_ns (&st->st_mtim)
         && ts_ns (&m->ctime) == ts_ns (&st->st_ctim);
}

static bool
meta_settled (const struct stat *st)
{
  struct timespec now;

  clock_gettime (CLOCK_REALTIME, &now);
  return ts_ns (&now) - ts_ns (&st->st_mtim) >= META_SETTLE_NS
         && ts_ns (&now) - ts_ns (&st->st_ctim) >= META_SETTLE_NS;
}

/* ---- islet_image_open's answers for stored images, kept by the process ----
 * A create opens its image to check it can be used before the sandbox is
 * made (its supervisor opens it again); a process that makes many, isletd
 * or a bench, reads the same record, config and /etc/passwd each time.  An
 * image's record and layers never change while it is stored (an id is its
 * config's digest), so the answer is kept as islet_image_resolve's are. */
#define OPENED_MAX 4

struct opened
{
  char *state_dir, *name;
  struct islet_image img;
  struct meta_seen seen;
};

static struct opened opened[OPENED_MAX];
static unsigned opened_next;
static pthread_mutex_t opened_lock = PTHREAD_MUTEX_INITIALIZER;

static void
image_copy (const struct islet_image *from, struct islet_image *to)
{
  *to = (struct islet_image){ .name = islet_xstrdup (from->name),
                              .layers = islet_strv_dup (from->layers),
                              .n_layers = from->n_layers,
                              .env = islet_strv_dup (from->env),
                              .workdir = from->workdir ? islet_xstrdup (from->workdir) : NULL,
                              .uid = from->uid,
                              .gid = from->gid };
}

static bool
opened_get (const char *state_dir, const char *name, const struct stat *st, struct islet_image *out)
{
  bool hit = false;

  pthread_mutex_lock (&opened_lock);
  for (size_t i = 0; i < OPENED_MAX && !hit; i++)
    if (opened[i].name && strcmp (opened[i].name, name) == 0
        && strcmp (opened[i].state_dir, state_dir) == 0 && same_meta (&opened[i].seen, st))
      {
        image_copy (&opened[i].img, out);
        hit = true;
      }
  pthread_mutex_unlock (&opened_lock);
  return hit;
}

static void
opened_put (const char *state_dir, const char *name, const struct stat *st,
            const struct islet_image *img)
{
  struct opened *o;

  if (!meta_settled (st))
    return;
  pthread_mutex_lock (&opened_lock);
  o = &opened[opened_next++ % OPENED_MAX];
  free (o->state_dir);
  free (o->name);
  islet_image_fini (&o->img);
  *o = (struct opened){ .state_dir = islet_xstrdup (state_dir),
                        .name = islet_xstrdup (name),
                        .seen = meta_seen_of (st) };
  image_copy (img, &o->img);
  pthread_mutex_unlock (&opened_lock);
}

/* An OCI image's layers, from its record alone. */
static int
open_oci_root (const char *state_dir, const char *name, struct islet_image *out,
               struct islet_err *err)
{
  struct islet_oci_image img;

  if (islet_imgstore_open_record (state_dir, name, &img, err) < 0)
    return -1;
  out->name = islet_xstrdup (img.id);
  out->layers = img.layers;
  out->n_layers = img.n_layers;
  img.layers = NULL;
  islet_oci_image_fini (&img);
  return 0;
}

int
islet_image_read_config (const char *state_dir, struct islet_image *img, struct islet_err *err)
{
  cleanup_json json_t *config = NULL;
  cleanup_free char *user = NULL;
  json_t *env, *e;
  const char *wd;
  size_t i;

  if (img->layers == NULL || img->env != NULL)
    return 0; /* host, or read already */
  /* an image's id is its config's digest */
  config = islet_imgstore_read_config (state_dir, img->name, err);
  if (config == NULL)
    return -1;
  env = json_object_get (config, "Env");
  img->env = islet_xcalloc (json_array_size (env) + 1, sizeof *img->env);
  json_array_foreach (env, i, e) img->env[i] = islet_xstrdup (json_string_value (e) ?: "");
  wd = json_string_value (json_object_get (config, "WorkingDir"));
  img->workdir = wd && *wd ? islet_xstrdup (wd) : NULL;
  wd = json_string_value (json_object_get (config, "User"));
  user = islet_xstrdup (wd ? wd : "");
  return *user ? parse_user (img, user, err) : 0;
}

static int
open_oci (const char *state_dir, const char *name, struct islet_image *out, struct islet_err *err)
{
  if (open_oci_root (state_dir, name, out, err) < 0)
    return -1;
  if (islet_image_read_config (state_dir, out, err) < 0)
    {
      islet_image_fini (out);
      return -1;
    }
  return 0;
}

/* stat before the records are read: a change made while they are read
   moves the times past the ones the answer is kept with */
static int
open_oci_kept (const char *state_dir, const char *name, struct islet_image *out,
               struct islet_err *err)
{
  cleanup_free char *meta = islet_xasprintf ("%s/images/meta", state_dir);
  struct stat st;
  bool known = stat (meta, &st) == 0;

  if (known && opened_get (state_dir, name, &st, out))
    return 0;
  if (open_oci (state_dir, name, out, err) < 0)
    return -1;
  if (known)
    opened_put (state_dir, name, &st, out);
  return 0;
}

int
islet_image_open_root (const char *state_dir, const char *name, struct islet_image *out,
                       struct islet_err *err)
{
  if (name && *name && strcmp (name, HOST_IMAGE) != 0)
    {
      *out = (struct islet_image){ 0 };
      return open_oci_root (state_dir, name, out, err);
    }
  return islet_image_open (state_dir, name, out, err);
}

int
islet_image_open (const char *state_dir, const char *name, struct islet_image *out,
                  struct islet_err *err)
{
  cleanup_free char *images = islet_xasprintf ("%s/images", state_dir);
  cleanup_free char *dir = islet_xasprintf ("%s/%s", images, HOST_IMAGE_DIR);
  struct stat st;

  *out = (struct islet_image){ 0 };
  if (name == NULL || *name == '\0')
    return islet_fail (err, ISLET_E_INVALID, 0, "no image named");
  if (strcmp (name, HOST_IMAGE) != 0)
    return open_oci_kept (state_dir, name, out, err);
  if (stat (dir, &st) < 0 && build_host_image (state_dir, images, dir, err) < 0)
    return islet_wrap (err, "build image `%s`", name);
  out->name = islet_xstrdup (name);
  out->lower = islet_take_ptr (&dir);
  out->binds = host_binds;
  return 0;
}

/* The store's default image, when it has one: is there anything to look at?
 * A state directory that never had an image answers with one stat. */
static bool
store_exists (const char *state_dir)
{
  cleanup_free char *meta = islet_xasprintf ("%s/images/meta", state_dir);
  return access (meta, F_OK) == 0;
}

/* ---- islet_image_resolve's answers, kept by the process ----
 * Each create resolves its image's name (`default`, a reference) to an id:
 * read from the store, that is every record and the image's config.  The
 * answer is kept with what identifies images/meta then (meta_seen). */
#define RESOLVED_MAX 8

struct resolved
{
  char *state_dir, *ref;
  char id[ISLET_DIGEST_LEN + 1];
  struct meta_seen seen;
};

static struct resolved resolved[RESOLVED_MAX];
static unsigned resolved_next;
static pthread_mutex_t resolved_lock = PTHREAD_MUTEX_INITIALIZER;

static bool
resolved_get (const char *state_dir, const char *ref, const struct stat *st, char *out, size_t size)
{
  bool hit = false;

  pthread_mutex_lock (&resolved_lock);
  for (size_t i = 0; i < RESOLVED_MAX && !hit; i++)
    if (resolved[i].ref && strcmp (resolved[i].ref, ref) == 0
        && strcmp (resolved[i].state_dir, state_dir) == 0 && same_meta (&resolved[i].seen, st))
      {
        snprintf (out, size, "%s", resolved[i].id);
        hit = true;
      }
  pthread_mutex_unlock (&resolved_lock);
  return hit;
}

static void
resolved_put (const char *state_dir, const char *ref, const struct stat *st, const char *id)
{
  struct resolved *r;

  if (!meta_settled (st))
    return;
  pthread_mutex_lock (&resolved_lock);
  r = &resolved[resolved_next++ % RESOLVED_MAX];
  free (r->state_dir);
  free (r->ref);
  *r = (struct resolved){ .state_dir = islet_xstrdup (state_dir),
                          .ref = islet_xstrdup (ref),
                          .seen = meta_seen_of (st) };
  snprintf (r->id, sizeof r->id, "%s", id);
  pthread_mutex_unlock (&resolved_lock);
}

int
islet_image_resolve (const char *state_dir, const char *ref, char *out, size_t size, int *hold,
                     struct islet_err *err)
{
  cleanup_free char *meta = islet_xasprintf ("%s/images/meta", state_dir);
  struct islet_oci_image img;
  struct stat st;
  bool known;
  bool fallback = ref == NULL; /* no image asked for: the default, else host */

  *hold = -1;
  if (ref == NULL)
    ref = ISLET_DEFAULT_IMAGE;
  else if (strcmp (ref, DEFAULT_ALIAS) == 0)
    ref = ISLET_DEFAULT_IMAGE;
  if (strcmp (ref, HOST_IMAGE) == 0 || (fallback && !store_exists (state_dir)))
    {
      snprintf (out, size, "%s", HOST_IMAGE);
      return 0;
    }
  *hold = islet_imgstore_use_lock (state_dir, LOCK_SH, err);
  if (*hold < 0)
    return -1;
  /* stat before the records are read: a change made while they are read
     moves the times past the ones the answer is kept with */
  known = stat (meta, &st) == 0;
  if (known && resolved_get (state_dir, ref, &st, out, size))
    return 0;
  if (islet_imgstore_open (state_dir, ref, &img, err) < 0)
    {
      close (*hold);
      *hold = -1;
      if (err->kind != ISLET_E_NOTFOUND || strcmp (ref, ISLET_DEFAULT_IMAGE) != 0)
        return -1;
      if (fallback)
        {
          snprintf (out, size, "%s", HOST_IMAGE);
          return 0;
        }
      return islet_fail (err, ISLET_E_NOTFOUND, 0,
                         "the default image is not built here: islet image build-default");
    }
  snprintf (out, size, "%s", img.id);
  if (known)
    resolved_put (state_dir, ref, &st, img.id);
  islet_oci_image_fini (&img);
  return 0;
}

void
islet_image_fini (struct islet_image *img)
{
  free (img->name);
  free (img->lower);
  islet_strv_free (img->layers);
  islet_strv_free (img->env);
  free (img->workdir);
  *img = (struct islet_image){ 0 };
}
