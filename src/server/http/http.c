/* The HTTP side, on libmicrohttpd: the only file that includes it.  A
 * request goes: auth and route (before any body is read, so a bad key or an
 * oversized Content-Length is refused at once), then the body: into memory
 * for a JSON route, which then runs its handler; piece by piece into a
 * streaming route's sink (uploads), through the library's multipart parser
 * (MHD_PostProcessor) when the body is multipart/form-data. */
#include <ctype.h>
#include <netdb.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "islet/util.h"
#include "server.h"
#include "toolbox.h"

/* After a refusal the rest of the body is read and dropped, so the client
 * gets the answer; past this much, the connection is closed instead. */
#define DISCARD_MAX ((uint64_t) 16 << 20)
#define FORM_BUFFER 65536

/* A request's headers must be in within HEADER_TIMEOUT_S of the connection
 * (or IDLE_TIMEOUT_S of the previous answer on a kept-alive one), a body
 * held in memory within BODY_TIMEOUT_S of its headers, whatever trickle
 * keeps the connection busy meanwhile (guard.c); IDLE_TIMEOUT_S is the
 * library's own, for silence.  A running handler or an upgraded connection
 * has no deadline. */
#define HEADER_TIMEOUT_S 10
#define IDLE_TIMEOUT_S 30
#define BODY_TIMEOUT_S 60
/* A streamed answer (a pipe written by a command's thread) may be silent
 * as long as its command is; the library counts that as idleness, so such
 * a connection gets this instead of IDLE_TIMEOUT_S. */
#define STREAM_IDLE_S 600
#define CONN_MAX_DEFAULT 1024
#define CONN_PER_CLIENT_DEFAULT 128

struct http
{
  struct MHD_Daemon *d;
  struct srv *srv;
  struct guard *guard;
};

struct conn
{
  struct http *h;
  struct req req;
  struct resp resp;
  const struct route *rt;
  bool fresh;    /* made by on_target: the handler has not seen it yet */
  int control;   /* the first control byte of the target, -1: none */
  bool answered; /* resp was decided before the body: send it */
  bool refused;  /* the body is dropped from here on; resp is decided */
  uint64_t max, len, dropped;
  char *buf; /* the body of a JSON route */
  size_t cap;
  uint64_t charged; /* of the body budget (guard.c) */
  /* a streaming route */
  void *sink_state; /* non-NULL until the sink's end */
  struct MHD_PostProcessor *form;
  bool sink_refused; /* the sink took no more (its end decides the answer) */
  uint64_t t0_ns;
  char *target;        /* as it came: path and query, not decoded */
  bool proxied;        /* a preview's request (proxy.c) */
  struct proxy *proxy; /* its way to the port, until the answer takes it */
};

