/* The CLI's remote mode: the core's API (sandbox.h, client.h) over a
 * running isletd's HTTP API, with libcurl.
 *
 * Each function of struct islet_backend is one or two HTTP calls:
 *   create            POST   /api/sandbox (with islet's "limits" object)
 *   get, list         GET    /api/sandbox/{ref}, /api/sandbox?cursor=
 *   start, stop       POST   /api/sandbox/{id}/start, /stop
 *   destroy           DELETE /api/sandbox/{id}
 *   exec              POST   /v1/sandbox/{id}/exec (argv, exact bytes, the whole result;
 *                            with an output callback, "stream": output lines as they come)
 *   read, copy out    GET    /toolbox/{id}/files/download?path=
 *   write, copy in    POST   /toolbox/{id}/files/upload-v2?path=&mode= (the raw body, streamed)
 *   remove, mkdir     DELETE /toolbox/{id}/files, POST /toolbox/{id}/files/folder
 *   move              POST   /toolbox/{id}/files/move?source=&destination=
 *   stat, list        GET    /toolbox/{id}/files/info, /toolbox/{id}/files?depth=
 * so the server decides everything (the key's organization, its limits,
 * the audit log) and this file only translates.  Sandbox objects carry an
 * "islet" member with the exact limits and times; file objects are
 * Daytona's FileInfo, turned back into the core's stat objects.  One curl
 * handle, kept alive between calls and used under a lock; libcurl itself is
 * loaded (dlopen) only when a remote ctx is opened. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "islet/backend.h"
#include "islet/proto.h"
#include "islet/report.h"
#include "islet/remote.h"
#include "islet/util.h"
#include "remote_internal.h"

#define ERROR_BODY_MAX ((size_t) 64 << 10) /* of an error answer kept for its message */
#define JSON_ANSWER_MAX ((size_t) 1 << 30) /* an exec's output is bounded by its own limit */
#define LIST_PAGE 200
#define LIST_PAGES_MAX 10000

/* libcurl, loaded when a remote ctx is first opened: linked, its library
 * and the dozens it needs (TLS, HTTP/2, SSH, LDAP...) would be mapped by
 * every start of islet, local mode included, which costs it milliseconds. */
#define CURL_SONAME "libcurl.so.4"

static struct
{
  CURLcode (*global_init) (long flags);
  CURL *(*easy_init) (void);
  void (*easy_cleanup) (CURL *h);
  void (*easy_reset) (CURL *h);
  CURLcode (*easy_setopt) (CURL *h, CURLoption opt, ...);
  CURLcode (*easy_perform) (CURL *h);
  CURLcode (*easy_getinfo) (CURL *h, CURLINFO info, ...);
  const char *(*easy_strerror) (CURLcode code);
  char *(*easy_escape) (CURL *h, const char *s, int len);
  void (*free) (void *p);
  struct curl_slist *(*slist_append) (struct curl_slist *l, const char *s);
  void (*slist_free_all) (struct curl_slist *l);
} cu;
static char cu_error[256]; /* why libcurl could not be loaded; "" if it was */
static pthread_once_t cu_once = PTHREAD_ONCE_INIT;

