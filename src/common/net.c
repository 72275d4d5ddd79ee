/* A sandbox's network settings: parsed, checked, written and read
 * (include/islet/net.h), and the one table of the ranges a sandbox never
 * reaches or reaches only when its list names them.  No kernel work here:
 * the supervisor applies them (net_link.c, net_filter.c). */
#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "islet/net.h"
#include "islet/netsetup.h"
#include "islet/util.h"

static const char *const mode_names[] = {
  [ISLET_NET_NONE] = "none",
  [ISLET_NET_ALL] = "all",
  [ISLET_NET_ALLOW] = "allow",
};

const char *
islet_net_mode_name (enum islet_net_mode m)
{
  return (unsigned) m < sizeof mode_names / sizeof mode_names[0] ? mode_names[m] : "none";
}

int
islet_net_mode_parse (const char *s, enum islet_net_mode *out, struct islet_err *err)
{
  for (unsigned i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++)
    if (strcmp (s, mode_names[i]) == 0)
      {
        *out = (enum islet_net_mode) i;
        return 0;
      }
  return islet_fail (err, ISLET_E_INVALID, 0, "network mode `%s` is not one of none, all, allow",
                     s);
}

static bool
label_ok (const char *s, size_t n)
{
  if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum ((unsigned char) s[i]) && s[i] != '-' && s[i] != '_')
      return false;
  return true;
}

/* A host name: dot-separated labels, two at least (a bare label would be
 * resolved against search domains nobody asked for). */
static bool
name_ok (const char *s)
{
  size_t len = strlen (s), labels = 0;
  const char *p = s;

  if (len == 0 || len > 253)
    return false;
  for (;;)
    {
      const char *dot = strchr (p, '.');
      size_t n = dot ? (size_t) (dot - p) : strlen (p);
      if (!label_ok (p, n))
        return false;
      labels++;
      if (dot == NULL)
        break;
      p = dot + 1;
    }
  return labels >= 2;
}

static int
parse_cidr (const char *s, struct islet_net_entry *e)
{
  char buf[32];
  const char *slash = strchr (s, '/');
  size_t n = slash ? (size_t) (slash - s) : strlen (s);
  struct in_addr a;
  long prefix = 32;

  if (n >= sizeof buf)
    return -1;
  memcpy (buf, s, n);
  buf[n] = '\0';
  if (inet_pton (AF_INET, buf, &a) != 1)
    return -1;
  if (slash)
    {
      char *end;
      prefix = strtol (slash + 1, &end, 10);
      if (slash[1] == '\0' || *end != '\0' || prefix < 0 || prefix > 32)
        return -1;
    }
  e->is_cidr = true;
  e->prefix = (unsigned) prefix;
  e->addr = a.s_addr & (prefix == 0 ? 0 : htonl (~0u << (32 - prefix)));
  return 0;
}

static int
parse_entry (const char *s, struct islet_net_entry *e, struct islet_err *err)
{
  memset (e, 0, sizeof *e);
  if (strchr (s, ':') != NULL)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "`%s` is an IPv6 address: sandboxes have no IPv6 route, so IPv6 cannot be "
                       "allowed",
                       s);
  if (parse_cidr (s, e) == 0)
    return 0;
  if (strncmp (s, "*.", 2) == 0)
    {
      e->wildcard = true;
      s += 2;
    }
  if (strlen (s) >= sizeof e->name || !name_ok (s) || strspn (s, "0123456789./") == strlen (s))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "`%s%s` is neither an IPv4 CIDR nor a domain name (`example.com` or "
                       "`*.example.com`)",
                       e->wildcard ? "*." : "", s);
  for (size_t i = 0; s[i]; i++)
    e->name[i] = (char) tolower ((unsigned char) s[i]);
  return 0;
}

