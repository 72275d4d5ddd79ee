/* The S3 requests of object storage (see object_storage.c): one streaming
 * route whose begin checks the signature and picks the operation from the
 * method and query, whose pieces go to a file (an object or a part) or, for
 * CompleteMultipartUpload's small XML, to memory, hashed as they come; its
 * end keeps the result only when the body is the signed one.  Answers and
 * errors are S3's XML. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "islet/util.h"
#include "object_storage.h"
#include "server.h"

#define LIST_MAX 1000
#define PARTS_MAX 10000
#define COMPLETE_BODY_MAX (1u << 20)
#define ZERO_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

enum obj_op
{
  OBJ_LIST,     /* GET bucket?list-type=2 */
  OBJ_PUT,      /* PUT key */
  OBJ_PART,     /* PUT key?partNumber=N&uploadId=U */
  OBJ_CREATE,   /* POST key?uploads */
  OBJ_COMPLETE, /* POST key?uploadId=U */
  OBJ_ABORT,    /* DELETE key?uploadId=U */
};

struct obj
{
  struct srv *srv;
  int64_t key_id;
  enum obj_op op;
  char *dir; /* objects/<key id> */
  char *key; /* the object key, NULL for a list */
  char *list_prefix;
  unsigned max_keys;
  char upload[33];
  unsigned part;
  char want[65]; /* the body's SHA-256, as signed */
  EVP_MD_CTX *md;
  int fd;
  char *tmp;
  uint64_t declared, got, reserved;
  uint64_t t0_ns;
  char *mem; /* CompleteMultipartUpload's body */
  /* a failure while the body came: said by end */
  int fail_status;
  char fail_code[40];
  char fail_msg[300];
};

/* ---- answers ---- */

static void
xml_reply (struct resp *out, int status, char *body)
{
  free (out->body);
  out->status = status;
  out->body = body;
  out->len = strlen (body);
  out->content_type = "application/xml";
}

/* text with XML's special characters escaped */
static void
xml_text (FILE *f, const char *text)
{
  for (const char *p = text; *p; p++)
    if (*p == '<')
      fputs ("&lt;", f);
    else if (*p == '>')
      fputs ("&gt;", f);
    else if (*p == '&')
      fputs ("&amp;", f);
    else
      fputc (*p, f);
}

