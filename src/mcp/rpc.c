/* JSON-RPC 2.0 for MCP, whatever carries it: initialize, ping, tools/list,
 * tools/call, prompts/list, prompts/get, notifications and errors.  A tool
 * that fails (no such sandbox, a full disk) answers with a normal result
 * marked isError whose text says why; a call that does not fit the tool's
 * schema, or a message that is not JSON-RPC, is a JSON-RPC error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Newest first; an unknown version asked for gets the newest (the one of
 * the official @modelcontextprotocol/sdk that tests/mcp pins). */
static const char *const protocol_versions[] = { "2025-11-25", "2025-06-18", "2025-03-26",
                                                 "2024-11-05" };
/* Batches (a JSON array of messages) were part of these versions only. */
static const char *const batch_versions[] = { "2025-03-26", "2024-11-05" };
#define BATCH_MAX 64

bool
mcp_version_known (const char *v)
{
  for (size_t i = 0; v && i < sizeof protocol_versions / sizeof protocol_versions[0]; i++)
    if (strcmp (v, protocol_versions[i]) == 0)
      return true;
  return false;
}

/* ---- the session ---- */

void
mcp_session_init (struct mcp_session *s)
{
  *s = (struct mcp_session){ 0 };
  pthread_mutex_init (&s->lock, NULL);
}

void
session_remember (struct mcp_session *s, const char *id)
{
  pthread_mutex_lock (&s->lock);
  if (s->n_ephemeral == s->cap_ephemeral)
    {
      s->cap_ephemeral = s->cap_ephemeral ? s->cap_ephemeral * 2 : 8;
      s->ephemeral = islet_xrealloc (s->ephemeral, s->cap_ephemeral * sizeof *s->ephemeral);
    }
  snprintf (s->ephemeral[s->n_ephemeral++], ISLET_ID_LEN + 1, "%s", id);
  pthread_mutex_unlock (&s->lock);
}

void
mcp_session_end (struct mcp_session *s, const struct mcp_host *h)
{
  char (*ids)[ISLET_ID_LEN + 1];
  size_t n;

  pthread_mutex_lock (&s->lock);
  ids = islet_take_ptr (&s->ephemeral);
  n = s->n_ephemeral;
  s->n_ephemeral = s->cap_ephemeral = 0;
  pthread_mutex_unlock (&s->lock);
  for (size_t i = 0; i < n; i++)
    {
      struct islet_sandbox_info info;
      struct islet_err err;
      uint64_t t0 = islet_now_ns ();
      int r;

      /* deleted already (delete_sandbox): nothing to do */
      if (h->ops->resolve (h->data, ids[i], &info, &err) < 0)
        continue;
      r = h->ops->remove (h->data, info.id, &err);
      h->ops->record (h->data, "mcp.session-end", info.id, r < 0 ? &err : NULL,
                      (islet_now_ns () - t0) / 1000000);
    }
  free (ids);
}

void
mcp_session_fini (struct mcp_session *s)
{
  free (s->ephemeral);
  pthread_mutex_destroy (&s->lock);
}

/* ---- prompts ---- */

struct prompt_arg
{
  const char *name, *desc;
  bool required;
};

struct prompt
{
  const char *name, *desc;
  struct prompt_arg args[3];
  /* {name} is replaced by the argument's value, or by the text after '|'
   * inside the braces ({name|default}) when it is not given */
  const char *text;
};

static const struct prompt prompts[] = {
  { "setup_dev_environment",
    "Create a sandbox for a project and prepare it for work.",
    { { "language", "main language: python, javascript or bash", true },
      { "project", "what the project is, in a few words", false } },
    "Set up a development sandbox for a {language} project ({project|no description given}). "
    "Use create_sandbox with language \"{language}\", then check the toolchain with "
    "execute_shell (for example its --version), create a project directory under /workspace "
    "with file_operation mkdir, and report the sandbox id and what is installed." },
  { "run_and_test",
    "Run code in a sandbox and check that it works.",
    { { "sandbox_id", "the sandbox to use", true },
      { "test_command", "the command that runs the tests", false } },
    "In sandbox {sandbox_id}, run the code and its tests with execute_shell "
    "(`{test_command|ls /workspace}`). Read stdout, stderr and exit_code; when something fails, "
    "read the files involved with file_operation, fix them, and run again until it passes. "
    "Report the final exit code and output." },
  { "clean_up",
    "Delete the sandboxes of finished work: never a persistent one.",
    { { "keep", "names or ids of other sandboxes to keep, comma-separated", false } },
    "Call list_sandboxes, and get_sandbox_info for each sandbox. Delete with delete_sandbox "
    "only the sandboxes whose persistent is false, except these: {keep|none}. Keep every "
    "sandbox whose persistent is true or not set (made outside MCP): the user asked for it to "
    "stay. Report what was deleted and what was kept." },
};

