/* A sandbox's DNS responder: the only resolver its network lets it use
 * (islet's table sends every UDP query on port 53, whatever server it
 * names, here; DNS over TCP is traffic like any other).  In mode allow it
 * answers a name outside the list itself, NXDOMAIN, and sends nothing
 * upstream, so a query cannot carry data out (`<secret>.attacker.example`);
 * an allowed name is asked upstream and the IPv4 addresses of the answer
 * join the sandbox's elements of the set `dns4` for their TTL, the only names'
 * addresses it may reach.
 * AAAA is answered empty: a sandbox has no IPv6 route.  One query at a time,
 * each bounded by UPSTREAM_TIMEOUT_MS. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "islet/netsetup.h"
#include "islet/util.h"

#define UPSTREAM_TIMEOUT_MS 3000
#define MSG_MAX 4096
/* How long an address opens new connections after the answer that named
   it: the answer's TTL, at least TTL_MIN (a client may connect a while
   after it resolves, and resolvers cache for seconds); a connection opened
   meanwhile lives on after it (docs/SECURITY.md). */
#define TTL_MIN 30
#define TTL_MAX 86400

enum
{
  RCODE_SERVFAIL = 2,
  RCODE_NXDOMAIN = 3,
  RCODE_REFUSED = 5,
  TYPE_A = 1,
  TYPE_AAAA = 28,
};

struct query
{
  char name[256];
  unsigned type;
  size_t end; /* offset just past the question */
};

static uint16_t
get16 (const unsigned char *p)
{
  return (uint16_t) (p[0] << 8 | p[1]);
}

/* The one question of msg (no compression in a question). */
static int
parse_question (const unsigned char *msg, size_t len, struct query *q)
{
  size_t i = 12, o = 0;

  if (len < 12 || get16 (msg + 4) != 1 || (msg[2] & 0x80) || (msg[2] & 0x78) != 0)
    return -1; /* one question, a query, opcode QUERY */
  while (i < len && msg[i] != 0)
    {
      unsigned l = msg[i];
      if (l > 63 || i + 1 + l >= len || o + l + 2 > sizeof q->name)
        return -1;
      if (o)
        q->name[o++] = '.';
      memcpy (q->name + o, msg + i + 1, l);
      o += l;
      i += 1 + l;
    }
  if (i + 5 > len)
    return -1;
  q->name[o] = '\0';
  q->type = get16 (msg + i + 1);
  q->end = i + 5;
  return 0;
}

/* An answer without records: the question, the sandbox's id, rcode. */
static ssize_t
local_answer (const unsigned char *msg, const struct query *q, unsigned rcode, unsigned char *out)
{
  memcpy (out, msg, q->end);
  out[2] = (unsigned char) (0x80 | (msg[2] & 0x01)); /* QR, RD kept */
  out[3] = (unsigned char) (0x80 | rcode);           /* RA */
  memset (out + 6, 0, 6);                            /* no records */
  return (ssize_t) q->end;
}

/* Skip a (possibly compressed) name at *i. */
static int
skip_name (const unsigned char *m, size_t len, size_t *i)
{
  for (unsigned hops = 0; *i < len && hops < 128; hops++)
    {
      unsigned l = m[*i];
      if (l == 0)
        {
          (*i)++;
          return 0;
        }
      if ((l & 0xc0) == 0xc0)
        {
          *i += 2;
          return *i <= len ? 0 : -1;
        }
      *i += 1 + l;
    }
  return -1;
}

/* The A records of an upstream answer into the sandbox's set. */
static void
allow_answers (const struct islet_netlink *l, const unsigned char *m, size_t len, size_t qend)
{
  unsigned an = get16 (m + 6);
  size_t i = qend;

  for (unsigned k = 0; k < an; k++)
    {
      unsigned type, rdlen;
      uint32_t ttl, addr;
      struct islet_err e;

      if (skip_name (m, len, &i) < 0 || i + 10 > len)
        return;
      type = get16 (m + i);
      ttl = (uint32_t) get16 (m + i + 4) << 16 | get16 (m + i + 6);
      rdlen = get16 (m + i + 8);
      i += 10;
      if (i + rdlen > len)
        return;
      if (type == TYPE_A && rdlen == 4 && get16 (m + i - 8) == 1)
        {
          memcpy (&addr, m + i, 4);
          ttl = ttl < TTL_MIN ? TTL_MIN : ttl > TTL_MAX ? TTL_MAX : ttl;
          if (islet_netfilter_allow_addr (l, addr, ttl, &e) < 0)
            fprintf (stderr, "dns: %s\n", e.msg);
        }
      i += rdlen;
    }
}