static void
xml_error (struct resp *out, int status, const char *code, const char *msg)
{
  FILE *f;
  char *body = NULL;
  size_t len = 0;

  f = open_memstream (&body, &len);
  fprintf (f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>", code);
  xml_text (f, msg);
  fputs ("</Message></Error>", f);
  fclose (f);
  xml_reply (out, status, body);
  snprintf (out->note, sizeof out->note, "%s: %.400s", code, msg);
}

/* An islet error as S3 says it. */
static void
xml_islet_err (struct resp *out, const struct islet_err *e)
{
  if (e->kind == ISLET_E_LIMIT)
    xml_error (out, e->errnum == EDQUOT ? 403 : 503,
               e->errnum == EDQUOT ? "QuotaExceeded" : "SlowDown", e->msg);
  else if (e->kind == ISLET_E_NOTFOUND)
    xml_error (out, 404, "NoSuchUpload", e->msg);
  else if (e->kind == ISLET_E_INVALID)
    xml_error (out, 400, "InvalidRequest", e->msg);
  else
    xml_error (out, 500, "InternalError", e->msg);
}

static void
obj_fail (struct obj *o, int status, const char *code, const char *msg)
{
  if (o->fail_status)
    return;
  o->fail_status = status;
  snprintf (o->fail_code, sizeof o->fail_code, "%s", code);
  snprintf (o->fail_msg, sizeof o->fail_msg, "%s", msg);
}

static void
obj_free (struct obj *o)
{
  if (o->fd >= 0)
    close (o->fd);
  if (o->tmp)
    unlink (o->tmp);
  obj_release (o->key_id, o->reserved);
  EVP_MD_CTX_free (o->md);
  free (o->dir);
  free (o->key);
  free (o->list_prefix);
  free (o->tmp);
  free (o->mem);
  free (o);
}

/* ---- the request ---- */

static const char *
lower_header (void *u, const char *name)
{
  return req_header (u, name);
}

/* A parameter of the raw query is there (with or without a value). */
static bool
has_param (const char *target, const char *name)
{
  const char *q = strchr (target, '?');
  size_t n = strlen (name);

  for (const char *p = q ? q + 1 : NULL; p && *p; p = strchr (p, '&') ? strchr (p, '&') + 1 : NULL)
    if (strncmp (p, name, n) == 0 && (p[n] == '=' || p[n] == '&' || p[n] == '\0'))
      return true;
  return false;
}

static int
parse_u (const char *s, unsigned lo, unsigned hi, unsigned *v)
{
  char *end;
  unsigned long n;

  if (s == NULL || *s < '0' || *s > '9')
    return -1;
  n = strtoul (s, &end, 10);
  if (*end != '\0' || n < lo || n > hi)
    return -1;
  *v = (unsigned) n;
  return 0;
}

/* Which operation, and its key and parameters; -1 with the answer in out. */
static int
pick_op (struct req *r, struct obj *o, struct resp *out)
{
  const char *rest = r->path + strlen (OBJ_PREFIX), *slash = strchr (rest, '/');
  const char *upload = req_query (r, "uploadId");
  size_t bl = slash ? (size_t) (slash - rest) : strlen (rest);

  if (bl != strlen (OBJ_BUCKET) || strncmp (rest, OBJ_BUCKET, bl) != 0)
    return xml_error (out, 404, "NoSuchBucket", "the only bucket is " OBJ_BUCKET), -1;
  if (slash && slash[1])
    {
      if (!obj_key_ok (slash + 1))
        return xml_error (out, 400, "InvalidArgument",
                          "an object key here is names of letters, digits, `.`, `_` and `-` "
                          "separated by `/`"),
               -1;
      o->key = islet_xstrdup (slash + 1);
    }
  if (upload && (strlen (upload) != 32 || upload[strspn (upload, "0123456789abcdef")] != '\0'))
    return xml_error (out, 404, "NoSuchUpload", "no such upload"), -1;
  if (upload)
    snprintf (o->upload, sizeof o->upload, "%s", upload);
  if (strcmp (r->method, "GET") == 0 && o->key == NULL)
    {
      const char *lt = req_query (r, "list-type"), *mk = req_query (r, "max-keys");
      o->op = OBJ_LIST;
      o->max_keys = LIST_MAX;
      o->list_prefix = islet_xstrdup (req_query (r, "prefix") ?: "");
      if (lt == NULL || strcmp (lt, "2") != 0 || (mk && parse_u (mk, 0, LIST_MAX, &o->max_keys) < 0)
          || req_query (r, "continuation-token") || req_query (r, "delimiter"))
        return xml_error (out, 501, "NotImplemented",
                          "a list here is ListObjectsV2 (list-type=2) with prefix and max-keys "
                          "(at most 1000), no delimiter or continuation"),
               -1;
      return 0;
    }
  if (o->key == NULL)
    return xml_error (out, 501, "NotImplemented",
                      "this object storage serves ListObjectsV2, PutObject and multipart uploads"),
           -1;
  if (strcmp (r->method, "PUT") == 0 && !upload && !has_param (r->target, "partNumber"))
    o->op = OBJ_PUT;
  else if (strcmp (r->method, "PUT") == 0 && upload
           && parse_u (req_query (r, "partNumber"), 1, PARTS_MAX, &o->part) == 0)
    o->op = OBJ_PART;
  else if (strcmp (r->method, "POST") == 0 && has_param (r->target, "uploads") && !upload)
    o->op = OBJ_CREATE;
  else if (strcmp (r->method, "POST") == 0 && upload)
    o->op = OBJ_COMPLETE;
  else if (strcmp (r->method, "DELETE") == 0 && upload)
    o->op = OBJ_ABORT;
  else
    return xml_error (out, 501, "NotImplemented",
                      "this object storage serves ListObjectsV2, PutObject and multipart uploads"),
           -1;
  return 0;
}

/* The signature, its credential's API key (into r->key_id). */
static int
authenticate (struct req *r, struct obj *o, struct resp *out)
{
  struct sigv4_auth a;
  struct islet_err err;
  char secret[65];
  int rc;

  if (sigv4_parse (req_header (r, "Authorization"), &a, &err) < 0)
    return xml_error (out, 403, "AccessDenied", err.msg), -1;
  if (obj_cred_check (r->srv, a.access_key, &o->key_id, secret, &err) < 0)
    return xml_error (out, 403, "InvalidAccessKeyId", err.msg), -1;
  rc = sigv4_verify (&a, secret, r->method, r->target, lower_header, r, now_s (), &err);
  explicit_bzero (secret, sizeof secret);
  if (rc < 0)
    return xml_error (out, 403, "SignatureDoesNotMatch", err.msg), -1;
  r->key_id = o->key_id;
  return 0;
}

/* A file without a name (O_TMPFILE) in .tmp for the body: a body cut short
 * by a kill of isletd leaves nothing behind. */
static int
open_tmp (struct obj *o, struct islet_err *err)
{
  cleanup_free char *d = islet_xasprintf ("%s/.tmp", o->dir);

  if (islet_mkdir_p (d, 0700, err) < 0)
    return -1;
  o->fd = open (d, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (o->fd < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "create a file for the body");
  return 0;
}

static int
s3_begin (struct req *r, struct resp *out, void **state, uint64_t *max)
{
  struct obj *o = islet_xcalloc (1, sizeof *o);
  const char *sha, *cl = req_header (r, "Content-Length");
  struct owner k;
  struct islet_err err;

  o->fd = -1;
  o->srv = r->srv;
  o->t0_ns = islet_now_ns ();
  if (authenticate (r, o, out) < 0 || pick_op (r, o, out) < 0)
    goto refuse;
  sha = req_header (r, "x-amz-content-sha256");
  if (sha == NULL || strlen (sha) != 64 || sha[strspn (sha, "0123456789abcdef")] != '\0')
    {
      xml_error (out, 400, "InvalidRequest",
                 "x-amz-content-sha256 must be the body's SHA-256 (no unsigned or streaming "
                 "payloads here)");
      goto refuse;
    }
  memcpy (o->want, sha, 65);
  o->md = EVP_MD_CTX_new ();
  if (o->md == NULL || EVP_DigestInit_ex (o->md, EVP_sha256 (), NULL) != 1)
    {
      xml_error (out, 500, "InternalError", "sha256");
      goto refuse;
    }
  o->dir = islet_xasprintf ("%s/objects/%lld", r->srv->state_dir, (long long) o->key_id);
  *max = o->op == OBJ_COMPLETE ? COMPLETE_BODY_MAX : 0;
  if (o->op == OBJ_PUT || o->op == OBJ_PART)
    {
      if (cl == NULL || parse_u (cl, 0, UINT32_MAX, &(unsigned){ 0 }) < 0)
        {
          xml_error (out, 411, "MissingContentLength", "a body here must have a Content-Length");
          goto refuse;
        }
      o->declared = strtoull (cl, NULL, 10);
      k = req_owner (r);
      if (obj_reserve (&k, o->dir, o->declared, &err) < 0 || open_tmp (o, &err) < 0)
        {
          xml_islet_err (out, &err);
          goto refuse;
        }
      o->reserved = o->declared;
      *max = o->declared;
    }
  *state = o;
  return 0;
refuse:
  obj_free (o);
  return -1;
}

static int
s3_piece (void *state, const char *field, const char *filename, const char *data, uint64_t off,
          size_t n)
{
  struct obj *o = state;

  (void) field;
  (void) filename;
  (void) off;
  if (o->fail_status)
    return -1;
  EVP_DigestUpdate (o->md, data, n);
  o->got += n;
  if (o->fd >= 0)
    {
      if (o->got > o->declared)
        return obj_fail (o, 400, "IncompleteBody", "the body is longer than its Content-Length"),
               -1;
      if (islet_write_all (o->fd, data, n) < 0)
        return obj_fail (o, errno == ENOSPC ? 507 : 500, "InternalError", strerror (errno)), -1;
      return 0;
    }
  if (o->got > COMPLETE_BODY_MAX)
    return obj_fail (o, 400, "MalformedXML", "the body is too long"), -1;
  o->mem = islet_xrealloc (o->mem, o->got + 1);
  memcpy (o->mem + o->got - n, data, n);
  o->mem[o->got] = '\0';
  return 0;
}

/* ---- the operations, once the body is in and is the signed one ---- */

/* The body's file at path (its directories made): linked under a name of
 * its own in .tmp, then renamed over whatever path was, whole. */
static int
keep_body (struct obj *o, const char *path, struct islet_err *err)
{
  cleanup_free char *parent = islet_xstrdup (path), *fdp = NULL;
  unsigned char rnd[8];

  *strrchr (parent, '/') = '\0';
  if (islet_mkdir_p (parent, 0700, err) < 0)
    return -1;
  if (getrandom (rnd, sizeof rnd, 0) != sizeof rnd || fsync (o->fd) < 0)
    return islet_fail (err, ISLET_E_SYSTEM, errno, "keep the object");
  o->tmp = islet_xasprintf ("%s/.tmp/body.%02x%02x%02x%02x%02x%02x%02x%02x", o->dir, rnd[0], rnd[1],
                            rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
  fdp = islet_xasprintf ("/proc/self/fd/%d", o->fd);
  if (linkat (AT_FDCWD, fdp, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) < 0)
    {
      free (islet_take_ptr (&o->tmp));
      return islet_fail (err, ISLET_E_SYSTEM, errno, "keep the object");
    }
  if (rename (o->tmp, path) < 0)
    return islet_fail (err, errno == ENOTDIR || errno == EISDIR ? ISLET_E_INVALID : ISLET_E_SYSTEM,
                       errno, "keep the object");
  free (islet_take_ptr (&o->tmp));
  return 0;
}

/* The upload's directory, if it is one of this key's for this object. */
static char *
upload_dir (struct obj *o, struct islet_err *err)
{
  cleanup_free char *d = islet_xasprintf ("%s/.uploads/%s", o->dir, o->upload);
  cleanup_free char *kp = islet_xasprintf ("%s/key", d);
  char key[OBJ_KEY_MAX_LEN + 1];
  cleanup_close int fd = open (kp, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read (fd, key, sizeof key - 1) : -1;

  if (n < 0 || (key[n] = '\0', strcmp (key, o->key) != 0))
    return islet_fail (err, ISLET_E_NOTFOUND, 0, "no upload %s of this object", o->upload), NULL;
  return islet_take_ptr (&d);
}

/* Keep the body at path and answer with its ETag. */
static void
keep_and_answer (struct obj *o, const char *path, struct resp *out)
{
  struct islet_err err;

  if (keep_body (o, path, &err) < 0)
    return xml_islet_err (out, &err);
  xml_reply (out, 200, islet_xstrdup (""));
  out->extra_header_name = islet_xstrdup ("ETag");
  out->extra_header_value = islet_xasprintf ("\"%.32s\"", o->want);
}

static void
op_put (struct obj *o, struct resp *out)
{
  cleanup_free char *path = islet_xasprintf ("%s/data/%s", o->dir, o->key);

  keep_and_answer (o, path, out);
}

static void
op_part (struct obj *o, struct resp *out)
{
  struct islet_err err;
  cleanup_free char *d = upload_dir (o, &err), *path = NULL;

  if (d == NULL)
    return xml_islet_err (out, &err);
  path = islet_xasprintf ("%s/part.%05u", d, o->part);
  keep_and_answer (o, path, out);
}

static void
op_create (struct obj *o, struct resp *out)
{
  unsigned char rnd[16];
  cleanup_free char *d = NULL, *kp = NULL;
  cleanup_close int fd = -1;
  struct islet_err err;

  if (getrandom (rnd, sizeof rnd, 0) != sizeof rnd)
    return xml_error (out, 500, "InternalError", "getrandom");
  for (int i = 0; i < 16; i++)
    snprintf (o->upload + 2 * i, 3, "%02x", rnd[i]);
  d = islet_xasprintf ("%s/.uploads/%s", o->dir, o->upload);
  kp = islet_xasprintf ("%s/key", d);
  if (islet_mkdir_p (d, 0700, &err) < 0)
    return xml_islet_err (out, &err);
  fd = open (kp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || islet_write_all (fd, o->key, strlen (o->key)) < 0)
    return xml_error (out, 500, "InternalError", strerror (errno));
  xml_reply (out, 200,
             islet_xasprintf ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "<InitiateMultipartUploadResult><Bucket>" OBJ_BUCKET
                              "</Bucket><Key>%s</Key><UploadId>%s</UploadId>"
                              "</InitiateMultipartUploadResult>",
                              o->key, o->upload));
}

/* The part numbers CompleteMultipartUpload names, ascending. */
static int
complete_parts (const char *xml, unsigned *parts, size_t *n, struct islet_err *err)
{
  unsigned last = 0;

  *n = 0;
  for (const char *p = xml ? strstr (xml, "<PartNumber>") : NULL; p;
       p = strstr (p + 1, "<PartNumber>"))
    {
      char num[8];
      size_t len = strspn (p + 12, "0123456789");
      unsigned v;
      if (len == 0 || len >= sizeof num || strncmp (p + 12 + len, "</PartNumber>", 13) != 0)
        return islet_fail (err, ISLET_E_INVALID, 0, "a PartNumber is not a number");
      memcpy (num, p + 12, len);
      num[len] = '\0';
      if (parse_u (num, 1, PARTS_MAX, &v) < 0 || v <= last || *n == PARTS_MAX)
        return islet_fail (err, ISLET_E_INVALID, 0, "the parts must be listed in ascending order");
      parts[(*n)++] = last = v;
    }
  if (*n == 0)
    return islet_fail (err, ISLET_E_INVALID, 0, "the body lists no part");
  return 0;
}

/* The parts, one after the other, into the body's file. */
static int
join_parts (struct obj *o, const char *d, const unsigned *parts, size_t n, struct islet_err *err)
{
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *pp = islet_xasprintf ("%s/part.%05u", d, parts[i]);
      cleanup_close int in = open (pp, O_RDONLY | O_CLOEXEC);
      struct stat st;
      if (in < 0 || fstat (in, &st) < 0)
        return islet_fail (err, ISLET_E_INVALID, errno, "part %u was not uploaded", parts[i]);
      for (off_t left = st.st_size; left > 0;)
        {
          ssize_t c = copy_file_range (in, NULL, o->fd, NULL, (size_t) left, 0);
          if (c <= 0)
            return islet_fail (err, ISLET_E_SYSTEM, c < 0 ? errno : EIO, "join part %u", parts[i]);
          left -= c;
        }
    }
  return 0;
}

static void
op_complete (struct obj *o, struct resp *out)
{
  cleanup_free unsigned *parts = islet_xcalloc (PARTS_MAX, sizeof *parts);
  cleanup_free char *d = NULL, *path = NULL;
  struct islet_err err;
  size_t n;

  d = upload_dir (o, &err);
  if (d == NULL)
    return xml_islet_err (out, &err);
  if (complete_parts (o->mem, parts, &n, &err) < 0)
    return xml_error (out, 400, "InvalidPart", err.msg);
  /* the parts are counted already (in .uploads): joined, they are
     dropped, so the key keeps what it had */
  path = islet_xasprintf ("%s/data/%s", o->dir, o->key);
  if (open_tmp (o, &err) < 0 || join_parts (o, d, parts, n, &err) < 0
      || keep_body (o, path, &err) < 0)
    return xml_islet_err (out, &err);
  (void) !islet_rm_rf (d, &err);
  xml_reply (out, 200,
             islet_xasprintf ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "<CompleteMultipartUploadResult><Location>/" OBJ_BUCKET
                              "/%s</Location><Bucket>" OBJ_BUCKET "</Bucket><Key>%s</Key>"
                              "<ETag>\"%s-%zu\"</ETag></CompleteMultipartUploadResult>",
                              o->key, o->key, o->upload, n));
}

static void
op_abort (struct obj *o, struct resp *out)
{
  struct islet_err err;
  cleanup_free char *d = upload_dir (o, &err);

  if (d == NULL)
    return xml_islet_err (out, &err);
  if (islet_rm_rf (d, &err) < 0)
    return xml_islet_err (out, &err);
  out->status = 204;
}

/* ---- ListObjectsV2 ---- */

struct entry
{
  char *key;
  uint64_t size;
};

struct listing
{
  struct entry *e;
  size_t n, cap, seen;
};

/* Every object under dirfd (closed) whose key (base + name) starts with
 * prefix, bounded in count and depth. */
static void
list_walk (int dirfd, const char *base, const char *prefix, unsigned depth, struct listing *l)
{
  DIR *d = fdopendir (dirfd);
  struct dirent *e;
  size_t pl = strlen (prefix);

  if (d == NULL)
    {
      close (dirfd);
      return;
    }
  while ((e = readdir (d)) != NULL && l->seen < 100000)
    {
      struct stat st;
      cleanup_free char *key = NULL;
      size_t kl;
      l->seen++;
      if (e->d_name[0] == '.' || fstatat (dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      key = islet_xasprintf ("%s%s%s", base, e->d_name, S_ISDIR (st.st_mode) ? "/" : "");
      kl = strlen (key);
      /* walked only where the prefix and the key can still meet */
      if (strncmp (key, prefix, kl < pl ? kl : pl) != 0)
        continue;
      if (S_ISDIR (st.st_mode) && depth < OBJ_DEPTH_MAX)
        {
          int fd = openat (dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (fd >= 0)
            list_walk (fd, key, prefix, depth + 1, l);
        }
      else if (S_ISREG (st.st_mode) && kl >= pl)
        {
          if (l->n == l->cap)
            {
              l->cap = l->cap ? 2 * l->cap : 16;
              l->e = islet_xrealloc (l->e, l->cap * sizeof *l->e);
            }
          l->e[l->n].size = (uint64_t) st.st_size;
          l->e[l->n++].key = islet_take_ptr (&key);
        }
    }
  closedir (d);
}

static int
entry_cmp (const void *a, const void *b)
{
  return strcmp (((const struct entry *) a)->key, ((const struct entry *) b)->key);
}

static void
op_list (struct obj *o, struct resp *out)
{
  cleanup_free char *data = islet_xasprintf ("%s/data", o->dir);
  struct listing l = { 0 };
  int fd = open (data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char *body = NULL;
  size_t len = 0, shown;
  FILE *f;

  if (fd >= 0)
    list_walk (fd, "", o->list_prefix, 0, &l);
  if (l.n)
    qsort (l.e, l.n, sizeof *l.e, entry_cmp);
  shown = l.n < o->max_keys ? l.n : o->max_keys;
  f = open_memstream (&body, &len);
  fputs ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><Name>" OBJ_BUCKET
         "</Name><Prefix>",
         f);
  xml_text (f, o->list_prefix);
  fprintf (f, "</Prefix><KeyCount>%zu</KeyCount><MaxKeys>%u</MaxKeys><IsTruncated>%s</IsTruncated>",
           shown, o->max_keys, shown < l.n ? "true" : "false");
  for (size_t i = 0; i < shown; i++)
    {
      /* the SDK lists to skip an upload it then builds from: used now */
      cleanup_free char *p = islet_xasprintf ("%s/%s", data, l.e[i].key);
      (void) utimensat (AT_FDCWD, p, NULL, 0);
    }
  for (size_t i = 0; i < shown; i++)
    fprintf (f,
             "<Contents><Key>%s</Key><Size>%llu</Size><StorageClass>STANDARD</StorageClass>"
             "</Contents>",
             l.e[i].key, (unsigned long long) l.e[i].size);
  fputs ("</ListBucketResult>", f);
  fclose (f);
  for (size_t i = 0; i < l.n; i++)
    free (l.e[i].key);
  free (l.e);
  xml_reply (out, 200, body);
}

/* An object made (or refused after its signature was checked) is in the
 * audit log as object-storage.put, its key as the result when kept. */
static void
audit_put (const struct obj *o, const struct resp *out)
{
  cleanup_free char *result = out->status < 300 ? islet_xasprintf ("ok: %s", o->key) : NULL;
  struct islet_audit a = {
    .key_id = o->key_id,
    .sandbox = "",
    .action = "object-storage.put",
    .status = out->status,
    .result = result ? result : out->note,
    .duration_ms = (int64_t) ((islet_now_ns () - o->t0_ns) / 1000000),
  };
  struct islet_err err;

  if (islet_store_audit_add (o->srv->store, &a, &err) < 0)
    fprintf (stderr, "isletd: audit object-storage.put: %s\n", err.msg);
}

static void
s3_end (void *state, bool complete, struct resp *out)
{
  struct obj *o = state;
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned dl = 0;
  char got[65];

  if (!complete)
    goto out;
  if (o->fail_status)
    {
      xml_error (out, o->fail_status, o->fail_code, o->fail_msg);
      goto out;
    }
  EVP_DigestFinal_ex (o->md, d, &dl);
  for (unsigned i = 0; i < 32; i++)
    snprintf (got + 2 * i, 3, "%02x", d[i]);
  if (strcmp (got, o->want) != 0)
    {
      xml_error (out, 400, "XAmzContentSHA256Mismatch",
                 "the body's SHA-256 is not the x-amz-content-sha256 that was signed");
      goto out;
    }
  if (o->fd >= 0 && o->got != o->declared)
    {
      xml_error (out, 400, "IncompleteBody", "the body is shorter than its Content-Length");
      goto out;
    }
  switch (o->op)
    {
    case OBJ_LIST: op_list (o, out); break;
    case OBJ_PUT: op_put (o, out); break;
    case OBJ_PART: op_part (o, out); break;
    case OBJ_CREATE: op_create (o, out); break;
    case OBJ_COMPLETE: op_complete (o, out); break;
    case OBJ_ABORT: op_abort (o, out); break;
    }
out:
  if (complete && (o->op == OBJ_PUT || o->op == OBJ_COMPLETE))
    audit_put (o, out);
  obj_free (o);
}

static const struct body_sink s3_sink = { s3_begin, s3_piece, s3_end };

const struct route object_storage_route = { "S3", OBJ_PREFIX, NULL, NULL, 0, &s3_sink };

bool
object_storage_path (const char *path)
{
  return strncmp (path, OBJ_PREFIX, strlen (OBJ_PREFIX)) == 0;
}
