/* The sandboxes of a running isletd, through its HTTP API (src/remote).
 *
 * islet_remote_open returns a ctx (include/islet/backend.h) on which every
 * function of sandbox.h and client.h works as it does on a state
 * directory, for the sandboxes of one API key: the CLI's remote mode. */
#ifndef ISLET_REMOTE_H
#define ISLET_REMOTE_H

#include <jansson.h>

#include "islet/err.h"
#include "islet/sandbox.h"

/* url: isletd's base (http://127.0.0.1:7420, with or without /api); key:
 * an API key.  Nothing is sent until the first call. */
int islet_remote_open (const char *url, const char *key, struct islet_ctx **out,
                       struct islet_err *err) ISLET_MUST_CHECK;

/* GET path (starting with '/') with query (name, value, ..., NULL; the
 * values escaped here; may be NULL), the answer's JSON in *out: for calls
 * the ctx has no function for (the audit log).  An error answer becomes
 * *err with the server's message. */
int islet_remote_get_json (struct islet_ctx *ctx, const char *path, const char *const *query,
                           json_t **out, struct islet_err *err) ISLET_MUST_CHECK;
/* POST body (JSON) to path, the answer's JSON in *out: /v1/execute with a
 * session, for islet mcp --url's kept interpreter. */
int islet_remote_post_json (struct islet_ctx *ctx, const char *path, json_t *body, json_t **out,
                            struct islet_err *err) ISLET_MUST_CHECK;

#endif
