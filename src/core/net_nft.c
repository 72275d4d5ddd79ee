/* Set elements of the shared table `inet islet`, sent as one nf_tables
 * netlink batch (libmnl builds the messages).  A sandbox's create, change
 * and stop touch only elements, and this path has no parser, no copy of
 * the ruleset read back first and no libnftables to load: one sendmsg,
 * and the kernel's answer.  The format is the kernel's
 * (linux/netfilter/nf_tables.h): a batch begins and ends with nfnetlink's
 * batch messages, and in between each NEWSETELEM or DELSETELEM names the
 * table and the set and nests the element's key, its last key (an
 * interval of a concatenation), timeout and data.  islet_nl_send, the
 * send-and-wait for acknowledgements, serves the link's rtnetlink
 * requests too (net_link.c). */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "islet/util.h"
#include "net_internal.h"

#define BATCH_BYTES 65536
#define ANSWER_TIMEOUT_S 5

struct islet_nft_batch
{
  struct mnl_nlmsg_batch *mb;
  uint32_t seq;
  unsigned acks;             /* messages the kernel answers */
  bool ended;                /* the batch's end message is in */
  char buf[2 * BATCH_BYTES]; /* libmnl: twice the limit, so the last message fits */
};

/* A message at the batch's end, its nfgenmsg filled in. */
static struct nlmsghdr *
msg (struct islet_nft_batch *b, uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id)
{
  struct nlmsghdr *h = mnl_nlmsg_put_header (mnl_nlmsg_batch_current (b->mb));
  struct nfgenmsg *g = mnl_nlmsg_put_extra_header (h, sizeof *g);

  h->nlmsg_type = type;
  h->nlmsg_flags = (uint16_t) (NLM_F_REQUEST | flags);
  h->nlmsg_seq = ++b->seq;
  g->nfgen_family = family;
  g->version = NFNETLINK_V0;
  g->res_id = htons (res_id);
  return h;
}

static void
msg_end (struct islet_nft_batch *b)
{
  if (!mnl_nlmsg_batch_next (b->mb))
    abort (); /* bounded by the list's 64 entries: a bug, not an input */
}

struct islet_nft_batch *
islet_nft_batch_new (void)
{
  struct islet_nft_batch *b = islet_xmalloc (sizeof *b);

  b->mb = mnl_nlmsg_batch_start (b->buf, BATCH_BYTES);
  if (b->mb == NULL)
    abort (); /* only a malloc of a few bytes can fail here */
  b->seq = 0;
  b->acks = 0;
  b->ended = false;
  msg (b, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  msg_end (b);
  return b;
}

void
islet_nft_batch_free (struct islet_nft_batch *b)
{
  if (b == NULL)
    return;
  mnl_nlmsg_batch_stop (b->mb);
  free (b);
}

static void
data_value (struct nlmsghdr *h, uint16_t type, const uint32_t *words, unsigned n)
{
  struct nlattr *k = mnl_attr_nest_start (h, type);

  mnl_attr_put (h, NFTA_DATA_VALUE, n * sizeof *words, words);
  mnl_attr_nest_end (h, k);
}

static void
verdict (struct nlmsghdr *h, const struct islet_nft_elem *e)
{
  struct nlattr *d = mnl_attr_nest_start (h, NFTA_SET_ELEM_DATA);
  struct nlattr *v = mnl_attr_nest_start (h, NFTA_DATA_VERDICT);

  mnl_attr_put_u32 (h, NFTA_VERDICT_CODE, htonl (e->jump ? (uint32_t) NFT_JUMP : NF_ACCEPT));
  if (e->jump)
    mnl_attr_put_strz (h, NFTA_VERDICT_CHAIN, e->jump);
  mnl_attr_nest_end (h, v);
  mnl_attr_nest_end (h, d);
}

void
islet_nft_elem (struct islet_nft_batch *b, bool add, const struct islet_nft_elem *e)
{
  uint16_t type = (uint16_t) (NFNL_SUBSYS_NFTABLES << 8
                              | (add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM));
  struct nlmsghdr *h = msg (b, type, (uint16_t) (NLM_F_ACK | (add ? NLM_F_CREATE : 0)),
                            NFPROTO_INET, 0);
  struct nlattr *list, *el;

  mnl_attr_put_strz (h, NFTA_SET_ELEM_LIST_TABLE, ISLET_NFT_TABLE);
  mnl_attr_put_strz (h, NFTA_SET_ELEM_LIST_SET, e->set);
  list = mnl_attr_nest_start (h, NFTA_SET_ELEM_LIST_ELEMENTS);
  el = mnl_attr_nest_start (h, NFTA_LIST_ELEM);
  data_value (h, NFTA_SET_ELEM_KEY, e->key, e->key_words);
  if (e->has_end)
    data_value (h, NFTA_SET_ELEM_KEY_END, e->key_end, e->key_words);
  if (add && e->timeout_ms)
    mnl_attr_put_u64 (h, NFTA_SET_ELEM_TIMEOUT, htobe64 (e->timeout_ms));
  if (add && (e->jump || e->accept))
    verdict (h, e);
  if (add && e->has_mark)
    data_value (h, NFTA_SET_ELEM_DATA, &e->mark, 1);
  mnl_attr_nest_end (h, el);
  mnl_attr_nest_end (h, list);
  msg_end (b);
  b->acks++;
}

/* Read the kernel's answers on nl until acks messages were acknowledged:
 * 0, else -1 with errno the first error (EAGAIN: no answer in time). */
static int
answers (struct mnl_socket *nl, unsigned acks)
{
  char ans[8192];

  for (unsigned acked = 0; acked < acks;)
    {
      ssize_t n = mnl_socket_recvfrom (nl, ans, sizeof ans);
      int left;

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      left = (int) n;
      for (struct nlmsghdr *h = (struct nlmsghdr *) ans; mnl_nlmsg_ok (h, left);
           h = mnl_nlmsg_next (h, &left))
        if (h->nlmsg_type == NLMSG_ERROR)
          {
            const struct nlmsgerr *e = mnl_nlmsg_get_payload (h);
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
islet_nl_send (int bus, const void *buf, size_t len, unsigned acks)
{
  struct timeval limit = { .tv_sec = ANSWER_TIMEOUT_S };
  struct mnl_socket *nl = mnl_socket_open2 (bus, SOCK_CLOEXEC);
  int rc = -1, saved;

  if (nl == NULL)
    return -1;
  if (setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) == 0
      && mnl_socket_sendto (nl, buf, len) >= 0)
    rc = answers (nl, acks);
  saved = errno;
  mnl_socket_close (nl);
  errno = saved;
  return rc;
}

int
islet_nft_commit (struct islet_nft_batch *b, const char *what, struct islet_err *err)
{
  if (b->acks == 0)
    return 0;
  if (!b->ended)
    {
      msg (b, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
      msg_end (b);
      b->ended = true;
    }
  if (islet_nl_send (NETLINK_NETFILTER, mnl_nlmsg_batch_head (b->mb), mnl_nlmsg_batch_size (b->mb),
                     b->acks)
      < 0)
    return islet_fail (err, errno == ENOENT ? ISLET_E_NOTFOUND : ISLET_E_SYSTEM, errno, "%s", what);
  return 0;
}
