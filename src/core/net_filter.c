/* Sandboxes' firewall: one nftables table for the host, `inet islet`, made
 * once (by the first networked sandbox, in one transaction) and never
 * changed after; each sandbox is a few elements of its sets and maps,
 * keyed by the interface index of its device, added and removed in one
 * batch (net_nft.c).  An interface index is never reused while the host
 * runs, so an element left by a supervisor killed outright matches no
 * later device; the sweep removes such elements.  Each rule and what it
 * closes is in docs/SECURITY.md.  A drop in any table is final, so another
 * table's accept cannot open what this one closes. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "islet/netsetup.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "net_internal.h"

static uint32_t
mask (unsigned prefix)
{
  return prefix == 0 ? 0 : ~0u << (32 - prefix);
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
  __typeof__ (nft_ctx_get_output_buffer) *output_buffer;
  __typeof__ (nft_ctx_output_set_flags) *output_flags;
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
  nft.output_buffer = (__typeof__ (nft.output_buffer)) dlsym (lib, "nft_ctx_get_output_buffer");
  nft.output_flags = (__typeof__ (nft.output_flags)) dlsym (lib, "nft_ctx_output_set_flags");
  if (!nft.ctx_new || !nft.ctx_free || !nft.buffer_output || !nft.buffer_error || !nft.error_buffer
      || !nft.run_cmd || !nft.output_buffer || !nft.output_flags)
    {
      dlclose (lib);
      return islet_fail (err, ISLET_E_SYSTEM, 0, "libnftables.so.1 lacks a function islet uses");
    }
  nft.lib = lib;
  return 0;
}

/* Run cmds (nft's language, or its JSON when json) with libnftables; the
 * output, when out, in *out (JSON when json). */
static int
run (const char *cmds, bool json, char **out, const char *what, struct islet_err *err)
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
  if (json)
    nft.output_flags (ctx, NFT_CTX_OUTPUT_JSON);
  if (nft.run_cmd (ctx, cmds) != 0)
    {
      const char *e = nft.error_buffer (ctx);
      size_t n = e ? strcspn (e, "\n") : 0;
      rc = islet_fail (err, ISLET_E_SYSTEM, 0, "%s: %.*s", what, (int) n, e ? e : "");
    }
  else if (out)
    {
      /* read once: each call hands over what was buffered since */
      const char *o = nft.output_buffer (ctx);
      *out = islet_xstrdup (o ? o : "");
    }
  nft.ctx_free (ctx);
  return rc;
}

/* The ranges of the table (common/net.c) a sandbox reaches as reach says,
 * as an nft set's elements. */
static void
ranges (FILE *f, enum islet_net_reach reach)
{
  const char *sep = "";

  for (unsigned i = 0; i < islet_net_ranges_count; i++)
    if (islet_net_ranges[i].reach == reach)
      {
        fprintf (f, "%s%s", sep, islet_net_ranges[i].text);
        sep = ", ";
      }
}

/* The host's table.  Its base chains take the devices of the set `devs`,
 * sandboxes' devices, and leave others alone; a sandbox's device is up only
 * once all its elements exist. */