static void
cu_load (void)
{
  void *h = dlopen (CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
  struct
  {
    const char *name;
    void **fn;
  } syms[] = {
    { "curl_global_init", (void **) &cu.global_init },
    { "curl_easy_init", (void **) &cu.easy_init },
    { "curl_easy_cleanup", (void **) &cu.easy_cleanup },
    { "curl_easy_reset", (void **) &cu.easy_reset },
    { "curl_easy_setopt", (void **) &cu.easy_setopt },
    { "curl_easy_perform", (void **) &cu.easy_perform },
    { "curl_easy_getinfo", (void **) &cu.easy_getinfo },
    { "curl_easy_strerror", (void **) &cu.easy_strerror },
    { "curl_easy_escape", (void **) &cu.easy_escape },
    { "curl_free", (void **) &cu.free },
    { "curl_slist_append", (void **) &cu.slist_append },
    { "curl_slist_free_all", (void **) &cu.slist_free_all },
  };

  if (h == NULL)
    {
      snprintf (cu_error, sizeof cu_error, "%s (install libcurl4)", dlerror ());
      return;
    }
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
    if ((*syms[i].fn = dlsym (h, syms[i].name)) == NULL)
      {
        snprintf (cu_error, sizeof cu_error, "%s has no %s", CURL_SONAME, syms[i].name);
        return;
      }
  if (cu.global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK)
    snprintf (cu_error, sizeof cu_error, "curl_global_init failed");
}

/* ---- one HTTP call ---- */

/* n bytes of data at the end of *buf, kept NUL-terminated. */
static void
append (char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
  if (*len + n + 1 > *cap)
    {
      *cap = (*len + n + 1) * 2;
      *buf = islet_xrealloc (*buf, *cap);
    }
  memcpy (*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = '\0';
}

/* Hand the complete lines of the answer so far to c->on_line; keep the
 * rest (one line is at most JSON_ANSWER_MAX). */
static int
take_lines (struct call *c, const char *p, size_t len)
{
  size_t start = 0;

  if (c->len + len > JSON_ANSWER_MAX)
    {
      c->over = true;
      return -1;
    }
  append (&c->data, &c->len, &c->cap, p, len);
  for (size_t i = 0; i < c->len; i++)
    if (c->data[i] == '\n')
      {
        if (c->on_line (c->data + start, i - start, c->line_user) < 0)
          return -1;
        start = i + 1;
      }
  memmove (c->data, c->data + start, c->len - start);
  c->len -= start;
  return 0;
}

static size_t
on_answer (char *p, size_t size, size_t n, void *user)
{
  struct call *c = user;
  size_t len = size * n, max;

  if (c->status == 0)
    cu.easy_getinfo (c->handle, CURLINFO_RESPONSE_CODE, &c->status);
  if (c->out_fd >= 0 && c->status >= 200 && c->status < 300)
    {
      if (islet_write_all (c->out_fd, p, len) < 0)
        {
          c->out_err = errno;
          return 0;
        }
      return len;
    }
  if (c->on_line && c->status >= 200 && c->status < 300)
    return take_lines (c, p, len) < 0 ? 0 : len;
  max = c->status >= 200 && c->status < 300 ? (c->max ? c->max : JSON_ANSWER_MAX) : ERROR_BODY_MAX;
  if (c->len + len > max)
    {
      c->over = true;
      return 0;
    }
  append (&c->data, &c->len, &c->cap, p, len);
  return len;
}

static size_t
on_body (char *p, size_t size, size_t n, void *user)
{
  struct call *c = user;
  ssize_t r;

  do
    r = read (c->in_fd, p, size * n);
  while (r < 0 && errno == EINTR);
  return r < 0 ? CURL_READFUNC_ABORT : (size_t) r;
}

/* The kind of an HTTP error status. */
static enum islet_errkind
status_kind (long status)
{
  switch (status)
    {
    case 400:
    case 401:
    case 403:
    case 405:
    case 422: return ISLET_E_INVALID;
    case 404: return ISLET_E_NOTFOUND;
    case 409: return ISLET_E_CONFLICT;
    case 413:
    case 429:
    case 507: return ISLET_E_LIMIT;
    default: return ISLET_E_SYSTEM;
    }
}

/* An error answer as *err: the server's own message when it sent one. */
static int
answer_error (const struct remote *rm, const struct call *c, struct islet_err *err)
{
  cleanup_json json_t *j = c->data ? json_loadb (c->data, c->len, 0, NULL) : NULL;
  const char *msg = json_string_value (json_object_get (j, "message"));

  if (c->status == 401)
    return islet_fail (err, ISLET_E_INVALID, 0, "isletd at %s refused the API key (%s)", rm->base,
                       msg ? msg : "401");
  if (msg != NULL)
    return islet_fail (err, status_kind (c->status), 0, "%s", msg);
  return islet_fail (err, status_kind (c->status), 0, "isletd answered %ld to %s %s", c->status,
                     c->method, c->path);
}

/* Run c.  0 with a 2xx answer; -1 with err set otherwise (transport
 * failures, error statuses, an answer over c->max). */
int
call_run (struct remote *rm, struct call *c, struct islet_err *err)
{
  cleanup_free char *url = islet_xasprintf ("%s%s", rm->base, c->path);
  struct curl_slist *h = NULL;
  char curl_msg[CURL_ERROR_SIZE] = "";
  struct stat st;
  CURLcode rc;
  int r = 0;

  c->status = 0;
  c->handle = rm->curl;
  pthread_mutex_lock (&rm->lock);
  cu.easy_reset (rm->curl);
  h = cu.slist_append (h, rm->auth);
  h = cu.slist_append (h, "Expect:"); /* no 100-continue round trip */
  cu.easy_setopt (rm->curl, CURLOPT_URL, url);
  cu.easy_setopt (rm->curl, CURLOPT_ERRORBUFFER, curl_msg);
  cu.easy_setopt (rm->curl, CURLOPT_NOSIGNAL, 1L);
  cu.easy_setopt (rm->curl, CURLOPT_CONNECTTIMEOUT, 10L);
  cu.easy_setopt (rm->curl, CURLOPT_WRITEFUNCTION, on_answer);
  cu.easy_setopt (rm->curl, CURLOPT_WRITEDATA, c);
  if (c->in_fd >= 0)
    {
      cu.easy_setopt (rm->curl, CURLOPT_POST, 1L);
      cu.easy_setopt (rm->curl, CURLOPT_READFUNCTION, on_body);
      cu.easy_setopt (rm->curl, CURLOPT_READDATA, c);
      if (fstat (c->in_fd, &st) == 0 && S_ISREG (st.st_mode))
        {
          off_t at = lseek (c->in_fd, 0, SEEK_CUR);
          cu.easy_setopt (rm->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                          (curl_off_t) (st.st_size - (at > 0 ? at : 0)));
        }
      else
        h = cu.slist_append (h, "Transfer-Encoding: chunked");
      h = cu.slist_append (h, "Content-Type: application/octet-stream");
    }
  else if (c->body != NULL)
    {
      cu.easy_setopt (rm->curl, CURLOPT_POSTFIELDS, c->body);
      cu.easy_setopt (rm->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) c->body_len);
      h = cu.slist_append (h, c->type ? c->type : "Content-Type: application/json");
    }
  if (strcmp (c->method, "GET") != 0 && strcmp (c->method, "POST") != 0)
    cu.easy_setopt (rm->curl, CURLOPT_CUSTOMREQUEST, c->method);
  else if (strcmp (c->method, "POST") == 0 && c->body == NULL && c->in_fd < 0)
    {
      cu.easy_setopt (rm->curl, CURLOPT_POSTFIELDS, "");
      cu.easy_setopt (rm->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) 0);
    }
  cu.easy_setopt (rm->curl, CURLOPT_HTTPHEADER, h);
  rc = cu.easy_perform (rm->curl);
  cu.easy_getinfo (rm->curl, CURLINFO_RESPONSE_CODE, &c->status);
  cu.easy_setopt (rm->curl, CURLOPT_HTTPHEADER, NULL);
  cu.slist_free_all (h);
  pthread_mutex_unlock (&rm->lock);

  if (c->over)
    r = islet_fail (err, ISLET_E_LIMIT, EFBIG, "%s %s: the answer is larger than %zu bytes",
                    c->method, c->path, c->max ? c->max : JSON_ANSWER_MAX);
  else if (c->out_err)
    r = islet_fail (err, ISLET_E_SYSTEM, c->out_err, "write");
  else if (rc != CURLE_OK && c->status == 0)
    r = islet_fail (err, ISLET_E_SYSTEM, 0, "cannot reach isletd at %s: %s", rm->base,
                    curl_msg[0] ? curl_msg : cu.easy_strerror (rc));
  else if (c->status < 200 || c->status >= 300)
    r = answer_error (rm, c, err);
  else if (rc != CURLE_OK)
    r = islet_fail (err, ISLET_E_SYSTEM, 0, "%s %s: %s", c->method, c->path,
                    curl_msg[0] ? curl_msg : cu.easy_strerror (rc));
  return r;
}

