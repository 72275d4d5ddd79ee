/* WebSocket (RFC 6455) on a connection the HTTP library hands over after
 * "101 Switching Protocols": the handshake, and framing both ways.  Only
 * what Socket.IO and followed logs need: text messages in, text and binary
 * messages out, ping/pong, close.  Every input is
 * bounded: a message over WS_MESSAGE_MAX, an unmasked client frame, a
 * reserved bit or opcode, a fragmented or long control frame end the
 * connection with the close code RFC 6455 gives for it.  Besides http.c,
 * the only file that includes the HTTP library (for the upgrade). */
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "islet/util.h"
#include "server.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_SEND_TIMEOUT_MS 5000 /* a client that reads nothing for this long is dropped */
#define WS_READ_CHUNK 16384
#define WS_SMALL_FRAME 4096 /* sent in one piece, header and payload */

enum
{
  OP_CONT = 0x0,
  OP_TEXT = 0x1,
  OP_BINARY = 0x2,
  OP_CLOSE = 0x8,
  OP_PING = 0x9,
  OP_PONG = 0xA,
};

struct ws
{
  int fd;
  struct MHD_UpgradeResponseHandle *urh;
  pthread_mutex_t send_lock; /* frames from several threads never interleave */
  bool broken;               /* under send_lock: a send failed, nothing more goes out */
  bool close_sent;
  /* bytes received and not yet parsed */
  unsigned char *in;
  size_t in_len, in_cap;
  /* the message being put together from its fragments */
  char *msg;
  size_t msg_len;
  bool in_message; /* a text message began and has not ended */
  int msg_op;
  bool binary_ok;         /* binary messages are taken (else: closed with 1003) */
  size_t max;             /* the largest message taken: WS_MESSAGE_MAX unless ws_limit */
  const char *max_reason; /* the close's reason past it */
};

/* ---- the handshake ---- */

/* Whether the comma-separated header value holds token (any case). */
static bool
has_token (const char *value, const char *token)
{
  size_t n = strlen (token);

  while (value && *value)
    {
      value += strspn (value, " \t,");
      size_t len = strcspn (value, ",");
      size_t end = len;
      while (end > 0 && (value[end - 1] == ' ' || value[end - 1] == '\t'))
        end--;
      if (end == n && strncasecmp (value, token, n) == 0)
        return true;
      value += len;
    }
  return false;
}

