/* LSP's wire: Content-Length framing both ways, and the server's answers
 * rebuilt in the shapes the SDK types (see toolbox_lsp.h).  No I/O: what a
 * language server prints is as untrusted as the sandbox it runs in, so
 * every answer is rebuilt from the fields the SDK knows, never passed on. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "islet/util.h"
#include "server.h"
#include "toolbox_lsp.h"

#define SYMBOL_DEPTH_MAX 64

void
lsp_reader_fini (struct lsp_reader *rd)
{
  free (rd->buf);
  *rd = (struct lsp_reader){ 0 };
}

/* The Content-Length of a header block (hdr, n bytes, without the blank
 * line), or -1.  Other header fields (Content-Type) are allowed. */
static long long
content_length (const char *hdr, size_t n)
{
  static const char name[] = "content-length:";
  long long len = -1;

  while (n)
    {
      const char *eol = memmem (hdr, n, "\r\n", 2);
      size_t line = eol ? (size_t) (eol - hdr) : n;

      if (line > sizeof name - 1 && strncasecmp (hdr, name, sizeof name - 1) == 0)
        {
          char num[24];
          size_t i = sizeof name - 1, k = 0;

          while (i < line && hdr[i] == ' ')
            i++;
          while (i < line && k < sizeof num - 1 && isdigit ((unsigned char) hdr[i]))
            num[k++] = hdr[i++];
          num[k] = '\0';
          while (i < line && hdr[i] == ' ')
            i++;
          if (k == 0 || k > 12 || i != line)
            return -1;
          len = strtoll (num, NULL, 10);
        }
      if (eol == NULL)
        break;
      hdr += line + 2;
      n -= line + 2;
    }
  return len;
}

int
lsp_reader_feed (struct lsp_reader *rd, const char *data, size_t len, lsp_msg_fn fn, void *user)
{
  size_t off = 0;

  if (len > LSP_HEADER_MAX + LSP_MESSAGE_MAX + 4 - rd->len)
    return -1;
  if (rd->len + len == 0)
    return 0;
  if (rd->len + len > rd->cap)
    {
      rd->cap = (rd->len + len) * 2;
      rd->buf = islet_xrealloc (rd->buf, rd->cap);
    }
  if (len)
    memcpy (rd->buf + rd->len, data, len);
  rd->len += len;
  for (;;)
    {
      size_t avail = rd->len - off, scan = avail < LSP_HEADER_MAX + 4 ? avail : LSP_HEADER_MAX + 4;
      const char *end = memmem (rd->buf + off, scan, "\r\n\r\n", 4);
      long long body;
      size_t hdr;

      if (end == NULL)
        {
          if (avail >= LSP_HEADER_MAX + 4)
            return -1;
          break;
        }
      hdr = (size_t) (end - (rd->buf + off));
      body = content_length (rd->buf + off, hdr);
      if (body < 0 || (unsigned long long) body > LSP_MESSAGE_MAX)
        return -1;
      if (avail < hdr + 4 + (size_t) body)
        break;
      {
        json_t *msg = json_loadb (rd->buf + off + hdr + 4, (size_t) body, 0, NULL);
        if (json_is_object (msg))
          fn (user, msg);
        json_decref (msg);
      }
      off += hdr + 4 + (size_t) body;
    }
  memmove (rd->buf, rd->buf + off, rd->len - off);
  rd->len -= off;
  return 0;
}

char *
lsp_frame (json_t *msg, size_t *len)
{
  cleanup_free char *body = json_dumps (msg, JSON_COMPACT);
  char *out;
  int n;

  if (body == NULL)
    return NULL;
  n = asprintf (&out, "Content-Length: %zu\r\n\r\n%s", strlen (body), body);
  if (n < 0)
    return NULL;
  *len = (size_t) n;
  return out;
}

/* ---- answers ---- */

static void
copy_string (json_t *to, json_t *from, const char *key)
{
  json_t *v = json_object_get (from, key);
  if (json_is_string (v))
    json_object_set (to, key, v);
}

/* documentation: MarkupContent as it is (its two fields), a plain string
 * as plaintext MarkupContent (the SDK types it an object). */
static json_t *
documentation (json_t *d)
{
  const char *kind = json_string_value (json_object_get (d, "kind"));
  const char *value = json_string_value (json_object_get (d, "value"));

  if (json_is_string (d))
    return json_pack ("{s:s,s:O}", "kind", "plaintext", "value", d);
  if (kind && value)
    return json_pack ("{s:s,s:s}", "kind", kind, "value", value);
  return NULL;
}

static json_t *
completion_item (json_t *it)
{
  json_t *label = json_object_get (it, "label"), *kind = json_object_get (it, "kind");
  json_t *o, *doc;
  const char *edit = json_string_value (
      json_object_get (json_object_get (it, "textEdit"), "newText"));

  if (!json_is_string (label))
    return NULL;
  o = json_pack ("{s:O}", "label", label);
  if (json_is_integer (kind))
    json_object_set (o, "kind", kind);
  copy_string (o, it, "detail");
  copy_string (o, it, "sortText");
  copy_string (o, it, "filterText");
  copy_string (o, it, "insertText");
  if (json_object_get (o, "insertText") == NULL && edit)
    json_object_set_new (o, "insertText", json_string (edit));
  doc = documentation (json_object_get (it, "documentation"));
  if (doc)
    json_object_set_new (o, "documentation", doc);
  return o;
}

