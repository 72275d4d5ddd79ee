/* uid ranges: a sandbox's root is an unprivileged host uid, and no two
 * sandboxes share one, so a process of one can never signal, ptrace or own
 * the files of another. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "islet/contain.h"
#include "islet/util.h"

#define ISLET_CLAIM_OWNER_MAX 64

/* The owner a claim names (its content; "" for a claim made before claims
 * named their owner), or -1 if it cannot be read. */
static int
claim_owner (int dfd, const char *name, char owner[ISLET_CLAIM_OWNER_MAX])
{
  cleanup_close int fd = openat (dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return -1;
  n = read (fd, owner, ISLET_CLAIM_OWNER_MAX - 1);
  if (n < 0)
    return -1;
  owner[n] = '\0';
  return 0;
}

int
islet_idmap_claim (const char *state_dir, const char *owner, uint32_t *base, struct islet_err *err)
{
  cleanup_free char *dir = islet_xasprintf ("%s/uids", state_dir);
  cleanup_free char *tmp = islet_xasprintf (".claim-%s", owner);
  cleanup_close int dfd = -1;
  uint32_t start = 0;
  int fd;

  if (strlen (owner) >= ISLET_CLAIM_OWNER_MAX || strchr (owner, '/') != NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "`%s` cannot own a uid range", owner);
  if (mkdir (dir, 0700) < 0 && errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", dir);
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dir);
  /* The claim is a hard link to a file that names its owner: link(2) both
   * takes the slot (or fails with EEXIST) and records whose it is, so a
   * create killed at any point leaves no claim that nobody can trace. */
  fd = openat (dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create `%s/%s`", dir, tmp);
  if (islet_write_all (fd, owner, strlen (owner)) < 0)
    {
      int e = errno;
      close (fd);
      (void) unlinkat (dfd, tmp, 0);
      return islet_fail (err, ISLET_E_SYSTEM, e, "write `%s/%s`", dir, tmp);
    }
  close (fd);
  /* Start at a random slot so that creates racing each other rarely collide. */
  if (getrandom (&start, sizeof start, 0) != (ssize_t) sizeof start)
    start = (uint32_t) getpid ();
  for (uint32_t i = 0; i < ISLET_UID_SLOTS; i++)
    {
      uint32_t slot = (start + i) % ISLET_UID_SLOTS;
      char name[16];

      snprintf (name, sizeof name, "%u", slot);
      if (linkat (dfd, tmp, dfd, name, 0) == 0)
        {
          (void) unlinkat (dfd, tmp, 0);
          *base = ISLET_UID_FIRST + slot * ISLET_UID_RANGE;
          return 0;
        }
      if (errno != EEXIST)
        {
          int e = errno;
          (void) unlinkat (dfd, tmp, 0);
          return islet_fail (err, ISLET_E_SYSTEM, e, "claim uid range `%s/%s`", dir, name);
        }
    }
  (void) unlinkat (dfd, tmp, 0);
  return islet_fail (err, ISLET_E_LIMIT, 0, "no free uid range: %u sandboxes exist",
                     ISLET_UID_SLOTS);
}

int
islet_idmap_release (const char *state_dir, const char *owner, uint32_t base, struct islet_err *err)
{
  cleanup_free char *dir = islet_xasprintf ("%s/uids", state_dir);
  cleanup_free char *tmp = islet_xasprintf (".claim-%s", owner);
  cleanup_close int dfd = -1;
  char name[16], who[ISLET_CLAIM_OWNER_MAX];

  if (base < ISLET_UID_FIRST || (base - ISLET_UID_FIRST) % ISLET_UID_RANGE != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "uid base %u is not one of islet's", base);
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 && errno == ENOENT)
    return 0;
  if (dfd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", dir);
  (void) unlinkat (dfd, tmp, 0);
  snprintf (name, sizeof name, "%u", (base - ISLET_UID_FIRST) / ISLET_UID_RANGE);
  /* a range released once may have been claimed again by another sandbox
   * (a remove cut short and redone): that claim is not ours to drop */
  if (claim_owner (dfd, name, who) == 0 && who[0] != '\0' && strcmp (who, owner) != 0)
    return 0;
  if (unlinkat (dfd, name, 0) < 0 && errno != ENOENT)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "release uid range `%s/%s`", dir, name);
  return 0;
}

int
islet_idmap_find (const char *state_dir, const char *owner, uint32_t *base)
{
  cleanup_free char *dir = islet_xasprintf ("%s/uids", state_dir);
  cleanup_free char *tmp = islet_xasprintf ("%s/.claim-%s", dir, owner);
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;

  /* a claim being made: nothing is claimed yet, and the file goes */
  (void) unlink (tmp);
  if (d == NULL)
    return 0;
  while ((de = readdir (d)) != NULL)
    {
      char who[ISLET_CLAIM_OWNER_MAX];
      unsigned long slot;
      char *end;

      if (de->d_name[0] < '0' || de->d_name[0] > '9')
        continue;
      slot = strtoul (de->d_name, &end, 10);
      if (*end != '\0' || slot >= ISLET_UID_SLOTS)
        continue;
      if (claim_owner (dirfd (d), de->d_name, who) < 0 || strcmp (who, owner) != 0)
        continue;
      *base = ISLET_UID_FIRST + (uint32_t) slot * ISLET_UID_RANGE;
      return 1;
    }
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