int
islet_net_parse (const struct islet_net *n, struct islet_net_entry *out, unsigned max,
                 unsigned *count, struct islet_err *err)
{
  const char *p = n->allow;

  *count = 0;
  while (*p)
    {
      char item[300];
      size_t len = strcspn (p, ",");
      const char *q = p;
      size_t k = len;

      while (k > 0 && isspace ((unsigned char) *q))
        q++, k--;
      while (k > 0 && isspace ((unsigned char) q[k - 1]))
        k--;
      p += len + (p[len] == ',');
      if (k == 0)
        continue;
      if (k >= sizeof item)
        return islet_fail (err, ISLET_E_INVALID, 0, "an allow-list entry is too long");
      if (*count >= max)
        return islet_fail (err, ISLET_E_INVALID, 0, "an allow-list holds at most %u entries", max);
      memcpy (item, q, k);
      item[k] = '\0';
      if (parse_entry (item, &out[*count], err) < 0)
        return -1;
      (*count)++;
    }
  if (n->mode == ISLET_NET_ALLOW && *count == 0)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "network mode allow needs an allow-list (CIDRs or domain names)");
  if (n->mode != ISLET_NET_ALLOW && *count > 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "an allow-list needs network mode allow, not %s",
                       islet_net_mode_name (n->mode));
  return 0;
}

/* The authority's host of a proxy URL (after the scheme, up to the first
 * '/'): an optional user:password@, a host, an optional :port. */
static int
proxy_host (const char *url, const char *auth, size_t n, char host[256], struct islet_err *err)
{
  const char *at = memrchr (auth, '@', n), *h = at ? at + 1 : auth, *end = auth + n, *colon;
  size_t hn;

  if (h < end && *h == '[')
    {
      const char *close = memchr (h, ']', (size_t) (end - h));
      if (close == NULL)
        return islet_fail (err, ISLET_E_INVALID, 0, "`%s` has an unclosed `[`", url);
      h++;
      hn = (size_t) (close - h);
      colon = close + 1 < end ? close + 1 : NULL;
      if (colon && *colon != ':')
        return islet_fail (err, ISLET_E_INVALID, 0, "`%s`: `]` is not followed by a port", url);
    }
  else
    {
      colon = memchr (h, ':', (size_t) (end - h));
      hn = colon ? (size_t) (colon - h) : (size_t) (end - h);
    }
  if (hn == 0 || hn > 253)
    return islet_fail (err, ISLET_E_INVALID, 0, "`%s` names no host", url);
  if (colon)
    {
      char port[8] = { 0 };
      size_t pn = (size_t) (end - colon - 1);
      char *stop;
      long v;

      if (pn == 0 || pn >= sizeof port || strspn (colon + 1, "0123456789") < pn)
        return islet_fail (err, ISLET_E_INVALID, 0, "`%s` has a port that is not a number", url);
      memcpy (port, colon + 1, pn);
      v = strtol (port, &stop, 10);
      if (v < 1 || v > 65535)
        return islet_fail (err, ISLET_E_INVALID, 0, "`%s`: port %ld is not 1 to 65535", url, v);
    }
  for (size_t i = 0; i < hn; i++)
    host[i] = (char) tolower ((unsigned char) h[i]);
  host[hn] = '\0';
  if (strspn (host, "abcdefghijklmnopqrstuvwxyz0123456789.-_:") != hn)
    return islet_fail (err, ISLET_E_INVALID, 0, "`%s` has a host that is not a name or an address",
                       url);
  return 0;
}

int
islet_net_proxy_parse (const char *url, char host[256], struct islet_err *err)
{
  static const char *const schemes[] = { "http://", "https://" };
  const char *auth = NULL;
  size_t len = strlen (url);

  for (size_t i = 0; i < sizeof schemes / sizeof schemes[0] && auth == NULL; i++)
    if (strncasecmp (url, schemes[i], strlen (schemes[i])) == 0)
      auth = url + strlen (schemes[i]);
  if (auth == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "`%.80s` is not an http:// or https:// URL", url);
  if (len >= ISLET_NET_PROXY_MAX)
    return islet_fail (err, ISLET_E_INVALID, 0, "a proxy URL is at most %d bytes",
                       ISLET_NET_PROXY_MAX - 1);
  /* what the programs that read the variable could take apart differently */
  for (size_t i = 0; i < len; i++)
    if ((unsigned char) url[i] <= ' ' || url[i] == 0x7f || strchr ("\"'`<>\\{}|^", url[i]))
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "`%.80s` has a blank, a control character or a quote", url);
  return proxy_host (url, auth, strcspn (auth, "/?#"), host, err);
}

/* In table order: a never range is found before a private range holding
 * it (islet's own range lies inside the shared address space). */
