/* isletd: the HTTP server that speaks Daytona's API, MCP and /v1 (see
 * docs/ARCHITECTURE.md, "isletd" and "Folders").  Shared types of the
 * server's files: its transport (http/), its middle (daemon/) and its faces
 * (daytona/, v1/, mcp/).  Only the transport's http.c, websocket.c and proxy.c
 * include the HTTP library and only the store's files (store*.c, through
 * store_internal.h) include SQLite; the handlers
 * see a request and a response as the plain structs below.  One islet_ctx
 * (srv.ctx) serves every request's thread. */
#ifndef ISLET_SERVER_H
#define ISLET_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <time.h>

#include <jansson.h>

#include "islet/client.h"
#include "islet/err.h"
#include "islet/proto.h"
#include "islet/sandbox.h"
#include "owned.h"
#include "store.h"

/* A condition variable whose timed waits count on CLOCK_MONOTONIC (the
 * clock of islet_now_ns), so that a change of the wall clock neither cuts
 * a background thread's wait short nor stretches it. */
static inline void
srv_cond_init_monotonic (pthread_cond_t *c)
{
  pthread_condattr_t ca;

  pthread_condattr_init (&ca);
  pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  pthread_cond_init (c, &ca);
  pthread_condattr_destroy (&ca);
}

/* Wait on c (made by srv_cond_init_monotonic) until woken or until
 * deadline_ns, an islet_now_ns time; pthread_cond_timedwait's result. */
static inline int
srv_cond_wait_until (pthread_cond_t *c, pthread_mutex_t *m, uint64_t deadline_ns)
{
  struct timespec ts = { .tv_sec = (time_t) (deadline_ns / 1000000000ull),
                         .tv_nsec = (long) (deadline_ns % 1000000000ull) };

  return pthread_cond_timedwait (c, m, &ts);
}

struct islet_store;

struct srv
{
  char *state_dir;
  struct islet_ctx *ctx; /* the core, shared by every request's thread */
  char *url;             /* http://HOST:PORT, as printed at start */
  struct islet_store *store;
  int64_t minute_s; /* 60; shorter only in tests (ISLETD_TEST_MINUTE_SECONDS) */
  struct sio *sio;  /* the Socket.IO sessions, for events */
  /* answers still being streamed by threads of their own (v1_exec.c, and
   * followed logs): the core and the store stay open until they are done */
  pthread_mutex_t streams_lock;
  pthread_cond_t streams_done;
  int streams;
  bool stopping;            /* set (atomically) when isletd stops: followers leave */
  struct mcp_sessions *mcp; /* the sessions of /mcp (mcp_http.c) */
  struct interp *interp;    /* the interpreter's contexts (daytona/interp.c) */
  struct pulls *pulls;      /* image pulls under way (daemon/pull.c) */
  struct guard *guard;      /* budgets and deadlines (guard.c), from http_start */
  char *mcp_origins;        /* --allow-origin values, comma-separated; NULL: none */
  unsigned conn_max;        /* --max-connections; 0: http.c's default */
  unsigned conn_per_client; /* --max-client-connections (one address); 0: default */
  uint64_t scratch_key_max; /* --max-key-scratch; 0: GUARD_SCRATCH_KEY_MAX */
  /* the operator's bounds (owned.c): each key's quota where the key has
   * none of its own (--default-max-*), and each sandbox's limits
   * (--sandbox-max NAME=VALUE) */
  struct islet_quota quota_default;
  struct islet_limits ceiling;
  enum islet_net_mode net_default; /* --default-network: a create that asks for none */
  const char *preview_domain;      /* --preview-domain: previews at <port>-<id>.<it>; or NULL */
  struct metrics *metrics;         /* isletd's own counters (metrics.c); NULL: none kept */
  struct v1pool *v1pool;           /* --v1-pool (v1pool.c); NULL: none */
  struct create_pool *create_pool; /* --create-pool (owned_pool.c); NULL: none */
  unsigned char preview_key[32];   /* signs preview tokens and URLs (preview.c) */
};

#define SRV_PARAMS_MAX 3

struct req
{
  struct srv *srv;
  const char *method, *path;
  const char *target;                 /* the path and query as they came, not decoded */
  void *conn;                         /* the HTTP library's connection */
  const char *params[SRV_PARAMS_MAX]; /* path segments matched by {} */
  char *param_buf;                    /* storage of params */
  int64_t key_id;                     /* the caller's API key: its organization */
  const char *body;                   /* the request body, NUL-terminated */
  size_t body_len;
  char sandbox_id[ISLET_ID_LEN + 1]; /* the sandbox acted on, for the audit log */
  const struct route *route;         /* the route served (route_run sets it) */
};

