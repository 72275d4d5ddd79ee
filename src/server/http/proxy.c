/* The preview proxy: a request under /preview/<id>/<port>/ goes to that
 * port inside the sandbox (preview.c decides who may pass and makes the
 * connection), and the answer comes back as it is made.
 *
 * HTTP: the request's head goes to the port as HTTP/1.1 with
 * `Connection: close` and without the hop-by-hop headers, then its body
 * piece by piece as the library hands it over (re-chunked when the client
 * sent it chunked).  The answer's head is read whole (64 KiB at most), its
 * body is sent on as it arrives (a Content-Length, chunks or the end of the
 * connection), never held.  WebSocket (or any Upgrade): once the port
 * answers 101, the client's socket and the port's are joined both ways,
 * each direction in a thread of its own, until both are closed.
 * Only this file, http.c and websocket.c include the HTTP library. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "islet/util.h"
#include "server.h"

#define HEAD_MAX 65536
#define BUF_SIZE 65536
/* How long the port may be silent: before its answer's head, and in the
 * middle of a body or a WebSocket (a long poll, server-sent events). */
#define SILENCE_S 600
/* A write to either side that makes no progress this long ends the
 * connection. */
#define WRITE_STALL_S 60

enum framing
{
  F_NONE,    /* no body (HEAD, 1xx, 204, 304) */
  F_LENGTH,  /* Content-Length */
  F_CHUNKED, /* Transfer-Encoding: chunked, undone here (the library re-chunks) */
  F_CLOSE,   /* until the port closes */
};

struct proxy
{
  struct srv *srv;
  uint64_t t0_ns;
  struct preview_conn pc;
  bool chunked_in; /* the client's body is sent on chunked */
  bool broken;     /* the port stopped taking the request */
  char *buf;       /* bytes read from the port, not yet passed on */
  size_t pos, len;
  enum framing framing;
  uint64_t left;        /* of the body (F_LENGTH) or of the chunk (F_CHUNKED) */
  bool in_chunk;        /* F_CHUNKED: left counts a chunk's bytes */
  int status;           /* the port's answer */
  uint64_t head_length; /* a HEAD's: the Content-Length said; UINT64_MAX: none */
  char *head;           /* its header lines (NUL-terminated, in buf's first bytes) */
  size_t head_end;      /* where its body starts in buf */
};

bool
proxy_path (const struct srv *srv, void *conn, const char *target)
{
  return strncmp (target, PREVIEW_PREFIX, strlen (PREVIEW_PREFIX)) == 0
         || preview_host (srv, MHD_lookup_connection_value (conn, MHD_HEADER_KIND, "Host"));
}

static bool
stopping (struct srv *srv)
{
  return __atomic_load_n (&srv->stopping, __ATOMIC_ACQUIRE);
}

/* Wait for fd to be ready for events, in one-second steps (isletd's stop
 * is seen within one), at most limit_s: 1 ready, 0 timed out or stopping. */
static int
wait_fd (struct srv *srv, int fd, short events, int limit_s)
{
  for (int i = 0; i < limit_s && !stopping (srv); i++)
    {
      struct pollfd p = { .fd = fd, .events = events };
      int n = poll (&p, 1, 1000);
      if (n > 0)
        return 1;
      if (n < 0 && errno != EINTR)
        return 0;
    }
  return 0;
}

static int
send_all (struct srv *srv, int fd, const char *data, size_t n)
{
  while (n > 0)
    {
      ssize_t w = send (fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          if (wait_fd (srv, fd, POLLOUT, WRITE_STALL_S) <= 0)
            return -1;
          continue;
        }
      if (w <= 0)
        return -1;
      data += w;
      n -= (size_t) w;
    }
  return 0;
}

/* Read more of the port's bytes into buf: the count, 0 at its end, -1 on
 * an error or silence. */
