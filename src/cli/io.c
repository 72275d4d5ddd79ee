/* Host-side input for the CLI: stdin for exec, code for run, content for fs write. */
#include <errno.h>
#include <unistd.h>

#include "cli.h"

int
cli_read_fd (int fd, const char *what, char **out, size_t *len, struct islet_err *err)
{
  cleanup_free char *buf = NULL;
  size_t cap = 0, used = 0;

  for (;;)
    {
      ssize_t n;

      if (used + 1 >= cap)
        {
          cap = cap ? cap * 2 : 65536;
          buf = islet_xrealloc (buf, cap);
        }
      n = read (fd, buf + used, cap - used - 1);
      if (n < 0 && errno == EINTR)
        continue;
      /* a closed stdin is an empty one */
      if (n < 0 && errno == EBADF && used == 0)
        break;
      if (n < 0)
        return islet_fail (err, ISLET_E_SYSTEM, errno, "read %s", what);
      if (n == 0)
        break;
      used += (size_t) n;
    }
  buf[used] = '\0';
  *len = used;
  *out = islet_take_ptr (&buf);
  return 0;
}
