/* Program output on its way to a JSON answer, never held whole in isletd's
 * memory: a command may print gigabytes (its output limit is the tenant's
 * choice), and holding that, then its JSON text, grew isletd by 15 times the
 * output.  The bytes go to an unlinked scratch file in the state directory
 * as they arrive, charged to the key's scratch budget (guard.c); the answer
 * is made from the file as it is sent, a few kilobytes at a time, as
 * islet_json_bytes would make it (valid UTF-8 kept, each bad byte U+FFFD).
 * The file is made only when the output outgrows the spool's buffer: most
 * answers (a command's few lines) stay in the buffer, charged the same, and
 * make no file, whose creation and removal are two journal updates of the
 * state directory's file system. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "islet/util.h"
#include "server.h"

#define SPOOL_BUF 65536
#define ESC_CHUNK 8192
#define NONCE_BYTES 16

struct spool
{
  struct srv *srv;
  int64_t key_id;
  int fd;       /* the scratch file, -1 until the buffer first fills */
  uint64_t len; /* bytes in the file; those past it are in buf */
  uint64_t charged;
  size_t held; /* of buf, charged already (spool_done kept them there) */
  bool over;   /* the key's scratch budget ran out: later bytes were dropped */
  int write_errno;
  const char *whose;
  char nonce[NONCE_BYTES * 2 + 1]; /* names the spool in an answer's tokens */
  char buf[SPOOL_BUF];             /* not yet written */
  size_t blen;
};

struct spool *
spool_open (struct srv *srv, int64_t key_id, struct islet_err *err)
{
  struct spool *s;
  unsigned char rnd[NONCE_BYTES];

  if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
    {
      islet_fail (err, ISLET_E_SYSTEM, errno, "getrandom");
      return NULL;
    }
  s = islet_xcalloc (1, sizeof *s);
  s->srv = srv;
  s->key_id = key_id;
  s->fd = -1;
  for (size_t i = 0; i < sizeof rnd; i++)
    snprintf (s->nonce + 2 * i, 3, "%02x", rnd[i]);
  return s;
}

struct spool *
spool_new (struct req *r, struct resp *out)
{
  struct islet_err err;
  struct spool *s = spool_open (r->srv, r->key_id, &err);

  if (s == NULL)
    reply_islet_err (out, &err, false);
  return s;
}

void
spool_free (struct spool *s)
{
  if (s == NULL)
    return;
  if (s->fd >= 0)
    close (s->fd);
  if (s->srv->guard)
    guard_give (s->srv->guard, GUARD_SCRATCH, s->key_id, s->charged);
  free (s);
}

/* The scratch file, made now if it was not: -1 with write_errno set when
 * it cannot be. */