static json_t *
prompts_list (void)
{
  json_t *arr = json_array ();

  for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++)
    {
      json_t *args = json_array ();
      for (const struct prompt_arg *a = prompts[i].args; a < prompts[i].args + 3 && a->name; a++)
        json_array_append_new (args, json_pack ("{s:s,s:s,s:b}", "name", a->name, "description",
                                                a->desc, "required", a->required));
      json_array_append_new (arr, json_pack ("{s:s,s:s,s:o}", "name", prompts[i].name,
                                             "description", prompts[i].desc, "arguments", args));
    }
  return json_pack ("{s:o}", "prompts", arr);
}

/* Expand {name} and {name|default} from args into a malloc'd string. */
static char *
prompt_expand (const char *t, const json_t *args)
{
  size_t cap = strlen (t) + 1, len = 0;
  char *out = islet_xmalloc (cap);

  while (*t)
    {
      const char *close = *t == '{' ? strchr (t, '}') : NULL;
      const char *piece = t, *bar;
      size_t n = 1;

      if (close != NULL)
        {
          char key[64];
          size_t klen;
          bar = memchr (t, '|', (size_t) (close - t));
          klen = (size_t) ((bar ? bar : close) - t - 1);
          (void) snprintf (key, sizeof key, "%.*s", (int) klen, t + 1);
          piece = json_string_value (json_object_get (args, key));
          n = piece ? strlen (piece) : 0;
          if (piece == NULL && bar != NULL)
            {
              piece = bar + 1;
              n = (size_t) (close - bar - 1);
            }
          t = close + 1;
        }
      else
        t++;
      if (len + n + 1 > cap)
        {
          cap = (len + n + 1) * 2;
          out = islet_xrealloc (out, cap);
        }
      if (n > 0)
        memcpy (out + len, piece, n);
      len += n;
    }
  out[len] = '\0';
  return out;
}

static int
prompt_get (const json_t *params, json_t **result, struct rpc_err *e)
{
  const char *name = str_arg (params, "name");
  const json_t *args = json_object_get (params, "arguments");

  if (name == NULL)
    return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: 'name' is required");
  if (args != NULL && !json_is_object (args))
    return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: 'arguments' must be an object");
  for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++)
    {
      const struct prompt *p = &prompts[i];
      cleanup_free char *text = NULL;

      if (strcmp (p->name, name) != 0)
        continue;
      for (const struct prompt_arg *a = p->args; a < p->args + 3 && a->name; a++)
        if (a->required && !json_is_string (json_object_get (args, a->name)))
          return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: prompt '%s' needs '%s'", name,
                           a->name);
      text = prompt_expand (p->text, args);
      *result = json_pack ("{s:s,s:[{s:s,s:{s:s,s:s}}]}", "description", p->desc, "messages",
                           "role", "user", "content", "type", "text", "text", text);
      return 0;
    }
  return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: no prompt '%s'", name);
}

/* ---- methods ---- */

static int
m_initialize (const struct call *c, const json_t *params, json_t **result, struct rpc_err *e)
{
  const char *asked = str_arg (params, "protocolVersion");
  const char *version = protocol_versions[0];

  for (size_t i = 0; asked && i < sizeof protocol_versions / sizeof protocol_versions[0]; i++)
    if (strcmp (asked, protocol_versions[i]) == 0)
      version = protocol_versions[i];
  pthread_mutex_lock (&c->s->lock);
  snprintf (c->s->version, sizeof c->s->version, "%s", version);
  pthread_mutex_unlock (&c->s->lock);
  *result = json_pack (
      "{s:s,s:{s:{},s:{}},s:{s:s,s:s},s:s}", "protocolVersion", version, "capabilities", "tools",
      "prompts", "serverInfo", "name", "islet", "version", ISLET_VERSION, "instructions",
      "islet runs code in isolated Linux sandboxes (python3, node, bash and git are installed; "
      "loopback-only network unless create_sandbox asks for one). Use execute_code for one-off "
      "programs; create_sandbox, "
      "execute_shell and file_operation for multi-step work; delete_sandbox when done. "
      "Sandboxes made with persistent false (the default) go away when this MCP session ends.");
  return 0;
}