static void
table_text (FILE *f)
{
  fprintf (f, "create table inet " ISLET_NFT_TABLE "\ntable inet " ISLET_NFT_TABLE " {\n");
  /* per sandbox, keyed by its device: its address, its gateway, its
     mode, and in mode allow the epoch of its list (a ct mark) */
  fprintf (f, "  set devs { type iface_index; }\n"
              "  set addr4 { type iface_index . ipv4_addr; }\n"
              "  set gw4 { type iface_index . ipv4_addr; }\n"
              "  map mode4 { type iface_index : verdict; }\n"
              "  map epoch4 { type iface_index : mark; }\n"
              "  set live4 { type iface_index . mark; }\n"
              "  set open4 { type iface_index . ipv4_addr; flags interval; }\n"
              "  set allow4 { type iface_index . ipv4_addr; flags interval; }\n"
              "  set dns4 { type iface_index . mark . ipv4_addr; flags timeout; }\n");
  fprintf (f, "  chain pre { type nat hook prerouting priority dstnat; policy accept;\n"
              "    iif @devs udp dport 53 redirect to :53\n  }\n");
  /* the host itself, on any of its addresses: only the DNS responder on
     the sandbox's own gateway */
  fprintf (f, "  chain input { type filter hook input priority filter - 10; policy accept;\n"
              "    iif @devs jump to_host\n  }\n"
              "  chain to_host {\n"
              "    iif . ip daddr @gw4 udp dport 53 accept\n    drop\n  }\n");
  fprintf (f, "  chain forward { type filter hook forward priority filter - 10; policy accept;\n"
              "    iif @devs jump out\n"
              "    oif @devs ct state established,related accept\n"
              "    oif @devs drop\n  }\n");
  fprintf (f, "  chain out {\n"
              "    meta nfproto != ipv4 drop\n"
              "    iif . ip saddr != @addr4 drop\n"
              "    ip daddr { ");
  ranges (f, ISLET_NET_NEVER);
  fprintf (f, " } drop\n"
              "    fib daddr type { local, broadcast, multicast } drop\n"
              "    iif . ip daddr @open4 accept\n"
              "    ip daddr { ");
  ranges (f, ISLET_NET_PRIVATE);
  fprintf (f, " } drop\n"
              "    iif vmap @mode4\n    drop\n  }\n");
  /* mode allow: a new connection is marked with the list's epoch; a name's
     address opens new connections for its TTL, and a connection opened
     lives on after it, until the list changes (a new epoch) */
  fprintf (f, "  chain allow {\n"
              "    ct state new ct mark set iif map @epoch4\n"
              "    iif . ip daddr @allow4 accept\n"
              "    ct state new iif . ct mark . ip daddr @dns4 accept\n"
              "    ct state established,related iif . ct mark @live4 accept\n"
              "    drop\n  }\n");
  fprintf (f, "  chain post { type nat hook postrouting priority srcnat; policy accept;\n"
              "    iif @devs oif != @devs masquerade\n  }\n}\n");
}

int
islet_netfilter_table (struct islet_err *err)
{
  cleanup_free char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&text, &len);
  struct islet_err e;

  if (f == NULL)
    abort ();
  table_text (f);
  fclose (f);
  if (getenv ("ISLET_NFT_DEBUG"))
    fputs (text, stderr);
  if (run (text, false, NULL, "make the table `inet " ISLET_NFT_TABLE "`", &e) == 0)
    return 0;
  /* `create` fails when another process made the table first */
  if (run ("list table inet " ISLET_NFT_TABLE, false, NULL, "", err) == 0)
    return 0;
  *err = e;
  return -1;
}

/* Whether entry i of e lies inside another entry (or equals an earlier
 * one): an interval set takes no overlapping elements. */
static bool
covered (const struct islet_net_entry *e, unsigned count, unsigned i)
{
  for (unsigned j = 0; j < count; j++)
    if (j != i && e[j].is_cidr && e[j].prefix <= e[i].prefix && (e[j].prefix < e[i].prefix || j < i)
        && (ntohl (e[i].addr) & mask (e[j].prefix)) == ntohl (e[j].addr))
      return true;
  return false;
}

static void
elem2 (struct islet_nft_elem *x, const char *set, uint32_t a, uint32_t b)
{
  memset (x, 0, sizeof *x);
  x->set = set;
  x->key[0] = a;
  x->key[1] = b;
  x->key_words = 2;
}

/* The elements of the sandbox of l with net, added or deleted; its
 * device's own (address, gateway) when link. */
