/* Toolbox: the SDK's LspServer (/lsp/start, stop, did-open, did-close,
 * completions, document-symbols, workspacesymbols).
 *
 * One language server per (sandbox, languageId, project path), started
 * through the core's exec with its stdin kept open (islet_exec_open), so it
 * is confined, limited and counted in the sandbox's memory like any exec;
 * its working directory is the project.  isletd holds the exec's
 * connection and speaks LSP over it (toolbox_lsp_wire.c).  One exchange
 * with a server at a time (its lock); between exchanges nothing reads it,
 * so what it prints waits in its pipe (diagnostics, mostly) and is read
 * and dropped before the next request.  A server that dies (its process
 * exited, was killed, or printed what is not LSP) is told as such to the
 * next call, until start replaces it.  Documents are read from the sandbox
 * by its file agent and sent whole, again at each request that names them,
 * so an answer is about the file as it is now. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "islet/client.h"
#include "islet/proto.h"
#include "islet/report.h"
#include "islet/util.h"
#include "toolbox.h"
#include "toolbox_lsp.h"

#define LSP_PER_SANDBOX 8 /* live servers */
#define LSP_ALL_MAX 256   /* kept in all, dead ones included */
#define DOCS_MAX 1000     /* documents open in one server */
#define FILE_MAX ((size_t) 4 << 20)
#define START_TIMEOUT_MS 60000 /* the initialize answer, on a loaded host */
#define CALL_TIMEOUT_MS 60000  /* tsserver's first completion reads all of lib.d.ts */
#define STOP_WAIT_MS 3000
#define DRAIN_MAX 256 /* reads of what waits before a request, at most */
#define WORKDIR "/workspace"
#define TSSERVER "/usr/share/nodejs/typescript/lib/tsserver.js" /* Debian's node-typescript */

struct lang
{
  const char *id; /* the SDK's languageId */
  char *const *argv;
  const char *what; /* what a sandbox without it misses */
};

static char *const pylsp_argv[] = { "pylsp", NULL };
static char *const tsls_argv[] = { "typescript-language-server", "--stdio", NULL };

static const struct lang langs[] = {
  { "python", pylsp_argv, "pylsp (Debian's package python3-pylsp)" },
  { "typescript", tsls_argv, "typescript-language-server (npm's package of that name)" },
  { "javascript", tsls_argv, "typescript-language-server (npm's package of that name)" },
};

struct lsp
{
  struct lsp *next;
  unsigned refs; /* under table.lock: the table's, each holder's */
  char sandbox[ISLET_ID_LEN + 1];
  const struct lang *lang;
  char *project;        /* absolute, in the sandbox */
  pthread_mutex_t lock; /* one exchange at a time; guards what follows */
  int fd;               /* the exec's connection; shut once dead */
  atomic_bool dead;     /* read without the lock by the table's walks */
  char why[512];
  int64_t next_id;
  struct lsp_reader rd;
  json_t *caps; /* the server's capabilities, from initialize */
  json_t *docs; /* uri -> the version last sent */
  char err_tail[256];
};

static struct
{
  pthread_mutex_t lock;
  struct lsp *head;
  size_t n;
} table = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- the table ---- */

static void
lsp_free (struct lsp *s)
{
  if (s->fd >= 0)
    close (s->fd);
  lsp_reader_fini (&s->rd);
  json_decref (s->caps);
  json_decref (s->docs);
  pthread_mutex_destroy (&s->lock);
  free (s->project);
  free (s);
}

static void
lsp_put (struct lsp *s)
{
  bool last;

  if (s == NULL)
    return;
  pthread_mutex_lock (&table.lock);
  last = --s->refs == 0;
  pthread_mutex_unlock (&table.lock);
  if (last)
    lsp_free (s);
}

static void
cleanup_lsp_fn (struct lsp **s)
{
  lsp_put (*s);
}
#define cleanup_lsp __attribute__ ((cleanup (cleanup_lsp_fn)))

