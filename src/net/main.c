/* islet-net: the host side of a sandbox's outbound network, for its
 * supervisor (islet-run, src/runtime/net.c), which holds the sandbox's slot
 * and runs this program only for a sandbox with a network.  Its netlink
 * (libmnl) and nftables (libnftables, opened to make or sweep the host's
 * table) code lives here so that islet-run is a static program that maps
 * no library at all.
 *
 *   islet-net --request ID   one request on fd 3 (struct islet_netreq, with
 *                            the network namespace for a link's set-up),
 *                            one reply there; after a link's set-up or change
 *                            the process stays as the sandbox's DNS
 *                            responder until its supervisor kills it (or
 *                            dies: the supervisor sets PR_SET_PDEATHSIG)
 *   islet-net --sweep        remove what supervisors killed outright left
 *   islet-net --reset        after a sweep, drop the host's table `inet
 *                            islet` if no sandbox of any state directory
 *                            has a network */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "islet/netsetup.h"
#include "islet/util.h"

#define REQ_FD 3
/* Lock files looked at by one sweep */
#define SWEEP_MAX 65536

/* The responder's socket on the gateway's port 53, bound once the link
 * has its addresses: a query sent before the responder reads waits in the
 * socket's queue. */
static int
dns_bind (const struct islet_netlink *l, int *out, struct islet_err *err)
{
  struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons (53) };
  int sock;

  me.sin_addr.s_addr = l->host;
  sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "socket");
  if (bind (sock, (struct sockaddr *) &me, sizeof me) < 0)
    {
      int e = errno;
      close (sock);
      return islet_fail (err, ISLET_E_SYSTEM, e, "bind the sandbox's DNS responder");
    }
  *out = sock;
  return 0;
}

static double
ms (uint64_t a, uint64_t b)
{
  return (double) (b - a) / 1e6;
}

/* The link of the namespace netns, its elements, its responder's socket;
 * all or nothing (the pair goes with the namespace). */
static int
link_up (const struct islet_netreq *q, int netns, struct islet_netrep *r, int *dns,
         struct islet_err *err)
{
  uint64_t t[5];

  t[0] = islet_now_ns ();
  /* the host's end stays down until the elements that filter it exist */
  if (islet_netlink_create (netns, &r->link, err) < 0)
    return islet_wrap (err, "the sandbox's network");
  t[1] = islet_now_ns ();
  if (islet_netfilter_apply (&r->link, &q->net, err) < 0)
    return -1;
  r->filtered = true;
  t[2] = islet_now_ns ();
  if (islet_netlink_up (netns, &r->link, err) < 0 || dns_bind (&r->link, dns, err) < 0)
    {
      struct islet_err e;
      if (islet_netfilter_remove (&r->link, &q->net, &e) == 0)
        r->filtered = false;
      else
        fprintf (stderr, "%s\n", e.msg);
      return islet_wrap (err, "the sandbox's network");
    }
  t[3] = islet_now_ns ();
  fprintf (stderr, "network %s on %s in %.2f ms (veth %.2f, filter %.2f, addresses and dns %.2f)\n",
           islet_net_mode_name (q->net.mode), r->link.host_if, ms (t[0], t[3]), ms (t[0], t[1]),
           ms (t[1], t[2]), ms (t[2], t[3]));
  return 0;
}

/* One batch: the old list holds until the new one does.  The responder
 * serves *serve afterwards: the new list, or the old one still in force. */
static int
link_change (const struct islet_netreq *q, struct islet_netrep *r, const struct islet_net **serve,
             struct islet_err *err)
{
  uint32_t was = r->link.epoch;
  unsigned gone;
  struct islet_err e;

  r->filtered = true;
  *serve = &q->old;
  if (islet_netfilter_change (&r->link, &q->old, &q->net, err) < 0)
    return -1;
  *serve = &q->net;
  if (q->old.mode == ISLET_NET_ALLOW && islet_netfilter_forget (&r->link, was, &gone, &e) < 0)
    fprintf (stderr, "the old list's addresses: %s\n", e.msg);
  return 0;
}

static int
link_remove (const struct islet_netreq *q, struct islet_netrep *r, struct islet_err *err)
{
  struct islet_err e;

  if (q->op == ISLET_NETOP_RELEASE && islet_netlink_down (q->link.host_if, &e) < 0)
    fprintf (stderr, "%s\n", e.msg);
  r->filtered = q->filtered;
  if (q->filtered && islet_netfilter_remove (&q->link, &q->net, err) < 0)
    return -1;
  r->filtered = false;
  return 0;
}

