/* Preview links: a port inside a sandbox, served through isletd at
 * <server>/preview/<id>/<port>/... (the proxy itself is http/proxy.c).
 *
 * Who may pass: anyone when the sandbox is public; else a request with the
 * sandbox's preview token in x-daytona-preview-token (as the SDK sends
 * it), or one whose port segment carries a signature that has not expired
 * (<port>.<expiry>.<mac>, from getSignedPreviewUrl).  Tokens and signatures
 * are HMAC-SHA-256 under a server secret kept in <state>/preview.key
 * (0600), so nothing per sandbox is stored, a restart keeps every link, and
 * a token names one sandbox only.
 *
 * How the port is reached: the sandbox's supervisor makes a socket in the
 * sandbox's network namespace and passes it back over ctl.sock
 * (islet_sandbox_net_socket); isletd connects it to 127.0.0.1:<port>.  The
 * sandbox's network is opened to nothing: no address, route or rule is
 * added, and isletd joins no namespace. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "islet/util.h"
#include "server.h"

#define KEY_FILE "preview.key"
#define MAC_HEX 32 /* 128 bits of the HMAC, in hex */
#define SIGNED_DEFAULT_S 60
#define SIGNED_MAX_S (7 * 24 * 3600)
#define CONNECT_TIMEOUT_MS 5000
/* The host form's token in a query (Daytona's name for it), set as a
 * cookie of that host by the answer */
#define AUTH_PARAM "DAYTONA_SANDBOX_AUTH_KEY"
#define COOKIE_NAME "islet_preview"