/* Ask upstream, with an id of our own; the answer back in out with the
 * sandbox's id.  -1: no usable answer in time. */
static ssize_t
forward (const struct sockaddr_in *up, const unsigned char *msg, size_t len, const struct query *q,
         unsigned char *out)
{
  cleanup_close int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  unsigned char copy[MSG_MAX];
  uint16_t id;
  uint64_t deadline = islet_now_ns () + UPSTREAM_TIMEOUT_MS * 1000000ull;

  if (fd < 0 || getrandom (&id, sizeof id, 0) != sizeof id
      || connect (fd, (const struct sockaddr *) up, sizeof *up) < 0)
    return -1;
  memcpy (copy, msg, len);
  memcpy (copy, &id, 2);
  if (send (fd, copy, len, 0) != (ssize_t) len)
    return -1;
  for (;;)
    {
      uint64_t now = islet_now_ns ();
      struct pollfd p = { .fd = fd, .events = POLLIN };
      ssize_t n;

      if (now >= deadline || poll (&p, 1, (int) ((deadline - now) / 1000000) + 1) <= 0)
        return -1;
      n = recv (fd, out, MSG_MAX, 0);
      /* the answer to this question, with this id: anything else is
         dropped (a late or forged answer) */
      if (n < (ssize_t) q->end || memcmp (out, &id, 2) != 0 || !(out[2] & 0x80)
          || memcmp (out + 12, msg + 12, q->end - 12) != 0)
        continue;
      memcpy (out, msg, 2);
      return n;
    }
}

void
islet_netdns_serve (int sock, const struct islet_netlink *l, const struct islet_net *net,
                    const struct sockaddr_in *upstream)
{
  struct islet_net_entry e[ISLET_NET_ENTRIES_MAX];
  unsigned count = 0;
  struct islet_err err;

  if (islet_net_parse (net, e, ISLET_NET_ENTRIES_MAX, &count, &err) < 0)
    count = 0; /* checked before: nothing is allowed then */
  for (;;)
    {
      unsigned char msg[MSG_MAX], out[MSG_MAX];
      struct sockaddr_in from;
      socklen_t flen = sizeof from;
      struct query q;
      ssize_t n = recvfrom (sock, msg, sizeof msg, 0, (struct sockaddr *) &from, &flen);
      ssize_t r;

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return;
      if (from.sin_addr.s_addr != l->sandbox || parse_question (msg, (size_t) n, &q) < 0)
        continue;
      if (net->mode == ISLET_NET_ALLOW && !islet_net_name_allowed (e, count, q.name))
        r = local_answer (msg, &q, RCODE_NXDOMAIN, out);
      else if (q.type == TYPE_AAAA)
        r = local_answer (msg, &q, 0, out);
      else if (net->mode == ISLET_NET_NONE)
        r = local_answer (msg, &q, RCODE_REFUSED, out);
      else
        {
          r = forward (upstream, msg, (size_t) n, &q, out);
          if (r < 0)
            r = local_answer (msg, &q, RCODE_SERVFAIL, out);
          else if (net->mode == ISLET_NET_ALLOW)
            allow_answers (l, out, (size_t) r, q.end);
        }
      (void) !sendto (sock, out, (size_t) r, 0, (struct sockaddr *) &from, flen);
    }
}

int
islet_netdns_upstream (const char *addr, struct sockaddr_in *out, struct islet_err *err)
{
  cleanup_free char *text = NULL;
  char buf[64];
  const char *p;

  memset (out, 0, sizeof *out);
  out->sin_family = AF_INET;
  out->sin_port = htons (53);
  if (addr == NULL || *addr == '\0')
    {
      /* the host's: the first IPv4 nameserver of its resolv.conf */
      if (islet_read_file_at (AT_FDCWD, "/etc/resolv.conf", 1 << 16, &text, NULL, err) < 0)
        return islet_wrap (err, "no upstream resolver (isletd --dns)");
      for (p = text; p && *p; p = strchr (p, '\n') ? strchr (p, '\n') + 1 : NULL)
        if (sscanf (p, "nameserver %63s", buf) == 1
            && inet_pton (AF_INET, buf, &out->sin_addr) == 1)
          return 0;
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "`/etc/resolv.conf` names no IPv4 nameserver: give one (isletd --dns)");
    }
  if (inet_pton (AF_INET, addr, &out->sin_addr) != 1)
    return islet_fail (err, ISLET_E_INVALID, 0, "upstream resolver `%s` is not an IPv4 address",
                       addr);
  return 0;
}
