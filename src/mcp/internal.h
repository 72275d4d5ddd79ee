/* What the files of src/mcp share: the argument tables (schema and checks),
 * a tool call's context, and the helpers of the tools. */
#ifndef ISLET_MCP_INTERNAL_H
#define ISLET_MCP_INTERNAL_H

#include "islet/proto.h"
#include "islet/report.h"
#include "islet/util.h"
#include "mcp.h"

#define MCP_TIMEOUT_MAX_S 3600 /* of one tool's command */

enum
{
  RPC_PARSE_ERROR = -32700,
  RPC_INVALID_REQUEST = -32600,
  RPC_METHOD_NOT_FOUND = -32601,
  RPC_INVALID_PARAMS = -32602,
};

struct rpc_err
{
  int code;
  char msg[512];
};

int rpc_fail (struct rpc_err *e, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* One tool call: the host it runs for and the session it is part of. */
struct call
{
  const struct mcp_host *h;
  struct mcp_session *s;
};

/* A non-persistent sandbox made in the session, removed at its end. */
void session_remember (struct mcp_session *s, const char *id);

/* ---- arguments (args.c): one table gives the schema and the checks ---- */

enum arg_type
{
  ARG_STR,
  ARG_INT,
  ARG_NUM,
  ARG_BOOL,
  ARG_OBJ,
  ARG_MAP,
  ARG_LIST
};

struct arg
{
  const char *name; /* NULL ends a table */
  enum arg_type type;
  bool required;
  const char *desc;
  const char *const *choices; /* ARG_STR: NULL-terminated allowed values */
  const struct arg *fields;   /* ARG_OBJ: its members */
  const char *alias;          /* another name a call may give it by (one of the two) */
  const char *refused;        /* not NULL: an argument known and refused, and why */
};

#define ARG_END                                                                                    \
  {                                                                                                \
    NULL, 0, false, NULL, NULL, NULL, NULL, NULL                                                   \
  }
/* An argument other servers of the same tools take that islet cannot honour:
 * a call that gives it fails, saying why, rather than run without it. */
#define ARG_REFUSED(n, why)                                                                        \
  {                                                                                                \
    n, ARG_STR, false, NULL, NULL, NULL, NULL, why                                                 \
  }
#define ARG_SANDBOX(req)                                                                           \
  {                                                                                                \
    "sandbox_id", ARG_STR, req, "the sandbox: its id or its name", NULL, NULL, NULL, NULL          \
  }

json_t *args_schema (const struct arg *fields);
/* A call's arguments with every alias given under its own name (a new
 * reference); NULL with a -32602 error when both names are given. */
json_t *args_canonical (const struct arg *fields, const json_t *obj, struct rpc_err *e);
/* -1 with a -32602 error when obj does not fit the table: a member the
 * table does not have (or refuses) is an error too, never dropped. */
int args_check (const struct arg *fields, const json_t *obj, const char *where, struct rpc_err *e);
const char *str_arg (const json_t *args, const char *name);

/* ---- tools (tools.c, files.c, git.c) ---- */

struct tool
{
  const char *name;
  const char *desc;
  const struct arg *args;
  int (*fn) (const struct call *c, const json_t *args, json_t **out, struct islet_err *err);
  bool read_only; /* not recorded (the host's audit is of changes and runs) */
};

extern const struct tool mcp_tools[];
extern const size_t mcp_tools_n;

/* The sandbox named by args' sandbox_id, as the host resolves it. */
int sandbox_arg (const struct call *c, const json_t *args, struct islet_sandbox_info *info,
                 struct islet_err *err) ISLET_MUST_CHECK;
/* Run argv in sandbox id with the sandbox's saved environment plus env (an
 * object of strings, may be NULL); *out is the exec's JSON.  spooled: its
 * stdout and stderr kept by the host (isletd's scratch space) when it can,
 * never in this process's memory, and in *out only as the host's
 * placeholders: for an answer, not for a caller that reads the text. */
int run_in (const struct call *c, const char *id, char *const *argv, const json_t *env,
            const char *cwd, uint32_t timeout_ms, bool spooled, json_t **out,
            struct islet_err *err) ISLET_MUST_CHECK;

int tool_file (const struct call *c, const json_t *args, json_t **out, struct islet_err *err);
int tool_git (const struct call *c, const json_t *args, json_t **out, struct islet_err *err);
/* git_operation's work in sandbox id (resolved already); trust_source:
 * read a source repository whoever owns it (create_sandbox's git_repo);
 * spooled: git's output only for the answer, as run_in says. */
int git_in (const struct call *c, const char *id, const json_t *args, bool trust_source,
            bool spooled, json_t **out, struct islet_err *err) ISLET_MUST_CHECK;

extern const struct arg file_args[];
extern const struct arg git_args[];

#endif
