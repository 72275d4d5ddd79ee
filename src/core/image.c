/* Images: the read-only part of a sandbox's root.
 *
 * An image is a lower directory for the root overlay plus a list of host
 * directories bound read-only into it.  The embedded "host" image is a small
 * generated skeleton (a few /etc files, empty mount points and the merged-usr
 * links) with the host's /usr bound over /usr: python3, node, bash and git
 * work inside with no download, and nothing else of the host is visible.
 * Another root (a directory now, an unpacked OCI image later) is another
 * lower directory with no binds. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "islet/contain.h"
#include "islet/util.h"

#define HOST_IMAGE "host"
/* Bumped when the skeleton changes, so an old one is rebuilt, not reused. */
#define HOST_IMAGE_DIR "host-v1"

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
  { "usr", 0755 },       { "proc", 0555 },         { "dev", 0755 },
  { "tmp", 01777 },      { "workspace", 0755 },    { "root", 0700 },
  { "home", 0755 },      { "etc", 0755 },          { "etc/ssl", 0755 },
  { "etc/ssl/certs", 0755 }, { "etc/ca-certificates", 0755 }, { "etc/alternatives", 0755 },
  { "mnt", 0755 },       { "opt", 0755 },          { "run", 0755 },
  { "var", 0755 },       { "var/tmp", 01777 },     { "srv", 0755 },
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

bool
islet_image_name_valid (const char *name)
{
  return name != NULL && strcmp (name, HOST_IMAGE) == 0;
}

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

  if (mkdir (dir, 0755) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", dir);
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
  if (access ("/etc/ld.so.cache", R_OK) == 0 && copy_file ("/etc/ld.so.cache", dfd, "etc/ld.so.cache", err) < 0)
    return -1;
  if (symlinkat ("../usr/lib/os-release", dfd, "etc/os-release") < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "symlink `%s/etc/os-release`", dir);
  return 0;
}

int
islet_image_open (const char *state_dir, const char *name, struct islet_image *out,
                  struct islet_err *err)
{
  cleanup_free char *images = islet_xasprintf ("%s/images", state_dir);
  cleanup_free char *dir = islet_xasprintf ("%s/%s", images, HOST_IMAGE_DIR);
  cleanup_free char *tmp = NULL;
  struct stat st;

  if (!islet_image_name_valid (name))
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no image `%s` (available: %s)", name,
                       HOST_IMAGE);
  if (stat (dir, &st) < 0)
    {
      struct islet_err ignored;

      if (mkdir (images, 0755) < 0 && errno != EEXIST)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", images);
      /* Build aside and rename into place, so a half-built image is never used
         and two creates racing each other both end up with one good copy. */
      tmp = islet_xasprintf ("%s/.%s.%d", images, HOST_IMAGE_DIR, (int) getpid ());
      (void) !islet_rm_rf (tmp, &ignored);
      if (build_skeleton (tmp, err) < 0)
        {
          (void) !islet_rm_rf (tmp, &ignored);
          return islet_wrap (err, "build image `%s`", name);
        }
      if (rename (tmp, dir) < 0)
        {
          int e = errno;
          (void) !islet_rm_rf (tmp, &ignored);
          if (e != EEXIST && e != ENOTEMPTY)
            return islet_fail (err, ISLET_E_SYSTEM, e, "rename `%s`", dir);
        }
    }
  out->name = islet_xstrdup (name);
  out->lower = islet_take_ptr (&dir);
  out->binds = host_binds;
  return 0;
}

void
islet_image_fini (struct islet_image *img)
{
  free (img->name);
  free (img->lower);
  img->name = img->lower = NULL;
}