void
call_fini (struct call *c)
{
  free (c->data);
  c->data = NULL;
}

/* A call whose answer is a JSON value (*out, NULL: not kept). */
int
call_json (struct remote *rm, const char *method, const char *path, json_t *body, json_t **out,
           struct islet_err *err)
{
  cleanup_free char *text = body ? json_dumps (body, JSON_COMPACT) : NULL;
  struct call c = { .method = method, .path = path, .in_fd = -1, .out_fd = -1 };
  json_error_t je;
  int r;

  if (body != NULL && text == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "a request that is not valid UTF-8");
  c.body = text;
  c.body_len = text ? strlen (text) : 0;
  r = call_run (rm, &c, err);
  if (r == 0 && out != NULL)
    {
      *out = c.data ? json_loadb (c.data, c.len, 0, &je) : NULL;
      if (*out == NULL)
        r = islet_fail (err, ISLET_E_SYSTEM, 0, "%s %s: the answer is not JSON", method, path);
    }
  call_fini (&c);
  return r;
}

/* "/toolbox/ID/files/x?path=P" and the like: path with a query of escaped
 * values, from name, value pairs; a NULL name or value ends them (query
 * may be NULL). */
char *
path_q (struct remote *rm, const char *path, const char *const *query)
{
  char *p = islet_xstrdup (path);

  for (size_t i = 0; query && query[i] && query[i + 1]; i += 2)
    {
      char *e = cu.easy_escape (rm->curl, query[i + 1], 0);
      char *next = islet_xasprintf ("%s%c%s=%s", p, i ? '&' : '?', query[i], e);

      cu.free (e);
      free (p);
      p = next;
    }
  return p;
}

