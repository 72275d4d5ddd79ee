/* Pull from a registry speaking the OCI distribution / Docker Registry v2
 * protocol, with libcurl.
 *
 * The manifest is fetched with every media type islet reads in Accept; an
 * index (or manifest list) is resolved to this machine's linux/<arch>
 * manifest, fetched by digest.  A pull by digest must get exactly that
 * digest; a pull by tag checks Docker-Content-Digest when the registry sends
 * it.  Blobs (config and layers) are downloaded in parallel into
 * images/tmp, and each enters the store only if its sha256 is its digest.
 *
 * Auth: an anonymous request first; on 401 the WWW-Authenticate challenge
 * says how: Bearer (a token from its realm, for scope repository:R:pull,
 * asked with the credentials of Docker's config.json `auths` if it has the
 * registry) or Basic (those credentials).  Plain HTTP only for loopback
 * registries (127.0.0.0/8, localhost, [::1]) and those the caller names
 * insecure, as Docker does.
 *
 * A pull called off (oci_stop, set by islet-image's SIGINT/SIGTERM handler)
 * stops within about a second: every transfer's progress callback aborts
 * it, a running unpacker is killed (oci_unpack.c), a pull still waiting
 * for the store's lock gives up.  It then removes every blob and layer it
 * added that no image record has, and images/tmp, so that nothing of it
 * is left; blobs an earlier, killed pull left stay for the next pull. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "islet/oci.h"
#include "islet/proto.h"
#include "islet/util.h"
#include "oci_internal.h"

#define MANIFEST_MAX (4u << 20)
#define PARALLEL 4
#define LOCK_POLL_US (100 * 1000)

volatile sig_atomic_t oci_stop;

static const char *const accept_types = "Accept: application/vnd.oci.image.manifest.v1+json, "
                                        "application/vnd.oci.image.index.v1+json, "
                                        "application/vnd.docker.distribution.manifest.v2+json, "
                                        "application/vnd.docker.distribution.manifest.list.v2+json";

static const char *const layer_types[] = {
  "application/vnd.oci.image.layer.v1.tar",
  "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.oci.image.layer.v1.tar+zstd",
  "application/vnd.docker.image.rootfs.diff.tar.gzip",
  "application/vnd.docker.image.rootfs.diff.tar",
};

struct registry
{
  char *base; /* "https://host" */
  char *repo;
  char *basic;          /* base64 user:pass from config.json, or NULL */
  char *auth;           /* the Authorization header to send, or NULL */
  pthread_mutex_t lock; /* auth, shared by the download threads */
};

struct answer
{
  long status;
  char *body;
  size_t len, max;
  int fd;          /* >= 0: the body goes here */
  char *challenge; /* WWW-Authenticate */
  char *digest;    /* Docker-Content-Digest */
  char *type;      /* Content-Type */
  bool over;
};

static size_t
on_body (char *p, size_t size, size_t n, void *user)
{
  struct answer *a = user;
  size_t len = size * n;

  if (a->fd >= 0)
    return islet_write_all (a->fd, p, len) == 0 ? len : 0;
  if (a->len + len > a->max)
    {
      a->over = true;
      return 0;
    }
  a->body = islet_xrealloc (a->body, a->len + len + 1);
  memcpy (a->body + a->len, p, len);
  a->len += len;
  a->body[a->len] = '\0';
  return len;
}

static void
keep_header (char **slot, const char *value, size_t len)
{
  while (len && (value[len - 1] == '\r' || value[len - 1] == '\n'))
    len--;
  free (*slot);
  *slot = islet_xasprintf ("%.*s", (int) len, value);
}

static size_t
on_header (char *p, size_t size, size_t n, void *user)
{
  static const struct
  {
    const char *name;
    size_t off;
  } kept[] = {
    { "www-authenticate:", offsetof (struct answer, challenge) },
    { "docker-content-digest:", offsetof (struct answer, digest) },
    { "content-type:", offsetof (struct answer, type) },
  };
  struct answer *a = user;
  size_t len = size * n;

  for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
    {
      size_t k = strlen (kept[i].name);
      if (len > k && strncasecmp (p, kept[i].name, k) == 0)
        {
          const char *v = p + k;
          while (*v == ' ')
            v++;
          keep_header ((char **) ((char *) a + kept[i].off), v, len - (size_t) (v - p));
        }
    }
  return len;
}

