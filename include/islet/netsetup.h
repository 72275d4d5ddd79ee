/* The kernel side of a sandbox's outbound network, in the host's network
 * namespace: its slot (src/core/netslot.c, taken and held by the sandbox's
 * supervisor, islet-run), and its link, filter elements and DNS responder
 * (net_link.c, net_filter.c, net_nft.c, net_dns.c: libmnl, and libnftables
 * opened only to make or sweep the host's table), which only islet-net
 * links; a supervisor runs islet-net for them (src/net/main.c). */
#ifndef ISLET_NETSETUP_H
#define ISLET_NETSETUP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "islet/err.h"
#include "islet/net.h"

/* The range sandboxes' links take their /30s from: 100.96.0.0/16, inside
 * the shared address space (RFC 6598), which no host route should use. */
#define ISLET_NET_RANGE 0x64600000u /* host byte order */
#define ISLET_NET_RANGE_PREFIX 16
#define ISLET_NET_SLOTS (1u << (32 - ISLET_NET_RANGE_PREFIX - 2))

struct islet_netlink
{
  unsigned slot;
  char host_if[16]; /* "islet<slot>" */
  uint32_t host;    /* network byte order: the host's end, the sandbox's gateway */
  uint32_t sandbox; /* the sandbox's eth0 */
  unsigned prefix;  /* 30 */
  unsigned ifindex; /* of host_if, once made */
  uint32_t epoch;   /* mode allow: the list's, marked on its connections */
};

/* Fill l for slot. */
void islet_netlink_slot (unsigned slot, struct islet_netlink *l);

/* The slots' lock files (netslot.c), and the lock under which the host's
 * table is dropped (held exclusively) or a slot taken (held shared). */
#define ISLET_NET_SLOT_DIR "/run/islet-net"
#define ISLET_NET_TABLE_LOCK ISLET_NET_SLOT_DIR "/table.lock"
/* Lock slot's file: 1 when this process holds it (*fd), *fresh when this
 * process made the file (nobody held the slot since its last clean
 * release), 0 when the slot is taken, -1 on error. */
int islet_netslot_lock (unsigned slot, int *fd, bool *fresh,
                        struct islet_err *err) ISLET_MUST_CHECK;
/* Whether fd is the lock of slot's current file. */
bool islet_netslot_current (int fd, unsigned slot);
/* Remove slot's lock file (if fd is still its lock) and close fd. */
void islet_netslot_release (unsigned slot, int fd);
/* Whether no process holds slot's lock. */
bool islet_netslot_free (unsigned slot);
/* flock op (LOCK_SH, LOCK_EX) of ISLET_NET_TABLE_LOCK: its fd, or -1. */
int islet_netslot_table_lock (int op, struct islet_err *err) ISLET_MUST_CHECK;

/* What a supervisor asks of islet-net, one request on its fd 3 (a
 * SOCK_SEQPACKET socket) and one reply there.  Both programs are of one
 * build: the structs go as they are. */
enum islet_netop
{
  ISLET_NETOP_UP = 1,  /* make link (netns on fd 4), add net's elements, then serve DNS */
  ISLET_NETOP_CHANGE,  /* replace old's elements by net's, then serve DNS for net */
  ISLET_NETOP_REMOVE,  /* remove net's elements */
  ISLET_NETOP_RELEASE, /* delete the link's device, then remove net's elements */
};

struct islet_netreq
{
  enum islet_netop op;
  struct islet_netlink link;
  struct islet_net net;
  struct islet_net old; /* ISLET_NETOP_CHANGE */
  bool filtered;        /* ISLET_NETOP_REMOVE, _RELEASE: net's elements are in the table */
};

struct islet_netrep
{
  int rc;                    /* 0, or -1 with err */
  bool filtered;             /* net's (or old's) elements are in the table */
  bool serving;              /* the process stays, as the sandbox's DNS responder */
  struct islet_netlink link; /* with its ifindex and epoch */
  struct islet_err err;
};

