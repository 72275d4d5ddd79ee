/* libFuzzer: base64 (src/common/util.c), which isletd decodes from its
 * callers (an exec's stdin) and the CLI from isletd.  Rules: any bytes
 * encode to a text that decodes to the same bytes; any text the decoder
 * accepts is exactly the encoding of what it decoded to (one text per byte
 * string), and it never reads or writes past its buffers (ASan). */
#include <stdlib.h>
#include <string.h>

#include "islet/util.h"

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t len)
{
  struct islet_err err;
  char *text = islet_base64 (data, len);
  char *back = NULL, *again;
  size_t n = 0;

  if (islet_unbase64 (text, strlen (text), &back, &n, &err) < 0 || n != len
      || memcmp (back, data, len) != 0)
    abort ();
  free (back);
  free (text);

  /* the input itself as a text */
  if (islet_unbase64 ((const char *) data, len, &back, &n, &err) == 0)
    {
      again = islet_base64 ((const unsigned char *) back, n);
      if (strlen (again) != len || memcmp (again, data, len) != 0)
        abort ();
      free (again);
      free (back);
    }
  return 0;
}