static int
queue (struct islet_nft_batch *b, bool add, const struct islet_netlink *l,
       const struct islet_net *net, bool link, struct islet_err *err)
{
  struct islet_net_entry e[ISLET_NET_ENTRIES_MAX];
  struct islet_nft_elem x;
  uint32_t dev = l->ifindex;
  unsigned count;

  if (islet_net_parse (net, e, ISLET_NET_ENTRIES_MAX, &count, err) < 0)
    return -1;
  if (link)
    {
      memset (&x, 0, sizeof x);
      x.set = "devs";
      x.key[0] = dev;
      x.key_words = 1;
      islet_nft_elem (b, add, &x);
      elem2 (&x, "addr4", dev, l->sandbox);
      islet_nft_elem (b, add, &x);
      elem2 (&x, "gw4", dev, l->host);
      islet_nft_elem (b, add, &x);
    }
  for (unsigned i = 0; i < count; i++)
    {
      if (!e[i].is_cidr || covered (e, count, i))
        continue;
      /* an interval of a concatenation compares bytes: nft keeps the
         device's index in it in network byte order */
      elem2 (&x, islet_net_entry_private (&e[i]) ? "open4" : "allow4", htonl (dev), e[i].addr);
      x.key_end[0] = htonl (dev);
      x.key_end[1] = htonl (ntohl (e[i].addr) | ~mask (e[i].prefix));
      x.has_end = true;
      islet_nft_elem (b, add, &x);
    }
  memset (&x, 0, sizeof x);
  x.set = "mode4";
  x.key[0] = dev;
  x.key_words = 1;
  x.accept = net->mode == ISLET_NET_ALL;
  x.jump = net->mode == ISLET_NET_ALLOW ? "allow" : NULL;
  islet_nft_elem (b, add, &x);
  if (net->mode != ISLET_NET_ALLOW)
    return 0;
  x.jump = NULL;
  x.set = "epoch4";
  x.has_mark = true;
  x.mark = l->epoch;
  islet_nft_elem (b, add, &x);
  elem2 (&x, "live4", dev, l->epoch);
  islet_nft_elem (b, add, &x);
  return 0;
}

static uint32_t
new_epoch (void)
{
  uint32_t v = 0;

  while (v == 0)
    if (getrandom (&v, sizeof v, 0) != sizeof v)
      v = (uint32_t) getpid () ^ (uint32_t) islet_now_ns ();
  return v;
}

/* Commit b; when the table is missing, make it and commit again. */
static int
commit (struct islet_nft_batch *b, const char *what, struct islet_err *err)
{
  if (islet_nft_commit (b, what, err) == 0)
    return 0;
  if (err->kind != ISLET_E_NOTFOUND || islet_netfilter_table (err) < 0)
    return -1;
  return islet_nft_commit (b, what, err);
}

int
islet_netfilter_apply (struct islet_netlink *l, const struct islet_net *net, struct islet_err *err)
{
  struct islet_nft_batch *b = islet_nft_batch_new ();
  int rc;

  l->epoch = new_epoch ();
  rc = queue (b, true, l, net, true, err);
  if (rc == 0)
    rc = commit (b, "add the sandbox's filter elements", err);
  islet_nft_batch_free (b);
  return rc;
}

int
islet_netfilter_change (struct islet_netlink *l, const struct islet_net *old,
                        const struct islet_net *net, struct islet_err *err)
{
  struct islet_nft_batch *b = islet_nft_batch_new ();
  uint32_t was = l->epoch;
  int rc = queue (b, false, l, old, false, err);

  l->epoch = new_epoch ();
  if (rc == 0)
    rc = queue (b, true, l, net, false, err);
  if (rc == 0)
    rc = islet_nft_commit (b, "change the sandbox's filter elements", err);
  if (rc < 0)
    l->epoch = was;
  islet_nft_batch_free (b);
  return rc;
}

int
islet_netfilter_remove (const struct islet_netlink *l, const struct islet_net *net,
                        struct islet_err *err)
{
  struct islet_nft_batch *b = islet_nft_batch_new ();
  int rc = queue (b, false, l, net, true, err);

  if (rc == 0)
    rc = islet_nft_commit (b, "remove the sandbox's filter elements", err);
  islet_nft_batch_free (b);
  return rc;
}

int
islet_netfilter_allow_addr (const struct islet_netlink *l, uint32_t addr, unsigned ttl_s,
                            struct islet_err *err)
{
  struct islet_nft_batch *b = islet_nft_batch_new ();
  struct islet_nft_elem x = {
    .set = "dns4",
    .key = { l->ifindex, l->epoch, addr },
    .key_words = 3,
    .timeout_ms = (uint64_t) (ttl_s < 1 ? 1 : ttl_s) * 1000,
  };
  int rc;

