/* Daytona's network fields: networkBlockAll, networkAllowList (IPv4
 * CIDRs) and domainAllowList (names), at create and in
 * updateNetworkSettings, onto islet's modes (include/islet/net.h), and back
 * onto the sandbox object.
 *
 *   networkBlockAll true            none (an allow-list with it is refused)
 *   an allow-list, either or both   allow
 *   networkBlockAll false           all
 *   none of them (create)           isletd --default-network (none unless set)
 *   the lists emptied (update)      none: an empty allow-list allows nothing
 * An update keeps the list it does not name; networkBlockAll false alone
 * clears both (the SDK's "restore outbound access").
 *
 * islet's own field `network`, {"mode": "allow", "allow": [CIDRs and
 * names]} as the sandbox's islet.network shows it, is taken at create as
 * the CLI and MCP take theirs (islet_net_ask), instead of Daytona's three.
 *
 * outboundProxyUrl becomes the sandbox's proxy variables (islet/net.h):
 * kept by an update that does not name it, "" clears it.  A create or an
 * update that names a proxy its sandbox could not reach (no network, a
 * list without its host, a private address no CIDR of the list opens, an
 * address of the host) is refused: every request through it would fail. */
#include <arpa/inet.h>
#include <string.h>

#include "islet/util.h"
#include "server.h"

struct fields
{
  int block;         /* -1 absent, 0 false, 1 true */
  const char *cidrs; /* NULL: absent */
  const char *names; /* NULL: absent */
};

static int
read_fields (json_t *j, struct fields *f, struct resp *out)
{
  static const char *const keys[] = { "networkAllowList", "domainAllowList" };
  const char **lists[] = { &f->cidrs, &f->names };
  json_t *b = json_object_get (j, "networkBlockAll");

  f->block = -1;
  if (b && !json_is_null (b))
    {
      if (!json_is_boolean (b))
        {
          reply_error (out, 400, "BAD_REQUEST", "networkBlockAll must be true or false");
          return -1;
        }
      f->block = json_is_true (b);
    }
  for (int i = 0; i < 2; i++)
    {
      json_t *v = json_object_get (j, keys[i]);
      *lists[i] = NULL;
      if (v == NULL || json_is_null (v))
        continue;
      if (!json_is_string (v))
        {
          reply_error (out, 400, "BAD_REQUEST", "%s must be a comma-separated string", keys[i]);
          return -1;
        }
      *lists[i] = json_string_value (v);
    }
  return 0;
}

/* The entries of list (of the kind wanted) appended to net. */
static int
add_list (struct islet_net *net, const char *field, const char *list, bool cidrs, struct resp *out)
{
  struct islet_net one = { .mode = ISLET_NET_ALLOW };
  struct islet_net_entry e[ISLET_NET_ENTRIES_MAX];
  struct islet_err err;
  unsigned n;

  if (strspn (list, " \t,") == strlen (list))
    return 0; /* empty */
  if (strlen (list) >= sizeof one.allow)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s is longer than %d bytes", field,
                   ISLET_NET_ALLOW_MAX - 1);
      return -1;
    }
  snprintf (one.allow, sizeof one.allow, "%s", list);
  if (islet_net_parse (&one, e, ISLET_NET_ENTRIES_MAX, &n, &err) < 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s %s", field, err.msg);
      return -1;
    }
  for (unsigned i = 0; i < n; i++)
    {
      char text[300], a[INET_ADDRSTRLEN];

      if (e[i].is_cidr != cidrs)
        {
          reply_error (out, 400, "BAD_REQUEST", "%s `%s` is %s", field,
                       cidrs ? e[i].name : inet_ntop (AF_INET, &e[i].addr, a, sizeof a),
                       cidrs ? "a domain name: give it in domainAllowList"
                             : "an address: give it as a CIDR in networkAllowList");
          return -1;
        }
      if (cidrs)
        snprintf (text, sizeof text, "%s/%u", inet_ntop (AF_INET, &e[i].addr, a, sizeof a),
                  e[i].prefix);
      else
        snprintf (text, sizeof text, "%s%s", e[i].wildcard ? "*." : "", e[i].name);
      if (islet_net_add (net, text, &err) < 0)
        {
          reply_error (out, 400, "BAD_REQUEST", "%s %s", field, err.msg);
          return -1;
        }
    }
  return 0;
}

/* The CIDRs (cidrs true) or the names of n, comma-separated, into buf. */
static void
join (const struct islet_net *n, bool cidrs, char *buf, size_t size)
{
  struct islet_net_entry e[ISLET_NET_ENTRIES_MAX];
  struct islet_err err;
  unsigned count = 0;
  size_t o = 0;

  buf[0] = '\0';
  if (islet_net_parse (n, e, ISLET_NET_ENTRIES_MAX, &count, &err) < 0)
    return;
  for (unsigned i = 0; i < count && o < size; i++)
    {
      char a[INET_ADDRSTRLEN];
      if (e[i].is_cidr != cidrs)
        continue;
      if (cidrs)
        o += (size_t) snprintf (buf + o, size - o, "%s%s/%u", o ? "," : "",
                                inet_ntop (AF_INET, &e[i].addr, a, sizeof a), e[i].prefix);
      else
        o += (size_t) snprintf (buf + o, size - o, "%s%s%s", o ? "," : "",
                                e[i].wildcard ? "*." : "", e[i].name);
    }
}

/* outboundProxyUrl: a new one is checked against the network it comes
 * with, and so is one kept by an update that does not name it, unless the
 * update closes the network (which must stay possible). */