/* One escaped path segment (a sandbox reference), malloc'd. */
static char *
seg (struct remote *rm, const char *s)
{
  char *e = cu.easy_escape (rm->curl, s, 0);
  char *r = islet_xstrdup (e);
  cu.free (e);
  return r;
}

/* ---- sandboxes ---- */

static uint64_t
jint (const json_t *o, const char *k)
{
  json_int_t v = json_integer_value (json_object_get (o, k));
  return v > 0 ? (uint64_t) v : 0;
}

/* isletd's sandbox object to the core's info. */
static int
dto_info (const json_t *d, struct islet_sandbox_info *info, struct islet_err *err)
{
  const char *id = json_string_value (json_object_get (d, "id"));
  const char *name = json_string_value (json_object_get (d, "name"));
  const char *image = json_string_value (json_object_get (d, "snapshot"));
  const char *state = json_string_value (json_object_get (d, "state"));
  const json_t *is = json_object_get (d, "islet"), *l = json_object_get (is, "limits");

  if (id == NULL || strlen (id) != ISLET_ID_LEN || !json_is_object (l))
    return islet_fail (err, ISLET_E_SYSTEM, 0, "isletd sent a sandbox without islet's fields");
  memset (info, 0, sizeof *info);
  snprintf (info->id, sizeof info->id, "%s", id);
  snprintf (info->name, sizeof info->name, "%s", name ? name : id);
  snprintf (info->image, sizeof info->image, "%s", image ? image : "host");
  info->state = state && strcmp (state, "started") == 0  ? ISLET_SB_RUNNING
                : state && strcmp (state, "paused") == 0 ? ISLET_SB_PAUSED
                                                         : ISLET_SB_STOPPED;
  info->archived = state && strcmp (state, "archived") == 0;
  islet_limits_read (l, &info->limits);
  info->uid_base = (uint32_t) jint (is, "uid_base");
  info->created = (int64_t) jint (is, "created");
  info->created_nsec = (uint32_t) jint (is, "created_nsec");
  info->disk_enforced = json_is_true (json_object_get (is, "disk_enforced"));
  if (islet_net_read (json_object_get (is, "network"), &info->net, err) < 0)
    return islet_wrap (err, "isletd sent a sandbox's network");
  return 0;
}

/* A create's network as Daytona's fields (none: none of them, so that
 * isletd's --default-network applies, as for any Daytona client). */
static void
network_fields (const struct islet_net *net, json_t *body)
{
  struct islet_net_entry e[ISLET_NET_ENTRIES_MAX];
  struct islet_err ignored;
  char cidrs[ISLET_NET_ALLOW_MAX] = "", names[ISLET_NET_ALLOW_MAX] = "";
  size_t nc = 0, nn = 0;
  unsigned count = 0;

  if (net->mode == ISLET_NET_ALL)
    json_object_set_new (body, "networkBlockAll", json_false ());
  if (net->proxy[0])
    json_object_set_new (body, "outboundProxyUrl", json_string (net->proxy));
  if (net->mode != ISLET_NET_ALLOW
      || islet_net_parse (net, e, ISLET_NET_ENTRIES_MAX, &count, &ignored) < 0)
    return;
  for (unsigned i = 0; i < count; i++)
    {
      char a[INET_ADDRSTRLEN];
      if (e[i].is_cidr && nc < sizeof cidrs)
        nc += (size_t) snprintf (cidrs + nc, sizeof cidrs - nc, "%s%s/%u", nc ? "," : "",
                                 inet_ntop (AF_INET, &e[i].addr, a, sizeof a), e[i].prefix);
      else if (!e[i].is_cidr && nn < sizeof names)
        nn += (size_t) snprintf (names + nn, sizeof names - nn, "%s%s%s", nn ? "," : "",
                                 e[i].wildcard ? "*." : "", e[i].name);
    }
  if (nc)
    json_object_set_new (body, "networkAllowList", json_string (cidrs));
  if (nn)
    json_object_set_new (body, "domainAllowList", json_string (names));
}