static int
request (void)
{
  struct islet_netreq q;
  struct islet_netrep r = { 0 };
  const struct islet_net *serve = NULL;
  struct sockaddr_in up;
  int dns = -1;
  cleanup_close int netns = -1;
  ssize_t n = islet_recv_fd (REQ_FD, &q, sizeof q, &netns);

  if (n != (ssize_t) sizeof q)
    {
      fprintf (stderr, "islet-net: no request on fd %d\n", REQ_FD);
      return 2;
    }
  r.link = q.link;
  switch (q.op)
    {
    case ISLET_NETOP_UP:
      /* the upstream is checked first: a create without one fails, with why */
      r.rc = islet_netdns_upstream (getenv ("ISLET_DNS"), &up, &r.err);
      if (r.rc == 0 && netns < 0)
        r.rc = islet_fail (&r.err, ISLET_E_INVALID, 0, "islet-net: no network namespace");
      if (r.rc == 0)
        r.rc = link_up (&q, netns, &r, &dns, &r.err);
      /* the responder keeps no hold on the namespace */
      close (netns);
      netns = -1;
      serve = r.rc == 0 ? &q.net : NULL;
      break;
    case ISLET_NETOP_CHANGE:
      {
        struct islet_err e;
        r.rc = link_change (&q, &r, &serve, &r.err);
        if (islet_netdns_upstream (getenv ("ISLET_DNS"), &up, &e) < 0
            || dns_bind (&r.link, &dns, &e) < 0)
          {
            if (r.rc == 0)
              r.err = e;
            r.rc = -1;
            serve = NULL;
          }
      }
      break;
    case ISLET_NETOP_REMOVE:
    case ISLET_NETOP_RELEASE: r.rc = link_remove (&q, &r, &r.err); break;
    default:
      r.rc = islet_fail (&r.err, ISLET_E_INVALID, 0, "islet-net: no such request %d", (int) q.op);
    }
  r.serving = serve != NULL;
  if (send (REQ_FD, &r, sizeof r, MSG_NOSIGNAL) != (ssize_t) sizeof r)
    return 1;
  if (!r.serving)
    return r.rc == 0 ? 0 : 1;
  close (REQ_FD);
  islet_netdns_serve (dns, &r.link, serve, &up);
  return 1;
}

/* The lock files of free slots, and a device such a slot still has (its
   sandbox's namespace kept alive by something else): how many files. */
static unsigned
sweep_slots (void)
{
  cleanup_dir DIR *d = opendir (ISLET_NET_SLOT_DIR);
  struct dirent *de;
  unsigned n = 0, seen = 0;

  while (d && (de = readdir (d)) != NULL && seen++ < SWEEP_MAX)
    {
      char end;
      unsigned slot;
      struct islet_netlink l;
      struct islet_err e;
      bool fresh;
      int fd;

      if (sscanf (de->d_name, "%u.lock%c", &slot, &end) != 1 || slot >= ISLET_NET_SLOTS)
        continue;
      if (islet_netslot_lock (slot, &fd, &fresh, &e) <= 0)
        continue;
      islet_netlink_slot (slot, &l);
      if (if_nametoindex (l.host_if) != 0 && islet_netlink_down (l.host_if, &e) < 0)
        fprintf (stderr, "%s\n", e.msg);
      islet_netslot_release (slot, fd);
      n += !fresh;
    }
  return n;
}

static void
sweep (void)
{
  struct islet_err e;
  unsigned files = sweep_slots (), elements = 0;

  if (islet_netfilter_sweep (islet_netslot_free, &elements, &e) < 0)
    fprintf (stderr, "network sweep: %s\n", e.msg);
  if (files || elements)
    fprintf (stderr,
             "network sweep: %u slot lock files, %u filter elements left by killed "
             "supervisors removed\n",
             files, elements);
}

/* Whether a slot's lock file is there and held: a sandbox with a network
   runs, of any state directory. */
static bool
slot_held (void)
{
  cleanup_dir DIR *d = opendir (ISLET_NET_SLOT_DIR);
  struct dirent *de;
  unsigned seen = 0;

  while (d && (de = readdir (d)) != NULL && seen++ < SWEEP_MAX)
    {
      unsigned slot;
      char end;

      if (sscanf (de->d_name, "%u.lock%c", &slot, &end) == 1 && slot < ISLET_NET_SLOTS
          && !islet_netslot_free (slot))
        return true;
    }
  return false;
}

static int
reset (struct islet_err *err)
{
  cleanup_close int table = -1;
  struct islet_err none;
  bool dropped;

  /* made by the first networked sandbox since boot, before its table */
  if (access (ISLET_NET_SLOT_DIR, F_OK) < 0 && errno == ENOENT)
    return 0;
  if (islet_netfilter_load (&none) < 0)
    return 0; /* without libnftables no table was made */
  table = islet_netslot_table_lock (LOCK_EX, err);
  if (table < 0)
    return -1;
  sweep ();
  if (slot_held ())
    return 0;
  return islet_netfilter_drop_unused (&dropped, err);
}

int
main (int argc, char **argv)
{
  struct islet_err e;

  if (argc == 3 && strcmp (argv[1], "--request") == 0)
    return request ();
  if (argc == 2 && strcmp (argv[1], "--sweep") == 0)
    {
      sweep ();
      return 0;
    }
  if (argc == 2 && strcmp (argv[1], "--reset") == 0)
    {
      if (reset (&e) == 0)
        return 0;
      fprintf (stderr, "islet-net: %s\n", e.msg);
      return 1;
    }
  fprintf (stderr, "usage: islet-net --request SANDBOX_ID (the request's socket on fd 3)\n"
                   "       islet-net --sweep\n"
                   "       islet-net --reset\n");
  return 2;
}
