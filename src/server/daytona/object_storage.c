/* Object storage for build contexts.  The Daytona SDK's Image.addLocalFile
 * and addLocalDir (and the pip helpers' requirement files) send each local
 * path as a tar: GET /api/object-storage/push-access hands out
 * credentials, bucket and address; the SDK's S3 client then asks
 * ListObjectsV2 whether <organizationId>/<hash>/ holds anything and, if
 * not, uploads <organizationId>/<hash>/context.tar with PutObject (or,
 * past 5 MiB, CreateMultipartUpload, UploadPart, CompleteMultipartUpload);
 * the build names the hashes in buildInfo.contextHashes (build.c).
 *
 * This is the S3 subset it needs, under /object-storage/<bucket>/<key>
 * (path-style): ListObjectsV2, PutObject, the three multipart calls and
 * AbortMultipartUpload, nothing else.  Each request must be signed (AWS
 * Signature V4 in its Authorization header, object_storage_sig.c) with
 * credentials of push-access: the access key names the API key and an
 * expiry an hour away, the secret is an HMAC of the access key under the
 * server's secret (preview.key), so nothing is stored per credential and
 * a revoked API key's credentials stop working at once.  The body must be
 * the one signed: x-amz-content-sha256 is its SHA-256 (UNSIGNED-PAYLOAD
 * and streaming signatures are refused), checked before the object is
 * kept.
 *
 * An API key's objects are <state>/objects/<key id>/data/<key>, another
 * key's never reachable (the key id comes from the verified credential,
 * and the object key's path segments are plain names).  Bodies are
 * written to an unnamed file (O_TMPFILE) in .tmp as they arrive, and named
 * and renamed into place once whole and verified.  What a key keeps (objects, parts of uploads,
 * bodies arriving) is bounded by its disk quota (--default-max-disk-mb when it has none of its own,
 * else OBJ_DEFAULT_MAX); the objects are a cache of what clients hold, so when a new body does not
 * fit, the key's objects least recently listed or built from (none within IDLE_S) make room. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "islet/util.h"
#include "object_storage.h"
#include "server.h"

#define CRED_TTL_S 3600
#define OBJ_DEFAULT_MAX ((uint64_t) 1 << 30)
#define RESERVATIONS_MAX 64
#define STALE_S (24 * 3600) /* an upload not completed in a day is dropped */
/* An object not listed or built from for this long may be dropped to make
 * room for a new one (the SDK uploads a context again when it is gone). */
#define IDLE_S 600
#define EVICT_SCAN_MAX 10000

/* ---- credentials ---- */

/* hex HMAC-SHA-256 of the access key under the server's secret */
static void
cred_secret (const struct srv *srv, const char *access, char out[65])
{
  unsigned char d[32];
  unsigned len = sizeof d;
  cleanup_free char *msg = islet_xasprintf ("islet object storage\n%s", access);

  HMAC (EVP_sha256 (), srv->preview_key, sizeof srv->preview_key, (const unsigned char *) msg,
        strlen (msg), d, &len);
  for (int i = 0; i < 32; i++)
    snprintf (out + 2 * i, 3, "%02x", d[i]);
}

/* ISLET-<key id>-<expiry>-<nonce>: the API key, if the credential is
 * still good. */
int
obj_cred_check (struct srv *srv, const char *access, int64_t *key_id, char secret[65],
                struct islet_err *err)
{
  long long id, exp;
  char nonce[17];
  int used = 0;

  if (sscanf (access, "ISLET-%lld-%lld-%16[0-9a-f]%n", &id, &exp, nonce, &used) != 3
      || access[used] != '\0' || strlen (nonce) != 16)
    return islet_fail (err, ISLET_E_INVALID, 0, "the access key %.64s is not one of islet's",
                       access);
  if (exp < now_s ())
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "the access key has expired: ask /object-storage/push-access again");
  if (islet_store_key_valid (srv->store, id, err) < 0)
    return islet_wrap (err, "the access key's API key");
  *key_id = id;
  cred_secret (srv, access, secret);
  return 0;
}

static void prune_stale (const char *dir);

