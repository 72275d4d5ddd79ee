/* A sandbox's network slot: a /30 of islet's range, a device name, and a
 * lock file in /run/islet-net that its supervisor holds for its whole
 * life, so two sandboxes (of any state directory on this host) never share
 * one.  Plain files and flock only: islet-run takes and frees slots, and
 * islet-net sweeps the slots of supervisors killed outright. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "islet/netsetup.h"
#include "islet/util.h"

void
islet_netlink_slot (unsigned slot, struct islet_netlink *l)
{
  uint32_t net = ISLET_NET_RANGE + 4 * slot;

  memset (l, 0, sizeof *l);
  l->slot = slot;
  snprintf (l->host_if, sizeof l->host_if, "islet%u", slot);
  l->host = htonl (net + 1);
  l->sandbox = htonl (net + 2);
  l->prefix = 30;
}

static void
slot_path (unsigned slot, char path[64])
{
  snprintf (path, 64, ISLET_NET_SLOT_DIR "/%u.lock", slot);
}

/* fd's lock is the slot's only if its path still names fd's file: a sweep
   removes the file of a free slot while it holds the lock, and an open of
   the old file may win the lock after that. */
bool
islet_netslot_current (int fd, unsigned slot)
{
  struct stat a, b;
  char path[64];

  slot_path (slot, path);
  return fstat (fd, &a) == 0 && stat (path, &b) == 0 && a.st_ino == b.st_ino
         && a.st_dev == b.st_dev;
}

int
islet_netslot_lock (unsigned slot, int *fd, bool *fresh, struct islet_err *err)
{
  char path[64];

  slot_path (slot, path);
  *fresh = true;
  *fd = open (path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (*fd < 0 && errno == EEXIST)
    {
      *fresh = false;
      *fd = open (path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (*fd < 0 && errno == ENOENT)
        return 0; /* released meanwhile: the next try finds it */
    }
  if (*fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
  if (flock (*fd, LOCK_EX | LOCK_NB) < 0 || !islet_netslot_current (*fd, slot))
    {
      close (*fd);
      *fd = -1;
      return 0;
    }
  return 1;
}

/* The lock file goes before the lock, so a file found unlocked means a
   supervisor that did not get here. */
void
islet_netslot_release (unsigned slot, int fd)
{
  char path[64];

  slot_path (slot, path);
  if (islet_netslot_current (fd, slot))
    unlink (path);
  close (fd);
}

bool
islet_netslot_free (unsigned slot)
{
  char path[64];
  cleanup_close int fd = -1;

  slot_path (slot, path);
  fd = open (path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  return fd < 0 ? errno == ENOENT : flock (fd, LOCK_EX | LOCK_NB) == 0;
}

int
islet_netslot_table_lock (int op, struct islet_err *err)
{
  int fd = open (ISLET_NET_TABLE_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", ISLET_NET_TABLE_LOCK);
  while (flock (fd, op) < 0)
    if (errno != EINTR)
      {
        int e = errno;
        close (fd);
        return islet_fail (err, ISLET_E_SYSTEM, e, "lock `%s`", ISLET_NET_TABLE_LOCK);
      }
  return fd;
}
