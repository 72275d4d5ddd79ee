/* libFuzzer: the route matcher (routes.c, route_find).  Input: one byte
 * for the method, then the path.  Safety rule: a route is found only when
 * the path is the route's pattern with each {} replaced by its parameter
 * (a trailing slash aside), and each parameter is one non-empty segment
 * (no '/') inside the request's own buffer. */
#include <stdlib.h>
#include <string.h>

#include "server.h"

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD" };

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t size)
{
  struct req r = { 0 };
  const struct route *rt;
  const char *method;
  char *path, *want;
  size_t n = 0, len, plen;

  if (size < 1)
    return 0;
  method = methods[data[0] % (sizeof methods / sizeof methods[0])];
  path = malloc (size);
  memcpy (path, data + 1, size - 1);
  path[size - 1] = '\0';
  len = strlen (path);
  rt = route_find (method, path, &r);
  if (rt)
    {
      /* rebuild the path from the pattern and the parameters */
      want = calloc (1, strlen (rt->pattern) + len + 2);
      for (const char *p = rt->pattern; *p;)
        if (p[0] == '{' && p[1] == '}')
          {
            const char *v = r.params[n++];
            if (v == NULL || *v == '\0' || strchr (v, '/') || v < r.param_buf
                || v > r.param_buf + len + SRV_PARAMS_MAX)
              abort ();
            strcat (want, v);
            p += 2;
          }
        else
          strncat (want, p++, 1);
      plen = len;
      if (plen > 1 && path[plen - 1] == '/')
        path[--plen] = '\0';
      if (strcmp (want, path) != 0 || strcmp (rt->method, method) != 0)
        abort ();
      for (; n < SRV_PARAMS_MAX; n++)
        if (r.params[n] != NULL)
          abort ();
      free (want);
    }
  else
    for (n = 0; n < SRV_PARAMS_MAX; n++)
      if (r.params[n] != NULL)
        abort ();
  free (r.param_buf);
  free (path);
  return 0;
}