/* Mark s dead (s->lock held), its process killed with the connection. */
static void
lsp_kill (struct lsp *s, const char *why)
{
  if (!s->dead)
    {
      snprintf (s->why, sizeof s->why, "%s", why);
      atomic_store (&s->dead, true);
    }
  if (s->fd >= 0)
    shutdown (s->fd, SHUT_RDWR);
}

static struct lsp *
find_locked (const char *sandbox, const struct lang *lang, const char *project)
{
  for (struct lsp *s = table.head; s; s = s->next)
    if (strcmp (s->sandbox, sandbox) == 0 && s->lang == lang && strcmp (s->project, project) == 0)
      return s;
  return NULL;
}

static struct lsp *
lsp_get (const char *sandbox, const struct lang *lang, const char *project)
{
  struct lsp *s;

  pthread_mutex_lock (&table.lock);
  s = find_locked (sandbox, lang, project);
  if (s)
    s->refs++;
  pthread_mutex_unlock (&table.lock);
  return s;
}

/* Take s out of the table (table.lock held): whether that was the last reference. */
static bool
unlink_locked (struct lsp *s)
{
  for (struct lsp **p = &table.head; *p; p = &(*p)->next)
    if (*p == s)
      {
        *p = s->next;
        table.n--;
        return --s->refs == 0;
      }
  return false;
}

static bool
is_dead (struct lsp *s)
{
  return atomic_load (&s->dead);
}

void
tb_lsp_shutdown (void)
{
  pthread_mutex_lock (&table.lock);
  for (struct lsp *s = table.head; s; s = s->next)
    {
      /* no lock: shutdown(2) ends an exchange under way */
      if (s->fd >= 0)
        shutdown (s->fd, SHUT_RDWR);
    }
  pthread_mutex_unlock (&table.lock);
}

/* ---- talking to one (s->lock held) ---- */

static void
send_msg (struct lsp *s, json_t *msg)
{
  size_t len, off = 0;
  cleanup_free char *frame = lsp_frame (msg, &len);
  struct islet_err e;

  if (s->dead || frame == NULL)
    return;
  while (off < len)
    {
      size_t n = len - off > ISLET_FRAME_MAX ? ISLET_FRAME_MAX : len - off;
      if (islet_exec_input (s->fd, frame + off, n, &e) < 0)
        {
          lsp_kill (s, "its connection to the sandbox was lost (the sandbox stopped?)");
          return;
        }
      off += n;
    }
}

static void
notify (struct lsp *s, const char *method, json_t *params)
{
  cleanup_json json_t *m = json_pack ("{s:s,s:s,s:o}", "jsonrpc", "2.0", "method", method, "params",
                                      params ? params : json_object ());
  send_msg (s, m);
}

/* What one request waits for. */
struct exchange
{
  struct lsp *s;
  json_int_t id; /* 0: none (draining) */
  bool done;
  json_t *result, *error;
};

/* A request of the server's own: answered at once, with nothing
 * (workspace/configuration: a null per item, the server's defaults). */
