/* libFuzzer: a message to the MCP server (src/mcp: mcp_handle_text, what
 * both transports call with the bytes they receive).  The host has no
 * sandbox and no core: every lookup says "no sandbox", every create fails,
 * so no input may reach the core (a NULL ctx would crash).  Safety rules:
 * the answer is nothing, or a JSON-RPC 2.0 answer (or an array of them)
 * with exactly one of result and error, that encodes and parses again; and
 * a tools/call with an argument its tool's inputSchema does not list is
 * answered with an error (-32602), never run without it. */
#include <stdlib.h>
#include <string.h>

#include "mcp.h"

static int
no_create (void *d, const struct mcp_create *c, char id[ISLET_ID_LEN + 1], struct islet_err *err)
{
  return islet_fail (err, ISLET_E_LIMIT, 0, "no sandboxes here");
}

static int
no_list (void *d, struct islet_sandbox_info **list, size_t *n, struct islet_err *err)
{
  *list = calloc (1, sizeof **list);
  *n = 0;
  return 0;
}

static int
no_resolve (void *d, const char *ref, struct islet_sandbox_info *info, struct islet_err *err)
{
  return islet_fail (err, ISLET_E_NOTFOUND, 0, "no sandbox '%s'", ref ? ref : "");
}

static int
no_remove (void *d, const char *id, struct islet_err *err)
{
  abort (); /* nothing was ever made or resolved */
}

static void
no_record (void *d, const char *action, const char *id, const struct islet_err *failed, uint64_t ms)
{
  if (failed == NULL)
    abort (); /* every tool needs a sandbox, and there is none */
}

static const struct mcp_host_ops ops = { no_create, no_list, no_resolve, no_remove, no_record };

static void
check_answer (const json_t *a)
{
  bool has_result = json_object_get (a, "result") != NULL;
  bool has_error = json_object_get (a, "error") != NULL;
  const char *v = json_string_value (json_object_get (a, "jsonrpc"));

  if (!json_is_object (a) || v == NULL || strcmp (v, "2.0") != 0 || has_result == has_error)
    abort ();
  if (has_error && !json_is_integer (json_object_get (json_object_get (a, "error"), "code")))
    abort ();
}

/* Every tool's inputSchema properties, by tool name (made once). */
static json_t *
schemas (const struct mcp_host *h)
{
  static json_t *by_name;
  struct mcp_session s;
  json_t *list, *t;
  size_t i;

  if (by_name)
    return by_name;
  by_name = json_object ();
  mcp_session_init (&s);
  static const char ask[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";
  list = mcp_handle_text (h, &s, ask, sizeof ask - 1);
  json_array_foreach (json_object_get (json_object_get (list, "result"), "tools"), i, t)
      json_object_set (by_name, json_string_value (json_object_get (t, "name")),
                       json_object_get (json_object_get (t, "inputSchema"), "properties"));
  if (json_object_size (by_name) == 0)
    abort ();
  json_decref (list);
  mcp_session_fini (&s);
  return by_name;
}

/* A tools/call naming a known tool with an argument it does not list must
 * be answered with an error. */
static void
check_unknown_refused (const struct mcp_host *h, const unsigned char *data, size_t size,
                       const json_t *answer)
{
  json_t *msg = json_loadb ((const char *) data, size, 0, NULL), *params, *args, *props, *x;
  const char *k, *method = json_string_value (json_object_get (msg, "method"));
  bool unknown = false;

  params = json_object_get (msg, "params");
  args = json_object_get (params, "arguments");
  props = json_object_get (schemas (h), json_string_value (json_object_get (params, "name")) ?: "");
  if (method && strcmp (method, "tools/call") == 0 && json_is_object (args) && props)
    json_object_foreach (args, k, x) unknown = unknown || json_object_get (props, k) == NULL;
  /* an error of any kind: a message that is not a valid request never
   * reaches the tool either */
  if (unknown && json_object_get (msg, "id") != NULL && json_object_get (answer, "error") == NULL)
    abort ();
  json_decref (msg);
}

int
LLVMFuzzerTestOneInput (const unsigned char *data, size_t size)
{
  const struct mcp_host h = { .ops = &ops, .name = "fuzz", .no_host_dir = "fuzz" };
  struct mcp_session s;
  json_t *answer, *back, *x;
  char *text;
  size_t i;

  mcp_session_init (&s);
  /* half the inputs in a session that allows batches */
  if (size > 0 && (data[0] & 1))
    snprintf (s.version, sizeof s.version, "2025-03-26");
  answer = mcp_handle_text (&h, &s, (const char *) data, size);
  if (answer != NULL)
    {
      if (json_is_array (answer))
        {
          if (json_array_size (answer) == 0)
            abort ();
          json_array_foreach (answer, i, x) check_answer (x);
        }
      else
        {
          check_answer (answer);
          check_unknown_refused (&h, data, size, answer);
        }
      text = json_dumps (answer, JSON_COMPACT);
      back = text ? json_loads (text, 0, NULL) : NULL;
      if (back == NULL || !json_equal (back, answer))
        abort ();
      json_decref (back);
      free (text);
      json_decref (answer);
    }
  mcp_session_end (&s, &h);
  mcp_session_fini (&s);
  return 0;
}
