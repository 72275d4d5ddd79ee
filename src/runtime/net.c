/* The sandbox's outbound network, set up by its supervisor (host root, in
 * the host's network namespace).  A slot is a /30 of islet's range and a
 * device name; a supervisor holds its slot's lock in /run/islet-net for its
 * whole life, so two sandboxes (of any state directory on this host) never
 * share one, and a supervisor that died frees its slot with its fds. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "islet/config.h"
#include "islet/contain.h"
#include "islet/util.h"
#include "runtime.h"

#define SLOT_DIR "/run/islet-net"
/* Slots tried before a create gives up: a busy host has gaps near any
   starting point. */
#define SLOT_TRIES 256

static unsigned
slot_hint (const char *id)
{
  unsigned h = 2166136261u;

  for (const char *p = id; *p; p++)
    h = (h ^ (unsigned char) *p) * 16777619u;
  return h % ISLET_NET_SLOTS;
}

int
net_slot_take (struct sandbox *sb, struct islet_err *err)
{
  unsigned first = slot_hint (sb->id);

  sb->net_slot_fd = -1;
  if (sb->net.mode == ISLET_NET_NONE)
    return 0;
  if (mkdir (SLOT_DIR, 0700) < 0 && errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "mkdir `%s`", SLOT_DIR);
  for (unsigned i = 0; i < SLOT_TRIES; i++)
    {
      unsigned slot = (first + i) % ISLET_NET_SLOTS;
      char path[64];
      int fd;

      snprintf (path, sizeof path, SLOT_DIR "/%u.lock", slot);
      fd = open (path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "open `%s`", path);
      if (flock (fd, LOCK_EX | LOCK_NB) < 0)
        {
          close (fd);
          continue;
        }
      islet_netlink_slot (slot, &sb->link);
      /* the device of the slot's last sandbox may still exist for a few
         milliseconds while the kernel dismantles its namespace */
      if (if_nametoindex (sb->link.host_if) != 0)
        {
          close (fd);
          continue;
        }
      sb->net_slot_fd = fd;
      return 0;
    }
  return islet_fail (err, ISLET_E_LIMIT, 0, "no free network slot among %u tried", SLOT_TRIES);
}

/* The sandbox's DNS responder: a child of the supervisor, in the host's
 * network namespace, on the gateway's port 53 (net_dns.c). */
static int
dns_start (struct sandbox *sb, struct islet_err *err)
{
  struct sockaddr_in up, me = { .sin_family = AF_INET, .sin_port = htons (53) };
  int sock;
  pid_t pid;

  if (islet_netdns_upstream (getenv ("ISLET_DNS"), &up, err) < 0)
    return -1;
  me.sin_addr.s_addr = sb->link.host;
  sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "socket");
  if (bind (sock, (struct sockaddr *) &me, sizeof me) < 0)
    {
      int e = errno;
      close (sock);
      return islet_fail (err, ISLET_E_SYSTEM, e, "bind the sandbox's DNS responder");
    }
  pid = fork ();
  if (pid == 0)
    {
      sigset_t none;

      prctl (PR_SET_PDEATHSIG, SIGKILL);
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      islet_close_fds_from (3, sock);
      set_title ("islet-dns");
      islet_netdns_serve (sock, &sb->link, &sb->net, &up);
      _exit (1);
    }
  close (sock);
  if (pid < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "fork the DNS responder");
  sb->dns_pid = pid;
  return 0;
}

void
net_dns_stop (struct sandbox *sb)
{
  if (sb->dns_pid > 0)
    kill (sb->dns_pid, SIGKILL);
  sb->dns_pid = 0;
}

int
net_up (struct sandbox *sb, struct islet_err *err)
{
  uint64_t t0 = islet_now_ns ();

  if (sb->net_slot_fd < 0)
    return 0;
  if (islet_netfilter_apply (&sb->link, &sb->net, true, err) < 0)
    return -1;
  if (islet_netlink_up (sb->ns[ISLET_NS_NET], &sb->link, err) < 0)
    return islet_wrap (err, "the sandbox's network");
  if (dns_start (sb, err) < 0)
    return -1;
  fprintf (stderr, "network %s on %s in %.2f ms\n", islet_net_mode_name (sb->net.mode),
           sb->link.host_if, (double) (islet_now_ns () - t0) / 1e6);
  return 0;
}

/* Stop the responder and wait for it: a new one binds the same port. */
static void
dns_stop_wait (struct sandbox *sb)
{
  pid_t pid = sb->dns_pid;

  if (pid <= 0)
    return;
  net_dns_stop (sb);
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

void
net_down (struct sandbox *sb)
{
  struct islet_err e;

  if (sb->net_slot_fd < 0)
    return;
  dns_stop_wait (sb);
  if (islet_netfilter_remove (&sb->link, &e) < 0)
    fprintf (stderr, "%s\n", e.msg);
  close (sb->net_slot_fd);
  sb->net_slot_fd = -1;
}

/* The link of a sandbox that lives on: its device goes now (with its
 * peer), then its table and its slot. */
static void
link_release (struct sandbox *sb)
{
  struct islet_err e;

  dns_stop_wait (sb);
  if (islet_netlink_down (sb->link.host_if, &e) < 0)
    fprintf (stderr, "%s\n", e.msg);
  net_down (sb);
}

int
net_update (struct sandbox *sb, struct islet_err *err)
{
  cleanup_free char *path = islet_xasprintf ("%s/config.json", sb->dir);
  struct islet_sandbox_info info;

  if (islet_config_load (path, &info, NULL, err) < 0)
    return -1;
  sb->net = info.net;
  if (sb->net.mode == ISLET_NET_NONE)
    {
      link_release (sb);
      return 0;
    }
  if (sb->net_slot_fd < 0)
    {
      if (net_slot_take (sb, err) < 0)
        return -1;
      if (net_up (sb, err) < 0)
        {
          link_release (sb);
          return -1;
        }
      return 0;
    }
  /* one transaction: the old list holds until the new one does */
  dns_stop_wait (sb);
  if (islet_netfilter_apply (&sb->link, &sb->net, true, err) < 0)
    return -1;
  return dns_start (sb, err);
}
