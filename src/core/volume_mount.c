/* A sandbox's volumes, mounted in its new root before the pivot.
 *
 * A volume's files are kept with the owners the sandboxes see (0..65535),
 * and each sandbox mounts it through an idmapped mount (open_tree +
 * mount_setattr MOUNT_ATTR_IDMAP, as the image's layers in oci_mount.c)
 * that maps them to its own uid range: two sandboxes with different ranges
 * share one volume, each sees the files it wrote as its own, and nothing
 * on disk is chowned per sandbox.
 *
 * Runs in the sandbox's first process, as real root, in its new mount
 * namespace.  Both paths are walked with openat2, never as strings on the
 * host: the subpath beneath the volume (RESOLVE_BENEATH: `..` and a symlink
 * the sandbox made that points out of the volume are refused), the mount
 * path inside the new root (RESOLVE_IN_ROOT: a symlink the sandbox made
 * resolves in its own root) and on the root's own files (RESOLVE_NO_XDEV:
 * not on /usr or another bind). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "islet/contain.h"
#include "islet/util.h"

static int
open_resolved (int top, const char *path, uint64_t resolve)
{
  struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = resolve };

  return (int) syscall (SYS_openat2, top, path, &how, sizeof how);
}

/* The directory rel under top, resolved with resolve, made (mode 0755,
 * owned by owner) where it is missing: an O_PATH fd.  Each part is
 * resolved anew from top after it is made, so a part the sandbox swapped
 * for a symlink meanwhile is still resolved by the rule. */
static int
walk_make (int top, const char *rel, uint64_t resolve, uid_t owner, const char *what,
           struct islet_err *err)
{
  cleanup_free char *prefix = islet_xstrdup (rel);
  cleanup_close int cur = fcntl (top, F_DUPFD_CLOEXEC, 3);
  size_t len = strlen (rel), start = 0;

  if (cur < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "dup");
  while (start < len)
    {
      size_t end = start + strcspn (rel + start, "/");
      int fd;

      prefix[end] = '\0';
      fd = open_resolved (top, prefix, resolve);
      if (fd < 0 && errno == ENOENT)
        {
          if (mkdirat (cur, prefix + start, 0755) == 0)
            {
              if (fchownat (cur, prefix + start, owner, owner, AT_SYMLINK_NOFOLLOW) < 0)
                return islet_fail (err, ISLET_E_SYSTEM, errno, "chown `%s` of %s", prefix, what);
            }
          else if (errno != EEXIST)
            return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s` of %s", prefix, what);
          fd = open_resolved (top, prefix, resolve);
        }
      if (fd < 0)
        return islet_fail (err, errno == EXDEV || errno == ELOOP ? ISLET_E_INVALID : ISLET_E_SYSTEM,
                           errno, "%s: `%s` %s", what, prefix,
                           errno == EXDEV || errno == ELOOP ? "leads out of where it must stay"
                                                            : "cannot be opened");
      close (cur);
      cur = fd;
      prefix[end] = rel[end];
      start = end + 1;
    }
  return islet_take_fd (&cur);
}

/* A detached copy of the volume (or its subpath), seen through the idmap. */
static int
volume_tree (const struct islet_vmount *m, int userns, struct islet_err *err)
{
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID,
                             .userns_fd = (uint64_t) userns };
  cleanup_free char *what = islet_xasprintf ("subpath of volume `%s`", m->volume);
  cleanup_close int vol = open (m->source, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_close int dir = -1;
  cleanup_close int tree = -1;

  if (vol < 0)
    return islet_fail (err, errno == ENOENT ? ISLET_E_NOTFOUND : ISLET_E_SYSTEM, errno,
                       "open volume `%s`", m->volume);
  if (m->subpath[0] == '\0')
    dir = islet_take_fd (&vol);
  else
    dir = walk_make (vol, m->subpath, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV, 0,
                     what, err);
  if (dir < 0)
    return -1;
  tree = open_tree (dir, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  if (tree < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open_tree volume `%s`", m->volume);
  if (mount_setattr (tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "idmap volume `%s`", m->volume);
  return islet_take_fd (&tree);
}

int
islet_rootfs_mount_volumes (const struct islet_rootfs *spec, const char *root,
                            struct islet_err *err)
{
  cleanup_close int made = -1;
  cleanup_close int rootfd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int userns = spec->userns;

  if (rootfd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", root);
  if (userns < 0 && (userns = made = islet_idmap_userns (spec->uid_base, err)) < 0)
    return -1;
  for (size_t i = 0; i < spec->n_mounts; i++)
    {
      const struct islet_vmount *m = &spec->mounts[i];
      cleanup_free char *what = islet_xasprintf ("mount path of volume `%s`", m->volume);
      cleanup_close int tree = volume_tree (m, userns, err);
      cleanup_close int at = -1;

      if (tree < 0)
        return -1;
      /* the parts made here are the sandbox's root's, as /workspace is */
      at = walk_make (rootfd, m->path + 1,
                      RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV, spec->uid_base,
                      what, err);
      if (at < 0)
        return -1;
      if (move_mount (tree, "", at, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "mount volume `%s` on `%s`", m->volume,
                           m->path);
    }
  return 0;
}