struct resp
{
  int status;
  char *body; /* malloc'd */
  size_t len;
  int fd; /* >= 0: send this file (fd_len bytes) instead of body */
  uint64_t fd_len;
  bool streamed; /* fd is a pipe, sent chunked until its end; the handler's
                    thread writes it and records the audit itself */
  /* An answer made as it is sent, chunked, never held whole: produce puts
   * up to max bytes in buf and returns how many, 0 at the end, -1 on a
   * failure (the connection is then cut); produce_free frees its state
   * once the answer is over or was never sent. */
  ssize_t (*produce) (void *state, char *buf, size_t max);
  void (*produce_free) (void *state);
  void *produce_state;
  const char *content_type;
  char *content_type_owned; /* when the type is built (multipart boundary) */
  char *extra_header_name, *extra_header_value;
  char note[512];        /* what happened, for the audit log ("" = ok) */
  char audit_error[256]; /* the audit record could not be written: why (a header says it) */
};

/* ---- http.c ---- */
struct http;
/* Listen on host:port (port "0": any free one) and serve in threads of the
 * HTTP library (one per connection: an exec may take minutes). */
int http_start (struct srv *srv, const char *host, const char *port, struct http **out,
                struct islet_err *err) ISLET_MUST_CHECK;
int http_port (struct http *h);
void http_stop (struct http *h);
/* What a handler may ask of the request. */
const char *req_query (const struct req *r, const char *name);
const char *req_header (const struct req *r, const char *name);
/* Each query parameter in order, repeated names too (value NULL: no '=');
 * stops at fn's first -1, which it returns. */
int req_query_each (const struct req *r,
                    int (*fn) (const char *name, const char *value, void *user), void *user);

/* ---- guard.c: what a client holds while its request arrives ---- */
/* Request bodies held in memory (JSON routes) at once, per key and in all;
 * past these a request is refused (429, 503) before its body is read. */
#define GUARD_BODY_KEY_MAX ((uint64_t) 64 << 20)
#define GUARD_BODY_TOTAL_MAX ((uint64_t) 256 << 20)
/* Scratch files on the state dir's disk (spooled output, bulk downloads). */
#define GUARD_SCRATCH_KEY_MAX ((uint64_t) 1 << 30)
#define GUARD_SCRATCH_TOTAL_MAX ((uint64_t) 4 << 30)
/* Proxied preview connections (counted one each) open at once. */
#define GUARD_PROXY_KEY_MAX 128
#define GUARD_PROXY_TOTAL_MAX 512
enum guard_budget
{
  GUARD_BODY,
  GUARD_SCRATCH,
  GUARD_PROXY,
  GUARD_BUDGETS
};
struct guard;
struct guard_conn;
/* scratch_key_max: the scratch budget of a key (0: GUARD_SCRATCH_KEY_MAX) */
int guard_new (struct guard **out, uint64_t scratch_key_max,
               struct islet_err *err) ISLET_MUST_CHECK;
void guard_free (struct guard *g);
/* Watch a new connection (fd: its socket, dup'd): at deadline_ns (0: none)
 * its socket is shut, whatever its thread is doing. */
struct guard_conn *guard_conn_add (struct guard *g, int fd, uint64_t deadline_ns);
void guard_conn_deadline (struct guard *g, struct guard_conn *c, uint64_t deadline_ns);
void guard_conn_del (struct guard *g, struct guard_conn *c);
/* Connections shut at their deadline since the start. */
uint64_t guard_shut_count (struct guard *g);
/* Take n bytes of a budget for key_id: 0, or -1 with *whose saying whose
 * budget is spent ("this key's", "the server's"). */
int guard_take (struct guard *g, enum guard_budget which, int64_t key_id, uint64_t n,
                const char **whose);
void guard_give (struct guard *g, enum guard_budget which, int64_t key_id, uint64_t n);
/* A budget's limit, per key or in all. */
uint64_t guard_limit (struct guard *g, enum guard_budget which, bool key);

/* ---- spool.c: program output kept on disk for its JSON answer ---- */
struct spool;
/* A spool for r's key (an unlinked file in the state dir); NULL with a 500
 * in out. */
struct spool *spool_new (struct req *r, struct resp *out);
/* The same for key_id, NULL with err. */
struct spool *spool_open (struct srv *srv, int64_t key_id, struct islet_err *err);
void spool_free (struct spool *s);
void spool_add (struct spool *s, const char *data, size_t n);
/* An islet_output_fn; user is the spool. */
void spool_output (enum islet_stream stream, const char *data, size_t len, void *user);
/* The same with user a struct spool *[2]: stdout's, then stderr's. */
void spool_pair_output (enum islet_stream stream, const char *data, size_t len, void *user);
uint64_t spool_len (struct spool *s);
/* The last byte added, -1 if none. */
int spool_last (struct spool *s);
/* Everything added is kept: 0, or -1 with a 507 in out (the key's scratch
 * space ran out, or the disk). */
