/* The Model Context Protocol server, shared by its two transports: `islet
 * mcp` (stdio, src/cli/mcp.c) and isletd's /mcp (streamable HTTP,
 * src/server/mcp/mcp_http.c).  A transport hands each message it receives to
 * mcp_handle_text and sends back what it returns; the JSON-RPC handling,
 * the tools and the prompts are all here.
 *
 * What differs between the two is the host: which sandboxes a caller may
 * see and how one is made or removed.  The CLI's host is the core on its
 * state directory (every sandbox there); isletd's is its store and the
 * core, per API key (only that key's sandboxes, as for its Daytona routes).
 * Everything done inside a sandbox (exec, files, git) goes through the
 * core on an id the host resolved, so it is the same for both. */
#ifndef ISLET_MCP_H
#define ISLET_MCP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "islet/client.h"
#include "islet/err.h"
#include "islet/sandbox.h"

#define MCP_MESSAGE_MAX (16u << 20) /* one JSON-RPC message, at most */
#define MCP_TRANSFER_MAX (8u << 20) /* file_operation upload/download through base64 */
#define MCP_EPHEMERAL_IDLE_MIN 15   /* HTTP: a non-persistent sandbox idle this long goes */

/* What create_sandbox asks of the host. */
struct mcp_create
{
  const char *name;  /* NULL: none (the host's default) */
  const char *image; /* an image in the store; NULL: the default */
  struct islet_limits limits;
  const char *language; /* a label, NULL: none */
  const json_t *env;    /* an object of strings, or NULL */
  bool persistent;      /* false: removed at the session's end (and, over HTTP, when idle) */
  struct islet_net net; /* network and allow_list (islet_net_ask) */
};

/* A command's output on its way to the answer, kept by the host. */
struct mcp_output
{
  islet_output_fn fn; /* the exec's on_output */
  void *user;
};

struct mcp_host_ops
{
  int (*create) (void *data, const struct mcp_create *c, char id[ISLET_ID_LEN + 1],
                 struct islet_err *err);
  /* The sandboxes the caller may see, oldest first (*list malloc'd); the
   * name in each is the one the caller knows it by. */
  int (*list) (void *data, struct islet_sandbox_info **list, size_t *n, struct islet_err *err);
  /* An id or name the caller may use; anything else is ISLET_E_NOTFOUND
   * "no sandbox 'REF'", whether it exists for someone else or not. */
  int (*resolve) (void *data, const char *ref, struct islet_sandbox_info *info,
                  struct islet_err *err);
  /* Remove a sandbox the caller may see (an id from create or resolve). */
  int (*remove) (void *data, const char *id, struct islet_err *err);
  /* A tool call is over (action "mcp.TOOL" or "mcp.TOOL.OPERATION", on
   * sandbox id or "", failed NULL when it worked): an audit record, a log
   * line, or nothing. */
  void (*record) (void *data, const char *action, const char *id, const struct islet_err *failed,
                  uint64_t ms);
  /* Optional (NULL: the output is collected in memory): keep the output
   * of execute_code and execute_shell out of memory.  output_open gives
   * the exec's sink; once the command is over, output_close gives in
   * text the two JSON strings that stand for its stdout and stderr in the
   * answer (the host's transport puts the bytes there as it sends it), or
   * -1 with err when not all of it could be kept; with text NULL (the
   * command failed) it only lets o go. */
  int (*output_open) (void *data, struct mcp_output *o, struct islet_err *err);
  int (*output_close) (void *data, struct mcp_output *o, json_t *text[2], struct islet_err *err);
  /* execute_code with persistent: python code in the interpreter that
   * sandbox id keeps for MCP (isletd's, as /v1/execute's session "mcp"),
   * its variables and imports kept from call to call.  *out: /v1's answer
   * {exit_code, stdout, stderr, truncated, status, error?}.  A host that
   * has no interpreter (islet mcp on a state directory) fails, saying so. */
  int (*run_interp) (void *data, const char *id, const char *code, double timeout_s, json_t **out,
                     struct islet_err *err);
};

struct mcp_host
{
  const struct mcp_host_ops *ops;
  void *data;
  struct islet_ctx *ctx;   /* the core: exec and files in a resolved sandbox */
  const char *host_dir;    /* host paths of file_operation are allowed beneath it; NULL: refused */
  const char *no_host_dir; /* why, when host_dir is NULL */
  const char *name;        /* "islet mcp", "isletd /mcp": for messages */
  enum islet_net_mode net_default; /* create_sandbox with neither network nor allow_list */
};

/* What lives as long as one MCP session: the protocol version agreed at
 * initialize, and the non-persistent sandboxes made in it.  Shared by the
 * requests of one session, which may run at once (HTTP). */
struct mcp_session
{
  pthread_mutex_t lock;
  char version[16]; /* "" until initialize */
  char (*ephemeral)[ISLET_ID_LEN + 1];
  size_t n_ephemeral, cap_ephemeral;
};

void mcp_session_init (struct mcp_session *s);
/* The session is over: remove its non-persistent sandboxes still there. */
void mcp_session_end (struct mcp_session *s, const struct mcp_host *h);
void mcp_session_fini (struct mcp_session *s);

/* Handle one message as received (a JSON-RPC object, or an array of them
 * where the session's protocol version allows batches).  Returns the answer
 * to send (an object or an array), or NULL when there is none to send
 * (notifications, answers to the client's side). */
json_t *mcp_handle_text (const struct mcp_host *h, struct mcp_session *s, const char *text,
                         size_t len);
/* The same for a message already parsed. */
json_t *mcp_handle (const struct mcp_host *h, struct mcp_session *s, const json_t *msg);
/* Whether we speak this protocol version. */
bool mcp_version_known (const char *version);
/* Whether a message is an initialize request (the HTTP transport starts a
 * session on it). */
bool mcp_is_initialize (const json_t *msg);

#endif