/* Make the pair (host_if here, down; eth0 in netns_fd) and note host_if's
 * index in l.  ISLET_E_CONFLICT: a device host_if exists already. */
int islet_netlink_create (int netns_fd, struct islet_netlink *l,
                          struct islet_err *err) ISLET_MUST_CHECK;
/* Address both ends, bring them up and route the namespace's traffic to
 * the host's end. */
int islet_netlink_up (int netns_fd, const struct islet_netlink *l,
                      struct islet_err *err) ISLET_MUST_CHECK;
/* Delete host_if (and so its peer): for a link whose sandbox lives on. */
int islet_netlink_down (const char *host_if, struct islet_err *err) ISLET_MUST_CHECK;

/* Load libnftables now rather than when the table is first made or swept
 * (a process that forks supervisors loads it once for all of them). */
int islet_netfilter_load (struct islet_err *err) ISLET_MUST_CHECK;

/* The host's table `inet islet`, made in one transaction unless it exists
 * (libnftables). */
int islet_netfilter_table (struct islet_err *err) ISLET_MUST_CHECK;

/* The elements of the sandbox of l (whose ifindex is set) for net, added
 * in one batch, the table made first if missing; a new epoch in l. */
int islet_netfilter_apply (struct islet_netlink *l, const struct islet_net *net,
                           struct islet_err *err) ISLET_MUST_CHECK;
/* Replace old's elements by net's in one batch, with a new epoch: the
 * connections the old list opened end with it. */
int islet_netfilter_change (struct islet_netlink *l, const struct islet_net *old,
                            const struct islet_net *net, struct islet_err *err) ISLET_MUST_CHECK;
int islet_netfilter_remove (const struct islet_netlink *l, const struct islet_net *net,
                            struct islet_err *err) ISLET_MUST_CHECK;
/* Allow the sandbox of l to open connections to addr (network byte
 * order) for ttl_s seconds: an answer of its DNS responder for an allowed
 * name. */
int islet_netfilter_allow_addr (const struct islet_netlink *l, uint32_t addr, unsigned ttl_s,
                                struct islet_err *err) ISLET_MUST_CHECK;
/* Remove the names' addresses (dns4) that l's device got under epoch, an
 * earlier list's: they open nothing after the change, but would stay until
 * their TTL.  *removed: how many. */
int islet_netfilter_forget (const struct islet_netlink *l, uint32_t epoch, unsigned *removed,
                            struct islet_err *err) ISLET_MUST_CHECK;
/* Delete the host's table when it holds no element (*dropped then true);
 * the caller makes sure no sandbox can add one meanwhile (net_reset). */
int islet_netfilter_drop_unused (bool *dropped, struct islet_err *err) ISLET_MUST_CHECK;
/* Remove what supervisors killed outright left: the elements of devices
 * that are gone, and tables `inet islet_<slot>` of free slots (of an
 * earlier islet).  *removed: how many elements. */
int islet_netfilter_sweep (bool (*slot_free) (unsigned slot), unsigned *removed,
                           struct islet_err *err) ISLET_MUST_CHECK;

/* The DNS responder (net_dns.c): serve queries from the sandbox of l on
 * sock (bound to its gateway's port 53) until sock fails; names of net's
 * list are asked of upstream, the others answered NXDOMAIN. */
void islet_netdns_serve (int sock, const struct islet_netlink *l, const struct islet_net *net,
                         const struct sockaddr_in *upstream);
/* The upstream resolver: addr (an IPv4 address), or when NULL or empty
 * the first IPv4 nameserver of the host's /etc/resolv.conf. */
int islet_netdns_upstream (const char *addr, struct sockaddr_in *out,
                           struct islet_err *err) ISLET_MUST_CHECK;

/* The address every sandbox's /etc/resolv.conf names: its table sends
 * each UDP query on port 53, to this address or any other, to its own
 * responder. */
#define ISLET_NET_RESOLVER "100.96.0.1"

#endif