static json_t *
tool_result (json_t *structured, bool is_error)
{
  cleanup_free char *text = json_dumps (structured, JSON_INDENT (2) | JSON_PRESERVE_ORDER);

  return json_pack ("{s:[{s:s,s:s}],s:o,s:b}", "content", "type", "text", "text", text ? text : "",
                    "structuredContent", structured, "isError", is_error);
}

/* "mcp.TOOL", or "mcp.TOOL.OPERATION" for the tools that have operations. */
static void
action_of (const struct tool *t, const json_t *args, char *buf, size_t size)
{
  const char *op = str_arg (args, "operation");

  if (op)
    snprintf (buf, size, "mcp.%s.%s", t->name, op);
  else
    snprintf (buf, size, "mcp.%s", t->name);
}

static int
m_tools_call (const struct call *c, const json_t *params, json_t **result, struct rpc_err *e)
{
  const char *name = str_arg (params, "name");
  const json_t *args = json_object_get (params, "arguments");
  cleanup_json json_t *empty = json_object ();
  cleanup_json json_t *canon = NULL;

  if (name == NULL)
    return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: 'name' is required");
  if (args != NULL && !json_is_object (args))
    return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: 'arguments' must be an object");
  if (args == NULL)
    args = empty;
  for (size_t i = 0; i < mcp_tools_n; i++)
    {
      const struct tool *t = &mcp_tools[i];
      struct islet_err err = { 0 };
      uint64_t t0 = islet_now_ns ();
      json_t *out = NULL;
      char action[96];
      int r;

      if (strcmp (t->name, name) != 0)
        continue;
      /* the tools read their arguments by islet's names only */
      if ((canon = args_canonical (t->args, args, e)) == NULL)
        return -1;
      args = canon;
      if (args_check (t->args, args, "", e) < 0)
        return -1;
      r = t->fn (c, args, &out, &err);
      if (!t->read_only)
        {
          const char *id = r == 0 ? str_arg (out, "sandbox_id") ?: str_arg (out, "id") : NULL;
          action_of (t, args, action, sizeof action);
          c->h->ops->record (c->h->data, action, id ? id : "", r < 0 ? &err : NULL,
                             (islet_now_ns () - t0) / 1000000);
        }
      if (r < 0)
        {
          json_decref (out);
          out = json_pack ("{s:{s:s,s:o}}", "error", "kind", islet_errkind_name (err.kind),
                           "message",
                           islet_json_bytes (err.msg, strnlen (err.msg, sizeof err.msg)));
          *result = tool_result (out, true);
          return 0;
        }
      *result = tool_result (out, false);
      return 0;
    }
  return rpc_fail (e, RPC_INVALID_PARAMS, "invalid params: no tool '%s'", name);
}

static int
m_tools_list (const struct call *c, const json_t *params, json_t **result, struct rpc_err *e)
{
  json_t *arr = json_array ();

  for (size_t i = 0; i < mcp_tools_n; i++)
    json_array_append_new (arr, json_pack ("{s:s,s:s,s:o}", "name", mcp_tools[i].name,
                                           "description", mcp_tools[i].desc, "inputSchema",
                                           args_schema (mcp_tools[i].args)));
  *result = json_pack ("{s:o}", "tools", arr);
  return 0;
}

static int
m_prompts_list (const struct call *c, const json_t *params, json_t **result, struct rpc_err *e)
{
  *result = prompts_list ();
  return 0;
}

static int
m_prompts_get (const struct call *c, const json_t *params, json_t **result, struct rpc_err *e)
{
  return prompt_get (params, result, e);
}

static int
m_ping (const struct call *c, const json_t *params, json_t **result, struct rpc_err *e)
{
  *result = json_object ();
  return 0;
}

static const struct method
{
  const char *name;
  int (*fn) (const struct call *c, const json_t *params, json_t **result, struct rpc_err *e);
} methods[] = {
  { "initialize", m_initialize },     { "ping", m_ping },
  { "tools/list", m_tools_list },     { "tools/call", m_tools_call },
  { "prompts/list", m_prompts_list }, { "prompts/get", m_prompts_get },
};

/* ---- messages ---- */

static json_t *
error_msg (const json_t *id, const struct rpc_err *e)
{
  return json_pack ("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null (),
                    "error", "code", e->code, "message", e->msg);
}

bool
mcp_is_initialize (const json_t *msg)
{
  const char *m = str_arg (msg, "method");
  return json_is_object (msg) && m && strcmp (m, "initialize") == 0;
}