int spool_check (struct spool *s, struct resp *out);
/* The same with the error in err (ISLET_E_LIMIT, errnum ENOSPC: a 507). */
int spool_done (struct spool *s, struct islet_err *err);
enum spool_form
{
  SPOOL_TEXT,   /* as islet_json_bytes makes it: valid UTF-8 kept, each bad byte U+FFFD */
  SPOOL_BASE64, /* the exact bytes */
};
/* A JSON string that stands for s's bytes in an answer of
 * spool_reply_answer, in form: put it where the text goes (new reference).
 * It may be nested in JSON text that is itself a string of the answer (MCP's
 * content text): the bytes are then escaped as often as it is. */
json_t *spool_token (struct spool *s, enum spool_form form);
/* Answer status with answer (stolen) dumped, each token of spools[0..n)
 * replaced by its spool's bytes, made as it is sent; takes the spools
 * (NULL entries skipped; the pointers are set to NULL). */
void spool_reply_answer (struct resp *out, int status, json_t *answer, struct spool **spools,
                         size_t n);
/* Answer 200: prefix, the spooled bytes as SPOOL_TEXT, suffix, made as it
 * is sent.  Takes s and both strings (malloc'd). */
void spool_reply_json (struct spool *s, struct resp *out, char *prefix, char *suffix);
/* A spool written by the caller through its fd: reserve n bytes of the
 * key's scratch budget before writing them (-1: over it, spool_check then
 * answers 507); settle once written (the size taken from the file); the
 * answer is the file's bytes as they are, its type set by the caller. */
int spool_fd (struct spool *s);
int spool_reserve (struct spool *s, uint64_t n);
int spool_settle (struct spool *s);
void spool_reply_raw (struct spool *s, struct resp *out);
#define cleanup_spool __attribute__ ((cleanup (spool_freep)))
static inline void
spool_freep (struct spool **s)
{
  spool_free (*s);
}

