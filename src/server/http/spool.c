/* Program output on its way to a JSON answer, never held whole in isletd's
 * memory: a command may print gigabytes (its output limit is the tenant's
 * choice), and holding that, then its JSON text, grew isletd by 15 times the
 * output.  The bytes go to an unlinked scratch file in the state directory
 * as they arrive, charged to the key's scratch budget (guard.c); the answer
 * is made from the file as it is sent, a few kilobytes at a time, as
 * islet_json_bytes would make it (valid UTF-8 kept, each bad byte U+FFFD). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "islet/util.h"
#include "server.h"

#define SPOOL_BUF 65536
#define ESC_CHUNK 8192

struct spool
{
  struct srv *srv;
  int64_t key_id;
  int fd;
  uint64_t len, charged;
  bool over; /* the key's scratch budget ran out: later bytes were dropped */
  int write_errno;
  const char *whose;
  char buf[SPOOL_BUF]; /* not yet written */
  size_t blen;
};

struct spool *
spool_new (struct req *r, struct resp *out)
{
  struct spool *s;
  int fd = open (r->srv->state_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      reply_error (out, 500, "INTERNAL_ERROR", "cannot make a scratch file for the output: %s",
                   strerror (errno));
      return NULL;
    }
  s = islet_xcalloc (1, sizeof *s);
  s->srv = r->srv;
  s->key_id = r->key_id;
  s->fd = fd;
  return s;
}

void
spool_free (struct spool *s)
{
  if (s == NULL)
    return;
  close (s->fd);
  if (s->srv->guard)
    guard_give (s->srv->guard, GUARD_SCRATCH, s->key_id, s->charged);
  free (s);
}

static void
flush (struct spool *s)
{
  size_t off = 0;

  if (s->blen == 0)
    return;
  if (!s->over && s->srv->guard
      && guard_take (s->srv->guard, GUARD_SCRATCH, s->key_id, s->blen, &s->whose) < 0)
    s->over = true;
  if (s->over || s->write_errno)
    {
      s->blen = 0;
      return;
    }
  s->charged += s->blen;
  while (off < s->blen)
    {
      ssize_t w = pwrite (s->fd, s->buf + off, s->blen - off, (off_t) (s->len + off));
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        {
          s->write_errno = w < 0 ? errno : ENOSPC;
          break;
        }
      off += (size_t) w;
    }
  s->len += off;
  s->blen = 0;
}

void
spool_add (struct spool *s, const char *data, size_t n)
{
  while (n > 0)
    {
      size_t k = SPOOL_BUF - s->blen < n ? SPOOL_BUF - s->blen : n;

      memcpy (s->buf + s->blen, data, k);
      s->blen += k;
      data += k;
      n -= k;
      if (s->blen == SPOOL_BUF)
        flush (s);
    }
}

void
spool_output (enum islet_stream stream, const char *data, size_t len, void *user)
{
  spool_add (user, data, len);
}

uint64_t
spool_len (struct spool *s)
{
  return s->len + s->blen;
}

int
spool_check (struct spool *s, struct resp *out)
{
  flush (s);
  if (s->over)
    {
      reply_error (out, 507, "INSUFFICIENT_STORAGE",
                   "the output is over %s scratch space for answers (%llu bytes at once); "
                   "ask for less output or stream it (POST /v1/sandbox/{id}/exec with stream)",
                   s->whose,
                   (unsigned long long) guard_limit (s->srv->guard, GUARD_SCRATCH,
                                                     strcmp (s->whose, "this key's") == 0));
      return -1;
    }
  if (s->write_errno)
    {
      reply_error (out, 507, "INSUFFICIENT_STORAGE", "cannot keep the output for the answer: %s",
                   strerror (s->write_errno));
      return -1;
    }
  return 0;
}

/* ---- a spool written by someone else (a bulk download's parts) ---- */

int
spool_fd (struct spool *s)
{
  return s->fd;
}

int
spool_reserve (struct spool *s, uint64_t n)
{
  if (s->over
      || (s->srv->guard && guard_take (s->srv->guard, GUARD_SCRATCH, s->key_id, n, &s->whose) < 0))
    {
      s->over = true;
      return -1;
    }
  s->charged += s->srv->guard ? n : 0;
  return 0;
}

int
spool_settle (struct spool *s)
{
  off_t end = lseek (s->fd, 0, SEEK_END);

  if (end < 0)
    {
      s->write_errno = errno;
      return -1;
    }
  s->len = (uint64_t) end;
  /* a file that grew between its stat and its copy */
  if (s->len > s->charged && s->srv->guard)
    return spool_reserve (s, s->len - s->charged);
  return 0;
}

struct raw
{
  struct spool *s;
  uint64_t pos;
};

static ssize_t
raw_produce (void *state, char *buf, size_t max)
{
  struct raw *a = state;
  uint64_t left = a->s->len - a->pos;
  ssize_t got;

  if (left == 0)
    return 0;
  do
    got = pread (a->s->fd, buf, left < max ? left : max, (off_t) a->pos);
  while (got < 0 && errno == EINTR);
  if (got <= 0)
    return -1;
  a->pos += (uint64_t) got;
  return got;
}

static void
raw_free (void *state)
{
  struct raw *a = state;

  spool_free (a->s);
  free (a);
}

