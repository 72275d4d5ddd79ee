/* Word splitting of a toolbox command, as Daytona's daemon does it: no
 * shell, blanks separate words, '...' and "..." quote (the quotes go, the
 * blanks inside stay), and there are no escapes.  `sh -c "..."` is how a
 * caller asks for a shell. */
#include <string.h>

#include "islet/util.h"
#include "server.h"

static bool
blank (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

char **
words_split (const char *s, struct islet_err *err)
{
  size_t len = strlen (s), n = 0;
  /* at most len/2+1 words; the words themselves fit in len+1+words bytes */
  size_t slots = len / 2 + 2;
  char **v = islet_xmalloc (slots * sizeof *v + len + slots);
  char *w = (char *) (v + slots);

  while (*s)
    {
      char quote = 0;

      while (blank (*s))
        s++;
      if (*s == '\0')
        break;
      v[n++] = w;
      for (; *s && (quote || !blank (*s)); s++)
        {
          if (quote && *s == quote)
            quote = 0;
          else if (!quote && (*s == '\'' || *s == '"'))
            quote = *s;
          else
            *w++ = *s;
        }
      *w++ = '\0';
      if (quote)
        {
          free (v);
          islet_fail (err, ISLET_E_INVALID, 0, "command: unterminated %c quote", quote);
          return NULL;
        }
    }
  v[n] = NULL;
  if (n == 0)
    {
      free (v);
      islet_fail (err, ISLET_E_INVALID, 0, "command is empty");
      return NULL;
    }
  return v;
}

bool
text_has_control (const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
      return true;
  return false;
}