const struct islet_net_range islet_net_ranges[] = {
  { "0.0.0.0/8", 0x00000000u, 8, ISLET_NET_NEVER, "\"this network\"" },
  { "127.0.0.0/8", 0x7f000000u, 8, ISLET_NET_NEVER,
    "loopback, in a sandbox its own (not the host's)" },
  { "169.254.0.0/16", 0xa9fe0000u, 16, ISLET_NET_NEVER,
    "link-local, where cloud metadata services answer" },
  { "224.0.0.0/3", 0xe0000000u, 3, ISLET_NET_NEVER, "multicast or reserved" },
  { "100.96.0.0/16", ISLET_NET_RANGE, ISLET_NET_RANGE_PREFIX, ISLET_NET_NEVER,
    "islet's own range, the sandboxes' links" },
  { "10.0.0.0/8", 0x0a000000u, 8, ISLET_NET_PRIVATE, "a private address" },
  { "100.64.0.0/10", 0x64400000u, 10, ISLET_NET_PRIVATE, "a shared (carrier NAT) address" },
  { "172.16.0.0/12", 0xac100000u, 12, ISLET_NET_PRIVATE, "a private address" },
  { "192.168.0.0/16", 0xc0a80000u, 16, ISLET_NET_PRIVATE, "a private address" },
  { "192.0.0.0/24", 0xc0000000u, 24, ISLET_NET_PRIVATE, "an IETF protocol address" },
  { "198.18.0.0/15", 0xc6120000u, 15, ISLET_NET_PRIVATE, "a benchmarking address" },
};
const unsigned islet_net_ranges_count = sizeof islet_net_ranges / sizeof islet_net_ranges[0];

static uint32_t
mask (unsigned prefix)
{
  return prefix == 0 ? 0 : ~0u << (32 - prefix);
}

const struct islet_net_range *
islet_net_range_of (uint32_t addr)
{
  for (unsigned i = 0; i < islet_net_ranges_count; i++)
    if ((ntohl (addr) & mask (islet_net_ranges[i].prefix)) == islet_net_ranges[i].net)
      return &islet_net_ranges[i];
  return NULL;
}

bool
islet_net_entry_private (const struct islet_net_entry *e)
{
  for (unsigned i = 0; i < islet_net_ranges_count; i++)
    if (islet_net_ranges[i].reach == ISLET_NET_PRIVATE && e->prefix >= islet_net_ranges[i].prefix
        && (ntohl (e->addr) & mask (islet_net_ranges[i].prefix)) == islet_net_ranges[i].net)
      return true;
  return false;
}

/* Whether addr is one of this host's own (or a broadcast address of its
 * networks): the filter drops those by the kernel's routing table. */
static bool
host_address (uint32_t addr)
{
  struct ifaddrs *all, *i;
  bool found = false;

  if (getifaddrs (&all) < 0)
    return false;
  for (i = all; i && !found; i = i->ifa_next)
    {
      const struct sockaddr_in *a = (const struct sockaddr_in *) i->ifa_addr;
      const struct sockaddr_in *b = (const struct sockaddr_in *) i->ifa_broadaddr;
      if (a == NULL || a->sin_family != AF_INET)
        continue;
      found = a->sin_addr.s_addr == addr
              || ((i->ifa_flags & IFF_BROADCAST) && b && b->sin_addr.s_addr == addr);
    }
  freeifaddrs (all);
  return found;
}

static bool
loopback_name (const char *host)
{
  size_t n = strlen (host);

  return strcmp (host, "localhost") == 0 || (n > 10 && strcmp (host + n - 10, ".localhost") == 0);
}

/* An IPv4 proxy address against n's list: whether a CIDR opens it. */
static int
address_reach (const struct islet_net *n, const char *host, uint32_t a,
               const struct islet_net_words *w, struct islet_err *err)
{
  const struct islet_net_range *r = islet_net_range_of (a);
  struct islet_net_entry e[ISLET_NET_ENTRIES_MAX];
  unsigned count = 0;

  if (r && r->reach == ISLET_NET_NEVER)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "`%s` is %s (%s): a sandbox's traffic never leaves for it, whatever its "
                       "network",
                       host, r->what, r->text);
  if (host_address (a))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "`%s` is an address of this host, which a sandbox never reaches: run the "
                       "proxy at an address outside the host",
                       host);
  if (n->mode == ISLET_NET_ALL && r == NULL)
    return 0;
  if (n->mode == ISLET_NET_ALLOW && islet_net_parse (n, e, ISLET_NET_ENTRIES_MAX, &count, err) < 0)
    return -1;
  for (unsigned i = 0; i < count; i++)
    if (e[i].is_cidr && (a & htonl (mask (e[i].prefix))) == e[i].addr
        && (r == NULL || islet_net_entry_private (&e[i])))
      return 0;
  if (r)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "`%s` is %s, which a sandbox reaches only through a CIDR in %s that holds "
                       "it and lies inside %s: add %s/32 to %s",
                       host, r->what, w->cidrs, r->text, host, w->cidrs);
  return islet_fail (err, ISLET_E_INVALID, 0,
                     "`%s` is out of the sandbox's reach: its allow-list does not name it (add "
                     "%s/32 to %s)",
                     host, host, w->cidrs);
}