static void
answer_server (struct lsp *s, json_t *id, const char *method, json_t *params)
{
  json_t *result = json_null ();
  cleanup_json json_t *m = NULL;

  if (strcmp (method, "workspace/configuration") == 0)
    {
      size_t n = json_array_size (json_object_get (params, "items"));
      result = json_array ();
      for (size_t i = 0; i < n && i < 1000; i++)
        json_array_append_new (result, json_null ());
    }
  m = json_pack ("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result);
  send_msg (s, m);
}

static void
on_message (void *user, json_t *msg)
{
  struct exchange *x = user;
  json_t *id = json_object_get (msg, "id");
  const char *method = json_string_value (json_object_get (msg, "method"));

  if (method && id)
    answer_server (x->s, id, method, json_object_get (msg, "params"));
  else if (method == NULL && x->id && json_integer_value (id) == x->id && !x->done)
    {
      x->done = true;
      x->result = json_incref (json_object_get (msg, "result"));
      x->error = json_incref (json_object_get (msg, "error"));
    }
}

static void
exec_end_why (struct lsp *s, const struct islet_exec_result *r)
{
  char why[sizeof s->why], tail[sizeof s->err_tail + 16] = "";

  if (s->err_tail[0])
    snprintf (tail, sizeof tail, " (%s)", s->err_tail);
  if (r->error[0])
    snprintf (why, sizeof why, "it could not start: %.200s", r->error);
  else if (r->oom_killed)
    snprintf (why, sizeof why, "it was killed: out of memory (the sandbox's limit)");
  else if (r->signal)
    snprintf (why, sizeof why, "it was killed by signal %d", r->signal);
  else
    snprintf (why, sizeof why, "it exited with code %d%s", r->exit_code, tail);
  lsp_kill (s, why);
}

/* Keep the last line of what the server says on stderr, for a death. */
static void
keep_err (struct lsp *s, const char *data, size_t len)
{
  char line[sizeof s->err_tail];

  sh_last_line (data, len, line, sizeof line);
  if (line[0])
    snprintf (s->err_tail, sizeof s->err_tail, "%s", line);
}

/* What the server sent until deadline_ns, to x.  1: something came;
 * 0: nothing by then; -1: the server is dead. */
static int
pump (struct lsp *s, uint64_t deadline_ns, struct exchange *x)
{
  cleanup_free char *data = NULL;
  struct islet_exec_result res;
  enum islet_stream stream;
  struct islet_err e;
  size_t len;
  int rc;

  if (s->dead)
    return -1;
  rc = tb_exec_next_until (s->fd, deadline_ns, &stream, &data, &len, &res, &e);
  if (rc == 2)
    return 0;
  if (rc < 0)
    {
      char why[sizeof s->why];
      snprintf (why, sizeof why, "it was lost: %.200s", e.msg);
      lsp_kill (s, why);
      return -1;
    }
  if (rc == 0)
    {
      exec_end_why (s, &res);
      islet_exec_result_fini (&res);
      return -1;
    }
  if (stream == ISLET_STDERR)
    keep_err (s, data ? data : "", len);
  else if (lsp_reader_feed (&s->rd, data ? data : "", len, on_message, x) < 0)
    {
      lsp_kill (s, "it printed what is not LSP (a message without a valid Content-Length)");
      return -1;
    }
  return 1;
}

/* Read and drop what waits (diagnostics), answering the server's requests. */
static void
drain (struct lsp *s)
{
  struct exchange x = { .s = s };

  for (int i = 0; i < DRAIN_MAX && pump (s, 0, &x) > 0; i++)
    ;
}

static void
reply_dead (struct lsp *s, struct resp *out)
{
  reply_error (out, 410, "GONE",
               "the %s language server of project '%s' died: %s; start it again (lsp.start())",
               s->lang->id, s->project, s->why);
}

/* Request method with params (stolen) of s; 0 with its result (a
 * reference, NULL for null), or -1 with the answer in out. */
static int
call (struct lsp *s, const char *method, json_t *params, int timeout_ms, json_t **result,
      struct resp *out)
{
  struct exchange x = { .s = s, .id = ++s->next_id };
  uint64_t deadline = islet_now_ns () + (uint64_t) timeout_ms * 1000000;
  cleanup_json json_t *m = json_pack ("{s:s,s:I,s:s,s:o}", "jsonrpc", "2.0", "id", x.id, "method",
                                      method, "params", params ? params : json_null ());

  *result = NULL;
  drain (s);
  send_msg (s, m);
  while (!x.done && !s->dead && islet_now_ns () < deadline)
    (void) pump (s, deadline, &x);
  if (s->dead)
    reply_dead (s, out);
  else if (!x.done)
    {
      notify (s, "$/cancelRequest", json_pack ("{s:I}", "id", x.id));
      reply_error (out, 504, "TIMEOUT", "the %s language server did not answer %s within %d s",
                   s->lang->id, method, timeout_ms / 1000);
    }
  else if (x.error && !json_is_null (x.error))
    {
      const char *msg = json_string_value (json_object_get (x.error, "message"));
      reply_error (out, 400, "BAD_REQUEST", "the %s language server refused %s: %.300s",
                   s->lang->id, method, msg ? msg : "no reason given");
    }
  else
    {
      *result = json_is_null (x.result) ? NULL : json_incref (x.result);
      json_decref (x.result);
      json_decref (x.error);
      return 0;
    }
  json_decref (x.result);
  json_decref (x.error);
  return -1;
}

/* ---- documents (s->lock held) ---- */

/* The file at path, whole, to the server as uri: didOpen the first time,
 * then didChange with all of its text. */
static int
sync_doc (struct lsp *s, struct sb_ref *sb, const char *path, const char *uri, struct resp *out)
{
  cleanup_free char *data = NULL;
  json_int_t version = json_integer_value (json_object_get (s->docs, uri));
  struct islet_err e;
  size_t len;

  if (islet_fs_read (sb->ctx, sb->info.id, path, FILE_MAX, &data, &len, &e) < 0)
    {
      reply_islet_err (out, &e, true);
      return -1;
    }
  if (version == 0 && json_object_size (s->docs) >= DOCS_MAX)
    {
      reply_error (out, 429, "TOO_MANY_DOCUMENTS",
                   "the language server has %d documents open, the most it may: close one first",
                   DOCS_MAX);
      return -1;
    }
  drain (s);
  if (version == 0)
    notify (s, "textDocument/didOpen",
            json_pack ("{s:{s:s,s:s,s:i,s:o}}", "textDocument", "uri", uri, "languageId",
                       s->lang->id, "version", 1, "text", islet_json_bytes (data, len)));
  else
    notify (s, "textDocument/didChange",
            json_pack ("{s:{s:s,s:I},s:[{s:o}]}", "textDocument", "uri", uri, "version",
                       version + 1, "contentChanges", "text", islet_json_bytes (data, len)));
  json_object_set_new (s->docs, uri, json_integer (version + 1));
  if (s->dead)
    {
      reply_dead (s, out);
      return -1;
    }
  return 0;
}

/* ---- starting one ---- */

static const struct lang *
lang_find (const char *id)
{
  for (size_t i = 0; id && i < sizeof langs / sizeof langs[0]; i++)
    if (strcmp (langs[i].id, id) == 0)
      return &langs[i];
  return NULL;
}

/* The server's answer to initialize; -1 with the answer in out. */
static int
initialize (struct lsp *s, struct sb_ref *sb, struct resp *out)
{
  cleanup_free char *root = lsp_path_uri (s->project);
  json_t *params, *result = NULL, *opts = json_object ();
  json_t *st = NULL;
  struct islet_err e;

  /* typescript-language-server finds no typescript of its own outside a
     project that has one: Debian's, when the image has it */
  if (s->lang->argv == tsls_argv && islet_fs_stat (sb->ctx, sb->info.id, TSSERVER, &st, &e) == 0)
    json_object_set_new (opts, "tsserver", json_pack ("{s:s}", "path", TSSERVER));
  json_decref (st);
  params = json_pack ("{s:n,s:s,s:s,s:[{s:s,s:s}],s:o,s:{s:{s:{s:{s:b}},s:{s:b}},s:{s:{}}}}",
                      "processId", "rootUri", root, "rootPath", s->project, "workspaceFolders",
                      "uri", root, "name", s->project, "initializationOptions", opts,
                      "capabilities", "textDocument", "completion", "completionItem",
                      "snippetSupport", false, "documentSymbol",
                      "hierarchicalDocumentSymbolSupport", false, "workspace", "symbol");
  if (call (s, "initialize", params, START_TIMEOUT_MS, &result, out) < 0)
    return -1;
  s->caps = json_incref (json_object_get (result, "capabilities"));
  json_decref (result);
  notify (s, "initialized", NULL);
  return 0;
}

/* A server that died while it started: why, the missing server told apart. */
static void
start_failed (struct lsp *s, struct resp *out)
{
  if (strstr (s->why, "command not found") || strstr (s->why, "code 127"))
    reply_error (out, 400, "BAD_REQUEST",
                 "the sandbox has no %s language server: %s is not installed in its image "
                 "(islet's default image has it)",
                 s->lang->id, s->lang->what);
}

/* s started and initialized; -1 with the answer in out. */
static int
lsp_start (struct lsp *s, struct sb_ref *sb, struct resp *out)
{
  char **env = sb_env (sb, NULL, out);
  struct islet_exec_req x = { .argv = s->lang->argv,
                              .env = env,
                              .cwd = s->project,
                              /* it lives until stopped: no timeout, no bound
                                 on its output over its life */
                              .output_limit = (uint64_t) 1 << 62 };
  struct islet_err e;
  int rc;

  if (env == NULL)
    return -1;
  rc = islet_exec_open (sb->ctx, sb->info.id, &x, &s->fd, &e);
  islet_strv_free (env);
  if (rc < 0)
    {
      reply_islet_err (out, &e, false);
      return -1;
    }
  pthread_mutex_lock (&s->lock);
  rc = initialize (s, sb, out);
  if (rc < 0 && s->dead)
    start_failed (s, out);
  pthread_mutex_unlock (&s->lock);
  return rc;
}

/* Room for s (table.lock held): the sandbox's live servers bounded; past
 * LSP_ALL_MAX in all, the oldest dead one goes (*dropped). */
static int
room_locked (const char *sandbox, struct lsp **dropped)
{
  struct lsp *oldest_dead = NULL;
  size_t live = 0;

  *dropped = NULL;
  for (struct lsp *s = table.head; s; s = s->next)
    {
      bool dead = is_dead (s);
      if (dead)
        oldest_dead = s; /* newest first */
      else if (strcmp (s->sandbox, sandbox) == 0)
        live++;
    }
  if (live >= LSP_PER_SANDBOX)
    return -1;
  if (table.n >= LSP_ALL_MAX && oldest_dead && unlink_locked (oldest_dead))
    *dropped = oldest_dead;
  return table.n >= LSP_ALL_MAX ? -1 : 0;
}

/* Whether the sandbox runs its most live servers already: a start is
 * refused before its process is made (insert checks again, under the
 * same lock as it adds). */
static bool
full (const char *sandbox)
{
  size_t live = 0;

  pthread_mutex_lock (&table.lock);
  for (struct lsp *s = table.head; s; s = s->next)
    if (!is_dead (s) && strcmp (s->sandbox, sandbox) == 0)
      live++;
  pthread_mutex_unlock (&table.lock);
  return live >= LSP_PER_SANDBOX;
}

static void
reply_full (struct resp *out, const char *sandbox)
{
  reply_error (out, 429, "TOO_MANY_LSP_SERVERS",
               "sandbox '%s' runs %d language servers, the most it may: stop one first", sandbox,
               LSP_PER_SANDBOX);
}

/* ---- the request's server ---- */

struct key
{
  const struct lang *lang;
  char project[4096];
};

/* languageId and pathToProject (from the body j, else the query); -1 with
 * a 400 in out. */
static int
key_read (struct req *r, json_t *j, struct key *k, struct resp *out)
{
  const char *id = j ? json_string_value (json_object_get (j, "languageId"))
                     : req_query (r, "languageId");
  const char *p = j ? json_string_value (json_object_get (j, "pathToProject"))
                    : req_query (r, "pathToProject");
  size_t n;

  k->lang = lang_find (id);
  if (k->lang == NULL)
    {
      reply_error (out, 400, "BAD_REQUEST",
                   "languageId '%s' has no language server here: python, typescript or javascript",
                   id ? id : "");
      return -1;
    }
  if (p == NULL || *p == '\0' || strlen (p) > 2048 || text_has_control (p, strlen (p)))
    {
      reply_error (out, 400, "BAD_REQUEST", "pathToProject must be a path in the sandbox");
      return -1;
    }
  snprintf (k->project, sizeof k->project, "%s%s%s", *p == '/' ? "" : WORKDIR "/", p, "");
  n = strlen (k->project);
  while (n > 1 && k->project[n - 1] == '/')
    k->project[--n] = '\0';
  return 0;
}

/* The started server of the request, locked and referenced; NULL with
 * the answer in out. */
static struct lsp *
lsp_open (struct req *r, json_t *j, struct sb_ref *sb, struct resp *out)
{
  struct key k;
  struct lsp *s;

  if (key_read (r, j, &k, out) < 0 || tb_open (r, sb, out) < 0)
    return NULL;
  s = lsp_get (sb->info.id, k.lang, k.project);
  if (s == NULL)
    {
      reply_error (out, 404, "NOT_FOUND",
                   "no %s language server started for project '%s': start it first "
                   "(lsp.start())",
                   k.lang->id, k.project);
      return NULL;
    }
  pthread_mutex_lock (&s->lock);
  if (s->dead)
    {
      reply_dead (s, out);
      pthread_mutex_unlock (&s->lock);
      lsp_put (s);
      return NULL;
    }
  return s;
}

static void
lsp_close (struct lsp *s)
{
  pthread_mutex_unlock (&s->lock);
  lsp_put (s);
}

/* ---- the routes ---- */

static void
insert (struct lsp *s, struct resp *out)
{
  struct lsp *old, *dropped = NULL;
  bool old_last = false, kept = false;
  int rc = 0;

  pthread_mutex_lock (&table.lock);
  old = find_locked (s->sandbox, s->lang, s->project);
  if (old && !is_dead (old))
    kept = true; /* another call started it meanwhile: that one stays */
  else
    {
      if (old)
        old_last = unlink_locked (old); /* a dead one is replaced */
      rc = room_locked (s->sandbox, &dropped);
      if (rc == 0)
        {
          s->next = table.head;
          table.head = s;
          table.n++;
        }
    }
  pthread_mutex_unlock (&table.lock);
  if (old_last)
    lsp_free (old);
  if (dropped)
    lsp_free (dropped);
  if (rc < 0)
    reply_full (out, s->sandbox);
  else
    reply_json (out, 200, json_object ());
  if (rc < 0 || kept)
    lsp_free (s); /* its connection closed: the process is killed */
}

void
tb_lsp_start (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out), *st = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_lsp struct lsp *live = NULL;
  struct islet_err e;
  struct lsp *s;
  struct key k;

  if (j == NULL || key_read (r, j, &k, out) < 0 || tb_open (r, &sb, out) < 0)
    return;
  snprintf (out->note, sizeof out->note, "%s %.400s", k.lang->id, k.project);
  live = lsp_get (sb.info.id, k.lang, k.project);
  if (live && !is_dead (live))
    {
      reply_json (out, 200, json_object ()); /* started already */
      return;
    }
  if (full (sb.info.id))
    {
      reply_full (out, sb.info.id);
      return;
    }
  if (islet_fs_stat (sb.ctx, sb.info.id, k.project, &st, &e) < 0
      || !json_is_true (json_object_get (st, "is_dir")))
    {
      reply_error_daemon (out, 404, "FILE_NOT_FOUND",
                          "project '%s' is not a directory in the sandbox", k.project);
      return;
    }
  s = islet_xcalloc (1, sizeof *s);
  s->fd = -1;
  s->refs = 1; /* the table's */
  s->lang = k.lang;
  s->project = islet_xstrdup (k.project);
  s->docs = json_object ();
  pthread_mutex_init (&s->lock, NULL);
  snprintf (s->sandbox, sizeof s->sandbox, "%s", sb.info.id);
  if (lsp_start (s, &sb, out) < 0)
    {
      lsp_free (s);
      return;
    }
  insert (s, out);
}