static void
answer_fini (struct answer *a)
{
  free (a->body);
  free (a->challenge);
  free (a->digest);
  free (a->type);
}

static void
on_stop_signal (int sig)
{
  (void) sig;
  oci_stop = 1;
}

void
islet_oci_pull_catch_signals (void)
{
  /* no SA_RESTART: the signal interrupts the wait for the unpacker */
  struct sigaction sa = { .sa_handler = on_stop_signal };

  sigemptyset (&sa.sa_mask);
  (void) sigaction (SIGINT, &sa, NULL);
  (void) sigaction (SIGTERM, &sa, NULL);
}

/* libcurl calls it at least once a second, also while nothing arrives. */
static int
on_progress (void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  (void) user, (void) dltotal, (void) dlnow, (void) ultotal, (void) ulnow;
  return oci_stop ? 1 : 0;
}

/* One GET; the status in a->status (0 when no answer came). */
static int
http_get (const char *url, const char *accept, const char *auth, struct answer *a,
          struct islet_err *err)
{
  CURL *h = curl_easy_init ();
  struct curl_slist *hdrs = NULL;
  char cerr[CURL_ERROR_SIZE] = "";
  CURLcode rc;

  if (h == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "curl_easy_init");
  if (accept)
    hdrs = curl_slist_append (hdrs, accept);
  if (auth)
    hdrs = curl_slist_append (hdrs, auth);
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt (h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt (h, CURLOPT_MAXREDIRS, 5L);
  /* a redirect may go to plain http only from a plain-http registry */
  curl_easy_setopt (h, CURLOPT_REDIR_PROTOCOLS_STR,
                    strncmp (url, "https:", 6) == 0 ? "https" : "http,https");
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, a);
  curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (h, CURLOPT_HEADERDATA, a);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, cerr);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT, 30L);
  /* a stalled transfer ends: under 1 kB/s for 60 s */
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt (h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt (h, CURLOPT_USERAGENT, "islet");
  rc = curl_easy_perform (h);
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &a->status);
  curl_slist_free_all (hdrs);
  curl_easy_cleanup (h);
  if (rc == CURLE_ABORTED_BY_CALLBACK)
    return islet_fail (err, ISLET_E_CONFLICT, 0, "GET %s: the pull was called off", url);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && a->over))
    return islet_fail (err, ISLET_E_SYSTEM, 0, "GET %s: %s", url,
                       cerr[0] ? cerr : curl_easy_strerror (rc));
  if (a->over)
    return islet_fail (err, ISLET_E_LIMIT, 0, "GET %s: the answer is over %zu bytes", url, a->max);
  return 0;
}

/* key="value" out of a challenge's parameters, malloc'd, or NULL. */
static char *
challenge_param (const char *ch, const char *key)
{
  size_t k = strlen (key);
  for (const char *p = ch; (p = strstr (p, key)) != NULL; p += k)
    if ((p == ch || p[-1] == ' ' || p[-1] == ',') && p[k] == '=' && p[k + 1] == '"')
      {
        const char *v = p + k + 2, *end = strchr (v, '"');
        if (end)
          return islet_xasprintf ("%.*s", (int) (end - v), v);
      }
  return NULL;
}

