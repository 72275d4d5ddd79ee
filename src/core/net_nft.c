/* Set elements of the shared table `inet islet`, sent as one nf_tables
 * netlink batch built here.  A sandbox's create, change and stop touch
 * only elements, and this path has no parser, no copy of the ruleset read
 * back first and no libnftables to load: one sendmsg, and the kernel's
 * answer.  The format is the kernel's (linux/netfilter/nf_tables.h): a
 * batch begins and ends with nfnetlink's batch messages, and in between
 * each NEWSETELEM or DELSETELEM names the table and the set and nests the
 * element's key, its last key (an interval of a concatenation), timeout
 * and data. */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "islet/util.h"
#include "net_internal.h"

#define BATCH_BYTES 65536
#define ANSWER_TIMEOUT_S 5

struct islet_nft_batch
{
  size_t len;
  uint32_t seq;
  unsigned acks; /* messages the kernel answers */
  char buf[BATCH_BYTES];
};

static void *
put (struct islet_nft_batch *b, size_t n)
{
  void *p = b->buf + b->len;

  if (b->len + NLMSG_ALIGN (n) > sizeof b->buf)
    abort (); /* bounded by the list's 64 entries: a bug, not an input */
  memset (p, 0, NLMSG_ALIGN (n));
  b->len += NLMSG_ALIGN (n);
  return p;
}

static struct nlattr *
attr (struct islet_nft_batch *b, unsigned short type, const void *data, size_t n)
{
  struct nlattr *a = put (b, NLA_HDRLEN + n);

  a->nla_type = type;
  a->nla_len = (unsigned short) (NLA_HDRLEN + n);
  if (n)
    memcpy ((char *) a + NLA_HDRLEN, data, n);
  return a;
}

static struct nlattr *
nest (struct islet_nft_batch *b, unsigned short type)
{
  return attr (b, type | NLA_F_NESTED, NULL, 0);
}

static void
nest_end (struct islet_nft_batch *b, struct nlattr *a)
{
  a->nla_len = (unsigned short) (b->buf + b->len - (char *) a);
}

static struct nlmsghdr *
msg (struct islet_nft_batch *b, uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id)
{
  struct nlmsghdr *h = put (b, NLMSG_HDRLEN);
  struct nfgenmsg *g = put (b, sizeof *g);

  h->nlmsg_type = type;
  h->nlmsg_flags = (uint16_t) (NLM_F_REQUEST | flags);
  h->nlmsg_seq = ++b->seq;
  g->nfgen_family = family;
  g->version = NFNETLINK_V0;
  g->res_id = htons (res_id);
  return h;
}

static void
msg_end (struct islet_nft_batch *b, struct nlmsghdr *h)
{
  h->nlmsg_len = (uint32_t) (b->buf + b->len - (char *) h);
}

struct islet_nft_batch *
islet_nft_batch_new (void)
{
  struct islet_nft_batch *b = islet_xmalloc (sizeof *b);

  b->len = 0;
  b->seq = 0;
  b->acks = 0;
  msg_end (b, msg (b, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES));
  return b;
}

void
islet_nft_batch_free (struct islet_nft_batch *b)
{
  free (b);
}

static void
data_value (struct islet_nft_batch *b, unsigned short type, const uint32_t *words, unsigned n)
{
  struct nlattr *k = nest (b, type);

  attr (b, NFTA_DATA_VALUE, words, n * sizeof *words);
  nest_end (b, k);
}

void
islet_nft_elem (struct islet_nft_batch *b, bool add, const struct islet_nft_elem *e)
{
  uint16_t type = (uint16_t) (NFNL_SUBSYS_NFTABLES << 8
                              | (add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM));
  struct nlmsghdr *h = msg (b, type, (uint16_t) (NLM_F_ACK | (add ? NLM_F_CREATE : 0)),
                            NFPROTO_INET, 0);
  struct nlattr *list, *el;

  attr (b, NFTA_SET_ELEM_LIST_TABLE, ISLET_NFT_TABLE, sizeof ISLET_NFT_TABLE);
  attr (b, NFTA_SET_ELEM_LIST_SET, e->set, strlen (e->set) + 1);
  list = nest (b, NFTA_SET_ELEM_LIST_ELEMENTS);
  el = nest (b, NFTA_LIST_ELEM);
  data_value (b, NFTA_SET_ELEM_KEY, e->key, e->key_words);
  if (e->has_end)
    data_value (b, NFTA_SET_ELEM_KEY_END, e->key_end, e->key_words);
  if (add && e->timeout_ms)
    {
      uint64_t ms = htobe64 (e->timeout_ms);
      attr (b, NFTA_SET_ELEM_TIMEOUT, &ms, sizeof ms);
    }
  if (add && (e->jump || e->accept))
    {
      struct nlattr *d = nest (b, NFTA_SET_ELEM_DATA), *v = nest (b, NFTA_DATA_VERDICT);
      uint32_t code = htonl (e->jump ? (uint32_t) NFT_JUMP : NF_ACCEPT);

      attr (b, NFTA_VERDICT_CODE, &code, sizeof code);
      if (e->jump)
        attr (b, NFTA_VERDICT_CHAIN, e->jump, strlen (e->jump) + 1);
      nest_end (b, v);
      nest_end (b, d);
    }
  if (add && e->has_mark)
    data_value (b, NFTA_SET_ELEM_DATA, &e->mark, 1);
  nest_end (b, el);
  nest_end (b, list);
  msg_end (b, h);
  b->acks++;
}

/* Read the kernel's answers to b's messages: 0 when each was acknowledged,
 * else -1 with errno the first error. */
static int
answers (int fd, const struct islet_nft_batch *b)
{
  unsigned acked = 0;
  char ans[8192];

  while (acked < b->acks)
    {
      ssize_t n = recv (fd, ans, sizeof ans, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1; /* EAGAIN: no answer in time */
      for (struct nlmsghdr *h = (struct nlmsghdr *) ans; NLMSG_OK (h, (size_t) n);
           h = NLMSG_NEXT (h, n))
        if (h->nlmsg_type == NLMSG_ERROR)
          {
            const struct nlmsgerr *e = NLMSG_DATA (h);
            if (e->error != 0)
              {
                errno = -e->error;
                return -1;
              }
            acked++;
          }
    }
  return 0;
}

int
islet_nft_commit (struct islet_nft_batch *b, const char *what, struct islet_err *err)
{
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  struct timeval limit = { .tv_sec = ANSWER_TIMEOUT_S };
  cleanup_close int fd = -1;

  if (b->acks == 0)
    return 0;
  msg_end (b, msg (b, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES));
  fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "%s: netlink socket", what);
  if (setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) < 0
      || sendto (fd, b->buf, b->len, 0, (struct sockaddr *) &kernel, sizeof kernel) < 0
      || answers (fd, b) < 0)
    return islet_fail (err, errno == ENOENT ? ISLET_E_NOTFOUND : ISLET_E_SYSTEM, errno, "%s", what);
  return 0;
}
