/* libFuzzer: the JSON body of the handlers (reply.c, req_json_object, the
 * first step of every JSON route).  Safety rule: the body is either a JSON
 * object handed to the handler, or refused with a 400 whose own body is
 * the reference's error object; and an answer built from any parsed value
 * is valid JSON again. */
#include <stdlib.h>
#include <string.h>

#include "server.h"

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t size)
{
  char *body = malloc (size + 1);
  struct req r = { 0 };
  struct resp out = { .fd = -1 };
  json_t *j, *back;

  memcpy (body, data, size);
  body[size] = '\0';
  r.body = body;
  r.body_len = size;
  j = req_json_object (&r, &out);
  if (j)
    {
      if (!json_is_object (j) || out.body != NULL)
        abort ();
      reply_json (&out, 200, j);
    }
  else if (out.status != 400)
    abort ();
  back = json_loadb (out.body, out.len, 0, NULL);
  if (back == NULL
      || (out.status == 400 && json_integer_value (json_object_get (back, "statusCode")) != 400))
    abort ();
  json_decref (back);
  free (out.body);
  free (body);
  return 0;
}