/* Answer a 401's challenge: sets reg->auth. */
static int
authenticate (struct registry *reg, const char *ch, struct islet_err *err)
{
  cleanup_free char *realm = NULL;
  cleanup_free char *service = NULL;
  cleanup_free char *url = NULL;
  cleanup_free char *basic = NULL;
  cleanup_json json_t *tok = NULL;
  struct answer a = { .fd = -1, .max = 1 << 20 };
  const char *t;
  CURL *esc;

  if (ch == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "the registry answered 401 with no challenge");
  if (strncasecmp (ch, "Basic", 5) == 0)
    {
      if (reg->basic == NULL)
        return islet_fail (
            err, ISLET_E_INVALID, 0,
            "the registry wants credentials and Docker's config.json has none for it");
      free (reg->auth);
      reg->auth = islet_xasprintf ("Authorization: Basic %s", reg->basic);
      return 0;
    }
  if (strncasecmp (ch, "Bearer", 6) != 0 || (realm = challenge_param (ch, "realm")) == NULL)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "unknown auth challenge `%s`", ch);
  if (strncmp (realm, "https://", 8) != 0 && strncmp (reg->base, "http://", 7) != 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "token realm `%s` is not https", realm);
  service = challenge_param (ch, "service");
  esc = curl_easy_init ();
  {
    char *s = service ? curl_easy_escape (esc, service, 0) : NULL;
    char *r = curl_easy_escape (esc, reg->repo, 0);
    url = islet_xasprintf ("%s%sscope=repository:%s:pull%s%s", realm,
                           strchr (realm, '?') ? "&" : "?", r, s ? "&service=" : "", s ? s : "");
    curl_free (s);
    curl_free (r);
  }
  curl_easy_cleanup (esc);
  if (reg->basic)
    basic = islet_xasprintf ("Authorization: Basic %s", reg->basic);
  if (http_get (url, NULL, basic, &a, err) < 0)
    goto out;
  if (a.status != 200)
    {
      islet_fail (err, a.status == 401 || a.status == 403 ? ISLET_E_INVALID : ISLET_E_SYSTEM, 0,
                  "token from `%s`: status %ld%s", realm, a.status,
                  reg->basic ? "" : " (no credentials for this registry in Docker's config.json)");
      goto out;
    }
  tok = json_loads (a.body ? a.body : "", 0, NULL);
  t = json_string_value (json_object_get (tok, "token"));
  if (t == NULL)
    t = json_string_value (json_object_get (tok, "access_token"));
  if (t == NULL)
    {
      islet_fail (err, ISLET_E_SYSTEM, 0, "token from `%s`: no token in the answer", realm);
      goto out;
    }
  free (reg->auth);
  reg->auth = islet_xasprintf ("Authorization: Bearer %s", t);
  answer_fini (&a);
  return 0;
out:
  answer_fini (&a);
  return -1;
}

/* GET a registry path, authenticating once on 401. */
static int
reg_get (struct registry *reg, const char *path, const char *accept, struct answer *a,
         struct islet_err *err)
{
  cleanup_free char *url = islet_xasprintf ("%s/v2/%s/%s", reg->base, reg->repo, path);

  for (int attempt = 0; attempt < 2; attempt++)
    {
      cleanup_free char *auth = NULL;
      pthread_mutex_lock (&reg->lock);
      auth = reg->auth ? islet_xstrdup (reg->auth) : NULL;
      pthread_mutex_unlock (&reg->lock);
      if (a->fd >= 0 && (ftruncate (a->fd, 0) < 0 || lseek (a->fd, 0, SEEK_SET) < 0))
        return islet_fail (err, ISLET_E_SYSTEM, errno, "truncate a download");
      a->len = 0;
      if (http_get (url, accept, auth, a, err) < 0)
        return -1;
      if (a->status != 401 || attempt == 1)
        break;
      pthread_mutex_lock (&reg->lock);
      {
        int rc = strcmp (reg->auth ? reg->auth : "", auth ? auth : "") != 0
                     ? 0 /* another thread authenticated meanwhile */
                     : authenticate (reg, a->challenge, err);
        pthread_mutex_unlock (&reg->lock);
        if (rc < 0)
          return -1;
      }
    }
  if (a->status == 401 || a->status == 403)
    return islet_fail (err, ISLET_E_INVALID, 0, "%s: access denied (status %ld)", url, a->status);
  if (a->status == 404)
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "%s: not found", url);
  if (a->status != 200)
    return islet_fail (err, ISLET_E_SYSTEM, 0, "%s: status %ld", url, a->status);
  return 0;
}

/* Docker's config.json auths entry for registry: base64 "user:pass". */
static char *
docker_creds (const char *registry)
{
  const char *dir = getenv ("DOCKER_CONFIG");
  const char *home = getenv ("HOME");
  cleanup_free char *path = dir ? islet_xasprintf ("%s/config.json", dir)
                                : islet_xasprintf ("%s/.docker/config.json", home ? home : "/root");
  cleanup_json json_t *cfg = json_load_file (path, 0, NULL);
  json_t *auths = json_object_get (cfg, "auths");
  cleanup_free char *https = islet_xasprintf ("https://%s", registry);
  const char *keys[] = { registry, https, "https://index.docker.io/v1/", "index.docker.io" };
  size_t n = strcmp (registry, "docker.io") == 0 ? 4 : 2;

  for (size_t i = 0; i < n; i++)
    {
      const char *a = json_string_value (
          json_object_get (json_object_get (auths, keys[i]), "auth"));
      if (a && *a)
        return islet_xstrdup (a);
    }
  return NULL;
}