void
tb_lsp_stop (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_sb struct sb_ref sb = { 0 };
  json_t *result = NULL;
  struct resp ignored = { 0 };
  struct lsp *s;

  if (j == NULL || (s = lsp_open (r, j, &sb, out)) == NULL)
    return;
  /* politely first; the kill follows either way */
  if (call (s, "shutdown", NULL, STOP_WAIT_MS, &result, &ignored) == 0)
    notify (s, "exit", NULL);
  free (ignored.body);
  json_decref (result);
  lsp_kill (s, "it was stopped");
  pthread_mutex_unlock (&s->lock);
  pthread_mutex_lock (&table.lock);
  (void) unlink_locked (s); /* never the last: this call holds one */
  pthread_mutex_unlock (&table.lock);
  lsp_put (s);
  reply_json (out, 200, json_object ());
}

static bool
exists (struct sb_ref *sb, const char *path)
{
  cleanup_json json_t *st = NULL;
  struct islet_err e;

  return islet_fs_stat (sb->ctx, sb->info.id, path, &st, &e) == 0;
}

/* The request's document: its path and URI; -1 with a 400 in out.  The
 * URI is percent-decoded; when that names nothing and the URI taken as
 * it is does (the SDK's unescaped path of a file whose name holds "%41"),
 * the latter. */
