/* libFuzzer: the execute command's word splitter (words.c).  Safety rule:
 * the words fit in the input (no word is longer than it, there are at most
 * len/2+1 of them); without quotes in the input, the words are exactly its
 * blank-separated fields; and quoting every word back (each character in
 * the other kind of quote) and splitting again gives the same words. */
#include <stdlib.h>
#include <string.h>

#include "server.h"

static char *
requote (char **w)
{
  size_t n = 1;
  char *s, *o;

  for (size_t i = 0; w[i]; i++)
    n += strlen (w[i]) * 3 + 3;
  s = o = malloc (n);
  for (size_t i = 0; w[i]; i++)
    {
      if (w[i][0] == '\0')
        {
          *o++ = '\'';
          *o++ = '\'';
        }
      for (const char *c = w[i]; *c; c++)
        {
          char q = *c == '\'' ? '"' : '\'';
          *o++ = q;
          *o++ = *c;
          *o++ = q;
        }
      *o++ = ' ';
    }
  *o = '\0';
  return s;
}

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t size)
{
  char *s = malloc (size + 1), *again;
  struct islet_err err;
  char **w, **w2;
  size_t len, n = 0;

  memcpy (s, data, size);
  s[size] = '\0';
  len = strlen (s);
  w = words_split (s, &err);
  if (w == NULL)
    {
      free (s);
      return 0;
    }
  for (; w[n]; n++)
    if (strlen (w[n]) > len)
      abort ();
  if (n == 0 || n > len / 2 + 1)
    abort ();
  if (strpbrk (s, "'\"") == NULL)
    {
      char *copy = strdup (s), *save = NULL, *tok;
      size_t i = 0;
      for (tok = strtok_r (copy, " \t\r\n", &save); tok; tok = strtok_r (NULL, " \t\r\n", &save))
        if (w[i] == NULL || strcmp (w[i++], tok) != 0)
          abort ();
      if (w[i] != NULL)
        abort ();
      free (copy);
    }
  again = requote (w);
  w2 = words_split (again, &err);
  if (w2 == NULL)
    abort ();
  for (size_t i = 0; i <= n; i++)
    if ((w[i] == NULL) != (w2[i] == NULL) || (w[i] && strcmp (w[i], w2[i]) != 0))
      abort ();
  free (w2);
  free (again);
  free (w);
  free (s);
  return 0;
}