json_t *
lsp_completion_list (json_t *result)
{
  json_t *items = json_is_array (result) ? result : json_object_get (result, "items");
  json_t *out = json_array (), *it;
  bool incomplete = json_is_true (json_object_get (result, "isIncomplete"));
  size_t i;

  json_array_foreach (items, i, it)
  {
    json_t *o;

    if (json_array_size (out) >= LSP_ITEMS_MAX)
      {
        incomplete = true;
        break;
      }
    o = completion_item (it);
    if (o)
      json_array_append_new (out, o);
  }
  return json_pack ("{s:b,s:o}", "isIncomplete", incomplete, "items", out);
}

static json_t *
position (json_t *p)
{
  json_t *line = json_object_get (p, "line"), *ch = json_object_get (p, "character");

  if (!json_is_integer (line) || !json_is_integer (ch))
    return NULL;
  return json_pack ("{s:O,s:O}", "line", line, "character", ch);
}

static json_t *
range (json_t *r)
{
  json_t *start = position (json_object_get (r, "start")),
         *end = position (json_object_get (r, "end"));

  if (start == NULL || end == NULL)
    {
      json_decref (start);
      json_decref (end);
      return NULL;
    }
  return json_pack ("{s:o,s:o}", "start", start, "end", end);
}

static bool
name_matches (const char *name, const char *query)
{
  size_t n = strlen (query);

  if (n == 0)
    return true;
  for (; *name; name++)
    if (strncasecmp (name, query, n) == 0)
      return true;
  return false;
}

/* One SymbolInformation or DocumentSymbol (and a DocumentSymbol's children)
 * onto out. */
static void
add_symbol (json_t *out, json_t *s, const char *uri, const char *query, unsigned depth)
{
  const char *name = json_string_value (json_object_get (s, "name"));
  json_t *kind = json_object_get (s, "kind"), *loc = json_object_get (s, "location");
  json_t *children = json_object_get (s, "children"), *c, *r;
  const char *u = loc ? json_string_value (json_object_get (loc, "uri")) : uri;
  size_t i;

  if (depth > SYMBOL_DEPTH_MAX || json_array_size (out) >= LSP_ITEMS_MAX)
    return;
  r = range (loc ? json_object_get (loc, "range") : json_object_get (s, "range"));
  if (name && json_is_integer (kind) && u && r && name_matches (name, query ? query : ""))
    json_array_append_new (out, json_pack ("{s:s,s:O,s:{s:s,s:o}}", "name", name, "kind", kind,
                                           "location", "uri", u, "range", r));
  else
    json_decref (r);
  json_array_foreach (children, i, c) add_symbol (out, c, uri, query, depth + 1);
}

json_t *
lsp_symbols (json_t *result, const char *uri, const char *query)
{
  json_t *out = json_array (), *s;
  size_t i;

  json_array_foreach (result, i, s) add_symbol (out, s, uri, query, 0);
  return out;
}

/* ---- paths ---- */

static int
hex_digit (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* s with its %XX decoded (RFC 3986); a '%' without two hex digits after
 * it stays as it is, since the SDK sends paths unescaped.  *len: the
 * result's length (a %00 decodes to a NUL, which the caller refuses). */
static char *
pct_decode (const char *s, size_t *len)
{
  size_t n = strlen (s), k = 0;
  char *out = islet_xmalloc (n + 1);

  for (size_t i = 0; i < n; i++)
    {
      /* s[i + 1] is at most the terminator; s[i + 2] is read only after a digit */
      int hi = s[i] == '%' ? hex_digit (s[i + 1]) : -1;
      int lo = hi >= 0 ? hex_digit (s[i + 2]) : -1;

      if (lo >= 0)
        {
          out[k++] = (char) (hi << 4 | lo);
          i += 2;
        }
      else
        out[k++] = s[i];
    }
  out[k] = '\0';
  *len = k;
  return out;
}

char *
lsp_uri_path (const char *uri, const char *dir, bool decode)
{
  const char *p = strncmp (uri, "file://", 7) == 0 ? uri + 7 : uri;
  size_t n = strlen (p);
  cleanup_free char *d = decode ? pct_decode (p, &n) : islet_xstrdup (p);

  /* control bytes (a decoded NUL among them) name no file worth reading */
  if (n == 0 || n > 4000 || memchr (d, '\0', n) || text_has_control (d, n))
    return NULL;
  if (*d == '/')
    return islet_xstrdup (d);
  return islet_xasprintf ("%s/%s", dir, d);
}

char *
lsp_path_uri (const char *path)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen (path), k = 0;
  char *out = islet_xmalloc (7 + n * 3 + 1);

  memcpy (out, "file://", 7);
  k = 7;
  for (size_t i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char) path[i];
      if (isalnum (c) || strchr ("/-._~", c))
        out[k++] = (char) c;
      else
        {
          out[k++] = '%';
          out[k++] = hex[c >> 4];
          out[k++] = hex[c & 15];
        }
    }
  out[k] = '\0';
  return out;
}
