/* libFuzzer: the WebSocket handshake check (websocket.c), run on a
 * request's headers before any key is checked.  The input is five fields
 * separated by NUL bytes: method, Upgrade, Connection,
 * Sec-WebSocket-Version, Sec-WebSocket-Key (a missing one is an absent
 * header).  Safety rule: a request is taken (0) only if it is a GET whose
 * Upgrade names websocket, whose Connection names upgrade, of version 13,
 * with a 24-character key; a refusal is 400 or 426 (426 only for the
 * version); and the accept value of a taken key is 28 characters of
 * base64, the same for the same key. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

static bool
names (const char *v, const char *token)
{
  size_t n = strlen (token);

  for (const char *p = v; p && *p; p++)
    if (strncasecmp (p, token, n) == 0)
      return true;
  return false;
}

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t size)
{
  char *buf = malloc (size + 1);
  const char *f[5] = { NULL };
  size_t nf = 0, start = 0;
  unsigned status;

  memcpy (buf, data, size);
  buf[size] = '\0';
  for (size_t i = 0; i <= size && nf < 5; i++)
    if (i == size || buf[i] == '\0')
      {
        f[nf++] = buf + start;
        start = i + 1;
      }
  status = ws_handshake_check (f[0], f[1], f[2], f[3], f[4]);
  if (status != 0 && status != 400 && status != 426)
    abort ();
  if (status == 426 && f[3] && strcmp (f[3], "13") == 0)
    abort ();
  if (status == 0)
    {
      char a[32], b[32];

      if (strcmp (f[0], "GET") != 0 || !names (f[1], "websocket") || !names (f[2], "upgrade")
          || strcmp (f[3], "13") != 0 || strlen (f[4]) != 24)
        abort ();
      ws_accept_value (f[4], a);
      ws_accept_value (f[4], b);
      if (strlen (a) != 28 || strcmp (a, b) != 0)
        abort ();
      for (size_t i = 0; i < 28; i++)
        if (!isalnum ((unsigned char) a[i]) && a[i] != '+' && a[i] != '/' && a[i] != '=')
          abort ();
    }
  free (buf);
  return 0;
}