void
api_object_storage_push_access (struct req *r, struct resp *out)
{
  const char *host = req_header (r, "Host");
  unsigned char rnd[8];
  char nonce[17], secret[65];
  cleanup_free char *access = NULL, *url = NULL, *org = NULL, *dir = NULL;

  if (getrandom (rnd, sizeof rnd, 0) != sizeof rnd)
    {
      reply_error (out, 500, "INTERNAL_ERROR", "getrandom: %s", strerror (errno));
      return;
    }
  for (int i = 0; i < 8; i++)
    snprintf (nonce + 2 * i, 3, "%02x", rnd[i]);
  access = islet_xasprintf ("ISLET-%lld-%lld-%s", (long long) r->key_id,
                            (long long) (now_s () + CRED_TTL_S), nonce);
  cred_secret (r->srv, access, secret);
  url = host ? islet_xasprintf ("http://%s/object-storage", host)
             : islet_xasprintf ("%s/object-storage", r->srv->url ? r->srv->url : "");
  org = islet_xasprintf ("key-%lld", (long long) r->key_id);
  dir = islet_xasprintf ("%s/objects/%lld", r->srv->state_dir, (long long) r->key_id);
  prune_stale (dir);
  reply_json (out, 200,
              json_pack ("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "accessKey", access, "secret", secret,
                         "sessionToken", "", "storageUrl", url, "organizationId", org, "bucket",
                         OBJ_BUCKET, "region", OBJ_REGION));
}

/* ---- the key's space ---- */

static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static struct
{
  int64_t key_id;
  uint64_t bytes;
} reserved[RESERVATIONS_MAX];