static ssize_t
fill (struct proxy *p)
{
  ssize_t n;

  if (p->pos > 0 && p->pos == p->len)
    p->pos = p->len = 0;
  if (p->len == BUF_SIZE)
    {
      memmove (p->buf, p->buf + p->pos, p->len - p->pos);
      p->len -= p->pos;
      p->pos = 0;
    }
  if (p->len == BUF_SIZE)
    return -1;
  if (wait_fd (p->srv, p->pc.fd, POLLIN, SILENCE_S) <= 0)
    return -1;
  do
    n = recv (p->pc.fd, p->buf + p->len, BUF_SIZE - p->len, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    p->len += (size_t) n;
  return n;
}

/* ---- the request ---- */

/* Headers that belong to one connection, or to us, and are not passed on. */
static bool
hop_header (const char *name, bool upgrade)
{
  static const char *const hop[] = {
    "Connection",
    "Keep-Alive",
    "Proxy-Connection",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "Expect",
    "Proxy-Authorization",
    "x-daytona-preview-token",
  };
  for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
    if (strcasecmp (name, hop[i]) == 0)
      return true;
  return !upgrade && strcasecmp (name, "Upgrade") == 0;
}

struct head_build
{
  char *text;
  size_t len;
  FILE *f;
  bool upgrade;
};

/* A Cookie header without the preview's own cookie (its token). */
static void
cookie_header (FILE *f, const char *value)
{
  bool any = false;

  for (const char *c = value; *c; c += *c == ';')
    {
      size_t n;
      c += strspn (c, " ");
      n = strcspn (c, ";");
      if (n > 0 && !preview_cookie_own (c, n))
        {
          fprintf (f, "%s%.*s", any ? "; " : "Cookie: ", (int) n, c);
          any = true;
        }
      c += n;
    }
  if (any)
    fputs ("\r\n", f);
}

static enum MHD_Result
head_header (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
  struct head_build *b = cls;

  (void) kind;
  if (hop_header (key, b->upgrade) || strpbrk (value, "\r\n") != NULL)
    return MHD_YES;
  if (strcasecmp (key, "Cookie") == 0)
    cookie_header (b->f, value);
  else
    fprintf (b->f, "%s: %s\r\n", key, value);
  return MHD_YES;
}

/* The request's head, as the port gets it. */
static char *
request_head (struct MHD_Connection *mc, struct proxy *p, const char *method, bool upgrade,
              size_t *len)
{
  struct head_build b = { .upgrade = upgrade };
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info (mc,
                                                                MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const char *host = MHD_lookup_connection_value (mc, MHD_HEADER_KIND, "Host");
  const char *te = MHD_lookup_connection_value (mc, MHD_HEADER_KIND, "Transfer-Encoding");
  char peer[64] = "";

  b.f = open_memstream (&b.text, &b.len);
  if (b.f == NULL)
    abort ();
  fprintf (b.f, "%s %s%s HTTP/1.1\r\n", method, p->pc.rest[0] == '/' ? "" : "/", p->pc.rest);
  MHD_get_connection_values (mc, MHD_HEADER_KIND, head_header, &b);
  p->chunked_in = te && strcasestr (te, "chunked");
  if (p->chunked_in)
    fputs ("Transfer-Encoding: chunked\r\n", b.f);
  if (ci && ci->client_addr
      && getnameinfo (ci->client_addr,
                      ci->client_addr->sa_family == AF_INET6 ? sizeof (struct sockaddr_in6)
                                                             : sizeof (struct sockaddr_in),
                      peer, sizeof peer, NULL, 0, NI_NUMERICHOST)
             == 0)
    fprintf (b.f, "X-Forwarded-For: %s\r\n", peer);
  fputs ("X-Forwarded-Proto: http\r\n", b.f);
  if (p->pc.prefix[0])
    fprintf (b.f, "X-Forwarded-Prefix: %s\r\n", p->pc.prefix);
  if (host && strpbrk (host, "\r\n") == NULL)
    fprintf (b.f, "X-Forwarded-Host: %s\r\n", host);
  fprintf (b.f, "Connection: %s\r\n\r\n", upgrade ? "Upgrade" : "close");
  fclose (b.f);
  *len = b.len;
  return b.text;
}

static struct proxy *
proxy_new (struct srv *srv)
{
  struct proxy *p = islet_xcalloc (1, sizeof *p);

  p->srv = srv;
  p->t0_ns = islet_now_ns ();
  p->pc.fd = -1;
  p->buf = islet_xmalloc (BUF_SIZE);
  return p;
}

void
proxy_free (struct proxy *p)
{
  if (p == NULL)
    return;
  preview_close (p->srv, &p->pc);
  free (p->buf);
  free (p);
}

static void
proxy_free_cb (void *cls)
{
  proxy_free (cls);
}

int
proxy_begin (struct srv *srv, void *conn, const char *target, const char *method,
             struct proxy **out, struct resp *o)
{
  struct MHD_Connection *mc = conn;
  const struct preview_ask ask = {
    .host = MHD_lookup_connection_value (mc, MHD_HEADER_KIND, "Host"),
    .target = target,
    .token = MHD_lookup_connection_value (mc, MHD_HEADER_KIND, "x-daytona-preview-token"),
    .cookies = MHD_lookup_connection_value (mc, MHD_HEADER_KIND, "Cookie"),
  };
  struct proxy *p = proxy_new (srv);
  cleanup_free char *head = NULL;
  size_t len;

  *out = NULL;
  if (preview_open (srv, &ask, &p->pc, o) < 0)
    {
      preview_record (srv, &p->pc, o->status, o, p->t0_ns);
      proxy_free (p);
      return -1;
    }
  head = request_head (mc, p, method, ws_is_upgrade (mc), &len);
  if (send_all (srv, p->pc.fd, head, len) < 0)
    {
      reply_error (o, 502, "BAD_GATEWAY", "port %u of sandbox %s closed before the request",
                   p->pc.port, p->pc.id);
      preview_record (srv, &p->pc, o->status, o, p->t0_ns);
      proxy_free (p);
      return -1;
    }
  *out = p;
  return 0;
}

void
proxy_body (struct proxy *p, const char *data, size_t n)
{
  char size[24];

  if (p->broken || n == 0)
    return;
  if (p->chunked_in)
    {
      int m = snprintf (size, sizeof size, "%zx\r\n", n);
      if (send_all (p->srv, p->pc.fd, size, (size_t) m) < 0)
        p->broken = true;
    }
  if (!p->broken && send_all (p->srv, p->pc.fd, data, n) < 0)
    p->broken = true;
  if (!p->broken && p->chunked_in && send_all (p->srv, p->pc.fd, "\r\n", 2) < 0)
    p->broken = true;
}

/* ---- the answer ---- */

/* The value of a header in the head's lines (NULL: none). */
static const char *
head_value (const char *head, const char *name, char *out, size_t max)
{
  size_t n = strlen (name);

  for (const char *l = strstr (head, "\r\n"); l && l[2]; l = strstr (l + 2, "\r\n"))
    {
      const char *h = l + 2;
      if (strncasecmp (h, name, n) == 0 && h[n] == ':')
        {
          const char *v = h + n + 1;
          size_t len;
          v += strspn (v, " \t");
          len = strcspn (v, "\r");
          snprintf (out, max, "%.*s", (int) len, v);
          return out;
        }
    }
  return NULL;
}

/* Read the port's answer's head: 0, or -1 with a 502 in o. */
static int
read_head (struct proxy *p, bool head_request, struct resp *o)
{
  char *end = NULL;
  char value[64];
  unsigned status;

  for (;;)
    {
      ssize_t n;
      if (p->len >= 4)
        end = memmem (p->buf, p->len, "\r\n\r\n", 4);
      if (end)
        break;
      if (p->len >= HEAD_MAX - 1)
        {
          reply_error (o, 502, "BAD_GATEWAY", "port %u of sandbox %s answered a head over %d bytes",
                       p->pc.port, p->pc.id, HEAD_MAX);
          return -1;
        }
      n = fill (p);
      if (n <= 0)
        {
          reply_error (o, 502, "BAD_GATEWAY",
                       n == 0 ? "port %u of sandbox %s closed the connection without an answer"
                              : "port %u of sandbox %s gave no answer",
                       p->pc.port, p->pc.id);
          return -1;
        }
    }
  end[2] = '\0'; /* the head's lines, each ended by \r\n */
  p->head = p->buf;
  p->head_end = (size_t) (end - p->buf) + 4;
  p->pos = p->head_end;
  if (sscanf (p->buf, "HTTP/1.%*1[01] %3u", &status) != 1 || status < 100 || status > 599)
    {
      reply_error (o, 502, "BAD_GATEWAY", "port %u of sandbox %s did not answer in HTTP/1",
                   p->pc.port, p->pc.id);
      return -1;
    }
  p->status = (int) status;
  p->head_length = UINT64_MAX;
  if (head_request)
    {
      /* no body, but the length a GET would have, as the port said it */
      struct islet_err err;
      if (head_value (p->head, "Content-Length", value, sizeof value)
          && islet_parse_u64 (value, UINT64_MAX - 1, &p->head_length, &err) < 0)
        p->head_length = UINT64_MAX;
      p->framing = F_NONE;
    }
  else if (status < 200 || status == 204 || status == 304)
    p->framing = F_NONE;
  else if (head_value (p->head, "Transfer-Encoding", value, sizeof value)
           && strcasestr (value, "chunked"))
    p->framing = F_CHUNKED;
  else if (head_value (p->head, "Content-Length", value, sizeof value))
    {
      struct islet_err err;
      if (islet_parse_u64 (value, UINT64_MAX, &p->left, &err) < 0)
        {
          reply_error (o, 502, "BAD_GATEWAY", "port %u of sandbox %s sent a bad Content-Length",
                       p->pc.port, p->pc.id);
          return -1;
        }
      p->framing = F_LENGTH;
    }
  else
    p->framing = F_CLOSE;
  return 0;
}

/* Up to max bytes of what the port sent, no more than limit (0: none
 * left to take); -1 at an early end. */
static ssize_t
take (struct proxy *p, char *out, size_t max, uint64_t limit, bool end_ok)
{
  size_t n;

  if (p->pos == p->len)
    {
      ssize_t r = fill (p);
      if (r == 0 && end_ok)
        return 0;
      if (r <= 0)
        return -1;
    }
  n = p->len - p->pos;
  if (n > max)
    n = max;
  if (n > limit)
    n = (size_t) limit;
  memcpy (out, p->buf + p->pos, n);
  p->pos += n;
  return (ssize_t) n;
}

/* A line of the chunked framing (size or trailer) into line; -1 at an
 * early end or a line too long. */
static int
chunk_line (struct proxy *p, char *line, size_t max)
{
  for (;;)
    {
      char *nl = memchr (p->buf + p->pos, '\n', p->len - p->pos);
      if (nl)
        {
          size_t n = (size_t) (nl - (p->buf + p->pos));
          if (n >= max)
            return -1;
          memcpy (line, p->buf + p->pos, n);
          line[n] = '\0';
          if (n > 0 && line[n - 1] == '\r')
            line[n - 1] = '\0';
          p->pos += n + 1;
          return 0;
        }
      if (p->len - p->pos >= max || fill (p) <= 0)
        return -1;
    }
}

static ssize_t
produce_chunked (struct proxy *p, char *buf, size_t max)
{
  char line[256];
  ssize_t n;

  if (!p->in_chunk)
    {
      unsigned long long size;
      char *end;

      if (chunk_line (p, line, sizeof line) < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
      errno = 0;
      size = strtoull (line, &end, 16);
      if (end == line || errno)
        return MHD_CONTENT_READER_END_WITH_ERROR;
      if (size == 0)
        {
          /* trailers, up to the empty line */
          for (int i = 0; i < 64; i++)
            {
              if (chunk_line (p, line, sizeof line) < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
              if (line[0] == '\0')
                return MHD_CONTENT_READER_END_OF_STREAM;
            }
          return MHD_CONTENT_READER_END_WITH_ERROR;
        }
      p->left = size;
      p->in_chunk = true;
    }
  n = take (p, buf, max, p->left, false);
  if (n < 0)
    return MHD_CONTENT_READER_END_WITH_ERROR;
  p->left -= (uint64_t) n;
  if (p->left == 0)
    {
      p->in_chunk = false;
      if (chunk_line (p, line, sizeof line) < 0 || line[0] != '\0')
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
  return n;
}

static ssize_t
produce (void *cls, uint64_t pos, char *buf, size_t max)
{
  struct proxy *p = cls;
  ssize_t n;

  (void) pos;
  switch (p->framing)
    {
    case F_NONE: return MHD_CONTENT_READER_END_OF_STREAM;
    case F_CHUNKED: return produce_chunked (p, buf, max);
    case F_LENGTH:
      if (p->left == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
      n = take (p, buf, max, p->left, false);
      if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
      p->left -= (uint64_t) n;
      return n;
    case F_CLOSE:
      n = take (p, buf, max, SIZE_MAX, true);
      if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
      return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
    }
  return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* The port's headers onto m, but for those of its connection. */
static void
copy_headers (struct proxy *p, struct MHD_Response *m, bool upgrade)
{
  char *save = NULL;
  cleanup_free char *lines = islet_xstrdup (strstr (p->head, "\r\n") + 2);

  for (char *l = strtok_r (lines, "\r\n", &save); l; l = strtok_r (NULL, "\r\n", &save))
    {
      char *colon = strchr (l, ':');
      char *v;
      if (colon == NULL)
        continue;
      *colon = '\0';
      v = colon + 1 + strspn (colon + 1, " \t");
      if (hop_header (l, upgrade) || strcasecmp (l, "Content-Length") == 0)
        continue;
      MHD_add_response_header (m, l, v);
    }
  if (p->pc.set_cookie[0])
    MHD_add_response_header (m, "Set-Cookie", p->pc.set_cookie);
}

/* Queue the port's answer, taking p (freed with the answer). */
static enum MHD_Result
answer (struct MHD_Connection *mc, struct proxy *p)
{
  uint64_t size = p->framing == F_LENGTH ? p->left : MHD_SIZE_UNKNOWN;
  struct MHD_Response *m;
  enum MHD_Result ret;
  int status = p->status;

  preview_record (p->srv, &p->pc, status, NULL, p->t0_ns);
  if (p->framing == F_NONE)
    size = p->head_length != UINT64_MAX ? p->head_length : 0;
  m = MHD_create_response_from_callback (size, BUF_SIZE, produce, p, proxy_free_cb);
  if (m == NULL)
    {
      proxy_free (p);
      return MHD_NO;
    }
  copy_headers (p, m, false);
  MHD_set_connection_option (mc, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned) SILENCE_S);
  ret = MHD_queue_response (mc, (unsigned) status, m);
  MHD_destroy_response (m);
  return ret;
}

int
proxy_finish (struct proxy *p, void *conn, const char *method, struct resp *o)
{
  if (p->chunked_in && !p->broken && send_all (p->srv, p->pc.fd, "0\r\n\r\n", 5) < 0)
    p->broken = true;
  if (read_head (p, strcmp (method, "HEAD") == 0, o) < 0)
    {
      preview_record (p->srv, &p->pc, o->status, o, p->t0_ns);
      proxy_free (p);
      return -1;
    }
  while (p->status >= 100 && p->status < 200)
    {
      /* an interim answer (103 Early Hints): the final one follows */
      memmove (p->buf, p->buf + p->head_end, p->len - p->head_end);
      p->len -= p->head_end;
      p->pos = 0;
      if (read_head (p, strcmp (method, "HEAD") == 0, o) < 0)
        {
          preview_record (p->srv, &p->pc, o->status, o, p->t0_ns);
          proxy_free (p);
          return -1;
        }
    }
  return (int) answer (conn, p);
}

/* ---- upgraded connections ---- */

struct pump
{
  struct srv *srv;
  int from, to;
};

/* Copy from one socket to the other until the end (then the other's
 * writing side is shut, so it sees the end too) or an error (then both are
 * shut, so the other direction ends too). */
static void *
pump (void *arg)
{
  struct pump *d = arg;
  char buf[16384];

  for (;;)
    {
      ssize_t n;
      if (wait_fd (d->srv, d->from, POLLIN, SILENCE_S) <= 0)
        break;
      n = recv (d->from, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n == 0)
        {
          shutdown (d->to, SHUT_WR);
          return NULL;
        }
      if (n < 0 || send_all (d->srv, d->to, buf, (size_t) n) < 0)
        break;
    }
  shutdown (d->from, SHUT_RDWR);
  shutdown (d->to, SHUT_RDWR);
  return NULL;
}

static void
on_upgraded (void *cls, struct MHD_Connection *mc, void *con_cls, const char *extra,
             size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
  struct proxy *p = cls;
  struct srv *srv = p->srv;
  struct pump up = { p->srv, sock, p->pc.fd }, down = { p->srv, p->pc.fd, sock };
  pthread_t t;
  bool both;

  (void) mc;
  (void) con_cls;
  /* what either side sent past its head goes first */
  if ((extra_len == 0 || send_all (p->srv, p->pc.fd, extra, extra_len) == 0)
      && (p->pos == p->len || send_all (p->srv, sock, p->buf + p->pos, p->len - p->pos) == 0))
    {
      both = pthread_create (&t, NULL, pump, &down) == 0;
      pump (&up);
      if (both)
        pthread_join (t, NULL);
    }
  MHD_upgrade_action (urh, MHD_UPGRADE_ACTION_CLOSE);
  proxy_free (p);
  srv_stream_end (srv);
}

int
proxy_upgrade (struct srv *srv, void *conn, const char *target, const char *method)
{
  struct MHD_Connection *mc = conn;
  struct resp o = { .fd = -1 };
  struct proxy *p = NULL;
  struct MHD_Response *m;
  enum MHD_Result ret;

  if (proxy_begin (srv, mc, target, method, &p, &o) < 0 || read_head (p, false, &o) < 0)
    {
      if (p)
        preview_record (srv, &p->pc, o.status, &o, p->t0_ns);
      proxy_free (p);
      m = MHD_create_response_from_buffer (o.len, o.body, MHD_RESPMEM_MUST_FREE);
      if (m == NULL)
        {
          free (o.body);
          return MHD_NO;
        }
      MHD_add_response_header (m, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
      ret = MHD_queue_response (mc, (unsigned) o.status, m);
      MHD_destroy_response (m);
      return ret;
    }
  if (p->status != 101)
    return answer (mc, p);                           /* the port refused the upgrade: its answer */
  preview_record (srv, &p->pc, 101, NULL, p->t0_ns); /* one record per connection */
  m = MHD_create_response_for_upgrade (on_upgraded, p);
  if (m == NULL)
    {
      proxy_free (p);
      return MHD_NO;
    }
  copy_headers (p, m, true);
  MHD_add_response_header (m, MHD_HTTP_HEADER_CONNECTION, "Upgrade");
  srv_stream_begin (srv);
  ret = MHD_queue_response (mc, MHD_HTTP_SWITCHING_PROTOCOLS, m);
  MHD_destroy_response (m);
  if (ret != MHD_YES)
    {
      /* the 101 never goes out, nor on_upgraded runs */
      proxy_free (p);
      srv_stream_end (srv);
    }
  return ret;
}