/* ---- reply.c ---- */
void reply_json (struct resp *out, int status, json_t *j); /* steals j */
/* An error in the reference's shape: {statusCode, message, code, timestamp}. */
void reply_error (struct resp *out, int status, const char *code, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
/* The same with "source": "DAYTONA_DAEMON", for the SDK's daemon error codes
 * (FILE_NOT_FOUND, PROCESS_EXECUTION_TIMEOUT). */
void reply_error_daemon (struct resp *out, int status, const char *code, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
/* An islet error mapped to a status: invalid 400, not found 404, conflict 409,
 * limit 429, system 500.  daemon: a toolbox answer (FILE_NOT_FOUND codes). */
void reply_islet_err (struct resp *out, const struct islet_err *e, bool daemon);
/* Parse the body as a JSON object, or reply 400. */
json_t *req_json_object (const struct req *r, struct resp *out);
/* "2026-01-02T03:04:05.000Z" */
void iso_time (int64_t unix_s, char buf[32]);
int64_t now_s (void);

/* ---- routes.c ---- */
typedef void (*route_fn) (struct req *r, struct resp *out);
struct ws;
typedef void (*ws_open_fn) (struct srv *srv, struct ws *ws, void *arg);

/* A route that takes its body as it arrives (uploads), never holding it
 * whole: http.c splits a multipart/form-data body into fields with the HTTP
 * library's own parser and hands each piece on; any other body is one
 * piece stream with field NULL. */
struct body_sink
{
  /* The headers are in, no body yet.  -1: the answer is in out (sent at
   * once, the body never read).  *max: the largest body to accept. */
  int (*begin) (struct req *r, struct resp *out, void **state, uint64_t *max);
  /* n bytes at offset off of the value of form field `field` (filename:
   * the part's, NULL for a plain field).  A new part starts at off 0.  -1:
   * take no more of the body; the answer is then decided by end. */
  int (*piece) (void *state, const char *field, const char *filename, const char *data,
                uint64_t off, size_t n);
  /* The body is over: all of it (complete), or not (the client went away,
   * the body was malformed or too large: the answer is already in out, or
   * nobody is left to read it).  Frees state. */
  void (*end) (void *state, bool complete, struct resp *out);
};

struct route
{
  const char *method;
  const char *pattern; /* "/api/sandbox/{}/start": {} matches one segment */
  route_fn fn;         /* NULL for a streaming route: see sink */
  const char *audit;   /* action recorded in the audit log, NULL: not recorded */
  size_t max_body;     /* largest accepted request body held in memory */
  const struct body_sink *sink;
};

/* A WebSocket endpoint: a GET with Upgrade: websocket.  begin runs once
 * the key is checked and the params are filled: 0 with what to run once
 * upgraded (arg one malloc'd block), or -1 with the answer in out.  (The
 * Socket.IO endpoint is not one: its key comes after the upgrade.) */
struct ws_route
{
  const char *pattern;
  int (*begin) (struct req *r, struct resp *out, ws_open_fn *fn, void **arg);
  /* The subprotocol echoed when the client offers it (NULL: none). */
  const char *protocol;
  /* NULL: a refusal (a bad key, begin's -1) is the HTTP answer.  Else the
   * upgrade is made anyway and this says why on the WebSocket (message:
   * the answer's "message"): for clients that show nothing of a refused
   * upgrade's answer (the SDK's PTY says "[object Object]"). */
  void (*refuse) (struct ws *ws, const char *message);
};

#define BODY_JSON_MAX ((size_t) 1 << 20) /* 1 MiB for JSON requests */
/* POST /v1/tool: a text that writes a file of up to 10 MiB, with room for
 * its JSON escapes */
#define BODY_TOOL_MAX ((size_t) 16 << 20)

/* Find the route of METHOD PATH; fill r->params.  NULL: no such route. */
const struct route *route_find (const char *method, const char *path, struct req *r);
/* The same for a WebSocket at PATH. */
const struct ws_route *route_find_ws (const char *path, struct req *r);
/* Check the bearer key; 0 with r->key_id set, or -1 with a 401 in out. */
int route_auth (struct req *r, struct resp *out);
/* Run the route's handler and record it in the audit log. */
void route_run (const struct route *rt, struct req *r, struct resp *out);
/* Record a streamed route's answer (begun at t0_ns) in the audit log. */
void route_audit (const struct route *rt, struct req *r, struct resp *out, uint64_t t0_ns);
/* Answers that go on in a thread of their own after their handler returned
 * (a streamed exec, followed logs): counted, so that isletd's exit can wait
 * (at most timeout_ms) for them before it frees the core and the store;
 * srv_streams_wait is false if some are still running. */
void srv_stream_begin (struct srv *srv);
void srv_stream_end (struct srv *srv);
bool srv_streams_wait (struct srv *srv, int timeout_ms);

/* ---- v1_api.c: the one-shot API ---- */
void v1_execute (struct req *r, struct resp *out);
void v1_status (struct req *r, struct resp *out);
void v1_config_get (struct req *r, struct resp *out);
void v1_config_put (struct req *r, struct resp *out);
void v1_test (struct req *r, struct resp *out);
void v1_sandbox_create (struct req *r, struct resp *out);
void v1_tool (struct req *r, struct resp *out);
/* v1_exec.c: one command, the core's whole result, or its output as it comes */
void v1_sandbox_exec (struct req *r, struct resp *out);

/* ---- sandbox_api.c: the control plane ---- */
void api_sandbox_create (struct req *r, struct resp *out);
/* volume_api.c: Daytona's volumes, and a create's `volumes` (the key's,
 * resolved and checked: *mounts malloc'd, pointing into body) */
void api_volume_create (struct req *r, struct resp *out);
void api_volume_list (struct req *r, struct resp *out);
void api_volume_get (struct req *r, struct resp *out);
void api_volume_get_by_name (struct req *r, struct resp *out);
void api_volume_delete (struct req *r, struct resp *out);
struct islet_volume_mount;
int volumes_field (struct req *r, json_t *body, struct islet_volume_mount **mounts, size_t *n,
                   struct resp *out);
void api_sandbox_list (struct req *r, struct resp *out);
void api_sandbox_get (struct req *r, struct resp *out);
void api_sandbox_start (struct req *r, struct resp *out);
void api_sandbox_stop (struct req *r, struct resp *out);
void api_sandbox_pause (struct req *r, struct resp *out);
void api_sandbox_autopause (struct req *r, struct resp *out);
void api_sandbox_resize (struct req *r, struct resp *out);
void api_sandbox_fork (struct req *r, struct resp *out);
void api_sandbox_archive (struct req *r, struct resp *out);
/* sandbox_api.c: a string field of a JSON body into *v (left as it is when
 * absent or null); -1 with a 400 in out when it has another type */
int field_string (json_t *j, const char *k, const char **v, struct resp *out);
/* sandbox_api.c: the body's buildInfo: *from (a Dockerfile that is one FROM
 * line: that image) or *dockerfile (one to build) and *contexts (its
 * contextHashes, a NULL-terminated list, or NULL), all malloc'd and left
 * NULL when it is absent; -1 with a 400 (a bad shape) */
#define BUILD_CONTEXTS_MAX 64
int daytona_build_info (json_t *j, char **from, char **dockerfile, char ***contexts,
                        struct resp *out);
/* object_storage.c: build contexts (Image.addLocalFile, addLocalDir) through
 * GET /api/object-storage/push-access and an S3 subset under
 * /object-storage/ (object_storage_s3.c), which has its own signatures
 * instead of the API key: http.c routes a path of object_storage_path to
 * object_storage_route before any key is asked for. */
void api_object_storage_push_access (struct req *r, struct resp *out);
extern const struct route object_storage_route;
bool object_storage_path (const char *path);
/* The tar of context hash uploaded by key_id: its path (malloc'd), or an
 * ISLET_E_INVALID naming the hash. */
int object_storage_context_path (struct srv *srv, int64_t key_id, const char *hash, char **path,
                                 struct islet_err *err) ISLET_MUST_CHECK;
/* snapshot_api.c */
void api_sandbox_snapshot (struct req *r, struct resp *out);
void api_snapshot_create (struct req *r, struct resp *out);
void api_snapshot_list (struct req *r, struct resp *out);
void api_snapshot_get (struct req *r, struct resp *out);
void api_snapshot_delete (struct req *r, struct resp *out);
void api_snapshot_activate (struct req *r, struct resp *out);
void api_sandbox_delete (struct req *r, struct resp *out);
void api_sandbox_labels (struct req *r, struct resp *out);
void api_sandbox_toolbox_url (struct req *r, struct resp *out);
/* build_logs.c: a sandbox's or a snapshot's build log, its URL and its
 * text (?follow=true) */
void api_sandbox_build_logs_url (struct req *r, struct resp *out);
void api_sandbox_build_logs (struct req *r, struct resp *out);
void api_snapshot_build_logs_url (struct req *r, struct resp *out);
void api_snapshot_build_logs (struct req *r, struct resp *out);
void api_sandbox_autostop (struct req *r, struct resp *out);
void api_sandbox_autoarchive (struct req *r, struct resp *out);
void api_sandbox_autodelete (struct req *r, struct resp *out);
void api_sandbox_ttl (struct req *r, struct resp *out);
void api_sandbox_activity (struct req *r, struct resp *out);
void api_audit_list (struct req *r, struct resp *out);

/* ---- sandbox_ref.c: the middle (owned.h) as the HTTP faces use it ---- */
/* The request's key, as the middle's owner. */
struct owner req_owner (struct req *r);
struct sb_ref
{
  struct islet_ctx *ctx; /* the server's one (srv.ctx), shared by every request's thread */
  struct islet_sandbox_info info;
  struct islet_store_sandbox row;
};

/* The server's core, for a request. */
int sb_ctx (struct req *r, struct sb_ref *sb, struct resp *out);
/* owned_open for a request: the caller's sandbox named ref, or its error
 * answered (404 for anything not the caller's). */
int sb_open (struct req *r, const char *ref, struct sb_ref *sb, struct resp *out);
void sb_close (struct sb_ref *sb);
#define cleanup_sb __attribute__ ((cleanup (sb_close)))
/* The Daytona Sandbox object; state NULL: from info (started or stopped). */
json_t *sb_dto (struct req *r, const struct sb_ref *sb, const char *state);
/* The sandbox's env with extra (an object, may be NULL) over it, as "K=V"
 * entries (NULL-terminated, malloc'd), or NULL with a 400 in out. */
char **sb_env (const struct sb_ref *sb, json_t *extra, struct resp *out);
/* <this server>/toolbox, as the caller reached us (its Host header). */
char *sb_toolbox_url (struct req *r);
/* The sandbox of a toolbox path (/toolbox/{id}/...), running; -1 with the
 * error in out. */
int tb_open (struct req *r, struct sb_ref *sb, struct resp *out);
/* The same for a sandbox named by ref rather than by the path. */
int tb_open_ref (struct req *r, const char *ref, struct sb_ref *sb, struct resp *out);

/* ---- toolbox_process.c, toolbox_files.c: inside a sandbox ---- */
void tb_execute (struct req *r, struct resp *out);
void tb_code_run (struct req *r, struct resp *out);
void tb_home_dir (struct req *r, struct resp *out);
void tb_work_dir (struct req *r, struct resp *out);
void tb_version (struct req *r, struct resp *out);
void tb_files_list (struct req *r, struct resp *out);
void tb_files_info (struct req *r, struct resp *out);
void tb_files_download (struct req *r, struct resp *out);
void tb_files_bulk_download (struct req *r, struct resp *out);
/* ---- toolbox_upload.c: uploads, streamed into the sandbox ---- */
extern const struct body_sink tb_upload_v2, tb_bulk_upload;
void tb_files_folder (struct req *r, struct resp *out);
void tb_files_delete (struct req *r, struct resp *out);
void tb_files_move (struct req *r, struct resp *out);

/* ---- mcp_http.c: MCP over streamable HTTP at /mcp ---- */
struct mcp_sessions;
/* minute_s: the length of a "minute" (srv->minute_s) for the idle expiry */
int mcp_sessions_new (struct mcp_sessions **out, int64_t minute_s,
                      struct islet_err *err) ISLET_MUST_CHECK;
void mcp_sessions_free (struct mcp_sessions *t);
void mcp_http_post (struct req *r, struct resp *out);
void mcp_http_get (struct req *r, struct resp *out);
void mcp_http_delete (struct req *r, struct resp *out);

/* ---- daytona/interp.c: the code interpreter's contexts (interp.h) ---- */
struct interp;
int interp_new (struct interp **out, struct islet_err *err) ISLET_MUST_CHECK;

/* ---- image pulls (daemon/pull.c) ---- */

/* insecure: --insecure-registry hosts (NULL-terminated, may be NULL), copied. */
int pulls_new (struct pulls **out, char *const *insecure, struct islet_err *err) ISLET_MUST_CHECK;
/* At stop: the children killed; their threads end as streams (srv_streams_wait). */
void pulls_shutdown (struct pulls *p);
void pulls_free (struct pulls *p);
/* Kill every context: runs under way end at once. */
void interp_shutdown (struct interp *t);
void interp_free (struct interp *t);
/* Its spares and code-runs, for GET /metrics (daytona/interp_spare.c). */
void interp_render (struct interp *t, FILE *f);
/* The sandbox's spares ended (its stop, pause, archive or delete). */
void interp_spares_drop (struct srv *srv, const char *sandbox);

/* ---- reaper.c: auto-stop and auto-delete ---- */
struct reaper;
int reaper_start (struct srv *srv, struct reaper **out, struct islet_err *err) ISLET_MUST_CHECK;
void reaper_stop (struct reaper *rp);

/* ---- owned_pool.c: sandboxes made ahead for every create (the core's warm pool) ---- */
#define CREATE_POOL_MAX 64
/* isletd's default: a create of the default sandbox is answered from the
 * pool; each pooled sandbox holds little memory but its disk limit in the
 * disk pool (ARCHITECTURE.md, "The warm pool") */
#define CREATE_POOL_DEFAULT 2
struct create_pool;
/* size 0: none (*out NULL), and a pool an isletd before left is removed.
 * Else the pool is isletd's: what one from before holds removed, then
 * filled by the pool's thread. */
int create_pool_new (struct srv *srv, unsigned size, struct create_pool **out,
                     struct islet_err *err) ISLET_MUST_CHECK;
/* The pool removed (a fill under way waited for). */
void create_pool_free (struct create_pool *p);
/* Its gauges and counters, for GET /metrics (p may be NULL). */
void create_pool_render (struct create_pool *p, FILE *f);

/* ---- v1pool.c: sandboxes made ahead for /v1/execute, destroys after the answer ---- */
#define V1POOL_MAX 16
#define V1POOL_DEFAULT 2 /* isletd's default: each holds a waiting python */
struct v1pool;
/* size 0: none (*out NULL): every run makes and destroys its own, before
 * its answer. */
int v1pool_new (struct srv *srv, unsigned size, struct v1pool **out,
                struct islet_err *err) ISLET_MUST_CHECK;
/* The queued destroys done, the ready sandboxes destroyed. */
void v1pool_free (struct v1pool *p);
/* A sandbox for one run of k, as owned_scratch_begin makes one: from the
 * pool when limits and net are its, counted in k's quota either way. */
struct v1pool_zygote
{
  int conn;          /* a pooled sandbox's python waiting (v1_zygote.c), or -1 */
  uint64_t ready_ns; /* since when */
};
/* z: the pooled sandbox's python, the caller's to use or close. */
int v1pool_begin (struct srv *srv, const struct owner *k, const struct islet_limits *limits,
                  const struct islet_net *net, char id[ISLET_ID_LEN + 1], struct v1pool_zygote *z,
                  struct islet_err *err) ISLET_MUST_CHECK;
/* The run is over (once for each v1pool_begin that succeeded): its sandbox
 * destroyed, after the answer with a pool; the pool's refill, which waits
 * for the runs under way, may go on. */
void v1pool_end (struct srv *srv, const struct owner *k, const char *id);
/* The pool's gauges and counters, for GET /metrics (p may be NULL). */
void v1pool_render (struct v1pool *p, FILE *f);

/* ---- metrics.c: isletd's own counters (each call takes a NULL m) ---- */
struct metrics;
struct metrics *metrics_new (void);
void metrics_free (struct metrics *m);
/* A request of route rt answered with status after ns nanoseconds. */
void metrics_request (struct metrics *m, const struct route *rt, int status, uint64_t ns);
/* An audited action (counted if it runs a command in a sandbox). */
void metrics_action (struct metrics *m, const char *action);
void metrics_create (struct metrics *m, bool ok);
/* Keep sandbox id's CPU time cpu_ns read at at_ns; 1 with the sample
 * before it (same sandbox, earlier, not more CPU), 0 if there is none. */
int metrics_cpu_sample (struct metrics *m, const char *id, uint64_t cpu_ns, uint64_t at_ns,
                        uint64_t *prev_cpu_ns, uint64_t *prev_at_ns);
/* The counters in Prometheus' text format. */
void metrics_render (struct metrics *m, FILE *f);

/* ---- metrics_api.c: a sandbox's use (getMetricsLatest), GET /metrics ---- */
void tb_system_metrics (struct req *r, struct resp *out);
void api_metrics (struct req *r, struct resp *out);

/* ---- preview.c: preview links (who may pass, and the sandbox's port) ---- */
#define PREVIEW_PREFIX "/preview/"
#define PREVIEW_KEY_LEN 32
#define PREVIEW_TOKEN_MAX 33
/* Whether s may be --preview-domain: a domain name, lower case, no port. */
bool preview_domain_ok (const char *s);
/* Read <state>/preview.key, or make it (32 random bytes, 0600). */
int preview_key_load (struct srv *srv, struct islet_err *err) ISLET_MUST_CHECK;
/* The preview token of sandbox id (hex). */
void preview_token (const struct srv *srv, const char *id, char out[PREVIEW_TOKEN_MAX]);
void api_sandbox_preview_url (struct req *r, struct resp *out);
void api_sandbox_signed_preview_url (struct req *r, struct resp *out);
void api_sandbox_public (struct req *r, struct resp *out);
void api_sandbox_signed_preview_expire (struct req *r, struct resp *out);
/* A preview request's way to its port. */
struct preview_conn
{
  int fd; /* connected to the port inside the sandbox */
  char id[ISLET_ID_LEN + 1];
  unsigned port;
  int64_t key_id;       /* the sandbox's owner, whose proxy budget it holds */
  bool charged;         /* of that budget */
  const char *rest;     /* the target after the prefix: "", "/...", "?..." */
  char prefix[64];      /* /preview/<id>/<port>[.<signature>]; "" in the host form */
  char *rest_owned;     /* rest, when the token parameter was taken out of it */
  char set_cookie[160]; /* the host form's Set-Cookie for the answer, or "" */
};
/* What a preview request brings (the headers NULL when absent). */
struct preview_ask
{
  const char *host, *target, *token, *cookies; /* Host, raw target, the token header, Cookie */
};
/* Whether Host names a preview (the host form of --preview-domain). */
bool preview_host (const struct srv *srv, const char *host);
/* Whether a Cookie header's pair is the preview's own (not passed on). */
bool preview_cookie_own (const char *pair, size_t n);
/* For a preview request: 0 with pc connected, or -1 with the refusal in out. */
int preview_open (struct srv *srv, const struct preview_ask *ask, struct preview_conn *pc,
                  struct resp *out);
void preview_close (struct srv *srv, struct preview_conn *pc);
/* A proxied request (or WebSocket connection) answered with status (the
 * refusal, when refused, in refused), begun at t0_ns: counted in /metrics,
 * and an audit record of the sandbox's owner when the sandbox is known. */
void preview_record (struct srv *srv, const struct preview_conn *pc, int status,
                     const struct resp *refused, uint64_t t0_ns);

/* ---- proxy.c: a preview request, proxied (HTTP and WebSocket) ---- */
struct proxy;
/* Whether a request is a preview's: its raw target (the path form) or its
 * Host (the host form). */
bool proxy_path (const struct srv *srv, void *conn, const char *target);
/* The headers are in (conn: the HTTP library's): connect to the port and
 * send the request's head; 0 with *out, or -1 with the refusal in o. */
int proxy_begin (struct srv *srv, void *conn, const char *target, const char *method,
                 struct proxy **out, struct resp *o);
/* A piece of the request's body, sent on. */
void proxy_body (struct proxy *p, const char *data, size_t n);
/* The body is over: read the port's answer's head and queue the answer,
 * taking p (the library's enum MHD_Result), or -1 with a 502 in o (p freed). */
int proxy_finish (struct proxy *p, void *conn, const char *method, struct resp *o);
void proxy_free (struct proxy *p);
/* A preview request with Upgrade: answer it whole (101 and both ways
 * joined, or the refusal); the library's enum MHD_Result. */
int proxy_upgrade (struct srv *srv, void *conn, const char *target, const char *method);

/* ---- sandbox_fields.c ---- */
/* Every field of a create body is one islet honours (or accepts at the
 * value that matches what it does); else -1 with a 400 that names it. */
int create_fields_check (json_t *body, struct resp *out);
/* sandbox_net.c: Daytona's network fields of a create (current NULL) or of
 * an update of current, as islet's network; -1 with a 400 in out. */
int daytona_net_fields (json_t *j, const struct islet_net *current, enum islet_net_mode dflt,
                        struct islet_net *net, struct resp *out);
/* networkBlockAll, networkAllowList and domainAllowList of a sandbox object */
void daytona_net_dto (json_t *dto, const struct islet_net *n);
void api_sandbox_network (struct req *r, struct resp *out);

/* ---- words.c ---- */
/* Split a command line into words: blanks separate, '...' and "..." quote,
 * no escapes, no shell.  NULL-terminated, malloc'd (one block). */
char **words_split (const char *s, struct islet_err *err);
/* Whether n bytes hold a control byte (below 0x20, or 0x7f): no path, name
 * or sandbox reference may (a NUL would cut it short). */
bool text_has_control (const char *s, size_t n);

/* ---- websocket.c: RFC 6455 on an upgraded connection ---- */
/* The largest message taken (and Engine.IO's maxPayload): the client only
 * sends CONNECT and pongs, and a session holds at most this much. */
#define WS_MESSAGE_MAX 65536
/* Whether path is the Socket.IO endpoint (<api>/socket.io/). */
bool ws_path (const char *path);
/* Answer its request (conn: the HTTP library's): 101 and a session, or an
 * error.  The HTTP library's enum MHD_Result. */
int ws_upgrade (struct srv *srv, void *conn, const char *method);
/* Whether a request asks for a WebSocket (Upgrade: websocket). */
bool ws_is_upgrade (void *conn);
/* Answer 101 and hand the WebSocket to fn (in the connection's thread,
 * which ends when fn returns; fn owns ws and arg), or an error (arg, one
 * malloc'd block, is then freed). */
int ws_upgrade_to (struct srv *srv, void *conn, const char *method, const char *protocol,
                   ws_open_fn fn, void *arg);
/* Take binary messages too (ws_recv returns them as it does text). */
void ws_accept_binary (struct ws *ws);
/* The next text message (valid until the next call): 1, or 0 when the
 * deadline (islet_now_ns) passed, -1 when the connection is over. */
int ws_recv (struct ws *ws, uint64_t deadline_ns, const char **msg, size_t *len);
/* Thread-safe; -1: the connection is broken (and shut). */
int ws_send_text (struct ws *ws, const char *s, size_t len);
int ws_send_binary (struct ws *ws, const void *data, size_t len);
void ws_close (struct ws *ws, unsigned code, const char *reason);
void ws_abort (struct ws *ws); /* shut the socket: a ws_recv under way returns -1 */
/* Take messages of up to max bytes (past it: close 1009 with reason, a
 * string that lives as long as ws). */
void ws_limit (struct ws *ws, size_t max, const char *reason);
/* After a close: read and drop what the client still sends, until it
 * closes or the deadline (islet_now_ns) passes. */
void ws_linger (struct ws *ws, uint64_t deadline_ns);
/* The handshake's headers (any may be NULL): 0 if they ask for a
 * WebSocket as RFC 6455 says, else the status of the refusal (400, 426). */
unsigned ws_handshake_check (const char *method, const char *upgrade, const char *connection,
                             const char *version, const char *key);
/* Sec-WebSocket-Accept for key: 28 characters of base64. */
void ws_accept_value (const char *key, char out[32]);
/* A WebSocket on a connected socket of the caller's (fd, given to it), for
 * tests and fuzzing: ws_free closes fd. */
struct ws *ws_from_fd (int fd);
/* The client's address, as text ("?" when unknown). */
#define WS_PEER_MAX 64
void ws_peer (struct ws *ws, char out[WS_PEER_MAX]);
void ws_free (struct ws *ws);

/* ---- socketio.c: Engine.IO 4 / Socket.IO sessions, and events ---- */
/* One Engine.IO packet (a WebSocket text message) from a client, parsed
 * with no I/O: the only parser of Socket.IO's bytes, which come before any
 * key is checked (fuzzed). */
enum sio_kind
{
  SIO_END,  /* close, or not a packet we know: end the session */
  SIO_PING, /* data: what to echo in the pong */
  SIO_PONG,
  SIO_CONNECT, /* nsp: the namespace named ("/" when none); data: the auth JSON text */
  SIO_DISCONNECT,
  SIO_IGNORED, /* upgrade, noop, events and acks: nothing listens */
};
struct sio_packet
{
  enum sio_kind kind;
  const char *data, *nsp; /* into the message */
  size_t len, nsp_len;
};
void sio_parse (const char *m, size_t len, struct sio_packet *p);
struct sio;
int sio_new (struct sio **out, struct islet_err *err) ISLET_MUST_CHECK;
/* Refuse new sessions, end those open (waiting a few seconds). */
void sio_shutdown (struct sio *s);
void sio_free (struct sio *s);
/* A new WebSocket: its session runs in a thread of its own. */
void sio_accept (struct srv *srv, struct ws *ws);
/* 42["event", data] to every session connected with the key. */
void sio_emit (struct srv *srv, int64_t key_id, const char *event, json_t *data);
/* A sandbox's state changed (old_state NULL: it was created): the
 * events the SDK listens to, with its DTO. */
void sio_sandbox_event (struct srv *srv, int64_t key_id, json_t *dto, const char *old_state);

/* ---- keys.c ---- */
/* Hex SHA-256 of a key. */
void key_hash (const char *key, char hex[65]);
/* A new random key: "islet_" and 48 hex digits. */
int key_generate (char key[64], struct islet_err *err);

#endif