static int
doc_read (struct lsp *s, struct sb_ref *sb, const char *uri, char **path, char **doc_uri,
          struct resp *out)
{
  *path = uri ? lsp_uri_path (uri, s->project, true) : NULL;
  if (*path == NULL)
    {
      reply_error (out, 400, "BAD_REQUEST", "uri must be file:// and a path in the sandbox");
      return -1;
    }
  if (strchr (uri, '%'))
    {
      char *raw = lsp_uri_path (uri, s->project, false);
      if (raw && strcmp (raw, *path) != 0 && !exists (sb, *path) && exists (sb, raw))
        {
          free (*path);
          *path = raw;
          raw = NULL;
        }
      free (raw);
    }
  *doc_uri = lsp_path_uri (*path);
  return 0;
}

static void
did (struct req *r, struct resp *out, bool open)
{
  cleanup_json json_t *j = req_json_object (r, out);
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free char *path = NULL, *uri = NULL;
  struct lsp *s;

  if (j == NULL || (s = lsp_open (r, j, &sb, out)) == NULL)
    return;
  if (doc_read (s, &sb, json_string_value (json_object_get (j, "uri")), &path, &uri, out) == 0)
    {
      if (open)
        {
          if (sync_doc (s, &sb, path, uri, out) == 0)
            reply_json (out, 200, json_object ());
        }
      else
        {
          if (json_object_get (s->docs, uri))
            notify (s, "textDocument/didClose",
                    json_pack ("{s:{s:s}}", "textDocument", "uri", uri));
          json_object_del (s->docs, uri);
          reply_json (out, 200, json_object ());
        }
    }
  lsp_close (s);
}