static int
file_of (struct spool *s)
{
  if (s->fd < 0 && s->write_errno == 0)
    {
      s->fd = open (s->srv->state_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
      if (s->fd < 0)
        s->write_errno = errno;
    }
  return s->fd;
}

/* The buffer's bytes not charged yet, charged to the key's scratch
 * budget: false when that is spent (s->over set). */
static bool
charge (struct spool *s)
{
  size_t n = s->blen - s->held;

  if (!s->over && s->srv->guard && n > 0
      && guard_take (s->srv->guard, GUARD_SCRATCH, s->key_id, n, &s->whose) < 0)
    s->over = true;
  if (s->over)
    return false;
  s->charged += n;
  s->held = s->blen;
  return true;
}

static void
flush (struct spool *s)
{
  size_t off = 0;

  if (s->blen == 0)
    return;
  if (!charge (s) || s->write_errno || file_of (s) < 0)
    {
      s->blen = s->held = 0;
      return;
    }
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
  s->blen = s->held = 0;
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

void
spool_pair_output (enum islet_stream stream, const char *data, size_t len, void *user)
{
  struct spool **pair = user;

  spool_add (pair[stream == ISLET_STDERR], data, len);
}

uint64_t
spool_len (struct spool *s)
{
  return s->len + s->blen;
}

int
spool_done (struct spool *s, struct islet_err *err)
{
  /* what never filled the buffer stays there, charged as if written */
  if (s->fd >= 0 || !charge (s))
    flush (s);
  if (s->over)
    {
      islet_fail (err, ISLET_E_LIMIT, 0,
                  "the output is over %s scratch space for answers (%llu bytes at once); "
                  "ask for less output or stream it (POST /v1/sandbox/{id}/exec with stream)",
                  s->whose,
                  (unsigned long long) guard_limit (s->srv->guard, GUARD_SCRATCH,
                                                    strcmp (s->whose, "this key's") == 0));
      err->errnum = ENOSPC; /* the answer's status is 507, as for a full disk */
      return -1;
    }
  if (s->write_errno)
    {
      islet_fail (err, ISLET_E_LIMIT, 0, "cannot keep the output for the answer: %s",
                  strerror (s->write_errno));
      err->errnum = ENOSPC;
      return -1;
    }
  return 0;
}

int
spool_check (struct spool *s, struct resp *out)
{
  struct islet_err err;

  if (spool_done (s, &err) == 0)
    return 0;
  reply_islet_err (out, &err, false);
  return -1;
}

/* ---- a spool written by someone else (a bulk download's parts) ---- */

int
spool_fd (struct spool *s)
{
  flush (s);
  return file_of (s);
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
  off_t end;

  if (file_of (s) < 0)
    return -1;
  end = lseek (s->fd, 0, SEEK_END);
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

/* Up to n bytes of the spool from pos: from the file, then the buffer. */
static ssize_t
spool_read (struct spool *s, void *to, size_t n, uint64_t pos)
{
  ssize_t got;

  if (pos >= s->len)
    {
      size_t k = pos - s->len >= s->blen ? 0 : s->blen - (size_t) (pos - s->len);

      k = k < n ? k : n;
      memcpy (to, s->buf + (pos - s->len), k);
      return (ssize_t) k;
    }
  if (n > s->len - pos)
    n = (size_t) (s->len - pos);
  do
    got = pread (s->fd, to, n, (off_t) pos);
  while (got < 0 && errno == EINTR);
  return got;
}

int
spool_last (struct spool *s)
{
  unsigned char c;
  uint64_t len = spool_len (s);

  return len && spool_read (s, &c, 1, len - 1) == 1 ? c : -1;
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
  uint64_t left = spool_len (a->s) - a->pos;
  ssize_t got;

  if (left == 0)
    return 0;
  got = spool_read (a->s, buf, left < max ? left : max, a->pos);
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

/* ---- the answer: JSON text with spooled bytes where its tokens are ----
 *
 * A token is a JSON string that stands for a spool's bytes: the spool's
 * random nonce (no other string of the answer can hold it by chance or by
 * a caller's design), the form, and a backslash between two marks.  The
 * answer is dumped once with its tokens; each time a string holding JSON
 * text is dumped again (MCP's content text) the backslash doubles, so the
 * number found tells how many times the bytes must be escaped there. */

#define TOKEN_DEPTH_MAX 8 /* escaped at most this many times over */

struct piece
{
  size_t off, len; /* literal text of the dump */
  struct spool *s; /* or this spool's bytes */
  enum spool_form form;
  int depth; /* times escaped as JSON string text (0: base64 needs none) */
};

struct answer
{
  char *text; /* the dump the literal pieces are of */
  struct spool **spools;
  size_t n_spools;
  struct piece *p;
  size_t n, cap, i;
  size_t off;   /* in a literal piece */
  uint64_t pos; /* in a spool */
  char esc[2][ESC_CHUNK * 6];
  char *out; /* esc[0] or esc[1], what is left to send of the last chunk */
  size_t elen, eoff;
};

json_t *
spool_token (struct spool *s, enum spool_form form)
{
  char t[96];

  snprintf (t, sizeof t, "@islet-spool-%s-%c\\~", s->nonce, form == SPOOL_BASE64 ? 'b' : 't');
  return json_string (t);
}

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

/* Each " and \ of in[0..n) escaped once more (the text is escaped JSON
 * already: no control byte is left in it). */
static size_t
escape_again (const char *in, size_t n, char *out)
{
  size_t o = 0;

  for (size_t i = 0; i < n; i++)
    {
      if (in[i] == '"' || in[i] == '\\')
        out[o++] = '\\';
      out[o++] = in[i];
    }
  return o;
}

/* The next piece of a spool in its form: -1 on a read failure. */
static int
spool_chunk (struct answer *a, const struct piece *p)
{
  /* each depth past the first may double the text: read less for it */
  size_t want = p->form == SPOOL_BASE64 ? ESC_CHUNK / 4 * 3
                                        : ESC_CHUNK >> (p->depth > 1 ? p->depth - 1 : 0);
  unsigned char in[ESC_CHUNK];
  uint64_t left = spool_len (p->s) - a->pos;
  size_t used;
  ssize_t got;

  got = spool_read (p->s, in, left < want ? left : want, a->pos);
  if (got <= 0)
    return -1;
  if (p->form == SPOOL_BASE64)
    {
      cleanup_free char *b = NULL;

      /* whole groups of three bytes, but for the last */
      if ((uint64_t) got < left && got >= 3)
        got -= got % 3;
      b = islet_base64 (in, (size_t) got);
      a->elen = strlen (b);
      memcpy (a->esc[0], b, a->elen);
      a->out = a->esc[0];
      a->pos += (uint64_t) got;
      a->eoff = 0;
      return 0;
    }
  a->elen = escape (in, (size_t) got, a->pos + (uint64_t) got == spool_len (p->s), a->esc[0],
                    &used);
  if (used == 0) /* a short read inside a character: take it as it is */
    a->elen = escape (in, (size_t) got, true, a->esc[0], &used);
  a->out = a->esc[0];
  for (int d = 1; d < p->depth; d++)
    {
      char *to = a->out == a->esc[0] ? a->esc[1] : a->esc[0];
      a->elen = escape_again (a->out, a->elen, to);
      a->out = to;
    }
  a->pos += used;
  a->eoff = 0;
  return 0;
}

static ssize_t
answer_produce (void *state, char *buf, size_t max)
{
  struct answer *a = state;
  size_t n = 0;

  while (n < max && a->i < a->n)
    {
      const struct piece *p = &a->p[a->i];
      size_t k;

      if (p->s == NULL)
        {
          k = p->len - a->off < max - n ? p->len - a->off : max - n;
          memcpy (buf + n, a->text + p->off + a->off, k);
          a->off += k;
          n += k;
          if (a->off == p->len)
            a->i++, a->off = 0;
          continue;
        }
      if (a->eoff == a->elen)
        {
          if (a->pos == spool_len (p->s))
            {
              a->i++, a->pos = 0, a->elen = a->eoff = 0;
              continue;
            }
          if (spool_chunk (a, p) < 0)
            return -1;
        }
      k = a->elen - a->eoff < max - n ? a->elen - a->eoff : max - n;
      memcpy (buf + n, a->out + a->eoff, k);
      a->eoff += k;
      n += k;
    }
  return (ssize_t) n;
}

static void
answer_free (void *state)
{
  struct answer *a = state;

  for (size_t i = 0; i < a->n_spools; i++)
    spool_free (a->spools[i]);
  free (a->spools);
  free (a->text);
  free (a->p);
  free (a);
}

static void
add_piece (struct answer *a, struct piece p)
{
  if (a->n == a->cap)
    {
      a->cap = a->cap ? a->cap * 2 : 8;
      a->p = islet_xrealloc (a->p, a->cap * sizeof *a->p);
    }
  a->p[a->n++] = p;
}

/* The token of one of the spools at t (the dump's text from there), or
 * NULL; its length, form and depth in *p. */
static struct spool *
token_at (struct answer *a, const char *t, struct piece *p)
{
  static const char mark[] = "@islet-spool-";
  const char *q = t + sizeof mark - 1;
  size_t slashes;

  if (strncmp (t, mark, sizeof mark - 1) != 0)
    return NULL;
  for (size_t i = 0; i < a->n_spools; i++)
    {
      struct spool *s = a->spools[i];
      size_t nl = strlen (s->nonce);

      if (strncmp (q, s->nonce, nl) != 0 || q[nl] != '-' || (q[nl + 1] != 't' && q[nl + 1] != 'b'))
        continue;
      slashes = strspn (q + nl + 2, "\\");
      if (q[nl + 2 + slashes] != '~' || slashes < 2 || (slashes & (slashes - 1)) != 0)
        return NULL;
      p->len = (size_t) (q + nl + 2 + slashes + 1 - t);
      p->form = q[nl + 1] == 'b' ? SPOOL_BASE64 : SPOOL_TEXT;
      p->depth = __builtin_ctzl (slashes);
      return p->depth <= TOKEN_DEPTH_MAX ? s : NULL;
    }
  return NULL;
}

/* An answer whose spools are all in their buffers and small is made whole
 * now and sent as one buffer with its length: one send to the client, where
 * a chunked answer takes three (the head, the chunk, the end). */
#define WHOLE_MAX 16384

static bool
answer_whole (struct resp *out, struct answer *a)
{
  uint64_t held = 0;
  size_t cap = WHOLE_MAX, len = 0;
  char *b;
  ssize_t n;

  for (size_t i = 0; i < a->n_spools; i++)
    {
      if (a->spools[i]->fd >= 0)
        return false;
      held += spool_len (a->spools[i]);
    }
  if (held > WHOLE_MAX)
    return false;
  b = islet_xmalloc (cap);
  for (;;)
    {
      if (cap - len < ESC_CHUNK)
        b = islet_xrealloc (b, cap *= 2);
      n = answer_produce (a, b + len, cap - len);
      if (n <= 0)
        break;
      len += (size_t) n;
    }
  answer_free (a);
  if (n < 0) /* buffers are not read from a file: not seen */
    {
      free (b);
      reply_error (out, 500, "INTERNAL_ERROR", "cannot make the answer");
      return true;
    }
  out->body = b;
  out->len = len;
  return true;
}

static void
reply_pieces (struct resp *out, int status, struct answer *a)
{
  out->status = status;
  out->content_type = "application/json";
  if (answer_whole (out, a))
    return;
  out->produce = answer_produce;
  out->produce_free = answer_free;
  out->produce_state = a;
}

void
spool_reply_answer (struct resp *out, int status, json_t *answer, struct spool **spools, size_t n)
{
  struct answer *a = islet_xcalloc (1, sizeof *a);
  size_t lit = 0, len;
  const char *t;

  a->text = json_dumps (answer, JSON_COMPACT);
  json_decref (answer);
  a->spools = islet_xcalloc (n ? n : 1, sizeof *a->spools);
  for (size_t i = 0; i < n; i++)
    if (spools[i])
      a->spools[a->n_spools++] = islet_take_ptr (&spools[i]);
  if (a->text == NULL)
    {
      answer_free (a);
      reply_error (out, 500, "INTERNAL_ERROR", "cannot encode the answer");
      return;
    }
  len = strlen (a->text);
  for (t = a->text; (t = strchr (t, '@')) != NULL;)
    {
      struct piece p = { 0 };
      struct spool *s = token_at (a, t, &p);

      if (s == NULL)
        {
          t++;
          continue;
        }
      add_piece (a, (struct piece){ .off = lit, .len = (size_t) (t - a->text) - lit });
      add_piece (a, (struct piece){ .s = s, .form = p.form, .depth = p.depth });
      t += p.len;
      lit = (size_t) (t - a->text);
    }
  add_piece (a, (struct piece){ .off = lit, .len = len - lit });
  reply_pieces (out, status, a);
}

void
spool_reply_json (struct spool *s, struct resp *out, char *prefix, char *suffix)
{
  struct answer *a = islet_xcalloc (1, sizeof *a);
  size_t pl = strlen (prefix);

  a->text = islet_xasprintf ("%s%s", prefix, suffix);
  a->spools = islet_xcalloc (1, sizeof *a->spools);
  a->spools[a->n_spools++] = s;
  add_piece (a, (struct piece){ .off = 0, .len = pl });
  add_piece (a, (struct piece){ .s = s, .form = SPOOL_TEXT, .depth = 1 });
  add_piece (a, (struct piece){ .off = pl, .len = strlen (a->text) - pl });
  free (prefix);
  free (suffix);
  reply_pieces (out, 200, a);
}