static int
key_create (int dirfd, unsigned char key[PREVIEW_KEY_LEN], struct islet_err *err)
{
  cleanup_close int fd = -1;
  size_t got = 0;

  while (got < PREVIEW_KEY_LEN)
    {
      ssize_t n = getrandom (key + got, PREVIEW_KEY_LEN - got, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "getrandom");
      got += (size_t) n;
    }
  fd = openat (dirfd, KEY_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return -1; /* errno: EEXIST when another isletd made it first */
  if (islet_write_all (fd, key, PREVIEW_KEY_LEN) < 0 || fsync (fd) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "write %s", KEY_FILE);
  return 0;
}

int
preview_key_load (struct srv *srv, struct islet_err *err)
{
  cleanup_close int dirfd = open (srv->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int fd = -1;
  struct stat st;

  if (dirfd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open the state directory");
  if (key_create (dirfd, srv->preview_key, err) == 0)
    return 0;
  if (errno != EEXIST)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create %s", KEY_FILE);
  fd = openat (dirfd, KEY_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 || fstat (fd, &st) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "open %s", KEY_FILE);
  /* a secret others can read would let them sign links */
  if ((st.st_mode & 077) != 0 || st.st_uid != geteuid ())
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "%s/%s is readable by others or not ours: remove it (every preview "
                       "link changes) or chmod 600 it",
                       srv->state_dir, KEY_FILE);
  if (islet_read_all (fd, srv->preview_key, PREVIEW_KEY_LEN) != PREVIEW_KEY_LEN)
    return islet_fail (err, ISLET_E_INVALID, 0, "%s/%s is not %d bytes: remove it", srv->state_dir,
                       KEY_FILE, PREVIEW_KEY_LEN);
  return 0;
}

/* The first MAC_HEX hex digits of HMAC-SHA-256 (key, msg). */
static void
mac_hex (const struct srv *srv, const char *msg, char out[MAC_HEX + 1])
{
  static const char digits[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;

  if (HMAC (EVP_sha256 (), srv->preview_key, PREVIEW_KEY_LEN, (const unsigned char *) msg,
            strlen (msg), md, &n)
          == NULL
      || n < MAC_HEX / 2)
    abort (); /* cannot fail on a valid digest and memory */
  for (int i = 0; i < MAC_HEX / 2; i++)
    {
      out[2 * i] = digits[md[i] >> 4];
      out[2 * i + 1] = digits[md[i] & 15];
    }
  out[MAC_HEX] = '\0';
}

void
preview_token (const struct srv *srv, const char *id, char out[PREVIEW_TOKEN_MAX])
{
  cleanup_free char *msg = islet_xasprintf ("preview-token %s", id);

  mac_hex (srv, msg, out);
}

static void
signature (const struct srv *srv, const char *id, unsigned port, int64_t expires,
           char out[MAC_HEX + 1])
{
  cleanup_free char *msg = islet_xasprintf ("signed-preview %s %u %lld", id, port,
                                            (long long) expires);

  mac_hex (srv, msg, out);
}

static bool
same (const char *a, const char *b)
{
  size_t n = strlen (a);

  return n == strlen (b) && CRYPTO_memcmp (a, b, n) == 0;
}

static int
port_parse (const char *s, size_t n, unsigned *port)
{
  unsigned v = 0;

  if (n == 0 || n > 5 || s[0] == '0')
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      if (s[i] < '0' || s[i] > '9')
        return -1;
      v = v * 10 + (unsigned) (s[i] - '0');
    }
  if (v > 65535)
    return -1;
  *port = v;
  return 0;
}

/* <server>/preview/<id>/<port>, as the caller reached us (its Host). */
static char *
preview_base (struct req *r, const char *id)
{
  cleanup_free char *tb = sb_toolbox_url (r); /* <server>/toolbox */
  size_t n = strlen (tb) - strlen ("/toolbox");

  return islet_xasprintf ("%.*s/preview/%s", (int) n, tb, id);
}

/* A preview's URL: http://<port>-<id>.<domain>[:<isletd's port>] with
 * --preview-domain (the scheme and the port as the caller reached us), else
 * <server>/preview/<id>/<port>; sig: a signed URL's token, or NULL. */
static char *
preview_url (struct req *r, const char *id, unsigned port, const char *sig)
{
  cleanup_free char *base = NULL;
  cleanup_free char *tb = NULL;
  const char *hostport, *colon;

  if (r->srv->preview_domain == NULL)
    {
      base = preview_base (r, id);
      return sig ? islet_xasprintf ("%s/%u.%s", base, port, sig)
                 : islet_xasprintf ("%s/%u", base, port);
    }
  tb = sb_toolbox_url (r);
  hostport = strstr (tb, "://");
  hostport = hostport ? hostport + 3 : tb;
  tb[strcspn (tb, ":")] = '\0'; /* the scheme */
  colon = strrchr (hostport, ':');
  if (colon && strchr (colon, ']') == NULL)
    *(char *) (colon + strcspn (colon, "/")) = '\0';
  else
    colon = "";
  return islet_xasprintf ("%s://%u-%s.%s%s%s%s", tb, port, id, r->srv->preview_domain, colon,
                          sig ? "/?" AUTH_PARAM "=" : "", sig ? sig : "");
}

static int
request_port (struct req *r, unsigned *port, struct resp *out)
{
  const char *p = r->params[1];

  if (port_parse (p, strlen (p), port) < 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "port `%s` is not a port number (1 to 65535)", p);
      return -1;
    }
  return 0;
}

void
api_sandbox_preview_url (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free char *url = NULL;
  char token[PREVIEW_TOKEN_MAX];
  unsigned port;

  if (sb_open (r, r->params[0], &sb, out) < 0 || request_port (r, &port, out) < 0)
    return;
  preview_token (r->srv, sb.info.id, token);
  url = preview_url (r, sb.info.id, port, NULL);
  reply_json (out, 200,
              json_pack ("{s:s,s:s,s:s}", "sandboxId", sb.info.id, "url", url, "token", token));
}

void
api_sandbox_signed_preview_url (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free char *url = NULL;
  cleanup_free char *token = NULL;
  const char *q = req_query (r, "expiresInSeconds");
  uint64_t secs = SIGNED_DEFAULT_S;
  char mac[MAC_HEX + 1];
  struct islet_err err;
  unsigned port;
  int64_t expires;

  if (sb_open (r, r->params[0], &sb, out) < 0 || request_port (r, &port, out) < 0)
    return;
  if (q && (islet_parse_u64 (q, SIGNED_MAX_S, &secs, &err) < 0 || secs == 0))
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "expiresInSeconds `%s` is not a number of seconds from 1 to %d", q,
                   SIGNED_MAX_S);
      return;
    }
  expires = now_s () + (int64_t) secs;
  signature (r->srv, sb.info.id, port, expires, mac);
  token = islet_xasprintf ("%lld.%s", (long long) expires, mac);
  url = preview_url (r, sb.info.id, port, token);
  reply_json (out, 200,
              json_pack ("{s:s,s:i,s:s,s:s}", "sandboxId", sb.info.id, "port", (int) port, "token",
                         token, "url", url));
}

