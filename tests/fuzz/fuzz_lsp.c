/* libFuzzer: what a language server prints (toolbox_lsp_wire.c), as
 * untrusted as the sandbox it runs in.  Input: bytes of its stdout, fed in
 * two pieces.  Safety rule: every message handed on is a JSON object whose
 * body was at most LSP_MESSAGE_MAX; the answers rebuilt from its result
 * serialize, hold at most LSP_ITEMS_MAX entries, and only the SDK's
 * fields (a symbol: name, kind, location {uri, range}).  The same bytes as
 * a file URI: a path with no control byte once decoded, or none. */
#include <stdlib.h>
#include <string.h>

#include "toolbox_lsp.h"

static void
check_symbols (json_t *a)
{
  json_t *s;
  size_t i;

  if (!json_is_array (a) || json_array_size (a) > LSP_ITEMS_MAX)
    abort ();
  json_array_foreach (a, i, s)
  {
    json_t *loc = json_object_get (s, "location");
    if (json_object_size (s) != 3 || !json_is_string (json_object_get (s, "name"))
        || !json_is_integer (json_object_get (s, "kind")) || json_object_size (loc) != 2
        || !json_is_string (json_object_get (loc, "uri")))
      abort ();
  }
}

static void
on_message (void *user, json_t *msg)
{
  json_t *result = json_object_get (msg, "result"), *list, *syms;
  char *text;

  (void) user;
  if (!json_is_object (msg))
    abort ();
  list = lsp_completion_list (result);
  if (json_object_size (list) != 2
      || json_array_size (json_object_get (list, "items")) > LSP_ITEMS_MAX)
    abort ();
  text = json_dumps (list, 0);
  if (text == NULL)
    abort ();
  free (text);
  json_decref (list);
  syms = lsp_symbols (result, "file:///d.py", "a");
  check_symbols (syms);
  text = json_dumps (syms, 0);
  if (text == NULL)
    abort ();
  free (text);
  json_decref (syms);
}

/* The input as a request's file URI: a path, absolute, with no control
 * byte (a decoded %00 among them), or NULL. */
static void
check_uri (const unsigned char *data, size_t size)
{
  char *uri = malloc (size + 1), *path;

  if (uri == NULL)
    abort ();
  memcpy (uri, data, size);
  uri[size] = '\0';
  for (int decode = 0; decode < 2; decode++)
    {
      path = lsp_uri_path (uri, "/w", decode);
      if (path && *path != '/')
        abort ();
      for (const char *c = path; c && *c; c++)
        if ((unsigned char) *c < 0x20 || *c == 0x7f)
          abort ();
      free (path);
    }
  free (uri);
}

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t size)
{
  struct lsp_reader rd = { 0 };
  size_t half = size / 2;

  check_uri (data, size);
  if (lsp_reader_feed (&rd, (const char *) data, half, on_message, NULL) == 0)
    (void) lsp_reader_feed (&rd, (const char *) data + half, size - half, on_message, NULL);
  if (rd.len > LSP_HEADER_MAX + LSP_MESSAGE_MAX + 4)
    abort ();
  lsp_reader_fini (&rd);
  return 0;
}