void
tb_lsp_did_open (struct req *r, struct resp *out)
{
  did (r, out, true);
}

void
tb_lsp_did_close (struct req *r, struct resp *out)
{
  did (r, out, false);
}

void
tb_lsp_completions (struct req *r, struct resp *out)
{
  cleanup_json json_t *j = req_json_object (r, out), *result = NULL;
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free char *path = NULL, *uri = NULL;
  json_t *pos, *ctx, *params;
  struct lsp *s;

  if (j == NULL)
    return;
  pos = json_object_get (j, "position");
  if (json_integer_value (json_object_get (pos, "line")) < 0
      || json_integer_value (json_object_get (pos, "character")) < 0
      || !json_is_integer (json_object_get (pos, "line"))
      || !json_is_integer (json_object_get (pos, "character")))
    {
      reply_error (out, 400, "BAD_REQUEST", "position must be {line, character}, from 0");
      return;
    }
  if ((s = lsp_open (r, j, &sb, out)) == NULL)
    return;
  if (doc_read (s, &sb, json_string_value (json_object_get (j, "uri")), &path, &uri, out) == 0
      && sync_doc (s, &sb, path, uri, out) == 0)
    {
      params = json_pack ("{s:{s:s},s:{s:O,s:O}}", "textDocument", "uri", uri, "position", "line",
                          json_object_get (pos, "line"), "character",
                          json_object_get (pos, "character"));
      ctx = json_object_get (j, "context");
      if (json_is_integer (json_object_get (ctx, "triggerKind")))
        {
          json_t *c = json_pack ("{s:O}", "triggerKind", json_object_get (ctx, "triggerKind"));
          if (json_is_string (json_object_get (ctx, "triggerCharacter")))
            json_object_set (c, "triggerCharacter", json_object_get (ctx, "triggerCharacter"));
          json_object_set_new (params, "context", c);
        }
      if (call (s, "textDocument/completion", params, CALL_TIMEOUT_MS, &result, out) == 0)
        reply_json (out, 200, lsp_completion_list (result));
    }
  lsp_close (s);
}