static int
r_list (void *self, struct islet_sandbox_info **out, size_t *n, struct islet_err *err)
{
  struct remote *rm = self;
  cleanup_free char *cursor = NULL;
  struct islet_sandbox_info *v = NULL;
  size_t count = 0;
  char limit[16];

  snprintf (limit, sizeof limit, "%d", LIST_PAGE);
  for (int page = 0; page < LIST_PAGES_MAX; page++)
    {
      /* the first page has no cursor: its NULL ends the query */
      cleanup_free char *path = path_q (rm, "/api/sandbox",
                                        (const char *[]){ "limit", limit, "cursor", cursor, NULL });
      cleanup_json json_t *j = NULL;
      json_t *items, *e, *next;
      size_t i;

      if (call_json (rm, "GET", path, NULL, &j, err) < 0)
        {
          free (v);
          return -1;
        }
      items = json_object_get (j, "items");
      v = islet_xrealloc (v, (count + json_array_size (items) + 1) * sizeof *v);
      json_array_foreach (items, i, e)
      {
        if (dto_info (e, &v[count], err) < 0)
          {
            free (v);
            return -1;
          }
        count++;
      }
      next = json_object_get (j, "nextCursor");
      free (cursor);
      cursor = json_is_string (next) ? islet_xstrdup (json_string_value (next)) : NULL;
      if (cursor == NULL)
        break;
    }
  *out = v;
  *n = count;
  return 0;
}

static int
r_get (void *self, const char *ref, struct islet_sandbox_info *out, struct islet_err *err)
{
  struct remote *rm = self;
  cleanup_free char *s = NULL;
  cleanup_free char *path = NULL;
  cleanup_free struct islet_sandbox_info *all = NULL;
  cleanup_json json_t *j = NULL;
  size_t n = 0, hits = 0, hit = 0, len;

  if (ref == NULL || *ref == '\0')
    return islet_fail (err, ISLET_E_INVALID, 0, "empty sandbox id");
  s = seg (rm, ref);
  path = islet_xasprintf ("/api/sandbox/%s", s);
  if (call_json (rm, "GET", path, NULL, &j, err) == 0)
    return dto_info (j, out, err);
  len = strlen (ref);
  if (err->kind != ISLET_E_NOTFOUND || len >= ISLET_ID_LEN
      || strspn (ref, "0123456789abcdef") != len)
    return -1;
  /* a unique prefix of an id, as the local mode takes */
  if (r_list (self, &all, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (strncmp (all[i].id, ref, len) == 0)
      {
        hits++;
        hit = i;
      }
  if (hits > 1)
    return islet_fail (err, ISLET_E_INVALID, 0, "`%s` matches %zu sandboxes: give more of the id",
                       ref, hits);
  if (hits == 0)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox `%s`", ref);
  *out = all[hit];
  return 0;
}

static int
r_create (void *self, const struct islet_create_opts *o, char id[ISLET_ID_LEN + 1],
          struct islet_err *err)
{
  struct remote *rm = self;
  cleanup_json json_t *body = json_pack ("{s:o,s:i}", "limits", islet_limits_json (&o->limits),
                                         "autoStopInterval", 0);
  cleanup_json json_t *j = NULL;
  struct islet_sandbox_info info;

  /* isletd's volumes have ids of their own (Daytona's volumeId), which
     the CLI's names do not give */
  if (o->n_volumes)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "volumes are mounted by name on a local state directory only, not over "
                       "--url (use the Daytona API's volumeId there)");
  if (o->fork)
    return islet_fail (err, ISLET_E_INVALID, 0, "fork acts on a local state directory, not on %s",
                       rm->base);
  if (o->name)
    json_object_set_new (body, "name", json_string (o->name));
  if (o->snapshot)
    json_object_set_new (body, "snapshot", json_string (o->snapshot));
  if (o->image)
    json_object_set_new (body, "snapshot", json_string (o->image));
  network_fields (&o->net, body);
  if (call_json (rm, "POST", "/api/sandbox", body, &j, err) < 0 || dto_info (j, &info, err) < 0)
    return -1;
  memcpy (id, info.id, ISLET_ID_LEN + 1);
  return 0;
}

/* POST /api/sandbox/{id}/verb for the sandbox ref names. */
static int
lifecycle (struct remote *rm, const char *ref, const char *verb, struct islet_err *err)
{
  struct islet_sandbox_info info;
  cleanup_free char *path = NULL;

  if (r_get (rm, ref, &info, err) < 0)
    return -1;
  if (strcmp (verb, "start") == 0 && info.state == ISLET_SB_RUNNING)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox `%s` is already running", info.id);
  if (strcmp (verb, "stop") == 0 && info.state == ISLET_SB_STOPPED)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox `%s` is not running", info.id);
  if (strcmp (verb, "pause") == 0 && info.state == ISLET_SB_PAUSED)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "sandbox `%s` is already paused", info.id);
  path = islet_xasprintf ("/api/sandbox/%s/%s", info.id, verb);
  return call_json (rm, "POST", path, NULL, NULL, err);
}

