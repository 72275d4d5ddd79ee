/* libFuzzer: what object storage reads before it knows who is asking
 * (object_storage_sig.c, object_storage.c): the Authorization header, the
 * request target and the headers a signature names, and an object key.
 * Input: lines, the Authorization header, the method, the target, then
 * "name: value" headers.  Rules: nothing reads or writes past its buffers
 * (ASan); a request is never accepted with a signature made by another
 * secret than the one checked (here none can be: the input cannot know
 * the secret's HMAC); a key obj_key_ok accepts is plain names separated by
 * `/`, none empty, `.` or `..`. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "object_storage.h"

#define LINES_MAX 24

struct input
{
  char *line[LINES_MAX];
  size_t n;
};

static const char *
header (void *u, const char *name)
{
  struct input *in = u;
  size_t nl = strlen (name);

  for (size_t i = 3; i < in->n; i++)
    if (strncasecmp (in->line[i], name, nl) == 0 && in->line[i][nl] == ':')
      return in->line[i] + nl + 1 + strspn (in->line[i] + nl + 1, " ");
  return NULL;
}

static void
check_key (const char *key)
{
  size_t seg = 0;

  if (!obj_key_ok (key))
    return;
  if (strlen (key) > OBJ_KEY_MAX_LEN || *key == '/')
    abort ();
  for (const char *p = key;; p++)
    if (*p == '/' || *p == '\0')
      {
        if (seg == 0 || (seg == 1 && p[-1] == '.') || (seg == 2 && p[-1] == '.' && p[-2] == '.'))
          abort ();
        if (*p == '\0')
          break;
        seg = 0;
      }
    else if (!strchr ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p))
      abort ();
    else
      seg++;
}

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t len)
{
  char *text = malloc (len + 1), *save = NULL;
  struct input in = { 0 };
  struct sigv4_auth a;
  struct islet_err err;

  if (text == NULL)
    return 0;
  memcpy (text, data, len);
  text[len] = '\0';
  check_key (text);
  for (char *t = strtok_r (text, "\n", &save); t && in.n < LINES_MAX;
       t = strtok_r (NULL, "\n", &save))
    in.line[in.n++] = t;
  if (in.n >= 3 && sigv4_parse (in.line[0], &a, &err) == 0)
    {
      if (strlen (a.access_key) >= sizeof a.access_key || strlen (a.region) >= sizeof a.region
          || strlen (a.date) != 8)
        abort ();
      check_key (in.line[2]);
      /* at any time: the signature must still be refused */
      if (sigv4_verify (&a, "fuzz-secret", in.line[1], in.line[2], header, &in, 0, &err) == 0
          && sigv4_verify (&a, "fuzz-secret", in.line[1], in.line[2], header, &in, 1796600000, &err)
                 == 0)
        abort ();
    }
  free (text);
  return 0;
}