static bool
loopback_host (const char *host)
{
  size_t n = strcspn (host, ":");
  if (host[0] == '[')
    return strncmp (host, "[::1]", 5) == 0;
  return (n == 9 && strncmp (host, "localhost", 9) == 0) || strncmp (host, "127.", 4) == 0;
}

static bool
insecure_allowed (const char *host, char *const *insecure)
{
  for (size_t i = 0; insecure && insecure[i]; i++)
    if (strcmp (insecure[i], host) == 0)
      return true;
  return loopback_host (host);
}

/* Download blob `digest` into the store (verified by add_blob). */
static int
fetch_blob (struct registry *reg, const char *state_dir, const char *digest, struct islet_err *err)
{
  cleanup_free char *tmp = islet_xasprintf ("%s/images/tmp/dl.XXXXXX", state_dir);
  cleanup_free char *path = islet_xasprintf ("blobs/%s", digest);
  cleanup_close int fd = -1;
  struct answer a = { .fd = -1 };
  int rc;

  if (!islet_digest_valid (digest))
    return islet_fail (err, ISLET_E_INVALID, 0, "blob digest `%s` is not sha256", digest);
  {
    cleanup_free char *have = islet_imgstore_blob_path (state_dir, digest);
    if (have)
      return 0; /* in the store already: verified when it entered */
  }
  fd = mkostemp (tmp, O_CLOEXEC);
  if (fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create `%s`", tmp);
  a.fd = fd;
  rc = reg_get (reg, path, NULL, &a, err);
  answer_fini (&a);
  if (rc == 0 && lseek (fd, 0, SEEK_SET) < 0)
    rc = islet_fail (err, ISLET_E_SYSTEM, errno, "rewind `%s`", tmp);
  if (rc == 0)
    rc = islet_imgstore_add_blob (state_dir, fd, digest, err);
  (void) unlink (tmp);
  return rc;
}

struct job
{
  struct registry *reg;
  const char *state_dir;
  json_t *digests; /* to fetch */
  size_t next, done, total;
  pthread_mutex_t lock;
  struct islet_err err;
  bool failed;
  FILE *progress;
};

static void *
worker (void *arg)
{
  struct job *j = arg;

  for (;;)
    {
      const char *dg;
      struct islet_err e = { 0 };
      pthread_mutex_lock (&j->lock);
      if (j->failed || j->next >= json_array_size (j->digests))
        {
          pthread_mutex_unlock (&j->lock);
          return NULL;
        }
      dg = json_string_value (json_array_get (j->digests, j->next++));
      pthread_mutex_unlock (&j->lock);
      if (fetch_blob (j->reg, j->state_dir, dg, &e) < 0)
        {
          pthread_mutex_lock (&j->lock);
          if (!j->failed)
            j->err = e;
          j->failed = true;
          pthread_mutex_unlock (&j->lock);
          return NULL;
        }
      pthread_mutex_lock (&j->lock);
      j->done++;
      if (j->progress)
        fprintf (j->progress, "islet: blob %zu/%zu %.19s verified\n", j->done, j->total, dg);
      pthread_mutex_unlock (&j->lock);
    }
}

static int
fetch_parallel (struct registry *reg, const char *state_dir, json_t *digests, FILE *progress,
                struct islet_err *err)
{
  struct job j = { .reg = reg,
                   .state_dir = state_dir,
                   .digests = digests,
                   .total = json_array_size (digests),
                   .progress = progress };
  pthread_t t[PARALLEL];
  size_t n = 0;

  pthread_mutex_init (&j.lock, NULL);
  for (; n < PARALLEL && n < j.total; n++)
    if (pthread_create (&t[n], NULL, worker, &j) != 0)
      break;
  if (n == 0 && j.total > 0)
    worker (&j);
  for (size_t i = 0; i < n; i++)
    pthread_join (t[i], NULL);
  pthread_mutex_destroy (&j.lock);
  if (j.failed)
    {
      *err = j.err;
      return -1;
    }
  return 0;
}

/* Fetch the manifest `ref` (a tag or a digest); follows an index to this
 * machine's manifest.  *digest: the manifest's digest (in the store). */
static json_t *
fetch_manifest (struct registry *reg, const char *state_dir, const char *ref, const char *want,
                char digest[ISLET_DIGEST_LEN + 1], int depth, struct islet_err *err)
{
  cleanup_free char *path = islet_xasprintf ("manifests/%s", ref);
  cleanup_free char *tmp = islet_xasprintf ("%s/images/tmp/man.XXXXXX", state_dir);
  cleanup_close int fd = -1;
  struct answer a = { .fd = -1, .max = MANIFEST_MAX };
  json_t *man = NULL;

  if (reg_get (reg, path, accept_types, &a, err) < 0)
    goto out;
  fd = mkostemp (tmp, O_CLOEXEC);
  if (fd < 0 || islet_write_all (fd, a.body ? a.body : "", a.len) < 0
      || lseek (fd, 0, SEEK_SET) < 0)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "write `%s`", tmp);
      goto out;
    }
  if (islet_digest_fd (fd, digest, NULL, err) < 0)
    goto out;
  if (want && strcmp (want, digest) != 0)
    {
      islet_fail (err, ISLET_E_INVALID, 0, "manifest `%s` has the digest `%s`: refused", want,
                  digest);
      goto out;
    }
  if (a.digest && islet_digest_valid (a.digest) && strcmp (a.digest, digest) != 0)
    {
      islet_fail (err, ISLET_E_INVALID, 0,
                  "manifest of `%s` has the digest `%s`, the registry says `%s`: refused", ref,
                  digest, a.digest);
      goto out;
    }
  if (lseek (fd, 0, SEEK_SET) < 0 || islet_imgstore_add_blob (state_dir, fd, digest, err) < 0)
    goto out;
  man = json_loadb (a.body ? a.body : "", a.len, 0, NULL);
  if (man == NULL)
    {
      islet_fail (err, ISLET_E_INVALID, 0, "manifest of `%s` is not JSON", ref);
      goto out;
    }
  if (json_object_get (man, "manifests"))
    {
      json_t *m = depth < 2 ? oci_pick_platform (man, err) : NULL;
      cleanup_free char *sub = NULL;
      if (m == NULL)
        {
          if (depth >= 2)
            islet_fail (err, ISLET_E_INVALID, 0, "image indexes nest too deep");
          json_decref (man);
          man = NULL;
          goto out;
        }
      sub = islet_xstrdup (json_string_value (json_object_get (m, "digest")) ?: "");
      json_decref (man);
      man = NULL;
      if (!islet_digest_valid (sub))
        {
          islet_fail (err, ISLET_E_INVALID, 0, "the index's manifest digest `%s` is not sha256",
                      sub);
          goto out;
        }
      man = fetch_manifest (reg, state_dir, sub, sub, digest, depth + 1, err);
    }
