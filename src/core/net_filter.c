/* A sandbox's firewall: one nftables table per sandbox, `inet islet_<slot>`,
 * made or replaced in one transaction (libnftables), so a sandbox is never
 * seen with half a rule set and a crashed supervisor's table is replaced by
 * the next one on its slot.  Each rule and what it closes is in
 * docs/SECURITY.md.  A drop in any table is final, so another table's
 * accept cannot open what this one closes. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "islet/netsetup.h"
#include "islet/util.h"

/* Never reachable, whatever the allow-list says: "this network", the
 * loopback range (also a martian), link-local with the cloud metadata
 * services, multicast and the reserved range above it, and islet's own
 * range (the other sandboxes). */
static const char never[] = "0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/3, 100.96.0.0/16";

/* Private and shared ranges: reachable only through a CIDR of the
 * allow-list that lies inside one of them. */
static const struct
{
  const char *text;
  uint32_t net; /* host byte order */
  unsigned prefix;
} private_ranges[] = {
  { "10.0.0.0/8", 0x0a000000u, 8 },     { "100.64.0.0/10", 0x64400000u, 10 },
  { "172.16.0.0/12", 0xac100000u, 12 }, { "192.168.0.0/16", 0xc0a80000u, 16 },
  { "192.0.0.0/24", 0xc0000000u, 24 },  { "198.18.0.0/15", 0xc6120000u, 15 },
};

static uint32_t
mask (unsigned prefix)
{
  return prefix == 0 ? 0 : ~0u << (32 - prefix);
}

static bool
inside_private (const struct islet_net_entry *e)
{
  for (size_t i = 0; i < sizeof private_ranges / sizeof private_ranges[0]; i++)
    if (e->prefix >= private_ranges[i].prefix
        && (ntohl (e->addr) & mask (private_ranges[i].prefix)) == private_ranges[i].net)
      return true;
  return false;
}

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

/* libnftables is loaded on first use: a supervisor of a sandbox without
 * a network (and every CLI start of islet-run) maps none of it and its
 * four libraries. */
static struct
{
  void *lib;
  __typeof__ (nft_ctx_new) *ctx_new;
  __typeof__ (nft_ctx_free) *ctx_free;
  __typeof__ (nft_ctx_buffer_output) *buffer_output;
  __typeof__ (nft_ctx_buffer_error) *buffer_error;
  __typeof__ (nft_ctx_get_error_buffer) *error_buffer;
  __typeof__ (nft_run_cmd_from_buffer) *run_cmd;
} nft;

int
islet_netfilter_load (struct islet_err *err)
{
  void *lib;

  if (nft.lib)
    return 0;
  lib = dlopen ("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, 0,
                       "outbound networks need libnftables (Debian's libnftables1): %s",
                       dlerror ());
  nft.ctx_new = (__typeof__ (nft.ctx_new)) dlsym (lib, "nft_ctx_new");
  nft.ctx_free = (__typeof__ (nft.ctx_free)) dlsym (lib, "nft_ctx_free");
  nft.buffer_output = (__typeof__ (nft.buffer_output)) dlsym (lib, "nft_ctx_buffer_output");
  nft.buffer_error = (__typeof__ (nft.buffer_error)) dlsym (lib, "nft_ctx_buffer_error");
  nft.error_buffer = (__typeof__ (nft.error_buffer)) dlsym (lib, "nft_ctx_get_error_buffer");
  nft.run_cmd = (__typeof__ (nft.run_cmd)) dlsym (lib, "nft_run_cmd_from_buffer");
  if (!nft.ctx_new || !nft.ctx_free || !nft.buffer_output || !nft.buffer_error || !nft.error_buffer
      || !nft.run_cmd)
    {
      dlclose (lib);
      return islet_fail (err, ISLET_E_SYSTEM, 0, "libnftables.so.1 lacks a function islet uses");
    }
  nft.lib = lib;
  return 0;
}

static int
run (const char *cmds, const char *what, struct islet_err *err)
{
  struct nft_ctx *ctx;
  int rc = 0;

  if (islet_netfilter_load (err) < 0)
    return -1;
  ctx = nft.ctx_new (NFT_CTX_DEFAULT);
  if (ctx == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, ENOMEM, "%s: no nftables context", what);
  nft.buffer_output (ctx);
  nft.buffer_error (ctx);
  if (nft.run_cmd (ctx, cmds) != 0)
    {
      const char *e = nft.error_buffer (ctx);
      size_t n = e ? strcspn (e, "\n") : 0;
      rc = islet_fail (err, ISLET_E_SYSTEM, 0, "%s: %.*s", what, (int) n, e ? e : "");
    }
  nft.ctx_free (ctx);
  return rc;
}

/* The CIDRs of the list into two element lists: those inside a private
 * range (checked before the private ranges are dropped) and the rest. */
static void
cidr_lists (const struct islet_net_entry *e, unsigned count, FILE *priv, FILE *pub)
{
  bool first_priv = true, first_pub = true;

  for (unsigned i = 0; i < count; i++)
    {
      char a[INET_ADDRSTRLEN];
      bool p;

      if (!e[i].is_cidr)
        continue;
      p = inside_private (&e[i]);
      fprintf (p ? priv : pub, "%s%s/%u", (p ? first_priv : first_pub) ? "" : ", ",
               inet_ntop (AF_INET, &e[i].addr, a, sizeof a), e[i].prefix);
      *(p ? &first_priv : &first_pub) = false;
    }
}

