/* libFuzzer: the tool-text parser (src/common/toolcmd.c).  Safety rules:
 * every command's line is within the text; one without an error has what
 * its kind needs (a non-empty path, content for a write, a command for an
 * execute); and a write, printed back in the exact quoted form and parsed
 * again, gives the same path and the same bytes of content. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "islet/toolcmd.h"

/* s as the inside of a "..." string: \\ \" \n \t \r \0 escaped. */
static size_t
escape (char *o, const char *s, size_t n)
{
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    {
      char c = s[i];
      const char *e = c == '\\'   ? "\\\\"
                      : c == '"'  ? "\\\""
                      : c == '\n' ? "\\n"
                      : c == '\t' ? "\\t"
                      : c == '\r' ? "\\r"
                      : c == '\0' ? "\\0"
                                  : NULL;
      if (e)
        {
          memcpy (o + k, e, 2);
          k += 2;
        }
      else
        o[k++] = c;
    }
  return k;
}

static void
roundtrip (const struct islet_toolcmd *c)
{
  size_t plen = strlen (c->path);
  char *text = malloc (32 + 2 * plen + 2 * c->content_len);
  struct islet_toolcmd *v = NULL;
  size_t n = 0, k = 0;

  k += (size_t) sprintf (text, "write file:\"");
  k += escape (text + k, c->path, plen);
  k += (size_t) sprintf (text + k, "\" content:\"");
  k += escape (text + k, c->content, c->content_len);
  text[k++] = '"';
  islet_toolcmd_parse (text, k, &v, &n);
  if (n != 1 || v[0].error || v[0].kind != ISLET_TC_WRITE || strcmp (v[0].path, c->path) != 0
      || v[0].content_len != c->content_len
      || memcmp (v[0].content, c->content, c->content_len) != 0)
    abort ();
  islet_toolcmd_free (v, n);
  free (text);
}

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t size)
{
  struct islet_toolcmd *v = NULL;
  size_t n = 0;
  unsigned lines = 1;

  for (size_t i = 0; i < size; i++)
    lines += data[i] == '\n';
  islet_toolcmd_parse ((const char *) data, size, &v, &n);
  for (size_t i = 0; i < n; i++)
    {
      const struct islet_toolcmd *c = &v[i];
      if (c->line < 1 || c->line > lines)
        abort ();
      if (c->error)
        continue;
      if (c->kind == ISLET_TC_EXEC ? c->command == NULL : c->path == NULL || c->path[0] == '\0')
        abort ();
      if (c->kind == ISLET_TC_WRITE)
        {
          if (c->content == NULL)
            abort ();
          roundtrip (c);
        }
    }
  islet_toolcmd_free (v, n);
  return 0;
}