static int
r_start (void *self, const char *ref, struct islet_err *err)
{
  return lifecycle (self, ref, "start", err);
}

static int
r_stop (void *self, const char *ref, struct islet_err *err)
{
  return lifecycle (self, ref, "stop", err);
}

static int
r_pause (void *self, const char *ref, struct islet_err *err)
{
  return lifecycle (self, ref, "pause", err);
}

/* isletd's start of a paused sandbox resumes it */
static int
r_resume (void *self, const char *ref, struct islet_err *err)
{
  return lifecycle (self, ref, "start", err);
}

static int
r_resize (void *self, const char *ref, const struct islet_resize *r, struct islet_err *err)
{
  (void) self, (void) ref, (void) r;
  return islet_fail (err, ISLET_E_INVALID, 0,
                     "resize acts on a local state directory, not over isletd (use the "
                     "Daytona API's resize)");
}

static int
r_set_network (void *self, const char *ref, const struct islet_net *net, struct islet_err *err)
{
  (void) self, (void) ref, (void) net;
  return islet_fail (err, ISLET_E_INVALID, 0,
                     "a network change acts on a local state directory, not over isletd (use "
                     "the Daytona API's updateNetworkSettings)");
}

static int
r_destroy (void *self, const char *ref, bool force, struct islet_err *err)
{
  struct remote *rm = self;
  struct islet_sandbox_info info;
  cleanup_free char *path = NULL;

  if (r_get (rm, ref, &info, err) < 0)
    return -1;
  if ((info.state == ISLET_SB_RUNNING || info.state == ISLET_SB_PAUSED) && !force)
    return islet_fail (err, ISLET_E_CONFLICT, 0,
                       "sandbox `%s` is running: stop it first or force removal", info.id);
  path = islet_xasprintf ("/api/sandbox/%s", info.id);
  return call_json (rm, "DELETE", path, NULL, NULL, err);
}

/* ---- commands ---- */

/* A streamed exec's lines, as they come. */
struct exec_stream
{
  const struct islet_exec_req *req;
  struct islet_exec_result *out;
  size_t out_cap, err_cap;
  bool ended;
  struct islet_err end_err; /* an {"error":...} line */
  bool failed;
};

