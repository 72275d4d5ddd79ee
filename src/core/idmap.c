/* uid ranges: a sandbox's root is an unprivileged host uid, and no two
 * sandboxes share one, so a process of one can never signal, ptrace or own
 * the files of another. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "islet/contain.h"
#include "islet/util.h"

int
islet_idmap_claim (const char *state_dir, uint32_t *base, struct islet_err *err)
{
  cleanup_free char *dir = islet_xasprintf ("%s/uids", state_dir);
  cleanup_close int dfd = -1;
  uint32_t start = 0;

  if (mkdir (dir, 0700) < 0 && errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", dir);
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dir);
  /* Start at a random slot so that creates racing each other rarely collide. */
  if (getrandom (&start, sizeof start, 0) != (ssize_t) sizeof start)
    start = (uint32_t) getpid ();
  for (uint32_t i = 0; i < ISLET_UID_SLOTS; i++)
    {
      uint32_t slot = (start + i) % ISLET_UID_SLOTS;
      char name[16];
      int fd;

      snprintf (name, sizeof name, "%u", slot);
      fd = openat (dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd >= 0)
        {
          close (fd);
          *base = ISLET_UID_FIRST + slot * ISLET_UID_RANGE;
          return 0;
        }
      if (errno != EEXIST)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "claim uid range `%s/%s`", dir, name);
    }
  return islet_fail (err, ISLET_E_LIMIT, 0, "no free uid range: %u sandboxes exist",
                     ISLET_UID_SLOTS);
}

int
islet_idmap_release (const char *state_dir, uint32_t base, struct islet_err *err)
{
  cleanup_free char *path = NULL;

  if (base < ISLET_UID_FIRST || (base - ISLET_UID_FIRST) % ISLET_UID_RANGE != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "uid base %u is not one of islet's", base);
  path = islet_xasprintf ("%s/uids/%u", state_dir, (base - ISLET_UID_FIRST) / ISLET_UID_RANGE);
  if (unlink (path) < 0 && errno != ENOENT)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "release uid range `%s`", path);
  return 0;
}

int
islet_idmap_write (pid_t pid, uint32_t base, struct islet_err *err)
{
  char path[64], map[64];

  snprintf (map, sizeof map, "0 %u %u\n", base, ISLET_UID_RANGE);
  snprintf (path, sizeof path, "/proc/%d/uid_map", (int) pid);
  if (islet_write_file_at (AT_FDCWD, path, map, err) < 0)
    return -1;
  snprintf (path, sizeof path, "/proc/%d/gid_map", (int) pid);
  return islet_write_file_at (AT_FDCWD, path, map, err);
}