/* One message (not a batch): its answer, or NULL when there is none. */
static json_t *
handle_one (const struct call *c, const json_t *msg, bool in_batch)
{
  const json_t *id = json_object_get (msg, "id");
  const json_t *params = json_object_get (msg, "params");
  const char *method = str_arg (msg, "method");
  struct rpc_err e = { 0 };
  json_t *result = NULL;
  bool notification = json_is_object (msg) && id == NULL;

  if (!json_is_object (msg))
    {
      rpc_fail (&e, RPC_INVALID_REQUEST, "invalid request: not a JSON object");
      return error_msg (NULL, &e);
    }
  /* an answer to a request of ours: we send none, so there is nothing to match */
  if (method == NULL && id != NULL
      && (json_object_get (msg, "result") || json_object_get (msg, "error")))
    return NULL;
  if (id != NULL && !json_is_string (id) && !json_is_integer (id))
    {
      rpc_fail (&e, RPC_INVALID_REQUEST, "invalid request: 'id' must be a string or integer");
      return error_msg (NULL, &e);
    }
  if (method == NULL || strcmp (str_arg (msg, "jsonrpc") ?: "", "2.0") != 0)
    {
      if (notification)
        return NULL;
      rpc_fail (&e, RPC_INVALID_REQUEST, "invalid request: needs \"jsonrpc\":\"2.0\" and a method");
      return error_msg (id, &e);
    }
  if (notification)
    return NULL; /* notifications/initialized, cancelled, ...: nothing to answer */
  if (params != NULL && !json_is_object (params))
    {
      rpc_fail (&e, RPC_INVALID_PARAMS, "invalid params: 'params' must be an object");
      return error_msg (id, &e);
    }
  if (in_batch && strcmp (method, "initialize") == 0)
    {
      rpc_fail (&e, RPC_INVALID_REQUEST, "invalid request: initialize cannot be part of a batch");
      return error_msg (id, &e);
    }
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
    if (strcmp (methods[i].name, method) == 0)
      {
        if (methods[i].fn (c, params, &result, &e) < 0)
          return error_msg (id, &e);
        return json_pack ("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result);
      }
  rpc_fail (&e, RPC_METHOD_NOT_FOUND, "method not found: %s", method);
  return error_msg (id, &e);
}

static bool
batch_allowed (struct mcp_session *s)
{
  bool ok = false;

  pthread_mutex_lock (&s->lock);
  for (size_t i = 0; i < sizeof batch_versions / sizeof batch_versions[0]; i++)
    ok = ok || strcmp (s->version, batch_versions[i]) == 0;
  pthread_mutex_unlock (&s->lock);
  return ok;
}

json_t *
mcp_handle (const struct mcp_host *h, struct mcp_session *s, const json_t *msg)
{
  const struct call c = { .h = h, .s = s };
  struct rpc_err e = { 0 };
  json_t *answers, *m, *a;
  size_t i;

  if (!json_is_array (msg))
    return handle_one (&c, msg, false);
  if (!batch_allowed (s))
    {
      rpc_fail (&e, RPC_INVALID_REQUEST,
                "invalid request: batches are not part of protocol version %s",
                s->version[0] ? s->version : protocol_versions[0]);
      return error_msg (NULL, &e);
    }
  if (json_array_size (msg) == 0 || json_array_size (msg) > BATCH_MAX)
    {
      rpc_fail (&e, RPC_INVALID_REQUEST, "invalid request: a batch holds 1 to %d messages",
                BATCH_MAX);
      return error_msg (NULL, &e);
    }
  answers = json_array ();
  json_array_foreach (msg, i, m)
  {
    if ((a = handle_one (&c, m, true)) != NULL)
      json_array_append_new (answers, a);
  }
  if (json_array_size (answers) == 0)
    {
      json_decref (answers);
      return NULL;
    }
  return answers;
}

json_t *
mcp_handle_text (const struct mcp_host *h, struct mcp_session *s, const char *text, size_t len)
{
  struct rpc_err e = { 0 };
  json_error_t jerr;
  json_t *msg, *answer;

  if (len > MCP_MESSAGE_MAX)
    {
      rpc_fail (&e, RPC_INVALID_REQUEST, "invalid request: longer than %u bytes", MCP_MESSAGE_MAX);
      return error_msg (NULL, &e);
    }
  if ((msg = json_loadb (text, len, 0, &jerr)) == NULL)
    {
      rpc_fail (&e, RPC_PARSE_ERROR, "parse error: %s", jerr.text);
      return error_msg (NULL, &e);
    }
  answer = mcp_handle (h, s, msg);
  json_decref (msg);
  return answer;
}