static int
exec_line (const char *line, size_t len, void *user)
{
  struct exec_stream *es = user;
  cleanup_json json_t *j = json_loadb (line, len, 0, NULL);
  json_t *f;
  struct islet_err err;

  if (!json_is_object (j) || es->ended)
    return -1;
  if ((f = json_object_get (j, "result")) != NULL)
    {
      islet_exec_stats_read (f, es->out);
      es->ended = true;
      return 0;
    }
  if ((f = json_object_get (j, "error")) != NULL)
    {
      const char *m = json_string_value (json_object_get (f, "message"));
      const char *k = json_string_value (json_object_get (f, "kind"));
      enum islet_errkind kind = ISLET_E_SYSTEM;

      /* the kind by the name the server gave it */
      for (int e = ISLET_E_INVALID; k && e <= ISLET_E_SYSTEM; e++)
        if (strcmp (k, islet_errkind_name ((enum islet_errkind) e)) == 0)
          kind = (enum islet_errkind) e;
      islet_fail (&es->end_err, kind, 0, "%s", m ? m : "the command failed");
      es->failed = es->ended = true;
      return 0;
    }
  for (int s = 0; s < 2; s++)
    {
      const char *b64 = json_string_value (json_object_get (j, s == 0 ? "stdout" : "stderr"));
      cleanup_free char *data = NULL;
      size_t n = 0;

      if (b64 == NULL)
        continue;
      if (islet_base64_decode (b64, strlen (b64), SIZE_MAX, (unsigned char **) &data, &n, &err) < 0)
        return -1;
      if (s == 0)
        append (&es->out->out, &es->out->out_len, &es->out_cap, data, n);
      else
        append (&es->out->errout, &es->out->err_len, &es->err_cap, data, n);
      es->req->on_output (s == 0 ? ISLET_STDOUT : ISLET_STDERR, data, n, es->req->user);
    }
  return 0;
}

/* exec with "stream": the output reaches req->on_output as it comes. */
static int
exec_streamed (struct remote *rm, const char *path, json_t *body, const struct islet_exec_req *req,
               struct islet_exec_result *out, struct islet_err *err)
{
  struct exec_stream es = { .req = req, .out = out };
  cleanup_free char *text = NULL;
  struct call c = { .method = "POST",
                    .path = path,
                    .in_fd = -1,
                    .out_fd = -1,
                    .on_line = exec_line,
                    .line_user = &es };
  int r;

  json_object_set_new (body, "stream", json_true ());
  text = json_dumps (body, JSON_COMPACT);
  c.body = text;
  c.body_len = strlen (text);
  r = call_run (rm, &c, err);
  call_fini (&c);
  if (r == 0 && es.failed)
    {
      *err = es.end_err;
      r = -1;
    }
  else if (r == 0 && !es.ended)
    r = islet_fail (err, ISLET_E_SYSTEM, 0, "isletd ended the command's answer before its result");
  if (r < 0)
    {
      islet_exec_result_fini (out);
      return -1;
    }
  if (out->out == NULL)
    out->out = islet_xstrdup ("");
  if (out->errout == NULL)
    out->errout = islet_xstrdup ("");
  return 0;
}

static int
r_exec (void *self, const char *id, const struct islet_exec_req *req, struct islet_exec_result *out,
        struct islet_err *err)
{
  struct remote *rm = self;
  cleanup_free char *path = islet_xasprintf ("/v1/sandbox/%s/exec", id);
  cleanup_json json_t *body = json_pack ("{s:[],s:[],s:I,s:I}", "argv", "env", "timeout_ms",
                                         (json_int_t) req->timeout_ms, "output_limit",
                                         (json_int_t) req->output_limit);
  cleanup_json json_t *j = NULL;
  const char *o, *e;

  memset (out, 0, sizeof *out);
  if (req->argv == NULL || req->argv[0] == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "no command to run");
  for (size_t i = 0; req->argv[i]; i++)
    if (json_array_append_new (json_object_get (body, "argv"), json_string (req->argv[i])) < 0)
      return islet_fail (err, ISLET_E_INVALID, 0, "argument %zu is not valid UTF-8", i);
  for (size_t i = 0; req->env && req->env[i]; i++)
    if (json_array_append_new (json_object_get (body, "env"), json_string (req->env[i])) < 0)
      return islet_fail (err, ISLET_E_INVALID, 0, "environment entry %zu is not valid UTF-8", i);
  if (req->cwd)
    json_object_set_new (body, "cwd", json_string (req->cwd));
  if (req->stdin_data)
    {
      cleanup_free char *b = islet_base64 ((const unsigned char *) req->stdin_data, req->stdin_len);
      json_object_set_new (body, "stdin", json_string (b));
    }
  if (req->on_output)
    return exec_streamed (rm, path, body, req, out, err);
  if (call_json (rm, "POST", path, body, &j, err) < 0)
    return -1;
  o = json_string_value (json_object_get (j, "stdout"));
  e = json_string_value (json_object_get (j, "stderr"));
  if (o == NULL || e == NULL
      || islet_base64_decode (o, strlen (o), SIZE_MAX, (unsigned char **) &out->out, &out->out_len,
                              err)
             < 0
      || islet_base64_decode (e, strlen (e), SIZE_MAX, (unsigned char **) &out->errout,
                              &out->err_len, err)
             < 0)
    {
      islet_exec_result_fini (out);
      return islet_fail (err, ISLET_E_SYSTEM, 0, "isletd sent an exec result without its output");
    }
  islet_exec_stats_read (j, out);
  return 0;
}