out:
  if (fd >= 0)
    (void) unlink (tmp);
  answer_fini (&a);
  return man;
}

static bool
layer_type_known (const char *t)
{
  for (size_t i = 0; i < sizeof layer_types / sizeof layer_types[0]; i++)
    if (t && strcmp (t, layer_types[i]) == 0)
      return true;
  return t == NULL; /* schema 2 always names it; tolerate an old registry's omission */
}

/* The bytes of an image as its manifest gives them: its config's and its
 * layers' sizes; a size missing or negative counts as past any bound. */
static uint64_t
image_bytes (json_t *man)
{
  json_t *l, *size = json_object_get (json_object_get (man, "config"), "size");
  uint64_t sum;
  size_t i;

  if (!json_is_integer (size) || json_integer_value (size) < 0)
    return UINT64_MAX;
  sum = (uint64_t) json_integer_value (size);
  json_array_foreach (json_object_get (man, "layers"), i, l)
  {
    size = json_object_get (l, "size");
    if (!json_is_integer (size) || json_integer_value (size) < 0)
      return UINT64_MAX;
    sum += (uint64_t) json_integer_value (size);
  }
  return sum;
}

/* The store's lock, polled so that a pull called off while another change
 * holds it gives up at once. */
static int
lock_store (const char *state_dir, struct islet_err *err)
{
  for (;;)
    {
      int fd = oci_store_try_begin (state_dir, err);
      if (fd >= 0 || err->errnum != EWOULDBLOCK)
        return fd;
      if (oci_stop)
        return islet_fail (err, ISLET_E_CONFLICT, 0, "the pull was called off");
      usleep (LOCK_POLL_US);
    }
}

