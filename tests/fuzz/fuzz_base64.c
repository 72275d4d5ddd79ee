/* libFuzzer: base64 (src/common/util.c), which isletd decodes from its
 * callers (an exec's stdin, MCP uploads) and the CLI from isletd.  Rules:
 * any bytes encode to a text that decodes to the same bytes; any text the
 * decoder accepts decodes to bytes whose encoding decodes to them again
 * (padding is optional, so texts are not unique), within the limit; and it
 * never reads or writes past its buffers (ASan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "islet/util.h"

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t len)
{
  struct islet_err err;
  char *text = islet_base64 (data, len), *again;
  unsigned char *back = NULL, *back2 = NULL;
  size_t n = 0, n2 = 0;

  if (islet_base64_decode (text, strlen (text), SIZE_MAX, &back, &n, &err) < 0 || n != len
      || memcmp (back, data, len) != 0)
    abort ();
  free (back);
  free (text);

  /* the input itself as a text, with a limit of 64 bytes */
  if (islet_base64_decode ((const char *) data, len, 64, &back, &n, &err) == 0)
    {
      if (n > 64 || back[n] != '\0')
        abort ();
      again = islet_base64 (back, n);
      if (islet_base64_decode (again, strlen (again), SIZE_MAX, &back2, &n2, &err) < 0 || n2 != n
          || memcmp (back, back2, n) != 0)
        abort ();
      free (again);
      free (back2);
      free (back);
    }
  return 0;
}