static int
proxy_field (json_t *j, const struct islet_net *current, struct islet_net *net, struct resp *out)
{
  static const struct islet_net_words words = { "networkBlockAll false", "networkAllowList",
                                                "domainAllowList" };
  json_t *v = json_object_get (j, "outboundProxyUrl");
  struct islet_err err;

  if (v == NULL || json_is_null (v))
    {
      if (current == NULL || current->proxy[0] == '\0')
        return 0;
      if (net->mode == ISLET_NET_NONE)
        memcpy (net->proxy, current->proxy, sizeof net->proxy);
      else if (islet_net_set_proxy (net, current->proxy, &words, &err) < 0)
        {
          reply_error (out, 400, "BAD_REQUEST",
                       "the sandbox's outboundProxyUrl would be out of its reach: %s (or give "
                       "outboundProxyUrl \"\" to drop it)",
                       err.msg);
          return -1;
        }
      return 0;
    }
  if (!json_is_string (v))
    {
      reply_error (out, 400, "BAD_REQUEST", "outboundProxyUrl must be a string (an http:// URL)");
      return -1;
    }
  if (islet_net_set_proxy (net, json_string_value (v), &words, &err) < 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "outboundProxyUrl %s", err.msg);
      return -1;
    }
  return 0;
}

/* The create's `network`: 1 when it was given (then *net is set), 0 when
 * not, -1 with a 400 in out. */
static int
own_field (json_t *j, enum islet_net_mode dflt, struct islet_net *net, struct resp *out)
{
  static const char *const daytona[] = { "networkBlockAll", "networkAllowList", "domainAllowList" };
  json_t *v = json_object_get (j, "network"), *mode;
  struct islet_err err;
  const char *k;
  json_t *m;

  if (v == NULL || json_is_null (v))
    return 0;
  for (size_t i = 0; i < sizeof daytona / sizeof daytona[0]; i++)
    if (json_object_get (j, daytona[i]) && !json_is_null (json_object_get (j, daytona[i])))
      {
        reply_error (out, 400, "BAD_REQUEST", "network and %s both ask for a network: give one",
                     daytona[i]);
        return -1;
      }
  mode = json_object_get (v, "mode");
  if (!json_is_object (v) || (mode && !json_is_null (mode) && !json_is_string (mode)))
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "network must be an object: {\"mode\": \"none|all|allow\", \"allow\": [...]}");
      return -1;
    }
  json_object_foreach (v, k, m) if (strcmp (k, "mode") != 0 && strcmp (k, "allow") != 0)
  {
    reply_error (out, 400, "BAD_REQUEST", "network.%s is not a field of network (mode, allow)", k);
    return -1;
  }
  if (islet_net_ask_json (json_string_value (mode), json_object_get (v, "allow"), dflt, net, &err)
      < 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "network cannot be honoured: %s", err.msg);
      return -1;
    }
  return 1;
}

int
daytona_net_fields (json_t *j, const struct islet_net *current, enum islet_net_mode dflt,
                    struct islet_net *net, struct resp *out)
{
  const struct islet_net *was = current;
  char kept[ISLET_NET_ALLOW_MAX];
  struct fields f;
  struct islet_err err;

  memset (net, 0, sizeof *net);
  if (read_fields (j, &f, out) < 0)
    return -1;
  if (current == NULL)
    switch (own_field (j, dflt, net, out))
      {
      case -1: return -1;
      case 1: return proxy_field (j, NULL, net, out);
      default: break;
      }
  /* networkBlockAll false alone restores all access: the stored lists go */
  if (f.block == 0 && !f.cidrs && !f.names)
    current = NULL;
  if (f.cidrs)
    {
      if (add_list (net, "networkAllowList", f.cidrs, true, out) < 0)
        return -1;
    }
  else if (current)
    {
      join (current, true, kept, sizeof kept);
      if (add_list (net, "networkAllowList", kept, true, out) < 0)
        return -1;
    }
  if (f.names)
    {
      if (add_list (net, "domainAllowList", f.names, false, out) < 0)
        return -1;
    }
  else if (current)
    {
      join (current, false, kept, sizeof kept);
      if (add_list (net, "domainAllowList", kept, false, out) < 0)
        return -1;
    }
  if (f.block == 1 && net->allow[0] && (f.cidrs || f.names))
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "networkBlockAll true with an allow-list: give one or the other");
      return -1;
    }
  if (f.block == 1)
    memset (net, 0, sizeof *net);
  else if (net->allow[0])
    net->mode = ISLET_NET_ALLOW;
  else if (f.block == 0)
    net->mode = ISLET_NET_ALL;
  else if (current == NULL)
    net->mode = dflt;
  else
    net->mode = f.cidrs || f.names ? ISLET_NET_NONE : current->mode;
  if (proxy_field (j, was, net, out) < 0)
    return -1;
  if (islet_net_validate (net, &err) < 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "%s", err.msg);
      return -1;
    }
  return 0;
}

void
daytona_net_dto (json_t *dto, const struct islet_net *n)
{
  char buf[ISLET_NET_ALLOW_MAX];

  json_object_set_new (dto, "networkBlockAll", json_boolean (n->mode == ISLET_NET_NONE));
  join (n, true, buf, sizeof buf);
  if (buf[0])
    json_object_set_new (dto, "networkAllowList", json_string (buf));
  join (n, false, buf, sizeof buf);
  if (buf[0])
    json_object_set_new (dto, "domainAllowList", json_string (buf));
  if (n->proxy[0])
    json_object_set_new (dto, "outboundProxyUrl", json_string (n->proxy));
}