int
islet_net_proxy_reach (const struct islet_net *n, const char *host, const struct islet_net_words *w,
                       struct islet_err *err)
{
  struct islet_net_entry e[ISLET_NET_ENTRIES_MAX];
  struct in_addr a;
  unsigned count = 0;

  if (strchr (host, ':') != NULL)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "`%s` is an IPv6 address: sandboxes have no IPv6 route", host);
  if (loopback_name (host))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "`%s` is loopback, in a sandbox its own (not the host's): a sandbox's "
                       "traffic never leaves for it, whatever its network",
                       host);
  if (n->mode == ISLET_NET_NONE)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "`%s` is out of the sandbox's reach: it has no outbound network (give %s, "
                       "or an allow-list that names the proxy)",
                       host, w->all);
  if (inet_pton (AF_INET, host, &a) == 1)
    return address_reach (n, host, a.s_addr, w, err);
  if (n->mode == ISLET_NET_ALL)
    return 0;
  if (islet_net_parse (n, e, ISLET_NET_ENTRIES_MAX, &count, err) < 0)
    return -1;
  if (islet_net_name_allowed (e, count, host))
    return 0;
  return islet_fail (err, ISLET_E_INVALID, 0,
                     "`%s` is out of the sandbox's reach: its allow-list does not name it (add it "
                     "to %s)",
                     host, w->names);
}

int
islet_net_set_proxy (struct islet_net *n, const char *url, const struct islet_net_words *w,
                     struct islet_err *err)
{
  char host[256];

  if (url[0] == '\0')
    {
      n->proxy[0] = '\0';
      return 0;
    }
  if (islet_net_proxy_parse (url, host, err) < 0 || islet_net_proxy_reach (n, host, w, err) < 0)
    return -1;
  snprintf (n->proxy, sizeof n->proxy, "%s", url);
  return 0;
}

int
islet_net_validate (const struct islet_net *n, struct islet_err *err)
{
  struct islet_net_entry e[ISLET_NET_ENTRIES_MAX];
  unsigned count;
  char host[256];

  if ((unsigned) n->mode > ISLET_NET_ALLOW)
    return islet_fail (err, ISLET_E_INVALID, 0, "unknown network mode %d", (int) n->mode);
  if (memchr (n->allow, '\0', sizeof n->allow) == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "the allow-list is too long");
  if (memchr (n->proxy, '\0', sizeof n->proxy) == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "the proxy URL is too long");
  if (n->proxy[0] && islet_net_proxy_parse (n->proxy, host, err) < 0)
    return -1;
  return islet_net_parse (n, e, ISLET_NET_ENTRIES_MAX, &count, err);
}

int
islet_net_add (struct islet_net *n, const char *entry, struct islet_err *err)
{
  size_t have = strlen (n->allow), add = strlen (entry);

  if (have + add + 2 > sizeof n->allow)
    return islet_fail (err, ISLET_E_INVALID, 0, "the allow-list is longer than %d bytes",
                       ISLET_NET_ALLOW_MAX - 1);
  if (have > 0)
    n->allow[have++] = ',';
  memcpy (n->allow + have, entry, add + 1);
  return 0;
}

