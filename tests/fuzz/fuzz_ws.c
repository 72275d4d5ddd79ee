/* libFuzzer: the WebSocket framing of isletd (websocket.c), which reads a
 * client's bytes before any key is checked (Socket.IO's CONNECT brings the
 * key).  The bytes come through a real socket into ws_recv, as from a
 * client.  Safety rule: every message taken is a NUL-terminated text of at
 * most WS_MESSAGE_MAX bytes, and the messages together are no longer than
 * the input (a payload cannot come from nowhere); ws_recv ends, on the
 * end of the input at the latest, in at most one call per input byte. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "islet/util.h"
#include "server.h"

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t size)
{
  int sv[2];
  struct ws *ws;
  size_t total = 0, calls = 0, off = 0;

  if (size > 65536 || socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return 0;
  /* the input, then its end; what the server answers (pongs, a close) is
   * left unread in the other end's buffer */
  while (off < size)
    {
      ssize_t n = write (sv[1], data + off, size - off);
      if (n <= 0)
        abort ();
      off += (size_t) n;
    }
  shutdown (sv[1], SHUT_WR);
  /* non-blocking, as isletd's upgraded sockets are: a send with no room
   * gives up at its deadline */
  fcntl (sv[0], F_SETFL, fcntl (sv[0], F_GETFL) | O_NONBLOCK);
  ws = ws_from_fd (sv[0]);
  for (;;)
    {
      const char *msg = NULL;
      size_t len = 0;
      int rc = ws_recv (ws, islet_now_ns () + 2000000000ull, &msg, &len);

      if (++calls > size + 1)
        abort ();
      if (rc == 0) /* the deadline: the input's end must have been seen first */
        abort ();
      if (rc < 0)
        break;
      if (msg == NULL || len > WS_MESSAGE_MAX || msg[len] != '\0')
        abort ();
      total += len;
      if (total > size)
        abort ();
    }
  ws_free (ws);
  close (sv[1]);
  return 0;
}