void
spool_reply_raw (struct spool *s, struct resp *out)
{
  struct raw *a = islet_xcalloc (1, sizeof *a);

  a->s = s;
  out->status = 200;
  out->produce = raw_produce;
  out->produce_free = raw_free;
  out->produce_state = a;
}

/* ---- the answer: prefix, the spool as a JSON string, suffix ---- */

struct answer
{
  struct spool *s;
  char *text[2]; /* prefix, suffix */
  int phase;     /* 0 prefix, 1 the spool, 2 suffix, 3 over */
  size_t off;    /* in the prefix or suffix */
  uint64_t pos;  /* in the spool */
  char esc[ESC_CHUNK * 6];
  size_t elen, eoff;
};

/* The length of the well-formed UTF-8 sequence at p (no overlong form, no
 * surrogate, nothing past U+10FFFF): 0 if there is none, -1 if the bytes
 * so far could begin one but left is too short to tell. */
static int
utf8_len (const unsigned char *p, size_t left)
{
  int len = p[0] >= 0xf0 && p[0] <= 0xf4   ? 4
            : p[0] >= 0xe0 && p[0] <= 0xef ? 3
            : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
                                           : 0;
  uint32_t cp, min = len == 4 ? 0x10000 : len == 3 ? 0x800 : 0x80;

  if (len == 0)
    return 0;
  cp = p[0] & (0x7f >> len);
  for (int i = 1; i < len; i++)
    {
      if ((size_t) i >= left)
        return -1;
      if ((p[i] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
  return cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : len;
}

/* JSON string text of in[0..n): escapes, valid UTF-8 kept, a bad byte as
 * U+FFFD.  A sequence cut by the end of in is left for the next call
 * (unless at_end): the bytes taken are returned in *used. */
static size_t
escape (const unsigned char *in, size_t n, bool at_end, char *out, size_t *used)
{
  static const char hex[] = "0123456789abcdef";
  size_t o = 0, i = 0;

  while (i < n)
    {
      unsigned c = in[i];
      const char *short_esc = NULL;

      if (c >= 0x80)
        {
          int len = utf8_len (in + i, n - i);

          if (len < 0 && !at_end)
            break;
          if (len <= 0)
            {
              memcpy (out + o, "\xef\xbf\xbd", 3);
              o += 3;
              i++;
              continue;
            }
          memcpy (out + o, in + i, (size_t) len);
          o += (size_t) len;
          i += (size_t) len;
          continue;
        }
      switch (c)
        {
        case '"': short_esc = "\\\""; break;
        case '\\': short_esc = "\\\\"; break;
        case '\b': short_esc = "\\b"; break;
        case '\f': short_esc = "\\f"; break;
        case '\n': short_esc = "\\n"; break;
        case '\r': short_esc = "\\r"; break;
        case '\t': short_esc = "\\t"; break;
        default: break;
        }
      if (short_esc)
        {
          out[o++] = short_esc[0];
          out[o++] = short_esc[1];
        }
      else if (c < 0x20)
        {
          memcpy (out + o, "\\u00", 4);
          out[o + 4] = hex[c >> 4];
          out[o + 5] = hex[c & 15];
          o += 6;
        }
      else
        out[o++] = (char) c;
      i++;
    }
  *used = i;
  return o;
}

static ssize_t
answer_produce (void *state, char *buf, size_t max)
{
  struct answer *a = state;
  size_t n = 0;

  while (n < max && a->phase < 3)
    {
      size_t k;

      if (a->phase != 1)
        {
          const char *t = a->text[a->phase / 2];
          size_t tl = strlen (t);

          k = tl - a->off < max - n ? tl - a->off : max - n;
          memcpy (buf + n, t + a->off, k);
          a->off += k;
          n += k;
          if (a->off == tl)
            a->phase++, a->off = 0;
          continue;
        }
      if (a->eoff == a->elen)
        {
          unsigned char in[ESC_CHUNK];
          uint64_t left = a->s->len - a->pos;
          size_t used;
          ssize_t got;

          if (left == 0)
            {
              a->phase = 2;
              continue;
            }
          got = pread (a->s->fd, in, left < sizeof in ? left : sizeof in, (off_t) a->pos);
          if (got < 0 && errno == EINTR)
            continue;
          if (got <= 0)
            return -1;
          a->elen = escape (in, (size_t) got, a->pos + (uint64_t) got == a->s->len, a->esc, &used);
          if (used == 0) /* a short read inside a character: take it as it is */
            a->elen = escape (in, (size_t) got, true, a->esc, &used);
          a->pos += used;
          a->eoff = 0;
        }
      k = a->elen - a->eoff < max - n ? a->elen - a->eoff : max - n;
      memcpy (buf + n, a->esc + a->eoff, k);
      a->eoff += k;
      n += k;
    }
  return (ssize_t) n;
}

static void
answer_free (void *state)
{
  struct answer *a = state;

  spool_free (a->s);
  free (a->text[0]);
  free (a->text[1]);
  free (a);
}

void
spool_reply_json (struct spool *s, struct resp *out, char *prefix, char *suffix)
{
  struct answer *a = islet_xcalloc (1, sizeof *a);

  a->s = s;
  a->text[0] = prefix;
  a->text[1] = suffix;
  out->status = 200;
  out->content_type = "application/json";
  out->produce = answer_produce;
  out->produce_free = answer_free;
  out->produce_state = a;
}