static enum MHD_Result
refuse (struct MHD_Connection *mc, unsigned status, const char *body)
{
  struct MHD_Response *m = MHD_create_response_from_buffer (strlen (body), (void *) body,
                                                            MHD_RESPMEM_PERSISTENT);
  enum MHD_Result ret;

  if (m == NULL)
    return MHD_NO;
  MHD_add_response_header (m, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  if (status == MHD_HTTP_UPGRADE_REQUIRED)
    MHD_add_response_header (m, "Sec-WebSocket-Version", "13");
  ret = MHD_queue_response (mc, status, m);
  MHD_destroy_response (m);
  return ret;
}

/* base64 (SHA-1 (key GUID)), RFC 6455 section 4.2.2. */
void
ws_accept_value (const char *key, char out[32])
{
  unsigned char md[SHA_DIGEST_LENGTH];
  char buf[128];

  snprintf (buf, sizeof buf, "%s%s", key, WS_GUID);
  SHA1 ((const unsigned char *) buf, strlen (buf), md);
  EVP_EncodeBlock ((unsigned char *) out, md, SHA_DIGEST_LENGTH);
}

static void on_upgraded (void *cls, struct MHD_Connection *mc, void *con_cls, const char *extra,
                         size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh);

bool
ws_path (const char *path)
{
  return strcmp (path, "/api/socket.io/") == 0 || strcmp (path, "/api/socket.io") == 0
         || strcmp (path, "/socket.io/") == 0 || strcmp (path, "/socket.io") == 0;
}

/* Who gets the WebSocket once the 101 is out. */
struct ws_target
{
  struct srv *srv;
  ws_open_fn fn;
  void *arg;
  const char *protocol; /* echoed when offered */
};

bool
ws_is_upgrade (void *conn)
{
  const char *upgrade = MHD_lookup_connection_value (conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_UPGRADE);
  return upgrade != NULL && has_token (upgrade, "websocket");
}

static void
target_free (struct ws_target *t)
{
  free (t->arg);
  free (t);
}

unsigned
ws_handshake_check (const char *method, const char *upgrade, const char *connection,
                    const char *version, const char *key)
{
  if (method == NULL || strcmp (method, "GET") != 0 || upgrade == NULL
      || !has_token (upgrade, "websocket") || connection == NULL
      || !has_token (connection, "upgrade"))
    return 400;
  if (version == NULL || strcmp (version, "13") != 0)
    return 426;
  /* 16 random bytes in base64: 24 characters */
  if (key == NULL || strlen (key) != 24)
    return 400;
  return 0;
}

/* Check the handshake and answer 101 (t then belongs to the upgrade), or
 * an error with one of the bodies (t and its arg freed). */
static int
handshake (struct MHD_Connection *mc, const char *method, struct ws_target *t,
           const char *bad_request, const char *bad_version)
{
  const char *upgrade = MHD_lookup_connection_value (mc, MHD_HEADER_KIND, "Upgrade");
  const char *connection = MHD_lookup_connection_value (mc, MHD_HEADER_KIND, "Connection");
  const char *version = MHD_lookup_connection_value (mc, MHD_HEADER_KIND, "Sec-WebSocket-Version");
  const char *key = MHD_lookup_connection_value (mc, MHD_HEADER_KIND, "Sec-WebSocket-Key");
  struct MHD_Response *m;
  enum MHD_Result ret;
  char accept[32];
  unsigned status = ws_handshake_check (method, upgrade, connection, version, key);

  if (status != 0)
    {
      target_free (t);
      return refuse (mc, status, status == MHD_HTTP_UPGRADE_REQUIRED ? bad_version : bad_request);
    }
  ws_accept_value (key, accept);
  m = MHD_create_response_for_upgrade (on_upgraded, t);
  if (m == NULL)
    {
      target_free (t);
      return MHD_NO;
    }
  MHD_add_response_header (m, MHD_HTTP_HEADER_UPGRADE, "websocket");
  MHD_add_response_header (m, MHD_HTTP_HEADER_CONNECTION, "Upgrade");
  MHD_add_response_header (m, "Sec-WebSocket-Accept", accept);
  if (t->protocol
      && has_token (MHD_lookup_connection_value (mc, MHD_HEADER_KIND, "Sec-WebSocket-Protocol"),
                    t->protocol))
    MHD_add_response_header (m, "Sec-WebSocket-Protocol", t->protocol);
  ret = MHD_queue_response (mc, MHD_HTTP_SWITCHING_PROTOCOLS, m);
  MHD_destroy_response (m);
  return ret;
}

static void
sio_open (struct srv *srv, struct ws *ws, void *arg)
{
  (void) arg;
  sio_accept (srv, ws);
}

int
ws_upgrade_to (struct srv *srv, void *conn, const char *method, const char *protocol, ws_open_fn fn,
               void *arg)
{
  struct ws_target *t = islet_xcalloc (1, sizeof *t);

  *t = (struct ws_target){ srv, fn, arg, protocol };
  return handshake (conn, method, t,
                    "{\"statusCode\":400,\"message\":\"not a WebSocket upgrade\","
                    "\"code\":\"BAD_REQUEST\"}",
                    "{\"statusCode\":426,\"message\":\"WebSocket version 13 only\","
                    "\"code\":\"BAD_REQUEST\"}");
}

/* The Socket.IO path: Engine.IO 4 over a WebSocket, nothing else (the SDK
 * forces transports: ['websocket'], so no long-polling).  Errors in
 * Engine.IO's shape ({code, message}). */
int
ws_upgrade (struct srv *srv, void *conn, const char *method)
{
  struct MHD_Connection *mc = conn;
  const char *eio = MHD_lookup_connection_value (mc, MHD_GET_ARGUMENT_KIND, "EIO");
  const char *transport = MHD_lookup_connection_value (mc, MHD_GET_ARGUMENT_KIND, "transport");
  struct ws_target *t;

  if (eio == NULL || strcmp (eio, "4") != 0)
    return refuse (mc, 400, "{\"code\":5,\"message\":\"Unsupported protocol version\"}");
  if (transport == NULL || strcmp (transport, "websocket") != 0 || strcmp (method, "GET") != 0)
    return refuse (mc, 400, "{\"code\":0,\"message\":\"Transport unknown\"}");
  t = islet_xcalloc (1, sizeof *t);
  *t = (struct ws_target){ srv, sio_open, NULL, NULL };
  return handshake (mc, method, t,
                    "{\"code\":3,\"message\":\"Bad request: not a WebSocket upgrade\"}",
                    "{\"code\":3,\"message\":\"Bad request: WebSocket version 13 only\"}");
}

/* The 101 is out: the socket is ours until MHD_UPGRADE_ACTION_CLOSE.  Runs
 * in the connection's thread, which the library ends once this returns;
 * the session gets a thread of its own. */
static void
on_upgraded (void *cls, struct MHD_Connection *mc, void *con_cls, const char *extra,
             size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
  struct ws_target *t = cls;
  struct ws *ws = islet_xcalloc (1, sizeof *ws);
  int fl = fcntl (sock, F_GETFL);

  ws->fd = sock;
  ws->urh = urh;
  ws->max = WS_MESSAGE_MAX;
  ws->max_reason = "message too big";
  pthread_mutex_init (&ws->send_lock, NULL);
  /* messages go out as they are made (a terminal's echo), not held for
     more */
  (void) setsockopt (sock, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof (int));
  if (fl >= 0)
    (void) fcntl (sock, F_SETFL, fl | O_NONBLOCK);
  if (extra_len > WS_MESSAGE_MAX)
    extra_len = 0; /* cannot be a client that waited for our answer */
  if (extra_len)
    {
      ws->in = islet_xmalloc (extra_len);
      memcpy (ws->in, extra, extra_len);
      ws->in_len = ws->in_cap = extra_len;
    }
  t->fn (t->srv, ws, t->arg);
  free (t);
}

void
ws_accept_binary (struct ws *ws)
{
  ws->binary_ok = true;
}

void
ws_peer (struct ws *ws, char out[WS_PEER_MAX])
{
  struct sockaddr_storage sa;
  socklen_t n = sizeof sa;

  if (getpeername (ws->fd, (struct sockaddr *) &sa, &n) < 0
      || getnameinfo ((struct sockaddr *) &sa, n, out, WS_PEER_MAX, NULL, 0, NI_NUMERICHOST) != 0)
    snprintf (out, WS_PEER_MAX, "?");
}

struct ws *
ws_from_fd (int fd)
{
  struct ws *ws = islet_xcalloc (1, sizeof *ws);

  ws->fd = fd;
  ws->max = WS_MESSAGE_MAX;
  ws->max_reason = "message too big";
  pthread_mutex_init (&ws->send_lock, NULL);
  return ws;
}

void
ws_free (struct ws *ws)
{
  if (ws == NULL)
    return;
  if (ws->urh)
    MHD_upgrade_action (ws->urh, MHD_UPGRADE_ACTION_CLOSE);
  else
    close (ws->fd);
  pthread_mutex_destroy (&ws->send_lock);
  free (ws->in);
  free (ws->msg);
  free (ws);
}

/* ---- sending ---- */

/* All of buf, waiting for room at most until the deadline. */
static int
send_all (struct ws *ws, const unsigned char *buf, size_t len, uint64_t deadline_ns)
{
  while (len > 0)
    {
      ssize_t n = send (ws->fd, buf, len, MSG_NOSIGNAL);
      if (n > 0)
        {
          buf += n;
          len -= (size_t) n;
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
        return -1;
      uint64_t now = islet_now_ns ();
      struct pollfd p = { .fd = ws->fd, .events = POLLOUT };
      if (now >= deadline_ns
          || (poll (&p, 1, (int) ((deadline_ns - now) / 1000000) + 1) < 0 && errno != EINTR))
        return -1;
    }
  return 0;
}

/* One unmasked frame (a server's frames are never masked).  A frame that
 * cannot go out whole leaves the stream broken: the connection is shut. */
static int
send_frame (struct ws *ws, int op, const void *data, size_t len)
{
  unsigned char head[10];
  size_t hl = 2;
  int rc = 0;

  head[0] = (unsigned char) (0x80 | op);
  if (len < 126)
    head[1] = (unsigned char) len;
  else if (len <= 0xffff)
    {
      head[1] = 126;
      head[2] = (unsigned char) (len >> 8);
      head[3] = (unsigned char) len;
      hl = 4;
    }
  else
    {
      head[1] = 127;
      for (int i = 0; i < 8; i++)
        head[2 + i] = (unsigned char) ((uint64_t) len >> (56 - 8 * i));
      hl = 10;
    }
  pthread_mutex_lock (&ws->send_lock);
  if (ws->broken || ws->close_sent)
    rc = -1;
  else
    {
      uint64_t deadline = islet_now_ns () + (uint64_t) WS_SEND_TIMEOUT_MS * 1000000;
      unsigned char one[WS_SMALL_FRAME];
      int sent;

      /* a small message in one send: two would be two segments, and a
         keystroke's echo would wait for the first one's ACK */
      if (hl + len <= sizeof one)
        {
          memcpy (one, head, hl);
          if (len)
            memcpy (one + hl, data, len);
          sent = send_all (ws, one, hl + len, deadline);
        }
      else
        sent = send_all (ws, head, hl, deadline) < 0 ? -1 : send_all (ws, data, len, deadline);
      if (sent < 0)
        {
          ws->broken = true;
          (void) shutdown (ws->fd, SHUT_RDWR);
          rc = -1;
        }
      else if (op == OP_CLOSE)
        ws->close_sent = true;
    }
  pthread_mutex_unlock (&ws->send_lock);
  return rc;
}

int
ws_send_text (struct ws *ws, const char *s, size_t len)
{
  return send_frame (ws, OP_TEXT, s, len);
}

int
ws_send_binary (struct ws *ws, const void *data, size_t len)
{
  return send_frame (ws, OP_BINARY, data, len);
}

void
ws_close (struct ws *ws, unsigned code, const char *reason)
{
  unsigned char p[125];
  size_t n = strlen (reason);

  if (n > sizeof p - 2)
    n = sizeof p - 2;
  p[0] = (unsigned char) (code >> 8);
  p[1] = (unsigned char) code;
  memcpy (p + 2, reason, n);
  (void) send_frame (ws, OP_CLOSE, p, n + 2);
  (void) shutdown (ws->fd, SHUT_WR);
}

void
ws_abort (struct ws *ws)
{
  (void) shutdown (ws->fd, SHUT_RDWR);
}

void
ws_limit (struct ws *ws, size_t max, const char *reason)
{
  ws->max = max;
  ws->max_reason = reason;
}

void
ws_linger (struct ws *ws, uint64_t deadline_ns)
{
  char buf[16384];

  /* the client may still be sending (a message refused as too big): a
     close with unread bytes would reset the connection before the client
     reads our close frame */
  for (;;)
    {
      uint64_t now = islet_now_ns ();
      struct pollfd p = { .fd = ws->fd, .events = POLLIN };
      ssize_t n;

      if (now >= deadline_ns || poll (&p, 1, (int) ((deadline_ns - now) / 1000000) + 1) <= 0)
        return;
      n = recv (ws->fd, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
        return;
    }
}

/* ---- receiving ---- */

/* A frame's header, once its bytes are in. */
struct frame
{
  bool fin;
  int op;
  size_t head_len;
  uint64_t len;
  const unsigned char *mask;
};

/* 1: a whole header in buf; 0: more bytes needed; -1: a protocol error
 * (close code in *code). */
static int
parse_head (const unsigned char *b, size_t n, size_t max, struct frame *f, unsigned *code)
{
  size_t hl = 2;

  if (n < 2)
    return 0;
  *f = (struct frame){ .fin = b[0] & 0x80, .op = b[0] & 0x0f, .len = b[1] & 0x7f };
  *code = 1002;
  if (b[0] & 0x70) /* no extension was agreed: reserved bits stay 0 */
    return -1;
  if (!(b[1] & 0x80)) /* a client masks every frame */
    return -1;
  if (f->op >= OP_CLOSE)
    {
      if (f->op > OP_PONG || !f->fin || f->len > 125)
        return -1;
    }
  else if (f->op > OP_BINARY)
    return -1;
  if (f->len == 126)
    {
      if (n < 4)
        return 0;
      f->len = (uint64_t) b[2] << 8 | b[3];
      hl = 4;
    }
  else if (f->len == 127)
    {
      if (n < 10)
        return 0;
      f->len = 0;
      for (int i = 0; i < 8; i++)
        f->len = f->len << 8 | b[2 + i];
      hl = 10;
    }
  if (f->len > max)
    {
      *code = 1009;
      return -1;
    }
  if (n < hl + 4)
    return 0;
  f->mask = b + hl;
  f->head_len = hl + 4;
  return 1;
}

/* Read more bytes, waiting until the deadline.  1: some came; 0: the
 * deadline passed; -1: the connection is over. */
static int
fill (struct ws *ws, uint64_t deadline_ns)
{
  for (;;)
    {
      uint64_t now = islet_now_ns ();
      struct pollfd p = { .fd = ws->fd, .events = POLLIN };
      int rc;

      if (now >= deadline_ns)
        return 0;
      rc = poll (&p, 1, (int) ((deadline_ns - now + 999999) / 1000000));
      if (rc < 0 && errno == EINTR)
        continue;
      if (rc < 0)
        return -1;
      if (rc == 0)
        continue;
      if (ws->in_cap - ws->in_len < WS_READ_CHUNK)
        {
          ws->in_cap = ws->in_len + WS_READ_CHUNK;
          ws->in = islet_xrealloc (ws->in, ws->in_cap);
        }
      ssize_t n = recv (ws->fd, ws->in + ws->in_len, ws->in_cap - ws->in_len, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        continue;
      if (n <= 0)
        return -1;
      ws->in_len += (size_t) n;
      return 1;
    }
}

/* Act on one whole frame (payload unmasked).  1: a message is complete in
 * ws->msg; 0: go on; -1: the connection is over (close sent). */
static int
on_frame (struct ws *ws, const struct frame *f, unsigned char *p)
{
  switch (f->op)
    {
    case OP_PING: return send_frame (ws, OP_PONG, p, (size_t) f->len) < 0 ? -1 : 0;
    case OP_PONG: return 0;
    case OP_CLOSE:
      {
        unsigned code = f->len >= 2 ? (unsigned) p[0] << 8 | p[1] : 1000;
        /* answer with the same code; a 1-byte close body is malformed */
        ws_close (ws, f->len == 1 ? 1002 : code, "");
        return -1;
      }
    case OP_CONT:
      if (!ws->in_message)
        {
          ws_close (ws, 1002, "continuation without a message");
          return -1;
        }
      break;
    default: /* text, binary */
      if (ws->in_message)
        {
          ws_close (ws, 1002, "a new message inside a fragmented one");
          return -1;
        }
      ws->in_message = true;
      ws->msg_op = f->op;
      ws->msg_len = 0;
    }
  if (ws->msg_len + f->len > ws->max)
    {
      ws_close (ws, 1009, ws->max_reason);
      return -1;
    }
  ws->msg = islet_xrealloc (ws->msg, ws->msg_len + (size_t) f->len + 1);
  memcpy (ws->msg + ws->msg_len, p, (size_t) f->len);
  ws->msg_len += (size_t) f->len;
  ws->msg[ws->msg_len] = '\0';
  if (!f->fin)
    return 0;
  ws->in_message = false;
  if (ws->msg_op == OP_BINARY && !ws->binary_ok)
    {
      ws_close (ws, 1003, "binary messages are not accepted");
      return -1;
    }
  return 1;
}

int
ws_recv (struct ws *ws, uint64_t deadline_ns, const char **msg, size_t *len)
{
  for (;;)
    {
      struct frame f;
      unsigned code;
      int rc = parse_head (ws->in, ws->in_len, ws->max, &f, &code);

      if (rc < 0)
        {
          ws_close (ws, code, code == 1009 ? ws->max_reason : "protocol error");
          return -1;
        }
      if (rc == 1 && ws->in_len - f.head_len >= f.len)
        {
          unsigned char *p = ws->in + f.head_len;
          size_t used = f.head_len + (size_t) f.len;

          for (size_t i = 0; i < f.len; i++)
            p[i] ^= f.mask[i & 3];
          rc = on_frame (ws, &f, p);
          memmove (ws->in, ws->in + used, ws->in_len - used);
          ws->in_len -= used;
          if (rc < 0)
            return -1;
          if (rc == 1)
            {
              *msg = ws->msg;
              *len = ws->msg_len;
              return 1;
            }
          continue;
        }
      if (rc == 1 && ws->in_cap < f.head_len + f.len)
        {
          ws->in_cap = f.head_len + (size_t) f.len;
          ws->in = islet_xrealloc (ws->in, ws->in_cap);
        }
      rc = fill (ws, deadline_ns);
      if (rc <= 0)
        return rc;
    }
}
