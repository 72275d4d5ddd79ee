/* Between the files of a sandbox's network (net_filter.c, net_nft.c,
 * net_dns.c, net_link.c): set elements of the shared table `inet islet`,
 * sent to the kernel as one nf_tables netlink batch, and the one way a
 * netlink request is sent and answered. */
#ifndef ISLET_NET_INTERNAL_H
#define ISLET_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "islet/err.h"

#define ISLET_NFT_TABLE "islet"

/* Send len bytes of netlink messages at buf on a new socket of bus
 * (NETLINK_ROUTE, NETLINK_NETFILTER) and wait (5 s at most) until acks of
 * them are acknowledged: 0, else -1 with errno the kernel's first error. */
int islet_nl_send (int bus, const void *buf, size_t len, unsigned acks) ISLET_MUST_CHECK;

/* One element: its key (a concatenation, each part 4 bytes as the kernel
 * keeps it), for an interval set its last key too, and what it carries. */
struct islet_nft_elem
{
  const char *set;
  uint32_t key[3];
  unsigned key_words;
  uint32_t key_end[3]; /* key_words of them when has_end */
  bool has_end;
  uint64_t timeout_ms; /* 0: the set's own (none) */
  const char *jump;    /* a verdict map: jump to this chain */
  bool accept;         /* a verdict map: accept */
  bool has_mark;       /* a mark map: this value */
  uint32_t mark;
};

/* Up to 256 element changes applied in one transaction: all or none. */
struct islet_nft_batch;

struct islet_nft_batch *islet_nft_batch_new (void);
void islet_nft_batch_free (struct islet_nft_batch *b);
/* Queue adding (add true) or deleting e. */
void islet_nft_elem (struct islet_nft_batch *b, bool add, const struct islet_nft_elem *e);
/* Send the batch and wait for the kernel's answer; ISLET_E_NOTFOUND when
 * the table or a set does not exist (errno ENOENT). */
int islet_nft_commit (struct islet_nft_batch *b, const char *what,
                      struct islet_err *err) ISLET_MUST_CHECK;

#endif