static char *
ruleset (const struct islet_netlink *l, const struct islet_net *net, bool dns,
         const struct islet_net_entry *e, unsigned count)
{
  char host[INET_ADDRSTRLEN], sb[INET_ADDRSTRLEN];
  char *text = NULL, *priv = NULL, *pub = NULL, *privs = NULL;
  size_t len = 0, plen = 0, ulen = 0, slen = 0;
  FILE *f, *fp = open_memstream (&priv, &plen), *fu = open_memstream (&pub, &ulen);
  FILE *fs = open_memstream (&privs, &slen);

  if (fp == NULL || fu == NULL || fs == NULL)
    abort ();
  cidr_lists (e, count, fp, fu);
  for (size_t i = 0; i < sizeof private_ranges / sizeof private_ranges[0]; i++)
    fprintf (fs, "%s%s", i ? ", " : "", private_ranges[i].text);
  fclose (fp);
  fclose (fu);
  fclose (fs);
  inet_ntop (AF_INET, &l->host, host, sizeof host);
  inet_ntop (AF_INET, &l->sandbox, sb, sizeof sb);
  f = open_memstream (&text, &len);
  if (f == NULL)
    abort ();
  /* add then delete: replace a table left by an earlier supervisor of the
     slot, in the same transaction */
  fprintf (f, "add table inet islet_%u\ndelete table inet islet_%u\n", l->slot, l->slot);
  fprintf (f, "table inet islet_%u {\n", l->slot);
  fprintf (f, "  set open4 { type ipv4_addr; flags interval; auto-merge;%s%s%s\n  }\n",
           *priv ? " elements = { " : "", priv, *priv ? " };" : "");
  fprintf (f, "  set allow4 { type ipv4_addr; flags interval; auto-merge;%s%s%s\n  }\n",
           *pub ? " elements = { " : "", pub, *pub ? " };" : "");
  /* dynamic: the rule that lets a packet through refreshes its entry */
  fprintf (f, "  set dns4 { type ipv4_addr; flags dynamic, timeout;\n  }\n");
  if (dns)
    fprintf (f,
             "  chain pre { type nat hook prerouting priority dstnat; policy accept;\n"
             "    iifname \"%s\" udp dport 53 dnat ip to %s\n  }\n",
             l->host_if, host);
  /* the host itself, on any of its addresses: only the DNS responder */
  fprintf (f,
           "  chain input { type filter hook input priority filter - 10; policy accept;\n"
           "    iifname \"%s\" jump to_host\n  }\n",
           l->host_if);
  fprintf (f, "  chain to_host {\n");
  if (dns)
    fprintf (f, "    ip daddr %s udp dport 53 accept\n", host);
  fprintf (f, "    drop\n  }\n");
  fprintf (f,
           "  chain forward { type filter hook forward priority filter - 10; policy accept;\n"
           "    iifname \"%s\" jump out\n"
           "    oifname \"%s\" ct state established,related accept\n"
           "    oifname \"%s\" drop\n  }\n",
           l->host_if, l->host_if, l->host_if);
  fprintf (f,
           "  chain out {\n"
           "    meta nfproto != ipv4 drop\n"
           "    ip saddr != %s drop\n"
           "    ip daddr { %s } drop\n"
           "    fib daddr type { local, broadcast, multicast } drop\n"
           "    ip daddr @open4 accept\n"
           "    ip daddr { %s } drop\n",
           sb, never, privs);
  if (net->mode == ISLET_NET_ALL)
    fprintf (f, "    accept\n  }\n");
  else
    fprintf (f, "    ip daddr @allow4 accept\n"
                "    ip daddr @dns4 update @dns4 { ip daddr timeout 1h } accept\n    drop\n  }\n");
  fprintf (f,
           "  chain post { type nat hook postrouting priority srcnat; policy accept;\n"
           "    ip saddr %s oifname != \"%s\" masquerade\n  }\n}\n",
           sb, l->host_if);
  fclose (f);
  free (priv);
  free (pub);
  free (privs);
  return text;
}

int
islet_netfilter_apply (const struct islet_netlink *l, const struct islet_net *net, bool dns,
                       struct islet_err *err)
{
  struct islet_net_entry e[ISLET_NET_ENTRIES_MAX];
  cleanup_free char *text = NULL;
  unsigned count;

  if (islet_net_parse (net, e, ISLET_NET_ENTRIES_MAX, &count, err) < 0)
    return -1;
  text = ruleset (l, net, dns, e, count);
  if (getenv ("ISLET_NFT_DEBUG"))
    fputs (text, stderr);
  return run (text, "load the sandbox's nftables table", err);
}

int
islet_netfilter_remove (const struct islet_netlink *l, struct islet_err *err)
{
  cleanup_free char *cmd = islet_xasprintf ("add table inet islet_%u\ndelete table inet islet_%u\n",
                                            l->slot, l->slot);
  return run (cmd, "remove the sandbox's nftables table", err);
}

int
islet_netfilter_allow_addr (const struct islet_netlink *l, uint32_t addr, unsigned ttl_s,
                            struct islet_err *err)
{
  char a[INET_ADDRSTRLEN];
  cleanup_free char *cmd = NULL;

  inet_ntop (AF_INET, &addr, a, sizeof a);
  cmd = islet_xasprintf ("add element inet islet_%u dns4 { %s timeout %us }\n", l->slot, a,
                         ttl_s < 1 ? 1 : ttl_s);
  return run (cmd, "allow an address the sandbox resolved", err);
}
