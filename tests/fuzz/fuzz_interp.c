/* libFuzzer: what an interpreter context's driver prints (interp.c,
 * interp_run.c), as untrusted as the code that runs in the driver's
 * process.  Input: the bytes of its stdout during run 1.  Safety rule:
 * every chunk handed on is one of stdout, stderr, error, chart, rebuilt
 * with only its own fields, its strings valid UTF-8 (the chunk
 * serializes); text past the output bound is never handed on (a cut mark
 * is ours); one error and 32 charts at most. */
#include <stdlib.h>
#include <string.h>

#include "interp_internal.h"

#define OUTPUT_MAX 64

struct seen
{
  unsigned errors, charts;
  size_t text[2];
};

static void
on_chunk (void *user, json_t *chunk)
{
  struct seen *s = user;
  const char *type = json_string_value (json_object_get (chunk, "type"));
  char *text = json_dumps (chunk, 0);

  if (text == NULL || type == NULL)
    abort ();
  free (text);
  if (strcmp (type, "stdout") == 0 || strcmp (type, "stderr") == 0)
    {
      json_t *t = json_object_get (chunk, "text");
      int i = type[3] == 'e';

      if (!json_is_string (t) || json_object_size (chunk) > 3)
        abort ();
      if (!json_is_true (json_object_get (chunk, "cut")))
        {
          s->text[i] += json_string_length (t);
          if (s->text[i] > OUTPUT_MAX)
            abort ();
        }
    }
  else if (strcmp (type, "error") == 0)
    {
      if (++s->errors > 1 || json_object_size (chunk) != 4
          || json_string_length (json_object_get (chunk, "traceback")) > OUTPUT_MAX)
        abort ();
    }
  else if (strcmp (type, "chart") == 0)
    {
      if (++s->charts > 32 || !json_is_object (json_object_get (chunk, "chart")))
        abort ();
    }
  else
    abort ();
}

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t size)
{
  struct interp_ctx *c = calloc (1, sizeof *c);
  struct seen s = { 0 };
  struct interp_run run = { .output_max = OUTPUT_MAX, .on_chunk = on_chunk, .user = &s };
  size_t half = size / 2;

  c->seq = 1;
  /* in two pieces, each bounded on its own: a line may be cut between
     two reads */
  (void) interp_feed (c, &run, (const char *) data, half);
  memset (&s, 0, sizeof s);
  (void) interp_feed (c, &run, (const char *) data + half, size - half);
  free (c->line);
  free (c);
  return 0;
}