int
islet_net_ask (const char *mode, const char *const *allow, size_t n, enum islet_net_mode dflt,
               struct islet_net *out, struct islet_err *err)
{
  memset (out, 0, sizeof *out);
  out->mode = n > 0 ? ISLET_NET_ALLOW : dflt;
  if (mode && islet_net_mode_parse (mode, &out->mode, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (islet_net_add (out, allow[i], err) < 0)
      return -1;
  return islet_net_validate (out, err);
}

int
islet_net_ask_json (const char *mode, const json_t *allow, enum islet_net_mode dflt,
                    struct islet_net *out, struct islet_err *err)
{
  const char *v[ISLET_NET_ENTRIES_MAX];
  size_t n = json_array_size (allow);

  if (allow && !json_is_array (allow))
    return islet_fail (err, ISLET_E_INVALID, 0, "the allow-list must be an array of strings");
  if (n > ISLET_NET_ENTRIES_MAX)
    return islet_fail (err, ISLET_E_INVALID, 0, "an allow-list holds at most %d entries",
                       ISLET_NET_ENTRIES_MAX);
  for (size_t i = 0; i < n; i++)
    if ((v[i] = json_string_value (json_array_get (allow, i))) == NULL)
      return islet_fail (err, ISLET_E_INVALID, 0, "allow-list entry %zu is not a string", i);
  return islet_net_ask (mode, v, n, dflt, out, err);
}

bool
islet_net_name_allowed (const struct islet_net_entry *e, unsigned count, const char *name)
{
  char q[256];
  size_t len = strlen (name);

  if (len > 0 && name[len - 1] == '.')
    len--;
  if (len == 0 || len >= sizeof q)
    return false;
  for (size_t i = 0; i < len; i++)
    q[i] = (char) tolower ((unsigned char) name[i]);
  q[len] = '\0';
  for (unsigned i = 0; i < count; i++)
    {
      size_t n = strlen (e[i].name);
      if (e[i].is_cidr)
        continue;
      if (!e[i].wildcard && strcmp (q, e[i].name) == 0)
        return true;
      if (e[i].wildcard && len > n + 1 && q[len - n - 1] == '.'
          && strcmp (q + len - n, e[i].name) == 0)
        return true;
    }
  return false;
}

json_t *
islet_net_json (const struct islet_net *n)
{
  struct islet_net_entry e[ISLET_NET_ENTRIES_MAX];
  struct islet_err ignored;
  json_t *list = json_array ();
  unsigned count = 0;

  if (islet_net_parse (n, e, ISLET_NET_ENTRIES_MAX, &count, &ignored) < 0)
    count = 0;
  for (unsigned i = 0; i < count; i++)
    {
      char a[INET_ADDRSTRLEN];
      if (e[i].is_cidr)
        json_array_append_new (
            list,
            json_sprintf ("%s/%u", inet_ntop (AF_INET, &e[i].addr, a, sizeof a), e[i].prefix));
      else
        json_array_append_new (list, json_sprintf ("%s%s", e[i].wildcard ? "*." : "", e[i].name));
    }
  return json_pack ("{s:s,s:o,s:s*}", "mode", islet_net_mode_name (n->mode), "allow", list, "proxy",
                    n->proxy[0] ? n->proxy : NULL);
}

int
islet_net_read (const json_t *j, struct islet_net *out, struct islet_err *err)
{
  json_t *list, *v;
  size_t i;

  memset (out, 0, sizeof *out);
  if (j == NULL || json_is_null (j))
    return 0;
  if (!json_is_object (j) || !json_is_string (json_object_get (j, "mode")))
    return islet_fail (err, ISLET_E_INVALID, 0, "the network object has no mode");
  if (islet_net_mode_parse (json_string_value (json_object_get (j, "mode")), &out->mode, err) < 0)
    return -1;
  if (json_object_get (j, "proxy") && !json_is_string (json_object_get (j, "proxy")))
    return islet_fail (err, ISLET_E_INVALID, 0, "the network's proxy is not a string");
  if (json_string_length (json_object_get (j, "proxy")) >= sizeof out->proxy)
    return islet_fail (err, ISLET_E_INVALID, 0, "the network's proxy is too long");
  snprintf (out->proxy, sizeof out->proxy, "%s",
            json_string_value (json_object_get (j, "proxy")) ?: "");
  list = json_object_get (j, "allow");
  json_array_foreach (list, i, v)
  {
    if (!json_is_string (v))
      return islet_fail (err, ISLET_E_INVALID, 0, "an allow-list entry is not a string");
    if (islet_net_add (out, json_string_value (v), err) < 0)
      return -1;
  }
  return islet_net_validate (out, err);
}

bool
islet_net_equal (const struct islet_net *a, const struct islet_net *b)
{
  return a->mode == b->mode && strcmp (a->allow, b->allow) == 0 && strcmp (a->proxy, b->proxy) == 0;
}
