/* AWS Signature Version 4 as S3 checks it for a request signed in its
 * Authorization header: the canonical request (method, path as sent,
 * query sorted, the signed headers, the payload's SHA-256 from
 * x-amz-content-sha256), the string to sign under the credential's scope,
 * and HMAC-SHA-256 with the key derived from the secret.  Only what the
 * object storage face (object_storage.c) needs: header signatures, not
 * presigned URLs or chunked payload signatures. */
#include <ctype.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "islet/util.h"
#include "object_storage.h"

#define SIG_ALGO "AWS4-HMAC-SHA256"
#define SIG_SKEW_S 900 /* S3's: a request signed 15 minutes away is refused */

static void
hex (const unsigned char *d, size_t n, char *out)
{
  for (size_t i = 0; i < n; i++)
    snprintf (out + 2 * i, 3, "%02x", d[i]);
}

void
sigv4_sha256_hex (const void *data, size_t n, char out[65])
{
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned len = 0;

  EVP_Digest (data, n, d, &len, EVP_sha256 (), NULL);
  hex (d, 32, out);
}

static void
hmac (const void *key, size_t key_len, const char *msg, unsigned char out[32])
{
  unsigned len = 32;

  HMAC (EVP_sha256 (), key, (int) key_len, (const unsigned char *) msg, strlen (msg), out, &len);
}

/* One "Name=value" field of the Authorization header into out. */
static int
auth_field (const char *h, const char *name, char *out, size_t cap)
{
  size_t nl = strlen (name);

  for (const char *p = h; p && *p; p = strchr (p, ','), p = p ? p + 1 : NULL)
    {
      p += strspn (p, " ");
      if (strncmp (p, name, nl) == 0 && p[nl] == '=')
        {
          size_t n = strcspn (p + nl + 1, ", ");
          if (n == 0 || n >= cap)
            return -1;
          memcpy (out, p + nl + 1, n);
          out[n] = '\0';
          return 0;
        }
    }
  return -1;
}

int
sigv4_parse (const char *h, struct sigv4_auth *a, struct islet_err *err)
{
  char cred[512];
  char *parts[5], *save = NULL, *t;
  size_t n = 0;

  memset (a, 0, sizeof *a);
  if (h == NULL || strncmp (h, SIG_ALGO " ", sizeof SIG_ALGO) != 0)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "the request is not signed with " SIG_ALGO " in its Authorization header");
  h += sizeof SIG_ALGO;
  if (auth_field (h, "Credential", cred, sizeof cred) < 0
      || auth_field (h, "SignedHeaders", a->signed_headers, sizeof a->signed_headers) < 0
      || auth_field (h, "Signature", a->signature, sizeof a->signature) < 0)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "the Authorization header lacks Credential, SignedHeaders or Signature");
  for (t = strtok_r (cred, "/", &save); t && n < 5; t = strtok_r (NULL, "/", &save))
    parts[n++] = t;
  if (n != 5 || t != NULL || strlen (parts[1]) != 8 || strcmp (parts[3], "s3") != 0
      || strcmp (parts[4], "aws4_request") != 0 || strlen (parts[0]) >= sizeof a->access_key
      || strlen (parts[2]) >= sizeof a->region)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "the credential is not ACCESS_KEY/YYYYMMDD/REGION/s3/aws4_request");
  strcpy (a->access_key, parts[0]);
  strcpy (a->date, parts[1]);
  strcpy (a->region, parts[2]);
  return 0;
}

/* Percent-encoding as SigV4 wants it: unreserved characters kept, the
 * rest %XX in upper case (slash too unless keep_slash). */