  islet_nft_elem (b, true, &x);
  rc = islet_nft_commit (b, "allow an address the sandbox resolved", err);
  islet_nft_batch_free (b);
  return rc;
}

/* The parts of an element's key: a concatenation's, or the key alone. */
static json_t *
key_part (json_t *key, size_t i)
{
  json_t *concat = json_is_object (key) ? json_object_get (key, "concat") : NULL;

  return concat ? json_array_get (concat, i) : i == 0 ? key : NULL;
}

/* Whether the device part of an element's key names no device: nft prints
 * an interface index it cannot name as its number. */
static bool
stale_key (json_t *key, const void *arg)
{
  json_t *dev = key_part (key, 0);
  const char *s = json_string_value (dev);

  (void) arg;
  if (json_is_integer (dev))
    return true;
  return s && *s && strspn (s, "0123456789") == strlen (s);
}

struct device_epoch
{
  const char *dev;
  uint32_t epoch;
};

/* Whether a dns4 key (device . mark . address) is of this device and epoch. */
static bool
epoch_key (json_t *key, const void *arg)
{
  const struct device_epoch *de = arg;
  const char *dev = json_string_value (key_part (key, 0));
  json_t *mark = key_part (key, 1);

  return dev && strcmp (dev, de->dev) == 0 && json_is_integer (mark)
         && (uint32_t) json_integer_value (mark) == de->epoch;
}

/* nft lists a one-address interval of a concatenation as the address,
 * and cannot find the element by it when deleting: as a /32 it does. */
static void
whole_prefixes (json_t *key)
{
  json_t *concat = json_is_object (key) ? json_object_get (key, "concat") : NULL;
  size_t i;
  json_t *part;

  json_array_foreach (concat, i, part)
  {
    const char *a = json_string_value (part);
    if (i > 0 && a && strchr (a, '.'))
      json_array_set_new (concat, i, json_pack ("{s:{s:s,s:i}}", "prefix", "addr", a, "len", 32));
  }
}

typedef bool key_match (json_t *key, const void *arg);

/* The keys of json's elements that match, as delete commands appended to
 * cmds; how many. */
static unsigned
matching_elements (json_t *list, key_match *match, const void *arg, json_t *cmds)
{
  unsigned n = 0;
  size_t i, k;
  json_t *o, *el;

  json_array_foreach (list, i, o)
  {
    json_t *set = json_object_get (o, "set") ? json_object_get (o, "set")
                                             : json_object_get (o, "map");
    json_t *keys = json_array (), *flag;
    bool interval = false;
    size_t f;

    json_array_foreach (json_object_get (set, "flags"), f, flag) interval
        |= json_string_value (flag) && strcmp (json_string_value (flag), "interval") == 0;
    json_array_foreach (json_object_get (set, "elem"), k, el)
    {
      /* a map's element is [key, data]; one with a timeout {"elem": {"val"}} */
      json_t *key = json_is_array (el) ? json_array_get (el, 0) : el;
      if (json_is_object (key) && json_object_get (key, "elem"))
        key = json_object_get (json_object_get (key, "elem"), "val");
      if (key && match (key, arg))
        {
          if (interval)
            whole_prefixes (key);
          json_array_append (keys, key);
        }
    }
    if (json_array_size (keys) == 0)
      {
        json_decref (keys);
        continue;
      }
    n += (unsigned) json_array_size (keys);
    json_array_append_new (cmds, json_pack ("{s:{s:{s:s,s:s,s:O,s:o}}}", "delete", "element",
                                            "family", "inet", "table", ISLET_NFT_TABLE, "name",
                                            json_object_get (set, "name"), "elem", keys));
  }
  return n;
}

/* Tables `inet islet_<slot>` (one per sandbox, as islet made them before
 * the shared table) whose slot is free. */