void
tb_lsp_document_symbols (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_free char *path = NULL, *uri = NULL;
  cleanup_json json_t *result = NULL;
  struct lsp *s = lsp_open (r, NULL, &sb, out);

  if (s == NULL)
    return;
  if (doc_read (s, &sb, req_query (r, "uri"), &path, &uri, out) == 0
      && sync_doc (s, &sb, path, uri, out) == 0
      && call (s, "textDocument/documentSymbol",
               json_pack ("{s:{s:s}}", "textDocument", "uri", uri), CALL_TIMEOUT_MS, &result, out)
             == 0)
    reply_json (out, 200, lsp_symbols (result, uri, NULL));
  lsp_close (s);
}

/* A server without workspace/symbol (pylsp): the symbols of the documents
 * it has open whose names contain query. */
static int
open_docs_symbols (struct lsp *s, const char *query, json_t *all, struct resp *out)
{
  cleanup_json json_t *uris = json_array ();
  json_t *v, *u;
  const char *uri;
  size_t i;

  json_object_foreach (s->docs, uri, v) json_array_append_new (uris, json_string (uri));
  json_array_foreach (uris, i, u)
  {
    cleanup_json json_t *result = NULL, *some = NULL;

    if (call (s, "textDocument/documentSymbol", json_pack ("{s:{s:O}}", "textDocument", "uri", u),
              CALL_TIMEOUT_MS, &result, out)
        < 0)
      return -1;
    some = lsp_symbols (result, json_string_value (u), query);
    json_array_extend (all, some);
    if (json_array_size (all) >= LSP_ITEMS_MAX)
      break;
  }
  return 0;
}

void
tb_lsp_workspace_symbols (struct req *r, struct resp *out)
{
  cleanup_sb struct sb_ref sb = { 0 };
  cleanup_json json_t *result = NULL, *all = NULL;
  const char *query = req_query (r, "query");
  json_t *cap;
  struct lsp *s;

  if (query == NULL || (s = lsp_open (r, NULL, &sb, out)) == NULL)
    {
      if (query == NULL)
        reply_error (out, 400, "BAD_REQUEST", "query is required");
      return;
    }
  cap = json_object_get (s->caps, "workspaceSymbolProvider");
  if (cap && !json_is_false (cap))
    {
      if (call (s, "workspace/symbol", json_pack ("{s:s}", "query", query), CALL_TIMEOUT_MS,
                &result, out)
          == 0)
        reply_json (out, 200, lsp_symbols (result, NULL, NULL));
    }
  else
    {
      all = json_array ();
      if (open_docs_symbols (s, query, all, out) == 0)
        reply_json (out, 200, json_incref (all));
    }
  lsp_close (s);
}