static void
uri_encode (FILE *f, const char *s, size_t n, bool keep_slash)
{
  for (size_t i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char) s[i];
      if (isalnum (c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
        fputc (c, f);
      else
        fprintf (f, "%%%02X", c);
    }
}

/* s[0..n) with %XX decoded (and nothing else: a + stays a +). */
static char *
uri_decode (const char *s, size_t n, size_t *len)
{
  char *out = islet_xmalloc (n + 1);
  size_t j = 0;

  for (size_t i = 0; i < n; i++)
    if (s[i] == '%' && i + 2 < n && isxdigit ((unsigned char) s[i + 1])
        && isxdigit ((unsigned char) s[i + 2]))
      {
        char h[3] = { s[i + 1], s[i + 2], '\0' };
        out[j++] = (char) strtol (h, NULL, 16);
        i += 2;
      }
    else
      out[j++] = s[i];
  out[j] = '\0';
  *len = j;
  return out;
}

struct qparam
{
  char *name, *value;
};

static int
qparam_cmp (const void *a, const void *b)
{
  const struct qparam *x = a, *y = b;
  int c = strcmp (x->name, y->name);
  return c ? c : strcmp (x->value, y->value);
}

/* The query, each name and value re-encoded, sorted, joined with &. */
static void
canonical_query (FILE *f, const char *q)
{
  struct qparam ps[SIGV4_QUERY_MAX];
  size_t n = 0;

  for (const char *p = q; p && *p && n < SIGV4_QUERY_MAX;)
    {
      size_t len = strcspn (p, "&"), nl = strcspn (p, "=&"), dl;
      cleanup_free char *name = NULL, *value = NULL;
      char *enc = NULL;
      size_t encl = 0;
      FILE *m;
      if (len > 0)
        {
          name = uri_decode (p, nl, &dl);
          m = open_memstream (&enc, &encl);
          uri_encode (m, name, dl, false);
          fclose (m);
          ps[n].name = enc;
          value = nl < len ? uri_decode (p + nl + 1, len - nl - 1, &dl) : islet_xstrdup ("");
          if (nl >= len)
            dl = 0;
          enc = NULL;
          m = open_memstream (&enc, &encl);
          uri_encode (m, value, dl, false);
          fclose (m);
          ps[n++].value = enc;
        }
      p += len;
      if (*p == '&')
        p++;
    }
  qsort (ps, n, sizeof ps[0], qparam_cmp);
  for (size_t i = 0; i < n; i++)
    {
      fprintf (f, "%s%s=%s", i ? "&" : "", ps[i].name, ps[i].value);
      free (ps[i].name);
      free (ps[i].value);
    }
}

/* A header's value trimmed, inner runs of blanks made one space. */
static void
header_value (FILE *f, const char *v)
{
  bool blank = false, started = false;

  for (; *v; v++)
    if (*v == ' ' || *v == '\t')
      blank = started;
    else
      {
        if (blank)
          fputc (' ', f);
        fputc (*v, f);
        blank = false;
        started = true;
      }
}

/* The canonical request's headers: each signed one, in SignedHeaders'
 * order (which must be sorted, lower case, and hold the required ones). */
static int
canonical_headers (FILE *f, const struct sigv4_auth *a, sigv4_header_fn header, void *u,
                   struct islet_err *err)
{
  static const char *const required[] = { "host", "x-amz-content-sha256", "x-amz-date" };
  char names[sizeof a->signed_headers], *save = NULL, prev[256] = "";

  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
    {
      size_t l = strlen (required[i]);
      const char *p = a->signed_headers;
      bool found = false;
      for (; p && *p && !found; p = strchr (p, ';') ? strchr (p, ';') + 1 : NULL)
        found = strncmp (p, required[i], l) == 0 && (p[l] == ';' || p[l] == '\0');
      if (!found)
        return islet_fail (err, ISLET_E_INVALID, 0, "SignedHeaders must include %s", required[i]);
    }
  snprintf (names, sizeof names, "%s", a->signed_headers);
  for (char *t = strtok_r (names, ";", &save); t; t = strtok_r (NULL, ";", &save))
    {
      const char *v = header (u, t);
      for (const char *c = t; *c; c++)
        if (isupper ((unsigned char) *c))
          return islet_fail (err, ISLET_E_INVALID, 0, "SignedHeaders must be lower case");
      if (strlen (t) >= sizeof prev || strcmp (prev, t) >= 0)
        return islet_fail (err, ISLET_E_INVALID, 0, "SignedHeaders must be sorted, each once");
      strcpy (prev, t);
      if (v == NULL)
        return islet_fail (err, ISLET_E_INVALID, 0, "the signed header %s is not in the request",
                           t);
      fprintf (f, "%s:", t);
      header_value (f, v);
      fputc ('\n', f);
    }
  return 0;
}

/* x-amz-date (YYYYMMDDTHHMMSSZ) as unix time; -1 if malformed. */
static int64_t
amz_time (const char *s)
{
  struct tm tm = { 0 };
  const char *end;

  if (s == NULL || strlen (s) != 16)
    return -1;
  end = strptime (s, "%Y%m%dT%H%M%SZ", &tm);
  if (end == NULL || *end != '\0')
    return -1;
  return (int64_t) timegm (&tm);
}

int
sigv4_verify (const struct sigv4_auth *a, const char *secret, const char *method,
              const char *target, sigv4_header_fn header, void *u, int64_t now,
              struct islet_err *err)
{
  const char *date = header (u, "x-amz-date"), *payload = header (u, "x-amz-content-sha256");
  const char *q = strchr (target, '?');
  cleanup_free char *creq = NULL, *sts = NULL, *k0 = NULL;
  size_t creq_len = 0, sts_len = 0;
  unsigned char k[32];
  char creq_hash[65], want[65];
  int64_t t = amz_time (date);
  FILE *f;
  int rc;

  if (t < 0 || strncmp (date, a->date, 8) != 0)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "x-amz-date is not YYYYMMDDTHHMMSSZ of the credential's day");
  if (t < now - SIG_SKEW_S || t > now + SIG_SKEW_S)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "the request was signed at %s, more than %d s from the server's time", date,
                       SIG_SKEW_S);
  if (payload == NULL)
    return islet_fail (err, ISLET_E_INVALID, 0, "x-amz-content-sha256 is missing");
  f = open_memstream (&creq, &creq_len);
  fprintf (f, "%s\n", method);
  fwrite (target, 1, q ? (size_t) (q - target) : strlen (target), f);
  fputc ('\n', f);
  canonical_query (f, q ? q + 1 : NULL);
  fputc ('\n', f);
  rc = canonical_headers (f, a, header, u, err);
  fprintf (f, "\n%s\n%s", a->signed_headers, payload);
  fclose (f);
  if (rc < 0)
    return -1;
  sigv4_sha256_hex (creq, creq_len, creq_hash);
  f = open_memstream (&sts, &sts_len);
  fprintf (f, SIG_ALGO "\n%s\n%s/%s/s3/aws4_request\n%s", date, a->date, a->region, creq_hash);
  fclose (f);
  k0 = islet_xasprintf ("AWS4%s", secret);
  {
    const char *scope[] = { a->region, "s3", "aws4_request" };
    unsigned char next[32];
    hmac (k0, strlen (k0), a->date, k);
    for (size_t i = 0; i < 3; i++)
      {
        hmac (k, 32, scope[i], next);
        memcpy (k, next, 32);
      }
    OPENSSL_cleanse (next, sizeof next);
  }
  {
    unsigned char sig[32];
    hmac (k, 32, sts, sig);
    hex (sig, 32, want);
  }
  OPENSSL_cleanse (k, sizeof k);
  if (strlen (a->signature) != 64 || CRYPTO_memcmp (want, a->signature, 64) != 0)
    return islet_fail (err, ISLET_E_INVALID, 0,
                       "the signature does not match: the request was not signed with this "
                       "access key's secret");
  return 0;
}