static void
old_tables (json_t *list, bool (*slot_free) (unsigned slot), FILE *cmds)
{
  size_t i;
  json_t *o;

  json_array_foreach (list, i, o)
  {
    json_t *t = json_object_get (o, "table");
    const char *name = json_string_value (json_object_get (t, "name"));
    const char *family = json_string_value (json_object_get (t, "family"));
    unsigned slot;
    char end;

    if (name && family && strcmp (family, "inet") == 0
        && sscanf (name, "islet_%u%c", &slot, &end) == 1 && slot < ISLET_NET_SLOTS
        && slot_free (slot))
      fprintf (cmds, "delete table inet %s\n", name);
  }
}

static json_t *
listing (const char *cmd, struct islet_err *err)
{
  cleanup_free char *out = NULL;
  json_t *j;

  if (run (cmd, true, &out, "list nftables", err) < 0)
    return NULL;
  j = json_loads (out, 0, NULL);
  if (j == NULL)
    islet_fail (err, ISLET_E_SYSTEM, 0, "nftables listed no JSON: %.80s", out);
  return j;
}

/* Delete the elements that match among those `what` lists (a table or a
 * set of islet's); *removed says how many.  An element gone meanwhile (its
 * own supervisor, a timeout) fails the batch: list again. */
static int
delete_matching (const char *what, key_match *match, const void *arg, unsigned *removed,
                 struct islet_err *err)
{
  *removed = 0;
  for (int attempt = 0; attempt < 3; attempt++)
    {
      cleanup_json json_t *t = NULL, *cmds = json_array ();
      cleanup_json json_t *doc = NULL;
      cleanup_free char *text = NULL;
      struct islet_err ignored;
      unsigned n;

      if (run ("list table inet " ISLET_NFT_TABLE, false, NULL, "", &ignored) < 0)
        return 0; /* no table: nothing to delete */
      t = listing (what, err);
      if (t == NULL)
        return -1;
      n = matching_elements (json_object_get (t, "nftables"), match, arg, cmds);
      if (n == 0)
        return 0;
      doc = json_pack ("{s:O}", "nftables", cmds);
      text = json_dumps (doc, JSON_COMPACT);
      if (run (text, true, NULL, "remove filter elements", err) == 0)
        {
          *removed = n;
          return 0;
        }
    }
  return -1;
}

int
islet_netfilter_forget (const struct islet_netlink *l, uint32_t epoch, unsigned *removed,
                        struct islet_err *err)
{
  struct device_epoch de = { l->host_if, epoch };

  return delete_matching ("list set inet " ISLET_NFT_TABLE " dns4", epoch_key, &de, removed, err);
}

int
islet_netfilter_sweep (bool (*slot_free) (unsigned slot), unsigned *removed, struct islet_err *err)
{
  cleanup_json json_t *tables = listing ("list tables", err);
  cleanup_free char *drops = NULL;
  size_t len = 0;
  FILE *f;

  *removed = 0;
  if (tables == NULL)
    return -1;
  f = open_memstream (&drops, &len);
  if (f == NULL)
    abort ();
  old_tables (json_object_get (tables, "nftables"), slot_free, f);
  fclose (f);
  if (*drops && run (drops, false, NULL, "remove a table of an earlier islet", err) < 0)
    return -1;
  return delete_matching ("list table inet " ISLET_NFT_TABLE, stale_key, NULL, removed, err);
}

int
islet_netfilter_drop_unused (bool *dropped, struct islet_err *err)
{
  cleanup_json json_t *t = NULL;
  struct islet_err ignored;
  size_t i, n = 0;
  json_t *o;

  *dropped = false;
  if (run ("list table inet " ISLET_NFT_TABLE, false, NULL, "", &ignored) < 0)
    return 0; /* none */
  t = listing ("list table inet " ISLET_NFT_TABLE, err);
  if (t == NULL)
    return -1;
  json_array_foreach (json_object_get (t, "nftables"), i, o)
  {
    json_t *set = json_object_get (o, "set") ? json_object_get (o, "set")
                                             : json_object_get (o, "map");
    n += json_array_size (json_object_get (set, "elem"));
  }
  if (n > 0)
    return 0;
  if (run ("delete table inet " ISLET_NFT_TABLE, false, NULL,
           "delete the table `inet " ISLET_NFT_TABLE "`", err)
      < 0)
    return -1;
  *dropped = true;
  return 0;
}