int
islet_oci_pull (const char *state_dir, const char *text, char *const *insecure, uint64_t max_bytes,
                FILE *progress, json_t **id, struct islet_err *err)
{
  cleanup_close int lock = -1;
  cleanup_json json_t *man = NULL;
  cleanup_json json_t *before = NULL; /* the store's blobs and layers before this pull */
  cleanup_free char *name = NULL;
  struct islet_ref ref;
  struct registry reg = { 0 };
  char mdigest[ISLET_DIGEST_LEN + 1];
  json_t *layers, *l, *all = NULL, *order = NULL;
  const char *host, *cfg;
  uint64_t unpacked = 0; /* the bytes of the layers this pull unpacks */
  size_t i;
  int rc = -1;

  if (islet_ref_parse (text, &ref, err) < 0)
    return -1;
  lock = lock_store (state_dir, err);
  if (lock < 0)
    goto out;
  before = oci_store_contents (state_dir);
  host = strcmp (ref.registry, "docker.io") == 0 ? "registry-1.docker.io" : ref.registry;
  reg.base = islet_xasprintf ("%s://%s",
                              insecure_allowed (ref.registry, insecure) ? "http" : "https", host);
  reg.repo = islet_xstrdup (ref.repository);
  reg.basic = docker_creds (ref.registry);
  pthread_mutex_init (&reg.lock, NULL);
  name = islet_ref_string (&ref);
  if (progress)
    fprintf (progress, "islet: pulling %s from %s\n", name, reg.base);
  man = fetch_manifest (&reg, state_dir, ref.digest ? ref.digest : ref.tag, ref.digest, mdigest, 0,
                        err);
  if (man == NULL)
    goto out;
  cfg = json_string_value (json_object_get (json_object_get (man, "config"), "digest"));
  layers = json_object_get (man, "layers");
  if (!islet_digest_valid (cfg) || !json_is_array (layers))
    {
      islet_fail (err, ISLET_E_INVALID, 0, "manifest `%s` has no config or layers", mdigest);
      goto out;
    }
  if (max_bytes && image_bytes (man) > max_bytes)
    {
      islet_fail (err, ISLET_E_LIMIT, 0,
                  "image `%s` is %" PRIu64 " MiB, more than the %" PRIu64 " MiB allowed", name,
                  image_bytes (man) >> 20, max_bytes >> 20);
      goto out;
    }
  all = json_pack ("[s]", cfg);
  order = json_array ();
  json_array_foreach (layers, i, l)
  {
    const char *dg = json_string_value (json_object_get (l, "digest"));
    const char *mt = json_string_value (json_object_get (l, "mediaType"));
    if (!islet_digest_valid (dg) || !layer_type_known (mt))
      {
        islet_fail (err, ISLET_E_INVALID, 0, "layer %zu: %s is not a layer islet can unpack", i,
                    mt ? mt : "(no media type)");
        goto out;
      }
    json_array_append_new (all, json_string (dg));
    json_array_append_new (order, json_string (dg));
  }
  if (fetch_parallel (&reg, state_dir, all, progress, err) < 0)
    goto out;
  json_array_foreach (order, i, l)
  {
    if (oci_stop)
      goto out;
    if (progress)
      fprintf (progress, "islet: unpacking layer %zu/%zu\n", i + 1, json_array_size (order));
    if (islet_imgstore_unpack_layer_max (state_dir, json_string_value (l), max_bytes, &unpacked,
                                         err)
        < 0)
      {
        if (err->kind == ISLET_E_LIMIT)
          islet_wrap (err, "image `%s`", name);
        goto out;
      }
  }
  if (islet_imgstore_record (state_dir, name, mdigest, cfg, order, err) < 0)
    goto out;
  *id = json_string (cfg);
  rc = 0;
out:
  if (rc < 0 && oci_stop && before)
    {
      struct islet_err e;
      if (oci_store_drop_new (state_dir, before, &e) < 0)
        islet_fail (err, ISLET_E_CONFLICT, 0,
                    "the pull of `%s` was called off; removing what it "
                    "added failed: %s",
                    text, e.msg);
      else
        islet_fail (err, ISLET_E_CONFLICT, 0,
                    "the pull of `%s` was called off: nothing of it is "
                    "kept",
                    text);
    }
  else if (rc < 0 && oci_stop)
    islet_fail (err, ISLET_E_CONFLICT, 0, "the pull of `%s` was called off", text);
  json_decref (all);
  json_decref (order);
  islet_ref_fini (&ref);
  free (reg.base);
  free (reg.repo);
  free (reg.basic);
  free (reg.auth);
  return rc;
}