/* Daytona's updatePublicStatus: POST /api/sandbox/{id}/public/{true|false}. */
void
api_sandbox_public (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  const char *v = r->params[1];
  struct islet_err err;
  bool on = strcmp (v, "true") == 0;

  if (sb_open (r, r->params[0], &sb, out) < 0)
    return;
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", sb.info.id);
  if (!on && strcmp (v, "false") != 0)
    {
      reply_error (out, 400, "BAD_REQUEST", "isPublic `%s` is neither true nor false", v);
      return;
    }
  if (islet_store_sandbox_set_public (r->srv->store, sb.info.id, on, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  reply_json (out, 200, sb_dto (r, &sb, NULL));
}

/* Whether the n bytes at s, <expiry>.<mac>, sign (id, port): 0 with the
 * expiry and the MAC, -1 if not. */
static int
signed_parse (struct srv *srv, const char *id, unsigned port, const char *s, size_t n,
              int64_t *expires, char mac[MAC_HEX + 1])
{
  char text[64];
  struct islet_err err;
  uint64_t v;
  char *dot;

  if (n >= sizeof text)
    return -1;
  memcpy (text, s, n);
  text[n] = '\0';
  dot = strchr (text, '.');
  if (dot == NULL)
    return -1;
  *dot = '\0';
  if (islet_parse_u64 (text, INT64_MAX, &v, &err) < 0)
    return -1;
  signature (srv, id, port, (int64_t) v, mac);
  if (!same (mac, dot + 1))
    return -1;
  *expires = (int64_t) v;
  return 0;
}

/* <expiry>.<mac> after a port: 0 if it signs (id, port), has not expired
 * and was not expired by its owner, else -1 with a 403 that says which. */
static int
signed_check (struct srv *srv, const char *id, unsigned port, const char *s, size_t n,
              int64_t *until, struct resp *out)
{
  char mac[MAC_HEX + 1], when[32];
  struct islet_err err;
  int64_t expires;
  bool gone = false;

  if (signed_parse (srv, id, port, s, n, &expires, mac) < 0)
    {
      reply_error (out, 403, "FORBIDDEN",
                   "the signed preview URL's signature does not match: it was altered or is not "
                   "this server's");
      return -1;
    }
  iso_time (expires, when);
  if (expires < now_s ())
    {
      reply_error (out, 403, "FORBIDDEN", "the signed preview URL expired at %s", when);
      return -1;
    }
  if (islet_store_preview_expired (srv->store, mac, &gone, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return -1;
    }
  if (gone)
    {
      reply_error (out, 403, "FORBIDDEN",
                   "the signed preview URL was expired by its owner before its time (%s)", when);
      return -1;
    }
  if (until)
    *until = expires;
  return 0;
}

/* Daytona's expireSignedPortPreviewUrl: POST
 * /api/sandbox/{id}/ports/{port}/signed-preview-url/{token}/expire. */
void
api_sandbox_signed_preview_expire (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  const char *token = r->params[2];
  char mac[MAC_HEX + 1];
  struct islet_err err;
  int64_t expires;
  unsigned port;

  if (sb_open (r, r->params[0], &sb, out) < 0 || request_port (r, &port, out) < 0)
    return;
  snprintf (r->sandbox_id, sizeof r->sandbox_id, "%s", sb.info.id);
  if (signed_parse (r->srv, sb.info.id, port, token, strlen (token), &expires, mac) < 0)
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "token is not one of this sandbox's signed preview URLs for port %u", port);
      return;
    }
  if (islet_store_preview_expire (r->srv->store, mac, expires, now_s (), &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return;
    }
  reply_json (out, 200, json_object ());
}

bool
preview_domain_ok (const char *s)
{
  size_t n = strlen (s);

  return n > 0 && n < 200 && s[0] != '.' && s[0] != '-' && s[n - 1] != '.'
         && strspn (s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n && strstr (s, "..") == NULL;
}

/* The host form: Host is <port>-<id>.<domain>, with or without :<port>. */
static bool
host_parse (const struct srv *srv, const char *host, struct preview_conn *pc)
{
  const char *dash;
  size_t hn, dn;

  if (srv->preview_domain == NULL || host == NULL)
    return false;
  hn = strcspn (host, ":");
  dn = strlen (srv->preview_domain);
  dash = memchr (host, '-', hn);
  if (dash == NULL || (size_t) (dash - host) + 1 + ISLET_ID_LEN + 1 + dn != hn
      || dash[1 + ISLET_ID_LEN] != '.'
      || strncasecmp (dash + 2 + ISLET_ID_LEN, srv->preview_domain, dn) != 0
      || strspn (dash + 1, "0123456789abcdef") < ISLET_ID_LEN
      || port_parse (host, (size_t) (dash - host), &pc->port) < 0)
    return false;
  memcpy (pc->id, dash + 1, ISLET_ID_LEN);
  pc->id[ISLET_ID_LEN] = '\0';
  pc->prefix[0] = '\0';
  return true;
}

bool
preview_host (const struct srv *srv, const char *host)
{
  struct preview_conn pc;

  return host_parse (srv, host, &pc);
}

bool
preview_cookie_own (const char *pair, size_t n)
{
  size_t k = strlen (COOKIE_NAME);

  return n > k && strncmp (pair, COOKIE_NAME, k) == 0 && pair[k] == '=';
}

/* Whether tok (the sandbox's preview token, or a signed one:
 * <expiry>.<mac>) opens pc's port: 0 (*until: a signed one's expiry, else
 * 0), or -1 with a 403 in out. */
static int
token_check (struct srv *srv, const struct preview_conn *pc, const char *tok, size_t n,
             int64_t *until, struct resp *out)
{
  char want[PREVIEW_TOKEN_MAX];

  *until = 0;
  if (memchr (tok, '.', n))
    return signed_check (srv, pc->id, pc->port, tok, n, until, out);
  preview_token (srv, pc->id, want);
  if (n == strlen (want) && CRYPTO_memcmp (want, tok, n) == 0)
    return 0;
  reply_error (out, 403, "FORBIDDEN", "the preview token is not this sandbox's");
  return -1;
}

/* The host form's AUTH_PARAM in the query: its value (at *tok, *n bytes),
 * and rest without it in pc->rest_owned.  False when there is none. */
static bool
query_token (struct preview_conn *pc, const char **tok, size_t *n)
{
  const char *q = strchr (pc->rest, '?'), *p;
  size_t k = strlen (AUTH_PARAM);
  FILE *f;
  size_t len;

  for (p = q; p; p = strchr (p + 1, '&'))
    if (strncmp (p + 1, AUTH_PARAM "=", k + 1) == 0)
      break;
  if (p == NULL)
    return false;
  *tok = p + 1 + k + 1;
  *n = strcspn (*tok, "&#");
  f = open_memstream (&pc->rest_owned, &len);
  if (f == NULL)
    abort ();
  /* the target up to the parameter, then what follows it, without its & */
  fprintf (f, "%.*s", (int) (p - pc->rest) + (p == q), pc->rest);
  fputs ((*tok)[*n] == '&' && p == q ? *tok + *n + 1 : *tok + *n, f);
  fclose (f);
  len = strlen (pc->rest_owned);
  if (len > 0 && (pc->rest_owned[len - 1] == '?' || pc->rest_owned[len - 1] == '&'))
    pc->rest_owned[len - 1] = '\0';
  pc->rest = pc->rest_owned;
  return true;
}

/* Who may pass a private sandbox's preview: the token header; in the host
 * form also AUTH_PARAM in the query (then set as a cookie of that host, for
 * the page's own requests) or that cookie.  The path form takes no cookie:
 * all its sandboxes share one origin, so one sandbox's page could send
 * another's cookie. */
static int
credentials (struct srv *srv, const struct preview_ask *ask, struct preview_conn *pc,
             const char *qtok, size_t qn, struct resp *out)
{
  const char *tok = qtok, *c = ask->cookies;
  int64_t until;
  size_t n = qn;
  int m;

  if (ask->token && *ask->token)
    return token_check (srv, pc, ask->token, strlen (ask->token), &until, out);
  if (pc->prefix[0])
    goto none;
  if (qtok)
    {
      if (token_check (srv, pc, tok, n, &until, out) < 0)
        return -1;
      /* a valid token is hex, digits and a dot: nothing to escape */
      m = snprintf (pc->set_cookie, sizeof pc->set_cookie,
                    COOKIE_NAME "=%.*s; Path=/; HttpOnly; SameSite=Lax", (int) n, tok);
      if (until && m > 0 && (size_t) m < sizeof pc->set_cookie)
        snprintf (pc->set_cookie + m, sizeof pc->set_cookie - (size_t) m, "; Max-Age=%lld",
                  (long long) (until - now_s ()));
      return 0;
    }
  for (; c && *c; c += strcspn (c, ";"), c += *c == ';')
    {
      struct resp no = { .fd = -1 };
      c += strspn (c, " ");
      n = strcspn (c, ";");
      if (!preview_cookie_own (c, n))
        continue;
      tok = c + strlen (COOKIE_NAME) + 1;
      if (token_check (srv, pc, tok, (size_t) (c + n - tok), &until, &no) == 0)
        return 0;
      free (no.body);
    }
none:
  reply_error (out, 401, "UNAUTHORIZED",
               "this preview needs the sandbox's preview token: send it in the "
               "x-daytona-preview-token header, or use a signed preview URL");
  return -1;
}

/* Split /preview/<id>/<port>[.<signature>][/rest] (the raw target). */
static int
target_parse (const char *target, struct preview_conn *pc, const char **sig, size_t *sig_len)
{
  const char *p = target + strlen (PREVIEW_PREFIX);
  size_t n = strcspn (p, "/?");
  size_t digits;

  if (n != ISLET_ID_LEN || strspn (p, "0123456789abcdef") < n)
    return -1;
  memcpy (pc->id, p, n);
  pc->id[n] = '\0';
  p += n;
  if (*p != '/')
    return -1;
  p++;
  n = strcspn (p, "/?");
  digits = strspn (p, "0123456789");
  if (digits > n || port_parse (p, digits, &pc->port) < 0)
    return -1;
  *sig = NULL;
  *sig_len = 0;
  if (digits < n)
    {
      if (p[digits] != '.')
        return -1;
      *sig = p + digits + 1;
      *sig_len = n - digits - 1;
    }
  pc->rest = p + n;
  snprintf (pc->prefix, sizeof pc->prefix, "%.*s", (int) (p + n - target), target);
  return 0;
}

/* Connect fd to 127.0.0.1:port within the timeout: 0, or -1 with errno. */
static int
connect_port (int fd, unsigned port)
{
  struct sockaddr_in a = { .sin_family = AF_INET,
                           .sin_port = htons ((uint16_t) port),
                           .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  struct pollfd p = { .fd = fd, .events = POLLOUT };
  int fl = fcntl (fd, F_GETFL), e = 0;
  socklen_t len = sizeof e;

  if (fl < 0 || fcntl (fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return -1;
  if (connect (fd, (struct sockaddr *) &a, sizeof a) < 0)
    {
      if (errno != EINPROGRESS)
        return -1;
      if (poll (&p, 1, CONNECT_TIMEOUT_MS) <= 0)
        {
          errno = ETIMEDOUT;
          return -1;
        }
      if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        return -1;
      if (e != 0)
        {
          errno = e;
          return -1;
        }
    }
  return fcntl (fd, F_SETFL, fl);
}

static int
reach (struct srv *srv, struct preview_conn *pc, struct resp *out)
{
  cleanup_close int fd = -1;
  struct islet_err err;

  if (!islet_sandbox_running (srv->ctx, pc->id))
    {
      reply_error (out, 409, "CONFLICT",
                   "sandbox %s is not running: start it to open its preview on port %u", pc->id,
                   pc->port);
      return -1;
    }
  if (islet_sandbox_net_socket (srv->ctx, pc->id, &fd, &err) < 0)
    {
      if (err.kind == ISLET_E_CONFLICT)
        reply_error (out, 409, "CONFLICT", "%s", err.msg);
      else
        reply_error (out, 502, "BAD_GATEWAY", "cannot reach sandbox %s: %s", pc->id, err.msg);
      return -1;
    }
  if (connect_port (fd, pc->port) < 0)
    {
      if (errno == ECONNREFUSED)
        reply_error (out, 502, "BAD_GATEWAY", "nothing listens on port %u in sandbox %s", pc->port,
                     pc->id);
      else
        reply_error (out, 502, "BAD_GATEWAY", "cannot connect to port %u in sandbox %s: %s",
                     pc->port, pc->id, strerror (errno));
      return -1;
    }
  pc->fd = islet_take_fd (&fd);
  return 0;
}

int
preview_open (struct srv *srv, const struct preview_ask *ask, struct preview_conn *pc,
              struct resp *out)
{
  struct islet_store_sandbox row = { 0 };
  struct islet_err err;
  const char *sig = NULL, *qtok = NULL;
  size_t sig_len = 0, qn = 0;
  bool found, pub = false;
  const char *whose;

  *pc = (struct preview_conn){ .fd = -1 };
  if (host_parse (srv, ask->host, pc))
    {
      /* the host form: the path as it is, but for the token, which the app
         never sees (whether or not it is the one that lets the request in) */
      pc->rest = ask->target;
      if (!query_token (pc, &qtok, &qn))
        qtok = NULL;
    }
  else if (target_parse (ask->target, pc, &sig, &sig_len) < 0)
    {
      reply_error (out, 404, "NOT_FOUND", "no preview at %s: the form is %s<sandbox id>/<port>/",
                   ask->target, PREVIEW_PREFIX);
      return -1;
    }
  found = islet_store_sandbox_get (srv->store, pc->id, &row, &err) == 0
          && row.phase == ISLET_PHASE_READY;
  pc->key_id = row.key_id;
  islet_store_sandbox_fini (&row);
  if (found && islet_store_sandbox_public (srv->store, pc->id, &pub, &err) < 0)
    {
      reply_islet_err (out, &err, false);
      return -1;
    }
  /* a sandbox that does not exist is refused as a private one is, so a
   * link tells nobody without its token whether it exists */
  if (sig && signed_check (srv, pc->id, pc->port, sig, sig_len, NULL, out) < 0)
    return -1;
  if (!sig && !pub && credentials (srv, ask, pc, qtok, qn, out) < 0)
    return -1;
  if (!found)
    {
      reply_error (out, 404, "NOT_FOUND", "no sandbox %s", pc->id);
      return -1;
    }
  if (guard_take (srv->guard, GUARD_PROXY, pc->key_id, 1, &whose) < 0)
    {
      bool key = strcmp (whose, "this key's") == 0;
      reply_error (out, key ? 429 : 503, key ? "TOO_MANY_REQUESTS" : "SERVICE_UNAVAILABLE",
                   "%s proxied preview connections are at their limit of %llu", whose,
                   (unsigned long long) guard_limit (srv->guard, GUARD_PROXY, key));
      return -1;
    }
  pc->charged = true;
  if (reach (srv, pc, out) < 0)
    {
      preview_close (srv, pc);
      return -1;
    }
  /* traffic to a preview is activity: the reaper's idle clock restarts */
  (void) !islet_store_sandbox_touch (srv->store, pc->id, &err);
  return 0;
}

/* Proxied requests in /metrics under this route, one series per status. */
static const struct route proxied_route = { .method = "ANY",
                                            .pattern = PREVIEW_PREFIX "{}/{} and <port>-<id> hosts",
                                            .audit = "preview.proxy" };

void
preview_record (struct srv *srv, const struct preview_conn *pc, int status,
                const struct resp *refused, uint64_t t0_ns)
{
  cleanup_json json_t *j = NULL;
  struct islet_audit a;
  struct islet_err err;
  uint64_t ns = islet_now_ns () - t0_ns;

  metrics_request (srv->metrics, &proxied_route, status, ns);
  /* no such sandbox: nobody's log; and a request without the right token
     writes none, or anyone could push the owner's records out of it */
  if (pc->key_id <= 0 || (refused && (status == 401 || status == 403)))
    return;
  if (refused && refused->body)
    j = json_loadb (refused->body, refused->len, 0, NULL);
  a = (struct islet_audit){
    .key_id = pc->key_id,
    .sandbox = pc->id,
    .action = proxied_route.audit,
    .status = status,
    .result = json_string_value (json_object_get (j, "message")) ?: "ok",
    .duration_ms = (int64_t) (ns / 1000000),
  };
  if (islet_store_audit_add (srv->store, &a, &err) < 0)
    fprintf (stderr, "isletd: audit %s: %s\n", a.action, err.msg);
}

void
preview_close (struct srv *srv, struct preview_conn *pc)
{
  free (pc->rest_owned);
  pc->rest_owned = NULL;
  if (pc->fd >= 0)
    close (pc->fd);
  pc->fd = -1;
  if (pc->charged && srv->guard)
    guard_give (srv->guard, GUARD_PROXY, pc->key_id, 1);
  pc->charged = false;
}
