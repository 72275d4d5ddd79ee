/* libFuzzer: the Engine.IO / Socket.IO packet parser (socketio.c), which
 * reads a client's messages before its key is checked.  Safety rule: every
 * slice it returns (a ping's data, a CONNECT's namespace and auth text) lies
 * inside the message; a CONNECT's parts, namespace and separator and auth,
 * account for the message exactly; the kind follows from the first bytes
 * alone; and the same bytes parse the same way twice. */
#include <stdlib.h>
#include <string.h>

#include "server.h"

static void
inside (const char *m, size_t len, const char *s, size_t n)
{
  if (n > 0 && (s < m || s + n > m + len || s + n < s))
    abort ();
}

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t size)
{
  /* a copy of exactly size bytes, so that a read past it is ASan's */
  char *m = malloc (size ? size : 1);
  struct sio_packet p, q;

  memcpy (m, data, size);
  sio_parse (m, size, &p);
  sio_parse (m, size, &q);
  if (p.kind != q.kind || p.data != q.data || p.len != q.len || p.nsp != q.nsp
      || p.nsp_len != q.nsp_len)
    abort ();
  inside (m, size, p.data, p.len);
  if (p.kind == SIO_CONNECT)
    {
      if (size < 2 || m[0] != '4' || m[1] != '0' || p.nsp_len == 0)
        abort ();
      if (p.nsp != m + 2) /* no namespace named: the main one */
        {
          if (p.nsp_len != 1 || p.nsp[0] != '/' || p.data != m + 2 || p.len != size - 2)
            abort ();
        }
      else
        {
          inside (m, size, p.nsp, p.nsp_len);
          if (p.nsp[0] != '/' || memchr (p.nsp, ',', p.nsp_len))
            abort ();
          if (2 + p.nsp_len + (p.len ? 1 : 0) + p.len != size && 2 + p.nsp_len + 1 + p.len != size)
            abort ();
        }
    }
  else if (size > 0 && (m[0] == '2') != (p.kind == SIO_PING))
    abort ();
  else if (size == 0 && p.kind != SIO_END)
    abort ();
  free (m);
  return 0;
}
