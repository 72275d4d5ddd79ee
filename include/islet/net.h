/* A sandbox's outbound network: its mode and its allow-list, as asked at
 * create (or changed later), kept in its config.json and applied by its
 * supervisor (a veth pair into the sandbox's network namespace and its
 * elements in islet's nftables table: docs/SECURITY.md says what each rule
 * closes).
 *
 *   none   loopback only (the default): no device, no rule, no cost
 *   all    anywhere outside, but never the host, another sandbox,
 *          link-local and metadata addresses, or a private range
 *   allow  only the CIDRs and the domain names of the list; a private
 *          range only if a CIDR of the list names it */
#ifndef ISLET_NET_H
#define ISLET_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "islet/err.h"

enum islet_net_mode
{
  ISLET_NET_NONE = 0,
  ISLET_NET_ALL,
  ISLET_NET_ALLOW,
};

/* The list as given: entries separated by commas (blanks around them are
 * dropped), each an IPv4 address, an IPv4 CIDR, a domain name or
 * `*.` and a domain name (any name below it, not the name itself). */
#define ISLET_NET_ALLOW_MAX 2048
#define ISLET_NET_ENTRIES_MAX 64
#define ISLET_NET_PROXY_MAX 512

struct islet_net
{
  enum islet_net_mode mode;
  char allow[ISLET_NET_ALLOW_MAX];
  /* An http:// or https:// URL, or "": set as HTTP_PROXY, HTTPS_PROXY
   * (and their lower-case names) in the environment of every process the
   * sandbox runs, with NO_PROXY for loopback.  A convenience for programs
   * that honour those variables, not a filter: the mode and the list are
   * what the kernel enforces. */
  char proxy[ISLET_NET_PROXY_MAX];
};

/* One entry of the list, parsed. */
struct islet_net_entry
{
  bool is_cidr;
  uint32_t addr; /* a CIDR: network byte order, host bits zero */
  unsigned prefix;
  char name[254]; /* a name: lower case, without the `*.`, no final dot */
  bool wildcard;  /* `*.name`: names below name */
};

const char *islet_net_mode_name (enum islet_net_mode m);
int islet_net_mode_parse (const char *s, enum islet_net_mode *out,
                          struct islet_err *err) ISLET_MUST_CHECK;

/* Parse n->allow into at most max entries; *count receives how many.  Err
 * names the first entry that is neither a CIDR nor a name (an IPv6 one is
 * refused: sandboxes get no IPv6 route).  Mode allow needs one entry at
 * least, mode none and all none at all. */
int islet_net_parse (const struct islet_net *n, struct islet_net_entry *out, unsigned max,
                     unsigned *count, struct islet_err *err) ISLET_MUST_CHECK;
int islet_net_validate (const struct islet_net *n, struct islet_err *err) ISLET_MUST_CHECK;

/* Append entry (a CIDR or a name) to n->allow. */
int islet_net_add (struct islet_net *n, const char *entry, struct islet_err *err) ISLET_MUST_CHECK;

/* Whether name (as asked in DNS, any case, a final dot or not) is allowed
 * by the list's names. */
bool islet_net_name_allowed (const struct islet_net_entry *e, unsigned count, const char *name);

/* {"mode": "all", "allow": ["10.1.0.0/16", "example.com"]}; the same read
 * back (an absent object is mode none). */
json_t *islet_net_json (const struct islet_net *n);
int islet_net_read (const json_t *j, struct islet_net *out, struct islet_err *err) ISLET_MUST_CHECK;

/* A network as islet's own faces ask for it (the CLI's --network and
 * --allow, /v1's config, MCP's create_sandbox, the Python client): a
 * mode's name or NULL, and the list's entries.  A list without a mode is
 * allow, neither is dflt; a list with mode none or all is refused. */
int islet_net_ask (const char *mode, const char *const *allow, size_t n, enum islet_net_mode dflt,
                   struct islet_net *out, struct islet_err *err) ISLET_MUST_CHECK;
/* The same with the list as a JSON array of strings (NULL: none). */
int islet_net_ask_json (const char *mode, const json_t *allow, enum islet_net_mode dflt,
                        struct islet_net *out, struct islet_err *err) ISLET_MUST_CHECK;

/* Check a proxy URL: http or https, a host (a name, an IPv4 address or
 * [an IPv6 one]), an optional port and path, nothing a shell or an
 * environment would read differently.  host receives the host, lower case,
 * without brackets. */
int islet_net_proxy_parse (const char *url, char host[256], struct islet_err *err) ISLET_MUST_CHECK;

/* What a sandbox may reach of an IPv4 range, whatever its mode.  One
 * table: the proxy check below reads it, and the filter's rules are
 * written from it (net_filter.c). */
enum islet_net_reach
{
  ISLET_NET_NEVER = 1, /* in no mode, through no list */
  ISLET_NET_PRIVATE,   /* only through a CIDR of the list inside the range */
};

struct islet_net_range
{
  const char *text;
  uint32_t net; /* host byte order */
  unsigned prefix;
  enum islet_net_reach reach;
  const char *what;
};

extern const struct islet_net_range islet_net_ranges[];
extern const unsigned islet_net_ranges_count;

/* The range of the table addr (network byte order) lies in, NULL when it
 * is an outside address. */
const struct islet_net_range *islet_net_range_of (uint32_t addr);
/* Whether a CIDR entry lies inside one of the private ranges: then the
 * list opens it (a wider CIDR opens no private address). */
bool islet_net_entry_private (const struct islet_net_entry *e);

/* How a face names the settings, for the advice in a refusal: how to ask
 * for mode all, and where CIDRs and names go. */
struct islet_net_words
{
  const char *all, *cidrs, *names;
};

/* Check that a sandbox with n could reach a proxy on host (as
 * islet_net_proxy_parse gives it), else fail saying why and what to give:
 * no network, an IPv6 address (no IPv6 route), loopback (the sandbox's
 * own), an address of this host, a range never reached, a private address
 * no CIDR of the list opens, an address or a name the list does not
 * name.  A name in mode all is taken: what it resolves to is known only
 * when the sandbox connects. */
int islet_net_proxy_reach (const struct islet_net *n, const char *host,
                           const struct islet_net_words *w, struct islet_err *err) ISLET_MUST_CHECK;
/* Parse url, check it against n's mode and list, and set it as n's proxy
 * (url "" clears it). */
int islet_net_set_proxy (struct islet_net *n, const char *url, const struct islet_net_words *w,
                         struct islet_err *err) ISLET_MUST_CHECK;

bool islet_net_equal (const struct islet_net *a, const struct islet_net *b);

#endif
