/* Namespaces: open a sandbox's, join them, and the one bit of network set-up a
 * loopback-only sandbox needs. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "islet/contain.h"
#include "islet/util.h"

static const struct
{
  const char *name;
  int type;
} ns_table[ISLET_NS_COUNT] = {
  [ISLET_NS_IPC] = { "ipc", CLONE_NEWIPC },    [ISLET_NS_UTS] = { "uts", CLONE_NEWUTS },
  [ISLET_NS_NET] = { "net", CLONE_NEWNET },    [ISLET_NS_CGROUP] = { "cgroup", CLONE_NEWCGROUP },
  [ISLET_NS_PID] = { "pid", CLONE_NEWPID },    [ISLET_NS_MNT] = { "mnt", CLONE_NEWNS },
  [ISLET_NS_USER] = { "user", CLONE_NEWUSER },
};

int
islet_ns_open (pid_t pid, int fds[ISLET_NS_COUNT], struct islet_err *err)
{
  for (int i = 0; i < ISLET_NS_COUNT; i++)
    fds[i] = -1;
  for (int i = 0; i < ISLET_NS_COUNT; i++)
    {
      char path[64];
      snprintf (path, sizeof path, "/proc/%d/ns/%s", (int) pid, ns_table[i].name);
      fds[i] = open (path, O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0)
        {
          int e = errno;
          islet_ns_close (fds);
          return islet_fail (err, ISLET_E_SYSTEM, e, "open `%s`", path);
        }
    }
  return 0;
}

void
islet_ns_close (int fds[ISLET_NS_COUNT])
{
  for (int i = 0; i < ISLET_NS_COUNT; i++)
    if (fds[i] >= 0)
      {
        close (fds[i]);
        fds[i] = -1;
      }
}

/* The order matters: joining a namespace owned by the host's user namespace
 * needs the host's privilege, which joining the sandbox's user namespace
 * gives up; so the user namespace comes last.  Joining the mount namespace
 * also sets root and cwd to the sandbox's root. */
int
islet_ns_join (const int fds[ISLET_NS_COUNT], bool join_pid, struct islet_err *err)
{
  for (int i = 0; i < ISLET_NS_COUNT; i++)
    {
      if (i == ISLET_NS_PID && !join_pid)
        continue;
      if (setns (fds[i], ns_table[i].type) < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "join %s namespace", ns_table[i].name);
    }
  if (chdir ("/") < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "chdir `/`");
  return 0;
}

#define LOW_PORTS "/proc/sys/net/ipv4/ip_unprivileged_port_start"

int
islet_ns_net_init (struct islet_err *err)
{
  cleanup_close int sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  cleanup_close int port = -1;
  struct ifreq ifr;

  if (sock < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "socket");
  memset (&ifr, 0, sizeof ifr);
  strncpy (ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl (sock, SIOCGIFFLAGS, &ifr) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "get flags of `lo`");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl (sock, SIOCSIFFLAGS, &ifr) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "bring up `lo`");
  /* /proc/sys/net is the opener's network namespace: this one's */
  port = open (LOW_PORTS, O_WRONLY | O_CLOEXEC);
  if (port < 0 || write (port, "0", 1) != 1)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "write `%s`", LOW_PORTS);
  return 0;
}
