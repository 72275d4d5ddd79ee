/* A sandbox's link to the host: a veth pair made with its peer already in
 * the sandbox's network namespace (moving a device between namespaces
 * waits for an RCU grace period, ~20 ms here; making it there does not),
 * a /30 between the two ends and a default route inside.  The host's end
 * stays down until the sandbox's filter elements exist (they are keyed by
 * its interface index).  The pair goes with the namespace: the kernel
 * deletes it when the sandbox's last process and the supervisor's fds are
 * gone, so there is no teardown. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <net/route.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "islet/netsetup.h"
#include "islet/util.h"
#include "net_internal.h"

/* An RTM_ link request in buf: its header and an ifinfomsg, for libmnl's
 * attributes to follow. */
static struct nlmsghdr *
link_msg (char *buf, uint16_t type, uint16_t flags)
{
  struct nlmsghdr *h = mnl_nlmsg_put_header (buf);
  struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header (h, sizeof *ifm);

  h->nlmsg_type = type;
  h->nlmsg_flags = (uint16_t) (NLM_F_REQUEST | NLM_F_ACK | flags);
  h->nlmsg_seq = 1;
  ifm->ifi_family = AF_UNSPEC;
  return h;
}

/* RTM_NEWLINK of the pair: host_if here, "eth0" in the namespace netns_fd. */
static int
veth_create (const char *host_if, int netns_fd, struct islet_err *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *h = link_msg (buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  struct nlattr *linkinfo, *data, *peer;
  struct ifinfomsg *peer_ifm;

  mnl_attr_put_strz (h, IFLA_IFNAME, host_if);
  linkinfo = mnl_attr_nest_start (h, IFLA_LINKINFO);
  mnl_attr_put_strz (h, IFLA_INFO_KIND, "veth");
  data = mnl_attr_nest_start (h, IFLA_INFO_DATA);
  peer = mnl_attr_nest_start (h, VETH_INFO_PEER);
  /* the peer's attributes follow an ifinfomsg of its own */
  peer_ifm = mnl_nlmsg_put_extra_header (h, sizeof *peer_ifm);
  peer_ifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz (h, IFLA_IFNAME, "eth0");
  mnl_attr_put_u32 (h, IFLA_NET_NS_FD, (uint32_t) netns_fd);
  mnl_attr_nest_end (h, peer);
  mnl_attr_nest_end (h, data);
  mnl_attr_nest_end (h, linkinfo);
  if (islet_nl_send (NETLINK_ROUTE, h, h->nlmsg_len, 1) < 0)
    return islet_fail (err, errno == EEXIST ? ISLET_E_CONFLICT : ISLET_E_SYSTEM, errno,
                       "create veth `%s`", host_if);
  return 0;
}

/* Address addr/prefix on ifname and bring it up, with sock's namespace. */
static int
addr_up (int sock, const char *ifname, uint32_t addr, unsigned prefix, struct islet_err *err)
{
  struct ifreq ifr;
  struct sockaddr_in *sin = (struct sockaddr_in *) &ifr.ifr_addr;

  memset (&ifr, 0, sizeof ifr);
  snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = addr;
  if (ioctl (sock, SIOCSIFADDR, &ifr) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "address `%s`", ifname);
  sin->sin_addr.s_addr = htonl (~0u << (32 - prefix));
  if (ioctl (sock, SIOCSIFNETMASK, &ifr) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "set the netmask of `%s`", ifname);
  if (ioctl (sock, SIOCGIFFLAGS, &ifr) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "get flags of `%s`", ifname);
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl (sock, SIOCSIFFLAGS, &ifr) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "bring up `%s`", ifname);
  return 0;
}

static int
default_route (int sock, uint32_t gw, struct islet_err *err)
{
  struct rtentry rt;
  struct sockaddr_in *dst = (struct sockaddr_in *) &rt.rt_dst;
  struct sockaddr_in *mask = (struct sockaddr_in *) &rt.rt_genmask;
  struct sockaddr_in *via = (struct sockaddr_in *) &rt.rt_gateway;

  memset (&rt, 0, sizeof rt);
  dst->sin_family = mask->sin_family = via->sin_family = AF_INET;
  via->sin_addr.s_addr = gw;
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  if (ioctl (sock, SIOCADDRT, &rt) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "add the default route");
  return 0;
}

/* A sysctl of this process's network namespace (/proc/sys/net is the
 * opener's namespace). */
static int
net_sysctl (const char *path, const char *value, struct islet_err *err)
{
  cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC);

  if (fd < 0 || write (fd, value, strlen (value)) != (ssize_t) strlen (value))
    return islet_fail (err, ISLET_E_SYSTEM, errno, "write `%s`", path);
  return 0;
}

/* The namespace end: no IPv6 at all (a link-local address would reach
 * the host's end, and nothing routes IPv6 out), the address, the route.
 * Runs inside netns_fd and comes back. */
static int
inside (int netns_fd, const struct islet_netlink *l, struct islet_err *err)
{
  cleanup_close int self = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  cleanup_close int sock = -1;
  int rc = -1;

  if (self < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open `/proc/self/ns/net`");
  if (setns (netns_fd, CLONE_NEWNET) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "join the sandbox's network namespace");
  sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    islet_fail (err, ISLET_E_SYSTEM, errno, "socket");
  else if (net_sysctl ("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1", err) == 0
           && net_sysctl ("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1", err) == 0
           && net_sysctl ("/proc/sys/net/ipv6/conf/eth0/disable_ipv6", "1", err) == 0
           && addr_up (sock, "eth0", l->sandbox, l->prefix, err) == 0
           && default_route (sock, l->host, err) == 0)
    rc = 0;
  if (setns (self, CLONE_NEWNET) < 0)
    {
      /* a supervisor left in the sandbox's namespace would serve the
         sandbox from inside it: nothing is safe to do after this */
      perror ("islet: return to the host's network namespace");
      _exit (1);
    }
  return rc;
}

int
islet_netlink_create (int netns_fd, struct islet_netlink *l, struct islet_err *err)
{
  if (veth_create (l->host_if, netns_fd, err) < 0)
    return -1;
  l->ifindex = if_nametoindex (l->host_if);
  if (l->ifindex == 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "index of `%s`", l->host_if);
  return 0;
}

int
islet_netlink_up (int netns_fd, const struct islet_netlink *l, struct islet_err *err)
{
  cleanup_free char *v6 = NULL, *fwd = NULL;
  cleanup_close int sock = -1;

  /* the host's end: no IPv6 (the sandbox's link-local packets would be
     the host's), forwarding on this device only (IPv4 forwarding is
     decided by the device a packet comes in on) */
  v6 = islet_xasprintf ("/proc/sys/net/ipv6/conf/%s/disable_ipv6", l->host_if);
  fwd = islet_xasprintf ("/proc/sys/net/ipv4/conf/%s/forwarding", l->host_if);
  sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "socket");
  if (net_sysctl (v6, "1", err) < 0 || net_sysctl (fwd, "1", err) < 0
      || addr_up (sock, l->host_if, l->host, l->prefix, err) < 0)
    return -1;
  return inside (netns_fd, l, err);
}

int
islet_netlink_down (const char *host_if, struct islet_err *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *h = link_msg (buf, RTM_DELLINK, 0);

  mnl_attr_put_strz (h, IFLA_IFNAME, host_if);
  if (islet_nl_send (NETLINK_ROUTE, h, h->nlmsg_len, 1) < 0 && errno != ENODEV)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "delete `%s`", host_if);
  return 0;
}