/* Bytes of the regular files under dirfd (closed), depth bounded. */
static uint64_t
du_fd (int dirfd, unsigned depth)
{
  DIR *d = fdopendir (dirfd);
  struct dirent *e;
  uint64_t sum = 0;

  if (d == NULL)
    {
      close (dirfd);
      return 0;
    }
  while ((e = readdir (d)) != NULL)
    {
      struct stat st;
      /* bodies arriving are counted by their reservations */
      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0
          || (depth == 0 && strcmp (e->d_name, ".tmp") == 0)
          || fstatat (dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      if (S_ISREG (st.st_mode))
        sum += (uint64_t) st.st_size;
      else if (S_ISDIR (st.st_mode) && depth < OBJ_DEPTH_MAX + 2)
        {
          int fd = openat (dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (fd >= 0)
            sum += du_fd (fd, depth + 1);
        }
    }
  closedir (d);
  return sum;
}

struct idle
{
  char *rel; /* under data/ */
  time_t mtime;
  uint64_t size;
};

static int
idle_cmp (const void *a, const void *b)
{
  const struct idle *x = a, *y = b;
  return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

/* The objects under dirfd (closed; rel: its path under data/) last used
 * before `before`, into *v. */
static void
collect_idle (int dirfd, const char *rel, unsigned depth, time_t before, struct idle **v, size_t *n)
{
  DIR *d = fdopendir (dirfd);
  struct dirent *e;

  if (d == NULL)
    {
      close (dirfd);
      return;
    }
  while ((e = readdir (d)) != NULL && *n < EVICT_SCAN_MAX)
    {
      struct stat st;
      cleanup_free char *p = NULL;
      if (e->d_name[0] == '.' || fstatat (dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      p = *rel ? islet_xasprintf ("%s/%s", rel, e->d_name) : islet_xstrdup (e->d_name);
      if (S_ISDIR (st.st_mode) && depth < OBJ_DEPTH_MAX)
        {
          int fd = openat (dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (fd >= 0)
            collect_idle (fd, p, depth + 1, before, v, n);
        }
      else if (S_ISREG (st.st_mode) && st.st_mtime < before)
        {
          *v = islet_xrealloc (*v, (*n + 1) * sizeof **v);
          (*v)[(*n)++] = (struct idle){ islet_take_ptr (&p), st.st_mtime, (uint64_t) st.st_size };
        }
    }
  closedir (d);
}

/* Drop the key's least recently used idle objects until want bytes are
 * free; the bytes freed. */
static uint64_t
evict (const char *dir, uint64_t want)
{
  cleanup_free char *data = islet_xasprintf ("%s/data", dir);
  cleanup_close int dfd = open (data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct idle *v = NULL;
  size_t n = 0;
  uint64_t freed = 0;

  if (dfd < 0)
    return 0;
  collect_idle (dup (dfd), "", 0, time (NULL) - IDLE_S, &v, &n);
  if (n)
    qsort (v, n, sizeof *v, idle_cmp);
  for (size_t i = 0; i < n; i++)
    {
      if (freed < want && unlinkat (dfd, v[i].rel, 0) == 0)
        {
          freed += v[i].size;
          /* the object's directories, when it was their last */
          for (char *s = strrchr (v[i].rel, '/'); s; s = strrchr (v[i].rel, '/'))
            {
              *s = '\0';
              if (unlinkat (dfd, v[i].rel, AT_REMOVEDIR) < 0)
                break;
            }
        }
      free (v[i].rel);
    }
  free (v);
  return freed;
}

/* Take n bytes of the key's space (what it keeps, plus what is arriving):
 * 0, or -1 with err saying how much is left. */
int
obj_reserve (const struct owner *k, const char *dir, uint64_t n, struct islet_err *err)
{
  struct islet_quota q = { 0 };
  uint64_t limit, used, pending = 0;
  int fd, slot = -1;

  if (owned_quota (k, &q, err) < 0)
    return -1;
  limit = q.disk_mb > 0 ? (uint64_t) q.disk_mb << 20 : OBJ_DEFAULT_MAX;
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  pthread_mutex_lock (&reserve_lock);
  used = fd >= 0 ? du_fd (fd, 0) : 0;
  for (int i = 0; i < RESERVATIONS_MAX; i++)
    if (reserved[i].bytes && reserved[i].key_id == k->key_id)
      pending += reserved[i].bytes;
    else if (reserved[i].bytes == 0 && slot < 0)
      slot = i;
  if (slot >= 0 && used + pending + n > limit)
    {
      uint64_t freed = evict (dir, used + pending + n - limit);
      used = freed < used ? used - freed : 0;
    }
  if (slot >= 0 && used + pending + n <= limit)
    reserved[slot].key_id = k->key_id, reserved[slot].bytes = n;
  pthread_mutex_unlock (&reserve_lock);
  if (slot < 0)
    return islet_fail (err, ISLET_E_LIMIT, 0,
                       "%d uploads are under way: try again when one is done", RESERVATIONS_MAX);
  if (used + pending + n > limit)
    return islet_fail (err, ISLET_E_LIMIT, EDQUOT,
                       "the key's disk quota of %llu bytes has %llu left for objects; this body "
                       "is %llu bytes",
                       (unsigned long long) limit,
                       (unsigned long long) (used + pending < limit ? limit - used - pending : 0),
                       (unsigned long long) n);
  return 0;
}

void
obj_release (int64_t key_id, uint64_t n)
{
  if (n == 0)
    return;
  pthread_mutex_lock (&reserve_lock);
  for (int i = 0; i < RESERVATIONS_MAX; i++)
    if (reserved[i].key_id == key_id && reserved[i].bytes == n)
      {
        reserved[i].bytes = 0;
        break;
      }
  pthread_mutex_unlock (&reserve_lock);
}

/* Drop bodies and uploads a killed isletd or a client that went away left
 * (older than a day). */
static void
prune_stale (const char *dir)
{
  static const char *const subs[] = { ".tmp", ".uploads" };

  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
    {
      cleanup_free char *p = islet_xasprintf ("%s/%s", dir, subs[i]);
      cleanup_dir DIR *d = opendir (p);
      struct dirent *e;
      while (d && (e = readdir (d)) != NULL)
        {
          struct stat st;
          cleanup_free char *f = islet_xasprintf ("%s/%s", p, e->d_name);
          struct islet_err ignored;
          if (e->d_name[0] != '.' && lstat (f, &st) == 0 && st.st_mtime < now_s () - STALE_S)
            (void) !islet_rm_rf (f, &ignored);
        }
    }
}

/* An object key is plain names separated by `/`: no `.`, `..` or empty
 * segment, nothing but letters, digits, `.`, `_`, `-`. */
bool
obj_key_ok (const char *key)
{
  size_t depth = 0;

  if (key == NULL || *key == '\0' || strlen (key) > OBJ_KEY_MAX_LEN)
    return false;
  for (const char *p = key; *p;)
    {
      size_t n = strspn (p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
      if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')
          || ++depth > OBJ_DEPTH_MAX)
        return false;
      p += n;
      if (*p == '/' && p[1] != '\0')
        p++;
      else if (*p != '\0')
        return false;
    }
  return true;
}

int
object_storage_context_path (struct srv *srv, int64_t key_id, const char *hash, char **path,
                             struct islet_err *err)
{
  struct stat st;
  size_t n = strspn (hash, "0123456789abcdef");

  if (n == 0 || n > 64 || hash[n] != '\0')
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "buildInfo.contextHashes: `%.80s` is not a context's hex hash", hash);
  *path = islet_xasprintf ("%s/objects/%lld/data/key-%lld/%s/context.tar", srv->state_dir,
                           (long long) key_id, (long long) key_id, hash);
  if (stat (*path, &st) < 0 || !S_ISREG (st.st_mode))
    {
      free (islet_take_ptr (path));
      return islet_fail (err, ISLET_E_INVALID, 0,
                         "buildInfo.contextHashes: no context %s was uploaded by this key", hash);
    }
  /* used now: the last to be dropped for room */
  (void) utimensat (AT_FDCWD, *path, NULL, 0);
  return 0;
}