static void
r_free (void *self)
{
  struct remote *rm = self;

  cu.easy_cleanup (rm->curl);
  pthread_mutex_destroy (&rm->lock);
  free (rm->base);
  free (rm->auth);
  free (rm);
}

static const struct islet_backend remote_ops = {
  .kind = "isletd",
  .create = r_create,
  .get = r_get,
  .list = r_list,
  .start = r_start,
  .stop = r_stop,
  .pause = r_pause,
  .resume = r_resume,
  .resize = r_resize,
  .set_network = r_set_network,
  .destroy = r_destroy,
  .exec = r_exec,
  .fs_read = r_fs_read,
  .fs_copy_in = r_fs_copy_in,
  .fs_write = r_fs_write,
  .fs_copy_out = r_fs_copy_out,
  .fs_remove = r_fs_remove,
  .fs_mkdir = r_fs_mkdir,
  .fs_move = r_fs_move,
  .fs_stat = r_fs_stat,
  .fs_list = r_fs_list,
  .free = r_free,
};

int
islet_remote_open (const char *url, const char *key, struct islet_ctx **out, struct islet_err *err)
{
  struct remote *rm;
  size_t len;

  if (url == NULL || (strncmp (url, "http://", 7) != 0 && strncmp (url, "https://", 8) != 0))
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "isletd URL `%s` must start with http:// or https://", url ? url : "");
  if (key == NULL || *key == '\0' || strpbrk (key, "\r\n") != NULL)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "no API key for %s: set ISLET_API_KEY (isletd wrote its first one to "
                       "<state-dir>/api-key)",
                       url);
  pthread_once (&cu_once, cu_load);
  if (cu_error[0])
    return islet_fail (err, ISLET_E_SYSTEM, 0, "cannot load %s: %s", CURL_SONAME, cu_error);
  rm = islet_xcalloc (1, sizeof *rm);
  rm->curl = cu.easy_init ();
  if (rm->curl == NULL)
    {
      free (rm);
      return islet_fail (err, ISLET_E_SYSTEM, 0, "curl_easy_init failed");
    }
  pthread_mutex_init (&rm->lock, NULL);
  rm->base = islet_xstrdup (url);
  len = strlen (rm->base);
  while (len > 0 && rm->base[len - 1] == '/')
    rm->base[--len] = '\0';
  if (len >= 4 && strcmp (rm->base + len - 4, "/api") == 0)
    rm->base[len - 4] = '\0';
  rm->auth = islet_xasprintf ("Authorization: Bearer %s", key);
  *out = islet_ctx_new_backend (&remote_ops, rm, rm->base);
  return 0;
}

/* The remote behind ctx, or NULL with the error (a state directory's ctx). */
static struct remote *
remote_of (struct islet_ctx *ctx, struct islet_err *err)
{
  if (islet_ctx_backend (ctx) != &remote_ops)
    {
      islet_fail (err, ISLET_E_INVALID, 0, "this needs a running isletd (--url)");
      return NULL;
    }
  return islet_ctx_backend_self (ctx);
}

int
islet_remote_get_json (struct islet_ctx *ctx, const char *path, const char *const *query,
                       json_t **out, struct islet_err *err)
{
  struct remote *rm = remote_of (ctx, err);
  cleanup_free char *p = NULL;

  if (rm == NULL)
    return -1;
  p = path_q (rm, path, query);
  return call_json (rm, "GET", p, NULL, out, err);
}

int
islet_remote_post_json (struct islet_ctx *ctx, const char *path, json_t *body, json_t **out,
                        struct islet_err *err)
{
  struct remote *rm = remote_of (ctx, err);

  return rm ? call_json (rm, "POST", path, body, out, err) : -1;
}