const char *
req_query (const struct req *r, const char *name)
{
  return MHD_lookup_connection_value (r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_walk
{
  int (*fn) (const char *name, const char *value, void *user);
  void *user;
  int rc;
};

static enum MHD_Result
query_one (void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size, const char *value,
           size_t value_size)
{
  struct query_walk *w = cls;

  (void) kind;
  (void) key_size;
  (void) value_size; /* a NUL inside was refused with the target (on_target) */
  w->rc = w->fn (key, value, w->user);
  return w->rc < 0 ? MHD_NO : MHD_YES;
}

int
req_query_each (const struct req *r, int (*fn) (const char *name, const char *value, void *user),
                void *user)
{
  struct query_walk w = { fn, user, 0 };

  MHD_get_connection_values_n (r->conn, MHD_GET_ARGUMENT_KIND, query_one, &w);
  return w.rc;
}

const char *
req_header (const struct req *r, const char *name)
{
  return MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND, name);
}

/* The sink's end, once; complete false leaves resp as it is. */
static void
sink_end (struct conn *c, bool complete)
{
  if (c->form)
    {
      MHD_destroy_post_processor (c->form);
      c->form = NULL;
    }
  if (c->sink_state == NULL)
    return;
  c->rt->sink->end (islet_take_ptr (&c->sink_state), complete, &c->resp);
  route_audit (c->rt, &c->req, &c->resp, c->t0_ns);
}

static uint64_t
deadline (unsigned s)
{
  return islet_now_ns () + (uint64_t) s * 1000000000;
}

/* The guard's watch of the connection of mc (NULL: none). */
static struct guard_conn *
watch_of (struct MHD_Connection *mc)
{
  const union MHD_ConnectionInfo *i = MHD_get_connection_info (mc,
                                                               MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return i ? i->socket_context : NULL;
}

static void
on_connection (void *cls, struct MHD_Connection *mc, void **socket_context,
               enum MHD_ConnectionNotificationCode code)
{
  struct http *h = cls;

  if (code == MHD_CONNECTION_NOTIFY_STARTED)
    {
      const union MHD_ConnectionInfo *i = MHD_get_connection_info (
          mc, MHD_CONNECTION_INFO_CONNECTION_FD);
      *socket_context = guard_conn_add (h->guard, i ? i->connect_fd : -1,
                                        deadline (HEADER_TIMEOUT_S));
    }
  else if (*socket_context)
    guard_conn_del (h->guard, islet_take_ptr (socket_context));
}

static void
conn_free (struct conn *c)
{
  if (c->sink_state)
    {
      reply_error (&c->resp, 499, "CLIENT_CLOSED",
                   "the client went away before the end of the body");
      sink_end (c, false);
    }
  if (c->resp.fd >= 0)
    close (c->resp.fd);
  if (c->resp.produce)
    c->resp.produce_free (c->resp.produce_state);
  guard_give (c->h->guard, GUARD_BODY, c->req.key_id, c->charged);
  free (c->buf);
  free (c->resp.body);
  free (c->resp.content_type_owned);
  free (c->resp.extra_header_name);
  free (c->resp.extra_header_value);
  free (c->req.param_buf);
  free (c->target);
  proxy_free (c->proxy);
  free (c);
}

static void
on_completed (void *cls, struct MHD_Connection *mc, void **con_cls,
              enum MHD_RequestTerminationCode toe)
{
  struct http *h = cls;

  /* an ordinary request is over (an upgrade leaves con_cls NULL): the next
   * one on this connection has its own deadline */
  if (*con_cls)
    {
      guard_conn_deadline (h->guard, watch_of (mc), deadline (IDLE_TIMEOUT_S));
      conn_free (*con_cls);
    }
  *con_cls = NULL;
}

struct producer
{
  ssize_t (*fn) (void *state, char *buf, size_t max);
  void (*free) (void *state);
  void *state;
};

static ssize_t
on_produce (void *cls, uint64_t pos, char *buf, size_t max)
{
  struct producer *p = cls;
  ssize_t n = p->fn (p->state, buf, max);

  if (n < 0)
    return MHD_CONTENT_READER_END_WITH_ERROR;
  return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void
on_produce_end (void *cls)
{
  struct producer *p = cls;

  p->free (p->state);
  free (p);
}

static enum MHD_Result
send_resp (struct MHD_Connection *mc, struct resp *o)
{
  struct MHD_Response *m;
  enum MHD_Result ret;

  if (o->fd >= 0 && o->streamed)
    MHD_set_connection_option (mc, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned) STREAM_IDLE_S);
  if (o->produce)
    {
      struct producer *p = islet_xmalloc (sizeof *p);

      *p = (struct producer){ o->produce, o->produce_free, o->produce_state };
      m = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, 65536, on_produce, p,
                                             on_produce_end);
      if (m)
        o->produce = NULL; /* the library frees it */
      else
        free (p);
    }
  else if (o->fd >= 0 && o->streamed)
    {
      m = MHD_create_response_from_pipe (o->fd);
      if (m)
        o->fd = -1; /* the library closes it */
    }
  else if (o->fd >= 0)
    {
      m = MHD_create_response_from_fd64 (o->fd_len, o->fd);
      if (m)
        o->fd = -1; /* the library closes it */
    }
  else
    {
      m = MHD_create_response_from_buffer (o->len, o->body ? o->body : (char *) "",
                                           o->body ? MHD_RESPMEM_MUST_FREE
                                                   : MHD_RESPMEM_PERSISTENT);
      if (m)
        o->body = NULL;
    }
  if (m == NULL)
    return MHD_NO;
  if (o->content_type_owned || o->content_type)
    MHD_add_response_header (m, MHD_HTTP_HEADER_CONTENT_TYPE,
                             o->content_type_owned ? o->content_type_owned : o->content_type);
  if (o->extra_header_name)
    MHD_add_response_header (m, o->extra_header_name, o->extra_header_value);
  if (o->audit_error[0])
    MHD_add_response_header (m, "X-Islet-Audit-Error", o->audit_error);
  ret = MHD_queue_response (mc, (unsigned) (o->status ? o->status : 200), m);
  MHD_destroy_response (m);
  return ret;
}

/* A form field's piece from the library's multipart parser, to the sink. */
static enum MHD_Result
on_form_piece (void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
               const char *content_type, const char *transfer_encoding, const char *data,
               uint64_t off, size_t size)
{
  struct conn *c = cls;

  if (c->rt->sink->piece (c->sink_state, key ? key : "", filename, data, off, size) < 0)
    {
      c->sink_refused = true;
      return MHD_NO;
    }
  return MHD_YES;
}

/* A streaming route, on the headers: the sink's begin, and the multipart
 * parser when the body is a form. */
static void
begin_sink (struct conn *c)
{
  const char *ct = req_header (&c->req, MHD_HTTP_HEADER_CONTENT_TYPE);

  c->t0_ns = islet_now_ns ();
  if (c->rt->sink->begin (&c->req, &c->resp, &c->sink_state, &c->max) < 0)
    {
      c->sink_state = NULL;
      route_audit (c->rt, &c->req, &c->resp, c->t0_ns);
      c->answered = true;
      return;
    }
  if (ct && strncasecmp (ct, "multipart/form-data", 19) == 0)
    {
      c->form = MHD_create_post_processor (c->req.conn, FORM_BUFFER, on_form_piece, c);
      if (c->form == NULL)
        {
          reply_error (&c->resp, 400, "BAD_REQUEST", "multipart body without a boundary");
          sink_end (c, false);
          c->answered = true;
        }
    }
}

/* Room for want bytes of a body held in memory, charged to the key's
 * budget; -1: refused, the answer in resp. */
static int
body_reserve (struct conn *c, uint64_t want)
{
  const char *which;

  if (want <= c->cap)
    return 0;
  if (guard_take (c->h->guard, GUARD_BODY, c->req.key_id, want - c->cap, &which) < 0)
    {
      bool key = strcmp (which, "this key's") == 0;
      reply_error (&c->resp, key ? 429 : 503, key ? "TOO_MANY_REQUESTS" : "SERVICE_UNAVAILABLE",
                   "%s request bodies held in memory are at their limit of %llu bytes; try "
                   "again when a request is over",
                   which, (unsigned long long) guard_limit (c->h->guard, GUARD_BODY, key));
      return -1;
    }
  c->charged += want - c->cap;
  c->buf = islet_xrealloc (c->buf, want);
  c->cap = want;
  return 0;
}

/* First call: headers only.  Decide everything that needs no body. */
static void
begin (struct conn *c)
{
  const char *cl;
  uint64_t n = 0;
  struct islet_err ignored;

  if (c->control >= 0)
    {
      reply_error (&c->resp, 400, "BAD_REQUEST",
                   "the request's path or query holds the control byte 0x%02x: no path, name or "
                   "sandbox reference may hold one",
                   (unsigned) c->control);
      c->answered = true;
      return;
    }
  /* object storage's S3 requests are signed with its own credentials
     (object_storage_s3.c checks them in the route's begin) */
  if (object_storage_path (c->req.path))
    c->rt = &object_storage_route;
  else if (route_auth (&c->req, &c->resp) < 0)
    {
      c->answered = true;
      return;
    }
  else
    c->rt = route_find (c->req.method, c->req.path, &c->req);
  if (c->rt == NULL)
    {
      reply_error (&c->resp, 404, "NOT_FOUND", "no route %s %s", c->req.method, c->req.path);
      c->answered = true;
      return;
    }
  c->max = c->rt->max_body;
  if (c->rt->sink)
    begin_sink (c);
  if (c->answered)
    return;
  cl = req_header (&c->req, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl && islet_parse_u64 (cl, UINT64_MAX, &n, &ignored) == 0 && n > c->max)
    {
      reply_error (&c->resp, 413, "PAYLOAD_TOO_LARGE", "the body is %s bytes, the limit is %llu",
                   cl, (unsigned long long) c->max);
      sink_end (c, false);
      c->answered = true;
      return;
    }
  if (c->rt->sink)
    return;
  /* a body said to come is reserved whole now, so a refusal comes before
   * any of it is read; one without a length is charged as it comes */
  if (cl && n > 0 && body_reserve (c, n + 1) < 0)
    {
      c->answered = true;
      return;
    }
  guard_conn_deadline (c->h->guard, watch_of (c->req.conn), deadline (BODY_TIMEOUT_S));
}

/* Refuse the rest of the body: the answer is in resp (or the sink's end
 * will decide it). */
static void
refuse (struct conn *c, int status, const char *code, const char *msg)
{
  if (status)
    {
      reply_error (&c->resp, status, code, "%s", msg);
      sink_end (c, false);
    }
  c->refused = true;
}

/* Take a piece of the body: into memory, or to the sink. */
static void
take_body (struct conn *c, const char *data, size_t n)
{
  if (c->len + n > c->max)
    {
      char msg[96];
      snprintf (msg, sizeof msg, "the body is over the limit of %llu bytes",
                (unsigned long long) c->max);
      refuse (c, 413, "PAYLOAD_TOO_LARGE", msg);
      return;
    }
  if (c->rt->sink == NULL)
    {
      if (c->len + n + 1 > c->cap)
        {
          uint64_t want = (c->len + n + 1) * 2;
          if (body_reserve (c, want < c->max + 1 ? want : c->max + 1) < 0)
            {
              sink_end (c, false);
              c->refused = true;
              return;
            }
        }
      memcpy (c->buf + c->len, data, n);
    }
  else if (c->form)
    {
      if (MHD_post_process (c->form, data, n) != MHD_YES)
        {
          if (c->sink_refused)
            refuse (c, 0, NULL, NULL);
          else
            refuse (c, 400, "BAD_REQUEST", "malformed multipart body");
        }
    }
  else if (c->rt->sink->piece (c->sink_state, NULL, NULL, data, c->len, n) < 0)
    refuse (c, 0, NULL, NULL);
  c->len += n;
}

/* The whole body is in: answer. */
static void
finish (struct conn *c)
{
  if (c->rt->sink)
    {
      if (c->sink_state && c->form && !c->refused)
        {
          enum MHD_Result ok = MHD_destroy_post_processor (c->form);
          c->form = NULL;
          if (ok != MHD_YES && !c->sink_refused)
            refuse (c, 400, "BAD_REQUEST", "malformed multipart body");
        }
      sink_end (c, true);
      return;
    }
  guard_conn_deadline (c->h->guard, watch_of (c->req.conn), 0);
  if (c->refused)
    return;
  if (c->buf == NULL)
    c->buf = islet_xcalloc (1, 1);
  c->buf[c->len] = '\0';
  c->req.body = c->buf;
  c->req.body_len = c->len;
  route_run (c->rt, &c->req, &c->resp);
}

/* A refusal said on the WebSocket (struct ws_route's refuse). */
struct ws_refusal
{
  void (*refuse) (struct ws *ws, const char *message);
  char message[];
};

static void *
ws_refusal (const struct ws_route *rt, const struct resp *o)
{
  cleanup_json json_t *body = o->body ? json_loadb (o->body, o->len, 0, NULL) : NULL;
  const char *msg = json_string_value (json_object_get (body, "message"));
  struct ws_refusal *f;

  if (msg == NULL)
    msg = "refused";
  f = islet_xmalloc (sizeof *f + strlen (msg) + 1);
  f->refuse = rt->refuse;
  strcpy (f->message, msg);
  return f;
}

static void
ws_refused (struct srv *srv, struct ws *ws, void *arg)
{
  struct ws_refusal *f = arg;

  (void) srv;
  f->refuse (ws, f->message);
  free (f);
}

/* A WebSocket request other than Socket.IO's: the key and the route are
 * checked as for any request (a WebSocket is a GET; the handshake refuses
 * another method), then the route's ws begin decides. */
static enum MHD_Result
ws_route (struct srv *srv, struct MHD_Connection *mc, const char *url, const char *method)
{
  struct req r = { .srv = srv, .method = method, .path = url, .conn = mc };
  struct resp o = { .fd = -1 };
  const struct ws_route *rt = NULL;
  ws_open_fn fn = NULL;
  void *arg = NULL;
  enum MHD_Result ret;
  int rc = -1;

  rt = route_find_ws (url, &r);
  if (rt == NULL)
    reply_error (&o, 404, "NOT_FOUND", "no WebSocket at %s", url);
  else if (route_auth (&r, &o) == 0)
    rc = rt->begin (&r, &o, &fn, &arg);
  if (rc == 0)
    ret = (enum MHD_Result) ws_upgrade_to (srv, mc, method, rt->protocol, fn, arg);
  else if (rt && rt->refuse)
    ret = (enum MHD_Result) ws_upgrade_to (srv, mc, method, rt->protocol, ws_refused,
                                           ws_refusal (rt, &o));
  else
    ret = send_resp (mc, &o);
  free (o.body);
  free (r.param_buf);
  return ret;
}

static int
hex_digit (char h)
{
  return h >= '0' && h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10;
}

/* The first control byte (below 0x20, or 0x7f) of a request's target, raw or
 * percent-encoded; -1 if none.  The library decodes the path and the query
 * values into C strings, so an encoded NUL would cut them short (a delete of
 * "important%00.bak" would remove "important"), and no path, name or
 * reference has a use for the other control bytes: the request is refused
 * before anything else, whatever its route. */
static int
target_control (const char *target)
{
  for (const char *p = target; *p; p++)
    {
      int c = (unsigned char) *p;

      if (c == '%' && isxdigit ((unsigned char) p[1]) && isxdigit ((unsigned char) p[2]))
        c = hex_digit (p[1]) * 16 + hex_digit (p[2]);
      if (c < 0x20 || c == 0x7f)
        return c;
    }
  return -1;
}

/* Called by the library with each request's target as it came (path and
 * query, not yet decoded); what it returns is the handler's *con_cls. */
static void *
on_target (void *cls, const char *target, struct MHD_Connection *mc)
{
  struct conn *c = islet_xcalloc (1, sizeof *c);

  (void) mc;
  c->h = cls;
  c->resp.fd = -1;
  c->fresh = true;
  c->control = target_control (target);
  c->target = islet_xstrdup (target);
  return c;
}

/* A preview's request (proxy.c): no API key, the preview's own checks;
 * its body goes to the port as it comes, and the port's answer back. */
static enum MHD_Result
proxied (struct http *h, struct MHD_Connection *mc, void **con_cls, const char *method,
         const char *upload_data, size_t *upload_data_size)
{
  struct conn *c = *con_cls;
  int rc;

  if (c->fresh)
    {
      c->fresh = false;
      if (ws_is_upgrade (mc))
        {
          /* as any upgrade, it keeps no conn: its deadline must not come */
          cleanup_free char *target = islet_take_ptr (&c->target);
          conn_free (c);
          *con_cls = NULL;
          return (enum MHD_Result) proxy_upgrade (h->srv, mc, target, method);
        }
      c->proxied = true;
      if (proxy_begin (h->srv, mc, c->target, method, &c->proxy, &c->resp) < 0)
        {
          c->answered = true;
          return send_resp (mc, &c->resp);
        }
      return MHD_YES;
    }
  if (*upload_data_size)
    {
      if (c->proxy)
        proxy_body (c->proxy, upload_data, *upload_data_size);
      *upload_data_size = 0;
      return MHD_YES;
    }
  if (c->answered || c->proxy == NULL)
    return send_resp (mc, &c->resp);
  c->answered = true;
  rc = proxy_finish (islet_take_ptr (&c->proxy), mc, method, &c->resp);
  return rc < 0 ? send_resp (mc, &c->resp) : (enum MHD_Result) rc;
}

static enum MHD_Result
on_request (void *cls, struct MHD_Connection *mc, const char *url, const char *method,
            const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
  struct http *h = cls;
  struct srv *srv = h->srv;
  struct conn *c = *con_cls;

  if (c == NULL) /* not through on_target: checked there, never NULL */
    *con_cls = c = on_target (h, "", mc);
  /* the headers are in: no deadline while the request is decided */
  if (c->fresh)
    guard_conn_deadline (h->guard, watch_of (mc), 0);
  if ((c->fresh && c->control < 0 && proxy_path (srv, mc, c->target)) || c->proxied)
    return proxied (h, mc, con_cls, method, upload_data, upload_data_size);
  if (c->fresh && c->control < 0 && (ws_path (url) || ws_is_upgrade (mc)))
    {
      /* an upgrade keeps no conn (con_cls NULL): its thread or ws_route answers */
      conn_free (c);
      *con_cls = NULL;
      /* the Socket.IO endpoint: a WebSocket upgrade, its key checked later
       * (it comes in the first Socket.IO packet) */
      if (ws_path (url))
        return (enum MHD_Result) ws_upgrade (srv, mc, method);
      return ws_route (srv, mc, url, method);
    }
  if (c->fresh)
    {
      c->fresh = false;
      c->req = (struct req){
        .srv = srv, .method = method, .path = url, .target = c->target, .conn = mc
      };
      begin (c);
      /* answering now, before the body: the library skips "100 Continue" and
       * closes the connection instead of reading what is left */
      return c->answered ? send_resp (mc, &c->resp) : MHD_YES;
    }
  if (*upload_data_size)
    {
      size_t n = *upload_data_size;

      *upload_data_size = 0;
      if (!c->refused)
        take_body (c, upload_data, n);
      else if ((c->dropped += n) > DISCARD_MAX)
        return MHD_NO;
      return MHD_YES;
    }
  if (!c->answered)
    finish (c);
  return send_resp (mc, &c->resp);
}

int
http_start (struct srv *srv, const char *host, const char *port, struct http **out,
            struct islet_err *err)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
  struct addrinfo *ai = NULL;
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL
                   | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE;
  struct http *h;
  struct rlimit nofile;
  unsigned conn_max = srv->conn_max ? srv->conn_max : CONN_MAX_DEFAULT;
  unsigned per_client = srv->conn_per_client ? srv->conn_per_client : CONN_PER_CLIENT_DEFAULT;
  int rc;

  /* a connection takes two descriptors (its socket and the guard's dup)
   * and a sandbox call a few more */
  if (getrlimit (RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max)
    {
      nofile.rlim_cur = nofile.rlim_max;
      (void) setrlimit (RLIMIT_NOFILE, &nofile);
    }
  rc = getaddrinfo (host, port, &hints, &ai);
  if (rc != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "--listen: cannot resolve `%s`: %s", host,
                       gai_strerror (rc));
  if (ai->ai_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  h = islet_xcalloc (1, sizeof *h);
  h->srv = srv;
  if (guard_new (&h->guard, srv->scratch_key_max, err) < 0)
    {
      freeaddrinfo (ai);
      free (h);
      return -1;
    }
  srv->guard = h->guard;
  h->d = MHD_start_daemon (
      flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_URI_LOG_CALLBACK, on_target, h,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_CONNECTION_LIMIT, conn_max,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_client, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned) IDLE_TIMEOUT_S, MHD_OPTION_END);
  freeaddrinfo (ai);
  if (h->d == NULL)
    {
      guard_free (h->guard);
      free (h);
      return islet_fail (err, ISLET_E_SYSTEM, 0, "cannot listen on %s:%s (in use?)", host, port);
    }
  *out = h;
  return 0;
}

int
http_port (struct http *h)
{
  const union MHD_DaemonInfo *i = MHD_get_daemon_info (h->d, MHD_DAEMON_INFO_BIND_PORT);
  return i ? (int) i->port : -1;
}

void
http_stop (struct http *h)
{
  if (h == NULL)
    return;
  MHD_stop_daemon (h->d);
  h->srv->guard = NULL;
  guard_free (h->guard);
  free (h);
}
